// Worker scripts for tests: the site owner's two lines, with a config given as JS source.
export function workerSource(configJs) {
  return `importScripts('/swcache/swcache-sw.js');\nswcache.start(${configJs});\n`;
}

export const JS = { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' };

/** The reference site's config (routes in the working order), with short lifetimes where asked. */
export function seedConfig({ version = 'v1', pageMaxAge = 864e5, dataMaxAge = 5 * 60e3, timeout = 3000, precache = ['/', '/favicon.ico', '/robots.txt'] } = {}) {
  return `{
    version: ${JSON.stringify(version)},
    precache: ${JSON.stringify(precache)},
    routes: [
      { name: 'images', match: /\\.(png|jpe?g|gif|webp|svg)$/, strategy: 'cacheFirst', maxAge: 7 * 864e5, maxEntries: 200 },
      { name: 'componentData', match: /\\/api\\/v1\\/promo\\/featured-content/, strategy: 'networkFirst',
        networkTimeout: ${timeout}, maxAge: ${dataMaxAge}, maxEntries: 100 },
      { name: 'promoPages', match: /^\\/(?!api|admin|_next|swcache\\/)/, strategy: 'cacheFirst', maxAge: ${pageMaxAge}, maxEntries: 50 },
    ],
  }`;
}

/** A `coldStart: 'router'` landing route under /l/ (maxAge as JS source), then a page route. */
export const routerConfig = (landingMaxAge) => `{
  version: 'v1',
  precache: ['/'],
  routes: [
    { name: 'landing', match: '/l/', strategy: 'cacheFirst', maxAge: ${landingMaxAge}, coldStart: 'router' },
    { name: 'pages', match: /^\\/(?!swcache\\/)/, strategy: 'cacheFirst', maxAge: 864e5 },
  ],
}`;

/** The freshness tests' routes (maxEntries, race, quota, prefetch, the page module), shared by the
 * Chromium and Firefox suites. */
export const FRESHNESS_CONFIG = `{
  version: 'v1',
  routes: [
    { name: 'small', match: '/small/', strategy: 'cacheFirst', maxAge: 864e5, maxEntries: 10 },
    { name: 'race', match: '/race/', strategy: 'cacheFirst', maxAge: 250 },
    { name: 'big', match: '/big/', strategy: 'cacheFirst' },
    { name: 'pages', match: /^\\/p\\//, strategy: 'cacheFirst', maxAge: 864e5 },
    { name: 'data', match: '/data/', strategy: 'networkFirst', maxAge: 864e5 },
    { name: 'live', match: '/live/', strategy: 'networkOnly' },
  ],
}`;

/** A page that imports the page module as `window.swcache` and registers /sw.js (`window.ready`),
 * with links for prefetchOnHover: two same-origin `data-prefetch` links, one to another origin,
 * one unmarked and one marked download. */
export const PAGE_MODULE_PAGE = {
  body: `<!doctype html><meta charset="utf-8"><body>
    <a id="l1" data-prefetch href="/p/hover-1" style="display:block;height:40px">one</a>
    <a id="l2" data-prefetch href="/p/hover-2" style="display:block;height:40px">two</a>
    <a id="l3" data-prefetch href="https://example.com/p/x" style="display:block;height:40px">elsewhere</a>
    <a id="l4" href="/p/not-marked" style="display:block;height:40px">plain</a>
    <a id="l5" data-prefetch download href="/p/hover-download" style="display:block;height:40px">export</a>
    <script type="module">
      import * as swcache from '/swcache/swcache-page.js';
      window.swcache = swcache;
      window.ready = swcache.register('/sw.js');
    </script></body>`,
  headers: { 'content-type': 'text/html' },
};
