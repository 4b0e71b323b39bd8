// The package's commands, `swcache-manifest` and `swcache-feed`, as a site without Rust
// runs them: the tarball installed into a scratch project, the commands run from its
// node_modules/.bin (and through npx) with a PATH that holds node, npm, npx and sh only,
// so no cargo, rustc or rustup can be reached. Each case runs the native binary too
// (target/release/, built by ./build.sh build) on a copy of the same input, and the two
// must agree: exit status, stdout, stderr and the files written, byte for byte (feed
// epochs, which are random, aside). The inputs are those of the native commands' own
// tests (tests/manifest_cli.rs, tests/feed_cli.rs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { ROOT, installTarball, scratchProject, withoutRust } from './tarball.mjs';

const NATIVE = path.join(ROOT, 'target', 'release');
let project, env;

before(() => {
  for (const c of ['swcache-manifest', 'swcache-feed']) {
    if (!fs.existsSync(path.join(NATIVE, c))) throw new Error(`target/release/${c} is missing (run ./build.sh build)`);
  }
  project = scratchProject('commands');
  installTarball(project);
  env = withoutRust(project);
});

after(() => {
  if (project) fs.rmSync(project, { recursive: true, force: true });
});

/** Runs a command, `npm` (the package's) or `native`, in `cwd`: {status, stdout, stderr}. */
function run(kind, name, args, cwd, extraEnv = {}) {
  const exe = kind === 'npm' ? path.join(project, 'node_modules', '.bin', name) : path.join(NATIVE, name);
  const r = spawnSync(exe, args, { cwd, env: { ...env, ...extraEnv }, encoding: 'utf8' });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Every file under `dir` with its bytes (as text), temporary files included. */
function snapshot(dir) {
  const out = {};
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isSymbolicLink()) out[path.relative(dir, p)] = `-> ${fs.readlinkSync(p)}`;
      else if (e.isDirectory()) walk(p);
      else out[path.relative(dir, p)] = fs.readFileSync(p, 'latin1');
    }
  };
  walk(dir);
  return out;
}

/** Writes `files` ({path: content}) under `dir`; a value `{link}` makes a symlink. */
function tree(dir, files) {
  for (const [p, content] of Object.entries(files)) {
    const file = path.join(dir, p);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (typeof content === 'object') fs.symlinkSync(content.link, file);
    else fs.writeFileSync(file, content);
  }
}

/** The input of tests/manifest_cli.rs's `site()`, plus links, odd names and a worker script. */
const SITE = {
  'site/index.html': 'abc', 'site/b.js': 'console.log(1)', 'site/a.css': 'body{}', 'site/Z.txt': 'capital',
  'site/blog/post/index.html': '<p>post</p>', 'site/blog/a.html': 'a', 'site/assets/app.3f9a1c.js': 'hashed',
  'site/assets/app.3f9a1c.js.map': '{}', 'site/.htaccess': 'deny', 'site/.git/config': '[core]',
  'site/blog/.draft.html': 'draft', 'site/a b#c?d%e.txt': '1', 'site/über/日本.html': '2',
  'site/v3/app.js': '3', 'site/home.html': { link: 'index.html' }, 'site/latest': { link: 'v3' },
  'site/leak.txt': { link: '../outside.txt' }, 'site/v3/up': { link: '..' }, 'site/broken.html': { link: 'nowhere' },
  'outside.txt': 'secret',
  'sw.src.js': "importScripts('/swcache/swcache-sw.js');\nswcache.start({ version: 'v2', precache: self.swcacheManifest });\n",
  'twice.js': 'self.swcacheManifest;\n// precache: self.swcacheManifest\n',
  'none.js': "swcache.start({ version: 'v1' });\n",
};

/** Runs both builds of `name` with `args`, each in a fresh copy of `files`; asserts they agree. */
function same(name, args, files = SITE, { normalize = (s) => s } = {}) {
  const results = {};
  for (const kind of ['native', 'npm']) {
    const dir = fs.mkdtempSync(path.join(project, `${kind}-`));
    tree(dir, files);
    const r = run(kind, name, args, dir);
    // (A temporary file's name holds the process's id, or under WASI a random number.)
    const stderr = r.stderr.replaceAll(dir, '<dir>').replace(/\.[0-9]+\.tmp\b/g, '.<process>.tmp');
    const after = snapshot(dir);
    // The native command's flock file (WASI has no flock; both use the PATH.writer mark).
    if (name === 'swcache-feed') for (const f of Object.keys(after)) if (f.endsWith('.lock')) delete after[f];
    results[kind] = { status: r.status, stdout: normalize(r.stdout), stderr: normalize(stderr), files: after };
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.deepEqual(results.npm, results.native, `${name} ${args.join(' ')}: the npm command and the native one differ`);
  return results.npm;
}

test('commands: no Rust toolchain is reachable from the environment they run in', () => {
  for (const tool of ['cargo', 'rustc', 'rustup']) {
    const r = spawnSync('sh', ['-c', `command -v ${tool}`], { env, encoding: 'utf8' });
    assert.notEqual(r.status, 0, `${tool} is reachable: ${r.stdout}`);
  }
  assert.equal(spawnSync('node', ['--version'], { env }).status, 0);
});

test('commands: --help is the native command\'s, and npx runs both', () => {
  const native = run('native', 'swcache-manifest', ['--help'], project);
  const npm = run('npm', 'swcache-manifest', ['--help'], project);
  assert.deepEqual(npm, native, 'swcache-manifest --help');
  const npx = spawnSync('npx', ['--offline', 'swcache-manifest', '--help'], { cwd: project, env, encoding: 'utf8' });
  assert.equal(npx.status, 0, npx.stderr);
  assert.equal(npx.stdout, native.stdout);
  assert.equal(npx.stderr, '', 'no ExperimentalWarning or anything else on stderr');
  const feed = spawnSync('npx', ['--offline', 'swcache-feed', '--help'], { cwd: project, env, encoding: 'utf8' });
  assert.equal(feed.status, 0);
  assert.equal(feed.stderr, '');
  assert.match(feed.stdout, /^swcache-feed: publish invalidations to a swcache feed\n/);
  assert.doesNotMatch(feed.stdout, /serve \[|redis:\/\//, 'the npm command\'s help lists only what it does');
  // No arguments: the help on stderr, exit 2, as natively.
  same('swcache-manifest', []);
});

test('commands: a relative symlink inside a linked directory is followed the same way by both', () => {
  // A deploy layout: current -> releases/v2, whose links point up into releases/.
  const files = {
    'site/releases/v2/index.html': 'x', 'site/releases/common/c.css': 'y', 'site/releases/shared/logo.svg': 'z',
    'site/releases/v2/common': { link: '../common' }, 'site/releases/v2/logo.svg': { link: '../shared/logo.svg' },
    'site/current': { link: 'releases/v2' },
  };
  const r = same('swcache-manifest', ['site', '--include', 'current/**'], files);
  assert.equal(r.status, 0, r.stderr);
  const urls = JSON.parse(r.stdout).map((e) => e.url);
  assert.deepEqual(urls, ['/current/common/c.css', '/current/index.html', '/current/logo.svg']);
});

test('commands: swcache-manifest agrees with the native command on the native tests\' inputs', () => {
  const cases = [
    ['site'],
    ['site', '--include', '*.{css,js}', '--include', 'blog/**'],
    ['site', '--exclude', '**/*.map', '--exclude', 'blog/**', '--exclude', '?.txt'],
    ['site', '--include', '**/*.html', '--include', '.htaccess', '--include', '**/.draft.html'],
    ['site', '--include', '.git/**', '--include', '*.css', '--exclude', '**/config'],
    ['site', '--hashed', 'assets/*.??????.js', '--hashed', '*.min.js', '--exclude', '**/*.map'],
    ['site', '--include', 'assets/**', '--hashed', '**/*'],
    ['site', '--include', '*.css', '--include', 'blgo/**'],
    ['site', '--prefix', '/static'],
    ['site', '--prefix=/a%20b/', '--format', 'js'],
    ['site', '--output', 'm.json'],
    ['site', '--output', 'site/swcache-manifest.js'],
    ['site', '--output', 'm.js', '--format', 'json'],
    ['site', '--inject', 'sw.src.js', '--output', 'site/sw.js'],
    ['site', '--', '--weird'],
    // Refusals: exit 2 (arguments, selection) or 1 (files), nothing written.
    ['site', '--include', '*.php'],
    ['site', '--exclude', '**/*'],
    ['missing'],
    ['site/index.html'],
    ['site', '--frobnicate'],
    ['site', '--include'],
    ['site', 'site'],
    ['site', '--include', '/abs/*.js'],
    ['site', '--exclude', 'blog/'],
    ['site', '--prefix', 'static/'],
    ['site', '--prefix', 'https://cdn.example.com/'],
    ['site', '--prefix', '/a/', '--prefix', '/b/'],
    ['site', '--format', 'yaml'],
    ['site', '--inject', 'sw.src.js', '--format', 'js'],
    ['site', '--inject', 'none.js'],
    ['site', '--inject', 'twice.js'],
    ['site', '--inject', 'missing.js'],
    ['site', '--inject', 'site/blog'],
    ['site', '--output', 'no/such/dir/m.json'],
  ];
  const statuses = new Set();
  for (const args of cases) statuses.add(same('swcache-manifest', args).status);
  assert.deepEqual([...statuses].sort(), [0, 1, 2], 'successes and both kinds of failure were compared');
  // In place: the worker script inside DIR is rewritten, and not listed.
  const inPlace = same('swcache-manifest', ['site', '--inject', 'site/sw.js'],
    { ...SITE, 'site/sw.js': SITE['sw.src.js'] });
  assert.equal(inPlace.status, 0, inPlace.stderr);
  assert.match(inPlace.files['site/sw.js'], /precache: \[\n {2}\{"url":"\/Z\.txt","revision":"[0-9a-f]{16}"\}/);
});

test('commands: swcache-manifest agrees on 1,000 files and on the 10,000-file limit', () => {
  const files = {};
  for (let i = 0; i < 1000; i++) files[`big/d${i % 10}/f${i}.html`] = `page ${i} `.repeat(1 + (i % 50));
  const ok = same('swcache-manifest', ['big', '--prefix', '/p/'], files);
  assert.equal(ok.stdout.split('\n').length, 1003);
  const many = {};
  for (let i = 0; i < 10001; i++) many[`many/${i % 100}/${i}`] = '';
  const refused = same('swcache-manifest', ['many'], many);
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, /more than 10000 files/);
});

/** Feed epochs are random, and `init` names its own. */
const epochs = (s) => s.replace(/"epoch":"[0-9a-f]+"/g, '"epoch":"E"').replace(/epoch [0-9a-f]+/g, 'epoch E');

test('commands: swcache-feed agrees with the native command (add, show, compact, init, refusals)', () => {
  const ts = ['--timestamp', '2026-01-02T03:04:05Z'];
  // A feed built by each, step by step, ends byte for byte the same (epoch aside).
  const steps = [
    ['init', '--feed', 'f.json'],
    ['add', '--feed', 'f.json', '--url', '/promo/summer?x=1', ...ts],
    ['add', '--feed', 'f.json', '--prefix', '/promo/', '--tag', 'price-7', '--route', 'pages', ...ts],
    ['add', '--feed', 'f.json', '--all', ...ts, '--idempotency-key', 'k-1'],
    ['add', '--feed', 'f.json', '--all', ...ts, '--idempotency-key', 'k-1'],
    ['show', '--store', 'file:f.json'],
    ['compact', '--feed', 'f.json', '--keep', '1'],
    ['show', '--feed', 'f.json'],
  ];
  const dirs = {};
  for (const kind of ['native', 'npm']) {
    dirs[kind] = fs.mkdtempSync(path.join(project, `feed-${kind}-`));
  }
  for (const args of steps) {
    const [a, b] = ['native', 'npm'].map((k) => {
      const r = run(k, 'swcache-feed', args, dirs[k]);
      // (A relative path is said as the absolute one: each build works in its own directory.)
      const here = (t) => t.replaceAll(dirs[k], '<dir>');
      return { status: r.status, stdout: epochs(here(r.stdout)), stderr: here(r.stderr) };
    });
    assert.deepEqual(b, a, `swcache-feed ${args.join(' ')}`);
    assert.equal(a.status, 0, a.stderr);
    const note = 'swcache-feed: file:f.json is <dir>/f.json (a relative path is from the working directory)\n';
    if (args[0] === 'init') assert.match(a.stdout, /^feed file:<dir>\/f\.json: /);
    else assert.equal(a.stderr, note, `swcache-feed ${args.join(' ')}: where the relative feed is`);
  }
  const files = (k) => Object.fromEntries(Object.entries(snapshot(dirs[k]))
    .filter(([f]) => !f.endsWith('.lock')) // the native command's flock file
    .map(([f, t]) => [f, epochs(t).replace(/"saved":[0-9.]+/g, '"saved":T')]));
  assert.deepEqual(files('npm'), files('native'), 'the feed and its keys file');
  assert.deepEqual(Object.keys(files('npm')).sort(), ['f.json', 'f.keys'], 'no lock mark or temporary file left');

  // tests/feed_cli.rs's refusals: exit 2, a clear message, the feed unchanged.
  for (const args of [
    ['add', '--url', 'https://cdn.example/a'], ['add', '--prefix', 'promo'], ['add', '--tag', 'a,b'],
    ['add', '--timestamp', '2999-01-01T00:00:00Z', '--all'], ['add', '--timestamp', 'yesterday', '--all'],
    ['add'], ['frobnicate'], ['add', '--all', '--keep', '0'], ['add', '--all', '--idempotency-key', ''],
    ['add', '--all', '--server', 'http://127.0.0.1:9'], ['show', '--store', 'ftp://x'],
    ['add', '--all', '--server', 'feed.internal:8787', '--token-file', 'token'],
  ]) {
    const store = args.includes('--store') ? [] : ['--feed', 'f.json'];
    const r = same('swcache-feed', [...args, ...store], { 'f.json': fs.readFileSync(path.join(dirs.native, 'f.json'), 'utf8') });
    // (A --store that names no store is a bad argument too.)
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^swcache-feed: /);
  }
  // A broken feed is not written over.
  const broken = same('swcache-feed', ['add', '--all', '--feed', 'f.json'], { 'f.json': '{ not json' });
  assert.equal(broken.status, 1);
  assert.match(broken.stderr, /not JSON/);
  assert.equal(broken.files['f.json'], '{ not json');
  // A feed that does not exist.
  const none = same('swcache-feed', ['show', '--feed', 'nope.json'], { 'x': '' });
  assert.equal(none.status, 1);
  assert.equal(none.stderr, 'swcache-feed: file:<dir>/nope.json: no such feed\n');
  // What only the native command does is refused by the npm one, with what to do instead.
  for (const args of [['serve', '--insecure-no-token'], ['show', '--store', 'redis://127.0.0.1:6379/0']]) {
    const r = run('npm', 'swcache-feed', args, project);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /native swcache-feed's; this npm command writes file: stores and publishes through a running service/);
  }
  for (const k of Object.values(dirs)) fs.rmSync(k, { recursive: true, force: true });
});

test('commands: npm and native publishers writing one feed file at once lose no entry', async () => {
  const dir = fs.mkdtempSync(path.join(project, 'concurrent-'));
  const one = (kind, i) => new Promise((resolve, reject) => {
    const exe = kind === 'npm' ? path.join(project, 'node_modules', '.bin', 'swcache-feed') : path.join(NATIVE, 'swcache-feed');
    const child = spawn(exe, ['add', '--feed', 'feed.json', '--url', `/${kind}/${i}`], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${kind} ${i}: exit ${code}: ${err}`))));
  });
  const jobs = [];
  for (let i = 0; i < 10; i++) jobs.push(one('npm', i), one('native', i));
  await Promise.all(jobs);
  const f = JSON.parse(fs.readFileSync(path.join(dir, 'feed.json'), 'utf8'));
  assert.equal(f.seq, 20);
  assert.equal(f.entries.length, 20);
  const urls = f.entries.flatMap((e) => e.urls).sort();
  const want = [];
  for (let i = 0; i < 10; i++) want.push(`/native/${i}`, `/npm/${i}`);
  assert.deepEqual(urls, want.sort(), 'every entry of both kinds of publisher is in the feed');
  assert.deepEqual(f.entries.map((e) => e.seq), Array.from({ length: 20 }, (_, i) => i + 1));
  assert.deepEqual(fs.readdirSync(dir).sort(), ['feed.json', 'feed.lock'], 'no mark or temporary file left behind');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('commands: a lock mark left by a publisher that died is taken over once stale', () => {
  const dir = fs.mkdtempSync(path.join(project, 'stale-'));
  fs.writeFileSync(path.join(dir, 'feed.writer'), 'wasi 1234\n');
  const old = new Date(Date.now() - 11_000);
  fs.utimesSync(path.join(dir, 'feed.writer'), old, old);
  const r = run('npm', 'swcache-feed', ['add', '--feed', 'feed.json', '--all'], dir);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '1\n');
  assert.deepEqual(fs.readdirSync(dir), ['feed.json']);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('commands: swcache-feed add --server publishes through a running service, as the native command does', async () => {
  const dir = fs.mkdtempSync(path.join(project, 'server-'));
  fs.writeFileSync(path.join(dir, 'token'), '# publish token\n0123456789abcdef-token\n');
  fs.writeFileSync(path.join(dir, 'wrong'), 'not-the-token-0123456789\n');
  const port = await new Promise((resolve) => {
    const s = http.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
  const serve = spawn(path.join(NATIVE, 'swcache-feed'), ['serve', '--store', `file:${path.join(dir, 'feed.json')}`,
    '--listen', `127.0.0.1:${port}`, '--token-file', path.join(dir, 'token')], { cwd: dir, stdio: 'ignore' });
  try {
    const server = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      const up = await fetch(`${server}/healthz`).then((r) => r.ok, () => false);
      if (up) break;
      if (i > 100) throw new Error('swcache-feed serve did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
    const add = (kind, ...args) => run(kind, 'swcache-feed', ['add', '--server', server, ...args], dir);
    const ok = add('npm', '--token-file', 'token', '--url', '/promo/a', '--idempotency-key', 'deploy-7');
    assert.deepEqual(ok, { status: 0, stdout: '1\n', stderr: '' });
    assert.deepEqual(add('npm', '--token-file', 'token', '--url', '/promo/a', '--idempotency-key', 'deploy-7'), ok, 'a retry publishes once');
    assert.deepEqual(add('native', '--token-file', 'token', '--tag', 'x'), { status: 0, stdout: '2\n', stderr: '' });
    assert.deepEqual(add('npm', '--token-file', 'token', '--tag', 'y'), { status: 0, stdout: '3\n', stderr: '' });
    // The service's refusals, word for word as natively.
    assert.deepEqual(add('npm', '--token-file', 'wrong', '--all'), add('native', '--token-file', 'wrong', '--all'));
    assert.match(add('npm', '--token-file', 'wrong', '--all').stderr, /^swcache-feed: http:\/\/127\.0\.0\.1:\d+ answered 401 Unauthorized: /);
    // A token file that is not there, and a service that is not there.
    assert.deepEqual(add('npm', '--token-file', 'missing', '--all'), add('native', '--token-file', 'missing', '--all'));
    const down = run('npm', 'swcache-feed', ['add', '--server', 'http://127.0.0.1:9', '--token-file', 'token', '--all'], dir);
    assert.equal(down.status, 1);
    assert.match(down.stderr, /^swcache-feed: http:\/\/127\.0\.0\.1:9: error sending request for url \(http:\/\/127\.0\.0\.1:9\/v1\/entries\)/);
    const feed = JSON.parse(fs.readFileSync(path.join(dir, 'feed.json'), 'utf8'));
    assert.deepEqual(feed.entries.map((e) => e.seq), [1, 2, 3]);
  } finally {
    serve.kill('SIGTERM');
    await new Promise((r) => serve.once('exit', r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
