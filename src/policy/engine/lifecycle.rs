//! The worker's lifecycle: install (router rules, the feed asked first, the revisioned
//! precache), activate (obsolete caches and precache entries but the previous build's
//! content-hashed files, navigation preload, claim), and the kill switch (the feed
//! answered `410 Gone`: an install fails; an installed worker deletes every `swcache-`
//! cache and unregisters).

use crate::policy::config::Config;
use crate::policy::prelude::*;
use crate::policy::url;

use super::{Cmd, Engine, Io, Kind, OpId, Req, Tag, NOT_A_JOB};

impl Engine {
    #[inline(never)]
    pub(super) fn install_io(&mut self, id: OpId, tag: Tag, io: Io, now: f64) {
        // The precache entry a fetch result (tag `Item(i, 0)`) is for.
        let i = if let Tag::Item(i, _) = tag { i } else { 0 };
        let entry =
            |cfg: &Config| cfg.precache.get(i as usize).map(|e| (e.path.clone(), e.key.clone())).unwrap_or_default();
        if tag == Tag::Feed {
            // The feed's answer, or the end of the install's wait for it: the first one
            // starts the precache. A 410, even late, fails the install (README,
            // 'Removing swcache').
            if let Io::Feed { status: 410, .. } = io {
                let text =
                    "swcache: the feed answered 410 Gone: swcache is off this site, so this worker does not install";
                return self.fail_install(id, String::from(text));
            }
            if let Some(Kind::Install { feed: waiting @ true, .. }) = self.op(id).map(|o| &mut o.kind) {
                *waiting = false;
                self.install_precache(id);
            }
            return;
        }
        match io {
            Io::Keys(keys) if tag == Tag::Keys => {
                // Unlisted: every entry counts as missing and is fetched again.
                let keys = keys.unwrap_or_default();
                let stored: Vec<&str> = keys.iter().filter_map(|h| url::same_origin_path(h, &self.origin)).collect();
                // (And the plain URLs: a failed install of this version may have stored them
                // mid-deploy, the old `/` before the new chunks were uploaded.)
                let mut fetch = vec![false; self.cfg.precache.len()];
                for i in crate::policy::precache::missing(&self.cfg.precache, &stored) {
                    fetch[i] = true;
                }
                let missing: Vec<usize> = (0..fetch.len()).filter(|&i| fetch[i] || self.cfg.is_plain(i)).collect();
                if let Some(Kind::Install { pending, .. }) = self.op(id).map(|o| &mut o.kind) {
                    *pending = missing.len() as u32;
                }
                if missing.is_empty() {
                    return self.install_finished(id);
                }
                let headers_ms = Some(crate::policy::store::HEADERS_MS);
                for i in missing {
                    let req = Req::Path(self.cfg.precache[i].path.clone());
                    self.emit(Cmd::Fetch { op: id, tag: Tag::Item(i as u32, 0), req, reload: true, headers_ms });
                }
            }
            Io::Fetched(Err(e)) => {
                self.fail_install(id, cat!("swcache precache: ", entry(&self.cfg).0, " failed: ", e));
            }
            Io::Fetched(Ok(info)) if info.status != 200 => {
                self.fail_install(id, cat!("swcache precache: ", entry(&self.cfg).0, " answered HTTP ", info.status));
            }
            Io::Fetched(Ok(info)) if info.redirected => {
                // A stored copy cannot keep its final URL: relative URLs in it would
                // resolve against the listed one (README, 'Storing').
                let path = entry(&self.cfg).0;
                self.fail_install(
                    id,
                    cat!("swcache precache: ", path, " was redirected: list the URL it ends at instead"),
                );
            }
            Io::Fetched(Ok(info)) => {
                let (path, key) = entry(&self.cfg);
                let slot = self.precache_slot();
                self.put(id, slot, Req::Path(key), &path, tag, info.opaque, now, false, Some(i));
            }
            Io::Done if tag == Tag::Finish => {
                if let Some(o) = self.op(id) {
                    o.answered = true;
                }
                self.finish_if_idle(id);
            }
            _ => {}
        }
    }

    /// Lists the precache to fetch what is not stored (nothing listed: installed).
    pub(super) fn install_precache(&mut self, id: OpId) {
        if self.cfg.precache.is_empty() {
            self.install_finished(id);
        } else {
            let slot = self.precache_slot() as u32;
            self.emit(Cmd::Keys { op: id, tag: Tag::Keys, slot });
        }
    }

    pub(super) fn fail_install(&mut self, id: OpId, text: String) {
        if let Some(i) = self.ops.iter().position(|o| o.id == id) {
            self.ops.swap_remove(i);
            self.emit(Cmd::Fail { op: id, text });
            let job = self.writes.iter().find(|w| w.0 == id).map_or(NOT_A_JOB, |w| w.1);
            self.write_ended(id, job);
        }
    }

    pub(super) fn install_finished(&mut self, id: OpId) {
        if self.cfg.wait_for_clients {
            if let Some(o) = self.op(id) {
                o.answered = true;
            }
            self.finish_if_idle(id);
        } else {
            self.emit(Cmd::SkipWaiting { op: id, tag: Tag::Finish });
        }
    }

    #[inline(never)]
    pub(super) fn activate_io(&mut self, id: OpId, tag: Tag, io: Io, now: f64) {
        let mut more = 0;
        match (tag, io) {
            (Tag::Names, Io::CacheNames(mut names)) => {
                names.retain(|n| self.cfg.is_obsolete_cache(n));
                more += self.delete_caches(id, names.into_iter());
            }
            (Tag::State, Io::State(v)) => {
                // What the previous activate kept: it goes now, what this one keeps stays.
                self.kept = Some(crate::policy::precache::read_kept(v.as_ref()));
                let slot = self.precache_slot() as u32;
                self.emit(Cmd::Keys { op: id, tag: Tag::Keys, slot });
                more += 1;
            }
            // Unlisted: obsolete entries are removed at the next version's cleanup, and
            // what was kept stays so.
            (Tag::Keys, Io::Keys(Some(keys))) => {
                let stored: Vec<&str> =
                    keys.iter().map(|h| url::same_origin_path(h, &self.origin).unwrap_or("")).collect();
                let before = self.kept.take().unwrap_or_default();
                let (stale, keep) = crate::policy::precache::retire(&self.cfg.precache, &stored, &before);
                let slot = self.precache_slot() as u32;
                // Keys of this list stored at install and deleted since, by an older
                // version's activate while this one installed (two deploys in a row), are
                // fetched again: nothing else would, before the next version (the offline
                // page is never asked for online).
                let headers_ms = Some(crate::policy::store::HEADERS_MS);
                for i in crate::policy::precache::missing(&self.cfg.precache, &stored) {
                    let req = Req::Path(self.cfg.precache[i].path.clone());
                    self.emit(Cmd::Fetch { op: id, tag: Tag::Item(i as u32, 2), req, reload: true, headers_ms });
                    more += 1;
                }
                if !stale.is_empty() {
                    let reqs = stale.into_iter().map(|i| Req::Key { list: Tag::Keys, index: i as u32 }).collect();
                    self.emit(Cmd::Delete { op: id, tag: Tag::Item(0, 1), slot, reqs });
                    more += 1;
                }
                more += self.drop_route_copies(id);
                if keep != before {
                    let text = crate::policy::precache::write_kept(&keep);
                    self.emit(Cmd::SaveState { op: id, tag: Tag::Save, key: crate::policy::config::KEPT_KEY, text });
                    more += 1;
                }
                self.kept = Some(keep);
            }
            (Tag::Finish, Io::Done) => {
                if let Some(o) = self.op(id) {
                    o.answered = true;
                }
                return self.finish_if_idle(id);
            }
            // (Best effort: a failed refetch leaves the key to the precache route's
            // next miss.)
            (Tag::Item(i, 2), Io::Fetched(Ok(info))) if info.status == 200 && !info.redirected => {
                if let Some(e) = self.cfg.precache.get(i as usize).cloned() {
                    let slot = self.precache_slot();
                    self.put(id, slot, Req::Path(e.key), &e.path, tag, info.opaque, now, false, None);
                }
            }
            (_, Io::Done | Io::Deleted(_) | Io::Put(_) | Io::Keys(None) | Io::Fetched(_)) => {}
            _ => return,
        }
        let left = match self.op(id).map(|o| &mut o.kind) {
            Some(Kind::Activate { pending }) => {
                *pending = *pending + more - 1;
                *pending
            }
            _ => return,
        };
        if left == 0 {
            self.activated(id, now);
        }
    }

    /// Deletes the route caches' copies of the URLs this list precaches under a revision
    /// (`/`, and files not named by their content): a route that matches one (the quick
    /// start's pages route takes `/`) read its own copy before the precache, refreshed
    /// when the precached one passed its maxAge, and it outlives the deploy: a returning
    /// visitor got the old build's `/`, asking for chunks this activate deleted. The
    /// number of deletions sent.
    fn drop_route_copies(&mut self, id: OpId) -> u32 {
        let mut by_slot: Vec<(usize, Vec<Req>)> = Vec::new();
        for e in &self.cfg.precache {
            if e.key == e.path {
                continue; // named by its content: any copy of it is this build's
            }
            let href = cat!(self.origin, e.path);
            // (Routes only: the precache route's scan of the list, per entry, held a
            // 10,000-file activate 140 ms.)
            let facts = crate::policy::route::RequestFacts { is_get: true, href: &href, has_range: false };
            let test = &self.test;
            let Some(crate::policy::route::Selection::Route(slot)) =
                crate::policy::route::select_in(&self.cfg, &self.origin, &facts, |i, t| test(i, t), false)
            else {
                continue;
            };
            match by_slot.iter_mut().find(|(s, _)| *s == slot) {
                Some((_, reqs)) => reqs.push(Req::Path(e.path.clone())),
                None => by_slot.push((slot, vec![Req::Path(e.path.clone())])),
            }
        }
        let n = by_slot.len() as u32;
        for (slot, reqs) in by_slot {
            self.emit(Cmd::Delete { op: id, tag: Tag::Item(0, 3), slot: slot as u32, reqs });
        }
        n
    }

    /// Claims the open pages, `waitForClients` or not: a worker activates only once no
    /// page uses the old version (or one asked it to take over), so claiming mixes no
    /// versions, and a first visit is controlled at once.
    fn activated(&mut self, id: OpId, now: f64) {
        self.emit(Cmd::Claim { op: id, tag: Tag::Finish });
        self.maybe_sweep(now);
    }

    /// The site takes swcache off (its feed answers `410 Gone`): from now on every
    /// request goes to the browser; every `swcache-` cache is deleted (no other cache is
    /// touched) and the worker unregisters, so the next navigation has no worker.
    #[inline(never)]
    pub(super) fn remove(&mut self) {
        if self.removed {
            return;
        }
        self.removed = true;
        // (Kept for GET_STATS too: `stats()` and `inspect()` then say why nothing is cached.)
        self.warn_kept(String::from("swcache: the feed answered 410 Gone: removing swcache from this site (its caches are deleted and the worker unregisters)"));
        let id = self.new_op(Kind::Remove { pending: 0 });
        // No write starts from now on (`may_store`); the ones under way end first, or
        // one ending after the deletion would create its cache again.
        if self.writes.is_empty() {
            self.emit(Cmd::CacheNames { op: id, tag: Tag::Names });
        } else {
            self.removal_waiting = Some(id);
        }
    }

    #[inline(never)]
    pub(super) fn remove_io(&mut self, id: OpId, tag: Tag, io: Io) {
        let left = match (tag, io) {
            (Tag::Names, Io::CacheNames(names)) => {
                let n =
                    self.delete_caches(id, names.into_iter().filter(|n| n.starts_with(crate::policy::CACHE_PREFIX)));
                if let Some(Kind::Remove { pending }) = self.op(id).map(|o| &mut o.kind) {
                    *pending = n;
                }
                n
            }
            (Tag::Remove, Io::Done) => {
                if let Some(o) = self.op(id) {
                    o.answered = true;
                }
                return self.finish_if_idle(id);
            }
            (_, Io::Done) => match self.op(id).map(|o| &mut o.kind) {
                Some(Kind::Remove { pending }) => {
                    *pending -= 1;
                    *pending
                }
                _ => return,
            },
            _ => return,
        };
        if left == 0 {
            self.emit(Cmd::Unregister { op: id, tag: Tag::Remove });
        }
    }

    /// Deletes each named cache (tags `Item(i, 0)`, each answered with [`Io::Done`]);
    /// returns how many.
    fn delete_caches(&mut self, id: OpId, names: impl Iterator<Item = String>) -> u32 {
        let mut n = 0;
        for name in names {
            self.emit(Cmd::DeleteCache { op: id, tag: Tag::Item(n, 0), name });
            n += 1;
        }
        n
    }
}
