// Headless Firefox (Debian's firefox-esr) through geckodriver, with a small W3C WebDriver
// client over HTTP: no npm dependency. One geckodriver and one session (its own
// temporary profile, removed when the session ends) per launch.
//
// The page object it returns has the parts of playwright's Page that the helpers in
// browser.mjs use (goto, url, evaluate), so register(), get(), cached(), message() and
// waitFor() work unchanged on Firefox.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const FIREFOX = process.env.FIREFOX || '/usr/bin/firefox-esr';
// `./build.sh setup` builds it with `cargo install`: cargo's bin directory, else PATH.
export const GECKODRIVER = process.env.GECKODRIVER || firstExisting([
  path.join(process.env.CARGO_HOME || path.join(os.homedir(), '.cargo'), 'bin/geckodriver'),
  ...(process.env.PATH || '').split(path.delimiter).filter(Boolean).map((d) => path.join(d, 'geckodriver')),
]);

function firstExisting(list) {
  return list.find((p) => fs.existsSync(p)) || list[0];
}

/**
 * Firefox ESR 153 under geckodriver needs no special pref for service workers on
 * http://localhost (a potentially trustworthy origin): they register with
 * `dom.serviceWorkers.testing.enabled` (insecure origins) off, and even in private
 * browsing. These two are the defaults, stated so a changed default shows up here: the
 * cold-start tests rely on caches that outlive a worker, in an ordinary profile.
 */
export const PREFS = {
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

const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';

/**
 * Starts geckodriver and a headless Firefox session. `prefs` are added to PREFS.
 * `systemAccess` lets the test run privileged script (geckodriver's chrome context),
 * which stopWorkers() and workers() need: Firefox has no CDP
 * `ServiceWorker.stopAllWorkers`, but its service-worker manager can terminate a worker.
 */
export async function launchFirefox({ prefs = {}, width = 1280, height = 800, systemAccess = false } = {}) {
  const proc = spawn(GECKODRIVER, ['--port', '0', '--websocket-port', '0', '--binary', FIREFOX,
    ...(systemAccess ? ['--allow-system-access'] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const keep = (d) => { log = (log + d).slice(-20000); if (process.env.SWCACHE_FF_LOG) process.stderr.write(d); };
  proc.stderr.on('data', keep);
  const exited = new Promise((r) => proc.once('exit', r));
  const base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { proc.kill(); reject(new Error('geckodriver did not start: ' + log)); }, 15000);
    proc.stdout.on('data', (d) => {
      keep(d);
      const m = /Listening on (\S+:\d+)/.exec(log);
      if (m) { clearTimeout(timer); resolve(`http://${m[1]}`); }
    });
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`geckodriver exited (${code}): ${log}`)); });
  });

  async function call(method, p, body) {
    const res = await fetch(base + p, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json().catch(() => ({ value: { error: 'bad response', message: `HTTP ${res.status}` } }));
    // An error is a non-2xx status (a script's own result may well have an `error` field).
    if (!res.ok) {
      const v = json.value || {};
      throw new Error(`WebDriver ${method} ${p}: ${v.error}: ${v.message}`);
    }
    return json.value;
  }

  let sid, caps;
  try {
    const created = await call('POST', '/session', {
      capabilities: {
        alwaysMatch: {
          browserName: 'firefox',
          acceptInsecureCerts: false,
          pageLoadStrategy: 'normal',
          timeouts: { script: 60000, pageLoad: 30000, implicit: 0 },
          'moz:firefoxOptions': {
            binary: FIREFOX,
            args: ['-headless'],
            // SWCACHE_FF_LOG=1: geckodriver's and the pages' console output on stderr.
            prefs: { ...PREFS, ...(process.env.SWCACHE_FF_LOG ? { 'devtools.console.stdout.content': true } : {}), ...prefs },
          },
        },
      },
    });
    sid = created.sessionId;
    caps = created.capabilities;
    await call('POST', `/session/${sid}/window/rect`, { width, height });
  } catch (err) {
    proc.kill();
    await exited;
    throw err;
  }
  const s = (p) => `/session/${sid}${p}`;

  let current = 'about:blank';
  const page = {
    /** Loads `url` and waits for its load event. */
    async goto(url) {
      await call('POST', s('/url'), { url });
      current = await call('GET', s('/url'));
    },
    /** The URL of the last navigation made through goto() or reload(). */
    url: () => current,
    /**
     * Reloads the page as a visitor does (location.reload()) and waits for the new
     * document's load. Not WebDriver's refresh: in Firefox that is a hard reload, which
     * bypasses the service worker (the reloaded page is not controlled).
     */
    async reload(timeout = 15000) {
      await page.evaluate(() => { window.__reloading = true; setTimeout(() => location.reload(), 0); });
      await page.waitForFunction(() => !window.__reloading && document.readyState === 'complete', undefined, timeout);
      current = await call('GET', s('/url'));
    },
    /**
     * Runs `fn` (a function, serialised like playwright's evaluate) in the page with one
     * JSON argument; a returned promise is awaited (WebDriver's execute waits for it).
     */
    evaluate(fn, arg) {
      const script = typeof fn === 'function' ? `return (${fn}).apply(null, arguments);` : `return (${fn});`;
      return call('POST', s('/execute/sync'), { script, args: arg === undefined ? [] : [arg] });
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
    /** Moves the mouse onto the centre of the first element matching `selector`. */
    async hover(selector) {
      const el = await call('POST', s('/element'), { using: 'css selector', value: selector });
      await call('POST', s('/actions'), {
        actions: [{ type: 'pointer', id: 'mouse', parameters: { pointerType: 'mouse' },
          // From the corner first: a pointer already resting where the element now is
          // (after a reload) would not move, and so would not enter it.
          actions: [{ type: 'pointerMove', duration: 0, origin: 'viewport', x: 0, y: 0 },
            { type: 'pointerMove', duration: 0, origin: { [ELEMENT]: el[ELEMENT] }, x: 0, y: 0 }] }],
      });
    },
    /** Moves the mouse to viewport coordinates. */
    async mouseMove(x, y) {
      await call('POST', s('/actions'), {
        actions: [{ type: 'pointer', id: 'mouse', parameters: { pointerType: 'mouse' },
          actions: [{ type: 'pointerMove', duration: 0, origin: 'viewport', x, y }] }],
      });
    },
  };

  // Privileged script, in the browser's chrome context (needs systemAccess).
  async function chrome(script, args = []) {
    await call('POST', s('/moz/context'), { context: 'chrome' });
    try {
      return await call('POST', s('/execute/sync'), { script, args });
    } finally {
      await call('POST', s('/moz/context'), { context: 'content' });
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

  return {
    page,
    /** The active workers: `[{scope, script, launchCount, running}]` (needs systemAccess). */
    workers: () => chrome(EACH_WORKER.replace('ACTION', '')),
    /**
     * Terminates every active worker, as DevTools' stop does, and resolves once none is
     * running (needs systemAccess). The next event starts the worker afresh.
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
    capabilities: caps,
    browserVersion: caps.browserVersion,
    log: () => log,
    async close() {
      try { await call('DELETE', s('')); } catch {}
      proc.kill();
      await exited;
    },
  };
}

/** geckodriver's version line, e.g. "geckodriver 0.37.1". */
export async function geckodriverVersion() {
  const p = spawn(GECKODRIVER, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  p.stdout.on('data', (d) => { out += d; });
  await new Promise((r) => p.once('exit', r));
  return out.split('\n')[0].trim();
}
