//! The feed service's HTTP side (axum):
//!
//! | route | what |
//! |---|---|
//! | `POST /v1/entries` | publish one entry (bearer token); `201 {seq, timestamp}` once durable |
//! | `GET <feed path>` | the feed document (strong ETag, 304, gzip, `Cache-Control` from the flags) |
//! | `GET /v1/events` | Server-Sent Events: one event per entry, `Last-Event-ID` (or `?lastEventId=`) resume, `reset` |
//! | `GET /v1/seq` | `{epoch, seq}` (and the `swcache-feed-seq` header) for a site's own server |
//! | `GET /healthz` | 200 while the store answers, else 503 with the reason (`unavailable`, `invalid`, `misconfigured`) |
//! | `GET /metrics` | Prometheus text format |
//!
//! Every error is a JSON body `{"error": "…"}` with a 4xx/5xx status, and nothing changed.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures_util::Stream;
use serde_json::json;
use subtle::ConstantTimeEq;
use tokio::sync::{broadcast, watch};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::policy::feed;
use crate::policy::time;

use super::hub::{Event, Hub};
use super::metrics::Metrics;
use super::store::{check_idempotency_key, Store, StoreError};
use super::store_api::now_ms;

/// A `serde_json` value as the core's plain value model.
pub fn core_value(v: &serde_json::Value) -> crate::policy::value::Value {
    use crate::policy::value::Value;
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => Value::Num(n.as_f64().unwrap_or(f64::NAN)),
        serde_json::Value::String(s) => Value::Str(s.clone()),
        serde_json::Value::Array(items) => Value::Arr(items.iter().map(core_value).collect()),
        serde_json::Value::Object(props) => Value::Obj(props.iter().map(|(k, v)| (k.clone(), core_value(v))).collect()),
    }
}

/// A publish body larger than this is refused (413).
pub const MAX_BODY: usize = 256 * 1024;
/// A publish whose body has not arrived within this is refused (408).
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// A publish the store has not made durable within this is answered 503.
pub const STORE_TIMEOUT: Duration = Duration::from_secs(10);

/// How `swcache-feed serve` was asked to run.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub store: String,
    pub listen: SocketAddr,
    /// `None`: no token (only on loopback, with `--insecure-no-token`).
    pub token_file: Option<PathBuf>,
    pub cors_origins: Vec<String>,
    pub feed_path: String,
    pub cache_control: String,
    pub keep: usize,
    pub namespace: String,
    pub heartbeat: Duration,
}

/// The publish tokens, read again when the file changes (rotation without a restart).
struct Tokens {
    file: Option<PathBuf>,
    /// What the tokens were read from (see [`TokenStamp`]), and the tokens.
    loaded: Mutex<(Option<TokenStamp>, Vec<String>)>,
}

/// A token file's modification time and length. A file changed within the last
/// [`RACY_MS`] may still be being written in place (two writes can share one coarse
/// mtime): its tokens are used but its stamp is not kept, so it is read again until it
/// settles.
#[derive(Clone, Copy, Debug, PartialEq)]
struct TokenStamp(SystemTime, u64);

/// How recent a token file's change is for its reading to be trusted only once.
const RACY_MS: u128 = 2000;

fn token_stamp(file: &std::path::Path) -> Option<TokenStamp> {
    let m = std::fs::metadata(file).ok()?;
    Some(TokenStamp(m.modified().ok()?, m.len()))
}

pub use super::store_api::read_tokens;

impl Tokens {
    /// Whether the request's bearer token is one of the tokens (compared in constant time).
    fn check(&self, headers: &HeaderMap) -> Result<(), &'static str> {
        let Some(file) = &self.file else { return Ok(()) };
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .and_then(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer").then_some(token))
            .map(str::trim)
            .ok_or("missing bearer token (Authorization: Bearer <token>)")?;
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        let stamp = token_stamp(file);
        if stamp.is_none() || stamp != loaded.0 {
            let settled = stamp.filter(|s| s.0.elapsed().is_ok_and(|age| age.as_millis() >= RACY_MS));
            match read_tokens(file) {
                Ok(t) => *loaded = (settled, t),
                Err(e) => {
                    // No previous token stays: a file emptied or removed to revoke a
                    // leaked token must revoke it. (Read again at the next publish.)
                    *loaded = (None, vec![]);
                    tracing::error!(error = %e, "the token file could not be read again; every publish is refused until it can");
                }
            }
        }
        let mut ok = subtle::Choice::from(0);
        for t in &loaded.1 {
            ok |= t.as_bytes().ct_eq(given.as_bytes());
        }
        if bool::from(ok) {
            Ok(())
        } else {
            Err("wrong token")
        }
    }
}

struct App {
    hub: Arc<Hub>,
    cfg: ServeConfig,
    tokens: Tokens,
    stop: watch::Receiver<bool>,
}

fn error(status: StatusCode, text: impl Into<String>) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store")], axum::Json(json!({ "error": text.into() }))).into_response()
}

/// 503 with the store's reason; `Retry-After` only for an outage (an invalid feed or a
/// refused password lasts until someone fixes it).
fn store_error(e: &StoreError) -> Response {
    let mut r = error(StatusCode::SERVICE_UNAVAILABLE, e.to_string());
    if let StoreError::Unavailable(_) = e {
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    r
}

/// The service's routes, for a hub that follows its store.
pub fn router(hub: Arc<Hub>, cfg: ServeConfig, stop: watch::Receiver<bool>) -> Router {
    let tokens = Tokens { file: cfg.token_file.clone(), loaded: Mutex::new((None, vec![])) };
    let app = Arc::new(App { hub, cfg: cfg.clone(), tokens, stop });
    let not_allowed = |method: Method| async move {
        error(StatusCode::METHOD_NOT_ALLOWED, format!("{method} is not allowed here (see the README's endpoints)"))
    };
    // (Given before the CORS layer: one given after replaces the layered fallback, and a
    // preflight `OPTIONS` would be answered 405 without the CORS headers.)
    let reads = Router::new()
        .route(&cfg.feed_path, get(feed_document))
        .route("/v1/events", get(events))
        .route("/v1/seq", get(seq))
        .method_not_allowed_fallback(not_allowed);
    let reads = if cfg.cors_origins.is_empty() {
        reads
    } else {
        let origins: Vec<HeaderValue> = cfg.cors_origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
        reads.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([Method::GET])
                .allow_headers([
                    header::IF_NONE_MATCH,
                    header::CACHE_CONTROL,
                    header::HeaderName::from_static("last-event-id"),
                ])
                .expose_headers([header::ETAG, header::HeaderName::from_static("swcache-feed-seq")]),
        )
    };
    Router::new()
        .route("/v1/entries", post(publish))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .method_not_allowed_fallback(not_allowed)
        .merge(reads)
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such endpoint") })
        .with_state(app)
}

async fn publish(State(app): State<Arc<App>>, req: Request) -> Response {
    let started = Instant::now();
    let m = &app.hub.metrics;
    // A browser always sends `Origin` on a POST; a CMS's server does not. Refused even
    // with `--insecure-no-token`, where a page could otherwise publish with a simple
    // (unpreflighted) request.
    if req.headers().contains_key(header::ORIGIN) {
        m.refuse("auth");
        tracing::warn!("publish refused: it came from a browser (an Origin header)");
        return error(StatusCode::FORBIDDEN, "publishing from a browser is refused: publish from the CMS's server");
    }
    if let Err(why) = app.tokens.check(req.headers()) {
        m.refuse("auth");
        tracing::warn!(why, "publish refused: not authorized");
        let mut r = error(StatusCode::UNAUTHORIZED, why);
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return r;
    }
    let key = match req.headers().get("idempotency-key").map(|v| v.to_str().map(String::from)) {
        None => None,
        Some(Ok(k)) => match check_idempotency_key(&k) {
            Ok(()) => Some(k),
            Err(e) => return refused(m, "invalid", StatusCode::BAD_REQUEST, e),
        },
        Some(Err(_)) => {
            return refused(m, "invalid", StatusCode::BAD_REQUEST, "the Idempotency-Key must be visible ASCII".into())
        }
    };
    let body = match tokio::time::timeout(BODY_TIMEOUT, read_body(req.into_body())).await {
        Err(_) => {
            let why = format!("the body did not arrive within {} s", BODY_TIMEOUT.as_secs());
            return refused(m, "timeout", StatusCode::REQUEST_TIMEOUT, why);
        }
        Ok(Err(_)) => {
            let why = format!("the body is larger than {MAX_BODY} bytes (or broken)");
            return refused(m, "too_large", StatusCode::PAYLOAD_TOO_LARGE, why);
        }
        Ok(Ok(b)) => b,
    };
    let value: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return refused(m, "invalid", StatusCode::BAD_REQUEST, format!("the body is not JSON: {e}")),
    };
    let (fields, at_ms) = match feed::publish_request(&core_value(&value), now_ms()) {
        Ok(r) => r,
        Err(e) => return refused(m, "invalid", StatusCode::BAD_REQUEST, e),
    };
    let what: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
    let what = what.join(",");
    let done = match tokio::time::timeout(STORE_TIMEOUT, app.hub.store.publish(fields, at_ms, key.as_deref())).await {
        Err(_) => Err(StoreError::Unavailable(format!(
            "no answer within {} s: the entry may or may not be published; retry with the same Idempotency-Key",
            STORE_TIMEOUT.as_secs()
        ))),
        Ok(r) => r,
    };
    match done {
        Err(StoreError::KeyReused(why)) => refused(m, "invalid", StatusCode::UNPROCESSABLE_ENTITY, why),
        Err(e) => {
            m.refuse("store");
            tracing::error!(error = %e, "publish failed");
            store_error(&e)
        }
        Ok(p) => {
            let secs = started.elapsed().as_secs_f64();
            // Read-your-writes: the feed this instance serves shows the entry before the
            // publisher hears it is done.
            app.hub.refresh_to_entry(p.seq, p.at_ms).await;
            if !p.replayed {
                m.published.inc();
                m.publish_seconds.observe(secs);
            }
            tracing::info!(seq = p.seq, selectors = %what, replayed = p.replayed, ms = secs * 1000.0, "published");
            let mut body = json!({ "seq": p.seq, "timestamp": time::iso_string(p.at_ms) });
            if p.replayed {
                body["replayed"] = json!(true);
            }
            let status = if p.replayed { StatusCode::OK } else { StatusCode::CREATED };
            (status, [(header::CACHE_CONTROL, "no-store")], axum::Json(body)).into_response()
        }
    }
}

/// A publish refused for what it sent: counted, answered, and logged with why (clipped,
/// and escaped: a URL's line break cannot start a log line of its own).
fn refused(m: &Metrics, reason: &'static str, status: StatusCode, why: String) -> Response {
    m.refuse(reason);
    let clipped: String = why.chars().take(300).collect();
    tracing::warn!(status = status.as_u16(), why = clipped.as_str(), "publish refused");
    error(status, why)
}

/// A body beyond `MAX_BODY` is read on (and dropped) up to this many bytes, so the
/// client gets the 413 rather than a connection closed while it is still sending.
const DRAIN_LIMIT: usize = 16 * MAX_BODY;

/// The request body, or `Err` when it is larger than `MAX_BODY` or broken.
async fn read_body(body: Body) -> Result<Vec<u8>, ()> {
    use futures_util::StreamExt;
    let mut data = body.into_data_stream();
    let mut out = Vec::new();
    let mut seen = 0usize;
    while let Some(chunk) = data.next().await {
        let chunk = chunk.map_err(|_| ())?;
        seen += chunk.len();
        if seen <= MAX_BODY {
            out.extend_from_slice(&chunk);
        } else if seen > DRAIN_LIMIT {
            break;
        }
    }
    if seen > MAX_BODY {
        Err(())
    } else {
        Ok(out)
    }
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |part| {
            let mut it = part.split(';');
            let name = it.next().unwrap_or("").trim();
            let zero = it.any(|p| p.trim().strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()) == Some(0.0));
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !zero
        },
    )
}

async fn feed_document(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let m = &app.hub.metrics;
    let Some(cur) = app.hub.current() else {
        return match app.hub.health() {
            Ok(()) => {
                m.feed_request("404");
                error(StatusCode::NOT_FOUND, "no feed yet: publish an entry, or run swcache-feed init")
            }
            Err((_, e)) => {
                m.feed_request("503");
                // `e` says what is wrong with the store (unavailable, an invalid feed, a
                // refused password).
                error(StatusCode::SERVICE_UNAVAILABLE, e)
            }
        };
    };
    let gzip = accepts_gzip(&headers);
    let etag = if gzip { &cur.etag_gzip } else { &cur.etag };
    let mut h = HeaderMap::new();
    h.insert(header::ETAG, HeaderValue::from_str(etag).unwrap_or(HeaderValue::from_static("\"\"")));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_str(&app.cfg.cache_control).unwrap_or(HeaderValue::from_static("no-cache")),
    );
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    h.insert("swcache-feed-seq", HeaderValue::from(cur.feed.seq));
    let matched = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .find(|t| *t == "*" || *t == cur.etag || *t == cur.etag_gzip)
        .map(|t| if t == cur.etag || t == cur.etag_gzip { t.to_string() } else { etag.clone() });
    if let Some(tag) = matched {
        m.feed_request("304");
        // The tag of the representation the client holds (it may hold the other one).
        if let Ok(v) = HeaderValue::from_str(&tag) {
            h.insert(header::ETAG, v);
        }
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    m.feed_request("200");
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let body = if gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        cur.gzip.clone()
    } else {
        cur.body.clone()
    };
    (StatusCode::OK, h, Body::from(body)).into_response()
}

async fn seq(State(app): State<Arc<App>>) -> Response {
    let Some(cur) = app.hub.current() else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "the feed was not read yet");
    };
    let mut r = axum::Json(json!({ "epoch": cur.feed.epoch, "seq": cur.feed.seq })).into_response();
    r.headers_mut().insert("swcache-feed-seq", HeaderValue::from(cur.feed.seq));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

async fn healthz(State(app): State<Arc<App>>) -> Response {
    let seq = app.hub.current().map(|c| c.feed.seq);
    match app.hub.health() {
        Ok(()) => axum::Json(json!({ "status": "ok", "store": app.hub.store.describe(), "seq": seq, "clients": app.hub.metrics.sse_clients.get() }))
            .into_response(),
        Err((status, e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({ "status": status, "store": app.hub.store.describe(), "error": e, "seq": seq })),
        )
            .into_response(),
    }
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    // (prometheus-client writes the OpenMetrics text format: `# EOF`, counters without
    // `_total` in their TYPE lines, which a strict 0.0.4 parser reads as untyped.)
    let kind = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    ([(header::CONTENT_TYPE, kind)], app.hub.metrics.render()).into_response()
}

/// `Last-Event-ID`: a seq (digits, at most 9e15), or an error to answer with.
pub fn parse_last_event_id(v: Option<&HeaderValue>) -> Result<Option<LastEventId>, String> {
    let Some(v) = v else { return Ok(None) };
    let bad = |s: &str| {
        format!(
            "Last-Event-ID (or ?lastEventId=) must be an id this service sent (<seq>.<epoch>, or a seq of at most 16 digits), got '{}'",
            s.chars().take(40).collect::<String>()
        )
    };
    let s = v.to_str().map_err(|_| bad("(not text)"))?.trim();
    if s.is_empty() {
        return Ok(None);
    }
    // A bare seq (ids before the epoch was added) is read as the current epoch's.
    let (digits, epoch) = match s.split_once('.') {
        Some((d, e)) => (d, Some(e)),
        None => (s, None),
    };
    // (Empty: a feed without an epoch, whose ids are `<seq>.`.)
    let epoch_ok = |e: &str| e.len() <= 256 && super::hub::is_tag_text(e);
    if digits.is_empty()
        || digits.len() > 16
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || !epoch.is_none_or(epoch_ok)
    {
        return Err(bad(s));
    }
    let seq = digits.parse::<u64>().map_err(|_| bad(s))?;
    Ok(Some(LastEventId { seq, epoch: epoch.map(String::from) }))
}

/// A client's `Last-Event-ID`: the seq it saw, and the epoch of its feed when it says.
#[derive(Debug, PartialEq)]
pub struct LastEventId {
    pub seq: u64,
    pub epoch: Option<String>,
}

/// Counts a live client while its stream lives.
struct Connected(Arc<Metrics>);

impl Drop for Connected {
    fn drop(&mut self) {
        self.0.sse_clients.dec();
    }
}

struct Live {
    backlog: VecDeque<Event>,
    rx: broadcast::Receiver<Arc<Event>>,
    last: u64,
    stop: watch::Receiver<bool>,
    /// The first event is still to send: how soon to reconnect, and to a new stream (no
    /// `Last-Event-ID`) the id of where it starts (`position`).
    first: Option<Option<String>>,
    guard: Connected,
}

fn sse_event(ev: &Event) -> SseEvent {
    match ev {
        Event::Entry { json, .. } => SseEvent::default().id(ev.id()).data(&**json),
        Event::Reset { json, .. } => SseEvent::default().event("reset").id(ev.id()).data(&**json),
    }
}

/// `GET /v1/events`' query: where a new stream resumes (an `EventSource` cannot send a
/// header, so a page opening one where another page's stream left off names it here).
#[derive(serde::Deserialize)]
struct EventsQuery {
    #[serde(rename = "lastEventId")]
    last_event_id: Option<String>,
}

async fn events(State(app): State<Arc<App>>, Query(query): Query<EventsQuery>, headers: HeaderMap) -> Response {
    // The browser's own reconnect sends the header (the id it read last), which wins.
    let from_query = query.last_event_id.map(|q| HeaderValue::from_str(&q).unwrap_or(HeaderValue::from_static("?")));
    let last_event = match parse_last_event_id(headers.get("last-event-id").or(from_query.as_ref())) {
        Ok(v) => v,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let last_id = last_event.as_ref().map(|l| l.seq);
    if *app.stop.borrow() {
        // Not an error status: an EventSource gives up for good on one. An empty stream
        // makes the browser reconnect (to another instance) with the same Last-Event-ID.
        return come_back();
    }
    // Subscribe first, then read the feed: the hub updates the feed before it sends, so
    // every entry is in one or the other (duplicates are skipped by seq).
    let rx = app.hub.subscribe();
    // An instance that has not read its store yet, or has not yet read the entries a
    // client saw elsewhere, reads it now: a client is never moved past what it missed.
    let other_epoch = |c: &super::hub::Current| {
        last_event.as_ref().and_then(|l| l.epoch.as_deref()).is_some_and(|e| e != super::hub::epoch_tag(&c.feed.epoch))
    };
    let behind = |cur: Option<Arc<super::hub::Current>>| match (cur, last_id) {
        (None, _) => true,
        (Some(c), Some(l)) => c.feed.seq < l || other_epoch(&c),
        (Some(_), None) => false,
    };
    if behind(app.hub.current()) {
        match last_id {
            Some(l) => app.hub.refresh_to(l, last_event.as_ref().and_then(|l| l.epoch.as_deref())).await,
            None => app.hub.refresh().await,
        }
    }
    let current = app.hub.current();
    if behind(current.clone()) && app.hub.health().is_err() {
        // The store cannot be read: the client keeps its place (or, new, finds one) and
        // tries again. A new client's stream started from nothing would miss what other
        // instances publish meanwhile, and one that saw more than this instance last read
        // would be sent a reset. (A store that holds no feed yet is read: its first
        // entries are all news to the client, one with a `Last-Event-ID` of a feed the
        // store lost too, rather than sent back to read the store again every second.)
        return come_back();
    }
    // A new stream is told where it starts, so the page holding it can hand it over from
    // there even before an entry comes (the next page's stream resumes with that id).
    let position = match (&current, &last_event) {
        (Some(cur), None) => Some(super::hub::event_id(cur.feed.seq, &super::hub::epoch_tag(&cur.feed.epoch))),
        _ => None,
    };
    let (seq, backlog) = match current {
        None => (0, VecDeque::new()),
        Some(cur) => {
            // A seq of another epoch (the feed started over) counts for nothing in this one.
            let from_seq = if other_epoch(&cur) { Some(0) } else { last_id };
            let mut backlog: VecDeque<Event> =
                from_seq.map(|l| super::hub::since(&cur.feed, l)).unwrap_or_default().into();
            if backlog.is_empty() && from_seq.is_some_and(|l| l < cur.feed.seq) {
                backlog.push_back(Event::reset(&cur.feed));
            }
            (cur.feed.seq, backlog)
        }
    };
    let m = app.hub.metrics.clone();
    m.sse_clients.inc();
    let state = Live { backlog, rx, last: seq, stop: app.stop.clone(), first: Some(position), guard: Connected(m) };
    let heartbeat = app.cfg.heartbeat;
    let mut r =
        Sse::new(live_stream(state)).keep_alive(KeepAlive::new().interval(heartbeat).text("heartbeat")).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut().insert("x-accel-buffering", HeaderValue::from_static("no"));
    r
}

/// A stream that only says when to reconnect, then ends: the browser comes back with
/// the same `Last-Event-ID`.
fn come_back() -> Response {
    let once = futures_util::stream::once(async {
        Ok::<_, std::convert::Infallible>(SseEvent::default().retry(Duration::from_millis(1000)))
    });
    let mut r = Sse::new(once).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn live_stream(state: Live) -> impl Stream<Item = Result<SseEvent, std::convert::Infallible>> {
    futures_util::stream::unfold(state, |mut s| async move {
        if let Some(position) = s.first.take() {
            let retry = SseEvent::default().retry(Duration::from_millis(1000));
            // (A named event: a page's `onmessage`, and so an older page module, ignores it.)
            let ev = match position {
                Some(id) => retry.event("position").id(id).data("{}"),
                None => retry,
            };
            return Some((Ok(ev), s));
        }
        if let Some(ev) = s.backlog.pop_front() {
            s.guard.0.sse_sent.inc();
            return Some((Ok(sse_event(&ev)), s));
        }
        loop {
            let next = tokio::select! {
                r = s.rx.recv() => r,
                _ = s.stop.wait_for(|v| *v) => return None,
            };
            match next {
                Ok(ev) => {
                    if matches!(*ev, Event::Entry { seq, .. } if seq <= s.last) {
                        continue;
                    }
                    s.last = ev.seq();
                    s.guard.0.sse_sent.inc();
                    return Some((Ok(sse_event(&ev)), s));
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    s.guard.0.sse_dropped.inc();
                    tracing::warn!(behind = n, "a live client fell behind and is dropped (it reconnects and resumes)");
                    return None;
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
}

/// Pending connections the listening socket queues: enough for thousands of live clients
/// reconnecting at once (after a restart or a network blip) without overflowing.
const LISTEN_BACKLOG: u32 = 4096;

/// A listening socket with [`LISTEN_BACKLOG`] (tokio's `bind` gives 128).
fn listen(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// A connection whose peer takes nothing written to it for this many heartbeats is cut off.
const STALL_HEARTBEATS: u32 = 2;

/// Has the kernel close a connection whose peer took none of what was written to it for
/// `stall` (`TCP_USER_TIMEOUT`: a reader that stopped reading, a peer gone without a
/// word). A stalled live client is otherwise kept for good: its stream is not polled while
/// its socket is full, so it never finds it fell behind, and a graceful stop waits for it
/// forever. Its page resumes with `Last-Event-ID` when it reads again.
#[cfg(target_os = "linux")]
fn cut_off_when_stalled(tcp: &tokio::net::TcpStream, stall: Duration) {
    if let Err(e) = socket2::SockRef::from(tcp).set_tcp_user_timeout(Some(stall)) {
        tracing::warn!(error = %e, "TCP_USER_TIMEOUT could not be set: a client that stops reading is kept");
    }
}

#[cfg(not(target_os = "linux"))]
fn cut_off_when_stalled(_: &tokio::net::TcpStream, _: Duration) {}

/// Says at start that other users can read the token file (mode o+r) or write it (o+w,
/// adding a token of their own): each of them could publish, `all` included. Not
/// refused: containers often run with odd modes.
fn warn_if_open(file: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(mode) = std::fs::metadata(file).map(|m| m.permissions().mode() & 0o777) else { return };
    let what = match (mode & 0o004 != 0, mode & 0o002 != 0) {
        (true, true) => "readable and writable",
        (true, false) => "readable",
        (false, true) => "writable",
        (false, false) => return,
    };
    tracing::warn!(
        mode = %format!("{mode:o}"),
        "the token file {} is {what} by every user on this machine, who could publish (all included): chmod 600 {0}",
        file.display()
    );
}

/// Raises the soft limit on open files to the hard one. Each live client holds a socket,
/// and the soft limit a service is usually started with (1024 under systemd) would have it
/// stop accepting at about a thousand clients, and its file store fail to open the feed.
fn raise_open_files() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current == limit.maximum {
        return;
    }
    let text = |n: Option<u64>| n.map_or_else(|| "unlimited".into(), |n| n.to_string());
    let (from, to) = (text(limit.current), text(limit.maximum));
    match setrlimit(Resource::Nofile, Rlimit { current: limit.maximum, maximum: limit.maximum }) {
        Ok(()) => tracing::info!(%from, %to, "open files limit raised (one per live client)"),
        Err(e) => tracing::warn!(
            limit = %from, error = %e,
            "the open files limit could not be raised: about that many live clients fit (LimitNOFILE= under systemd)"
        ),
    }
}

/// How long a stop waits for connections to finish: publishes in flight take at most
/// [`BODY_TIMEOUT`] and [`STORE_TIMEOUT`], live streams end at once.
const GRACE: Duration = Duration::from_secs(30);

/// Runs the service until SIGTERM or SIGINT: in-flight publishes finish, live clients are
/// closed (they reconnect elsewhere and resume).
pub async fn serve(cfg: ServeConfig) -> Result<(), String> {
    if let Some(f) = &cfg.token_file {
        read_tokens(f)?;
        warn_if_open(f);
    }
    raise_open_files();
    let store = Store::open(&cfg.store, cfg.keep, &cfg.namespace).await.map_err(|e| e.to_string())?;
    if let Store::File(f) = &store {
        // (A missing directory reads as a feed not published yet: the service would answer
        // /healthz 200 and every publish 503, as if it were an outage.)
        let dir = f.path().parent().unwrap_or_else(|| std::path::Path::new("/"));
        match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(format!(
                    "{}: not a directory, so the feed {} cannot be written",
                    dir.display(),
                    f.path().display()
                ))
            }
            Err(e) => {
                return Err(format!(
                    "{}: {}, so the feed {} cannot be written (make the directory, or fix --store)",
                    dir.display(),
                    crate::native::io_text(&e),
                    f.path().display()
                ))
            }
        }
    }
    if let Store::Redis(r) = &store {
        match r.durability().await.map_err(|e| e.to_string())? {
            Some((ao, fsync)) if ao == "yes" && fsync == "always" => {
                tracing::info!("redis persistence: appendonly yes, appendfsync always (an acknowledged entry survives a crash)");
            }
            Some((ao, fsync)) => tracing::warn!(
                appendonly = %ao, appendfsync = %fsync,
                "redis persistence is weaker than the service asks for (appendonly yes, appendfsync always): acknowledged entries can be lost if Redis crashes"
            ),
            None => tracing::warn!("redis did not say how it persists (CONFIG GET refused or Redis down); the service asks for appendonly yes, appendfsync always"),
        }
    }
    let hub = Hub::new(Arc::new(store), Arc::new(Metrics::new()));
    let (stop_tx, stop_rx) = watch::channel(false);
    let listener = listen(cfg.listen).map_err(|e| format!("cannot listen on {}: {e}", cfg.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(
        listen = %addr, store = %hub.store.describe(), feed = %cfg.feed_path, auth = cfg.token_file.is_some(),
        "swcache-feed serve: publish at POST /v1/entries, live at GET /v1/events"
    );
    let stall = cfg.heartbeat * STALL_HEARTBEATS;
    let listener = axum::serve::ListenerExt::tap_io(listener, move |tcp| cut_off_when_stalled(tcp, stall));
    tokio::spawn(hub.clone().run(stop_rx.clone()));
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
        tracing::info!("stopping: finishing publishes in flight, closing live clients");
        let _ = stop_tx.send(true);
    });
    let app = router(hub, cfg, stop_rx.clone());
    let (mut stop, mut stopping) = (stop_rx.clone(), stop_rx);
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        let _ = stop.wait_for(|v| *v).await;
    });
    // A graceful stop waits for every connection, one whose request never ends (a client
    // gone mid-headers: no header timeout applies) included: past GRACE it stops anyway,
    // well within systemd's 90 s before SIGKILL.
    tokio::select! {
        r = std::future::IntoFuture::into_future(server) => r.map_err(|e| e.to_string())?,
        () = async move {
            let _ = stopping.wait_for(|v| *v).await;
            tokio::time::sleep(GRACE).await;
        } => tracing::warn!(
            "connections still open {} s after the stop signal are closed (a client that never finished its request)",
            GRACE.as_secs()
        ),
    }
    tracing::info!("stopped");
    Ok(())
}
