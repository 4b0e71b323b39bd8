// Demo page glue: the page module registers the worker, warms links on hover, and the
// "publish" button changes this page on the server, then invalidates it in the worker.
import { register, invalidate, prefetchOnHover, stats } from '/swcache/swcache-page.js';

const status = document.getElementById('sw-status');
const out = document.getElementById('stats');

async function showStats() {
  try { out.textContent = JSON.stringify(await stats(), null, 2); } catch (e) { out.textContent = String(e.message); }
}

register('/sw.js').then(() => {
  status.textContent = 'controlled by swcache: reload, and "rendered at" stays the same (served from the cache)';
  showStats();
}, (err) => { status.textContent = 'worker not active: ' + err.message; });

prefetchOnHover('a[data-prefetch]');

document.getElementById('refresh-stats')?.addEventListener('click', showStats);
document.getElementById('publish')?.addEventListener('click', async () => {
  const slug = location.pathname === '/' ? 'index' : location.pathname.split('/').pop();
  await fetch(`/admin/publish?slug=${encodeURIComponent(slug)}`, { method: 'POST' });
  const done = await invalidate({ urls: [location.pathname] });
  status.textContent = `published; invalidated ${done.removed} cached cop${done.removed === 1 ? 'y' : 'ies'}, reloading…`;
  location.reload();
});
