//! `swcache-manifest`: hashes a site's build directory into a precache manifest, the
//! `precache` list a site's worker passes to `swcache.start()`: one `{url, revision}`
//! entry per file, the revision a hash of the file's bytes, so a new worker version
//! fetches only what changed. Like `workbox injectManifest`, it can write the manifest
//! straight into the worker script. Output is deterministic (sorted by path) and written
//! atomically (a temporary file renamed over the target: a reader never sees half a file).
//!
//! SHA-256 is `sha2`, the globs are compiled and matched by `globset`, the directory walk
//! is `walkdir`, JSON strings and the atomic write are `swcache::native` (`serde_json`).

use std::borrow::Cow;
use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use sha2::{Digest, Sha256};
use swcache::native::{self, push_json_str};
use walkdir::WalkDir;

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
    --max-file-size SIZE  refuse (exit 2, nothing written) if a listed file is bigger,
                       naming them: 2MB, 500kB, 1MiB or a number of bytes [default: none]
    --warn-size SIZE   warn, naming the biggest files, when the listed files add up to
                       more than SIZE (a first visit downloads them all) [default: 5MB];
                       none: never
    -h, --help         this text

GLOBS match a file's path relative to DIR, with / separators: * any characters but /,
? any one character but /, ** as a whole segment any number of directories, {a,b}
either a or b. Quote them, so the shell does not expand them. Wildcards in --include
match a leading dot only when it is written: dotfiles and dot directories are left out
unless named (--include '.well-known/**'). Symlinks are followed only to files and
directories inside DIR. The --output and --inject files are never listed, nor the
scripts the --inject file loads with importScripts() (the engine's swcache-sw.js).

EXAMPLE:
    swcache-manifest dist --exclude '**/*.map' --hashed 'assets/**' --inject dist/sw.js

A one-line summary goes to stderr; before it, on a terminal, a run that takes more than
a second shows how far it is on a line of its own, rewritten in place. Exit status: 0
written; 1 a file could not be read or written, or the --inject file has no single
placeholder; 2 bad arguments, DIR not a directory, globs that match no file or more than
10,000 (the engine's limit), or a file over --max-file-size.
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

/// A file that could not be written: exit 1.
fn written_fail(e: native::WriteError) -> Fail {
    io_fail(&e.path, native::io_text(&e.error))
}

fn warn(msg: &str) {
    clear_progress();
    eprintln!("swcache-manifest: warning: {msg}");
}

// ---------------------------------------------------------------------------------------
// Globs
//
// globset compiles and matches the patterns. What it has no option for is done here:
// `{a,b}` is expanded first (a brace that is not an alternation is a literal character,
// and the dot rule needs each alternative's segments), the dot rule itself (globset's
// wildcards match a leading `.`), a `**` matching no segment at the end of a pattern, and
// whether paths below a directory could match (which directories the walk enters).

/// A glob path segment: `**`, or a pattern of literal characters, `*` and `?`.
#[derive(Debug, PartialEq)]
enum Seg {
    Globstar,
    Pat(String),
}

impl Seg {
    /// A pattern starting with a written `.`: under the dot rule, the only kind that
    /// matches a name starting with `.`, and it matches no other.
    fn dotted(&self) -> bool {
        matches!(self, Seg::Pat(p) if p.starts_with('.'))
    }

    /// The segment in globset's syntax: its special characters escaped, `*` runs as one.
    fn push_globset(&self, out: &mut String) {
        let Seg::Pat(p) = self else { return out.push_str("**") };
        for (i, c) in p.char_indices() {
            match c {
                '*' if p[..i].ends_with('*') => {}
                '\\' | '[' | ']' | '{' | '}' => {
                    out.push('\\');
                    out.push(c);
                }
                c => out.push(c),
            }
        }
    }
}

/// The paths matching any of some lists of segments, `/`-separated.
struct Matcher {
    set: GlobSet,
    /// Whether the empty path (no segments) matches: globset is not asked.
    empty: bool,
}

impl Matcher {
    fn new<'a>(lists: impl IntoIterator<Item = &'a [Seg]>) -> Result<Matcher, globset::Error> {
        let (mut set, mut empty) = (GlobSetBuilder::new(), false);
        for segs in lists {
            empty |= segs.iter().all(|s| *s == Seg::Globstar);
            // A trailing `**` matches no segment too; globset's `x/**` needs one.
            let variants = match segs {
                [] => vec![],
                [head @ .., Seg::Globstar] if !head.is_empty() => vec![head, segs],
                _ => vec![segs],
            };
            for v in variants {
                let mut text = String::new();
                for (i, s) in v.iter().enumerate() {
                    if i > 0 {
                        text.push('/');
                    }
                    s.push_globset(&mut text);
                }
                set.add(GlobBuilder::new(&text).literal_separator(true).backslash_escape(true).build()?);
            }
        }
        Ok(Matcher { set: set.build()?, empty })
    }

    fn is_match(&self, path: &str) -> bool {
        if path.is_empty() {
            self.empty
        } else {
            self.set.is_match(path)
        }
    }
}

/// Consecutive segments without a dotted one (or several such lists, any of which).
struct Run {
    /// The paths they match.
    whole: Matcher,
    /// The paths a beginning of them matches with some left to match more (a last `**`
    /// always has some left).
    start: Matcher,
}

impl Run {
    fn new<'a>(lists: impl IntoIterator<Item = &'a [Seg]> + Clone) -> Result<Run, globset::Error> {
        let starts = lists.clone().into_iter().flat_map(|segs| {
            let lens = 0..segs.len() + usize::from(segs.last() == Some(&Seg::Globstar));
            lens.map(move |n| &segs[..n])
        });
        Ok(Run { whole: Matcher::new(lists)?, start: Matcher::new(starts)? })
    }
}

/// One `{a,b}` alternative as the dot rule sees it: runs of segments, and between them
/// the dotted ones. A path matches under the dot rule when its names starting with `.`
/// line up, in order, with the dotted segments, and the runs of other names between them
/// with the runs.
struct Alt {
    runs: Vec<Run>,
    dots: Vec<Matcher>,
}

impl Alt {
    fn new(segs: &[Seg]) -> Result<Alt, globset::Error> {
        let (mut runs, mut dots, mut from) = (Vec::new(), Vec::new(), 0);
        for (i, s) in segs.iter().enumerate().filter(|(_, s)| s.dotted()) {
            runs.push(Run::new([&segs[from..i]])?);
            dots.push(Matcher::new([std::slice::from_ref(s)])?);
            from = i + 1;
        }
        runs.push(Run::new([&segs[from..]])?);
        Ok(Alt { runs, dots })
    }
}

/// A path's runs of names not starting with `.`, each `/`-joined, and the names between
/// them that do.
fn split_dotted(path: &str) -> (Vec<String>, Vec<&str>) {
    let (mut runs, mut dotted, mut run) = (Vec::new(), Vec::new(), Vec::<&str>::new());
    for name in path.split('/') {
        if name.starts_with('.') {
            runs.push(run.join("/"));
            run.clear();
            dotted.push(name);
        } else {
            run.push(name);
        }
    }
    runs.push(run.join("/"));
    (runs, dotted)
}

/// A compiled glob.
struct Glob {
    text: String,
    /// Every alternative, matched without the dot rule.
    any: Matcher,
    /// Under the dot rule: the alternatives without a dotted segment, together (they match
    /// paths without a name starting with `.`), and the others apart.
    undotted: Run,
    dotted: Vec<Alt>,
    /// What comes before the `/**` of alternatives ending with one: everything below a
    /// directory it matches matches.
    above_globstar: Matcher,
    /// The one path it matches when it has no wildcard or alternation (looked up in a set,
    /// not matched against each file: the Vite plugin names thousands of files this way).
    literal: Option<String>,
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
        let mut lists = Vec::with_capacity(expanded.len());
        for p in expanded {
            let mut segs: Vec<Seg> = Vec::new();
            for s in p.split('/') {
                match s {
                    "" => {
                        return Err(format!(
                            "'{text}' has an empty path segment (for everything under a directory, write its name and /**, as in assets/**)"
                        ))
                    }
                    "**" if segs.last() == Some(&Seg::Globstar) => {}
                    "**" => segs.push(Seg::Globstar),
                    _ => segs.push(Seg::Pat(s.to_string())),
                }
            }
            lists.push(segs);
        }
        let compile = || -> Result<Glob, globset::Error> {
            let above = lists.iter().filter_map(|segs| match segs.as_slice() {
                [head @ .., Seg::Globstar] if !head.is_empty() => Some(head),
                _ => None,
            });
            let (dotted, undotted): (Vec<&[Seg]>, Vec<&[Seg]>) =
                lists.iter().map(Vec::as_slice).partition(|segs| segs.iter().any(Seg::dotted));
            Ok(Glob {
                text: text.to_string(),
                any: Matcher::new(lists.iter().map(Vec::as_slice))?,
                undotted: Run::new(undotted)?,
                dotted: dotted.into_iter().map(Alt::new).collect::<Result<_, _>>()?,
                above_globstar: Matcher::new(above)?,
                literal: (!t.contains(['*', '?', '{'])).then(|| t.to_string()),
            })
        };
        compile().map_err(|e| format!("'{text}': {e}"))
    }

    /// Whether the path (relative, `/`-separated) matches. With `dot`, a wildcard never
    /// matches the leading `.` of a segment (only a literal `.` in the pattern does).
    fn matches(&self, path: &str, dot: bool) -> bool {
        if !dot {
            return self.any.is_match(path);
        }
        let (runs, dotted) = split_dotted(path);
        if dotted.is_empty() && self.undotted.whole.is_match(path) {
            return true;
        }
        self.dotted.iter().any(|a| {
            a.dots.len() == dotted.len()
                && a.runs.iter().zip(&runs).all(|(r, q)| r.whole.is_match(q))
                && a.dots.iter().zip(&dotted).all(|(d, h)| d.is_match(h))
        })
    }

    /// Whether some path below the directory `dir` could match under the dot rule (the
    /// walk skips the rest).
    fn may_match_under(&self, dir: &str) -> bool {
        let (runs, dotted) = split_dotted(dir);
        let j = dotted.len();
        if j == 0 && self.undotted.start.is_match(dir) {
            return true;
        }
        self.dotted.iter().any(|a| {
            j <= a.dots.len()
                && a.runs.iter().zip(&runs[..j]).all(|(r, q)| r.whole.is_match(q))
                && a.dots.iter().zip(&dotted).all(|(d, h)| d.is_match(h))
                && (a.runs[j].start.is_match(&runs[j]) || (j < a.dots.len() && a.runs[j].whole.is_match(&runs[j])))
        })
    }

    /// Whether every path below `dir` matches (a `DIR/**` pattern whose DIR matches).
    fn covers_dir(&self, dir: &str) -> bool {
        self.above_globstar.is_match(dir)
    }
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

/// What the globs select.
struct Selection {
    include: Vec<Glob>,
    exclude: Vec<Glob>,
    hashed: Vec<Glob>,
    /// The paths of the `hashed` globs that name one file.
    hashed_paths: HashSet<String>,
}

impl Selection {
    fn lists(&self, rel: &str) -> bool {
        self.include.iter().any(|g| g.matches(rel, true)) && !self.exclude.iter().any(|g| g.matches(rel, false))
    }

    fn may_list_under(&self, dir: &str) -> bool {
        self.include.iter().any(|g| g.may_match_under(dir)) && !self.exclude.iter().any(|g| g.covers_dir(dir))
    }

    fn is_hashed(&self, rel: &str) -> bool {
        self.hashed_paths.contains(rel) || self.hashed.iter().any(|g| g.literal.is_none() && g.matches(rel, false))
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
    /// `--max-file-size`: no listed file may be bigger.
    max_file_size: Option<u64>,
    /// `--warn-size`: above this total, a warning names the biggest files.
    warn_size: Option<u64>,
}

/// The default `--warn-size`: 5 MB.
const WARN_SIZE: u64 = 5_000_000;

/// A size: a number of bytes, or a number with a unit (kB, MB, GB of 1000; KiB, MiB, GiB
/// of 1024; k, M, G too; any case but for the `i`).
fn parse_size(v: &str, flag: &str) -> Result<u64, String> {
    let t = v.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = (&t[..split], t[split..].trim());
    let scale: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "m" | "mb" => 1000 * 1000,
        "g" | "gb" => 1000 * 1000 * 1000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        _ => return Err(format!("{flag} must be a size such as 2MB, 500kB, 1MiB or 1500000, got '{v}'")),
    };
    match num.parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 0.0 && (n * scale as f64) < 1e18 => Ok((n * scale as f64).round() as u64),
        _ => Err(format!("{flag} must be a size such as 2MB, 500kB, 1MiB or 1500000, got '{v}'")),
    }
}

fn once<T>(slot: &mut Option<T>, v: T, flag: &str) -> Result<(), String> {
    if slot.replace(v).is_some() {
        return Err(format!("{flag} is given twice"));
    }
    Ok(())
}

fn parse_args(argv: Vec<OsString>) -> Result<Args, String> {
    let (mut dir, mut prefix, mut format, mut output, mut inject) = (None, None, None, None, None);
    let (mut max_file_size, mut warn_size) = (None, None);
    let mut sel = Selection { include: vec![], exclude: vec![], hashed: vec![], hashed_paths: HashSet::new() };
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
        let text = |v: OsString| {
            v.into_string().map_err(|v| format!("{name} must be UTF-8 text, got '{}'", v.to_string_lossy()))
        };
        let glob = |v: String| Glob::new(&v).map_err(|e| format!("{name} {e}"));
        match name {
            "--include" => sel.include.push(glob(text(value()?)?)?),
            "--exclude" => sel.exclude.push(glob(text(value()?)?)?),
            "--hashed" => {
                let g = glob(text(value()?)?)?;
                sel.hashed_paths.extend(g.literal.clone());
                sel.hashed.push(g);
            }
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
            "--max-file-size" => once(&mut max_file_size, parse_size(&text(value()?)?, name)?, name)?,
            "--warn-size" => {
                let v = text(value()?)?;
                let size = if v == "none" { None } else { Some(parse_size(&v, name)?) };
                once(&mut warn_size, size, name)?;
            }
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
        max_file_size,
        warn_size: warn_size.unwrap_or(Some(WARN_SIZE)),
    })
}

// ---------------------------------------------------------------------------------------
// The walk

struct Found {
    rel: String,
    path: PathBuf,
    /// Its size when listed, for the progress line (0 when none is shown; the summary counts
    /// what is read).
    size: u64,
}

/// `path` (below `dir`) relative to `dir`, `/`-separated; `Err` with a lossy version of it
/// if a name is not UTF-8.
fn rel_of(dir: &Path, path: &Path) -> Result<String, String> {
    let rel = path.strip_prefix(dir).unwrap_or(path);
    let names: Vec<_> = rel.components().map(|c| c.as_os_str()).collect();
    match names.iter().map(|n| n.to_str()).collect::<Option<Vec<_>>>() {
        Some(names) => Ok(names.join("/")),
        None => Err(names.iter().map(|n| n.to_string_lossy()).collect::<Vec<_>>().join("/")),
    }
}

/// Why a symlink is not followed, if it is not: broken, a loop (or otherwise unreadable),
/// or leading outside `root`.
fn followed(link: &Path, root: &Path) -> Result<PathBuf, String> {
    match fs::canonicalize(link) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err("a broken symlink".into()),
        Err(e) => Err(format!("a symlink that cannot be followed ({})", native::io_text(&e))),
        Ok(target) if !target.starts_with(root) => Err(format!("a symlink to {}, outside DIR", target.display())),
        Ok(target) => Ok(target),
    }
}

/// The selected files under `dir` (`root` its canonical path), but those in `skip`
/// (the output and the worker script, each where [`location`] says). Symlinks are
/// followed to files and directories inside `root`, but not to a directory the walk is in
/// (a loop), and directories are entered only if the includes could list something below
/// them.
fn walk(
    dir: &Path,
    root: &Path,
    sel: &Selection,
    skip: &[PathBuf],
    progress: &mut Progress,
) -> Result<Vec<Found>, Fail> {
    let mut files = Vec::new();
    let mut walk = Walk { root, sel, skip, files: &mut files, open: vec![root.to_path_buf()], progress };
    walk.under(dir, "")?;
    Ok(files)
}

/// One walk of DIR. walkdir lists each directory without following links (its loop check
/// needs same-file, which has no WASI support, and the npm package's command is this code
/// built for WASI); a link to a directory is walked by a call of its own.
struct Walk<'a> {
    root: &'a Path,
    sel: &'a Selection,
    skip: &'a [PathBuf],
    files: &'a mut Vec<Found>,
    /// The canonical paths of the directories the walk is in, DIR's first.
    open: Vec<PathBuf>,
    progress: &'a mut Progress,
}

impl Walk<'_> {
    /// Walks the directory `top`, listed as `base` (`/`-separated, "" for DIR itself).
    fn under(&mut self, top: &Path, base: &str) -> Result<(), Fail> {
        let (sel, depth0) = (self.sel, self.open.len());
        let mut it = WalkDir::new(top).min_depth(1).sort_by_file_name().into_iter();
        while let Some(item) = it.next() {
            let entry = match item {
                Ok(entry) => entry,
                Err(e) => {
                    let path = e.path().unwrap_or(top).to_path_buf();
                    return Err(io_fail(&path, e.io_error().map_or_else(|| e.to_string(), native::io_text)));
                }
            };
            // The directories open at this depth: those above the entry.
            self.open.truncate(depth0 + entry.depth() - 1);
            let path = entry.path();
            let ft = entry.file_type();
            // A file is wanted if listed; a directory (or a link to one) if it may hold one.
            let wanted = |rel: &str| sel.lists(rel) || (!ft.is_file() && sel.may_list_under(rel));
            // (A name that is not UTF-8 is judged as printed, under the same `base`.)
            let under_base = |rel: String| if base.is_empty() { rel } else { format!("{base}/{rel}") };
            let rel = match rel_of(top, path).map(under_base).map_err(under_base) {
                Ok(rel) => rel,
                Err(lossy) if wanted(&lossy) => {
                    return Err(Fail {
                        code: 1,
                        msg: format!("{}: the name is not UTF-8, so it has no URL", path.display()),
                    })
                }
                Err(_) => {
                    if ft.is_dir() {
                        it.skip_current_dir();
                    }
                    continue;
                }
            };
            // A symlink is read through its canonical target: WASI (the npm package's
            // command) resolves a relative link inside a linked directory against the
            // link's own path, where `..` leads elsewhere.
            let (ft, path, size) = if ft.is_symlink() {
                let target = match followed(path, self.root) {
                    Ok(target) => target,
                    Err(why) => {
                        if wanted(&rel) {
                            warn(&format!("skipped {rel}: {why}"));
                        }
                        continue;
                    }
                };
                let meta = fs::metadata(&target).map_err(|e| io_fail(path, native::io_text(&e)))?;
                if meta.is_dir() {
                    if self.open.contains(&target) {
                        if sel.may_list_under(&rel) {
                            warn(&format!("skipped {rel}: a symlink to a directory it is in"));
                        }
                    } else if sel.may_list_under(&rel) {
                        self.open.push(target.clone());
                        self.under(&target, &rel)?;
                        self.open.truncate(depth0 + entry.depth() - 1);
                    }
                    continue;
                }
                (meta.file_type(), Cow::Owned(target), Some(meta.len()))
            } else {
                (ft, Cow::Borrowed(path), None)
            };
            if ft.is_dir() {
                if sel.may_list_under(&rel) {
                    let here = self.open.last().expect("DIR is open").join(entry.file_name());
                    self.open.push(here);
                } else {
                    it.skip_current_dir();
                }
            } else if ft.is_file() {
                // Where the entry is (a file in a linked directory is in the link's target).
                let here = self.open.last().expect("DIR is open").join(entry.file_name());
                if sel.lists(&rel) && !self.skip.contains(&here) {
                    if self.files.len() == MAX_FILES {
                        return Err(usage(format!(
                            "more than {MAX_FILES} files match, the most the engine precaches (narrow --include, or --exclude some)"
                        )));
                    }
                    // (Sizes are for the progress line only: a quiet run, in-process under
                    // WASI above all, asks for none.)
                    let size = match size {
                        Some(n) => n,
                        None if self.progress.on => entry.metadata().map_or(0, |m| m.len()),
                        None => 0,
                    };
                    self.files.push(Found { rel, path: path.into_owned(), size });
                    self.progress.tick(Stage::Listing { files: self.files.len() });
                }
            } else if sel.lists(&rel) {
                warn(&format!("skipped {rel}: not a regular file"));
            }
        }
        Ok(())
    }
}

/// Where `file` is: its directory's canonical path and its name (the file itself is not
/// resolved, a link to it is where the link is), as the walk places the entries it finds.
/// The string literals `importScripts(...)` calls name in a worker script.
fn imported(script: &str) -> Vec<String> {
    let mut urls = Vec::new();
    for (at, _) in script.match_indices("importScripts(") {
        let mut rest = &script[at + "importScripts(".len()..];
        loop {
            rest = rest.trim_start();
            let Some(q) = rest.chars().next().filter(|c| matches!(c, '\'' | '"' | '`')) else { break };
            let Some(end) = rest[1..].find(q) else { break };
            urls.push(rest[1..1 + end].to_string());
            rest = rest[1 + end + 1..].trim_start();
            match rest.strip_prefix(',') {
                Some(r) => rest = r,
                None => break,
            }
        }
    }
    urls
}

/// The file under `dir` (served at `prefix`) that the worker script `script` loads as
/// `url`, if it is the site's own: a path under `prefix`, or relative to the script.
fn imported_file(url: &str, script: &Path, dir: &Path, prefix: &str) -> Option<PathBuf> {
    let path = url.split(['?', '#']).next()?;
    if path.contains("://") || path.starts_with("//") || path.is_empty() {
        return None;
    }
    match path.strip_prefix('/') {
        Some(_) => Some(dir.join(path.strip_prefix(prefix)?)),
        None => Some(script.parent()?.join(path)),
    }
}

fn location(file: &Path) -> Option<PathBuf> {
    let parent = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or_else(|| Path::new("."));
    Some(fs::canonicalize(parent).ok()?.join(file.file_name()?))
}

// ---------------------------------------------------------------------------------------
// Progress
//
// A long run (GBs of media, thousands of files) shows how far it is on stderr, if that is
// a terminal: one line, rewritten in place, cleared before anything else is written. What
// to show when is `progress_line`; `Progress` and `show` only write it.

/// How long a run goes before it shows progress.
const PROGRESS_AFTER: Duration = Duration::from_secs(1);
/// The least time between two progress lines.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// How far a run is.
#[derive(Clone, Copy, Debug)]
enum Stage {
    /// Walking DIR: the files listed so far.
    Listing { files: usize },
    /// Hashing: the files and bytes done, of all those listed.
    Hashing { files_done: usize, files: usize, bytes_done: u64, bytes: u64 },
}

/// The progress line to show `elapsed` into a run, if any: none before `after`, nor
/// within [`PROGRESS_EVERY`] of the last one shown (`shown`: when, as time into the run,
/// and at what stage) unless the stage changed (the walk is over: it says so at once).
fn progress_line(stage: Stage, elapsed: Duration, shown: Option<(Duration, Stage)>, after: Duration) -> Option<String> {
    let same = |s: Stage| std::mem::discriminant(&s) == std::mem::discriminant(&stage);
    if elapsed < after || shown.is_some_and(|(at, s)| same(s) && elapsed < at + PROGRESS_EVERY) {
        return None;
    }
    Some(match stage {
        Stage::Listing { files } => format!("swcache-manifest: listing files: {} so far…", thousands(files)),
        Stage::Hashing { files_done, files, bytes_done, bytes } => format!(
            "swcache-manifest: hashing {} of {} file{} ({} of {})…",
            thousands(files_done),
            thousands(files),
            if files == 1 { "" } else { "s" },
            human_size(bytes_done),
            human_size(bytes)
        ),
    })
}

/// `n` with a comma between groups of three digits.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() * 4 / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The progress of one run, shown if stderr is a terminal: under WASI too when Node's
/// WASI is given one (`npx swcache-manifest` on a terminal), never in-process (the
/// JavaScript APIs give the command a file for stderr and read it back).
struct Progress {
    start: Instant,
    after: Duration,
    shown: Option<(Duration, Stage)>,
    on: bool,
}

impl Progress {
    /// `SWCACHE_PROGRESS_AFTER_MS` replaces [`PROGRESS_AFTER`], for the tests only.
    fn new() -> Progress {
        let after = std::env::var("SWCACHE_PROGRESS_AFTER_MS").ok().and_then(|v| v.parse().ok());
        Progress {
            start: Instant::now(),
            after: after.map_or(PROGRESS_AFTER, Duration::from_millis),
            shown: None,
            on: io::stderr().is_terminal(),
        }
    }

    fn tick(&mut self, stage: Stage) {
        if !self.on {
            return;
        }
        let elapsed = self.start.elapsed();
        if let Some(line) = progress_line(stage, elapsed, self.shown, self.after) {
            self.shown = Some((elapsed, stage));
            show(&line);
        }
    }
}

/// The width of the progress line on stderr, 0 if there is none.
static PROGRESS_WIDTH: AtomicUsize = AtomicUsize::new(0);

/// Writes `line` over the progress line shown before.
fn show(line: &str) {
    let width = line.chars().count();
    let pad = PROGRESS_WIDTH.swap(width, Ordering::Relaxed).saturating_sub(width);
    eprint!("\r{line}{}", " ".repeat(pad));
}

/// Blanks the progress line, if one is shown, so what comes next starts a clean line.
fn clear_progress() {
    let width = PROGRESS_WIDTH.swap(0, Ordering::Relaxed);
    if width > 0 {
        eprint!("\r{}\r", " ".repeat(width));
    }
}

// ---------------------------------------------------------------------------------------
// Hashing and output

struct Entry {
    url: String,
    revision: Option<String>,
}

/// The file's revision (first 16 hex digits of its SHA-256) and size. `read` is told the
/// size read so far, after each piece.
fn hash_file(path: &Path, read: &mut dyn FnMut(u64)) -> io::Result<(String, u64)> {
    let mut f = File::open(path)?;
    let (mut h, mut buf, mut size) = (Sha256::new(), vec![0u8; 64 * 1024], 0u64);
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                h.update(&buf[..n]);
                size += n as u64;
                read(size);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((h.finalize()[..8].iter().map(|b| format!("{b:02x}")).collect(), size))
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

/// Files and their sizes, at most `most` of them, then how many more.
fn list_sizes(items: &[(&str, u64)], most: usize) -> String {
    let mut out: Vec<String> = items.iter().take(most).map(|(rel, n)| format!("{rel} ({})", human_size(*n))).collect();
    if items.len() > most {
        out.push(format!("and {} more", items.len() - most));
    }
    out.join(", ")
}

/// Exit 2 naming the files over `max` (`biggest`: the files by size, biggest first).
fn refuse_over(max: u64, biggest: &[(&str, u64)]) -> Result<(), Fail> {
    let over: Vec<(&str, u64)> = biggest.iter().copied().filter(|(_, n)| *n > max).collect();
    let Some((first, _)) = over.first() else { return Ok(()) };
    let n = over.len();
    Err(usage(format!(
        "{n} file{} bigger than --max-file-size {}: {}; leave {} out of the precache (--exclude '{first}'), or raise --max-file-size",
        if n == 1 { " is" } else { "s are" },
        human_size(max),
        list_sizes(&over, 10),
        if n == 1 { "it" } else { "them" },
    )))
}

fn run(a: Args) -> Result<(), Fail> {
    let meta = fs::metadata(&a.dir).map_err(|e| usage(format!("{}: {}", a.dir.display(), native::io_text(&e))))?;
    if !meta.is_dir() {
        return Err(usage(format!("{} is not a directory", a.dir.display())));
    }
    let root = fs::canonicalize(&a.dir).map_err(|e| io_fail(&a.dir, native::io_text(&e)))?;
    // The worker script first: a missing placeholder fails before any hashing.
    let script = match &a.inject {
        None => None,
        Some(p) => {
            // (Under WASI a directory reads as "Bad file descriptor": said as natively.)
            let text = fs::read_to_string(p)
                .map_err(|e| io_fail(p, if p.is_dir() { "Is a directory".to_string() } else { native::io_text(&e) }))?;
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
            let perms = fs::metadata(p).map_err(|e| io_fail(p, native::io_text(&e)))?.permissions();
            Some((text, at[0], perms))
        }
    };

    let mut skip: Vec<PathBuf> = a.output.iter().chain(&a.inject).filter_map(|f| location(f)).collect();
    // The worker's own scripts: the browser keeps them with the worker, so precaching
    // them would download the engine a second time at every install.
    // Relative URLs are read from where the script is written, and so served.
    if let (Some(p), Some((text, _, _))) = (a.output.as_ref().or(a.inject.as_ref()), &script) {
        skip.extend(
            imported(text).iter().filter_map(|u| imported_file(u, p, &a.dir, &a.prefix)).filter_map(|f| location(&f)),
        );
    }
    let mut progress = Progress::new();
    let mut files = walk(&a.dir, &root, &a.sel, &skip, &mut progress)?;
    if files.is_empty() {
        return Err(usage(format!(
            "no file under {} is selected by the globs: an empty manifest would precache nothing (check DIR, --include and --exclude)",
            a.dir.display()
        )));
    }
    files.sort_by(|x, y| x.rel.cmp(&y.rel));

    // A file over --max-file-size is refused by its listed size before anything is read
    // (GBs of media would be hashed first); checked again below, by the bytes read.
    if let Some(max) = a.max_file_size {
        let mut sizes: Vec<(&str, u64)> = files.iter().map(|f| (f.rel.as_str(), f.size)).collect();
        sizes.sort_by(|x, y| y.1.cmp(&x.1).then_with(|| x.0.cmp(y.0)));
        refuse_over(max, &sizes)?;
    }
    let (mut entries, mut total, mut hashed) = (Vec::with_capacity(files.len()), 0u64, 0usize);
    let mut sizes = Vec::with_capacity(files.len());
    let bytes = files.iter().map(|f| f.size).sum();
    for (i, f) in files.iter().enumerate() {
        let done = total;
        let mut tick =
            |bytes_done| progress.tick(Stage::Hashing { files_done: i, files: files.len(), bytes_done, bytes });
        tick(done);
        let url = format!("{}{}", a.prefix, encode_path(&f.rel));
        if a.sel.is_hashed(&f.rel) {
            let size = File::open(&f.path)
                .and_then(|file| file.metadata())
                .map_err(|e| io_fail(&f.path, native::io_text(&e)))?
                .len();
            total += size;
            hashed += 1;
            sizes.push(size);
            entries.push(Entry { url, revision: None });
        } else {
            let (revision, size) =
                hash_file(&f.path, &mut |read| tick(done + read)).map_err(|e| io_fail(&f.path, native::io_text(&e)))?;
            total += size;
            sizes.push(size);
            entries.push(Entry { url, revision: Some(revision) });
        }
    }
    clear_progress();
    // The files by size, biggest first (ties by path).
    let mut biggest: Vec<(&str, u64)> = files.iter().map(|f| f.rel.as_str()).zip(sizes).collect();
    biggest.sort_by(|x, y| y.1.cmp(&x.1).then_with(|| x.0.cmp(y.0)));
    if let Some(max) = a.max_file_size {
        refuse_over(max, &biggest)?;
    }
    if let Some(limit) = a.warn_size.filter(|l| total > *l) {
        warn(&format!(
            "the precache is {} in {} files, over --warn-size {}: a first visit downloads all of it. The biggest: {}; \
             leave out what a first visit does not need (--exclude), or raise --warn-size",
            human_size(total),
            files.len(),
            human_size(limit),
            list_sizes(&biggest, 5),
        ));
    }
    // A glob that selects nothing is most likely a typo: say so (the rest is still right).
    let listed: HashSet<&str> = files.iter().map(|f| f.rel.as_str()).collect();
    let unused = |flag: &str, globs: &[Glob], dot: bool| {
        let used = |g: &Glob| match &g.literal {
            Some(path) => listed.contains(path.as_str()),
            None => files.iter().any(|f| g.matches(&f.rel, dot)),
        };
        for g in globs.iter().filter(|g| !used(g)) {
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
            native::write_atomic(dest, out.as_bytes(), Some(perms.clone())).map_err(written_fail)?;
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
                    native::write_atomic(o, out.as_bytes(), None).map_err(written_fail)?;
                    format!("written to {}", o.display())
                }
                None => {
                    let mut stdout = io::stdout().lock();
                    let written = stdout.write_all(out.as_bytes()).and_then(|_| stdout.flush());
                    written.map_err(|e| Fail { code: 1, msg: format!("stdout: {}", native::io_text(&e)) })?;
                    "written to stdout".into()
                }
            }
        }
    };
    let n = entries.len();
    let note = if hashed > 0 { format!(" ({hashed} content-hashed)") } else { String::new() };
    eprintln!(
        "swcache-manifest: {n} file{}{note}, {}, {destination}",
        if n == 1 { "" } else { "s" },
        human_size(total)
    );
    Ok(())
}

fn main() -> ExitCode {
    native::wasi_start();
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
            clear_progress();
            eprintln!("swcache-manifest: {}", f.msg);
            ExitCode::from(f.code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revision_is_the_start_of_the_sha256() {
        let path = std::env::temp_dir().join(format!("swcache-manifest-unit-{}", std::process::id()));
        fs::write(&path, "abc").unwrap();
        assert_eq!(hash_file(&path, &mut |_| {}).unwrap(), ("ba7816bf8f01cfea".to_string(), 3));
        fs::write(&path, vec![b'a'; 1_000_000]).unwrap();
        let mut read = Vec::new();
        let hashed = hash_file(&path, &mut |n| read.push(n)).unwrap();
        assert_eq!(hashed, ("cdc76e5c9914fb92".to_string(), 1_000_000), "read in pieces");
        assert!(read.len() > 1 && read.windows(2).all(|w| w[0] < w[1]) && read.last() == Some(&1_000_000), "{read:?}");
        let _ = fs::remove_file(&path);
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
        assert!(m("./index.html", "index.html") && m("ü*", "über.html") && m("über/*.html", "über/日本.html"));
        // globset's ? is one byte: a character outside ASCII takes as many ? as its UTF-8 bytes.
        assert!(!m("?ber.html", "über.html") && m("??ber.html", "über.html"));
        // Characters globset would read as syntax are literal here, like a brace that is no alternation.
        assert!(m("[a]\\{x}.css", "[a]\\{x}.css") && !m("[a].css", "a.css") && m("a**b", "axyb") && m("a/**x", "a/yx"));
        assert!(m("lib/**", "lib") && m("a/**/**/b", "a/b"), "** matches no segment too");
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
        assert!(
            g.covers_dir("assets") && !g.covers_dir("other") && !Glob::new("assets/*.js").unwrap().covers_dir("assets")
        );
        let g = Glob::new("assets/*.js").unwrap();
        assert!(g.may_match_under("assets") && !g.may_match_under("other") && !g.may_match_under("assets/x"));
        assert!(!Glob::new("**/*").unwrap().may_match_under(".git"));
        let g = Glob::new("{.well-known,x}/**").unwrap();
        assert!(g.may_match_under(".well-known") && g.may_match_under(".well-known/a") && g.may_match_under("x/y"));
        assert!(!g.may_match_under(".git") && !g.may_match_under("y") && !g.may_match_under("x/.y"));
        let g = Glob::new("a/.cache/*.js").unwrap();
        assert!(g.may_match_under("a") && g.may_match_under("a/.cache") && !g.may_match_under("a/.cache/b"));
        assert!(!Glob::new(".well-known").unwrap().may_match_under(".well-known"));
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
                if let Some(literal) = &glob.literal {
                    assert_eq!(*literal == path, want, "{pattern:?} names one path");
                }
                matched += usize::from(want);
                cases += 1;
                // If a path matches, its directories are ones the walk goes into.
                if want && dot {
                    if let Some((dir, _)) = path.rsplit_once('/') {
                        assert!(glob.may_match_under(dir), "{pattern:?} under {dir:?}");
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
        for bad in
            ["static/", "//cdn.example/", "https://x/", "/a b/", "/a?x", "/a#x", "/%zz/", "/%2", "/a/../b", "/ü/"]
        {
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
    fn size_arguments() {
        let p = |v: &str| parse_size(v, "--max-file-size");
        assert_eq!(p("1500000"), Ok(1_500_000));
        assert_eq!(p("2MB"), Ok(2_000_000));
        assert_eq!(p("2 mb"), Ok(2_000_000));
        assert_eq!(p("500kB"), Ok(500_000));
        assert_eq!(p("1MiB"), Ok(1 << 20));
        assert_eq!(p("2.5M"), Ok(2_500_000));
        assert_eq!(p("0"), Ok(0));
        for bad in ["", "MB", "-1", "2XB", "1e3", "2..5MB", "9999999999GB"] {
            assert!(p(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn progress_lines() {
        let (ms, after) = (Duration::from_millis, Duration::from_secs(1));
        let hashing = Stage::Hashing { files_done: 4210, files: 9800, bytes_done: 1_234_567_890, bytes: 2_900_000_000 };
        let line = |elapsed, shown: Option<(u64, Stage)>| {
            progress_line(hashing, ms(elapsed), shown.map(|(at, s)| (ms(at), s)), after)
        };
        assert_eq!(line(999, None), None, "a short run shows nothing");
        assert_eq!(line(1000, None).unwrap(), "swcache-manifest: hashing 4,210 of 9,800 files (1.2 GB of 2.9 GB)…");
        assert_eq!(line(1249, Some((1000, hashing))), None, "at most four lines a second");
        assert!(line(1250, Some((1000, hashing))).is_some() && line(5000, Some((1000, hashing))).is_some());
        let listing = Stage::Listing { files: 12 };
        assert_eq!(
            line(1100, Some((1000, listing))).unwrap(),
            line(1000, None).unwrap(),
            "hashing begins: said at once"
        );
        assert_eq!(
            progress_line(listing, ms(1500), None, after).unwrap(),
            "swcache-manifest: listing files: 12 so far…"
        );
        assert_eq!(progress_line(listing, ms(1600), Some((ms(1500), listing)), after), None);
        let first = Stage::Hashing { files_done: 0, files: 1, bytes_done: 0, bytes: 999 };
        assert_eq!(
            progress_line(first, ms(0), None, Duration::ZERO).unwrap(),
            "swcache-manifest: hashing 0 of 1 file (0 B of 999 B)…"
        );
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(123_456_789), "123,456,789");
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
