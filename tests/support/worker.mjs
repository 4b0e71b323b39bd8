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
