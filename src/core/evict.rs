//! Eviction planning. Entries leave oldest-stored first: `Cache.keys()` lists a cache
//! in insertion order and a `put` of an existing URL moves it to the end, so "the first
//! `n` keys" are the `n` least recently stored, with no headers to read.

/// How many of `count` entries must go to respect `max_entries`.
pub fn excess(count: usize, max_entries: u32) -> usize {
    count.saturating_sub(max_entries as usize)
}

/// How many of a route's `count` entries to drop after a quota error: the oldest
/// quarter, at least one.
pub fn quota_relief(count: usize) -> usize {
    if count == 0 {
        0
    } else {
        (count / 4).max(1)
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
