// The page module as a site owner meets it, in any browser: what a page loads (no wasm
// without hydrate()), helpers that never hang, a bad hydrate() option. Written once;
// tests/chromium/, tests/firefox/ and tests/webkit/ run it (tests/e2e/page.test.mjs has
// what only Chromium checks: the byte budget and the page console).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser } from '../support/harness.mjs';
import { waitFor } from '../support/browser.mjs';
import { workerSource, JS } from '../support/worker.mjs';

function html(script, body = '') {
  return {
    headers: { 'content-type': 'text/html; charset=utf-8' },
    body: `<!doctype html><meta charset="utf-8"><body>${body}<script type="module">${script}</script></body>`,
  };
}

export default function pageSuite(engine) {
  const t = useBrowser(engine);
  const name = (s) => `${engine}: ${s}`;

  test(name('page module: register and hover prefetch load no wasm; hydrate fetches it'), async () => {
    const { page, server } = t;
    server.set('/sw.js', { body: workerSource(`{ version: 'v1', routes: [{ name: 'pages', match: /^\\/p\\//, strategy: 'cacheFirst' }] }`), headers: JS });
    server.set('/p/a', html(`
      import { register, prefetchOnHover } from '/swcache/swcache-page.js';
      window.registered = register('/sw.js').then(() => true, (e) => e.message);
      prefetchOnHover('a', { delay: 50 });`, '<a href="/p/b" style="display:block;height:40px">b</a>'));
    server.set('/p/b', 'b');
    await page.goto(server.origin + '/p/a');
    await page.waitForFunction(() => !!window.registered);
    assert.equal(await page.evaluate(() => window.registered), true);
    await page.mouseMove(5, 300);
    await page.hover('a');
    await waitFor(() => server.count('/p/b') === 1, 'the hovered link prefetched by the worker');
    const loaded = await page.evaluate(() => performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname).filter((p) => p.startsWith('/swcache/')));
    assert.deepEqual(loaded, ['/swcache/swcache-page.js'], 'no wasm without hydrate()');
    server.set('/p/h', html(`
      import { hydrate } from '/swcache/swcache-page.js';
      hydrate({ render: (el, d) => { el.textContent = 'v' + d.v; } });`, '<div data-component-id="x" data-component-type="HERO_BANNER" data-src="/api/x"></div>'));
    server.set('/api/x', { body: '{"v":1}', headers: { 'content-type': 'application/json' } });
    await page.goto(server.origin + '/p/h');
    await waitFor(() => page.evaluate(() => document.querySelector('[data-component-id=x]').textContent === 'v1'), 'hydrated');
    const files = await page.evaluate(() => performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname).filter((p) => p.startsWith('/swcache/')));
    assert.deepEqual(files.sort(), ['/swcache/swcache-hydrate.js', '/swcache/swcache-hydrate.wasm', '/swcache/swcache-page.js']);
  });

  test(name('page module: helpers reject within their timeout when there is no worker, or a broken one'), async () => {
    const { page, server } = t;
    server.set('/plain', html(`
      import { stats, invalidate, prefetch } from '/swcache/swcache-page.js';
      const t0 = performance.now();
      window.results = Promise.all([stats({ timeout: 800 }), invalidate({ all: true }, { timeout: 800 }), prefetch(['/x'], { timeout: 800 })]
        .map((p) => p.then(() => 'resolved', (e) => ({ error: e.message, ms: performance.now() - t0 }))));`));
    await page.goto(server.origin + '/plain');
    await page.waitForFunction(() => !!window.results);
    const results = await page.evaluate(() => window.results);
    for (const r of results) {
      assert.match(r.error, /did not reply within 800 ms/);
      assert.ok(r.ms < 2000, `rejected after ${r.ms} ms`);
    }
    server.set('/bad-sw.js', {
      body: workerSource(`{ version: 'v1', routes: [{ name: 'pages', match: /^\\//, strategy: 'cacheFirts' }] }`),
      headers: JS,
    });
    server.set('/bad', html(`
      import { register, stats } from '/swcache/swcache-page.js';
      window.result = register('/bad-sw.js', { timeout: 3000 }).then(() => 'registered', (e) => e.message);
      window.after = window.result.then(() => stats({ timeout: 500 }).then(() => 'resolved', (e) => e.message));`));
    await page.goto(server.origin + '/bad');
    await page.waitForFunction(() => !!window.after);
    assert.match(await page.evaluate(() => window.result), /^swcache config: route 'pages' \(routes\[0\]\) field 'strategy' must be one of cacheFirst/);
    assert.match(await page.evaluate(() => window.after), /did not reply within 500 ms/, 'a later helper rejects too');
  });

  test(name('page module: hydrate() with a bad option rejects naming it, and hydrates nothing'), async () => {
    const { page, server } = t;
    const cases = {
      "{ preload: 'two' }": /option 'preload' must be a non-negative number/,
      '{ rootMargn: 10 }': /unknown option 'rootMargn'/,
      "{ types: { JOB_LISTINGS: { trigger: 'soon' } } }": /option 'types\.JOB_LISTINGS\.trigger' must be 'visible'/,
      "{ render: 'not a function' }": /option 'render' must be a function/,
    };
    server.set('/api/y', { body: '{}', headers: { 'content-type': 'application/json' } });
    for (const [opts, want] of Object.entries(cases)) {
      server.set('/hyd-bad', html(`
        import { hydrate } from '/swcache/swcache-page.js';
        window.result = hydrate(${opts}).ready.then(() => 'ok', (e) => e.message);`,
        '<div data-component-id="y" data-component-type="JOB_LISTINGS" data-src="/api/y" data-hydrate="eager"></div>'));
      server.resetCounts();
      await page.goto(server.origin + '/hyd-bad');
      await page.waitForFunction(() => !!window.result);
      const msg = await page.evaluate(() => window.result);
      assert.match(msg, want, opts);
      assert.ok(msg.startsWith('swcache hydrate: '), msg);
      assert.equal(server.count('/api/y'), 0, `${opts}: nothing hydrated`);
    }
  });
}
