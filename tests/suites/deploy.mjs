// Deploys and operations in any browser: a revisioned deploy downloads only what changed,
// a failed install leaves the old version serving, the update flow across two tabs, the
// offline page and image placeholder, navigation preload, byte-exact ranges (from a
// route's cache or the precache, and a <video> playing a cached file offline), and both
// kill switches (the feed's with pages still calling register()). Written once;
// tests/chromium/, tests/firefox/ and tests/webkit/ run it (tests/e2e/deploy.test.mjs
// has the rest, in Chromium).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { useBrowser } from '../support/harness.mjs';
import { DIST, startServer } from '../support/server.mjs';
import { get, cached, cacheNames, message, waitFor } from '../support/browser.mjs';
import { workerSource, JS } from '../support/worker.mjs';

// 3 s of VP8 video at 160×90 in WebM (20 KB), recorded from a canvas by Chromium's
// MediaRecorder: every engine here decodes it (WebKitGTK through GStreamer).
const CLIP = fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '../support/clip.webm'));
const PAGES = `{ name: 'pages', match: '/promo/', strategy: 'cacheFirst', maxAge: 864e5 }`;

const MODULE_PAGE = `<!doctype html><title>app</title><script type=module>
  import { register, onUpdate, inspect } from '/swcache/swcache-page.js';
  window.updates = [];
  window.controlled = [];
  window.ready = register('/sw.js');
  onUpdate((u) => { window.updates.push(u.worker.scriptURL); window.lastUpdate = u; });
  addEventListener('swcache:controlled', (e) => window.controlled.push(e.detail));
  window.version = async () => (await inspect()).version;
</script>`;

/** /media/clip.webm served with ranges, a cacheFirst `media` route, and the clip stored. */
async function storeClip(t) {
  const { page, server } = t;
  server.set('/media/clip.webm', { handler: rangeHandler(CLIP, 'video/webm') });
  server.set('/sw.js', { body: workerSource(`{ version: 'v1', routes: [{ name: 'media', match: '/media/', strategy: 'cacheFirst' }] }`), headers: JS });
  await t.controlled();
  assert.equal((await get(page, '/media/clip.webm')).status, 200);
  await t.waitStored('/media/clip.webm', 'media');
}

/** A muted `<video>` of /media/clip.webm in `page`, played past 1 s without an error. */
async function playVideo(page) {
  await page.evaluate(() => {
    const v = document.createElement('video');
    v.muted = true;
    v.src = '/media/clip.webm';
    window.video = v;
    window.videoError = null;
    v.onerror = () => { window.videoError = String(v.error && (v.error.message || v.error.code)); };
    document.body.append(v);
    v.play().catch((e) => { window.videoError = String(e); });
  });
  await waitFor(() => page.evaluate(() => window.videoError || window.video.currentTime > 1), 'the video plays past 1 s', 15000);
  assert.equal(await page.evaluate(() => window.videoError), null);
}

export default function deploySuite(engine) {
  const t = useBrowser(engine);
  const name = (s) => `${engine}: ${s}`;

  function deploy(version, revisions, extra = '') {
    const precache = revisions.map((r, i) => ({ url: `/static/f${i}.js`, revision: r }));
    t.server.set('/sw.js', { body: workerSource(`{ version: '${version}', ${extra} precache: ${JSON.stringify(precache)}, routes: [${PAGES}] }`), headers: JS });
  }
  const update = (page = t.page) => page.evaluate(async () => {
    const reg = await navigator.serviceWorker.getRegistration();
    const changed = new Promise((r) => navigator.serviceWorker.addEventListener('controllerchange', r, { once: true }));
    await reg.update();
    await changed;
  });

  test(name('a deploy changing 1 of 10 revisioned files downloads exactly that one; runtime entries survive'), async () => {
    const { page, server } = t;
    for (let i = 0; i < 10; i++) server.set(`/static/f${i}.js`, { body: `f${i} v1` });
    server.set('/promo/a', { body: 'page a' });
    deploy('v1', Array(10).fill('r1'));
    await t.controlled();
    assert.equal(server.countPrefix('/static/'), 10);
    await get(page, '/promo/a');
    await t.waitStored('/promo/a', 'pages');
    server.resetCounts();
    server.set('/static/f4.js', { body: 'f4 v2' });
    deploy('v2', Array(10).fill('r1').map((r, i) => (i === 4 ? 'r2' : r)));
    await update();
    assert.deepEqual(server.requests().filter((r) => r.path.startsWith('/static/')).map((r) => r.path), ['/static/f4.js']);
    server.setOffline(true);
    assert.equal((await get(page, '/static/f4.js')).body, 'f4 v2');
    assert.equal((await get(page, '/static/f5.js')).body, 'f5 v1');
    assert.equal((await get(page, '/promo/a')).body, 'page a', 'the runtime entry survived');
  });

  test(name('a failed install (one 404) leaves v1 serving everything'), async () => {
    const { page, server } = t;
    for (let i = 0; i < 4; i++) server.set(`/static/f${i}.js`, { body: `f${i} v1` });
    deploy('v1', Array(4).fill('r1'));
    await t.controlled();
    server.set('/static/f2.js', { body: 'gone', status: 404 });
    deploy('v2', Array(4).fill('r2'));
    const state = await page.evaluate(async () => {
      const reg = await navigator.serviceWorker.getRegistration();
      await reg.update().catch(() => {});
      const w = reg.installing;
      if (w && w.state !== 'redundant') await new Promise((r) => w.addEventListener('statechange', () => w.state === 'redundant' && r()));
      return { waiting: !!reg.waiting, active: !!reg.active };
    });
    assert.deepEqual(state, { waiting: false, active: true }, 'v2 became redundant, v1 stays active');
    server.setOffline(true);
    for (let i = 0; i < 4; i++) assert.equal((await get(page, `/static/f${i}.js`)).body, `f${i} v1`, `f${i} served by v1`);
  });

  test(name('update flow: two tabs hear of a waiting worker; the one that applies reloads; a third version replaces the waiting one'), async () => {
    const { server } = t;
    server.set('/app', { body: MODULE_PAGE, headers: { 'content-type': 'text/html' } });
    deploy('v1', [], 'waitForClients: true,');
    const a = t.page;
    await a.goto(server.origin + '/app');
    await a.evaluate(() => window.ready);
    assert.ok(await a.evaluate(() => !!navigator.serviceWorker.controller), 'a first visit is controlled at once');
    const b = await t.browser.newPage();
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

    await a.navigatedBy(() => { window.lastUpdate.apply(); });
    await waitFor(() => a.evaluate(() => !!navigator.serviceWorker.controller), 'tab A controlled after reload');
    await a.evaluate(() => window.ready);
    assert.equal(await a.evaluate(() => window.version()), 'v3', 'the newest version took over');
    await waitFor(() => b.evaluate(() => window.controlled.length === 1), 'tab B told it changed hands');
    assert.deepEqual(await b.evaluate(() => window.controlled), [{ external: true }], 'B did not ask: it may reload or show a notice');
    assert.equal(await b.evaluate(() => window.version()), 'v3');

    // B applies v4 without a reload: its own change. Then A applies v5: not B's.
    deploy('v4', [], 'waitForClients: true,');
    await a.evaluate(async () => (await navigator.serviceWorker.getRegistration()).update());
    await waitFor(() => b.evaluate(() => window.updates.length === 3), 'tab B told of v4');
    // (A is told 200 ms after v4 installed, if it still waits then: before B applies it.)
    await waitFor(() => a.evaluate(() => window.updates.length === 1), 'tab A told of v4');
    assert.equal(await b.evaluate(() => window.lastUpdate.apply({ reload: false })), true);
    await waitFor(() => b.evaluate(() => window.controlled.length === 2), 'tab B controlled by v4');
    deploy('v5', [], 'waitForClients: true,');
    await b.evaluate(async () => (await navigator.serviceWorker.getRegistration()).update());
    await waitFor(() => a.evaluate(() => window.updates.length === 2), 'tab A told of v5');
    assert.equal(await a.evaluate(() => window.lastUpdate.apply({ reload: false })), true);
    await waitFor(() => b.evaluate(() => window.controlled.length === 3), 'tab B told it changed hands again');
    assert.deepEqual(await b.evaluate(() => window.controlled), [{ external: true }, { external: false }, { external: true }],
      'B asked for v4 only; v5 came from A');
    assert.equal(await b.evaluate(() => window.version()), 'v5');
  });

  test(name('offline page for a failed navigation with nothing cached; images get the placeholder'), async () => {
    const { page, server } = t;
    server.set('/offline.html', { body: '<h1>You are offline</h1>', headers: { 'content-type': 'text/html' } });
    server.set('/offline.svg', { body: '<svg xmlns="http://www.w3.org/2000/svg" width="7" height="5"/>', headers: { 'content-type': 'image/svg+xml' } });
    server.set('/sw.js', {
      body: workerSource(`{ version: 'v1', offline: { page: '/offline.html', image: '/offline.svg' },
        routes: [${PAGES}, { name: 'images', match: /\\.png$/, strategy: 'cacheFirst' }] }`),
      headers: JS,
    });
    await t.controlled();
    assert.ok(await cached(page, '/offline.html', 'swcache-precache'), 'the offline page is precached');
    server.setOffline(true);
    for (const url of ['/promo/never-visited', '/admin/not-routed']) {
      await page.goto(server.origin + url);
      assert.equal(await page.textContent('h1'), 'You are offline', `${url}: the offline page`);
    }
    const img = await page.evaluate(async () => {
      const el = new Image();
      el.src = '/img/never.png';
      const ok = await el.decode().then(() => true, () => false);
      return { ok, width: el.naturalWidth };
    });
    assert.deepEqual(img, { ok: true, width: 7 }, 'the placeholder answered the image');
    assert.equal((await get(page, '/promo/x.json')).status, 503, 'other requests get the plain error');
  });

  test(name('navigation preload: one request per networkFirst navigation, with the header where the browser has it'), async () => {
    const { page, server } = t;
    server.set('/news/today', { body: '<h1>news</h1>', headers: { 'content-type': 'text/html' } });
    server.set('/sw.js', {
      body: workerSource(`{ version: 'v1', navigationPreload: true, routes: [{ name: 'news', match: '/news/', strategy: 'networkFirst' }] }`),
      headers: JS,
    });
    await t.controlled();
    const enabled = await page.evaluate(async () => {
      const np = (await navigator.serviceWorker.ready).navigationPreload;
      return np ? (await np.getState()).enabled : null;
    });
    server.resetCounts();
    await page.goto(server.origin + '/news/today');
    assert.equal(await page.textContent('h1'), 'news');
    await t.waitStored('/news/today', 'news');
    const seen = server.requests().filter((r) => r.path === '/news/today');
    if (engine === 'webkit') {
      // WebKitGTK 2.50 now and then (about 1 navigation in 3 here) throws away the worker's
      // answer built on the preload response and loads the page from the network itself
      // (a second request, no preload header): the worker never fetches it a second time.
      assert.ok(seen.length <= 2, `at most the browser's own second request (${seen.length})`);
      assert.ok(seen.slice(1).every((r) => r.headers['sec-fetch-mode'] === 'navigate' && !r.headers['service-worker-navigation-preload']), 'a second request is the browser\'s own navigation');
    } else {
      assert.equal(seen.length, 1, 'never a second fetch');
    }
    if (enabled === null) {
      console.log(`# ${engine} has no navigation preload: the worker fetches the navigation itself`);
    } else {
      assert.equal(enabled, true);
      assert.equal(seen[0].headers['service-worker-navigation-preload'], 'true');
    }
    // A navigation no route takes: its preload response answers it (a worker that left it
    // to the browser made the browser send it a second time).
    server.set('/other', { body: '<h1>other</h1>', headers: { 'content-type': 'text/html' } });
    server.resetCounts();
    await page.goto(server.origin + '/other');
    assert.equal(await page.textContent('h1'), 'other');
    const other = server.requests().filter((r) => r.path === '/other');
    if (engine === 'webkit') assert.ok(other.length <= 2, `at most the browser's own second request (${other.length})`);
    else assert.equal(other.length, 1, `one request for an unrouted navigation: ${JSON.stringify(other.map((r) => r.headers['service-worker-navigation-preload'] || '-'))}`);
  });

  test(name('range requests are byte-exact from the cached copy; 416 when unsatisfiable; a network 206 is never stored'), async () => {
    const { page, server } = t;
    const file = Buffer.from(Array.from({ length: 50_000 }, (_, i) => (i * 7919) % 251));
    server.set('/media/clip.bin', { handler: rangeHandler(file, 'application/octet-stream') });
    server.set('/sw.js', { body: workerSource(`{ version: 'v1', routes: [{ name: 'media', match: '/media/', strategy: 'cacheFirst' }] }`), headers: JS });
    await t.controlled();
    const ranged = (range) => page.evaluate(async (r) => {
      const res = await fetch('/media/clip.bin', { headers: { range: r } });
      return { status: res.status, range: res.headers.get('content-range'), bytes: Array.from(new Uint8Array(await res.arrayBuffer())) };
    }, range);
    const first = await ranged('bytes=0-9');
    assert.equal(first.status, 206);
    assert.deepEqual(first.bytes, [...file.subarray(0, 10)]);
    assert.equal(await cached(page, '/media/clip.bin', 'media'), null, 'a 206 is never stored');
    assert.equal((await get(page, '/media/clip.bin')).status, 200);
    await t.waitStored('/media/clip.bin', 'media');
    server.setOffline(true);
    for (const [h, start, end] of [['bytes=0-99', 0, 99], ['bytes=49000-', 49000, 49999], ['bytes=-10', 49990, 49999],
      ['bytes=25000-25000', 25000, 25000], ['bytes=49990-200000', 49990, 49999]]) {
      const r = await ranged(h);
      assert.equal(r.status, 206, h);
      assert.equal(r.range, `bytes ${start}-${end}/50000`, h);
      assert.deepEqual(r.bytes, [...file.subarray(start, end + 1)], h);
    }
    const none = await ranged('bytes=60000-');
    assert.equal(none.status, 416);
    assert.equal(none.range, 'bytes */50000');
    // Several ranges: the whole cached body, 200, read from the same one read of it.
    const several = await ranged('bytes=0-1,5-9');
    assert.equal(several.status, 200);
    assert.equal(several.range, null);
    assert.deepEqual(several.bytes, [...file]);
  });

  test(name('a precached file a route also matches answers range requests offline from the precache'), async () => {
    const { page, server } = t;
    const file = Buffer.from(Array.from({ length: 20_000 }, (_, i) => (i * 31) % 256));
    server.set('/media/intro.bin', { handler: rangeHandler(file, 'application/octet-stream') });
    const config = `{ version: 'v1', precache: ['/media/intro.bin'], routes: [{ name: 'media', match: '/media/', strategy: 'cacheFirst' }] }`;
    server.set('/sw.js', { body: workerSource(config), headers: JS });
    await t.controlled();
    server.setOffline(true);
    const r = await page.evaluate(async () => {
      const res = await fetch('/media/intro.bin', { headers: { range: 'bytes=100-199' } });
      return { status: res.status, range: res.headers.get('content-range'), bytes: Array.from(new Uint8Array(await res.arrayBuffer())) };
    });
    assert.equal(r.status, 206);
    assert.equal(r.range, 'bytes 100-199/20000');
    assert.deepEqual(r.bytes, [...file.subarray(100, 200)]);
  });

  test(name('a <video> plays a cached file offline (its range requests answered from the cache)'), async () => {
    const { page, server } = t;
    await storeClip(t);
    server.setOffline(true);
    server.resetCounts();
    const before = (await message(page, { type: 'GET_STATS' })).routes.media.hits;
    await playVideo(page);
    const played = await page.evaluate(() => ({ t: window.video.currentTime, w: window.video.videoWidth }));
    assert.equal(played.w, 160, 'video frames decoded');
    assert.equal(server.requests().length, 0, 'offline: nothing reached the server');
    const after = (await message(page, { type: 'GET_STATS' })).routes.media.hits;
    assert.ok(after > before, `the media element's requests were cache hits (${before} -> ${after})`);
  });

  // A media element's requests are no-cors, and a copy of such a request loses its Range
  // (a header only the browser may set): the server answered a whole 200 to every range,
  // which Safari does not play, and a 2-byte probe of a long video downloaded all of it.
  test(name('a <video> whose copy an invalidation removed asks the server for ranges, past the HTTP cache'), async () => {
    const { page, server } = t;
    await storeClip(t);
    const done = await message(page, { type: 'CACHE_INVALIDATION', urls: [`${server.origin}/media/clip.webm`], timestamp: new Date().toISOString() });
    assert.equal(done.removed, 1);
    server.resetCounts();
    await playVideo(page);
    const asked = server.requests().filter((r) => r.path === '/media/clip.webm');
    assert.ok(asked.length > 0, 'the media element went to the server');
    for (const r of asked) {
      if (t.can.mediaRanges) assert.match(r.headers.range || 'none', /^bytes=/, 'the media element\'s Range reached the server');
      assert.match(r.headers['cache-control'] || 'none', /max-age=0|no-cache/, 'past the HTTP cache');
    }
  });

  // The same ranged miss past the HTTP cache, where the server redirects the file to
  // another origin (a CDN, a storage service's signed URL): the same-origin copy that
  // keeps Range fails at the redirect, so the request goes again as it came. Before, the
  // video got the engine's 503 for as long as the invalidation's fence held (10 min).
  test(name('a <video> redirected to another origin still plays after an invalidation of its route'), async () => {
    const { page, server } = t;
    const cdn = await startServer();
    try {
      cdn.set('/clip.webm', { handler: rangeHandler(CLIP, 'video/webm') });
      server.set('/media/clip.webm', { status: 302, body: '', headers: { location: `${cdn.origin}/clip.webm` } });
      server.set('/sw.js', { body: workerSource(`{ version: 'v1', routes: [{ name: 'media', match: '/media/', strategy: 'cacheFirst' }] }`), headers: JS });
      await t.controlled();
      const done = await message(page, { type: 'CACHE_INVALIDATION', routes: ['media'], timestamp: new Date().toISOString() });
      assert.equal(done.type, 'CACHE_INVALIDATION_DONE');
      await playVideo(page);
      assert.ok(cdn.count('/clip.webm') > 0, 'the video came from the other origin');
    } finally {
      await cdn.close();
    }
  });

  test(name('kill switch: swcache-remove-sw.js deletes swcache caches only and unregisters'), async () => {
    const { page, server } = t;
    for (let i = 0; i < 2; i++) server.set(`/static/f${i}.js`, { body: `f${i}` });
    deploy('v1', ['a', 'b']);
    await t.controlled();
    await page.evaluate(() => caches.open('site-own').then((c) => c.put('/mine', new Response('mine'))));
    server.set('/sw.js', { body: fs.readFileSync(path.join(DIST, 'swcache-remove-sw.js'), 'utf8'), headers: JS });
    await page.evaluate(async () => (await navigator.serviceWorker.getRegistration()).update());
    let names = [];
    const onlyOwn = async () => {
      names = await cacheNames(page);
      return names.join() === 'site-own';
    };
    await waitFor(onlyOwn, "only the site's own cache left")
      .catch((e) => { throw new Error(`${e.message}; caches: ${names.join(', ')}`); });
    await waitFor(() => page.evaluate(async () => !(await navigator.serviceWorker.getRegistration())), 'unregistered');
    await page.goto(server.origin + '/harness.html');
    assert.equal(await page.evaluate(() => !!navigator.serviceWorker.controller), false, 'the next navigation has no worker');
  });

  test(name('kill switch: a feed answering 410 Gone takes swcache off the site'), async () => {
    const { page, server } = t;
    server.set('/swcache-feed.json', { body: 'gone', status: 404 });
    server.set('/sw.js', {
      body: workerSource(`{ version: 'v1', feed: { url: '/swcache-feed.json' },
        routes: [${PAGES}, { name: 'data', match: '/api/', strategy: 'networkFirst' }] }`),
      headers: JS,
    });
    server.set('/promo/a', { body: 'a' });
    server.set('/api/ping', { body: 'pong', headers: { 'swcache-feed-seq': '7' } });
    await t.controlled();
    await get(page, '/promo/a');
    await t.waitStored('/promo/a', 'pages');
    await page.evaluate(() => caches.open('site-own').then((c) => c.put('/mine', new Response('mine'))));
    assert.ok(await page.evaluate(() => navigator.serviceWorker.getRegistration().then((r) => !!r)), 'a 404 feed removes nothing');
    server.set('/swcache-feed.json', { body: 'gone', status: 410 });
    // A response announcing a newer feed makes the worker check it (at most once a second).
    await waitFor(async () => {
      await get(page, '/api/ping');
      return page.evaluate(async () => !(await navigator.serviceWorker.getRegistration()));
    }, 'unregistered after the 410', 15000, 300);
    await waitFor(async () => (await cacheNames(page)).join() === 'site-own', "only the site's own cache left");
    server.resetCounts();
    assert.equal((await get(page, '/promo/a')).body, 'a');
    assert.equal(server.count('/promo/a'), 1, 'served by the network now');
  });

  // The feed at 410 while the pages still call register(): each view's install asks the
  // feed first and fails, so no visitor downloads the precache (before: the first view
  // installed the worker, whole precache, for its next check to remove it).
  test(name('kill switch: with the feed at 410, pages still calling register() download no precache'), async () => {
    const { page, server } = t;
    for (let i = 0; i < 3; i++) server.set(`/static/f${i}.js`, { body: `f${i}` });
    server.set('/swcache-feed.json', { body: 'gone', status: 410 });
    deploy('v1', ['a', 'b', 'c'], `feed: { url: '/swcache-feed.json' },`);
    server.set('/app', {
      body: `<!doctype html><title>app</title><script type=module>
        import { register } from '/swcache/swcache-page.js';
        window.outcome = register('/sw.js').then(() => 'controlled', (e) => e.message);
      </script>`,
      headers: { 'content-type': 'text/html' },
    });
    for (let i = 0; i < 3; i++) {
      await page.goto(server.origin + '/app');
      assert.match(await page.evaluate(() => window.outcome), /the feed answered 410 Gone/, "register() rejects with the worker's reason");
    }
    assert.equal(server.countPrefix('/static/'), 0, 'no precache download');
    assert.equal(await page.evaluate(async () => !!(await navigator.serviceWorker.getRegistration())), false, 'no registration stays');
  });
}

/** Answers a Range header with a 206 (as a media server does), else the whole file. */
function rangeHandler(file, type) {
  return (req, res) => {
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range || '');
    if (m) {
      const start = +m[1], end = m[2] ? Math.min(+m[2], file.length - 1) : file.length - 1;
      res.writeHead(206, { 'content-type': type, 'content-range': `bytes ${start}-${end}/${file.length}`, 'accept-ranges': 'bytes' });
      return res.end(file.subarray(start, end + 1));
    }
    res.writeHead(200, { 'content-type': type, 'content-length': file.length, 'accept-ranges': 'bytes' });
    res.end(file);
  };
}
