// The hydration test pages, shared by the Chromium and Firefox suites: components of the
// featured-content API, and a page that records every fetch() the page module makes,
// every render and every event, then calls hydrate().
export const API = '/api/v1/promo/featured-content';
export const src = (id) => `${API}?id=${id}`;

// The featured-content API: every id answers 200 with fresh JSON unless a test says otherwise.
export const DATA = {
  headers: { 'content-type': 'application/json', 'cache-tag': 'featured' },
  body: (_req, url) => JSON.stringify({ id: url.searchParams.get('id'), fetchedAt: new Date().toISOString(), items: [] }),
};

/** A component element; `style`/`attrs` are spliced in as is. */
export function comp(id, type = 'BLOG_PREVIEW', attrs = '') {
  return `<div class="c" data-component-id="c${id}" data-component-type="${type}" data-src="${src(id)}" ${attrs}>c${id}</div>`;
}
export const GAP = '<div class="gap"></div>';

// c1, c2 come first in the DOM (so they are the `preload` two) but CSS places them at the
// very bottom; c3, c4 are above the fold; c5..c8 are separated by 1.5 viewports each.
export const LONG = `<main>${comp(1, 'BLOG_PREVIEW', 'style="order: 2"')}${comp(2, 'BLOG_PREVIEW', 'style="order: 2"')}
${comp(3)}${comp(4)}${GAP}${comp(5)}${GAP}${comp(6)}${GAP}${comp(7)}${GAP}${comp(8)}${GAP}</main>`;

/**
 * A test page at `/hyd-<name>.html` on `server`: `body`, then a module that records fetch() calls,
 * renders and events, and calls hydrate({...opts, render}).
 */
export function hydratePage(server, name, body, opts = {}) {
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>${name}</title>
<style>body { margin: 0 } .c { height: 100px; border: 1px solid #999 } .gap { height: 150vh }
main { display: flex; flex-direction: column }</style></head>
<body data-page-slug="slug-from-body">${body}
<script type="module">
  import { hydrate } from '/swcache/swcache-page.js';
  window.calls = []; window.inflight = 0; window.renders = []; window.events = [];
  const realFetch = window.fetch;
  window.fetch = (url, init = {}) => {
    calls.push({ url: String(url), cache: init.cache || 'default', at: performance.now() });
    inflight++;
    return realFetch(url, init).finally(() => inflight--);
  };
  for (const kind of ['swcache:hydrated', 'swcache:hydration-error']) {
    document.addEventListener(kind, (e) => events.push({ kind, target: e.target.dataset?.componentId, ...e.detail }));
  }
  const render = (el, data, info) => {
    if (el.hasAttribute('data-throws')) throw new Error('render broke');
    renders.push({ ...info, dataId: data.id, seeded: !!data.seeded });
    el.textContent = info.componentId + ' · ' + info.source;
  };
  window.handle = hydrate({ ...${JSON.stringify(opts)}, render });
</script></body></html>`;
  const p = `/hyd-${name}.html`;
  server.set(p, { body: html, headers: { 'content-type': 'text/html; charset=utf-8' } });
  return server.origin + p;
}
