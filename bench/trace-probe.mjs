// Where a Chromium cold start goes, from V8's own trace: each contender's worker stopped
// (CDP), then a navigation to a cached page with Chromium's tracing on, and the events of
// the ServiceWorker thread summed: the isolate's start, the script's code cache, the wasm
// module's decoding and validation (`wasm.SyncCompile`) and every function V8 compiles at
// its first call (`wasm.CompileLazy`: V8 compiles wasm lazily, one function at a time,
// with Liftoff; a stopped worker starts with nothing compiled). Samples alternate with
// untraced ones, so the inside-the-worker times show what tracing itself adds.
// Usage: node bench/trace-probe.mjs [cold starts per contender, 10] [contender,...]
import { chromium } from 'playwright-core';
import { CHROMIUM, ARGS, waitFor } from '../tests/support/browser.mjs';
import { serviceWorkers } from './cdp.mjs';
import { startServer } from '../tests/support/server.mjs';
import { HEARTBEAT, heartbeats } from '../tests/support/harness.mjs';
import { contenders, TIMING_PRELUDE, TIMING_REPORT, timingReports } from './workers.mjs';
import { percentile } from './stats.mjs';

const N = +(process.argv[2] || 10);
const NAMES = (process.argv[3] || 'floor,workbox,swcache').split(',');
const PAGE = '/promo/summer-sale';
const HTML = { 'content-type': 'text/html; charset=utf-8' };
const JS = { 'content-type': 'text/javascript' };
// The fewest categories that carry the events below (more of them slow the worker more).
const CATEGORIES = ['v8', 'v8.wasm', 'disabled-by-default-v8.wasm.detailed', 'disabled-by-default-v8.compile'];
// Events of the ServiceWorker thread, summed per cold start (ms; `n`: how many).
const EVENTS = {
  isolate: 'V8PerIsolateData::Initialize',
  codeCache: 'V8.CompileDeserialize',
  wasmDecode: 'wasm.SyncCompile',
  lazyCompile: 'wasm.CompileLazy',
  liftoff: 'wasm.CompileBaseline',
};

/** The EVENTS of the ServiceWorker thread in a trace. */
function workerEvents(trace) {
  const events = JSON.parse(trace).traceEvents;
  const names = new Map(events.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => [`${e.pid}/${e.tid}`, e.args.name]));
  const sw = [...names].filter(([, n]) => n === 'ServiceWorker thread').map(([k]) => k);
  if (sw.length !== 1) throw new Error(`expected one ServiceWorker thread in the trace, found ${sw.length}`);
  const out = { lazyFunctions: 0 };
  for (const k of Object.keys(EVENTS)) out[k] = 0;
  for (const e of events) {
    if (e.ph !== 'X' || `${e.pid}/${e.tid}` !== sw[0]) continue;
    for (const [k, name] of Object.entries(EVENTS)) if (e.name === name) out[k] += e.dur / 1000;
    if (e.name === EVENTS.lazyCompile) out.lazyFunctions++;
  }
  return out;
}

// JS_FLAGS: V8 flags for the whole browser, for experiments (e.g. --no-wasm-lazy-compilation).
const jsFlags = process.env.JS_FLAGS ? [`--js-flags=${process.env.JS_FLAGS}`] : [];
const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...ARGS, ...jsFlags] });
const version = browser.version();
const results = {};
try {
  for (const name of NAMES) {
    const c = contenders().find((x) => x.name === name);
    if (!c) throw new Error(`no contender ${name}`);
    const server = await startServer();
    server.set('/', { body: '<!doctype html>home', headers: HTML });
    server.set('/favicon.ico', { body: 'icon', headers: { 'content-type': 'image/x-icon' } });
    server.set('/robots.txt', { body: 'User-agent: *\n', headers: { 'content-type': 'text/plain' } });
    server.set(PAGE, { body: '<!doctype html><main>cached copy</main>', headers: HTML });
    for (const [p, src] of Object.entries(c.files)) {
      server.set(p, { body: p === '/sw.js' ? TIMING_PRELUDE + TIMING_REPORT + src + '\n' + HEARTBEAT : src, headers: JS });
    }
    const beats = heartbeats(server);
    const reports = timingReports(server);
    const context = await browser.newContext();
    const page = await context.newPage();
    const workers = await serviceWorkers(context, page);
    await page.goto(server.origin + '/');
    await page.evaluate(async (p) => {
      await navigator.serviceWorker.register('/sw.js');
      await navigator.serviceWorker.ready;
      // The floor stores nothing itself: the page is put in its cache.
      await (await caches.open('c')).add(p);
    }, PAGE);
    await page.goto(server.origin + PAGE); // the others store it on this visit
    await page.goto(server.origin + PAGE);
    const rows = { traced: [], untraced: [] };
    for (let i = 0; i < 2 * N; i++) {
      const traced = i % 2 === 0;
      await page.goto('about:blank');
      await workers.stopAll();
      const before = beats.last();
      if (traced) await browser.startTracing(undefined, { categories: CATEGORIES });
      await page.goto(server.origin + PAGE);
      await waitFor(() => beats.last() !== before, `${name}: a new instance`, 5000, 5);
      const t = await waitFor(() => reports.get(beats.last()), `${name}: its timing report`, 5000, 5);
      const row = { answer: t.bench.firstAnswer };
      if (traced) Object.assign(row, workerEvents((await browser.stopTracing()).toString('utf8')));
      rows[traced ? 'traced' : 'untraced'].push(row);
    }
    results[name] = rows;
    await context.close();
    await server.close();
  }
} finally {
  await browser.close();
}

const p50 = (rows, k) => percentile(rows.map((r) => r[k]), 50);
const fmt = (x) => (x == null ? '' : x.toFixed(2));
console.log(`Chromium ${version}${jsFlags.length ? ` (${jsFlags[0]})` : ''}, ${N} traced and ${N} untraced cold starts per contender; p50 ms on the ServiceWorker thread`);
console.log(['contender', 'answer (untraced)', 'answer (traced)', ...Object.keys(EVENTS), 'lazy functions'].join(' | '));
for (const [name, { traced, untraced }] of Object.entries(results)) {
  console.log([name, fmt(p50(untraced, 'answer')), fmt(p50(traced, 'answer')), ...Object.keys(EVENTS).map((k) => fmt(p50(traced, k))), p50(traced, 'lazyFunctions')].join(' | '));
}
