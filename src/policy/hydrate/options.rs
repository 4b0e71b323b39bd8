//! `hydrate(opts)`'s options, checked before anything is hydrated: the first wrong one
//! (in the object's own order) is named in the error, `ready` rejects with it and
//! nothing starts. The adapter hands the object in as a [`Value`], functions (the
//! `render` callbacks, which it keeps itself) as [`FUNCTION`]. An option set to
//! `undefined` counts as not set.

use super::{Options, Trigger, TypeOptions};
use crate::policy::prelude::*;
use crate::policy::value::Value;

/// How the adapter models a JavaScript function in the options' [`Value`].
pub use crate::policy::value::FUNCTION;

/// The options `hydrate()` knows, as its errors list them.
pub const OPTIONS: &str =
    "rootMargin, preload, maxConcurrent, maxRetries, retryBaseMs, fetchTimeout, pageSlug, render, types";
/// The options of one component type (`types: {TYPE: {…}}`).
pub const TYPE_OPTIONS: &str = "maxAge, poll, trigger, render";

/// `parts` joined (the errors are built without `core::fmt`).
fn cat(parts: &[&str]) -> String {
    let mut s = String::new();
    for p in parts {
        s.push_str(p);
    }
    s
}

fn bad(path: &str, want: &str) -> String {
    cat(&["swcache hydrate: option '", path, "' must be ", want])
}

fn unknown(path: &str, known: &str) -> String {
    cat(&["swcache hydrate: unknown option '", path, "' (expected one of ", known, ")"])
}

fn is_function(v: &Value) -> bool {
    matches!(v, Value::Other(kind) if *kind == "a function")
}

/// A finite number ≥ 0.
fn non_negative(v: &Value) -> Option<f64> {
    match v {
        Value::Num(n) if n.is_finite() && *n >= 0.0 => Some(*n),
        _ => None,
    }
}

/// The options of `hydrate(opts)`, or the error naming the first wrong one.
pub fn parse(opts: &Value) -> Result<Options, String> {
    let Value::Obj(props) = opts else { return Err(bad("opts", "an object")) };
    let mut o = Options::default();
    for (key, v) in props.iter().filter(|(_, v)| !matches!(v, Value::Undefined)) {
        match key.as_str() {
            "types" => {
                let Value::Obj(types) = v else { return Err(bad("types", "an object keyed by component type")) };
                for (name, t) in types.iter().filter(|(_, t)| !matches!(t, Value::Undefined)) {
                    o.types.push(type_options(name, t)?);
                }
            }
            "render" if is_function(v) => {}
            "render" => return Err(bad("render", "a function")),
            "pageSlug" => match v {
                Value::Str(s) => o.page_slug = Some(s.clone()),
                _ => return Err(bad("pageSlug", "a string")),
            },
            "rootMargin" => match v {
                // A number is pixels; an empty string, the default.
                // (Negative shrinks the viewport, as in CSS.)
                Value::Num(px) if px.is_finite() => {
                    let sign = if *px <= -1.0 { "-" } else { "" };
                    o.root_margin = cat(&[sign, &(px.abs() as u32).to_string(), "px"]);
                }
                Value::Str(s) if s.is_empty() => {}
                Value::Str(s) => o.root_margin = s.clone(),
                _ => return Err(bad("rootMargin", "a CSS margin string or a number of pixels")),
            },
            "preload" | "maxConcurrent" | "maxRetries" | "retryBaseMs" => {
                let Some(n) = non_negative(v) else { return Err(bad(key, "a non-negative number")) };
                let n = n.trunc();
                match key.as_str() {
                    "preload" => o.preload = n as usize,
                    "maxConcurrent" => o.max_concurrent = n as usize,
                    "maxRetries" => o.max_retries = n as u32,
                    _ => o.retry_base_ms = n,
                }
            }
            "fetchTimeout" => match v {
                Value::Num(ms) if *ms > 0.0 => o.fetch_timeout_ms = *ms,
                _ => return Err(bad(key, "a number of milliseconds above 0 (or Infinity)")),
            },
            _ => return Err(unknown(key, OPTIONS)),
        }
    }
    Ok(o)
}

/// `types.<name>`: an object of [`TYPE_OPTIONS`].
fn type_options(name: &str, v: &Value) -> Result<TypeOptions, String> {
    let path = |field: &str| cat(&["types.", name, ".", field]);
    let Value::Obj(fields) = v else { return Err(bad(&cat(&["types.", name]), "an object")) };
    let mut t = TypeOptions { name: String::from(name), ..TypeOptions::default() };
    for (field, v) in fields.iter().filter(|(_, v)| !matches!(v, Value::Undefined)) {
        match field.as_str() {
            "maxAge" | "poll" => {
                // `false` turns polling off (and makes every copy stale, for maxAge);
                // `Infinity`: never poll, never stale.
                let ms = match v {
                    Value::Bool(false) => Some(0.0),
                    Value::Num(n) if *n == f64::INFINITY => Some(*n),
                    _ => non_negative(v),
                };
                let Some(ms) = ms else { return Err(bad(&path(field), "a number of milliseconds (or false)")) };
                if field == "maxAge" {
                    t.max_age_ms = Some(ms);
                } else {
                    t.poll_ms = Some(ms);
                }
            }
            "trigger" => match v.as_str().and_then(Trigger::parse) {
                Some(trigger) => t.trigger = Some(trigger),
                None => {
                    return Err(bad(&path(field), "'visible', 'idle', 'interaction', 'eager' or 'media:<query>'"));
                }
            },
            "render" if is_function(v) => {}
            "render" => return Err(bad(&path(field), "a function")),
            _ => return Err(unknown(&path(field), TYPE_OPTIONS)),
        }
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(pairs: &[(&str, Value)]) -> Value {
        Value::Obj(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
    }
    fn err(v: Value) -> String {
        parse(&v).unwrap_err()
    }

    #[test]
    fn defaults_and_every_option() {
        assert_eq!(parse(&obj(&[])).unwrap(), Options::default());
        let o = parse(&obj(&[
            ("rootMargin", Value::Num(120.0)),
            ("preload", Value::Num(3.9)),
            ("maxConcurrent", Value::Num(2.0)),
            ("maxRetries", Value::Num(0.0)),
            ("retryBaseMs", Value::Num(250.5)),
            ("fetchTimeout", Value::Num(2500.0)),
            ("pageSlug", Value::str("summer-sale")),
            ("render", FUNCTION),
            (
                "types",
                obj(&[
                    (
                        "JOB_LISTINGS",
                        obj(&[
                            ("maxAge", Value::Num(60e3)),
                            ("poll", Value::Bool(false)),
                            ("trigger", Value::str("media:(min-width: 800px)")),
                            ("render", FUNCTION),
                        ]),
                    ),
                    ("HERO_BANNER", obj(&[])),
                ]),
            ),
        ]))
        .unwrap();
        assert_eq!(o.root_margin, "120px");
        assert_eq!((o.preload, o.max_concurrent, o.max_retries, o.retry_base_ms), (3, 2, 0, 250.0));
        assert_eq!(o.fetch_timeout_ms, 2500.0);
        assert_eq!(o.page_slug.as_deref(), Some("summer-sale"));
        assert_eq!(
            o.types,
            vec![
                TypeOptions {
                    name: "JOB_LISTINGS".into(),
                    max_age_ms: Some(60e3),
                    poll_ms: Some(0.0),
                    trigger: Some(Trigger::Media("(min-width: 800px)".into())),
                },
                TypeOptions { name: "HERO_BANNER".into(), ..TypeOptions::default() },
            ]
        );
    }

    #[test]
    fn root_margin_strings_pass_through() {
        let margin = |v: Value| parse(&obj(&[("rootMargin", v)])).unwrap().root_margin;
        assert_eq!(margin(Value::str("0px 0px 200px 0px")), "0px 0px 200px 0px");
        assert_eq!(margin(Value::str("")), "50px");
        assert_eq!(margin(Value::Num(0.0)), "0px");
        assert_eq!(margin(Value::Num(12.5)), "12px");
        assert_eq!(margin(Value::Num(-20.0)), "-20px", "negative shrinks the viewport");
    }

    #[test]
    fn infinity_never_polls_and_is_never_stale() {
        let t = |field: &str, v: Value| parse(&obj(&[("types", obj(&[("X", obj(&[(field, v)]))]))])).map(|o| o.types);
        assert_eq!(t("maxAge", Value::Num(f64::INFINITY)).unwrap()[0].max_age_ms, Some(f64::INFINITY));
        assert_eq!(t("poll", Value::Num(f64::INFINITY)).unwrap()[0].poll_ms, Some(f64::INFINITY));
        assert!(t("maxAge", Value::Num(f64::NEG_INFINITY)).is_err());
        assert!(t("poll", Value::Num(-1.0)).is_err());
        let timeout = |v: Value| parse(&obj(&[("fetchTimeout", v)])).map(|o| o.fetch_timeout_ms);
        assert_eq!(timeout(Value::Num(f64::INFINITY)), Ok(f64::INFINITY), "a fetch that is never aborted");
    }

    #[test]
    fn undefined_is_not_set() {
        let o = parse(&obj(&[
            ("preload", Value::Undefined),
            ("render", Value::Undefined),
            ("nonsense", Value::Undefined),
            ("types", obj(&[("A", Value::Undefined), ("B", obj(&[("poll", Value::Undefined)]))])),
        ]))
        .unwrap();
        assert_eq!(o.preload, 2);
        assert_eq!(o.types, vec![TypeOptions { name: "B".into(), ..TypeOptions::default() }]);
    }

    #[test]
    fn each_wrong_option_is_named() {
        let cases: [(Value, &str); 18] = [
            (Value::Null, "option 'opts' must be an object"),
            (Value::Arr(vec![]), "option 'opts' must be an object"),
            (obj(&[("preload", Value::str("two"))]), "option 'preload' must be a non-negative number"),
            (obj(&[("maxConcurrent", Value::Num(-1.0))]), "option 'maxConcurrent' must be a non-negative number"),
            (obj(&[("retryBaseMs", Value::Num(f64::NAN))]), "option 'retryBaseMs' must be a non-negative number"),
            (obj(&[("maxRetries", Value::Null)]), "option 'maxRetries' must be a non-negative number"),
            (obj(&[("rootMargn", Value::Num(10.0))]), "unknown option 'rootMargn' (expected one of rootMargin, preload, maxConcurrent, maxRetries, retryBaseMs, fetchTimeout, pageSlug, render, types)"),
            (obj(&[("fetchTimeout", Value::Num(0.0))]), "option 'fetchTimeout' must be a number of milliseconds above 0 (or Infinity)"),
            (obj(&[("fetchTimeout", Value::str("10s"))]), "option 'fetchTimeout' must be a number of milliseconds above 0 (or Infinity)"),
            (obj(&[("rootMargin", Value::Bool(true))]), "option 'rootMargin' must be a CSS margin string or a number of pixels"),
            (obj(&[("rootMargin", Value::Num(f64::INFINITY))]), "option 'rootMargin' must be a CSS margin string or a number of pixels"),
            (obj(&[("render", Value::str("not a function"))]), "option 'render' must be a function"),
            (obj(&[("pageSlug", Value::Num(1.0))]), "option 'pageSlug' must be a string"),
            (obj(&[("types", Value::Arr(vec![]))]), "option 'types' must be an object keyed by component type"),
            (obj(&[("types", obj(&[("JOB_LISTINGS", Value::Num(5.0))]))]), "option 'types.JOB_LISTINGS' must be an object"),
            (obj(&[("types", obj(&[("JOB_LISTINGS", obj(&[("trigger", Value::str("soon"))]))]))]), "option 'types.JOB_LISTINGS.trigger' must be 'visible', 'idle', 'interaction', 'eager' or 'media:<query>'"),
            (obj(&[("types", obj(&[("JOB_LISTINGS", obj(&[("poll", Value::str("30s"))]))]))]), "option 'types.JOB_LISTINGS.poll' must be a number of milliseconds (or false)"),
            (obj(&[("types", obj(&[("X", obj(&[("maxage", Value::Num(1.0))]))]))]), "unknown option 'types.X.maxage' (expected one of maxAge, poll, trigger, render)"),
        ];
        for (v, want) in cases {
            assert_eq!(err(v), format!("swcache hydrate: {want}"));
        }
        let render = obj(&[("types", obj(&[("X", obj(&[("render", Value::Num(1.0))]))]))]);
        assert_eq!(err(render), "swcache hydrate: option 'types.X.render' must be a function");
        // `true` is not `false`: only `false` turns polling off.
        let poll = obj(&[("types", obj(&[("X", obj(&[("poll", Value::Bool(true))]))]))]);
        assert!(err(poll).contains("'types.X.poll'"));
    }

    #[test]
    fn the_first_wrong_option_in_order_wins() {
        let v = obj(&[("preload", Value::str("x")), ("bogus", Value::Num(1.0))]);
        assert!(err(v).contains("'preload'"));
        let v = obj(&[("bogus", Value::Num(1.0)), ("preload", Value::str("x"))]);
        assert!(err(v).contains("'bogus'"));
    }
}
