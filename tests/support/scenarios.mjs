// Test scenarios both browser suites run (tests/e2e/ in Chromium, tests/firefox/ in
// Firefox ESR) with their own page driver: the same steps and assertions, so the two
// suites cannot drift apart.
import assert from 'node:assert/strict';
import { get, cached, waitFor } from './browser.mjs';

/** The invalidation race selectors: [label, message fields, response headers]. */
export const RACES = [
  ['urls', { urls: ['/race/item?id=1'] }, {}],
  ['tags', { tags: ['race-tag'] }, { 'cache-tag': 'race-tag' }],
  ['prefixes', { prefixes: ['/race/'] }, {}],
];

/**
 * Three loops of fetches run through the worker while the content changes and an
 * invalidation is sent: no response whose request started after the DONE reply may carry
 * the old content. Needs the shared freshness config's race route (maxAge 250 ms: a copy
 * stored just before the change is still fresh when DONE arrives, so without the
 * invalidation this fails). `controlled()` registers the worker.
 */
export async function raceScenario({ page, server, controlled }, selector, headers) {
  let version = 1;
  const url = '/race/item?id=1';
  server.set(url, { body: () => `content v${version}`, delay: 15, headers });
  server.set('/race-switch', { handler: (req, res) => { version = 2; res.writeHead(200); res.end('switched'); } });
  await controlled();
  await get(page, url);
  await waitFor(() => cached(page, url), 'stored');
  await page.evaluate((u) => {
    window.race = { stop: false, results: [] };
    const loop = async () => {
      while (!window.race.stop) {
        const t0 = Date.now();
        const body = await fetch(u).then((r) => r.text());
        window.race.results.push({ t0, body });
      }
    };
    window.race.loops = Promise.all([loop(), loop(), loop()]);
  }, url);
  await waitFor(() => page.evaluate(() => window.race.results.length > 20), 'loop running');
  // The content changes and the invalidation is sent back to back, from the page: a
  // copy stored just before the change is still fresh (maxAge 250 ms) when DONE
  // arrives, so without the invalidation this test fails.
  const doneAt = await page.evaluate(async (sel) => {
    await fetch('/race-switch');
    const reg = await navigator.serviceWorker.ready;
    const ch = new MessageChannel();
    const reply = new Promise((r) => { ch.port1.onmessage = (e) => r(e.data); });
    reg.active.postMessage({ type: 'CACHE_INVALIDATION', timestamp: new Date().toISOString(), ...sel }, [ch.port2]);
    const d = await reply;
    if (d.type !== 'CACHE_INVALIDATION_DONE') throw new Error(JSON.stringify(d));
    return Date.now();
  }, selector);
  await waitFor(() => page.evaluate((t) => window.race.results.filter((r) => r.t0 > t).length >= 30, doneAt), 'requests after DONE');
  const after = await page.evaluate(async (t) => {
    window.race.stop = true;
    await window.race.loops;
    return window.race.results.filter((r) => r.t0 > t);
  }, doneAt);
  const old = after.filter((r) => r.body !== 'content v2');
  assert.equal(old.length, 0, `${old.length} of ${after.length} responses after DONE were old`);
  assert.ok(server.count(url) > 3, `the loops kept refetching (maxAge 250 ms): ${server.count(url)}`);
}
