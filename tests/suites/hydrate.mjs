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
import { API, src, DATA, comp, GAP, LONG, hydratePage } from '../support/hydrate-page.mjs';

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

  // The e2e suite's helpers, on a given page.
  const callsOf = (p, id) => p.evaluate((u) => calls.filter((c) => c.url === u).length, src(id));
  const eventsOf = (p, kind = 'swcache:hydrated') => p.evaluate((k) => events.filter((e) => e.kind === k), kind);
  const hydratedIdsOf = async (p) => (await eventsOf(p)).map((e) => e.componentId).sort();
  const framesOf = (p) => p.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));

  test(name('hydrate: a removed element is never requested again'), async () => {
    const pg = t.page;
    await pg.goto(hydratePage(t.server, 'removed', `${comp(1, 'JOB_LISTINGS')}${comp(2, 'JOB_LISTINGS')}${GAP}${GAP}${comp(3)}`,
      { types: { JOB_LISTINGS: { poll: 100 } } }));
    await waitFor(async () => (await callsOf(pg, 1)) >= 2 && (await callsOf(pg, 2)) >= 2, 'both polling');
    const { removedAt, siblingAt } = await pg.evaluate(() => {
      document.querySelector('[data-component-id=c1]').remove();
      document.querySelector('[data-component-id=c3]').remove(); // observed, never hydrated
      const n = (id) => calls.filter((c) => c.url.endsWith('id=' + id)).length;
      return { removedAt: n(1), siblingAt: n(2) };
    });
    // c2 keeps polling: five of its polls are the clock for "never again".
    await waitFor(async () => (await callsOf(pg, 2)) >= siblingAt + 5, 'sibling polled five more times');
    await pg.evaluate(() => scrollTo(0, document.documentElement.scrollHeight));
    await framesOf(pg);
    assert.equal(await callsOf(pg, 1), removedAt, 'no request for the removed element');
    assert.equal(await callsOf(pg, 3), 0, 'the removed unhydrated element is not observed any more');
    assert.equal(t.server.count(src(1)), removedAt, 'server agrees');
  });

  test(name('hydrate: one component answering 500 (or throwing in render) does not stop the others'), async () => {
    t.server.set(src(1), { status: 500, body: 'boom' });
    const pg = t.page;
    try {
      await pg.goto(hydratePage(t.server, 'isolation', comp(1) + comp(2, 'BLOG_PREVIEW', 'data-throws') + comp(3, 'STATS_COUNTER') + comp(4),
        { preload: 4, maxConcurrent: 2, maxRetries: 2, retryBaseMs: 50, types: { STATS_COUNTER: { poll: 100 } } }));
      await waitFor(async () => (await eventsOf(pg, 'swcache:hydration-error')).length === 2, 'two hydration errors');
      await waitFor(async () => (await hydratedIdsOf(pg)).join() === 'c3,c4', 'c3, c4 hydrated');
      const errors = Object.fromEntries((await eventsOf(pg, 'swcache:hydration-error')).map((e) => [e.componentId, e]));
      assert.equal(errors.c1.attempts, 3, 'maxRetries 2 → 3 attempts');
      assert.equal(errors.c1.error, 'HTTP 500');
      assert.equal(errors.c2.attempts, 1);
      assert.equal(errors.c2.error, 'render broke');
      const times = t.server.requests().filter((r) => r.path === src(1)).map((r) => r.at);
      assert.equal(times.length, 3);
      assert.ok(times[1] - times[0] >= 45 && times[2] - times[1] >= 95, `backoff 50 ms then 100 ms: ${times}`);
      // c3's polls are the clock: retries are over for good.
      const polls = await callsOf(pg, 3);
      await waitFor(async () => (await callsOf(pg, 3)) >= polls + 3, 'c3 polled three more times');
      assert.equal(t.server.count(src(1)), 3, 'no attempt after giving up');
      assert.equal(await callsOf(pg, 2), 1, 'a failed render is not retried');
    } finally {
      t.server.set(src(1), DATA);
      }
  });

  test(name('hydrate: swcache:hydrated events carry componentId, componentType, pageSlug, ms; later additions hydrate'), async () => {
    const pg = t.page;
    await pg.goto(hydratePage(t.server, 'events', comp(1, 'HERO_BANNER') + comp(2, 'TESTIMONIAL_CAROUSEL')));
    await waitFor(async () => (await eventsOf(pg)).length === 2, 'two events');
    for (const e of await eventsOf(pg)) {
      assert.deepEqual(Object.keys(e).sort(), ['componentId', 'componentType', 'kind', 'ms', 'pageSlug', 'target']);
      assert.equal(e.target, e.componentId, 'dispatched on the element, bubbling to the document');
      assert.equal(e.pageSlug, 'slug-from-body');
      assert.ok(typeof e.ms === 'number' && e.ms >= 0 && e.ms < 5000, `ms ${e.ms}`);
    }
    assert.deepEqual((await eventsOf(pg)).map((e) => [e.componentId, e.componentType]).sort(),
      [['c1', 'HERO_BANNER'], ['c2', 'TESTIMONIAL_CAROUSEL']]);
    // A component added later (inside a wrapper) is found by the MutationObt.server.
    await pg.evaluate((html) => { const d = document.createElement('section'); d.innerHTML = html; document.body.prepend(d); }, comp(9, 'JOB_LISTINGS'));
    await waitFor(async () => (await eventsOf(pg)).some((e) => e.componentId === 'c9'), 'c9 hydrated');
    assert.equal(t.server.count(src(9)), 1);
    // pageSlug from the options wins.
    const pg2 = t.page;
    await pg2.goto(hydratePage(t.server, 'events-slug', comp(1), { pageSlug: 'summer-sale' }));
    await waitFor(async () => (await eventsOf(pg2)).length === 1, 'event');
    assert.equal((await eventsOf(pg2))[0].pageSlug, 'summer-sale');
  });

  test(name('hydrate: idle, interaction and media triggers; inline data'), async () => {
    const pg = t.page;
    const inline = (at) => `<script type="application/json">${JSON.stringify({ id: 'inline', fetchedAt: at })}</script>`;
    const fresh = new Date().toISOString();
    const old = new Date(Date.now() - 3600e3).toISOString();
    await pg.goto(hydratePage(t.server, 'triggers', [
      comp(1, 'BLOG_PREVIEW', 'data-hydrate="idle"'),
      comp(2, 'BLOG_PREVIEW', 'data-hydrate="interaction"'),
      comp(3, 'BLOG_PREVIEW', 'data-hydrate="media:(min-width: 100px)"'),
      comp(4, 'BLOG_PREVIEW', 'data-hydrate="media:(min-width: 1500px)"'),
      comp(5, 'BLOG_PREVIEW').replace('</div>', inline(fresh) + '</div>'),
      comp(6, 'BLOG_PREVIEW').replace('</div>', inline(old) + '</div>'),
    ].join(''), { preload: 0 }));
    await waitFor(async () => (await hydratedIdsOf(pg)).join() === 'c1,c3,c5,c6', 'idle, matching media, inline');
    await waitFor(() => pg.evaluate(() => inflight === 0), 'no fetch in flight');
    const r = Object.fromEntries((await pg.evaluate(() => renders)).map((x) => [x.componentId, x]));
    assert.equal(r.c5.source, 'inline', 'fresh inline data renders without a fetch');
    assert.equal(await callsOf(pg, 5), 0);
    assert.deepEqual(await pg.evaluate((u) => calls.filter((c) => c.url === u).map((c) => c.cache), src(6)), ['reload'], 'stale inline data is refetched bypassing the cache');
    assert.equal(await callsOf(pg, 2), 0, 'interaction: not before the pointer comes');
    assert.equal(await callsOf(pg, 4), 0, 'media: not while the query does not match');
    await pg.hover('[data-component-id=c2]');
    await waitFor(async () => (await hydratedIdsOf(pg)).includes('c2'), 'c2 hydrated on hover');
    await t.browser.setViewport(1700, 720);
    await waitFor(async () => (await hydratedIdsOf(pg)).includes('c4'), 'c4 hydrated when the query matches');
  });

  // The resources this page loaded from the engine's directory.
  const engineFiles = (p) => p.evaluate(() => performance.getEntriesByType('resource')
    .map((e) => new URL(e.name).pathname).filter((u) => u.startsWith('/swcache/')));

  test(name('hydrate: a page that never hydrates learns of an INVALIDATED notice without loading the scheduler'), async () => {
    const pg = t.page;
    t.server.set('/sw-inv.js', { body: workerSource(`{ version: 'inv', routes: [
      { name: 'pages', match: /^\\/inv\\//, strategy: 'cacheFirst' } ] }`), headers: JS });
    t.server.set('/inv/page', { headers: { 'content-type': 'text/html; charset=utf-8' }, body: `<!doctype html><meta charset="utf-8">
      <body><script type="module">
        import { register, invalidate } from '/swcache/swcache-page.js';
        window.events = [];
        addEventListener('swcache:invalidated', (e) => window.events.push(e.detail));
        window.ready = register('/sw-inv.js').then(() => true, (e) => e.message);
        window.invalidateMe = () => invalidate({ urls: [location.href] }).then((r) => r.type, (e) => e.message);
      </script></body>` });
    await pg.goto(t.server.origin + '/inv/page');
    await pg.waitForFunction(() => !!window.ready);
    assert.equal(await pg.evaluate(() => window.ready), true);
    assert.equal(await pg.evaluate(() => window.invalidateMe()), 'CACHE_INVALIDATION_DONE');
    const detail = await waitFor(() => pg.evaluate(() => window.events[0]), 'swcache:invalidated');
    assert.equal(detail.page, true, 'the notice covers this page');
    assert.deepEqual(detail.components, []);
    assert.deepEqual(await engineFiles(pg), ['/swcache/swcache-page.js'], 'no scheduler loaded to decide it');
  });

  test(name('hydrate: a notice covers the page (page module) exactly where it covers a hydrated component at that URL (scheduler)'), async () => {
    const pg = t.page;
    // Notices as the worker sends them, `$` standing for the URL: the page's own, or the
    // component's data.
    const notices = [
      { urls: ['$'] }, { urls: ['$x'] }, { prefixes: ['$'] }, { prefixes: ['/inv/', '/api/'] }, { prefixes: ['/elsewhere/'] },
      { removed: ['$'] }, { tags: ['featured'], removed: [] }, { all: true }, { all: 'yes' }, { urls: '$' },
    ].map((n) => ({ type: 'INVALIDATED', source: 'message', ...n }));
    const coverage = async (hydrating) => {
      await pg.goto(hydrating ? hydratePage(t.server, 'covers', comp(1), { preload: 1 }) : t.server.origin + '/inv/plain?x=1');
      if (hydrating) await waitFor(async () => (await pg.evaluate(() => events.length)) === 1, 'c1 hydrated');
      return pg.evaluate(async ([list, target]) => {
        const seen = [];
        addEventListener('swcache:invalidated', (e) => seen.push(e.detail));
        const out = [];
        for (const n of list) {
          const at = target === 'component' ? new URL(document.querySelector('[data-component-id=c1]').dataset.src, location.href) : location;
          const data = JSON.parse(JSON.stringify(n).replaceAll('$', at.pathname + at.search));
          seen.length = 0;
          navigator.serviceWorker.dispatchEvent(new MessageEvent('message', { data }));
          await new Promise((r) => setTimeout(r, 50));
          out.push(target === 'component' ? !!seen[0]?.components.includes('c1') : !!seen[0]?.page);
        }
        return out;
      }, [notices, hydrating ? 'component' : 'page']);
    };
    t.server.set('/inv/plain', { headers: { 'content-type': 'text/html; charset=utf-8' }, body: `<!doctype html><meta charset="utf-8">
      <body><script type="module">import '/swcache/swcache-page.js'; window.loaded = true;</script></body>` });
    const page = await coverage(false);
    assert.deepEqual(await engineFiles(pg), ['/swcache/swcache-page.js']);
    const component = await coverage(true);
    assert.deepEqual(page, [true, false, true, true, false, true, false, true, false, false]);
    assert.deepEqual(component, page, 'the scheduler (Rust) and the page module decide alike');
  });
}
