// Demo page glue: the page module registers the worker, warms links on hover, and
// listens to the live feed. The "publish" button plays the CMS: the demo server bumps
// this page's content and posts an entry to the feed service (`swcache-feed serve`,
// `POST /v1/entries`, the token kept server-side); the entry reaches every worker
// through the feed, and this open page over Server-Sent Events, which then reloads.
import { register, prefetchOnHover, subscribe } from '/swcache/swcache-page.js';

const status = document.getElementById('sw-status');
register('/sw.js').then(() => {
  status.textContent = 'controlled by swcache: reload, and "rendered at" stays the same (served from the cache)';
}, (err) => { status.textContent = 'worker not active: ' + err.message; });

prefetchOnHover('a[data-prefetch]');

subscribe('/swcache-feed/live');
addEventListener('swcache:invalidated', (e) => {
  if (!e.detail.page) return;
  status.textContent = `this page changed (${e.detail.source}): reloading the fresh version…`;
  location.reload();
});

document.getElementById('publish')?.addEventListener('click', async () => {
  const slug = location.pathname === '/' ? 'index' : location.pathname.split('/').pop();
  const r = await (await fetch(`/admin/publish?slug=${encodeURIComponent(slug)}`, { method: 'POST' })).json();
  status.textContent = `published v${r.version} as feed entry #${r.seq}; waiting for it to arrive…`;
});
