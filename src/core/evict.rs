//! Eviction planning: least recently used first. The worker ticks a logical clock on
//! every cache hit and write of a `maxEntries` route and keeps it in memory only (no
//! I/O on the hit path). Entries this worker instance has not used yet rank below every
//! used one, in `Cache.keys()` order, which is insertion order (a `put` of an existing
//! URL moves it to the end): so after a restart eviction starts as oldest-stored first.

use super::sort::heapsort_by;

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

/// When each entry of one cache was last used, by path, on a logical clock.
#[derive(Debug, Default)]
pub struct Recency {
    clock: u64,
    /// Sorted by path.
    used: Vec<(String, u64)>,
}

impl Recency {
    /// `path` was read from or written to the cache.
    pub fn touch(&mut self, path: &str) {
        self.clock += 1;
        match self.used.binary_search_by(|(p, _)| p.as_str().cmp(path)) {
            Ok(i) => self.used[i].1 = self.clock,
            Err(i) => self.used.insert(i, (path.to_string(), self.clock)),
        }
    }

    /// The clock now: pass it to [`Recency::plan`] for keys listed after this.
    pub fn now(&self) -> u64 {
        self.clock
    }

    fn position(&self, path: &str) -> Result<usize, usize> {
        self.used.binary_search_by(|(p, _)| p.as_str().cmp(path))
    }

    /// Of `keys` (the cache's paths in `Cache.keys()` order, listed when the clock read
    /// `listed_at`), the indices of the `n` to delete, least recently used first.
    /// Forgets the victims and paths gone from the cache, but not paths used since the
    /// listing (a store that landed after it).
    pub fn plan(&mut self, keys: &[&str], n: usize, listed_at: u64) -> Vec<usize> {
        let mut order: Vec<(u64, usize)> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (self.position(k).map_or(0, |j| self.used[j].1), i))
            .collect();
        heapsort_by(&mut order, |a, b| a < b);
        let n = n.min(order.len());
        let mut alive: Vec<bool> = self.used.iter().map(|&(_, t)| t > listed_at).collect();
        for &(_, i) in &order[n..] {
            if let Ok(j) = self.position(keys[i]) {
                alive[j] = true;
            }
        }
        for &(_, i) in &order[..n] {
            if let Ok(j) = self.position(keys[i]) {
                alive[j] = false;
            }
        }
        let mut alive = alive.into_iter();
        self.used.retain(|_| alive.next().unwrap_or(false));
        order[..n].iter().map(|&(_, i)| i).collect()
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
    fn least_recently_used_go_first_and_unused_before_used() {
        let mut r = Recency::default();
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
    fn plan_forgets_paths_no_longer_listed_and_bounds_n() {
        let mut r = Recency::default();
        for i in 0..100 {
            r.touch(&format!("/p{i}"));
        }
        assert!(r.plan(&["/p5"], 10, r.now()).len() == 1, "cannot delete more than listed");
        assert!(r.is_empty(), "an entry deleted elsewhere (invalidation) is forgotten");
    }

    #[test]
    fn a_store_landing_after_the_listing_keeps_its_recency() {
        let mut r = Recency::default();
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
        let mut r = Recency::default();
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
                if seed % 3 != 0 {
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
