//! The feed service's benchmark (`./build.sh bench-feed`, or `./build.sh bench` after the
//! browser benchmark): a load generator for `swcache-feed serve`, run on one machine over
//! loopback. It starts everything it measures (service instances, one Redis, one nginx)
//! as its own children in a temporary directory, stops them by pid, and writes
//! `bench/feed-results.json` (rendered into BENCHMARKS.md by bench/write-report.mjs).
//!
//! Figures (nothing here asserts a time):
//! 1. fan-out: publish → event received, for every one of N concurrent SSE clients of one
//!    instance (file store), then of 3 instances on one Redis (N/3 each);
//! 2. publishes per second, one publisher and 8 concurrent, per store;
//! 3. conditional GETs (If-None-Match → 304) per second, the service vs Debian's nginx
//!    serving the same feed file, same client;
//! 4. memory per connected SSE client (VmRSS of the serve process before/after), and what
//!    a bare, an idle keep-alive and an SSE connection each cost; a reconnect storm.
//!
//! And what bounds them: CPU of each side per window, one fsync on the stores' disk, Redis
//! without `appendfsync always`, Redis's round trip, and (with `perf`) where the service's
//! CPU goes while one publisher publishes.
//!
//! The client is raw tokio `TcpStream`s with a minimal HTTP/1.1 (keep-alive requests,
//! chunked SSE decoded and scanned line by line): on 2 cores the client shares the CPU
//! with the servers, so it is kept as light as possible, and every window also records
//! the CPU time of the servers, of this client and of the whole machine (/proc).
//! Every loop is bounded in count and in time; a watchdog stops everything.
//!
//! Usage: cargo run --release --example feed-bench -- [--out FILE] [--clients N]
//!        [--publishes N] [--rate-secs S] [--rate-rounds N] [--get-secs S] [--get-rounds N]
//!        [--get-conns N] [--only publish,get,connections,fanout-file,fanout-redis] [--quick]

use std::fs;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

const TOKEN: &str = "feed-bench-token-0123456789abcdef";
/// Everything stops after this, whatever happens.
const WATCHDOG: Duration = Duration::from_secs(20 * 60);
/// Per request / per step bounds.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_PHASE_LIMIT: Duration = Duration::from_secs(120);
/// Connections being set up at once while the SSE clients connect.
/// (Below the service's listen backlog, 128: more at once overflow it, and those SYNs are
/// retried a second later.)
const CONNECTING_AT_ONCE: usize = 100;

fn log(msg: impl AsRef<str>) {
    eprintln!("[feed-bench] {}", msg.as_ref());
}

// ---------------------------------------------------------------------------------------
// Options

struct Opts {
    bin: PathBuf,
    out: PathBuf,
    clients: usize,
    publishes: usize,
    warmup: usize,
    instances: usize,
    rate_secs: f64,
    rate_conc: usize,
    rate_rounds: usize,
    get_secs: f64,
    get_rounds: usize,
    get_conns: usize,
    /// Phases to run (all when empty): publish, get, connections, fanout-file, fanout-redis.
    only: Vec<String>,
}

impl Opts {
    fn runs(&self, phase: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|p| p == phase)
    }
}

fn parse_opts() -> Result<Opts, String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut o = Opts {
        bin: root.join("target/release/swcache-feed"),
        out: root.join("bench/feed-results.json"),
        clients: 10_000,
        publishes: 20,
        warmup: 2,
        instances: 3,
        rate_secs: 2.0,
        rate_conc: 8,
        rate_rounds: 3,
        get_secs: 3.0,
        get_rounds: 3,
        get_conns: 32,
        only: vec![],
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut v = || it.next().cloned().ok_or_else(|| format!("{a} needs a value"));
        let num = |s: String| s.parse::<f64>().map_err(|_| format!("{a}: not a number: {s}"));
        match a.as_str() {
            "--bin" => o.bin = PathBuf::from(v()?),
            "--out" => o.out = PathBuf::from(v()?),
            "--clients" => o.clients = num(v()?)? as usize,
            "--publishes" => o.publishes = num(v()?)? as usize,
            "--rate-secs" => o.rate_secs = num(v()?)?,
            "--rate-rounds" => o.rate_rounds = (num(v()?)? as usize).max(1),
            "--get-secs" => o.get_secs = num(v()?)?,
            "--get-rounds" => o.get_rounds = num(v()?)? as usize,
            "--get-conns" => o.get_conns = num(v()?)? as usize,
            "--only" => o.only = v()?.split(',').map(|p| p.trim().to_string()).collect(),
            "--quick" => {
                o.clients = 1_000;
                o.publishes = 5;
                o.rate_secs = 1.0;
                o.rate_rounds = 1;
                o.get_secs = 1.0;
                o.get_rounds = 1;
            }
            "-h" | "--help" => {
                println!("usage: feed-bench [--out FILE] [--bin swcache-feed] [--clients N] [--publishes N] [--rate-secs S] [--rate-rounds N] [--get-secs S] [--get-rounds N] [--get-conns N] [--only PHASES] [--quick]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    if o.clients < o.instances || o.publishes == 0 || o.get_rounds == 0 || o.get_conns == 0 {
        return Err("--clients must be ≥ 3, --publishes, --get-rounds and --get-conns ≥ 1".into());
    }
    o.rate_secs = o.rate_secs.clamp(0.2, 60.0);
    o.get_secs = o.get_secs.clamp(0.2, 60.0);
    Ok(o)
}

// ---------------------------------------------------------------------------------------
// Child processes: every one is registered, and stopped by its pid.

struct Proc {
    name: String,
    child: Child,
}

static PROCS: Mutex<Vec<Proc>> = Mutex::new(Vec::new());

fn spawn(name: &str, cmd: &mut Command) -> Result<u32, String> {
    let child = cmd.spawn().map_err(|e| format!("cannot start {name} ({:?}): {e}", cmd.get_program()))?;
    let pid = child.id();
    PROCS.lock().unwrap_or_else(|e| e.into_inner()).push(Proc { name: name.into(), child });
    Ok(pid)
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill").arg(format!("-{sig}")).arg(pid.to_string()).stderr(Stdio::null()).status();
}

fn stop_proc(mut p: Proc) {
    let pid = p.child.id();
    let kids = children(pid);
    signal(pid, "TERM");
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        match p.child.try_wait() {
            Ok(Some(_)) | Err(_) => break,
            Ok(None) if Instant::now() >= until => {
                log(format!("{} (pid {pid}) did not stop on SIGTERM: killed", p.name));
                let _ = p.child.kill();
                let _ = p.child.wait();
                break;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    // nginx's workers leave with their master; make sure.
    for k in kids {
        if Path::new(&format!("/proc/{k}")).exists() && ppid(k) == Some(pid) {
            signal(k, "KILL");
        }
    }
}

fn stop(pid: u32) {
    let p = {
        let mut l = PROCS.lock().unwrap_or_else(|e| e.into_inner());
        l.iter().position(|p| p.child.id() == pid).map(|i| l.remove(i))
    };
    if let Some(p) = p {
        stop_proc(p);
    }
}

fn stop_all() {
    let all: Vec<Proc> = std::mem::take(&mut *PROCS.lock().unwrap_or_else(|e| e.into_inner()));
    for p in all.into_iter().rev() {
        stop_proc(p);
    }
}

// ---------------------------------------------------------------------------------------
// /proc

static CLK_TCK: AtomicU64 = AtomicU64::new(100);

fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    Some(rest.split_whitespace().map(String::from).collect())
}

/// User and system CPU time of a process (all its threads, live and gone), in ticks.
fn cpu_ticks2(pid: u32) -> (u64, u64) {
    stat_fields(pid).map_or((0, 0), |f| (f[11].parse::<u64>().unwrap_or(0), f[12].parse::<u64>().unwrap_or(0)))
}

fn cpu_ticks(pid: u32) -> u64 {
    let (u, s) = cpu_ticks2(pid);
    u + s
}

fn ppid(pid: u32) -> Option<u32> {
    stat_fields(pid)?.get(1)?.parse().ok()
}

fn children(pid: u32) -> Vec<u32> {
    let Ok(dir) = fs::read_dir("/proc") else { return vec![] };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok()).filter(|p| ppid(*p) == Some(pid)).collect()
}

fn rss_kib(pid: u32) -> u64 {
    let s = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The whole machine: (busy, total) jiffies from /proc/stat.
fn machine_jiffies() -> (u64, u64) {
    let s = fs::read_to_string("/proc/stat").unwrap_or_default();
    let v: Vec<u64> =
        s.lines().next().unwrap_or("").split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

/// A TcpExt counter from /proc/net/netstat (ListenOverflows, ...).
fn tcp_ext(name: &str) -> u64 {
    let s = fs::read_to_string("/proc/net/netstat").unwrap_or_default();
    let lines: Vec<&str> = s.lines().filter(|l| l.starts_with("TcpExt:")).collect();
    if lines.len() < 2 {
        return 0;
    }
    let i = lines[0].split_whitespace().position(|n| n == name);
    i.and_then(|i| lines[1].split_whitespace().nth(i)?.parse().ok()).unwrap_or(0)
}

/// Waits until the machine is quiet (under `limit` of its CPU busy over 200 ms), at most
/// `max`; returns how long it waited. Other work on a shared machine skews every figure.
async fn quiet(limit: f64, max: Duration) -> f64 {
    let start = Instant::now();
    loop {
        let (b0, t0) = machine_jiffies();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (b1, t1) = machine_jiffies();
        let busy = if t1 > t0 { (b1 - b0) as f64 / (t1 - t0) as f64 } else { 0.0 };
        if busy <= limit || start.elapsed() >= max {
            return start.elapsed().as_secs_f64() * 1000.0;
        }
    }
}

/// How quiet is quiet: 15% of the machine (SSE heartbeats and timers stay well under).
const QUIET: f64 = 0.15;

fn open_files_limit() -> u64 {
    let s = fs::read_to_string("/proc/self/limits").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3)?.parse().ok())
        .unwrap_or(1024)
}

/// CPU time of the servers, of this process (the client), of Redis and of the machine.
#[derive(Clone, Copy)]
struct Cpu {
    at: Instant,
    server: u64,
    server_sys: u64,
    client: u64,
    client_sys: u64,
    redis: u64,
    busy: u64,
    total: u64,
}

#[derive(Clone, Default)]
struct Watch {
    servers: Vec<u32>,
    redis: Option<u32>,
}

impl Watch {
    fn snap(&self) -> Cpu {
        let (mut server, mut server_sys) = (0, 0);
        for p in &self.servers {
            for q in std::iter::once(*p).chain(children(*p)) {
                let (u, s) = cpu_ticks2(q);
                server += u + s;
                server_sys += s;
            }
        }
        let (u, client_sys) = cpu_ticks2(std::process::id());
        let (busy, total) = machine_jiffies();
        Cpu {
            at: Instant::now(),
            server,
            server_sys,
            client: u + client_sys,
            client_sys,
            redis: self.redis.map_or(0, cpu_ticks),
            busy,
            total,
        }
    }
}

fn ticks_ms(t: u64) -> f64 {
    t as f64 * 1000.0 / CLK_TCK.load(Ordering::Relaxed) as f64
}

/// What two snapshots say: wall ms, CPU ms of each side, machine busy share (0-1).
#[derive(Clone, Copy, Default)]
struct CpuUse {
    wall_ms: f64,
    server_ms: f64,
    server_sys_ms: f64,
    client_ms: f64,
    client_sys_ms: f64,
    redis_ms: f64,
    busy_jiffies: u64,
    total_jiffies: u64,
}

impl CpuUse {
    fn between(a: &Cpu, b: &Cpu) -> CpuUse {
        CpuUse {
            wall_ms: b.at.duration_since(a.at).as_secs_f64() * 1000.0,
            server_ms: ticks_ms(b.server - a.server),
            server_sys_ms: ticks_ms(b.server_sys - a.server_sys),
            client_ms: ticks_ms(b.client - a.client),
            client_sys_ms: ticks_ms(b.client_sys - a.client_sys),
            redis_ms: ticks_ms(b.redis - a.redis),
            busy_jiffies: b.busy - a.busy,
            total_jiffies: b.total - a.total,
        }
    }
    fn add(&mut self, o: &CpuUse) {
        self.wall_ms += o.wall_ms;
        self.server_ms += o.server_ms;
        self.server_sys_ms += o.server_sys_ms;
        self.client_ms += o.client_ms;
        self.client_sys_ms += o.client_sys_ms;
        self.redis_ms += o.redis_ms;
        self.busy_jiffies += o.busy_jiffies;
        self.total_jiffies += o.total_jiffies;
    }
    fn json(&self) -> Value {
        let busy = if self.total_jiffies > 0 { self.busy_jiffies as f64 / self.total_jiffies as f64 } else { 0.0 };
        // The machine's busy time not accounted to the servers, the client or Redis: other
        // processes, and interrupts (loopback networking is mostly charged to the process
        // running when it happens). /proc/stat counts in USER_HZ like /proc/PID/stat.
        let other = ticks_ms(self.busy_jiffies) - self.server_ms - self.client_ms - self.redis_ms;
        json!({
            "wallMs": r1(self.wall_ms), "serverMs": r1(self.server_ms), "serverSysMs": r1(self.server_sys_ms),
            "clientMs": r1(self.client_ms), "clientSysMs": r1(self.client_sys_ms), "redisMs": r1(self.redis_ms), "otherMs": r1(other.max(0.0)), "machineBusy": r3(busy),
        })
    }
}

// ---------------------------------------------------------------------------------------
// Small statistics

fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn summary(mut xs: Vec<f64>) -> Value {
    xs.sort_by(|a, b| a.total_cmp(b));
    json!({
        "n": xs.len(),
        "p50": percentile(&xs, 50.0).map(r2), "p90": percentile(&xs, 90.0).map(r2),
        "p99": percentile(&xs, 99.0).map(r2), "max": xs.last().copied().map(r2),
    })
}

fn r1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}
fn r2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
fn r3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    if xs.is_empty() {
        return 0.0;
    }
    let m = xs.len() / 2;
    if xs.len() % 2 == 1 {
        xs[m]
    } else {
        (xs[m - 1] + xs[m]) / 2.0
    }
}

// ---------------------------------------------------------------------------------------
// A minimal HTTP/1.1 client (keep-alive; Content-Length or chunked bodies)

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

fn parse_hex(s: &[u8]) -> io::Result<usize> {
    let s = s.split(|b| *b == b';').next().unwrap_or(b"");
    let s = std::str::from_utf8(s).map_err(|_| bad("chunk size"))?.trim();
    usize::from_str_radix(s, 16).map_err(|_| bad(format!("chunk size '{s}'")))
}

struct Head {
    status: u16,
    len: Option<usize>,
    chunked: bool,
    close: bool,
    etag: Option<String>,
}

fn parse_head(h: &[u8]) -> io::Result<Head> {
    let text = std::str::from_utf8(h).map_err(|_| bad("response head is not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or("");
    let status = first.get(9..12).and_then(|s| s.parse().ok()).ok_or_else(|| bad(format!("status line '{first}'")))?;
    let mut head = Head { status, len: None, chunked: false, close: false, etag: None };
    for l in lines {
        let Some((k, v)) = l.split_once(':') else { continue };
        let v = v.trim();
        if k.eq_ignore_ascii_case("content-length") {
            head.len = v.parse().ok();
        } else if k.eq_ignore_ascii_case("transfer-encoding") {
            head.chunked = v.to_ascii_lowercase().contains("chunked");
        } else if k.eq_ignore_ascii_case("connection") {
            head.close = v.eq_ignore_ascii_case("close");
        } else if k.eq_ignore_ascii_case("etag") {
            head.etag = Some(v.to_string());
        }
    }
    Ok(head)
}

struct Http {
    s: TcpStream,
    buf: Vec<u8>,
    pos: usize,
}

impl Http {
    async fn connect(addr: SocketAddr) -> io::Result<Http> {
        let s = tokio::time::timeout(IO_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
        s.set_nodelay(true)?;
        Ok(Http { s, buf: Vec::with_capacity(2048), pos: 0 })
    }

    /// Reads what the socket has (at least a byte); EOF is an error.
    async fn more(&mut self) -> io::Result<()> {
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > 0 && self.buf.capacity() - self.buf.len() < 1024 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.reserve(2048);
        if self.s.read_buf(&mut self.buf).await? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed"));
        }
        Ok(())
    }

    async fn line(&mut self) -> io::Result<usize> {
        loop {
            if let Some(e) = find(&self.buf[self.pos..], b"\r\n") {
                return Ok(e);
            }
            self.more().await?;
        }
    }

    async fn head(&mut self) -> io::Result<Head> {
        loop {
            if let Some(end) = find(&self.buf[self.pos..], b"\r\n\r\n") {
                let h = parse_head(&self.buf[self.pos..self.pos + end])?;
                self.pos += end + 4;
                return Ok(h);
            }
            if self.buf.len() - self.pos > 64 * 1024 {
                return Err(bad("response head too large"));
            }
            self.more().await?;
        }
    }

    async fn body(&mut self, h: &Head) -> io::Result<Vec<u8>> {
        if h.status == 304 || h.status == 204 || h.status < 200 {
            return Ok(vec![]);
        }
        if h.chunked {
            let mut out = vec![];
            loop {
                let e = self.line().await?;
                let size = parse_hex(&self.buf[self.pos..self.pos + e])?;
                self.pos += e + 2;
                if size == 0 {
                    loop {
                        let e = self.line().await?;
                        self.pos += e + 2;
                        if e == 0 {
                            return Ok(out);
                        }
                    }
                }
                while self.buf.len() - self.pos < size + 2 {
                    self.more().await?;
                }
                out.extend_from_slice(&self.buf[self.pos..self.pos + size]);
                self.pos += size + 2;
            }
        }
        let n = h.len.ok_or_else(|| bad("a response without a length (not supported here)"))?;
        while self.buf.len() - self.pos < n {
            self.more().await?;
        }
        let out = self.buf[self.pos..self.pos + n].to_vec();
        self.pos += n;
        Ok(out)
    }

    async fn request(&mut self, req: &[u8]) -> io::Result<(Head, Vec<u8>)> {
        let work = async {
            self.s.write_all(req).await?;
            let h = self.head().await?;
            let b = self.body(&h).await?;
            Ok((h, b))
        };
        tokio::time::timeout(IO_TIMEOUT, work)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no response in time"))?
    }
}

fn get_req(path: &str, extra: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n").into_bytes()
}

fn post_req(body: &str) -> Vec<u8> {
    format!(
        "POST /v1/entries HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The number after `"seq":` in a JSON text.
fn seq_in(b: &[u8]) -> Option<u64> {
    let i = find(b, b"\"seq\":")? + 6;
    let digits: Vec<u8> = b[i..].iter().copied().take_while(u8::is_ascii_digit).collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

async fn get_once(addr: SocketAddr, path: &str) -> io::Result<(Head, Vec<u8>)> {
    let mut c = Http::connect(addr).await?;
    c.request(&get_req(path, "Connection: close\r\n")).await
}

/// A publish on a keep-alive connection: the seq, or why not.
async fn publish(c: &mut Http, body: &str) -> Result<u64, String> {
    let (h, b) = c.request(&post_req(body)).await.map_err(|e| e.to_string())?;
    if h.status != 201 {
        return Err(format!("publish answered {}: {}", h.status, String::from_utf8_lossy(&b)));
    }
    seq_in(&b).ok_or_else(|| format!("publish answered without a seq: {}", String::from_utf8_lossy(&b)))
}

// ---------------------------------------------------------------------------------------
// The things measured: service instances, Redis, nginx

struct Instance {
    pid: u32,
    addr: SocketAddr,
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

async fn run_cmd(bin: &Path, args: &[&str]) -> Result<String, String> {
    let out = tokio::time::timeout(
        IO_TIMEOUT,
        tokio::process::Command::new(bin).args(args).stdin(Stdio::null()).kill_on_drop(true).output(),
    )
    .await
    .map_err(|_| format!("{} {args:?}: no answer in time", bin.display()))?
    .map_err(|e| format!("{} {args:?}: {e}", bin.display()))?;
    if !out.status.success() {
        return Err(format!("{} {args:?}: {}", bin.display(), String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

async fn start_serve(o: &Opts, tmp: &Path, name: &str, store: &str, ns: &str) -> Result<Instance, String> {
    let port = free_port()?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let logf = fs::File::create(tmp.join(format!("{name}.log"))).map_err(|e| e.to_string())?;
    let tok = tmp.join("tokens");
    let pid = spawn(
        name,
        Command::new(&o.bin)
            .args(["serve", "--store", store, "--namespace", ns, "--listen", &addr.to_string(), "--token-file"])
            .arg(&tok)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(logf),
    )?;
    let until = Instant::now() + IO_TIMEOUT;
    loop {
        if let Ok((h, _)) = get_once(addr, "/healthz").await {
            if h.status == 200 {
                return Ok(Instance { pid, addr });
            }
        }
        if Instant::now() >= until {
            stop(pid);
            return Err(format!(
                "{name} did not become healthy within {IO_TIMEOUT:?} (see {}/{name}.log)",
                tmp.display()
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn start_redis(tmp: &Path) -> Result<(u32, u16), String> {
    let dir = tmp.join("redis");
    fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let port = free_port()?;
    let pid = spawn(
        "redis-server",
        Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--dir"])
            .arg(&dir)
            .args(["--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no", "--logfile"])
            .arg(dir.join("redis.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )?;
    let until = Instant::now() + IO_TIMEOUT;
    loop {
        let ping = async {
            let mut s = TcpStream::connect(("127.0.0.1", port)).await?;
            s.write_all(b"PING\r\n").await?;
            let mut b = [0u8; 16];
            let n = s.read(&mut b).await?;
            io::Result::Ok(b[..n].starts_with(b"+PONG"))
        };
        if let Ok(Ok(true)) = tokio::time::timeout(Duration::from_secs(1), ping).await {
            return Ok((pid, port));
        }
        if Instant::now() >= until {
            return Err("redis-server did not answer PING in time".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Debian's nginx serving `root` (the service's feed directory) on a free loopback port.
async fn start_nginx(tmp: &Path, root: &Path) -> Result<(u32, SocketAddr), String> {
    let dir = tmp.join("nginx");
    fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let port = free_port()?;
    let d = dir.display();
    let conf = format!(
        "daemon off;\nworker_processes auto;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         events {{ worker_connections 4096; }}\n\
         http {{\n  access_log off;\n  keepalive_requests 1000000;\n\
         client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n\
         uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  types {{ application/json json; }}\n\
         server {{\n    listen 127.0.0.1:{port};\n    root {};\n    etag on;\n\
         location = /swcache-feed.json {{ add_header Cache-Control no-cache; }}\n  }}\n}}\n",
        root.display()
    );
    let conf_path = dir.join("nginx.conf");
    fs::write(&conf_path, conf).map_err(|e| e.to_string())?;
    let pid = spawn(
        "nginx",
        Command::new("nginx")
            .arg("-c")
            .arg(&conf_path)
            .arg("-p")
            .arg(&dir)
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(dir.join("stderr.log")).map_err(|e| e.to_string())?),
    )?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let until = Instant::now() + IO_TIMEOUT;
    loop {
        if let Ok((h, _)) = get_once(addr, "/swcache-feed.json").await {
            if h.status == 200 {
                return Ok((pid, addr));
            }
            return Err(format!("nginx answered {} for the feed (see {d})", h.status));
        }
        if Instant::now() >= until {
            return Err(format!("nginx did not answer in time (see {d})"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn metric(addr: SocketAddr, name: &str) -> Option<f64> {
    let (_, b) = get_once(addr, "/metrics").await.ok()?;
    let text = String::from_utf8_lossy(&b).into_owned();
    text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

async fn current_seq(addr: SocketAddr) -> Result<u64, String> {
    let (h, b) = get_once(addr, "/v1/seq").await.map_err(|e| e.to_string())?;
    if h.status != 200 {
        return Err(format!("/v1/seq answered {}", h.status));
    }
    seq_in(&b).ok_or_else(|| "no seq in /v1/seq".into())
}

// ---------------------------------------------------------------------------------------
// 1 and 4: fan-out to SSE clients, memory per client

/// When each client received each publish: ns since `base` + 1 (0: not yet).
struct Recorder {
    seq0: u64,
    publishes: usize,
    clients: usize,
    base: Instant,
    t: Vec<AtomicU64>,
    count: Vec<AtomicUsize>,
}

impl Recorder {
    fn hit(&self, seq: u64, client: usize, now: Instant) {
        if seq <= self.seq0 || seq - self.seq0 > self.publishes as u64 {
            return;
        }
        let k = (seq - self.seq0 - 1) as usize;
        let slot = &self.t[k * self.clients + client];
        if slot.load(Ordering::Relaxed) == 0 {
            slot.store(now.duration_since(self.base).as_nanos() as u64 + 1, Ordering::Relaxed);
            self.count[k].fetch_add(1, Ordering::Release);
        }
    }
}

const SSE_REQ: &[u8] = b"GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n";

enum Chunk {
    Size,
    Data(usize),
    End,
}

/// One live client: connects, then decodes the chunked stream and scans its lines,
/// recording when each `data:` line (its `"seq"`) arrives. Ends on EOF or when aborted.
async fn sse_client(
    idx: usize,
    addr: SocketAddr,
    rec: Arc<Recorder>,
    ready: Arc<AtomicUsize>,
    sem: Arc<Semaphore>,
) -> io::Result<()> {
    let permit = sem.acquire_owned().await.map_err(|_| bad("closed"))?;
    let mut h = None;
    for attempt in 0..3 {
        match Http::connect(addr).await {
            Ok(c) => {
                h = Some(c);
                break;
            }
            Err(e) if attempt == 2 => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    let mut h = h.ok_or_else(|| bad("no connection"))?;
    let head = tokio::time::timeout(IO_TIMEOUT, async {
        h.s.write_all(SSE_REQ).await?;
        h.head().await
    })
    .await
    .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no SSE response head"))??;
    if head.status != 200 || !head.chunked {
        return Err(bad(format!("/v1/events answered {} (chunked: {})", head.status, head.chunked)));
    }
    drop(permit);
    let mut st = Chunk::Size;
    let mut line: Vec<u8> = Vec::with_capacity(192);
    let mut is_ready = false;
    loop {
        loop {
            match st {
                Chunk::Size => {
                    let Some(e) = find(&h.buf[h.pos..], b"\r\n") else { break };
                    let size = parse_hex(&h.buf[h.pos..h.pos + e])?;
                    h.pos += e + 2;
                    if size == 0 {
                        return Ok(());
                    }
                    st = Chunk::Data(size);
                }
                Chunk::Data(n) => {
                    let avail = h.buf.len() - h.pos;
                    if avail == 0 {
                        break;
                    }
                    let m = n.min(avail);
                    for &b in &h.buf[h.pos..h.pos + m] {
                        if b == b'\n' {
                            if line.starts_with(b"data:") {
                                if let Some(seq) = seq_in(&line) {
                                    rec.hit(seq, idx, Instant::now());
                                }
                            } else if !is_ready && line.starts_with(b"retry:") {
                                is_ready = true;
                                ready.fetch_add(1, Ordering::Relaxed);
                            }
                            line.clear();
                        } else if line.len() < 64 * 1024 {
                            line.push(b);
                        }
                    }
                    h.pos += m;
                    st = if m == n { Chunk::End } else { Chunk::Data(n - m) };
                }
                Chunk::End => {
                    if h.buf.len() - h.pos < 2 {
                        break;
                    }
                    h.pos += 2;
                    st = Chunk::Size;
                }
            }
        }
        h.more().await?;
    }
}

/// How a held connection is set up before it idles.
#[derive(Clone, Copy)]
enum Hold {
    /// Connected, nothing sent.
    Tcp,
    /// One `GET /healthz` answered, then idle (keep-alive).
    KeepAlive,
    /// A live `GET /v1/events` stream.
    Sse,
}

/// One held connection: set up as `mode` says, counted in `ready`, then held until aborted.
async fn hold(
    mode: Hold,
    idx: usize,
    addr: SocketAddr,
    rec: Arc<Recorder>,
    ready: Arc<AtomicUsize>,
    sem: Arc<Semaphore>,
) -> io::Result<()> {
    if let Hold::Sse = mode {
        return sse_client(idx, addr, rec, ready, sem).await;
    }
    let permit = sem.acquire_owned().await.map_err(|_| bad("closed"))?;
    let mut c = Http::connect(addr).await?;
    if let Hold::KeepAlive = mode {
        let (h, _) = c.request(&get_req("/healthz", "")).await?;
        if h.status != 200 {
            return Err(bad(format!("/healthz answered {}", h.status)));
        }
    }
    if let Hold::Tcp = mode {
        // The kernel completes a connection before the server accepts it: pace bare
        // connections to well under the server's accept rate, so its accept queue (the
        // storm's figure) never overflows here.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    drop(permit);
    ready.fetch_add(1, Ordering::Relaxed);
    // Held until aborted (or the server closes it).
    let mut b = [0u8; 64];
    while c.s.read(&mut b).await? > 0 {}
    Ok(())
}

/// Opens `n` connections of one kind to `addr`, `at_once` being set up at a time; returns
/// the tasks (abort them to close), how many connected and failed, and the seconds it took.
async fn connect_many(
    mode: Hold,
    addr: SocketAddr,
    n: usize,
    at_once: usize,
    rec: Arc<Recorder>,
) -> (Vec<tokio::task::JoinHandle<()>>, usize, usize, f64, Option<String>) {
    let ready = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let first_error = Arc::new(Mutex::new(None::<String>));
    let sem = Arc::new(Semaphore::new(at_once));
    let started = Instant::now();
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        let (rec, ready, sem, failed, first_error) =
            (rec.clone(), ready.clone(), sem.clone(), failed.clone(), first_error.clone());
        handles.push(tokio::spawn(async move {
            if let Err(e) = hold(mode, i, addr, rec, ready, sem).await {
                failed.fetch_add(1, Ordering::Relaxed);
                first_error.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(e.to_string());
            }
        }));
    }
    while ready.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed) < n && started.elapsed() < CONNECT_PHASE_LIMIT
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    let e = first_error.lock().unwrap_or_else(|e| e.into_inner()).clone();
    (handles, ready.load(Ordering::Relaxed), failed.load(Ordering::Relaxed), secs, e)
}

async fn close_all(handles: Vec<tokio::task::JoinHandle<()>>) {
    for h in &handles {
        h.abort();
    }
    for h in handles {
        let _ = tokio::time::timeout(Duration::from_secs(5), h).await;
    }
}

fn no_recorder() -> Arc<Recorder> {
    Arc::new(Recorder { seq0: 0, publishes: 0, clients: 0, base: Instant::now(), t: vec![], count: vec![] })
}

/// 4, decomposed: what a connection costs the serve process at each stage (a fresh
/// instance each, so freed memory is not reused), and a reconnect storm (every client of
/// an instance reconnecting at once, as after a restart: the SSE `retry` is 1 s).
async fn connections(o: &Opts, tmp: &Path, file_store: &str) -> Result<Value, String> {
    let n = o.clients.min(2_000);
    let mut stages = serde_json::Map::new();
    for (name, mode) in [("tcp", Hold::Tcp), ("keepAlive", Hold::KeepAlive), ("sse", Hold::Sse)] {
        let inst = start_serve(o, tmp, &format!("serve-memory-{name}"), file_store, "swcache").await?;
        quiet(QUIET, Duration::from_secs(10)).await;
        let before = rss_kib(inst.pid);
        let at_once = if let Hold::Tcp = mode { 8 } else { CONNECTING_AT_ONCE };
        let (handles, ok, failed, secs, err) = connect_many(mode, inst.addr, n, at_once, no_recorder()).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let after = rss_kib(inst.pid);
        close_all(handles).await;
        stop(inst.pid);
        let per = if ok > 0 { (after as f64 - before as f64) / ok as f64 } else { 0.0 };
        log(format!(
            "memory, {name}: {ok} connections ({failed} failed{}) in {secs:.1} s: {per:.2} KiB each",
            err.map(|e| format!(": {e}")).unwrap_or_default()
        ));
        stages.insert(name.into(), json!({ "connections": ok, "failed": failed, "rssBeforeKiB": before, "rssAfterKiB": after, "perConnectionKiB": r2(per) }));
    }
    let storm_at_once = 1_000usize;
    let inst = start_serve(o, tmp, "serve-storm", file_store, "swcache").await?;
    let backlog = listen_backlog(inst.addr.port());
    quiet(QUIET, Duration::from_secs(10)).await;
    let (ov0, syn0) = (tcp_ext("ListenOverflows"), tcp_ext("TCPSynRetrans"));
    let (handles, ok, failed, secs, _) =
        connect_many(Hold::Sse, inst.addr, o.clients, storm_at_once, no_recorder()).await;
    let (ov, syn) = (tcp_ext("ListenOverflows") - ov0, tcp_ext("TCPSynRetrans") - syn0);
    close_all(handles).await;
    stop(inst.pid);
    log(format!("reconnect storm: {ok} SSE clients, {storm_at_once} at once, connected in {secs:.2} s ({failed} failed; {ov} listen overflows, {syn} SYN retransmits)"));
    Ok(json!({
        "stageConnections": n, "stages": stages,
        "storm": { "clients": o.clients, "atOnce": storm_at_once, "connected": ok, "failed": failed, "seconds": r2(secs), "listenOverflows": ov, "synRetransmits": syn },
        "listenBacklog": backlog,
    }))
}

/// A listening socket's backlog, as `ss` shows it (the Send-Q of a LISTEN socket).
fn listen_backlog(port: u16) -> Value {
    let out = Command::new("ss").args(["-ltnH", &format!("sport = :{port}")]).output();
    let text = out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
    text.split_whitespace().nth(2).and_then(|v| v.parse::<u64>().ok()).map_or(Value::Null, |v| json!(v))
}

/// fsync on the disk the stores write to: a 200-byte write then `sync_all`, repeated.
async fn fsync_probe(dir: &Path) -> Value {
    let path = dir.join("fsync-probe");
    let r = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut f = fs::File::create(&path).ok()?;
        let mut lat = vec![];
        let start = Instant::now();
        for _ in 0..300 {
            if start.elapsed() > Duration::from_secs(3) {
                break;
            }
            let t = Instant::now();
            f.write_all(&[b'x'; 200]).ok()?;
            f.sync_all().ok()?;
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let _ = fs::remove_file(&path);
        Some(lat)
    })
    .await
    .ok()
    .flatten()
    .unwrap_or_default();
    summary(r)
}

async fn fanout(o: &Opts, insts: &[Instance], watch: &Watch, label: &str) -> Result<Value, String> {
    let clients = o.clients;
    // Every instance at the same seq first (Redis: they follow the same store).
    let until = Instant::now() + IO_TIMEOUT;
    let seq0 = loop {
        let mut seqs = vec![];
        for i in insts {
            seqs.push(current_seq(i.addr).await?);
        }
        if seqs.iter().all(|s| *s == seqs[0]) {
            break seqs[0];
        }
        if Instant::now() >= until {
            return Err(format!("the instances disagree on the seq: {seqs:?}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let n_pub = o.warmup + o.publishes;
    let rec = Arc::new(Recorder {
        seq0,
        publishes: n_pub,
        clients,
        base: Instant::now(),
        t: (0..n_pub * clients).map(|_| AtomicU64::new(0)).collect(),
        count: (0..n_pub).map(|_| AtomicUsize::new(0)).collect(),
    });
    let rss_before: Vec<u64> = insts.iter().map(|i| rss_kib(i.pid)).collect();
    let ready = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let first_error = Arc::new(Mutex::new(None::<String>));
    let sem = Arc::new(Semaphore::new(CONNECTING_AT_ONCE));
    log(format!("{label}: connecting {clients} SSE clients to {} instance(s)", insts.len()));
    quiet(QUIET, Duration::from_secs(10)).await;
    let overflows0 = tcp_ext("ListenOverflows");
    let c0 = watch.snap();
    let mut handles = Vec::with_capacity(clients);
    for i in 0..clients {
        let (addr, rec, ready, sem, failed, first_error) =
            (insts[i % insts.len()].addr, rec.clone(), ready.clone(), sem.clone(), failed.clone(), first_error.clone());
        handles.push(tokio::spawn(async move {
            if let Err(e) = sse_client(i, addr, rec, ready, sem).await {
                failed.fetch_add(1, Ordering::Relaxed);
                first_error.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(e.to_string());
            }
        }));
    }
    let started = Instant::now();
    while ready.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed) < clients
        && started.elapsed() < CONNECT_PHASE_LIMIT
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let connect_s = started.elapsed().as_secs_f64();
    let connect_cpu = CpuUse::between(&c0, &watch.snap());
    let overflows = tcp_ext("ListenOverflows") - overflows0;
    let connected = ready.load(Ordering::Relaxed);
    log(format!(
        "{label}: {connected} connected in {connect_s:.1} s ({} failed{})",
        failed.load(Ordering::Relaxed),
        first_error.lock().unwrap_or_else(|e| e.into_inner()).as_deref().map(|e| format!(": {e}")).unwrap_or_default()
    ));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_after: Vec<u64> = insts.iter().map(|i| rss_kib(i.pid)).collect();
    let mut server_clients = 0.0;
    for i in insts {
        server_clients += metric(i.addr, "swcache_feed_sse_clients").await.unwrap_or(f64::NAN);
    }
    // The publishes: one at a time, each sent when the machine is quiet again.
    let mut pubs = vec![];
    for i in insts {
        pubs.push(Http::connect(i.addr).await.map_err(|e| e.to_string())?);
    }
    let mut sent_ns = vec![0u64; n_pub];
    let mut ack_ms = vec![0f64; n_pub];
    let mut cpu = vec![CpuUse::default(); n_pub];
    let mut errors = vec![];
    let mut waited = vec![0f64; n_pub];
    for k in 0..n_pub {
        waited[k] = quiet(QUIET, Duration::from_secs(5)).await;
        let to = k % insts.len();
        let body = format!("{{\"urls\":[\"/promo/fanout-{label}-{k}\"]}}");
        let a = watch.snap();
        let t0 = Instant::now();
        sent_ns[k] = t0.duration_since(rec.base).as_nanos() as u64;
        match publish(&mut pubs[to], &body).await {
            Ok(seq) if seq == seq0 + 1 + k as u64 => {}
            Ok(seq) => errors.push(format!("publish {k} got seq {seq}, expected {}", seq0 + 1 + k as u64)),
            Err(e) => errors.push(e),
        }
        ack_ms[k] = t0.elapsed().as_secs_f64() * 1000.0;
        while rec.count[k].load(Ordering::Acquire) < connected && t0.elapsed() < DELIVERY_TIMEOUT {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        cpu[k] = CpuUse::between(&a, &watch.snap());
    }
    if !errors.is_empty() {
        log(format!("{label}: {} publish errors, first: {}", errors.len(), errors[0]));
    }
    for h in &handles {
        h.abort();
    }
    for h in handles {
        let _ = tokio::time::timeout(Duration::from_secs(5), h).await;
    }
    drop(pubs);
    // Statistics over the measured publishes (after the warm-up ones).
    let mut all = vec![];
    let mut per = vec![];
    let mut lasts = vec![];
    let mut acks = vec![];
    let mut missing = 0usize;
    let mut cpu_total = CpuUse::default();
    for k in o.warmup..n_pub {
        let mut lat = Vec::with_capacity(clients);
        let mut miss = 0;
        for c in 0..clients {
            let t = rec.t[k * clients + c].load(Ordering::Relaxed);
            if t == 0 {
                miss += 1;
            } else {
                lat.push((t - 1).saturating_sub(sent_ns[k]) as f64 / 1e6);
            }
        }
        missing += miss;
        lat.sort_by(|a, b| a.total_cmp(b));
        let last = lat.last().copied().unwrap_or(f64::NAN);
        lasts.push(last);
        acks.push(ack_ms[k]);
        cpu_total.add(&cpu[k]);
        per.push(json!({
            "seq": seq0 + 1 + k as u64, "ackMs": r2(ack_ms[k]), "p50": percentile(&lat, 50.0).map(r2),
            "p99": percentile(&lat, 99.0).map(r2), "lastMs": r2(last), "missing": miss, "cpu": cpu[k].json(), "quietWaitMs": r1(waited[k]),
        }));
        all.extend(lat);
    }
    let measured = (n_pub - o.warmup) as f64;
    let lat = summary(all);
    log(format!(
        "{label}: publish → event p50 {} ms, p99 {} ms, last client p50 {:.1} ms (max {:.1}); {missing} missing",
        lat["p50"],
        lat["p99"],
        median(lasts.clone()),
        lasts.iter().copied().fold(0.0, f64::max)
    ));
    let before: u64 = rss_before.iter().sum();
    let after: u64 = rss_after.iter().sum();
    Ok(json!({
        "instances": insts.len(),
        "clients": clients,
        "connected": connected,
        "serverReportedClients": server_clients,
        "connectFailures": failed.load(Ordering::Relaxed),
        "connectSeconds": r2(connect_s),
        "connectCpu": connect_cpu.json(),
        "connectingAtOnce": CONNECTING_AT_ONCE,
        "listenOverflows": overflows,
        "warmupPublishes": o.warmup,
        "publishes": o.publishes,
        "publishErrors": errors,
        "latencyMs": lat,
        "lastClientMs": summary(lasts),
        "ackMs": summary(acks),
        "missing": missing,
        "cpu": cpu_total.json(),
        "cpuPerPublish": {
            "serverMs": r1(cpu_total.server_ms / measured), "clientMs": r1(cpu_total.client_ms / measured),
            "redisMs": r1(cpu_total.redis_ms / measured), "wallMs": r1(cpu_total.wall_ms / measured),
        },
        "memory": {
            "rssBeforeKiB": rss_before, "rssAfterKiB": rss_after,
            "perClientKiB": if connected > 0 { r2((after as f64 - before as f64) / connected as f64) } else { 0.0 },
        },
        "perPublish": per,
    }))
}

// ---------------------------------------------------------------------------------------
// 2: publishes per second

async fn publish_rate(o: &Opts, inst: &Instance, watch: &Watch, conc: usize, tag: &str) -> Result<Value, String> {
    let addr = inst.addr;
    let secs = o.rate_secs;
    let a = watch.snap();
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(secs);
    let mut tasks = vec![];
    for w in 0..conc {
        let tag = tag.to_string();
        tasks.push(tokio::spawn(async move {
            let mut c = Http::connect(addr).await.map_err(|e| e.to_string())?;
            let mut lat = vec![];
            let mut errs = 0usize;
            let mut first_err = None;
            let mut i = 0usize;
            while Instant::now() < deadline && i < 1_000_000 {
                let body = format!("{{\"urls\":[\"/promo/{tag}-{w}-{i}\"]}}");
                let t = Instant::now();
                match publish(&mut c, &body).await {
                    Ok(_) => lat.push(t.elapsed().as_secs_f64() * 1000.0),
                    Err(e) => {
                        errs += 1;
                        first_err.get_or_insert(e);
                        if errs > 100 {
                            break;
                        }
                        c = Http::connect(addr).await.map_err(|e| e.to_string())?;
                    }
                }
                i += 1;
            }
            Ok::<_, String>((lat, errs, first_err, Instant::now()))
        }));
    }
    let mut lat = vec![];
    let mut errs = 0;
    let mut first_err = None;
    let mut end = start;
    for t in tasks {
        let (l, e, fe, done) = tokio::time::timeout(Duration::from_secs_f64(secs) + IO_TIMEOUT * 2, t)
            .await
            .map_err(|_| "publishers did not stop".to_string())?
            .map_err(|e| e.to_string())??;
        lat.extend(l);
        errs += e;
        if first_err.is_none() {
            first_err = fe;
        }
        end = end.max(done);
    }
    let cpu = CpuUse::between(&a, &watch.snap());
    let elapsed = end.duration_since(start).as_secs_f64();
    let n = lat.len();
    let per_s = n as f64 / elapsed;
    log(format!("{tag}: {n} publishes in {elapsed:.2} s = {per_s:.0}/s ({conc} publisher(s), {errs} errors)"));
    Ok(json!({
        "publishers": conc, "published": n, "errors": errs, "firstError": first_err, "seconds": r2(elapsed),
        "perSecond": r1(per_s), "latencyMs": summary(lat), "cpu": cpu.json(),
        "cpuPerPublishMs": { "server": r3(cpu.server_ms / n.max(1) as f64), "client": r3(cpu.client_ms / n.max(1) as f64), "redis": r3(cpu.redis_ms / n.max(1) as f64) },
    }))
}

/// One Redis command on a raw connection (RESP inline); the first reply line.
async fn redis_cmd(port: u16, cmd: &str) -> Result<String, String> {
    let work = async {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await?;
        s.write_all(format!("{cmd}\r\n").as_bytes()).await?;
        let mut b = vec![0u8; 256];
        let n = s.read(&mut b).await?;
        io::Result::Ok(String::from_utf8_lossy(&b[..n]).lines().next().unwrap_or("").to_string())
    };
    tokio::time::timeout(IO_TIMEOUT, work)
        .await
        .map_err(|_| format!("redis: {cmd}: no answer"))
        .and_then(|r| r.map_err(|e| e.to_string()))
}

/// Round trips to Redis: `PING` one at a time on one connection.
async fn redis_rtt(port: u16) -> Result<Value, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.map_err(|e| e.to_string())?;
    s.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut lat = vec![];
    let mut b = [0u8; 64];
    let start = Instant::now();
    while lat.len() < 2000 && start.elapsed() < Duration::from_secs(2) {
        let t = Instant::now();
        s.write_all(b"PING\r\n").await.map_err(|e| e.to_string())?;
        let n = tokio::time::timeout(IO_TIMEOUT, s.read(&mut b))
            .await
            .map_err(|_| "redis: no PONG")?
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("redis closed the connection".into());
        }
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(summary(lat))
}

/// What bounds one Redis publisher at a time: the same sequential run with Redis not
/// syncing its AOF (`appendfsync no`, set back to `always` after), and Redis's round trip.
async fn redis_diagnostics(o: &Opts, tmp: &Path, inst: &Instance, watch: &Watch, port: u16) -> Result<Value, String> {
    let rtt = redis_rtt(port).await?;
    redis_cmd(port, "CONFIG SET appendfsync no").await?;
    quiet(QUIET, Duration::from_secs(10)).await;
    let r = publish_rate(o, inst, watch, 1, "redis-sequential-appendfsync-no").await;
    redis_cmd(port, "CONFIG SET appendfsync always").await?;
    // Where the service's CPU goes with one publisher at a time (`perf`, when there is one).
    quiet(QUIET, Duration::from_secs(10)).await;
    let profile = profile_publishes(o, tmp, inst, watch).await;
    Ok(json!({ "pingMs": rtt, "sequentialAppendfsyncNo": r?, "profile": profile }))
}

/// `perf record` (DWARF call graphs) of one serve process while one publisher publishes;
/// the service's own functions (and the libraries' heaviest) by inclusive share of its
/// samples. `null` without perf, or when it may not profile.
async fn profile_publishes(o: &Opts, tmp: &Path, inst: &Instance, watch: &Watch) -> Value {
    let data = tmp.join("perf.data");
    let secs = o.rate_secs.clamp(1.0, 5.0);
    let rec = tokio::process::Command::new("perf")
        .args(["record", "-q", "-F", "499", "--call-graph", "dwarf,16384", "-p", &inst.pid.to_string(), "-o"])
        .arg(&data)
        .args(["--", "sleep", &format!("{secs}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn();
    let Ok(rec) = rec else { return Value::Null };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let run = publish_rate(o, inst, watch, 1, "redis-sequential-profiled").await;
    let recorded = tokio::time::timeout(Duration::from_secs_f64(secs) + IO_TIMEOUT, rec.wait_with_output()).await;
    if run.is_err() || !matches!(recorded, Ok(Ok(ref out)) if out.status.success()) {
        return Value::Null;
    }
    let report = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new("perf")
            .args(["report", "--stdio", "--children", "--sort", "sym", "-g", "none", "--percent-limit", "1", "-i"])
            .arg(&data)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await;
    let _ = fs::remove_file(&data);
    let Ok(Ok(out)) = report else { return Value::Null };
    let text = String::from_utf8_lossy(&out.stdout);
    let samples =
        text.lines().find_map(|l| l.strip_prefix("# Samples: ")?.split_whitespace().next()?.parse::<f64>().ok());
    // "  34.24%     0.15%  [.] swcache::service::hub::Hub::read_store::{{closure}}"
    let mut funcs: Vec<(String, f64, f64)> = vec![];
    for l in text.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() < 4 || !f[0].ends_with('%') || f[2] != "[.]" {
            continue;
        }
        let name = f[3..].join(" ");
        let name = name.trim_end_matches("::{{closure}}").trim_end_matches(" (inlined)").to_string();
        let ours = name.starts_with("swcache::")
            || name.contains("CompressorOxide")
            || name.starts_with("miniz_oxide::deflate::core::compress_inner");
        if !ours || name.contains("core::ops::function") {
            continue;
        }
        let total = f[0].trim_end_matches('%').parse::<f64>().unwrap_or(0.0);
        let own = f[1].trim_end_matches('%').parse::<f64>().unwrap_or(0.0);
        match funcs.iter_mut().find(|(n, ..)| *n == name) {
            Some(e) => {
                e.1 = e.1.max(total);
                e.2 = e.2.max(own);
            }
            None => funcs.push((name, total, own)),
        }
    }
    funcs.sort_by(|a, b| b.1.total_cmp(&a.1));
    funcs.truncate(14);
    log(format!(
        "profile: {} samples; {}",
        samples.unwrap_or(0.0),
        funcs.iter().take(4).map(|(n, t, _)| format!("{n} {t:.0}%")).collect::<Vec<_>>().join(", ")
    ));
    json!({
        "samples": samples,
        "publishes": run.ok().map(|r| r["published"].clone()),
        "functions": funcs.iter().map(|(n, t, s)| json!({ "name": n, "inclusivePct": t, "selfPct": s })).collect::<Vec<_>>(),
    })
}

async fn publish_rates(o: &Opts, inst: &Instance, watch: &Watch, store: &str) -> Result<Value, String> {
    // Warm-up: connections, the store's first writes, the allocator.
    let mut c = Http::connect(inst.addr).await.map_err(|e| e.to_string())?;
    for i in 0..20 {
        publish(&mut c, &format!("{{\"urls\":[\"/promo/warmup-{i}\"]}}")).await?;
    }
    drop(c);
    let mut out = serde_json::Map::new();
    for (name, conc) in [("sequential", 1), ("concurrent", o.rate_conc)] {
        // Rounds, each after the machine is quiet; the median round stands for them.
        let mut rounds = vec![];
        for r in 0..o.rate_rounds {
            quiet(QUIET, Duration::from_secs(10)).await;
            rounds.push(publish_rate(o, inst, watch, conc, &format!("{store}-{name}-{}", r + 1)).await?);
        }
        let rates: Vec<f64> = rounds.iter().map(|r| r["perSecond"].as_f64().unwrap_or(0.0)).collect();
        let mut order: Vec<usize> = (0..rounds.len()).collect();
        order.sort_by(|a, b| rates[*a].total_cmp(&rates[*b]));
        let mut m = rounds[order[order.len() / 2]].clone();
        m["rounds"] = json!(rates);
        out.insert(name.into(), m);
    }
    Ok(Value::Object(out))
}

// ---------------------------------------------------------------------------------------
// 3: conditional GETs per second

async fn get_rate(
    addr: SocketAddr,
    etag: &str,
    conns: usize,
    secs: f64,
    watch: &Watch,
) -> Result<(f64, usize, usize, CpuUse), String> {
    let req = Arc::new(get_req("/swcache-feed.json", &format!("If-None-Match: {etag}\r\n")));
    let a = watch.snap();
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(secs);
    let mut tasks = vec![];
    for _ in 0..conns {
        let req = req.clone();
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut other) = (0usize, 0usize);
            let mut c = Http::connect(addr).await.map_err(|e| e.to_string())?;
            let mut reconnects = 0;
            while Instant::now() < deadline && ok + other < 10_000_000 {
                match c.request(&req).await {
                    Ok((h, _)) => {
                        if h.status == 304 {
                            ok += 1;
                        } else {
                            other += 1;
                        }
                        if h.close {
                            c = Http::connect(addr).await.map_err(|e| e.to_string())?;
                        }
                    }
                    Err(e) => {
                        other += 1;
                        reconnects += 1;
                        if reconnects > 100 {
                            return Err(e.to_string());
                        }
                        c = Http::connect(addr).await.map_err(|e| e.to_string())?;
                    }
                }
            }
            Ok::<_, String>((ok, other))
        }));
    }
    let (mut ok, mut other) = (0, 0);
    for t in tasks {
        let (a, b) = tokio::time::timeout(Duration::from_secs_f64(secs) + IO_TIMEOUT * 2, t)
            .await
            .map_err(|_| "GET clients did not stop".to_string())?
            .map_err(|e| e.to_string())??;
        ok += a;
        other += b;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = CpuUse::between(&a, &watch.snap());
    Ok((ok as f64 / elapsed, ok, other, cpu))
}

async fn conditional_gets(o: &Opts, svc: &Instance, nginx: (u32, SocketAddr)) -> Result<Value, String> {
    let mut targets = vec![];
    for (name, addr, pid) in [("service", svc.addr, svc.pid), ("nginx", nginx.1, nginx.0)] {
        let (h, b) = get_once(addr, "/swcache-feed.json").await.map_err(|e| e.to_string())?;
        let etag = h.etag.ok_or_else(|| format!("{name}: no ETag on the feed"))?;
        if h.status != 200 {
            return Err(format!("{name}: the feed answered {}", h.status));
        }
        let mut c = Http::connect(addr).await.map_err(|e| e.to_string())?;
        let (h2, _) = c
            .request(&get_req("/swcache-feed.json", &format!("If-None-Match: {etag}\r\n")))
            .await
            .map_err(|e| e.to_string())?;
        if h2.status != 304 {
            return Err(format!("{name}: a conditional GET answered {} (ETag {etag})", h2.status));
        }
        log(format!("{name}: feed of {} bytes, ETag {etag}", b.len()));
        targets.push((name, addr, etag, Watch { servers: vec![pid], redis: None }, b.len()));
    }
    let mut rows: Vec<Vec<Value>> = vec![vec![], vec![]];
    for round in 0..o.get_rounds {
        let order: Vec<usize> = if round % 2 == 0 { vec![0, 1] } else { vec![1, 0] };
        for i in order {
            let (name, addr, etag, watch, _) = &targets[i];
            quiet(QUIET, Duration::from_secs(10)).await;
            get_rate(*addr, etag, o.get_conns, 0.5, watch).await?;
            let (rate, ok, other, cpu) = get_rate(*addr, etag, o.get_conns, o.get_secs, watch).await?;
            log(format!("{name} round {}: {rate:.0} conditional GETs/s ({other} not 304)", round + 1));
            rows[i].push(json!({
                "perSecond": r1(rate), "notModified": ok, "other": other, "cpu": cpu.json(),
                "serverCpuUsPerRequest": r2(cpu.server_ms * 1000.0 / ok.max(1) as f64),
                "clientCpuUsPerRequest": r2(cpu.client_ms * 1000.0 / ok.max(1) as f64),
            }));
        }
    }
    let mut out = serde_json::Map::new();
    let mut medians = vec![];
    for (i, (name, _, etag, _, bytes)) in targets.iter().enumerate() {
        let rates: Vec<f64> = rows[i].iter().map(|r| r["perSecond"].as_f64().unwrap_or(0.0)).collect();
        let srv: Vec<f64> = rows[i].iter().map(|r| r["serverCpuUsPerRequest"].as_f64().unwrap_or(0.0)).collect();
        let cli: Vec<f64> = rows[i].iter().map(|r| r["clientCpuUsPerRequest"].as_f64().unwrap_or(0.0)).collect();
        let busy: Vec<f64> = rows[i].iter().map(|r| r["cpu"]["machineBusy"].as_f64().unwrap_or(0.0)).collect();
        let m = median(rates);
        medians.push(m);
        out.insert(
            name.to_string(),
            json!({
                "perSecond": r1(m), "serverCpuUsPerRequest": r2(median(srv)), "clientCpuUsPerRequest": r2(median(cli)),
                "machineBusy": r3(median(busy)), "etag": etag, "feedBytes": bytes, "rounds": rows[i],
            }),
        );
    }
    out.insert("ratio".into(), json!(r3(medians[0] / medians[1])));
    out.insert("connections".into(), json!(o.get_conns));
    out.insert("seconds".into(), json!(o.get_secs));
    out.insert("rounds".into(), json!(o.get_rounds));
    Ok(Value::Object(out))
}

// ---------------------------------------------------------------------------------------

fn machine() -> Value {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string());
    let mem = fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:").and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok()))
        .unwrap_or(0.0);
    let version = |cmd: &str, arg: &str| {
        Command::new(cmd).arg(arg).output().ok().map(|o| {
            let t = if o.stdout.is_empty() { o.stderr } else { o.stdout };
            String::from_utf8_lossy(&t).trim().to_string()
        })
    };
    json!({
        "cpu": model,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "memoryGiB": (mem / 1024.0 / 1024.0).round(),
        "kernel": fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
        "nginx": version("nginx", "-v"),
        "redis": version("redis-server", "--version"),
        "openFilesLimit": open_files_limit(),
    })
}

fn iso_now() -> String {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let (secs, ms) = (d.as_secs() as i64, d.subsec_millis());
    let z = secs.div_euclid(86400) + 719_468;
    let rem = secs.rem_euclid(86400);
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{ms:03}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// The commit measured, and whether the service's sources differ from it (a shared tree).
fn source_state() -> Value {
    let root = env!("CARGO_MANIFEST_DIR");
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(root)
            .args(args)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let dirty = git(&["status", "--porcelain", "--", "src", "Cargo.toml", "Cargo.lock"]).unwrap_or_default();
    json!({
        "commit": git(&["rev-parse", "--short", "HEAD"]),
        "uncommittedServiceChanges": dirty.lines().map(|l| l.get(3..).unwrap_or(l).to_string()).collect::<Vec<_>>(),
    })
}

fn fs_type(p: &Path) -> String {
    // The mount whose point is the longest prefix of p.
    let p = fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let mounts = fs::read_to_string("/proc/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 2 && p.starts_with(f[1])).then(|| (f[1].len(), f[2].to_string()))
        })
        .max()
        .map(|(_, t)| t)
        .unwrap_or_default()
}

async fn run(o: &Opts, tmp: &Path) -> Result<Value, String> {
    let t_start = Instant::now();
    let source = source_state();
    let date = iso_now();
    // What else the machine is doing (other work on a shared machine skews every figure).
    let (b0, t0) = machine_jiffies();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (b1, t1) = machine_jiffies();
    let background = if t1 > t0 { (b1 - b0) as f64 / (t1 - t0) as f64 } else { 0.0 };
    log(format!("machine busy before the run (other work): {:.0}%", background * 100.0));
    fs::write(tmp.join("tokens"), format!("{TOKEN}\n")).map_err(|e| e.to_string())?;
    let feed_dir = tmp.join("feed");
    fs::create_dir_all(&feed_dir).map_err(|e| e.to_string())?;
    let file_store = format!("file:{}", feed_dir.join("swcache-feed.json").display());
    run_cmd(&o.bin, &["init", "--store", &file_store]).await?;
    let fsync_ms = fsync_probe(&feed_dir).await;
    log(format!("fsync on the store's disk: p50 {} ms, p99 {} ms", fsync_ms["p50"], fsync_ms["p99"]));
    let (redis_pid, redis_port) = start_redis(tmp).await?;
    let redis_store = format!("redis://127.0.0.1:{redis_port}/0");
    log(format!("redis-server pid {redis_pid} on port {redis_port}; file store in {}", feed_dir.display()));

    // 2. Publishes per second: file store, then Redis (fresh instances, no live clients).
    let (mut file_rates, mut redis_rates) = (Value::Null, Value::Null);
    if o.runs("publish") {
        file_rates = {
            let inst = start_serve(o, tmp, "serve-file-publish", &file_store, "swcache").await?;
            let w = Watch { servers: vec![inst.pid], redis: None };
            let r = publish_rates(o, &inst, &w, "file").await;
            stop(inst.pid);
            r?
        };
        run_cmd(&o.bin, &["init", "--store", &redis_store, "--namespace", "publish"]).await?;
        redis_rates = {
            let inst = start_serve(o, tmp, "serve-redis-publish", &redis_store, "publish").await?;
            let w = Watch { servers: vec![inst.pid], redis: Some(redis_pid) };
            let mut r = publish_rates(o, &inst, &w, "redis").await;
            if let Ok(v) = &mut r {
                match redis_diagnostics(o, tmp, &inst, &w, redis_port).await {
                    Ok(d) => v["diagnostics"] = d,
                    Err(e) => log(format!("redis diagnostics: {e}")),
                }
            }
            stop(inst.pid);
            r?
        };
    }

    // 3. Conditional GETs: the service and nginx serving the same file (the file store's).
    let mut gets = Value::Null;
    if o.runs("get") {
        // A feed of the usual size (--keep 200 entries) when the publish phase did not run.
        let mut c = None;
        let inst = start_serve(o, tmp, "serve-file-get", &file_store, "swcache").await?;
        if current_seq(inst.addr).await? < 200 {
            let conn = c.insert(Http::connect(inst.addr).await.map_err(|e| e.to_string())?);
            for i in 0..200 {
                publish(conn, &format!("{{\"urls\":[\"/promo/fill-{i}\"]}}")).await?;
            }
        }
        drop(c);
        let nginx = start_nginx(tmp, &feed_dir).await;
        let r = match nginx {
            Ok(n) => {
                let r = conditional_gets(o, &inst, n).await;
                stop(n.0);
                r
            }
            Err(e) => Err(e),
        };
        stop(inst.pid);
        gets = r?;
    }

    // 4, decomposed, and a reconnect storm.
    let mut conns = Value::Null;
    if o.runs("connections") {
        conns = connections(o, tmp, &file_store).await?;
    }

    // 1 and 4. Fan-out: one instance on the file store, then 3 on one Redis.
    let (mut fan_file, mut fan_redis) = (Value::Null, Value::Null);
    if o.runs("fanout-file") {
        let inst = start_serve(o, tmp, "serve-file-fanout", &file_store, "swcache").await?;
        let w = Watch { servers: vec![inst.pid], redis: None };
        let insts = [inst];
        let r = fanout(o, &insts, &w, "file").await;
        stop(insts[0].pid);
        fan_file = r?;
    }
    if o.runs("fanout-redis") {
        run_cmd(&o.bin, &["init", "--store", &redis_store, "--namespace", "fanout"]).await?;
        let mut insts = vec![];
        let mut err = None;
        for i in 0..o.instances {
            match start_serve(o, tmp, &format!("serve-redis-fanout-{i}"), &redis_store, "fanout").await {
                Ok(x) => insts.push(x),
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        let r = match err {
            Some(e) => Err(e),
            None => {
                let w = Watch { servers: insts.iter().map(|i| i.pid).collect(), redis: Some(redis_pid) };
                fanout(o, &insts, &w, "redis").await
            }
        };
        for i in &insts {
            stop(i.pid);
        }
        fan_redis = r?;
    }
    stop(redis_pid);

    Ok(json!({
        "date": date,
        "seconds": r1(t_start.elapsed().as_secs_f64()),
        "machine": machine(),
        "source": source,
        "storeFilesystem": fs_type(tmp),
        "backgroundBusy": r3(background),
        "plan": {
            "clients": o.clients, "publishes": o.publishes, "warmupPublishes": o.warmup, "quietBeforeEachPublish": QUIET,
            "redisInstances": o.instances, "rateSeconds": o.rate_secs, "rateRounds": o.rate_rounds, "concurrentPublishers": o.rate_conc,
            "getSeconds": o.get_secs, "getRounds": o.get_rounds, "getConnections": o.get_conns,
            "serve": "swcache-feed serve defaults (--keep 200, --heartbeat 15), one process per instance, tokio default runtime (a worker per core)",
            "redis": "redis-server --appendonly yes --appendfsync always --save ''",
            "nginx": "worker_processes auto; access_log off; keepalive_requests 1000000; etag on; root = the file store's directory",
        },
        "fsyncMs": fsync_ms,
        "fanout": { "file": fan_file, "redis": fan_redis },
        "connections": conns,
        "publish": { "file": file_rates, "redis": redis_rates },
        "conditionalGet": gets,
    }))
}

fn main() -> ExitCode {
    let o = match parse_opts() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("feed-bench: {e}");
            return ExitCode::from(2);
        }
    };
    if !o.bin.exists() {
        eprintln!("feed-bench: {} not found (cargo build --release --bin swcache-feed)", o.bin.display());
        return ExitCode::from(2);
    }
    let need = o.clients as u64 + 512;
    if open_files_limit() < need {
        eprintln!(
            "feed-bench: {} clients need about {need} open files; the limit is {} (ulimit -n {need})",
            o.clients,
            open_files_limit()
        );
        return ExitCode::from(2);
    }
    if let Ok(out) = Command::new("getconf").arg("CLK_TCK").output() {
        if let Ok(t) = String::from_utf8_lossy(&out.stdout).trim().parse::<u64>() {
            CLK_TCK.store(t.max(1), Ordering::Relaxed);
        }
    }
    let tmp = std::env::temp_dir().join(format!("swcache-feed-bench.{}", std::process::id()));
    if let Err(e) = fs::create_dir_all(&tmp) {
        eprintln!("feed-bench: {}: {e}", tmp.display());
        return ExitCode::from(1);
    }
    // nginx's workers (nobody) read the feed file from here.
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755));
    }
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default_hook(info);
        stop_all();
    }));
    {
        let tmp = tmp.clone();
        std::thread::spawn(move || {
            std::thread::sleep(WATCHDOG);
            eprintln!("feed-bench: no result after {} min: stopping everything", WATCHDOG.as_secs() / 60);
            stop_all();
            let _ = fs::remove_dir_all(&tmp);
            std::process::exit(1);
        });
    }
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("feed-bench: {e}");
            return ExitCode::from(1);
        }
    };
    let result = rt.block_on(async {
        tokio::select! {
            r = run(&o, &tmp) => r,
            _ = tokio::signal::ctrl_c() => Err("interrupted".to_string()),
        }
    });
    stop_all();
    rt.shutdown_timeout(Duration::from_secs(2));
    let code = match result {
        Ok(v) => match fs::write(&o.out, serde_json::to_string_pretty(&v).unwrap_or_default() + "\n") {
            Ok(()) => {
                log(format!("wrote {} ({} s)", o.out.display(), v["seconds"]));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("feed-bench: {}: {e}", o.out.display());
                ExitCode::from(1)
            }
        },
        Err(e) => {
            eprintln!("feed-bench: {e} (logs in {})", tmp.display());
            return ExitCode::from(1);
        }
    };
    let _ = fs::remove_dir_all(&tmp);
    code
}
