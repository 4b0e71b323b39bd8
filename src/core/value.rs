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

impl Value {
    /// Property `key` of an object (absent → `None`; an explicit `undefined` counts as absent).
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Obj(props) => {
                props.iter().find(|(k, _)| k == key).map(|(_, v)| v).filter(|v| !matches!(v, Value::Undefined))
            }
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
