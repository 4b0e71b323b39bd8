//! Small helpers both wasm adapters (worker and page) use.

use js_sys::Promise;
use wasm_bindgen::{JsCast, JsValue};

/// Message of a thrown JS value, for logs and error replies.
pub fn error_text(e: &JsValue) -> String {
    match e.dyn_ref::<js_sys::Error>() {
        Some(err) => String::from(err.message()),
        None => e.as_string().unwrap_or_else(|| "unknown error".into()),
    }
}

/// A promise that resolves with `value` after `ms`.
pub fn after(ms: u32, value: JsValue) -> Promise {
    Promise::new(&mut |resolve, _reject| {
        let value = value.clone();
        gloo_timers::callback::Timeout::new(ms, move || {
            let _ = resolve.call1(&JsValue::NULL, &value);
        })
        .forget();
    })
}
