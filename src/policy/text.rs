//! Text without `core::fmt`: building messages from pieces ([`cat!`]), numbers as
//! JavaScript prints them, and JSON strings for the replies and state the engine writes.
//! Why it remains beside serde: `core::fmt` (which serde_json and serde's error paths
//! pull in) costs the no_std worker ~20 KB of wasm and start-path code. Reading JSON is
//! not here: native code uses serde_json ([`read_json`]), the worker the browser's
//! `JSON.parse` (configs, messages, the feed and the saved state reach the engine as
//! JS values read into [`Value`]).

use super::prelude::*;
#[cfg(any(not(target_arch = "wasm32"), target_os = "wasi"))]
use super::value::Value;

/// One piece of a message built by [`cat!`].
pub trait Piece {
    fn put(&self, out: &mut String);
}

impl Piece for &str {
    fn put(&self, out: &mut String) {
        out.push_str(self);
    }
}
impl Piece for String {
    fn put(&self, out: &mut String) {
        out.push_str(self);
    }
}
impl Piece for &String {
    fn put(&self, out: &mut String) {
        out.push_str(self);
    }
}
impl Piece for char {
    fn put(&self, out: &mut String) {
        out.push(*self);
    }
}
macro_rules! int_piece {
    ($($t:ty),*) => {$(
        impl Piece for $t {
            fn put(&self, out: &mut String) {
                push_u64(out, u64::from(*self));
            }
        }
    )*};
}
int_piece!(u32, u16, u8);
impl Piece for u64 {
    fn put(&self, out: &mut String) {
        push_u64(out, *self);
    }
}
impl Piece for usize {
    fn put(&self, out: &mut String) {
        push_u64(out, *self as u64);
    }
}

/// Concatenates pieces (strings, chars, unsigned integers) into a `String`.
#[macro_export]
macro_rules! cat {
    ($($piece:expr),* $(,)?) => {{
        let mut out = $crate::policy::prelude::String::new();
        $( $crate::policy::text::Piece::put(&$piece, &mut out); )*
        out
    }};
}

/// Runs `f` out of line: error messages are built in functions of their own, so the code
/// that validates a good config or message (run on every worker start) stays small. V8
/// compiles a wasm function whole on its first call.
#[cold]
#[inline(never)]
pub fn cold<T>(f: impl FnOnce() -> T) -> T {
    f()
}

/// Decimal digits only (no sign, at most 19 digits) as a `u64`: header values such as
/// `Content-Length`. By hand: `str::parse` brings generic integer parsing into the worker.
pub fn parse_u64(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0u64, |n, b| n * 10 + u64::from(b - b'0')))
}

/// `items` joined by `sep` (for error messages: smaller in the wasm than `[&str]::join`).
pub fn join(items: &[&str], sep: &str) -> String {
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        out.push_str(item);
    }
    out
}

/// Appends `n` in decimal.
pub fn push_u64(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        out.push(d as char);
    }
}

/// `x` rounded towards zero (for |x| < 2^63; `f64::trunc` is not in `core`).
pub fn trunc(x: f64) -> f64 {
    if x.is_finite() && x.abs_lt(9.2e18) {
        x as i64 as f64
    } else {
        x
    }
}

/// `x` rounded up (for |x| < 2^63).
pub fn ceil(x: f64) -> f64 {
    let t = trunc(x);
    if t < x {
        t + 1.0
    } else {
        t
    }
}

trait AbsLt {
    fn abs_lt(self, limit: f64) -> bool;
}
impl AbsLt for f64 {
    fn abs_lt(self, limit: f64) -> bool {
        self < limit && self > -limit
    }
}

/// A number as JavaScript would print it in an error message: whole numbers exactly,
/// others to 3 decimals.
pub fn number_text(n: f64) -> String {
    if n.is_nan() {
        return "NaN".into();
    }
    if n.is_infinite() {
        return if n > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let mut out = String::new();
    if n < 0.0 {
        out.push('-');
    }
    let a = if n < 0.0 { -n } else { n };
    if !a.abs_lt(1e15) {
        // Beyond what anyone configures on purpose: the magnitude is enough.
        out.push_str("a huge number");
        return out;
    }
    let mut whole = trunc(a) as u64;
    let mut milli = trunc((a - trunc(a)) * 1000.0 + 0.5) as u64;
    if milli == 1000 {
        whole += 1;
        milli = 0;
    }
    push_u64(&mut out, whole);
    if milli != 0 {
        out.push('.');
        let digits = [milli / 100, milli / 10 % 10, milli % 10];
        let keep = if digits[2] != 0 {
            3
        } else if digits[1] != 0 {
            2
        } else {
            1
        };
        for d in &digits[..keep] {
            out.push((b'0' + *d as u8) as char);
        }
    }
    out
}

/// Appends `s` as a JSON string literal.
pub fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                out.push_str("\\u00");
                let hex = b"0123456789abcdef";
                out.push(hex[(c as usize) >> 4] as char);
                out.push(hex[(c as usize) & 15] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends `,"key":["a","b",…]`.
pub fn push_json_list(out: &mut String, key: &str, items: &mut dyn Iterator<Item = &str>) {
    out.push_str(",\"");
    out.push_str(key);
    out.push_str("\":[");
    for (i, s) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_str(out, s);
    }
    out.push(']');
}

/// In the native tests only: marks at the start of a string for values JSON cannot carry,
/// so tests can write configs as JSON: `\0r<i>` RegExp number i, `\0f` a function,
/// `\0n<text>` a non-finite number, `\0o<kind>` another value, `\0s<text>` a string
/// that itself began with `\0`. (The worker reads configs and messages as JS values.)
#[cfg(all(test, any(not(target_arch = "wasm32"), target_os = "wasi")))]
const MARK: char = '\0';

/// Reads JSON text into a [`Value`] (JSON.parse's rules: the last of a repeated key wins,
/// arrays and nesting bounded as JS values are): serde_json through `Value`'s
/// `Deserialize`. Native code only (the commands, the feed service, the tests): the wasm
/// builds hold no JSON reader, the worker parses with the browser's `JSON.parse` and reads
/// the result as it reads configs (`src/js_value.rs`). `None`: not JSON.
#[cfg(any(not(target_arch = "wasm32"), target_os = "wasi"))]
pub fn read_json(text: &str) -> Option<Value> {
    let v = serde_json::from_str(text).ok()?;
    #[cfg(test)]
    let v = unmark_all(v);
    Some(v)
}

/// The test marks ([`MARK`]) in every string of `v` turned into the values they stand for.
#[cfg(all(test, any(not(target_arch = "wasm32"), target_os = "wasi")))]
fn unmark_all(v: Value) -> Value {
    match v {
        Value::Str(s) => match s.strip_prefix(MARK) {
            Some(rest) => unmark(rest),
            None => Value::Str(s),
        },
        Value::Arr(items) => Value::Arr(items.into_iter().map(unmark_all).collect()),
        Value::Obj(props) => Value::Obj(props.into_iter().map(|(k, v)| (k, unmark_all(v))).collect()),
        other => other,
    }
}

#[cfg(all(test, any(not(target_arch = "wasm32"), target_os = "wasi")))]
fn unmark(rest: &str) -> Value {
    let (kind, tail) = rest.split_at(rest.len().min(1));
    match kind {
        "r" => {
            // `\0r<i>/<source>/<flags>`: the number, then the RegExp as written.
            let (n, source) = tail.split_at(tail.find('/').unwrap_or(tail.len()));
            n.parse::<u32>().map_or(Value::Other("an unsupported value"), |i| Value::RegExp(i, source.into()))
        }
        "f" => Value::Other("a function"),
        "n" => Value::Num(match tail {
            "Infinity" => f64::INFINITY,
            "-Infinity" => f64::NEG_INFINITY,
            _ => f64::NAN,
        }),
        "s" => {
            let mut s = String::from("\0");
            s.push_str(tail);
            Value::Str(s)
        }
        "o" => Value::Other(match tail {
            "symbol" => "a symbol",
            "bigint" => "a bigint",
            _ => "an unsupported value",
        }),
        _ => Value::Other("an unsupported value"),
    }
}

// Native only: these tests read JSON with serde_json, which the wasm builds do not have.
#[cfg(all(test, any(not(target_arch = "wasm32"), target_os = "wasi")))]
mod tests {
    use super::*;
    use crate::policy::value::MAX_ARRAY;

    #[test]
    fn cat_joins_pieces() {
        let i = 3usize;
        assert_eq!(
            cat!("routes[", i, "] ", String::from("x"), '!', 0u64, 18_446_744_073_709_551_615u64),
            "routes[3] x!018446744073709551615"
        );
    }

    #[test]
    fn numbers_print_like_js() {
        assert_eq!(number_text(-5.0), "-5");
        assert_eq!(number_text(2.5), "2.5");
        assert_eq!(number_text(0.1234), "0.123");
        assert_eq!(number_text(1.9999), "2");
        assert_eq!(number_text(-0.25), "-0.25");
        assert_eq!(number_text(0.05), "0.05");
        assert_eq!(number_text(f64::NAN), "NaN");
        assert_eq!(number_text(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(number_text(1e6), "1000000");
        assert_eq!(number_text(604_800_000.0), "604800000");
        assert_eq!(trunc(-2.7), -2.0);
        assert_eq!(ceil(2.1), 3.0);
        assert_eq!(ceil(2.0), 2.0);
    }

    #[test]
    fn json_round_trip_of_what_the_executor_sends() {
        let v = read_json(r#"{"version":"v1","routes":[{"name":"a","match":"\u0000r0","maxAge":604800000,"t":1.5e-3,"n":"\u0000nInfinity","f":"\u0000f"}],"w":true,"x":null,"s":"é\n\"\u00e9"}"#).unwrap();
        assert_eq!(v.get("version"), Some(&Value::str("v1")));
        let Some(Value::Arr(routes)) = v.get("routes") else { panic!() };
        let r = &routes[0];
        assert_eq!(r.get("match"), Some(&Value::RegExp(0, String::new())));
        assert_eq!(r.get("maxAge"), Some(&Value::Num(604_800_000.0)));
        assert_eq!(r.get("t"), Some(&Value::Num(0.0015)));
        assert_eq!(r.get("n"), Some(&Value::Num(f64::INFINITY)));
        assert_eq!(r.get("f"), Some(&Value::Other("a function")));
        assert_eq!(v.get("w"), Some(&Value::Bool(true)));
        assert_eq!(v.get("x"), None.or(Some(&Value::Null)));
        assert_eq!(v.get("s"), Some(&Value::str("é\n\"é")));
        for bad in ["", "{", "[1,]", "{\"a\" 1}", "tru", "\"\\q\"", "1 2", "-"] {
            assert_eq!(read_json(bad), None, "{bad}");
        }
    }

    #[test]
    fn huge_and_deep_inputs_are_bounded() {
        let mut big = String::from("[");
        for i in 0..(MAX_ARRAY + 50) {
            if i > 0 {
                big.push(',');
            }
            big.push_str("\"/p\"");
        }
        big.push(']');
        let Some(Value::Arr(items)) = read_json(&big) else { panic!() };
        assert_eq!(items.len(), MAX_ARRAY, "kept one past the limit, enough to reject");
        let deep = "[".repeat(50) + &"]".repeat(50);
        assert!(read_json(&deep).is_some());
        let mut out = String::new();
        push_json_str(&mut out, "a\"b\\c\n\u{1}");
        assert_eq!(out, "\"a\\\"b\\\\c\\n\\u0001\"");
    }
}
