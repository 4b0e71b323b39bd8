//! What may be written to the cache.

/// What the adapter reads off a network response.
#[derive(Clone, Copy, Debug, Default)]
pub struct ResponseFacts<'a> {
    pub status: u16,
    /// `Response.type == "opaque"`.
    pub opaque: bool,
    pub redirected: bool,
    pub cache_control: Option<&'a str>,
    pub vary: Option<&'a str>,
    /// The request carried an `Authorization` header.
    pub authorized: bool,
}

/// Why a response was not stored (for stats and debugging).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    Opaque,
    Status,
    NoStore,
    VaryStar,
    Redirected,
    Authorized,
}

/// GET only (the router never hands anything else here); status 200, or an opaque
/// response on a route with `opaque: true`; never `Cache-Control: no-store`, `Vary: *`,
/// or a redirected response (a stamped copy cannot keep its final URL, so what resolves
/// against it, a navigation's links, a stylesheet's `@import`, a module's imports, would
/// resolve against the requested URL instead). A response to a request with
/// `Authorization` only as a shared cache may keep one (RFC 9111 §3.5: `public` or
/// `s-maxage`, without `private`) or keyed by that header (`Vary: Authorization`): the
/// worker's caches answer whoever uses the device next.
pub fn storable(resp: &ResponseFacts<'_>, route_allows_opaque: bool) -> Result<(), Refusal> {
    if resp.opaque {
        return if route_allows_opaque { Ok(()) } else { Err(Refusal::Opaque) };
    }
    if resp.status != 200 {
        return Err(Refusal::Status);
    }
    if resp.cache_control.is_some_and(|cc| has_directive(cc, "no-store")) {
        return Err(Refusal::NoStore);
    }
    if resp.vary.is_some_and(|v| has_directive(v, "*")) {
        return Err(Refusal::VaryStar);
    }
    if resp.redirected {
        return Err(Refusal::Redirected);
    }
    if resp.authorized {
        let cc = resp.cache_control.unwrap_or("");
        let shared = !has_directive(cc, "private") && (has_directive(cc, "public") || has_directive(cc, "s-maxage"));
        if !shared && !resp.vary.is_some_and(|v| has_directive(v, "authorization")) {
            return Err(Refusal::Authorized);
        }
    }
    Ok(())
}

/// A cache write fails when no byte of the body came for this long: a response that
/// stalled held its write, every invalidation waiting for the writes under way, and the
/// worker's event (so no new version activated) for good. A healthy body rarely goes
/// 10 s without a byte, and a write given up costs only the copy (the page has its
/// response).
pub const STALL_MS: u32 = 10_000;

/// A fetch no page waits for (a staleWhileRevalidate refresh, a networkFirst write after
/// its timeout, a prefetch, an install's precache, a quota relief's refetch; and the
/// adapter's wait for a navigation preload the answer did not use) fails, as a
/// network error does, when no response (its headers) came for this long: an origin that
/// accepts the connection and never answers held its event, and so the worker (a new
/// version waiting, an install hung, the invalidations waiting for a write), for good.
/// The page's own fetch has none: the page may abort it, and networkFirst's
/// `networkTimeout` answers it from the cache.
pub const HEADERS_MS: u32 = 30_000;

/// The size of a whole body, which a stored copy must reach: its `Content-Length`, unless a
/// `Content-Encoding` makes that the size of the encoded body (the cache reads it decoded).
/// WebKit hands a body cut short of it on as complete.
pub fn whole_length(content_length: Option<&str>, content_encoding: Option<&str>) -> Option<u64> {
    content_encoding.map_or_else(|| crate::policy::text::parse_u64(content_length?.trim()), |_| None)
}

/// Whether a `Cache-Control` value carries `directive` (case-insensitive, `=value` allowed),
/// or a `Vary` value names a header.
pub fn has_directive(cache_control: &str, directive: &str) -> bool {
    cache_control.split(',').any(|part| {
        let name = part.split('=').next().unwrap_or("").trim();
        name.eq_ignore_ascii_case(directive)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok200() -> ResponseFacts<'static> {
        ResponseFacts { status: 200, ..Default::default() }
    }

    #[test]
    fn plain_200_is_stored() {
        assert_eq!(storable(&ok200(), false), Ok(()));
    }

    #[test]
    fn other_statuses_are_not() {
        for status in [0, 201, 204, 206, 301, 304, 404, 500, 503] {
            let r = ResponseFacts { status, ..ok200() };
            assert_eq!(storable(&r, false), Err(Refusal::Status), "{status}");
        }
    }

    #[test]
    fn no_store_and_vary_star() {
        for cc in ["no-store", "public, NO-STORE", "max-age=0,no-store", " no-store "] {
            let r = ResponseFacts { cache_control: Some(cc), ..ok200() };
            assert_eq!(storable(&r, false), Err(Refusal::NoStore), "{cc}");
        }
        for cc in ["no-cache", "max-age=60", "private", "no-storex"] {
            let r = ResponseFacts { cache_control: Some(cc), ..ok200() };
            assert_eq!(storable(&r, false), Ok(()), "{cc}");
        }
        let r = ResponseFacts { vary: Some("Accept-Encoding, *"), ..ok200() };
        assert_eq!(storable(&r, false), Err(Refusal::VaryStar));
        let r = ResponseFacts { vary: Some("Accept-Encoding"), ..ok200() };
        assert_eq!(storable(&r, false), Ok(()));
    }

    #[test]
    fn whole_length_only_of_unencoded_bodies() {
        assert_eq!(whole_length(Some("2000"), None), Some(2000));
        assert_eq!(whole_length(Some(" 12 "), None), Some(12));
        assert_eq!(whole_length(Some("2000"), Some("gzip")), None, "the size of the encoded body");
        assert_eq!(whole_length(None, None), None);
        assert_eq!(whole_length(Some("x"), None), None);
    }

    #[test]
    fn authorized_only_when_shared_or_keyed_by_it() {
        let auth = |cache_control, vary| ResponseFacts { authorized: true, cache_control, vary, ..ok200() };
        assert_eq!(storable(&auth(None, None), false), Err(Refusal::Authorized));
        assert_eq!(storable(&auth(Some("max-age=60"), Some("Accept")), false), Err(Refusal::Authorized));
        assert_eq!(storable(&auth(Some("private, public"), None), false), Err(Refusal::Authorized));
        assert_eq!(storable(&auth(Some("Public"), None), false), Ok(()));
        assert_eq!(storable(&auth(Some("s-maxage=60"), None), false), Ok(()));
        assert_eq!(storable(&auth(None, Some("accept, authorization")), false), Ok(()));
    }

    #[test]
    fn redirects_and_opaque() {
        let r = ResponseFacts { redirected: true, ..ok200() };
        assert_eq!(storable(&r, false), Err(Refusal::Redirected), "a navigation's or a subresource's");
        let o = ResponseFacts { opaque: true, status: 0, ..Default::default() };
        assert_eq!(storable(&o, false), Err(Refusal::Opaque));
        assert_eq!(storable(&o, true), Ok(()));
    }
}
