//! Reading a JavaScript value into the policy's [`Value`] model, for both wasm adapters:
//! the worker's config and the pages' messages, the page's `hydrate()` options and
//! `INVALIDATED` notices. One walk, one set of limits ([`MAX_DEPTH`] levels of nesting,
//! [`MAX_ARRAY`] items kept of an array, [`MAX_NODES`] values in all, strings counted by
//! their length), the same names for what a value cannot be.
//!
//! Not serde-wasm-bindgen: a config holds RegExps (kept in `regexps` as JS values,
//! `Value::RegExp` their index) and options hold functions (the render callbacks, read
//! apart by the page adapter), which serde's data model cannot tell from plain objects;
//! and its deserializer links serde's error formatting (+33 KB of wasm measured in the
//! worker, README "Design notes").

use js_sys::{Array, JsString, Object, RegExp};
use wasm_bindgen::{JsCast, JsValue};

use crate::policy::prelude::*;
use crate::policy::value::{Value, FUNCTION, MAX_ARRAY, MAX_DEPTH};

/// The most values one walk reads (a message of 10,000 URLs is about 10,000): a value
/// that shares or cycles through its own parts (structured clone keeps both) would
/// otherwise be read again at every path to it, 8 levels deep.
const MAX_NODES: u32 = 100_000;
/// A string costs the budget one value per this many UTF-16 units besides its own, so one
/// walk copies at most 3.2 million units of text into the wasm (a message of 10,000 URLs of
/// 100 characters is 1 million): a page cannot make the worker allocate without bound.
const STRING_UNITS: u32 = 32;

/// `v` as a [`Value`]: RegExps are pushed onto `regexps`, functions read as
/// [`FUNCTION`].
pub fn read(v: &JsValue, regexps: &mut Vec<RegExp>) -> Value {
    walk(v, regexps, 0, &mut { MAX_NODES })
}

/// `v` as a [`Value`] where no RegExp is kept (messages, notices, options, JSON): a
/// RegExp still reads as [`Value::RegExp`], its JS object is dropped.
pub fn read_plain(v: &JsValue) -> Value {
    walk(v, &mut Vec::new(), 0, &mut { MAX_NODES })
}

/// A `JSON.parse` result (the feed, the saved state): no cycles or sharing, and as large
/// as the text it came from, which the caller bounds; so no budget of values.
#[cfg(feature = "sw")]
pub fn read_parsed(v: &JsValue) -> Value {
    walk(v, &mut Vec::new(), 0, &mut { u32::MAX })
}

fn walk(v: &JsValue, regexps: &mut Vec<RegExp>, depth: u32, left: &mut u32) -> Value {
    let Some(rest) = left.checked_sub(1) else { return Value::Other("too large") };
    *left = rest;
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
    if let Some(s) = v.dyn_ref::<JsString>() {
        // (Its length, in UTF-16 units, is known before it is copied into the wasm.)
        let Some(rest) = left.checked_sub(s.length() / STRING_UNITS) else { return Value::Other("too large") };
        *left = rest;
        return Value::Str(s.into());
    }
    if let Some(re) = v.dyn_ref::<RegExp>() {
        regexps.push(re.clone());
        return Value::RegExp(regexps.len() as u32 - 1, String::from(re.to_string()));
    }
    if v.is_function() {
        return FUNCTION;
    }
    if v.is_symbol() {
        return Value::Other("a symbol");
    }
    if v.is_bigint() {
        return Value::Other("a bigint");
    }
    if depth > MAX_DEPTH {
        return Value::Other("too deeply nested");
    }
    if Array::is_array(v) {
        let a: &Array = v.unchecked_ref();
        let n = a.length().min(MAX_ARRAY as u32);
        return Value::Arr((0..n).map(|i| walk(&a.get(i), regexps, depth + 1, left)).collect());
    }
    let entries = Object::entries(v.unchecked_ref());
    Value::Obj(
        entries
            .iter()
            .map(|e| {
                let pair: Array = e.unchecked_into();
                (pair.get(0).as_string().unwrap_or_default(), walk(&pair.get(1), regexps, depth + 1, left))
            })
            .collect(),
    )
}
