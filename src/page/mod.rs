//! Page-side module (`dist/swcache-page.js`): registration, messages to the worker,
//! hover prefetch and the hydration scheduler. Built with `--target web`; the ES module
//! wrapper `www/swcache-page.js` re-exports these under their JS names.

mod hover;
pub mod hydrate;
mod messaging;

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

pub use hover::prefetch_on_hover;
pub use messaging::{invalidate, post, prefetch, register};

pub(crate) fn window() -> web_sys::Window {
    web_sys::window().expect("the page module runs in a window")
}

/// Message of a thrown JS value.
pub(crate) fn error_text(e: &JsValue) -> String {
    match e.dyn_ref::<js_sys::Error>() {
        Some(err) => String::from(err.message()),
        None => e.as_string().unwrap_or_else(|| "unknown error".into()),
    }
}

/// Rejected promise with an `Error(message)`.
pub(crate) fn reject(message: &str) -> Promise {
    Promise::reject(&JsError::new(message).into())
}
