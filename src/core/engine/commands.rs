//! What passes between the engine and its executor: the commands the engine emits
//! ([`Cmd`], with the [`Answer`] to a page's request and the [`Req`] a command is about),
//! the results fed back ([`Io`]), and the facts of requests, responses and stored entries
//! that decisions need ([`Request`], [`ResponseInfo`], [`Entry`]). The worker adapter
//! (`src/sw/exec.rs`) carries them out with the browser's APIs.

use crate::core::prelude::*;

/// An operation's id: commands name it, and results come back with it.
pub type OpId = u32;

/// Which request a command is about.
#[derive(Clone, Debug, PartialEq)]
pub enum Req {
    /// The fetch event's own request.
    Own,
    /// A same-origin path+search (prefetch, precache, invalidation by URL).
    Path(String),
    /// Entry `index` of the key listing that answered tag `list` of the same operation.
    Key { list: u32, index: u32 },
}

/// What a page's request is answered with.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// The response of the cache read answered at this tag.
    Cached(u32),
    /// The network response answered at this tag.
    Network(u32),
    /// An error response of the engine's own (plain text).
    Error { status: u16, reason: &'static str, text: &'static str },
    /// `206`: bytes `start..=end` of the `size`-byte body of the cached response read at
    /// tag `from`, with `Content-Range`.
    Range { from: u32, start: u64, end: u64, size: u64 },
    /// `416` with `Content-Range: bytes */size`.
    Unsatisfiable { size: u64 },
}

/// What the executor must do. `op`/`tag` come back with the result.
#[derive(Clone, Debug, PartialEq)]
pub enum Cmd {
    /// Read `req` from the slot's cache → [`Io::Matched`].
    Match {
        op: OpId,
        tag: u32,
        slot: u32,
        req: Req,
    },
    /// Fetch `req` (`reload`: past the HTTP cache) → [`Io::Fetched`].
    Fetch {
        op: OpId,
        tag: u32,
        req: Req,
        reload: bool,
    },
    /// The navigation's preload response (`event.preloadResponse`), or a fetch of the
    /// event's request if there is none → [`Io::Fetched`].
    Preload {
        op: OpId,
        tag: u32,
    },
    /// Turn navigation preload on or off for the registration → [`Io::Done`].
    NavigationPreload {
        op: OpId,
        tag: u32,
        on: bool,
    },
    /// The body size of the cached response read at `from` → [`Io::Size`].
    Size {
        op: OpId,
        tag: u32,
        from: u32,
    },
    /// `registration.unregister()` → [`Io::Done`].
    Unregister {
        op: OpId,
        tag: u32,
    },
    /// Wait → [`Io::Timer`].
    Timer {
        op: OpId,
        tag: u32,
        ms: u32,
    },
    /// Store a copy of the response fetched at tag `from` under `req`, with
    /// `sw-cache-time` set to `stamp` (none for opaque responses) → [`Io::Put`].
    Put {
        op: OpId,
        tag: u32,
        slot: u32,
        req: Req,
        from: u32,
        stamp: Option<f64>,
    },
    /// List the slot's cache keys → [`Io::Keys`].
    Keys {
        op: OpId,
        tag: u32,
        slot: u32,
    },
    /// Delete entries → [`Io::Deleted`] with how many were there.
    Delete {
        op: OpId,
        tag: u32,
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
        tag: u32,
    },
    DeleteCache {
        op: OpId,
        tag: u32,
        name: String,
    },
    SkipWaiting {
        op: OpId,
        tag: u32,
    },
    Claim {
        op: OpId,
        tag: u32,
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
    /// Read the engine's saved state → [`Io::Text`].
    LoadState {
        op: OpId,
        tag: u32,
    },
    /// Save the engine's state → [`Io::Put`].
    SaveState {
        op: OpId,
        tag: u32,
        text: String,
    },
    /// Fetch the invalidation feed past every cache, conditionally on `etag`, reading at
    /// most `cap` bytes → [`Io::Feed`] or a failed [`Io::Fetched`].
    FetchFeed {
        op: OpId,
        tag: u32,
        path: String,
        etag: Option<String>,
        cap: u32,
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
    /// `Err`: the fetch rejected (offline, reset…), with the browser's text.
    Fetched(Result<ResponseInfo, String>),
    Timer,
    Put(PutResult),
    /// Absolute URLs of the cache's keys, in `Cache.keys()` order.
    Keys(Vec<String>),
    Deleted(u32),
    CacheNames(Vec<String>),
    /// SkipWaiting, Claim, DeleteCache finished.
    Done,
    /// The saved state, if any.
    Text(Option<String>),
    /// The feed answered: status, its `ETag`, and the body (200 only).
    Feed {
        status: u16,
        etag: Option<String>,
        text: Option<String>,
    },
    /// A body's size in bytes (`None`: it could not be read).
    Size(Option<u64>),
}
