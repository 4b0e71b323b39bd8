// swcache page module (ES module). Registration and messages to the worker, hover
// prefetch and live invalidation are plain JavaScript and load no wasm: they only carry
// requests to the worker, whose engine decides (what to fetch, what is covered). The
// hydration scheduler is Rust on wasm (swcache-hydrate.js, wasm-bindgen's glue, and
// swcache-hydrate.wasm), imported only when hydrate() is called.

// Reading it throws where service workers are denied (a sandboxed frame without
// allow-same-origin): unsupported there, like a browser without them.
const sw = (() => { try { return navigator.serviceWorker; } catch {} })();
const TIMEOUT = 5000;

function timeoutError(what, ms) {
  const err = new Error(`swcache: ${what} within ${ms} ms`);
  err.timeout = true;
  return err;
}

// The longest delay setTimeout keeps (a longer one fires at once).
const MAX_DELAY = 2 ** 31 - 1;

/** `promise`, or a rejection after `ms` (Infinity, or anything not a finite number: none). */
function withTimeout(promise, ms, what) {
  if (!Number.isFinite(ms)) return promise;
  let timer;
  const limit = new Promise((_, reject) => { timer = setTimeout(() => reject(timeoutError(what, ms)), Math.min(Math.max(ms, 0), MAX_DELAY)); });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

/**
 * Why a worker could not be registered, where a server says: the script's own error
 * status, with its text when that is plain text (`vite dev` says there why it serves no
 * worker), or the engine script that could not load, the first its `importScripts(...)`
 * names (the browser says only that a status was bad, or that evaluation failed).
 */
async function missing(url) {
  try {
    const base = new URL(url, location.href);
    const res = await fetch(base);
    const text = await res.text();
    if (!res.ok) return `${url} answered ${res.status}${/^text\/plain/.test(res.headers.get('content-type')) ? `: ${text}` : ''}`;
    const u = text.match(/importScripts\(\s*['"]([^'"]+)/)[1];
    const r = await fetch(new URL(u, base), { cache: 'no-store' });
    if (!r.ok) return `importScripts('${u}') answered ${r.status}`;
  } catch {}
}

/**
 * Registers the worker; resolves with the registration once it controls the page, or
 * once it is active on a page it will not take (a hard reload). Where service workers
 * are unsupported or denied (a sandboxed frame) it resolves undefined. Rejects when registration or
 * install fails (with the worker's own reason when it tells one: its config error, why
 * its install failed, such as the feed's 410 Gone), or when nothing controls the page
 * within `timeout` ms. On a page already controlled, an update this registration finds
 * that fails to install is reported in the page's console (with the worker's reason);
 * the old worker goes on serving. An engine that fails open meanwhile (its wasm refused, a
 * trap), or a worker script that never called swcache.start(config), is logged in the
 * page's console too; it resolves all the same (the site works from the network).
 */
export async function register(url, { scope, timeout = 10000 } = {}) {
  if (!sw) return undefined;
  // A worker whose config is wrong says why on this channel just before it fails.
  let configError = null;
  const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel('swcache') : null;
  // So does an engine that fails open (the site works from the network, nothing is cached).
  const failedOpen = (e) => e.data?.type === 'FAILED_OPEN' && console.error(e.data.error);
  if (channel) channel.onmessage = (e) => { if (e.data && e.data.type === 'CONFIG_ERROR') configError = e.data.error; failedOpen(e); };
  const fail = (fallback) => {
    const err = new Error(configError || fallback);
    console.error(err.message);
    return err;
  };
  let watching = false;
  const close = () => channel?.close();
  // Already controlled: an update the browser checks for meanwhile fails in the
  // background (a config error at its evaluation, or a failed install); say so here.
  const watchUpdate = (reg) => {
    watching = true;
    // Told once: a failed install says why on the channel, then goes redundant.
    let told = false;
    const failed = (why) => {
      if (!told) console.error(`swcache: the new worker failed (the old one goes on serving): ${why}`);
      told = true;
      close();
    };
    if (configError) return failed(configError); // it came before register() resolved
    if (channel) channel.onmessage = (e) => (e.data?.type === 'CONFIG_ERROR' ? failed(e.data.error) : failedOpen(e));
    // An install ends at the first state change: installed, or redundant when it failed
    // (a worker that installed goes redundant later when a newer version replaces it).
    const follow = (w) => w?.addEventListener('statechange', () => {
      if (w.state === 'redundant' && (!reg.installing || reg.installing === w)) failed('its install failed');
    }, { once: true });
    const found = () => follow(reg.installing);
    follow(reg.installing);
    reg.addEventListener('updatefound', found);
    setTimeout(() => { reg.removeEventListener('updatefound', found); close(); }, Math.min(timeout, MAX_DELAY));
  };
  const controlled = async () => {
    let reg;
    try {
      reg = await sw.register(url, scope ? { scope } : undefined);
    } catch (e) {
      await new Promise((r) => setTimeout(r, 50)); // the channel's message may trail the rejection
      throw fail(`swcache: registering ${url} failed: ${await missing(url) || e?.message || e}`);
    }
    // A scope that does not include this page (a script served under /swcache/ takes
    // that as its scope): the worker will never control it, nor answer through `ready`.
    if (!location.href.startsWith(reg.scope)) {
      throw fail(`swcache: ${url}'s scope ${reg.scope} does not include this page, so it will never control it: serve the worker from the site's root, or pass {scope}`);
    }
    const worker = reg.installing || reg.waiting || reg.active;
    // A page the active worker has not taken, with no other worker on its way (a hard
    // reload bypasses the worker until the next load): nothing will control it, and the
    // worker answers its messages all the same. A waiting one (waitForClients) is not on
    // its way: it takes the page only once the other tabs are closed.
    if (sw.controller || (!reg.installing && reg.active?.state === 'activated')) {
      watchUpdate(reg);
      return reg;
    }
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!sw.controller && !(worker && worker.state === 'redundant')) return;
        sw.removeEventListener('controllerchange', check);
        worker?.removeEventListener('statechange', check);
        if (sw.controller) resolve(reg);
        else setTimeout(() => reject(fail('swcache: the worker failed to install')), 50);
      };
      sw.addEventListener('controllerchange', check);
      if (worker) worker.addEventListener('statechange', check);
      check();
    });
  };
  try {
    // The timeout covers the registration too (it waits behind an install that hangs).
    return await withTimeout(controlled(), timeout, 'the worker did not control this page');
  } finally {
    if (!watching) close();
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
  // A page's first controller (a first visit's claim, a page loaded past the worker) is
  // no change of version: it loaded from the network.
  let had = sw.controller;
  const changed = () => {
    const was = had;
    had = sw.controller;
    if (was) dispatchEvent(new CustomEvent('swcache:controlled', { detail: { external: !asked } }));
  };
  sw.addEventListener('controllerchange', changed);
  // A worker that called skipWaiting() (the default config) is 'installed' and waiting
  // for a moment, then activates by itself: one still installed a while later waits.
  const watch = (reg, w) => { if (w) w.addEventListener('statechange', () => { if (w.state === 'installed') setTimeout(() => w.state === 'installed' && report(reg), 200); }); };
  let stop = () => {};
  sw.ready.then((reg) => {
    if (!on) return;
    report(reg);
    // One installing already (its updatefound has passed), and each later one.
    watch(reg, reg.installing);
    const found = () => watch(reg, reg.installing);
    reg.addEventListener('updatefound', found);
    stop = () => reg.removeEventListener('updatefound', found);
  });
  return () => { on = false; sw.removeEventListener('controllerchange', changed); stop(); };
}

/**
 * Asks the waiting worker (the newest, if another arrived meanwhile) to take over, and
 * once it controls this page reloads it (`reload: false` to do that yourself). Resolves
 * `false` when no worker waits.
 */
export async function applyUpdate({ reload = true, timeout = 10000 } = {}) {
  const reg = sw && await sw.getRegistration();
  if (!reg?.waiting) return false;
  // This page's next change of worker is its own (`swcache:controlled` says external:
  // false); later ones, from other pages' updates, are not.
  asked = true;
  try {
    await withTimeout(new Promise((resolve) => {
      sw.addEventListener('controllerchange', resolve, { once: true });
      // Ask whichever worker waits now; a newer one replacing it is asked in turn.
      const ask = () => { const w = reg.waiting; if (w) { w.postMessage({ type: 'SKIP_WAITING' }); w.addEventListener('statechange', ask, { once: true }); } };
      ask();
    }), timeout, 'the waiting worker did not take over');
  } finally {
    asked = false;
  }
  if (reload) location.reload();
  return true;
}

/** Posts `msg` to the worker that controls the page (else the active worker); resolves with its reply, rejects on ERROR or timeout. */
export function post(msg, timeout = TIMEOUT) {
  if (!sw) return Promise.reject(new Error('swcache: service workers are not supported here'));
  // The timeout runs from now, whatever the worker's state (none, installing, broken).
  const { port1, port2 } = new MessageChannel();
  let asked = ''; // the worker's script, named when it does not reply (another tool's never does)
  return withTimeout((async () => {
    // The worker that controls this page, else the registration's once it has one: an
    // unregistered worker (the feed's 410) controls the open pages until they navigate,
    // while `ready` never resolves once no registration is left.
    const controller = sw.controller?.state === 'redundant' ? null : sw.controller;
    const active = controller || (await sw.ready).active;
    if (!active) throw new Error('swcache: no active worker');
    asked = ` ${active.scriptURL}`;
    const reply = new Promise((resolve) => { port1.onmessage = (e) => resolve(e.data); });
    active.postMessage(msg, [port2]);
    const data = await reply;
    if (data && data.type === 'ERROR') throw new Error(data.error || 'swcache: error');
    return data;
  })(), timeout, { toString: () => `the worker${asked} did not reply` }).finally(() => port1.close());
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
  return post({ type: 'PREFETCH', urls: absolute(urls), saveData: !!conn?.saveData }, timeout);
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
  // The link's URL without its fragment: same-origin http(s) only (an SVG link's href
  // is an SVGAnimatedString; blob: and data: URLs are nothing to prefetch), and not a
  // download (a file, an export the server builds: the visitor asks for it by a click).
  const urlOf = (a) => {
    const raw = typeof a?.href === 'string' ? a.href : a?.href?.baseVal;
    if (!raw || a.hasAttribute?.('download')) return null;
    let u;
    try { u = new URL(raw, location.href); } catch { return null; }
    if (u.origin !== location.origin || !/^https?:$/.test(u.protocol)) return null;
    u.hash = '';
    return u.href;
  };
  const linkOf = (e) => urlOf(e.target instanceof Element ? e.target.closest(selector) : null);
  const send = (href) => {
    if (sent.has(href)) return;
    sent.add(href);
    // Tried again on a later hover only if the worker did not answer; a refusal stands.
    prefetch([href]).catch((err) => { if (err?.timeout) sent.delete(href); });
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
    if (urlOf(to) === href) return; // still inside the link
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

// ----- hydrate(): the scheduler, loaded on the first call ----------------------------------

// The scheduler is Rust (src/policy/hydrate.rs, and src/page/ on the browser's APIs)
// compiled to swcache-hydrate.wasm, bound by wasm-bindgen's glue swcache-hydrate.js. On
// the first hydrate() the wasm compiles while it streams in, meanwhile the glue is
// imported; the wasm is fetched with the fetch of this module's first evaluation, not
// through wrappers a page installs later (analytics, tests counting data requests).
const nativeFetch = typeof fetch === 'function' ? fetch.bind(globalThis) : null;
let scheduler = null; // the glue's exports, once its wasm is instantiated
function loadScheduler() {
  // A browser that runs no wasm (iOS Lockdown Mode, a jitless engine): `ready` says so.
  if (typeof WebAssembly !== 'object') return Promise.reject(new Error('swcache hydrate: no WebAssembly here, so nothing is hydrated'));
  if (!scheduler) {
    const url = new URL('./swcache-hydrate.wasm', import.meta.url);
    const bytes = (r) => r.arrayBuffer().then((b) => WebAssembly.compile(b));
    const module = nativeFetch(url).then((r) => {
      // A wasm the server does not have (a deploy that left it out) is named, with its status.
      if (!r.ok) throw new Error(`swcache hydrate: ${url} answered ${r.status}`);
      // compileStreaming needs the server to say application/wasm; else the bytes of the
      // same response are compiled (one request either way).
      return WebAssembly.compileStreaming ? WebAssembly.compileStreaming(r.clone()).catch(() => bytes(r)) : bytes(r);
    });
    module.catch(() => {}); // its failure is `ready`'s, once the glue's init awaits it
    scheduler = import('./swcache-hydrate.js').then(async (glue) => {
      await glue.default({ module_or_path: module });
      return glue;
    });
    // A load that failed (the network dropped) is tried again by the next hydrate().
    scheduler.catch(() => { scheduler = null; });
  }
  return scheduler;
}

const hydrations = new Set(); // the running schedulers (Hydration objects)

/**
 * Hydrates the page's `[data-component-id]` components when they matter (see README):
 * returns `{stop(), ready}` at once; the scheduler starts when its wasm has loaded.
 * `ready` rejects on a bad option, naming it (and nothing is hydrated).
 */
export function hydrate(opts = {}) {
  const h = {
    stopped: false,
    stop() {
      h.stopped = true;
      if (h.run) { hydrations.delete(h.run); h.run.stop(); }
    },
  };
  h.ready = loadScheduler().then((glue) => {
    if (!h.stopped) {
      const run = new glue.Hydration(opts);
      try {
        run.start();
      } catch (e) {
        run.stop();
        // The one option only the browser checks: a margin IntersectionObserver refuses.
        throw e?.name === 'SyntaxError' ? new Error(`swcache hydrate: option 'rootMargin' ${JSON.stringify(opts.rootMargin)}: ${e.message}`) : e;
      }
      h.run = run;
      hydrations.add(run);
    }
    return h;
  });
  h.ready.catch((err) => console.error(err.message || err));
  return h;
}

// ----- notices from the worker -------------------------------------------------------------

// Whether an INVALIDATED notice covers a same-origin path (path and search; `more`: it
// removed more paths than it lists, so any may be among them): the rule of
// policy::hydrate::coverage, here so that a page that never hydrates loads no wasm for it.
const covers = (d, path) => d.all === true || d.more === true || [d.urls, d.removed].some((l) => Array.isArray(l) && l.includes(path))
  || (Array.isArray(d.prefixes) && d.prefixes.some((p) => typeof p === 'string' && path.startsWith(p)));

// The `at` of the last notices taken (the worker's time of each names it): one that came
// live is not taken again from the worker's list (GET_NOTICES, below).
const heard = new Set();

// INVALIDATED (a message or the feed removed entries) and UPDATED (a background refresh
// stored content that differs from what a page was given), as DOM events. Which hydrated
// components a notice covers is the scheduler's call (they refetch past the cache): a
// scheduler still loading has hydrated none, so a notice never waits for its download.
function onNotice(event) {
  const data = event.data;
  if (!data || (data.type !== 'UPDATED' && data.type !== 'INVALIDATED')) return;
  if (typeof data.at === 'number') {
    if (heard.has(data.at)) return;
    heard.add(data.at);
    if (heard.size > 100) heard.delete(heard.values().next().value);
  }
  if (data.type === 'UPDATED') {
    window.dispatchEvent(new CustomEvent('swcache:updated', { detail: { url: data.url } }));
    return;
  }
  const page = covers(data, location.pathname + location.search);
  const components = [];
  for (const run of hydrations) components.push(...run.invalidated(data));
  if (!page && components.length === 0) return;
  const { urls, prefixes, tags, removed, more, all, source } = data;
  window.dispatchEvent(new CustomEvent('swcache:invalidated', {
    detail: { page, components, urls, prefixes, tags, removed, more, all, source },
  }));
}

// A page in the back/forward cache is frozen (Chromium keeps one its worker controls):
// the notices sent meanwhile never reach it. Back again, it asks the worker for those sent
// since it left (the worker keeps the recent ones, saved, so one stopped meanwhile has them
// too) and takes each as if it had come live. The time is the page's Date.now(), which is
// the worker's clock (one browser, one system clock): a page being frozen cannot wait for
// the worker to tell it its time. A clock set back while the page was away would hide
// what was sent since: the time it left is also reckoned back from now by the monotonic
// performance.now(), and the earlier of the two is asked from. The notices of the last
// SLACK ms before it left are asked for too (one may have been on its way); those that
// came are not taken twice.
const SLACK = 10000;
let left = null;
if (sw) {
  sw.addEventListener('message', onNotice);
  addEventListener('pagehide', (e) => { if (e.persisted) left = [Date.now(), performance.now()]; });
  addEventListener('pageshow', (e) => {
    const was = left;
    left = null;
    if (!e.persisted || !was || !sw.controller) return;
    const since = Math.min(was[0], Date.now() - performance.now() + was[1]);
    post({ type: 'GET_NOTICES', since: since - SLACK }).then(
      (r) => { for (const data of r.notices) onNotice({ data }); },
      (err) => console.warn('swcache: the notices sent while this page was in the back/forward cache could not be read:', err.message || err),
    );
  });
}

// The first wait before a closed live feed is opened again (it doubles each time).
const RECONNECT_MS = 2000;
// How long after a stream was last known to be at its place (the id of its last entry,
// or of where it started) the next stream resumes from there. A longer gap is left to the
// worker's feed checks: resumed from that far back, the stream may send a `reset`, which
// empties every cache.
const RESUME_MS = 600000;

/**
 * Live invalidation: listens to a Server-Sent Events stream of feed entries (`data:` is
 * one entry's JSON, as in the feed; the feed service's /v1/events, or any server) and
 * hands each to the worker at once, so an open page is invalidated within about a
 * second. A `reset` event (the entries this page missed while disconnected were
 * compacted away) invalidates everything up to its `timestamp`. The browser reconnects
 * by itself, with Last-Event-ID. One page of the browser holds the stream for the origin's
 * pages that subscribe to it. Returns `{stop()}`.
 */
export function subscribe(url = '/v1/events') {
  // No worker to hand entries to (an http: page, a sandboxed frame, service workers off):
  // no stream, which would hold one of the host's connections for nothing.
  if (!sw || typeof EventSource !== 'function') return { stop() {} };
  let source = null;
  let stopped = false;
  let retry = null;
  let wait = RECONNECT_MS;
  let opened = 0; // when the stream last opened (0: it has ended since)
  let short = 0; // streams in a row that ended within 10 s of opening
  const href = new URL(url, location.href).href;
  const name = `swcache-live ${href}`;
  // Where the stream was left off, by whichever page of the origin read it: the page that
  // opens it next resumes there, so an entry published while no page held it (one
  // closing, frozen or suspended, the next opening it) still arrives. The time is when
  // the stream was last known to be there: the page holding it says so every minute, as
  // a feed may send nothing for hours (the place of a stream held all along is current,
  // however old its last entry).
  let last = '';
  const mark = () => {
    try {
      localStorage.setItem(name, `${Date.now()} ${last}`);
    } catch {}
  };
  const keep = setInterval(() => last && source?.readyState === 1 && mark(), 60000);
  const on = (ev) => {
    last = ev.lastEventId;
    mark();
    let entry;
    try {
      entry = JSON.parse(ev.data);
    } catch {
      return console.warn('swcache: live feed sent something that is not JSON:', ev.data);
    }
    if (ev.type === 'reset') entry = { all: true, timestamp: entry.timestamp };
    // `feed`: route names this worker does not have are skipped (a newer version's), as
    // at a feed check, and the rest of the entry applies.
    // `seq` names the entry once applied: a worker the browser stopped meanwhile does not
    // apply it again at its next feed check.
    const msg = { feed: true };
    for (const k of ['urls', 'prefixes', 'tags', 'routes', 'all', 'timestamp', 'seq']) if (entry[k] !== undefined) msg[k] = entry[k];
    invalidate(msg).catch((err) => console.warn('swcache: live feed entry refused:', err.message || err));
  };
  // The browser reconnects by itself after a network error, but gives up for good on an
  // HTTP error or a wrong content type (a proxy's 502 while the feed service restarts):
  // then this opens the stream again, waiting longer each time (up to a minute), from
  // where it was left off (`?lastEventId=`: a new EventSource sends no Last-Event-ID).
  const open = () => {
    retry = null;
    opened = 0;
    if (stopped) return;
    const at = new URL(href);
    last = '';
    try {
      const [t, id] = localStorage.getItem(name).split(' ');
      if (id && Date.now() - t < RESUME_MS) {
        at.searchParams.set('lastEventId', id);
        last = id;
      }
    } catch {}
    source = new EventSource(at);
    source.onmessage = on;
    source.addEventListener('reset', on);
    // A new stream of the feed service says where it starts: a place to hand it over from
    // before any entry comes.
    source.addEventListener('position', (ev) => {
      last = ev.lastEventId;
      mark();
    });
    // (An open stream ends a run of refusals: the next one waits 2 s again, unless
    // streams have been ending as soon as they open.)
    source.onopen = () => {
      opened = Date.now();
      if (short < 10) wait = RECONNECT_MS;
    };
    source.onerror = () => {
      // A stream that lasted resets the wait; one that ended within 10 s of opening is
      // short (the README's nginx fallback, or the service that cannot read its store,
      // says "retry: 1000" and ends): from the tenth in a row on (a restart is over by
      // then), the browser's own reconnect, a second later each time for as long as the
      // outage lasts, is given up for the wait, until a stream lasts.
      if (opened) {
        if (Date.now() - opened < 10000) short++;
        else { short = 0; wait = RECONNECT_MS; }
        opened = 0;
      }
      if (stopped || retry || (source.readyState !== EventSource.CLOSED && short < 10)) return;
      source.close();
      console.warn(`swcache: the live feed ${url} closed; reopening it in ${wait / 1000} s`);
      retry = setTimeout(open, wait);
      wait = Math.min(wait * 2, 60000);
    };
  };
  // One stream for all of the origin's pages and frames: the worker they share applies
  // each entry and tells every page, and a browser keeps at most 6 HTTP/1.1 connections
  // to a host (a stream per tab left the seventh tab of the site loading for good). The
  // page holding the lock keeps the stream; when it closes, stops, goes into the
  // back/forward cache or is frozen, the next one opens it. A page that is shown takes it
  // (`steal`): the one holding it may be a tab the browser suspended without freezing it
  // (Safari on iOS), which reads nothing for the others; that one waits in line again.
  const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
  let release = null; // lets go of the lock this page holds
  let asking = null; // the lock request waiting, to abort
  const lead = (steal) => {
    // Holding it, or in line (a page shown takes it, unless it is taking it already).
    if (release || source || (asking && (!steal || asking.steal))) return;
    if (!locks) return open();
    asking?.abort();
    const ask = new AbortController();
    ask.steal = steal;
    asking = ask;
    let held = null;
    locks.request(name, steal ? { steal } : { signal: ask.signal }, () => {
      if (asking !== ask || stopped) return; // let go meanwhile
      asking = null;
      open();
      return new Promise((r) => { release = held = r; });
    }).catch((e) => {
      if (e?.name !== 'AbortError') {
        if (asking === ask) asking = null; // no locks here (a sandboxed frame): a stream of its own
        if (!source) open();
      } else if (held && held === release) {
        // Taken by a page that was shown: in line again.
        clearTimeout(retry);
        source?.close();
        source = release = null;
        lead();
      }
    });
  };
  // A page kept in the back/forward cache lets the stream go (holding the lock, it would be
  // evicted from the cache when another page asks for it) and asks again when shown.
  const away = () => {
    asking?.abort();
    clearTimeout(retry);
    source?.close();
    release?.();
    asking = release = source = null;
  };
  // (Every listener goes at stop(): a page that subscribes and stops again and again, as
  // its views change, keeps none.)
  const off = new AbortController();
  const o = { signal: off.signal };
  addEventListener('pagehide', (e) => { if (e.persisted) away(); }, o);
  const shown = () => lead(document.visibilityState === 'visible');
  addEventListener('pageshow', (e) => e.persisted && shown(), o);
  // So does a page the browser freezes (a background tab, Chromium): frozen, it would
  // hold the lock and read no entry for the others.
  document.addEventListener('freeze', away, o);
  document.addEventListener('resume', () => lead(), o);
  // A page opened or shown (visible) takes the stream.
  document.addEventListener('visibilitychange', shown, o);
  shown();
  return {
    stop() {
      stopped = true;
      off.abort();
      clearInterval(keep);
      away();
    },
  };
}
