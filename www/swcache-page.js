// swcache page module (ES module). Registration and messages to the worker, hover
// prefetch and live invalidation work at once, without any wasm: they only carry
// requests to the worker, whose engine decides (what to fetch, what is covered). The
// hydration scheduler's decisions are Rust (src/core/hydrate.rs); its wasm
// (swcache-hydrate.wasm) is fetched only when hydrate() is called, and this file is its
// executor: observers, listeners, timers, fetches, render callbacks and events.

const sw = typeof navigator !== 'undefined' ? navigator.serviceWorker : undefined;
const TIMEOUT = 5000;

function timeoutError(what, ms) {
  return new Error(`swcache: ${what} within ${ms} ms`);
}

function withTimeout(promise, ms, what) {
  let timer;
  const limit = new Promise((_, reject) => { timer = setTimeout(() => reject(timeoutError(what, ms)), ms); });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

/**
 * The engine script a worker that failed to start could not load, if that is why: the
 * first its `importScripts(...)` names (the browser says only that evaluation failed).
 */
async function missing(url) {
  try {
    const base = new URL(url, location.href);
    const u = (await (await fetch(base)).text()).match(/importScripts\(\s*['"]([^'"]+)/)[1];
    const r = await fetch(new URL(u, base), { cache: 'no-store' });
    if (!r.ok) return `importScripts('${u}') answered ${r.status}`;
  } catch {}
}

/**
 * Registers the worker; resolves with the registration once it controls the page. Where
 * service workers are unsupported it resolves undefined. Rejects when registration or
 * install fails (with the worker's own config error when that is why), or when nothing
 * controls the page within `timeout` ms.
 */
export async function register(url, { scope, timeout = 10000 } = {}) {
  if (!sw) return undefined;
  // A worker whose config is wrong says why on this channel just before it fails.
  let configError = null;
  const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel('swcache') : null;
  if (channel) channel.onmessage = (e) => { if (e.data && e.data.type === 'CONFIG_ERROR') configError = e.data.error; };
  const fail = (fallback) => {
    const err = new Error(configError || fallback);
    console.error(err.message);
    return err;
  };
  try {
    let reg;
    try {
      reg = await sw.register(url, scope ? { scope } : undefined);
    } catch (e) {
      await new Promise((r) => setTimeout(r, 50)); // the channel's message may trail the rejection
      throw fail(`swcache: registering ${url} failed: ${await missing(url) || e && e.message || e}`);
    }
    if (sw.controller) return reg;
    const worker = reg.installing || reg.waiting || reg.active;
    return await withTimeout(new Promise((resolve, reject) => {
      const check = () => {
        if (sw.controller) resolve(reg);
        else if (worker && worker.state === 'redundant') setTimeout(() => reject(fail('swcache: the worker failed to install')), 50);
      };
      sw.addEventListener('controllerchange', check);
      if (worker) worker.addEventListener('statechange', check);
      check();
    }), timeout, 'the worker did not control this page');
  } finally {
    if (channel) channel.close();
  }
}

let asked = false;

/**
 * Calls `callback({worker, apply})` whenever a new worker has installed and waits (a
 * `waitForClients: true` config), again if a newer one replaces it while it waits.
 * `apply(options)` is `applyUpdate(options)`. Other pages the new worker takes over get
 * a `swcache:controlled` event (detail `{external: true}`): reload or show a notice.
 * Returns a function that stops the callbacks.
 */
export function onUpdate(callback) {
  if (!sw) return () => {};
  let on = true;
  const seen = new WeakSet();
  const report = (reg) => {
    const w = reg.waiting;
    if (on && w && sw.controller && !seen.has(w)) {
      seen.add(w);
      callback({ worker: w, apply: applyUpdate });
    }
  };
  const changed = () => dispatchEvent(new CustomEvent('swcache:controlled', { detail: { external: !asked } }));
  sw.addEventListener('controllerchange', changed);
  sw.ready.then((reg) => {
    report(reg);
    reg.addEventListener('updatefound', () => {
      const w = reg.installing;
      if (w) w.addEventListener('statechange', () => { if (w.state === 'installed') report(reg); });
    });
  });
  return () => { on = false; sw.removeEventListener('controllerchange', changed); };
}

/**
 * Asks the waiting worker (the newest, if another arrived meanwhile) to take over, and
 * once it controls this page reloads it (`reload: false` to do that yourself). Resolves
 * `false` when no worker waits.
 */
export async function applyUpdate({ reload = true, timeout = 10000 } = {}) {
  const reg = sw && await sw.getRegistration();
  if (!reg || !reg.waiting) return false;
  asked = true;
  await withTimeout(new Promise((resolve) => {
    sw.addEventListener('controllerchange', resolve, { once: true });
    // Ask whichever worker waits now; a newer one replacing it is asked in turn.
    const ask = () => { const w = reg.waiting; if (w) { w.postMessage({ type: 'SKIP_WAITING' }); w.addEventListener('statechange', ask, { once: true }); } };
    ask();
  }), timeout, 'the waiting worker did not take over');
  if (reload) location.reload();
  return true;
}

/** Posts `msg` to the active worker; resolves with its reply, rejects on ERROR or timeout. */
export function post(msg, timeout = TIMEOUT) {
  if (!sw) return Promise.reject(new Error('swcache: service workers are not supported here'));
  // The timeout runs from now, whatever the worker's state (none, installing, broken).
  return withTimeout((async () => {
    const reg = await sw.ready;
    const active = reg.active;
    if (!active) throw new Error('swcache: no active worker');
    const { port1, port2 } = new MessageChannel();
    const reply = new Promise((resolve) => { port1.onmessage = (e) => resolve(e.data); });
    active.postMessage(msg, [port2]);
    const data = await reply;
    port1.close();
    if (data && data.type === 'ERROR') throw new Error(data.error || 'swcache: error');
    return data;
  })(), timeout, 'the worker did not reply');
}

function absolute(list) {
  return Array.isArray(list) ? list.map((u) => { try { return new URL(u, location.href).href; } catch { return u; } }) : list;
}

/** CACHE_INVALIDATION (`{urls?, prefixes?, tags?, routes?, all?, timestamp?}`); resolves with `{removed}`. */
export function invalidate(msg = {}, { timeout = TIMEOUT } = {}) {
  const m = { ...msg, type: 'CACHE_INVALIDATION' };
  if (m.urls !== undefined) m.urls = absolute(m.urls);
  if (m.timestamp === undefined) m.timestamp = new Date().toISOString();
  return post(m, timeout);
}

/** PREFETCH `urls`; resolves with `{fetched, skipped, failed}` once every fetched URL is stored. */
export function prefetch(urls, { timeout = 30000 } = {}) {
  const conn = typeof navigator !== 'undefined' && navigator.connection;
  return post({ type: 'PREFETCH', urls: absolute(urls), saveData: !!(conn && conn.saveData) }, timeout);
}

/** GET_STATS. */
export function stats({ timeout = TIMEOUT } = {}) {
  return post({ type: 'GET_STATS' }, timeout);
}

/**
 * GET_STATE: what the worker holds, for debugging: `{version, routes: [{name, cache,
 * strategy, maxAge, maxEntries, coldStart, entries: [{url, ageMs, fresh, size, tags}]}],
 * fences, stats}` (at most 500 entries per route).
 */
export function inspect({ timeout = TIMEOUT } = {}) {
  return post({ type: 'GET_STATE' }, timeout);
}

/**
 * Warms the cache for links matching `selector`: after the pointer rests on one for
 * `delay` ms, or at once on touchstart or keyboard focus; each same-origin URL once. The
 * worker decides what is fetched (route, freshness, Save-Data). Returns `{stop()}`.
 */
export function prefetchOnHover(selector = 'a[data-prefetch]', { delay = 65 } = {}) {
  document.querySelector(selector); // a bad selector throws now, with the browser's message
  const wait = Number.isFinite(delay) && delay >= 0 ? delay : 65;
  const sent = new Set();
  let pending = null; // [href, timer]
  const linkOf = (e) => {
    const a = e.target instanceof Element ? e.target.closest(selector) : null;
    if (!a || !a.href) return null;
    const u = new URL(a.href, location.href);
    return u.origin === location.origin ? (u.hash = '', u.href) : null;
  };
  const send = (href) => {
    if (sent.has(href)) return;
    sent.add(href);
    prefetch([href]).catch(() => sent.delete(href));
  };
  const over = (e) => {
    const href = linkOf(e);
    if (!href || sent.has(href) || (pending && pending[0] === href)) return;
    if (pending) clearTimeout(pending[1]);
    pending = [href, setTimeout(() => { pending = null; send(href); }, wait)];
  };
  const out = (e) => {
    const href = linkOf(e);
    if (!href || !pending || pending[0] !== href) return;
    const to = e.relatedTarget instanceof Element ? e.relatedTarget.closest(selector) : null;
    if (to && to.href && new URL(to.href, location.href).href.split('#')[0] === href) return; // still inside the link
    clearTimeout(pending[1]);
    pending = null;
  };
  const now = (e) => { const href = linkOf(e); if (href) send(href); };
  const listeners = [['pointerover', over], ['pointerout', out], ['touchstart', now], ['focusin', now]];
  for (const [k, f] of listeners) document.addEventListener(k, f, { passive: true });
  return {
    stop() {
      for (const [k, f] of listeners) document.removeEventListener(k, f);
      if (pending) clearTimeout(pending[1]);
    },
  };
}

// ----- the hydration scheduler's executor ------------------------------------------------

let engine = null; // the wasm exports, once loaded
// The engine's own file is fetched with the fetch of the module's first evaluation, not
// through wrappers a page installs later (analytics, tests counting data requests).
const nativeFetch = typeof fetch === 'function' ? fetch.bind(globalThis) : null;
function loadEngine() {
  if (!engine) {
    const url = new URL('./swcache-hydrate.wasm', import.meta.url);
    const source = nativeFetch(url);
    engine = (WebAssembly.instantiateStreaming
      ? WebAssembly.instantiateStreaming(source, {}).catch(() => source.then((r) => r.clone().arrayBuffer()).then((b) => WebAssembly.instantiate(b, {})))
      : source.then((r) => r.arrayBuffer()).then((b) => WebAssembly.instantiate(b, {})))
      .then((m) => m.instance.exports);
  }
  return engine;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
function put(w, text) {
  const max = text.length * 3;
  const ptr = w.hyd_buf(max); // may grow memory: take the buffer after it
  return enc.encodeInto(text, new Uint8Array(w.memory.buffer, ptr, max)).written;
}
function output(w) {
  return dec.decode(new Uint8Array(w.memory.buffer, w.hyd_out_ptr(), w.hyd_out_len()));
}

const SELECTOR = '[data-component-id]';
const KIND = { undefined: 0, number: 1, string: 2, function: 3, false: 4, object: 5 };
const kindOf = (v) => (v === undefined ? 0 : v === false ? 4 : typeof v === 'number' ? 1 : typeof v === 'string' ? 2
  : typeof v === 'function' ? 3 : v && typeof v === 'object' && !Array.isArray(v) ? 5 : 6);

/** Hands the options to the engine one by one; throws the engine's error naming the bad one. */
function options(w, opts) {
  if (!opts || typeof opts !== 'object' || Array.isArray(opts)) throw new TypeError("swcache hydrate: option 'opts' must be an object");
  const one = (path, v) => {
    const text = path + '\n' + (typeof v === 'string' ? v : '');
    if (!w.hyd_opt(kindOf(v), typeof v === 'number' ? v : 0, put(w, text))) throw new TypeError(output(w));
  };
  for (const [k, v] of Object.entries(opts)) {
    one(k, v);
    if (k === 'types' && kindOf(v) === KIND.object) {
      for (const [name, t] of Object.entries(v)) {
        one(`types.${name}`, t);
        for (const [f, x] of Object.entries(t)) one(`types.${name}.${f}`, x);
      }
    }
  }
}

const hydrations = new Set();

/**
 * Hydrates the page's `[data-component-id]` components when they matter (see README):
 * returns `{stop()}` at once; the scheduler starts when its wasm has loaded. Throws (the
 * returned promise `ready` rejects) on a bad option, naming it.
 */
export function hydrate(opts = {}) {
  const h = { stopped: false, stop() { this.stopped = true; this.cleanup && this.cleanup(); } };
  h.ready = loadEngine().then((w) => { if (!h.stopped) start(w, opts, h); return h; });
  h.ready.catch((err) => console.error(err.message || err));
  return h;
}

function start(w, opts, h) {
  options(w, opts);
  const comps = []; // by key
  const keys = new Map(); // element -> key
  const abort = new AbortController();
  const listeners = [];
  let timer = null, timerDue = null, idle = null;
  const renders = new Map(Object.entries(opts.types || {}).filter(([, t]) => typeof t.render === 'function').map(([n, t]) => [n, t.render]));
  const pageSlug = opts.pageSlug || document.body?.dataset.pageSlug || location.pathname;

  const io = new IntersectionObserver((entries) => {
    for (const e of entries) if (e.isIntersecting && keys.has(e.target)) feed(0, keys.get(e.target));
  }, { rootMargin: typeof opts.rootMargin === 'number' ? `${opts.rootMargin}px` : opts.rootMargin || '50px' });

  function run(text) {
    for (const line of text.split('\n')) {
      const [code, a, b, c] = line.split(' ');
      const k = +a, comp = comps[k];
      switch (code) {
        case 'O': if (comp) io.observe(comp.el); break;
        case 'U': if (comp) io.unobserve(comp.el); break;
        case 'I':
          if (idle === null) {
            const cb = () => { idle = null; feed(1, 0); };
            idle = self.requestIdleCallback ? ['i', requestIdleCallback(cb)] : ['t', setTimeout(cb, 0)];
          }
          break;
        case 'W': watchMedia(k, line.slice(line.indexOf(' ', 2) + 1)); break;
        case 'F': fetchData(k, b === '1'); break;
        case 'R': render(k, b === 'i'); break;
        case 'H': emit(k, 'swcache:hydrated', { ms: +b }); break;
        case 'X': emit(k, 'swcache:hydration-error', { ms: +b, attempts: +c, error: comp && comp.error }); break;
        case 'T': arm(a ? +a : null); break;
      }
    }
  }
  function feed(kind, key, x = 0, y = NaN) {
    if (h.stopped) return;
    w.hyd_event(kind, key, x, y, Date.now());
    run(output(w));
  }
  function arm(due) {
    if (due === timerDue) return;
    clearTimeout(timer);
    timerDue = due;
    timer = due === null ? null : setTimeout(() => {
      timer = timerDue = null;
      if (h.stopped) return;
      w.hyd_timeout(Date.now());
      run(output(w));
    }, Math.max(0, due - Date.now()));
  }
  function watchMedia(key, query) {
    const mql = matchMedia(query);
    if (mql.matches) return feed(3, key);
    const on = (e) => {
      if (!e.matches) return;
      mql.removeEventListener('change', on);
      feed(3, key);
    };
    mql.addEventListener('change', on);
    if (comps[key]) comps[key].media = [mql, on];
  }
  async function fetchData(key, reload) {
    const comp = comps[key];
    const started = Date.now();
    let ok = false, age = NaN;
    try {
      if (!comp || !comp.src) throw new Error('no data-src');
      const res = await fetch(comp.src, { cache: reload ? 'reload' : 'default', signal: abort.signal });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const stamp = Date.parse(res.headers.get('sw-cache-time'));
      const data = await res.json();
      const now = Date.now();
      if (Number.isFinite(stamp)) age = now - stamp;
      // Stamped before this request started: a stored copy (network answers come
      // through unstamped, or stamped after the request started).
      const cached = Number.isFinite(stamp) && stamp < started;
      Object.assign(comp, { data, source: cached ? 'cache' : 'network', age: cached ? Math.max(0, age) : 0 });
      ok = true;
    } catch (e) {
      if (h.stopped) return;
      if (comp) comp.error = String(e && e.message || e);
    }
    feed(4, key, ok ? 1 : 0, age);
  }
  function render(key, inline) {
    const comp = comps[key];
    if (!comp) return;
    const f = renders.get(comp.type) || (typeof opts.render === 'function' ? opts.render : null);
    const info = inline
      ? { componentId: comp.id, componentType: comp.type, source: 'inline', ageMs: comp.inlineAt ? Math.max(0, Date.now() - comp.inlineAt) : 0 }
      : { componentId: comp.id, componentType: comp.type, source: comp.source, ageMs: comp.age };
    const data = inline ? comp.inline : comp.data;
    let result;
    try {
      result = f ? f(comp.el, data, info) : undefined;
    } catch (e) {
      comp.error = String(e && e.message || e);
      return feed(6, key);
    }
    Promise.resolve(result).then(() => feed(5, key), (e) => { comp.error = String(e && e.message || e); feed(6, key); });
  }
  function emit(key, type, extra) {
    const comp = comps[key];
    if (!comp) return;
    const detail = { componentId: comp.id, componentType: comp.type, pageSlug, ...extra };
    if (type === 'swcache:hydrated') delete detail.error;
    comp.el.dispatchEvent(new CustomEvent(type, { bubbles: true, detail }));
  }
  function discover(root, includeRoot) {
    const found = [];
    if (includeRoot && root.matches && root.matches(SELECTOR)) found.push(root);
    if (root.querySelectorAll) found.push(...root.querySelectorAll(SELECTOR));
    for (const el of found) {
      if (h.stopped || keys.has(el)) continue;
      const key = comps.length;
      let inline, inlineAt = null;
      const script = el.querySelector(":scope > script[type='application/json']");
      if (script) {
        try { inline = JSON.parse(script.textContent); } catch { inline = undefined; }
        const at = inline && inline.fetchedAt;
        const t = typeof at === 'number' ? at : Date.parse(at);
        if (Number.isFinite(t)) inlineAt = t;
      }
      const comp = { el, id: el.dataset.componentId || '', type: el.dataset.componentType || '', src: el.dataset.src || '',
        inline, inlineAt, data: undefined, source: 'network', age: 0, error: '', media: null };
      comps.push(comp);
      keys.set(el, key);
      const text = [comp.id, comp.type, comp.src, el.dataset.hydrate || '', inline !== undefined ? '1' : '0',
        inlineAt === null ? '' : String(Math.round(inlineAt))].join('\n');
      w.hyd_add(key, put(w, text), Date.now());
      run(output(w));
    }
  }
  function sweep() {
    comps.forEach((c, key) => {
      if (!c || c.el.isConnected) return;
      comps[key] = null;
      keys.delete(c.el);
      io.unobserve(c.el);
      if (c.media) c.media[0].removeEventListener('change', c.media[1]);
      feed(7, key);
    });
  }

  const mo = new MutationObserver((records) => {
    let removed = false;
    for (const r of records) {
      removed = removed || r.removedNodes.length > 0;
      for (const n of r.addedNodes) if (n instanceof Element) discover(n, true);
    }
    if (removed) sweep();
  });
  mo.observe(document, { childList: true, subtree: true });
  const on = (type, f) => { document.addEventListener(type, f, { passive: true }); listeners.push([type, f]); };
  on('visibilitychange', () => feed(document.hidden ? 8 : 9, 0));
  for (const type of ['pointerover', 'focusin', 'touchstart']) {
    on(type, (e) => {
      const el = e.target instanceof Element ? e.target.closest(SELECTOR) : null;
      if (el && keys.has(el)) feed(2, keys.get(el));
    });
  }
  h.invalidated = (covers) => {
    const ids = [];
    comps.forEach((c, key) => {
      if (!c || !c.src) return;
      const u = new URL(c.src, location.href);
      if (u.origin === location.origin && covers(u.pathname + u.search)) {
        ids.push(c.id);
        feed(10, key);
      }
    });
    return ids;
  };
  h.cleanup = () => {
    abort.abort();
    io.disconnect();
    mo.disconnect();
    for (const [type, f] of listeners) document.removeEventListener(type, f);
    if (idle) (idle[0] === 'i' ? cancelIdleCallback : clearTimeout)(idle[1]);
    clearTimeout(timer);
    for (const c of comps) if (c && c.media) c.media[0].removeEventListener('change', c.media[1]);
    comps.length = 0;
    keys.clear();
    hydrations.delete(h);
  };
  w.hyd_new();
  run(output(w));
  if (document.hidden) feed(8, 0);
  discover(document.documentElement, false);
  hydrations.add(h);
}

// ----- notices from the worker -------------------------------------------------------------

// INVALIDATED (a message or the feed removed entries) and UPDATED (a background refresh
// stored content that differs from what a page was given). Whether a URL is covered is
// the engine's call (hyd_covers); this turns it into DOM events.
async function onNotice(event) {
  const data = event.data;
  if (!data || typeof data !== 'object') return;
  if (data.type === 'UPDATED') {
    window.dispatchEvent(new CustomEvent('swcache:updated', { detail: { url: data.url } }));
    return;
  }
  if (data.type !== 'INVALIDATED') return;
  const w = await loadEngine().catch(() => null);
  if (!w) return;
  const items = [data.all ? 'a' : ''];
  for (const u of data.urls || []) items.push('u' + u);
  for (const p of data.prefixes || []) items.push('p' + p);
  for (const r of data.removed || []) items.push('r' + r);
  const covers = (path) => !!w.hyd_covers(put(w, path + '\n' + items.join('\n')));
  const page = covers(location.pathname + location.search);
  const components = [];
  for (const h of hydrations) if (h.invalidated) components.push(...h.invalidated(covers));
  if (!page && components.length === 0) return;
  const { urls, prefixes, tags, removed, all, source } = data;
  window.dispatchEvent(new CustomEvent('swcache:invalidated', {
    detail: { page, components, urls, prefixes, tags, removed, all, source },
  }));
}
if (sw) sw.addEventListener('message', onNotice);

/**
 * Live invalidation: listens to a Server-Sent Events stream of feed entries (`data:` is
 * one entry's JSON, as in the feed; the feed service's /v1/events, or any server) and
 * hands each to the worker at once, so an open page is invalidated within about a
 * second. A `reset` event (the entries this page missed while disconnected were
 * compacted away) invalidates everything up to its `timestamp`. The browser reconnects
 * by itself, with Last-Event-ID. Returns `{stop()}`.
 */
export function subscribe(url = '/swcache-feed/live') {
  if (typeof EventSource !== 'function') return { stop() {} };
  const source = new EventSource(url);
  const on = (ev) => {
    let entry;
    try {
      entry = JSON.parse(ev.data);
    } catch (err) {
      return console.warn('swcache: live feed sent something that is not JSON:', ev.data);
    }
    if (ev.type == 'reset') entry = { all: true, timestamp: entry.timestamp };
    const msg = {};
    for (const k of ['urls', 'prefixes', 'tags', 'routes', 'all', 'timestamp']) if (entry[k] !== undefined) msg[k] = entry[k];
    invalidate(msg).catch((err) => console.warn('swcache: live feed entry refused:', err.message || err));
  };
  source.onmessage = on;
  source.addEventListener('reset', on);
  return { stop: () => source.close() };
}
