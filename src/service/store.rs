//! One interface over the stores a feed can live in. Every store keeps the same state
//! (epoch, seq, baseline, entries) and obeys the same rules: a publish gets the next seq
//! and is acknowledged only once durable; an `Idempotency-Key` seen before returns the
//! first publish's answer; compaction is [`crate::policy::feed::compact`]'s.

use crate::policy::feed::Feed;
use crate::policy::value::Value;

use super::file_store::FileStore;
use super::redis_store::RedisStore;
use super::store_api::file_path;
pub use super::store_api::{check_idempotency_key, Published, StoreError, StoreUrl, IDEMPOTENCY_TTL_SECS};

/// A feed store.
pub enum Store {
    File(FileStore),
    /// Boxed: many times the size of a `FileStore`.
    Redis(Box<RedisStore>),
}

impl Store {
    /// Opens the store a URL names: `file:PATH` (or a plain path; a relative one is made
    /// absolute, see [`file_path`]) or `redis://HOST:PORT/DB`. `keep` bounds the entries
    /// kept (see [`crate::policy::feed::compact`]); `namespace` prefixes the Redis keys.
    pub async fn open(url: &str, keep: usize, namespace: &str) -> Result<Store, StoreError> {
        Ok(match StoreUrl::parse(url)? {
            StoreUrl::Redis(url) => Store::Redis(Box::new(RedisStore::open(url, keep, namespace).await?)),
            StoreUrl::File(path) => Store::File(FileStore::new(file_path(path), keep)),
        })
    }

    /// What this store is, for logs (no secrets: a Redis password is left out).
    pub fn describe(&self) -> String {
        match self {
            Store::File(s) => format!("file:{}", s.path().display()),
            Store::Redis(s) => s.describe(),
        }
    }

    /// Adds an entry (`fields`: validated by [`crate::policy::feed::publish_request`]) and answers once it
    /// is durable.
    pub async fn publish(
        &self,
        fields: Vec<(String, Value)>,
        at_ms: f64,
        key: Option<&str>,
    ) -> Result<Published, StoreError> {
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

    /// The feed as stored, not compacted: reading it never writes.
    pub async fn peek(&self) -> Result<Option<Feed>, StoreError> {
        match self {
            Store::File(s) => s.peek().await,
            Store::Redis(s) => s.peek().await,
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

    /// Makes sure no seq up to `floor` is given again in `epoch`: a store that came back
    /// from an older state (Redis restarted from a snapshot or an AOF synced every second,
    /// a restored backup) would otherwise number new entries with seqs clients and
    /// workers already saw, and they would skip them. The store's seq moves to `floor`
    /// and its baseline to (`floor`, `at_ms`), so a worker that may have missed an entry
    /// the store lost applies `all`. `true` when it moved.
    pub async fn fence(&self, epoch: &str, floor: u64, at_ms: f64) -> Result<bool, StoreError> {
        match self {
            Store::File(s) => s.fence(epoch, floor, at_ms).await,
            Store::Redis(s) => s.fence(epoch, floor, at_ms).await,
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
