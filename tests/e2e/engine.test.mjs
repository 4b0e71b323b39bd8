// End-to-end: the real engine (dist/swcache-sw.js) in a real worker in headless
// Chromium, against a local server that counts requests and can change, fail or hang.
// The strategies, precache, what is never stored and failing open are in the shared
// suite (tests/suites/engine.mjs, run in Chromium by tests/chromium/); this file has the
// rest: Chromium-only checks (CDP, responses' fromServiceWorker) and what it alone covers.
import { test, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../support/server.mjs';
import { launch, register, get, cached, cacheNames, message, waitFor } from '../support/browser.mjs';
import { workerSource, seedConfig, JS } from '../support/worker.mjs';

let server, chrome, context, page;

before(async () => {
  server = await startServer();
  chrome = await launch();
});
after(async () => {
  await chrome?.close();
  await server?.close();
});

// Each test: fresh browser context (own worker, caches) and the seed site's content.
beforeEach(async () => {
  server.setOffline(false);
  server.resetCounts();
  for (const p of ['/', '/favicon.ico', '/robots.txt']) server.set(p, { body: `precached ${p}` });
  server.set('/sw.js', { body: workerSource(seedConfig()), headers: JS });
  context = await chrome.newContext();
  page = await context.newPage();
});
afterEach(async () => {
  await context?.close();
});

async function controlled() {
  const r = await register(page, server.origin);
  assert.deepEqual(r, { ok: true }, `worker failed to control the page: ${JSON.stringify(r)}`);
}

const waitStored = (url, cacheName) => waitFor(() => cached(page, url, cacheName), `${url} stored`);

test('POST and paths no route matches are left to the browser; a POST removes the copy of its URL', async () => {
  server.set('/api/other', { body: 'api' });
  server.set('/promo/form', { body: (req) => `got ${req.method}` });
  await controlled();
  const fromWorker = new Map();
  page.on('response', (resp) => fromWorker.set(new URL(resp.url()).pathname + ':' + resp.request().method(), resp.fromServiceWorker()));
  assert.equal((await get(page, '/api/other')).body, 'api');
  assert.equal((await get(page, '/promo/form')).body, 'got GET');
  await waitStored('/promo/form');
  assert.equal((await get(page, '/promo/form', { method: 'POST', body: 'x' })).body, 'got POST', 'POST never answered from the cache');
  await waitFor(() => fromWorker.size === 3, 'three responses observed');
  assert.equal(fromWorker.get('/api/other:GET'), false, 'unmatched path not answered by the worker');
  assert.equal(fromWorker.get('/promo/form:POST'), false, 'POST not answered by the worker');
  assert.equal(fromWorker.get('/promo/form:GET'), true, 'matched GET answered by the worker');
  await get(page, '/api/other');
  assert.equal(server.count('/api/other'), 2);
  // The POST may have changed the page: its stored copy goes (as in an HTTP cache), and
  // the next GET reaches the server.
  await waitFor(async () => (await cached(page, '/promo/form')) === null, 'the copy of /promo/form removed');
  const before = server.count('/promo/form');
  assert.equal((await get(page, '/promo/form')).body, 'got GET');
  assert.equal(server.count('/promo/form'), before + 1, 'the GET after the POST went to the server');
});

test('images go to the images route, not the page route (the reference site bug)', async () => {
  server.set('/promo/summer/hero.png', { body: 'PNG', headers: { 'content-type': 'image/png' } });
  server.set('/promo/summer', { body: 'page' });
  await controlled();
  await get(page, '/promo/summer/hero.png');
  await get(page, '/promo/summer');
  assert.ok(await waitStored('/promo/summer/hero.png', 'images'));
  assert.equal(await cached(page, '/promo/summer/hero.png', 'promoPages'), null);
  assert.ok(await waitStored('/promo/summer', 'promoPages'));
});

test('a new version drops what it no longer lists and caches of old releases, keeps unchanged route caches and the site\'s own', async () => {
  server.set('/promo/a', { body: 'a' });
  await controlled();
  await get(page, '/promo/a');
  await waitStored('/promo/a', 'promoPages');
  await page.evaluate(() => Promise.all([
    caches.open('site-own-cache').then((c) => c.put('/mine', new Response('mine'))),
    caches.open('swcache-v0-promoPages').then((c) => c.put('/old', new Response('old'))), // an earlier release's cache
  ]));
  server.set('/sw.js', { body: workerSource(seedConfig({ version: 'v2' })), headers: JS });
  await page.evaluate(async () => {
    const reg = await navigator.serviceWorker.getRegistration();
    const changed = new Promise((r) => navigator.serviceWorker.addEventListener('controllerchange', r, { once: true }));
    await reg.update();
    await changed;
  });
  const keys = () => page.evaluate(async () => (await (await caches.open('swcache-precache')).keys()).map((r) => new URL(r.url).search));
  await waitFor(async () => !(await keys()).some((k) => k.includes('rev=v1')), 'v1 precache entries deleted');
  assert.ok((await keys()).every((k) => k === '?__swcache_rev=v2'), 'only v2 entries');
  const names = await cacheNames(page);
  assert.ok(!names.includes('swcache-v0-promoPages'), 'the old release\'s cache is gone');
  assert.ok(names.includes('site-own-cache'), "the site's own cache is left alone");
  assert.equal((await cached(page, '/promo/a', 'promoPages')).body, 'a', 'the unchanged route kept its entries');
});

test('a bad config fails registration with an error naming the route and field', async () => {
  server.set('/bad.js', {
    body: workerSource(`{ version: 'v1', routes: [{ name: 'pages', match: /^\\//, strategy: 'cacheFirst', maxAge: -5 }] }`),
    headers: JS,
  });
  const r = await register(page, server.origin, '/bad.js');
  assert.equal(r.ok, false);
  assert.equal(r.stage, 'register');
  // The page only sees a generic rejection; the message itself is the worker's script
  // error, which DevTools reports (and so does CDP).
  const cdp = await context.newCDPSession(page);
  const errors = [];
  cdp.on('ServiceWorker.workerErrorReported', (e) => errors.push(e.errorMessage.errorMessage));
  await cdp.send('ServiceWorker.enable');
  await page.evaluate(() => navigator.serviceWorker.register('/bad.js').catch(() => {}));
  const msg = await waitFor(() => errors.find((m) => m.includes('swcache config')), 'worker error reported');
  assert.match(msg, /route 'pages' \(routes\[0\]\) field 'maxAge' must be a non-negative number/);
});

test('a trap while activating fails open, and the worker still activates: nothing waits on the trapped engine', async () => {
  // The engine's claim() call traps (as a wasm trap surfaces: a RuntimeError).
  server.set('/sw-trap.js', { body: `self.clients.claim = () => { throw new WebAssembly.RuntimeError('injected trap'); };\n${workerSource(seedConfig())}`, headers: JS });
  server.set('/promo/t', { body: 't' });
  await page.goto(server.origin + '/harness.html');
  const state = await page.evaluate(async () => {
    const reg = await navigator.serviceWorker.register('/sw-trap.js');
    const worker = reg.installing || reg.waiting || reg.active;
    return new Promise((resolve) => {
      const check = () => ['activated', 'redundant'].includes(worker.state) && resolve(worker.state);
      worker.addEventListener('statechange', check);
      setTimeout(() => resolve(`still ${worker.state} after 10 s`), 10000);
      check();
    });
  });
  assert.equal(state, 'activated', 'an activation waiting on a trapped engine would hold every request of the site');
  // The next page load is the worker's: it answers from the network.
  await page.reload();
  assert.equal((await get(page, '/promo/t')).body, 't');
  assert.equal((await get(page, '/promo/t')).body, 't');
  assert.equal(server.count('/promo/t'), 2, 'straight to the network');
  assert.equal((await message(page, { type: 'GET_STATS' })).engine, 'failed-open');
});

test('a message the engine is still working on when it traps is answered with an error', async () => {
  // The worker throws a RuntimeError (as a wasm trap surfaces) when told to, while a
  // PREFETCH waits for a response that never comes.
  const trapOnCue = `self.addEventListener('message', (e) => e.data === 'trap' && setTimeout(() => { throw new WebAssembly.RuntimeError('injected trap'); }));`;
  server.set('/sw.js', { body: `${trapOnCue}\n${workerSource(seedConfig())}`, headers: JS });
  server.set('/promo/hang', { mode: 'hang' });
  await controlled();
  const reply = await page.evaluate(async () => {
    const worker = (await navigator.serviceWorker.ready).active;
    const { port1, port2 } = new MessageChannel();
    const got = new Promise((resolve) => {
      port1.onmessage = (e) => resolve(e.data);
      setTimeout(() => resolve({ type: 'no reply within 10 s' }), 10000);
    });
    worker.postMessage({ type: 'PREFETCH', urls: ['/promo/hang'] }, [port2]);
    worker.postMessage('trap');
    return got;
  });
  assert.equal(reply.type, 'ERROR', JSON.stringify(reply));
  assert.match(reply.error, /engine failed open: RuntimeError: injected trap/);
  assert.equal((await message(page, { type: 'GET_STATS' })).engine, 'failed-open');
});


test('a navigation the engine was answering when it trapped gets its preload response: the origin sees it once', async () => {
  // Navigation preload on: the browser has sent the navigation's request already. A worker
  // failing open with fetch(request) sent it a second time, also for every navigation after.
  const trapOnCue = `self.addEventListener('message', (e) => e.data === 'trap' && setTimeout(() => { throw new WebAssembly.RuntimeError('injected trap'); }));`;
  const config = `{ version: 'v1', navigationPreload: true, routes: [{ name: 'news', match: '/news/', strategy: 'networkFirst' }] }`;
  server.set('/sw.js', { body: `${trapOnCue}\n${workerSource(config)}`, headers: JS });
  const html = (h) => ({ body: `<h1>${h}</h1>`, headers: { 'content-type': 'text/html' } });
  server.set('/news/slow', { ...html('slow'), delay: 1500 });
  server.set('/news/next', html('next'));
  await controlled();
  const other = await context.newPage();
  await other.goto(server.origin + '/harness.html');
  server.resetCounts();
  const navigated = page.goto(server.origin + '/news/slow');
  await waitFor(() => server.count('/news/slow') === 1, 'the navigation under way');
  await other.evaluate(async () => (await navigator.serviceWorker.ready).active.postMessage('trap'));
  await navigated;
  assert.equal(await page.textContent('h1'), 'slow');
  assert.equal((await message(other, { type: 'GET_STATS' })).engine, 'failed-open');
  await page.goto(server.origin + '/news/next');
  assert.equal(await page.textContent('h1'), 'next');
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(server.count('/news/slow'), 1, 'the navigation under way at the trap: its preload only');
  assert.equal(server.count('/news/next'), 1, 'a navigation after the trap: its preload only');
});

test('a cacheFirst copy past its maxAge answered 304 (no validators sent) is served and stamped again', async () => {
  // An origin or proxy answering 304 to a request without If-None-Match/If-Modified-Since:
  // the page got the empty 304 itself.
  server.set('/sw.js', { body: workerSource(seedConfig({ pageMaxAge: 500 })), headers: JS });
  server.set('/promo/n', { body: 'n1' });
  await controlled();
  assert.equal((await get(page, '/promo/n')).body, 'n1');
  const first = await waitStored('/promo/n', 'promoPages');
  await new Promise((r) => setTimeout(r, 600));
  server.set('/promo/n', { status: 304, body: '' });
  const res = await get(page, '/promo/n');
  assert.deepEqual([res.status, res.body], [200, 'n1'], 'the cached copy, not the empty 304');
  assert.equal(server.count('/promo/n'), 2, 'asked the origin');
  const again = await waitFor(async () => {
    const c = await cached(page, '/promo/n', 'promoPages');
    return c && c.stamp !== first.stamp && c;
  }, 'the copy stamped again');
  assert.equal(again.body, 'n1');
  assert.equal((await get(page, '/promo/n')).body, 'n1');
  assert.equal(server.count('/promo/n'), 2, 'fresh again: no request');
  // A page's own conditional request gets the origin's 304.
  await new Promise((r) => setTimeout(r, 600));
  assert.equal((await get(page, '/promo/n', { headers: { 'if-none-match': '"x"' } })).status, 304);
});

/** Asks the browser to update the worker: the new version's state once it is activated
 * or redundant, else `still <state> after N s`. */
function nextVersion(ms) {
  return page.evaluate(async (ms) => {
    const reg = await navigator.serviceWorker.getRegistration();
    await reg.update();
    const w = reg.installing || reg.waiting;
    if (!w) return 'no new worker';
    return new Promise((resolve) => {
      const check = () => ['activated', 'redundant'].includes(w.state) && resolve(w.state);
      w.addEventListener('statechange', check);
      setTimeout(() => resolve(`still ${w.state} after ${ms / 1000} s`), ms);
      check();
    });
  }, ms);
}

test('a trap leaves no request of the trapped engine holding the worker: the next version activates', async () => {
  // The route's RegExp throws a RuntimeError inside the engine when told to, as a wasm
  // trap does: the engine's state stays as the trap left it (nothing unwinds), and a
  // request it was still fetching never ends there.
  const worker = (version) => `const re = /^\\/promo\\//; const test = re.test.bind(re);
re.test = (s) => { if (self.trapNow) throw new WebAssembly.RuntimeError('injected trap'); return test(s); };
self.addEventListener('message', (e) => { if (e.data === 'trap') self.trapNow = true; });
importScripts('/swcache/swcache-sw.js');
swcache.start({ version: '${version}', routes: [{ name: 'pages', match: re, strategy: 'cacheFirst' }] });`;
  server.set('/sw.js', { body: worker('v1'), headers: JS });
  server.set('/promo/slow', { body: 'slow', delay: 1000 });
  server.set('/promo/x', { body: 'x' });
  await controlled();
  const slow = get(page, '/promo/slow');
  await waitFor(() => server.count('/promo/slow') === 1, 'the slow request under way');
  await page.evaluate(async () => (await navigator.serviceWorker.ready).active.postMessage('trap'));
  await waitFor(async () => (await get(page, '/promo/x')).body === 'x', 'a request after the trap');
  assert.equal((await slow).body, 'slow', 'the request under way is answered from the network');
  assert.equal((await message(page, { type: 'GET_STATS' })).engine, 'failed-open');
  // A fixed version deployed now takes over: a request the trapped engine held (its event
  // waiting for ever) would keep the old worker busy, and the new one waiting, for minutes.
  server.set('/sw.js', { body: worker('v2'), headers: JS });
  const state = await nextVersion(10000);
  assert.equal(state, 'activated');
});

test('fetches no page waits for give up after 30 s without a response: a refresh and a prefetch end, the next version activates', async () => {
  // One wait of the engine's 30 s limit (store::HEADERS_MS; no config shortens it). An
  // origin that accepts the connection and never answers held a staleWhileRevalidate
  // refresh and a PREFETCH, their events, and so the worker, for good: the next version
  // waited (Chromium gives up on the old one after 5 minutes).
  const worker = (version) => workerSource(`{ version: '${version}', routes: [{ name: 'pages', match: /^\\/p\\//, strategy: 'staleWhileRevalidate' }] }`);
  server.set('/sw.js', { body: worker('v1'), headers: JS });
  server.set('/p/a', { body: 'a1' });
  server.set('/p/b', { body: 'b', mode: 'hang' });
  await controlled();
  await get(page, '/p/a');
  await waitStored('/p/a');
  server.mode('/p/a', 'hang');
  assert.equal((await get(page, '/p/a')).body, 'a1', 'the stored copy at once');
  const t0 = Date.now();
  const prefetched = message(page, { type: 'PREFETCH', urls: ['/p/b'] }, 45000).catch((e) => String(e));
  await waitFor(() => server.inFlight === 2, 'the refresh and the prefetch hanging at the server');
  server.set('/sw.js', { body: worker('v2'), headers: JS });
  const state = await nextVersion(45000);
  assert.equal(state, 'activated');
  assert.deepEqual(await prefetched, { type: 'PREFETCH_DONE', fetched: 0, skipped: 0, failed: 1 });
  const waited = Date.now() - t0;
  assert.ok(waited > 29000, `not before the limit (${waited} ms)`);
  await waitFor(() => server.inFlight === 0, 'both requests aborted');
  assert.equal((await cached(page, '/p/a')).body, 'a1', 'the stored copy kept');
});

test('GET_STATS counts hits and misses per route', async () => {
  server.set('/promo/s', { body: 's' });
  await controlled();
  await get(page, '/promo/s');
  await waitStored('/promo/s');
  await get(page, '/promo/s');
  await get(page, '/promo/s');
  const s = await message(page, { type: 'GET_STATS' });
  assert.equal(s.type, 'STATS');
  assert.equal(s.engine, 'ok');
  assert.equal(s.routes.promoPages.misses, 1);
  assert.equal(s.routes.promoPages.hits, 2);
  assert.ok(s.hits >= 2);
});

test('GET_STATS names a response a route did not store because of its headers, once per reason', async () => {
  server.set('/promo/session', { body: 's', headers: { 'cache-control': 'no-store, no-cache, must-revalidate' } });
  server.set('/promo/other', { body: 'o', headers: { 'cache-control': 'no-store' } });
  await controlled();
  await get(page, '/promo/session');
  await get(page, '/promo/other');
  const said = async () => (await message(page, { type: 'GET_STATS' })).warnings.filter((w) => w.includes('did not store'));
  await waitFor(async () => (await said()).length > 0, 'the warning in GET_STATS');
  assert.deepEqual(await said(), ["swcache: route 'promoPages' did not store /promo/session: it was sent with Cache-Control: no-store"]);
});

test('invalidating a precached URL removes the precached copy too (no stale fallback)', async () => {
  await controlled();
  assert.equal((await get(page, '/')).body, 'precached /', 'the page route falls back to the precached copy');
  assert.ok(await cached(page, '/', 'swcache-precache'));
  const done = await message(page, { type: 'CACHE_INVALIDATION', urls: ['/'], timestamp: new Date().toISOString() });
  assert.deepEqual(done, { type: 'CACHE_INVALIDATION_DONE', removed: 1 });
  server.set('/', { body: 'new home' });
  await waitFor(async () => (await cached(page, '/')) === null, 'no copy left in any cache');
  assert.equal((await get(page, '/')).body, 'new home');
});

test('waitForClients: a new version waits instead of taking over open pages', async () => {
  await controlled();
  server.set('/sw.js', { body: workerSource(seedConfig({ version: 'v2' }).replace('{', '{ waitForClients: true,')), headers: JS });
  const state = await page.evaluate(async () => {
    const reg = await navigator.serviceWorker.getRegistration();
    await reg.update();
    const w = reg.installing || reg.waiting;
    if (w && w.state !== 'installed') await new Promise((r) => w.addEventListener('statechange', () => w.state === 'installed' && r()));
    return { waiting: !!reg.waiting, controllerUrl: navigator.serviceWorker.controller.scriptURL };
  });
  assert.equal(state.waiting, true, 'v2 installed and waiting');
  const revs = await page.evaluate(async () => (await (await caches.open('swcache-precache')).keys()).map((r) => new URL(r.url).search));
  assert.ok(revs.includes('?__swcache_rev=v1'), 'v1 entries kept while v1 controls the page');
  assert.ok(revs.includes('?__swcache_rev=v2'), 'v2 precached at install');
});

test('staleWhileRevalidate: stale hits that come together share one background refresh and one UPDATED notice', async () => {
  server.set('/sw.js', { body: workerSource(`{
    version: 'v1',
    routes: [{ name: 'news', match: '/news/', strategy: 'staleWhileRevalidate', maxAge: 300 }],
  }`), headers: JS });
  let v = 1;
  server.set('/news/today', { handler: (_req, res) => {
    const body = `v${v}`;
    setTimeout(() => { res.writeHead(200, { 'content-type': 'text/plain', etag: `"${body}"` }); res.end(body); }, 200);
  } });
  await controlled();
  assert.equal((await get(page, '/news/today')).body, 'v1');
  await waitStored('/news/today', 'news');
  await new Promise((r) => setTimeout(r, 400));
  v = 2;
  server.resetCounts();
  await page.evaluate(() => { window.notices = []; navigator.serviceWorker.onmessage = (e) => window.notices.push(e.data); });
  // Ten tabs a campaign link opened at once, or ten components fetching one URL.
  const bodies = await page.evaluate(() => Promise.all(Array.from({ length: 10 }, () => fetch('/news/today').then((r) => r.text()))));
  assert.deepEqual(bodies, Array(10).fill('v1'), 'each stale hit served at once');
  await waitFor(async () => (await cached(page, '/news/today', 'news'))?.body === 'v2', 'the refresh stored');
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(server.count('/news/today'), 1, 'one refresh');
  const updated = await page.evaluate(() => window.notices.filter((n) => n.type === 'UPDATED').length);
  assert.equal(updated, 1, 'one UPDATED notice');
});
