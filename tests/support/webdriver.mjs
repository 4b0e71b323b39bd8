// Firefox ESR and WebKit (WebKitGTK's MiniBrowser) through W3C WebDriver, with npm's
// selenium-webdriver as the client: geckodriver for Firefox, WebKitWebDriver (Debian's
// webkit2gtk-driver) under its own Xvfb for WebKit. One driver and one session per launch.
//
// The page objects it returns have the parts of playwright's Page the shared helpers use
// (goto, url, evaluate, waitForFunction, reload, hover, textContent), so register(),
// get(), cached(), message() and waitFor() in browser.mjs work unchanged in all engines.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Builder, By, Origin } from 'selenium-webdriver';
import firefox from 'selenium-webdriver/firefox.js';
import remote from 'selenium-webdriver/remote/index.js';
import portprober from 'selenium-webdriver/net/portprober.js';

export const FIREFOX = process.env.FIREFOX || '/usr/bin/firefox-esr';
// `./build.sh setup` builds it with `cargo install`: cargo's bin directory, else PATH.
export const GECKODRIVER = process.env.GECKODRIVER || firstExisting([
  path.join(process.env.CARGO_HOME || path.join(os.homedir(), '.cargo'), 'bin/geckodriver'),
  ...onPath('geckodriver'),
]);
export const WEBKITDRIVER = process.env.WEBKITDRIVER || firstExisting([...onPath('WebKitWebDriver'), '/usr/bin/WebKitWebDriver']);
export const MINIBROWSER = process.env.MINIBROWSER || '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';

function onPath(name) {
  return (process.env.PATH || '').split(path.delimiter).filter(Boolean).map((d) => path.join(d, name));
}
function firstExisting(list) {
  return list.find((p) => fs.existsSync(p)) || list[0];
}

/**
 * Firefox ESR 153 under geckodriver needs no special pref for service workers on
 * http://localhost (a potentially trustworthy origin). These two are the defaults, stated
 * so a changed default shows up here: the cold-start tests rely on caches that outlive a
 * worker, in an ordinary profile.
 */
export const FIREFOX_PREFS = {
  'dom.serviceWorkers.enabled': true,
  'browser.privatebrowsing.autostart': false,
  // Quiet, quick start: no first-run pages, updates, telemetry or remote settings traffic.
  'browser.shell.checkDefaultBrowser': false,
  'browser.startup.homepage_override.mstone': 'ignore',
  'app.update.enabled': false,
  'datareporting.policy.dataSubmissionEnabled': false,
  'toolkit.telemetry.reportingpolicy.firstRun': false,
  'browser.safebrowsing.malware.enabled': false,
  'browser.safebrowsing.phishing.enabled': false,
};

const log = (d) => { if (process.env.SWCACHE_WD_LOG) process.stderr.write(d); };

/** An X server of our own for MiniBrowser (GTK needs a display): Xvfb picks a free display number. */
async function startXvfb() {
  const proc = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', '1920x1200x24', '-nolisten', 'tcp'],
    { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
  proc.stderr.on('data', log);
  const exited = new Promise((r) => proc.once('exit', r));
  const display = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => { proc.kill(); reject(new Error('Xvfb did not report a display')); }, 15000);
    proc.stdio[3].on('data', (d) => {
      out += d;
      if (out.includes('\n')) { clearTimeout(timer); resolve(':' + out.trim()); }
    });
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`Xvfb exited (${code})`)); });
  });
  return { display, async stop() { proc.kill(); await exited; } };
}

/**
 * Starts a browser and one session. `engine`: 'firefox' | 'webkit'.
 * Firefox: `prefs` are added to FIREFOX_PREFS; `systemAccess` lets the session run
 * privileged script (geckodriver's chrome context), which stopWorkers() and workers() need:
 * Firefox has no CDP `ServiceWorker.stopAllWorkers`, but its service-worker manager can
 * terminate a worker. WebKit: MiniBrowser in automation mode (an ephemeral profile) on Xvfb.
 */
export async function launchWebDriver(engine, { prefs = {}, width = 1280, height = 800, systemAccess = false } = {}) {
  let driver, xvfb, service;
  if (engine === 'firefox') {
    const options = new firefox.Options().setBinary(FIREFOX).addArguments('-headless');
    for (const [k, v] of Object.entries({ ...FIREFOX_PREFS, ...(process.env.SWCACHE_WD_LOG ? { 'devtools.console.stdout.content': true } : {}), ...prefs })) {
      options.setPreference(k, v);
    }
    const builder = new firefox.ServiceBuilder(GECKODRIVER);
    if (systemAccess) builder.addArguments('--allow-system-access');
    if (process.env.SWCACHE_WD_LOG) builder.setStdio('inherit');
    driver = await new Builder().forBrowser('firefox').setFirefoxOptions(options).setFirefoxService(builder).build();
  } else if (engine === 'webkit') {
    xvfb = await startXvfb();
    try {
      const port = await portprober.findFreePort();
      service = new remote.DriverService(WEBKITDRIVER, {
        port,
        args: [`--port=${port}`],
        loopback: true,
        env: { ...process.env, DISPLAY: xvfb.display },
        stdio: process.env.SWCACHE_WD_LOG ? 'inherit' : 'ignore',
      });
      const url = await service.start(15000);
      driver = await new Builder().usingServer(url).withCapabilities({
        browserName: 'MiniBrowser',
        'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation'] },
      }).build();
    } catch (err) {
      await service?.kill();
      await xvfb.stop();
      throw err;
    }
  } else {
    throw new Error(`launchWebDriver: unknown engine ${engine}`);
  }
  await driver.manage().setTimeouts({ script: 60000, pageLoad: 30000, implicit: 0 });
  await driver.manage().window().setRect({ width, height });
  const caps = await driver.getCapabilities();

  // Each page is a window (a tab); commands go to the window last switched to.
  let currentHandle = await driver.getWindowHandle();
  const makePage = (handle) => {
    let current = 'about:blank';
    const focus = async () => {
      if (currentHandle !== handle) { await driver.switchTo().window(handle); currentHandle = handle; }
    };
    const page = {
      handle,
      /** Loads `url` and waits for its load event. */
      async goto(url) {
        await focus();
        await driver.get(url);
        current = await driver.getCurrentUrl();
      },
      /** The URL of the last navigation made through goto() or reload(). */
      url: () => current,
      /**
       * Runs `fn` (a function, serialised like playwright's evaluate) in the page with one
       * JSON argument; a returned promise is awaited (WebDriver's execute waits for it).
       */
      async evaluate(fn, arg) {
        await focus();
        const script = typeof fn === 'function' ? `return (${fn}).apply(null, arguments);` : `return (${fn});`;
        return driver.executeScript(script, ...(arg === undefined ? [] : [arg]));
      },
      /** Polls a page predicate until it is truthy (an error, as while a document unloads, counts as false). */
      async waitForFunction(fn, arg, timeout = 10000) {
        const deadline = Date.now() + timeout;
        let last;
        for (;;) {
          try { last = await page.evaluate(fn, arg); if (last) return last; } catch (e) { last = e; }
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${fn} (last: ${last})`);
          await new Promise((r) => setTimeout(r, 20));
        }
      },
      /**
       * Runs `trigger` in the page (a function that makes the document go away: a reload,
       * an update applied) and waits for the next document's load.
       */
      async navigatedBy(trigger, arg, timeout = 15000) {
        await page.evaluate(() => { window.__swcacheOldDocument = true; });
        await page.evaluate(trigger, arg);
        await page.waitForFunction(() => !window.__swcacheOldDocument && document.readyState === 'complete', undefined, timeout);
        current = await driver.getCurrentUrl();
      },
      /**
       * Reloads the page as a visitor does (location.reload()) and waits for the new
       * document's load. Not WebDriver's refresh: in Firefox that is a hard reload, which
       * bypasses the service worker (the reloaded page is not controlled).
       */
      reload(timeout = 15000) {
        return page.navigatedBy(() => { setTimeout(() => location.reload(), 0); }, undefined, timeout);
      },
      /** The text of the first element matching `selector` (null if none). */
      textContent(selector) {
        return page.evaluate((s) => { const el = document.querySelector(s); return el ? el.textContent : null; }, selector);
      },
      /** Moves the mouse onto the centre of the first element matching `selector`. */
      async hover(selector) {
        await focus();
        const el = await driver.findElement(By.css(selector));
        // From the corner first: a pointer already resting where the element now is
        // (after a reload) would not move, and so would not enter it.
        await driver.actions().move({ x: 0, y: 0, origin: Origin.VIEWPORT, duration: 0 })
          .move({ x: 0, y: 0, origin: el, duration: 0 }).perform();
      },
      /** Moves the mouse to viewport coordinates. */
      async mouseMove(x, y) {
        await focus();
        await driver.actions().move({ x, y, origin: Origin.VIEWPORT, duration: 0 }).perform();
      },
      /** Closes this window (not the last one). */
      async close() {
        await focus();
        await driver.close();
        currentHandle = null;
        const [first] = await driver.getAllWindowHandles();
        await driver.switchTo().window(first);
        currentHandle = first;
      },
    };
    return page;
  };

  const page = makePage(currentHandle);

  // Privileged script, in Firefox's chrome context (needs systemAccess).
  async function chrome(script, args = []) {
    await driver.setContext(firefox.Context.CHROME);
    try {
      return await driver.executeScript(script, ...args);
    } finally {
      await driver.setContext(firefox.Context.CONTENT);
    }
  }
  const EACH_WORKER = `
    const swm = Cc['@mozilla.org/serviceworkers/manager;1'].getService(Ci.nsIServiceWorkerManager);
    const regs = swm.getAllRegistrations();
    const out = [];
    for (let i = 0; i < regs.length; i++) {
      const r = regs.queryElementAt(i, Ci.nsIServiceWorkerRegistrationInfo);
      const w = r.activeWorker;
      if (w) { ACTION; out.push({ scope: r.scope, script: w.scriptSpec, launchCount: w.launchCount, running: w.lifetimeDeadline > 0 }); }
    }
    return out;`;
  const firefoxWorkers = engine === 'firefox' && systemAccess ? {
    /** The active workers: `[{scope, script, launchCount, running}]`. */
    workers: () => chrome(EACH_WORKER.replace('ACTION', '')),
    /**
     * Terminates every active worker, as DevTools' stop does, and resolves once none is
     * running. The next event starts the worker afresh.
     */
    async stopWorkers(timeout = 10000) {
      await chrome(EACH_WORKER.replace('ACTION', 'w.terminateWorker()'));
      const deadline = Date.now() + timeout;
      for (;;) {
        const list = await chrome(EACH_WORKER.replace('ACTION', ''));
        if (list.every((w) => !w.running)) return list;
        if (Date.now() > deadline) throw new Error('workers still running: ' + JSON.stringify(list));
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  } : {};

  return {
    engine,
    driver,
    page,
    /** A new window (tab) in the same session: same profile, so the same workers and caches. */
    async newPage() {
      await driver.switchTo().newWindow('tab');
      currentHandle = await driver.getWindowHandle();
      return makePage(currentHandle);
    },
    ...firefoxWorkers,
    capabilities: caps,
    browserVersion: caps.get('browserVersion'),
    async close() {
      try { await driver.quit(); } catch {}
      await service?.kill();
      await xvfb?.stop();
    },
  };
}

/** geckodriver's version line, e.g. "geckodriver 0.37.1" (WebKitWebDriver has no --version). */
export async function geckodriverVersion() {
  const p = spawn(GECKODRIVER, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  p.stdout.on('data', (d) => { out += d; });
  await new Promise((r) => p.once('exit', r));
  return out.split('\n')[0].trim();
}
