//! Counters reported by GET_STATS.

use super::strategy::Reply;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Answered from a fresh cached copy.
    pub hits: u64,
    /// Answered from the network (or an error) because no fresh copy was there.
    pub misses: u64,
    /// Answered from a stale copy (network failed, or staleWhileRevalidate).
    pub stale_served: u64,
    /// Network fetches that failed or timed out.
    pub network_errors: u64,
    /// Entries removed by `maxEntries` or quota pressure.
    pub evictions: u64,
    /// Entries removed by CACHE_INVALIDATION.
    pub invalidations: u64,
}

impl Counters {
    fn add(&mut self, o: &Counters) {
        self.hits += o.hits;
        self.misses += o.misses;
        self.stale_served += o.stale_served;
        self.network_errors += o.network_errors;
        self.evictions += o.evictions;
        self.invalidations += o.invalidations;
    }
}

/// Per-route counters; the last slot is the built-in precache route.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    per_route: Vec<Counters>,
}

impl Stats {
    pub fn new(route_count: usize) -> Stats {
        Stats { per_route: vec![Counters::default(); route_count + 1] }
    }

    pub fn route_mut(&mut self, slot: usize) -> &mut Counters {
        let last = self.per_route.len() - 1;
        &mut self.per_route[slot.min(last)]
    }

    pub fn route(&self, slot: usize) -> Counters {
        self.per_route.get(slot).copied().unwrap_or_default()
    }

    pub fn slots(&self) -> usize {
        self.per_route.len()
    }

    /// Records how a request was answered.
    pub fn record(&mut self, slot: usize, reply: Reply, network_error: bool) {
        let c = self.route_mut(slot);
        match reply {
            Reply::Cache { fresh: true, .. } => c.hits += 1,
            Reply::Cache { fresh: false, .. } => c.stale_served += 1,
            Reply::Network | Reply::Error(_) => c.misses += 1,
        }
        if network_error {
            c.network_errors += 1;
        }
    }

    pub fn total(&self) -> Counters {
        let mut t = Counters::default();
        for c in &self.per_route {
            t.add(c);
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::strategy::Failure;

    #[test]
    fn records_per_route_and_totals() {
        let mut s = Stats::new(2);
        s.record(0, Reply::Cache { fresh: true, revalidate: false }, false);
        s.record(0, Reply::Cache { fresh: false, revalidate: false }, true);
        s.record(1, Reply::Network, false);
        s.record(2, Reply::Error(Failure::Offline), true);
        s.record(99, Reply::Network, false); // out of range → precache slot
        s.route_mut(1).evictions += 3;
        assert_eq!(s.route(0), Counters { hits: 1, stale_served: 1, network_errors: 1, ..Default::default() });
        assert_eq!(s.route(2).misses, 2);
        let t = s.total();
        assert_eq!((t.hits, t.misses, t.stale_served, t.network_errors, t.evictions), (1, 3, 1, 2, 3));
        assert_eq!(s.slots(), 3);
    }
}
