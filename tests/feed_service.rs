//! The feed service and its stores, for real: Debian's `redis-server` started per test
//! (a free port, a temp directory, killed by pid at the end), the real `swcache-feed
//! serve` processes, HTTP and Server-Sent Events over loopback. Nothing is mocked.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{json, Value};
use swcache::service::store::Store;

// ----- fixtures ------------------------------------------------------------------------------

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The process id of the Redis answering on `s` (`INFO server`), once it answers. The
/// whole reply is read, so `s` can be asked more.
fn redis_pid(s: &mut TcpStream) -> Option<u32> {
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"INFO server\r\n").ok()?;
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = s.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        text.extend_from_slice(&buf[..n]);
        // A bulk reply: `$<len>\r\n<len bytes>\r\n`.
        let t = String::from_utf8_lossy(&text);
        let (head, body) = t.strip_prefix('$')?.split_once("\r\n")?;
        let len: usize = head.parse().ok()?;
        if body.len() >= len + 2 {
            let rest = body.split("process_id:").nth(1)?;
            return rest.split_once("\r\n")?.0.trim().parse().ok();
        }
    }
}

/// Whether the Redis on `s` answers PING with PONG (not -LOADING).
fn redis_ping(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("swcache-feed-service-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Polls `cond` every 20 ms until it holds; panics with `what` after `limit`.
async fn until<F: FnMut() -> bool>(limit: Duration, what: &str, mut cond: F) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A real Redis, persisting every write before it answers (`appendfsync always`).
struct Redis {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl Redis {
    fn start(name: &str) -> Redis {
        let mut r = Redis { child: None, port: free_port(), dir: scratch(&format!("redis-{name}")) };
        // A port free_port() gave out may be taken before Redis binds it: another one then.
        for _ in 0..5 {
            match r.try_launch() {
                Ok(()) => return r,
                Err(why) => eprintln!("redis-server on port {}: {why}; another port", r.port),
            }
            r.port = free_port();
        }
        panic!("redis-server did not start on 5 ports");
    }

    /// Starts Redis again on its port (after a crash: its data comes back from the AOF).
    fn launch(&mut self) {
        self.try_launch().unwrap_or_else(|why| panic!("redis-server on port {}: {why}", self.port));
    }

    fn try_launch(&mut self) -> Result<(), String> {
        let mut child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .args(["--save", "", "--dir"])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (Debian's redis-server package; ./build.sh setup installs it)");
        let pid = child.id();
        let start = Instant::now();
        // Ready when the Redis answering on the port is this one (its process id: another
        // test's Redis may hold a port free_port() gave out twice) and has loaded its data
        // (PING answers -LOADING until then).
        loop {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                match redis_pid(&mut s) {
                    Some(answering) if answering != pid => {
                        let _ = child.kill();
                        let _ = child.wait();
                        return Err(format!("another Redis (pid {answering}) answers there"));
                    }
                    Some(_) if redis_ping(&mut s) => break,
                    _ => {}
                }
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("it exited ({status}) before answering"));
            }
            assert!(start.elapsed() < Duration::from_secs(10), "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child = Some(child);
        Ok(())
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Kills it at once (SIGKILL): what a crash does.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const TOKEN: &str = "test-token-0123456789abcdef";

/// A `swcache-feed serve` process.
struct Service {
    child: Option<Child>,
    port: u16,
    base: String,
    log: PathBuf,
}

impl Service {
    /// Started in `dir` (a relative `file:` store is there).
    fn start(dir: &Path, store: &str, extra: &[&str]) -> Service {
        Service::start_under(&[], dir, store, extra)
    }

    /// Started by `prefix` (a command that runs the one after it, such as `prlimit`).
    fn start_under(prefix: &[&str], dir: &Path, store: &str, extra: &[&str]) -> Service {
        let tokens = dir.join("tokens.txt");
        if !tokens.exists() {
            std::fs::write(&tokens, format!("# publish tokens\n{TOKEN}\n")).unwrap();
        }
        // Ready when this process says it listens (another test's server may hold a port
        // free_port() gave out twice: then another port).
        for _ in 0..5 {
            let port = free_port();
            let log = dir.join(format!("serve-{port}.log"));
            let bin = env!("CARGO_BIN_EXE_swcache-feed");
            let child = Command::new(prefix.first().copied().unwrap_or(bin))
                .args(prefix.iter().skip(1))
                .args(prefix.first().map(|_| bin))
                .args(["serve", "--store", store, "--listen", &format!("127.0.0.1:{port}"), "--token-file"])
                .arg(&tokens)
                .args(extra)
                .current_dir(dir)
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .unwrap();
            let mut s = Service { child: Some(child), port, base: format!("http://127.0.0.1:{port}"), log };
            let start = Instant::now();
            loop {
                let text = s.log_text();
                if text.contains("publish at POST /v1/entries") && text.contains(&format!("127.0.0.1:{port}")) {
                    return s;
                }
                if let Some(Ok(Some(status))) = s.child.as_mut().map(|c| c.try_wait()) {
                    assert!(text.contains("cannot listen"), "the service exited ({status}): {text}");
                    break;
                }
                assert!(start.elapsed() < Duration::from_secs(10), "the service did not start: {text}");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        panic!("the service found no free port in 5 tries");
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// ring as rustls' crypto, as `swcache-feed` has it (its `tls_crypto`).
#[allow(deprecated, reason = "ring has no post-quantum key exchange; the tests' TLS needs none")]
fn ring() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// A reqwest client's builder: reqwest's rustls takes the process's crypto provider.
fn builder() -> reqwest::ClientBuilder {
    let _ = ring().install_default();
    reqwest::Client::builder()
}

fn client() -> reqwest::Client {
    builder().timeout(Duration::from_secs(20)).build().unwrap()
}

async fn post(c: &reqwest::Client, base: &str, body: &Value, key: Option<&str>) -> Result<(u16, Value), String> {
    let mut req = c.post(format!("{base}/v1/entries")).bearer_auth(TOKEN).body(body.to_string());
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    let res = req.send().await.map_err(|e| e.to_string())?;
    let status = res.status().as_u16();
    let v: Value = res.json().await.map_err(|e| e.to_string())?;
    Ok((status, v))
}

async fn feed_of(c: &reqwest::Client, base: &str) -> (String, String) {
    let res = c.get(format!("{base}/swcache-feed.json")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    (etag, res.text().await.unwrap())
}

async fn seq_of(c: &reqwest::Client, base: &str) -> u64 {
    let v: Value = c.get(format!("{base}/v1/seq")).send().await.unwrap().json().await.unwrap();
    v["seq"].as_u64().unwrap_or(0)
}

/// Whether `/healthz` comes to answer `status` within 10 s.
async fn healthz_answers(c: &reqwest::Client, base: &str, status: u16) -> bool {
    for _ in 0..500 {
        if c.get(format!("{base}/healthz")).send().await.unwrap().status() == status {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// One SSE event as received.
#[derive(Clone, Debug, PartialEq)]
struct Got {
    kind: String,
    /// The seq in the event's id (`<seq>.<epoch>`).
    id: u64,
    /// The id as sent, what a reconnecting client sends back as `Last-Event-ID`.
    raw_id: String,
    data: Value,
}

/// A live client: connects to `/v1/events` (with `Last-Event-ID` when given) and pushes
/// every event into `out` until the stream ends. Returns when the stream ends, or why it
/// did not connect.
async fn listen(
    base: String,
    last: Option<String>,
    out: Arc<std::sync::Mutex<Vec<Got>>>,
    connected: Arc<std::sync::atomic::AtomicBool>,
) -> Result<(), String> {
    let c = builder().build().unwrap();
    let mut req = c.get(format!("{base}/v1/events"));
    if let Some(l) = last {
        req = req.header("last-event-id", l);
    }
    let res = req.send().await.map_err(|e| format!("GET /v1/events failed: {e}"))?;
    if res.status() != 200 {
        return Err(format!("GET /v1/events answered {}: {}", res.status(), res.text().await.unwrap_or_default()));
    }
    connected.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut stream = res.bytes_stream();
    let mut buf = String::new();
    while let Some(Ok(chunk)) = stream.next().await {
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let mut got = Got { kind: "message".into(), id: 0, raw_id: String::new(), data: Value::Null };
            let mut has_data = false;
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event: ") {
                    got.kind = v.into();
                } else if let Some(v) = line.strip_prefix("id: ") {
                    let (seq, epoch) = v.split_once('.').expect("an id is <seq>.<epoch>");
                    assert!(!epoch.is_empty(), "{v}");
                    got.id = seq.parse().unwrap();
                    got.raw_id = v.into();
                } else if let Some(v) = line.strip_prefix("data: ") {
                    got.data = serde_json::from_str(v).unwrap();
                    has_data = true;
                }
            }
            // (A new stream's `position` says where it starts; a page keeps only its id.)
            if has_data && got.kind != "position" {
                out.lock().unwrap().push(got);
            }
        }
    }
    Ok(())
}

type Inbox = Arc<std::sync::Mutex<Vec<Got>>>;

/// Starts a live client (`last`: its `Last-Event-ID`, an id it was sent or a bare seq);
/// returns its inbox once it is connected, and its task.
async fn live(s: &Service, last: Option<&str>) -> (Inbox, tokio::task::JoinHandle<Result<(), String>>) {
    let inbox: Inbox = Arc::default();
    let connected = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut task = tokio::spawn(listen(s.base.clone(), last.map(String::from), inbox.clone(), connected.clone()));
    let start = Instant::now();
    while !connected.load(std::sync::atomic::Ordering::SeqCst) {
        if task.is_finished() {
            let why = match (&mut task).await {
                Ok(Ok(())) => "its stream ended".to_string(),
                Ok(Err(e)) => e,
                Err(e) => e.to_string(),
            };
            panic!("the live client did not connect: {why}\nthe service's log:\n{}", s.log_text());
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out waiting for the live client to connect\nthe service's log:\n{}",
            s.log_text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (inbox, task)
}

fn seqs(inbox: &Inbox) -> Vec<u64> {
    inbox.lock().unwrap().iter().map(|g| g.id).collect()
}

// ----- the store interface, both stores ------------------------------------------------------

async fn exercise(store: Store) {
    let store = Arc::new(store);
    let f = store.init().await.unwrap();
    assert_eq!((f.seq, f.entries.len()), (0, 0), "init: an empty feed");
    let epoch = f.epoch.clone();
    assert!(!epoch.is_empty());
    let url = |i: u64| {
        vec![(
            "urls".to_string(),
            swcache::policy::value::Value::Arr(vec![swcache::policy::value::Value::Str(format!("/p/{i}"))]),
        )]
    };
    let p = store.publish(url(1), 1_795_000_000_000.0, None).await.unwrap();
    assert_eq!((p.seq, p.replayed), (1, false));
    let k1 = store.publish(url(2), 1_795_000_000_001.0, Some("key-2")).await.unwrap();
    let again = store.publish(url(2), 1_795_000_000_002.0, Some("key-2")).await.unwrap();
    assert_eq!((again.seq, again.replayed, again.at_ms), (k1.seq, true, k1.at_ms), "an Idempotency-Key publishes once");
    // The key reused for another entry publishes nothing and says so.
    let other = store.publish(url(99), 1_795_000_000_003.0, Some("key-2")).await;
    assert!(matches!(other, Err(swcache::service::store::StoreError::KeyReused(_))), "{:?}", other.map(|p| p.seq));
    // Eight concurrent publishers, 40 entries each: every seq once, no entry lost.
    let mut tasks = vec![];
    for w in 0..8u64 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = vec![];
            for i in 0..40u64 {
                got.push(s.publish(url(1000 + w * 100 + i), 1_795_000_000_100.0, None).await.unwrap().seq);
            }
            got
        }));
    }
    let mut all: Vec<u64> = vec![];
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    assert_eq!(all, (3..=322).collect::<Vec<_>>(), "no two publishers got the same seq");
    let f = store.read().await.unwrap().unwrap();
    assert_eq!(f.epoch, epoch, "the epoch stays");
    assert_eq!(f.seq, 322);
    assert_eq!(f.entries.len(), 200, "compacted to the default keep");
    assert_eq!(f.baseline.as_ref().unwrap().seq, 122);
    let text = swcache::policy::feed::write(&f);
    for w in 0..8u64 {
        for i in 0..40u64 {
            let n = 1000 + w * 100 + i;
            let listed = text.contains(&format!("\"/p/{n}\""));
            let seq_of_n = f
                .entries
                .iter()
                .find(|e| swcache::policy::feed::entry_json(e).contains(&format!("\"/p/{n}\"")))
                .map(|e| e.seq);
            assert!(listed || seq_of_n.is_none(), "entry /p/{n}");
        }
    }
    assert_eq!(text.matches("\"/p/").count(), 200);
    assert_eq!(store.compact(10).await.unwrap(), 190);
    let f = store.read().await.unwrap().unwrap();
    assert_eq!((f.entries.len(), f.baseline.as_ref().unwrap().seq, f.seq), (10, 312, 322), "compact keeps the newest");
    assert_eq!(
        swcache::policy::feed::parse(&swcache::policy::feed::write(&f)).unwrap(),
        f,
        "what the store holds, workers read"
    );
    let f2 = store.init().await.unwrap();
    assert_eq!(f2.seq, 322, "init leaves an existing feed alone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_interface_on_a_file() {
    let dir = scratch("store-file");
    exercise(Store::open(&format!("file:{}", dir.join("feed.json").display()), 200, "swcache").await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_interface_on_redis() {
    let redis = Redis::start("store");
    exercise(Store::open(&redis.url(), 200, "swcache").await.unwrap()).await;
    // A second namespace on the same Redis is a separate feed.
    let other = Store::open(&redis.url(), 200, "site-b").await.unwrap();
    assert_eq!(other.init().await.unwrap().seq, 0);
    assert!(matches!(
        Store::open("ftp://x", 200, "swcache").await,
        Err(swcache::service::store::StoreError::Config(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_store_past_what_workers_accept_compacts_back_under_it() {
    use swcache::policy::value::Value as V;
    let redis = Redis::start("big");
    let store = Arc::new(Store::open(&redis.url(), 200, "swcache").await.unwrap());
    // Sixteen entries of about 110 KB, published with no read in between: the list holds
    // more than the 1 MB a worker accepts.
    let mut tasks = vec![];
    for w in 0..16 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            let tags: Vec<V> = (0..5_000).map(|i| V::Str(format!("price-tag-{w:02}-{i:05}"))).collect();
            s.publish(vec![("tags".into(), V::Arr(tags))], 1_795_000_000_000.0, None).await.unwrap().seq
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let f = store.read().await.expect("the store still reads").unwrap();
    assert_eq!(f.seq, 16);
    let text = swcache::policy::feed::write(&f);
    assert!(text.len() <= swcache::policy::feed::MAX_BYTES, "{} bytes served", text.len());
    assert!(swcache::policy::feed::parse(&text).is_ok(), "what is served, workers accept");
    assert!(f.baseline.is_some(), "the older entries went into the baseline");
    // And it keeps taking publishes and reading.
    store.publish(vec![("all".into(), V::Bool(true))], 1_795_000_000_001.0, None).await.unwrap();
    assert_eq!(store.read().await.unwrap().unwrap().seq, 17);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_init_and_add_leave_a_redis_feed_kept_by_a_larger_service_keep() {
    use swcache::policy::value::Value as V;
    let redis = Redis::start("keep");
    // The service runs with --keep 1000; the feed holds 300 entries.
    let store = Store::open(&redis.url(), 1000, "swcache").await.unwrap();
    for i in 0..300 {
        let urls = V::Arr(vec![V::Str(format!("/p/{i}"))]);
        store.publish(vec![("urls".into(), urls)], 1_795_000_000_000.0, None).await.unwrap();
    }
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_swcache-feed")).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // A CMS script's commands, without --keep: reading writes nothing, a publish folds nothing
    // the service keeps.
    let shown = run(&["show", "--store", &redis.url()]);
    let f = store.read().await.unwrap().unwrap();
    assert_eq!((f.entries.len(), f.baseline.as_ref().map(|b| b.seq)), (300, None), "show folded entries");
    assert!(shown.starts_with(&format!("epoch {} seq 300 entries 300\n", f.epoch)), "{shown}");
    run(&["init", "--store", &redis.url()]);
    assert_eq!(store.read().await.unwrap().unwrap().entries.len(), 300, "init folded entries");
    assert_eq!(run(&["add", "--url", "/p/300", "--store", &redis.url()]).trim(), "301");
    let f = store.read().await.unwrap().unwrap();
    assert_eq!((f.seq, f.entries.len(), f.baseline.as_ref().map(|b| b.seq)), (301, 301, None));
    // An explicit --keep still compacts.
    run(&["add", "--keep", "100", "--url", "/p/301", "--store", &redis.url()]);
    let f = store.read().await.unwrap().unwrap();
    assert_eq!((f.seq, f.entries.len(), f.baseline.as_ref().map(|b| b.seq)), (302, 100, Some(202)));
    assert!(run(&["compact", "--keep", "10", "--store", &redis.url()]).contains("compacted 90 entries; 10 left"));
}

// ----- many instances on one Redis -----------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_deliver_every_entry_to_every_client_once_in_order() {
    let redis = Redis::start("three");
    let dir = scratch("three");
    let services: Vec<Service> = (0..3).map(|_| Service::start(&dir, &redis.url(), &["--keep", "200"])).collect();
    let bases: Vec<String> = services.iter().map(|s| s.base.clone()).collect();
    let c = client();
    // Four live clients on each instance.
    let mut inboxes = vec![];
    for s in &services {
        for _ in 0..4 {
            inboxes.push(live(s, None).await);
        }
    }
    const TOTAL: u64 = 2000;
    let mut publishers = vec![];
    for w in 0..8u64 {
        let bases = bases.clone();
        let c = c.clone();
        publishers.push(tokio::spawn(async move {
            let mut acked = vec![];
            for i in 0..TOTAL / 8 {
                let n = w * 1000 + i;
                let base = &bases[(n as usize) % 3];
                let (status, v) =
                    post(&c, base, &json!({ "urls": [format!("/p/{n}")] }), Some(&format!("k{n}"))).await.unwrap();
                assert_eq!(status, 201, "{v}");
                acked.push(v["seq"].as_u64().unwrap());
            }
            acked
        }));
    }
    let mut acked = BTreeSet::new();
    for p in publishers {
        acked.extend(p.await.unwrap());
    }
    assert_eq!(acked, (1..=TOTAL).collect(), "8 publishers on 3 instances: seqs 1..=2000, each once");
    for (inbox, _) in &inboxes {
        until(Duration::from_secs(30), "every client to get the last entry", || seqs(inbox).last() == Some(&TOTAL))
            .await;
    }
    for (i, (inbox, _)) in inboxes.iter().enumerate() {
        let got = inbox.lock().unwrap().clone();
        assert!(got.iter().all(|g| g.kind == "message"), "client {i}: no reset");
        let ids: Vec<u64> = got.iter().map(|g| g.id).collect();
        assert_eq!(ids, (1..=TOTAL).collect::<Vec<_>>(), "client {i}: every entry exactly once, in seq order");
        assert!(got.iter().all(|g| g.data["seq"].as_u64() == Some(g.id)));
    }
    let mut docs = vec![];
    for b in &bases {
        let mut tries = 0;
        loop {
            let (etag, body) = feed_of(&c, b).await;
            if body.contains(&format!("\"seq\":{TOTAL},\"entries\"")) || tries > 100 {
                docs.push((etag, body));
                break;
            }
            tries += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert!(docs.iter().all(|d| *d == docs[0]), "the three serve the same bytes and ETag");
    let f = swcache::policy::feed::parse(&docs[0].1).unwrap();
    assert_eq!((f.seq, f.entries.len()), (TOTAL, 200));
    // The same ETag answers 304 on every instance.
    for b in &bases {
        let res = c.get(format!("{b}/swcache-feed.json")).header("if-none-match", &docs[0].0).send().await.unwrap();
        assert_eq!(res.status(), 304);
    }
    drop(services);
}

// ----- faults --------------------------------------------------------------------------------

/// Publishes `n` entries with idempotency keys through `bases[0]`, moving to the next base
/// (and retrying the same key) when one fails; returns key → acknowledged seq.
async fn publish_with_retries(bases: Vec<String>, from: u64, n: u64) -> BTreeMap<u64, u64> {
    let c = builder().timeout(Duration::from_secs(5)).build().unwrap();
    let mut acked = BTreeMap::new();
    let mut at = 0usize;
    for i in from..from + n {
        let mut attempts = 0;
        loop {
            attempts += 1;
            assert!(attempts < 400, "entry {i} could not be published");
            match post(&c, &bases[at % bases.len()], &json!({ "urls": [format!("/k/{i}")] }), Some(&format!("key-{i}")))
                .await
            {
                Ok((200 | 201, v)) => {
                    acked.insert(i, v["seq"].as_u64().unwrap());
                    break;
                }
                Ok((503, _)) => tokio::time::sleep(Duration::from_millis(25)).await,
                Ok((s, v)) => panic!("entry {i}: {s} {v}"),
                Err(_) => {
                    at += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }
    acked
}

fn entries_by_url(body: &str) -> BTreeMap<String, Vec<u64>> {
    let f = swcache::policy::feed::parse(body).unwrap();
    let mut out: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for e in &f.entries {
        let v: Value = serde_json::from_str(&swcache::policy::feed::entry_json(e)).unwrap();
        out.entry(v["urls"][0].as_str().unwrap().to_string()).or_default().push(e.seq);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_an_instance_mid_publish_loses_and_duplicates_nothing() {
    let redis = Redis::start("kill");
    let dir = scratch("kill");
    let mut a = Service::start(&dir, &redis.url(), &["--keep", "1000"]);
    let b = Service::start(&dir, &redis.url(), &["--keep", "1000"]);
    let bases = vec![a.base.clone(), b.base.clone()];
    let publisher = tokio::spawn(publish_with_retries(bases, 0, 400));
    let c = client();
    loop {
        if seq_of(&c, &b.base).await >= 100 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    a.kill9();
    let acked = publisher.await.unwrap();
    assert_eq!(acked.len(), 400);
    let mut body = String::new();
    for _ in 0..200 {
        body = feed_of(&c, &b.base).await.1;
        if body.contains("\"/k/399\"") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let by_url = entries_by_url(&body);
    for (i, seq) in &acked {
        assert_eq!(by_url.get(&format!("/k/{i}")), Some(&vec![*seq]), "entry {i}: acknowledged once, stored once");
    }
    assert_eq!(by_url.len(), 400, "nothing else in the feed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_crash_loses_no_acknowledged_entry_and_clients_resume_without_a_gap() {
    let mut redis = Redis::start("crash");
    let dir = scratch("crash");
    let s = Service::start(&dir, &redis.url(), &["--keep", "1000"]);
    let c = client();
    // A live client that reconnects with Last-Event-ID whenever its stream ends.
    let inbox: Inbox = Arc::default();
    let base = s.base.clone();
    let keep_going = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let connected = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let client_task = {
        let inbox = inbox.clone();
        let keep_going = keep_going.clone();
        let connected = connected.clone();
        tokio::spawn(async move {
            while keep_going.load(std::sync::atomic::Ordering::SeqCst) {
                let last = inbox.lock().unwrap().last().map(|g| g.raw_id.clone());
                let _ = listen(base.clone(), last, inbox.clone(), connected.clone()).await;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    // Connected before the first publish: a stream opened without Last-Event-ID starts now.
    until(Duration::from_secs(10), "the live client to connect", || {
        connected.load(std::sync::atomic::Ordering::SeqCst)
    })
    .await;
    let publisher = tokio::spawn(publish_with_retries(vec![s.base.clone()], 0, 300));
    loop {
        if seq_of(&c, &s.base).await >= 100 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    redis.kill();
    // While Redis is down, publishing answers 503 with the reason.
    let (status, v) = post(&c, &s.base, &json!({ "all": true }), None).await.unwrap();
    assert_eq!(status, 503, "{v}");
    assert!(v["error"].as_str().unwrap().contains("redis"), "{v}");
    redis.launch();
    let acked = publisher.await.unwrap();
    assert_eq!(acked.len(), 300);
    until(Duration::from_secs(20), "the live client to get every acknowledged entry", || {
        let got = seqs(&inbox);
        acked.values().all(|s| got.contains(s))
    })
    .await;
    keep_going.store(false, std::sync::atomic::Ordering::SeqCst);
    client_task.abort();
    let body = feed_of(&c, &s.base).await.1;
    let by_url = entries_by_url(&body);
    for (i, seq) in &acked {
        assert_eq!(
            by_url.get(&format!("/k/{i}")),
            Some(&vec![*seq]),
            "entry {i}: acknowledged, so it survived the crash"
        );
    }
    let got = inbox.lock().unwrap().clone();
    assert!(got.iter().all(|g| g.kind == "message"), "no reset needed");
    let ids: Vec<u64> = got.iter().map(|g| g.id).collect();
    let max = *ids.last().unwrap();
    assert_eq!(ids, (1..=max).collect::<Vec<_>>(), "resumed by Last-Event-ID: no gap, no repeat");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_unreachable_publish_answers_503_and_the_feed_is_served_as_last_read() {
    let dir = scratch("unreachable");
    // Nothing listens on this port.
    let nowhere = Service::start(&dir, &format!("redis://127.0.0.1:{}/0", free_port()), &[]);
    let c = client();
    let (status, v) = post(&c, &nowhere.base, &json!({ "urls": ["/a"] }), None).await.unwrap();
    assert_eq!(status, 503);
    assert!(v["error"].as_str().unwrap().contains("redis"), "{v}");
    let res = c.get(format!("{}/swcache-feed.json", nowhere.base)).send().await.unwrap();
    assert_eq!(res.status(), 503, "no feed was ever read: 503");
    let res = c.get(format!("{}/healthz", nowhere.base)).send().await.unwrap();
    assert_eq!(res.status(), 503);

    let mut redis = Redis::start("unreachable");
    let s = Service::start(&dir, &redis.url(), &[]);
    assert_eq!(post(&c, &s.base, &json!({ "urls": ["/a"] }), None).await.unwrap().0, 201);
    let mut before = (String::new(), String::new());
    for _ in 0..500 {
        before = feed_of(&c, &s.base).await;
        if before.1.contains("\"/a\"") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(before.1.contains("\"/a\""), "the instance read the entry");
    redis.kill();
    let (status, _) = post(&c, &s.base, &json!({ "urls": ["/b"] }), None).await.unwrap();
    assert_eq!(status, 503);
    let down = healthz_answers(&c, &s.base, 503).await;
    assert!(down, "healthz reports the store down");
    assert_eq!(feed_of(&c, &s.base).await, before, "the feed last read is served while the store is down");
    assert!(s.log_text().contains("does not answer"), "the log says why: {}", s.log_text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_offline_for_30_seconds_gets_exactly_what_it_missed() {
    let dir = scratch("offline");
    let s = Service::start(&dir, &format!("file:{}", dir.join("feed.json").display()), &["--keep", "50"]);
    let c = client();
    let (inbox, task) = live(&s, None).await;
    for i in 0..5 {
        post(&c, &s.base, &json!({ "urls": [format!("/o/{i}")] }), None).await.unwrap();
    }
    until(Duration::from_secs(10), "the first five", || seqs(&inbox).len() == 5).await;
    task.abort();
    let fifth = inbox.lock().unwrap()[4].raw_id.clone();
    // Offline for 30 s while the CMS publishes once a second.
    let start = Instant::now();
    let mut i = 5;
    while start.elapsed() < Duration::from_secs(30) {
        post(&c, &s.base, &json!({ "urls": [format!("/o/{i}")] }), None).await.unwrap();
        i += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let last = i as u64;
    let (back, _task) = live(&s, Some(&fifth)).await;
    until(Duration::from_secs(10), "what it missed", || seqs(&back).last() == Some(&last)).await;
    assert_eq!(seqs(&back), (6..=last).collect::<Vec<_>>(), "exactly what it missed");
    // Offline past compaction (keep 50): one reset instead.
    for j in 0..60 {
        post(&c, &s.base, &json!({ "urls": [format!("/late/{j}")] }), None).await.unwrap();
    }
    let newest = last + 60;
    while seq_of(&c, &s.base).await < newest {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (stale, _t) = live(&s, Some("5")).await; // a bare seq: read as this epoch's
    until(Duration::from_secs(10), "a reset", || !stale.lock().unwrap().is_empty()).await;
    let got = stale.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].kind.as_str(), got[0].id, got[0].data["reset"].as_bool()), ("reset", newest, Some(true)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_of_a_feed_that_started_over_gets_the_new_feed_from_its_start() {
    let dir = scratch("epoch");
    let file = dir.join("feed.json");
    let s = Service::start(&dir, &format!("file:{}", file.display()), &[]);
    let c = client();
    let (inbox, task) = live(&s, None).await;
    for i in 1..=5 {
        post(&c, &s.base, &json!({ "urls": [format!("/old/{i}")] }), None).await.unwrap();
    }
    until(Duration::from_secs(10), "the old feed's five", || seqs(&inbox).len() == 5).await;
    task.abort();
    let seen = inbox.lock().unwrap()[4].raw_id.clone();
    // The feed starts over (its file replaced by a new one) while the page is away, and
    // the new feed passes the seq the page saw.
    std::fs::remove_file(&file).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_swcache-feed")).args(["init", "--feed"]).arg(&file).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for i in 1..=7 {
        let (status, v) = post(&c, &s.base, &json!({ "urls": [format!("/new/{i}")] }), None).await.unwrap();
        assert_eq!(status, 201, "{v}");
    }
    let (back, _t) = live(&s, Some(&seen)).await;
    until(Duration::from_secs(10), "the new feed's seven", || seqs(&back).len() == 7).await;
    let got = back.lock().unwrap().clone();
    let urls: Vec<&str> = got.iter().map(|g| g.data["urls"][0].as_str().unwrap()).collect();
    assert_eq!(urls, (1..=7).map(|i| format!("/new/{i}")).collect::<Vec<_>>(), "none of the new feed skipped");
    assert_ne!(got[0].raw_id.split_once('.').unwrap().1, seen.split_once('.').unwrap().1, "a new epoch in the ids");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_ahead_of_an_instance_that_cannot_read_its_store_is_told_to_come_back() {
    let dir = scratch("ahead");
    let file = dir.join("feed.json");
    let s = Service::start(&dir, &format!("file:{}", file.display()), &[]);
    let c = client();
    assert_eq!(post(&c, &s.base, &json!({ "urls": ["/a/1"] }), None).await.unwrap().0, 201);
    let epoch: Value = c.get(format!("{}/v1/seq", s.base)).send().await.unwrap().json().await.unwrap();
    let epoch = epoch["epoch"].as_str().unwrap().to_string();
    // The instance stops reading its store (here its file turns unreadable), and entry 2
    // is published meanwhile; a page saw it (from another instance) and reconnects here.
    let aside = dir.join("aside.json");
    std::fs::rename(&file, &aside).unwrap();
    std::fs::create_dir(&file).unwrap();
    let down = healthz_answers(&c, &s.base, 503).await;
    assert!(down, "the instance cannot read its store");
    let out = Command::new(env!("CARGO_BIN_EXE_swcache-feed"))
        .args(["add", "--url", "/a/2", "--feed"])
        .arg(&aside)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2");
    let seen = format!("2.{epoch}");
    let inbox: Inbox = Arc::default();
    let ended = tokio::time::timeout(
        Duration::from_secs(5),
        listen(s.base.clone(), Some(seen.clone()), inbox.clone(), Arc::default()),
    )
    .await;
    let got = inbox.lock().unwrap().clone();
    assert!(got.is_empty(), "told to come back keeping its place, it was sent {got:?}");
    assert!(matches!(ended, Ok(Ok(()))), "the stream ends so that the page comes back: {ended:?}");
    // Once the store reads again, the page resumes where it was: no reset, no repeat.
    std::fs::remove_dir(&file).unwrap();
    std::fs::rename(&aside, &file).unwrap();
    while seq_of(&c, &s.base).await < 2 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (back, _t) = live(&s, Some(&seen)).await;
    assert_eq!(post(&c, &s.base, &json!({ "urls": ["/a/3"] }), None).await.unwrap().0, 201);
    until(Duration::from_secs(10), "entry 3", || seqs(&back).contains(&3)).await;
    let got = back.lock().unwrap().clone();
    assert_eq!((got.len(), got[0].kind.as_str(), got[0].id), (1, "message", 3), "{got:?}");
}

/// Reads a live stream until an event's `id:` line; returns the id.
async fn first_id(res: reqwest::Response) -> String {
    let mut stream = res.bytes_stream();
    let mut text = String::new();
    while let Some(Ok(chunk)) = stream.next().await {
        text.push_str(&String::from_utf8_lossy(&chunk));
        if let Some(id) = text.lines().find_map(|l| l.strip_prefix("id: ")) {
            return id.to_string();
        }
    }
    panic!("the stream ended without an event: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_without_an_epoch_takes_back_the_ids_it_sends() {
    let dir = scratch("no-epoch");
    let file = dir.join("feed.json");
    // A feed a CMS wrote itself: the format does not require an epoch.
    let entry = r#"{"seq":1,"timestamp":"2026-12-01T10:00:00.000Z","urls":["/cms/1"]}"#;
    std::fs::write(&file, format!("{{\"swcacheFeed\":1,\"seq\":1,\"entries\":[\n{entry}\n]}}\n")).unwrap();
    let s = Service::start(&dir, &format!("file:{}", file.display()), &[]);
    let c = client();
    let get = |last: String| c.get(format!("{}/v1/events", s.base)).header("last-event-id", last).send();
    let id = tokio::time::timeout(Duration::from_secs(10), first_id(get("0".into()).await.unwrap())).await.unwrap();
    // The page's EventSource reconnects with the id it was sent, and resumes after it.
    let res = get(id.clone()).await.unwrap();
    if res.status() != 200 {
        panic!("Last-Event-ID {id}: {} {}", res.status(), res.text().await.unwrap());
    }
    assert_eq!(post(&c, &s.base, &json!({ "urls": ["/cms/2"] }), None).await.unwrap().0, 201);
    let next = tokio::time::timeout(Duration::from_secs(10), first_id(res)).await.unwrap();
    assert_eq!(next.split_once('.').map(|(seq, _)| seq), Some("2"), "entry 2, after the one it saw");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_stream_resumes_where_the_query_says() {
    let dir = scratch("resume-query");
    let s = Service::start(&dir, &format!("file:{}", dir.join("feed.json").display()), &[]);
    let c = client();
    for n in 1..=3 {
        assert_eq!(post(&c, &s.base, &json!({ "urls": [format!("/q/{n}")] }), None).await.unwrap().0, 201);
    }
    let events = |query: &str, header: Option<&str>| {
        let req = c.get(format!("{}/v1/events{query}", s.base));
        match header {
            Some(h) => req.header("last-event-id", h),
            None => req,
        }
        .send()
    };
    let first = |res| tokio::time::timeout(Duration::from_secs(10), first_id(res));
    let one = first(events("", Some("0")).await.unwrap()).await.unwrap();
    let (seq, epoch) = one.split_once('.').unwrap();
    assert_eq!(seq, "1");
    // A new stream (no id) is told where it starts, before any entry: the page holding it
    // can hand it over from there.
    let text = tokio::time::timeout(Duration::from_secs(10), async {
        let mut stream = events("", None).await.unwrap().bytes_stream();
        let mut text = String::new();
        while !text.contains("\n\n") {
            text.push_str(&String::from_utf8_lossy(&stream.next().await.unwrap().unwrap()));
        }
        text
    })
    .await
    .unwrap();
    let block = text.split("\n\n").next().unwrap();
    for line in ["event: position", &format!("id: 3.{epoch}"), "data: {}", "retry: 1000"] {
        assert!(block.lines().any(|l| l == line), "{line:?} in the first event: {block:?}");
    }
    // A page opening a new stream (an EventSource sends no header of its own) names where
    // the last one left off.
    let res = events(&format!("?lastEventId={one}"), None).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(first(res).await.unwrap(), format!("2.{epoch}"));
    // The browser's reconnect sends the header, the id it read last: that wins.
    let res = events(&format!("?lastEventId={one}"), Some(&format!("2.{epoch}"))).await.unwrap();
    assert_eq!(first(res).await.unwrap(), format!("3.{epoch}"));
    let res = events("?lastEventId=yesterday", None).await.unwrap();
    assert_eq!(res.status(), 400);
    let text = res.text().await.unwrap();
    assert!(text.contains("must be an id this service sent") && text.contains("yesterday"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_clients_get_what_other_publishers_write_to_the_file() {
    let dir = scratch("external");
    let file = dir.join("feed.json");
    let out = Command::new(env!("CARGO_BIN_EXE_swcache-feed")).args(["init", "--feed"]).arg(&file).output().unwrap();
    assert!(out.status.success());
    let s = Service::start(&dir, &format!("file:{}", file.display()), &[]);
    let c = client();
    let (inbox, _task) = live(&s, None).await;
    // Another process (a CMS on the same machine) publishes with the command.
    for url in ["/ext/1", "/ext/2"] {
        let out = Command::new(env!("CARGO_BIN_EXE_swcache-feed"))
            .args(["add", "--url", url, "--feed"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    assert_eq!(post(&c, &s.base, &json!({ "urls": ["/svc/3"] }), None).await.unwrap().0, 201);
    until(Duration::from_secs(10), "three entries", || seqs(&inbox).len() == 3).await;
    let got = inbox.lock().unwrap().clone();
    let urls: Vec<&str> = got.iter().map(|g| g.data["urls"][0].as_str().unwrap()).collect();
    assert_eq!(urls, ["/ext/1", "/ext/2", "/svc/3"]);
    assert_eq!(seqs(&inbox), [1, 2, 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_201_the_same_instance_serves_the_entry() {
    let redis = Redis::start("ryw");
    let dir = scratch("ryw");
    let file = Service::start(&dir, &format!("file:{}", dir.join("feed.json").display()), &[]);
    let shared = Service::start(&dir, &redis.url(), &[]);
    let c = client();
    for s in [&file, &shared] {
        for i in 0..100 {
            let (status, v) = post(&c, &s.base, &json!({ "urls": [format!("/ryw/{i}")] }), None).await.unwrap();
            assert_eq!(status, 201);
            let seq = v["seq"].as_u64().unwrap();
            assert!(seq_of(&c, &s.base).await >= seq, "publish {i}: /v1/seq behind the acknowledged seq");
            assert!(feed_of(&c, &s.base).await.1.contains(&format!("\"/ryw/{i}\"")), "publish {i}: the feed lacks it");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_store_lost_its_data_a_publish_waits_until_its_entry_is_served() {
    use swcache::policy::value::Value as V;
    use swcache::service::{hub::Hub, metrics::Metrics};
    let dir = scratch("wiped");
    let file = dir.join("feed.json");
    let store = Arc::new(Store::open(&format!("file:{}", file.display()), 200, "swcache").await.unwrap());
    let url = |i: u64| vec![("urls".to_string(), V::Arr(vec![V::Str(format!("/w/{i}"))]))];
    store.init().await.unwrap();
    for i in 0..3 {
        store.publish(url(i), 1_795_000_000_000.0, None).await.unwrap();
    }
    let hub = Hub::new(store.clone(), Arc::new(Metrics::new()));
    hub.refresh().await;
    assert_eq!(hub.current().unwrap().feed.seq, 3);
    // The store loses its data (a new file; a Redis without persistence restarting): the
    // next entry is seq 1 of a new epoch, a seq the feed this instance holds has passed.
    std::fs::remove_file(&file).unwrap();
    let fresh = store.init().await.unwrap();
    let p = store.publish(url(9), 1_795_000_000_500.0, None).await.unwrap();
    assert_eq!(p.seq, 1);
    hub.refresh_to_entry(p.seq, p.at_ms).await;
    let cur = hub.current().unwrap();
    assert_eq!(
        (cur.feed.epoch.as_str(), cur.feed.seq),
        (fresh.epoch.as_str(), 1),
        "the entry is served before the 201"
    );
}

// ----- bad input -----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_4xx_and_changes_nothing() {
    let dir = scratch("bad");
    let feed_file = dir.join("feed.json");
    let s = Service::start(&dir, &format!("file:{}", feed_file.display()), &[]);
    let c = client();
    assert_eq!(post(&c, &s.base, &json!({ "tags": ["ok"] }), None).await.unwrap().0, 201);
    let before = std::fs::read(&feed_file).unwrap();
    let e = |body: &str| body.to_string();
    let hours_ahead = swcache::policy::time::iso_string(swcache::service::now_ms() + 3.0 * 3600e3);
    let cases: Vec<(&str, Option<&str>, String, u16, &str)> = vec![
        ("no token", None, e(r#"{"all":true}"#), 401, "missing bearer token"),
        ("wrong token", Some("Bearer wrong-token-0123456789"), e(r#"{"all":true}"#), 401, "wrong token"),
        ("malformed JSON", Some("ok"), e(r#"{"urls":["/a"]"#), 400, "not JSON"),
        ("not an object", Some("ok"), e(r#"["/a"]"#), 400, "must be a JSON object"),
        ("urls not a list", Some("ok"), e(r#"{"urls":"/a"}"#), 400, "'urls' must be an array"),
        ("all not true", Some("ok"), e(r#"{"all":"yes"}"#), 400, "'all' must be true"),
        ("nothing said", Some("ok"), e(r#"{}"#), 400, "say what"),
        ("unknown field", Some("ok"), e(r#"{"all":true,"purge":1}"#), 400, "unknown field 'purge'"),
        ("cross-origin", Some("ok"), e(r#"{"urls":["https://evil.example/a"]}"#), 400, "cross-origin"),
        ("relative", Some("ok"), e(r#"{"urls":["promo/a"]}"#), 400, "root-relative"),
        ("backslash", Some("ok"), e(r#"{"urls":["/\\evil.example/x"]}"#), 400, "backslash"),
        ("tab", Some("ok"), e(r#"{"prefixes":["/\t/evil.example/"]}"#), 400, "control characters"),
        ("newline", Some("ok"), e(r#"{"urls":["/\n/evil.example/x"]}"#), 400, "control characters"),
        ("bad tag", Some("ok"), e(r#"{"tags":["a,b"]}"#), 400, "without commas"),
        ("bad route", Some("ok"), e(r#"{"routes":["a b"]}"#), 400, "route name"),
        ("2 MB", Some("ok"), format!(r#"{{"urls":["/{}"]}}"#, "x".repeat(2 << 20)), 413, "larger than"),
        ("hours ahead", Some("ok"), format!(r#"{{"all":true,"timestamp":"{hours_ahead}"}}"#), 400, "future"),
        ("bad timestamp", Some("ok"), e(r#"{"all":true,"timestamp":"yesterday"}"#), 400, "ISO 8601"),
        ("from a browser", Some("origin"), e(r#"{"all":true}"#), 403, "from a browser"),
    ];
    for (name, auth, body, want, says) in cases {
        let mut req = c.post(format!("{}/v1/entries", s.base)).body(body);
        match auth {
            Some("ok") => req = req.bearer_auth(TOKEN),
            Some("origin") => req = req.bearer_auth(TOKEN).header("origin", "https://www.example.com"),
            Some(h) => req = req.header("authorization", h),
            None => {}
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let v: Value = res.json().await.unwrap_or(Value::Null);
        assert_eq!(status, want, "{name}: {v}");
        assert!(v["error"].as_str().unwrap_or("").contains(says), "{name}: {v}");
    }
    // 10,001 URLs in a small enough body: refused for the count.
    let urls: Vec<String> = (0..10_001).map(|i| format!("/{i}")).collect();
    let (status, v) = post(&c, &s.base, &json!({ "urls": urls }), None).await.unwrap();
    assert_eq!(status, 400, "{v}");
    assert!(v["error"].as_str().unwrap().contains("more than 10000"), "{v}");
    let (status, v) = post(&c, &s.base, &json!({ "all": true }), Some("bad key with spaces")).await.unwrap();
    assert_eq!((status, v["error"].as_str().unwrap().contains("Idempotency-Key")), (400, true));
    for bad in ["abc", "99999999999999999999", "-1", ".e1", "5.a b", "5.e1.e2"] {
        let res = c.get(format!("{}/v1/events", s.base)).header("last-event-id", bad).send().await.unwrap();
        assert_eq!(res.status(), 400, "Last-Event-ID {bad}");
        let v: Value = res.json().await.unwrap();
        assert!(v["error"].as_str().unwrap().contains("Last-Event-ID"));
    }
    assert_eq!(std::fs::read(&feed_file).unwrap(), before, "the refusals changed nothing");
    // Each refusal is in the operator's log with why, on one line (what the client sent
    // cannot add lines of its own), and never the token.
    let log = s.log_text();
    for says in ["not JSON", "cross-origin", "control characters", "larger than", "more than 10000", "Idempotency-Key"]
    {
        assert!(log.lines().any(|l| l.contains("publish refused") && l.contains(says)), "{says}: {log}");
    }
    assert!(!log.lines().any(|l| l.starts_with("/evil.example/")), "a line injected by a URL: {log}");
    assert!(!log.contains(TOKEN), "the token is never logged: {log}");
    // A wrong method gets the same JSON error as every other refusal.
    let res = c.get(format!("{}/v1/entries", s.base)).send().await.unwrap();
    assert_eq!(res.status(), 405);
    let v: Value = res.json().await.unwrap();
    assert!(v["error"].as_str().unwrap().contains("GET is not allowed"), "{v}");
    // The scheme's name is case-insensitive (RFC 9110).
    let res = c
        .post(format!("{}/v1/entries", s.base))
        .header("authorization", format!("BEARER {TOKEN}"))
        .body("{\"tags\":[\"caps\"]}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "Authorization: BEARER <token>");
    let before = std::fs::read(&feed_file).unwrap();
    // A body sent one byte a second is cut off by the body timeout.
    let mut slow = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    write!(
        slow,
        "POST /v1/entries HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {TOKEN}\r\ncontent-length: 100\r\n\r\n"
    )
    .unwrap();
    slow.set_read_timeout(Some(Duration::from_millis(900))).unwrap();
    let start = Instant::now();
    let mut answer = Vec::new();
    while start.elapsed() < Duration::from_secs(20) {
        if slow.write_all(b" ").is_err() {
            break;
        }
        let mut buf = [0u8; 512];
        match slow.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                break;
            }
            Err(_) => {}
        }
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "slow body: {answer}");
    assert!(start.elapsed() < Duration::from_secs(15));
    assert_eq!(std::fs::read(&feed_file).unwrap(), before, "nothing changed");
    assert_eq!(seq_of(&c, &s.base).await, 2);
    let metrics = c.get(format!("{}/metrics", s.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("swcache_feed_publishes_refused_total{reason=\"auth\"} 3"), "{metrics}");
    assert!(metrics.contains("swcache_feed_entries_published_total 2"), "{metrics}");
}

#[test]
fn serve_refuses_to_start_without_a_token_unless_on_loopback() {
    let run = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_swcache-feed")).args(args).output().unwrap();
    let out = run(&["serve", "--listen", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--token-file"));
    let out = run(&["serve", "--listen", "0.0.0.0:0", "--insecure-no-token"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refused on 0.0.0.0"));
    let dir = scratch("short-token");
    std::fs::write(dir.join("t"), "short\n").unwrap();
    let out = run(&["serve", "--token-file", dir.join("t").to_str().unwrap(), "--listen", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("too short"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_file_saved_on_windows_works_for_the_service_and_for_add() {
    let dir = scratch("windows-tokens");
    // A byte order mark, CRLF line ends and a trailing space, as Notepad may save it.
    std::fs::write(dir.join("tokens.txt"), format!("\u{feff}{TOKEN} \r\n")).unwrap();
    let s = Service::start(&dir, &format!("file:{}", dir.join("feed.json").display()), &[]);
    let c = client();
    assert_eq!(post(&c, &s.base, &json!({ "all": true }), None).await.unwrap().0, 201, "{}", s.log_text());
    let out = Command::new(env!("CARGO_BIN_EXE_swcache-feed"))
        .args(["add", "--url", "/a", "--server", &s.base, "--token-file"])
        .arg(dir.join("tokens.txt"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2");
    // A character no Authorization header can carry is refused at start, naming the file.
    std::fs::write(dir.join("accent.txt"), format!("{TOKEN}é\n")).unwrap();
    let file = dir.join("accent.txt");
    let (code, err) = serve_exit(&["--listen", "127.0.0.1:0", "--token-file", file.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("accent.txt") && err.contains("visible ASCII"), "{err}");
}

/// A private CA and a certificate it signed for 127.0.0.1, made by openssl as an operator
/// would make them: `ca.pem`, `leaf.pem` and `leaf.key` in `dir`.
fn private_ca(dir: &Path) {
    let ext = dir.join("leaf.ext");
    std::fs::write(&ext, "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
        .unwrap();
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    for args in [
        [
            &["req", "-x509"][..],
            &ec,
            &["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=swcache test CA"],
        ]
        .concat(),
        [&["req"][..], &ec, &["-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=127.0.0.1"]].concat(),
        vec![
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            "leaf.pem",
            "-extfile",
            "leaf.ext",
        ],
    ] {
        let out = Command::new("openssl").args(&args).current_dir(dir).output().expect("openssl (Debian's)");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

/// A TLS terminator in front of the service on `backend`, as an operator's proxy is:
/// `leaf.pem` and `leaf.key` in `dir`. Its port.
async fn tls_front(dir: &Path, backend: u16) -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_file_iter(dir.join("leaf.pem")).unwrap().map(Result::unwrap).collect();
    let key = PrivateKeyDer::from_pem_file(dir.join("leaf.key")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(ring()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                if let Ok(mut up) = tokio::net::TcpStream::connect(("127.0.0.1", backend)).await {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
                }
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_publishes_to_a_service_behind_https_whose_ca_the_operator_trusts() {
    let dir = scratch("https");
    private_ca(&dir);
    let s = Service::start(&dir, &format!("file:{}", dir.join("feed.json").display()), &[]);
    let server = format!("https://127.0.0.1:{}", tls_front(&dir, s.port).await);
    let add = |trust: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_swcache-feed"));
        c.args(["add", "--url", "/promo/a", "--server", &server, "--token-file"])
            .arg(dir.join("tokens.txt"))
            .env_remove("SSL_CERT_FILE")
            .env_remove("SSL_CERT_DIR");
        if let Some(file) = trust {
            c.env("SSL_CERT_FILE", dir.join(file));
        }
        c.output().unwrap()
    };
    // The private CA trusted (SSL_CERT_FILE, as rustls-native-certs reads it): published.
    let out = add(Some("ca.pem"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1");
    let feed = std::fs::read_to_string(dir.join("feed.json")).unwrap();
    assert!(feed.contains("\"/promo/a\""), "{feed}");
    // Not trusted (the system's roots only): refused, saying it is the certificate.
    let out = add(None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&server) && err.contains("certificate") && err.contains("UnknownIssuer"), "{err}");
    assert!(err.contains("SSL_CERT_FILE"), "says how to trust a private CA: {err}");
    assert!(!std::fs::read_to_string(dir.join("feed.json")).unwrap().contains("\"seq\":2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cors_origin_written_with_capitals_or_a_default_port_matches_what_browsers_send() {
    let dir = scratch("cors-forms");
    let s = Service::start(
        &dir,
        &format!("file:{}", dir.join("feed.json").display()),
        &["--cors-origin", "https://WWW.Example.com/", "--cors-origin", "http://localhost:80"],
    );
    let c = client();
    for origin in ["https://www.example.com", "http://localhost"] {
        let res = c.get(format!("{}/v1/seq", s.base)).header("origin", origin).send().await.unwrap();
        assert_eq!(
            res.headers().get("access-control-allow-origin").map(|v| v.to_str().unwrap()),
            Some(origin),
            "a browser's Origin: {origin}"
        );
    }
    // What can never match a browser's Origin is refused at start, naming the option.
    for bad in ["https://*.example.com", "https://www.example.com/app", "*", "https://bücher.example"] {
        let (code, err) = serve_exit(&["--listen", "127.0.0.1:0", "--insecure-no-token", "--cors-origin", bad]);
        assert_eq!(code, Some(2), "{bad}: {err}");
        assert!(err.contains("--cors-origin"), "{bad}: {err}");
    }
}

// A page's fetch() with a header of its own (If-None-Match, Last-Event-ID from an SSE
// reader built on fetch) is preflighted: the listed origin gets the CORS answer, not 405.
#[tokio::test]
async fn a_listed_origin_preflight_is_answered_with_the_cors_headers() {
    let dir = scratch("cors-preflight");
    let s = Service::start(
        &dir,
        &format!("file:{}", dir.join("feed.json").display()),
        &["--cors-origin", "https://www.example.com"],
    );
    let c = client();
    for (path, asked) in
        [("/swcache-feed.json", "if-none-match"), ("/v1/events", "last-event-id"), ("/v1/seq", "cache-control")]
    {
        let res = c
            .request(reqwest::Method::OPTIONS, format!("{}{path}", s.base))
            .header("origin", "https://www.example.com")
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", asked)
            .send()
            .await
            .unwrap();
        let h = |name: &str| res.headers().get(name).map(|v| v.to_str().unwrap().to_ascii_lowercase());
        assert!(res.status().is_success(), "{path}: {}", res.status());
        assert_eq!(h("access-control-allow-origin").as_deref(), Some("https://www.example.com"), "{path}");
        assert!(h("access-control-allow-headers").unwrap_or_default().contains(asked), "{path}");
    }
    // Another origin is not allowed; an endpoint without CORS still refuses OPTIONS.
    let res = c
        .request(reqwest::Method::OPTIONS, format!("{}/swcache-feed.json", s.base))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
    let res = c.request(reqwest::Method::OPTIONS, format!("{}/v1/entries", s.base)).send().await.unwrap();
    assert_eq!(res.status(), 405);
    let v: Value = res.json().await.unwrap();
    assert!(v["error"].as_str().unwrap().contains("OPTIONS is not allowed"), "{v}");
    let res = c.request(reqwest::Method::DELETE, format!("{}/v1/seq", s.base)).send().await.unwrap();
    assert_eq!(res.status(), 405, "another method on a CORS endpoint");
    let v: Value = res.json().await.unwrap();
    assert!(v["error"].as_str().unwrap().contains("DELETE is not allowed"), "{v}");
}

/// How `swcache-feed serve ARGS` exits within 3 s (`None`: it is still running, and is
/// stopped), and what it said on stderr.
fn serve_exit(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_swcache-feed"))
        .arg("serve")
        .args(args)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if start.elapsed() > Duration::from_secs(3) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    (code, err)
}

#[test]
fn serve_refuses_a_feed_path_or_cache_control_it_could_never_serve() {
    let dir = scratch("unservable");
    let store = format!("file:{}", dir.join("feed.json").display());
    for (flag, bad) in [
        ("--feed-path", "/swcache-feed.json?v=2"),
        ("--feed-path", "/swcache feed.json"),
        ("--feed-path", "/feeds/{site}.json"),
        ("--feed-path", "/:feed"),
        ("--cache-control", "public,\nmax-age=5"),
    ] {
        let (code, err) = serve_exit(&["--listen", "127.0.0.1:0", "--insecure-no-token", "--store", &store, flag, bad]);
        assert_eq!(code, Some(2), "{flag} {bad:?}: {err}");
        assert!(err.starts_with(&format!("swcache-feed: {flag}")), "{flag} {bad:?}: {err}");
    }
}

// ----- operations ----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_file_rewritten_in_place_is_read_again_until_it_settles() {
    let dir = scratch("racy-tokens");
    let s = Service::start(&dir, &format!("file:{}", dir.join("feed.json").display()), &[]);
    let c = client();
    let file = dir.join("tokens.txt");
    let publish = |token: &'static str| {
        let req = c.post(format!("{}/v1/entries", s.base)).bearer_auth(token).body(r#"{"all":true}"#);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    // An editor rewrites the file in place: the service reads it between the two writes,
    // and both writes get one mtime (a coarse filesystem clock, here set by hand).
    let (half, whole) = ("half-written-token", "half-written-token-and-the-rest");
    std::fs::write(&file, format!("{half}\n")).unwrap();
    let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
    assert_eq!(publish(half).await, 201);
    let f = std::fs::OpenOptions::new().write(true).truncate(true).open(&file).unwrap();
    (&f).write_all(format!("{whole}\n").as_bytes()).unwrap();
    f.set_modified(mtime).unwrap();
    drop(f);
    assert_eq!(publish(whole).await, 201, "the whole token, once written, is accepted");
    assert_eq!(publish(half).await, 401, "the half-written one is not");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_removed_from_the_file_is_refused_even_when_no_valid_token_is_left() {
    let dir = scratch("revoked-tokens");
    let s = Service::start(&dir, &format!("file:{}", dir.join("feed.json").display()), &[]);
    let c = client();
    let file = dir.join("tokens.txt");
    assert_eq!(post(&c, &s.base, &json!({ "all": true }), None).await.unwrap().0, 201);
    // The only token leaked: the operator removes its line before a new one is issued,
    // or deletes the file.
    std::fs::write(&file, "# revoked, a new token follows\n").unwrap();
    assert_eq!(post(&c, &s.base, &json!({ "all": true }), None).await.unwrap().0, 401, "{}", s.log_text());
    std::fs::remove_file(&file).unwrap();
    assert_eq!(post(&c, &s.base, &json!({ "all": true }), None).await.unwrap().0, 401, "{}", s.log_text());
    assert!(s.log_text().contains("the token file could not be read again"), "the log says why: {}", s.log_text());
    // The new token, once written, works; the old one stays refused.
    let new = "issued-after-the-leak-0123456789";
    std::fs::write(&file, format!("{new}\n")).unwrap();
    let res = c.post(format!("{}/v1/entries", s.base)).bearer_auth(new).body(r#"{"all":true}"#).send().await.unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(post(&c, &s.base, &json!({ "all": true }), None).await.unwrap().0, 401);
    assert_eq!(seq_of(&c, &s.base).await, 2, "only the first and the new token's publish");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_rotate_without_a_restart_and_sigterm_closes_live_clients() {
    let dir = scratch("ops");
    let mut s = Service::start(
        &dir,
        &format!("file:{}", dir.join("feed.json").display()),
        &["--cors-origin", "http://localhost:8080"],
    );
    let c = client();
    assert_eq!(post(&c, &s.base, &json!({ "all": true }), None).await.unwrap().0, 201);
    // Rotation: the new token and the old one for a while, then only the new one.
    let new = "rotated-token-abcdef0123456789";
    std::fs::write(dir.join("tokens.txt"), format!("{new}\n")).unwrap();
    let res = c.post(format!("{}/v1/entries", s.base)).bearer_auth(new).body(r#"{"all":true}"#).send().await.unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(post(&c, &s.base, &json!({ "all": true }), None).await.unwrap().0, 401, "the old token is gone");
    // CORS for the named origin on the reads, never on publish.
    let res =
        c.get(format!("{}/swcache-feed.json", s.base)).header("origin", "http://localhost:8080").send().await.unwrap();
    assert_eq!(res.headers()["access-control-allow-origin"], "http://localhost:8080");
    let res =
        c.get(format!("{}/swcache-feed.json", s.base)).header("origin", "http://evil.example").send().await.unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
    let res = c
        .request(reqwest::Method::OPTIONS, format!("{}/v1/entries", s.base))
        .header("origin", "http://localhost:8080")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none(), "publish is never open to browsers");
    // gzip when accepted, and its own strong ETag.
    let res = c.get(format!("{}/swcache-feed.json", s.base)).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(res.headers()["content-encoding"], "gzip");
    assert!(res.headers()["etag"].to_str().unwrap().ends_with("-gz\""));
    // SIGTERM: live clients are closed, the process exits 0.
    let (_inbox, task) = live(&s, None).await;
    let health: Value = c.get(format!("{}/healthz", s.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["clients"], 1);
    Command::new("kill").args(["-TERM", &s.pid().to_string()]).status().unwrap();
    tokio::time::timeout(Duration::from_secs(5), task).await.expect("the live stream ends").unwrap().unwrap();
    let mut child = s.child.take().unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
    assert!(status.success(), "{status:?}");
    assert!(s.log_text().contains("stopped"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relative_file_store_is_named_by_its_absolute_path() {
    // Under systemd the working directory is `/`: the start line and /healthz name the
    // file the service uses, not the relative path it was given.
    let dir = scratch("relative");
    let s = Service::start(&dir, "file:feed.json", &[]);
    let named = format!("file:{}", dir.canonicalize().unwrap().join("feed.json").display());
    let log = s.log_text();
    let start = log.lines().find(|l| l.contains("publish at POST")).unwrap_or_default();
    assert!(start.contains(&format!("store={named} ")), "the start line: {log}");
    let c = client();
    assert_eq!(post(&c, &s.base, &json!({ "all": true }), None).await.unwrap().0, 201);
    assert!(dir.join("feed.json").exists(), "the file is the working directory's");
    let health: Value = c.get(format!("{}/healthz", s.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["store"], named.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_file_other_users_can_read_or_write_is_warned_of_at_start() {
    use std::os::unix::fs::PermissionsExt;
    let c = client();
    let modes =
        [(0o644, Some("readable")), (0o600, None), (0o602, Some("writable")), (0o666, Some("readable and writable"))];
    for (mode, what) in modes {
        let dir = scratch(&format!("token-mode-{mode:o}"));
        let tokens = dir.join("tokens.txt");
        std::fs::write(&tokens, format!("{TOKEN}\n")).unwrap();
        std::fs::set_permissions(&tokens, std::fs::Permissions::from_mode(mode)).unwrap();
        let s = Service::start(&dir, &format!("file:{}", dir.join("feed.json").display()), &[]);
        let log = s.log_text();
        let warning = log.lines().filter(|l| l.contains("WARN")).collect::<Vec<_>>();
        assert_eq!(warning.len(), usize::from(what.is_some()), "mode {mode:o}: {log}");
        if let Some(what) = what {
            assert!(warning[0].contains(&format!("is {what} by every user")), "mode {mode:o}: {log}");
            assert!(warning[0].contains(&format!("chmod 600 {}", tokens.display())), "mode {mode:o}: {log}");
        }
        assert_eq!(post(&c, &s.base, &json!({ "all": true }), None).await.unwrap().0, 201, "it serves all the same");
    }
}

#[test]
fn a_redis_that_wants_a_password_the_url_lacks_is_said_so() {
    let redis = Redis::start("password");
    let mut s = TcpStream::connect(("127.0.0.1", redis.port)).unwrap();
    s.write_all(b"CONFIG SET requirepass test-password-0123\r\n").unwrap();
    let mut ok = [0u8; 5];
    s.read_exact(&mut ok).unwrap();
    assert_eq!(&ok, b"+OK\r\n");
    let said = |err: &str| err.contains("requires a password") && err.contains("redis://:PASSWORD@");
    // (Another DB than 0: the client's SELECT is refused first.)
    for url in [redis.url(), format!("redis://127.0.0.1:{}/2", redis.port)] {
        let (code, err) = serve_exit(&["--listen", "127.0.0.1:0", "--insecure-no-token", "--store", &url]);
        assert_eq!(code, Some(1), "{url}: the service stops at start: {err}");
        assert!(said(&err), "{url}: {err}");
    }
    let add =
        |url: &str| Command::new(env!("CARGO_BIN_EXE_swcache-feed")).args(["add", "--all", "--store", url]).output();
    let out = add(&redis.url()).unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(said(&err), "not Redis's protocol error: {err}");
    // With the password in the URL, both work.
    let url = format!("redis://:test-password-0123@127.0.0.1:{}/0", redis.port);
    let out = add(&url).unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1\n", "{}", String::from_utf8_lossy(&out.stderr));
    let (code, err) = serve_exit(&["--listen", "127.0.0.1:0", "--insecure-no-token", "--store", &url]);
    assert_eq!(code, None, "it runs: {err}");
}

/// Sends Redis each of `commands` (inline, one line each) on one connection; the first
/// line of each reply.
fn redis_say(port: u16, commands: &[&str]) -> Vec<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut replies = vec![];
    for cmd in commands {
        s.write_all(format!("{cmd}\r\n").as_bytes()).unwrap();
        let mut line = Vec::new();
        let mut b = [0u8; 1];
        while !line.ends_with(b"\r\n") {
            s.read_exact(&mut b).unwrap();
            line.push(b[0]);
        }
        replies.push(String::from_utf8_lossy(&line[..line.len() - 2]).into_owned());
    }
    replies
}

/// Polls `GET /healthz` until its error says `what` (10 s at most); its body.
async fn health_saying(c: &reqwest::Client, base: &str, what: &str) -> Value {
    let mut v = Value::Null;
    for _ in 0..500 {
        v = c.get(format!("{base}/healthz")).send().await.unwrap().json().await.unwrap();
        if v["error"].as_str().is_some_and(|e| e.contains(what)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    v
}

/// Publishes until the error says `what` (10 s at most); the last status and body.
async fn publish_saying(c: &reqwest::Client, base: &str, what: &str) -> (u16, Value) {
    let mut got = (0, Value::Null);
    for _ in 0..100 {
        got = post(c, base, &json!({ "all": true }), None).await.unwrap();
        if got.1["error"].as_str().is_some_and(|e| e.contains(what)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_key_holding_another_type_is_named_and_not_called_an_outage() {
    let redis = Redis::start("wrongtype");
    // A site reused the key name for a string of its own.
    assert_eq!(redis_say(redis.port, &["SET {swcache}:entries site-data"]), ["+OK"]);
    let dir = scratch("wrongtype");
    let s = Service::start(&dir, &redis.url(), &[]);
    let c = client();
    let said = |text: &str| {
        text.contains("{swcache}:entries holds a string")
            && text.contains("a list")
            && text.contains("--namespace")
            && !text.contains("unavailable")
    };
    let (status, v) = post(&c, &s.base, &json!({ "urls": ["/a"] }), None).await.unwrap();
    assert_eq!(status, 503, "{v}");
    assert!(said(v["error"].as_str().unwrap_or_default()), "publish: {v}");
    let health = health_saying(&c, &s.base, "{swcache}:entries").await;
    assert!(said(health["error"].as_str().unwrap_or_default()), "healthz: {health}");
    assert_eq!(health["status"], "invalid", "not an outage: {health}");
    let res = c.get(format!("{}/swcache-feed.json", s.base)).send().await.unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.headers().get("retry-after").is_none(), "retrying does not help");
    let v: Value = res.json().await.unwrap();
    assert!(said(v["error"].as_str().unwrap_or_default()), "the feed: {v}");
    let log = s.log_text();
    assert!(said(&log) && !log.contains("does not answer"), "the log: {log}");
    assert_eq!(redis_say(redis.port, &["TYPE {swcache}:entries"]), ["+string"], "the site's key is left alone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_redis_password_is_said_to_fail_authentication() {
    let redis = Redis::start("wrongpass");
    let port = redis.port;
    assert_eq!(redis_say(port, &["CONFIG SET requirepass right-password-0123"]), ["+OK"]);
    let said = |text: &str| {
        text.contains("authentication failed") && text.contains("--store URL") && !text.contains("password-")
    };
    // The command and the service at start.
    let wrong = format!("redis://:wrong-password-4567@127.0.0.1:{port}/0");
    let out = Command::new(env!("CARGO_BIN_EXE_swcache-feed")).args(["add", "--all", "--store", &wrong]).output();
    let out = out.unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(said(&err), "add: {err}");
    let (code, err) = serve_exit(&["--listen", "127.0.0.1:0", "--insecure-no-token", "--store", &wrong]);
    assert_eq!(code, Some(1), "the service stops at start: {err}");
    assert!(said(&err), "serve: {err}");

    // The password changes while the service runs: its next connection is refused.
    let dir = scratch("wrongpass");
    let s = Service::start(&dir, &format!("redis://:right-password-0123@127.0.0.1:{port}/0"), &[]);
    let c = client();
    assert_eq!(post(&c, &s.base, &json!({ "all": true }), None).await.unwrap().0, 201);
    let changed = redis_say(
        port,
        &["AUTH right-password-0123", "CONFIG SET requirepass other-password-89ab", "CLIENT KILL TYPE normal"],
    );
    assert_eq!(changed[..2], ["+OK", "+OK"]);
    let (status, v) = publish_saying(&c, &s.base, "authentication failed").await;
    assert_eq!(status, 503);
    assert!(said(v["error"].as_str().unwrap_or_default()), "publish: {v}");
    let health = health_saying(&c, &s.base, "authentication failed").await;
    assert!(said(health["error"].as_str().unwrap_or_default()), "healthz: {health}");
    assert_eq!(health["status"], "misconfigured", "{health}");
    assert!(said(&s.log_text()), "the log: {}", s.log_text());

    // A password set while a service without one runs (NOAUTH).
    let redis = Redis::start("noauth");
    let s = Service::start(&dir, &redis.url(), &[]);
    assert_eq!(post(&c, &s.base, &json!({ "all": true }), None).await.unwrap().0, 201);
    redis_say(redis.port, &["CONFIG SET requirepass new-password-cdef", "CLIENT KILL TYPE normal"]);
    let (status, v) = publish_saying(&c, &s.base, "authentication failed").await;
    assert_eq!(status, 503);
    let e = v["error"].as_str().unwrap_or_default();
    assert!(said(e) && e.contains("requires a password"), "publish: {v}");
    let health = health_saying(&c, &s.base, "authentication failed").await;
    assert!(said(health["error"].as_str().unwrap_or_default()), "healthz: {health}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_to_a_file_a_stuck_process_locks_answers_503_saying_so() {
    let dir = scratch("stuck-lock");
    let feed = dir.join("feed.json");
    let s = Service::start(&dir, &format!("file:{}", feed.display()), &[]);
    // A stuck writer: it holds the lock and never lets go.
    let lock = std::fs::File::options().create(true).truncate(false).write(true).open(dir.join("feed.lock")).unwrap();
    lock.lock().unwrap();
    let c = client();
    let start = Instant::now();
    let (status, v) = post(&c, &s.base, &json!({ "urls": ["/a"] }), None).await.unwrap();
    assert_eq!(status, 503, "{v}");
    let e = v["error"].as_str().unwrap_or_default();
    assert!(e.contains("feed.lock") && e.contains("held"), "{v}");
    assert!(start.elapsed() < Duration::from_secs(9), "it gave up before the request's own limit: {v}");
    drop(lock);
    let (status, v) = post(&c, &s.base, &json!({ "urls": ["/b"] }), None).await.unwrap();
    assert_eq!((status, v["seq"].as_u64()), (201, Some(1)), "the refused publish left nothing behind: {v}");
}

// ----- at scale ------------------------------------------------------------------------------

/// A live client that sends its request and then reads nothing (a frozen tab, a stuck
/// proxy): its receive window closes, and what the service writes to it piles up.
async fn stalled_client(s: &Service) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(format!("127.0.0.1:{}", s.port).parse().unwrap()).await.unwrap();
    stream.write_all(b"GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
    stream
}

async fn clients_of(c: &reqwest::Client, base: &str) -> u64 {
    let v: Value = c.get(format!("{base}/healthz")).send().await.unwrap().json().await.unwrap();
    v["clients"].as_u64().unwrap_or(u64::MAX)
}

/// Publishes `n` entries of about 150 KB each.
async fn publish_big(c: &reqwest::Client, base: &str, name: &str, n: usize) {
    for i in 0..n {
        let urls: Vec<String> = (0..3000).map(|j| format!("/{name}/{i:02}/{j:04}/{}", "x".repeat(24))).collect();
        assert_eq!(post(c, base, &json!({ "urls": urls }), None).await.unwrap().0, 201);
    }
}

/// Waits up to `limit` for the process to exit; kills it after that.
async fn exit_within(mut child: Child, limit: Duration) -> Option<std::process::ExitStatus> {
    tokio::task::spawn_blocking(move || {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_client_that_stops_reading_is_cut_off_and_sigterm_still_stops_the_service() {
    let dir = scratch("stalled");
    // --heartbeat 1: a client that takes nothing for 2 s is cut off.
    let mut s = Service::start(&dir, &format!("file:{}", dir.join("feed.json").display()), &["--heartbeat", "1"]);
    let c = client();
    let _stalled = stalled_client(&s).await;
    let (inbox, _task) = live(&s, None).await;
    while clients_of(&c, &s.base).await != 2 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // More than the stalled client's socket and the service's buffers for it hold.
    publish_big(&c, &s.base, "a", 10).await;
    until(Duration::from_secs(5), "the reading client to get all ten", || seqs(&inbox).len() == 10).await;
    // The stalled client is cut off (its page resumes with its Last-Event-ID when it
    // reads again), not counted and kept for good.
    let start = Instant::now();
    while clients_of(&c, &s.base).await != 1 {
        assert!(start.elapsed() < Duration::from_secs(6), "the stalled client is still connected after 6 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // SIGTERM with a stalled client: the service still stops.
    let _stalled_again = stalled_client(&s).await;
    publish_big(&c, &s.base, "b", 10).await;
    Command::new("kill").args(["-TERM", &s.pid().to_string()]).status().unwrap();
    let exited = exit_within(s.child.take().unwrap(), Duration::from_secs(6)).await;
    assert!(exited.is_some_and(|st| st.success()), "SIGTERM did not stop the service within 6 s: {exited:?}");
}

/// Opens a live stream on a plain socket (thousands of them cost the test little).
async fn raw_live(s: &Service) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", s.port)).await.unwrap();
    stream.write_all(b"GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
    stream
}

/// Reads `stream` until `what` has arrived, at most until `deadline`; whether it did.
async fn read_until(stream: &mut tokio::net::TcpStream, what: &str, deadline: tokio::time::Instant) -> bool {
    use tokio::io::AsyncReadExt;
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if String::from_utf8_lossy(&text).contains(what) {
            return true;
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => text.extend_from_slice(&buf[..n]),
            _ => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_live_clients_under_the_usual_open_files_limit_all_get_a_publish() {
    let dir = scratch("many");
    // The soft limit systemd gives a service (LimitNOFILE's default: 1024, hard 524288).
    let s = Service::start_under(
        &["prlimit", "--nofile=1024:"],
        &dir,
        &format!("file:{}", dir.join("feed.json").display()),
        &[],
    );
    let c = client();
    let mut streams = vec![];
    for _ in 0..2000 {
        streams.push(raw_live(&s).await);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    for (i, stream) in streams.iter_mut().enumerate() {
        assert!(read_until(stream, "retry: 1000", deadline).await, "live client {i} got no stream within 5 s");
    }
    assert_eq!(clients_of(&c, &s.base).await, 2000);
    let (status, v) = post(&c, &s.base, &json!({ "urls": ["/many"] }), None).await.unwrap();
    assert_eq!(status, 201, "{v}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    for (i, stream) in streams.iter_mut().enumerate() {
        assert!(read_until(stream, "\"/many\"", deadline).await, "live client {i} did not get the entry");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_resuming_on_a_store_without_a_feed_are_served_not_sent_back_every_second() {
    // A Redis without persistence restarted and lost the feed, and the service restarted
    // with it: the open pages come back with the ids of the feed that is gone.
    let redis = Redis::start("feedless");
    let dir = scratch("feedless");
    let s = Service::start(&dir, &redis.url(), &[]);
    let c = client();
    let mut pages = vec![];
    for _ in 0..20 {
        pages.push(live(&s, Some("7.gone")).await);
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let sent_back = pages.iter().filter(|(_, task)| task.is_finished()).count();
    assert_eq!(sent_back, 0, "pages told to reconnect (each time a store read) while the store answers");
    assert_eq!(clients_of(&c, &s.base).await, 20);
    // The new feed reaches them from its start.
    assert_eq!(post(&c, &s.base, &json!({ "urls": ["/new/1"] }), None).await.unwrap().0, 201);
    for (inbox, _) in &pages {
        until(Duration::from_secs(5), "the new feed's first entry", || seqs(inbox) == [1]).await;
    }
}

/// Copies a directory tree (a Redis data directory, taken as a snapshot).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

/// Redis came back from an older state in the same epoch (a crash under `appendfsync
/// everysec`, or Redis's default RDB snapshots): seqs clients and workers already saw
/// must not be given to new entries, or those entries are skipped (a worker's cursor is
/// past them, the feed's ETag is the one it already holds).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_back_from_an_older_snapshot_never_reuses_a_seq_clients_saw() {
    let mut redis = Redis::start("rollback");
    let dir = scratch("rollback");
    let s = Service::start(&dir, &redis.url(), &[]);
    let c = client();
    for i in 1..=2 {
        assert_eq!(post(&c, &s.base, &json!({ "urls": [format!("/old/{i}")] }), None).await.unwrap().0, 201);
    }
    let snapshot = dir.join("redis-snapshot");
    copy_tree(&redis.dir, &snapshot);
    let (status, v) = post(&c, &s.base, &json!({ "urls": ["/old/3"] }), None).await.unwrap();
    assert_eq!((status, v["seq"].as_u64()), (201, Some(3)));
    let (etag_seen, body_seen) = feed_of(&c, &s.base).await;
    redis.kill();
    std::fs::remove_dir_all(&redis.dir).unwrap();
    copy_tree(&snapshot, &redis.dir);
    redis.launch();
    // The instance reads the store as it came back (seq 2), at most a second later.
    assert!(healthz_answers(&c, &s.base, 200).await);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut published = None;
    for _ in 0..100 {
        let (status, v) = post(&c, &s.base, &json!({ "urls": ["/new"] }), None).await.unwrap();
        if status == 201 {
            published = v["seq"].as_u64();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seq = published.expect("a publish once Redis is back");
    let (etag_now, body_now) = feed_of(&c, &s.base).await;
    assert!(body_now.contains("\"/new\"") && body_now != body_seen);
    assert_ne!(etag_now, etag_seen, "another feed document under the ETag workers hold: they get 304 for it");
    assert!(seq > 3, "the new entry got seq {seq}, a seq clients and workers already saw (for /old/3)");
}

/// A page that got an entry of a new epoch from one instance (the feed started over)
/// reconnects to another that has not read the store since: it must not be sent the
/// old epoch's entries (or its reset), moving it back to a feed that is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_of_an_epoch_this_instance_has_not_read_yet_is_not_sent_the_old_one() {
    use swcache::policy::value::Value as V;
    use swcache::service::http::{router, ServeConfig};
    use swcache::service::hub::Hub;
    use swcache::service::metrics::Metrics;
    let dir = scratch("lagging-epoch");
    let file = dir.join("feed.json");
    let url = format!("file:{}", file.display());
    let writer = Store::open(&url, 200, "swcache").await.unwrap();
    let one = |u: &str| vec![("urls".to_string(), V::Arr(vec![V::Str(u.into())]))];
    for i in 1..=3 {
        writer.publish(one(&format!("/e1/{i}")), swcache::service::now_ms(), None).await.unwrap();
    }
    let e1 = writer.peek().await.unwrap().unwrap().epoch;
    // This instance read epoch 1 and, for the test, reads again only when asked.
    let hub = Hub::new(Arc::new(Store::open(&url, 200, "swcache").await.unwrap()), Arc::new(Metrics::new()));
    hub.refresh().await;
    // The feed starts over (a new file) and gets an entry a page got from elsewhere.
    std::fs::remove_file(&file).unwrap();
    let p = writer.publish(one("/e2/1"), swcache::service::now_ms(), None).await.unwrap();
    let e2 = writer.peek().await.unwrap().unwrap().epoch;
    assert_ne!(e1, e2);
    let cfg = ServeConfig {
        store: url.clone(),
        listen: "127.0.0.1:0".parse().unwrap(),
        token_file: None,
        cors_origins: vec![],
        feed_path: "/swcache-feed.json".into(),
        cache_control: "no-cache".into(),
        keep: 200,
        namespace: "swcache".into(),
        heartbeat: Duration::from_secs(15),
    };
    let (_stop, stop_rx) = tokio::sync::watch::channel(false);
    let app = router(hub, cfg, stop_rx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let res = client()
        .get(format!("{base}/v1/events"))
        .header("last-event-id", format!("{}.{e2}", p.seq))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut stream = res.bytes_stream();
    let mut text = String::new();
    let _ = tokio::time::timeout(Duration::from_millis(500), async {
        while let Some(Ok(chunk)) = stream.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    assert!(!text.contains(&format!(".{e1}")), "sent the old epoch's events:\n{text}");
}

// ----- running it in production: ACLs, stopping, keys reused, a missing directory, TLS ------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acl_user_without_channel_rights_gets_its_durable_publish_acknowledged() {
    let redis = Redis::start("acl-channels");
    // Redis 7 gives a new ACL user no channels (acl-pubsub-default resetchannels): the
    // feed's keys and every command, but not the announcement channel.
    let made = redis_say(redis.port, &["ACL SETUSER feed on >feed-password-0123 ~{swcache}:* +@all"]);
    assert_eq!(made, ["+OK"]);
    let dir = scratch("acl-channels");
    let s = Service::start(&dir, &format!("redis://feed:feed-password-0123@127.0.0.1:{}/0", redis.port), &[]);
    let c = client();
    let (status, v) = post(&c, &s.base, &json!({ "urls": ["/a"] }), None).await.unwrap();
    assert_eq!(redis_say(redis.port, &["LLEN {swcache}:entries"]), [":1"], "the entry is in the store");
    assert_eq!(status, 201, "a durable entry is acknowledged (a 503 makes the CMS retry and publish it twice): {v}");
    // The log says what Redis refused, once, naming the channel to grant.
    until(Duration::from_secs(5), "the log to name the channel", || s.log_text().contains("{swcache}:published")).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let said = s.log_text().matches("{swcache}:published").count();
    assert!(said <= 2, "said {said} times in 2 s:\n{}", s.log_text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_service_while_a_connection_has_sent_half_a_request() {
    use tokio::io::AsyncWriteExt;
    let dir = scratch("half-request");
    let mut s = Service::start(&dir, &format!("file:{}", dir.join("feed.json").display()), &[]);
    // A client gone mid-request (or a slow one): its headers never end.
    let mut half = tokio::net::TcpStream::connect(("127.0.0.1", s.port)).await.unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    Command::new("kill").args(["-TERM", &s.pid().to_string()]).status().unwrap();
    // systemd's TimeoutStopSec is 90 s by default, then SIGKILL.
    let exited = exit_within(s.child.take().unwrap(), Duration::from_secs(60)).await;
    assert!(
        exited.is_some_and(|st| st.success()),
        "SIGTERM did not stop the service within 60 s: {exited:?}\n{}",
        s.log_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_reused_for_another_entry_is_not_answered_as_published() {
    let dir = scratch("key-reused");
    let redis = Redis::start("key-reused");
    for store in [format!("file:{}", dir.join("feed.json").display()), redis.url()] {
        let s = Service::start(&dir, &store, &[]);
        let c = client();
        // A CMS keying by a per-document revision number: two documents' revision 7.
        let (status, _) = post(&c, &s.base, &json!({ "urls": ["/post/42"] }), Some("cms-rev-7")).await.unwrap();
        assert_eq!(status, 201);
        // A retry of the same entry is replayed.
        let (status, v) = post(&c, &s.base, &json!({ "urls": ["/post/42"] }), Some("cms-rev-7")).await.unwrap();
        assert_eq!((status, &v["replayed"]), (200, &json!(true)), "{store}: {v}");
        let (status, v) = post(&c, &s.base, &json!({ "urls": ["/page/9"] }), Some("cms-rev-7")).await.unwrap();
        let (_, feed) = feed_of(&c, &s.base).await;
        assert!(
            status >= 400 || feed.contains("/page/9"),
            "{store}: answered {status} {v}, and /page/9 is not in the feed: its pages stay stale for every visitor\n{feed}"
        );
    }
}

#[test]
fn serve_refuses_a_file_store_in_a_directory_that_does_not_exist() {
    let dir = scratch("no-dir");
    // A typo in the directory (/srv/sites for /srv/site).
    let missing = dir.join("sites");
    let store = format!("file:{}", missing.join("swcache-feed.json").display());
    let (code, err) = serve_exit(&["--listen", "127.0.0.1:0", "--insecure-no-token", "--store", &store]);
    assert_eq!(
        code,
        Some(1),
        "it runs, /healthz answering 200 ok while every publish is answered 503 'unavailable' with Retry-After: {err}"
    );
    assert!(err.contains(&missing.display().to_string()), "names the directory: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_requires_tls_is_a_store() {
    let dir = scratch("rediss");
    private_ca(&dir);
    let port = free_port();
    // A managed Redis (Azure Cache, ElastiCache with in-transit encryption, Upstash): TLS only.
    struct Killed(Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _redis = Killed(
        Command::new("redis-server")
            .args(["--port", "0", "--tls-port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--tls-cert-file", "leaf.pem", "--tls-key-file", "leaf.key", "--tls-ca-cert-file", "ca.pem"])
            .args(["--tls-auth-clients", "no", "--save", "", "--appendonly", "no"])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(10), "redis-server (TLS) did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::write(dir.join("tokens.txt"), format!("{TOKEN}\n")).unwrap();
    let http = free_port();
    let log = dir.join("serve.log");
    let mut serve = Killed(
        Command::new(env!("CARGO_BIN_EXE_swcache-feed"))
            .args([
                "serve",
                "--store",
                &format!("rediss://127.0.0.1:{port}/0"),
                "--listen",
                &format!("127.0.0.1:{http}"),
            ])
            .args(["--token-file", "tokens.txt"])
            // The operator trusts the Redis's CA as for `add --server https://…`.
            .env("SSL_CERT_FILE", dir.join("ca.pem"))
            .current_dir(&dir)
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let text = || std::fs::read_to_string(&log).unwrap_or_default();
    let start = Instant::now();
    while !text().contains("publish at POST") {
        let exited = serve.0.try_wait().unwrap();
        assert!(exited.is_none() && start.elapsed() < Duration::from_secs(10), "the service did not start: {}", text());
        std::thread::sleep(Duration::from_millis(20));
    }
    let (status, v) =
        post(&client(), &format!("http://127.0.0.1:{http}"), &json!({ "urls": ["/a"] }), None).await.unwrap();
    assert_eq!(status, 201, "{v}\n{}", text());
}
