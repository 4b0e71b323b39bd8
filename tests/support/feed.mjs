// The invalidation feed on the server side, for tests and the demo: the real feed
// service (`swcache-feed serve`) over a file or a real Redis, and the real `swcache-feed`
// command. A site's test server reaches the service through `proxyFeed` (the worker's
// feed must be same-origin); pages can also read the service's events cross-origin
// (start it with `origin`, which becomes its --cors-origin).
import fs from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import http from 'node:http';
import crypto from 'node:crypto';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { ROOT } from './server.mjs';

export const FEED_BIN = path.join(ROOT, 'target/release/swcache-feed');

/** Runs `swcache-feed add --feed file ...args`; returns the new entry's seq. */
export function publish(file, ...args) {
  return Number(execFileSync(FEED_BIN, ['add', '--feed', file, ...args], { encoding: 'utf8' }).trim());
}

/** A TCP port nothing listens on right now (the OS picks it). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

// Children still running when this process exits (a crash included) get a SIGTERM, and
// temporary directories not removed yet go, so nothing outlives the tests or the demo.
const running = new Set();
const dirs = new Set();
process.on('exit', () => {
  for (const c of running) { try { process.kill(c.pid, 'SIGTERM'); } catch {} }
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A new temporary directory, removed at exit at the latest. */
export function tempDir(prefix) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.add(d);
  return d;
}

/** Removes a directory made by tempDir(). */
export function removeDir(d) {
  fs.rmSync(d, { recursive: true, force: true });
  dirs.delete(d);
}

/** Spawns `cmd` with its output appended to `out(text)`, tracked in `running`. */
export function start(cmd, args, out) {
  const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  running.add(c);
  c.once('exit', () => running.delete(c));
  c.stdout.on('data', out);
  c.stderr.on('data', out);
  return c;
}

/** Resolves once `child` exits (at once if it already has). */
function exited(child) {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));
}

/** SIGTERM to `child` (by its pid), SIGKILL if it is still there after `grace` ms. */
export async function terminate(child, grace = 5000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = exited(child);
  try { process.kill(child.pid, 'SIGTERM'); } catch {}
  const timer = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch {} }, grace);
  await done;
  clearTimeout(timer);
}

/**
 * Polls `ready()` until `child` answers: true once it does, false if the child exits
 * first; after `timeout` ms the child is stopped and this throws, naming `what`.
 */
export async function answers(child, ready, what, timeout = 10000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    if (await ready().catch(() => false)) return true;
    if (Date.now() > deadline) {
      await terminate(child);
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Whether a Redis answers PING on `port`. */
function pong(port) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let got = '';
    sock.setTimeout(1000, () => { sock.destroy(); resolve(false); });
    sock.on('error', () => resolve(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => { got += d; if (got.includes('\r\n')) { sock.destroy(); resolve(got.startsWith('+PONG')); } });
  });
}

/**
 * A real Redis (Debian's redis-server) on a free loopback port with its own temporary
 * directory, persisting as the feed service asks (appendonly, fsync always, no RDB).
 * Returns {url: 'redis://127.0.0.1:PORT/0', port, pid, stop()}.
 */
export async function startRedis() {
  const dir = tempDir('swcache-redis-');
  let log = '';
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const child = start('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
      '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''], (d) => { log = (log + d).slice(-65536); });
    if (!await answers(child, () => pong(port), `redis-server on port ${port}:\n${log}`)) {
      if (attempt < 4) continue; // the port was taken meanwhile: another one
      throw new Error(`redis-server did not start:\n${log}`);
    }
    return {
      url: `redis://127.0.0.1:${port}/0`,
      port,
      pid: child.pid,
      log: () => log,
      async stop() {
        await terminate(child);
        removeDir(dir);
      },
    };
  }
}

let namespaces = 0;

/**
 * Starts the real feed service, `swcache-feed serve`, on a free loopback port with a
 * temporary token file, and waits until its /healthz answers 200 (the store was read).
 * The store is created first (`swcache-feed init`), so workers find a feed at once.
 *
 * Options:
 * - `store`: `'file'` (a feed file in a new temporary directory, the default), `'redis'`
 *   (on `redis`: a startRedis() handle or a redis:// URL; without it a Redis of its own),
 *   or a store URL (`file:PATH`, `redis://…`) to share another instance's store;
 * - `namespace`: the Redis keys' prefix (default: a new one per service, so every
 *   service on a shared Redis starts from an empty feed);
 * - `origin` / `origins`: site origins whose pages may read the feed and the events
 *   cross-origin (--cors-origin); `keep` (--keep); `feedPath` (--feed-path); `args`: more flags.
 *
 * Returns {url, port, token, store, namespace, file, publish(entry, {key}), seq(),
 * health(), terminate(), restart(), stop(), log()}: `publish` POSTs `entry` to
 * /v1/entries with the bearer token and resolves with the service's `{seq, timestamp}`
 * (a refusal rejects with its status and error); `terminate()` stops the process (the
 * store and the port stay), `restart()` starts it again on the same port, `stop()` stops
 * it for good and removes what it created.
 */
export async function startFeedService(opts = {}) {
  const { keep, feedPath, args = [] } = opts;
  const origins = [...(opts.origins || []), ...(opts.origin ? [opts.origin] : [])];
  const dir = tempDir('swcache-service-');
  const token = crypto.randomBytes(24).toString('hex');
  const tokenFile = path.join(dir, 'tokens');
  fs.writeFileSync(tokenFile, token + '\n', { mode: 0o600 });

  let store = opts.store || 'file';
  let ownRedis = null;
  let file = null;
  let namespace = opts.namespace;
  if (store === 'file') {
    file = path.join(dir, 'swcache-feed.json');
    store = 'file:' + file;
  } else if (store === 'redis') {
    if (!opts.redis) ownRedis = await startRedis();
    store = typeof opts.redis === 'string' ? opts.redis : (opts.redis || ownRedis).url;
  } else if (store.startsWith('file:')) {
    file = store.slice('file:'.length);
  }
  if (store.startsWith('redis:') && !namespace) namespace = `swcache-test-${process.pid}-${++namespaces}`;
  const storeArgs = ['--store', store, ...(namespace ? ['--namespace', namespace] : []),
    ...(keep ? ['--keep', String(keep)] : [])];
  execFileSync(FEED_BIN, ['init', ...storeArgs], { encoding: 'utf8' });

  const serveArgs = (port) => ['serve', ...storeArgs, '--listen', `127.0.0.1:${port}`, '--token-file', tokenFile,
    ...origins.flatMap((o) => ['--cors-origin', o]), ...(feedPath ? ['--feed-path', feedPath] : []), ...args];
  let child = null;
  let port = opts.port || 0;
  let log = '';

  async function launch(fixedPort) {
    for (let attempt = 0; ; attempt++) {
      const p = fixedPort || await freePort();
      const c = start(FEED_BIN, serveArgs(p), (d) => { log = (log + d).slice(-65536); });
      const healthy = async () => (await fetch(`http://127.0.0.1:${p}/healthz`)).status === 200;
      if (await answers(c, healthy, `swcache-feed serve on port ${p} to answer /healthz:\n${log}`)) { child = c; port = p; return; }
      // Exited before it answered: a port taken meanwhile gets another try.
      if (!fixedPort && attempt < 4 && /cannot listen/.test(log)) continue;
      throw new Error(`swcache-feed serve did not start:\n${log}`);
    }
  }
  await launch(port);

  const url = () => `http://127.0.0.1:${port}`;
  const svc = {
    get url() { return url(); },
    get port() { return port; },
    /** The service's pid while it runs. */
    get pid() { return child && child.exitCode === null && child.signalCode === null ? child.pid : undefined; },
    token,
    store,
    namespace,
    file,
    log: () => log,
    async publish(entry, { key } = {}) {
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      if (key) headers['idempotency-key'] = key;
      const r = await fetch(url() + '/v1/entries', { method: 'POST', headers, body: JSON.stringify(entry) });
      const body = await r.json().catch(() => ({}));
      if (r.status !== 201 && r.status !== 200) {
        throw Object.assign(new Error(`publish refused: HTTP ${r.status}: ${body.error || JSON.stringify(body)}`), { status: r.status, body });
      }
      return body;
    },
    /** GET /v1/seq: {epoch, seq}. */
    async seq() { return (await fetch(url() + '/v1/seq')).json(); },
    /** GET /healthz: {status, store, seq, clients}. */
    async health() { return (await fetch(url() + '/healthz')).json(); },
    async terminate() { if (child) await terminate(child); },
    async restart() { await svc.terminate(); await launch(port); },
    async stop() {
      await svc.terminate();
      await ownRedis?.stop();
      removeDir(dir);
    },
  };
  return svc;
}

// Hop-by-hop headers a proxy does not pass on.
const HOP = ['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer'];

/**
 * Passes `req` on to `target` (a URL) and streams the answer back (Server-Sent Events
 * included). When the service cannot be reached, a stream's connection is dropped (an
 * EventSource then reconnects; an error status would make it give up for good), and
 * anything else is answered 502.
 */
function forward(req, res, target, stream) {
  const headers = { ...req.headers, host: target.host };
  for (const h of HOP) delete headers[h];
  const up = http.request(target, { method: req.method, headers }, (r) => {
    const h = { ...r.headers };
    for (const k of HOP) delete h[k];
    res.writeHead(r.statusCode, h);
    res.flushHeaders();
    r.pipe(res);
    r.on('error', () => res.destroy());
  });
  up.on('error', () => {
    if (res.headersSent) return res.destroy();
    if (stream) return req.socket.destroy();
    res.writeHead(502, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify({ error: 'the feed service is unreachable' }));
  });
  res.on('close', () => up.destroy());
  req.pipe(up);
}

/**
 * Makes the feed service same-origin on a test server: `feed` (default
 * /swcache-feed.json, what the worker's `feed.url` names) is proxied to the service's
 * feed document, and each of `events` (default ['/v1/events']) to its /v1/events, so
 * pages can subscribe on their own origin. `service` is a startFeedService() handle (or
 * a promise of one; requests wait for it). Returns counts of the proxied requests.
 */
export function proxyFeed(server, service, { feed = '/swcache-feed.json', events = ['/v1/events'], feedPath = '/swcache-feed.json' } = {}) {
  const counts = { feed: 0, events: 0 };
  const via = (kind, upstream, stream) => ({
    async handler(req, res, url) {
      counts[kind]++;
      let svc;
      try { svc = await service; } catch { return req.socket.destroy(); }
      forward(req, res, new URL(upstream + url.search, svc.url), stream);
    },
  });
  if (feed) server.set(feed, via('feed', feedPath, false));
  for (const p of [].concat(events || [])) server.set(p, via('events', '/v1/events', true));
  return counts;
}

/**
 * Serves `file` at `urlPath` (default /swcache-feed.json): 200 with an ETag, or 304 to a
 * matching If-None-Match; 404 while the file is missing. Returns counters. (The file as
 * a static file, for tests that write broken feeds by hand; the service would refuse them.)
 */
export function serveFeed(server, file, urlPath = '/swcache-feed.json') {
  // `behind`: ms the feed server's clock (its Date header) runs behind this machine's.
  const stats = { ok: 0, notModified: 0, missing: 0, behind: 0 };
  const date = () => (stats.behind ? { date: new Date(Date.now() - stats.behind).toUTCString() } : {});
  server.set(urlPath, {
    handler(req, res) {
      let body;
      try { body = fs.readFileSync(file); } catch {
        stats.missing++;
        res.writeHead(404, { 'content-type': 'text/plain' });
        return res.end('no feed');
      }
      const etag = '"' + crypto.createHash('sha1').update(body).digest('hex').slice(0, 16) + '"';
      if (req.headers['if-none-match'] === etag) {
        stats.notModified++;
        res.writeHead(304, { etag, ...date() });
        return res.end();
      }
      stats.ok++;
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache', etag, ...date() });
      res.end(body);
    },
  });
  return stats;
}

/**
 * Live entries of the feed `file` at `urlPath` (default /swcache-feed/live): the real
 * feed service runs on that file (so entries `swcache-feed add` writes to it are streamed
 * as they land) and the path is proxied to its /v1/events. Returns {service, close()}
 * (`service` is a promise of the startFeedService() handle).
 */
export function liveFeed(server, file, urlPath = '/swcache-feed/live') {
  const service = startFeedService({ store: 'file:' + path.resolve(file) });
  service.catch((e) => console.error('swcache live feed:', e.message));
  proxyFeed(server, service, { feed: null, events: [urlPath] });
  return {
    service,
    close: () => service.then((s) => s.stop(), () => {}),
  };
}
