// The benchmark in three engines: the floor worker, Workbox 7 and swcache (and swcache
// with `coldStart: 'router'` where the Static Routing API exists: Chromium) in headless
// Chromium, headless Firefox ESR and WebKit (WebKitGTK's MiniBrowser), through the tests'
// harness. Per engine and contender: a cache hit (fetch() from a controlled page), a cold
// start (a navigation to a cached page with the worker verified stopped) and the same
// navigation warm. Writes bench/engines-results.json; engines-report.mjs renders it.
// `node bench/engines.mjs [chromium|firefox|webkit ...]` runs only those engines.
//
// A cold start has to be measured the same way in the three engines, and WebKitGTK sets
// the method: it runs the worker inside the page's web process, offers no way to stop it,
// and stops it itself a few seconds after the last page of its origin has gone (never
// while one is open). So every cold sample is a navigation from about:blank:
//   - Chromium stops the worker through CDP, Firefox through its service-worker manager;
//     in WebKit the tab sits on about:blank until WebKit has stopped it;
//   - in all three, each worker appends a heartbeat (a fetch every 100 ms carrying a
//     random id per instance): before a sample the contender's heartbeats have been
//     silent for 400 ms (the worker is stopped), after it a new id beats (a new instance
//     answered; for the router contender, Navigation Timing's workerMatchedSourceType is
//     'cache': the browser's router answered, though Chromium starts the worker as well);
//   - the server serves a different body once the cache is warm, so the page must show
//     the cached copy (Chromium and WebKit also send the navigation to the network
//     themselves while the worker starts; the count of requests is not the evidence here).
// The time is the navigation's responseEnd (Navigation Timing: from the navigation's
// start to the last byte of the 15 KB page), which includes starting the worker. The tab
// waits between samples on a plain page, not the cross-origin isolated one the hits are
// timed in: in WebKit, a navigation from about:blank after such a page got a document
// whose time origin came 200-400 ms after the worker had started and answered
// (responseStart negative), so responseEnd missed the whole cold start. Inside
// the worker, every contender's /sw.js starts with the main bench's TIMING_PRELUDE and
// TIMING_REPORT: each new instance sends its steps to its first answer (and swcache its
// compile, instantiate and start()), the cold start's breakdown in every engine.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../tests/support/server.mjs';
import { waitFor } from '../tests/support/browser.mjs';
import { launchBrowser, HEARTBEAT, heartbeats, CAN } from '../tests/support/harness.mjs';
import { JS } from '../tests/support/worker.mjs';
import { contenders, TIMING_PRELUDE, TIMING_REPORT, timingReports, coldSteps, coldBreakdown } from './workers.mjs';
import { summary, columns } from './stats.mjs';
import { writeSection } from './engines-report.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const RESULTS = path.join(HERE, 'engines-results.json');

const PLAN = {
  hit: { rounds: 10, perRound: 20 },   // 200 fetches per contender and engine
  cold: { rounds: 15 },                 // 15 cold and 15 warm navigations per contender and engine
  quietMs: 400,                         // heartbeat silence that counts as stopped (4 missed beats)
};
const NAMES = ['floor', 'workbox', 'swcache', 'swcache-router', 'baseline'];
const PAGE_URL = '/promo/summer-sale';
const BENCH_PAGE = '/bench.html';
const PLAIN_PAGE = '/harness.html';
const CACHED = 'cached copy';
const PROMO_HTML = `<!doctype html><meta charset="utf-8"><title>Summer sale</title><link rel="icon" href="data:,"><main data-copy="${CACHED}">`
  + Array.from({ length: 150 }, (_, i) => `<p class="c${i % 7}">Offer ${i}: summer prices on item ${i * 31 % 997}.</p>`).join('\n')
  + '</main>';
const log = (...a) => console.log('[engines]', ...a);
function fail(msg) { throw new Error(msg); }

function serve(server, c) {
  const html = { 'content-type': 'text/html; charset=utf-8' };
  // Cross-origin isolated, so performance.now() is fine-grained in every engine.
  server.set(BENCH_PAGE, {
    body: '<!doctype html><meta charset="utf-8"><title>bench</title>bench',
    headers: { ...html, 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' },
  });
  server.set('/', { body: '<!doctype html><title>home</title>home', headers: html });
  server.set('/favicon.ico', { body: 'icon', headers: { 'content-type': 'image/x-icon' } });
  server.set('/robots.txt', { body: 'User-agent: *\n', headers: { 'content-type': 'text/plain' } });
  server.set(PAGE_URL, { body: PROMO_HTML, headers: html });
  const sw = (src) => TIMING_PRELUDE + TIMING_REPORT + src + '\n' + HEARTBEAT;
  for (const [p, src] of Object.entries(c.files)) server.set(p, { body: p === '/sw.js' ? sw(src) : src, headers: JS });
}

async function control(page, origin) {
  await page.goto(origin + BENCH_PAGE);
  const state = await page.evaluate(async () => {
    const reg = await navigator.serviceWorker.register('/sw.js');
    const w = reg.installing || reg.waiting || reg.active;
    return new Promise((resolve) => {
      const check = () => { if (w.state === 'redundant' || w.state === 'activated') resolve(w.state); };
      w.addEventListener('statechange', check);
      setTimeout(() => resolve('timeout in state ' + w.state), 20000);
      check();
    });
  });
  if (state !== 'activated') fail(`${origin}: worker install failed (${state})`);
  await page.goto(origin + BENCH_PAGE);
  if (!(await page.evaluate(() => !!navigator.serviceWorker.controller))) fail(`${origin}: page not controlled`);
}

function timeFetches(page, url, n) {
  return page.evaluate(async ([u, count]) => {
    const out = [];
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      const r = await fetch(u, { signal: AbortSignal.timeout(10000) });
      await r.arrayBuffer();
      out.push(performance.now() - t0);
      if (!r.ok) throw new Error(`${u}: HTTP ${r.status}`);
    }
    return out;
  }, [url, n]);
}

/** Navigates to the cached page; its Navigation Timing and whether the cached copy came. */
async function navigate(page, url) {
  try {
    await page.goto(url);
  } catch (e) {
    throw new Error(`navigating to ${url}: ${e.name}: ${e.message}`);
  }
  return page.evaluate((marker) => {
    const n = performance.getEntriesByType('navigation')[0];
    return {
      ms: n.responseEnd - n.startTime,
      responseStart: n.responseStart,
      workerStart: n.workerStart > 0 ? n.workerStart - n.startTime : null,
      cached: document.querySelector('main')?.dataset.copy === marker,
      controlled: !!navigator.serviceWorker.controller,
      // Chromium: which source of the Static Routing API answered ('cache': the browser's router).
      routerSource: n.workerMatchedSourceType || null,
    };
  }, CACHED);
}

const rotate = (list, k) => list.map((_, i) => list[(i + k) % list.length]);

async function runEngine(engine) {
  const b = await launchBrowser(engine, { systemAccess: true });
  const arms = [];
  try {
    return await measure(engine, b, arms);
  } finally {
    await b.close();
    for (const a of arms) await a.server.close();
  }
}

async function measure(engine, b, arms) {
  const first = await b.freshPage();
  for (const c of contenders().filter((x) => NAMES.includes(x.name))) {
    if (c.router && !CAN[engine].router) continue;
    // A tab per contender, kept on its origin between samples, so no worker stops unasked.
    const page = arms.length ? await b.newPage() : first;
    const server = await startServer();
    serve(server, c);
    const beats = heartbeats(server);
    const timings = timingReports(server);
    await control(page, server.origin);
    if (c.name === 'floor') await page.evaluate(async (u) => (await caches.open('floor')).add(u), PAGE_URL);
    await timeFetches(page, PAGE_URL, 3);
    await waitFor(() => page.evaluate(async (u) => !!(await caches.match(u)), PAGE_URL), `${engine} ${c.name}: page stored`);
    // From now on the network has other content: a sample showing it was not a cache hit.
    server.set(PAGE_URL, { body: '<!doctype html><main data-copy="network">from the network</main>', headers: { 'content-type': 'text/html' } });
    arms.push({ ...c, page, server, beats, timings, origin: server.origin, warmRequests: server.count(PAGE_URL) });
  }
  log(`${engine} ${b.version}: ${arms.map((a) => a.name).join(', ')} ready`);
  const out = { version: b.version, date: new Date().toISOString(), contenders: {} };
  for (const a of arms) out.contenders[a.name] = { hit: [], cold: [], warm: [], workerStart: [], steps: [], breakdown: [] };

  // Cache hits: fetch() from the contender's controlled (cross-origin isolated) page.
  for (let r = 0; r < PLAN.hit.rounds; r++) {
    for (const a of rotate(arms, r)) {
      out.contenders[a.name].hit.push(...await timeFetches(a.page, PAGE_URL, PLAN.hit.perRound));
    }
  }
  for (const a of arms) if (a.server.count(PAGE_URL) !== a.warmRequests) fail(`${engine} ${a.name}: a hit reached the server`);

  // Cold and warm navigations.
  const t0 = Date.now();
  for (let r = 0; r < PLAN.cold.rounds; r++) {
    for (const a of rotate(arms, r)) {
      const { page } = a;
      // The page checks that its origin's cache holds the page, then leaves. (WebKitGTK's
      // automation session keeps Cache Storage in memory only and drops a cache's entries
      // once no live context references the cache: without a reference from the page's
      // process, the worker that used the cache takes its entries along when it stops.)
      await page.goto(a.origin + PLAIN_PAGE);
      if (!(await page.evaluate((u) => caches.match(u).then((x) => !!x), PAGE_URL))) fail(`${engine} ${a.name}: the page is not cached before cold sample ${r}`);
      await page.goto('about:blank');
      if (b.stopWorkers) await b.stopWorkers();
      // WebKit: its own stop, a few seconds after the origin's last page went.
      await waitFor(() => a.beats.quietFor(PLAN.quietMs), `${engine} ${a.name}: worker stopped`, 30000, 20);
      const before = a.beats.last();
      const cold = await navigate(page, a.origin + PAGE_URL).catch((e) => fail(`${engine} ${a.name}, cold sample ${r}: ${e.message}`));
      if (!cold.cached || !cold.controlled) fail(`${engine} ${a.name}: the cold navigation was not served from the cache: ${JSON.stringify(cold)}`);
      if (!(cold.responseStart >= 0)) fail(`${engine} ${a.name}: the cold navigation's timing starts after its response (${JSON.stringify(cold)}): it does not measure the cold start`);
      if (a.router) {
        // Chromium starts the worker for a navigation into its scope even when its router
        // answers; the evidence that the router served the page is Navigation Timing's
        // workerMatchedSourceType.
        if (cold.routerSource !== 'cache') fail(`${engine} ${a.name}: the router did not serve the cold navigation (${cold.routerSource})`);
      } else {
        await waitFor(() => a.beats.last() !== before, `${engine} ${a.name}: a new worker instance`, 5000, 5);
        // Inside the new instance: its steps to the first answer (the cold navigation's).
        const id = a.beats.last();
        const t = await waitFor(() => a.timings.get(id), `${engine} ${a.name}: the new instance's timing report`, 5000, 5);
        out.contenders[a.name].steps.push(coldSteps(`${engine} ${a.name}`, t.bench));
        if (t.swcache) out.contenders[a.name].breakdown.push(coldBreakdown(`${engine} ${a.name}`, t.swcache));
      }
      const warm = await navigate(page, a.origin + PAGE_URL).catch((e) => fail(`${engine} ${a.name}, warm sample ${r}: ${e.message}`));
      if (!warm.cached) fail(`${engine} ${a.name}: the warm navigation was not served from the cache`);
      const x = out.contenders[a.name];
      x.cold.push(cold.ms);
      x.warm.push(warm.ms);
      if (cold.workerStart != null) x.workerStart.push(cold.workerStart);
      await page.goto(a.origin + PLAIN_PAGE);
    }
  }
  out.coldSeconds = Math.round((Date.now() - t0) / 1000);
  for (const [k, x] of Object.entries(out.contenders)) {
    out.contenders[k] = {
      hit: summary(x.hit), cold: summary(x.cold), warm: summary(x.warm), workerStart: x.workerStart.length ? summary(x.workerStart) : null,
      steps: columns(x.steps), breakdown: columns(x.breakdown),
    };
  }
  out.stopMethod = engine === 'chromium' ? 'CDP ServiceWorker.stopAllWorkers'
    : engine === 'firefox' ? "nsIServiceWorkerManager's terminateWorker()"
      : 'no page of the origin open until WebKit stopped the worker itself';
  return out;
}

async function main() {
  const which = process.argv.slice(2).length ? process.argv.slice(2) : ['chromium', 'firefox', 'webkit'];
  const t0 = Date.now();
  const prev = fs.existsSync(RESULTS) ? JSON.parse(fs.readFileSync(RESULTS, 'utf8')) : { engines: {} };
  // Engines not run this time keep their last results, each with its own date.
  const results = { plan: PLAN, page: PAGE_URL, ran: which, engines: { ...prev.engines } };
  for (const e of which) {
    log(e);
    results.engines[e] = await runEngine(e);
  }
  results.machine = { cpu: os.cpus()[0]?.model, cores: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), os: `${os.type()} ${os.release()}`, node: process.version };
  results.date = new Date().toISOString();
  results.wallSeconds = Math.round((Date.now() - t0) / 1000);
  fs.writeFileSync(RESULTS, JSON.stringify(results, null, 2) + '\n');
  writeSection(RESULTS);
  log(`wrote ${path.relative(process.cwd(), RESULTS)} and its section of BENCHMARKS.md in ${results.wallSeconds} s`);
  for (const [e, r] of Object.entries(results.engines)) {
    for (const [k, x] of Object.entries(r.contenders)) log(e, k, 'hit', x.hit.p50.toFixed(2), 'cold', x.cold.p50.toFixed(1), 'warm', x.warm.p50.toFixed(1));
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main().catch((e) => { console.error('engines bench failed:', e); process.exit(1); });
}
