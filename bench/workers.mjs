// The contenders' worker scripts: what each origin serves at /sw.js (and imports).
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');

// The same routes as the reference site (images first) plus the bulk route the invalidation
// figure fills with 1,000 entries. `pages` is the route serving the promo pages (the
// cold-start URL and the Zipf trace live under /promo/).
const SWCACHE_PAGES = "{ name: 'promoPages', match: /^\\/(?!api|admin|_next|swcache\\/)/, strategy: 'cacheFirst', maxAge: 864e5, maxEntries: 50 }";
// swcache-router: the same, except that the pages route is a path prefix the browser's
// router serves from the cache while the worker is stopped (Static Routing API).
// The same first lines in every contender's /sw.js (served by main.mjs and cold-probe.mjs,
// not counted in its bytes):
// when the script starts, when its first fetch event is dispatched (this listener is
// registered first, so it runs first) and when the promise given to its first
// respondWith settles. The cold-start table puts the contenders' steps side by side, so
// the floor's own script start shows what a cold start costs any worker here.
export const TIMING_PRELUDE = `self.benchTiming = { evaluated: performance.now(), firstFetch: 0, firstAnswer: 0 };
self.addEventListener('fetch', () => { if (!benchTiming.firstFetch) benchTiming.firstFetch = performance.now(); });
{ const rw = FetchEvent.prototype.respondWith;
  FetchEvent.prototype.respondWith = function (p) {
    Promise.resolve(p).finally(() => { if (!benchTiming.firstAnswer) benchTiming.firstAnswer = performance.now(); }).catch(() => {});
    return rw.call(this, p);
  }; }
`;

// Sent once by a worker after its first answer, when served right after the prelude
// (bench/engines.mjs, bench/load-probe.mjs; HEARTBEAT, later in the script, names the
// instance): the prelude's times, swcache's own and any the script notes in
// self.benchMarks, so a cold start's steps inside the worker are read in every engine
// without a way into the worker's global (timingReports collects them). Its listener
// comes before the worker's own (respondWith stops the dispatch) and only sets a timer.
export const TIMING_REPORT = `self.addEventListener('fetch', () => {
  if (self.benchTimingSent) return;
  self.benchTimingSent = true;
  const poll = () => (benchTiming.firstAnswer
    ? fetch('/timing?' + encodeURIComponent(JSON.stringify({ instance: swcacheInstance, bench: benchTiming, swcache: self.swcache?.timing || null, marks: self.benchMarks || null }))).catch(() => {})
    : setTimeout(poll, 5));
  setTimeout(poll, 5);
});
`;
/** The TIMING_REPORT of each worker instance on `server`, by instance id. */
export function timingReports(server) {
  const byInstance = new Map();
  server.set('/timing', {
    handler: (_req, res, url) => {
      const r = JSON.parse(decodeURIComponent(url.search.slice(1)));
      byInstance.set(r.instance, r);
      res.writeHead(204);
      res.end();
    },
  });
  return byInstance;
}

const fail = (msg) => { throw new Error(msg); };

/** A worker's self.benchTiming (the prelude): its script start, first fetch, first answer. */
export function coldSteps(name, t) {
  const keys = ['evaluated', 'firstFetch', 'firstAnswer'];
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    if (!(typeof t?.[k] === 'number' && t[k] > 0)) fail(`${name}: benchTiming.${k} is ${t?.[k]} after a cold hit: ${JSON.stringify(t)}`);
    if (i && t[k] < t[keys[i - 1]]) fail(`${name}: benchTiming out of order: ${JSON.stringify(t)}`);
  }
  return {
    evaluated: t.evaluated,
    toFirstFetch: t.firstFetch - t.evaluated,
    firstResponse: t.firstAnswer - t.firstFetch,
    firstAnswer: t.firstAnswer,
  };
}

/** Checks a worker's self.swcache.timing and turns it into the cold-start breakdown. */
export function coldBreakdown(name, t) {
  if (!t || typeof t !== 'object') fail(`${name}: the worker has no self.swcache.timing (is dist/ built from the current shim?)`);
  const keys = ['evaluated', 'compiled', 'instantiated', 'started', 'firstFetch', 'firstAnswer'];
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    if (!(typeof t[k] === 'number' && t[k] > 0)) fail(`${name}: swcache.timing.${k} is ${t[k]} after a cold hit: ${JSON.stringify(t)}`);
    if (i && t[k] < t[keys[i - 1]]) fail(`${name}: swcache.timing out of order: ${JSON.stringify(t)}`);
  }
  return {
    evaluated: t.evaluated,
    compile: t.compiled - t.evaluated,
    instantiate: t.instantiated - t.compiled,
    start: t.started - t.instantiated,
    toFirstFetch: t.firstFetch - t.started,
    firstResponse: t.firstAnswer - t.firstFetch,
    firstAnswer: t.firstAnswer,
  };
}

export const ROUTER_PREFIX = '/promo/';
const ROUTER_PAGES = `{ name: 'promoPages', match: '${ROUTER_PREFIX}', strategy: 'cacheFirst', maxAge: 864e5, maxEntries: 50, coldStart: 'router' }`;
const swcacheConfig = (pages) => `{
  version: 'bench-v1',
  precache: ['/', '/favicon.ico', '/robots.txt'],
  routes: [
    { name: 'images', match: /\\.(png|jpe?g|gif|webp|svg)$/, strategy: 'cacheFirst', maxAge: 7 * 864e5, maxEntries: 200 },
    { name: 'componentData', match: /\\/api\\/v1\\/promo\\/featured-content/, strategy: 'networkFirst',
      networkTimeout: 3000, maxAge: 5 * 60e3, maxEntries: 100 },
    { name: 'bulk', match: /^\\/bulk\\//, strategy: 'cacheFirst', maxAge: 864e5 },
    ${pages},
  ],
}`;

function workbox() {
  const out = esbuild.buildSync({
    entryPoints: [path.join(HERE, 'workers/workbox.src.js')],
    bundle: true, format: 'iife', minify: true, write: false, target: 'es2020',
    define: { 'process.env.NODE_ENV': '"production"' }, logLevel: 'error',
  });
  return out.outputFiles[0].text;
}

const read = (p) => fs.readFileSync(path.join(ROOT, p), 'utf8');

/**
 * Each contender: `files` (path → source) its origin serves, the first being `/sw.js`
 * (none for 'none'); `invalidates` whether it answers CACHE_INVALIDATION; `stores`
 * whether it caches on its own (the floor relies on a warmed cache); `claims` whether
 * it controls the registering page without a reload; `engine` whether it runs
 * dist/swcache-sw.js (and exposes self.swcache.timing); `router` the path prefix the
 * browser's router serves from the cache while the worker is stopped.
 */
export function contenders() {
  // SWCACHE_BASELINE=<an older dist/swcache-sw.js>: that build runs beside this one as
  // 'baseline' (the engines bench), so a change is measured against it in the same run.
  const baseline = process.env.SWCACHE_BASELINE ? [{
    name: 'baseline',
    files: {
      '/sw.js': `importScripts('/swcache/swcache-sw.js');\nswcache.start(${swcacheConfig(SWCACHE_PAGES)});\n`,
      '/swcache/swcache-sw.js': fs.readFileSync(process.env.SWCACHE_BASELINE, 'utf8'),
    },
    invalidates: true, stores: true, engine: true,
  }] : [];
  return [
    { name: 'none', files: {}, invalidates: false, stores: false },
    {
      name: 'floor',
      files: { '/sw.js': read('bench/workers/floor.js') + read('bench/workers/invalidation-handler.js') },
      invalidates: true, stores: false,
    },
    { name: 'seed', files: { '/sw.js': read('bench/workers/seed.js') }, invalidates: false, stores: true },
    { name: 'workbox', files: { '/sw.js': workbox() }, invalidates: true, stores: true },
    {
      name: 'swcache',
      files: {
        '/sw.js': `importScripts('/swcache/swcache-sw.js');\nswcache.start(${swcacheConfig(SWCACHE_PAGES)});\n`,
        '/swcache/swcache-sw.js': read('dist/swcache-sw.js'),
      },
      invalidates: true, stores: true, engine: true,
    },
    {
      name: 'swcache-router',
      files: {
        '/sw.js': `importScripts('/swcache/swcache-sw.js');\nswcache.start(${swcacheConfig(ROUTER_PAGES)});\n`,
        '/swcache/swcache-sw.js': read('dist/swcache-sw.js'),
      },
      invalidates: true, stores: true, engine: true, router: ROUTER_PREFIX,
    },
    ...baseline,
  ];
}

/** Bytes a contender's worker loads: every script, raw and gzip -9. */
export function workerBytes(c) {
  let raw = 0;
  let gzip = 0;
  for (const src of Object.values(c.files)) {
    const buf = Buffer.from(src, 'utf8');
    raw += buf.length;
    gzip += zlib.gzipSync(buf, { level: 9 }).length;
  }
  return { raw, gzip };
}

/**
 * What a page loads for the page module, beside the small tools site teams compare it
 * with: instant.page and quicklink (hover / viewport prefetch), 11ty's <is-land>
 * (island hydration). Raw and gzip -9 bytes of each file.
 */
export function pageBytes() {
  const size = (file) => {
    const buf = fs.readFileSync(path.join(ROOT, file));
    return { file, raw: buf.length, gzip: zlib.gzipSync(buf, { level: 9 }).length };
  };
  return {
    swcache: [size('dist/swcache-page.js'), size('dist/swcache-hydrate.js'), size('dist/swcache-hydrate.wasm')],
    others: [
      ['instant.page (hover prefetch)', 'node_modules/instant.page/instantpage.js'],
      ['quicklink (viewport prefetch)', 'node_modules/quicklink/dist/quicklink.mjs'],
      ['@11ty/is-land (island hydration)', 'node_modules/@11ty/is-land/dist/is-land.min.js'],
    ].filter(([, f]) => fs.existsSync(path.join(ROOT, f))).map(([name, f]) => ({ name, ...size(f) })),
  };
}
