//! The worker adapter's own tests, run by wasm-bindgen-test in headless Chromium inside a
//! real service worker (`./build.sh test`: `cargo test --lib --target
//! wasm32-unknown-unknown --no-default-features --features sw`). They check what the
//! native tests cannot: how the adapter reads the browser's values into the engine's facts
//! and carries out its commands with the real APIs (Cache Storage, Response, Blob,
//! MessagePort, BroadcastChannel, DOMException). No network: the engine's fetches go to a
//! stand-in for `self.fetch` that answers with `Response` objects.
//!
//! The tests run one after another in one worker, so they share the adapter's globals and
//! the origin's caches: each starts its own engine on emptied caches and waits, before it
//! ends, for every operation it started to end.

use ::core::cell::RefCell;

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{
    BroadcastChannel, Cache, DomException, ExtendableMessageEvent, ExtendableMessageEventInit, FetchEvent,
    FetchEventInit, Headers, MessageChannel, Request, RequestInit, Response, ResponseInit,
};

use super::{exec, js, on_fetch, on_message, start_engine, test_regexp, Op, REGEXPS, WORKER};
use crate::policy::engine::{Cmd, Req, Tag};
use crate::policy::prelude::*;
use crate::policy::value::{Value, MAX_ARRAY, MAX_DEPTH};

wasm_bindgen_test_configure!(run_in_service_worker);

/// A cacheFirst route for `/p/` (a RegExp: the browser runs it), copies fresh for a minute.
const PAGES: &str =
    "({version: 'v1', routes: [{name: 'pages', match: /^\\/p\\//, strategy: 'cacheFirst', maxAge: 60000}]})";

// ---- helpers -------------------------------------------------------------------------

async fn wait(p: Promise) -> Result<JsValue, JsValue> {
    JsFuture::from(p).await
}

fn eval(source: &str) -> JsValue {
    js_sys::eval(source).expect("the test's JavaScript evaluates")
}

async fn sleep(ms: i32) {
    let p = Promise::new(&mut |resolve, _| {
        let _ = js::scope().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
    });
    let _ = wait(p).await;
}

/// Property `path` of a JS value (`"routes.0.entries"`).
fn at(v: &JsValue, path: &str) -> JsValue {
    path.split('.').fold(v.clone(), |v, k| Reflect::get(&v, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED))
}

fn text_at(v: &JsValue, path: &str) -> String {
    at(v, path).as_string().unwrap_or_else(|| panic!("{path} is a string in {}", json(v)))
}

fn json(v: &JsValue) -> String {
    js_sys::JSON::stringify(v).map(String::from).unwrap_or_default()
}

fn response(body: &str, status: u16, headers: &[(&str, &str)]) -> Response {
    let h = Headers::new().unwrap();
    for (k, v) in headers {
        h.set(k, v).unwrap();
    }
    let init = ResponseInit::new();
    init.set_status(status);
    init.set_headers(&h);
    Response::new_with_opt_str_and_init(Some(body), &init).unwrap()
}

async fn body(r: &Response) -> String {
    wait(r.text().unwrap()).await.unwrap().as_string().unwrap()
}

fn header(r: &Response, name: &str) -> Option<String> {
    r.headers().get(name).unwrap()
}

fn url(path: &str) -> String {
    js::scope().location().origin() + path
}

/// The cache of the engine's slot `slot`. (Nothing here panics while it holds a borrow
/// of the adapter's state: a test that fails must not fail the ones after it.)
fn cache_name(slot: usize) -> String {
    WORKER.with_borrow(|w| w.as_ref().and_then(|w| w.names.get(slot).cloned())).expect("an engine with that slot")
}

async fn open(name: &str) -> Cache {
    wait(js::caches().unwrap().open(name)).await.unwrap().unchecked_into()
}

async fn cached(name: &str, path: &str) -> Option<Response> {
    wait(open(name).await.match_with_str(&url(path))).await.unwrap().dyn_into().ok()
}

/// Waits (up to 3 s) until `path` is in cache `name`.
async fn stored(name: &str, path: &str) -> Response {
    for _ in 0..300 {
        if let Some(r) = cached(name, path).await {
            return r;
        }
        sleep(10).await;
    }
    panic!("{path} was never stored in {name}");
}

/// Whether the engine has no operation left (each one's event released with its last
/// result), waiting up to 3 s.
async fn idle() -> bool {
    for _ in 0..300 {
        if WORKER.with_borrow(|w| w.as_ref().is_none_or(|w| w.engine.running() == 0)) {
            return true;
        }
        sleep(10).await;
    }
    false
}

/// Every operation a test started has ended.
async fn settled() {
    assert!(idle().await, "operations still running after 3 s");
}

/// Empties the origin's caches and starts an engine on `config` (JavaScript source),
/// once the previous test's operations ended (a failed test's may never end).
async fn fresh_engine(config: &str) {
    idle().await;
    install_shim_guard();
    // What a failed test may have left replaced.
    let _ = Reflect::set(&js_sys::global(), &JsValue::from_str("fetch"), &real_fetch());
    if let Some(put) = REAL_PUT.with_borrow(Clone::clone) {
        let _ = Reflect::set(&at(&js_sys::global(), "Cache.prototype"), &JsValue::from_str("put"), &put);
    }
    let storage = js::caches().unwrap();
    let names: Array = wait(storage.keys()).await.unwrap().unchecked_into();
    for n in names.iter() {
        wait(storage.delete(&n.as_string().unwrap())).await.unwrap();
    }
    start_engine(eval(config)).expect("the config is valid");
}

/// The shim's `guardBody`, which every cache write reads its body through, and
/// `responseWithin`, which every fetch no page waits for goes through, taken from the
/// shim's source: these tests run the adapter without the shim.
fn install_shim_guard() {
    const SHIM: &str = include_str!("../../www/swcache-sw.shim.js");
    for name in ["guardBody", "responseWithin"] {
        let start = SHIM.find(&format!("function {name}(")).expect("the shim defines it");
        let end = start + SHIM[start..].find("\n}\n").expect("it ends") + 2;
        eval(&format!("self.{name} = {}", &SHIM[start..end]));
    }
}

/// The worker's own `fetch`, kept before any test replaces it.
static REAL_FETCH: super::Local<Option<JsValue>> = super::Local::new(None);

fn real_fetch() -> JsValue {
    REAL_FETCH.with_borrow_mut(|f| {
        f.get_or_insert_with(|| Reflect::get(&js_sys::global(), &JsValue::from_str("fetch")).unwrap_or_default())
            .clone()
    })
}

/// Stands in for `self.fetch` while it lives: records each request and answers with
/// `answer(request)` (a rejection for `Err`).
struct FakeFetch {
    calls: Rc<RefCell<Vec<Request>>>,
    _fetch: Closure<dyn FnMut(JsValue, JsValue) -> Promise>,
}

impl FakeFetch {
    fn new(answer: impl Fn(&Request) -> Result<Response, JsValue> + 'static) -> FakeFetch {
        let calls: Rc<RefCell<Vec<Request>>> = Rc::default();
        let log = calls.clone();
        let fetch = Closure::<dyn FnMut(JsValue, JsValue) -> Promise>::new(move |input: JsValue, init: JsValue| {
            let req = match input.dyn_into::<Request>() {
                Ok(r) => Ok(r),
                Err(s) if init.is_undefined() => Request::new_with_str(&s.as_string().unwrap_or_default()),
                Err(s) => Request::new_with_str_and_init(&s.as_string().unwrap_or_default(), init.unchecked_ref()),
            };
            // What fetch does with a request it cannot build: reject.
            let req = match req {
                Ok(r) => r,
                Err(e) => return Promise::reject(&e),
            };
            log.borrow_mut().push(Clone::clone(&req));
            match answer(&req) {
                Ok(r) => Promise::resolve(&JsValue::from(r)),
                Err(e) => Promise::reject(&e),
            }
        });
        real_fetch();
        Reflect::set(&js_sys::global(), &JsValue::from_str("fetch"), fetch.as_ref()).unwrap();
        FakeFetch { calls, _fetch: fetch }
    }

    fn urls(&self) -> Vec<String> {
        self.calls.borrow().iter().map(Request::url).collect()
    }
}

impl Drop for FakeFetch {
    fn drop(&mut self) {
        let _ = Reflect::set(&js_sys::global(), &JsValue::from_str("fetch"), &real_fetch());
    }
}

/// A page's request through `on_fetch`: `None` if the engine leaves it to the browser,
/// else what it answers (`undefined`: "the network").
async fn fetch_event(path: &str, range: Option<&str>) -> Option<JsValue> {
    let init = RequestInit::new();
    if let Some(r) = range {
        let h = Headers::new().unwrap();
        h.set("range", r).unwrap();
        init.set_headers(&h);
    }
    let req = Request::new_with_str_and_init(&url(path), &init).unwrap();
    let event = FetchEvent::new("fetch", &FetchEventInit::new(&req)).unwrap();
    let mut answer = None;
    let answered = Promise::new(&mut |resolve, _| answer = Some(resolve));
    if !on_fetch(event, answer.unwrap()) {
        return None;
    }
    Some(wait(answered).await.unwrap())
}

async fn fetch_response(path: &str, range: Option<&str>) -> Response {
    let answer = fetch_event(path, range).await.expect("the engine answers");
    answer.dyn_into().unwrap_or_else(|v| panic!("{path} answered with a Response, not {v:?}"))
}

/// A page's message through `on_message`, with a reply port: the reply.
async fn message(data: &str) -> JsValue {
    let channel = MessageChannel::new().unwrap();
    let init = ExtendableMessageEventInit::new();
    init.set_data(&eval(data));
    init.set_ports(&Array::of1(&channel.port1()));
    let event = ExtendableMessageEvent::new_with_event_init_dict("message", &init).unwrap();
    let reply = Promise::new(&mut |resolve, _| channel.port2().set_onmessage(Some(&resolve)));
    on_message(event);
    at(&wait(reply).await.unwrap(), "data")
}

// ---- reading the config --------------------------------------------------------------

#[wasm_bindgen_test]
fn config_values_are_read_and_regexps_kept() {
    let config = eval(
        "({u: undefined, n: null, b: false, x: 1.5, s: 'text', f() {}, sym: Symbol('s'), big: 10n,
          a: [1, ['two', [/^\\/deep\\//i]]], r: /^\\/p\\/(?!admin)/, o: {k: 'v', e: []}})",
    );
    let mut regexps = Vec::new();
    let value = crate::js_value::read(&config, &mut regexps);
    let deep = Value::Arr(vec![Value::RegExp(0, String::from("/^\\/deep\\//i"))]);
    let expected = Value::Obj(vec![
        (String::from("u"), Value::Undefined),
        (String::from("n"), Value::Null),
        (String::from("b"), Value::Bool(false)),
        (String::from("x"), Value::Num(1.5)),
        (String::from("s"), Value::Str(String::from("text"))),
        (String::from("f"), Value::Other("a function")),
        (String::from("sym"), Value::Other("a symbol")),
        (String::from("big"), Value::Other("a bigint")),
        (String::from("a"), Value::Arr(vec![Value::Num(1.0), Value::Arr(vec![Value::Str(String::from("two")), deep])])),
        (String::from("r"), Value::RegExp(1, String::from("/^\\/p\\/(?!admin)/"))),
        (
            String::from("o"),
            Value::Obj(vec![
                (String::from("k"), Value::Str(String::from("v"))),
                (String::from("e"), Value::Arr(vec![])),
            ]),
        ),
    ]);
    assert_eq!(value, expected);
    // The RegExps are the config's own objects, in the order the values were read, and
    // run in the browser's engine (lookahead included).
    assert_eq!(regexps.len(), 2);
    assert!(Object::is(&regexps[1], &at(&config, "r")));
    assert!(Object::is(&regexps[0], &at(&config, "a.1.1.0")));
    assert!(regexps[1].test("/p/page"));
    assert!(!regexps[1].test("/p/admin"));
    assert_eq!(String::from(regexps[0].flags()), "i");
}

#[wasm_bindgen_test]
fn config_reading_stops_at_its_limits() {
    // Nesting past MAX_DEPTH is not read; arrays are cut after MAX_ARRAY items.
    let nested = eval("(() => { let v = 0; for (let i = 0; i < 20; i++) v = [v]; return v; })()");
    let mut levels = 0;
    let mut v = crate::js_value::read_plain(&nested);
    while let Value::Arr(mut items) = v {
        assert_eq!(items.len(), 1);
        levels += 1;
        v = items.remove(0);
    }
    assert_eq!(v, Value::Other("too deeply nested"));
    assert_eq!(levels, MAX_DEPTH + 1);

    let long = eval(&format!("new Array({}).fill(7)", MAX_ARRAY + 5));
    match crate::js_value::read_plain(&long) {
        Value::Arr(items) => {
            assert_eq!(items.len(), MAX_ARRAY);
            assert!(items.iter().all(|v| *v == Value::Num(7.0)));
        }
        other => panic!("an array reads as Value::Arr, not {other:?}"),
    }

    // A message that cycles through itself (structured clone keeps it): read once per
    // path 8 levels deep it would be 10^8 values; the walk stops at its budget.
    let cyclic = eval("(() => { const a = []; for (let i = 0; i < 10; i++) a.push(a); return { type: 'PREFETCH', urls: ['/'], ctx: a }; })()");
    let start = js_sys::Date::now();
    let v = crate::js_value::read_plain(&cyclic);
    assert!(js_sys::Date::now() - start < 5000.0, "read in {} ms", js_sys::Date::now() - start);
    fn count(v: &Value) -> usize {
        match v {
            Value::Arr(items) => 1 + items.iter().map(count).sum::<usize>(),
            Value::Obj(props) => 1 + props.iter().map(|(_, v)| count(v)).sum::<usize>(),
            _ => 1,
        }
    }
    assert!(count(&v) <= 200_000, "{} values kept", count(&v));
    assert_eq!(v.get("type").and_then(Value::as_str), Some("PREFETCH"), "what comes first is read");

    // Strings count by their length: 10,000 URLs of 100 characters are read whole; 100
    // strings of a million characters are not copied into the wasm past the budget.
    let urls = eval(
        "({ type: 'CACHE_INVALIDATION', urls: Array.from({ length: 10000 }, (_, i) => '/' + 'p'.repeat(90) + i) })",
    );
    let v = crate::js_value::read_plain(&urls);
    let Some(Value::Arr(read)) = v.get("urls") else { panic!("{:?}", v.get("urls")) };
    assert_eq!(read.len(), 10_000);
    assert!(read.iter().all(|u| u.as_str().is_some_and(|u| u.len() > 90)));
    let huge = eval("({ type: 'PREFETCH', urls: Array.from({ length: 100 }, (_, i) => '/' + 'x'.repeat(1e6) + i) })");
    let v = crate::js_value::read_plain(&huge);
    let Some(Value::Arr(read)) = v.get("urls") else { panic!("{:?}", v.get("urls")) };
    let copied: usize = read.iter().filter_map(Value::as_str).map(str::len).sum();
    assert!(copied <= 3_200_000, "{copied} bytes copied");
    assert_eq!(read.last(), Some(&Value::Other("too large")));
    assert_eq!(v.get("type").and_then(Value::as_str), Some("PREFETCH"));
}

// ---- starting the engine -------------------------------------------------------------

#[wasm_bindgen_test]
async fn a_good_config_starts_the_engine() {
    fresh_engine("({version: 'v1', routes: [{name: 'pages', match: /^\\/(?!api\\/)/, strategy: 'cacheFirst'}]})").await;
    let names = WORKER.with_borrow(|w| w.as_ref().map(|w| w.names.clone())).unwrap();
    assert_eq!(names.len(), 2);
    assert!(names[0].starts_with("swcache-pages-"), "{names:?}");
    assert_eq!(names[1], "swcache-precache");
    // The route's RegExp is held by the adapter and tested through it (twice on the same
    // text: the second uses the JS string kept from the first).
    let index = REGEXPS.with_borrow(Vec::len) as u32 - 1;
    assert!(test_regexp(index, "/shop/item"));
    assert!(test_regexp(index, "/shop/item"));
    assert!(!test_regexp(index, "/api/items"));
    assert!(!test_regexp(index + 1, "/shop/item"), "no such RegExp");
}

#[wasm_bindgen_test]
async fn a_bad_config_throws_its_message_and_tells_the_pages() {
    fresh_engine(PAGES).await;
    let names = WORKER.with_borrow(|w| w.as_ref().map(|w| w.names.clone())).unwrap();
    let channel = BroadcastChannel::new("swcache").unwrap();
    let posted = Promise::new(&mut |resolve, _| channel.set_onmessage(Some(&resolve)));

    let bad = "({version: 'v1', routes: [{name: 'pages', match: '/p/', strategy: 'cacheFirst', maxAge: -5}]})";
    let error = start_engine(eval(bad)).expect_err("a negative maxAge is refused");
    let text = "swcache config: route 'pages' (routes[0]) field 'maxAge' must be a non-negative number of milliseconds, got -5";
    let error: js_sys::Error = error.dyn_into().expect("an Error is thrown");
    assert_eq!(String::from(error.message()), text);
    let note = at(&wait(posted).await.unwrap(), "data");
    assert_eq!(text_at(&note, "type"), "CONFIG_ERROR");
    assert_eq!(text_at(&note, "error"), text);
    channel.close();

    let error = start_engine(eval("({version: 'v1', routes: [{name: 'x', match() {}, strategy: 'cacheFirst'}]})"))
        .expect_err("a function is not a match");
    let message = String::from(error.unchecked_into::<js_sys::Error>().message());
    assert!(message.contains("field 'match' must be a RegExp or a non-empty path prefix, got a function"), "{message}");
    // A failed start leaves the running engine as it was.
    assert_eq!(WORKER.with_borrow(|w| w.as_ref().map(|w| w.names.clone())), Some(names));
}

// ---- cache writes and reads ----------------------------------------------------------

/// 2026-01-01T00:00:00.123Z.
const STAMP: f64 = 1_767_225_600_123.0;

/// An operation of the adapter's own, holding `responses` by tag, that the engine does not
/// know (its results are ignored there), with a page still waiting for its answer.
fn test_op(responses: Vec<(Tag, Response)>) -> u32 {
    let id = 0xFFFF_0000;
    let mut op = Op { answer: Some(Function::new_no_args("")), ..Op::default() };
    for (tag, r) in responses {
        op.res.insert(tag, r);
    }
    WORKER.with_borrow_mut(|w| w.as_mut().map(|w| w.ops.insert(id, op))).expect("an engine");
    id
}

fn end_test_op(id: u32) {
    WORKER.with_borrow_mut(|w| w.as_mut().and_then(|w| w.ops.remove(&id))).expect("the test's operation");
}

#[wasm_bindgen_test]
async fn a_put_stores_a_stamped_copy_and_keeps_the_original() {
    fresh_engine(PAGES).await;
    let headers = [("content-type", "text/html"), ("etag", "\"v1\""), ("cache-tag", "news, sport")];
    let fetched = response("the page", 200, &headers);
    let unstamped = response("as fetched", 200, &[]);
    let op = test_op(vec![(Tag::Net, fetched), (Tag::Revalidate, unstamped)]);
    let one = Req::Path(String::from("/p/one"));
    let two = Req::Path(String::from("/p/two"));
    exec::run(vec![
        Cmd::Put { op, tag: Tag::Store(0, 0), slot: 0, req: one, from: Tag::Net, stamp: Some(STAMP) },
        Cmd::Put { op, tag: Tag::Store(1, 0), slot: 0, req: two, from: Tag::Revalidate, stamp: None },
    ]);
    let name = cache_name(0);
    let copy = stored(&name, "/p/one").await;
    assert_eq!(header(&copy, "sw-cache-time").as_deref(), Some("2026-01-01T00:00:00.123Z"));
    for (k, v) in headers {
        assert_eq!(header(&copy, k).as_deref(), Some(v), "{k} is copied");
    }
    assert_eq!(copy.status(), 200);
    assert_eq!(body(&copy).await, "the page");
    // The copy was taken from a clone: the response the waiting page gets is still unread.
    let original = WORKER.with_borrow(|w| w.as_ref()?.ops.get(&op)?.res.get(&Tag::Net).cloned()).unwrap();
    assert!(!original.body_used());
    assert_eq!(body(&original).await, "the page");
    // Without a stamp the response is stored as it is.
    let plain = stored(&name, "/p/two").await;
    assert_eq!(header(&plain, "sw-cache-time"), None);
    assert_eq!(body(&plain).await, "as fetched");
    end_test_op(op);
    settled().await;
}

#[wasm_bindgen_test]
async fn a_read_gives_the_engine_the_entry_facts() {
    // GET_STATE lists each cache, reads every entry through the adapter and reports the
    // facts the adapter read: the stamp (as an age), the size, the tags.
    fresh_engine(PAGES).await;
    let cache = open(&cache_name(0)).await;
    let iso = |ms: f64| String::from(js_sys::Date::new(&JsValue::from_f64(ms)).to_iso_string());
    let now = js_sys::Date::now();
    let young = response(
        "0123456789",
        200,
        &[("sw-cache-time", &iso(now - 5_000.0)), ("content-length", "10"), ("cache-tag", "news, sport")],
    );
    let old = response("old", 200, &[("sw-cache-time", &iso(now - 120_000.0))]);
    let unstamped = response("x", 200, &[("sw-cache-time", "not a date")]);
    for (path, r) in [("/p/young", young), ("/p/old", old), ("/p/unstamped", unstamped)] {
        wait(cache.put_with_str(&url(path), &r)).await.unwrap();
    }
    let state = message("({type: 'GET_STATE'})").await;
    assert_eq!(text_at(&state, "type"), "STATE", "{}", json(&state));
    let entries: Array = at(&state, "routes.0.entries").dyn_into().unwrap();
    assert_eq!(entries.length(), 3, "{}", json(&state));
    let entry = |path: &str| entries.iter().find(|e| text_at(e, "url") == path).unwrap_or_else(|| panic!("{path}"));

    let young = entry("/p/young");
    let age = at(&young, "ageMs").as_f64().unwrap();
    assert!((5_000.0..15_000.0).contains(&age), "age {age}");
    assert_eq!(at(&young, "fresh"), JsValue::TRUE);
    assert_eq!(at(&young, "size").as_f64(), Some(10.0));
    assert_eq!(json(&at(&young, "tags")), "[\"news\",\"sport\"]");

    let old = entry("/p/old");
    assert!(at(&old, "ageMs").as_f64().unwrap() >= 120_000.0);
    assert_eq!(at(&old, "fresh"), JsValue::FALSE);
    assert!(at(&old, "size").is_null(), "no content-length, no size");

    let unstamped = entry("/p/unstamped");
    assert!(at(&unstamped, "ageMs").is_null(), "an unreadable stamp is no stamp");
    assert_eq!(at(&unstamped, "fresh"), JsValue::FALSE);
    settled().await;
}

// ---- page requests -------------------------------------------------------------------

#[wasm_bindgen_test]
async fn requests_are_answered_from_the_cache_and_the_network() {
    fresh_engine(PAGES).await;
    let name = cache_name(0);
    let now = js_sys::Date::now();
    let iso = String::from(js_sys::Date::new(&JsValue::from_f64(now)).to_iso_string());
    wait(open(&name).await.put_with_str(&url("/p/hit"), &response("cached", 200, &[("sw-cache-time", &iso)])))
        .await
        .unwrap();
    let net = FakeFetch::new(|req| {
        let path = req.url();
        if path.ends_with("/p/offline") {
            return Err(js_sys::TypeError::new("Failed to fetch").into());
        }
        let cache_control = if path.ends_with("/p/nostore") { "no-store" } else { "max-age=60" };
        Ok(response("from the network", 200, &[("cache-control", cache_control), ("etag", "\"n1\"")]))
    });

    // A fresh copy: from the cache, no fetch.
    let hit = fetch_response("/p/hit", None).await;
    assert_eq!(body(&hit).await, "cached");
    assert!(net.urls().is_empty());

    // A miss: the network's response, and a stamped copy stored in the background.
    let before = js_sys::Date::now();
    let miss = fetch_response("/p/miss", None).await;
    assert_eq!(body(&miss).await, "from the network");
    assert_eq!(net.urls(), [url("/p/miss")]);
    let copy = stored(&name, "/p/miss").await;
    let stamp = js_sys::Date::parse(&header(&copy, "sw-cache-time").unwrap());
    assert!(stamp >= before.floor() - 1.0 && stamp <= js_sys::Date::now(), "stamp {stamp}");
    assert_eq!(header(&copy, "etag").as_deref(), Some("\"n1\""));
    assert_eq!(body(&copy).await, "from the network");

    // `Cache-Control: no-store` is read from the response: served, never stored.
    let nostore = fetch_response("/p/nostore", None).await;
    assert_eq!(body(&nostore).await, "from the network");
    settled().await;
    assert!(cached(&name, "/p/nostore").await.is_none());

    // A rejected fetch and nothing cached: the engine's 503, built by the adapter.
    let failed = fetch_response("/p/offline", None).await;
    assert_eq!(failed.status(), 503);
    assert_eq!(failed.status_text(), "Service Unavailable");
    assert_eq!(header(&failed, "content-type").as_deref(), Some("text/plain; charset=utf-8"));
    assert_eq!(body(&failed).await, "swcache: the network request failed and no cached copy exists");

    // No route: left to the browser.
    assert!(fetch_event("/elsewhere", None).await.is_none());
    settled().await;
}

#[wasm_bindgen_test]
async fn ranged_requests_get_exact_bytes_or_416() {
    fresh_engine(PAGES).await;
    let _net = FakeFetch::new(|_| Err(js_sys::TypeError::new("no network in this test").into()));
    // 300 bytes, byte i = i % 256.
    let bytes: Vec<u8> = (0..300u32).map(|i| (i % 256) as u8).collect();
    let h = Headers::new().unwrap();
    h.set("content-type", "video/mp4").unwrap();
    let init = ResponseInit::new();
    init.set_headers(&h);
    let clip = Response::new_with_opt_u8_array_and_init(Some(&mut bytes.clone()), &init).unwrap();
    wait(open(&cache_name(0)).await.put_with_str(&url("/p/clip"), &clip)).await.unwrap();

    for (range, start, end) in [("bytes=250-259", 250, 259), ("bytes=290-", 290, 299), ("bytes=-4", 296, 299)] {
        let part = fetch_response("/p/clip", Some(range)).await;
        assert_eq!(part.status(), 206, "{range}");
        assert_eq!(part.status_text(), "Partial Content");
        assert_eq!(header(&part, "content-range"), Some(format!("bytes {start}-{end}/300")), "{range}");
        assert_eq!(header(&part, "content-length"), Some(format!("{}", end - start + 1)), "{range}");
        assert_eq!(header(&part, "content-type").as_deref(), Some("video/mp4"));
        let got = Uint8Array::new(&wait(part.array_buffer().unwrap()).await.unwrap()).to_vec();
        assert_eq!(got, bytes[start..=end], "{range}");
    }

    let beyond = fetch_response("/p/clip", Some("bytes=300-")).await;
    assert_eq!(beyond.status(), 416);
    assert_eq!(beyond.status_text(), "Range Not Satisfiable");
    assert_eq!(header(&beyond, "content-range").as_deref(), Some("bytes */300"));
    settled().await;
}

// ---- errors --------------------------------------------------------------------------

#[wasm_bindgen_test]
fn error_texts_and_names() {
    let quota = DomException::new_with_message_and_name("the quota is full", "QuotaExceededError").unwrap();
    assert_eq!(js::error_name(&quota), "QuotaExceededError");
    assert_eq!(js::error_text(&quota), "the quota is full");

    let type_error: JsValue = js_sys::TypeError::new("Failed to fetch").into();
    assert_eq!(js::error_name(&type_error), "TypeError");
    assert_eq!(js::error_text(&type_error), "Failed to fetch");

    // The browser's own error (a URL it cannot parse).
    let thrown = Request::new_with_str("http://[").expect_err("the URL does not parse");
    assert_eq!(js::error_name(&thrown), "TypeError");
    assert!(js::error_text(&thrown).contains("http://["), "{}", js::error_text(&thrown));

    assert_eq!(js::error_text(&JsValue::from_str("plain text")), "plain text");
    assert_eq!(js::error_text(&js_sys::Error::new("").into()), "network error");
    assert_eq!(js::error_text(&JsValue::UNDEFINED), "network error");
    assert_eq!(js::error_name(&JsValue::UNDEFINED), "");
}

/// The browser's own `Cache.prototype.put`, kept before a test replaces it.
static REAL_PUT: super::Local<Option<JsValue>> = super::Local::new(None);

/// Makes the next `Cache.put` (any cache) reject with `error`.
fn fail_next_put(error: &JsValue) {
    let proto = at(&js_sys::global(), "Cache.prototype");
    REAL_PUT.with_borrow_mut(|p| {
        if p.is_none() {
            *p = Some(at(&proto, "put"));
        }
    });
    let arm = Function::new_with_args(
        "proto, error",
        "const put = proto.put; proto.put = function () { proto.put = put; return Promise.reject(error); };",
    );
    arm.call2(&JsValue::UNDEFINED, &proto, error).unwrap();
}

#[wasm_bindgen_test]
async fn a_quota_error_is_told_apart_from_other_put_failures() {
    fresh_engine(PAGES).await;
    let name = cache_name(0);
    let net = FakeFetch::new(|_| Ok(response("fetched", 200, &[])));

    // QuotaExceededError: the engine frees room (the route's one entry), fetches once
    // more and stores the copy.
    fetch_response("/p/old", None).await;
    stored(&name, "/p/old").await;
    settled().await;
    fail_next_put(&DomException::new_with_message_and_name("full", "QuotaExceededError").unwrap().into());
    let first = fetch_response("/p/big", None).await;
    assert_eq!(body(&first).await, "fetched");
    let copy = stored(&name, "/p/big").await;
    assert_eq!(body(&copy).await, "fetched");
    settled().await;
    assert_eq!(net.urls(), [url("/p/old"), url("/p/big"), url("/p/big")]);
    assert!(cached(&name, "/p/old").await.is_none());

    // Any other failure: given up, no second fetch.
    fail_next_put(&js_sys::TypeError::new("the body was used").into());
    let second = fetch_response("/p/other", None).await;
    assert_eq!(body(&second).await, "fetched");
    settled().await;
    assert_eq!(net.urls().len(), 4);
    assert!(cached(&name, "/p/other").await.is_none());
}

/// Counts `Response.prototype.clone` calls until the returned function is called, which
/// says how many there were and puts the real `clone` back.
fn count_clones() -> impl FnOnce() -> u32 {
    let proto = at(&js_sys::global(), "Response.prototype");
    let real = at(&proto, "clone");
    let arm = Function::new_with_args(
        "proto",
        "proto.clones = 0; const clone = proto.clone; proto.clone = function () { proto.clones++; return clone.call(this); };",
    );
    arm.call1(&JsValue::UNDEFINED, &proto).unwrap();
    move || {
        let n = at(&proto, "clones").as_f64().unwrap_or_default() as u32;
        Reflect::set(&proto, &JsValue::from_str("clone"), &real).unwrap();
        n
    }
}

/// A response no page reads (a prefetch, a revalidation after a stale answer) goes into
/// the cache itself: a copy (a tee) whose twin is never read holds the whole body in
/// memory until the operation ends. A page's own miss still gets the response and the
/// cache a copy.
#[wasm_bindgen_test]
async fn a_response_no_page_reads_is_stored_without_a_copy() {
    fresh_engine(PAGES).await;
    let _net = FakeFetch::new(|r| Ok(response(&r.url(), 200, &[])));
    let name = WORKER.with_borrow(|w| w.as_ref().map(|w| w.names[0].clone())).unwrap();
    let clones = count_clones();
    let reply = message("({type: 'PREFETCH', urls: ['/p/a', '/p/b', '/p/c']})").await;
    assert_eq!(text_at(&reply, "type"), "PREFETCH_DONE", "{}", json(&reply));
    for p in ["/p/a", "/p/b", "/p/c"] {
        assert_eq!(body(&stored(&name, p).await).await, url(p));
    }
    settled().await;
    assert_eq!(clones(), 0, "prefetched responses stored as they came");

    let clones = count_clones();
    let answer = fetch_response("/p/page", None).await;
    assert_eq!(body(&answer).await, url("/p/page"));
    assert_eq!(body(&stored(&name, "/p/page").await).await, url("/p/page"));
    settled().await;
    assert_eq!(clones(), 1, "the page's miss: the page reads the response, the cache a copy");
}

/// A fetch no page waits for (the shim's `responseWithin`) whose response never comes
/// fails at its limit, naming it, and is aborted; a navigation preload response that never
/// comes fails the same way; one that answers in time is the response.
#[wasm_bindgen_test]
async fn a_fetch_without_a_response_fails_at_its_limit_and_is_aborted() {
    fresh_engine(PAGES).await;
    eval(
        "self.fetch = (req, init) => { self.lastSignal = init.signal; self.sent = new Request(req, init); \
         return new Promise((_, reject) => \
         init.signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')))); }",
    );
    // The page's request, with its referrer (a background refresh sends it on).
    let init = RequestInit::new();
    init.set_referrer(&url("/p/page"));
    let req = Request::new_with_str_and_init(&url("/p/hang"), &init).unwrap();
    let err = wait(js::response_within(Some(&req), 50, None)).await.expect_err("no response");
    assert_eq!(js::error_text(&err), "no response headers within 0.05 s");
    assert_eq!(at(&js_sys::global(), "lastSignal.aborted").as_bool(), Some(true), "the fetch aborted");
    assert_eq!(at(&js_sys::global(), "sent.referrer").as_string(), Some(url("/p/page")), "the page's referrer kept");
    let never = Promise::new(&mut |_, _| {});
    let err = wait(js::response_within(None, 50, Some(&never))).await.expect_err("no preload response");
    assert_eq!(js::error_text(&err), "no response headers within 0.05 s");
    let _net = FakeFetch::new(|r| Ok(response(&r.url(), 200, &[])));
    let res: Response = wait(js::response_within(Some(&req), 50, None)).await.expect("answered").unchecked_into();
    assert_eq!(body(&res).await, url("/p/hang"));
    settled().await;
}

/// Every step's callback runs once and frees what it held (its closure, the requests,
/// responses and caches it captured): after a hundred answers, misses stored and hits
/// alike, no more JS values are held than before them, but for the requests the stand-in
/// `fetch` logs.
#[wasm_bindgen_test]
async fn finished_steps_hold_no_js_values() {
    fresh_engine(PAGES).await;
    let net = FakeFetch::new(|_| Ok(response("from the network", 200, &[("cache-control", "max-age=60")])));
    // A first answer (what later steps reuse: the engine started, the route known).
    assert_eq!(body(&fetch_response("/p/warm", None).await).await, "from the network");
    settled().await;
    let before = wasm_bindgen::externref_heap_live_count();
    let logged = net.calls.borrow().len();
    for i in 0..100 {
        let answer = fetch_response(&format!("/p/{}", i % 7), None).await;
        assert_eq!(body(&answer).await, "from the network");
    }
    settled().await;
    let fetched = net.calls.borrow().len() - logged;
    assert_eq!(fetched, 7, "each path fetched once, then answered from the cache");
    let after = wasm_bindgen::externref_heap_live_count();
    assert_eq!(after - fetched as u32, before, "JS values held after the steps ended");
}

// ---- the invalidation feed -----------------------------------------------------------

/// GET_STATS until its feed section reports an error (the feed check runs after the reply).
async fn feed_error() -> String {
    for _ in 0..100 {
        let stats = message("({type: 'GET_STATS'})").await;
        if let Some(e) = at(&stats, "feed.error").as_string() {
            return e;
        }
        sleep(20).await;
    }
    panic!("the feed check never ended (did the adapter trap?)");
}

#[wasm_bindgen_test]
async fn a_feed_past_its_cap_is_refused_without_a_trap() {
    let config =
        "({version: 'v1', feed: {url: '/feed.json'}, routes: [{name: 'pages', match: '/p/', strategy: 'cacheFirst'}]})";
    fresh_engine(config).await;
    // The cap (1 MiB) falls inside a two-byte character: the adapter does not parse a
    // body past it, and the engine refuses a feed that long.
    let cap = crate::policy::feed::MAX_BYTES;
    let big = format!("{}é and more", "x".repeat(cap));
    let net = FakeFetch::new(move |_| Ok(response(&big, 200, &[("etag", "\"f1\"")])));
    assert_eq!(feed_error().await, format!("swcache feed: /feed.json is ignored: the feed is larger than {cap} bytes"));
    let calls = net.calls.borrow().clone();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].url(), url("/feed.json"));
    assert_eq!(js::request_cache(&calls[0]), "no-store", "the feed is fetched past the HTTP cache");
    assert_eq!(calls[0].headers().get("if-none-match").unwrap(), None);
    settled().await;
}

#[wasm_bindgen_test]
async fn a_failed_feed_check_reports_the_browser_text() {
    let config =
        "({version: 'v1', feed: {url: '/feed.json'}, routes: [{name: 'pages', match: '/p/', strategy: 'cacheFirst'}]})";
    fresh_engine(config).await;
    let _net = FakeFetch::new(|_| Err(js_sys::TypeError::new("Failed to fetch").into()));
    assert_eq!(
        feed_error().await,
        "swcache feed: /feed.json could not be fetched (Failed to fetch); pages are served as before"
    );
    settled().await;
}
