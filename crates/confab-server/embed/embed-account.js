/* Confab's account panel: log in, create an account, reset a password. An ES module
   that embed.js loads the first time a reader clicks "Log in", so readers who never
   sign in never download it. It renders inside the widget's shadow root with the
   widget's own helpers and styles; the session token it obtains is handed back to
   embed.js, which keeps it in this site's storage and sends it as a bearer token
   (no cookies: it works where third-party cookies are blocked). */

var T = {
  en: {
    title: 'Your account', login: 'Username or email', password: 'Password', username: 'Username', email: 'Email',
    logIn: 'Log in', signUp: 'Create account', forgot: 'Forgot your password?', toSignUp: 'New here? Create an account',
    toLogIn: 'Have an account? Log in', send: 'Send reset link', close: 'Close',
    signedUp: 'Almost done: open the link we just mailed you to confirm the address, then log in here.',
    resetSent: 'If an account uses this address, a reset link is on its way.',
    pwHint: 'At least 8 characters.', required: 'Please fill this in.'
  },
  de: {
    title: 'Ihr Konto', login: 'Benutzername oder E-Mail', password: 'Passwort', username: 'Benutzername', email: 'E-Mail',
    logIn: 'Anmelden', signUp: 'Konto anlegen', forgot: 'Passwort vergessen?', toSignUp: 'Neu hier? Konto anlegen',
    toLogIn: 'Schon ein Konto? Anmelden', send: 'Link senden', close: 'Schließen',
    signedUp: 'Fast geschafft: Öffnen Sie den Link aus unserer E-Mail, um die Adresse zu bestätigen, und melden Sie sich dann hier an.',
    resetSent: 'Falls ein Konto diese Adresse nutzt, ist ein Link unterwegs.',
    pwHint: 'Mindestens 8 Zeichen.', required: 'Bitte ausfüllen.'
  },
  fr: {
    title: 'Votre compte', login: 'Nom d’utilisateur ou e-mail', password: 'Mot de passe', username: 'Nom d’utilisateur',
    email: 'E-mail', logIn: 'Se connecter', signUp: 'Créer un compte', forgot: 'Mot de passe oublié ?',
    toSignUp: 'Nouveau ? Créer un compte', toLogIn: 'Déjà un compte ? Se connecter', send: 'Envoyer le lien',
    close: 'Fermer',
    signedUp: 'Presque fini : ouvrez le lien que nous venons d’envoyer pour confirmer l’adresse, puis connectez-vous ici.',
    resetSent: 'Si un compte utilise cette adresse, un lien est en route.',
    pwHint: 'Au moins 8 caractères.', required: 'Veuillez remplir ce champ.'
  }
};

var CSS = '.cf-acct { border: 1px solid var(--line); border-radius: 8px; padding: .75em 1em; margin: 0 0 1.25em; }' +
  '.cf-acct h3 { font-size: 1em; margin: 0 0 .5em; } .cf-acct form { display: grid; gap: .4em; }' +
  '.cf-acct label { font-size: .88em; color: var(--muted); } .cf-acct .cf-links { display: flex; flex-wrap: wrap; gap: .25em 1em; }' +
  '.cf-acct .cf-ok { color: var(--ok); }';
var sheet = null;

var FIELDS = {
  login: [['login', 'text', 'username'], ['password', 'password', 'current-password']],
  signup: [['username', 'text', 'username'], ['email', 'email', 'email'], ['password', 'password', 'new-password']],
  forgot: [['email', 'email', 'email']]
};

export default function open(ctx) {
  var h = ctx.h, box = ctx.box, L = T[ctx.lang] || T.en;
  var root = box.getRootNode();
  if (!sheet) {
    try { sheet = new CSSStyleSheet(); sheet.replaceSync(CSS); } catch (e) { sheet = null; }
  }
  if (sheet && root.adoptedStyleSheets && root.adoptedStyleSheets.indexOf(sheet) < 0) {
    root.adoptedStyleSheets = root.adoptedStyleSheets.concat([sheet]);
  }
  var old = box.querySelector('.cf-acct');
  if (old) old.remove();
  var panel = h('section', { cls: 'cf-acct', 'aria-labelledby': 'cf-acct-h' });
  var bar = box.querySelector('.cf-bar');
  if (bar) bar.after(panel); else box.prepend(panel);
  show('login');

  function link(text, mode) {
    var b = h('button', { type: 'button', text: text });
    b.addEventListener('click', function () { mode ? show(mode) : panel.remove(); });
    return b;
  }

  function show(mode, notice) {
    var f = h('form', { method: 'dialog', novalidate: true });
    FIELDS[mode].forEach(function (d) {
      var id = 'cf-a-' + d[0];
      f.append(h('label', { for: id, text: L[d[0]] }),
        h('input', { id: id, name: d[0], type: d[1], autocomplete: d[2], required: true,
          maxlength: d[0] === 'password' ? '256' : '254', 'aria-describedby': id + '-e' }));
      if (d[0] === 'password' && mode === 'signup') f.append(h('small', { cls: 'cf-note', text: L.pwHint }));
      f.append(h('p', { cls: 'cf-err', id: id + '-e', hidden: true }));
    });
    var general = h('p', { cls: 'cf-err', role: 'alert', hidden: true });
    var submit = h('button', { type: 'submit', cls: 'cf-primary',
      text: mode === 'login' ? L.logIn : mode === 'signup' ? L.signUp : L.send });
    f.append(general, h('div', { cls: 'cf-links' }, submit,
      mode === 'login' ? link(L.forgot, 'forgot') : null,
      mode === 'login' ? link(L.toSignUp, 'signup') : link(L.toLogIn, 'login'),
      link(L.close, null)));
    panel.replaceChildren(h('h3', { id: 'cf-acct-h', text: L.title }));
    if (notice) panel.append(h('p', { cls: 'cf-ok', role: 'status', text: notice }));
    panel.append(f);
    f.addEventListener('submit', function (e) { e.preventDefault(); send(mode, f, general, submit); });
    f.querySelector('input').focus();
  }

  function fail(f, general, err) {
    var name = String(err.field || '').split('.').pop();
    var input = name && f.querySelector('[name="' + name + '"]');
    var slot = input ? f.querySelector('#' + input.getAttribute('aria-describedby')) : general;
    slot.textContent = err.message && err.status !== 0 ? err.message : ctx.errorText(err);
    slot.hidden = false;
    if (input) { input.setAttribute('aria-invalid', 'true'); input.focus(); }
  }

  async function send(mode, f, general, submit) {
    f.querySelectorAll('.cf-err').forEach(function (e) { e.hidden = true; });
    f.querySelectorAll('[aria-invalid]').forEach(function (e) { e.removeAttribute('aria-invalid'); });
    var body = {};
    for (var d of FIELDS[mode]) {
      var v = f[d[0]].value;
      if (!v.trim()) return fail(f, general, { field: d[0], message: L.required });
      body[d[0]] = d[0] === 'password' ? v : v.trim();
    }
    submit.disabled = true;
    try {
      if (mode === 'login') {
        var res = await ctx.api('POST', '/api/v1/auth/login', body);
        panel.remove();
        ctx.done(res);
      } else if (mode === 'signup') {
        await ctx.api('POST', '/api/v1/auth/signup', body);
        show('login', L.signedUp);
      } else {
        await ctx.api('POST', '/api/v1/auth/reset-request', body);
        show('login', L.resetSent);
      }
    } catch (err) {
      fail(f, general, err);
    } finally {
      submit.disabled = false;
    }
  }
}
