// Calls the page module refuses (or that could not work) must not type-check either. Each
// directive says why, and after `--` a piece of the diagnostic tsc must give for the line
// below it (types.test.mjs checks both).
import { register, invalidate, prefetch, hydrate, stats, post, prefetchOnHover, onUpdate } from 'swcache/page';

// @ts-expect-error the worker's URL is a string or a URL -- 'number'
await register(42);
// @ts-expect-error a misspelt register option -- 'timout'
await register('/sw.js', { timout: 5000 });
// @ts-expect-error an invalidation says what it covers -- '{}'
await invalidate({});
// @ts-expect-error all: false alone covers nothing -- 'false'
await invalidate({ all: false });
// @ts-expect-error timestamp is an ISO 8601 string -- 'timestamp'
await invalidate({ urls: ['/a'], timestamp: Date.now() });
// @ts-expect-error a misspelt invalidation field -- 'url'
await invalidate({ url: '/a' });
// @ts-expect-error prefetch takes a list -- 'string' is not assignable to parameter
await prefetch('/promo/winter');
// @ts-expect-error timeouts are milliseconds -- 'string' is not assignable to type 'number'
await stats({ timeout: '5s' });
// @ts-expect-error the worker knows five message types -- '"NUKE"'
await post({ type: 'NUKE' });
// @ts-expect-error PREFETCH needs its urls -- 'urls'
await post({ type: 'PREFETCH' });
// @ts-expect-error GET_NOTICES' since is Date.now()'s number -- 'since'
await post({ type: 'GET_NOTICES', since: new Date().toISOString() });
// @ts-expect-error an engine state that does not exist -- 'broken'
if ((await stats()).engine === 'broken') console.log('never');
// @ts-expect-error a misspelt hydrate option -- 'maxConcurent'
hydrate({ maxConcurent: 3 });
// @ts-expect-error a trigger the scheduler does not know -- '"hover"'
hydrate({ types: { JOB_LISTINGS: { trigger: 'hover' } } });
// @ts-expect-error poll is milliseconds or false -- 'poll'
hydrate({ types: { JOB_LISTINGS: { poll: '30s' } } });
// @ts-expect-error render is a function -- 'render'
hydrate({ render: '<div>' });
// @ts-expect-error the hover delay is milliseconds -- 'delay'
prefetchOnHover('a', { delay: 'fast' });
// @ts-expect-error swcache:updated carries only the url -- 'page'
window.addEventListener('swcache:updated', (e) => console.log(e.detail.page));
// @ts-expect-error a hydration event's ms is a number -- 'string'
document.addEventListener('swcache:hydrated', (e) => { const ms: string = e.detail.ms; console.log(ms); });
// @ts-expect-error onUpdate returns the function that stops it -- 'then'
onUpdate(() => {}).then(() => {});
