//! The worker build's exports: the engine behind a handful of plain wasm functions that
//! the JavaScript executor (`www/swcache-sw.shim.js`) calls with numbers and UTF-8 text
//! in linear memory. No wasm-bindgen, no js-sys: the executor does the I/O and the wire
//! format is [`crate::core::wire`]. Nothing here decides anything.

use crate::core::engine::Engine;
use crate::core::prelude::*;
use crate::core::wire;
use crate::wasm::{Global, Io};

#[link(wasm_import_module = "env")]
extern "C" {
    /// Runs the config's RegExp number `index` on the text: 1 if it matches.
    fn re(index: u32, ptr: *const u8, len: usize) -> u32;
    /// Resolves a URL with the browser's parser (relative to the worker), writing the
    /// href to `out`: its length, or -1 if invalid or longer than `cap`.
    fn url(ptr: *const u8, len: usize, out: *mut u8, cap: usize) -> i32;
}

/// One engine, and the executor's buffers.
struct State {
    engine: Option<Engine>,
    io: Io,
}

static STATE: Global<State> = Global::new(State { engine: None, io: Io::new() });

fn state() -> &'static mut State {
    STATE.get()
}

fn input(len: u32) -> &'static str {
    state().io.text(len)
}

fn flush() -> u32 {
    let s = state();
    s.io.out.clear();
    if let Some(e) = s.engine.as_mut() {
        let cmds = e.take();
        wire::encode(&cmds, &mut s.io.out);
    }
    s.io.out.len() as u32
}

#[allow(unsafe_code, reason = "a call to the executor's import")]
fn test_regexp(index: u32, text: &str) -> bool {
    // SAFETY: `re` reads `len` bytes at `ptr`, which `text` holds for the call.
    unsafe { re(index, text.as_ptr(), text.len()) == 1 }
}

#[allow(unsafe_code, reason = "a call to the executor's import")]
fn resolve_url(s: &str) -> Option<String> {
    let cap = s.len() * 3 + 256;
    let mut buf = vec![0u8; cap];
    // SAFETY: `url` reads `s` and writes at most `cap` bytes into `buf`, which holds `cap`.
    let n = unsafe { url(s.as_ptr(), s.len(), buf.as_mut_ptr(), cap) };
    if n < 0 {
        return None;
    }
    buf.truncate(n as usize);
    String::from_utf8(buf).ok()
}

/// A buffer of at least `len` bytes for the next call's text.
#[allow(unsafe_code, reason = "`#[no_mangle]`: the executor calls it by this name")]
#[no_mangle]
pub extern "C" fn swc_buf(len: u32) -> *mut u8 {
    state().io.buf(len)
}

#[allow(unsafe_code, reason = "`#[no_mangle]`: the executor calls it by this name")]
#[no_mangle]
pub extern "C" fn swc_out_ptr() -> *const u8 {
    state().io.out.as_ptr()
}

#[allow(unsafe_code, reason = "`#[no_mangle]`: the executor calls it by this name")]
#[no_mangle]
pub extern "C" fn swc_out_len() -> u32 {
    state().io.out.len() as u32
}

/// `swcache.start`: the input is `origin \n config JSON`. Returns 1 and writes the cache
/// names (one per line, by slot), or 0 and writes the config error.
#[allow(unsafe_code, reason = "`#[no_mangle]`: the executor calls it by this name")]
#[no_mangle]
pub extern "C" fn swc_start(len: u32, now: f64) -> u32 {
    let text = input(len);
    let (origin, json) = text.split_once('\n').unwrap_or((text, ""));
    let value = crate::core::text::read_json(json).unwrap_or(crate::core::value::Value::Other("not a plain object"));
    let made = Engine::new(&value, origin, now, Box::new(test_regexp), Box::new(resolve_url));
    let s = state();
    s.io.out.clear();
    match made {
        Ok(e) => {
            for (i, n) in e.cache_names().iter().enumerate() {
                if i > 0 {
                    s.io.out.push('\n');
                }
                s.io.out.push_str(n);
            }
            s.engine = Some(e);
            1
        }
        Err(msg) => {
            s.io.out.push_str(&msg);
            0
        }
    }
}

/// A fetch event (`flags`: [`wire::flag`]; input `url \n cache`): the operation id, or 0
/// to leave the request to the browser. Commands are in the output.
#[allow(unsafe_code, reason = "`#[no_mangle]`: the executor calls it by this name")]
#[no_mangle]
pub extern "C" fn swc_fetch(flags: u32, len: u32, now: f64) -> u32 {
    let req = wire::decode_request(flags, input(len));
    let op = state().engine.as_mut().and_then(|e| e.fetch(&req, now)).unwrap_or(0);
    flush();
    op
}

/// A message (`ok` 0: `event.data` could not be serialised; input: its JSON).
#[allow(unsafe_code, reason = "`#[no_mangle]`: the executor calls it by this name")]
#[no_mangle]
pub extern "C" fn swc_message(ok: u32, len: u32, save_data: u32, now: f64) -> u32 {
    let json = (ok != 0).then(|| input(len));
    let op = state().engine.as_mut().map_or(0, |e| e.message(json, save_data != 0, now));
    flush();
    op
}

#[allow(unsafe_code, reason = "`#[no_mangle]`: the executor calls it by this name")]
#[no_mangle]
pub extern "C" fn swc_install() -> u32 {
    let op = state().engine.as_mut().map_or(0, |e| e.install());
    flush();
    op
}

#[allow(unsafe_code, reason = "`#[no_mangle]`: the executor calls it by this name")]
#[no_mangle]
pub extern "C" fn swc_activate() -> u32 {
    let op = state().engine.as_mut().map_or(0, |e| e.activate());
    flush();
    op
}

/// The result of a command (see [`wire::decode_io`]). Returns the output length.
#[allow(unsafe_code, reason = "`#[no_mangle]`: the executor calls it by this name")]
#[no_mangle]
pub extern "C" fn swc_io(op: u32, tag: u32, kind: u32, num: f64, len: u32, now: f64) -> u32 {
    if let (Some(io), Some(e)) = (wire::decode_io(kind, num, input(len)), state().engine.as_mut()) {
        e.io(op, tag, io, now);
    }
    flush()
}
