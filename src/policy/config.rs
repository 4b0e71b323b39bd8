//! `swcache.start(config)` validation. Runs once, at worker script evaluation; any
//! problem is a [`ConfigError`] naming the route and field, so the worker never
//! installs half-working.

use super::prelude::*;
use super::text::number_text;
use super::text::{cold, join};
use super::url;
use super::value::Value;
use super::CACHE_PREFIX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    CacheFirst,
    NetworkFirst,
    StaleWhileRevalidate,
    NetworkOnly,
    CacheOnly,
}

impl Strategy {
    pub const ALL: [(&'static str, Strategy); 5] = [
        ("cacheFirst", Strategy::CacheFirst),
        ("networkFirst", Strategy::NetworkFirst),
        ("staleWhileRevalidate", Strategy::StaleWhileRevalidate),
        ("networkOnly", Strategy::NetworkOnly),
        ("cacheOnly", Strategy::CacheOnly),
    ];

    pub fn parse(s: &str) -> Option<Strategy> {
        Self::ALL.iter().find(|(n, _)| *n == s).map(|(_, st)| *st)
    }

    /// Whether a request is answered from the cache when a copy is there.
    pub fn reads_cache_first(self) -> bool {
        matches!(self, Strategy::CacheFirst | Strategy::StaleWhileRevalidate | Strategy::CacheOnly)
    }

    /// Whether responses fetched under this strategy are written to the cache.
    pub fn stores(self) -> bool {
        !matches!(self, Strategy::NetworkOnly | Strategy::CacheOnly)
    }
}

/// How a route recognises a request.
#[derive(Clone, Debug, PartialEq)]
pub enum Matcher {
    /// A RegExp kept by the adapter (the browser's own engine), by index.
    RegExp(u32),
    /// A string prefix of the tested text.
    Prefix(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    pub name: String,
    pub matcher: Matcher,
    pub strategy: Strategy,
    /// Freshness lifetime; `None` = a stored copy never goes stale by age.
    pub max_age_ms: Option<f64>,
    pub max_entries: Option<u32>,
    pub network_timeout_ms: Option<u32>,
    pub cross_origin: bool,
    pub opaque: bool,
    /// `coldStart: 'router'`: while the worker is stopped, the browser's router serves
    /// this route's cached copies itself (Static Routing API).
    pub router: bool,
    /// `swcache-<name>-<identity hash>` (kept across versions while the route keeps
    /// its name, match, crossOrigin and opaque), or `swcache-<version>-<name>` with
    /// `keepRuntimeCaches: false`.
    pub cache_name: String,
}

/// `feed: {url, interval, strict: {maxStaleness, budget}}`.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedConfig {
    /// Same-origin path+search of the feed document.
    pub path: String,
    /// Navigations check the feed at most this often (ms).
    pub interval_ms: f64,
    /// Strict mode: (maxStaleness, budget) in ms.
    pub strict: Option<(f64, u32)>,
}

/// The precache: one cache for every version. Entries are keyed by URL and revision
/// (see [`super::precache`]), so a new version fetches only what changed and the old
/// version keeps serving its own entries until the new one activates.
pub const PRECACHE_CACHE: &str = "swcache-precache";

/// `offline: '/offline.html'` or `{page, image}`: what failed requests with nothing
/// cached are answered with (precached).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Offline {
    /// Index into `precache` of the page for navigations.
    pub page: Option<usize>,
    /// Index into `precache` of the placeholder for images.
    pub image: Option<usize>,
}

/// The cache holding the engine's own state (the feed cursor). Not versioned: it
/// describes the caches, which outlive no version but must not replay a feed.
pub const STATE_CACHE: &str = "swcache-state";

/// The keys in [`STATE_CACHE`]: the feed's cursor, the previous build's content-hashed
/// files the precache keeps ([`super::precache::retire`]), and the notices told to pages
/// lately ([`super::notices`]).
pub const STATE_KEY: &str = "/__swcache/state";
pub const KEPT_KEY: &str = "/__swcache/kept";
pub const NOTICES_KEY: &str = "/__swcache/notices";

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub version: String,
    /// Each precached URL, in the order given, deduplicated by URL.
    pub precache: Vec<super::precache::Entry>,
    pub routes: Vec<Route>,
    pub wait_for_clients: bool,
    /// `feed: {…}`: the invalidation feed this worker checks.
    pub feed: Option<FeedConfig>,
    pub offline: Offline,
    /// `navigationPreload: true`: navigations that go to the network first use the
    /// request the browser starts while the worker boots.
    pub navigation_preload: bool,
    /// The revision of the list's plain URLs (and of the offline files): `version`, with
    /// the hash of the list's revisions when it has any.
    pub plain: String,
}

impl Config {
    /// Whether `key` (a precache key) is the offline page's or the image placeholder's.
    pub fn is_offline_key(&self, key: &str) -> bool {
        [self.offline.page, self.offline.image]
            .into_iter()
            .flatten()
            .any(|i| self.precache.get(i).is_some_and(|e| e.key == key))
    }

    /// Whether precache entry `i` is revisioned as a plain URL (by [`Config::plain`]): its
    /// content is not named by its key, so an install fetches it whether stored or not (a
    /// copy a failed install of the same version stored may predate the deploy's end).
    pub fn is_plain(&self, i: usize) -> bool {
        self.precache
            .get(i)
            .is_some_and(|e| e.key == super::precache::Entry::new(e.path.clone(), Some(&self.plain)).key)
    }

    pub fn is_precached(&self, path_search: &str) -> bool {
        self.precached(path_search).is_some()
    }

    /// Whether `path_search`, which the list does not precache, may be a content-hashed
    /// file of the previous build that the precache kept: the list has content-hashed files
    /// (stored under their path) in the same folder.
    pub fn kept_may_hold(&self, path_search: &str) -> bool {
        fn folder(p: &str) -> &str {
            p.rsplit_once('/').map_or("", |(d, _)| d)
        }
        let here = folder(path_search);
        self.precache.iter().any(|e| e.key == e.path && folder(&e.path) == here)
    }

    /// The precache entry for a same-origin path+search.
    pub fn precached(&self, path_search: &str) -> Option<&super::precache::Entry> {
        self.precache.iter().find(|p| p.path == path_search)
    }

    /// Whether `cache_name` belongs to this engine but not to this version.
    pub fn is_obsolete_cache(&self, cache_name: &str) -> bool {
        cache_name.starts_with(CACHE_PREFIX) && !self.owns_cache(cache_name)
    }

    pub fn owns_cache(&self, cache_name: &str) -> bool {
        cache_name == PRECACHE_CACHE
            || cache_name == STATE_CACHE
            || self.routes.iter().any(|r| r.cache_name == cache_name)
    }
}

/// What is wrong with a config, and where.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigError {
    /// `routes[i]` and its name if it has a usable one; `None` for top-level fields.
    pub route: Option<(usize, Option<String>)>,
    pub field: String,
    pub problem: String,
}

impl ConfigError {
    /// The text a site owner sees: `swcache config: route 'pages' (routes[2]) field 'maxAge' …`.
    pub fn message(&self) -> String {
        let mut out = String::from("swcache config: ");
        match &self.route {
            Some((i, Some(name))) => out.push_str(&cat!("route '", name, "' (routes[", *i, "]) ")),
            Some((i, None)) => out.push_str(&cat!("routes[", *i, "] ")),
            None => {}
        }
        out.push_str(&cat!("field '", self.field, "' ", self.problem));
        out
    }
}

fn top(field: &str, problem: String) -> ConfigError {
    ConfigError { route: None, field: field.into(), problem }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Num(n) => number_text(*n),
        Value::Str(s) if s.len() <= 40 => cat!("'", s, "'"),
        other => other.kind().into(),
    }
}

const TOP_FIELDS: [&str; 8] =
    ["version", "precache", "routes", "waitForClients", "feed", "offline", "navigationPreload", "keepRuntimeCaches"];
const ROUTE_FIELDS: [&str; 9] =
    ["name", "match", "strategy", "maxAge", "maxEntries", "networkTimeout", "crossOrigin", "opaque", "coldStart"];
/// Largest accepted `maxEntries` / `networkTimeout`: beyond these a value is a mistake.
const MAX_ENTRIES_LIMIT: f64 = 1_000_000.0;
const TIMEOUT_LIMIT_MS: f64 = 600_000.0;
const MAX_PRECACHE: usize = 10_000;

/// `: did you mean 'x'?` for the known name closest to `got` (at most 2 edits, or a
/// third of its length), else nothing.
fn did_you_mean(got: &str, known: &[&str]) -> String {
    let distance = |a: &str, b: &str| -> usize {
        let (a, b): (Vec<char>, Vec<char>) =
            (a.to_ascii_lowercase().chars().collect(), b.to_ascii_lowercase().chars().collect());
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.iter().enumerate() {
            let mut cur = vec![i + 1; b.len() + 1];
            for (j, cb) in b.iter().enumerate() {
                cur[j + 1] = (prev[j] + usize::from(ca != cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
            }
            prev = cur;
        }
        prev[b.len()]
    };
    let best = known.iter().map(|k| (distance(got, k), *k)).min_by_key(|(d, _)| *d);
    match best {
        Some((d, k)) if k != got && d <= 2.max(got.len() / 3) => cat!(": did you mean '", k, "'?"),
        _ => String::new(),
    }
}

/// Routes that can never match because an earlier route takes every URL they would:
/// decidable when both match by string prefix (a RegExp is the browser's to run).
pub fn shadowed_routes(routes: &[Route]) -> Vec<String> {
    let mut out = Vec::new();
    for (j, later) in routes.iter().enumerate() {
        let Matcher::Prefix(pj) = &later.matcher else { continue };
        for (i, earlier) in routes[..j].iter().enumerate() {
            let Matcher::Prefix(pi) = &earlier.matcher else { continue };
            if pj.starts_with(pi.as_str()) && (earlier.cross_origin || !later.cross_origin) {
                out.push(cat!(
                    "swcache config: route '",
                    later.name,
                    "' (routes[",
                    j,
                    "]) can never match: route '",
                    earlier.name,
                    "' (routes[",
                    i,
                    "]) comes first and its prefix '",
                    pi,
                    "' takes every URL under '",
                    pj,
                    "' (the first match wins)"
                ));
                break;
            }
        }
    }
    out
}

/// Router routes whose prefix covers precached URLs: the worker answers those from the
/// precache, which the browser's router never reads (it looks in the route's cache only),
/// so while the worker is stopped they go to the network, and an offline cold visit fails.
/// Their warnings are pushed onto `out`.
pub fn router_precache_gaps(cfg: &Config, out: &mut Vec<String>) {
    for (i, r) in cfg.routes.iter().enumerate() {
        let (Matcher::Prefix(p), true) = (&r.matcher, r.router) else { continue };
        if let Some(e) = cfg.precache.iter().find(|e| e.path.starts_with(p.as_str())) {
            out.push(cat!(
                "swcache config: route '",
                r.name,
                "' (routes[",
                i,
                "]) has coldStart: 'router' over precached ",
                e.path,
                ": while the worker is stopped the browser reads the route's cache, not the precache, so it goes to the network (offline, it fails)"
            ));
        }
    }
}

/// `a + b + c` (without `concat`'s generic machinery on the start path).
fn join3(a: &str, b: &str, c: &str) -> String {
    let mut s = String::with_capacity(a.len() + b.len() + c.len() + 16);
    s.push_str(a);
    s.push_str(b);
    s.push_str(c);
    s
}

fn valid_token(s: &str, extra: &[u8]) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
}

/// Validates a config. `origin` is the worker's own origin; `resolve` turns a precache
/// entry into an absolute URL with the browser's parser (relative to the worker scope).
pub fn parse(v: &Value, origin: &str, resolve: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
    let Value::Obj(props) = v else {
        return Err(cold(|| top("config", cat!("must be an object, got ", v.kind()))));
    };
    if let Some((k, _)) = props.iter().find(|(k, _)| !TOP_FIELDS.contains(&k.as_str())) {
        return Err(cold(|| {
            top(
                k,
                cat!(
                    "is not a config field",
                    did_you_mean(k, &TOP_FIELDS),
                    " (expected one of ",
                    join(&TOP_FIELDS, ", "),
                    ")"
                ),
            )
        }));
    }
    let version = match v.get("version") {
        Some(Value::Str(s)) if valid_token(s, b"._-") => s.clone(),
        Some(other) => {
            return Err(cold(|| {
                top("version", cat!("must be 1-64 letters, digits, '.', '_' or '-', got ", describe(other)))
            }))
        }
        None => return Err(cold(|| top("version", "is required (a string such as 'v1')".into()))),
    };
    let wait_for_clients = match v.get("waitForClients") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(cold(|| top("waitForClients", cat!("must be a boolean, got ", describe(other))))),
    };
    let flag = |field: &str, default: bool| -> Result<bool, ConfigError> {
        match v.get(field) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(cold(|| top(field, cat!("must be a boolean, got ", describe(other))))),
        }
    };
    let navigation_preload = flag("navigationPreload", false)?;
    let keep_runtime = flag("keepRuntimeCaches", true)?;
    // A plain URL ('/') is revisioned by the version and, when the list has revisioned
    // entries, by them too: a new build changes one of them, so it fetches '/' again (the
    // old one asks for the old build's assets) even where `version` stayed the same.
    let mut plain = version.clone();
    if let Some(Value::Arr(items)) = v.get("precache") {
        let mut build = super::precache::Fnv::default();
        let mut revisioned = false;
        for item in items {
            if let Some(Value::Str(u)) = item.get("url") {
                revisioned = true;
                build.write(u.as_bytes());
                build.write(if let Some(Value::Str(r)) = item.get("revision") { r } else { "\0" }.as_bytes());
            }
        }
        if revisioned {
            plain.push('.');
            build.push_hex(&mut plain);
        }
    }
    let mut precache: Vec<super::precache::Entry> = Vec::new();
    match v.get("precache") {
        None => {}
        Some(Value::Arr(items)) if items.len() <= MAX_PRECACHE => {
            for (i, item) in items.iter().enumerate() {
                let field = || cat!("precache[", i, "]");
                let (u, revision) = match item {
                    Value::Str(s) => (s, Some(plain.as_str())),
                    Value::Obj(props) => precache_object(item, props, &field)?,
                    _ => {
                        return Err(cold(|| {
                            top(&field(), cat!("must be a URL string or {url, revision}, got ", describe(item)))
                        }))
                    }
                };
                let path = same_origin(u, &field(), origin, resolve)?;
                if !precache.iter().any(|p| p.path == path) {
                    precache.push(super::precache::Entry::new(path, revision));
                }
            }
        }
        Some(Value::Arr(_)) => return Err(cold(|| top("precache", cat!("has more than ", MAX_PRECACHE, " URLs")))),
        Some(other) => return Err(cold(|| top("precache", cat!("must be an array of URLs, got ", describe(other))))),
    }
    let offline = match v.get("offline") {
        None => Offline::default(),
        some => parse_offline(some, &plain, &mut precache, origin, resolve)?,
    };
    let routes_v = match v.get("routes") {
        None => &[][..],
        Some(Value::Arr(items)) => &items[..],
        Some(other) => return Err(cold(|| top("routes", cat!("must be an array, got ", describe(other))))),
    };
    let mut routes: Vec<Route> = Vec::with_capacity(routes_v.len());
    for (i, rv) in routes_v.iter().enumerate() {
        let mut route = parse_route(i, rv, &version, keep_runtime)?;
        // A same-origin prefix compares with pathname+search as the browser writes them:
        // read as a URL (relative to the worker script, as precache URLs are), through the
        // browser's parser (`/café/` is `/caf%C3%A9/`).
        // Another origin's URL could never match a route without crossOrigin.
        // A crossOrigin route's prefix written as a whole URL is read the same way (its host
        // in lower case, '/' after a bare origin), as the browser writes the URLs it is
        // tested on; any other (`'https:'`, `'/api/'`) is compared as written.
        if let Matcher::Prefix(p) = &route.matcher {
            // (`contains("://")` would link core's two-way string search: 5.8 KB gzip.)
            let read_as_url = !route.cross_origin || p.as_bytes().windows(3).any(|w| w == b"://");
            if let Some(href) = read_as_url.then(|| resolve(p)).flatten() {
                match url::same_origin_path(&href, origin) {
                    Some(path) => route.matcher = Matcher::Prefix(path.into()),
                    None if route.cross_origin => {
                        let whole = href.split_once('#').map_or(href.as_str(), |(h, _)| h);
                        route.matcher = Matcher::Prefix(whole.into());
                    }
                    None => {
                        return Err(cold(|| ConfigError {
                            route: Some((i, Some(route.name.clone()))),
                            field: "match".into(),
                            problem: cat!(
                                "is another origin's URL, ",
                                describe(&Value::Str(p.clone())),
                                ": a route sees other origins only with crossOrigin: true"
                            ),
                        }))
                    }
                }
            }
        }
        if routes.iter().any(|r| r.name == route.name) {
            return Err(cold(|| ConfigError {
                route: Some((i, Some(route.name))),
                field: "name".into(),
                problem: "is used by an earlier route; names must be unique".into(),
            }));
        }
        routes.push(route);
    }
    let feed = match v.get("feed") {
        None => None,
        Some(f) => Some(parse_feed(f, origin, resolve)?),
    };
    if navigation_preload
        && !routes.iter().any(|r| matches!(r.strategy, Strategy::NetworkFirst | Strategy::NetworkOnly))
        && offline.page.is_none()
    {
        return Err(cold(|| {
            top("navigationPreload", String::from("only helps navigations that go to the network first: add a networkFirst or networkOnly route (or an offline page)"))
        }));
    }
    Ok(Config { version, precache, routes, wait_for_clients, feed, offline, navigation_preload, plain })
}

/// The same-origin path+search of a URL in the config.
fn same_origin(
    u: &str,
    field: &str,
    origin: &str,
    resolve: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ConfigError> {
    let shown = || describe(&Value::Str(u.into()));
    let href = resolve(u).ok_or_else(|| cold(|| top(field, cat!("is not a valid URL: ", shown()))))?;
    url::same_origin_path(&href, origin)
        .map(String::from)
        .ok_or_else(|| cold(|| top(field, cat!("must be same-origin, got ", shown()))))
}

/// `{url, revision}`: `revision` a string, or `null` for a URL that names its content.
#[inline(never)]
fn precache_object<'a>(
    item: &'a Value,
    props: &'a [(String, Value)],
    field: &dyn Fn() -> String,
) -> Result<(&'a String, Option<&'a str>), ConfigError> {
    if let Some((k, _)) = props.iter().find(|(k, _)| k != "url" && k != "revision") {
        return Err(cold(|| {
            top(&cat!(field(), ".", k), String::from("is not a precache entry field (expected url, revision)"))
        }));
    }
    let Some(Value::Str(u)) = item.get("url") else {
        return Err(cold(|| top(&cat!(field(), ".url"), String::from("is required: the URL string to precache"))));
    };
    let revision = match item.get("revision") {
        Some(Value::Null) => None,
        Some(Value::Str(r)) if valid_token(r, b"._-") => Some(r.as_str()),
        other => {
            return Err(cold(|| {
                top(
                &cat!(field(), ".revision"),
                cat!(
                    "must be 1-64 letters, digits, '.', '_' or '-' (a content hash), or null for a URL that names its content, got ",
                    other.map_or_else(|| String::from("nothing"), describe)
                ),
            )
            }))
        }
    };
    Ok((u, revision))
}

/// `offline`: a page URL, or `{page, image}`; each is precached (revisioned as a plain URL
/// of the list is, `plain`, unless the list names it with its own revision).
#[inline(never)]
fn parse_offline(
    v: Option<&Value>,
    plain: &str,
    precache: &mut Vec<super::precache::Entry>,
    origin: &str,
    resolve: &dyn Fn(&str) -> Option<String>,
) -> Result<Offline, ConfigError> {
    let mut add = |u: &str, field: &str| -> Result<usize, ConfigError> {
        let path = same_origin(u, field, origin, resolve)?;
        Ok(match precache.iter().position(|p| p.path == path) {
            Some(i) => i,
            None => {
                precache.push(super::precache::Entry::new(path, Some(plain)));
                precache.len() - 1
            }
        })
    };
    Ok(match v {
        None => Offline::default(),
        Some(Value::Str(u)) => Offline { page: Some(add(u, "offline")?), image: None },
        Some(o @ Value::Obj(props)) => {
            if let Some((k, _)) = props.iter().find(|(k, _)| k != "page" && k != "image") {
                return Err(cold(|| {
                    top(&cat!("offline.", k), String::from("is not an offline field (expected page, image)"))
                }));
            }
            let mut one = |key: &str| -> Result<Option<usize>, ConfigError> {
                let field = cat!("offline.", key);
                match o.get(key) {
                    None => Ok(None),
                    Some(Value::Str(u)) => add(u, &field).map(Some),
                    Some(other) => Err(cold(|| top(&field, cat!("must be a URL string, got ", describe(other))))),
                }
            };
            let page = one("page")?;
            Offline { page, image: one("image")? }
        }
        Some(other) => {
            return Err(cold(|| {
                top(
                    "offline",
                    cat!("must be a page URL such as '/offline.html' or {page, image}, got ", describe(other)),
                )
            }))
        }
    })
}

#[inline(never)]
fn parse_feed(f: &Value, origin: &str, resolve: &dyn Fn(&str) -> Option<String>) -> Result<FeedConfig, ConfigError> {
    let Value::Obj(props) = f else {
        return Err(cold(|| {
            top("feed", cat!("must be an object such as {url: '/swcache-feed.json'}, got ", f.kind()))
        }));
    };
    if let Some((k, _)) = props.iter().find(|(k, _)| !["url", "interval", "strict"].contains(&k.as_str())) {
        return Err(cold(|| {
            top(&cat!("feed.", k), String::from("is not a feed field (expected one of url, interval, strict)"))
        }));
    }
    let path = match f.get("url") {
        Some(Value::Str(s)) => same_origin(s, "feed.url", origin, resolve)?,
        Some(other) => return Err(cold(|| top("feed.url", cat!("must be a URL string, got ", describe(other))))),
        None => {
            return Err(cold(|| {
                top(
                    "feed.url",
                    String::from("is required (where the site publishes its feed, e.g. '/swcache-feed.json')"),
                )
            }))
        }
    };
    let ms = |field: &str, v: Option<&Value>, default: f64, min: f64, max: f64| -> Result<f64, ConfigError> {
        match v {
            None => Ok(default),
            Some(Value::Num(n)) if n.is_finite() && *n >= min && *n <= max => Ok(*n),
            Some(other) => Err(cold(|| {
                top(
                    field,
                    cat!(
                        "must be a number of milliseconds from ",
                        number_text(min),
                        " to ",
                        number_text(max),
                        ", got ",
                        describe(other)
                    ),
                )
            })),
        }
    };
    let interval_ms = ms("feed.interval", f.get("interval"), 60_000.0, 1000.0, 864e5)?;
    let strict = match f.get("strict") {
        None | Some(Value::Bool(false)) => None,
        Some(st @ Value::Obj(sp)) => {
            if let Some((k, _)) = sp.iter().find(|(k, _)| !["maxStaleness", "budget"].contains(&k.as_str())) {
                return Err(cold(|| {
                    top(
                        &cat!("feed.strict.", k),
                        String::from("is not a strict-mode field (expected maxStaleness, budget)"),
                    )
                }));
            }
            let stale = ms("feed.strict.maxStaleness", st.get("maxStaleness"), 30_000.0, 0.0, 864e5)?;
            // (At most 10 s: a navigation never waits longer for the feed.)
            let budget = ms("feed.strict.budget", st.get("budget"), 500.0, 1.0, 10_000.0)?;
            Some((stale, budget as u32))
        }
        Some(other) => {
            return Err(cold(|| {
                top("feed.strict", cat!("must be an object {maxStaleness, budget} or false, got ", describe(other)))
            }))
        }
    };
    Ok(FeedConfig { path, interval_ms, strict })
}

fn parse_route(i: usize, rv: &Value, version: &str, keep: bool) -> Result<Route, ConfigError> {
    let name = match rv.get("name") {
        Some(Value::Str(s)) if valid_token(s, b"_-") && s != "precache" => Some(s.clone()),
        _ => None,
    };
    let err =
        |field: &str, problem: String| ConfigError { route: Some((i, name.clone())), field: field.into(), problem };
    let Value::Obj(props) = rv else {
        return Err(cold(|| err("route", cat!("must be an object, got ", rv.kind()))));
    };
    if let Some((k, v)) = props.iter().find(|(k, _)| !ROUTE_FIELDS.contains(&k.as_str())) {
        // Workbox's `networkTimeoutSeconds`, `maxAgeSeconds`: the field, in milliseconds (the
        // bare name alone would make 3 seconds 3 ms).
        if let Some(ms_field) = k.strip_suffix("Seconds").filter(|f| ROUTE_FIELDS.contains(f)) {
            return Err(cold(|| {
                let example = match v {
                    Value::Num(n) if n.is_finite() && *n >= 0.0 && *n < 1e12 => number_text(n * 1000.0),
                    _ => String::from("3000"),
                };
                err(
                    k,
                    cat!("is not a route field: write ", ms_field, " in milliseconds (", ms_field, ": ", example, ")"),
                )
            }));
        }
        return Err(cold(|| {
            err(
                k,
                cat!(
                    "is not a route field",
                    did_you_mean(k, &ROUTE_FIELDS),
                    " (expected one of ",
                    join(&ROUTE_FIELDS, ", "),
                    ")"
                ),
            )
        }));
    }
    let Some(name_s) = name.clone() else {
        return Err(cold(|| match rv.get("name") {
            None => err("name", "is required (letters, digits, '_' or '-')".into()),
            Some(other) => {
                err("name", cat!("must be 1-64 letters, digits, '_' or '-' and not 'precache', got ", describe(other)))
            }
        }));
    };
    let (matcher, written) = match rv.get("match") {
        Some(Value::RegExp(idx, source)) => (Matcher::RegExp(*idx), source.as_str()),
        Some(Value::Str(s)) if !s.is_empty() => (Matcher::Prefix(s.clone()), s.as_str()),
        Some(other) => {
            return Err(cold(|| {
                err("match", cat!("must be a RegExp or a non-empty path prefix, got ", describe(other)))
            }))
        }
        None => return Err(cold(|| err("match", "is required (a RegExp or a path prefix string)".into()))),
    };
    let strategy = match rv.get("strategy") {
        Some(Value::Str(s)) => Strategy::parse(s).ok_or_else(|| {
            cold(|| {
                let names: Vec<&str> = Strategy::ALL.iter().map(|(n, _)| *n).collect();
                err(
                    "strategy",
                    cat!(
                        "must be one of ",
                        join(&names, ", "),
                        ", got ",
                        describe(&Value::Str(s.clone())),
                        did_you_mean(s, &names)
                    ),
                )
            })
        })?,
        Some(other) => return Err(cold(|| err("strategy", cat!("must be a strategy name, got ", describe(other))))),
        None => return Err(cold(|| err("strategy", "is required".into()))),
    };
    let num = |field: &str, min_exclusive: bool, max: f64, integer: bool| -> Result<Option<f64>, ConfigError> {
        match rv.get(field) {
            None => Ok(None),
            Some(Value::Num(n)) => {
                let low_ok = if min_exclusive { *n > 0.0 } else { *n >= 0.0 };
                if !n.is_finite() || !low_ok || *n > max || (integer && super::text::trunc(*n) != *n) {
                    // (The message is built out of line, with the rest of the error path.)
                    Err(cold(|| {
                        let what = match (integer, min_exclusive) {
                            (true, _) => "a whole number from 1",
                            (false, true) => "a number of milliseconds above 0",
                            (false, false) => "a non-negative number of milliseconds",
                        };
                        let upper = if max.is_finite() { cat!(" up to ", number_text(max)) } else { String::new() };
                        // (`Infinity` for "never stale": that is what no maxAge means.)
                        let instead = if *n == f64::INFINITY && !max.is_finite() {
                            cat!(": leave ", field, " out for copies that never go stale by age")
                        } else {
                            String::new()
                        };
                        err(field, cat!("must be ", what, upper, ", got ", describe(&Value::Num(*n)), instead))
                    }))
                } else {
                    Ok(Some(*n))
                }
            }
            Some(other) => Err(cold(|| err(field, cat!("must be a number, got ", describe(other))))),
        }
    };
    let max_age_ms = num("maxAge", false, f64::INFINITY, false)?;
    let max_entries = num("maxEntries", true, MAX_ENTRIES_LIMIT, true)?.map(|n| n as u32);
    let network_timeout_ms = num("networkTimeout", true, TIMEOUT_LIMIT_MS, false)?.map(|n| super::text::ceil(n) as u32);
    if network_timeout_ms.is_some() && !matches!(strategy, Strategy::NetworkFirst | Strategy::NetworkOnly) {
        return Err(cold(|| err("networkTimeout", "only applies to networkFirst and networkOnly routes".into())));
    }
    if !strategy.stores() && (max_entries.is_some()) {
        return Err(cold(|| {
            err("maxEntries", "does not apply to a route that stores nothing (networkOnly, cacheOnly)".into())
        }));
    }
    let flag = |field: &str| -> Result<bool, ConfigError> {
        match rv.get(field) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(cold(|| err(field, cat!("must be a boolean, got ", describe(other))))),
        }
    };
    let cross_origin = flag("crossOrigin")?;
    let opaque = flag("opaque")?;
    if opaque && !cross_origin {
        return Err(cold(|| err("opaque", "needs crossOrigin: true (only cross-origin responses are opaque)".into())));
    }
    let router = match rv.get("coldStart") {
        None => false,
        Some(Value::Str(s)) if s == "worker" => false,
        Some(Value::Str(s)) if s == "router" => true,
        Some(other) => {
            return Err(cold(|| err("coldStart", cat!("must be 'router' or 'worker', got ", describe(other)))))
        }
    };
    if router {
        if !matches!(strategy, Strategy::CacheFirst | Strategy::StaleWhileRevalidate) {
            return Err(cold(|| {
                err("coldStart", "'router' serves cold hits from the route's own cache, so it needs cacheFirst or staleWhileRevalidate (a cacheOnly route stores nothing there)".into())
            }));
        }
        if cross_origin {
            return Err(cold(|| err("coldStart", "'router' only serves same-origin requests".into())));
        }
        match &matcher {
            Matcher::Prefix(p) if p.starts_with('/') && !p.contains('?') && !p.contains('#') => {}
            _ => {
                return Err(cold(|| {
                    err(
                    "coldStart",
                    "'router' needs 'match' to be a path prefix string such as '/promo/' (the browser's router cannot run a RegExp)".into(),
                )
                }))
            }
        }
    }
    let cache_name = if keep {
        // What decides which responses the cache holds: while these stay, its entries
        // stay valid across versions.
        let mut h = super::precache::Fnv::default();
        h.write(written.as_bytes());
        h.write(&[u8::from(cross_origin), u8::from(opaque), u8::from(matches!(matcher, Matcher::RegExp(_)))]);
        let mut n = join3(CACHE_PREFIX, &name_s, "-");
        h.push_hex(&mut n);
        n
    } else {
        join3(CACHE_PREFIX, version, "-") + &name_s
    };
    Ok(Route {
        name: name_s,
        matcher,
        strategy,
        max_age_ms,
        max_entries,
        network_timeout_ms,
        cross_origin,
        opaque,
        router,
        cache_name,
    })
}

impl Route {
    /// A cache-first route matching a path prefix, with no limits (the built-in precache
    /// route, and tests).
    pub fn cache_first(name: &str, prefix: &str, cache_name: String) -> Route {
        Route {
            name: name.into(),
            matcher: Matcher::Prefix(prefix.into()),
            strategy: Strategy::CacheFirst,
            max_age_ms: None,
            max_entries: None,
            network_timeout_ms: None,
            cross_origin: false,
            opaque: false,
            router: false,
            cache_name,
        }
    }

    /// The URLPattern pathname the browser's router matches for a `coldStart: 'router'`
    /// route: its prefix, with URLPattern's special characters escaped, then `*`.
    pub fn router_pathname(&self) -> Option<String> {
        let Matcher::Prefix(p) = &self.matcher else { return None };
        if !self.router {
            return None;
        }
        let mut out = String::new();
        for c in p.chars() {
            if matches!(c, ':' | '*' | '(' | ')' | '{' | '}' | '?' | '+' | '\\') {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('*');
        Some(out)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const ORIGIN: &str = "http://localhost:8080";

    /// The browser's URL parser, for what the tests give it: a root path on ORIGIN or an
    /// absolute URL, with the bytes a path's percent-encode set holds encoded.
    pub(crate) fn resolve(s: &str) -> Option<String> {
        let mut encoded = String::with_capacity(s.len());
        for b in s.bytes() {
            match b {
                b'!'..=b'~' if !matches!(b, b'"' | b'<' | b'>' | b'`' | b'{' | b'}') => encoded.push(char::from(b)),
                _ => encoded.push_str(&format!("%{b:02X}")),
            }
        }
        if s.starts_with('/') {
            Some(String::from(ORIGIN) + &encoded)
        } else if s.contains("://") {
            Some(encoded)
        } else {
            None
        }
    }

    fn route(pairs: Vec<(&str, Value)>) -> Value {
        Value::Obj(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    /// The reference site's config: images, componentData, promoPages (in that order).
    pub(crate) fn seed_config() -> Value {
        Value::obj([
            ("version", Value::str("v1")),
            ("precache", Value::Arr(vec![Value::str("/"), Value::str("/favicon.ico"), Value::str("/robots.txt")])),
            (
                "routes",
                Value::Arr(vec![
                    route(vec![
                        ("name", Value::str("images")),
                        ("match", Value::RegExp(0, String::new())),
                        ("strategy", Value::str("cacheFirst")),
                        ("maxAge", Value::Num(7.0 * 864e5)),
                        ("maxEntries", Value::Num(200.0)),
                    ]),
                    route(vec![
                        ("name", Value::str("componentData")),
                        ("match", Value::RegExp(1, String::new())),
                        ("strategy", Value::str("networkFirst")),
                        ("networkTimeout", Value::Num(3000.0)),
                        ("maxAge", Value::Num(5.0 * 60e3)),
                        ("maxEntries", Value::Num(100.0)),
                    ]),
                    route(vec![
                        ("name", Value::str("promoPages")),
                        ("match", Value::RegExp(2, String::new())),
                        ("strategy", Value::str("cacheFirst")),
                        ("maxAge", Value::Num(864e5)),
                        ("maxEntries", Value::Num(50.0)),
                    ]),
                ]),
            ),
        ])
    }

    pub(crate) fn parse_ok(v: &Value) -> Config {
        parse(v, ORIGIN, &resolve).unwrap()
    }

    fn parse_err(v: &Value) -> String {
        parse(v, ORIGIN, &resolve).unwrap_err().message()
    }

    #[test]
    fn a_same_origin_prefix_is_read_as_the_browser_writes_paths() {
        let with = |m: &str| with_route_field(2, "match", Some(Value::str(m)));
        let c = parse_ok(&with("/café/summer sale/"));
        let href = format!("{ORIGIN}/caf%C3%A9/summer%20sale/a");
        let facts = crate::policy::route::RequestFacts { is_get: true, href: &href, has_range: false };
        let selected = crate::policy::route::select(&c, ORIGIN, &facts, |_, _| false);
        assert_eq!(
            selected,
            Some(crate::policy::route::Selection::Route(2)),
            "the route takes the URL the browser makes"
        );
        assert_eq!(
            parse_ok(&with("/caf%C3%A9/")).routes[2].matcher,
            Matcher::Prefix("/caf%C3%A9/".into()),
            "kept as encoded"
        );
        // A URL of this origin is its path (a relative one resolves against the worker
        // script's URL in the browser).
        assert_eq!(
            parse_ok(&with("http://localhost:8080/promo/")).routes[2].matcher,
            Matcher::Prefix("/promo/".into())
        );
    }

    /// Seed config with one field of route `i` replaced (or removed with `None`).
    fn with_route_field(i: usize, field: &str, val: Option<Value>) -> Value {
        let mut v = seed_config();
        let Value::Obj(top) = &mut v else { unreachable!() };
        let Value::Arr(routes) = &mut top.iter_mut().find(|(k, _)| k == "routes").unwrap().1 else { unreachable!() };
        let Value::Obj(props) = &mut routes[i] else { unreachable!() };
        props.retain(|(k, _)| k != field);
        if let Some(val) = val {
            props.push((field.to_string(), val));
        }
        v
    }

    #[test]
    fn seed_config_parses() {
        let c = parse_ok(&seed_config());
        assert_eq!(c.version, "v1");
        let paths: Vec<&str> = c.precache.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["/", "/favicon.ico", "/robots.txt"]);
        assert_eq!(c.precache[0].key, "/?__swcache_rev=v1", "a plain URL is revisioned by the version");
        let names: Vec<&str> = c.routes.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["images", "componentData", "promoPages"]);
        assert_eq!(c.routes[1].strategy, Strategy::NetworkFirst);
        assert_eq!(c.routes[1].network_timeout_ms, Some(3000));
        assert!(
            c.routes[0].cache_name.starts_with("swcache-images-") && c.routes[0].cache_name.len() == 23,
            "{}",
            c.routes[0].cache_name
        );
        assert!(!c.wait_for_clients);
    }

    #[test]
    fn errors_name_route_and_field() {
        let cases: Vec<(Value, &str)> = vec![
            (
                with_route_field(0, "strategy", Some(Value::str("fastest"))),
                "route 'images' (routes[0]) field 'strategy' must be one of",
            ),
            (with_route_field(2, "match", None), "route 'promoPages' (routes[2]) field 'match' is required"),
            (
                with_route_field(1, "maxAge", Some(Value::Num(-1.0))),
                "route 'componentData' (routes[1]) field 'maxAge' must be a non-negative",
            ),
            (with_route_field(0, "maxAge", Some(Value::str("7d"))), "field 'maxAge' must be a number, got '7d'"),
            (with_route_field(0, "maxEntries", Some(Value::Num(0.0))), "field 'maxEntries' must be a whole number"),
            (with_route_field(0, "maxEntries", Some(Value::Num(2.5))), "field 'maxEntries' must be a whole number"),
            (with_route_field(0, "maxAge", Some(Value::Num(f64::NAN))), "field 'maxAge'"),
            (with_route_field(0, "networkTimeout", Some(Value::Num(10.0))), "'networkTimeout' only applies"),
            (
                with_route_field(1, "networkTimeout", Some(Value::Num(0.0))),
                "'networkTimeout' must be a number of milliseconds above 0",
            ),
            (
                with_route_field(0, "maxEntires", Some(Value::Num(3.0))),
                "field 'maxEntires' is not a route field: did you mean 'maxEntries'?",
            ),
            (
                with_route_field(0, "strategy", Some(Value::str("cacheFirts"))),
                "got 'cacheFirts': did you mean 'cacheFirst'?",
            ),
            // Workbox's class names, written as swcache strategies.
            (
                with_route_field(0, "strategy", Some(Value::str("CacheFirst"))),
                "got 'CacheFirst': did you mean 'cacheFirst'?",
            ),
            (
                with_route_field(0, "MaxEntries", Some(Value::Num(3.0))),
                "field 'MaxEntries' is not a route field: did you mean 'maxEntries'?",
            ),
            (with_route_field(0, "name", None), "routes[0] field 'name' is required"),
            (
                with_route_field(0, "name", Some(Value::str("promoPages"))),
                "route 'promoPages' (routes[2]) field 'name' is used by an earlier route",
            ),
            (with_route_field(0, "name", Some(Value::str("has space"))), "routes[0] field 'name' must be"),
            (with_route_field(0, "name", Some(Value::str("precache"))), "routes[0] field 'name' must be"),
            (with_route_field(0, "match", Some(Value::Num(3.0))), "field 'match' must be a RegExp"),
            (with_route_field(0, "crossOrigin", Some(Value::str("yes"))), "field 'crossOrigin' must be a boolean"),
            (with_route_field(0, "opaque", Some(Value::Bool(true))), "field 'opaque' needs crossOrigin"),
        ];
        for (v, want) in cases {
            let got = parse_err(&v);
            assert!(got.contains(want), "got {got:?}, want it to contain {want:?}");
            assert!(got.starts_with("swcache config: "));
        }
    }

    #[test]
    fn cold_start_router_needs_a_cache_reading_prefix_route() {
        let ok = with_route_field(2, "match", Some(Value::str("/promo/")));
        let mut ok = ok;
        if let Value::Obj(props) = &mut ok {
            if let Some((_, Value::Arr(routes))) = props.iter_mut().find(|(k, _)| k == "routes") {
                if let Value::Obj(r) = &mut routes[2] {
                    r.push(("coldStart".into(), Value::str("router")));
                }
            }
        }
        let c = parse_ok(&ok);
        assert!(c.routes[2].router);
        assert_eq!(c.routes[2].router_pathname().as_deref(), Some("/promo/*"));
        assert_eq!(c.routes[0].router_pathname(), None);
        let regexp = with_route_field(2, "coldStart", Some(Value::str("router")));
        assert!(parse_err(&regexp)
            .contains("route 'promoPages' (routes[2]) field 'coldStart' 'router' needs 'match' to be a path prefix"));
        let nf = with_route_field(1, "coldStart", Some(Value::str("router")));
        assert!(parse_err(&nf).contains("field 'coldStart' 'router' serves cold hits from the route's own cache"));
        let bad = with_route_field(1, "coldStart", Some(Value::str("fast")));
        assert!(parse_err(&bad).contains("field 'coldStart' must be 'router' or 'worker', got 'fast'"));
        let special = Route { matcher: Matcher::Prefix("/a:b(c)*".into()), ..c.routes[2].clone() };
        assert_eq!(special.router_pathname().as_deref(), Some("/a\\:b\\(c\\)\\**"));
    }

    /// `maxAge: Infinity` (never stale, as the page module's hydration types take it) is
    /// refused: the message says what to write instead.
    #[test]
    fn max_age_infinity_says_to_leave_max_age_out() {
        let e = parse_err(&with_route_field(0, "maxAge", Some(Value::Num(f64::INFINITY))));
        assert!(e.contains("field 'maxAge'") && e.contains("leave maxAge out"), "{e}");
    }

    /// Workbox's `networkTimeoutSeconds: 3` was answered "did you mean 'networkTimeout'?",
    /// and the renamed `networkTimeout: 3` is a 3 ms timeout (every networkFirst request
    /// then answers from the cache). The message gives the field in milliseconds.
    #[test]
    fn workbox_seconds_fields_are_answered_in_milliseconds() {
        let e = parse_err(&with_route_field(1, "networkTimeoutSeconds", Some(Value::Num(3.0))));
        assert!(e.contains("field 'networkTimeoutSeconds'") && e.contains("networkTimeout: 3000"), "{e}");
        let e = parse_err(&with_route_field(0, "maxAgeSeconds", Some(Value::Num(3600.0))));
        assert!(e.contains("field 'maxAgeSeconds'") && e.contains("maxAge: 3600000"), "{e}");
    }

    /// A cacheOnly route never stores (its cache only ever misses, then the precache
    /// answers): given to the browser's router, every cold request of its prefix went to
    /// the network instead, past the precached copy, so an offline cold visit failed.
    #[test]
    fn cold_start_router_is_refused_on_a_cache_only_route() {
        let mut v = with_route_field(2, "match", Some(Value::str("/promo/")));
        if let Value::Obj(props) = &mut v {
            if let Some((_, Value::Arr(routes))) = props.iter_mut().find(|(k, _)| k == "routes") {
                if let Value::Obj(r) = &mut routes[2] {
                    r.retain(|(k, _)| k != "maxEntries" && k != "strategy");
                    r.push(("strategy".into(), Value::str("cacheOnly")));
                    r.push(("coldStart".into(), Value::str("router")));
                }
            }
        }
        let e = parse(&v, ORIGIN, &resolve).map(|_| ()).expect_err("a router rule that can never hit was accepted");
        assert!(e.message().contains("route 'promoPages' (routes[2]) field 'coldStart'"), "{}", e.message());
    }

    #[test]
    fn routes_an_earlier_prefix_swallows_are_reported() {
        let r = |name: &str, p: &str| Route::cache_first(name, p, String::new());
        let w = shadowed_routes(&[r("pages", "/"), r("images", "/img/"), r("other", "/x")]);
        assert_eq!(w.len(), 2);
        assert!(
            w[0].contains("route 'images' (routes[1]) can never match: route 'pages' (routes[0]) comes first"),
            "{}",
            w[0]
        );
        assert!(shadowed_routes(&[r("images", "/img/"), r("pages", "/")]).is_empty(), "the working order");
        assert_eq!(did_you_mean("netwrkFirst", &["cacheFirst", "networkFirst"]), ": did you mean 'networkFirst'?");
        assert_eq!(did_you_mean("fastest", &["cacheFirst", "networkFirst"]), "");
    }

    #[test]
    fn duplicate_names_rejected_with_later_index() {
        let v = with_route_field(2, "name", Some(Value::str("images")));
        assert!(parse_err(&v).contains("route 'images' (routes[2]) field 'name' is used"));
    }

    #[test]
    fn top_level_errors() {
        assert!(parse_err(&Value::Null).contains("field 'config' must be an object, got null"));
        assert!(parse_err(&Value::obj([])).contains("field 'version' is required"));
        assert!(parse_err(&Value::obj([("version", Value::str("v 1"))])).contains("field 'version' must be"));
        assert!(parse_err(&Value::obj([("version", Value::str("v1")), ("rotues", Value::Arr(vec![]))]))
            .contains("field 'rotues' is not a config field"));
        assert!(parse_err(&Value::obj([("version", Value::str("v1")), ("routes", Value::str("x"))]))
            .contains("field 'routes' must be an array"));
        assert!(parse_err(&Value::obj([
            ("version", Value::str("v1")),
            ("precache", Value::Arr(vec![Value::Num(1.0)]))
        ]))
        .contains("field 'precache[0]' must be a URL string"));
        assert!(parse_err(&Value::obj([
            ("version", Value::str("v1")),
            ("precache", Value::Arr(vec![Value::str("https://cdn.example.com/x.js")]))
        ]))
        .contains("field 'precache[0]' must be same-origin"));
        assert!(parse_err(&Value::obj([("version", Value::str("v1")), ("waitForClients", Value::Num(1.0))]))
            .contains("'waitForClients' must be a boolean"));
    }

    #[test]
    fn precache_is_normalised_and_deduplicated() {
        let c = parse_ok(&Value::obj([
            ("version", Value::str("v2")),
            (
                "precache",
                Value::Arr(vec![Value::str("/a?x=1"), Value::str("http://localhost:8080/a?x=1"), Value::str("/b")]),
            ),
        ]));
        let keys: Vec<&str> = c.precache.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["/a?x=1&__swcache_rev=v2", "/b?__swcache_rev=v2"]);
        assert!(c.is_precached("/b"));
        assert!(!c.is_precached("/a"));
    }

    /// A plain URL ('/') is fetched again by a new build though `version` stays: its key
    /// follows the revisioned entries (a returning visitor otherwise kept the first build's
    /// '/', which asks for assets the new worker's activate deletes).
    #[test]
    fn a_plain_url_is_revisioned_by_the_version_and_the_build() {
        let build = |about: &str, asset: &str| {
            parse_ok(&Value::obj([
                ("version", Value::str("v1")),
                (
                    "precache",
                    Value::Arr(vec![
                        Value::str("/"),
                        Value::obj([("url", Value::str("/about/index.html")), ("revision", Value::str(about))]),
                        Value::obj([("url", Value::str(asset)), ("revision", Value::Null)]),
                    ]),
                ),
                ("offline", Value::str("/offline.html")),
            ]))
        };
        let keys = |c: &Config| c.precache.iter().map(|e| e.key.clone()).collect::<Vec<_>>();
        let first = keys(&build("aaaa", "/assets/index-1111.js"));
        assert!(
            first[0].starts_with("/?__swcache_rev=v1.") && first[0].len() == "/?__swcache_rev=v1.".len() + 8,
            "{first:?}"
        );
        assert_eq!(first[3], first[0].replacen('/', "/offline.html", 1), "the offline page is a plain URL too");
        assert_eq!(keys(&build("aaaa", "/assets/index-1111.js")), first, "the same build: the same keys");
        for next in [build("bbbb", "/assets/index-1111.js"), build("aaaa", "/assets/index-2222.js")] {
            let next = keys(&next);
            assert_ne!(next[0], first[0], "a new build fetches '/' again");
            assert_ne!(next[3], first[3]);
        }
    }

    #[test]
    fn precache_revisions_and_offline_pages() {
        let with = |precache: Value, offline: Option<Value>| {
            let mut fields = vec![("version", Value::str("v3")), ("precache", precache)];
            if let Some(o) = offline {
                fields.push(("offline", o));
            }
            Value::Obj(fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
        };
        let entry = |rev: Value| Value::obj([("url", Value::str("/app.css")), ("revision", rev)]);
        let c = parse_ok(&with(
            Value::Arr(vec![entry(Value::str("9f86d081884c7d65")), entry(Value::str("other")), entry(Value::Null)]),
            None,
        ));
        assert_eq!(c.precache.len(), 1, "deduplicated by URL: the first entry wins");
        assert_eq!(c.precache[0].key, "/app.css?__swcache_rev=9f86d081884c7d65");
        let hashed = parse_ok(&with(
            Value::Arr(vec![Value::obj([("url", Value::str("/a.3f9a.js")), ("revision", Value::Null)])]),
            None,
        ));
        assert_eq!(hashed.precache[0].key, "/a.3f9a.js", "revision null: the URL is the key");
        for (bad, want) in [
            (entry(Value::str("has space")), "field 'precache[0].revision' must be 1-64 letters"),
            (entry(Value::Num(3.0)), "field 'precache[0].revision' must be"),
            (Value::obj([("url", Value::str("/a"))]), "field 'precache[0].revision' must be"),
            (Value::obj([("revision", Value::str("x"))]), "field 'precache[0].url' is required"),
            (
                Value::obj([("url", Value::str("/a")), ("revision", Value::Null), ("hash", Value::str("x"))]),
                "field 'precache[0].hash' is not a precache entry field",
            ),
            (
                Value::obj([("url", Value::str("https://cdn.example.com/a")), ("revision", Value::Null)]),
                "field 'precache[0]' must be same-origin",
            ),
            (Value::Num(1.0), "field 'precache[0]' must be a URL string or {url, revision}"),
        ] {
            let err = parse_err(&with(Value::Arr(vec![bad]), None));
            assert!(err.contains(want), "{err}");
        }
        // The offline page and placeholder are precached (revisioned by the version).
        let c = parse_ok(&with(
            Value::Arr(vec![]),
            Some(Value::obj([("page", Value::str("/offline.html")), ("image", Value::str("/o.svg"))])),
        ));
        assert_eq!((c.offline.page, c.offline.image), (Some(0), Some(1)));
        assert_eq!(c.precache[0].key, "/offline.html?__swcache_rev=v3");
        let c = parse_ok(&with(Value::Arr(vec![Value::str("/offline.html")]), Some(Value::str("/offline.html"))));
        assert_eq!((c.precache.len(), c.offline.page), (1, Some(0)), "already listed: not twice");
        for (bad, want) in [
            (Value::Num(1.0), "field 'offline' must be a page URL"),
            (Value::obj([("pages", Value::str("/o"))]), "field 'offline.pages' is not an offline field"),
            (Value::obj([("page", Value::Bool(true))]), "field 'offline.page' must be a URL string"),
            (Value::str("https://elsewhere.example/o"), "field 'offline' must be same-origin"),
        ] {
            let err = parse_err(&with(Value::Arr(vec![]), Some(bad)));
            assert!(err.contains(want), "{err}");
        }
    }

    #[test]
    fn strict_budget_errors_give_its_own_range() {
        let feed = |budget: f64| {
            Value::obj([
                ("version", Value::str("v1")),
                (
                    "feed",
                    Value::obj([
                        ("url", Value::str("/swcache-feed.json")),
                        ("strict", Value::obj([("budget", Value::Num(budget))])),
                    ]),
                ),
            ])
        };
        for budget in [0.0, 1e8] {
            let e = parse_err(&feed(budget));
            assert!(e.contains("field 'feed.strict.budget'") && e.contains("from 1 to 10000,"), "{e}");
        }
    }

    #[test]
    fn a_same_origin_route_whose_prefix_is_another_origin_is_refused() {
        // Without crossOrigin a route only sees this origin's requests: another origin's
        // prefix could never match, and the site owner must hear why.
        let v = with_route_field(2, "match", Some(Value::str("https://cdn.example.com/")));
        let e = parse(&v, ORIGIN, &resolve).map(|_| ()).expect_err("a route that can never match was accepted");
        assert!(e.message().contains("route 'promoPages' (routes[2]) field 'match'"), "{}", e.message());
    }

    #[test]
    fn cache_ownership() {
        let c = parse_ok(&seed_config());
        assert!(c.owns_cache(&c.routes[0].cache_name));
        assert!(!c.is_obsolete_cache("swcache-precache"));
        assert!(c.is_obsolete_cache("swcache-v1-precache"), "the per-version precache of earlier releases");
        assert!(c.is_obsolete_cache("swcache-v1-images"));
        assert!(c.is_obsolete_cache("swcache-v0-images"));
        assert!(c.is_obsolete_cache("swcache-v1-oldroute"));
        assert!(!c.is_obsolete_cache("my-own-cache"));
    }
}
