/// <reference types="swcache/sw" />
// src/sw.ts: the plugin compiles it to /sw.js, the site's root, so its scope is the whole site
importScripts('/swcache/swcache-sw.js');
swcache.start({
  version: 'v1',              // a new version (or a new build) fetches the plain precache URLs ('/') again
  precache: ['/', ...self.swcacheManifest],   // the build's files, each with its revision
  routes: [                   // the first match wins
    { name: 'images', match: /\.(png|jpe?g|gif|webp|svg)$/, strategy: 'cacheFirst',
      maxAge: 7 * 864e5, maxEntries: 200 },
    { name: 'data', match: '/api/', strategy: 'networkFirst', networkTimeout: 3000,
      maxAge: 5 * 60e3, maxEntries: 100 },
    { name: 'pages', match: /^\/(?!api\/|swcache\/)/, strategy: 'cacheFirst',
      maxAge: 864e5, maxEntries: 50 },
  ],
});
