// BENCHMARKS.md's three-engine section from bench/engines-results.json (bench/engines.mjs):
// rendered between two markers, so the rest of the file (bench/write-report.mjs) is left
// as it is. `node bench/engines-report.mjs` renders it again without running anything.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const START = '<!-- engines: written by bench/engines.mjs from bench/engines-results.json -->';
const END = '<!-- /engines -->';
const ORDER = ['floor', 'workbox', 'swcache', 'swcache-router'];
const ENGINES = [['chromium', 'Chromium'], ['firefox', 'Firefox ESR'], ['webkit', 'WebKitGTK']];
const ms = (x) => (x == null ? '–' : x < 10 ? x.toFixed(2) : x.toFixed(1));

/** The section: lines of Markdown. */
export function enginesMarkdown(r) {
  const out = [
    START,
    '## Three engines: cold start and cache hit',
    '',
    'Produced by `node bench/engines.mjs` (run by `./build.sh bench` after the Chromium run above):',
    'the floor worker, Workbox 7 and swcache (and swcache with `coldStart: \'router\'` where the Static',
    'Routing API exists) in headless Chromium, headless Firefox ESR and WebKit (WebKitGTK\'s MiniBrowser',
    'on Xvfb), each on its own origin with the same 15 KB promo page, driven by the tests\' harness.',
    '',
    '- **Cache hit**: `fetch()` of the cached page from a controlled, cross-origin isolated page,',
    `  ${r.plan.hit.rounds * r.plan.hit.perRound} samples per contender, interleaved.`,
    '- **Cold navigation**: the worker verified stopped, then a navigation from `about:blank` to the',
    '  cached page; the time is Navigation Timing\'s `responseEnd` (navigation start to the last byte,',
    `  starting the worker included), ${r.plan.cold.rounds} samples per contender. WebKitGTK sets the method: it runs`,
    '  the worker inside the page\'s web process, nothing can stop it from outside, and it stops the',
    '  worker itself a few seconds after the last page of its origin went, never while one is open; so',
    '  a cold start there can only be a navigation with no page of the origin open, and the three',
    '  engines are measured the same way. Chromium\'s workers are stopped through CDP, Firefox\'s through',
    '  its service-worker manager; in WebKit the tab waits on `about:blank` until WebKit has stopped',
    '  the worker. Every sample is checked: each worker sends a heartbeat (a fetch every 100 ms with an',
    `  id per instance), silent for ${r.plan.quietMs} ms before the sample (stopped) and from a new instance after it;`,
    '  the server has other content by then, so the page must show the cached copy (Chromium and WebKit',
    '  also send the navigation to the network themselves while the worker starts; the page still gets',
    '  the worker\'s answer). For the router contender Navigation Timing\'s `workerMatchedSourceType` is `cache`: the',
    '  browser\'s router answered (Chromium starts the worker as well, in parallel).',
    '- **Warm navigation**: the same navigation again at once, the worker running. Cold − warm is what',
    '  starting the worker costs a navigation.',
    '',
    'Timer resolution differs: Chromium gives sub-millisecond Navigation Timing; Firefox and WebKit',
    'round it to whole milliseconds outside cross-origin isolated pages (the cache hits are timed in one).',
    '',
    'WebKitGTK\'s automation session uses an ephemeral profile, Cache Storage in memory: there a cache\'s',
    'entries were found gone after the worker that had read them stopped with no page of its origin open,',
    'unless a page of the origin had read the cache since (Safari keeps Cache Storage on disk). So before',
    'every cold sample, in every engine, the contender\'s page checks that the cache holds the page',
    '(`caches.match`), then leaves for `about:blank`. In WebKit a cold navigation may also include starting',
    'a web process for the origin.',
    '',
  ];
  const ratioRows = [];
  for (const [key, label] of ENGINES) {
    const e = r.engines[key];
    if (!e) continue;
    out.push(`### ${label} ${e.version}`, '',
      '| contender | cache hit p50 / p95 | cold navigation p50 / p95 | warm navigation p50 | cold − warm p50 | cold ÷ floor | cold ÷ Workbox |',
      '|---|---|---|---|---|---|---|');
    const c = e.contenders;
    for (const name of ORDER) {
      const x = c[name];
      if (!x) continue;
      out.push(`| ${name} | ${ms(x.hit.p50)} / ${ms(x.hit.p95)} ms | ${ms(x.cold.p50)} / ${ms(x.cold.p95)} ms | ${ms(x.warm.p50)} ms | `
        + `${ms(x.cold.p50 - x.warm.p50)} ms | ${(x.cold.p50 / c.floor.cold.p50).toFixed(2)}× | ${(x.cold.p50 / c.workbox.cold.p50).toFixed(2)}× |`);
    }
    out.push('', `Workers stopped by: ${e.stopMethod}; cold phase ${e.coldSeconds} s${e.date ? `; run ${e.date}` : ''}.`, '', ...insideTable(c));
    const ratio = c.swcache.cold.p50 / c.workbox.cold.p50;
    ratioRows.push(`| ${label} ${e.version} | ${ms(c.swcache.cold.p50)} ms | ${ms(c.workbox.cold.p50)} ms | ${ratio.toFixed(2)}× | ${ratio <= 1 ? 'yes' : '**no**'} |`
      + ` ${c['swcache-router'] ? `${ms(c['swcache-router'].cold.p50)} ms` : 'no router'} |`);
  }
  out.splice(out.indexOf('', out.indexOf('round it to whole milliseconds outside cross-origin isolated pages (the cache hits are timed in one).')) + 1, 0,
    '### Target: swcache\'s cold start without the router ≤ Workbox\'s, in each engine', '',
    '| engine | swcache cold p50 | Workbox cold p50 | ratio | met | swcache-router cold p50 |', '|---|---|---|---|---|---|',
    ...ratioRows, '');
  out.push(`**Run:** ${r.date}${r.ran ? ` (${r.ran.join(', ')})` : ''} · ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB · ${r.machine.os} · Node ${r.machine.node} · ${r.wallSeconds} s`, '', END);
  return out;
}

/** The cold starts' steps inside each worker (TIMING_REPORT), and swcache's own. */
function insideTable(c) {
  const rows = ORDER.filter((name) => c[name]?.steps);
  if (!rows.length) return [];
  const base = c.floor.steps;
  const cell = (x, k) => (x === base ? ms(x[k].p50) : `${ms(x[k].p50)} (${x[k].p50 >= base[k].p50 ? '+' : '−'}${ms(Math.abs(x[k].p50 - base[k].p50))})`);
  const out = [
    `Inside each worker, the same cold starts (p50 ms from the worker's time origin; in parentheses the difference to the floor):`, '',
    '| contender | script start | script start → first fetch event | first fetch event → response | time origin → response |',
    '|---|---:|---:|---:|---:|',
    ...rows.map((name) => { const x = c[name].steps; return `| ${name} | ${cell(x, 'evaluated')} | ${cell(x, 'toFirstFetch')} | ${cell(x, 'firstResponse')} | ${cell(x, 'firstAnswer')} |`; }),
    '',
  ];
  const b = c.swcache?.breakdown;
  if (b) {
    out.push(`swcache's own steps (\`self.swcache.timing\`, p50 ms): its engine script loaded and its shim running ${ms(b.evaluated.p50)} after the time origin `
      + `(the prelude's script start: ${ms(c.swcache.steps.evaluated.p50)}), compile ${ms(b.compile.p50)}, instantiate ${ms(b.instantiate.p50)}, \`start()\` ${ms(b.start.p50)}, `
      + `then ${ms(b.toFirstFetch.p50)} to the first fetch event and ${ms(b.firstResponse.p50)} to its response.`, '');
  }
  return out;
}

/** `md` with the section replaced (or appended). */
export function withSection(md, r) {
  const section = enginesMarkdown(r).join('\n');
  const a = md.indexOf(START);
  const b = md.indexOf(END);
  if (a >= 0 && b > a) return md.slice(0, a) + section + md.slice(b + END.length);
  return md.replace(/\n*$/, '\n\n') + section + '\n';
}

export function writeSection(resultsPath = path.join(HERE, 'engines-results.json'), mdPath = path.join(HERE, '..', 'BENCHMARKS.md')) {
  const r = JSON.parse(fs.readFileSync(resultsPath, 'utf8'));
  fs.writeFileSync(mdPath, withSection(fs.existsSync(mdPath) ? fs.readFileSync(mdPath, 'utf8') : '', r));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) writeSection();
