//! `swcache-feed`: publishes invalidation entries to a site's feed, the document every
//! swcache worker checks (see the README's "Invalidation feed"), and runs the feed
//! service (`serve`). The feed lives in a store: a file (written atomically under a lock,
//! so concurrent publishers never lose an entry) or Redis (shared by any number of
//! service instances). A CMS publishes with `add`, directly to a store or through a
//! running service (`--server`).
//!
//! Built for wasm32-wasip1 too: the npm package's `swcache-feed`, run by node:wasi
//! (`package/lib/wasi.js`). That build has `add`, `init`, `compact` and `show` on `file:`
//! stores (the same synchronous file store, lock and rules) and `add --server`, whose
//! HTTP request the launcher makes (WASI has no sockets): see [`host`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use swcache::policy::feed;
use swcache::policy::time;
use swcache::policy::value::Value;
use swcache::service::now_ms;
use swcache::service::store_api::{check_idempotency_key, file_path, read_tokens, StoreError, StoreUrl};

/// The `ADD:` section of the help, the same in the native and the WASI build.
macro_rules! add_help {
    () => {
        "\
ADD:
    --url URL          a changed page or resource, root-relative (/promo/summer?x=1); repeatable
    --prefix P         every URL whose path+search starts with P (starts with /); repeatable
    --tag T            every response whose Cache-Tag header has the token T; repeatable
    --route NAME       every entry of the worker's route NAME; repeatable
    --all              everything
    --timestamp ISO    when the content changed [default: now]; at most 10 minutes ahead
    --server URL       publish through a running service (https://host or http://host:port)
                       instead of a store
    --token-file FILE  the service's token (the first line that is not a # comment)
    --idempotency-key K  a retry with the same key publishes once
"
    };
}

#[cfg(not(target_os = "wasi"))]
const HELP: &str = concat!(
    "\
swcache-feed: publish invalidations to a swcache feed, and serve it

USAGE:
    swcache-feed add [OPTIONS] (--url URL | --prefix P | --tag T | --route NAME | --all)...
    swcache-feed init [--store URL]
    swcache-feed compact [--store URL] [--keep N]
    swcache-feed show [--store URL]
    swcache-feed serve [--store URL] [--listen ADDR] --token-file FILE [OPTIONS]

COMMANDS:
    add        append one entry (what changed, and when) and print its seq
    init       create an empty feed (so workers find one before the first publish)
    compact    fold all but the newest N entries into the baseline
    show       print the feed: seq, baseline and entries, one per line
    serve      run the feed service: publish over HTTP, the feed document, live events

STORE (add, init, compact, show, serve):
    --store URL        file:PATH or redis://HOST:PORT/DB [default: file:swcache-feed.json]
                       (a relative PATH is from the working directory)
    --feed FILE        the same as --store file:FILE
    --namespace NS     the Redis keys' prefix, {NS}:* [default: swcache]
    --keep N           entries kept before older ones fold into the baseline [default: 200]

",
    add_help!(),
    "
SERVE:
    --listen ADDR      address and port [default: 127.0.0.1:8787]
    --token-file FILE  publish tokens, one per line (several: rotation); read again when it changes
    --insecure-no-token  publish without a token (only with a loopback --listen)
    --cors-origin O    a site origin whose pages may read the feed and events; repeatable
    --feed-path PATH   where the feed document is served [default: /swcache-feed.json]
    --cache-control V  the feed document's Cache-Control [default: no-cache]
    --heartbeat SECS   a comment on idle live streams this often [default: 15]

    -h, --help         this text

Routes of serve: POST /v1/entries (Authorization: Bearer TOKEN, a JSON entry such as
{\"urls\":[\"/promo/summer\"]}), GET /swcache-feed.json, GET /v1/events (Server-Sent
Events), GET /v1/seq, GET /healthz, GET /metrics. Workers fetch the feed at the URL their
`feed.url` names, on the site's origin: serve the file, or proxy that path to the service.
Exit status: 0 done, 1 the feed could not be read or written, 2 bad arguments.
"
);

/// The npm package's command (WASI): no `serve`, no Redis.
#[cfg(target_os = "wasi")]
const HELP: &str = concat!(
    "\
swcache-feed: publish invalidations to a swcache feed

USAGE:
    swcache-feed add [OPTIONS] (--url URL | --prefix P | --tag T | --route NAME | --all)...
    swcache-feed init [--store URL]
    swcache-feed compact [--store URL] [--keep N]
    swcache-feed show [--store URL]

COMMANDS:
    add        append one entry (what changed, and when) and print its seq
    init       create an empty feed (so workers find one before the first publish)
    compact    fold all but the newest N entries into the baseline
    show       print the feed: seq, baseline and entries, one per line

STORE (add, init, compact, show):
    --store URL        file:PATH [default: file:swcache-feed.json]
                       (a relative PATH is from the working directory)
    --feed FILE        the same as --store file:FILE
    --keep N           entries kept before older ones fold into the baseline [default: 200]

",
    add_help!(),
    "
    -h, --help         this text

This is the npm package's swcache-feed, the native command's code built for WebAssembly
and run by Node: a file feed it writes obeys the same rules and lock as the native
command's (the two can publish to one file side by side). The feed service (serve) and
Redis stores are the native command's: cargo install --path . in a swcache checkout.
Exit status: 0 done, 1 the feed could not be read or written, 2 bad arguments.
"
);

struct Args {
    cmd: String,
    store: String,
    namespace: String,
    /// `--keep`, when given.
    keep: Option<usize>,
    timestamp: Option<String>,
    fields: Vec<(String, Value)>,
    server: Option<String>,
    token_file: Option<PathBuf>,
    idempotency_key: Option<String>,
    listen: SocketAddr,
    insecure_no_token: bool,
    cors_origins: Vec<String>,
    feed_path: String,
    cache_control: String,
    heartbeat: Duration,
}

fn usage(msg: &str) -> ExitCode {
    eprintln!("swcache-feed: {msg}\n(see swcache-feed --help)");
    ExitCode::from(2)
}

fn push(fields: &mut Vec<(String, Value)>, key: &str, v: String) {
    match fields.iter_mut().find(|(k, _)| k == key) {
        Some((_, Value::Arr(items))) => items.push(Value::Str(v)),
        _ => fields.push((key.into(), Value::Arr(vec![Value::Str(v)]))),
    }
}

const COMMANDS: [&str; 5] = ["add", "init", "compact", "show", "serve"];

/// What the WASI build says of what only the native command does.
const NATIVE: &str = "this npm command writes file: stores and publishes through a running service \
    (--server); install the native one with cargo install --path . in a swcache checkout";

/// A `--cors-origin` as a browser sends it in `Origin` (the service compares the bytes):
/// scheme and host in lower case, no default port, no trailing slash.
fn cors_origin(v: &str) -> Result<String, String> {
    let bad = || {
        format!("--cors-origin must be an origin like https://www.example.com (no path, no wildcard, an IDN host in its xn-- form), got '{v}'")
    };
    let lower = v.trim_end_matches('/').to_ascii_lowercase();
    let (scheme, host) = lower.split_once("://").ok_or_else(bad)?;
    let default_port = match scheme {
        "https" => ":443",
        "http" => ":80",
        _ => return Err(bad()),
    };
    if host.is_empty()
        || host.starts_with(':')
        || !host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
    {
        return Err(bad());
    }
    Ok(format!("{scheme}://{}", host.strip_suffix(default_port).unwrap_or(host)))
}

fn parse_args(argv: &[String]) -> Result<Args, String> {
    let mut it = argv.iter();
    let cmd = it.next().ok_or("no command given (add, init, compact, show or serve)")?.clone();
    if !COMMANDS.contains(&cmd.as_str()) {
        return Err(format!("unknown command '{cmd}' (expected add, init, compact, show or serve)"));
    }
    if cfg!(target_os = "wasi") && cmd == "serve" {
        return Err(format!("serve is the native swcache-feed's; {NATIVE}"));
    }
    let mut a = Args {
        cmd,
        store: "file:swcache-feed.json".into(),
        namespace: "swcache".into(),
        keep: None,
        timestamp: None,
        fields: vec![],
        server: None,
        token_file: None,
        idempotency_key: None,
        listen: "127.0.0.1:8787".parse().expect("a valid default address"),
        insecure_no_token: false,
        cors_origins: vec![],
        feed_path: "/swcache-feed.json".into(),
        cache_control: "no-cache".into(),
        heartbeat: Duration::from_secs(15),
    };
    while let Some(flag) = it.next() {
        let mut value = || it.next().cloned().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--store" => a.store = value()?,
            "--feed" => a.store = format!("file:{}", value()?),
            "--namespace" => a.namespace = value()?,
            "--keep" => {
                a.keep = Some(value()?.parse().ok().filter(|n| *n >= 1).ok_or("--keep must be a whole number from 1")?);
            }
            "--timestamp" => a.timestamp = Some(value()?),
            "--url" => push(&mut a.fields, "urls", value()?),
            "--prefix" => push(&mut a.fields, "prefixes", value()?),
            "--tag" => push(&mut a.fields, "tags", value()?.trim().to_string()),
            "--route" => push(&mut a.fields, "routes", value()?),
            "--all" => a.fields.push(("all".into(), Value::Bool(true))),
            "--server" => a.server = Some(value()?.trim_end_matches('/').to_string()),
            "--token-file" => a.token_file = Some(PathBuf::from(value()?)),
            "--idempotency-key" => {
                let k = value()?;
                check_idempotency_key(&k)?;
                a.idempotency_key = Some(k);
            }
            "--listen" => {
                let v = value()?;
                a.listen = v
                    .parse()
                    .map_err(|_| format!("--listen must be an address and port like 127.0.0.1:8787, got '{v}'"))?;
            }
            "--insecure-no-token" => a.insecure_no_token = true,
            "--cors-origin" => a.cors_origins.push(cors_origin(&value()?)?),
            "--feed-path" => {
                let v = value()?;
                // (A request's path is matched as sent: a query, a space or a route
                // pattern here would never match one.)
                if !v.starts_with('/')
                    || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~/".contains(&b))
                    || v.starts_with("/v1/")
                    || v == "/healthz"
                    || v == "/metrics"
                {
                    return Err(format!(
                        "--feed-path must be a path starting with /, of letters, digits and - . _ ~ / (not one of the service's own), got '{v}'"
                    ));
                }
                a.feed_path = v;
            }
            "--cache-control" => {
                let v = value()?;
                if !v.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
                    return Err(format!("--cache-control must be one line of visible ASCII, got {v:?}"));
                }
                a.cache_control = v;
            }
            "--heartbeat" => {
                let s: u64 = value()?
                    .parse()
                    .ok()
                    .filter(|n| (1..=3600).contains(n))
                    .ok_or("--heartbeat must be 1 to 3600 seconds")?;
                a.heartbeat = Duration::from_secs(s);
            }
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    // (A store URL that names none is a bad argument, not a feed that could not be read.)
    if a.server.is_none() {
        StoreUrl::parse(&a.store).map_err(|e| e.to_string())?;
    }
    if cfg!(target_os = "wasi") && matches!(StoreUrl::parse(&a.store), Ok(StoreUrl::Redis(_))) {
        return Err(format!("Redis stores are the native swcache-feed's; {NATIVE}"));
    }
    if a.cmd == "add" {
        if a.fields.is_empty() {
            return Err("add needs what changed: --url, --prefix, --tag, --route or --all".into());
        }
        if a.server.is_some() && a.token_file.is_none() {
            return Err("--server needs --token-file (the service's publish token)".into());
        }
        if let Some(s) = a.server.as_deref() {
            let scheme = s.get(..8).unwrap_or(s).to_ascii_lowercase();
            if !scheme.starts_with("http://") && !scheme.starts_with("https://") {
                return Err(format!(
                    "--server needs http:// or https:// before the host (http://feed.internal:8787), got '{s}'"
                ));
            }
        }
        let mut props = a.fields.clone();
        if let Some(t) = &a.timestamp {
            props.push(("timestamp".into(), Value::Str(t.clone())));
        }
        // The service's rules, checked before anything is written (or sent).
        let (fields, _) = feed::publish_request(&Value::Obj(props), now_ms())?;
        a.fields = fields;
    }
    if a.cmd == "serve" && a.token_file.is_none() {
        if !a.insecure_no_token {
            return Err("serve needs --token-file (publish tokens, one per line); --insecure-no-token is allowed on loopback only".into());
        }
        if !a.listen.ip().is_loopback() {
            return Err(format!(
                "--insecure-no-token is refused on {}: anyone who reaches it could publish (use --token-file)",
                a.listen
            ));
        }
    }
    Ok(a)
}

fn at_ms(a: &Args) -> f64 {
    a.timestamp.as_deref().and_then(time::parse_iso).unwrap_or_else(now_ms)
}

/// What `add --server` sends: POST `url` with the bearer `token`, the JSON `body` and the
/// optional `Idempotency-Key`.
struct Request {
    url: String,
    token: String,
    body: String,
    key: Option<String>,
}

fn server_request(a: &Args) -> Result<Request, String> {
    let server = a.server.as_deref().unwrap_or_default();
    let file = a.token_file.as_ref().ok_or("--server needs --token-file")?;
    let token = read_tokens(file)?.into_iter().next().unwrap_or_default();
    let mut body = serde_json::Map::new();
    for (k, v) in &a.fields {
        body.insert(k.clone(), json_of(v));
    }
    // Without --timestamp the service stamps the entry by its own clock: this machine's
    // may run behind it (copies fetched meanwhile would survive the entry) or far ahead
    // (refused).
    if a.timestamp.is_some() {
        body.insert("timestamp".into(), serde_json::Value::String(time::iso_string(at_ms(a))));
    }
    Ok(Request {
        url: format!("{server}/v1/entries"),
        token,
        body: serde_json::Value::Object(body).to_string(),
        key: a.idempotency_key.clone(),
    })
}

/// The seq a service's answer gives, or why there is none (`status`: `401 Unauthorized`).
fn server_answer(server: &str, ok: bool, status: &str, text: &str) -> Result<String, String> {
    let v: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    if !ok {
        let why = v.get("error").and_then(|e| e.as_str()).unwrap_or(text);
        return Err(format!("{server} answered {status}: {why}"));
    }
    v.get("seq")
        .and_then(|s| s.as_u64())
        .map(|s| s.to_string())
        .ok_or_else(|| format!("{server} answered without a seq: {text}"))
}

/// A publish answered by a redirect is not sent on (a POST redirected by 301 or 302 goes
/// on as a GET, and the token is left out on the way to another host or scheme): natively
/// and through the npm launcher alike.
fn redirect_refused(server: &str, status: &str, location: Option<&str>) -> String {
    let to = location.map_or_else(|| String::from(" (no Location given)"), |l| format!(" to {l}"));
    format!("{server} answered {status}, a redirect{to}: give the service's own address as --server (a publish is not sent on)")
}

#[cfg(not(target_os = "wasi"))]
fn publish_to_server(a: &Args) -> Result<String, String> {
    let server = a.server.as_deref().unwrap_or_default();
    let r = server_request(a)?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    // reqwest's rustls takes the process's crypto provider (one is installed at most once).
    let _ = tls_crypto().install_default();
    rt.block_on(async {
        // (A redirect is not followed: a POST redirected by 301 or 302 is sent on as a GET,
        // and the token is left out on the way to another host or scheme.)
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        let mut req =
            client.post(&r.url).bearer_auth(&r.token).header("content-type", "application/json").body(r.body.clone());
        if let Some(k) = &r.key {
            req = req.header("idempotency-key", k);
        }
        let res = req.send().await.map_err(|e| request_error(server, &e))?;
        let status = res.status();
        if status.is_redirection() {
            let to = res.headers().get("location").and_then(|l| l.to_str().ok());
            return Err(redirect_refused(server, &status.to_string(), to));
        }
        let text = res.text().await.map_err(|e| request_error(server, &e))?;
        server_answer(server, status.is_success(), &status.to_string(), &text)
    })
}

/// rustls' crypto for `--server https://…`: ring (aws-lc-rs, reqwest's default, is a C
/// build that costs a fresh build far more).
#[cfg(not(target_os = "wasi"))]
#[allow(
    deprecated,
    reason = "ring has no post-quantum key exchange, the reason rustls deprecates it; a publish needs none"
)]
fn tls_crypto() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// Why a request to the service failed. reqwest's own text names only the step ("error
/// sending request for url (…)"): the last cause in its chain says what went wrong (a
/// refused connection, a failed TLS handshake, a certificate this machine does not trust).
#[cfg(not(target_os = "wasi"))]
fn request_error(server: &str, e: &reqwest::Error) -> String {
    let mut text = format!("{server}: {e}");
    let mut untrusted = false;
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        untrusted |=
            matches!(tls_error(c), Some(rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)));
        if c.source().is_none() {
            text += &format!(": {c}");
        }
        cause = c.source();
    }
    if untrusted {
        text += " (not signed by a CA this machine trusts: add a private CA to the system's \
                 certificates, or name a PEM file of the roots to trust, that CA among them, in SSL_CERT_FILE)";
    }
    text
}

/// rustls' error inside `e`: it comes wrapped in io::Errors, whose `source()` skips it.
#[cfg(not(target_os = "wasi"))]
fn tls_error<'a>(mut e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    loop {
        if let Some(t) = e.downcast_ref::<rustls::Error>() {
            return Some(t);
        }
        e = e.downcast_ref::<std::io::Error>()?.get_ref()?;
    }
}

/// `add --server` in the WASI build. WASI has no sockets, so the launcher makes the
/// request (`package/lib/wasi.js`), in two runs of the module with the same arguments:
///
/// 1. with `SWCACHE_HOST_REQUEST=FILE`: the arguments are checked as natively, and the
///    request (`{"url","token","body","key"}`, JSON) is written to FILE; exit status 75.
/// 2. with `SWCACHE_HOST_ANSWER` set to the answer (`{"ok","status","body","location"}`, or
///    `{"error"}` when there was none): printed as natively (the seq, or the error).
#[cfg(target_os = "wasi")]
mod host {
    pub(crate) const ASK: u8 = 75;

    pub(crate) fn publish(a: &super::Args) -> Result<Option<String>, String> {
        let server = a.server.as_deref().unwrap_or_default();
        if let Ok(answer) = std::env::var("SWCACHE_HOST_ANSWER") {
            let v: serde_json::Value =
                serde_json::from_str(&answer).map_err(|e| format!("the launcher's answer: {e}"))?;
            if let Some(e) = v.get("error").and_then(|e| e.as_str()) {
                return Err(format!("{server}: {e}"));
            }
            let ok = v.get("ok").and_then(|o| o.as_bool()).unwrap_or(false);
            let status = v.get("status").and_then(|s| s.as_str()).unwrap_or_default();
            let text = v.get("body").and_then(|s| s.as_str()).unwrap_or_default();
            if status.starts_with('3') {
                return Err(super::redirect_refused(server, status, v.get("location").and_then(|l| l.as_str())));
            }
            return super::server_answer(server, ok, status, text).map(Some);
        }
        let file = std::env::var("SWCACHE_HOST_REQUEST")
            .map_err(|_| "--server: this build publishes through its launcher (npx swcache-feed)".to_string())?;
        let r = super::server_request(a)?;
        let json = serde_json::json!({ "url": r.url, "token": r.token, "body": r.body, "key": r.key });
        std::fs::write(&file, json.to_string()).map_err(|e| format!("{file}: {}", swcache::native::io_text(&e)))?;
        Ok(None)
    }
}

/// The feed store the command works on: natively any store, through the async interface
/// the service uses; in the WASI build a file store, through its synchronous half.
#[cfg(not(target_os = "wasi"))]
struct Feeds {
    rt: tokio::runtime::Runtime,
    store: swcache::service::store::Store,
}

#[cfg(not(target_os = "wasi"))]
impl Feeds {
    fn open(a: &Args) -> Result<Feeds, String> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
        let keep = a.keep.unwrap_or(feed::DEFAULT_KEEP);
        let store = rt.block_on(swcache::service::store::Store::open(&a.store, keep, &a.namespace));
        Ok(Feeds { store: store.map_err(|e| e.to_string())?, rt })
    }
    fn describe(&self) -> String {
        self.store.describe()
    }
    fn peek(&self) -> Result<Option<feed::Feed>, StoreError> {
        self.rt.block_on(self.store.peek())
    }
    fn init(&self) -> Result<feed::Feed, StoreError> {
        self.rt.block_on(self.store.init())
    }
    fn compact(&self, keep: usize) -> Result<usize, StoreError> {
        self.rt.block_on(self.store.compact(keep))
    }
    fn publish(&self, fields: Vec<(String, Value)>, at_ms: f64, key: Option<&str>) -> Result<u64, StoreError> {
        self.rt.block_on(self.store.publish(fields, at_ms, key)).map(|p| p.seq)
    }
    /// After a publish: a Redis store compacted to `keep` (a file store's publish did it).
    fn bound(&self, keep: usize) -> Result<usize, StoreError> {
        match &self.store {
            swcache::service::store::Store::Redis(_) => self.compact(keep),
            swcache::service::store::Store::File(_) => Ok(0),
        }
    }
}

#[cfg(target_os = "wasi")]
struct Feeds {
    path: PathBuf,
    keep: usize,
}

#[cfg(target_os = "wasi")]
impl Feeds {
    fn open(a: &Args) -> Result<Feeds, String> {
        match StoreUrl::parse(&a.store).map_err(|e| e.to_string())? {
            StoreUrl::File(path) => Ok(Feeds { path: file_path(path), keep: a.keep.unwrap_or(feed::DEFAULT_KEEP) }),
            StoreUrl::Redis(_) => Err(format!("Redis stores are the native swcache-feed's; {NATIVE}")),
        }
    }
    fn describe(&self) -> String {
        format!("file:{}", self.path.display())
    }
    fn peek(&self) -> Result<Option<feed::Feed>, StoreError> {
        swcache::service::file_store::read_now(&self.path)
    }
    fn init(&self) -> Result<feed::Feed, StoreError> {
        swcache::service::file_store::init_sync(&self.path)
    }
    fn compact(&self, keep: usize) -> Result<usize, StoreError> {
        swcache::service::file_store::compact_sync(&self.path, keep)
    }
    fn publish(&self, fields: Vec<(String, Value)>, at_ms: f64, key: Option<&str>) -> Result<u64, StoreError> {
        swcache::service::file_store::publish_sync(&self.path, self.keep, fields, at_ms, key).map(|p| p.seq)
    }
    fn bound(&self, _keep: usize) -> Result<usize, StoreError> {
        Ok(0)
    }
}

fn json_of(v: &Value) -> serde_json::Value {
    match v {
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Num(n) => serde_json::json!(n),
        Value::Str(s) => serde_json::Value::String(s.clone()),
        Value::Arr(items) => serde_json::Value::Array(items.iter().map(json_of).collect()),
        Value::Obj(props) => serde_json::Value::Object(props.iter().map(|(k, v)| (k.clone(), json_of(v))).collect()),
        _ => serde_json::Value::Null,
    }
}

/// Where a relative `file:` store is (`None` for any other): the working directory
/// decides, so a CMS run from another directory would use another file than the service.
fn relative_note(store: &str) -> Option<String> {
    match StoreUrl::parse(store) {
        Ok(StoreUrl::File(p)) if std::path::Path::new(p).is_relative() => Some(format!(
            "swcache-feed: {store} is {} (a relative path is from the working directory)",
            file_path(p).display()
        )),
        _ => None,
    }
}

/// `add`, `init`, `compact` and `show`. `Ok(false)`: the WASI build asks its launcher to
/// make the `--server` request (exit status [`host::ASK`]).
fn run(a: Args) -> Result<bool, String> {
    if a.cmd == "add" && a.server.is_some() {
        #[cfg(not(target_os = "wasi"))]
        println!("{}", publish_to_server(&a)?);
        #[cfg(target_os = "wasi")]
        match host::publish(&a)? {
            Some(seq) => println!("{seq}"),
            None => return Ok(false),
        }
        return Ok(true);
    }
    let store = Feeds::open(&a)?;
    match a.cmd.as_str() {
        "show" => {
            let f = store
                .peek()
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("{}: no such feed", store.describe()))?;
            // Written, not println!'d: a reader that stops early (`show | head -1`) ends the
            // listing, where println! panics on the closed pipe.
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let mut text = format!("epoch {} seq {} entries {}\n", f.epoch, f.seq, f.entries.len());
            if let Some(b) = &f.baseline {
                text.push_str(&format!("baseline seq {} timestamp {}\n", b.seq, time::iso_string(b.at_ms)));
            }
            let mut lines = ::core::iter::once(text).chain(f.entries.iter().map(|e| feed::entry_json(e) + "\n"));
            // (Only a closed pipe ends it quietly: a full disk is an error, not exit 0.)
            match lines.try_for_each(|line| out.write_all(line.as_bytes())).and_then(|()| out.flush()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    return Err(format!("standard output: {}", swcache::native::io_text(&e)))
                }
                _ => {}
            }
        }
        "init" => {
            let f = store.init().map_err(|e| e.to_string())?;
            println!("feed {}: epoch {} seq {}", store.describe(), f.epoch, f.seq);
        }
        "compact" => {
            // (A misspelt path is not a new, empty feed to compact.)
            if store.peek().map_err(|e| e.to_string())?.is_none() {
                return Err(format!("{}: no such feed", store.describe()));
            }
            let dropped = store.compact(a.keep.unwrap_or(feed::DEFAULT_KEEP)).map_err(|e| e.to_string())?;
            let f = store.peek().map_err(|e| e.to_string())?.unwrap_or_else(|| feed::Feed {
                epoch: String::new(),
                seq: 0,
                baseline: None,
                entries: vec![],
            });
            println!(
                "compacted {dropped} entries; {} left, baseline seq {}",
                f.entries.len(),
                f.baseline.map_or(0, |b| b.seq)
            );
        }
        _ => {
            let seq =
                store.publish(a.fields.clone(), at_ms(&a), a.idempotency_key.as_deref()).map_err(|e| e.to_string())?;
            // A Redis feed is compacted by the service that serves it, to the service's
            // --keep: without one given here, the list is only bounded by what workers take
            // (a default keep would fold entries a service with a larger --keep keeps). The
            // entry is published whatever this says: a failure here is only a warning (an
            // error would make a CMS retry, and publish twice).
            if let Err(e) = store.bound(a.keep.unwrap_or(feed::MAX_ENTRIES)) {
                eprintln!("swcache-feed: warning: published, but compacting the store failed: {e}");
            }
            println!("{seq}");
        }
    }
    // (`init` names the store in what it prints.)
    if a.cmd != "init" {
        if let Some(note) = relative_note(&a.store) {
            eprintln!("{note}");
        }
    }
    Ok(true)
}

#[cfg(not(target_os = "wasi"))]
fn serve(a: Args) -> Result<(), String> {
    use swcache::service::http::{serve, ServeConfig};
    let rt = tokio::runtime::Runtime::new().map_err(|e| format!("cannot start: {e}"))?;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cfg = ServeConfig {
        store: a.store,
        listen: a.listen,
        token_file: a.token_file,
        cors_origins: a.cors_origins,
        feed_path: a.feed_path,
        cache_control: a.cache_control,
        keep: a.keep.unwrap_or(feed::DEFAULT_KEEP),
        namespace: a.namespace,
        heartbeat: a.heartbeat,
    };
    let result = rt.block_on(serve(cfg));
    // A store call that outlived its request (a file lock held elsewhere) must not keep
    // a stopping service from exiting.
    rt.shutdown_timeout(Duration::from_secs(5));
    result
}

fn main() -> ExitCode {
    swcache::native::wasi_start();
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.iter().any(|a| a == "-h" || a == "--help") || argv.is_empty() {
        print!("{HELP}");
        return if argv.is_empty() { ExitCode::from(2) } else { ExitCode::SUCCESS };
    }
    let a = match parse_args(&argv) {
        Err(e) => return usage(&e),
        Ok(a) => a,
    };
    #[cfg(not(target_os = "wasi"))]
    let result = if a.cmd == "serve" { serve(a).map(|()| true) } else { run(a) };
    #[cfg(target_os = "wasi")]
    let result = run(a);
    match result {
        Ok(true) => ExitCode::SUCCESS,
        #[cfg(target_os = "wasi")]
        Ok(false) => ExitCode::from(host::ASK),
        #[cfg(not(target_os = "wasi"))]
        Ok(false) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("swcache-feed: {e}");
            ExitCode::from(1)
        }
    }
}
