//! Native tests of the worker engine, driven by a simulated executor: an in-memory Cache
//! Storage, a scripted network and a clock, with results delivered in any order.

use super::invalidation::CHANGE_WINDOW_MS;
use super::*;
use crate::policy::config::tests::{resolve, ORIGIN};
use crate::policy::config::{KEPT_KEY, NOTICES_KEY};
use crate::policy::text::read_json;
use std::collections::{BTreeMap, VecDeque};

/// `/\.(png|jpe?g|gif|webp|svg)$/` (0), `/\/api\/v1\/promo\/featured-content/` (1),
/// `/^\/(?!api|admin|_next|swcache\/)/` (2), written as predicates.
fn seed_regexps(i: u32, text: &str) -> bool {
    let path = text.split('?').next().unwrap_or("");
    match i {
        0 => [".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg"].iter().any(|e| text.ends_with(e)),
        1 => text.contains("/api/v1/promo/featured-content"),
        2 => text.starts_with('/') && !["api", "admin", "_next", "swcache/"].iter().any(|p| path[1..].starts_with(p)),
        _ => false,
    }
}

fn config(extra_routes: &str, top: &str) -> String {
    format!(
        r#"{{"version":"v1","precache":["/","/robots.txt"],{top}"routes":[{extra_routes}
        {{"name":"images","match":"\u0000r0","strategy":"cacheFirst","maxAge":604800000,"maxEntries":200}},
        {{"name":"componentData","match":"\u0000r1","strategy":"networkFirst","networkTimeout":3000,"maxAge":300000,"maxEntries":100}},
        {{"name":"promoPages","match":"\u0000r2","strategy":"cacheFirst","maxAge":86400000,"maxEntries":50}}]}}"#
    )
}

fn engine(json: &str, now: f64) -> Engine {
    Engine::new(&read_json(json).expect("json"), ORIGIN, now, Box::new(seed_regexps), Box::new(resolve)).unwrap()
}

/// What the simulated server answers for a path.
#[derive(Clone, Debug)]
struct Content {
    status: u16,
    version: u32,
    cache_control: Option<String>,
    vary: Option<String>,
    tags: Option<String>,
    /// A cross-origin answer to a no-cors request.
    opaque: bool,
}

#[derive(Clone, Debug)]
struct Stored {
    stamp: Option<f64>,
    tags: Option<String>,
    version: u32,
    opaque: bool,
}

#[derive(Clone, Debug)]
enum Body {
    /// A response object the executor holds: content version and headers.
    Response {
        version: u32,
        info: ResponseInfo,
    },
    Cached(Stored),
}

#[derive(Default)]
struct OpState {
    res: BTreeMap<Tag, Body>,
    keys: BTreeMap<Tag, Vec<String>>,
    answered: Option<Answer>,
    answered_with: Option<u32>,
    replies: Vec<String>,
    failed: Option<String>,
    done: bool,
    own_path: String,
}

/// The simulated executor.
struct Sim {
    e: Engine,
    now: f64,
    caches: BTreeMap<String, Vec<(String, Stored)>>,
    server: BTreeMap<String, Content>,
    offline: bool,
    /// Fetches that hang until released (a fetch with a `headers_ms` fails after it).
    hanging: bool,
    /// When hanging fetches with a `headers_ms` fail, as the adapter aborts them.
    aborts: Vec<(f64, OpId, Tag)>,
    ops: BTreeMap<OpId, OpState>,
    /// Results waiting to be delivered: (op, tag, io).
    queue: VecDeque<(OpId, Tag, Io)>,
    /// Fetches started, by path.
    requests: BTreeMap<String, u32>,
    timers: Vec<(f64, OpId, Tag)>,
    quota_left: Option<u32>,
    names: Vec<String>,
    warnings: Vec<String>,
    rng: u64,
    shuffle: bool,
    skipped_waiting: bool,
    claimed: bool,
    routes_added: Option<String>,
    /// The engine's saved state (Cache Storage in a browser): survives restarts.
    saved: Option<String>,
    /// The precache's kept keys, saved beside it.
    saved_kept: Option<String>,
    /// The notices told to pages lately, saved beside it.
    saved_notices: Option<String>,
    /// The feed document: (status, etag, body).
    feed_doc: (u16, String, String),
    feed_requests: u32,
    feed_304s: u32,
    broadcasts: Vec<String>,
    /// Feed requests never answer (a hanging CDN).
    feed_hangs: bool,
    /// The feed server's clock runs this many ms behind the device's (negative: ahead):
    /// feed responses carry its `Date`, and `feed_age` as `Age`.
    feed_behind: Option<f64>,
    feed_age: Option<String>,
    /// Every response carries `swcache-feed-seq` with this value.
    announce: Option<String>,
    /// Key listings asked for (cache work).
    listings: u32,
    /// One listing in this many fails (0: none).
    failing_listings: u64,
    /// One put or deletion in this many fails (0: none): nothing changes in the cache.
    failing_writes: u64,
    /// One read in this many fails (0: none).
    failing_reads: u64,
    /// Fetches past the HTTP cache fail (a same-origin copy of a request the server
    /// redirects to another origin).
    failing_reloads: bool,
    /// Navigation preload responses used.
    preloads: u32,
    /// Paths fetched past the HTTP cache (`reload`).
    reloads: Vec<String>,
    /// The last navigation-preload setting.
    preload_on: Option<bool>,
    unregistered: bool,
}

/// Every simulated body has this many bytes.
const BODY_SIZE: u64 = 1000;

impl Sim {
    fn new(json: &str) -> Sim {
        let e = engine(json, 1_000_000.0);
        let names = e.cache_names().iter().map(|s| s.to_string()).collect();
        Sim {
            e,
            now: 1_000_000.0,
            caches: BTreeMap::new(),
            server: BTreeMap::new(),
            offline: false,
            hanging: false,
            aborts: Vec::new(),
            ops: BTreeMap::new(),
            queue: VecDeque::new(),
            requests: BTreeMap::new(),
            timers: Vec::new(),
            quota_left: None,
            names,
            warnings: Vec::new(),
            rng: 0x9e37_79b9_7f4a_7c15,
            shuffle: false,
            skipped_waiting: false,
            claimed: false,
            routes_added: None,
            saved: None,
            saved_kept: None,
            saved_notices: None,
            feed_doc: (404, String::new(), String::new()),
            feed_requests: 0,
            feed_304s: 0,
            broadcasts: Vec::new(),
            feed_hangs: false,
            feed_behind: None,
            feed_age: None,
            announce: None,
            listings: 0,
            failing_listings: 0,
            failing_writes: 0,
            failing_reads: 0,
            failing_reloads: false,
            preloads: 0,
            reloads: Vec::new(),
            preload_on: None,
            unregistered: false,
        }
    }

    /// The browser stopped the worker and started it again: a new engine, same caches.
    fn restart(&mut self, json: &str) {
        self.e = engine(json, self.now);
        self.names = self.e.cache_names().iter().map(|s| s.to_string()).collect();
        self.ops.clear();
        self.queue.clear();
        self.timers.clear();
        self.aborts.clear();
    }

    fn seed() -> Sim {
        Sim::new(&config("", ""))
    }

    fn rand(&mut self, m: u64) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng % m.max(1)
    }

    fn serve(&mut self, path: &str, version: u32) {
        self.server.insert(
            path.into(),
            Content { status: 200, version, cache_control: None, vary: None, tags: None, opaque: false },
        );
    }

    /// Serves `path` (version 1) and requests it, run to the end: stored on its route.
    fn visit(&mut self, path: &str) {
        self.serve(path, 1);
        self.get(path);
    }

    fn content(&mut self, path: &str) -> &mut Content {
        self.server.entry(path.into()).or_insert(Content {
            status: 404,
            version: 0,
            cache_control: None,
            vary: None,
            tags: None,
            opaque: false,
        })
    }

    fn cache(&mut self, slot: u32) -> &mut Vec<(String, Stored)> {
        let name = self.names[slot as usize].clone();
        self.caches.entry(name).or_default()
    }

    fn cached(&self, name: &str, path: &str) -> Option<&Stored> {
        self.caches.get(name)?.iter().find(|(p, _)| p == path).map(|(_, s)| s)
    }

    /// The cache of the route called `route`.
    fn cn(&self, route: &str) -> String {
        let prefix = format!("swcache-{route}-");
        self.names.iter().find(|n| n.starts_with(&prefix)).unwrap_or_else(|| panic!("no cache for {route}")).clone()
    }

    fn count(&self, name: &str) -> usize {
        self.caches.get(name).map_or(0, Vec::len)
    }

    fn path_of(&self, op: OpId, r: &Req) -> String {
        match r {
            Req::Own => self.ops[&op].own_path.clone(),
            Req::Path(p) | Req::Page(p) => p.clone(),
            Req::Key { list, index } => {
                let href = &self.ops[&op].keys[list][*index as usize];
                url::key_of(href, ORIGIN).to_string()
            }
        }
    }

    fn state(&mut self, op: OpId) -> &mut OpState {
        self.ops.entry(op).or_default()
    }

    fn exec(&mut self) {
        for c in self.e.take() {
            // A navigation preload is a fetch of the event's request, made by the browser.
            let c = match c {
                Cmd::Preload { op, tag, headers_ms } => {
                    self.preloads += 1;
                    Cmd::Fetch { op, tag, req: Req::Own, reload: false, headers_ms }
                }
                c => c,
            };
            match c {
                Cmd::Preload { .. } => unreachable!(),
                Cmd::NavigationPreload { op, tag, on } => {
                    self.preload_on = Some(on);
                    self.queue.push_back((op, tag, Io::Done));
                }
                Cmd::Size { op, tag, .. } => self.queue.push_back((op, tag, Io::Size(Some(BODY_SIZE)))),
                Cmd::Unregister { op, tag } => {
                    self.unregistered = true;
                    self.queue.push_back((op, tag, Io::Done));
                }
                Cmd::Match { op, tag, slot, req } => {
                    if self.failing_reads > 0 && self.rand(self.failing_reads) == 0 {
                        self.queue.push_back((op, tag, Io::Unread));
                        continue;
                    }
                    let path = self.path_of(op, &req);
                    // A read by name (`caches.match(req, {cacheName})`) creates no cache.
                    let name = &self.names[slot as usize];
                    let found = self.cached(name, &path).cloned();
                    let io = Io::Matched(found.as_ref().map(|s| Entry {
                        stamp_ms: s.stamp,
                        tags: s.tags.clone(),
                        validator: Some(format!("v{}", s.version)),
                        size: Some(100),
                        opaque: s.opaque,
                    }));
                    if let Some(s) = found {
                        self.state(op).res.insert(tag, Body::Cached(s));
                    }
                    self.queue.push_back((op, tag, io));
                }
                Cmd::Fetch { op, tag, req, reload, headers_ms } => {
                    let path = self.path_of(op, &req);
                    *self.requests.entry(path.clone()).or_default() += 1;
                    if reload {
                        self.reloads.push(path.clone());
                    }
                    if self.hanging {
                        // Never answers (until the test releases it by hand), but one no page
                        // waits for is aborted at its limit.
                        if let Some(ms) = headers_ms {
                            self.aborts.push((self.now + f64::from(ms), op, tag));
                        }
                        continue;
                    }
                    let io = if self.offline || (reload && self.failing_reloads) {
                        Io::Fetched(Err("Failed to fetch".into()))
                    } else {
                        let c = self.content(&path).clone();
                        let info = ResponseInfo {
                            status: c.status,
                            opaque: c.opaque,
                            redirected: false,
                            cache_control: c.cache_control,
                            vary: c.vary,
                            tags: c.tags,
                            feed_seq: self.announce.clone(),
                            validator: Some(format!("v{}", c.version)),
                        };
                        self.state(op).res.insert(tag, Body::Response { version: c.version, info: info.clone() });
                        Io::Fetched(Ok(info))
                    };
                    self.queue.push_back((op, tag, io));
                }
                Cmd::Timer { op, tag, ms } => self.timers.push((self.now + f64::from(ms), op, tag)),
                Cmd::Put { op, tag, slot, req, from, stamp } => {
                    let path = self.path_of(op, &req);
                    let (version, tags, opaque) = match self.state(op).res.get(&from) {
                        Some(Body::Response { version, info }) => (*version, info.tags.clone(), info.opaque),
                        // (A cached copy stamped again.)
                        Some(Body::Cached(s)) => (s.version, s.tags.clone(), s.opaque),
                        other => panic!("put from {from:?}: {other:?}"),
                    };
                    if self.failing_writes > 0 && self.rand(self.failing_writes) == 0 {
                        self.queue.push_back((op, tag, Io::Put(PutResult::Failed)));
                        continue;
                    }
                    if let Some(left) = self.quota_left.as_mut() {
                        if *left == 0 {
                            self.queue.push_back((op, tag, Io::Put(PutResult::Quota)));
                            continue;
                        }
                        *left -= 1;
                    }
                    let c = self.cache(slot);
                    c.retain(|(p, _)| *p != path);
                    c.push((path, Stored { stamp, tags, version, opaque }));
                    self.queue.push_back((op, tag, Io::Put(PutResult::Ok)));
                }
                Cmd::Keys { op, tag, slot } => {
                    self.listings += 1;
                    if self.failing_listings > 0 && self.rand(self.failing_listings) == 0 {
                        self.queue.push_back((op, tag, Io::Keys(None)));
                        continue;
                    }
                    // A key is a path on this origin, or another origin's whole URL.
                    let href = |p: &str| if p.starts_with('/') { format!("{ORIGIN}{p}") } else { p.into() };
                    let keys: Vec<String> = self.cache(slot).iter().map(|(p, _)| href(p)).collect();
                    self.state(op).keys.insert(tag, keys.clone());
                    self.queue.push_back((op, tag, Io::Keys(Some(keys))));
                }
                Cmd::Delete { op, tag, slot, reqs } => {
                    if self.failing_writes > 0 && self.rand(self.failing_writes) == 0 {
                        self.queue.push_back((op, tag, Io::Deleted(0)));
                        continue;
                    }
                    let paths: Vec<String> = reqs.iter().map(|r| self.path_of(op, r)).collect();
                    let c = self.cache(slot);
                    let before = c.len();
                    c.retain(|(p, _)| !paths.contains(p));
                    let n = (before - c.len()) as u32;
                    self.queue.push_back((op, tag, Io::Deleted(n)));
                }
                Cmd::Respond { op, answer } => {
                    let st = self.state(op);
                    assert!(st.answered.is_none(), "op {op} answered twice");
                    st.answered_with = match &answer {
                        Answer::Cached(t) | Answer::Network(t) => match st.res.get(t) {
                            Some(Body::Cached(s)) => Some(s.version),
                            Some(Body::Response { version, .. }) => Some(*version),
                            None => panic!("op {op} answers with a response it never got at tag {t:?}"),
                        },
                        Answer::Range { from, .. } => match st.res.get(from) {
                            Some(Body::Cached(s)) => Some(s.version),
                            _ => panic!("op {op} answers a range from a response it never read at tag {from:?}"),
                        },
                        Answer::Error { .. } | Answer::Unsatisfiable { .. } | Answer::Browser => None,
                    };
                    st.answered = Some(answer);
                }
                Cmd::Reply { op, json } => {
                    assert!(read_json(&json).is_some(), "reply is JSON: {json}");
                    self.state(op).replies.push(json);
                }
                Cmd::CacheNames { op, tag } => {
                    let names = self.caches.keys().cloned().collect();
                    self.queue.push_back((op, tag, Io::CacheNames(names)));
                }
                Cmd::DeleteCache { op, tag, name } => {
                    self.caches.remove(&name);
                    self.queue.push_back((op, tag, Io::Done));
                }
                Cmd::SkipWaiting { op, tag } => {
                    self.skipped_waiting = true;
                    self.queue.push_back((op, tag, Io::Done));
                }
                Cmd::Claim { op, tag } => {
                    self.claimed = true;
                    self.queue.push_back((op, tag, Io::Done));
                }
                Cmd::AddRoutes { json, .. } => self.routes_added = Some(json),
                Cmd::Fail { op, text } => {
                    let st = self.state(op);
                    st.failed = Some(text);
                    st.done = true;
                }
                Cmd::Warn { text } => self.warnings.push(text),
                Cmd::LoadState { op, tag, key } => {
                    let saved = self.saved_at(key).clone();
                    self.queue.push_back((op, tag, Io::State(saved.as_deref().and_then(read_json))));
                }
                Cmd::SaveState { op, tag, key, text } => {
                    *self.saved_at(key) = Some(text);
                    self.queue.push_back((op, tag, Io::Put(PutResult::Ok)));
                }
                Cmd::FetchFeed { op, tag, etag, .. } => {
                    self.feed_requests += 1;
                    if self.feed_hangs {
                        continue;
                    }
                    let (status, tag_now, body) = self.feed_doc.clone();
                    // (`Date` is to the second.)
                    let date = self.feed_behind.map(|b| ((self.now - b) / 1000.0).floor() * 1000.0);
                    let age = self.feed_age.clone();
                    let io = if self.offline {
                        Io::Fetched(Err("Failed to fetch".into()))
                    } else if status == 200 && etag.as_deref() == Some(tag_now.as_str()) {
                        self.feed_304s += 1;
                        Io::Feed { status: 304, etag: Some(tag_now), date, age, body: None }
                    } else {
                        let body = (status == 200).then(|| Json::read(&body));
                        Io::Feed { status, etag: Some(tag_now), date, age, body }
                    };
                    self.queue.push_back((op, tag, io));
                }
                Cmd::Broadcast { json } => self.broadcasts.push(json),
                Cmd::Done { op } => {
                    let st = self.state(op);
                    assert!(!st.done, "op {op} done twice");
                    st.done = true;
                }
            }
        }
    }

    /// What is saved under `key` in the state cache.
    fn saved_at(&mut self, key: &str) -> &mut Option<String> {
        match key {
            KEPT_KEY => &mut self.saved_kept,
            NOTICES_KEY => &mut self.saved_notices,
            _ => &mut self.saved,
        }
    }

    /// Delivers results until a write's `QuotaExceededError` is pending (not delivered).
    fn until_quota_error(&mut self) {
        while !self.queue.iter().any(|(_, _, io)| matches!(io, Io::Put(PutResult::Quota))) {
            assert!(self.step(), "no write met the quota");
        }
    }

    /// Delivers one pending result (a random one when shuffling). `false`: none left.
    fn step(&mut self) -> bool {
        self.exec();
        if self.queue.is_empty() {
            return false;
        }
        let i = if self.shuffle { self.rand(self.queue.len() as u64) as usize } else { 0 };
        let (op, tag, io) = self.queue.remove(i).unwrap();
        self.now += 1.0;
        self.e.io(op, tag, io, self.now);
        self.exec();
        true
    }

    fn settle(&mut self) {
        while self.step() {}
    }

    fn advance(&mut self, ms: f64) {
        self.now += ms;
        let due: Vec<(f64, OpId, Tag)> = self.timers.iter().copied().filter(|t| t.0 <= self.now).collect();
        self.timers.retain(|t| t.0 > self.now);
        for (_, op, tag) in due {
            self.e.io(op, tag, Io::Timer, self.now);
            self.exec();
        }
        let due: Vec<(f64, OpId, Tag)> = self.aborts.iter().copied().filter(|t| t.0 <= self.now).collect();
        self.aborts.retain(|t| t.0 > self.now);
        for (_, op, tag) in due {
            self.e.io(op, tag, Io::Fetched(Err("no response headers within 30 s".into())), self.now);
            self.exec();
        }
    }

    /// `path` cached at version 1, the origin now at 2 and not answering (`hanging`): a
    /// networkFirst request of it waits for its timeout.
    fn cached_then_hanging(&mut self, path: &str) {
        self.serve(path, 1);
        assert_eq!(self.get(path), Some(1));
        self.serve(path, 2);
        self.hanging = true;
    }

    /// The network's answer to `op`'s hanging fetch comes now: `version`, with `validator`.
    fn net_answers(&mut self, op: OpId, version: u32, validator: Option<&str>) {
        let info = ResponseInfo { status: 200, validator: validator.map(Into::into), ..Default::default() };
        self.state(op).res.insert(Tag::Net, Body::Response { version, info: info.clone() });
        self.e.io(op, Tag::Net, Io::Fetched(Ok(info)), self.now);
    }

    fn start_fetch(&mut self, path: &str, navigate: bool, cache: &str) -> Option<OpId> {
        self.start_request(path, Request { navigate, cache, ..get_request("") })
    }

    /// A GET of `path` as `req` describes it (its `href` is made from `path`; another
    /// origin's URL is its own `path`, as the simulated caches key it).
    fn start_request(&mut self, path: &str, req: Request<'_>) -> Option<OpId> {
        let href = if path.starts_with('/') { format!("{ORIGIN}{path}") } else { path.into() };
        let op = self.e.fetch(&Request { href: &href, offline: req.offline || self.offline, ..req }, self.now)?;
        self.state(op).own_path = path.into();
        self.exec();
        Some(op)
    }

    /// A page request, run to the end: the content version served (None: an error).
    fn get(&mut self, path: &str) -> Option<u32> {
        let op = self.start_fetch(path, false, "default").expect("routed");
        self.settle();
        let st = &self.ops[&op];
        assert!(st.done, "{path}: op not done");
        st.answered.as_ref().expect("answered");
        st.answered_with
    }

    fn message(&mut self, json: &str) -> (OpId, Vec<String>) {
        let op = self.e.message(read_json(json), false, self.now);
        self.state(op);
        self.exec();
        self.settle();
        (op, self.ops[&op].replies.clone())
    }

    /// A POST, PUT or DELETE of `href` (a path on ORIGIN, or a whole URL), its
    /// invalidation run to the end (`None`: the engine had nothing to do).
    fn change(&mut self, href: &str) -> Option<OpId> {
        let href = if href.starts_with('/') { format!("{ORIGIN}{href}") } else { href.into() };
        let op = self.e.change(&href, self.now)?;
        self.state(op);
        self.exec();
        self.settle();
        Some(op)
    }

    fn stats(&mut self) -> Value {
        let (_, r) = self.message(r#"{"type":"GET_STATS"}"#);
        read_json(&r[0]).unwrap()
    }
}

fn num(v: &Value, path: &[&str]) -> f64 {
    let mut v = v;
    for k in path {
        v = v.get(k).unwrap_or_else(|| panic!("no {k}"));
    }
    match v {
        Value::Num(n) => *n,
        other => panic!("{other:?}"),
    }
}

#[test]
fn cache_first_miss_then_hit_stamped_with_the_fetch_start() {
    let mut s = Sim::seed();
    s.serve("/promo/a", 1);
    assert_eq!(s.get("/promo/a"), Some(1));
    let stored = s.cached(&s.cn("promoPages"), "/promo/a").expect("stored").clone();
    assert!(stored.stamp.is_some());
    s.serve("/promo/a", 2);
    assert_eq!(s.get("/promo/a"), Some(1), "fresh hit from the cache");
    assert_eq!(s.requests["/promo/a"], 1);
    let st = s.stats();
    assert_eq!(num(&st, &["routes", "promoPages", "hits"]), 1.0);
    assert_eq!(num(&st, &["misses"]), 1.0);
}

#[test]
fn unrouted_and_non_get_requests_are_left_alone() {
    let mut s = Sim::seed();
    let href = format!("{ORIGIN}/api/other");
    assert_eq!(s.e.fetch(&get_request(&href), 0.0), None);
    let href = format!("{ORIGIN}/promo/a");
    assert_eq!(s.e.fetch(&Request { get: false, ..get_request(&href) }, 0.0), None);
    assert!(s.e.take().is_empty());
    // A ranged request on a route that goes to the network first is the browser's.
    let href = format!("{ORIGIN}/api/v1/promo/featured-content?id=1");
    assert_eq!(s.e.fetch(&Request { range: Some("bytes=0-"), ..get_request(&href) }, 0.0), None);
    assert!(s.e.take().is_empty());
}

#[test]
fn an_event_stream_on_a_route_is_left_to_the_browser() {
    // A page's EventSource on the site's origin (`subscribe('/v1/events')`) under a route
    // that takes every path: Chromium leaves its Last-Event-ID off a request a worker
    // passes on, so the stream must not go through the worker.
    let mut s = Sim::seed();
    let href = format!("{ORIGIN}/v1/events");
    let stream = Request { cache: "no-store", accept: Some("text/event-stream"), ..get_request(&href) };
    assert_eq!(s.e.fetch(&stream, 0.0), None);
    assert!(s.e.take().is_empty());
    assert!(
        s.e.fetch(&Request { accept: Some("*/*"), ..get_request(&href) }, 0.0).is_some(),
        "other requests as before"
    );
}

#[test]
fn server_errors_and_unstorable_responses_are_served_not_stored() {
    let mut s = Sim::seed();
    s.content("/promo/e").status = 500;
    assert_eq!(s.get("/promo/e"), Some(0));
    for (path, cc, vary) in [("/promo/ns", Some("no-store"), None), ("/promo/vs", None, Some("Accept, *"))] {
        s.serve(path, 1);
        s.content(path).cache_control = cc.map(Into::into);
        s.content(path).vary = vary.map(Into::into);
        assert_eq!(s.get(path), Some(1));
        assert!(s.cached(&s.cn("promoPages"), path).is_none(), "{path} stored");
    }
    assert!(s.cached(&s.cn("promoPages"), "/promo/e").is_none());
}

/// A route whose origin sends `no-store` (PHP's session pages do) or `Vary: *` stays empty
/// for good: the site owner learns why from the worker's console and from `GET_STATS`
/// (`stats()`, `inspect()` in a page), once per reason, naming the route and the URL.
#[test]
fn a_response_the_route_may_not_store_says_why_in_stats() {
    let mut s = Sim::seed();
    for (path, cc, vary) in [
        ("/promo/ns", Some("no-store, no-cache"), None),
        ("/promo/ns2", Some("no-store"), None),
        ("/promo/vs", None, Some("Accept, *")),
    ] {
        s.serve(path, 1);
        s.content(path).cache_control = cc.map(Into::into);
        s.content(path).vary = vary.map(Into::into);
        s.get(path);
    }
    s.content("/promo/gone").status = 404;
    s.get("/promo/gone");
    let stats = s.stats();
    let Some(Value::Arr(said)) = stats.get("warnings") else { panic!("no warnings in {stats:?}") };
    let said: Vec<&str> = said.iter().filter_map(Value::as_str).collect();
    assert_eq!(
        said,
        [
            "swcache: route 'promoPages' did not store /promo/ns: it was sent with Cache-Control: no-store",
            "swcache: route 'promoPages' did not store /promo/vs: it was sent with Vary: *",
        ],
        "once per reason, not a 404"
    );
    assert_eq!(s.warnings.len(), 2, "and in the worker's console: {:?}", s.warnings);
}

/// A 5xx is a failure where a stale copy can stand in (the decision moved from the
/// adapter to the core).
#[test]
fn a_5xx_serves_the_stale_copy() {
    let mut s = Sim::seed();
    s.serve("/promo/s", 1);
    s.get("/promo/s");
    s.now += 2.0 * 864e5;
    s.content("/promo/s").status = 503;
    assert_eq!(s.get("/promo/s"), Some(1), "stale copy instead of the 503");
    s.offline = true;
    assert_eq!(s.get("/promo/s"), Some(1), "offline: stale copy");
    assert_eq!(s.get("/promo/never"), None, "nothing cached: an error answer");
    let op = s.start_fetch("/promo/never2", false, "default").unwrap();
    s.settle();
    assert!(matches!(s.ops[&op].answered, Some(Answer::Error { status: 503, .. })));
}

/// A 304 to a request without validators of the page's own (an origin or proxy answering
/// so): the stale copy answers, stamped again as a revalidation would (the page got the
/// empty 304); a page's own conditional request gets the origin's 304.
#[test]
fn a_304_to_an_unconditional_request_serves_the_cached_copy_stamped_again() {
    let mut s = Sim::seed();
    let pages = s.cn("promoPages");
    s.serve("/promo/n", 1);
    s.get("/promo/n");
    s.now += 2.0 * 864e5;
    s.serve("/promo/n", 9);
    s.content("/promo/n").status = 304;
    assert_eq!(s.get("/promo/n"), Some(1), "the stale copy, not the 304");
    assert_eq!(s.requests["/promo/n"], 2);
    let stamp = s.cached(&pages, "/promo/n").and_then(|c| c.stamp).unwrap();
    assert!(s.now - stamp < 10.0, "stamped again");
    assert_eq!(s.get("/promo/n"), Some(1));
    assert_eq!(s.requests["/promo/n"], 2, "fresh again: no request");
    assert_eq!(num(&s.stats(), &["routes", "promoPages", "staleServed"]), 0.0);
    // A page's own validators: the 304 is its answer.
    s.now += 2.0 * 864e5;
    let op = s.start_request("/promo/n", Request { conditional: true, ..get_request("") }).unwrap();
    s.settle();
    assert_eq!(s.ops[&op].answered_with, Some(9), "the origin's 304");
    // networkFirst: the cached copy too.
    let data = "/api/v1/promo/featured-content/1";
    s.serve(data, 1);
    s.get(data);
    s.now += 2.0 * 864e5;
    s.serve(data, 9);
    s.content(data).status = 304;
    assert_eq!(s.get(data), Some(1), "networkFirst: the copy");
    assert!(s.now - s.cached(&s.cn("componentData"), data).and_then(|c| c.stamp).unwrap() < 10.0);
    // An invalidation raised while the 304 was on its way: the copy is not stamped again.
    s.now += 2.0 * 864e5;
    let op = s.start_fetch("/promo/n", false, "default").unwrap();
    assert!(s.step(), "the stale copy read; the fetch under way");
    s.now += 5.0;
    let inv = s.e.message(read_json(r#"{"type":"CACHE_INVALIDATION","urls":["/promo/n"]}"#), false, s.now);
    s.state(inv);
    s.exec();
    while !s.ops[&inv].replies.iter().any(|r| r.contains("DONE")) {
        let i = s.queue.iter().position(|(o, _, _)| *o != op).expect("the invalidation goes on without the fetch");
        let (o, tag, io) = s.queue.remove(i).unwrap();
        s.e.io(o, tag, io, s.now);
        s.exec();
    }
    assert!(s.cached(&pages, "/promo/n").is_none());
    s.settle();
    assert!(s.ops[&op].answered.is_some());
    assert!(s.cached(&pages, "/promo/n").is_none(), "the invalidated copy stays deleted");
}

/// networkFirst: a timeout answers from the cache, and the late response is stored
/// when it comes (the decision moved from the adapter to the core).
#[test]
fn network_first_timeout_then_late_store() {
    let mut s = Sim::seed();
    let path = "/api/v1/promo/featured-content?id=1";
    s.cached_then_hanging(path);
    let op = s.start_fetch(path, false, "default").unwrap();
    s.settle();
    assert!(s.ops[&op].answered.is_none(), "waits for the network");
    s.advance(3000.0);
    s.settle();
    assert_eq!(s.ops[&op].answered_with, Some(1), "timeout → cached copy");
    assert!(!s.ops[&op].done, "the late response is still awaited");
    // The network answers now.
    let c = s.content(path).clone();
    s.net_answers(op, c.version, None);
    s.settle();
    assert!(s.ops[&op].done);
    assert_eq!(s.cached(&s.cn("componentData"), path).unwrap().version, 2, "late answer stored");
}

/// Three requests that timed out on the same slow answer, each served the cached copy:
/// their late answers bring one piece of news, told once (each told every open page).
#[test]
fn late_network_first_writes_of_one_new_copy_announce_it_once() {
    let mut s = Sim::seed();
    let path = "/api/v1/promo/featured-content?id=1";
    s.cached_then_hanging(path);
    let ops: Vec<OpId> = (0..3).map(|_| s.start_fetch(path, false, "default").unwrap()).collect();
    s.settle();
    s.advance(3000.0);
    s.settle();
    for &op in &ops {
        assert_eq!(s.ops[&op].answered_with, Some(1), "timeout → cached copy");
        s.net_answers(op, 2, Some("v2"));
        s.settle();
    }
    assert_eq!(s.cached(&s.cn("componentData"), path).unwrap().version, 2);
    let updated: Vec<&String> = s.broadcasts.iter().filter(|b| b.contains("UPDATED")).collect();
    assert_eq!(updated.len(), 1, "one UPDATED for one new copy: {updated:?}");
    // A newer copy later is news again.
    s.hanging = false;
    s.now += 1_000.0;
    s.serve(path, 3);
    assert_eq!(s.get(path), Some(3));
    s.serve(path, 4);
    s.hanging = true;
    let op = s.start_fetch(path, false, "default").unwrap();
    s.settle();
    s.advance(3000.0);
    s.settle();
    s.net_answers(op, 4, Some("v4"));
    s.settle();
    assert_eq!(s.broadcasts.iter().filter(|b| b.contains("UPDATED")).count(), 2, "{:?}", s.broadcasts);
}

#[test]
fn network_first_timeout_with_nothing_cached_keeps_waiting() {
    let mut s = Sim::seed();
    let path = "/api/v1/promo/featured-content?id=9";
    s.serve(path, 4);
    s.hanging = true;
    let op = s.start_fetch(path, false, "default").unwrap();
    s.advance(3000.0);
    s.settle();
    assert!(s.ops[&op].answered.is_none(), "no 504: keeps waiting");
    s.net_answers(op, 4, None);
    s.settle();
    assert_eq!(s.ops[&op].answered_with, Some(4));
}

#[test]
fn precached_urls_fall_back_to_the_precache() {
    let mut s = Sim::seed();
    s.serve("/", 1);
    s.serve("/robots.txt", 1);
    let op = s.e.install();
    s.exec();
    s.settle();
    assert!(s.ops[&op].done && s.skipped_waiting);
    assert!(s.cached("swcache-precache", "/?__swcache_rev=v1").is_some());
    s.offline = true;
    assert_eq!(s.get("/"), Some(1), "the page route misses; the precache copy answers");
    assert_eq!(s.get("/robots.txt"), Some(1), "built-in precache route");
}

#[test]
fn a_route_that_can_never_match_is_reported_once_when_the_version_installs() {
    let mut s = Sim::new(&config(
        r#"{"name":"everything","match":"/","strategy":"networkFirst"},{"name":"promo","match":"/promo/","strategy":"cacheFirst"},"#,
        "",
    ));
    s.serve("/", 1);
    s.serve("/robots.txt", 1);
    s.exec();
    assert!(s.warnings.is_empty(), "a start reports nothing: {:?}", s.warnings);
    install_and_activate(&mut s);
    assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
    assert!(
        s.warnings[0].contains("route 'promo' (routes[1]) can never match: route 'everything' (routes[0]) comes first")
    );
}

#[test]
fn install_fails_on_a_precache_error_and_activate_drops_other_versions() {
    let mut s = Sim::seed();
    s.serve("/", 1);
    s.content("/robots.txt").status = 404;
    let op = s.e.install();
    s.exec();
    s.settle();
    assert!(s.ops[&op].failed.as_deref().unwrap().contains("/robots.txt answered HTTP 404"));
    s.caches.insert("swcache-v0-promoPages".into(), vec![]);
    s.caches.insert("site-own".into(), vec![]);
    let images = s.cn("images");
    s.caches.insert(images.clone(), vec![]);
    let op = s.e.activate();
    s.exec();
    s.settle();
    assert!(s.ops[&op].done && s.claimed);
    assert!(!s.caches.contains_key("swcache-v0-promoPages"));
    assert!(s.caches.contains_key("site-own") && s.caches.contains_key(&images));
}

#[test]
fn max_entries_trims_least_used_first_and_bursts_coalesce() {
    let mut s = Sim::seed();
    let mut trims = 0;
    for i in 0..60 {
        s.serve(&format!("/promo/{i}"), 1);
    }
    // 60 requests in flight at once, results in order.
    let ops: Vec<OpId> = (0..60).map(|i| s.start_fetch(&format!("/promo/{i}"), false, "default").unwrap()).collect();
    while s.step() {
        trims += 0;
    }
    let _ = trims;
    assert!(ops.iter().all(|o| s.ops[o].done));
    assert_eq!(s.count(&s.cn("promoPages")), 50);
    let st = s.stats();
    assert_eq!(num(&st, &["routes", "promoPages", "evictions"]), 10.0);
    // A hit counts as a use: /promo/10 (oldest left) survives the next eviction.
    assert_eq!(s.get("/promo/10"), Some(1));
    s.serve("/promo/new", 1);
    s.get("/promo/new");
    assert!(s.cached(&s.cn("promoPages"), "/promo/10").is_some());
    assert!(s.cached(&s.cn("promoPages"), "/promo/11").is_none());
}

/// A write to a full cache picks its victims from the keys this instance knows: one
/// listing at the first write, none after, and `maxEntries` holds. When the cache turns
/// out to differ (entries deleted behind the engine's back), the next write lists again.
#[test]
fn a_full_cache_takes_new_entries_without_listing_its_keys_again() {
    let mut s = Sim::seed();
    (0..80).for_each(|i| s.visit(&format!("/promo/{i}")));
    let pages = s.cn("promoPages");
    assert_eq!(s.count(&pages), 50);
    assert_eq!(s.listings, 1, "listed at the first write only");
    assert_eq!(num(&s.stats(), &["routes", "promoPages", "evictions"]), 30.0);
    // Oldest stored first among entries never read again: /promo/30 .. /promo/79 are left.
    assert!(s.cached(&pages, "/promo/29").is_none() && s.cached(&pages, "/promo/30").is_some());
    // Somebody else empties the cache: the next trim deletes nothing of what it planned...
    s.caches.get_mut(&pages).unwrap().clear();
    (80..131).for_each(|i| s.visit(&format!("/promo/{i}")));
    // ...so a later write lists the cache again, and the count is right again.
    assert_eq!(s.listings, 2, "listed again after the deletion found fewer entries");
    assert_eq!(s.count(&pages), 50);
}

/// Writes landing together: the plan for the first write's victim must not forget the
/// second write, still under way, so that the second is not taken for an entry nobody
/// used and evicted right after it is stored.
#[test]
fn a_write_under_way_is_not_the_next_victim() {
    let mut s = Sim::seed();
    (0..51).for_each(|i| s.visit(&format!("/promo/{i}")));
    let listings = s.listings;
    s.serve("/promo/a", 1);
    s.serve("/promo/b", 1);
    let a = s.start_fetch("/promo/a", false, "default").unwrap();
    let b = s.start_fetch("/promo/b", false, "default").unwrap();
    s.settle();
    assert!(s.ops[&a].done && s.ops[&b].done);
    let pages = s.cn("promoPages");
    assert_eq!(s.count(&pages), 50);
    assert!(s.cached(&pages, "/promo/a").is_some() && s.cached(&pages, "/promo/b").is_some(), "both new pages kept");
    assert!(s.cached(&pages, "/promo/1").is_none() && s.cached(&pages, "/promo/2").is_none(), "the oldest went");
    assert!(s.listings <= listings + 1);
}

/// A worker with four promo pages stored and no storage left, and a miss of `/promo/big`
/// (served as 1) under way: its write will meet a quota error.
fn full_storage_miss() -> (Sim, OpId) {
    let mut s = Sim::seed();
    (0..4).for_each(|i| s.visit(&format!("/promo/q{i}")));
    s.quota_left = Some(0);
    s.serve("/promo/big", 1);
    let op = s.start_fetch("/promo/big", false, "default").unwrap();
    (s, op)
}

/// The quota-relief retry used to store without the store rules: a refetched
/// `Cache-Control: no-store` response was written.
#[test]
fn quota_relief_refetch_obeys_the_store_rules() {
    let (mut s, op) = full_storage_miss();
    // The first write fails with a quota error; before the refetch the origin starts
    // answering no-store.
    s.until_quota_error();
    s.content("/promo/big").cache_control = Some("no-store".into());
    s.quota_left = None;
    s.settle();
    assert!(s.ops[&op].done);
    assert_eq!(s.ops[&op].answered_with, Some(1), "served anyway");
    assert_eq!(s.count(&s.cn("promoPages")), 3, "a quarter (one) evicted");
    assert!(s.cached(&s.cn("promoPages"), "/promo/big").is_none(), "a no-store refetch is never stored");
    assert_eq!(s.requests["/promo/big"], 2);

    // Without the header change the retry stores.
    let mut s = Sim::seed();
    s.serve("/promo/a", 1);
    s.get("/promo/a");
    s.quota_left = Some(0);
    s.serve("/promo/b", 1);
    let op = s.start_fetch("/promo/b", false, "default").unwrap();
    s.until_quota_error();
    s.quota_left = None;
    s.settle();
    assert!(s.ops[&op].done);
    assert!(s.cached(&s.cn("promoPages"), "/promo/b").is_some());
    assert!(s.cached(&s.cn("promoPages"), "/promo/a").is_none(), "the least used went");
}

/// A quota error in a route whose cache holds nothing to evict (the storage is full of
/// other caches) frees no room: the write is given up, not fetched and failed once more
/// (a media file used to be downloaded twice on every miss).
#[test]
fn a_quota_error_with_nothing_to_evict_is_not_fetched_again() {
    let mut s = Sim::seed();
    s.quota_left = Some(0);
    s.serve("/promo/big", 1);
    let op = s.start_fetch("/promo/big", false, "default").unwrap();
    s.settle();
    assert!(s.ops[&op].done);
    assert_eq!(s.ops[&op].answered_with, Some(1), "served anyway");
    assert!(s.cached(&s.cn("promoPages"), "/promo/big").is_none());
    assert_eq!(s.requests["/promo/big"], 1, "no second download");
    assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
    assert!(
        s.warnings[0].contains("'promoPages' was served but not stored: the storage quota is full"),
        "{:?}",
        s.warnings
    );
    s.serve("/promo/big2", 1);
    s.get("/promo/big2");
    assert_eq!(s.warnings.len(), 1, "reported once");

    // An install that cannot fit its precache fails at once, naming the full storage.
    let (mut s, _) = deployed(2);
    s.serve("/static/f1.js", 2);
    s.restart(&deploy_config("v2", 2, Some(1), ""));
    s.requests.clear();
    s.caches.clear();
    s.quota_left = Some(0);
    let i = s.e.install();
    s.exec();
    s.settle();
    let failed = s.ops[&i].failed.clone().unwrap_or_default();
    assert!(failed.ends_with(" could not be stored: the storage quota is full"), "{failed}");
    assert!(s.requests.values().all(|n| *n == 1), "{:?}", s.requests);
}

#[test]
fn invalidation_removes_covered_entries_and_is_idempotent() {
    let mut s = Sim::seed();
    for p in ["/promo/a", "/promo/b", "/blog/x"] {
        s.serve(p, 1);
        s.get(p);
    }
    let (_, r) = s.message(r#"{"type":"CACHE_INVALIDATION","urls":["/promo/a","http://localhost:8080/promo/b"]}"#);
    assert_eq!(r, vec![r#"{"type":"CACHE_INVALIDATION_DONE","removed":2}"#]);
    assert!(s.cached(&s.cn("promoPages"), "/blog/x").is_some());
    let (_, r) = s.message(r#"{"type":"CACHE_INVALIDATION","urls":["/promo/a"]}"#);
    assert_eq!(r, vec![r#"{"type":"CACHE_INVALIDATION_DONE","removed":0}"#]);
    let (_, r) = s.message(r#"{"type":"CACHE_INVALIDATION","prefixes":["/blog/"]}"#);
    assert!(r[0].contains("\"removed\":1"));
    assert_eq!(num(&s.stats(), &["invalidations"]), 3.0);
}

#[test]
fn invalidation_by_tag_reads_each_entry() {
    let mut s = Sim::seed();
    for (p, t) in [("/promo/a", "promo-7, hero"), ("/promo/b", "promo-70")] {
        s.serve(p, 1);
        s.content(p).tags = Some(t.into());
        s.get(p);
    }
    let (_, r) = s.message(r#"{"type":"CACHE_INVALIDATION","tags":["promo-7"]}"#);
    assert!(r[0].contains("\"removed\":1"), "{r:?}");
    assert!(s.cached(&s.cn("promoPages"), "/promo/b").is_some(), "whole tokens only");
}

#[test]
fn a_timestamp_in_the_past_keeps_newer_entries() {
    let mut s = Sim::seed();
    s.serve("/promo/a", 1);
    s.get("/promo/a");
    let stamp = s.cached(&s.cn("promoPages"), "/promo/a").unwrap().stamp.unwrap();
    let before = crate::policy::time::iso_string(stamp - 1000.0);
    let (_, r) = s.message(&format!(r#"{{"type":"CACHE_INVALIDATION","all":true,"timestamp":"{before}"}}"#));
    assert!(r[0].contains("\"removed\":0"), "{r:?}");
    assert!(s.cached(&s.cn("promoPages"), "/promo/a").is_some());
}

/// A CMS clock an hour ahead: the entries go, and caching works again right after
/// (the timestamp is clamped to the worker's now).
#[test]
fn a_future_timestamp_does_not_fence_caching_for_hours() {
    let mut s = Sim::seed();
    s.serve("/promo/a", 1);
    s.get("/promo/a");
    let ahead = crate::policy::time::iso_string(s.now + 3_600_000.0);
    let (_, r) = s.message(&format!(r#"{{"type":"CACHE_INVALIDATION","all":true,"timestamp":"{ahead}"}}"#));
    assert!(r[0].contains("\"removed\":1"), "{r:?}");
    s.now += 10.0;
    assert_eq!(s.get("/promo/a"), Some(1));
    assert!(s.cached(&s.cn("promoPages"), "/promo/a").is_some(), "stored again at once");
}

#[test]
fn malformed_messages_change_nothing() {
    let mut s = Sim::seed();
    s.serve("/promo/a", 1);
    s.get("/promo/a");
    for bad in [
        r#"{"type":"CACHE_INVALIDATION","urls":["https://evil.example/a"]}"#,
        r#"{"type":"CACHE_INVALIDATION"}"#,
        r#"{"type":"NUKE"}"#,
        r#""just a string""#,
        r#"{"type":"PREFETCH","urls":[1]}"#,
    ] {
        let (op, r) = s.message(bad);
        assert!(r.len() == 1 && r[0].starts_with(r#"{"type":"ERROR","error":"swcache: malformed"#), "{bad}: {r:?}");
        assert!(s.ops[&op].done);
    }
    let op = s.e.message(None, false, s.now);
    s.exec();
    assert!(s.ops[&op].replies[0].contains("ERROR"));
    assert!(s.cached(&s.cn("promoPages"), "/promo/a").is_some());
}

#[test]
fn prefetch_skips_fresh_and_unrouted_and_bounds_concurrency() {
    let mut s = Sim::seed();
    for i in 0..10 {
        s.serve(&format!("/promo/p{i}"), 1);
    }
    s.get("/promo/p0");
    let op = s.e.message(
        read_json(r#"{"type":"PREFETCH","urls":["/promo/p0","/api/x","/promo/p1","/promo/p2","/promo/p3","/promo/p4","/promo/p5","/promo/p6"]}"#),
        false,
        s.now,
    );
    s.state(op);
    let fetches = s.e.take();
    let matches = fetches.iter().filter(|c| matches!(c, Cmd::Match { .. })).count();
    assert_eq!(matches, 4, "at most 4 in flight");
    s.queue.clear();
    s.e.out = fetches;
    s.exec();
    s.settle();
    assert_eq!(s.ops[&op].replies, vec![r#"{"type":"PREFETCH_DONE","fetched":6,"skipped":2,"failed":0}"#]);
    assert!(s.cached(&s.cn("promoPages"), "/promo/p6").is_some());
    // The URL no route stores is named, once per instance (and in GET_STATS).
    let said = "swcache: PREFETCH skipped /api/x: no route stores it (none matches it, or its strategy is networkOnly)";
    assert_eq!(s.warnings, vec![said]);
    s.message(r#"{"type":"PREFETCH","urls":["/api/y"]}"#);
    assert_eq!(s.warnings.len(), 1, "once: {:?}", s.warnings);
    let stats = s.stats();
    let Some(Value::Arr(kept)) = stats.get("warnings") else { panic!("no warnings in {stats:?}") };
    assert_eq!(kept.iter().filter_map(Value::as_str).collect::<Vec<_>>(), [said]);
    let op = s.e.message(read_json(r#"{"type":"PREFETCH","urls":["/promo/p8"]}"#), true, s.now);
    s.state(op);
    s.exec();
    assert!(s.ops[&op].replies[0].contains("\"skipped\":1"), "Save-Data: nothing fetched");
}

#[test]
fn reload_mode_skips_the_read_but_navigations_do_not() {
    let mut s = Sim::seed();
    s.serve("/promo/r", 1);
    s.get("/promo/r");
    s.serve("/promo/r", 2);
    let op = s.start_fetch("/promo/r", true, "no-cache").unwrap();
    s.settle();
    assert_eq!(s.ops[&op].answered_with, Some(1), "a reloaded navigation still reads the cache");
    let op = s.start_fetch("/promo/r", false, "reload").unwrap();
    s.settle();
    assert_eq!(s.ops[&op].answered_with, Some(2));
    assert_eq!(s.cached(&s.cn("promoPages"), "/promo/r").unwrap().version, 2);
}

/// A router route over a precached URL: the worker answers it from the precache (its own
/// cache misses), but the browser's router, while the worker is stopped, looks in the
/// route's cache only, misses, and goes to the network: an offline cold visit fails where
/// the worker would have served the precached copy. The site owner is told at install.
#[test]
fn a_router_route_over_precached_urls_is_reported_when_the_version_installs() {
    let json = config(r#"{"name":"txt","match":"/robots","strategy":"cacheFirst","coldStart":"router"},"#, "");
    let mut s = Sim::new(&json);
    s.serve("/", 1);
    s.serve("/robots.txt", 1);
    install_and_activate(&mut s);
    assert_eq!(s.get("/robots.txt"), Some(1), "the worker: the precached copy");
    assert!(s.cached(&s.cn("txt"), "/robots.txt").is_none(), "the router's cache has none");
    assert!(
        s.warnings.iter().any(|w| w.contains("route 'txt' (routes[0])") && w.contains("/robots.txt")),
        "{:?}",
        s.warnings
    );
}

#[test]
fn router_routes_are_given_to_the_browser_and_swept_of_expired_entries() {
    let json =
        config(r#"{"name":"landing","match":"/l/","strategy":"cacheFirst","maxAge":1000,"coldStart":"router"},"#, "");
    let mut s = Sim::new(&json);
    s.serve("/", 1);
    s.serve("/robots.txt", 1);
    s.e.install();
    s.exec();
    s.settle();
    assert_eq!(
        s.routes_added.as_deref(),
        Some(format!(r#"[{{"pathname":"/l/*","cacheName":"{}"}}]"#, s.cn("landing")).as_str())
    );
    s.serve("/l/a", 1);
    s.serve("/l/b", 1);
    s.get("/l/a");
    s.get("/l/b");
    assert_eq!(s.count(&s.cn("landing")), 2);
    // A restarted worker: its first answer triggers a sweep of expired router entries.
    s.now += 5000.0;
    s.restart(&json);
    s.get("/l/b"); // stale: refetched and stored again (fresh)
    s.settle();
    assert!(s.cached(&s.cn("landing"), "/l/a").is_none(), "expired entry swept");
    assert!(s.cached(&s.cn("landing"), "/l/b").is_some(), "fresh entry kept");
}

/// A router route's expired copies are its offline fallback too (cacheFirst: network
/// failure, the stale copy; the router serves what is there). A worker started on a device
/// that says it is offline (`navigator.onLine`) does not sweep them; its first request
/// made online does.
#[test]
fn a_worker_started_offline_keeps_the_router_copies_it_would_sweep() {
    let json =
        config(r#"{"name":"landing","match":"/l/","strategy":"cacheFirst","maxAge":1000,"coldStart":"router"},"#, "");
    let mut s = Sim::new(&json);
    s.serve("/", 1);
    s.serve("/robots.txt", 1);
    install_and_activate(&mut s);
    s.serve("/l/a", 1);
    s.serve("/l/b", 1);
    s.get("/l/a");
    s.get("/l/b");
    s.now += 5000.0;
    s.offline = true;
    s.restart(&json);
    assert_eq!(s.get("/l/a"), Some(1), "the stale copy, offline");
    s.settle();
    assert_eq!(s.get("/l/b"), Some(1), "the other stale copy, offline: not swept");
    s.offline = false;
    s.now += 1000.0;
    s.get("/l/a"); // online: refetched (fresh), and the sweep runs
    s.settle();
    assert!(s.cached(&s.cn("landing"), "/l/b").is_none(), "swept once online");
}

/// Randomized model test: random requests, content changes, invalidations and
/// restarts, with results delivered in random order and Cache Storage failing one in
/// eight listings (every second seed), writes and deletions (every third) and reads
/// (every fifth). Invariants: every request is answered once and its operation ends;
/// nothing a DONE reply covered is served to a request made after it; once things
/// settle (and a last few writes with nothing failing), `maxEntries` holds and the keys
/// the engine keeps for a cache are the cache's.
#[test]
fn randomized_model() {
    for seed in 1..=2000u64 {
        let mut s = Sim::seed();
        s.rng = seed.wrapping_mul(0x2545_f491_4f6c_dd1d);
        s.shuffle = true;
        s.failing_listings = if seed % 2 == 0 { 8 } else { 0 };
        s.failing_writes = if seed % 3 == 0 { 8 } else { 0 };
        s.failing_reads = if seed % 5 == 0 { 8 } else { 0 };
        let pages: Vec<String> = (0..70).map(|i| format!("/promo/m{i}")).collect();
        for p in &pages {
            s.serve(p, 1);
        }
        let mut versions: BTreeMap<String, u32> = pages.iter().map(|p| (p.clone(), 1)).collect();
        // (path, version that must not be served again, op id of DONE-bearing message)
        let mut floors: Vec<(String, u32, OpId)> = Vec::new();
        let mut made_after: BTreeMap<OpId, Vec<(String, u32)>> = BTreeMap::new();
        let mut live: Vec<(OpId, String)> = Vec::new();
        // (path, version the server answers from then on, op id of the POST's invalidation)
        let mut posts: Vec<(String, u32, OpId)> = Vec::new();
        for _ in 0..400 {
            match s.rand(10) {
                0..=4 => {
                    // Half the requests go to five hot pages, so invalidations race
                    // with fetches and writes in flight.
                    let k = if s.rand(2) == 0 { s.rand(5) } else { s.rand(pages.len() as u64) };
                    let p = pages[k as usize].clone();
                    // Which invalidations were already done when this request was made.
                    let floor: Vec<(String, u32)> = floors
                        .iter()
                        .filter(|(fp, _, m)| *fp == p && s.ops[m].replies.iter().any(|r| r.contains("DONE")))
                        .chain(posts.iter().filter(|(fp, _, _)| *fp == p))
                        .map(|(fp, v, _)| (fp.clone(), *v))
                        .collect();
                    let nav = s.rand(2) == 0;
                    if let Some(op) = s.start_fetch(&p, nav, "default") {
                        made_after.insert(op, floor);
                        live.push((op, p));
                    }
                }
                5 if s.rand(2) == 0 => {
                    // A form posts to a page, which the server changes as it answers: no
                    // later request may be served an older version (its fence is up at
                    // once, and a GET answered before the server applied it is not stored).
                    let k = if s.rand(2) == 0 { s.rand(5) } else { s.rand(pages.len() as u64) };
                    let p = pages[k as usize].clone();
                    let v = versions[&p] + 1;
                    versions.insert(p.clone(), v);
                    let op = s.e.change(&format!("{ORIGIN}{p}"), s.now).expect("a routed page");
                    s.state(op);
                    s.exec();
                    s.serve(&p, v);
                    posts.push((p, v, op));
                }
                5 => {
                    // The CMS changes a page and invalidates it.
                    let k = if s.rand(2) == 0 { s.rand(5) } else { s.rand(pages.len() as u64) };
                    let p = pages[k as usize].clone();
                    let v = versions[&p] + 1;
                    versions.insert(p.clone(), v);
                    s.serve(&p, v);
                    let op = s.e.message(
                        read_json(&format!(r#"{{"type":"CACHE_INVALIDATION","urls":["{p}"]}}"#)),
                        false,
                        s.now,
                    );
                    s.state(op);
                    s.exec();
                    floors.push((p, v, op));
                }
                6 => s.now += 100.0 * (1 + s.rand(50)) as f64,
                _ => {
                    let n = s.rand(12);
                    for _ in 0..=n {
                        s.step();
                    }
                }
            }
        }
        s.settle();
        s.failing_listings = 0;
        s.failing_writes = 0;
        s.failing_reads = 0;
        // Invalidations whose deletions failed go again (their events keep the worker).
        s.advance(10_000.0);
        s.settle();
        for i in 0..3 {
            s.visit(&format!("/promo/last{i}"));
        }
        for (op, p) in &live {
            let st = &s.ops[op];
            assert!(st.done, "seed {seed}: {p} op {op} not done");
            let served = st.answered_with.unwrap_or_else(|| panic!("seed {seed}: {p} unanswered"));
            for (fp, v) in &made_after[op] {
                assert!(served >= *v, "seed {seed}: {fp} served v{served} after an invalidation that required v{v}");
            }
        }
        for (_, _, m) in floors.iter().chain(&posts) {
            assert!(s.ops[m].done, "seed {seed}: invalidation never finished");
        }
        for (_, _, m) in &posts {
            assert!(s.ops[m].replies.is_empty(), "seed {seed}: a POST's invalidation replied");
        }
        assert!(s.count(&s.cn("promoPages")) <= 50, "seed {seed}: maxEntries");
        assert_eq!(s.e.running(), 0, "seed {seed}: operations left running");
        for (i, slot) in s.e.slots.iter().enumerate() {
            let Some(known) = &slot.known else { continue };
            let mut kept = known.paths();
            let mut held: Vec<&str> =
                s.caches.get(&s.names[i]).map_or(Vec::new(), |c| c.iter().map(|(p, _)| p.as_str()).collect());
            kept.sort_unstable();
            held.sort_unstable();
            assert_eq!(kept, held, "seed {seed}: the keys kept for {} are not the cache's", s.names[i]);
        }
    }
}

/// A request that changes a URL (a form's POST) removes the copies of its GET and is
/// left to the browser; GETs in the next [`CHANGE_WINDOW_MS`] are served, not stored
/// (the server may still be applying the change); nothing is replied or told to pages.
#[test]
fn a_post_removes_the_copy_of_its_url() {
    let mut s = Sim::seed();
    s.visit("/promo/form");
    assert!(s.cached(&s.cn("promoPages"), "/promo/form").is_some());
    // A GET in flight when the form posts, answered with the old page afterwards.
    let early = s.start_fetch("/promo/form", false, "reload").unwrap();
    s.now += 5.0;
    let post = s.change("/promo/form").expect("a routed URL");
    s.serve("/promo/form", 2);
    assert!(s.ops[&post].done);
    assert!(s.ops[&post].replies.is_empty(), "no reply");
    assert!(s.broadcasts.is_empty(), "no notice: {:?}", s.broadcasts);
    assert_eq!(s.ops[&early].answered_with, Some(1));
    assert!(s.cached(&s.cn("promoPages"), "/promo/form").is_none(), "the copy went, the early GET's was not stored");
    // Within the window: the new page, not stored.
    s.now += 1_000.0;
    assert_eq!(s.get("/promo/form"), Some(2));
    assert!(s.cached(&s.cn("promoPages"), "/promo/form").is_none());
    assert!(s.reloads.is_empty(), "not past the HTTP cache (the browser dropped its copy): {:?}", s.reloads);
    s.now += CHANGE_WINDOW_MS;
    assert_eq!(s.get("/promo/form"), Some(2));
    assert_eq!(s.cached(&s.cn("promoPages"), "/promo/form").map(|c| c.version), Some(2), "stored again");
    // A URL nothing keeps, and another origin's: nothing to do.
    assert!(s.change("/api/other").is_none());
    assert!(s.change("https://elsewhere.example/promo/form").is_none());
}

/// A form posting to a page of a route that stores nothing (an account page on a
/// networkOnly route) has no copy to remove: its later navigations still use the
/// navigation preload (no second request to the server) and no fence is raised.
#[test]
fn a_post_to_a_route_that_stores_nothing_changes_nothing() {
    let json =
        config(r#"{"name":"account","match":"/account/","strategy":"networkOnly"},"#, r#""navigationPreload":true,"#);
    let mut s = Sim::new(&json);
    s.serve("/", 1);
    s.serve("/robots.txt", 1);
    s.serve("/account/profile", 1);
    install_and_activate(&mut s);
    let post = s.change("/account/profile");
    s.now += 1_000.0;
    s.requests.clear();
    s.reloads.clear();
    let op = s.start_fetch("/account/profile", true, "default").unwrap();
    s.settle();
    assert_eq!(s.ops[&op].answered_with, Some(1));
    assert_eq!((s.preloads, s.requests["/account/profile"]), (1, 1), "the preload response, not a second fetch");
    assert!(s.reloads.is_empty(), "{:?}", s.reloads);
    assert!(post.is_none() && s.e.fences.is_empty(), "nothing kept: no fence");
}

/// A POST to a precached URL that a route also takes deletes the route's copy only: the
/// precache (the build's files, the offline page among them) is neither listed nor
/// emptied, its copy hidden by the fence while it lives.
#[test]
fn a_post_leaves_the_precache_alone() {
    let mut s = Sim::seed();
    s.serve("/", 1);
    s.serve("/robots.txt", 1);
    install_and_activate(&mut s);
    let precached = s.count("swcache-precache");
    assert_eq!(precached, 2);
    assert_eq!(s.get("/robots.txt"), Some(1));
    let op = s.e.change(&format!("{ORIGIN}/robots.txt"), s.now).expect("a routed URL");
    s.state(op);
    let cmds = s.e.take();
    let precache = s.e.slots.len() as u32 - 1;
    assert!(!cmds.iter().any(|c| matches!(c, Cmd::Keys { slot, .. } if *slot == precache)), "{cmds:?}");
    s.e.out = cmds;
    s.exec();
    s.settle();
    assert_eq!(s.count("swcache-precache"), precached);
    s.serve("/robots.txt", 2);
    // (Kept, not read: the fence hides the copy older than the POST while it lives.)
    assert_eq!(s.get("/robots.txt"), Some(2), "the server's answer after the POST");
}

/// An API on a caching route that the site posts to many times a second (an autosave in
/// a few tabs) raises a fence per request: they must not push out, within its lifetime,
/// the fence of an invalidation a page or the feed sent, whose fetches go past the HTTP
/// cache (which may hold the invalidated copy) for that lifetime.
#[test]
fn a_stream_of_posts_keeps_the_fences_of_invalidations() {
    let mut s = Sim::seed();
    s.visit("/promo/a");
    s.message(r#"{"type":"CACHE_INVALIDATION","urls":["/promo/a"]}"#);
    let max = crate::policy::fence::MAX_FENCES;
    for i in 0..max + 10 {
        s.now += 100.0;
        s.change(&format!("/promo/draft{i}")).expect("a routed URL");
    }
    assert!(s.e.fences.len() <= max);
    s.reloads.clear();
    s.get("/promo/a");
    assert_eq!(s.reloads, ["/promo/a"], "the invalidated page fetched past the HTTP cache");
    // The same URL posted again and again: one fence (the latest) for it, and a GET
    // started now is served, not stored.
    s.now += crate::policy::fence::FENCE_LIFETIME_MS;
    for _ in 0..20 {
        s.now += 100.0;
        s.change("/api/v1/promo/featured-content").expect("a routed URL");
    }
    assert_eq!(s.e.fences.len(), 1);
    s.now += 10.0;
    let data = s.cn("componentData");
    s.serve("/api/v1/promo/featured-content", 2);
    assert_eq!(s.get("/api/v1/promo/featured-content"), Some(2));
    assert!(s.cached(&data, "/api/v1/promo/featured-content").is_none());
}

/// A fetch in flight when the invalidation arrives is served but not stored; a request
/// after DONE gets the new content.
#[test]
fn a_fetch_in_flight_across_an_invalidation_is_not_stored() {
    let mut s = Sim::seed();
    s.serve("/promo/race", 1);
    let early = s.start_fetch("/promo/race", false, "default").unwrap();
    // Deliver the cache miss; the fetch (of v1) is now in flight.
    assert!(s.step());
    assert!(s.queue.iter().any(|(o, t, _)| *o == early && *t == Tag::Net));
    s.serve("/promo/race", 2);
    s.now += 5.0;
    let inv = s.e.message(read_json(r#"{"type":"CACHE_INVALIDATION","urls":["/promo/race"]}"#), false, s.now);
    s.state(inv);
    s.exec();
    // Run the invalidation to DONE before the early fetch answers.
    while !s.ops[&inv].replies.iter().any(|r| r.contains("DONE")) {
        let i = s.queue.iter().position(|(o, _, _)| *o != early).expect("invalidation progresses without the fetch");
        let (op, tag, io) = s.queue.remove(i).unwrap();
        s.e.io(op, tag, io, s.now);
        s.exec();
    }
    s.settle();
    assert_eq!(s.ops[&early].answered_with, Some(1), "the early request is served what it fetched");
    assert!(s.cached(&s.cn("promoPages"), "/promo/race").is_none(), "but it is not stored");
    assert_eq!(s.get("/promo/race"), Some(2));
}

#[test]
fn an_invalidation_waits_for_the_writes_under_way_not_for_a_whole_prefetch() {
    let mut s = Sim::seed();
    s.visit("/promo/other");
    let urls: Vec<String> = (0..12).map(|i| format!("\"/promo/p{i}\"")).collect();
    for i in 0..12 {
        s.serve(&format!("/promo/p{i}"), 1);
    }
    let json = format!(r#"{{"type":"PREFETCH","urls":[{}]}}"#, urls.join(","));
    let pf = s.e.message(read_json(&json), false, s.now);
    s.state(pf);
    s.exec();
    // Results come so that one of the prefetch's writes is always under way (a prefetch
    // of 50 pages: as one write lands, the next item's is running).
    let is_put = |(o, t, _): &(OpId, Tag, Io)| *o == pf && matches!(t, Tag::Store(_, 0));
    while !s.queue.iter().any(is_put) {
        assert!(s.step());
    }
    s.serve("/promo/other", 2);
    s.now += 5.0;
    let inv = s.e.message(read_json(r#"{"type":"CACHE_INVALIDATION","urls":["/promo/other"]}"#), false, s.now);
    s.state(inv);
    s.exec();
    let mut held = s.queue.iter().position(is_put).map(|i| s.queue.remove(i).unwrap());
    while let Some(h) = held.take() {
        // Run everything else until another write of the prefetch is under way.
        while !s.queue.iter().any(is_put) {
            if s.queue.is_empty() {
                break;
            }
            let (op, tag, io) = s.queue.remove(0).unwrap();
            s.now += 1.0;
            s.e.io(op, tag, io, s.now);
            s.exec();
        }
        held = s.queue.iter().position(is_put).map(|i| s.queue.remove(i).unwrap());
        s.now += 1.0;
        s.e.io(h.0, h.1, h.2, s.now);
        s.exec();
        if s.ops[&inv].replies.iter().any(|r| r.contains("DONE")) {
            break;
        }
    }
    assert!(
        s.ops[&pf].replies.is_empty(),
        "the invalidation answered only when the prefetch ended: {:?}",
        s.ops[&inv].replies
    );
    s.settle();
    assert_eq!(s.ops[&inv].replies, vec![r#"{"type":"CACHE_INVALIDATION_DONE","removed":1}"#]);
    assert_eq!(s.get("/promo/other"), Some(2));
}

// ----- the invalidation feed ------------------------------------------------------------------

const FEED_TOP: &str = r#""feed":{"url":"/swcache-feed.json","interval":60000},"#;
const STRICT_TOP: &str = r#""feed":{"url":"/swcache-feed.json","strict":{"maxStaleness":30000,"budget":500}},"#;

impl Sim {
    /// The CMS publishes: `fields` changed at the sim's now.
    fn publish(&mut self, doc: &mut feed::Feed, fields: &str) {
        let v = read_json(fields).unwrap();
        let Value::Obj(props) = v else { panic!() };
        feed::add(doc, props, self.now);
        self.feed_doc = (200, format!("\"e{}\"", doc.seq), feed::write(doc));
    }

    fn feed_stat(&mut self, field: &str) -> f64 {
        num(&self.stats(), &["feed", field])
    }
}

/// A worker with the feed config (`FEED_TOP`) and a feed holding one entry (`first`).
fn feed_sim(first: &str) -> (Sim, feed::Feed) {
    let mut s = Sim::new(&config("", FEED_TOP));
    let mut doc = new_feed();
    s.publish(&mut doc, first);
    (s, doc)
}

/// A page's GET of `href` (mode cors, cache mode default), the fields tests vary.
fn get_request(href: &str) -> Request<'_> {
    Request {
        get: true,
        href,
        navigate: false,
        cache: "default",
        range: None,
        image: false,
        no_cors: false,
        accept: None,
        conditional: false,
        authorized: false,
        offline: false,
    }
}

fn new_feed() -> feed::Feed {
    feed::Feed { epoch: "site".into(), seq: 0, baseline: None, entries: vec![] }
}

#[test]
fn strict_mode_a_returning_visitor_gets_the_fresh_page_on_the_first_navigation() {
    let json = config("", STRICT_TOP);
    let mut s = Sim::new(&json);
    let mut doc = new_feed();
    s.feed_doc = (200, "\"e0\"".into(), feed::write(&doc));
    s.serve("/promo/price", 1);
    assert_eq!(s.get("/promo/price"), Some(1));
    // The CMS changes the price; the visitor comes back later (the worker was stopped).
    s.now += 120_000.0;
    s.serve("/promo/price", 2);
    s.publish(&mut doc, r#"{"urls":["/promo/price"]}"#);
    s.restart(&json);
    let op = s.start_fetch("/promo/price", true, "default").unwrap();
    assert!(s.e.take().is_empty());
    s.settle();
    assert_eq!(s.ops[&op].answered_with, Some(2), "the first navigation waited for the feed");
    assert_eq!(s.feed_stat("applied"), 1.0);
    assert_eq!(s.feed_stat("seq"), 1.0);
    assert!(s
        .broadcasts
        .iter()
        .any(|b| b.contains("\"INVALIDATED\"") && b.contains("/promo/price") && b.contains("\"feed\"")));
}

/// A worker with a feed, whose first request (of `/promo/a`, stored) checked it: seq 1 applied.
fn fed_sim() -> (Sim, feed::Feed) {
    let mut s = Sim::new(&config("", FEED_TOP));
    let mut doc = new_feed();
    s.publish(&mut doc, r#"{"tags":["unrelated"]}"#);
    s.serve("/promo/a", 1);
    s.get("/promo/a");
    (s, doc)
}

#[test]
fn without_strict_mode_the_feed_applies_within_one_check() {
    let (mut s, mut doc) = fed_sim();
    assert_eq!(s.feed_requests, 1);
    s.serve("/promo/a", 2);
    s.publish(&mut doc, r#"{"prefixes":["/promo/"]}"#);
    // Within the interval a navigation does not check again.
    s.now += 10_000.0;
    let op = s.start_fetch("/promo/a", true, "default").unwrap();
    s.settle();
    assert_eq!(s.ops[&op].answered_with, Some(1), "served from the cache");
    assert_eq!(s.feed_requests, 1);
    // After the interval the next navigation checks; the one after it is fresh.
    s.now += 60_000.0;
    s.start_fetch("/promo/b", true, "default");
    s.settle();
    assert_eq!(s.feed_requests, 2);
    assert_eq!(s.get("/promo/a"), Some(2));
}

#[test]
fn an_unchanged_feed_costs_a_304_and_no_cache_work() {
    let (mut s, _) = feed_sim(r#"{"urls":["/x"]}"#);
    s.serve("/promo/a", 1);
    s.get("/promo/a");
    let listings = s.listings;
    for _ in 0..3 {
        s.now += 61_000.0;
        s.start_fetch("/promo/a", true, "default");
        s.settle();
    }
    assert_eq!((s.feed_requests, s.feed_304s), (4, 3));
    assert_eq!(s.listings, listings, "no cache listing for an unchanged feed");
    assert_eq!(s.feed_stat("notModified"), 3.0);
}

#[test]
fn a_restart_between_publishes_applies_each_entry_once() {
    let json = config("", FEED_TOP);
    let (mut s, mut doc) = feed_sim(r#"{"urls":["/promo/a"]}"#);
    s.serve("/promo/a", 1);
    s.get("/promo/a");
    assert_eq!(s.feed_stat("applied"), 1.0);
    s.restart(&json);
    s.publish(&mut doc, r#"{"urls":["/promo/b"]}"#);
    s.get("/promo/a");
    assert_eq!(s.feed_stat("applied"), 1.0, "only the new entry: the cursor survived the restart");
    assert_eq!(s.feed_stat("seq"), 2.0);
    s.restart(&json);
    s.get("/promo/a");
    assert_eq!(s.feed_stat("applied"), 0.0, "nothing new, nothing replayed");
}

#[test]
fn a_response_announcing_a_newer_seq_triggers_a_check() {
    let (mut s, mut doc) = feed_sim(r#"{"urls":["/x"]}"#);
    s.serve("/promo/a", 1);
    s.get("/promo/a");
    assert_eq!(s.feed_requests, 1);
    s.now += 5_000.0;
    s.publish(&mut doc, r#"{"urls":["/promo/a"]}"#);
    s.announce = Some("2".into());
    s.serve("/promo/b", 1);
    s.get("/promo/b");
    assert_eq!(s.feed_requests, 2, "the header announced seq 2");
    s.announce = Some("2".into());
    s.now += 5_000.0;
    s.serve("/promo/c", 1);
    s.get("/promo/c");
    assert_eq!(s.feed_requests, 2, "seq 2 is not news any more");
}

#[test]
fn an_announcement_within_a_second_of_a_check_is_deferred_not_dropped() {
    let (mut s, mut doc) = feed_sim(r#"{"urls":["/x"]}"#);
    for p in ["/promo/a", "/promo/b", "/promo/c", "/promo/d"] {
        s.serve(p, 1);
    }
    s.get("/promo/a");
    s.now += 5_000.0;
    s.publish(&mut doc, r#"{"urls":["/y"]}"#);
    s.announce = Some("2".into());
    s.get("/promo/b");
    assert_eq!((s.feed_requests, s.feed_stat("seq")), (2, 2.0), "the header announced seq 2: checked at once");
    // 300 ms later the CMS publishes again and a response announces it: within the
    // 1-second throttle, so the check waits for the throttle to end.
    s.now += 300.0;
    s.serve("/promo/a", 2);
    s.publish(&mut doc, r#"{"urls":["/promo/a"]}"#);
    s.announce = Some("3".into());
    let first = s.start_fetch("/promo/c", false, "default").unwrap();
    s.settle();
    assert_eq!(s.feed_requests, 2, "throttled: no check yet");
    // A second announcement while one check is pending adds none.
    s.now += 100.0;
    let second = s.start_fetch("/promo/d", false, "default").unwrap();
    s.settle();
    assert_eq!(s.ops[&second].answered_with, Some(1));
    assert!(s.ops[&second].done, "only one deferred check: the second response's event is not held");
    s.announce = None;
    s.advance(1_000.0);
    s.settle();
    assert_eq!(s.feed_requests, 3, "the deferred check ran once the throttle ended (and only one)");
    assert_eq!(s.feed_stat("seq"), 3.0, "the newer entry applied");
    assert!(s.ops[&first].done, "the announcing response's event was held until the check ended");
    assert_eq!(s.get("/promo/a"), Some(2), "the entry invalidated /promo/a");
    s.advance(5_000.0);
    s.settle();
    assert_eq!(s.feed_requests, 3, "nothing more to check");
}

#[test]
fn a_deferred_check_is_skipped_when_the_news_already_arrived() {
    let (mut s, mut doc) = feed_sim(r#"{"urls":["/x"]}"#);
    s.serve("/promo/a", 1);
    s.serve("/promo/b", 1);
    s.get("/promo/a");
    // Seq 2 is announced 200 ms after the first check: deferred.
    s.now += 200.0;
    s.publish(&mut doc, r#"{"urls":["/y"]}"#);
    s.announce = Some("2".into());
    s.start_fetch("/promo/b", false, "default");
    s.settle();
    assert_eq!(s.feed_requests, 1);
    // Before the timer fires, the interval passes and a navigation's check reads seq 2.
    s.announce = None;
    s.now += 61_000.0;
    s.start_fetch("/promo/a", true, "default");
    s.settle();
    assert_eq!((s.feed_requests, s.feed_stat("seq")), (2, 2.0), "the navigation's check read seq 2");
    s.advance(1.0);
    s.settle();
    assert_eq!(s.feed_requests, 2, "the deferred check had nothing left to do");
}

#[test]
fn a_feed_epoch_that_keeps_changing_is_reported() {
    // Two service instances, each serving its own feed file (its own epoch): the checks
    // reach one or the other.
    let json = config("", FEED_TOP);
    let mut s = Sim::new(&json);
    let mut docs = Vec::new();
    for name in ["s1", "s2"] {
        let mut doc = feed::Feed { epoch: name.into(), seq: 0, baseline: None, entries: vec![] };
        let Value::Obj(props) = read_json(r#"{"urls":["/x"]}"#).unwrap() else { panic!() };
        feed::add(&mut doc, props, s.now);
        docs.push((200, format!("\"{name}\""), feed::write(&doc)));
    }
    s.feed_doc = docs[0].clone();
    s.serve("/promo/a", 1);
    s.get("/promo/a");
    let flips = |s: &Sim| s.warnings.iter().filter(|w| w.contains("epoch changed")).cloned().collect::<Vec<_>>();
    for i in 1..=4 {
        s.now += 61_000.0;
        s.feed_doc = docs[i % 2].clone();
        s.start_fetch("/promo/a", true, "default");
        s.settle();
        assert_eq!(s.feed_requests, i as u32 + 1);
        assert_eq!(flips(&s).len(), usize::from(i >= 3), "check {i}: {:?}", flips(&s));
    }
    assert_eq!(
        flips(&s)[0],
        "swcache feed: the feed's epoch changed 3 times in 5 minutes: are several servers each serving their own feed? \
         use one store (Redis) for all of them"
    );
    assert_eq!(s.feed_stat("epochChanges"), 4.0);
    // Reported at most once per 5 minutes while the flipping goes on.
    for i in 5..=9 {
        s.now += 61_000.0;
        s.feed_doc = docs[i % 2].clone();
        s.start_fetch("/promo/a", true, "default");
        s.settle();
        let want = if i < 8 { 1 } else { 2 };
        assert_eq!(flips(&s).len(), want, "check {i}");
    }
    // One feed again: the changes age out of the window, nothing more is reported.
    for _ in 0..10 {
        s.now += 61_000.0;
        s.start_fetch("/promo/a", true, "default");
        s.settle();
    }
    assert_eq!(flips(&s).len(), 2);
    assert_eq!(s.feed_stat("epochChanges"), 9.0);
    // A restarted worker starts counting again (the counters live in memory).
    s.restart(&json);
    s.get("/promo/a");
    assert_eq!(s.feed_stat("epochChanges"), 0.0);
}

#[test]
fn bad_feeds_change_nothing_and_are_reported() {
    let json = config("", FEED_TOP);
    let bad = [
        String::from("not json"),
        String::from(r#"{"swcacheFeed":1,"seq":"x"}"#),
        String::from(r#"{"swcacheFeed":7,"seq":1}"#),
        String::from(
            r#"{"swcacheFeed":1,"epoch":"site","seq":2,"entries":[{"seq":2,"timestamp":"1970-01-01T00:00:00Z","urls":["https://evil.example/promo/a"]}]}"#,
        ),
        String::from(r#"{"swcacheFeed":1,"epoch":"site","seq":0,"entries":[]}"#),
    ];
    for (i, text) in bad.iter().enumerate() {
        let mut s = Sim::new(&json);
        // First a good feed at seq 1 (so a later seq 0 goes backwards).
        let mut doc = new_feed();
        s.publish(&mut doc, r#"{"urls":["/nothing"]}"#);
        s.serve("/promo/a", 1);
        s.get("/promo/a");
        s.feed_doc = (200, "\"bad\"".into(), text.clone());
        s.now += 61_000.0;
        s.start_fetch("/promo/other", true, "default");
        s.settle();
        assert!(s.cached(&s.cn("promoPages"), "/promo/a").is_some(), "bad feed {i} deleted something");
        let st = s.stats();
        assert_eq!(num(&st, &["feed", "seq"]), 1.0, "bad feed {i} moved the cursor");
        assert!(
            matches!(st.get("feed").unwrap().get("error"), Some(Value::Str(e)) if e.contains("ignored")),
            "bad feed {i}: {:?}",
            st.get("feed")
        );
        assert!(
            s.warnings.iter().any(|w| w.starts_with("swcache feed: /swcache-feed.json is ignored: ")),
            "bad feed {i}: console, naming the feed: {:?}",
            s.warnings
        );
    }
}

/// A device whose clock runs a year behind: the feed's entries are a year ahead of it.
/// They are applied, stamped at the worker's now (refused, the feed stayed refused, and
/// no invalidation reached that visitor, for the whole year).
#[test]
fn a_device_clock_far_behind_still_applies_the_feed() {
    let json = config("", FEED_TOP);
    let mut s = Sim::new(&json);
    s.serve("/promo/a", 1);
    s.get("/promo/a");
    let ahead = crate::policy::time::iso_string(s.now + 365.0 * 864e5);
    s.feed_doc = (
        200,
        "\"y\"".into(),
        format!(
            r#"{{"swcacheFeed":1,"epoch":"site","seq":1,"entries":[{{"seq":1,"timestamp":"{ahead}","urls":["/promo/a"]}}]}}"#
        ),
    );
    s.now += 61_000.0;
    s.serve("/promo/a", 2);
    s.start_fetch("/promo/other", true, "default");
    s.settle();
    assert!(s.cached(&s.cn("promoPages"), "/promo/a").is_none(), "the entry was applied");
    assert_eq!(num(&s.stats(), &["feed", "seq"]), 1.0);
    s.now += 10.0;
    assert_eq!(s.get("/promo/a"), Some(2));
    assert!(s.cached(&s.cn("promoPages"), "/promo/a").is_some(), "stored again at once");
}

/// A worker whose feed server's clock runs `behind` ms behind the device's (`None`: its
/// responses carry no `Date`), with `Age: age`, stores `/promo/a`; two minutes later the
/// CMS publishes an entry for it whose timestamp, by the server's clock, is `after` ms after
/// the copy's stamp, by the device's. Whether the copy survives the next feed check.
fn survives_a_publish(behind: Option<f64>, age: Option<&str>, after: f64) -> bool {
    let mut s = Sim::new(&config("", FEED_TOP));
    (s.feed_behind, s.feed_age) = (behind, age.map(String::from));
    let mut doc = new_feed();
    s.publish(&mut doc, r#"{"tags":["unrelated"]}"#);
    // The first request checks the feed: the worker learns its clock.
    s.visit("/promo/b");
    s.now += 1000.0;
    s.visit("/promo/a");
    let stamp = s.cached(&s.cn("promoPages"), "/promo/a").unwrap().stamp.unwrap();
    s.now += 120_000.0;
    s.serve("/promo/a", 2);
    s.publish(&mut doc, r#"{"urls":["/promo/a"]}"#);
    doc.entries.last_mut().unwrap().at_ms = stamp + after;
    s.feed_doc = (200, format!("\"e{}\"", doc.seq), feed::write(&doc));
    s.now += 61_000.0;
    s.start_fetch("/promo/b", true, "default");
    s.settle();
    assert_eq!(s.feed_stat("seq"), 2.0, "the check completed");
    s.cached(&s.cn("promoPages"), "/promo/a").is_some()
}

/// A device clock 5 minutes ahead of the feed's: a copy stored 2 minutes (device time)
/// before a publish carries a stamp later than the entry's timestamp (3 minutes after it),
/// so the entry neither deleted nor fenced it, and the stale copy was served until its
/// maxAge. The worker learns how far its clock runs ahead from the feed's `Date` and moves
/// the entry's timestamp by it.
#[test]
fn a_device_clock_ahead_of_the_feed_still_invalidates_what_it_stored_before_a_publish() {
    assert!(survives_a_publish(None, None, -180_000.0), "without a Date the worker cannot know");
    assert!(!survives_a_publish(Some(300_000.0), None, -180_000.0), "stored before the publish: deleted");
    // Stored 10 s after the publish (device time), it stays.
    assert!(survives_a_publish(Some(300_000.0), None, -310_000.0));
}

/// A `Date` less than 2 s behind the device (its second's resolution, the network's time),
/// a device behind the server, or a feed a CDN kept as long as its `Date` is old, change
/// nothing: the entry's timestamp is compared as it is (clamped to the worker's now).
#[test]
fn a_feed_date_near_the_device_clock_or_ahead_of_it_changes_nothing() {
    for after in [500.0, -500.0] {
        assert_eq!(survives_a_publish(Some(1000.0), None, after), survives_a_publish(None, None, after), "{after}");
    }
    assert!(survives_a_publish(Some(1000.0), None, -500.0), "stamped after the entry: kept");
    // A device 5 minutes behind: an entry 1 minute after the copy's stamp deletes it.
    assert!(!survives_a_publish(Some(-300_000.0), None, 60_000.0));
    assert!(!survives_a_publish(None, None, 60_000.0));
    // `Age: 300` says the `Date` 5 minutes back was the server's time 5 minutes ago.
    assert!(survives_a_publish(Some(300_000.0), Some("300"), -1000.0));
    assert!(!survives_a_publish(Some(300_000.0), Some("300"), 1000.0));
}

/// The clock learnt is saved with the cursor: a worker the browser stopped and started
/// again moves a live entry a page hands on by it, whether its own check is under way (a
/// navigation started it) or the entry is what started it (the saved state is read first).
#[test]
fn a_restarted_worker_moves_live_entries_by_the_clock_it_saved() {
    for navigation_first in [true, false] {
        let json = config("", FEED_TOP);
        let mut s = Sim::new(&json);
        s.feed_behind = Some(300_000.0);
        let mut doc = new_feed();
        s.publish(&mut doc, r#"{"tags":["unrelated"]}"#);
        s.visit("/promo/a");
        assert!(s.saved.as_deref().is_some_and(|t| t.contains(",\"ahead\":300")), "{:?}", s.saved);
        s.now += 120_000.0;
        s.serve("/promo/a", 2);
        s.restart(&json);
        s.feed_hangs = true; // the restarted worker's check reads the state; the feed does not answer
        if navigation_first {
            s.start_fetch("/promo/b", true, "default");
            s.settle();
        }
        s.publish(&mut doc, r#"{"urls":["/promo/a"]}"#);
        doc.entries.last_mut().unwrap().at_ms = s.now - 300_000.0;
        let (_, r) = s.message(&live_entry(&doc, 2, "/promo/a"));
        let done = r#"{"type":"CACHE_INVALIDATION_DONE","removed":1}"#;
        assert_eq!(r, vec![done], "moved by the saved 5 minutes (navigation first: {navigation_first})");
        assert_eq!(s.get("/promo/a"), Some(2));
    }
}

#[test]
fn offline_a_404_or_a_hanging_feed_never_breaks_a_page() {
    let json = config("", STRICT_TOP);
    let mut s = Sim::new(&json);
    s.serve("/promo/a", 1);
    s.feed_doc = (404, String::new(), String::new());
    assert_eq!(s.get("/promo/a"), Some(1));
    assert!(s.warnings.iter().any(|w| w.contains("HTTP 404")));
    // A hanging feed: a strict navigation waits the budget (500 ms), then the cache.
    s.feed_hangs = true;
    s.now += 120_000.0;
    s.restart(&json);
    let op = s.start_fetch("/promo/a", true, "default").unwrap();
    s.settle();
    assert!(s.ops[&op].answered.is_none(), "waiting for the feed");
    s.advance(500.0);
    s.settle();
    assert_eq!(s.ops[&op].answered_with, Some(1), "the budget ran out: served from the cache");
    // Offline: pages still come from the cache.
    s.feed_hangs = false;
    s.offline = true;
    s.now += 120_000.0;
    s.restart(&json);
    let op = s.start_fetch("/promo/a", true, "default").unwrap();
    s.settle();
    assert_eq!(s.ops[&op].answered_with, Some(1));
}

#[test]
fn background_revalidation_that_changes_content_is_announced() {
    let json = config(r#"{"name":"news","match":"/news/","strategy":"staleWhileRevalidate","maxAge":1000},"#, "");
    let mut s = Sim::new(&json);
    s.serve("/news/a", 1);
    s.get("/news/a");
    s.now += 2000.0;
    assert_eq!(s.get("/news/a"), Some(1), "stale copy served at once");
    assert!(s.broadcasts.is_empty(), "same content: no notice");
    s.now += 2000.0;
    s.serve("/news/a", 2);
    assert_eq!(s.get("/news/a"), Some(1));
    assert_eq!(s.broadcasts.len(), 1);
    assert!(s.broadcasts[0].starts_with(r#"{"type":"UPDATED","url":"/news/a","at":"#), "{:?}", s.broadcasts);
}

#[test]
fn concurrent_stale_hits_share_one_background_refresh() {
    let json = config(r#"{"name":"news","match":"/news/","strategy":"staleWhileRevalidate","maxAge":1000},"#, "");
    let mut s = Sim::new(&json);
    s.serve("/news/a", 1);
    s.get("/news/a");
    s.now += 2000.0;
    s.serve("/news/a", 2);
    s.requests.clear();
    // Ten tabs a campaign link opened at once (or ten components fetching one URL).
    let ops: Vec<OpId> = (0..10).map(|_| s.start_fetch("/news/a", false, "default").unwrap()).collect();
    s.settle();
    for op in ops {
        assert_eq!(s.ops[&op].answered_with, Some(1), "each served the stale copy at once");
    }
    assert_eq!(s.requests.get("/news/a"), Some(&1), "one refresh for the stale hits that came together");
    assert_eq!(s.broadcasts.len(), 1, "one UPDATED: {:?}", s.broadcasts);
    assert_eq!(s.get("/news/a"), Some(2));
    // Once it ended, the next stale hit refreshes again.
    s.now += 2000.0;
    s.serve("/news/a", 3);
    assert_eq!(s.get("/news/a"), Some(2));
    assert_eq!(s.get("/news/a"), Some(3));
    assert_eq!(s.requests.get("/news/a"), Some(&2));
}

#[test]
fn get_state_lists_cached_entries_with_age_freshness_size_tags_and_fences() {
    let mut s = Sim::seed();
    s.serve("/promo/a", 1);
    s.content("/promo/a").tags = Some("price-7, hero".into());
    s.get("/promo/a");
    s.serve("/img/x.png", 1);
    s.get("/img/x.png");
    s.now += 1000.0;
    let (_, _) = s.message(r#"{"type":"CACHE_INVALIDATION","tags":["nothing"]}"#);
    let (_, r) = s.message(r#"{"type":"GET_STATE"}"#);
    let v = read_json(&r[0]).unwrap();
    assert_eq!(v.get("type"), Some(&Value::str("STATE")));
    let Some(Value::Arr(routes)) = v.get("routes") else { panic!("{r:?}") };
    let pages = routes.iter().find(|r| r.get("name") == Some(&Value::str("promoPages"))).unwrap();
    let Some(Value::Arr(entries)) = pages.get("entries") else { panic!() };
    assert_eq!(entries.len(), 1);
    let e = &entries[0];
    assert_eq!(e.get("url"), Some(&Value::str("/promo/a")));
    assert!(matches!(e.get("ageMs"), Some(Value::Num(n)) if *n >= 1000.0));
    assert_eq!(e.get("fresh"), Some(&Value::Bool(true)));
    assert_eq!(e.get("size"), Some(&Value::Num(100.0)));
    assert_eq!(e.get("tags"), Some(&Value::Arr(vec![Value::str("price-7"), Value::str("hero")])));
    assert_eq!(pages.get("strategy"), Some(&Value::str("cacheFirst")));
    let Some(Value::Arr(fences)) = v.get("fences") else { panic!() };
    assert_eq!(fences.len(), 1, "the tag invalidation's fence is live");
    assert!(v.get("stats").is_some());
}

/// A route kept "for ever" with a huge `maxAge` (`Number.MAX_SAFE_INTEGER`): the STATE
/// reply is still JSON. The worker posts what `JSON.parse` reads, so a reply that is not
/// JSON never reaches the page (`inspect()` waited for its timeout).
#[test]
fn get_state_is_json_whatever_the_max_age() {
    let forever = r#"{"name":"forever","match":"/forever/","strategy":"cacheFirst","maxAge":9007199254740991},"#;
    let mut s = Sim::new(&config(forever, ""));
    let (_, r) = s.message(r#"{"type":"GET_STATE"}"#);
    let v = read_json(&r[0]).unwrap_or_else(|| panic!("the reply is not JSON: {}", r[0]));
    let Some(Value::Arr(routes)) = v.get("routes") else { panic!("{r:?}") };
    let route = routes.iter().find(|r| r.get("name") == Some(&Value::str("forever"))).unwrap();
    assert_eq!(route.get("maxAge"), Some(&Value::Num(9007199254740991.0)));
}

// ----- deploys and operations ----------------------------------------------------------

/// A config with `n` precached files `{url: /static/f<i>.js, revision}` (revision of
/// file `changed` is `r2`, the others `r1`) and the seed routes.
fn deploy_config(version: &str, n: usize, changed: Option<usize>, top: &str) -> String {
    let entries: Vec<String> = (0..n)
        .map(|i| {
            format!(r#"{{"url":"/static/f{i}.js","revision":"{}"}}"#, if Some(i) == changed { "r2" } else { "r1" })
        })
        .collect();
    config("", &format!(r#""precache":[{}],{top}"#, entries.join(",")))
        .replacen(r#""version":"v1""#, &format!(r#""version":"{version}""#), 1)
        .replacen(r#""precache":["/","/robots.txt"],"#, "", 1)
}

/// A site at version v1 with `n` precached files (see [`deploy_config`]), each served at
/// version 1, installed and active; and v1's config.
fn deployed(n: usize) -> (Sim, String) {
    let v1 = deploy_config("v1", n, None, "");
    let mut s = Sim::new(&v1);
    for i in 0..n {
        s.serve(&format!("/static/f{i}.js"), 1);
    }
    install_and_activate(&mut s);
    (s, v1)
}

fn install_and_activate(s: &mut Sim) -> (OpId, OpId) {
    let i = s.e.install();
    s.exec();
    s.settle();
    let a = s.e.activate();
    s.exec();
    s.settle();
    (i, a)
}

#[test]
fn a_deploy_fetches_only_changed_precache_entries_and_keeps_runtime_caches() {
    let v1 = deploy_config("v1", 50, None, "");
    let mut s = Sim::new(&v1);
    for i in 0..50 {
        s.serve(&format!("/static/f{i}.js"), 1);
    }
    s.serve("/promo/a", 1);
    let (i, a) = install_and_activate(&mut s);
    assert!(s.ops[&i].done && s.ops[&a].done);
    assert_eq!(s.requests.len(), 50);
    assert_eq!(s.get("/promo/a"), Some(1));
    let pages = s.cn("promoPages");
    // Deploy v2: file 7 changed.
    s.serve("/static/f7.js", 2);
    s.requests.clear();
    let v2 = deploy_config("v2", 50, Some(7), "");
    s.restart(&v2);
    assert_eq!(s.cn("promoPages"), pages, "an unchanged route keeps its cache name across versions");
    let i = s.e.install();
    s.exec();
    s.settle();
    assert!(s.ops[&i].done && s.ops[&i].failed.is_none());
    assert_eq!(s.requests.keys().collect::<Vec<_>>(), ["/static/f7.js"], "exactly the changed file is downloaded");
    // While v2 waits, v1's entries are all there (v1 keeps serving them).
    assert!(s.cached("swcache-precache", "/static/f7.js?__swcache_rev=r1").is_some());
    assert!(s.cached("swcache-precache", "/static/f7.js?__swcache_rev=r2").is_some());
    let a = s.e.activate();
    s.exec();
    s.settle();
    assert!(s.ops[&a].done);
    assert!(
        s.cached("swcache-precache", "/static/f7.js?__swcache_rev=r1").is_none(),
        "activate drops the old revision"
    );
    assert_eq!(s.count("swcache-precache"), 50);
    assert!(s.cached(&pages, "/promo/a").is_some(), "the runtime entry survived the version bump");
    s.offline = true;
    assert_eq!(s.get("/static/f7.js"), Some(2), "the new revision is served");
    assert_eq!(s.get("/static/f8.js"), Some(1));
    assert_eq!(s.get("/promo/a"), Some(1));
}

#[test]
fn a_changed_route_or_keep_runtime_caches_false_starts_an_empty_cache() {
    let base = deploy_config("v1", 1, None, "");
    let s = Sim::new(&base);
    let changed = Sim::new(&base.replace(r#""maxAge":86400000,"maxEntries":50"#, r#""maxAge":1000,"maxEntries":50"#));
    assert_eq!(s.cn("promoPages"), changed.cn("promoPages"), "maxAge does not decide what the cache holds");
    let rematched =
        Sim::new(&base.replace(r#""name":"promoPages","match":"\u0000r2""#, r#""name":"promoPages","match":"/p/""#));
    assert_ne!(s.cn("promoPages"), rematched.cn("promoPages"), "a new match is a new cache");
    let versioned = Sim::new(&deploy_config("v9", 1, None, r#""keepRuntimeCaches":false,"#));
    assert!(versioned.names.contains(&"swcache-v9-promoPages".to_string()), "{:?}", versioned.names);
    // Activate of the rematched config deletes the old cache; the site's own caches stay.
    let mut r = rematched;
    r.serve("/static/f0.js", 1);
    r.caches.insert(s.cn("promoPages"), vec![]);
    r.caches.insert("site-own".into(), vec![]);
    install_and_activate(&mut r);
    assert!(!r.caches.contains_key(&s.cn("promoPages")) && r.caches.contains_key("site-own"));
}

#[test]
fn a_failed_install_leaves_the_old_version_serving_everything() {
    let (mut s, v1) = deployed(5);
    // v2 changes file 2, whose new version the server cannot deliver.
    s.content("/static/f2.js").status = 404;
    s.restart(&deploy_config("v2", 5, Some(2), ""));
    let i = s.e.install();
    s.exec();
    s.settle();
    assert!(s.ops[&i].failed.as_deref().unwrap().contains("/static/f2.js answered HTTP 404"));
    // The browser keeps v1: a new v1 engine serves every file from the precache.
    s.restart(&v1);
    s.offline = true;
    for i in 0..5 {
        assert_eq!(s.get(&format!("/static/f{i}.js")), Some(1), "f{i} served by v1");
    }
}

/// A quota error while a new version installs evicts nothing from the shared precache: the
/// entries there are the active version's, which a failed install leaves whole, and the
/// new version's own, counted as stored. (It first evicted the oldest entries, which the
/// new version shares with the active one: it activated without them; then v1's
/// superseded revisions, which the active version still serves.) The install fails, and
/// the browser's next try installs once there is room.
#[test]
fn quota_relief_during_an_install_keeps_what_the_new_version_lists() {
    let (mut s, _) = deployed(8);
    s.serve("/static/f7.js", 2);
    let v2 = deploy_config("v2", 8, Some(7), "");
    s.restart(&v2);
    s.quota_left = Some(0);
    let i = s.e.install();
    s.exec();
    s.until_quota_error();
    s.quota_left = None;
    s.settle();
    let failed = s.ops[&i].failed.clone().unwrap_or_default();
    assert!(failed.ends_with("f7.js could not be stored: the storage quota is full"), "{failed}");
    assert_eq!(s.count("swcache-precache"), 8, "nothing evicted");
    s.restart(&v2);
    let (i, a) = install_and_activate(&mut s);
    assert!(s.ops[&i].done && s.ops[&i].failed.is_none() && s.ops[&a].done, "{:?}", s.ops[&i].failed);
    s.offline = true;
    for i in 0..8 {
        assert_eq!(s.get(&format!("/static/f{i}.js")), Some(if i == 7 { 2 } else { 1 }), "f{i} served offline by v2");
    }
}

/// A deploy whose install meets a full storage fails, and the browser keeps v1 active:
/// v1 still serves every file it lists offline. The quota relief used to delete v1's
/// superseded revision (the new config does not list it) before the retry failed too,
/// so v1 missed that file offline and fetched the new deploy's online.
#[test]
fn a_failed_install_under_quota_leaves_the_active_version_whole() {
    let (mut s, v1) = deployed(8);
    s.serve("/static/f7.js", 2);
    s.restart(&deploy_config("v2", 8, Some(7), ""));
    s.quota_left = Some(0);
    let i = s.e.install();
    s.exec();
    s.settle();
    assert!(s.ops[&i].failed.is_some(), "the install fails");
    s.restart(&v1);
    s.offline = true;
    for i in 0..8 {
        assert_eq!(s.get(&format!("/static/f{i}.js")), Some(1), "f{i} served offline by v1");
    }
}

#[test]
fn content_hashed_entries_are_fetched_once_and_plain_urls_follow_the_version() {
    let cfg = |v: &str| {
        config("", r#""precache":["/",{"url":"/app.3f9a.js","revision":null}],"#)
            .replacen(r#""precache":["/","/robots.txt"],"#, "", 1)
            .replacen(r#""version":"v1""#, &format!(r#""version":"{v}""#), 1)
    };
    let mut s = Sim::new(&cfg("v1"));
    s.serve("/", 1);
    s.serve("/app.3f9a.js", 1);
    install_and_activate(&mut s);
    assert!(s.cached("swcache-precache", "/app.3f9a.js").is_some());
    s.requests.clear();
    s.restart(&cfg("v2"));
    install_and_activate(&mut s);
    assert_eq!(s.requests.keys().collect::<Vec<_>>(), ["/"], "only the plain URL is refetched for a new version");
}

/// The deploy of build b2 (`build_config`'s `v2`, installed and activated); a1's files are
/// gone from the server. Its config.
fn deploy_b2(s: &mut Sim, routed: bool) -> String {
    for f in ["/assets/main.a1.js", "/assets/Route.a1.js"] {
        s.content(f).status = 404;
    }
    s.serve("/", 2);
    for f in ["/assets/main.b2.js", "/assets/Route.b2.js"] {
        s.serve(f, 2);
    }
    let v2 = build_config("v2", "b2", routed);
    s.restart(&v2);
    install_and_activate(s);
    v2
}

/// A build's config: '/' and two content-hashed chunks named by `build`, with the
/// routes of `Sim::seed` (the page route takes the chunks) or none.
fn build_config(version: &str, build: &str, routed: bool) -> String {
    let precache = format!(
        r#""precache":["/",{{"url":"/assets/main.{build}.js","revision":null}},{{"url":"/assets/Route.{build}.js","revision":null}}],"#
    );
    let c = config("", &precache).replacen(r#""precache":["/","/robots.txt"],"#, "", 1).replacen(
        r#""version":"v1""#,
        &format!(r#""version":"{version}""#),
        1,
    );
    if routed {
        c
    } else {
        let i = c.find(r#""routes":["#).unwrap();
        format!("{}\"routes\":[]}}", &c[..i])
    }
}

/// A deploy of a new build (its chunks renamed, the old ones deleted from the server): a
/// page still running the old build lazily loads its route chunk from the new worker,
/// restarted meanwhile. Before: the precache's activate had deleted the old chunks, the
/// request went to the network and got a 404 ("Failed to fetch dynamically imported
/// module"). The previous build's content-hashed files are kept one version more.
#[test]
fn the_previous_builds_content_hashed_files_are_kept_one_version_for_open_pages() {
    for routed in [false, true] {
        let mut s = Sim::new(&build_config("v1", "a1", routed));
        s.serve("/", 1);
        for f in ["/assets/main.a1.js", "/assets/Route.a1.js"] {
            s.serve(f, 1);
        }
        install_and_activate(&mut s);
        let v1_root: Vec<String> =
            s.caches["swcache-precache"].iter().map(|(p, _)| p.clone()).filter(|p| p.starts_with("/?")).collect();
        let v2 = deploy_b2(&mut s, routed);
        assert!(s.cached("swcache-precache", "/assets/Route.a1.js").is_some(), "routed {routed}: kept");
        assert!(s.cached("swcache-precache", &v1_root[0]).is_none(), "a revisioned entry is never kept");
        // The browser stops the worker; the old page's click starts it.
        s.restart(&v2);
        s.requests.clear();
        let op = s.start_fetch("/assets/Route.a1.js", false, "default").expect("answered by the worker");
        s.settle();
        assert_eq!(s.ops[&op].answered_with, Some(1), "routed {routed}: the kept copy");
        assert!(s.requests.is_empty(), "routed {routed}: not asked of the server: {:?}", s.requests);
        // The new build's files are served as before.
        assert_eq!(s.get("/assets/Route.b2.js"), Some(2));
        // The next deploy: a1 goes (one build back at most), b2 is kept in its turn.
        for f in ["/assets/main.c3.js", "/assets/Route.c3.js"] {
            s.serve(f, 3);
        }
        let v3 = build_config("v3", "c3", routed);
        s.restart(&v3);
        install_and_activate(&mut s);
        assert!(s.cached("swcache-precache", "/assets/Route.a1.js").is_none(), "routed {routed}: two builds back");
        assert!(s.cached("swcache-precache", "/assets/Route.b2.js").is_some(), "routed {routed}: one build back");
        s.restart(&v3);
        if routed {
            s.requests.clear();
            s.get("/assets/Route.a1.js");
            assert!(s.requests.contains_key("/assets/Route.a1.js"), "no longer kept: the server answers (404)");
        } else {
            let op = s.start_fetch("/assets/Route.a1.js", false, "default").expect("waits for the kept keys");
            s.settle();
            assert_eq!(s.ops[&op].answered, Some(Answer::Browser), "left to the browser");
        }
        assert_eq!(s.get("/assets/Route.b2.js"), Some(2));
    }
}

/// A deploy that changes the worker but not the build (a new `version` for a route
/// tweak, or a new swcache release) drops no content-hashed file: a tab still running the
/// previous build keeps loading its chunks. Before: that activate deleted what the build's
/// deploy had kept, so the old tab, one build back, got the server's 404 ("Failed to
/// fetch dynamically imported module") an hour after the deploy.
#[test]
fn a_deploy_of_the_same_build_keeps_the_previous_builds_files() {
    let mut s = Sim::new(&build_config("v1", "a1", false));
    s.serve("/", 1);
    for f in ["/assets/main.a1.js", "/assets/Route.a1.js"] {
        s.serve(f, 1);
    }
    install_and_activate(&mut s);
    deploy_b2(&mut s, false);
    // The same build b2 under a new version.
    let v3 = build_config("v3", "b2", false);
    s.restart(&v3);
    install_and_activate(&mut s);
    assert!(s.cached("swcache-precache", "/assets/Route.a1.js").is_some(), "one build back is kept");
    s.restart(&v3);
    let op = s.start_fetch("/assets/Route.a1.js", false, "default").expect("read among the kept files");
    s.settle();
    assert_eq!(s.ops[&op].answered_with, Some(1), "the kept copy");
    // The next build retires a1 (two builds back) and keeps b2.
    for f in ["/assets/main.c3.js", "/assets/Route.c3.js"] {
        s.serve(f, 3);
    }
    let v4 = build_config("v4", "c3", false);
    s.restart(&v4);
    install_and_activate(&mut s);
    assert!(s.cached("swcache-precache", "/assets/Route.a1.js").is_none(), "two builds back");
    assert!(s.cached("swcache-precache", "/assets/Route.b2.js").is_some(), "one build back");
}

/// Which requests may be a kept file is decided at once, from the config alone (no wait
/// after a restart): a file the list does not precache, in a folder where it has
/// content-hashed files, is read in the precache; not found there, the browser fetches it
/// (nothing is stored in the precache). Other requests no route takes are left to the
/// browser, and a config without content-hashed files takes none of them.
#[test]
fn which_requests_may_be_kept_files_is_known_at_once() {
    let v1 = build_config("v1", "a1", false);
    let mut s = Sim::new(&v1);
    s.serve("/", 1);
    for f in ["/assets/main.a1.js", "/assets/Route.a1.js", "/api/x", "/assets/logo.png"] {
        s.serve(f, 1);
    }
    install_and_activate(&mut s);
    s.restart(&v1);
    assert!(s.start_fetch("/api/x", false, "default").is_none(), "another folder: left to the browser");
    let png = s.start_fetch("/assets/logo.png", false, "default").expect("a folder of hashed files: read there");
    s.settle();
    assert_eq!(s.ops[&png].answered, Some(Answer::Browser), "not kept: the browser fetches it");
    assert!(s.cached(crate::policy::config::PRECACHE_CACHE, "/assets/logo.png").is_none(), "nothing stored");
    let mut plain = Sim::new(&config("", ""));
    assert!(plain.start_fetch("/api/x", false, "default").is_none(), "no content-hashed files: nothing kept");
}

/// An image the list does not precache, in a folder of content-hashed files, no route
/// taking it: online, it is the browser's to fetch, not the offline placeholder's. Before:
/// its miss in the precache was answered like a failed image, with the placeholder.
#[test]
fn an_image_looked_up_among_kept_files_is_not_answered_with_the_offline_placeholder() {
    let v1 = build_config("v1", "a1", false).replacen(
        r#""precache":["/","#,
        r#""offline":{"image":"/offline.svg"},"precache":["/","/offline.svg","#,
        1,
    );
    let mut s = Sim::new(&v1);
    for f in ["/", "/offline.svg", "/assets/main.a1.js", "/assets/Route.a1.js", "/assets/logo.png"] {
        s.serve(f, 1);
    }
    install_and_activate(&mut s);
    s.restart(&v1);
    let img = s.start_request("/assets/logo.png", Request { image: true, ..get_request("") });
    let img = img.expect("a folder of hashed files: read in the precache");
    s.settle();
    assert_eq!(s.ops[&img].answered, Some(Answer::Browser), "the browser fetches the image itself");
}

/// The quick start's catch-all route (cacheFirst, maxAge one day) takes the folder of
/// content-hashed files: a kept chunk of a build installed days before the deploy is
/// served from its kept copy (its name names its content: it is never stale). Before: the
/// copy counted as stale by the route's maxAge, so the worker asked the server, which no
/// longer has the file: 404.
#[test]
fn a_kept_file_is_served_under_a_route_with_max_age_however_old_its_copy() {
    let mut s = Sim::new(&build_config("v1", "a1", true));
    s.serve("/", 1);
    for f in ["/assets/main.a1.js", "/assets/Route.a1.js"] {
        s.serve(f, 1);
    }
    install_and_activate(&mut s);
    s.now += 3.0 * 864e5;
    let v2 = deploy_b2(&mut s, true);
    s.restart(&v2);
    s.requests.clear();
    let op = s.start_fetch("/assets/Route.a1.js", false, "default").expect("routed");
    s.settle();
    assert_eq!(s.ops[&op].answered, Some(Answer::Cached(Tag::Precache)), "the kept copy");
    assert!(s.requests.is_empty(), "not asked of the server: {:?}", s.requests);
}

/// A site whose content-hashed files are on a networkFirst or networkOnly route (assets
/// kept fresh from the server): after a deploy, a tab still running the old build loads
/// its lazy chunk, which the server no longer has. Before: the server's 404 (or 410) was
/// the answer, and on networkOnly a failed fetch a 503, though the precache kept the
/// chunk: "Failed to fetch dynamically imported module". The kept copy answers when the
/// server says 404 or 410, or fails; a file not kept gets the server's answer.
#[test]
fn a_kept_file_on_a_network_route_is_served_when_the_server_no_longer_has_it() {
    for strategy in ["networkFirst", "networkOnly"] {
        for (status, offline) in [(404, false), (410, false), (200, true)] {
            let route = format!(r#""routes":[{{"name":"assets","match":"/assets/","strategy":"{strategy}"}},"#);
            let cfg = |v: &str, b: &str| build_config(v, b, true).replacen(r#""routes":["#, &route, 1);
            let mut s = Sim::new(&cfg("v1", "a1"));
            s.serve("/", 1);
            for f in ["/assets/main.a1.js", "/assets/Route.a1.js"] {
                s.serve(f, 1);
            }
            install_and_activate(&mut s);
            for f in ["/assets/main.b2.js", "/assets/Route.b2.js"] {
                s.serve(f, 2);
            }
            s.content("/assets/Route.a1.js").status = status;
            s.content("/assets/gone.z9.js").status = status;
            let v2 = cfg("v2", "b2");
            s.restart(&v2);
            install_and_activate(&mut s);
            s.restart(&v2);
            s.offline = offline;
            let case = format!("{strategy}, HTTP {status}, offline {offline}");
            let op = s.start_fetch("/assets/Route.a1.js", false, "default").expect("routed");
            s.settle();
            assert_eq!(s.ops[&op].answered, Some(Answer::Cached(Tag::Precache)), "{case}: the kept copy");
            assert_eq!(s.ops[&op].answered_with, Some(1), "{case}");
            let op = s.start_fetch("/assets/gone.z9.js", false, "default").expect("routed");
            s.settle();
            let answered = s.ops[&op].answered.clone();
            if offline {
                assert!(matches!(answered, Some(Answer::Error { status: 503, .. })), "{case}: {answered:?}");
            } else {
                assert_eq!(answered, Some(Answer::Network(Tag::Net)), "{case}: not kept, the server's answer");
            }
            if !offline {
                assert_eq!(s.get("/assets/Route.b2.js"), Some(2), "{case}: the new build from the network");
            }
        }
    }
}

/// A folder of content-hashed files holds other files too (images, fonts, a robots.txt):
/// requests for them that no route takes are looked up among the kept files, and the
/// browser fetches them when none is there. Before: each such lookup counted as a miss of
/// the precache in GET_STATS, so a site owner read hundreds of precache misses (and
/// total misses) where the precache had missed nothing.
#[test]
fn lookups_among_the_kept_files_that_find_nothing_are_not_counted_as_precache_misses() {
    let v1 = build_config("v1", "a1", false);
    let mut s = Sim::new(&v1);
    s.serve("/", 1);
    for f in ["/assets/main.a1.js", "/assets/Route.a1.js", "/assets/logo.png"] {
        s.serve(f, 1);
    }
    install_and_activate(&mut s);
    let v2 = deploy_b2(&mut s, false);
    s.restart(&v2);
    for _ in 0..3 {
        let op = s.start_fetch("/assets/logo.png", false, "default").expect("read among the kept files");
        s.settle();
        assert_eq!(s.ops[&op].answered, Some(Answer::Browser));
    }
    let op = s.start_fetch("/assets/Route.a1.js", false, "default").expect("kept");
    s.settle();
    assert_eq!(s.ops[&op].answered_with, Some(1), "the kept copy");
    let stats = s.stats();
    assert_eq!(num(&stats, &["routes", "precache", "misses"]), 0.0, "nothing the precache should have had");
    assert_eq!(num(&stats, &["routes", "precache", "hits"]), 1.0, "the kept copy served");
    assert_eq!(num(&stats, &["misses"]), 0.0);
}

/// A site with an offline page and image placeholder, installed and active.
fn offline_site() -> Sim {
    let json = config("", r#""offline":{"page":"/offline.html","image":"/offline.svg"},"#);
    let mut s = Sim::new(&json);
    for p in ["/", "/robots.txt", "/offline.html", "/offline.svg"] {
        s.serve(p, 7);
    }
    install_and_activate(&mut s);
    s
}

#[test]
fn offline_page_and_image_placeholder_answer_failed_requests_with_nothing_cached() {
    let mut s = offline_site();
    s.offline = true;
    let nav = s.start_fetch("/promo/never", true, "default").unwrap();
    s.settle();
    assert_eq!(s.ops[&nav].answered, Some(Answer::Cached(Tag::Offline)));
    assert_eq!(s.ops[&nav].answered_with, Some(7), "the offline page");
    // A navigation no route takes still gets the page.
    let other =
        s.start_fetch("/admin/x", true, "default").expect("navigations go through the worker with an offline page");
    s.settle();
    assert_eq!(s.ops[&other].answered_with, Some(7));
    // Images get the placeholder; other requests the plain error.
    let img = s.start_request("/img/never.png", Request { image: true, ..get_request("") }).unwrap();
    s.settle();
    assert_eq!(s.ops[&img].answered_with, Some(7), "the placeholder");
    let data = s.start_fetch("/api/v1/promo/featured-content?id=9", false, "default").unwrap();
    s.settle();
    assert!(matches!(s.ops[&data].answered, Some(Answer::Error { status: 503, .. })));
    // Online, unmatched navigations are the network's answer, never stored.
    s.offline = false;
    s.serve("/admin/x", 3);
    let op = s.start_fetch("/admin/x", true, "default").unwrap();
    s.settle();
    assert_eq!(s.ops[&op].answered, Some(Answer::Network(Tag::Net)));
    assert_eq!(s.count("swcache-precache"), 4);
    // Without the page cached (evicted by the browser), the error stands.
    s.caches.get_mut("swcache-precache").unwrap().retain(|(p, _)| !p.starts_with("/offline.html"));
    s.offline = true;
    let nav = s.start_fetch("/promo/never2", true, "default").unwrap();
    s.settle();
    assert!(matches!(s.ops[&nav].answered, Some(Answer::Error { status: 503, .. })));
}

#[test]
fn navigation_preload_is_set_on_activate_and_used_for_network_first_navigations() {
    let json = config(
        r#"{"name":"articles","match":"/news/","strategy":"networkFirst","networkTimeout":3000},"#,
        r#""navigationPreload":true,"#,
    );
    let mut s = Sim::new(&json);
    s.serve("/", 1);
    s.serve("/robots.txt", 1);
    s.serve("/news/a", 1);
    install_and_activate(&mut s);
    assert_eq!(s.preload_on, Some(true));
    s.requests.clear();
    let op = s.start_fetch("/news/a", true, "default").unwrap();
    s.settle();
    assert_eq!(s.ops[&op].answered_with, Some(1));
    assert_eq!((s.preloads, s.requests["/news/a"]), (1, 1), "the preload response, not a second fetch");
    assert!(s.cached(&s.cn("articles"), "/news/a").is_some(), "and it is stored");
    // Not a navigation: an ordinary fetch.
    s.get("/news/a");
    assert_eq!(s.preloads, 1);
    // A navigation no route takes is answered with its preload response too (the browser
    // sent the request already; left to it, it would send it again), and not stored.
    s.serve("/admin/x", 4);
    s.requests.clear();
    let op = s.start_fetch("/admin/x", true, "default").expect("answered by the worker");
    s.settle();
    assert_eq!(s.ops[&op].answered_with, Some(4));
    assert_eq!((s.preloads, s.requests["/admin/x"]), (2, 1), "one request: the preload");
    assert!(s.caches.values().all(|c| c.iter().all(|(p, _)| p != "/admin/x")), "not stored");
    // Offline, with no offline page: the browser's own failure, not an error of the engine's.
    s.offline = true;
    let op = s.start_fetch("/admin/x", true, "default").unwrap();
    s.settle();
    assert_eq!(s.ops[&op].answered, Some(Answer::Browser));
    s.offline = false;
    // A config without it turns it off at activate (the setting outlives a version).
    let mut off = Sim::seed();
    off.serve("/", 1);
    off.serve("/robots.txt", 1);
    install_and_activate(&mut off);
    assert_eq!(off.preload_on, Some(false));
    // It needs a route that goes to the network first.
    let bad = read_json(
        &config("", r#""navigationPreload":true,"#)
            .replace(r#""strategy":"networkFirst","networkTimeout":3000"#, r#""strategy":"cacheFirst""#),
    )
    .unwrap();
    let err = Engine::new(&bad, ORIGIN, 0.0, Box::new(seed_regexps), Box::new(resolve)).err().unwrap();
    assert_eq!((err.route.as_ref(), err.field.as_str()), (None, "navigationPreload"));
    let text = err.message();
    assert!(text.contains("'navigationPreload' only helps navigations that go to the network first"), "{text}");
}

#[test]
fn range_requests_are_served_from_a_complete_cached_copy() {
    let mut s = Sim::seed();
    s.serve("/media/clip.webp", 1);
    let range = |s: &mut Sim, header: &'static str| {
        let op = s.start_request("/media/clip.webp", Request { range: Some(header), ..get_request("") }).unwrap();
        s.settle();
        assert!(s.ops[&op].done);
        s.ops[&op].answered.clone().unwrap()
    };
    // Not cached yet: the network answers and nothing is stored.
    assert_eq!(range(&mut s, "bytes=0-"), Answer::Network(Tag::Net));
    assert!(s.cached(&s.cn("images"), "/media/clip.webp").is_none(), "a ranged answer is never stored");
    assert_eq!(s.get("/media/clip.webp"), Some(1));
    s.offline = true;
    assert_eq!(range(&mut s, "bytes=0-99"), Answer::Range { from: Tag::Range, start: 0, end: 99, size: BODY_SIZE });
    assert_eq!(range(&mut s, "bytes=900-"), Answer::Range { from: Tag::Range, start: 900, end: 999, size: BODY_SIZE });
    assert_eq!(range(&mut s, "bytes=-10"), Answer::Range { from: Tag::Range, start: 990, end: 999, size: BODY_SIZE });
    assert_eq!(range(&mut s, "bytes=5000-"), Answer::Unsatisfiable { size: BODY_SIZE });
    assert_eq!(range(&mut s, "bytes=0-1,5-6"), Answer::Cached(Tag::Range), "several ranges: the whole body");
}

#[test]
fn skip_waiting_message_lets_a_waiting_worker_take_over() {
    let json = config("", r#""waitForClients":true,"#);
    let mut s = Sim::new(&json);
    s.serve("/", 1);
    s.serve("/robots.txt", 1);
    let i = s.e.install();
    s.exec();
    s.settle();
    assert!(s.ops[&i].done && !s.skipped_waiting, "waits for its clients");
    let a = s.e.activate();
    s.exec();
    s.settle();
    assert!(s.ops[&a].done && s.claimed, "once active it claims the open pages (a first visit is controlled at once)");
    let (op, replies) = s.message(r#"{"type":"SKIP_WAITING"}"#);
    assert!(s.skipped_waiting && s.ops[&op].done);
    assert_eq!(replies, [r#"{"type":"SKIP_WAITING"}"#]);
}

#[test]
fn a_feed_answering_410_takes_swcache_off_the_site() {
    let json = config("", FEED_TOP);
    let mut s = Sim::new(&json);
    s.serve("/promo/a", 1);
    s.feed_doc = (404, String::new(), String::new());
    assert_eq!(s.get("/promo/a"), Some(1));
    assert!(!s.unregistered, "a 404 removes nothing");
    s.caches.insert("site-own".into(), vec![]);
    s.feed_doc = (410, String::new(), String::new());
    s.now += 120_000.0;
    s.restart(&json);
    s.get("/promo/a");
    assert!(s.unregistered);
    assert_eq!(s.caches.keys().collect::<Vec<_>>(), ["site-own"], "only swcache caches deleted");
    assert!(s.warnings.iter().any(|w| w.contains("410 Gone")));
    let href = format!("{ORIGIN}/promo/a");
    assert_eq!(s.e.fetch(&Request { navigate: true, ..get_request(&href) }, s.now), None, "the network from now on");
}

/// Runs the Sim to quiescence like `settle`, but holds back the first `Put` of op `c`
/// (the browser is still reading its body: the write has not reached the cache).
fn settle_holding_put(s: &mut Sim, c: OpId) -> Option<Cmd> {
    let mut held = None;
    loop {
        for cmd in ::core::mem::take(&mut s.e.out) {
            if held.is_none() && matches!(&cmd, Cmd::Put { op, .. } if *op == c) {
                held = Some(cmd);
            } else {
                s.e.out.push(cmd);
            }
        }
        s.exec();
        let Some((op, tag, io)) = s.queue.pop_front() else { return held };
        s.now += 1.0;
        s.e.io(op, tag, io, s.now);
    }
}

/// A full pages cache (50 entries) in a new instance (no known keys yet), and a write of
/// `/promo/x` (op returned) run until its trim has listed the cache (51 keys): the
/// queue's index of that listing's answer.
fn trim_listing_pending() -> (Sim, OpId, usize) {
    let mut s = Sim::seed();
    (0..50).for_each(|i| s.visit(&format!("/promo/{i}")));
    s.restart(&config("", ""));
    s.serve("/promo/x", 1);
    let x = s.start_fetch("/promo/x", false, "default").unwrap();
    let listings = s.listings;
    while s.listings == listings {
        assert!(s.step());
    }
    let i = s.queue.iter().position(|(_, t, _)| matches!(t, Tag::Trim(_, 0))).unwrap();
    (s, x, i)
}

/// A trim's listing taken before an invalidation deleted entries and answered after it
/// is not kept as the known keys: they would count the invalidated entries, and every
/// later write would evict a live entry from a cache that is not full.
#[test]
fn a_listing_older_than_an_invalidation_does_not_become_the_known_keys() {
    let (mut s, x, i) = trim_listing_pending();
    let pages = s.cn("promoPages");
    // The trim's listing answers late.
    let held = s.queue.remove(i).unwrap();
    let urls: Vec<String> = (40..50).map(|i| format!("\"/promo/{i}\"")).collect();
    let (_, r) = s.message(&format!(r#"{{"type":"CACHE_INVALIDATION","urls":[{}]}}"#, urls.join(",")));
    assert!(r[0].contains("\"removed\":10"), "{r:?}");
    s.queue.push_back(held);
    s.settle();
    assert!(s.ops[&x].done);
    assert_eq!(s.count(&pages), 40, "51 listed - 1 trimmed on the stale listing - 10 invalidated");
    // Ten new pages fit: the cache holds 40 of 50.
    (0..10).for_each(|i| s.visit(&format!("/promo/n{i}")));
    assert_eq!(s.count(&pages), 50, "live entries evicted from a cache that was not full");
}

/// A trim whose listing failed (`caches.open` or `keys()` rejected) trims nothing and
/// leaves the next write to list again: taking the cache for empty would keep it over
/// maxEntries for good.
#[test]
fn a_failed_listing_is_not_taken_for_an_empty_cache() {
    let (mut s, _, i) = trim_listing_pending();
    let pages = s.cn("promoPages");
    s.queue[i].2 = Io::Keys(None); // the listing failed
    let failed_at = s.listings;
    s.settle();
    (0..200).for_each(|i| s.visit(&format!("/promo/n{i}")));
    assert_eq!(s.count(&pages), 50, "maxEntries 50 (listings since the failed one: {})", s.listings - failed_at);
}

/// A write whose put has not reached the cache when a trim relists is absent from that
/// listing, and the plan over it forgets the write's use (`Usage::plan`); when it lands
/// it counts as used again (`Usage::landed`), so it is not the very next victim.
#[test]
fn a_write_landing_after_a_relisting_is_not_the_next_victim() {
    let mut s = Sim::seed();
    (0..50).for_each(|i| s.visit(&format!("/promo/{i}")));
    let pages = s.cn("promoPages");
    for p in ["/promo/a", "/promo/b", "/promo/c"] {
        s.serve(p, 1);
    }
    let a = s.start_fetch("/promo/a", false, "default").unwrap();
    let b = s.start_fetch("/promo/b", false, "default").unwrap();
    let c = s.start_fetch("/promo/c", false, "default").unwrap();
    let listings = s.listings;
    let put_c = settle_holding_put(&mut s, c).expect("c's put held");
    assert_eq!(s.listings, listings + 1, "b landed during a's trim: one relisting");
    s.e.out.push(put_c); // c's body is read: its put reaches the cache
    s.settle();
    assert!([a, b, c].iter().all(|o| s.ops[o].done));
    assert_eq!(s.count(&pages), 50);
    assert!(s.cached(&pages, "/promo/c").is_some(), "the page just stored was evicted at once");
}

/// An invalidation that could not list a cache answers ERROR (sending it again lists
/// again), and what it covers there stays hidden from reads meanwhile: the next read
/// goes to the network.
#[test]
fn an_invalidation_that_cannot_list_a_cache_says_so_and_keeps_hiding_it() {
    let mut s = Sim::seed();
    s.visit("/promo/a");
    s.serve("/promo/a", 2);
    s.failing_listings = 1; // every listing fails
    let (_, r) = s.message(r#"{"type":"CACHE_INVALIDATION","prefixes":["/promo/"]}"#);
    assert!(r[0].contains("\"ERROR\"") && r[0].contains("send the invalidation again"), "{r:?}");
    s.failing_listings = 0;
    assert_eq!(s.get("/promo/a"), Some(2), "the covered entry is hidden, not served");
    let (_, r) = s.message(r#"{"type":"CACHE_INVALIDATION","prefixes":["/promo/"]}"#);
    assert!(r[0].contains("CACHE_INVALIDATION_DONE"), "{r:?}");
}

/// A feed check whose invalidation could not list a cache does not move the feed's
/// position: the next check applies the same entries again.
#[test]
fn a_feed_invalidation_that_cannot_list_a_cache_is_applied_again() {
    let (mut s, mut doc) = fed_sim();
    s.serve("/promo/a", 2);
    s.publish(&mut doc, r#"{"prefixes":["/promo/"]}"#);
    s.failing_listings = 1;
    s.now += 61_000.0;
    s.start_fetch("/promo/b", true, "default");
    s.settle();
    assert_eq!(s.feed_stat("seq"), 1.0, "seq 2 not applied: the position stays");
    s.failing_listings = 0;
    s.now += 61_000.0;
    s.start_fetch("/promo/b", true, "default");
    s.settle();
    assert_eq!(s.feed_stat("seq"), 2.0);
    assert_eq!(s.get("/promo/a"), Some(2));
}

// ----- found by review: hostile inputs --------------------------------------------------------

/// The seed site with a `cdn` route for `https://cdn.example.com/` first, installed and
/// active, its precached `/robots.txt` at version `robots`.
fn with_cdn(robots: u32) -> Sim {
    let json =
        config(r#"{"name":"cdn","match":"https://cdn.example.com/","strategy":"cacheFirst","crossOrigin":true},"#, "");
    let mut s = Sim::new(&json);
    s.serve("/", 1);
    s.serve("/robots.txt", robots);
    install_and_activate(&mut s);
    s
}

/// An API on another origin that a `crossOrigin` route caches: a `PUT` (left to the
/// browser) removes the copy of its URL as a same-origin one does, so the app's `GET`
/// after it reads what it saved, not the copy from before.
#[test]
fn a_put_to_another_origins_routed_url_removes_its_copy() {
    let mut s = with_cdn(7);
    let href = "https://cdn.example.com/items/1";
    s.serve(href, 1);
    assert_eq!(s.get(href), Some(1));
    assert!(s.cached(&s.cn("cdn"), href).is_some());
    s.now += 1_000.0;
    s.change(href).expect("a routed URL");
    s.serve(href, 2);
    assert!(s.cached(&s.cn("cdn"), href).is_none(), "the copy went");
    assert_eq!(s.get(href), Some(2), "the saved item, not the copy from before the PUT");
}

#[test]
fn a_cross_origin_request_is_not_answered_from_the_precache() {
    let mut s = with_cdn(7);
    let href = "https://cdn.example.com/robots.txt";
    s.serve(href, 3);
    assert_eq!(s.get(href), Some(3), "the CDN's file, not the site's /robots.txt");
}

#[test]
fn prefetch_of_a_precached_url_reads_and_writes_its_revisioned_key() {
    let mut s = Sim::new(
        r#"{"version":"v1","precache":["/robots.txt"],"routes":[{"name":"promo","match":"/promo/","strategy":"cacheFirst"}]}"#,
    );
    s.serve("/robots.txt", 1);
    install_and_activate(&mut s);
    assert_eq!(s.get("/robots.txt"), Some(1));
    let before = s.requests["/robots.txt"];
    let (_, replies) = s.message(r#"{"type":"PREFETCH","urls":["/robots.txt"]}"#);
    let stray = s.cached("swcache-precache", "/robots.txt").is_some();
    assert_eq!(
        (replies[0].as_str(), s.requests["/robots.txt"] - before, stray),
        (r#"{"type":"PREFETCH_DONE","fetched":0,"skipped":1,"failed":0}"#, 0, false)
    );
}

#[test]
fn an_invalidation_after_the_clock_stepped_back_still_removes_the_copy() {
    let mut s = Sim::seed();
    s.serve("/promo/a", 1);
    assert_eq!(s.get("/promo/a"), Some(1));
    s.now -= 5_000.0; // an NTP correction: the copy's stamp is now in the future
    s.serve("/promo/a", 2);
    let (_, r) = s.message(r#"{"type":"CACHE_INVALIDATION","urls":["/promo/a"]}"#);
    assert_eq!(r, vec![r#"{"type":"CACHE_INVALIDATION_DONE","removed":1}"#]);
    assert_eq!(s.get("/promo/a"), Some(2));
}

#[test]
fn a_fence_still_hiding_an_undeleted_entry_is_not_pruned() {
    let mut s = Sim::seed();
    s.visit("/promo/a");
    s.now += 1_000.0;
    s.failing_writes = 1;
    let (_, r) = s.message(r#"{"type":"CACHE_INVALIDATION","urls":["/promo/a"]}"#);
    assert_eq!(r, vec![r#"{"type":"CACHE_INVALIDATION_DONE","removed":1}"#]);
    s.failing_writes = 0;
    s.now += 11.0 * 60_000.0;
    s.message(r#"{"type":"CACHE_INVALIDATION","urls":["/promo/unrelated"]}"#);
    s.serve("/promo/a", 2);
    assert_eq!(s.get("/promo/a"), Some(2), "the copy whose deletion failed stays hidden");
}

#[test]
fn an_answered_invalidation_whose_deletion_failed_deletes_again_before_the_worker_can_stop() {
    let mut s = Sim::seed();
    s.visit("/promo/a");
    s.now += 1_000.0;
    s.failing_writes = 1; // every deletion fails
    let (op, r) = s.message(r#"{"type":"CACHE_INVALIDATION","urls":["/promo/a"]}"#);
    assert_eq!(r, vec![r#"{"type":"CACHE_INVALIDATION_DONE","removed":1}"#]);
    assert!(s.cached(&s.cn("promoPages"), "/promo/a").is_some(), "not deleted yet");
    assert!(s.e.is_running(op), "the message's event keeps the worker running");
    s.failing_writes = 0;
    s.advance(1_000.0); // the next pass
    s.settle();
    assert!(s.cached(&s.cn("promoPages"), "/promo/a").is_none(), "deleted on the next pass");
    assert!(!s.e.is_running(op));
    // A worker started later finds nothing to serve.
    s.restart(&config("", ""));
    s.serve("/promo/a", 2);
    assert_eq!(s.get("/promo/a"), Some(2));
}

// ----- found by a contract review ---------------------------------------------------------------

#[test]
fn a_first_visit_is_not_told_of_feed_entries_older_than_its_worker() {
    // What the CMS published before this visitor came: a worker installed since holds
    // nothing older, and the page came from the network, so its first check applies the
    // entries without telling the page (which would reload for nothing).
    let json = config("", FEED_TOP);
    let mut s = Sim::new(&json);
    let mut doc = new_feed();
    s.now -= 3_600_000.0;
    s.publish(&mut doc, r#"{"urls":["/promo/a"]}"#);
    s.publish(&mut doc, r#"{"all":true}"#);
    s.now += 3_600_000.0;
    s.serve("/promo/a", 1);
    assert_eq!(s.get("/promo/a"), Some(1));
    s.settle();
    assert_eq!(s.feed_stat("applied"), 2.0);
    let told = |s: &Sim| s.broadcasts.iter().filter(|b| b.contains("\"INVALIDATED\"")).count();
    assert_eq!(told(&s), 0, "no notice for entries older than the worker: {:?}", s.broadcasts);
    // A publish after it is news.
    s.now += 61_000.0;
    s.publish(&mut doc, r#"{"urls":["/promo/a"]}"#);
    s.start_fetch("/promo/a", true, "default");
    s.settle();
    assert_eq!(told(&s), 1);

    // A worker without a feed position that holds a copy older than an entry (a new version
    // adding the feed, the route caches kept) removes it and tells the pages.
    let mut s = Sim::new(&config("", ""));
    s.serve("/promo/a", 1);
    assert_eq!(s.get("/promo/a"), Some(1));
    s.now += 3_600_000.0;
    let mut doc = new_feed();
    s.publish(&mut doc, r#"{"urls":["/promo/a"]}"#);
    s.now += 60_000.0;
    s.restart(&json);
    s.serve("/promo/a", 2);
    s.get("/promo/a");
    s.settle();
    assert_eq!(told(&s), 1, "{:?}", s.broadcasts);
    assert_eq!(s.get("/promo/a"), Some(2));
}

/// README "In the worker": "Offline, a 404, a 5xx or a hanging feed never breaks a page:
/// the error is recorded and pages are served as before." A feed request that never
/// answers must not stop every later check of this worker, and must be recorded.
#[test]
fn a_hanging_feed_check_is_recorded_and_does_not_block_later_checks() {
    let (mut s, mut doc) = feed_sim(r#"{"urls":["/nothing"]}"#);
    s.serve("/promo/a", 1);
    // The CDN hangs on the worker's first check.
    s.feed_hangs = true;
    let first = s.start_fetch("/promo/a", false, "default").unwrap();
    s.settle();
    assert_eq!(s.ops[&first].answered_with, Some(1), "the page is served");
    assert_eq!(s.feed_requests, 1);
    // Ten minutes later the feed is back and has news for /promo/a.
    s.feed_hangs = false;
    s.serve("/promo/a", 2);
    s.publish(&mut doc, r#"{"urls":["/promo/a"]}"#);
    s.advance(600_000.0);
    s.settle();
    let st = s.stats();
    assert!(
        !matches!(st.get("feed").and_then(|f| f.get("error")), Some(Value::Null) | None),
        "a check hanging for 10 minutes is recorded as an error: {:?}",
        st.get("feed")
    );
    // A navigation well past the interval checks the feed again and gets the news.
    s.start_fetch("/promo/other", true, "default");
    s.settle();
    assert_eq!(s.feed_requests, 2, "the hung check blocks every later check of this worker");
    assert_eq!(s.get("/promo/a"), Some(2));
}

/// README "The format": bad input (e.g. a cross-origin URL) "is refused whole ... and
/// changes nothing (no deletion, the cursor stays)". A worker more than 50 entries
/// behind must refuse the same bad feed a worker 1 entry behind refuses.
#[test]
fn a_bad_feed_is_refused_even_when_the_worker_is_more_than_50_entries_behind() {
    let (mut s, mut doc) = feed_sim(r#"{"urls":["/nothing"]}"#);
    s.serve("/promo/a", 1);
    s.get("/promo/a");
    assert_eq!(s.feed_stat("seq"), 1.0);
    // 60 more entries, one of them naming another origin's URL.
    for i in 0..60 {
        s.now += 10.0;
        if i == 30 {
            s.publish(&mut doc, r#"{"urls":["https://evil.example/promo/a"]}"#);
        } else {
            s.publish(&mut doc, &format!(r#"{{"urls":["/unrelated/{i}"]}}"#));
        }
    }
    s.now += 61_000.0;
    s.start_fetch("/promo/other", true, "default");
    s.settle();
    assert!(s.cached(&s.cn("promoPages"), "/promo/a").is_some(), "a bad feed deleted the cache");
    assert_eq!(s.feed_stat("seq"), 1.0, "a bad feed moved the cursor");
}

/// A worker more than 50 entries behind (a bulk publish while it was stopped) applies
/// them in one pass for what they name, not as one `all`: the pages no entry names stay
/// cached, those named go.
#[test]
fn a_worker_more_than_50_entries_behind_keeps_what_no_entry_names() {
    let (mut s, mut doc) = fed_sim();
    s.serve("/promo/b", 1);
    s.get("/promo/b");
    for i in 0..60 {
        s.now += 10.0;
        let url = if i == 7 { String::from("/promo/b") } else { format!("/unrelated/{i}") };
        s.publish(&mut doc, &format!(r#"{{"urls":["{url}"]}}"#));
    }
    s.now += 61_000.0;
    s.start_fetch("/promo/other", true, "default");
    s.settle();
    assert_eq!(s.feed_stat("seq"), 61.0, "the check applied the entries");
    assert!(s.cached(&s.cn("promoPages"), "/promo/a").is_some(), "no entry names /promo/a: it stays");
    assert!(s.cached(&s.cn("promoPages"), "/promo/b").is_none(), "an entry names /promo/b: it goes");
}

/// The same check on `feed::plan` alone: one entry with a cross-origin URL is refused
/// when applied entry by entry, but accepted (in one pass) when collapsed.
#[test]
fn feed_plan_validates_the_entries_it_collapses() {
    let names = ["images", "componentData", "promoPages", "precache"];
    let ctx =
        Context { origin: ORIGIN, slot_names: &names, now_ms: 2_000_000_000_000.0, ahead_ms: 0.0, resolve: &resolve };
    let mut doc = new_feed();
    let bad = || vec![(String::from("urls"), Value::Arr(vec![Value::str("https://evil.example/a")]))];
    let good = |i: usize| vec![(String::from("urls"), Value::Arr(vec![Value::Str(format!("/u/{i}"))]))];
    feed::add(&mut doc, bad(), 1_999_999_999_000.0);
    assert!(feed::plan(&doc, None, &|_| false, &ctx).is_err(), "one bad entry: refused");
    for i in 0..60 {
        feed::add(&mut doc, good(i), 1_999_999_999_000.0);
    }
    assert!(feed::plan(&doc, None, &|_| false, &ctx).is_err(), "the same bad entry among 61: must be refused too");
}

/// The store rules: never a redirected response for a navigation; README "Storing":
/// never "a redirected response ... such a response is served, and fetched
/// again next time". The precache is served to navigations (`/` here), so a redirected
/// precache response must not be stored (install fails, as for any bad entry).
#[test]
fn a_redirected_precache_response_fails_the_install() {
    let mut s = Sim::seed();
    let id = s.e.install();
    let mut stored_redirect = false;
    let mut failed = false;
    let mut pending: Vec<(Tag, Io)> = Vec::new();
    for c in s.e.take() {
        if let Cmd::Keys { tag, .. } = c {
            pending.push((tag, Io::Keys(Some(vec![]))));
        }
    }
    for (tag, io) in pending {
        s.e.io(id, tag, io, s.now);
    }
    let fetches: Vec<Tag> =
        s.e.take().into_iter().filter_map(|c| if let Cmd::Fetch { tag, .. } = c { Some(tag) } else { None }).collect();
    assert_eq!(fetches.len(), 2, "/ and /robots.txt are fetched");
    for tag in fetches {
        // `/` (item 0) redirects to `/en/` (a language redirect); the other is plain.
        let redirected = tag == Tag::Item(0, 0);
        let info = ResponseInfo { status: 200, redirected, ..ResponseInfo::default() };
        s.e.io(id, tag, Io::Fetched(Ok(info)), s.now);
        for c in s.e.take() {
            match c {
                Cmd::Put { req: Req::Path(k), .. } if k.starts_with("/?") => stored_redirect = true,
                Cmd::Fail { .. } => failed = true,
                _ => {}
            }
        }
    }
    assert!(failed && !stored_redirect, "a redirected response fails the install and is not written to the precache");
}

/// After an invalidation, the browser's HTTP cache may still hold the very copy that was
/// invalidated (a page sent with `max-age`): a fetch the invalidation may cover goes past
/// it for the fence's lifetime, also a navigation that would take the preload response.
#[test]
fn a_fetch_a_recent_invalidation_covers_goes_past_the_http_cache() {
    let mut s = Sim::seed();
    s.visit("/promo/a");
    s.visit("/promo/b");
    assert!(s.reloads.is_empty(), "no invalidation yet: the HTTP cache may answer");
    s.now += 10.0;
    s.message(r#"{"type":"CACHE_INVALIDATION","urls":["/promo/a"]}"#);
    s.serve("/promo/a", 2);
    assert_eq!(s.get("/promo/a"), Some(2));
    s.serve("/promo/c", 1);
    s.get("/promo/c");
    assert_eq!(s.reloads, ["/promo/a"], "only what the invalidation covers");
    // By prefix too; not by tag or 'all', which would send every fetch past it.
    s.message(r#"{"type":"CACHE_INVALIDATION","prefixes":["/promo/d"]}"#);
    s.message(r#"{"type":"CACHE_INVALIDATION","tags":["sale"]}"#);
    s.message(r#"{"type":"CACHE_INVALIDATION","all":true}"#);
    for p in ["/promo/d", "/promo/e"] {
        s.serve(p, 1);
        s.get(p);
    }
    assert_eq!(s.reloads, ["/promo/a", "/promo/d"]);
    // Past the fence's lifetime the HTTP cache answers again.
    s.now += crate::policy::fence::FENCE_LIFETIME_MS;
    s.serve("/promo/d2", 1);
    s.get("/promo/d2");
    assert_eq!(s.reloads, ["/promo/a", "/promo/d"]);
}

#[test]
fn a_navigation_a_recent_invalidation_covers_is_fetched_not_taken_from_the_preload() {
    let json = config("", r#""navigationPreload":true,"#);
    let mut s = Sim::new(&json);
    s.serve("/promo/a", 1);
    s.start_fetch("/promo/a", true, "default");
    s.settle();
    assert_eq!((s.preloads, s.reloads.len()), (1, 0));
    s.now += 10.0;
    s.message(r#"{"type":"CACHE_INVALIDATION","urls":["/promo/a"]}"#);
    s.serve("/promo/a", 2);
    let op = s.start_fetch("/promo/a", true, "default").unwrap();
    s.settle();
    assert_eq!(s.ops[&op].answered_with, Some(2));
    assert_eq!((s.preloads, s.reloads.as_slice()), (1, &["/promo/a".to_string()][..]));
}

/// An opaque copy (a cross-origin image stored for an `<img>`) answers no-cors requests
/// only: given to a `fetch()` or an `<img crossorigin>` of the same URL (mode `cors`),
/// the browser turns it into a network error. Such a request goes to the network.
#[test]
fn an_opaque_copy_answers_only_no_cors_requests() {
    let json = config(
        r#"{"name":"cdn","match":"https://cdn.example.com/","strategy":"cacheFirst","crossOrigin":true,"opaque":true},"#,
        "",
    );
    let mut s = Sim::new(&json);
    let href = "https://cdn.example.com/logo.png";
    s.serve(href, 1);
    s.content(href).opaque = true;
    let fetch = |s: &mut Sim, no_cors: bool| {
        let op = s.start_request(href, Request { image: true, no_cors, ..get_request("") }).unwrap();
        s.settle();
        s.ops[&op].answered_with
    };
    assert_eq!(fetch(&mut s, true), Some(1));
    assert_eq!(fetch(&mut s, true), Some(1));
    assert_eq!(s.requests[href], 1, "the opaque copy answers an <img>");
    s.serve(href, 2);
    assert_eq!(fetch(&mut s, false), Some(2), "a cors request is not given the opaque copy");
    assert_eq!(s.requests[href], 2);
}

// ----- every read hides what an invalidation covers; media offline ---------------------

/// README, "Range requests and media": "media meant to play offline should be precached
/// or prefetched whole", and a route matching a precached URL "falls back to the
/// precached copy when its own cache has none". A `<video>`'s ranged request for a
/// precached file that a page route also matches must come from the precache offline.
#[test]
fn a_ranged_request_for_a_precached_file_a_route_matches_is_served_from_the_precache() {
    let json = config("", "").replacen(
        r#""precache":["/","/robots.txt"]"#,
        r#""precache":["/","/robots.txt","/media/intro.mp4"]"#,
        1,
    );
    let mut s = Sim::new(&json);
    for p in ["/", "/robots.txt", "/media/intro.mp4"] {
        s.serve(p, 1);
    }
    install_and_activate(&mut s);
    s.offline = true;
    assert_eq!(s.get("/media/intro.mp4"), Some(1), "a plain GET offline: the precached copy");
    let op = s.start_request("/media/intro.mp4", Request { range: Some("bytes=0-99"), ..get_request("") }).unwrap();
    s.settle();
    assert_eq!(
        s.ops[&op].answered,
        Some(Answer::Range { from: Tag::Range, start: 0, end: 99, size: BODY_SIZE }),
        "the ranged request offline"
    );
}

/// README, "How fresh is fresh": for 10 minutes after an invalidation "the worker's
/// fetches of the URLs, prefixes and routes it names go past the HTTP cache". The
/// refetch of quota relief is such a fetch, and what it gets is stored with a new stamp.
#[test]
fn the_quota_relief_refetch_of_an_invalidated_url_goes_past_the_http_cache() {
    let mut s = Sim::seed();
    (0..4).for_each(|i| s.visit(&format!("/promo/q{i}")));
    s.visit("/promo/x");
    s.now += 10.0;
    let (_, r) = s.message(r#"{"type":"CACHE_INVALIDATION","urls":["/promo/x"]}"#);
    assert!(r[0].contains("DONE"), "{r:?}");
    s.now += 10.0;
    s.serve("/promo/x", 2);
    s.quota_left = Some(0);
    let op = s.start_fetch("/promo/x", false, "default").unwrap();
    s.until_quota_error();
    s.quota_left = None;
    s.settle();
    assert!(s.ops[&op].done);
    assert_eq!(s.requests["/promo/x"], 3, "visit, the request, the refetch");
    let past = s.reloads.iter().filter(|p| *p == "/promo/x").count();
    assert_eq!(past, 2, "both fetches after the invalidation go past the HTTP cache: {:?}", s.reloads);
}

/// README, "Messages": "DONE means *in effect*: from the moment the fence goes up, reads
/// treat covered entries stamped before `timestamp` as absent", and the fence "keeps
/// hiding the entries until they are gone". The offline page is such a read.
#[test]
fn an_invalidated_offline_page_is_hidden_like_every_other_read() {
    let json = config("", r#""offline":"/offline.html","#);
    let mut s = Sim::new(&json);
    for p in ["/", "/robots.txt", "/offline.html"] {
        s.serve(p, 1);
    }
    install_and_activate(&mut s);
    s.now += 10.0;
    s.serve("/offline.html", 2);
    // The deletion has not landed yet (here: it fails, and is retried in 1 s).
    s.failing_writes = 1;
    let (_, r) = s.message(r#"{"type":"CACHE_INVALIDATION","urls":["/offline.html"]}"#);
    assert!(r[0].contains("DONE"), "{r:?}");
    s.offline = true;
    let op = s.start_fetch("/promo/never-cached", true, "default").unwrap();
    s.settle();
    assert_eq!(
        s.ops[&op].answered_with, None,
        "the invalidated offline page (v1) is served after DONE: {:?}",
        s.ops[&op].answered
    );
}

// ----- found by review: engine lifecycle, feed and kill switch ----------------------------------

/// README "Messages": "Every covered entry stamped before `timestamp` is deleted from every
/// cache the worker uses, the precache included". Every version shares the precache: a
/// version installed and waiting (`waitForClients`) stored its revision of `/` there. An
/// entry for `/` the active version applies from the feed after a restart (its timestamp is
/// older than the worker, so entries are read one by one) must delete that copy too, or the
/// new version serves the invalidated page once it activates (the cursor, shared, is past
/// the entry).
#[test]
fn a_url_invalidation_also_deletes_the_waiting_versions_precached_copy() {
    let v1 = config("", FEED_TOP);
    let v2 = v1.replacen(r#""version":"v1""#, r#""version":"v2""#, 1);
    let mut s = Sim::new(&v1);
    let mut doc = new_feed();
    s.publish(&mut doc, r#"{"urls":["/nothing"]}"#);
    s.serve("/", 1);
    s.serve("/robots.txt", 1);
    install_and_activate(&mut s);
    // v2 is deployed: it installs (fetching `/`, still version 1) and waits.
    s.now += 1_000.0;
    s.restart(&v2);
    let i = s.e.install();
    s.exec();
    s.settle();
    assert!(s.ops[&i].done && s.ops[&i].failed.is_none());
    assert!(s.cached("swcache-precache", "/?__swcache_rev=v2").is_some());
    // The home page changes; the CMS publishes it.
    s.now += 60_000.0;
    s.serve("/", 2);
    s.publish(&mut doc, r#"{"urls":["/"]}"#);
    // A returning visitor: v1, still active, starts and checks the feed.
    s.now += 60_000.0;
    s.restart(&v1);
    s.ops.clear();
    s.start_fetch("/promo/x", true, "default");
    s.settle();
    assert_eq!(s.feed_stat("seq"), 2.0, "the entry was applied");
    // The visitor applies the update: v2 activates and serves `/`.
    s.restart(&v2);
    s.ops.clear();
    let a = s.e.activate();
    s.exec();
    s.settle();
    assert!(s.ops[&a].done);
    assert_eq!(s.get("/"), Some(2), "the invalidated home page was served from v2's precache");
}

/// README "Removing swcache": a worker whose feed answers `410 Gone` "stops handling
/// requests". In strict mode a navigation waits for that very check: it must go to the
/// network, not be answered from the caches the check just condemned.
#[test]
fn a_navigation_waiting_for_a_check_that_answers_410_goes_to_the_network() {
    let json = config("", STRICT_TOP);
    let mut s = Sim::new(&json);
    let doc = new_feed();
    s.feed_doc = (200, "\"e0\"".into(), feed::write(&doc));
    s.serve("/promo/a", 1);
    assert_eq!(s.get("/promo/a"), Some(1));
    // The site takes swcache off; the visitor comes back later.
    s.now += 120_000.0;
    s.serve("/promo/a", 2);
    s.feed_doc = (410, String::new(), String::new());
    s.restart(&json);
    let op = s.start_fetch("/promo/a", true, "default").unwrap();
    s.settle();
    assert!(s.unregistered);
    assert_eq!(s.ops[&op].answered, Some(Answer::Browser), "answered from the cache swcache is removed from");
}

/// README "Removing swcache": the 410 "deletes every `swcache-` cache". The open page stays
/// controlled by the unregistered worker until it navigates, and may still post messages
/// (the page module forwards every live feed entry as a `CACHE_INVALIDATION`): listing a
/// cache opens it, which creates it again, and nothing is left to delete it.
#[test]
fn messages_after_the_kill_switch_do_not_create_the_deleted_caches_again() {
    let json = config("", FEED_TOP);
    let mut s = Sim::new(&json);
    s.serve("/promo/a", 1);
    s.feed_doc = (410, String::new(), String::new());
    s.caches.insert("site-own".into(), vec![]);
    s.get("/promo/a");
    assert!(s.unregistered);
    assert_eq!(s.caches.keys().collect::<Vec<_>>(), ["site-own"]);
    let (_, r) = s.message(r#"{"type":"CACHE_INVALIDATION","prefixes":["/promo/"]}"#);
    assert!(r[0].contains("CACHE_INVALIDATION_DONE"), "{r:?}");
    let (_, r) = s.message(r#"{"type":"GET_STATE"}"#);
    assert!(r[0].contains("\"STATE\""), "{r:?}");
    assert_eq!(s.caches.keys().collect::<Vec<_>>(), ["site-own"], "swcache caches created again after the removal");
}

#[test]
fn an_invalidation_by_url_or_prefix_leaves_another_origins_copy_at_the_same_path() {
    let mut s = with_cdn(1);
    let cdn = "https://cdn.example.com/img/a.png";
    for p in [cdn, "/img/a.png", "/img/b.png"] {
        s.serve(p, 1);
        s.content(p).tags = (p == cdn).then(|| "hero".into());
        s.get(p);
    }
    s.now += 1000.0;
    let (_, r) = s.message(r#"{"type":"CACHE_INVALIDATION","urls":["/img/a.png"],"prefixes":["/img/b"]}"#);
    assert_eq!(r, vec![r#"{"type":"CACHE_INVALIDATION_DONE","removed":2}"#]);
    let (_, r) = s.message(r#"{"type":"CACHE_INVALIDATION","prefixes":["/img/"]}"#);
    assert_eq!(r, vec![r#"{"type":"CACHE_INVALIDATION_DONE","removed":0}"#]);
    assert!(s.cached(&s.cn("cdn"), cdn).is_some(), "the CDN's copy is not the site's /img/a.png");
    // Its route and its tags still name it, and the notice says which URL went.
    s.broadcasts.clear();
    let (_, r) = s.message(r#"{"type":"CACHE_INVALIDATION","tags":["hero"]}"#);
    assert_eq!(r, vec![r#"{"type":"CACHE_INVALIDATION_DONE","removed":1}"#]);
    assert!(s.cached(&s.cn("cdn"), cdn).is_none());
    assert!(
        s.broadcasts.iter().any(|b| b.contains(r#""removed":["https://cdn.example.com/img/a.png"]"#)),
        "{:?}",
        s.broadcasts
    );
}

/// README "Removing swcache": work under way when the 410 arrives (here the sweep of a
/// router cache a worker's first answer starts) must not open a deleted cache again: a
/// cache command by name creates the cache it names.
#[test]
fn work_under_way_when_the_kill_switch_arrives_does_not_create_the_deleted_caches_again() {
    let json = config(
        r#"{"name":"landing","match":"/l/","strategy":"cacheFirst","maxAge":1000,"coldStart":"router"},"#,
        FEED_TOP,
    );
    for seed in 1..40u64 {
        let mut s = Sim::new(&json);
        s.feed_doc = (404, String::new(), String::new());
        for p in ["/l/a", "/l/b"] {
            s.serve(p, 1);
            s.get(p);
        }
        s.caches.insert("site-own".into(), vec![]);
        s.feed_doc = (410, String::new(), String::new());
        s.now += 120_000.0;
        s.restart(&json);
        // Results in any order: the sweep's listing, reads and deletions around the removal's.
        s.rng = seed.wrapping_mul(0x2545_f491_4f6c_dd1d);
        s.shuffle = true;
        let op = s.start_fetch("/l/a", false, "default").unwrap();
        s.settle();
        assert!(s.unregistered && s.ops[&op].answered.is_some());
        assert_eq!(s.caches.keys().collect::<Vec<_>>(), ["site-own"], "seed {seed}: swcache caches created again");
        assert!(s.ops.values().all(|o| o.done), "seed {seed}: every operation ends");
    }
}

/// A ranged miss a recent invalidation names goes past the HTTP cache on this origin (the
/// adapter's copy keeps a media element's `Range` as a same-origin request); another
/// origin's is fetched as it came, since no copy of it could keep its `Range`.
#[test]
fn a_ranged_miss_goes_past_the_http_cache_on_this_origin_only() {
    let mut s = with_cdn(1);
    let cdn = "https://cdn.example.com/clip.webm";
    s.serve(cdn, 1);
    s.serve("/media/clip.webp", 1);
    s.reloads.clear();
    s.now += 10.0;
    s.message(r#"{"type":"CACHE_INVALIDATION","urls":["/media/clip.webp"]}"#);
    s.message(r#"{"type":"CACHE_INVALIDATION","routes":["cdn"]}"#);
    for path in ["/media/clip.webp", cdn] {
        let op = s.start_request(path, Request { range: Some("bytes=0-1"), ..get_request("") }).unwrap();
        s.settle();
        assert_eq!(s.ops[&op].answered, Some(Answer::Network(Tag::Net)), "{path}");
    }
    assert_eq!(s.reloads, ["/media/clip.webp"]);
}

/// That copy past the HTTP cache fails where the server redirects the file to another
/// origin (a same-origin request may not follow it): the request goes again as it came,
/// once, and its answer plays. Before, the video got the 503 for as long as the fence held.
#[test]
fn a_ranged_miss_whose_copy_past_the_http_cache_fails_goes_again_as_it_came() {
    let mut s = Sim::seed();
    s.serve("/media/clip.webp", 1);
    s.now += 10.0;
    s.message(r#"{"type":"CACHE_INVALIDATION","urls":["/media/clip.webp"]}"#);
    s.failing_reloads = true;
    let ranged = |s: &mut Sim| {
        let op = s.start_request("/media/clip.webp", Request { range: Some("bytes=0-1"), ..get_request("") }).unwrap();
        s.settle();
        s.ops[&op].answered.clone()
    };
    let before = s.requests.get("/media/clip.webp").copied().unwrap_or(0);
    assert_eq!(ranged(&mut s), Some(Answer::Network(Tag::Net)));
    assert_eq!(s.reloads, ["/media/clip.webp"]);
    assert_eq!(s.requests["/media/clip.webp"], before + 2, "the copy, then the request as it came");
    // Offline both fail: the engine's 503, after the two.
    s.offline = true;
    assert!(matches!(ranged(&mut s), Some(Answer::Error { status: 503, .. })));
    assert_eq!(s.requests["/media/clip.webp"], before + 4);
}

// ----- several tabs at once ---------------------------------------------------------------------

/// Every open page that subscribed hands each live feed entry to the worker, and the
/// worker's own feed check reads it as well: the same news (selectors and timestamp, even
/// one the clock clamped) is applied once, and each page is told once. Sent again after
/// an invalidation that could not list a cache, it goes again.
#[test]
fn the_same_feed_entry_from_several_pages_and_the_feed_is_applied_once() {
    let (mut s, mut doc) = fed_sim();
    s.visit("/promo/b");
    s.serve("/promo/a", 2);
    s.now += 1000.0;
    let at_ms = s.now - 500.0;
    let at = crate::policy::time::iso_string(at_ms);
    let live = format!(r#"{{"type":"CACHE_INVALIDATION","feed":true,"urls":["/promo/a"],"timestamp":"{at}"}}"#);
    let (broadcasts, listings) = (s.broadcasts.len(), s.listings);
    let (_, r) = s.message(&live);
    assert_eq!(r, vec![r#"{"type":"CACHE_INVALIDATION_DONE","removed":1}"#]);
    assert_eq!(s.broadcasts.len(), broadcasts + 1);
    let listings = s.listings - listings;
    for _ in 0..2 {
        let before = s.listings;
        let (_, r) = s.message(&live);
        assert_eq!(r, vec![r#"{"type":"CACHE_INVALIDATION_DONE","removed":0}"#]);
        assert_eq!(s.listings, before, "nothing listed again");
    }
    assert!(listings > 0);
    assert_eq!(s.broadcasts.len(), broadcasts + 1, "each page told once: {:?}", &s.broadcasts[broadcasts..]);
    // The worker's next feed check reads the entry the pages handed on.
    let entry = r#"{"urls":["/promo/a"]}"#;
    s.publish(&mut doc, entry);
    doc.entries.last_mut().unwrap().at_ms = at_ms;
    s.feed_doc = (200, format!("\"e{}\"", doc.seq), feed::write(&doc));
    s.now += 61_000.0;
    s.start_fetch("/promo/b", true, "default");
    s.settle();
    assert_eq!(s.feed_stat("seq"), 2.0, "the check completed");
    assert_eq!(s.broadcasts.len(), broadcasts + 1, "no page told again: {:?}", &s.broadcasts[broadcasts..]);
    assert_eq!(s.get("/promo/a"), Some(2));

    // A timestamp ahead of the worker's clock (clamped to its now, a different now for
    // each page's message) is still the same news.
    let ahead = crate::policy::time::iso_string(s.now + 2000.0);
    let live = format!(r#"{{"type":"CACHE_INVALIDATION","feed":true,"prefixes":["/promo/"],"timestamp":"{ahead}"}}"#);
    let broadcasts = s.broadcasts.len();
    s.message(&live);
    s.now += 30.0;
    let (_, r) = s.message(&live);
    assert_eq!(r, vec![r#"{"type":"CACHE_INVALIDATION_DONE","removed":0}"#]);
    assert_eq!(s.broadcasts.len(), broadcasts + 1);

    // After an invalidation that could not list a cache, the same one sent again lists.
    s.serve("/promo/c", 1);
    s.get("/promo/c");
    s.now += 1000.0;
    let at = crate::policy::time::iso_string(s.now);
    let again = format!(r#"{{"type":"CACHE_INVALIDATION","prefixes":["/promo/c"],"timestamp":"{at}"}}"#);
    s.failing_listings = 1;
    let (_, r) = s.message(&again);
    assert!(r[0].contains("\"ERROR\""), "{r:?}");
    s.failing_listings = 0;
    let (_, r) = s.message(&again);
    assert_eq!(r, vec![r#"{"type":"CACHE_INVALIDATION_DONE","removed":1}"#]);
}

/// A live entry a page handed on whose invalidation could not list a cache (answered
/// ERROR, which the page only logs) is applied by the worker's next feed check, which
/// moves its position past the entry only once it is applied. Before: the check took the
/// fence the failed invalidation left up for the entry applied and moved past it, and
/// once the browser stopped the worker the old copy was served again.
#[test]
fn a_live_entry_whose_invalidation_failed_is_applied_by_the_next_feed_check() {
    let (mut s, mut doc) = fed_sim();
    s.serve("/promo/a", 2);
    s.now += 1000.0;
    s.publish(&mut doc, r#"{"urls":["/promo/a"]}"#);
    let at = crate::policy::time::iso_string(doc.entries.last().unwrap().at_ms);
    let live = format!(r#"{{"type":"CACHE_INVALIDATION","feed":true,"urls":["/promo/a"],"timestamp":"{at}"}}"#);
    s.failing_listings = 1;
    let (_, r) = s.message(&live);
    assert!(r[0].contains("\"ERROR\""), "{r:?}");
    s.failing_listings = 0;
    s.now += 61_000.0;
    s.start_fetch("/promo/b", true, "default");
    s.settle();
    assert_eq!(s.feed_stat("seq"), 2.0, "the check completed");
    s.restart(&config("", FEED_TOP));
    assert_eq!(s.get("/promo/a"), Some(2), "the entry was applied: the old copy is gone");
}

/// A fetch no page waits for whose response never comes (an origin that accepts the
/// connection and never answers) gives up after 30 s, as a network error: a
/// staleWhileRevalidate refresh, a networkFirst write after its timeout, a prefetch, an
/// install's precache and a quota relief's refetch used to hold their events for good
/// (the worker busy, a new version waiting, an install hung, an invalidation's DONE
/// never sent).
#[test]
fn background_fetches_without_a_response_give_up_after_30_s() {
    let swr = r#"{"name":"swr","match":"/swr/","strategy":"staleWhileRevalidate"},"#;
    let mut s = Sim::new(&config(swr, ""));
    s.serve("/swr/a", 1);
    assert_eq!(s.get("/swr/a"), Some(1));
    let path = "/api/v1/promo/featured-content?id=1";
    s.serve(path, 1);
    assert_eq!(s.get(path), Some(1));
    s.hanging = true;
    let refresh = s.start_fetch("/swr/a", false, "default").unwrap();
    let late = s.start_fetch(path, false, "default").unwrap();
    let (prefetch, replies) = s.message(r#"{"type":"PREFETCH","urls":["/promo/p1"]}"#);
    assert!(replies.is_empty());
    s.advance(3000.0);
    s.settle();
    assert_eq!(s.ops[&refresh].answered_with, Some(1), "the stored copy at once");
    assert_eq!(s.ops[&late].answered_with, Some(1), "the networkTimeout's cached copy");
    s.advance(26_500.0);
    s.settle();
    assert!(!s.ops[&refresh].done && !s.ops[&prefetch].done, "still waiting at 29.5 s");
    s.advance(500.0);
    s.settle();
    assert!(s.ops[&refresh].done, "the refresh gave up");
    assert_eq!(s.ops[&prefetch].replies, vec![r#"{"type":"PREFETCH_DONE","fetched":0,"skipped":0,"failed":1}"#]);
    assert!(s.ops[&prefetch].done);
    assert!(!s.ops[&late].done, "the late write waits 30 s after the networkTimeout");
    s.advance(3000.0);
    s.settle();
    assert!(s.ops[&late].done, "the late write gave up");
    assert_eq!(s.cached(&s.cn("swr"), "/swr/a").unwrap().version, 1);

    // An install fails naming the URL and the timeout.
    let mut s = Sim::seed();
    s.hanging = true;
    let install = s.e.install();
    s.exec();
    s.settle();
    s.advance(30_000.0);
    s.settle();
    let failed = s.ops[&install].failed.clone().unwrap_or_default();
    assert!(
        failed.starts_with("swcache precache: /") && failed.ends_with(" failed: no response headers within 30 s"),
        "{failed}"
    );

    // A quota relief's refetch: the invalidation waiting for the write under way answers.
    let (mut s, op) = full_storage_miss();
    s.until_quota_error();
    s.quota_left = None;
    s.hanging = true;
    s.settle();
    assert!(!s.ops[&op].done, "refetching");
    let (inv, replies) = s.message(r#"{"type":"CACHE_INVALIDATION","urls":["/promo/q1"]}"#);
    assert!(replies.is_empty(), "waits for the write under way");
    s.advance(30_000.0);
    s.settle();
    assert!(s.ops[&op].done);
    assert_eq!(s.ops[&inv].replies, vec![r#"{"type":"CACHE_INVALIDATION_DONE","removed":1}"#]);
}

// ----- pages back from the back/forward cache -------------------------------------------------

/// The notices of a `NOTICES` reply.
fn notices_of(reply: &str) -> Vec<Value> {
    let v = read_json(reply).expect("JSON");
    assert_eq!(v.get("type").and_then(Value::as_str), Some("NOTICES"), "{reply}");
    match v.get("notices") {
        Some(Value::Arr(list)) => list.clone(),
        other => panic!("{other:?}"),
    }
}

/// A page frozen in the back/forward cache misses the notices sent meanwhile. Back, it
/// asks for those sent since it left (GET_NOTICES) and gets each as it was posted, from a
/// worker started since too (Chromium stops an idle one after about 30 s): each notice is
/// saved before the event that sent it ends, and a new instance reads the saved ones
/// before it saves its own.
#[test]
fn a_page_back_from_the_back_forward_cache_gets_the_notices_it_missed_from_a_restarted_worker_too() {
    let json = config("", "");
    let mut s = Sim::new(&json);
    for p in ["/promo/a", "/promo/b", "/promo/c"] {
        s.visit(p);
    }
    let (_, r) = s.message(r#"{"type":"GET_NOTICES","since":0}"#);
    assert_eq!(r, vec![r#"{"type":"NOTICES","notices":[]}"#]);
    s.now += 1000.0;
    let left = s.now; // the page goes into the back/forward cache
    s.now += 1000.0;
    let (op, r) = s.message(r#"{"type":"CACHE_INVALIDATION","urls":["/promo/a"]}"#);
    assert_eq!(r, vec![r#"{"type":"CACHE_INVALIDATION_DONE","removed":1}"#]);
    assert!(s.ops[&op].done);
    s.restart(&json);
    s.now += 1000.0;
    // This one's event ends only once its notice is saved.
    let op = s.e.message(read_json(r#"{"type":"CACHE_INVALIDATION","prefixes":["/promo/b"]}"#), false, s.now);
    s.state(op);
    while !s.ops[&op].done {
        assert!(s.step(), "the invalidation's event ended");
    }
    assert!(s.saved_notices.as_deref().is_some_and(|t| t.contains("/promo/b")), "{:?}", s.saved_notices);
    s.restart(&json);
    s.now += 1000.0;
    // Back: the page asks for what was sent since it left.
    assert_eq!(s.broadcasts.len(), 2, "{:?}", s.broadcasts);
    let posted: Vec<Value> = s.broadcasts.iter().map(|b| read_json(b).unwrap()).collect();
    let (op, r) = s.message(&format!(r#"{{"type":"GET_NOTICES","since":{left}}}"#));
    assert_eq!(notices_of(&r[0]), posted, "each as it was posted");
    assert!(s.ops[&op].done);
    let first_at = num(&posted[0], &["at"]);
    assert!(first_at > left && num(&posted[1], &["at"]) > first_at, "{posted:?}");
    let (_, r) = s.message(&format!(r#"{{"type":"GET_NOTICES","since":{}}}"#, first_at + 1.0));
    assert_eq!(notices_of(&r[0]), posted[1..]);
    // Notices from a feed check are kept too.
    let json = config("", FEED_TOP);
    let mut s = Sim::new(&json);
    let mut doc = new_feed();
    s.publish(&mut doc, r#"{"urls":["/promo/a"]}"#);
    s.publish(&mut doc, r#"{"urls":["/promo/b"]}"#);
    s.visit("/promo/x");
    assert_eq!(s.feed_stat("applied"), 2.0);
    s.restart(&json);
    let (_, r) = s.message(r#"{"type":"GET_NOTICES","since":0}"#);
    let got = notices_of(&r[0]);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.iter().all(|n| n.get("source").and_then(Value::as_str) == Some("feed")));
    assert_ne!(num(&got[0], &["at"]), num(&got[1], &["at"]), "each notice named by its own time");
}

// ----- live feed entries and restarts -----------------------------------------------------------

/// A page's `CACHE_INVALIDATION` for a live feed entry, as the page module hands it on.
fn live_entry(doc: &feed::Feed, seq: u64, url: &str) -> String {
    let e = doc.entries.iter().find(|e| e.seq == seq).unwrap();
    let at = crate::policy::time::iso_string(e.at_ms);
    format!(r#"{{"type":"CACHE_INVALIDATION","feed":true,"urls":["{url}"],"timestamp":"{at}","seq":{seq}}}"#)
}

/// Pages hand their live feed's entries to the worker; the browser stops the idle worker
/// (Chromium after about 30 s); the next one checks the feed at its first event. Entries
/// applied live, heard in any order, are not applied again (before: each open page was
/// told each one twice, and its components refetched), and the saved list stays short;
/// one whose invalidation failed is applied by the check.
#[test]
fn live_entries_applied_before_a_restart_are_not_applied_again_by_the_next_check() {
    let json = config("", FEED_TOP);
    let (mut s, mut doc) = fed_sim();
    for p in ["/promo/b", "/promo/c"] {
        s.visit(p);
    }
    for p in ["/promo/a", "/promo/b", "/promo/c"] {
        s.serve(p, 2);
    }
    s.now += 1000.0;
    s.publish(&mut doc, r#"{"urls":["/promo/a"]}"#);
    s.publish(&mut doc, r#"{"urls":["/promo/b"]}"#);
    s.publish(&mut doc, r#"{"urls":["/promo/c"]}"#);
    // Heard out of order (seq 3 first), and seq 4's invalidation cannot list a cache.
    let broadcasts = s.broadcasts.len();
    for (seq, url) in [(3, "/promo/b"), (2, "/promo/a")] {
        let (op, r) = s.message(&live_entry(&doc, seq, url));
        assert_eq!(r, vec![r#"{"type":"CACHE_INVALIDATION_DONE","removed":1}"#]);
        assert!(s.ops[&op].done);
    }
    s.failing_listings = 1;
    let (_, r) = s.message(&live_entry(&doc, 4, "/promo/c"));
    assert!(r[0].contains("\"ERROR\""), "{r:?}");
    s.failing_listings = 0;
    assert_eq!(s.broadcasts.len(), broadcasts + 3);
    s.restart(&json);
    s.now += 40_000.0;
    s.visit("/promo/x");
    assert_eq!(s.feed_stat("seq"), 4.0, "the check completed");
    let told: Vec<&String> = s.broadcasts[broadcasts + 3..].iter().collect();
    assert_eq!(told.len(), 1, "only the entry that failed live: {told:?}");
    assert!(told[0].contains("/promo/c"), "{told:?}");
    assert_eq!(s.get("/promo/c"), Some(2), "the failed one was applied");
    assert_eq!(s.get("/promo/a"), Some(2));
    let saved = s.saved.clone().unwrap_or_default();
    assert!(saved.starts_with(r#"{"live":[],"#), "cut at the saved cursor: {saved}");
    // A restart before any check: the list waits in the saved state.
    assert_eq!(s.get("/promo/b"), Some(2));
    s.serve("/promo/b", 3);
    s.now += 1000.0;
    s.publish(&mut doc, r#"{"urls":["/promo/b"]}"#);
    let (_, r) = s.message(&live_entry(&doc, 5, "/promo/b"));
    assert_eq!(r, vec![r#"{"type":"CACHE_INVALIDATION_DONE","removed":1}"#]);
    let told = s.broadcasts.len();
    s.restart(&json);
    s.visit("/promo/y");
    assert_eq!(s.feed_stat("seq"), 5.0);
    assert_eq!(s.broadcasts.len(), told, "{:?}", &s.broadcasts[told..]);
    assert_eq!(s.get("/promo/b"), Some(3));
}

/// A page frozen in the back/forward cache misses the `UPDATED` notices too (a background
/// refresh another page's request started stored content that differs from what it was
/// given). Back, it asks for what was sent since it left: the `UPDATED` notices are kept
/// and saved like the others (before: only `INVALIDATED` ones were, and `swcache:updated`
/// never fired for such a page), one per URL.
#[test]
fn a_page_back_from_the_back_forward_cache_gets_the_updated_notices_it_missed() {
    let json = config(r#"{"name":"news","match":"/news/","strategy":"staleWhileRevalidate","maxAge":1000},"#, "");
    let mut s = Sim::new(&json);
    s.serve("/news/a", 1);
    s.serve("/news/b", 1);
    s.get("/news/a");
    s.get("/news/b");
    s.now += 2000.0;
    let left = s.now;
    s.now += 1000.0;
    s.serve("/news/a", 2);
    assert_eq!(s.get("/news/a"), Some(1), "stale copy served, refreshed in the background");
    s.now += 2000.0;
    s.serve("/news/a", 3);
    s.get("/news/a");
    s.serve("/news/b", 2);
    s.get("/news/b");
    assert_eq!(s.broadcasts.len(), 3, "{:?}", s.broadcasts);
    s.restart(&json);
    let (_, r) = s.message(&format!(r#"{{"type":"GET_NOTICES","since":{left}}}"#));
    let got = notices_of(&r[0]);
    let posted: Vec<Value> = s.broadcasts[1..].iter().map(|b| read_json(b).unwrap()).collect();
    assert_eq!(got, posted, "the latest UPDATED of each URL, as posted");
}

/// README "Removing swcache": with the feed at `410 Gone`, pages that still call
/// `register()` install the worker again at every view. The install asks the feed first:
/// a 410 fails it before any precache download (before: the whole precache, then the
/// removal at the first check).
#[test]
fn an_install_whose_feed_answers_410_fails_before_it_precaches() {
    let mut s = Sim::new(&config("", FEED_TOP));
    s.serve("/", 1);
    s.serve("/robots.txt", 1);
    s.feed_doc = (410, String::new(), String::new());
    let i = s.e.install();
    s.exec();
    s.settle();
    let failed = s.ops[&i].failed.clone().unwrap_or_default();
    assert!(failed.contains("the feed answered 410 Gone"), "the install fails with the reason: {failed:?}");
    assert!(s.requests.is_empty(), "no precache download: {:?}", s.requests.keys().collect::<Vec<_>>());
    assert_eq!(s.feed_requests, 1);
}

/// Only a 410 stops an install: a feed that answers 200 or 404, or none (offline, a
/// hang past the install's wait), lets it precache and finish.
#[test]
fn an_install_goes_on_whatever_else_the_feed_answers() {
    for case in ["200", "404", "hang"] {
        let mut s = Sim::new(&config("", FEED_TOP));
        s.serve("/", 1);
        s.serve("/robots.txt", 1);
        match case {
            "200" => s.publish(&mut new_feed(), r#"{"urls":["/a"]}"#),
            "404" => s.feed_doc = (404, String::new(), String::new()),
            _ => s.feed_hangs = true,
        }
        let i = s.e.install();
        s.exec();
        s.settle();
        if case == "hang" {
            assert!(s.requests.is_empty(), "the install waits for the feed a while");
            s.advance(3_000.0);
            s.settle();
        }
        assert!(s.ops[&i].done && s.ops[&i].failed.is_none(), "{case}: installed ({:?})", s.ops[&i].failed);
        assert_eq!(s.requests.len(), 2, "{case}: the precache downloaded");
    }
    // Offline: the feed's request fails at once, and the install goes on (to fail on the
    // precache, as it did).
    let mut s = Sim::new(&config("", FEED_TOP));
    s.offline = true;
    let i = s.e.install();
    s.exec();
    s.settle();
    let failed = s.ops[&i].failed.clone().unwrap_or_default();
    assert!(failed.starts_with("swcache precache:"), "{failed}");
}

/// The site deletes its caches at sign-out while the worker runs, and the engine still
/// "knows" a full cache of pages the last visitor used often: a page stored afterwards
/// must not be evicted in favour of those phantoms (the next visitor's pages were stored
/// and deleted at once, so nothing was cached or there offline). A read that misses a
/// known key makes the next write list the cache.
#[test]
fn after_the_site_deletes_its_caches_new_pages_are_kept() {
    let mut s = Sim::seed();
    (0..50).for_each(|i| s.visit(&format!("/promo/{i}")));
    for _ in 0..3 {
        (0..50).for_each(|i| assert_eq!(s.get(&format!("/promo/{i}")), Some(1)));
    }
    let pages = s.cn("promoPages");
    assert_eq!(s.count(&pages), 50);
    s.caches.clear();
    // The next visitor opens one of the pages the last one used, then pages of their own.
    s.visit("/promo/0");
    (100..130).for_each(|i| s.visit(&format!("/promo/{i}")));
    assert_eq!(s.count(&pages), 31, "every page since the deletion kept");
    assert_eq!(num(&s.stats(), &["routes", "promoPages", "evictions"]), 0.0);
}

/// The site removed a page (404, then 410): a staleWhileRevalidate route's copy, served
/// stale while the refresh runs, goes with that refresh instead of being served, and
/// refreshed in vain, on every visit for good. On cacheFirst the stale copy goes with
/// the 404 that answers the page. A file stays (a tab of the previous build loads it).
#[test]
fn a_page_the_server_no_longer_has_is_deleted_from_the_route() {
    let swr = r#"{"name":"swr","match":"/s/","strategy":"staleWhileRevalidate","maxAge":1000},"#;
    let visit = |s: &mut Sim, path: &str| {
        let op = s.start_fetch(path, true, "default").unwrap();
        s.settle();
        s.ops[&op].answered_with
    };
    for status in [404, 410] {
        let mut s = Sim::new(&config(swr, ""));
        s.serve("/s/a", 1);
        visit(&mut s, "/s/a");
        let c = s.cn("swr");
        assert!(s.cached(&c, "/s/a").is_some());
        s.content("/s/a").status = status;
        s.now += 2000.0;
        assert_eq!(visit(&mut s, "/s/a"), Some(1), "the stale copy is served while the refresh runs");
        assert!(s.cached(&c, "/s/a").is_none(), "{status}: the refresh deleted the copy");
        visit(&mut s, "/s/a");
        assert_eq!(s.requests["/s/a"], 3, "the next visit asks the server");
    }
    let mut s = Sim::seed();
    s.serve("/promo/gone", 1);
    visit(&mut s, "/promo/gone");
    s.content("/promo/gone").status = 404;
    s.now += 2.0 * 86_400_000.0;
    visit(&mut s, "/promo/gone");
    assert!(s.cached(&s.cn("promoPages"), "/promo/gone").is_none());
    // A file the server no longer has keeps its copy.
    let mut s = Sim::new(&config(swr, ""));
    s.visit("/s/app.js");
    s.content("/s/app.js").status = 404;
    s.now += 2000.0;
    assert_eq!(s.get("/s/app.js"), Some(1));
    assert!(s.cached(&s.cn("swr"), "/s/app.js").is_some());
}

/// A response to a request that carried `Authorization` (a signed-in visitor's API call)
/// is someone's own: stored, it would answer the next person's request on that device,
/// signed in as someone else or not at all. It is stored only when the origin says it may
/// be shared (`public` or `s-maxage`, without `private`, as a shared cache reads them) or
/// keys it by that header (`Vary: Authorization`, which the cache then matches).
#[test]
fn a_response_to_an_authorized_request_is_stored_only_when_shareable() {
    let api = r#"{"name":"api","match":"/me/","strategy":"staleWhileRevalidate"},"#;
    let mut s = Sim::new(&config(api, ""));
    let c = s.cn("api");
    let fetch = |s: &mut Sim, path: &str| {
        s.start_request(path, Request { authorized: true, ..get_request("") }).unwrap();
        s.settle();
    };
    s.serve("/me/orders", 1);
    fetch(&mut s, "/me/orders");
    assert!(s.cached(&c, "/me/orders").is_none(), "not stored for the next visitor");
    s.serve("/me/profile", 1);
    fetch(&mut s, "/me/profile");
    let said: Vec<&String> = s.warnings.iter().filter(|w| w.contains("Authorization")).collect();
    assert_eq!(said.len(), 1, "said once, in the worker's console: {said:?}");
    assert!(
        said[0].contains("route 'api' did not store /me/orders") && said[0].contains("Vary: Authorization"),
        "{}",
        said[0]
    );
    for (cc, vary) in
        [(Some("public, max-age=60"), None), (Some("s-maxage=60"), None), (None, Some("Accept, Authorization"))]
    {
        let path = format!("/me/{}", cc.unwrap_or("vary"));
        s.serve(&path, 1);
        s.content(&path).cache_control = cc.map(String::from);
        s.content(&path).vary = vary.map(String::from);
        fetch(&mut s, &path);
        assert!(s.cached(&c, &path).is_some(), "{path}: stored");
    }
    // Without the header, as before.
    s.visit("/me/news");
    assert!(s.cached(&c, "/me/news").is_some());
}

/// The copy a staleWhileRevalidate route holds came from a request without
/// `Authorization` (before sign-in): a signed-in visitor's request is answered with it,
/// and its refresh, which the route may not keep, takes it away instead of leaving it to
/// answer every later request of theirs, never refreshed.
#[test]
fn a_refresh_an_authorized_request_may_not_keep_takes_the_copy_it_was_served() {
    let api = r#"{"name":"api","match":"/me/","strategy":"staleWhileRevalidate"},"#;
    let mut s = Sim::new(&config(api, ""));
    let c = s.cn("api");
    let signed_in = |s: &mut Sim| {
        let op = s.start_request("/me/cart", Request { authorized: true, ..get_request("") }).unwrap();
        s.settle();
        s.ops[&op].answered_with
    };
    s.visit("/me/cart"); // signed out: stored
    assert!(s.cached(&c, "/me/cart").is_some());
    s.serve("/me/cart", 2);
    assert_eq!(signed_in(&mut s), Some(1), "the copy, while the refresh runs");
    assert!(s.cached(&c, "/me/cart").is_none(), "the refresh took the copy");
    assert_eq!(signed_in(&mut s), Some(2), "the next request gets the server's answer");
}

/// The site moved a page (`301` to its new URL). A navigation's request has
/// redirect mode `manual`, so the refresh of a staleWhileRevalidate copy gets an
/// `opaqueredirect` (status 0, not opaque). As with a 404 or 410, the old copy must not
/// go on being served, refreshed in vain, on every visit for good.
#[test]
fn a_page_the_server_now_redirects_is_not_served_stale_for_good() {
    let swr = r#"{"name":"swr","match":"/s/","strategy":"staleWhileRevalidate","maxAge":1000},"#;
    let visit = |s: &mut Sim, path: &str| {
        let op = s.start_fetch(path, true, "default").unwrap();
        s.settle();
        s.ops[&op].answered_with
    };
    let mut s = Sim::new(&config(swr, ""));
    s.serve("/s/old", 1);
    visit(&mut s, "/s/old");
    let c = s.cn("swr");
    assert!(s.cached(&c, "/s/old").is_some());
    // The server now answers with a redirect: to the navigation, an opaqueredirect.
    s.content("/s/old").status = 0;
    for _ in 0..3 {
        s.now += 2000.0;
        visit(&mut s, "/s/old");
    }
    assert_eq!(s.requests["/s/old"], 4);
    assert!(s.cached(&c, "/s/old").is_none(), "the redirect's refresh deleted the old page");
}

/// README 'Cache modes': `no-store` neither reads nor writes, `reload` and
/// `no-cache` skip the cache read. A ranged `fetch()` with such a mode (a resumable
/// download checking the server's copy) was answered from the cached body: it goes to the
/// browser, as a ranged request a route does not read from the cache does.
#[test]
fn a_ranged_request_asking_past_the_cache_is_left_to_the_browser() {
    let mut s = Sim::seed();
    s.visit("/media/clip.webp");
    s.serve("/media/clip.webp", 2);
    for mode in ["no-store", "reload", "no-cache"] {
        let req = Request { range: Some("bytes=0-99"), cache: mode, ..get_request("") };
        assert!(s.start_request("/media/clip.webp", req).is_none(), "{mode}: left to the browser");
    }
    let req = Request { range: Some("bytes=0-99"), ..get_request("") };
    assert!(s.start_request("/media/clip.webp", req).is_some(), "default: from the cached copy");
}

/// An invalidation by tag (or route) that removed more paths than its notice lists: a page
/// whose own copy went, past the first 200, must still be able to tell it may be covered
/// (README: `page` is true when the URL is "among `removed`, which is how `tags` reach
/// pages"). Here 200 tagged images are listed before the tagged page.
#[test]
fn a_notice_that_lists_only_some_removed_paths_says_so() {
    let mut s = Sim::seed();
    for i in 0..200 {
        let p = format!("/img/{i}.png");
        s.serve(&p, 1);
        s.content(&p).tags = Some("campaign".into());
        s.get(&p);
    }
    s.serve("/promo/summer", 1);
    s.content("/promo/summer").tags = Some("campaign".into());
    s.get("/promo/summer");
    s.now += 1000.0;
    s.broadcasts.clear();
    let (_, r) = s.message(r#"{"type":"CACHE_INVALIDATION","tags":["campaign"]}"#);
    assert_eq!(r, vec![r#"{"type":"CACHE_INVALIDATION_DONE","removed":201}"#]);
    assert!(s.cached(&s.cn("promoPages"), "/promo/summer").is_none(), "the page's copy went");
    let notice = s.broadcasts.iter().find(|b| b.contains("\"INVALIDATED\"")).expect("a notice");
    let v = read_json(notice).unwrap();
    let Some(Value::Arr(removed)) = v.get("removed") else { panic!("{notice}") };
    let named = removed.iter().any(|p| p.as_str() == Some("/promo/summer"));
    assert!(
        named || v.get("more") == Some(&Value::Bool(true)),
        "the page /promo/summer was removed, but the notice neither names it nor says its list is cut ({} paths listed)",
        removed.len()
    );
}

/// A "purge everything" (a message's `all: true`, or the `{all: true}` a
/// worker applies for a feed baseline it is behind) must not leave an offline visitor
/// without the offline page: nothing ever fetches it again until the next deploy.
#[test]
fn an_invalidation_of_everything_keeps_the_offline_page() {
    let mut s = offline_site();
    s.now += 60_000.0;
    let (_, r) = s.message(r#"{"type":"CACHE_INVALIDATION","all":true}"#);
    assert!(r[0].contains("CACHE_INVALIDATION_DONE"), "{r:?}");
    // The visitor browses on, then loses the network.
    s.now += 60_000.0;
    s.serve("/promo/a", 1);
    s.get("/promo/a");
    s.offline = true;
    let nav = s.start_fetch("/promo/never", true, "default").unwrap();
    s.settle();
    assert_eq!(s.ops[&nav].answered_with, Some(7), "the offline page: {:?}", s.ops[&nav].answered);
    // After the fence's lifetime too.
    s.now += 11.0 * 60_000.0;
    let nav = s.start_fetch("/promo/never2", true, "default").unwrap();
    s.settle();
    assert_eq!(s.ops[&nav].answered_with, Some(7), "the offline page: {:?}", s.ops[&nav].answered);
}

/// A returning visitor whose feed position the publisher compacted away
/// applies `{all: true}` at the baseline's time (README, "The format"): the offline page
/// must survive it.
#[test]
fn a_feed_baseline_reset_keeps_the_offline_page() {
    let json = config("", &format!(r#""offline":"/offline.html",{FEED_TOP}"#));
    let mut s = Sim::new(&json);
    for p in ["/", "/robots.txt", "/offline.html"] {
        s.serve(p, 7);
    }
    let mut doc = new_feed();
    s.publish(&mut doc, r#"{"urls":["/promo/a"]}"#);
    install_and_activate(&mut s);
    s.visit("/promo/b"); // the first check: the cursor is at seq 1
    assert_eq!(s.feed_stat("seq"), 1.0);
    // Days later: the CMS published 300 entries, the feed kept the last 200.
    s.now += 3.0 * 86_400_000.0;
    for i in 0..300 {
        s.publish(&mut doc, &format!(r#"{{"urls":["/promo/p{i}"]}}"#));
    }
    feed::compact(&mut doc, feed::DEFAULT_KEEP);
    s.feed_doc = (200, format!("\"e{}\"", doc.seq), feed::write(&doc));
    s.restart(&json);
    s.now += 1000.0;
    s.visit("/promo/c");
    assert_eq!(s.feed_stat("seq"), 301.0);
    s.offline = true;
    let nav = s.start_fetch("/promo/never", true, "default").unwrap();
    s.settle();
    assert_eq!(s.ops[&nav].answered_with, Some(7), "the offline page: {:?}", s.ops[&nav].answered);
}

/// Two deploys in a row with `waitForClients`: v2 waits, v3 starts installing, and
/// v2 activates meanwhile (its page applied the update, or the old tabs closed). v2's
/// activate deletes every precache key its list lacks, v3's just-stored ones among them;
/// v3 finishes its install believing every key stored, and activates without them (its
/// offline page gone).
#[test]
fn an_activate_during_a_newer_install_keeps_the_newer_keys() {
    let cfg = |v: &str| {
        format!(
            r#"{{"version":"{v}","waitForClients":true,"offline":"/offline.html","precache":[{{"url":"/offline.html","revision":"o{v}"}},{{"url":"/app.js","revision":"a{v}"}}]}}"#
        )
    };
    let mut s1 = Sim::new(&cfg("v1"));
    s1.serve("/offline.html", 1);
    s1.serve("/app.js", 1);
    install_and_activate(&mut s1);
    // v2 installs and waits.
    let mut s2 = Sim::new(&cfg("v2"));
    s2.server = s1.server.clone();
    s2.caches = s1.caches.clone();
    let i2 = s2.e.install();
    s2.exec();
    s2.settle();
    assert!(s2.ops[&i2].done && s2.ops[&i2].failed.is_none());
    // v3 installs: its first file lands ...
    let mut s3 = Sim::new(&cfg("v3"));
    s3.server = s2.server.clone();
    s3.caches = s2.caches.clone();
    let i3 = s3.e.install();
    s3.exec();
    while s3.cached("swcache-precache", "/offline.html?__swcache_rev=ov3").is_none() {
        assert!(s3.step());
    }
    assert!(!s3.ops[&i3].done);
    // ... v2 activates ...
    s2.caches = s3.caches.clone();
    let a2 = s2.e.activate();
    s2.exec();
    s2.settle();
    assert!(s2.ops[&a2].done);
    s3.caches = s2.caches.clone();
    // ... v3's install ends, and later v3 activates.
    s3.settle();
    assert!(s3.ops[&i3].done && s3.ops[&i3].failed.is_none());
    let a3 = s3.e.activate();
    s3.exec();
    s3.settle();
    assert!(s3.ops[&a3].done);
    let keys: Vec<&String> = s3.caches["swcache-precache"].iter().map(|(p, _)| p).collect();
    assert!(s3.cached("swcache-precache", "/offline.html?__swcache_rev=ov3").is_some(), "v3's offline page: {keys:?}");
}

/// After the feed's 410 took swcache off, `stats()` / `inspect()` (GET_STATS) say
/// nothing of it: `engine: 'ok'` and no warning, though every request goes to the network.
#[test]
fn stats_after_the_kill_switch_say_so() {
    let json = config("", FEED_TOP);
    let mut s = Sim::new(&json);
    s.serve("/promo/a", 1);
    s.feed_doc = (410, String::new(), String::new());
    s.get("/promo/a");
    assert!(s.unregistered);
    let stats = s.stats();
    let Some(Value::Arr(said)) = stats.get("warnings") else { panic!("{stats:?}") };
    assert!(said.iter().filter_map(Value::as_str).any(|w| w.contains("410 Gone")), "{stats:?}");
}

/// An install that fails half-way keeps the plain URLs it stored, and the retry of
/// the same version skips them. A deploy that uploads the worker before the rest: v2's
/// install fetches `/` while the server still has the old page, then the new chunk 404s
/// (not uploaded yet): it fails. Once the upload ends, the retry stores the chunk, and v2
/// serves the old `/` (keyed as v2's) until the next version.
#[test]
fn a_retried_install_fetches_plain_urls_again() {
    let cfg =
        |v: &str| format!(r#"{{"version":"{v}","precache":["/",{{"url":"/assets/app.{v}.js","revision":null}}]}}"#);
    let mut s = Sim::new(&cfg("v1"));
    s.serve("/", 1);
    s.serve("/assets/app.v1.js", 1);
    install_and_activate(&mut s);
    // Mid-upload: the worker script is v2's, `/` still v1's, v2's chunk not there yet.
    s.restart(&cfg("v2"));
    s.content("/assets/app.v2.js").status = 404;
    let i = s.e.install();
    s.exec();
    s.settle();
    assert!(s.ops[&i].failed.is_some());
    // The upload ends; the browser tries the update again.
    s.serve("/", 2);
    s.serve("/assets/app.v2.js", 2);
    s.restart(&cfg("v2"));
    let (i, a) = install_and_activate(&mut s);
    assert!(s.ops[&i].failed.is_none() && s.ops[&a].done);
    let nav = s.start_fetch("/", true, "default").unwrap();
    s.settle();
    assert_eq!(s.ops[&nav].answered_with, Some(2), "v2's page, not the one fetched mid-upload");
}

/// README (Quick start): "A returning visitor never keeps an old build's `/` asking for
/// content-hashed assets the new worker's activate deleted". The page route of the Quick
/// start (cacheFirst, maxAge one day) takes '/': once the precached copy is a day old the
/// route fetches '/' and stores it in its own cache, which outlives the deploy
/// (keepRuntimeCaches), and is read before the precache.
#[test]
fn a_new_build_serves_its_own_root_after_the_route_refreshed_the_old_one() {
    let mut s = Sim::new(&build_config("v1", "a1", true));
    s.serve("/", 1);
    for f in ["/assets/main.a1.js", "/assets/Route.a1.js"] {
        s.serve(f, 1);
    }
    install_and_activate(&mut s);
    s.advance(864e5 + 1000.0); // the precached '/' is older than the page route's maxAge
    let op = s.start_fetch("/", true, "default").expect("routed");
    s.settle();
    assert_eq!(s.ops[&op].answered_with, Some(1));
    deploy_b2(&mut s, true); // '/' is build 2's now, and precached as such
    s.advance(1000.0);
    let op = s.start_fetch("/", true, "default").expect("routed");
    s.settle();
    assert_eq!(s.ops[&op].answered_with, Some(2), "the new build's '/' (build 1's asks for a1 chunks)");
}

/// networkFirst: the answer that comes while the timeout's cache read is under way is
/// stored (the page got the old copy), so the open pages are told, as when it comes later.
#[test]
fn a_network_first_answer_during_the_fallback_read_is_announced() {
    let mut s = Sim::seed();
    let path = "/api/v1/promo/featured-content?id=1";
    s.cached_then_hanging(path);
    let op = s.start_fetch(path, false, "default").unwrap();
    s.settle();
    s.advance(3000.0); // timeout: the cache read is sent (its result queued)
    s.net_answers(op, 2, Some("v2"));
    s.exec();
    s.settle();
    assert_eq!(s.ops[&op].answered_with, Some(1), "timeout → cached copy");
    assert_eq!(s.cached(&s.cn("componentData"), path).unwrap().version, 2, "the new copy stored");
    let updated = s.broadcasts.iter().filter(|b| b.contains("UPDATED")).count();
    assert_eq!(updated, 1, "a page served v1 while v2 was stored is told: {:?}", s.broadcasts);
}

/// staleWhileRevalidate: a 304 to the refresh (an origin or proxy answering an
/// unconditional request so) confirms the copy, as it does on cacheFirst and networkFirst.
#[test]
fn a_304_to_a_background_refresh_stamps_the_copy_again() {
    let json = config(r#"{"name":"news","match":"/news/","strategy":"staleWhileRevalidate","maxAge":60000},"#, "");
    let mut s = Sim::new(&json);
    s.serve("/news/a", 1);
    s.get("/news/a");
    s.now += 120_000.0;
    s.content("/news/a").status = 304;
    assert_eq!(s.get("/news/a"), Some(1));
    assert_eq!(s.requests["/news/a"], 2, "refreshed once");
    let stamp = s.cached(&s.cn("news"), "/news/a").and_then(|c| c.stamp).unwrap();
    assert!(s.now - stamp < 60_000.0, "the copy the origin confirmed is fresh again");
    assert_eq!(s.get("/news/a"), Some(1));
    assert_eq!(s.requests["/news/a"], 2, "a fresh copy: no refresh");
}

/// Content that goes back and forth (a shop's "sold out" banner, an API's `open` flag, with
/// content-hash ETags): each change a refresh stores is news to the pages that show the
/// other one.
#[test]
fn content_that_changes_back_is_announced_each_time() {
    let json = config(r#"{"name":"news","match":"/news/","strategy":"staleWhileRevalidate","maxAge":1000},"#, "");
    let mut s = Sim::new(&json);
    s.serve("/news/a", 1);
    s.get("/news/a");
    for (n, (next, shown)) in [(2, 1), (1, 2), (2, 1)].into_iter().enumerate() {
        s.now += 2000.0;
        s.serve("/news/a", next);
        assert_eq!(s.get("/news/a"), Some(shown), "the stale copy at once");
        assert_eq!(s.cached(&s.cn("news"), "/news/a").unwrap().version, next, "the refresh stored v{next}");
        let updated = s.broadcasts.iter().filter(|b| b.contains("UPDATED")).count();
        assert_eq!(updated, n + 1, "change {} (v{shown} → v{next}) told to the pages", n + 1);
    }
}

/// A copy a page fetched itself (here a `reload`) stands between two refreshes that bring
/// the same new copy: the second is news again to the page showing the copy in between.
#[test]
fn a_refresh_after_a_page_stored_an_older_copy_is_announced() {
    let json = config(r#"{"name":"news","match":"/news/","strategy":"staleWhileRevalidate","maxAge":1000},"#, "");
    let mut s = Sim::new(&json);
    s.serve("/news/a", 1);
    s.get("/news/a");
    s.now += 2000.0;
    s.serve("/news/a", 2);
    assert_eq!(s.get("/news/a"), Some(1));
    assert_eq!(s.broadcasts.iter().filter(|b| b.contains("UPDATED")).count(), 1);
    // The origin rolled back; a page reloads the data past the cache and shows v1.
    s.serve("/news/a", 1);
    let op = s.start_fetch("/news/a", false, "reload").unwrap();
    s.settle();
    assert_eq!(s.ops[&op].answered_with, Some(1));
    assert_eq!(s.cached(&s.cn("news"), "/news/a").unwrap().version, 1);
    // The roll-forward: the refresh stores v2 over the v1 that page shows.
    s.now += 2000.0;
    s.serve("/news/a", 2);
    assert_eq!(s.get("/news/a"), Some(1));
    assert_eq!(s.cached(&s.cn("news"), "/news/a").unwrap().version, 2);
    assert_eq!(s.broadcasts.iter().filter(|b| b.contains("UPDATED")).count(), 2, "{:?}", s.broadcasts);
}

/// Many copies of the same news queued behind the first (every open tab hands on each
/// entry of its live feed; a page script repeating a message): once the first has
/// applied, each later one finds it applied and ends at once, which must not start the
/// next from inside its own end (one nested call per copy: the worker's stack overflows
/// and it traps).
#[test]
fn many_copies_of_the_same_news_end_without_nesting() {
    // A stack like a worker's (V8 gives a worker about 1 MB; the Rust stack in the
    // wasm's memory is 1 MB): run on a small one, so nesting by the copy shows.
    let t = std::thread::Builder::new()
        .stack_size(128 * 1024)
        .spawn(|| {
            let mut s = Sim::seed();
            s.visit("/promo/a");
            let msg = r#"{"type":"CACHE_INVALIDATION","urls":["/promo/a"],"timestamp":"1970-01-01T00:16:50.000Z"}"#;
            let ops: Vec<OpId> = (0..600).map(|_| s.e.message(read_json(msg), false, s.now)).collect();
            for op in &ops {
                s.state(*op);
            }
            s.settle();
            assert!(s.cached(&s.cn("promoPages"), "/promo/a").is_none());
            assert!(ops.iter().all(|op| s.ops[op].done), "every copy ended");
        })
        .unwrap();
    t.join().expect("no panic");
}

// ----- what GET_STATS counts ------------------------------------------------------------

/// A navigation no route takes goes through the worker only for the offline page or the
/// navigation preload, network only, never read from or stored in any cache: like a
/// lookup among the kept files that finds nothing, it is no miss of the precache. Counted
/// so, every `/account` or `/admin` page (which the README says to keep out of `match`)
/// read as a precache miss in GET_STATS and in the totals.
#[test]
fn navigations_no_route_takes_are_not_counted_as_precache_misses() {
    let mut s = offline_site();
    s.serve("/admin/x", 3);
    let before = s.stats();
    for _ in 0..3 {
        let op = s.start_fetch("/admin/x", true, "default").expect("through the worker (offline page)");
        s.settle();
        assert_eq!(s.ops[&op].answered, Some(Answer::Network(Tag::Net)));
    }
    s.offline = true;
    let op = s.start_fetch("/admin/x", true, "default").unwrap();
    s.settle();
    assert_eq!(s.ops[&op].answered_with, Some(7), "the offline page");
    let after = s.stats();
    for path in [&["routes", "precache", "misses"][..], &["misses"][..], &["routes", "precache", "hits"][..]] {
        assert_eq!(num(&after, path), num(&before, path), "{path:?}: the precache missed nothing");
    }
}

/// A ranged request answered from a stale copy is a stale copy served (`staleServed`), as
/// the same request without `Range` is, not a fresh hit; a ranged miss whose fetch fails
/// is a network error, as a plain miss's is.
#[test]
fn ranged_requests_are_counted_as_plain_ones_are() {
    let mut s = Sim::seed();
    s.serve("/media/clip.webp", 1);
    assert_eq!(s.get("/media/clip.webp"), Some(1));
    s.now += 8.0 * 86_400_000.0; // past the images route's maxAge (7 days)
    s.offline = true;
    let ranged = |s: &mut Sim, path: &str| {
        let op = s.start_request(path, Request { range: Some("bytes=0-9"), ..get_request("") }).unwrap();
        s.settle();
        s.ops[&op].answered.clone().unwrap()
    };
    assert!(matches!(ranged(&mut s, "/media/clip.webp"), Answer::Range { .. }));
    assert!(matches!(ranged(&mut s, "/media/other.webp"), Answer::Error { status: 503, .. }));
    let st = s.stats();
    assert_eq!(num(&st, &["routes", "images", "staleServed"]), 1.0, "the stale copy served");
    assert_eq!(num(&st, &["routes", "images", "hits"]), 0.0, "no fresh copy was served");
    assert_eq!(num(&st, &["routes", "images", "networkErrors"]), 1.0, "the ranged miss's fetch failed");
}

/// networkOnly's networkTimeout is a limit ("networkTimeout there yields a 504"): a GET
/// in a folder that holds content-hashed precached files (an Angular or webpack build puts
/// them at the root, beside `/graphql`) is looked up among the kept files after the timeout,
/// and when none is there it must still get its 504, not wait on the network for good.
#[test]
fn a_network_only_timeout_still_answers_504_when_no_kept_copy_is_found() {
    let json = r#"{"version":"v1","precache":["/",{"url":"/main.a1.js","revision":null}],"routes":[
        {"name":"api","match":"/graphql","strategy":"networkOnly","networkTimeout":3000}]}"#;
    let mut s = Sim::new(json);
    s.serve("/", 1);
    s.serve("/main.a1.js", 1);
    install_and_activate(&mut s);
    s.hanging = true;
    let op = s.start_fetch("/graphql?id=q1", false, "default").expect("routed");
    s.settle();
    s.advance(3000.0);
    s.settle();
    let answered = s.ops[&op].answered.clone();
    assert!(matches!(answered, Some(Answer::Error { status: 504, .. })), "at networkTimeout: {answered:?}");
}
