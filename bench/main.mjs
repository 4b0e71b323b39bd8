// ./build.sh bench: the same pages, server and request mix through six contenders in
// one headless Chromium: no worker, the floor worker, the reference site's worker (bug fixed),
// Workbox 7, swcache, and swcache with its pages route served by the browser's router
// while the worker is stopped (`coldStart: 'router'`). Writes bench/results.json,
// BENCHMARKS.md and bench/chart.svg.
// Every figure is a distribution (p50/p95) and a ratio; nothing here asserts a time.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../tests/support/server.mjs';
import { launch, waitFor } from '../tests/support/browser.mjs';
import { JS } from '../tests/support/worker.mjs';
import { contenders, workerBytes, pageBytes, TIMING_PRELUDE, coldSteps, coldBreakdown } from './workers.mjs';
import { summary, columns, zipfTrace } from './stats.mjs';
import { writeReport } from './write-report.mjs';
import { serviceWorkers } from './cdp.mjs';
import { execFileSync } from 'node:child_process';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');

const PLAN = {
  hit: { rounds: 50, perRound: 20 },          // 1,000 samples of each URL per contender
  // 30 cold starts per contender; a router cold hit is watched this long afterwards for a
  // worker start (CDP events arrive asynchronously; a starting worker reports within ms).
  cold: { rounds: 30, routerSettleMs: 150 },
  networkFirst: { rounds: 10, perRound: 20 },  // 200 samples per contender
  zipf: { pages: 500, s: 1.0, length: 5000, seed: 20261124, maxEntries: 50, restartEvery: 500 },
  invalidation: { entries: 1000, reps: 5 },
};
const PAGE_URL = '/promo/summer-sale';
const IMAGE_URL = '/img/hero.png';
// The Zipf pages live under /promo/ too, so swcache-router's pages route serves them.
const ZIPF = '/promo/zipf/';
const ZIPF_RESTARTS = '/promo/zipf-restarts/';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let phase = 'setup';
function log(...a) { phase = a.join(' '); watchdog.refresh(); console.log('[bench]', ...a); }
// Nothing in a run may hang: every fetch has a timeout, and this names the phase that
// stalled. Each phase gets WATCHDOG_MS: the whole run took more than 8 min on a slower
// machine, where every phase still finished in minutes.
const WATCHDOG_MS = 8 * 60_000;
const watchdog = setTimeout(() => { console.error(`bench failed: no result after ${WATCHDOG_MS / 60000} min (phase: ${phase})`); process.exit(1); }, WATCHDOG_MS);
watchdog.unref();
function fail(msg) { throw new Error(msg); }
// A phase run as a child process: execFileSync blocks this process, so the watchdog's
// timer cannot fire while the child runs; the child gets the same bound itself.
const child = (script) => JSON.parse(execFileSync(process.execPath, [path.join(HERE, script)], { encoding: 'utf8', timeout: WATCHDOG_MS }));

// ~15 KB of promo HTML and a ~40 KB image: deterministic bytes.
const PROMO_HTML = '<!doctype html><meta charset="utf-8"><title>Summer sale</title><main>'
  + Array.from({ length: 150 }, (_, i) => `<p class="c${i % 7}">Offer ${i}: summer prices on item ${i * 31 % 997}.</p>`).join('\n')
  + '</main>';
const IMAGE = Buffer.alloc(40 * 1024, 0);
for (let i = 0; i < IMAGE.length; i++) IMAGE[i] = (i * 2654435761) >>> 24;
IMAGE.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

// The page the latency measurements run in. Cross-origin isolated, so performance.now()
// has 5 µs resolution instead of 100 µs (a cache hit takes about 2 ms). Cold starts are
// timed from a plain page instead: a worker woken by an isolated page starts in a process
// of its own, which adds ~6 ms to every contender and is not what most sites see.
const BENCH_PAGE = '/bench.html';
const PLAIN_PAGE = '/harness.html';

function serveContent(server, c) {
  const html = { 'content-type': 'text/html; charset=utf-8' };
  server.set(BENCH_PAGE, {
    body: '<!doctype html><meta charset="utf-8"><title>swcache bench</title>bench',
    headers: { ...html, 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' },
  });
  server.set('/', { body: '<!doctype html><title>home</title>home', headers: html });
  server.set('/favicon.ico', { body: 'icon', headers: { 'content-type': 'image/x-icon' } });
  server.set('/robots.txt', { body: 'User-agent: *\n', headers: { 'content-type': 'text/plain' } });
  server.set(PAGE_URL, { body: PROMO_HTML, headers: html });
  server.set(IMAGE_URL, { body: IMAGE, headers: { 'content-type': 'image/png' } });
  server.set('/api/v1/promo/featured-content', {
    body: (_req, url) => JSON.stringify({ id: url.searchParams.get('id'), items: ['a', 'b', 'c'] }),
    headers: { 'content-type': 'application/json' },
  });
  for (const p of [ZIPF, ZIPF_RESTARTS]) {
    server.prefix(p, { body: (req) => `<!doctype html><title>${req.url}</title>` + 'z'.repeat(2000), headers: html });
  }
  server.prefix('/bulk/', { body: (req) => `bulk ${req.url} ` + 'b'.repeat(500), headers: html });
  for (const [p, src] of Object.entries(c.files)) server.set(p, { body: p === '/sw.js' ? TIMING_PRELUDE + src : src, headers: JS });
}

/** Registers /sw.js and waits (never forever) until it controls a freshly loaded page. */
async function control(page, origin) {
  await page.goto(origin + BENCH_PAGE);
  const state = await page.evaluate(async () => {
    const reg = await navigator.serviceWorker.register('/sw.js');
    const w = reg.installing || reg.waiting || reg.active;
    return new Promise((resolve) => {
      const check = () => {
        if (w.state === 'redundant') resolve('redundant');
        else if (w.state === 'activated') resolve('activated');
      };
      w.addEventListener('statechange', check);
      setTimeout(() => resolve('timeout in state ' + w.state), 20000);
      check();
    });
  });
  if (state !== 'activated') fail(`${origin}: worker install failed (${state})`);
  await page.goto(origin + BENCH_PAGE); // a navigation after activation is controlled
  if (!(await page.evaluate(() => !!navigator.serviceWorker.controller))) fail(`${origin}: page not controlled`);
  if (!(await page.evaluate(() => self.crossOriginIsolated))) fail(`${origin}: page not cross-origin isolated`);
}

/** Times `count` sequential fetches of each URL in `urls` (alternating) in the page. */
function timeFetches(page, urls, count) {
  return page.evaluate(async ([us, n]) => {
    const out = us.map(() => []);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < us.length; j++) {
        const u = typeof us[j] === 'string' ? us[j] : us[j].prefix + (us[j].start + i);
        const t0 = performance.now();
        const r = await fetch(u, { signal: AbortSignal.timeout(10000) });
        await r.arrayBuffer();
        out[j].push(performance.now() - t0);
        if (!r.ok) throw new Error(`${u}: HTTP ${r.status}`);
      }
    }
    return out;
  }, [urls, count]);
}

function rotate(list, k) { return list.map((_, i) => list[(i + k) % list.length]); }

async function main() {
  const t0 = Date.now();
  const list = contenders();
  const chrome = await launch();
  const ctx = await chrome.newContext();
  const arms = [];
  for (const c of list) {
    const server = await startServer();
    serveContent(server, c);
    const page = await ctx.newPage();
    let plainPage = null;
    if (c.files['/sw.js']) {
      await control(page, server.origin);
      plainPage = await ctx.newPage();
      await plainPage.goto(server.origin + PLAIN_PAGE);
      if (!(await plainPage.evaluate(() => !!navigator.serviceWorker.controller))) fail(`${c.name}: plain page not controlled`);
    } else {
      await page.goto(server.origin + BENCH_PAGE);
    }
    arms.push({ ...c, server, page, plainPage, origin: server.origin, bytes: workerBytes(c) });
    log(`${c.name} ready on ${server.origin}`);
  }
  const byName = Object.fromEntries(arms.map((a) => [a.name, a]));
  const results = { plan: PLAN, contenders: {}, phaseSeconds: {} };
  for (const a of arms) results.contenders[a.name] = { bytes: a.bytes };
  for (const a of arms.filter((x) => x.router)) {
    if (!PAGE_URL.startsWith(a.router) || !ZIPF.startsWith(a.router) || !ZIPF_RESTARTS.startsWith(a.router)) {
      fail(`${a.name}: the sample URLs must live under its router prefix ${a.router}`);
    }
  }
  const workers = arms.filter((a) => a.name !== 'none');
  const sw = await serviceWorkers(ctx, workers[0].page);
  const { cdp } = sw;
  let phaseStart = Date.now();
  const phaseDone = (name) => { results.phaseSeconds[name] = Math.round((Date.now() - phaseStart) / 100) / 10; phaseStart = Date.now(); };

  // Warm: the floor's cache is filled by the page; the others store on first fetch.
  await byName.floor.page.evaluate(async (urls) => (await caches.open('floor')).addAll(urls), [PAGE_URL, IMAGE_URL]);
  for (const a of arms) {
    for (let i = 0; i < 3; i++) await timeFetches(a.page, [PAGE_URL, IMAGE_URL], 1);
    if (a.name !== 'none') {
      await waitFor(() => a.page.evaluate(async (urls) => {
        for (const u of urls) if (!(await caches.match(u))) return false;
        return true;
      }, [PAGE_URL, IMAGE_URL]), `${a.name}: warm copies stored`);
    }
  }

  phaseDone('setup');

  // 1. Cache-hit latency, interleaved across contenders. (swcache-router's worker must
  // stay running throughout, or its router would answer instead of the worker.)
  log('hit latency');
  const hits = Object.fromEntries(arms.map((a) => [a.name, { page: [], image: [] }]));
  const before = Object.fromEntries(arms.map((a) => [a.name, a.server.count(PAGE_URL) + a.server.count(IMAGE_URL)]));
  const stopsBefore = Object.fromEntries(arms.map((a) => [a.name, sw.count(sw.stops, a.origin)]));
  for (let r = 0; r < PLAN.hit.rounds; r++) {
    for (const a of rotate(arms, r)) {
      const [p, i] = await timeFetches(a.page, [PAGE_URL, IMAGE_URL], PLAN.hit.perRound);
      hits[a.name].page.push(...p);
      hits[a.name].image.push(...i);
    }
  }
  for (const a of arms) {
    const served = a.server.count(PAGE_URL) + a.server.count(IMAGE_URL) - before[a.name];
    if (a.name !== 'none' && served !== 0) fail(`${a.name}: ${served} hit-phase requests reached the server`);
    const workerStops = sw.count(sw.stops, a.origin) - stopsBefore[a.name];
    if (a.router && workerStops) fail(`${a.name}: its worker stopped ${workerStops} times during the hit phase`);
    results.contenders[a.name].hit = {
      page: summary(hits[a.name].page), image: summary(hits[a.name].image), serverRequests: served, workerStops,
    };
  }
  phaseDone('hit');

  // 2. Cold start: every worker stopped, then the first hit through one contender. Each
  // sample is checked: for a router contender the hit came from Cache Storage without
  // starting the worker (CDP runningStatus stays 'stopped', the server saw nothing);
  // for the others the fetch started the worker and no request reached the server.
  // After each swcache sample its worker's self.swcache.timing gives the breakdown.
  log('cold start');
  // Playwright keeps one Worker per service-worker target across restarts (the target id
  // stays), evaluating in whichever instance runs; a mark left on the global tells a
  // fresh instance from one already read.
  const readTiming = (a) => waitFor(async () => {
    const w = ctx.serviceWorkers().find((x) => new URL(x.url()).origin === a.origin);
    return w?.evaluate(() => {
      const seen = !!self.__benchTimingRead;
      self.__benchTimingRead = true;
      return { seen, timing: self.swcache?.timing, bench: self.benchTiming };
    });
  }, `${a.name}: swcache.timing from its worker`, 5000, 5);
  const cold = Object.fromEntries(workers.map((a) => [a.name, []]));
  const parts = Object.fromEntries(workers.filter((a) => a.engine && !a.router).map((a) => [a.name, []]));
  const each = Object.fromEntries(workers.filter((a) => !a.router).map((a) => [a.name, []]));
  const coldBefore = Object.fromEntries(workers.map((a) => [a.name, a.server.count(PAGE_URL)]));
  for (let r = 0; r < PLAN.cold.rounds; r++) {
    for (const a of rotate(workers, r)) {
      await sw.stopAll(workers.length);
      sw.woke.clear();
      const servedBefore = a.server.count(PAGE_URL);
      const [[ms]] = await timeFetches(a.plainPage, [PAGE_URL], 1);
      if (a.router) {
        await sleep(PLAN.cold.routerSettleMs);
        const status = sw.statusOf(a.origin);
        if (sw.woke.has(a.origin) || status !== 'stopped') {
          fail(`${a.name}: the cold hit started the worker (runningStatus ${status}): the browser's router did not serve it`);
        }
      } else {
        await waitFor(() => sw.woke.has(a.origin), `${a.name}: the timed fetch to start its worker`, 3000, 2);
      }
      if (a.server.count(PAGE_URL) !== servedBefore) fail(`${a.name}: a cold-start request reached the server instead of the cache`);
      cold[a.name].push(ms);
      if (each[a.name]) {
        const { seen, timing, bench } = await readTiming(a);
        if (seen) fail(`${a.name}: the worker read after the cold sample is not a fresh instance`);
        each[a.name].push(coldSteps(a.name, bench));
        if (parts[a.name]) parts[a.name].push(coldBreakdown(a.name, timing));
      }
    }
  }
  for (const a of workers) {
    const served = a.server.count(PAGE_URL) - coldBefore[a.name];
    if (served !== 0) fail(`${a.name}: ${served} cold-start requests reached the server instead of the cache`);
    results.contenders[a.name].cold = { ...summary(cold[a.name]), serverRequests: served, ...(a.router ? { workerStarted: 0 } : {}) };
    if (parts[a.name]) results.contenders[a.name].coldBreakdown = columns(parts[a.name]);
    if (each[a.name]) results.contenders[a.name].coldSteps = columns(each[a.name]);
  }
  phaseDone('cold');

  // 3. networkFirst with a healthy network (the floor and seed: their own handling).
  log('networkFirst');
  for (const a of arms) await timeFetches(a.page, [{ prefix: '/api/v1/promo/featured-content?id=warm-', start: 0 }], 1);
  const nf = Object.fromEntries(arms.map((a) => [a.name, []]));
  let id = 0;
  for (let r = 0; r < PLAN.networkFirst.rounds; r++) {
    for (const a of rotate(arms, r)) {
      const [xs] = await timeFetches(a.page, [{ prefix: '/api/v1/promo/featured-content?id=', start: id }], PLAN.networkFirst.perRound);
      nf[a.name].push(...xs);
    }
    id += PLAN.networkFirst.perRound;
  }
  for (const a of arms) results.contenders[a.name].networkFirst = summary(nf[a.name]);
  phaseDone('networkFirst');

  // 4. Hit ratio on a seeded Zipf trace over 500 pages of a maxEntries: 50 route: once in
  // one worker lifetime (started before the run, checked not to stop during it), once
  // with every worker stopped each `restartEvery` requests (as browsers do after ~30 s
  // idle; swcache's usage record is in memory, Workbox's in IndexedDB). Each run uses
  // its own path so the first leaves nothing for the second. For swcache-router, nothing
  // in the second run wakes the worker: the browser's router answers every request.
  log('zipf hit ratio');
  const trace = zipfTrace({ n: PLAN.zipf.pages, s: PLAN.zipf.s, length: PLAN.zipf.length, seed: PLAN.zipf.seed });
  const runTrace = (a, prefix, ranks) => a.page.evaluate(async ([p, ks]) => {
    for (const k of ks) {
      const r = await fetch(p + k, { signal: AbortSignal.timeout(10000) });
      // A failure the worker answers itself never reaches the server: it would count as a hit.
      if (!r.ok) throw new Error(`${p + k}: HTTP ${r.status}`);
      await r.arrayBuffer();
    }
  }, [prefix, ranks]);
  const entriesUnder = (a, prefix) => a.page.evaluate(async (p) => {
    let n = 0;
    for (const name of await caches.keys()) {
      n += (await (await caches.open(name)).keys()).filter((r) => new URL(r.url).pathname.startsWith(p)).length;
    }
    return n;
  }, prefix);
  // The contenders run their traces at the same time (each its own sequence, on its own
  // origin; a hit ratio does not depend on timing, and it saves minutes).
  const storing = arms.filter((x) => x.stores);
  const every = PLAN.zipf.restartEvery;
  for (const a of storing) {
    a.server.resetCounts();
    await cdp.send('ServiceWorker.startWorker', { scopeURL: a.origin + '/' });
    await waitFor(() => sw.statusOf(a.origin) === 'running', `${a.name}: worker running before the Zipf run`, 10000, 2);
  }
  const stopsBefore1 = Object.fromEntries(storing.map((a) => [a.name, sw.count(sw.stops, a.origin)]));
  await Promise.all(storing.map((a) => runTrace(a, ZIPF, trace)));
  const lifetime = {};
  for (const a of storing) {
    if (sw.count(sw.stops, a.origin) !== stopsBefore1[a.name]) fail(`${a.name}: its worker stopped during the one-lifetime Zipf run`);
    lifetime[a.name] = { requests: a.server.countPrefix(ZIPF), entriesLeft: await entriesUnder(a, ZIPF) };
  }
  const startsBefore = Object.fromEntries(storing.map((a) => [a.name, sw.count(sw.starts, a.origin)]));
  for (let i = 0; i < trace.length; i += every) {
    await sw.stopAll(workers.length);
    await Promise.all(storing.map((a) => runTrace(a, ZIPF_RESTARTS, trace.slice(i, i + every))));
  }
  await sleep(50);
  for (const a of storing) {
    const { requests, entriesLeft } = lifetime[a.name];
    const withRestarts = a.server.countPrefix(ZIPF_RESTARTS);
    results.contenders[a.name].zipf = {
      requests, hitRatio: 1 - requests / trace.length, entriesLeft,
      restarts: {
        every, requests: withRestarts, hitRatio: 1 - withRestarts / trace.length,
        entriesLeft: await entriesUnder(a, ZIPF_RESTARTS), workerStarts: sw.count(sw.starts, a.origin) - startsBefore[a.name],
      },
    };
  }
  phaseDone('zipf');

  // 5. Invalidation of 1,000 entries: post -> DONE reply, and post -> no entry left in
  // any cache (polled from the page; each poll lists the keys, ~5-15 ms). swcache replies
  // DONE once reads can no longer see the entries and deletes them after; the
  // hand-written handlers reply after deleting. Repetitions interleave the contenders.
  log('invalidation');
  const bulk = Array.from({ length: PLAN.invalidation.entries }, (_, i) => `/bulk/${i}`);
  const countBulk = (a) => a.page.evaluate(async () => {
    let n = 0;
    for (const name of await caches.keys()) {
      n += (await (await caches.open(name)).keys()).filter((r) => new URL(r.url).pathname.startsWith('/bulk/')).length;
    }
    return n;
  });
  const invalidate = (a, msg) => a.page.evaluate(async (m) => {
    const bulkLeft = async () => {
      let n = 0;
      for (const name of await caches.keys()) {
        n += (await (await caches.open(name)).keys()).filter((r) => new URL(r.url).pathname.startsWith('/bulk/')).length;
      }
      return n;
    };
    const reg = await navigator.serviceWorker.ready;
    const ch = new MessageChannel();
    const t = performance.now();
    const reply = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no reply')), 30000);
      ch.port1.onmessage = (e) => { clearTimeout(timer); resolve(e.data); };
      reg.active.postMessage({ ...m, timestamp: new Date().toISOString() }, [ch.port2]);
    });
    const done = performance.now() - t;
    while ((await bulkLeft()) > 0) {
      if (performance.now() - t > 30000) throw new Error('entries still cached 30 s after the invalidation');
    }
    return { done, gone: performance.now() - t, reply };
  }, msg);
  const fill = (a) => (a.stores
    ? a.page.evaluate(async (urls) => {
      for (let i = 0; i < urls.length; i += 50) {
        await Promise.all(urls.slice(i, i + 50).map((u) => fetch(u, { signal: AbortSignal.timeout(10000) }).then((r) => r.arrayBuffer())));
      }
    }, bulk)
    : a.page.evaluate(async (urls) => (await caches.open('floor')).addAll(urls), bulk));
  const variants = [];
  // swcache-router is left out: its bulk route is an ordinary one, the same code as swcache.
  for (const a of arms.filter((x) => x.invalidates && !x.router)) variants.push({ arm: a, key: a.name, msg: { type: 'CACHE_INVALIDATION', urls: bulk } });
  variants.push({ arm: byName.swcache, key: 'swcache (prefixes)', msg: { type: 'CACHE_INVALIDATION', prefixes: ['/bulk/'] } });
  const runs = Object.fromEntries(variants.map((v) => [v.key, { done: [], gone: [], removed: [] }]));
  for (let rep = 0; rep < PLAN.invalidation.reps; rep++) {
    for (const v of rotate(variants, rep)) {
      await fill(v.arm);
      await waitFor(async () => (await countBulk(v.arm)) === bulk.length, `${v.key}: 1,000 entries stored`, 30000);
      const { done, gone, reply } = await invalidate(v.arm, v.msg);
      if (reply.type !== 'CACHE_INVALIDATION_DONE') fail(`${v.key}: ${JSON.stringify(reply)}`);
      runs[v.key].done.push(done);
      runs[v.key].gone.push(gone);
      runs[v.key].removed.push(reply.removed);
    }
  }
  const inv = {};
  for (const [k, r] of Object.entries(runs)) inv[k] = { ...summary(r.done), gone: summary(r.gone), removed: r.removed };
  results.invalidation = inv;
  phaseDone('invalidation');

  // The code a cold start runs before its first response (instrumented, in Node).
  results.pageBytes = pageBytes();
  log('navigation preload');
  results.navigationPreload = child('navigation-preload.mjs');
  log('start path');
  results.startPath = child('start-path.mjs');
  log('hydration on the demo components page');
  results.hydrate = child('hydrate.mjs');
  results.machine = {
    cpu: os.cpus()[0]?.model, cores: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`, node: process.version,
  };
  results.browser = `Chromium ${chrome.browser.version()}`;
  results.date = new Date().toISOString();
  results.wallSeconds = Math.round((Date.now() - t0) / 1000);
  await chrome.close();
  for (const a of arms) await a.server.close();

  fs.writeFileSync(path.join(HERE, 'results.json'), JSON.stringify(results, null, 2) + '\n');
  const md = writeReport(results, {
    markdown: path.join(ROOT, 'BENCHMARKS.md'), svg: path.join(HERE, 'chart.svg'), notesPath: path.join(HERE, 'notes.md'),
  });
  console.log(md);
  // Then the three engines (bench/engines.mjs, about 10 minutes: WebKit stops a worker only
  // seconds after its last page went): its own section of BENCHMARKS.md.
  clearTimeout(watchdog);
  log('three engines (bench/engines.mjs)');
  execFileSync(process.execPath, [path.join(HERE, 'engines.mjs')], { stdio: 'inherit' });
}

main().catch((e) => { console.error('bench failed:', e); process.exit(1); });
