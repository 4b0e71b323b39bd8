//! The worker engine: one state machine without I/O (in the manner of quinn-proto's
//! `Connection`). The executor (the worker shim) feeds it browser events and the results
//! of the commands it asked for, each with the time; it answers with [`Cmd`]s: read or
//! write a cache, fetch, wait, respond, reply. Every decision is made here — which
//! route, fresh or stale, what to store, when to trim and what to evict, what an
//! invalidation removes and when it is in effect, what to prefetch — so all of it is
//! tested natively (`cargo test`), including a randomized model test.
//!
//! Work is organised in *operations* (a page's request, a message, install, activate, a
//! sweep), each with an id. Commands name the operation and a *tag* that the executor
//! sends back with the result, so the engine knows which step it answers. An operation
//! ends with [`Cmd::Done`]; until then the executor keeps the event alive (`waitUntil`).
//!
//! Per cache (a route's, or the built-in precache) the engine keeps one [`Slot`]: the
//! route, what eviction knows of its entries, its trim gate and its counters.
//!
//! This file holds the [`Engine`], its event entry points ([`Engine::fetch`],
//! [`Engine::message`], [`Engine::install`], [`Engine::activate`], and [`Engine::io`],
//! which hands each result to the operation's concern) and the bookkeeping of operations.
//! Each concern continues `impl Engine` in its own file:
//!
//! * `commands.rs`: the commands, results and facts exchanged with the executor;
//! * `requests.rs`: a page's request, from the strategy's flow to the answer;
//! * `writes.rs`: cache writes, quota relief and trims;
//! * `invalidation.rs`: fences, listing and deleting, `DONE` and `INVALIDATED`;
//! * `notices.rs`: the notices told to pages, kept and saved for `GET_NOTICES`;
//! * `prefetch.rs`: `PREFETCH`;
//! * `lifecycle.rs`: install, activate and the kill switch;
//! * `sweeps.rs`: expired entries of router caches;
//! * `feed_checks.rs`: following the invalidation feed, strict mode;
//! * `replies.rs`: `STATS`, `STATE` and `ERROR` replies.

mod commands;
mod feed_checks;
mod invalidation;
mod lifecycle;
mod notices;
mod prefetch;
mod replies;
mod requests;
mod sweeps;
mod writes;

pub use commands::{Answer, Cmd, Entry, Io, Json, OpId, PutResult, Req, Request, ResponseInfo, Tag};
pub use prefetch::PREFETCH_CONCURRENCY;
pub use replies::{error_json, failed_open_stats_json, STATE_ENTRIES};
pub use sweeps::SWEEP_INTERVAL_MS;

use feed_checks::FeedState;
use invalidation::InvalidateOp;
use prefetch::PrefetchOp;
use requests::FetchOp;
use writes::{StoreJob, NOT_A_JOB};

use crate::policy::config::{Config, ConfigError, Route};
use crate::policy::evict::{KnownKeys, TrimGate, Usage};
use crate::policy::feed;
use crate::policy::fence::Fences;
use crate::policy::message::{self, Context, Message};
use crate::policy::prelude::*;
use crate::policy::route::{self, CacheMode, RequestFacts, Selection};
use crate::policy::stats::Counters;
use crate::policy::strategy::Flow;
use crate::policy::text::push_json_str;
use crate::policy::url;
use crate::policy::value::Value;

/// One cache: a route's, or the built-in precache (the last slot).
#[derive(Debug)]
pub struct Slot {
    pub route: Route,
    usage: Usage,
    trim: TrimGate,
    /// Usage clock when the running trim listed the keys.
    trim_listed_at: u64,
    /// The cache's keys as this instance knows them (`maxEntries` routes), once listed.
    known: Option<KnownKeys>,
    /// How many entries the running trim is deleting.
    deleting: u32,
    /// Deletions other than trims' sent to this cache so far: a listing or a write that
    /// another deletion may have overtaken (their results come in any order) does not
    /// update the known keys.
    deletions: u32,
    /// [`Slot::deletions`] when the running trim listed the cache.
    listed_after: u32,
    pub counters: Counters,
}

#[derive(Debug)]
enum Kind {
    Fetch(Box<FetchOp>),
    Invalidate(Box<InvalidateOp>),
    Prefetch(Box<PrefetchOp>),
    /// Precache items still to store; `feed`: waiting for the feed's answer first.
    Install {
        pending: u32,
        feed: bool,
    },
    /// Steps still under way (cache deletions, precache key cleanup, preload setting).
    Activate {
        pending: u32,
    },
    /// Taking swcache off the site: cache deletions still under way.
    Remove {
        pending: u32,
    },
    /// (slot, entry) of router caches being checked for expiry.
    Sweep {
        lookups: Vec<(usize, Req)>,
        outstanding: u32,
    },
    /// GET_STATE: listings still awaited, entries still being read, what was read.
    State {
        lists: u32,
        lookups: Vec<(usize, Req, String)>,
        found: Vec<(usize, String, Entry)>,
        outstanding: u32,
    },
    /// A feed check: the invalidations it started, the cursor to save after them.
    /// `owner`: the event's operation that keeps the worker alive meanwhile.
    Feed {
        applying: Vec<OpId>,
        next: Option<(feed::Cursor, Option<String>)>,
        owner: Option<OpId>,
        /// The feed's request is under way (its timeout ends the check if it hangs).
        fetching: bool,
    },
    /// GET_NOTICES, waiting for the saved notices: the time the page asks from.
    Notices {
        since: f64,
    },
    /// Nothing but background work left (a reply was sent).
    Idle,
}

#[derive(Debug)]
struct Op {
    id: OpId,
    kind: Kind,
    /// The operation's own part is over (answered, replied).
    answered: bool,
    /// Background jobs still running (writes, trims, a late or revalidating fetch).
    bg: u32,
    stores: Vec<StoreJob>,
}

/// Runs the config's RegExp number `i` on a text (the browser's own engine): `test(i, text)`.
pub type RegExpTest = Box<dyn Fn(u32, &str) -> bool>;

/// Parses a URL with the browser's parser, relative to the worker: `resolve(s)`.
pub type UrlResolver = Box<dyn Fn(&str) -> Option<String>>;

/// The engine. `test` runs the config's RegExps, `resolve` parses URLs ([`RegExpTest`],
/// [`UrlResolver`]).
pub struct Engine {
    cfg: Config,
    origin: String,
    slots: Vec<Slot>,
    fences: Fences,
    ops: Vec<Op>,
    next_id: OpId,
    started_ms: f64,
    /// The newest `sw-cache-time` this instance wrote, if any.
    newest_stamp: Option<f64>,
    last_sweep: f64,
    /// Cache writes (operation, store job) and invalidations and state-cache steps
    /// (operation, [`NOT_A_JOB`]) under way.
    writes: Vec<(OpId, u32)>,
    feed: Option<FeedState>,
    /// The site took swcache off (its feed answered 410): every request goes to the
    /// browser while the worker unregisters.
    removed: bool,
    /// The last request said the device is offline (`navigator.onLine`): router caches
    /// are not swept meanwhile.
    offline: bool,
    /// The removal waiting for the cache writes under way to end before it deletes the
    /// caches (a write ending after the deletion would create its cache again).
    removal_waiting: Option<OpId>,
    /// [`Engine::wake_invalidations`] is running (1), and was asked again meanwhile (2):
    /// an invalidation that ends at once (the same news, applied already) wakes the next
    /// from the loop, not from a call nested in its own end (one per copy queued).
    waking: u8,
    /// A write given up on a full storage was reported (once per instance).
    quota_warned: bool,
    /// A `PREFETCH` of a URL no route stores was reported (once per instance).
    prefetch_warned: bool,
    /// The new copies lately told to pages (`UPDATED`), by path and validator.
    updated: Vec<(String, String)>,
    /// The reasons ([`store::Refusal`](crate::policy::store::Refusal), one bit each) a
    /// response was not stored that were said (each once per instance).
    unstored_warned: u8,
    /// The warnings said once per instance (a route that stores nothing, a full storage, a
    /// flipping feed epoch), for `GET_STATS`: the worker's console is one nobody opens.
    said: Vec<String>,
    /// What the previous activate kept of its build's content-hashed files, read by an
    /// activate under way (README, 'Precache and revisions').
    kept: Option<Vec<String>>,
    /// The notices told to pages lately, for those that were away (GET_NOTICES).
    notices: crate::policy::notices::Notices,
    /// Results the engine knows without asking (see [`Engine::emit`]), delivered by `io`.
    loopback: Vec<(OpId, Tag, Io)>,
    out: Vec<Cmd>,
    test: RegExpTest,
    resolve: UrlResolver,
}

/// An entry's stamp as an invalidation reads it: one later than the worker's now can only
/// come from a clock that moved back since, and counts as old (as no stamp does), so
/// an invalidation made after the step still removes the copy.
fn stamp_seen(e: &Entry, now: f64) -> Option<f64> {
    e.stamp_ms.filter(|s| *s <= now)
}

impl Engine {
    /// Validates the config (the site's object, read into a [`Value`]) and builds the
    /// engine. The error says where the config is wrong ([`ConfigError::message`] is the
    /// text a site owner sees).
    pub fn new(
        config: &Value,
        origin: &str,
        now_ms: f64,
        test: RegExpTest,
        resolve: UrlResolver,
    ) -> Result<Engine, ConfigError> {
        let cfg = crate::policy::config::parse(config, origin, &*resolve)?;
        let precache = Route::cache_first("precache", "", String::from(crate::policy::config::PRECACHE_CACHE));
        let slots = cfg
            .routes
            .iter()
            .cloned()
            .chain(Some(precache))
            .map(|route| Slot {
                usage: route.max_entries.map_or_else(Usage::default, Usage::new),
                route,
                trim: TrimGate::default(),
                trim_listed_at: 0,
                known: None,
                deleting: 0,
                deletions: 0,
                listed_after: 0,
                counters: Counters::default(),
            })
            .collect();
        let feed_cfg = cfg.feed.clone();
        Ok(Engine {
            cfg,
            origin: origin.into(),
            slots,
            fences: Fences::default(),
            ops: Vec::new(),
            next_id: 0,
            started_ms: now_ms,
            newest_stamp: None,
            last_sweep: f64::NEG_INFINITY,
            writes: Vec::new(),
            feed: feed_cfg.map(|c| FeedState {
                cfg: c,
                loaded: false,
                cursor: None,
                etag: None,
                last_check: None,
                last_success: None,
                running: None,
                again: false,
                deferred: None,
                epochs: feed::EpochWatch::default(),
                parked: Vec::new(),
                checks: 0,
                not_modified: 0,
                applied: 0,
                errors: 0,
                error: None,
                live: Vec::new(),
                ahead_ms: 0.0,
                heard: Vec::new(),
            }),
            removed: false,
            offline: false,
            removal_waiting: None,
            waking: 0,
            quota_warned: false,
            prefetch_warned: false,
            updated: Vec::new(),
            unstored_warned: 0,
            said: Vec::new(),
            kept: None,
            notices: Default::default(),
            loopback: Vec::new(),
            out: Vec::new(),
            test,
            resolve,
        })
    }

    /// The cache name of every slot, the precache last.
    pub fn cache_names(&self) -> Vec<&str> {
        self.slots.iter().map(|s| s.route.cache_name.as_str()).collect()
    }

    /// Commands produced since the last call.
    pub fn take(&mut self) -> Vec<Cmd> {
        ::core::mem::take(&mut self.out)
    }

    /// Whether an operation is still running.
    pub fn is_running(&self, op: OpId) -> bool {
        self.ops.iter().any(|o| o.id == op)
    }

    pub fn running(&self) -> usize {
        self.ops.len()
    }

    fn new_op(&mut self, kind: Kind) -> OpId {
        self.next_id = self.next_id.wrapping_add(1);
        let id = self.next_id;
        self.ops.push(Op { id, kind, answered: false, bg: 0, stores: Vec::new() });
        id
    }

    fn op(&mut self, id: OpId) -> Option<&mut Op> {
        self.ops.iter_mut().find(|o| o.id == id)
    }

    /// A warning for the worker's console, also kept (the first 10) for `GET_STATS`. Its
    /// callers say each once per instance (the feed's epoch warning again after 5 minutes).
    fn warn_kept(&mut self, text: String) {
        if self.said.len() < 10 {
            self.said.push(text.clone());
        }
        self.emit(Cmd::Warn { text });
    }

    fn emit(&mut self, c: Cmd) {
        // Off the site, work under way when the caches were deleted goes on to its end
        // without opening one (which would create it again): such a command's result is
        // known and is delivered before `io` returns.
        if self.removed {
            if let Some(result) = c.in_a_deleted_cache() {
                self.loopback.push(result);
                return;
            }
        }
        // A deletion other than a trim's: the keys this instance knew are no longer sure.
        match c {
            Cmd::Delete { tag: Tag::Trim(..), .. } => {}
            Cmd::Delete { slot, .. } => {
                if let Some(s) = self.slots.get_mut(slot as usize) {
                    s.known = None;
                    s.deletions += 1;
                }
            }
            Cmd::DeleteCache { .. } => self.slots.iter_mut().for_each(|s| {
                s.known = None;
                s.deletions += 1;
            }),
            Cmd::Keys { tag: Tag::Trim(slot, _), .. } => {
                if let Some(s) = self.slots.get_mut(slot as usize) {
                    s.listed_after = s.deletions;
                }
            }
            _ => {}
        }
        self.out.push(c);
    }

    fn select(&self, href: &str, get: bool, range: bool) -> Option<usize> {
        let facts = RequestFacts { is_get: get, href, has_range: range };
        let test = &self.test;
        Some(match route::select(&self.cfg, &self.origin, &facts, |i, t| test(i, t))? {
            Selection::Route(i) => i,
            Selection::Precache => self.slots.len() - 1,
        })
    }

    fn precache_slot(&self) -> usize {
        self.slots.len() - 1
    }

    /// A fetch event. `None`: the engine leaves the request to the browser (no
    /// `respondWith`). Otherwise the operation answering it.
    pub fn fetch(&mut self, req: &Request<'_>, now: f64) -> Option<OpId> {
        if self.removed {
            return None;
        }
        self.offline = req.offline;
        // A page's EventSource is left to the browser: the worker has nothing to keep of a
        // stream, and Chromium leaves the Last-Event-ID off a request that a worker
        // passes on, so a stream resumed through it would miss the events sent meanwhile.
        // (EventSource sends `Accept: text/event-stream`.)
        let stream = req.accept.is_some_and(|a| a.starts_with("text/event-stream"));
        let selected = if stream { None } else { self.select(req.href, req.get, false) };
        let here = url::same_origin_path(req.href, &self.origin);
        // Maybe a file of the previous build the precache kept (a page of that build
        // loading a chunk the new deploy deleted): a file the list does not precache, in
        // a folder where it has content-hashed files, is read in the precache, past a
        // route's cache miss, and where no route takes it, only there (then the browser
        // fetches it).
        let listed = here.and_then(|p| self.cfg.precached(p));
        let old = here.filter(|p| {
            !stream && req.get && !req.navigate && req.range.is_none() && listed.is_none() && self.cfg.kept_may_hold(p)
        });
        // With an offline page, navigations no route takes still go through the worker
        // (network only), so a failed one gets the page. With navigation preload on, too:
        // the browser has already sent the navigation's request (the preload), and a
        // worker that left it to the browser would make it send it again.
        let passed_through = selected.is_none()
            && req.get
            && req.navigate
            && (self.cfg.offline.page.is_some() || self.cfg.navigation_preload);
        let (slot, own_route) = match selected {
            Some(slot) => (slot, None),
            None if old.is_some() => (
                self.precache_slot(),
                Some(Route {
                    strategy: crate::policy::config::Strategy::CacheOnly,
                    ..self.slots[self.precache_slot()].route.clone()
                }),
            ),
            None if passed_through => (
                self.precache_slot(),
                Some(Route {
                    strategy: crate::policy::config::Strategy::NetworkOnly,
                    ..self.slots[self.precache_slot()].route.clone()
                }),
            ),
            None => {
                // Any request wakes a stopped worker: a chance to sweep router caches and
                // to check the feed.
                self.maybe_sweep(now);
                self.feed_kick(now, req.navigate, None);
                return None;
            }
        };
        let route = own_route.as_ref().unwrap_or(&self.slots[slot].route);
        // A ranged request: served from a complete cached copy on routes that read the
        // cache first, else left to the browser (a 206 is never stored); also when the
        // page asked past the cache (`reload`, `no-cache`, `no-store`: a resumable download
        // checking the server's copy).
        let mode = CacheMode::for_request(req.cache, req.navigate);
        if req.range.is_some()
            && (own_route.is_some()
                || route.opaque
                || !route.strategy.reads_cache_first()
                || mode != CacheMode::Default)
        {
            return None;
        }
        // (`url::key_of`: this origin's path, else the whole URL.)
        let path = here.unwrap_or(req.href);
        // Only this origin's requests can be precached files (a CDN's /robots.txt is not
        // the site's). A kept file is stored under its path.
        let key = listed.map(|e| e.key.clone()).or_else(|| old.map(String::from));
        let also_precache = slot != self.precache_slot() && key.is_some();
        let (mut flow, action) = Flow::start(route, mode);
        // Stored under its path: a content-hashed file (listed or kept).
        flow.hashed = key.is_some() && key.as_deref() == here;
        let f = FetchOp {
            slot,
            also_precache,
            flow,
            navigate: req.navigate,
            path: path.into(),
            same_origin: here.is_some(),
            started: now,
            awaiting: false,
            net: None,
            timed_out: false,
            store_late: false,
            refreshing: false,
            cached_tag: Tag::Match,
            served: None,
            tags: None,
            parked: None,
            key,
            image: req.image,
            no_cors: req.no_cors,
            conditional: req.conditional,
            authorized: req.authorized,
            range: req.range.map(String::from),
            fallback: None,
            pass_through: own_route.is_some(),
            ranged_reload: false,
        };
        let id = self.new_op(Kind::Fetch(Box::new(f)));
        if req.range.is_some() {
            let r = self.own_req(id);
            self.emit(Cmd::Match { op: id, tag: Tag::Range, slot: slot as u32, req: r });
            return Some(id);
        }
        if req.navigate && self.strict_wait(now) {
            // Strict mode: this navigation waits for the feed check, within the budget.
            let budget = self.feed.as_ref().and_then(|f| f.cfg.strict).map_or(0, |s| s.1);
            if let Some(f) = self.fetch_op(id) {
                f.parked = Some(action);
            }
            if let Some(f) = self.feed.as_mut() {
                f.parked.push(id);
            }
            self.emit(Cmd::Timer { op: id, tag: Tag::Strict, ms: budget });
            self.feed_check(now, Some(id));
            return Some(id);
        }
        self.feed_kick(now, req.navigate, Some(id));
        self.run(id, action, now);
        Some(id)
    }

    /// Whether a fence hides this entry (an invalidation is deleting it, or deleted it
    /// after this read was sent).
    fn hidden(&self, path: &str, slot: usize, e: &Entry, now: f64) -> bool {
        !self.fences.is_empty() && self.fences.hides(path, slot, e.tags.as_deref(), stamp_seen(e, now))
    }

    fn touch(&mut self, slot: usize, path: &str) {
        let s = &mut self.slots[slot];
        if s.route.max_entries.is_some() {
            s.usage.touch(path);
        }
    }

    fn bg(&mut self, id: OpId, delta: i32) {
        if let Some(op) = self.op(id) {
            op.bg = op.bg.saturating_add_signed(delta);
        }
        if delta < 0 {
            self.finish_if_idle(id);
        }
    }

    fn finish_if_idle(&mut self, id: OpId) {
        if let Some(i) = self.ops.iter().position(|o| o.id == id && o.answered && o.bg == 0) {
            self.ops.swap_remove(i);
            self.emit(Cmd::Done { op: id });
        }
    }

    /// A message from a page: `value` is `event.data` as the adapter read it (`None` if it
    /// could not be read); `save_data`: the worker's `navigator.connection.saveData`.
    #[inline(never)]
    pub fn message(&mut self, value: Option<Value>, save_data: bool, now: f64) -> OpId {
        let id = self.new_op(Kind::Idle);
        // A live entry a page hands on is moved by how far this clock runs ahead of the
        // feed's, saved with the feed state: a worker that has not read it yet (started
        // by this very message) reads it first, at a feed check.
        if let (Some(v), Some(f)) = (&value, self.feed.as_mut()) {
            if !f.loaded && matches!(v.get("feed"), Some(Value::Bool(true))) {
                f.heard.push((id, v.clone()));
                self.feed_check(now, None);
                return id;
            }
        }
        self.dispatch(id, value, save_data, now);
        self.maybe_sweep(now);
        self.feed_kick(now, false, Some(id));
        id
    }

    /// Runs `f` with the context messages and feed entries are read in: this origin, the
    /// route names, `now`, and how far the clock runs ahead of the feed's.
    pub(super) fn with_context<R>(&self, now: f64, f: impl FnOnce(&Context<'_>) -> R) -> R {
        let names: Vec<&str> = self.slots.iter().map(|s| s.route.name.as_str()).collect();
        let resolve = &self.resolve;
        let ahead_ms = self.feed.as_ref().map_or(0.0, |f| f.ahead_ms);
        f(&Context { origin: &self.origin, slot_names: &names, now_ms: now, ahead_ms, resolve: &|s| resolve(s) })
    }

    /// Carries out message `id` (see [`Engine::message`]).
    pub(super) fn dispatch(&mut self, id: OpId, value: Option<Value>, save_data: bool, now: f64) {
        let parsed = match &value {
            None => Err(String::from("swcache: malformed message: a message must be a plain object")),
            Some(v) => self.with_context(now, |ctx| message::parse(v, ctx)),
        };
        match parsed {
            Err(e) => self.reply_and_end(id, error_json(&e)),
            Ok(Message::GetStats) => {
                let json = self.stats_json();
                self.reply_and_end(id, json);
            }
            // swcache is off the site (or its caches are being deleted): every request goes
            // to the network, and a listing would create a deleted cache again.
            Ok(Message::Invalidate(_)) if self.removed => {
                self.reply_and_end(id, String::from("{\"type\":\"CACHE_INVALIDATION_DONE\",\"removed\":0}"));
            }
            Ok(Message::GetState) if self.removed => {
                let json = self.state_json(&[], now);
                self.reply_and_end(id, json);
            }
            Ok(Message::GetState) => {
                let n = self.slots.len() as u32;
                if let Some(o) = self.op(id) {
                    o.kind = Kind::State { lists: n, lookups: Vec::new(), found: Vec::new(), outstanding: 0 };
                }
                for slot in 0..n {
                    self.emit(Cmd::Keys { op: id, tag: Tag::List(slot), slot });
                }
            }
            Ok(Message::Invalidate(inv)) => self.invalidate(id, inv, now, false),
            Ok(Message::SkipWaiting) => self.emit(Cmd::SkipWaiting { op: id, tag: Tag::Finish }),
            Ok(Message::GetNotices { since }) => self.get_notices(id, since),
            Ok(Message::Prefetch { paths, save_data: asked }) => self.prefetch(id, paths, asked || save_data, now),
        }
    }

    fn reply_and_end(&mut self, id: OpId, json: String) {
        self.emit(Cmd::Reply { op: id, json });
        if let Some(op) = self.op(id) {
            op.answered = true;
            op.kind = Kind::Idle;
        }
        self.finish_if_idle(id);
    }

    /// Install: give router routes to the browser, ask the feed (if any: a `410 Gone`
    /// fails the install), list the precache, fetch past the HTTP cache every entry whose
    /// revision is not stored yet (any failure fails the install; the active version's
    /// entries are untouched), then `skipWaiting` unless `waitForClients`.
    #[inline(never)]
    pub fn install(&mut self) -> OpId {
        // Config warnings reach the console once per version, when it installs (not at
        // every start: that would repeat them, and compile their check on each cold start).
        let mut texts = crate::policy::config::shadowed_routes(&self.cfg.routes);
        crate::policy::config::router_precache_gaps(&self.cfg, &mut texts);
        for text in texts {
            self.emit(Cmd::Warn { text });
        }
        let n = self.cfg.precache.len() as u32;
        let id = self.new_op(Kind::Install { pending: n, feed: self.feed.is_some() });
        let mut rules = String::new();
        for s in &self.slots {
            if let Some(pathname) = s.route.router_pathname() {
                rules.push(if rules.is_empty() { '[' } else { ',' });
                rules.push_str("{\"pathname\":");
                push_json_str(&mut rules, &pathname);
                rules.push_str(",\"cacheName\":");
                push_json_str(&mut rules, &s.route.cache_name);
                rules.push('}');
            }
        }
        if !rules.is_empty() {
            rules.push(']');
            self.emit(Cmd::AddRoutes { op: id, json: rules });
        }
        if self.feed.is_some() {
            self.install_feed_check(id);
        } else {
            self.install_precache(id);
        }
        id
    }

    /// Activate: delete every `swcache-` cache this config does not own and every
    /// precache entry it does not list (but the previous build's content-hashed files,
    /// kept one version more), set navigation preload, then claim clients.
    #[inline(never)]
    pub fn activate(&mut self) -> OpId {
        let id = self.new_op(Kind::Activate { pending: 3 });
        self.emit(Cmd::CacheNames { op: id, tag: Tag::Names });
        // What the previous activate kept, then the precache's keys.
        self.emit(Cmd::LoadState { op: id, tag: Tag::State, key: crate::policy::config::KEPT_KEY });
        self.emit(Cmd::NavigationPreload { op: id, tag: Tag::Preload, on: self.cfg.navigation_preload });
        id
    }

    /// The result of a command. Results for operations that ended are ignored.
    pub fn io(&mut self, op: OpId, tag: Tag, io: Io, now: f64) {
        self.io_one(op, tag, io, now);
        while let Some((op, tag, io)) = self.loopback.pop() {
            self.io_one(op, tag, io, now);
        }
    }

    #[inline(never)]
    fn io_one(&mut self, op: OpId, tag: Tag, io: Io, now: f64) {
        let Some(kind) = self.op(op).map(|o| match o.kind {
            Kind::Fetch(_) => 0,
            Kind::Invalidate(_) => 1,
            Kind::Prefetch(_) => 2,
            Kind::Install { .. } => 3,
            Kind::Activate { .. } => 4,
            Kind::Sweep { .. } => 5,
            Kind::Feed { .. } => 7,
            Kind::State { .. } => 8,
            Kind::Remove { .. } => 9,
            Kind::Idle | Kind::Notices { .. } => 6,
        }) else {
            return;
        };
        // A read that failed is a miss to every operation but an invalidation (kind 1).
        let io = if matches!(io, Io::Unread) && kind != 1 { Io::Matched(None) } else { io };
        match tag {
            Tag::Store(job, step) => return self.store_io(op, job, step, io, now),
            Tag::Trim(slot, step) => return self.trim_io(op, slot, step, io),
            Tag::Notices => return self.notices_io(op, io, now),
            Tag::Gone => return self.bg(op, -1),
            _ => {}
        }
        match kind {
            0 => self.fetch_io(op, tag, io, now),
            1 => self.invalidate_io(op, tag, io, now),
            2 => self.prefetch_io(op, tag, io, now),
            3 => self.install_io(op, tag, io, now),
            4 => self.activate_io(op, tag, io, now),
            5 => self.sweep_io(op, tag, io, now),
            7 => self.feed_io(op, tag, io, now),
            8 => self.state_io(op, tag, io, now),
            9 => self.remove_io(op, tag, io),
            _ if tag == Tag::Finish => self.reply_and_end(op, String::from("{\"type\":\"SKIP_WAITING\"}")),
            // A live feed entry saved with the cursor (`feed_heard`).
            _ if tag == Tag::Save => self.bg(op, -1),
            _ => {}
        }
    }
}

/// A cache read of each `(slot, entry)`, tagged `Look(first + k)`: how invalidations,
/// sweeps and GET_STATE read the entries they listed.
fn match_lookups(id: OpId, first: u32, items: impl Iterator<Item = (usize, Req)>) -> Vec<Cmd> {
    items
        .enumerate()
        .map(|(k, (slot, req))| Cmd::Match { op: id, tag: Tag::Look(first + k as u32), slot: slot as u32, req })
        .collect()
}

// Native only: these tests read JSON with serde_json, which the wasm builds do not have.
#[cfg(all(test, any(not(target_arch = "wasm32"), target_os = "wasi")))]
mod tests;
