//! `hydrate(opts)`: the browser side of [`Hydrator`] (`src/core/hydrate.rs`), which owns
//! every decision. This file only turns DOM happenings into [`Event`]s and performs the
//! [`Command`]s: one shared `IntersectionObserver`, `requestIdleCallback` (a zero timeout
//! where absent), `matchMedia` listeners, one timer armed for `next_timeout()`, `fetch`,
//! the `render` callbacks, a `MutationObserver` for components added and removed later,
//! `visibilitychange`, delegated pointer/focus/touch listeners, and the analytics events.
//!
//! Time is `Date.now()`, the clock the worker stamps `sw-cache-time` and inline
//! `fetchedAt` with. Source of fetched data, for the render callback's `info.source`: a
//! response whose `sw-cache-time` is older than the request's start is a stored copy
//! (`cache`, age = now − stamp); anything else (the engine passes network responses
//! through unstamped) is `network`, age 0. The core gets the stamp's age either way.
//!
//! Ownership: every closure holds the shared state strongly, so hydration lives until
//! `stop()` whether or not the page keeps the handle; `stop()` disconnects, removes and
//! cancels everything, aborts the fetches in flight, and drops the closures, which breaks
//! the cycle. No `RefCell` borrow is held while page code runs (render callbacks, event
//! listeners), so that code may call `stop()` or change the DOM freely.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Date, Function, Object, Promise, Reflect, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{
    AbortController, AddEventListenerOptions, CustomEvent, CustomEventInit, Element, IntersectionObserver,
    IntersectionObserverEntry, IntersectionObserverInit, MediaQueryList, MutationObserver, MutationObserverInit,
    MutationRecord, RequestCache, RequestInit, Response,
};

use super::{error_text, window};
use crate::core::hydrate::{
    Command, ComponentDesc, ComponentKey, DataSource, Event, Hydrator, Notice, Options, Trigger, TypeOptions,
};
use crate::core::{time, STAMP_HEADER};

const SELECTOR: &str = "[data-component-id]";
type Listener = Closure<dyn FnMut(web_sys::Event)>;
type ListCallback = Closure<dyn FnMut(Array)>;
type Shared = Rc<RefCell<State>>;

/// One component element and what the adapter knows about it.
struct Comp {
    el: Element,
    id: String,
    ty: String,
    src: Option<String>,
    inline: JsValue,
    inline_at: Option<f64>,
    /// The latest successfully fetched body, where it came from and how old it was.
    data: JsValue,
    source: &'static str,
    age_ms: f64,
    /// Why the latest fetch failed (for `swcache:hydration-error`).
    error: String,
    media: Option<(MediaQueryList, Listener)>,
}

#[derive(Default)]
struct State {
    core: Option<Hydrator>,
    /// Indexed by key (keys are handed out in order and never reused); `None` once removed.
    comps: Vec<Option<Comp>>,
    /// Element → key, by identity (observer entries and delegated events).
    keys: Option<js_sys::Map>,
    renders: Vec<(String, Function)>,
    default_render: Option<Function>,
    page_slug: String,
    io: Option<(IntersectionObserver, ListCallback)>,
    mo: Option<(MutationObserver, ListCallback)>,
    listeners: Vec<(&'static str, Listener)>,
    /// Pending idle callback: handle, whether it is a real `requestIdleCallback`.
    idle: Option<(i32, bool)>,
    idle_cb: Option<Closure<dyn FnMut()>>,
    timer: Option<(f64, gloo_timers::callback::Timeout)>,
    abort: Option<AbortController>,
    stopped: bool,
}

impl State {
    fn core(&mut self) -> &mut Hydrator {
        self.core.as_mut().expect("hydrator is set before any event")
    }
    fn keys(&self) -> &js_sys::Map {
        self.keys.as_ref().expect("key map is set at start")
    }
    fn comp(&self, key: ComponentKey) -> Option<&Comp> {
        self.comps.get(key as usize)?.as_ref()
    }
    fn comp_mut(&mut self, key: ComponentKey) -> Option<&mut Comp> {
        self.comps.get_mut(key as usize)?.as_mut()
    }
    fn key_of(&self, el: &JsValue) -> Option<ComponentKey> {
        self.keys.as_ref()?.get(el).as_f64().map(|k| k as ComponentKey)
    }
}

/// Returned by `hydrate()`.
#[wasm_bindgen]
pub struct HydrateHandle {
    state: Shared,
}

#[wasm_bindgen]
impl HydrateHandle {
    /// The worker invalidated something (`notice`: its `INVALIDATED` message as JSON):
    /// every hydrated component whose data URL it covers refetches past the cache.
    /// Returns the ids of the components covered.
    pub fn invalidated(&self, notice: &str) -> Array {
        let covered: Vec<(ComponentKey, String)> = {
            let s = self.state.borrow();
            if s.stopped {
                return Array::new();
            }
            s.comps
                .iter()
                .enumerate()
                .filter_map(|(k, c)| {
                    let c = c.as_ref()?;
                    let path = super::same_origin_path(c.src.as_deref()?)?;
                    crate::core::feed::notice_covers(notice, &path).then(|| (k as ComponentKey, c.id.clone()))
                })
                .collect()
        };
        let ids = Array::new();
        for (key, id) in covered {
            ids.push(&JsValue::from_str(&id));
            feed(&self.state, Event::Invalidated(key));
        }
        ids
    }

    /// Disconnects every observer, listener and timer and aborts the fetches in flight.
    pub fn stop(&self) {
        let old = {
            let mut s = self.state.borrow_mut();
            if s.stopped {
                return;
            }
            s.stopped = true;
            if let Some(a) = &s.abort {
                a.abort();
            }
            if let Some((io, _)) = &s.io {
                io.disconnect();
            }
            if let Some((mo, _)) = &s.mo {
                mo.disconnect();
            }
            if let Some(doc) = window().document() {
                for (kind, f) in &s.listeners {
                    let _ = doc.remove_event_listener_with_callback(kind, f.as_ref().unchecked_ref());
                }
            }
            if let Some((handle, native)) = s.idle.take() {
                if native {
                    window().cancel_idle_callback(handle as u32);
                } else {
                    window().clear_timeout_with_handle(handle);
                }
            }
            for c in s.comps.iter().flatten() {
                unwatch_media(c);
            }
            if let Some(keys) = &s.keys {
                keys.clear();
            }
            // Everything holding closures (and so the state) is dropped after the borrow.
            let old = std::mem::take(&mut *s);
            s.stopped = true;
            old
        };
        drop(old);
    }
}

/// Starts hydrating the page's `[data-component-id]` elements. Options (all optional):
/// `rootMargin` (string or px number, default `"50px"`), `preload` (2), `maxConcurrent`
/// (4), `maxRetries` (3), `retryBaseMs` (1000), `pageSlug`, `render(element, data, info)`
/// for types without their own, and `types: {TYPE: {maxAge, poll, trigger, render}}`.
/// Throws on options of the wrong type.
#[wasm_bindgen]
pub fn hydrate(opts: JsValue) -> Result<HydrateHandle, JsError> {
    let doc = window().document().ok_or_else(|| JsError::new("swcache hydrate: no document"))?;
    let mut o = Options::default();
    if let Some(v) = uint(&opts, "preload")? {
        o.preload = v as usize;
    }
    if let Some(v) = uint(&opts, "maxConcurrent")? {
        o.max_concurrent = v as usize;
    }
    if let Some(v) = uint(&opts, "maxRetries")? {
        o.max_retries = v as u32;
    }
    if let Some(v) = uint(&opts, "retryBaseMs")? {
        o.retry_base_ms = v;
    }
    let margin = match get(&opts, "rootMargin") {
        v if v.is_undefined() => "50px".to_string(),
        v => match (v.as_f64(), v.as_string()) {
            (Some(px), _) if px >= 0.0 => format!("{}px", px as u32),
            (_, Some(s)) => s,
            _ => return Err(bad("rootMargin", "a CSS margin string or a number of pixels")),
        },
    };
    o.root_margin_px = margin.trim().strip_suffix("px").and_then(|n| n.parse().ok()).unwrap_or(50);

    let mut state = State { default_render: function(&opts, "render", "render")?, ..State::default() };
    let types = get(&opts, "types");
    if !types.is_undefined() {
        if !types.is_object() {
            return Err(bad("types", "an object keyed by component type"));
        }
        for name in Object::keys(types.unchecked_ref::<Object>()).iter().filter_map(|k| k.as_string()) {
            let t = get(&types, &name);
            let field = |f: &str| format!("types.{name}.{f}");
            let number = |f: &str| match get(&t, f) {
                v if v.is_undefined() => Ok(None),
                v if v.as_bool() == Some(false) => Ok(Some(0.0)),
                v => v.as_f64().map(Some).ok_or_else(|| bad(&field(f), "a number of milliseconds")),
            };
            let trigger = match get(&t, "trigger") {
                v if v.is_undefined() => None,
                v => Some(v.as_string().and_then(|s| Trigger::parse(&s)).ok_or_else(|| {
                    bad(&field("trigger"), "'visible', 'idle', 'interaction', 'eager' or 'media:<query>'")
                })?),
            };
            o.types.push(TypeOptions {
                name: name.clone(),
                max_age_ms: number("maxAge")?,
                poll_ms: number("poll")?,
                trigger,
            });
            if let Some(f) = function(&t, "render", &field("render"))? {
                state.renders.push((name, f));
            }
        }
    }
    let body_slug = doc.body().and_then(|b| b.get_attribute("data-page-slug"));
    state.page_slug = get(&opts, "pageSlug")
        .as_string()
        .or(body_slug)
        .unwrap_or_else(|| window().location().pathname().unwrap_or_default());
    state.core = Some(Hydrator::new(o));
    state.keys = Some(js_sys::Map::new());
    state.abort = AbortController::new().ok();
    let st: Shared = Rc::new(RefCell::new(state));

    // One IntersectionObserver for every visible-triggered component.
    let s2 = st.clone();
    let io_cb = ListCallback::new(move |entries: Array| {
        for entry in entries.iter() {
            let entry: IntersectionObserverEntry = entry.unchecked_into();
            let key = s2.borrow().key_of(&entry.target());
            if let (true, Some(key)) = (entry.is_intersecting(), key) {
                feed(&s2, Event::Visible(key));
            }
        }
    });
    let init = IntersectionObserverInit::new();
    init.set_root_margin(&margin);
    let io = IntersectionObserver::new_with_options(io_cb.as_ref().unchecked_ref(), &init)
        .map_err(|e| JsError::new(&format!("swcache hydrate: rootMargin: {}", error_text(&e))))?;
    st.borrow_mut().io = Some((io, io_cb));

    // Components added and removed later.
    let s2 = st.clone();
    let mo_cb = ListCallback::new(move |records: Array| {
        let mut removed = false;
        for r in records.iter() {
            let r: MutationRecord = r.unchecked_into();
            removed |= r.removed_nodes().length() > 0;
            let added = r.added_nodes();
            for i in 0..added.length() {
                if let Some(el) = added.get(i).and_then(|n| n.dyn_into::<Element>().ok()) {
                    discover(&s2, &el, true);
                }
            }
        }
        if removed {
            sweep(&s2);
        }
        run(&s2);
    });
    let mo = MutationObserver::new(mo_cb.as_ref().unchecked_ref())
        .map_err(|_| JsError::new("swcache hydrate: no MutationObserver"))?;
    let mo_init = MutationObserverInit::new();
    mo_init.set_child_list(true);
    mo_init.set_subtree(true);
    let _ = mo.observe_with_options(&doc, &mo_init);
    st.borrow_mut().mo = Some((mo, mo_cb));

    // Document-level listeners: visibility, and delegated interaction (passive).
    let s2 = st.clone();
    let visibility = Listener::new(move |_| {
        let hidden = window().document().is_some_and(|d| d.hidden());
        feed(&s2, if hidden { Event::DocumentHidden } else { Event::DocumentVisible });
    });
    let mut listeners = vec![("visibilitychange", visibility)];
    for kind in ["pointerover", "focusin", "touchstart"] {
        let s2 = st.clone();
        listeners.push((
            kind,
            Listener::new(move |e: web_sys::Event| {
                let el = e.target().and_then(|t| t.dyn_into::<Element>().ok());
                let comp = el.and_then(|el| el.closest(SELECTOR).ok().flatten());
                let key = comp.and_then(|c| s2.borrow().key_of(&c));
                if let Some(key) = key {
                    feed(&s2, Event::Interaction(key));
                }
            }),
        ));
    }
    for (kind, f) in &listeners {
        let lo = AddEventListenerOptions::new();
        lo.set_passive(true);
        let _ =
            doc.add_event_listener_with_callback_and_add_event_listener_options(kind, f.as_ref().unchecked_ref(), &lo);
    }
    st.borrow_mut().listeners = listeners;

    if doc.hidden() {
        st.borrow_mut().core().handle(Event::DocumentHidden, Date::now());
    }
    discover(&st, &doc.document_element().ok_or_else(|| JsError::new("swcache hydrate: empty document"))?, false);
    run(&st);
    Ok(HydrateHandle { state: st })
}

fn get(o: &JsValue, key: &str) -> JsValue {
    Reflect::get(o, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn bad(field: &str, want: &str) -> JsError {
    JsError::new(&format!("swcache hydrate: option '{field}' must be {want}"))
}

/// A non-negative finite number option.
fn uint(o: &JsValue, key: &str) -> Result<Option<f64>, JsError> {
    match get(o, key) {
        v if v.is_undefined() => Ok(None),
        v => match v.as_f64() {
            Some(n) if n.is_finite() && n >= 0.0 => Ok(Some(n.floor())),
            _ => Err(bad(key, "a non-negative number")),
        },
    }
}

fn function(o: &JsValue, key: &str, field: &str) -> Result<Option<Function>, JsError> {
    match get(o, key) {
        v if v.is_undefined() => Ok(None),
        v => v.dyn_into::<Function>().map(Some).map_err(|_| bad(field, "a function")),
    }
}

/// Feeds one event to the core, then performs what it decided.
fn feed(st: &Shared, event: Event) {
    {
        let mut s = st.borrow_mut();
        if s.stopped {
            return;
        }
        s.core().handle(event, Date::now());
    }
    run(st);
}

/// Performs every pending command, then re-arms the single timer.
fn run(st: &Shared) {
    loop {
        let cmd = {
            let mut s = st.borrow_mut();
            if s.stopped {
                return;
            }
            s.core().next_command()
        };
        match cmd {
            Some(cmd) => perform(st, cmd),
            None => break,
        }
    }
    let mut s = st.borrow_mut();
    let next = s.core().next_timeout();
    if s.timer.as_ref().map(|t| t.0) == next {
        return;
    }
    s.timer = next.map(|due| {
        let s2 = st.clone();
        let delay = (due - Date::now()).clamp(0.0, i32::MAX as f64).ceil() as u32;
        let timeout = gloo_timers::callback::Timeout::new(delay, move || {
            {
                let mut s = s2.borrow_mut();
                if s.stopped {
                    return;
                }
                s.timer = None;
                s.core().on_timeout(Date::now());
            }
            run(&s2);
        });
        (due, timeout)
    });
}

fn perform(st: &Shared, cmd: Command) {
    match cmd {
        Command::Observe(key) | Command::Unobserve(key) => {
            let s = st.borrow();
            if let (Some(c), Some((io, _))) = (s.comp(key), &s.io) {
                if matches!(cmd, Command::Observe(_)) {
                    io.observe(&c.el);
                } else {
                    io.unobserve(&c.el);
                }
            }
        }
        Command::RequestIdle => request_idle(st),
        Command::WatchMedia { key, query } => watch_media(st, key, &query),
        Command::Fetch { key, reload } => {
            let (url, signal) = {
                let s = st.borrow();
                (s.comp(key).and_then(|c| c.src.clone()), s.abort.as_ref().map(|a| a.signal()))
            };
            spawn_local(fetch(st.clone(), key, url, reload, signal));
        }
        Command::Render { key, source } => render(st, key, source),
        Command::Emit(notice) => emit(st, notice),
    }
}

/// Registers `root` and the components inside it (document order), unless known.
fn discover(st: &Shared, root: &Element, include_root: bool) {
    let mut found = Vec::new();
    if include_root && root.matches(SELECTOR).unwrap_or(false) {
        found.push(root.clone());
    }
    if let Ok(list) = root.query_selector_all(SELECTOR) {
        found.extend((0..list.length()).filter_map(|i| list.get(i)).filter_map(|n| n.dyn_into::<Element>().ok()));
    }
    let mut s = st.borrow_mut();
    for el in found {
        if s.stopped || s.key_of(&el).is_some() {
            continue;
        }
        let (desc, comp) = describe(el);
        let key = s.comps.len() as ComponentKey;
        s.keys().set(&comp.el, &JsValue::from(key));
        s.comps.push(Some(comp));
        s.core().add(key, desc, Date::now());
    }
}

fn describe(el: Element) -> (ComponentDesc, Comp) {
    let attr = |name: &str| el.get_attribute(name);
    let inline = el
        .query_selector(":scope > script[type='application/json']")
        .ok()
        .flatten()
        .and_then(|s| s.text_content())
        .and_then(|text| JSON::parse(&text).ok())
        .filter(|v| !v.is_undefined());
    let fetched_at = inline.as_ref().map(|v| get(v, "fetchedAt"));
    let inline_at = fetched_at.and_then(|v| v.as_f64().or_else(|| v.as_string().and_then(|s| time::parse_iso(&s))));
    let desc = ComponentDesc {
        component_id: attr("data-component-id").unwrap_or_default(),
        component_type: attr("data-component-type").unwrap_or_default(),
        src: attr("data-src"),
        inline_fetched_at_ms: inline_at,
        has_inline_data: inline.is_some(),
        trigger: attr("data-hydrate").and_then(|t| Trigger::parse(&t)),
    };
    let comp = Comp {
        id: desc.component_id.clone(),
        ty: desc.component_type.clone(),
        src: desc.src.clone(),
        inline: inline.unwrap_or(JsValue::UNDEFINED),
        inline_at,
        data: JsValue::UNDEFINED,
        source: "network",
        age_ms: 0.0,
        error: String::new(),
        media: None,
        el,
    };
    (desc, comp)
}

/// Reports every known component that left the document as removed.
fn sweep(st: &Shared) {
    let gone: Vec<ComponentKey> = (st.borrow().comps.iter().enumerate())
        .filter(|(_, c)| c.as_ref().is_some_and(|c| !c.el.is_connected()))
        .map(|(k, _)| k as ComponentKey)
        .collect();
    for key in gone {
        let comp = {
            let mut s = st.borrow_mut();
            let Some(c) = s.comps[key as usize].take() else { continue };
            s.keys().delete(&c.el);
            if let Some((io, _)) = &s.io {
                io.unobserve(&c.el);
            }
            c
        };
        unwatch_media(&comp);
        feed(st, Event::Removed(key));
    }
}

fn request_idle(st: &Shared) {
    let mut s = st.borrow_mut();
    if s.idle.is_some() {
        return;
    }
    if s.idle_cb.is_none() {
        let s2 = st.clone();
        s.idle_cb = Some(Closure::new(move || {
            s2.borrow_mut().idle = None;
            feed(&s2, Event::Idle);
        }));
    }
    let w = window();
    let f: &Function = s.idle_cb.as_ref().expect("just set").as_ref().unchecked_ref();
    let native = Reflect::has(&w, &JsValue::from_str("requestIdleCallback")).unwrap_or(false);
    let handle = if native {
        w.request_idle_callback(f).map(|h| h as i32)
    } else {
        w.set_timeout_with_callback_and_timeout_and_arguments_0(f, 0)
    };
    s.idle = handle.ok().map(|h| (h, native));
}

fn watch_media(st: &Shared, key: ComponentKey, query: &str) {
    let Ok(Some(mql)) = window().match_media(query) else { return };
    if mql.matches() {
        return feed(st, Event::MediaMatched(key));
    }
    let s2 = st.clone();
    let on_change = Listener::new(move |e: web_sys::Event| {
        if Reflect::get(&e, &JsValue::from_str("matches")).ok().and_then(|m| m.as_bool()) == Some(true) {
            if let Some(c) = s2.borrow().comp(key) {
                unwatch_media(c);
            }
            feed(&s2, Event::MediaMatched(key));
        }
    });
    let _ = mql.add_event_listener_with_callback("change", on_change.as_ref().unchecked_ref());
    if let Some(c) = st.borrow_mut().comp_mut(key) {
        c.media = Some((mql, on_change));
    }
}

fn unwatch_media(c: &Comp) {
    if let Some((mql, f)) = &c.media {
        let _ = mql.remove_event_listener_with_callback("change", f.as_ref().unchecked_ref());
    }
}

/// One fetch, answered by exactly one `FetchDone` (unless stopped).
async fn fetch(st: Shared, key: ComponentKey, url: Option<String>, reload: bool, signal: Option<web_sys::AbortSignal>) {
    let started = Date::now();
    let result: Result<(JsValue, Option<f64>), String> = async {
        let url = url.ok_or("no data-src")?;
        let init = RequestInit::new();
        if reload {
            init.set_cache(RequestCache::Reload);
        }
        init.set_signal(signal.as_ref());
        let resp: Response = JsFuture::from(window().fetch_with_str_and_init(&url, &init))
            .await
            .map_err(|e| error_text(&e))?
            .unchecked_into();
        if !resp.ok() {
            return Err(format!("HTTP {}", resp.status()));
        }
        let stamp = resp.headers().get(STAMP_HEADER).ok().flatten().and_then(|v| time::parse_iso(&v));
        let body = resp.json().map_err(|e| error_text(&e))?;
        let data = JsFuture::from(body).await.map_err(|e| error_text(&e))?;
        Ok((data, stamp))
    }
    .await;
    let now = Date::now();
    let event = {
        let mut s = st.borrow_mut();
        if s.stopped {
            return;
        }
        let comp = s.comp_mut(key);
        match (result, comp) {
            (Ok((data, stamp)), comp) => {
                let age = stamp.map(|t| now - t);
                if let Some(c) = comp {
                    // Stamped before this request started: a stored copy (network
                    // responses come through unstamped, or stamped after `started`).
                    let cached = stamp.is_some_and(|t| t < started);
                    c.data = data;
                    c.source = if cached { "cache" } else { "network" };
                    c.age_ms = if cached { age.unwrap_or(0.0).max(0.0) } else { 0.0 };
                }
                Event::FetchDone { key, ok: true, age_ms: age }
            }
            (Err(e), comp) => {
                if let Some(c) = comp {
                    c.error = e;
                }
                Event::FetchDone { key, ok: false, age_ms: None }
            }
        }
    };
    feed(&st, event);
}

/// Calls the type's `render(element, data, info)`; a throw (or a rejected promise) is a
/// failed render. Without a render callback the data is simply accepted.
fn render(st: &Shared, key: ComponentKey, source: DataSource) {
    let call = {
        let s = st.borrow();
        let Some(c) = s.comp(key) else { return };
        let own = s.renders.iter().find(|(ty, _)| *ty == c.ty).map(|(_, f)| f);
        let f = own.or(s.default_render.as_ref()).cloned();
        let (data, src, age) = match source {
            DataSource::Inline => (c.inline.clone(), "inline", c.inline_at.map_or(0.0, |t| (Date::now() - t).max(0.0))),
            DataSource::Fetched => (c.data.clone(), c.source, c.age_ms),
        };
        let info = object(&[
            ("componentId", c.id.as_str().into()),
            ("componentType", c.ty.as_str().into()),
            ("source", src.into()),
            ("ageMs", age.round().into()),
        ]);
        f.map(|f| (f, c.el.clone(), data, info))
    };
    let Some((f, el, data, info)) = call else { return feed(st, Event::Rendered(key)) };
    match f.call3(&JsValue::UNDEFINED, &el, &data, &info) {
        Ok(ret) => match ret.dyn_into::<Promise>() {
            Ok(p) => {
                let st = st.clone();
                spawn_local(async move {
                    let ok = JsFuture::from(p).await.is_ok();
                    feed(&st, if ok { Event::Rendered(key) } else { Event::RenderFailed(key) });
                });
            }
            Err(_) => feed(st, Event::Rendered(key)),
        },
        Err(e) => {
            if let Some(c) = st.borrow_mut().comp_mut(key) {
                c.error = error_text(&e);
            }
            feed(st, Event::RenderFailed(key));
        }
    }
}

/// Dispatches `swcache:hydrated` / `swcache:hydration-error` (bubbling) on the element.
fn emit(st: &Shared, notice: Notice) {
    let (kind, key, ms, attempts) = match notice {
        Notice::Hydrated { key, ms } => ("swcache:hydrated", key, ms, None),
        Notice::HydrationError { key, ms, attempts } => ("swcache:hydration-error", key, ms, Some(attempts)),
    };
    let (el, detail) = {
        let s = st.borrow();
        let Some(c) = s.comp(key) else { return };
        let detail = object(&[
            ("componentId", c.id.as_str().into()),
            ("componentType", c.ty.as_str().into()),
            ("pageSlug", s.page_slug.as_str().into()),
            ("ms", ms.into()),
        ]);
        if let Some(n) = attempts {
            let _ = Reflect::set(&detail, &"attempts".into(), &n.into());
            let _ = Reflect::set(&detail, &"error".into(), &c.error.as_str().into());
        }
        (c.el.clone(), detail)
    };
    let init = CustomEventInit::new();
    init.set_bubbles(true);
    init.set_detail(&detail);
    if let Ok(ev) = CustomEvent::new_with_event_init_dict(kind, &init) {
        let _ = el.dispatch_event(&ev);
    }
}

fn object(fields: &[(&str, JsValue)]) -> Object {
    let o = Object::new();
    for (k, v) in fields {
        let _ = Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o
}
