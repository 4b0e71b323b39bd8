/* swcache-remove-sw.js: takes swcache off a site. Serve this file at the URL of the
 * site's worker (e.g. as /sw.js, or `importScripts` it from there) instead of the swcache
 * worker. Browsers check that URL for updates on navigation; this worker then installs
 * at once, deletes every cache whose name starts with "swcache-" (the site's own caches
 * are left alone) and unregisters itself. It handles no fetch: open pages use the
 * network, and the next navigation has no worker at all. It uses no wasm and nothing of
 * the engine, so it works even when the engine is what broke. The caches are deleted a
 * second time once the worker is unregistered: the outgoing swcache worker may still be
 * finishing a write (which reopens its cache) while this one activates. */
function removeCaches() {
  return caches.keys().then((names) => {
    return Promise.all(names.filter((n) => n.indexOf('swcache-') === 0).map((n) => caches.delete(n)));
  });
}
self.addEventListener('install', () => {
  self.skipWaiting();
});
self.addEventListener('activate', (event) => {
  event.waitUntil(removeCaches().then(() => {
    return self.clients.claim();
  }).then(() => {
    return self.registration.unregister();
  }).then(removeCaches).then(() => {
    console.info('swcache: removed from this site (swcache caches deleted, worker unregistered)');
  }));
});
