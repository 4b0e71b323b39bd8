//! Carrying out the scheduler's commands, and turning the browser's callbacks into its
//! events: discovery, removal, visibility, interaction.

use alloc::rc::Rc;
use js_sys::{Array, Date, Promise, Reflect, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{
    AbortController, CustomEvent, CustomEventInit, Element, IntersectionObserverEntry, MutationRecord, RequestCache,
    RequestInit, Response,
};

use super::js::{is_thenable, message, monotonic, settle, Idle, Listener};
use super::{Comp, Shared, ATTRIBUTES, SELECTOR};
use crate::policy::hydrate::{ComponentDesc, ComponentKey, DataSource, Event, Notice, Trigger};
use crate::policy::prelude::*;
use serde::ser::{Serialize, SerializeMap, Serializer};

impl Shared {
    pub(super) fn observe(self: &Rc<Self>, key: ComponentKey, on: bool) {
        let st = self.state.borrow();
        if let (Some(c), Some(w)) = (st.comp(key), &st.visible) {
            if on {
                w.observer.observe(&c.el);
            } else {
                w.observer.unobserve(&c.el);
            }
        }
    }

    pub(super) fn request_idle(self: &Rc<Self>) {
        let mut st = self.state.borrow_mut();
        if st.idle.is_some() {
            return;
        }
        let weak = Rc::downgrade(self);
        st.idle = Some(Idle::new(&st.window, move || {
            if let Some(s) = weak.upgrade() {
                let fired = s.state.borrow_mut().idle.take();
                drop(fired);
                s.feed(Event::Idle);
            }
        }));
    }

    /// `matchMedia(query)`: reported at once when it matches, else on the first change
    /// that makes it match (the listener then goes).
    pub(super) fn watch_media(self: &Rc<Self>, key: ComponentKey, query: &str) {
        let list = self.state.borrow().window.match_media(query);
        let Ok(Some(list)) = list else { return };
        if list.matches() {
            return self.feed(Event::MediaMatched(key));
        }
        let weak = Rc::downgrade(self);
        let watched = list.clone();
        let listener = Listener::new(&list, &["change"], false, move |_| {
            let Some(s) = weak.upgrade() else { return };
            if !watched.matches() {
                return;
            }
            let done = s.state.borrow_mut().comp_mut(key).and_then(|c| c.media.take());
            drop(done);
            s.feed(Event::MediaMatched(key));
        });
        if let Some(c) = self.state.borrow_mut().comp_mut(key) {
            c.media = Some(listener);
        }
    }

    /// Fetches the component's data (through the page's `fetch`, whatever wraps it):
    /// `cache: 'reload'` when asked; answered by exactly one `FetchDone`: its settling's,
    /// or the abort's (`abort`, `forget`) whether or not the page's `fetch` heeds its
    /// signal (a later settling of that fetch is then ignored).
    pub(super) fn fetch(self: &Rc<Self>, key: ComponentKey, reload: bool) {
        let src = self.state.borrow().comp(key).map(|c| c.src.clone()).filter(|s| !s.is_empty());
        let Some(src) = src else { return self.fetch_failed(key, String::from("no data-src")) };
        let abort = match AbortController::new() {
            Ok(abort) => abort,
            Err(e) => return self.fetch_failed(key, message(&e)),
        };
        let init = RequestInit::new();
        init.set_cache(if reload { RequestCache::Reload } else { RequestCache::Default });
        init.set_signal(Some(&abort.signal()));
        if let Some(c) = self.state.borrow_mut().comp_mut(key) {
            c.fetch = Some(abort.clone());
        }
        // Wall time, as the worker's `sw-cache-time` stamps are (one system clock): a stamp
        // before the request started is a stored copy.
        let started = Date::now();
        // A page's `fetch` that throws instead of rejecting fails this component only.
        let promise = match super::js::fetch(&src, &init) {
            Ok(p) => Promise::resolve(&p),
            Err(e) => return self.settled_failed(key, &abort, message(&e)),
        };
        let weak = Rc::downgrade(self);
        let fetched = move |r| {
            if let Some(s) = weak.upgrade() {
                s.fetched(key, abort, started, r);
            }
        };
        settle(&promise, Box::new(fetched));
    }

    /// Whether `abort` is still the component's fetch (not aborted and answered already).
    fn current(&self, key: ComponentKey, abort: &AbortController) -> bool {
        self.state.borrow().comp(key).and_then(|c| c.fetch.as_ref()).is_some_and(|a| a == abort)
    }

    fn settled_failed(self: &Rc<Self>, key: ComponentKey, abort: &AbortController, error: String) {
        if self.current(key, abort) {
            self.fetch_failed(key, error);
        }
    }

    fn fetched(self: &Rc<Self>, key: ComponentKey, abort: AbortController, started: f64, r: Result<JsValue, JsValue>) {
        if !self.current(key, &abort) {
            return;
        }
        let response: Response = match r {
            Ok(r) if r.is_object() => r.unchecked_into(),
            Ok(_) => return self.fetch_failed(key, String::from("fetch answered no Response")),
            Err(e) => return self.fetch_failed(key, message(&e)),
        };
        if !response.ok() {
            // `cat!`, not `format!`: no core::fmt integer formatting for one number.
            return self.fetch_failed(key, crate::cat!("HTTP ", response.status()));
        }
        let stamp = response.headers().get("sw-cache-time").ok().flatten().map(|t| Date::parse(&t));
        let stamp = stamp.filter(|t| t.is_finite());
        let body = match response.json() {
            Ok(body) => body,
            Err(e) => return self.fetch_failed(key, message(&e)),
        };
        let weak = Rc::downgrade(self);
        let parsed = move |r: Result<JsValue, JsValue>| {
            let Some(s) = weak.upgrade() else { return };
            if !s.current(key, &abort) {
                return;
            }
            match r {
                Ok(data) => s.parsed(key, started, stamp, data),
                Err(e) => s.fetch_failed(key, message(&e)),
            }
        };
        settle(&body, Box::new(parsed));
    }

    /// Aborts the component's fetch (or its body's read): no answer in time. It fails at
    /// once, whether or not the page's `fetch` heeds the signal (a wrapper awaiting a
    /// token of its own, or dropping `init.signal`, would never answer).
    pub(super) fn abort(self: &Rc<Self>, key: ComponentKey) {
        let (abort, ms) = {
            let mut st = self.state.borrow_mut();
            let abort = st.comp_mut(key).and_then(|c| c.fetch.take());
            (abort, st.fetch_timeout_ms)
        };
        let Some(abort) = abort else { return };
        let error = crate::cat!("no answer within ", ms as u64, " ms");
        // The page's abort listeners run here: no borrow is held.
        abort.abort_with_reason(&js_sys::Error::new(&error));
        if let Some(c) = self.state.borrow_mut().comp_mut(key) {
            c.error = error;
        }
        self.feed(Event::FetchDone { key, ok: false, age_ms: None });
    }

    fn parsed(self: &Rc<Self>, key: ComponentKey, started: f64, stamp: Option<f64>, data: JsValue) {
        // The copy's age: the worker stamped it by the wall clock, so it is read by it.
        let age_ms = stamp.map(|t| Date::now() - t);
        // Stamped before this request started: a stored copy (network answers come
        // through unstamped, or stamped after the request started).
        let cached = stamp.is_some_and(|t| t < started);
        let mut st = self.state.borrow_mut();
        if let Some(c) = st.comp_mut(key) {
            c.fetch = None;
            c.data = data;
            c.cached = cached;
            c.age_ms = if cached { age_ms.unwrap_or(0.0).max(0.0) } else { 0.0 };
        }
        drop(st);
        self.feed(Event::FetchDone { key, ok: true, age_ms });
    }

    fn fetch_failed(self: &Rc<Self>, key: ComponentKey, error: String) {
        if let Some(c) = self.state.borrow_mut().comp_mut(key) {
            c.fetch = None;
            c.error = error;
        }
        self.feed(Event::FetchDone { key, ok: false, age_ms: None });
    }

    /// Calls the type's `render(element, data, info)` (or the top-level one); a
    /// returned promise is waited for.
    pub(super) fn render(self: &Rc<Self>, key: ComponentKey, source: DataSource) {
        let call = {
            let st = self.state.borrow();
            let Some(c) = st.comp(key) else { return };
            let f = st.renders.iter().find(|(ty, _)| *ty == c.ty).map(|(_, f)| f.clone()).or_else(|| st.render.clone());
            let (from, age, data) = match source {
                DataSource::Inline => {
                    // By the wall clock, as the server's `fetchedAt` is.
                    let age = c.inline_at.map_or(0.0, |t| (Date::now() - t).max(0.0));
                    ("inline", age, c.inline.clone().unwrap_or(JsValue::UNDEFINED))
                }
                DataSource::Fetched => (if c.cached { "cache" } else { "network" }, c.age_ms, c.data.clone()),
            };
            let info = RenderInfo { component_id: &c.id, component_type: &c.ty, source: from, age_ms: age };
            let info = object(&info);
            f.map(|f| (f, c.el.clone(), data, info))
        };
        let result = match call {
            Some((f, el, data, info)) => f.call3(&JsValue::UNDEFINED, &el, &data, &info),
            None => Ok(JsValue::UNDEFINED),
        };
        match result {
            Err(e) => self.render_failed(key, &e),
            Ok(v) if is_thenable(&v) => {
                let weak = Rc::downgrade(self);
                let rendered = move |r: Result<JsValue, JsValue>| {
                    let Some(s) = weak.upgrade() else { return };
                    match r {
                        Ok(_) => s.feed(Event::Rendered(key)),
                        Err(e) => s.render_failed(key, &e),
                    }
                };
                settle(&Promise::resolve(&v), Box::new(rendered));
            }
            Ok(_) => self.feed(Event::Rendered(key)),
        }
    }

    fn render_failed(self: &Rc<Self>, key: ComponentKey, e: &JsValue) {
        // Read before the borrow: a `message` getter or `toString` is the page's code.
        let error = message(e);
        if let Some(c) = self.state.borrow_mut().comp_mut(key) {
            c.error = error;
        }
        self.feed(Event::RenderFailed(key));
    }

    /// `swcache:hydrated` / `swcache:hydration-error` on the element, bubbling, with a
    /// [`Detail`] (serde-wasm-bindgen makes it a plain object).
    pub(super) fn emit(self: &Rc<Self>, notice: Notice) {
        let (kind, key, ms, attempts) = match notice {
            Notice::Hydrated { key, ms } => ("swcache:hydrated", key, ms, None),
            Notice::HydrationError { key, ms, attempts } => ("swcache:hydration-error", key, ms, Some(attempts)),
        };
        let (el, detail) = {
            let st = self.state.borrow();
            let Some(c) = st.comp(key) else { return };
            let detail = Detail {
                component_id: &c.id,
                component_type: &c.ty,
                page_slug: &st.page_slug,
                ms: ms.max(0.0).trunc(),
                attempts,
                error: attempts.map(|_| c.error.as_str()),
            };
            (c.el.clone(), object(&detail))
        };
        let init = CustomEventInit::new();
        init.set_bubbles(true);
        init.set_detail(&detail);
        if let Ok(event) = CustomEvent::new_with_event_init_dict(kind, &init) {
            let _ = el.dispatch_event(&event);
        }
    }

    /// The components in `root` (and `root` itself when `with_root`), in document order.
    pub(super) fn discover(self: &Rc<Self>, root: &Element, with_root: bool) {
        for el in components(root, with_root) {
            self.add(el);
        }
    }

    /// Reads one component (its data attributes and inline JSON) and registers it.
    fn add(self: &Rc<Self>, el: Element) {
        let mut st = self.state.borrow_mut();
        if st.stopped || st.keys.has(&el) {
            return;
        }
        let attr = |name: &str| el.get_attribute(name).unwrap_or_default();
        let script = el.query_selector(":scope > script[type='application/json']").ok().flatten();
        let inline = script.and_then(|s| JSON::parse(&s.text_content().unwrap_or_default()).ok());
        let at = inline.as_ref().and_then(|v| Reflect::get(v, &"fetchedAt".into()).ok());
        let inline_at = at.and_then(|at| at.as_f64().or_else(|| at.as_string().map(|s| Date::parse(&s))));
        let inline_at = inline_at.filter(|t| t.is_finite());
        let key = st.comps.len() as ComponentKey;
        // What it is, as its attributes say; put back as it was after it left, it carries on.
        let signature = signature(&el);
        let back = st.gone.get(el.unchecked_ref());
        let was = Some(back).filter(JsValue::is_object).and_then(|b| {
            let b: Array = b.unchecked_into();
            (b.get(1).as_string().as_ref() == Some(&signature)).then(|| b.get(0).as_f64()).flatten()
        });
        let comp = Comp {
            id: attr("data-component-id"),
            ty: attr("data-component-type"),
            src: attr("data-src"),
            signature,
            inline,
            inline_at,
            data: JsValue::UNDEFINED,
            cached: false,
            age_ms: 0.0,
            error: String::new(),
            media: None,
            fetch: None,
            el,
        };
        let now = monotonic();
        let desc = ComponentDesc {
            component_id: comp.id.clone(),
            component_type: comp.ty.clone(),
            src: Some(comp.src.clone()).filter(|s| !s.is_empty()),
            // `fetchedAt` is the server's wall-clock time: the data's age is read by the
            // wall clock once, now, then grows with the scheduler's monotonic clock.
            inline_fetched_at_ms: inline_at.map(|t| now - (Date::now() - t)),
            has_inline_data: comp.inline.is_some(),
            trigger: comp.el.get_attribute("data-hydrate").as_deref().and_then(Trigger::parse),
        };
        st.keys.set(&comp.el, &key.into());
        st.comps.push(Some(Box::new(comp)));
        if let Some(was) = was {
            st.away.retain(|(k, _)| *k != was as ComponentKey);
        }
        match was {
            Some(was) => st.hydrator.put_back(was as ComponentKey, key, desc, now),
            None => st.hydrator.add(key, desc, now),
        };
        drop(st);
        self.drain();
    }

    /// The components in `root`, a removed node, if it left the document (it was not
    /// put back meanwhile): stopped (one put back later as it was carries on). Only what
    /// was removed is looked at, so a change costs what it removed, not the number of
    /// components on the page.
    fn sweep(self: &Rc<Self>, root: &Element) {
        if root.is_connected() {
            return;
        }
        for el in components(root, true) {
            self.forget(&el);
        }
    }

    /// Stops the component `el` is, if any; what it was is kept by the element (weakly)
    /// for its coming back.
    fn forget(self: &Rc<Self>, el: &Element) {
        let (key, comp) = {
            let mut st = self.state.borrow_mut();
            let Some(key) = st.key_of(el) else { return };
            let Some(c) = st.comps[key as usize].take() else { return };
            st.keys.delete(&c.el);
            if st.hydrator.is_hydrated(key) && !c.src.is_empty() {
                let location = st.window.location();
                let copy = location.href().ok().zip(location.origin().ok());
                if let Some(copy) = copy.and_then(|(href, origin)| super::copy_key(&c.src, &href, &origin)) {
                    st.away.push((key, copy));
                }
            }
            st.gone.set(c.el.unchecked_ref(), &Array::of2(&key.into(), &c.signature.as_str().into()));
            if let Some(w) = &st.visible {
                w.observer.unobserve(&c.el);
            }
            (key, c)
        };
        let fetching = comp.fetch.is_some();
        drop(comp); // aborts its fetch
        self.feed(Event::Removed(key));
        if fetching {
            // Its slot frees now, whether or not the page's `fetch` heeds the abort.
            self.feed(Event::FetchDone { key, ok: false, age_ms: None });
        }
    }

    pub(super) fn intersections(self: &Rc<Self>, entries: &Array) {
        for i in 0..entries.length() {
            let entry: IntersectionObserverEntry = entries.get(i).unchecked_into();
            if entry.is_intersecting() {
                let key = self.state.borrow().key_of(&entry.target());
                if let Some(key) = key {
                    self.feed(Event::Visible(key));
                }
            }
        }
    }

    /// What the document's changes added and removed, record by record (a node moved
    /// is connected when the records arrive: found again, and not swept; one added and
    /// removed again is not: never read); then the
    /// elements whose component attributes took another value, each found again as it
    /// now is (another component, or none), the one it was stopped.
    pub(super) fn mutations(self: &Rc<Self>, records: &Array) {
        let mut changed: Vec<Element> = Vec::new();
        for i in 0..records.length() {
            let record: MutationRecord = records.get(i).unchecked_into();
            if let Some(name) = record.attribute_name() {
                let el: Option<Element> = record.target().and_then(|n| n.dyn_into().ok());
                if let Some(el) = el.filter(|el| el.get_attribute(&name) != record.old_value()) {
                    if !changed.contains(&el) {
                        changed.push(el);
                    }
                }
                continue;
            }
            let (added, removed) = (record.added_nodes(), record.removed_nodes());
            for j in 0..added.length() {
                // One no longer in the document was removed again in this batch.
                let el = added.item(j).and_then(|n| n.dyn_into::<Element>().ok());
                if let Some(el) = el.filter(|el| el.is_connected()) {
                    self.discover(&el, true);
                }
            }
            for j in 0..removed.length() {
                if let Some(el) = removed.item(j).and_then(|n| n.dyn_into::<Element>().ok()) {
                    self.sweep(&el);
                }
            }
        }
        for el in changed.iter().filter(|el| el.is_connected()) {
            // Found as it now is already (inserted, then its attributes set, in one task;
            // or changed and changed back): nothing to do.
            let same = {
                let st = self.state.borrow();
                let comp = st.key_of(el).and_then(|k| st.comp(k));
                comp.is_some_and(|c| c.signature == signature(el))
            };
            if same {
                continue;
            }
            self.forget(el);
            self.discover(el, true);
        }
    }

    /// Pointer, focus or touch on (or in) a component.
    pub(super) fn interaction(self: &Rc<Self>, e: &web_sys::Event) {
        let el = e.target().and_then(|t| t.dyn_into::<Element>().ok());
        let Some(el) = el.and_then(|el| el.closest(SELECTOR).ok().flatten()) else { return };
        let key = self.state.borrow().key_of(&el);
        if let Some(key) = key {
            self.feed(Event::Interaction(key));
        }
    }
}

/// Its [`ATTRIBUTES`]' values, joined: what a component is.
fn signature(el: &Element) -> String {
    let mut signature = String::new();
    for name in ATTRIBUTES {
        signature += &el.get_attribute(name).unwrap_or_default();
        signature.push('\0');
    }
    signature
}

/// The components in `root` (and `root` itself when `with_root`), in document order.
fn components(root: &Element, with_root: bool) -> Vec<Element> {
    let mut all = Vec::new();
    if with_root && root.matches(SELECTOR).unwrap_or(false) {
        all.push(root.clone());
    }
    if let Ok(found) = root.query_selector_all(SELECTOR) {
        all.extend((0..found.length()).filter_map(|i| found.item(i)).map(|n| n.unchecked_into()));
    }
    all
}

/// The third argument of a render callback (`info`).
struct RenderInfo<'a> {
    component_id: &'a str,
    component_type: &'a str,
    /// `inline`, `cache` or `network`.
    source: &'a str,
    age_ms: f64,
}

/// The `detail` of `swcache:hydrated` and `swcache:hydration-error`.
struct Detail<'a> {
    component_id: &'a str,
    component_type: &'a str,
    page_slug: &'a str,
    ms: f64,
    /// These two only on `swcache:hydration-error`.
    attempts: Option<u32>,
    error: Option<&'a str>,
}

// Both serialize as maps, which serde-wasm-bindgen turns into plain objects with
// `serialize_maps_as_objects`: a derived struct's field names go through its cache of JS
// strings instead, a thread-local hash map (2.6 KB of wasm, measured) for a handful of
// events.
impl Serialize for RenderInfo<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("componentId", self.component_id)?;
        m.serialize_entry("componentType", self.component_type)?;
        m.serialize_entry("source", self.source)?;
        m.serialize_entry("ageMs", &self.age_ms)?;
        m.end()
    }
}

impl Serialize for Detail<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("componentId", self.component_id)?;
        m.serialize_entry("componentType", self.component_type)?;
        m.serialize_entry("pageSlug", self.page_slug)?;
        m.serialize_entry("ms", &self.ms)?;
        if let Some(attempts) = self.attempts {
            m.serialize_entry("attempts", &attempts)?;
        }
        if let Some(error) = self.error {
            m.serialize_entry("error", error)?;
        }
        m.end()
    }
}

/// A plain JS object from `value` (serde-wasm-bindgen; `null` if it cannot be built).
fn object(value: &impl Serialize) -> JsValue {
    value.serialize(&serde_wasm_bindgen::Serializer::new().serialize_maps_as_objects(true)).unwrap_or(JsValue::NULL)
}
