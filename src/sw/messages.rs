//! Messages from pages (CACHE_INVALIDATION, PREFETCH, GET_STATS).

use std::rc::Rc;

use js_sys::{Object, Promise};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::future_to_promise;
use web_sys::{ExtendableMessageEvent, MessagePort};

use super::js::{self, num, object};
use super::Engine;
use crate::core::stats::Counters;

fn counters(c: &Counters) -> [(&'static str, JsValue); 6] {
    [
        ("hits", num(c.hits)),
        ("misses", num(c.misses)),
        ("staleServed", num(c.stale_served)),
        ("networkErrors", num(c.network_errors)),
        ("evictions", num(c.evictions)),
        ("invalidations", num(c.invalidations)),
    ]
}

fn stats_reply(eng: &Engine) -> Object {
    let stats = eng.stats.borrow();
    let routes = Object::new();
    for slot in 0..stats.slots() {
        let name = &eng.route(slot).name;
        let _ = js_sys::Reflect::set(&routes, &JsValue::from_str(name), &object(&counters(&stats.route(slot))));
    }
    let mut props: Vec<(&str, JsValue)> = vec![("type", JsValue::from_str("STATS"))];
    props.extend(counters(&stats.total()));
    props.push(("routes", routes.into()));
    props.push(("engine", JsValue::from_str("ok")));
    object(&props)
}

fn error_reply(msg: &str) -> Object {
    object(&[("type", JsValue::from_str("ERROR")), ("error", JsValue::from_str(msg))])
}

pub fn handle(eng: Option<Rc<Engine>>, event: &ExtendableMessageEvent) -> Promise {
    let port: Option<MessagePort> = event.ports().get(0).dyn_into().ok();
    let data = event.data();
    let reply = |o: Object| {
        if let Some(p) = &port {
            let _ = p.post_message(&o);
        }
    };
    let Some(eng) = eng else {
        reply(error_reply("swcache: the worker never called swcache.start(config)"));
        return Promise::resolve(&JsValue::UNDEFINED);
    };
    let kind = js_sys::Reflect::get(&data, &JsValue::from_str("type")).ok().and_then(|t| t.as_string());
    match kind.as_deref() {
        Some("GET_STATS") => reply(stats_reply(&eng)),
        _ => reply(error_reply("swcache: unknown message type")),
    }
    let _ = js::error_text;
    future_to_promise(async { Ok(JsValue::UNDEFINED) })
}
