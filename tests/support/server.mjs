// A local HTTP server for tests, the demo and the benchmark. It serves dist/ under
// /swcache/, and content that a test can change, break, hang or take offline, and it
// counts every request and the peak number in flight.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const DIST = path.join(ROOT, 'dist');

const TYPES = {
  '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm', '.html': 'text/html; charset=utf-8', '.css': 'text/css',
  '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

export function contentType(p) {
  return TYPES[path.extname(p)] || 'application/octet-stream';
}

// A blank page tests start from (the worker's scope is the whole origin).
const HARNESS = '<!doctype html><meta charset="utf-8"><title>swcache harness</title><body>harness</body>';

/** Ports this process's test servers have listened on. */
const usedPorts = new Set();

/**
 * Starts a server on localhost. Options: `port` (0 = any free port), `fallback(req, res, url)`
 * for paths nothing else answers (return true if handled).
 */
export async function startServer({ port = 0, fallback = null } = {}) {
  const specs = new Map();      // path+search or pathname -> { body, status, headers, mode, delay }
  const prefixes = new Map();   // pathname prefix -> spec, for paths no exact spec answers
  const counts = new Map();     // path+search -> requests seen
  const log = [];               // { path, at, headers }
  const hanging = new Set();    // responses held open by mode 'hang'
  let inFlight = 0;
  const peaks = new Map();      // prefix -> { now, peak }
  let offline = false;

  function trackStart(p) {
    for (const [prefix, t] of peaks) if (p.startsWith(prefix)) { t.now++; t.peak = Math.max(t.peak, t.now); }
  }
  function trackEnd(p) {
    for (const [prefix, t] of peaks) if (p.startsWith(prefix)) t.now--;
  }

  function serveFile(res, file, extraHeaders = {}) {
    fs.readFile(file, (err, data) => {
      if (err) { res.writeHead(404, { 'content-type': 'text/plain' }); return res.end('not found'); }
      res.writeHead(200, { 'content-type': contentType(file), 'cache-control': 'no-cache', 'content-length': data.length, ...extraHeaders });
      res.end(data);
    });
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    const key = url.pathname + url.search;
    counts.set(key, (counts.get(key) || 0) + 1);
    log.push({ path: key, at: Date.now(), method: req.method, headers: req.headers });
    inFlight++;
    trackStart(key);
    let ended = false;
    const end = () => { if (!ended) { ended = true; inFlight--; trackEnd(key); } };
    res.on('close', end);
    res.on('finish', end);

    if (offline) return req.socket.destroy();
    let spec = specs.get(key) || specs.get(url.pathname);
    if (!spec) {
      let best = '';
      for (const k of prefixes.keys()) if (url.pathname.startsWith(k) && k.length > best.length) best = k;
      if (best) spec = prefixes.get(best);
    }
    if (spec) {
      if (spec.handler) return spec.handler(req, res, url);
      if (spec.mode === 'fail') return req.socket.destroy();
      if (spec.mode === 'hang') { hanging.add(res); return; }
      const send = () => {
        const body = typeof spec.body === 'function' ? spec.body(req, url) : spec.body;
        res.writeHead(spec.status || 200, { 'content-type': 'text/plain; charset=utf-8', ...(spec.headers || {}) });
        res.end(body);
      };
      return spec.delay ? setTimeout(send, spec.delay) : send();
    }
    if (url.pathname === '/harness.html') {
      res.writeHead(200, { 'content-type': TYPES['.html'] });
      return res.end(HARNESS);
    }
    if (url.pathname.startsWith('/swcache/')) {
      const file = path.join(DIST, path.normalize(url.pathname.slice('/swcache/'.length)));
      if (!file.startsWith(DIST)) { res.writeHead(403); return res.end(); }
      return serveFile(res, file);
    }
    if (fallback?.(req, res, url)) return;
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found: ' + key);
  });
  server.keepAliveTimeout = 1000;

  // A port this process was given before is not taken again: in Firefox and WebKit one
  // browser profile runs a whole file, and an origin a test used before still has that
  // test's worker and caches.
  for (;;) {
    // A port in use (or not allowed) rejects, rather than ending the process with an
    // unhandled 'error' event.
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, 'localhost', () => { server.off('error', reject); resolve(); });
    });
    if (port !== 0 || !usedPorts.has(server.address().port)) break;
    await new Promise((resolve) => server.close(resolve));
  }
  const actualPort = server.address().port;
  usedPorts.add(actualPort);

  return {
    origin: `http://localhost:${actualPort}`,
    port: actualPort,
    /** Serve `body` (string or (req, url) => string) at `p` (pathname, or pathname+search). */
    set(p, spec) { specs.set(p, typeof spec === 'string' ? { body: spec } : spec); },
    /** Serve every path under `prefix` (that has no exact spec) with `spec`. */
    prefix(p, spec) { prefixes.set(p, typeof spec === 'string' ? { body: spec } : spec); },
    /** Change how `p` answers: 'ok' | 'fail' (connection reset) | 'hang'. */
    mode(p, mode) { const s = specs.get(p) || { body: '' }; specs.set(p, { ...s, mode }); },
    setOffline(v) { offline = v; },
    count(p) { return counts.get(p) || 0; },
    countPrefix(prefix) { let n = 0; for (const [k, v] of counts) if (k.startsWith(prefix)) n += v; return n; },
    requests() { return log.slice(); },
    /** Start measuring the peak number of concurrent requests under `prefix`. */
    watchPeak(prefix) { peaks.set(prefix, { now: 0, peak: 0 }); },
    peak(prefix) { return (peaks.get(prefix) || { peak: 0 }).peak; },
    get inFlight() { return inFlight; },
    resetCounts() { counts.clear(); log.length = 0; },
    /** Release every hanging request (with a 200 and `body`). */
    release(body = 'released') { for (const r of hanging) { try { r.writeHead(200); r.end(body); } catch {} } hanging.clear(); },
    async close() {
      for (const r of hanging) { try { r.destroy(); } catch {} }
      hanging.clear();
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
