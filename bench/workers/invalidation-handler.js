// The CACHE_INVALIDATION handler a site would hand-write for a worker that has none
// (the floor, Workbox): delete each URL from every cache (all caches at once), then reply
// DONE. Shared by both so they are compared on the same code.
self.addEventListener('message', (event) => {
  const msg = event.data;
  if (msg?.type !== 'CACHE_INVALIDATION' || !Array.isArray(msg.urls)) return;
  event.waitUntil((async () => {
    const urls = msg.urls.map((u) => new URL(u, self.location.origin).href);
    const perCache = await Promise.all((await caches.keys()).map(async (name) => {
      const cache = await caches.open(name);
      return (await Promise.all(urls.map((u) => cache.delete(u)))).filter(Boolean).length;
    }));
    const removed = perCache.reduce((a, b) => a + b, 0);
    event.ports[0]?.postMessage({ type: 'CACHE_INVALIDATION_DONE', removed });
  })());
});
