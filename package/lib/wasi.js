// Runs the package's commands, swcache-manifest and swcache-feed: the Rust commands of
// the swcache repository built for wasm32-wasip1 (cli/*.wasm), run by Node's WASI. So a
// site's build needs no Rust toolchain, and the commands behave as the native ones do
// (same flags, output and exit status; one code base).
//
// The module sees the whole file system as the process does (`/` preopened, the working
// directory passed as PWD): node:wasi is no sandbox, and these are the site's own build
// commands. `swcache-feed add --server` is the one thing WASI cannot do (no sockets): the
// module checks the arguments and writes the request, this file sends it with fetch()
// and runs the module again with the answer, which it prints as the native command does.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { STATUS_CODES } from 'node:http';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../cli/', import.meta.url));
/** The exit status with which swcache-feed asks for its --server request to be made. */
const ASK = 75;
const compiled = new Map();
let WASI;

/** node:wasi, without its ExperimentalWarning (a message about Node, not about the site). */
async function wasiClass() {
  if (WASI) return WASI;
  const emit = process.emitWarning;
  process.emitWarning = function (warning, ...rest) {
    const type = typeof rest[0] === 'string' ? rest[0] : rest[0]?.type;
    if (type === 'ExperimentalWarning' && /WASI/.test(String(warning?.message || warning))) return;
    return emit.call(this, warning, ...rest);
  };
  try {
    ({ WASI } = await import('node:wasi'));
  } finally {
    process.emitWarning = emit;
  }
  return WASI;
}

/** A path as the module sees it: POSIX, under the preopened root. Every path argument the
 * JavaScript APIs pass (they resolve them: `C:\\site\\dist` on Windows) goes through it. */
export function guestPath(p) {
  if (process.platform !== 'win32') return p;
  return '/' + path.relative(path.parse(p).root, p).split(path.sep).join('/');
}

/**
 * Runs command `name` ('swcache-manifest' or 'swcache-feed') with `args`; resolves with
 * its exit status. `stdout`/`stderr` are file descriptors (default: the process's own);
 * `env` adds variables (the module gets no others).
 */
export async function run(name, args, { cwd = process.cwd(), env = {}, stdout = 1, stderr = 2 } = {}) {
  const Wasi = await wasiClass();
  let module = compiled.get(name);
  if (!module) {
    const file = path.join(CLI, `${name}.wasm`);
    module = WebAssembly.compile(fs.readFileSync(file));
    compiled.set(name, module);
  }
  const root = process.platform === 'win32' ? path.parse(path.resolve(cwd)).root : '/';
  const wasi = new Wasi({
    version: 'preview1',
    args: [name, ...args],
    env: { ...env, PWD: guestPath(path.resolve(cwd)) },
    preopens: { '/': root },
    stdin: 0,
    stdout,
    stderr,
    returnOnExit: true,
  });
  const instance = await WebAssembly.instantiate(await module, wasi.getImportObject());
  try {
    return wasi.start(instance);
  } catch (e) {
    // A panic (a bug): the native command would exit with 101 after its message.
    fs.writeSync(stderr, `${name}: internal error: ${e?.message || e}\n`);
    return 101;
  }
}

/** The --server request swcache-feed asked for, made; what the module reads back. */
async function send(request) {
  const headers = { authorization: `Bearer ${request.token}`, 'content-type': 'application/json' };
  if (request.key != null) headers['idempotency-key'] = request.key;
  try {
    // A redirect is not followed (fetch would send a 301/302's POST on as a GET, and drop
    // the token on the way to another origin): the module names it, as natively.
    const res = await fetch(request.url, { method: 'POST', headers, body: request.body, redirect: 'manual', signal: AbortSignal.timeout(30000) });
    const reason = STATUS_CODES[res.status] || '<unknown status code>';
    return { ok: res.ok, status: `${res.status} ${reason}`, body: await res.text(), location: res.headers.get('location') };
  } catch (e) {
    const cause = e?.cause;
    const why = e && e.name === 'TimeoutError' ? 'no answer within 30 s' : (cause && (cause.code || cause.message)) || e?.message || String(e);
    return { error: `error sending request for url (${request.url}): ${why}` };
  }
}

/** A `bin` entry: runs command `name` with the process's arguments and exits with its status. */
export async function main(name) {
  const args = process.argv.slice(2);
  let code;
  if (name === 'swcache-feed') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swcache-feed-'));
    try {
      const file = path.join(dir, 'request.json');
      code = await run(name, args, { env: { SWCACHE_HOST_REQUEST: guestPath(file) } });
      if (code === ASK && fs.existsSync(file)) {
        const answer = await send(JSON.parse(fs.readFileSync(file, 'utf8')));
        fs.rmSync(file);
        code = await run(name, args, { env: { SWCACHE_HOST_ANSWER: JSON.stringify(answer) } });
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  } else {
    code = await run(name, args);
  }
  process.exitCode = code;
}
