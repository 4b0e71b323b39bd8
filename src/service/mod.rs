//! The feed on the server side: the stores a feed lives in and the feed service,
//! `swcache-feed serve`. Native; the WASI build (the npm package's `swcache-feed`) has
//! only [`store_api`] and the file store's synchronous half ([`file_store::publish_sync`]
//! and the others), no Redis, HTTP or tokio.
//!
//! * [`store_api`]: what every store shares (errors, a publish's answer, idempotency
//!   keys, epochs).
//! * [`store`]: one interface over the two stores, `file:PATH` (one machine, a file
//!   written atomically under a lock) and `redis://HOST:PORT/DB` (any number of service
//!   instances on one Redis). Publishing, reading and compacting go through
//!   [`crate::policy::feed`], the same rules as the feed workers read.
//! * [`hub`]: what one service instance knows of its store: the current feed (its bytes,
//!   gzip and ETag, built once per change) and the fan-out of new entries to its live
//!   clients, each entry once, in seq order.
//! * [`http`]: the HTTP service (axum): publish, the feed document, Server-Sent Events,
//!   health and metrics.

pub mod file_store;
#[cfg(not(target_os = "wasi"))]
pub mod http;
#[cfg(not(target_os = "wasi"))]
pub mod hub;
#[cfg(not(target_os = "wasi"))]
pub mod metrics;
#[cfg(not(target_os = "wasi"))]
pub mod redis_store;
#[cfg(not(target_os = "wasi"))]
pub mod store;
pub mod store_api;

pub use store_api::{new_epoch, now_ms};
