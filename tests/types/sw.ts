/// <reference types="swcache/sw" />
// A site's worker in TypeScript (tsc compiles it to the sw.js the site serves): the two
// lines every swcache worker is, typed by the package's `swcache/sw` declarations.
importScripts('/swcache/swcache-sw.js');

// A setting read from the site's own config (a boolean variable) is a valid crossOrigin.
const fromCdn: boolean = self.location.hostname !== 'localhost';
const assets: swcache.Route = { name: 'assets', match: /\/assets\//, strategy: 'cacheFirst', crossOrigin: fromCdn };

const images: swcache.Route = {
  name: 'images', match: /\.(png|jpe?g|gif|webp|svg)$/, strategy: 'cacheFirst', maxAge: 7 * 864e5, maxEntries: 200,
};

swcache.start({
  version: 'v1',
  precache: ['/', '/swcache/swcache-page.js', '/swcache/swcache-hydrate.wasm', { url: '/app.css', revision: '3f2a' },
    { url: '/logo.4c1d.svg', revision: null }],
  routes: [
    assets,
    images,
    { name: 'componentData', match: /\/api\/v1\/promo\/featured-content/, strategy: 'networkFirst',
      networkTimeout: 3000, maxAge: 5 * 60e3, maxEntries: 100 },
    { name: 'promo', match: '/promo/', strategy: 'staleWhileRevalidate', maxAge: 864e5, coldStart: 'router' },
    { name: 'fonts', match: /^https:\/\/fonts\.example\.com\//, strategy: 'cacheFirst', crossOrigin: true, opaque: true },
    { name: 'live', match: '/api/live', strategy: 'networkOnly', networkTimeout: 2000 },
    { name: 'archive', match: '/archive/', strategy: 'cacheOnly', coldStart: 'worker' },
    { name: 'pages', match: /^\/(?!api|admin|swcache\/)/, strategy: 'cacheFirst', maxAge: 864e5, maxEntries: 50 },
  ],
  waitForClients: false,
  feed: { url: '/swcache-feed.json', interval: 60e3, strict: { maxStaleness: 30e3, budget: 500 } },
  offline: { page: '/offline.html', image: '/offline.svg' },
  navigationPreload: true,
});

// The global is on `self` too, with its start-up timings.
const startedAt: number = self.swcache.timing.started;

// The build's precache manifest (injected by swcache/vite, injectManifest or
// swcache-manifest --inject in place of the placeholder) is typed: no TS2339.
const manifest: swcache.PrecacheEntry[] = self.swcacheManifest;
const withRoot: swcache.Config['precache'] = ['/', ...self.swcacheManifest];
const revisions: (string | null)[] = manifest.map((e) => e.revision);
