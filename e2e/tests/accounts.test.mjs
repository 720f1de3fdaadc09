// Signing in from the widget, on a host page of another origin: a Confab account (sign
// up, confirm by the mailed link, log in, post, log out) in Confab's own log-in window,
// a hostile host page that gets nothing it could abuse, and a site's own users through
// Disqus-style SSO (remote_auth_s3, this.sso's log-in window).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { launch, mailsTo, screenshot, startConfab, watchedPage, widgetReady } from '../lib.mjs';

let confab, browser, host, hostBase;
const pages = new Map();

before(async () => {
  browser = await launch();
  host = createServer((req, res) => {
    const html = pages.get(req.url.split('?')[0]);
    if (!html) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(html);
  });
  await new Promise((ok) => host.listen(0, '127.0.0.1', ok));
  hostBase = `http://localhost:${host.address().port}`;
  confab = await startConfabAt();
});
after(async () => {
  await browser?.close();
  await confab?.stop();
  await new Promise((ok) => host?.close(ok));
});

function startConfabAt() {
  return startConfab({
    CONFAB_RATE_LIMIT_SIGNUPS_PER_MINUTE: '1000', CONFAB_RATE_LIMIT_SIGNUPS_BURST: '1000',
    CONFAB_RATE_LIMIT_LOGINS_PER_MINUTE: '1000', CONFAB_RATE_LIMIT_LOGINS_BURST: '1000',
  });
}

function hostPage(path, head, body) {
  pages.set(path, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Host ${path}</title>` +
    `<link rel="icon" href="data:,">${head}</head><body>${body}</body></html>`);
  return hostBase + path;
}

/** The newest mail in Confab's outbox addressed to `to`. */
function lastMailTo(to) {
  const mails = mailsTo(confab, to);
  assert.ok(mails.length, `no mail to ${to}`);
  return mails[mails.length - 1];
}

async function admin(path, method = 'GET') {
  const r = await fetch(confab.base + path, { method, headers: { Authorization: `Bearer ${confab.adminToken}` } });
  assert.equal(r.status, 200, await r.clone().text());
  return r.json();
}

test('a reader signs up, confirms the address, logs in, comments and logs out, all from the widget', async () => {
  const url = hostPage('/article', '', '<h1>An article</h1><div id="confab_thread" data-identifier="accounts" data-lazy="false"></div>' +
    `<script async src="${confab.base}/embed.js" data-forum="demo"></script>`);
  const page = await watchedPage(browser);
  await page.goto(url);
  await widgetReady(page);
  const w = page.locator('#confab_thread');
  assert.equal(await w.locator('.cf-who').isVisible(), true, 'guests see name and email fields');

  // Sign up, in Confab's own window: no password is typed into the host page.
  let popup = page.waitForEvent('popup');
  await w.getByRole('button', { name: 'Log in' }).click();
  const win = await popup;
  assert.equal(new URL(win.url()).origin, new URL(confab.base).origin);
  await win.getByText(`Log in to comment on ${hostBase}.`).waitFor();
  await win.getByRole('link', { name: 'New here? Create an account' }).click();
  await win.getByLabel('Username', { exact: true }).fill('ann_e2e');
  await win.getByLabel('Email', { exact: true }).fill('ann.e2e@example.com');
  await win.getByLabel('Password', { exact: true }).fill('short');
  await win.getByRole('button', { name: 'Create account' }).click();
  await win.getByText('must be at least 8 characters').waitFor();
  await win.getByLabel('Username', { exact: true }).fill('ann_e2e');
  await win.getByLabel('Email', { exact: true }).fill('ann.e2e@example.com');
  await win.getByLabel('Password', { exact: true }).fill('a long enough passphrase');
  await win.getByRole('button', { name: 'Create account' }).click();
  await win.getByText('Almost done').waitFor();
  await screenshot(win, 'accounts-signed-up');

  // Logging in before confirming is refused, with a new link.
  await win.getByLabel('Username or email').fill('ann.e2e@example.com');
  await win.getByLabel('Password', { exact: true }).fill('a long enough passphrase');
  await win.getByRole('button', { name: 'Log in', exact: true }).click();
  await win.getByText('Confirm your email address first').waitFor();

  // The mailed link opens Confab's own page; one click confirms.
  const mail = lastMailTo('ann.e2e@example.com');
  const link = mail.match(/http:\/\/127\.0\.0\.1:\d+\/account\/verify\?token=[A-Za-z0-9_-]+/)[0];
  const confirm = await watchedPage(browser);
  await confirm.goto(link);
  await confirm.getByRole('button', { name: 'Confirm my address' }).click();
  await confirm.getByRole('heading', { name: 'Address confirmed' }).waitFor();
  await screenshot(confirm, 'accounts-confirmed');
  assert.deepEqual(confirm.problems, []);
  await confirm.context().close();

  // Logged in, the window hands the widget its credential and closes itself.
  await win.getByLabel('Username or email').fill('ann.e2e@example.com');
  await win.getByLabel('Password', { exact: true }).fill('a long enough passphrase');
  const closed = win.waitForEvent('close');
  await win.getByRole('button', { name: 'Log in', exact: true }).click();
  await closed;
  await w.getByText('Signed in as ann_e2e').waitFor();
  assert.equal(await w.locator('.cf-who').isVisible(), false, 'no name fields when signed in');
  await w.getByLabel('Join the discussion').fill('My first comment as a member');
  await w.getByRole('button', { name: 'Post comment' }).click();
  const mine = w.locator('.cf-post', { hasText: 'My first comment as a member' });
  await mine.locator('.cf-author', { hasText: 'ann_e2e' }).waitFor();
  await screenshot(page, 'accounts-signed-in');

  // Still signed in after a reload (the token is kept in this site's storage, no cookie).
  await page.reload();
  await w.getByText('Signed in as ann_e2e').waitFor();
  const token = await page.evaluate((k) => JSON.parse(localStorage.getItem(k)).t, `confab:${confab.base}:reader`);
  assert.deepEqual(await page.context().cookies(), []);

  // Without the post's edit token (another browser, or after the window) the account's
  // session alone lets its author edit.
  await page.evaluate((k) => localStorage.removeItem(k), `confab:${confab.base}:edit`);
  await page.reload();
  await w.getByText('Signed in as ann_e2e').waitFor();
  await mine.getByRole('button', { name: 'Edit' }).click();
  await mine.locator('textarea').fill('My first comment, edited as a member');
  await mine.getByRole('button', { name: 'Save' }).click();
  await w.getByText('My first comment, edited as a member').waitFor();

  await w.getByRole('button', { name: 'Log out' }).click();
  await w.getByRole('button', { name: 'Log in' }).waitFor();
  assert.equal(await w.locator('.cf-who').isVisible(), true);
  const me = await fetch(`${confab.base}/api/v1/me`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(me.status, 401, 'log-out ended the session on the server');
  assert.deepEqual(page.problems.filter((p) => !/status of 4\d\d/.test(p)), []);
});

test('a hostile host page sees no password and holds nothing beyond commenting in its forum', async () => {
  // An owner of the demo forum, reading comments on a page that spies on them.
  const email = 'olga.e2e@example.com';
  const call = (path, body, auth) => fetch(confab.base + path, {
    method: body ? 'POST' : 'GET',
    headers: { 'Content-Type': 'application/json', ...(auth ? { Authorization: auth } : {}) },
    body: body && JSON.stringify(body),
  });
  assert.equal((await call('/api/v1/auth/signup', { username: 'olga_e2e', email, password: 'owner passphrase 1' })).status, 202);
  const verify = lastMailTo(email).match(/token=([A-Za-z0-9_-]+)/)[1];
  assert.equal((await call('/api/v1/auth/verify', { token: verify })).status, 200);
  const role = await fetch(`${confab.base}/api/v1/forums/demo/roles/olga_e2e`, {
    method: 'PUT', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${confab.adminToken}` },
    body: JSON.stringify({ role: 'owner' }),
  });
  assert.equal(role.status, 200, await role.text());

  const url = hostPage('/spy', '<script>' +
    // Every keystroke anywhere on the page, inside the widget's shadow root too.
    "window.seen = []; document.addEventListener('input', (e) => window.seen.push(e.composedPath()[0].value), true);" +
    "const open = window.open; window.opened = [];" +
    "window.open = function () { const w = open.apply(this, arguments); window.opened.push(w); return w; };" +
    '</script>',
    '<div id="confab_thread" data-identifier="spied-on" data-lazy="false"></div>' +
    `<script async src="${confab.base}/embed.js" data-forum="demo"></script>`);
  const page = await watchedPage(browser);
  await page.goto(url);
  await widgetReady(page);
  const w = page.locator('#confab_thread');
  const popup = page.waitForEvent('popup');
  await w.getByRole('button', { name: 'Log in' }).click();
  const win = await popup;
  await win.getByLabel('Username or email').fill('olga_e2e');
  await win.getByLabel('Password', { exact: true }).fill('owner passphrase 1');
  assert.equal(await page.evaluate(() => { try { return window.opened[0].document.body.innerText; } catch (e) { return 'blocked'; } }),
    'blocked', "the host page cannot read Confab's window");
  const closed = win.waitForEvent('close');
  await win.getByRole('button', { name: 'Log in', exact: true }).click();
  await closed;
  await w.getByText('Signed in as olga_e2e').waitFor();
  const seen = await page.evaluate(() => window.seen);
  assert.ok(!seen.some((v) => /owner passphrase/.test(v || '')), `the host page saw the password: ${seen}`);

  // What the page can take from its storage comments in this forum, and does nothing else.
  const stolen = await page.evaluate(() => Object.keys(localStorage).filter((k) => /:(reader|session)$/.test(k))
    .map((k) => JSON.parse(localStorage.getItem(k))).filter(Boolean).map((v) => v.t));
  assert.equal(stolen.length, 1, 'one credential, the reader one');
  const bearer = `Bearer ${stolen[0]}`;
  assert.equal((await call('/api/v1/forums/demo/keys', null, bearer)).status, 401, 'no secret key');
  assert.equal((await call('/api/v1/forums/demo/queue', null, bearer)).status, 401, 'no moderation');
  assert.equal((await call('/api/v1/me/sessions', null, bearer)).status, 403, 'no account management');
  const elsewhere = await call('/api/v1/forums', { shortname: 'olgasother' }, `Bearer ${confab.adminToken}`);
  assert.equal(elsewhere.status, 201);
  const post = { thread: { identifier: 'x' }, message: 'posted by the host page' };
  assert.equal((await call('/api/v1/forums/olgasother/posts', post, bearer)).status, 403, 'no other forum');
  assert.deepEqual(page.problems.filter((p) => !/status of 4\d\d/.test(p)), []);
});

function remoteAuth(secret, user, at = Math.floor(Date.now() / 1000)) {
  const message = Buffer.from(JSON.stringify(user)).toString('base64');
  const sig = createHmac('sha1', secret).update(`${message} ${at}`).digest('hex');
  return `${message} ${sig} ${at}`;
}

test("a site's own users comment through Disqus-style SSO, with the site's log-in window", async () => {
  const keys = await admin('/api/v1/forums/demo/keys');
  const signedIn = remoteAuth(keys.secret_key, { id: 'site-7', username: 'Sam from the site', email: 'sam@host.example' });
  const loggedOut = remoteAuth(keys.secret_key, {});
  // The site's log-in page (same origin as the article): "logs in", stores the payload
  // its server would have rendered, and closes its window.
  hostPage('/login', '', `<p>Site log-in</p><script>localStorage.setItem('sso', ${JSON.stringify(signedIn)}); window.close();</script>`);
  const url = hostPage('/sso', '',
    '<div id="disqus_thread"></div><script>' +
    'var disqus_config = function () {' +
    "  this.page.identifier = 'sso-thread'; this.page.url = location.href;" +
    `  this.page.remote_auth_s3 = localStorage.getItem('sso') || ${JSON.stringify(loggedOut)};` +
    `  this.page.api_key = ${JSON.stringify(keys.public_key)};` +
    `  this.sso = { name: 'HostSite', url: '${hostBase}/login', logout: '${hostBase}/logout', width: 500, height: 400 };` +
    '};</script>' +
    `<script async src="${confab.base}/embed.js?forum=demo"></script>`);
  const page = await watchedPage(browser);
  await page.goto(url);
  const w = page.locator('#disqus_thread');
  await w.getByRole('button', { name: 'Log in with HostSite' }).waitFor();
  assert.equal(await w.locator('.cf-who').isVisible(), true, 'the logged-out payload is a guest');

  const popup = page.waitForEvent('popup');
  await w.getByRole('button', { name: 'Log in with HostSite' }).click();
  assert.equal(new URL((await popup).url()).pathname, '/login', "the site's log-in page opens in its own window");
  // It closes itself; the widget notices and reads the page's config again.
  await w.getByText('Signed in as Sam from the site').waitFor();
  assert.equal(await w.getByRole('link', { name: 'Log out' }).getAttribute('href'), `${hostBase}/logout`);
  await w.getByLabel('Join the discussion').fill('Signed in by my own site');
  await w.getByRole('button', { name: 'Post comment' }).click();
  const mine = w.locator('.cf-post', { hasText: 'Signed in by my own site' });
  await mine.locator('.cf-author', { hasText: 'Sam from the site' }).waitFor();
  await screenshot(page, 'accounts-sso');
  assert.deepEqual(page.problems, []);

  // A payload the site did not sign is refused, and the reader is told.
  const warnings = [];
  page.on('console', (m) => { if (m.type() === 'warning') warnings.push(m.text()); });
  await page.evaluate((p) => localStorage.setItem('sso', p), remoteAuth('not-the-secret', { id: 'x', username: 'Mallory' }));
  await page.reload();
  await w.locator('.cf-head').waitFor();
  await w.getByLabel('Join the discussion').fill('forged');
  await w.getByLabel('Name').fill('Mallory');
  await w.getByRole('button', { name: 'Post comment' }).click();
  // Readers get words they can act on; the site's developers the reason, in the console.
  await w.getByText('Your sign-in on this site has expired. Reload the page, or log in again.').waitFor();
  assert.ok(warnings.some((m) => /signature does not match/.test(m)), `console: ${warnings}`);
});

test("the account page on Confab's own origin: a locked-down cookie, sessions, export, log-out", async () => {
  const email = 'page.user@example.com';
  const signup = await fetch(`${confab.base}/api/v1/auth/signup`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: 'page_user', email, password: 'page user passphrase' }),
  });
  assert.equal(signup.status, 202);
  const token = lastMailTo(email).match(/token=([A-Za-z0-9_-]+)/)[1];
  const verify = await fetch(`${confab.base}/api/v1/auth/verify`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token }),
  });
  assert.equal(verify.status, 200);

  const page = await watchedPage(browser, { acceptDownloads: true });
  await page.goto(`${confab.base}/account`);
  await page.getByLabel('Username or email').fill('page_user');
  await page.getByLabel('Password').fill('page user passphrase');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByText('Signed in as page_user').waitFor();
  const [cookie] = await page.context().cookies();
  assert.equal(cookie.name, 'confab_session');
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Strict');
  assert.equal(await page.evaluate(() => document.cookie), '', 'scripts cannot read it');
  await screenshot(page, 'account-page');

  const download = page.waitForEvent('download');
  await page.getByRole('link', { name: 'Download everything stored about you' }).click();
  const file = await (await download).path();
  const data = JSON.parse(readFileSync(file, 'utf8'));
  assert.equal(data.account.email, email);

  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('button', { name: 'Log in' }).waitFor();
  assert.deepEqual(await page.context().cookies(), []);
  assert.deepEqual(page.problems, []);
});

test('a reader on another site subscribes to a thread from the widget and stops again', async () => {
  // Issue 19, item 8: the widget subscribes with PUT, across origins (CORS preflight).
  const call = async (path, body, auth) => {
    const r = await fetch(confab.base + path, {
      method: body ? 'POST' : 'GET',
      headers: { 'Content-Type': 'application/json', ...(auth ? { Authorization: auth } : {}) },
      body: body && JSON.stringify(body),
    });
    return { status: r.status, json: await r.json().catch(() => null) };
  };
  const email = 'suki@example.com';
  assert.equal((await call('/api/v1/auth/signup', { username: 'suki_e2e', email, password: 'suki passphrase 1' })).status, 202);
  const verify = lastMailTo(email).match(/token=([A-Za-z0-9_-]+)/)[1];
  assert.equal((await call('/api/v1/auth/verify', { token: verify })).status, 200);
  // A thread with a comment already (a page without one has no thread to follow yet).
  const first = await call('/api/v1/forums/demo/posts',
    { thread: { identifier: 'followed', url: `${hostBase}/followed` }, message: 'First!', author: { name: 'Rita' } });
  assert.equal(first.status, 201);
  const threadId = first.json.post.thread;

  const url = hostPage('/followed', '', '<div id="confab_thread" data-identifier="followed" data-lazy="false"></div>' +
    `<script async src="${confab.base}/embed.js" data-forum="demo"></script>`);
  const page = await watchedPage(browser);
  await page.goto(url);
  await widgetReady(page);
  const w = page.locator('#confab_thread');
  const popup = page.waitForEvent('popup');
  await w.getByRole('button', { name: 'Log in' }).click();
  const win = await popup;
  await win.getByLabel('Username or email').fill('suki_e2e');
  await win.getByLabel('Password', { exact: true }).fill('suki passphrase 1');
  const closed = win.waitForEvent('close');
  await win.getByRole('button', { name: 'Log in', exact: true }).click();
  await closed;
  await w.getByText('Signed in as suki_e2e').waitFor();

  const bearer = `Bearer ${await page.evaluate(() => Object.keys(localStorage).filter((k) => /:reader$/.test(k))
    .map((k) => JSON.parse(localStorage.getItem(k)).t)[0])}`;
  const subscribed = async () => (await call(`/api/v1/threads/${threadId}/subscription`, null, bearer)).json.subscribed;
  const sub = w.getByRole('button', { name: 'Email me new comments' });
  assert.equal(await sub.getAttribute('aria-pressed'), 'false');
  await sub.click();
  const stop = w.getByRole('button', { name: 'Stop emails' });
  await stop.waitFor();
  assert.equal(await stop.getAttribute('aria-pressed'), 'true');
  assert.equal(await subscribed(), true, 'the PUT reached Confab from the host page');
  // Still subscribed after a reload, and stopping works the same way (DELETE).
  await page.reload();
  await w.getByRole('button', { name: 'Stop emails' }).click();
  await w.getByRole('button', { name: 'Email me new comments' }).waitFor();
  assert.equal(await subscribed(), false);
  assert.deepEqual(page.problems, []);
});
