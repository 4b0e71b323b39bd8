//! Revisioned precache entries. Every version shares one cache
//! ([`super::config::PRECACHE_CACHE`]); an entry is stored under a key made of its URL
//! and its revision, so:
//! - install fetches only the entries whose key is not stored yet (a changed or new
//!   revision) and never touches what the active version serves;
//! - activate deletes the keys the new version does not list, but for the previous
//!   build's content-hashed files, which it keeps one version more ([`retire`]);
//! - a failed install leaves the old version's entries as they were.
//!
//! A plain URL in `precache` is revisioned by the config `version` and, when the list
//! has revisioned entries, by them (refetched when the version or the build changes); `{url, revision}` by its revision; `{url, revision: null}` by
//! nothing: the URL names its content (a content-hashed file name) and is fetched once.

use super::message::PathSet;
use super::prelude::*;

/// The query parameter carrying the revision in a precache key (always last).
pub const REVISION_PARAM: &str = "__swcache_rev=";

#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Same-origin path+search the entry answers.
    pub path: String,
    /// The path+search it is stored under.
    pub key: String,
}

impl Entry {
    pub fn new(path: String, revision: Option<&str>) -> Entry {
        let key = match revision {
            None => path.clone(),
            Some(r) => {
                let mut k = path.clone();
                k.push(if path.contains('?') { '&' } else { '?' });
                k.push_str(REVISION_PARAM);
                k.push_str(r);
                k
            }
        };
        Entry { path, key }
    }
}

/// The path+search a stored key answers (the key without its revision).
pub fn path_of_key(key: &str) -> &str {
    // A byte search (a string pattern would bring a two-way searcher into the worker).
    let b = key.as_bytes();
    let p = REVISION_PARAM.as_bytes();
    match b.windows(p.len()).rposition(|w| w == p) {
        // `split_at_checked`: byte i - 1 is ASCII, so this cannot fail, and unlike
        // `&key[..i - 1]` it links no boundary-error message into the worker.
        Some(i) if i > 0 && matches!(b[i - 1], b'?' | b'&') && !b[i..].contains(&b'&') => {
            key.split_at_checked(i - 1).map_or(key, |(k, _)| k)
        }
        _ => key,
    }
}

/// Indices of the entries whose key is not among `stored` (path+search of each stored
/// key): what an install must fetch.
pub fn missing(entries: &[Entry], stored: &[&str]) -> Vec<usize> {
    let have: PathSet = stored.iter().map(|k| String::from(*k)).collect();
    entries.iter().enumerate().filter(|(_, e)| !have.contains(&e.key)).map(|(i, _)| i).collect()
}

/// Indices into `stored` of the keys no entry has: what an activate deletes.
pub fn obsolete(entries: &[Entry], stored: &[&str]) -> Vec<usize> {
    let keys: PathSet = entries.iter().map(|e| e.key.clone()).collect();
    stored.iter().enumerate().filter(|(_, k)| !keys.contains(k)).map(|(i, _)| i).collect()
}

/// What an activate does with the stored keys (`stored`: path+search of each; `kept`: the
/// keys the previous activate kept): the indices of the keys to delete, and the keys to
/// keep one version more. A content-hashed file (stored under its path, no revision) that
/// the new list drops is kept, so a page still running the outgoing build can load it
/// (a lazily imported chunk the new deploy no longer has); what was kept already goes,
/// so at most one build back stays. A deploy that drops no such file (the same build
/// under a new version, or a new worker) is no new build: what was kept stays. Only a
/// list with content-hashed files keeps any: a fetch waits for the kept keys to be read
/// only where the list has such files.
pub fn retire(entries: &[Entry], stored: &[&str], kept: &[String]) -> (Vec<usize>, Vec<String>) {
    let hashed = entries.iter().any(|e| e.key == e.path);
    let named = |k: &str| hashed && k.starts_with('/') && path_of_key(k).len() == k.len();
    // (Sorted once: a deploy that renames every one of 10,000 hashed files looks up each.)
    let kept_set: PathSet = kept.iter().cloned().collect();
    let was_kept = |k: &str| kept_set.contains(k);
    let gone = obsolete(entries, stored);
    let new_build = gone.iter().any(|&i| named(stored[i]) && !was_kept(stored[i]));
    let mut delete = Vec::new();
    let mut keep = Vec::new();
    for i in gone {
        let k = stored[i];
        if named(k) && !(new_build && was_kept(k)) {
            keep.push(String::from(k));
        } else {
            delete.push(i);
        }
    }
    (delete, keep)
}

/// The kept keys as the worker stores them (a JSON array), and read back.
pub fn write_kept(kept: &[String]) -> String {
    let mut out = String::from("[");
    for (i, k) in kept.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        super::text::push_json_str(&mut out, k);
    }
    out.push(']');
    out
}

pub fn read_kept(v: Option<&super::value::Value>) -> Vec<String> {
    match v {
        Some(super::value::Value::Arr(a)) => a.iter().filter_map(|k| k.as_str().map(String::from)).collect(),
        _ => Vec::new(),
    }
}

/// 32-bit FNV-1a: a short, stable name for a route's identity.
#[derive(Clone, Copy, Debug)]
pub struct Fnv(u32);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0x811c_9dc5)
    }
}

impl Fnv {
    pub fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u32::from(*b)).wrapping_mul(0x0100_0193);
        }
    }

    /// Appends the hash as 8 lowercase hex digits.
    pub fn push_hex(&self, out: &mut String) {
        for i in (0..8).rev() {
            let d = (self.0 >> (i * 4)) & 0xf;
            out.push(char::from(if d < 10 { b'0' + d as u8 } else { b'a' + d as u8 - 10 }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rng(seed: u64) -> impl FnMut(u64) -> u64 {
        let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        move |n| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s % n
        }
    }

    #[test]
    fn keys_carry_the_revision_last() {
        assert_eq!(Entry::new("/app.css".into(), Some("abc")).key, "/app.css?__swcache_rev=abc");
        assert_eq!(Entry::new("/a?x=1".into(), Some("v2")).key, "/a?x=1&__swcache_rev=v2");
        assert_eq!(Entry::new("/app.3f9a.js".into(), None).key, "/app.3f9a.js");
        for e in [
            Entry::new("/app.css".into(), Some("abc")),
            Entry::new("/a?x=1".into(), Some("v2")),
            Entry::new("/h.js".into(), None),
        ] {
            assert_eq!(path_of_key(&e.key), e.path);
        }
        // Not a revision parameter: left alone.
        assert_eq!(path_of_key("/x__swcache_rev=1"), "/x__swcache_rev=1");
        assert_eq!(path_of_key("/x?__swcache_rev=1&y=2"), "/x?__swcache_rev=1&y=2");
    }

    /// A deploy: random manifests before and after; install fetches exactly the entries
    /// whose (url, revision) is new, and activate deletes exactly the keys the new
    /// manifest no longer has. Nothing the old version serves is touched by install.
    #[test]
    fn manifest_diffing_fetches_only_what_changed() {
        for seed in 0..300 {
            let mut r = rng(seed);
            let n = 1 + r(60) as usize;
            let old: Vec<Entry> = (0..n)
                .map(|i| {
                    let rev = cat!("r", r(3));
                    Entry::new(cat!("/f", i), if r(5) == 0 { None } else { Some(rev.as_str()) })
                })
                .collect();
            // The new version: some files change revision, some go, some are new.
            let mut new = Vec::new();
            let mut changed = Vec::new();
            for (i, e) in old.iter().enumerate() {
                match r(10) {
                    0 => {} // removed
                    1 | 2 => {
                        changed.push(e.path.clone());
                        new.push(Entry::new(e.path.clone(), Some(&cat!("n", i))));
                    }
                    _ => new.push(e.clone()),
                }
            }
            for j in 0..r(4) {
                let p = cat!("/new", j);
                changed.push(p.clone());
                new.push(Entry::new(p, Some("x")));
            }
            let stored: Vec<&str> = old.iter().map(|e| e.key.as_str()).collect();
            let fetch: Vec<String> = missing(&new, &stored).into_iter().map(|i| new[i].path.clone()).collect();
            assert_eq!(fetch, changed, "seed {seed}: only changed or new entries are fetched");
            // After install, the cache holds both versions' keys; activate drops the old.
            let mut after: Vec<&str> = stored.clone();
            after.extend(missing(&new, &stored).into_iter().map(|i| new[i].key.as_str()));
            let gone: Vec<&str> = obsolete(&new, &after).into_iter().map(|i| after[i]).collect();
            for k in &gone {
                assert!(!new.iter().any(|e| e.key == *k), "seed {seed}: {k} is still listed");
            }
            let kept: Vec<&str> = after.iter().copied().filter(|k| !gone.contains(k)).collect();
            for e in &new {
                assert!(kept.contains(&e.key.as_str()), "seed {seed}: {} must stay", e.key);
            }
            assert_eq!(missing(&new, &kept), Vec::<usize>::new(), "seed {seed}: a second install fetches nothing");
        }
    }

    #[test]
    fn activate_keeps_the_previous_builds_hashed_files_one_version() {
        let v2 = [Entry::new("/".into(), Some("v2")), Entry::new("/a.b2.js".into(), None)];
        let stored = ["/?__swcache_rev=v1", "/?__swcache_rev=v2", "/a.a1.js", "/a.z0.js", "/a.b2.js", ""];
        let (delete, keep) = retire(&v2, &stored, &["/a.z0.js".into()]);
        let deleted: Vec<&str> = delete.into_iter().map(|i| stored[i]).collect();
        assert_eq!(deleted, ["/?__swcache_rev=v1", "/a.z0.js", ""], "revisioned, kept before, another origin's");
        assert_eq!(keep, ["/a.a1.js"]);
        // The same build again (a new version): what was kept stays.
        let again = ["/?__swcache_rev=v1", "/?__swcache_rev=v2", "/a.a1.js", "/a.b2.js"];
        let (delete, keep) = retire(&v2, &again, &["/a.a1.js".into()]);
        assert_eq!((delete, keep), (vec![0], vec![String::from("/a.a1.js")]));
        // A list without content-hashed files keeps nothing.
        let (delete, keep) = retire(&v2[..1], &stored, &[]);
        assert_eq!((delete.len(), keep.len()), (5, 0));
        #[cfg(any(not(target_arch = "wasm32"), target_os = "wasi"))]
        {
            let saved = write_kept(&["/a \"x\".js".into(), "/b.js".into()]);
            let back = read_kept(crate::policy::text::read_json(&saved).as_ref());
            assert_eq!(back, ["/a \"x\".js", "/b.js"]);
        }
        assert!(read_kept(None).is_empty());
    }

    #[test]
    fn fnv_is_stable() {
        let mut h = Fnv::default();
        h.write(b"/\\.png$/i");
        let mut s = String::new();
        h.push_hex(&mut s);
        assert_eq!(s.len(), 8);
        let mut h2 = Fnv::default();
        h2.write(b"/\\.png$/i");
        let mut s2 = String::new();
        h2.push_hex(&mut s2);
        assert_eq!(s, s2);
        let mut empty = String::new();
        Fnv::default().push_hex(&mut empty);
        assert_eq!(empty, "811c9dc5");
    }
}
