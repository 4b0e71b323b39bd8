// Invalidation and prefetch in headless Firefox: CACHE_INVALIDATION from a message and
// from the page module, the fences that keep a fetch in flight (and every response
// started after DONE) from storing or serving pre-change content, PREFETCH and hover
// prefetch. Same configs and page as tests/e2e/freshness.test.mjs; one Firefox for the
// file, a fresh origin per test.
import { test, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../support/server.mjs';
import { register, get, cached, message, waitFor } from '../support/browser.mjs';
import { launchFirefox } from '../support/firefox.mjs';
import { workerSource, FRESHNESS_CONFIG, PAGE_MODULE_PAGE, JS } from '../support/worker.mjs';
import * as scenario from '../support/scenarios.mjs';
import { RACES, raceScenario } from '../support/scenarios.mjs';

let ff, page, server;

// The race route's maxAge (250 ms, in the shared config) leaves a copy stored just before
// the content changed fresh until after DONE, so the race test fails when the
// invalidation is left out (checked), also in Firefox, which serialises a worker's
// concurrent network fetches of one URL.
const CONFIG = FRESHNESS_CONFIG;

before(async () => { ff = await launchFirefox(); page = ff.page; });
after(async () => { await ff?.close(); });
beforeEach(async () => {
  server = await startServer();
  server.set('/sw.js', { body: workerSource(CONFIG), headers: JS });
  server.set('/page.html', PAGE_MODULE_PAGE);
  // Everything under these prefixes answers with its own path.
  for (const p of ['/small/', '/p/', '/data/', '/live/']) server.prefix(p, { body: (req) => `body of ${req.url}` });
});
afterEach(async () => {
  await page.goto('about:blank');
  await server.close();
});

async function controlled() {
  assert.deepEqual(await register(page, server.origin), { ok: true });
}

async function withPageModule() {
  await page.goto(server.origin + '/page.html');
  await page.waitForFunction(() => !!window.ready);
  const result = await page.evaluate(() => window.ready.then(() => 'registered', (e) => e.message));
  assert.equal(result, 'registered');
  await page.waitForFunction(() => !!navigator.serviceWorker.controller);
}

test('firefox: CACHE_INVALIDATION by URL: removes, replies with the count, the next read goes to the network', async () => {
  await controlled();
  for (const p of ['/p/a', '/p/b?x=1', '/p/c']) { await get(page, p); await waitFor(() => cached(page, p), `${p} stored`); }
  const ts = new Date().toISOString();
  const done = await message(page, { type: 'CACHE_INVALIDATION', urls: ['/p/a', server.origin + '/p/b?x=1', '/p/b', '/p/missing'], timestamp: ts });
  assert.deepEqual(done, { type: 'CACHE_INVALIDATION_DONE', removed: 2 });
  const before = server.count('/p/b?x=1');
  await get(page, '/p/b?x=1');
  assert.equal(server.count('/p/b?x=1'), before + 1, 'the invalidated copy is not served');
  await waitFor(async () => (await cached(page, '/p/a')) === null, '/p/a deleted');
  assert.ok(await cached(page, '/p/c'), 'others untouched');
  await get(page, '/p/c');
  assert.equal(server.count('/p/c'), 1, 'an untouched entry is still a hit');
  const s = await message(page, { type: 'GET_STATS' });
  assert.equal(s.routes.pages.invalidations, 2);
});

test('firefox: CACHE_INVALIDATION by prefix, tag, route and all', () => scenario.invalidationSelectors({ page, server, controlled }));

test('firefox: page module: register, invalidate, prefetch and stats', () => scenario.pageModuleMessages({ page, server, withPageModule }));

test("firefox: page module: register() rejects with the worker's own config error", async () => {
  server.set('/bad-sw.js', {
    body: workerSource(`{ version: 'v1', routes: [{ name: 'pages', match: /^\\//, strategy: 'cacheFirts' }] }`),
    headers: JS,
  });
  server.set('/bad', {
    headers: { 'content-type': 'text/html; charset=utf-8' },
    body: `<!doctype html><meta charset="utf-8"><body><script type="module">
      import { register } from '/swcache/swcache-page.js';
      window.result = register('/bad-sw.js', { timeout: 3000 }).then(() => 'registered', (e) => e.message);
    </script></body>`,
  });
  await page.goto(server.origin + '/bad');
  await page.waitForFunction(() => !!window.result);
  const msg = await page.evaluate(() => window.result);
  assert.match(msg, /^swcache config: route 'pages' \(routes\[0\]\) field 'strategy' must be one of cacheFirst/);
});

test('firefox: a fetch in flight when the invalidation arrives is served but not stored', () => scenario.inFlightNotStored({ page, server, controlled }));

for (const [label, selector, headers] of RACES) {
  test(`firefox: race: no response started after DONE carries old content (${label})`, () => raceScenario({ page, server, controlled }, selector, headers));
}

test('firefox: PREFETCH: at most 4 in flight, fresh and unmatched skipped, DONE after storing', () => scenario.prefetchLimits({ page, server, controlled }));

test('firefox: page module: prefetchOnHover warms a hovered same-origin link once', async () => {
  await withPageModule();
  await page.evaluate(() => { window.hover = swcache.prefetchOnHover('a[data-prefetch]', { delay: 80 }); });
  await page.mouseMove(5, 300);
  await page.hover('#l1');
  await waitFor(() => cached(page, '/p/hover-1'), 'hovered link prefetched');
  assert.equal(server.count('/p/hover-1'), 1);
  // Off and back on, then over an unmarked link: nothing more is fetched.
  await page.mouseMove(5, 300);
  await page.hover('#l1');
  await page.hover('#l4');
  // Keyboard focus prefetches at once (desktop Firefox has no TouchEvent for the touch
  // path); its write landing is the clock for the checks below.
  await page.evaluate(() => document.getElementById('l2').focus());
  await waitFor(() => cached(page, '/p/hover-2'), 'focused link prefetched');
  assert.equal(server.count('/p/hover-1'), 1, 'each URL once');
  assert.equal(server.count('/p/not-marked'), 0, 'links outside the selector ignored');
  await page.evaluate(() => window.hover.stop());
});
