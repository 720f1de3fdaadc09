// The widget in every language it ships, on a host page of another origin: a reader
// posts, replies, votes, sorts and opens the log-in panel in each. A language other than
// English arrives as a module after the widget starts, which once left the widget with no
// handlers at all (its forms then submitted to the host page, e-mail in the address).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, apiPost, launch, startConfab, watchedPage, widgetReady } from '../lib.mjs';

const I18N_DIR = join(ROOT, 'crates', 'confab-server', 'embed', 'i18n');
// English is built into embed.js; every other shipped language is a file here.
const EN = { comments: ['{n} comment', '{n} comments'], posted: 'Your comment was posted.' };
const LANGS = { en: EN };
for (const f of readdirSync(I18N_DIR).filter((f) => f.endsWith('.js'))) {
  LANGS[f.replace(/\.js$/, '')] = (await import(pathToFileURL(join(I18N_DIR, f)))).default;
}
const ACCOUNT_TITLES = { en: 'Your account', de: 'Ihr Konto', fr: 'Votre compte' };

let confab, browser, host, hostBase;
const pages = new Map();
const requested = []; // every URL the host server was asked for
let seq = 0;

before(async () => {
  confab = await startConfab();
  browser = await launch();
  host = createServer((req, res) => {
    requested.push(req.url);
    const html = pages.get(req.url.split('?')[0]);
    if (!html) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(html);
  });
  await new Promise((ok) => host.listen(0, '127.0.0.1', ok));
  hostBase = `http://localhost:${host.address().port}`;
});
after(async () => {
  await browser?.close();
  await confab?.stop();
  await new Promise((ok) => host?.close(ok));
});

/** A host page with the widget; `htmlLang` null leaves `<html>` without a language. */
function hostPage({ htmlLang, head = '', attrs = '' }) {
  const path = `/article-${++seq}`;
  const lang = htmlLang == null ? '' : ` lang="${htmlLang}"`;
  pages.set(path, `<!doctype html><html${lang}><head><meta charset="utf-8"><title>Article ${seq}</title>` +
    `<link rel="icon" href="data:,">${head}</head><body><h1>Article</h1>` +
    `<div id="confab_thread" data-identifier="lang-${seq}" data-lazy="false" ${attrs}></div>` +
    `<script async src="${confab.base}/embed.js" data-forum="demo"></script></body></html>`);
  return { url: hostBase + path, identifier: `lang-${seq}` };
}

/** Opens the page and records every navigation of the host page itself. */
async function open(url, opts) {
  const page = await watchedPage(browser, opts);
  const navigations = [];
  page.on('framenavigated', (f) => { if (f === page.mainFrame()) navigations.push(f.url()); });
  await page.goto(url);
  await widgetReady(page);
  page.navigations = navigations;
  return page;
}

function plural(strings, n) {
  return strings[n === 1 ? 0 : 1].replace('{n}', String(n));
}

for (const [lang, L] of Object.entries(LANGS)) {
  test(`${lang}: post, reply, vote, sort and log in, with the page's address untouched`, async () => {
    const { url, identifier } = hostPage({ htmlLang: lang });
    await apiPost(confab.base, identifier, 'An older comment');
    const page = await open(url);
    assert.equal(await page.locator('.cf').getAttribute('lang'), lang);
    assert.equal(await page.locator('.cf-count').textContent(), plural(L.comments, 1));

    // Post, with an e-mail that must never reach the host page's address.
    const form = page.locator('form.cf-form').first();
    await form.locator('textarea[name=message]').fill(`A comment in ${lang}`);
    await form.locator('input[name=name]').fill('Lena');
    await form.locator('input[name=email]').fill('lena@example.com');
    await form.locator('button[type=submit]').click();
    const mine = page.locator('.cf-tree > .cf-post[data-id]').filter({ hasText: `A comment in ${lang}` });
    await mine.waitFor();
    assert.equal(await page.locator('.cf-status').textContent(), L.posted);
    assert.equal(await page.locator('.cf-count').textContent(), plural(L.comments, 2));

    // Reply.
    await mine.locator('> article [data-act=reply]').click();
    const reply = mine.locator('form.cf-reply-form');
    await reply.locator('textarea[name=message]').fill('A reply');
    await reply.locator('button[type=submit]').click();
    await mine.locator('.cf-children > .cf-post[data-id]').filter({ hasText: 'A reply' }).waitFor();

    // Vote.
    await mine.locator('> article .cf-up').click();
    await mine.locator('> article .cf-up[aria-pressed=true]').waitFor();

    // Sort: oldest puts the older comment first, newest puts ours first.
    await page.locator('select#cf-sort').selectOption('oldest');
    await page.waitForFunction(() => document.querySelector('#confab_thread').shadowRoot
      .querySelector('.cf-tree > .cf-post .cf-body')?.textContent.includes('An older comment'));
    await page.locator('select#cf-sort').selectOption('newest');
    await page.waitForFunction((text) => document.querySelector('#confab_thread').shadowRoot
      .querySelector('.cf-tree > .cf-post .cf-body')?.textContent.includes(text), `A comment in ${lang}`);

    // Log in opens Confab's log-in window, in the same language.
    const popup = page.waitForEvent('popup');
    await page.locator('[data-act=login]').click();
    const win = await popup;
    await win.locator('h1').waitFor();
    assert.equal(await win.locator('h1').textContent(), ACCOUNT_TITLES[lang] || ACCOUNT_TITLES.en);
    assert.equal(new URL(win.url()).origin, new URL(confab.base).origin, 'the password is typed on Confab\'s origin');
    await win.close();

    assert.deepEqual(page.navigations, [url], 'the host page never navigated');
    assert.ok(!requested.some((u) => /lena/i.test(u)), requested.join(', '));
    assert.deepEqual(page.problems, []);
    await page.context().close();
  });
}

test('every way a page names its language reaches a working widget', async () => {
  const [lang, L] = Object.entries(LANGS).find(([k]) => k !== 'en') || ['en', EN];
  const ways = [
    ['<html lang>', { htmlLang: `${lang}-XX` }],
    ['data-language', { htmlLang: 'en', attrs: `data-language="${lang}"` }],
    ['confab_config', { htmlLang: 'en', head: `<script>var confab_config = { language: '${lang}' };</script>` }],
    ["Disqus's this.language", { htmlLang: 'en', head: `<script>var disqus_config = function () { this.language = '${lang}'; };</script>` }],
    ["the reader's browser", { htmlLang: null }, { locale: `${lang}-XX` }],
  ];
  for (const [way, spec, opts] of ways) {
    const { url } = hostPage(spec);
    const page = await open(url, opts);
    assert.equal(await page.locator('.cf').getAttribute('lang'), lang, way);
    const popup = page.waitForEvent('popup', { timeout: 5000 });
    await page.locator('[data-act=login]').click();
    const win = await popup.catch(() => assert.fail(`${way}: Log in does nothing`));
    assert.equal(await win.locator('html').getAttribute('lang'), lang, `${way}: the window speaks ${lang}`);
    await win.close();
    const form = page.locator('form.cf-form').first();
    await form.locator('textarea[name=message]').fill(`Named by ${way}`);
    await form.locator('input[name=name]').fill('Lena');
    await form.locator('button[type=submit]').click();
    await page.locator('.cf-status').filter({ hasText: L.posted }).waitFor();
    assert.deepEqual(page.navigations, [url], `${way}: the host page never navigated`);
    assert.deepEqual(page.problems, [], way);
    await page.context().close();
  }
});

test('a form of the widget never submits natively, even when its handler does not run', async () => {
  for (const lang of Object.keys(LANGS)) {
    const { url, identifier } = hostPage({ htmlLang: lang });
    await apiPost(confab.base, identifier, 'A comment to reply to');
    const page = await open(url);
    // The host page (or an extension) stops the event before the widget's handler sees it.
    await page.evaluate(() => {
      const form = document.querySelector('#confab_thread').shadowRoot.querySelector('form.cf-form');
      form.addEventListener('submit', (e) => e.stopPropagation());
    });
    const form = page.locator('form.cf-form').first();
    await form.locator('textarea[name=message]').fill('Never in the address bar');
    await form.locator('input[name=name]').fill('Lena');
    await form.locator('input[name=email]').fill('lena@example.com');
    // A native submission would navigate, and playwright's click waits for a navigation
    // it starts to commit.
    await form.locator('button[type=submit]').click();
    await page.waitForLoadState('load');
    assert.deepEqual(page.navigations, [url], `${lang}: the host page never navigated`);
    assert.ok(!requested.some((u) => /lena|Never/i.test(u)), `${lang}: ${requested.join(', ')}`);
    // Every form the widget makes is method=dialog: outside a <dialog> that submits nowhere.
    await page.locator('.cf-tree [data-act=reply]').first().click();
    const methods = await page.evaluate(() => [...document.querySelector('#confab_thread').shadowRoot
      .querySelectorAll('form')].map((f) => f.getAttribute('method')));
    assert.ok(methods.length >= 2, `the main and reply forms (${methods})`);
    assert.deepEqual(methods.filter((m) => m !== 'dialog'), [], `${lang}: ${methods}`);
    await page.context().close();
  }
});
