// The demo site's worker: the reference site's routes, in the order that works. The reference site put the
// page route first, and its /^\/(?!api|admin|_next)/ also matches every image, so the
// images route never ran; routes are ordered and the first match wins, so images go first.
importScripts('/swcache/swcache-sw.js');

swcache.start({
  version: 'demo-v1',
  // The site's own pages (fetched again for a new version), and the page module and its
  // hydration wasm, so pages work offline. The spread list below is replaced at build
  // time by `swcache-manifest` with those files and their content hashes: a rebuild that
  // changes one of them makes a new worker that fetches just that file.
  precache: ['/', '/favicon.ico', '/robots.txt', ...self.swcacheManifest],
  // Navigations that fail with nothing cached get this page (precached).
  offline: '/offline.html',
  // The site's invalidation feed (written by `swcache-feed` when the CMS publishes):
  // checked on start and on navigations at most every 10 s.
  feed: { url: '/swcache-feed.json', interval: 10000 },
  routes: [
    { name: 'images', match: /\.(png|jpe?g|gif|webp|svg)$/, strategy: 'cacheFirst',
      maxAge: 7 * 864e5, maxEntries: 200 },
    { name: 'componentData', match: /\/api\/v1\/promo\/featured-content/,
      strategy: 'networkFirst', networkTimeout: 3000, maxAge: 5 * 60e3, maxEntries: 100 },
    // The engine's own files are excluded so a rebuilt page module is picked up at once.
    { name: 'promoPages', match: /^\/(?!api|admin|_next|swcache\/)/, strategy: 'cacheFirst',
      maxAge: 864e5, maxEntries: 50 },
  ],
});
