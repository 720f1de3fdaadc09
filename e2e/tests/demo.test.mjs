// The demo site as a newcomer meets it after the first command: the widget on `/`,
// served from Confab's own origin under a strict Content-Security-Policy.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { apiPost, launch, screenshot, startConfab, watchedPage, widgetReady } from '../lib.mjs';

let confab, browser;
before(async () => {
  confab = await startConfab();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await confab?.stop();
});

async function open(path = '/', opts) {
  const page = await watchedPage(browser, opts);
  await page.goto(confab.base + path);
  await widgetReady(page);
  return page;
}

/** The focused element inside the widget's shadow root. */
function focused(page) {
  return page.evaluate(() => {
    const host = document.querySelector('#confab_thread, #disqus_thread');
    const el = host && host.shadowRoot && host.shadowRoot.activeElement;
    return el ? { tag: el.tagName, id: el.id, text: el.textContent.slice(0, 200), act: el.getAttribute('data-act') } : null;
  });
}

async function write(scope, message, name = 'Ann') {
  await scope.locator('textarea[name=message]').fill(message);
  await scope.locator('input[name=name]').fill(name);
  await scope.locator('button[type=submit]').click();
}

test('the demo article shows its seeded thread with no errors and no third-party requests', async () => {
  const page = await open('/');
  assert.equal(await page.locator('.cf-count').textContent(), '2 comments');
  assert.equal(await page.locator('.cf-tree > .cf-post').count(), 1);
  assert.equal(await page.locator('.cf-children .cf-post').count(), 1);
  // The tree is nested lists for assistive technology.
  assert.equal(await page.locator('ul.cf-tree > li.cf-post > ul.cf-children > li.cf-post').count(), 1);
  assert.match(await page.locator('.cf-body').first().innerHTML(), /<strong>demo<\/strong>/);
  const time = page.locator('.cf-meta time').first();
  assert.match(await time.getAttribute('title'), /\d{4}/, 'exact time on hover');
  assert.equal(await page.evaluate(() => typeof window.CONFAB.reset), 'function');
  assert.equal(await page.evaluate(() => 'DISQUS' in window), false, 'one global namespace');
  assert.deepEqual(page.problems, []);
});

test('screenshots: light and dark, desktop and phone', async () => {
  for (const [name, opts] of [
    ['demo-light-desktop', { colorScheme: 'light' }],
    ['demo-dark-desktop', { colorScheme: 'dark' }],
    ['demo-light-phone', { colorScheme: 'light', viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true }],
    ['demo-dark-phone', { colorScheme: 'dark', viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true }],
  ]) {
    const page = await open('/', opts);
    const theme = await page.locator('.cf').getAttribute('data-theme');
    assert.equal(theme, opts.colorScheme, `${name}: theme follows the page background`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${name}: no horizontal overflow (${overflow}px)`);
    await screenshot(page, name);
    assert.deepEqual(page.problems, []);
    await page.context().close();
  }
});

test('posting shows the comment at once, then the server copy, and persists', async () => {
  const page = await open('/demo/lighthouse');
  assert.equal(await page.locator('.cf-count').textContent(), '2 comments');
  // Hold the POST so the optimistic copy can be seen before the answer.
  let release;
  const held = new Promise((ok) => { release = ok; });
  await page.route('**/api/v1/forums/demo/posts', async (route) => { await held; await route.continue(); });
  await write(page.locator('form.cf-form').first(), 'Hello from **the browser**');
  const sending = page.locator('.cf-sending');
  await sending.waitFor();
  assert.match(await sending.textContent(), /Hello from \*\*the browser\*\*/, 'shown as typed while sending');
  release();
  const mine = page.locator('.cf-tree > .cf-post[data-id]').filter({ hasText: 'Hello from the browser' });
  await mine.waitFor();
  assert.equal(await page.locator('.cf-sending').count(), 0);
  assert.match(await mine.locator('.cf-body').innerHTML(), /<strong>the browser<\/strong>/, 'server rendering');
  assert.equal(await page.locator('.cf-count').textContent(), '3 comments');
  assert.equal((await focused(page)).tag, 'ARTICLE', 'focus moves to the new comment');
  assert.equal(await page.locator('.cf-status').textContent(), 'Your comment was posted.');
  assert.equal(await page.locator('form.cf-form textarea').first().inputValue(), '', 'form cleared');

  await page.reload();
  await widgetReady(page);
  assert.equal(await page.locator('.cf-count').textContent(), '3 comments');
  assert.equal(await page.locator('input[name=name]').first().inputValue(), 'Ann', 'name remembered');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('reply, vote, edit and delete', async () => {
  const page = await open('/demo/lighthouse');
  await write(page.locator('form.cf-form').first(), 'A root to answer');
  const root = page.locator('.cf-tree > .cf-post[data-id]').filter({ hasText: 'A root to answer' });
  await root.waitFor();

  // Reply.
  await root.locator('> article [data-act=reply]').click();
  const form = root.locator('form.cf-reply-form');
  assert.match(await form.locator('.cf-label').textContent(), /Reply to Ann/);
  await write(form, 'An answer');
  const reply = root.locator('.cf-children > .cf-post[data-id]').filter({ hasText: 'An answer' });
  await reply.waitFor();
  assert.equal(await root.locator('form.cf-reply-form').count(), 0, 'reply form closes');

  // Vote up, then switch to down, then clear; the reader's own vote shows and survives a reload.
  const up = reply.locator('> article .cf-up');
  await up.click();
  await page.waitForFunction(() => document.querySelector('#confab_thread').shadowRoot
    .querySelector('.cf-children .cf-up[aria-pressed=true]'));
  assert.match(await reply.locator('> article .cf-up').textContent(), /▲ 1/);
  const replyId = await reply.getAttribute('data-id');
  await page.reload();
  await widgetReady(page);
  const reply2 = page.locator(`.cf-post[data-id="${replyId}"]`);
  assert.equal(await reply2.locator('> article .cf-up').getAttribute('aria-pressed'), 'true');
  assert.match(await reply2.locator('> article .cf-up').textContent(), /▲ 1/);
  await reply2.locator('> article .cf-down').click();
  await page.waitForFunction(() => [...document.querySelector('#confab_thread').shadowRoot
    .querySelectorAll('.cf-down[aria-pressed=true]')].some((b) => b.textContent.includes('1')));
  assert.match(await reply2.locator('> article .cf-up').textContent(), /▲ 0/);
  await reply2.locator('> article .cf-down').click();
  await page.waitForFunction(() => !document.querySelector('#confab_thread').shadowRoot
    .querySelector('.cf-vote[aria-pressed=true]'));

  // Edit within the window.
  await reply2.locator('> article [data-act=edit]').click();
  const edit = reply2.locator('form.cf-edit');
  assert.equal(await edit.locator('textarea').inputValue(), 'An answer');
  await edit.locator('textarea').fill('An _edited_ answer');
  await edit.locator('button[type=submit]').click();
  await reply2.locator('.cf-body em').waitFor();
  assert.match(await reply2.locator('> article .cf-meta').textContent(), /edited/);

  // Others' posts offer no edit; delete asks first, then removes the leaf.
  assert.equal(await page.locator('.cf-post[data-id]').filter({ hasText: 'Eilean Glas' }).locator('> article [data-act=edit]').count(), 0);
  const before = await page.locator('.cf-count').textContent();
  await reply2.locator('> article [data-act=delete]').click();
  assert.equal(await reply2.locator('.cf-sure').textContent(), 'Delete this comment?');
  await reply2.locator('[data-act=delete-yes]').click();
  await reply2.waitFor({ state: 'detached' });
  assert.notEqual(await page.locator('.cf-count').textContent(), before);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('a deleted post with replies stays as a placeholder', async () => {
  const page = await open('/demo/lighthouse');
  await write(page.locator('form.cf-form').first(), 'Soon gone');
  const root = page.locator('.cf-tree > .cf-post[data-id]').filter({ hasText: 'Soon gone' });
  await root.waitFor();
  const id = await root.getAttribute('data-id');
  await apiPost(confab.base, 'lighthouse', 'Answer that keeps the place', id);
  await page.reload();
  await widgetReady(page);
  const again = page.locator(`.cf-post[data-id="${id}"]`);
  await again.locator('> article [data-act=delete]').click();
  await again.locator('[data-act=delete-yes]').click();
  await again.locator('> article.cf-gone').waitFor();
  assert.equal(await again.locator('> article .cf-body').textContent(), 'This comment was deleted.');
  assert.match(await again.locator('> .cf-children').textContent(), /keeps the place/);
  await page.context().close();
});

test('sort switch and load more, for roots and for replies', async () => {
  // A fresh thread: 30 roots, the first with 5 replies.
  const roots = [];
  for (let i = 1; i <= 30; i++) roots.push(await apiPost(confab.base, 'paging', `Root number ${i}`));
  for (let i = 1; i <= 5; i++) await apiPost(confab.base, 'paging', `Reply number ${i}`, roots[0].id);
  const page = await open('/');
  // A single-page app switches threads with reset, as with DISQUS.reset.
  await page.evaluate(() => window.CONFAB.reset({ reload: true, config: function () { this.page.identifier = 'paging'; } }));
  await page.waitForFunction(() => document.querySelector('#confab_thread').shadowRoot
    .querySelector('.cf-count')?.textContent === '35 comments');
  assert.equal(await page.locator('.cf-count').textContent(), '35 comments');
  await page.locator('select#cf-sort').selectOption('oldest');
  await page.waitForFunction(() => document.querySelector('#confab_thread').shadowRoot
    .querySelector('.cf-tree > .cf-post .cf-body')?.textContent.includes('Root number 1'));
  assert.equal(await page.locator('.cf-tree > .cf-post').count(), 25);
  const first = page.locator('.cf-tree > .cf-post').first();
  assert.equal(await first.locator('.cf-children > .cf-post').count(), 3);
  await first.locator('> .cf-more-replies').click();
  await page.waitForFunction(() => document.querySelector('#confab_thread').shadowRoot
    .querySelectorAll('.cf-tree > .cf-post:first-child .cf-children > .cf-post').length === 5);
  assert.equal(await first.locator('> .cf-more-replies').count(), 0);
  await page.locator('.cf-more').click();
  await page.waitForFunction(() => document.querySelector('#confab_thread').shadowRoot
    .querySelectorAll('.cf-tree > .cf-post').length === 30);
  assert.equal(await page.locator('.cf-more').isHidden(), true);
  const texts = await page.locator('.cf-tree > .cf-post > article .cf-body').allTextContents();
  assert.deepEqual(texts.map((t) => t.trim()), roots.map((_, i) => `Root number ${i + 1}`), 'oldest first, no gaps');

  await page.locator('select#cf-sort').selectOption('newest');
  await page.waitForFunction(() => document.querySelector('#confab_thread').shadowRoot
    .querySelector('.cf-tree > .cf-post .cf-body')?.textContent.includes('Root number 30'));
  assert.equal(await page.evaluate(() => localStorage.length > 0), true, 'preference kept by the widget');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('count.js shows the right numbers with one request', async () => {
  const page = await watchedPage(browser);
  const countRequests = [];
  page.on('request', (r) => { if (r.url().includes('/counts?')) countRequests.push(r.url()); });
  await page.goto(confab.base + '/');
  await page.waitForFunction(() => document.querySelectorAll('a.count[data-confab-count]').length === 3);
  const expected = {};
  for (const id of ['welcome', 'lighthouse', 'sourdough']) {
    const r = await fetch(`${confab.base}/api/v1/forums/demo/counts?identifier=${id}`);
    expected[id] = (await r.json()).counts[0].posts;
  }
  const shown = await page.locator('a.count').evaluateAll((els) => els.map((e) => [e.dataset.confabIdentifier, e.textContent]));
  for (const [id, text] of shown) {
    const n = expected[id];
    assert.equal(text, n === 1 ? '1 comment' : `${n} comments`, id);
  }
  assert.equal(countRequests.length, 1);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('a page using the Disqus-style config works unchanged', async () => {
  const page = await open('/demo/sourdough');
  assert.equal(await page.evaluate(() => typeof window.DISQUS.reset), 'function');
  // The demo's article list uses count.js in Confab style, which owns `CONFAB`; the widget did not.
  assert.equal(await page.evaluate(() => window.CONFAB && window.CONFAB.reset), undefined);
  await write(page.locator('form.cf-form').first(), 'Posted through the Disqus embed code');
  await page.locator('.cf-post[data-id]').filter({ hasText: 'Posted through the Disqus embed code' }).waitFor();
  const r = await fetch(`${confab.base}/api/v1/forums/demo/threads?identifier=sourdough`);
  assert.equal((await r.json()).title, 'Sourdough, slowly', 'title from disqus_config');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('comments carrying HTML and script payloads render inert', async () => {
  const payloads = [
    '<script>window.__pwned = 1; alert(1)</script>',
    '<img src=x onerror="window.__pwned = 2; alert(2)">',
    '[click me](javascript:window.__pwned=3)',
    '<svg onload="window.__pwned=4"></svg><iframe src="javascript:alert(4)"></iframe>',
    '"><style>*{display:none!important}</style><a href="#" onclick="window.__pwned=5">x</a>',
  ];
  const root = await apiPost(confab.base, 'xss', payloads.join('\n\n'), null, '<img src=x onerror="window.__pwned=6">');
  await apiPost(confab.base, 'xss', '<details open ontoggle="window.__pwned=7">', root.id);
  const page = await watchedPage(browser);
  await page.goto(confab.base + '/');
  await page.evaluate(() => window.CONFAB.reset({ reload: true, config: function () { this.page.identifier = 'xss'; } }));
  await page.locator('.cf-children .cf-post[data-id]').filter({ hasText: 'ontoggle' }).waitFor();
  const link = page.locator('.cf-body a', { hasText: 'click me' });
  if (await link.count()) await link.click();
  await page.waitForTimeout(300);
  const found = await page.evaluate(() => {
    const root = document.querySelector('#confab_thread').shadowRoot;
    const bad = [...root.querySelectorAll('*')].filter((el) => el.tagName === 'SCRIPT' || el.tagName === 'IFRAME' ||
      el.tagName === 'STYLE' || [...el.attributes].some((a) => a.name.startsWith('on')));
    return { pwned: window.__pwned, bad: bad.map((e) => e.outerHTML), author: root.querySelector('.cf-author').textContent };
  });
  assert.equal(found.pwned, undefined);
  assert.deepEqual(found.bad, []);
  assert.equal(found.author, '<img src=x onerror="window.__pwned=6">', 'names are text');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('keyboard alone: reach Reply, write, post, and land on the new comment', async () => {
  const page = await open('/', { reducedMotion: 'reduce' });
  let guard = 0;
  while (guard++ < 60) {
    await page.keyboard.press('Tab');
    const f = await focused(page);
    if (f && f.act === 'reply') break;
  }
  assert.equal((await focused(page)).act, 'reply', 'Tab reaches a Reply button');
  await page.keyboard.press('Enter');
  assert.equal((await focused(page)).tag, 'TEXTAREA', 'focus moves into the reply form');
  await page.keyboard.type('Typed without a mouse');
  await page.keyboard.press('Tab'); // formatting help
  await page.keyboard.press('Tab'); // name
  await page.keyboard.type('Kim');
  await page.keyboard.press('Tab'); // email
  await page.keyboard.press('Tab'); // "Email me replies"
  await page.keyboard.press('Tab'); // submit
  assert.match((await focused(page)).text, /Post reply/);
  await page.keyboard.press('Enter');
  await page.locator('.cf-children .cf-post[data-id]').filter({ hasText: 'Typed without a mouse' }).waitFor();
  const f = await focused(page);
  assert.equal(f.tag, 'ARTICLE');
  assert.match(f.text, /Typed without a mouse/);
  const outline = await page.evaluate(() => {
    const el = document.querySelector('#confab_thread').shadowRoot.activeElement;
    return getComputedStyle(el).outlineStyle;
  });
  assert.notEqual(outline, 'none', 'visible focus');
  // Escape closes a reply form and returns focus to its Reply button.
  await page.keyboard.press('Shift+Tab');
  await page.locator('.cf-post [data-act=reply]').first().focus();
  await page.keyboard.press('Enter');
  await page.keyboard.press('Escape');
  assert.equal((await focused(page)).act, 'reply');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('clear error states: unreachable, rate-limited, validation next to the field', async () => {
  const page = await watchedPage(browser);
  await page.route('**/thread-page?**', (route) => route.abort('connectionrefused'));
  await page.goto(confab.base + '/demo/lighthouse');
  const alert = page.locator('.cf-error[role=alert]');
  await alert.waitFor();
  assert.match(await alert.textContent(), /Can't reach the comment server/);
  await page.unroute('**/thread-page?**');
  await alert.locator('button').click();
  await widgetReady(page);

  const form = page.locator('form.cf-form').first();
  await form.locator('button[type=submit]').click();
  assert.equal(await form.locator('#' + await form.locator('textarea').getAttribute('aria-describedby')).textContent(),
    'Write something first.');
  await form.locator('textarea').fill('Checking the email');
  await form.locator('input[name=name]').fill('Ann');
  await form.locator('input[name=email]').fill('not-an-email');
  await form.locator('button[type=submit]').click();
  const emailErr = form.locator('#' + await form.locator('input[name=email]').getAttribute('aria-describedby'));
  await emailErr.waitFor();
  assert.match(await emailErr.textContent(), /email/i);
  assert.equal(await form.locator('input[name=email]').getAttribute('aria-invalid'), 'true');
  assert.equal(await page.locator('.cf-sending').count(), 0, 'the optimistic copy is withdrawn');
  assert.equal(await form.locator('textarea').inputValue(), 'Checking the email', 'nothing typed is lost');

  // A comment that goes through says so; a later failure does not leave that standing.
  await form.locator('input[name=email]').fill('');
  await form.locator('button[type=submit]').click();
  const status = page.locator('.cf-status');
  await status.filter({ hasText: 'Your comment was posted.' }).waitFor();
  let wait = '30';
  await page.route('**/api/v1/forums/demo/posts', (route) => route.fulfill({
    status: 429, headers: { 'Retry-After': wait, 'Content-Type': 'application/json', 'Access-Control-Allow-Origin': '*' },
    body: JSON.stringify({ error: { code: 'rate_limited', message: 'slow down' } }),
  }));
  await form.locator('textarea').fill('One more');
  await form.locator('button[type=submit]').click();
  const general = form.locator('.cf-general');
  await general.waitFor();
  assert.equal(await general.textContent(), 'Too many attempts. Try again in 30 seconds.');
  assert.equal(await status.textContent(), '', 'the earlier "posted" notice is gone');
  wait = '1';
  await form.locator('button[type=submit]').click();
  await general.filter({ hasText: 'Try again in 1 second.' }).waitFor();
  // The aborted load logs a console error of its own; anything else is a problem.
  assert.deepEqual(page.problems.filter((p) => !/ERR_CONNECTION_REFUSED|status of 4(22|29)/.test(p)), []);
  await page.context().close();
});

test('collapse and expand a subtree, from the keyboard too', async () => {
  const page = await open('/');
  const root = page.locator('.cf-tree > .cf-post').first();
  const toggle = root.locator('> article .cf-toggle');
  assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
  await toggle.focus();
  await page.keyboard.press('Enter');
  assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
  assert.equal(await root.locator('> .cf-children').isHidden(), true);
  assert.equal(await root.locator('> article .cf-body').isHidden(), true);
  const n = await root.locator('> .cf-children .cf-post').count();
  assert.ok(n >= 1);
  assert.equal(await root.locator('.cf-hidden-note').textContent(), n === 1 ? '1 reply hidden' : `${n} replies hidden`);
  await page.keyboard.press('Enter');
  assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
  assert.equal(await root.locator('> .cf-children').isVisible(), true);
  assert.equal(await root.locator('.cf-hidden-note').count(), 0);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('a closed thread shows its comments and no forms; motion follows the reader', async () => {
  const root = await apiPost(confab.base, 'closed-one', 'Said before closing');
  const thread = root.thread;
  const r = await fetch(`${confab.base}/api/v1/threads/${thread}/close`, {
    method: 'POST', headers: { Authorization: `Bearer ${confab.adminToken}` },
  });
  assert.equal(r.status, 200);
  const page = await open('/');
  await page.evaluate(() => window.CONFAB.reset({ reload: true, config: function () { this.page.identifier = 'closed-one'; } }));
  await page.locator('.cf-closed').waitFor();
  assert.equal(await page.locator('.cf-closed').textContent(), 'Comments are closed.');
  assert.equal(await page.locator('form.cf-form').count(), 0);
  assert.equal(await page.locator('[data-act=reply]').count(), 0);
  assert.match(await page.locator('.cf-body').first().textContent(), /Said before closing/);
  await page.context().close();

  // A new comment flashes for readers who allow motion, and does not for those who asked for less.
  for (const [reducedMotion, expected] of [['no-preference', 'cf-flash'], ['reduce', 'none']]) {
    const p = await open('/demo/lighthouse', { reducedMotion });
    await write(p.locator('form.cf-form').first(), `Motion ${reducedMotion}`);
    const art = p.locator('.cf-post[data-id]').filter({ hasText: `Motion ${reducedMotion}` }).locator('> article');
    await art.waitFor();
    assert.equal(await art.evaluate((el) => getComputedStyle(el).animationName), expected, reducedMotion);
    await p.context().close();
  }
});
