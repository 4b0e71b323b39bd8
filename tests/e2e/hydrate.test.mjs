// The hydration scheduler (`hydrate()` of dist/swcache-page.js) in Chromium: what is
// fetched when, polling, hidden pages, stale data from the worker's cache (with the
// reload's request headers), stop() and the demo page's events. Removal, isolation of
// failures, analytics events and triggers are in the shared suite
// (tests/suites/hydrate.mjs, run in Chromium by tests/chromium/). The server log is the
// evidence for requests; the page also records every fetch() call the module makes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startServer } from '../support/server.mjs';
import { startDemo } from '../support/demo-server.mjs';
import { launch, waitFor, register, ARGS, CHROMIUM } from '../support/browser.mjs';
import { workerSource, JS } from '../support/worker.mjs';
import { API, src, DATA, comp, GAP, LONG, hydratePage } from '../support/hydrate-page.mjs';

let server, chrome;
before(async () => {
  server = await startServer();
  chrome = await launch();
  server.set(API, DATA);
});
after(async () => { await chrome?.close(); await server?.close(); });

/** A test page at `/hyd-<name>.html` (tests/support/hydrate-page.mjs). */
const page = (name, body, opts) => hydratePage(server, name, body, opts);

const calls = (pg, id) => pg.evaluate((u) => calls.filter((c) => c.url === u).length, src(id));
const events = (pg, kind = 'swcache:hydrated') => pg.evaluate((k) => events.filter((e) => e.kind === k), kind);
const hydratedIds = async (pg) => (await events(pg)).map((e) => e.componentId).sort();
/** Ids of components whose data reached the server, in order of first request. */
function requestedIds() {
  const ids = [];
  for (const r of server.requests()) {
    const m = /^\/api\/v1\/promo\/featured-content\?id=(\d+)$/.exec(r.path);
    if (m && !ids.includes(Number(m[1]))) ids.push(Number(m[1]));
  }
  return ids;
}
/** Resolves after the page has rendered two more frames (observers have run). */
const frames = (pg) => pg.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));

test('hydrate: at load only the above-the-fold components and the first 2 (preload) fetch', async () => {
  server.resetCounts();
  const context = await chrome.newContext();
  const pg = await context.newPage();
  await pg.goto(page('load', LONG));
  // c3 and c4 hydrate through the shared IntersectionObserver, whose first delivery
  // reports every observed element: once they are in, c5..c8 were judged off-screen.
  let ids = [];
  await waitFor(async () => { ids = await hydratedIds(pg); return ['c1', 'c2', 'c3', 'c4'].every((id) => ids.includes(id)); }, 'c1..c4 hydrated');
  await waitFor(() => pg.evaluate(() => inflight === 0), 'no fetch in flight');
  assert.deepEqual(await hydratedIds(pg), ['c1', 'c2', 'c3', 'c4'], 'nothing else hydrated');
  const below = await pg.evaluate(() => ['c1', 'c2', 'c5'].map((id) =>
    document.querySelector(`[data-component-id=${id}]`).getBoundingClientRect().top - innerHeight));
  assert.ok(below.every((d) => d > 500), `c1, c2 (preload) and c5 are far below the fold: ${below}`);
  assert.deepEqual(requestedIds().sort(), [1, 2, 3, 4], 'the server saw exactly c1..c4');
  for (const id of [1, 2, 3, 4]) assert.equal(server.count(src(id)), 1, `c${id} fetched once`);
  for (const id of [5, 6, 7, 8]) assert.equal(await calls(pg, id), 0, `c${id} not fetched`);
  await context.close();
});

test('hydrate: scrolling fetches the rest in order, each as it comes near', async () => {
  server.resetCounts();
  const context = await chrome.newContext();
  const pg = await context.newPage();
  await pg.goto(page('scroll', LONG));
  await waitFor(async () => (await hydratedIds(pg)).length === 4, 'c1..c4 hydrated');
  const seen = [];
  for (;;) {
    const bottom = await pg.evaluate(() => { scrollBy(0, innerHeight / 3); return scrollY + innerHeight >= document.documentElement.scrollHeight - 1; });
    await frames(pg);
    // Everything the page has asked for so far, among c5..c8.
    const asked = await pg.evaluate(() => calls.map((c) => Number(/id=(\d+)/.exec(c.url)[1])).filter((id) => id >= 5));
    seen.push(asked);
    // Never ahead of the scroll position: only components within the margin are fetched.
    const far = await pg.evaluate((ids) => ids.filter((id) =>
      document.querySelector(`[data-component-id=c${id}]`).getBoundingClientRect().top > innerHeight + 50 + innerHeight / 3), asked);
    assert.deepEqual(far, [], `fetched before coming near: ${far}`);
    if (bottom) break;
  }
  await waitFor(async () => (await hydratedIds(pg)).length === 8, 'all 8 hydrated');
  assert.deepEqual(seen.at(-1), [5, 6, 7, 8], 'the page fetched c5..c8 in order, once each');
  assert.ok(seen.some((s) => s.length === 1) && seen.some((s) => s.length === 3), `one at a time while scrolling: ${JSON.stringify(seen)}`);
  assert.deepEqual(requestedIds().filter((id) => id >= 5), [5, 6, 7, 8], 'server log order');
  await context.close();
});

test('hydrate: a short poll interval refreshes real-time types with cache: reload', async () => {
  server.resetCounts();
  const context = await chrome.newContext();
  const pg = await context.newPage();
  await pg.goto(page('poll', comp(1, 'STATS_COUNTER') + comp(2, 'BLOG_PREVIEW') + comp(3, 'MODEL_SHOWCASE'),
    { types: { STATS_COUNTER: { poll: 150 }, MODEL_SHOWCASE: { poll: 0 } } }));
  await waitFor(() => server.count(src(1)) >= 4, 'c1 polled three times');
  const log = await pg.evaluate(() => calls);
  const c1 = log.filter((c) => c.url.endsWith('id=1'));
  assert.deepEqual(c1.map((c) => c.cache).slice(0, 4), ['default', 'reload', 'reload', 'reload']);
  for (let i = 1; i < c1.length; i++) assert.ok(c1[i].at - c1[i - 1].at >= 140, `poll spacing ${c1[i].at - c1[i - 1].at}`);
  const polls = server.requests().filter((r) => r.path === src(1)).slice(1);
  assert.ok(polls.every((r) => r.headers['cache-control'] === 'no-cache'), 'polls bypass caches');
  assert.equal(await calls(pg, 2), 1, 'BLOG_PREVIEW does not poll');
  assert.equal(await calls(pg, 3), 1, 'poll: 0 turns MODEL_SHOWCASE polling off');
  assert.equal((await events(pg)).filter((e) => e.componentId === 'c1').length, 1, 'one hydrated event, polls are quiet');
  const renders = await pg.evaluate(() => renders.filter((r) => r.componentId === 'c1').length);
  assert.ok(renders >= 3, `each poll re-renders (${renders})`);
  await context.close();
});

/**
 * A Chromium of our own for the hidden-page test: playwright's own launch emulates focus
 * on every page, which keeps them `visible` even when minimised. Connected over CDP
 * without defaults, minimising the window really makes `document.hidden` true.
 */
async function visibilityBrowser() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swcache-hyd-'));
  const proc = spawn(CHROMIUM, [...ARGS, '--disable-background-timer-throttling', '--remote-debugging-port=0',
    `--user-data-dir=${dir}`, 'about:blank'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const ws = await new Promise((resolve, reject) => {
    let err = '';
    proc.stderr.on('data', (d) => { err += d; const m = /DevTools listening on (ws:\/\/\S+)/.exec(err); if (m) resolve(m[1]); });
    proc.on('exit', () => reject(new Error('chromium exited: ' + err)));
  });
  const browser = await chromium.connectOverCDP(ws, { noDefaults: true });
  const close = async () => {
    await browser.close().catch(() => {});
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill();
    await exited;
    // Chromium's helpers may still be writing the profile for a moment: best effort.
    try { fs.rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }); } catch {}
  };
  return { context: browser.contexts()[0], close };
}

test('hydrate: no polls while the document is hidden, resumed when visible', async () => {
  server.resetCounts();
  const { context, close } = await visibilityBrowser();
  try {
    const pg = context.pages()[0] || await context.newPage();
    await pg.goto(page('hidden', comp(1, 'STATS_COUNTER'), { types: { STATS_COUNTER: { poll: 100 } } }));
    await waitFor(() => server.count(src(1)) >= 3, 'polling');
    const cdp = await context.newCDPSession(pg);
    const { windowId } = await cdp.send('Browser.getWindowForTarget');
    await cdp.send('Browser.setWindowBounds', { windowId, bounds: { windowState: 'minimized' } });
    await pg.waitForFunction(() => document.hidden && document.visibilityState === 'hidden');
    await waitFor(() => pg.evaluate(() => inflight === 0), 'the poll under way when hidden finished');
    const before = await calls(pg, 1);
    // An observation window of ten poll intervals (timers are not throttled in this browser).
    const ticks = await pg.evaluate(() => new Promise((r) => { let n = 0; const t = setInterval(() => { if (++n === 10) { clearInterval(t); r(n); } }, 100); }));
    assert.equal(ticks, 10, 'page timers ran while hidden');
    assert.equal(await calls(pg, 1), before, 'no poll while hidden');
    assert.equal(server.count(src(1)), before, 'server agrees');
    await cdp.send('Browser.setWindowBounds', { windowId, bounds: { windowState: 'normal' } });
    await pg.waitForFunction(() => !document.hidden);
    await waitFor(async () => (await calls(pg, 1)) >= before + 3, 'polling resumed');
  } finally {
    await close();
  }
});

test('hydrate: data the worker serves with a stale sw-cache-time is refetched with cache: reload', async () => {
  server.resetCounts();
  server.set('/sw-stale.js', { body: workerSource(`{ version: 'hyd', keepRuntimeCaches: false, routes: [
    { name: 'componentData', match: /\\/api\\/v1\\/promo\\/featured-content/, strategy: 'cacheFirst', maxAge: 864e5 } ] }`), headers: JS });
  const context = await chrome.newContext();
  const pg = await context.newPage();
  const reg = await register(pg, server.origin, '/sw-stale.js');
  assert.deepEqual(reg, { ok: true });
  // Seed the worker's cache: c1 stamped an hour ago (MODEL_SHOWCASE maxAge is 5 min), c2 10 s ago.
  await pg.evaluate(async ([u1, u2]) => {
    const cache = await caches.open('swcache-hyd-componentData');
    const put = (u, ago) => cache.put(u, new Response(JSON.stringify({ id: 'seeded', seeded: true }), {
      headers: { 'content-type': 'application/json', 'sw-cache-time': new Date(Date.now() - ago).toISOString() } }));
    await put(u1, 3600e3);
    await put(u2, 10e3);
  }, [src(1), src(2)]);
  await pg.goto(page('stale', comp(1, 'MODEL_SHOWCASE') + comp(2, 'MODEL_SHOWCASE'), { types: { MODEL_SHOWCASE: { poll: 0 } } }));
  assert.ok(await pg.evaluate(() => !!navigator.serviceWorker.controller), 'the test page is controlled');
  await waitFor(async () => (await pg.evaluate(() => renders.filter((r) => r.componentId === 'c1').length)) === 2, 'c1 rendered twice');
  const r = await pg.evaluate(() => renders);
  const c1 = r.filter((x) => x.componentId === 'c1');
  assert.equal(c1[0].source, 'cache');
  assert.ok(c1[0].seeded && Math.abs(c1[0].ageMs - 3600e3) < 60e3, `first the cached copy, an hour old (${c1[0].ageMs})`);
  assert.equal(c1[1].source, 'network');
  assert.equal(c1[1].seeded, false, 'then fresh data');
  assert.deepEqual(await pg.evaluate((u) => calls.filter((c) => c.url === u).map((c) => c.cache), src(1)), ['default', 'reload']);
  const hits = server.requests().filter((x) => x.path === src(1));
  assert.equal(hits.length, 1, 'the reload reached the server once');
  assert.equal(hits[0].headers['cache-control'], 'no-cache', 'with reload semantics');
  const c2 = r.filter((x) => x.componentId === 'c2');
  assert.deepEqual(c2.map((x) => x.source), ['cache'], 'fresh cached data is used as is');
  assert.equal(server.count(src(2)), 0);
  // The worker stored the reloaded copy.
  const stamp = await pg.evaluate(async (u) => (await caches.match(u)).headers.get('sw-cache-time'), src(1));
  assert.ok(Date.now() - Date.parse(stamp) < 60e3, `re-stamped: ${stamp}`);
  await context.close();
});

test('hydrate: stop() removes every listener, observer and timer', async () => {
  server.resetCounts();
  const context = await chrome.newContext();
  const pg = await context.newPage();
  const cdp = await context.newCDPSession(pg);
  const docListeners = async () => {
    const { result } = await cdp.send('Runtime.evaluate', { expression: 'document' });
    const { listeners } = await cdp.send('DOMDebugger.getEventListeners', { objectId: result.objectId });
    return listeners.map((l) => l.type).sort();
  };
  await pg.goto(page('stop', comp(1, 'STATS_COUNTER') + GAP + comp(2) + comp(3, 'BLOG_PREVIEW', 'data-hydrate="media:(min-width: 3000px)"'),
    { preload: 0, types: { STATS_COUNTER: { poll: 100 } } }));
  await waitFor(async () => (await calls(pg, 1)) >= 2, 'polling');
  const running = await docListeners();
  for (const t of ['focusin', 'pointerover', 'touchstart', 'visibilitychange']) assert.ok(running.includes(t), `${t} listener while running`);
  await pg.evaluate(() => window.handle.stop());
  const n1 = await calls(pg, 1);
  const left = (await docListeners()).filter((t) => ['focusin', 'pointerover', 'touchstart', 'visibilitychange'].includes(t));
  assert.deepEqual(left, [], 'document listeners removed');
  await pg.evaluate(() => scrollTo(0, document.documentElement.scrollHeight));
  await pg.evaluate((html) => document.body.insertAdjacentHTML('afterbegin', html), comp(9));
  await pg.setViewportSize({ width: 3200, height: 720 });
  // Ten poll intervals of page time.
  await pg.evaluate(() => new Promise((r) => setTimeout(r, 1000)));
  await frames(pg);
  assert.equal(await calls(pg, 1), n1, 'no polls after stop');
  for (const id of [2, 3, 9]) assert.equal(await calls(pg, id), 0, `c${id}: no observer, media listener or mutation observer left`);
  await context.close();
});

test('hydrate: the demo components page hydrates with age/source badges', async () => {
  const demo = await startDemo(0);
  const context = await chrome.newContext();
  try {
    const pg = await context.newPage();
    const hydrated = [];
    await pg.exposeFunction('onHydrated', (d) => hydrated.push(d));
    await pg.addInitScript(() => document.addEventListener('swcache:hydrated', (e) => window.onHydrated(e.detail)));
    await pg.goto(demo.origin + '/promo/components');
    await waitFor(() => hydrated.length >= 3, 'the components in view hydrated');
    assert.ok(hydrated.every((d) => d.pageSlug === 'components'), JSON.stringify(hydrated));
    const badges = await pg.$$eval('.cmp.hydrated .badge', (b) => b.map((x) => x.textContent));
    assert.ok(badges.length >= 3 && badges.every((t) => /^age \d+s · source (network|cache|inline)$/.test(t)), JSON.stringify(badges));
    const total = await pg.$$eval('[data-component-id]', (c) => c.length);
    assert.ok(total >= 12, `${total} components`);
    assert.ok(demo.countPrefix('/api/v1/promo/featured-content') < total, 'not everything is fetched at load');
  } finally {
    await context.close();
    await demo.close();
  }
});

test('hydrate: a scheduler that failed to load (the network dropped) is loaded again by the next hydrate()', async () => {
  const wasm = '/swcache/swcache-hydrate.wasm';
  let broken = true;
  server.set(wasm, { handler: (req, res) => {
    if (broken) return req.socket.destroy();
    res.writeHead(200, { 'content-type': 'application/wasm' });
    res.end(fs.readFileSync(new URL('../../dist/swcache-hydrate.wasm', import.meta.url)));
  } });
  const context = await chrome.newContext();
  try {
    const pg = await context.newPage();
    await pg.goto(page('reload-scheduler', comp(1)));
    const first = await pg.evaluate(() => window.handle.ready.then(() => 'ready', (e) => `rejected: ${e.message || e}`));
    assert.match(first, /^rejected/, 'the first load fails');
    broken = false;
    const second = await pg.evaluate(async () => {
      const { hydrate } = await import('/swcache/swcache-page.js');
      const h = hydrate({ render: (el) => { el.textContent = 'hydrated'; } });
      return h.ready.then(() => 'ready', (e) => `rejected: ${e.message || e}`);
    });
    assert.equal(second, 'ready', 'the next hydrate() loads the scheduler again');
    await waitFor(() => pg.evaluate(() => document.querySelector('[data-component-id="c1"]').textContent === 'hydrated'), 'hydrated');
  } finally {
    await context.close();
    server.set(wasm, { handler: (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/wasm' });
      res.end(fs.readFileSync(new URL('../../dist/swcache-hydrate.wasm', import.meta.url)));
    } });
  }
});
