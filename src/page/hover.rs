//! `prefetchOnHover(selector, opts)`: delegated pointer/touch/focus listeners feeding
//! [`HoverIntent`]; the worker is sent a PREFETCH for each URL it decides on.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Element, Event};

use super::{messaging, window};
use crate::core::hover::{HoverIntent, DEFAULT_DELAY_MS};

struct State {
    intent: HoverIntent,
    timer: Option<gloo_timers::callback::Timeout>,
}

/// Returned by `prefetchOnHover`; `stop()` removes the listeners.
#[wasm_bindgen]
pub struct HoverHandle {
    listeners: Vec<(&'static str, Closure<dyn FnMut(Event)>)>,
    state: Rc<RefCell<State>>,
}

#[wasm_bindgen]
impl HoverHandle {
    pub fn stop(&mut self) {
        let doc = window().document();
        for (kind, f) in self.listeners.drain(..) {
            if let Some(doc) = &doc {
                let _ = doc.remove_event_listener_with_callback(kind, f.as_ref().unchecked_ref());
            }
        }
        self.state.borrow_mut().timer = None;
    }
}

/// The href of the `selector`-matching link the event happened in, if any.
fn link_href(e: &Event, selector: &str) -> Option<String> {
    let target: Element = e.target()?.dyn_into().ok()?;
    let link = target.closest(selector).ok()??;
    let href = Reflect::get(&link, &JsValue::from_str("href")).ok()?.as_string()?;
    (!href.is_empty()).then_some(href)
}

fn send(href: String) {
    // Fire and forget: a failed prefetch only means the later navigation is a miss.
    let done = messaging::prefetch(Array::of1(&JsValue::from_str(&href)).into(), 30_000.0);
    wasm_bindgen_futures::spawn_local(async move {
        let _ = wasm_bindgen_futures::JsFuture::from(done).await;
    });
}

#[wasm_bindgen]
pub fn prefetch_on_hover(selector: String, opts: JsValue) -> Result<HoverHandle, JsError> {
    let doc = window().document().ok_or_else(|| JsError::new("swcache: no document"))?;
    // Reject a bad selector now, with the browser's own message.
    doc.query_selector(&selector).map_err(|e| JsError::new(&super::error_text(&e)))?;
    let delay = Reflect::get(&opts, &JsValue::from_str("delay")).ok().and_then(|v| v.as_f64());
    let delay = delay.filter(|d| d.is_finite() && *d >= 0.0).map_or(DEFAULT_DELAY_MS, |d| d as u32);
    let origin = window().location().origin().map_err(|_| JsError::new("swcache: no origin"))?;
    let state = Rc::new(RefCell::new(State { intent: HoverIntent::new(&origin, delay), timer: None }));
    let selector = Rc::new(selector);

    let (st, sel) = (state.clone(), selector.clone());
    let over = Closure::<dyn FnMut(Event)>::new(move |e: Event| {
        let Some(href) = link_href(&e, &sel) else { return };
        let Some(ms) = st.borrow_mut().intent.enter(&href) else { return };
        let st2 = st.clone();
        let timer = gloo_timers::callback::Timeout::new(ms, move || {
            let next = st2.borrow_mut().intent.fire();
            if let Some(href) = next {
                send(href);
            }
        });
        st.borrow_mut().timer = Some(timer);
    });
    let (st, sel) = (state.clone(), selector.clone());
    let out = Closure::<dyn FnMut(Event)>::new(move |e: Event| {
        let Some(href) = link_href(&e, &sel) else { return };
        // Still inside the same link (moving between its children): not a leave.
        let related = Reflect::get(&e, &JsValue::from_str("relatedTarget")).ok().and_then(|t| t.dyn_into::<Element>().ok());
        if related.and_then(|r| r.closest(&sel).ok().flatten()).is_some_and(|l| {
            Reflect::get(&l, &JsValue::from_str("href")).ok().and_then(|h| h.as_string()).as_deref() == Some(href.as_str())
        }) {
            return;
        }
        let mut s = st.borrow_mut();
        if s.intent.leave(&href) {
            s.timer = None;
        }
    });
    // Touch and keyboard focus show intent at once.
    let at_once = || {
        let (st, sel) = (state.clone(), selector.clone());
        Closure::<dyn FnMut(Event)>::new(move |e: Event| {
            let Some(href) = link_href(&e, &sel) else { return };
            let next = st.borrow_mut().intent.now(&href);
            if let Some(href) = next {
                send(href);
            }
        })
    };
    let listeners = vec![("pointerover", over), ("pointerout", out), ("touchstart", at_once()), ("focusin", at_once())];
    for (kind, f) in &listeners {
        let opts = web_sys::AddEventListenerOptions::new();
        opts.set_passive(true);
        doc.add_event_listener_with_callback_and_add_event_listener_options(kind, f.as_ref().unchecked_ref(), &opts)
            .map_err(|_| JsError::new("swcache: could not listen for hovers"))?;
    }
    Ok(HoverHandle { listeners, state })
}
