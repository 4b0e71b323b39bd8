//! The page adapter's own tests, run by wasm-bindgen-test in headless Chromium in a real
//! page (`./build.sh test`: `cargo test --lib --target wasm32-unknown-unknown
//! --no-default-features --features page`). They check what the native tests of the
//! `Hydrator` cannot: how the adapter reads the page (its options as JS values, the
//! components' attributes and inline JSON) and wires the browser to the scheduler
//! (IntersectionObserver, MutationObserver, `requestIdleCallback`, `matchMedia`, focus
//! events, `fetch`, the render callbacks, the events it dispatches). Data comes from
//! `data:` and `blob:` URLs, or from a stand-in for `window.fetch` where a test needs an
//! HTTP status, a `sw-cache-time` stamp or a same-origin path: no server.
//!
//! The tests wait for events, promises and observer callbacks, never for time (a wait
//! that is not answered within [`WAIT_MS`] fails the test instead of hanging it). They
//! run one after another in one page: each builds its components in a container of its
//! own, fixed at the top left of the viewport, and stops its schedulers; the next test's
//! setup clears what a failed one left (schedulers, containers, the stand-in fetch).

use ::core::cell::RefCell;

use alloc::rc::Rc;
use js_sys::{Array, Date, Function, Object, Promise, Reflect, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{
    AbortSignal, Blob, CustomEvent, Document, Element, EventInit, EventTarget, Headers, HtmlElement, MutationObserver,
    MutationObserverInit, Response, ResponseInit, Url, Window,
};

use super::js::{Listener, WINDOW};
use super::{Hydration, Shared};

wasm_bindgen_test_configure!(run_in_browser);

/// How long a test waits for what it expects before it fails.
const WAIT_MS: i32 = 5_000;

// ---- helpers -------------------------------------------------------------------------

fn window() -> Window {
    WINDOW.with(Window::clone)
}

fn document() -> Document {
    window().document().expect("a document")
}

fn eval(source: &str) -> JsValue {
    js_sys::eval(source).expect("the test's JavaScript evaluates")
}

/// Property `path` of a JS value (`"detail.componentId"`).
fn at(v: &JsValue, path: &str) -> JsValue {
    path.split('.').fold(v.clone(), |v, k| Reflect::get(&v, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED))
}

fn text_at(v: &JsValue, path: &str) -> String {
    at(v, path).as_string().unwrap_or_else(|| panic!("{path} is a string in {}", json(v)))
}

fn num_at(v: &JsValue, path: &str) -> f64 {
    at(v, path).as_f64().unwrap_or_else(|| panic!("{path} is a number in {}", json(v)))
}

fn json(v: &JsValue) -> String {
    JSON::stringify(v).map(String::from).unwrap_or_default()
}

/// An object's own keys, in order.
fn keys(v: &JsValue) -> Vec<String> {
    Object::keys(v.unchecked_ref::<Object>()).iter().filter_map(|k| k.as_string()).collect()
}

/// What a thrown value says (an Error's `message`, else the value itself).
fn thrown(e: &JsValue) -> String {
    at(e, "message").as_string().or_else(|| e.as_string()).unwrap_or_else(|| format!("{e:?}"))
}

fn iso(ms: f64) -> String {
    String::from(Date::new(&JsValue::from_f64(ms)).to_iso_string())
}

/// `p`'s value, or `Err` when it has not settled within [`WAIT_MS`] or was rejected.
async fn within(p: &Promise) -> Result<JsValue, JsValue> {
    let timeout = Promise::new(&mut |_, reject| {
        let late = JsValue::from_str("no answer in time");
        let _ = window().set_timeout_with_callback_and_timeout_and_arguments_1(&reject, WAIT_MS, &late);
    });
    JsFuture::from(Promise::race(&Array::of2(p, &timeout))).await
}

/// Items arriving from the browser's callbacks, and a wait for the n-th.
struct Log<T> {
    items: RefCell<Vec<T>>,
    waiter: RefCell<Option<(usize, Function)>>,
}

impl<T: Clone> Log<T> {
    fn new() -> Rc<Log<T>> {
        Rc::new(Log { items: RefCell::default(), waiter: RefCell::default() })
    }

    fn push(&self, item: T) {
        self.items.borrow_mut().push(item);
        let n = self.len();
        let ready = self.waiter.borrow().as_ref().is_some_and(|(want, _)| n >= *want);
        if ready {
            if let Some((_, resolve)) = self.waiter.borrow_mut().take() {
                let _ = resolve.call0(&JsValue::UNDEFINED);
            }
        }
    }

    fn len(&self) -> usize {
        self.items.borrow().len()
    }

    fn all(&self) -> Vec<T> {
        self.items.borrow().clone()
    }

    /// Until `n` items have arrived.
    async fn wait(&self, n: usize, what: &str) {
        if self.len() >= n {
            return;
        }
        let arrived = Promise::new(&mut |resolve, _| *self.waiter.borrow_mut() = Some((n, resolve)));
        if within(&arrived).await.is_err() {
            panic!("{what}: {} of {n} after {WAIT_MS} ms", self.len());
        }
    }
}

/// The `swcache:hydrated` and `swcache:hydration-error` events that reach `target`.
struct Events {
    log: Rc<Log<CustomEvent>>,
    _listener: Listener,
}

impl Events {
    fn on(target: &EventTarget) -> Events {
        let log = Log::<CustomEvent>::new();
        let seen = log.clone();
        let listener = Listener::new(target, &["swcache:hydrated", "swcache:hydration-error"], false, move |e| {
            seen.push(e.unchecked_into());
        });
        Events { log, _listener: listener }
    }

    async fn wait(&self, n: usize) {
        self.log.wait(n, "hydration events").await;
    }

    /// `(type, componentId)` of each event, in order.
    fn seen(&self) -> Vec<(String, String)> {
        self.log.all().iter().map(|e| (e.type_(), text_at(&e.detail(), "componentId"))).collect()
    }

    /// The one event of component `id`.
    fn of(&self, id: &str) -> CustomEvent {
        let all: Vec<CustomEvent> =
            self.log.all().into_iter().filter(|e| text_at(&e.detail(), "componentId") == id).collect();
        assert_eq!(all.len(), 1, "one event for {id}, got {:?}", self.seen());
        all[0].clone()
    }
}

/// One call of a render callback.
#[derive(Clone)]
struct Call {
    el: Element,
    data: JsValue,
    info: JsValue,
}

impl Call {
    fn id(&self) -> String {
        self.el.get_attribute("data-component-id").unwrap_or_default()
    }
}

type Answer = dyn Fn(&Call) -> Result<JsValue, JsValue>;

/// A render callback that records its calls and answers with `answer(call)` (a thrown
/// value for `Err`).
struct Render {
    log: Rc<Log<Call>>,
    callback: Closure<dyn FnMut(JsValue, JsValue, JsValue) -> Result<JsValue, JsValue>>,
}

impl Render {
    fn new() -> Render {
        Render::answering(|_| Ok(JsValue::UNDEFINED))
    }

    fn answering(answer: impl Fn(&Call) -> Result<JsValue, JsValue> + 'static) -> Render {
        let log = Log::new();
        let calls = log.clone();
        let answer: Box<Answer> = Box::new(answer);
        let callback = Closure::new(move |el: JsValue, data: JsValue, info: JsValue| {
            let call = Call { el: el.unchecked_into(), data, info };
            calls.push(call.clone());
            answer(&call)
        });
        Render { log, callback }
    }

    fn function(&self) -> &JsValue {
        self.callback.as_ref()
    }

    fn ids(&self) -> Vec<String> {
        self.log.all().iter().map(Call::id).collect()
    }

    /// The calls for component `id`, in order.
    fn calls(&self, id: &str) -> Vec<Call> {
        self.log.all().into_iter().filter(|c| c.id() == id).collect()
    }

    async fn wait(&self, n: usize) {
        self.log.wait(n, "render calls").await;
    }
}

/// `hydrate()`'s options: the JavaScript expression `source`, in which `render` and
/// `typed` are the two callbacks.
fn opts(source: &str, render: &Render, typed: &Render) -> JsValue {
    let make = Function::new_with_args("render, typed", &format!("return ({source});"));
    make.call2(&JsValue::UNDEFINED, render.function(), typed.function()).expect("the options evaluate")
}

std::thread_local! {
    /// The schedulers the tests started (a failed test's are stopped by the next one).
    static RUNNING: RefCell<Vec<Rc<Shared>>> = RefCell::default();
}

/// `new Hydration(opts)` and `start()`, as the page module does.
/// The ids `h.invalidated()` names for the notice `notice` (JavaScript source).
fn invalidated_ids(h: &Hydration, notice: &str) -> Vec<String> {
    h.invalidated(eval(notice)).iter().filter_map(|v| v.as_string()).collect()
}

fn hydrate(opts: JsValue) -> Hydration {
    let h = Hydration::new(opts).unwrap_or_else(|e| panic!("the options are accepted: {}", thrown(&e)));
    RUNNING.with_borrow_mut(|r| r.push(h.0.clone()));
    h.start().unwrap_or_else(|e| panic!("start: {}", thrown(&e)));
    h
}

/// The container of one test's components (`html`), fixed at the top left of the
/// viewport, once what an earlier test left is gone.
fn fresh(html: &str) -> HtmlElement {
    for s in RUNNING.with_borrow_mut(::core::mem::take) {
        Hydration(s).stop();
    }
    restore_fetch();
    eval("if (window.realDateNow) Date.now = window.realDateNow;");
    let doc = document();
    let body = doc.body().expect("a body");
    let _ = body.remove_attribute("data-page-slug");
    let old = doc.query_selector_all("[data-test-container]").unwrap();
    for i in 0..old.length() {
        if let Some(el) = old.item(i).and_then(|n| n.dyn_into::<Element>().ok()) {
            el.remove();
        }
    }
    let c: HtmlElement = doc.create_element("div").unwrap().unchecked_into();
    c.set_attribute("data-test-container", "").unwrap();
    c.set_attribute("style", "position: fixed; top: 0; left: 0; width: 400px; height: 300px; overflow: visible")
        .unwrap();
    c.set_inner_html(html);
    body.append_child(&c).unwrap();
    c
}

/// A component: `<section data-component-id=id data-component-type=ty attrs>` with inline
/// JSON when `inline` is not empty.
fn section(id: &str, ty: &str, attrs: &str, inline: &str) -> String {
    section_holding(id, ty, attrs, inline, "")
}

/// [`section`], with `html` after the inline JSON. (A `style` in `attrs` wins over the
/// default one: the parser keeps an attribute's first occurrence.)
fn section_holding(id: &str, ty: &str, attrs: &str, inline: &str, html: &str) -> String {
    let script =
        if inline.is_empty() { String::new() } else { format!(r#"<script type="application/json">{inline}</script>"#) };
    let open = format!(r#"<section data-component-id="{id}" data-component-type="{ty}" {attrs}"#);
    format!(r#"{open} style="display: block; height: 10px">{script}{html}</section>"#)
}

/// Sets `Date.now()` `ms` away from the real wall clock (a step: an NTP correction, the
/// user changing the clock), until the next test's [`fresh`].
fn step_wall_clock(ms: f64) {
    eval(&format!(
        "(() => {{ const real = window.realDateNow ??= Date.now; Date.now = () => real.call(Date) + {ms}; }})()"
    ));
}

/// Inline JSON fetched just now.
fn fresh_inline(n: u32) -> String {
    format!(r#"{{"fetchedAt": {}, "n": {n}}}"#, Date::now())
}

fn data_url(json: &str) -> String {
    format!("data:application/json,{}", String::from(js_sys::encode_uri_component(json)))
}

fn blob_url(json: &str) -> String {
    let blob = Blob::new_with_str_sequence(&Array::of1(&JsValue::from_str(json))).unwrap();
    Url::create_object_url_with_blob(&blob).unwrap()
}

fn element(c: &Element, id: &str) -> Element {
    c.query_selector(&format!("[data-component-id='{id}']")).unwrap().unwrap_or_else(|| panic!("no element {id}"))
}

/// A bubbling `focusin` on `target` (an interaction, for the adapter).
fn focus_in(target: &Element) {
    let init = EventInit::new();
    init.set_bubbles(true);
    let event = web_sys::Event::new_with_event_init_dict("focusin", &init).unwrap();
    target.dispatch_event(&event).unwrap();
}

/// Appends `html` to `c` and waits for a MutationObserver made now to hear of it. The
/// browser notifies observers in the order they were made, so by then the adapter's own
/// observer (made at `start()`) has been called, and what it renders at once is rendered.
async fn append_and_observe(c: &Element, html: &str) {
    change_and_observe(c, || c.insert_adjacent_html("beforeend", html).unwrap()).await;
}

/// Runs `change` (nodes or attributes) in `c`'s subtree and waits as [`append_and_observe`] does.
async fn change_and_observe(c: &Element, change: impl FnOnce()) {
    let mut resolve = None;
    let heard = Promise::new(&mut |r, _| resolve = Some(r));
    let observer = MutationObserver::new(&resolve.unwrap()).unwrap();
    let init = MutationObserverInit::new();
    init.set_child_list(true);
    init.set_subtree(true);
    init.set_attributes(true);
    observer.observe_with_options(c, &init).unwrap();
    change();
    within(&heard).await.expect("the MutationObserver is called");
    observer.disconnect();
}

// ---- a stand-in for window.fetch -------------------------------------------------------

/// One call of the stand-in fetch.
#[derive(Clone)]
struct Fetched {
    url: String,
    cache: String,
    signal: AbortSignal,
}

std::thread_local! {
    /// The page's own `fetch`, kept before a test replaces it.
    static REAL_FETCH: RefCell<Option<JsValue>> = const { RefCell::new(None) };
}

fn real_fetch() -> JsValue {
    REAL_FETCH.with_borrow_mut(|f| f.get_or_insert_with(|| at(&window(), "fetch")).clone())
}

fn restore_fetch() {
    let _ = Reflect::set(&window(), &JsValue::from_str("fetch"), &real_fetch());
}

/// Stands in for `window.fetch` while it lives: records each call (the URL as the adapter
/// passed it, `init.cache`, `init.signal`) and answers `answer(url, n)` for the n-th call
/// to that URL (0-based), or, as a real fetch does, rejects with the signal's reason once
/// it is aborted.
struct FakeFetch {
    log: Rc<Log<Fetched>>,
    _fetch: Closure<dyn FnMut(JsValue, JsValue) -> Promise>,
}

impl FakeFetch {
    fn new(answer: impl Fn(&str, usize) -> Promise + 'static) -> FakeFetch {
        let log = Log::new();
        let calls = log.clone();
        let abortable: Function = eval(
            "(answer, signal) => Promise.race([answer, new Promise((_, reject) => \
             signal.addEventListener('abort', () => reject(signal.reason)))])",
        )
        .unchecked_into();
        let fetch = Closure::new(move |input: JsValue, init: JsValue| {
            let url = input.as_string().unwrap_or_default();
            let n = calls.all().iter().filter(|c: &&Fetched| c.url == url).count();
            let signal: AbortSignal = at(&init, "signal").unchecked_into();
            let cache = at(&init, "cache").as_string().unwrap_or_default();
            calls.push(Fetched { url: url.clone(), cache, signal: signal.clone() });
            abortable.call2(&JsValue::UNDEFINED, &answer(&url, n), &signal).expect("a promise").unchecked_into()
        });
        real_fetch();
        Reflect::set(&window(), &JsValue::from_str("fetch"), fetch.as_ref()).unwrap();
        FakeFetch { log, _fetch: fetch }
    }

    /// `(url, cache)` of each call, in order.
    fn calls(&self) -> Vec<(String, String)> {
        self.log.all().into_iter().map(|c| (c.url, c.cache)).collect()
    }
}

impl Drop for FakeFetch {
    fn drop(&mut self) {
        restore_fetch();
    }
}

/// A JSON response, `sw-cache-time` stamped `stamp` when given.
fn answer(body: &str, status: u16, stamp: Option<f64>) -> Promise {
    let headers = Headers::new().unwrap();
    headers.set("content-type", "application/json").unwrap();
    if let Some(t) = stamp {
        headers.set("sw-cache-time", &iso(t)).unwrap();
    }
    let init = ResponseInit::new();
    init.set_status(status);
    init.set_headers(&headers);
    let response: JsValue = Response::new_with_opt_str_and_init(Some(body), &init).unwrap().into();
    Promise::resolve(&response)
}

// ---- options -------------------------------------------------------------------------

#[wasm_bindgen_test]
fn bad_options_throw_type_errors_that_name_them() {
    fresh("");
    // `swcache hydrate: option '<path>' must be <what>`, for (source, path, what).
    let number = "a non-negative number";
    let ms = "a number of milliseconds (or false)";
    let margin = "a CSS margin string or a number of pixels";
    let trigger = "'visible', 'idle', 'interaction', 'eager' or 'media:<query>'";
    let wrong = [
        ("null", "opts", "an object"),
        ("'eager'", "opts", "an object"),
        ("({preload: -1})", "preload", number),
        ("({maxConcurrent: '4'})", "maxConcurrent", number),
        ("({maxRetries: Infinity})", "maxRetries", number),
        ("({retryBaseMs: 10n})", "retryBaseMs", number),
        ("({rootMargin: true})", "rootMargin", margin),
        ("({rootMargin: NaN})", "rootMargin", margin),
        ("({pageSlug: Symbol('s')})", "pageSlug", "a string"),
        ("({render: 'fill'})", "render", "a function"),
        ("({types: ['CARD']})", "types", "an object keyed by component type"),
        ("({types: {CARD: null}})", "types.CARD", "an object"),
        ("({types: {CARD: {render: {}}}})", "types.CARD.render", "a function"),
        ("({types: {CARD: {poll: -5}}})", "types.CARD.poll", ms),
        ("({types: {CARD: {maxAge: true}}})", "types.CARD.maxAge", ms),
        ("({types: {CARD: {trigger: 'soon'}}})", "types.CARD.trigger", trigger),
        // The first wrong one, in the object's own order.
        ("({preload: 1, render() {}, maxRetries: 'x', pageSlug: 3})", "maxRetries", number),
    ];
    let mut cases: Vec<(&str, String)> = (wrong.iter())
        .map(|(source, path, what)| (*source, format!("swcache hydrate: option '{path}' must be {what}")))
        .collect();
    cases.push((
        "({rootmargin: '10px'})",
        String::from(
            "swcache hydrate: unknown option 'rootmargin' (expected one of rootMargin, preload, maxConcurrent, \
             maxRetries, retryBaseMs, fetchTimeout, pageSlug, render, types)",
        ),
    ));
    cases.push((
        "({types: {CARD: {ttl: 1}}})",
        String::from(
            "swcache hydrate: unknown option 'types.CARD.ttl' (expected one of maxAge, poll, trigger, render)",
        ),
    ));
    for (source, text) in cases {
        let Err(e) = Hydration::new(eval(source)) else { panic!("{source} is refused") };
        assert!(e.is_instance_of::<js_sys::TypeError>(), "{source} throws a TypeError, not {e:?}");
        assert_eq!(thrown(&e), text, "{source}");
    }
    // An option set to undefined is not set; any function is a render callback.
    for source in [
        "({})",
        "({preload: undefined, pageSlug: undefined, render: undefined, types: {CARD: undefined}})",
        "({render: async () => {}, types: {CARD: {render: function () {}, poll: false, maxAge: 0, trigger: 'idle'}}})",
        "({rootMargin: 120, preload: 2.7, maxConcurrent: 0, maxRetries: 0, retryBaseMs: 0})",
    ] {
        if let Err(e) = Hydration::new(eval(source)) {
            panic!("{source} is accepted, not refused with {}", thrown(&e));
        }
    }
}

#[wasm_bindgen_test]
fn root_margin_and_page_slug_reach_the_browser() {
    fresh("");
    // rootMargin, as the IntersectionObserver the adapter made reads it back.
    let margin = |source: &str| {
        let h = hydrate(eval(source));
        let margin = h.0.state.borrow().visible.as_ref().map(|w| w.observer.root_margin());
        h.stop();
        margin.expect("an IntersectionObserver")
    };
    assert_eq!(margin("({})"), "50px 50px 50px 50px");
    assert_eq!(margin("({rootMargin: ''})"), "50px 50px 50px 50px");
    assert_eq!(margin("({rootMargin: 120.7})"), "120px 120px 120px 120px");
    assert_eq!(margin("({rootMargin: '10px 20%'})"), "10px 20% 10px 20%");
    assert_eq!(margin("({rootMargin: -5})"), "-5px -5px -5px -5px", "negative pixels shrink the viewport");
    // A margin the browser cannot parse: start() throws its SyntaxError (the page module
    // names the option).
    let h = Hydration::new(eval("({rootMargin: 'wide'})")).unwrap_or_else(|e| panic!("{}", thrown(&e)));
    let Err(e) = h.start() else { panic!("start() fails on a margin the browser cannot parse") };
    assert_eq!(at(&e, "name").as_string().as_deref(), Some("SyntaxError"), "{}", thrown(&e));
    h.stop();

    // pageSlug: the option, else <body data-page-slug>, else the pathname.
    let slug = |source: &str| {
        let h = Hydration::new(eval(source)).unwrap_or_else(|e| panic!("{}", thrown(&e)));
        let slug = h.0.state.borrow().page_slug.clone();
        slug
    };
    let body = document().body().unwrap();
    assert_eq!(slug("({})"), window().location().pathname().unwrap());
    body.set_attribute("data-page-slug", "from-body").unwrap();
    assert_eq!(slug("({})"), "from-body");
    assert_eq!(slug("({pageSlug: ''})"), "from-body");
    assert_eq!(slug("({pageSlug: 'summer-sale'})"), "summer-sale");
    body.remove_attribute("data-page-slug").unwrap();
}

// ---- rendering and its events ------------------------------------------------------------

#[wasm_bindgen_test]
async fn fresh_inline_data_renders_at_once_and_hydrated_bubbles_with_its_detail() {
    let two_s_ago = iso(Date::now() - 2_000.0);
    let inline = format!(r#"{{"fetchedAt": "{two_s_ago}", "items": [1, "two"]}}"#);
    let c = fresh(
        &[
            section("a", "CARD", r#"data-hydrate="eager""#, &inline),
            section("b", "BADGE", r#"data-hydrate="eager""#, &fresh_inline(1)),
        ]
        .concat(),
    );
    let net = FakeFetch::new(|_, _| Promise::reject(&JsValue::from_str("no fetch expected")));
    let events = Events::on(&document());
    let (top, typed) = (Render::new(), Render::new());
    let h =
        hydrate(opts("{preload: 0, pageSlug: 'summer-sale', render, types: {CARD: {render: typed}}}", &top, &typed));
    // Both rendered during start(): a type's render, else the top-level one.
    assert_eq!(typed.ids(), ["a"]);
    assert_eq!(top.ids(), ["b"]);
    events.wait(2).await;
    assert!(net.calls().is_empty(), "fresh inline data is not fetched: {:?}", net.calls());

    let call = &typed.calls("a")[0];
    assert!(Object::is(&call.el, &element(&c, "a")), "render gets the element");
    assert_eq!(json(&call.data), format!(r#"{{"fetchedAt":"{two_s_ago}","items":[1,"two"]}}"#));
    assert_eq!(keys(&call.info), ["componentId", "componentType", "source", "ageMs"]);
    assert_eq!(text_at(&call.info, "componentId"), "a");
    assert_eq!(text_at(&call.info, "componentType"), "CARD");
    assert_eq!(text_at(&call.info, "source"), "inline");
    let age = num_at(&call.info, "ageMs");
    assert!((2_000.0..2_000.0 + f64::from(WAIT_MS)).contains(&age), "age of an ISO fetchedAt: {age}");
    let age = num_at(&top.calls("b")[0].info, "ageMs");
    assert!((0.0..f64::from(WAIT_MS)).contains(&age), "age of a numeric fetchedAt: {age}");

    // swcache:hydrated, dispatched on the element, bubbling to the document, its detail
    // a plain object with exactly these fields.
    let e = events.of("a");
    assert_eq!(e.type_(), "swcache:hydrated");
    assert!(e.bubbles());
    assert!(Object::is(&e.target().unwrap(), &element(&c, "a")));
    let detail = e.detail();
    assert_eq!(keys(&detail), ["componentId", "componentType", "pageSlug", "ms"]);
    assert!(Object::is(&Object::get_prototype_of(&detail), &Object::get_prototype_of(&Object::new())));
    assert_eq!(text_at(&detail, "componentId"), "a");
    assert_eq!(text_at(&detail, "componentType"), "CARD");
    assert_eq!(text_at(&detail, "pageSlug"), "summer-sale");
    let ms = num_at(&detail, "ms");
    assert!(ms >= 0.0 && ms.fract() == 0.0, "ms is whole milliseconds: {ms}");
    assert_eq!(text_at(&events.of("b").detail(), "componentType"), "BADGE");
    h.stop();
}

#[wasm_bindgen_test]
async fn fetched_data_comes_from_data_and_blob_urls_and_failures_become_errors() {
    let c = fresh(
        &[
            section("d", "CARD", &format!(r#"data-hydrate="eager" data-src="{}""#, data_url(r#"{"from":"data"}"#)), ""),
            section("b", "CARD", &format!(r#"data-hydrate="eager" data-src="{}""#, blob_url(r#"{"from":"blob"}"#)), ""),
            section("j", "CARD", r#"data-hydrate="eager" data-src="data:application/json,not json""#, ""),
            section("u", "CARD", r#"data-hydrate="eager" data-src="http://[""#, ""),
            section("n", "CARD", r#"data-hydrate="eager""#, ""),
        ]
        .concat(),
    );
    let events = Events::on(&c);
    let render = Render::new();
    let h = hydrate(opts("{preload: 0, maxRetries: 0, render}", &render, &render));
    events.wait(5).await;

    for (id, body) in [("d", r#"{"from":"data"}"#), ("b", r#"{"from":"blob"}"#)] {
        assert_eq!(events.of(id).type_(), "swcache:hydrated");
        let call = &render.calls(id)[0];
        assert_eq!(json(&call.data), body, "{id}");
        assert_eq!(text_at(&call.info, "source"), "network", "{id}: unstamped, so from the network");
        assert_eq!(num_at(&call.info, "ageMs"), 0.0);
    }
    // A body that is not JSON, a URL fetch cannot parse, no data-src: errors after one
    // attempt, with the browser's text (or the adapter's).
    let error = |id: &str| {
        let e = events.of(id);
        assert_eq!(e.type_(), "swcache:hydration-error", "{id}");
        assert!(e.bubbles());
        let detail = e.detail();
        assert_eq!(keys(&detail), ["componentId", "componentType", "pageSlug", "ms", "attempts", "error"], "{id}");
        assert_eq!(num_at(&detail, "attempts"), 1.0, "{id}");
        text_at(&detail, "error")
    };
    let text = error("j");
    assert!(text.contains("JSON"), "a JSON parse error: {text}");
    let text = error("u");
    assert!(text.contains("http://["), "fetch's TypeError: {text}");
    assert_eq!(error("n"), "no data-src");
    assert_eq!(render.ids().len(), 2, "failed fetches render nothing: {:?}", render.ids());
    h.stop();
}

#[wasm_bindgen_test]
async fn stamps_stale_copies_and_http_errors_through_fetch() {
    let old = r#"{"fetchedAt": "2020-01-01T00:00:00Z", "v": "old"}"#;
    let c = fresh(
        &[
            section("s", "CARD", r#"data-hydrate="eager" data-src="/api/stale""#, ""),
            section("e", "CARD", r#"data-hydrate="eager" data-src="/api/missing""#, ""),
            section("o", "CARD", r#"data-hydrate="eager" data-src="/api/old""#, old),
            section("u", "CARD", r#"data-hydrate="eager" data-src="/api/undated""#, r#"{"v": "undated"}"#),
        ]
        .concat(),
    );
    let net = FakeFetch::new(|url, n| match (url, n) {
        // A copy stored a minute ago, then (the reload) a fresh one from the network.
        ("/api/stale", 0) => answer(r#"{"v":1}"#, 200, Some(Date::now() - 60_000.0)),
        ("/api/stale", _) => answer(r#"{"v":2}"#, 200, None),
        ("/api/missing", _) => answer("{}", 404, None),
        _ => answer(r#"{"v":"new"}"#, 200, None),
    });
    let events = Events::on(&c);
    let render = Render::new();
    let options = "{preload: 0, maxRetries: 1, retryBaseMs: 1, render, types: {CARD: {maxAge: 30000}}}";
    let h = hydrate(opts(options, &render, &render));
    events.wait(4).await;
    render.wait(4).await;

    // Stamped before the request started: from the cache, its age from the stamp; older
    // than maxAge, so rendered, then refetched once past the cache.
    let s = render.calls("s");
    assert_eq!(s.len(), 2);
    assert_eq!(json(&s[0].data), r#"{"v":1}"#);
    assert_eq!(text_at(&s[0].info, "source"), "cache");
    let age = num_at(&s[0].info, "ageMs");
    assert!((60_000.0..60_000.0 + f64::from(WAIT_MS)).contains(&age), "age {age}");
    assert_eq!(json(&s[1].data), r#"{"v":2}"#);
    assert_eq!(text_at(&s[1].info, "source"), "network");
    assert_eq!(events.of("s").type_(), "swcache:hydrated", "the refresh sends no second event");
    // Stale and undated inline data: fetched past the cache, the fetched data rendered.
    for id in ["o", "u"] {
        let calls = render.calls(id);
        assert_eq!(calls.len(), 1, "{id}");
        assert_eq!(json(&calls[0].data), r#"{"v":"new"}"#, "{id}");
        assert_eq!(text_at(&calls[0].info, "source"), "network");
    }
    // HTTP 404: retried once (the backoff timer), then an error with its text.
    let detail = events.of("e").detail();
    assert_eq!(events.of("e").type_(), "swcache:hydration-error");
    assert_eq!(num_at(&detail, "attempts"), 2.0);
    assert_eq!(text_at(&detail, "error"), "HTTP 404");

    let mut calls = net.calls();
    calls.sort();
    let call = |url: &str, cache: &str| (String::from(url), String::from(cache));
    assert_eq!(
        calls,
        [
            call("/api/missing", "default"),
            call("/api/missing", "default"),
            call("/api/old", "reload"),
            call("/api/stale", "default"),
            call("/api/stale", "reload"),
            call("/api/undated", "reload"),
        ]
    );
    // Each fetch answered in time is left alone (stop() aborts those still in flight:
    // `stop_ends_observers_listeners_and_fetches`).
    let signals = net.log.all();
    h.stop();
    assert!(signals.iter().all(|f| !f.signal.aborted()));
}

#[wasm_bindgen_test]
async fn a_render_that_throws_or_rejects_fails_its_component() {
    let c = fresh(
        &[
            section("t", "CARD", r#"data-hydrate="eager""#, &fresh_inline(1)),
            section("r", "CARD", r#"data-hydrate="eager""#, &fresh_inline(2)),
            section("s", "CARD", r#"data-hydrate="eager""#, &fresh_inline(3)),
            section("p", "CARD", r#"data-hydrate="eager""#, &fresh_inline(4)),
            section("f", "CARD", &format!(r#"data-hydrate="eager" data-src="{}""#, data_url("[5]")), ""),
        ]
        .concat(),
    );
    let mut resolve = None;
    let pending = Promise::new(&mut |r, _| resolve = Some(r));
    let render = Render::answering(move |call| match call.id().as_str() {
        "t" => Err(js_sys::Error::new("boom").into()),
        "r" => Ok(Promise::reject(&js_sys::Error::new("later boom").into()).into()),
        "s" => Err(JsValue::from_str("a plain string")),
        "p" => Ok(pending.clone().into()),
        _ => Err(js_sys::Error::new("fetched boom").into()),
    });
    let events = Events::on(&c);
    let h = hydrate(opts("{preload: 0, render}", &render, &render));
    // The synchronous throws are reported at once; "p" waits for its promise.
    let error = |id: &str| (String::from("swcache:hydration-error"), String::from(id));
    assert_eq!(events.seen(), [error("t"), error("s")]);
    events.wait(4).await;
    assert!(events.seen().iter().all(|(_, id)| id != "p"), "p is not hydrated before its promise resolves");
    resolve.unwrap().call0(&JsValue::UNDEFINED).unwrap();
    events.wait(5).await;

    for (id, attempts, text) in
        [("t", 0.0, "boom"), ("r", 0.0, "later boom"), ("s", 0.0, "a plain string"), ("f", 1.0, "fetched boom")]
    {
        let e = events.of(id);
        assert_eq!(e.type_(), "swcache:hydration-error", "{id}");
        assert_eq!(num_at(&e.detail(), "attempts"), attempts, "{id}");
        assert_eq!(text_at(&e.detail(), "error"), text, "{id}");
    }
    assert_eq!(events.of("p").type_(), "swcache:hydrated");
    // Not retried: one call each.
    let mut ids = render.ids();
    ids.sort();
    assert_eq!(ids, ["f", "p", "r", "s", "t"]);
    h.stop();
}

#[wasm_bindgen_test]
async fn a_fetch_with_no_answer_is_aborted_and_the_others_go_on() {
    // One slot, taken by a fetch the server never answers: the second component waited
    // for good before fetches had a timeout.
    let c = fresh(
        &[
            section("hung", "CARD", r#"data-hydrate="eager" data-src="/api/hung""#, ""),
            section("next", "CARD", r#"data-hydrate="eager" data-src="/api/next""#, ""),
        ]
        .concat(),
    );
    let net = FakeFetch::new(
        |url, _| if url == "/api/next" { answer("{}", 200, None) } else { Promise::new(&mut |_, _| {}) },
    );
    let render = Render::new();
    let events = Events::on(&c);
    let options = "{preload: 0, maxConcurrent: 1, maxRetries: 1, retryBaseMs: 1, fetchTimeout: 30, render}";
    let h = hydrate(opts(options, &render, &render));
    events.wait(2).await;
    assert_eq!(events.of("next").type_(), "swcache:hydrated");
    let e = events.of("hung");
    assert_eq!(e.type_(), "swcache:hydration-error");
    assert_eq!(num_at(&e.detail(), "attempts"), 2.0, "tried again once after the timeout");
    assert_eq!(text_at(&e.detail(), "error"), "no answer within 30 ms");
    let hung: Vec<Fetched> = net.log.all().into_iter().filter(|f| f.url == "/api/hung").collect();
    assert_eq!(hung.len(), 2);
    assert!(hung.iter().all(|f| f.signal.aborted()), "each hung fetch is aborted, its connection let go");
    assert!(h.0.state.borrow().comps.iter().flatten().all(|c| c.fetch.is_none()));
    h.stop();

    // A component that leaves the document while its fetch is out: the fetch is aborted.
    let c = fresh(&section("away", "CARD", r#"data-hydrate="eager" data-src="/api/away""#, ""));
    let net = FakeFetch::new(|_, _| Promise::new(&mut |_, _| {}));
    let h = hydrate(opts("{preload: 0, render}", &render, &render));
    assert_eq!(net.calls().len(), 1);
    change_and_observe(&c, || element(&c, "away").remove()).await;
    assert!(net.log.all()[0].signal.aborted(), "its connection let go");
    h.stop();
}

/// A page's own `fetch` wrapper that never answers for `url` and ignores the abort signal
/// (it waits for something of its own first), answering `{}` for every other URL.
fn hang_fetches_of(url: &str) {
    eval(&format!(
        "window.fetch = (url) => url === '{url}' ? new Promise(() => {{}}) \
         : Promise.resolve(new Response('{{}}', {{headers: {{'content-type': 'application/json'}}}}))"
    ));
}

#[wasm_bindgen_test]
async fn a_fetch_wrapper_that_ignores_the_signal_holds_no_slot() {
    // A page's fetch wrapper that waits for something of its own first (a token that never
    // comes) or drops `init.signal`: the abort reaches nothing, and no answer ever comes.
    let c = fresh(
        &[
            section("hung", "CARD", r#"data-hydrate="eager" data-src="/api/hung""#, ""),
            section("next", "CARD", r#"data-hydrate="eager" data-src="/api/next""#, ""),
        ]
        .concat(),
    );
    hang_fetches_of("/api/hung");
    let render = Render::new();
    let events = Events::on(&c);
    let options = "{preload: 0, maxConcurrent: 1, maxRetries: 0, fetchTimeout: 30, render}";
    let h = hydrate(opts(options, &render, &render));
    events.wait(2).await;
    assert_eq!(events.of("next").type_(), "swcache:hydrated");
    assert_eq!(text_at(&events.of("hung").detail(), "error"), "no answer within 30 ms");
    h.stop();

    // One that leaves the document while such a fetch is out frees its slot too.
    let c = fresh(&section("away", "CARD", r#"data-hydrate="eager" data-src="/api/hung""#, ""));
    hang_fetches_of("/api/hung");
    let events = Events::on(&c);
    let h = hydrate(opts("{preload: 0, maxConcurrent: 1, fetchTimeout: Infinity, render}", &render, &render));
    change_and_observe(&c, || element(&c, "away").remove()).await;
    let later = section("later", "CARD", r#"data-hydrate="eager" data-src="/api/next""#, "");
    change_and_observe(&c, || c.insert_adjacent_html("beforeend", &later).unwrap()).await;
    events.wait(1).await;
    assert_eq!(events.of("later").type_(), "swcache:hydrated");
    h.stop();
}

#[wasm_bindgen_test]
async fn a_fetch_that_throws_at_once_fails_only_its_component() {
    // A wrapper that throws instead of rejecting (`new Request(url)` of a bad URL before
    // its first await): its component fails, the scheduler goes on.
    let c = fresh(
        &[
            section("bad", "CARD", r#"data-hydrate="eager" data-src="/api/bad""#, ""),
            section("next", "CARD", r#"data-hydrate="eager" data-src="/api/next""#, ""),
        ]
        .concat(),
    );
    eval(
        "window.fetch = (url) => { if (url === '/api/bad') throw new TypeError('bad URL'); \
         return Promise.resolve(new Response('{}', {headers: {'content-type': 'application/json'}})); }",
    );
    let render = Render::new();
    let events = Events::on(&c);
    let h = hydrate(opts("{preload: 0, maxRetries: 0, render}", &render, &render));
    events.wait(2).await;
    assert_eq!(events.of("next").type_(), "swcache:hydrated");
    assert_eq!(text_at(&events.of("bad").detail(), "error"), "bad URL");
    h.stop();
}

#[wasm_bindgen_test]
async fn a_failure_that_is_no_error_object_fails_only_its_component() {
    // What pages reject with besides errors: nothing, a plain object, a number, null.
    let c = fresh(
        &[
            section("u", "CARD", r#"data-hydrate="eager""#, &fresh_inline(1)),
            section("o", "CARD", r#"data-hydrate="eager""#, &fresh_inline(2)),
            section("n", "CARD", r#"data-hydrate="eager""#, &fresh_inline(3)),
            section("f", "CARD", r#"data-hydrate="eager" data-src="/api/f""#, ""),
            section("later", "CARD", r#"data-hydrate="idle""#, &fresh_inline(4)),
        ]
        .concat(),
    );
    let _net = FakeFetch::new(|_, _| Promise::reject(&JsValue::NULL));
    let render = Render::answering(|call| match call.id().as_str() {
        "u" => Ok(Promise::reject(&JsValue::UNDEFINED).into()),
        "o" => Err(Object::new().into()),
        "n" => Err(JsValue::from_f64(42.0)),
        _ => Ok(JsValue::UNDEFINED),
    });
    let events = Events::on(&c);
    let h = hydrate(opts("{preload: 0, maxRetries: 0, render}", &render, &render));
    events.wait(5).await;
    for (id, text) in [("u", "undefined"), ("o", "[object Object]"), ("n", "42"), ("f", "null")] {
        let e = events.of(id);
        assert_eq!(e.type_(), "swcache:hydration-error", "{id}");
        assert_eq!(text_at(&e.detail(), "error"), text, "{id}");
    }
    assert_eq!(events.of("later").type_(), "swcache:hydrated", "the others still hydrate");
    h.stop();
}

// ---- triggers ------------------------------------------------------------------------

#[wasm_bindgen_test]
async fn visible_idle_media_and_interaction_triggers() {
    let below = r#"style="position: absolute; top: 5000px; height: 10px""#;
    let c = fresh(
        &[
            // The first `preload` components hydrate at once, in view or not.
            section("first", "CARD", below, &fresh_inline(0)),
            section("far", "CARD", below, &fresh_inline(1)),
            section("v", "CARD", r#"data-hydrate="visible""#, &fresh_inline(2)),
            section("i", "LAZY", "", &fresh_inline(3)),
            section("own", "LAZY", r#"data-hydrate="interaction""#, &fresh_inline(4)),
            section("m", "CARD", r#"data-hydrate="media:(min-width: 1px)""#, &fresh_inline(5)),
            section("print", "CARD", r#"data-hydrate="media:print""#, &fresh_inline(6)),
            section_holding("touch", "CARD", r#"data-hydrate="interaction""#, &fresh_inline(7), "<button>go</button>"),
        ]
        .concat(),
    );
    let events = Events::on(&c);
    let render = Render::new();
    let h = hydrate(opts("{preload: 1, render, types: {LAZY: {trigger: 'idle'}}}", &render, &render));
    // During start(): the preloaded component and the media query that matches.
    assert_eq!(render.ids(), ["first", "m"]);
    // In view (IntersectionObserver, after start) and idle (requestIdleCallback).
    events.wait(4).await;
    let mut ids = render.ids();
    ids.sort();
    assert_eq!(ids, ["first", "i", "m", "v"]);
    // "far" is observed with "v", after it: its entry (not intersecting) came in the same
    // callback. "own"'s attribute wins over its type's idle trigger.
    let waiting = h.0.state.borrow().comps.iter().flatten().filter(|c| c.media.is_some()).count();
    assert_eq!(waiting, 1, "print waits on its MediaQueryList's change");

    // Interaction: a focus outside any component does nothing; inside one, it hydrates
    // it at once (inline data).
    focus_in(&c);
    assert_eq!(render.ids().len(), 4);
    // A handler of the page's own inside the component stops the event's propagation:
    // the interaction is heard all the same (on its way down).
    let button = element(&c, "touch").query_selector("button").unwrap().unwrap();
    let stop = Closure::<dyn FnMut(web_sys::Event)>::new(|e: web_sys::Event| e.stop_propagation());
    button.add_event_listener_with_callback("focusin", stop.as_ref().unchecked_ref()).unwrap();
    stop.forget();
    focus_in(&button);
    assert_eq!(render.ids().len(), 5);
    assert_eq!(render.ids()[4], "touch");
    assert_eq!(num_at(&render.calls("touch")[0].data, "n"), 7.0);
    events.wait(5).await;

    // Scrolled into view: hydrated.
    element(&c, "far").set_attribute("style", "position: absolute; top: 0; height: 10px").unwrap();
    events.wait(6).await;
    assert_eq!(render.ids()[5], "far");
    assert!(render.calls("print").is_empty() && render.calls("own").is_empty());
    let seen: Vec<String> = events.seen().into_iter().map(|(kind, _)| kind).collect();
    assert!(seen.iter().all(|kind| kind == "swcache:hydrated"), "{seen:?}");
    h.stop();
}

// ---- the document changing -------------------------------------------------------------

#[wasm_bindgen_test]
async fn components_added_later_are_found_and_removed_ones_dropped() {
    let c = fresh(
        &[
            section("gone", "CARD", r#"data-hydrate="idle""#, &fresh_inline(1)),
            section("kept", "CARD", r#"data-hydrate="idle""#, &fresh_inline(2)),
        ]
        .concat(),
    );
    let events = Events::on(&c);
    let render = Render::new();
    let h = hydrate(opts("{preload: 0, render}", &render, &render));
    // Removed before the idle callback that would hydrate both: the MutationObserver
    // drops it, so the idle callback renders only "kept".
    element(&c, "gone").remove();
    events.wait(1).await;
    assert_eq!(render.ids(), ["kept"]);
    {
        let st = h.0.state.borrow();
        assert!(st.comps[0].is_none(), "the removed component is dropped");
        assert_eq!(st.keys.size(), 1);
    }

    // Added later: a component itself, and components inside an added subtree, in
    // document order.
    append_and_observe(&c, &section("n1", "CARD", r#"data-hydrate="eager""#, &fresh_inline(3))).await;
    let subtree = [
        "<div><p>",
        &section("n2", "CARD", r#"data-hydrate="eager""#, &fresh_inline(4)),
        "</p>",
        &section("n3", "CARD", r#"data-hydrate="eager""#, &fresh_inline(5)),
        "</div>",
    ]
    .concat();
    append_and_observe(&c, &subtree).await;
    assert_eq!(render.ids(), ["kept", "n1", "n2", "n3"]);
    events.wait(4).await;
    // Moved within the document: still the same component, not hydrated twice.
    let n1 = element(&c, "n1");
    let moved = document().create_element("div").unwrap();
    c.append_child(&moved).unwrap();
    moved.append_child(&n1).unwrap();
    append_and_observe(&c, "<i></i>").await;
    assert_eq!(render.ids().len(), 4);
    // Added and removed again before the observer runs (a framework's discarded render):
    // never read, so neither fetched nor rendered detached.
    change_and_observe(&c, || {
        c.insert_adjacent_html("beforeend", &section("n4", "CARD", r#"data-hydrate="eager""#, &fresh_inline(6)))
            .unwrap();
        element(&c, "n4").remove();
    })
    .await;
    assert_eq!(render.ids().len(), 4, "{:?}", render.ids());
    assert_eq!(h.0.state.borrow().comps.len(), 5, "not read");
    h.stop();
}

#[wasm_bindgen_test]
async fn a_change_in_the_page_costs_what_it_removes_not_every_component() {
    // A long page: 400 hydrated components, then 20 changes that each replace what one of
    // them shows (as a render, a ticker or a carousel does), each heard by the
    // MutationObserver on its own. Each must not check every component for removal: the
    // page reads `isConnected` (counted here) for what entered or left the document, not 400 times.
    let many: Vec<String> = (0..400)
        .map(|i| section_holding(&format!("m{i}"), "CARD", r#"data-hydrate="eager""#, &fresh_inline(i), "<b>old</b>"))
        .collect();
    let c = fresh(&many.concat());
    let render = Render::new();
    let events = Events::on(&c);
    let h = hydrate(opts("{preload: 0, render}", &render, &render));
    events.wait(400).await;
    let restore: Function = eval(
        "(() => { const d = Object.getOwnPropertyDescriptor(Node.prototype, 'isConnected'); window.isConnectedReads = 0;
          Object.defineProperty(Node.prototype, 'isConnected', { configurable: true,
            get() { window.isConnectedReads++; return d.get.call(this); } });
          return () => Object.defineProperty(Node.prototype, 'isConnected', d); })()",
    )
    .unchecked_into();
    for i in 0..20 {
        let shown = element(&c, &format!("m{i}"));
        change_and_observe(&c, || shown.set_inner_html("<b>new</b>")).await;
    }
    let reads = num_at(&window(), "isConnectedReads");
    // And a component that leaves is still dropped.
    change_and_observe(&c, || element(&c, "m399").remove()).await;
    restore.call0(&JsValue::UNDEFINED).unwrap();
    // Each change adds a node and removes one: at most 3 reads each, whatever the page holds.
    assert!(reads <= 60.0, "{reads} isConnected reads for 20 changes of 400 components");
    assert!(h.0.state.borrow().comps[399].is_none(), "the removed component is dropped");
    assert_eq!(h.0.state.borrow().keys.size(), 399);
    h.stop();
}

#[wasm_bindgen_test]
async fn a_component_whose_attributes_change_is_hydrated_again_as_it_now_is() {
    // A CMS preview or client code points a hydrated element at other data: its polls,
    // renders and invalidations must follow the new `data-src`, not the one it had.
    let c = fresh(&section("x", "CARD", r#"data-hydrate="eager" data-src="/api/old""#, ""));
    let _net = FakeFetch::new(|url, _| answer(&format!(r#"{{"url":"{url}"}}"#), 200, None));
    let render = Render::new();
    let h = hydrate(opts("{preload: 0, render}", &render, &render));
    render.wait(1).await;
    let el = element(&c, "x");
    el.set_attribute("data-src", "/api/new").unwrap();
    render.wait(2).await;
    assert_eq!(json(&render.calls("x")[1].data), r#"{"url":"/api/new"}"#);
    // The same value set again changes nothing; a new id is a new component.
    change_and_observe(&c, || {
        el.set_attribute("data-src", "/api/new").unwrap();
        el.set_attribute("data-component-id", "y").unwrap();
    })
    .await;
    render.wait(3).await;
    let ids: Vec<String> = render.log.all().iter().map(|c| text_at(&c.info, "componentId")).collect();
    assert_eq!(ids, ["x", "x", "y"]);
    assert!(invalidated_ids(&h, "({type: 'INVALIDATED', urls: ['/api/old']})").is_empty());
    assert_eq!(invalidated_ids(&h, "({type: 'INVALIDATED', urls: ['/api/new']})"), ["y"]);
    h.stop();
}

#[wasm_bindgen_test]
async fn a_component_put_back_later_carries_on_without_hydrating_again() {
    // A framework moving a node (removed in one task, inserted in a later one), or keeping
    // it alive while another view shows: the same element is the same component.
    let c = fresh(
        &[
            section("once", "CARD", r#"data-hydrate="eager""#, &fresh_inline(1)),
            section("tick", "TICKER", r#"data-hydrate="eager" data-src="/api/tick""#, ""),
        ]
        .concat(),
    );
    let _net = FakeFetch::new(|_, n| answer(&format!(r#"{{"n":{n}}}"#), 200, None));
    let events = Events::on(&c);
    let render = Render::new();
    let h = hydrate(opts("{preload: 0, render, types: {TICKER: {poll: 50}}}", &render, &render));
    events.wait(2).await;
    let (once, tick) = (element(&c, "once"), element(&c, "tick"));
    change_and_observe(&c, || {
        once.remove();
        tick.remove();
    })
    .await;
    change_and_observe(&c, || {
        c.append_child(&once).unwrap();
        c.append_child(&tick).unwrap();
    })
    .await;
    // Back: not rendered again, no second event; the ticker polls on.
    let ticks = render.calls("tick").len();
    render.wait(render.log.len() + 2).await;
    assert_eq!(render.calls("once").len(), 1, "rendered again: {:?}", render.ids());
    assert!(render.calls("tick").len() >= ticks + 2);
    assert_eq!(events.seen().len(), 2, "{:?}", events.seen());
    assert_eq!(invalidated_ids(&h, "({type: 'INVALIDATED', urls: ['/api/tick']})"), ["tick"]);
    // Put back as another component (its id changed while it was out): hydrated as new.
    change_and_observe(&c, || once.remove()).await;
    once.set_attribute("data-component-id", "other").unwrap();
    change_and_observe(&c, || {
        c.append_child(&once).unwrap();
    })
    .await;
    events.wait(3).await;
    assert_eq!(events.seen()[2], (String::from("swcache:hydrated"), String::from("other")));
    h.stop();
}

#[wasm_bindgen_test]
async fn polls_and_times_do_not_follow_wall_clock_steps() {
    // The wall clock stepped back an hour (an NTP correction, the user) must not stop the
    // polls for an hour, nor one stepped forward make a hydration last an hour.
    let c = fresh(
        &[
            section("p", "TICKER", r#"data-hydrate="eager" data-src="/api/tick""#, ""),
            section("t", "CARD", r#"data-hydrate="interaction""#, &fresh_inline(1)),
        ]
        .concat(),
    );
    let _net = FakeFetch::new(|_, n| answer(&format!(r#"{{"n":{n}}}"#), 200, None));
    let events = Events::on(&c);
    let render = Render::answering(|call| {
        if call.id() == "t" {
            step_wall_clock(3_600_000.0);
        }
        Ok(JsValue::UNDEFINED)
    });
    let h = hydrate(opts("{preload: 0, render, types: {TICKER: {poll: 50}}}", &render, &render));
    render.wait(1).await;
    step_wall_clock(-3_600_000.0);
    render.wait(3).await;
    focus_in(&element(&c, "t"));
    events.wait(2).await;
    let ms = num_at(&events.of("t").detail(), "ms");
    assert!(ms < 1_000.0, "trigger to rendered: {ms} ms");
    h.stop();
}

#[wasm_bindgen_test]
async fn stop_ends_observers_listeners_and_fetches() {
    let c = fresh(
        &[
            section("touch", "CARD", r#"data-hydrate="interaction""#, &fresh_inline(1)),
            section("slow", "CARD", r#"data-hydrate="eager" data-src="/api/slow""#, ""),
            section("late", "CARD", r#"data-hydrate="media:print""#, ""),
        ]
        .concat(),
    );
    // A fetch that never answers.
    let net = FakeFetch::new(|_, _| Promise::new(&mut |_, _| {}));
    let render = Render::new();
    let h = hydrate(opts("{preload: 0, render}", &render, &render));
    {
        let st = h.0.state.borrow();
        assert!(st.visible.is_some() && st.added.is_some());
        assert_eq!(st.listeners.len(), 2, "visibilitychange, and pointer/focus/touch");
    }
    assert_eq!(net.calls().len(), 1);
    // While it runs, a component added is rendered by the time a MutationObserver made
    // after the adapter's own hears of it.
    append_and_observe(&c, &section("before", "CARD", r#"data-hydrate="eager""#, &fresh_inline(2))).await;
    assert_eq!(render.ids(), ["before"]);

    h.stop();
    {
        let st = h.0.state.borrow();
        assert!(st.stopped);
        assert!(st.visible.is_none() && st.added.is_none() && st.listeners.is_empty());
        assert!(st.comps.is_empty() && st.timer.is_none() && st.idle.is_none());
        assert_eq!(st.keys.size(), 0);
    }
    assert!(net.log.all()[0].signal.aborted(), "the fetch in flight is aborted");
    // After stop(): a component added is not hydrated, an interaction does nothing, a
    // notice covers nothing.
    append_and_observe(&c, &section("after", "CARD", r#"data-hydrate="eager""#, &fresh_inline(3))).await;
    focus_in(&element(&c, "touch"));
    assert_eq!(render.ids(), ["before"]);
    assert_eq!(h.invalidated(eval("({type: 'INVALIDATED', all: true})")).length(), 0);
    h.stop();

    // Stopped before it started: start() observes and hydrates nothing.
    let h = Hydration::new(opts("{preload: 5, render}", &render, &render)).unwrap_or_else(|e| panic!("{}", thrown(&e)));
    h.stop();
    h.start().unwrap();
    assert!(h.0.state.borrow().visible.is_none());
    assert_eq!(render.ids(), ["before"]);
}

/// A stopped and dropped scheduler holds no JS values: its observers, listeners, idle
/// callbacks, timers and media queries are gone, and nothing of it lives on in a callback
/// that captured it. What is left is what the test's own logs hold (each render's element,
/// data and info; each event).
#[wasm_bindgen_test]
async fn a_stopped_scheduler_holds_no_js_values() {
    let components = [
        section("a", "CARD", r#"data-hydrate="eager""#, &fresh_inline(1)),
        section("i", "CARD", r#"data-hydrate="idle""#, &fresh_inline(2)),
        section("t", "CARD", r#"data-hydrate="interaction""#, &fresh_inline(3)),
        section("m", "CARD", r#"data-hydrate="media:print""#, ""),
        section("v", "CARD", r#"data-hydrate="visible" style="display: block; margin-top: 5000px""#, ""),
    ]
    .concat();
    // Once, so that what lives as long as the page (the window, interned strings) exists.
    let _ = fresh(&components);
    let warm = Render::new();
    let h = Hydration::new(opts("{preload: 0, render}", &warm, &warm)).unwrap();
    h.start().unwrap();
    h.stop();
    drop(h);

    let _c = fresh(&components);
    let events = Events::on(&document());
    let render = Render::new();
    let options = opts("{preload: 0, render}", &render, &render);
    let before = wasm_bindgen::externref_heap_live_count();
    // A copy of `options` (the test keeps the one counted in `before`).
    let h = Hydration::new(options.clone()).unwrap_or_else(|e| panic!("{}", thrown(&e)));
    h.start().unwrap();
    events.wait(2).await;
    assert_eq!(render.ids(), ["a", "i"]);
    h.stop();
    drop(h);
    let held = 3 * render.ids().len() + events.seen().len();
    let after = wasm_bindgen::externref_heap_live_count();
    assert_eq!(after as usize - held, before as usize, "JS values held after stop() and drop");
}

// ---- invalidation --------------------------------------------------------------------

#[wasm_bindgen_test]
async fn invalidated_names_the_covered_components_and_refetches_them() {
    let origin = window().location().origin().unwrap();
    let c = fresh(
        &[
            section("a", "CARD", r#"data-hydrate="eager" data-src="/api/promo?id=1""#, ""),
            section("b", "CARD", r#"data-hydrate="eager" data-src="/api/other""#, ""),
            section("c", "CARD", &format!(r#"data-hydrate="eager" data-src="{origin}/blog/post""#), ""),
            section("d", "CARD", &format!(r#"data-hydrate="eager" data-src="{}""#, data_url("{}")), ""),
            section("x", "CARD", r#"data-hydrate="eager" data-src="https://elsewhere.example/api/promo?id=1""#, ""),
            section("e", "CARD", r#"data-hydrate="eager""#, &fresh_inline(1)),
            // Covered, but waiting for an interaction: not hydrated, so never named.
            section("w", "CARD", r#"data-hydrate="interaction" data-src="/api/promo?id=1""#, ""),
        ]
        .concat(),
    );
    let net = FakeFetch::new(|url, n| answer(&format!(r#"{{"url":"{url}","n":{n}}}"#), 200, None));
    let events = Events::on(&c);
    let render = Render::new();
    let h = hydrate(opts("{preload: 0, render}", &render, &render));
    events.wait(6).await;
    assert_eq!(net.calls().len(), 5);

    let ids = |notice: &str| invalidated_ids(&h, notice);
    // Same-origin `data-src`s, by path and search; items that are not strings are skipped.
    assert_eq!(ids("({type: 'INVALIDATED', urls: [5, null, '/api/promo?id=1'], source: 'message'})"), ["a"]);
    render.wait(7).await;
    let again = render.calls("a");
    assert_eq!(again.len(), 2);
    assert_eq!(json(&again[1].data), r#"{"url":"/api/promo?id=1","n":1}"#);
    assert_eq!(text_at(&again[1].info, "source"), "network");
    assert_eq!(net.calls().last().unwrap(), &(String::from("/api/promo?id=1"), String::from("reload")));

    // An absolute same-origin URL is matched by its path; `removed` covers too.
    assert_eq!(ids("({type: 'INVALIDATED', prefixes: ['/blog/']})"), ["c"]);
    assert_eq!(ids("({type: 'INVALIDATED', removed: ['/api/other']})"), ["b"]);
    render.wait(9).await;
    // `all`: every http(s) src, another origin's too (the worker's `all` deletes a
    // `crossOrigin` route's copies), not a data: URL, not inline data.
    assert_eq!(ids("({type: 'INVALIDATED', all: true})"), ["a", "b", "c", "x"]);
    render.wait(13).await;
    // Nothing covered: the search differs, another notice, not a notice.
    assert!(ids("({type: 'INVALIDATED', urls: ['/api/promo', '/api/promo?id=2'], prefixes: ['/api/x']})").is_empty());
    assert!(ids("({type: 'UPDATED', all: true})").is_empty());
    assert!(ids("null").is_empty());
    assert!(ids("'INVALIDATED'").is_empty());

    let calls = net.calls();
    assert_eq!(calls.len(), 12, "{calls:?}");
    assert!(calls[5..].iter().all(|(_, cache)| cache == "reload"), "refetched past the cache: {calls:?}");
    assert_eq!(render.ids().len(), 13);
    assert_eq!(events.log.len(), 6, "refetches send no event");
    h.stop();
}

#[wasm_bindgen_test]
async fn a_notice_during_a_first_hydration_refetches_once_it_has_rendered() {
    // The copy was read before the worker invalidated it, and the render (one that loads
    // its widget first) is still under way when the notice comes: that data predates it.
    let c = fresh(&section("a", "CARD", r#"data-hydrate="eager" data-src="/api/promo""#, ""));
    let net = FakeFetch::new(|url, n| answer(&format!(r#"{{"url":"{url}","n":{n}}}"#), 200, None));
    let mut resolve = None;
    let pending = Promise::new(&mut |r, _| resolve = Some(r));
    let render = Render::answering(move |call| {
        Ok(if num_at(&call.data, "n") < 1.0 { pending.clone().into() } else { JsValue::UNDEFINED })
    });
    let events = Events::on(&c);
    let h = hydrate(opts("{preload: 0, render}", &render, &render));
    render.wait(1).await;
    let ids = invalidated_ids(&h, "({type: 'INVALIDATED', urls: ['/api/promo']})");
    assert!(ids.is_empty(), "not hydrated yet, so not named: {ids:?}");
    resolve.unwrap().call0(&JsValue::UNDEFINED).unwrap();
    events.wait(1).await;
    render.wait(2).await;
    assert_eq!(num_at(&render.calls("a")[1].data, "n"), 1.0);
    assert_eq!(net.calls()[1], (String::from("/api/promo"), String::from("reload")));
    assert_eq!(events.log.len(), 1);
    h.stop();
}

/// A `crossOrigin` route's copy is named in a notice by its whole URL (the worker's
/// `url::key_of`): a component fetching it is covered when the worker removed that copy
/// (a tag or a route reaching pages through `removed`) or by `all`, never by this
/// origin's path that looks the same.
#[wasm_bindgen_test]
async fn invalidated_names_a_component_whose_other_origin_copy_was_removed() {
    let api = "https://api.example.com/promo?id=1";
    let c = fresh(
        &[
            section("x", "CARD", &format!(r#"data-hydrate="eager" data-src="{api}""#), ""),
            section("a", "CARD", r#"data-hydrate="eager" data-src="/promo?id=1""#, ""),
        ]
        .concat(),
    );
    let net = FakeFetch::new(|url, n| answer(&format!(r#"{{"url":"{url}","n":{n}}}"#), 200, None));
    let events = Events::on(&c);
    let render = Render::new();
    let h = hydrate(opts("{preload: 0, render}", &render, &render));
    events.wait(2).await;
    let ids = |notice: &str| invalidated_ids(&h, notice);
    // Invalidated by tag: the worker deleted the other origin's copy and says so.
    assert_eq!(ids(&format!("({{type: 'INVALIDATED', tags: ['promo'], removed: ['{api}'], all: false}})")), ["x"]);
    render.wait(3).await;
    assert_eq!(net.calls().last().unwrap(), &(String::from(api), String::from("reload")));
    // This origin's `/promo?id=1` is another copy, and the other way round.
    assert_eq!(ids("({type: 'INVALIDATED', urls: ['/promo?id=1'], all: false})"), ["a"]);
    render.wait(4).await;
    assert_eq!(ids("({type: 'INVALIDATED', all: true})"), ["x", "a"]);
    render.wait(6).await;
    assert_eq!(net.calls().len(), 6);
    h.stop();
}
