// Shared helpers for the browser tests: a real Confab server on a free loopback port
// with its own data directory, and Debian's chromium driven by playwright-core.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(here, '..');
export const ARTIFACTS = process.env.CONFAB_E2E_ARTIFACTS || join(ROOT, 'target', 'e2e-artifacts');
const BINARY = process.env.CONFAB_E2E_BIN || join(process.env.CARGO_TARGET_DIR || join(ROOT, 'target'), 'debug', 'confab');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

function withoutHarnessVars(env) {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('CONFAB_E2E_')));
}

/**
 * Starts `confab serve` (demo on) and resolves once it prints its listening line. Its
 * public URL (where links in mails point) is where it listens; mails land in
 * `<dir>/mail-outbox`.
 */
export async function startConfab(env = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'confab-e2e-'));
  const port = await freePort();
  const child = spawn(BINARY, ['serve', '--data-dir', dir], {
    // Confab reads every CONFAB_* variable as configuration: pass none of the harness's own.
    env: {
      ...withoutHarnessVars(process.env), CONFAB_LISTEN: `127.0.0.1:${port}`, CONFAB_LOG: 'warn',
      CONFAB_PUBLIC_URL: `http://127.0.0.1:${port}`,
      // Every test reader shares 127.0.0.1: room for the suite, limits still on.
      CONFAB_RATE_LIMIT_POSTS_PER_MINUTE: '1000', CONFAB_RATE_LIMIT_POSTS_BURST: '1000',
      CONFAB_RATE_LIMIT_VOTES_PER_MINUTE: '1000', CONFAB_RATE_LIMIT_VOTES_BURST: '1000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stderr.on('data', (d) => { out += d; });
  await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`confab did not start:\n${out}`)), 20000);
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('Confab is listening on')) { clearTimeout(timer); ok(); }
    });
    child.on('exit', (code) => { clearTimeout(timer); fail(new Error(`confab exited with ${code}:\n${out}`)); });
  });
  const token = (out.match(/\n\s{4}(\S{20,})\n/) || [])[1];
  const base = `http://127.0.0.1:${port}`;
  // The widget tests seed hundreds of comments from one guest in seconds, script
  // payloads among them: just what the spam filter holds back. It has its own tests.
  if (token) {
    const r = await fetch(`${base}/api/v1/forums/demo`, {
      method: 'PATCH',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ policy: { spam_filter: 'off' } }),
    });
    if (r.status !== 200) throw new Error(`could not configure the demo forum: ${r.status} ${await r.text()}`);
  }
  return {
    base, port, adminToken: token, dir,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((ok) => (child.exitCode != null ? ok() : child.on('exit', ok)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function launch() {
  // playwright gives every launch a fresh, empty profile directory of its own.
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync',
    ],
  });
  return browser;
}

/**
 * A page that records what must never happen: uncaught errors, console errors, CSP
 * violations, dialogs (an alert() from a script payload), and requests leaving loopback.
 */
export async function watchedPage(browser, opts = {}) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 }, ...opts });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('dialog', async (d) => { problems.push(`dialog opened: ${d.message()}`); await d.dismiss(); });
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (!['127.0.0.1', 'localhost'].includes(u.hostname) && u.protocol !== 'data:') problems.push(`third-party request: ${r.url()}`);
  });
  page.problems = problems;
  return page;
}

export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Waits until the widget has rendered its first page. */
export async function widgetReady(page) {
  await page.locator('.cf-head').waitFor();
}

/** POSTs a comment through the API, as another reader would. */
export async function apiPost(base, identifier, message, parent, name = 'Rita') {
  const body = { thread: { identifier, url: `${base}/demo/${identifier}` }, message, author: { name } };
  if (parent) body.parent = parent;
  const r = await fetch(`${base}/api/v1/forums/demo/posts`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  if (r.status !== 201) throw new Error(`post failed: ${r.status} ${await r.text()}`);
  return (await r.json()).post;
}

/**
 * Mails in a Confab's outbox (`<dir>/mail-outbox`, written when no SMTP server is
 * configured) addressed to `to`, oldest first, quoted-printable undone (long lines such
 * as links come encoded).
 */
export function mailsTo(confab, to) {
  const dir = join(confab.dir, 'mail-outbox');
  return readdirSync(dir).filter((f) => f.endsWith('.eml')).sort()
    .map((f) => readFileSync(join(dir, f), 'utf8')).filter((m) => m.includes(`\r\nTo: ${to}\r\n`))
    .map((m) => m.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16))));
}
