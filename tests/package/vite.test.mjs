// swcache/vite in a scratch Vite project as a site team would have it: tests/package/vite-site/
// copied to a temporary directory, Vite installed from that project's own lockfile
// (`npm ci`, Vite pinned), the swcache tarball installed beside it, and `vite build` run
// with no Rust toolchain on the PATH. The three-page site (a TypeScript worker, pages
// importing `swcache/page`, one page importing `/swcache/swcache-page.js` by URL) is served
// and opened in Chromium: the worker precaches exactly the injected manifest, and a second
// build after one changed file makes the update download that one file. Then the refusals
// (no injection point, two, globs that select nothing, a file over maxFileSize, a worker
// that imports a module), the size warning, register()'s message when the engine's script
// is missing, and `vite dev`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { ROOT, VITE_SITE, viteProject, withoutRust } from './tarball.mjs';
import { launch, waitFor } from '../support/browser.mjs';

const FIXTURE = VITE_SITE;
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css',
  '.wasm': 'application/wasm', '.svg': 'image/svg+xml', '.txt': 'text/plain' };

let work, project, env, chrome;
const servers = [];

before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'swcache-vite-'));
  project = viteProject(work);
  env = withoutRust(work);
  chrome = await launch();
});

after(async () => {
  await chrome?.close();
  for (const s of servers) await new Promise((r) => s.close(r));
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/** `vite build` (the project's own Vite, no Rust reachable): {status, output}. */
function viteBuild(cwd = project, args = []) {
  const r = spawnSync(path.join(cwd, 'node_modules/.bin/vite'), ['build', ...args], { cwd, env, encoding: 'utf8' });
  if (r.error) throw r.error;
  return { status: r.status, output: r.stdout + r.stderr };
}

/** Serves `dir` on a port of its own, counting requests per path; `missing` paths answer 404. */
async function serve(dir, { missing = [] } = {}) {
  const counts = new Map();
  const server = http.createServer((req, res) => {
    const p = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    counts.set(p, (counts.get(p) || 0) + 1);
    const file = path.join(dir, p.endsWith('/') ? p + 'index.html' : p);
    if (!file.startsWith(dir + path.sep) || missing.includes(p) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      return res.end('not found');
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream', 'cache-control': 'no-cache' });
    res.end(fs.readFileSync(file));
  });
  server.keepAliveTimeout = 1000;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return { origin: `http://127.0.0.1:${server.address().port}`, counts };
}

/** The manifest injected into a built sw.js (the array spread after '/'). */
function injectedManifest(sw) {
  const m = sw.match(/precache: \["\/", \.\.\.(\[\n[\s\S]*?\n\])\]/);
  assert.ok(m, `no injected manifest in:\n${sw}`);
  return JSON.parse(m[1]);
}

/** Every file under `dir`, relative, `/`-separated, sorted. */
function files(dir) {
  return fs.readdirSync(dir, { recursive: true }).map((f) => f.split(path.sep).join('/'))
    .filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort();
}

const sha = (file) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex').slice(0, 16);

test('vite: the README\'s quick start is what this project builds', () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const sw = fs.readFileSync(path.join(FIXTURE, 'src/sw.ts'), 'utf8');
  assert.ok(readme.includes('```ts\n' + sw + '```\n'), 'README.md\'s quick start shows tests/package/vite-site/src/sw.ts verbatim');
  assert.ok(readme.includes("import swcache from 'swcache/vite';\n\nexport default { plugins: [swcache()] };\n"));
  assert.ok(readme.includes("import { register, prefetchOnHover } from 'swcache/page';\n\nregister('/sw.js').catch((err) => console.warn(err.message));"));
  assert.match(fs.readFileSync(path.join(FIXTURE, 'vite.config.js'), 'utf8'), /plugins: \[swcache\(\)\]/);
});

let manifest; // the first build's

test('vite: `vite build` of a three-page site injects the manifest of its output into /sw.js', () => {
  const r = viteBuild();
  assert.equal(r.status, 0, r.output);
  assert.match(r.output, /swcache: dist\/sw\.js precaches 13 files \(5 content-hashed\); [\d.]+ kB/);
  // Three HTML entries sharing one script: Vite drops their empty facade chunks after the
  // plugin's generateBundle; no --hashed glob may name a file that was never written.
  assert.doesNotMatch(r.output, /matches none of the files listed/, r.output);
  const dist = path.join(project, 'dist');
  const all = files(dist);
  for (const f of ['sw.js', 'swcache/swcache-sw.js', 'swcache/swcache-page.js', 'swcache/swcache-hydrate.js', 'swcache/swcache-hydrate.wasm', 'about/index.html', 'promo/index.html']) {
    assert.ok(all.includes(f), `${f} in the output: ${all.join(', ')}`);
  }
  assert.ok(all.some((f) => /^assets\/swcache-hydrate-[\w-]+\.wasm$/.test(f)), 'Vite emitted the page module\'s wasm for `swcache/page`');
  const sw = fs.readFileSync(path.join(dist, 'sw.js'), 'utf8');
  assert.doesNotMatch(sw, /: swcache\.Route|self\.swcacheManifest/, 'compiled from TypeScript, the placeholder replaced');
  manifest = injectedManifest(sw);
  // Exactly the output's files but the worker, the engine's worker script (loaded by
  // importScripts, cached with the worker) and source maps; hashed assets with null.
  const want = all.filter((f) => f !== 'sw.js' && f !== 'swcache/swcache-sw.js' && !f.endsWith('.map'));
  assert.deepEqual(manifest.map((e) => e.url), want.map((f) => '/' + f));
  for (const e of manifest) {
    const file = path.join(dist, e.url.slice(1));
    assert.equal(e.revision, e.url.startsWith('/assets/') ? null : sha(file), e.url);
  }
});

test('vite: served, the worker precaches exactly the manifest, and both ways of importing the page module work', async () => {
  const { origin, counts } = await serve(path.join(project, 'dist'));
  const context = await chrome.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  try {
    await page.goto(origin + '/');
    assert.equal(await page.evaluate(() => window.registered), true, 'register() from swcache/page (bundled by Vite)');
    const keys = await page.evaluate(async () => (await (await caches.open('swcache-precache')).keys()).map((r) => r.url));
    const got = keys.map((u) => new URL(u)).map((u) => [u.pathname, u.searchParams.get('__swcache_rev')]).sort();
    const home = got.find(([p]) => p === '/')?.[1];
    assert.match(home, /^v1\.[0-9a-f]{8}$/, "'/' is revisioned by the version and the build");
    const want = [['/', home], ...manifest.map((e) => [e.url, e.revision])].sort();
    assert.deepEqual(got, want, 'the precache holds the manifest (and /), each under its revision');
    // The install fetched each entry once (the home page had loaded its own assets before it).
    for (const e of manifest) assert.ok([1, 2].includes(counts.get(e.url)), `${e.url} fetched ${counts.get(e.url)} times`);
    for (const url of ['/about/index.html', '/promo/index.html', '/robots.txt', '/swcache/swcache-page.js', '/swcache/swcache-hydrate.js', '/swcache/swcache-hydrate.wasm']) {
      assert.equal(counts.get(url), 1, `${url}: fetched once, by the install`);
    }
    const stats = await page.evaluate(() => window.swcacheStats());
    assert.equal(stats.engine, 'ok');
    // The promo page imports the page module by URL, from /swcache/ where the plugin put it.
    await page.goto(origin + '/promo/');
    assert.equal(await page.evaluate(() => window.registered), true, 'register() from /swcache/swcache-page.js');
    assert.equal(counts.get('/swcache/swcache-page.js'), 1, 'from the precache after install');
    await page.goto(origin + '/about/');
    assert.equal(await page.evaluate(() => document.querySelector('h1').textContent), 'About');
    assert.deepEqual(errors, []);

    // A second build after one changed file: the update downloads that file, and '/' (a
    // plain URL: a new build fetches it again, as its HTML may name the build's assets).
    const about = path.join(project, 'about/index.html');
    fs.writeFileSync(about, fs.readFileSync(about, 'utf8').replace('<h1>About</h1>', '<h1>About us</h1>'));
    const r = viteBuild();
    assert.equal(r.status, 0, r.output);
    const second = injectedManifest(fs.readFileSync(path.join(project, 'dist/sw.js'), 'utf8'));
    const changed = second.filter((e, i) => JSON.stringify(e) !== JSON.stringify(manifest[i])).map((e) => e.url);
    assert.deepEqual(changed, ['/about/index.html'], 'one entry of the manifest changed');
    counts.clear();
    await page.evaluate(async () => {
      const reg = await navigator.serviceWorker.getRegistration();
      const changed = new Promise((r) => navigator.serviceWorker.addEventListener('controllerchange', r, { once: true }));
      await reg.update();
      await changed;
    });
    const fetched = [...counts.keys()].filter((p) => p !== '/sw.js' && p !== '/swcache/swcache-sw.js');
    assert.deepEqual(fetched.sort(), ['/', '/about/index.html'], `the update fetched ${JSON.stringify([...counts])}`);
    await waitFor(() => page.evaluate(async () => (await (await caches.open('swcache-precache')).keys()).length === 14), 'old entries dropped');
    const rev = await page.evaluate(async () => (await (await caches.open('swcache-precache')).keys())
      .map((r) => new URL(r.url)).find((u) => u.pathname === '/about/index.html').searchParams.get('__swcache_rev'));
    assert.equal(rev, second.find((e) => e.url === '/about/index.html').revision);
  } finally {
    await context.close();
  }
});

test('vite: register() names the engine script a worker could not load', async () => {
  const { origin } = await serve(path.join(project, 'dist'), { missing: ['/swcache/swcache-sw.js'] });
  const context = await chrome.newContext();
  const page = await context.newPage();
  try {
    await page.goto(origin + '/about/');
    const outcome = await page.evaluate(() => window.registered);
    assert.equal(outcome, "register failed: swcache: registering /sw.js failed: importScripts('/swcache/swcache-sw.js') answered 404");
  } finally {
    await context.close();
  }
});

/** A copy of the project (node_modules linked) with `files` changed and swcache(`options`). */
function variant(name, files = {}, options = {}) {
  const dir = path.join(work, name);
  fs.cpSync(project, dir, { recursive: true, filter: (src) => !src.startsWith(path.join(project, 'node_modules')) && !src.startsWith(path.join(project, 'dist')) });
  fs.rmSync(path.join(dir, 'node_modules'), { recursive: true, force: true });
  fs.symlinkSync(path.join(project, 'node_modules'), path.join(dir, 'node_modules'));
  const config = fs.readFileSync(path.join(dir, 'vite.config.js'), 'utf8').replace('swcache()', `swcache(${JSON.stringify(options)})`);
  fs.writeFileSync(path.join(dir, 'vite.config.js'), config);
  for (const [p, text] of Object.entries(files)) {
    if (text === null) fs.rmSync(path.join(dir, p));
    else fs.writeFileSync(path.join(dir, p), text);
  }
  return dir;
}

test('vite: files copied from publicDir or written by a later plugin are revisioned by content; only names Vite hashed get null', () => {
  const config = `import { resolve } from 'node:path';
import fs from 'node:fs/promises';
import swcache from 'swcache/vite';
// Writes a page into the output in its own writeBundle, as static-copy plugins do.
const copy = () => ({ name: 'copy-static', apply: 'build', async writeBundle(out) {
  await fs.mkdir(out.dir + '/docs', { recursive: true });
  await fs.writeFile(out.dir + '/docs/guide.html', '<p>guide</p>');
} });
export default {
  build: { assetsDir: 'static/', rollupOptions: { input: { main: resolve('index.html'), about: resolve('about/index.html'), promo: resolve('promo/index.html') } } },
  plugins: [swcache(), copy()],
};
`;
  const dir = variant('public-assets', { 'vite.config.js': config });
  fs.mkdirSync(path.join(dir, 'public/assets'));
  fs.writeFileSync(path.join(dir, 'public/assets/hero.txt'), 'v1');
  const build = () => {
    const r = viteBuild(dir);
    assert.equal(r.status, 0, r.output);
    return injectedManifest(fs.readFileSync(path.join(dir, 'dist/sw.js'), 'utf8'));
  };
  const first = build();
  const entry = (m, url) => m.find((e) => e.url === url);
  assert.equal(entry(first, '/assets/hero.txt')?.revision, sha(path.join(dir, 'dist/assets/hero.txt')), 'a public file under assets/ is revisioned');
  assert.equal(entry(first, '/docs/guide.html')?.revision, sha(path.join(dir, 'dist/docs/guide.html')), "another plugin's writeBundle output is in the manifest");
  const hashed = first.filter((e) => e.revision === null).map((e) => e.url);
  assert.equal(hashed.length, 5, JSON.stringify(first));
  assert.ok(hashed.every((u) => u.startsWith('/static/')), `Vite's hashed files, under assetsDir 'static/': ${hashed}`);
  fs.writeFileSync(path.join(dir, 'public/assets/hero.txt'), 'v2 changed');
  const second = build();
  assert.notEqual(entry(second, '/assets/hero.txt').revision, entry(first, '/assets/hero.txt').revision, 'a changed public file gets a new revision');
});

test('vite: bad input fails the build with a clear message, and no worker is written', () => {
  const sw = fs.readFileSync(path.join(project, 'src/sw.ts'), 'utf8');
  const cases = [
    ['no-placeholder', { 'src/sw.ts': sw.replace('...self.swcacheManifest', '') }, {},
      /swcache: src\/sw\.ts \(built to .*dist\/sw\.js\): no `self\.swcacheManifest` to replace \(write `precache: self\.swcacheManifest` in the config passed to swcache\.start\(\)\)$/m],
    ['two-placeholders', { 'src/sw.ts': sw + 'console.log(self.swcacheManifest);\n' }, {},
      /swcache: src\/sw\.ts \(built to .*dist\/sw\.js\): `self\.swcacheManifest` appears 2 times \(lines \d+, \d+\); it must appear exactly once/],
    ['nothing-selected', {}, { include: ['**/*.php'] },
      /swcache: no file under .*dist is selected by the globs: an empty manifest would precache nothing \(check the build output, include and exclude\)/],
    ['too-big', {}, { maxFileSize: '20kB' },
      /swcache: 2 files are bigger than maxFileSize 20\.0 kB: assets\/swcache-hydrate-[\w-]+\.wasm \([\d.]+ kB\), swcache\/swcache-hydrate\.wasm \([\d.]+ kB\); leave them out of the precache \(exclude 'assets\/swcache-hydrate-[\w-]+\.wasm'\), or raise maxFileSize/],
    ['module-worker', { 'src/sw.ts': "import { x } from './x';\nconsole.log(x);\n" + sw }, {},
      /swcache: .*src\/sw\.ts: the worker is a classic script \(it loads the engine with importScripts\), so it cannot use modules: `import \{ x \} from ".\/x"/],
    ['no-worker', { 'src/sw.ts': null }, {}, /swcache: no worker source: write src\/sw\.ts \(or src\/sw\.js, or public\/sw\.js\)/],
    ['bad-option', {}, { exlude: ['x'] }, /swcache: 'exlude' is not an option of swcache\/vite/],
  ];
  for (const [name, files, options, message] of cases) {
    const dir = variant(name, files, options);
    const r = viteBuild(dir);
    assert.notEqual(r.status, 0, `${name}: the build fails\n${r.output}`);
    assert.match(r.output, message, name);
    assert.ok(!fs.existsSync(path.join(dir, 'dist/sw.js')), `${name}: no worker in the output`);
  }
});

test('vite: over warnSize the build warns with the biggest files, and still succeeds', () => {
  const dir = variant('warn', {}, { warnSize: '50kB', exclude: ['robots.txt'] });
  const r = viteBuild(dir);
  assert.equal(r.status, 0, r.output);
  assert.match(r.output, /swcache: the precache is [\d.]+ kB in 12 files, over warnSize 50\.0 kB: a first visit downloads all of it\. The biggest: (assets\/swcache-hydrate-[\w-]+\.wasm|swcache\/swcache-hydrate\.wasm) \([\d.]+ kB\), /);
  const m = injectedManifest(fs.readFileSync(path.join(dir, 'dist/sw.js'), 'utf8'));
  assert.equal(m.length, 12);
  assert.ok(!m.some((e) => e.url === '/robots.txt'), 'exclude');
});

test('vite: `vite dev` serves the engine\'s files, and the worker with dev: true (404 with the reason without)', async () => {
  const dev = async (dir) => {
    const port = await new Promise((resolve) => {
      const s = http.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
    });
    const child = spawn(path.join(dir, 'node_modules/.bin/vite'), ['--port', String(port), '--strictPort', '--host', '127.0.0.1'],
      { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout.on('data', (d) => { log += d; });
    child.stderr.on('data', (d) => { log += d; });
    const origin = `http://127.0.0.1:${port}`;
    await waitFor(() => fetch(origin + '/').then((r) => r.ok, () => false), 'vite dev to start', 20000, 100);
    return { origin, log: () => log, stop: () => new Promise((r) => { child.once('exit', r); child.kill('SIGTERM'); }) };
  };
  const off = await dev(project);
  const offContext = await chrome.newContext();
  try {
    const engine = await fetch(off.origin + '/swcache/swcache-sw.js');
    assert.equal(engine.status, 200);
    assert.equal(await engine.text(), fs.readFileSync(path.join(ROOT, 'dist/swcache-sw.js'), 'utf8'));
    const sw = await fetch(off.origin + '/sw.js');
    assert.equal(sw.status, 404);
    assert.match(await sw.text(), /^swcache: \/sw\.js is not served by vite dev: .* swcache\(\{ dev: true \}\) serves it here/);
    await waitFor(() => off.log().includes('is not served by vite dev'), 'the reason in the terminal too');
    // The page's register() rejects with that reason, not only the browser's "bad HTTP response code (404)".
    const page = await offContext.newPage();
    await page.goto(off.origin + '/');
    assert.match(await page.evaluate(() => window.registered),
      /^register failed: swcache: registering \/sw\.js failed: \/sw\.js answered 404: swcache: \/sw\.js is not served by vite dev: .* swcache\(\{ dev: true \}\) serves it here/);
  } finally {
    await offContext.close();
    await off.stop();
  }
  const on = await dev(variant('dev', {}, { dev: true }));
  const context = await chrome.newContext();
  const page = await context.newPage();
  try {
    const sw = await (await fetch(on.origin + '/sw.js')).text();
    assert.match(sw, /precache: \["\/", \.\.\.\[\]\]/, 'an empty manifest under vite dev');
    await page.goto(on.origin + '/');
    assert.equal(await page.evaluate(() => window.registered), true, 'the page registers the worker under vite dev');
  } finally {
    await context.close();
    await on.stop();
  }
});
