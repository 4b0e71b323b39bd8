//! Following the invalidation feed ([`crate::policy::feed`]): when to check (first request,
//! interval, news announced by a response, throttled), the check itself (saved cursor,
//! conditional fetch, invalidations applied as child operations, the cursor saved after
//! them), strict mode (navigations parked until a check or their budget), errors, the
//! epoch watch, and the install's question (has the site taken swcache off?).

use crate::policy::feed;
use crate::policy::prelude::*;
use crate::policy::text::{push_json_str, push_u64};
use crate::policy::value::Value;

use super::{Cmd, Engine, Io, Kind, OpId, Tag};

/// What the engine knows of the invalidation feed.
#[derive(Debug)]
pub(super) struct FeedState {
    pub(super) cfg: crate::policy::config::FeedConfig,
    pub(super) loaded: bool,
    pub(super) cursor: Option<feed::Cursor>,
    pub(super) etag: Option<String>,
    pub(super) last_check: Option<f64>,
    pub(super) last_success: Option<f64>,
    pub(super) running: Option<OpId>,
    pub(super) again: bool,
    /// A check deferred to the end of the throttle: the operation whose response
    /// announced the news (it holds the timer) and the newest seq announced.
    pub(super) deferred: Option<(OpId, u64)>,
    /// Epoch changes (several feeds taking turns are reported).
    pub(super) epochs: feed::EpochWatch,
    /// Navigations waiting for the check (strict mode).
    pub(super) parked: Vec<OpId>,
    pub(super) checks: u64,
    pub(super) not_modified: u64,
    pub(super) applied: u64,
    pub(super) errors: u64,
    pub(super) error: Option<String>,
    /// Entries pages handed on from their live feeds whose invalidation completed, above
    /// the cursor: `(seq, timestamp)`. Their fences live in memory only, so they are saved
    /// with the cursor, and a worker started later does not apply them again at its check
    /// (each open page would be told twice). Cut at each saved cursor; at most
    /// [`LIVE_KEPT`] (more are applied again by a worker started later).
    pub(super) live: Vec<(u64, f64)>,
    /// How far this worker's clock runs ahead of the feed's ([`feed::ahead_of`]), learnt
    /// at each check and saved with the cursor (for live entries heard before the next).
    pub(super) ahead_ms: f64,
    /// Live entries pages handed on before the saved state was read (message operation,
    /// `event.data`): carried out once it is, moved by its `ahead_ms`.
    pub(super) heard: Vec<(OpId, Value)>,
}

/// Most live entries kept above the cursor.
const LIVE_KEPT: usize = 50;

/// How long a feed check waits for the feed's answer before it counts as failed (its
/// warning says "10 s"), and its request is aborted.
const FEED_TIMEOUT_MS: u32 = 10_000;

/// How long an install waits for the feed's answer before it precaches (a feed that is
/// slow or hangs does not hold it longer; a 410 that comes later still fails it).
const INSTALL_WAIT_MS: u32 = 3_000;

impl Engine {
    /// The install asks the feed first: swcache taken off the site (`410 Gone`) installs
    /// no worker, so pages that still call `register()` download no precache at every
    /// view. Any other answer, or none within [`INSTALL_WAIT_MS`], lets it go on.
    pub(super) fn install_feed_check(&mut self, id: OpId) {
        let Some(f) = &self.feed else { return };
        let path = f.cfg.path.clone();
        self.emit(Cmd::FetchFeed { op: id, tag: Tag::Feed, path, etag: None, cap: 0, ms: FEED_TIMEOUT_MS });
        self.emit(Cmd::Timer { op: id, tag: Tag::Feed, ms: INSTALL_WAIT_MS });
    }

    /// Strict mode: whether a navigation now must wait for a feed check.
    pub(super) fn strict_wait(&self, now: f64) -> bool {
        self.feed
            .as_ref()
            .is_some_and(|f| f.cfg.strict.is_some_and(|(stale, _)| feed::must_wait(now, f.last_success, stale)))
    }

    /// Checks the feed if it never was checked, or on a navigation when the interval passed.
    pub(super) fn feed_kick(&mut self, now: f64, navigate: bool, owner: Option<OpId>) {
        let Some(f) = &self.feed else { return };
        if f.last_check.is_none() || (navigate && feed::due(now, f.last_check, f.cfg.interval_ms)) {
            self.feed_check(now, owner);
        }
    }

    /// A response of operation `id` announced the feed's newest seq. News is checked at
    /// once (under `id`), after the check under way, or, within a second of the last
    /// check, when that second ends: one deferred check at a time, held by `id`.
    pub(super) fn feed_news(&mut self, id: OpId, header: Option<&str>, now: f64) {
        let Some(f) = &self.feed else { return };
        let Some(seq) = feed::announced(header).filter(|n| feed::is_news(*n, f.cursor.as_ref())) else { return };
        if f.running.is_some() {
            if let Some(f) = self.feed.as_mut() {
                f.again = true;
            }
        } else if feed::due(now, f.last_check, feed::NEWS_THROTTLE_MS) {
            self.feed_check(now, Some(id));
        } else {
            // Not due: the last check is less than the throttle old (and not in the future).
            let wait = f.last_check.map_or(0.0, |t| t + feed::NEWS_THROTTLE_MS - now);
            let Some(f) = self.feed.as_mut() else { return };
            match &mut f.deferred {
                // The operation holding the timer stays until it fires.
                Some((_, was)) => *was = seq.max(*was),
                None => {
                    f.deferred = Some((id, seq));
                    self.bg(id, 1);
                    self.emit(Cmd::Timer { op: id, tag: Tag::News, ms: crate::policy::text::ceil(wait) as u32 });
                }
            }
        }
    }

    /// The throttle of a deferred check ended: it runs if the announced seq is still
    /// news and no check is under way (one started since would have read it).
    pub(super) fn feed_news_due(&mut self, id: OpId, now: f64) {
        let Some(f) = self.feed.as_mut() else { return };
        let seq = match f.deferred {
            Some((op, seq)) if op == id => seq,
            _ => return self.bg(id, -1),
        };
        f.deferred = None;
        if f.running.is_none() && feed::is_news(seq, f.cursor.as_ref()) {
            self.feed_check(now, Some(id));
        }
        self.bg(id, -1);
    }

    /// The worker moves to the feed's `epoch`: an epoch that keeps changing is reported.
    fn feed_epoch(&mut self, epoch: &str, now: f64) {
        let Some(f) = self.feed.as_mut() else { return };
        let Some(n) = f.epochs.saw(f.cursor.as_ref().map(|c| c.epoch.as_str()), epoch, now) else { return };
        let text = crate::policy::text::cold(|| {
            cat!(
                "swcache feed: the feed's epoch changed ",
                n,
                " times in ",
                feed::EPOCH_WINDOW_MIN,
                " minutes: are several servers each serving their own feed? use one store (Redis) for all of them"
            )
        });
        self.warn_kept(text);
    }

    #[inline(never)]
    pub(super) fn feed_check(&mut self, now: f64, owner: Option<OpId>) {
        let Some(f) = &self.feed else { return };
        if f.running.is_some() {
            return;
        }
        let loaded = f.loaded;
        let id = self.new_op(Kind::Feed { applying: Vec::new(), next: None, owner, fetching: false });
        if let Some(o) = owner {
            self.bg(o, 1);
        }
        let Some(f) = self.feed.as_mut() else { return };
        f.running = Some(id);
        f.checks += 1;
        f.last_check = Some(now);
        if loaded {
            self.fetch_feed(id);
        } else {
            self.emit(Cmd::LoadState { op: id, tag: Tag::State, key: crate::policy::config::STATE_KEY });
        }
    }

    fn fetch_feed(&mut self, id: OpId) {
        let Some(f) = &self.feed else { return };
        let (path, etag) = (f.cfg.path.clone(), f.etag.clone());
        if let Some(Kind::Feed { fetching, .. }) = self.op(id).map(|o| &mut o.kind) {
            *fetching = true;
        }
        let ms = FEED_TIMEOUT_MS;
        self.emit(Cmd::FetchFeed { op: id, tag: Tag::Feed, path, etag, cap: feed::MAX_BYTES as u32, ms });
        self.emit(Cmd::Timer { op: id, tag: Tag::Feed, ms });
    }

    #[inline(never)]
    pub(super) fn feed_io(&mut self, id: OpId, tag: Tag, io: Io, now: f64) {
        if tag == Tag::Feed {
            // The feed's answer or its timeout, whichever comes first, ends the wait.
            let Some(Kind::Feed { fetching, .. }) = self.op(id).map(|o| &mut o.kind) else { return };
            let waited = ::core::mem::replace(fetching, false);
            if matches!(io, Io::Timer) {
                // No answer in time: the check fails (and the next one is not held up
                // behind it); the answer, if it ever comes, finds the check ended.
                if waited {
                    self.feed_failed(id, String::from("gave no answer within 10 s; pages are served as before"), now);
                }
                return;
            }
        }
        // A clock moved since the one saved is saved, also when the feed is unchanged.
        let moved = match &io {
            Io::Feed { date, age, .. } => self.feed_clock(*date, age.as_deref(), now),
            _ => false,
        };
        match (tag, io) {
            (Tag::State, Io::State(state)) => {
                if let Some(f) = self.feed.as_mut() {
                    f.loaded = true;
                    if let Some(v) = &state {
                        f.cursor = feed::cursor_of(v);
                        f.etag = v.get("etag").and_then(|e| e.as_str().map(String::from));
                        if let Some(Value::Num(n)) = v.get("ahead") {
                            f.ahead_ms = *n;
                        }
                        if let Some(Value::Arr(live)) = v.get("live") {
                            for pair in live.chunks_exact(2) {
                                if let [Value::Num(seq), Value::Num(at)] = pair {
                                    f.live.push((*seq as u64, *at));
                                }
                            }
                        }
                    }
                }
                self.fetch_feed(id);
                let heard = self.feed.as_mut().map(|f| ::core::mem::take(&mut f.heard)).unwrap_or_default();
                for (op, v) in heard {
                    self.dispatch(op, Some(v), false, now);
                }
            }
            (Tag::Feed, Io::Fetched(Err(e))) => {
                self.feed_failed(id, cat!("could not be fetched (", e, "); pages are served as before"), now);
            }
            (Tag::Feed, Io::Feed { status: 410, .. }) => {
                // Removed first: the navigations waiting for this check go to the network.
                self.remove();
                self.feed_done(id, now);
            }
            (Tag::Feed, Io::Feed { status: 304, .. }) => self.feed_unchanged(id, moved, now),
            (Tag::Feed, Io::Feed { status: 200, etag, body, .. }) => {
                let unchanged = etag.is_some() && self.feed.as_ref().is_some_and(|f| f.etag == etag);
                if unchanged {
                    return self.feed_unchanged(id, moved, now);
                }
                let planned = feed::parse_json(&body.unwrap_or_default()).and_then(|doc| {
                    let cursor = self.feed.as_ref().and_then(|f| f.cursor.clone());
                    let from = cursor.as_ref().filter(|c| c.epoch == doc.epoch).map_or(0, |c| c.seq);
                    let fresh = doc.entries.iter().filter(|e| e.seq > from).count() as u64;
                    // (An entry a page handed on from its live stream is applied already,
                    // unless its invalidation could not list a cache, or is still under
                    // way: then the check applies it, and the copy waits for the first. A
                    // worker started since knows it from the saved list.)
                    let live = self.feed.as_ref().map_or(&[][..], |f| &f.live[..]);
                    let applied = |i: &crate::policy::message::Invalidation| {
                        self.fences.applied(i) || live.iter().any(|l| Some(l.0) == i.seq && l.1 == i.asked_ms)
                    };
                    self.with_context(now, |ctx| feed::plan(&doc, cursor.as_ref(), &applied, ctx))
                        .map(|(invs, next)| (invs, next, fresh))
                });
                match planned {
                    Err(e) => self.feed_failed(id, cat!("is ignored: ", e), now),
                    Ok((invs, next, fresh)) => {
                        if let Some(f) = self.feed.as_mut() {
                            f.applied += fresh;
                        }
                        self.feed_epoch(&next.epoch, now);
                        let mut children = Vec::new();
                        for inv in invs {
                            let child = self.new_op(Kind::Idle);
                            if let Some(o) = self.op(child) {
                                o.answered = true;
                            }
                            self.invalidate(child, inv, now, false);
                            if let Some(i) = self.inv_op(child) {
                                i.parent = Some(id);
                            }
                            children.push(child);
                        }
                        // The fences are up: waiting navigations see the effect already.
                        self.release_parked(now);
                        let done = children.is_empty();
                        if let Some(Kind::Feed { applying, next: n, .. }) = self.op(id).map(|o| &mut o.kind) {
                            *applying = children.into_iter().filter(|c| !done && *c != 0).collect();
                            *n = Some((next, etag));
                        }
                        if done {
                            self.save_feed_state(id, Some(now));
                        } else {
                            // Children may have finished at once (nothing cached).
                            let live: Vec<OpId> = match self.op(id).map(|o| &o.kind) {
                                Some(Kind::Feed { applying, .. }) => applying.clone(),
                                _ => Vec::new(),
                            };
                            let all_gone = live.iter().all(|c| !self.is_running(*c));
                            if all_gone {
                                self.save_feed_state(id, Some(now));
                            }
                        }
                    }
                }
            }
            (Tag::Feed, Io::Feed { status, .. }) => {
                self.feed_failed(id, cat!("answered HTTP ", status, "; pages are served as before"), now);
            }
            (Tag::Save, Io::Put(_)) => self.feed_done(id, now),
            _ => {}
        }
    }

    /// The feed did not change since the last check: the check is over, once the clock
    /// learnt is saved if it `moved`.
    fn feed_unchanged(&mut self, id: OpId, moved: bool, now: f64) {
        if let Some(f) = self.feed.as_mut() {
            f.not_modified += 1;
        }
        if moved {
            self.save_feed(id);
        } else {
            self.feed_done(id, now);
        }
    }

    /// Learns how far this worker's clock runs ahead of the feed's from a feed response's
    /// `Date` and `Age`. `true`: it moved by more than [`feed::AHEAD_MIN_MS`] from what the
    /// worker knew (worth saving).
    fn feed_clock(&mut self, date: Option<f64>, age: Option<&str>, now: f64) -> bool {
        let (Some(f), Some(ahead)) = (self.feed.as_mut(), feed::ahead_of(now, date, age)) else { return false };
        let was = ::core::mem::replace(&mut f.ahead_ms, ahead);
        ahead > was + feed::AHEAD_MIN_MS || ahead < was - feed::AHEAD_MIN_MS
    }

    /// An invalidation the check applied has finished; `complete`: every cache it covers
    /// was listed. When the last one finishes, the cursor is saved, unless one was not
    /// complete: then the check failed, and the next one applies the same entries again.
    pub(super) fn feed_child_done(&mut self, parent: OpId, child: OpId, complete: bool) {
        let (left, incomplete) = match self.op(parent).map(|o| &mut o.kind) {
            Some(Kind::Feed { applying, next, .. }) => {
                applying.retain(|c| *c != child);
                if !complete {
                    *next = None;
                }
                (applying.len(), next.is_none())
            }
            _ => return,
        };
        if left > 0 {
            return;
        }
        if incomplete {
            let now = self.feed.as_ref().and_then(|f| f.last_check).unwrap_or_default();
            let text = "swcache: a cache could not be read: the next feed check applies these entries again";
            self.feed_failed(parent, String::from(text), now);
        } else {
            self.save_feed_state(parent, None);
        }
    }

    /// The check succeeded: the cursor is kept and saved. `now` is unknown (`None`) when
    /// the last invalidation it applied finishes: the check's start counts then.
    fn save_feed_state(&mut self, id: OpId, now: Option<f64>) {
        let next = match self.op(id).map(|o| &mut o.kind) {
            Some(Kind::Feed { next, .. }) => next.take(),
            _ => return,
        };
        let Some((cursor, etag)) = next else { return };
        let Some(f) = self.feed.as_mut() else { return };
        f.live.retain(|l| l.0 > cursor.seq);
        f.cursor = Some(cursor);
        f.etag = etag;
        f.last_success = now.or(f.last_check);
        f.error = None;
        self.save_feed(id);
    }

    /// Saves the cursor, the feed's `ETag`, how far the clock runs ahead of the feed's and
    /// the live entries applied above the cursor
    /// (`{"live":[seq, timestamp, …], "etag", "epoch", "seq", "ahead": ms}`).
    fn save_feed(&mut self, id: OpId) {
        let Some(f) = &self.feed else { return };
        let mut text = String::from("{\"live\":[");
        for (i, (seq, at)) in f.live.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            push_u64(&mut text, *seq);
            text.push(',');
            push_u64(&mut text, *at as u64);
        }
        text.push_str("],\"etag\":");
        match &f.etag {
            Some(e) => push_json_str(&mut text, e),
            None => text.push_str("null"),
        }
        if let Some(c) = &f.cursor {
            text.push_str(",\"epoch\":");
            push_json_str(&mut text, &c.epoch);
            text.push_str(",\"seq\":");
            push_u64(&mut text, c.seq);
        }
        text.push_str(",\"ahead\":");
        push_u64(&mut text, f.ahead_ms as u64);
        text.push('}');
        self.emit(Cmd::SaveState { op: id, tag: Tag::Save, key: crate::policy::config::STATE_KEY, text });
    }

    /// A feed entry a page handed on (`inv.seq`) was applied, every cache it covers
    /// listed and its deletions done: kept and saved with the cursor (once the saved state
    /// is read), under operation `id`, whose event waits for it.
    pub(super) fn feed_heard(&mut self, id: OpId, inv: &crate::policy::message::Invalidation) {
        let (Some(seq), Some(f)) = (inv.seq, self.feed.as_mut()) else { return };
        if f.live.len() >= LIVE_KEPT {
            return;
        }
        f.live.push((seq, inv.asked_ms));
        if f.loaded {
            self.bg(id, 1);
            self.save_feed(id);
        }
    }

    /// A failed check, `why` after the feed's path (which a site owner can then open).
    fn feed_failed(&mut self, id: OpId, why: String, now: f64) {
        let Some(f) = self.feed.as_mut() else { return self.end_feed_check(id, now, false) };
        let text = cat!("swcache feed: ", f.cfg.path, " ", why);
        f.errors += 1;
        f.error = Some(text.clone());
        self.emit(Cmd::Warn { text });
        self.end_feed_check(id, now, false);
    }

    fn feed_done(&mut self, id: OpId, now: f64) {
        self.end_feed_check(id, now, true);
    }

    fn end_feed_check(&mut self, id: OpId, now: f64, ok: bool) {
        if let Some(f) = self.feed.as_mut() {
            if ok {
                f.last_success = Some(now.max(f.last_success.unwrap_or(0.0)));
                f.error = None;
            }
            f.running = None;
        }
        self.release_parked(now);
        let owner = match self.op(id).map(|o| &o.kind) {
            Some(Kind::Feed { owner, .. }) => *owner,
            _ => None,
        };
        if let Some(o) = self.op(id) {
            o.answered = true;
            o.kind = Kind::Idle;
        }
        self.finish_if_idle(id);
        if let Some(o) = owner {
            self.bg(o, -1);
        }
        let again = self.feed.as_mut().is_some_and(|f| ::core::mem::take(&mut f.again));
        if again {
            self.feed_check(now, None);
        }
    }

    fn release_parked(&mut self, now: f64) {
        let parked = self.feed.as_mut().map(|f| ::core::mem::take(&mut f.parked)).unwrap_or_default();
        for id in parked {
            self.unpark(id, now);
        }
    }

    pub(super) fn unpark(&mut self, id: OpId, now: f64) {
        let Some(action) = self.fetch_op(id).and_then(|f| f.parked.take()) else { return };
        if let Some(f) = self.feed.as_mut() {
            f.parked.retain(|p| *p != id);
        }
        if self.removed {
            // The feed took swcache off the site: the browser answers, as every later request.
            self.emit(Cmd::Respond { op: id, answer: super::Answer::Browser });
            return self.answered(id, now);
        }
        self.run(id, action, now);
    }
}
