// hydrate() in any browser: what is fetched at load, stale data from the worker's cache
// refetched with cache: 'reload', and the demo components page hydrating online and
// offline (page module, scheduler wasm and component data from the worker's cache). Same
// test pages as tests/e2e/hydrate.test.mjs and the same demo server. Written once;
// tests/firefox/ and tests/webkit/ run it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser } from '../support/harness.mjs';
import { startDemo } from '../support/demo-server.mjs';
import { register, waitFor } from '../support/browser.mjs';
import { workerSource, JS } from '../support/worker.mjs';
import { API, src, DATA, comp, LONG, hydratePage } from '../support/hydrate-page.mjs';

export default function hydrateSuite(engine) {
  const t = useBrowser(engine, { setup: (server) => server.set(API, DATA) });
  const name = (s) => `${engine}: ${s}`;
  const pg = { // the current test's page
    goto: (...a) => t.page.goto(...a), evaluate: (...a) => t.page.evaluate(...a),
    waitForFunction: (...a) => t.page.waitForFunction(...a), reload: (...a) => t.page.reload(...a),
    hover: (...a) => t.page.hover(...a),
  };
  const calls = (id) => pg.evaluate((u) => calls.filter((c) => c.url === u).length, src(id));
  const events = (kind = 'swcache:hydrated') => pg.evaluate((k) => events.filter((e) => e.kind === k), kind);
  const hydratedIds = async () => (await events()).map((e) => e.componentId).sort();
  const requested = () => [...new Set(t.server.requests().map((r) => /[?&]id=(\d+)$/.exec(r.path)).filter(Boolean).map((m) => Number(m[1])))];

  test(name('hydrate: at load only the above-the-fold components and the first 2 (preload) fetch'), async () => {
      await pg.goto(hydratePage(t.server, 'load', LONG));
    await waitFor(async () => { const ids = await hydratedIds(); return ['c1', 'c2', 'c3', 'c4'].every((id) => ids.includes(id)); }, 'c1..c4 hydrated');
    await waitFor(() => pg.evaluate(() => inflight === 0), 'no fetch in flight');
    // Two more frames: any IntersectionObserver delivery for c5.. would have come.
    await pg.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    assert.deepEqual(await hydratedIds(), ['c1', 'c2', 'c3', 'c4'], 'nothing else hydrated');
    const below = await pg.evaluate(() => ['c1', 'c2', 'c5'].map((id) =>
      document.querySelector(`[data-component-id=${id}]`).getBoundingClientRect().top - innerHeight));
    assert.ok(below.every((d) => d > 500), `c1, c2 (preload) and c5 are far below the fold: ${below}`);
    assert.deepEqual(requested().sort(), [1, 2, 3, 4], 'the server saw exactly c1..c4');
    for (const id of [5, 6, 7, 8]) assert.equal(await calls(id), 0, `c${id} not fetched`);
    // Scrolling down a third of a viewport at a time brings the rest in, in order.
    for (let i = 0; i < 60; i++) {
      const bottom = await pg.evaluate(() => { scrollBy(0, innerHeight / 3); return scrollY + innerHeight >= document.documentElement.scrollHeight - 1; });
      await pg.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      if (bottom) break;
    }
    await waitFor(async () => (await hydratedIds()).length === 8, 'all 8 hydrated after scrolling');
    assert.deepEqual(requested().filter((id) => id >= 5), [5, 6, 7, 8], 'c5..c8 fetched in order, once each');
    const first = (await events())[0];
    assert.equal(first.pageSlug, 'slug-from-body');
    assert.ok(typeof first.ms === 'number' && first.ms >= 0);
  });

  test(name('hydrate: data the worker serves with a stale sw-cache-time is rendered, then refetched with cache: reload'), async () => {
    t.server.set('/sw-stale.js', { body: workerSource(`{ version: 'hyd', keepRuntimeCaches: false, routes: [
    { name: 'componentData', match: /\\/api\\/v1\\/promo\\/featured-content/, strategy: 'cacheFirst', maxAge: 864e5 } ] }`), headers: JS });
    assert.deepEqual(await register(t.page, t.server.origin, '/sw-stale.js'), { ok: true });
    // Seed the worker's cache: c1 stamped an hour ago (MODEL_SHOWCASE maxAge is 5 min), c2 10 s ago.
    await pg.evaluate(async ([u1, u2]) => {
      const cache = await caches.open('swcache-hyd-componentData');
      const put = (u, ago) => cache.put(u, new Response(JSON.stringify({ id: 'seeded', seeded: true }), {
        headers: { 'content-type': 'application/json', 'sw-cache-time': new Date(Date.now() - ago).toISOString() } }));
      await put(u1, 3600e3);
      await put(u2, 10e3);
    }, [src(1), src(2)]);
    await pg.goto(hydratePage(t.server, 'stale', comp(1, 'MODEL_SHOWCASE') + comp(2, 'MODEL_SHOWCASE'), { types: { MODEL_SHOWCASE: { poll: 0 } } }));
    assert.ok(await pg.evaluate(() => !!navigator.serviceWorker.controller), 'the test page is controlled');
    await waitFor(async () => (await pg.evaluate(() => renders.filter((r) => r.componentId === 'c1').length)) === 2, 'c1 rendered twice');
    const r = await pg.evaluate(() => renders);
    const c1 = r.filter((x) => x.componentId === 'c1');
    assert.equal(c1[0].source, 'cache');
    assert.ok(c1[0].seeded && Math.abs(c1[0].ageMs - 3600e3) < 60e3, `first the cached copy, an hour old (${c1[0].ageMs})`);
    assert.equal(c1[1].source, 'network');
    assert.equal(c1[1].seeded, false, 'then fresh data');
    assert.deepEqual(await pg.evaluate((u) => calls.filter((c) => c.url === u).map((c) => c.cache), src(1)), ['default', 'reload']);
    assert.equal(t.server.count(src(1)), 1, 'the reload reached the server once');
    const c2 = r.filter((x) => x.componentId === 'c2');
    assert.deepEqual(c2.map((x) => x.source), ['cache'], 'fresh cached data is used as is');
    assert.equal(t.server.count(src(2)), 0);
    const stamp = await pg.evaluate(async (u) => (await caches.match(u)).headers.get('sw-cache-time'), src(1));
    assert.ok(Date.now() - Date.parse(stamp) < 60e3, `the worker stored the reloaded copy, re-stamped: ${stamp}`);
  });

  test(name('hydrate: the demo components page hydrates with badges, and offline all 12 come from the cache'), async () => {
    const demo = await startDemo(0);
    try {
      // From the top, once the scheduler runs, half a viewport at a time, then the pointer
      // onto the one component that waits for it.
      const scrollThrough = async () => {
        await pg.waitForFunction(() => document.querySelectorAll('.cmp.hydrated').length >= 2, undefined, 15000);
        await pg.evaluate(() => scrollTo(0, 0));
        for (let i = 0; i < 40; i++) {
          const done = await pg.evaluate(() => { scrollBy(0, innerHeight / 2); return scrollY + innerHeight >= document.documentElement.scrollHeight - 1; });
          await pg.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
          if (done) break;
        }
        await pg.hover('[data-hydrate="interaction"]');
      };
      const badges = () => pg.evaluate(() => [...document.querySelectorAll('.cmp.hydrated .badge')].map((b) => b.textContent));
      await pg.goto(demo.origin + '/promo/components');
      await pg.waitForFunction(() => !!navigator.serviceWorker.controller, undefined, 15000);
      const total = await pg.evaluate(() => document.querySelectorAll('[data-component-id]').length);
      assert.ok(total >= 12, `${total} components`);
      assert.ok(demo.countPrefix('/api/v1/promo/featured-content') < total, 'not everything is fetched at load');
      await pg.reload(); // now through the worker, which stores the page
      await scrollThrough();
      await pg.waitForFunction(() => document.querySelectorAll('.cmp.hydrated').length === 12, undefined, 15000);
      assert.ok((await badges()).every((t) => /^age \d+s · source (network|cache|inline)$/.test(t)), JSON.stringify(await badges()));
      assert.match(await pg.evaluate(() => document.getElementById('hydration').textContent), /components hydrated/);
      const inline = await pg.evaluate(() => document.querySelectorAll('[data-component-id] script[type="application/json"]').length);
      await waitFor(async () => (await pg.evaluate(async () => (await (await caches.open((await caches.keys()).find((n) => n.startsWith('swcache-componentData-')) || 'none')).keys()).length)) >= 12 - inline, 'component data stored');
      demo.setOffline(true);
      await pg.reload();
      assert.match(await pg.evaluate(() => document.querySelector('.meta').textContent), /rendered at/, 'the page came from the cache');
      await scrollThrough();
      await pg.waitForFunction(() => document.querySelectorAll('.cmp.hydrated').length === 12, undefined, 15000);
      const offline = await badges();
      assert.equal(offline.length, 12);
      assert.ok(offline.every((t) => / · source (cache|inline)$/.test(t)), `offline, nothing says network: ${JSON.stringify(offline)}`);
      assert.ok(offline.some((t) => t.endsWith('source cache')), JSON.stringify(offline));
    } finally {
      demo.setOffline(false);
      await pg.goto('about:blank');
      await demo.close();
    }
  });
}
