//! What one service instance knows of its store, and the fan-out to its live clients.
//!
//! The hub reads the store whenever it may have changed (this instance wrote, another
//! publisher wrote: a file change or a Redis announcement) and at least once a second.
//! Each read is compared with the last: entries past the last seq go to the live
//! clients in seq order, each once; a new epoch, a feed that went backwards, or entries
//! compacted away before this instance saw them go out as one `reset`. The feed document
//! (bytes, gzip, ETag) is built once per change and shared by every request.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use tokio::sync::{broadcast, watch};

use crate::policy::feed::{self, Feed};
use crate::policy::time;

use super::metrics::Metrics;
use super::store::Store;
use super::store_api::now_ms;

/// How many events a live client may fall behind before it is dropped (it reconnects
/// with `Last-Event-ID` and gets what it missed from the feed).
pub const CLIENT_BUFFER: usize = 4096;
/// The store is read at least this often even when nothing announced a change.
const REREAD: Duration = Duration::from_secs(1);

/// The feed document as served.
pub struct Current {
    pub feed: Feed,
    pub body: Bytes,
    pub gzip: Bytes,
    /// Strong ETags of the two representations (derived from epoch, seq and baseline).
    pub etag: String,
    pub etag_gzip: String,
}

/// What live clients are sent.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// One entry: its seq and JSON (as in the feed); `epoch`: its feed's ([`epoch_tag`]).
    Entry { seq: u64, epoch: Arc<str>, json: Arc<str> },
    /// Start over: the feed's history was lost to this client (compacted, a new epoch);
    /// the page treats it as `all`. `seq` is where the client now stands.
    Reset { seq: u64, epoch: Arc<str>, json: Arc<str> },
}

impl Event {
    pub fn seq(&self) -> u64 {
        match self {
            Event::Entry { seq, .. } | Event::Reset { seq, .. } => *seq,
        }
    }

    pub fn reset(feed: &Feed) -> Event {
        let seq = feed.seq;
        let json =
            serde_json::json!({ "reset": true, "seq": seq, "timestamp": time::iso_string(now_ms()) }).to_string();
        Event::Reset { seq, epoch: epoch_tag(&feed.epoch).into(), json: json.into() }
    }

    /// The SSE `id`: `<seq>.<epoch>`, so a client's `Last-Event-ID` says which feed its
    /// seq belongs to (a feed that started over counts from 1 again).
    pub fn id(&self) -> String {
        match self {
            Event::Entry { seq, epoch, .. } | Event::Reset { seq, epoch, .. } => event_id(*seq, epoch),
        }
    }
}

/// An SSE `id`: `<seq>.<epoch tag>` ([`epoch_tag`]).
pub fn event_id(seq: u64, epoch_tag: &str) -> String {
    format!("{seq}.{epoch_tag}")
}

/// Whether `s` is made of what an epoch tag may hold: letters, digits, `_` and `-`.
pub fn is_tag_text(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A feed's epoch as it appears in ETags and SSE ids: as it is when it is letters,
/// digits, `_` and `-` ([`is_tag_text`]), else its bytes in hex.
pub fn epoch_tag(epoch: &str) -> String {
    if is_tag_text(epoch) {
        epoch.to_string()
    } else {
        epoch.bytes().map(|b| format!("{b:02x}")).collect()
    }
}

pub struct Hub {
    pub store: Arc<Store>,
    pub metrics: Arc<Metrics>,
    current: watch::Sender<Option<Arc<Current>>>,
    events: broadcast::Sender<Arc<Event>>,
    up: AtomicBool,
    /// One read of the store at a time, so the feed only moves forward and each event
    /// goes out once.
    reading: tokio::sync::Mutex<()>,
    /// The store was read and held no feed: the first feed's entries are all news.
    seen_empty: AtomicBool,
    /// Why the last read failed: [`super::store_api::StoreError::status`] and the error.
    last_error: Mutex<Option<(&'static str, String)>>,
}

fn etag_of(f: &Feed) -> String {
    format!("\"{}.{}.{}\"", epoch_tag(&f.epoch), f.seq, f.baseline.as_ref().map_or(0, |b| b.seq))
}

impl Current {
    pub fn new(feed: Feed) -> Current {
        let text = feed::write(&feed);
        let mut gz = GzEncoder::new(Vec::with_capacity(text.len() / 3), Compression::default());
        let _ = gz.write_all(text.as_bytes());
        let gzip = gz.finish().unwrap_or_default();
        let etag = etag_of(&feed);
        let etag_gzip = format!("{}-gz\"", &etag[..etag.len() - 1]);
        Current { feed, body: Bytes::from(text), gzip: Bytes::from(gzip), etag, etag_gzip }
    }
}

/// What a client that has seen up to `seq` of `feed`'s epoch is missing: the entries
/// after it, or one reset when they are gone (the feed is behind it, or compacted them).
pub fn since(feed: &Feed, seq: u64) -> Vec<Event> {
    diff(&Feed { epoch: feed.epoch.clone(), seq, baseline: None, entries: vec![] }, feed)
}

/// What went out to live clients between two reads of the store.
pub fn diff(prev: &Feed, next: &Feed) -> Vec<Event> {
    let compacted_unseen = next.baseline.as_ref().is_some_and(|b| b.seq > prev.seq);
    if next.epoch != prev.epoch || next.seq < prev.seq || compacted_unseen {
        return vec![Event::reset(next)];
    }
    let epoch: Arc<str> = epoch_tag(&next.epoch).into();
    next.entries
        .iter()
        .filter(|e| e.seq > prev.seq)
        .map(|e| Event::Entry { seq: e.seq, epoch: epoch.clone(), json: feed::entry_json(e).into() })
        .collect()
}

impl Hub {
    pub fn new(store: Arc<Store>, metrics: Arc<Metrics>) -> Arc<Hub> {
        let (current, _) = watch::channel(None);
        let (events, _) = broadcast::channel(CLIENT_BUFFER);
        Arc::new(Hub {
            store,
            metrics,
            current,
            events,
            up: AtomicBool::new(false),
            reading: tokio::sync::Mutex::new(()),
            seen_empty: AtomicBool::new(false),
            last_error: Mutex::new(None),
        })
    }

    /// The feed as last read (`None`: not read yet, or no feed in the store).
    pub fn current(&self) -> Option<Arc<Current>> {
        self.current.borrow().clone()
    }

    /// A receiver of what goes out to live clients from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.events.subscribe()
    }

    /// Whether the store answered the last read, and if not why: `unavailable`,
    /// `invalid` or `misconfigured` (see [`super::store_api::StoreError::status`]) and
    /// the error.
    pub fn health(&self) -> Result<(), (&'static str, String)> {
        if self.up.load(Ordering::Relaxed) {
            Ok(())
        } else {
            Err(self
                .last_error
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
                .unwrap_or_else(|| ("unavailable", "the store was not read yet".into())))
        }
    }

    /// Reads the store once and sends live clients what changed.
    pub async fn refresh(&self) {
        let _one = self.reading.lock().await;
        self.read_store().await;
    }

    /// Makes sure the feed served is at `seq` or past it, in the client's epoch
    /// (`epoch`: its [`epoch_tag`], when its id says): a client resuming from `seq` is
    /// never moved past what it missed, nor back to an epoch it left (reads that come
    /// while another caught up share it).
    pub async fn refresh_to(&self, seq: u64, epoch: Option<&str>) {
        let _one = self.reading.lock().await;
        let caught_up = |c: &Current| c.feed.seq >= seq && epoch.is_none_or(|e| e == epoch_tag(&c.feed.epoch));
        if self.current().is_some_and(|c| caught_up(&c)) {
            return;
        }
        self.read_store().await;
    }

    /// Makes sure the feed served shows the entry this instance just published (`seq`,
    /// stamped `at_ms`): a publisher that reads the feed after its `201` finds it. The
    /// entry itself is looked for, not only its seq: after the store lost its data (a new
    /// epoch) a new entry's seq can be one the feed last read already passed.
    pub async fn refresh_to_entry(&self, seq: u64, at_ms: f64) {
        let _one = self.reading.lock().await;
        let shown = |c: &Current| c.feed.entries.iter().any(|e| e.seq == seq && (e.at_ms - at_ms).abs() < 1.0);
        if self.current().is_some_and(|c| shown(&c)) {
            return;
        }
        self.read_store().await;
    }

    async fn read_store(&self) {
        match self.store.read().await {
            Ok(next) => {
                self.metrics.store_up.set(1);
                if !self.up.swap(true, Ordering::Relaxed) {
                    tracing::info!(store = %self.store.describe(), "the store answers");
                }
                let Some(mut next) = next else {
                    self.seen_empty.store(true, Ordering::Relaxed);
                    return;
                };
                let prev = self.current();
                if let Some(p) = prev.as_ref().filter(|p| p.feed.epoch == next.epoch && next.seq < p.feed.seq) {
                    // The store came back from an older state: the seqs it lost were
                    // seen, and must not number other entries.
                    tracing::warn!(
                        was = p.feed.seq, now = next.seq,
                        "the store went back in the same epoch (restored from an older state): its seq is moved past what was served"
                    );
                    let fenced = match self.store.fence(&next.epoch, p.feed.seq, now_ms()).await {
                        Ok(_) => self.store.read().await,
                        Err(e) => Err(e),
                    };
                    match fenced {
                        Ok(Some(f)) => next = f,
                        Ok(None) => return,
                        Err(e) => {
                            // What was served stays served; the next read tries again.
                            tracing::error!(error = %e, "the store's seq could not be moved past what was served");
                            return;
                        }
                    }
                }
                if prev.as_ref().is_some_and(|p| p.feed == next) {
                    return;
                }
                let events = match &prev {
                    Some(p) => diff(&p.feed, &next),
                    None if self.seen_empty.load(Ordering::Relaxed) => since(&next, 0),
                    None => vec![],
                };
                self.metrics.seq.set(next.seq as i64);
                // The feed first, then the events: a client that subscribes meanwhile
                // finds each entry in one or the other.
                self.current.send_replace(Some(Arc::new(Current::new(next))));
                for ev in events {
                    if let Event::Reset { seq, .. } = &ev {
                        tracing::warn!(
                            seq,
                            "live clients are sent a reset (a new epoch, or entries compacted before they were sent)"
                        );
                    }
                    let _ = self.events.send(Arc::new(ev));
                }
            }
            Err(e) => {
                self.metrics.store_up.set(0);
                let (status, text) = (e.status(), e.to_string());
                let was_up = self.up.swap(false, Ordering::Relaxed);
                let mut last = self.last_error.lock().unwrap_or_else(|e| e.into_inner());
                // Said when it starts, and when what is wrong changes.
                if was_up || last.as_ref().is_none_or(|l| l.0 != status) {
                    if matches!(e, super::store_api::StoreError::Unavailable(_)) {
                        tracing::error!(store = %self.store.describe(), error = %text, "the store does not answer; the last feed read is served");
                    } else {
                        // Not an outage: waiting will not help.
                        tracing::error!(store = %self.store.describe(), error = %text, "the store answers but cannot be used until this is fixed; the last feed read is served");
                    }
                }
                *last = Some((status, text));
            }
        }
    }

    /// Follows the store until `stop` turns true.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        loop {
            self.refresh().await;
            tokio::select! {
                _ = self.store.changed(REREAD) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }
}
