//! `hydrate(opts)`: the adapter for [`crate::core::hydrate`]. Work in progress.

use wasm_bindgen::prelude::*;

/// Returned by `hydrate()`; `stop()` disconnects observers and timers.
#[wasm_bindgen]
pub struct HydrateHandle {}

#[wasm_bindgen]
impl HydrateHandle {
    pub fn stop(&self) {}
}

#[wasm_bindgen]
pub fn hydrate(_opts: JsValue) -> HydrateHandle {
    HydrateHandle {}
}
