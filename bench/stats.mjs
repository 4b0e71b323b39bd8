// Small statistics for the benchmark: percentiles, a seeded PRNG and a Zipf sampler.

/** The p-th percentile (0-100) of `xs` (nearest rank). */
export function percentile(xs, p) {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length - 1, Math.max(0, rank - 1))];
}

export function summary(xs) {
  return { n: xs.length, p50: percentile(xs, 50), p95: percentile(xs, 95) };
}

/** Rows of named numbers as a summary per name (null when there are no rows). */
export function columns(rows) {
  return rows.length ? Object.fromEntries(Object.keys(rows[0]).map((k) => [k, summary(rows.map((r) => r[k]))])) : null;
}

/** mulberry32: a small deterministic PRNG returning floats in [0, 1). */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `length` ranks in 1..=n drawn from Zipf(s) with a seeded PRNG. */
export function zipfTrace({ n, s, length, seed }) {
  const cdf = [];
  let total = 0;
  for (let k = 1; k <= n; k++) { total += 1 / k ** s; cdf.push(total); }
  const rnd = mulberry32(seed);
  const out = [];
  for (let i = 0; i < length; i++) {
    const u = rnd() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (cdf[mid] < u) lo = mid + 1; else hi = mid; }
    out.push(lo + 1);
  }
  return out;
}
