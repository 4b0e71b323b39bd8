//! Counters reported by GET_STATS, one set per cache slot.

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
    /// Entries removed by `maxEntries`, quota pressure or expiry sweeps.
    pub evictions: u64,
    /// Entries removed by CACHE_INVALIDATION.
    pub invalidations: u64,
}

impl Counters {
    pub fn add(&mut self, o: &Counters) {
        self.hits += o.hits;
        self.misses += o.misses;
        self.stale_served += o.stale_served;
        self.network_errors += o.network_errors;
        self.evictions += o.evictions;
        self.invalidations += o.invalidations;
    }

    /// Records how a request was answered.
    pub fn record(&mut self, reply: Reply, network_error: bool) {
        match reply {
            Reply::Cache { fresh: true, .. } => self.hits += 1,
            Reply::Cache { fresh: false, .. } => self.stale_served += 1,
            Reply::Network | Reply::Error(_) => self.misses += 1,
        }
        if network_error {
            self.network_errors += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::strategy::Failure;

    #[test]
    fn records_and_adds() {
        let mut a = Counters::default();
        a.record(Reply::Cache { fresh: true, revalidate: false }, false);
        a.record(Reply::Cache { fresh: false, revalidate: false }, true);
        a.record(Reply::Network, false);
        a.record(Reply::Error(Failure::Offline), true);
        assert_eq!(a, Counters { hits: 1, stale_served: 1, misses: 2, network_errors: 2, ..Default::default() });
        let mut t = Counters { evictions: 3, ..Default::default() };
        t.add(&a);
        assert_eq!((t.hits, t.misses, t.evictions), (1, 2, 3));
    }
}
