//! swcache: a service-worker cache engine.
//!
//! * [`policy`] is pure policy: no web APIs, fed inputs and time, returning decisions.
//!   The worker engine is [`policy::engine::Engine`], one state machine.
//! * `sw` (feature `sw`, wasm32 only) is the worker adapter on wasm-bindgen, web-sys and
//!   js-sys: it carries out the engine's commands for the shim (`www/swcache-sw.shim.js`).
//!   That build is `no_std`: no formatting or panic machinery, so its wasm stays small
//!   and quick to start.
//! * `page` (feature `page`, wasm32 only) is the hydration scheduler's adapter on
//!   wasm-bindgen, web-sys and gloo-timers (std), which `www/swcache-page.js` imports on
//!   the first `hydrate()`.

// The worker's build is `no_std` (see Cargo.toml's `sw` feature); everything else uses std,
// and so do the worker adapter's tests (wasm-bindgen-test needs it).
#![cfg_attr(all(target_arch = "wasm32", feature = "sw", not(test)), no_std)]

extern crate alloc;

pub mod policy;

/// What the commands and the feed service share: atomic writes, JSON strings. Native,
/// and in the commands' WASI build (wasm32-wasip1: the npm package's commands).
#[cfg(any(not(target_arch = "wasm32"), target_os = "wasi"))]
pub mod native;

/// The feed's stores and the feed service (`swcache-feed serve`): native; the WASI build
/// has the file store's synchronous half only.
#[cfg(any(not(target_arch = "wasm32"), target_os = "wasi"))]
pub mod service;

/// A JavaScript value read into the policy's value model: both wasm adapters' one walk.
#[cfg(all(target_arch = "wasm32", any(feature = "sw", feature = "page")))]
pub mod js_value;

/// Waiting on a JavaScript promise: both wasm adapters' one way.
#[cfg(all(target_arch = "wasm32", any(feature = "sw", feature = "page")))]
pub mod js_promise;

#[cfg(all(target_arch = "wasm32", feature = "sw"))]
pub mod sw;

#[cfg(all(target_arch = "wasm32", feature = "page"))]
pub mod page;
