//! Small owners of browser callbacks, in the manner of gloo: each holds its closure and
//! undoes its registration when dropped (a listener is removed, an observer
//! disconnected, an idle callback cancelled), so dropping a component's or a
//! hydration's state frees every closure it made. Promise reactions go through
//! `crate::js_promise::settle`, whose one callback frees itself when called.

use alloc::rc::Rc;
use js_sys::{Array, Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{AddEventListenerOptions, EventTarget, IntersectionObserver, MutationObserver, Window};

use crate::policy::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// The page's `window` (the page build runs in pages only).
    #[wasm_bindgen(thread_local_v2, js_name = window)]
    pub(crate) static WINDOW: Window;
    /// JavaScript's `String(v)`, for any value (it throws only for an object with no
    /// string form, such as `Object.create(null)`).
    #[wasm_bindgen(catch, js_name = String)]
    fn string(v: &JsValue) -> Result<String, JsValue>;
    /// `performance.now()`: the scheduler's clock. Monotonic: a step of the wall clock
    /// (an NTP correction, the user setting it) neither bunches its timers nor stops them
    /// for hours, nor ages or rejuvenates data.
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    pub(crate) fn monotonic() -> f64;
    /// `window.fetch(input, init)`, as the page has it (a wrapper may throw, or return
    /// something that is not a promise: web-sys's binding would let a throw unwind
    /// through the adapter, leaving it `draining` for good).
    #[wasm_bindgen(catch, js_name = fetch)]
    pub(crate) fn fetch(input: &str, init: &web_sys::RequestInit) -> Result<JsValue, JsValue>;
}

/// What a promise step calls back with (`js_promise::settle`): the value or the
/// rejection. One boxed type, so the page build has one settle callback.
pub(crate) type Settled = Box<dyn FnOnce(Result<JsValue, JsValue>)>;

/// Calls `f` once `promise` settles, with its value or its rejection.
pub(crate) fn settle(promise: &Promise, f: Settled) {
    crate::js_promise::settle(promise, f);
}

/// Whether `v` is a thenable (what `await` would wait for).
pub(crate) fn is_thenable(v: &JsValue) -> bool {
    (v.is_object() || v.is_function()) && Reflect::get(v, &"then".into()).is_ok_and(|t| t.is_function())
}

/// What an error says: its `message`, else the value as a string (JavaScript's
/// `String(e && e.message || e)`): a rejection with no error in it (`undefined`, a
/// number, a plain object) says `undefined`, `42`, `[object Object]`.
pub(crate) fn message(e: &JsValue) -> String {
    let m = Reflect::get(e, &"message".into()).ok().and_then(|m| m.as_string()).filter(|m| !m.is_empty());
    m.or_else(|| string(e).ok()).unwrap_or_default()
}

/// A listener for `kinds` on `target`, removed when dropped. It listens in the capture
/// phase: a handler of the page's own that stops an event's propagation (inside a
/// component) does not hide it from the scheduler.
pub(crate) struct Listener {
    target: EventTarget,
    kinds: &'static [&'static str],
    callback: Closure<dyn FnMut(web_sys::Event)>,
}

impl Listener {
    pub(crate) fn new(
        target: &EventTarget,
        kinds: &'static [&'static str],
        passive: bool,
        f: impl FnMut(web_sys::Event) + 'static,
    ) -> Listener {
        let callback = Closure::<dyn FnMut(web_sys::Event)>::new(f);
        let options = AddEventListenerOptions::new();
        options.set_passive(passive);
        options.set_capture(true);
        for kind in kinds {
            let _ = target.add_event_listener_with_callback_and_add_event_listener_options(
                kind,
                callback.as_ref().unchecked_ref(),
                &options,
            );
        }
        Listener { target: target.clone(), kinds, callback }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        for kind in self.kinds {
            let _ = self.target.remove_event_listener_with_callback_and_bool(
                kind,
                self.callback.as_ref().unchecked_ref(),
                true,
            );
        }
    }
}

/// An observer that reports arrays of entries (`IntersectionObserver`, `MutationObserver`).
pub(crate) trait Disconnect {
    fn disconnect(&self);
}

impl Disconnect for IntersectionObserver {
    fn disconnect(&self) {
        IntersectionObserver::disconnect(self);
    }
}

impl Disconnect for MutationObserver {
    fn disconnect(&self) {
        MutationObserver::disconnect(self);
    }
}

/// An observer and its callback: disconnected when dropped.
pub(crate) struct Watcher<O: Disconnect> {
    pub(crate) observer: O,
    _callback: Closure<dyn FnMut(Array)>,
}

impl<O: Disconnect> Watcher<O> {
    /// `make` builds the observer around the callback's function.
    pub(crate) fn new(
        f: impl FnMut(Array) + 'static,
        make: impl FnOnce(&Function) -> Result<O, JsValue>,
    ) -> Result<Watcher<O>, JsValue> {
        let callback = Closure::<dyn FnMut(Array)>::new(f);
        let observer = make(callback.as_ref().unchecked_ref())?;
        Ok(Watcher { observer, _callback: callback })
    }
}

impl<O: Disconnect> Drop for Watcher<O> {
    fn drop(&mut self) {
        self.observer.disconnect();
    }
}

/// `requestIdleCallback`, or a 0 ms timeout where the browser has none (Safari):
/// cancelled when dropped.
pub(crate) enum Idle {
    Callback { window: Window, id: u32, _callback: Closure<dyn FnMut()> },
    Timer { _timeout: gloo_timers::callback::Timeout },
}

impl Idle {
    pub(crate) fn new(window: &Window, f: impl Fn() + 'static) -> Idle {
        let f = Rc::new(f);
        let g = f.clone();
        let callback = Closure::<dyn FnMut()>::new(move || f());
        match window.request_idle_callback(callback.as_ref().unchecked_ref()) {
            Ok(id) => Idle::Callback { window: window.clone(), id, _callback: callback },
            Err(_) => Idle::Timer { _timeout: gloo_timers::callback::Timeout::new(0, move || g()) },
        }
    }
}

impl Drop for Idle {
    fn drop(&mut self) {
        if let Idle::Callback { window, id, .. } = self {
            window.cancel_idle_callback(*id);
        }
    }
}
