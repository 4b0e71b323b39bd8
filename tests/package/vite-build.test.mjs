// swcache/vite's `vite build` without a browser: the manifest it injects, read from the
// built worker. The same scratch project as vite.test.mjs (tests/package/vite-site/ copied,
// Vite installed from its lockfile, the swcache tarball beside it, no Rust on the PATH),
// with the output options and plugins of each case.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { VITE_SITE, viteProject, withoutRust } from './tarball.mjs';

const FIXTURE = VITE_SITE;

let work, project, env;

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'swcache-vite-build-'));
  project = viteProject(work);
  env = withoutRust(work);
});

after(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/** `vite build` with `config` as vite.config.js: the manifest injected into dist/sw.js. */
function build(config, extraEnv = {}) {
  fs.writeFileSync(path.join(project, 'vite.config.js'), config);
  const r = spawnSync(path.join(project, 'node_modules/.bin/vite'), ['build'], { cwd: project, env: { ...env, ...extraEnv }, encoding: 'utf8' });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const m = fs.readFileSync(path.join(project, 'dist/sw.js'), 'utf8').match(/precache: \["\/", \.\.\.(\[\n[\s\S]*?\n\])\]/);
  assert.ok(m, 'a manifest in dist/sw.js');
  return JSON.parse(m[1]);
}

const sha = (file) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex').slice(0, 16);

test('vite build: a file Vite did not name with a hash is revisioned by content, whatever the output patterns', () => {
  const config = (plugins, output = '') => `import { resolve } from 'node:path';
import swcache from 'swcache/vite';
const version = () => ({ name: 'version', buildStart() {
  this.emitFile({ type: 'asset', fileName: 'version.json', source: JSON.stringify({ version: process.env.SITE_VERSION }) });
  // A fixed name under assets/ that still has the shape of assets/[name]-[hash][extname].
  this.emitFile({ type: 'asset', fileName: 'assets/site-config.json', source: JSON.stringify({ version: process.env.SITE_VERSION }) });
} });
export default {
  build: { rollupOptions: {
    input: { main: resolve('index.html'), about: resolve('about/index.html'), promo: resolve('promo/index.html') },
    output: { ${output} },
  } },
  plugins: [${plugins}],
};
`;
  const dist = path.join(project, 'dist');
  const entry = (m, url) => m.find((e) => e.url === url);
  // A plugin emits a file under a name of its own (as version, robots or sitemap plugins do),
  // while Vite's patterns say [hash].
  const first = build(config('version(), swcache()'), { SITE_VERSION: '1' });
  assert.equal(entry(first, '/version.json')?.revision, sha(path.join(dist, 'version.json')), 'a plugin\'s fixed name: revisioned by content');
  assert.equal(entry(first, '/assets/site-config.json')?.revision, sha(path.join(dist, 'assets/site-config.json')),
    'a plugin\'s fixed name that looks like [name]-[hash]: revisioned by content (null would keep it stale for good)');
  const wasm = first.find((e) => /^\/assets\/swcache-hydrate-[\w-]+\.wasm$/.test(e.url));
  assert.equal(wasm?.revision, null, 'an asset Vite named with [hash] is still revision null');
  const second = build(config('version(), swcache()'), { SITE_VERSION: '2' });
  assert.notEqual(entry(second, '/version.json').revision, entry(first, '/version.json').revision, 'a changed file gets a new revision');
  // A function pattern that names the CSS without a hash.
  const css = "assetFileNames: (a) => (a.names[0]?.endsWith('.css') ? 'assets/site-stylesheet.css' : 'assets/[name]-[hash][extname]')";
  const third = build(config('swcache()', css));
  assert.equal(entry(third, '/assets/site-stylesheet.css')?.revision, sha(path.join(dist, 'assets/site-stylesheet.css')),
    'a name a function pattern gave without [hash]: revisioned by content');
  assert.equal(third.find((e) => /^\/assets\/swcache-hydrate-[\w-]+\.wasm$/.test(e.url))?.revision, null);
});

test('vite build: an option given as undefined takes its default', () => {
  const fixture = fs.readFileSync(path.join(FIXTURE, 'vite.config.js'), 'utf8');
  const want = build(fixture);
  const options = '{ sw: undefined, swDest: undefined, engineDir: undefined, include: undefined, exclude: undefined, hashed: undefined, warnSize: undefined }';
  const got = build(fixture.replace('swcache()', `swcache(${options})`));
  assert.deepEqual(got, want, 'the manifest of swcache()');
  assert.ok(fs.existsSync(path.join(project, 'dist/swcache/swcache-sw.js')), 'the engine in dist/swcache/');
});

test('vite build --watch: an edit to the worker source builds again, and dist/sw.js has it', async () => {
  fs.writeFileSync(path.join(project, 'vite.config.js'), fs.readFileSync(path.join(FIXTURE, 'vite.config.js'), 'utf8'));
  const source = path.join(project, 'src/sw.ts');
  const original = fs.readFileSync(source, 'utf8');
  const sw = path.join(project, 'dist/sw.js');
  fs.rmSync(path.join(project, 'dist'), { recursive: true, force: true });
  const child = spawn(path.join(project, 'node_modules/.bin/vite'), ['build', '--watch'], { cwd: project, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  /** Waits until dist/sw.js has a manifest and `text` (the watcher writes it again after each build). */
  const built = async (text) => {
    for (const deadline = Date.now() + 20000; Date.now() < deadline;) {
      const now = fs.existsSync(sw) ? fs.readFileSync(sw, 'utf8') : '';
      if (now.includes(text) && /precache: \["\/", \.\.\.\[\n/.test(now)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.fail(`dist/sw.js never said ${text}; vite said:\n${log}`);
  };
  try {
    await built('version: "v1"');
    fs.writeFileSync(source, original.replace("version: 'v1'", "version: 'v2'"));
    await built('version: "v2"');
  } finally {
    await new Promise((r) => { child.once('exit', r); child.kill('SIGTERM'); });
    fs.writeFileSync(source, original);
  }
});

test('vite build: a worker source that says self.swcacheManifest twice is told the lines of the source, not of the removed build', () => {
  fs.writeFileSync(path.join(project, 'vite.config.js'), fs.readFileSync(path.join(FIXTURE, 'vite.config.js'), 'utf8'));
  const source = path.join(project, 'src/sw.ts');
  const original = fs.readFileSync(source, 'utf8');
  // Types the compiled worker does without, then a comment naming the placeholder.
  const edited = original.replace('importScripts(', 'interface Entry {\n  url: string;\n  revision: string | null;\n}\n\nimportScripts(') +
    '\n// the build puts the list in place of self.swcacheManifest\n';
  const lines = edited.split('\n').flatMap((l, i) => (l.includes('self.swcacheManifest') ? [i + 1] : []));
  assert.equal(lines.length, 2);
  try {
    fs.writeFileSync(source, edited);
    const r = spawnSync(path.join(project, 'node_modules/.bin/vite'), ['build'], { cwd: project, env, encoding: 'utf8' });
    assert.notEqual(r.status, 0, 'the build fails');
    assert.match(r.stdout + r.stderr, new RegExp(`src/sw\\.ts \\(built to .*dist/sw\\.js\\): \`self\\.swcacheManifest\` appears 2 times \\(lines ${lines.join(', ')}\\)`));
    assert.ok(!fs.existsSync(path.join(project, 'dist/sw.js')), 'no worker in the output');
  } finally {
    fs.writeFileSync(source, original);
  }
});

/** Runs `body` with the worker source at `public/sw.js` instead of src/sw.ts, then puts it back. */
function withPublicWorker(body, name = 'sw.js') {
  const source = path.join(project, 'src/sw.ts');
  const original = fs.readFileSync(source, 'utf8');
  const pub = path.join(project, 'public', name);
  fs.rmSync(source);
  fs.writeFileSync(pub, original.replace(/^\/\/\/.*\n/, ''));
  try {
    return body();
  } finally {
    fs.rmSync(pub, { force: true });
    fs.writeFileSync(source, original);
  }
}

test('vite build: public/sw.js with two outputs in one directory (the shape @vitejs/plugin-legacy gives) is injected, not refused', () => {
  // plugin-legacy: rollupOptions.output = [createLegacyOutput(output), output]
  const config = `import swcache from 'swcache/vite';
export default { plugins: [swcache()], build: { rollupOptions: { output: [
  { format: 'es', entryFileNames: 'assets/[name]-legacy-[hash].js', chunkFileNames: 'assets/[name]-legacy-[hash].js' },
  {},
] } } };
`;
  withPublicWorker(() => {
    fs.writeFileSync(path.join(project, 'vite.config.js'), config);
    const r = spawnSync(path.join(project, 'node_modules/.bin/vite'), ['build'], { cwd: project, env, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const m = fs.readFileSync(path.join(project, 'dist/sw.js'), 'utf8').match(/\.\.\.(\[\n[\s\S]*?\n\])\]/);
    assert.ok(m, 'a manifest in dist/sw.js');
    const urls = JSON.parse(m[1]).map((e) => e.url);
    assert.ok(urls.includes('/index.html') && urls.some((u) => /^\/assets\/index-[\w-]+\.js$/.test(u)), urls.join(' '));
  });
});

test('vite build: with Vite\'s environment API and shared plugins, the client build gets its worker and engine', () => {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the TypeScript written holds a template literal
  fs.writeFileSync(path.join(project, 'src/entry-server.ts'), 'export const render = (url: string) => `<p>${url}</p>`;\n');
  const config = `import swcache from 'swcache/vite';
export default {
  plugins: [swcache()],
  builder: { sharedPlugins: true },
  environments: { client: {}, ssr: { build: { outDir: 'dist-server', rollupOptions: { input: 'src/entry-server.ts' } } } },
};
`;
  fs.writeFileSync(path.join(project, 'vite.config.js'), config);
  try {
    const r = spawnSync(path.join(project, 'node_modules/.bin/vite'), ['build', '--app'], { cwd: project, env, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.ok(fs.existsSync(path.join(project, 'dist/swcache/swcache-sw.js')), 'the engine in dist/swcache/');
    const sw = fs.readFileSync(path.join(project, 'dist/sw.js'), 'utf8');
    assert.ok(!sw.includes('self.swcacheManifest'), 'no placeholder left in dist/sw.js');
    assert.ok(!fs.existsSync(path.join(project, 'dist-server/sw.js')) || !fs.readFileSync(path.join(project, 'dist-server/sw.js'), 'utf8').includes('"revision"'),
      'the server output is left alone');
  } finally {
    fs.rmSync(path.join(project, 'src/entry-server.ts'), { force: true });
    fs.rmSync(path.join(project, 'dist-server'), { recursive: true, force: true });
  }
});

test('vite build: sw naming a file in publicDir under another name than swDest says so', () => {
  withPublicWorker(() => {
    fs.writeFileSync(path.join(project, 'vite.config.js'), "import swcache from 'swcache/vite';\nexport default { plugins: [swcache({ sw: 'public/my-sw.js' })] };\n");
    const r = spawnSync(path.join(project, 'node_modules/.bin/vite'), ['build'], { cwd: project, env, encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.match(r.stdout + r.stderr, /swDest: 'my-sw\.js'/, r.stdout + r.stderr);
  }, 'my-sw.js');
});

test('vite build: engineDir and swDest written as URL paths (\'/swcache/\', \'/sw.js\') mean the same files', () => {
  const fixture = fs.readFileSync(path.join(FIXTURE, 'vite.config.js'), 'utf8');
  const want = build(fixture);
  const got = build(fixture.replace('swcache()', "swcache({ engineDir: '/swcache/', swDest: '/sw.js' })"));
  assert.deepEqual(got, want);
});

test('vite build: a JavaScript worker source (src/sw.js) that imports a module is refused, as a TypeScript one is', () => {
  fs.writeFileSync(path.join(project, 'vite.config.js'), fs.readFileSync(path.join(FIXTURE, 'vite.config.js'), 'utf8'));
  const ts = path.join(project, 'src/sw.ts');
  const original = fs.readFileSync(ts, 'utf8');
  const js = path.join(project, 'src/sw.js');
  fs.rmSync(ts);
  fs.writeFileSync(js, "import { routes } from './routes.js';\n" + original.replace(/^\/\/\/.*\n/, ''));
  try {
    const r = spawnSync(path.join(project, 'node_modules/.bin/vite'), ['build'], { cwd: project, env, encoding: 'utf8' });
    assert.notEqual(r.status, 0, 'the build fails: a classic script cannot import');
    assert.match(r.stdout + r.stderr, /the worker is a classic script .*`import \{ routes \} from '\.\/routes\.js'`/);
  } finally {
    fs.rmSync(js, { force: true });
    fs.writeFileSync(ts, original);
  }
});
