// swcache-manifest run in-process for the JavaScript APIs (swcache/build's
// injectManifest, the swcache/vite plugin): the same WebAssembly command as
// `npx swcache-manifest`, its stderr read back and its flags renamed to the API's option
// names in what it says.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from './wasi.js';

/** A refusal of swcache-manifest's (bad options, nothing selected, a file too big, no
 * placeholder...): nothing was written. `status` is the command's exit status (1 or 2). */
export class SwcacheBuildError extends Error {
  constructor(message, status) {
    super(message);
    this.name = 'SwcacheBuildError';
    this.status = status;
  }
}

/** `options` over `defaults`; an option given as undefined takes its default, as one not
 * given does (`prefix: process.env.BASE`). */
export function withDefaults(defaults, options) {
  return { ...defaults, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
}

const PREFIX = 'swcache-manifest: ';

/**
 * Runs swcache-manifest with `args` in `cwd`. `names` maps its flags (and `DIR`) to the
 * caller's option names. Resolves `{stdout, warnings, summary}`; rejects with a
 * SwcacheBuildError carrying the command's message.
 */
export async function manifest(args, { cwd = process.cwd(), names = {}, context = 'swcache' } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swcache-manifest-'));
  const out = path.join(dir, 'stdout');
  const err = path.join(dir, 'stderr');
  const fds = [fs.openSync(out, 'w'), fs.openSync(err, 'w')];
  let status, stdout, stderr;
  try {
    status = await run('swcache-manifest', args, { cwd, stdout: fds[0], stderr: fds[1] });
  } finally {
    for (const fd of fds) fs.closeSync(fd);
    stdout = fs.readFileSync(out, 'utf8');
    stderr = fs.readFileSync(err, 'utf8');
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const rename = (text) => {
    let t = text.replace(/\n\(see swcache-manifest --help\)$/, '');
    for (const [flag, name] of Object.entries(names)) {
      t = t.replace(new RegExp(`(^|[^\\w-])${flag.replace(/[-]/g, '\\-')}(?![\\w-])`, 'g'), `$1${name}`);
    }
    return t;
  };
  // Lines that start with the command's name begin a message; others continue it.
  const messages = [];
  for (const line of stderr.replace(/\n$/, '').split('\n')) {
    if (line.startsWith(PREFIX) || !messages.length) messages.push(line.startsWith(PREFIX) ? line.slice(PREFIX.length) : line);
    else messages[messages.length - 1] += '\n' + line;
  }
  const warnings = messages.filter((m) => m.startsWith('warning: ')).map((m) => rename(m.slice('warning: '.length)));
  const others = messages.filter((m) => m && !m.startsWith('warning: '));
  if (status !== 0) throw new SwcacheBuildError(`${context}: ${rename(others.join('\n') || `swcache-manifest exited with ${status}`)}`, status);
  return { stdout, warnings, summary: others.join('\n') };
}

/** The JSON array swcache-manifest put in place of the placeholder: what `after` has where `before` differs. */
export function injected(before, after) {
  let p = 0;
  while (p < before.length && p < after.length && before[p] === after[p]) p++;
  let q = 0;
  while (q < before.length - p && q < after.length - p && before[before.length - 1 - q] === after[after.length - 1 - q]) q++;
  return JSON.parse(after.slice(p, after.length - q));
}
