// Turns bench/results.json into BENCHMARKS.md (tables) and bench/chart.svg.
import fs from 'node:fs';

const ORDER = ['none', 'floor', 'seed', 'workbox', 'swcache', 'swcache-router'];
const ms = (x) => (x == null ? '–' : x < 10 ? x.toFixed(2) : x.toFixed(1));
const ratio = (x, base) => (x == null || !base ? '–' : (x / base).toFixed(2) + '×');
const kb = (b) => (b / 1024).toFixed(1);
const pct = (x) => (x * 100).toFixed(1) + '%';

function latencyTable(r, pick, title, extraBase = null) {
  const base = pick(r.contenders.floor)?.p50;
  const extra = extraBase && pick(r.contenders[extraBase])?.p50;
  const rows = ORDER.filter((n) => pick(r.contenders[n] || {})).map((n) => {
    const s = pick(r.contenders[n]);
    return `| ${n} | ${s.n} | ${ms(s.p50)} | ${ms(s.p95)} | ${ratio(s.p50, base)} |` + (extra ? ` ${ratio(s.p50, extra)} |` : '');
  });
  const head = '| contender | samples | p50 ms | p95 ms | p50 ÷ floor p50 |' + (extra ? ` p50 ÷ ${extraBase} p50 |` : '');
  return [`### ${title}`, '', head, '|---|---:|---:|---:|---:|' + (extra ? '---:|' : ''), ...rows, ''].join('\n');
}

function navigationPreloadTable(n) {
  const row = (kind, label) => `| ${label} | ${ms(n[kind].off.p50)} | ${ms(n[kind].on.p50)} | ${ratio(n[kind].on.p50, n[kind].off.p50)} | ${ms(n[kind].off.p95)} | ${ms(n[kind].on.p95)} |`;
  return [
    `### Navigation preload: networkFirst navigations, origin answering in ${n.originMs} ms, ${n.cold.on.n} samples each`,
    '',
    '| worker | without p50 ms | with p50 ms | with ÷ without | without p95 ms | with p95 ms |',
    '|---|---:|---:|---:|---:|---:|',
    row('cold', 'stopped before the navigation'),
    row('warm', 'running'),
    '',
    `responseEnd of the navigation (Navigation Timing). The origin saw ${n.requests.on.originRequests} requests for ${n.requests.on.navigations}`,
    `navigations with preload (${n.requests.off.originRequests} without): the preload response is used, never a second fetch.`,
    '',
  ];
}

export function targets(r) {
  const c = r.contenders;
  const sw = c.swcache;
  const rt = c['swcache-router'];
  const inv = r.invalidation.swcache;
  const rows = [
    ['cold start p50 ≤ 1.10× floor (swcache, no router)', `${ratio(sw.cold.p50, c.floor.cold.p50)} (${ms(sw.cold.p50)} vs ${ms(c.floor.cold.p50)} ms)`, sw.cold.p50 <= 1.10 * c.floor.cold.p50],
    ['cold start p50 ≤ 0.30× floor (swcache-router)', `${ratio(rt.cold.p50, c.floor.cold.p50)} (${ms(rt.cold.p50)} vs ${ms(c.floor.cold.p50)} ms)`, rt.cold.p50 <= 0.30 * c.floor.cold.p50],
    ['hit p50 (promo page) ≤ 1.02× floor', `${ratio(sw.hit.page.p50, c.floor.hit.page.p50)}`, sw.hit.page.p50 <= 1.02 * c.floor.hit.page.p50],
    ['hit p50 (image) ≤ 1.02× floor', `${ratio(sw.hit.image.p50, c.floor.hit.image.p50)}`, sw.hit.image.p50 <= 1.02 * c.floor.hit.image.p50],
    ['networkFirst p50 ≤ Workbox', `${ms(sw.networkFirst.p50)} vs ${ms(c.workbox.networkFirst.p50)} ms`, sw.networkFirst.p50 <= c.workbox.networkFirst.p50],
    ['worker bundle ≤ 25 KB gzip', `${kb(sw.bytes.gzip)} KB`, sw.bytes.gzip <= 25 * 1024],
    ['hit ratio ≥ Workbox (one worker lifetime)', `${pct(sw.zipf.hitRatio)} vs ${pct(c.workbox.zipf.hitRatio)}`, sw.zipf.hitRatio >= c.workbox.zipf.hitRatio],
    [`hit ratio ≥ Workbox (workers stopped every ${sw.zipf.restarts.every} requests)`, `${pct(sw.zipf.restarts.hitRatio)} vs ${pct(c.workbox.zipf.restarts.hitRatio)}`,
      sw.zipf.restarts.hitRatio >= c.workbox.zipf.restarts.hitRatio],
    ['invalidation of 1,000 entries < 50 ms (post → DONE)', `${ms(inv.p50)} ms p50, ${ms(inv.p95)} ms p95 (no entry left on disk after ${ms(inv.gone.p50)} ms p50)`, inv.p95 < 50],
  ];
  if (r.pageBytes) {
    const [js, wasm] = r.pageBytes.swcache;
    rows.push(['page module, everything a page loads ≤ 12 KB gzip', `${kb(js.gzip)} KB without hydrate(), ${kb(js.gzip + wasm.gzip)} KB with`, js.gzip + wasm.gzip <= 12 * 1024]);
  }
  return rows.map(([name, value, met]) => ({ name, value, met }));
}

/** Where a swcache cold start goes, from the worker's self.swcache.timing. */
function breakdownTable(r) {
  const b = r.contenders.swcache?.coldBreakdown;
  if (!b) return '';
  const steps = [
    ['script start: worker time origin → swcache-sw.js begins (`evaluated`)', 'evaluated'],
    ['compile: `new WebAssembly.Module` (`compiled − evaluated`)', 'compile'],
    ['instantiate: `new WebAssembly.Instance` (`instantiated − compiled`)', 'instantiate'],
    ['`swcache.start(config)` (`started − instantiated`)', 'start'],
    ['(start() returned → first fetch event: rest of the first evaluation, dispatch) (`firstFetch − started`)', 'toFirstFetch'],
    ['first response inside the worker: fetch event → response promise resolved (`firstAnswer − firstFetch`)', 'firstResponse'],
    ['(first response ready, since the worker\'s time origin) (`firstAnswer`)', 'firstAnswer'],
  ];
  return [
    `### Cold-start breakdown (swcache, inside the worker), ${b.compile.n} cold starts`,
    '',
    '| step | p50 ms | p95 ms |',
    '|---|---:|---:|',
    ...steps.map(([label, k]) => `| ${label} | ${ms(b[k].p50)} | ${ms(b[k].p95)} |`),
    '',
    'Read from the running worker (`self.swcache.timing`: `performance.now()` in the worker)',
    'right after each swcache cold sample above, each one a worker that fetch started. Each',
    'row is its own distribution, so the p50s need not add up; the page measured',
    `${ms(r.contenders.swcache.cold.p50)} ms p50 for the whole cold hit. Rows in parentheses are extra context.`,
    '',
    ...(r.startPath ? [
      `Code a cold start runs before its first response (\`bench/start-path.mjs\`: the shipped wasm instrumented with`,
      `binaryen's \`--log-execution\` and driven in Node like the executor drives it): **${r.startPath.startPath.functions} functions,`,
      `${r.startPath.startPath.bodyBytes.toLocaleString('en-US')} bytes of code**, of ${r.startPath.wasmFunctions} functions and`,
      `${r.startPath.wasmCodeBytes.toLocaleString('en-US')} bytes in the module (\`start()\`: ${r.startPath.steps.start.functions} functions,`,
      `${r.startPath.steps.start.bodyBytes.toLocaleString('en-US')} bytes; the fetch event: ${r.startPath.steps.fetch.functions}; the cache hit: ${r.startPath.steps.hit.functions}, overlapping).`,
      '',
    ] : []),
  ].join('\n');
}

function pageTable(p) {
  const [js, wasm] = p.swcache;
  return [
    '### Bytes a page loads for the page module',
    '',
    '| what | raw bytes | gzip bytes |',
    '|---|---:|---:|',
    `| swcache: \`register\`, messages, \`prefetchOnHover\`, \`subscribe\` (${js.file}) | ${js.raw} | ${js.gzip} |`,
    `| swcache with \`hydrate()\` (+ ${wasm.file}) | ${js.raw + wasm.raw} | ${js.gzip + wasm.gzip} |`,
    ...p.others.map((o) => `| ${o.name} | ${o.raw} | ${o.gzip} |`),
    '',
    'Target: everything a page loads ≤ 12 KB gzip. A page that does not hydrate loads only',
    'the module (no wasm); `hydrate()` fetches the scheduler\'s wasm (streaming compile).',
    '',
  ];
}

export function markdown(r, notes) {
  const c = r.contenders;
  const out = [
    '# Benchmarks',
    '',
    'Produced by `./build.sh bench` (it builds first): one headless Chromium session, one',
    'local test server per contender (same code, same pages, separate origins so workers and',
    'caches are isolated), the same request mix. Latencies are measured in the page with',
    '`performance.now()` around `fetch()` + reading the body (in a cross-origin isolated page,',
    'for 5 µs timer resolution; cold starts from a plain page); samples are interleaved',
    'across contenders (round robin, rotating order). Ratios compare p50s. Tests never',
    'assert times; this report does not either.',
    '',
    `**Run:** ${r.date} · ${r.browser} · ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB · ${r.machine.os} · Node ${r.machine.node} · ${r.wallSeconds} s`,
    '',
    'Contenders: **none** (no worker), **floor** (`respondWith(caches.match(req).then(r => r || fetch(req)))`',
    'over a cache the page warmed), **seed** (the reference site\'s sw.js with only its immutable-header bug',
    'fixed), **workbox** (Workbox 7.4 from npm: routing, strategies, expiration, precaching,',
    'bundled by esbuild into one classic script, configured like the reference site), **swcache** (`dist/`),',
    '**swcache-router** (the same `dist/swcache-sw.js` and config, except that the pages route is',
    '`{ match: \'/promo/\', strategy: \'cacheFirst\', coldStart: \'router\' }`: at install the engine gives',
    'Chrome\'s Static Routing API a rule, so while the worker is stopped the browser itself serves',
    '`/promo/*` from that route\'s cache).',
    'Workbox and swcache share one config: the reference site\'s routes with images first, plus a `bulk`',
    'route for the invalidation figure, precache `/`, `/favicon.ico`, `/robots.txt`, and a 3 s',
    'networkFirst timeout (the reference site has neither the precache of `/` nor a timeout). The promo',
    'page and the Zipf pages live under `/promo/` for every contender.',
    '',
    '## Targets',
    '',
    '| target | measured | met |',
    '|---|---|---|',
    ...targets(r).map((t) => `| ${t.name} | ${t.value} | ${t.met ? 'yes' : '**no**'} |`),
    '',
    '## Figures',
    '',
    latencyTable(r, (x) => x.hit?.page, `Cache hit: promo page (~15 KB HTML), ${c.floor.hit.page.n} samples each`),
    latencyTable(r, (x) => x.hit?.image, `Cache hit: image (40 KB), ${c.floor.hit.image.n} samples each`),
    '(For **none** the "hit" is a network fetch from the local server: the cost a worker saves.)',
    '',
    latencyTable(r, (x) => x.cold, 'Cold start: all workers stopped (CDP `ServiceWorker.stopAllWorkers`), then the first cache hit', 'workbox'),
    'Every sample was checked: no request reached the server; for every contender but',
    'swcache-router the fetch started its worker; for swcache-router the worker did **not**',
    'start (its CDP `runningStatus` stayed `stopped` through the fetch and the',
    `${r.plan.cold.routerSettleMs} ms after it): the browser\'s router answered from Cache Storage.`,
    '',
    breakdownTable(r),
    latencyTable(r, (x) => x.networkFirst, 'networkFirst route, healthy network (overhead above no worker)', 'none'),
    '(The floor and seed have no networkFirst of their own here: the floor does a cache lookup',
    'then the fetch, seed its own networkFirst with a put.)',
    '',
    `### Hit ratio: Zipf(${r.plan.zipf.s}) trace of ${r.plan.zipf.length} requests over ${r.plan.zipf.pages} pages, \`maxEntries: ${r.plan.zipf.maxEntries}\``,
    '',
    `| contender | server requests | hit ratio | entries left | with every worker stopped each ${r.plan.zipf.restartEvery} requests: requests | hit ratio |`,
    '|---|---:|---:|---:|---:|---:|',
    ...ORDER.filter((n) => c[n]?.zipf).map((n) => {
      const z = c[n].zipf;
      return `| ${n} | ${z.requests} | ${pct(z.hitRatio)} | ${z.entriesLeft} | ${z.restarts.requests} | ${pct(z.restarts.hitRatio)} |`;
    }),
    '',
    'swcache keeps its usage record (frequency sketch, recency) in memory, so a restart',
    'forgets it (entries then go oldest-stored first until pages are read again); Workbox',
    'keeps last-use times in IndexedDB. Workbox trims after each write, so it briefly holds',
    'one or two entries over `maxEntries`; swcache holds exactly 50.',
    '',
    'The reference site never enforces `maxEntries`, so it keeps every page (its ratio is the unbounded',
    'cache\'s, not a fair comparison); the floor never stores; none has no cache.',
    '',
    ...(c['swcache-router']?.zipf ? [
      'swcache-router runs the first trace through its worker (running throughout) like swcache.',
      'In the second, every request arrives while its worker is stopped and nothing else wakes',
      'it, so the browser\'s router answers all of them: hits from the cache, misses from the',
      `network without storing them (the worker started ${c['swcache-router'].zipf.restarts.workerStarts} times in that run; ${c['swcache-router'].zipf.restarts.entriesLeft} of its`,
      'pages were cached at the end). On a site, the first request outside the router rules',
      '(an image, component data) wakes the worker, and storing resumes from there.',
      '',
    ] : []),
    `### Invalidation of ${r.plan.invalidation.entries} entries: post → DONE reply, ${r.plan.invalidation.reps} runs`,
    '',
    '| contender | post → DONE p50 ms | p95 ms | ÷ floor p50 | post → no entry left p50 ms | p95 ms | ÷ floor p50 | removed |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...Object.entries(r.invalidation).map(([k, v]) => `| ${k} | ${ms(v.p50)} | ${ms(v.p95)} | ${ratio(v.p50, r.invalidation.floor?.p50)} | ${ms(v.gone.p50)} | ${ms(v.gone.p95)} | ${ratio(v.gone.p50, r.invalidation.floor?.gone.p50)} | ${[...new Set(v.removed)].join(', ')} |`),
    '',
    '(swcache-router is not run here: its `bulk` route is an ordinary one, the same code as swcache\'s.)',
    '',
    'The floor and Workbox use one hand-written handler deleting each URL from every cache',
    '(all caches at once) and replying after the deletions (Workbox has no invalidation',
    'message); the reference site has none. swcache replies DONE when no read can see the entries any',
    'more and deletes them right after; "no entry left" is polled from the page (each poll',
    'lists the keys, so it is accurate to ~10 ms).',
    '',
    ...(r.navigationPreload ? navigationPreloadTable(r.navigationPreload) : []),
    '### Bytes the worker loads (every script)',
    '',
    '| contender | raw bytes | gzip bytes | gzip ÷ floor | gzip ÷ Workbox |',
    '|---|---:|---:|---:|---:|',
    ...ORDER.filter((n) => c[n]).map((n) => `| ${n} | ${c[n].bytes.raw} | ${c[n].bytes.gzip} | ${ratio(c[n].bytes.gzip, c.floor.bytes.gzip)} | ${ratio(c[n].bytes.gzip, c.workbox.bytes.gzip)} |`),
    '',
    ...(r.pageBytes ? pageTable(r.pageBytes) : []),
    '![p50 ratios](bench/chart.svg)',
    '',
  ];
  if (notes) out.push(notes.trim(), '');
  return out.join('\n');
}

/** Grouped bars: p50 ÷ floor p50 per figure (networkFirst ÷ none), one bar per contender. */
export function svg(r) {
  const c = r.contenders;
  const groups = [
    ['hit: page', (n) => c[n].hit?.page.p50 / c.floor.hit.page.p50],
    ['hit: image', (n) => c[n].hit?.image.p50 / c.floor.hit.image.p50],
    ['cold start', (n) => c[n].cold?.p50 / c.floor.cold.p50],
    ['networkFirst (÷ none)', (n) => c[n].networkFirst?.p50 / c.none.networkFirst.p50],
  ];
  const names = ORDER.filter((n) => n !== 'none' && c[n]);
  const colors = { floor: '#888', seed: '#d9a441', workbox: '#5b8def', swcache: '#2fa36b', 'swcache-router': '#8e5bd6' };
  const values = groups.flatMap(([, f]) => names.map(f)).filter(Number.isFinite);
  const max = Math.ceil(Math.max(2, ...values) * 2) / 2;
  const W = 720; const H = 320; const left = 60; const bottom = 40; const top = 30;
  const gw = (W - left - 20) / groups.length; const bw = (gw - 30) / names.length;
  const y = (v) => top + (H - top - bottom) * (1 - v / max);
  let s = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">\n`;
  s += `<text x="${left}" y="18" font-size="13">p50 latency ÷ floor p50 (lower is better) — ${r.browser}, ${r.date.slice(0, 10)}</text>\n`;
  for (let t = 0; t <= max; t += max > 4 ? 1 : 0.5) {
    s += `<line x1="${left}" x2="${W - 20}" y1="${y(t)}" y2="${y(t)}" stroke="#eee"/><text x="${left - 8}" y="${y(t) + 4}" text-anchor="end">${t}×</text>\n`;
  }
  s += `<line x1="${left}" x2="${W - 20}" y1="${y(1)}" y2="${y(1)}" stroke="#444" stroke-dasharray="4 3"/>\n`;
  groups.forEach(([label, f], gi) => {
    const x0 = left + gi * gw + 15;
    names.forEach((n, i) => {
      const v = f(n);
      if (!Number.isFinite(v)) return;
      const x = x0 + i * bw;
      s += `<rect x="${x.toFixed(1)}" y="${y(v).toFixed(1)}" width="${(bw - 4).toFixed(1)}" height="${(y(0) - y(v)).toFixed(1)}" fill="${colors[n]}"><title>${n}: ${v.toFixed(2)}×</title></rect>\n`;
      s += `<text x="${(x + bw / 2 - 2).toFixed(1)}" y="${(y(v) - 3).toFixed(1)}" text-anchor="middle" font-size="9">${v.toFixed(2)}</text>\n`;
    });
    s += `<text x="${(x0 + (gw - 30) / 2).toFixed(1)}" y="${H - bottom + 16}" text-anchor="middle">${label}</text>\n`;
  });
  names.forEach((n, i) => {
    s += `<rect x="${left + i * 110}" y="${H - 14}" width="10" height="10" fill="${colors[n]}"/><text x="${left + i * 110 + 14}" y="${H - 5}">${n}</text>\n`;
  });
  return s + '</svg>\n';
}

export function writeReport(r, { markdown: mdPath, svg: svgPath, notesPath }) {
  const notes = notesPath && fs.existsSync(notesPath) ? fs.readFileSync(notesPath, 'utf8') : '';
  const md = markdown(r, notes);
  fs.writeFileSync(mdPath, md);
  fs.writeFileSync(svgPath, svg(r));
  return md;
}
