//! Splitting already-normalised absolute URLs (what `Request.url` and the browser's
//! `URL` parser produce) without allocating.

/// Splits `scheme://authority/path?query#fragment` into
/// (`scheme://authority`, `/path?query`), dropping any fragment.
/// Returns `None` for anything that is not an absolute hierarchical URL.
pub fn split(href: &str) -> Option<(&str, &str)> {
    // No `&href[..]` in this file: a str slice that can fail links core::fmt's
    // boundary-error message into the worker (~3 KB); `split_*` cannot fail.
    let href = href.split_once('#').map_or(href, |(h, _)| h);
    // A byte search: `str::find` with a string pattern brings a two-way searcher along.
    let scheme_end = href.as_bytes().windows(3).position(|w| w == b"://")?;
    if scheme_end == 0 {
        return None;
    }
    let after = scheme_end + 3;
    let (_, rest) = href.split_at_checked(after)?;
    let path_start = rest.find(['/', '?']).map(|i| after + i).unwrap_or(href.len());
    if path_start == after {
        return None; // empty authority
    }
    let (origin, path) = href.split_at_checked(path_start)?;
    Some((origin, if path.is_empty() { "/" } else { path }))
}

/// The path+search of `href` if it is on `origin`, else `None`.
pub fn same_origin_path<'a>(href: &'a str, origin: &str) -> Option<&'a str> {
    match split(href) {
        Some((o, p)) if o.eq_ignore_ascii_case(origin) => Some(p),
        _ => None,
    }
}

/// What invalidations, fences and a cache's usage read a URL as: its path+search on
/// `origin`, else the whole URL. An invalidation's URLs and prefixes are same-origin
/// paths (they start with `/`), so they never name another origin's copy at the same
/// path; its routes, tags and `all` still do.
pub fn key_of<'a>(href: &'a str, origin: &str) -> &'a str {
    same_origin_path(href, origin).unwrap_or(href)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_origin_and_path() {
        assert_eq!(split("http://localhost:8080/a/b?x=1#frag"), Some(("http://localhost:8080", "/a/b?x=1")));
        assert_eq!(split("https://example.com"), Some(("https://example.com", "/")));
        assert_eq!(split("https://example.com?q"), Some(("https://example.com", "?q")));
        assert_eq!(split("https://example.com/"), Some(("https://example.com", "/")));
    }

    #[test]
    fn rejects_non_absolute() {
        for bad in ["/relative", "relative", "://x/", "http:///path", "data:text/plain,hi", ""] {
            assert_eq!(split(bad), None, "{bad}");
        }
    }

    #[test]
    fn same_origin_only() {
        let o = "http://localhost:8080";
        assert_eq!(same_origin_path("http://localhost:8080/p?q=1", o), Some("/p?q=1"));
        assert_eq!(same_origin_path("http://localhost:8081/p", o), None);
        assert_eq!(same_origin_path("http://localhost:8080.evil.com/p", o), None);
        assert_eq!(same_origin_path("https://localhost:8080/p", o), None);
    }

    #[test]
    fn keys_are_paths_here_and_whole_urls_elsewhere() {
        let o = "http://localhost:8080";
        assert_eq!(key_of("http://localhost:8080/img/a.png?v=2#top", o), "/img/a.png?v=2");
        assert_eq!(key_of("https://cdn.example.com/img/a.png", o), "https://cdn.example.com/img/a.png");
    }
}
