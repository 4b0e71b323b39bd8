// What loading the worker's engine script costs at a cold start, part by part, in
// Chromium or Firefox (the engines whose workers the harness can stop). Each variant is
// the floor worker importScripts()-ing one script: nothing, the wasm's string literal
// alone, the literal decoded to bytes, the bytes compiled (synchronously, or with
// WebAssembly.compile and the first answer waiting for it), the same bytes as base64,
// swcache-sw.js without its literal (glue and shim), and swcache-sw.js whole. Timed inside
// the worker (performance.now() around importScripts; the prelude's steps), over
// verified cold starts in alternating order. Firefox reads whole milliseconds there, so
// means are printed beside medians.
// Usage: node bench/load-probe.mjs [firefox|chromium] [cold starts, 20] [variant,...]
// SPLIT=primary.wasm,secondary.wasm adds the variant `split`: both as literals, only the
// primary decoded and compiled (a module split by wasm-split; bench/notes.md).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../tests/support/server.mjs';
import { launchBrowser, HEARTBEAT, heartbeats } from '../tests/support/harness.mjs';
import { waitFor } from '../tests/support/browser.mjs';
import { contenders, TIMING_PRELUDE, TIMING_REPORT, timingReports } from './workers.mjs';
import { summary } from './stats.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const engine = process.argv[2] || 'firefox';
const N = +(process.argv[3] || 20);
const dist = fs.readFileSync(path.join(ROOT, 'dist/swcache-sw.js'), 'utf8');
// The wasm's literal: the one string in the script longer than 100,000 characters.
const m = /'((?:[^'\\\n]|\\[\s\S])*)'/g;
let found = null;
for (const x of dist.matchAll(m)) if (x[1].length > 100000) found = x;
if (!found) throw new Error('no wasm literal in dist/swcache-sw.js');
const [a, b] = [found.index + 1, found.index + 1 + found[1].length];
const lit = dist.slice(a, b);
const bytes = Uint8Array.from(new Function(`return '${lit}'`)(), (c) => c.charCodeAt(0));
const wasm = fs.readFileSync(path.join(ROOT, 'target/engine/sw/swcache_sw_bg.wasm'));
if (Buffer.compare(Buffer.from(bytes), wasm) !== 0) throw new Error(`literal does not decode to the wasm (${bytes.length} vs ${wasm.length})`);
const b64 = wasm.toString('base64');
// A wasm as the build writes it into the script: code points 0-255, four bytes escaped.
const literalOf = (buf) => Array.from(buf, (x) => (x === 0x5c ? '\\\\' : x === 0x27 ? "\\'" : x === 0x0a ? '\\n' : x === 0x0d ? '\\r' : String.fromCharCode(x))).join('');
const split = process.env.SPLIT ? process.env.SPLIT.split(',').map((f) => literalOf(fs.readFileSync(f))) : null;
// The floor's answer, waiting for self.P (the async compile variant) when there is one.
const floor = contenders().find((x) => x.name === 'floor').files['/sw.js']
  .replace('event.respondWith(caches.match(event.request)', 'event.respondWith(Promise.resolve(self.P).then(() => caches.match(event.request))');
if (!floor.includes('self.P')) throw new Error('the floor changed');
const variants = {
  empty: '',
  str: `self.S='${lit}';`,
  bytes: `self.S='${lit}';self.B=Uint8Array.fromBase64(btoa(self.S));`,
  module: `self.S='${lit}';self.B=Uint8Array.fromBase64(btoa(self.S));self.M=new WebAssembly.Module(self.B);`,
  asyncmodule: `self.S='${lit}';self.B=Uint8Array.fromBase64(btoa(self.S));self.P=WebAssembly.compile(self.B);`,
  b64module: `self.B=Uint8Array.fromBase64('${b64}');self.M=new WebAssembly.Module(self.B);`,
  ...(split && { split: `self.S='${split[0]}';self.T='${split[1]}';self.B=Uint8Array.fromBase64(btoa(self.S));self.M=new WebAssembly.Module(self.B);` }),
  glue: dist.slice(0, a) + dist.slice(b),
  full: dist,
};
const only = process.argv[4] ? process.argv[4].split(',') : Object.keys(variants);
const b0 = await launchBrowser(engine, { systemAccess: true });
const arms = [];
for (const name of only) {
  const server = await startServer();
  const html = { 'content-type': 'text/html' };
  server.set('/', { body: '<!doctype html>home', headers: html });
  server.set('/page', { body: '<!doctype html><main>page</main>', headers: html });
  server.set('/x.js', { body: variants[name], headers: { 'content-type': 'text/javascript' } });
  const load = "self.benchMarks = { t0: performance.now() }; importScripts('/x.js'); benchMarks.t1 = performance.now();\n";
  server.set('/sw.js', { body: TIMING_PRELUDE + TIMING_REPORT + load + floor + '\n' + HEARTBEAT, headers: { 'content-type': 'text/javascript' } });
  const beats = heartbeats(server);
  const reports = timingReports(server);
  const page = arms.length ? await b0.newPage() : await b0.freshPage();
  await page.goto(server.origin + '/');
  await page.evaluate(async () => { await navigator.serviceWorker.register('/sw.js'); await navigator.serviceWorker.ready; await (await caches.open('c')).add('/page'); });
  await waitFor(() => beats.last(), `${name}: the worker's first heartbeat`);
  arms.push({ name, server, beats, reports, page, rows: [] });
}
for (let r = 0; r < N; r++) {
  for (const arm of (r % 2 ? arms.slice().reverse() : arms)) {
    await arm.page.goto('about:blank');
    await b0.stopWorkers();
    await waitFor(() => arm.beats.quietFor(400), `${arm.name}: stopped (sample ${r}, last beat ${arm.beats.last()})`, 30000, 20);
    const before = arm.beats.last();
    await arm.page.goto(arm.server.origin + '/page');
    await waitFor(() => arm.beats.last() !== before, 'new instance', 5000, 5);
    const t = await waitFor(() => arm.reports.get(arm.beats.last()), 'report', 5000, 5);
    arm.rows.push({ start: t.bench.evaluated, importScripts: t.marks.t1 - t.marks.t0, toFetch: t.bench.firstFetch - t.marks.t1, answer: t.bench.firstAnswer - t.bench.firstFetch, total: t.bench.firstAnswer });
  }
}
const mean = (xs) => xs.reduce((s, x) => s + x, 0) / xs.length;
console.log(`${engine} ${b0.version}, ${N} cold starts each; mean (median) ms inside the worker`);
for (const arm of arms) {
  const k = Object.keys(arm.rows[0]);
  console.log(arm.name.padEnd(10), (variants[arm.name].length / 1024).toFixed(0).padStart(4) + ' KB', k.map((x) => `${x} ${mean(arm.rows.map((y) => y[x])).toFixed(2)} (${summary(arm.rows.map((y) => y[x])).p50.toFixed(1)})`).join('  '));
}
await b0.close();
for (const arm of arms) await arm.server.close();
