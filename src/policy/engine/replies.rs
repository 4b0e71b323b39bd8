//! Replies that describe the engine: `STATS` (GET_STATS; the executor's failed-open STATS
//! has the same shape), `STATE` (GET_STATE: the routes and what each cache holds) and
//! `ERROR`.

use crate::policy::prelude::*;
use crate::policy::stats::Counters;
use crate::policy::strategy::is_fresh;
use crate::policy::text::push_json_str;
use crate::policy::url;

use super::{match_lookups, Engine, Entry, Io, Kind, OpId, Req, Tag};

/// Most entries GET_STATE lists per cache.
pub const STATE_ENTRIES: usize = 500;

impl Engine {
    /// `{type:'STATS', …}`: totals, per route (the precache included), engine state.
    #[inline(never)]
    pub fn stats_json(&self) -> String {
        let mut total = Counters::default();
        let mut routes = String::from("{");
        for (i, s) in self.slots.iter().enumerate() {
            total.add(&s.counters);
            if i > 0 {
                routes.push(',');
            }
            push_json_str(&mut routes, &s.route.name);
            routes.push(':');
            counters_json(&mut routes, &s.counters, "{");
            routes.push('}');
        }
        routes.push('}');
        let mut out = String::from("{\"type\":\"STATS\"");
        counters_json(&mut out, &total, ",");
        out.push_str(",\"routes\":");
        out.push_str(&routes);
        if let Some(f) = &self.feed {
            out.push_str(",\"feed\":{\"epoch\":");
            push_json_str(&mut out, f.cursor.as_ref().map_or("", |c| c.epoch.as_str()));
            let seq = f.cursor.as_ref().map_or(0, |c| c.seq);
            out.push_str(&cat!(",\"seq\":", seq, ",\"checks\":", f.checks, ",\"notModified\":", f.not_modified));
            out.push_str(&cat!(
                ",\"applied\":",
                f.applied,
                ",\"errors\":",
                f.errors,
                ",\"epochChanges\":",
                f.epochs.total
            ));
            out.push_str(",\"lastSuccess\":");
            match f.last_success {
                Some(t) => push_json_str(&mut out, &crate::policy::time::iso_string(t)),
                None => out.push_str("null"),
            }
            out.push_str(",\"error\":");
            match &f.error {
                Some(e) => push_json_str(&mut out, e),
                None => out.push_str("null"),
            }
            out.push('}');
        }
        out.push_str(",\"warnings\":[");
        for (i, w) in self.said.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_json_str(&mut out, w);
        }
        out.push_str("],\"engine\":\"ok\"}");
        out
    }

    #[inline(never)]
    pub(super) fn state_io(&mut self, id: OpId, tag: Tag, io: Io, now: f64) {
        let index = tag.index();
        let origin = self.origin.clone();
        let Some(Kind::State { lists, lookups, found, outstanding }) = self.op(id).map(|o| &mut o.kind) else { return };
        match (tag, io) {
            (Tag::List(_), Io::Keys(keys)) => {
                *lists -= 1;
                let keys = keys.unwrap_or_default();
                let first = lookups.len() as u32;
                let take = keys.len().min(STATE_ENTRIES);
                for (k, h) in keys.iter().take(take).enumerate() {
                    let path = crate::policy::precache::path_of_key(url::key_of(h, &origin));
                    lookups.push((index as usize, Req::Key { list: tag, index: k as u32 }, String::from(path)));
                }
                *outstanding += take as u32;
                let cmds = match_lookups(
                    id,
                    first,
                    lookups[first as usize..].iter().map(|(slot, req, _)| (*slot, req.clone())),
                );
                self.out.extend(cmds);
            }
            (Tag::Look(_), Io::Matched(e)) => {
                *outstanding -= 1;
                if let (Some(e), Some((slot, _, path))) = (e, lookups.get(index as usize)) {
                    found.push((*slot, path.clone(), e));
                }
            }
            _ => return,
        }
        let Some(Kind::State { lists: 0, outstanding: 0, .. }) = self.op(id).map(|o| &o.kind) else { return };
        let Some(Kind::State { found, .. }) = self.op(id).map(|o| ::core::mem::replace(&mut o.kind, Kind::Idle)) else {
            return;
        };
        let json = self.state_json(&found, now);
        self.reply_and_end(id, json);
    }

    /// `{type:'STATE', engine, version, routes:[{name, cache, strategy, maxAge, maxEntries,
    /// coldStart, entries:[{url, ageMs, fresh, size, tags}]}], fences:[…], feed}`.
    pub(super) fn state_json(&self, found: &[(usize, String, Entry)], now: f64) -> String {
        let mut out = String::from("{\"type\":\"STATE\",\"engine\":\"ok\",\"version\":");
        push_json_str(&mut out, &self.cfg.version);
        out.push_str(",\"routes\":[");
        for (i, s) in self.slots.iter().enumerate() {
            let r = &s.route;
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"name\":");
            push_json_str(&mut out, &r.name);
            out.push_str(",\"cache\":");
            push_json_str(&mut out, &r.cache_name);
            let strategy =
                crate::policy::config::Strategy::ALL.iter().find(|(_, st)| *st == r.strategy).map_or("", |(n, _)| n);
            out.push_str(",\"strategy\":");
            push_json_str(&mut out, strategy);
            out.push_str(",\"maxAge\":");
            match r.max_age_ms {
                // (number_text writes error messages: past 1e15 it says "a huge number",
                // which is no JSON, and a reply JSON.parse refuses is never posted.)
                Some(m) if m < 1e15 => out.push_str(&crate::policy::text::number_text(m)),
                Some(m) => crate::policy::text::push_u64(&mut out, m as u64),
                None => out.push_str("null"),
            }
            out.push_str(",\"maxEntries\":");
            match r.max_entries {
                Some(m) => crate::policy::text::push_u64(&mut out, u64::from(m)),
                None => out.push_str("null"),
            }
            out.push_str(if r.router { ",\"coldStart\":\"router\"" } else { ",\"coldStart\":\"worker\"" });
            out.push_str(",\"entries\":[");
            let mut first = true;
            for (_, path, e) in found.iter().filter(|(slot, _, _)| *slot == i) {
                if !first {
                    out.push(',');
                }
                first = false;
                out.push_str("{\"url\":");
                push_json_str(&mut out, path);
                out.push_str(",\"ageMs\":");
                match e.stamp_ms {
                    Some(t) => crate::policy::text::push_u64(&mut out, if now > t { (now - t) as u64 } else { 0 }),
                    None => out.push_str("null"),
                }
                out.push_str(if is_fresh(e.stamp_ms, now, r.max_age_ms) && !self.hidden(path, i, e, now) {
                    ",\"fresh\":true"
                } else {
                    ",\"fresh\":false"
                });
                out.push_str(",\"size\":");
                match e.size {
                    Some(n) => crate::policy::text::push_u64(&mut out, n),
                    None => out.push_str("null"),
                }
                out.push_str(",\"tags\":[");
                for (k, t) in
                    e.tags.as_deref().unwrap_or("").split(',').map(str::trim).filter(|t| !t.is_empty()).enumerate()
                {
                    if k > 0 {
                        out.push(',');
                    }
                    push_json_str(&mut out, t);
                }
                out.push_str("]}");
            }
            out.push_str("]}");
        }
        out.push_str("],\"fences\":");
        out.push_str(&self.fences.json());
        out.push_str(",\"stats\":");
        out.push_str(&self.stats_json());
        out.push('}');
        out
    }
}

fn counters_json(out: &mut String, c: &Counters, open: &str) {
    let fields: [(&str, u64); 6] = [
        ("hits", c.hits),
        ("misses", c.misses),
        ("staleServed", c.stale_served),
        ("networkErrors", c.network_errors),
        ("evictions", c.evictions),
        ("invalidations", c.invalidations),
    ];
    for (k, (name, v)) in fields.iter().enumerate() {
        out.push_str(if k == 0 { open } else { "," });
        out.push('"');
        out.push_str(name);
        out.push_str("\":");
        crate::policy::text::push_u64(out, *v);
    }
}

/// `{type:'ERROR', error}`.
pub fn error_json(text: &str) -> String {
    let mut out = String::from("{\"type\":\"ERROR\",\"error\":");
    push_json_str(&mut out, text);
    out.push('}');
    out
}

/// The STATS reply of a worker whose engine failed (the shim sends it, adding `error`):
/// the same shape as [`Engine::stats_json`], every counter zero.
pub fn failed_open_stats_json() -> String {
    let mut out = String::from("{\"type\":\"STATS\"");
    counters_json(&mut out, &Counters::default(), ",");
    out.push_str(",\"routes\":{},\"engine\":\"failed-open\"}");
    out
}

#[cfg(test)]
mod tests {
    /// The shim answers GET_STATS itself when the engine failed to load; its text must
    /// be the engine's own shape.
    #[test]
    fn shim_carries_the_engines_failed_open_reply() {
        let shim = include_str!("../../../www/swcache-sw.shim.js");
        let want = super::failed_open_stats_json();
        assert!(shim.contains(&want), "www/swcache-sw.shim.js must contain {want}");
    }
}
