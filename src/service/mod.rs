//! The feed on the server side (native only): the stores a feed lives in and the feed
//! service, `swcache-feed serve`.
//!
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

use std::time::{SystemTime, UNIX_EPOCH};

/// The wall clock in milliseconds since the epoch (what feed timestamps are in).
pub fn now_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_millis() as f64)
}

/// A new epoch name: the time and the process, in hex (unique enough for a feed's history).
pub fn new_epoch() -> String {
    format!("{:x}{:x}", now_ms() as u64, std::process::id())
}

/// A `serde_json` value as the core's plain value model.
pub fn core_value(v: &serde_json::Value) -> crate::core::value::Value {
    use crate::core::value::Value;
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => Value::Num(n.as_f64().unwrap_or(f64::NAN)),
        serde_json::Value::String(s) => Value::Str(s.clone()),
        serde_json::Value::Array(items) => Value::Arr(items.iter().map(core_value).collect()),
        serde_json::Value::Object(props) => Value::Obj(props.iter().map(|(k, v)| (k.clone(), core_value(v))).collect()),
    }
}
