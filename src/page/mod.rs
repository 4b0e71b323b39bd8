//! The page build: the hydration scheduler ([`Hydrator`]) behind plain wasm exports for
//! the page module's executor (`www/swcache-page.js`), which does the DOM work
//! (observers, listeners, timers, fetch, render callbacks, events) and decides nothing.
//! `no_std`, no wasm-bindgen: the page module stays small, and the wasm is fetched only
//! when a page calls `hydrate()`.
//!
//! Calls take numbers and UTF-8 text in linear memory; each answers with commands, one
//! per line (`O k` observe, `U k` unobserve, `I` request idle, `W k query` watch a media
//! query, `F k reload` fetch, `R k i|f` render inline or fetched data, `H k ms`
//! hydrated, `X k ms attempts` hydration error), then `T due` (the next timeout, empty
//! for none).

use crate::cat;
use crate::core::hydrate::{
    Command, ComponentDesc, DataSource, Event, Hydrator, Notice, Options, Trigger, TypeOptions,
};
use crate::core::prelude::*;
use crate::core::text::{cold, push_u64};
use crate::wasm::{Global, Io};

struct State {
    hydrator: Option<Hydrator>,
    pending: Option<Options>,
    io: Io,
}

static STATE: Global<State> = Global::new(State { hydrator: None, pending: None, io: Io::new() });

fn state() -> &'static mut State {
    STATE.get()
}

fn input(len: u32) -> &'static str {
    state().io.text(len)
}

#[allow(unsafe_code, reason = "`#[no_mangle]`: the executor calls it by this name")]
#[no_mangle]
pub extern "C" fn hyd_buf(len: u32) -> *mut u8 {
    state().io.buf(len)
}

#[allow(unsafe_code, reason = "`#[no_mangle]`: the executor calls it by this name")]
#[no_mangle]
pub extern "C" fn hyd_out_ptr() -> *const u8 {
    state().io.out.as_ptr()
}

#[allow(unsafe_code, reason = "`#[no_mangle]`: the executor calls it by this name")]
#[no_mangle]
pub extern "C" fn hyd_out_len() -> u32 {
    state().io.out.len() as u32
}

fn bad(field: &str, want: &str) -> String {
    cold(|| cat!("swcache hydrate: option '", field, "' must be ", want))
}

/// The option being set: its path and what the executor saw.
const T_UNDEFINED: u32 = 0;
const T_NUMBER: u32 = 1;
const T_STRING: u32 = 2;
const T_FUNCTION: u32 = 3;
const T_FALSE: u32 = 4;
const T_OBJECT: u32 = 5;

const OPTIONS: [&str; 8] =
    ["rootMargin", "preload", "maxConcurrent", "maxRetries", "retryBaseMs", "pageSlug", "render", "types"];
const TYPE_OPTIONS: [&str; 4] = ["maxAge", "poll", "trigger", "render"];

fn option_error(text: &str) -> u32 {
    let s = state();
    s.io.out.clear();
    s.io.out.push_str(text);
    0
}

/// One option of `hydrate(opts)`, as the executor walks the object: input `path` (such as
/// `preload` or `types.JOB_LISTINGS.poll`), `kind` what the value is (`T_*`), `num` the
/// number, the string in the input after a newline. Validated here; 0 and the error
/// (naming the option) in the output when it is wrong. Options collect until
/// [`hyd_new`].
#[allow(unsafe_code, reason = "`#[no_mangle]`: the executor calls it by this name")]
#[no_mangle]
pub extern "C" fn hyd_opt(kind: u32, num: f64, len: u32) -> u32 {
    let text = input(len);
    let (path, string) = text.split_once('\n').unwrap_or((text, ""));
    let s = state();
    let o = s.pending.get_or_insert_with(Options::default);
    let mut parts = path.splitn(3, '.');
    let top = parts.next().unwrap_or("");
    let number = kind == T_NUMBER && num.is_finite() && num >= 0.0;
    match (top, parts.next(), parts.next()) {
        ("types", None, None) if kind == T_OBJECT => 1,
        ("types", None, None) => option_error(&bad("types", "an object keyed by component type")),
        ("types", Some(name), None) if kind == T_OBJECT => {
            o.types.push(TypeOptions { name: String::from(name), ..TypeOptions::default() });
            1
        }
        ("types", Some(_), None) => option_error(&bad(path, "an object")),
        ("types", Some(name), Some(field)) => {
            let Some(t) = o.types.iter_mut().find(|t| t.name == name) else {
                return option_error(&bad(path, "inside an object"));
            };
            match field {
                "maxAge" | "poll" if kind == T_FALSE || number => {
                    let v = if kind == T_FALSE { 0.0 } else { num };
                    if field == "maxAge" {
                        t.max_age_ms = Some(v);
                    } else {
                        t.poll_ms = Some(v);
                    }
                    1
                }
                "maxAge" | "poll" => option_error(&bad(path, "a number of milliseconds (or false)")),
                "trigger" => match (kind == T_STRING).then(|| Trigger::parse(string)).flatten() {
                    Some(tr) => {
                        t.trigger = Some(tr);
                        1
                    }
                    None => option_error(&bad(path, "'visible', 'idle', 'interaction', 'eager' or 'media:<query>'")),
                },
                "render" if kind == T_FUNCTION => 1,
                "render" => option_error(&bad(path, "a function")),
                _ => option_error(&cold(|| {
                    cat!("swcache hydrate: unknown option '", path, "' (expected one of ", TYPE_OPTIONS.join(", "), ")")
                })),
            }
        }
        ("render", None, None) if kind == T_FUNCTION => 1,
        ("render", None, None) => option_error(&bad("render", "a function")),
        ("pageSlug", None, None) if kind == T_STRING => 1,
        ("pageSlug", None, None) => option_error(&bad("pageSlug", "a string")),
        ("rootMargin", None, None) if number || kind == T_STRING => {
            o.root_margin_px = if number {
                num as u32
            } else {
                string.trim().strip_suffix("px").and_then(|n| n.trim().parse().ok()).unwrap_or(50)
            };
            1
        }
        ("rootMargin", None, None) => option_error(&bad("rootMargin", "a CSS margin string or a number of pixels")),
        ("preload" | "maxConcurrent" | "maxRetries" | "retryBaseMs", None, None) if number => {
            let n = crate::core::text::trunc(num);
            match top {
                "preload" => o.preload = n as usize,
                "maxConcurrent" => o.max_concurrent = n as usize,
                "maxRetries" => o.max_retries = n as u32,
                _ => o.retry_base_ms = n,
            }
            1
        }
        ("preload" | "maxConcurrent" | "maxRetries" | "retryBaseMs", None, None) => {
            option_error(&bad(top, "a non-negative number"))
        }
        _ if kind == T_UNDEFINED => 1,
        _ => option_error(&cold(|| {
            cat!("swcache hydrate: unknown option '", path, "' (expected one of ", OPTIONS.join(", "), ")")
        })),
    }
}

fn flush() -> u32 {
    let s = state();
    s.io.out.clear();
    let Some(h) = s.hydrator.as_mut() else { return 0 };
    let out = &mut s.io.out;
    let line = |out: &mut String, code: char| {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push(code);
    };
    let key = |out: &mut String, k: u32| {
        out.push(' ');
        push_u64(out, u64::from(k));
    };
    let ms = |out: &mut String, t: f64| {
        out.push(' ');
        push_u64(out, if t > 0.0 { t as u64 } else { 0 });
    };
    while let Some(c) = h.next_command() {
        match c {
            Command::Observe(k) => {
                line(out, 'O');
                key(out, k);
            }
            Command::Unobserve(k) => {
                line(out, 'U');
                key(out, k);
            }
            Command::RequestIdle => line(out, 'I'),
            Command::WatchMedia { key: k, query } => {
                line(out, 'W');
                key(out, k);
                out.push(' ');
                out.push_str(&query);
            }
            Command::Fetch { key: k, reload } => {
                line(out, 'F');
                key(out, k);
                out.push_str(if reload { " 1" } else { " 0" });
            }
            Command::Render { key: k, source } => {
                line(out, 'R');
                key(out, k);
                out.push_str(if source == DataSource::Inline { " i" } else { " f" });
            }
            Command::Emit(Notice::Hydrated { key: k, ms: t }) => {
                line(out, 'H');
                key(out, k);
                ms(out, t);
            }
            Command::Emit(Notice::HydrationError { key: k, ms: t, attempts }) => {
                line(out, 'X');
                key(out, k);
                ms(out, t);
                key(out, attempts);
            }
        }
    }
    line(out, 'T');
    if let Some(due) = h.next_timeout() {
        ms(out, due);
    }
    out.len() as u32
}

/// `hydrate(opts)` after its options ([`hyd_opt`]): a fresh scheduler.
#[allow(unsafe_code, reason = "`#[no_mangle]`: the executor calls it by this name")]
#[no_mangle]
pub extern "C" fn hyd_new() -> u32 {
    let s = state();
    let o = s.pending.take().unwrap_or_default();
    s.hydrator = Some(Hydrator::new(o));
    flush()
}

/// A component: input `id \n type \n src \n trigger \n inline (0/1) \n fetchedAt ms`.
#[allow(unsafe_code, reason = "`#[no_mangle]`: the executor calls it by this name")]
#[no_mangle]
pub extern "C" fn hyd_add(key: u32, len: u32, now: f64) -> u32 {
    let mut f = input(len).split('\n');
    let mut next = || f.next().unwrap_or("");
    let (id, ty, src, trigger, inline, at) = (next(), next(), next(), next(), next(), next());
    let desc = ComponentDesc {
        component_id: String::from(id),
        component_type: String::from(ty),
        src: (!src.is_empty()).then(|| String::from(src)),
        inline_fetched_at_ms: at.parse::<u64>().ok().map(|t| t as f64),
        has_inline_data: inline == "1",
        trigger: Trigger::parse(trigger),
    };
    let added = state().hydrator.as_mut().is_some_and(|h| h.add(key, desc, now));
    flush();
    u32::from(added)
}

/// An event: kinds 0 visible, 1 idle, 2 interaction, 3 media matched, 4 fetch done
/// (`a` 1 ok, `b` the age in ms or NaN), 5 rendered, 6 render failed, 7 removed,
/// 8 document hidden, 9 document visible, 10 invalidated.
#[allow(unsafe_code, reason = "`#[no_mangle]`: the executor calls it by this name")]
#[no_mangle]
pub extern "C" fn hyd_event(kind: u32, key: u32, a: f64, b: f64, now: f64) -> u32 {
    let event = match kind {
        0 => Event::Visible(key),
        1 => Event::Idle,
        2 => Event::Interaction(key),
        3 => Event::MediaMatched(key),
        4 => Event::FetchDone { key, ok: a == 1.0, age_ms: b.is_finite().then_some(b) },
        5 => Event::Rendered(key),
        6 => Event::RenderFailed(key),
        7 => Event::Removed(key),
        8 => Event::DocumentHidden,
        9 => Event::DocumentVisible,
        10 => Event::Invalidated(key),
        _ => return flush(),
    };
    if let Some(h) = state().hydrator.as_mut() {
        h.handle(event, now);
    }
    flush()
}

#[allow(unsafe_code, reason = "`#[no_mangle]`: the executor calls it by this name")]
#[no_mangle]
pub extern "C" fn hyd_timeout(now: f64) -> u32 {
    if let Some(h) = state().hydrator.as_mut() {
        h.on_timeout(now);
    }
    flush()
}

/// Whether the worker's `INVALIDATED` notice covers a path: input `path`, then one line
/// per notice item: `a` (all), `u<url>`, `p<prefix>`, `r<removed path>`.
#[allow(unsafe_code, reason = "`#[no_mangle]`: the executor calls it by this name")]
#[no_mangle]
pub extern "C" fn hyd_covers(len: u32) -> u32 {
    let mut lines = input(len).split('\n');
    let path = lines.next().unwrap_or("");
    u32::from(lines.any(|l| {
        let rest = l.get(1..).unwrap_or("");
        match l.as_bytes().first() {
            Some(b'a') => true,
            Some(b'u' | b'r') => rest == path,
            Some(b'p') => path.starts_with(rest),
            _ => false,
        }
    }))
}
