//! The `file:PATH` store: the feed is one file, the very document workers fetch. A
//! writer takes the file's lock (see [`WriterLock`]), reads the feed, adds, compacts, and
//! renames a fully written and synced temporary file over it (then syncs the directory),
//! so a reader never sees half a file, concurrent publishers (processes or threads) never
//! lose an entry, and an acknowledged entry survives a crash. Idempotency keys live
//! beside it in `PATH.keys` (JSON lines, written under the same lock, pruned after a day).
//!
//! The work itself is synchronous ([`publish_sync`] and the others): the WASI build of
//! `swcache-feed` (the npm package's command) calls it directly; natively the async
//! [`FileStore`] runs it on tokio's blocking threads.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::native;
use crate::policy::feed::{self, Feed};
use crate::policy::time;
use crate::policy::value::Value;

use super::store_api::{entry_fingerprint, key_reused, parse_stored, Published, StoreError, IDEMPOTENCY_TTL_SECS};
use super::store_api::{new_epoch, not_a_file, now_ms};

#[cfg(not(target_os = "wasi"))]
pub use self::service::FileStore;

fn unavailable(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Unavailable(format!("{}: {}", path.display(), native::io_text(&e)))
}

/// A lock file that could not be made: named by the feed when its directory is missing
/// (the lock files are the command's, not a path the user gave).
fn lock_failed(path: &Path, lock: &Path, e: std::io::Error) -> StoreError {
    unavailable(if e.kind() == ErrorKind::NotFound { path } else { lock }, e)
}

// ---------------------------------------------------------------------------------------
// The lock

/// A writer's hold on a feed file, released when dropped. Two layers:
///
/// * natively, an exclusive `flock` on `PATH.lock` (the kernel releases it when a process
///   dies, so a crashed native writer never blocks the next; one held `FLOCK_WAIT` is
///   a stuck process's, and the writer gives up);
/// * everywhere, `PATH.writer`, a file that exists only while a writer works (created
///   atomically with its owner's kind in it: `native` or `wasi`). WASI has no file locks,
///   so this is what keeps the npm package's `swcache-feed` (node:wasi) and native
///   writers apart. A `native` mark found by a native writer that holds the flock is
///   left by a crashed native process and taken over at once; any other mark is taken
///   over once it is [`STALE`] old (its writer died: a write takes milliseconds).
pub struct WriterLock {
    mark: PathBuf,
    #[cfg(not(target_os = "wasi"))]
    _flock: fs::File,
}

/// A `PATH.writer` mark this old belongs to a writer that died.
pub const STALE: Duration = Duration::from_secs(10);
/// How long a writer waits for the lock before it gives up.
const LOCK_WAIT: Duration = Duration::from_secs(60);
/// A wait for the lock this long is told on stderr (once).
const SAY_AFTER: Duration = Duration::from_secs(1);
/// How long a native writer waits for another's `flock` before it gives up: a write
/// takes milliseconds, so a lock held this long is a stuck process's (the kernel frees
/// a dead one's), and every publish would wait on it.
#[cfg(not(target_os = "wasi"))]
pub const FLOCK_WAIT: Duration = Duration::from_secs(5);

const OWNER: &str = if cfg!(target_os = "wasi") { "wasi" } else { "native" };

impl WriterLock {
    /// Takes the lock of the feed at `path`, waiting for other writers.
    pub fn take(path: &Path) -> Result<WriterLock, StoreError> {
        #[cfg(not(target_os = "wasi"))]
        let flock = {
            let lock_path = path.with_extension("lock");
            // (Another user's lock file, say the service's when a CMS publishes: read is
            // all a flock needs.)
            let lock = fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&lock_path)
                .or_else(|e| match e.kind() {
                    // (No lock file to open: the directory is what cannot be written.)
                    ErrorKind::PermissionDenied => fs::File::open(&lock_path).map_err(|_| e),
                    _ => Err(e),
                })
                .map_err(|e| lock_failed(path, &lock_path, e))?;
            flock(&lock, &lock_path)?;
            lock
        };
        let mark = path.with_extension("writer");
        let start = std::time::Instant::now();
        let mut pause = Duration::from_millis(1);
        let mut said = false;
        loop {
            match create_mark(&mark) {
                Ok(()) => {
                    return Ok(WriterLock {
                        mark,
                        #[cfg(not(target_os = "wasi"))]
                        _flock: flock,
                    })
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) => return Err(lock_failed(path, &mark, e)),
            }
            // Someone holds it: a writer at work, or one that died.
            let owner = fs::read_to_string(&mark).unwrap_or_default();
            let age = fs::metadata(&mark)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok());
            let dead =
                (cfg!(not(target_os = "wasi")) && owner.starts_with("native ")) || age.is_some_and(|a| a >= STALE);
            if dead {
                take_over(&mark);
                continue;
            }
            if start.elapsed() >= LOCK_WAIT {
                return Err(StoreError::Unavailable(format!(
                    "{}: another writer has held the feed for {} s ({}); if none runs, remove the file",
                    mark.display(),
                    LOCK_WAIT.as_secs(),
                    owner.trim()
                )));
            }
            if !said && start.elapsed() >= SAY_AFTER {
                // A wait this long is not a write at work: say what it waits for.
                let most =
                    LOCK_WAIT.saturating_sub(start.elapsed()).min(age.map_or(LOCK_WAIT, |a| STALE.saturating_sub(a)));
                eprintln!(
                    "swcache-feed: waiting for another writer to finish ({}: {}); at most {} s more",
                    mark.display(),
                    owner.trim(),
                    most.as_millis().div_ceil(1000)
                );
                said = true;
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }
}

/// Takes the exclusive `flock` on `lock` (the file at `lock_path`), waiting at most
/// [`FLOCK_WAIT`] for another writer.
#[cfg(not(target_os = "wasi"))]
fn flock(lock: &fs::File, lock_path: &Path) -> Result<(), StoreError> {
    let start = std::time::Instant::now();
    let mut pause = Duration::from_millis(1);
    let mut said = false;
    loop {
        match lock.try_lock() {
            Ok(()) => return Ok(()),
            Err(fs::TryLockError::WouldBlock) => {}
            Err(fs::TryLockError::Error(e)) => return Err(unavailable(lock_path, e)),
        }
        if start.elapsed() >= FLOCK_WAIT {
            return Err(StoreError::Unavailable(format!(
                "{}: another process has held the feed's lock for {} s, so nothing was written (a write takes milliseconds: that process is stuck; fuser or lsof on the file names it)",
                lock_path.display(),
                FLOCK_WAIT.as_secs()
            )));
        }
        if !said && start.elapsed() >= SAY_AFTER {
            eprintln!(
                "swcache-feed: waiting for another writer to finish ({} is locked); at most {} s more",
                lock_path.display(),
                FLOCK_WAIT.saturating_sub(start.elapsed()).as_millis().div_ceil(1000)
            );
            said = true;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

impl Drop for WriterLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.mark);
    }
}

/// Creates `mark` with this writer's kind in it, atomically: written beside it first,
/// then hard-linked into place (fails with `AlreadyExists` if it is there).
fn create_mark(mark: &Path) -> std::io::Result<()> {
    let tmp = native::temp_path(mark);
    // (On a full disk the file is made and the write fails: it goes too.)
    let linked =
        fs::write(&tmp, format!("{OWNER} {:x}\n", native::process_tag())).and_then(|()| fs::hard_link(&tmp, mark));
    let _ = fs::remove_file(&tmp);
    linked
}

/// Removes a dead writer's mark. It is renamed away first (only one of several writers
/// taking over succeeds); if what was renamed turns out to be a fresh mark (another
/// writer took over and a third one started in between), it is put back.
fn take_over(mark: &Path) {
    let away = native::temp_path(mark);
    if fs::rename(mark, &away).is_err() {
        return;
    }
    let fresh = fs::metadata(&away)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|a| a < STALE);
    let ours = fs::read_to_string(&away).is_ok_and(|o| o.starts_with("native ")) && cfg!(not(target_os = "wasi"));
    if fresh && !ours {
        let _ = fs::hard_link(&away, mark);
    }
    let _ = fs::remove_file(&away);
}

// ---------------------------------------------------------------------------------------
// The synchronous store

/// The feed in the file, or `None` if there is none yet.
pub fn read_now(path: &Path) -> Result<Option<Feed>, StoreError> {
    match fs::read_to_string(path) {
        Ok(text) => parse_stored(&text, &path.display().to_string()).map(Some),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(_) if path.is_dir() => Err(not_a_file(&path.display().to_string())),
        Err(e) => Err(unavailable(path, e)),
    }
}

/// Runs `f` on the feed under the lock, writing the feed back if it returns `true`.
fn locked<T>(path: &Path, f: impl FnOnce(&mut Feed, &Path) -> Result<(T, bool), StoreError>) -> Result<T, StoreError> {
    // (Symlinks followed: a deploy's shared feed linked into each release, Capistrano's
    // `linked_files`, is written where it is, and every writer, whichever name it is
    // given, takes the lock beside it.)
    let path = &native::resolve_links(path);
    if path.is_dir() {
        return Err(not_a_file(&path.display().to_string()));
    }
    let _lock = WriterLock::take(path)?;
    let mut feed =
        read_now(path)?.unwrap_or_else(|| Feed { epoch: new_epoch(), seq: 0, baseline: None, entries: vec![] });
    let (out, write) = f(&mut feed, path)?;
    if write {
        write_feed(path, &feed)?;
    }
    Ok(out)
}

/// Writes the feed file (under the lock), its modification time [`next_modified`].
fn write_feed(path: &Path, feed: &Feed) -> Result<(), StoreError> {
    let meta = fs::metadata(path).ok();
    let before = meta.as_ref().and_then(|m| m.modified().ok());
    let modified = next_modified(SystemTime::now(), before);
    // (The mode the site gave it, say readable by the web server whatever this umask.)
    // And its group: a mode of 0640 for the web server's group means nothing once the file
    // is the publisher's own group (a replaced file is created with the writer's).
    #[cfg(unix)]
    let group = meta.as_ref().map(std::os::unix::fs::MetadataExt::gid);
    #[cfg(not(unix))]
    let group = None;
    let perms = meta.map(|m| m.permissions());
    native::write_atomic_at(path, feed::write(feed).as_bytes(), perms, Some(modified), group)
        .map_err(|e| unavailable(path, e.error))
}

/// The feed file's modification time for its next version, written at `now` over a version
/// modified at `before`: `now`, or the whole second after `before`'s when `now` is not in
/// a later second. A web server serving the file itself derives its validators from the
/// whole-second mtime and the size (nginx's and Apache's `ETag`, `Last-Modified`): two
/// versions written within one second at one size (a compacted feed of like entries, in a
/// burst of publishes) would share them, and a worker that checked in between would get a
/// 304 for the second one until the next publish.
pub fn next_modified(now: SystemTime, before: Option<SystemTime>) -> SystemTime {
    let second = |t: SystemTime| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    match before {
        Some(b) if second(now) <= second(b) => UNIX_EPOCH + Duration::from_secs(second(b) + 1),
        _ => now,
    }
}

/// Adds an entry (see [`super::store_api`] for the key rules) and answers once it is durable.
pub fn publish_sync(
    path: &Path,
    keep: usize,
    fields: Vec<(String, Value)>,
    at_ms: f64,
    key: Option<&str>,
) -> Result<Published, StoreError> {
    locked(path, |feed, path| {
        let keys_path = path.with_extension("keys");
        let now = now_ms();
        // (Read only for a keyed publish: a day of a keyed webhook a second is 12 MB.)
        let mut keys = if key.is_some() { read_keys(&keys_path, now) } else { Vec::new() };
        let print = key.map(|_| entry_fingerprint(&fields));
        if let Some(k) = key {
            // (Only a key this feed saw: a recreated feed, of a new epoch, never had the seq.)
            let this_feed = |e: &Option<String>, seq: u64| e.as_ref().map_or(seq <= feed.seq, |e| *e == feed.epoch);
            if let Some((_, seq, at, _, _, p)) = keys.iter().find(|(kk, seq, _, _, e, _)| kk == k && this_feed(e, *seq))
            {
                // (A key saved before entries were remembered is taken as a retry.)
                if p.as_ref().is_some_and(|p| Some(p) != print.as_ref()) {
                    return Err(key_reused(k, *seq));
                }
                return Ok((Published { seq: *seq, at_ms: *at, replayed: true }, false));
            }
        }
        let seq = feed::add(feed, fields, at_ms);
        feed::compact(feed, keep);
        write_feed(path, feed)?;
        if let Some(k) = key {
            // After the feed: a crash between the two writes makes a retry publish the
            // entry twice (harmless: an invalidation is idempotent), never lose it.
            keys.retain(|(kk, ..)| kk != k);
            keys.push((k.to_string(), seq, at_ms, now, Some(feed.epoch.clone()), print));
            write_keys(&keys_path, &keys).map_err(|e| unavailable(&keys_path, e))?;
        }
        Ok((Published { seq, at_ms, replayed: false }, false))
    })
}

/// The feed, compacted to `keep` entries (not written back).
pub fn read_sync(path: &Path, keep: usize) -> Result<Option<Feed>, StoreError> {
    read_now(path).map(|f| {
        f.map(|mut f| {
            feed::compact(&mut f, keep);
            f
        })
    })
}

/// See [`super::store::Store::fence`].
pub fn fence_sync(path: &Path, epoch: &str, floor: u64, at_ms: f64) -> Result<bool, StoreError> {
    locked(path, |feed, path| {
        if !path.exists() || feed.epoch != epoch || feed.seq >= floor {
            return Ok((false, false));
        }
        feed.seq = floor;
        feed.baseline = Some(feed::Baseline { seq: floor, at_ms });
        feed.entries.clear();
        Ok((true, true))
    })
}

/// Creates an empty feed if there is none; returns the feed.
pub fn init_sync(path: &Path) -> Result<Feed, StoreError> {
    locked(path, |feed, path| {
        let exists = path.exists();
        Ok((feed.clone(), !exists))
    })
}

/// Folds all but the newest `keep` entries into the baseline; returns how many went.
pub fn compact_sync(path: &Path, keep: usize) -> Result<usize, StoreError> {
    locked(path, |feed, _| {
        let dropped = feed::compact(feed, keep);
        Ok((dropped, true))
    })
}

// ---------------------------------------------------------------------------------------
// The async store (native: the feed service and the native command)

#[cfg(not(target_os = "wasi"))]
mod service {
    use std::fs;
    use std::os::unix::fs::MetadataExt;
    use std::path::{Path, PathBuf};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use tokio::sync::Notify;

    use crate::policy::feed::Feed;
    use crate::policy::value::Value;

    use super::super::store_api::{Published, StoreError};

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

    impl FileStore {
        pub fn new(path: PathBuf, keep: usize) -> FileStore {
            FileStore { path, keep, wrote: Arc::new(Notify::new()), seen: Mutex::new(None) }
        }

        pub fn path(&self) -> &Path {
            &self.path
        }

        /// Runs `f` (one of the synchronous operations) on a blocking thread; a
        /// successful write wakes this process's live clients.
        async fn blocking<T: Send + 'static>(
            &self,
            what: &str,
            notify: bool,
            f: impl FnOnce(PathBuf) -> Result<T, StoreError> + Send + 'static,
        ) -> Result<T, StoreError> {
            let path = self.path.clone();
            let out = tokio::task::spawn_blocking(move || f(path))
                .await
                .map_err(|e| StoreError::Unavailable(format!("the {what} thread failed: {e}")))?;
            if notify && out.is_ok() {
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
            let (keep, key) = (self.keep, key.map(String::from));
            self.blocking("writer", true, move |p| super::publish_sync(&p, keep, fields, at_ms, key.as_deref())).await
        }

        pub async fn read(&self) -> Result<Option<Feed>, StoreError> {
            let keep = self.keep;
            self.blocking("reader", false, move |p| super::read_sync(&p, keep)).await
        }

        pub async fn peek(&self) -> Result<Option<Feed>, StoreError> {
            self.blocking("reader", false, move |p| super::read_now(&p)).await
        }

        pub async fn init(&self) -> Result<Feed, StoreError> {
            self.blocking("writer", true, move |p| super::init_sync(&p)).await
        }

        pub async fn compact(&self, keep: usize) -> Result<usize, StoreError> {
            self.blocking("writer", true, move |p| super::compact_sync(&p, keep)).await
        }

        pub async fn fence(&self, epoch: &str, floor: u64, at_ms: f64) -> Result<bool, StoreError> {
            let epoch = epoch.to_string();
            self.blocking("writer", true, move |p| super::fence_sync(&p, &epoch, floor, at_ms)).await
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
}

/// The remembered idempotency keys younger than a day: `(key, seq, at_ms, saved_ms, epoch,
/// entry)` (keys saved before epochs or entries were kept have none; `entry`:
/// [`entry_fingerprint`]).
type Key = (String, u64, f64, f64, Option<String>, Option<String>);

fn read_keys(path: &Path, now: f64) -> Vec<Key> {
    let Ok(text) = fs::read_to_string(path) else { return vec![] };
    text.lines()
        .filter_map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).ok()?;
            let saved = v.get("saved")?.as_f64()?;
            if now - saved > IDEMPOTENCY_TTL_SECS as f64 * 1000.0 {
                return None;
            }
            let epoch = v.get("epoch").and_then(|e| e.as_str()).map(String::from);
            let entry = v.get("entry").and_then(|e| e.as_str()).map(String::from);
            let (key, seq, at) = (v.get("key")?.as_str()?.to_string(), v.get("seq")?.as_u64()?, v.get("at")?.as_f64()?);
            Some((key, seq, at, saved, epoch, entry))
        })
        .collect()
}

fn write_keys(path: &Path, keys: &[Key]) -> std::io::Result<()> {
    let mut text = String::new();
    for (k, seq, at, saved, epoch, entry) in keys {
        let line = serde_json::json!({
            "key": k, "seq": seq, "at": at, "saved": saved, "timestamp": time::iso_string(*at), "epoch": epoch,
            "entry": entry
        });
        text.push_str(&line.to_string());
        text.push('\n');
    }
    native::write_atomic(path, text.as_bytes(), None).map_err(|e| e.error)
}
