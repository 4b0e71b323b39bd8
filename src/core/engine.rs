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

use super::config::{Config, Route};
use super::evict::{self, TrimGate, Usage};
use super::feed;
use super::fence::{self, Fences};
use super::message::{self, Context, Invalidation, Message};
use super::prelude::*;
use super::route::{self, CacheMode, RequestFacts, Selection};
use super::stats::Counters;
use super::store::{self, ResponseFacts};
use super::strategy::{is_fresh, Action, Flow, Lookup, NetOutcome, Reply};
use super::text::push_json_str;
use super::url;
use super::value::Value;

pub type OpId = u32;

/// Most prefetches in flight at once.
pub const PREFETCH_CONCURRENCY: u32 = 4;
/// Router routes with a `maxAge` are swept of expired entries at most this often.
pub const SWEEP_INTERVAL_MS: f64 = 60_000.0;

/// Which request a command is about.
#[derive(Clone, Debug, PartialEq)]
pub enum Req {
    /// The fetch event's own request.
    Own,
    /// A same-origin path+search (prefetch, precache, invalidation by URL).
    Path(String),
    /// Entry `index` of the key listing that answered tag `list` of the same operation.
    Key { list: u32, index: u32 },
}

/// What a page's request is answered with.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// The response of the cache read answered at this tag.
    Cached(u32),
    /// The network response answered at this tag.
    Network(u32),
    /// An error response of the engine's own (plain text).
    Error { status: u16, reason: &'static str, text: &'static str },
    /// `206`: bytes `start..=end` of the `size`-byte body of the cached response read at
    /// tag `from`, with `Content-Range`.
    Range { from: u32, start: u64, end: u64, size: u64 },
    /// `416` with `Content-Range: bytes */size`.
    Unsatisfiable { size: u64 },
}

/// What the executor must do. `op`/`tag` come back with the result.
#[derive(Clone, Debug, PartialEq)]
pub enum Cmd {
    /// Read `req` from the slot's cache → [`Io::Matched`].
    Match {
        op: OpId,
        tag: u32,
        slot: u32,
        req: Req,
    },
    /// Fetch `req` (`reload`: past the HTTP cache) → [`Io::Fetched`].
    Fetch {
        op: OpId,
        tag: u32,
        req: Req,
        reload: bool,
    },
    /// The navigation's preload response (`event.preloadResponse`), or a fetch of the
    /// event's request if there is none → [`Io::Fetched`].
    Preload {
        op: OpId,
        tag: u32,
    },
    /// Turn navigation preload on or off for the registration → [`Io::Done`].
    NavigationPreload {
        op: OpId,
        tag: u32,
        on: bool,
    },
    /// The body size of the cached response read at `from` → [`Io::Size`].
    Size {
        op: OpId,
        tag: u32,
        from: u32,
    },
    /// `registration.unregister()` → [`Io::Done`].
    Unregister {
        op: OpId,
        tag: u32,
    },
    /// Wait → [`Io::Timer`].
    Timer {
        op: OpId,
        tag: u32,
        ms: u32,
    },
    /// Store a copy of the response fetched at tag `from` under `req`, with
    /// `sw-cache-time` set to `stamp` (none for opaque responses) → [`Io::Put`].
    Put {
        op: OpId,
        tag: u32,
        slot: u32,
        req: Req,
        from: u32,
        stamp: Option<f64>,
    },
    /// List the slot's cache keys → [`Io::Keys`].
    Keys {
        op: OpId,
        tag: u32,
        slot: u32,
    },
    /// Delete entries → [`Io::Deleted`] with how many were there.
    Delete {
        op: OpId,
        tag: u32,
        slot: u32,
        reqs: Vec<Req>,
    },
    /// Answer the page's request (`respondWith`).
    Respond {
        op: OpId,
        answer: Answer,
    },
    /// Post this JSON on the message's port.
    Reply {
        op: OpId,
        json: String,
    },
    /// List Cache Storage → [`Io::CacheNames`].
    CacheNames {
        op: OpId,
        tag: u32,
    },
    DeleteCache {
        op: OpId,
        tag: u32,
        name: String,
    },
    SkipWaiting {
        op: OpId,
        tag: u32,
    },
    Claim {
        op: OpId,
        tag: u32,
    },
    /// Give the browser's router these rules (Static Routing API, during install):
    /// a JSON array of `{pathname, cacheName}`.
    AddRoutes {
        op: OpId,
        json: String,
    },
    /// The operation failed (install: the install fails with this text).
    Fail {
        op: OpId,
        text: String,
    },
    /// Something a site owner should see in the console.
    Warn {
        text: String,
    },
    /// Read the engine's saved state → [`Io::Text`].
    LoadState {
        op: OpId,
        tag: u32,
    },
    /// Save the engine's state → [`Io::Put`].
    SaveState {
        op: OpId,
        tag: u32,
        text: String,
    },
    /// Fetch the invalidation feed past every cache, conditionally on `etag`, reading at
    /// most `cap` bytes → [`Io::Feed`] or a failed [`Io::Fetched`].
    FetchFeed {
        op: OpId,
        tag: u32,
        path: String,
        etag: Option<String>,
        cap: u32,
    },
    /// Post this JSON to every window client.
    Broadcast {
        json: String,
    },
    /// The operation is over; release its event.
    Done {
        op: OpId,
    },
}

/// A request as the fetch event shows it.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub get: bool,
    /// `Request.url`: absolute, normalised by the browser.
    pub href: &'a str,
    pub navigate: bool,
    /// `Request.cache`.
    pub cache: &'a str,
    /// The `Range` header.
    pub range: Option<&'a str>,
    /// `Request.destination` is `image`.
    pub image: bool,
}

/// A stored entry, as far as decisions go.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Entry {
    /// `sw-cache-time` in epoch ms, if present and readable.
    pub stamp_ms: Option<f64>,
    /// `Cache-Tag` header.
    pub tags: Option<String>,
    /// `ETag`, else `Last-Modified`, else `Content-Length`: tells two versions apart
    /// without reading bodies.
    pub validator: Option<String>,
    /// `Content-Length`, when the stored copy says.
    pub size: Option<u64>,
}

/// Most entries GET_STATE lists per cache.
pub const STATE_ENTRIES: usize = 500;

/// A network response, as far as decisions go.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResponseInfo {
    pub status: u16,
    pub opaque: bool,
    pub redirected: bool,
    pub cache_control: Option<String>,
    pub vary: Option<String>,
    pub tags: Option<String>,
    /// The `swcache-feed-seq` header: the feed's newest seq, announced by the origin.
    pub feed_seq: Option<String>,
    /// As [`Entry::validator`].
    pub validator: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutResult {
    Ok,
    /// `QuotaExceededError`.
    Quota,
    Failed,
}

/// The result of a command.
#[derive(Clone, Debug, PartialEq)]
pub enum Io {
    Matched(Option<Entry>),
    /// `Err`: the fetch rejected (offline, reset…), with the browser's text.
    Fetched(Result<ResponseInfo, String>),
    Timer,
    Put(PutResult),
    /// Absolute URLs of the cache's keys, in `Cache.keys()` order.
    Keys(Vec<String>),
    Deleted(u32),
    CacheNames(Vec<String>),
    /// SkipWaiting, Claim, DeleteCache finished.
    Done,
    /// The saved state, if any.
    Text(Option<String>),
    /// The feed answered: status, its `ETag`, and the body (200 only).
    Feed {
        status: u16,
        etag: Option<String>,
        text: Option<String>,
    },
    /// A body's size in bytes (`None`: it could not be read).
    Size(Option<u64>),
}

/// One cache: a route's, or the built-in precache (the last slot).
#[derive(Debug)]
pub struct Slot {
    pub route: Route,
    usage: Usage,
    trim: TrimGate,
    /// Usage clock when the running trim listed the keys.
    trim_listed_at: u64,
    pub counters: Counters,
}

// Tag spaces. Fetch steps are small numbers; the rest carry an index.
const T_MATCH: u32 = 1;
const T_PRECACHE: u32 = 2;
const T_NET: u32 = 3;
const T_TIMER: u32 = 4;
const T_REVALIDATE: u32 = 5;
const T_NAMES: u32 = 6;
const T_FINISH: u32 = 7;
const T_STRICT: u32 = 8;
const T_STATE: u32 = 9;
const T_FEED: u32 = 10;
const T_SAVE: u32 = 11;
const T_KEYS: u32 = 12;
const T_OFFLINE: u32 = 13;
const T_RANGE: u32 = 14;
const T_SIZE: u32 = 15;
const T_PRELOAD: u32 = 16;
const T_REMOVE: u32 = 17;
const T_NEWS: u32 = 18;
const SPACE: u32 = 1 << 24;
const STORE: u32 = SPACE; // | job << 3 | step
const TRIM: u32 = 2 * SPACE; // | slot << 1 | step
const LIST: u32 = 3 * SPACE; // | slot
const DELETE_LISTED: u32 = 4 * SPACE; // | slot
const LOOK: u32 = 5 * SPACE; // | lookup
const DELETE_ONE: u32 = 6 * SPACE; // | lookup
const ITEM: u32 = 7 * SPACE; // | item << 1 | step (prefetch, precache, cache deletions)
const INDEX: u32 = SPACE - 1;

/// A cache write and, after a quota error, its one retry.
#[derive(Debug)]
struct StoreJob {
    slot: usize,
    req: Req,
    path: String,
    navigate: bool,
    /// Check `storable` again on a refetch (everything but the precache).
    checked: bool,
    /// Prefetch or precache item this write is for.
    item: Option<u32>,
    /// When the refetch after a quota error started.
    refetched: f64,
}

#[derive(Debug)]
struct FetchOp {
    slot: usize,
    also_precache: bool,
    flow: Flow,
    navigate: bool,
    path: String,
    started: f64,
    /// The fetch is running and the flow is waiting for it.
    awaiting: bool,
    /// The fetch's result, once it came.
    net: Option<Result<ResponseInfo, String>>,
    timed_out: bool,
    /// Store the response when it arrives (answered from the cache after a timeout).
    store_late: bool,
    cached_tag: u32,
    /// The validator of the cached copy served (for `UPDATED` notices).
    served: Option<String>,
    /// Strict mode: the next step, held until the feed is checked (or the budget ends).
    parked: Option<Action>,
    /// The precache key of this URL, if it is precached.
    key: Option<String>,
    image: bool,
    /// The `Range` header of a ranged request served from the cache.
    range: Option<String>,
    /// The error to answer with if the offline fallback is not cached either.
    fallback: Option<(u16, &'static str, &'static str)>,
}

#[derive(Debug)]
struct InvalidateOp {
    inv: Rc<Invalidation>,
    /// Operations whose writes (or invalidations) must land first.
    waiting: Vec<OpId>,
    begun: bool,
    early: bool,
    lists: u32,
    /// (slot, entry, path) read one by one.
    lookups: Vec<(usize, Req, String)>,
    outstanding: u32,
    removed: u64,
    /// Paths removed (at most [`NOTICE_PATHS`]), for the `INVALIDATED` notice.
    paths: Vec<String>,
    /// The feed check that applies this invalidation.
    parent: Option<OpId>,
    /// Early deletions, held until DONE is sent (so the reply does not wait for the
    /// executor to start a thousand deletions).
    held: Vec<Cmd>,
}

/// Most removed paths one `INVALIDATED` notice lists.
const NOTICE_PATHS: usize = 200;

/// What the engine knows of the invalidation feed.
#[derive(Debug)]
struct FeedState {
    cfg: super::config::FeedConfig,
    loaded: bool,
    cursor: Option<feed::Cursor>,
    etag: Option<String>,
    last_check: Option<f64>,
    last_success: Option<f64>,
    running: Option<OpId>,
    again: bool,
    /// A check deferred to the end of the throttle: the operation whose response
    /// announced the news (it holds the timer) and the newest seq announced.
    deferred: Option<(OpId, u64)>,
    /// Epoch changes (several feeds taking turns are reported).
    epochs: feed::EpochWatch,
    /// Navigations waiting for the check (strict mode).
    parked: Vec<OpId>,
    checks: u64,
    not_modified: u64,
    applied: u64,
    errors: u64,
    error: Option<String>,
}

#[derive(Debug, Default)]
struct PrefetchOp {
    paths: Vec<String>,
    slots: Vec<usize>,
    started: Vec<f64>,
    next: usize,
    in_flight: u32,
    fetched: u64,
    skipped: u64,
    failed: u64,
}

#[derive(Debug)]
enum Kind {
    Fetch(Box<FetchOp>),
    Invalidate(Box<InvalidateOp>),
    Prefetch(Box<PrefetchOp>),
    /// Precache items still to store.
    Install {
        pending: u32,
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
    newest_stamp: f64,
    last_sweep: f64,
    /// Operations with a cache write or an invalidation under way.
    writes: Vec<OpId>,
    feed: Option<FeedState>,
    /// The site took swcache off (its feed answered 410): every request goes to the
    /// browser while the worker unregisters.
    removed: bool,
    out: Vec<Cmd>,
    test: RegExpTest,
    resolve: UrlResolver,
}

impl Engine {
    /// Validates the config (from the executor's JSON) and builds the engine. The error
    /// is the text a site owner sees.
    pub fn new(
        config: &Value,
        origin: &str,
        now_ms: f64,
        test: RegExpTest,
        resolve: UrlResolver,
    ) -> Result<Engine, String> {
        let cfg = super::config::parse(config, origin, &*resolve).map_err(|e| e.message())?;
        let precache = Route::cache_first("precache", "", String::from(super::config::PRECACHE_CACHE));
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
                counters: Counters::default(),
            })
            .collect();
        let feed_cfg = cfg.feed.clone();
        let warnings = super::config::shadowed_routes(&cfg.routes);
        Ok(Engine {
            cfg,
            origin: origin.into(),
            slots,
            fences: Fences::default(),
            ops: Vec::new(),
            next_id: 0,
            started_ms: now_ms,
            newest_stamp: 0.0,
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
            }),
            removed: false,
            // Config warnings reach the console with the first commands.
            out: warnings.into_iter().map(|text| Cmd::Warn { text }).collect(),
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

    fn emit(&mut self, c: Cmd) {
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

    // ----- page requests ---------------------------------------------------------------

    /// A fetch event. `None`: the engine leaves the request to the browser (no
    /// `respondWith`). Otherwise the operation answering it.
    pub fn fetch(&mut self, req: &Request<'_>, now: f64) -> Option<OpId> {
        if self.removed {
            return None;
        }
        let selected = self.select(req.href, req.get, false);
        // With an offline page, navigations no route takes still go through the worker
        // (network only), so a failed one gets the page.
        let offline_nav = selected.is_none() && req.get && req.navigate && self.cfg.offline.page.is_some();
        let (slot, own_route) = match selected {
            Some(slot) => (slot, None),
            None if offline_nav => (
                self.precache_slot(),
                Some(Route {
                    strategy: super::config::Strategy::NetworkOnly,
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
        // cache first, else left to the browser (a 206 is never stored).
        if req.range.is_some() && (own_route.is_some() || route.opaque || !route.strategy.reads_cache_first()) {
            return None;
        }
        let path = url::split(req.href).map_or("", |(_, p)| p);
        let key = self.cfg.precached(path).map(|e| e.key.clone());
        let also_precache = slot != self.precache_slot() && key.is_some();
        let mode = CacheMode::for_request(req.cache, req.navigate);
        let (flow, action) = Flow::start(route, mode);
        let f = FetchOp {
            slot,
            also_precache,
            flow,
            navigate: req.navigate,
            path: path.into(),
            started: now,
            awaiting: false,
            net: None,
            timed_out: false,
            store_late: false,
            cached_tag: 0,
            served: None,
            parked: None,
            key,
            image: req.image,
            range: req.range.map(String::from),
            fallback: None,
        };
        let id = self.new_op(Kind::Fetch(Box::new(f)));
        if req.range.is_some() {
            let r = self.own_req(id);
            self.emit(Cmd::Match { op: id, tag: T_RANGE, slot: slot as u32, req: r });
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
            self.emit(Cmd::Timer { op: id, tag: T_STRICT, ms: budget });
            self.feed_check(now, Some(id));
            return Some(id);
        }
        self.feed_kick(now, req.navigate, Some(id));
        self.run(id, action, now);
        Some(id)
    }

    /// How the operation's request is stored in its slot: the event's own request, or
    /// in the precache its revisioned key.
    fn own_req(&mut self, id: OpId) -> Req {
        let precache = self.precache_slot();
        match self.fetch_op(id) {
            Some(f) if f.slot == precache => f.key.clone().map_or(Req::Own, Req::Path),
            _ => Req::Own,
        }
    }

    /// The fetch of the event's request: the navigation preload response when it is on.
    fn fetch_own(&mut self, id: OpId, tag: u32, navigate: bool) {
        self.emit(if navigate && self.cfg.navigation_preload {
            Cmd::Preload { op: id, tag }
        } else {
            Cmd::Fetch { op: id, tag, req: Req::Own, reload: false }
        });
    }

    fn fetch_op(&mut self, id: OpId) -> Option<&mut FetchOp> {
        match &mut self.op(id)?.kind {
            Kind::Fetch(f) => Some(f),
            _ => None,
        }
    }

    fn run(&mut self, id: OpId, action: Action, now: f64) {
        let Some(f) = self.fetch_op(id) else { return };
        match action {
            Action::ReadCache => {
                let slot = f.slot as u32;
                let req = self.own_req(id);
                self.emit(Cmd::Match { op: id, tag: T_MATCH, slot, req });
            }
            Action::Fetch { timeout_ms } => {
                f.started = now;
                f.awaiting = true;
                let navigate = f.navigate;
                self.fetch_own(id, T_NET, navigate);
                if let Some(ms) = timeout_ms {
                    self.emit(Cmd::Timer { op: id, tag: T_TIMER, ms });
                }
            }
            Action::AwaitNetwork => match f.net.clone() {
                // The answer came while the cache was read.
                Some(r) => {
                    let outcome = outcome(&r);
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
        let net = f.net.clone();
        let timed_out = f.timed_out;
        let image = f.image;
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
                        self.slots[slot].counters.record(reply, network_error);
                        let precache = self.precache_slot() as u32;
                        self.emit(Cmd::Match { op: id, tag: T_OFFLINE, slot: precache, req });
                        return;
                    }
                }
            }
        }
        let own = self.own_req(id);
        self.slots[slot].counters.record(reply, network_error);
        match reply {
            Reply::Cache { revalidate, .. } => {
                if revalidate && may_store {
                    if let Some(f) = self.fetch_op(id) {
                        f.started = now;
                    }
                    self.bg(id, 1);
                    self.fetch_own(id, T_REVALIDATE, navigate);
                } else if timed_out && may_store {
                    match net {
                        Some(Ok(info)) => {
                            self.store(id, slot, own, &path, T_NET, &info, started, navigate, None);
                        }
                        Some(Err(_)) => {}
                        None => {
                            if let Some(f) = self.fetch_op(id) {
                                f.store_late = true;
                            }
                            self.bg(id, 1);
                        }
                    }
                }
                self.emit(Cmd::Respond { op: id, answer: Answer::Cached(cached_tag) });
            }
            Reply::Network => {
                if let (true, Some(Ok(info))) = (may_store, &net) {
                    // The copy is taken before the response goes to the page.
                    self.store(id, slot, own, &path, T_NET, info, started, navigate, None);
                }
                self.emit(Cmd::Respond { op: id, answer: Answer::Network(T_NET) });
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

    #[inline(never)]
    fn fetch_io(&mut self, id: OpId, tag: u32, io: Io, now: f64) {
        let Some(f) = self.fetch_op(id) else { return };
        match (tag, io) {
            (T_MATCH | T_PRECACHE, Io::Matched(found)) => {
                let read_slot = if tag == T_MATCH { f.slot } else { self.precache_slot() };
                let f = self.fetch_op(id).unwrap_or_else(|| unreachable!());
                let (path, also, key) = (f.path.clone(), f.also_precache, f.key.clone().unwrap_or_default());
                let found = found.filter(|e| !self.hidden(&path, read_slot, e));
                if found.is_none() && tag == T_MATCH && also {
                    let slot = self.precache_slot() as u32;
                    self.emit(Cmd::Match { op: id, tag: T_PRECACHE, slot, req: Req::Path(key) });
                    return;
                }
                if found.is_some() && tag == T_MATCH {
                    self.touch(read_slot, &path);
                }
                let Some(f) = self.fetch_op(id) else { return };
                let lookup = match &found {
                    None => Lookup::Miss,
                    Some(e) => {
                        f.cached_tag = tag;
                        f.served = e.validator.clone();
                        Lookup::Hit { stamp_ms: e.stamp_ms }
                    }
                };
                let next = f.flow.on_cache(lookup, now);
                self.run(id, next, now);
            }
            (T_NET, Io::Fetched(r)) if f.range.is_some() => {
                let answer = match r {
                    Ok(_) => Answer::Network(T_NET),
                    Err(_) => Answer::Error {
                        status: 503,
                        reason: "Service Unavailable",
                        text: "swcache: offline and not cached",
                    },
                };
                self.emit(Cmd::Respond { op: id, answer });
                self.answered(id, now);
            }
            (T_NET, Io::Fetched(r)) => {
                let (slot, path, started, navigate) = (f.slot, f.path.clone(), f.started, f.navigate);
                if let Ok(info) = &r {
                    self.feed_news(id, info.feed_seq.as_deref(), now);
                }
                let Some(f) = self.fetch_op(id) else { return };
                if f.store_late {
                    f.store_late = false;
                    let served = f.served.clone();
                    let own = self.own_req(id);
                    if let Ok(info) = &r {
                        if self.store(id, slot, own, &path, T_NET, info, started, navigate, None) {
                            self.notice_update(&path, served.as_deref(), info.validator.as_deref());
                        }
                    }
                    self.bg(id, -1);
                    return;
                }
                f.net = Some(r.clone());
                if f.awaiting {
                    f.awaiting = false;
                    let next = f.flow.on_network(outcome(&r));
                    self.run(id, next, now);
                }
            }
            (T_TIMER, Io::Timer) if f.awaiting && f.net.is_none() => {
                f.awaiting = false;
                f.timed_out = true;
                let next = f.flow.on_timeout();
                self.run(id, next, now);
            }
            (T_REVALIDATE, Io::Fetched(r)) => {
                let (slot, path, started, navigate) = (f.slot, f.path.clone(), f.started, f.navigate);
                let served = f.served.clone();
                let own = self.own_req(id);
                if let Ok(info) = &r {
                    self.feed_news(id, info.feed_seq.as_deref(), now);
                    if self.store(id, slot, own, &path, T_REVALIDATE, info, started, navigate, None) {
                        self.notice_update(&path, served.as_deref(), info.validator.as_deref());
                    }
                }
                self.bg(id, -1);
            }
            (T_STRICT, Io::Timer) => self.unpark(id, now),
            (T_NEWS, Io::Timer) => self.feed_news_due(id, now),
            (T_OFFLINE, Io::Matched(found)) => {
                let answer = match (found, f.fallback) {
                    (Some(_), _) => Answer::Cached(T_OFFLINE),
                    (None, Some((status, reason, text))) => Answer::Error { status, reason, text },
                    (None, None) => return,
                };
                self.emit(Cmd::Respond { op: id, answer });
                self.answered(id, now);
            }
            (T_RANGE | T_SIZE, io) => self.range_io(id, tag, io, now),
            _ => {}
        }
    }

    /// A ranged request: the cached copy's size, then the part it asks for. A miss (or
    /// an entry an invalidation hides) goes to the network, and is not stored.
    #[inline(never)]
    fn range_io(&mut self, id: OpId, tag: u32, io: Io, now: f64) {
        let Some(f) = self.fetch_op(id) else { return };
        let (slot, path, header) = (f.slot, f.path.clone(), f.range.clone().unwrap_or_default());
        let answer = match (tag, io) {
            (T_RANGE, Io::Matched(Some(e))) if !self.hidden(&path, slot, &e) => {
                self.touch(slot, &path);
                self.slots[slot].counters.record(Reply::Cache { fresh: true, revalidate: false }, false);
                return self.emit(Cmd::Size { op: id, tag: T_SIZE, from: T_RANGE });
            }
            (T_RANGE, Io::Matched(_)) => {
                self.slots[slot].counters.record(Reply::Network, false);
                return self.emit(Cmd::Fetch { op: id, tag: T_NET, req: Req::Own, reload: false });
            }
            (T_SIZE, Io::Size(Some(size))) => match super::range::resolve(&header, size) {
                super::range::Ranged::Part { start, end } => Answer::Range { from: T_RANGE, start, end, size },
                super::range::Ranged::Unsatisfiable => Answer::Unsatisfiable { size },
                super::range::Ranged::Whole => Answer::Cached(T_RANGE),
            },
            (T_SIZE, _) => Answer::Cached(T_RANGE),
            _ => return,
        };
        self.emit(Cmd::Respond { op: id, answer });
        self.answered(id, now);
    }

    fn answered(&mut self, id: OpId, now: f64) {
        if let Some(op) = self.op(id) {
            op.answered = true;
        }
        self.maybe_sweep(now);
        self.finish_if_idle(id);
    }

    /// Whether a fence hides this entry (an invalidation is still deleting it).
    fn hidden(&self, path: &str, slot: usize, e: &Entry) -> bool {
        self.fences.is_hiding() && self.fences.hides(path, slot, e.tags.as_deref(), e.stamp_ms)
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

    // ----- writes, quota relief, trims -----------------------------------------------------

    /// Stores the response fetched at `from` if the rules allow it and no fence covers
    /// it. `false`: not stored (and nothing started).
    #[allow(clippy::too_many_arguments, reason = "a cache write's facts, each passed on once")]
    fn store(
        &mut self,
        id: OpId,
        slot: usize,
        req: Req,
        path: &str,
        from: u32,
        info: &ResponseInfo,
        started: f64,
        navigate: bool,
        item: Option<u32>,
    ) -> bool {
        if !self.may_store(slot, path, info, started, navigate, true) {
            return false;
        }
        self.put(id, slot, req, path, from, info.opaque, started, navigate, true, item);
        true
    }

    fn may_store(
        &self,
        slot: usize,
        path: &str,
        info: &ResponseInfo,
        started: f64,
        navigate: bool,
        check: bool,
    ) -> bool {
        let facts = ResponseFacts {
            status: info.status,
            opaque: info.opaque,
            redirected: info.redirected,
            cache_control: info.cache_control.as_deref(),
            vary: info.vary.as_deref(),
        };
        if check && store::storable(&facts, self.slots[slot].route.opaque, navigate).is_err() {
            return false;
        }
        self.fences.is_empty() || !self.fences.blocks(path, slot, info.tags.as_deref(), started)
    }

    #[allow(clippy::too_many_arguments, reason = "a cache write's facts, each passed on once")]
    fn put(
        &mut self,
        id: OpId,
        slot: usize,
        req: Req,
        path: &str,
        from: u32,
        opaque: bool,
        started: f64,
        navigate: bool,
        checked: bool,
        item: Option<u32>,
    ) {
        let stamp = self.stamp(opaque, started);
        self.touch(slot, path);
        let Some(op) = self.op(id) else { return };
        let job = op.stores.len() as u32;
        op.stores.push(StoreJob { slot, req: req.clone(), path: path.into(), navigate, checked, item, refetched: 0.0 });
        op.bg += 1;
        self.writes.push(id);
        self.emit(Cmd::Put { op: id, tag: STORE | job << 3, slot: slot as u32, req, from, stamp });
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
        if started > self.newest_stamp {
            self.newest_stamp = started;
        }
        Some(started)
    }

    fn store_io(&mut self, id: OpId, tag: u32, io: Io, now: f64) {
        let job = (tag & INDEX) >> 3;
        let step = tag & 7;
        let Some(op) = self.op(id) else { return };
        let Some(j) = op.stores.get(job as usize) else { return };
        let (slot, req, path, navigate, checked, item, refetched) =
            (j.slot, j.req.clone(), j.path.clone(), j.navigate, j.checked, j.item, j.refetched);
        let base = STORE | job << 3;
        match (step, io) {
            (0, Io::Put(PutResult::Quota)) => {
                self.emit(Cmd::Keys { op: id, tag: base | 1, slot: slot as u32 });
            }
            (0 | 4, Io::Put(PutResult::Ok)) => self.stored(id, slot, item, true, now),
            (0 | 4, Io::Put(_)) => self.stored(id, slot, item, false, now),
            (1, Io::Keys(keys)) => {
                let n = evict::quota_relief(keys.len());
                let victims = self.plan(slot, &keys, n, self.slots[slot].usage.now());
                let reqs = victims.into_iter().map(|i| Req::Key { list: base | 1, index: i as u32 }).collect();
                self.emit(Cmd::Delete { op: id, tag: base | 2, slot: slot as u32, reqs });
            }
            (2, Io::Deleted(n)) => {
                self.slots[slot].counters.evictions += u64::from(n);
                // The failed write consumed the body: fetch once more and retry.
                if let Some(j) = self.op(id).and_then(|o| o.stores.get_mut(job as usize)) {
                    j.refetched = now;
                }
                // (A precache key names the revision: fetch the URL itself.)
                let fetch = match &req {
                    Req::Path(p) => Req::Path(super::precache::path_of_key(p).into()),
                    other => other.clone(),
                };
                self.emit(Cmd::Fetch { op: id, tag: base | 3, req: fetch, reload: false });
            }
            (3, Io::Fetched(Ok(info))) => {
                // The retry obeys the same rules as the first write (status, no-store,
                // Vary: *, fences).
                if (checked || info.status == 200) && self.may_store(slot, &path, &info, refetched, navigate, checked) {
                    let stamp = self.stamp(info.opaque, refetched);
                    self.emit(Cmd::Put { op: id, tag: base | 4, slot: slot as u32, req, from: base | 3, stamp });
                } else {
                    self.stored(id, slot, item, false, now);
                }
            }
            (3, Io::Fetched(Err(_))) => self.stored(id, slot, item, false, now),
            _ => {}
        }
    }

    /// A write finished (`ok`) or was given up.
    #[inline(never)]
    fn stored(&mut self, id: OpId, slot: usize, item: Option<u32>, ok: bool, now: f64) {
        if let Some(i) = self.writes.iter().position(|w| *w == id) {
            self.writes.remove(i);
        }
        if ok {
            self.trim(id, slot);
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
            (Some(i), Some(Kind::Install { pending })) => {
                *pending -= 1;
                if !ok {
                    let path = self.cfg.precache.get(i as usize).map(|e| e.path.clone()).unwrap_or_default();
                    self.fail_install(id, cat!("swcache precache: ", path, " could not be stored"));
                } else if *pending == 0 {
                    self.install_finished(id);
                }
            }
            _ => {}
        }
        self.wake_invalidations(now);
        self.bg(id, -1);
    }

    /// Of `keys` (absolute URLs in cache order), the indices of `n` to evict: least
    /// used first (see [`evict`]).
    fn plan(&mut self, slot: usize, keys: &[String], n: usize, listed_at: u64) -> Vec<usize> {
        let paths: Vec<&str> = keys.iter().map(|h| url::split(h).map_or(h.as_str(), |(_, p)| p)).collect();
        self.slots[slot].usage.plan(&paths, n, listed_at)
    }

    /// Enforces `maxEntries` after a write: one trim at a time per cache; writes that
    /// land meanwhile make it run once more.
    fn trim(&mut self, id: OpId, slot: usize) {
        let s = &mut self.slots[slot];
        if s.route.max_entries.is_none() || !s.trim.request() {
            return;
        }
        s.trim_listed_at = s.usage.now();
        self.bg(id, 1);
        self.emit(Cmd::Keys { op: id, tag: TRIM | (slot as u32) << 1, slot: slot as u32 });
    }

    #[inline(never)]
    fn trim_io(&mut self, id: OpId, tag: u32, io: Io) {
        let slot = ((tag & INDEX) >> 1) as usize;
        let Some(max) = self.slots.get(slot).and_then(|s| s.route.max_entries) else { return };
        match io {
            Io::Keys(keys) => {
                let n = evict::excess(keys.len(), max);
                if n == 0 {
                    return self.trim_pass_done(id, slot);
                }
                let listed_at = self.slots[slot].trim_listed_at;
                let victims = self.plan(slot, &keys, n, listed_at);
                let reqs = victims.into_iter().map(|i| Req::Key { list: tag, index: i as u32 }).collect();
                self.emit(Cmd::Delete { op: id, tag: tag | 1, slot: slot as u32, reqs });
            }
            Io::Deleted(n) => {
                self.slots[slot].counters.evictions += u64::from(n);
                self.trim_pass_done(id, slot);
            }
            _ => {}
        }
    }

    fn trim_pass_done(&mut self, id: OpId, slot: usize) {
        let s = &mut self.slots[slot];
        if s.trim.finished() {
            s.trim_listed_at = s.usage.now();
            self.emit(Cmd::Keys { op: id, tag: TRIM | (slot as u32) << 1, slot: slot as u32 });
        } else {
            self.bg(id, -1);
        }
    }

    // ----- messages ----------------------------------------------------------------------

    /// A message from a page: `json` is `event.data` as the executor's JSON (`None` if it
    /// could not be serialised); `save_data`: the worker's `navigator.connection.saveData`.
    #[inline(never)]
    pub fn message(&mut self, json: Option<&str>, save_data: bool, now: f64) -> OpId {
        let id = self.new_op(Kind::Idle);
        let value = json.and_then(super::text::read_json);
        let parsed = match &value {
            None => Err(String::from("swcache: malformed message: a message must be a plain object")),
            Some(v) => {
                let names: Vec<&str> = self.slots.iter().map(|s| s.route.name.as_str()).collect();
                let resolve = &self.resolve;
                let ctx = Context { origin: &self.origin, slot_names: &names, now_ms: now, resolve: &|s| resolve(s) };
                message::parse(v, &ctx)
            }
        };
        match parsed {
            Err(e) => self.reply_and_end(id, error_json(&e)),
            Ok(Message::GetStats) => {
                let json = self.stats_json();
                self.reply_and_end(id, json);
            }
            Ok(Message::GetState) => {
                let n = self.slots.len() as u32;
                if let Some(o) = self.op(id) {
                    o.kind = Kind::State { lists: n, lookups: Vec::new(), found: Vec::new(), outstanding: 0 };
                }
                for slot in 0..n {
                    self.emit(Cmd::Keys { op: id, tag: LIST | slot, slot });
                }
            }
            Ok(Message::Invalidate(inv)) => self.invalidate(id, inv, now),
            Ok(Message::SkipWaiting) => self.emit(Cmd::SkipWaiting { op: id, tag: T_FINISH }),
            Ok(Message::Prefetch { paths, save_data: asked }) => self.prefetch(id, paths, asked || save_data, now),
        }
        self.maybe_sweep(now);
        self.feed_kick(now, false, Some(id));
        id
    }

    fn reply_and_end(&mut self, id: OpId, json: String) {
        self.emit(Cmd::Reply { op: id, json });
        if let Some(op) = self.op(id) {
            op.answered = true;
            op.kind = Kind::Idle;
        }
        self.finish_if_idle(id);
    }

    /// `{type:'STATS', …}`: totals, per route (the precache included), engine state.
    #[inline(never)]
    pub fn stats_json(&self) -> String {
        let mut total = Counters::default();
        let mut routes = String::from("{");
        for (i, s) in self.slots.iter().enumerate() {
            total.add(&s.counters);
            if i > 0 {
                routes.push(',');
            }
            push_json_str(&mut routes, &s.route.name);
            routes.push(':');
            counters_json(&mut routes, &s.counters, "{");
            routes.push('}');
        }
        routes.push('}');
        let mut out = String::from("{\"type\":\"STATS\"");
        counters_json(&mut out, &total, ",");
        out.push_str(",\"routes\":");
        out.push_str(&routes);
        if let Some(f) = &self.feed {
            out.push_str(",\"feed\":{\"epoch\":");
            push_json_str(&mut out, f.cursor.as_ref().map_or("", |c| c.epoch.as_str()));
            let seq = f.cursor.as_ref().map_or(0, |c| c.seq);
            out.push_str(&cat!(",\"seq\":", seq, ",\"checks\":", f.checks, ",\"notModified\":", f.not_modified));
            out.push_str(&cat!(
                ",\"applied\":",
                f.applied,
                ",\"errors\":",
                f.errors,
                ",\"epochChanges\":",
                f.epochs.total
            ));
            out.push_str(",\"lastSuccess\":");
            match f.last_success {
                Some(t) => push_json_str(&mut out, &super::time::iso_string(t)),
                None => out.push_str("null"),
            }
            out.push_str(",\"error\":");
            match &f.error {
                Some(e) => push_json_str(&mut out, e),
                None => out.push_str("null"),
            }
            out.push('}');
        }
        out.push_str(",\"engine\":\"ok\"}");
        out
    }

    // ----- invalidation ------------------------------------------------------------------

    fn invalidate(&mut self, id: OpId, inv: Invalidation, now: f64) {
        let inv = Rc::new(inv);
        // The fence goes up before anything else: reads stop seeing covered entries and
        // later writes check it.
        self.fences.raise(inv.clone(), now);
        // Writes (and earlier invalidations) under way land first.
        let mut waiting = self.writes.clone();
        waiting.dedup();
        self.writes.push(id);
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
        };
        if let Some(o) = self.op(id) {
            o.kind = Kind::Invalidate(Box::new(op));
        }
        self.wake_invalidations(now);
    }

    fn wake_invalidations(&mut self, now: f64) {
        let ready: Vec<OpId> = self
            .ops
            .iter_mut()
            .filter_map(|o| match &mut o.kind {
                Kind::Invalidate(i) if !i.begun => Some((o.id, i)),
                _ => None,
            })
            .filter_map(|(id, i)| {
                let writes = &self.writes;
                i.waiting.retain(|w| writes.contains(w));
                i.waiting.is_empty().then(|| {
                    i.begun = true;
                    id
                })
            })
            .collect();
        for id in ready {
            self.begin_invalidation(id, now);
        }
    }

    fn inv_op(&mut self, id: OpId) -> Option<&mut InvalidateOp> {
        match &mut self.op(id)?.kind {
            Kind::Invalidate(i) => Some(i),
            _ => None,
        }
    }

    /// Lists the caches the selector may touch, or (exact URLs only) reads each URL in
    /// the one cache that can hold it.
    #[inline(never)]
    fn begin_invalidation(&mut self, id: OpId, _now: f64) {
        let (started, newest) = (self.started_ms, self.newest_stamp);
        let Some(i) = self.inv_op(id) else { return };
        let inv = i.inv.clone();
        let sel = &inv.selector;
        // When every entry is known to be older than the fence and no tag must be read,
        // the count comes from the keys and DONE is sent before the deletions (the fence
        // hides the entries until they are gone).
        let early = sel.tags.is_empty() && fence::all_stamped_before(inv.at_ms, started, newest);
        i.early = early;
        let n = self.slots.len();
        if early || !sel.urls_only() {
            if let Some(i) = self.inv_op(id) {
                i.lists = n as u32;
            }
            for slot in 0..n as u32 {
                self.emit(Cmd::Keys { op: id, tag: LIST | slot, slot });
            }
            return;
        }
        let mut lookups = Vec::new();
        for path in sel.urls.iter() {
            let href = cat!(self.origin, path);
            let routed = self.select(&href, true, false);
            if let Some(slot) = routed.filter(|s| *s != self.precache_slot()) {
                lookups.push((slot, Req::Path(path.clone()), path.clone()));
            }
            // A precached URL is stored under its revisioned key.
            if let Some(e) = self.cfg.precached(path) {
                lookups.push((self.precache_slot(), Req::Path(e.key.clone()), path.clone()));
            }
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
    fn invalidate_io(&mut self, id: OpId, tag: u32, io: Io) {
        let index = tag & INDEX;
        let Some(i) = self.inv_op(id) else { return };
        let inv = i.inv.clone();
        match (tag - index, io) {
            (LIST, Io::Keys(keys)) => {
                let slot = index as usize;
                i.lists -= 1;
                let hits: Vec<(u32, String)> = keys
                    .iter()
                    .enumerate()
                    .filter_map(|(k, h)| {
                        let path = super::precache::path_of_key(url::split(h)?.1);
                        inv.selector.may_match(path, slot).then(|| (k as u32, String::from(path)))
                    })
                    .collect();
                if i.early {
                    i.removed += hits.len() as u64;
                    let room = NOTICE_PATHS.saturating_sub(i.paths.len());
                    i.paths.extend(hits.iter().take(room).map(|(_, p)| p.clone()));
                    if !hits.is_empty() {
                        i.outstanding += 1;
                        let reqs = hits.iter().map(|(k, _)| Req::Key { list: tag, index: *k }).collect();
                        i.held.push(Cmd::Delete { op: id, tag: DELETE_LISTED | index, slot: index, reqs });
                    }
                    self.slots[slot].counters.invalidations += hits.len() as u64;
                    let Some(i) = self.inv_op(id) else { return };
                    if i.lists == 0 {
                        let removed = i.removed;
                        let held = ::core::mem::take(&mut i.held);
                        self.emit(Cmd::Reply { op: id, json: done_json(removed) });
                        self.out.extend(held);
                        if let Some(o) = self.op(id) {
                            o.answered = true;
                        }
                    }
                    self.invalidation_progress(id);
                } else {
                    let lookups = hits.into_iter().map(|(k, p)| (slot, Req::Key { list: tag, index: k }, p)).collect();
                    self.look_all(id, lookups);
                }
            }
            (LOOK, Io::Matched(found)) => {
                let Some((slot, req, path)) = i.lookups.get(index as usize).cloned() else { return };
                match found {
                    Some(e) if inv.removes(&path, slot, e.tags.as_deref(), e.stamp_ms) => {
                        self.emit(Cmd::Delete { op: id, tag: DELETE_ONE | index, slot: slot as u32, reqs: vec![req] });
                    }
                    _ => {
                        i.outstanding -= 1;
                        self.invalidation_progress(id);
                    }
                }
            }
            (DELETE_ONE, Io::Deleted(n)) => {
                let (slot, path) = i.lookups.get(index as usize).map_or((0, String::new()), |l| (l.0, l.2.clone()));
                i.removed += u64::from(n);
                if n > 0 && i.paths.len() < NOTICE_PATHS {
                    i.paths.push(path);
                }
                i.outstanding -= 1;
                self.slots[slot].counters.invalidations += u64::from(n);
                self.invalidation_progress(id);
            }
            (DELETE_LISTED, Io::Deleted(_)) => {
                i.outstanding -= 1;
                self.invalidation_progress(id);
            }
            _ => {}
        }
    }

    fn invalidation_progress(&mut self, id: OpId) {
        let Some(i) = self.inv_op(id) else { return };
        if i.lists > 0 || i.outstanding > 0 {
            return;
        }
        let (inv, removed, early, parent) = (i.inv.clone(), i.removed, i.early, i.parent);
        let paths = ::core::mem::take(&mut i.paths);
        if !early {
            self.emit(Cmd::Reply { op: id, json: done_json(removed) });
        }
        self.emit(Cmd::Broadcast { json: invalidated_json(&inv, &paths, parent.is_some()) });
        self.fences.settle(&inv);
        if let Some(k) = self.writes.iter().position(|w| *w == id) {
            self.writes.remove(k);
        }
        if let Some(o) = self.op(id) {
            o.answered = true;
            o.kind = Kind::Idle;
        }
        self.finish_if_idle(id);
        self.wake_invalidations(0.0);
        if let Some(p) = parent {
            self.feed_child_done(p, id);
        }
    }

    // ----- prefetch ----------------------------------------------------------------------

    fn prefetch(&mut self, id: OpId, paths: Vec<String>, save_data: bool, now: f64) {
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

    /// Starts items until [`PREFETCH_CONCURRENCY`] are in flight; replies when all ended.
    #[inline(never)]
    fn pump(&mut self, id: OpId, _now: f64) {
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
                None => p.skipped += 1,
                Some(slot) => {
                    p.slots[i] = slot;
                    p.in_flight += 1;
                    self.emit(Cmd::Match {
                        op: id,
                        tag: ITEM | (i as u32) << 1,
                        slot: slot as u32,
                        req: Req::Path(path),
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
    fn prefetch_io(&mut self, id: OpId, tag: u32, io: Io, now: f64) {
        let i = ((tag & INDEX) >> 1) as usize;
        let Some(p) = self.prefetch_op(id) else { return };
        let (Some(&slot), Some(path)) = (p.slots.get(i), p.paths.get(i).cloned()) else { return };
        match io {
            Io::Matched(found) => {
                let max_age = self.slots[slot].route.max_age_ms;
                let fresh =
                    found.filter(|e| !self.hidden(&path, slot, e)).is_some_and(|e| is_fresh(e.stamp_ms, now, max_age));
                let Some(p) = self.prefetch_op(id) else { return };
                if fresh {
                    p.skipped += 1;
                    p.in_flight -= 1;
                    return self.pump(id, now);
                }
                p.started[i] = now;
                self.emit(Cmd::Fetch { op: id, tag: tag | 1, req: Req::Path(path), reload: false });
            }
            Io::Fetched(r) => {
                let started = p.started[i];
                let stored = match &r {
                    Ok(info) => {
                        self.store(id, slot, Req::Path(path.clone()), &path, tag, info, started, false, Some(i as u32))
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

    // ----- install, activate -------------------------------------------------------------

    /// Install: give router routes to the browser, list the precache, fetch past the HTTP
    /// cache every entry whose revision is not stored yet (any failure fails the
    /// install; the active version's entries are untouched), then `skipWaiting` unless
    /// `waitForClients`.
    #[inline(never)]
    pub fn install(&mut self) -> OpId {
        let n = self.cfg.precache.len() as u32;
        let id = self.new_op(Kind::Install { pending: n });
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
        if n == 0 {
            self.install_finished(id);
        } else {
            let slot = self.precache_slot() as u32;
            self.emit(Cmd::Keys { op: id, tag: T_KEYS, slot });
        }
        id
    }

    #[inline(never)]
    fn install_io(&mut self, id: OpId, tag: u32, io: Io, now: f64) {
        let i = (tag & INDEX) >> 1;
        // The precache entry a fetch result (tag `ITEM | i << 1`) is for.
        let entry =
            |cfg: &Config| cfg.precache.get(i as usize).map(|e| (e.path.clone(), e.key.clone())).unwrap_or_default();
        match io {
            Io::Keys(keys) if tag == T_KEYS => {
                let stored: Vec<&str> = keys.iter().filter_map(|h| url::same_origin_path(h, &self.origin)).collect();
                let missing = super::precache::missing(&self.cfg.precache, &stored);
                if let Some(Kind::Install { pending }) = self.op(id).map(|o| &mut o.kind) {
                    *pending = missing.len() as u32;
                }
                if missing.is_empty() {
                    return self.install_finished(id);
                }
                for i in missing {
                    let path = self.cfg.precache[i].path.clone();
                    self.emit(Cmd::Fetch { op: id, tag: ITEM | (i as u32) << 1, req: Req::Path(path), reload: true });
                }
            }
            Io::Fetched(Err(e)) => {
                self.fail_install(id, cat!("swcache precache: ", entry(&self.cfg).0, " failed: ", e));
            }
            Io::Fetched(Ok(info)) if info.status != 200 => {
                self.fail_install(id, cat!("swcache precache: ", entry(&self.cfg).0, " answered HTTP ", info.status));
            }
            Io::Fetched(Ok(info)) => {
                let (path, key) = entry(&self.cfg);
                let slot = self.precache_slot();
                self.put(id, slot, Req::Path(key), &path, tag, info.opaque, now, false, false, Some(i));
            }
            Io::Done if tag == T_FINISH => {
                if let Some(o) = self.op(id) {
                    o.answered = true;
                }
                self.finish_if_idle(id);
            }
            _ => {}
        }
    }

    fn fail_install(&mut self, id: OpId, text: String) {
        if let Some(i) = self.ops.iter().position(|o| o.id == id) {
            self.ops.swap_remove(i);
            self.writes.retain(|w| *w != id);
            self.emit(Cmd::Fail { op: id, text });
        }
    }

    fn install_finished(&mut self, id: OpId) {
        if self.cfg.wait_for_clients {
            if let Some(o) = self.op(id) {
                o.answered = true;
            }
            self.finish_if_idle(id);
        } else {
            self.emit(Cmd::SkipWaiting { op: id, tag: T_FINISH });
        }
    }

    /// Activate: delete every `swcache-` cache this config does not own and every
    /// precache entry it does not list, set navigation preload, then claim clients.
    #[inline(never)]
    pub fn activate(&mut self) -> OpId {
        let id = self.new_op(Kind::Activate { pending: 3 });
        let slot = self.precache_slot() as u32;
        self.emit(Cmd::CacheNames { op: id, tag: T_NAMES });
        self.emit(Cmd::Keys { op: id, tag: T_KEYS, slot });
        self.emit(Cmd::NavigationPreload { op: id, tag: T_PRELOAD, on: self.cfg.navigation_preload });
        id
    }

    #[inline(never)]
    fn activate_io(&mut self, id: OpId, tag: u32, io: Io, now: f64) {
        let mut more = 0;
        match (tag, io) {
            (T_NAMES, Io::CacheNames(mut names)) => {
                names.retain(|n| self.cfg.is_obsolete_cache(n));
                more += self.delete_caches(id, names.into_iter());
            }
            (T_KEYS, Io::Keys(keys)) => {
                let stored: Vec<&str> =
                    keys.iter().map(|h| url::same_origin_path(h, &self.origin).unwrap_or("")).collect();
                let stale = super::precache::obsolete(&self.cfg.precache, &stored);
                if !stale.is_empty() {
                    let reqs = stale.into_iter().map(|i| Req::Key { list: T_KEYS, index: i as u32 }).collect();
                    let slot = self.precache_slot() as u32;
                    self.emit(Cmd::Delete { op: id, tag: ITEM | 1, slot, reqs });
                    more += 1;
                }
            }
            (T_FINISH, Io::Done) => {
                if let Some(o) = self.op(id) {
                    o.answered = true;
                }
                return self.finish_if_idle(id);
            }
            (_, Io::Done | Io::Deleted(_)) => {}
            _ => return,
        }
        let left = match self.op(id).map(|o| &mut o.kind) {
            Some(Kind::Activate { pending }) => {
                *pending = *pending + more - 1;
                *pending
            }
            _ => return,
        };
        if left == 0 {
            self.activated(id, now);
        }
    }

    /// Claims the open pages, `waitForClients` or not: a worker activates only once no
    /// page uses the old version (or one asked it to take over), so claiming mixes no
    /// versions, and a first visit is controlled at once.
    fn activated(&mut self, id: OpId, now: f64) {
        self.emit(Cmd::Claim { op: id, tag: T_FINISH });
        self.maybe_sweep(now);
    }

    // ----- the kill switch -----------------------------------------------------------------

    /// The site takes swcache off (its feed answers `410 Gone`): from now on every
    /// request goes to the browser; every `swcache-` cache is deleted (no other cache is
    /// touched) and the worker unregisters, so the next navigation has no worker.
    #[inline(never)]
    fn remove(&mut self) {
        if self.removed {
            return;
        }
        self.removed = true;
        self.emit(Cmd::Warn { text: String::from("swcache: the feed answered 410 Gone: removing swcache from this site (its caches are deleted and the worker unregisters)") });
        let id = self.new_op(Kind::Remove { pending: 0 });
        self.emit(Cmd::CacheNames { op: id, tag: T_NAMES });
    }

    #[inline(never)]
    fn remove_io(&mut self, id: OpId, tag: u32, io: Io) {
        let left = match (tag, io) {
            (T_NAMES, Io::CacheNames(names)) => {
                let n = self.delete_caches(id, names.into_iter().filter(|n| n.starts_with(super::CACHE_PREFIX)));
                if let Some(Kind::Remove { pending }) = self.op(id).map(|o| &mut o.kind) {
                    *pending = n;
                }
                n
            }
            (T_REMOVE, Io::Done) => {
                if let Some(o) = self.op(id) {
                    o.answered = true;
                }
                return self.finish_if_idle(id);
            }
            (_, Io::Done) => match self.op(id).map(|o| &mut o.kind) {
                Some(Kind::Remove { pending }) => {
                    *pending -= 1;
                    *pending
                }
                _ => return,
            },
            _ => return,
        };
        if left == 0 {
            self.emit(Cmd::Unregister { op: id, tag: T_REMOVE });
        }
    }

    /// Deletes each named cache (tags `ITEM | i << 1`, each answered with [`Io::Done`]);
    /// returns how many.
    fn delete_caches(&mut self, id: OpId, names: impl Iterator<Item = String>) -> u32 {
        let mut n = 0;
        for name in names {
            self.emit(Cmd::DeleteCache { op: id, tag: ITEM | n << 1, name });
            n += 1;
        }
        n
    }

    // ----- router caches -----------------------------------------------------------------

    /// Router routes are served by the browser while the worker is stopped, whatever the
    /// entry's age: so their expired entries are deleted at every worker start (after
    /// its first answer) and at most once a minute while it runs.
    #[inline(never)]
    fn maybe_sweep(&mut self, now: f64) {
        if now - self.last_sweep < SWEEP_INTERVAL_MS {
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
            self.emit(Cmd::Keys { op: id, tag: LIST | slot, slot });
        }
    }

    #[inline(never)]
    fn sweep_io(&mut self, id: OpId, tag: u32, io: Io, now: f64) {
        let index = tag & INDEX;
        let lookup = match self.op(id).map(|o| &o.kind) {
            Some(Kind::Sweep { lookups, .. }) => lookups.get(index as usize).cloned(),
            _ => return,
        };
        // How many more results this operation waits for.
        let mut more: i64 = -1;
        match (tag - index, io) {
            (LIST, Io::Keys(keys)) => {
                let Some(Kind::Sweep { lookups, .. }) = self.op(id).map(|o| &mut o.kind) else { return };
                let first = lookups.len() as u32;
                lookups.extend((0..keys.len() as u32).map(|k| (index as usize, Req::Key { list: tag, index: k })));
                more += keys.len() as i64;
                let cmds = match_lookups(id, first, lookups[first as usize..].iter().cloned());
                self.out.extend(cmds);
            }
            (LOOK, Io::Matched(found)) => {
                let Some((slot, req)) = lookup else { return };
                let max_age = self.slots[slot].route.max_age_ms;
                if let Some(e) = found.filter(|e| !is_fresh(e.stamp_ms, now, max_age)) {
                    let _ = e;
                    self.emit(Cmd::Delete { op: id, tag: DELETE_ONE | index, slot: slot as u32, reqs: vec![req] });
                    more = 0;
                }
            }
            (DELETE_ONE, Io::Deleted(n)) => {
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

    // ----- GET_STATE: what is cached -----------------------------------------------------

    #[inline(never)]
    fn state_io(&mut self, id: OpId, tag: u32, io: Io, now: f64) {
        let index = tag & INDEX;
        let Some(Kind::State { lists, lookups, found, outstanding }) = self.op(id).map(|o| &mut o.kind) else { return };
        match (tag - index, io) {
            (LIST, Io::Keys(keys)) => {
                *lists -= 1;
                let first = lookups.len() as u32;
                let take = keys.len().min(STATE_ENTRIES);
                for (k, h) in keys.iter().take(take).enumerate() {
                    let path = super::precache::path_of_key(url::split(h).map_or(h.as_str(), |(_, p)| p));
                    lookups.push((index as usize, Req::Key { list: tag, index: k as u32 }, String::from(path)));
                }
                *outstanding += take as u32;
                let cmds = match_lookups(
                    id,
                    first,
                    lookups[first as usize..].iter().map(|(slot, req, _)| (*slot, req.clone())),
                );
                self.out.extend(cmds);
            }
            (LOOK, Io::Matched(e)) => {
                *outstanding -= 1;
                if let (Some(e), Some((slot, _, path))) = (e, lookups.get(index as usize)) {
                    found.push((*slot, path.clone(), e));
                }
            }
            _ => return,
        }
        let Some(Kind::State { lists: 0, outstanding: 0, .. }) = self.op(id).map(|o| &o.kind) else { return };
        let Some(Kind::State { found, .. }) = self.op(id).map(|o| ::core::mem::replace(&mut o.kind, Kind::Idle)) else {
            return;
        };
        let json = self.state_json(&found, now);
        self.reply_and_end(id, json);
    }

    /// `{type:'STATE', engine, version, routes:[{name, cache, strategy, maxAge, maxEntries,
    /// coldStart, entries:[{url, ageMs, fresh, size, tags}]}], fences:[…], feed}`.
    fn state_json(&self, found: &[(usize, String, Entry)], now: f64) -> String {
        let mut out = String::from("{\"type\":\"STATE\",\"engine\":\"ok\",\"version\":");
        push_json_str(&mut out, &self.cfg.version);
        out.push_str(",\"routes\":[");
        for (i, s) in self.slots.iter().enumerate() {
            let r = &s.route;
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"name\":");
            push_json_str(&mut out, &r.name);
            out.push_str(",\"cache\":");
            push_json_str(&mut out, &r.cache_name);
            let strategy = super::config::Strategy::ALL.iter().find(|(_, st)| *st == r.strategy).map_or("", |(n, _)| n);
            out.push_str(",\"strategy\":");
            push_json_str(&mut out, strategy);
            out.push_str(",\"maxAge\":");
            match r.max_age_ms {
                Some(m) => out.push_str(&super::text::number_text(m)),
                None => out.push_str("null"),
            }
            out.push_str(",\"maxEntries\":");
            match r.max_entries {
                Some(m) => super::text::push_u64(&mut out, u64::from(m)),
                None => out.push_str("null"),
            }
            out.push_str(if r.router { ",\"coldStart\":\"router\"" } else { ",\"coldStart\":\"worker\"" });
            out.push_str(",\"entries\":[");
            let mut first = true;
            for (_, path, e) in found.iter().filter(|(slot, _, _)| *slot == i) {
                if !first {
                    out.push(',');
                }
                first = false;
                out.push_str("{\"url\":");
                push_json_str(&mut out, path);
                out.push_str(",\"ageMs\":");
                match e.stamp_ms {
                    Some(t) => super::text::push_u64(&mut out, if now > t { (now - t) as u64 } else { 0 }),
                    None => out.push_str("null"),
                }
                out.push_str(if is_fresh(e.stamp_ms, now, r.max_age_ms) && !self.hidden(path, i, e) {
                    ",\"fresh\":true"
                } else {
                    ",\"fresh\":false"
                });
                out.push_str(",\"size\":");
                match e.size {
                    Some(n) => super::text::push_u64(&mut out, n),
                    None => out.push_str("null"),
                }
                out.push_str(",\"tags\":[");
                for (k, t) in
                    e.tags.as_deref().unwrap_or("").split(',').map(str::trim).filter(|t| !t.is_empty()).enumerate()
                {
                    if k > 0 {
                        out.push(',');
                    }
                    push_json_str(&mut out, t);
                }
                out.push_str("]}");
            }
            out.push_str("]}");
        }
        out.push_str("],\"fences\":");
        out.push_str(&self.fences.json());
        out.push_str(",\"stats\":");
        out.push_str(&self.stats_json());
        out.push('}');
        out
    }

    // ----- the invalidation feed ---------------------------------------------------------

    /// Strict mode: whether a navigation now must wait for a feed check.
    fn strict_wait(&self, now: f64) -> bool {
        self.feed
            .as_ref()
            .is_some_and(|f| f.cfg.strict.is_some_and(|(stale, _)| feed::must_wait(now, f.last_success, stale)))
    }

    /// Checks the feed if it never was checked, or on a navigation when the interval passed.
    fn feed_kick(&mut self, now: f64, navigate: bool, owner: Option<OpId>) {
        let Some(f) = &self.feed else { return };
        if f.last_check.is_none() || (navigate && feed::due(now, f.last_check, f.cfg.interval_ms)) {
            self.feed_check(now, owner);
        }
    }

    /// A response of operation `id` announced the feed's newest seq. News is checked at
    /// once (under `id`), after the check under way, or, within a second of the last
    /// check, when that second ends: one deferred check at a time, held by `id`.
    fn feed_news(&mut self, id: OpId, header: Option<&str>, now: f64) {
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
                    self.emit(Cmd::Timer { op: id, tag: T_NEWS, ms: super::text::ceil(wait) as u32 });
                }
            }
        }
    }

    /// The throttle of a deferred check ended: it runs if the announced seq is still
    /// news and no check is under way (one started since would have read it).
    fn feed_news_due(&mut self, id: OpId, now: f64) {
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
        let text = super::text::cold(|| {
            cat!(
                "swcache feed: the feed's epoch changed ",
                n,
                " times in ",
                feed::EPOCH_WINDOW_MIN,
                " minutes: are several servers each serving their own feed? use one store (Redis) for all of them"
            )
        });
        self.emit(Cmd::Warn { text });
    }

    #[inline(never)]
    fn feed_check(&mut self, now: f64, owner: Option<OpId>) {
        let Some(f) = &self.feed else { return };
        if f.running.is_some() {
            return;
        }
        let loaded = f.loaded;
        let id = self.new_op(Kind::Feed { applying: Vec::new(), next: None, owner });
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
            self.emit(Cmd::LoadState { op: id, tag: T_STATE });
        }
    }

    fn fetch_feed(&mut self, id: OpId) {
        let Some(f) = &self.feed else { return };
        let (path, etag) = (f.cfg.path.clone(), f.etag.clone());
        self.emit(Cmd::FetchFeed { op: id, tag: T_FEED, path, etag, cap: feed::MAX_BYTES as u32 });
    }

    #[inline(never)]
    fn feed_io(&mut self, id: OpId, tag: u32, io: Io, now: f64) {
        match (tag, io) {
            (T_STATE, Io::Text(text)) => {
                if let Some(f) = self.feed.as_mut() {
                    f.loaded = true;
                    if let Some(t) = text.as_deref() {
                        f.cursor = feed::read_cursor(t);
                        f.etag = super::text::read_json(t)
                            .and_then(|v| v.get("etag").and_then(|e| e.as_str().map(String::from)));
                    }
                }
                self.fetch_feed(id);
            }
            (T_FEED, Io::Fetched(Err(e))) => {
                self.feed_failed(id, cat!("swcache feed: the check failed (", e, "); pages are served as before"), now);
            }
            (T_FEED, Io::Feed { status: 410, .. }) => {
                self.feed_done(id, now);
                self.remove();
            }
            (T_FEED, Io::Feed { status: 304, .. }) => {
                if let Some(f) = self.feed.as_mut() {
                    f.not_modified += 1;
                }
                self.feed_done(id, now);
            }
            (T_FEED, Io::Feed { status: 200, etag, text }) => {
                let unchanged = etag.is_some() && self.feed.as_ref().is_some_and(|f| f.etag == etag);
                if unchanged {
                    if let Some(f) = self.feed.as_mut() {
                        f.not_modified += 1;
                    }
                    return self.feed_done(id, now);
                }
                let planned = feed::parse(text.as_deref().unwrap_or("")).and_then(|doc| {
                    let names: Vec<&str> = self.slots.iter().map(|s| s.route.name.as_str()).collect();
                    let resolve = &self.resolve;
                    let ctx =
                        Context { origin: &self.origin, slot_names: &names, now_ms: now, resolve: &|s| resolve(s) };
                    let cursor = self.feed.as_ref().and_then(|f| f.cursor.clone());
                    let from = cursor.as_ref().filter(|c| c.epoch == doc.epoch).map_or(0, |c| c.seq);
                    let fresh = doc.entries.iter().filter(|e| e.seq > from).count() as u64;
                    feed::plan(&doc, cursor.as_ref(), &ctx).map(|(invs, next)| (invs, next, fresh))
                });
                match planned {
                    Err(e) => self.feed_failed(id, cat!("swcache feed: ignored: ", e), now),
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
                            self.invalidate(child, inv, now);
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
                            self.save_feed_state(id, now);
                        } else {
                            // Children may have finished at once (nothing cached).
                            let live: Vec<OpId> = match self.op(id).map(|o| &o.kind) {
                                Some(Kind::Feed { applying, .. }) => applying.clone(),
                                _ => Vec::new(),
                            };
                            let all_gone = live.iter().all(|c| !self.is_running(*c));
                            if all_gone {
                                self.save_feed_state(id, now);
                            }
                        }
                    }
                }
            }
            (T_FEED, Io::Feed { status, .. }) => self.feed_failed(
                id,
                cat!("swcache feed: the feed answered HTTP ", status, "; pages are served as before"),
                now,
            ),
            (T_SAVE, Io::Put(_)) => self.feed_done(id, now),
            _ => {}
        }
    }

    fn feed_child_done(&mut self, parent: OpId, child: OpId) {
        let left = match self.op(parent).map(|o| &mut o.kind) {
            Some(Kind::Feed { applying, .. }) => {
                applying.retain(|c| *c != child);
                applying.len()
            }
            _ => return,
        };
        if left == 0 {
            self.save_feed_state(parent, 0.0);
        }
    }

    fn save_feed_state(&mut self, id: OpId, now: f64) {
        let next = match self.op(id).map(|o| &mut o.kind) {
            Some(Kind::Feed { next, .. }) => next.take(),
            _ => return,
        };
        let Some((cursor, etag)) = next else { return };
        let mut text = feed::write_cursor(&cursor);
        text.pop();
        text.push_str(",\"etag\":");
        match &etag {
            Some(e) => push_json_str(&mut text, e),
            None => text.push_str("null"),
        }
        text.push('}');
        if let Some(f) = self.feed.as_mut() {
            f.cursor = Some(cursor);
            f.etag = etag;
            f.last_success = Some(if now > 0.0 { now } else { f.last_check.unwrap_or(0.0) });
            f.error = None;
        }
        self.emit(Cmd::SaveState { op: id, tag: T_SAVE, text });
    }

    fn feed_failed(&mut self, id: OpId, text: String, now: f64) {
        if let Some(f) = self.feed.as_mut() {
            f.errors += 1;
            f.error = Some(text.clone());
        }
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

    fn unpark(&mut self, id: OpId, now: f64) {
        let Some(action) = self.fetch_op(id).and_then(|f| f.parked.take()) else { return };
        if let Some(f) = self.feed.as_mut() {
            f.parked.retain(|p| *p != id);
        }
        self.run(id, action, now);
    }

    /// A background refresh stored a copy that differs from the one a page was given.
    fn notice_update(&mut self, path: &str, served: Option<&str>, fresh: Option<&str>) {
        if served.is_some() && fresh.is_some() && served != fresh {
            let mut json = String::from("{\"type\":\"UPDATED\",\"url\":");
            push_json_str(&mut json, path);
            json.push('}');
            self.emit(Cmd::Broadcast { json });
        }
    }

    // ----- results -----------------------------------------------------------------------

    /// The result of a command. Results for operations that ended are ignored.
    pub fn io(&mut self, op: OpId, tag: u32, io: Io, now: f64) {
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
            Kind::Idle => 6,
        }) else {
            return;
        };
        let space = tag & !INDEX;
        if space == STORE {
            return self.store_io(op, tag, io, now);
        }
        if space == TRIM {
            return self.trim_io(op, tag, io);
        }
        match kind {
            0 => self.fetch_io(op, tag, io, now),
            1 => self.invalidate_io(op, tag, io),
            2 => self.prefetch_io(op, tag, io, now),
            3 => self.install_io(op, tag, io, now),
            4 => self.activate_io(op, tag, io, now),
            5 => self.sweep_io(op, tag, io, now),
            7 => self.feed_io(op, tag, io, now),
            8 => self.state_io(op, tag, io, now),
            9 => self.remove_io(op, tag, io),
            _ if tag == T_FINISH => self.reply_and_end(op, String::from("{\"type\":\"SKIP_WAITING\"}")),
            _ => {}
        }
    }
}

/// A cache read of each `(slot, entry)`, tagged `LOOK | first + k`: how invalidations,
/// sweeps and GET_STATE read the entries they listed.
fn match_lookups(id: OpId, first: u32, items: impl Iterator<Item = (usize, Req)>) -> Vec<Cmd> {
    items
        .enumerate()
        .map(|(k, (slot, req))| Cmd::Match { op: id, tag: LOOK | (first + k as u32), slot: slot as u32, req })
        .collect()
}

fn outcome(r: &Result<ResponseInfo, String>) -> NetOutcome {
    match r {
        Err(_) => NetOutcome::Failed,
        // A 5xx is treated as a failure where a cached copy can stand in.
        Ok(i) if i.status >= 500 => NetOutcome::ServerError,
        Ok(_) => NetOutcome::Ok,
    }
}

fn counters_json(out: &mut String, c: &Counters, open: &str) {
    let fields: [(&str, u64); 6] = [
        ("hits", c.hits),
        ("misses", c.misses),
        ("staleServed", c.stale_served),
        ("networkErrors", c.network_errors),
        ("evictions", c.evictions),
        ("invalidations", c.invalidations),
    ];
    for (k, (name, v)) in fields.iter().enumerate() {
        out.push_str(if k == 0 { open } else { "," });
        out.push('"');
        out.push_str(name);
        out.push_str("\":");
        super::text::push_u64(out, *v);
    }
}

/// `{type:'ERROR', error}`.
pub fn error_json(text: &str) -> String {
    let mut out = String::from("{\"type\":\"ERROR\",\"error\":");
    push_json_str(&mut out, text);
    out.push('}');
    out
}

/// `{type:'INVALIDATED', urls, prefixes, tags, routes, all, removed, source}`: told to
/// every open page, which decides whether its own URL or data is covered.
fn invalidated_json(inv: &Invalidation, removed: &[String], from_feed: bool) -> String {
    let list = super::text::push_json_list;
    let sel = &inv.selector;
    let mut out = String::from("{\"type\":\"INVALIDATED\"");
    list(&mut out, "urls", &mut sel.urls.iter().map(String::as_str));
    list(&mut out, "prefixes", &mut sel.prefixes.iter().map(String::as_str));
    list(&mut out, "tags", &mut sel.tags.iter().map(String::as_str));
    list(&mut out, "removed", &mut removed.iter().map(String::as_str));
    out.push_str(if sel.all { ",\"all\":true" } else { ",\"all\":false" });
    out.push_str(if from_feed { ",\"source\":\"feed\"}" } else { ",\"source\":\"message\"}" });
    out
}

fn done_json(removed: u64) -> String {
    cat!("{\"type\":\"CACHE_INVALIDATION_DONE\",\"removed\":", removed, "}")
}

/// The STATS reply of a worker whose engine failed (the shim sends it, adding `error`):
/// the same shape as [`Engine::stats_json`], every counter zero.
pub fn failed_open_stats_json() -> String {
    let mut out = String::from("{\"type\":\"STATS\"");
    counters_json(&mut out, &Counters::default(), ",");
    out.push_str(",\"routes\":{},\"engine\":\"failed-open\"}");
    out
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
