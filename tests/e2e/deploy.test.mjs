// End-to-end: deploys in headless Chromium. Revisioned precache with the real
// swcache-manifest command, the offline page (the navigation's status, the placeholder's
// resource timing) and the removal worker clearing a runtime cache before it unregisters.
// An open tab of the previous build loading its content-hashed chunks after a deploy.
// Failed installs, the update flow across tabs, navigation preload, ranged requests and
// the feed's kill switch are in the shared suite (tests/suites/deploy.mjs, run in
// Chromium by tests/chromium/).
import { test, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { startServer, ROOT, DIST } from '../support/server.mjs';
import { launch, register, get, cached, cacheNames, waitFor } from '../support/browser.mjs';
import { workerSource, JS } from '../support/worker.mjs';

const MANIFEST = path.join(ROOT, 'target/release/swcache-manifest');
const PAGE_ROUTE = `{ name: 'promoPages', match: /^\\/promo\\//, strategy: 'cacheFirst', maxAge: 864e5 }`;

let server, chrome, context, page, cdp, dir;
const status = new Map();

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
  cdp = await context.newCDPSession(page);
  status.clear();
  cdp.on('ServiceWorker.workerVersionUpdated', ({ versions }) => {
    for (const v of versions) status.set(v.versionId, v.runningStatus);
  });
  await cdp.send('ServiceWorker.enable');
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

function deploy(version, precache) {
  server.set('/sw.js', {
    body: workerSource(`{ version: '${version}', precache: ${JSON.stringify(precache)}, routes: [${PAGE_ROUTE}] }`),
    headers: JS,
  });
}

/** Asks the browser for the new worker and waits until it controls the page. */
async function update() {
  return page.evaluate(async () => {
    const reg = await navigator.serviceWorker.getRegistration();
    const changed = new Promise((r) => navigator.serviceWorker.addEventListener('controllerchange', r, { once: true }));
    await reg.update();
    await changed;
  });
}

async function stopWorkers() {
  await cdp.send('ServiceWorker.stopAllWorkers');
  await waitFor(() => status.size > 0 && [...status.values()].every((s) => s === 'stopped'), 'every worker stopped');
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
    return { loaded: el.complete && el.naturalWidth >= 0, status: r?.responseStatus };
  });
  assert.equal(img.status, 200, 'the placeholder answered the image');
  assert.equal((await get(page, '/promo/x.json')).status, 503, 'other requests get the plain error');
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

// In an emergency the feed answers 410 while the pages still call register(). Before, a
// visitor's first page view installed the worker (the whole precache downloaded), the
// next one's feed check removed it, and register() brought the registration back
// (Chromium; a browser that clears it installs again at the next view). Now the install
// checks the feed first and fails: no precache download, no registration.
test('kill switch: with the feed at 410, pages still calling register() download no precache', async () => {
  const files = build(3);
  server.set('/swcache-feed.json', { body: 'gone', status: 410 });
  server.set('/sw.js', {
    body: workerSource(`{ version: 'v1', feed: { url: '/swcache-feed.json' }, precache: ${JSON.stringify(files)}, routes: [${PAGE_ROUTE}] }`),
    headers: JS,
  });
  server.set('/app', {
    body: `<!doctype html><title>app</title><script type=module>
      import { register } from '/swcache/swcache-page.js';
      window.outcome = register('/sw.js').then(() => 'controlled', (e) => e.message);
    </script>`,
    headers: { 'content-type': 'text/html' },
  });
  const outcomes = [];
  for (let i = 0; i < 3; i++) {
    await page.goto(server.origin + '/app');
    outcomes.push(await page.evaluate(() => window.outcome));
    await waitFor(() => page.evaluate(async () => !(await navigator.serviceWorker.getRegistration())), 'no registration', 5000)
      .catch(() => {});
  }
  const downloads = server.countPrefix('/static/');
  assert.equal(downloads, 0, `no precache download (register(): ${outcomes.join(' | ')})`);
  assert.equal(await page.evaluate(async () => !!(await navigator.serviceWorker.getRegistration())), false, 'no registration stays');
  for (const o of outcomes) assert.match(o, /the feed answered 410 Gone/, "register() rejects with the worker's reason");
  assert.ok(server.count('/swcache-feed.json') >= 3, 'each install checked the feed');
});

// A Vite-like build: a page, its entry chunk and a route chunk it imports on a click, the
// chunks named by their content (revision: null). The files of older builds are gone from
// the server, as a deploy that replaces its output directory leaves them.
function viteBuild(tag, gone = []) {
  const html = `<!doctype html><title>${tag}</title><script type=module src="/assets/main.${tag}.js"></script>`;
  server.set('/app', { body: html, headers: { 'content-type': 'text/html' } });
  server.set(`/assets/main.${tag}.js`, { body: `window.build = '${tag}'; window.openRoute = () => import('/assets/Route.${tag}.js');`, headers: { 'content-type': 'text/javascript' } });
  server.set(`/assets/Route.${tag}.js`, { body: `export default 'route of build ${tag}';`, headers: { 'content-type': 'text/javascript' } });
  for (const old of gone) {
    for (const f of [`/assets/main.${old}.js`, `/assets/Route.${old}.js`]) server.set(f, { body: 'not found', status: 404 });
  }
  return ['/app', { url: `/assets/main.${tag}.js`, revision: null }, { url: `/assets/Route.${tag}.js`, revision: null }];
}

/** update(), then waits for the new worker's activate event to end (its cleanup). */
async function activated() {
  await update();
  await waitFor(() => page.evaluate(async () => (await navigator.serviceWorker.getRegistration()).active?.state === 'activated'), 'activated');
}

const precacheKeys = () => page.evaluate(async () =>
  (await (await caches.open('swcache-precache')).keys()).map((r) => new URL(r.url).pathname + new URL(r.url).search).sort());

// On a networkFirst or networkOnly route the old chunk is asked of the server, whose 404
// (the deploy deleted it) gives way to the kept copy.
const everything = (strategy) => `{ name: 'pages', match: /^\\/(?!swcache\\/)/, strategy: '${strategy}' }`;
for (const [label, routes] of [
  ['no route takes the chunks', PAGE_ROUTE],
  ['a cacheFirst route takes them', `{ name: 'pages', match: /^\\/(?!swcache\\/)/, strategy: 'cacheFirst', maxAge: 864e5 }`],
  ['a networkFirst route takes them', everything('networkFirst')],
  ['a networkOnly route takes them', everything('networkOnly')],
]) {
  const asksServer = /network/.test(routes);
  test(`an open tab of the previous build still loads its content-hashed chunks after a deploy (${label}); one build back only`, async () => {
    const deployBuild = (version, precache) => server.set('/sw.js', {
      body: workerSource(`{ version: '${version}', precache: ${JSON.stringify(precache)}, routes: [${routes}] }`),
      headers: JS,
    });
    deployBuild('v1', viteBuild('AAA111'));
    assert.deepEqual(await register(page, server.origin), { ok: true });
    await page.goto(server.origin + '/app');
    assert.equal(await page.evaluate(() => window.build), 'AAA111');

    // The deploy: a new build (new chunk names), the old files deleted from the server. The
    // new worker activates (skipWaiting) and takes the open tab; the browser stops it before
    // the visitor clicks.
    deployBuild('v2', viteBuild('BBB222', ['AAA111']));
    await activated();
    await stopWorkers();
    server.resetCounts();
    const got = await page.evaluate(() => window.openRoute().then((m) => m.default, (e) => `failed: ${e.message}`));
    assert.equal(got, 'route of build AAA111', "the old tab's dynamic import is answered from the kept copy");
    assert.equal(server.count('/assets/Route.AAA111.js'), asksServer ? 1 : 0, asksServer ? 'asked of the server once (404)' : 'without asking the server');
    const kept = await precacheKeys();
    assert.ok(kept.includes('/assets/Route.AAA111.js'), `the previous build's chunk is kept (${kept})`);
    assert.equal(kept.filter((k) => k.startsWith('/app?')).length, 1, "a revisioned entry is never kept: the old '/app' is gone");
    // A new tab runs the new build.
    const fresh = await context.newPage();
    await fresh.goto(server.origin + '/app');
    assert.equal(await fresh.evaluate(() => window.openRoute().then((m) => m.default)), 'route of build BBB222');
    await fresh.close();

    // The next deploy: build AAA111 goes (at most one build back), BBB222 is kept in its turn.
    deployBuild('v3', viteBuild('CCC333', ['BBB222']));
    await activated();
    const after = await precacheKeys();
    assert.ok(!after.some((k) => k.includes('AAA111')), `two builds back is deleted (${after})`);
    assert.ok(after.includes('/assets/Route.BBB222.js'), `the previous build's chunk is kept (${after})`);
    assert.equal((await get(page, '/assets/Route.AAA111.js')).status, 404, 'the server answers for what is no longer kept');
  });
}
