//! Which route (if any) handles a request. Decided synchronously during the fetch
//! dispatch; `None` means the engine never calls `respondWith` for it.

use super::config::{Config, Matcher};
use super::url;

/// The request's `cache` mode, as far as the engine cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheMode {
    /// `default`, `force-cache`, `only-if-cached`: read the cache normally.
    Default,
    /// `reload`, `no-cache`: skip the cache read, still store the fresh response.
    Reload,
    /// `no-store`: neither read nor write the cache.
    NoStore,
}

impl CacheMode {
    pub fn parse(s: &str) -> CacheMode {
        match s {
            "reload" | "no-cache" => CacheMode::Reload,
            "no-store" => CacheMode::NoStore,
            _ => CacheMode::Default,
        }
    }

    /// The mode the engine honours for a request. Navigations always read the cache:
    /// browsers send an ordinary reload as `no-cache`, and a promo page reloaded by its
    /// visitor must still come from the cache. An explicit `fetch(url, {cache})` from a
    /// page (e.g. the hydration scheduler's `reload`) is honoured.
    pub fn for_request(cache: &str, is_navigation: bool) -> CacheMode {
        if is_navigation {
            CacheMode::Default
        } else {
            CacheMode::parse(cache)
        }
    }
}

/// What the adapter reads off a request.
#[derive(Clone, Copy, Debug)]
pub struct RequestFacts<'a> {
    pub is_get: bool,
    /// `Request.url`: absolute and normalised by the browser.
    pub href: &'a str,
    /// Has a `Range` header: ranged requests are left to the network.
    pub has_range: bool,
}

/// The handler chosen for a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selection {
    Route(usize),
    /// Built-in cache-first route for precached URLs no configured route matches.
    Precache,
}

/// First matching route wins. `test(regexp_index, text)` runs a RegExp kept by the
/// adapter. Same-origin requests are tested on their path+search; cross-origin requests
/// only against routes with `crossOrigin: true`, and on their full URL.
pub fn select(
    cfg: &Config,
    origin: &str,
    req: &RequestFacts<'_>,
    test: impl FnMut(u32, &str) -> bool,
) -> Option<Selection> {
    select_in(cfg, origin, req, test, true)
}

/// [`select`] among the configured routes only (`precache: false`: the built-in precache
/// route, a scan of the whole list, is not tried).
pub fn select_in(
    cfg: &Config,
    origin: &str,
    req: &RequestFacts<'_>,
    mut test: impl FnMut(u32, &str) -> bool,
    precache: bool,
) -> Option<Selection> {
    if !req.is_get || req.has_range {
        return None;
    }
    let (req_origin, path) = url::split(req.href)?;
    if !req.href.starts_with("http") {
        return None;
    }
    let same_origin = req_origin.eq_ignore_ascii_case(origin);
    let text = if same_origin { path } else { url_without_fragment(req.href) };
    for (i, r) in cfg.routes.iter().enumerate() {
        if !same_origin && !r.cross_origin {
            continue;
        }
        let hit = match &r.matcher {
            Matcher::Prefix(p) => text.starts_with(p.as_str()),
            Matcher::RegExp(idx) => test(*idx, text),
        };
        if hit {
            return Some(Selection::Route(i));
        }
    }
    if precache && same_origin && cfg.is_precached(path) {
        return Some(Selection::Precache);
    }
    None
}

fn url_without_fragment(href: &str) -> &str {
    href.split('#').next().unwrap_or(href)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::config::tests::{parse_ok, seed_config, ORIGIN};
    use crate::policy::config::Config;
    use crate::policy::value::Value;

    /// Stand-ins for the reference site's three RegExps, written out as plain predicates.
    fn seed_regexps(idx: u32, text: &str) -> bool {
        let path = text.split('?').next().unwrap();
        match idx {
            // /\.(png|jpe?g|gif|webp|svg)$/ (tested on path+search, like the browser does)
            0 => [".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg"].iter().any(|e| text.ends_with(e)),
            // /\/api\/v1\/promo\/featured-content/
            1 => text.contains("/api/v1/promo/featured-content"),
            // /^\/(?!api|admin|_next)/
            2 => text.starts_with('/') && !["api", "admin", "_next"].iter().any(|p| path[1..].starts_with(p)),
            _ => false,
        }
    }

    fn pick(cfg: &Config, href: &str) -> Option<Selection> {
        select(cfg, ORIGIN, &RequestFacts { is_get: true, href, has_range: false }, seed_regexps)
    }

    #[test]
    fn seed_routes_in_order_images_not_swallowed() {
        let c = parse_ok(&seed_config());
        assert_eq!(pick(&c, "http://localhost:8080/img/hero.png"), Some(Selection::Route(0)));
        assert_eq!(pick(&c, "http://localhost:8080/promo/summer/hero.webp"), Some(Selection::Route(0)));
        assert_eq!(pick(&c, "http://localhost:8080/api/v1/promo/featured-content?id=3"), Some(Selection::Route(1)));
        assert_eq!(pick(&c, "http://localhost:8080/promo/summer"), Some(Selection::Route(2)));
        assert_eq!(pick(&c, "http://localhost:8080/"), Some(Selection::Route(2)));
        assert_eq!(pick(&c, "http://localhost:8080/api/other"), None);
        assert_eq!(pick(&c, "http://localhost:8080/admin/x"), None);
    }

    #[test]
    fn non_get_ranged_and_cross_origin_untouched() {
        let c = parse_ok(&seed_config());
        let facts = |is_get, href, has_range| RequestFacts { is_get, href, has_range };
        assert_eq!(select(&c, ORIGIN, &facts(false, "http://localhost:8080/promo", false), seed_regexps), None);
        assert_eq!(select(&c, ORIGIN, &facts(true, "http://localhost:8080/v.png", true), seed_regexps), None);
        assert_eq!(pick(&c, "https://cdn.example.com/img/a.png"), None);
        assert_eq!(pick(&c, "chrome-extension://abc/x.png"), None);
    }

    #[test]
    fn cross_origin_routes_see_the_full_url() {
        let c = parse_ok(&Value::obj([
            ("version", Value::str("v1")),
            (
                "routes",
                Value::Arr(vec![Value::obj([
                    ("name", Value::str("cdn")),
                    ("match", Value::str("https://cdn.example.com/")),
                    ("strategy", Value::str("cacheFirst")),
                    ("crossOrigin", Value::Bool(true)),
                ])]),
            ),
        ]));
        assert_eq!(pick(&c, "https://cdn.example.com/lib.js#x"), Some(Selection::Route(0)));
        assert_eq!(pick(&c, "https://other.example.com/lib.js"), None);
    }

    /// A crossOrigin route's prefix is a URL as the browser writes it too: its host in lower
    /// case, a bare origin ended by '/'. Compared as written, 'https://CDN.example.com/'
    /// never matched, and 'https://cdn.example.com' also took another host's URLs.
    #[test]
    fn a_cross_origin_prefix_is_read_as_the_browser_writes_urls() {
        // The browser's parser, for absolute URLs: scheme and host lower-cased, '/' after a bare origin.
        let browser = |s: &str| -> Option<String> {
            let (scheme, rest) = s.split_once("://")?;
            let (host, path) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
            Some(format!("{}://{}{}", scheme.to_ascii_lowercase(), host.to_ascii_lowercase(), path))
        };
        let with = |m: &str| {
            Value::obj([
                ("version", Value::str("v1")),
                (
                    "routes",
                    Value::Arr(vec![Value::obj([
                        ("name", Value::str("cdn")),
                        ("match", Value::str(m)),
                        ("strategy", Value::str("cacheFirst")),
                        ("crossOrigin", Value::Bool(true)),
                    ])]),
                ),
            ])
        };
        let c = crate::policy::config::parse(&with("https://CDN.example.com/lib/"), ORIGIN, &browser).unwrap();
        assert_eq!(pick(&c, "https://cdn.example.com/lib/a.js"), Some(Selection::Route(0)), "the host as written");
        let c = crate::policy::config::parse(&with("https://cdn.example.com"), ORIGIN, &browser).unwrap();
        assert_eq!(pick(&c, "https://cdn.example.com/a.js"), Some(Selection::Route(0)));
        assert_eq!(pick(&c, "https://cdn.example.com.evil.example/a.js"), None, "another host");
        // A prefix that is no whole URL is compared as written (`'https:'`: every https URL;
        // read as a URL it would have been this origin's script).
        let c =
            crate::policy::config::parse(&with("https:"), ORIGIN, &|_: &str| Some(format!("{ORIGIN}/sw.js"))).unwrap();
        assert_eq!(pick(&c, "https://cdn.example.com/a.js"), Some(Selection::Route(0)), "as written");
    }

    #[test]
    fn prefix_matcher_and_precache_fallback() {
        let c = parse_ok(&Value::obj([
            ("version", Value::str("v1")),
            ("precache", Value::Arr(vec![Value::str("/robots.txt"), Value::str("/blog/")])),
            (
                "routes",
                Value::Arr(vec![Value::obj([
                    ("name", Value::str("blog")),
                    ("match", Value::str("/blog/")),
                    ("strategy", Value::str("networkFirst")),
                ])]),
            ),
        ]));
        assert_eq!(pick(&c, "http://localhost:8080/blog/post-1"), Some(Selection::Route(0)));
        // A configured route wins over the precache route.
        assert_eq!(pick(&c, "http://localhost:8080/blog/"), Some(Selection::Route(0)));
        assert_eq!(pick(&c, "http://localhost:8080/robots.txt"), Some(Selection::Precache));
        assert_eq!(pick(&c, "http://localhost:8080/robots.txt?x"), None);
        assert_eq!(pick(&c, "http://localhost:8080/blo"), None);
        // Routes only (an activate looking for route copies of the list's URLs).
        let facts = |href| RequestFacts { is_get: true, href, has_range: false };
        let routes_only = |href| select_in(&c, ORIGIN, &facts(href), seed_regexps, false);
        assert_eq!(routes_only("http://localhost:8080/robots.txt"), None);
        assert_eq!(routes_only("http://localhost:8080/blog/"), Some(Selection::Route(0)));
    }

    #[test]
    fn cache_modes() {
        assert_eq!(CacheMode::parse("reload"), CacheMode::Reload);
        assert_eq!(CacheMode::parse("no-cache"), CacheMode::Reload);
        assert_eq!(CacheMode::parse("no-store"), CacheMode::NoStore);
        assert_eq!(CacheMode::parse("default"), CacheMode::Default);
        assert_eq!(CacheMode::parse("force-cache"), CacheMode::Default);
        assert_eq!(CacheMode::for_request("no-cache", true), CacheMode::Default, "a reload button press");
        assert_eq!(CacheMode::for_request("reload", true), CacheMode::Default);
        assert_eq!(CacheMode::for_request("reload", false), CacheMode::Reload);
        assert_eq!(CacheMode::for_request("no-store", false), CacheMode::NoStore);
    }
}
