//! The page build: `hydrate()`'s scheduler in the browser. The decisions are the
//! sans-IO [`Hydrator`] (`src/policy/hydrate.rs`), its options and the `INVALIDATED`
//! coverage rule `policy::hydrate::{options, coverage}`; this adapter turns the browser's
//! events into [`Event`]s and carries out each [`Command`] with web-sys (one shared
//! `IntersectionObserver`, a `MutationObserver`, `requestIdleCallback`, `matchMedia`,
//! `fetch`, the render callbacks, `CustomEvent`s) and one gloo-timers timeout for
//! [`Hydrator::next_timeout`]. It decides nothing.
//!
//! The page module (`www/swcache-page.js`) imports the wasm-bindgen glue on the first
//! `hydrate()`: `new Hydration(opts)` checks the options (throwing a `TypeError` that
//! names the wrong one), `start()` finds the components, `stop()` ends everything,
//! `invalidated(notice)` answers which hydrated components a notice covers.
//!
//! No borrow of the state is held while JavaScript that may run the page's code is
//! called (render callbacks, `fetch`, event listeners): that code may call `stop()`, or
//! make the adapter feed an event while it is carrying out another.

mod exec;
mod js;

use ::core::cell::{Cell, RefCell};

use alloc::rc::Rc;
use gloo_timers::callback::Timeout;
use js_sys::{Array, Function, Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{AbortController, Document, Element, IntersectionObserver, MutationObserver, Window};

use crate::policy::hydrate::coverage::Invalidation;

/// Talc instead of std's dlmalloc: smaller (README, "The page build").
#[global_allocator]
static ALLOC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
use crate::policy::hydrate::options;
use crate::policy::hydrate::{Command, ComponentKey, Event, Hydrator};
use crate::policy::prelude::*;
use js::{monotonic, Idle, Listener, Watcher};

/// What `hydrate()` looks for.
const SELECTOR: &str = "[data-component-id]";
/// The attributes a component is read from.
const ATTRIBUTES: [&str; 4] = ["data-component-id", "data-component-type", "data-src", "data-hydrate"];

/// One `hydrate(opts)`: the scheduler and the browser objects it drives.
#[wasm_bindgen]
pub struct Hydration(Rc<Shared>);

struct Shared {
    state: RefCell<State>,
    /// Commands are being carried out: an event fed meanwhile only queues more.
    draining: Cell<bool>,
}

struct State {
    hydrator: Hydrator,
    stopped: bool,
    window: Window,
    document: Document,
    page_slug: String,
    root_margin: String,
    /// `types.<TYPE>.render`, then the top-level `render`.
    renders: Vec<(String, Function)>,
    render: Option<Function>,
    /// By key (keys are indices, never reused); `None` once removed. Boxed: a slot stays for
    /// every component ever added, a pointer's size once it is gone, not a `Comp`'s.
    comps: Vec<Option<Box<Comp>>>,
    /// Element → key.
    keys: js_sys::Map,
    /// Element → `[key, signature]` of the component it was when it left the document
    /// (weakly: an element gone for good is not kept). One put back as it was carries on.
    gone: js_sys::WeakMap,
    /// The hydrated components out of the document, with what the worker names their
    /// `data-src`'s copy by ([`copy_key`], resolved when they left): a notice covering one
    /// is told to the scheduler, which refetches it once it is back.
    away: Vec<(ComponentKey, String)>,
    visible: Option<Watcher<IntersectionObserver>>,
    added: Option<Watcher<MutationObserver>>,
    listeners: Vec<Listener>,
    timer: Option<Timeout>,
    timer_due: Option<f64>,
    idle: Option<Idle>,
    /// For the message of a fetch aborted by [`Command::Abort`].
    fetch_timeout_ms: f64,
}

/// One component's element and what the adapter holds for it.
struct Comp {
    el: Element,
    id: String,
    ty: String,
    src: String,
    /// Its [`ATTRIBUTES`]' values, joined: what it is, should it leave and come back.
    signature: String,
    /// The parsed inline JSON and its `fetchedAt`.
    inline: Option<JsValue>,
    inline_at: Option<f64>,
    /// The latest fetched data, whether it came from a cache, and its age.
    data: JsValue,
    cached: bool,
    age_ms: f64,
    /// The last failure's message, for `swcache:hydration-error`.
    error: String,
    /// The `matchMedia` listener while a `media:` trigger waits.
    media: Option<Listener>,
    /// Its fetch in flight: aborted when it takes too long ([`Command::Abort`]), and
    /// when the component is dropped (it left the document, or `stop()`).
    fetch: Option<AbortController>,
}

impl Drop for Comp {
    fn drop(&mut self) {
        if let Some(fetch) = self.fetch.take() {
            fetch.abort();
        }
    }
}

fn type_error(msg: &str) -> JsValue {
    js_sys::TypeError::new(msg).into()
}

fn function(v: &JsValue, key: &str) -> Option<Function> {
    Reflect::get(v, &key.into()).ok().and_then(|f| f.dyn_into().ok())
}

/// The render callbacks of checked options: per type, and the top-level one.
fn renders(opts: &JsValue) -> (Vec<(String, Function)>, Option<Function>) {
    let mut per_type = Vec::new();
    if let Some(types) = Reflect::get(opts, &"types".into()).ok().filter(JsValue::is_object) {
        let entries = Object::entries(types.unchecked_ref());
        for i in 0..entries.length() {
            let pair: Array = entries.get(i).unchecked_into();
            if let (Some(name), Some(f)) = (pair.get(0).as_string(), function(&pair.get(1), "render")) {
                per_type.push((name, f));
            }
        }
    }
    (per_type, function(opts, "render"))
}

#[wasm_bindgen]
impl Hydration {
    /// Checks `opts` (a `TypeError` naming the first wrong option) and makes the scheduler.
    #[wasm_bindgen(constructor)]
    pub fn new(opts: JsValue) -> Result<Hydration, JsValue> {
        let o = options::parse(&crate::js_value::read_plain(&opts)).map_err(|e| type_error(&e))?;
        let window = js::WINDOW.with(Window::clone);
        let document = window.document().ok_or_else(|| type_error("swcache hydrate: no document"))?;
        let page_slug = o.page_slug.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| {
            let body = document.body().and_then(|b| b.get_attribute("data-page-slug")).filter(|s| !s.is_empty());
            body.unwrap_or_else(|| window.location().pathname().unwrap_or_default())
        });
        let (renders, render) = renders(&opts);
        let root_margin = o.root_margin.clone();
        let fetch_timeout_ms = o.fetch_timeout_ms;
        Ok(Hydration(Rc::new(Shared {
            state: RefCell::new(State {
                hydrator: Hydrator::new(o),
                stopped: false,
                window,
                document,
                page_slug,
                root_margin,
                renders,
                render,
                comps: Vec::new(),
                keys: js_sys::Map::new(),
                gone: js_sys::WeakMap::new(),
                away: Vec::new(),
                visible: None,
                added: None,
                listeners: Vec::new(),
                timer: None,
                timer_due: None,
                idle: None,
                fetch_timeout_ms,
            }),
            draining: Cell::new(false),
        })))
    }

    /// Observes the document and hydrates what is there: the components already in it,
    /// those added later, the triggers' events.
    pub fn start(&self) -> Result<(), JsValue> {
        let s = &self.0;
        let (document, margin) = {
            let st = s.state.borrow();
            (st.document.clone(), st.root_margin.clone())
        };
        let weak = Rc::downgrade(s);
        let visible = Watcher::new(
            move |entries| {
                if let Some(s) = weak.upgrade() {
                    s.intersections(&entries);
                }
            },
            |f| {
                let init = web_sys::IntersectionObserverInit::new();
                init.set_root_margin(&margin);
                IntersectionObserver::new_with_options(f, &init)
            },
        )?;
        let weak = Rc::downgrade(s);
        let added = Watcher::new(
            move |records| {
                if let Some(s) = weak.upgrade() {
                    s.mutations(&records);
                }
            },
            MutationObserver::new,
        )?;
        let init = web_sys::MutationObserverInit::new();
        init.set_child_list(true);
        init.set_subtree(true);
        // A component's description changing: it is found again as it now is.
        init.set_attribute_old_value(true);
        init.set_attribute_filter(&ATTRIBUTES.iter().map(|a| JsValue::from_str(a)).collect::<Array>());
        added.observer.observe_with_options(&document, &init)?;
        let weak = Rc::downgrade(s);
        let visibility = Listener::new(&document, &["visibilitychange"], true, move |_| {
            if let Some(s) = weak.upgrade() {
                let hidden = s.state.borrow().document.hidden();
                s.feed(if hidden { Event::DocumentHidden } else { Event::DocumentVisible });
            }
        });
        let weak = Rc::downgrade(s);
        let interaction = Listener::new(&document, &["pointerover", "focusin", "touchstart"], true, move |e| {
            if let Some(s) = weak.upgrade() {
                s.interaction(&e);
            }
        });
        {
            let mut st = s.state.borrow_mut();
            if st.stopped {
                return Ok(());
            }
            st.visible = Some(visible);
            st.added = Some(added);
            st.listeners = vec![visibility, interaction];
        }
        if document.hidden() {
            s.feed(Event::DocumentHidden);
        }
        if let Some(root) = document.document_element() {
            s.discover(&root, false);
        }
        Ok(())
    }

    /// Disconnects every observer, listener and timer, aborts the fetches in flight and
    /// drops every component.
    pub fn stop(&self) {
        let ended = {
            let mut st = self.0.state.borrow_mut();
            if st.stopped {
                return;
            }
            st.stopped = true;
            st.keys.clear();
            let comps = ::core::mem::take(&mut st.comps);
            (
                comps,
                st.visible.take(),
                st.added.take(),
                ::core::mem::take(&mut st.listeners),
                st.timer.take(),
                st.idle.take(),
            )
        };
        drop(ended);
    }

    /// The ids of the hydrated components whose data an `INVALIDATED` notice covers;
    /// each refetches past the cache (one still hydrating, not named, once it has rendered).
    pub fn invalidated(&self, notice: JsValue) -> Array {
        let s = &self.0;
        let value = crate::js_value::read_plain(&notice);
        let ids = Array::new();
        let Some(inv) = Invalidation::from_notice(&value) else { return ids };
        // Each covered component is told (one still hydrating refetches once rendered, its
        // data may predate the notice); the hydrated ones are named.
        let covered: Vec<(ComponentKey, Option<String>)> = {
            let st = s.state.borrow();
            let location = st.window.location();
            let (Ok(href), Ok(origin)) = (location.href(), location.origin()) else { return ids };
            // What the worker names the copy by (`url::key_of`): this origin's path and
            // search, another origin's whole URL (a `crossOrigin` route's copy; a `data:`
            // URL's origin is 'null': nobody's copy).
            let key_of = |src: &str| copy_key(src, &href, &origin);
            let live = st.comps.iter().enumerate().filter_map(|(k, c)| Some((k as ComponentKey, c.as_ref()?)));
            let mut covered: Vec<(ComponentKey, Option<String>)> = live
                .filter(|(_, c)| !c.src.is_empty() && key_of(&c.src).is_some_and(|p| inv.covers(&p)))
                .map(|(k, c)| (k, st.hydrator.is_hydrated(k).then(|| c.id.clone())))
                .collect();
            // Out of the document: not named, refetched once back.
            // (Resolved when they left: a notice costs no URL parse per component ever unmounted.)
            let away = st.away.iter().filter(|(_, key)| inv.covers(key));
            covered.extend(away.map(|(k, _)| (*k, None)));
            covered
        };
        for (key, id) in covered {
            if let Some(id) = id {
                ids.push(&id.into());
            }
            s.feed(Event::Invalidated(key));
        }
        ids
    }
}

impl Shared {
    /// Hands `event` to the scheduler and carries out what it asks.
    fn feed(self: &Rc<Self>, event: Event) {
        {
            let mut st = self.state.borrow_mut();
            if st.stopped {
                return;
            }
            st.hydrator.handle(event, monotonic());
        }
        self.drain();
    }

    /// Carries out the scheduler's commands, then arms the timer for its next timeout.
    fn drain(self: &Rc<Self>) {
        if self.draining.replace(true) {
            return;
        }
        loop {
            let command = {
                let mut st = self.state.borrow_mut();
                if st.stopped {
                    None
                } else {
                    st.hydrator.next_command()
                }
            };
            let Some(command) = command else { break };
            self.run(command);
        }
        self.draining.set(false);
        self.arm();
    }

    /// One timeout for [`Hydrator::next_timeout`], re-armed only when it changes.
    fn arm(self: &Rc<Self>) {
        let mut st = self.state.borrow_mut();
        let due = st.hydrator.next_timeout().filter(|_| !st.stopped);
        if due == st.timer_due {
            return;
        }
        st.timer_due = due;
        let old = st.timer.take();
        if let Some(due) = due {
            let weak = Rc::downgrade(self);
            let wait = (due - monotonic()).clamp(0.0, f64::from(i32::MAX)) as u32;
            st.timer = Some(Timeout::new(wait, move || {
                if let Some(s) = weak.upgrade() {
                    s.timed_out();
                }
            }));
        }
        drop(st);
        drop(old);
    }

    fn timed_out(self: &Rc<Self>) {
        let fired = {
            let mut st = self.state.borrow_mut();
            if st.stopped {
                return;
            }
            st.timer_due = None;
            st.hydrator.on_timeout(monotonic());
            st.timer.take()
        };
        drop(fired);
        self.drain();
    }

    fn run(self: &Rc<Self>, command: Command) {
        match command {
            Command::Observe(key) => self.observe(key, true),
            Command::Unobserve(key) => self.observe(key, false),
            Command::RequestIdle => self.request_idle(),
            Command::WatchMedia { key, query } => self.watch_media(key, &query),
            Command::Fetch { key, reload } => self.fetch(key, reload),
            Command::Abort(key) => self.abort(key),
            Command::Render { key, source } => self.render(key, source),
            Command::Emit(notice) => self.emit(notice),
        }
    }
}

/// What the worker names the copy of `src` (resolved against `href`) by (`url::key_of`):
/// this origin's path and search, another origin's whole URL (a `crossOrigin` route's
/// copy; a `data:` URL's origin is 'null': nobody's copy).
fn copy_key(src: &str, href: &str, origin: &str) -> Option<String> {
    let url = web_sys::Url::new_with_base(src, href).ok()?;
    let path = url.pathname() + &url.search();
    match url.origin() {
        o if o == origin => Some(path),
        o if o != "null" => Some(o + &path),
        _ => None,
    }
}

impl State {
    fn comp(&self, key: ComponentKey) -> Option<&Comp> {
        self.comps.get(key as usize)?.as_deref()
    }

    fn comp_mut(&mut self, key: ComponentKey) -> Option<&mut Comp> {
        self.comps.get_mut(key as usize)?.as_deref_mut()
    }

    fn key_of(&self, el: &JsValue) -> Option<ComponentKey> {
        self.keys.get(el).as_f64().map(|k| k as ComponentKey)
    }
}

// Last in the file: the shipped build keeps its panic locations (line numbers) as they were.
#[cfg(all(test, target_arch = "wasm32"))]
mod tests;
