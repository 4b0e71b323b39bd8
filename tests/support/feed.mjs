// The invalidation feed on the server side, for tests and the demo: the real
// `swcache-feed` command writes the feed file; the server serves it with an ETag
// (answering If-None-Match with 304) and streams new entries over Server-Sent Events.
import fs from 'node:fs';
import crypto from 'node:crypto';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { ROOT } from './server.mjs';

export const FEED_BIN = path.join(ROOT, 'target/release/swcache-feed');

/** Runs `swcache-feed add --feed file ...args`; returns the new entry's seq. */
export function publish(file, ...args) {
  return Number(execFileSync(FEED_BIN, ['add', '--feed', file, ...args], { encoding: 'utf8' }).trim());
}

/**
 * Serves `file` at `urlPath` (default /swcache-feed.json): 200 with an ETag, or 304 to a
 * matching If-None-Match; 404 while the file is missing. Returns counters.
 */
export function serveFeed(server, file, urlPath = '/swcache-feed.json') {
  const stats = { ok: 0, notModified: 0, missing: 0 };
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
        res.writeHead(304, { etag });
        return res.end();
      }
      stats.ok++;
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache', etag });
      res.end(body);
    },
  });
  return stats;
}

/**
 * A Server-Sent Events stream at `urlPath` (default /swcache-feed/live) carrying each new
 * entry of the feed `file` as it is published (the file is watched). Returns {close()}.
 */
export function liveFeed(server, file, urlPath = '/swcache-feed/live') {
  const clients = new Set();
  let sent = 0;
  const read = () => {
    try { return JSON.parse(fs.readFileSync(file, 'utf8')); } catch { return null; }
  };
  sent = read()?.seq || 0;
  const push = () => {
    const feed = read();
    if (!feed || !Array.isArray(feed.entries)) return;
    for (const e of feed.entries) {
      if (e.seq > sent) {
        for (const c of clients) c.write(`id: ${e.seq}\ndata: ${JSON.stringify(e)}\n\n`);
        sent = e.seq;
      }
    }
  };
  const timer = setInterval(push, 100);
  server.set(urlPath, {
    handler(req, res) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      res.write('retry: 1000\n\n');
      clients.add(res);
      req.on('close', () => clients.delete(res));
    },
  });
  return {
    push,
    close() {
      clearInterval(timer);
      for (const c of clients) c.end();
      clients.clear();
    },
  };
}
