// The floor: the least a caching worker can do. Every GET is answered from whatever
// cache holds it (the benchmark warms the cache beforehand), else from the network.
// No freshness, no storing, no limits. The benchmark appends invalidation-handler.js.
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('fetch', (event) => {
  if (event.request.method !== 'GET') return;
  event.respondWith(caches.match(event.request).then((r) => r || fetch(event.request)));
});
