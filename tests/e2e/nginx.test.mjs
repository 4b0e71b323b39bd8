// End-to-end: the feed service behind Debian's nginx, configured with the server block of
// the README's Deployment section (read from the README: the documented block is the one
// tested). nginx serves the site's files from its root and proxies the feed and the live
// stream to `swcache-feed serve`; the page subscribes on its own origin, under a worker
// route that matches /v1/events too. Real workers in headless Chromium; nothing is mocked.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, register, get, cached, message, waitFor } from '../support/browser.mjs';
import { workerSource } from '../support/worker.mjs';
import { startFeedService } from '../support/feed.mjs';
import { startNginx } from '../support/nginx.mjs';

let chrome, svc, nginx;
const services = [];

before(async () => {
  chrome = await launch();
  svc = await startFeedService();
  services.push(svc);
  nginx = await startNginx(svc);
});
after(async () => {
  await chrome?.close();
  await nginx?.stop();
  while (services.length) await services.pop().stop();
});

// The README's quick-start page route (it matches /v1/events too, and the worker must
// leave the page's EventSource to the browser), and a feed checked on navigations once a
// second has passed.
const CONFIG = `{
  version: 'v1',
  feed: { url: '/swcache-feed.json', interval: 1000 },
  routes: [
    { name: 'pages', match: /^\\/(?!api\\/|swcache\\/)/, strategy: 'cacheFirst', maxAge: 864e5 },
  ],
}`;

const LIVE_PAGE = `<!doctype html><meta charset="utf-8"><body><p>live</p>
  <script type="module">
    import { subscribe } from '/swcache/swcache-page.js';
    window.events = [];
    addEventListener('swcache:invalidated', (e) => window.events.push(e.detail));
    subscribe('/v1/events');
  </script></body>`;

// Each version of the card has its own length: nginx's ETag for a file is its mtime in
// seconds and its size, and two writes within one second must still differ.
const CARD = ['card v1', 'card v2, published', 'card v3, published during a restart'];

test("behind nginx with the README's server block: live entries come at once and resume across a restart, the feed answers 304, invalidated pages come fresh", async () => {
  const { origin } = nginx;
  nginx.write('/harness.html', '<!doctype html><meta charset="utf-8"><body>harness</body>');
  nginx.write('/sw.js', workerSource(CONFIG));
  nginx.write('/promo/live.html', LIVE_PAGE);
  nginx.write('/promo/card.txt', CARD[0]);
  const context = await chrome.newContext();
  const page = await context.newPage();
  const warnings = [];
  page.on('console', (m) => { if (m.type() === 'warning') warnings.push(m.text()); });
  const stats = async () => (await message(page, { type: 'GET_STATS' })).feed;
  assert.deepEqual(await register(page, origin), { ok: true });

  // The worker's feed checks, through nginx: a 200 (gzipped by the service, its strong
  // ETag kept), then a 304 to the If-None-Match that carries that ETag.
  await page.goto(origin + '/promo/live.html');
  await waitFor(async () => (await stats()).checks >= 1 && (await stats()).seq === 0, 'a first feed check');
  await waitFor(async () => {
    await page.goto(origin + '/promo/live.html');
    return (await stats()).notModified >= 1;
  }, 'a feed check answered 304 (a navigation checks once a second has passed)', 20000, 300);
  const feed = nginx.log().filter((l) => l.uri === '/swcache-feed.json');
  const ok = feed.find((l) => l.status === '200');
  assert.ok(ok, `a 200 for the feed: ${JSON.stringify(feed)}`);
  assert.equal(ok.upstream, '200');
  assert.match(ok.acceptEncoding, /gzip/);
  assert.equal(ok.contentEncoding, 'gzip', 'the service compressed it; nginx passed it on');
  assert.match(ok.etag, /^"[^"]+"$/, 'a strong ETag');
  const notModified = feed.find((l) => l.status === '304');
  assert.ok(notModified, `a 304 for the feed: ${JSON.stringify(feed)}`);
  assert.equal(notModified.ifNoneMatch, ok.etag, 'the worker sent the ETag nginx gave it');
  assert.equal(notModified.upstream, '304', "the service's own 304");
  assert.equal((await stats()).error, null);

  // The open page and its card, cached; the page's stream connected through nginx.
  assert.equal((await get(page, '/promo/card.txt')).body, CARD[0]);
  await waitFor(() => cached(page, '/promo/card.txt', 'pages'), 'the card stored');
  await waitFor(() => cached(page, '/promo/live.html', 'pages'), 'the page stored');
  await waitFor(async () => (await svc.health()).clients === 1, 'the page connected to the live stream (and the earlier pages gone)');

  // A publish reaches the open page at once: nginx holds nothing back.
  nginx.write('/promo/card.txt', CARD[1]);
  assert.equal((await get(page, '/promo/card.txt')).body, CARD[0], 'before the publish, the cached copy');
  const t0 = Date.now();
  const first = await svc.publish({ urls: ['/promo/card.txt', '/promo/live.html'] });
  const detail = await waitFor(() => page.evaluate(() => window.events[0]), 'swcache:invalidated', 5000);
  const ms = Date.now() - t0;
  console.log(`# POST /v1/entries -> swcache:invalidated on the open page, through nginx: ${ms} ms`);
  assert.ok(ms < 2000, `swcache:invalidated after ${ms} ms`);
  assert.equal(detail.page, true);
  assert.equal(detail.source, 'message');
  assert.deepEqual([...detail.urls].sort(), ['/promo/card.txt', '/promo/live.html']);
  assert.equal((await get(page, '/promo/card.txt')).body, CARD[1], 'the invalidated card comes fresh from nginx');

  // The service restarts (a deploy) while another instance on the same store takes a
  // publish. nginx cannot reach it meanwhile and answers the page's reconnects with an
  // empty stream, so the browser keeps its EventSource and its Last-Event-ID: once the
  // service is back, the entry it missed comes as the next event.
  const other = await startFeedService({ store: svc.store });
  services.push(other);
  await svc.terminate();
  const down = await waitFor(() => nginx.log().find((l) => l.uri.split('?')[0] === '/v1/events' && l.upstream.includes('502')),
    "a reconnect while the service is down, answered by nginx's empty stream", 10000);
  assert.equal(down.status, '200', 'not an error status: the EventSource keeps going');
  assert.match(down.contentType, /^text\/event-stream/);
  assert.equal(down.lastEventId.split('.')[0], String(first.seq), 'the browser sent the id of the last entry it got');
  nginx.write('/promo/card.txt', CARD[2]);
  const missed = await other.publish({ urls: ['/promo/card.txt', '/promo/live.html'] });
  await svc.restart();
  const resumed = await waitFor(() => page.evaluate(() => window.events[1]), 'the missed entry, once the service is back', 10000);
  assert.deepEqual([...resumed.urls].sort(), ['/promo/card.txt', '/promo/live.html']);
  assert.ok(!resumed.all, 'the entry itself, not a reset');
  assert.equal((await get(page, '/promo/card.txt')).body, CARD[2], 'fresh again');
  assert.equal(await page.evaluate(() => window.events.length), 2, 'one event per entry');
  assert.ok(missed.seq > first.seq);
  assert.deepEqual(warnings.filter((w) => w.includes('live feed')), [], 'subscribe() never had to open the stream anew');

  // The worker's checks go on through nginx's kept connections to the restarted service.
  const before = (await stats()).checks;
  await waitFor(async () => {
    await page.goto(origin + '/promo/live.html');
    const f = await stats();
    return f.checks > before && f.seq === missed.seq;
  }, 'a feed check after the restart', 20000, 300);
  assert.equal((await stats()).error, null);
  const failed = nginx.log().filter((l) => l.uri === '/swcache-feed.json' && !['200', '304'].includes(l.status));
  assert.deepEqual(failed, [], 'no feed check failed at nginx');
  await context.close();
});
