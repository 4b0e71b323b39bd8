//! What passes between the engine and its executor: the commands the engine emits
//! ([`Cmd`], with the [`Answer`] to a page's request and the [`Req`] a command is about),
//! the results fed back ([`Io`]), and the facts of requests, responses and stored entries
//! that decisions need ([`Request`], [`ResponseInfo`], [`Entry`]). The worker adapter
//! (`src/sw/exec.rs`) carries them out with the browser's APIs.

use crate::policy::prelude::*;
use crate::policy::value::Value;

/// An operation's id: commands name it, and results come back with it.
pub type OpId = u32;

/// Which step of an operation a command's result answers: the adapter hands it back
/// with the result, unchanged. Steps of a fetch, install, activate or feed check are
/// plain variants; the rest carry the job, slot, listing entry or item they are about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tag {
    /// The request's own route cache.
    Match,
    /// The precached copy a navigation falls back to.
    Precache,
    /// The network (or navigation preload) response.
    Net,
    /// `networkTimeout`.
    Timer,
    /// The background fetch of staleWhileRevalidate.
    Revalidate,
    /// Cache Storage's names (activate, quota relief, removal).
    Names,
    /// The last step: skipWaiting, claim.
    Finish,
    /// Strict mode's wait for the feed.
    Strict,
    /// The engine's saved state.
    State,
    /// The feed document.
    Feed,
    /// Saving the engine's state.
    Save,
    /// The precache's keys.
    Keys,
    /// The offline page or image placeholder.
    Offline,
    /// A ranged request's cached copy.
    Range,
    /// The size of that copy's body.
    Size,
    /// Turning navigation preload on or off.
    Preload,
    /// Unregistering (the kill switch).
    Remove,
    /// Waiting to check an announced feed seq.
    News,
    /// Reading or saving the notices kept for pages that were away.
    Notices,
    /// Step `1` (keys), `2` (delete), `3` (refetch) or `4` (put again) of cache write
    /// `job`; `0` is its first put.
    Store(u32, u32),
    /// A slot's trim: `0` its listing, `1` the deletion.
    Trim(u32, u32),
    /// A slot's key listing.
    List(u32),
    /// Deleting listed entries of a slot.
    DeleteListed(u32),
    /// Reading listed entry `n` (invalidation, sweeps, GET_STATE).
    Look(u32),
    /// Deleting listed entry `n`.
    DeleteOne(u32),
    /// Step `0` or `1` of item `n` (prefetch, precache entries, cache deletions).
    Item(u32, u32),
    /// Deleting the copy of a URL the server answered 404 or 410 for, or whose refresh
    /// for a request with `Authorization` may not be kept.
    Gone,
}

impl Tag {
    /// The slot, listing entry, job or item a tag is about (0 for a plain step).
    pub fn index(self) -> u32 {
        match self {
            Tag::Store(n, _)
            | Tag::Trim(n, _)
            | Tag::List(n)
            | Tag::DeleteListed(n)
            | Tag::Look(n)
            | Tag::DeleteOne(n)
            | Tag::Item(n, _) => n,
            _ => 0,
        }
    }
}

/// Which request a command is about.
#[derive(Clone, Debug, PartialEq)]
pub enum Req {
    /// The fetch event's own request.
    Own,
    /// A same-origin path+search (prefetch, precache, invalidation by URL), read whatever
    /// its `Vary`.
    Path(String),
    /// A navigation's key: its path+search as a bare request, as a prefetch stores it, so a
    /// prefetched page (`Vary: Accept`, whose request was not the navigation's) answers
    /// it. Read with its `Vary` honoured: a `fetch()` of the URL with another `Accept`
    /// is another entry.
    Page(String),
    /// Entry `index` of the key listing that answered tag `list` of the same operation.
    Key { list: Tag, index: u32 },
}

/// What a page's request is answered with.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// The response of the cache read answered at this tag.
    Cached(Tag),
    /// The network response answered at this tag.
    Network(Tag),
    /// An error response of the engine's own (plain text).
    Error { status: u16, reason: &'static str, text: &'static str },
    /// `206`: bytes `start..=end` of the `size`-byte body of the cached response read at
    /// tag `from`, with `Content-Range`.
    Range { from: Tag, start: u64, end: u64, size: u64 },
    /// `416` with `Content-Range: bytes */size`.
    Unsatisfiable { size: u64 },
    /// No response of the engine's: the browser's own fetch of the request answers (and
    /// its failure shows as the browser's).
    Browser,
}

/// What the executor must do. `op`/`tag` come back with the result.
#[derive(Clone, Debug, PartialEq)]
pub enum Cmd {
    /// Read `req` from the slot's cache → [`Io::Matched`].
    Match {
        op: OpId,
        tag: Tag,
        slot: u32,
        req: Req,
    },
    /// Fetch `req` (`reload`: past the HTTP cache: a URL fetched anew, the event's own
    /// request revalidated with the origin) → [`Io::Fetched`]. `headers_ms`: a fetch no
    /// page waits for fails, aborted, when no response came within it
    /// ([`store::HEADERS_MS`](crate::policy::store::HEADERS_MS)).
    Fetch {
        op: OpId,
        tag: Tag,
        req: Req,
        reload: bool,
        headers_ms: Option<u32>,
    },
    /// The navigation's preload response (`event.preloadResponse`), or a fetch of the
    /// event's request if there is none → [`Io::Fetched`]. `headers_ms` as for
    /// [`Cmd::Fetch`].
    Preload {
        op: OpId,
        tag: Tag,
        headers_ms: Option<u32>,
    },
    /// Turn navigation preload on or off for the registration → [`Io::Done`].
    NavigationPreload {
        op: OpId,
        tag: Tag,
        on: bool,
    },
    /// The body size of the cached response read at `from` → [`Io::Size`].
    Size {
        op: OpId,
        tag: Tag,
        from: Tag,
    },
    /// `registration.unregister()` → [`Io::Done`].
    Unregister {
        op: OpId,
        tag: Tag,
    },
    /// Wait → [`Io::Timer`].
    Timer {
        op: OpId,
        tag: Tag,
        ms: u32,
    },
    /// Store a copy of the response fetched at tag `from` under `req`, with
    /// `sw-cache-time` set to `stamp` (none for opaque responses) → [`Io::Put`].
    Put {
        op: OpId,
        tag: Tag,
        slot: u32,
        req: Req,
        from: Tag,
        stamp: Option<f64>,
    },
    /// List the slot's cache keys → [`Io::Keys`].
    Keys {
        op: OpId,
        tag: Tag,
        slot: u32,
    },
    /// Delete entries → [`Io::Deleted`] with how many were there.
    Delete {
        op: OpId,
        tag: Tag,
        slot: u32,
        reqs: Vec<Req>,
    },
    /// Answer the page's request (`respondWith`).
    Respond {
        op: OpId,
        answer: Answer,
    },
    /// Post this JSON on the message's port.
    Reply {
        op: OpId,
        json: String,
    },
    /// List Cache Storage → [`Io::CacheNames`].
    CacheNames {
        op: OpId,
        tag: Tag,
    },
    DeleteCache {
        op: OpId,
        tag: Tag,
        name: String,
    },
    SkipWaiting {
        op: OpId,
        tag: Tag,
    },
    Claim {
        op: OpId,
        tag: Tag,
    },
    /// Give the browser's router these rules (Static Routing API, during install):
    /// a JSON array of `{pathname, cacheName}`.
    AddRoutes {
        op: OpId,
        json: String,
    },
    /// The operation failed (install: the install fails with this text).
    Fail {
        op: OpId,
        text: String,
    },
    /// Something a site owner should see in the console.
    Warn {
        text: String,
    },
    /// Read the engine's saved state under `key` → [`Io::State`].
    LoadState {
        op: OpId,
        tag: Tag,
        key: &'static str,
    },
    /// Save the engine's state under `key` → [`Io::Put`].
    SaveState {
        op: OpId,
        tag: Tag,
        key: &'static str,
        text: String,
    },
    /// Fetch the invalidation feed past every cache, conditionally on `etag`, reading at
    /// most `cap` bytes → [`Io::Feed`] or a failed [`Io::Fetched`]; aborted `ms` after it
    /// starts, body included (the check has given up then: a feed that never answers kept
    /// its connection until the browser's own timeout).
    FetchFeed {
        op: OpId,
        tag: Tag,
        path: String,
        etag: Option<String>,
        cap: u32,
        ms: u32,
    },
    /// Post this JSON to every window client.
    Broadcast {
        json: String,
    },
    /// The operation is over; release its event.
    Done {
        op: OpId,
    },
}

impl Cmd {
    /// For a command that opens a cache by name (listing, deleting in, writing to one, the
    /// saved state): its result once every `swcache-` cache is deleted. Opening one then
    /// would create it again, and what it would find is known: nothing.
    pub(super) fn in_a_deleted_cache(&self) -> Option<(OpId, Tag, Io)> {
        Some(match *self {
            Cmd::Keys { op, tag, .. } => (op, tag, Io::Keys(Some(Vec::new()))),
            Cmd::Delete { op, tag, .. } => (op, tag, Io::Deleted(0)),
            Cmd::Put { op, tag, .. } | Cmd::SaveState { op, tag, .. } => (op, tag, Io::Put(PutResult::Failed)),
            Cmd::LoadState { op, tag, .. } => (op, tag, Io::State(None)),
            _ => return None,
        })
    }
}

/// A request as the fetch event shows it.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub get: bool,
    /// `Request.url`: absolute, normalised by the browser.
    pub href: &'a str,
    pub navigate: bool,
    /// `Request.cache`.
    pub cache: &'a str,
    /// The `Range` header.
    pub range: Option<&'a str>,
    /// `Request.destination` is `image`.
    pub image: bool,
    /// `Request.mode` is `no-cors`: only such a request may be answered with an opaque
    /// copy (the browser turns one given to any other request into a network error).
    pub no_cors: bool,
    /// The `Accept` header.
    pub accept: Option<&'a str>,
    /// `If-None-Match` or `If-Modified-Since` is set: a 304 answers the page's own
    /// validators (else it says the cached copy is still good).
    pub conditional: bool,
    /// An `Authorization` header is set.
    pub authorized: bool,
    /// `navigator.onLine` is false: the device says it has no network.
    pub offline: bool,
}

/// A stored entry, as far as decisions go.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Entry {
    /// `sw-cache-time` in epoch ms, if present and readable.
    pub stamp_ms: Option<f64>,
    /// `Cache-Tag` header.
    pub tags: Option<String>,
    /// `ETag`, else `Last-Modified`, else `Content-Length`: tells two versions apart
    /// without reading bodies.
    pub validator: Option<String>,
    /// `Content-Length`, when the stored copy says.
    pub size: Option<u64>,
    /// The stored copy is an opaque (cross-origin, no-cors) response.
    pub opaque: bool,
}

/// A network response, as far as decisions go.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResponseInfo {
    pub status: u16,
    pub opaque: bool,
    pub redirected: bool,
    pub cache_control: Option<String>,
    pub vary: Option<String>,
    pub tags: Option<String>,
    /// The `swcache-feed-seq` header: the feed's newest seq, announced by the origin.
    pub feed_seq: Option<String>,
    /// As [`Entry::validator`].
    pub validator: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutResult {
    Ok,
    /// `QuotaExceededError`.
    Quota,
    Failed,
}

/// The result of a command.
#[derive(Clone, Debug, PartialEq)]
pub enum Io {
    Matched(Option<Entry>),
    /// The read failed (`match` rejected): a miss to every operation but an
    /// invalidation, which must not take it for an entry that is not there.
    Unread,
    /// `Err`: the fetch rejected (offline, reset…), with the browser's text.
    Fetched(Result<ResponseInfo, String>),
    Timer,
    Put(PutResult),
    /// Absolute URLs of the cache's keys, in `Cache.keys()` order (`None`: the cache could
    /// not be opened or listed).
    Keys(Option<Vec<String>>),
    Deleted(u32),
    CacheNames(Vec<String>),
    /// SkipWaiting, Claim, DeleteCache finished.
    Done,
    /// The saved state, if any (read as JSON).
    State(Option<Value>),
    /// The feed answered: status, its `ETag`, `Date` (epoch ms, as the browser's
    /// `Date.parse` reads it) and `Age`, and the body (200 only).
    Feed {
        status: u16,
        etag: Option<String>,
        date: Option<f64>,
        age: Option<String>,
        body: Option<Json>,
    },
    /// A body's size in bytes (`None`: it could not be read).
    Size(Option<u64>),
}

/// A JSON document the executor read: its size in UTF-8 bytes and its value (`None`: not
/// JSON, or not parsed because it is over the size the engine takes). The worker parses
/// with the browser's `JSON.parse` and reads the result as it reads configs
/// (`src/js_value.rs`), so no JSON reader is compiled into it; native code and the
/// simulated executor use [`Json::read`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Json {
    pub bytes: usize,
    pub value: Option<Value>,
}

impl Json {
    /// `text` read with serde_json (native code and the simulated executor).
    #[cfg(any(not(target_arch = "wasm32"), target_os = "wasi"))]
    pub fn read(text: &str) -> Json {
        Json { bytes: text.len(), value: crate::policy::text::read_json(text) }
    }
}
