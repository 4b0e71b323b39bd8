//! The feed on the server side (native only): the stores a feed lives in and the feed
//! service, `swcache-feed serve`.
//!
//! * [`store_api`]: what every store shares (errors, a publish's answer, idempotency
//!   keys, epochs).
//! * [`store`]: one interface over the two stores, `file:PATH` (one machine, a file
//!   written atomically under a lock) and `redis://HOST:PORT/DB` (any number of service
//!   instances on one Redis). Publishing, reading and compacting go through
//!   [`crate::core::feed`], the same rules as the feed workers read.
//! * [`hub`]: what one service instance knows of its store: the current feed (its bytes,
//!   gzip and ETag, built once per change) and the fan-out of new entries to its live
//!   clients, each entry once, in seq order.
//! * [`http`]: the HTTP service (axum): publish, the feed document, Server-Sent Events,
//!   health and metrics.

pub mod file_store;
pub mod http;
pub mod hub;
pub mod metrics;
pub mod redis_store;
pub mod store;
pub mod store_api;

pub use store_api::{new_epoch, now_ms};
