// Demo components page: the worker, and hydrate() with one small render per type.
// Each component shows a badge "age Xs · source cache|network|inline" that keeps ticking.
import { register, hydrate } from '/swcache/swcache-page.js';

register('/sw.js').catch((err) => console.warn('worker not active:', err.message));

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
const list = (items, row) => items.map(row).join('');

const views = {
  HERO_BANNER: (d) => `<h2>${esc(d.items[0].title)}</h2><p>Up to ${d.items[0].value % 50}% off this week.</p><a class="cta" href="/promo/summer-sale">Shop the sale</a>`,
  STATS_COUNTER: (d) => `<div class="stats">${list(d.items, (i) => `<div><b>${i.value}</b>${esc(i.title)}</div>`)}</div>`,
  MODEL_SHOWCASE: (d) => `<div class="cards">${list(d.items, (i) => `<div class="card"><b>${esc(i.title)}</b><span>from $${i.value}</span></div>`)}</div>`,
  JOB_LISTINGS: (d) => `<ul class="rows">${list(d.items, (i) => `<li>${esc(i.title)} <span>${i.value} applicants</span></li>`)}</ul>`,
  BLOG_PREVIEW: (d) => `<ul class="rows">${list(d.items, (i) => `<li><a href="#">${esc(i.title)}</a> <span>${i.value % 12 + 2} min read</span></li>`)}</ul>`,
  TESTIMONIAL_CAROUSEL: (d) => `<blockquote>“Loved it, ${esc(d.items[0].title)}.”<span>${'★'.repeat(d.items[0].value % 3 + 3)}</span></blockquote>`,
};

function render(el, data, info) {
  el.querySelector('.body').innerHTML = views[info.componentType](data);
  const badge = el.querySelector('.badge');
  badge.dataset.since = Date.now() - info.ageMs;
  badge.dataset.source = info.source;
  tick(badge);
  el.classList.add('hydrated');
}

function tick(badge) {
  badge.textContent = `age ${Math.round((Date.now() - badge.dataset.since) / 1000)}s · source ${badge.dataset.source}`;
}
setInterval(() => document.querySelectorAll('.badge[data-since]').forEach(tick), 1000);

hydrate({ types: Object.fromEntries(Object.keys(views).map((type) => [type, { render }])) });

const status = document.getElementById('hydration');
const total = document.querySelectorAll('[data-component-id]').length;
let done = 0;
document.addEventListener('swcache:hydrated', () => { status.textContent = `${++done} of ${total} components hydrated`; });
document.addEventListener('swcache:hydration-error', (e) => e.target.querySelector('.badge').textContent = 'failed to load');
