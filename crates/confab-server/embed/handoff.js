/* The log-in window's last step: hand the reader credential to the page that opened
   the window, addressed to that page's origin alone (the server checked it against the
   forum's sites), then close. Without an opener (the window was opened by hand) the
   page just says the reader is signed in. */
(function () {
  var d = document.getElementById('handoff');
  if (!d || !window.opener) return;
  window.opener.postMessage({ confab: 'session', token: d.dataset.token, forum: d.dataset.forum }, d.dataset.origin);
  window.close();
})();
