//! The `file:PATH` store: the feed is one file, the very document workers fetch. A
//! writer takes an exclusive lock on `PATH.lock`, reads the feed, adds, compacts, and
//! renames a fully written and synced temporary file over it (then syncs the directory),
//! so a reader never sees half a file, concurrent publishers (processes or threads) never
//! lose an entry, and an acknowledged entry survives a crash. Idempotency keys live
//! beside it in `PATH.keys` (JSON lines, written under the same lock, pruned after a day).

use std::fs::{self, OpenOptions};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use crate::core::feed::{self, Feed};
use crate::core::time;
use crate::core::value::Value;
use crate::native;

use super::store_api::{new_epoch, now_ms};
use super::store_api::{parse_stored, Published, StoreError, IDEMPOTENCY_TTL_SECS};

/// How often the file is looked at for changes other publishers made.
const POLL: Duration = Duration::from_millis(50);

pub struct FileStore {
    path: PathBuf,
    keep: usize,
    /// Fired by this process's own writes, so its live clients hear of them at once.
    wrote: Arc<Notify>,
    /// What the file looked like at the last `changed` call.
    seen: Mutex<Option<(i64, i64, u64, u64)>>,
}

fn unavailable(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Unavailable(format!("{}: {e}", path.display()))
}

impl FileStore {
    pub fn new(path: PathBuf, keep: usize) -> FileStore {
        FileStore { path, keep, wrote: Arc::new(Notify::new()), seen: Mutex::new(None) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read_now(path: &Path) -> Result<Option<Feed>, StoreError> {
        match fs::read_to_string(path) {
            Ok(text) => parse_stored(&text, &path.display().to_string()).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(unavailable(path, e)),
        }
    }

    /// Runs `f` on the feed under the lock, writing the feed back if it returns `true`.
    async fn locked<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Feed, &Path) -> Result<(T, bool), StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let path = self.path.clone();
        let out = tokio::task::spawn_blocking(move || {
            let lock_path = path.with_extension("lock");
            let lock = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&lock_path)
                .map_err(|e| unavailable(&lock_path, e))?;
            lock.lock().map_err(|e| unavailable(&lock_path, e))?;
            let mut feed = FileStore::read_now(&path)?.unwrap_or_else(|| Feed {
                epoch: new_epoch(),
                seq: 0,
                baseline: None,
                entries: vec![],
            });
            let (out, write) = f(&mut feed, &path)?;
            if write {
                native::write_atomic(&path, feed::write(&feed).as_bytes(), None)
                    .map_err(|e| unavailable(&path, e.error))?;
            }
            Ok(out)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("the writer thread failed: {e}")))?;
        if out.is_ok() {
            self.wrote.notify_one();
        }
        out
    }

    pub async fn publish(
        &self,
        fields: Vec<(String, Value)>,
        at_ms: f64,
        key: Option<&str>,
    ) -> Result<Published, StoreError> {
        let keep = self.keep;
        let key = key.map(String::from);
        self.locked(move |feed, path| {
            let keys_path = path.with_extension("keys");
            let now = now_ms();
            let mut keys = read_keys(&keys_path, now);
            if let Some(k) = &key {
                if let Some((_, seq, at, _)) = keys.iter().find(|(kk, ..)| kk == k) {
                    return Ok((Published { seq: *seq, at_ms: *at, replayed: true }, false));
                }
            }
            let seq = feed::add(feed, fields, at_ms);
            feed::compact(feed, keep);
            native::write_atomic(path, feed::write(feed).as_bytes(), None).map_err(|e| unavailable(path, e.error))?;
            if let Some(k) = key {
                // After the feed: a crash between the two writes makes a retry publish the
                // entry twice (harmless: an invalidation is idempotent), never lose it.
                keys.push((k, seq, at_ms, now));
                write_keys(&keys_path, &keys).map_err(|e| unavailable(&keys_path, e))?;
            }
            Ok((Published { seq, at_ms, replayed: false }, false))
        })
        .await
    }

    pub async fn read(&self) -> Result<Option<Feed>, StoreError> {
        let path = self.path.clone();
        let keep = self.keep;
        tokio::task::spawn_blocking(move || {
            FileStore::read_now(&path).map(|f| {
                f.map(|mut f| {
                    feed::compact(&mut f, keep);
                    f
                })
            })
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("the reader thread failed: {e}")))?
    }

    pub async fn init(&self) -> Result<Feed, StoreError> {
        self.locked(|feed, path| {
            let exists = path.exists();
            Ok((feed.clone(), !exists))
        })
        .await
    }

    pub async fn compact(&self, keep: usize) -> Result<usize, StoreError> {
        self.locked(move |feed, _| {
            let dropped = feed::compact(feed, keep);
            Ok((dropped, true))
        })
        .await
    }

    fn stamp(&self) -> Option<(i64, i64, u64, u64)> {
        fs::metadata(&self.path).ok().map(|m| (m.mtime(), m.mtime_nsec(), m.ino(), m.len()))
    }

    pub async fn changed(&self, max: Duration) {
        let start = tokio::time::Instant::now();
        let before = *self.seen.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let now = self.stamp();
            if now != before {
                *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = now;
                return;
            }
            let left = max.saturating_sub(start.elapsed());
            if left.is_zero() {
                return;
            }
            tokio::select! {
                _ = self.wrote.notified() => {
                    *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = self.stamp();
                    return;
                }
                _ = tokio::time::sleep(POLL.min(left)) => {}
            }
        }
    }
}

/// The remembered idempotency keys younger than a day: `(key, seq, at_ms, saved_ms)`.
fn read_keys(path: &Path, now: f64) -> Vec<(String, u64, f64, f64)> {
    let Ok(text) = fs::read_to_string(path) else { return vec![] };
    text.lines()
        .filter_map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).ok()?;
            let saved = v.get("saved")?.as_f64()?;
            if now - saved > IDEMPOTENCY_TTL_SECS as f64 * 1000.0 {
                return None;
            }
            Some((v.get("key")?.as_str()?.to_string(), v.get("seq")?.as_u64()?, v.get("at")?.as_f64()?, saved))
        })
        .collect()
}

fn write_keys(path: &Path, keys: &[(String, u64, f64, f64)]) -> std::io::Result<()> {
    let mut text = String::new();
    for (k, seq, at, saved) in keys {
        let line =
            serde_json::json!({ "key": k, "seq": seq, "at": at, "saved": saved, "timestamp": time::iso_string(*at) });
        text.push_str(&line.to_string());
        text.push('\n');
    }
    native::write_atomic(path, text.as_bytes(), None).map_err(|e| e.error)
}
