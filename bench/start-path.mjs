// Which wasm functions a cold start runs before the first response: the shipped engine
// (target/engine/swcache_sw.wasm) is instrumented with binaryen's --log-execution, then
// driven in Node the way the worker's executor drives it on a stopped worker's first
// navigation (swcache.start with the benchmark's config, the fetch event, the cache hit).
// A stopped worker compiles every function it calls afresh, so this is the code a cold
// start pays for. Prints JSON: functions and body bytes per step.
// Usage: node bench/start-path.mjs [engine.wasm]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const input = process.argv[2] || path.join(ROOT, 'target/engine/swcache_sw.wasm');
const out = path.join(os.tmpdir(), `swcache-start-path-${process.pid}.wasm`);
execFileSync(path.join(ROOT, 'node_modules/.bin/wasm-opt'), ['--log-execution', '-g', '--enable-bulk-memory',
  '--enable-nontrapping-float-to-int', '--enable-sign-ext', '--enable-mutable-globals', input, '-o', out]);
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
const module = new WebAssembly.Module(bytes);
const regexps = [];
let w;
const dec = new TextDecoder();
const enc = new TextEncoder();
const read = (p, n) => dec.decode(new Uint8Array(w.memory.buffer, p, n));
w = new WebAssembly.Instance(module, {
  env: {
    log_execution(id) {
      if (entryOf.has(id)) { seen.add(id); step.add(id); }
    },
    re: (i, p, n) => {
      regexps[i].lastIndex = 0;
      return regexps[i].test(read(p, n)) ? 1 : 0;
    },
    url: (p, n, o, cap) => {
      const href = new URL(read(p, n), 'http://localhost/sw.js').href;
      return enc.encodeInto(href, new Uint8Array(w.memory.buffer, o, cap)).written;
    },
  },
}).exports;
const put = (s) => {
  const ptr = w.swc_buf(s.length * 3);
  return enc.encodeInto(s, new Uint8Array(w.memory.buffer, ptr, s.length * 3)).written;
};
const output = () => read(w.swc_out_ptr(), w.swc_out_len());
const replacer = (_key, v) => {
  if (!(v instanceof RegExp)) return v;
  regexps.push(v);
  return '\u0000r' + (regexps.length - 1);
};

// The benchmark's config (bench/workers.mjs), as the executor hands it over.
const config = {
  version: 'bench-v1',
  precache: ['/', '/favicon.ico', '/robots.txt'],
  routes: [
    { name: 'images', match: /\.(png|jpe?g|gif|webp|svg)$/, strategy: 'cacheFirst', maxAge: 7 * 864e5, maxEntries: 200 },
    { name: 'componentData', match: /\/api\/v1\/promo\/featured-content/, strategy: 'networkFirst',
      networkTimeout: 3000, maxAge: 5 * 60e3, maxEntries: 100 },
    { name: 'bulk', match: /^\/bulk\//, strategy: 'cacheFirst', maxAge: 864e5 },
    { name: 'promoPages', match: /^\/(?!api|admin|_next|swcache\/)/, strategy: 'cacheFirst', maxAge: 864e5, maxEntries: 50 },
  ],
};
const steps = {};
const measure = (name, f) => {
  step = new Set();
  f();
  const fns = [...step].map((id) => entryOf.get(id));
  steps[name] = { functions: fns.length, bodyBytes: fns.reduce((s, [, n]) => s + n, 0) };
};
const now = Date.now();
measure('start', () => {
  if (!w.swc_start(put('http://localhost\n' + JSON.stringify(config, replacer)), now)) throw new Error(output());
});
let op;
measure('fetch', () => {
  op = w.swc_fetch(1 | 2, put('http://localhost/promo/summer-sale\ndefault'), now);
  if (!op || !output().startsWith('M\t')) throw new Error('the first fetch did not read the cache: ' + output());
});
measure('hit', () => {
  w.swc_io(op, 1, 1, now - 1000, put('\n"v1"'), now);
  if (!/^R\t\d+\tc\t1/m.test(output())) throw new Error('the hit was not answered from the cache: ' + output());
});
const all = [...seen].map((id) => entryOf.get(id));
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
