// Freshness control end to end in Chromium: maxEntries, quota relief (CDP), invalidation
// by URL replayed, malformed messages, PREFETCH under Save-Data and hover prefetch's
// intent delay and touch. The other invalidation selectors, the fences (the race test),
// PREFETCH's limits and the page module's messages are in the shared suite
// (tests/suites/freshness.mjs, run in Chromium by tests/chromium/).
import { test, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../support/server.mjs';
import { launch, register, get, cached, message, waitFor } from '../support/browser.mjs';
import { workerSource, FRESHNESS_CONFIG as CONFIG, PAGE_MODULE_PAGE, JS } from '../support/worker.mjs';

let server, chrome, context, page;

before(async () => { server = await startServer(); chrome = await launch(); });
after(async () => { await chrome?.close(); await server?.close(); });
beforeEach(async () => {
  server.setOffline(false);
  server.resetCounts();
  server.set('/sw.js', { body: workerSource(CONFIG), headers: JS });
  server.set('/page.html', PAGE_MODULE_PAGE);
  // Everything under these prefixes answers with its own path.
  for (const p of ['/small/', '/p/', '/data/', '/live/']) server.prefix(p, { body: (req) => `body of ${req.url}` });
  context = await chrome.newContext();
  page = await context.newPage();
});
afterEach(async () => { await context?.close(); });

async function controlled() {
  const r = await register(page, server.origin);
  assert.deepEqual(r, { ok: true });
}

async function withPageModule() {
  await page.goto(server.origin + '/page.html');
  await page.evaluate(() => window.ready);
  await page.waitForFunction(() => !!navigator.serviceWorker.controller);
}

const keysOf = (route) => page.evaluate(async (r) => (await (await caches.open((await caches.keys()).find((n) => n.startsWith(`swcache-${r}-`)) || 'none')).keys()).map((r) => new URL(r.url).pathname + new URL(r.url).search), route);

test('maxEntries: 100 concurrent distinct fetches leave exactly 10 entries, all served', async () => {
  for (let i = 0; i < 100; i++) server.set(`/small/${i}`, { body: `small ${i}` });
  await controlled();
  const results = await page.evaluate(async () => {
    const rs = await Promise.all(Array.from({ length: 100 }, (_, i) => fetch(`/small/${i}`).then(async (r) => [r.status, await r.text()])));
    return rs;
  });
  assert.equal(results.length, 100);
  results.forEach(([status, body], i) => { assert.equal(status, 200); assert.equal(body, `small ${i}`); });
  const stats = await waitFor(async () => {
    const s = await message(page, { type: 'GET_STATS' });
    return s.routes.small.evictions === 90 ? s : null;
  }, '90 evictions');
  assert.equal(stats.routes.small.misses, 100);
  assert.equal((await keysOf('small')).length, 10);
});

test('maxEntries: the least used entries go first (a hit counts as a use)', async () => {
  await controlled();
  const store = async (p) => {
    await get(page, p);
    await waitFor(() => cached(page, p, 'small'), `${p} stored`);
  };
  for (let i = 1; i <= 10; i++) await store(`/small/lru-${i}`);
  // Read the two oldest back from the cache: used twice and most recently.
  const before = server.countPrefix('/small/');
  for (const p of ['/small/lru-1', '/small/lru-2']) assert.equal((await get(page, p)).body, `body of ${p}`);
  assert.equal(server.countPrefix('/small/'), before, 'both were cache hits');
  await store('/small/lru-11');
  await store('/small/lru-12');
  await waitFor(async () => (await keysOf('small')).length === 10, 'trimmed to 10');
  const keys = await keysOf('small');
  assert.ok(keys.includes('/small/lru-1') && keys.includes('/small/lru-2'), `recently read entries kept: ${keys}`);
  assert.ok(!keys.includes('/small/lru-3') && !keys.includes('/small/lru-4'), `least recently used went: ${keys}`);
});

test('maxEntries: without reads, the oldest-stored entries go first', async () => {
  await controlled();
  for (let i = 1; i <= 12; i++) {
    await get(page, `/small/seq-${i}`);
    await waitFor(() => cached(page, `/small/seq-${i}`, 'small'), `seq-${i} stored`);
  }
  await waitFor(async () => (await keysOf('small')).length === 10, 'trimmed to 10');
  const keys = await keysOf('small');
  assert.deepEqual(keys.sort(), Array.from({ length: 10 }, (_, i) => `/small/seq-${i + 3}`).sort());
});

test('maxEntries: a full cache takes new entries one by one, whatever their Vary', async () => {
  // After its first listing the engine picks victims from the keys it knows and deletes
  // them by URL: every variant, so a response that varies on a header the stored
  // request carried goes too.
  for (let i = 1; i <= 12; i++) server.set(`/small/v-${i}`, { body: `v ${i}`, headers: { vary: 'x-variant' } });
  await controlled();
  for (let i = 1; i <= 12; i++) {
    const body = await page.evaluate((u) => fetch(u, { headers: { 'x-variant': 'a' } }).then((r) => r.text()), `/small/v-${i}`);
    assert.equal(body, `v ${i}`);
    await waitFor(() => page.evaluate(async (u) => {
      const name = (await caches.keys()).find((n) => n.startsWith('swcache-small-'));
      return !!name && !!(await (await caches.open(name)).match(u, { ignoreVary: true }));
    }, `/small/v-${i}`), `v-${i} stored`);
    // Each write past 10 evicts the oldest at once (a deletion that missed would leave 11
    // entries until the next write's listing).
    if (i > 10) await waitFor(async () => (await keysOf('small')).length === 10, `trimmed to 10 after v-${i}`, 3000);
  }
  const keys = await keysOf('small');
  assert.deepEqual(keys.sort(), Array.from({ length: 10 }, (_, i) => `/small/v-${i + 3}`).sort());
  const stats = await message(page, { type: 'GET_STATS' });
  assert.equal(stats.routes.small.evictions, 2);
});

test('quota error on put: the route\'s oldest entries go and the write is retried once', async () => {
  const chunk = 'x'.repeat(200 * 1024);
  for (let i = 0; i < 8; i++) server.set(`/big/${i}`, { body: `${i}:${chunk}` });
  await controlled();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Storage.overrideQuotaForOrigin', { origin: server.origin, quotaSize: 1024 * 1024 });
  for (let i = 0; i < 8; i++) {
    const r = await get(page, `/big/${i}`);
    assert.equal(r.status, 200, `response ${i} served`);
    assert.ok(r.body.startsWith(`${i}:`));
    await waitFor(async () => (await cached(page, `/big/${i}`, 'big')) !== null, `big/${i} stored`);
  }
  const s = await message(page, { type: 'GET_STATS' });
  assert.ok(s.routes.big.evictions >= 1, `evictions: ${s.routes.big.evictions}`);
  const keys = await keysOf('big');
  assert.ok(keys.includes('/big/7'), 'the newest entry was stored after relief');
  assert.ok(!keys.includes('/big/0'), 'the oldest went');
});

test('CACHE_INVALIDATION by URL: removes, replies with the count, is idempotent', async () => {
  await controlled();
  for (const p of ['/p/a', '/p/b?x=1', '/p/c']) { await get(page, p); await waitFor(() => cached(page, p), `${p} stored`); }
  const ts = new Date().toISOString();
  const done = await message(page, { type: 'CACHE_INVALIDATION', urls: ['/p/a', server.origin + '/p/b?x=1', '/p/b', '/p/missing'], timestamp: ts });
  assert.deepEqual(done, { type: 'CACHE_INVALIDATION_DONE', removed: 2 });
  // DONE means in effect: the next read goes to the network, even while the deletions
  // may still be finishing in the background.
  const before = server.count('/p/b?x=1');
  await get(page, '/p/b?x=1');
  assert.equal(server.count('/p/b?x=1'), before + 1, 'the invalidated copy is not served');
  await waitFor(async () => (await cached(page, '/p/a')) === null, '/p/a deleted');
  assert.ok(await cached(page, '/p/c'), 'others untouched');
  // Refetched after the fence: a replay of the same message removes nothing.
  await get(page, '/p/a');
  await waitFor(() => cached(page, '/p/a'), '/p/a stored again');
  const replay = await message(page, { type: 'CACHE_INVALIDATION', urls: ['/p/a'], timestamp: ts });
  assert.equal(replay.removed, 0);
  assert.ok(await cached(page, '/p/a'));
  const s = await message(page, { type: 'GET_STATS' });
  assert.equal(s.routes.pages.invalidations, 2);
  assert.equal(s.invalidations, 2);
});

test('malformed messages get an ERROR reply within 2 s and change nothing', async () => {
  await controlled();
  await get(page, '/p/keep');
  await waitFor(() => cached(page, '/p/keep'), 'stored');
  const bad = [
    'just a string',
    { type: 'NUKE' },
    { type: 'CACHE_INVALIDATION' },
    { type: 'CACHE_INVALIDATION', urls: '/p/keep' },
    { type: 'CACHE_INVALIDATION', urls: [42] },
    { type: 'CACHE_INVALIDATION', urls: ['https://evil.example.com/p/keep'] },
    { type: 'CACHE_INVALIDATION', urls: ['/p/keep'], timestamp: 'not a time' },
    { type: 'CACHE_INVALIDATION', urls: Array.from({ length: 10001 }, (_, i) => `/p/${i}`) },
    { type: 'CACHE_INVALIDATION', urls: ['/p/keep'], routes: ['nope'] },
    { type: 'PREFETCH', urls: ['https://evil.example.com/'] },
  ];
  for (const m of bad) {
    // Answered with an error (the reply, not a timeout; 5 s of room on a loaded machine).
    const r = await message(page, m, 5000);
    assert.equal(r.type, 'ERROR', JSON.stringify(m).slice(0, 80));
    assert.match(r.error, /swcache: malformed/);
  }
  assert.ok(await cached(page, '/p/keep'), 'nothing changed');
  assert.equal((await message(page, { type: 'GET_STATS' })).invalidations, 0);
});

test('PREFETCH under Save-Data fetches nothing', async () => {
  await controlled();
  const r = await message(page, { type: 'PREFETCH', urls: ['/p/sd-1', '/p/sd-2'], saveData: true });
  assert.deepEqual(r, { type: 'PREFETCH_DONE', fetched: 0, skipped: 2, failed: 0 });
  assert.equal(server.countPrefix('/p/sd-'), 0);
});

test('page module: prefetchOnHover warms each same-origin link once, after an intent delay, and no download link', async () => {
  await withPageModule();
  await page.evaluate(() => { window.hover = swcache.prefetchOnHover('a[data-prefetch]', { delay: 80 }); });
  await page.mouse.move(0, 300);
  await page.hover('#l1');
  await waitFor(() => cached(page, '/p/hover-1'), 'hovered link prefetched');
  assert.equal(server.count('/p/hover-1'), 1);
  // Moving off and back does not prefetch again.
  await page.mouse.move(0, 300);
  await page.hover('#l1');
  await page.hover('#l4');
  await page.hover('#l3');
  await page.mouse.move(0, 300);
  // Crossing a link faster than the delay does nothing: hover #l2 and leave at once.
  await page.evaluate(() => {
    const l2 = document.getElementById('l2');
    l2.dispatchEvent(new PointerEvent('pointerover', { bubbles: true }));
    l2.dispatchEvent(new PointerEvent('pointerout', { bubbles: true }));
  });
  // A touch prefetches at once; not a download link's (a file the visitor asks for by a
  // click), touched just before.
  await page.evaluate(() => {
    for (const id of ['l5', 'l2']) document.getElementById(id).dispatchEvent(new TouchEvent('touchstart', { bubbles: true }));
  });
  await waitFor(() => cached(page, '/p/hover-2'), 'touched link prefetched');
  assert.equal(server.count('/p/hover-download'), 0, 'a download link is not prefetched');
  assert.equal(server.count('/p/hover-1'), 1, 'each URL once');
  assert.equal(server.count('/p/hover-2'), 1);
  assert.equal(server.count('/p/not-marked'), 0, 'links outside the selector ignored');
  await page.evaluate(() => window.hover.stop());
});
