// The npm package `swcache`: package/package.json is its manifest without a version (the
// version is Cargo.toml's, so the two never disagree). `node package/pack.mjs` stages the
// package in target/package/swcache/ from dist/ (the engine, page module and types), the
// commands built for WASI (target/wasm32-wasip1/cli/*.wasm, staged as cli/), the
// JavaScript in package/ (bin/, lib/: the commands' launchers) and the repo's README.md,
// LICENSE and CHANGELOG.md (run ./build.sh build first), runs `npm pack` there and prints
// the tarball's name, size and files. ./build.sh package does both steps.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const OUT = path.join(ROOT, 'target', 'package');

/** The crate's version: `version = "…"` in Cargo.toml's [package] table. */
export function cargoVersion() {
  const toml = fs.readFileSync(path.join(ROOT, 'Cargo.toml'), 'utf8');
  const table = toml.split(/^\[/m).find((t) => t.startsWith('package]'));
  const m = table?.match(/^version\s*=\s*"([^"]+)"/m);
  if (!m) throw new Error('no version in the [package] table of Cargo.toml');
  return m[1];
}

/** package/package.json with the version from Cargo.toml (right after the name). */
export function manifest() {
  const template = JSON.parse(fs.readFileSync(path.join(ROOT, 'package', 'package.json'), 'utf8'));
  if ('version' in template) throw new Error('package/package.json must not carry a version: it comes from Cargo.toml');
  const { name, ...rest } = template;
  return { name, version: cargoVersion(), ...rest };
}

/**
 * Where a file of the package comes from: `dist/…` is the build's (declarations from
 * types/ with `typesOnly`), `cli/…` the commands built for WASI, a top-level file the
 * repo's, anything else package/'s.
 */
export function source(file, { typesOnly = false } = {}) {
  if (file.startsWith('dist/')) {
    return typesOnly ? path.join(ROOT, 'types', path.basename(file)) : path.join(ROOT, file);
  }
  if (file.startsWith('cli/')) return path.join(ROOT, 'target', 'wasm32-wasip1', 'cli', path.basename(file));
  if (!file.includes('/')) return path.join(ROOT, file);
  return path.join(ROOT, 'package', file);
}

/**
 * Writes the package into `dir` (emptied first): package.json and every path in its
 * `files`. `typesOnly`: only package.json and the declarations (dist/'s from types/: what
 * a type check needs, without a build).
 */
export function stage(dir, { typesOnly = false } = {}) {
  const pkg = manifest();
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
  for (const file of pkg.files) {
    const isTypes = file.endsWith('.d.ts');
    if (typesOnly && !isTypes) continue;
    const from = source(file, { typesOnly });
    if (!fs.existsSync(from)) {
      const built = file.startsWith('dist/') || file.startsWith('cli/');
      throw new Error(`${path.relative(ROOT, from)} is missing${built ? ' (run ./build.sh build)' : ''}`);
    }
    if (!typesOnly && isTypes && file.startsWith('dist/')) {
      const types = source(file, { typesOnly: true });
      if (!fs.readFileSync(from).equals(fs.readFileSync(types))) {
        throw new Error(`${file} differs from types/${path.basename(file)}: dist/ is stale (run ./build.sh build)`);
      }
    }
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.copyFileSync(from, path.join(dir, file));
  }
  return pkg;
}

/** Stages target/package/swcache/ and packs it into target/package/; returns npm pack's report. */
export function pack() {
  const dir = path.join(OUT, 'swcache');
  const pkg = stage(dir);
  for (const old of fs.readdirSync(OUT)) if (old.endsWith('.tgz')) fs.rmSync(path.join(OUT, old));
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', OUT], { cwd: dir, encoding: 'utf8' });
  const [report] = JSON.parse(out);
  const got = report.files.map((f) => f.path).sort();
  const want = ['package.json', ...pkg.files].sort();
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    throw new Error(`the tarball holds ${got.join(', ')}; expected exactly ${want.join(', ')}`);
  }
  return { ...report, path: path.join(OUT, report.filename) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = pack();
  const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
  console.log(`${path.relative(ROOT, r.path)}: ${r.size} bytes (${kb(r.size)}), ${r.unpackedSize} bytes unpacked, ${r.entryCount} files`);
  for (const f of r.files) console.log(`  ${String(f.size).padStart(8)}  ${f.path}`);
}
