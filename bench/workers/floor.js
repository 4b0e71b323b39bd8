// The floor: the least a caching worker can do. Every GET is answered from whatever
// cache holds it (the benchmark warms the cache beforehand), else from the network.
// No freshness, no storing, no limits. Its CACHE_INVALIDATION handler is what a
// site would hand-write: delete each URL from every cache.
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('fetch', (event) => {
  if (event.request.method !== 'GET') return;
  event.respondWith(caches.match(event.request).then((r) => r || fetch(event.request)));
});

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
