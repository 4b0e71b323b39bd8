// The reference site's public/sw.js, copied as written, with only its immutable-header bug fixed:
// it called `headers.set` on a clone of a fetched Response, which throws, so it never
// stored anything. Everything else is kept: the page route is first in its table and
// its /^\/(?!api|admin|_next)/ also swallows images, `maxEntries` is never enforced,
// one cache for everything, no message handler (so no invalidation), and no
// skipWaiting/clients.claim (the benchmark reloads the page to be controlled).
const CACHE_NAME = 'promo-pages-v1';
const STATIC_CACHE_URLS = [
  '/favicon.ico',
  '/robots.txt',
  // Add other static assets
];

const DYNAMIC_CACHE_STRATEGIES = {
  // Promo pages - Cache first, network fallback
  promoPages: {
    match: /^\/(?!api|admin|_next)/,
    strategy: 'cacheFirst',
    maxAge: 24 * 60 * 60 * 1000, // 24 hours
    maxEntries: 50
  },

  // Component data - Network first, cache fallback
  componentData: {
    match: /\/api\/v1\/promo\/featured-content/,
    strategy: 'networkFirst',
    maxAge: 5 * 60 * 1000, // 5 minutes
    maxEntries: 100
  },

  // Images - Cache first
  images: {
    match: /\.(png|jpg|jpeg|gif|webp|svg)$/,
    strategy: 'cacheFirst',
    maxAge: 7 * 24 * 60 * 60 * 1000, // 7 days
    maxEntries: 200
  }
};

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches.open(CACHE_NAME)
      .then(cache => cache.addAll(STATIC_CACHE_URLS))
  );
});

self.addEventListener('fetch', (event) => {
  const { request } = event;
  const url = new URL(request.url);

  // Find matching cache strategy
  const strategy = Object.values(DYNAMIC_CACHE_STRATEGIES)
    .find(s => s.match.test(url.pathname));

  if (strategy) {
    event.respondWith(handleRequest(request, strategy));
  }
});

async function handleRequest(request, strategy) {
  const cache = await caches.open(CACHE_NAME);

  switch (strategy.strategy) {
    case 'cacheFirst':
      return cacheFirst(request, cache, strategy);
    case 'networkFirst':
      return networkFirst(request, cache, strategy);
    default:
      return fetch(request);
  }
}

// The fix: a fetched Response's headers are immutable, so the stamped copy is a new
// Response over the cloned body with copied headers.
function stamped(response) {
  const copy = response.clone();
  const headers = new Headers(copy.headers);
  headers.set('sw-cache-time', new Date().toISOString());
  return new Response(copy.body, { status: copy.status, statusText: copy.statusText, headers });
}

async function cacheFirst(request, cache, strategy) {
  const cached = await cache.match(request);

  if (cached) {
    // Check if cache is still valid
    const cacheTime = new Date(cached.headers.get('sw-cache-time'));
    if (Date.now() - cacheTime.getTime() < strategy.maxAge) {
      return cached;
    }
  }

  // Fetch fresh content
  try {
    const response = await fetch(request);
    if (response.ok) {
      const responseToCache = stamped(response);
      await cache.put(request, responseToCache);
    }
    return response;
  } catch (error) {
    // Return stale cache if network fails
    return cached || new Response('Network error', { status: 503 });
  }
}

async function networkFirst(request, cache, strategy) {
  try {
    const response = await fetch(request);
    if (response.ok) {
      const responseToCache = stamped(response);
      await cache.put(request, responseToCache);
    }
    return response;
  } catch (error) {
    const cached = await cache.match(request);
    if (cached) {
      return cached;
    }
    throw error;
  }
}
