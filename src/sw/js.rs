//! What web-sys does not bind (navigation preload, the Static Routing API, URLPattern,
//! `Request.cache` as text, `navigator.connection.saveData`, Cache Storage's `match` by
//! cache name) and small helpers over the worker's globals.

use js_sys::{Array, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{
    CacheStorage, ClientQueryOptions, ClientType, ExtendableEvent, FetchEvent, MessagePort, Request,
    ServiceWorkerGlobalScope,
};

use crate::policy::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// `ServiceWorkerRegistration.navigationPreload` (undefined where unsupported).
    type PreloadManager;
    #[wasm_bindgen(method)]
    fn enable(this: &PreloadManager) -> Promise;
    #[wasm_bindgen(method)]
    fn disable(this: &PreloadManager) -> Promise;
    /// A `ServiceWorkerRegistration`, for what web-sys does not bind.
    type Registration;
    #[wasm_bindgen(method, getter, js_name = navigationPreload)]
    fn navigation_preload(this: &Registration) -> Option<PreloadManager>;

    /// A `FetchEvent` (`ExtendableEvent`), for what web-sys does not bind.
    type Event;
    #[wasm_bindgen(method, getter, js_name = preloadResponse)]
    fn preload(this: &Event) -> JsValue;
    #[wasm_bindgen(method, catch, js_name = addRoutes)]
    fn add_routes(this: &Event, rules: &JsValue) -> Result<Promise, JsValue>;

    /// A `Request`: its `cache` mode as text.
    type RequestMode;
    #[wasm_bindgen(method, getter, js_name = cache)]
    fn cache(this: &RequestMode) -> String;

    /// `CacheStorage.match` with `{cacheName}`.
    type Storage;
    #[wasm_bindgen(method, js_name = match)]
    fn match_in(this: &Storage, req: &Request, options: &JsValue) -> Promise;

    /// The shim's `guardBody(body, ms, length)`: `body` through a stream that fails when no
    /// byte came for `ms`, or when it ends short of `length` bytes (`NaN`: any length).
    #[wasm_bindgen(js_name = guardBody)]
    pub(super) fn guard_body(body: &web_sys::ReadableStream, ms: u32, length: f64) -> web_sys::ReadableStream;

    /// The shim's `responseWithin(req, ms, pending)`: `fetch(req)`, or `pending` (a
    /// navigation's preload response), rejected when no response came within `ms` (the
    /// fetch aborted).
    #[wasm_bindgen(js_name = responseWithin)]
    pub(super) fn response_within(req: Option<&Request>, ms: u32, pending: Option<&Promise>) -> Promise;

    /// The URL Pattern API (the router's conditions need one).
    type UrlPattern;
    #[wasm_bindgen(constructor, catch, js_class = "URLPattern")]
    fn new(init: &JsValue) -> Result<UrlPattern, JsValue>;
}

/// Swallows a rejection (an unused navigation preload must settle, not warn): made once.
static IGNORE: super::Local<Option<Callback>> = super::Local::new(None);

type Callback = Closure<dyn FnMut(JsValue)>;

pub(super) fn scope() -> ServiceWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

pub(super) fn caches() -> Result<CacheStorage, JsValue> {
    scope().caches()
}

fn obj(pairs: &[(&str, &JsValue)]) -> Object {
    let o = Object::new();
    for (k, v) in pairs {
        let _ = Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o
}

/// `caches.match(req, {cacheName, ignoreVary})`.
pub(super) fn match_in(req: &Request, name: &str, ignore_vary: bool) -> Promise {
    let options = obj(&[("cacheName", &JsValue::from_str(name)), ("ignoreVary", &JsValue::from_bool(ignore_vary))]);
    match caches() {
        Ok(c) => c.unchecked_ref::<Storage>().match_in(req, &options),
        Err(e) => Promise::reject(&e),
    }
}

pub(super) fn request_cache(req: &Request) -> String {
    req.unchecked_ref::<RequestMode>().cache()
}

/// The navigation's preload response, if the browser started one.
pub(super) fn preload_response(event: &ExtendableEvent) -> Option<Promise> {
    event.dyn_ref::<FetchEvent>()?.unchecked_ref::<Event>().preload().dyn_into().ok()
}

/// Keeps the event for the navigation's preload response, or until the wait for a
/// response to a fetch no page waits for ends: an unused preload from an origin that
/// never answers held the event for good.
pub(super) fn settle_preload(event: &FetchEvent) {
    if let Ok(p) = event.unchecked_ref::<Event>().preload().dyn_into::<Promise>() {
        IGNORE.with_borrow_mut(|f| {
            let f = f.get_or_insert_with(|| Closure::new(|_| {}));
            let p = response_within(None, crate::policy::store::HEADERS_MS, Some(&p.catch(f)));
            let _ = event.unchecked_ref::<ExtendableEvent>().wait_until(&p);
        });
    }
}

/// `registration.navigationPreload.enable()` / `.disable()`; `None` where unsupported.
pub(super) fn navigation_preload(on: bool) -> Option<Promise> {
    let np = scope().registration().unchecked_ref::<Registration>().navigation_preload()?;
    Some(if on { np.enable() } else { np.disable() })
}

/// The message's reply port.
pub(super) fn reply_port(event: &ExtendableEvent) -> Option<MessagePort> {
    let ports: Array = Reflect::get(event, &JsValue::from_str("ports")).ok()?.dyn_into().ok()?;
    ports.get(0).dyn_into().ok()
}

/// `navigator.connection.saveData` (false where unknown).
pub(super) fn save_data() -> bool {
    let nav = scope().navigator();
    Reflect::get(&nav, &JsValue::from_str("connection"))
        .ok()
        .filter(JsValue::is_object)
        .and_then(|c| Reflect::get(&c, &JsValue::from_str("saveData")).ok())
        .is_some_and(|v| v.is_truthy())
}

pub(super) fn window_clients() -> ClientQueryOptions {
    let o = ClientQueryOptions::new();
    o.set_type(ClientType::Window);
    o
}

/// The feed, past the HTTP cache (a conditional request when its ETag is known), aborted
/// half a second after `ms` (its body read too: `AbortSignal.timeout`), so a feed that
/// never answers holds no connection once the check has given up at `ms`, saying why.
pub(super) fn fetch_feed(path: &str, etag: Option<&str>, ms: u32) -> Promise {
    let init = web_sys::RequestInit::new();
    init.set_cache(web_sys::RequestCache::NoStore);
    init.set_signal(Some(&web_sys::AbortSignal::timeout_with_u32(ms + 500)));
    if let Some(tag) = etag {
        init.set_headers(&obj(&[("if-none-match", &JsValue::from_str(tag))]));
    }
    let url = scope().location().origin() + path;
    scope().fetch_with_str_and_init(&url, &init)
}

/// Chrome's Static Routing API: cold hits on these paths are served from the cache
/// without starting the worker. Browsers without it: nothing changes.
pub(super) fn add_routes(event: &ExtendableEvent, json: &str) {
    if !Reflect::has(event, &JsValue::from_str("addRoutes")).unwrap_or(false) {
        return;
    }
    let Ok(Ok(list)) = js_sys::JSON::parse(json).map(JsCast::dyn_into::<Array>) else { return };
    let mut rules = Vec::new();
    for r in list.iter() {
        let pathname = Reflect::get(&r, &JsValue::from_str("pathname")).unwrap_or_default();
        let Ok(pattern) = UrlPattern::new(&obj(&[("pathname", &pathname)])) else { return };
        let condition = obj(&[("urlPattern", &pattern), ("runningStatus", &JsValue::from_str("not-running"))]);
        let source = obj(&[("cacheName", &Reflect::get(&r, &JsValue::from_str("cacheName")).unwrap_or_default())]);
        rules.push(JsValue::from(obj(&[("condition", &condition), ("source", &source)])));
    }
    let rules: Array = rules.into_iter().collect();
    if let Ok(p) = event.unchecked_ref::<Event>().add_routes(&rules) {
        // Once per install: the closure is left to the engine's lifetime.
        let warn = Closure::<dyn FnMut(JsValue)>::new(|err: JsValue| {
            web_sys::console::warn_2(
                &JsValue::from_str(
                    "swcache: the browser refused the router rules; every request goes through the worker.",
                ),
                &err,
            );
        });
        let _ = event.wait_until(&p.catch(&warn));
        warn.forget();
    }
}

/// Tells the pages registering this worker why it fails (`register()` rejects with this
/// text): posted before the evaluation, or the install, fails.
pub(super) fn post_config_error(msg: &str) {
    if let Ok(channel) = web_sys::BroadcastChannel::new("swcache") {
        let note = obj(&[("type", &JsValue::from_str("CONFIG_ERROR")), ("error", &JsValue::from_str(msg))]);
        let _ = channel.post_message(&note);
        channel.close();
    }
}

/// A rejection's text: `Error.message`, else the value as a string.
pub(super) fn error_text(e: &JsValue) -> String {
    let text =
        e.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())).or_else(|| e.as_string()).unwrap_or_default();
    if text.is_empty() {
        String::from("network error")
    } else {
        text
    }
}

/// A rejection's `name` (`QuotaExceededError`…).
pub(super) fn error_name(e: &JsValue) -> String {
    Reflect::get(e, &JsValue::from_str("name")).ok().and_then(|n| n.as_string()).unwrap_or_default()
}
