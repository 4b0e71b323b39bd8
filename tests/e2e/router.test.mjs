// End-to-end: `coldStart: 'router'` routes (Chrome's Static Routing API). While the
// worker is stopped the browser serves their cached copies itself; expired entries are
// swept when the worker next runs.
import { test, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../support/server.mjs';
import { launch, register, get, cached, waitFor } from '../support/browser.mjs';
import { workerSource, routerConfig, JS } from '../support/worker.mjs';

let server, chrome, context, page, cdp;
const status = new Map(); // versionId -> runningStatus
let started = 0; // how many times a worker went to 'running'

before(async () => {
  server = await startServer();
  chrome = await launch();
});
after(async () => {
  await chrome?.close();
  await server?.close();
});
beforeEach(async () => {
  server.setOffline(false);
  server.resetCounts();
  for (const p of ['/', '/favicon.ico', '/robots.txt']) server.set(p, { body: `precached ${p}` });
  context = await chrome.newContext();
  page = await context.newPage();
  cdp = await context.newCDPSession(page);
  status.clear();
  started = 0;
  cdp.on('ServiceWorker.workerVersionUpdated', ({ versions }) => {
    for (const v of versions) {
      if (v.runningStatus === 'running' && status.get(v.versionId) !== 'running') started++;
      status.set(v.versionId, v.runningStatus);
    }
  });
  await cdp.send('ServiceWorker.enable');
});
afterEach(async () => {
  await context?.close();
});

async function stopWorkers() {
  await cdp.send('ServiceWorker.stopAllWorkers');
  await waitFor(() => status.size > 0 && [...status.values()].every((s) => s === 'stopped'), 'every worker stopped');
}

test('router: a cold hit is served from the cache without starting the worker', async () => {
  server.set('/sw.js', { body: workerSource(routerConfig('864e5')), headers: JS });
  server.set('/l/summer', { body: 'landing v1' });
  const r = await register(page, server.origin);
  assert.deepEqual(r, { ok: true });
  assert.equal((await get(page, '/l/summer')).body, 'landing v1');
  await waitFor(() => cached(page, '/l/summer', 'landing'), 'stored');
  await stopWorkers();
  const startsBefore = started;
  const cold = await get(page, '/l/summer');
  assert.equal(cold.body, 'landing v1');
  assert.ok(cold.stamp, 'the stored copy (stamped) was served');
  assert.equal(server.count('/l/summer'), 1, 'no request reached the server');
  assert.equal(started, startsBefore, 'the worker was not started for the cold hit');
  // A miss on a router path goes to the network, unseen by the worker: not stored.
  server.set('/l/winter', { body: 'winter' });
  assert.equal((await get(page, '/l/winter')).body, 'winter');
  assert.equal(started, startsBefore, 'nor for a miss');
  assert.equal(await cached(page, '/l/winter', 'landing'), null);
  // A running worker handles router paths itself: the miss is fetched and stored.
  assert.equal((await get(page, '/other')).status, 404); // wakes the worker
  await waitFor(() => started > startsBefore, 'the worker to start');
  await waitFor(async () => (await get(page, '/l/winter')) && cached(page, '/l/winter', 'landing'), 'the miss stored by the running worker');
});

test('router: expired entries are swept when the worker starts, so the router never serves them', async () => {
  server.set('/sw.js', { body: workerSource(routerConfig('400')), headers: JS });
  server.set('/l/flash', { body: 'flash v1' });
  assert.deepEqual(await register(page, server.origin), { ok: true });
  await get(page, '/l/flash');
  const first = await waitFor(() => cached(page, '/l/flash', 'landing'), 'stored');
  await waitFor(() => Date.now() - Date.parse(first.stamp) > 500, 'maxAge to pass');
  await stopWorkers();
  // Any request the worker handles starts it; after its first answer it sweeps.
  server.set('/page', { body: 'a page' });
  assert.equal((await get(page, '/page')).body, 'a page');
  await waitFor(async () => (await cached(page, '/l/flash', 'landing')) === null, 'the expired entry swept');
  server.set('/l/flash', { body: 'flash v2' });
  assert.equal((await get(page, '/l/flash')).body, 'flash v2');
});

test('router: a RegExp match cannot use the router, and the config error says so', async () => {
  server.set('/sw.js', {
    body: workerSource(`{ version: 'v1', routes: [{ name: 'landing', match: /^\\/l\\//, strategy: 'cacheFirst', coldStart: 'router' }] }`),
    headers: JS,
  });
  const errors = [];
  cdp.on('ServiceWorker.workerErrorReported', (e) => errors.push(e.errorMessage.errorMessage));
  const r = await register(page, server.origin);
  assert.equal(r.ok, false);
  const msg = await waitFor(() => errors.find((m) => m.includes('swcache config')), 'worker error reported');
  assert.match(msg, /route 'landing' \(routes\[0\]\) field 'coldStart' 'router' needs 'match' to be a path prefix/);
});
