//! Eviction planning: least frequently used among recent requests, then least recently
//! used. Every cache hit and write of a `maxEntries` route is recorded in memory only (no
//! I/O on the hit path): a logical clock for recency, and a small frequency sketch with
//! aging (TinyLFU's: one-byte counters indexed by a hash of the path, 16 per entry
//! allowed, every counter halved after 10 requests per entry allowed). The sketch also
//! remembers pages that were evicted, so a popular page that comes back outranks pages
//! seen once, which plain LRU lets push it out again. On a Zipf(1) trace of 5,000
//! requests over 500 pages with `maxEntries: 50` it misses ~16% less than LRU (see
//! `frequency_beats_plain_lru_on_a_zipf_trace`; BENCHMARKS.md compares it with
//! Workbox). Entries this worker instance has not used yet rank below every used one,
//! in `Cache.keys()` order, which is insertion order (a `put` of an existing URL moves
//! it to the end): so after a restart eviction starts as oldest-stored first.

use super::prelude::*;
use super::sort::least_first_by;

/// How many of `count` entries must go to respect `max_entries`.
pub fn excess(count: usize, max_entries: u32) -> usize {
    count.saturating_sub(max_entries as usize)
}

/// How many of a route's `count` entries to drop after a quota error: the least used
/// quarter, at least one.
pub fn quota_relief(count: usize) -> usize {
    if count == 0 {
        0
    } else {
        (count / 4).max(1)
    }
}

/// Approximate request counts of recent paths: one-byte counters indexed by an FNV-1a
/// hash, all halved once `window` requests were counted.
#[derive(Debug, Default)]
struct Frequency {
    counters: Vec<u8>,
    window: u32,
    seen: u32,
}

impl Frequency {
    fn new(max_entries: u32) -> Self {
        let size = (max_entries as usize).saturating_mul(16).clamp(1024, 1 << 20).next_power_of_two();
        Frequency { counters: vec![0; size], window: max_entries.saturating_mul(10).max(100), seen: 0 }
    }

    fn slot(&self, path: &str) -> usize {
        let mut h: u32 = 0x811c_9dc5;
        for b in path.bytes() {
            h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
        h as usize & (self.counters.len() - 1)
    }

    fn add(&mut self, path: &str) {
        if self.counters.is_empty() {
            return;
        }
        let i = self.slot(path);
        self.counters[i] = self.counters[i].saturating_add(1);
        self.seen += 1;
        if self.seen >= self.window {
            self.seen = 0;
            for c in &mut self.counters {
                *c >>= 1;
            }
        }
    }

    fn estimate(&self, path: &str) -> u8 {
        if self.counters.is_empty() {
            0
        } else {
            self.counters[self.slot(path)]
        }
    }
}

/// How often (recently) and when each entry of one `maxEntries` cache was used.
#[derive(Debug, Default)]
pub struct Usage {
    clock: u64,
    /// Sorted by path: the logical time of the last use.
    used: Vec<(String, u64)>,
    frequency: Frequency,
}

impl Usage {
    pub fn new(max_entries: u32) -> Self {
        Usage { frequency: Frequency::new(max_entries), ..Usage::default() }
    }

    /// `path` was read from or written to the cache.
    pub fn touch(&mut self, path: &str) {
        self.clock += 1;
        self.frequency.add(path);
        match self.position(path) {
            Ok(i) => self.used[i].1 = self.clock,
            Err(i) => self.used.insert(i, (String::from(path), self.clock)),
        }
    }

    /// A write of `path` landed: it counts as used now if a plan forgot it meanwhile.
    pub fn landed(&mut self, path: &str) {
        if let Err(i) = self.position(path) {
            self.clock += 1;
            self.used.insert(i, (String::from(path), self.clock));
        }
    }

    /// The clock now: pass it to [`Usage::plan`] for keys listed after this.
    pub fn now(&self) -> u64 {
        self.clock
    }

    fn position(&self, path: &str) -> Result<usize, usize> {
        self.used.binary_search_by(|(p, _)| p.as_str().cmp(path))
    }

    /// Of `keys` (the cache's paths in `Cache.keys()` order, listed when the clock read
    /// `listed_at`), the indices of the `n` to delete: least frequently used first, then
    /// least recently used (never-used entries first, in cache order).
    /// Forgets the victims and paths gone from the cache, but not paths used since the
    /// listing (a store that landed after it).
    pub fn plan(&mut self, keys: &[&str], n: usize, listed_at: u64) -> Vec<usize> {
        // (Each key looked up once, and only the victims sorted: a write to a full cache
        // of 100,000 entries plans among them all, which took 50 ms.)
        let mut order: Vec<(u8, u64, usize, usize)> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| match self.position(k) {
                Ok(j) => (self.frequency.estimate(k), self.used[j].1, i, j),
                Err(_) => (0, 0, i, usize::MAX),
            })
            .collect();
        let n = n.min(order.len());
        least_first_by(&mut order, n, |a, b| a < b);
        let mut alive: Vec<bool> = self.used.iter().map(|&(_, t)| t > listed_at).collect();
        for &(_, _, _, j) in &order[n..] {
            if let Some(a) = alive.get_mut(j) {
                *a = true;
            }
        }
        for &(_, _, _, j) in &order[..n] {
            if let Some(a) = alive.get_mut(j) {
                *a = false;
            }
        }
        let mut alive = alive.into_iter();
        self.used.retain(|_| alive.next().unwrap_or(false));
        order[..n].iter().map(|&(_, _, i, _)| i).collect()
    }

    pub fn len(&self) -> usize {
        self.used.len()
    }

    pub fn is_empty(&self) -> bool {
        self.used.is_empty()
    }
}

/// Serialises trims of one cache and coalesces the requests that arrive meanwhile:
/// 100 stores in a burst cause one or two `keys()` listings, not 100.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrimGate {
    running: bool,
    again: bool,
}

impl TrimGate {
    /// A store finished. `true`: start a trim now; `false`: the running trim will rerun.
    pub fn request(&mut self) -> bool {
        if self.running {
            self.again = true;
            false
        } else {
            self.running = true;
            true
        }
    }

    /// Whether a trim is under way.
    pub fn is_running(&self) -> bool {
        self.running
    }

    /// The running trim finished (or failed). `true`: run it once more.
    pub fn finished(&mut self) -> bool {
        if self.again {
            self.again = false;
            true
        } else {
            self.running = false;
            false
        }
    }
}

/// The keys of one `maxEntries` cache as this worker instance knows them: taken from a
/// `Cache.keys()` listing, then kept up to date by its own writes and trims, so that a
/// write to a full cache picks its victims without listing the cache again (a listing of
/// 100 keys after every write slowed the requests that followed it by about 1 ms). Same-
/// origin paths only, in cache order (a write of a key already there moves it to the
/// end, as `Cache.put` does). Anything else that changes the cache (an invalidation, a
/// sweep, quota relief, a deletion that found fewer entries than planned) makes the
/// engine drop it and list at the next write.
#[derive(Debug, Default)]
pub struct KnownKeys {
    paths: Vec<String>,
}

impl KnownKeys {
    /// From a listing (absolute URLs); `None` when a key is on another origin (such a
    /// cache is listed at every trim, as its keys are not paths of this origin).
    pub fn from_listing(keys: &[String], origin: &str) -> Option<KnownKeys> {
        let mut paths = Vec::with_capacity(keys.len());
        for k in keys {
            paths.push(String::from(super::url::same_origin_path(k, origin)?));
        }
        Some(KnownKeys { paths })
    }

    /// `path` was written: it is now the newest key.
    pub fn stored(&mut self, path: &str) {
        if let Some(i) = self.paths.iter().position(|p| p == path) {
            self.paths.remove(i);
        }
        self.paths.push(String::from(path));
    }

    /// Removes the keys at `victims` (indices into [`KnownKeys::paths`]), returning them.
    pub fn take(&mut self, victims: &[usize]) -> Vec<String> {
        let gone = victims.iter().filter_map(|&i| self.paths.get_mut(i).map(::core::mem::take)).collect();
        // Paths are never empty: an emptied one is a victim's place.
        self.paths.retain(|p| !p.is_empty());
        gone
    }

    /// A cache read found no `path`: keys that list it are not the cache's (the site
    /// deleted its caches, say): forgotten, so the next write lists the cache.
    pub fn missed(known: &mut Option<KnownKeys>, path: &str) {
        if known.as_ref().is_some_and(|k| k.paths.iter().any(|p| p == path)) {
            *known = None;
        }
    }

    pub fn paths(&self) -> Vec<&str> {
        self.paths.iter().map(String::as_str).collect()
    }

    pub fn len(&self) -> usize {
        self.paths.len()
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excess_and_relief() {
        assert_eq!(excess(12, 10), 2);
        assert_eq!(excess(10, 10), 0);
        assert_eq!(excess(3, 10), 0);
        assert_eq!(quota_relief(0), 0);
        assert_eq!(quota_relief(3), 1);
        assert_eq!(quota_relief(40), 10);
    }

    #[test]
    fn known_keys_follow_writes_and_deletions_in_cache_order() {
        let o = "https://site.example";
        let listed: Vec<String> = ["/a", "/b?x=1", "/c"].iter().map(|p| format!("{o}{p}")).collect();
        let mut k = KnownKeys::from_listing(&listed, o).unwrap();
        assert_eq!(k.paths(), ["/a", "/b?x=1", "/c"]);
        k.stored("/d");
        k.stored("/a"); // written again: moves to the end
        assert_eq!(k.paths(), ["/b?x=1", "/c", "/d", "/a"]);
        assert_eq!(k.take(&[3, 1]), ["/a", "/c"]);
        assert_eq!((k.paths(), k.len()), (vec!["/b?x=1", "/d"], 2));
        // A key on another origin: not kept as paths.
        let mixed = [format!("{o}/a"), String::from("https://cdn.example/a")];
        assert!(KnownKeys::from_listing(&mixed, o).is_none());
        assert!(KnownKeys::from_listing(&[], o).is_some_and(|k| k.is_empty()));
    }

    #[test]
    fn least_recently_used_go_first_and_unused_before_used() {
        let mut r = Usage::default();
        for p in ["/a", "/b", "/c", "/d"] {
            r.touch(p);
        }
        r.touch("/a"); // order of use: b, c, d, a
        assert_eq!(r.plan(&["/a", "/b", "/c", "/d"], 2, r.now()), vec![1, 2], "b and c were used longest ago");
        assert_eq!(r.len(), 2, "evicted paths are forgotten");
        // "/x" and "/y" were stored by an earlier worker: never used here, so they go
        // first, in cache (insertion) order.
        assert_eq!(r.plan(&["/y", "/d", "/x", "/a"], 2, r.now()), vec![0, 2]);
        assert_eq!(r.plan(&["/d", "/a"], 0, r.now()), Vec::<usize>::new());
    }

    #[test]
    fn frequent_pages_outlast_pages_seen_once_even_after_eviction() {
        let mut u = Usage::new(3);
        for _ in 0..5 {
            u.touch("/hot");
        }
        for p in ["/a", "/b"] {
            u.touch(p);
        }
        u.touch("/c"); // four entries, room for three: /hot was used longest ago but most often
        assert_eq!(u.plan(&["/hot", "/a", "/b", "/c"], 1, u.now()), vec![1], "/a: seen once, least recent");
        // When /hot had been evicted, coming back it still outranks one-timers that are
        // more recent (plain LRU would evict it first).
        let mut v = Usage::new(3);
        for _ in 0..5 {
            v.touch("/hot");
        }
        assert_eq!(v.plan(&["/hot"], 1, v.now()), vec![0]);
        v.touch("/hot"); // stored again
        v.touch("/x");
        v.touch("/y");
        assert_eq!(v.plan(&["/hot", "/x", "/y"], 1, v.now()), vec![1]);
    }

    /// Misses of a cache of `cap` entries on a Zipf(1) trace over `pages`.
    fn zipf_misses(usage: &mut Usage, cap: usize, pages: u32, len: usize) -> usize {
        let weights: Vec<f64> = (1..=pages).map(|k| 1.0 / f64::from(k)).collect();
        let total: f64 = weights.iter().sum();
        let mut seed = 0x1234_5678_u64;
        let mut cache: Vec<String> = Vec::new();
        let mut misses = 0;
        for _ in 0..len {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut u = (seed >> 11) as f64 / (1u64 << 53) as f64 * total;
            let mut k = 0;
            while k + 1 < weights.len() && u >= weights[k] {
                u -= weights[k];
                k += 1;
            }
            let p = format!("/zipf/{}", k + 1);
            if !cache.contains(&p) {
                misses += 1;
                cache.push(p.clone());
            }
            usage.touch(&p);
            if cache.len() > cap {
                let keys: Vec<&str> = cache.iter().map(String::as_str).collect();
                let victims = usage.plan(&keys, cache.len() - cap, usage.now());
                let gone: Vec<String> = victims.iter().map(|&i| cache[i].clone()).collect();
                cache.retain(|c| !gone.contains(c));
            }
        }
        misses
    }

    #[test]
    fn frequency_beats_plain_lru_on_a_zipf_trace() {
        let lru = zipf_misses(&mut Usage::default(), 50, 500, 5000);
        let tiny_lfu = zipf_misses(&mut Usage::new(50), 50, 500, 5000);
        assert!(tiny_lfu * 100 < lru * 92, "sketch {tiny_lfu} vs lru {lru} misses");
    }

    #[test]
    fn plan_forgets_paths_no_longer_listed_and_bounds_n() {
        let mut r = Usage::default();
        for i in 0..100 {
            r.touch(&format!("/p{i}"));
        }
        assert!(r.plan(&["/p5"], 10, r.now()).len() == 1, "cannot delete more than listed");
        assert!(r.is_empty(), "an entry deleted elsewhere (invalidation) is forgotten");
    }

    #[test]
    fn a_store_landing_after_the_listing_keeps_its_recency() {
        let mut r = Usage::default();
        for p in ["/a", "/b", "/c"] {
            r.touch(p);
        }
        let listed_at = r.now();
        r.touch("/new"); // stored while the trim awaited keys(): not in the listing
        assert_eq!(r.plan(&["/a", "/b", "/c"], 1, listed_at), vec![0]);
        assert_eq!(r.len(), 3, "/new is remembered, /a forgotten");
        assert_eq!(r.plan(&["/b", "/c", "/new"], 1, r.now()), vec![0], "/new is the most recent, not unused");
    }

    #[test]
    fn lru_matches_a_reference_model() {
        // Random uses and trims against a model that keeps an explicit use order.
        let mut seed = 0x9e37_79b9_u64;
        let mut rnd = |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % m
        };
        let mut r = Usage::default();
        let mut cache: Vec<String> = Vec::new(); // keys in insertion order
        let mut model: Vec<String> = Vec::new(); // least recently used first
        for _ in 0..2000 {
            let p = format!("/z{}", rnd(30));
            if !cache.contains(&p) {
                cache.push(p.clone());
            }
            r.touch(&p);
            model.retain(|m| m != &p);
            model.push(p);
            if cache.len() > 8 {
                let n = cache.len() - 8;
                let keys: Vec<&str> = cache.iter().map(String::as_str).collect();
                let victims: Vec<String> = r.plan(&keys, n, r.now()).into_iter().map(|i| cache[i].clone()).collect();
                let expected: Vec<String> = model[..n].to_vec();
                assert_eq!(victims, expected);
                cache.retain(|c| !victims.contains(c));
                model.drain(..n);
            }
        }
    }

    #[test]
    fn gate_serialises_and_coalesces() {
        let mut g = TrimGate::default();
        assert!(g.request(), "idle: start");
        for _ in 0..99 {
            assert!(!g.request(), "running: absorbed");
        }
        assert!(g.finished(), "requests arrived meanwhile: one more pass");
        assert!(!g.finished(), "nothing new: stop");
        assert!(g.request(), "idle again: start");
        assert!(!g.finished());
    }

    /// Model check: for any interleaving of store completions and trim passes, every
    /// store is followed by a trim pass that starts after it (so the final count is
    /// exactly max), and at most one pass runs at a time.
    #[test]
    fn every_store_is_covered_by_a_later_pass() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2_000 {
            let mut g = TrimGate::default();
            let mut running = false;
            let mut uncovered = false; // a store happened after the running pass began
            let mut pending_unseen = false; // a store no pass has started after yet
            for _ in 0..50 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                if !seed.is_multiple_of(3) {
                    // a store completes
                    pending_unseen = true;
                    if g.request() {
                        assert!(!running);
                        running = true;
                        pending_unseen = false;
                    } else {
                        assert!(running);
                        uncovered = true;
                    }
                } else if running {
                    // the pass ends
                    if g.finished() {
                        assert!(uncovered);
                        uncovered = false;
                        pending_unseen = false;
                    } else {
                        running = false;
                        assert!(!pending_unseen, "a store would be left untrimmed");
                    }
                }
            }
        }
    }
}
