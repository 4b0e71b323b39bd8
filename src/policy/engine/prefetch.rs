//! `PREFETCH`: same-origin URLs, [`PREFETCH_CONCURRENCY`] at a time, each fetched unless a
//! fresh copy is cached, and stored by its route's rules; `PREFETCH_DONE` with the counts.

use crate::policy::prelude::*;
use crate::policy::strategy::is_fresh;

use super::{Cmd, Engine, Io, Kind, OpId, Req, Tag};

/// Most prefetches in flight at once.
pub const PREFETCH_CONCURRENCY: u32 = 4;

#[derive(Debug, Default)]
pub(super) struct PrefetchOp {
    pub(super) paths: Vec<String>,
    pub(super) slots: Vec<usize>,
    pub(super) started: Vec<f64>,
    pub(super) next: usize,
    pub(super) in_flight: u32,
    pub(super) fetched: u64,
    pub(super) skipped: u64,
    pub(super) failed: u64,
}

impl Engine {
    pub(super) fn prefetch(&mut self, id: OpId, paths: Vec<String>, save_data: bool, now: f64) {
        let mut p = PrefetchOp::default();
        if save_data {
            p.skipped = paths.len() as u64;
        } else {
            p.slots = vec![usize::MAX; paths.len()];
            p.started = vec![0.0; paths.len()];
            p.paths = paths;
        }
        if let Some(o) = self.op(id) {
            o.kind = Kind::Prefetch(Box::new(p));
        }
        self.pump(id, now);
    }

    fn prefetch_op(&mut self, id: OpId) -> Option<&mut PrefetchOp> {
        match &mut self.op(id)?.kind {
            Kind::Prefetch(p) => Some(p),
            _ => None,
        }
    }

    /// The key `path` is stored under in `slot`: a precached file's revisioned key in the
    /// precache, else the path itself.
    fn cache_key(&self, slot: usize, path: &str) -> String {
        match self.cfg.precached(path) {
            Some(e) if slot == self.precache_slot() => e.key.clone(),
            _ => String::from(path),
        }
    }

    /// Starts items until [`PREFETCH_CONCURRENCY`] are in flight; replies when all ended.
    #[inline(never)]
    pub(super) fn pump(&mut self, id: OpId, _now: f64) {
        loop {
            let Some(p) = self.prefetch_op(id) else { return };
            if p.next >= p.paths.len() || p.in_flight >= PREFETCH_CONCURRENCY {
                break;
            }
            let i = p.next;
            p.next += 1;
            let path = p.paths[i].clone();
            let href = cat!(self.origin, path);
            let slot = self.select(&href, true, false).filter(|s| self.slots[*s].route.strategy.stores());
            let Some(p) = self.prefetch_op(id) else { return };
            match slot {
                None => {
                    p.skipped += 1;
                    // Counted like a fresh copy: said once per instance, so a site whose
                    // prefetches never store anything learns why.
                    if !::core::mem::replace(&mut self.prefetch_warned, true) {
                        self.warn_kept(cat!(
                            "swcache: PREFETCH skipped ",
                            path,
                            ": no route stores it (none matches it, or its strategy is networkOnly)"
                        ));
                    }
                }
                Some(slot) => {
                    p.slots[i] = slot;
                    p.in_flight += 1;
                    let key = self.cache_key(slot, &path);
                    self.emit(Cmd::Match {
                        op: id,
                        tag: Tag::Item(i as u32, 0),
                        slot: slot as u32,
                        req: Req::Path(key),
                    });
                }
            }
        }
        let Some(p) = self.prefetch_op(id) else { return };
        if p.next >= p.paths.len() && p.in_flight == 0 {
            let json = cat!(
                "{\"type\":\"PREFETCH_DONE\",\"fetched\":",
                p.fetched,
                ",\"skipped\":",
                p.skipped,
                ",\"failed\":",
                p.failed,
                "}"
            );
            self.emit(Cmd::Reply { op: id, json });
            if let Some(o) = self.op(id) {
                o.answered = true;
                o.kind = Kind::Idle;
            }
            self.finish_if_idle(id);
        }
    }

    #[inline(never)]
    pub(super) fn prefetch_io(&mut self, id: OpId, tag: Tag, io: Io, now: f64) {
        let Tag::Item(i, _) = tag else { return };
        let i = i as usize;
        let Some(p) = self.prefetch_op(id) else { return };
        let (Some(&slot), Some(path)) = (p.slots.get(i), p.paths.get(i).cloned()) else { return };
        match io {
            Io::Matched(found) => {
                let max_age = self.slots[slot].route.max_age_ms;
                let fresh = found
                    .filter(|e| !self.hidden(&path, slot, e, now))
                    .is_some_and(|e| is_fresh(e.stamp_ms, now, max_age));
                let Some(p) = self.prefetch_op(id) else { return };
                if fresh {
                    p.skipped += 1;
                    p.in_flight -= 1;
                    return self.pump(id, now);
                }
                p.started[i] = now;
                let reload = self.fences.covers(&path, slot, now);
                let headers_ms = Some(crate::policy::store::HEADERS_MS);
                self.emit(Cmd::Fetch { op: id, tag: Tag::Item(i as u32, 1), req: Req::Path(path), reload, headers_ms });
            }
            Io::Fetched(r) => {
                let started = p.started[i];
                let stored = match &r {
                    Ok(info) => {
                        let key = self.cache_key(slot, &path);
                        self.store(id, slot, Req::Path(key), &path, tag, info, started, Some(i as u32))
                    }
                    Err(_) => false,
                };
                if !stored {
                    let Some(p) = self.prefetch_op(id) else { return };
                    p.failed += 1;
                    p.in_flight -= 1;
                    self.pump(id, now);
                }
            }
            _ => {}
        }
    }
}
