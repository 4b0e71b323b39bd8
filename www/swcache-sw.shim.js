/* swcache-sw.js: the service-worker engine (Rust compiled to wasm, bound by wasm-bindgen)
 * in one classic script for importScripts(). ./build.sh puts wasm-bindgen's glue before
 * this shim and the wasm bytes into WASM_BYTES, all inside one function scope.
 *
 * The adapter (src/sw/) carries out every command; this shim only registers the
 * listeners during the first evaluation (as the platform requires), calls respondWith
 * during the dispatch, and fails open: if the engine fails to load or traps, requests go
 * to the network. */
/* global wasm_bindgen */
// The wasm bytes as a string of code points 0-255 (one per byte; `\\`, `'`, LF and CR
// escaped): it gzips 3.8% larger than the binary (bytes 128-255 take two bytes of UTF-8).
const WASM_BYTES = '/*@@WASM@@*/';
// The engine's GET_STATS reply with every counter zero, sent when the engine failed (a
// native test keeps it equal to what the engine writes).
const FAILED_STATS = '{"type":"STATS","hits":0,"misses":0,"staleServed":0,"networkErrors":0,"evictions":0,"invalidations":0,"routes":{},"engine":"failed-open"}';
// When each start-up step ended (performance.now()): the benchmark's cold-start breakdown.
const timing = { evaluated: performance.now(), compiled: 0, instantiated: 0, started: 0, firstFetch: 0, firstAnswer: 0 };
const pending = new Set(); // answers not given yet: [resolve, event]
let sw = null;
let failure = null;
let started = false;

const waiting = new Set(); // how each guarded event's wait ends if the engine fails
// The network's answer when the engine failed: a navigation's preload response where the
// browser sent one (a fetch of the request, or leaving it to the browser, sent it again).
const network = (event) => Promise.resolve(event.preloadResponse).catch(() => undefined)
  .then((res) => (res && !res.bodyUsed ? res : fetch(event.request)));
const NOT_STARTED = 'swcache: the worker never called swcache.start(config)';
// Said in the worker's console, and by the pages registering it in theirs (register()):
// a worker's console is one nobody opens.
const tell = (text, err = '') => {
  console.error(text, err);
  try {
    const channel = new BroadcastChannel('swcache');
    channel.postMessage({ type: 'FAILED_OPEN', error: `${text} ${err}` });
    channel.close();
  } catch {}
};
const failOpen = (err) => {
  if (failure) return;
  failure = err || new Error('unknown failure');
  tell('swcache: engine failed; requests now go straight to the network.', failure);
  for (const [resolve, event] of pending) resolve(network(event));
  for (const end of waiting) end();
};
// What the engine gives an event to wait on ends at a failure too, as `onFail` says: a
// trapped engine settles nothing, and an activation left waiting would hold every request
// of the site; a fetch event left waiting (its answer fails open) keeps the failed worker
// busy, so the browser neither stops it nor activates a new version for minutes.
const guard = (event, onFail = () => undefined) => {
  const waitUntil = event.waitUntil.bind(event);
  event.waitUntil = (p) => {
    let end;
    const failed = new Promise((resolve) => { end = () => resolve(Promise.resolve().then(onFail)); });
    waiting.add(end);
    waitUntil(Promise.race([p, failed]).finally(() => waiting.delete(end)));
  };
  return event;
};
// The body a cache write reads (src/sw/exec.rs, `stamped`): it fails, and so the write,
// when no byte came for `ms` (a stalled response held its write, every invalidation
// waiting for it, and the worker's event, for good) or when it ends short of `length`
// (WebKit hands a body cut off before its Content-Length on as complete). The write's
// failure reaches the engine alone, so the errors carry no text.
// biome-ignore lint/correctness/noUnusedVariables: the glue calls it (src/sw/js.rs)
function guardBody(body, ms, length) {
  let timer;
  let got = 0;
  const wait = (c) => {
    clearTimeout(timer);
    timer = setTimeout(() => c.error(), ms);
  };
  return body.pipeThrough(new TransformStream({
    start: wait,
    transform(chunk, c) {
      got += chunk.byteLength;
      wait(c);
      c.enqueue(chunk);
    },
    flush() {
      clearTimeout(timer);
      if (got < length) throw Error();
    },
  }));
}
// What a fetch no page waits for answers with (src/sw/exec.rs, `network`): `fetch(req)`,
// or `pending` (a navigation's preload response), failing when no response came within
// `ms` (store::HEADERS_MS), the fetch aborted: an origin that accepts the connection and
// never answers held the event, and so the worker and its next version, for good.
// biome-ignore lint/correctness/noUnusedVariables: the glue calls it (src/sw/js.rs)
function responseWithin(req, ms, pending) {
  const abort = new AbortController();
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => {
      // Rejected first: the aborted fetch's own rejection would win the race.
      reject(Error(`no response headers within ${ms / 1000} s`));
      abort.abort();
    }, ms);
  });
  // (An init resets the request's referrer to this script's URL: the page's is kept.)
  const init = { signal: abort.signal, referrer: req?.referrer, referrerPolicy: req?.referrerPolicy };
  return Promise.race([pending || fetch(req, init), late]).finally(() => clearTimeout(timer));
}
// (By name: `instanceof WebAssembly.RuntimeError` throws where there is no WebAssembly.)
const isTrap = (err) => err?.name === 'RuntimeError';
// A trap inside a promise callback of the engine's surfaces here.
self.addEventListener('unhandledrejection', (e) => isTrap(e.reason) && failOpen(e.reason));
self.addEventListener('error', (e) => isTrap(e.error) && failOpen(e.error));

try {
  const bytes = Uint8Array.fromBase64 ? Uint8Array.fromBase64(btoa(WASM_BYTES)) : Uint8Array.from(WASM_BYTES, (c) => c.charCodeAt(0));
  const module = new WebAssembly.Module(bytes);
  timing.compiled = performance.now();
  wasm_bindgen.initSync({ module });
  sw = wasm_bindgen;
  timing.instantiated = performance.now();
} catch (err) {
  failOpen(err);
}

// Runs an engine entry point; a trap fails open. `false`: the engine did not take it.
const call = (f) => {
  if (failure || !started) return false;
  try {
    return f();
  } catch (err) {
    failOpen(err);
    return false;
  }
};

self.swcache = {
  timing,
  /** Validates `config` and starts the engine. Throws on a bad config. */
  start(config) {
    if (failure) return;
    try {
      sw.start_engine(config);
    } catch (err) {
      if (isTrap(err)) return failOpen(err);
      throw err;
    }
    started = true;
    timing.started = performance.now();
  },
};

self.addEventListener('install', (event) => {
  if (call(() => sw.on_install(guard(event, () => Promise.reject(failure))))) return;
  // (Called later than the script's first evaluation, it is not: every request goes to the network.)
  if (!failure) tell(`${NOT_STARTED} while its script ran; requests go straight to the network.`);
  self.skipWaiting();
});

self.addEventListener('activate', (event) => {
  // A failed engine still takes over, so pages can ask it for GET_STATS.
  if (!call(() => sw.on_activate(guard(event, () => self.clients.claim())))) event.waitUntil(self.clients.claim());
});

self.addEventListener('fetch', (event) => {
  if (!timing.firstFetch) timing.firstFetch = performance.now();
  const req = event.request;
  const entry = [null, event];
  const answer = new Promise((resolve) => { entry[0] = resolve; });
  if (!call(() => sw.on_fetch(guard(event), entry[0]))) {
    if (failure && req.mode === 'navigate') event.respondWith(network(event));
    return;
  }
  pending.add(entry);
  event.respondWith(answer.then((res) => {
    pending.delete(entry);
    if (!timing.firstAnswer) timing.firstAnswer = performance.now();
    return res || fetch(req);
  }));
});

// What a message's port is told when no engine answers it.
const failedReply = (data) => {
  if (data?.type !== 'GET_STATS') {
    const error = failure ? 'swcache: engine failed open: ' + String(failure) : NOT_STARTED;
    return { type: 'ERROR', error };
  }
  const stats = JSON.parse(FAILED_STATS);
  if (failure) stats.error = String(failure);
  else stats.engine = 'not-started';
  return stats;
};

self.addEventListener('message', (event) => {
  const port = event.ports?.[0];
  // A port is answered once: by the engine, or by the shim if the engine failed first
  // (one it was still working on when it trapped included).
  let replied = !port;
  if (port) port.postMessage = (m) => { replied = true; MessagePort.prototype.postMessage.call(port, m); };
  const answer = () => replied || port.postMessage(failedReply(event.data));
  if (!call(() => { sw.on_message(guard(event, answer)); return true; })) answer();
});
