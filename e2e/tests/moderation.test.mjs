// The moderators' dashboard in a real browser, with readers in the widget beside it:
// log in as a moderator; approve, spam and delete from the queue with the keyboard;
// bulk-approve; time a user out and see the timeout lapse (a controlled clock); ban
// them and see their next post refused; shadow-ban them and compare what they and
// another reader see; change a rule and see it apply to the next post. Screenshots
// of every dashboard page land in target/e2e-artifacts/.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch, mailsTo, screenshot, startConfab, watchedPage, widgetReady } from '../lib.mjs';

const PASSWORD = 'a long enough passphrase';
let confab, browser, clockDir, clockFile;

before(async () => {
  browser = await launch();
  clockDir = mkdtempSync(join(tmpdir(), 'confab-clock-'));
  clockFile = join(clockDir, 'offset');
  writeFileSync(clockFile, '0');
  confab = await startConfab({
    CLOCK_OFFSET_FILE_FOR_TESTS: clockFile,
    CONFAB_RATE_LIMIT_SIGNUPS_PER_MINUTE: '1000', CONFAB_RATE_LIMIT_SIGNUPS_BURST: '1000',
    CONFAB_RATE_LIMIT_LOGINS_PER_MINUTE: '1000', CONFAB_RATE_LIMIT_LOGINS_BURST: '1000',
  });
});
after(async () => {
  await browser?.close();
  await confab?.stop();
  rmSync(clockDir, { recursive: true, force: true });
});

/** Moves the server's clock forward by `ms` from now on. */
function advance(ms) { writeFileSync(clockFile, String(ms)); }

async function call(method, path, body, auth = `Bearer ${confab.adminToken}`) {
  const headers = auth ? { Authorization: auth } : {};
  if (body) headers['Content-Type'] = 'application/json';
  const r = await fetch(confab.base + path, { method, headers, body: body && JSON.stringify(body) });
  const json = await r.json().catch(() => null);
  return { status: r.status, json };
}

/** A confirmed account with `role` in the demo forum; returns its session token. */
async function account(name, role) {
  const email = `${name}@example.com`;
  assert.equal((await call('POST', '/api/v1/auth/signup', { username: name, email, password: PASSWORD })).status, 202);
  const mail = mailsTo(confab, email).pop();
  const token = mail.replace(/=\r\n/g, '').match(/token=([A-Za-z0-9_-]+)/)[1];
  assert.equal((await call('POST', '/api/v1/auth/verify', { token })).status, 200);
  if (role) assert.equal((await call('PUT', `/api/v1/forums/demo/roles/${name}`, { role })).status, 200);
  return (await call('POST', '/api/v1/auth/login', { login: name, password: PASSWORD })).json.token;
}

async function guestPost(message, name = 'Guest') {
  const r = await call('POST', '/api/v1/forums/demo/posts',
    { thread: { identifier: 'lighthouse' }, message, author: { name } }, null);
  assert.equal(r.status, 201, JSON.stringify(r.json));
  return r.json.post.id;
}

async function stateOf(id) {
  return (await call('GET', `/api/v1/posts/${id}/moderation`)).json.post.state;
}

/** A reader's browser on the demo article, signed in with `token` (or a guest). */
async function reader(token) {
  const page = await watchedPage(browser);
  if (token) {
    // Kept where the log-in window's credential goes: a shortcut past the window.
    await page.addInitScript(([key, t]) => localStorage.setItem(key, JSON.stringify({ t, f: 'demo' })),
      [`confab:${confab.base}:reader`, token]);
  }
  await page.goto(confab.base + '/demo/lighthouse');
  await widgetReady(page);
  return page;
}

/** Posts from the widget; returns the text of the alert, or null once posted. */
async function comment(page, text) {
  const form = page.locator('.cf-form').first();
  await form.locator('textarea[name=message]').fill(text);
  if (await form.locator('input[name=name]').isVisible()) await form.locator('input[name=name]').fill('Rita');
  const answer = page.waitForResponse((r) => r.url().endsWith('/api/v1/forums/demo/posts') && r.request().method() === 'POST');
  await form.locator('button[type=submit]').click();
  const r = await answer;
  if (r.status() === 201) return null;
  // Field errors show under their field, the rest in the form's alert.
  const shown = form.locator('.cf-err:not([hidden])').first();
  await shown.waitFor();
  return shown.innerText();
}

let mod; // the moderator's dashboard page

test('a moderator logs in and works the queue with the keyboard', async () => {
  await account('mod_e2e', 'moderator');
  assert.equal((await call('PATCH', '/api/v1/forums/demo', { policy: { premoderate: true } })).status, 200);
  const ids = [];
  for (const text of ['First held comment', 'Buy cheap watches now', 'Off-topic rant']) ids.push(await guestPost(text));

  mod = await watchedPage(browser, { viewport: { width: 1100, height: 900 } });
  await mod.goto(confab.base + '/dashboard/demo');
  await mod.getByLabel('Username or email').fill('mod_e2e');
  await mod.getByLabel('Password').fill(PASSWORD);
  await mod.getByRole('button', { name: 'Log in' }).click();
  await mod.waitForURL(/\/dashboard\/demo$/);
  await mod.getByRole('heading', { name: 'Pending (3)' }).waitFor();
  await screenshot(mod, 'dashboard-queue');

  // Newest first: the rant, the watches, the first comment. The first is current.
  assert.equal(await mod.locator('.post.current').getAttribute('data-id'), ids[2]);
  await mod.keyboard.press('?');
  assert.equal(await mod.locator('#help').isVisible(), true, 'the shortcuts are explained on screen');
  await screenshot(mod, 'dashboard-keyboard-help');
  await mod.keyboard.press('?');
  await mod.keyboard.press('d'); // delete the rant
  await mod.waitForURL(new RegExp(`#p-${ids[1]}$`));
  await mod.getByRole('heading', { name: 'Pending (2)' }).waitFor();
  assert.equal(await mod.locator('.post.current').getAttribute('data-id'), ids[1], 'back at the next comment');
  await mod.keyboard.press('s'); // the watches are spam
  await mod.getByRole('heading', { name: 'Pending (1)' }).waitFor();
  await mod.keyboard.press('a'); // approve the first
  await mod.getByRole('heading', { name: 'Pending (0)' }).waitFor();
  assert.deepEqual(await Promise.all(ids.map(stateOf)), ['approved', 'spam', 'deleted']);

  // j/k move the selection in the "all" view.
  await mod.goto(confab.base + '/dashboard/demo?state=all');
  const first = await mod.locator('.post.current').getAttribute('data-id');
  await mod.keyboard.press('j');
  assert.notEqual(await mod.locator('.post.current').getAttribute('data-id'), first);
  await mod.keyboard.press('k');
  assert.equal(await mod.locator('.post.current').getAttribute('data-id'), first);
});

test('bulk-approve a selection', async () => {
  const ids = [await guestPost('Bulk one'), await guestPost('Bulk two'), await guestPost('Bulk three')];
  await mod.goto(confab.base + '/dashboard/demo');
  await mod.locator(`#p-${ids[0]} input[type=checkbox]`).check();
  await mod.locator(`#p-${ids[2]} input[type=checkbox]`).check();
  await screenshot(mod, 'dashboard-bulk-selection');
  await mod.locator('#bulk').getByRole('button', { name: 'Approve' }).click();
  await mod.getByRole('heading', { name: 'Pending (1)' }).waitFor();
  assert.deepEqual(await Promise.all(ids.map(stateOf)), ['approved', 'pending', 'approved']);
  await mod.locator(`#p-${ids[1]}`).getByRole('button', { name: 'Approve' }).click();
  await mod.getByRole('heading', { name: 'Pending (0)' }).waitFor();
  assert.equal((await call('PATCH', '/api/v1/forums/demo', { policy: { premoderate: false } })).status, 200);
});

test('a timeout lapses on the clock; a ban refuses the next post', async () => {
  const troll = await account('troll_e2e');
  const page = await reader(troll);
  assert.equal(await comment(page, 'I am here to argue'), null);

  // From the queue to the troll's page, then a one-hour timeout.
  await mod.goto(confab.base + '/dashboard/demo?state=all');
  await mod.locator('.post', { hasText: 'I am here to argue' }).getByRole('link', { name: 'troll_e2e' }).click();
  await mod.getByRole('heading', { name: 'troll_e2e' }).waitFor();
  await mod.locator('select[name=target]').selectOption({ label: 'the account troll_e2e' });
  await mod.locator('select[name=duration]').selectOption({ label: '1 hour' });
  await mod.locator('input[name=reason]').fill('cool down');
  await screenshot(mod, 'dashboard-user');
  await mod.getByRole('button', { name: 'Ban' }).click();
  await mod.waitForURL(/\/users\//);
  assert.match(await comment(page, 'Still arguing'), /cannot post in this forum until/);

  advance(3600 * 1000 + 1000); // an hour later
  await page.reload();
  await widgetReady(page);
  assert.equal(await comment(page, 'Back after the timeout'), null, 'the timeout lapsed');

  // A ban for good, from the same page.
  await mod.reload();
  await mod.locator('select[name=target]').selectOption({ label: 'the account troll_e2e' });
  await mod.getByRole('button', { name: 'Ban' }).click();
  await mod.waitForURL(/\/users\//);
  await page.reload();
  await widgetReady(page);
  assert.equal(await comment(page, 'One more try'), 'you cannot post in this forum');
  await screenshot(page, 'widget-banned');

  // The bans page lists it; lifting it lets them post again.
  await mod.goto(confab.base + '/dashboard/demo/bans');
  await screenshot(mod, 'dashboard-bans');
  await mod.getByRole('button', { name: 'Lift' }).click();
  await mod.getByText('No bans in force.').waitFor();
  await page.close();
});

test('a shadow ban: the author sees their comment, another reader does not', async () => {
  const troll = (await call('POST', '/api/v1/auth/login', { login: 'troll_e2e', password: PASSWORD })).json.token;
  const other = await account('reader_e2e');
  await mod.goto(confab.base + '/dashboard/demo?state=all&q=Back+after');
  await mod.locator('.post').first().getByRole('link', { name: 'troll_e2e' }).click();
  await mod.locator('select[name=target]').selectOption({ label: 'the account troll_e2e' });
  await mod.getByLabel(/Shadow ban/).check();
  await mod.getByRole('button', { name: 'Ban' }).click();
  await mod.waitForURL(/\/users\//);

  const author = await reader(troll);
  assert.equal(await comment(author, 'Nobody will ever read this'), null);
  await author.reload();
  await widgetReady(author);
  const theirs = author.locator('.cf-post', { hasText: 'Nobody will ever read this' });
  await theirs.waitFor();
  assert.equal(await theirs.locator('.cf-pending').count(), 0, 'it looks like any other comment to them');
  await screenshot(author, 'widget-shadow-author');

  const someone = await reader(other);
  assert.equal(await someone.locator('.cf-post', { hasText: 'Nobody will ever read this' }).count(), 0);
  // The count does not give it away either: one more for the author than for others.
  const n = async (p) => parseInt(await p.locator('.cf-count').innerText(), 10);
  assert.equal(await n(author), (await n(someone)) + 1);
  const guest = await reader(null);
  assert.equal(await guest.locator('.cf-post', { hasText: 'Nobody will ever read this' }).count(), 0);
  await screenshot(someone, 'widget-shadow-other-reader');

  await mod.goto(confab.base + '/dashboard/demo?state=shadow');
  await mod.locator('.post', { hasText: 'Nobody will ever read this' }).waitFor();
  await screenshot(mod, 'dashboard-shadow-queue');
  await Promise.all([author.close(), someone.close(), guest.close()]);
});

test('a rule changed in the settings applies to the next post', async () => {
  await account('owner_e2e', 'owner');
  const owner = await watchedPage(browser, { viewport: { width: 390, height: 844 } }); // a phone
  await owner.goto(confab.base + '/dashboard/demo/settings');
  await owner.getByLabel('Username or email').fill('owner_e2e');
  await owner.getByLabel('Password').fill(PASSWORD);
  await owner.getByRole('button', { name: 'Log in' }).click();
  await owner.waitForURL(/\/settings$/);
  await owner.getByLabel(/Words and phrases/).fill('forbidden*\nbuy * now');
  await owner.getByLabel('When one is used').selectOption('reject');
  await screenshot(owner, 'dashboard-settings-phone');
  await owner.getByRole('button', { name: 'Save settings' }).click();
  await owner.waitForURL(/\/settings$/);
  assert.equal(await owner.getByLabel(/Words and phrases/).inputValue(), 'forbidden*\nbuy * now');

  const page = await reader(null);
  assert.match(await comment(page, 'Eve ate the forbiddenfruit'), /does not accept this word/);
  assert.equal(await comment(page, 'A perfectly fine remark'), null);
  await page.close();

  // A reader's flag, then the stats page with its chart.
  const target = await guestPost('Flag me, please');
  const flagger = await reader(null);
  const post = flagger.locator('.cf-post', { hasText: 'Flag me, please' });
  await post.getByRole('button', { name: 'Report' }).click();
  await post.getByRole('combobox', { name: 'Report' }).selectOption('abuse');
  await post.getByText('Reported. Thank you.').waitFor();
  const flagged = await call('GET', '/api/v1/forums/demo/queue?state=flagged');
  assert.equal(flagged.json.posts[0].id, target);
  await mod.goto(confab.base + '/dashboard/demo/stats');
  await mod.locator('svg.chart').waitFor();
  await screenshot(mod, 'dashboard-stats');
  await Promise.all([owner.close(), flagger.close()]);
});

test('a guest whose comment the filter holds after it showed still sees it, waiting', async () => {
  assert.equal((await call('PATCH', '/api/v1/forums/demo', { policy: { premoderate: false, spam_filter: 'after' } })).status, 200);
  const page = await reader(null);
  const text = 'Interesting, more at https://bit.ly/3xYz';
  assert.equal(await comment(page, text), null);
  await page.getByText('Your comment was posted.').waitFor();
  // The screening job holds it for a moderator (a link shortener).
  const queued = async () => (await call('GET', '/api/v1/forums/demo/queue?state=pending')).json.posts;
  let held;
  for (let i = 0; i < 100 && !held; i++) {
    held = (await queued()).find((p) => p.raw_message === text || (p.message || '').includes('bit.ly'));
    if (!held) await new Promise((r) => setTimeout(r, 100)); // polling for the job, bounded
  }
  assert.ok(held, 'the filter held it');

  await page.reload();
  await widgetReady(page);
  const mine = page.locator('.cf-post', { hasText: 'more at' });
  await mine.locator('.cf-pending').waitFor();
  assert.match(await mine.locator('.cf-pending').innerText(), /Awaiting moderation/);
  await screenshot(page, 'widget-guest-held');
  const other = await reader(null);
  assert.equal(await other.locator('.cf-post', { hasText: 'more at' }).count(), 0, 'nobody else sees it');
  await Promise.all([page.close(), other.close()]);
});
