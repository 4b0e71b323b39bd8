/// <reference types="swcache/sw" />
// Configs the engine refuses at swcache.start must not type-check either. Each directive
// says why, and after `--` a piece of the diagnostic tsc must give for the line below it
// (types.test.mjs checks both: that the line is an error, and that it is this error).
{
  // @ts-expect-error a strategy the engine does not know -- '"fastest"'
  swcache.start({ version: 'v1', routes: [{ name: 'a', match: '/', strategy: 'fastest' }] });
  // @ts-expect-error maxAge is milliseconds, not a string -- 'string' is not assignable to type 'number'
  swcache.start({ version: 'v1', routes: [{ name: 'a', match: '/', strategy: 'cacheFirst', maxAge: '7d' }] });
  // @ts-expect-error a misspelt route field -- 'maxEntires'
  swcache.start({ version: 'v1', routes: [{ name: 'a', match: '/', strategy: 'cacheFirst', maxEntires: 3 }] });
  // @ts-expect-error a misspelt config field -- 'rotues'
  swcache.start({ version: 'v1', rotues: [] });
  // @ts-expect-error version is required -- 'version'
  swcache.start({ routes: [] });
  // @ts-expect-error a route needs a name -- 'name'
  swcache.start({ version: 'v1', routes: [{ match: '/', strategy: 'cacheFirst' }] });
  // @ts-expect-error match is a RegExp or a string -- 'match'
  swcache.start({ version: 'v1', routes: [{ name: 'a', match: 3, strategy: 'cacheFirst' }] });
  // @ts-expect-error a route that stores nothing takes no maxEntries -- 'maxEntries'
  swcache.start({ version: 'v1', routes: [{ name: 'a', match: '/', strategy: 'networkOnly', maxEntries: 3 }] });
  // @ts-expect-error networkTimeout is for networkFirst and networkOnly -- 'networkTimeout'
  swcache.start({ version: 'v1', routes: [{ name: 'a', match: '/', strategy: 'cacheFirst', networkTimeout: 3000 }] });
  // @ts-expect-error opaque needs crossOrigin: true -- 'crossOrigin'
  swcache.start({ version: 'v1', routes: [{ name: 'a', match: '/', strategy: 'cacheFirst', opaque: true }] });
  // @ts-expect-error coldStart 'router' needs a path prefix string -- 'RegExp' is not assignable to type 'string'
  swcache.start({ version: 'v1', routes: [{ name: 'a', match: /^\/promo\//, strategy: 'cacheFirst', coldStart: 'router' }] });
  // @ts-expect-error coldStart 'router' needs a strategy that reads the cache first -- '"router"' is not assignable to type '"worker"'
  swcache.start({ version: 'v1', routes: [{ name: 'a', match: '/promo/', strategy: 'networkFirst', coldStart: 'router' }] });
  // @ts-expect-error coldStart 'router' needs a route that stores what it reads (not cacheOnly) -- '"router"' is not assignable to type '"worker"'
  swcache.start({ version: 'v1', routes: [{ name: 'a', match: '/promo/', strategy: 'cacheOnly', coldStart: 'router' }] });
  // @ts-expect-error coldStart 'router' is same-origin only -- '"router"'
  swcache.start({ version: 'v1', routes: [{ name: 'a', match: '/promo/', strategy: 'cacheFirst', crossOrigin: true, coldStart: 'router' }] });
  // @ts-expect-error coldStart is 'router' or 'worker' -- '"fast"'
  swcache.start({ version: 'v1', routes: [{ name: 'a', match: '/', strategy: 'cacheFirst', coldStart: 'fast' }] });
  // @ts-expect-error crossOrigin is a boolean -- 'crossOrigin'
  swcache.start({ version: 'v1', routes: [{ name: 'a', match: '/', strategy: 'cacheFirst', crossOrigin: 'yes' }] });
  // @ts-expect-error waitForClients is a boolean -- 'number' is not assignable to type 'boolean'
  swcache.start({ version: 'v1', waitForClients: 1 });
  // @ts-expect-error precache entries are URL strings or {url, revision} -- 'number'
  swcache.start({ version: 'v1', precache: [1] });
  // @ts-expect-error a precache entry with a url says its revision (null when the URL is versioned) -- 'revision'
  swcache.start({ version: 'v1', precache: [{ url: '/app.css' }] });
  // @ts-expect-error feed.url is required -- 'url'
  swcache.start({ version: 'v1', feed: { interval: 60e3 } });
  // @ts-expect-error strict mode is an object or false -- 'true'
  swcache.start({ version: 'v1', feed: { url: '/f.json', strict: true } });
  // @ts-expect-error a misspelt strict-mode field -- 'maxStale'
  swcache.start({ version: 'v1', feed: { url: '/f.json', strict: { maxStale: 0 } } });
  // @ts-expect-error offline is a URL or {page, image} -- 'video'
  swcache.start({ version: 'v1', offline: { page: '/offline.html', video: '/x.mp4' } });
  // @ts-expect-error navigationPreload is a boolean -- 'navigationPreload'
  swcache.start({ version: 'v1', navigationPreload: 'yes' });
  // @ts-expect-error start takes a config -- 'Expected 1 argument'
  swcache.start();
  // @ts-expect-error start returns nothing to wait for -- 'void'
  swcache.start({ version: 'v1' }).then(() => {});
}
{
  // @ts-expect-error the build's manifest is a list of {url, revision} entries, not of URLs -- 'SwcachePrecacheEntry'
  const urls: string[] = self.swcacheManifest;
}
