// DOMContentLoaded → first `swcache:hydrated` on the demo components page
// (/promo/components, dist/demo), in one headless Chromium against the demo server.
// Each sample is a fresh browser context: its first visit (no worker yet: the page, the
// page module and the scheduler come from the network) and then, once the worker
// controls it, a reload (everything from the worker's caches). Both from
// `domContentLoadedEventStart` of the navigation to `performance.now()` in the first
// `swcache:hydrated` listener (registered before any page script runs).
// Beside each sample, two floors in fresh contexts of their own: the same page with its
// script (components.js) replaced by the least work any scheduler loaded after
// DOMContentLoaded must wait for, then one `swcache:hydrated` on the first component:
// `timer` one task (setTimeout 0), `fetch` reading the scheduler's wasm, which the page
// preloads, with fetch(). They show what this machine gives any page before a line of the
// scheduler runs. Prints JSON: { first, repeat, floors: {timer, fetch}: {n, p50, p95}, samples }.
import { startDemo } from '../tests/support/demo-server.mjs';
import { launch, waitFor } from '../tests/support/browser.mjs';
import { summary } from './stats.mjs';

const SAMPLES = Number(process.env.HYDRATE_SAMPLES || 30);

const HYDRATED = `const el = document.querySelector('[data-component-id]');
  el.querySelector('.body').textContent = 'floor';
  el.dispatchEvent(new CustomEvent('swcache:hydrated', { bubbles: true }));`;
const FLOORS = {
  timer: `setTimeout(() => { ${HYDRATED} }, 0);`,
  fetch: `fetch('/swcache/swcache-hydrate.wasm').then((r) => r.arrayBuffer()).then(() => { ${HYDRATED} });`,
};

async function visit(page, load) {
  await load();
  const ms = await waitFor(() => page.evaluate(() => window.firstHydratedAt !== undefined
    && window.firstHydratedAt - performance.getEntriesByType('navigation')[0].domContentLoadedEventStart), 'swcache:hydrated', 15000, 5);
  return ms;
}

async function main() {
  const demo = await startDemo(0);
  const chrome = await launch();
  const times = { first: [], repeat: [], timer: [], fetch: [] };
  const fresh = async () => {
    const context = await chrome.newContext();
    const page = await context.newPage();
    await page.addInitScript(() => {
      document.addEventListener('swcache:hydrated', () => {
        if (window.firstHydratedAt === undefined) window.firstHydratedAt = performance.now();
      }, { capture: true });
    });
    return { context, page };
  };
  try {
    for (let i = 0; i < SAMPLES; i++) {
      for (const [name, body] of Object.entries(FLOORS)) {
        const { context, page } = await fresh();
        await page.route('**/components.js', (r) => r.fulfill({ contentType: 'text/javascript', body }));
        times[name].push(await visit(page, () => page.goto(demo.origin + '/promo/components')));
        await context.close();
      }
      const { context, page } = await fresh();
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
    floors: { timer: summary(times.timer), fetch: summary(times.fetch) },
    samples: Object.fromEntries(Object.entries(times).map(([k, xs]) => [k, round(xs)])) }));
}

main().catch((e) => { console.error('hydrate bench failed:', e); process.exit(1); });
