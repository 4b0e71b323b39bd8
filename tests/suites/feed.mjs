// The invalidation feed in any browser: strict mode (a returning visitor's first
// navigation is fresh, with a cold worker), the interval check, and live delivery to an
// open page over Server-Sent Events (the real feed service on the file the real
// `swcache-feed` writes). Written once; tests/chromium/, tests/firefox/ and tests/webkit/
// run it (tests/e2e/feed.test.mjs has the rest, in Chromium).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { useBrowser, HEARTBEAT, heartbeats } from '../support/harness.mjs';
import { get, cached, message, waitFor } from '../support/browser.mjs';
import { workerSource, JS } from '../support/worker.mjs';
import { publish, serveFeed, liveFeed } from '../support/feed.mjs';

const config = (feed) => `{
  version: 'v1',
  precache: ['/'],
  feed: ${feed},
  routes: [
    { name: 'data', match: '/api/', strategy: 'cacheFirst', maxAge: 864e5 },
    { name: 'pages', match: /^\\/(?!swcache|heartbeat)/, strategy: 'cacheFirst', maxAge: 864e5 },
  ],
}`;

export default function feedSuite(engine) {
  let dir, feedFile, live;
  const t = useBrowser(engine, {
    systemAccess: true,
    setup(server) {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swcache-feed-'));
      feedFile = path.join(dir, 'swcache-feed.json');
      publish(feedFile, '--url', '/nothing-yet');
      serveFeed(server, feedFile);
      live = null;
      server.set('/', { body: 'home' });
    },
  });
  const name = (s) => `${engine}: ${s}`;
  const stats = () => message(t.page, { type: 'GET_STATS' });
  async function start(feed = `{ url: '/swcache-feed.json', interval: 1000 }`) {
    t.server.set('/sw.js', { body: workerSource(config(feed)) + HEARTBEAT, headers: JS });
    const beats = heartbeats(t.server);
    await t.controlled();
    return beats;
  }
  const cleanup = async () => {
    await live?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  };

  test(name('feed: strict mode: a returning visitor gets the fresh page on the first navigation'), async () => {
    try {
      const { page, server } = t;
      const beats = await start(`{ url: '/swcache-feed.json', strict: { maxStaleness: 0, budget: 2000 } }`);
      server.set('/promo/price', { body: 'price 10' });
      assert.equal((await get(page, '/promo/price')).body, 'price 10');
      await t.waitStored('/promo/price', 'pages');
      await t.stopWorkers(beats);
      // The CMS changes the price and publishes; the visitor comes back.
      server.set('/promo/price', { body: 'price 12' });
      publish(feedFile, '--url', '/promo/price');
      await page.goto(server.origin + '/promo/price');
      assert.equal(await page.evaluate(() => document.body.textContent), 'price 12', 'the first navigation is fresh');
      const s = await stats();
      assert.equal(s.feed.seq, 2);
      assert.equal(s.feed.error, null);
    } finally { await cleanup(); }
  });

  test(name('feed: without strict mode the change arrives within one check interval'), async () => {
    try {
      const { page, server } = t;
      await start();
      server.set('/promo/sale', { body: 'sale v1' });
      await get(page, '/promo/sale');
      await t.waitStored('/promo/sale', 'pages');
      server.set('/promo/sale', { body: 'sale v2' });
      const t0 = Date.now();
      publish(feedFile, '--prefix', '/promo/');
      // Navigations check the feed at most once a second (interval: 1000), the last check
      // came before the publish: every navigation that starts a second after it is due to
      // check. The first of those starts the check (answered from the cache meanwhile);
      // the next may still come before the check's deletion lands on a loaded machine;
      // any later one is fresh. Counted, not timed: a navigation's own time varies.
      const starts = [];
      await waitFor(async () => {
        starts.push(Date.now() - t0);
        await page.goto(server.origin + '/promo/sale');
        return (await page.evaluate(() => document.body.textContent)) === 'sale v2';
      }, 'the fresh page', 8000, 200);
      const staleWhenDue = starts.slice(0, -1).filter((ms) => ms >= 1000).length;
      assert.ok(staleWhenDue <= 2, `stale navigations once the check was due: ${staleWhenDue} (starts ${starts.join(', ')} ms)`);
    } finally { await cleanup(); }
  });

  test(name('feed: an open page learns of an entry over SSE within 2 s, and its hydrated components refetch'), async () => {
    try {
      const { page, server } = t;
      live = liveFeed(server, feedFile);
      await start(`{ url: '/swcache-feed.json', interval: 60000 }`);
      let version = 1;
      server.set('/api/card', { body: () => JSON.stringify({ v: version }), headers: { 'content-type': 'application/json' } });
      server.set('/promo/live', {
        body: `<!doctype html><body>
          <div data-component-id="card" data-component-type="BLOG_PREVIEW" data-src="/api/card"></div>
          <script type="module">
            import { hydrate, subscribe } from '/swcache/swcache-page.js';
            window.events = [];
            addEventListener('swcache:invalidated', (e) => window.events.push(e.detail));
            hydrate({ preload: 5, render: (el, data) => { el.textContent = 'v' + data.v; } });
            subscribe('/swcache-feed/live');
          </script></body>`,
        headers: { 'content-type': 'text/html' },
      });
      await page.goto(server.origin + '/promo/live');
      await waitFor(() => page.evaluate(() => document.querySelector('[data-component-id=card]').textContent === 'v1'), 'hydrated');
      const service = await live.service;
      await waitFor(async () => (await service.health()).clients >= 1, 'the page subscribed (the SSE stream is open)');
      // The service told the new stream where it starts, and the page keeps that place for
      // the page that opens the stream next (no entry has come yet).
      const place = await waitFor(() => page.evaluate(() => localStorage.getItem(`swcache-live ${new URL('/swcache-feed/live', location.href).href}`)), 'the stream\'s place kept');
      assert.match(place, /^\d+ \d+\.[\w-]*$/, place);
      version = 2;
      const t0 = Date.now();
      publish(feedFile, '--url', '/api/card', '--url', '/promo/live');
      const detail = await waitFor(() => page.evaluate(() => window.events[0]), 'swcache:invalidated', 4000);
      const ms = Date.now() - t0;
      assert.ok(ms < 2000, `swcache:invalidated after ${ms} ms`);
      assert.equal(detail.page, true);
      assert.deepEqual(detail.components, ['card']);
      await waitFor(() => page.evaluate(() => document.querySelector('[data-component-id=card]').textContent === 'v2'), 'the component refetched');
      assert.equal(await cached(page, '/promo/live', 'pages'), null, 'the page itself was invalidated');
    } finally { await cleanup(); }
  });
}
