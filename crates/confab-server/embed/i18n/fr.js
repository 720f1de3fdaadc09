/* Confab widget strings: French. Loaded by embed.js only for pages in this language;
   English is built in. Keys match embed.js's I18N.en. */
export default {
  comments: ['{n} commentaire', '{n} commentaires'], title: 'Commentaires',
  empty: 'Aucun commentaire pour l’instant. Soyez le premier à réagir.',
  sort: 'Trier par', best: 'Meilleurs', newest: 'Plus récents', oldest: 'Plus anciens', hot: 'Populaires',
  join: 'Participer à la discussion', replyTo: 'Répondre à {name}', message: 'Commentaire', name: 'Nom',
  email: 'E-mail (facultatif, jamais affiché)', post: 'Publier', postReply: 'Répondre', cancel: 'Annuler',
  reply: 'Répondre', edit: 'Modifier', save: 'Enregistrer', del: 'Supprimer', sure: 'Supprimer ce commentaire ?',
  keep: 'Garder', up: 'Voter pour', down: 'Voter contre', collapse: 'Replier', expand: 'Déplier',
  more: 'Charger plus de commentaires', moreReplies: ['Afficher {n} autre réponse', 'Afficher {n} autres réponses'],
  hidden: ['{n} réponse masquée', '{n} réponses masquées'], loading: 'Chargement des commentaires…',
  posting: 'Publication…', posted: 'Votre commentaire a été publié.', saved: 'Enregistré.',
  removed: 'Commentaire supprimé.', pending: 'En attente de modération : visible par vous seul pour l’instant.',
  edited: 'modifié', deleted: 'Ce commentaire a été supprimé.', closed: 'Les commentaires sont fermés.',
  now: 'à l’instant', by: 'Commentaire de {name}', net: 'Impossible de joindre le serveur de commentaires. Vérifiez votre connexion.',
  retry: 'Réessayer', rate: ['Trop de tentatives. Réessayez dans {n} seconde.', 'Trop de tentatives. Réessayez dans {n} secondes.'],
  server: 'Une erreur est survenue de notre côté. Veuillez réessayer.', noText: 'Écrivez d’abord quelque chose.',
  noName: 'Indiquez un nom.', help: 'Aide à la mise en forme',
  helpRows: ['Gras', 'Italique', 'Code', 'Lien', 'Citation', 'Liste'], remember: 'Le nom et l’e-mail sont mémorisés dans ce navigateur.',
  login: 'Se connecter', logout: 'Se déconnecter', as: 'Connecté : {name}', sso: 'Se connecter avec {name}',
  ssoBad: 'Votre connexion sur ce site a expiré. Rechargez la page ou reconnectez-vous.',
  notify: 'M’avertir des réponses par e-mail', sub: 'Recevoir les nouveaux commentaires', unsub: 'Ne plus recevoir d’e-mails', pinned: 'Épinglé',
  report: 'Signaler', why: ['Spam', 'Injurieux', 'Hors sujet', 'Autre chose'], reported: 'Signalé. Merci.'
};
