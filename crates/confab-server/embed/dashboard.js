// Keyboard shortcuts for the moderators' dashboard: j/k move between comments,
// a/s/d approve, mark spam or delete the current one, x selects it for a bulk
// action, ? shows the help. Everything also works without this script.
(function () {
  'use strict';
  var items = Array.prototype.slice.call(document.querySelectorAll('.post'));
  var help = document.getElementById('help');
  var at = -1;

  function focus(n) {
    if (!items.length) return;
    at = Math.max(0, Math.min(items.length - 1, n));
    items.forEach(function (el, i) { el.classList.toggle('current', i === at); });
    items[at].focus({ preventScroll: true });
    items[at].scrollIntoView({ block: 'nearest' });
  }

  function press(action) {
    if (at < 0) return;
    var b = items[at].querySelector('.actions button[value="' + action + '"]');
    if (b) b.click();
  }

  document.addEventListener('keydown', function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.target.closest && e.target.closest('input, textarea, select, button, summary')) {
      if (e.key !== 'Escape') return;
    }
    switch (e.key) {
      case 'j': focus(at + 1); break;
      case 'k': focus(at < 0 ? 0 : at - 1); break;
      case 'a': press('approve'); break;
      case 's': press('spam'); break;
      case 'd': press('delete'); break;
      case 'x':
        if (at >= 0) {
          var c = items[at].querySelector('input[type=checkbox]');
          if (c) c.checked = !c.checked;
        }
        break;
      case '?': if (help) help.hidden = !help.hidden; break;
      case 'Escape': if (help) help.hidden = true; break;
      default: return;
    }
    e.preventDefault();
  });

  // After an action the server comes back at the next comment (#p-<id>).
  var m = /^#p-(\d+)$/.exec(location.hash);
  if (m) {
    for (var i = 0; i < items.length; i++) if (items[i].dataset.id === m[1]) { focus(i); return; }
  }
  if (items.length) focus(0);
})();
