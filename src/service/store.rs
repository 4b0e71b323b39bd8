//! One interface over the stores a feed can live in. Every store keeps the same state
//! (epoch, seq, baseline, entries) and obeys the same rules: a publish gets the next seq
//! and is acknowledged only once durable; an `Idempotency-Key` seen before returns the
//! first publish's answer; compaction is [`feed::compact`]'s.

use std::fmt;

use crate::core::feed::{self, Feed};
use crate::core::value::Value;

use super::file_store::FileStore;
use super::redis_store::RedisStore;

/// How long a publish's `Idempotency-Key` is remembered.
pub const IDEMPOTENCY_TTL_SECS: u64 = 24 * 3600;

/// Why a store could not do what it was asked.
#[derive(Debug)]
pub enum StoreError {
    /// The store is not reachable or failed (Redis down, disk error): try again later.
    Unavailable(String),
    /// What the store holds is not a valid feed (a hand-edited file, say): nothing is
    /// written over it.
    Corrupt(String),
    /// The store URL is wrong.
    Config(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Unavailable(m) => write!(f, "the store is unavailable: {m}"),
            StoreError::Corrupt(m) => write!(f, "the stored feed is invalid: {m}"),
            StoreError::Config(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// A publish the store made durable.
#[derive(Clone, Debug, PartialEq)]
pub struct Published {
    pub seq: u64,
    pub at_ms: f64,
    /// The `Idempotency-Key` had been seen: this is the first publish's answer, and
    /// nothing was added.
    pub replayed: bool,
}

/// An idempotency key: 1 to 200 visible ASCII characters.
pub fn check_idempotency_key(key: &str) -> Result<(), String> {
    if key.is_empty() || key.len() > 200 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("the Idempotency-Key must be 1 to 200 visible ASCII characters".into());
    }
    Ok(())
}

/// A feed store.
pub enum Store {
    File(FileStore),
    Redis(RedisStore),
}

impl Store {
    /// Opens the store a URL names: `file:PATH` (or a plain path) or
    /// `redis://HOST:PORT/DB`. `keep` bounds the entries kept (see [`feed::compact`]);
    /// `namespace` prefixes the Redis keys.
    pub async fn open(url: &str, keep: usize, namespace: &str) -> Result<Store, StoreError> {
        if url.starts_with("redis://") || url.starts_with("rediss://") || url.starts_with("redis+unix://") {
            return Ok(Store::Redis(RedisStore::open(url, keep, namespace).await?));
        }
        let path = url.strip_prefix("file:").unwrap_or(url);
        if path.is_empty() || url.contains("://") {
            return Err(StoreError::Config(format!("unknown store '{url}' (expected file:PATH or redis://HOST:PORT/DB)")));
        }
        Ok(Store::File(FileStore::new(path.into(), keep)))
    }

    /// What this store is, for logs (no secrets: a Redis password is left out).
    pub fn describe(&self) -> String {
        match self {
            Store::File(s) => format!("file:{}", s.path().display()),
            Store::Redis(s) => s.describe(),
        }
    }

    /// Adds an entry (`fields`: validated by [`feed::publish_request`]) and answers once it
    /// is durable.
    pub async fn publish(&self, fields: Vec<(String, Value)>, at_ms: f64, key: Option<&str>) -> Result<Published, StoreError> {
        match self {
            Store::File(s) => s.publish(fields, at_ms, key).await,
            Store::Redis(s) => s.publish(fields, at_ms, key).await,
        }
    }

    /// The feed as it stands, compacted by the store's rules. `None`: no feed yet.
    pub async fn read(&self) -> Result<Option<Feed>, StoreError> {
        match self {
            Store::File(s) => s.read().await,
            Store::Redis(s) => s.read().await,
        }
    }

    /// Creates an empty feed (a new epoch, no entries) if there is none; returns the feed.
    pub async fn init(&self) -> Result<Feed, StoreError> {
        match self {
            Store::File(s) => s.init().await,
            Store::Redis(s) => s.init().await,
        }
    }

    /// Folds all but the newest `keep` entries into the baseline; returns how many went.
    pub async fn compact(&self, keep: usize) -> Result<usize, StoreError> {
        match self {
            Store::File(s) => s.compact(keep).await,
            Store::Redis(s) => s.compact(keep).await,
        }
    }

    /// Waits until the store may have changed (another publisher wrote), or `max`
    /// passes. A hint: the caller reads the store again either way.
    pub async fn changed(&self, max: std::time::Duration) {
        match self {
            Store::File(s) => s.changed(max).await,
            Store::Redis(s) => s.changed(max).await,
        }
    }
}

/// Parses a stored feed document, naming where it came from in the error.
pub fn parse_stored(text: &str, from: &str) -> Result<Feed, StoreError> {
    feed::parse(text).map_err(|e| StoreError::Corrupt(format!("{from}: {e}")))
}
