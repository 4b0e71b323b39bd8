//! Hydration scheduler: a sans-IO state machine for the page module's `hydrate(opts)`
//! (the reference site's `HybridPromoPage`).
//!
//! The adapter owns every browser API (one shared `IntersectionObserver`,
//! `requestIdleCallback`, `matchMedia`, one timer, `fetch`, the DOM). It registers
//! components with [`Hydrator::add`], feeds what happens with [`Hydrator::handle`],
//! performs each [`Command`] drained from [`Hydrator::next_command`], and keeps a single
//! timer armed for [`Hydrator::next_timeout`], calling [`Hydrator::on_timeout`] when it
//! fires. Time is always passed in as `now` (milliseconds, any monotonic origin).
//!
//! Life of a component: *waiting* for its [`Trigger`] → *hydrating* (inline data, or a
//! fetch slot, the fetch, bounded retries) → one [`Command::Render`] acknowledged by
//! [`Event::Rendered`] → [`Notice::Hydrated`] (or [`Notice::HydrationError`]) → optional
//! polling refreshes (fetch with `cache: 'reload'` + render, no further notice).
//!
//! Decisions the adapter relies on:
//! * Every [`Command::Fetch`] must be answered by exactly one [`Event::FetchDone`], even
//!   after the component was removed: the slot stays counted until then, so at most
//!   `max_concurrent` fetches are really in flight. A fetch without an answer within
//!   `fetch_timeout_ms` gets a [`Command::Abort`], after which its answer is a failure;
//!   a removed component's is the adapter's to abort (it drops what it held for it).
//! * Every [`Command::Render`] must be answered by [`Event::Rendered`] or
//!   [`Event::RenderFailed`]; `Hydrated.ms` runs from the trigger to that answer.
//! * Render failures are not retried: before hydration they end the component with
//!   `HydrationError`; for a refresh they are ignored (the old content stays).
//! * Each key gets one notice, `Hydrated` or `HydrationError`, but for one whose fetches
//!   gave up with stale inline data to show: `HydrationError`, then the inline render's
//!   `Hydrated` (or a second `HydrationError` if it fails).
//! * Refreshes (polls, and the reload after stale data) emit no notice, are never
//!   issued while the document is hidden, and on failure just wait for the next poll.
//! * Keys are never reused: `add` refuses a key that is registered or was removed. An
//!   element removed and put back later (a framework moving it) comes back under a new
//!   key through [`Hydrator::put_back`], and carries on as it was if it had hydrated.
//! * Freshness is the worker's rule ([`is_fresh`]): fresh iff `age < maxAge` (so
//!   `age == maxAge` is stale) and the stamp is not more than 60 s in the future. A fetch
//!   answer without `sw-cache-time` (`age_ms: None`) counts as fresh.

use super::prelude::*;
use super::strategy::is_fresh;

pub mod coverage;
pub mod options;

/// Components by key: a vector kept in key order (keys are handed out in increasing
/// order, so inserts mostly append). Hash maps are not in `alloc`, and this is smaller.
#[derive(Debug)]
struct KeyMap<V>(Vec<(ComponentKey, V)>);

impl<V> KeyMap<V> {
    fn new() -> Self {
        KeyMap(Vec::new())
    }
    fn find(&self, k: ComponentKey) -> Result<usize, usize> {
        self.0.binary_search_by(|(x, _)| x.cmp(&k))
    }
    fn contains_key(&self, k: &ComponentKey) -> bool {
        self.find(*k).is_ok()
    }
    fn get(&self, k: &ComponentKey) -> Option<&V> {
        self.find(*k).ok().map(|i| &self.0[i].1)
    }
    fn get_mut(&mut self, k: &ComponentKey) -> Option<&mut V> {
        self.find(*k).ok().map(move |i| &mut self.0[i].1)
    }
    fn insert(&mut self, k: ComponentKey, v: V) {
        match self.find(k) {
            Ok(i) => self.0[i].1 = v,
            Err(i) => self.0.insert(i, (k, v)),
        }
    }
    fn remove(&mut self, k: &ComponentKey) -> Option<V> {
        self.find(*k).ok().map(|i| self.0.remove(i).1)
    }
    fn values(&self) -> impl Iterator<Item = &V> {
        self.0.iter().map(|(_, v)| v)
    }
    fn iter(&self) -> impl Iterator<Item = (&ComponentKey, &V)> {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

/// What a removed component had come to, should its element come back
/// ([`Hydrator::put_back`]).
#[derive(Clone, Copy, Debug)]
enum Gone {
    /// Not hydrated yet: hydrated as new.
    Unfinished,
    /// Gave up (its error sent).
    Failed,
    /// Hydrated; when its next poll is due (at once if a refresh was under way).
    Hydrated(Option<f64>),
}

/// A set of keys (sorted).
#[derive(Debug, Default)]
struct KeySet(Vec<ComponentKey>);

impl KeySet {
    fn new() -> Self {
        KeySet(Vec::new())
    }
    fn contains(&self, k: &ComponentKey) -> bool {
        self.0.binary_search(k).is_ok()
    }
    fn insert(&mut self, k: ComponentKey) -> bool {
        match self.0.binary_search(&k) {
            Ok(_) => false,
            Err(i) => {
                self.0.insert(i, k);
                true
            }
        }
    }
    fn remove(&mut self, k: &ComponentKey) -> bool {
        match self.0.binary_search(k) {
            Ok(i) => {
                self.0.remove(i);
                true
            }
            Err(_) => false,
        }
    }
}

/// Handle the adapter assigns to one component element (never reused).
pub type ComponentKey = u32;

const MINUTE_MS: f64 = 60_000.0;

/// What starts a component's hydration.
#[derive(Clone, Debug, PartialEq)]
pub enum Trigger {
    /// Within [`Options::root_margin`] of the viewport (the shared `IntersectionObserver`).
    Visible,
    /// The next `requestIdleCallback`.
    Idle,
    /// Pointer, focus or touch on the element.
    Interaction,
    /// The media query matches (checked at once, then on change).
    Media(String),
    /// Immediately when added.
    Eager,
}

impl Trigger {
    /// Parses a data-attribute value: `visible`, `idle`, `interaction`, `eager`
    /// (case-insensitive) or `media:<query>`. Anything else → `None` (use the default).
    pub fn parse(s: &str) -> Option<Trigger> {
        let s = s.trim();
        if let Some(prefix) = s.get(..6) {
            if prefix.eq_ignore_ascii_case("media:") {
                let query = s.get(6..).unwrap_or("").trim();
                return (!query.is_empty()).then(|| Trigger::Media(String::from(query)));
            }
        }
        match s.to_ascii_lowercase().as_str() {
            "visible" => Some(Trigger::Visible),
            "idle" => Some(Trigger::Idle),
            "interaction" => Some(Trigger::Interaction),
            "eager" => Some(Trigger::Eager),
            _ => None,
        }
    }
}

/// Per-type settings; every `None` falls back to the type's default.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TypeOptions {
    /// The `data-component-type` these settings apply to.
    pub name: String,
    /// Data at least this old is refetched bypassing the cache. NaN or negative → default.
    pub max_age_ms: Option<f64>,
    /// `None` → default ([`default_poll_ms`]); `Some(ms)` with finite `ms > 0` → poll
    /// every `ms`; `Some(0.0)` (or any other value) → never poll.
    pub poll_ms: Option<f64>,
    /// Trigger for this type, unless the element's own attribute overrides it.
    pub trigger: Option<Trigger>,
}

/// Scheduler settings: `hydrate(opts)`'s options, read and checked by [`options::parse`].
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// The adapter's `IntersectionObserver` `rootMargin`, a CSS margin (not used by the core).
    pub root_margin: String,
    /// The `pageSlug` the adapter puts in its events, when given (not used by the core).
    pub page_slug: Option<String>,
    /// The first `preload` components ever added (in add order) default to [`Trigger::Eager`].
    pub preload: usize,
    /// Most fetches in flight at once (0 is treated as 1).
    pub max_concurrent: usize,
    /// Retries after a failed hydration fetch (so `max_retries + 1` attempts).
    pub max_retries: u32,
    /// Backoff before retry *n* (1-based) is `retry_base_ms * 2^(n-1)`.
    pub retry_base_ms: f64,
    /// A fetch with no answer (headers and body) this long after it was issued is
    /// aborted ([`Command::Abort`]) and counts as failed: a hung request would hold its
    /// slot, and with `max_concurrent` of them every other component waited for good.
    /// `INFINITY`: never.
    pub fetch_timeout_ms: f64,
    /// Per-type overrides.
    pub types: Vec<TypeOptions>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            root_margin: String::from("50px"),
            page_slug: None,
            preload: 2,
            max_concurrent: 4,
            max_retries: 3,
            retry_base_ms: 1000.0,
            fetch_timeout_ms: FETCH_TIMEOUT_MS,
            types: Vec::new(),
        }
    }
}

/// The default [`Options::fetch_timeout_ms`].
pub const FETCH_TIMEOUT_MS: f64 = 10_000.0;

/// Default `maxAge` for a component type (the reference site, `getComponentMaxAge`).
pub fn default_max_age_ms(component_type: &str) -> f64 {
    match component_type {
        "MODEL_SHOWCASE" | "JOB_LISTINGS" => 5.0 * MINUTE_MS,
        "BLOG_PREVIEW" => 10.0 * MINUTE_MS,
        "STATS_COUNTER" => 30.0 * MINUTE_MS,
        _ => 15.0 * MINUTE_MS,
    }
}

/// Default poll interval: 30 s for the real-time types, none for the others.
pub fn default_poll_ms(component_type: &str) -> Option<f64> {
    match component_type {
        "MODEL_SHOWCASE" | "JOB_LISTINGS" | "STATS_COUNTER" => Some(30_000.0),
        _ => None,
    }
}

/// What the adapter read from one `[data-component-id]` element.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ComponentDesc {
    /// `data-component-id`.
    pub component_id: String,
    /// `data-component-type` (selects [`TypeOptions`] and defaults).
    pub component_type: String,
    /// `data-src`; carried for the adapter, the core never reads it.
    pub src: Option<String>,
    /// `fetchedAt` of the inline JSON, in the same time base as `now`.
    pub inline_fetched_at_ms: Option<f64>,
    /// Whether the element carries inline JSON data.
    pub has_inline_data: bool,
    /// Trigger from the element's data attribute (see [`Trigger::parse`]); wins over all.
    pub trigger: Option<Trigger>,
}

/// Which data a [`Command::Render`] should use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataSource {
    /// The element's inline JSON (fresh enough, no fetch was made).
    Inline,
    /// The body of the latest successful fetch for this key.
    Fetched,
}

/// Analytics notices, dispatched as DOM events by the adapter.
#[derive(Clone, Debug, PartialEq)]
pub enum Notice {
    /// `swcache:hydrated`; `ms` from trigger to the render acknowledgement.
    Hydrated { key: ComponentKey, ms: f64 },
    /// `swcache:hydration-error`; `attempts` = fetch attempts made (0: inline render failed).
    HydrationError { key: ComponentKey, ms: f64, attempts: u32 },
}

/// Inputs from the adapter.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// The element entered the observer's root margin.
    Visible(ComponentKey),
    /// The requested idle callback ran.
    Idle,
    /// Pointer/focus/touch on the element (may be reported for any component).
    Interaction(ComponentKey),
    /// The watched media query of this component matches.
    MediaMatched(ComponentKey),
    /// A fetch finished; `age_ms` from `sw-cache-time` (`None` if absent → fresh).
    FetchDone { key: ComponentKey, ok: bool, age_ms: Option<f64> },
    /// The render callback succeeded.
    Rendered(ComponentKey),
    /// The render callback threw.
    RenderFailed(ComponentKey),
    /// The element left the DOM (the adapter drops its own listeners; should it come
    /// back, it does so under a new key, [`Hydrator::put_back`]).
    Removed(ComponentKey),
    /// `visibilitychange` → hidden.
    DocumentHidden,
    /// `visibilitychange` → visible.
    DocumentVisible,
    /// The worker invalidated this component's data: a hydrated component refetches
    /// now, past the cache; one whose data is on its way (being fetched or rendered, a
    /// first hydration's too) refetches once it has rendered.
    Invalidated(ComponentKey),
}

/// Work for the adapter.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Observe the element with the shared `IntersectionObserver`.
    Observe(ComponentKey),
    /// Stop observing it.
    Unobserve(ComponentKey),
    /// Call `requestIdleCallback` once and report [`Event::Idle`].
    RequestIdle,
    /// `matchMedia(query)`: report [`Event::MediaMatched`] once, now or on change.
    WatchMedia { key: ComponentKey, query: String },
    /// Fetch the component's data; `reload` → `cache: 'reload'` (bypass the SW cache).
    Fetch { key: ComponentKey, reload: bool },
    /// Abort the component's fetch in flight: no answer within
    /// [`Options::fetch_timeout_ms`]. Its [`Event::FetchDone`] (a failure) still comes.
    Abort(ComponentKey),
    /// Call the render callback with the given data.
    Render { key: ComponentKey, source: DataSource },
    /// Dispatch an analytics event.
    Emit(Notice),
}

impl Command {
    /// The component this command is about, if any.
    pub fn key(&self) -> Option<ComponentKey> {
        match self {
            Command::Observe(k) | Command::Unobserve(k) | Command::Abort(k) => Some(*k),
            Command::WatchMedia { key, .. } | Command::Fetch { key, .. } | Command::Render { key, .. } => Some(*key),
            Command::Emit(Notice::Hydrated { key, .. }) | Command::Emit(Notice::HydrationError { key, .. }) => {
                Some(*key)
            }
            Command::RequestIdle => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Phase {
    /// Waiting for the trigger.
    Waiting,
    /// Wants a fetch slot (in `queue`).
    Queued { reload: bool },
    /// Fetch issued; aborted at `due` (`INFINITY`: no timeout, or aborted already).
    Fetching { reload: bool, due: f64 },
    /// Hydration fetch failed; back in the queue at `due`.
    Backoff { due: f64, reload: bool },
    /// Render issued; `refresh_after`: data was stale, refetch with reload once rendered.
    Rendering { refresh_after: bool },
    /// Hydrated; a poll may be due at `poll_due`.
    Settled { poll_due: Option<f64> },
    /// Gave up (error emitted).
    Failed,
}

#[derive(Debug)]
struct Component {
    desc: ComponentDesc,
    seq: usize,
    trigger: Trigger,
    max_age_ms: f64,
    poll_ms: Option<f64>,
    phase: Phase,
    observed: bool,
    triggered_at: f64,
    hydrated: bool,
    attempts: u32,
    /// The current fetch was issued for an invalidation notice (or will be: a queued
    /// reload): more notices meanwhile are the same news (the worker's and the live
    /// feed's), not a reason for another refetch.
    for_notice: bool,
    /// A notice came while a fetch issued before it (or its render) was under way: that
    /// data may predate the invalidation, so the component refetches once it is done.
    stale_again: bool,
}

impl Component {
    fn settle(&mut self, now: f64) {
        self.phase = Phase::Settled { poll_due: self.poll_ms.map(|p| now + p) };
    }
}

/// The scheduler. See the module docs for the protocol.
#[derive(Debug)]
pub struct Hydrator {
    opts: Options,
    comps: KeyMap<Component>,
    removed: KeySet,
    /// How the removed components that had got their notice ended, should their element
    /// come back ([`Hydrator::put_back`]). By key: a single-page app leaves one per hydrated
    /// component it unmounts, and a notice looks up every one it covers.
    gone: KeyMap<Gone>,
    /// Removed keys whose fetch is still out: the slot frees on their `FetchDone`.
    orphans: KeySet,
    /// Components waiting for a fetch slot, in order (a `Vec`: `VecDeque`'s code costs
    /// the scheduler's wasm more than the few moves a short queue makes).
    queue: Vec<ComponentKey>,
    in_flight: usize,
    added: usize,
    hidden: bool,
    idle_requested: bool,
    /// Commands decided and not yet taken: `out[taken..]`, in order (taken ones are left
    /// as `RequestIdle` until the rest is taken).
    out: Vec<Command>,
    taken: usize,
}

impl Hydrator {
    /// A scheduler with no components; the document is assumed visible.
    pub fn new(opts: Options) -> Self {
        Hydrator {
            opts,
            comps: KeyMap::new(),
            removed: KeySet::new(),
            gone: KeyMap::new(),
            orphans: KeySet::new(),
            queue: Vec::new(),
            in_flight: 0,
            added: 0,
            hidden: false,
            idle_requested: false,
            out: Vec::new(),
            taken: 0,
        }
    }

    /// Registers a component (initial scan or `MutationObserver`). Returns `false`, doing
    /// nothing, if `key` is registered or was removed. Trigger precedence: the element's
    /// attribute, then the type's option, then `Eager` for the first `preload` adds, else
    /// `Visible`.
    pub fn add(&mut self, key: ComponentKey, desc: ComponentDesc, now: f64) -> bool {
        self.add_as(key, desc, now, Gone::Unfinished)
    }

    /// Registers `key`, the element of the removed component `was` back in the document as
    /// it was (a framework moving it: removed in one task, inserted in a later one; or
    /// keeping it while another view shows). If it had hydrated it carries on: not rendered
    /// again, no second notice, its polls go on (one that came due while it was out goes at
    /// the next timeout); if it had failed it stays failed; else it is added as new.
    pub fn put_back(&mut self, was: ComponentKey, key: ComponentKey, desc: ComponentDesc, now: f64) -> bool {
        if self.comps.contains_key(&key) || self.removed.contains(&key) {
            return false;
        }
        // Its record goes: should it leave again, it is recorded under its new key.
        let gone = self.gone.remove(&was).unwrap_or(Gone::Unfinished);
        self.add_as(key, desc, now, gone)
    }

    fn add_as(&mut self, key: ComponentKey, desc: ComponentDesc, now: f64, gone: Gone) -> bool {
        if self.comps.contains_key(&key) || self.removed.contains(&key) {
            return false;
        }
        let seq = self.added;
        self.added += 1;
        let ty = self.opts.types.iter().find(|t| t.name == desc.component_type);
        let max_age_ms = ty
            .and_then(|t| t.max_age_ms)
            .filter(|v| *v >= 0.0)
            .unwrap_or_else(|| default_max_age_ms(&desc.component_type));
        let poll_ms = match ty.and_then(|t| t.poll_ms) {
            None => default_poll_ms(&desc.component_type),
            Some(v) if v.is_finite() && v > 0.0 => Some(v),
            Some(_) => None,
        };
        let default = if seq < self.opts.preload { Trigger::Eager } else { Trigger::Visible };
        let trigger = desc.trigger.clone().or_else(|| ty.and_then(|t| t.trigger.clone())).unwrap_or(default);
        let (phase, hydrated) = match gone {
            Gone::Unfinished => (Phase::Waiting, false),
            Gone::Failed => (Phase::Failed, false),
            Gone::Hydrated(poll_due) => (Phase::Settled { poll_due }, true),
        };
        let waiting = phase == Phase::Waiting;
        let observed = waiting && trigger == Trigger::Visible;
        match &trigger {
            _ if !waiting => {}
            Trigger::Visible => self.out.push(Command::Observe(key)),
            Trigger::Idle if !self.idle_requested => {
                self.idle_requested = true;
                self.out.push(Command::RequestIdle);
            }
            Trigger::Media(query) => self.out.push(Command::WatchMedia { key, query: query.clone() }),
            _ => {}
        }
        let eager = waiting && trigger == Trigger::Eager;
        let comp = Component {
            desc,
            seq,
            trigger,
            max_age_ms,
            poll_ms,
            phase,
            observed,
            triggered_at: now,
            hydrated,
            attempts: 0,
            for_notice: false,
            stale_again: false,
        };
        self.comps.insert(key, comp);
        if eager {
            self.start(key, now);
        }
        true
    }

    /// Feeds one event. Events for unknown, removed or finished keys, and triggers that
    /// are not the component's trigger, are ignored.
    pub fn handle(&mut self, event: Event, now: f64) {
        match event {
            Event::Visible(key) => self.trigger_if(key, now, |t| *t == Trigger::Visible),
            Event::Interaction(key) => self.trigger_if(key, now, |t| *t == Trigger::Interaction),
            Event::MediaMatched(key) => self.trigger_if(key, now, |t| matches!(t, Trigger::Media(_))),
            Event::Idle => {
                self.idle_requested = false;
                for key in self.waiting_in_order(|t| *t == Trigger::Idle) {
                    self.start(key, now);
                }
            }
            Event::FetchDone { key, ok, age_ms } => self.fetch_done(key, ok, age_ms, now),
            Event::Rendered(key) => self.rendered(key, true, now),
            Event::RenderFailed(key) => self.rendered(key, false, now),
            Event::Removed(key) => self.remove(key, now),
            Event::DocumentHidden => self.hidden = true,
            Event::Invalidated(key) => {
                let Some(c) = self.comps.get_mut(&key) else {
                    // Out of the document: a hydrated one refetches as soon as it is back.
                    if let Some(g @ Gone::Hydrated(_)) = self.gone.get_mut(&key) {
                        *g = Gone::Hydrated(Some(now));
                    }
                    return;
                };
                if c.for_notice {
                    return;
                }
                match c.phase {
                    // (Only a hydrated component is settled.)
                    Phase::Settled { .. } => {
                        c.phase = Phase::Queued { reload: true };
                        c.for_notice = true;
                        c.attempts = 0;
                        self.queue.push(key);
                        self.pump(now);
                    }
                    // A reload not issued yet goes out after the notice anyway.
                    Phase::Queued { .. } if c.hydrated => {
                        c.for_notice = true;
                        c.attempts = 0;
                    }
                    // The data on its way may predate the notice, a first hydration's too.
                    Phase::Fetching { .. } | Phase::Rendering { .. } => c.stale_again = true,
                    // Its fetch goes out after the notice.
                    Phase::Queued { .. } | Phase::Waiting | Phase::Backoff { .. } | Phase::Failed => {}
                }
            }
            Event::DocumentVisible => {
                self.hidden = false;
                // Polls that came due while hidden fire once, now.
                self.fire_due(now, false);
                self.pump(now);
            }
        }
    }

    /// Fires every deadline at or before `now` (retries; polls unless hidden; fetches
    /// that took too long are aborted).
    pub fn on_timeout(&mut self, now: f64) {
        for (key, c) in self.comps.0.iter_mut() {
            if let Phase::Fetching { due, reload } = c.phase {
                if due <= now {
                    c.phase = Phase::Fetching { reload, due: f64::INFINITY };
                    self.out.push(Command::Abort(*key));
                }
            }
        }
        self.fire_due(now, true);
        self.pump(now);
    }

    /// The earliest pending deadline (retry backoff, a poll while visible, a fetch's
    /// timeout); the adapter keeps one timer for it. `None` when nothing is scheduled.
    pub fn next_timeout(&self) -> Option<f64> {
        self.comps
            .values()
            .filter_map(|c| match c.phase {
                Phase::Backoff { due, .. } => Some(due),
                Phase::Settled { poll_due } if !self.hidden => poll_due,
                Phase::Fetching { due, .. } if due.is_finite() => Some(due),
                _ => None,
            })
            .min_by(f64::total_cmp)
    }

    /// The next command to perform, in the order they were decided.
    pub fn next_command(&mut self) -> Option<Command> {
        let cmd = self.out.get_mut(self.taken).map(|c| core::mem::replace(c, Command::RequestIdle))?;
        self.taken += 1;
        if self.taken == self.out.len() {
            self.out.clear();
            self.taken = 0;
        }
        Some(cmd)
    }

    /// Fetches issued and not yet answered (including removed components').
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Whether a live component has rendered at least once (what `invalidated()` names).
    pub fn is_hydrated(&self, key: ComponentKey) -> bool {
        self.comps.get(&key).is_some_and(|c| c.hydrated)
    }

    /// The description a live component was added with.
    pub fn component(&self, key: ComponentKey) -> Option<&ComponentDesc> {
        self.comps.get(&key).map(|c| &c.desc)
    }

    fn trigger_if(&mut self, key: ComponentKey, now: f64, pred: impl Fn(&Trigger) -> bool) {
        if self.comps.get(&key).is_some_and(|c| pred(&c.trigger)) {
            self.start(key, now);
        }
    }

    /// Waiting components whose trigger satisfies `pred`, in add order.
    fn waiting_in_order(&self, pred: impl Fn(&Trigger) -> bool) -> Vec<ComponentKey> {
        let mut keys: Vec<(usize, ComponentKey)> = self
            .comps
            .iter()
            .filter(|(_, c)| c.phase == Phase::Waiting && pred(&c.trigger))
            .map(|(k, c)| (c.seq, *k))
            .collect();
        insertion_sort(&mut keys, |a, b| a < b);
        keys.into_iter().map(|(_, k)| k).collect()
    }

    /// First trigger: use fresh inline data, or queue a fetch.
    fn start(&mut self, key: ComponentKey, now: f64) {
        let Some(c) = self.comps.get_mut(&key) else {
            return;
        };
        if c.phase != Phase::Waiting {
            return;
        }
        c.triggered_at = now;
        if c.observed {
            c.observed = false;
            self.out.push(Command::Unobserve(key));
        }
        if c.desc.has_inline_data {
            // Fresh inline data; or stale, with no `data-src` to refetch it from: it is all
            // there is.
            if c.desc.src.is_none() || is_fresh(c.desc.inline_fetched_at_ms, now, Some(c.max_age_ms)) {
                c.phase = Phase::Rendering { refresh_after: false };
                self.out.push(Command::Render { key, source: DataSource::Inline });
                return;
            }
            // Stale or undated inline data: the SW copy is likely as old, bypass it.
            c.phase = Phase::Queued { reload: true };
        } else {
            c.phase = Phase::Queued { reload: false };
        }
        self.queue.push(key);
        self.pump(now);
    }

    /// Issues queued fetches in FIFO order while slots are free; refreshes wait while hidden.
    fn pump(&mut self, now: f64) {
        let limit = self.opts.max_concurrent.max(1);
        let mut i = 0;
        while self.in_flight < limit && i < self.queue.len() {
            let key = self.queue[i];
            let Some(c) = self.comps.get_mut(&key) else {
                self.queue.remove(i);
                continue;
            };
            let Phase::Queued { reload } = c.phase else {
                self.queue.remove(i);
                continue;
            };
            if self.hidden && c.hydrated {
                i += 1;
                continue;
            }
            self.queue.remove(i);
            c.phase = Phase::Fetching { reload, due: now + self.opts.fetch_timeout_ms };
            c.attempts = c.attempts.saturating_add(1); // a first hydration's, or a notice's refetch's
            c.stale_again = false; // this fetch comes after any notice (a retry's too)
            self.in_flight += 1;
            self.out.push(Command::Fetch { key, reload });
        }
    }

    fn fetch_done(&mut self, key: ComponentKey, ok: bool, age_ms: Option<f64>, now: f64) {
        if self.orphans.remove(&key) {
            self.in_flight = self.in_flight.saturating_sub(1);
            self.pump(now);
            return;
        }
        let Some(c) = self.comps.get_mut(&key) else {
            return;
        };
        let Phase::Fetching { reload, .. } = c.phase else {
            return;
        };
        self.in_flight = self.in_flight.saturating_sub(1);
        if ok {
            // Only a cache-allowed fetch can come back stale; never loop on reloads.
            let stale = !reload && age_ms.is_some_and(|age| !is_fresh(Some(now - age), now, Some(c.max_age_ms)));
            c.phase = Phase::Rendering { refresh_after: stale };
            self.out.push(Command::Render { key, source: DataSource::Fetched });
        } else if c.hydrated && c.stale_again && !c.for_notice {
            // A failed poll or refresh with a notice behind it: once more, now.
            c.stale_again = false;
            c.for_notice = true;
            c.attempts = 0;
            c.phase = Phase::Queued { reload: true };
            self.queue.push(key);
        } else if c.hydrated && !(c.for_notice && c.attempts <= self.opts.max_retries) {
            // A failed refresh keeps the content: a poll's tries again at the next poll,
            // a notice's once its retries are spent at the next notice.
            c.for_notice = false;
            c.settle(now);
        } else if c.attempts <= self.opts.max_retries {
            // A first hydration's fetch, or a notice's refetch (what is shown is known to
            // be stale): retried after 2^(attempts-1) × the base, without `powi` (not in
            // `core`).
            let mut factor = 1.0f64;
            for _ in 1..c.attempts.min(1024) {
                factor *= 2.0;
            }
            let delay = self.opts.retry_base_ms.max(0.0) * factor;
            c.phase = Phase::Backoff { due: now + delay, reload };
        } else {
            let ms = (now - c.triggered_at).max(0.0);
            let attempts = c.attempts;
            self.out.push(Command::Emit(Notice::HydrationError { key, ms, attempts }));
            if c.desc.has_inline_data {
                // The fetch gave up, but the page came with (stale) data: shown rather
                // than nothing.
                c.phase = Phase::Rendering { refresh_after: false };
                self.out.push(Command::Render { key, source: DataSource::Inline });
            } else {
                c.phase = Phase::Failed;
            }
        }
        self.pump(now);
    }

    fn rendered(&mut self, key: ComponentKey, ok: bool, now: f64) {
        let Some(c) = self.comps.get_mut(&key) else {
            return;
        };
        let Phase::Rendering { refresh_after } = c.phase else {
            return;
        };
        let ms = (now - c.triggered_at).max(0.0);
        if !c.hydrated {
            if !ok {
                c.phase = Phase::Failed;
                let attempts = c.attempts;
                self.out.push(Command::Emit(Notice::HydrationError { key, ms, attempts }));
                return;
            }
            c.hydrated = true;
            self.out.push(Command::Emit(Notice::Hydrated { key, ms }));
        }
        // A notice during this fetch or render: the data shown may predate it.
        let again = ::core::mem::take(&mut c.stale_again);
        c.for_notice = again;
        if again {
            c.attempts = 0;
        }
        if (ok && refresh_after) || again {
            c.phase = Phase::Queued { reload: true };
            self.queue.push(key);
            self.pump(now);
        } else {
            c.settle(now);
        }
    }

    fn remove(&mut self, key: ComponentKey, now: f64) {
        let Some(c) = self.comps.remove(&key) else {
            return;
        };
        self.removed.insert(key);
        let gone = match c.phase {
            Phase::Settled { poll_due } if c.hydrated => Some(Gone::Hydrated(poll_due)),
            _ if c.hydrated => Some(Gone::Hydrated(Some(now))),
            Phase::Failed => Some(Gone::Failed),
            _ => None,
        };
        if let Some(gone) = gone {
            self.gone.insert(key, gone);
        }
        // Drop undelivered commands for the key (analytics notices stay; the taken ones,
        // `RequestIdle` placeholders before `taken`, name no key and stay where they are).
        let (mut observe_undelivered, mut fetch_undelivered) = (false, false);
        self.out.retain(|cmd| match cmd {
            Command::Emit(_) => true,
            _ if cmd.key() != Some(key) => true,
            Command::Observe(_) => {
                observe_undelivered = true;
                false
            }
            Command::Fetch { .. } => {
                fetch_undelivered = true;
                false
            }
            _ => false,
        });
        match c.phase {
            Phase::Fetching { .. } if fetch_undelivered => {
                self.in_flight = self.in_flight.saturating_sub(1);
            }
            Phase::Fetching { .. } => {
                self.orphans.insert(key);
            }
            Phase::Queued { .. } => self.queue.retain(|k| *k != key),
            _ => {}
        }
        if c.observed && !observe_undelivered {
            self.out.push(Command::Unobserve(key));
        }
        self.pump(now);
    }

    /// Moves due retries (if `retries`) and due polls (if visible) into the queue, in
    /// deadline order, then add order.
    fn fire_due(&mut self, now: f64, retries: bool) {
        let hidden = self.hidden;
        let mut due: Vec<(f64, usize, ComponentKey)> = self
            .comps
            .iter()
            .filter_map(|(k, c)| match c.phase {
                Phase::Backoff { due, .. } if retries && due <= now => Some((due, c.seq, *k)),
                Phase::Settled { poll_due: Some(due) } if !hidden && due <= now => Some((due, c.seq, *k)),
                _ => None,
            })
            .collect();
        insertion_sort(&mut due, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).is_lt());
        for (_, _, key) in due {
            if let Some(c) = self.comps.get_mut(&key) {
                let reload = match c.phase {
                    Phase::Backoff { reload, .. } => reload,
                    _ => true, // polls must bypass the SW cache to see new data
                };
                c.phase = Phase::Queued { reload };
                self.queue.push(key);
            }
        }
    }
}

/// Sorts the few items that are ever due at once; std's sorts cost kilobytes of wasm.
fn insertion_sort<T>(v: &mut [T], less: impl Fn(&T, &T) -> bool) {
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && less(&v[j], &v[j - 1]) {
            v.swap(j, j - 1);
            j -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn desc(ty: &str) -> ComponentDesc {
        ComponentDesc { component_type: ty.to_string(), ..Default::default() }
    }
    fn with(ty: &str, t: Trigger) -> ComponentDesc {
        ComponentDesc { trigger: Some(t), ..desc(ty) }
    }
    fn inline(ty: &str, fetched_at: Option<f64>) -> ComponentDesc {
        ComponentDesc { has_inline_data: true, inline_fetched_at_ms: fetched_at, src: Some("/data".into()), ..desc(ty) }
    }
    fn opts(preload: usize) -> Options {
        Options { preload, ..Options::default() }
    }
    fn done(key: ComponentKey, ok: bool) -> Event {
        Event::FetchDone { key, ok, age_ms: None }
    }
    fn aged(key: ComponentKey, age: f64) -> Event {
        Event::FetchDone { key, ok: true, age_ms: Some(age) }
    }

    /// Compact notation for one command, e.g. `fetch3`, `reload3`, `hydrated3@25`.
    fn show(c: &Command) -> String {
        match c {
            Command::Observe(k) => format!("obs{k}"),
            Command::Unobserve(k) => format!("unobs{k}"),
            Command::RequestIdle => "idle?".into(),
            Command::WatchMedia { key, query } => format!("media{key}:{query}"),
            Command::Abort(k) => format!("abort{k}"),
            Command::Fetch { key, reload: false } => format!("fetch{key}"),
            Command::Fetch { key, reload: true } => format!("reload{key}"),
            Command::Render { key, source: DataSource::Inline } => format!("inline{key}"),
            Command::Render { key, source: DataSource::Fetched } => format!("render{key}"),
            Command::Emit(Notice::Hydrated { key, ms }) => format!("hydrated{key}@{ms}"),
            Command::Emit(Notice::HydrationError { key, ms, attempts }) => {
                format!("error{key}@{ms}x{attempts}")
            }
        }
    }
    /// Drains and shows every pending command, space-separated.
    fn cmds(h: &mut Hydrator) -> String {
        std::iter::from_fn(|| h.next_command()).map(|c| show(&c)).collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn first_preload_adds_are_eager_later_ones_observed() {
        let mut h = Hydrator::new(opts(2));
        for k in 0..3 {
            assert!(h.add(k, desc("X"), 0.0));
        }
        assert_eq!(cmds(&mut h), "fetch0 fetch1 obs2");
        // Later adds (MutationObserver) continue the same add order.
        let mut h = Hydrator::new(opts(2));
        h.add(0, desc("X"), 0.0);
        cmds(&mut h);
        h.add(1, desc("X"), 5.0);
        h.add(2, desc("X"), 5.0);
        assert_eq!(cmds(&mut h), "fetch1 obs2");
    }

    #[test]
    fn trigger_precedence_attribute_then_type_then_preload() {
        let idle = TypeOptions { name: "B".into(), trigger: Some(Trigger::Idle), ..Default::default() };
        let mut h = Hydrator::new(Options { preload: 3, types: vec![idle], ..Options::default() });
        h.add(0, with("B", Trigger::Interaction), 0.0);
        h.add(1, desc("B"), 0.0);
        h.add(2, desc("X"), 0.0);
        h.add(3, with("X", Trigger::Eager), 0.0);
        assert_eq!(cmds(&mut h), "idle? fetch2 fetch3");
    }

    #[test]
    fn visible_trigger_hydrates_once() {
        let mut h = Hydrator::new(opts(0));
        h.add(7, desc("X"), 0.0);
        assert_eq!(cmds(&mut h), "obs7");
        h.handle(Event::Interaction(7), 1.0); // not its trigger
        h.handle(Event::Idle, 1.0);
        assert_eq!(cmds(&mut h), "");
        h.handle(Event::Visible(7), 10.0);
        assert_eq!(cmds(&mut h), "unobs7 fetch7");
        h.handle(Event::Visible(7), 11.0);
        h.handle(done(7, true), 30.0);
        h.handle(Event::Visible(7), 31.0);
        assert_eq!(cmds(&mut h), "render7");
        h.handle(Event::Rendered(7), 35.0);
        h.handle(Event::Rendered(7), 36.0);
        h.handle(Event::Visible(7), 40.0);
        assert_eq!(cmds(&mut h), "hydrated7@25");
        assert_eq!(h.next_timeout(), None);
    }

    #[test]
    fn idle_interaction_and_media_triggers() {
        let mut h = Hydrator::new(opts(0));
        h.add(0, with("X", Trigger::Idle), 0.0);
        h.add(1, with("X", Trigger::Idle), 0.0);
        h.add(2, with("X", Trigger::Interaction), 0.0);
        h.add(3, with("X", Trigger::Media("(min-width: 800px)".into())), 0.0);
        assert_eq!(cmds(&mut h), "idle? media3:(min-width: 800px)");
        h.handle(Event::Visible(2), 1.0);
        h.handle(Event::MediaMatched(2), 1.0);
        assert_eq!(cmds(&mut h), "");
        h.handle(Event::Idle, 2.0);
        assert_eq!(cmds(&mut h), "fetch0 fetch1");
        h.handle(Event::Interaction(2), 3.0);
        h.handle(Event::MediaMatched(3), 4.0);
        assert_eq!(cmds(&mut h), "fetch2 fetch3");
        h.add(4, with("X", Trigger::Idle), 5.0); // needs a new idle callback
        assert_eq!(cmds(&mut h), "idle?");
    }

    #[test]
    fn trigger_parse() {
        assert_eq!(Trigger::parse(" Idle "), Some(Trigger::Idle));
        assert_eq!(Trigger::parse("EAGER"), Some(Trigger::Eager));
        assert_eq!(Trigger::parse("Media: (x)"), Some(Trigger::Media("(x)".into())));
        assert_eq!(Trigger::parse("media:"), None);
        assert_eq!(Trigger::parse("soon"), None);
    }

    #[test]
    fn max_age_defaults_per_type_boundary_is_stale() {
        let cases = [
            ("MODEL_SHOWCASE", 5.0),
            ("JOB_LISTINGS", 5.0),
            ("BLOG_PREVIEW", 10.0),
            ("STATS_COUNTER", 30.0),
            ("OTHER", 15.0),
        ];
        let now = 100.0 * MINUTE_MS;
        for (ty, minutes) in cases {
            let max = minutes * MINUTE_MS;
            let mut h = Hydrator::new(opts(2));
            h.add(0, inline(ty, Some(now - max + 1.0)), now);
            h.add(1, inline(ty, Some(now - max)), now); // age == maxAge
            assert_eq!(cmds(&mut h), "inline0 reload1", "{ty}");
        }
    }

    #[test]
    fn type_options_override_max_age_and_poll() {
        let a = TypeOptions { name: "A".into(), max_age_ms: Some(1000.0), poll_ms: Some(500.0), ..Default::default() };
        let ms = TypeOptions { name: "MODEL_SHOWCASE".into(), poll_ms: Some(0.0), ..Default::default() };
        let mut h = Hydrator::new(Options { preload: 3, types: vec![a, ms], ..Options::default() });
        h.add(0, inline("A", Some(0.0)), 999.0);
        h.add(1, inline("MODEL_SHOWCASE", Some(0.0)), 999.0);
        h.add(2, inline("A", Some(0.0)), 1000.0);
        assert_eq!(cmds(&mut h), "inline0 inline1 reload2");
        h.handle(Event::Rendered(0), 1000.0);
        h.handle(Event::Rendered(1), 1000.0);
        assert_eq!(h.next_timeout(), Some(1500.0)); // A polls, MODEL_SHOWCASE's poll is off
    }

    #[test]
    fn undated_inline_is_stale_no_inline_fetches_through_cache() {
        let mut h = Hydrator::new(opts(2));
        h.add(0, inline("X", None), 0.0);
        h.add(1, desc("X"), 0.0);
        assert_eq!(cmds(&mut h), "reload0 fetch1");
    }

    #[test]
    fn stale_sw_cache_time_renders_then_reloads_once() {
        let max = 5.0 * MINUTE_MS;
        let mut h = Hydrator::new(opts(2));
        h.add(0, desc("MODEL_SHOWCASE"), 0.0);
        h.add(1, desc("MODEL_SHOWCASE"), 0.0);
        cmds(&mut h);
        h.handle(aged(0, max), 10.0); // age == maxAge → stale
        h.handle(aged(1, max - 1.0), 10.0);
        assert_eq!(cmds(&mut h), "render0 render1");
        h.handle(Event::Rendered(0), 12.0);
        h.handle(Event::Rendered(1), 12.0);
        assert_eq!(cmds(&mut h), "hydrated0@12 reload0 hydrated1@12");
        // Key 0's reload times out at 10,012 (key 1 polls at 30,012).
        assert_eq!(h.next_timeout(), Some(10_012.0));
        h.handle(aged(0, 2.0 * max), 20.0); // a stale-looking reload is not refetched
        h.handle(Event::Rendered(0), 21.0);
        assert_eq!(cmds(&mut h), "render0");
        h.on_timeout(30_012.0);
        assert_eq!(cmds(&mut h), "reload1");
        assert_eq!(h.next_timeout(), Some(30_021.0));
    }

    #[test]
    fn concurrency_limit_and_fifo_order() {
        let mut h = Hydrator::new(Options { preload: 5, max_concurrent: 2, ..Options::default() });
        for k in 0..6 {
            h.add(k, desc("X"), 0.0);
        }
        assert_eq!(cmds(&mut h), "fetch0 fetch1 obs5");
        h.handle(done(1, true), 1.0);
        assert_eq!(cmds(&mut h), "render1 fetch2");
        h.handle(done(0, false), 2.0); // retry due at 1002
        assert_eq!(cmds(&mut h), "fetch3");
        h.handle(Event::Visible(5), 3.0);
        assert_eq!(cmds(&mut h), "unobs5");
        h.on_timeout(1002.0); // 0 re-queues behind 4 and 5
        assert_eq!((cmds(&mut h).as_str(), h.in_flight()), ("", 2));
        for k in [2, 3, 4, 5] {
            h.handle(done(k, true), 1100.0);
        }
        assert_eq!(cmds(&mut h), "render2 fetch4 render3 fetch5 render4 fetch0 render5");
    }

    #[test]
    fn retry_backoff_timing_and_limit() {
        let mut h = Hydrator::new(opts(1));
        h.add(0, inline("X", None), 0.0);
        assert_eq!(cmds(&mut h), "reload0");
        let mut t = 0.0;
        for delay in [1000.0, 2000.0, 4000.0] {
            t += 10.0;
            h.handle(done(0, false), t);
            assert_eq!(h.next_timeout(), Some(t + delay));
            h.on_timeout(t + delay - 1.0);
            assert_eq!(cmds(&mut h), "");
            t += delay;
            h.on_timeout(t);
            assert_eq!(cmds(&mut h), "reload0", "a retry keeps reload");
        }
        h.handle(done(0, false), t + 10.0);
        assert_eq!(cmds(&mut h), "error0@7040x4 inline0", "given up; the stale inline data shown rather than nothing");
        assert_eq!((h.next_timeout(), h.in_flight()), (None, 0));
        h.handle(Event::Rendered(0), t + 20.0);
        assert_eq!(cmds(&mut h), "hydrated0@7050");
        // Without inline data: nothing to show.
        let mut h = Hydrator::new(Options { max_retries: 0, ..opts(1) });
        h.add(0, desc("X"), 0.0);
        h.handle(done(0, false), 10.0);
        assert_eq!(cmds(&mut h), "fetch0 error0@10x1");
    }

    #[test]
    fn stale_inline_data_without_a_data_src_renders_at_once() {
        let mut h = Hydrator::new(opts(1));
        h.add(0, ComponentDesc { src: None, ..inline("X", Some(-60.0 * MINUTE_MS)) }, 0.0);
        h.add(1, ComponentDesc { src: None, ..inline("X", None) }, 0.0);
        h.handle(Event::Visible(1), 1.0);
        assert_eq!(cmds(&mut h), "inline0 obs1 unobs1 inline1", "nothing to refetch from");
        assert_eq!(h.in_flight(), 0);
    }

    #[test]
    fn retry_success_reports_ms_from_trigger() {
        let mut h = Hydrator::new(opts(0));
        h.add(0, desc("X"), 0.0);
        h.handle(Event::Visible(0), 100.0);
        h.handle(done(0, false), 150.0);
        h.on_timeout(1150.0);
        h.handle(done(0, true), 1200.0);
        h.handle(Event::Rendered(0), 1300.0);
        assert_eq!(cmds(&mut h), "obs0 unobs0 fetch0 fetch0 render0 hydrated0@1200");
    }

    #[test]
    fn failures_are_isolated_and_render_failures_not_retried() {
        let mut h = Hydrator::new(Options { preload: 3, max_retries: 0, ..Options::default() });
        h.add(0, desc("MODEL_SHOWCASE"), 0.0);
        h.add(1, desc("MODEL_SHOWCASE"), 0.0);
        h.add(2, inline("MODEL_SHOWCASE", Some(0.0)), 0.0);
        assert_eq!(cmds(&mut h), "fetch0 fetch1 inline2");
        h.handle(done(0, false), 5.0);
        h.handle(done(1, true), 6.0);
        h.handle(Event::RenderFailed(2), 7.0);
        h.handle(Event::Rendered(1), 8.0);
        assert_eq!(cmds(&mut h), "error0@5x1 render1 error2@7x0 hydrated1@8");
        assert_eq!(h.next_timeout(), Some(30_008.0)); // only the healthy one polls
        h.handle(Event::Rendered(2), 9.0);
        h.handle(Event::Visible(0), 9.0);
        assert_eq!(cmds(&mut h), "");
    }

    #[test]
    fn polling_cadence_and_quiet_failed_refreshes() {
        let mut h = Hydrator::new(opts(1));
        h.add(0, desc("JOB_LISTINGS"), 0.0);
        h.handle(done(0, true), 50.0);
        h.handle(Event::Rendered(0), 100.0);
        assert_eq!(cmds(&mut h), "fetch0 render0 hydrated0@100");
        assert_eq!(h.next_timeout(), Some(30_100.0));
        h.on_timeout(30_099.0);
        assert_eq!(cmds(&mut h), "");
        h.on_timeout(30_100.0);
        assert_eq!(cmds(&mut h), "reload0");
        assert_eq!(h.next_timeout(), Some(40_100.0), "polls never overlap: only the reload's timeout");
        h.handle(done(0, false), 30_200.0); // failed poll: no notice, next interval
        assert_eq!((cmds(&mut h).as_str(), h.next_timeout()), ("", Some(60_200.0)));
        h.on_timeout(60_200.0);
        h.handle(done(0, true), 60_300.0);
        h.handle(Event::RenderFailed(0), 60_300.0); // failed refresh render: quiet too
        assert_eq!(cmds(&mut h), "reload0 render0");
        assert_eq!(h.next_timeout(), Some(90_300.0));
        // A type without polling leaves nothing scheduled.
        let mut h = Hydrator::new(opts(1));
        h.add(0, desc("BLOG_PREVIEW"), 0.0);
        h.handle(done(0, true), 1.0);
        h.handle(Event::Rendered(0), 2.0);
        assert_eq!(h.next_timeout(), None);
    }

    #[test]
    fn an_invalidated_component_refetches_past_the_cache_once_hydrated() {
        let mut h = Hydrator::new(opts(1));
        h.add(0, desc("BLOG_PREVIEW"), 0.0);
        assert_eq!(cmds(&mut h), "fetch0");
        h.handle(Event::Invalidated(0), 1.0);
        assert!(!h.is_hydrated(0));
        h.handle(done(0, true), 50.0);
        h.handle(Event::Rendered(0), 60.0);
        // The first fetch went out before the notice: its data may predate it.
        assert_eq!(cmds(&mut h), "render0 hydrated0@60 reload0", "refetched once hydrated");
        h.handle(done(0, true), 70.0);
        h.handle(Event::Rendered(0), 80.0);
        assert_eq!(cmds(&mut h), "render0");
        assert!(h.is_hydrated(0) && !h.is_hydrated(7));
        h.handle(Event::Invalidated(0), 100.0);
        assert_eq!(cmds(&mut h), "reload0");
        h.handle(Event::Invalidated(0), 101.0);
        assert_eq!(cmds(&mut h), "", "one refetch at a time");
        h.handle(done(0, true), 150.0);
        h.handle(Event::Rendered(0), 160.0);
        assert_eq!(cmds(&mut h), "render0");
        h.handle(Event::Invalidated(7), 200.0);
        assert_eq!(cmds(&mut h), "", "unknown keys are ignored");
    }

    #[test]
    fn a_notice_before_a_first_fetch_goes_out_adds_no_fetch() {
        // Waiting for a slot, or for a retry: the fetch it makes comes after the notice.
        let mut h = Hydrator::new(Options { max_concurrent: 1, ..opts(2) });
        h.add(0, desc("X"), 0.0);
        h.add(1, desc("X"), 0.0);
        h.handle(Event::Invalidated(1), 1.0);
        h.handle(Event::Invalidated(0), 1.0); // 0's fetch is out
        h.handle(done(0, false), 2.0); // and failed: a retry at 1002
        h.on_timeout(1002.0);
        h.handle(done(1, true), 1003.0);
        h.handle(Event::Rendered(1), 1004.0);
        h.handle(done(0, true), 1005.0);
        h.handle(Event::Rendered(0), 1006.0);
        assert_eq!(cmds(&mut h), "fetch0 fetch1 render1 fetch0 hydrated1@1004 render0 hydrated0@1006");
        assert_eq!(h.in_flight(), 0);
    }

    #[test]
    fn a_notice_during_a_refresh_refetches_once_that_refresh_is_done() {
        // The one-off reload after a stale copy is out when the notice comes: its data may
        // predate the invalidation.
        let mut h = Hydrator::new(opts(1));
        h.add(0, desc("BLOG_PREVIEW"), 0.0);
        h.handle(aged(0, 20.0 * 60_000.0), 10.0);
        h.handle(Event::Rendered(0), 20.0);
        assert_eq!(cmds(&mut h), "fetch0 render0 hydrated0@20 reload0");
        h.handle(Event::Invalidated(0), 30.0);
        h.handle(Event::Invalidated(0), 31.0); // the same news twice (worker and live feed)
        assert_eq!(cmds(&mut h), "", "nothing while the reload is out");
        h.handle(done(0, true), 40.0);
        h.handle(Event::Rendered(0), 50.0);
        assert_eq!(cmds(&mut h), "render0 reload0", "refetched once after it");
        h.handle(done(0, true), 60.0);
        h.handle(Event::Rendered(0), 70.0);
        assert_eq!(cmds(&mut h), "render0");
        assert_eq!(h.next_timeout(), None, "settled");
        // A notice during a poll's render, and one during a refresh that fails.
        let opts = Options {
            types: vec![TypeOptions { name: "T".into(), poll_ms: Some(1000.0), ..TypeOptions::default() }],
            ..opts(1)
        };
        let mut h = Hydrator::new(opts);
        h.add(0, desc("T"), 0.0);
        h.handle(done(0, true), 1.0);
        h.handle(Event::Rendered(0), 2.0);
        h.on_timeout(1002.0);
        h.handle(done(0, true), 1010.0);
        assert_eq!(cmds(&mut h), "fetch0 render0 hydrated0@2 reload0 render0");
        h.handle(Event::Invalidated(0), 1020.0);
        h.handle(Event::Rendered(0), 1030.0);
        assert_eq!(cmds(&mut h), "reload0");
        h.handle(done(0, true), 1040.0);
        h.handle(Event::Rendered(0), 1050.0);
        h.on_timeout(2050.0);
        assert_eq!(cmds(&mut h), "render0 reload0", "polling again");
        h.handle(Event::Invalidated(0), 2060.0);
        h.handle(done(0, false), 2070.0);
        assert_eq!(cmds(&mut h), "reload0", "a failed refresh with a notice behind it: once more, now");
        h.handle(done(0, false), 2080.0);
        assert_eq!(cmds(&mut h), "", "then a retry, as for a first hydration");
        assert_eq!(h.next_timeout(), Some(3080.0));
    }

    #[test]
    fn a_refetch_for_a_notice_that_fails_is_retried() {
        // A type without polls: the content shown is known to be stale, and nothing else
        // would ever fetch it again.
        let mut h = Hydrator::new(Options { max_retries: 2, ..opts(1) });
        h.add(0, desc("X"), 0.0);
        h.handle(done(0, true), 1.0);
        h.handle(Event::Rendered(0), 2.0);
        assert_eq!(cmds(&mut h), "fetch0 render0 hydrated0@2");
        h.handle(Event::Invalidated(0), 10.0);
        h.handle(done(0, false), 20.0);
        assert_eq!(h.next_timeout(), Some(1020.0), "a retry after the backoff");
        h.handle(Event::Invalidated(0), 30.0); // the same news from the live feed
        h.on_timeout(1020.0);
        h.handle(done(0, false), 1030.0);
        assert_eq!(h.next_timeout(), Some(3030.0), "doubled");
        h.on_timeout(3030.0);
        h.handle(done(0, false), 3040.0);
        assert_eq!(cmds(&mut h), "reload0 reload0 reload0", "max_retries + 1 attempts");
        assert_eq!(h.next_timeout(), None, "then it keeps what it shows until the next notice");
        h.handle(Event::Invalidated(0), 5000.0);
        h.handle(done(0, false), 5010.0);
        assert_eq!(h.next_timeout(), Some(6010.0), "a new notice starts over");
        h.on_timeout(6010.0);
        h.handle(done(0, true), 6020.0);
        h.handle(Event::Rendered(0), 6030.0);
        assert_eq!(cmds(&mut h), "reload0 reload0 render0");
        assert_eq!(h.next_timeout(), None);
        // Polls count no attempts against a later notice's retries.
        let polled = Options {
            max_retries: 1,
            types: vec![TypeOptions { name: "T".into(), poll_ms: Some(100.0), ..TypeOptions::default() }],
            ..opts(1)
        };
        let mut h = Hydrator::new(polled);
        h.add(0, desc("T"), 0.0);
        h.handle(done(0, true), 1.0);
        h.handle(Event::Rendered(0), 2.0);
        let mut t = 2.0;
        for _ in 0..5 {
            t += 100.0;
            h.on_timeout(t);
            h.handle(done(0, true), t);
            h.handle(Event::Rendered(0), t);
        }
        h.handle(Event::DocumentHidden, t);
        h.on_timeout(t + 100.0); // due while hidden: fires once visible
        h.handle(Event::DocumentVisible, t + 150.0);
        h.handle(Event::Invalidated(0), t + 151.0); // while that reload is out
        h.handle(done(0, false), t + 160.0);
        h.handle(done(0, false), t + 170.0); // the notice's refetch, at once, fails too
        assert_eq!(h.next_timeout(), Some(t + 170.0 + 1000.0), "retried");
        // A notice while a poll's reload waits for a slot.
        let mut h = Hydrator::new(Options { max_concurrent: 1, max_retries: 1, ..opts(2) });
        h.add(0, desc("X"), 0.0);
        h.add(1, desc("X"), 0.0);
        h.handle(done(0, true), 1.0);
        h.handle(Event::Rendered(0), 2.0);
        h.handle(Event::Invalidated(0), 3.0); // queued behind 1's first fetch
        h.handle(Event::Invalidated(0), 4.0);
        h.handle(done(1, true), 5.0);
        h.handle(done(0, false), 6.0);
        assert_eq!(cmds(&mut h), "fetch0 render0 fetch1 hydrated0@2 render1 reload0");
        assert_eq!(h.next_timeout(), Some(1006.0), "retried");
    }

    #[test]
    fn polling_pauses_while_hidden_and_catches_up_once() {
        let mut h = Hydrator::new(opts(2));
        h.add(0, inline("STATS_COUNTER", Some(0.0)), 0.0);
        h.add(1, inline("MODEL_SHOWCASE", Some(0.0)), 0.0);
        h.handle(Event::Rendered(0), 0.0);
        h.handle(Event::Rendered(1), 0.0);
        cmds(&mut h);
        h.handle(Event::DocumentHidden, 10_000.0);
        assert_eq!(h.next_timeout(), None);
        for t in [30_000.0, 60_000.0, 200_000.0] {
            h.on_timeout(t);
        }
        assert_eq!(cmds(&mut h), "");
        h.handle(Event::DocumentVisible, 200_000.0);
        assert_eq!(cmds(&mut h), "reload0 reload1");
        h.handle(done(0, true), 200_100.0);
        h.handle(Event::Rendered(0), 200_100.0);
        assert_eq!(cmds(&mut h), "render0");
        assert_eq!(h.next_timeout(), Some(210_000.0), "reload1's timeout");
        h.handle(done(1, false), 200_100.0);
        assert_eq!(h.next_timeout(), Some(230_100.0), "its failure: the next polls");
        // Hidden and back before the due time: the schedule is unchanged.
        h.handle(Event::DocumentHidden, 210_000.0);
        h.handle(Event::DocumentVisible, 220_000.0);
        assert_eq!((cmds(&mut h).as_str(), h.next_timeout()), ("", Some(230_100.0)));
    }

    #[test]
    fn a_fetch_without_an_answer_is_aborted_and_frees_its_slot() {
        // Two slots, two hung fetches: without a timeout the third component never hydrated.
        let o = Options { preload: 3, max_concurrent: 2, max_retries: 1, retry_base_ms: 100.0, ..Options::default() };
        let mut h = Hydrator::new(o);
        for k in 0..3 {
            h.add(k, desc("X"), 0.0);
        }
        assert_eq!(cmds(&mut h), "fetch0 fetch1");
        assert_eq!(h.next_timeout(), Some(FETCH_TIMEOUT_MS));
        h.on_timeout(FETCH_TIMEOUT_MS - 1.0);
        assert_eq!(cmds(&mut h), "");
        h.on_timeout(FETCH_TIMEOUT_MS);
        assert_eq!(cmds(&mut h), "abort0 abort1", "each aborted once");
        // The slot frees when the aborted fetch answers (a failure): retried after backoff.
        h.handle(done(0, false), 10_001.0);
        assert_eq!(cmds(&mut h), "fetch2");
        h.handle(done(2, true), 10_002.0);
        h.handle(Event::Rendered(2), 10_003.0);
        assert_eq!(cmds(&mut h), "render2 hydrated2@10003");
        h.on_timeout(10_101.0);
        assert_eq!(cmds(&mut h), "fetch0", "its retry, in the slot fetch 2 left");
        h.handle(done(1, false), 10_101.0);
        // A fetch answered in time is not aborted; Infinity never times out.
        h.handle(done(0, true), 10_200.0);
        assert_eq!(h.next_timeout(), Some(10_201.0), "fetch 1's retry, not fetch 0's timeout");
        let mut h = Hydrator::new(Options { fetch_timeout_ms: f64::INFINITY, ..opts(1) });
        h.add(0, desc("X"), 0.0);
        assert_eq!((cmds(&mut h).as_str(), h.next_timeout()), ("fetch0", None));
    }

    #[test]
    fn hidden_holds_refreshes_but_not_first_hydrations() {
        let mut h = Hydrator::new(Options { preload: 2, max_concurrent: 1, ..Options::default() });
        h.add(0, desc("MODEL_SHOWCASE"), 0.0);
        h.add(1, desc("X"), 0.0);
        h.handle(aged(0, 1e9), 1.0);
        h.handle(Event::DocumentHidden, 2.0);
        h.handle(Event::Rendered(0), 3.0); // stale refresh queued, held while hidden
        assert_eq!(cmds(&mut h), "fetch0 render0 fetch1 hydrated0@3");
        h.handle(done(1, true), 4.0);
        assert_eq!(cmds(&mut h), "render1");
        h.handle(Event::DocumentVisible, 5.0);
        assert_eq!(cmds(&mut h), "reload0");
    }

    #[test]
    fn removal_stops_everything() {
        let mut h = Hydrator::new(Options { preload: 4, max_concurrent: 2, ..Options::default() });
        for k in 0..5 {
            h.add(k, desc(if k == 0 { "MODEL_SHOWCASE" } else { "X" }), 0.0);
        }
        h.handle(done(0, true), 1.0);
        h.handle(Event::Rendered(0), 1.0);
        h.handle(done(1, false), 1.0);
        // 0 polling, 1 in backoff, 2 in flight, 3 queued, 4 observed.
        assert_eq!(cmds(&mut h), "fetch0 fetch1 obs4 render0 fetch2 hydrated0@1 fetch3");
        for k in 0..4 {
            h.handle(Event::Removed(k), 2.0);
        }
        assert_eq!(h.in_flight(), 2, "removed fetches hold their slot until answered");
        h.handle(Event::Removed(4), 2.0);
        assert_eq!(cmds(&mut h), "unobs4");
        assert_eq!(h.next_timeout(), None, "removed fetches are the adapter's to abort");
        h.handle(done(2, true), 3.0);
        h.handle(done(3, false), 3.0);
        h.on_timeout(1e9);
        h.handle(Event::Visible(4), 4.0);
        assert_eq!((cmds(&mut h).as_str(), h.in_flight()), ("", 0));
        assert!(!h.add(2, desc("X"), 5.0), "keys are never reused");
        assert!(h.component(2).is_none());
    }

    #[test]
    fn removal_drops_undelivered_commands_and_frees_their_slot() {
        let mut h = Hydrator::new(Options { preload: 2, max_concurrent: 1, ..Options::default() });
        h.add(0, desc("X"), 0.0);
        h.add(1, desc("X"), 0.0);
        h.add(2, desc("X"), 0.0);
        h.handle(Event::Removed(0), 0.0); // its Fetch was never drained
        h.handle(Event::Removed(2), 0.0); // its Observe was never drained
        assert_eq!((cmds(&mut h).as_str(), h.in_flight()), ("fetch1", 1));
        assert!(!h.add(1, desc("X"), 0.0), "duplicate add refused");
    }

    #[test]
    fn a_notice_while_a_hydrated_component_is_out_refetches_once_it_is_back() {
        // A view kept while another shows (README: "keeping it while another view shows"):
        // its data is invalidated meanwhile. A type without polls would otherwise show the
        // data the notice said is stale for as long as the page lives.
        let mut h = Hydrator::new(opts(1));
        h.add(0, desc("BLOG_PREVIEW"), 0.0);
        h.handle(done(0, true), 1.0);
        h.handle(Event::Rendered(0), 2.0);
        assert_eq!(cmds(&mut h), "fetch0 render0 hydrated0@2");
        h.handle(Event::Removed(0), 10.0);
        h.handle(Event::Invalidated(0), 20.0);
        assert!(h.put_back(0, 1, desc("BLOG_PREVIEW"), 30.0));
        h.on_timeout(30.0);
        assert_eq!(cmds(&mut h), "reload1", "refetched past the cache once back");
    }

    #[test]
    fn a_notice_reaches_components_out_among_many_that_left() {
        // A single-page app that mounts and unmounts hydrated views for hours: a notice
        // covering every copy that left looks each up (a scan per lookup made 100,000 of
        // them 2.8 s of the page's main thread).
        let n = 20_000u32;
        let mut h = Hydrator::new(opts(usize::MAX));
        for k in 0..n {
            h.add(k, desc("CART"), 0.0);
            h.handle(done(k, true), 1.0);
            h.handle(Event::Rendered(k), 2.0);
            h.handle(Event::Removed(k), 3.0);
        }
        cmds(&mut h);
        for k in (0..n).filter(|k| k % 2 == 0) {
            h.handle(Event::Invalidated(k), 4.0);
        }
        assert!(h.put_back(n - 2, n, desc("CART"), 5.0));
        assert!(h.put_back(n - 1, n + 1, desc("CART"), 5.0));
        assert!(h.put_back(0, n + 2, desc("CART"), 5.0));
        h.on_timeout(5.0);
        assert_eq!(cmds(&mut h), format!("reload{n} reload{}", n + 2), "the covered ones refetch once back");
        assert!(h.is_hydrated(n + 1), "the other carries on");
    }

    #[test]
    fn moving_one_element_many_times_keeps_one_record_of_it() {
        // A framework moving the same hydrated element (a carousel, a sortable list):
        // each move is a removal and a put-back under a new key.
        let mut h = Hydrator::new(opts(1));
        h.add(0, desc("X"), 0.0);
        h.handle(done(0, true), 1.0);
        h.handle(Event::Rendered(0), 2.0);
        cmds(&mut h);
        for k in 0..10_000u32 {
            h.handle(Event::Removed(k), 3.0);
            assert!(h.put_back(k, k + 1, desc("X"), 3.0));
        }
        assert!(h.is_hydrated(10_000));
        assert!(h.gone.0.len() <= 1, "{} records kept for one element", h.gone.0.len());
    }

    #[test]
    fn a_component_put_back_carries_on_as_it_was() {
        // A framework moving elements: removed in one task, put back in a later one.
        let t = TypeOptions { name: "T".into(), poll_ms: Some(1000.0), ..Default::default() };
        let mut h = Hydrator::new(Options { preload: 2, types: vec![t], ..Options::default() });
        h.add(0, desc("T"), 0.0);
        h.add(1, inline("X", Some(0.0)), 0.0);
        h.add(2, desc("X"), 0.0);
        h.handle(done(0, true), 10.0);
        h.handle(Event::Rendered(0), 20.0);
        h.handle(Event::Rendered(1), 20.0);
        assert_eq!(cmds(&mut h), "fetch0 inline1 obs2 render0 hydrated0@20 hydrated1@20");
        for k in 0..3 {
            h.handle(Event::Removed(k), 30.0);
        }
        assert_eq!((cmds(&mut h).as_str(), h.next_timeout()), ("unobs2", None));
        // Back under new keys: the hydrated ones carry on, nothing rendered again and no
        // second notice, the poll that came due while it was out at the next timeout; the
        // one not hydrated yet waits for its trigger again.
        assert!(h.put_back(0, 3, desc("T"), 2000.0));
        assert!(h.put_back(1, 4, inline("X", Some(0.0)), 2000.0));
        assert!(h.put_back(2, 5, desc("X"), 2000.0));
        assert_eq!(cmds(&mut h), "obs5");
        assert!(h.is_hydrated(3) && h.is_hydrated(4) && !h.is_hydrated(5));
        assert_eq!(h.next_timeout(), Some(1020.0));
        h.on_timeout(2000.0);
        assert_eq!(cmds(&mut h), "reload3");
        // A refresh under way when it left goes again once it is back.
        h.handle(Event::Removed(3), 2010.0);
        assert!(h.put_back(3, 6, desc("T"), 2020.0));
        h.on_timeout(2020.0);
        assert_eq!(cmds(&mut h), "reload6");
        // One that gave up stays given up; keys are still never reused.
        let mut h = Hydrator::new(Options { preload: 1, max_retries: 0, ..Options::default() });
        h.add(0, desc("X"), 0.0);
        h.handle(done(0, false), 1.0);
        assert_eq!(cmds(&mut h), "fetch0 error0@1x1");
        h.handle(Event::Removed(0), 2.0);
        assert!(h.put_back(0, 1, desc("X"), 3.0));
        assert_eq!((cmds(&mut h).as_str(), h.is_hydrated(1)), ("", false));
        assert!(!h.add(0, desc("X"), 4.0) && !h.put_back(0, 1, desc("X"), 4.0));
    }

    /// Tiny deterministic PRNG (xorshift64) for the property test.
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n.max(1)
        }
    }

    /// The adapter side of the property test: what it has been asked and told.
    #[derive(Default)]
    struct Model {
        fetching: Vec<ComponentKey>,
        rendering: Vec<ComponentKey>,
        removed: HashSet<ComponentKey>,
        noticed: HashSet<ComponentKey>,
        hydrated: HashSet<ComponentKey>,
        back: HashSet<ComponentKey>,
        /// Fetches the scheduler aborted: their answer is a failure.
        aborted: HashSet<ComponentKey>,
        hidden: bool,
    }

    impl Model {
        /// Checks every drained command against the invariants.
        fn check(&mut self, h: &mut Hydrator, removing: Option<ComponentKey>, max: usize) {
            while let Some(c) = h.next_command() {
                if let Some(k) = c.key().filter(|k| self.removed.contains(k)) {
                    let ok = removing == Some(k) && c == Command::Unobserve(k);
                    assert!(ok, "{c:?} after removal");
                }
                match c {
                    Command::Fetch { key, .. } => {
                        assert!(!self.fetching.contains(&key), "two fetches for {key}");
                        let refresh = self.hydrated.contains(&key);
                        assert!(!(self.hidden && refresh), "refresh of {key} while hidden");
                        self.fetching.push(key);
                    }
                    Command::Render { key, .. } => self.rendering.push(key),
                    Command::Abort(key) => {
                        assert!(self.fetching.contains(&key), "abort of {key}, not fetching");
                        assert!(self.aborted.insert(key), "second abort of {key}");
                    }
                    Command::Emit(n) => {
                        let (key, ok, ms) = match n {
                            Notice::Hydrated { key, ms } => (key, true, ms),
                            Notice::HydrationError { key, ms, .. } => (key, false, ms),
                        };
                        assert!(self.noticed.insert(key), "second notice for {key}");
                        assert!(ms >= 0.0);
                        if ok {
                            self.hydrated.insert(key);
                        }
                    }
                    _ => {}
                }
            }
            assert!(self.fetching.len() <= max, "{} in flight", self.fetching.len());
            assert_eq!(h.in_flight(), self.fetching.len());
        }
    }

    /// One random run; returns how many components hydrated.
    fn random_run(seed: u64) -> usize {
        const TYPES: [&str; 4] = ["MODEL_SHOWCASE", "BLOG_PREVIEW", "FAST", "X"];
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let max = 1 + rng.below(3) as usize;
        let fast =
            TypeOptions { name: "FAST".into(), poll_ms: Some(700.0), max_age_ms: Some(500.0), ..Default::default() };
        let fetch_timeout_ms = [300.0, 1500.0, f64::INFINITY][rng.below(3) as usize];
        let o = Options {
            max_concurrent: max,
            max_retries: 2,
            retry_base_ms: 100.0,
            fetch_timeout_ms,
            types: vec![fast],
            ..opts(2)
        };
        let mut h = Hydrator::new(o);
        let mut m = Model::default();
        let (mut now, mut keys) = (0.0f64, 0u32);
        for _ in 0..400 {
            let any = rng.below(u64::from(keys.max(1))) as u32;
            let mut removing = None;
            match rng.below(13) {
                0 | 1 => {
                    let trigger = match rng.below(4) {
                        0 => Some(Trigger::Idle),
                        1 => Some(Trigger::Interaction),
                        2 => Some(Trigger::Media("q".into())),
                        _ => None,
                    };
                    let d = ComponentDesc {
                        trigger,
                        has_inline_data: rng.below(2) == 0,
                        inline_fetched_at_ms: Some(now - rng.below(1000) as f64),
                        ..desc(TYPES[rng.below(4) as usize])
                    };
                    assert!(h.add(keys, d, now));
                    keys += 1;
                }
                2 => h.handle(Event::Visible(any), now),
                3 => h.handle(Event::Interaction(any), now),
                4 => h.handle(Event::MediaMatched(any), now),
                5 => h.handle(Event::Idle, now),
                6 | 7 if !m.fetching.is_empty() => {
                    let key = m.fetching.remove(rng.below(m.fetching.len() as u64) as usize);
                    let age_ms = [None, Some(0.0), Some(600.0)][rng.below(3) as usize];
                    let aborted = m.aborted.remove(&key);
                    let ok = rng.below(3) != 0 && !aborted;
                    h.handle(Event::FetchDone { key, ok, age_ms }, now);
                }
                8 if !m.rendering.is_empty() => {
                    let key = m.rendering.remove(rng.below(m.rendering.len() as u64) as usize);
                    let ok = rng.below(5) != 0;
                    h.handle(if ok { Event::Rendered(key) } else { Event::RenderFailed(key) }, now);
                }
                9 if keys > 0 && rng.below(3) == 0 => {
                    removing = Some(any);
                    h.handle(Event::Removed(any), now);
                }
                10 => {
                    m.hidden = !m.hidden;
                    h.handle(if m.hidden { Event::DocumentHidden } else { Event::DocumentVisible }, now);
                }
                11 if rng.below(2) == 0 => h.handle(Event::Invalidated(any), now),
                // (The adapter puts an element back once per removal: its next removal
                // records it under its new key.)
                12 if m.removed.contains(&any) && !m.back.contains(&any) => {
                    m.back.insert(any);
                    // Its element put back: a hydrated one carries on, with no notice.
                    if m.hydrated.contains(&any) {
                        m.hydrated.insert(keys);
                        m.noticed.insert(keys);
                    }
                    assert!(h.put_back(any, keys, desc(TYPES[rng.below(4) as usize]), now));
                    keys += 1;
                }
                _ => {
                    now += rng.below(400) as f64;
                    if h.next_timeout().is_some_and(|t| t <= now) {
                        h.on_timeout(now);
                        assert!(h.next_timeout().is_none_or(|t| t > now));
                    }
                }
            }
            if let Some(k) = removing {
                m.removed.insert(k);
                m.rendering.retain(|r| *r != k);
            }
            m.check(&mut h, removing, max);
        }
        // Tear down: remove everything, answer the fetches still out → nothing left.
        for k in 0..keys {
            h.handle(Event::Removed(k), now);
            m.removed.insert(k);
            m.check(&mut h, Some(k), max);
        }
        for k in std::mem::take(&mut m.fetching) {
            h.handle(done(k, true), now);
        }
        m.check(&mut h, None, max);
        assert_eq!((h.next_timeout(), h.in_flight()), (None, 0));
        m.hydrated.len()
    }

    #[test]
    fn randomized_invariants() {
        let mut hydrated = 0;
        for seed in 1..=300u64 {
            let run = std::panic::catch_unwind(|| random_run(seed));
            hydrated += run.unwrap_or_else(|_| panic!("invariant broken with seed {seed}"));
        }
        assert!(hydrated > 1000, "the runs must exercise hydration, got {hydrated}");
    }
}
