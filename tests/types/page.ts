// A page's module script, typed by the package's `swcache/page` declarations.
import {
  register, invalidate, prefetch, prefetchOnHover, hydrate, stats, inspect, subscribe, post, onUpdate, applyUpdate,
} from 'swcache/page';
import type { HydrateInfo, SwcacheStats, SwcacheState, SwcacheUpdate } from 'swcache/page';

const reg = await register('/sw.js', { scope: '/', timeout: 10000 });
if (reg) console.log(reg.scope);
await register(new URL('/sw.js', location.href));

const hover = prefetchOnHover('a[data-prefetch]', { delay: 65 });
hover.stop();
const live = subscribe('/swcache-feed/live');
live.stop();

const done = await invalidate({ urls: ['/promo/summer', new URL('/promo/winter', location.href)], timestamp: new Date().toISOString() });
const removed: number = done.removed;
await invalidate({ tags: ['price-7'] }, { timeout: 2000 });
await invalidate({ prefixes: ['/promo/eu/'], routes: ['images'] });
await invalidate({ all: true });

const { fetched, skipped, failed } = await prefetch(['/promo/winter'], { timeout: 30000 });
console.log(fetched + skipped + failed);

const s: SwcacheStats = await stats();
const hits: number = s.hits + s.routes.images.hits;
if (s.feed) console.log(s.feed.seq, s.feed.lastSuccess ?? 'never', s.feed.epochChanges);
if (s.engine === 'failed-open') console.log(s.error);

const state: SwcacheState = await inspect({ timeout: 3000 });
for (const route of state.routes) {
  for (const e of route.entries) console.log(route.name, route.strategy, e.url, e.ageMs ?? 'unstamped', e.fresh, e.tags.join());
}

// post(): the reply's type follows the message's.
const reply = await post({ type: 'GET_STATE' });
console.log(reply.fences.length);
const pre = await post({ type: 'PREFETCH', urls: ['/a'], saveData: true }, 1000);
console.log(pre.fetched);
const missed = await post({ type: 'GET_NOTICES', since: Date.now() - 60e3 });
for (const n of missed.notices) console.log(n.at ?? 'missed', n.type === 'UPDATED' ? n.url : `${n.source} ${n.urls.join()}`);

const h = hydrate({
  rootMargin: '100px',
  preload: 2,
  maxConcurrent: 4,
  maxRetries: 3,
  retryBaseMs: 1000,
  pageSlug: 'summer',
  render: (el, data: { title: string }, info: HydrateInfo) => { el.textContent = `${data.title} (${info.source}, ${info.ageMs} ms)`; },
  types: {
    JOB_LISTINGS: { maxAge: 5 * 60e3, poll: 30e3, trigger: 'visible' },
    HERO_BANNER: { poll: false, trigger: 'media:(min-width: 800px)', render: async (el, data) => { el.dataset.n = String(data.n); } },
  },
});
await h.ready;
h.stop();

window.addEventListener('swcache:invalidated', (e) => {
  if (e.detail.page || e.detail.components.length) console.log(e.detail.source, e.detail.removed);
});
window.addEventListener('swcache:updated', (e) => console.log(e.detail.url));
document.addEventListener('swcache:hydrated', (e) => console.log(e.detail.componentId, e.detail.ms));
document.querySelector<HTMLElement>('[data-component-id]')?.addEventListener('swcache:hydration-error', (e) => {
  console.log(e.detail.attempts, e.detail.error, e.detail.pageSlug);
});
// Found by the attribute hydrate() discovers them by: an Element, not an HTMLElement.
for (const el of document.querySelectorAll('[data-component-id]')) {
  el.addEventListener('swcache:hydrated', (e) => console.log(e.detail.componentType, e.detail.ms));
}

const stop: () => void = onUpdate((update: SwcacheUpdate) => {
  console.log(update.worker.state);
  void update.apply({ reload: true });
});
stop();
const applied: boolean = await applyUpdate({ reload: false });
console.log(removed, hits, applied);
