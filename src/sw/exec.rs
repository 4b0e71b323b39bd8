//! Carries out the engine's commands: one function per command, each calling the
//! browser and handing the result back to the engine ([`super::feed`]) with the
//! operation and tag the command named. Results are read into the engine's plain facts
//! ([`Entry`], [`ResponseInfo`]); nothing is decided here.
//!
//! A step that waits on promises is a chain of continuations ([`Next`]), each a boxed
//! closure over what it needs, run by one wasm-bindgen closure type ([`wait`]): no
//! executor, no task queue, and nothing compiled per command but the continuations.

use js_sys::{Array, Promise};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Blob, Cache, CacheQueryOptions, Headers, Request, RequestCache, RequestInit, Response, ResponseInit};

use super::{cache_name, end, feed, js, with_op};
use crate::policy::config::STATE_CACHE;
use crate::policy::engine::{Answer, Cmd, Entry, Io, Json, OpId, PutResult, Req, ResponseInfo, Tag};
use crate::policy::prelude::*;
use crate::policy::store;
use crate::policy::text::push_u64;

pub(super) fn run(cmds: Vec<Cmd>) {
    for c in &cmds {
        exec(c);
    }
}

/// What a step does next: hand the engine its result, or wait on another promise first.
enum Next {
    Io(Io),
    Wait(Promise, Then),
}

/// What to do with a promise's outcome: called once, with its value or its rejection.
type Then = Box<dyn FnOnce(Result<JsValue, JsValue>) -> Next>;

/// Waits on `p`, then continues with `then`.
fn wait_on(p: Promise, then: impl FnOnce(Result<JsValue, JsValue>) -> Next + 'static) -> Next {
    Next::Wait(p, Box::new(then))
}

/// Runs a step to its end: its result goes to the engine as the answer to `op`/`tag`
/// (`None`: a step of the adapter's own, whose result nobody waits for). The result is
/// always delivered from a promise callback, never during the command that started the
/// step, so the engine sees results in the order the browser produces them.
fn go(to: Option<(OpId, Tag)>, next: Next) {
    match next {
        Next::Wait(p, then) => wait(to, p, then),
        Next::Io(io) => wait(to, Promise::resolve(&JsValue::UNDEFINED), Box::new(move |_| Next::Io(io))),
    }
}

/// One continuation type for every wait (`js_promise::settle` instantiated once).
#[inline(never)]
fn wait(to: Option<(OpId, Tag)>, p: Promise, then: Then) {
    crate::js_promise::settle(&p, move |outcome| match then(outcome) {
        Next::Wait(p, then) => wait(to, p, then),
        Next::Io(io) => {
            if let Some((op, tag)) = to {
                feed(op, tag, io);
            }
        }
    });
}

fn step(op: OpId, tag: Tag, next: Next) {
    go(Some((op, tag)), next);
}

/// One function per command, out of line: a cold start compiles only those it runs
/// (V8 compiles a wasm function on its first call).
fn exec(c: &Cmd) {
    match *c {
        Cmd::Match { op, tag, slot, ref req } => read(op, tag, slot, req),
        Cmd::Respond { op, ref answer } => respond(op, answer),
        Cmd::Done { op } => end(op, None),
        Cmd::Fetch { op, tag, ref req, reload, headers_ms } => fetch(op, tag, request(op, req, reload), headers_ms),
        Cmd::Preload { op, tag, headers_ms } => preload(op, tag, headers_ms),
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
        Cmd::LoadState { op, tag, key } => load_state(op, tag, key),
        Cmd::SaveState { op, tag, key, ref text } => save_state(op, tag, key, text.clone()),
        Cmd::FetchFeed { op, tag, ref path, ref etag, cap, ms } => fetch_feed(op, tag, path, etag.as_deref(), cap, ms),
    }
}

#[inline(never)]
fn delete_cache(op: OpId, tag: Tag, name: &str) {
    settle(op, tag, js::caches().ok().map(|c| c.delete(name)));
}

#[inline(never)]
fn add_routes(op: OpId, json: &str) {
    if let Some(ev) = with_op(op, |o| o.event.clone()).flatten() {
        js::add_routes(&ev, json);
    }
}

/// The operation failed (install fails with this text, told to the registering pages as
/// a config error is: `register()` rejects with it).
#[inline(never)]
fn fail(op: OpId, text: &str) {
    web_sys::console::error_1(&JsValue::from_str(text));
    js::post_config_error(text);
    end(op, Some(text));
}

/// A step that only has to finish (or fail): `Done` either way.
#[inline(never)]
fn settle(op: OpId, tag: Tag, p: Option<Promise>) {
    let done = |_| Next::Io(Io::Done);
    step(op, tag, p.map_or(Next::Io(Io::Done), |p| wait_on(p, done)));
}

#[inline(never)]
fn fetch(op: OpId, tag: Tag, r: Option<Request>, headers_ms: Option<u32>) {
    step(op, tag, network(op, tag, r, headers_ms));
}

/// A fetch of `r`, kept under `tag`; with `headers_ms`, aborted and failed when no
/// response came within it (the shim's `responseWithin`).
fn network(op: OpId, tag: Tag, r: Option<Request>, headers_ms: Option<u32>) -> Next {
    let Some(r) = r else { return Next::Io(Io::Fetched(Err(String::from("no request")))) };
    let p = match headers_ms {
        Some(ms) => js::response_within(Some(&r), ms, None),
        None => js::scope().fetch_with_request(&r),
    };
    wait_on(p, move |res| Next::Io(fetched(op, tag, res)))
}

/// The navigation's preload response, or a fetch of the event's request without one (or
/// once it failed); each within `headers_ms`, if given.
#[inline(never)]
fn preload(op: OpId, tag: Tag, headers_ms: Option<u32>) {
    let (pre, r) =
        with_op(op, |o| (o.event.as_ref().and_then(js::preload_response), o.req.clone())).unwrap_or_default();
    let next = match pre {
        Some(p) => {
            let p = match headers_ms {
                Some(ms) => js::response_within(None, ms, Some(&p)),
                None => p,
            };
            wait_on(p, move |res| match res {
                Ok(res) if res.is_instance_of::<Response>() => Next::Io(fetched(op, tag, Ok(res))),
                _ => network(op, tag, r, headers_ms),
            })
        }
        None => network(op, tag, r, headers_ms),
    };
    step(op, tag, next);
}

/// The cached body read once (the ranged answer slices it), and its size. The response
/// itself is read, not a copy (Firefox read a copy of a 20 MB body in ~200 ms, the body
/// itself in ~60): it is replaced by one around the blob, for the whole-body answer.
#[inline(never)]
fn size(op: OpId, tag: Tag, from: Tag) {
    let res = with_op(op, |o| o.res.remove(&from)).flatten();
    let next = match res.and_then(|r| Some((r.blob().ok()?, r))) {
        Some((blob, res)) => wait_on(blob, move |b| {
            Next::Io(Io::Size(b.ok().and_then(|b| {
                let b: Blob = b.unchecked_into();
                let size = b.size();
                let init = ResponseInit::new();
                init.set_status(res.status());
                init.set_status_text(&res.status_text());
                init.set_headers(&res.headers());
                let whole = Response::new_with_opt_blob_and_init(Some(&b), &init).ok()?;
                with_op(op, |o| {
                    o.res.insert(from, whole);
                    o.blob = Some(b);
                });
                (0.0..9e15).contains(&size).then_some(size as u64)
            })))
        }),
        None => Next::Io(Io::Size(None)),
    };
    step(op, tag, next);
}

/// What gloo-timers' `Timeout::new(…).forget()` does; gloo-timers needs std, which this
/// build leaves out (see Cargo.toml). The closure frees itself once called.
#[inline(never)]
fn timer(op: OpId, tag: Tag, ms: u32) {
    let fire = Closure::once_into_js(move || feed(op, tag, Io::Timer));
    let delay = i32::try_from(ms).unwrap_or(i32::MAX);
    let _ = js::scope().set_timeout_with_callback_and_timeout_and_arguments_0(fire.unchecked_ref(), delay);
}

#[inline(never)]
fn keys(op: OpId, tag: Tag, slot: u32) {
    let next = in_cache(cache_name(slot), Io::Keys(None), move |cache| {
        wait_on(cache.keys(), move |list| {
            Next::Io(Io::Keys(list.ok().map(|list| {
                let list: Array = list.unchecked_into();
                let urls = list.iter().map(|k| k.unchecked_into::<Request>().url()).collect();
                with_op(op, |o| o.keys.insert(tag, list));
                urls
            })))
        })
    });
    step(op, tag, next);
}

/// Deletes entries. One named by its path (not a listed key) goes with every variant of
/// its URL, whatever its `Vary`: the engine names entries by URL.
#[inline(never)]
fn delete(op: OpId, tag: Tag, slot: u32, reqs: &[Req]) {
    let reqs: Vec<(Request, bool)> =
        reqs.iter().filter_map(|r| Some((request(op, r, false)?, matches!(r, Req::Path(_))))).collect();
    let next = in_cache(cache_name(slot), Io::Deleted(0), move |cache| {
        let any_vary = CacheQueryOptions::new();
        any_vary.set_ignore_vary(true);
        let all: Array = reqs
            .iter()
            .map(|(r, by_path)| {
                if *by_path {
                    cache.delete_with_request_and_options(r, &any_vary)
                } else {
                    cache.delete_with_request(r)
                }
            })
            .collect();
        wait_on(Promise::all(&all), |gone| {
            let gone = gone.map_or(0, |g| g.unchecked_into::<Array>().iter().filter(JsValue::is_truthy).count());
            Next::Io(Io::Deleted(gone as u32))
        })
    });
    step(op, tag, next);
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
    go(
        None,
        wait_on(p, move |list| {
            for c in list.map(JsCast::unchecked_into::<Array>).iter().flat_map(Array::iter) {
                let _ = c.unchecked_into::<web_sys::Client>().post_message(&note);
            }
            Next::Io(Io::Done)
        }),
    );
}

#[inline(never)]
fn cache_names(op: OpId, tag: Tag) {
    let next = match js::caches() {
        Ok(c) => wait_on(c.keys(), |names| {
            let names = names.map(|a| a.unchecked_into::<Array>().iter().filter_map(|n| n.as_string()).collect());
            Next::Io(Io::CacheNames(names.unwrap_or_default()))
        }),
        Err(_) => Next::Io(Io::CacheNames(Vec::new())),
    };
    step(op, tag, next);
}

#[inline(never)]
fn load_state(op: OpId, tag: Tag, key: &'static str) {
    let next = in_cache(Some(String::from(STATE_CACHE)), Io::State(None), |cache| {
        wait_on(cache.match_with_str(key), |found| {
            match found.ok().and_then(|v| v.dyn_into::<Response>().ok()).and_then(|res| res.json().ok()) {
                Some(json) => wait_on(json, |v| Next::Io(Io::State(v.ok().map(|v| crate::js_value::read_parsed(&v))))),
                None => Next::Io(Io::State(None)),
            }
        })
    });
    step(op, tag, next);
}

#[inline(never)]
fn save_state(op: OpId, tag: Tag, key: &'static str, text: String) {
    let next =
        in_cache(Some(String::from(STATE_CACHE)), Io::Put(PutResult::Failed), move |cache| {
            match text_response(&text, 200, "", "application/json") {
                Ok(res) => wait_on(cache.put_with_str(key, &res), |r| {
                    Next::Io(Io::Put(if r.is_ok() { PutResult::Ok } else { PutResult::Failed }))
                }),
                Err(_) => Next::Io(Io::Put(PutResult::Failed)),
            }
        });
    step(op, tag, next);
}

/// The feed, past every cache: its status, ETag, Date and Age, and (200) its body's size in
/// bytes with, when within `cap`, its value (`JSON.parse`, read as configs are). Aborted,
/// body read included, after `ms`.
#[inline(never)]
fn fetch_feed(op: OpId, tag: Tag, path: &str, etag: Option<&str>, cap: u32, ms: u32) {
    let next = wait_on(js::fetch_feed(path, etag, ms), move |res| {
        let res = match res {
            Ok(r) => r.unchecked_into::<Response>(),
            Err(e) => return Next::Io(Io::Fetched(Err(js::error_text(&e)))),
        };
        let status = res.status();
        let h = res.headers();
        let (etag, age) = (header(&h, "etag"), header(&h, "age"));
        let date = header(&h, "date").map(|d| js_sys::Date::parse(&d)).filter(|t| t.is_finite());
        if status != 200 {
            return Next::Io(Io::Feed { status, etag, date, age, body: None });
        }
        let Ok(text) = res.text() else { return Next::Io(Io::Fetched(Err(String::from("unreadable body")))) };
        wait_on(text, move |text| {
            Next::Io(match text.map(|t| t.as_string().unwrap_or_default()) {
                Ok(t) => {
                    // Past `cap` bytes the engine refuses the feed: not parsed.
                    let value = (t.len() <= cap as usize)
                        .then(|| js_sys::JSON::parse(&t).ok().map(|v| crate::js_value::read_parsed(&v)))
                        .flatten();
                    Io::Feed { status, etag, date, age, body: Some(Json { bytes: t.len(), value }) }
                }
                Err(e) => Io::Fetched(Err(js::error_text(&e))),
            })
        })
    });
    step(op, tag, next);
}

/// The request a command names.
fn request(op: OpId, r: &Req, reload: bool) -> Option<Request> {
    match r {
        Req::Own => {
            let own = with_op(op, |o| o.req.clone()).flatten()?;
            if !reload {
                return Some(own);
            }
            // Revalidated with the origin: the HTTP cache may hold the invalidated copy.
            // (A browser that cannot copy the request gets it as it came.) The page's
            // referrer goes with it (a copy's would be this script's).
            let init = RequestInit::new();
            init.set_cache(RequestCache::NoCache);
            init.set_referrer(&own.referrer());
            // (As the string it is: web-sys's enum would add a conversion table each way.)
            let policy = JsValue::from_str("referrerPolicy");
            let _ = js_sys::Reflect::set(&init, &policy, &js_sys::Reflect::get(&own, &policy).unwrap_or_default());
            // A media element's ranged request is no-cors, and a copy of one drops its
            // `Range` (only the browser may set it there): a whole 200 answered every
            // range, which Safari does not play. A same-origin copy keeps it (the engine
            // copies no other origin's ranged request).
            if own.mode() == web_sys::RequestMode::NoCors && header(&own.headers(), "range").is_some() {
                let _ = js_sys::Reflect::set(&init, &JsValue::from_str("mode"), &JsValue::from_str("same-origin"));
            }
            Some(Request::new_with_request_and_init(&own, &init).unwrap_or(own))
        }
        Req::Path(p) | Req::Page(p) => {
            let init = RequestInit::new();
            if reload {
                init.set_cache(RequestCache::Reload);
            }
            // (A path on this origin, or another origin's URL a request that changed it named.)
            let url = if p.starts_with('/') { js::scope().location().origin() + p } else { p.clone() };
            Request::new_with_str_and_init(&url, &init).ok()
        }
        Req::Key { list, index } => {
            with_op(op, |o| o.keys.get(list).map(|a| a.get(*index).unchecked_into::<Request>())).flatten()
        }
    }
}

/// Continues with the cache `name`, or answers `or` without it. Opened by its name for
/// every command, never kept: a cache the site deletes (a sign-out clearing Cache Storage)
/// lives on in any handle to it, and a kept handle would go on serving, listing and
/// filling the deleted copy until the worker stopped.
fn in_cache(name: Option<String>, or: Io, then: impl FnOnce(Cache) -> Next + 'static) -> Next {
    let Some(name) = name else { return Next::Io(or) };
    let Ok(p) = js::caches().map(|c| c.open(&name)) else { return Next::Io(or) };
    wait_on(p, move |c| match c {
        Ok(c) => then(c.unchecked_into()),
        Err(_) => Next::Io(or),
    })
}

fn header(h: &Headers, name: &str) -> Option<String> {
    h.get(name).ok().flatten().filter(|v| !v.is_empty())
}

/// What tells two versions of a response apart without reading bodies.
fn validator(h: &Headers) -> Option<String> {
    header(h, "etag").or_else(|| header(h, "last-modified")).or_else(|| header(h, "content-length"))
}

/// A cache read: one Cache Storage call by the cache's name (as [`in_cache`], no handle is
/// kept). An entry named by its path (an invalidation's or a prefetch's read) is found
/// whatever its `Vary`, as [`delete`] finds it: a bare request would miss a copy stored
/// for a page's request with `Vary: Accept`.
#[inline(never)]
fn read(op: OpId, tag: Tag, slot: u32, req: &Req) {
    let name = cache_name(slot);
    let r = request(op, req, false);
    let found = match (&name, &r) {
        (Some(name), Some(r)) => Some(js::match_in(r, name, matches!(req, Req::Path(_)))),
        _ => None,
    };
    let Some(found) = found else { return step(op, tag, Next::Io(Io::Matched(None))) };
    let next = wait_on(found, move |v| {
        let Ok(v) = v else { return Next::Io(Io::Unread) };
        let Some(res) = v.dyn_into::<Response>().ok() else { return Next::Io(Io::Matched(None)) };
        let h = res.headers();
        let stamp = header(&h, "sw-cache-time").map_or(f64::NAN, |t| js_sys::Date::parse(&t));
        let entry = Entry {
            stamp_ms: stamp.is_finite().then_some(stamp),
            tags: header(&h, "cache-tag"),
            validator: validator(&h),
            size: header(&h, "content-length").and_then(|n| crate::policy::text::parse_u64(n.trim())),
            opaque: res.type_() == web_sys::ResponseType::Opaque,
        };
        with_op(op, |o| o.res.insert(tag, res));
        Next::Io(Io::Matched(Some(entry)))
    });
    step(op, tag, next);
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

/// A cache write of the response fetched at `from`. While the page waits for its answer,
/// which may be this response (this command comes first), the cache gets a copy. Otherwise
/// nothing reads the response again and the cache gets it itself: a copy's unread twin
/// would keep the whole body in memory until the operation ended (an install holds every
/// precache response until its last one is stored).
#[inline(never)]
fn put(op: OpId, tag: Tag, slot: u32, req: &Req, from: Tag, stamp: Option<f64>) {
    let r = request(op, req, false);
    let copy = with_op(op, |o| match o.answer {
        Some(_) => o.res.get(&from).and_then(|res| res.clone().ok()),
        None => o.res.remove(&from),
    })
    .flatten();
    let copy = match (copy, stamp) {
        (Some(c), Some(ms)) => stamped(&c, ms).ok(),
        (c, None) => c,
        (None, _) => None,
    };
    let (Some(r), Some(copy)) = (r, copy) else { return step(op, tag, Next::Io(Io::Put(PutResult::Failed))) };
    let next = in_cache(cache_name(slot), Io::Put(PutResult::Failed), move |cache| {
        wait_on(cache.put_with_request(&r, &copy), |done| {
            Next::Io(Io::Put(match done {
                Ok(_) => PutResult::Ok,
                Err(e) if js::error_name(&e) == "QuotaExceededError" => PutResult::Quota,
                Err(_) => PutResult::Failed,
            }))
        })
    });
    step(op, tag, next);
}

/// A copy carrying `sw-cache-time`: a fetched Response's headers are immutable, so the
/// copy is a new Response around the streamed body. That body fails, and so the write,
/// if it stalls or ends short of its length ([`store::STALL_MS`], [`store::whole_length`]).
fn stamped(res: &Response, ms: f64) -> Result<Response, JsValue> {
    let h = Headers::new_with_headers(&res.headers())?;
    let whole = store::whole_length(header(&h, "content-length").as_deref(), header(&h, "content-encoding").as_deref());
    let body = res.body().map(|b| js::guard_body(&b, store::STALL_MS, whole.map_or(f64::NAN, |n| n as f64)));
    let time: String = js_sys::Date::new(&JsValue::from_f64(ms)).to_iso_string().into();
    h.set("sw-cache-time", &time)?;
    let init = ResponseInit::new();
    init.set_status(res.status());
    init.set_status_text(&res.status_text());
    init.set_headers(&h);
    Response::new_with_opt_readable_stream_and_init(body.as_ref(), &init)
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
        // (Undefined: the shim fetches the request itself.)
        Answer::Browser => Ok(JsValue::UNDEFINED),
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
