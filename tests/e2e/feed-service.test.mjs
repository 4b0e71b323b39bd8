// End-to-end: the feed service. The real `swcache-feed serve` runs over each of its two
// stores (a file, a real Redis); the CMS publishes over HTTP (POST /v1/entries with a
// bearer token); the site's test server proxies the feed document to the service, so
// the worker's feed is same-origin; pages subscribe to the service's /v1/events
// cross-origin (--cors-origin). Real workers in headless Chromium; nothing is mocked.
import { test, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../support/server.mjs';
import { launch, register, get, cached, message, waitFor } from '../support/browser.mjs';
import { workerSource, JS } from '../support/worker.mjs';
import { startFeedService, startRedis, proxyFeed } from '../support/feed.mjs';

let server, chrome, redis, context, page, cdp;
const services = [];
const status = new Map();

before(async () => {
  server = await startServer();
  redis = await startRedis();
  chrome = await launch();
});
after(async () => {
  await chrome?.close();
  await redis?.stop();
  await server?.close();
});
beforeEach(async () => {
  server.setOffline(false);
  server.resetCounts();
  server.set('/', { body: 'home' });
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
  while (services.length) await services.pop().stop();
});

/** The service on `store` ('file' or 'redis'), its feed proxied to the site's origin. */
async function service(store, opts = {}) {
  const svc = await startFeedService({ store, redis, origin: server.origin, ...opts });
  services.push(svc);
  return svc;
}

const config = (feed) => `{
  version: 'v1',
  precache: ['/'],
  feed: ${feed},
  routes: [
    { name: 'pages', match: /^\\/(?!swcache)/, strategy: 'cacheFirst', maxAge: 864e5 },
  ],
}`;

async function start(svc, feed = `{ url: '/swcache-feed.json', interval: 60000 }`) {
  proxyFeed(server, svc);
  server.set('/sw.js', { body: workerSource(config(feed)), headers: JS });
  assert.deepEqual(await register(page, server.origin), { ok: true });
}

async function stopWorkers() {
  await cdp.send('ServiceWorker.stopAllWorkers');
  await waitFor(() => status.size > 0 && [...status.values()].every((s) => s === 'stopped'), 'every worker stopped');
}

const stats = () => message(page, { type: 'GET_STATS' });

/** A page that subscribes to `events` and records each `swcache:invalidated` in `window.events`. */
const livePage = (events, text) => ({
  body: `<!doctype html><meta charset="utf-8"><body><p id="v">${text}</p>
    <script type="module">
      import { subscribe } from '/swcache/swcache-page.js';
      window.events = [];
      addEventListener('swcache:invalidated', (e) => window.events.push(e.detail));
      subscribe(${JSON.stringify(events)});
    </script></body>`,
  headers: { 'content-type': 'text/html' },
});

/** Waits until the service has `n` live clients (the page's EventSource is connected). */
const connected = (svc, n = 1) => waitFor(async () => (await svc.health()).clients >= n, `${n} live client(s) on the service`);

for (const store of ['file', 'redis']) {
  test(`feed service [${store}] (a): a publish over HTTP reaches an open subscribed page, and its next fetch is fresh`, async () => {
    const svc = await service(store);
    await start(svc);
    let version = 1;
    server.set('/promo/live', { body: () => livePage(svc.url + '/v1/events', `live v${version}`).body, headers: { 'content-type': 'text/html' } });
    server.set('/promo/card', { body: () => `card v${version}` });
    await page.goto(server.origin + '/promo/live');
    assert.equal((await get(page, '/promo/card')).body, 'card v1');
    await waitFor(() => cached(page, '/promo/live', 'pages'), 'the page stored');
    await waitFor(() => cached(page, '/promo/card', 'pages'), 'the card stored');
    await connected(svc);
    version = 2;
    assert.equal((await get(page, '/promo/card')).body, 'card v1', 'before the publish, the cached copy');

    const t0 = Date.now();
    // The entry also names a route this worker does not have (a newer version's): the rest
    // of it applies, as at a feed check.
    const published = await svc.publish({ urls: ['/promo/live', '/promo/card'], routes: ['blog'] });
    assert.equal(typeof published.seq, 'number');
    assert.match(published.timestamp, /^\d{4}-\d\d-\d\dT/);
    const detail = await waitFor(() => page.evaluate(() => window.events[0]), 'swcache:invalidated', 5000);
    const ms = Date.now() - t0;
    console.log(`# [${store}] POST /v1/entries -> swcache:invalidated on the open page: ${ms} ms`);
    assert.ok(ms < 2000, `swcache:invalidated after ${ms} ms`);
    assert.equal(detail.page, true);
    assert.equal(detail.source, 'message');
    assert.deepEqual([...detail.urls].sort(), ['/promo/card', '/promo/live']);
    assert.equal((await get(page, '/promo/card')).body, 'card v2', 'the next fetch is fresh');
    assert.match((await get(page, '/promo/live')).body, /live v2/);
    assert.equal(await page.evaluate(() => window.events.length), 1, 'one entry, one event');
  });

  test(`feed service [${store}] (b): strict mode: a returning visitor's first navigation is fresh, through the service`, async () => {
    const svc = await service(store);
    await start(svc, `{ url: '/swcache-feed.json', interval: 60000, strict: { maxStaleness: 30000, budget: 2000 } }`);
    server.set('/promo/price', { body: 'price 10' });
    assert.equal((await get(page, '/promo/price')).body, 'price 10');
    await waitFor(() => cached(page, '/promo/price', 'pages'), 'stored');
    await waitFor(async () => (await stats()).feed.checks >= 1, 'a first feed check');
    await stopWorkers();
    // The CMS changes the price and publishes over HTTP; the visitor comes back.
    server.set('/promo/price', { body: 'price 12' });
    const feedRequests = server.count('/swcache-feed.json');
    const t0 = Date.now();
    const { seq } = await svc.publish({ urls: ['/promo/price'] });
    await page.goto(server.origin + '/promo/price');
    const ms = Date.now() - t0;
    assert.equal(await page.evaluate(() => document.body.textContent), 'price 12', 'the first navigation is fresh');
    console.log(`# [${store}] publish -> fresh first navigation (strict, cold worker, through the service): ${ms} ms`);
    assert.ok(server.count('/swcache-feed.json') > feedRequests, 'the restarted worker checked the feed');
    const s = await stats();
    const served = await svc.seq();
    assert.equal(s.feed.error, null);
    assert.equal(s.feed.seq, seq);
    assert.equal(s.feed.epoch, served.epoch, "the worker's cursor is in the service's epoch");
  });

  test(`feed service [${store}] (c): a page that reconnects after its missed entries were compacted away is reset (all)`, async () => {
    // Two instances on one store, each keeping 2 entries: the CMS publishes through the
    // second while the page's is down (a deploy, a crash); the page reconnects when it is back.
    const svc = await service(store, { keep: 2 });
    const cms = await service(svc.store, { keep: 2, namespace: svc.namespace });
    await start(svc);
    server.set('/promo/reset', livePage(svc.url + '/v1/events', 'reset page'));
    server.set('/promo/other', { body: 'other' });
    await page.goto(server.origin + '/promo/reset');
    await get(page, '/promo/other');
    await waitFor(() => cached(page, '/promo/other', 'pages'), 'another page stored');
    await waitFor(() => cached(page, '/promo/reset', 'pages'), 'this page stored');
    await connected(svc);
    // One entry the page hears live: its EventSource's last event id is now that seq.
    const first = await cms.publish({ urls: ['/promo/reset'] });
    const live = await waitFor(() => page.evaluate(() => window.events[0]), 'the live entry');
    assert.ok(!live.all, 'one entry, not all');
    await svc.terminate();
    // Three entries the page misses; with --keep 2 the first of them is compacted away.
    let last;
    for (const u of ['/elsewhere/1', '/elsewhere/2', '/elsewhere/3']) last = await cms.publish({ urls: [u] });
    // (The instance serves its own publish a few ms after answering it: wait for that.)
    const fed = await waitFor(async () => {
      const f = await (await fetch(cms.url + '/swcache-feed.json')).json();
      return f.seq === last.seq && f;
    }, 'the feed document with the last entry');
    assert.ok(fed.baseline.seq > first.seq, `compacted past the page's last event (${JSON.stringify(fed.baseline)})`);
    await svc.restart();
    // The browser reconnects with Last-Event-ID; the service answers with `reset`.
    const reset = await waitFor(() => page.evaluate(() => window.events[1]), 'the reset', 10000);
    assert.equal(reset.all, true);
    assert.equal(reset.page, true);
    assert.equal(reset.source, 'message', 'from the live stream, not a feed check of the worker');
    assert.equal(await page.evaluate(() => window.events.length), 2, 'the missed entries came as one reset');
    assert.equal(await cached(page, '/promo/other', 'pages'), null, 'everything was invalidated');
    assert.equal((await stats()).feed.seq, 0, 'the worker itself did not check the feed meanwhile');
  });
}

// Each tab streams the feed and hands every entry to the one worker: it applies the
// entry once, and each tab hears of it once (three tabs heard it three times each).
test('feed service [file] (f): three open tabs that each subscribed hear one publish once each', async () => {
  const svc = await service('file');
  await start(svc);
  server.set('/promo/live', livePage(svc.url + '/v1/events', 'live'));
  server.set('/promo/card', { body: 'card' });
  const tabs = [page, await context.newPage(), await context.newPage()];
  for (const tab of tabs) await tab.goto(server.origin + '/promo/live');
  await get(page, '/promo/card');
  await waitFor(() => cached(page, '/promo/card', 'pages'), 'the card stored');
  for (const tab of tabs) await waitFor(() => tab.evaluate(() => !!navigator.serviceWorker.controller), 'tab controlled');
  // One stream for the three (the page holding it hands each entry to the worker they share).
  await connected(svc, 1);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await svc.health()).clients, 1, 'one live client for three tabs');
  await svc.publish({ urls: ['/promo/live', '/promo/card'] });
  for (const tab of tabs) await waitFor(() => tab.evaluate(() => window.events.length > 0), 'swcache:invalidated in every tab', 5000);
  // Give every further notice time to arrive.
  await new Promise((r) => setTimeout(r, 1000));
  const counts = await Promise.all(tabs.map((tab) => tab.evaluate(() => window.events.length)));
  assert.deepEqual(counts, [1, 1, 1], 'one publish, one event per tab');
});

for (const store of ['file', 'redis']) {
  test(`feed service [${store}] (d): an entry heard live is applied once: the worker's own feed check skips it`, async () => {
    const svc = await service(store);
    await start(svc);
    server.set('/promo/once', livePage(svc.url + '/v1/events', 'once'));
    await page.goto(server.origin + '/promo/once');
    await waitFor(() => cached(page, '/promo/once', 'pages'), 'the page stored');
    await waitFor(async () => (await stats()).feed.checks >= 1, 'a first feed check');
    await connected(svc);
    // The worker is stopped while idle (Chromium stops one after 30 s): the live entry
    // starts it, and its first event checks the feed, which already holds that entry.
    await stopWorkers();
    const { seq } = await svc.publish({ urls: ['/promo/once'] });
    await waitFor(() => page.evaluate(() => window.events.length), 'the live entry');
    await waitFor(async () => (await stats()).feed.seq === seq, 'the check read the entry');
    await new Promise((r) => setTimeout(r, 500));
    const events = await page.evaluate(() => window.events);
    assert.deepEqual(events.map((e) => e.source), ['message'], 'one entry, one swcache:invalidated');
  });

  test(`feed service [${store}] (e): a burst heard live does not make the next feed check invalidate everything`, async () => {
    const svc = await service(store);
    await start(svc);
    server.set('/promo/burst', livePage(svc.url + '/v1/events', 'burst'));
    server.set('/keep/me', { body: 'kept' });
    await page.goto(server.origin + '/promo/burst');
    await get(page, '/keep/me');
    await waitFor(() => cached(page, '/keep/me', 'pages'), 'an unrelated page stored');
    await waitFor(async () => (await stats()).feed.checks >= 1, 'a first feed check');
    await connected(svc);
    // More than 50 entries (what a worker that was away applies as one `all`), every one
    // heard live and applied exactly.
    let last;
    for (let i = 0; i < 60; i++) last = await svc.publish({ urls: [`/elsewhere/${i}`] });
    const one = await waitFor(() => page.evaluate(() => window.events[0]), 'one covering entry', 1).catch(() => null);
    assert.equal(one, null, 'no entry covers this page');
    // The next check (a response announcing the seq).
    server.set('/announce', { body: 'x', headers: { 'swcache-feed-seq': String(last.seq), 'cache-control': 'no-store' } });
    await get(page, '/announce?1');
    await waitFor(async () => (await stats()).feed.seq === last.seq, 'the check read the burst');
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual((await cached(page, '/keep/me', 'pages'))?.body, 'kept', 'a page no entry names stays cached');
    assert.deepEqual(await page.evaluate(() => window.events), [], 'nothing covered this page');
  });
}
