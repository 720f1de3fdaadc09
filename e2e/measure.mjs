// Measures the widget's first view in headless Chromium against a local Confab:
// time from the embed script's request starting to the first comments on screen
// (the widget's `confab:ready` mark, set right after it renders), and the bytes
// transferred for that view. Reports; asserts nothing. Run: scripts/measure-embed
import { createServer } from 'node:http';
import { launch, startConfab } from './lib.mjs';

const RUNS = Number(process.env.RUNS || 15);
const confab = await startConfab();
// A 200-comment thread: 150 roots, 50 replies under the first ten.
const post = async (message, parent) => {
  const body = { thread: { identifier: 'big', url: 'http://localhost/big' }, message, author: { name: 'Reader' } };
  if (parent) body.parent = parent;
  const r = await fetch(`${confab.base}/api/v1/forums/demo/posts`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  return (await r.json()).post;
};
const roots = [];
for (let i = 0; i < 150; i++) roots.push(await post(`Comment ${i}: ${'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(1 + (i % 4))}`));
for (let i = 0; i < 50; i++) await post(`A reply with **Markdown** and a link https://example.com/${i}`, roots[i % 10].id);

const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Big</title></head>
<body><h1>An article</h1><div id="confab_thread" data-identifier="big" data-lazy="false"></div>
<script async src="${confab.base}/embed.js" data-forum="demo"></script></body></html>`;
const host = createServer((_, res) => { res.writeHead(200, { 'Content-Type': 'text/html' }); res.end(html); });
await new Promise((ok) => host.listen(0, '127.0.0.1', ok));
const url = `http://localhost:${host.address().port}/`;

const browser = await launch();
async function once(context) {
  const page = await context.newPage();
  const sizes = [];
  page.on('requestfinished', async (r) => {
    if (r.url().startsWith(confab.base)) {
      const s = await r.sizes();
      sizes.push({ url: r.url(), bytes: s.responseBodySize + s.responseHeadersSize });
    }
  });
  await page.goto(url);
  await page.locator('.cf-tree > .cf-post').first().waitFor();
  const { ms, parts } = await page.evaluate(() => {
    const res = performance.getEntriesByType('resource');
    const script = res.find((e) => e.name.includes('/embed.js'));
    const api = res.find((e) => e.name.includes('/thread-page'));
    const start = performance.getEntriesByName('confab:start')[0].startTime;
    const ready = performance.getEntriesByName('confab:ready')[0].startTime;
    const t0 = script.startTime;
    return {
      ms: ready - t0,
      parts: { script: script.responseEnd - t0, run: start - t0, apiStart: api.startTime - t0, apiEnd: api.responseEnd - t0,
        fetched: performance.getEntriesByName('confab:fetched')[0].startTime - t0, ready: ready - t0 },
    };
  });
  if (process.env.VERBOSE) console.log(JSON.stringify(parts)); // where the time went, ms from the script request
  await page.waitForTimeout(50);
  await page.close();
  return { ms, bytes: sizes.reduce((a, s) => a + s.bytes, 0), requests: sizes.length };
}
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const cold = [], warm = [];
for (let i = 0; i < RUNS; i++) {
  const ctx = await browser.newContext(); // empty cache: a first visit
  cold.push(await once(ctx));
  warm.push(await once(ctx)); // a second page view: the script comes from the cache
  await ctx.close();
}
const row = (name, xs) => `| ${name} | ${median(xs.map((x) => x.ms)).toFixed(1)} | ${Math.max(...xs.map((x) => x.ms)).toFixed(1)} | ` +
  `${(median(xs.map((x) => x.bytes)) / 1024).toFixed(1)} | ${median(xs.map((x) => x.requests))} |`;
console.log(`\nFirst view of a 200-comment thread (25 roots shown, 3 replies each), ${RUNS} runs, headless Chromium, loopback:\n`);
console.log('| view | median ms to first comments | max ms | KiB transferred | resources from Confab (incl. cached) |');
console.log('|---|---|---|---|---|');
console.log(row('first visit (empty cache)', cold));
console.log(row('next page view (script cached)', warm));
await browser.close();
host.close();
await confab.stop();
