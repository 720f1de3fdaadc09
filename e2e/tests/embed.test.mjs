// The widget embedded in other sites' pages, as it is used: the host page on its own
// origin (a second loopback port), Confab's API across origins.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { apiPost, launch, screenshot, startConfab, watchedPage, widgetReady } from '../lib.mjs';

let confab, browser, host, hostBase;
const pages = new Map(); // path -> { html, csp }

before(async () => {
  confab = await startConfab();
  browser = await launch();
  host = createServer((req, res) => {
    const p = pages.get(req.url.split('?')[0]);
    if (!p) { res.writeHead(404); res.end(); return; }
    const headers = { 'Content-Type': 'text/html; charset=utf-8' };
    if (p.csp) headers['Content-Security-Policy'] = p.csp;
    res.writeHead(200, headers);
    res.end(p.html);
  });
  await new Promise((ok) => host.listen(0, '127.0.0.1', ok));
  hostBase = `http://localhost:${host.address().port}`; // another origin than Confab's 127.0.0.1
});
after(async () => {
  await browser?.close();
  await confab?.stop();
  await new Promise((ok) => host?.close(ok));
});

function hostPage(path, { lang = 'en', head = '', body, csp } = {}) {
  pages.set(path, {
    csp,
    html: `<!doctype html><html lang="${lang}"><head><meta charset="utf-8"><title>Host ${path}</title><link rel="icon" href="data:,">${head}</head>` +
      `<body>${body}</body></html>`,
  });
  return hostBase + path;
}

const widget = (attrs = '') => `<div id="confab_thread" ${attrs}></div>` +
  `<script async src="${confab.base}/embed.js" data-forum="demo"></script>`;

test('a hostile host stylesheet breaks neither the widget nor leaks into it, and the widget leaves the host alone', async () => {
  const hostile = '<style>* { color: red !important; font-size: 40px !important; line-height: 3 !important; ' +
    'font-family: cursive !important; text-transform: uppercase !important; letter-spacing: 6px !important; ' +
    'box-sizing: content-box !important; visibility: visible !important; text-align: right !important } ' +
    'div, ul, li, button, textarea, article, p { display: inline !important; padding: 40px !important; ' +
    'border: 5px solid lime !important; margin: 30px !important; float: left !important } ' +
    'button { display: none !important } .cf, .cf-body { color: red !important; display: none !important }</style>';
  await apiPost(confab.base, 'hostile', 'Already **here**');
  const url = hostPage('/hostile', {
    head: hostile,
    body: `<h2 id="above">Above</h2><p id="para">Host text</p>${widget('data-identifier="hostile" data-lazy="false"')}`,
  });
  const page = await watchedPage(browser);
  await page.goto(url);
  const hostBefore = await page.evaluate(() => {
    const s = getComputedStyle(document.getElementById('para'));
    return { color: s.color, size: s.fontSize, margin: s.margin };
  });
  await widgetReady(page);
  const inside = await page.evaluate(() => {
    const root = document.querySelector('#confab_thread').shadowRoot;
    const body = getComputedStyle(root.querySelector('.cf-body'));
    const button = getComputedStyle(root.querySelector('.cf-actions button'));
    const box = root.querySelector('.cf').getBoundingClientRect();
    return {
      color: body.color, size: body.fontSize, transform: body.textTransform, spacing: body.letterSpacing,
      display: body.display, buttonDisplay: button.display, boxWidth: box.width,
      avatar: root.querySelector('.cf-av').getBoundingClientRect().width,
    };
  });
  assert.notEqual(inside.color, 'rgb(255, 0, 0)');
  assert.equal(inside.size, '15px');
  assert.equal(inside.transform, 'none');
  assert.equal(inside.spacing, 'normal');
  assert.equal(inside.display, 'block');
  assert.notEqual(inside.buttonDisplay, 'none');
  assert.ok(inside.avatar < 40, `sizes do not follow the host's root font size (${inside.avatar})`);
  assert.ok(inside.boxWidth > 300, `widget keeps its width (${inside.boxWidth})`);
  const hostAfter = await page.evaluate(() => {
    const s = getComputedStyle(document.getElementById('para'));
    return { color: s.color, size: s.fontSize, margin: s.margin };
  });
  assert.deepEqual(hostAfter, hostBefore, 'the widget changed nothing of the host page');
  assert.deepEqual(await page.evaluate(() => Object.keys(window).filter((k) => /confab|disqus/i.test(k))), ['CONFAB']);
  await page.locator('textarea[name=message]').fill('Posted from a hostile page');
  await page.locator('input[name=name]').fill('Ann');
  await page.locator('button[type=submit]').click();
  await page.locator('.cf-post[data-id]').filter({ hasText: 'Posted from a hostile page' }).waitFor();
  await screenshot(page, 'hostile-host-stylesheet');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('a strict host CSP with Trusted Types: no inline style or script needed', async () => {
  const url = hostPage('/strict', {
    csp: `default-src 'none'; script-src ${confab.base}; connect-src ${confab.base}; style-src 'none'; ` +
      `img-src data:; require-trusted-types-for 'script'; trusted-types confab`,
    body: widget('data-identifier="welcome" data-lazy="false"'),
  });
  const page = await watchedPage(browser);
  await page.goto(url);
  await widgetReady(page);
  assert.match(await page.locator('.cf-body strong').first().textContent(), /demo/);
  const styled = await page.evaluate(() => getComputedStyle(document.querySelector('#confab_thread').shadowRoot
    .querySelector('.cf-primary')).borderRadius);
  assert.equal(styled, '6px', 'the stylesheet applied');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('Disqus legacy globals and a Disqus container work unchanged across origins', async () => {
  const url = hostPage('/legacy', {
    body: '<div id="disqus_thread"></div><script>var disqus_shortname = "demo"; ' +
      'var disqus_identifier = "legacy-page"; var disqus_title = "A legacy page";</script>' +
      `<script async src="${confab.base}/embed.js"></script>`,
  });
  const page = await watchedPage(browser);
  await page.goto(url);
  await widgetReady(page);
  assert.equal(await page.locator('.cf-empty').isVisible(), true, 'empty-thread state');
  assert.match(await page.locator('.cf-empty').textContent(), /Be the first/);
  await page.locator('textarea[name=message]').fill('First on the legacy page');
  await page.locator('input[name=name]').fill('Ann');
  await page.locator('button[type=submit]').click();
  await page.locator('.cf-post[data-id]').filter({ hasText: 'First on the legacy page' }).waitFor();
  assert.equal(await page.locator('.cf-empty').isVisible(), false);
  const thread = await (await fetch(`${confab.base}/api/v1/forums/demo/threads?identifier=legacy-page`)).json();
  assert.equal(thread.title, 'A legacy page');
  assert.equal(thread.url, url, 'the page address, without its fragment');
  assert.equal(await page.evaluate(() => typeof window.DISQUS.reset), 'function');
  assert.deepEqual(await page.context().cookies(), [], 'no cookies, so blocking third-party cookies changes nothing');
  assert.ok(await page.evaluate(() => Object.keys(localStorage).some((k) => k.startsWith('confab:'))),
    'tokens kept in the page\'s own storage');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('language from the page, or from the config; theme by option', async () => {
  const fr = hostPage('/fr', { lang: 'fr-CA', body: widget('data-identifier="welcome" data-lazy="false"') });
  const page = await watchedPage(browser);
  await page.goto(fr);
  await widgetReady(page);
  assert.equal(await page.locator('.cf-count').textContent(), '2 commentaires');
  assert.equal(await page.locator('.cf-sortl').textContent(), 'Trier par');
  assert.equal(await page.locator('.cf').getAttribute('data-theme'), 'light');
  await screenshot(page, 'embed-french');

  const de = hostPage('/de', {
    lang: 'fr',
    head: `<script>var confab_config = { language: 'de', theme: 'dark' };</script>`,
    body: widget('data-identifier="welcome" data-lazy="false"'),
  });
  await page.goto(de);
  await widgetReady(page);
  assert.equal(await page.locator('.cf-count').textContent(), '2 Kommentare');
  assert.equal(await page.locator('.cf [data-act=reply]').first().textContent(), 'Antworten');
  assert.equal(await page.locator('.cf').getAttribute('data-theme'), 'dark');
  const dark = hostPage('/dark-bg', {
    head: '<style>body { background: #101418 }</style>',
    body: widget('data-identifier="welcome" data-lazy="false"'),
  });
  await page.goto(dark);
  await widgetReady(page);
  assert.equal(await page.locator('.cf').getAttribute('data-theme'), 'dark', 'auto theme reads the host background');
  await screenshot(page, 'embed-dark-host');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('lazy by default: nothing is fetched until the reader scrolls near, and nothing above moves', async () => {
  const url = hostPage('/lazy', {
    body: '<h1 id="top">Top</h1><div style="height: 4000px">long article</div>' +
      widget('data-identifier="welcome"') + '<p id="after">after</p>',
  });
  const page = await watchedPage(browser);
  const calls = [];
  page.on('request', (r) => { if (r.url().includes('/thread-page')) calls.push(r.url()); });
  await page.goto(url);
  await page.waitForTimeout(500);
  assert.equal(calls.length, 0, 'no API call while far away');
  const topBefore = await page.evaluate(() => document.getElementById('top').getBoundingClientRect().top);
  await page.evaluate(() => window.scrollTo(0, 3300));
  await widgetReady(page);
  assert.equal(calls.length, 1);
  const shifts = await page.evaluate(() => new Promise((ok) => {
    let sum = 0;
    new PerformanceObserver((l) => { for (const e of l.getEntries()) sum += e.value; })
      .observe({ type: 'layout-shift', buffered: true });
    setTimeout(() => ok(sum), 300);
  }));
  assert.equal(shifts, 0, 'cumulative layout shift');
  await page.evaluate(() => window.scrollTo(0, 0));
  assert.equal(await page.evaluate(() => document.getElementById('top').getBoundingClientRect().top), topBefore);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('count.js in Disqus style, in German, one request for all links', async () => {
  await apiPost(confab.base, 'counted', 'one');
  await apiPost(confab.base, 'counted', 'two');
  const url = hostPage('/counts', {
    lang: 'de',
    body: `<a id="a" href="${confab.base}/#disqus_thread" data-disqus-identifier="welcome">x</a>` +
      '<a id="b" href="/elsewhere#disqus_thread" data-disqus-identifier="counted">x</a>' +
      '<span id="c" data-disqus-identifier="nothing-here">x</span>' +
      `<a id="d" href="${confab.base}/demo/xyz#disqus_thread">x</a>` +
      `<script id="dsq-count-scr" src="${confab.base}/count.js?forum=demo" async></script>`,
  });
  const page = await watchedPage(browser);
  const calls = [];
  page.on('request', (r) => { if (r.url().includes('/counts?')) calls.push(r.url()); });
  await page.goto(url);
  await page.waitForFunction(() => document.querySelectorAll('[data-confab-count]').length === 4);
  const text = await page.evaluate(() => ['a', 'b', 'c', 'd'].map((id) => document.getElementById(id).textContent));
  assert.deepEqual(text, ['2 Kommentare', '2 Kommentare', '0 Kommentare', '0 Kommentare']);
  assert.equal(calls.length, 1);
  assert.equal(await page.evaluate(() => typeof window.DISQUSWIDGETS.getCount), 'function');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test("a forum's trusted origins: its own site posts, another site is told why not", async () => {
  const make = async (shortname, origins) => {
    const r = await fetch(`${confab.base}/api/v1/forums`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${confab.adminToken}` },
      body: JSON.stringify({ shortname, origins }),
    });
    assert.equal(r.status, 201);
  };
  await make('mine', [hostBase]);
  await make('theirs', ['https://elsewhere.example']);
  const page = await watchedPage(browser);
  for (const [forum, ok] of [['mine', true], ['theirs', false]]) {
    const url = hostPage(`/origin-${forum}`, {
      body: `<div id="confab_thread" data-identifier="o" data-lazy="false"></div>` +
        `<script async src="${confab.base}/embed.js" data-forum="${forum}"></script>`,
    });
    await page.goto(url);
    await widgetReady(page);
    await page.locator('textarea[name=message]').fill(`From the host page to ${forum}`);
    await page.locator('input[name=name]').fill('Ann');
    await page.locator('button[type=submit]').click();
    if (ok) {
      await page.locator('.cf-post[data-id]').filter({ hasText: `to ${forum}` }).waitFor();
    } else {
      const err = page.locator('.cf-general');
      await err.waitFor();
      assert.match(await err.textContent(), /accepts comments only from its own sites/);
      assert.equal(await page.locator('.cf-post').count(), 0);
    }
  }
  assert.deepEqual(page.problems.filter((p) => !/status of 403/.test(p)), []);
  await page.context().close();
});

test("a mail's link to one comment opens the page at it, highlighted, loading what is before it", async () => {
  // 30 roots (more than a page), and the target the fifth reply under the first root
  // (replies past the third wait behind "more replies").
  const roots = [];
  for (let i = 1; i <= 30; i++) roots.push(await apiPost(confab.base, 'anchored', `Root ${i}`));
  let target;
  for (let i = 1; i <= 5; i++) target = await apiPost(confab.base, 'anchored', `Reply ${i}`, roots[0].id);
  const url = hostPage('/anchored', { body: '<h1>A long article</h1><div style="height:3000px"></div>' +
    widget('data-identifier="anchored" data-lazy="false"') });
  const page = await watchedPage(browser);
  await page.goto(`${url}#comment-${target.id}`);
  const shown = page.locator(`.cf-post[data-id="${target.id}"]`);
  await shown.and(page.locator('.cf-target')).waitFor();
  assert.match(await shown.locator('> article .cf-body').textContent(), /Reply 5/);
  assert.equal(await shown.locator('> article').evaluate((a) => {
    const r = a.getBoundingClientRect();
    return r.top >= 0 && r.bottom <= innerHeight;
  }), true, 'scrolled into view');
  assert.equal(await page.evaluate(() => document.querySelector('#confab_thread').shadowRoot.activeElement?.closest('.cf-post')
    ?.getAttribute('data-id')), target.id, 'focused for keyboard and screen readers');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
