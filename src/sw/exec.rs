//! Carries out the engine's commands: one function per command, each calling the
//! browser and handing the result back to the engine ([`super::feed`]) with the
//! operation and tag the command named. Results are read into the engine's plain facts
//! ([`Entry`], [`ResponseInfo`]); nothing is decided here.

use ::core::future::Future;
use ::core::pin::Pin;

use js_sys::{Array, Promise};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{Blob, Cache, Headers, Request, RequestCache, RequestInit, Response, ResponseInit};

use super::{cache_name, end, feed, js, opened, remember_cache, with_op};
use crate::core::engine::{Answer, Cmd, Entry, Io, OpId, PutResult, Req, ResponseInfo, Tag};
use crate::core::prelude::*;
use crate::core::text::push_u64;

/// Where the engine keeps its own state (feed position, strict mode), outside every
/// route's cache.
const STATE_CACHE: &str = "swcache-state";
const STATE_KEY: &str = "/__swcache/state";

pub(super) fn run(cmds: Vec<Cmd>) {
    for c in &cmds {
        exec(c);
    }
}

/// Runs `work` and feeds its result to the engine as the answer to `op`/`tag`.
fn step(op: OpId, tag: Tag, work: impl Future<Output = Io> + 'static) {
    run_step(op, tag, Box::pin(work));
}

/// One task type for every step (a generic task per command would each be compiled).
#[inline(never)]
fn run_step(op: OpId, tag: Tag, work: Pin<Box<dyn Future<Output = Io>>>) {
    spawn_local(async move {
        let io = work.await;
        feed(op, tag, io);
    });
}

async fn wait(p: Promise) -> Result<JsValue, JsValue> {
    JsFuture::from(p).await
}

/// One function per command, out of line: a cold start compiles only those it runs
/// (V8 compiles a wasm function on its first call).
fn exec(c: &Cmd) {
    match *c {
        Cmd::Match { op, tag, slot, ref req } => read(op, tag, slot, req),
        Cmd::Respond { op, ref answer } => respond(op, answer),
        Cmd::Done { op } => end(op, None),
        Cmd::Fetch { op, tag, ref req, reload } => fetch(op, tag, request(op, req, reload)),
        Cmd::Preload { op, tag } => preload(op, tag),
        Cmd::Put { op, tag, slot, ref req, from, stamp } => put(op, tag, slot, req, from, stamp),
        Cmd::Size { op, tag, from } => size(op, tag, from),
        Cmd::Timer { op, tag, ms } => timer(op, tag, ms),
        Cmd::Keys { op, tag, slot } => keys(op, tag, slot),
        Cmd::Delete { op, tag, slot, ref reqs } => delete(op, tag, slot, reqs),
        Cmd::Reply { op, ref json } => reply(op, json),
        Cmd::Broadcast { ref json } => broadcast(json),
        Cmd::CacheNames { op, tag } => cache_names(op, tag),
        Cmd::DeleteCache { op, tag, ref name } => delete_cache(op, tag, name),
        Cmd::NavigationPreload { op, tag, on } => settle(op, tag, js::navigation_preload(on)),
        Cmd::Unregister { op, tag } => settle(op, tag, js::scope().registration().unregister().ok()),
        Cmd::SkipWaiting { op, tag } => settle(op, tag, js::scope().skip_waiting().ok()),
        Cmd::Claim { op, tag } => settle(op, tag, Some(js::scope().clients().claim())),
        Cmd::AddRoutes { op, ref json } => add_routes(op, json),
        Cmd::Fail { op, ref text } => fail(op, text),
        Cmd::Warn { ref text } => web_sys::console::warn_1(&JsValue::from_str(text)),
        Cmd::LoadState { op, tag } => load_state(op, tag),
        Cmd::SaveState { op, tag, ref text } => save_state(op, tag, text.clone()),
        Cmd::FetchFeed { op, tag, ref path, ref etag, cap } => fetch_feed(op, tag, path.clone(), etag.clone(), cap),
    }
}

#[inline(never)]
fn delete_cache(op: OpId, tag: Tag, name: &str) {
    remember_cache(String::from(name), None);
    settle(op, tag, js::caches().ok().map(|c| c.delete(name)));
}

#[inline(never)]
fn add_routes(op: OpId, json: &str) {
    if let Some(ev) = with_op(op, |o| o.event.clone()).flatten() {
        js::add_routes(&ev, json);
    }
}

/// The operation failed (install fails with this text).
#[inline(never)]
fn fail(op: OpId, text: &str) {
    web_sys::console::error_1(&JsValue::from_str(text));
    end(op, Some(text));
}

/// A step that only has to finish (or fail): `Done` either way.
#[inline(never)]
fn settle(op: OpId, tag: Tag, p: Option<Promise>) {
    step(op, tag, async move {
        if let Some(p) = p {
            let _ = wait(p).await;
        }
        Io::Done
    });
}

#[inline(never)]
fn fetch(op: OpId, tag: Tag, r: Option<Request>) {
    step(op, tag, network(op, tag, r));
}

/// A fetch of `r`, kept under `tag`.
async fn network(op: OpId, tag: Tag, r: Option<Request>) -> Io {
    match r {
        Some(r) => fetched(op, tag, wait(js::scope().fetch_with_request(&r)).await),
        None => Io::Fetched(Err(String::from("no request"))),
    }
}

/// The navigation's preload response, or a fetch of the event's request without one.
#[inline(never)]
fn preload(op: OpId, tag: Tag) {
    let (pre, r) =
        with_op(op, |o| (o.event.as_ref().and_then(js::preload_response), o.req.clone())).unwrap_or_default();
    step(op, tag, async move {
        if let Some(p) = pre {
            if let Ok(res) = wait(p).await {
                if res.is_instance_of::<Response>() {
                    return fetched(op, tag, Ok(res));
                }
            }
        }
        network(op, tag, r).await
    });
}

/// The cached body read once (the ranged answer slices it), and its size.
#[inline(never)]
fn size(op: OpId, tag: Tag, from: Tag) {
    let body = with_op(op, |o| o.res.get(&from).and_then(|r| r.clone().ok())).flatten();
    step(op, tag, async move {
        let Some(blob) = body.and_then(|r| r.blob().ok()) else { return Io::Size(None) };
        match wait(blob).await {
            Ok(b) => {
                let b: Blob = b.unchecked_into();
                let size = b.size();
                with_op(op, |o| o.blob = Some(b));
                Io::Size((0.0..9e15).contains(&size).then_some(size as u64))
            }
            Err(_) => Io::Size(None),
        }
    });
}

/// What gloo-timers' `Timeout::new(…).forget()` does; gloo-timers needs std, which this
/// build leaves out (see Cargo.toml). The closure frees itself once called.
#[inline(never)]
fn timer(op: OpId, tag: Tag, ms: u32) {
    let fire = wasm_bindgen::closure::Closure::once_into_js(move || feed(op, tag, Io::Timer));
    let delay = i32::try_from(ms).unwrap_or(i32::MAX);
    let _ = js::scope().set_timeout_with_callback_and_timeout_and_arguments_0(fire.unchecked_ref(), delay);
}

#[inline(never)]
fn keys(op: OpId, tag: Tag, slot: u32) {
    let name = cache_name(slot);
    step(op, tag, async move {
        let Some(cache) = open(name).await else { return Io::Keys(Vec::new()) };
        match wait(cache.keys()).await {
            Ok(list) => {
                let list: Array = list.unchecked_into();
                let urls = list.iter().map(|k| k.unchecked_into::<Request>().url()).collect();
                with_op(op, |o| o.keys.insert(tag, list));
                Io::Keys(urls)
            }
            Err(_) => Io::Keys(Vec::new()),
        }
    });
}

#[inline(never)]
fn delete(op: OpId, tag: Tag, slot: u32, reqs: &[Req]) {
    let name = cache_name(slot);
    let reqs: Vec<Request> = reqs.iter().filter_map(|r| request(op, r, false)).collect();
    step(op, tag, async move {
        let Some(cache) = open(name).await else { return Io::Deleted(0) };
        let all: Array = reqs.iter().map(|r| cache.delete_with_request(r)).collect();
        match wait(Promise::all(&all)).await {
            Ok(gone) => Io::Deleted(gone.unchecked_into::<Array>().iter().filter(JsValue::is_truthy).count() as u32),
            Err(_) => Io::Deleted(0),
        }
    });
}

#[inline(never)]
fn reply(op: OpId, json: &str) {
    let port = with_op(op, |o| o.event.as_ref().and_then(js::reply_port)).flatten();
    if let (Some(port), Ok(v)) = (port, js_sys::JSON::parse(json)) {
        let _ = port.post_message(&v);
    }
}

/// Posts a notice to every window client.
#[inline(never)]
fn broadcast(json: &str) {
    let Ok(note) = js_sys::JSON::parse(json) else { return };
    let p = js::scope().clients().match_all_with_options(&js::window_clients());
    spawn_local(async move {
        if let Ok(list) = wait(p).await {
            for c in list.unchecked_into::<Array>().iter() {
                let _ = c.unchecked_into::<web_sys::Client>().post_message(&note);
            }
        }
    });
}

#[inline(never)]
fn cache_names(op: OpId, tag: Tag) {
    step(op, tag, async move {
        let names = match js::caches().map(|c| c.keys()) {
            Ok(p) => wait(p).await.map(|a| a.unchecked_into::<Array>().iter().filter_map(|n| n.as_string()).collect()),
            Err(e) => Err(e),
        };
        Io::CacheNames(names.unwrap_or_default())
    });
}

#[inline(never)]
fn load_state(op: OpId, tag: Tag) {
    step(op, tag, async move {
        let Some(cache) = open(Some(String::from(STATE_CACHE))).await else { return Io::Text(None) };
        let Ok(found) = wait(cache.match_with_str(STATE_KEY)).await else { return Io::Text(None) };
        let Some(res) = found.dyn_ref::<Response>() else { return Io::Text(None) };
        let Ok(text) = res.text() else { return Io::Text(None) };
        Io::Text(wait(text).await.ok().and_then(|t| t.as_string()))
    });
}

#[inline(never)]
fn save_state(op: OpId, tag: Tag, text: String) {
    step(op, tag, async move {
        let Some(cache) = open(Some(String::from(STATE_CACHE))).await else { return Io::Put(PutResult::Failed) };
        let Ok(res) = text_response(&text, 200, "", "application/json") else { return Io::Put(PutResult::Failed) };
        match wait(cache.put_with_str(STATE_KEY, &res)).await {
            Ok(_) => Io::Put(PutResult::Ok),
            Err(_) => Io::Put(PutResult::Failed),
        }
    });
}

/// The feed, past every cache: its status, ETag and (200) at most `cap` + 1 bytes of body.
#[inline(never)]
fn fetch_feed(op: OpId, tag: Tag, path: String, etag: Option<String>, cap: u32) {
    step(op, tag, async move {
        let p = js::fetch_feed(&path, etag.as_deref());
        let res = match wait(p).await {
            Ok(r) => r.unchecked_into::<Response>(),
            Err(e) => return Io::Fetched(Err(js::error_text(&e))),
        };
        let status = res.status();
        let etag = header(&res.headers(), "etag");
        if status != 200 {
            return Io::Feed { status, etag, text: None };
        }
        let text = match res.text() {
            Ok(p) => wait(p).await,
            Err(e) => Err(e),
        };
        match text.map(|t| t.as_string().unwrap_or_default()) {
            Ok(mut t) => {
                // Past `cap` bytes the engine refuses the feed: keep only enough to know.
                if t.len() > cap as usize {
                    let mut at = cap as usize + 1;
                    while !t.is_char_boundary(at) {
                        at += 1;
                    }
                    t.truncate(at);
                }
                Io::Feed { status, etag, text: Some(t) }
            }
            Err(e) => Io::Fetched(Err(js::error_text(&e))),
        }
    });
}

/// The request a command names.
fn request(op: OpId, r: &Req, reload: bool) -> Option<Request> {
    match r {
        Req::Own => with_op(op, |o| o.req.clone()).flatten(),
        Req::Path(p) => {
            let init = RequestInit::new();
            if reload {
                init.set_cache(RequestCache::Reload);
            }
            let url = js::scope().location().origin() + p;
            Request::new_with_str_and_init(&url, &init).ok()
        }
        Req::Key { list, index } => {
            with_op(op, |o| o.keys.get(list).map(|a| a.get(*index).unchecked_into::<Request>())).flatten()
        }
    }
}

/// An open cache (opened once, then kept).
async fn open(name: Option<String>) -> Option<Cache> {
    let name = name?;
    if let Some(c) = opened(&name) {
        return Some(c);
    }
    let c: Cache = wait(js::caches().ok()?.open(&name)).await.ok()?.unchecked_into();
    remember_cache(name, Some(c.clone()));
    Some(c)
}

fn header(h: &Headers, name: &str) -> Option<String> {
    h.get(name).ok().flatten().filter(|v| !v.is_empty())
}

/// What tells two versions of a response apart without reading bodies.
fn validator(h: &Headers) -> Option<String> {
    header(h, "etag").or_else(|| header(h, "last-modified")).or_else(|| header(h, "content-length"))
}

/// A cache read. Until the cache is open, one Cache Storage call instead of open + match
/// (a cold start's first read is one round trip to the browser, as for the floor).
#[inline(never)]
fn read(op: OpId, tag: Tag, slot: u32, req: &Req) {
    let name = cache_name(slot);
    let r = request(op, req, false);
    let found = match (&name, &r) {
        (Some(name), Some(r)) => match opened(name) {
            Some(c) => Some(c.match_with_request(r)),
            None => {
                // Later reads go through the open cache (a little quicker than by name).
                let found = js::match_in(r, name);
                let name = name.clone();
                spawn_local(async move {
                    open(Some(name)).await;
                });
                Some(found)
            }
        },
        _ => None,
    };
    step(op, tag, async move {
        let Some(found) = found else { return Io::Matched(None) };
        let Ok(v) = wait(found).await else { return Io::Matched(None) };
        let Ok(res) = v.dyn_into::<Response>() else { return Io::Matched(None) };
        let h = res.headers();
        let stamp = header(&h, "sw-cache-time").map_or(f64::NAN, |t| js_sys::Date::parse(&t));
        let entry = Entry {
            stamp_ms: stamp.is_finite().then_some(stamp),
            tags: header(&h, "cache-tag"),
            validator: validator(&h),
            size: header(&h, "content-length").and_then(|n| n.parse().ok()),
        };
        with_op(op, |o| o.res.insert(tag, res));
        Io::Matched(Some(entry))
    });
}

/// A fetch's result: the response kept under `tag`, its facts for the engine.
fn fetched(op: OpId, tag: Tag, r: Result<JsValue, JsValue>) -> Io {
    match r.map(JsCast::unchecked_into::<Response>) {
        Ok(res) => {
            let h = res.headers();
            let info = ResponseInfo {
                status: res.status(),
                opaque: res.type_() == web_sys::ResponseType::Opaque,
                redirected: res.redirected(),
                cache_control: header(&h, "cache-control"),
                vary: header(&h, "vary"),
                tags: header(&h, "cache-tag"),
                feed_seq: header(&h, "swcache-feed-seq"),
                validator: validator(&h),
            };
            with_op(op, |o| o.res.insert(tag, res));
            Io::Fetched(Ok(info))
        }
        Err(e) => Io::Fetched(Err(js::error_text(&e))),
    }
}

/// A cache write of the response fetched at `from`. The copy is taken now, before the
/// response goes to the page (this command comes first).
#[inline(never)]
fn put(op: OpId, tag: Tag, slot: u32, req: &Req, from: Tag, stamp: Option<f64>) {
    let name = cache_name(slot);
    let r = request(op, req, false);
    let copy = with_op(op, |o| o.res.get(&from).and_then(|res| res.clone().ok())).flatten();
    let copy = match (copy, stamp) {
        (Some(c), Some(ms)) => stamped(&c, ms).ok(),
        (c, None) => c,
        (None, _) => None,
    };
    step(op, tag, async move {
        let (Some(r), Some(copy)) = (r, copy) else { return Io::Put(PutResult::Failed) };
        let Some(cache) = open(name).await else { return Io::Put(PutResult::Failed) };
        match wait(cache.put_with_request(&r, &copy)).await {
            Ok(_) => Io::Put(PutResult::Ok),
            Err(e) if js::error_name(&e) == "QuotaExceededError" => Io::Put(PutResult::Quota),
            Err(_) => Io::Put(PutResult::Failed),
        }
    });
}

/// A copy carrying `sw-cache-time`: a fetched Response's headers are immutable, so the
/// copy is a new Response around the streamed body.
fn stamped(res: &Response, ms: f64) -> Result<Response, JsValue> {
    let h = Headers::new_with_headers(&res.headers())?;
    let time: String = js_sys::Date::new(&JsValue::from_f64(ms)).to_iso_string().into();
    h.set("sw-cache-time", &time)?;
    let init = ResponseInit::new();
    init.set_status(res.status());
    init.set_status_text(&res.status_text());
    init.set_headers(&h);
    Response::new_with_opt_readable_stream_and_init(res.body().as_ref(), &init)
}

fn text_response(text: &str, status: u16, reason: &str, kind: &str) -> Result<Response, JsValue> {
    let h = Headers::new()?;
    h.set("content-type", kind)?;
    let init = ResponseInit::new();
    init.set_status(status);
    init.set_status_text(reason);
    init.set_headers(&h);
    Response::new_with_opt_str_and_init(Some(text), &init)
}

const PLAIN: &str = "text/plain; charset=utf-8";

/// Answers the page's request.
#[inline(never)]
fn respond(op: OpId, answer: &Answer) {
    let from = match answer {
        Answer::Cached(t) | Answer::Network(t) | Answer::Range { from: t, .. } => Some(*t),
        _ => None,
    };
    let Some((resolve, base, blob)) = with_op(op, |o| {
        let base = from.and_then(|t| o.res.get(&t).cloned());
        (o.answer.take(), base, o.blob.clone())
    })
    .and_then(|(a, r, b)| Some((a?, r, b))) else {
        return;
    };
    let out: Result<JsValue, JsValue> = match answer {
        Answer::Cached(_) | Answer::Network(_) => Ok(base.map_or(JsValue::UNDEFINED, JsValue::from)),
        Answer::Error { status, reason, text } => text_response(text, *status, reason, PLAIN).map(JsValue::from),
        Answer::Unsatisfiable { size } => unsatisfiable(*size),
        Answer::Range { start, end, size, .. } => ranged(base, blob, *start, *end, *size),
    };
    // A response that could not be built: the network answers instead.
    let _ = resolve.call1(&JsValue::UNDEFINED, &out.unwrap_or(JsValue::UNDEFINED));
}

/// `416` with `Content-Range: bytes */size`.
#[inline(never)]
fn unsatisfiable(size: u64) -> Result<JsValue, JsValue> {
    let r = text_response("", 416, "Range Not Satisfiable", PLAIN)?;
    let mut range = String::from("bytes */");
    push_u64(&mut range, size);
    r.headers().set("content-range", &range)?;
    Ok(JsValue::from(r))
}

/// `206`: bytes `start..=end` of the `size`-byte cached body (read by a `Size` step).
#[inline(never)]
fn ranged(base: Option<Response>, blob: Option<Blob>, start: u64, end: u64, size: u64) -> Result<JsValue, JsValue> {
    let (Some(base), Some(blob)) = (base, blob) else { return Ok(JsValue::UNDEFINED) };
    let h = Headers::new_with_headers(&base.headers())?;
    let mut range = String::from("bytes ");
    push_u64(&mut range, start);
    range.push('-');
    push_u64(&mut range, end);
    range.push('/');
    push_u64(&mut range, size);
    h.set("content-range", &range)?;
    let mut length = String::new();
    push_u64(&mut length, end - start + 1);
    h.set("content-length", &length)?;
    let init = ResponseInit::new();
    init.set_status(206);
    init.set_status_text("Partial Content");
    init.set_headers(&h);
    let part = blob.slice_with_f64_and_f64(start as f64, (end + 1) as f64)?;
    Response::new_with_opt_blob_and_init(Some(&part), &init).map(JsValue::from)
}
