//! Sweeps of router caches: the browser serves them while the worker is stopped, whatever
//! an entry's age, so expired entries are deleted at each worker start and at most once per
//! [`SWEEP_INTERVAL_MS`] while it runs.

use crate::policy::prelude::*;
use crate::policy::strategy::is_fresh;

use super::{match_lookups, Cmd, Engine, Io, Kind, OpId, Req, Tag};

/// Router routes with a `maxAge` are swept of expired entries at most this often.
pub const SWEEP_INTERVAL_MS: f64 = 60_000.0;

impl Engine {
    /// Router routes are served by the browser while the worker is stopped, whatever the
    /// entry's age: so their expired entries are deleted at every worker start (after
    /// its first answer) and at most once a minute while it runs.
    #[inline(never)]
    pub(super) fn maybe_sweep(&mut self, now: f64) {
        // (Off the site: its caches are deleted, and listing one would create it again.
        // Offline, as the device says: an expired copy is still what a cacheFirst route
        // answers when the network fails, and the router serves it; the first request
        // made online sweeps.)
        if self.removed || self.offline || now - self.last_sweep < SWEEP_INTERVAL_MS {
            return;
        }
        let swept: Vec<u32> = (0..self.slots.len() as u32)
            .filter(|&s| self.slots[s as usize].route.router && self.slots[s as usize].route.max_age_ms.is_some())
            .collect();
        self.last_sweep = now;
        if swept.is_empty() {
            return;
        }
        let id = self.new_op(Kind::Sweep { lookups: Vec::new(), outstanding: swept.len() as u32 });
        if let Some(o) = self.op(id) {
            o.answered = true;
            o.bg = 1;
        }
        for slot in swept {
            self.emit(Cmd::Keys { op: id, tag: Tag::List(slot), slot });
        }
    }

    #[inline(never)]
    pub(super) fn sweep_io(&mut self, id: OpId, tag: Tag, io: Io, now: f64) {
        let index = tag.index();
        let lookup = match self.op(id).map(|o| &o.kind) {
            Some(Kind::Sweep { lookups, .. }) => lookups.get(index as usize).cloned(),
            _ => return,
        };
        // How many more results this operation waits for.
        let mut more: i64 = -1;
        match (tag, io) {
            (Tag::List(_), Io::Keys(keys)) => {
                // A cache that could not be listed is swept next time.
                let keys = keys.unwrap_or_default();
                let Some(Kind::Sweep { lookups, .. }) = self.op(id).map(|o| &mut o.kind) else { return };
                let first = lookups.len() as u32;
                lookups.extend((0..keys.len() as u32).map(|k| (index as usize, Req::Key { list: tag, index: k })));
                more += keys.len() as i64;
                let cmds = match_lookups(id, first, lookups[first as usize..].iter().cloned());
                self.out.extend(cmds);
            }
            (Tag::Look(_), Io::Matched(found)) => {
                let Some((slot, req)) = lookup else { return };
                let max_age = self.slots[slot].route.max_age_ms;
                if let Some(e) = found.filter(|e| !is_fresh(e.stamp_ms, now, max_age)) {
                    let _ = e;
                    self.emit(Cmd::Delete { op: id, tag: Tag::DeleteOne(index), slot: slot as u32, reqs: vec![req] });
                    more = 0;
                }
            }
            (Tag::DeleteOne(_), Io::Deleted(n)) => {
                if let Some((slot, _)) = lookup {
                    self.slots[slot].counters.evictions += u64::from(n);
                }
            }
            _ => return,
        }
        let Some(Kind::Sweep { outstanding, .. }) = self.op(id).map(|o| &mut o.kind) else { return };
        *outstanding = (i64::from(*outstanding) + more).max(0) as u32;
        if *outstanding == 0 {
            self.bg(id, -1);
        }
    }
}
