// A config kept in a module of its own (shared with a build step, say): the types are
// importable by name as well.
import type { SwcacheConfig, SwcacheRoute, SwcacheStrategy } from 'swcache/sw';

const strategy: SwcacheStrategy = 'networkFirst';
const routes = [
  { name: 'data', match: '/api/', strategy, networkTimeout: 3000 },
  { name: 'pages', match: /^\//, strategy: 'cacheFirst' },
] as const satisfies readonly SwcacheRoute[];

export const config: SwcacheConfig = { version: '2026.12.1', offline: '/offline.html', precache: ['/'], routes, feed: { url: '/f.json', strict: false } };

// The build step itself: swcache/build's injectManifest, typed.
import { injectManifest, SwcacheBuildError, type InjectManifestOptions } from 'swcache/build';

const build: InjectManifestOptions = {
  swSrc: 'src/sw.js', swDest: 'out/sw.js', globDirectory: 'out', hashed: ['_next/static/**'], maxFileSize: '2MB', warnSize: false,
};
export const urls = (): Promise<string[]> =>
  injectManifest(build).then((r) => r.entries.map((e) => e.url), (e: unknown) => {
    throw e instanceof SwcacheBuildError ? new Error(`exit ${e.status}: ${e.message}`) : e;
  });
