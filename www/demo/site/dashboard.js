// The demo's dashboard, built on the page module's inspect() (GET_STATE) and stats():
// per-route hit ratio with a small live chart, every cached entry, and buttons that
// invalidate a row, a tag or a route.
import { register, inspect, invalidate } from '/swcache/swcache-page.js';

const history = new Map(); // route -> recent hit ratios (last 30 samples)
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
const age = (ms) => (ms == null ? '–' : ms < 60e3 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60e3)} min`);

function chart(points) {
  const w = 180, h = 36;
  if (points.length < 2) return `<svg width="${w}" height="${h}"></svg>`;
  const xs = points.map((p, i) => `${(i / (points.length - 1)) * w},${h - p * (h - 2) - 1}`).join(' ');
  return `<svg width="${w}" height="${h}" viewBox="0 0 ${w} ${h}"><rect width="${w}" height="${h}" fill="#f4f4fa"/>` +
    `<polyline points="${xs}" fill="none" stroke="#4455cc" stroke-width="2"/></svg>`;
}

// The cards and the table are drawn again every second. A button pressed and not yet
// released keeps its element (a press whose element is replaced before the release is no
// click), and a focused button is focused again once drawn.
let pressed = false;
addEventListener('pointerdown', () => { pressed = true; });
for (const type of ['pointerup', 'pointercancel']) addEventListener(type, () => { pressed = false; });

async function refresh() {
  let state;
  try {
    state = await inspect();
  } catch (err) {
    document.getElementById('engine').textContent = `no answer from the worker: ${err.message}`;
    return;
  }
  if (pressed) return;
  const focused = document.activeElement?.closest('#routes, #entries') ? document.activeElement.outerHTML : null;
  const s = state.stats;
  document.getElementById('engine').textContent = `engine ${s.engine} · version ${state.version} · ${s.hits} hits, ${s.misses} misses, ${s.staleServed} stale, ${s.invalidations} invalidated`;
  document.getElementById('updated').textContent = new Date().toLocaleTimeString();
  const cards = state.routes.map((r) => {
    const c = s.routes[r.name] || { hits: 0, misses: 0, staleServed: 0 };
    const served = c.hits + c.misses + c.staleServed;
    const ratio = served ? c.hits / served : 0;
    const h = history.get(r.name) || [];
    h.push(ratio);
    if (h.length > 30) h.shift();
    history.set(r.name, h);
    // The precache holds the offline page: invalidated, it is gone until the next version.
    const what = r.name === 'precache' ? ' title="removes every precached file, the offline page included, until the next version installs them again">invalidate precache' : '>invalidate route';
    return `<div class="route" data-route="${esc(r.name)}"><h3>${esc(r.name)} <button class="small" data-invalidate-route="${esc(r.name)}"${what}</button></h3>
      <div class="ratio">${served ? Math.round(ratio * 100) + '%' : '–'}</div>
      <small>${c.hits} hits · ${c.misses} misses · ${c.staleServed} stale · ${r.entries.length} cached · ${esc(r.strategy)}${r.maxEntries ? ' · max ' + r.maxEntries : ''}</small>
      ${chart(h)}</div>`;
  });
  document.getElementById('routes').innerHTML = cards.join('');
  const rows = state.routes.flatMap((r) => r.entries.map((e) => `<tr>
    <td>${esc(r.name)}</td><td>${esc(e.url)}</td><td>${age(e.ageMs)}</td>
    <td class="${e.fresh ? 'fresh' : 'stale'}">${e.fresh ? 'fresh' : 'stale'}</td><td>${e.size == null ? '–' : e.size + ' B'}</td>
    <td>${e.tags.map((t) => `<span class="tag" data-invalidate-tag="${esc(t)}" title="invalidate this tag">${esc(t)}</span>`).join('')}</td>
    <td><button class="small" data-invalidate-url="${esc(e.url)}">invalidate</button></td></tr>`));
  document.getElementById('entries').innerHTML = rows.join('') || '<tr><td colspan="7">nothing cached yet</td></tr>';
  if (focused) [...document.querySelectorAll('#routes button, #entries button')].find((b) => b.outerHTML === focused)?.focus();
  document.getElementById('fences').textContent = state.fences.length ? JSON.stringify(state.fences, null, 1) : 'none';
}

document.addEventListener('click', async (e) => {
  const t = e.target;
  const msg = t.dataset.invalidateUrl ? { urls: [t.dataset.invalidateUrl] }
    : t.dataset.invalidateTag ? { tags: [t.dataset.invalidateTag] }
    : t.dataset.invalidateRoute ? { routes: [t.dataset.invalidateRoute] } : null;
  if (!msg) return;
  await invalidate(msg);
  refresh();
});

register('/sw.js').then(refresh, (err) => { document.getElementById('engine').textContent = 'worker not active: ' + err.message; });
setInterval(refresh, 1000);
