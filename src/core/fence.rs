//! Invalidation fences: after CACHE_INVALIDATION at time T, a response whose fetch
//! started before T and that the invalidation covers is served but never stored.

use std::rc::Rc;

use super::message::Invalidation;

/// A fence is kept this long after it was raised; no fetch waits that long for headers.
pub const FENCE_LIFETIME_MS: f64 = 10.0 * 60_000.0;
/// At most this many fences are kept (the oldest go first).
pub const MAX_FENCES: usize = 1_000;

#[derive(Debug, Default)]
pub struct Fences {
    /// (raised at, by worker clock) and the invalidation, oldest first.
    list: Vec<(f64, Rc<Invalidation>)>,
}

impl Fences {
    pub fn raise(&mut self, inv: Rc<Invalidation>, now_ms: f64) {
        self.prune(now_ms);
        if self.list.len() >= MAX_FENCES {
            self.list.remove(0);
        }
        self.list.push((now_ms, inv));
    }

    pub fn prune(&mut self, now_ms: f64) {
        self.list.retain(|(raised, _)| now_ms - raised < FENCE_LIFETIME_MS);
    }

    /// Whether a response for `path` in `slot` (with `Cache-Tag` `tags`), fetched from
    /// `started_ms`, must not be stored.
    pub fn blocks(&self, path: &str, slot: usize, tags: Option<&str>, started_ms: f64) -> bool {
        self.list.iter().any(|(_, inv)| started_ms < inv.at_ms && inv.selector.matches(path, slot, tags))
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::message::Selector;

    fn inv(at_ms: f64, urls: &[&str], tags: &[&str]) -> Rc<Invalidation> {
        Rc::new(Invalidation {
            at_ms,
            selector: Selector {
                urls: urls.iter().map(|s| s.to_string()).collect(),
                tags: tags.iter().map(|s| s.to_string()).collect(),
                ..Selector::default()
            },
        })
    }

    #[test]
    fn blocks_only_covered_fetches_started_before_the_fence() {
        let mut f = Fences::default();
        f.raise(inv(1000.0, &["/a"], &["t1"]), 1000.0);
        assert!(f.blocks("/a", 0, None, 999.0));
        assert!(!f.blocks("/a", 0, None, 1000.0), "started at the fence: allowed");
        assert!(!f.blocks("/b", 0, None, 10.0), "not covered");
        assert!(f.blocks("/b", 0, Some("x, t1"), 10.0), "covered by tag");
    }

    #[test]
    fn fences_expire_and_are_bounded() {
        let mut f = Fences::default();
        f.raise(inv(0.0, &["/a"], &[]), 0.0);
        f.prune(FENCE_LIFETIME_MS - 1.0);
        assert_eq!(f.len(), 1);
        f.prune(FENCE_LIFETIME_MS);
        assert!(f.is_empty());
        for i in 0..(MAX_FENCES + 5) {
            f.raise(inv(100.0, &[&format!("/p{i}")], &[]), 1.0);
        }
        assert_eq!(f.len(), MAX_FENCES);
        assert!(!f.blocks("/p4", 0, None, 50.0), "the oldest fences went first");
        assert!(f.blocks("/p5", 0, None, 50.0));
    }
}
