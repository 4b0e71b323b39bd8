//! `swcache-manifest`: hashes a site's build directory into a precache manifest, the
//! `precache` list a site's worker passes to `swcache.start()`: one `{url, revision}`
//! entry per file, the revision a hash of the file's bytes, so a new worker version
//! fetches only what changed. Like `workbox injectManifest`, it can write the manifest
//! straight into the worker script. Output is deterministic (sorted by path) and written
//! atomically (a temporary file renamed over the target: a reader never sees half a file).
//!
//! Self-contained on purpose (no crate dependencies): SHA-256 and the glob matcher are
//! here, with their tests.

use std::ffi::OsString;
use std::fs::{self, File, Permissions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const HELP: &str = "\
swcache-manifest: hash a site's build directory into a swcache precache manifest

USAGE:
    swcache-manifest <DIR> [OPTIONS]

Lists the files under DIR, sorted by path, as the `precache` entries of the config a
site's worker passes to swcache.start(): {\"url\":\"/app.js\",\"revision\":\"<hash>\"}. The
url is --prefix and the file's path, percent-encoded; the revision is the first 16 hex
digits of the SHA-256 of the file's bytes, or null for files whose names already change
with their content (--hashed). A new worker version fetches only the entries that are
new or whose revision changed, and keeps the others without a request.

OPTIONS:
    --include GLOB     list the files matching GLOB [default: **/*]; repeatable
    --exclude GLOB     leave out the files matching GLOB, even if included; repeatable
    --hashed GLOB      of the listed files, those whose URL names their content (such as
                       assets/app.3f9a1c.js): revision null; repeatable
    --prefix URL       the URL path DIR is served at [default: /], e.g. /static/
    --format js|json   json: the array; js: `self.swcacheManifest = [...];`, a script for
                       importScripts() [default: js if --output ends in .js, else json]
    --output FILE      write to FILE (atomically) instead of stdout
    --inject FILE      write the array into the worker script FILE in place of its one
                       `self.swcacheManifest` (`precache: self.swcacheManifest` becomes
                       `precache: [...]`); FILE is rewritten atomically, or left as it is
                       and the result written to --output if given
    -h, --help         this text

GLOBS match a file's path relative to DIR, with / separators: * any characters but /,
? any one character but /, ** as a whole segment any number of directories, {a,b}
either a or b. Quote them, so the shell does not expand them. Wildcards in --include
match a leading dot only when it is written: dotfiles and dot directories are left out
unless named (--include '.well-known/**'). Symlinks are followed only to files and
directories inside DIR. The --output and --inject files are never listed.

EXAMPLE:
    swcache-manifest dist --exclude '**/*.map' --hashed 'assets/**' --inject dist/sw.js

A one-line summary goes to stderr. Exit status: 0 written; 1 a file could not be read or
written, or the --inject file has no single placeholder; 2 bad arguments, DIR not a
directory, or globs that match no file or more than 10,000 (the engine's limit).
";

/// The most URLs the engine precaches (`MAX_PRECACHE` in the config validation).
const MAX_FILES: usize = 10_000;
/// What `--inject` replaces, and the global the `js` format assigns.
const PLACEHOLDER: &str = "self.swcacheManifest";

/// An error message and the exit status it ends the command with.
struct Fail {
    code: u8,
    msg: String,
}

/// Bad arguments or input that selects nothing sensible: exit 2.
fn usage(msg: String) -> Fail {
    Fail { code: 2, msg }
}

/// A file that could not be read or written: exit 1.
fn io_fail(path: &Path, e: impl std::fmt::Display) -> Fail {
    Fail { code: 1, msg: format!("{}: {e}", path.display()) }
}

fn warn(msg: &str) {
    eprintln!("swcache-manifest: warning: {msg}");
}

// ---------------------------------------------------------------------------------------
// SHA-256 (FIPS 180-4)

const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// A streaming SHA-256: `update` with the bytes in any pieces, then `finish`.
struct Sha256 {
    state: [u32; 8],
    block: [u8; 64],
    filled: usize,
    len: u64,
}

impl Sha256 {
    fn new() -> Sha256 {
        let state = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
        Sha256 { state, block: [0; 64], filled: 0, len: 0 }
    }

    fn update(&mut self, mut data: &[u8]) {
        self.len = self.len.wrapping_add(data.len() as u64);
        if self.filled > 0 {
            let n = (64 - self.filled).min(data.len());
            self.block[self.filled..self.filled + n].copy_from_slice(&data[..n]);
            self.filled += n;
            data = &data[n..];
            if self.filled < 64 {
                return;
            }
            compress(&mut self.state, &self.block);
            self.filled = 0;
        }
        let mut blocks = data.chunks_exact(64);
        for b in &mut blocks {
            compress(&mut self.state, b.try_into().expect("64 bytes"));
        }
        let rest = blocks.remainder();
        self.block[..rest.len()].copy_from_slice(rest);
        self.filled = rest.len();
    }

    fn finish(mut self) -> [u8; 32] {
        let bits = self.len.wrapping_mul(8);
        // 0x80, zeros up to 56 mod 64, then the length in bits, big-endian.
        let pad = if self.filled < 56 { 56 - self.filled } else { 120 - self.filled };
        let mut tail = [0u8; 72];
        tail[0] = 0x80;
        tail[pad..pad + 8].copy_from_slice(&bits.to_be_bytes());
        self.update(&tail[..pad + 8]);
        debug_assert_eq!(self.filled, 0);
        let mut out = [0u8; 32];
        for (o, s) in out.chunks_exact_mut(4).zip(self.state) {
            o.copy_from_slice(&s.to_be_bytes());
        }
        out
    }
}

fn compress(state: &mut [u32; 8], block: &[u8; 64]) {
    let mut w = [0u32; 64];
    for (w, b) in w.iter_mut().zip(block.chunks_exact(4)) {
        *w = u32::from_be_bytes(b.try_into().expect("4 bytes"));
    }
    for i in 16..64 {
        let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
        let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16].wrapping_add(s0).wrapping_add(w[i - 7]).wrapping_add(s1);
    }
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *state;
    for (k, w) in K.iter().zip(w) {
        let t1 = h
            .wrapping_add(e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25))
            .wrapping_add((e & f) ^ (!e & g))
            .wrapping_add(*k)
            .wrapping_add(w);
        let t2 = (a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22)).wrapping_add((a & b) ^ (a & c) ^ (b & c));
        (h, g, f, e, d, c, b, a) = (g, f, e, d.wrapping_add(t1), c, b, a, t1.wrapping_add(t2));
    }
    for (s, v) in state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
        *s = s.wrapping_add(v);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------------------------------
// Globs

/// A glob path segment: `**`, or a pattern of literal characters, `*` and `?`.
#[derive(Debug)]
enum Seg {
    Globstar,
    Pat(Vec<char>),
}

/// A compiled glob: its `{a,b}` alternatives, each a list of segments.
struct Glob {
    text: String,
    alts: Vec<Vec<Seg>>,
}

/// The most patterns one glob's `{a,b}` alternations may expand to.
const MAX_ALTERNATIVES: usize = 1000;

impl Glob {
    fn new(text: &str) -> Result<Glob, String> {
        let t = text.strip_prefix("./").unwrap_or(text);
        if t.is_empty() {
            return Err("needs a non-empty GLOB".into());
        }
        if t.starts_with('/') {
            return Err(format!("'{text}': globs are relative to DIR (drop the leading /)"));
        }
        let mut expanded = Vec::new();
        expand_braces(t, &mut expanded).map_err(|e| format!("'{text}': {e}"))?;
        let mut alts = Vec::with_capacity(expanded.len());
        for p in expanded {
            let mut segs: Vec<Seg> = Vec::new();
            for s in p.split('/') {
                match s {
                    "" => {
                        return Err(format!(
                            "'{text}' has an empty path segment (for everything under a directory, write DIR/**)"
                        ))
                    }
                    "**" if matches!(segs.last(), Some(Seg::Globstar)) => {}
                    "**" => segs.push(Seg::Globstar),
                    _ => segs.push(Seg::Pat(s.chars().collect())),
                }
            }
            alts.push(segs);
        }
        Ok(Glob { text: text.to_string(), alts })
    }

    /// Whether the path (relative, `/`-separated) matches. With `dot`, a wildcard never
    /// matches the leading `.` of a segment (only a literal `.` in the pattern does).
    fn matches(&self, path: &str, dot: bool) -> bool {
        let segs = split_chars(path);
        self.alts.iter().any(|p| match_segs(p, &segs, dot))
    }

    /// Whether some path below the directory `dir` could match (the walk skips the rest).
    fn may_match_under(&self, dir: &str, dot: bool) -> bool {
        let segs = split_chars(dir);
        self.alts.iter().any(|p| match_prefix(p, &segs, dot))
    }

    /// Whether every path below `dir` matches (a `DIR/**` pattern whose DIR matches).
    fn covers_dir(&self, dir: &str) -> bool {
        let segs = split_chars(dir);
        self.alts.iter().any(|p| matches!(p.last(), Some(Seg::Globstar)) && match_segs(&p[..p.len() - 1], &segs, false))
    }
}

fn split_chars(path: &str) -> Vec<Vec<char>> {
    path.split('/').map(|s| s.chars().collect()).collect()
}

/// Expands `{a,b}` alternations (nested ones too) into `out`. A brace without a matching
/// close or without a comma at its level is a literal character.
fn expand_braces(p: &str, out: &mut Vec<String>) -> Result<(), String> {
    let b = p.as_bytes();
    let mut from = 0;
    while let Some(off) = p[from..].find('{') {
        let open = from + off;
        let (mut depth, mut commas, mut close) = (0usize, Vec::new(), None);
        for (i, &c) in b.iter().enumerate().skip(open) {
            match c {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        close = Some(i);
                        break;
                    }
                }
                b',' if depth == 1 => commas.push(i),
                _ => {}
            }
        }
        if let Some(close) = close.filter(|_| !commas.is_empty()) {
            let (head, tail) = (&p[..open], &p[close + 1..]);
            let mut start = open + 1;
            for end in commas.into_iter().chain([close]) {
                expand_braces(&format!("{head}{}{tail}", &p[start..end]), out)?;
                start = end + 1;
            }
            return Ok(());
        }
        from = open + 1;
    }
    if out.len() == MAX_ALTERNATIVES {
        return Err(format!("its {{a,b}} alternatives make more than {MAX_ALTERNATIVES} patterns"));
    }
    out.push(p.to_string());
    Ok(())
}

/// A segment only a written leading `.` matches (under the dot rule).
fn hidden(seg: &[char], dot: bool) -> bool {
    dot && seg.first() == Some(&'.')
}

fn match_segs(p: &[Seg], s: &[Vec<char>], dot: bool) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some(Seg::Globstar) => {
            match_segs(&p[1..], s, dot) || (s.first().is_some_and(|seg| !hidden(seg, dot)) && match_segs(p, &s[1..], dot))
        }
        Some(Seg::Pat(pat)) => !s.is_empty() && match_seg(pat, &s[0], dot) && match_segs(&p[1..], &s[1..], dot),
    }
}

/// Whether `s` followed by at least one more segment could match `p`.
fn match_prefix(p: &[Seg], s: &[Vec<char>], dot: bool) -> bool {
    match p.first() {
        None => false,
        _ if s.is_empty() => true,
        Some(Seg::Globstar) => {
            match_prefix(&p[1..], s, dot) || (!hidden(&s[0], dot) && match_prefix(p, &s[1..], dot))
        }
        Some(Seg::Pat(pat)) => match_seg(pat, &s[0], dot) && match_prefix(&p[1..], &s[1..], dot),
    }
}

/// One segment against a pattern of literals, `*` (any run) and `?` (any one character).
fn match_seg(p: &[char], s: &[char], dot: bool) -> bool {
    if hidden(s, dot) && p.first() != Some(&'.') {
        return false;
    }
    let (mut pi, mut si) = (0, 0);
    // The last `*` seen and where in `s` its run currently ends.
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, si));
                pi += 1;
            }
            Some(&c) if c == '?' || c == s[si] => {
                pi += 1;
                si += 1;
            }
            _ => match star {
                Some((sp, ss)) => {
                    star = Some((sp, ss + 1));
                    (pi, si) = (sp + 1, ss + 1);
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// What the globs select.
struct Selection {
    include: Vec<Glob>,
    exclude: Vec<Glob>,
    hashed: Vec<Glob>,
}

impl Selection {
    fn lists(&self, rel: &str) -> bool {
        self.include.iter().any(|g| g.matches(rel, true)) && !self.exclude.iter().any(|g| g.matches(rel, false))
    }

    fn may_list_under(&self, dir: &str) -> bool {
        self.include.iter().any(|g| g.may_match_under(dir, true)) && !self.exclude.iter().any(|g| g.covers_dir(dir))
    }

    fn is_hashed(&self, rel: &str) -> bool {
        self.hashed.iter().any(|g| g.matches(rel, false))
    }
}

// ---------------------------------------------------------------------------------------
// URLs

/// Bytes a URL path cannot hold as they are: the WHATWG URL path percent-encode set
/// (controls, space, `"` `#` `<` `>` `?` `^` `` ` `` `{` `}`, non-ASCII), and `%` and
/// `\` (a literal `%` in a file name; browsers read `\` as `/`).
fn needs_encoding(b: u8) -> bool {
    b <= b' ' || b >= 0x7f || b"\"#%<>?\\^`{}".contains(&b)
}

fn encode_path(rel: &str) -> String {
    let mut out = String::with_capacity(rel.len());
    for &b in rel.as_bytes() {
        if needs_encoding(b) {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(b as char);
        }
    }
    out
}

fn parse_prefix(v: &str) -> Result<String, String> {
    if !v.starts_with('/') || v.starts_with("//") {
        return Err(format!("--prefix must be a URL path starting with / (precache URLs are same-origin), got '{v}'"));
    }
    let b = v.as_bytes();
    let bad_escape = |i: usize| !(i + 2 < b.len() && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit());
    if let Some(i) = (0..b.len()).find(|&i| needs_encoding(b[i]) && (b[i] != b'%' || bad_escape(i))) {
        return Err(format!(
            "--prefix must be a URL path as it appears in a URL (percent-encoded, without ? or #); '{v}' has '{}' at byte {i}",
            v[i..].chars().next().unwrap_or('%')
        ));
    }
    if v.split('/').any(|s| s == "." || s == "..") {
        return Err(format!("--prefix must not have . or .. segments, got '{v}'"));
    }
    Ok(if v.ends_with('/') { v.to_string() } else { format!("{v}/") })
}

// ---------------------------------------------------------------------------------------
// Arguments

#[derive(Clone, Copy, PartialEq, Debug)]
enum Format {
    Js,
    Json,
}

struct Args {
    dir: PathBuf,
    sel: Selection,
    prefix: String,
    format: Format,
    output: Option<PathBuf>,
    inject: Option<PathBuf>,
}

fn once<T>(slot: &mut Option<T>, v: T, flag: &str) -> Result<(), String> {
    if slot.replace(v).is_some() {
        return Err(format!("{flag} is given twice"));
    }
    Ok(())
}

fn parse_args(argv: Vec<OsString>) -> Result<Args, String> {
    let (mut dir, mut prefix, mut format, mut output, mut inject) = (None, None, None, None, None);
    let mut sel = Selection { include: vec![], exclude: vec![], hashed: vec![] };
    let mut it = argv.into_iter();
    let mut options_done = false;
    while let Some(arg) = it.next() {
        let flag = arg.to_str().unwrap_or_default();
        if options_done || !flag.starts_with('-') || flag == "-" {
            if dir.is_some() {
                return Err(format!("one DIR only, got '{}' as well", arg.to_string_lossy()));
            }
            dir = Some(PathBuf::from(arg));
            continue;
        }
        if flag == "--" {
            options_done = true;
            continue;
        }
        let (name, mut inline) = match flag.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(OsString::from(v))),
            _ => (flag.to_string(), None),
        };
        let name = name.as_str();
        let mut value = || inline.take().or_else(|| it.next()).ok_or_else(|| format!("{name} needs a value"));
        let text = |v: OsString| v.into_string().map_err(|v| format!("{name} must be UTF-8 text, got '{}'", v.to_string_lossy()));
        let glob = |v: String| Glob::new(&v).map_err(|e| format!("{name} {e}"));
        match name {
            "--include" => sel.include.push(glob(text(value()?)?)?),
            "--exclude" => sel.exclude.push(glob(text(value()?)?)?),
            "--hashed" => sel.hashed.push(glob(text(value()?)?)?),
            "--prefix" => once(&mut prefix, parse_prefix(&text(value()?)?)?, name)?,
            "--format" => {
                let f = match text(value()?)?.as_str() {
                    "js" => Format::Js,
                    "json" => Format::Json,
                    other => return Err(format!("--format must be js or json, got '{other}'")),
                };
                once(&mut format, f, name)?;
            }
            "--output" => once(&mut output, PathBuf::from(value()?), name)?,
            "--inject" => once(&mut inject, PathBuf::from(value()?), name)?,
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    let dir = dir.ok_or("no DIR given (the build directory to list)")?;
    if inject.is_some() && format.is_some() {
        return Err("--format does not apply to --inject (the JSON array takes the placeholder's place)".into());
    }
    if sel.include.is_empty() {
        sel.include.push(Glob::new("**/*").expect("a valid glob"));
    }
    let js_output = output.as_ref().is_some_and(|o: &PathBuf| o.extension().is_some_and(|e| e == "js"));
    Ok(Args {
        dir,
        sel,
        prefix: prefix.unwrap_or_else(|| "/".into()),
        format: format.unwrap_or(if js_output { Format::Js } else { Format::Json }),
        output,
        inject,
    })
}

// ---------------------------------------------------------------------------------------
// The walk

struct Found {
    rel: String,
    path: PathBuf,
}

struct Walk<'a> {
    sel: &'a Selection,
    /// Paths (relative to DIR) never listed: the output and the worker script.
    skip: Vec<String>,
    files: Vec<Found>,
}

enum Kind {
    Dir,
    File,
    Other,
}

fn kind_of(ft: fs::FileType) -> Kind {
    if ft.is_dir() {
        Kind::Dir
    } else if ft.is_file() {
        Kind::File
    } else {
        Kind::Other
    }
}

impl Walk<'_> {
    /// Collects the selected files under `dir` (`rel` from DIR). `ancestors` holds the
    /// canonical paths of DIR and the directories walked into, so a symlink back to one
    /// of them is not walked again (no cycles).
    fn walk(&mut self, dir: &Path, rel: &str, ancestors: &mut Vec<PathBuf>) -> Result<(), Fail> {
        let mut entries = Vec::new();
        for e in fs::read_dir(dir).map_err(|e| io_fail(dir, e))? {
            entries.push(e.map_err(|e| io_fail(dir, e))?);
        }
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let name = entry.file_name();
            let child = |name: &str| if rel.is_empty() { name.to_string() } else { format!("{rel}/{name}") };
            let Some(child) = name.to_str().map(child) else {
                let lossy = child(&name.to_string_lossy());
                if self.sel.lists(&lossy) || self.sel.may_list_under(&lossy) {
                    return Err(Fail { code: 1, msg: format!("{}: the name is not UTF-8, so it has no URL", path.display()) });
                }
                continue;
            };
            let ft = entry.file_type().map_err(|e| io_fail(&path, e))?;
            let (kind, canonical) = if ft.is_symlink() {
                let wanted = || self.sel.lists(&child) || self.sel.may_list_under(&child);
                match fs::canonicalize(&path) {
                    Err(_) => {
                        if wanted() {
                            warn(&format!("skipped {child}: a broken symlink"));
                        }
                        continue;
                    }
                    Ok(target) if !target.starts_with(&ancestors[0]) => {
                        if wanted() {
                            warn(&format!("skipped {child}: a symlink to {}, outside DIR", target.display()));
                        }
                        continue;
                    }
                    Ok(target) => (kind_of(fs::metadata(&target).map_err(|e| io_fail(&path, e))?.file_type()), Some(target)),
                }
            } else {
                (kind_of(ft), None)
            };
            match kind {
                Kind::Dir => {
                    if !self.sel.may_list_under(&child) {
                        continue;
                    }
                    let canonical = canonical.unwrap_or_else(|| ancestors[ancestors.len() - 1].join(&name));
                    if ancestors.contains(&canonical) {
                        warn(&format!("skipped {child}: a symlink to a directory it is in"));
                        continue;
                    }
                    ancestors.push(canonical);
                    self.walk(&path, &child, ancestors)?;
                    ancestors.pop();
                }
                Kind::File => {
                    if self.sel.lists(&child) && !self.skip.contains(&child) {
                        if self.files.len() == MAX_FILES {
                            return Err(usage(format!(
                                "more than {MAX_FILES} files match, the most the engine precaches (narrow --include, or --exclude some)"
                            )));
                        }
                        self.files.push(Found { rel: child, path });
                    }
                }
                Kind::Other => {
                    if self.sel.lists(&child) {
                        warn(&format!("skipped {child}: not a regular file"));
                    }
                }
            }
        }
        Ok(())
    }
}

/// `file`'s path relative to the canonical directory `root`, if it is inside it.
fn rel_inside(root: &Path, file: &Path) -> Option<String> {
    let parent = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let parent = fs::canonicalize(parent).ok()?;
    let mut parts = parent
        .strip_prefix(root)
        .ok()?
        .components()
        .map(|c| c.as_os_str().to_str().map(String::from))
        .collect::<Option<Vec<_>>>()?;
    parts.push(file.file_name()?.to_str()?.to_string());
    Some(parts.join("/"))
}

// ---------------------------------------------------------------------------------------
// Hashing and output

struct Entry {
    url: String,
    revision: Option<String>,
}

/// The file's revision (first 16 hex digits of its SHA-256) and size.
fn hash_file(path: &Path) -> io::Result<(String, u64)> {
    let mut f = File::open(path)?;
    let (mut h, mut buf, mut size) = (Sha256::new(), vec![0u8; 64 * 1024], 0u64);
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                h.update(&buf[..n]);
                size += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((hex(&h.finish()[..8]), size))
}

fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The manifest as a JSON array, one entry a line (so manifests diff line by line).
fn manifest_json(entries: &[Entry]) -> String {
    let mut out = String::from("[\n");
    for (i, e) in entries.iter().enumerate() {
        out.push_str("  {\"url\":");
        push_json_str(&mut out, &e.url);
        out.push_str(",\"revision\":");
        match &e.revision {
            Some(r) => push_json_str(&mut out, r),
            None => out.push_str("null"),
        }
        out.push_str(if i + 1 < entries.len() { "},\n" } else { "}\n" });
    }
    out.push(']');
    out
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

/// Byte offsets of the placeholder as a whole expression (not part of a longer name).
fn placeholders(text: &str) -> Vec<usize> {
    let b = text.as_bytes();
    text.match_indices(PLACEHOLDER)
        .map(|(i, _)| i)
        .filter(|&i| {
            let before = i.checked_sub(1).map(|j| b[j]);
            let after = b.get(i + PLACEHOLDER.len()).copied();
            // `...self.swcacheManifest` (spread) counts; `x.self.swcacheManifest` does not.
            let spread = i >= 3 && &b[i - 3..i] == b"...";
            (spread || !before.is_some_and(|c| is_ident(c) || c == b'.')) && !after.is_some_and(is_ident)
        })
        .collect()
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset].bytes().filter(|&b| b == b'\n').count() + 1
}

/// Writes `text` to `path` atomically: a temporary file beside it, flushed, renamed over.
fn write_atomic(path: &Path, text: &str, perms: Option<Permissions>) -> Result<(), Fail> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("swcache-manifest");
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = File::create(&tmp).and_then(|mut f| {
        f.write_all(text.as_bytes())?;
        if let Some(p) = perms {
            f.set_permissions(p)?;
        }
        f.sync_all()
    });
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(io_fail(&tmp, e));
    }
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io_fail(path, e)
    })
}

fn human_size(n: u64) -> String {
    if n < 1000 {
        return format!("{n} B");
    }
    let (mut v, mut unit) = (n as f64 / 1000.0, 0);
    while v >= 999.95 && unit < 3 {
        v /= 1000.0;
        unit += 1;
    }
    format!("{v:.1} {}", ["kB", "MB", "GB", "TB"][unit])
}

fn run(a: Args) -> Result<(), Fail> {
    let meta = fs::metadata(&a.dir).map_err(|e| usage(format!("{}: {e}", a.dir.display())))?;
    if !meta.is_dir() {
        return Err(usage(format!("{} is not a directory", a.dir.display())));
    }
    let root = fs::canonicalize(&a.dir).map_err(|e| io_fail(&a.dir, e))?;
    // The worker script first: a missing placeholder fails before any hashing.
    let script = match &a.inject {
        None => None,
        Some(p) => {
            let text = fs::read_to_string(p).map_err(|e| io_fail(p, e))?;
            let at = placeholders(&text);
            match at.len() {
                1 => {}
                0 => {
                    return Err(Fail {
                        code: 1,
                        msg: format!(
                            "{}: no `{PLACEHOLDER}` to replace (write `precache: {PLACEHOLDER}` in the config passed to \
                             swcache.start(); a script injected already has none left: inject into a fresh copy, or use --output)",
                            p.display()
                        ),
                    })
                }
                n => {
                    let lines: Vec<String> = at.iter().map(|&i| line_of(&text, i).to_string()).collect();
                    return Err(Fail {
                        code: 1,
                        msg: format!(
                            "{}: `{PLACEHOLDER}` appears {n} times (lines {}); it must appear exactly once",
                            p.display(),
                            lines.join(", ")
                        ),
                    });
                }
            }
            let perms = fs::metadata(p).map_err(|e| io_fail(p, e))?.permissions();
            Some((text, at[0], perms))
        }
    };

    let skip = a.output.iter().chain(&a.inject).filter_map(|f| rel_inside(&root, f)).collect();
    let mut walk = Walk { sel: &a.sel, skip, files: Vec::new() };
    walk.walk(&a.dir, "", &mut vec![root])?;
    let mut files = walk.files;
    if files.is_empty() {
        return Err(usage(format!(
            "no file under {} is selected by the globs: an empty manifest would precache nothing (check DIR, --include and --exclude)",
            a.dir.display()
        )));
    }
    files.sort_by(|x, y| x.rel.cmp(&y.rel));

    let (mut entries, mut total, mut hashed) = (Vec::with_capacity(files.len()), 0u64, 0usize);
    for f in &files {
        let url = format!("{}{}", a.prefix, encode_path(&f.rel));
        if a.sel.is_hashed(&f.rel) {
            let size = File::open(&f.path).and_then(|file| file.metadata()).map_err(|e| io_fail(&f.path, e))?.len();
            total += size;
            hashed += 1;
            entries.push(Entry { url, revision: None });
        } else {
            let (revision, size) = hash_file(&f.path).map_err(|e| io_fail(&f.path, e))?;
            total += size;
            entries.push(Entry { url, revision: Some(revision) });
        }
    }
    // A glob that selects nothing is most likely a typo: say so (the rest is still right).
    let unused = |flag: &str, globs: &[Glob], dot: bool| {
        for g in globs.iter().filter(|g| !files.iter().any(|f| g.matches(&f.rel, dot))) {
            warn(&format!("{flag} '{}' matches none of the files listed", g.text));
        }
    };
    unused("--include", &a.sel.include, true);
    unused("--hashed", &a.sel.hashed, false);
    let array = manifest_json(&entries);

    let destination = match (&script, &a.inject) {
        (Some((text, at, perms)), Some(src)) => {
            let out = format!("{}{array}{}", &text[..*at], &text[at + PLACEHOLDER.len()..]);
            let dest = a.output.as_deref().unwrap_or(src);
            write_atomic(dest, &out, Some(perms.clone()))?;
            if dest == src {
                format!("injected into {}", src.display())
            } else {
                format!("written to {} ({} with the manifest injected)", dest.display(), src.display())
            }
        }
        _ => {
            let out = match a.format {
                Format::Json => format!("{array}\n"),
                Format::Js => format!("{PLACEHOLDER} = {array};\n"),
            };
            match &a.output {
                Some(o) => {
                    write_atomic(o, &out, None)?;
                    format!("written to {}", o.display())
                }
                None => {
                    let mut stdout = io::stdout().lock();
                    let written = stdout.write_all(out.as_bytes()).and_then(|_| stdout.flush());
                    written.map_err(|e| Fail { code: 1, msg: format!("stdout: {e}") })?;
                    "written to stdout".into()
                }
            }
        }
    };
    let n = entries.len();
    let note = if hashed > 0 { format!(" ({hashed} content-hashed)") } else { String::new() };
    eprintln!("swcache-manifest: {n} file{}{note}, {}, {destination}", if n == 1 { "" } else { "s" }, human_size(total));
    Ok(())
}

fn main() -> ExitCode {
    let argv: Vec<OsString> = std::env::args_os().skip(1).collect();
    if argv.is_empty() {
        eprint!("{HELP}");
        return ExitCode::from(2);
    }
    if argv.iter().any(|a| a == "-h" || a == "--help") {
        print!("{HELP}");
        return ExitCode::SUCCESS;
    }
    let result = parse_args(argv).map_err(|e| usage(format!("{e}\n(see swcache-manifest --help)"))).and_then(run);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("swcache-manifest: {}", f.msg);
            ExitCode::from(f.code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(data: &[u8]) -> String {
        let mut h = Sha256::new();
        h.update(data);
        hex(&h.finish())
    }

    #[test]
    fn sha256_standard_vectors() {
        assert_eq!(sha(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(sha(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(
            sha(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        assert_eq!(
            sha(b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"
        );
        assert_eq!(sha(&vec![b'a'; 1_000_000]), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    }

    #[test]
    fn sha256_same_digest_whatever_the_pieces() {
        // Lengths around the padding boundaries (55, 56, 63, 64 bytes...), fed in uneven pieces.
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        for len in [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 300] {
            let whole = sha(&data[..len]);
            for piece in [1, 3, 63, 64, 65, 200] {
                let mut h = Sha256::new();
                data[..len].chunks(piece).for_each(|c| h.update(c));
                assert_eq!(hex(&h.finish()), whole, "len {len} in pieces of {piece}");
            }
        }
    }

    fn m(pattern: &str, path: &str) -> bool {
        Glob::new(pattern).unwrap().matches(path, true)
    }

    #[test]
    fn globs() {
        assert!(m("**/*", "a.js") && m("**/*", "a/b/c.js"));
        assert!(m("*.js", "app.js") && !m("*.js", "lib/app.js") && !m("*.js", "app.jsx"));
        assert!(m("**/*.js", "app.js") && m("**/*.js", "lib/deep/app.js"));
        assert!(m("lib/**", "lib/a") && m("lib/**", "lib/a/b") && !m("lib/**", "libx/a"));
        assert!(m("a/**/b", "a/b") && m("a/**/b", "a/x/y/b") && !m("a/**/b", "a/x/c"));
        assert!(m("?.css", "a.css") && !m("?.css", "ab.css") && !m("a?b", "a/b"));
        assert!(m("*.{js,css}", "a.css") && m("*.{js,css}", "a.js") && !m("*.{js,css}", "a.html"));
        assert!(m("{img,font}s/**", "fonts/a.woff2") && !m("{img,font}s/**", "vids/a.mp4"));
        assert!(m("app{,.min}.js", "app.js") && m("app{,.min}.js", "app.min.js"));
        assert!(m("{a,{b,c}}.txt", "c.txt") && m("{x}.txt", "{x}.txt") && m("{a.txt", "{a.txt"));
        assert!(m("./index.html", "index.html") && m("ü*", "über.html") && m("?ber.html", "über.html"));
        // Dotfiles: wildcards do not match a leading dot; a written one does.
        assert!(!m("**/*", ".htaccess") && !m("**/*", ".git/config") && !m("*", ".env") && !m("?env", ".env"));
        assert!(!m("**/*.js", "a/.cache/x.js") && m("a/.cache/*.js", "a/.cache/x.js"));
        assert!(m(".well-known/**", ".well-known/assetlinks.json") && m("**/.htaccess", ".htaccess"));
        assert!(m("**/.htaccess", "sub/.htaccess") && m("{.well-known,x}/*", ".well-known/a"));
        assert!(Glob::new("**/*").unwrap().matches(".htaccess", false), "exclude and hashed globs match dots");
        assert!(m("a.*", "a.b") && m("*a*", "banana") && m("*.*.js", "app.3f9a.js") && !m("*.*.js", "app.js"));
        for bad in ["", "/abs/*.js", "dist/", "a//b", "{a,b}/"] {
            assert!(Glob::new(bad).is_err(), "{bad:?}");
        }
        assert!(Glob::new(&"{a,b}".repeat(12)).is_err(), "4096 alternatives is too many");
        let g = Glob::new("assets/**").unwrap();
        assert!(g.covers_dir("assets") && !g.covers_dir("other") && !Glob::new("assets/*.js").unwrap().covers_dir("assets"));
        let g = Glob::new("assets/*.js").unwrap();
        assert!(g.may_match_under("assets", true) && !g.may_match_under("other", true) && !g.may_match_under("assets/x", true));
        assert!(!Glob::new("**/*").unwrap().may_match_under(".git", true));
    }

    /// A second, character-level matcher with the same meaning, written independently.
    fn reference(p: &[u8], s: &[u8], at_start: bool, dot: bool) -> bool {
        if p.is_empty() {
            return s.is_empty();
        }
        if s.is_empty() && p.len().is_multiple_of(3) && p.chunks(3).all(|c| c == b"/**") {
            return true; // a trailing `/**` (or `/**/**`) matches no more segments too
        }
        if at_start && p.starts_with(b"**") && (p.len() == 2 || p[2] == b'/') {
            let rest = p.get(3..);
            let zero = match rest {
                Some(rest) => reference(rest, s, true, dot),
                None => s.is_empty(),
            };
            if zero {
                return true;
            }
            if s.is_empty() || (dot && s[0] == b'.') {
                return false;
            }
            return match s.iter().position(|&c| c == b'/') {
                Some(j) => reference(p, &s[j + 1..], true, dot),
                None => rest.is_none(),
            };
        }
        if at_start && dot && s.first() == Some(&b'.') && p[0] != b'.' {
            return false;
        }
        match p[0] {
            b'*' => {
                let rest = &p[p.iter().take_while(|&&c| c == b'*').count()..];
                let run = s.iter().take_while(|&&c| c != b'/').count();
                (0..=run).any(|k| reference(rest, &s[k..], false, dot))
            }
            b'?' => !s.is_empty() && s[0] != b'/' && reference(&p[1..], &s[1..], false, dot),
            b'/' => s.first() == Some(&b'/') && reference(&p[1..], &s[1..], true, dot),
            c => s.first() == Some(&c) && reference(&p[1..], &s[1..], false, dot),
        }
    }

    #[test]
    fn globs_agree_with_a_reference_matcher() {
        let mut seed = 0x9e3779b97f4a7c15u64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let (mut cases, mut matched) = (0, 0);
        while cases < 4000 {
            let tokens = ["a", "b", ".", "*", "?", "/", "**", "**/", "/**"];
            let pattern: String = (0..1 + next(6)).map(|_| tokens[next(tokens.len())]).collect();
            let Ok(glob) = Glob::new(&pattern) else { continue };
            let pattern = pattern.strip_prefix("./").unwrap_or(&pattern).to_string();
            let path: Vec<String> =
                (0..1 + next(3)).map(|_| (0..1 + next(3)).map(|_| ["a", "b", "."][next(3)]).collect()).collect();
            let path = path.join("/");
            for dot in [true, false] {
                let want = reference(pattern.as_bytes(), path.as_bytes(), true, dot);
                assert_eq!(glob.matches(&path, dot), want, "{pattern:?} on {path:?} (dot rule {dot})");
                matched += usize::from(want);
                cases += 1;
                // If a path matches, its directories are ones the walk goes into.
                if want {
                    if let Some((dir, _)) = path.rsplit_once('/') {
                        assert!(glob.may_match_under(dir, dot), "{pattern:?} under {dir:?} (dot rule {dot})");
                    }
                }
            }
        }
        assert!(matched > 400, "the generated cases match often enough to mean something ({matched})");
    }

    #[test]
    fn urls() {
        assert_eq!(encode_path("a/b-c_d.~!$&'()*+,;=:@.js"), "a/b-c_d.~!$&'()*+,;=:@.js");
        assert_eq!(encode_path("a b#c?d%e\"<>\\^`{}.txt"), "a%20b%23c%3Fd%25e%22%3C%3E%5C%5E%60%7B%7D.txt");
        assert_eq!(encode_path("über/日本.html"), "%C3%BCber/%E6%97%A5%E6%9C%AC.html");
        assert_eq!(parse_prefix("/").unwrap(), "/");
        assert_eq!(parse_prefix("/static").unwrap(), "/static/");
        assert_eq!(parse_prefix("/a%20b/").unwrap(), "/a%20b/");
        for bad in ["static/", "//cdn.example/", "https://x/", "/a b/", "/a?x", "/a#x", "/%zz/", "/%2", "/a/../b", "/ü/"] {
            assert!(parse_prefix(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn placeholder_is_a_whole_expression() {
        let t = "a(self.swcacheManifest);\nmyself.swcacheManifest; x.self.swcacheManifest; self.swcacheManifest2;\n  self.swcacheManifest\n['/', ...self.swcacheManifest]";
        let at = placeholders(t);
        assert_eq!(at.len(), 3);
        assert_eq!((line_of(t, at[0]), line_of(t, at[1]), line_of(t, at[2])), (1, 3, 4));
    }

    #[test]
    fn sizes() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(1200), "1.2 kB");
        assert_eq!(human_size(1_234_567), "1.2 MB");
        assert_eq!(human_size(999_999), "1.0 MB");
        assert_eq!(human_size(3_000_000_000), "3.0 GB");
    }
}
