//! The notices the worker told open pages (`INVALIDATED`, `UPDATED`), kept for the pages
//! that were away. A page in the back/forward cache is frozen: notices sent meanwhile never reach
//! it, and back again it would show what was invalidated while it was there. Restored, it
//! asks for those sent since it left (`GET_NOTICES`). The worker keeps the recent ones
//! (bounded) and saves them in its state cache, so a worker the browser stopped meanwhile
//! (Chromium stops an idle one after about 30 s) still has them.

use super::prelude::*;
use super::text::{push_json_str, push_u64};
use super::value::Value;

/// How long a notice is kept: Chromium keeps a page in the back/forward cache 10 minutes.
pub const KEEP_MS: f64 = 600_000.0;
/// Most notices kept.
pub const KEEP_COUNT: usize = 50;
/// Most bytes of their JSON kept (a notice lists every URL its invalidation named).
pub const KEEP_BYTES: usize = 65_536;

/// What a page is told when notices sent since it left were dropped: everything may have
/// changed (never less fresh).
pub const MISSED: &str =
    r#"{"type":"INVALIDATED","urls":[],"prefixes":[],"tags":[],"removed":[],"all":true,"source":"missed"}"#;

/// How an `UPDATED` notice starts.
pub const UPDATED: &str = "{\"type\":\"UPDATED\"";

/// The notices kept, and where their saving stands.
#[derive(Debug, Default)]
pub struct Notices {
    /// Each notice: when it was sent (the worker's clock in whole ms: its `at`) and its
    /// JSON, in the order sent.
    list: Vec<(f64, String)>,
    /// Notices sent before this time may have been dropped.
    from: f64,
    /// The saved notices were read (this instance's follow them).
    pub loaded: bool,
    /// A read of the saved notices is under way.
    pub loading: bool,
    /// A save is under way.
    pub saving: bool,
    /// Notices not saved yet.
    pub unsaved: bool,
}

impl Notices {
    /// The `at` of a notice sent `now`: its time in whole ms, after every notice kept (an
    /// `at` names one notice, so a page takes each once).
    pub fn next_at(&self, now: f64) -> f64 {
        let after = self.list.last().map_or(0.0, |n| n.0 + 1.0);
        super::text::trunc(now).max(after)
    }

    /// Drops the notices kept whose JSON starts with `head` (an `UPDATED` of the same URL
    /// that a later one replaces).
    pub fn forget(&mut self, head: &str) {
        self.list.retain(|n| !n.1.starts_with(head));
    }

    pub fn push(&mut self, at: f64, json: String) {
        self.list.push((at, json));
        self.unsaved = true;
    }

    /// The saved notices (`{"from", "notices": [[at, json], …]}`, or nothing), before the
    /// ones this instance sent since it started. Read once.
    pub fn read(&mut self, saved: Option<&Value>) {
        self.loading = false;
        if ::core::mem::replace(&mut self.loaded, true) {
            return;
        }
        let Some(v) = saved else { return };
        if let Some(Value::Num(from)) = v.get("from") {
            self.from = self.from.max(*from);
        }
        let Some(Value::Arr(items)) = v.get("notices") else { return };
        let mut list: Vec<(f64, String)> = items
            .iter()
            .filter_map(|n| match n {
                Value::Arr(pair) => match pair.as_slice() {
                    [Value::Num(at), Value::Str(json)] => Some((*at, json.clone())),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        list.append(&mut self.list);
        self.list = list;
    }

    /// What is saved, once the notices older than [`KEEP_MS`] at `now`, and the oldest
    /// past [`KEEP_COUNT`] or [`KEEP_BYTES`], are dropped (a page away since a dropped
    /// `INVALIDATED` is told [`MISSED`]).
    pub fn write(&mut self, now: f64) -> String {
        let (mut keep, mut bytes) = (0, 0);
        for (at, json) in self.list.iter().rev() {
            bytes += json.len();
            if keep == KEEP_COUNT || bytes > KEEP_BYTES || *at < now - KEEP_MS {
                break;
            }
            keep += 1;
        }
        let cut = self.list.len() - keep;
        // A page that missed a dropped `UPDATED` (news, not an invalidation) is not told
        // that everything may have changed.
        for (at, json) in self.list.drain(..cut) {
            if !json.starts_with(UPDATED) {
                self.from = self.from.max(at + 1.0);
            }
        }
        self.unsaved = false;
        let mut out = String::from("{\"from\":");
        push_u64(&mut out, self.from as u64);
        out.push_str(",\"notices\":[");
        for (i, (at, json)) in self.list.iter().enumerate() {
            out.push_str(if i > 0 { ",[" } else { "[" });
            push_u64(&mut out, *at as u64);
            out.push(',');
            push_json_str(&mut out, json);
            out.push(']');
        }
        out.push_str("]}");
        out
    }

    /// The `NOTICES` reply to a page away since `since` (the worker's clock): every notice
    /// sent at or after it, in the order sent; [`MISSED`] first when some of them were
    /// dropped.
    pub fn reply(&self, since: f64) -> String {
        let missed = (since < self.from).then_some(MISSED);
        let sent = self.list.iter().filter(|n| n.0 >= since).map(|n| n.1.as_str());
        let mut out = String::from("{\"type\":\"NOTICES\",\"notices\":[");
        for (i, json) in missed.into_iter().chain(sent).enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(json);
        }
        out.push_str("]}");
        out
    }
}

#[cfg(all(test, any(not(target_arch = "wasm32"), target_os = "wasi")))]
mod tests {
    use super::*;
    use crate::policy::text::read_json;

    fn notice(at: f64, url: &str) -> String {
        format!(r#"{{"type":"INVALIDATED","urls":["{url}"],"at":{at}}}"#)
    }

    fn sent(n: &mut Notices, now: f64, url: &str) -> f64 {
        let at = n.next_at(now);
        n.push(at, notice(at, url));
        at
    }

    fn urls(reply: &str) -> Vec<String> {
        let v = read_json(reply).expect("JSON");
        assert_eq!(v.get("type").and_then(Value::as_str), Some("NOTICES"));
        let Some(Value::Arr(list)) = v.get("notices") else { panic!("{reply}") };
        list.iter()
            .map(|n| match n.get("urls") {
                Some(Value::Arr(u)) if n.get("all") == Some(&Value::Bool(true)) => format!("all{}", u.len()),
                Some(Value::Arr(u)) => u[0].as_str().unwrap().into(),
                _ => panic!("{n:?}"),
            })
            .collect()
    }

    #[test]
    fn each_notice_has_its_own_time_even_within_one_millisecond() {
        let mut n = Notices::default();
        assert_eq!(sent(&mut n, 1000.7, "/a"), 1000.0);
        assert_eq!(sent(&mut n, 1000.9, "/b"), 1001.0, "the same millisecond: the next one");
        assert_eq!(sent(&mut n, 1000.2, "/c"), 1002.0);
        assert_eq!(sent(&mut n, 5000.0, "/d"), 5000.0);
        assert_eq!(sent(&mut n, 10.0, "/e"), 5001.0, "a clock moved back: still after the last");
    }

    #[test]
    fn a_page_is_told_what_was_sent_at_or_after_the_time_it_left() {
        let mut n = Notices { loaded: true, ..Notices::default() };
        sent(&mut n, 1000.0, "/a");
        sent(&mut n, 2000.0, "/b");
        sent(&mut n, 3000.0, "/c");
        assert_eq!(urls(&n.reply(2000.0)), ["/b", "/c"]);
        assert_eq!(urls(&n.reply(0.0)), ["/a", "/b", "/c"]);
        assert!(urls(&n.reply(3001.0)).is_empty());
    }

    #[test]
    fn what_is_saved_is_read_back_before_the_notices_of_a_new_instance() {
        let mut first = Notices { loaded: true, ..Notices::default() };
        sent(&mut first, 1000.0, r#"/a \"quoted\""#); // (JSON: a string with quotes)
        sent(&mut first, 2000.0, "/b");
        let saved = first.write(2000.0);
        assert!(!first.unsaved);
        // The worker was stopped; the next one sends a notice before it reads the saved ones.
        let mut next = Notices::default();
        sent(&mut next, 3000.0, "/c");
        next.read(read_json(&saved).as_ref());
        assert!(next.loaded);
        assert_eq!(urls(&next.reply(0.0)), ["/a \"quoted\"", "/b", "/c"]);
        // Read once: a later read (another operation's) changes nothing.
        next.read(read_json(r#"{"from":0,"notices":[[1,"{}"]]}"#).as_ref());
        assert_eq!(urls(&next.reply(0.0)), ["/a \"quoted\"", "/b", "/c"]);
        // Nothing saved, or something that is not a saved list: no notices.
        for saved in [None, read_json("[1]"), read_json(r#"{"notices":[[1],"x",[2,3]]}"#)] {
            let mut n = Notices::default();
            n.read(saved.as_ref());
            assert!(n.loaded && urls(&n.reply(0.0)).is_empty());
        }
    }

    #[test]
    fn the_list_is_bounded_and_a_page_away_since_a_dropped_notice_is_told_everything_changed() {
        let mut n = Notices { loaded: true, ..Notices::default() };
        for i in 0..KEEP_COUNT + 2 {
            sent(&mut n, 1000.0 * i as f64, &format!("/{i}"));
        }
        n.write(1000.0 * (KEEP_COUNT + 2) as f64);
        let all = urls(&n.reply(0.0));
        assert_eq!(all.len(), KEEP_COUNT + 1);
        assert_eq!(all[0], "all0", "the two oldest were dropped");
        assert_eq!(all[1], "/2");
        assert_eq!(urls(&n.reply(1000.0))[0], "all0", "/1 was dropped");
        assert_eq!(urls(&n.reply(2000.0))[0], "/2", "nothing dropped since");
        // Older than 10 minutes.
        let last = 1000.0 * (KEEP_COUNT + 1) as f64;
        n.write(last + KEEP_MS);
        assert_eq!(urls(&n.reply(last)), [format!("/{}", KEEP_COUNT + 1)]);
        assert_eq!(urls(&n.reply(last - 1000.0)), ["all0", &format!("/{}", KEEP_COUNT + 1)]);
        // Bytes: one notice larger than the bound is not kept.
        let big = "/x".repeat(KEEP_BYTES);
        let at = sent(&mut n, last + KEEP_MS, &big);
        let saved = n.write(last + KEEP_MS);
        assert!(saved.len() < 1000, "{}", saved.len());
        assert_eq!(urls(&n.reply(at)), ["all0"]);
        // What was dropped stays known to the next instance.
        let mut next = Notices::default();
        next.read(read_json(&saved).as_ref());
        assert_eq!(urls(&next.reply(at)), ["all0"]);
        assert!(urls(&next.reply(at + 1.0)).is_empty());
    }

    #[test]
    fn a_dropped_updated_notice_does_not_tell_a_page_everything_changed() {
        let mut n = Notices { loaded: true, ..Notices::default() };
        let at = n.next_at(1000.0);
        n.push(at, format!(r#"{{"type":"UPDATED","url":"/news/a","at":{at}}}"#));
        for i in 0..KEEP_COUNT {
            sent(&mut n, 2000.0 + i as f64, &format!("/{i}"));
        }
        n.write(3000.0);
        let got = urls(&n.reply(0.0));
        assert_eq!(got.len(), KEEP_COUNT, "the UPDATED one dropped, no MISSED: {got:?}");
        assert_eq!(got[0], "/0");
    }
}
