//! Whether the worker's `INVALIDATED` notice covers a URL: a page's own, or a hydrated
//! component's data. The notice is `{type: 'INVALIDATED', urls, prefixes, tags, removed,
//! all, source}` (`policy::engine::invalidation`), its URLs same-origin paths with their
//! search (another origin's copies, in `removed`, whole URLs). A page that never called
//! `hydrate()` decides its own URL with the same rule in the page module (`covers` in
//! `www/swcache-page.js`), so the notice loads no wasm.

use crate::policy::prelude::*;
use crate::policy::value::Value;

/// What an `INVALIDATED` notice removed, as far as coverage goes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Invalidation {
    /// Every entry (`all: true`).
    pub all: bool,
    /// URLs invalidated by name.
    pub urls: Vec<String>,
    /// URL prefixes invalidated.
    pub prefixes: Vec<String>,
    /// Paths the worker removed, whatever selected them (how `tags` reach pages).
    pub removed: Vec<String>,
    /// It removed more paths than `removed` lists (`"more": true`): any may have gone.
    pub more: bool,
}

impl Invalidation {
    /// The notice's selectors, or `None` when `v` is not an `INVALIDATED` notice. Lists
    /// that are missing or not arrays are empty; items that are not strings are skipped.
    pub fn from_notice(v: &Value) -> Option<Invalidation> {
        if v.get("type").and_then(Value::as_str) != Some("INVALIDATED") {
            return None;
        }
        let list = |key: &str| match v.get(key) {
            Some(Value::Arr(items)) => items.iter().filter_map(|i| i.as_str().map(String::from)).collect(),
            _ => Vec::new(),
        };
        Some(Invalidation {
            all: matches!(v.get("all"), Some(Value::Bool(true))),
            urls: list("urls"),
            prefixes: list("prefixes"),
            removed: list("removed"),
            more: matches!(v.get("more"), Some(Value::Bool(true))),
        })
    }

    /// Whether it covers the same-origin `path` (path and search): everything when `all`,
    /// the URL itself, a prefix of it, or an entry the worker removed at that path.
    pub fn covers(&self, path: &str) -> bool {
        self.all
            || self.more
            || self.urls.iter().any(|u| u == path)
            || self.removed.iter().any(|u| u == path)
            || self.prefixes.iter().any(|p| path.starts_with(p.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(items: &[&str]) -> Value {
        Value::Arr(items.iter().map(|s| Value::str(s)).collect())
    }

    #[test]
    fn urls_prefixes_removed_and_all() {
        let n = Invalidation::from_notice(&Value::obj([
            ("type", Value::str("INVALIDATED")),
            ("urls", strs(&["/promo/a"])),
            ("prefixes", strs(&["/blog/"])),
            ("tags", strs(&["t"])),
            ("removed", strs(&["/tagged?x=1"])),
            ("all", Value::Bool(false)),
            ("source", Value::str("feed")),
        ]))
        .unwrap();
        assert!(n.covers("/promo/a"));
        assert!(!n.covers("/promo/a?x=1"), "a URL covers itself only, search included");
        assert!(!n.covers("/promo/ab"));
        assert!(n.covers("/blog/post?id=3"));
        assert!(n.covers("/blog/"));
        assert!(!n.covers("/blog"));
        assert!(n.covers("/tagged?x=1"), "removed by tag");
        assert!(!n.covers("/tagged"));
        assert!(!n.covers("/other"));
        let all = Value::obj([("type", Value::str("INVALIDATED")), ("all", Value::Bool(true))]);
        assert!(Invalidation::from_notice(&all).unwrap().covers("/anything"));
    }

    #[test]
    fn a_notice_whose_list_was_cut_covers_every_path() {
        let notice = |more: Value| {
            Invalidation::from_notice(&Value::obj([
                ("type", Value::str("INVALIDATED")),
                ("removed", strs(&["/img/1.png"])),
                ("more", more),
                ("all", Value::Bool(false)),
            ]))
            .unwrap()
        };
        assert!(notice(Value::Bool(true)).covers("/promo/summer"));
        assert!(!notice(Value::str("true")).covers("/promo/summer"));
    }

    #[test]
    fn other_messages_and_odd_fields() {
        assert_eq!(Invalidation::from_notice(&Value::obj([("type", Value::str("UPDATED"))])), None);
        assert_eq!(Invalidation::from_notice(&Value::Null), None);
        let odd = Value::obj([
            ("type", Value::str("INVALIDATED")),
            ("urls", Value::str("/promo/a")),
            ("prefixes", Value::Arr(vec![Value::Num(5.0), Value::str("/x/")])),
            ("all", Value::str("true")),
        ]);
        let n = Invalidation::from_notice(&odd).unwrap();
        assert_eq!(n, Invalidation { prefixes: vec!["/x/".into()], ..Invalidation::default() });
        assert!(!n.covers("/promo/a") && !n.covers("5") && n.covers("/x/y"));
    }
}
