// Demo page glue: the page module registers the worker, warms links on hover, and
// listens to the live feed. The "publish" button plays the CMS: the demo server bumps
// this page's content and posts an entry to the feed service (`swcache-feed serve`,
// `POST /v1/entries`, the token kept server-side); the entry reaches every worker
// through the feed, and this open page over Server-Sent Events, which then reloads.
import { register, prefetchOnHover, subscribe } from '/swcache/swcache-page.js';

const status = document.getElementById('sw-status');
// A page the worker did not serve (a first visit) came from the network, and its next
// load is a new render too: the worker fetches and stores it (or answers with the copy
// its install precached). Only from then on does a reload keep "rendered at".
const servedByWorker = navigator.serviceWorker?.controller != null;
register('/sw.js').then(() => {
  status.textContent = servedByWorker
    ? 'controlled by swcache: reload, and "rendered at" stays the same (served from the cache)'
    : 'controlled by swcache from now on: this first visit came from the network, so reload once to let the worker store the page; after that, reloads keep "rendered at" (served from the cache)';
}, (err) => { status.textContent = 'worker not active: ' + err.message; });

prefetchOnHover('a[data-prefetch]');

subscribe('/v1/events');
addEventListener('swcache:invalidated', (e) => {
  if (!e.detail.page) return;
  status.textContent = `this page changed (${e.detail.source}): reloading the fresh version…`;
  location.reload();
});

document.getElementById('publish')?.addEventListener('click', async () => {
  const slug = location.pathname === '/' ? 'index' : location.pathname.split('/').pop();
  let r;
  try {
    const res = await fetch(`/admin/publish?slug=${encodeURIComponent(slug)}`, { method: 'POST' });
    r = await res.json();
    if (!res.ok) throw new Error(r.error || `HTTP ${res.status}`);
  } catch (err) {
    // Offline, or the feed service down (the demo server answers 502 with its error).
    status.textContent = `could not publish: ${err.message}`;
    return;
  }
  status.textContent = `published v${r.version} as feed entry #${r.seq}; waiting for it to arrive…`;
});
