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

/// The path+search of `url` (resolved against the page) if it is same-origin.
pub(crate) fn same_origin_path(url: &str) -> Option<String> {
    let loc = window().location();
    let u = web_sys::Url::new_with_base(url, &loc.href().ok()?).ok()?;
    (u.origin() == loc.origin().ok()?).then(|| {
        let mut p = u.pathname();
        p.push_str(&u.search());
        p
    })
}

/// Whether the worker's `INVALIDATED` notice (as JSON) covers `url`.
#[wasm_bindgen]
pub fn covers(notice: &str, url: &str) -> bool {
    same_origin_path(url).is_some_and(|p| crate::core::feed::notice_covers(notice, &p))
}

/// Rejected promise with an `Error(message)`.
pub(crate) fn reject(message: &str) -> Promise {
    Promise::reject(&JsError::new(message).into())
}
