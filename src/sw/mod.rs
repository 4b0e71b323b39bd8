//! The worker adapter: the engine ([`Engine`]) bound to the service worker's APIs with
//! wasm-bindgen, web-sys and js-sys. `www/swcache-sw.shim.js` registers the listeners
//! during the first evaluation, hands each event to the exports here, and fails open;
//! this module carries out the engine's commands (`exec.rs`) and feeds their results back.
//! Nothing here decides anything.
//!
//! * `mod.rs`: the exports (`start_engine`, `on_install`, `on_activate`, `on_fetch`,
//!   `on_message`) and the state: the engine, its caches' names, the running operations;
//! * `exec.rs`: one function per command, each a Cache Storage, fetch, Response, clients
//!   or timer call whose result goes back to [`Engine::io`];
//! * `js.rs`: what web-sys lacks (navigation preload, the Static Routing API, URLPattern,
//!   `saveData`); the config and messages are read by `crate::js_value` (its RegExps
//!   stay JS values held here).

mod exec;
mod js;
mod local;
#[cfg(test)]
mod tests;

use local::{Local, Map};

use js_sys::{Array, Function, Promise, RegExp};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Blob, ExtendableEvent, ExtendableMessageEvent, FetchEvent, Request, Response};

use crate::policy::engine::{Engine, Io, OpId, Tag};
use crate::policy::prelude::*;

#[global_allocator]
static ALLOC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

/// A panic traps (`unreachable`): the shim sees a `WebAssembly.RuntimeError` and fails
/// open. No message is formatted, so no formatting code is shipped. (The tests have std's.)
#[cfg(not(test))]
#[panic_handler]
fn panic(_: &::core::panic::PanicInfo<'_>) -> ! {
    ::core::arch::wasm32::unreachable()
}

/// What an operation holds while it runs: its event, the responses and key listings its
/// steps produced (by tag), and how to end it.
#[derive(Default)]
struct Op {
    /// The install/activate/fetch/message event (its `waitUntil`, ports, preload).
    event: Option<ExtendableEvent>,
    /// The fetch event's own request.
    req: Option<Request>,
    res: Map<Tag, Response>,
    keys: Map<Tag, Array>,
    /// The cached body a ranged answer slices (read by a `Size` step).
    blob: Option<Blob>,
    /// Resolves the page's answer (`respondWith`): with a Response, or undefined for
    /// "the network".
    answer: Option<Function>,
    /// Resolves (or with an error, rejects) the promise the event waits on.
    done: Option<(Function, Function)>,
}

/// The worker's state: one engine, its caches by slot, the operations under way.
struct Worker {
    engine: Engine,
    /// Cache name by slot.
    names: Vec<String>,
    ops: Map<OpId, Op>,
}

static WORKER: Local<Option<Worker>> = Local::new(None);
/// The config's RegExps, by the index [`Value::RegExp`] carries.
static REGEXPS: Local<Vec<RegExp>> = Local::new(Vec::new());
/// The text the route RegExps last ran on: a fetch event tests every route on the same
/// URL, converted to a JS string once.
static TESTED: Local<Option<(String, js_sys::JsString)>> = Local::new(None);

fn now() -> f64 {
    js_sys::Date::now()
}

fn test_regexp(index: u32, text: &str) -> bool {
    let s = TESTED.with_borrow_mut(|t| match t {
        Some((k, v)) if k == text => v.clone(),
        _ => {
            let v = js_sys::JsString::from(text);
            *t = Some((String::from(text), v.clone()));
            v
        }
    });
    REGEXPS.with_borrow(|all| {
        all.get(index as usize).is_some_and(|re| {
            re.set_last_index(0);
            re.test(&String::from(s))
        })
    })
}

fn resolve_url(s: &str) -> Option<String> {
    web_sys::Url::new_with_base(s, &js::scope().location().href()).ok().map(|u| u.href())
}

/// `swcache.start(config)`: validates the config and starts the engine. A bad config
/// throws its message (also logged, and posted to registering pages as `CONFIG_ERROR`).
#[wasm_bindgen]
pub fn start_engine(config: JsValue) -> Result<(), JsValue> {
    let value = REGEXPS.with_borrow_mut(|all| crate::js_value::read(&config, all));
    let origin = js::scope().location().origin();
    match Engine::new(&value, &origin, now(), Box::new(test_regexp), Box::new(resolve_url)) {
        Ok(engine) => {
            let names = engine.cache_names().into_iter().map(String::from).collect();
            WORKER.set(Some(Worker { engine, names, ops: Map::default() }));
            Ok(())
        }
        Err(e) => Err(config_error(&e.message())),
    }
}

/// A bad config: logged, posted to the registering pages (`register()` rejects with it)
/// and thrown.
#[cold]
#[inline(never)]
fn config_error(msg: &str) -> JsValue {
    web_sys::console::error_1(&JsValue::from_str(msg));
    js::post_config_error(msg);
    js_sys::Error::new(msg).into()
}

/// Runs `f` on the started engine, then carries out the commands it produced.
fn with_engine<T>(f: impl FnOnce(&mut Worker) -> T) -> Option<T> {
    let (out, cmds) = WORKER.with_borrow_mut(|w| {
        let w = w.as_mut()?;
        let out = f(w);
        Some((out, w.engine.take()))
    })?;
    exec::run(cmds);
    Some(out)
}

/// Registers an operation's event, and the promise the event waits on.
fn begin(w: &mut Worker, id: OpId, event: &ExtendableEvent) {
    let mut done = None;
    let promise = Promise::new(&mut |resolve, reject| done = Some((resolve, reject)));
    let op = w.ops.or_default(id);
    op.event = Some(event.clone());
    op.done = done;
    let _ = event.wait_until(&promise);
}

/// Install: precache and the router rules. `false`: no engine (the shim then skips waiting).
#[wasm_bindgen]
pub fn on_install(event: ExtendableEvent) -> bool {
    lifecycle(&event, Engine::install)
}

/// Activate: old caches and precache entries deleted, the pages claimed. `false`: no
/// engine (the shim then claims the pages itself).
#[wasm_bindgen]
pub fn on_activate(event: ExtendableEvent) -> bool {
    lifecycle(&event, Engine::activate)
}

/// Starts the engine's operation for a lifecycle event, which waits on it.
fn lifecycle(event: &ExtendableEvent, start: fn(&mut Engine) -> OpId) -> bool {
    with_engine(|w| {
        let id = start(&mut w.engine);
        begin(w, id, event);
    })
    .is_some()
}

/// A fetch event: `true` if the engine answers it, through `answer` (called with a
/// Response, or with nothing for "the network"); `false` leaves it to the browser.
#[wasm_bindgen]
pub fn on_fetch(event: FetchEvent, answer: Function) -> bool {
    let req = event.request();
    let href = req.url();
    let headers = req.headers();
    let range = headers.get("range").ok().flatten();
    let accept = headers.get("accept").ok().flatten();
    let cache = js::request_cache(&req);
    let method = req.method();
    let facts = crate::policy::engine::Request {
        get: method == "GET",
        href: &href,
        navigate: req.mode() == web_sys::RequestMode::Navigate,
        cache: &cache,
        range: range.as_deref(),
        image: req.destination() == web_sys::RequestDestination::Image,
        no_cors: req.mode() == web_sys::RequestMode::NoCors,
        accept: accept.as_deref(),
        conditional: ["if-none-match", "if-modified-since"].iter().any(|h| headers.get(h).ok().flatten().is_some()),
        authorized: headers.get("authorization").ok().flatten().is_some(),
        offline: !js::scope().navigator().on_line(),
    };
    // A request that may change its URL's content (a form's POST, an API's PUT or DELETE)
    // is left to the browser; the copies of its URL go meanwhile.
    let changes = !matches!(method.as_str(), "GET" | "HEAD" | "OPTIONS");
    let ev: &ExtendableEvent = event.unchecked_ref();
    let handled = with_engine(|w| {
        if let Some(id) = changes.then(|| w.engine.change(&href, now())).flatten() {
            begin(w, id, ev);
        }
        let id = w.engine.fetch(&facts, now())?;
        begin(w, id, ev);
        let op = w.ops.or_default(id);
        op.req = Some(Clone::clone(&req));
        op.answer = Some(answer);
        Some(id)
    });
    TESTED.set(None);
    let handled = handled.flatten().is_some();
    if handled && facts.navigate {
        // A navigation preload the engine does not use must still settle (the browser
        // cancels it, with a console warning, if the event ends first).
        js::settle_preload(&event);
    }
    handled
}

/// A message from a page (`event.data` read as a plain value, `js_value::read_plain`).
#[wasm_bindgen]
pub fn on_message(event: ExtendableMessageEvent) {
    // A RegExp in a message is no valid field: its JS object is not kept.
    let value = Some(crate::js_value::read_plain(&event.data()));
    let save_data = js::save_data();
    with_engine(|w| {
        let id = w.engine.message(value, save_data, now());
        begin(w, id, event.unchecked_ref());
    });
}

/// Hands a command's result to the engine, then carries out what it answers with.
fn feed(op: OpId, tag: Tag, io: Io) {
    with_engine(|w| w.engine.io(op, tag, io, now()));
}

/// Runs `f` on a running operation (`None`: it ended, or the engine is gone). Operations
/// of the engine's own (sweeps, feed checks) have no event: their record starts here.
fn with_op<T>(id: OpId, f: impl FnOnce(&mut Op) -> T) -> Option<T> {
    WORKER.with_borrow_mut(|w| {
        let w = w.as_mut()?;
        if w.ops.get(&id).is_none() && !w.engine.is_running(id) {
            return None;
        }
        Some(f(w.ops.or_default(id)))
    })
}

/// Ends an operation: its event is released; `error` fails it (install fails).
fn end(id: OpId, error: Option<&str>) {
    let Some(op) = WORKER.with_borrow_mut(|w| w.as_mut()?.ops.remove(&id)) else { return };
    if let Some(answer) = op.answer {
        let _ = answer.call0(&JsValue::UNDEFINED);
    }
    if let Some((resolve, reject)) = op.done {
        let _ = match error {
            Some(e) => reject.call1(&JsValue::UNDEFINED, &js_sys::Error::new(e)),
            None => resolve.call0(&JsValue::UNDEFINED),
        };
    }
}

/// What [`exec`] needs of the state for one command, taken without holding the borrow
/// across JavaScript calls.
fn cache_name(slot: u32) -> Option<String> {
    WORKER.with_borrow(|w| w.as_ref()?.names.get(slot as usize).cloned())
}
