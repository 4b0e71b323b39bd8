//! `swcache-feed`: publishes invalidation entries to a site's feed file, the document
//! every swcache worker checks (see the README's "Invalidation feed"). A CMS or a deploy
//! script calls it when content changes. Writes are atomic (a temporary file renamed
//! over the feed: a reader never sees half a file) and serialized by a lock file, so
//! concurrent publishers never lose an entry.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use swcache::core::feed::{self, Feed};
use swcache::core::time;
use swcache::core::value::Value;

const HELP: &str = "\
swcache-feed: publish invalidations to a swcache feed file

USAGE:
    swcache-feed add [OPTIONS] (--url URL | --prefix P | --tag T | --route NAME | --all)...
    swcache-feed compact [--feed FILE] [--keep N]
    swcache-feed show [--feed FILE]

COMMANDS:
    add        append one entry (what changed, and when) and print its seq
    compact    fold all but the newest N entries into the baseline
    show       print the feed: seq, baseline and entries, one per line

OPTIONS:
    --feed FILE        the feed file [default: swcache-feed.json]; created by the first add
    --url URL          a changed page or resource, root-relative (/promo/summer?x=1); repeatable
    --prefix P         every URL whose path+search starts with P (starts with /); repeatable
    --tag T            every response whose Cache-Tag header has the token T; repeatable
    --route NAME       every entry of the worker's route NAME; repeatable
    --all              everything
    --timestamp ISO    when the content changed [default: now]; at most 10 minutes ahead
    --keep N           entries kept before older ones fold into the baseline [default: 200]
    -h, --help         this text

The feed is a static file: serve it from the site's origin (or CDN) at the URL the
worker's `feed.url` names. Exit status: 0 done, 1 the feed could not be read or
written, 2 bad arguments.
";

struct Args {
    cmd: String,
    feed: PathBuf,
    keep: usize,
    timestamp: Option<f64>,
    fields: Vec<(String, Value)>,
}

fn now_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_millis() as f64)
}

fn usage(msg: &str) -> ExitCode {
    eprintln!("swcache-feed: {msg}\n(see swcache-feed --help)");
    ExitCode::from(2)
}

fn push(fields: &mut Vec<(String, Value)>, key: &str, v: String) {
    match fields.iter_mut().find(|(k, _)| k == key) {
        Some((_, Value::Arr(items))) => items.push(Value::Str(v)),
        _ => fields.push((key.into(), Value::Arr(vec![Value::Str(v)]))),
    }
}

fn parse_args(argv: &[String]) -> Result<Args, String> {
    let mut it = argv.iter();
    let cmd = it.next().ok_or("no command given (add, compact or show)")?.clone();
    if !["add", "compact", "show"].contains(&cmd.as_str()) {
        return Err(format!("unknown command '{cmd}' (expected add, compact or show)"));
    }
    let mut a = Args { cmd, feed: PathBuf::from("swcache-feed.json"), keep: feed::DEFAULT_KEEP, timestamp: None, fields: vec![] };
    while let Some(flag) = it.next() {
        let mut value = || it.next().cloned().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--feed" => a.feed = PathBuf::from(value()?),
            "--keep" => a.keep = value()?.parse().ok().filter(|n| *n >= 1).ok_or("--keep must be a whole number from 1")?,
            "--timestamp" => {
                let v = value()?;
                let t = time::parse_iso(&v).ok_or_else(|| format!("--timestamp is not an ISO 8601 time: '{v}'"))?;
                if t > now_ms() + feed::FUTURE_LIMIT_MS {
                    return Err(format!("--timestamp {v} is more than 10 minutes in the future (workers would refuse the feed)"));
                }
                a.timestamp = Some(t);
            }
            "--url" => {
                let v = value()?;
                if !v.starts_with('/') || v.starts_with("//") || v.contains('#') {
                    return Err(format!("--url must be root-relative (like /promo/summer), got '{v}'"));
                }
                push(&mut a.fields, "urls", v);
            }
            "--prefix" => {
                let v = value()?;
                if !v.starts_with('/') {
                    return Err(format!("--prefix must start with / (a prefix of path+search), got '{v}'"));
                }
                push(&mut a.fields, "prefixes", v);
            }
            "--tag" => {
                let v = value()?.trim().to_string();
                if v.is_empty() || v.contains(',') {
                    return Err("--tag must be a non-empty tag without commas".into());
                }
                push(&mut a.fields, "tags", v);
            }
            "--route" => {
                let v = value()?;
                if v.is_empty() || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
                    return Err(format!("--route must be a route name (letters, digits, _ or -), got '{v}'"));
                }
                push(&mut a.fields, "routes", v);
            }
            "--all" => a.fields.push(("all".into(), Value::Bool(true))),
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    if a.cmd == "add" && a.fields.is_empty() {
        return Err("add needs what changed: --url, --prefix, --tag, --route or --all".into());
    }
    Ok(a)
}

fn read_feed(path: &Path) -> Result<Option<Feed>, String> {
    match fs::read_to_string(path) {
        Ok(text) => feed::parse(&text).map(Some).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Writes `text` to `path` atomically: a temporary file beside it, flushed, renamed over.
fn write_atomic(path: &Path, text: &str) -> Result<(), String> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("swcache-feed.json");
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut f = File::create(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    f.write_all(text.as_bytes()).and_then(|_| f.sync_all()).map_err(|e| format!("{}: {e}", tmp.display()))?;
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        format!("{}: {e}", path.display())
    })
}

fn run(a: Args) -> Result<(), String> {
    if a.cmd == "show" {
        let f = read_feed(&a.feed)?.ok_or_else(|| format!("{}: no such feed", a.feed.display()))?;
        println!("epoch {} seq {} entries {}", f.epoch, f.seq, f.entries.len());
        if let Some(b) = &f.baseline {
            println!("baseline seq {} timestamp {}", b.seq, time::iso_string(b.at_ms));
        }
        for line in feed::write(&f).lines().filter(|l| l.starts_with("{\"seq\"")) {
            println!("{}", line.trim_end_matches(','));
        }
        return Ok(());
    }
    // One writer at a time: an exclusive lock on a file beside the feed.
    let lock_path = a.feed.with_extension("lock");
    let lock = OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).map_err(|e| format!("{}: {e}", lock_path.display()))?;
    lock.lock().map_err(|e| format!("{}: {e}", lock_path.display()))?;
    let mut f = match read_feed(&a.feed)? {
        Some(f) => f,
        None => Feed { epoch: format!("{:x}{:x}", now_ms() as u64, std::process::id()), seq: 0, baseline: None, entries: vec![] },
    };
    let mut out = String::new();
    if a.cmd == "add" {
        let seq = feed::add(&mut f, a.fields, a.timestamp.unwrap_or_else(now_ms));
        out = seq.to_string();
    }
    let dropped = feed::compact(&mut f, a.keep);
    write_atomic(&a.feed, &feed::write(&f))?;
    if a.cmd == "compact" {
        out = format!("compacted {dropped} entries; {} left, baseline seq {}", f.entries.len(), f.baseline.map_or(0, |b| b.seq));
    }
    println!("{out}");
    Ok(())
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.iter().any(|a| a == "-h" || a == "--help") || argv.is_empty() {
        print!("{HELP}");
        return if argv.is_empty() { ExitCode::from(2) } else { ExitCode::SUCCESS };
    }
    match parse_args(&argv) {
        Err(e) => usage(&e),
        Ok(a) => match run(a) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("swcache-feed: {e}");
                ExitCode::from(1)
            }
        },
    }
}
