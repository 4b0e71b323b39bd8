//! The worker build's exports: the engine behind a handful of plain wasm functions that
//! the JavaScript executor (`www/swcache-sw.shim.js`) calls with numbers and UTF-8 text
//! in linear memory. No wasm-bindgen, no js-sys: the executor does the I/O and the wire
//! format is [`crate::core::wire`]. Nothing here decides anything.

use ::core::cell::UnsafeCell;

use crate::core::engine::Engine;
use crate::core::prelude::*;
use crate::core::wire;

#[global_allocator]
static ALLOC: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

/// A trap: the executor sees a `WebAssembly.RuntimeError` and fails open.
#[panic_handler]
fn panic(_: &::core::panic::PanicInfo<'_>) -> ! {
    ::core::arch::wasm32::unreachable()
}

#[link(wasm_import_module = "env")]
extern "C" {
    /// Runs the config's RegExp number `index` on the text: 1 if it matches.
    fn re(index: u32, ptr: *const u8, len: usize) -> u32;
    /// Resolves a URL with the browser's parser (relative to the worker), writing the
    /// href to `out`: its length, or -1 if invalid or longer than `cap`.
    fn url(ptr: *const u8, len: usize, out: *mut u8, cap: usize) -> i32;
}

/// The worker is single-threaded: one engine, one input and one output buffer.
struct Global<T>(UnsafeCell<T>);
unsafe impl<T> Sync for Global<T> {}

struct State {
    engine: Option<Engine>,
    input: Vec<u8>,
    out: String,
}

static STATE: Global<State> = Global(UnsafeCell::new(State { engine: None, input: Vec::new(), out: String::new() }));

fn state() -> &'static mut State {
    // SAFETY: one thread, and the executor never calls in again while a call runs (the
    // imports above do not call back).
    unsafe { &mut *STATE.0.get() }
}

fn input(len: u32) -> &'static str {
    let s = state();
    let bytes = s.input.get(..len as usize).unwrap_or(&[]);
    ::core::str::from_utf8(bytes).unwrap_or("")
}

fn flush() -> u32 {
    let s = state();
    s.out.clear();
    if let Some(e) = s.engine.as_mut() {
        let cmds = e.take();
        wire::encode(&cmds, &mut s.out);
    }
    s.out.len() as u32
}

fn test_regexp(index: u32, text: &str) -> bool {
    unsafe { re(index, text.as_ptr(), text.len()) == 1 }
}

fn resolve_url(s: &str) -> Option<String> {
    let cap = s.len() * 3 + 256;
    let mut buf = vec![0u8; cap];
    let n = unsafe { url(s.as_ptr(), s.len(), buf.as_mut_ptr(), cap) };
    if n < 0 {
        return None;
    }
    buf.truncate(n as usize);
    String::from_utf8(buf).ok()
}

/// A buffer of at least `len` bytes for the next call's text.
#[no_mangle]
pub extern "C" fn swc_buf(len: u32) -> *mut u8 {
    let s = state();
    if s.input.len() < len as usize {
        s.input.resize(len as usize, 0);
    }
    s.input.as_mut_ptr()
}

#[no_mangle]
pub extern "C" fn swc_out_ptr() -> *const u8 {
    state().out.as_ptr()
}

#[no_mangle]
pub extern "C" fn swc_out_len() -> u32 {
    state().out.len() as u32
}

/// `swcache.start`: the input is `origin \n config JSON`. Returns 1 and writes the cache
/// names (one per line, by slot), or 0 and writes the config error.
#[no_mangle]
pub extern "C" fn swc_start(len: u32, now: f64) -> u32 {
    let text = input(len);
    let (origin, json) = text.split_once('\n').unwrap_or((text, ""));
    let value = crate::core::text::read_json(json).unwrap_or(crate::core::value::Value::Other("not a plain object"));
    let made = Engine::new(&value, origin, now, Box::new(test_regexp), Box::new(resolve_url));
    let s = state();
    s.out.clear();
    match made {
        Ok(e) => {
            for (i, n) in e.cache_names().iter().enumerate() {
                if i > 0 {
                    s.out.push('\n');
                }
                s.out.push_str(n);
            }
            s.engine = Some(e);
            1
        }
        Err(msg) => {
            s.out.push_str(&msg);
            0
        }
    }
}

/// A fetch event (`flags`: [`wire::flag`]; input `url \n cache`): the operation id, or 0
/// to leave the request to the browser. Commands are in the output.
#[no_mangle]
pub extern "C" fn swc_fetch(flags: u32, len: u32, now: f64) -> u32 {
    let req = wire::decode_request(flags, input(len));
    let op = state().engine.as_mut().and_then(|e| e.fetch(&req, now)).unwrap_or(0);
    flush();
    op
}

/// A message (`ok` 0: `event.data` could not be serialised; input: its JSON).
#[no_mangle]
pub extern "C" fn swc_message(ok: u32, len: u32, save_data: u32, now: f64) -> u32 {
    let json = (ok != 0).then(|| input(len));
    let op = state().engine.as_mut().map_or(0, |e| e.message(json, save_data != 0, now));
    flush();
    op
}

#[no_mangle]
pub extern "C" fn swc_install() -> u32 {
    let op = state().engine.as_mut().map_or(0, |e| e.install());
    flush();
    op
}

#[no_mangle]
pub extern "C" fn swc_activate() -> u32 {
    let op = state().engine.as_mut().map_or(0, |e| e.activate());
    flush();
    op
}

/// The result of a command (see [`wire::decode_io`]). Returns the output length.
#[no_mangle]
pub extern "C" fn swc_io(op: u32, tag: u32, kind: u32, num: f64, len: u32, now: f64) -> u32 {
    if let (Some(io), Some(e)) = (wire::decode_io(kind, num, input(len)), state().engine.as_mut()) {
        e.io(op, tag, io, now);
    }
    flush()
}
