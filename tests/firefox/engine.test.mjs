// The engine in headless Firefox: install and precache, cacheFirst hits and expiry,
// networkFirst timeouts and offline fallbacks, and a real cold start. Same server, worker
// configs and page helpers as tests/e2e/engine.test.mjs; one Firefox (one profile) for
// the file, and a fresh origin (a new server port: its own worker and caches) per test.
import { test, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../support/server.mjs';
import { register, get, cached, message, waitFor } from '../support/browser.mjs';
import { launchFirefox, geckodriverVersion } from '../support/firefox.mjs';
import { workerSource, seedConfig, routerConfig, JS } from '../support/worker.mjs';
import * as scenario from '../support/scenarios.mjs';

let ff, page, server;

before(async () => {
  ff = await launchFirefox({ systemAccess: true });
  page = ff.page;
  console.log(`# Firefox ${ff.browserVersion}, ${await geckodriverVersion()}`);
});
after(async () => { await ff?.close(); });

beforeEach(async () => {
  server = await startServer();
  for (const p of ['/', '/favicon.ico', '/robots.txt']) server.set(p, { body: `precached ${p}` });
  server.set('/sw.js', { body: workerSource(seedConfig()), headers: JS });
});
afterEach(async () => {
  await page.goto('about:blank');
  await server?.close();
  server = null;
});

async function controlled(sw = '/sw.js') {
  const r = await register(page, server.origin, sw);
  assert.deepEqual(r, { ok: true }, `worker failed to control the page: ${JSON.stringify(r)}`);
}

const waitStored = (url, cacheName) => waitFor(() => cached(page, url, cacheName), `${url} stored`);

test('firefox: precache: every URL is stored and stamped at install, and served offline', async () => {
  await controlled();
  for (const p of ['/', '/favicon.ico', '/robots.txt']) {
    const c = await cached(page, p, 'swcache-precache');
    assert.ok(c, `${p} precached`);
    assert.equal(c.body, `precached ${p}`);
    assert.match(c.stamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  }
  assert.equal(server.count('/robots.txt'), 1, 'fetched once, at install');
  server.setOffline(true);
  assert.equal((await get(page, '/robots.txt')).body, 'precached /robots.txt', 'precache route, no route matches');
  assert.equal((await get(page, '/')).body, 'precached /', 'page route falls back to the precached copy');
});

test('firefox: precache: install fails (detected, not a hang) when a URL fails', () => scenario.precacheInstallFails({ page, server, controlled }));

test('firefox: cacheFirst: miss then hit; the server sees one request and the copy is stamped', () => scenario.cacheFirstMissThenHit({ page, server, controlled }));

test('firefox: cacheFirst: a copy older than maxAge is refetched and replaced', () => scenario.cacheFirstExpired({ page, server, controlled }));

test('firefox: cacheFirst: offline serves the stale copy; with nothing cached a clear 503', () => scenario.cacheFirstOffline({ page, server, controlled }));

test('firefox: networkFirst: network when healthy; a reset connection, then a server that is gone, serve the cached copy', async () => {
  server.set('/sw.js', { body: workerSource(seedConfig({ dataMaxAge: 0 })), headers: JS });
  const url = '/api/v1/promo/featured-content?id=7';
  server.set(url, { body: 'data v1' });
  await controlled();
  assert.equal((await get(page, url)).body, 'data v1');
  await waitStored(url, 'componentData');
  server.set(url, { body: 'data v2' });
  assert.equal((await get(page, url)).body, 'data v2', 'network first while it answers');
  assert.equal(server.count(url), 2);
  await waitFor(async () => (await cached(page, url))?.body === 'data v2', 'v2 stored');
  server.setOffline(true); // every connection reset
  const reset = await get(page, url);
  assert.equal(reset.body, 'data v2', 'stale cached copy when the connection is reset');
  assert.ok(reset.stamp, 'the cached copy carries its stamp');
  assert.equal((await get(page, '/api/v1/promo/featured-content?id=404')).status, 503);
  // The server goes away altogether: connection refused.
  await server.close();
  const refused = await get(page, url);
  assert.equal(refused.status, 200);
  assert.equal(refused.body, 'data v2', 'stale cached copy when the connection is refused');
  assert.equal((await get(page, '/api/v1/promo/featured-content?id=404')).status, 503, 'nothing cached: a clear 503');
  server = null;
});

test('firefox: networkFirst: a hanging server times out to the cached copy; the late answer is stored', () => scenario.networkFirstHanging({ page, server, controlled }));

test('firefox: networkFirst: after the timeout with nothing cached it keeps waiting for the network', () => scenario.networkFirstKeepsWaiting({ page, server, controlled }));

test('firefox: a stopped worker starts again on the next request and serves it from the cache', async () => {
  server.set('/promo/cold', { body: 'cold v1' });
  await controlled();
  await get(page, '/promo/cold');
  await waitStored('/promo/cold');
  server.set('/promo/cold', { body: 'cold v2' });
  const [before] = (await ff.workers()).filter((w) => w.scope.startsWith(server.origin));
  assert.ok(before && before.running, 'the worker runs');
  const stopped = (await ff.stopWorkers()).filter((w) => w.scope.startsWith(server.origin));
  assert.equal(stopped[0].running, false, 'the worker was stopped');
  // A navigation starts the worker (a fetch event on a fresh instance).
  await page.goto(server.origin + '/promo/cold');
  assert.equal(await page.evaluate(() => document.body.textContent), 'cold v1', 'served from the cache');
  assert.equal(server.count('/promo/cold'), 1, 'no network request');
  const [after] = (await ff.workers()).filter((w) => w.scope.startsWith(server.origin));
  assert.equal(after.launchCount, before.launchCount + 1, 'a new worker instance answered');
  const s = await message(page, { type: 'GET_STATS' });
  // The first instance counted a miss; the new one starts from zero (Firefox also asks
  // for /favicon.ico, a precached hit, so only the misses are exact).
  assert.equal(s.routes.promoPages.misses, 0, 'counted by a fresh instance');
  assert.ok(s.routes.promoPages.hits >= 1);
});

test("firefox: coldStart: 'router' without the Static Routing API: the worker serves those routes itself, warm and cold", async () => {
  server.set('/sw.js', { body: workerSource(routerConfig('864e5')), headers: JS });
  server.set('/l/summer', { body: 'landing v1' });
  await controlled();
  assert.equal((await get(page, '/l/summer')).body, 'landing v1');
  await waitStored('/l/summer', 'landing');
  server.set('/l/summer', { body: 'landing v2' });
  assert.equal((await get(page, '/l/summer')).body, 'landing v1', 'a warm hit from the route cache');
  const [before] = (await ff.workers()).filter((w) => w.scope.startsWith(server.origin));
  await ff.stopWorkers();
  // No router rules: the request starts the worker, which answers from the cache.
  const cold = await get(page, '/l/summer');
  assert.equal(cold.body, 'landing v1');
  assert.ok(cold.stamp, 'the stored copy');
  const [after] = (await ff.workers()).filter((w) => w.scope.startsWith(server.origin));
  assert.equal(after.launchCount, before.launchCount + 1, 'the worker was started for it');
  assert.equal(server.count('/l/summer'), 1, 'no request reached the server');
  // A miss is fetched and stored by the worker (with the router it would bypass the worker).
  server.set('/l/winter', { body: 'winter' });
  assert.equal((await get(page, '/l/winter')).body, 'winter');
  await waitStored('/l/winter', 'landing');
});
