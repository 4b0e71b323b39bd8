// Headless Debian Chromium through playwright-core: one browser per test file, one
// fresh context (its own storage, workers and caches) per test.
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/**
 * A fresh browser (playwright gives each launch a new temporary user-data-dir). `bfcache`:
 * with the back/forward cache, which playwright turns off (`--disable-back-forward-cache`).
 */
export async function launch({ bfcache = false } = {}) {
  const ignoreDefaultArgs = bfcache ? ['--disable-back-forward-cache'] : undefined;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, ignoreDefaultArgs });
  return {
    browser,
    newContext: (opts) => browser.newContext(opts),
    close: () => browser.close(),
  };
}

/** Polls `fn` until it returns a truthy value; throws with `what` after `timeout` ms. */
export async function waitFor(fn, what = 'condition', timeout = 10000, every = 20) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try { last = await fn(); if (last) return last; } catch (e) { last = e; }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${last})`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/**
 * Opens the harness page on `origin` and registers `swUrl`. Resolves to the outcome:
 * { ok: true } once the page is controlled and the worker has finished activating (a
 * worker claims the page during its activate event, which may still be running, and a
 * worker installed meanwhile cannot activate until it ends), or { ok: false, error }
 * if registration rejects or the worker becomes redundant (failed install), never hanging.
 */
export async function register(page, origin, swUrl = '/sw.js', timeout = 15000) {
  if (!page.url().startsWith(origin)) await page.goto(origin + '/harness.html');
  return page.evaluate(async ([sw, limit]) => {
    let reg;
    try {
      reg = await navigator.serviceWorker.register(sw);
    } catch (e) {
      return { ok: false, error: String(e?.message || e), stage: 'register' };
    }
    const worker = reg.installing || reg.waiting || reg.active;
    const settled = new Promise((resolve) => {
      const check = () => {
        if (worker.state === 'redundant') resolve({ ok: false, error: 'worker became redundant', stage: 'install' });
        else if (navigator.serviceWorker.controller && worker.state === 'activated') resolve({ ok: true });
      };
      worker.addEventListener('statechange', check);
      navigator.serviceWorker.addEventListener('controllerchange', check);
      setTimeout(() => resolve({ ok: false, error: `not controlling after ${limit} ms (state ${worker.state})`, stage: 'timeout' }), limit);
      check();
    });
    return settled;
  }, [swUrl, timeout]);
}

/** A fetch from the page (through the worker), summarised. */
export async function get(page, url, init = {}) {
  return page.evaluate(async ([u, i]) => {
    const t0 = performance.now();
    try {
      const r = await fetch(u, i);
      const body = await r.text();
      return { status: r.status, body, stamp: r.headers.get('sw-cache-time'), ms: performance.now() - t0,
        headers: Object.fromEntries(r.headers) };
    } catch (e) {
      return { status: 0, error: String(e) };
    }
  }, [url, init]);
}

/**
 * Whether the origin's CacheStorage holds `url` (any cache), read from the page.
 * `cacheName`: a cache name, or a route's name (its cache is `swcache-<route>-<hash>`);
 * in `swcache-precache` entries are keyed by URL and revision, so the revision is ignored.
 */
export async function cached(page, url, cacheName) {
  return page.evaluate(async ([u, name]) => {
    if (name && !name.startsWith('swcache-')) {
      const all = await caches.keys();
      name = all.find((n) => n.startsWith(`swcache-${name}-`));
      if (!name) return null;
    }
    const opts = name === 'swcache-precache' ? { ignoreSearch: true } : undefined;
    const r = name ? await (await caches.open(name)).match(u, opts) : await caches.match(u);
    return r ? { stamp: r.headers.get('sw-cache-time'), body: await r.text() } : null;
  }, [url, cacheName || null]);
}

/** The name of route `route`'s cache (`swcache-<route>-<hash>`), once it exists. */
export async function routeCache(page, route) {
  return page.evaluate(async (r) => (await caches.keys()).find((n) => n.startsWith(`swcache-${r}-`)) || null, route);
}

/** The origin's cache names. */
export async function cacheNames(page) {
  return page.evaluate(() => caches.keys());
}

/** Posts `msg` to the active worker over a MessageChannel and resolves with the reply. */
export async function message(page, msg, timeout = 5000) {
  return page.evaluate(async ([m, t]) => {
    const reg = await navigator.serviceWorker.ready;
    const ch = new MessageChannel();
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no reply')), t);
      ch.port1.onmessage = (e) => { clearTimeout(timer); resolve(e.data); };
      reg.active.postMessage(m, [ch.port2]);
    });
  }, [msg, timeout]);
}
