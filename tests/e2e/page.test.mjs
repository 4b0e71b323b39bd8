// End-to-end: the page module as a site owner meets it, in Chromium: what a page loads
// and its byte budget, errors that reach the page console, every bad hydrate() option.
// Helpers that never hang are in the shared suite (tests/suites/page.mjs, run in
// Chromium by tests/chromium/).
import { test, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { startServer, DIST } from '../support/server.mjs';
import { launch, waitFor } from '../support/browser.mjs';
import { workerSource, JS } from '../support/worker.mjs';

let server, chrome, bfChrome, context, page, logs;

before(async () => {
  server = await startServer();
  chrome = await launch();
});
after(async () => {
  await bfChrome?.close();
  await chrome?.close();
  await server?.close();
});
beforeEach(async () => {
  context = await chrome.newContext();
  page = await context.newPage();
  logs = [];
  page.on('console', (m) => logs.push(m.text()));
});
afterEach(async () => {
  await context?.close();
});

function html(script, body = '') {
  return {
    headers: { 'content-type': 'text/html; charset=utf-8' },
    body: `<!doctype html><meta charset="utf-8"><body>${body}<script type="module">${script}</script></body>`,
  };
}

// A hand-made live stream at `path`: every response it opens, kept open (`from`: the
// `lastEventId` the page resumed from, or null), for the test to write events to.
function liveStreams(path) {
  const streams = [];
  server.set(path, {
    handler: (req, res) => {
      res.from = new URL(req.url, server.origin).searchParams.get('lastEventId');
      streams.push(res);
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
      res.write(': open\n\n');
    },
  });
  return streams;
}

const gzip = (file) => zlib.gzipSync(fs.readFileSync(path.join(DIST, file)), { level: 9 }).length;

test('page module: register and hover prefetch load no wasm; hydrate fetches it; the bytes are the budgeted files', async () => {
  server.set('/sw.js', { body: workerSource(`{ version: 'v1', routes: [{ name: 'pages', match: /^\\/p\\//, strategy: 'cacheFirst' }] }`), headers: JS });
  server.set('/p/a', html(`
    import { register, prefetchOnHover } from '/swcache/swcache-page.js';
    window.registered = register('/sw.js').then(() => true, (e) => e.message);
    prefetchOnHover('a');`, '<a href="/p/b">b</a>'));
  server.set('/p/b', 'b');
  await page.goto(server.origin + '/p/a');
  assert.equal(await page.evaluate(() => window.registered), true);
  await page.hover('a');
  await waitFor(() => server.count('/p/b') === 1, 'the hovered link prefetched by the worker');
  const loaded = await page.evaluate(() => performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname).filter((p) => p.startsWith('/swcache/')));
  assert.deepEqual(loaded, ['/swcache/swcache-page.js'], 'no wasm without hydrate()');
  // A page that hydrates loads the scheduler as well (wasm-bindgen's glue and the wasm).
  server.set('/p/h', html(`
    import { hydrate } from '/swcache/swcache-page.js';
    hydrate({ render: (el, d) => { el.textContent = 'v' + d.v; } });`, '<div data-component-id="x" data-component-type="HERO_BANNER" data-src="/api/x"></div>'));
  server.set('/api/x', { body: '{"v":1}', headers: { 'content-type': 'application/json' } });
  await page.goto(server.origin + '/p/h');
  await waitFor(() => page.evaluate(() => document.querySelector('[data-component-id=x]').textContent === 'v1'), 'hydrated');
  const files = await page.evaluate(() => performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname).filter((p) => p.startsWith('/swcache/')));
  assert.deepEqual(files.sort(), ['/swcache/swcache-hydrate.js', '/swcache/swcache-hydrate.wasm', '/swcache/swcache-page.js']);
  const total = gzip('swcache-page.js') + gzip('swcache-hydrate.js') + gzip('swcache-hydrate.wasm');
  console.log(`# page module: swcache-page.js ${gzip('swcache-page.js')} B gzip; with hydrate() ${total} B gzip`);
  // Within the build's byte budget for it (bench/budgets.json, the one place it is set).
  const budget = JSON.parse(fs.readFileSync(path.join(DIST, '..', 'bench', 'budgets.json'), 'utf8'))['dist/swcache-page.js'].max;
  assert.ok(gzip('swcache-page.js') <= budget, `what every page loads stays small: ${gzip('swcache-page.js')} B gzip, budget ${budget}`);
});

test("page module: register() rejects with the worker's own config error, shown in the page console", async () => {
  server.set('/bad-sw.js', {
    body: workerSource(`{ version: 'v1', routes: [{ name: 'pages', match: /^\\//, strategy: 'cacheFirts' }] }`),
    headers: JS,
  });
  server.set('/bad', html(`
    import { register, stats } from '/swcache/swcache-page.js';
    window.result = register('/bad-sw.js', { timeout: 3000 }).then(() => 'registered', (e) => e.message);
    window.after = window.result.then(() => stats({ timeout: 500 }).then(() => 'resolved', (e) => e.message));`));
  await page.goto(server.origin + '/bad');
  const msg = await page.evaluate(() => window.result);
  assert.match(msg, /^swcache config: route 'pages' \(routes\[0\]\) field 'strategy' must be one of cacheFirst/);
  assert.ok(logs.some((l) => l.startsWith("swcache config: route 'pages'")), 'the config error is in the page console');
  assert.match(await page.evaluate(() => window.after), /did not reply within 500 ms/, 'a later helper rejects too');
});

test("page module: on a page already controlled, an update with a bad config is reported in the page's console", async () => {
  const worker = (strategy) => ({ body: workerSource(`{ version: '${strategy}', routes: [{ name: 'pages', match: /^\\/up\\//, strategy: '${strategy}' }] }`), headers: JS });
  server.set('/sw-up.js', worker('cacheFirst'));
  server.set('/up/page', html(`
    import { register } from '/swcache/swcache-page.js';
    window.registered = register('/sw-up.js', { timeout: 5000 }).then(() => true, (e) => e.message);`));
  await page.goto(server.origin + '/up/page');
  assert.equal(await page.evaluate(() => window.registered), true);
  // The next deploy has a typo; the visitor comes back (the navigation checks for it).
  server.set('/sw-up.js', worker('networkFirts'));
  // The navigation's update check can fail before the module runs (told to no page):
  // the next navigation checks again.
  const reported = () => logs.some((l) => l.startsWith('swcache: the new worker failed'));
  for (let visit = 0; visit < 3 && !reported(); visit++) {
    await page.reload();
    assert.equal(await page.evaluate(() => window.registered), true, 'the old worker still controls the page');
    await waitFor(reported, 'the failed update reported in the page console', 5000).catch(() => {});
  }
  assert.ok(reported(), 'the failed update reported in the page console within three visits');
  const line = logs.find((l) => l.startsWith('swcache: the new worker failed'));
  assert.match(line, /the old one goes on serving\): swcache config: route 'pages' \(routes\[0\]\) field 'strategy' must be one of/);
});

// A page at /<name>/page that registers /<name>-sw.js (`worker`: how it is served): the
// registration must still resolve (the site works from the network); the engine's state
// in stats().
async function engineOf(name, worker) {
  server.set(`/${name}-sw.js`, worker);
  server.set(`/${name}/page`, html(`
    import { register, stats } from '/swcache/swcache-page.js';
    window.result = register('/${name}-sw.js', { timeout: 5000 }).then(() => 'registered', (e) => e.message);
    window.engine = window.result.then(() => stats().then((s) => s.engine));`));
  await page.goto(`${server.origin}/${name}/page`);
  assert.equal(await page.evaluate(() => window.result), 'registered', 'the site keeps working');
  return page.evaluate(() => window.engine);
}

test('page module: an engine that cannot load (a CSP without wasm-unsafe-eval on the worker script) says so in the page console', async () => {
  // A site-wide Content-Security-Policy header reaches the worker script too: without
  // 'wasm-unsafe-eval' the engine's wasm does not compile and the site works from the network.
  const engine = await engineOf('csp', {
    body: workerSource(`{ version: 'v1', routes: [{ name: 'pages', match: /^\\/csp\\//, strategy: 'cacheFirst' }] }`),
    headers: { ...JS, 'content-security-policy': "script-src 'self'" },
  });
  assert.equal(engine, 'failed-open');
  const said = () => logs.find((l) => l.startsWith('swcache: engine failed'));
  await waitFor(said, 'the failure in the page console', 2000).catch(() => {});
  assert.ok(said(), `the page console says the engine failed: ${JSON.stringify(logs)}`);
  assert.match(said(), /requests now go straight to the network.*(CompileError|wasm|WebAssembly)/i);
});

test('page module: a worker script that never calls swcache.start(config) says so in the page console', async () => {
  // The engine is loaded but never started (the call left out, or put in an event listener).
  const engine = await engineOf('unstarted', {
    body: `importScripts('/swcache/swcache-sw.js');\nself.config = { version: 'v1', routes: [] };\n`,
    headers: JS,
  });
  assert.equal(engine, 'not-started');
  const said = () => logs.find((l) => l.includes('never called swcache.start'));
  await waitFor(said, 'the mistake in the page console', 2000).catch(() => {});
  assert.ok(said(), `the page console says the worker never started the engine: ${JSON.stringify(logs)}`);
});

test("page module: a helper whose worker is not swcache's (another tool's, still registered) names it when it gets no reply", async () => {
  server.set('/other-sw.js', {
    body: "self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim()));\nself.addEventListener('fetch', () => {});\n",
    headers: JS,
  });
  server.set('/other/page', html(`
    import { stats } from '/swcache/swcache-page.js';
    navigator.serviceWorker.register('/other-sw.js');
    window.result = new Promise((r) => navigator.serviceWorker.addEventListener('controllerchange', r, { once: true }))
      .then(() => stats({ timeout: 800 })).then(() => 'resolved', (e) => e.message);`));
  await page.goto(server.origin + '/other/page');
  assert.equal(await page.evaluate(() => window.result),
    `swcache: the worker ${server.origin}/other-sw.js did not reply within 800 ms`);
});

test('page module: a new version that installed is not reported as failed when a later one replaces it', async () => {
  const worker = (v) => ({ body: workerSource(`{ version: '${v}', routes: [{ name: 'pages', match: /^\\/next\\//, strategy: 'cacheFirst' }] }`), headers: JS });
  server.set('/sw-next.js', worker('n1'));
  server.set('/next/page', html(`
    import { register } from '/swcache/swcache-page.js';
    window.registered = register('/sw-next.js').then(() => true, (e) => e.message);
    const until = (w, state) => new Promise((resolve) => {
      const check = () => { if (w.state === state) { w.removeEventListener('statechange', check); resolve(state); } };
      w.addEventListener('statechange', check);
      check();
    });
    window.workers = [];
    // The browser finds the deployed version (as a visit's navigation does), which installs
    // and takes over (skipWaiting, claim).
    window.deployed = async () => {
      const reg = await navigator.serviceWorker.getRegistration();
      const found = new Promise((resolve) => reg.addEventListener('updatefound', () => resolve(reg.installing), { once: true }));
      await reg.update();
      const w = await found;
      window.workers.push(w);
      return until(w, 'activated');
    };
    window.replaced = () => until(window.workers[0], 'redundant');`));
  await page.goto(server.origin + '/next/page');
  assert.equal(await page.evaluate(() => window.registered), true);
  await page.reload(); // controlled: register() watches for a failing update
  assert.equal(await page.evaluate(() => window.registered), true);
  server.set('/sw-next.js', worker('n2'));
  assert.equal(await page.evaluate(() => window.deployed()), 'activated');
  // Deployed again while the page is open: n2, which installed and served, is replaced.
  server.set('/sw-next.js', worker('n3'));
  assert.equal(await page.evaluate(() => window.deployed()), 'activated');
  assert.equal(await page.evaluate(() => window.replaced()), 'redundant');
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(logs.filter((l) => l.startsWith('swcache: the new worker failed')), [], 'no failure reported');
});

test('page module: hydrate() with a bad option rejects naming it, and hydrates nothing', async () => {
  const cases = {
    "{ preload: 'two' }": /option 'preload' must be a non-negative number/,
    '{ rootMargn: 10 }': /unknown option 'rootMargn'/,
    "{ types: { JOB_LISTINGS: { trigger: 'soon' } } }": /option 'types\.JOB_LISTINGS\.trigger' must be 'visible'/,
    "{ types: { JOB_LISTINGS: { poll: '30s' } } }": /option 'types\.JOB_LISTINGS\.poll' must be a number of milliseconds/,
    "{ render: 'not a function' }": /option 'render' must be a function/,
    // Checked by the browser's IntersectionObserver, named by the page module.
    "{ rootMargin: 'wide' }": /option 'rootMargin' "wide": .*rootMargin/,
  };
  server.set('/api/y', { body: '{}', headers: { 'content-type': 'application/json' } });
  for (const [opts, want] of Object.entries(cases)) {
    server.set('/hyd-bad', html(`
      import { hydrate } from '/swcache/swcache-page.js';
      window.result = hydrate(${opts}).ready.then(() => 'ok', (e) => e.message);`,
      '<div data-component-id="y" data-component-type="JOB_LISTINGS" data-src="/api/y" data-hydrate="eager"></div>'));
    server.resetCounts();
    await page.goto(server.origin + '/hyd-bad');
    const msg = await page.evaluate(() => window.result);
    assert.match(msg, want, opts);
    assert.ok(msg.startsWith('swcache hydrate: '), msg);
    assert.equal(server.count('/api/y'), 0, `${opts}: nothing hydrated`);
  }
});

test('page module: hydrate() where the scheduler cannot load (its wasm answers 404, or the browser runs no WebAssembly) rejects ready saying why, and never throws', async () => {
  const body = '<div data-component-id="c" data-component-type="HERO_BANNER" data-src="/hyd-none/data" data-hydrate="eager"></div>';
  const script = (before) => `${before}
    import { hydrate } from '/swcache/swcache-page.js';
    window.errors = [];
    addEventListener('unhandledrejection', (e) => window.errors.push(String(e.reason)));
    try {
      const h = hydrate({ render: () => {} });
      window.result = h.ready.then(() => 'hydrated', (e) => e.message);
    } catch (e) {
      window.result = 'threw: ' + e;
    }`;
  // A deploy that left the wasm out: named with its status, not "expected magic word".
  server.set('/swcache/swcache-hydrate.wasm', { status: 404, body: 'Not Found' });
  try {
    server.set('/hyd-none/404', html(script(''), body));
    await page.goto(server.origin + '/hyd-none/404');
    assert.equal(await page.evaluate(() => window.result), `swcache hydrate: ${server.origin}/swcache/swcache-hydrate.wasm answered 404`);
    assert.deepEqual(await page.evaluate(() => window.errors), [], 'no unhandled rejection');
  } finally {
    server.set('/swcache/swcache-hydrate.wasm', {
      handler: (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/wasm', 'cache-control': 'no-cache' });
        res.end(fs.readFileSync(path.join(DIST, 'swcache-hydrate.wasm')));
      },
    });
  }
  // No WebAssembly at all (iOS Lockdown Mode, a jitless engine): the rest of the page runs.
  server.set('/hyd-none/nowasm', html(script('delete globalThis.WebAssembly;'), body));
  await page.goto(server.origin + '/hyd-none/nowasm');
  assert.equal(await page.evaluate(() => window.result), 'swcache hydrate: no WebAssembly here, so nothing is hydrated');
  assert.equal(server.count('/hyd-none/data'), 0);
});

test('page module: a page that called hydrate() learns its URL was invalidated while the scheduler has not loaded', async () => {
  server.set('/sw-inv.js', { body: workerSource(`{ version: 'v1', routes: [{ name: 'pages', match: /^\\/inv\\//, strategy: 'cacheFirst' }] }`), headers: JS });
  // The scheduler's download stalls (a connection that never answers).
  let stalled = true;
  server.set('/swcache/swcache-hydrate.wasm', {
    handler: (_req, res) => {
      if (stalled) return;
      res.writeHead(200, { 'content-type': 'application/wasm', 'cache-control': 'no-cache' });
      res.end(fs.readFileSync(path.join(DIST, 'swcache-hydrate.wasm')));
    },
  });
  server.set('/inv/page', html(`
    import { register, hydrate, invalidate } from '/swcache/swcache-page.js';
    window.seen = [];
    addEventListener('swcache:invalidated', (e) => window.seen.push(e.detail.page));
    window.done = register('/sw-inv.js').then(async () => {
      hydrate({ render: () => {} });
      return (await invalidate({ urls: [location.pathname] })).type;
    }, (e) => e.message);`, '<div data-component-id="c" data-component-type="HERO_BANNER" data-src="/inv/data"></div>'));
  try {
    await page.goto(server.origin + '/inv/page');
    assert.equal(await page.evaluate(() => window.done), 'CACHE_INVALIDATION_DONE');
    await waitFor(() => page.evaluate(() => window.seen.length > 0), 'swcache:invalidated for this page', 3000);
    assert.deepEqual(await page.evaluate(() => window.seen), [true]);
  } finally {
    stalled = false;
  }
});

test('page module: hover prefetch sends same-origin http(s) links only, an SVG link by its URL', async () => {
  server.set('/sw-hover.js', { body: workerSource(`{ version: 'v1', routes: [{ name: 'h', match: /^\\/h\\//, strategy: 'cacheFirst' }] }`), headers: JS });
  for (const p of ['/h/svg', '/h/ok']) server.set(p, p);
  server.set('/h/page', html(`
    import { register, prefetchOnHover } from '/swcache/swcache-page.js';
    window.sent = [];
    const postMessage = ServiceWorker.prototype.postMessage;
    ServiceWorker.prototype.postMessage = function (m, ...rest) {
      if (m?.type === 'PREFETCH') window.sent.push(...m.urls);
      return postMessage.call(this, m, ...rest);
    };
    document.getElementById('blob').href = URL.createObjectURL(new Blob(['x']));
    prefetchOnHover('a[data-prefetch]', { delay: 0 });
    window.registered = register('/sw-hover.js').then(() => true, (e) => e.message);`,
  `<a id="blob" data-prefetch style="display:block;height:40px">blob</a>
   <svg width="200" height="40" style="display:block"><a href="/h/svg" data-prefetch><rect width="200" height="40"/></a></svg>
   <a id="ok" href="/h/ok" data-prefetch style="display:block;height:40px">ok</a>`));
  await page.goto(server.origin + '/h/page');
  await page.waitForFunction(() => !!window.registered);
  assert.equal(await page.evaluate(() => window.registered), true);
  await page.hover('#blob');
  await page.hover('svg rect');
  await waitFor(() => server.count('/h/svg') === 1, 'the SVG link prefetched by the worker');
  await page.hover('#blob');
  await page.hover('#ok');
  await waitFor(() => server.count('/h/ok') === 1, 'the plain link prefetched');
  assert.deepEqual(await page.evaluate(() => window.sent), [`${server.origin}/h/svg`, `${server.origin}/h/ok`], 'a blob: link is never sent');
});

// A worker script served from a folder has that folder as its scope: it never controls a
// page outside it. register() waited 10 s on a first visit, then resolved on later ones as
// if controlled, with nothing ever cached and every helper timing out.
test('page module: register() of a worker whose scope leaves the page out rejects at once, naming the scope', async () => {
  server.set('/scoped/sw.js', { body: workerSource("{ version: 's1', routes: [] }"), headers: JS });
  server.set('/outside/page', html(`
    import { register } from '/swcache/swcache-page.js';
    const t0 = performance.now();
    window.registered = register('/scoped/sw.js').then(() => 'resolved', (e) => ({ message: e.message, ms: performance.now() - t0 }));`));
  for (const visit of ['first', 'next']) {
    await page.goto(server.origin + '/outside/page');
    const got = await page.evaluate(() => window.registered);
    assert.match(got.message ?? got, /scope .*\/scoped\/ does not include this page/, visit);
    assert.ok(got.ms < 5000, `${visit} visit: rejected after ${got.ms} ms`);
    assert.ok(logs.some((l) => l.includes('does not include this page')), 'said in the page console');
  }
});

// Without waitForClients a new version installs, waits an instant, then activates by
// itself: onUpdate() offered it (an update prompt whose apply() did nothing) on every deploy.
// And a first visit's page, claimed by its first worker, got swcache:controlled as if a new
// version had taken it over.
test('page module: a deploy without waitForClients is not offered by onUpdate(), and a first claim is no swcache:controlled', async () => {
  const worker = (v) => ({ body: workerSource(`{ version: '${v}', routes: [] }`), headers: JS });
  server.set('/sw-auto.js', worker('a1'));
  server.set('/auto/page', html(`
    import { register, onUpdate } from '/swcache/swcache-page.js';
    window.offered = [];
    window.controlled = [];
    addEventListener('swcache:controlled', (e) => window.controlled.push(e.detail.external));
    onUpdate((u) => window.offered.push(u.worker.scriptURL));
    window.registered = register('/sw-auto.js').then(() => true, (e) => e.message);
    window.deploy = async () => {
      const reg = await navigator.serviceWorker.getRegistration();
      const taken = new Promise((r) => navigator.serviceWorker.addEventListener('controllerchange', r, { once: true }));
      await reg.update();
      await taken;
      await new Promise((r) => setTimeout(r, 600));
      return { offered: window.offered, controlled: window.controlled };
    };`));
  await page.goto(server.origin + '/auto/page');
  assert.equal(await page.evaluate(() => window.registered), true);
  assert.deepEqual(await page.evaluate(() => window.controlled), [], 'a first claim is no new version');
  server.set('/sw-auto.js', worker('a2'));
  assert.deepEqual(await page.evaluate(() => window.deploy()), { offered: [], controlled: [true] });
});

test('page module: onUpdate() reports a worker that was already installing when it was called; an infinite timeout waits', async () => {
  server.set('/u/slow.js', { body: 'slow', delay: 1500 });
  const sw = (v, precache) => ({ body: workerSource(`{ version: '${v}', waitForClients: true, precache: ${JSON.stringify(precache)}, routes: [] }`), headers: JS });
  server.set('/sw-update.js', sw('u1', []));
  server.set('/u/page', html(`
    import { register, onUpdate, stats } from '/swcache/swcache-page.js';
    window.registered = register('/sw-update.js').then(() => true, (e) => e.message);
    window.go = async () => {
      const reg = await navigator.serviceWorker.getRegistration();
      await reg.update();
      const installing = !!reg.installing && !reg.waiting; // its updatefound has fired already
      const update = await Promise.race([
        new Promise((resolve) => onUpdate((u) => resolve(u.worker.scriptURL))),
        new Promise((resolve) => setTimeout(() => resolve('not reported within 8 s'), 8000)),
      ]);
      return { installing, update, stats: (await stats({ timeout: Infinity })).type };
    };`));
  await page.goto(server.origin + '/u/page');
  await page.waitForFunction(() => !!window.registered);
  assert.equal(await page.evaluate(() => window.registered), true);
  // The next version's install takes 1.5 s (its precache is slow to answer).
  server.set('/sw-update.js', sw('u2', ['/u/slow.js']));
  const got = await page.evaluate(() => window.go());
  assert.deepEqual(got, { installing: true, update: `${server.origin}/sw-update.js`, stats: 'STATS' });
});


// The feed's 410 unregisters the worker, which goes on controlling the open pages until
// they navigate and answers their messages (removed: 0, no entries). The page module
// asked `navigator.serviceWorker.ready`, which never resolves once no registration is
// left: invalidate(), inspect() and stats() timed out instead.
test('page module: after the feed took swcache off, the helpers still reach the worker that controls the page', async () => {
  server.set('/k/feed.json', { body: JSON.stringify({ swcacheFeed: 1, epoch: 'k', seq: 0, entries: [] }), headers: { 'content-type': 'application/json' } });
  server.set('/sw-k.js', {
    body: workerSource(`{ version: 'v1', feed: { url: '/k/feed.json' }, routes: [{ name: 'pages', match: '/k/', strategy: 'cacheFirst' }] }`),
    headers: JS,
  });
  server.set('/k/page', html(`
    import { register, invalidate, inspect, stats } from '/swcache/swcache-page.js';
    window.registered = register('/sw-k.js').then(() => true, (e) => e.message);
    window.ask = async () => {
      const text = (p) => p.then((r) => r.type, (e) => e.message);
      return [await text(invalidate({ all: true })), await text(inspect()), await text(stats())];
    };`));
  server.set('/k/ping', { body: 'pong', headers: { 'swcache-feed-seq': '3' } });
  await page.goto(server.origin + '/k/page');
  await page.waitForFunction(() => !!window.registered);
  assert.equal(await page.evaluate(() => window.registered), true);
  server.set('/k/feed.json', { body: 'gone', status: 410 });
  await waitFor(async () => {
    await page.evaluate(() => fetch('/k/ping', { cache: 'no-store' }));
    return page.evaluate(async () => !(await navigator.serviceWorker.getRegistration()));
  }, 'unregistered after the 410', 15000, 300);
  assert.ok(await page.evaluate(() => !!navigator.serviceWorker.controller), 'the worker still controls the page');
  assert.deepEqual(await page.evaluate(() => window.ask()), ['CACHE_INVALIDATION_DONE', 'STATE', 'STATS']);
});
test('page module: subscribe() opens the live feed again after the browser gave up on it (an HTTP error)', async () => {
  server.set('/sw-live.js', { body: workerSource(`{ version: 'v1', routes: [{ name: 'l', match: /^\\/l\\//, strategy: 'cacheFirst' }] }`), headers: JS });
  server.set('/l/a', 'a');
  let calls = 0;
  server.set('/live-feed', {
    handler: (_req, res) => {
      calls++;
      if (calls === 1) {
        res.writeHead(502, { 'content-type': 'text/plain' });
        return res.end('bad gateway');
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
      res.end('retry: 60000\nid: 1.e\ndata: {"urls":["/l/a"]}\n\n');
    },
  });
  server.set('/l/page', html(`
    import { register, subscribe, stats } from '/swcache/swcache-page.js';
    window.ready = register('/sw-live.js').then(async () => {
      await fetch('/l/a'); // stored, so the entry's invalidation removes something
      while (!(await caches.match('/l/a'))) await new Promise((r) => setTimeout(r, 20));
      subscribe('/live-feed');
      return true;
    }, (e) => e.message);
    window.invalidations = async () => (await stats()).invalidations;`));
  await page.goto(server.origin + '/l/page');
  await page.waitForFunction(() => !!window.ready);
  assert.equal(await page.evaluate(() => window.ready), true);
  await waitFor(() => page.evaluate(() => window.invalidations()).then((n) => n >= 1), 'the entry from the reopened stream applied', 15000, 100);
  assert.equal(calls, 2, 'refused once, opened again once');
  assert.ok(logs.some((l) => l.includes('swcache: the live feed /live-feed closed; reopening it in')), logs.join('\n'));
});

test('page module: subscribe() to a feed that keeps answering an empty stream (a service down behind the nginx block) backs off after ten short streams', async () => {
  // The README's nginx fallback, or the service that cannot read its store: 200, "come
  // back soon" (here in 0.1 s, for a short test; nginx says 1 s), and the end. The
  // browser's own reconnect has no backoff: a visitor asked once a second for as long as
  // the outage lasted.
  server.set('/sw-empty.js', { body: workerSource(`{ version: 'v1', routes: [{ name: 'e', match: /^\\/e\\//, strategy: 'cacheFirst' }] }`), headers: JS });
  server.set('/empty-live', { body: 'retry: 100\n\n', headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-store' } });
  server.set('/e/page', html(`
    import { register, subscribe } from '/swcache/swcache-page.js';
    window.ready = register('/sw-empty.js').then(() => { subscribe('/empty-live'); return true; }, (e) => e.message);`));
  server.resetCounts();
  await page.goto(server.origin + '/e/page');
  assert.equal(await page.evaluate(() => window.ready), true);
  // Ten streams a tenth of a second apart (a restart that short is caught at once), then
  // the module's own wait: one more stream after 2 s, and the next wait twice as long.
  const said = (s) => logs.some((l) => l.includes(`swcache: the live feed /empty-live closed; reopening it in ${s} s`));
  await waitFor(() => said(2), 'the wait of 2 s after ten short streams', 15000, 50);
  assert.equal(server.count('/empty-live'), 10, 'ten short streams before the wait');
  await waitFor(() => said(4), 'the next wait, 4 s', 15000, 50);
  assert.equal(server.count('/empty-live'), 11, 'one stream after the first wait');
});

test('page module: in a sandboxed frame (no allow-same-origin) it loads, register() resolves undefined, and subscribe() opens no stream', async () => {
  // A CDN's copy (Access-Control-Allow-Origin: *): an opaque origin imports it with CORS.
  server.set('/cdn/swcache-page.js', {
    body: fs.readFileSync(path.join(DIST, 'swcache-page.js'), 'utf8'),
    headers: { 'content-type': 'text/javascript', 'access-control-allow-origin': '*' },
  });
  server.set('/sb/frame', html(`
    const origin = document.referrer.replace(/\\/sb\\/top$/, '');
    let said;
    try {
      const m = await import(origin + '/cdn/swcache-page.js');
      said = await m.register('/sw.js').then((r) => 'register: ' + r, (e) => 'rejected: ' + e.message);
      // No worker to hand entries to: a stream would hold one of the host's connections.
      m.subscribe(origin + '/sb/live');
      await new Promise((r) => setTimeout(r, 300));
    } catch (e) {
      said = 'import failed: ' + e.message;
    }
    parent.postMessage(said, '*');`));
  server.set('/sb/top', html(`
    window.said = new Promise((resolve) => addEventListener('message', (e) => resolve(e.data)));`,
  '<iframe sandbox="allow-scripts" src="/sb/frame"></iframe>'));
  server.set('/sb/live', { body: ': open\n\n', headers: { 'content-type': 'text/event-stream', 'access-control-allow-origin': '*' } });
  await page.goto(server.origin + '/sb/top');
  assert.equal(await page.evaluate(() => window.said), 'register: undefined');
  assert.equal(server.countPrefix('/sb/live'), 0, 'no live stream opened');
});

test('page module: after a hard reload (the worker bypassed), register() resolves at once and messages reach the worker', async () => {
  server.set('/sw-hard.js', { body: workerSource(`{ version: 'v1', routes: [{ name: 'hr', match: /^\\/hr\\//, strategy: 'cacheFirst' }] }`), headers: JS });
  server.set('/hr/page', html(`
    import { register, stats } from '/swcache/swcache-page.js';
    const t0 = performance.now();
    window.registered = register('/sw-hard.js').then(
      (reg) => ({ ok: !!reg, ms: performance.now() - t0, controlled: !!navigator.serviceWorker.controller }),
      (e) => ({ error: e.message, ms: performance.now() - t0 }));
    window.stats = () => stats().then((s) => s.type);`));
  await page.goto(server.origin + '/hr/page');
  assert.deepEqual(await page.evaluate(() => window.registered.then((r) => [r.ok, r.controlled])), [true, true]);
  // Ctrl+Shift+R: the browser loads the page past the worker, which does not control it
  // until the next load.
  const cdp = await context.newCDPSession(page);
  await cdp.send('Page.reload', { ignoreCache: true });
  await page.waitForFunction(() => !!window.registered);
  const r = await page.evaluate(() => window.registered);
  assert.equal(r.ok, true, `register() resolved: ${JSON.stringify(r)}`);
  assert.equal(r.controlled, false, 'the hard reload bypassed the worker');
  assert.ok(r.ms < 2000, `at once, not after its timeout: ${Math.round(r.ms)} ms`);
  assert.equal(await page.evaluate(() => window.stats()), 'STATS', 'the worker answers the page');
});

// A site with waitForClients: a new version waits while two tabs are open, and the
// visitor hard-reloads one of them (what a visitor does to get a new version): nothing
// will take that page until the other tab closes, and the active worker answers it.
test('page module: after a hard reload with a new version waiting, register() resolves at once', async () => {
  const sw = (v) => ({ body: workerSource(`{ version: '${v}', waitForClients: true, routes: [{ name: 'hw', match: /^\\/hw\\//, strategy: 'cacheFirst' }] }`), headers: JS });
  server.set('/sw-hw.js', sw('v1'));
  server.set('/hw/page', html(`
    import { register, stats } from '/swcache/swcache-page.js';
    const t0 = performance.now();
    window.registered = register('/sw-hw.js', { timeout: 5000 }).then(
      (reg) => ({ ok: !!reg, ms: performance.now() - t0, controlled: !!navigator.serviceWorker.controller }),
      (e) => ({ error: e.message, ms: performance.now() - t0 }));
    window.stats = () => stats().then((s) => s.type);`));
  await page.goto(server.origin + '/hw/page');
  assert.deepEqual(await page.evaluate(() => window.registered.then((r) => [r.ok, r.controlled])), [true, true]);
  const other = await context.newPage();
  await other.goto(server.origin + '/hw/page');
  assert.deepEqual(await other.evaluate(() => window.registered.then((r) => [r.ok, r.controlled])), [true, true]);
  server.set('/sw-hw.js', sw('v2'));
  await page.evaluate(async () => {
    const reg = await navigator.serviceWorker.getRegistration();
    await reg.update();
    while (!reg.waiting) await new Promise((r) => setTimeout(r, 50));
  });
  const cdp = await context.newCDPSession(page);
  await cdp.send('Page.reload', { ignoreCache: true });
  await page.waitForFunction(() => !!window.registered);
  assert.ok(await page.evaluate(async () => !!(await navigator.serviceWorker.getRegistration()).waiting), 'v2 still waits');
  const r = await page.evaluate(() => window.registered);
  assert.equal(r.ok, true, `register() resolved: ${JSON.stringify(r)}`);
  assert.equal(r.controlled, false, 'the hard reload bypassed the worker');
  assert.ok(r.ms < 2000, `at once, not after its timeout: ${Math.round(r.ms)} ms`);
  assert.equal(await page.evaluate(() => window.stats()), 'STATS', 'the worker answers the page');
  await other.close();
});

test('page module: subscribe() in many tabs holds one stream per browser: a tab opened or shown takes it, where the last one left off, and another takes it over when it closes', async () => {
  // A browser keeps at most 6 HTTP/1.1 connections to a host: a stream per tab left the
  // seventh tab of the site loading for good.
  server.set('/sw-tabs.js', { body: workerSource(`{ version: 'v1', routes: [{ name: 't', match: /^\\/t\\//, strategy: 'cacheFirst' }] }`), headers: JS });
  const streams = liveStreams('/tabs-live');
  server.set('/t/a', 'a');
  server.set('/t/page', html(`
    import { register, subscribe, stats } from '/swcache/swcache-page.js';
    window.ready = register('/sw-tabs.js').then(() => { subscribe('/tabs-live'); return true; }, (e) => e.message);
    window.invalidations = async () => (await stats()).invalidations;`));
  const open = () => streams.filter((s) => !s.destroyed && !s.writableEnded && !s.socket?.destroyed);
  const tabs = [];
  const applied = (tab, n) => waitFor(() => tab.evaluate(() => window.invalidations()).then((k) => k >= n), `entry ${n} applied`);
  try {
    for (let i = 0; i < 8; i++) {
      const tab = i === 0 ? page : await context.newPage();
      await tab.goto(server.origin + '/t/page', { timeout: 10000 });
      assert.equal(await tab.evaluate(() => window.ready), true, `tab ${i + 1} loaded and registered`);
      tabs.push(tab);
      // The tab opened (visible) takes the stream; the one that held it closes its own.
      await waitFor(() => streams.length === i + 1 && open().length === 1 && open()[0] === streams[i], `tab ${i + 1} holds the only stream`);
    }
    // An entry, read by the last tab (a copy stored first, so its invalidation removes something).
    await tabs[1].evaluate(async () => {
      await fetch('/t/a');
      while (!(await caches.match('/t/a'))) await new Promise((r) => setTimeout(r, 20));
    });
    open()[0].write('id: 7.e\ndata: {"urls":["/t/a"]}\n\n');
    await applied(tabs[1], 1);
    // The first tab is shown again: it takes the stream from where the last tab left off
    // (a tab the browser suspended, Safari on iOS, would otherwise hold it for good).
    await tabs[0].evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
    await waitFor(() => streams.length === 9 && open().length === 1 && open()[0] === streams[8], 'the tab shown took the stream');
    assert.equal(streams[8].from, '7.e', 'resumed after the last entry read');
    assert.equal(streams[0].from, null, 'the first stream started from now');
    // It closes: another tab, in line, takes the stream over; its entries reach the worker.
    await tabs[0].close();
    await waitFor(() => streams.length === 10 && open().length === 1, 'another tab opened the stream');
    assert.equal(streams[9].from, '7.e');
    await tabs[1].evaluate(async () => {
      await fetch('/t/a');
      while (!(await caches.match('/t/a'))) await new Promise((r) => setTimeout(r, 20));
    });
    open()[0].write('id: 8.e\ndata: {"urls":["/t/a"]}\n\n');
    await applied(tabs[1], 2);
  } finally {
    for (const s of streams) s.destroy();
    for (const tab of tabs.slice(1)) await tab.close();
  }
});

test('page module: subscribe() hands a quiet stream over where it left off, the last entry read long ago', async () => {
  // A site that publishes a few times a day: a stream held since its last entry, an hour
  // ago, is still where it was; the page that takes it over resumes there, or the entries
  // published while no page held the stream never reach the open pages.
  const streams = liveStreams('/quiet-live');
  server.set('/quiet/page', html(`
    import { subscribe } from '/swcache/swcache-page.js';
    subscribe('/quiet-live');`));
  const open = () => streams.filter((s) => !s.destroyed && !s.writableEnded && !s.socket?.destroyed);
  // Playwright's clock: time flows as usual until fastForward jumps it (and fires the timers due once).
  await context.clock.install();
  try {
    await page.goto(server.origin + '/quiet/page');
    await waitFor(() => open().length === 1, 'the stream open');
    open()[0].write('id: 3.e\ndata: {"urls":["/quiet/a"]}\n\n');
    await waitFor(() => page.evaluate(() => Object.keys(localStorage).length === 1), 'the entry read');
    // An hour without an entry, the stream held all along; then another page is opened.
    await context.clock.fastForward(3600e3);
    const other = await context.newPage();
    await other.goto(server.origin + '/quiet/page');
    await waitFor(() => streams.length === 2 && open().length === 1 && open()[0] === streams[1], 'the page opened took the stream');
    assert.equal(streams[1].from, '3.e', 'resumed after the last entry read');
  } finally {
    for (const s of streams) s.destroy();
  }
});

test('page module: a page holding the live stream goes into the back/forward cache and back, and the next page takes the stream meanwhile', async () => {
  // Holding the lock, the page would be evicted from the cache when the next page asks for it.
  bfChrome ||= await launch({ bfcache: true });
  const ctx = await bfChrome.newContext();
  const streams = [];
  try {
    server.set('/sw-bfl.js', { body: workerSource(`{ version: 'v1', routes: [{ name: 'b', match: /^\\/bfl\\//, strategy: 'cacheFirst' }] }`), headers: JS });
    server.set('/bfl-live', {
      handler: (_req, res) => {
        streams.push(res);
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
        res.write(': open\n\n');
      },
    });
    const open = () => streams.filter((s) => !s.destroyed && !s.writableEnded && !s.socket?.destroyed).length;
    for (const p of ['/bfl/a', '/bfl/b']) {
      server.set(p, html(`
        import { register, subscribe } from '/swcache/swcache-page.js';
        window.doc = Math.random();
        window.shows = [];
        addEventListener('pageshow', (e) => shows.push(e.persisted));
        window.ready = register('/sw-bfl.js').then(() => { subscribe('/bfl-live'); return true; }, (e) => e.message);`));
    }
    const pg = await ctx.newPage();
    await pg.goto(server.origin + '/bfl/a');
    assert.equal(await pg.evaluate(() => window.ready), true);
    await pg.goto(server.origin + '/bfl/a'); // now controlled from its start
    assert.equal(await pg.evaluate(() => window.ready), true);
    // A new stream request, and one stream open (the counts are in the error, should it fail).
    const newStream = async (before, what) => {
      try {
        await waitFor(() => open() === 1 && streams.length > before, what);
      } catch (e) {
        throw new Error(`${e.message}: ${open()} open of ${streams.length} requests, ${before} before`);
      }
    };
    await waitFor(() => open() === 1, 'the stream open');
    const doc = await pg.evaluate(() => window.doc);
    const first = streams.length;
    await pg.goto(server.origin + '/bfl/b');
    assert.equal(await pg.evaluate(() => window.ready), true);
    await newStream(first, 'the next page opened the stream');
    const second = streams.length;
    await pg.goBack({ waitUntil: 'commit' });
    await waitFor(() => pg.evaluate((d) => window.shows?.length === 2 || window.doc !== d, doc), 'the page shown again');
    assert.deepEqual(await pg.evaluate((d) => ({ same: window.doc === d, shows: window.shows }), doc), { same: true, shows: [false, true] }, 'restored from the back/forward cache');
    await newStream(second, 'the page shown again holds the stream');
  } finally {
    for (const s of streams) s.destroy();
    await ctx.close();
  }
});

// Chromium keeps a page its worker controls in the back/forward cache, frozen: the worker's
// notices sent meanwhile never reach it. Chromium also stops an idle worker after about
// 30 s, so what the page missed must outlive the worker that sent it.
async function backForward(stopWorker, clockBack = false) {
  bfChrome ||= await launch({ bfcache: true });
  const ctx = await bfChrome.newContext();
  try {
    const pg = await ctx.newPage();
    const cdp = await ctx.newCDPSession(pg);
    const status = new Map();
    cdp.on('ServiceWorker.workerVersionUpdated', ({ versions }) => {
      for (const v of versions) status.set(v.versionId, v.runningStatus);
    });
    await cdp.send('ServiceWorker.enable');
    server.set('/sw-bf.js', { body: workerSource(`{ version: 'v1', routes: [
      { name: 'data', match: '/bf-api/', strategy: 'cacheFirst' },
      { name: 'pages', match: '/bf/', strategy: 'cacheFirst' } ] }`), headers: JS });
    const data = (v) => ({ body: JSON.stringify({ v }), headers: { 'content-type': 'application/json' } });
    server.set('/bf-api/c', data(1));
    server.set('/bf/a', html(`
      import * as swcache from '/swcache/swcache-page.js';
      window.swcache = swcache;
      window.doc = Math.random();
      window.shows = [];
      window.events = [];
      addEventListener('pageshow', (e) => shows.push(e.persisted));
      addEventListener('swcache:invalidated', (e) => events.push(e.detail));
      window.ready = swcache.register('/sw-bf.js').then(() => true, (e) => e.message);
      swcache.hydrate({ render: (el, d) => { el.textContent = 'v' + d.v; } });`,
    '<div id="c" data-component-id="c" data-component-type="HERO_BANNER" data-src="/bf-api/c" data-hydrate="eager"></div>'));
    server.set('/bf/b', html(`
      import { register } from '/swcache/swcache-page.js';
      window.ready = register('/sw-bf.js').then(() => true, (e) => e.message);`));
    await pg.goto(server.origin + '/bf/a');
    assert.equal(await pg.evaluate(() => window.ready), true);
    await pg.goto(server.origin + '/bf/a'); // now controlled from its start
    assert.equal(await pg.evaluate(() => window.ready), true);
    await waitFor(() => pg.evaluate(() => document.getElementById('c').textContent === 'v1'), 'the component hydrated');
    const doc = await pg.evaluate(() => window.doc);
    // A notice heard live, just before the visitor leaves: it is not taken twice.
    assert.equal(await pg.evaluate(() => window.swcache.invalidate({ prefixes: ['/bf/nothing-'] }).then((r) => r.type)), 'CACHE_INVALIDATION_DONE');
    await pg.evaluate(() => window.swcache.invalidate({ urls: [location.href] }));
    await waitFor(() => pg.evaluate(() => window.events.length === 1), 'the live notice');
    if (clockBack) {
      // The device's clock is set back an hour just after the page leaves (seen from the
      // page: its clock ran an hour ahead until then); the notices that follow are stamped
      // by the clock set back.
      await pg.evaluate(() => {
        const real = Date.now;
        let ahead = 3600e3;
        Date.now = () => real() + ahead;
        addEventListener('pagehide', () => { ahead = 0; }); // after the page module's listener
      });
    }
    // The visitor goes on to another page; meanwhile the CMS changes this page's data.
    await pg.goto(server.origin + '/bf/b');
    assert.equal(await pg.evaluate(() => window.ready), true);
    server.set('/bf-api/c', data(2));
    const done = await pg.evaluate(() => import('/swcache/swcache-page.js').then((m) => m.invalidate({ urls: ['/bf/a', '/bf-api/c'] })));
    assert.equal(done.type, 'CACHE_INVALIDATION_DONE');
    if (stopWorker) {
      // What the worker told pages is saved before it goes (its event waits for that).
      await waitFor(() => pg.evaluate(async () => !!(await (await caches.open('swcache-state')).match('/__swcache/notices'))), 'the notices saved');
      await cdp.send('ServiceWorker.stopAllWorkers');
      await waitFor(() => status.size > 0 && [...status.values()].every((s) => s === 'stopped'), 'every worker stopped');
    }
    await pg.goBack({ waitUntil: 'commit' });
    await waitFor(() => pg.evaluate((d) => window.shows?.length === 2 || window.doc !== d, doc), 'the page shown again');
    const back = await pg.evaluate((d) => ({ same: window.doc === d, shows: window.shows }), doc);
    assert.deepEqual(back, { same: true, shows: [false, true] }, 'restored from the back/forward cache');
    await waitFor(() => pg.evaluate(() => window.events.length >= 2), 'swcache:invalidated for what changed while the page was away');
    await waitFor(() => pg.evaluate(() => document.getElementById('c').textContent === 'v2'), 'the component refetched');
    const events = await pg.evaluate(() => window.events);
    assert.equal(events.length, 2, `the live notice is not taken again: ${JSON.stringify(events)}`);
    assert.equal(events[1].page, true);
    assert.deepEqual(events[1].components, ['c']);
    assert.deepEqual(events[1].urls.sort(), ['/bf-api/c', '/bf/a']);
    assert.equal(events[1].source, 'message');
  } finally {
    await ctx.close();
  }
}

test('page module: a page back from the back/forward cache hears what was invalidated while it was there', async () => {
  await backForward(false);
});

test('page module: a page back from the back/forward cache hears it after the worker was stopped meanwhile', async () => {
  await backForward(true);
});

test('page module: a page back from the back/forward cache hears it when the clock was set back meanwhile', async () => {
  await backForward(false, true);
});

// A background refresh that another page's request started while this one was frozen
// stored content that differs from what this page was given: back, it gets swcache:updated.
test('page module: a page back from the back/forward cache hears what was updated while it was there', async () => {
  bfChrome ||= await launch({ bfcache: true });
  const ctx = await bfChrome.newContext();
  try {
    const pg = await ctx.newPage();
    server.set('/sw-bfu.js', { body: workerSource(`{ version: 'v1', routes: [
      { name: 'news', match: '/bfu-api/', strategy: 'staleWhileRevalidate', maxAge: 1 },
      { name: 'pages', match: '/bfu/', strategy: 'networkFirst' } ] }`), headers: JS });
    const news = (v) => ({ body: JSON.stringify({ v }), headers: { 'content-type': 'application/json', etag: `"${v}"` } });
    server.set('/bfu-api/n', news(1));
    server.set('/bfu/a', html(`
      import { register } from '/swcache/swcache-page.js';
      window.doc = Math.random();
      window.shows = [];
      window.updates = [];
      addEventListener('pageshow', (e) => shows.push(e.persisted));
      addEventListener('swcache:updated', (e) => updates.push(e.detail.url));
      window.ready = register('/sw-bfu.js').then(() => true, (e) => e.message);`));
    server.set('/bfu/b', html(`
      import { register } from '/swcache/swcache-page.js';
      window.ready = register('/sw-bfu.js').then(() => true, (e) => e.message);`));
    await pg.goto(server.origin + '/bfu/a');
    assert.equal(await pg.evaluate(() => window.ready), true);
    await pg.goto(server.origin + '/bfu/a'); // now controlled from its start
    assert.equal(await pg.evaluate(() => window.ready), true);
    assert.deepEqual(await pg.evaluate(() => fetch('/bfu-api/n').then((r) => r.json())), { v: 1 });
    await waitFor(() => pg.evaluate(async () => !!(await caches.match('/bfu-api/n'))), 'the news stored');
    const doc = await pg.evaluate(() => window.doc);
    // The visitor goes on; that page reads the news, now changed: served the stored copy,
    // refreshed in the background.
    await pg.goto(server.origin + '/bfu/b');
    assert.equal(await pg.evaluate(() => window.ready), true);
    server.set('/bfu-api/n', news(2));
    assert.deepEqual(await pg.evaluate(() => fetch('/bfu-api/n').then((r) => r.json())), { v: 1 });
    await waitFor(() => pg.evaluate(async () => (await (await caches.match('/bfu-api/n')).json()).v === 2), 'the refresh stored');
    await pg.goBack({ waitUntil: 'commit' });
    await waitFor(() => pg.evaluate((d) => window.shows?.length === 2 || window.doc !== d, doc), 'the page shown again');
    const back = await pg.evaluate((d) => ({ same: window.doc === d, shows: window.shows }), doc);
    assert.deepEqual(back, { same: true, shows: [false, true] }, 'restored from the back/forward cache');
    await waitFor(() => pg.evaluate(() => window.updates.length >= 1), 'swcache:updated for what changed while the page was away');
    assert.deepEqual(await pg.evaluate(() => window.updates), ['/bfu-api/n']);
  } finally {
    await ctx.close();
  }
});
