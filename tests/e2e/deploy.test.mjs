// End-to-end: deploys and operations. Revisioned precache (with the real
// swcache-manifest command), failed installs, the update flow across tabs, the offline
// page, navigation preload, the kill switch and ranged requests, in headless Chromium.
import { test, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { startServer, ROOT, DIST } from '../support/server.mjs';
import { launch, register, get, cached, cacheNames, waitFor } from '../support/browser.mjs';
import { workerSource, JS } from '../support/worker.mjs';

const MANIFEST = path.join(ROOT, 'target/release/swcache-manifest');
const PAGE_ROUTE = `{ name: 'promoPages', match: /^\\/promo\\//, strategy: 'cacheFirst', maxAge: 864e5 }`;

let server, chrome, context, page, dir;

before(async () => {
  server = await startServer();
  chrome = await launch();
});
after(async () => {
  await chrome?.close();
  await server?.close();
});
beforeEach(async () => {
  server.setOffline(false);
  server.resetCounts();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swcache-deploy-'));
  context = await chrome.newContext();
  page = await context.newPage();
});
afterEach(async () => {
  await context?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A build directory of `n` files under static/, served by the test server at /static/. */
function build(n, changed = -1) {
  for (let i = 0; i < n; i++) {
    const body = `/* file ${i} */ console.log(${i === changed ? '"changed"' : i});\n` + 'x'.repeat(2000);
    fs.mkdirSync(path.join(dir, 'static'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'static', `f${i}.js`), body);
    server.set(`/static/f${i}.js`, { body, headers: { 'content-type': 'text/javascript' } });
  }
  return JSON.parse(execFileSync(MANIFEST, [path.join(dir, 'static'), '--prefix', '/static/', '--format', 'json'], { encoding: 'utf8' }));
}

function deploy(version, precache, extra = '') {
  server.set('/sw.js', {
    body: workerSource(`{ version: '${version}', ${extra} precache: ${JSON.stringify(precache)}, routes: [${PAGE_ROUTE}] }`),
    headers: JS,
  });
}

/** Asks the browser for the new worker and waits until it controls the page. */
async function update(pg = page) {
  return pg.evaluate(async () => {
    const reg = await navigator.serviceWorker.getRegistration();
    const changed = new Promise((r) => navigator.serviceWorker.addEventListener('controllerchange', r, { once: true }));
    await reg.update();
    await changed;
  });
}

const bytesUnder = (prefix) => server.requests().filter((r) => r.path.startsWith(prefix))
  .reduce((n, r) => n + fs.statSync(path.join(dir, r.path.slice(1))).size, 0);

test('a deploy changing 1 of 50 precached files downloads exactly that file; runtime entries survive', async () => {
  const v1 = build(50);
  assert.equal(v1.length, 50);
  assert.ok(v1.every((e) => /^[0-9a-f]{16}$/.test(e.revision)), 'revisions are content hashes');
  deploy('v1', v1);
  server.set('/promo/a', { body: 'page a' });
  assert.deepEqual(await register(page, server.origin), { ok: true });
  assert.equal(server.countPrefix('/static/'), 50, 'v1 installs all 50');
  await get(page, '/promo/a');
  await waitFor(() => cached(page, '/promo/a', 'promoPages'), 'runtime entry stored');

  // Deploy: file 17 changed.
  const v2 = build(50, 17);
  const changed = v2.filter((e, i) => e.revision !== v1[i].revision).map((e) => e.url);
  assert.deepEqual(changed, ['/static/f17.js'], 'the manifest differs in exactly one entry');
  server.resetCounts();
  deploy('v2', v2);
  await update();
  const fetched = server.requests().filter((r) => r.path.startsWith('/static/')).map((r) => r.path);
  assert.deepEqual(fetched, ['/static/f17.js'], 'exactly the changed file is downloaded');
  const after = bytesUnder('/static/');
  console.log(`# deploy 1 of 50 with revisions: ${fetched.length} request(s), ${after} B`);
  await waitFor(async () => (await page.evaluate(async () => (await (await caches.open('swcache-precache')).keys()).length)) === 50, 'old revision dropped at activate');
  // The unchanged runtime route kept its entry: served without a request.
  server.resetCounts();
  assert.equal((await get(page, '/promo/a')).body, 'page a');
  assert.equal(server.count('/promo/a'), 0, 'runtime entry survived the version bump');
  server.setOffline(true);
  assert.match((await get(page, '/static/f17.js')).body, /"changed"/, 'the new revision is served');
  assert.match((await get(page, '/static/f18.js')).body, /console\.log\(18\)/);

  // The same deploy with plain URLs (revisioned by the version only) refetches all 50.
  server.setOffline(false);
  server.resetCounts();
  deploy('v3', v2.map((e) => e.url));
  await update();
  const plain = server.countPrefix('/static/');
  console.log(`# deploy 1 of 50 with plain URLs (every file follows the version): ${plain} requests, ${bytesUnder('/static/')} B`);
  assert.equal(plain, 50);
});

test('a failed install (one 404) leaves v1 serving everything', async () => {
  const v1 = build(10);
  deploy('v1', v1);
  assert.deepEqual(await register(page, server.origin), { ok: true });
  const v2 = build(10, 3);
  server.set('/static/f3.js', { body: 'gone', status: 404 });
  deploy('v2', v2);
  const state = await page.evaluate(async () => {
    const reg = await navigator.serviceWorker.getRegistration();
    await reg.update().catch(() => {});
    const w = reg.installing;
    if (w && w.state !== 'redundant') await new Promise((r) => w.addEventListener('statechange', () => w.state === 'redundant' && r()));
    return { waiting: !!reg.waiting, active: !!reg.active };
  });
  assert.deepEqual(state, { waiting: false, active: true }, 'v2 became redundant, v1 stays active');
  server.setOffline(true);
  for (let i = 0; i < 10; i++) {
    const r = await get(page, `/static/f${i}.js`);
    assert.match(r.body, new RegExp(`console\\.log\\(${i}\\)`), `f${i} served by v1`);
  }
});

const MODULE_PAGE = `<!doctype html><title>app</title><script type=module>
  import { register, onUpdate, inspect } from '/swcache/swcache-page.js';
  window.updates = [];
  window.controlled = [];
  window.ready = register('/sw.js');
  onUpdate((u) => { window.updates.push(u.worker.scriptURL); window.lastUpdate = u; });
  addEventListener('swcache:controlled', (e) => window.controlled.push(e.detail));
  window.version = async () => (await inspect()).version;
</script>`;

test('update flow: two tabs hear of a waiting worker; the one that applies reloads; a third version replaces the waiting one', async () => {
  server.set('/app', { body: MODULE_PAGE, headers: { 'content-type': 'text/html' } });
  deploy('v1', [], 'waitForClients: true,');
  const a = page;
  await a.goto(server.origin + '/app');
  await a.evaluate(() => window.ready);
  assert.ok(await a.evaluate(() => !!navigator.serviceWorker.controller), 'a first visit is controlled at once');
  const b = await context.newPage();
  await b.goto(server.origin + '/app');
  await waitFor(() => b.evaluate(() => !!navigator.serviceWorker.controller), 'tab B controlled');
  assert.equal(await a.evaluate(() => window.version()), 'v1');

  deploy('v2', [], 'waitForClients: true,');
  await a.evaluate(async () => (await navigator.serviceWorker.getRegistration()).update());
  await waitFor(() => a.evaluate(() => window.updates.length === 1), 'tab A told of v2');
  await waitFor(() => b.evaluate(() => window.updates.length === 1), 'tab B told of v2');
  // While v2 waits, v3 arrives: both tabs hear again, and apply() takes the newest.
  deploy('v3', [], 'waitForClients: true,');
  await a.evaluate(async () => (await navigator.serviceWorker.getRegistration()).update());
  await waitFor(() => a.evaluate(() => window.updates.length === 2), 'tab A told of v3');
  await waitFor(() => b.evaluate(() => window.updates.length === 2), 'tab B told of v3');
  assert.equal(await a.evaluate(() => window.version()), 'v1', 'nothing took over yet');

  const reloaded = a.waitForEvent('load');
  await a.evaluate(() => window.lastUpdate.apply());
  await reloaded;
  await waitFor(() => a.evaluate(() => !!navigator.serviceWorker.controller), 'tab A controlled after reload');
  await a.evaluate(() => window.ready);
  assert.equal(await a.evaluate(() => window.version()), 'v3', 'the newest version took over');
  await waitFor(() => b.evaluate(() => window.controlled.length === 1), 'tab B told it changed hands');
  assert.deepEqual(await b.evaluate(() => window.controlled), [{ external: true }], 'B did not ask: it may reload or show a notice');
  assert.equal(await b.evaluate(() => window.version()), 'v3');
  await b.close();
});

test('offline page: a failed navigation with nothing cached gets it; images get the placeholder', async () => {
  server.set('/offline.html', { body: '<h1>You are offline</h1>', headers: { 'content-type': 'text/html' } });
  server.set('/offline.svg', { body: '<svg xmlns="http://www.w3.org/2000/svg"/>', headers: { 'content-type': 'image/svg+xml' } });
  server.set('/sw.js', {
    body: workerSource(`{ version: 'v1', offline: { page: '/offline.html', image: '/offline.svg' },
      routes: [${PAGE_ROUTE}, { name: 'images', match: /\\.png$/, strategy: 'cacheFirst' }] }`),
    headers: JS,
  });
  assert.deepEqual(await register(page, server.origin), { ok: true });
  assert.ok(await cached(page, '/offline.html', 'swcache-precache'), 'the offline page is precached');
  server.setOffline(true);
  for (const url of ['/promo/never-visited', '/admin/not-routed']) {
    const r = await page.goto(server.origin + url);
    assert.equal(await page.textContent('h1'), 'You are offline', `${url}: the offline page`);
    assert.equal(r.status(), 200);
  }
  const img = await page.evaluate(async () => {
    const el = new Image();
    el.src = '/img/never.png';
    await el.decode().catch(() => {});
    const r = performance.getEntriesByName(new URL('/img/never.png', location.href).href)[0];
    return { loaded: el.complete && el.naturalWidth >= 0, status: r && r.responseStatus };
  });
  assert.equal(img.status, 200, 'the placeholder answered the image');
  assert.equal((await get(page, '/promo/x.json')).status, 503, 'other requests get the plain error');
});

test('navigation preload: a networkFirst navigation uses the preload request (one request, with the header)', async () => {
  server.set('/news/today', { body: '<h1>news</h1>', headers: { 'content-type': 'text/html' } });
  server.set('/sw.js', {
    body: workerSource(`{ version: 'v1', navigationPreload: true,
      routes: [{ name: 'news', match: '/news/', strategy: 'networkFirst', networkTimeout: 3000 }] }`),
    headers: JS,
  });
  assert.deepEqual(await register(page, server.origin), { ok: true });
  assert.equal(await page.evaluate(async () => (await (await navigator.serviceWorker.ready).navigationPreload.getState()).enabled), true);
  server.resetCounts();
  await page.goto(server.origin + '/news/today');
  assert.equal(await page.textContent('h1'), 'news');
  await waitFor(() => cached(page, '/news/today', 'news'), 'stored from the preload response');
  const seen = server.requests().filter((r) => r.path === '/news/today');
  assert.equal(seen.length, 1, 'one request: the preload, not a second fetch');
  assert.equal(seen[0].headers['service-worker-navigation-preload'], 'true');
});

test('kill switch: swcache-remove-sw.js deletes swcache caches only and unregisters', async () => {
  deploy('v1', build(3));
  server.set('/promo/a', { body: 'a' });
  assert.deepEqual(await register(page, server.origin), { ok: true });
  await get(page, '/promo/a');
  await waitFor(() => cached(page, '/promo/a', 'promoPages'), 'stored');
  await page.evaluate(() => caches.open('site-own').then((c) => c.put('/mine', new Response('mine'))));
  server.set('/sw.js', { body: fs.readFileSync(path.join(DIST, 'swcache-remove-sw.js'), 'utf8'), headers: JS });
  await page.evaluate(async () => (await navigator.serviceWorker.getRegistration()).update());
  await waitFor(async () => (await page.evaluate(() => navigator.serviceWorker.getRegistration())) === undefined, 'unregistered');
  assert.deepEqual(await cacheNames(page), ['site-own'], "no swcache cache left; the site's own intact");
  await page.reload();
  assert.equal(await page.evaluate(() => !!navigator.serviceWorker.controller), false, 'the next navigation has no worker');
});

test('kill switch: a feed answering 410 Gone takes swcache off the site', async () => {
  server.set('/swcache-feed.json', { body: 'gone', status: 404 });
  server.set('/sw.js', {
    body: workerSource(`{ version: 'v1', feed: { url: '/swcache-feed.json' },
      routes: [${PAGE_ROUTE}, { name: 'data', match: '/api/', strategy: 'networkFirst' }] }`),
    headers: JS,
  });
  server.set('/promo/a', { body: 'a' });
  server.set('/api/ping', { body: 'pong', headers: { 'swcache-feed-seq': '7' } });
  assert.deepEqual(await register(page, server.origin), { ok: true });
  await get(page, '/promo/a');
  await waitFor(() => cached(page, '/promo/a', 'promoPages'), 'stored');
  await page.evaluate(() => caches.open('site-own').then((c) => c.put('/mine', new Response('mine'))));
  assert.ok(await page.evaluate(() => navigator.serviceWorker.getRegistration()), 'a 404 feed removes nothing');
  server.set('/swcache-feed.json', { body: 'gone', status: 410 });
  // A response announcing a newer feed makes the worker check it (at most once a second).
  await waitFor(async () => {
    await get(page, '/api/ping');
    return (await page.evaluate(() => navigator.serviceWorker.getRegistration())) === undefined;
  }, 'unregistered after the 410', 15000, 300);
  await waitFor(async () => (await cacheNames(page)).join() === 'site-own', "only the site's own cache left");
  server.resetCounts();
  assert.equal((await get(page, '/promo/a')).body, 'a');
  assert.equal(server.count('/promo/a'), 1, 'served by the network now');
});

test('range requests: 206 byte-exact from a complete cached copy, 416 when unsatisfiable, a network 206 never stored', async () => {
  const file = crypto.randomBytes(100_000);
  server.set('/media/clip.bin', {
    handler: (req, res) => {
      const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range || '');
      if (m) {
        const start = +m[1], end = m[2] ? +m[2] : file.length - 1;
        res.writeHead(206, { 'content-type': 'application/octet-stream', 'content-range': `bytes ${start}-${end}/${file.length}` });
        return res.end(file.subarray(start, end + 1));
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': file.length });
      res.end(file);
    },
  });
  server.set('/sw.js', {
    body: workerSource(`{ version: 'v1', routes: [{ name: 'media', match: '/media/', strategy: 'cacheFirst' }] }`),
    headers: JS,
  });
  assert.deepEqual(await register(page, server.origin), { ok: true });
  const ranged = (range) => page.evaluate(async (r) => {
    const res = await fetch('/media/clip.bin', { headers: { range: r } });
    return { status: res.status, range: res.headers.get('content-range'), bytes: Array.from(new Uint8Array(await res.arrayBuffer())) };
  }, range);
  // Not cached: the network's 206 goes to the page and is not stored.
  const first = await ranged('bytes=0-9');
  assert.equal(first.status, 206);
  assert.deepEqual(first.bytes, [...file.subarray(0, 10)]);
  assert.equal(await cached(page, '/media/clip.bin', 'media'), null, 'a 206 is never stored');
  // A whole fetch stores it; then ranges come from the cache, offline.
  assert.equal((await get(page, '/media/clip.bin')).status, 200);
  await waitFor(() => cached(page, '/media/clip.bin', 'media'), 'stored');
  server.setOffline(true);
  const cases = [['bytes=0-99', 0, 99], ['bytes=99000-', 99000, 99999], ['bytes=-500', 99500, 99999], ['bytes=50000-50000', 50000, 50000], ['bytes=99990-200000', 99990, 99999]];
  for (const [h, start, end] of cases) {
    const r = await ranged(h);
    assert.equal(r.status, 206, h);
    assert.equal(r.range, `bytes ${start}-${end}/100000`, h);
    assert.deepEqual(r.bytes, [...file.subarray(start, end + 1)], `${h}: byte-exact`);
  }
  const none = await ranged('bytes=100000-');
  assert.equal(none.status, 416);
  assert.equal(none.range, 'bytes */100000');
});
