//! The text protocol between the engine and the worker's JavaScript executor, typed
//! once here. Commands go out one per line, fields separated by tabs (URLs from the
//! browser's parser, header values and JSON never contain raw tabs or newlines; other
//! text is cleaned). Results come in as a kind number, a number and a text payload.
//!
//! Commands (`op`, `tag` are numbers; `req` is `o` the event's own request, `p<path>`,
//! or `k<listTag>.<index>` an entry of a key listing):
//!
//! | line | meaning |
//! |---|---|
//! | `M op tag slot req` | cache match → `Matched` |
//! | `F op tag req reload` | fetch (`reload` 1: past the HTTP cache; 2: the navigation preload response, else a fetch of the event's request) → `Fetched` |
//! | `Q op tag on` | `registration.navigationPreload.enable()` (`on` 1) or `.disable()` → `Done` |
//! | `U op tag from` | the body size of the cached response read at `from` → `Size` |
//! | `O op tag` | `registration.unregister()` → `Done` |
//! | `T op tag ms` | timer → `Timer` |
//! | `P op tag slot req from stamp` | put a stamped copy of the response fetched at `from` (`stamp` empty: as is) → `Put` |
//! | `K op tag slot` | list keys → `Keys` |
//! | `D op tag slot req…` | delete entries → `Deleted` |
//! | `R op c tag` / `R op n tag` / `R op e status reason text` | respond with the cached / network response at `tag`, or an error |
//! | `R op r from start end size` / `R op u size` | respond 206 with bytes `start..=end` of the cached response at `from` / 416 |
//! | `Y op json` | post the reply on the message port |
//! | `N op tag` | list Cache Storage → `CacheNames` |
//! | `X op tag name` | delete a cache → `Done` |
//! | `S op tag` / `C op tag` | `skipWaiting()` / `clients.claim()` → `Done` |
//! | `A op json` | `event.addRoutes(rules)` (install) |
//! | `E op text` | the operation failed (install fails) |
//! | `W text` | `console.warn` |
//! | `L op tag` | read the engine's saved state → `Text` |
//! | `V op tag text` | save the engine's state → `Put` |
//! | `G op tag path etag cap` | fetch the feed past every cache, `If-None-Match: etag` (if any), at most `cap` bytes → `Feed` |
//! | `B json` | post to every window client |
//! | `Z op` | operation over: release the event |

use super::engine::{Answer, Cmd, Entry, Io, PutResult, Req, Request, ResponseInfo};
use super::prelude::*;
use super::text::push_u64;

/// Result kinds the executor sends with [`decode_io`].
pub mod kind {
    pub const MISS: u32 = 0;
    pub const HIT: u32 = 1;
    pub const RESPONSE: u32 = 2;
    pub const FETCH_ERROR: u32 = 3;
    pub const TIMER: u32 = 4;
    pub const PUT_OK: u32 = 5;
    pub const PUT_QUOTA: u32 = 6;
    pub const PUT_FAILED: u32 = 7;
    pub const KEYS: u32 = 8;
    pub const DELETED: u32 = 9;
    pub const CACHE_NAMES: u32 = 10;
    pub const DONE: u32 = 11;
    /// `num` 1: found; `text`: the state.
    pub const TEXT: u32 = 12;
    /// `num`: status; `text`: `etag \n body`.
    pub const FEED: u32 = 13;
    /// `num`: a body size (negative: unreadable).
    pub const SIZE: u32 = 14;
}

/// Request flags of a fetch event.
pub mod flag {
    pub const GET: u32 = 1;
    pub const NAVIGATE: u32 = 2;
    pub const RANGE: u32 = 4;
    /// `Request.destination == 'image'`.
    pub const IMAGE: u32 = 8;
}

fn opt(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| String::from(s))
}

#[inline(never)]
fn lines(s: &str) -> Vec<String> {
    if s.is_empty() {
        Vec::new()
    } else {
        s.split('\n').map(String::from).collect()
    }
}

/// A result from the executor. `num`: a stamp (epoch ms, NaN for none), a status or a
/// count; `text`: headers, URLs or an error, as the kind says. `None`: unknown kind.
pub fn decode_io(kind: u32, num: f64, text: &str) -> Option<Io> {
    Some(match kind {
        kind::MISS => Io::Matched(None),
        kind::HIT => {
            let mut f = text.split('\n');
            let (tags, validator, size) = (f.next().unwrap_or(""), f.next().unwrap_or(""), f.next().unwrap_or(""));
            Io::Matched(Some(Entry {
                stamp_ms: num.is_finite().then_some(num),
                tags: opt(tags),
                validator: opt(validator),
                size: size.parse().ok(),
            }))
        }
        kind::RESPONSE => {
            let mut parts = text.split('\n');
            let flags = parts.next().unwrap_or("");
            let mut next = || parts.next().and_then(opt);
            Io::Fetched(Ok(ResponseInfo {
                status: if (0.0..1000.0).contains(&num) { num as u16 } else { 0 },
                opaque: flags.contains('o'),
                redirected: flags.contains('r'),
                cache_control: next(),
                vary: next(),
                tags: next(),
                feed_seq: next(),
                validator: next(),
            }))
        }
        kind::FETCH_ERROR => Io::Fetched(Err(String::from(if text.is_empty() { "network error" } else { text }))),
        kind::TIMER => Io::Timer,
        kind::PUT_OK => Io::Put(PutResult::Ok),
        kind::PUT_QUOTA => Io::Put(PutResult::Quota),
        kind::PUT_FAILED => Io::Put(PutResult::Failed),
        kind::KEYS => keys(text),
        kind::DELETED => Io::Deleted(if num > 0.0 && num < 4e9 { num as u32 } else { 0 }),
        kind::CACHE_NAMES => Io::CacheNames(lines(text)),
        kind::DONE => Io::Done,
        kind::TEXT => Io::Text((num == 1.0).then(|| String::from(text))),
        kind::FEED => feed(num, text),
        kind::SIZE => Io::Size((0.0..9e15).contains(&num).then_some(num as u64)),
        _ => return None,
    })
}

// Results the first response never needs are decoded out of line (see `text::cold`).
#[inline(never)]
fn keys(text: &str) -> Io {
    Io::Keys(lines(text))
}

#[inline(never)]
fn feed(num: f64, text: &str) -> Io {
    let (etag, body) = text.split_once('\n').unwrap_or((text, ""));
    let status = if (0.0..1000.0).contains(&num) { num as u16 } else { 0 };
    Io::Feed { status, etag: opt(etag), text: (status == 200).then(|| String::from(body)) }
}

/// A fetch event: `text` is `url \n cache-mode` and, with [`flag::RANGE`], `\n range`.
pub fn decode_request(flags: u32, text: &str) -> Request<'_> {
    let (href, rest) = text.split_once('\n').unwrap_or((text, "default"));
    let (cache, range) = rest.split_once('\n').unwrap_or((rest, ""));
    Request {
        get: flags & flag::GET != 0,
        href,
        navigate: flags & flag::NAVIGATE != 0,
        cache,
        range: (flags & flag::RANGE != 0).then_some(range),
        image: flags & flag::IMAGE != 0,
    }
}

fn num(out: &mut String, n: u32) {
    out.push('\t');
    push_u64(out, u64::from(n));
}

fn field(out: &mut String, s: &str) {
    out.push('\t');
    for c in s.chars() {
        out.push(if c == '\t' || c == '\n' || c == '\r' { ' ' } else { c });
    }
}

fn req(out: &mut String, r: &Req) {
    out.push('\t');
    match r {
        Req::Own => out.push('o'),
        Req::Path(p) => {
            out.push('p');
            out.push_str(p);
        }
        Req::Key { list, index } => {
            out.push('k');
            push_u64(out, u64::from(*list));
            out.push('.');
            push_u64(out, u64::from(*index));
        }
    }
}

fn head(out: &mut String, code: char, op: u32) {
    if !out.is_empty() {
        out.push('\n');
    }
    out.push(code);
    num(out, op);
}

/// Appends commands to `out` in the line format above.
pub fn encode(cmds: &[Cmd], out: &mut String) {
    for c in cmds {
        match c {
            Cmd::Match { op, tag, slot, req: r } => {
                head(out, 'M', *op);
                num(out, *tag);
                num(out, *slot);
                req(out, r);
            }
            Cmd::Fetch { op, tag, req: r, reload } => {
                head(out, 'F', *op);
                num(out, *tag);
                req(out, r);
                num(out, u32::from(*reload));
            }
            Cmd::Preload { op, tag } => {
                head(out, 'F', *op);
                num(out, *tag);
                out.push_str("\to\t2");
            }
            Cmd::NavigationPreload { op, tag, on } => {
                head(out, 'Q', *op);
                num(out, *tag);
                num(out, u32::from(*on));
            }
            Cmd::Size { op, tag, from } => {
                head(out, 'U', *op);
                num(out, *tag);
                num(out, *from);
            }
            Cmd::Unregister { op, tag } => {
                head(out, 'O', *op);
                num(out, *tag);
            }
            Cmd::Timer { op, tag, ms } => {
                head(out, 'T', *op);
                num(out, *tag);
                num(out, *ms);
            }
            Cmd::Put { op, tag, slot, req: r, from, stamp } => {
                head(out, 'P', *op);
                num(out, *tag);
                num(out, *slot);
                req(out, r);
                num(out, *from);
                out.push('\t');
                if let Some(s) = stamp {
                    push_u64(out, if *s > 0.0 { *s as u64 } else { 0 });
                }
            }
            Cmd::Keys { op, tag, slot } => {
                head(out, 'K', *op);
                num(out, *tag);
                num(out, *slot);
            }
            Cmd::Delete { op, tag, slot, reqs } => {
                head(out, 'D', *op);
                num(out, *tag);
                num(out, *slot);
                for r in reqs {
                    req(out, r);
                }
            }
            Cmd::Respond { op, answer } => {
                head(out, 'R', *op);
                match answer {
                    Answer::Cached(t) => {
                        field(out, "c");
                        num(out, *t);
                    }
                    Answer::Network(t) => {
                        field(out, "n");
                        num(out, *t);
                    }
                    Answer::Error { status, reason, text } => {
                        field(out, "e");
                        num(out, u32::from(*status));
                        field(out, reason);
                        field(out, text);
                    }
                    Answer::Range { from, start, end, size } => {
                        field(out, "r");
                        num(out, *from);
                        for n in [start, end, size] {
                            out.push('\t');
                            push_u64(out, *n);
                        }
                    }
                    Answer::Unsatisfiable { size } => {
                        field(out, "u");
                        out.push('\t');
                        push_u64(out, *size);
                    }
                }
            }
            Cmd::Reply { op, json } => {
                head(out, 'Y', *op);
                field(out, json);
            }
            Cmd::CacheNames { op, tag } => {
                head(out, 'N', *op);
                num(out, *tag);
            }
            Cmd::DeleteCache { op, tag, name } => {
                head(out, 'X', *op);
                num(out, *tag);
                field(out, name);
            }
            Cmd::SkipWaiting { op, tag } => {
                head(out, 'S', *op);
                num(out, *tag);
            }
            Cmd::Claim { op, tag } => {
                head(out, 'C', *op);
                num(out, *tag);
            }
            Cmd::AddRoutes { op, json } => {
                head(out, 'A', *op);
                field(out, json);
            }
            Cmd::Fail { op, text } => {
                head(out, 'E', *op);
                field(out, text);
            }
            Cmd::Warn { text } => {
                head(out, 'W', 0);
                field(out, text);
            }
            Cmd::LoadState { op, tag } => {
                head(out, 'L', *op);
                num(out, *tag);
            }
            Cmd::SaveState { op, tag, text } => {
                head(out, 'V', *op);
                num(out, *tag);
                field(out, text);
            }
            Cmd::FetchFeed { op, tag, path, etag, cap } => {
                head(out, 'G', *op);
                num(out, *tag);
                field(out, path);
                field(out, etag.as_deref().unwrap_or(""));
                num(out, *cap);
            }
            Cmd::Broadcast { json } => {
                head(out, 'B', 0);
                field(out, json);
            }
            Cmd::Done { op } => head(out, 'Z', *op),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_encode_one_per_line() {
        let cmds = vec![
            Cmd::Match { op: 1, tag: 1, slot: 2, req: Req::Own },
            Cmd::Put {
                op: 1,
                tag: 16777216,
                slot: 2,
                req: Req::Path("/a?b".into()),
                from: 3,
                stamp: Some(1_795_000_000_123.0),
            },
            Cmd::Put { op: 1, tag: 9, slot: 0, req: Req::Own, from: 3, stamp: None },
            Cmd::Delete { op: 2, tag: 5, slot: 0, reqs: vec![Req::Key { list: 50331648, index: 7 }, Req::Own] },
            Cmd::Respond { op: 1, answer: Answer::Error { status: 503, reason: "Service Unavailable", text: "a\tb" } },
            Cmd::Reply { op: 3, json: "{\"type\":\"X\"}".into() },
            Cmd::Done { op: 1 },
        ];
        let mut out = String::new();
        encode(&cmds, &mut out);
        assert_eq!(
            out,
            "M\t1\t1\t2\to\nP\t1\t16777216\t2\tp/a?b\t3\t1795000000123\nP\t1\t9\t0\to\t3\t\nD\t2\t5\t0\tk50331648.7\to\n\
             R\t1\te\t503\tService Unavailable\ta b\nY\t3\t{\"type\":\"X\"}\nZ\t1"
        );
    }

    #[test]
    fn results_decode() {
        assert_eq!(decode_io(kind::HIT, f64::NAN, ""), Some(Io::Matched(Some(Entry::default()))));
        assert_eq!(
            decode_io(kind::HIT, 5.0, "a, b"),
            Some(Io::Matched(Some(Entry {
                stamp_ms: Some(5.0),
                tags: Some("a, b".into()),
                validator: None,
                size: None
            })))
        );
        let Some(Io::Fetched(Ok(r))) = decode_io(kind::RESPONSE, 200.0, "or\nno-store\n\ntag1\n12\n\"v1\"") else {
            panic!()
        };
        assert_eq!((r.feed_seq.as_deref(), r.validator.as_deref()), (Some("12"), Some("\"v1\"")));
        assert_eq!((r.status, r.opaque, r.redirected), (200, true, true));
        assert_eq!((r.cache_control.as_deref(), r.vary, r.tags.as_deref()), (Some("no-store"), None, Some("tag1")));
        let Some(Io::Fetched(Ok(r))) = decode_io(kind::RESPONSE, 404.0, "") else { panic!() };
        assert_eq!((r.status, r.cache_control), (404, None));
        assert_eq!(decode_io(kind::KEYS, 0.0, ""), Some(Io::Keys(vec![])));
        assert_eq!(
            decode_io(kind::KEYS, 0.0, "http://x/a\nhttp://x/b"),
            Some(Io::Keys(vec!["http://x/a".into(), "http://x/b".into()]))
        );
        assert_eq!(decode_io(kind::DELETED, -3.0, ""), Some(Io::Deleted(0)));
        assert_eq!(decode_io(99, 0.0, ""), None);
        assert_eq!(decode_io(kind::TEXT, 0.0, ""), Some(Io::Text(None)));
        assert_eq!(
            decode_io(kind::FEED, 200.0, "\"e1\"\n{\"a\":\n1}"),
            Some(Io::Feed { status: 200, etag: Some("\"e1\"".into()), text: Some("{\"a\":\n1}".into()) })
        );
        assert_eq!(decode_io(kind::FEED, 304.0, "\n"), Some(Io::Feed { status: 304, etag: None, text: None }));
        let r = decode_request(flag::GET | flag::NAVIGATE, "http://x/p\nno-cache");
        assert!(r.get && r.navigate && r.range.is_none() && !r.image);
        assert_eq!((r.href, r.cache), ("http://x/p", "no-cache"));
        let r = decode_request(flag::GET | flag::RANGE | flag::IMAGE, "http://x/v.mp4\ndefault\nbytes=0-");
        assert_eq!((r.cache, r.range, r.image), ("default", Some("bytes=0-"), true));
        assert_eq!(decode_io(kind::SIZE, 1234.0, ""), Some(Io::Size(Some(1234))));
        assert_eq!(decode_io(kind::SIZE, -1.0, ""), Some(Io::Size(None)));
        let mut out = String::new();
        encode(
            &[
                Cmd::Respond { op: 4, answer: Answer::Range { from: 14, start: 0, end: 9, size: 100 } },
                Cmd::Preload { op: 4, tag: 3 },
                Cmd::Respond { op: 4, answer: Answer::Unsatisfiable { size: 100 } },
            ],
            &mut out,
        );
        assert_eq!(out, "R\t4\tr\t14\t0\t9\t100\nF\t4\t3\to\t2\nR\t4\tu\t100");
    }

    /// The shim answers GET_STATS itself when the engine failed to load; its text must
    /// be the engine's own shape.
    #[test]
    fn shim_carries_the_engines_failed_open_reply() {
        let shim = include_str!("../../www/swcache-sw.shim.js");
        let want = super::super::engine::failed_open_stats_json();
        assert!(shim.contains(&want), "www/swcache-sw.shim.js must contain {want}");
    }
}
