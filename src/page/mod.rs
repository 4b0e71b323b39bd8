//! Page-side module (`dist/swcache-page.js`): registration, messages to the worker,
//! hover prefetch and the hydration scheduler. Built with `--target web`; the ES module
//! wrapper `www/swcache-page.js` re-exports these under their JS names.

mod hover;
pub mod hydrate;
mod messaging;

use js_sys::Promise;
use wasm_bindgen::prelude::*;

pub use hover::prefetch_on_hover;
pub use messaging::{invalidate, post, prefetch, register};

pub(crate) fn window() -> web_sys::Window {
    web_sys::window().expect("the page module runs in a window")
}

pub(crate) use crate::web::error_text;

/// Rejected promise with an `Error(message)`.
pub(crate) fn reject(message: &str) -> Promise {
    Promise::reject(&JsError::new(message).into())
}
