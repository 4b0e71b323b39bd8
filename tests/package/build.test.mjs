// swcache/build's injectManifest() from the installed tarball, resolved as a site resolves
// it (the package's `exports`): the manifest it injects is the native swcache-manifest's
// for the same options, content-hashed names get revision null, and bad input (no
// injection point, two, globs that select nothing, a file over maxFileSize, a misspelt
// option) is refused with a message naming the option, nothing written.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { ROOT, installTarball, scratchProject } from './tarball.mjs';

let project, build;

const SW = "importScripts('/swcache/swcache-sw.js');\nswcache.start({\n  version: 'v3',\n  precache: ['/', ...self.swcacheManifest],\n});\n";

/** A fresh build directory (`out/`, as a Next.js static export writes it) and worker source. */
function site(name, extra = {}) {
  const dir = path.join(project, name);
  const files = {
    'out/index.html': '<h1>home</h1>', 'out/about/index.html': '<h1>about</h1>',
    'out/_next/static/chunks/main-3f9a1c2b.js': 'main()', 'out/_next/static/chunks/main-3f9a1c2b.js.map': '{}',
    'out/logo.svg': '<svg/>', 'src/sw.js': SW, ...extra,
  };
  for (const [p, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
    fs.writeFileSync(path.join(dir, p), text);
  }
  return dir;
}

before(async () => {
  project = scratchProject('build-api');
  installTarball(project);
  const require = createRequire(path.join(project, 'package.json'));
  const entry = require.resolve('swcache/build');
  assert.equal(entry, path.join(project, 'node_modules/swcache/build/index.js'));
  build = await import(pathToFileURL(entry));
});

after(() => {
  if (project) fs.rmSync(project, { recursive: true, force: true });
});

/** Collects what injectManifest logs. */
function logger() {
  const log = { info: [], warn: [] };
  return { log, logger: { info: (m) => log.info.push(m), warn: (m) => log.warn.push(m) } };
}

test('build: injectManifest writes the worker with the native command\'s manifest for the same globs', async () => {
  const dir = site('ok');
  const { log, logger: l } = logger();
  const r = await build.injectManifest({
    swSrc: 'src/sw.js', swDest: 'out/sw.js', globDirectory: 'out', hashed: ['_next/static/**'], cwd: dir, logger: l,
  });
  assert.equal(r.swDest, path.join(dir, 'out/sw.js'));
  assert.deepEqual(r.entries.map((e) => e.url), ['/_next/static/chunks/main-3f9a1c2b.js', '/about/index.html', '/index.html', '/logo.svg'],
    'sorted by path; the source map left out (globIgnores default); the worker not listed');
  assert.equal(r.entries[0].revision, null, 'a content-hashed name: fetched once');
  assert.ok(r.entries.slice(1).every((e) => /^[0-9a-f]{16}$/.test(e.revision)));
  assert.equal(r.count, 4);
  assert.deepEqual(r.warnings, []);
  assert.deepEqual(log.warn, []);
  assert.match(log.info[0], /^swcache: 4 files \(1 content-hashed\), \d+ B, written to .*out\/sw\.js \(.*src\/sw\.js with the manifest injected\)$/);
  // The worker: the placeholder replaced by the very array the native command prints.
  const native = execFileSync(path.join(ROOT, 'target/release/swcache-manifest'),
    ['out', '--exclude', '**/*.map', '--exclude', 'sw.js', '--hashed', '_next/static/**'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  assert.equal(fs.readFileSync(path.join(dir, 'out/sw.js'), 'utf8'), SW.replace('self.swcacheManifest', native.trim()));
  assert.equal(fs.readFileSync(path.join(dir, 'src/sw.js'), 'utf8'), SW, 'the source is left as it is, so the build can run again');
  // Again after one file changed: only its entry changes.
  fs.writeFileSync(path.join(dir, 'out/about/index.html'), '<h1>about us</h1>');
  const again = await build.injectManifest({ swSrc: 'src/sw.js', swDest: 'out/sw.js', globDirectory: 'out', hashed: ['_next/static/**'], cwd: dir, logger: false });
  const changed = again.entries.filter((e, i) => e.revision !== r.entries[i].revision).map((e) => e.url);
  assert.deepEqual(changed, ['/about/index.html']);
});

test('build: in place, with include globs, a prefix, and a warning with the biggest files over warnSize', async () => {
  const dir = site('in-place', { 'out/sw.js': SW, 'out/video.mp4': 'v'.repeat(6000) });
  const { log, logger: l } = logger();
  const r = await build.injectManifest({
    swSrc: 'out/sw.js', swDest: 'out/sw.js', globDirectory: 'out', globPatterns: ['**/*.{html,mp4}'], prefix: '/site/',
    warnSize: '5kB', cwd: dir, logger: l,
  });
  assert.deepEqual(r.entries.map((e) => e.url), ['/site/about/index.html', '/site/index.html', '/site/video.mp4']);
  assert.equal(log.warn.length, 1);
  assert.match(log.warn[0], /^swcache: the precache is 6\.0 kB in 3 files, over warnSize 5\.0 kB: a first visit downloads all of it\. The biggest: video\.mp4 \(6\.0 kB\), about\/index\.html \(14 B\), index\.html \(13 B\); leave out what a first visit does not need \(globIgnores\), or raise warnSize$/);
  assert.deepEqual(r.warnings, [log.warn[0].slice('swcache: '.length)]);
  assert.match(fs.readFileSync(path.join(dir, 'out/sw.js'), 'utf8'), /precache: \['\/', \.\.\.\[\n {2}\{"url":"\/site\/about\/index\.html"/);
  assert.match(log.info[0], /injected into .*out\/sw\.js$/);
});

test('build: an option given as undefined takes its default', async () => {
  const dir = site('undefined-options');
  const r = await build.injectManifest({
    swSrc: 'src/sw.js', swDest: 'out/sw.js', globDirectory: 'out', hashed: ['_next/static/**'], cwd: dir, logger: false,
    globPatterns: undefined, globIgnores: undefined, prefix: undefined, maxFileSize: undefined, warnSize: undefined,
  });
  assert.deepEqual(r.entries.map((e) => e.url), ['/_next/static/chunks/main-3f9a1c2b.js', '/about/index.html', '/index.html', '/logo.svg'],
    'every file but the source map, under /');
});

test('build: bad input is refused with a message naming the option, and nothing is written', async () => {
  const refuse = async (name, files, options, status, pattern) => {
    const dir = site(name, files);
    const before = JSON.stringify(fs.readdirSync(path.join(dir, 'out'), { recursive: true }).sort());
    const src = fs.readFileSync(path.join(dir, 'src/sw.js'), 'utf8');
    await assert.rejects(
      build.injectManifest({ swSrc: 'src/sw.js', swDest: 'out/sw.js', globDirectory: 'out', cwd: dir, logger: false, ...options }),
      (e) => {
        assert.ok(e instanceof build.SwcacheBuildError, `${name}: ${e?.stack}`);
        assert.equal(e.status, status, `${name}: ${e.message}`);
        assert.match(e.message, pattern, name);
        assert.doesNotMatch(e.message, /--help|--[a-z]/, `${name}: the API's option names, not the command's flags: ${e.message}`);
        return true;
      });
    assert.equal(JSON.stringify(fs.readdirSync(path.join(dir, 'out'), { recursive: true }).sort()), before, `${name}: nothing written`);
    assert.equal(fs.readFileSync(path.join(dir, 'src/sw.js'), 'utf8'), src, `${name}: the source untouched`);
  };
  await refuse('no-placeholder', { 'src/sw.js': "swcache.start({ version: 'v1', precache: ['/'] });\n" }, {}, 1,
    /^swcache injectManifest: .*src\/sw\.js: no `self\.swcacheManifest` to replace \(write `precache: self\.swcacheManifest` in the config passed to swcache\.start\(\);/);
  await refuse('two-placeholders', { 'src/sw.js': 'const a = self.swcacheManifest;\nconst b = self.swcacheManifest;\n' }, {}, 1,
    /src\/sw\.js: `self\.swcacheManifest` appears 2 times \(lines 1, 2\); it must appear exactly once$/);
  await refuse('nothing-selected', {}, { globPatterns: ['**/*.php'] }, 2,
    /^swcache injectManifest: no file under .*out is selected by the globs: an empty manifest would precache nothing \(check globDirectory, globPatterns and globIgnores\)$/);
  await refuse('too-big', { 'out/video.mp4': 'v'.repeat(3000) }, { maxFileSize: '2kB' }, 2,
    /^swcache injectManifest: 1 file is bigger than maxFileSize 2\.0 kB: video\.mp4 \(3\.0 kB\); leave it out of the precache \(globIgnores 'video\.mp4'\), or raise maxFileSize$/);
  await refuse('bad-glob', {}, { globIgnores: ['/abs/**'] }, 2, /globIgnores '\/abs\/\*\*': globs are relative to globDirectory \(drop the leading \/\)/);
  await refuse('empty-segment', {}, { hashed: ['_next/static/'] }, 2, /hashed '_next\/static\/' has an empty path segment \(for everything under a directory, write its name and \/\*\*, as in assets\/\*\*\)$/);
  await refuse('bad-prefix', {}, { prefix: 'static/' }, 2, /prefix must be a URL path starting with \//);
  await refuse('misspelt', {}, { globPattern: ['**/*'] }, 2, /^swcache injectManifest: 'globPattern' is not an option: did you mean 'globPatterns'\?/);
  await refuse('wrong-type', {}, { globPatterns: '**/*' }, 2, /option 'globPatterns' must be an array of glob strings, got "\*\*\/\*"/);
  await refuse('missing-option', {}, { globDirectory: undefined }, 2, /option 'globDirectory' is required/);
  await refuse('missing-src', {}, { swSrc: 'src/nope.js' }, 1, /src\/nope\.js: No such file or directory$/);
  await refuse('dest-under-a-file', {}, { swDest: 'out/logo.svg/sw.js' }, 2,
    /^swcache injectManifest: swDest out\/logo\.svg\/sw\.js: its directory cannot be made \(a file is where a directory should be\)$/);
  // swDest in a directory not made yet: a refusal leaves no directory behind either.
  const dir = site('refused-new-dest', {});
  await assert.rejects(build.injectManifest({ swSrc: 'src/sw.js', swDest: 'public-sw/deep/sw.js', globDirectory: 'out',
    globPatterns: ['**/*.php'], cwd: dir, logger: false }), /no file under .*out is selected by the globs/);
  assert.equal(fs.existsSync(path.join(dir, 'public-sw')), false, 'the directories made for swDest are gone again');
});

test('build: swDest in a directory not made yet is written there, and the engine the worker imports is not precached', async () => {
  const dir = site('new-dest', { 'out/swcache/swcache-sw.js': 'engine', 'out/swcache/swcache-page.js': 'page' });
  const r = await build.injectManifest({ swSrc: 'src/sw.js', swDest: 'public-sw/deep/sw.js', globDirectory: 'out', hashed: ['_next/static/**'], cwd: dir, logger: false });
  assert.equal(r.swDest, path.join(dir, 'public-sw/deep/sw.js'));
  assert.ok(fs.readFileSync(r.swDest, 'utf8').includes('"/index.html"'));
  assert.deepEqual(r.entries.map((e) => e.url).filter((u) => u.startsWith('/swcache/')), ['/swcache/swcache-page.js'],
    'the page module is precached, the engine (kept by the browser with the worker) is not');
});
