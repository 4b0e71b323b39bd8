// DOMContentLoaded → first `swcache:hydrated` on the demo components page
// (/promo/components, dist/demo), in one headless Chromium against the demo server.
// Each sample is a fresh browser context: its first visit (no worker yet: the page, the
// page module and the scheduler come from the network) and then, once the worker
// controls it, a reload (everything from the worker's caches). Both from
// `domContentLoadedEventStart` of the navigation to `performance.now()` in the first
// `swcache:hydrated` listener (registered before any page script runs).
// For first visits, also each sample's times from navigation start: the first
// swcache:hydrated, DOMContentLoaded, the first contentful paint, and the animation frame
// after the first swcache:hydrated (the frame that paints it): whether the user sees
// skeletons before the first component is hydrated is the first paint's race with it.
// Beside each sample, two floors in fresh contexts of their own: the same page with its
// script (components.js) replaced by the least work any scheduler loaded after
// DOMContentLoaded must wait for, then one `swcache:hydrated` on the first component:
// `timer` one task (setTimeout 0), `fetch` reading the scheduler's wasm, which the page
// preloads, with fetch(). They show what this machine gives any page before a line of the
// scheduler runs. Prints JSON: { first, repeat, fromStart: {hydrated, dcl, fcp,
// hydratedFrame: {n, p50, p95}, beforePaint: how many first visits hydrated before the
// first contentful paint}, floors: {timer, fetch}: {n, p50, p95}, samples }.
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

/**
 * Loads the page; resolves to [DOMContentLoaded → first hydrated, then from navigation
 * start: first hydrated, DOMContentLoaded, first contentful paint, the frame after the
 * first hydrated].
 */
async function visit(page, load) {
  await load();
  return waitFor(() => page.evaluate(() => {
    const dcl = performance.getEntriesByType('navigation')[0].domContentLoadedEventStart;
    const fcp = performance.getEntriesByName('first-contentful-paint')[0]?.startTime;
    return window.firstHydratedFrame !== undefined && dcl > 0 && fcp > 0
      && [window.firstHydratedAt - dcl, window.firstHydratedAt, dcl, fcp, window.firstHydratedFrame];
  }), 'swcache:hydrated', 15000, 5);
}

async function main() {
  const demo = await startDemo(0);
  const chrome = await launch();
  const times = { first: [], repeat: [], timer: [], fetch: [], hydratedAt: [], dclAt: [], fcpAt: [], frameAt: [] };
  const fresh = async () => {
    const context = await chrome.newContext();
    const page = await context.newPage();
    await page.addInitScript(() => {
      document.addEventListener('swcache:hydrated', () => {
        if (window.firstHydratedAt !== undefined) return;
        window.firstHydratedAt = performance.now();
        // The next frame's animation callbacks: where the hydrated component is painted.
        requestAnimationFrame(() => { window.firstHydratedFrame = performance.now(); });
      }, { capture: true });
    });
    return { context, page };
  };
  try {
    for (let i = 0; i < SAMPLES; i++) {
      for (const [name, body] of Object.entries(FLOORS)) {
        const { context, page } = await fresh();
        await page.route('**/components.js', (r) => r.fulfill({ contentType: 'text/javascript', body }));
        times[name].push((await visit(page, () => page.goto(demo.origin + '/promo/components')))[0]);
        await context.close();
      }
      const { context, page } = await fresh();
      const [first, hydratedAt, dclAt, fcpAt, frameAt] = await visit(page, () => page.goto(demo.origin + '/promo/components'));
      times.first.push(first);
      times.hydratedAt.push(hydratedAt);
      times.dclAt.push(dclAt);
      times.fcpAt.push(fcpAt);
      times.frameAt.push(frameAt);
      await waitFor(() => page.evaluate(() => !!navigator.serviceWorker.controller), 'the worker controls the page', 15000);
      // Let the worker finish its install's precache (the scheduler's files included).
      await page.evaluate(() => navigator.serviceWorker.ready);
      await page.waitForTimeout(300);
      times.repeat.push((await visit(page, () => page.reload()))[0]);
      if (!(await page.evaluate(() => !!navigator.serviceWorker.controller))) throw new Error('the repeat visit was not controlled');
      await context.close();
    }
  } finally {
    await chrome.close();
    await demo.close();
  }
  const round = (xs) => xs.map((x) => Math.round(x * 10) / 10);
  console.log(JSON.stringify({ first: summary(times.first), repeat: summary(times.repeat),
    fromStart: { hydrated: summary(times.hydratedAt), dcl: summary(times.dclAt), fcp: summary(times.fcpAt), hydratedFrame: summary(times.frameAt),
      beforePaint: times.hydratedAt.filter((t, i) => t < times.fcpAt[i]).length },
    floors: { timer: summary(times.timer), fetch: summary(times.fetch) },
    samples: Object.fromEntries(Object.entries(times).map(([k, xs]) => [k, round(xs)])) }));
}

main().catch((e) => { console.error('hydrate bench failed:', e); process.exit(1); });
