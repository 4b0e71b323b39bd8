// Turns bench/results.json into BENCHMARKS.md (tables) and bench/chart.svg, with the feed
// service's section from bench/feed-results.json (bench/feed.rs) when there is one.
// `node bench/write-report.mjs` renders both again without running anything.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { withSection } from './engines-report.mjs';

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
    const [js, ...scheduler] = r.pageBytes.swcache;
    const all = js.gzip + scheduler.reduce((n, f) => n + f.gzip, 0);
    rows.push(['page module, everything a page loads ≤ 12 KB gzip', `${kb(js.gzip)} KB without hydrate(), ${kb(all)} KB with`, all <= 12 * 1024]);
  }
  if (r.hydrate) {
    rows.push(['DOMContentLoaded → first swcache:hydrated ≤ 15 ms median (demo components page, first visit)',
      `${ms(r.hydrate.first.p50)} ms (p95 ${ms(r.hydrate.first.p95)}); repeat visit ${ms(r.hydrate.repeat.p50)} ms${r.hydrate.floors
        ? `; floors in the same run: one task after DOMContentLoaded ${ms(r.hydrate.floors.timer.p50)} ms, reading the preloaded wasm ${ms(r.hydrate.floors.fetch.p50)} ms` : ''}${r.hydrate.fromStart
        ? `; from navigation start: DOMContentLoaded ${ms(r.hydrate.fromStart.dcl.p50)} ms, first hydrated ${ms(r.hydrate.fromStart.hydrated.p50)}, first contentful paint ${ms(r.hydrate.fromStart.fcp.p50)} (hydrated before it in ${r.hydrate.fromStart.beforePaint} of ${r.hydrate.fromStart.fcp.n} visits)` : ''}`,
      r.hydrate.first.p50 <= 15]);
  }
  // A figure with no samples (shown '–') is not met: `null <= 15` is true in JavaScript.
  return rows.map(([name, value, met]) => ({ name, value, met: met && !/–|NaN/.test(value) }));
}

/** Each contender's cold start inside its worker, from the prelude every /sw.js starts with. */
function stepsTable(r) {
  const rows = Object.entries(r.contenders).filter(([, c]) => c.coldSteps);
  if (!rows.length) return '';
  const floor = r.contenders.floor?.coldSteps;
  const diff = (d) => `${d >= 0 ? '+' : '−'}${ms(Math.abs(d))}`;
  const cell = (c, k) => `${ms(c[k].p50)}${floor && c !== floor ? ` (${diff(c[k].p50 - floor[k].p50)})` : ''}`;
  return [
    `### Cold start inside each worker, ${rows[0][1].coldSteps.evaluated.n} cold starts each`,
    '',
    'p50 ms, in parentheses the difference to the floor\'s p50. Every contender\'s `/sw.js` is served',
    'with the same first lines (bench/workers.mjs, `TIMING_PRELUDE`, not counted in its bytes): the',
    'time from the worker\'s time origin to its script start, from there to its first fetch event',
    '(the whole first evaluation: for swcache its engine\'s compile, instantiate and `start()`),',
    'and from that event until the promise given to `respondWith` settles.',
    '',
    '| contender | script start | script start → first fetch event | first fetch event → response | time origin → response |',
    '|---|---:|---:|---:|---:|',
    ...rows.map(([name, c]) => `| ${name} | ${cell(c.coldSteps, 'evaluated')} | ${cell(c.coldSteps, 'toFirstFetch')} | ${cell(c.coldSteps, 'firstResponse')} | ${cell(c.coldSteps, 'firstAnswer')} |`),
    '',
  ].join('\n');
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
  const [js, ...scheduler] = p.swcache;
  const sum = (k) => js[k] + scheduler.reduce((n, f) => n + f[k], 0);
  return [
    '### Bytes a page loads for the page module',
    '',
    '| what | raw bytes | gzip bytes |',
    '|---|---:|---:|',
    `| swcache: \`register\`, messages, \`prefetchOnHover\`, \`subscribe\` (${js.file}) | ${js.raw} | ${js.gzip} |`,
    `| swcache with \`hydrate()\` (+ ${scheduler.map((f) => f.file).join(' + ')}) | ${sum('raw')} | ${sum('gzip')} |`,
    ...p.others.map((o) => `| ${o.name} | ${o.raw} | ${o.gzip} |`),
    '',
    'Target: everything a page loads ≤ 12 KB gzip. A page that does not hydrate loads only',
    'the module (no wasm); `hydrate()` imports the scheduler (wasm-bindgen\'s glue, and the',
    'wasm, compiled while it streams in).',
    '',
  ];
}

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** " with uncommitted changes to …" for the sources a run was built from (a shared tree). */
function dirtyNote(files) {
  if (!files?.length) return '';
  if (files.length <= 3) return ` with uncommitted changes to ${files.map((p) => `\`${p}\``).join(', ')}`;
  return ` with uncommitted changes to ${files.length} source files`;
}

/** The feed service's section (bench/feed-results.json): lines of Markdown. */
export function feedMarkdown(f) {
  if (!f) return [];
  const n0 = (x) => (x == null ? '–' : Math.round(x).toLocaleString('en-US'));
  const n1 = (x) => (x == null ? '–' : x.toLocaleString('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 }));
  const n2 = (x) => (x == null ? '–' : x.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 }));
  const mib = (kib) => (kib / 1024).toFixed(1);
  const yes = (m) => (m ? 'yes' : '**no**');
  const med = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
  const fo = f.fanout || {};
  const pub = f.publish || {};
  const g = f.conditionalGet;
  const cores = f.machine.cores;
  const out = [
    '## Feed service (`swcache-feed serve`)',
    '',
    'Produced by `./build.sh bench` (its last step) or `./build.sh bench-feed` (only this): `bench/feed.rs`,',
    'a load generator in Rust (`cargo run --release --example feed-bench`), on the same machine as',
    'everything it measures, over loopback. It starts the service instances, one Redis',
    '(`--appendonly yes --appendfsync always`) and one Debian nginx as its own children and stops',
    'them by pid. The client is raw tokio sockets with a minimal HTTP/1.1 (SSE: chunked decoding and',
    'line scanning), so it costs the shared cores as little as possible; every window also records',
    'the CPU time of the servers, of the client, of Redis and of the whole machine (`/proc`), since',
    `client and servers share ${cores} cores. Before each measurement it waits (bounded) until the machine is`,
    'quiet; CPU the window spent outside these processes is shown as "other" (kernel I/O threads, other work).',
    '',
    `**Run:** ${f.date} · ${f.machine.cpu}, ${cores} cores, ${f.machine.memoryGiB} GiB · Linux ${f.machine.kernel} ·`,
    `${f.machine.nginx?.replace('nginx version: ', '')} · ${f.machine.redis?.split(' ').slice(0, 3).join(' ')} · stores on ${f.storeFilesystem} · ${f.seconds} s ·`,
    `machine ${Math.round(f.backgroundBusy * 100)}% busy with other work just before the run`
      + (f.source?.commit ? ` · commit ${f.source.commit}${dirtyNote(f.source.uncommittedServiceChanges)}` : ''),
    '',
  ];
  // Targets.
  const rows = [];
  for (const [k, label] of [['file', 'one instance, file store'], ['redis', `${fo.redis?.instances} instances on one Redis`]]) {
    const x = fo[k];
    if (!x) continue;
    rows.push([`publish → event p99 ≤ 250 ms, ${n0(x.clients)} SSE clients, ${label}`,
      `${n1(x.latencyMs.p99)} ms (p50 ${n1(x.latencyMs.p50)}, last client ${n1(x.lastClientMs.p50)} ms p50, ${n1(x.lastClientMs.max)} max)`, x.latencyMs.p99 <= 250]);
  }
  if (pub.redis) {
    rows.push([`≥ 1,000 publishes/s on Redis, ${pub.redis.concurrent.publishers} concurrent publishers`, `${n0(pub.redis.concurrent.perSecond)}/s`, pub.redis.concurrent.perSecond >= 1000]);
    rows.push(['≥ 1,000 publishes/s on Redis, one publisher at a time', `${n0(pub.redis.sequential.perSecond)}/s`, pub.redis.sequential.perSecond >= 1000]);
  }
  if (g) rows.push(['conditional feed GETs (304) ≥ 0.5× nginx', `${n2(g.ratio)}× (${n0(g.service.perSecond)} vs ${n0(g.nginx.perSecond)}/s)`, g.ratio >= 0.5]);
  out.push('### Targets', '', '| target | measured | met |', '|---|---|---|', ...rows.map(([a, b, m]) => `| ${a} | ${b} | ${yes(m)} |`), '');

  // 1. Fan-out.
  const fans = [['file', 'one instance, file store'], ['redis', `${fo.redis?.instances} instances, one Redis`]].filter(([k]) => fo[k]);
  if (fans.length) {
    const x0 = fo[fans[0][0]];
    out.push(
      `### Publish → event received by every SSE client (${x0.publishes} publishes each, after ${x0.warmupPublishes} warm-up ones)`,
      '',
      'From the publish request being sent to the event being read by each client (one sample per client',
      'per publish); "last client" is the slowest client of a publish. Publishes go one at a time (to the',
      'instances in turn), each once the machine is quiet again.',
      '',
      '| setup | clients | samples | p50 ms | p90 ms | p99 ms | max ms | last client p50 ms | publish acknowledged p50 ms | missed |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...fans.map(([k, label]) => {
        const x = fo[k];
        return `| ${label} | ${n0(x.connected)} | ${n0(x.latencyMs.n)} | ${n1(x.latencyMs.p50)} | ${n1(x.latencyMs.p90)} | ${n1(x.latencyMs.p99)} | ${n1(x.latencyMs.max)} | ${n1(x.lastClientMs.p50)} | ${n2(x.ackMs.p50)} | ${x.missing} |`;
      }),
      '',
      'CPU per publish, from the publish to the last client (`/proc` CPU times in 10 ms ticks, summed over the windows ÷ publishes):',
      '',
      '| setup | window ms | service CPU ms (kernel) | client CPU ms (kernel) | Redis CPU ms | other CPU ms | service µs per client | client µs per client | machine busy |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...fans.map(([k, label]) => {
        const x = fo[k];
        const p = x.publishes;
        const c = x.cpu;
        return `| ${label} | ${n1(c.wallMs / p)} | ${n1(c.serverMs / p)} (${n1(c.serverSysMs / p)}) | ${n1(c.clientMs / p)} (${n1(c.clientSysMs / p)}) | ${n1(c.redisMs / p)} | ${n1(c.otherMs / p)} | ${n1((c.serverMs / p) * 1000 / x.connected)} | ${n1((c.clientMs / p) * 1000 / x.connected)} | ${Math.round(c.machineBusy * 100)}% |`;
      }),
      '',
    );
  }

  // 2. Publishes per second.
  const stores = ['file', 'redis'].filter((k) => pub[k]);
  if (stores.length) {
    out.push(
      `### Publishes per second (the median of ${f.plan.rateRounds ?? 1} rounds of ${f.plan.rateSeconds} s, no live clients)`,
      '',
      'Each publish is acknowledged once durable (201); a publisher sends the next one on the answer.',
      'One instance per store, fresh, on the feed the previous runs left (200 entries kept).',
      '',
      '| store | publishers | publishes/s | latency p50 ms | p99 ms | service CPU ms per publish | Redis CPU ms per publish | machine busy |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
      ...stores.flatMap((k) => ['sequential', 'concurrent'].map((m) => {
        const x = pub[k][m];
        return `| ${k} | ${x.publishers} | ${n0(x.perSecond)}${x.rounds?.length > 1 ? ` (${x.rounds.map(n0).join(', ')})` : ''} | ${n2(x.latencyMs.p50)} | ${n2(x.latencyMs.p99)} | ${n2(x.cpuPerPublishMs.server)} | ${k === 'redis' ? n2(x.cpuPerPublishMs.redis) : '–'} | ${Math.round(x.cpu.machineBusy * 100)}% |`;
      })),
      '',
    );
    const d = pub.redis?.diagnostics;
    if (d) {
      out.push(`Redis with \`appendfsync no\` instead (set for one more sequential run, then back): ${n0(d.sequentialAppendfsyncNo.perSecond)} publishes/s,`,
        `p50 ${n2(d.sequentialAppendfsyncNo.latencyMs.p50)} ms, p99 ${n2(d.sequentialAppendfsyncNo.latencyMs.p99)} ms. A Redis round trip (\`PING\`, one connection): p50 ${n2(d.pingMs.p50)} ms, p99 ${n2(d.pingMs.p99)} ms.`, '');
    }
    if (f.fsyncMs?.n) out.push(`One fsync (200 bytes written, then \`sync_all\`) on the stores' disk: p50 ${n2(f.fsyncMs.p50)} ms, p90 ${n2(f.fsyncMs.p90)} ms, p99 ${n2(f.fsyncMs.p99)} ms (${f.fsyncMs.n} in a row).`, '');
  }

  // 3. Conditional GETs.
  if (g) {
    out.push(
      `### Conditional feed GETs (If-None-Match → 304): the service vs nginx, ${g.connections} keep-alive connections`,
      '',
      `The same client, the same request, the same feed file (${n0(g.service.feedBytes)} bytes: the file store's document, which nginx serves`,
      `from the store's directory: \`worker_processes auto\`, \`etag on\`, no access log). ${g.rounds} rounds of ${g.seconds} s each,`,
      'alternating which goes first, after 0.5 s of warm-up; the median round.',
      '',
      '| server | 304s per second | ÷ nginx | server CPU µs per request | client CPU µs per request | machine busy |',
      '|---|---:|---:|---:|---:|---:|',
      ...['service', 'nginx'].map((k) => `| ${k === 'service' ? 'swcache-feed serve' : 'nginx'} | ${n0(g[k].perSecond)} | ${n2(g[k].perSecond / g.nginx.perSecond)}× | ${n1(g[k].serverCpuUsPerRequest)} | ${n1(g[k].clientCpuUsPerRequest)} | ${Math.round(g[k].machineBusy * 100)}% |`),
      '',
    );
  }

  // 4. Memory.
  const cn = f.connections;
  if (fans.length || cn) {
    out.push('### Memory per connected client (VmRSS of the serve process, before and after connecting)', '',
      '| what | connections | RSS before MiB | RSS after MiB | KiB per connection |', '|---|---:|---:|---:|---:|');
    for (const [k, label] of fans) {
      const x = fo[k];
      const b = x.memory.rssBeforeKiB.reduce((a, v) => a + v, 0);
      const a = x.memory.rssAfterKiB.reduce((s, v) => s + v, 0);
      out.push(`| SSE clients, ${label}${x.instances > 1 ? ' (all instances)' : ''} | ${n0(x.connected)} | ${mib(b)} | ${mib(a)} | ${n1(x.memory.perClientKiB)} |`);
    }
    if (cn) {
      const names = { tcp: 'accepted TCP connection, nothing sent (fresh instance)', keepAlive: 'keep-alive connection idle after one `GET /healthz` (fresh instance)', sse: 'live `GET /v1/events` stream (fresh instance)' };
      for (const k of ['tcp', 'keepAlive', 'sse']) {
        const x = cn.stages[k];
        out.push(`| ${names[k]} | ${n0(x.connections)} | ${mib(x.rssBeforeKiB)} | ${mib(x.rssAfterKiB)} | ${n1(x.perConnectionKiB)} |`);
      }
    }
    out.push('');
  }

  // What bounds the figures, from the numbers above.
  const why = [];
  const fx = fo.file;
  if (fx) {
    const per = fx.perPublish;
    const p = fx.publishes;
    const cpuMs = (fx.cpu.serverMs + fx.cpu.clientMs + fx.cpu.redisMs) / p;
    const noisy = per.filter((w) => w.cpu.otherMs > 20);
    const clean = per.filter((w) => w.cpu.otherMs <= 20);
    why.push(
      `**Fan-out.** Delivering one event to ${n0(fx.connected)} clients is CPU work on both sides of the loopback: the service spent`,
      `${n1((fx.cpu.serverMs / p) * 1000 / fx.connected)} µs of CPU per client (${Math.round((fx.cpu.serverSysMs / fx.cpu.serverMs) * 100)}% of it in the kernel: one chunked write per client on a TCP socket, whose`,
      `loopback receive path runs in the same call) and the client ${n1((fx.cpu.clientMs / p) * 1000 / fx.connected)} µs. Per publish that is`,
      `${n1(cpuMs)} ms of CPU for ${cores} cores, at least ${n1(cpuMs / cores)} ms of wall time; the last client got it after ${n1(fx.lastClientMs.p50)} ms`,
      `(p50), with the machine ${Math.round(fx.cpu.machineBusy * 100)}% busy over the windows: the fan-out is bounded by the CPU the two share.`,
    );
    if (noisy.length) {
      const [lo, hi] = [Math.min(...noisy.map((w) => w.cpu.otherMs)), Math.max(...noisy.map((w) => w.cpu.otherMs))];
      why.push(
        `${noisy.length} of ${per.length} windows had other work on the machine (${lo === hi ? n0(lo) : `${n0(lo)}–${n0(hi)}`} ms of CPU outside these processes);`,
        `the last client of the ${clean.length} others: ${n1(med(clean.map((w) => w.lastMs)))} ms p50, ${n1(Math.max(...clean.map((w) => w.lastMs)))} ms max.`,
      );
    }
    const rx = fo.redis;
    if (rx) {
      why.push(
        `With ${rx.instances} instances on one Redis, each instance writes to a third of the clients after Redis announces the entry and it`,
        `reads the feed back: ${n1(rx.cpu.serverMs / rx.publishes)} ms of service CPU per publish over all instances (${n1((rx.cpu.serverMs / rx.publishes) * 1000 / rx.connected)} µs per client), Redis ${n1(rx.cpu.redisMs / rx.publishes)} ms.`,
      );
    }
    why.push('');
  }
  if (pub.file && pub.redis) {
    const [fs1, fs8, rs1, rs8] = [pub.file.sequential, pub.file.concurrent, pub.redis.sequential, pub.redis.concurrent];
    const d = pub.redis.diagnostics;
    why.push(
      '**Publishes.** A file-store publish rewrites the whole feed under an exclusive lock (read and parse it, add, write a',
      'temporary file, sync it, rename it over the feed, sync the directory), then the instance\'s hub reads the file again',
      `and rebuilds the document and its gzip: ${n2(fs1.cpuPerPublishMs.server)} ms of service CPU per publish one at a time, for ${n2(1000 / fs1.perSecond)} ms per`,
      `publish. The lock serializes publishes to one file: ${fs8.publishers} publishers reach ${n0(fs8.perSecond)}/s against ${n0(fs1.perSecond)}/s for one.`,
      '',
      `A Redis publish is one script, answered after Redis has synced its append-only file (\`appendfsync always\`).`,
      `One publisher at a time: ${n0(rs1.perSecond)}/s, ${n2(1000 / rs1.perSecond)} ms per publish, during which the service used ${n2(rs1.cpuPerPublishMs.server)} ms of CPU and Redis`,
      `${n2(rs1.cpuPerPublishMs.redis)} ms (machine ${Math.round(rs1.cpu.machineBusy * 100)}% busy; Redis's round trip is ${n2(d?.pingMs.p50)} ms p50).`,
    );
    if (d) {
      const nf = d.sequentialAppendfsyncNo;
      why.push(
        `Without the sync (\`appendfsync no\`, one more run) one publisher makes ${n0(nf.perSecond)}/s, ${n2(1000 / nf.perSecond)} ms per publish with ${n2(nf.cpuPerPublishMs.server)} ms of`,
        nf.perSecond >= 1000
          ? 'service CPU: the sync of every write is what keeps one publisher under 1,000/s.'
          : `service CPU: the sync adds ${n2(1000 / rs1.perSecond - 1000 / nf.perSecond)} ms per publish, and the service's own work per publish,\n`
            + 'done in turn with the publisher\'s requests, keeps one publisher under 1,000/s even without it.',
      );
    }
    why.push(
      `With ${rs8.publishers} publishers Redis syncs several writes at once and one read of the store by the instance covers several`,
      `publishes: service CPU per publish falls from ${n2(rs1.cpuPerPublishMs.server)} to ${n2(rs8.cpuPerPublishMs.server)} ms and the rate reaches ${n0(rs8.perSecond)}/s.`,
      '',
    );
    const prof = d?.profile;
    if (prof?.functions?.length) {
      why.push(
        `Where the service's CPU goes with one publisher at a time on Redis (\`perf record\` with call graphs of the serve process, ${n0(prof.samples)} samples`,
        `over ${n0(prof.publishes)} publishes; each function's share includes what it calls, so shares overlap):`,
        '',
        '| function | share of the service\'s CPU samples |',
        '|---|---:|',
        ...prof.functions.slice(0, 12).map((x) => `| \`${x.name}\` | ${n1(x.inclusivePct)}% |`),
        '',
      );
    }
  }
  if (g) {
    why.push(
      `**Conditional GETs.** The machine was ${Math.round(g.service.machineBusy * 100)}% busy during the service's rounds and ${Math.round(g.nginx.machineBusy * 100)}% during nginx's, the client`,
      `using ${n1(g.service.clientCpuUsPerRequest)} and ${n1(g.nginx.clientCpuUsPerRequest)} µs per request itself: both rates are bounded by the ${cores} cores the servers share with the client. Per request`,
      `the service used ${n1(g.service.serverCpuUsPerRequest)} µs of CPU and nginx ${n1(g.nginx.serverCpuUsPerRequest)} µs (nginx opens and stats the file for every request`,
      'in this configuration, without `open_file_cache`; the service answers from the document it keeps in memory).',
      '',
    );
  }
  if (cn) {
    const st = cn.stages;
    why.push(
      `**Memory.** An accepted connection costs the serve process ${n1(st.tcp.perConnectionKiB)} KiB; after one request it keeps`,
      `${n1(st.keepAlive.perConnectionKiB)} KiB while idle (the HTTP/1.1 connection's buffers, kept for the next request); a live SSE stream`,
      `${n1(st.sse.perConnectionKiB)} KiB. The stream itself (its broadcast receiver, timers and state) is the difference,`,
      `${n1(st.sse.perConnectionKiB - st.keepAlive.perConnectionKiB)} KiB; the rest is the connection.`,
      '',
    );
    const s = cn.storm;
    if (s) {
      why.push(
        `**Reconnects.** The service listens with a backlog of ${cn.listenBacklog ?? '?'} (tokio's \`TcpListener::bind\`). ${n0(s.clients)} SSE clients`,
        `connecting ${n0(s.atOnce)} at a time (as after a restart: every client retries after 1 s) overflowed it ${n0(s.listenOverflows)} times`,
        `(${n0(s.synRetransmits)} SYNs retried, each after 1 s or more) and took ${n2(s.seconds)} s to connect (${s.failed} failed); the fan-out runs above`,
        `connect ${fx ? fx.connectingAtOnce : 100} at a time and see ${fx ? fx.listenOverflows : 0} overflows.`,
        '',
      );
    }
  }
  if (why.length) out.push('### What bounds these figures', '', ...why);
  return out;
}

export function markdown(r, notes, feed = null) {
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
    `${r.plan.cold.routerSettleMs} ms after it): the browser's router answered from Cache Storage.`,
    '',
    stepsTable(r),
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
  // The feed service's section after the worker's figures and their notes.
  out.push(...feedMarkdown(feed));
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

export function writeReport(r, { markdown: mdPath, svg: svgPath, notesPath, feedPath = path.join(HERE, 'feed-results.json') }) {
  const notes = notesPath && fs.existsSync(notesPath) ? fs.readFileSync(notesPath, 'utf8') : '';
  const feed = feedPath && fs.existsSync(feedPath) ? JSON.parse(fs.readFileSync(feedPath, 'utf8')) : null;
  let md = markdown(r, notes, feed);
  // The three-engine section (bench/engines.mjs) is kept where its results are.
  const engines = path.join(HERE, 'engines-results.json');
  if (fs.existsSync(engines)) md = withSection(md, JSON.parse(fs.readFileSync(engines, 'utf8')));
  fs.writeFileSync(mdPath, md);
  fs.writeFileSync(svgPath, svg(r));
  return md;
}

// `node bench/write-report.mjs`: BENCHMARKS.md and bench/chart.svg again from the stored
// results (bench/results.json, bench/feed-results.json, bench/notes.md).
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const r = JSON.parse(fs.readFileSync(path.join(HERE, 'results.json'), 'utf8'));
  writeReport(r, {
    markdown: path.join(HERE, '..', 'BENCHMARKS.md'), svg: path.join(HERE, 'chart.svg'), notesPath: path.join(HERE, 'notes.md'),
  });
  console.log('BENCHMARKS.md written');
}
