//! Validation of messages from pages. A malformed message is answered with an error
//! and changes nothing; a valid one becomes a [`Message`].

use super::prelude::*;
use super::sort::heapsort_by;
use super::text::cold;
use super::time;
use super::url;
use super::value::{prop, Value};

/// Most URLs (plus prefixes and tags) one message may carry.
pub const MAX_URLS: usize = super::value::MAX_LIST;

/// Which stored entries an invalidation covers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selector {
    /// Exact same-origin path+search.
    pub urls: PathSet,
    /// Prefixes of path+search.
    pub prefixes: Vec<String>,
    /// Whole tokens of the stored `Cache-Tag` header.
    pub tags: Vec<String>,
    /// Cache slots (route index; the precache is `routes.len()`).
    pub slots: Vec<usize>,
    pub all: bool,
}

impl Selector {
    /// Whether entries of `slot` at `path` could match before their headers are read.
    pub fn may_match(&self, path: &str, slot: usize) -> bool {
        self.all || !self.tags.is_empty() || self.matches_without_tags(path, slot)
    }

    fn matches_without_tags(&self, path: &str, slot: usize) -> bool {
        self.all
            || self.slots.contains(&slot)
            || self.urls.contains(path)
            || self.prefixes.iter().any(|p| path.starts_with(p.as_str()))
    }

    /// Whether the entry at `path` in `slot`, whose `Cache-Tag` header is `tags`, is covered.
    pub fn matches(&self, path: &str, slot: usize, tags: Option<&str>) -> bool {
        self.matches_without_tags(path, slot) || tags.is_some_and(|t| self.has_tag(t))
    }

    fn has_tag(&self, header: &str) -> bool {
        header.split(',').map(str::trim).any(|t| !t.is_empty() && self.tags.iter().any(|x| x.eq_ignore_ascii_case(t)))
    }

    /// Only exact URLs: entries can be looked up directly, no listing needed.
    pub fn urls_only(&self) -> bool {
        !self.all && self.prefixes.is_empty() && self.tags.is_empty() && self.slots.is_empty()
    }
}

/// A set of paths, sorted and binary-searched (the worker build carries no hash tables).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PathSet(pub(super) Vec<String>);

impl PathSet {
    pub fn contains(&self, path: &str) -> bool {
        self.0.binary_search_by(|p| p.as_str().cmp(path)).is_ok()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> ::core::slice::Iter<'_, String> {
        self.0.iter()
    }
}

impl FromIterator<String> for PathSet {
    fn from_iter<I: IntoIterator<Item = String>>(iter: I) -> Self {
        PathSet::from_vec(iter.into_iter().collect())
    }
}

impl PathSet {
    /// The paths of `v`, sorted, each once.
    pub fn from_vec(mut v: Vec<String>) -> Self {
        heapsort_by(&mut v, |a, b| a < b);
        v.dedup();
        PathSet(v)
    }
}

/// A CACHE_INVALIDATION: remove covered entries stamped before `at_ms`, and fence
/// fetches started before it.
#[derive(Clone, Debug, PartialEq)]
pub struct Invalidation {
    pub at_ms: f64,
    /// The timestamp as the sender gave it (`at_ms` is clamped to the worker's now).
    pub asked_ms: f64,
    pub selector: Selector,
    /// The feed entry's `seq`, when the feed or a page handing on its live feed names it.
    pub seq: Option<u64>,
}

impl Invalidation {
    /// Whether a stored entry goes. Entries without a readable stamp are treated as old.
    pub fn removes(&self, path: &str, slot: usize, tags: Option<&str>, stamp_ms: Option<f64>) -> bool {
        // (An entry stamped before the change goes; one stamped at or after it stays.)
        stamp_ms.is_none_or(|s| s < self.at_ms) && self.selector.matches(path, slot, tags)
    }

    /// The same news: the same selectors and timestamp (every open page hands on each
    /// entry of its live feed, and the worker's feed check reads the entry too).
    #[inline(never)]
    pub fn same_news(&self, other: &Invalidation) -> bool {
        self.asked_ms == other.asked_ms && self.selector == other.selector
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    Invalidate(Invalidation),
    /// Same-origin path+search of each URL, deduplicated, in order.
    Prefetch {
        paths: Vec<String>,
        save_data: bool,
    },
    GetStats,
    /// What is cached, per route, with the live fences and the feed cursor.
    GetState,
    /// A waiting worker is asked to take over now (the page's `applyUpdate()`).
    SkipWaiting,
    /// The notices sent at or after `since` (ms, the worker's clock): a page back from
    /// the back/forward cache asks what it missed.
    GetNotices {
        since: f64,
    },
}

/// What the engine must know to validate a message.
pub struct Context<'a> {
    pub origin: &'a str,
    /// Route names by slot, the precache (`"precache"`) last.
    pub slot_names: &'a [&'a str],
    pub now_ms: f64,
    /// How far the worker's clock runs ahead of the feed's ([`super::feed::ahead_of`]):
    /// feed entries' timestamps are moved later by it.
    pub ahead_ms: f64,
    /// Resolves a URL string with the browser's parser (relative to the origin).
    pub resolve: &'a dyn Fn(&str) -> Option<String>,
}

fn string_list<'v>(props: &'v [(String, Value)], field: &str) -> Result<Option<Vec<&'v str>>, String> {
    match prop(props, field) {
        None => Ok(None),
        Some(Value::Arr(items)) => {
            if items.len() > MAX_URLS {
                return Err(cold(|| cat!("'", field, "' has more than ", MAX_URLS, " entries")));
            }
            items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    v.as_str().ok_or_else(|| cold(|| cat!("'", field, "[", i, "]' must be a string, got ", v.kind())))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some)
        }
        Some(other) => Err(cold(|| cat!("'", field, "' must be an array of strings, got ", other.kind()))),
    }
}

/// Same-origin path+search of each URL (root-relative or absolute); any other origin
/// makes the message malformed.
fn same_origin_paths(list: &[&str], field: &str, ctx: &Context<'_>) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for (i, raw) in list.iter().enumerate() {
        if !(raw.starts_with('/') || raw.starts_with("http://") || raw.starts_with("https://")) || raw.starts_with("//")
        {
            return Err(cold(|| {
                cat!(
                    "'",
                    field,
                    "[",
                    i,
                    "]' must be a root-relative or absolute same-origin URL, got '",
                    clip(raw),
                    "'"
                )
            }));
        }
        if plain_path(raw) {
            out.push(String::from(*raw));
            continue;
        }
        let href = (ctx.resolve)(raw)
            .ok_or_else(|| cold(|| cat!("'", field, "[", i, "]' is not a valid URL: '", clip(raw), "'")))?;
        let path = url::same_origin_path(&href, ctx.origin)
            .ok_or_else(|| cold(|| cat!("'", field, "[", i, "]' is cross-origin: '", clip(raw), "'")))?;
        out.push(String::from(path));
    }
    // Drop repeats, keeping first occurrences in order (sorting indices: no hashing).
    let mut order: Vec<usize> = (0..out.len()).collect();
    heapsort_by(&mut order, |&a, &b| (&out[a], a) < (&out[b], b));
    let mut keep = vec![true; out.len()];
    for w in order.windows(2) {
        if out[w[0]] == out[w[1]] {
            keep[w[1]] = false;
        }
    }
    let mut keep = keep.into_iter();
    out.retain(|_| keep.next().unwrap_or(false));
    Ok(out)
}

/// Whether `raw` is a root-relative path and query that the URL parser leaves as it is, so
/// it is its own path without a parse (each parse is a call into the browser: 1,000 URLs
/// took ~5 ms of a 1,000-URL invalidation): letters, digits and `-._~!$&()*+,;=:@/?`
/// only, not `//` (another host), no `/.` (a dot segment, which the parser removes).
fn plain_path(raw: &str) -> bool {
    // (A byte loop: `str::contains` of a `&str` links the two-way searcher, ~6 KB gzip.)
    let bytes = raw.as_bytes();
    if bytes.first() != Some(&b'/') || bytes.get(1) == Some(&b'/') {
        return false;
    }
    let mut prev = 0;
    bytes.iter().all(|&b| {
        let ok = !(prev == b'/' && b == b'.') && (b.is_ascii_alphanumeric() || b"-._~!$&()*+,;=:@/?".contains(&b));
        prev = b;
        ok
    })
}

fn clip(s: &str) -> &str {
    // `split_at_checked`: `i` is a char boundary, and unlike `&s[..i]` it links no
    // boundary-error message into the worker.
    match s.char_indices().nth(80) {
        Some((i, _)) => s.split_at_checked(i).map_or(s, |(head, _)| head),
        None => s,
    }
}

/// Validates a message; the error text is what the `{type:'ERROR'}` reply says.
pub fn parse(msg: &Value, ctx: &Context<'_>) -> Result<Message, String> {
    parse_inner(msg, ctx).map_err(|e| {
        let kind = msg.get("type").and_then(Value::as_str).filter(|t| t.len() <= 40).unwrap_or("message");
        cat!("swcache: malformed ", kind, ": ", e)
    })
}

fn parse_inner(msg: &Value, ctx: &Context<'_>) -> Result<Message, String> {
    if !matches!(msg, Value::Obj(_)) {
        return Err(cold(|| cat!("a message must be an object, got ", msg.kind())));
    }
    let kind = match msg.get("type") {
        Some(Value::Str(s)) => s.as_str(),
        Some(other) => return Err(cold(|| cat!("'type' must be a string, got ", other.kind()))),
        None => return Err(cold(|| "'type' is missing".into())),
    };
    let allowed: &[&str] = match kind {
        "CACHE_INVALIDATION" => &["type", "urls", "prefixes", "tags", "routes", "all", "timestamp", "feed", "seq"],
        "PREFETCH" => &["type", "urls", "saveData"],
        "GET_STATS" | "GET_STATE" | "SKIP_WAITING" => &["type"],
        "GET_NOTICES" => &["type", "since"],
        _ => {
            return Err(cold(|| {
                cat!(
                    "unknown type '",
                    clip(kind),
                    "' (expected CACHE_INVALIDATION, PREFETCH, GET_STATS, GET_STATE, GET_NOTICES or SKIP_WAITING)"
                )
            }))
        }
    };
    if let Value::Obj(props) = msg {
        if let Some((k, _)) =
            props.iter().find(|(k, v)| !allowed.contains(&k.as_str()) && !matches!(v, Value::Undefined))
        {
            return Err(cold(|| cat!("unknown field '", clip(k), "'")));
        }
    }
    match kind {
        "GET_STATS" => Ok(Message::GetStats),
        "GET_STATE" => Ok(Message::GetState),
        "SKIP_WAITING" => Ok(Message::SkipWaiting),
        "GET_NOTICES" => match msg.get("since") {
            Some(Value::Num(n)) if n.is_finite() => Ok(Message::GetNotices { since: *n }),
            _ => Err(cold(|| "'since' must be a time in milliseconds (Date.now())".into())),
        },
        "PREFETCH" => {
            let urls = string_list(props(msg), "urls")?.ok_or("'urls' is required")?;
            let save_data = match msg.get("saveData") {
                None => false,
                Some(Value::Bool(b)) => *b,
                Some(other) => return Err(cold(|| cat!("'saveData' must be a boolean, got ", other.kind()))),
            };
            Ok(Message::Prefetch { paths: same_origin_paths(&urls, "urls", ctx)?, save_data })
        }
        // `feed: true`: a feed entry handed on by a page (its live feed), read as a feed
        // check reads one: route names this worker does not have are skipped.
        _ => {
            let feed = match msg.get("feed") {
                None => false,
                Some(Value::Bool(b)) => *b,
                Some(other) => return Err(cold(|| cat!("'feed' must be a boolean, got ", other.kind()))),
            };
            // `seq`: the entry's number, which names it once applied (a worker started
            // later does not apply it again at its feed check). Only a hint: one that is
            // not a whole number is left out, and the entry applies all the same.
            let seq = match msg.get("seq") {
                Some(Value::Num(n)) if *n >= 0.0 && *n <= 9.0e15 && super::text::trunc(*n) == *n => Some(*n as u64),
                _ => None,
            };
            parse_invalidation_with(msg, ctx, feed).map(|inv| Message::Invalidate(Invalidation { seq, ..inv }))
        }
    }
}

/// The selectors and timestamp of an invalidation (a message, or a feed entry with
/// `feed`: route names this worker does not have are skipped, since a feed serves every
/// version of a site's worker, and its timestamp, by the feed's clock, is moved by
/// `ctx.ahead_ms`).
pub fn parse_invalidation_with(msg: &Value, ctx: &Context<'_>, feed: bool) -> Result<Invalidation, String> {
    let asked_ms = match msg.get("timestamp") {
        None => ctx.now_ms,
        Some(Value::Str(s)) => {
            time::parse_iso(s).ok_or_else(|| cold(|| cat!("'timestamp' is not an ISO 8601 time: '", clip(s), "'")))?
        }
        Some(other) => return Err(cold(|| cat!("'timestamp' must be an ISO 8601 string, got ", other.kind()))),
    };
    let at_ms = if feed { asked_ms + ctx.ahead_ms } else { asked_ms };
    // A CMS clock running ahead must not fence caching until its time comes: a
    // timestamp later than the worker's now means now.
    let at_ms = if at_ms > ctx.now_ms { ctx.now_ms } else { at_ms };
    Ok(Invalidation { at_ms, asked_ms, selector: parse_selector(props(msg), ctx, feed)?, seq: None })
}

/// An invalidation's selectors, from the properties of a message or a feed entry (see
/// [`parse_invalidation_with`]).
#[inline(never)]
pub fn parse_selector(
    fields: &[(String, Value)],
    ctx: &Context<'_>,
    known_routes_only: bool,
) -> Result<Selector, String> {
    let urls = string_list(fields, "urls")?;
    let prefixes = string_list(fields, "prefixes")?;
    let tags = string_list(fields, "tags")?;
    let routes = string_list(fields, "routes")?;
    let all = match prop(fields, "all") {
        None | Some(Value::Bool(false)) => false,
        Some(Value::Bool(true)) => true,
        Some(other) => return Err(cold(|| cat!("'all' must be true, got ", other.kind()))),
    };
    if urls.is_none() && prefixes.is_none() && tags.is_none() && routes.is_none() && !all {
        return Err(cold(|| "say what to invalidate: 'urls', 'prefixes', 'tags', 'routes' or 'all: true'".into()));
    }
    let total = [&urls, &prefixes, &tags, &routes].iter().map(|l| l.as_ref().map_or(0, Vec::len)).sum::<usize>();
    if total > MAX_URLS {
        return Err(cold(|| cat!("more than ", MAX_URLS, " URLs, prefixes, tags and routes in one message")));
    }
    let mut sel = Selector { all, ..Selector::default() };
    if let Some(urls) = urls {
        sel.urls = same_origin_paths(&urls, "urls", ctx)?.into_iter().collect();
    }
    for (i, p) in prefixes.unwrap_or_default().into_iter().enumerate() {
        if !p.starts_with('/') {
            return Err(cold(|| {
                cat!("'prefixes[", i, "]' must start with '/' (a prefix of pathname+search), got '", clip(p), "'")
            }));
        }
        // (As the browser writes paths: `/café/` is `/caf%C3%A9/`.) One the browser reads
        // as another origin's URL (`//host/…`) is malformed, as such a URL in `urls` is.
        let path = match (ctx.resolve)(p) {
            Some(h) => url::same_origin_path(&h, ctx.origin)
                .map(String::from)
                .ok_or_else(|| cold(|| cat!("'prefixes[", i, "]' is cross-origin: '", clip(p), "'")))?,
            None => String::from(p),
        };
        sel.prefixes.push(path);
    }
    for (i, t) in tags.unwrap_or_default().into_iter().enumerate() {
        let t = t.trim();
        if t.is_empty() || t.contains(',') {
            return Err(cold(|| cat!("'tags[", i, "]' must be a non-empty tag without commas")));
        }
        sel.tags.push(String::from(t));
    }
    for (i, r) in routes.unwrap_or_default().into_iter().enumerate() {
        match ctx.slot_names.iter().position(|n| *n == r) {
            Some(slot) => sel.slots.push(slot),
            None if known_routes_only => {}
            None => return Err(cold(|| cat!("'routes[", i, "]' names no route: '", clip(r), "'"))),
        }
    }
    Ok(sel)
}

/// An object's properties (none for any other value).
fn props(v: &Value) -> &[(String, Value)] {
    match v {
        Value::Obj(props) => props,
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::config::tests::{resolve, ORIGIN};

    const NAMES: [&str; 3] = ["images", "pages", "precache"];
    const NOW: f64 = 1_795_000_000_000.0;

    /// CDNs compare cache tags without case (Cloudflare: "cache-tags are case
    /// insensitive"): a CMS that purges `product-7` at its CDN and in the feed must reach
    /// the copy the origin sent with `Cache-Tag: Product-7`.
    #[test]
    fn tags_match_whatever_their_case_as_cdns_do() {
        let sel = Selector { tags: vec!["product-7".into()], ..Selector::default() };
        assert!(sel.matches("/p", 0, Some("home, Product-7")));
        assert!(!sel.matches("/p", 0, Some("product-70")));
    }

    /// A path read without a parse is what the WHATWG URL parser makes of it (random
    /// strings of the characters that matter to it). Native only (the `url` crate).
    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn plain_paths_are_what_the_url_parser_makes_of_them() {
        let base = ::url::Url::parse("https://example.com/").unwrap();
        let chars: Vec<char> = "/////...aZ09-_~!$&'()*+,;=:@??%#\\ ^`{|}\té2".chars().collect();
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let (mut plain, mut parsed) = (0, 0);
        for _ in 0..200_000 {
            let mut s = String::from("/");
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            for k in 0..(rng % 12) {
                s.push(chars[((rng >> (5 * k % 50)) % chars.len() as u64) as usize]);
            }
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            if !plain_path(&s) {
                continue;
            }
            plain += 1;
            let u = base.join(&s).unwrap();
            let mut path = String::from(u.path());
            if let Some(q) = u.query() {
                path.push('?');
                path.push_str(q);
            }
            assert_eq!(u.host_str(), Some("example.com"), "{s:?}");
            assert_eq!(path, s, "{s:?} is read as itself, but the parser makes it {path:?}");
            parsed += 1;
        }
        assert!(plain > 10_000 && parsed == plain, "{plain} plain paths");
        for s in ["/a/./b", "/a/../b", "/.", "//host/a", "/a b", "/a%20b", "/a#b", "/é", "/a\\b", "/a'b", "/a^b", "a/b"]
        {
            assert!(!plain_path(s), "{s:?} must be parsed");
        }
        assert!(plain_path("/promo/summer-sale?utm=x&y=1"));
    }

    fn ctx() -> Context<'static> {
        Context { origin: ORIGIN, slot_names: &NAMES, now_ms: NOW, ahead_ms: 0.0, resolve: &resolve }
    }

    fn strs(items: &[&str]) -> Value {
        Value::Arr(items.iter().map(|s| Value::str(s)).collect())
    }

    fn inv(fields: Vec<(&str, Value)>) -> Result<Invalidation, String> {
        let mut props = vec![("type".to_string(), Value::str("CACHE_INVALIDATION"))];
        props.extend(fields.into_iter().map(|(k, v)| (k.to_string(), v)));
        match parse(&Value::Obj(props), &ctx())? {
            Message::Invalidate(i) => Ok(i),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_prefix_that_reads_as_another_origin_is_malformed() {
        // The browser reads `//host/…` (and `/\\host/…`) as a protocol-relative URL.
        let browser = |s: &str| match s.strip_prefix("//") {
            Some(rest) => Some(format!("http://{rest}")),
            None => resolve(s),
        };
        let c = Context { origin: ORIGIN, slot_names: &NAMES, now_ms: NOW, ahead_ms: 0.0, resolve: &browser };
        let msg =
            Value::obj([("type", Value::str("CACHE_INVALIDATION")), ("prefixes", strs(&["//evil.example.com/"]))]);
        let e = parse(&msg, &c).expect_err("a cross-origin prefix must be refused, as a cross-origin URL is");
        assert!(e.contains("'prefixes[0]' is cross-origin"), "{e}");
    }

    #[test]
    fn prefixes_are_compared_as_the_browser_encodes_paths() {
        let i = inv(vec![("prefixes", strs(&["/café/", "/caf%C3%A9/old/"]))]).unwrap();
        assert_eq!(i.selector.prefixes, ["/caf%C3%A9/", "/caf%C3%A9/old/"]);
        assert!(i.removes("/caf%C3%A9/menu", 1, None, None));
    }

    #[test]
    fn seed_shape_parses_and_normalises_urls() {
        let i = inv(vec![
            ("urls", strs(&["/promo/a", "http://localhost:8080/promo/b?x=1", "/promo/a"])),
            ("timestamp", Value::str("2026-11-18T11:06:40.000Z")),
        ])
        .unwrap();
        assert_eq!(i.at_ms, NOW);
        assert_eq!(i.selector.urls.len(), 2);
        assert!(i.selector.urls.contains("/promo/b?x=1"));
        assert!(i.selector.urls_only());
        assert!(i.selector.matches("/promo/a", 1, None));
        assert!(!i.selector.matches("/promo/a?x=1", 1, None), "query string is part of the identity");
    }

    #[test]
    fn timestamp_defaults_to_now_and_must_be_iso() {
        assert_eq!(inv(vec![("all", Value::Bool(true))]).unwrap().at_ms, NOW);
        for bad in [Value::str("yesterday"), Value::Num(5.0), Value::str("2026-11-18")] {
            let e = inv(vec![("all", Value::Bool(true)), ("timestamp", bad)]).unwrap_err();
            assert!(e.contains("'timestamp'"), "{e}");
        }
    }

    #[test]
    fn removal_rule_uses_the_stamp() {
        let i =
            inv(vec![("prefixes", strs(&["/promo/"])), ("timestamp", Value::str("2026-11-18T11:06:40.000Z"))]).unwrap();
        assert!(i.removes("/promo/a", 1, None, Some(NOW - 1.0)));
        assert!(!i.removes("/promo/a", 1, None, Some(NOW)), "stored at the fence: kept (replay-safe)");
        assert!(!i.removes("/promo/a", 1, None, Some(NOW + 5.0)));
        assert!(i.removes("/promo/a", 1, None, None), "unstamped counts as old");
        assert!(!i.removes("/blog/a", 1, None, Some(0.0)));
    }

    #[test]
    fn tags_routes_all() {
        let i = inv(vec![("tags", strs(&["promo-7", " hero "]))]).unwrap();
        assert!(i.selector.matches("/x", 0, Some("promo-1, promo-7")));
        assert!(i.selector.matches("/x", 0, Some("hero")));
        assert!(!i.selector.matches("/x", 0, Some("promo-70, xhero")), "whole tokens only");
        assert!(!i.selector.matches("/x", 0, None));
        assert!(i.selector.may_match("/anything", 0), "tags need the headers");
        let r = inv(vec![("routes", strs(&["pages", "precache"]))]).unwrap();
        assert_eq!(r.selector.slots, vec![1, 2]);
        assert!(r.selector.matches("/x", 2, None));
        assert!(!r.selector.may_match("/x", 0));
        let a = inv(vec![("all", Value::Bool(true))]).unwrap();
        assert!(a.selector.matches("/anything", 0, None));
        assert!(!a.selector.urls_only());
    }

    #[test]
    fn malformed_messages() {
        let too_many = Value::Arr((0..=MAX_URLS).map(|i| Value::Str(format!("/p/{i}"))).collect());
        let cases: Vec<(Vec<(&str, Value)>, &str)> = vec![
            (vec![], "say what to invalidate"),
            (vec![("urls", Value::str("/a"))], "'urls' must be an array"),
            (vec![("urls", Value::Arr(vec![Value::Num(1.0)]))], "'urls[0]' must be a string"),
            (vec![("urls", strs(&["https://evil.example.com/a"]))], "'urls[0]' is cross-origin"),
            (vec![("urls", strs(&["//evil.example.com/a"]))], "'urls[0]' must be a root-relative"),
            (vec![("urls", strs(&["relative"]))], "'urls[0]' must be a root-relative"),
            (vec![("urls", too_many)], "more than 10000"),
            (vec![("prefixes", strs(&["promo"]))], "'prefixes[0]' must start with '/'"),
            (vec![("tags", strs(&["a,b"]))], "'tags[0]' must be a non-empty tag"),
            (vec![("tags", strs(&[" "]))], "'tags[0]' must be a non-empty tag"),
            (vec![("routes", strs(&["nope"]))], "'routes[0]' names no route"),
            (vec![("all", Value::Bool(true)), ("urlz", strs(&[]))], "unknown field 'urlz'"),
            (vec![("all", Value::str("yes"))], "'all' must be true"),
            (vec![("all", Value::Bool(true)), ("feed", Value::str("yes"))], "'feed' must be a boolean"),
        ];
        for (fields, want) in cases {
            let e = inv(fields).unwrap_err();
            assert!(e.starts_with("swcache: malformed CACHE_INVALIDATION: "), "{e}");
            assert!(e.contains(want), "{e:?} should contain {want:?}");
        }
        // Exactly the limit is fine.
        let limit = Value::Arr((0..MAX_URLS).map(|i| Value::Str(format!("/p/{i}"))).collect());
        assert_eq!(inv(vec![("urls", limit)]).unwrap().selector.urls.len(), MAX_URLS);
    }

    /// A feed serves every version of a site's worker: an entry a page's live feed hands
    /// on may name a route this (older) worker does not have, and the rest of it applies,
    /// as at a feed check.
    #[test]
    fn a_feed_entry_handed_on_by_a_page_skips_routes_this_worker_does_not_have() {
        let fields = || vec![("routes", strs(&["blog", "pages"])), ("urls", strs(&["/x"]))];
        assert!(inv(fields()).unwrap_err().contains("'routes[0]' names no route: 'blog'"));
        let mut with_flag = fields();
        with_flag.push(("feed", Value::Bool(true)));
        let i = inv(with_flag).unwrap();
        assert_eq!((i.selector.slots, i.selector.urls.len()), (vec![1], 1));
        // The entry's seq names it; one that is not a whole number is left out.
        for (seq, want) in [(Value::Num(42.0), Some(42)), (Value::Num(1.5), None), (Value::str("7"), None)] {
            let i = inv(vec![("urls", strs(&["/x"])), ("feed", Value::Bool(true)), ("seq", seq)]).unwrap();
            assert_eq!(i.seq, want);
        }
    }

    #[test]
    fn other_types() {
        let c = ctx();
        assert!(parse(&Value::Null, &c).unwrap_err().contains("must be an object"));
        assert!(parse(&Value::obj([]), &c).unwrap_err().contains("'type' is missing"));
        assert!(parse(&Value::obj([("type", Value::str("NUKE"))]), &c).unwrap_err().contains("unknown type 'NUKE'"));
        assert_eq!(parse(&Value::obj([("type", Value::str("GET_STATS"))]), &c), Ok(Message::GetStats));
        let p =
            parse(&Value::obj([("type", Value::str("PREFETCH")), ("urls", strs(&["/a", "/b", "/a"]))]), &c).unwrap();
        assert_eq!(p, Message::Prefetch { paths: vec!["/a".into(), "/b".into()], save_data: false });
        let e = parse(&Value::obj([("type", Value::str("PREFETCH")), ("urls", strs(&["https://x.example/a"]))]), &c);
        assert!(e.unwrap_err().contains("swcache: malformed PREFETCH: 'urls[0]' is cross-origin"));
        let e = parse(&Value::obj([("type", Value::str("PREFETCH"))]), &c);
        assert!(e.unwrap_err().contains("'urls' is required"));
    }

    #[test]
    fn get_notices_names_a_time() {
        let c = ctx();
        let ask = |since: Option<Value>| {
            let mut props = vec![("type".to_string(), Value::str("GET_NOTICES"))];
            props.extend(since.map(|v| ("since".to_string(), v)));
            parse(&Value::Obj(props), &c)
        };
        assert_eq!(ask(Some(Value::Num(NOW))), Ok(Message::GetNotices { since: NOW }));
        for since in [None, Some(Value::str("yesterday")), Some(Value::Num(f64::NAN))] {
            let e = ask(since).unwrap_err();
            assert_eq!(e, "swcache: malformed GET_NOTICES: 'since' must be a time in milliseconds (Date.now())");
        }
    }
}
