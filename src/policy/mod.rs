//! Pure policy. Nothing here touches a browser API: the executors in `www/` and the
//! adapters in `src/sw` and `src/page` turn events into these inputs and these
//! decisions into I/O.

#[macro_use]
pub mod text;
pub mod config;
pub mod engine;
pub mod evict;
pub mod feed;
pub mod fence;
pub mod message;
pub mod notices;
pub mod precache;
pub mod prelude;
pub mod range;
pub mod route;
pub mod sort;
pub mod stats;
pub mod store;
pub mod strategy;
pub mod time;
pub mod url;
pub mod value;

// Page-side policy: not part of the worker build.
#[cfg(any(not(target_arch = "wasm32"), feature = "page"))]
pub mod hydrate;

/// Every cache this engine owns starts with this; no other cache is ever deleted.
pub const CACHE_PREFIX: &str = "swcache-";
