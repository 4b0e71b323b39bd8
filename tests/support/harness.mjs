// The browser-neutral harness the browser suites share: one browser per test file, a
// fresh origin (a new test server on its own port: its own worker and caches) and a clean
// page per test, in Chromium (playwright-core, a fresh context per test as well), Firefox
// ESR (geckodriver) or WebKit (WebKitWebDriver), the last two through selenium-webdriver.
//
//   const t = useBrowser('webkit', { setup: (server) => server.set(...) });
//   test('…', async () => { await t.controlled(); … t.page … t.server … });
//
// A test that needs what only some engines have asks `t.can` (see CAN) and skips with the
// reason otherwise.
import { before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './server.mjs';
import { launch as launchChromium, register, cached, waitFor } from './browser.mjs';
import { launchWebDriver, geckodriverVersion } from './webdriver.mjs';

/**
 * What each engine offers the tests. `stopWorkers`: the harness can stop a service worker
 * and check it stopped (Chromium: CDP; Firefox: its service-worker manager; WebKitGTK runs
 * the worker inside the page's web process and offers no way to stop it). `router`: the
 * Static Routing API. `touch`: TouchEvent on a desktop page. `coldNavigationFetches`: a
 * navigation that has to start the worker also goes to the network, in parallel, whatever
 * the worker answers (Chromium's automatic preload while a worker boots; WebKit the same).
 * `mediaRanges`: a <video> asks for its file with a Range header (WebKitGTK's GStreamer
 * asks for the whole file first, without one, and needs no range once it gets it; Safari's
 * own media stack starts with a `bytes=0-1` probe).
 */
export const CAN = {
  chromium: { stopWorkers: true, router: true, touch: true, saveData: true, coldNavigationFetches: true, mediaRanges: true },
  firefox: { stopWorkers: true, router: false, touch: false, saveData: false, coldNavigationFetches: false, mediaRanges: true },
  webkit: { stopWorkers: false, router: false, touch: false, saveData: false, coldNavigationFetches: true, mediaRanges: false },
};

/** Starts `engine` with its options: {browser, page, newPage(), endTest(), stopWorkers?(), version}. */
export async function launchBrowser(engine, { systemAccess = false } = {}) {
  if (engine === 'chromium') {
    const chrome = await launchChromium();
    let context = null;
    let cdp = null;
    const status = new Map();
    const b = {
      engine,
      version: chrome.browser.version(),
      page: null,
      async freshPage() {
        context = await chrome.newContext();
        b.page = decorate(await context.newPage());
        status.clear();
        cdp = await context.newCDPSession(b.page);
        cdp.on('ServiceWorker.workerVersionUpdated', ({ versions }) => {
          for (const v of versions) status.set(v.versionId, v.runningStatus);
        });
        await cdp.send('ServiceWorker.enable');
        return b.page;
      },
      newPage: async () => decorate(await context.newPage()),
      setViewport: (width, height) => b.page.setViewportSize({ width, height }),
      async endTest() { await context?.close(); context = null; },
      /** Stops every worker (CDP) and resolves once each reports stopped. */
      async stopWorkers() {
        await cdp.send('ServiceWorker.stopAllWorkers');
        await waitFor(() => status.size > 0 && [...status.values()].every((s) => s === 'stopped'), 'every worker stopped');
      },
      close: () => chrome.close(),
    };
    return b;
  }
  const wd = await launchWebDriver(engine, { systemAccess });
  const extra = [];
  return {
    engine,
    version: wd.browserVersion + (engine === 'firefox' ? `, ${await geckodriverVersion()}` : ''),
    page: wd.page,
    driver: wd.driver,
    async freshPage() {
      await wd.driver.manage().window().setRect({ width: 1280, height: 800 });
      return wd.page;
    },
    /** The window's size (WebDriver sets the outer size; the media queries tested have room to spare). */
    setViewport: (width, height) => wd.driver.manage().window().setRect({ width, height }),
    async newPage() { const p = await wd.newPage(); extra.push(p); return p; },
    async endTest() {
      while (extra.length) await extra.pop().close();
      await wd.page.goto('about:blank');
    },
    workers: wd.workers,
    stopWorkers: wd.stopWorkers && (async () => { await wd.stopWorkers(); }),
    close: () => wd.close(),
  };
}

/**
 * Appended to a test worker: every 100 ms the instance (a random id) tells the server it
 * lives (a worker's own fetches do not go through its fetch handler, nor keep it alive).
 */
export const HEARTBEAT = `const swcacheInstance = Math.random().toString(36).slice(2);
setInterval(() => fetch('/heartbeat?' + swcacheInstance).catch(() => {}), 100);\n`;

/** Counts the heartbeats of HEARTBEAT on `server`: which instance beat last, and whether all went quiet. */
export function heartbeats(server) {
  let last = null, at = 0;
  server.set('/heartbeat', { handler: (_req, res, url) => { last = url.search.slice(1); at = Date.now(); res.writeHead(204); res.end(); } });
  return { last: () => last, quietFor: (ms) => at > 0 && Date.now() - at > ms };
}

/** playwright's Page with the two helpers the WebDriver page objects have. */
function decorate(page) {
  page.mouseMove = (x, y) => page.mouse.move(x, y);
  page.navigatedBy = async (trigger, arg, timeout = 15000) => {
    const loaded = page.waitForEvent('load', { timeout });
    await page.evaluate(trigger, arg);
    await loaded;
  };
  return page;
}

/**
 * Registers the hooks of a browser suite file and returns its context `t`: `t.page`,
 * `t.server` (fresh per test; `setup(server, t)` fills it in), `t.browser`, `t.can`, and
 * the steps most tests start with. Options: `systemAccess` (Firefox: privileged script,
 * for stopping workers).
 */
export function useBrowser(engine, { setup = null, systemAccess = false } = {}) {
  const t = {
    engine,
    can: CAN[engine],
    browser: null,
    page: null,
    server: null,
    /** Registers `sw` from the harness page and asserts the page is controlled. */
    async controlled(sw = '/sw.js') {
      const r = await register(t.page, t.server.origin, sw);
      assert.deepEqual(r, { ok: true }, `worker failed to control the page: ${JSON.stringify(r)}`);
    },
    /** Opens `path` (a page importing the page module as window.swcache, registering in window.ready). */
    async withPageModule(path = '/page.html') {
      await t.page.goto(t.server.origin + path);
      await t.page.waitForFunction(() => !!window.ready);
      const result = await t.page.evaluate(() => window.ready.then(() => 'registered', (e) => e.message));
      assert.equal(result, 'registered');
      await t.page.waitForFunction(() => !!navigator.serviceWorker.controller);
    },
    waitStored: (url, cacheName) => waitFor(() => cached(t.page, url, cacheName), `${url} stored`),
    /**
     * Stops the origin's worker and resolves once it has stopped. `beats`: heartbeats() of a
     * worker with HEARTBEAT appended, whose silence shows the worker stopped. Chromium and
     * Firefox stop it on request (and say when it has stopped). WebKitGTK offers no way to
     * stop a worker: it stops one itself a few seconds after the last page of its origin
     * went (and never while one is open), so the page leaves for about:blank and the
     * heartbeats are awaited to stop. The next page of the origin starts the worker afresh.
     */
    async stopWorkers(beats) {
      if (beats) await waitFor(() => beats.last(), 'the worker reports (a first heartbeat)');
      if (t.browser.stopWorkers) await t.browser.stopWorkers();
      else await t.page.goto('about:blank');
      if (beats) await waitFor(() => beats.quietFor(600), 'the worker stopped (no heartbeat for 600 ms)', 30000, 100);
      else if (!t.browser.stopWorkers) throw new Error(`${engine}: stopWorkers() needs the worker's heartbeats`);
    },
  };
  before(async () => {
    t.browser = await launchBrowser(engine, { systemAccess });
    console.log(`# ${engine} ${t.browser.version}`);
  });
  after(async () => { await t.browser?.close(); });
  beforeEach(async () => {
    t.server = await startServer();
    if (setup) await setup(t.server, t);
    t.page = await t.browser.freshPage();
  });
  afterEach(async () => {
    await t.browser.endTest();
    await t.server?.close();
    t.server = null;
  });
  return t;
}
