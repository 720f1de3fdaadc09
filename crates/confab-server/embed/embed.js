/*! Confab embed · MIT OR Apache-2.0 · served as written, no build step */
// A shadow root on the page's own container: one script, one API request, no iframe
// (see docs/ARCHITECTURE.md). DOM calls only; the one HTML inserted is comment bodies,
// which the server sanitised. No eval, inline styles, cookies or third parties.
(function () {
  'use strict';
  var CSS = "__CONFAB_CSS__";
  try { performance.mark('confab:start'); } catch (e) { /* old browsers */ }
  var script = document.currentScript;
  if (!script || !script.src) return;
  var src = new URL(script.src, location.href);
  var BASE = src.origin;
  var W = window;
  var DISQUS_MODE = !!(W.disqus_config || W.disqus_shortname || document.getElementById('disqus_thread'));
  var NS_NAME = DISQUS_MODE ? 'DISQUS' : 'CONFAB';
  var ns = (W[NS_NAME] = W[NS_NAME] || {});
  if (ns.reset) return; // loaded twice: the first copy owns the page
  var PAGE_ROOTS = 25, REPLIES_PER_ROOT = 3, REPLIES_PAGE = 25;

  var I18N = {
    en: {
      comments: ['{n} comment', '{n} comments'], title: 'Comments', empty: 'No comments yet. Be the first to say something.',
      sort: 'Sort by', best: 'Best', newest: 'Newest', oldest: 'Oldest', hot: 'Hot',
      join: 'Join the discussion', replyTo: 'Reply to {name}', message: 'Comment', name: 'Name',
      email: 'Email (optional, never shown)', post: 'Post comment', postReply: 'Post reply', cancel: 'Cancel',
      reply: 'Reply', edit: 'Edit', save: 'Save', del: 'Delete', sure: 'Delete this comment?', keep: 'Keep',
      up: 'Upvote', down: 'Downvote', collapse: 'Collapse', expand: 'Expand', more: 'Load more comments',
      moreReplies: ['Show {n} more reply', 'Show {n} more replies'], hidden: ['{n} reply hidden', '{n} replies hidden'],
      loading: 'Loading comments…', posting: 'Posting…', posted: 'Your comment was posted.', saved: 'Saved.',
      removed: 'Comment deleted.', pending: 'Awaiting moderation: only you can see this for now.', edited: 'edited',
      deleted: 'This comment was deleted.', closed: 'Comments are closed.', now: 'just now', by: 'Comment by {name}',
      net: "Can't reach the comment server. Check your connection and try again.", retry: 'Try again',
      rate: ['Too many attempts. Try again in {n} second.', 'Too many attempts. Try again in {n} seconds.'], server: 'Something went wrong on our side. Please try again.',
      noText: 'Write something first.', noName: 'Please give a name.', help: 'Formatting help',
      helpRows: ['Bold', 'Italic', 'Code', 'Link', 'Quote', 'List'], remember: 'Name and email are remembered in this browser.',
      login: 'Log in', logout: 'Log out', as: 'Signed in as {name}', sso: 'Log in with {name}',
      ssoBad: 'Your sign-in on this site has expired. Reload the page, or log in again.',
      notify: 'Email me replies', sub: 'Email me new comments', unsub: 'Stop emails', pinned: 'Pinned',
      report: 'Report', why: ['Spam', 'Abusive', 'Off topic', 'Something else'], reported: 'Reported. Thank you.'
    }
  };
  // Other languages are modules fetched by pages in them.
  var LANGS = ['en', 'de', 'fr'];
  var HELP = ['**…**', '_…_', '`…`', '[…](https://…)', '> …', '- …'];

  // ---- storage: the host page's own storage (first-party), else memory ----
  var mem = {};
  var storage = (function () {
    try {
      var s = W.localStorage, k = 'confab:probe';
      s.setItem(k, k);
      s.removeItem(k);
      return s;
    } catch (e) {
      return { getItem: function (k) { return k in mem ? mem[k] : null; }, setItem: function (k, v) { mem[k] = String(v); } };
    }
  })();
  var KEY = 'confab:' + BASE + ':';
  function load(name, dflt) {
    try { var v = JSON.parse(storage.getItem(KEY + name)); return v == null ? dflt : v; } catch (e) { return dflt; }
  }
  function keep(name, value) {
    try { storage.setItem(KEY + name, JSON.stringify(value)); } catch (e) { /* full or blocked: memory only */ }
  }
  function randomToken() {
    var b = new Uint8Array(24);
    crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return ('0' + x.toString(16)).slice(-2); }).join('');
  }
  function voterToken() {
    var t = load('voter', null);
    if (typeof t !== 'string' || !/^[A-Za-z0-9_-]{16,128}$/.test(t)) keep('voter', (t = randomToken()));
    return t;
  }
  // Remembered per post: the reader's vote, and the post's edit token: for edits until
  // its window closes (exp), and for 30 days (until) to see the post while it is held.
  function trimmed(map, max) {
    var ks = Object.keys(map);
    for (var i = 0; i < ks.length - max; i++) delete map[ks[i]];
    return map;
  }
  function ownTokens(by) {
    var m = load('edit', {}), now = Date.now(), out = {};
    for (var id in m) if (m[id] && (m[id][by || 'until'] || m[id].exp) > now) out[id] = m[id];
    return out;
  }
  function editTokens() { return ownTokens('exp'); }
  // "id.token,…" for the posts a guest wrote in a thread (the newest 50).
  function heldTokens(th) {
    var m = ownTokens(), out = [];
    for (var id in m) if (m[id].th === th) out.push(id + '.' + m[id].t);
    return out.slice(-50).join(',');
  }

  // ---- configuration: confab_config, Disqus's config and globals, data attributes ----
  function readConfig(override) {
    var data = Object.assign({}, script.dataset);
    var el = document.getElementById('confab_thread') || document.getElementById('disqus_thread');
    if (el) Object.assign(data, el.dataset);
    var cfg = {
      forum: data.forum || src.searchParams.get('forum') || W.disqus_shortname,
      page: {}, language: null, theme: data.theme, lazy: data.lazy, callbacks: { onReady: [], onNewComment: [] }
    };
    var legacy = { identifier: W.disqus_identifier, url: W.disqus_url, title: W.disqus_title };
    for (var k in legacy) if (legacy[k]) cfg.page[k] = String(legacy[k]);
    ['identifier', 'url', 'title'].forEach(function (k) { if (data[k]) cfg.page[k] = data[k]; });
    [W.disqus_config, W.confab_config, override].forEach(function (c) {
      if (typeof c === 'function') {
        try { c.call(cfg); } catch (e) { /* a broken page config must not break the widget */ }
      } else if (c && typeof c === 'object') {
        ['forum', 'language', 'theme', 'lazy', 'sso'].forEach(function (k) { if (c[k] != null) cfg[k] = c[k]; });
        ['identifier', 'url', 'title', 'remote_auth_s3', 'api_key'].forEach(function (k) { if (c[k] != null) cfg.page[k] = String(c[k]); });
      }
    });
    if (!cfg.page.url) {
      var canon = document.querySelector('link[rel="canonical"]');
      cfg.page.url = canon ? canon.href : location.origin + location.pathname + location.search;
    }
    if (!cfg.page.title && document.title) cfg.page.title = document.title.slice(0, 500);
    cfg.el = el;
    var lang = String(cfg.language || data.language || document.documentElement.lang || navigator.language || 'en');
    lang = lang.toLowerCase().split(/[-_]/)[0];
    cfg.lang = LANGS.indexOf(lang) < 0 ? 'en' : lang;
    cfg.eager = cfg.lazy === false || cfg.lazy === 'false';
    // Disqus SSO: the page's signed payload and public key travel with every request.
    cfg.auth = cfg.page.remote_auth_s3 || null;
    cfg.key = cfg.page.api_key || null;
    cfg.sso = cfg.sso || {};
    return cfg;
  }

  // ---- small DOM helpers ----
  function h(tag, attrs) {
    var el = document.createElement(tag);
    for (var k in attrs || {}) {
      var v = attrs[k];
      if (v == null || v === false) continue;
      if (k === 'text') el.textContent = v;
      else if (k === 'cls') el.className = v;
      else el.setAttribute(k, v === true ? '' : v);
    }
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c == null || c === false) continue;
      el.append(c);
    }
    return el;
  }
  var ttPolicy = null;
  try {
    if (W.trustedTypes && W.trustedTypes.createPolicy) {
      // The server sanitised every body with an allow-list before storing it.
      ttPolicy = W.trustedTypes.createPolicy('confab', { createHTML: function (s) { return s; } });
    }
  } catch (e) { ttPolicy = null; }
  function setHTML(el, html) {
    el.innerHTML = ttPolicy ? ttPolicy.createHTML(html) : html;
  }

  // ---- the widget ----
  var state = null; // everything about the current page's discussion
  var sheet = null;

  // Intl formatters are costly: one of each per language.
  var intl = {};
  function fmt(kind, lang) {
    var k = kind + lang;
    if (!intl[k]) {
      intl[k] = kind === 'plural' ? new Intl.PluralRules(lang) : kind === 'number' ? new Intl.NumberFormat(lang)
        : kind === 'rel' ? new Intl.RelativeTimeFormat(lang, { numeric: 'auto' })
        : new Intl.DateTimeFormat(lang, { dateStyle: 'full', timeStyle: 'short' });
    }
    return intl[k];
  }

  function t(key, n, vars) {
    var lang = state.cfg.lang, d = I18N[lang], s = d[key] != null ? d[key] : I18N.en[key];
    if (Array.isArray(s)) s = s[fmt('plural', lang).select(n) === 'one' ? 0 : 1];
    s = String(s).replace('{n}', n == null ? '' : fmt('number', lang).format(n));
    for (var k in vars || {}) s = s.replace('{' + k + '}', vars[k]);
    return s;
  }

  // Credentials: the site's SSO payload, else the log-in window's.
  function session() {
    var r = load('reader', null);
    return r && state && r.f === state.cfg.forum ? r : null;
  }
  function creds(x) {
    var c = state && state.cfg, se = session();
    x = Object.assign({}, x);
    if (c && c.auth) {
      x['X-Confab-SSO'] = c.auth;
      if (c.key) x['X-Confab-Api-Key'] = c.key;
    } else if (se) x.Authorization = 'Bearer ' + se.t;
    return x;
  }

  async function api(method, path, body, headers) {
    var opts = { method: method, headers: creds(headers), credentials: 'omit', mode: 'cors', cache: 'no-cache' };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    var resp;
    try {
      resp = await fetch(BASE + path, opts);
    } catch (e) {
      throw { code: 'network', status: 0 };
    }
    var json = null;
    try { json = await resp.json(); } catch (e) { /* empty or not JSON */ }
    if (!resp.ok) {
      var err = (json && json.error) || { code: 'http_' + resp.status };
      err.status = resp.status;
      err.retryAfter = parseInt(resp.headers.get('Retry-After') || '', 10) || null;
      if (err.code === 'invalid_session') { keep('reader', null); if (state) state.me = null; }
      throw err;
    }
    return json;
  }

  function errorText(err) {
    if (!err || err.status === 0) return t('net');
    if (err.status === 429) return t('rate', err.retryAfter || 60);
    if (err.status >= 500) return t('server');
    if (err.code === 'invalid_sso') {
      // For the site's developers; readers get words they can act on.
      if (W.console) console.warn('Confab: ' + err.message);
      return t('ssoBad');
    }
    return err.message || t('server');
  }

  function theme(cfg, host) {
    if (cfg.theme === 'dark' || cfg.theme === 'light') return cfg.theme;
    // Auto: the first opaque background behind the widget decides.
    for (var el = host; el && el.nodeType === 1; el = el.parentElement) {
      var m = getComputedStyle(el).backgroundColor.match(/[\d.]+/g);
      if (m && m.length >= 3 && (m.length < 4 || +m[3] > 0.5)) {
        var lum = (0.2126 * m[0] + 0.7152 * m[1] + 0.0722 * m[2]) / 255;
        return lum < 0.5 ? 'dark' : 'light';
      }
    }
    return 'light';
  }

  function query(params) {
    return Object.keys(params).filter(function (k) { return params[k] != null; })
      .map(function (k) { return encodeURIComponent(k) + '=' + encodeURIComponent(params[k]); }).join('&');
  }

  function start(cfg) {
    var host = cfg.el;
    if (!host || !cfg.forum) {
      if (W.console) console.warn('Confab: no #confab_thread element or no forum name; nothing to show.');
      return;
    }
    if (!I18N[cfg.lang]) {
      // One small module, cached like the widget; English if it cannot be had.
      import(BASE + '/embed-i18n/' + cfg.lang + '.js').then(function (m) { I18N[cfg.lang] = m.default; },
        function () { cfg.lang = 'en'; }).then(function () { start(cfg); });
      return;
    }
    var root = host.shadowRoot || host.attachShadow({ mode: 'open' });
    wire(root);
    if (!sheet) {
      try { sheet = new CSSStyleSheet(); sheet.replaceSync(CSS); } catch (e) { sheet = null; }
    }
    root.replaceChildren();
    if (sheet && root.adoptedStyleSheets !== undefined) root.adoptedStyleSheets = [sheet];
    else root.append(h('style', { text: CSS }));
    var box = h('div', { cls: 'cf', lang: cfg.lang, 'data-theme': theme(cfg, host), 'aria-busy': 'true' });
    root.append(box);
    state = {
      cfg: cfg, host: host, root: root, box: box, thread: null, sort: load('sort', 'best'), cursor: null,
      nodes: {}, votes: load('votes', {}), generation: (state ? state.generation : 0) + 1
    };
    if (['best', 'newest', 'oldest', 'hot'].indexOf(state.sort) < 0) state.sort = 'best';
    if (document.readyState !== 'complete') {
      W.addEventListener('load', function () { box.setAttribute('data-theme', theme(cfg, host)); }, { once: true });
    }
    box.append(h('p', { cls: 'cf-loading', text: t('loading') }));
    var gen = state.generation;
    var go = function () { if (gen === state.generation) loadPage(); };
    if (cfg.eager || !('IntersectionObserver' in W)) return go();
    var io = new IntersectionObserver(function (entries) {
      if (entries.some(function (e) { return e.isIntersecting; })) { io.disconnect(); go(); }
    }, { rootMargin: '800px 0px' });
    io.observe(host);
  }

  async function loadPage() {
    var s = state, cfg = s.cfg, gen = s.generation;
    var key = cfg.page.identifier ? { identifier: cfg.page.identifier } : { url: cfg.page.url };
    s.box.setAttribute('aria-busy', 'true');
    try {
      var f = '/api/v1/forums/' + encodeURIComponent(cfg.forum);
      // Who is reading: asked only when there are credentials to check.
      var me = cfg.auth || session() ? api('GET', f + '/me').catch(function () { return null; }) : null;
      var page = await api('GET', f + '/thread-page?' +
        query(Object.assign(key, { sort: s.sort, limit: PAGE_ROOTS, replies: REPLIES_PER_ROOT })));
      s.me = await me;
      // A signed-in reader may subscribe to the thread, and sees their own posts that
      // nobody else sees yet (kept out of the public, cacheable page).
      // A guest's by the edit tokens kept for this thread.
      var signed = s.me && s.me.kind !== 'guest', th = page.thread && '/api/v1/threads/' + page.thread.id;
      var held = th ? heldTokens(page.thread.id) : '';
      var own = th && (signed || held) ? api('GET', th + '/mine', undefined, held ? { 'X-Confab-Edit-Tokens': held } : {})
        .then(function (r) { return r.posts; }, function () { return []; }) : [];
      s.sub = th && signed ? await api('GET', th + '/subscription').then(function (r) { return r.subscribed; }, function () { return null; }) : null;
      own = await own;
      if (gen !== state.generation) return;
      performance.mark('confab:fetched');
      render(page);
      // As the author expects them: where a new comment of theirs goes, and counted
      // when they look published (a shadow ban must not show).
      own.forEach(function (p) {
        if (p.depth) addReply(p);
        else {
          addRoot(Object.assign({ replies: [] }, p));
          if (s.sort === 'newest') s.tree.prepend(s.nodes[p.id].li);
        }
        if (p.state === 'approved' && s.thread) s.thread.posts++;
      });
      if (own.length) refreshHead();
      if (!s.ready) {
        s.ready = true;
        try { performance.mark('confab:ready'); } catch (e) { /* old browsers */ }
        cfg.callbacks.onReady.forEach(function (f) { try { f(); } catch (e) { /* host callback */ } });
        s.host.dispatchEvent(new CustomEvent('confab:ready', { detail: { posts: s.thread ? s.thread.posts : 0 } }));
        reveal();
      }
    } catch (err) {
      if (gen !== state.generation) return;
      s.box.replaceChildren(h('div', { cls: 'cf-error', role: 'alert' }, h('p', { text: errorText(err) }),
        h('button', { type: 'button', 'data-act': 'reload', text: t('retry') })));
    } finally {
      s.box.setAttribute('aria-busy', 'false');
    }
  }

  function render(page) {
    var s = state, box = s.box;
    // Again: an async script can run before the page's stylesheets apply.
    box.setAttribute('data-theme', theme(s.cfg, s.host));
    s.thread = page.thread;
    s.cursor = page.cursor;
    s.nodes = {};
    box.replaceChildren();
    var count = h('h2', { cls: 'cf-count', id: 'cf-count' });
    var select = h('select', { id: 'cf-sort', 'data-act': 'sort' });
    ['best', 'newest', 'oldest', 'hot'].forEach(function (k) {
      select.append(h('option', { value: k, text: t(k), selected: k === s.sort }));
    });
    box.append(h('div', { cls: 'cf-head' }, count, h('label', { cls: 'cf-sortl', for: 'cf-sort', text: t('sort') }), select));
    s.status = h('p', { cls: 'cf-status', role: 'status', 'aria-live': 'polite' });
    box.append(s.status);
    box.append(bar());
    if (s.thread && s.thread.closed) box.append(h('p', { cls: 'cf-closed', text: t('closed') }));
    else box.append(form(null));
    s.tree = h('ul', { cls: 'cf-tree', 'aria-labelledby': 'cf-count' });
    s.empty = h('p', { cls: 'cf-empty', text: t('empty') });
    s.more = h('button', { type: 'button', cls: 'cf-more', 'data-act': 'more', text: t('more') });
    box.append(s.empty, s.tree, s.more);
    box.append(h('p', { cls: 'cf-foot' }, h('a', { href: BASE + '/', rel: 'noopener', target: '_blank', text: 'Confab' })));
    s.tokens = editTokens(); // read storage once for the whole page
    page.posts.forEach(addRoot);
    // The pinned post leads the page (replies are marked where they are).
    var pin = page.pinned;
    if (pin && !pin.depth) {
      if (!s.nodes[pin.id]) addRoot(Object.assign({ replies: [] }, pin));
      s.tree.prepend(s.nodes[pin.id].li);
    }
    s.tokens = null;
    refreshHead();
  }

  function signedIn() { return state.me && state.me.kind !== 'guest'; }
  // A signed-in account's own posts stay editable after a guest's edit window.
  function ownPost(p) { return !!(state.me && state.me.id && p.author && p.author.id === state.me.id); }
  function editHeaders(tok) { return tok ? { 'X-Confab-Edit-Token': tok.t } : {}; }
  function bar() {
    var c = state.cfg, sso = c.sso, b = h('div', { cls: 'cf-bar' });
    var btn = function (act, text) { return h('button', { type: 'button', 'data-act': act, text: text }); };
    if (signedIn()) {
      b.append(h('span', { text: t('as', null, { name: state.me.name }) }));
      if (state.sub != null) b.append(h('button', { type: 'button', 'data-act': 'sub', 'aria-pressed': '' + state.sub, text: t(state.sub ? 'unsub' : 'sub') }));
      if (state.me.kind === 'account') b.append(btn('logout', t('logout')));
      else if (/^https?:/i.test(sso.logout || '')) b.append(h('a', { href: sso.logout, text: t('logout') }));
    } else {
      if (/^https?:/i.test(sso.url || '')) b.append(btn('sso', t('sso', null, { name: sso.name || '' })));
      if (!c.auth) b.append(btn('login', t('login')));
    }
    return b;
  }

  // Passwords are typed in Confab's own window, never in this page.
  function account() {
    var c = state.cfg;
    W.open(BASE + '/account/window?' + query({ forum: c.forum, origin: location.origin, lang: c.lang }),
      'confab_login', 'popup,width=480,height=640');
  }
  W.addEventListener('message', function (e) {
    var d = e.data;
    if (e.origin !== BASE || !d || d.confab !== 'session' || !state || d.forum !== state.cfg.forum) return;
    keep('reader', { t: d.token, f: d.forum });
    loadPage();
  });
  keep('session', null); // older versions' full sessions
  // Disqus's SSO flow: the site's log-in page in a window; when it closes, the page's
  // config (with a fresh payload) is read again.
  function ssoLogin() {
    var sso = state.cfg.sso;
    var w = W.open(sso.url, 'confab_sso', 'width=' + (sso.width || 800) + ',height=' + (sso.height || 600));
    var iv = setInterval(function () { if (!w || w.closed) { clearInterval(iv); boot(); } }, 500);
  }
  async function subscribe(b) {
    try {
      var r = await api(state.sub ? 'DELETE' : 'PUT', '/api/v1/threads/' + state.thread.id + '/subscription');
      state.sub = r.subscribed;
      b.textContent = t(r.subscribed ? 'unsub' : 'sub');
      b.setAttribute('aria-pressed', '' + r.subscribed);
    } catch (e) { announce(errorText(e)); }
  }
  async function logout() {
    try { await api('POST', '/api/v1/auth/logout'); } catch (e) { /* ended already */ }
    keep('reader', null);
    loadPage();
  }

  function refreshHead() {
    var s = state, n = s.thread ? s.thread.posts : 0;
    s.box.querySelector('.cf-count').textContent = n ? t('comments', n) : t('title');
    s.empty.hidden = s.tree.children.length > 0;
    s.more.hidden = !s.cursor;
  }

  function addRoot(p) {
    var li = node(p);
    state.tree.append(li);
    p.replies.forEach(function (r) { addReply(r); });
    setMoreReplies(p.id, p.replies_cursor, p.descendants - p.replies.length);
  }

  function addReply(p, first) {
    var s = state;
    if (s.nodes[p.id]) return s.nodes[p.id].li;
    var parent = s.nodes[p.parent];
    var li = node(p);
    if (!parent) return li;
    var list = parent.children;
    if (first) list.prepend(li); else list.append(li);
    parent.li.classList.add('cf-has-children');
    return li;
  }

  function setMoreReplies(id, cursor, remaining) {
    var n = state.nodes[id];
    if (!n) return;
    n.repliesCursor = cursor;
    if (n.moreBtn) n.moreBtn.remove();
    n.moreBtn = null;
    if (cursor && remaining > 0) {
      n.moreBtn = h('button', { type: 'button', cls: 'cf-more-replies', 'data-act': 'replies', 'data-id': id,
        text: t('moreReplies', remaining) });
      n.li.append(n.moreBtn);
    }
  }

  function initials(name) {
    var c = (name || '?').trim().charAt(0);
    return c ? c.toUpperCase() : '?';
  }
  function hue(name) {
    var x = 0;
    for (var i = 0; i < name.length; i++) x = (x * 31 + name.charCodeAt(i)) % 360;
    return x;
  }

  function when(iso, lang) {
    var d = new Date(iso), secs = (Date.now() - d.getTime()) / 1000;
    if (secs < 45) return state ? t('now') : '';
    var rtf = fmt('rel', lang);
    var units = [[60, 'second'], [3600, 'minute'], [86400, 'hour'], [604800, 'day'], [2629800, 'week'], [31557600, 'month']];
    var prev = 1;
    for (var i = 0; i < units.length; i++) {
      if (secs < units[i][0]) return rtf.format(-Math.round(secs / prev), units[i][1]);
      prev = units[i][0];
    }
    return rtf.format(-Math.round(secs / 31557600), 'year');
  }
  function timeEl(iso) {
    var d = new Date(iso), lang = state.cfg.lang;
    return h('time', { datetime: iso, title: fmt('date', lang).format(d),
      text: when(iso, lang) });
  }

  // One post: an <li> holding its <article> and the <ul> of its replies.
  function node(p) {
    var s = state, id = p.id;
    var li = h('li', { cls: 'cf-post', 'data-id': id });
    var children = h('ul', { cls: 'cf-children' });
    var n = { p: p, li: li, children: children };
    s.nodes[id] = n;
    li.append(article(n), children);
    if (p.depth >= 5) children.classList.add('cf-flat');
    return li;
  }

  function article(n) {
    var s = state, p = n.p, id = p.id, closed = s.thread && s.thread.closed;
    var art = h('article', { cls: 'cf-c', id: 'cf-' + id, tabindex: '-1' });
    n.art = art;
    if (p.state === 'deleted' || !p.author) {
      art.classList.add('cf-gone');
      art.append(h('p', { cls: 'cf-body', text: t('deleted') }), actions(n, false));
      return art;
    }
    var name = p.author.name;
    art.setAttribute('aria-label', t('by', null, { name: name }));
    var who = p.author.url
      ? h('a', { cls: 'cf-author', href: p.author.url, rel: 'nofollow ugc noopener', target: '_blank', text: name })
      : h('b', { cls: 'cf-author', text: name });
    // The site's avatar for SSO users; else initials coloured by the email's hash (no
    // third-party avatar service).
    var av = /^https:/.test(p.author.avatar_url || '') ? h('img', { cls: 'cf-av', src: p.author.avatar_url, alt: '', loading: 'lazy' })
      : h('span', { cls: 'cf-av', 'aria-hidden': 'true', 'data-h': String(hue(p.author.avatar_hash || name) % 12), text: initials(name) });
    var meta = h('div', { cls: 'cf-meta' }, av, who, ' ', timeEl(p.created_at));
    if (p.edited_at) meta.append(' ', h('span', { cls: 'cf-badge', text: t('edited') }));
    if (p.state === 'pending') meta.append(' ', h('span', { cls: 'cf-badge cf-pending', text: t('pending') }));
    if (s.thread && s.thread.pinned === id) meta.append(' ', h('span', { cls: 'cf-badge', text: t('pinned') }));
    if (p.highlighted) art.classList.add('cf-hl');
    var body = h('div', { cls: 'cf-body' });
    if (n.sending) {
      body.classList.add('cf-plain');
      body.textContent = p.raw_message;
    } else setHTML(body, p.message || '');
    n.body = body;
    art.append(meta, body);
    if (!n.sending) art.append(actions(n, !closed));
    return art;
  }

  function actions(n, open) {
    var s = state, p = n.p, id = p.id;
    var bar = h('div', { cls: 'cf-actions' });
    if (p.state !== 'deleted' && p.state !== 'pending') {
      var mine = s.votes[id] || 0;
      bar.append(
        h('button', { type: 'button', cls: 'cf-vote cf-up', 'data-act': 'vote', 'data-id': id, 'data-v': '1',
          'aria-pressed': String(mine === 1), 'aria-label': t('up') + ' (' + p.likes + ')' },
          h('span', { 'aria-hidden': 'true', text: '▲ ' + p.likes })),
        h('button', { type: 'button', cls: 'cf-vote cf-down', 'data-act': 'vote', 'data-id': id, 'data-v': '-1',
          'aria-pressed': String(mine === -1), 'aria-label': t('down') + ' (' + p.dislikes + ')' },
          h('span', { 'aria-hidden': 'true', text: '▼ ' + p.dislikes })));
    }
    if (open && p.state === 'approved') bar.append(h('button', { type: 'button', 'data-act': 'reply', 'data-id': id, text: t('reply') }));
    var tok = (s.tokens || editTokens())[id];
    if ((tok || ownPost(p)) && p.state !== 'deleted') {
      bar.append(h('button', { type: 'button', 'data-act': 'edit', 'data-id': id, text: t('edit') }),
        h('button', { type: 'button', 'data-act': 'delete', 'data-id': id, text: t('del') }));
    }
    if (p.state === 'approved' && !tok && !ownPost(p)) bar.append(h('button', { type: 'button', 'data-act': 'flag', 'data-id': id, text: t('report') }));
    bar.append(h('button', { type: 'button', cls: 'cf-toggle', 'data-act': 'toggle', 'data-id': id,
      'aria-expanded': 'true', text: t('collapse') }));
    return bar;
  }

  function rerender(n) {
    var old = n.art;
    old.replaceWith(article(n));
  }

  // ---- forms ----
  var formSeq = 0;
  function form(parentId) {
    var s = state, who = load('author', {}), i = ++formSeq;
    var f = h('form', { cls: 'cf-form', method: 'dialog', novalidate: true, 'data-parent': parentId || '' });
    var label = parentId ? t('replyTo', null, { name: (s.nodes[parentId].p.author || {}).name || '' }) : t('join');
    var msg = h('textarea', { name: 'message', id: 'cf-m' + i, rows: parentId ? '3' : '4', maxlength: '20000',
      required: true, 'aria-describedby': 'cf-me' + i });
    var name = h('input', { name: 'name', id: 'cf-n' + i, autocomplete: 'name', maxlength: '100', required: true,
      'aria-describedby': 'cf-ne' + i, value: who.name || '' });
    var email = h('input', { name: 'email', id: 'cf-e' + i, type: 'email', autocomplete: 'email', maxlength: '254',
      'aria-describedby': 'cf-ee' + i, value: who.email || '' });
    var help = h('details', { cls: 'cf-help' }, h('summary', { text: t('help') }));
    var table = h('dl');
    I18N[s.cfg.lang].helpRows.forEach(function (r, j) { table.append(h('dt', { text: r }), h('dd', {}, h('code', { text: HELP[j] }))); });
    help.append(table);
    f.append(
      h('label', { cls: 'cf-label', for: 'cf-m' + i, text: label }), msg, h('p', { cls: 'cf-err', id: 'cf-me' + i, hidden: true }),
      help,
      h('div', { cls: 'cf-who', hidden: signedIn() },
        h('div', {}, h('label', { for: 'cf-n' + i, text: t('name') }), name, h('p', { cls: 'cf-err', id: 'cf-ne' + i, hidden: true })),
        h('div', {}, h('label', { for: 'cf-e' + i, text: t('email') }), email, h('p', { cls: 'cf-err', id: 'cf-ee' + i, hidden: true }))),
      h('label', { cls: 'cf-check' }, h('input', { type: 'checkbox', name: 'notify', checked: signedIn() || !!who.notify }), ' ' + t('notify')),
      h('p', { cls: 'cf-err cf-general', role: 'alert', hidden: true }),
      h('div', { cls: 'cf-buttons' },
        h('button', { type: 'submit', cls: 'cf-primary', text: parentId ? t('postReply') : t('post') }),
        parentId ? h('button', { type: 'button', 'data-act': 'cancel', text: t('cancel') }) : null,
        signedIn() ? null : h('small', { cls: 'cf-note', text: t('remember') })));
    return f;
  }

  function clearErrors(f) {
    f.querySelectorAll('.cf-err').forEach(function (e) { e.hidden = true; e.textContent = ''; });
    f.querySelectorAll('[aria-invalid]').forEach(function (e) { e.removeAttribute('aria-invalid'); });
  }
  function showError(f, field, text) {
    announce('');
    var input = f.querySelector('[name="' + field + '"]');
    var slot = input ? f.querySelector('#' + input.getAttribute('aria-describedby')) : f.querySelector('.cf-general');
    slot.textContent = text;
    slot.hidden = false;
    if (input) { input.setAttribute('aria-invalid', 'true'); input.focus(); }
  }
  function fieldOf(err) {
    var f = String(err.field || '');
    if (f === 'message') return 'message';
    if (/(^|\.)name$/.test(f)) return 'name';
    if (/email$|^notify$/.test(f)) return 'email';
    return null;
  }

  async function submitPost(f) {
    var s = state, gen = s.generation;
    var parentId = f.getAttribute('data-parent') || null;
    var message = f.message.value, name = f.name.value.trim(), email = f.email.value.trim(), me = signedIn();
    clearErrors(f);
    if (!message.trim()) return showError(f, 'message', t('noText'));
    if (me) name = s.me.name;
    else if (!name) return showError(f, 'name', t('noName'));
    else keep('author', { name: name, email: email, notify: f.notify.checked });
    var button = f.querySelector('[type=submit]');
    button.disabled = true;
    // Show the comment at once; the server's answer replaces it.
    var temp = { id: 'tmp' + ++formSeq, parent: parentId, depth: 0, state: 'approved', raw_message: message,
      author: { name: name }, created_at: new Date().toISOString(), likes: 0, dislikes: 0, replies: [] };
    var tn = { p: temp, sending: true };
    var tli = h('li', { cls: 'cf-post cf-sending', 'aria-busy': 'true' });
    tn.li = tli;
    tli.append(article(tn), h('p', { cls: 'cf-note', text: t('posting') }));
    if (parentId) s.nodes[parentId].children.append(tli); else s.tree.prepend(tli);
    s.empty.hidden = true;
    var body = { thread: { url: s.cfg.page.url }, message: message, notify: f.notify.checked };
    if (!me) body.author = { name: name };
    if (s.cfg.page.identifier) body.thread.identifier = s.cfg.page.identifier;
    if (s.cfg.page.title) body.thread.title = s.cfg.page.title;
    if (parentId) body.parent = parentId;
    if (email && !me) body.author.email = email;
    try {
      var res = await api('POST', '/api/v1/forums/' + encodeURIComponent(s.cfg.forum) + '/posts', body);
      if (gen !== state.generation) return;
      var toks = ownTokens();
      toks[res.post.id] = { t: res.edit_token, exp: Date.parse(res.edit_expires_at), th: res.thread.id, until: Date.now() + 2592e6 };
      keep('edit', trimmed(toks, 200));
      s.thread = res.thread;
      var p = res.post;
      p.replies = [];
      var li = node(p);
      li.classList.add('cf-new');
      tli.replaceWith(li);
      if (parentId) s.nodes[parentId].li.classList.add('cf-has-children');
      f.message.value = '';
      if (parentId) f.remove();
      refreshHead();
      announce(t(p.state === 'pending' ? 'pending' : 'posted'));
      s.nodes[p.id].art.focus();
      s.cfg.callbacks.onNewComment.forEach(function (cb) { try { cb({ id: p.id, text: message }); } catch (e) { /* host */ } });
    } catch (err) {
      tli.remove();
      refreshHead();
      var field = fieldOf(err);
      showError(f, field, errorText(err));
    } finally {
      button.disabled = false;
    }
  }

  function announce(text) {
    state.status.textContent = '';
    state.status.textContent = text;
  }

  function openReply(id) {
    var s = state, n = s.nodes[id];
    var open = s.box.querySelector('form[data-parent="' + id + '"]');
    if (open) return open.message.focus();
    s.box.querySelectorAll('.cf-tree form.cf-reply-form').forEach(function (f) { if (!f.message.value) f.remove(); });
    var f = form(id);
    f.classList.add('cf-reply-form');
    n.art.after(f);
    f.message.focus();
  }

  function openEdit(id) {
    var s = state, n = s.nodes[id];
    if (n.art.querySelector('form')) return;
    var f = h('form', { cls: 'cf-form cf-edit', method: 'dialog', novalidate: true, 'data-edit': id });
    var ta = h('textarea', { name: 'message', id: 'cf-ed' + id, rows: '4', maxlength: '20000', 'aria-describedby': 'cf-ede' + id,
      'aria-label': t('edit') });
    ta.value = n.p.raw_message || '';
    f.append(ta, h('p', { cls: 'cf-err', id: 'cf-ede' + id, hidden: true }), h('p', { cls: 'cf-err cf-general', role: 'alert', hidden: true }),
      h('div', { cls: 'cf-buttons' }, h('button', { type: 'submit', cls: 'cf-primary', text: t('save') }),
        h('button', { type: 'button', 'data-act': 'cancel-edit', 'data-id': id, text: t('cancel') })));
    n.body.hidden = true;
    n.body.after(f);
    ta.focus();
  }

  async function submitEdit(f) {
    var s = state, id = f.getAttribute('data-edit'), n = s.nodes[id], tok = editTokens()[id];
    clearErrors(f);
    if (!f.message.value.trim()) return showError(f, 'message', t('noText'));
    if (!tok && !ownPost(n.p)) return showError(f, null, errorText({ status: 403, message: t('server') }));
    try {
      var p = await api('PATCH', '/api/v1/posts/' + id, { message: f.message.value }, editHeaders(tok));
      n.p = Object.assign(n.p, p);
      rerender(n);
      announce(t('saved'));
      n.art.focus();
    } catch (err) {
      showError(f, fieldOf(err), errorText(err));
    }
  }

  async function removePost(id) {
    var s = state, n = s.nodes[id], tok = editTokens()[id];
    if (!tok && !ownPost(n.p)) return;
    try {
      var res = await api('DELETE', '/api/v1/posts/' + id, undefined, editHeaders(tok));
      s.thread = res.thread;
      var toks = ownTokens();
      delete toks[id];
      keep('edit', toks);
      if (n.children.children.length) {
        n.p = Object.assign(n.p, res.post);
        n.p.state = 'deleted';
        rerender(n);
        n.art.focus();
      } else {
        var next = n.li.nextElementSibling || n.li.parentElement.closest('li') || null;
        n.li.remove();
        delete s.nodes[id];
        var target = next && next.querySelector('article');
        if (target) target.focus();
      }
      refreshHead();
      announce(t('removed'));
    } catch (err) {
      announce(errorText(err));
    }
  }

  async function vote(btn) {
    var s = state, id = btn.getAttribute('data-id'), n = s.nodes[id];
    var want = +btn.getAttribute('data-v');
    var current = s.votes[id] || 0;
    var value = current === want ? 0 : want;
    btn.disabled = true;
    try {
      var res = await api('POST', '/api/v1/posts/' + id + '/vote', { value: value }, { 'X-Confab-Voter': voterToken() });
      if (res.vote) s.votes[id] = res.vote; else delete s.votes[id];
      keep('votes', trimmed(s.votes, 1000));
      n.p.likes = res.post.likes;
      n.p.dislikes = res.post.dislikes;
      var focusUp = btn.classList.contains('cf-up');
      var bar = n.art.querySelector('.cf-actions');
      bar.replaceWith(actions(n, !(s.thread && s.thread.closed)));
      n.art.querySelector(focusUp ? '.cf-up' : '.cf-down').focus();
    } catch (err) {
      btn.disabled = false;
      announce(errorText(err));
    }
  }

  async function moreRoots(btn) {
    var s = state, gen = s.generation;
    btn.disabled = true;
    try {
      var page = await api('GET', '/api/v1/threads/' + s.thread.id + '/posts?' +
        query({ sort: s.sort, cursor: s.cursor, limit: PAGE_ROOTS, replies: REPLIES_PER_ROOT }));
      if (gen !== state.generation) return;
      var before = s.tree.children.length;
      s.tokens = editTokens();
      page.posts.forEach(function (p) { if (!s.nodes[p.id]) addRoot(p); });
      s.tokens = null;
      s.cursor = page.cursor;
      refreshHead();
      var first = s.tree.children[before];
      if (first) first.querySelector('article').focus();
      else if (!s.more.hidden) s.more.focus();
    } catch (err) {
      announce(errorText(err));
    } finally {
      btn.disabled = false;
    }
  }

  // A link to one comment (`#comment-<id>`, as mails send): the page at that comment,
  // highlighted, with the roots and replies before it loaded if it is further down.
  async function reveal() {
    var s = state, m = /^#comment-(\d+)$/.exec(location.hash), gen = s.generation;
    if (!m) return;
    var chain = [m[1]];
    try {
      // Up from the comment to the first of its ancestors on the page, or its root.
      while (!s.nodes[chain[0]] && chain.length < 64) {
        var p = await api('GET', '/api/v1/posts/' + chain[0]);
        if (!p.parent) break;
        chain.unshift(p.parent);
      }
      for (var i = 0; i < 50 && !s.nodes[chain[0]] && s.cursor; i++) await moreRoots(s.more);
      for (var k = 1; k < chain.length; k++) {
        var root = s.nodes[chain[0]];
        for (var j = 0; j < 50 && !s.nodes[chain[k]] && root && root.moreBtn; j++) await moreReplies(root.moreBtn);
      }
    } catch (e) { /* gone or unreachable: the page as it is */ }
    var n = s.nodes[m[1]];
    if (!n || gen !== state.generation) return;
    n.li.classList.add('cf-target');
    n.art.scrollIntoView({ block: 'center' });
    n.art.focus({ preventScroll: true });
  }
  W.addEventListener('hashchange', function () { if (state && state.ready) reveal(); });

  async function moreReplies(btn) {
    var s = state, id = btn.getAttribute('data-id'), n = s.nodes[id], gen = s.generation;
    btn.disabled = true;
    try {
      var res = await api('GET', '/api/v1/posts/' + id + '/replies?' + query({ cursor: n.repliesCursor, limit: REPLIES_PAGE }));
      if (gen !== state.generation) return;
      var added = null;
      res.posts.forEach(function (p) {
        var li = s.nodes[p.id] ? null : addReply(p);
        added = added || li;
      });
      var shown = n.li.querySelectorAll('.cf-children .cf-post').length;
      setMoreReplies(id, res.cursor, n.p.descendants - shown);
      if (added) added.querySelector('article').focus();
    } catch (err) {
      btn.disabled = false;
      announce(errorText(err));
    }
  }

  function toggle(btn) {
    var n = state.nodes[btn.getAttribute('data-id')];
    var open = btn.getAttribute('aria-expanded') === 'true';
    n.li.classList.toggle('cf-collapsed', open);
    btn.setAttribute('aria-expanded', String(!open));
    btn.textContent = open ? t('expand') : t('collapse');
    var hiddenN = n.li.querySelectorAll('.cf-children .cf-post').length;
    var note = n.art.querySelector('.cf-hidden-note');
    if (open && hiddenN) n.art.querySelector('.cf-meta, .cf-body').after(h('span', { cls: 'cf-hidden-note', text: t('hidden', hiddenN) }));
    else if (note) note.remove();
  }

  function onClick(e) {
    var btn = e.target.closest && e.target.closest('button[data-act]');
    if (!btn || !state) return;
    var act = btn.getAttribute('data-act'), id = btn.getAttribute('data-id');
    if (act === 'vote') vote(btn);
    else if (act === 'reply') openReply(id);
    else if (act === 'cancel') {
      var f = btn.closest('form'), parent = f.getAttribute('data-parent');
      f.remove();
      var back = parent && state.nodes[parent] && state.nodes[parent].art.querySelector('[data-act=reply]');
      if (back) back.focus();
    } else if (act === 'edit') openEdit(id);
    else if (act === 'cancel-edit') {
      var n = state.nodes[id];
      btn.closest('form').remove();
      n.body.hidden = false;
      n.art.querySelector('[data-act=edit]').focus();
    } else if (act === 'delete') {
      var bar = btn.parentElement;
      bar.replaceChildren(h('span', { cls: 'cf-sure', text: t('sure') }),
        h('button', { type: 'button', cls: 'cf-danger', 'data-act': 'delete-yes', 'data-id': id, text: t('del') }),
        h('button', { type: 'button', 'data-act': 'delete-no', 'data-id': id, text: t('keep') }));
      bar.querySelector('[data-act=delete-no]').focus();
    } else if (act === 'delete-yes') removePost(id);
    else if (act === 'delete-no') {
      rerender(state.nodes[id]);
      state.nodes[id].art.querySelector('[data-act=delete]').focus();
    } else if (act === 'toggle') toggle(btn);
    else if (act === 'more') moreRoots(btn);
    else if (act === 'replies') moreReplies(btn);
    else if (act === 'login') account();
    else if (act === 'logout') logout();
    else if (act === 'sso') ssoLogin();
    else if (act === 'sub') subscribe(btn);
    else if (act === 'flag') flag(btn, id);
    else if (act === 'reload') { state.box.replaceChildren(h('p', { cls: 'cf-loading', text: t('loading') })); loadPage(); }
  }

  // Reporting: the button becomes a choice of reasons; choosing sends it.
  function flag(btn, id) {
    var sel = h('select', { 'aria-label': t('report') }, h('option', { value: '', text: t('report') + '…' }));
    (I18N[state.cfg.lang].why || I18N.en.why).forEach(function (w, i) { sel.append(h('option', { value: ['spam', 'abuse', 'off_topic', 'other'][i], text: w })); });
    sel.onchange = function () {
      if (sel.value) api('POST', '/api/v1/posts/' + id + '/flags', { reason: sel.value }).then(function () {
        sel.replaceWith(h('span', { cls: 'cf-note', text: t('reported') }));
      }, function (e) { announce(errorText(e)); });
    };
    btn.replaceWith(sel);
    sel.focus();
  }

  function onSubmit(e) {
    e.preventDefault();
    var f = e.target;
    if (!f.classList || !f.classList.contains('cf-form')) return;
    if (f.hasAttribute('data-edit')) submitEdit(f); else submitPost(f);
  }

  function onChange(e) {
    if (e.target.getAttribute('data-act') !== 'sort') return;
    state.sort = e.target.value;
    keep('sort', state.sort);
    loadPage().then(function () { var sel = state.box.querySelector('#cf-sort'); if (sel) sel.focus(); });
  }

  function onKey(e) {
    // Escape closes the reply or edit form the focus is in.
    if (e.key !== 'Escape') return;
    var f = e.target.closest && e.target.closest('form');
    var cancel = f && f.querySelector('[data-act=cancel], [data-act=cancel-edit]');
    if (cancel) cancel.click();
  }

  // Wired in start(): other languages get there after their strings load.
  function wire(root) {
    if (root.__confab) return;
    root.__confab = true;
    root.addEventListener('click', onClick);
    root.addEventListener('submit', onSubmit);
    root.addEventListener('change', onChange);
    root.addEventListener('keydown', onKey);
  }

  function boot(override) {
    var cfg = readConfig(override);
    if (state && state.root && state.root.host !== cfg.el) state = Object.assign(state, { root: null });
    start(cfg);
  }

  // Relative times stay relative.
  setInterval(function () {
    if (!state || !state.box) return;
    state.box.querySelectorAll('time[datetime]').forEach(function (el) { el.textContent = when(el.getAttribute('datetime'), state.cfg.lang); });
  }, 60000);
  if (W.matchMedia) {
    W.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', function () {
      if (state && state.box) state.box.setAttribute('data-theme', theme(state.cfg, state.host));
    });
  }

  // DISQUS.reset({ reload: true, config: … }) for single-page apps.
  ns.reset = function (opts) {
    opts = opts || {};
    if (opts.reload === false) return;
    boot(opts.config);
  };
  ns.version = '1';
  boot();
})();
