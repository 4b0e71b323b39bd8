// The CDP ServiceWorker domain for the benchmarks that need real cold starts in Chromium
// (main.mjs, cold-probe.mjs, navigation-preload.mjs): every worker version's state, and
// stopping every worker, waiting until each activated one says 'stopped'.
import { waitFor } from '../tests/support/browser.mjs';

/**
 * A CDP session on `page` with the ServiceWorker domain enabled: `running` (versionId →
 * { scriptURL, runningStatus, status }), the origins whose worker left 'stopped' since
 * `woke` was last cleared, per origin how many times its worker started and stopped, and
 * `stopAll(atLeast)`: stops every worker and waits until at least `atLeast` activated
 * versions are known and all of them are stopped.
 */
export async function serviceWorkers(ctx, page) {
  const cdp = await ctx.newCDPSession(page);
  const running = new Map();
  const woke = new Set();
  const starts = new Map();
  const stops = new Map();
  const bump = (m, k) => m.set(k, (m.get(k) || 0) + 1);
  cdp.on('ServiceWorker.workerVersionUpdated', ({ versions }) => {
    for (const v of versions) {
      const was = running.get(v.versionId)?.runningStatus;
      running.set(v.versionId, v);
      const origin = new URL(v.scriptURL).origin;
      if (v.runningStatus !== 'stopped') woke.add(origin);
      if (was === 'stopped' && v.runningStatus !== 'stopped') bump(starts, origin);
      if (was && was !== 'stopped' && v.runningStatus === 'stopped') bump(stops, origin);
    }
  });
  await cdp.send('ServiceWorker.enable');
  const activated = () => [...running.values()].filter((v) => v.status === 'activated');
  const statusOf = (origin) => activated().filter((v) => new URL(v.scriptURL).origin === origin).map((v) => v.runningStatus)[0];
  const allStopped = (atLeast = 1) => {
    const vs = activated();
    return vs.length >= atLeast && vs.every((v) => v.runningStatus === 'stopped');
  };
  async function stopAll(atLeast = 1) {
    await cdp.send('ServiceWorker.stopAllWorkers');
    await waitFor(() => allStopped(atLeast), 'every worker stopped', 10000, 2);
  }
  return { cdp, running, woke, starts, stops, statusOf, stopAll, count: (m, origin) => m.get(origin) || 0 };
}
