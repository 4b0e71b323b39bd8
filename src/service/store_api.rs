//! The vocabulary of the store interface, shared by every store: what can go wrong, what
//! a publish answers, the idempotency-key rules, and how a feed's epoch and time are made.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::policy::feed::{self, Feed};

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
    /// The `Idempotency-Key` was used before for another entry: nothing was published.
    KeyReused(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Unavailable(m) => write!(f, "the store is unavailable: {m}"),
            StoreError::Corrupt(m) => write!(f, "the stored feed is invalid: {m}"),
            StoreError::Config(m) | StoreError::KeyReused(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl StoreError {
    /// What `/healthz` calls it: `unavailable` (an outage: it may pass), `invalid` (what
    /// the store holds is not a feed's) or `misconfigured` (how it is reached is wrong):
    /// the last two last until someone fixes them.
    pub fn status(&self) -> &'static str {
        match self {
            StoreError::Unavailable(_) => "unavailable",
            StoreError::Corrupt(_) => "invalid",
            StoreError::Config(_) => "misconfigured",
            // (A publish's answer only, never a read's.)
            StoreError::KeyReused(_) => "invalid",
        }
    }
}

/// A publish the store made durable.
#[derive(Clone, Debug, PartialEq)]
pub struct Published {
    pub seq: u64,
    pub at_ms: f64,
    /// The `Idempotency-Key` had been seen: this is the first publish's answer, and
    /// nothing was added.
    pub replayed: bool,
}

/// What an idempotency key remembers of its entry besides its seq: the selectors' hash
/// (FNV-1a 64 of their JSON, in hex), so a key reused for another entry is told apart
/// from a retry. (The timestamp is left out: a retry without one is stamped anew.)
pub fn entry_fingerprint(fields: &[(String, crate::policy::value::Value)]) -> String {
    let json = feed::entry_json(&feed::Entry { seq: 0, at_ms: 0.0, fields: fields.to_vec() });
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in json.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// A key seen before with another entry: refused, naming the entry it published.
pub fn key_reused(key: &str, seq: u64) -> StoreError {
    StoreError::KeyReused(format!(
        "the Idempotency-Key '{}' was used within the last day for another entry (seq {seq}): nothing was published; give each entry a key of its own",
        key.chars().take(60).collect::<String>()
    ))
}

/// An idempotency key: 1 to 200 visible ASCII characters.
pub fn check_idempotency_key(key: &str) -> Result<(), String> {
    if key.is_empty() || key.len() > 200 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("the Idempotency-Key must be 1 to 200 visible ASCII characters".into());
    }
    Ok(())
}

/// Parses a stored feed document, naming where it came from in the error. A feed workers
/// would refuse (see [`feed::check_stored`]) is as invalid as one that is not JSON.
pub fn parse_stored(text: &str, from: &str) -> Result<Feed, StoreError> {
    let f = feed::parse_stored(text).map_err(|e| StoreError::Corrupt(format!("{from}: {e}")))?;
    feed::check_stored(&f, now_ms())
        .map_err(|e| StoreError::Corrupt(format!("{from}: {e} (workers refuse the whole feed)")))?;
    Ok(f)
}

/// The wall clock in milliseconds since the epoch (what feed timestamps are in).
pub fn now_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_millis() as f64)
}

/// A new epoch name: the time and the process, in hex (unique enough for a feed's history).
pub fn new_epoch() -> String {
    format!("{:x}{:x}", now_ms() as u64, crate::native::process_tag())
}

/// Where a store URL says the feed lives.
#[derive(Debug, PartialEq)]
pub enum StoreUrl<'a> {
    /// `file:PATH`, or a plain path.
    File(&'a str),
    /// `redis://`, `rediss://` or `redis+unix://`: the whole URL.
    Redis(&'a str),
}

impl<'a> StoreUrl<'a> {
    pub fn parse(url: &'a str) -> Result<StoreUrl<'a>, StoreError> {
        if url.starts_with("redis://") || url.starts_with("rediss://") || url.starts_with("redis+unix://") {
            return Ok(StoreUrl::Redis(url));
        }
        let path = url.strip_prefix("file:").unwrap_or(url);
        if path.is_empty() || url.contains("://") {
            return Err(StoreError::Config(format!(
                "unknown store '{url}' (expected file:PATH or redis://HOST:PORT/DB)"
            )));
        }
        if path.ends_with('/') || path.ends_with(std::path::MAIN_SEPARATOR) {
            return Err(not_a_file(url));
        }
        Ok(StoreUrl::File(path))
    }
}

/// A `file:` store that names a directory: the store is one file, and a writer given a
/// directory would make its lock file beside it, in the parent.
pub fn not_a_file(path: &str) -> StoreError {
    StoreError::Config(format!("'{path}' is a directory: a file store is one file (say file:DIR/swcache-feed.json)"))
}

/// A `file:` store's path made absolute: a relative one is from the working directory
/// (under systemd, `/`), so what the commands and the service say names the file they use.
pub fn file_path(path: &str) -> std::path::PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.into())
}

/// The tokens in a token file: one per line, blank lines and `#` comments skipped, each
/// 16 characters at least, of what an `Authorization` header carries (visible ASCII and
/// spaces). A byte order mark (a file saved by a Windows editor) is not part of the first.
pub fn read_tokens(path: &std::path::Path) -> Result<Vec<String>, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("{}: {}", path.display(), crate::native::io_text(&e)))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let tokens: Vec<String> =
        text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(String::from).collect();
    if tokens.is_empty() {
        return Err(format!("{}: no token in the file (one per line)", path.display()));
    }
    if let Some(t) = tokens.iter().find(|t| t.len() < 16) {
        return Err(format!("{}: a token of {} characters is too short (16 at least)", path.display(), t.len()));
    }
    if tokens.iter().any(|t| !t.bytes().all(|b| b == b' ' || b.is_ascii_graphic())) {
        return Err(format!(
            "{}: a token must be visible ASCII characters (an HTTP header carries no other)",
            path.display()
        ));
    }
    Ok(tokens)
}
