// The CACHE_INVALIDATION handler a site would hand-write for a worker that has none
// (the floor, Workbox): delete each URL from every cache, then reply DONE. Shared by
// both so they are compared on the same code.
self.addEventListener('message', (event) => {
  const msg = event.data;
  if (!msg || msg.type !== 'CACHE_INVALIDATION' || !Array.isArray(msg.urls)) return;
  event.waitUntil((async () => {
    const urls = msg.urls.map((u) => new URL(u, self.location.origin).href);
    let removed = 0;
    for (const name of await caches.keys()) {
      const cache = await caches.open(name);
      removed += (await Promise.all(urls.map((u) => cache.delete(u)))).filter(Boolean).length;
    }
    event.ports[0]?.postMessage({ type: 'CACHE_INVALIDATION_DONE', removed });
  })());
});
