// The demo site's worker: the reference site's routes, in the order that works. The reference site put the
// page route first, and its /^\/(?!api|admin|_next)/ also matches every image, so the
// images route never ran; routes are ordered and the first match wins, so images go first.
importScripts('/swcache/swcache-sw.js');

swcache.start({
  version: 'demo-v1',
  // The page module and its hydration wasm are precached with the site's own pages, so
  // pages work offline (an engine upgrade comes with a new version).
  precache: ['/', '/favicon.ico', '/robots.txt', '/swcache/swcache-page.js', '/swcache/swcache-hydrate.wasm'],
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
