// End-to-end: the invalidation feed. The CMS publishes with the real `swcache-feed`
// command; the local server serves the feed file (ETag, 304); real workers in headless
// Chromium check and apply it: conditional checks, bad feeds, a missing feed, offline,
// a restart between publishes, a feed that never answers (its request aborted), a device
// clock ahead of the feed server's. Strict mode, the interval check and live delivery over
// Server-Sent Events are in the shared suite (tests/suites/feed.mjs, run in Chromium by
// tests/chromium/).
import { test, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer } from '../support/server.mjs';
import { launch, register, get, cached, message, waitFor } from '../support/browser.mjs';
import { workerSource, JS } from '../support/worker.mjs';
import { publish, serveFeed, liveFeed } from '../support/feed.mjs';

let server, chrome, context, page, cdp, dir, feedFile, feedStats;
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
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swcache-feed-'));
  feedFile = path.join(dir, 'swcache-feed.json');
  publish(feedFile, '--url', '/nothing-yet');
  feedStats = serveFeed(server, feedFile);
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
  fs.rmSync(dir, { recursive: true, force: true });
});

const config = (feed) => `{
  version: 'v1',
  precache: ['/'],
  feed: ${feed},
  routes: [
    { name: 'data', match: '/api/', strategy: 'cacheFirst', maxAge: 864e5 },
    { name: 'pages', match: /^\\/(?!swcache)/, strategy: 'cacheFirst', maxAge: 864e5 },
  ],
}`;

async function start(feed = `{ url: '/swcache-feed.json', interval: 1000 }`) {
  server.set('/sw.js', { body: workerSource(config(feed)), headers: JS });
  assert.deepEqual(await register(page, server.origin), { ok: true });
}

async function stopWorkers() {
  await cdp.send('ServiceWorker.stopAllWorkers');
  await waitFor(() => status.size > 0 && [...status.values()].every((s) => s === 'stopped'), 'every worker stopped');
}

const stats = () => message(page, { type: 'GET_STATS' });

test('feed (c): an unchanged feed costs 304s only', async () => {
  await start();
  server.set('/promo/x', { body: 'x' });
  await page.goto(server.origin + '/promo/x');
  await waitFor(async () => (await stats()).feed.checks >= 1, 'a first check');
  const before = { ...feedStats };
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 1100));
    await page.goto(server.origin + '/promo/x');
  }
  await waitFor(async () => feedStats.notModified - before.notModified >= 3, 'three conditional checks');
  assert.equal(feedStats.ok, before.ok, 'no full download of an unchanged feed');
  const s = await stats();
  assert.ok(s.feed.notModified >= 3);
  const conditional = server.requests().filter((r) => r.path === '/swcache-feed.json' && r.headers['if-none-match']);
  assert.ok(conditional.length >= 3, 'the checks were conditional requests');
});

test('feed (d): every bad feed is ignored whole and changes nothing', async () => {
  await start();
  server.set('/promo/keep', { body: 'keep' });
  await page.goto(server.origin + '/promo/keep');
  await waitFor(() => cached(page, '/promo/keep', 'pages'), 'stored');
  await waitFor(async () => (await stats()).feed.seq === 1, 'the good feed read');
  const entry = (fields) => JSON.stringify({ swcacheFeed: 1, epoch: JSON.parse(fs.readFileSync(feedFile, 'utf8')).epoch, seq: 2, entries: [{ seq: 2, timestamp: new Date().toISOString(), ...fields }] });
  const epoch = JSON.parse(fs.readFileSync(feedFile, 'utf8')).epoch;
  const bad = {
    'not JSON': '{ this is not json',
    'wrong types': JSON.stringify({ swcacheFeed: 1, epoch, seq: 'two', entries: {} }),
    'seq going backwards': JSON.stringify({ swcacheFeed: 1, epoch, seq: 0, entries: [] }),
    '50 MB': '{"swcacheFeed":1,"seq":2,"pad":"' + 'x'.repeat(50 * 1024 * 1024) + '"}',
    '100,000 entries': JSON.stringify({ swcacheFeed: 1, epoch, seq: 100000, entries: Array.from({ length: 100000 }, (_, i) => ({ seq: i + 1, timestamp: '2026-01-01T00:00:00Z', all: true })) }),
    'cross-origin URLs': entry({ urls: ['https://evil.example/promo/keep'] }),
  };
  for (const [what, text] of Object.entries(bad)) {
    fs.writeFileSync(feedFile, text);
    const errorsBefore = (await stats()).feed.errors;
    await new Promise((r) => setTimeout(r, 1100));
    await page.goto(server.origin + '/promo/keep');
    const s = await waitFor(async () => { const x = await stats(); return x.feed.errors > errorsBefore && x; }, `${what}: reported`, 8000);
    assert.match(s.feed.error, /ignored/, what);
    assert.equal(s.feed.seq, 1, `${what}: the cursor did not move`);
    assert.ok(await cached(page, '/promo/keep', 'pages'), `${what}: nothing deleted`);
    assert.equal(await page.evaluate(() => document.body.textContent), 'keep');
  }
});

test('feed (e): offline or a missing feed keeps pages working', async () => {
  await start(`{ url: '/swcache-feed.json', interval: 1000, strict: { maxStaleness: 0, budget: 300 } }`);
  server.set('/promo/o', { body: 'offline copy' });
  await page.goto(server.origin + '/promo/o');
  await waitFor(() => cached(page, '/promo/o', 'pages'), 'stored');
  fs.rmSync(feedFile);
  await new Promise((r) => setTimeout(r, 1100));
  await page.goto(server.origin + '/promo/o');
  assert.equal(await page.evaluate(() => document.body.textContent), 'offline copy');
  const s = await waitFor(async () => { const x = await stats(); return x.feed.error && x; }, 'the 404 reported');
  assert.match(s.feed.error, /^swcache feed: \/[^ ]+ answered HTTP 404; pages are served as before$/, 'names the feed it asked');
  server.setOffline(true);
  await stopWorkers();
  await page.goto(server.origin + '/promo/o');
  assert.equal(await page.evaluate(() => document.body.textContent), 'offline copy', 'offline, strict: served from the cache after the budget');
});

test('feed (f): a worker restart between two publishes applies each entry exactly once', async () => {
  await start();
  server.set('/promo/a', { body: 'a1' });
  server.set('/promo/b', { body: 'b1' });
  await page.goto(server.origin + '/promo/a');
  await get(page, '/promo/b');
  await waitFor(async () => (await stats()).feed.seq === 1, 'first check');
  server.set('/promo/a', { body: 'a2' });
  publish(feedFile, '--url', '/promo/a');
  await new Promise((r) => setTimeout(r, 1100));
  await page.goto(server.origin + '/promo/a');
  let s = await waitFor(async () => { const x = await stats(); return x.feed.seq === 2 && x; }, 'entry 2 applied');
  const appliedFirst = s.feed.applied;
  await stopWorkers();
  server.set('/promo/b', { body: 'b2' });
  publish(feedFile, '--url', '/promo/b');
  await page.goto(server.origin + '/promo/b');
  s = await waitFor(async () => { const x = await stats(); return x.feed.seq === 3 && x; }, 'entry 3 applied');
  assert.equal(s.feed.applied, 1, 'the restarted worker applied only the new entry (its cursor survived)');
  assert.ok(appliedFirst >= 1);
  await page.goto(server.origin + '/promo/b');
  assert.equal(await page.evaluate(() => document.body.textContent), 'b2');
});

test('feed (h): a device clock 5 minutes ahead of the feed\'s still loses a copy stored before a publish', async () => {
  // The feed's server and the CMS keep a clock 5 minutes behind this device's.
  feedStats.behind = 5 * 60e3;
  await start();
  server.set('/promo/a', { body: 'a1' });
  server.set('/promo/b', { body: 'b' });
  await page.goto(server.origin + '/promo/a');
  await waitFor(async () => (await stats()).feed.seq === 1, 'first check');
  await waitFor(() => cached(page, '/promo/a', 'pages'), 'stored');
  server.set('/promo/a', { body: 'a2' });
  // Published after the copy was stored; by the server's clock, 5 minutes before it.
  publish(feedFile, '--url', '/promo/a', '--timestamp', new Date(Date.now() - feedStats.behind).toISOString());
  await new Promise((r) => setTimeout(r, 1100));
  await page.goto(server.origin + '/promo/b');
  await waitFor(async () => (await stats()).feed.seq === 2, 'entry 2 applied');
  assert.equal(await cached(page, '/promo/a', 'pages'), null, 'the copy stored before the publish is deleted');
  await page.goto(server.origin + '/promo/a');
  assert.equal(await page.evaluate(() => document.body.textContent), 'a2');
});

test('feed (g): a feed request with no answer is aborted at the check\'s 10 s limit, not left open', async () => {
  server.set('/swcache-feed.json', { mode: 'hang' });
  // The install asks the feed first (a 410 would fail it): it waits 3 s for the answer,
  // then precaches; its request is aborted at 10.5 s too.
  const began = Date.now();
  await start();
  assert.ok(Date.now() - began < 8000, `a hanging feed holds the install 3 s, not more (${Date.now() - began} ms)`);
  await waitFor(() => server.inFlight === 0, "the install's feed request aborted", 12000, 100);
  server.resetCounts();
  server.set('/promo/x', { body: 'x' });
  await page.goto(server.origin + '/promo/x');
  await waitFor(() => server.count('/swcache-feed.json') === 1 && server.inFlight === 1, 'the feed request hanging');
  const t0 = Date.now();
  await waitFor(async () => /10 s/.test((await stats()).feed.error || ''), 'the check given up', 15000, 200);
  await waitFor(() => server.inFlight === 0, 'the feed request aborted', 3000);
  assert.ok(Date.now() - t0 < 12000);
  assert.equal((await get(page, '/promo/x')).body, 'x', 'pages are served as before');
});

// An open page hands each entry of its live feed to the worker; the browser stops the idle
// worker (Chromium after about 30 s); the next one checks the feed at its first event and
// reads the same entry. It was applied once: the page is not told again (before: every
// open page got a second swcache:invalidated, and its components refetched).
test('feed (g): an entry a page handed on live is not applied again by the worker started after it', async () => {
  const live = liveFeed(server, feedFile);
  try {
    await start(`{ url: '/swcache-feed.json', interval: 1000 }`);
    server.set('/promo/x', { body: 'x1' });
    server.set('/promo/live', {
      body: `<!doctype html><body><script type="module">
        import { subscribe } from '/swcache/swcache-page.js';
        window.events = [];
        addEventListener('swcache:invalidated', (e) => window.events.push(e.detail));
        subscribe('/swcache-feed/live');
      </script></body>`,
      headers: { 'content-type': 'text/html' },
    });
    await page.goto(server.origin + '/promo/live');
    await get(page, '/promo/x');
    await waitFor(async () => (await stats()).feed.seq === 1, 'first check');
    const service = await live.service;
    await waitFor(async () => (await service.health()).clients >= 1, 'the page subscribed (the SSE stream is open)');
    publish(feedFile, '--url', '/promo/live', '--url', '/promo/x');
    await waitFor(() => page.evaluate(() => window.events.length === 1), 'the live entry applied');
    assert.equal((await stats()).feed.seq, 1, 'not checked since');
    await stopWorkers();
    await get(page, '/promo/x'); // the restarted worker's first event checks the feed
    await waitFor(async () => (await stats()).feed.seq === 2, 'the check read the entry');
    await new Promise((r) => setTimeout(r, 500));
    const events = await page.evaluate(() => window.events);
    assert.equal(events.length, 1, `told once: ${JSON.stringify(events)}`);
  } finally {
    await live.close();
  }
});
