//! The fetch path: picks a route during dispatch, then drives the core strategy
//! [`Flow`] with real Cache and fetch calls.

use std::rc::Rc;

use js_sys::{Date, Promise};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use web_sys::{Cache, FetchEvent, Headers, Request, RequestCache, RequestMode, Response, ResponseInit, ResponseType};

use super::js::{self, Waited};
use super::Engine;
use crate::core::route::{self, CacheMode, RequestFacts, Selection};
use crate::core::store::{self, ResponseFacts};
use crate::core::strategy::{Action, Failure, Flow, Lookup, NetOutcome, Reply};
use crate::core::{evict, time, url, STAMP_HEADER};

pub fn now() -> f64 {
    Date::now()
}

pub(crate) fn handle(eng: Rc<Engine>, event: &FetchEvent) -> Option<Promise> {
    let req = event.request();
    let href = req.url();
    let facts = RequestFacts {
        is_get: req.method() == "GET",
        href: &href,
        has_range: req.headers().has("range").unwrap_or(false),
    };
    let slot = select_slot(&eng, &facts)?;
    let also_precache = slot != eng.precache_slot()
        && !eng.cfg.precache.is_empty()
        && url::same_origin_path(&href, &eng.origin).is_some_and(|p| eng.cfg.is_precached(p));
    let cache = match req.cache() {
        RequestCache::Reload => "reload",
        RequestCache::NoCache => "no-cache",
        RequestCache::NoStore => "no-store",
        _ => "default",
    };
    let mode = CacheMode::for_request(cache, req.mode() == RequestMode::Navigate);
    let event = event.clone();
    Some(future_to_promise(run(eng, slot, also_precache, req, mode, event)))
}

/// The cache slot of the route that handles a request, if any.
pub(crate) fn select_slot(eng: &Engine, facts: &RequestFacts<'_>) -> Option<usize> {
    let selection = route::select(&eng.cfg, &eng.origin, facts, |idx, text| {
        eng.regexps.get(idx as usize).is_some_and(|re| {
            re.set_last_index(0);
            re.test(text)
        })
    })?;
    Some(match selection {
        Selection::Route(i) => i,
        Selection::Precache => eng.precache_slot(),
    })
}

async fn run(
    eng: Rc<Engine>,
    slot: usize,
    also_precache: bool,
    req: Request,
    mode: CacheMode,
    event: FetchEvent,
) -> Result<JsValue, JsValue> {
    let (mut flow, mut action) = Flow::start(eng.route(slot), mode);
    let mut cached: Option<Response> = None;
    let mut in_flight: Option<Promise> = None;
    let mut fetched: Option<Response> = None;
    let mut started_at = 0.0;
    let mut timed_out = false;
    let reply = loop {
        action = match action {
            Action::ReadCache => {
                cached = lookup(&eng, slot, also_precache, &req).await;
                let found = match &cached {
                    None => Lookup::Miss,
                    Some(r) => Lookup::Hit { stamp_ms: stamp_of(r) },
                };
                flow.on_cache(found, now())
            }
            Action::Fetch { timeout_ms } => {
                started_at = now();
                let p = eng.scope.fetch_with_request(&req);
                in_flight = Some(p.clone());
                network(&mut flow, &mut fetched, &mut timed_out, &p, timeout_ms).await
            }
            Action::AwaitNetwork => match in_flight.clone() {
                Some(p) => network(&mut flow, &mut fetched, &mut timed_out, &p, None).await,
                None => flow.on_network(NetOutcome::Failed),
            },
            Action::Respond(reply) => break reply,
        };
    };
    eng.stats.borrow_mut().record(slot, reply, flow.network_error);
    match reply {
        Reply::Cache { revalidate, .. } => {
            let late = if revalidate {
                started_at = now();
                Some(eng.scope.fetch_with_request(&req))
            } else if timed_out {
                in_flight // answered from the cache on timeout: keep the response when it arrives
            } else {
                None
            };
            if let (Some(p), true) = (late, flow.may_store()) {
                let bg = store_when_ready(eng.clone(), slot, req, p, started_at);
                let _ = event.wait_until(&bg);
            }
            cached.map(Into::into).ok_or_else(|| JsValue::from_str("swcache: cached copy vanished"))
        }
        Reply::Network => {
            let resp = fetched.ok_or_else(|| JsValue::from_str("swcache: network response missing"))?;
            if flow.may_store() {
                if let Some(put) = store(eng, slot, req, &resp, started_at) {
                    let _ = event.wait_until(&put);
                }
            }
            Ok(resp.into())
        }
        Reply::Error(f) => error_response(f).map(Into::into),
    }
}

/// Awaits the fetch (with its timeout) and feeds the outcome to the flow; `timed_out`
/// records that the fetch is still running after the flow moved on.
async fn network(
    flow: &mut Flow,
    fetched: &mut Option<Response>,
    timed_out: &mut bool,
    p: &Promise,
    timeout_ms: Option<u32>,
) -> Action {
    *timed_out = false;
    match js::wait(p, timeout_ms).await {
        Waited::TimedOut => {
            *timed_out = true;
            flow.on_timeout()
        }
        Waited::Rejected => flow.on_network(NetOutcome::Failed),
        Waited::Value(v) => {
            let resp: Response = v.unchecked_into();
            let outcome = if resp.status() >= 500 { NetOutcome::ServerError } else { NetOutcome::Ok };
            *fetched = Some(resp);
            flow.on_network(outcome)
        }
    }
}

/// The route's cache handle, opened once and kept.
pub(crate) async fn open(eng: &Engine, slot: usize) -> Result<Cache, JsValue> {
    if let Some(c) = eng.caches.borrow().get(slot).cloned().flatten() {
        return Ok(c);
    }
    let storage = eng.scope.caches()?;
    let cache: Cache = JsFuture::from(storage.open(&eng.route(slot).cache_name)).await?.unchecked_into();
    if let Some(s) = eng.caches.borrow_mut().get_mut(slot) {
        *s = Some(cache.clone());
    }
    Ok(cache)
}

async fn match_in(eng: &Engine, slot: usize, req: &Request) -> Option<Response> {
    let cache = open(eng, slot).await.ok()?;
    let found = JsFuture::from(cache.match_with_request(req)).await.ok()?;
    found.dyn_into::<Response>().ok()
}

/// Reads the route's cache, then the precache for precached URLs. An entry an
/// invalidation is still deleting reads as absent.
pub(crate) async fn lookup(eng: &Engine, slot: usize, also_precache: bool, req: &Request) -> Option<Response> {
    if let Some(r) = match_in(eng, slot, req).await.filter(|r| !hidden(eng, slot, req, r)) {
        touch(eng, slot, req);
        return Some(r);
    }
    if also_precache {
        let precache = eng.precache_slot();
        return match_in(eng, precache, req).await.filter(|r| !hidden(eng, precache, req, r));
    }
    None
}

/// Records a use of `req`'s entry, for eviction in routes with `maxEntries` (no I/O:
/// the usage lives in memory).
fn touch(eng: &Engine, slot: usize, req: &Request) {
    if eng.route(slot).max_entries.is_none() {
        return;
    }
    let href = req.url();
    if let Some((_, path)) = url::split(&href) {
        if let Some(r) = eng.usage.borrow_mut().get_mut(slot) {
            r.touch(path);
        }
    }
}

fn hidden(eng: &Engine, slot: usize, req: &Request, resp: &Response) -> bool {
    let fences = eng.fences.borrow();
    if !fences.is_hiding() {
        return false;
    }
    let href = req.url();
    let path = url::split(&href).map_or("", |(_, p)| p);
    let tags = resp.headers().get(TAG_HEADER).ok().flatten();
    fences.hides(path, slot, tags.as_deref(), stamp_of(resp))
}

pub fn stamp_of(resp: &Response) -> Option<f64> {
    let value = resp.headers().get(STAMP_HEADER).ok()??;
    time::parse_iso(&value)
}

/// A copy of `resp` carrying `sw-cache-time`, its body streamed from a tee of the
/// original (a fetched Response's headers are immutable).
pub fn stamped_copy(resp: &Response, started_at: f64) -> Result<Response, JsValue> {
    let copy = resp.clone()?;
    let headers = Headers::new_with_headers(&copy.headers())?;
    headers.set(STAMP_HEADER, &time::iso_string(started_at))?;
    let init = ResponseInit::new();
    init.set_status(copy.status());
    init.set_status_text(&copy.status_text());
    init.set_headers(&headers);
    Response::new_with_opt_readable_stream_and_init(copy.body().as_ref(), &init)
}

/// [`stamped_copy`] for a write to the caches, remembering the newest stamp written.
pub(crate) fn copy_for_cache(eng: &Engine, resp: &Response, started_at: f64) -> Result<Response, JsValue> {
    eng.newest_stamp.set(eng.newest_stamp.get().max(started_at));
    stamped_copy(resp, started_at)
}

/// If `resp` may be stored: prepares the stamped copy now (before the body is read)
/// and returns the promise of the write (then the `maxEntries` trim), for `waitUntil`.
/// Nothing is stored if an invalidation fence covers a fetch that started before it.
pub(crate) fn store(eng: Rc<Engine>, slot: usize, req: Request, resp: &Response, started_at: f64) -> Option<Promise> {
    let headers = resp.headers();
    let cache_control = headers.get("cache-control").ok().flatten();
    let vary = headers.get("vary").ok().flatten();
    let opaque = resp.type_() == ResponseType::Opaque;
    let facts = ResponseFacts {
        status: resp.status(),
        opaque,
        redirected: resp.redirected(),
        cache_control: cache_control.as_deref(),
        vary: vary.as_deref(),
    };
    let is_navigation = req.mode() == RequestMode::Navigate;
    store::storable(&facts, eng.route(slot).opaque, is_navigation).ok()?;
    if fenced(&eng, slot, &req, resp, started_at) {
        return None;
    }
    let copy = if opaque { resp.clone() } else { copy_for_cache(&eng, resp, started_at) }.ok()?;
    touch(&eng, slot, &req);
    let id = eng.next_id.get().wrapping_add(1);
    eng.next_id.set(id);
    let eng2 = eng.clone();
    let write = background(async move {
        let written = put_with_relief(&eng2, slot, &req, &copy).await;
        eng2.pending.borrow_mut().retain(|(i, _)| *i != id);
        written?;
        trim(&eng2, slot).await
    });
    eng.pending.borrow_mut().push((id, write.clone()));
    Some(write)
}

fn fenced(eng: &Engine, slot: usize, req: &Request, resp: &Response, started_at: f64) -> bool {
    let fences = eng.fences.borrow();
    if fences.is_empty() {
        return false;
    }
    let href = req.url();
    let path = url::split(&href).map_or("", |(_, p)| p);
    let tags = resp.headers().get(TAG_HEADER).ok().flatten();
    fences.blocks(path, slot, tags.as_deref(), started_at)
}

/// Response header holding an entry's invalidation tags.
pub const TAG_HEADER: &str = "cache-tag";

fn is_quota_error(e: &JsValue) -> bool {
    js_sys::Reflect::get(e, &JsValue::from_str("name")).ok().and_then(|n| n.as_string()).as_deref()
        == Some("QuotaExceededError")
}

/// `cache.put`; on a quota error, drops the route's oldest quarter and tries once more
/// with a fresh fetch (the failed write consumed the body).
async fn put_with_relief(eng: &Rc<Engine>, slot: usize, req: &Request, copy: &Response) -> Result<(), JsValue> {
    let cache = open(eng, slot).await?;
    match JsFuture::from(cache.put_with_request(req, copy)).await {
        Ok(_) => Ok(()),
        Err(e) if is_quota_error(&e) => {
            evict_least_used(eng, slot, evict::quota_relief).await?;
            let started = now();
            let resp: Response = JsFuture::from(eng.scope.fetch_with_request(req)).await?.unchecked_into();
            if resp.status() != 200 || fenced(eng, slot, req, &resp, started) {
                return Err(e);
            }
            let again = copy_for_cache(eng, &resp, started)?;
            JsFuture::from(cache.put_with_request(req, &again)).await.map(|_| ())
        }
        Err(e) => Err(e),
    }
}

/// Enforces `maxEntries`: one trim at a time per cache; stores that land meanwhile make
/// it run once more.
async fn trim(eng: &Rc<Engine>, slot: usize) -> Result<(), JsValue> {
    let Some(max) = eng.route(slot).max_entries else { return Ok(()) };
    if !eng.trims.borrow_mut()[slot].request() {
        return Ok(());
    }
    loop {
        let pass = evict_least_used(eng, slot, |count| evict::excess(count, max)).await;
        if !eng.trims.borrow_mut()[slot].finished() {
            return pass;
        }
    }
}

/// Deletes `how_many(count)` entries, least used first (see [`evict`]).
async fn evict_least_used(eng: &Rc<Engine>, slot: usize, how_many: impl FnOnce(usize) -> usize) -> Result<(), JsValue> {
    let cache = open(eng, slot).await?;
    let listed_at = eng.usage.borrow()[slot].now();
    let keys: js_sys::Array = JsFuture::from(cache.keys()).await?.unchecked_into();
    let n = how_many(keys.length() as usize);
    if n == 0 {
        return Ok(());
    }
    let hrefs: Vec<String> = keys.iter().map(|k| k.unchecked_into::<Request>().url()).collect();
    let paths: Vec<&str> = hrefs.iter().map(|h| url::split(h).map_or(h.as_str(), |(_, p)| p)).collect();
    let victims = eng.usage.borrow_mut()[slot].plan(&paths, n, listed_at);
    let deletions = js_sys::Array::new();
    for i in victims {
        deletions.push(&cache.delete_with_request(keys.get(i as u32).unchecked_ref()));
    }
    let done: js_sys::Array = JsFuture::from(Promise::all(&deletions)).await?.unchecked_into();
    let removed = done.iter().filter(|d| d.as_bool() == Some(true)).count() as u64;
    eng.stats.borrow_mut().route_mut(slot).evictions += removed;
    Ok(())
}

/// Stores a response that arrives after the page was answered (revalidation, or a
/// networkFirst fetch that outlived its timeout).
fn store_when_ready(eng: Rc<Engine>, slot: usize, req: Request, p: Promise, started_at: f64) -> Promise {
    background(async move {
        let resp: Response = JsFuture::from(p).await?.unchecked_into();
        if let Some(put) = store(eng, slot, req, &resp, started_at) {
            JsFuture::from(put).await?;
        }
        Ok(())
    })
}

/// Runs work off the response path; a failure is logged, never an unhandled rejection.
pub(crate) fn background(work: impl std::future::Future<Output = Result<(), JsValue>> + 'static) -> Promise {
    future_to_promise(async move {
        if let Err(e) = work.await {
            web_sys::console::warn_2(&JsValue::from_str("swcache: background cache work failed:"), &e);
        }
        Ok(JsValue::UNDEFINED)
    })
}

fn error_response(f: Failure) -> Result<Response, JsValue> {
    let headers = Headers::new()?;
    headers.set("content-type", "text/plain; charset=utf-8")?;
    let init = ResponseInit::new();
    init.set_status(f.status());
    init.set_status_text(if f.status() == 503 { "Service Unavailable" } else { "Gateway Timeout" });
    init.set_headers(&headers);
    Response::new_with_opt_str_and_init(Some(f.message()), &init)
}
