// The engine in any browser: install and precache, the five strategies with timeouts and
// offline, what is never stored, a bad config, failing open, and a real cold start where
// the harness can stop a worker. Written once; tests/firefox/ and tests/webkit/ run it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser, HEARTBEAT, heartbeats } from '../support/harness.mjs';
import { get, cached, message, register, waitFor } from '../support/browser.mjs';
import { startServer } from '../support/server.mjs';
import { workerSource, seedConfig, routerConfig, JS } from '../support/worker.mjs';
import * as scenario from '../support/scenarios.mjs';

export default function engineSuite(engine) {
  const t = useBrowser(engine, {
    systemAccess: true,
    setup(server) {
      for (const p of ['/', '/favicon.ico', '/robots.txt']) server.set(p, { body: `precached ${p}` });
      server.set('/sw.js', { body: workerSource(seedConfig()), headers: JS });
    },
  });
  const name = (s) => `${engine}: ${s}`;

  test(name('precache: every URL is stored and stamped at install, and served offline'), async () => {
    const { page, server } = t;
    await t.controlled();
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

  // (Without the engine's rule every engine failed the fetch: Chromium 'Failed to fetch',
  // Firefox 'NetworkError', WebKit 'Response served by service worker is opaque'.)
  test(name('an opaque copy answers the <img> that stored it; a cors fetch() of the same URL gets the network (an opaque answer would be a network error)'), async () => {
    const { page, server } = t;
    const cdn = await startServer();
    try {
      const logo = `${cdn.origin}/logo.svg`;
      const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="2" height="2"/>';
      cdn.set('/logo.svg', { body: svg, headers: { 'content-type': 'image/svg+xml', 'access-control-allow-origin': '*' } });
      const config = `{ version: 'v1', routes: [{ name: 'cdn', match: '${cdn.origin}/', strategy: 'cacheFirst', crossOrigin: true, opaque: true }] }`;
      server.set('/sw-cdn.js', { body: workerSource(config), headers: JS });
      await t.controlled('/sw-cdn.js');
      // An <img> (mode no-cors): the opaque answer is stored, then served.
      const loaded = await page.evaluate((u) => new Promise((resolve) => {
        const i = new Image();
        i.onload = () => resolve('loaded');
        i.onerror = () => resolve('error');
        i.src = u;
        document.body.append(i);
      }), logo);
      assert.equal(loaded, 'loaded');
      await waitFor(() => page.evaluate(async (u) => (await caches.match(u))?.type === 'opaque', logo), 'the opaque copy stored');
      // A fetch() of it (mode cors) goes to the network instead of failing.
      const r = await page.evaluate((u) => fetch(u).then(async (r) => `${r.status} ${r.type} ${(await r.text()).length}`, (e) => `failed: ${e.message}`), logo);
      assert.equal(r, `200 cors ${svg.length}`);
    } finally {
      await cdn.close();
    }
  });
  test(name('caches the page deletes (a sign-out clearing Cache Storage) are not served from afterwards, and storing resumes'), async () => {
    const { page, server } = t;
    server.set('/account/orders', { body: 'orders of alice' });
    await t.controlled();
    const inCache = () => page.evaluate(() => caches.match('/account/orders').then((r) => r?.text()));
    assert.equal((await get(page, '/account/orders')).body, 'orders of alice');
    await waitFor(async () => (await inCache()) === 'orders of alice', 'the page stored');
    assert.equal((await get(page, '/account/orders')).body, 'orders of alice', 'a hit (the worker has the cache open now)');
    assert.equal(server.count('/account/orders'), 1);
    // The site's sign-out deletes every cache; the worker keeps running.
    await page.evaluate(async () => { for (const k of await caches.keys()) await caches.delete(k); });
    server.set('/account/orders', { body: 'signed out' });
    assert.equal((await get(page, '/account/orders')).body, 'signed out', 'the deleted copy is not served');
    assert.equal(server.count('/account/orders'), 2);
    await waitFor(async () => (await inCache()) === 'signed out', 'the new copy stored in the cache by its name');
    assert.equal((await get(page, '/account/orders')).body, 'signed out');
    assert.equal(server.count('/account/orders'), 2, 'served from the cache again');
  });
  test(name('after a sign-out deletes the caches, a full maxEntries route keeps the pages stored next (its known keys are listed again)'), async () => {
    const { page, server } = t;
    const config = `{ version: 'v1', routes: [{ name: 'p', match: '/p/', strategy: 'cacheFirst', maxEntries: 3 }] }`;
    server.set('/sw-wipe.js', { body: workerSource(config), headers: JS });
    for (const p of ['a', 'b', 'c', 'd', 'e']) server.set(`/p/${p}`, { body: `page ${p}` });
    await t.controlled('/sw-wipe.js');
    // The first visitor uses three pages often: the route is full.
    for (const p of ['a', 'b', 'c']) {
      await get(page, `/p/${p}`);
      await t.waitStored(`/p/${p}`, 'p');
      for (let i = 0; i < 3; i++) await get(page, `/p/${p}`);
    }
    await page.evaluate(async () => { for (const k of await caches.keys()) await caches.delete(k); });
    // The next visitor opens one of those pages, then two of their own.
    for (const p of ['a', 'd', 'e']) {
      assert.equal((await get(page, `/p/${p}`)).body, `page ${p}`);
      await t.waitStored(`/p/${p}`, 'p');
    }
    await new Promise((r) => setTimeout(r, 300));
    for (const p of ['a', 'd', 'e']) assert.ok(await cached(page, `/p/${p}`, 'p'), `/p/${p} still stored`);
    assert.equal((await message(page, { type: 'GET_STATS' })).routes.p.evictions, 0);
  });
  test(name('a page the site removed (404) leaves a staleWhileRevalidate route with the refresh: it is not shown again'), async () => {
    const { page, server } = t;
    const config = `{ version: 'v1', routes: [{ name: 's', match: '/s/', strategy: 'staleWhileRevalidate', maxAge: 200 }] }`;
    server.set('/sw-gone.js', { body: workerSource(config), headers: JS });
    server.set('/s/article', { body: 'the article' });
    await t.controlled('/sw-gone.js');
    const open = async () => {
      await page.goto(`${server.origin}/s/article`);
      return page.evaluate(() => document.body.textContent);
    };
    assert.equal(await open(), 'the article');
    await t.waitStored('/s/article', 's');
    server.set('/s/article', { status: 404, body: 'no such article' });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await open(), 'the article', 'stale, shown while the refresh runs');
    await waitFor(async () => !(await cached(page, '/s/article', 's')), 'the copy deleted by the refresh');
    assert.equal(await open(), 'no such article');
  });
  test(name('a response to a request with Authorization is kept only when the origin shares it or varies on it: the next user of the device gets their own'), async () => {
    const { page, server } = t;
    const config = `{ version: 'v1', routes: [{ name: 'me', match: '/me/', strategy: 'staleWhileRevalidate' }] }`;
    server.set('/sw-auth.js', { body: workerSource(config), headers: JS });
    const whose = (req) => `orders of ${req.headers.authorization || 'nobody'}`;
    server.set('/me/orders', { body: whose });
    server.set('/me/keyed', { body: whose, headers: { vary: 'Authorization' } });
    await t.controlled('/sw-auth.js');
    const as = async (user, p) => (await get(page, p, user ? { headers: { authorization: `Bearer ${user}` } } : {})).body;
    assert.equal(await as('alice', '/me/orders'), 'orders of Bearer alice');
    assert.equal(await as('alice', '/me/keyed'), 'orders of Bearer alice');
    const kept = (p) => page.evaluate((u) => caches.match(u, { ignoreVary: true }).then((r) => !!r), p);
    await waitFor(() => kept('/me/keyed'), '/me/keyed stored');
    assert.equal(await kept('/me/orders'), false, 'not kept for whoever comes next');
    // Alice signs out; Bob, then nobody, use the same browser.
    assert.equal(await as('bob', '/me/orders'), 'orders of Bearer bob');
    assert.equal(await as('bob', '/me/keyed'), 'orders of Bearer bob');
    assert.equal(await as(null, '/me/orders'), 'orders of nobody');
    assert.equal(await as(null, '/me/keyed'), 'orders of nobody');
    // Signed out, the copy is kept; the next sign-in is answered with it once, and its
    // refresh, not kept, takes it: the next request gets the visitor's own.
    await waitFor(() => kept('/me/orders'), '/me/orders stored for nobody');
    assert.equal(await as('carol', '/me/orders'), 'orders of nobody');
    await waitFor(async () => !(await kept('/me/orders')), 'the refresh took the copy');
    assert.equal(await as('carol', '/me/orders'), 'orders of Bearer carol');
  });
  test(name('precache: install fails (detected, not a hang) when a URL fails'), () => scenario.precacheInstallFails(t));
  test(name('a redirected stylesheet is not stored: its @import resolves against its final URL on every visit'), async () => {
    const { page, server } = t;
    server.set('/app.html', { body: '<!doctype html><link rel=stylesheet href="/css/site.css"><h1>x</h1>', headers: { 'content-type': 'text/html' } });
    server.set('/css/site.css', { handler: (_req, res) => { res.writeHead(302, { location: '/css/v2/site.css' }); res.end(); } });
    server.set('/css/v2/site.css', { body: '@import "theme.css";', headers: { 'content-type': 'text/css' } });
    server.set('/css/v2/theme.css', { body: 'h1 { color: rgb(255, 0, 0) }', headers: { 'content-type': 'text/css' } });
    server.set('/sw.js', { body: workerSource(`{ version: 'v1', routes: [{ name: 'css', match: '/css/', strategy: 'cacheFirst', maxAge: 864e5 }] }`), headers: JS });
    await t.controlled();
    const color = async () => {
      await page.goto(server.origin + '/app.html');
      return page.evaluate(() => getComputedStyle(document.querySelector('h1')).color);
    };
    assert.equal(await color(), 'rgb(255, 0, 0)');
    await t.waitStored('/css/v2/theme.css', 'css');
    assert.equal(await color(), 'rgb(255, 0, 0)', 'the same from the worker as from the network');
    assert.equal(await cached(page, '/css/site.css', 'css'), null, 'the redirected response was not stored');
  });
  test(name('cacheFirst: miss then hit; the server sees one request and the copy is stamped'), () => scenario.cacheFirstMissThenHit(t));
  test(name('cacheFirst: a copy older than maxAge is refetched and replaced'), () => scenario.cacheFirstExpired(t));
  test(name('cacheFirst: offline serves the stale copy; with nothing cached a clear 503'), () => scenario.cacheFirstOffline(t));

  test(name('networkFirst: network when healthy; a reset connection, then a server that is gone, serve the cached copy'), async () => {
    const { page, server } = t;
    server.set('/sw.js', { body: workerSource(seedConfig({ dataMaxAge: 0 })), headers: JS });
    const url = '/api/v1/promo/featured-content?id=7';
    server.set(url, { body: 'data v1' });
    await t.controlled();
    assert.equal((await get(page, url)).body, 'data v1');
    await t.waitStored(url, 'componentData');
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
    t.server = null;
    const refused = await get(page, url);
    assert.equal(refused.status, 200);
    assert.equal(refused.body, 'data v2', 'stale cached copy when the connection is refused');
    assert.equal((await get(page, '/api/v1/promo/featured-content?id=404')).status, 503, 'nothing cached: a clear 503');
  });

  test(name('networkFirst: a hanging server times out to the cached copy; the late answer is stored'), () => scenario.networkFirstHanging(t));
  test(name('networkFirst: after the timeout with nothing cached it keeps waiting for the network'), () => scenario.networkFirstKeepsWaiting(t));
  test(name('staleWhileRevalidate, networkOnly (with its timeout) and cacheOnly'), () => scenario.otherStrategies(t));
  test(name('a 500, Cache-Control: no-store and Vary: * are served but never stored'), () => scenario.neverStored(t));
  test(name("cache: 'reload' skips the cache read and refreshes the stored copy"), () => scenario.cacheReload(t));

  // A response that stops sending its body, read only by the cache (a background refresh,
  // or a miss whose page has gone): every invalidation waits for the writes under way, so
  // one write that never ended left every later DONE (and feed check) unanswered, and kept
  // the worker's event open (no new version activated).
  test(name('a stored response whose body stalls is given up: an invalidation is still answered, and the copy stays whole'), async () => {
    const { page, server } = t;
    const config = `{ version: 'v1', routes: [
      { name: 'swr', match: '/swr/', strategy: 'staleWhileRevalidate', maxAge: 0 },
      { name: 'cf', match: '/cf/', strategy: 'cacheFirst' }] }`;
    server.set('/sw-stall.js', { body: workerSource(config), headers: JS });
    server.set('/swr/news', { body: 'news v1' });
    server.set('/cf/other', { body: 'other' });
    await t.controlled('/sw-stall.js');
    await get(page, '/swr/news');
    await get(page, '/cf/other');
    await t.waitStored('/swr/news', 'swr');
    await t.waitStored('/cf/other', 'cf');
    server.set('/swr/news', { handler: (_req, res) => { res.writeHead(200, { 'content-type': 'text/plain' }); res.write('news v2, the first half'); } });
    assert.equal((await get(page, '/swr/news')).body, 'news v1', 'the stale copy, refreshed in the background');
    await waitFor(() => server.count('/swr/news') === 2, 'the refresh sent');
    const reply = await message(page, { type: 'CACHE_INVALIDATION', urls: ['/cf/other'], timestamp: new Date().toISOString() }, 60000);
    assert.deepEqual(reply, { type: 'CACHE_INVALIDATION_DONE', removed: 1 });
    assert.equal((await cached(page, '/swr/news', 'swr'))?.body, 'news v1', 'no part of the stalled body stored');
  });
  // Chromium and Firefox fail such a body; WebKit hands it on as complete (its first answer
  // is cut off either way), and its copy was then served for the route's whole maxAge.
  test(name('a body that ends short of its Content-Length is not stored'), async () => {
    const { page, server } = t;
    const whole = 'x'.repeat(2000);
    server.set('/promo/cut', { handler: (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(whole.length), connection: 'close' });
      res.end(whole.slice(0, 1000));
    } });
    await t.controlled();
    for (let i = 0; i < 2; i++) assert.notEqual((await get(page, '/promo/cut')).body, whole);
    assert.equal(server.count('/promo/cut'), 2, 'fetched again: nothing was stored');
    assert.equal(await cached(page, '/promo/cut'), null);
  });
  test(name('precache: a file cut short of its Content-Length fails the install'), async () => {
    const { page, server } = t;
    server.set('/robots.txt', { handler: (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2000', connection: 'close' });
      res.end('y'.repeat(1000));
    } });
    const r = await register(page, server.origin);
    assert.equal(r.ok, false, 'the install failed');
    assert.equal(r.stage, 'install');
  });
  test(name('fails open: with a broken engine the site keeps working from the network'), () => scenario.failsOpen(t));

  test(name('a stopped worker starts again on the next request and serves it from the cache'), async () => {
    const { page, server } = t;
    server.set('/promo/cold', { body: 'cold v1' });
    // Every instance of the worker reports itself to the server while it lives, so the
    // test sees it stop without waking it, and sees which instance answered.
    server.set('/sw.js', { body: workerSource(seedConfig()) + HEARTBEAT, headers: JS });
    const beats = heartbeats(server);
    await t.controlled();
    await get(page, '/promo/cold');
    await t.waitStored('/promo/cold');
    server.set('/promo/cold', { body: 'cold v2' });
    const first = await waitFor(() => beats.last(), 'the worker reports');
    await t.stopWorkers(beats);
    // A navigation starts the worker (a fetch event on a fresh instance).
    await page.goto(server.origin + '/promo/cold');
    assert.equal(await page.evaluate(() => document.body.textContent), 'cold v1', 'served from the cache');
    if (t.can.coldNavigationFetches) {
      // Chromium and WebKit start the navigation's network request themselves while the
      // worker boots; the worker's answer (the cached copy) is the one the page gets.
      assert.ok(server.count('/promo/cold') <= 2, 'at most the browser\'s own request');
    } else {
      assert.equal(server.count('/promo/cold'), 1, 'no network request');
    }
    const second = await waitFor(() => beats.last() !== first && beats.last(), 'the new instance reports');
    assert.notEqual(second, first, 'a new worker instance answered');
    const s = await message(page, { type: 'GET_STATS' });
    // The first instance counted a miss; the new one starts from zero (browsers also ask
    // for /favicon.ico, a precached hit, so only the misses are exact).
    assert.equal(s.routes.promoPages.misses, 0, 'counted by a fresh instance');
    assert.ok(s.routes.promoPages.hits >= 1);
  });

  test(name("coldStart: 'router' without the Static Routing API: the worker serves those routes itself"), { skip: t.can.router && 'Chromium has the router (tests/e2e/router.test.mjs)' }, async () => {
    const { page, server } = t;
    server.set('/sw.js', { body: workerSource(routerConfig('864e5')), headers: JS });
    server.set('/l/summer', { body: 'landing v1' });
    await t.controlled();
    assert.equal((await get(page, '/l/summer')).body, 'landing v1');
    await t.waitStored('/l/summer', 'landing');
    server.set('/l/summer', { body: 'landing v2' });
    assert.equal((await get(page, '/l/summer')).body, 'landing v1', 'a warm hit from the route cache');
    if (t.browser.stopWorkers) {
      const [before] = (await t.browser.workers()).filter((w) => w.scope.startsWith(server.origin));
      await t.browser.stopWorkers();
      // No router rules: the request starts the worker, which answers from the cache.
      const cold = await get(page, '/l/summer');
      assert.equal(cold.body, 'landing v1');
      assert.ok(cold.stamp, 'the stored copy');
      const [after] = (await t.browser.workers()).filter((w) => w.scope.startsWith(server.origin));
      assert.equal(after.launchCount, before.launchCount + 1, 'the worker was started for it');
    }
    assert.equal(server.count('/l/summer'), 1, 'no request reached the server');
    // A miss is fetched and stored by the worker (with the router it would bypass the worker).
    server.set('/l/winter', { body: 'winter' });
    assert.equal((await get(page, '/l/winter')).body, 'winter');
    await t.waitStored('/l/winter', 'landing');
  });
}
