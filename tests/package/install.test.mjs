// The npm tarball as a site without Rust meets it: `npm install swcache-<version>.tgz`
// (offline: the package has no dependencies) into a scratch site, the files of
// node_modules/swcache/dist/ copied to where the site serves them (/swcache/), a 15-line
// sw.js and one <script type=module>, served by a tiny static server and opened in Chromium.
// Uses target/package/swcache-<version>.tgz (./build.sh package); packs it from dist/ when
// it is missing or older than dist/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';
import { cargoVersion } from '../../package/pack.mjs';
import { ROOT, installTarball, scratchProject } from './tarball.mjs';
import { launch, waitFor } from '../support/browser.mjs';
import { PROJECTS, copyChecks, tsc } from '../types/check.mjs';

// The README's quick start: the whole worker a site writes.
const SW_JS = `// sw.js, served from the site's root so its scope is the whole site
importScripts('/swcache/swcache-sw.js');
swcache.start({
  version: 'v1',              // a new version fetches the precache again and drops old caches
  precache: ['/', '/swcache/swcache-page.js', '/swcache/swcache-hydrate.js', '/swcache/swcache-hydrate.wasm'],
  routes: [                   // the first match wins
    { name: 'images', match: /\\.(png|jpe?g|gif|webp|svg)$/, strategy: 'cacheFirst',
      maxAge: 7 * 864e5, maxEntries: 200 },
    { name: 'data', match: '/api/', strategy: 'networkFirst', networkTimeout: 3000,
      maxAge: 5 * 60e3, maxEntries: 100 },
    { name: 'pages', match: /^\\/(?!api\\/|swcache\\/)/, strategy: 'cacheFirst',
      maxAge: 864e5, maxEntries: 50 },
  ],
});
`;

// One module script: the page module from where the site serves it, exposed to the test.
const INDEX_HTML = `<!doctype html><meta charset="utf-8"><title>scratch site</title><link rel="icon" href="data:,">
<h1>Scratch site</h1>
<a href="/promo/winter.html" data-prefetch>winter</a>
<div data-component-id="hero" data-component-type="HERO_BANNER" data-src="/api/hero.json">server-rendered</div>
<script type="module">
  import * as swcache from '/swcache/swcache-page.js';
  window.swcache = swcache;
  window.registered = swcache.register('/sw.js').then(() => !!navigator.serviceWorker.controller, (e) => 'register failed: ' + e.message);
</script>
`;

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.wasm': 'application/wasm',
  '.json': 'application/json', '.svg': 'image/svg+xml' };

let site, server, origin, chrome;
const counts = new Map();
const missing = []; // paths the server answered 404
const count = (p) => counts.get(p) || 0;

before(async () => {
  site = scratchProject('scratch-site');
  installTarball(site);
  const pub = path.join(site, 'public');
  fs.mkdirSync(path.join(pub, 'swcache'), { recursive: true });
  fs.mkdirSync(path.join(pub, 'promo'));
  fs.mkdirSync(path.join(pub, 'api'));
  for (const f of fs.readdirSync(path.join(site, 'node_modules/swcache/dist'))) {
    fs.copyFileSync(path.join(site, 'node_modules/swcache/dist', f), path.join(pub, 'swcache', f));
  }
  fs.writeFileSync(path.join(pub, 'sw.js'), SW_JS);
  fs.writeFileSync(path.join(pub, 'index.html'), INDEX_HTML);
  fs.writeFileSync(path.join(pub, 'promo/summer.html'), '<!doctype html><title>summer</title>summer');
  fs.writeFileSync(path.join(pub, 'promo/winter.html'), '<!doctype html><title>winter</title>winter');
  fs.writeFileSync(path.join(pub, 'api/hero.json'), JSON.stringify({ title: 'Summer sale' }));

  // A tiny static server for public/, counting requests per path.
  server = http.createServer((req, res) => {
    const p = new URL(req.url, 'http://localhost').pathname;
    counts.set(p, count(p) + 1);
    const file = path.join(pub, p.endsWith('/') ? p + 'index.html' : p);
    if (!file.startsWith(pub + path.sep) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
      missing.push(p);
      res.writeHead(404, { 'content-type': 'text/plain' });
      return res.end('not found');
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream', 'cache-control': 'no-cache' });
    res.end(fs.readFileSync(file));
  });
  server.keepAliveTimeout = 1000;
  await new Promise((resolve) => server.listen(0, 'localhost', resolve));
  origin = `http://localhost:${server.address().port}`;
  chrome = await launch();
});

after(async () => {
  await chrome?.close();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve()));
  if (site) fs.rmSync(site, { recursive: true, force: true });
});

test('package: installs offline with exactly the files a site serves, its exports resolve, its version is the crate\'s', () => {
  const pkgDir = path.join(site, 'node_modules/swcache');
  const files = [];
  const walk = (d) => { for (const e of fs.readdirSync(d, { withFileTypes: true })) e.isDirectory() ? walk(path.join(d, e.name)) : files.push(path.relative(pkgDir, path.join(d, e.name))); };
  walk(pkgDir);
  assert.deepEqual(files.sort(), ['CHANGELOG.md', 'LICENSE', 'README.md', 'bin/swcache-feed.js', 'bin/swcache-manifest.js',
    'build/index.d.ts', 'build/index.js', 'cli/swcache-feed.wasm', 'cli/swcache-manifest.wasm', 'dist/swcache-hydrate.js', 'dist/swcache-hydrate.wasm',
    'dist/swcache-page.d.ts', 'dist/swcache-page.js', 'dist/swcache-remove-sw.js', 'dist/swcache-sw.d.ts', 'dist/swcache-sw.js',
    'lib/manifest.js', 'lib/wasi.js', 'package.json', 'vite/index.d.ts', 'vite/index.js']);
  const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
  assert.equal(pkg.name, 'swcache');
  assert.equal(pkg.version, cargoVersion());
  assert.equal(pkg.license, 'MIT');
  assert.deepEqual(pkg.dependencies, undefined, 'a site installs nothing else');
  assert.deepEqual(pkg.peerDependenciesMeta, { vite: { optional: true } }, 'Vite only for swcache/vite, and not installed for it');
  assert.ok(!fs.existsSync(path.join(site, 'node_modules/vite')));
  const require = createRequire(path.join(site, 'package.json'));
  assert.equal(require.resolve('swcache/page'), path.join(pkgDir, 'dist/swcache-page.js'));
  assert.equal(require.resolve('swcache/sw'), path.join(pkgDir, 'dist/swcache-sw.js'));
  assert.equal(require.resolve('swcache/hydrate.wasm'), path.join(pkgDir, 'dist/swcache-hydrate.wasm'));
  assert.equal(require.resolve('swcache/package.json'), path.join(pkgDir, 'package.json'));
  assert.equal(require.resolve('swcache/build'), path.join(pkgDir, 'build/index.js'));
  assert.equal(require.resolve('swcache/vite'), path.join(pkgDir, 'vite/index.js'));
  assert.throws(() => require.resolve('swcache/dist/sw.js'), /ERR_PACKAGE_PATH_NOT_EXPORTED|not defined by "exports"/);
  for (const f of ['swcache-sw.js', 'swcache-page.js', 'swcache-hydrate.js', 'swcache-hydrate.wasm']) {
    assert.ok(fs.readFileSync(path.join(pkgDir, 'dist', f)).equals(fs.readFileSync(path.join(ROOT, 'dist', f))), `${f} is the built one`);
  }
});

test('package: its declarations type-check a site\'s TypeScript against the installed package', () => {
  const dir = path.join(site, 'typecheck');
  fs.mkdirSync(dir);
  fs.symlinkSync(path.join(site, 'node_modules'), path.join(dir, 'node_modules'));
  copyChecks(dir);
  for (const project of PROJECTS) {
    const { status, output } = tsc(dir, project);
    assert.equal(status, 0, `tsc -p ${project} against the installed package:\n${output}`);
  }
});

test('package: the scratch site works in Chromium: controlled, hits from the cache, the page module\'s calls', async () => {
  const context = await chrome.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  try {
    await page.goto(origin + '/');
    assert.equal(await page.evaluate(() => window.registered), true, 'register() resolves once the worker controls the page');
    assert.equal(count('/sw.js'), 1);
    assert.equal(count('/swcache/swcache-sw.js'), 1, 'the worker imported the engine from /swcache/');
    assert.equal(count('/swcache/swcache-hydrate.wasm'), 1, 'precached at install');
    assert.equal(count('/swcache/swcache-hydrate.js'), 1, 'precached at install');

    // A route hit: the first fetch goes to the network and is stored, the next comes from the cache.
    const fetchSummer = () => page.evaluate(async () => {
      const r = await fetch('/promo/summer.html');
      return { status: r.status, body: await r.text(), stamp: r.headers.get('sw-cache-time') };
    });
    assert.equal((await fetchSummer()).body.includes('summer'), true);
    await waitFor(() => page.evaluate(() => caches.match('/promo/summer.html').then((r) => !!r)), 'the page stored');
    const hit = await fetchSummer();
    assert.equal(hit.status, 200);
    assert.ok(hit.stamp, 'served from the cache, stamped with sw-cache-time');
    assert.equal(count('/promo/summer.html'), 1, 'the second fetch never reached the server');

    // A navigation and the page module come from the cache too.
    const before = { index: count('/'), module: count('/swcache/swcache-page.js') };
    await page.reload();
    assert.equal(await page.evaluate(() => window.registered), true);
    assert.equal(count('/'), before.index, 'the reload was answered from the cache');
    assert.equal(count('/swcache/swcache-page.js'), before.module, 'the page module came from the precache');

    // The page module's calls.
    const stats = await page.evaluate(() => window.swcache.stats());
    assert.equal(stats.type, 'STATS');
    assert.equal(stats.engine, 'ok');
    assert.ok(stats.hits >= 3, `hits: ${stats.hits}`);
    assert.ok(stats.routes.pages.hits >= 2, JSON.stringify(stats.routes));
    const state = await page.evaluate(() => window.swcache.inspect());
    const pages = state.routes.find((r) => r.name === 'pages');
    assert.deepEqual(pages.entries.map((e) => e.url), ['/promo/summer.html']);
    assert.equal(pages.entries[0].fresh, true);

    const done = await page.evaluate(() => window.swcache.invalidate({ urls: ['/promo/summer.html'] }));
    assert.deepEqual(done, { type: 'CACHE_INVALIDATION_DONE', removed: 1 });
    await fetchSummer();
    assert.equal(count('/promo/summer.html'), 2, 'invalidated: fetched again');

    const pre = await page.evaluate(() => window.swcache.prefetch(['/promo/winter.html']));
    assert.deepEqual(pre, { type: 'PREFETCH_DONE', fetched: 1, skipped: 0, failed: 0 });
    await page.evaluate(() => fetch('/promo/winter.html').then((r) => r.text()));
    assert.equal(count('/promo/winter.html'), 1, 'the prefetched page came from the cache');

    // hydrate() loads the scheduler (its glue and wasm) from next to the module and renders the component.
    await page.evaluate(() => {
      window.hydration = window.swcache.hydrate({ render: (el, data, info) => { el.textContent = `${data.title} (${info.source})`; } });
      return window.hydration.ready.then(() => true);
    });
    await waitFor(() => page.evaluate(() => document.querySelector('[data-component-id=hero]').textContent === 'Summer sale (network)'), 'the component hydrated');
    assert.equal(count('/api/hero.json'), 1);

    // An invalidation that covers this page reaches it as swcache:invalidated.
    const event = await page.evaluate(() => new Promise((resolve) => {
      window.addEventListener('swcache:invalidated', (e) => resolve(e.detail), { once: true });
      window.swcache.invalidate({ urls: ['/'] });
    }));
    assert.equal(event.page, true);
    assert.equal(event.source, 'message');
    assert.deepEqual(missing, [], 'nothing the site asked for was missing');
    assert.deepEqual(errors, [], 'no errors in the page console');
  } finally {
    await context.close();
  }
});
