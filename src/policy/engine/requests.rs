//! A page's request, one operation per fetch event: the strategy's [`Flow`] over cache
//! reads and fetches, the network timeout, the answer (with the offline page or image when
//! there is none), background revalidation and late writes, and ranged requests answered
//! from a cached copy.

use crate::policy::evict::KnownKeys;
use crate::policy::prelude::*;
use crate::policy::store;
use crate::policy::strategy::{Action, Flow, Lookup, NetOutcome, Reply};
use crate::policy::text::{push_json_str, push_u64};

use super::{Answer, Cmd, Engine, Io, Kind, OpId, Req, ResponseInfo, Tag};

#[derive(Debug)]
pub(super) struct FetchOp {
    pub(super) slot: usize,
    pub(super) also_precache: bool,
    pub(super) flow: Flow,
    pub(super) navigate: bool,
    pub(super) path: String,
    /// The request is on the worker's origin (its cache key is `path` there).
    pub(super) same_origin: bool,
    pub(super) started: f64,
    /// The fetch is running and the flow is waiting for it.
    pub(super) awaiting: bool,
    /// The fetch's result, once it came.
    pub(super) net: Option<Result<ResponseInfo, String>>,
    pub(super) timed_out: bool,
    /// Store the response when it arrives (answered from the cache after a timeout).
    pub(super) store_late: bool,
    /// Its background refresh is under way: the stale hits of the URL meanwhile share it.
    pub(super) refreshing: bool,
    pub(super) cached_tag: Tag,
    /// The validator of the cached copy served (for `UPDATED` notices).
    pub(super) served: Option<String>,
    /// The cached copy's `Cache-Tag` (the fences a copy stamped again obeys).
    pub(super) tags: Option<String>,
    /// Strict mode: the next step, held until the feed is checked (or the budget ends).
    pub(super) parked: Option<Action>,
    /// The precache key of this URL, if it is precached.
    pub(super) key: Option<String>,
    pub(super) image: bool,
    /// See [`super::Request::no_cors`].
    pub(super) no_cors: bool,
    /// See [`super::Request::conditional`].
    pub(super) conditional: bool,
    /// See [`super::Request::authorized`].
    pub(super) authorized: bool,
    /// The `Range` header of a ranged request served from the cache.
    pub(super) range: Option<String>,
    /// The error to answer with if the offline fallback is not cached either.
    pub(super) fallback: Option<(u16, &'static str, &'static str)>,
    /// A navigation no route takes, passed through (for the offline page or the preload
    /// response): if the network fails and no offline page answers, the browser's own
    /// failure shows, not an error of the engine's.
    pub(super) pass_through: bool,
    /// A ranged miss went past the HTTP cache (as the adapter's copy of the request).
    pub(super) ranged_reload: bool,
}

impl Engine {
    /// How the operation's request is stored in its slot: the event's own request, in the
    /// precache its revisioned key, and a navigation by its URL ([`Req::Page`]; but where
    /// the browser's router reads the cache, which matches the navigation's request).
    pub(super) fn own_req(&mut self, id: OpId) -> Req {
        let precache = self.precache_slot();
        let Some(f) = self.fetch_op(id) else { return Req::Own };
        if f.slot == precache {
            return f.key.clone().map_or(Req::Own, Req::Path);
        }
        if !(f.navigate && f.same_origin) {
            return Req::Own;
        }
        let (slot, path) = (f.slot, f.path.clone());
        match self.slots.get(slot) {
            Some(s) if !s.route.router => Req::Page(path),
            _ => Req::Own,
        }
    }

    /// The fetch of the event's request: the navigation preload response when it is on.
    /// A request a recent invalidation may cover goes past the HTTP cache (revalidated
    /// with the origin), and so not through the preload, which the HTTP cache may answer.
    fn fetch_own(&mut self, id: OpId, tag: Tag, navigate: bool, now: f64) {
        let reload = self.ops.iter().find(|o| o.id == id).is_some_and(|o| match &o.kind {
            Kind::Fetch(f) => self.fences.covers(&f.path, f.slot, now),
            _ => false,
        });
        // A revalidation is a fetch no page waits for.
        let headers_ms = (tag == Tag::Revalidate).then_some(store::HEADERS_MS);
        self.emit(if navigate && self.cfg.navigation_preload && !reload {
            Cmd::Preload { op: id, tag, headers_ms }
        } else {
            Cmd::Fetch { op: id, tag, req: Req::Own, reload, headers_ms }
        });
    }

    pub(super) fn fetch_op(&mut self, id: OpId) -> Option<&mut FetchOp> {
        match &mut self.op(id)?.kind {
            Kind::Fetch(f) => Some(f),
            _ => None,
        }
    }

    pub(super) fn run(&mut self, id: OpId, action: Action, now: f64) {
        let Some(f) = self.fetch_op(id) else { return };
        match action {
            Action::ReadCache => {
                let slot = f.slot as u32;
                let req = self.own_req(id);
                self.emit(Cmd::Match { op: id, tag: Tag::Match, slot, req });
            }
            Action::Fetch { timeout_ms } => {
                f.started = now;
                f.awaiting = true;
                let navigate = f.navigate;
                self.fetch_own(id, Tag::Net, navigate, now);
                if let Some(ms) = timeout_ms {
                    self.emit(Cmd::Timer { op: id, tag: Tag::Timer, ms });
                }
            }
            Action::AwaitNetwork => match f.net.clone() {
                // The answer came while the cache was read.
                Some(r) => {
                    let outcome = outcome(&r, f.conditional);
                    let next = f.flow.on_network(outcome);
                    self.run(id, next, now);
                }
                None => f.awaiting = true,
            },
            Action::Respond(reply) => self.answer(id, reply, now),
        }
    }

    fn answer(&mut self, id: OpId, reply: Reply, now: f64) {
        let Some(f) = self.fetch_op(id) else { return };
        let (slot, network_error, may_store) = (f.slot, f.flow.network_error, f.flow.may_store());
        let (path, navigate, started, cached_tag) = (f.path.clone(), f.navigate, f.started, f.cached_tag);
        let tags = f.tags.clone();
        let (net, key) = (f.net.clone(), f.key.is_some());
        let timed_out = f.timed_out;
        // What GET_STATS counts: not a navigation no route takes, passed through for the
        // offline page or the preload (no cache is read for it: no route's miss), nor a
        // lookup among the kept files that found nothing (the browser fetches a file the
        // list never had).
        let counted = !(f.pass_through && (!key || matches!(reply, Reply::Error(_))));
        // (An image only looked up among the kept files is the browser's to fetch.)
        let image = f.image && !f.pass_through;
        if let Reply::Error(fail) = reply {
            // Nothing to answer with: the offline page (navigations) or placeholder
            // (images), if the site has one.
            let offline = &self.cfg.offline;
            let fallback = if navigate {
                offline.page
            } else if image {
                offline.image
            } else {
                None
            };
            if let Some(e) = fallback.and_then(|i| self.cfg.precache.get(i)) {
                let req = Req::Path(e.key.clone());
                let reason = if fail.status() == 503 { "Service Unavailable" } else { "Gateway Timeout" };
                if let Some(f) = self.fetch_op(id) {
                    if f.fallback.is_none() {
                        f.fallback = Some((fail.status(), reason, fail.message()));
                        if counted {
                            self.slots[slot].counters.record(reply, network_error);
                        }
                        let precache = self.precache_slot() as u32;
                        self.emit(Cmd::Match { op: id, tag: Tag::Offline, slot: precache, req });
                        return;
                    }
                }
            }
        }
        let own = self.own_req(id);
        let pass_through = self.fetch_op(id).is_some_and(|f| f.pass_through);
        if counted {
            self.slots[slot].counters.record(reply, network_error);
        }
        match reply {
            Reply::Error(_) if pass_through => self.emit(Cmd::Respond { op: id, answer: Answer::Browser }),
            Reply::Cache { revalidate, .. } => {
                if revalidate && may_store {
                    // (Ten tabs a campaign link opened at once: one refresh, one notice.)
                    let shared = self
                        .ops
                        .iter()
                        .any(|o| matches!(&o.kind, Kind::Fetch(g) if g.refreshing && g.slot == slot && g.path == path));
                    if !shared {
                        if let Some(f) = self.fetch_op(id) {
                            f.started = now;
                            f.refreshing = true;
                        }
                        self.bg(id, 1);
                        self.fetch_own(id, Tag::Revalidate, navigate, now);
                    }
                } else if timed_out && may_store {
                    match net {
                        Some(Ok(info)) => {
                            // (Come while the cache was read: news to the pages, as a later
                            // answer is.)
                            let served = self.fetch_op(id).and_then(|f| f.served.clone());
                            if self.store(id, slot, own, &path, Tag::Net, &info, started, None) {
                                self.notice_update(id, &path, served.as_deref(), info.validator.as_deref(), now);
                            }
                        }
                        Some(Err(_)) => {}
                        None => {
                            if let Some(f) = self.fetch_op(id) {
                                f.store_late = true;
                            }
                            self.bg(id, 1);
                            // No page waits for it now: the write gives up if no response
                            // comes within this.
                            self.emit(Cmd::Timer { op: id, tag: Tag::Timer, ms: store::HEADERS_MS });
                        }
                    }
                } else if may_store && cached_tag == Tag::Match && matches!(&net, Some(Ok(i)) if i.status == 304) {
                    // The origin said the copy is still good (a 304 the flow answers with
                    // the copy): stamped again, as a revalidation would.
                    self.restamp(id, slot, own, &path, Tag::Match, false, tags.as_deref(), started);
                }
                self.emit(Cmd::Respond { op: id, answer: Answer::Cached(cached_tag) });
            }
            Reply::Network => {
                if let (true, Some(Ok(info))) = (may_store, &net) {
                    // The copy is taken before the response goes to the page.
                    if self.store(id, slot, own, &path, Tag::Net, info, started, None) {
                        // A page shows this copy: a refresh that brings another is news,
                        // whatever copy was told before.
                        self.updated.retain(|(p, _)| *p != path);
                    }
                }
                self.emit(Cmd::Respond { op: id, answer: Answer::Network(Tag::Net) });
            }
            Reply::Error(f) => {
                let reason = if f.status() == 503 { "Service Unavailable" } else { "Gateway Timeout" };
                self.emit(Cmd::Respond {
                    op: id,
                    answer: Answer::Error { status: f.status(), reason, text: f.message() },
                });
            }
        }
        self.answered(id, now);
    }

    /// A `304` said the copy read under `from` is still good: stamped again as of
    /// `started`, unless the worker is off the site or an invalidation since covers it.
    #[allow(clippy::too_many_arguments, reason = "a cache write's facts, each passed on once")]
    fn restamp(
        &mut self,
        id: OpId,
        slot: usize,
        req: Req,
        path: &str,
        from: Tag,
        opaque: bool,
        tags: Option<&str>,
        started: f64,
    ) {
        if !self.removed && !self.fences.blocks(path, slot, tags, started) {
            self.put(id, slot, req, path, from, opaque, started, false, None);
        }
    }

    #[inline(never)]
    pub(super) fn fetch_io(&mut self, id: OpId, tag: Tag, io: Io, now: f64) {
        let Some(f) = self.fetch_op(id) else { return };
        match (tag, io) {
            (Tag::Match | Tag::Precache, Io::Matched(found)) => {
                let read_slot = if tag == Tag::Match { f.slot } else { self.precache_slot() };
                let f = self.fetch_op(id).unwrap_or_else(|| unreachable!());
                let (path, also, key) = (f.path.clone(), f.also_precache, f.key.clone().unwrap_or_default());
                // An opaque copy answers only a no-cors request: to any other it is a miss.
                let no_cors = f.no_cors;
                if found.is_none() && tag == Tag::Match {
                    // A key this instance knows is gone (the site deleted its caches, say at
                    // sign-out): its keys are listed again at the next write, else the
                    // phantoms would outrank, and evict, every page stored from now on.
                    KnownKeys::missed(&mut self.slots[read_slot].known, &path);
                }
                let found = found.filter(|e| !self.hidden(&path, read_slot, e, now) && (no_cors || !e.opaque));
                if found.is_none() && tag == Tag::Match && also {
                    let slot = self.precache_slot() as u32;
                    self.emit(Cmd::Match { op: id, tag: Tag::Precache, slot, req: Req::Path(key) });
                    return;
                }
                if found.is_some() && tag == Tag::Match {
                    self.touch(read_slot, &path);
                }
                // A kept file's name names its content: its copy is never stale, whatever
                // the route's maxAge (the server no longer has it).
                let kept = tag == Tag::Precache && !self.cfg.is_precached(&path);
                let Some(f) = self.fetch_op(id) else { return };
                let lookup = match &found {
                    None => Lookup::Miss,
                    Some(e) => {
                        f.cached_tag = tag;
                        f.served = e.validator.clone();
                        f.tags = e.tags.clone();
                        Lookup::Hit { stamp_ms: if kept { Some(now) } else { e.stamp_ms } }
                    }
                };
                let next = f.flow.on_cache(lookup, now);
                self.run(id, next, now);
            }
            (Tag::Net, Io::Fetched(Err(_))) if f.range.is_some() && f.ranged_reload => {
                // Past the HTTP cache, the adapter's same-origin copy of a media element's
                // request fails where the server redirects it to another origin (a CDN, a
                // storage service's signed URL): it goes again as it came.
                f.ranged_reload = false;
                self.emit(Cmd::Fetch { op: id, tag: Tag::Net, req: Req::Own, reload: false, headers_ms: None });
            }
            (Tag::Net, Io::Fetched(r)) if f.range.is_some() => {
                let slot = f.slot;
                let answer = match r {
                    Ok(_) => Answer::Network(Tag::Net),
                    Err(_) => {
                        // (Its miss was counted when it was sent.)
                        self.slots[slot].counters.network_errors += 1;
                        Answer::Error {
                            status: 503,
                            reason: "Service Unavailable",
                            text: "swcache: offline and not cached",
                        }
                    }
                };
                self.emit(Cmd::Respond { op: id, answer });
                self.answered(id, now);
            }
            (Tag::Net, Io::Fetched(r)) => {
                let (slot, path, started) = (f.slot, f.path.clone(), f.started);
                if let Ok(info) = &r {
                    self.feed_news(id, info.feed_seq.as_deref(), now);
                }
                let Some(f) = self.fetch_op(id) else { return };
                if f.store_late {
                    f.store_late = false;
                    let served = f.served.clone();
                    let own = self.own_req(id);
                    if let Ok(info) = &r {
                        if self.store(id, slot, own, &path, Tag::Net, info, started, None) {
                            self.notice_update(id, &path, served.as_deref(), info.validator.as_deref(), now);
                        }
                    }
                    self.bg(id, -1);
                    return;
                }
                f.net = Some(r.clone());
                if f.awaiting {
                    f.awaiting = false;
                    let next = f.flow.on_network(outcome(&r, f.conditional));
                    self.run(id, next, now);
                }
            }
            (Tag::Timer, Io::Timer) if f.awaiting && f.net.is_none() => {
                f.awaiting = false;
                f.timed_out = true;
                let next = f.flow.on_timeout();
                self.run(id, next, now);
            }
            (Tag::Timer, Io::Timer) if f.store_late => {
                // The late response never came: the write is given up (the response, if it
                // ever comes, finds the operation ended).
                f.store_late = false;
                self.bg(id, -1);
            }
            (Tag::Revalidate, Io::Fetched(r)) => {
                f.refreshing = false;
                let (slot, path, started) = (f.slot, f.path.clone(), f.started);
                let served = f.served.clone();
                let confirmed = f.cached_tag == Tag::Match && !f.conditional;
                let own = self.own_req(id);
                if let Ok(info) = &r {
                    self.feed_news(id, info.feed_seq.as_deref(), now);
                    if info.status == 304 && confirmed && !self.removed {
                        // The origin (or a proxy) said the copy is still good: stamped
                        // again, as cacheFirst's is. (The copy read was the page's answer:
                        // it is read once more.)
                        self.bg(id, 1);
                        self.emit(Cmd::Match { op: id, tag: Tag::Look(0), slot: slot as u32, req: own });
                    } else if self.store(id, slot, own, &path, Tag::Revalidate, info, started, None) {
                        self.notice_update(id, &path, served.as_deref(), info.validator.as_deref(), now);
                    }
                }
                self.bg(id, -1);
            }
            (Tag::Look(0), Io::Matched(found)) => {
                let (slot, path, started, served) = (f.slot, f.path.clone(), f.started, f.served.clone());
                let own = self.own_req(id);
                // The same copy, which no invalidation since the refresh started covers.
                if let Some(e) = found.filter(|e| e.validator == served && !self.hidden(&path, slot, e, now)) {
                    self.restamp(id, slot, own, &path, Tag::Look(0), e.opaque, e.tags.as_deref(), started);
                }
                self.bg(id, -1);
            }
            (Tag::Strict, Io::Timer) => self.unpark(id, now),
            (Tag::News, Io::Timer) => self.feed_news_due(id, now),
            (Tag::Offline, Io::Matched(found)) => {
                // The offline file read is a read like any other: an invalidation still
                // deleting it hides it. (Only one naming its URL: the others leave it be.)
                let fallback = f.fallback;
                let offline = if f.navigate { self.cfg.offline.page } else { self.cfg.offline.image };
                let path = offline.and_then(|i| self.cfg.precache.get(i)).map(|e| e.path.clone()).unwrap_or_default();
                let precache = self.precache_slot();
                let found = found.filter(|e| !self.fences.hides_by_url(&path, precache, super::stamp_seen(e, now)));
                let answer = match (found, fallback) {
                    (Some(_), _) => Answer::Cached(Tag::Offline),
                    (None, Some((status, reason, text))) => Answer::Error { status, reason, text },
                    (None, None) => return,
                };
                self.emit(Cmd::Respond { op: id, answer });
                self.answered(id, now);
            }
            (Tag::Range | Tag::Size, io) => self.range_io(id, tag, io, now),
            _ => {}
        }
    }

    /// A ranged request: the cached copy's size, then the part it asks for. A miss (or
    /// an entry an invalidation hides) goes to the network, and is not stored.
    #[inline(never)]
    fn range_io(&mut self, id: OpId, tag: Tag, io: Io, now: f64) {
        let Some(f) = self.fetch_op(id) else { return };
        let (slot, path, header, same_origin) =
            (f.slot, f.path.clone(), f.range.clone().unwrap_or_default(), f.same_origin);
        // After a miss in the route's own cache, a precached URL is read in the precache
        // (`also_precache` is cleared when that read is sent).
        let (also, key) = (f.also_precache, f.key.clone());
        let precache = self.precache_slot();
        let read_slot = if key.is_some() && !also { precache } else { slot };
        let answer = match (tag, io) {
            (Tag::Range, Io::Matched(Some(e))) if !self.hidden(&path, read_slot, &e, now) => {
                if read_slot == slot {
                    self.touch(slot, &path);
                }
                // (Served whatever its age: a stale copy counts as one, as without `Range`.)
                let fresh = crate::policy::strategy::is_fresh(e.stamp_ms, now, self.slots[slot].route.max_age_ms);
                self.slots[slot].counters.record(Reply::Cache { fresh, revalidate: false }, false);
                return self.emit(Cmd::Size { op: id, tag: Tag::Size, from: Tag::Range });
            }
            (Tag::Range, Io::Matched(_)) if also => {
                if let Some(f) = self.fetch_op(id) {
                    f.also_precache = false;
                }
                let req = Req::Path(key.unwrap_or_default());
                return self.emit(Cmd::Match { op: id, tag: Tag::Range, slot: precache as u32, req });
            }
            (Tag::Range, Io::Matched(_)) => {
                self.slots[slot].counters.record(Reply::Network, false);
                // Past the HTTP cache only on this origin: the adapter's copy of a media
                // element's ranged request keeps its `Range` as a same-origin request.
                let reload = same_origin && self.fences.covers(&path, slot, now);
                if let Some(f) = self.fetch_op(id) {
                    f.ranged_reload = reload;
                }
                return self.emit(Cmd::Fetch { op: id, tag: Tag::Net, req: Req::Own, reload, headers_ms: None });
            }
            (Tag::Size, Io::Size(Some(size))) => match crate::policy::range::resolve(&header, size) {
                crate::policy::range::Ranged::Part { start, end } => {
                    Answer::Range { from: Tag::Range, start, end, size }
                }
                crate::policy::range::Ranged::Unsatisfiable => Answer::Unsatisfiable { size },
                crate::policy::range::Ranged::Whole => Answer::Cached(Tag::Range),
            },
            (Tag::Size, _) => Answer::Cached(Tag::Range),
            _ => return,
        };
        self.emit(Cmd::Respond { op: id, answer });
        self.answered(id, now);
    }

    pub(super) fn answered(&mut self, id: OpId, now: f64) {
        if let Some(op) = self.op(id) {
            op.answered = true;
        }
        self.maybe_sweep(now);
        self.finish_if_idle(id);
    }

    /// A background refresh stored a copy that differs from the one a page was given:
    /// every open page is told, and the notice is kept for the pages that were away (one
    /// per URL: the latest says it all), saved under operation `id`.
    fn notice_update(&mut self, id: OpId, path: &str, served: Option<&str>, fresh: Option<&str>, now: f64) {
        let (Some(served), Some(fresh)) = (served, fresh) else { return };
        // A new copy is news once: requests that were all served the same old copy (a
        // networkFirst route past its timeout) each bring it with their late answer.
        // (Against the latest copy told for the URL only: content that changes back, a
        // banner on and off again, is news each time.)
        let latest = self.updated.iter().rev().find(|(p, _)| p == path).map(|(_, v)| v.as_str());
        if served != fresh && latest != Some(fresh) {
            self.updated.retain(|(p, _)| p != path);
            if self.updated.len() >= UPDATES_KEPT {
                self.updated.remove(0);
            }
            self.updated.push((String::from(path), String::from(fresh)));
            let mut json = String::from(crate::policy::notices::UPDATED);
            json.push_str(",\"url\":");
            push_json_str(&mut json, path);
            self.notices.forget(&json);
            let at = self.notices.next_at(now);
            json.push_str(",\"at\":");
            push_u64(&mut json, at as u64);
            json.push('}');
            self.notify(id, at, json, now);
        }
    }
}

/// How many (path, validator) pairs of new copies told to pages are kept, so that each is
/// told once.
const UPDATES_KEPT: usize = 32;

fn outcome(r: &Result<ResponseInfo, String>, conditional: bool) -> NetOutcome {
    match r {
        Err(_) => NetOutcome::Failed,
        Ok(i) if i.status == 304 && !conditional => NetOutcome::NotModified,
        // A 5xx is treated as a failure where a cached copy can stand in.
        Ok(i) if i.status >= 500 => NetOutcome::ServerError,
        Ok(i) if i.status == 404 || i.status == 410 => NetOutcome::Gone,
        Ok(_) => NetOutcome::Ok,
    }
}
