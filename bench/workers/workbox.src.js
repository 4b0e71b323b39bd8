// Workbox 7 configured like the reference site (routes in the working order: images first), plus
// the benchmark's bulk route. Bundled by esbuild into one classic worker script.
// Workbox has no invalidation message: it gets the hand-written handler the floor has.
import { clientsClaim } from 'workbox-core';
import { precacheAndRoute } from 'workbox-precaching';
import { registerRoute } from 'workbox-routing';
import { CacheFirst, NetworkFirst } from 'workbox-strategies';
import { ExpirationPlugin } from 'workbox-expiration';
import './invalidation-handler.js';

self.skipWaiting();
clientsClaim();

precacheAndRoute([
  { url: '/', revision: '1' },
  { url: '/favicon.ico', revision: '1' },
  { url: '/robots.txt', revision: '1' },
]);

const DAY = 24 * 60 * 60;
const local = (test) => ({ url }) => url.origin === self.location.origin && test(url.pathname);

registerRoute(local((p) => /\.(png|jpe?g|gif|webp|svg)$/.test(p)), new CacheFirst({
  cacheName: 'images', plugins: [new ExpirationPlugin({ maxEntries: 200, maxAgeSeconds: 7 * DAY })],
}));
registerRoute(local((p) => /\/api\/v1\/promo\/featured-content/.test(p)), new NetworkFirst({
  cacheName: 'componentData', networkTimeoutSeconds: 3,
  plugins: [new ExpirationPlugin({ maxEntries: 100, maxAgeSeconds: 5 * 60 })],
}));
registerRoute(local((p) => p.startsWith('/bulk/')), new CacheFirst({
  cacheName: 'bulk', plugins: [new ExpirationPlugin({ maxAgeSeconds: DAY })],
}));
registerRoute(local((p) => /^\/(?!api|admin|_next|swcache\/)/.test(p)), new CacheFirst({
  cacheName: 'promoPages', plugins: [new ExpirationPlugin({ maxEntries: 50, maxAgeSeconds: DAY })],
}));
