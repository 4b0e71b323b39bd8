// swcache page module: ES module wrapper over the wasm page build (src/page).
// If the wasm cannot load, register() falls back to the plain browser call and the
// rest reject, so the site keeps working without the engine.
import init, * as engine from './swcache-page-glue.js';

const ready = init({ module_or_path: new URL('./swcache_page_bg.wasm', import.meta.url) })
  .then(() => engine, (err) => { console.error('swcache: page module failed to load', err); return null; });

async function need() {
  const e = await ready;
  if (!e) throw new Error('swcache: the page module failed to load');
  return e;
}

const TIMEOUT = 5000;

/** Registers the worker; resolves with the registration once it controls the page. */
export async function register(url, opts = {}) {
  const e = await ready;
  if (!e) return navigator.serviceWorker?.register(url, opts);
  return e.register(url, opts);
}

/** CACHE_INVALIDATION: `{urls?, prefixes?, tags?, routes?, all?, timestamp?}`. Resolves with `{removed}`. */
export async function invalidate(msg = {}, { timeout = TIMEOUT } = {}) {
  return (await need()).invalidate(msg, timeout);
}

/** PREFETCH `urls`; resolves with `{fetched, skipped, failed}` once every fetched URL is stored. */
export async function prefetch(urls, { timeout = 30000 } = {}) {
  return (await need()).prefetch(urls, timeout);
}

/** GET_STATS. */
export async function stats({ timeout = TIMEOUT } = {}) {
  return (await need()).post({ type: 'GET_STATS' }, timeout);
}

/** Warms the cache for links matching `selector` on hover (after an intent delay) or touchstart. */
export function prefetchOnHover(selector = 'a[data-prefetch]', opts = {}) {
  const handle = ready.then((e) => e && e.prefetch_on_hover(selector, opts));
  return { stop: () => handle.then((h) => h && h.stop()) };
}

/** Hydrates `[data-component-id]` components when they matter (see README). */
export function hydrate(opts = {}) {
  const handle = ready.then((e) => e && e.hydrate(opts));
  handle.catch((err) => console.error('swcache: hydrate:', err));
  return { stop: () => handle.then((h) => h && h.stop(), () => {}) };
}
