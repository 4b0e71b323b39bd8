// The demo promo site: dist/demo/ pages (each stamped with the server's render time,
// so a reload served from the worker's cache is visible), dist/sw.js, the engine
// under /swcache/, generated images, a featured-content API, and the site's
// invalidation feed: the real feed service (`swcache-feed serve`, file store) behind
// the site's origin. The page's "publish" button plays the CMS: POST /admin/publish,
// which the server forwards to the service's POST /v1/entries with the publish token it
// holds (the token never reaches the browser).
// Usage: node tests/support/demo-server.mjs [--port 8080]
import fs from 'node:fs';
import path from 'node:path';
import { startServer, DIST, contentType } from './server.mjs';
import { startFeedService, proxyFeed } from './feed.mjs';

const DEMO = path.join(DIST, 'demo');
let renders = 0;
const published = new Map(); // slug -> content version, bumped by POST /admin/publish

// The promo pages: one template, rendered per slug (the home page is slug 'index').
const PAGES = {
  index: 'Promo pages served by swcache',
  'summer-sale': 'Summer sale',
  'winter-collection': 'Winter collection',
  'spring-launch': 'Spring launch',
};

// Every answer says its length, as a static server or a CDN does: the dashboard's size
// column (inspect()'s size) is read from Content-Length.
function send(res, headers, body) {
  res.writeHead(200, { ...headers, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function page(file, res, slug = path.basename(file, '.html')) {
  let html;
  try { html = fs.readFileSync(file, 'utf8'); } catch { return false; }
  renders++;
  html = html.replaceAll('{{title}}', PAGES[slug] || slug)
    .replaceAll('{{slug}}', slug === 'index' ? 'home' : slug)
    .replaceAll('{{renderedAt}}', new Date().toISOString())
    .replaceAll('{{renderNo}}', String(renders))
    .replaceAll('{{contentVersion}}', String(published.get(slug) || 1));
  send(res, { 'content-type': contentType(file), 'cache-control': 'no-cache' }, html);
  return true;
}

function image(name) {
  let hue = 0;
  for (const c of name) hue = (hue * 31 + c.charCodeAt(0)) % 360;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="640" height="240" viewBox="0 0 640 240">
  <rect width="640" height="240" fill="hsl(${hue} 70% 55%)"/>
  <text x="32" y="140" font-family="sans-serif" font-size="56" fill="#fff">${name.replace(/[^\w-]/g, '')}</text></svg>`;
}

const TYPES = ['MODEL_SHOWCASE', 'JOB_LISTINGS', 'BLOG_PREVIEW', 'STATS_COUNTER', 'TESTIMONIAL_CAROUSEL', 'HERO_BANNER'];

function featured(url) {
  const id = url.searchParams.get('id') || '1';
  const type = url.searchParams.get('type') || TYPES[Number(id) % TYPES.length];
  const n = 3;
  return JSON.stringify({
    id, type, fetchedAt: new Date().toISOString(),
    items: Array.from({ length: n }, (_, i) => ({ title: `${type.toLowerCase().replace(/_/g, ' ')} #${i + 1}`, value: Math.round(Math.random() * 1000) })),
  });
}

export async function startDemo(port = 8080) {
  // The feed service on a file store (created empty, so workers find a feed at once).
  const feed = await startFeedService({ store: 'file' });
  const server = await startServer({
    port,
    fallback(req, res, url) {
      const p = url.pathname;
      if (p === '/sw.js') {
        send(res, { 'content-type': contentType('sw.js'), 'cache-control': 'no-cache' }, fs.readFileSync(path.join(DIST, 'sw.js')));
        return true;
      }
      if (p === '/favicon.ico') {
        send(res, { 'content-type': 'image/svg+xml' }, fs.readFileSync(path.join(DEMO, 'favicon.svg')));
        return true;
      }
      if (p.startsWith('/img/')) {
        send(res, { 'content-type': 'image/svg+xml', 'cache-tag': 'images' }, image(path.basename(p, path.extname(p))));
        return true;
      }
      if (p === '/api/v1/promo/featured-content') {
        send(res, { 'content-type': 'application/json', 'cache-tag': `component-${url.searchParams.get('id') || '1'}` }, featured(url));
        return true;
      }
      if (p === '/admin/publish' && req.method === 'POST') {
        const slug = url.searchParams.get('slug') || 'index';
        published.set(slug, (published.get(slug) || 1) + 1);
        feed.publish({ urls: [slug === 'index' ? '/' : `/promo/${slug}`] }).then(({ seq, timestamp }) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ slug, version: published.get(slug), seq, at: timestamp }));
        }, (err) => {
          res.writeHead(502, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ slug, error: err.message }));
        });
        return true;
      }
      const slug = p === '/' ? 'index' : p.startsWith('/promo/') ? p.slice('/promo/'.length) : null;
      if (slug in PAGES) return page(path.join(DEMO, 'promo-page.html'), res, slug);
      const rel = p.slice(1);
      const file = path.join(DEMO, path.normalize(rel));
      if (!file.startsWith(DEMO)) return false;
      if (fs.existsSync(file + '.html')) return page(file + '.html', res);
      if (fs.existsSync(file) && fs.statSync(file).isFile()) {
        if (file.endsWith('.html')) return page(file, res);
        send(res, { 'content-type': contentType(file) }, fs.readFileSync(file));
        return true;
      }
      return false;
    },
  }).catch(async (e) => {
    // Nothing is left running: the service this started goes too.
    await feed.stop();
    if (e.code !== 'EADDRINUSE') throw e;
    throw new Error(`port ${port} is in use: PORT=${port + 1} ./build.sh demo serves the demo on another port`);
  });
  // The worker's feed (/swcache-feed.json) and the pages' live stream on the site's own
  // origin, proxied to the service (demo.js subscribes to /v1/events).
  proxyFeed(server, feed, { events: ['/swcache-feed/live', '/v1/events'] });
  const close = server.close;
  server.close = async () => { await close(); await feed.stop(); };
  server.feed = feed;
  server.feedFile = feed.file;
  return server;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf('--port');
  const port = i > 0 ? Number(process.argv[i + 1]) : 8080;
  const server = await startDemo(port).catch((e) => {
    console.error(`swcache demo: ${e.message}`);
    process.exit(1);
  });
  // The service is a child process: stop it with the demo (feed.mjs also stops it
  // when this process exits any other way).
  const quit = () => server.close().finally(() => process.exit(0));
  process.once('SIGINT', quit);
  process.once('SIGTERM', quit);
  console.log(`swcache demo: ${server.origin}/  (reload a page: its "rendered at" stays put when served from the cache)`);
  console.log(`feed service (swcache-feed serve, ${server.feed.store}): ${server.feed.url}, proxied at ${server.origin}/swcache-feed.json and /v1/events`);
}
