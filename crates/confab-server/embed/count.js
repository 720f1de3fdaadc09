/*! Confab comment counts · MIT OR Apache-2.0 · served as written, no build step */
// Fills in "N comments" for links ending in #confab_thread or #disqus_thread and for
// elements with data-confab-identifier / data-disqus-identifier (or -url), with one
// batched request per hundred threads. Disqus pages keep calling
// DISQUSWIDGETS.getCount({ reset: true }); Confab pages call CONFAB.count().
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script || !script.src) return;
  var src = new URL(script.src, location.href);
  var BASE = src.origin;
  var forum = script.getAttribute('data-forum') || src.searchParams.get('forum') || window.disqus_shortname;
  var WORDS = {
    en: ['{n} comment', '{n} comments'], de: ['{n} Kommentar', '{n} Kommentare'], fr: ['{n} commentaire', '{n} commentaires']
  };
  var SELECTOR = 'a[href$="#confab_thread"], a[href$="#disqus_thread"], [data-confab-identifier], ' +
    '[data-disqus-identifier], [data-confab-url], [data-disqus-url]';

  function lang() {
    var l = (script.getAttribute('data-language') || document.documentElement.lang || 'en').toLowerCase().split(/[-_]/)[0];
    return WORDS[l] ? l : 'en';
  }

  // What thread an element names: an identifier, else a URL (the link's own, without its fragment).
  function keyOf(el) {
    var id = el.getAttribute('data-confab-identifier') || el.getAttribute('data-disqus-identifier');
    if (id) return ['identifier', id];
    var url = el.getAttribute('data-confab-url') || el.getAttribute('data-disqus-url') || (el.href ? String(el.href) : '');
    url = url.split('#')[0];
    return url ? ['url', url] : null;
  }

  function text(n, l) {
    var w = WORDS[l][new Intl.PluralRules(l).select(n) === 'one' ? 0 : 1];
    return w.replace('{n}', new Intl.NumberFormat(l).format(n));
  }

  function count() {
    if (!forum) return Promise.resolve();
    var els = Array.prototype.slice.call(document.querySelectorAll(SELECTOR));
    var wanted = {}, keys = [];
    els.forEach(function (el) {
      var k = keyOf(el);
      if (!k) return;
      var name = k[0] + '\n' + k[1];
      if (!wanted[name]) { wanted[name] = []; keys.push(k); }
      wanted[name].push(el);
    });
    var l = lang(), batches = [];
    for (var i = 0; i < keys.length; i += 100) batches.push(keys.slice(i, i + 100));
    return Promise.all(batches.map(function (batch) {
      var q = batch.map(function (k) { return k[0] + '=' + encodeURIComponent(k[1]); }).join('&');
      return fetch(BASE + '/api/v1/forums/' + encodeURIComponent(forum) + '/counts?' + q, { credentials: 'omit' })
        .then(function (r) { return r.ok ? r.json() : { counts: [] }; })
        .then(function (body) {
          body.counts.forEach(function (c) {
            var name = c.identifier != null ? 'identifier\n' + c.identifier : 'url\n' + c.url;
            (wanted[name] || []).forEach(function (el) {
              el.textContent = text(c.posts, l);
              el.setAttribute('data-confab-count', String(c.posts));
            });
          });
        })
        .catch(function () { /* counts are decoration: leave the links as they are */ });
    }));
  }

  var disqus = !!document.querySelector('a[href$="#disqus_thread"], [data-disqus-identifier], [data-disqus-url]') ||
    script.id === 'dsq-count-scr';
  var ns = disqus ? (window.DISQUSWIDGETS = window.DISQUSWIDGETS || {}) : (window.CONFAB = window.CONFAB || {});
  ns.count = count;
  ns.getCount = function () { return count(); };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', count);
  else count();
})();
