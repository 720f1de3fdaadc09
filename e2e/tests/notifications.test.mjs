// Mail from the widget's point of view: a guest asks to hear about replies, a signed-in
// reader subscribes to the thread and stops again, both get their mail (Confab's
// outbox directory), and the mail's one-click unsubscribe link works in the browser.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, mailsTo, screenshot, startConfab, watchedPage, widgetReady } from '../lib.mjs';

let confab, browser;

before(async () => {
  browser = await launch();
  confab = await startConfab({ CONFAB_RATE_LIMIT_SIGNUPS_BURST: '100', CONFAB_RATE_LIMIT_LOGINS_BURST: '100' });
});
after(async () => {
  await browser?.close();
  await confab?.stop();
});

async function api(method, path, body, token) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const r = await fetch(confab.base + path, { method, headers, body: body && JSON.stringify(body) });
  return { status: r.status, json: await r.json().catch(() => null) };
}

/** Waits until `to` has at least `n` mails; returns them. */
async function waitForMails(to, n) {
  for (let i = 0; i < 100; i++) {
    const got = mailsTo(confab, to);
    if (got.length >= n) return got;
    await new Promise((ok) => setTimeout(ok, 100));
  }
  assert.fail(`${to} has ${mailsTo(confab, to).length} of ${n} mails`);
}

/** A confirmed account, logged in; its session token. */
async function account(name) {
  const email = `${name}@example.com`;
  assert.equal((await api('POST', '/api/v1/auth/signup', { username: name, email, password: 'a long enough passphrase' })).status, 202);
  const token = (await waitForMails(email, 1))[0].match(/token=([A-Za-z0-9_-]+)/)[1];
  assert.equal((await api('POST', '/api/v1/auth/verify', { token })).status, 200);
  const login = await api('POST', '/api/v1/auth/login', { login: name, password: 'a long enough passphrase' });
  return login.json.token;
}

test('a guest hears about replies, a member subscribes and stops, and unsubscribe links work', async () => {
  const article = `${confab.base}/`;
  // A guest asks for replies by mail.
  const guest = await watchedPage(browser);
  await guest.goto(article);
  await widgetReady(guest);
  const gw = guest.locator('#confab_thread');
  await gw.getByLabel('Join the discussion').fill('Does anyone else bake with rye?');
  await gw.getByLabel('Name').fill('Gus');
  await gw.getByLabel('Email (optional, never shown)').fill('gus@example.com');
  const notify = gw.getByLabel('Email me replies');
  assert.equal(await notify.isChecked(), false, 'guests opt in');
  await notify.check();
  await gw.getByRole('button', { name: 'Post comment' }).click();
  const gusPost = gw.locator('.cf-post', { hasText: 'Does anyone else bake with rye?' });
  await gusPost.locator('.cf-author', { hasText: 'Gus' }).waitFor();
  await screenshot(guest, 'notify-guest-asked');

  // A member subscribes to the thread from the widget.
  const token = await account('mia');
  const member = await watchedPage(browser);
  await member.goto(article);
  // Kept where the log-in window's credential goes: a shortcut past the window.
  await member.evaluate(([k, t]) => localStorage.setItem(k, JSON.stringify({ t, f: 'demo' })), [`confab:${confab.base}:reader`, token]);
  await member.reload();
  const mw = member.locator('#confab_thread');
  await mw.getByText('Signed in as mia').waitFor();
  assert.equal(await mw.getByLabel('Email me replies').isChecked(), true, 'members hear about replies by default');
  const sub = mw.getByRole('button', { name: 'Email me new comments' });
  assert.equal(await sub.getAttribute('aria-pressed'), 'false');
  await sub.click();
  const stop = mw.getByRole('button', { name: 'Stop emails' });
  await stop.waitFor();
  assert.equal(await stop.getAttribute('aria-pressed'), 'true');
  await screenshot(member, 'notify-member-subscribed');

  // Someone replies to Gus: Gus gets the reply, Mia the new comment.
  const other = await watchedPage(browser);
  await other.goto(article);
  await widgetReady(other);
  const ow = other.locator('#confab_thread');
  await ow.locator('.cf-post', { hasText: 'Does anyone else bake with rye?' }).getByRole('button', { name: 'Reply' }).click();
  await ow.getByLabel('Reply to Gus').fill('Every Sunday! Rye and caraway.');
  await ow.getByLabel('Name').last().fill('Rhea');
  await ow.getByRole('button', { name: 'Post reply' }).click();
  await ow.getByText('Every Sunday! Rye and caraway.').waitFor();

  const [toGus] = await waitForMails('gus@example.com', 1);
  assert.match(toGus, /Subject: Rhea replied to your comment/);
  assert.match(toGus, /Every Sunday! Rye and caraway\./);
  assert.match(toGus, /List-Unsubscribe-Post: List-Unsubscribe=One-Click/);
  const mia = await waitForMails('mia@example.com', 2);
  assert.ok(mia.some((m) => /Subject: New comment by Rhea/.test(m)), mia.join('\n----\n'));

  // Gus follows the link at the bottom of the mail.
  const link = toGus.match(/Unsubscribe from this discussion: (http:\/\/\S+)/)[1];
  const unsub = await watchedPage(browser);
  await unsub.goto(link);
  await unsub.getByRole('button', { name: 'Unsubscribe' }).click();
  await unsub.getByRole('heading', { name: 'Unsubscribed' }).waitFor();
  await screenshot(unsub, 'notify-unsubscribed');

  // Mia stops from the widget.
  await stop.click();
  await mw.getByRole('button', { name: 'Email me new comments' }).waitFor();
  const state = await api('GET', `/api/v1/threads/${(await api('GET', '/api/v1/forums/demo/threads?identifier=welcome')).json.id}/subscription`, null, token);
  assert.equal(state.json.subscribed, false);

  for (const p of [guest, member, other, unsub]) assert.deepEqual(p.problems, []);
});
