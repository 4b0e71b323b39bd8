// Debian's nginx in front of a site, for tests: the server block of the README's
// Deployment section (read from the README, so the documented block is the tested one),
// on a free loopback port, serving the site's files from a temporary directory and
// proxying the feed and the live stream to a feed service. Started as a child, stopped by
// its pid.
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, DIST } from './server.mjs';
import { freePort, tempDir, removeDir, start, terminate, answers } from './feed.mjs';

/** The README's nginx block: the ```nginx fence under "### Deployment", unindented. */
export function readmeNginx() {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const deployment = readme.slice(readme.indexOf('\n### Deployment\n'));
  const m = deployment.match(/\n( *)```nginx\n([\s\S]*?)\n *```\n/);
  if (!m) throw new Error('README.md: no ```nginx block under ### Deployment');
  return m[2].split('\n').map((l) => l.slice(m[1].length)).join('\n');
}

/** `text` with the one match of `re` replaced by `to`; throws, naming `what`, if there is none. */
function swap(text, re, to, what) {
  if ((text.match(new RegExp(re.source, 'gm')) || []).length !== 1) {
    throw new Error(`the README's nginx block has no single ${what} (${re}) for the test to point elsewhere`);
  }
  return text.replace(new RegExp(re.source, 'm'), to);
}

// One line of JSON per request: what the tests check of each exchange.
const LOG_FORMAT = `log_format swcache escape=json '{"uri":"$request_uri","status":"$status",'
  '"upstream":"$upstream_status","ifNoneMatch":"$http_if_none_match",'
  '"acceptEncoding":"$http_accept_encoding","lastEventId":"$http_last_event_id",'
  '"etag":"$sent_http_etag","contentEncoding":"$sent_http_content_encoding",'
  '"contentType":"$sent_http_content_type"}';`;

/**
 * Starts nginx with the README's block, its `listen` moved to a free loopback port, its
 * `root` to a new temporary directory (holding dist/ under /swcache/) and its upstream's
 * `server` to `service` (a startFeedService() handle). Returns {origin, root, pid,
 * write(urlPath, text), log(), stop()}: `write` puts a file in the site, `log()` is the
 * access log so far (one object per finished request: uri, status, upstream status, the
 * If-None-Match, Accept-Encoding and Last-Event-ID it came with, and the ETag,
 * Content-Encoding and Content-Type it was answered with).
 */
export async function startNginx(service) {
  const dir = tempDir('swcache-nginx-');
  // nginx's workers run as nobody when the tests run as root: they read the site from here.
  fs.chmodSync(dir, 0o755);
  const site = path.join(dir, 'site');
  fs.mkdirSync(path.join(site, 'swcache'), { recursive: true, mode: 0o755 });
  for (const f of fs.readdirSync(DIST)) {
    if (fs.statSync(path.join(DIST, f)).isFile()) fs.copyFileSync(path.join(DIST, f), path.join(site, 'swcache', f));
  }
  const write = (urlPath, text) => {
    const file = path.join(site, path.normalize(urlPath));
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
    fs.writeFileSync(file, text, { mode: 0o644 });
  };
  const accessLog = path.join(dir, 'access.log');
  let log = '';
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    let block = readmeNginx();
    block = swap(block, /^(\s*)listen\s+[^;]+;/, `$1listen 127.0.0.1:${port};`, '`listen`');
    block = swap(block, /^(\s*)root\s+[^;]+;/, `$1root ${site};`, '`root`');
    block = swap(block, /^(\s*)server\s+[\d.:]+;/, `$1server 127.0.0.1:${service.port};`, 'upstream `server`');
    const conf = [
      'daemon off;', 'worker_processes 1;', `pid ${dir}/nginx.pid;`, `error_log ${dir}/error.log warn;`,
      'events { worker_connections 256; }',
      'http {',
      '  types { text/html html; text/javascript js mjs; application/wasm wasm; application/json json; text/plain txt; }',
      '  default_type application/octet-stream;',
      `  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;`,
      `  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;`,
      `  ${LOG_FORMAT}`,
      `  access_log ${accessLog} swcache;`,
      block,
      '}',
    ].join('\n');
    const confFile = path.join(dir, 'nginx.conf');
    fs.writeFileSync(confFile, conf);
    const child = start('nginx', ['-c', confFile, '-p', dir, '-e', path.join(dir, 'error.log')],
      (d) => { log = (log + d).slice(-65536); });
    const origin = `http://127.0.0.1:${port}`;
    const up = async () => (await fetch(origin + '/swcache/swcache-page.js')).status === 200;
    if (!await answers(child, up, `nginx on port ${port}:\n${log}`)) {
      if (attempt < 4 && /Address already in use/.test(log)) continue; // the port was taken meanwhile
      throw new Error(`nginx did not start:\n${log}\n${conf}`);
    }
    return {
      origin,
      root: site,
      pid: child.pid,
      write,
      log: () => fs.readFileSync(accessLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)),
      async stop() {
        await terminate(child);
        removeDir(dir);
      },
    };
  }
}
