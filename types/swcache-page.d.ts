// Type declarations for swcache-page.js, the page module:
//
//     import { register, prefetchOnHover } from 'swcache/page';   // with a bundler
//     import { register } from '/swcache/swcache-page.js';         // served as is
//
// Every helper that talks to the worker posts over a MessageChannel and rejects on the
// worker's ERROR reply or when no reply comes within its timeout (which runs from the call;
// `Infinity`: none).

/** How a route answers a request (as in the worker's config). */
export type SwcacheStrategy = 'cacheFirst' | 'networkFirst' | 'staleWhileRevalidate' | 'networkOnly' | 'cacheOnly';

/** A URL from the page: relative ones are resolved against the page. Same-origin only. */
export type SwcachePageUrl = string | URL;

// ----- registration -----------------------------------------------------------------------

export interface RegisterOptions {
  /** The registration's scope (`navigator.serviceWorker.register`'s `scope`). */
  scope?: string;
  /** Milliseconds to wait for the worker to control the page [default 10000]. */
  timeout?: number;
}

/**
 * Registers the worker and resolves with its registration once it controls the page;
 * resolves `undefined` where service workers are unsupported (or denied: a sandboxed
 * frame without `allow-same-origin`). Rejects when registration or install fails (with
 * the worker's own reason: its config error, or why its install failed, such as the
 * feed's `410 Gone`), or when nothing controls the page within `timeout` ms. On a page
 * already controlled it resolves at once, and so it does on a page the active worker has
 * not taken with no other worker installing (a hard reload bypasses the worker until the
 * next load; a waiting version takes it only once the other tabs close); a new version
 * that fails within `timeout` ms is logged in the page console.
 */
export function register(url: string | URL, options?: RegisterOptions): Promise<ServiceWorkerRegistration | undefined>;

// ----- updates ----------------------------------------------------------------------------

export interface ApplyUpdateOptions {
  /** Reload the page once the new worker controls it (default `true`). */
  reload?: boolean;
  /** Reject if the waiting worker has not taken over within this many ms (default 10000). */
  timeout?: number;
}

/** A new worker that is installed and waiting to take over (a `waitForClients: true` config). */
export interface SwcacheUpdate {
  /** The waiting worker. */
  worker: ServiceWorker;
  /** `applyUpdate(options)`: the newest waiting worker takes over. */
  apply(options?: ApplyUpdateOptions): Promise<boolean>;
}

/**
 * Calls `callback` whenever a new worker has installed and waits, again if a newer one
 * replaces it while it waits. Other pages the new worker takes over get a
 * `swcache:controlled` event. Returns a function that stops the callbacks.
 */
export function onUpdate(callback: (update: SwcacheUpdate) => void): () => void;

/**
 * Asks the waiting worker (the newest, if another arrived meanwhile) to take over, then
 * reloads the page unless `reload: false`; resolves `false` if no worker waits.
 */
export function applyUpdate(options?: ApplyUpdateOptions): Promise<boolean>;

/** `swcache:controlled` on `window` (pages using `onUpdate`): a new worker took over. */
export interface SwcacheControlledDetail {
  /** `true`: another page asked for it (this page runs with the new worker now: reload or show a notice). */
  external: boolean;
}

// ----- messages ---------------------------------------------------------------------------

export interface TimeoutOptions {
  /** Milliseconds to wait for the worker's reply. */
  timeout?: number;
}

/** What an invalidation covers; all may be combined. */
export interface InvalidationFields {
  /** Pages or resources (the query string is part of the identity). */
  urls?: readonly SwcachePageUrl[];
  /** Prefixes of pathname+search, each starting with `/`. */
  prefixes?: readonly string[];
  /** Whole tokens of the stored responses' `Cache-Tag` header. */
  tags?: readonly string[];
  /** Route names (`'precache'` names the precache). */
  routes?: readonly string[];
  /** `true` covers everything. */
  all?: boolean;
  /** ISO 8601 time the content changed: entries stamped before it go [default: the page's now]. */
  timestamp?: string;
  /**
   * `true`: a feed entry handed on (as `subscribe()` does): route names this worker does not
   * have are skipped, as at a feed check, instead of refusing the invalidation.
   */
  feed?: boolean;
  /**
   * With `feed`: the entry's `seq` (`subscribe()` sends it), which names the entry once
   * applied, so a worker started later does not apply it again at its feed check. One that
   * is not a whole number is left out.
   */
  seq?: number;
}

/** An invalidation: at least one of `urls`, `prefixes`, `tags`, `routes` or `all: true`. */
export type InvalidationSelector = InvalidationFields &
  (
    | { urls: readonly SwcachePageUrl[] }
    | { prefixes: readonly string[] }
    | { tags: readonly string[] }
    | { routes: readonly string[] }
    | { all: true }
  );

export interface InvalidationDone {
  type: 'CACHE_INVALIDATION_DONE';
  /** How many cached entries were removed. */
  removed: number;
}

export interface PrefetchDone {
  type: 'PREFETCH_DONE';
  fetched: number;
  /** Not fetched: no storing route matches, a fresh copy exists, or Save-Data is on. */
  skipped: number;
  failed: number;
}

export interface SwcacheCounters {
  hits: number;
  misses: number;
  staleServed: number;
  networkErrors: number;
  evictions: number;
  invalidations: number;
}

export interface SwcacheFeedStats {
  epoch: string;
  seq: number;
  checks: number;
  notModified: number;
  applied: number;
  errors: number;
  /** ISO 8601 time of the last successful check. */
  lastSuccess: string | null;
  /** Why the last check failed or the feed was refused. */
  error: string | null;
  /** How often the feed's `epoch` changed since the worker started (more than twice in 5 minutes: several feeds). */
  epochChanges: number;
}

export interface SwcacheStats extends SwcacheCounters {
  type: 'STATS';
  /** Per route, the precache included. */
  routes: Record<string, SwcacheCounters>;
  /** Present when the config has a `feed`. */
  feed?: SwcacheFeedStats;
  /** What the worker's console was told once per start (a response a route did not store and why, a full storage, a feed epoch that keeps changing), at most 10; absent when the engine failed or was not started. */
  warnings?: string[];
  /** `'failed-open'`: the engine failed and requests go to the network; `'not-started'`: the worker never called `swcache.start`. */
  engine: 'ok' | 'failed-open' | 'not-started';
  /** Why the engine failed open. */
  error?: string;
}

export interface SwcacheEntryState {
  /** Pathname+search (or the full URL for a cross-origin route). */
  url: string;
  /** Milliseconds since its `sw-cache-time`; `null` when unstamped (an opaque response). */
  ageMs: number | null;
  fresh: boolean;
  /** Bytes, when `Content-Length` says. */
  size: number | null;
  tags: string[];
}

export interface SwcacheRouteState {
  name: string;
  cache: string;
  strategy: SwcacheStrategy;
  maxAge: number | null;
  maxEntries: number | null;
  coldStart: 'router' | 'worker';
  /** At most 500. */
  entries: SwcacheEntryState[];
}

export interface SwcacheFenceState {
  timestamp: string;
  urls: string[];
  prefixes: string[];
  tags: string[];
  /** Indexes into `routes` of the routes the fence covers as a whole. */
  slots: number[];
  all: boolean;
  /** Whether it still hides covered entries that are not yet deleted. */
  hiding: boolean;
}

export interface SwcacheState {
  type: 'STATE';
  engine: 'ok';
  version: string;
  routes: SwcacheRouteState[];
  fences: SwcacheFenceState[];
  stats: SwcacheStats;
}

/** What an invalidation named and removed: the `INVALIDATED` notice and `swcache:invalidated` both carry it. */
export interface SwcacheInvalidation {
  urls: string[];
  prefixes: string[];
  tags: string[];
  /** Up to 200 paths the worker deleted. */
  removed: string[];
  /** `true` when it deleted more than `removed` lists (any URL may have gone). */
  more?: true;
  all: boolean;
  /** `'missed'` (with `all: true`): a page back from the back/forward cache missed more notices than the worker keeps. */
  source: 'feed' | 'message' | 'missed';
}
/** The worker's `INVALIDATED` notice, posted to every open page (the page module turns it into `swcache:invalidated`). */
export interface SwcacheInvalidatedNotice extends SwcacheInvalidation {
  type: 'INVALIDATED';
  /** When it was sent, in ms by the worker's clock (absent from a `'missed'` one). */
  at?: number;
}

/** The worker's `UPDATED` notice, posted to every open page (the page module turns it into `swcache:updated`). */
export interface SwcacheUpdatedNotice {
  type: 'UPDATED';
  /** The path (another origin's URL whole). */
  url: string;
  /** When it was sent, in ms by the worker's clock. */
  at: number;
}

/** GET_NOTICES' reply: the notices sent at or after `since`, oldest first. */
export interface SwcacheNotices {
  type: 'NOTICES';
  notices: (SwcacheInvalidatedNotice | SwcacheUpdatedNotice)[];
}

/** The messages the worker understands, as `post` sends them (no URL resolution there). */
export type SwcacheMessage =
  | ({ type: 'CACHE_INVALIDATION' } & InvalidationSelector & { urls?: readonly string[] })
  | { type: 'PREFETCH'; urls: readonly string[]; saveData?: boolean }
  | { type: 'GET_STATS' }
  | { type: 'GET_STATE' }
  | { type: 'GET_NOTICES'; since: number };

/** The reply to a message. */
export type SwcacheReply<M extends SwcacheMessage = SwcacheMessage> =
  M extends { type: 'CACHE_INVALIDATION' } ? InvalidationDone
  : M extends { type: 'PREFETCH' } ? PrefetchDone
  : M extends { type: 'GET_STATS' } ? SwcacheStats
  : M extends { type: 'GET_STATE' } ? SwcacheState
  : M extends { type: 'GET_NOTICES' } ? SwcacheNotices
  : never;

/** Posts `msg` to the worker that controls the page (else the active worker); resolves with its reply, rejects on ERROR or after `timeout` ms [default 5000]. */
export function post<M extends SwcacheMessage>(msg: M, timeout?: number): Promise<SwcacheReply<M>>;

/** CACHE_INVALIDATION: `timestamp` defaults to the page's now [timeout 5000 ms]. */
export function invalidate(msg: InvalidationSelector, options?: TimeoutOptions): Promise<InvalidationDone>;

/** PREFETCH: resolves once every fetched URL is stored; passes the page's Save-Data setting [timeout 30000 ms]. */
export function prefetch(urls: readonly SwcachePageUrl[], options?: TimeoutOptions): Promise<PrefetchDone>;

/** GET_STATS [timeout 5000 ms]. */
export function stats(options?: TimeoutOptions): Promise<SwcacheStats>;

/** GET_STATE: every cached URL per route with its age and freshness, the live fences, the counters [timeout 5000 ms]. */
export function inspect(options?: TimeoutOptions): Promise<SwcacheState>;

// ----- prefetch on hover, live feed -------------------------------------------------------

export interface Stoppable {
  stop(): void;
}

export interface PrefetchOnHoverOptions {
  /** Milliseconds the pointer rests on a link before it is prefetched [default 65]. */
  delay?: number;
}

/**
 * Prefetches links matching `selector` [default `'a[data-prefetch]'`] on hover (after
 * `delay` ms), touchstart or keyboard focus; each same-origin URL once. Throws at once on
 * an invalid selector.
 */
export function prefetchOnHover(selector?: string, options?: PrefetchOnHoverOptions): Stoppable;

/**
 * Live invalidation: reads a Server-Sent Events stream of feed entries [default
 * `'/v1/events'`, the feed service's stream] (same-origin through a proxy, or
 * cross-origin with `--cors-origin`), and hands each to the worker at once. A
 * `reset` event (entries missed while disconnected were compacted away) invalidates
 * everything up to its `timestamp`. The browser reconnects with `Last-Event-ID` by itself.
 * One page of the browser holds the stream for all of the origin's pages that subscribe
 * to the same URL (Web Locks): a page opened or shown takes it, and another takes it over
 * when that one closes. A new stream resumes where the last one left off
 * (`?lastEventId=`, the last id read, kept in `localStorage` while a stream was there
 * within 10 minutes).
 */
export function subscribe(url?: string | URL): Stoppable;

// ----- hydration --------------------------------------------------------------------------

/** When a component hydrates. */
export type HydrateTrigger = 'visible' | 'idle' | 'interaction' | 'eager' | `media:${string}`;

export interface HydrateInfo {
  componentId: string;
  componentType: string;
  /** `'cache'`: a stored copy stamped before the request started. */
  source: 'cache' | 'network' | 'inline';
  /** Milliseconds since the data was fetched (0 for a network answer). */
  ageMs: number;
}

/** Fills `element` with `data` (the parsed JSON); a throw or a rejection fails only this component. */
export type HydrateRender<Data = any> = (element: HTMLElement, data: Data, info: HydrateInfo) => unknown;

export interface HydrateTypeOptions {
  /** Data at least this old (ms) is refetched past the cache; `false` means 0, `Infinity` never. */
  maxAge?: number | false;
  /** Milliseconds between polls; `0`, `false` or `Infinity`: never poll. */
  poll?: number | false;
  /** The type's trigger, unless an element's `data-hydrate` says otherwise. */
  trigger?: HydrateTrigger;
  render?: HydrateRender;
}

export interface HydrateOptions {
  /** The IntersectionObserver margin: a CSS length such as `'50px'`, or pixels (negative shrinks the viewport) [default `'50px'`]. */
  rootMargin?: string | number;
  /** The first `preload` components hydrate at once [default 2]. */
  preload?: number;
  /** Most data fetches at once [default 4]. */
  maxConcurrent?: number;
  /** Retries after a failed fetch [default 3]. */
  maxRetries?: number;
  /** Backoff before the first retry, doubled for each next one (ms) [default 1000]. */
  retryBaseMs?: number;
  /**
   * A fetch (headers and body) with no answer this long is aborted and counts as failed,
   * so a hung request holds no fetch slot (ms, above 0; `Infinity`: never) [default 10000].
   */
  fetchTimeout?: number;
  /** Sent in the events' detail [default: `<body data-page-slug>`, else the pathname]. */
  pageSlug?: string;
  /** The render of types that have none of their own. */
  render?: HydrateRender;
  /** Per `data-component-type`. */
  types?: Record<string, HydrateTypeOptions>;
}

export interface Hydration extends Stoppable {
  /** Resolves once the scheduler runs; rejects with an error naming a bad option (nothing is hydrated then). */
  readonly ready: Promise<Hydration>;
}

/** Hydrates the page's `[data-component-id]` components when they matter. Call once per page. */
export function hydrate(options?: HydrateOptions): Hydration;

// ----- events -----------------------------------------------------------------------------

/** `swcache:invalidated` on `window`. */
export interface SwcacheInvalidatedDetail extends SwcacheInvalidation {
  /** This page's URL is covered. */
  page: boolean;
  /** Ids of hydrated components whose data is covered (they refetch on their own). */
  components: string[];
}

/** `swcache:updated` on `window`: a background refresh stored content that differs from what a page was given. */
export interface SwcacheUpdatedDetail {
  url: string;
}

/** `swcache:hydrated`, bubbling from the component's element. */
export interface SwcacheHydratedDetail {
  componentId: string;
  componentType: string;
  pageSlug: string;
  /** Milliseconds from trigger to rendered. */
  ms: number;
}

/** `swcache:hydration-error`, bubbling from the component's element. */
export interface SwcacheHydrationErrorDetail extends SwcacheHydratedDetail {
  attempts: number;
  error: string;
}

interface SwcacheComponentEventMap {
  'swcache:hydrated': CustomEvent<SwcacheHydratedDetail>;
  'swcache:hydration-error': CustomEvent<SwcacheHydrationErrorDetail>;
}

declare global {
  interface WindowEventMap extends SwcacheComponentEventMap {
    'swcache:invalidated': CustomEvent<SwcacheInvalidatedDetail>;
    'swcache:updated': CustomEvent<SwcacheUpdatedDetail>;
    'swcache:controlled': CustomEvent<SwcacheControlledDetail>;
  }
  interface DocumentEventMap extends SwcacheComponentEventMap {}
  /** Every element's (HTMLElement's and SVGElement's maps extend it): `querySelector('[data-component-id]')` is an Element. */
  interface ElementEventMap extends SwcacheComponentEventMap {}
}
