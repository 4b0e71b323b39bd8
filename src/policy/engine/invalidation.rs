//! Invalidation (a `CACHE_INVALIDATION` message, or an entry of the feed): the fence goes up
//! at once, writes under way land first, then what the selector covers is listed or read
//! and deleted; `DONE` to the sender and `INVALIDATED` to every page.

use crate::policy::fence;
use crate::policy::message::{Invalidation, PathSet, Selector};
use crate::policy::prelude::*;
use crate::policy::url;

use super::{match_lookups, Cmd, Engine, Io, Kind, OpId, Req, Tag, NOT_A_JOB};

#[derive(Debug)]
pub(super) struct InvalidateOp {
    pub(super) inv: Rc<Invalidation>,
    /// The writes (and invalidations) under way when it was raised, which land first;
    /// not the later writes of their operations (a prefetch of 50 pages has one under
    /// way most of the time).
    pub(super) waiting: Vec<(OpId, u32)>,
    pub(super) begun: bool,
    pub(super) early: bool,
    pub(super) lists: u32,
    /// (slot, entry, path) read one by one.
    pub(super) lookups: Vec<(usize, Req, String)>,
    pub(super) outstanding: u32,
    pub(super) removed: u64,
    /// Paths removed (at most [`NOTICE_PATHS`]), for the `INVALIDATED` notice.
    pub(super) paths: Vec<String>,
    /// The feed check that applies this invalidation.
    pub(super) parent: Option<OpId>,
    /// Early deletions, held until DONE is sent (so the reply does not wait for the
    /// executor to start a thousand deletions).
    pub(super) held: Vec<Cmd>,
    /// Caches that could not be listed and entries that could not be read: covered
    /// entries may still be there.
    pub(super) unread: u32,
    /// Entries the listed deletions were sent for, and how many they removed.
    pub(super) to_delete: u64,
    pub(super) deleted: u64,
    /// Passes made again because deletions failed (a pass lists or reads afresh and
    /// deletes what is still there); the reply and the notice go out after the first.
    pub(super) retries: u32,
    pub(super) replied: bool,
    /// The same news as an invalidation already applied: nothing to remove, no notice.
    pub(super) again: bool,
    /// When its latest step began (the time of its notice).
    pub(super) clock: f64,
    /// Raised by a request that changes its URL ([`Engine::change`]): no reply, no notice.
    pub(super) quiet: bool,
}

/// Most removed paths one `INVALIDATED` notice lists.
const NOTICE_PATHS: usize = 200;

/// How many times an invalidation whose deletions failed goes again (after 1, 2, 4 s),
/// while its fence hides what it covers and its event keeps the worker running: an
/// answered invalidation must not leave an old copy to a worker started later.
const DELETE_RETRIES: u32 = 3;

/// How long after a request that changes a URL its GET responses are served but not
/// stored: the server may still be applying the change when a GET started meanwhile
/// is answered.
pub(super) const CHANGE_WINDOW_MS: f64 = 30_000.0;

impl Engine {
    /// A request that may change what `href` answers (any method but GET, HEAD and
    /// OPTIONS), left to the browser: the copy a storing route keeps of the same URL goes,
    /// as HTTP caches do (RFC 9111, 4.4), and a GET of it that starts within
    /// [`CHANGE_WINDOW_MS`] is served but not stored. No reply, no notice (the page that
    /// sent it knows). `None`: no route stores that URL (only the precache, or a
    /// `networkOnly` or `cacheOnly` route, takes it), so there is nothing to fence.
    pub fn change(&mut self, href: &str, now: f64) -> Option<OpId> {
        if self.removed {
            return None;
        }
        // (Another origin's URL, which a `crossOrigin` route keeps, is named whole.)
        let path = url::key_of(href, &self.origin);
        // The precache is left alone: its files are the build's, and one of them may be
        // the offline page.
        let slot = self.select(href, true, false)?;
        if slot == self.precache_slot() || !self.slots[slot].route.strategy.stores() {
            return None;
        }
        let selector = Selector { urls: PathSet(vec![String::from(path)]), ..Selector::default() };
        let inv = Invalidation { at_ms: now + CHANGE_WINDOW_MS, asked_ms: now, selector, seq: None };
        let id = self.new_op(Kind::Idle);
        self.invalidate(id, inv, now, true);
        Some(id)
    }

    pub(super) fn invalidate(&mut self, id: OpId, inv: Invalidation, now: f64, quiet: bool) {
        let inv = Rc::new(inv);
        // The fence goes up before anything else: reads stop seeing covered entries and
        // later writes check it.
        self.fences.raise(inv.clone(), now, quiet);
        // Writes (and earlier invalidations) under way land first.
        let waiting = self.writes.clone();
        self.writes.push((id, NOT_A_JOB));
        let op = InvalidateOp {
            inv,
            waiting,
            begun: false,
            early: false,
            lists: 0,
            lookups: Vec::new(),
            outstanding: 0,
            removed: 0,
            paths: Vec::new(),
            parent: None,
            held: Vec::new(),
            unread: 0,
            to_delete: 0,
            deleted: 0,
            retries: 0,
            replied: false,
            again: false,
            clock: now,
            quiet,
        };
        if let Some(o) = self.op(id) {
            o.kind = Kind::Invalidate(Box::new(op));
        }
        self.wake_invalidations();
    }

    pub(super) fn wake_invalidations(&mut self) {
        if self.waking > 0 {
            self.waking = 2;
            return;
        }
        loop {
            self.waking = 1;
            let ready: Vec<OpId> = self
                .ops
                .iter_mut()
                .filter_map(|o| match &mut o.kind {
                    Kind::Invalidate(i) if !i.begun => Some((o.id, i)),
                    _ => None,
                })
                .filter_map(|(id, i)| {
                    // Up to the first one still under way (the rest need not be read: each
                    // queued invalidation waits for every earlier one).
                    let writes = &self.writes;
                    let ended = i.waiting.iter().position(|w| writes.contains(w)).unwrap_or(i.waiting.len());
                    i.waiting.drain(..ended);
                    i.waiting.is_empty().then(|| {
                        i.begun = true;
                        id
                    })
                })
                .collect();
            for id in ready {
                self.begin_invalidation(id);
            }
            if self.waking == 1 {
                break;
            }
        }
        self.waking = 0;
    }

    pub(super) fn inv_op(&mut self, id: OpId) -> Option<&mut InvalidateOp> {
        match &mut self.op(id)?.kind {
            Kind::Invalidate(i) => Some(i),
            _ => None,
        }
    }

    /// Lists the caches the selector may touch, or (exact URLs only) reads each URL in
    /// the one cache that can hold it.
    #[inline(never)]
    fn begin_invalidation(&mut self, id: OpId) {
        let (started, newest) = (self.started_ms, self.newest_stamp);
        let Some(i) = self.inv_op(id) else { return };
        let inv = i.inv.clone();
        // Every open page hands on each entry of its live feed, and the worker's feed check
        // reads it too: once applied (this waited for it), it is not applied again.
        if i.retries == 0 && self.fences.applied(&inv) {
            if let Some(i) = self.inv_op(id) {
                i.again = true;
            }
            return self.invalidation_progress(id);
        }
        let Some(i) = self.inv_op(id) else { return };
        let sel = &inv.selector;
        // When every entry is known to be older than the fence and no tag must be read,
        // the count comes from the keys and DONE is sent before the deletions (the fence
        // hides the entries until they are gone).
        // (Nobody waits for a quiet one's reply: its one URL is looked up.)
        let early = !i.quiet && sel.tags.is_empty() && fence::all_stamped_before(inv.at_ms, started, newest);
        i.early = early;
        let n = self.slots.len();
        if early || !sel.urls_only() {
            if let Some(i) = self.inv_op(id) {
                i.lists = n as u32;
            }
            for slot in 0..n as u32 {
                self.emit(Cmd::Keys { op: id, tag: Tag::List(slot), slot });
            }
            return;
        }
        let mut lookups = Vec::new();
        for path in sel.urls.iter() {
            // (A request that changed another origin's URL names it whole.)
            let href = if path.starts_with('/') { cat!(self.origin, path) } else { path.clone() };
            let routed = self.select(&href, true, false);
            if let Some(slot) = routed.filter(|s| *s != self.precache_slot()) {
                lookups.push((slot, Req::Path(path.clone()), path.clone()));
            }
        }
        // A precached URL is stored under a revisioned key, and every version shares the
        // precache: a version installed and waiting keeps its own revision there, under a
        // key this config does not know. The precache is listed (its keys' paths judged),
        // but for a request that changed its URL, which leaves the precache alone.
        if let Some(i) = self.inv_op(id).filter(|i| !i.quiet) {
            i.lists = 1;
            let slot = self.precache_slot() as u32;
            self.emit(Cmd::Keys { op: id, tag: Tag::List(slot), slot });
        }
        self.look_all(id, lookups);
    }

    fn look_all(&mut self, id: OpId, lookups: Vec<(usize, Req, String)>) {
        let Some(i) = self.inv_op(id) else { return };
        let first = i.lookups.len() as u32;
        i.outstanding += lookups.len() as u32;
        let cmds = match_lookups(id, first, lookups.iter().map(|(slot, req, _)| (*slot, req.clone())));
        i.lookups.extend(lookups);
        self.out.extend(cmds);
        self.invalidation_progress(id);
    }

    #[inline(never)]
    pub(super) fn invalidate_io(&mut self, id: OpId, tag: Tag, io: Io, now: f64) {
        let Some(i) = self.inv_op(id) else { return };
        i.clock = now;
        let inv = i.inv.clone();
        match (tag, io) {
            (Tag::List(index), Io::Keys(keys)) => {
                let slot = index as usize;
                let unread = keys.is_none();
                let precache = slot == self.precache_slot();
                let hits: Vec<(u32, String)> = keys
                    .unwrap_or_default()
                    .iter()
                    .enumerate()
                    .filter_map(|(k, h)| {
                        let key = url::key_of(h, &self.origin);
                        let path = crate::policy::precache::path_of_key(key);
                        // The offline page and placeholder are the build's fallbacks, read
                        // only when the network fails: nothing fetches them again before
                        // the next deploy. Only an invalidation naming their URL takes them.
                        if precache && self.cfg.is_offline_key(key) && !inv.selector.urls.contains(path) {
                            return None;
                        }
                        inv.selector.may_match(path, slot).then(|| (k as u32, String::from(path)))
                    })
                    .collect();
                let Some(i) = self.inv_op(id) else { return };
                i.lists -= 1;
                i.unread += u32::from(unread);
                if i.early {
                    let first = i.retries == 0;
                    if first {
                        i.removed += hits.len() as u64;
                        let room = NOTICE_PATHS.saturating_sub(i.paths.len());
                        i.paths.extend(hits.iter().take(room).map(|(_, p)| p.clone()));
                    }
                    if !hits.is_empty() {
                        i.outstanding += 1;
                        i.to_delete += hits.len() as u64;
                        let reqs = hits.iter().map(|(k, _)| Req::Key { list: tag, index: *k }).collect();
                        i.held.push(Cmd::Delete { op: id, tag: Tag::DeleteListed(index), slot: index, reqs });
                    }
                    if first {
                        self.slots[slot].counters.invalidations += hits.len() as u64;
                    }
                    let Some(i) = self.inv_op(id) else { return };
                    if i.lists == 0 {
                        let held = ::core::mem::take(&mut i.held);
                        self.reply_once(id);
                        if let Some(o) = self.op(id) {
                            o.answered = true;
                        }
                        held.into_iter().for_each(|c| self.emit(c));
                    }
                    self.invalidation_progress(id);
                } else {
                    let lookups = hits.into_iter().map(|(k, p)| (slot, Req::Key { list: tag, index: k }, p)).collect();
                    self.look_all(id, lookups);
                }
            }
            (Tag::Look(_), Io::Unread) => {
                i.unread += 1;
                i.outstanding -= 1;
                self.invalidation_progress(id);
            }
            (Tag::Look(index), Io::Matched(found)) => {
                let Some((slot, req, path)) = i.lookups.get(index as usize).cloned() else { return };
                match found {
                    Some(e) if inv.removes(&path, slot, e.tags.as_deref(), super::stamp_seen(&e, now)) => {
                        i.to_delete += 1;
                        self.emit(Cmd::Delete {
                            op: id,
                            tag: Tag::DeleteOne(index),
                            slot: slot as u32,
                            reqs: vec![req],
                        });
                    }
                    _ => {
                        i.outstanding -= 1;
                        self.invalidation_progress(id);
                    }
                }
            }
            (Tag::DeleteOne(index), Io::Deleted(n)) => {
                let (slot, path) = i.lookups.get(index as usize).map_or((0, String::new()), |l| (l.0, l.2.clone()));
                i.removed += u64::from(n);
                i.deleted += u64::from(n);
                if n > 0 && i.paths.len() < NOTICE_PATHS {
                    i.paths.push(path);
                }
                i.outstanding -= 1;
                self.slots[slot].counters.invalidations += u64::from(n);
                self.invalidation_progress(id);
            }
            (Tag::DeleteListed(_), Io::Deleted(n)) => {
                i.deleted += u64::from(n);
                i.outstanding -= 1;
                self.invalidation_progress(id);
            }
            // The next pass after failed deletions.
            (Tag::Timer, Io::Timer) => {
                if let Some(o) = self.op(id) {
                    o.bg = o.bg.saturating_sub(1);
                }
                self.begin_invalidation(id);
            }
            _ => {}
        }
    }

    /// DONE (or ERROR) to the sender, at the first pass that can tell; later passes
    /// after failed deletions send nothing.
    fn reply_once(&mut self, id: OpId) {
        let Some(i) = self.inv_op(id) else { return };
        if !::core::mem::replace(&mut i.replied, true) && !i.quiet {
            let json = reply_json(i);
            self.emit(Cmd::Reply { op: id, json });
        }
    }

    fn invalidation_progress(&mut self, id: OpId) {
        let Some(i) = self.inv_op(id) else { return };
        if i.lists > 0 || i.outstanding > 0 {
            return;
        }
        let (inv, parent, now) = (i.inv.clone(), i.parent, i.clock);
        // Every cache listed and every deletion confirmed: the covered entries are gone.
        // Else the fence goes on hiding what it covers for as long as it lives.
        let complete = i.unread == 0 && i.deleted >= i.to_delete;
        let (first, again, removed) = (i.retries == 0 && !i.again, i.again, i.removed);
        let paths = ::core::mem::take(&mut i.paths);
        // A worker's first read of the feed (no position yet: a first visit) applies it
        // whole. An entry older than this worker that removed nothing is no news to the
        // pages: they came from the network or from copies newer than it (told, each
        // would reload for nothing).
        let quiet = i.quiet;
        let old_news = parent.is_some()
            && removed == 0
            && inv.at_ms < self.started_ms
            && self.feed.as_ref().is_some_and(|f| f.cursor.is_none());
        self.reply_once(id);
        if first && !old_news && !quiet {
            let at = self.notices.next_at(now);
            let more = removed > paths.len() as u64;
            self.notify(id, at, invalidated_json(&inv, &paths, more, parent.is_some(), at), now);
        }
        // Deletions failed (every cache read): go again, while the event keeps the worker.
        let Some(i) = self.inv_op(id) else { return };
        if i.unread == 0 && !complete && i.retries < DELETE_RETRIES {
            i.retries += 1;
            let ms = 500u32 << i.retries;
            (i.lists, i.outstanding, i.to_delete, i.deleted) = (0, 0, 0, 0);
            i.lookups.clear();
            i.held.clear();
            if let Some(o) = self.op(id) {
                o.answered = true;
                o.bg += 1;
            }
            self.emit(Cmd::Timer { op: id, tag: Tag::Timer, ms });
            return;
        }
        if complete {
            self.fences.settle(&inv);
            if parent.is_none() && !again {
                self.feed_heard(id, &inv);
            }
        }
        self.write_ended(id, NOT_A_JOB);
        if let Some(o) = self.op(id) {
            o.answered = true;
            o.kind = Kind::Idle;
        }
        self.finish_if_idle(id);
        self.wake_invalidations();
        if let Some(p) = parent {
            self.feed_child_done(p, id, complete);
        }
    }
}

/// `{type:'INVALIDATED', urls, prefixes, tags, removed, all, source, at}`: told to every
/// open page, which decides whether its own URL or data is covered (`at`: when it was
/// sent, by the worker's clock; it names the notice). `more`: it removed paths past the
/// [`NOTICE_PATHS`] listed (`"more":true`: a page cannot tell whether its own went).
fn invalidated_json(inv: &Invalidation, removed: &[String], more: bool, from_feed: bool, at: f64) -> String {
    let list = crate::policy::text::push_json_list;
    let sel = &inv.selector;
    let mut out = String::from("{\"type\":\"INVALIDATED\"");
    list(&mut out, "urls", &mut sel.urls.iter().map(String::as_str));
    list(&mut out, "prefixes", &mut sel.prefixes.iter().map(String::as_str));
    list(&mut out, "tags", &mut sel.tags.iter().map(String::as_str));
    list(&mut out, "removed", &mut removed.iter().map(String::as_str));
    if more {
        out.push_str(",\"more\":true");
    }
    out.push_str(if sel.all { ",\"all\":true" } else { ",\"all\":false" });
    out.push_str(if from_feed { ",\"source\":\"feed\",\"at\":" } else { ",\"source\":\"message\",\"at\":" });
    crate::policy::text::push_u64(&mut out, at as u64);
    out.push('}');
    out
}

/// DONE with the count; an error when a cache could not be listed or an entry read
/// (sending the message again reads them again).
fn reply_json(i: &InvalidateOp) -> String {
    if i.unread > 0 {
        return super::replies::error_json("swcache: a cache could not be read: send the invalidation again");
    }
    cat!("{\"type\":\"CACHE_INVALIDATION_DONE\",\"removed\":", i.removed, "}")
}
