/* Confab widget strings: German. Loaded by embed.js only for pages in this language;
   English is built in. Keys match embed.js's I18N.en. */
export default {
  comments: ['{n} Kommentar', '{n} Kommentare'], title: 'Kommentare', empty: 'Noch keine Kommentare. Schreiben Sie den ersten.',
  sort: 'Sortieren', best: 'Beste', newest: 'Neueste', oldest: 'Älteste', hot: 'Beliebt',
  join: 'Diskutieren Sie mit', replyTo: 'Antwort an {name}', message: 'Kommentar', name: 'Name',
  email: 'E-Mail (freiwillig, wird nie angezeigt)', post: 'Kommentar senden', postReply: 'Antwort senden',
  cancel: 'Abbrechen', reply: 'Antworten', edit: 'Bearbeiten', save: 'Speichern', del: 'Löschen',
  sure: 'Diesen Kommentar löschen?', keep: 'Behalten', up: 'Positiv bewerten', down: 'Negativ bewerten',
  collapse: 'Einklappen', expand: 'Ausklappen', more: 'Weitere Kommentare laden',
  moreReplies: ['{n} weitere Antwort zeigen', '{n} weitere Antworten zeigen'],
  hidden: ['{n} Antwort ausgeblendet', '{n} Antworten ausgeblendet'], loading: 'Kommentare werden geladen…',
  posting: 'Wird gesendet…', posted: 'Ihr Kommentar wurde veröffentlicht.', saved: 'Gespeichert.',
  removed: 'Kommentar gelöscht.', pending: 'Wartet auf Freigabe: vorerst nur für Sie sichtbar.', edited: 'bearbeitet',
  deleted: 'Dieser Kommentar wurde gelöscht.', closed: 'Die Kommentarfunktion ist geschlossen.', now: 'gerade eben',
  by: 'Kommentar von {name}', net: 'Der Kommentar-Server ist nicht erreichbar. Prüfen Sie Ihre Verbindung.',
  retry: 'Erneut versuchen', rate: ['Zu viele Versuche. Bitte in {n} Sekunde erneut versuchen.', 'Zu viele Versuche. Bitte in {n} Sekunden erneut versuchen.'],
  server: 'Bei uns ist etwas schiefgegangen. Bitte erneut versuchen.', noText: 'Bitte schreiben Sie zuerst etwas.',
  noName: 'Bitte geben Sie einen Namen an.', help: 'Formatierungshilfe',
  helpRows: ['Fett', 'Kursiv', 'Code', 'Link', 'Zitat', 'Liste'], remember: 'Name und E-Mail werden in diesem Browser gespeichert.',
  login: 'Anmelden', logout: 'Abmelden', as: 'Angemeldet als {name}', sso: 'Anmelden mit {name}',
  ssoBad: 'Ihre Anmeldung auf dieser Seite ist abgelaufen. Laden Sie die Seite neu oder melden Sie sich erneut an.',
  notify: 'Antworten per E-Mail', sub: 'Neue Kommentare per E-Mail', unsub: 'Keine E-Mails mehr', pinned: 'Angeheftet',
  report: 'Melden', why: ['Spam', 'Beleidigend', 'Am Thema vorbei', 'Etwas anderes'], reported: 'Gemeldet. Danke.'
};
