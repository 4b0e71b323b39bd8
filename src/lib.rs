//! swcache: a service-worker cache engine.
//!
//! * [`core`] is pure policy: no web APIs, fed inputs and time, returning decisions.
//! * `sw` (feature `sw`, wasm32 only) adapts it to the service-worker global scope.
//! * `page` (feature `page`, wasm32 only) is the page-side module.
//!
//! Always spell paths `crate::core::…` / `std::…`: the module name shadows the `core` crate.

pub mod core;

#[cfg(all(target_arch = "wasm32", any(feature = "sw", feature = "page")))]
mod web;

#[cfg(all(target_arch = "wasm32", feature = "sw"))]
pub mod sw;

#[cfg(all(target_arch = "wasm32", feature = "page"))]
pub mod page;
