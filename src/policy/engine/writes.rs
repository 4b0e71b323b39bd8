//! Cache writes: the store rules and fences a write obeys, the `sw-cache-time` stamp,
//! quota relief (evict, fetch once more, retry once), and trims to `maxEntries`.

use crate::policy::evict::{self, KnownKeys};
use crate::policy::prelude::*;
use crate::policy::store::{self, ResponseFacts};
use crate::policy::url;

use super::{Cmd, Engine, Io, Kind, OpId, PutResult, Req, ResponseInfo, Tag};

/// The job of an entry of [`Engine::writes`] that is no cache write (an invalidation, a
/// state-cache step), each ending in the order it began.
pub(super) const NOT_A_JOB: u32 = u32::MAX;

/// A cache write and, after a quota error, its one retry.
#[derive(Debug)]
pub(super) struct StoreJob {
    pub(super) slot: usize,
    pub(super) req: Req,
    pub(super) path: String,
    /// Check `storable` again on a refetch (everything but the precache).
    pub(super) checked: bool,
    /// Prefetch or precache item this write is for.
    pub(super) item: Option<u32>,
    /// When the refetch after a quota error started.
    pub(super) refetched: f64,
    /// The key written, as a path on the worker's origin (`None`: another origin's).
    pub(super) key: Option<String>,
    /// The slot's [`Slot::deletions`](super::Slot) when the put was sent.
    pub(super) put_after: u32,
}

impl Engine {
    /// Stores the response fetched at `from` if the rules allow it and no fence covers
    /// it. `false`: not stored (and nothing started).
    #[allow(clippy::too_many_arguments, reason = "a cache write's facts, each passed on once")]
    pub(super) fn store(
        &mut self,
        id: OpId,
        slot: usize,
        req: Req,
        path: &str,
        from: Tag,
        info: &ResponseInfo,
        started: f64,
        item: Option<u32>,
    ) -> bool {
        let authorized = self.fetch_op(id).is_some_and(|f| f.authorized);
        if !self.may_store(slot, path, info, started, true, authorized) {
            // The server no longer has the page: its copy goes too, or a
            // staleWhileRevalidate route would serve a removed page on every visit,
            // refreshing it in vain. (Not files: a tab of the previous build still loads
            // those the deploy removed.)
            let page = self.fetch_op(id).is_some_and(|f| f.navigate);
            // (A redirect answers a navigation as an opaqueredirect: status 0, not opaque.
            // The page moved: the old copy is as obsolete as a removed page's.)
            let gone = page && (matches!(info.status, 404 | 410) || (info.status == 0 && !info.opaque));
            // So does the copy a request with Authorization was served (stored before
            // sign-in) when its refresh may not be kept: it would answer every later
            // request, never refreshed.
            let unkept = authorized && from == Tag::Revalidate && info.status == 200;
            if (gone || unkept) && slot != self.precache_slot() && !self.removed {
                let req = if gone && path.starts_with('/') { Req::Path(path.into()) } else { req };
                self.bg(id, 1);
                self.emit(Cmd::Delete { op: id, tag: Tag::Gone, slot: slot as u32, reqs: vec![req] });
            }
            // Said once per worker and reason, in its console and GET_STATS: else a site
            // whose origin sends no-store (or whose API sends tokens) never learns why its
            // route stays empty. (A fenced response, or one with another status, is not news.)
            if let Err(r) = self.storable(slot, info, authorized) {
                let bit = 1 << r as u8;
                if r != store::Refusal::Status && self.unstored_warned & bit == 0 && !self.removed {
                    self.unstored_warned |= bit;
                    let why = match r {
                        store::Refusal::NoStore => "it was sent with Cache-Control: no-store",
                        store::Refusal::VaryStar => "it was sent with Vary: *",
                        store::Refusal::Redirected => "it was redirected (match the URL it ends at)",
                        store::Refusal::Opaque => "it is an opaque cross-origin response (see the route's opaque)",
                        _ => "its request had Authorization: send Cache-Control: public (or s-maxage) or Vary: Authorization",
                    };
                    let route = &self.slots[slot].route.name;
                    self.warn_kept(cat!("swcache: route '", route, "' did not store ", path, ": ", why));
                }
            }
            return false;
        }
        self.put(id, slot, req, path, from, info.opaque, started, true, item);
        true
    }

    fn may_store(
        &self,
        slot: usize,
        path: &str,
        info: &ResponseInfo,
        started: f64,
        check: bool,
        authorized: bool,
    ) -> bool {
        if self.removed {
            return false;
        }
        if check && self.storable(slot, info, authorized).is_err() {
            return false;
        }
        self.fences.is_empty() || !self.fences.blocks(path, slot, info.tags.as_deref(), started)
    }

    /// [`store::storable`] for a response of `slot`'s route.
    fn storable(&self, slot: usize, info: &ResponseInfo, authorized: bool) -> Result<(), store::Refusal> {
        let facts = ResponseFacts {
            status: info.status,
            opaque: info.opaque,
            redirected: info.redirected,
            cache_control: info.cache_control.as_deref(),
            vary: info.vary.as_deref(),
            authorized,
        };
        store::storable(&facts, self.slots[slot].route.opaque)
    }

    #[allow(clippy::too_many_arguments, reason = "a cache write's facts, each passed on once")]
    pub(super) fn put(
        &mut self,
        id: OpId,
        slot: usize,
        req: Req,
        path: &str,
        from: Tag,
        opaque: bool,
        started: f64,
        checked: bool,
        item: Option<u32>,
    ) {
        let stamp = self.stamp(opaque, started);
        self.touch(slot, path);
        let key = match &req {
            Req::Path(k) | Req::Page(k) => Some(k.clone()),
            Req::Own => self.fetch_op(id).filter(|f| f.same_origin).map(|_| String::from(path)),
            Req::Key { .. } => None,
        };
        let put_after = self.slots[slot].deletions;
        let Some(op) = self.op(id) else { return };
        let job = op.stores.len() as u32;
        op.stores.push(StoreJob {
            slot,
            req: req.clone(),
            path: path.into(),
            checked,
            item,
            refetched: 0.0,
            key,
            put_after,
        });
        op.bg += 1;
        self.writes.push((id, job));
        self.emit(Cmd::Put { op: id, tag: Tag::Store(job, 0), slot: slot as u32, req, from, stamp });
    }

    /// `id`'s cache write `job` (or invalidation, [`NOT_A_JOB`]) ended; a removal waiting
    /// for the writes under way starts once the last one ends.
    pub(super) fn write_ended(&mut self, id: OpId, job: u32) {
        if let Some(i) = self.writes.iter().position(|w| *w == (id, job)) {
            self.writes.remove(i);
        }
        if self.writes.is_empty() {
            if let Some(r) = self.removal_waiting.take() {
                self.emit(Cmd::CacheNames { op: r, tag: Tag::Names });
            }
        }
    }

    // Kept out of line: V8 compiles a function on its first call, so the start path
    // should not compile code it does not run.
    #[inline(never)]
    /// The `sw-cache-time` of a copy fetched from `started` (none for opaque responses),
    /// remembering the newest stamp this instance wrote.
    fn stamp(&mut self, opaque: bool, started: f64) -> Option<f64> {
        if opaque {
            return None;
        }
        if self.newest_stamp.is_none_or(|n| started > n) {
            self.newest_stamp = Some(started);
        }
        Some(started)
    }

    /// Step `step` of cache write `job` (see [`Tag::Store`]).
    pub(super) fn store_io(&mut self, id: OpId, job: u32, step: u32, io: Io, now: f64) {
        let Some(op) = self.op(id) else { return };
        let Some(j) = op.stores.get(job as usize) else { return };
        let (slot, req, path, checked, item, refetched) =
            (j.slot, j.req.clone(), j.path.clone(), j.checked, j.item, j.refetched);
        let (key, put_after) = (j.key.clone(), j.put_after);
        // A deletion sent after the put may have removed what it wrote: then the write
        // tells nothing about the cache's keys.
        let key = key.filter(|_| put_after == self.slots[slot].deletions);
        match (step, io) {
            // Every version shares the precache: it gives up no entry to make room. Those
            // this config does not list are the active version's (or a waiting one's),
            // which a failed install leaves whole; those it lists count as stored.
            (0, Io::Put(PutResult::Quota)) if slot != self.precache_slot() => {
                self.emit(Cmd::Keys { op: id, tag: Tag::Store(job, 1), slot: slot as u32 });
            }
            (0 | 4, Io::Put(PutResult::Ok)) => {
                // A relisting while the put was under way may have forgotten its use.
                if self.slots[slot].route.max_entries.is_some() {
                    self.slots[slot].usage.landed(&path);
                }
                self.stored(id, job, slot, item, PutResult::Ok, key, now);
            }
            (0 | 4, Io::Put(r)) => self.stored(id, job, slot, item, r, None, now),
            (1, Io::Keys(keys)) => {
                // Unlisted: no room is made, and the retried write fails as the first did.
                let listed = keys.unwrap_or_default();
                let n = evict::quota_relief(listed.len());
                let victims = self.plan(slot, &listed, n, self.slots[slot].usage.now());
                if victims.is_empty() {
                    // Nothing to evict frees no room: a second download would fail as well.
                    return self.stored(id, job, slot, item, PutResult::Quota, None, now);
                }
                let reqs =
                    victims.into_iter().map(|v| Req::Key { list: Tag::Store(job, 1), index: v as u32 }).collect();
                self.emit(Cmd::Delete { op: id, tag: Tag::Store(job, 2), slot: slot as u32, reqs });
            }
            (2, Io::Deleted(n)) => {
                self.slots[slot].counters.evictions += u64::from(n);
                // The failed write consumed the body: fetch once more and retry.
                if let Some(j) = self.op(id).and_then(|o| o.stores.get_mut(job as usize)) {
                    j.refetched = now;
                }
                // (A navigation is fetched as it came.)
                let fetch = match &req {
                    Req::Page(_) => Req::Own,
                    other => other.clone(),
                };
                // A URL a recent invalidation names is fetched past the HTTP cache (it may
                // hold the invalidated copy).
                let reload = self.fences.covers(&path, slot, now);
                let headers_ms = Some(store::HEADERS_MS);
                self.emit(Cmd::Fetch { op: id, tag: Tag::Store(job, 3), req: fetch, reload, headers_ms });
            }
            (3, Io::Fetched(Ok(info))) => {
                // The retry obeys the same rules as the first write (status, no-store,
                // Vary: *, fences).
                let authorized = self.fetch_op(id).is_some_and(|f| f.authorized);
                if (checked || (info.status == 200 && !info.redirected))
                    && self.may_store(slot, &path, &info, refetched, checked, authorized)
                {
                    // (The quota relief's deletion came after the first put: this write
                    // leaves the known keys to the next listing.)
                    let stamp = self.stamp(info.opaque, refetched);
                    self.emit(Cmd::Put {
                        op: id,
                        tag: Tag::Store(job, 4),
                        slot: slot as u32,
                        req,
                        from: Tag::Store(job, 3),
                        stamp,
                    });
                } else {
                    self.stored(id, job, slot, item, PutResult::Failed, None, now);
                }
            }
            (3, Io::Fetched(Err(_))) => self.stored(id, job, slot, item, PutResult::Failed, None, now),
            _ => {}
        }
    }

    /// A write finished (`Ok`) or was given up.
    #[inline(never)]
    #[allow(clippy::too_many_arguments, reason = "a cache write's facts, each passed on once")]
    fn stored(
        &mut self,
        id: OpId,
        job: u32,
        slot: usize,
        item: Option<u32>,
        r: PutResult,
        key: Option<String>,
        now: f64,
    ) {
        let ok = r == PutResult::Ok;
        self.write_ended(id, job);
        if ok && !self.removed {
            self.trim(id, slot, key);
        }
        let quota = r == PutResult::Quota;
        let full = if quota { ": the storage quota is full" } else { "" };
        if quota && !self.quota_warned && !matches!(self.op(id).map(|o| &o.kind), Some(Kind::Install { .. })) {
            // Once per worker: every later write may meet the same full storage.
            self.quota_warned = true;
            let route = &self.slots[slot].route.name;
            self.warn_kept(cat!("swcache: a response of route '", route, "' was served but not stored", full));
        }
        match (item, self.op(id).map(|o| &mut o.kind)) {
            (Some(_), Some(Kind::Prefetch(p))) => {
                if ok {
                    p.fetched += 1;
                } else {
                    p.failed += 1;
                }
                p.in_flight -= 1;
                self.pump(id, now);
            }
            (Some(i), Some(Kind::Install { pending, .. })) => {
                *pending -= 1;
                if !ok {
                    let path = self.cfg.precache.get(i as usize).map(|e| e.path.clone()).unwrap_or_default();
                    self.fail_install(id, cat!("swcache precache: ", path, " could not be stored", full));
                } else if *pending == 0 {
                    self.install_finished(id);
                }
            }
            _ => {}
        }
        self.wake_invalidations();
        self.bg(id, -1);
    }

    /// Of `keys` (absolute URLs in cache order), the indices of `n` to evict: least
    /// used first (see [`evict`]).
    fn plan(&mut self, slot: usize, keys: &[String], n: usize, listed_at: u64) -> Vec<usize> {
        let paths: Vec<&str> = keys.iter().map(|h| url::key_of(h, &self.origin)).collect();
        self.slots[slot].usage.plan(&paths, n, listed_at)
    }

    /// Enforces `maxEntries` after a write of `key` (a path on this origin; `None`:
    /// another origin's, or a write a deletion may have overtaken, so that whether it is
    /// in the cache is not known): one trim at a time per cache; writes that land
    /// meanwhile make it run once more. When this instance knows the cache's keys (see [`KnownKeys`])
    /// and no trim is running, the victims are picked from them without a listing.
    ///
    /// [`KnownKeys`]: crate::policy::evict::KnownKeys
    fn trim(&mut self, id: OpId, slot: usize, key: Option<String>) {
        let s = &mut self.slots[slot];
        let Some(max) = s.route.max_entries else { return };
        if let (Some(known), Some(key), false) = (s.known.as_mut(), &key, s.trim.is_running()) {
            known.stored(key);
            let n = evict::excess(known.len(), max);
            if n == 0 {
                return;
            }
            s.trim.request();
            // Forget only the victims: a write still under way is in no listing yet, and
            // its use must count when it lands.
            let victims = s.usage.plan(&known.paths(), n, 0);
            let reqs = known.take(&victims).into_iter().map(Req::Path).collect();
            self.bg(id, 1);
            return self.trim_delete(id, slot, reqs);
        }
        if key.is_none() {
            s.known = None;
        }
        if !s.trim.request() {
            return;
        }
        s.trim_listed_at = s.usage.now();
        self.bg(id, 1);
        self.emit(Cmd::Keys { op: id, tag: Tag::Trim(slot as u32, 0), slot: slot as u32 });
    }

    /// A trim's deletion of `reqs`, remembering how many it asks for (fewer found: the
    /// known keys were wrong).
    fn trim_delete(&mut self, id: OpId, slot: usize, reqs: Vec<Req>) {
        self.slots[slot].deleting = reqs.len() as u32;
        self.emit(Cmd::Delete { op: id, tag: Tag::Trim(slot as u32, 1), slot: slot as u32, reqs });
    }

    #[inline(never)]
    /// Step `step` of slot `slot`'s trim (see [`Tag::Trim`]).
    pub(super) fn trim_io(&mut self, id: OpId, slot: u32, step: u32, io: Io) {
        let tag = Tag::Trim(slot, step);
        let slot = slot as usize;
        let Some(max) = self.slots.get(slot).and_then(|s| s.route.max_entries) else { return };
        match io {
            Io::Keys(None) => {
                // Not listed: nothing is trimmed, and the next write lists again.
                self.slots[slot].known = None;
                self.trim_pass_done(id, slot);
            }
            Io::Keys(Some(keys)) => {
                let n = evict::excess(keys.len(), max);
                let listed_at = self.slots[slot].trim_listed_at;
                let victims = if n == 0 { Vec::new() } else { self.plan(slot, &keys, n, listed_at) };
                let s = &mut self.slots[slot];
                // A listing another deletion may have overtaken is not kept.
                s.known =
                    if s.listed_after == s.deletions { KnownKeys::from_listing(&keys, &self.origin) } else { None };
                if let Some(known) = s.known.as_mut() {
                    // Same-origin keys only: the paths are the listing's, in its order.
                    known.take(&victims);
                }
                if n == 0 {
                    return self.trim_pass_done(id, slot);
                }
                let reqs = victims.into_iter().map(|i| Req::Key { list: tag, index: i as u32 }).collect();
                self.trim_delete(id, slot, reqs);
            }
            Io::Deleted(n) => {
                let s = &mut self.slots[slot];
                s.counters.evictions += u64::from(n);
                if n < s.deleting {
                    // Fewer entries than planned: the cache is not what this instance thought.
                    s.known = None;
                }
                self.trim_pass_done(id, slot);
            }
            _ => {}
        }
    }

    fn trim_pass_done(&mut self, id: OpId, slot: usize) {
        let s = &mut self.slots[slot];
        if s.trim.finished() {
            s.trim_listed_at = s.usage.now();
            self.emit(Cmd::Keys { op: id, tag: Tag::Trim(slot as u32, 0), slot: slot as u32 });
        } else {
            self.bg(id, -1);
        }
    }
}
