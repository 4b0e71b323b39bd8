//! The invalidation feed: a small versioned JSON document a site publishes next to its
//! pages (a static file its CDN serves), so a server's content change reaches the
//! worker of every returning visitor. This module is its format (reading, validating,
//! writing, compacting) and the worker's decisions about it (what to apply given its
//! cursor, when to check, strict mode). The publisher command (`swcache-feed`) and the
//! worker engine share it.
//!
//! ```json
//! {
//!   "swcacheFeed": 1,
//!   "epoch": "k3f9",
//!   "seq": 1042,
//!   "baseline": { "seq": 1000, "timestamp": "2026-12-01T09:00:00.000Z" },
//!   "entries": [
//!     { "seq": 1041, "timestamp": "2026-12-01T10:04:59.120Z", "urls": ["/promo/summer"] },
//!     { "seq": 1042, "timestamp": "2026-12-01T10:05:00.000Z", "tags": ["price-7"] }
//!   ]
//! }
//! ```
//!
//! * `swcacheFeed`: the format version. A worker that does not know it ignores the feed
//!   (and reports it): a future format can never be half-understood.
//! * `epoch`: names this feed's history; a new epoch (a feed started over) makes the
//!   worker treat the feed as unseen.
//! * `seq`: the newest entry's number; entries have increasing numbers, each `≤ seq`.
//! * `entries`: what changed, with the selectors of `CACHE_INVALIDATION` (`urls`,
//!   `prefixes`, `tags`, `routes`, `all`) and the `timestamp` of the change.
//! * `baseline`: entries up to `baseline.seq` were compacted away; a worker whose cursor
//!   is older than that cannot know what they said, so it treats the baseline as
//!   `{all: true, timestamp: baseline.timestamp}` (everything stored before it goes).
//! * Unknown fields are ignored anywhere, so the format can grow.

use super::engine::Json;
use super::message::{parse_invalidation_with, parse_selector, Context, Invalidation};
use super::prelude::*;
use super::text::cold;
use super::text::{push_json_str, push_u64};
use super::time;
use super::value::Value;

pub const FORMAT: u32 = 1;
/// A feed document larger than this is refused whole.
pub const MAX_BYTES: usize = 1 << 20;
/// A feed with more entries than this is refused whole (publishers compact long before).
pub const MAX_ENTRIES: usize = 5_000;
/// Publishers keep at most this many entries; older ones go into the baseline.
pub const DEFAULT_KEEP: usize = 200;
/// Publishers keep the entries of a feed under this many bytes (older ones fold into the
/// baseline), so a feed never nears `MAX_BYTES`, which workers refuse.
pub const KEEP_BYTES: usize = MAX_BYTES / 2;
/// One entry as published (its JSON) may be at most this large.
pub const MAX_ENTRY_BYTES: usize = 128 * 1024;
/// A timestamp this far ahead of the publisher's clock is refused when it is added (a
/// worker clamps any timestamp ahead of its own clock to its now).
pub const FUTURE_LIMIT_MS: f64 = 10.0 * 60_000.0;
/// Beyond this many entries to apply at once, a worker applies one invalidation of
/// everything they name at the newest timestamp instead (one pass, and never less fresh).
pub const COLLAPSE_AFTER: usize = 50;

#[derive(Clone, Debug, PartialEq)]
pub struct Baseline {
    pub seq: u64,
    pub at_ms: f64,
}

/// One entry as the publisher keeps it (selectors as written, validated).
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub seq: u64,
    pub at_ms: f64,
    /// The entry's selector fields, as JSON values (`urls`, `prefixes`, `tags`,
    /// `routes`, `all`), kept as written so the feed round-trips.
    pub fields: Vec<(String, Value)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Feed {
    pub epoch: String,
    pub seq: u64,
    pub baseline: Option<Baseline>,
    pub entries: Vec<Entry>,
}

/// Where a worker is in a feed: the epoch and the last sequence number it applied.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cursor {
    pub epoch: String,
    pub seq: u64,
}

const SELECTORS: [&str; 5] = ["urls", "prefixes", "tags", "routes", "all"];

fn whole(v: Option<&Value>, field: &str) -> Result<u64, String> {
    match v {
        Some(Value::Num(n)) if *n >= 0.0 && *n <= 9.0e15 && super::text::trunc(*n) == *n => Ok(*n as u64),
        Some(other) => Err(cold(|| cat!("'", field, "' must be a whole number, got ", other.kind()))),
        None => Err(cold(|| cat!("'", field, "' is missing"))),
    }
}

fn timestamp(v: Option<&Value>, field: &str) -> Result<f64, String> {
    match v {
        Some(Value::Str(s)) => time::parse_iso(s).ok_or_else(|| cold(|| cat!("'", field, "' is not an ISO 8601 time"))),
        Some(other) => Err(cold(|| cat!("'", field, "' must be an ISO 8601 string, got ", other.kind()))),
        None => Err(cold(|| cat!("'", field, "' is missing"))),
    }
}

/// Reads a feed document. The error says what is wrong; a feed with an error is
/// ignored as a whole.
#[cfg(any(not(target_arch = "wasm32"), target_os = "wasi"))]
pub fn parse(text: &str) -> Result<Feed, String> {
    parse_within(text, MAX_BYTES, MAX_ENTRIES)
}

/// Reads a feed as a publisher's store holds it, before compaction: the same rules but no
/// size limit (concurrent publishes can take a store past what workers accept; compaction
/// brings the document served back under it).
#[cfg(any(not(target_arch = "wasm32"), target_os = "wasi"))]
pub fn parse_stored(text: &str) -> Result<Feed, String> {
    parse_within(text, usize::MAX, usize::MAX)
}

/// Reads a feed the executor has read as JSON (the engine's feed checks).
pub fn parse_json(body: &Json) -> Result<Feed, String> {
    checked(body.bytes, body.value.as_ref(), MAX_BYTES, MAX_ENTRIES)
}

#[cfg(any(not(target_arch = "wasm32"), target_os = "wasi"))]
fn parse_within(text: &str, max_bytes: usize, max_entries: usize) -> Result<Feed, String> {
    let v = if text.len() > max_bytes { None } else { super::text::read_json(text) };
    checked(text.len(), v.as_ref(), max_bytes, max_entries)
}

fn checked(bytes: usize, v: Option<&Value>, max_bytes: usize, max_entries: usize) -> Result<Feed, String> {
    if bytes > max_bytes {
        return Err(cold(|| cat!("the feed is larger than ", max_bytes, " bytes")));
    }
    let v = v.ok_or_else(|| cold(|| String::from("the feed is not JSON")))?;
    if !matches!(v, Value::Obj(_)) {
        return Err(cold(|| cat!("the feed must be an object, got ", v.kind())));
    }
    match v.get("swcacheFeed") {
        Some(Value::Num(n)) if *n == f64::from(FORMAT) => {}
        Some(Value::Num(_)) => {
            return Err(cold(|| "the feed's format version ('swcacheFeed') is not 1: a newer format, ignored".into()))
        }
        _ => return Err(cold(|| "'swcacheFeed' (the format version, 1) is missing".into())),
    }
    let epoch = match v.get("epoch") {
        None => String::new(),
        Some(Value::Str(s)) if s.len() <= 64 => s.clone(),
        Some(_) => return Err(cold(|| "'epoch' must be a string of at most 64 characters".into())),
    };
    let seq = whole(v.get("seq"), "seq")?;
    let baseline = match v.get("baseline") {
        None | Some(Value::Null) => None,
        Some(b @ Value::Obj(_)) => Some(Baseline {
            seq: whole(b.get("seq"), "baseline.seq")?,
            at_ms: timestamp(b.get("timestamp"), "baseline.timestamp")?,
        }),
        Some(other) => return Err(cold(|| cat!("'baseline' must be an object, got ", other.kind()))),
    };
    let items = match v.get("entries") {
        None => &[][..],
        Some(Value::Arr(items)) => &items[..],
        Some(other) => return Err(cold(|| cat!("'entries' must be an array, got ", other.kind()))),
    };
    if items.len() > max_entries {
        return Err(cold(|| cat!("the feed has more than ", max_entries, " entries (compact it)")));
    }
    let mut entries: Vec<Entry> = Vec::with_capacity(items.len());
    let mut last = baseline.as_ref().map_or(0, |b| b.seq);
    if last > seq {
        return Err(cold(|| "'baseline.seq' is above 'seq'".into()));
    }
    for (i, item) in items.iter().enumerate() {
        let at = |e: String| cat!("entries[", i, "]: ", e);
        let Value::Obj(props) = item else { return Err(cold(|| at(cat!("must be an object, got ", item.kind())))) };
        let s = whole(item.get("seq"), "seq").map_err(at)?;
        // (Seqs count from 1: a cursor at 0 has seen nothing, so an entry 0 would never apply.)
        if s <= last {
            return Err(cold(|| {
                at(String::from("'seq' must be 1 or more, and above the previous entry's (and the baseline's)"))
            }));
        }
        if s > seq {
            return Err(cold(|| at(String::from("'seq' is above the feed's 'seq'"))));
        }
        last = s;
        let at_ms = timestamp(item.get("timestamp"), "timestamp").map_err(at)?;
        let fields: Vec<(String, Value)> = props
            .iter()
            .filter(|(k, v)| SELECTORS.contains(&k.as_str()) && !matches!(v, Value::Undefined))
            .cloned()
            .collect();
        if fields.is_empty() {
            return Err(cold(|| {
                at(String::from("say what changed: 'urls', 'prefixes', 'tags', 'routes' or 'all: true'"))
            }));
        }
        entries.push(Entry { seq: s, at_ms, fields });
    }
    Ok(Feed { epoch, seq, baseline, entries })
}

/// What a worker at `cursor` must apply of `feed`, as invalidations for its origin and
/// routes (`ctx`), or why the feed is refused. `Ok((invalidations, new_cursor))`; an
/// empty list: nothing new.
///
/// `applied`: whether this worker applied an entry already (a page handed it on from its
/// live stream): checked all the same, not applied again, and not counted towards the
/// collapse into one pass.
pub fn plan(
    feed: &Feed,
    cursor: Option<&Cursor>,
    applied: &dyn Fn(&Invalidation) -> bool,
    ctx: &Context<'_>,
) -> Result<(Vec<Invalidation>, Cursor), String> {
    let same_epoch = cursor.filter(|c| c.epoch == feed.epoch);
    let from = same_epoch.map_or(0, |c| c.seq);
    if let Some(c) = same_epoch {
        if feed.seq < c.seq {
            return Err(cold(|| cat!("the feed's 'seq' went backwards (", feed.seq, " after ", c.seq, "): ignored")));
        }
    }
    let next = Cursor { epoch: feed.epoch.clone(), seq: feed.seq };
    let mut out = Vec::new();
    let mut newest = f64::NEG_INFINITY;
    // A timestamp is moved by how far this device's clock runs ahead of the feed's
    // ([`ahead_of`]). One ahead of this worker's clock is clamped to its now, however far:
    // the publisher refused any more than 10 minutes ahead of its own clock, so it is this
    // device's clock that runs behind (refused, the feed would stay refused for as long).
    let mut check = |at_ms: f64| -> f64 {
        let at_ms = at_ms + ctx.ahead_ms;
        let at = if at_ms > ctx.now_ms { ctx.now_ms } else { at_ms };
        if at > newest {
            newest = at;
        }
        at
    };
    if let Some(b) = &feed.baseline {
        // Entries this worker never saw were compacted away: everything older than the
        // baseline goes.
        if from < b.seq {
            let at = check(b.at_ms);
            out.push(Invalidation {
                at_ms: at,
                asked_ms: b.at_ms,
                selector: super::message::Selector { all: true, ..Default::default() },
                seq: None,
            });
        }
    }
    // Every entry is checked, also when they are too many to apply one by one: a bad
    // entry refuses the feed whole, however far behind the worker is.
    for e in feed.entries.iter().filter(|e| e.seq > from) {
        let at_ms = check(e.at_ms);
        let selector = parse_selector(&e.fields, ctx, true).map_err(|m| cat!("entry ", e.seq, ": ", m))?;
        let inv = Invalidation { at_ms, asked_ms: e.at_ms, selector, seq: Some(e.seq) };
        if !applied(&inv) {
            out.push(inv);
        }
    }
    if out.len() > COLLAPSE_AFTER {
        // Too many to apply one by one: one pass, for what any of them names, stamped
        // before the newest change (an entry named by an older one and stored since goes
        // too: never less fresh).
        out = vec![Invalidation { at_ms: newest, asked_ms: newest, selector: union(&mut out), seq: None }];
    }
    Ok((out, next))
}

/// What any of `invs` names, as one selector (a prefix, tag or route named twice is
/// listed twice: it matches the same).
fn union(invs: &mut [Invalidation]) -> super::message::Selector {
    let mut u = super::message::Selector::default();
    let mut urls = Vec::new();
    for i in invs {
        let s = &mut i.selector;
        u.all |= s.all;
        urls.append(&mut s.urls.0);
        u.prefixes.append(&mut s.prefixes);
        u.tags.append(&mut s.tags);
        u.slots.append(&mut s.slots);
    }
    u.urls = super::message::PathSet::from_vec(urls);
    u
}

/// Whether a feed check is due: never checked, or the last check is `interval_ms` old.
pub fn due(now_ms: f64, last_check_ms: Option<f64>, interval_ms: f64) -> bool {
    last_check_ms.is_none_or(|t| now_ms - t >= interval_ms || now_ms < t)
}

/// Strict mode: whether a navigation must wait for a feed check, because the last
/// successful one is older than `max_staleness_ms` (or there was none).
pub fn must_wait(now_ms: f64, last_success_ms: Option<f64>, max_staleness_ms: f64) -> bool {
    last_success_ms.is_none_or(|t| now_ms - t > max_staleness_ms || now_ms < t)
}

/// A response announcing news within this long of the last check defers the check to
/// when it ends (a burst of announcements costs one check a second at most).
pub const NEWS_THROTTLE_MS: f64 = 1000.0;

/// The seq a response announces (its `swcache-feed-seq` header), if it is readable.
pub fn announced(header: Option<&str>) -> Option<u64> {
    header.and_then(|h| super::text::parse_u64(h.trim()))
}

/// Whether a response announcing `seq` (the `swcache-feed-seq` header) is news.
pub fn announces_news(header: Option<&str>, cursor: Option<&Cursor>) -> bool {
    announced(header).is_some_and(|n| is_news(n, cursor))
}

/// Whether the feed's `seq` is beyond what a worker at `cursor` applied.
pub fn is_news(seq: u64, cursor: Option<&Cursor>) -> bool {
    cursor.is_none_or(|c| seq > c.seq)
}

/// A device clock at most this far ahead of the feed's counts as on time: `Date` is to
/// the second, and the response took its time on the network.
pub const AHEAD_MIN_MS: f64 = 2_000.0;

/// How far this device's clock runs ahead of the feed's, from a feed response's `Date`
/// (the server's time) and `Age` (seconds a CDN kept it) against the worker's `now_ms`
/// when it arrived: feed timestamps are moved later by it before they meet the worker's
/// stamps. `0` within [`AHEAD_MIN_MS`] and for a clock behind (a timestamp ahead of the
/// worker's now is clamped to its now). `None`: no readable `Date` (`date`: epoch ms, as
/// the browser's `Date.parse` reads the header).
pub fn ahead_of(now_ms: f64, date: Option<f64>, age: Option<&str>) -> Option<f64> {
    let age = age.and_then(|a| super::text::parse_u64(a.trim())).unwrap_or(0);
    let ahead = now_ms - date? - age as f64 * 1000.0;
    Some(if ahead > AHEAD_MIN_MS { ahead } else { 0.0 })
}

/// The window in which more than [`EPOCH_FLIPS`] epoch changes are reported.
pub const EPOCH_WINDOW_MIN: u32 = 5;
const EPOCH_WINDOW_MS: f64 = EPOCH_WINDOW_MIN as f64 * 60_000.0;
/// More epoch changes than this within the window is not a feed started over: it is
/// several feeds (say one per server instance, each with its own file) taking turns.
pub const EPOCH_FLIPS: usize = 2;
/// Change times kept (a report counts at most this many).
const EPOCH_KEEP: usize = 8;

/// Watches the feed's epoch: a worker that moves to another epoch more than
/// [`EPOCH_FLIPS`] times within [`EPOCH_WINDOW_MIN`] minutes is reading several feeds in
/// turn (each change makes it treat the feed as unseen and apply it whole). Reported at
/// most once per window. Kept in memory, as the other feed counters.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochWatch {
    /// When the epoch changed, newest first (`-∞`: no change).
    changes: [f64; EPOCH_KEEP],
    /// When the flipping was last reported (`-∞`: never).
    warned: f64,
    /// Changes seen since the worker started.
    pub total: u64,
}

impl Default for EpochWatch {
    fn default() -> Self {
        EpochWatch { changes: [f64::NEG_INFINITY; EPOCH_KEEP], warned: f64::NEG_INFINITY, total: 0 }
    }
}

/// Whether `t` is within the window before `now` (a time after `now`, from a clock that
/// went back, is not).
fn in_window(t: f64, now: f64) -> bool {
    t <= now && now - t < EPOCH_WINDOW_MS
}

impl EpochWatch {
    /// A worker at `cursor` epoch moves to a feed with `epoch` at `now`. `Some(n)`: report
    /// it now, the epoch changed `n` times within the window (more than
    /// [`EPOCH_FLIPS`]), and the last report is a window old (or there was none).
    pub fn saw(&mut self, cursor: Option<&str>, epoch: &str, now: f64) -> Option<u32> {
        if cursor.is_none_or(|c| c == epoch) {
            return None;
        }
        self.total += 1;
        self.changes.copy_within(..EPOCH_KEEP - 1, 1);
        self.changes[0] = now;
        let n = self.changes.iter().filter(|t| in_window(**t, now)).count();
        if n <= EPOCH_FLIPS || in_window(self.warned, now) {
            return None;
        }
        self.warned = now;
        Some(n as u32)
    }
}

// ----- writing (the publisher) -------------------------------------------------------------

/// The origin a publisher checks entry URLs against: feed entries name root-relative
/// URLs (the feed serves one site), so any absolute URL is another origin's.
const PUBLISH_ORIGIN: &str = "http://swcache-feed.invalid";

/// Resolves a URL as a publisher checks it: a root-relative one against [`PUBLISH_ORIGIN`],
/// any other as it is (another origin's).
fn resolve_published(raw: &str) -> Option<String> {
    if raw.starts_with('/') && !raw.starts_with("//") {
        Some(cat!(PUBLISH_ORIGIN, raw))
    } else {
        Some(String::from(raw))
    }
}

/// A browser drops tabs and line breaks from a URL and reads `\` as `/`: `/\evil.com/x`
/// is another origin to every worker, which would then refuse the whole feed.
fn browser_safe(props: &[(String, Value)]) -> Result<(), String> {
    for field in ["urls", "prefixes"] {
        if let Some(Value::Arr(list)) = super::value::prop(props, field) {
            for (i, u) in list.iter().enumerate() {
                let u = u.as_str().unwrap_or("");
                if u.bytes().any(|b| b == b'\\' || b < 0x20 || b == 0x7f) {
                    return Err(cold(|| {
                        cat!(
                            "'",
                            field,
                            "[",
                            i,
                            "]' must not contain a backslash or control characters ",
                            "(browsers read them as part of another URL), got '",
                            u,
                            "'"
                        )
                    }));
                }
            }
        }
    }
    Ok(())
}

/// Validates what a publisher was asked to add (the fields of `POST /v1/entries`, or
/// `swcache-feed add`'s flags): an object with the selectors of `CACHE_INVALIDATION`
/// (`urls` root-relative) and an optional `timestamp`, by the same rules a worker applies
/// to a feed entry. Returns the selector fields in a fixed order (so every publisher
/// writes the same bytes) and the entry's time: `timestamp`, or `now_ms`.
pub fn publish_request(v: &Value, now_ms: f64) -> Result<(Vec<(String, Value)>, f64), String> {
    let Value::Obj(props) = v else { return Err(cold(|| cat!("an entry must be a JSON object, got ", v.kind()))) };
    const ALLOWED: [&str; 6] = ["urls", "prefixes", "tags", "routes", "all", "timestamp"];
    if let Some((k, _)) = props.iter().find(|(k, _)| !ALLOWED.contains(&k.as_str())) {
        return Err(cold(|| {
            cat!("unknown field '", k, "' (an entry has urls, prefixes, tags, routes, all and timestamp)")
        }));
    }
    let at_ms = match v.get("timestamp") {
        None | Some(Value::Null) => now_ms,
        Some(t) => {
            let at = timestamp(Some(t), "timestamp")?;
            if at > now_ms + FUTURE_LIMIT_MS {
                return Err(cold(|| {
                    "'timestamp' is more than 10 minutes in the future (workers would take it as their now)".into()
                }));
            }
            at
        }
    };
    browser_safe(props)?;
    let ctx = Context { origin: PUBLISH_ORIGIN, slot_names: &[], now_ms, ahead_ms: 0.0, resolve: &resolve_published };
    // A null field (Python's None) is "not given", which the worker's reading of a
    // message does not know.
    let given: Vec<(String, Value)> = props.iter().filter(|(_, x)| !matches!(x, Value::Null)).cloned().collect();
    parse_invalidation_with(&Value::Obj(given), &ctx, true)?;
    if let Some(Value::Arr(urls)) = v.get("urls") {
        for (i, u) in urls.iter().enumerate() {
            let u = u.as_str().unwrap_or("");
            if !u.starts_with('/') || u.contains('#') {
                return Err(cold(|| cat!("'urls[", i, "]' must be root-relative (like /promo/summer), got '", u, "'")));
            }
        }
    }
    if let Some(Value::Arr(routes)) = v.get("routes") {
        for (i, r) in routes.iter().enumerate() {
            let r = r.as_str().unwrap_or("");
            if r.is_empty() || !r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
                return Err(cold(|| {
                    cat!("'routes[", i, "]' must be a route name (letters, digits, _ or -), got '", r, "'")
                }));
            }
        }
    }
    let fields: Vec<(String, Value)> = SELECTORS
        .iter()
        .filter_map(|k| match v.get(k) {
            Some(Value::Bool(false)) | Some(Value::Null) | None => None,
            Some(x) => Some((String::from(*k), x.clone())),
        })
        .collect();
    // Only empty lists (a CMS that found nothing to name): an entry that removes nothing
    // would still wake every worker and page. Refused, so the CMS's bug shows.
    if fields.iter().all(|(_, x)| matches!(x, Value::Arr(a) if a.is_empty())) {
        return Err(cold(|| {
            String::from("the entry names nothing (its lists are empty): say what changed with 'urls', 'prefixes', 'tags', 'routes' or 'all: true'")
        }));
    }
    let entry = Entry { seq: u64::MAX, at_ms, fields };
    if entry_json(&entry).len() > MAX_ENTRY_BYTES {
        return Err(cold(|| {
            cat!(
                "the entry is larger than ",
                MAX_ENTRY_BYTES,
                " bytes: name prefixes, tags or routes instead of every URL"
            )
        }));
    }
    Ok((entry.fields, at_ms))
}

/// Checks a stored feed's entries by the rules workers read them with, beyond the feed's
/// shape: an entry workers refuse (one edited in by hand, say) makes them refuse the whole
/// feed, so a publisher must not go on adding to it as if it were served. The first error
/// found. (Timestamps are not checked against this machine's clock: another instance's
/// clock stamped them.)
#[cfg(any(not(target_arch = "wasm32"), target_os = "wasi"))]
pub fn check_stored(feed: &Feed, now_ms: f64) -> Result<(), String> {
    let ctx = Context { origin: PUBLISH_ORIGIN, slot_names: &[], now_ms, ahead_ms: 0.0, resolve: &resolve_published };
    for e in &feed.entries {
        let at = |m: String| cat!("entry ", e.seq, ": ", m);
        browser_safe(&e.fields).map_err(at)?;
        parse_selector(&e.fields, &ctx, true).map_err(at)?;
    }
    Ok(())
}

/// Adds an entry (`fields`: validated selector fields) at `at_ms`; returns its seq.
pub fn add(feed: &mut Feed, fields: Vec<(String, Value)>, at_ms: f64) -> u64 {
    feed.seq += 1;
    feed.entries.push(Entry { seq: feed.seq, at_ms, fields });
    feed.seq
}

/// Keeps the newest `keep` entries (at most `MAX_ENTRIES`, the most workers accept), and
/// no more of them than fit in `KEEP_BYTES`; older ones collapse into the baseline (its seq
/// the newest dropped entry's, its timestamp the latest of theirs). Returns how many were
/// dropped. Compacting twice gives what compacting once does (the kept entries are the
/// longest suffix within both bounds).
pub fn compact(feed: &mut Feed, keep: usize) -> usize {
    let mut kept = 0;
    let mut bytes = 0;
    for e in feed.entries.iter().rev() {
        let len = entry_json(e).len() + 2;
        if kept == keep.min(MAX_ENTRIES) || bytes + len > KEEP_BYTES {
            break;
        }
        kept += 1;
        bytes += len;
    }
    if feed.entries.len() <= kept {
        return 0;
    }
    let drop = feed.entries.len() - kept;
    let gone: Vec<Entry> = feed.entries.drain(..drop).collect();
    let mut b = feed.baseline.clone().unwrap_or(Baseline { seq: 0, at_ms: f64::NEG_INFINITY });
    for e in &gone {
        b.seq = b.seq.max(e.seq);
        if e.at_ms > b.at_ms {
            b.at_ms = e.at_ms;
        }
    }
    feed.baseline = Some(b);
    drop
}

fn push_value(out: &mut String, v: &Value) {
    match v {
        Value::Str(s) => push_json_str(out, s),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Num(n) => out.push_str(&super::text::number_text(*n)),
        Value::Arr(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_value(out, x);
            }
            out.push(']');
        }
        Value::Obj(props) => {
            out.push('{');
            for (i, (k, x)) in props.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_json_str(out, k);
                out.push(':');
                push_value(out, x);
            }
            out.push('}');
        }
        _ => out.push_str("null"),
    }
}

fn push_entry(out: &mut String, e: &Entry) {
    out.push_str("{\"seq\":");
    push_u64(out, e.seq);
    out.push_str(",\"timestamp\":");
    push_json_str(out, &time::iso_string(e.at_ms));
    for (k, v) in &e.fields {
        out.push(',');
        push_json_str(out, k);
        out.push(':');
        push_value(out, v);
    }
    out.push('}');
}

/// One entry's JSON, as the feed writes it (and the live stream sends it).
pub fn entry_json(e: &Entry) -> String {
    let mut out = String::new();
    push_entry(&mut out, e);
    out
}

/// The feed as JSON, one entry per line (diffs and `tail` stay readable).
pub fn write(feed: &Feed) -> String {
    let mut out = String::from("{\"swcacheFeed\":1,\"epoch\":");
    push_json_str(&mut out, &feed.epoch);
    out.push_str(",\"seq\":");
    push_u64(&mut out, feed.seq);
    if let Some(b) = &feed.baseline {
        out.push_str(",\"baseline\":{\"seq\":");
        push_u64(&mut out, b.seq);
        out.push_str(",\"timestamp\":");
        push_json_str(&mut out, &time::iso_string(b.at_ms));
        out.push('}');
    }
    out.push_str(",\"entries\":[");
    for (i, e) in feed.entries.iter().enumerate() {
        out.push_str(if i == 0 { "\n" } else { ",\n" });
        push_entry(&mut out, e);
    }
    out.push_str("\n]}\n");
    out
}

/// The cursor as the worker stores it.
pub fn write_cursor(c: &Cursor) -> String {
    let mut out = String::from("{\"epoch\":");
    push_json_str(&mut out, &c.epoch);
    out.push_str(",\"seq\":");
    push_u64(&mut out, c.seq);
    out.push('}');
    out
}

#[cfg(any(not(target_arch = "wasm32"), target_os = "wasi"))]
pub fn read_cursor(text: &str) -> Option<Cursor> {
    cursor_of(&super::text::read_json(text)?)
}

/// The cursor a saved state (or a cursor's JSON) holds.
pub fn cursor_of(v: &Value) -> Option<Cursor> {
    let epoch = v.get("epoch")?.as_str()?.into();
    let seq = whole(v.get("seq"), "seq").ok()?;
    Some(Cursor { epoch, seq })
}

// Native only: these tests read JSON with serde_json, which the wasm builds do not have.
#[cfg(all(test, any(not(target_arch = "wasm32"), target_os = "wasi")))]
mod tests {
    use super::*;
    use crate::policy::config::tests::{resolve, ORIGIN};

    const NOW: f64 = 1_795_000_000_000.0;
    const NAMES: [&str; 3] = ["images", "pages", "precache"];

    fn ctx() -> Context<'static> {
        Context { origin: ORIGIN, slot_names: &NAMES, now_ms: NOW, ahead_ms: 0.0, resolve: &resolve }
    }

    fn feed_with(entries: &str) -> String {
        format!(r#"{{"swcacheFeed":1,"epoch":"e1","seq":3,"entries":[{entries}]}}"#)
    }

    const THREE: &str = r#"{"seq":1,"timestamp":"2026-11-18T11:00:00.000Z","urls":["/promo/a"]},
        {"seq":2,"timestamp":"2026-11-18T11:01:00.000Z","tags":["price-7"],"future":"ignored"},
        {"seq":3,"timestamp":"2026-11-18T11:02:00.000Z","routes":["pages","gone-route"]}"#;

    #[test]
    fn a_device_clock_ahead_of_the_feed_is_measured_from_date_and_age() {
        let date = 600_000.0; // Thu, 01 Jan 1970 00:10:00 GMT
        assert_eq!(ahead_of(900_000.0, Some(date), None), Some(300_000.0));
        assert_eq!(ahead_of(900_000.0, Some(date), Some("60")), Some(240_000.0));
        assert_eq!(ahead_of(900_000.0, Some(date), Some("junk")), Some(300_000.0));
        // Within 2 s, or behind: nothing.
        assert_eq!(ahead_of(601_999.0, Some(date), None), Some(0.0));
        assert_eq!(ahead_of(300_000.0, Some(date), None), Some(0.0));
        assert_eq!(ahead_of(900_000.0, Some(date), Some("600")), Some(0.0));
        assert_eq!(ahead_of(900_000.0, None, None), None);
    }

    #[test]
    fn a_stored_feed_is_checked_as_workers_read_it() {
        let good = parse_stored(&feed_with(THREE)).unwrap();
        assert!(plan(&good, None, &|_| false, &ctx()).is_ok());
        check_stored(&good, NOW).expect("unknown routes and fields are skipped, as workers do");
        for bad in [
            r#""prefixes":["promo/"]"#,
            r#""urls":["https://elsewhere.example/a"]"#,
            r#""tags":["a,b"]"#,
            r#""all":"yes""#,
        ] {
            let text = feed_with(&format!(r#"{{"seq":3,"timestamp":"2026-11-18T11:02:00.000Z",{bad}}}"#));
            let f = parse_stored(&text).unwrap();
            assert!(plan(&f, None, &|_| false, &ctx()).is_err(), "workers refuse {bad}");
            assert!(check_stored(&f, NOW).unwrap_err().starts_with("entry 3: "), "{bad}");
        }
        // (A browser reads `\` as `/`: another origin to every worker.)
        let slash = feed_with(r#"{"seq":3,"timestamp":"2026-11-18T11:02:00.000Z","urls":["/\\elsewhere.example/a"]}"#);
        assert!(check_stored(&parse_stored(&slash).unwrap(), NOW).is_err());
    }

    #[test]
    fn a_publish_takes_null_fields_as_not_given() {
        // Python's None, PHP's null: "not given", as the README's optional field says.
        let v = Value::Obj(vec![
            ("urls".into(), Value::Arr(vec![Value::Str("/promo/a".into())])),
            ("timestamp".into(), Value::Null),
        ]);
        let (fields, at) = publish_request(&v, NOW).expect("accepted");
        assert_eq!(at, NOW);
        assert_eq!(fields.len(), 1, "{fields:?}");
        // So is a null selector beside a given one; alone it selects nothing.
        let with = |tags: Value| {
            Value::Obj(vec![("urls".into(), Value::Arr(vec![Value::Str("/promo/a".into())])), ("tags".into(), tags)])
        };
        assert_eq!(publish_request(&with(Value::Null), NOW).expect("accepted").0.len(), 1);
        assert!(publish_request(&Value::Obj(vec![("tags".into(), Value::Null)]), NOW).is_err());
    }

    #[test]
    fn a_publish_of_empty_lists_only_is_refused() {
        let entry = |json: &str| publish_request(&serde_json::from_str::<Value>(json).unwrap(), NOW);
        for json in [r#"{"urls":[]}"#, r#"{"urls":[],"tags":[]}"#, r#"{"prefixes":[],"all":false}"#] {
            let err = entry(json).expect_err(json);
            assert!(err.contains("names nothing"), "{json}: {err}");
        }
        assert!(entry(r#"{"urls":[],"tags":["price"]}"#).is_ok());
        assert!(entry(r#"{"all":true}"#).is_ok());
    }

    #[test]
    fn parses_and_plans_what_a_cursor_has_not_seen() {
        let f = parse(&feed_with(THREE)).unwrap();
        assert_eq!((f.seq, f.entries.len(), f.epoch.as_str()), (3, 3, "e1"));
        let (all, c) = plan(&f, None, &|_| false, &ctx()).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(c, Cursor { epoch: "e1".into(), seq: 3 });
        assert!(all[0].selector.urls.contains("/promo/a"));
        assert_eq!(all[2].selector.slots, vec![1], "unknown route names are skipped, not an error");
        let (some, _) = plan(&f, Some(&Cursor { epoch: "e1".into(), seq: 2 }), &|_| false, &ctx()).unwrap();
        assert_eq!(some.len(), 1);
        let (none, _) = plan(&f, Some(&Cursor { epoch: "e1".into(), seq: 3 }), &|_| false, &ctx()).unwrap();
        assert!(none.is_empty(), "nothing new: nothing applied twice");
        let (again, _) = plan(&f, Some(&Cursor { epoch: "old".into(), seq: 99 }), &|_| false, &ctx()).unwrap();
        assert_eq!(again.len(), 3, "a new epoch: the feed is unseen");
    }

    #[test]
    fn bad_feeds_are_refused_whole() {
        let cases: Vec<(String, &str)> = vec![
            ("not json".into(), "not JSON"),
            ("[1]".into(), "must be an object"),
            (r#"{"seq":1}"#.into(), "'swcacheFeed'"),
            (r#"{"swcacheFeed":2,"seq":1}"#.into(), "newer format"),
            (r#"{"swcacheFeed":1,"seq":"3"}"#.into(), "'seq' must be a whole number"),
            (
                feed_with(
                    r#"{"seq":2,"timestamp":"2026-11-18T11:00:00Z","urls":["/a"]},{"seq":1,"timestamp":"2026-11-18T11:00:00Z","urls":["/b"]}"#,
                ),
                "above the previous entry's",
            ),
            (
                feed_with(r#"{"seq":0,"timestamp":"2026-11-18T11:00:00Z","urls":["/a"]}"#)
                    .replace("\"seq\":1,", "\"seq\":0,"),
                "'seq' must be 1 or more",
            ),
            (feed_with(r#"{"seq":9,"timestamp":"2026-11-18T11:00:00Z","urls":["/a"]}"#), "above the feed's"),
            (feed_with(r#"{"seq":1,"timestamp":"yesterday","urls":["/a"]}"#), "ISO 8601"),
            (feed_with(r#"{"seq":1,"timestamp":"2026-11-18T11:00:00Z"}"#), "say what changed"),
            (feed_with(r#"{"seq":1,"timestamp":"2026-11-18T11:00:00Z","urls":5}"#), "must be an array"),
            ("x".repeat(MAX_BYTES + 1), "larger than"),
        ];
        for (text, want) in cases {
            let got = parse(&text).and_then(|f| plan(&f, None, &|_| false, &ctx()).map(|_| ()));
            let e = got.unwrap_err();
            assert!(e.contains(want), "{e} should contain {want}");
        }
        let cross =
            parse(&feed_with(r#"{"seq":1,"timestamp":"2026-11-18T11:00:00Z","urls":["https://evil.example/a"]}"#))
                .unwrap();
        assert!(plan(&cross, None, &|_| false, &ctx()).unwrap_err().contains("cross-origin"));
        let many = format!(
            r#"{{"swcacheFeed":1,"seq":{n},"entries":[{}]}}"#,
            (1..=MAX_ENTRIES + 1)
                .map(|i| format!(r#"{{"seq":{i},"timestamp":"2026-11-18T11:00:00Z","all":true}}"#))
                .collect::<Vec<_>>()
                .join(","),
            n = MAX_ENTRIES + 1
        );
        assert!(parse(&many).unwrap_err().contains("more than"));
        let f = parse(&feed_with(THREE)).unwrap();
        assert!(plan(&f, Some(&Cursor { epoch: "e1".into(), seq: 5 }), &|_| false, &ctx())
            .unwrap_err()
            .contains("went backwards"));
    }

    #[test]
    fn future_timestamps_clamp() {
        let soon = time::iso_string(NOW + 60_000.0);
        let f =
            parse(&format!(r#"{{"swcacheFeed":1,"seq":1,"entries":[{{"seq":1,"timestamp":"{soon}","all":true}}]}}"#))
                .unwrap();
        let (invs, _) = plan(&f, None, &|_| false, &ctx()).unwrap();
        assert_eq!(invs[0].at_ms, NOW, "a minute of skew: clamped to the worker's now");
        let later = time::iso_string(NOW + 3_600_000.0);
        let f =
            parse(&format!(r#"{{"swcacheFeed":1,"seq":1,"entries":[{{"seq":1,"timestamp":"{later}","all":true}}]}}"#))
                .unwrap();
        let (invs, _) = plan(&f, None, &|_| false, &ctx()).unwrap();
        assert_eq!(invs[0].at_ms, NOW, "a device clock an hour behind: clamped, not refused");
    }

    #[test]
    fn compaction_bounds_the_file_and_the_baseline_covers_what_it_dropped() {
        let mut f = Feed { epoch: "e".into(), seq: 0, baseline: None, entries: vec![] };
        for i in 0..10_000u32 {
            let fields = vec![(String::from("urls"), Value::Arr(vec![Value::Str(format!("/promo/p{}", i % 300))]))];
            add(&mut f, fields, NOW - 1e7 + f64::from(i));
            compact(&mut f, DEFAULT_KEEP);
        }
        assert_eq!(f.entries.len(), DEFAULT_KEEP);
        let text = write(&f);
        assert!(text.len() < 16_000, "{} bytes after 10,000 publishes", text.len());
        let back = parse(&text).unwrap();
        assert_eq!(back, f, "what the publisher writes, workers read");
        let b = f.baseline.clone().unwrap();
        assert_eq!(b.seq, 10_000 - DEFAULT_KEEP as u64);
        // A worker that stopped long ago gets the baseline as "all before".
        let (invs, _) = plan(&f, Some(&Cursor { epoch: "e".into(), seq: 5 }), &|_| false, &ctx()).unwrap();
        assert_eq!(invs.len(), 1, "collapsed: {} entries", invs.len());
        assert!(invs[0].selector.all);
        // One that is one behind gets just the newest entry.
        let (invs, _) = plan(&f, Some(&Cursor { epoch: "e".into(), seq: 9_999 }), &|_| false, &ctx()).unwrap();
        assert_eq!(invs.len(), 1);
        assert!(!invs[0].selector.all);
    }

    /// Entries a page handed on from its live stream (the worker applied them) are not
    /// applied again by its check, and do not count towards the collapse into one pass.
    #[test]
    fn entries_applied_from_a_live_stream_are_not_applied_again_by_a_check() {
        let mut f = Feed { epoch: "e".into(), seq: 0, baseline: None, entries: vec![] };
        for i in 0..60u32 {
            add(&mut f, vec![(String::from("urls"), Value::Arr(vec![Value::Str(format!("/p/{i}"))]))], NOW - 1e4);
        }
        let at = Some(Cursor { epoch: "e".into(), seq: 0 });
        let (invs, next) = plan(&f, at.as_ref(), &|_| false, &ctx()).unwrap();
        assert!(invs.len() == 1 && !invs[0].selector.all, "60 entries not yet applied: one pass, not all");
        assert_eq!(invs[0].selector.urls.len(), 60, "naming what each names");
        assert!(invs[0].selector.urls.contains("/p/0") && invs[0].selector.urls.contains("/p/59"));
        let live = |i: &Invalidation| !i.selector.urls.contains("/p/59");
        let (invs, again) = plan(&f, at.as_ref(), &live, &ctx()).unwrap();
        assert_eq!(again, next, "the cursor moves past them all the same");
        assert_eq!(invs.len(), 1);
        assert_eq!(invs[0].selector.urls.iter().collect::<Vec<_>>(), ["/p/59"], "only the entry not applied");
    }

    #[test]
    fn checks_are_throttled_and_strict_mode_waits_when_stale() {
        assert!(due(1000.0, None, 60_000.0));
        assert!(!due(1000.0, Some(0.0), 60_000.0));
        assert!(due(61_000.0, Some(0.0), 60_000.0));
        assert!(due(0.0, Some(5000.0), 60_000.0), "a clock that went back: check");
        assert!(must_wait(0.0, None, 30_000.0));
        assert!(!must_wait(20_000.0, Some(0.0), 30_000.0));
        assert!(must_wait(40_000.0, Some(0.0), 30_000.0));
        let c = Cursor { epoch: "e".into(), seq: 7 };
        assert!(announces_news(Some(" 8"), Some(&c)));
        assert!(!announces_news(Some("7"), Some(&c)));
        assert!(!announces_news(Some("x"), Some(&c)));
        assert!(announces_news(Some("1"), None));
        assert_eq!(read_cursor(&write_cursor(&c)), Some(c));
        assert_eq!(read_cursor("garbage"), None);
        assert_eq!(announced(Some(" 12 ")), Some(12));
        assert_eq!(announced(Some("-1")), None);
        assert_eq!(announced(None), None);
    }

    #[test]
    fn an_epoch_that_keeps_changing_is_reported_once_per_window() {
        const MIN: f64 = 60_000.0;
        let mut w = EpochWatch::default();
        // (cursor's epoch, feed's epoch, minute, report)
        let steps = [
            (None, "a", 0.0, None, "the first epoch seen is no change"),
            (Some("a"), "a", 1.0, None, "same epoch"),
            (Some("a"), "b", 2.0, None, "a feed started over: once is normal"),
            (Some("b"), "a", 3.0, None, "twice in 5 minutes: still quiet"),
            (Some("a"), "b", 4.0, Some(3), "three times in 5 minutes: reported"),
            (Some("b"), "a", 4.5, None, "reported at most once per window"),
            (Some("a"), "b", 6.0, None, "still within 5 minutes of the report"),
            (Some("b"), "a", 9.0, Some(3), "a window after the report: again (changes at 4.5, 6 and 9 minutes)"),
        ];
        for (cursor, epoch, min, want, why) in steps {
            assert_eq!(w.saw(cursor, epoch, min * MIN), want, "{why}");
        }
        assert_eq!(w.total, 6);
        // Changes spread out are never reported.
        let mut slow = EpochWatch::default();
        for i in 0..20u32 {
            let (from, to) = if i % 2 == 0 { ("a", "b") } else { ("b", "a") };
            assert_eq!(slow.saw(Some(from), to, f64::from(i) * 3.0 * MIN), None, "change {i}");
        }
        // A change a second: reported once per window, counted up to the 8 kept.
        let mut fast = EpochWatch::default();
        let reports: Vec<Option<u32>> = (0..20u32).map(|i| fast.saw(Some("a"), "b", f64::from(i) * 1000.0)).collect();
        assert_eq!(reports.iter().flatten().collect::<Vec<_>>(), vec![&3], "{reports:?}");
        assert_eq!(fast.saw(Some("a"), "b", 302_000.0), Some(8), "a window after the report");
        assert_eq!(fast.saw(Some("a"), "b", 20.0 * MIN), None, "alone in a new window");
        // A clock that went back: changes "after" now do not count.
        let mut back = EpochWatch::default();
        assert_eq!(back.saw(Some("a"), "b", 10.0 * MIN), None);
        assert_eq!(back.saw(Some("b"), "a", 11.0 * MIN), None);
        assert_eq!(back.saw(Some("a"), "b", 1.0 * MIN), None, "the two later changes are not within the window");
    }
}

#[cfg(test)]
mod simulation {
    //! 100,000 simulated workers against one feed that a CMS keeps publishing to (and
    //! compacting), with random worker restarts (the cursor is reloaded from storage)
    //! and offline periods (checks fail). Every entry must reach every worker exactly
    //! once: applied on its own, or covered by the baseline that replaced it.
    use super::*;
    use crate::policy::config::tests::{resolve, ORIGIN};

    struct Worker {
        saved: Option<Cursor>,
        /// In memory; lost on restart.
        cursor: Option<Cursor>,
        loaded: bool,
        /// Highest seq this worker has covered; each check must continue from it.
        covered: u64,
        times_applied: u64,
    }

    // Two runs of 300,000 events with their own seeds, one per test thread: half the
    // wall time of one run of 600,000 (the checks are the same; a worker is checked about
    // every 2,000 publishes in both).
    #[test]
    fn a_hundred_thousand_workers_apply_each_entry_exactly_once() {
        simulate(0x2545_f491_4f6c_dd1d);
    }

    #[test]
    fn a_hundred_thousand_workers_apply_each_entry_exactly_once_again() {
        simulate(0x9e37_79b9_7f4a_7c15);
    }

    fn simulate(seed: u64) {
        const WORKERS: usize = 100_000;
        const STEPS: u64 = 300_000;
        const NAMES: [&str; 2] = ["pages", "precache"];
        let mut rng = seed;
        let mut rand = |m: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % m
        };
        let mut feed = Feed { epoch: "sim".into(), seq: 0, baseline: None, entries: vec![] };
        let mut workers: Vec<Worker> = (0..WORKERS)
            .map(|_| Worker { saved: None, cursor: None, loaded: false, covered: 0, times_applied: 0 })
            .collect();
        let (mut checks, mut offline, mut restarts, mut baselines, mut applied) = (0u64, 0u64, 0u64, 0u64, 0u64);
        let t0 = 1_795_000_000_000.0;
        // STEPS events over simulated time; a publish every ~60 events.
        for step in 0..STEPS {
            let now = t0 + step as f64 * 10.0;
            if rand(60) == 0 {
                let fields = vec![(String::from("urls"), Value::Arr(vec![Value::Str(format!("/p/{}", rand(500)))]))];
                add(&mut feed, fields, now);
                compact(&mut feed, DEFAULT_KEEP);
            }
            let w = &mut workers[rand(WORKERS as u64) as usize];
            match rand(10) {
                0 => {
                    // The browser stopped the worker: memory is gone, storage stays.
                    restarts += 1;
                    w.cursor = None;
                    w.loaded = false;
                }
                1 => offline += 1, // the check fails: nothing changes
                _ => {
                    checks += 1;
                    if !w.loaded {
                        w.cursor = w.saved.clone();
                        w.loaded = true;
                    }
                    let ctx =
                        Context { origin: ORIGIN, slot_names: &NAMES, now_ms: now, ahead_ms: 0.0, resolve: &resolve };
                    let from = w.cursor.as_ref().map_or(0, |c| c.seq);
                    assert_eq!(from, w.covered, "a restart neither replays nor skips");
                    let (invs, next) = plan(&feed, w.cursor.as_ref(), &|_| false, &ctx).expect("valid feed");
                    // What this check covers: (from, feed.seq], through the baseline for
                    // the compacted part.
                    let compacted = feed.baseline.as_ref().map_or(0, |b| b.seq);
                    let individual = feed.entries.iter().filter(|e| e.seq > from).count() as u64;
                    if from < compacted {
                        baselines += 1;
                        assert!(
                            invs.iter().any(|i| i.selector.all),
                            "entries compacted away are covered by the baseline"
                        );
                        assert_eq!(individual, feed.seq - compacted);
                    } else {
                        assert_eq!(individual, feed.seq - from, "no entry skipped");
                    }
                    assert!(invs.len() as u64 <= individual + 1);
                    applied += individual;
                    w.times_applied += individual;
                    w.covered = next.seq;
                    w.cursor = Some(next.clone());
                    w.saved = Some(next);
                }
            }
        }
        let total: u64 = workers.iter().map(|w| w.times_applied).sum();
        assert_eq!(total, applied);
        assert!(
            checks > STEPS * 2 / 3 && restarts > STEPS / 12 && offline > STEPS / 12 && baselines > 0,
            "{checks} {restarts} {offline} {baselines}"
        );
        assert!(feed.seq > STEPS / 70, "{} publishes", feed.seq);
    }
}
