/// <reference types="swcache/sw" />
// The site's worker, in TypeScript: the plugin compiles it to /sw.js and puts the build's
// precache manifest in place of the placeholder below.
importScripts('/swcache/swcache-sw.js');

const pages: swcache.Route = {
  name: 'pages', match: /^\/(?!swcache\/)/, strategy: 'cacheFirst', maxAge: 864e5, maxEntries: 50,
};

swcache.start({
  version: 'v1',
  precache: ['/', ...self.swcacheManifest],
  routes: [pages],
});
