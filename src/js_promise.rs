//! Waiting on a JavaScript promise from Rust, for both wasm adapters: the worker's
//! command steps (`src/sw/exec.rs`) and the page's fetches and renders
//! (`src/page/exec.rs`).

use ::core::cell::Cell;

use alloc::rc::Rc;
use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen]
extern "C" {
    /// A promise, for [`Settle::then_owned`].
    type Settle;

    /// `promise.then(ok, err)`, both handlers owned by JavaScript (freed by its GC once
    /// the promise has settled and dropped them).
    #[wasm_bindgen(method, js_name = then)]
    fn then_owned(this: &Settle, ok: Closure<dyn FnMut(JsValue)>, err: Closure<dyn FnMut(JsValue)>);
}

/// Calls `f` once `promise` settles, with its value or why it rejected. The handler that
/// runs takes `f` (and what it captured) out, so nothing of it outlives the call.
pub fn settle(promise: &Promise, f: impl FnOnce(Result<JsValue, JsValue>) + 'static) {
    let once = Rc::new(Cell::new(Some(f)));
    let other = once.clone();
    let ok = Closure::new(move |v| {
        if let Some(f) = once.take() {
            f(Ok(v));
        }
    });
    let err = Closure::new(move |e| {
        if let Some(f) = other.take() {
            f(Err(e));
        }
    });
    promise.unchecked_ref::<Settle>().then_owned(ok, err);
}
