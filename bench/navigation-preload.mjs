// Navigation preload, measured: navigations to a networkFirst route whose origin takes
// 30 ms to answer, with `navigationPreload: true` and without, side by side in one
// Chromium, with the worker stopped before each navigation (where preload matters: the
// request starts while the worker boots) and with it running. Prints JSON:
// { cold: {off, on}, warm: {off, on} } with {n, p50, p95} of responseEnd (ms from the
// navigation's start, Navigation Timing), and the origin's request counts.
import { startServer } from '../tests/support/server.mjs';
import { launch, waitFor } from '../tests/support/browser.mjs';
import { workerSource, JS } from '../tests/support/worker.mjs';
import { summary } from './stats.mjs';
import { serviceWorkers } from './cdp.mjs';

const SAMPLES = Number(process.env.NAV_SAMPLES || 25);
const ORIGIN_MS = 30;

function config(preload) {
  return `{ version: 'v1', navigationPreload: ${preload},
    routes: [{ name: 'news', match: '/news/', strategy: 'networkFirst', networkTimeout: 3000, maxAge: 60e3 }] }`;
}

async function arm(chrome, preload) {
  const server = await startServer();
  server.set('/sw.js', { body: workerSource(config(preload)), headers: JS });
  server.prefix('/news/', { body: '<!doctype html><title>news</title><h1>news</h1>', delay: ORIGIN_MS, headers: { 'content-type': 'text/html' } });
  const context = await chrome.newContext();
  const page = await context.newPage();
  const sw = await serviceWorkers(context, page);
  await page.goto(server.origin + '/harness.html');
  await page.evaluate(async () => {
    await navigator.serviceWorker.register('/sw.js');
    await navigator.serviceWorker.ready;
  });
  await page.reload();
  await waitFor(() => page.evaluate(() => !!navigator.serviceWorker.controller), 'controlled');
  const enabled = await page.evaluate(async () => (await (await navigator.serviceWorker.ready).navigationPreload.getState()).enabled);
  if (enabled !== preload) throw new Error(`navigation preload is ${enabled}, expected ${preload}`);
  return {
    server, context, page,
    stop: () => sw.stopAll(1),
    async navigate(i) {
      await page.goto(`${server.origin}/news/${i}`);
      return page.evaluate(() => {
        const nav = performance.getEntriesByType('navigation')[0];
        return { ms: nav.responseEnd - nav.startTime, controlled: !!navigator.serviceWorker.controller };
      });
    },
  };
}

async function main() {
  const chrome = await launch();
  const arms = { off: await arm(chrome, false), on: await arm(chrome, true) };
  const out = { originMs: ORIGIN_MS, cold: {}, warm: {}, requests: {} };
  const times = { cold: { off: [], on: [] }, warm: { off: [], on: [] } };
  for (const a of Object.values(arms)) a.server.resetCounts();
  let n = 0;
  for (let i = 0; i < SAMPLES; i++) {
    // Alternate which arm goes first, so drift hits both alike.
    const order = i % 2 ? ['on', 'off'] : ['off', 'on'];
    for (const k of order) {
      await arms[k].stop();
      const cold = await arms[k].navigate(n++);
      const warm = await arms[k].navigate(n++);
      if (!cold.controlled || !warm.controlled) throw new Error('a navigation was not controlled');
      times.cold[k].push(cold.ms);
      times.warm[k].push(warm.ms);
    }
  }
  for (const kind of ['cold', 'warm']) for (const k of ['off', 'on']) out[kind][k] = summary(times[kind][k]);
  for (const [k, a] of Object.entries(arms)) {
    out.requests[k] = { navigations: 4 * SAMPLES / 2, originRequests: a.server.countPrefix('/news/') };
    await a.context.close();
    await a.server.close();
  }
  await chrome.close();
  console.log(JSON.stringify(out));
}

main().catch((e) => { console.error('navigation-preload bench failed:', e); process.exit(1); });
