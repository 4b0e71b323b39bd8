// swcache/build: injectManifest() for any bundler or a post-build script. It runs
// swcache-manifest (the package's WebAssembly build of the Rust command, in-process) over
// the build directory and writes the worker with the precache manifest in place of its
// `self.swcacheManifest`, or refuses with a message naming the option, writing nothing.
import fs from 'node:fs';
import path from 'node:path';
import { manifest, injected, withDefaults, SwcacheBuildError } from '../lib/manifest.js';
import { guestPath } from '../lib/wasi.js';

export { SwcacheBuildError };

const NAMES = {
  '--include': 'globPatterns', '--exclude': 'globIgnores', '--hashed': 'hashed', '--prefix': 'prefix',
  '--max-file-size': 'maxFileSize', '--warn-size': 'warnSize', '--inject': 'swSrc', '--output': 'swDest',
  DIR: 'globDirectory',
};

const OPTIONS = {
  swSrc: 'path', swDest: 'path', globDirectory: 'path', globPatterns: 'globs', globIgnores: 'globs', hashed: 'globs',
  prefix: 'string', maxFileSize: 'size', warnSize: 'size|false', cwd: 'path', logger: 'logger|false',
};

const fail = (msg) => { throw new SwcacheBuildError(`swcache injectManifest: ${msg}`, 2); };

/** The closest known option name to a misspelt one, if any is close. */
function closest(name) {
  const d = (a, b) => {
    const m = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      let prev = m[0];
      m[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const t = m[j];
        m[j] = Math.min(m[j] + 1, m[j - 1] + 1, prev + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
        prev = t;
      }
    }
    return m[b.length];
  };
  const best = Object.keys(OPTIONS).map((k) => [d(name, k), k]).sort((x, y) => x[0] - y[0])[0];
  return best[0] <= 3 ? best[1] : null;
}

function check(options) {
  if (!options || typeof options !== 'object') fail('takes one object: {swSrc, swDest, globDirectory, ...}');
  for (const [key, value] of Object.entries(options)) {
    const kind = OPTIONS[key];
    if (!kind) {
      const near = closest(key);
      fail(`'${key}' is not an option${near ? `: did you mean '${near}'?` : ''} (options: ${Object.keys(OPTIONS).join(', ')})`);
    }
    if (value === undefined) continue;
    const ok = {
      path: () => typeof value === 'string' && value !== '',
      string: () => typeof value === 'string',
      globs: () => Array.isArray(value) && value.every((g) => typeof g === 'string'),
      size: () => (typeof value === 'number' && value >= 0 && Number.isFinite(value)) || typeof value === 'string',
      'size|false': () => value === false || (typeof value === 'number' && value >= 0 && Number.isFinite(value)) || typeof value === 'string',
      'logger|false': () => value === false || (value && typeof value.warn === 'function' && typeof value.info === 'function'),
    }[kind]();
    if (!ok) {
      const want = { path: 'a non-empty path', string: 'a string', globs: 'an array of glob strings', size: 'a number of bytes or a size such as \'2MB\'',
        'size|false': 'a number of bytes, a size such as \'5MB\', or false', 'logger|false': 'an object with info() and warn(), or false' }[kind];
      fail(`option '${key}' must be ${want}, got ${JSON.stringify(value)}`);
    }
  }
  for (const key of ['swSrc', 'swDest', 'globDirectory']) if (options[key] === undefined) fail(`option '${key}' is required`);
}

/**
 * Lists the files under `globDirectory` (sorted, each with a content revision, or `null`
 * for those matching `hashed`) and writes `swSrc` to `swDest` with the list in place of
 * its one `self.swcacheManifest`. See the README's "swcache/build".
 */
export async function injectManifest(options) {
  check(options);
  const o = withDefaults({ globPatterns: [], globIgnores: ['**/*.map'], hashed: [], prefix: '/', warnSize: '5MB' }, options);
  const cwd = path.resolve(o.cwd || process.cwd());
  const swSrc = path.resolve(cwd, o.swSrc);
  const swDest = path.resolve(cwd, o.swDest);
  const args = [guestPath(path.resolve(cwd, o.globDirectory))];
  for (const g of o.globPatterns) args.push('--include', g);
  for (const g of o.globIgnores) args.push('--exclude', g);
  for (const g of o.hashed) args.push('--hashed', g);
  args.push('--prefix', o.prefix, '--inject', guestPath(swSrc));
  // The first directory made for swDest (as webpack and other bundlers do for their
  // output, it may not exist yet), removed again if the command refuses.
  let made;
  if (swDest !== swSrc) {
    args.push('--output', guestPath(swDest));
    try {
      made = fs.mkdirSync(path.dirname(swDest), { recursive: true });
    } catch (e) {
      const why = e.code === 'EEXIST' || e.code === 'ENOTDIR' ? 'a file is where a directory should be' : e.code;
      fail(`swDest ${o.swDest}: its directory cannot be made (${why})`);
    }
  }
  if (o.maxFileSize !== undefined) args.push('--max-file-size', String(o.maxFileSize));
  args.push('--warn-size', o.warnSize === false ? 'none' : String(o.warnSize));
  let before;
  try {
    before = fs.readFileSync(swSrc, 'utf8');
  } catch {
    // swcache-manifest says why, in its words.
  }
  let r;
  try {
    r = await manifest(args, { cwd, names: NAMES, context: 'swcache injectManifest' });
  } catch (e) {
    // Nothing was written: each directory made, innermost first, goes if still empty.
    for (let d = path.dirname(swDest); made && d.length >= made.length; d = path.dirname(d)) {
      try {
        fs.rmdirSync(d);
      } catch {
        break;
      }
    }
    throw e;
  }
  const entries = injected(before, fs.readFileSync(swDest, 'utf8'));
  const logger = o.logger === undefined ? { info: (m) => console.log(m), warn: (m) => console.warn(m) } : o.logger;
  if (logger) {
    for (const w of r.warnings) logger.warn(`swcache: ${w}`);
    logger.info(`swcache: ${r.summary}`);
  }
  return { swDest, entries, count: entries.length, warnings: r.warnings };
}
