// DOMContentLoaded → first `swcache:hydrated` on the demo components page
// (/promo/components, dist/demo), in one headless Chromium against the demo server.
// Each sample is a fresh browser context: its first visit (no worker yet: the page, the
// page module and the scheduler come from the network) and then, once the worker
// controls it, a reload (everything from the worker's caches). Both from
// `domContentLoadedEventStart` of the navigation to `performance.now()` in the first
// `swcache:hydrated` listener (registered before any page script runs). Prints JSON:
// { first: {n, p50, p95}, repeat: {n, p50, p95}, samples }.
import { startDemo } from '../tests/support/demo-server.mjs';
import { launch, waitFor } from '../tests/support/browser.mjs';
import { summary } from './stats.mjs';

const SAMPLES = Number(process.env.HYDRATE_SAMPLES || 30);

async function visit(page, load) {
  await load();
  const ms = await waitFor(() => page.evaluate(() => window.firstHydratedAt !== undefined
    && window.firstHydratedAt - performance.getEntriesByType('navigation')[0].domContentLoadedEventStart), 'swcache:hydrated', 15000, 5);
  return ms;
}

async function main() {
  const demo = await startDemo(0);
  const chrome = await launch();
  const times = { first: [], repeat: [] };
  try {
    for (let i = 0; i < SAMPLES; i++) {
      const context = await chrome.newContext();
      const page = await context.newPage();
      await page.addInitScript(() => {
        document.addEventListener('swcache:hydrated', () => {
          if (window.firstHydratedAt === undefined) window.firstHydratedAt = performance.now();
        }, { capture: true });
      });
      times.first.push(await visit(page, () => page.goto(demo.origin + '/promo/components')));
      await waitFor(() => page.evaluate(() => !!navigator.serviceWorker.controller), 'the worker controls the page', 15000);
      // Let the worker finish its install's precache (the scheduler's files included).
      await page.evaluate(() => navigator.serviceWorker.ready);
      await page.waitForTimeout(300);
      times.repeat.push(await visit(page, () => page.reload()));
      if (!(await page.evaluate(() => !!navigator.serviceWorker.controller))) throw new Error('the repeat visit was not controlled');
      await context.close();
    }
  } finally {
    await chrome.close();
    await demo.close();
  }
  const round = (xs) => xs.map((x) => Math.round(x * 10) / 10);
  console.log(JSON.stringify({ first: summary(times.first), repeat: summary(times.repeat),
    samples: { first: round(times.first), repeat: round(times.repeat) } }));
}

main().catch((e) => { console.error('hydrate bench failed:', e); process.exit(1); });
