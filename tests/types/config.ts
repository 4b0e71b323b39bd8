// A config kept in a module of its own (shared with a build step, say): the types are
// importable by name as well.
import type { SwcacheConfig, SwcacheRoute, SwcacheStrategy } from 'swcache/sw';

const strategy: SwcacheStrategy = 'networkFirst';
const routes = [
  { name: 'data', match: '/api/', strategy, networkTimeout: 3000 },
  { name: 'pages', match: /^\//, strategy: 'cacheFirst' },
] as const satisfies readonly SwcacheRoute[];

export const config: SwcacheConfig = { version: '2026.12.1', offline: '/offline.html', precache: ['/'], routes, feed: { url: '/f.json', strict: false } };
