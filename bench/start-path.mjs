// Which wasm functions a cold start runs before the first response: the shipped engine
// (target/engine/sw/swcache_sw_bg.wasm, after wasm-bindgen and wasm-opt) is instrumented
// with binaryen's --log-execution, then run in Node with its real wasm-bindgen glue and
// the real shim (www/swcache-sw.shim.js) against a small in-memory stand-in for the
// worker's globals (Cache Storage, events, clients), the way a stopped worker's first
// navigation runs it: swcache.start with the benchmark's config, the fetch event, the
// cache hit answered. A stopped worker compiles every function it calls afresh, so this
// is the code a cold start pays for. Prints JSON: functions and body bytes per step.
// Usage: node bench/start-path.mjs [engine_bg.wasm]
// KEEP=file also writes the start path's functions, one binaryen name per line (`N` for the
// N-th defined function), the list `wasm-split --keep-funcs=@file` takes (bench/notes.md).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const input = process.argv[2] || path.join(ROOT, 'target/engine/sw/swcache_sw_bg.wasm');
const GLUE = path.join(path.dirname(input), 'swcache_sw.js');
const SHIM = path.join(ROOT, 'www/swcache-sw.shim.js');
const out = path.join(os.tmpdir(), `swcache-start-path-${process.pid}.wasm`);
execFileSync(path.join(ROOT, 'node_modules/.bin/wasm-opt'), ['--log-execution', '-g', '--enable-bulk-memory',
  '--enable-nontrapping-float-to-int', '--enable-sign-ext', '--enable-mutable-globals', '--enable-reference-types',
  input, '-o', out]);
const bytes = fs.readFileSync(out);
fs.rmSync(out);
// Map each logging site to its function: a body that starts with `i32.const id; call
// log_execution` is that function's entry; body sizes come from the code section.
function leb(b, at) {
  let r = 0, s = 0, x;
  do { x = b[at++]; r |= (x & 127) << s; s += 7; } while (x & 128);
  return [r >>> 0, at];
}
function sleb(b, at) {
  let r = 0, s = 0, x;
  do { x = b[at++]; r |= (x & 127) << s; s += 7; } while (x & 128);
  if (s < 32 && (x & 64)) r |= -1 << s;
  return [r, at];
}
const entryOf = new Map(); // log id -> [function number, body bytes]
const names = new Map(); // function index (imports first) -> name, when the input has them
let imports = 0;
let at = 8;
while (at < bytes.length) {
  const id = bytes[at++];
  let size;
  [size, at] = leb(bytes, at);
  const end = at + size;
  if (id === 2) {
    let n, p = at;
    [n, p] = leb(bytes, p);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < 2; k++) { let l; [l, p] = leb(bytes, p); p += l; }
      const kind = bytes[p++];
      if (kind === 0) { imports++; [, p] = leb(bytes, p); } else if (kind === 1) { p += 2; [, p] = leb(bytes, p); if (bytes[p - 1] & 1) [, p] = leb(bytes, p); } else if (kind === 2) { const fl = bytes[p++]; [, p] = leb(bytes, p); if (fl & 1) [, p] = leb(bytes, p); } else { p += 2; }
    }
  }
  if (id === 0) {
    let nl, p = at;
    [nl, p] = leb(bytes, p);
    if (bytes.slice(p, p + nl).toString() === 'name') {
      p += nl;
      while (p < end) {
        const sub = bytes[p++];
        let len;
        [len, p] = leb(bytes, p);
        if (sub === 1) {
          let n, q = p;
          [n, q] = leb(bytes, q);
          for (let i = 0; i < n; i++) {
            let idx, l;
            [idx, q] = leb(bytes, q);
            [l, q] = leb(bytes, q);
            names.set(idx, bytes.slice(q, q + l).toString());
            q += l;
          }
        }
        p += len;
      }
    }
  }
  if (id === 10) {
    let n, p = at;
    [n, p] = leb(bytes, p);
    for (let f = 0; f < n; f++) {
      let len;
      [len, p] = leb(bytes, p);
      const bodyEnd = p + len;
      let q = p, groups;
      [groups, q] = leb(bytes, q);
      for (let g = 0; g < groups; g++) { [, q] = leb(bytes, q); q++; }
      if (bytes[q] === 0x41) {
        const [logId, q2] = sleb(bytes, q + 1);
        if (bytes[q2] === 0x10) entryOf.set(logId, [f, len]);
      }
      p = bodyEnd;
    }
  }
  at = end;
}

const seen = new Set();
let step = new Set();

// The worker's globals, as far as a cold hit uses them: Cache Storage in memory,
// events, clients. fetch() is never reached on a hit (the stand-in throws if it is).
const ORIGIN = 'http://localhost';
const PAGE = ORIGIN + '/promo/summer-sale';
const urlOf = (r) => (typeof r === 'string' ? new URL(r, ORIGIN).href : r.url);
class MemoryCache {
  constructor() { this.entries = new Map(); }
  async match(r) { const e = this.entries.get(urlOf(r)); return e ? e.clone() : undefined; }
  async put(r, res) { this.entries.set(urlOf(r), res); }
  async keys() { return [...this.entries.keys()].map((u) => new Request(u)); }
  async delete(r) { return this.entries.delete(urlOf(r)); }
}
const stores = new Map();
const caches = {
  async open(name) { if (!stores.has(name)) stores.set(name, new MemoryCache()); return stores.get(name); },
  async match(r, o) {
    const name = o?.cacheName;
    // The warm cache a cold start finds: the page in its route's cache, stored a second ago.
    if (name?.includes('promoPages') && !stores.has(name)) {
      await (await caches.open(name)).put(PAGE, new Response('cached copy', {
        headers: { 'sw-cache-time': new Date(Date.now() - 1000).toISOString(), etag: '"v1"' } }));
    }
    const c = stores.get(name);
    return c ? c.match(r) : undefined;
  },
  async keys() { return [...stores.keys()]; },
  async delete(name) { return stores.delete(name); },
};
class ExtendableEvent { constructor(type) { this.type = type; this.waits = []; } waitUntil(p) { this.waits.push(p); } }
class FetchEvent extends ExtendableEvent {
  constructor(request) { super('fetch'); this.request = request; }
  respondWith(p) { this.answer = p; }
}
const listeners = {};
const scope = {
  caches, Request, Response, Headers, URL, Blob, TextEncoder, TextDecoder, console, performance, btoa,
  ExtendableEvent, FetchEvent, setTimeout, clearTimeout, queueMicrotask,
  location: new URL('/sw.js', ORIGIN),
  registration: { unregister: async () => true },
  clients: { claim: async () => {}, matchAll: async () => [] },
  navigator: { onLine: true }, // as a browser with a network says it
  fetch: () => { throw new Error('a cold hit must not reach the network'); },
  skipWaiting: async () => {},
  addEventListener: (type, f) => { listeners[type] = f; },
  // The instrumented module imports env.log_execution besides wasm-bindgen's imports.
  WebAssembly: { ...WebAssembly, Module: WebAssembly.Module, RuntimeError: WebAssembly.RuntimeError,
    // biome-ignore lint/complexity/useArrowFunction: the glue calls it with `new`, which an arrow function refuses
    Instance: function (m, imports) {
      // binaryen adds the import to the module's first import module (or `env`).
      const log = (id) => { if (entryOf.has(id)) { seen.add(id); step.add(id); } };
      imports.env = { log_execution: log };
      for (const m of Object.values(imports)) m.log_execution = log;
      return new WebAssembly.Instance(m, imports);
    } },
};
scope.self = scope;
scope.globalThis = scope;
vm.createContext(scope);
let binary = '';
for (const b of bytes) binary += String.fromCharCode(b);
const shim = fs.readFileSync(SHIM, 'utf8').replace("'/*@@WASM@@*/'", () => 'self.__wasm');
scope.__wasm = binary;
vm.runInContext("(function () {\n'use strict';\n" + fs.readFileSync(GLUE, 'utf8') + '\n' + shim + '\n})();', scope);

// The benchmark's config (bench/workers.mjs).
const config = vm.runInContext(`({
  version: 'bench-v1',
  precache: ['/', '/favicon.ico', '/robots.txt'],
  routes: [
    { name: 'images', match: /\\.(png|jpe?g|gif|webp|svg)$/, strategy: 'cacheFirst', maxAge: 7 * 864e5, maxEntries: 200 },
    { name: 'componentData', match: /\\/api\\/v1\\/promo\\/featured-content/, strategy: 'networkFirst',
      networkTimeout: 3000, maxAge: 5 * 60e3, maxEntries: 100 },
    { name: 'bulk', match: /^\\/bulk\\//, strategy: 'cacheFirst', maxAge: 864e5 },
    { name: 'promoPages', match: /^\\/(?!api|admin|_next|swcache\\/)/, strategy: 'cacheFirst', maxAge: 864e5, maxEntries: 50 },
  ],
})`, scope);
const steps = {};
const record = (name) => {
  const fns = [...step].map((id) => entryOf.get(id));
  steps[name] = { functions: fns.length, bodyBytes: fns.reduce((s, [, n]) => s + n, 0) };
  step = new Set();
};
step = new Set();
scope.swcache.start(config);
record('start');
step = new Set();
const event = new FetchEvent(new Request(PAGE, { mode: 'same-origin' }));
listeners.fetch(event);
if (!event.answer) throw new Error('the engine did not answer the fetch event');
record('fetch');
const res = await event.answer;
if (!res || (await res.text()) !== 'cached copy') throw new Error('the hit was not answered from the cache');
record('hit');
const all = [...seen].map((id) => entryOf.get(id));
if (process.env.KEEP) fs.writeFileSync(process.env.KEEP, all.map(([f]) => `${f}\n`).join(''));
if (process.env.LIST) {
  for (const [f, n] of all.sort((a, b) => b[1] - a[1]).slice(0, +process.env.LIST)) {
    console.error(String(n).padStart(6), names.get(imports + f) || `#${f}`);
  }
}
console.log(JSON.stringify({
  wasmFunctions: entryOf.size,
  wasmCodeBytes: [...entryOf.values()].reduce((s, [, n]) => s + n, 0),
  startPath: { functions: all.length, bodyBytes: all.reduce((s, [, n]) => s + n, 0) },
  steps,
}, null, 2));
