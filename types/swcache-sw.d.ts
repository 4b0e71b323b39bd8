// Type declarations for swcache-sw.js, the service-worker engine a site loads with
// `importScripts('/swcache/swcache-sw.js')`. The script defines one global, `swcache`.
//
// In a worker written in TypeScript:
//
//     /// <reference types="swcache/sw" />
//     importScripts('/swcache/swcache-sw.js');
//     swcache.start({ version: 'v1', routes: [ ... ] });
//
// The types follow the engine's own validation (src/policy/config.rs): a config they accept
// can still be refused at `swcache.start` for what a type cannot say (a name's characters,
// a number's range, a URL that is not same-origin), and the error names the route and field.

/** How a route answers a request. */
export type SwcacheStrategy = 'cacheFirst' | 'networkFirst' | 'staleWhileRevalidate' | 'networkOnly' | 'cacheOnly';

interface SwcacheRouteBase<S extends SwcacheStrategy> {
  /**
   * 1-64 letters, digits, `_` or `-`; unique among the routes; not `precache`. Names the
   * route's cache: `swcache-<name>-<hash of what decides its content>`
   * (`swcache-<version>-<name>` with `keepRuntimeCaches: false`).
   */
  name: string;
  strategy: S;
  /**
   * Milliseconds, at least 0: a stored copy is fresh while `now - sw-cache-time < maxAge`.
   * Absent: never stale by age.
   */
  maxAge?: number;
}

/** How every route recognises its requests, and which origins it serves. */
type SwcacheRouteMatch = {
  /**
   * A RegExp (run by the browser's engine on pathname+search, or on the full URL for a
   * `crossOrigin` route) or a non-empty string prefix of the same text. The first route
   * that matches wins.
   */
  match: RegExp | string;
  /** `'worker'` (the default): every request goes through the worker. */
  coldStart?: 'worker';
} & (
  | {
      /** `true` lets the route match other origins (on the full URL). */
      crossOrigin?: boolean;
      /** Needs `crossOrigin: true` (only cross-origin responses are opaque). */
      opaque?: false;
    }
  | {
      /** `true` lets the route match other origins (on the full URL). */
      crossOrigin: true;
      /** `true` allows storing opaque (no-cors) responses. */
      opaque?: boolean;
    }
);

/**
 * A route the browser's router serves from its cache while the worker is stopped
 * (`coldStart: 'router'`, the Static Routing API): same-origin, matched by a path prefix
 * string (no `?` or `#`), with a strategy that reads the cache first.
 */
type SwcacheRouterMatch = {
  /** A path prefix such as `'/promo/'`: the browser's router cannot run a RegExp. */
  match: string;
  coldStart: 'router';
  crossOrigin?: false;
  opaque?: false;
};

/** Routes that store what they read first (cacheFirst, staleWhileRevalidate) may be served by the browser's router. */
type SwcacheColdStart = SwcacheRouteMatch | SwcacheRouterMatch;

/** Stored copies are served while fresh; stale or missing ones come from the network. */
export type SwcacheCacheFirstRoute = SwcacheRouteBase<'cacheFirst'> & {
  /** Whole number from 1 to 1,000,000: least frequently, then least recently used go first. */
  maxEntries?: number;
  networkTimeout?: never;
} & SwcacheColdStart;

/** A fresh copy is served as is; a stale one is served at once and refreshed in the background. */
export type SwcacheStaleWhileRevalidateRoute = SwcacheRouteBase<'staleWhileRevalidate'> & {
  /** Whole number from 1 to 1,000,000. */
  maxEntries?: number;
  networkTimeout?: never;
} & SwcacheColdStart;

/** The network first, the cached copy (even stale) on failure, a 5xx or a timeout. */
export type SwcacheNetworkFirstRoute = SwcacheRouteBase<'networkFirst'> & {
  /** Whole number from 1 to 1,000,000. */
  maxEntries?: number;
  /** Milliseconds above 0, at most 600,000. */
  networkTimeout?: number;
} & SwcacheRouteMatch;

/** The network only; nothing is stored. A `networkTimeout` there answers 504. */
export type SwcacheNetworkOnlyRoute = SwcacheRouteBase<'networkOnly'> & {
  maxEntries?: never;
  /** Milliseconds above 0, at most 600,000. */
  networkTimeout?: number;
} & SwcacheRouteMatch;

/** The cache only; a miss is a 504. Nothing is stored. */
export type SwcacheCacheOnlyRoute = SwcacheRouteBase<'cacheOnly'> & {
  maxEntries?: never;
  networkTimeout?: never;
} & SwcacheRouteMatch;

/** One entry of `routes`. */
export type SwcacheRoute =
  | SwcacheCacheFirstRoute
  | SwcacheStaleWhileRevalidateRoute
  | SwcacheNetworkFirstRoute
  | SwcacheNetworkOnlyRoute
  | SwcacheCacheOnlyRoute;

/** A precached URL with the revision of its content: a new revision fetches it again. */
export interface SwcachePrecacheEntry {
  /** Same-origin URL, resolved against the worker's location. */
  url: string;
  /** The content's revision (a hash, a build id); `null` when the URL itself is versioned. */
  revision: string | null;
}

/** Strict mode: a navigation waits (at most `budget` ms) for a feed check that is too old. */
export interface SwcacheFeedStrict {
  /** Milliseconds from 0 to 86,400,000 [default 30000]. */
  maxStaleness?: number;
  /** Milliseconds from 1 to 10,000 [default 500]. */
  budget?: number;
}

/** The invalidation feed this worker checks. */
export interface SwcacheFeedConfig {
  /** Same-origin URL of the feed document, e.g. `'/swcache-feed.json'`. */
  url: string;
  /** Navigations check the feed at most this often: milliseconds from 1,000 to 86,400,000 [default 60000]. */
  interval?: number;
  /** `false` (the default) or the strict-mode settings. */
  strict?: false | SwcacheFeedStrict;
}

/** Fallbacks served when a request fails and nothing is cached. */
export interface SwcacheOfflineConfig {
  /** Same-origin URL of the page served to a failed navigation (it is precached). */
  page?: string;
  /** Same-origin URL of the image served to a failed image request (it is precached). */
  image?: string;
}

/** What `swcache.start` takes. Any field not listed here is refused. */
export interface SwcacheConfig {
  /**
   * 1-64 letters, digits, `.`, `_` or `-`. A new version is a new worker; plain precache
   * URLs are fetched again for it, and for a new list of revisions (entries with a
   * revision only when that changes).
   */
  version: string;
  /**
   * Same-origin URLs fetched at install (any failure fails the install and leaves the old
   * version serving) and served cache-first; at most 10,000. A plain URL is fetched again
   * for each new `version`; `{url, revision}` only when its revision changes (see the
   * `swcache-manifest` command); `{url, revision: null}` once (the URL names its content).
   */
  precache?: ReadonlyArray<string | SwcachePrecacheEntry>;
  /** Ordered: the first route that matches a request answers it. */
  routes?: readonly SwcacheRoute[];
  /**
   * `true`: a new worker does not call skipWaiting: it waits until the old version's pages
   * close or a page calls `applyUpdate()`. (Once active it claims the open pages either way.)
   */
  waitForClients?: boolean;
  /** The invalidation feed (see the README's "Invalidation feed"). */
  feed?: SwcacheFeedConfig;
  /** The offline fallback page (a same-origin URL), or a page and an image. */
  offline?: string | SwcacheOfflineConfig;
  /**
   * `true` enables navigation preload: a navigation's network request starts while the
   * worker boots, and networkFirst/networkOnly navigations use it. Needs such a route (or
   * an offline page). Absent or `false`: turned off at activate.
   */
  navigationPreload?: boolean;
  /**
   * `true` (default): a route's cache survives a version bump while the route keeps its
   * name, `match`, `crossOrigin` and `opaque`. `false`: every version starts with empty
   * route caches.
   */
  keepRuntimeCaches?: boolean;
}

/** When each start-up step ended, in `performance.now()` ms (0: not yet). */
export interface SwcacheTiming {
  readonly evaluated: number;
  readonly compiled: number;
  readonly instantiated: number;
  readonly started: number;
  readonly firstFetch: number;
  readonly firstAnswer: number;
}

/** The `swcache` global that swcache-sw.js defines. */
export interface SwcacheWorkerGlobal {
  /**
   * Validates `config` and starts the engine. Call it once, during the worker script's
   * first evaluation. Throws an `Error` whose message names the route and field
   * (`swcache config: route 'pages' (routes[2]) field 'maxAge' ...`) when the config is
   * wrong, so the worker never installs half-working.
   */
  start(config: SwcacheConfig): void;
  /** Start-up timings (read by the benchmark). */
  readonly timing: SwcacheTiming;
}

declare global {
  /** The swcache engine, defined by `importScripts('/swcache/swcache-sw.js')`. */
  var swcache: SwcacheWorkerGlobal;
  /**
   * The build's precache manifest. Write `precache: self.swcacheManifest` (or
   * `['/', ...self.swcacheManifest]`) and the build puts the list in its place:
   * `swcache/vite`, `injectManifest()` from `swcache/build`, or
   * `swcache-manifest DIR --inject sw.js`; or `importScripts` a manifest written with
   * `swcache-manifest DIR --output swcache-manifest.js`, which defines it.
   */
  var swcacheManifest: SwcachePrecacheEntry[];
  /**
   * The worker's `importScripts` (the webworker lib's, declared here too): a project that
   * type-checks its worker with its pages' DOM lib, as Vite's templates check all of
   * `src/`, still compiles `importScripts('/swcache/swcache-sw.js')`.
   */
  function importScripts(...urls: (string | URL)[]): void;
  /** The config types, for a worker written as a script (without `import`). */
  namespace swcache {
    type Config = SwcacheConfig;
    type Route = SwcacheRoute;
    type Strategy = SwcacheStrategy;
    type PrecacheEntry = SwcachePrecacheEntry;
    type FeedConfig = SwcacheFeedConfig;
    type OfflineConfig = SwcacheOfflineConfig;
  }
}
