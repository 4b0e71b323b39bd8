//! Service-worker adapter: the wasm-bindgen surface the `swcache-sw.js` shim calls.
//! It turns browser events into core inputs and core decisions into Cache/fetch calls;
//! no policy lives here.

pub mod fetch;
pub mod js;
mod lifecycle;
mod messages;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Promise, RegExp};
use wasm_bindgen::prelude::*;
use web_sys::{Cache, ExtendableMessageEvent, FetchEvent, ServiceWorkerGlobalScope};

use crate::core::config::{self, Config, Matcher, Route, Strategy};
use crate::core::evict::{TrimGate, Usage};
use crate::core::fence::Fences;
use crate::core::stats::Stats;

/// Everything the worker keeps between events.
pub(crate) struct Engine {
    pub cfg: Config,
    /// The built-in cache-first route for precached URLs (slot `cfg.routes.len()`).
    pub precache_route: Route,
    pub regexps: Vec<RegExp>,
    pub origin: String,
    pub scope: ServiceWorkerGlobalScope,
    pub stats: RefCell<Stats>,
    /// Opened caches by slot (routes…, precache), opened on first use.
    pub caches: RefCell<Vec<Option<Cache>>>,
    /// Invalidation fences still able to matter.
    pub fences: RefCell<Fences>,
    /// One trim at a time per slot.
    pub trims: RefCell<Vec<TrimGate>>,
    /// How often and when entries of each `maxEntries` cache were used, by slot.
    pub usage: RefCell<Vec<Usage>>,
    /// Cache writes and invalidations under way, so an invalidation can let them land
    /// before it lists and deletes.
    pub pending: RefCell<Vec<(u32, Promise)>>,
    pub next_id: Cell<u32>,
    /// When this worker instance started (every earlier entry was stamped before).
    pub started_ms: f64,
    /// The newest `sw-cache-time` this instance has written.
    pub newest_stamp: Cell<f64>,
}

impl Engine {
    pub fn precache_slot(&self) -> usize {
        self.cfg.routes.len()
    }

    pub fn route(&self, slot: usize) -> &Route {
        self.cfg.routes.get(slot).unwrap_or(&self.precache_route)
    }

    /// Route names by slot, the precache last.
    pub fn slot_names(&self) -> Vec<&str> {
        (0..=self.cfg.routes.len()).map(|s| self.route(s).name.as_str()).collect()
    }

    pub fn slots(&self) -> std::ops::RangeInclusive<usize> {
        0..=self.cfg.routes.len()
    }
}

thread_local! {
    static ENGINE: RefCell<Option<Rc<Engine>>> = const { RefCell::new(None) };
}

pub(crate) fn engine() -> Option<Rc<Engine>> {
    ENGINE.with(|e| e.borrow().clone())
}

pub(crate) fn scope() -> ServiceWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

/// `swcache.start(config)`: validates the config once. Throws an `Error` naming the
/// route and field on a bad config, which fails the worker's script evaluation.
#[wasm_bindgen]
pub fn start(config: JsValue) -> Result<(), JsError> {
    let scope = scope();
    let origin = scope.location().origin();
    let mut regexps = Vec::new();
    let value = js::to_value(&config, &mut regexps);
    let base = scope.location().href();
    let resolve = |s: &str| web_sys::Url::new_with_base(s, &base).ok().map(|u| u.href());
    let cfg = config::parse(&value, &origin, &resolve).map_err(|e| JsError::new(&e.to_string()))?;
    let precache_route = Route {
        name: "precache".into(),
        matcher: Matcher::Prefix(String::new()),
        strategy: Strategy::CacheFirst,
        max_age_ms: None,
        max_entries: None,
        network_timeout_ms: None,
        cross_origin: false,
        opaque: false,
        cache_name: cfg.precache_cache.clone(),
    };
    let slots = cfg.routes.len() + 1;
    let engine = Engine {
        stats: RefCell::new(Stats::new(cfg.routes.len())),
        caches: RefCell::new(vec![None; slots]),
        fences: RefCell::new(Fences::default()),
        trims: RefCell::new(vec![TrimGate::default(); slots]),
        usage: RefCell::new((0..slots).map(|s| cfg.routes.get(s).and_then(|r| r.max_entries).map_or_else(Usage::default, Usage::new)).collect()),
        pending: RefCell::new(Vec::new()),
        next_id: Cell::new(0),
        started_ms: fetch::now(),
        newest_stamp: Cell::new(0.0),
        cfg,
        precache_route,
        regexps,
        origin,
        scope,
    };
    ENGINE.with(|e| *e.borrow_mut() = Some(Rc::new(engine)));
    Ok(())
}

/// Decides during dispatch: a promise for `respondWith`, or `undefined` to leave the
/// request to the browser.
#[wasm_bindgen]
pub fn on_fetch(event: &FetchEvent) -> Option<Promise> {
    fetch::handle(engine()?, event)
}

/// Install: precache (rejects if any URL fails), then `skipWaiting` unless `waitForClients`.
#[wasm_bindgen]
pub fn on_install() -> Promise {
    lifecycle::install(engine())
}

/// Activate: delete other versions' `swcache-` caches, then claim clients.
#[wasm_bindgen]
pub fn on_activate() -> Promise {
    lifecycle::activate(engine())
}

/// A message from a page; answers on `event.ports[0]`. The promise is for `waitUntil`.
#[wasm_bindgen]
pub fn on_message(event: &ExtendableMessageEvent) -> Promise {
    messages::handle(engine(), event)
}
