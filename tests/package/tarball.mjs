// What the package tests share: the tarball of this version (packed again when anything
// it holds is newer), installed into a scratch directory the way a site installs it, and
// an environment in which no Rust toolchain is reachable.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { cargoVersion, manifest, pack, source, OUT, ROOT } from '../../package/pack.mjs';

export { ROOT };

/** target/package/swcache-<version>.tgz, packed again when a file it holds is newer. */
export function tarball() {
  const file = path.join(OUT, `swcache-${cargoVersion()}.tgz`);
  const sources = [path.join(ROOT, 'package', 'package.json'), ...manifest().files.map((f) => source(f))];
  const newest = Math.max(...sources.map((f) => (fs.existsSync(f) ? fs.statSync(f).mtimeMs : Infinity)));
  if (!fs.existsSync(file) || fs.statSync(file).mtimeMs < newest) return pack().path;
  return file;
}

/** A scratch directory (removed by the caller) with package.json `{name}`. */
export function scratchProject(name, extra = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `swcache-${name}-`));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, private: true, ...extra }, null, 2));
  return dir;
}

/** `npm install` of the tarball into `dir` (offline: the package has no dependencies). */
export function installTarball(dir, { save = true } = {}) {
  const args = ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error', ...(save ? [] : ['--no-save']), tarball()];
  execFileSync('npm', args, { cwd: dir, stdio: 'pipe' });
}

/**
 * An environment whose PATH holds only node, npm, npx and sh (symlinks in a directory of
 * their own): no cargo, rustc or rustup, nor anything else of a Rust toolchain. `dir` is
 * where the symlinks go.
 */
export function withoutRust(dir) {
  const bin = path.join(dir, 'path-without-rust');
  fs.mkdirSync(bin, { recursive: true });
  const which = (name) => spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim();
  for (const name of ['node', 'npm', 'npx', 'sh']) {
    const target = name === 'node' ? process.execPath : which(name);
    if (!target) throw new Error(`${name} is not on the PATH`);
    if (!fs.existsSync(path.join(bin, name))) fs.symlinkSync(target, path.join(bin, name));
  }
  const env = { ...process.env, PATH: bin };
  for (const k of Object.keys(env)) if (/^(CARGO|RUSTUP|RUSTC)/.test(k)) delete env[k];
  return env;
}

/** The Vite fixture site (tests/package/vite-site). */
export const VITE_SITE = path.join(ROOT, 'tests/package/vite-site');

/**
 * A scratch Vite project in `work`/site: the fixture copied, Vite installed from its own
 * lockfile (`npm ci`, Vite pinned), this version's tarball beside it. Returns its path.
 */
export function viteProject(work) {
  const project = path.join(work, 'site');
  fs.cpSync(VITE_SITE, project, { recursive: true, filter: (src) => !src.includes(`${path.sep}node_modules`) });
  execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: project, stdio: 'pipe' });
  installTarball(project, { save: false });
  return project;
}
