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

const hydrations = new Set();

/** Hydrates `[data-component-id]` components when they matter (see README). */
export function hydrate(opts = {}) {
  const handle = ready.then((e) => e && e.hydrate(opts));
  handle.then((h) => h && hydrations.add(h), (err) => console.error('swcache: hydrate:', err));
  return { stop: () => handle.then((h) => { if (h) { hydrations.delete(h); h.stop(); } }, () => {}) };
}

// Notices the worker sends every open page: INVALIDATED (a message or the feed removed
// entries) and UPDATED (a background refresh stored content that differs from what a
// page was given). The engine decides what is covered; this turns it into DOM events.
async function onNotice(event) {
  const data = event.data;
  if (!data || typeof data !== 'object') return;
  if (data.type === 'UPDATED') {
    window.dispatchEvent(new CustomEvent('swcache:updated', { detail: { url: data.url } }));
    return;
  }
  if (data.type !== 'INVALIDATED') return;
  const e = await ready;
  if (!e) return;
  const json = JSON.stringify(data);
  const page = e.covers(json, location.href);
  const components = [];
  for (const h of hydrations) components.push(...h.invalidated(json));
  if (!page && components.length === 0) return;
  const { urls, prefixes, tags, removed, all, source } = data;
  window.dispatchEvent(new CustomEvent('swcache:invalidated', {
    detail: { page, components, urls, prefixes, tags, removed, all, source },
  }));
}
if (typeof navigator !== 'undefined' && navigator.serviceWorker) {
  navigator.serviceWorker.addEventListener('message', onNotice);
}

/**
 * Live invalidation: listens to a Server-Sent Events stream of feed entries (`data:` is
 * one entry's JSON, as in the feed) and hands each to the worker at once, so an open
 * page is invalidated within about a second. Returns `{stop()}`.
 */
export function subscribe(url = '/swcache-feed/live') {
  if (typeof EventSource !== 'function') return { stop() {} };
  const source = new EventSource(url);
  source.addEventListener('message', (ev) => {
    let entry;
    try {
      entry = JSON.parse(ev.data);
    } catch (err) {
      return console.warn('swcache: live feed sent something that is not JSON:', ev.data);
    }
    const msg = {};
    for (const k of ['urls', 'prefixes', 'tags', 'routes', 'all', 'timestamp']) if (entry[k] !== undefined) msg[k] = entry[k];
    invalidate(msg).catch((err) => console.warn('swcache: live feed entry refused:', err.message || err));
  });
  return { stop: () => source.close() };
}
