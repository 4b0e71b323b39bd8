//! Messages from pages: CACHE_INVALIDATION, PREFETCH, GET_STATS. Validation is the
//! core's ([`crate::core::message`]); a malformed message gets `{type:'ERROR'}` and
//! changes nothing.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use js_sys::{Array, Object, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use web_sys::{Cache, ExtendableMessageEvent, MessagePort, Request, Response};

use super::fetch::{self, now, stamp_of, TAG_HEADER};
use super::js::{self, num, object};
use super::Engine;
use crate::core::fence;
use crate::core::message::{self, Context, Invalidation, Message, Selector};
use crate::core::route::RequestFacts;
use crate::core::stats::Counters;
use crate::core::strategy::is_fresh;
use crate::core::url;

/// Most prefetches in flight at once.
pub const PREFETCH_CONCURRENCY: usize = 4;

fn counters(c: &Counters) -> [(&'static str, JsValue); 6] {
    [
        ("hits", num(c.hits)),
        ("misses", num(c.misses)),
        ("staleServed", num(c.stale_served)),
        ("networkErrors", num(c.network_errors)),
        ("evictions", num(c.evictions)),
        ("invalidations", num(c.invalidations)),
    ]
}

fn stats_reply(eng: &Engine) -> Object {
    let stats = eng.stats.borrow();
    let routes = Object::new();
    for slot in eng.slots() {
        let _ = Reflect::set(&routes, &JsValue::from_str(&eng.route(slot).name), &object(&counters(&stats.route(slot))));
    }
    let mut props: Vec<(&str, JsValue)> = vec![("type", JsValue::from_str("STATS"))];
    props.extend(counters(&stats.total()));
    props.push(("routes", routes.into()));
    props.push(("engine", JsValue::from_str("ok")));
    object(&props)
}

fn error_reply(msg: &str) -> Object {
    object(&[("type", JsValue::from_str("ERROR")), ("error", JsValue::from_str(msg))])
}

struct Replier(Option<MessagePort>);

impl Replier {
    fn send(&self, o: Object) {
        if let Some(p) = &self.0 {
            let _ = p.post_message(&o);
        }
    }
}

pub fn handle(eng: Option<Rc<Engine>>, event: &ExtendableMessageEvent) -> Promise {
    let port = Replier(event.ports().get(0).dyn_into().ok());
    let done = Promise::resolve(&JsValue::UNDEFINED);
    let Some(eng) = eng else {
        port.send(error_reply("swcache: the worker never called swcache.start(config)"));
        return done;
    };
    let value = js::to_value(&event.data(), &mut Vec::new());
    let base = eng.origin.clone();
    let resolve = |s: &str| web_sys::Url::new_with_base(s, &base).ok().map(|u| u.href());
    let names = eng.slot_names();
    let ctx = Context { origin: &eng.origin, slot_names: &names, now_ms: now(), resolve: &resolve };
    let parsed = message::parse(&value, &ctx);
    drop(names);
    match parsed {
        Err(e) => port.send(error_reply(&e)),
        Ok(Message::GetStats) => port.send(stats_reply(&eng)),
        Ok(Message::Invalidate(inv)) => {
            let inv = Rc::new(inv);
            // The fence goes up before anything awaits: from here on, reads no longer
            // see covered entries and later stores check it.
            eng.fences.borrow_mut().raise(inv.clone(), now());
            // Writes and earlier invalidations' deletions under way land first.
            let earlier: Array = eng.pending.borrow().iter().map(|(_, p)| p.clone()).collect();
            let id = eng.next_id.get().wrapping_add(1);
            eng.next_id.set(id);
            let eng2 = eng.clone();
            let work = future_to_promise(async move {
                let result = invalidate(&eng2, &inv, &port, &earlier).await;
                eng2.fences.borrow_mut().settle(&inv);
                eng2.pending.borrow_mut().retain(|(i, _)| *i != id);
                if let Err(e) = result {
                    port.send(error_reply(&format!("swcache: invalidation failed: {}", js::error_text(&e))));
                }
                Ok(JsValue::UNDEFINED)
            });
            eng.pending.borrow_mut().push((id, work.clone()));
            return work;
        }
        Ok(Message::Prefetch { paths, save_data }) => {
            return future_to_promise(async move {
                let t = prefetch(eng, paths, save_data).await;
                port.send(object(&[
                    ("type", JsValue::from_str("PREFETCH_DONE")),
                    ("fetched", num(t.fetched.get())),
                    ("skipped", num(t.skipped.get())),
                    ("failed", num(t.failed.get())),
                ]));
                Ok(JsValue::UNDEFINED)
            });
        }
    }
    done
}

async fn all_numbers(promises: &Array) -> Result<u64, JsValue> {
    let results: Array = JsFuture::from(Promise::all(promises)).await?.unchecked_into();
    Ok(results.iter().map(|v| v.as_f64().unwrap_or(0.0) as u64).sum())
}

fn done_reply(removed: u64) -> Object {
    object(&[("type", JsValue::from_str("CACHE_INVALIDATION_DONE")), ("removed", num(removed))])
}

/// Lets writes (and earlier invalidations) already under way land, finds the covered entries of every cache of this
/// version and deletes those stamped before the fence, replying DONE with the count.
///
/// When every entry is known to be older than the fence and no tag needs reading, the
/// count comes from the cache keys and DONE is sent before the deletions: the fence
/// already hides those entries from every read until they are gone.
async fn invalidate(eng: &Rc<Engine>, inv: &Rc<Invalidation>, port: &Replier, earlier: &Array) -> Result<(), JsValue> {
    JsFuture::from(Promise::all_settled(earlier)).await?;
    let sel = &inv.selector;
    let early = sel.tags.is_empty() && fence::all_stamped_before(inv.at_ms, eng.started_ms, eng.newest_stamp.get());
    let mut listings = Vec::new();
    for slot in eng.slots() {
        let cache = fetch::open(eng, slot).await?;
        let keys = (early || !sel.urls_only()).then(|| JsFuture::from(cache.keys()));
        listings.push((slot, cache, keys));
    }
    let mut found = Vec::new();
    for (slot, cache, keys) in listings {
        let candidates = match keys {
            Some(keys) => {
                let keys: Array = keys.await?.unchecked_into();
                keys.iter()
                    .map(|k| k.unchecked_into::<Request>())
                    .filter(|r| path_of(r).is_some_and(|p| sel.may_match(&p, slot)))
                    .collect()
            }
            None => routed_urls(eng, slot, sel)?,
        };
        found.push((slot, cache, candidates));
    }
    if early {
        let mut stats = eng.stats.borrow_mut();
        for (slot, _, candidates) in &found {
            stats.route_mut(*slot).invalidations += candidates.len() as u64;
        }
        drop(stats);
        port.send(done_reply(found.iter().map(|f| f.2.len() as u64).sum()));
    }
    if early {
        // Every listed entry is older than the fence: delete without reading stamps (a
        // copy stored again in the few ms since the listing may go too; it is refetched).
        let deletions = Array::new();
        for (_, cache, candidates) in &found {
            for req in candidates {
                deletions.push(&cache.delete_with_request(req));
            }
        }
        JsFuture::from(Promise::all(&deletions)).await?;
        return Ok(());
    }
    let per_slot = Array::new();
    for (slot, cache, candidates) in found {
        let checks = Array::new();
        for req in candidates {
            checks.push(&future_to_promise(remove_if_covered(cache.clone(), req, slot, inv.clone())));
        }
        let eng = eng.clone();
        per_slot.push(&future_to_promise(async move {
            let removed = all_numbers(&checks).await?;
            eng.stats.borrow_mut().route_mut(slot).invalidations += removed;
            Ok(num(removed))
        }));
    }
    port.send(done_reply(all_numbers(&per_slot).await?));
    Ok(())
}

/// Within a version a URL can only be stored by the route that handles it (or the
/// precache): the selector's URLs that `slot` may hold.
fn routed_urls(eng: &Engine, slot: usize, sel: &Selector) -> Result<Vec<Request>, JsValue> {
    let mut out = Vec::new();
    for path in sel.urls.iter() {
        let mut href = eng.origin.clone();
        href.push_str(path);
        let facts = RequestFacts { is_get: true, href: &href, has_range: false };
        let routed = fetch::select_slot(eng, &facts) == Some(slot);
        if routed || (slot == eng.precache_slot() && eng.cfg.is_precached(path)) {
            out.push(Request::new_with_str(&href)?);
        }
    }
    Ok(out)
}

fn path_of(req: &Request) -> Option<String> {
    url::split(&req.url()).map(|(_, p)| p.to_string())
}

async fn remove_if_covered(cache: Cache, req: Request, slot: usize, inv: Rc<Invalidation>) -> Result<JsValue, JsValue> {
    let Ok(resp) = JsFuture::from(cache.match_with_request(&req)).await?.dyn_into::<Response>() else {
        return Ok(num(0));
    };
    let path = path_of(&req).unwrap_or_default();
    let tags = resp.headers().get(TAG_HEADER).ok().flatten();
    if !inv.removes(&path, slot, tags.as_deref(), stamp_of(&resp)) {
        return Ok(num(0));
    }
    let deleted = JsFuture::from(cache.delete_with_request(&req)).await?;
    Ok(num(u64::from(deleted.as_bool() == Some(true))))
}

#[derive(Default)]
struct Tally {
    fetched: Cell<u64>,
    skipped: Cell<u64>,
    failed: Cell<u64>,
}

fn worker_save_data(eng: &Engine) -> bool {
    let connection = Reflect::get(&eng.scope.navigator(), &JsValue::from_str("connection")).unwrap_or(JsValue::UNDEFINED);
    !connection.is_undefined()
        && Reflect::get(&connection, &JsValue::from_str("saveData")).ok().and_then(|v| v.as_bool()) == Some(true)
}

/// Fetches and stores route-matched URLs that have no fresh copy, at most
/// [`PREFETCH_CONCURRENCY`] at a time; resolves once every fetched URL is stored.
async fn prefetch(eng: Rc<Engine>, paths: Vec<String>, save_data: bool) -> Rc<Tally> {
    let tally = Rc::new(Tally::default());
    if save_data || worker_save_data(&eng) {
        tally.skipped.set(paths.len() as u64);
        return tally;
    }
    let queue = Rc::new(RefCell::new(VecDeque::from(paths)));
    let lanes = Array::new();
    for _ in 0..PREFETCH_CONCURRENCY.min(queue.borrow().len()) {
        let (eng, queue, tally) = (eng.clone(), queue.clone(), tally.clone());
        lanes.push(&future_to_promise(async move {
            loop {
                let next = queue.borrow_mut().pop_front();
                let Some(path) = next else { break };
                let counter = match prefetch_one(&eng, &path).await {
                    Ok(true) => &tally.fetched,
                    Ok(false) => &tally.skipped,
                    Err(_) => &tally.failed,
                };
                counter.set(counter.get() + 1);
            }
            Ok(JsValue::UNDEFINED)
        }));
    }
    let _ = JsFuture::from(Promise::all(&lanes)).await;
    tally
}

/// `Ok(true)` fetched and stored, `Ok(false)` skipped (no route, fresh, or a route that
/// stores nothing), `Err` failed.
async fn prefetch_one(eng: &Rc<Engine>, path: &str) -> Result<bool, JsValue> {
    let mut href = eng.origin.clone();
    href.push_str(path);
    let facts = RequestFacts { is_get: true, href: &href, has_range: false };
    let Some(slot) = fetch::select_slot(eng, &facts) else { return Ok(false) };
    let route = eng.route(slot);
    if !route.strategy.stores() {
        return Ok(false);
    }
    let req = Request::new_with_str(&href)?;
    if let Some(copy) = fetch::lookup(eng, slot, false, &req).await {
        if is_fresh(stamp_of(&copy), now(), route.max_age_ms) {
            return Ok(false);
        }
    }
    let started = now();
    let resp: Response = JsFuture::from(eng.scope.fetch_with_request(&req)).await?.unchecked_into();
    let write = fetch::store(eng.clone(), slot, req, &resp, started)
        .ok_or_else(|| JsValue::from_str("not storable"))?;
    JsFuture::from(write).await?;
    Ok(true)
}
