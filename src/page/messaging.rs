//! `register()` and request/reply messages to the active worker over a MessageChannel.

use std::cell::Cell;
use std::rc::Rc;

use js_sys::{Array, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use web_sys::{MessageChannel, MessageEvent, RegistrationOptions, ServiceWorkerContainer, ServiceWorkerRegistration};

use super::{reject, window};

fn container() -> Option<ServiceWorkerContainer> {
    let nav = window().navigator();
    // `navigator.serviceWorker` is absent on insecure origins and old browsers.
    Reflect::has(&nav, &JsValue::from_str("serviceWorker")).ok()?.then(|| nav.service_worker())
}

fn get(o: &JsValue, key: &str) -> JsValue {
    Reflect::get(o, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// `after` for a user-given timeout in ms (negative or NaN → at once).
fn after_ms(ms: f64, value: JsValue) -> Promise {
    crate::web::after(ms.max(0.0) as u32, value)
}

/// Registers `url` and resolves with the registration once the page is controlled.
/// Where service workers are unsupported it resolves with `undefined` (a no-op).
/// Rejects if registration fails, the install fails, or nothing controls the page
/// within `opts.timeout` ms (default 10000; `waitForClients` workers need a reload).
#[wasm_bindgen]
pub fn register(url: String, opts: JsValue) -> Promise {
    let Some(sw) = container() else { return Promise::resolve(&JsValue::UNDEFINED) };
    let timeout = get(&opts, "timeout").as_f64().unwrap_or(10_000.0);
    let reg_opts = RegistrationOptions::new();
    if let Some(scope) = get(&opts, "scope").as_string() {
        reg_opts.set_scope(&scope);
    }
    future_to_promise(async move {
        let reg: ServiceWorkerRegistration =
            JsFuture::from(sw.register_with_options(&url, &reg_opts)).await?.unchecked_into();
        if sw.controller().is_some() {
            return Ok(reg.into());
        }
        let worker = reg.installing().or_else(|| reg.waiting()).or_else(|| reg.active());
        let settled = Promise::new(&mut |resolve, reject| {
            let done = Rc::new(Cell::new(false));
            let (sw2, w2, reg2) = (sw.clone(), worker.clone(), reg.clone());
            let check = Closure::<dyn FnMut()>::new(move || {
                if done.get() {
                    return;
                }
                if sw2.controller().is_some() {
                    done.set(true);
                    let _ = resolve.call1(&JsValue::NULL, &reg2);
                } else if w2.as_ref().is_some_and(|w| w.state() == web_sys::ServiceWorkerState::Redundant) {
                    done.set(true);
                    let _ = reject.call1(&JsValue::NULL, &JsError::new("swcache: the worker failed to install").into());
                }
            });
            let f = check.as_ref().unchecked_ref();
            let _ = sw.add_event_listener_with_callback("controllerchange", f);
            if let Some(w) = &worker {
                let _ = w.add_event_listener_with_callback("statechange", f);
            }
            check.forget();
        });
        let timed_out = after_ms(timeout, JsValue::from_str("timeout"));
        let first = JsFuture::from(Promise::race(&Array::of2(&settled, &timed_out))).await?;
        if first.as_string().as_deref() == Some("timeout") {
            return Err(JsError::new(&format!(
                "swcache: the worker did not control this page within {} ms (a waitForClients worker needs a reload)",
                timeout as u64
            ))
            .into());
        }
        Ok(first)
    })
}

/// Posts `msg` to the active worker and resolves with its reply; rejects on an
/// `{type:'ERROR'}` reply, or when no reply comes within `timeout_ms`.
#[wasm_bindgen]
pub fn post(msg: JsValue, timeout_ms: f64) -> Promise {
    let Some(sw) = container() else { return reject("swcache: service workers are not supported here") };
    future_to_promise(async move {
        let reg: ServiceWorkerRegistration = JsFuture::from(sw.ready()?).await?.unchecked_into();
        let Some(active) = reg.active() else { return Err(JsError::new("swcache: no active worker").into()) };
        let channel = MessageChannel::new()?;
        let port = channel.port1();
        let reply = Promise::new(&mut |resolve, _| {
            let on_message = Closure::once_into_js(move |e: MessageEvent| {
                let _ = resolve.call1(&JsValue::NULL, &e.data());
            });
            port.set_onmessage(Some(on_message.unchecked_ref()));
        });
        active.post_message_with_transferable(&msg, &Array::of1(&channel.port2()))?;
        let timed_out = after_ms(timeout_ms, JsValue::from_str("__swcache_timeout"));
        let data = JsFuture::from(Promise::race(&Array::of2(&reply, &timed_out))).await?;
        port.close();
        if data.as_string().as_deref() == Some("__swcache_timeout") {
            return Err(JsError::new(&format!("swcache: the worker did not reply within {} ms", timeout_ms as u64)).into());
        }
        if get(&data, "type").as_string().as_deref() == Some("ERROR") {
            let text = get(&data, "error").as_string().unwrap_or_else(|| "swcache: error".into());
            return Err(JsError::new(&text).into());
        }
        Ok(data)
    })
}

/// Absolute form of each URL (relative ones resolved against the page), so the worker
/// sees exactly what `Request.url` will be.
fn absolute_urls(list: &JsValue) -> Result<JsValue, JsValue> {
    if !Array::is_array(list) {
        return Ok(list.clone()); // the worker answers the malformed message with an error
    }
    let base = window().location().href()?;
    let out = Array::new();
    for item in Array::from(list).iter() {
        match item.as_string().and_then(|s| web_sys::Url::new_with_base(&s, &base).ok()) {
            Some(u) => out.push(&JsValue::from_str(&u.href())),
            None => out.push(&item),
        };
    }
    Ok(out.into())
}

/// CACHE_INVALIDATION with relative URLs resolved and `timestamp` defaulting to now.
#[wasm_bindgen]
pub fn invalidate(msg: JsValue, timeout_ms: f64) -> Promise {
    let out = js_sys::Object::new();
    if msg.is_object() {
        let _ = js_sys::Object::assign(&out, msg.unchecked_ref());
    }
    let set = |k: &str, v: &JsValue| {
        let _ = Reflect::set(&out, &JsValue::from_str(k), v);
    };
    set("type", &JsValue::from_str("CACHE_INVALIDATION"));
    let urls = get(&out, "urls");
    if !urls.is_undefined() {
        match absolute_urls(&urls) {
            Ok(u) => set("urls", &u),
            Err(e) => return Promise::reject(&e),
        }
    }
    if get(&out, "timestamp").is_undefined() {
        set("timestamp", &js_sys::Date::new_0().to_iso_string());
    }
    post(out.into(), timeout_ms)
}

/// PREFETCH of `urls` (relative ones resolved against the page). Under Save-Data the
/// message says so and the worker fetches nothing.
#[wasm_bindgen]
pub fn prefetch(urls: JsValue, timeout_ms: f64) -> Promise {
    let urls = match absolute_urls(&urls) {
        Ok(u) => u,
        Err(e) => return Promise::reject(&e),
    };
    let nav = window().navigator();
    let connection = get(&nav, "connection");
    let save_data = !connection.is_undefined() && get(&connection, "saveData").as_bool() == Some(true);
    let msg = js_sys::Object::new();
    let _ = Reflect::set(&msg, &JsValue::from_str("type"), &JsValue::from_str("PREFETCH"));
    let _ = Reflect::set(&msg, &JsValue::from_str("urls"), &urls);
    if save_data {
        let _ = Reflect::set(&msg, &JsValue::from_str("saveData"), &JsValue::TRUE);
    }
    post(msg.into(), timeout_ms)
}
