//! Small helpers over js-sys: turning JS values into the core's [`Value`], building
//! reply objects, and awaiting promises with a timeout.

use js_sys::{Array, Object, Promise, Reflect, RegExp};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::core::value::Value;

/// Nesting deeper than this is not a config or message anyone means to send.
const MAX_DEPTH: u32 = 8;
/// Arrays are converted up to this length (one past the largest valid list).
const MAX_ARRAY: usize = crate::core::message::MAX_URLS + 1;

/// Converts a JS value for validation. RegExp objects are moved into `regexps` and
/// referred to by index.
pub fn to_value(v: &JsValue, regexps: &mut Vec<RegExp>) -> Value {
    convert(v, regexps, 0)
}

fn convert(v: &JsValue, regexps: &mut Vec<RegExp>, depth: u32) -> Value {
    if v.is_undefined() {
        return Value::Undefined;
    }
    if v.is_null() {
        return Value::Null;
    }
    if let Some(b) = v.as_bool() {
        return Value::Bool(b);
    }
    if let Some(n) = v.as_f64() {
        return Value::Num(n);
    }
    if let Some(s) = v.as_string() {
        return Value::Str(s);
    }
    if depth >= MAX_DEPTH {
        return Value::Other("a too deeply nested value");
    }
    if let Some(re) = v.dyn_ref::<RegExp>() {
        regexps.push(re.clone());
        return Value::RegExp((regexps.len() - 1) as u32);
    }
    if Array::is_array(v) {
        // Past the message limit only the length matters: convert just enough to trip it.
        let arr: &Array = v.unchecked_ref();
        let take = (arr.length() as usize).min(MAX_ARRAY);
        return Value::Arr(arr.iter().take(take).map(|x| convert(&x, regexps, depth + 1)).collect());
    }
    if v.is_function() {
        return Value::Other("a function");
    }
    if v.is_object() {
        let entries = Object::entries(v.unchecked_ref());
        let props = entries
            .iter()
            .filter_map(|pair| {
                let pair: Array = pair.unchecked_into();
                let key = pair.get(0).as_string()?;
                Some((key, convert(&pair.get(1), regexps, depth + 1)))
            })
            .collect();
        return Value::Obj(props);
    }
    Value::Other("an unsupported value")
}

/// `{}` with properties set in order.
pub fn object(props: &[(&str, JsValue)]) -> Object {
    let o = Object::new();
    for (k, v) in props {
        let _ = Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o
}

pub fn num(n: u64) -> JsValue {
    JsValue::from_f64(n as f64)
}

/// How a promise-with-timeout ended.
pub enum Waited {
    Value(JsValue),
    Rejected,
    TimedOut,
}

pub use crate::web::error_text;

/// A promise resolving to `undefined` after `ms`.
pub fn sleep(ms: u32) -> Promise {
    crate::web::after(ms, JsValue::UNDEFINED)
}

/// Awaits `p`, giving up (without cancelling it) after `timeout_ms`. `p` must never
/// resolve to `undefined` (fetch promises resolve to a Response).
pub async fn wait(p: &Promise, timeout_ms: Option<u32>) -> Waited {
    let raced = match timeout_ms {
        None => p.clone(),
        Some(ms) => Promise::race(&Array::of2(p, &sleep(ms))),
    };
    match JsFuture::from(raced).await {
        Ok(v) if v.is_undefined() => Waited::TimedOut,
        Ok(v) => Waited::Value(v),
        Err(_) => Waited::Rejected,
    }
}
