//! A plain model of the JavaScript values the engine is handed (config objects and
//! messages), so validation is pure Rust and testable natively.

use super::prelude::*;

/// A JavaScript value, as far as validation cares.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Undefined,
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Value>),
    /// Own enumerable properties in definition order.
    Obj(Vec<(String, Value)>),
    /// A RegExp object; the adapter keeps the object and this is its index.
    RegExp(u32, String),
    /// Anything else (function, symbol, bigint, class instance); the name is for errors.
    Other(&'static str),
}

/// Property `key` of an object's `props`, as [`Value::get`] reads it.
pub fn prop<'v>(props: &'v [(String, Value)], key: &str) -> Option<&'v Value> {
    props.iter().find(|(k, _)| k == key).map(|(_, v)| v).filter(|v| !matches!(v, Value::Undefined))
}

impl Value {
    /// Property `key` of an object (absent → `None`; an explicit `undefined` counts as absent).
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Obj(props) => prop(props, key),
            _ => None,
        }
    }

    /// What to call this value in an error message.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Undefined => "undefined",
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Num(_) => "a number",
            Value::Str(_) => "a string",
            Value::Arr(_) => "an array",
            Value::Obj(_) => "an object",
            Value::RegExp(..) => "a RegExp",
            Value::Other(name) => name,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Builds an object from pairs; handy in tests and adapters.
    pub fn obj<const N: usize>(pairs: [(&str, Value); N]) -> Value {
        Value::Obj(pairs.into_iter().map(|(k, v)| (String::from(k), v)).collect())
    }

    pub fn str(s: &str) -> Value {
        Value::Str(String::from(s))
    }
}

/// How a JavaScript function reads (the adapters' walk, `src/js_value.rs`): the page's
/// render callbacks are read apart by its adapter.
pub const FUNCTION: Value = Value::Other("a function");

/// The longest list any message or config may hold (a message's URLs, prefixes and tags
/// together: `message::MAX_URLS`).
pub const MAX_LIST: usize = 10_000;
/// The longest array kept when reading a message: one past the largest valid list, so a
/// longer one is still recognised as too long without holding every item.
pub const MAX_ARRAY: usize = MAX_LIST + 1;
/// Deeper nesting is no message anyone means to send: it reads as [`Value::Other`].
pub const MAX_DEPTH: u32 = 8;

/// A [`Value`] from any serde format: the worker reads page messages with
/// serde-wasm-bindgen, the commands and tests JSON with serde_json. Arrays are cut at
/// [`MAX_ARRAY`] items and nesting at [`MAX_DEPTH`] (the rest is skipped, not kept).
impl<'de> serde::Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::DeserializeSeed::deserialize(Seed(0), d)
    }
}

struct Seed(u32);

impl<'de> serde::de::DeserializeSeed<'de> for Seed {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        if self.0 > MAX_DEPTH {
            serde::de::IgnoredAny::deserialize(d)?;
            return Ok(Value::Other("too deeply nested"));
        }
        d.deserialize_any(self)
    }
}

use serde::Deserialize as _;

impl<'de> serde::de::Visitor<'de> for Seed {
    type Value = Value;

    fn expecting(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
        f.write_str("a plain value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
        Ok(Value::Num(n))
    }

    #[allow(clippy::cast_precision_loss, reason = "JavaScript numbers are f64")]
    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Num(n as f64))
    }

    #[allow(clippy::cast_precision_loss, reason = "JavaScript numbers are f64")]
    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::Num(n as f64))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::Str(String::from(s)))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::Str(s))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while items.len() < MAX_ARRAY {
            match seq.next_element_seed(Seed(self.0 + 1))? {
                Some(v) => items.push(v),
                None => return Ok(Value::Arr(items)),
            }
        }
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(Value::Arr(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut props: Vec<(String, Value)> = Vec::new();
        while let Some(k) = map.next_key::<String>()? {
            let v = map.next_value_seed(Seed(self.0 + 1))?;
            // A repeated key (JSON allows it): the last one wins, as in `JSON.parse`.
            match props.iter_mut().find(|(p, _)| *p == k) {
                Some(slot) => slot.1 = v,
                None => props.push((k, v)),
            }
        }
        Ok(Value::Obj(props))
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    fn read(json: &str) -> Value {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn reads_plain_values() {
        assert_eq!(
            read(r#"{"type":"X","n":1.5,"i":-3,"b":true,"z":null,"a":["é"],"type":"Y"}"#),
            Value::obj([
                ("type", Value::str("Y")),
                ("n", Value::Num(1.5)),
                ("i", Value::Num(-3.0)),
                ("b", Value::Bool(true)),
                ("z", Value::Null),
                ("a", Value::Arr(vec![Value::str("é")])),
            ])
        );
    }

    #[test]
    fn bounds_long_arrays_and_deep_nesting() {
        let big = format!("[{}0]", "0,".repeat(MAX_ARRAY + 50));
        let Value::Arr(items) = read(&big) else { panic!() };
        assert_eq!(items.len(), MAX_ARRAY);
        let deep = format!("{}1{}", "[".repeat(20), "]".repeat(20));
        let mut v = &read(&deep);
        let mut depth = 0;
        while let Value::Arr(items) = v {
            v = &items[0];
            depth += 1;
        }
        assert_eq!(depth, MAX_DEPTH + 1);
        assert_eq!(*v, Value::Other("too deeply nested"));
    }
}
