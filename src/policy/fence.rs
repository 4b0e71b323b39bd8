//! Invalidation fences: after CACHE_INVALIDATION at time T, a response whose fetch
//! started before T and that the invalidation covers is served but never stored; and
//! until the covered entries are deleted, a fence hides them from reads, so the
//! invalidation takes effect the moment it is raised.

use super::prelude::*;

use super::message::Invalidation;

/// A fence is kept this long after it was raised; no fetch waits that long for headers.
pub const FENCE_LIFETIME_MS: f64 = 10.0 * 60_000.0;
/// At most this many fences are kept (the oldest go first).
pub const MAX_FENCES: usize = 1_000;

#[derive(Debug)]
struct Fence {
    /// Raised at, by the worker clock.
    raised_ms: f64,
    inv: Rc<Invalidation>,
    /// Covered entries may still be in the caches: reads must not see them.
    hiding: bool,
    /// Raised by a request that changes its URL (a form's POST), not by news a page or
    /// the feed sent.
    quiet: bool,
}

#[derive(Debug, Default)]
pub struct Fences {
    /// Oldest first.
    list: Vec<Fence>,
}

/// Whether every entry in the caches is known to be stamped before `at_ms`: entries of
/// earlier worker instances were stamped before this one started, and this one stamped
/// nothing later than `newest_stamp_ms` (if it stamped anything). Then an invalidation's
/// effect can be counted from the cache keys alone, without reading each entry's stamp.
impl Fence {
    /// See [`Fences::hides`].
    fn hides(&self, path: &str, slot: usize, tags: Option<&str>, stamp_ms: Option<f64>) -> bool {
        (self.hiding || stamp_ms.is_some()) && self.inv.removes(path, slot, tags, stamp_ms)
    }
}

pub fn all_stamped_before(at_ms: f64, instance_started_ms: f64, newest_stamp_ms: Option<f64>) -> bool {
    at_ms > instance_started_ms && newest_stamp_ms.is_none_or(|n| at_ms > n)
}

impl Fences {
    pub fn raise(&mut self, inv: Rc<Invalidation>, now_ms: f64, quiet: bool) {
        self.prune(now_ms);
        // The same news again: its fence is up already.
        if self.raised(&inv) {
            return;
        }
        // A fence a request raised goes first: the same URL's earlier one (this one, later,
        // covers it), or at the limit the oldest that no longer hides (a stream of POSTs
        // must not end the lifetime of news a page or the feed sent). Then the oldest that
        // no longer hides: one still hiding keeps copies an invalidation answered for from
        // being served.
        let full = self.list.len() >= MAX_FENCES;
        let same = |f: &Fence| quiet && f.inv.selector.urls == inv.selector.urls;
        let i = match self.list.iter().position(|f| f.quiet && (same(f) || (full && !f.hiding))) {
            None if full => Some(self.list.iter().position(|f| !f.hiding).unwrap_or(0)),
            i => i,
        };
        if let Some(i) = i {
            self.list.remove(i);
        }
        self.list.push(Fence { raised_ms: now_ms, inv, hiding: true, quiet });
    }

    /// Drops fences past their lifetime, but not one still hiding (its deletions did not
    /// all succeed): it hides until they do, or the worker stops.
    pub fn prune(&mut self, now_ms: f64) {
        self.list.retain(|f| f.hiding || now_ms - f.raised_ms < FENCE_LIFETIME_MS);
    }

    /// The covered entries of `inv` are deleted: its fence stops hiding (it still blocks).
    pub fn settle(&mut self, inv: &Invalidation) {
        for f in self.list.iter_mut().filter(|f| f.inv.same_news(inv)) {
            f.hiding = false;
        }
    }

    /// Whether the same news has a fence already (applied, or being applied).
    pub fn raised(&self, inv: &Invalidation) -> bool {
        self.list.iter().any(|f| f.inv.same_news(inv))
    }

    /// Whether the same news was applied already, every entry it covers deleted.
    pub fn applied(&self, inv: &Invalidation) -> bool {
        self.list.iter().any(|f| !f.hiding && f.inv.same_news(inv))
    }

    /// Whether a response for `path` in `slot` (with `Cache-Tag` `tags`), fetched from
    /// `started_ms`, must not be stored.
    pub fn blocks(&self, path: &str, slot: usize, tags: Option<&str>, started_ms: f64) -> bool {
        // A fetch that started in the fence's own millisecond may predate the change too.
        self.list.iter().any(|f| started_ms <= f.inv.at_ms && f.inv.selector.matches(path, slot, tags))
    }

    /// Whether an invalidation raised within the fence lifetime names `path` in `slot`
    /// (by URL, prefix or route): a fetch for it then goes past the HTTP cache, whose
    /// copy may be the very content that was invalidated. Not by tag or `all`: those
    /// would send every fetch of the site past it (and every navigation past its preload)
    /// for the whole lifetime. Nor a request's that changed its URL: the browser drops
    /// its HTTP cache's copy of a URL a POST, PUT or DELETE was answered for itself (and
    /// past its preload, a form's page would be fetched twice on every visit).
    pub fn covers(&self, path: &str, slot: usize, now_ms: f64) -> bool {
        self.list.iter().any(|f| {
            let sel = &f.inv.selector;
            now_ms - f.raised_ms < FENCE_LIFETIME_MS && !f.quiet && !sel.all && sel.matches(path, slot, None)
        })
    }

    /// Whether a stored entry (stamp `stamp_ms`) is covered by an invalidation, and so
    /// must be read as absent: while its deletions are under way, and after them an entry
    /// stamped before it (none can be stored again, so only a read sent before the
    /// deletion landed can find one). Not an unstamped one after them: an opaque copy
    /// stored since would be hidden for the fence's whole lifetime.
    pub fn hides(&self, path: &str, slot: usize, tags: Option<&str>, stamp_ms: Option<f64>) -> bool {
        self.list.iter().any(|f| f.hides(path, slot, tags, stamp_ms))
    }

    /// [`Fences::hides`], counting only invalidations that name `path` in `urls` (the
    /// offline files, which the others leave alone).
    pub fn hides_by_url(&self, path: &str, slot: usize, stamp_ms: Option<f64>) -> bool {
        self.list.iter().any(|f| f.inv.selector.urls.contains(path) && f.hides(path, slot, None, stamp_ms))
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// The live fences for GET_STATE: `[{timestamp, urls, prefixes, tags, routes, all, hiding}]`
    /// (`routes` as cache slots).
    pub fn json(&self) -> String {
        use super::text::{push_json_str, push_u64};
        let mut out = String::from("[");
        for (i, f) in self.list.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let sel = &f.inv.selector;
            out.push_str("{\"timestamp\":");
            push_json_str(&mut out, &super::time::iso_string(f.inv.at_ms));
            let list = super::text::push_json_list;
            list(&mut out, "urls", &mut sel.urls.iter().map(String::as_str));
            list(&mut out, "prefixes", &mut sel.prefixes.iter().map(String::as_str));
            list(&mut out, "tags", &mut sel.tags.iter().map(String::as_str));
            out.push_str(",\"slots\":[");
            for (k, s) in sel.slots.iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                push_u64(&mut out, *s as u64);
            }
            out.push(']');
            out.push_str(if sel.all { ",\"all\":true" } else { ",\"all\":false" });
            out.push_str(if f.hiding { ",\"hiding\":true}" } else { ",\"hiding\":false}" });
        }
        out.push(']');
        out
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::message::Selector;

    fn inv(at_ms: f64, urls: &[&str], tags: &[&str]) -> Rc<Invalidation> {
        Rc::new(Invalidation {
            at_ms,
            asked_ms: at_ms,
            selector: Selector {
                urls: urls.iter().map(|s| s.to_string()).collect(),
                tags: tags.iter().map(|s| s.to_string()).collect(),
                ..Selector::default()
            },
            seq: None,
        })
    }

    #[test]
    fn blocks_only_covered_fetches_started_before_the_fence() {
        let mut f = Fences::default();
        f.raise(inv(1000.0, &["/a"], &["t1"]), 1000.0, false);
        assert!(f.blocks("/a", 0, None, 999.0));
        assert!(f.blocks("/a", 0, None, 1000.0), "started in the fence's millisecond: may be old");
        assert!(!f.blocks("/a", 0, None, 1001.0), "started after the fence: allowed");
        assert!(!f.blocks("/b", 0, None, 10.0), "not covered");
        assert!(f.blocks("/b", 0, Some("x, t1"), 10.0), "covered by tag");
    }

    #[test]
    fn hides_covered_older_entries() {
        let mut f = Fences::default();
        let a = inv(1000.0, &["/a"], &[]);
        f.raise(a.clone(), 1000.0, false);
        assert!(f.hides("/a", 0, None, Some(999.0)));
        assert!(f.hides("/a", 0, None, None), "an unstamped entry counts as old");
        assert!(!f.hides("/a", 0, None, Some(1000.0)), "stored from a fetch at the fence: fresh");
        assert!(!f.hides("/b", 0, None, Some(1.0)));
        f.settle(&a);
        assert!(f.hides("/a", 0, None, Some(999.0)), "deleted: only a read sent before can find it");
        assert!(!f.hides("/a", 0, None, None), "an opaque copy stored since is served");
        assert!(f.blocks("/a", 0, None, 999.0), "a settled fence still blocks late stores");
    }

    #[test]
    fn counting_from_keys_needs_every_stamp_before_the_fence() {
        assert!(all_stamped_before(2000.0, 1000.0, Some(1500.0)));
        assert!(all_stamped_before(2000.0, 1000.0, None), "this worker stamped nothing");
        assert!(!all_stamped_before(1500.0, 1000.0, Some(1500.0)), "an entry stamped at the fence stays");
        assert!(!all_stamped_before(900.0, 1000.0, None), "older than this worker: earlier entries unknown");
    }

    #[test]
    fn fences_expire_and_are_bounded() {
        let mut f = Fences::default();
        let a = inv(0.0, &["/a"], &[]);
        f.raise(a.clone(), 0.0, false);
        f.prune(FENCE_LIFETIME_MS);
        assert_eq!(f.len(), 1, "still hiding: kept past its lifetime");
        f.settle(&a);
        f.prune(FENCE_LIFETIME_MS - 1.0);
        assert_eq!(f.len(), 1);
        f.prune(FENCE_LIFETIME_MS);
        assert!(f.is_empty());
        let hiding = inv(100.0, &["/hiding"], &[]);
        f.raise(hiding, 1.0, false);
        for i in 0..(MAX_FENCES + 5) {
            let p = inv(100.0, &[&format!("/p{i}")], &[]);
            f.raise(p.clone(), 1.0, false);
            f.settle(&p);
        }
        assert_eq!(f.len(), MAX_FENCES);
        assert!(!f.blocks("/p5", 0, None, 50.0), "the oldest settled fences went first");
        assert!(f.blocks("/p6", 0, None, 50.0));
        assert!(f.hides("/hiding", 0, None, Some(50.0)), "the one still hiding stays");
    }
}
