// Test scenarios of the shared browser suites (tests/suites/, run by tests/chromium/,
// tests/firefox/ and tests/webkit/): the same steps and assertions on any page driver.
// Each takes the harness's context (tests/support/harness.mjs) or the same fields:
// {page, server, controlled}.
import assert from 'node:assert/strict';
import { register, get, cached, message, waitFor } from './browser.mjs';
import { workerSource, seedConfig, JS } from './worker.mjs';

/** The invalidation race selectors: [label, message fields, response headers]. */
export const RACES = [
  ['urls', { urls: ['/race/item?id=1'] }, {}],
  ['tags', { tags: ['race-tag'] }, { 'cache-tag': 'race-tag' }],
  ['prefixes', { prefixes: ['/race/'] }, {}],
];

/**
 * Three loops of fetches run through the worker while the content changes and an
 * invalidation is sent: no response whose request started after the DONE reply may carry
 * the old content. Needs the shared freshness config's race route (maxAge 250 ms: a copy
 * stored just before the change is still fresh when DONE arrives, so without the
 * invalidation this fails). `controlled()` registers the worker.
 */
export async function raceScenario({ page, server, controlled }, selector, headers) {
  let version = 1;
  const url = '/race/item?id=1';
  server.set(url, { body: () => `content v${version}`, delay: 15, headers });
  server.set('/race-switch', { handler: (_req, res) => { version = 2; res.writeHead(200); res.end('switched'); } });
  await controlled();
  await get(page, url);
  await waitFor(() => cached(page, url), 'stored');
  await page.evaluate((u) => {
    window.race = { stop: false, results: [] };
    const loop = async () => {
      while (!window.race.stop) {
        const t0 = Date.now();
        const body = await fetch(u).then((r) => r.text());
        window.race.results.push({ t0, body });
      }
    };
    window.race.loops = Promise.all([loop(), loop(), loop()]);
  }, url);
  await waitFor(() => page.evaluate(() => window.race.results.length > 20), 'loop running');
  // The content changes and the invalidation is sent back to back, from the page: a
  // copy stored just before the change is still fresh (maxAge 250 ms) when DONE
  // arrives, so without the invalidation this test fails.
  const doneAt = await page.evaluate(async (sel) => {
    await fetch('/race-switch');
    const reg = await navigator.serviceWorker.ready;
    const ch = new MessageChannel();
    const reply = new Promise((r) => { ch.port1.onmessage = (e) => r(e.data); });
    reg.active.postMessage({ type: 'CACHE_INVALIDATION', timestamp: new Date().toISOString(), ...sel }, [ch.port2]);
    const d = await reply;
    if (d.type !== 'CACHE_INVALIDATION_DONE') throw new Error(JSON.stringify(d));
    return Date.now();
  }, selector);
  await waitFor(() => page.evaluate((t) => window.race.results.filter((r) => r.t0 > t).length >= 30, doneAt), 'requests after DONE');
  const after = await page.evaluate(async (t) => {
    window.race.stop = true;
    await window.race.loops;
    return window.race.results.filter((r) => r.t0 > t);
  }, doneAt);
  const old = after.filter((r) => r.body !== 'content v2');
  assert.equal(old.length, 0, `${old.length} of ${after.length} responses after DONE were old`);
  assert.ok(server.count(url) > 3, `the loops kept refetching (maxAge 250 ms): ${server.count(url)}`);
}

// ----- the engine and invalidation, in both browsers -----------------------------------
// Each takes `{page, server, controlled}`: the suite's page, its test server (content
// set per test by the suite's beforeEach: the reference site's precache and /sw.js, or
// the freshness config) and how it registers the worker.

const storedWaiter = (page) => (url, cacheName) => waitFor(() => cached(page, url, cacheName), `${url} stored`);

/** precache: install fails (detected, not a hang) when a URL fails */
export async function precacheInstallFails({ page, server }) {
  server.set('/robots.txt', { body: 'gone', status: 404 });
  const r = await register(page, server.origin);
  assert.equal(r.ok, false);
  assert.equal(r.stage, 'install');
}

/** cacheFirst: miss then hit; the server sees one request and the copy is stamped */
export async function cacheFirstMissThenHit({ page, server, controlled }) {
  const waitStored = storedWaiter(page);
  server.set('/promo/summer', { body: 'summer v1' });
  await controlled();
  const t0 = Date.now();
  const first = await get(page, '/promo/summer');
  assert.equal(first.body, 'summer v1');
  const stored = await waitStored('/promo/summer', 'promoPages');
  assert.match(stored.stamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const stampMs = Date.parse(stored.stamp);
  assert.ok(stampMs >= t0 - 1000 && stampMs <= Date.now(), `stamp ${stored.stamp} is the fetch start time`);
  server.set('/promo/summer', { body: 'summer v2' });
  const second = await get(page, '/promo/summer');
  assert.equal(second.body, 'summer v1', 'served from the cache');
  assert.equal(second.stamp, stored.stamp, 'hit carries sw-cache-time');
  assert.equal(server.count('/promo/summer'), 1, 'no second network request');
  const s = await message(page, { type: 'GET_STATS' });
  assert.equal(s.engine, 'ok');
  assert.equal(s.routes.promoPages.hits, 1);
  assert.equal(s.routes.promoPages.misses, 1);
}

/** cacheFirst: a copy older than maxAge is refetched and replaced */
export async function cacheFirstExpired({ page, server, controlled }) {
  const waitStored = storedWaiter(page);
  // maxAge leaves room for the store and a WebDriver round trip on a loaded machine.
  server.set('/sw.js', { body: workerSource(seedConfig({ pageMaxAge: 3000 })), headers: JS });
  server.set('/promo/flash', { body: 'flash v1' });
  await controlled();
  await get(page, '/promo/flash');
  const first = await waitStored('/promo/flash');
  server.set('/promo/flash', { body: 'flash v2' });
  assert.equal((await get(page, '/promo/flash')).body, 'flash v1', 'still fresh');
  assert.equal(server.count('/promo/flash'), 1);
  await waitFor(() => Date.now() - Date.parse(first.stamp) > 3100, 'maxAge to pass', 10000);
  assert.equal((await get(page, '/promo/flash')).body, 'flash v2', 'stale copy refetched');
  await waitFor(async () => (await cached(page, '/promo/flash'))?.body === 'flash v2', 'new copy stored');
  assert.equal((await get(page, '/promo/flash')).body, 'flash v2', 'the new copy is served');
  assert.equal(server.count('/promo/flash'), 2);
}

/** cacheFirst: offline serves the stale copy; with nothing cached a clear 503 */
export async function cacheFirstOffline({ page, server, controlled }) {
  const waitStored = storedWaiter(page);
  server.set('/sw.js', { body: workerSource(seedConfig({ pageMaxAge: 0 })), headers: JS });
  server.set('/promo/offline', { body: 'offline copy' });
  await controlled();
  await get(page, '/promo/offline');
  await waitStored('/promo/offline');
  server.setOffline(true);
  const r = await get(page, '/promo/offline');
  assert.equal(r.status, 200);
  assert.equal(r.body, 'offline copy');
  const none = await get(page, '/promo/never-seen');
  assert.equal(none.status, 503);
  assert.match(none.body, /network request failed and no cached copy/);
  server.setOffline(false);
  const stats = await message(page, { type: 'GET_STATS' });
  assert.equal(stats.routes.promoPages.staleServed, 1);
  assert.equal(stats.routes.promoPages.networkErrors, 2);
}

/** networkFirst: a hanging server times out to the cached copy; the late answer is stored */
export async function networkFirstHanging({ page, server, controlled }) {
  const waitStored = storedWaiter(page);
  server.set('/sw.js', { body: workerSource(seedConfig({ timeout: 400 })), headers: JS });
  const url = '/api/v1/promo/featured-content?id=slow';
  server.set(url, { body: 'data before' });
  await controlled();
  await get(page, url);
  await waitStored(url);
  server.mode(url, 'hang');
  const r = await get(page, url);
  assert.equal(r.body, 'data before', 'timed out to the cached copy');
  assert.ok(r.ms >= 350, `waited for the networkTimeout first (${Math.round(r.ms)} ms)`);
  assert.ok(r.ms < 2500, `did not wait for the hanging server (${Math.round(r.ms)} ms)`);
  assert.ok(server.inFlight >= 1, 'the request is still hanging at the server');
  server.release('data after');
  await waitFor(async () => (await cached(page, url))?.body === 'data after', 'late response stored');
}

/** networkFirst: after the timeout with nothing cached it keeps waiting for the network */
export async function networkFirstKeepsWaiting({ page, server, controlled }) {
  server.set('/sw.js', { body: workerSource(seedConfig({ timeout: 200 })), headers: JS });
  const url = '/api/v1/promo/featured-content?id=new';
  server.set(url, { body: 'late data', delay: 700 });
  await controlled();
  const r = await get(page, url);
  assert.equal(r.status, 200);
  assert.equal(r.body, 'late data');
}

/** CACHE_INVALIDATION by prefix, tag, route and all */
export async function invalidationSelectors({ page, server, controlled }) {
  server.set('/p/tagged-1', { body: 't1', headers: { 'cache-tag': 'promo-7, hero' } });
  server.set('/p/tagged-2', { body: 't2', headers: { 'cache-tag': 'promo-70' } });
  await controlled();
  const paths = ['/p/x/1', '/p/x/2', '/p/y/1', '/p/tagged-1', '/p/tagged-2', '/data/1', '/small/1'];
  for (const p of paths) { await get(page, p); await waitFor(() => cached(page, p), `${p} stored`); }
  const send = (m) => message(page, { type: 'CACHE_INVALIDATION', timestamp: new Date().toISOString(), ...m });
  assert.equal((await send({ prefixes: ['/p/x/'] })).removed, 2);
  assert.equal((await send({ tags: ['promo-7'] })).removed, 1, 'whole-token tag match');
  assert.ok(await cached(page, '/p/tagged-2'));
  assert.equal((await send({ routes: ['data'] })).removed, 1);
  assert.ok(await cached(page, '/p/y/1'));
  assert.equal((await send({ all: true })).removed, 3, 'entries the earlier messages removed are not counted again');
  // (`swcache-state` is the engine's own: the notices it keeps for pages, no content.)
  await waitFor(async () => (await page.evaluate(async () => {
    const out = [];
    for (const n of await caches.keys()) if (n !== 'swcache-state') out.push(...(await (await caches.open(n)).keys()));
    return out.length;
  })) === 0, 'every entry deleted');
}

/** page module: register, invalidate, prefetch and stats */
export async function pageModuleMessages({ page, server, withPageModule }) {
  await withPageModule();
  const pf = await page.evaluate(() => swcache.prefetch(['/p/mod-1', 'p/mod-2']));
  assert.deepEqual(pf, { type: 'PREFETCH_DONE', fetched: 2, skipped: 0, failed: 0 });
  assert.ok(await cached(page, '/p/mod-2'), 'relative URL resolved against the page');
  const inv = await page.evaluate(() => swcache.invalidate({ urls: ['/p/mod-1', 'p/mod-2'] }));
  assert.deepEqual(inv, { type: 'CACHE_INVALIDATION_DONE', removed: 2 });
  await get(page, '/p/mod-1');
  assert.equal(server.count('/p/mod-1'), 2, 'refetched after the invalidation');
  const s = await page.evaluate(() => swcache.stats());
  assert.equal(s.type, 'STATS');
  assert.equal(s.invalidations, 2);
  const err = await page.evaluate(() => swcache.invalidate({ urls: ['https://evil.example.com/'] }).then(() => 'resolved', (e) => e.message));
  assert.match(err, /cross-origin/);
}

/** a fetch in flight when the invalidation arrives is served but not stored */
export async function inFlightNotStored({ page, server, controlled }) {
  await controlled();
  server.set('/p/slow', { body: 'old', mode: 'hang' });
  await page.evaluate(() => { window.slow = fetch('/p/slow').then((r) => r.text()); });
  await waitFor(() => server.count('/p/slow') === 1, 'request reached the server');
  const done = await message(page, { type: 'CACHE_INVALIDATION', urls: ['/p/slow'], timestamp: new Date().toISOString() });
  assert.equal(done.type, 'CACHE_INVALIDATION_DONE');
  server.release('old content');
  assert.equal(await page.evaluate(() => window.slow), 'old content', 'served');
  // Give a wrongly unfenced write every chance to land (a later write that did land),
  // then check: a fresh fetch must reach the server.
  await get(page, '/p/slow-marker');
  await waitFor(() => cached(page, '/p/slow-marker'), 'a later write landed');
  server.set('/p/slow', { body: 'new content' });
  assert.equal(await cached(page, '/p/slow'), null, 'never stored');
  assert.equal((await get(page, '/p/slow')).body, 'new content');
}

/** PREFETCH: at most 4 in flight, fresh and unmatched skipped, DONE after storing */
export async function prefetchLimits({ page, server, controlled }) {
  await controlled();
  await get(page, '/p/pf-fresh');
  await waitFor(() => cached(page, '/p/pf-fresh'), 'fresh stored');
  // Each answer takes 400 ms: the worker's 4 fetches overlap even on a loaded machine.
  for (let i = 0; i < 12; i++) server.set(`/p/pf-${i}`, { body: `pf ${i}`, delay: 400 });
  server.watchPeak('/p/pf-');
  const urls = [...Array.from({ length: 12 }, (_, i) => `/p/pf-${i}`), '/p/pf-fresh', '/unrouted/x', '/live/x'];
  const r = await message(page, { type: 'PREFETCH', urls }, 10000);
  assert.deepEqual(r, { type: 'PREFETCH_DONE', fetched: 12, skipped: 3, failed: 0 });
  assert.equal(server.peak('/p/pf-'), 4, 'exactly 4 in flight at the peak');
  for (let i = 0; i < 12; i++) assert.ok(await cached(page, `/p/pf-${i}`), `pf-${i} stored before DONE`);
  assert.equal(server.count('/unrouted/x'), 0);
  assert.equal(server.count('/p/pf-fresh'), 1, 'fresh entry not refetched');
  // A prefetched page is then a cache hit.
  assert.equal((await get(page, '/p/pf-3')).body, 'pf 3');
  assert.equal(server.count('/p/pf-3'), 1);
}

/** staleWhileRevalidate, networkOnly (its networkTimeout a 504) and cacheOnly */
export async function otherStrategies({ page, server, controlled }) {
  server.set('/sw.js', {
    body: workerSource(`{ version: 'v1', routes: [
      { name: 'swr', match: '/swr/', strategy: 'staleWhileRevalidate', maxAge: 0 },
      { name: 'net', match: '/net/', strategy: 'networkOnly', networkTimeout: 300 },
      { name: 'only', match: '/only/', strategy: 'cacheOnly' },
    ] }`),
    headers: JS,
  });
  server.set('/swr/a', { body: 'swr v1' });
  server.set('/net/a', { body: 'net' });
  server.set('/net/slow', { body: 'late', mode: 'hang' });
  await controlled();
  assert.equal((await get(page, '/swr/a')).body, 'swr v1');
  await waitFor(() => cached(page, '/swr/a'), '/swr/a stored');
  server.set('/swr/a', { body: 'swr v2' });
  assert.equal((await get(page, '/swr/a')).body, 'swr v1', 'stale copy answered at once');
  await waitFor(async () => (await cached(page, '/swr/a'))?.body === 'swr v2', 'revalidated in the background');
  assert.equal((await get(page, '/net/a')).body, 'net');
  assert.equal((await get(page, '/net/a')).body, 'net');
  assert.equal(server.count('/net/a'), 2);
  assert.equal(await cached(page, '/net/a'), null, 'networkOnly stores nothing');
  const slow = await get(page, '/net/slow');
  assert.equal(slow.status, 504, 'networkOnly past its networkTimeout');
  assert.ok(slow.ms < 2500, `did not wait for the hanging server (${Math.round(slow.ms)} ms)`);
  server.release();
  const only = await get(page, '/only/a');
  assert.equal(only.status, 504);
  assert.equal(server.count('/only/a'), 0, 'cacheOnly never touches the network');
}

/** a 500, Cache-Control: no-store and Vary: * are served but never stored */
export async function neverStored({ page, server, controlled }) {
  server.set('/promo/broken', { body: 'oops', status: 500 });
  server.set('/promo/private', { body: 'secret', headers: { 'cache-control': 'private, no-store' } });
  server.set('/promo/varied', { body: 'varies', headers: { vary: '*' } });
  await controlled();
  for (const p of ['/promo/broken', '/promo/private', '/promo/varied']) {
    const a = await get(page, p);
    const b = await get(page, p);
    assert.equal(a.status, b.status);
    assert.equal(server.count(p), 2, `${p} fetched every time`);
    assert.equal(await cached(page, p), null, `${p} not in any cache`);
  }
  assert.equal((await get(page, '/promo/broken')).status, 500, 'the 500 is passed through');
}

/** cache: 'reload' skips the cache read and refreshes the stored copy */
export async function cacheReload({ page, server, controlled }) {
  server.set('/promo/news', { body: 'news v1' });
  await controlled();
  await get(page, '/promo/news');
  await waitFor(() => cached(page, '/promo/news'), 'stored');
  server.set('/promo/news', { body: 'news v2' });
  assert.equal((await get(page, '/promo/news')).body, 'news v1');
  assert.equal((await get(page, '/promo/news', { cache: 'reload' })).body, 'news v2');
  await waitFor(async () => (await cached(page, '/promo/news'))?.body === 'news v2', 'refreshed copy stored');
  assert.equal((await get(page, '/promo/news')).body, 'news v2');
}

/** fails open: with a broken engine the site keeps working from the network */
export async function failsOpen({ page, server, controlled }) {
  // The real shim, with its embedded wasm corrupted.
  const original = await (await fetch(server.origin + '/swcache/swcache-sw.js')).text();
  // Corrupt the embedded module's magic number ("\0asm").
  const broken = original.replace("'\u0000asm", "'\u0000xyz");
  assert.notEqual(broken, original, 'the embedded wasm was found');
  server.set('/broken-swcache.js', { body: broken, headers: JS });
  server.set('/sw-broken.js', { body: `importScripts('/broken-swcache.js');\nswcache.start(${seedConfig()});`, headers: JS });
  server.set('/promo/x', { body: 'x' });
  await controlled('/sw-broken.js');
  assert.equal((await get(page, '/promo/x')).body, 'x');
  assert.equal((await get(page, '/promo/x')).body, 'x');
  assert.equal(server.count('/promo/x'), 2, 'nothing cached: straight to the network');
  const s = await message(page, { type: 'GET_STATS' });
  assert.equal(s.engine, 'failed-open');
}
