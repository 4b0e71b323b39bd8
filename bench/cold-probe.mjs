// Where a cold start goes inside the worker, for one or more builds of swcache-sw.js side
// by side in one headless Chromium: a developer's A/B tool for a change to the engine, the
// shim or the build (./build.sh bench measures the product against the other contenders).
//
//   node bench/cold-probe.mjs dist/swcache-sw.js /tmp/other-build/swcache-sw.js
//   ROUNDS=30 (cold starts per build, interleaved)
//   CHROMIUM_FLAGS='--js-flags=--no-wasm-lazy-compilation' (extra browser flags: with this
//   one every wasm function is compiled before the first call, which separates compiling
//   the start path from running it)
//
// Each build gets its own origin, the benchmark's config and timing prelude
// (bench/workers.mjs: the script start, the first fetch event, the moment the promise
// given to respondWith settles) and a last line in /sw.js noting the end of evaluation;
// the engine's own self.swcache.timing adds its compile, instantiate and start() steps.
// Before each sample every worker is stopped (CDP ServiceWorker.stopAllWorkers,
// verified), and the timings are read from a fresh instance (checked). Prints p50 milliseconds per build and step.
import fs from 'node:fs';
import { chromium } from 'playwright-core';
import { startServer } from '../tests/support/server.mjs';
import { waitFor, ARGS, CHROMIUM } from '../tests/support/browser.mjs';
import { JS } from '../tests/support/worker.mjs';
import { contenders, TIMING_PRELUDE } from './workers.mjs';
import { summary } from './stats.mjs';
import { serviceWorkers } from './cdp.mjs';

const builds = process.argv.slice(2);
if (!builds.length) throw new Error('usage: node bench/cold-probe.mjs <swcache-sw.js> [more builds]');
const ROUNDS = Number(process.env.ROUNDS || 30);
const FLAGS = (process.env.CHROMIUM_FLAGS || '').split(' ').filter(Boolean);
const PAGE = '/promo/summer-sale';
const STEPS = {
  // from self.benchTiming (/sw.js: the benchmark's prelude, then the end of evaluation)
  evaluation: (p) => p.end - p.evaluated,
  'end of evaluation → fetch event': (p) => p.firstFetch - p.end,
  'fetch event → response': (p) => p.firstAnswer - p.firstFetch,
  'script start → response': (p) => p.firstAnswer - p.evaluated,
  // from self.swcache.timing (the shim)
  'wasm bytes and compile': (_, t) => t.compiled - t.evaluated,
  instantiate: (_, t) => t.instantiated - t.compiled,
  'start()': (_, t) => t.started - t.instantiated,
};

const swcache = contenders().find((c) => c.name === 'swcache');
const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...ARGS, ...FLAGS] });
const ctx = await browser.newContext();
const html = { 'content-type': 'text/html; charset=utf-8' };
const arms = [];
try {
  for (const file of builds) {
    const server = await startServer();
    server.set('/', { body: 'home', headers: html });
    server.set('/favicon.ico', { body: 'icon', headers: { 'content-type': 'image/x-icon' } });
    server.set('/robots.txt', { body: 'User-agent: *\n', headers: { 'content-type': 'text/plain' } });
    server.set('/probe.html', { body: '<!doctype html><title>probe</title>probe', headers: html });
    server.set(PAGE, { body: '<!doctype html><title>page</title>' + 'x'.repeat(15000), headers: html });
    server.set('/sw.js', { body: TIMING_PRELUDE + swcache.files['/sw.js'] + '\nbenchTiming.end = performance.now();\n', headers: JS });
    server.set('/swcache/swcache-sw.js', { body: fs.readFileSync(file, 'utf8'), headers: JS });
    const page = await ctx.newPage();
    await page.goto(server.origin + '/probe.html');
    await page.evaluate(async () => { await navigator.serviceWorker.register('/sw.js'); await navigator.serviceWorker.ready; });
    await page.reload();
    await waitFor(() => page.evaluate(() => !!navigator.serviceWorker.controller), `${file}: the page controlled`);
    await page.evaluate((u) => fetch(u).then((r) => r.text()), PAGE);
    await waitFor(() => page.evaluate((u) => caches.match(u).then((r) => !!r), PAGE), `${file}: the page stored`);
    arms.push({ file, server, page, samples: [] });
  }
  const sw = await serviceWorkers(ctx, arms[0].page);
  for (let r = 0; r < ROUNDS; r++) {
    for (const a of r % 2 ? [...arms].reverse() : arms) {
      await sw.stopAll(arms.length);
      const ms = await a.page.evaluate(async (u) => {
        const t0 = performance.now();
        await (await fetch(u)).text();
        return performance.now() - t0;
      }, PAGE);
      // A fresh instance has no mark yet; the mark is set once its answer is timed.
      const { p, t } = await waitFor(async () => {
        const w = ctx.serviceWorkers().find((x) => new URL(x.url()).origin === a.server.origin);
        return w?.evaluate(() => {
          if (self.probeRead || !self.benchTiming.firstAnswer) return null;
          self.probeRead = true;
          return { p: self.benchTiming, t: self.swcache.timing };
        });
      }, `${a.file}: the timings of a fresh worker`, 5000, 5);
      const sample = { 'page fetch': ms };
      for (const [k, f] of Object.entries(STEPS)) sample[k] = f(p, t);
      a.samples.push(sample);
    }
  }
  const out = {};
  for (const a of arms) {
    out[a.file] = Object.fromEntries(Object.keys(a.samples[0]).map((k) => [k, Math.round(summary(a.samples.map((s) => s[k])).p50 * 100) / 100]));
  }
  console.log(JSON.stringify({ rounds: ROUNDS, flags: FLAGS, p50: out }, null, 2));
} finally {
  await browser.close();
  for (const a of arms) await a.server.close();
}
