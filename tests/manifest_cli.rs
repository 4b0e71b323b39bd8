//! The real `swcache-manifest` command on real directory trees: deterministic output, a
//! changed file changes exactly its own entry, globs, URLs, injection into a worker
//! script, refusals that would otherwise ship a broken precache, and the progress line a
//! long run shows on a terminal (and nowhere else).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use swcache::policy::text::read_json;
use swcache::policy::value::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_swcache-manifest"))
}

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("swcache-manifest-test-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes each `(path, content)` under `root`, creating directories.
fn tree(root: &Path, files: &[(&str, &str)]) {
    for (path, content) in files {
        let p = root.join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, content).unwrap();
    }
}

fn run(dir: &Path, args: &[&str]) -> Output {
    bin().arg(dir).args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The `(url, revision)` entries of a JSON manifest, checking its shape on the way.
fn entries(json: &str) -> Vec<(String, Option<String>)> {
    let Some(Value::Arr(items)) = read_json(json) else { panic!("not a JSON array: {json}") };
    items
        .iter()
        .map(|item| {
            let Value::Obj(fields) = item else { panic!("not an object: {item:?}") };
            assert_eq!(fields.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["url", "revision"]);
            let url = item.get("url").and_then(Value::as_str).unwrap().to_string();
            let revision = match item.get("revision") {
                Some(Value::Null) => None,
                Some(Value::Str(r)) => Some(r.clone()),
                other => panic!("revision {other:?}"),
            };
            (url, revision)
        })
        .collect()
}

fn urls(json: &str) -> Vec<String> {
    entries(json).into_iter().map(|(u, _)| u).collect()
}

/// Runs successfully and returns the manifest printed on stdout.
fn manifest(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stdout(&out)
}

/// Exits with `code`, with a one-line-or-more error naming the command on stderr.
fn fails(dir: &Path, args: &[&str], code: i32) -> String {
    let out = run(dir, args);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
    assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout");
    let err = stderr(&out);
    assert!(err.starts_with("swcache-manifest: "), "{args:?}: a clear error, got {err}");
    err
}

fn site(name: &str) -> PathBuf {
    let dir = scratch(name);
    tree(
        &dir,
        &[
            ("index.html", "abc"),
            ("b.js", "console.log(1)"),
            ("a.css", "body{}"),
            ("Z.txt", "capital"),
            ("blog/post/index.html", "<p>post</p>"),
            ("blog/a.html", "a"),
            ("assets/app.3f9a1c.js", "hashed"),
            ("assets/app.3f9a1c.js.map", "{}"),
            (".htaccess", "deny"),
            (".git/config", "[core]"),
            ("blog/.draft.html", "draft"),
        ],
    );
    dir
}

#[test]
fn lists_every_file_sorted_and_the_same_every_time() {
    let dir = site("sorted");
    let out = run(&dir, &[]);
    assert!(out.status.success());
    let first = stdout(&out);
    assert_eq!(
        urls(&first),
        [
            "/Z.txt",
            "/a.css",
            "/assets/app.3f9a1c.js",
            "/assets/app.3f9a1c.js.map",
            "/b.js",
            "/blog/a.html",
            "/blog/post/index.html",
            "/index.html"
        ],
        "sorted by path; dotfiles and dot directories left out"
    );
    for _ in 0..3 {
        assert_eq!(manifest(&dir, &[]), first, "deterministic");
    }
    // One entry a line, so manifests diff entry by entry.
    assert!(first.starts_with("[\n  {\"url\":\"/Z.txt\",\"revision\":\"") && first.ends_with("}\n]\n"), "{first}");
    assert_eq!(first.lines().count(), 8 + 2);
    let all = entries(&first);
    assert!(all.iter().all(|(_, r)| r
        .as_ref()
        .is_some_and(|r| r.len() == 16 && r.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))));
    let index = all.iter().find(|(u, _)| u == "/index.html").unwrap();
    assert_eq!(index.1.as_deref(), Some("ba7816bf8f01cfea"), "first 16 hex digits of SHA-256(\"abc\")");
    let total: usize = [3, 14, 6, 7, 11, 1, 6, 2].iter().sum();
    assert_eq!(stderr(&out), format!("swcache-manifest: 8 files, {total} B, written to stdout\n"));
}

#[test]
fn a_changed_file_changes_only_its_own_revision() {
    let dir = site("changed");
    let before = manifest(&dir, &[]);
    fs::write(dir.join("blog/a.html"), "a, edited").unwrap();
    let after = manifest(&dir, &[]);
    let diff: Vec<(&str, &str)> = before.lines().zip(after.lines()).filter(|(x, y)| x != y).collect();
    assert_eq!(before.lines().count(), after.lines().count());
    assert_eq!(diff.len(), 1, "{diff:?}");
    let (old, new) = (entries(&before), entries(&after));
    let changed: Vec<_> = old.iter().zip(&new).filter(|(x, y)| x != y).collect();
    assert_eq!(changed.len(), 1);
    let ((u1, r1), (u2, r2)) = changed[0];
    assert_eq!((u1.as_str(), u2.as_str()), ("/blog/a.html", "/blog/a.html"));
    assert_ne!(r1, r2);
    // Same bytes, same revision: writing the file back restores the manifest.
    fs::write(dir.join("blog/a.html"), "a").unwrap();
    assert_eq!(manifest(&dir, &[]), before);
    // A new file adds exactly its own entry.
    fs::write(dir.join("c.css"), "new").unwrap();
    let added = entries(&manifest(&dir, &[]));
    assert_eq!(added.len(), old.len() + 1);
    assert_eq!(added.iter().filter(|e| !old.contains(e)).map(|(u, _)| u.as_str()).collect::<Vec<_>>(), ["/c.css"]);
}

#[test]
fn include_exclude_and_hashed_globs() {
    let dir = site("globs");
    let m = manifest(&dir, &["--include", "*.{css,js}", "--include", "blog/**"]);
    assert_eq!(urls(&m), ["/a.css", "/b.js", "/blog/a.html", "/blog/post/index.html"]);
    let m = manifest(&dir, &["--exclude", "**/*.map", "--exclude", "blog/**", "--exclude", "?.txt"]);
    assert_eq!(urls(&m), ["/a.css", "/assets/app.3f9a1c.js", "/b.js", "/index.html"]);
    // Dotfiles come in when a pattern names the dot; excludes match dotfiles like any other.
    let m = manifest(&dir, &["--include", "**/*.html", "--include", ".htaccess", "--include", "**/.draft.html"]);
    assert_eq!(urls(&m), ["/.htaccess", "/blog/.draft.html", "/blog/a.html", "/blog/post/index.html", "/index.html"]);
    let m = manifest(&dir, &["--include", ".git/**", "--include", "*.css", "--exclude", "**/config"]);
    assert_eq!(urls(&m), ["/a.css"]);
    // --hashed marks files (revision null); it adds none.
    let out = run(&dir, &["--hashed", "assets/*.??????.js", "--hashed", "*.min.js", "--exclude", "**/*.map"]);
    let e = entries(&stdout(&out));
    assert_eq!(
        e.iter().filter(|(_, r)| r.is_none()).map(|(u, _)| u.as_str()).collect::<Vec<_>>(),
        ["/assets/app.3f9a1c.js"]
    );
    assert_eq!(e.len(), 7);
    assert!(
        stderr(&out).starts_with("swcache-manifest: warning: --hashed '*.min.js' matches none of the files listed\n")
    );
    assert!(stderr(&out).contains("\nswcache-manifest: 7 files (1 content-hashed), "), "{}", stderr(&out));
    let out = run(&dir, &["--include", "*.css", "--include", "blgo/**"]);
    assert!(out.status.success() && urls(&stdout(&out)) == ["/a.css"]);
    assert!(
        stderr(&out).contains("warning: --include 'blgo/**' matches none of the files listed"),
        "a typo is reported"
    );
    let m = manifest(&dir, &["--include", "assets/**", "--hashed", "**/*"]);
    assert_eq!(entries(&m), [("/assets/app.3f9a1c.js".into(), None), ("/assets/app.3f9a1c.js.map".into(), None)]);
    for bad in [["--include", "/abs/*.js"], ["--exclude", "blog/"], ["--hashed", ""]] {
        fails(&dir, &bad, 2);
    }
}

#[test]
fn prefix_and_percent_encoding() {
    let dir = scratch("urls");
    tree(&dir, &[("a b#c?d%e.txt", "1"), ("über/日本.html", "2"), ("ok-~!$&'()+,;=@.js", "3")]);
    // Sorted by path ("a b…" < "ok…" < "über…"), each percent-encoded as a browser would.
    let expected = ["a%20b%23c%3Fd%25e.txt", "ok-~!$&'()+,;=@.js", "%C3%BCber/%E6%97%A5%E6%9C%AC.html"];
    let sorted_by_path = |prefix: &str| expected.iter().map(|p| format!("{prefix}{p}")).collect::<Vec<_>>();
    assert_eq!(urls(&manifest(&dir, &[])), sorted_by_path("/"));
    assert_eq!(urls(&manifest(&dir, &["--prefix", "/static/"])), sorted_by_path("/static/"));
    assert_eq!(urls(&manifest(&dir, &["--prefix", "/static"])), sorted_by_path("/static/"), "a / is added");
    assert_eq!(urls(&manifest(&dir, &["--prefix=/a%20b/"])), sorted_by_path("/a%20b/"));
    for bad in ["static/", "//cdn.example.com/", "https://cdn.example.com/", "/a b/", "/x?v=1", "/x#y", "/../x"] {
        let err = fails(&dir, &["--prefix", bad], 2);
        assert!(err.contains("--prefix"), "{err}");
    }
    fails(&dir, &["--prefix", "/a/", "--prefix", "/b/"], 2);
}

/// An `--inject` file that is a symlink (a deploy that links each release's `sw.js` to a
/// shared one) is written through: the target gets the manifest and the link stays a link.
#[cfg(unix)]
#[test]
fn inject_through_a_symlink_writes_its_target() {
    let root = scratch("inject-link");
    let dir = root.join("dist");
    tree(&dir, &[("index.html", "abc")]);
    let shared = root.join("shared-sw.js");
    fs::write(&shared, "swcache.start({ version: 'v1', precache: self.swcacheManifest });\n").unwrap();
    let link = dir.join("sw.js");
    std::os::unix::fs::symlink(&shared, &link).unwrap();
    let out = run(&dir, &["--inject", link.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link was replaced by a file");
    assert!(fs::read_to_string(&shared).unwrap().contains("precache: [\n  {\"url\":\"/index.html\""));
    assert_eq!(fs::read_dir(&root).unwrap().count(), 2, "nothing left beside the target");
}

#[test]
fn inject_replaces_the_one_placeholder() {
    let root = scratch("inject");
    let dir = root.join("dist");
    tree(&dir, &[("index.html", "abc"), ("app.js", "x")]);
    let script = "importScripts('/swcache/swcache-sw.js');\nswcache.start({\n  version: 'v2',\n  precache: self.swcacheManifest,\n});\n";
    let sw = dir.join("sw.js");
    fs::write(&sw, script).unwrap();
    let sw_arg = sw.to_str().unwrap();
    // The worker script's directory is the one listed: it is not listed itself.
    let out = run(&dir, &["--inject", sw_arg]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    assert_eq!(stderr(&out), format!("swcache-manifest: 2 files, 4 B, injected into {sw_arg}\n"));
    let injected = fs::read_to_string(&sw).unwrap();
    let json = manifest(&dir, &["--exclude", "sw.js"]);
    assert_eq!(injected, script.replace("self.swcacheManifest", json.trim_end()));
    assert_eq!(urls(&json), ["/app.js", "/index.html"]);
    assert!(injected.contains("  precache: [\n  {\"url\":\"/app.js\",\"revision\":\""));
    // Once injected there is no placeholder left: an error, and the script is kept as it is.
    let err = fails(&dir, &["--inject", sw_arg], 1);
    assert!(err.contains("no `self.swcacheManifest`"), "{err}");
    assert_eq!(fs::read_to_string(&sw).unwrap(), injected);
    // Two placeholders: an error naming the lines; nothing written.
    let twice = "self.swcacheManifest;\n// precache: self.swcacheManifest\nmyself.swcacheManifest2;\n";
    fs::write(&sw, twice).unwrap();
    let err = fails(&dir, &["--inject", sw_arg], 1);
    assert!(err.contains("appears 2 times (lines 1, 2)"), "{err}");
    assert_eq!(fs::read_to_string(&sw).unwrap(), twice);
    // With --output the source is left as it is (a build can rerun), and both are unlisted.
    let src = root.join("sw.src.js");
    fs::write(&src, script).unwrap();
    let out_js = dir.join("sw.js");
    for _ in 0..2 {
        let out = bin().arg(&dir).arg("--inject").arg(&src).arg("--output").arg(&out_js).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let summary = format!(", written to {} ({} with the manifest injected)\n", out_js.display(), src.display());
        assert!(stderr(&out).ends_with(&summary), "{}", stderr(&out));
    }
    assert_eq!(fs::read_to_string(&src).unwrap(), script);
    assert_eq!(fs::read_to_string(&out_js).unwrap(), injected);
    // A missing script, and --format (which does not apply), are refused.
    fails(&dir, &["--inject", root.join("missing.js").to_str().unwrap()], 1);
    fails(&dir, &["--inject", src.to_str().unwrap(), "--format", "js"], 2);
    // No temporary file is left behind.
    let names: Vec<String> =
        fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
}

#[test]
fn output_file_and_formats() {
    let dir = site("output");
    let json = manifest(&dir, &[]);
    let other = scratch("output-elsewhere").join("m.json");
    assert!(bin().arg(&dir).arg("--output").arg(&other).output().unwrap().status.success());
    assert_eq!(fs::read_to_string(&other).unwrap(), json);
    let forced = scratch("output-forced").join("m.js");
    assert!(bin().arg(&dir).arg("--output").arg(&forced).args(["--format", "json"]).output().unwrap().status.success());
    assert_eq!(fs::read_to_string(&forced).unwrap(), json);
    // --output FILE.js: the js format, for importScripts; inside DIR, it is not listed.
    let js = dir.join("swcache-manifest.js");
    for _ in 0..2 {
        let out = bin().arg(&dir).arg("--output").arg(&js).output().unwrap();
        assert!(out.status.success() && out.stdout.is_empty(), "{}", stderr(&out));
        assert!(stderr(&out).ends_with(&format!(", written to {}\n", js.display())));
        assert_eq!(fs::read_to_string(&js).unwrap(), format!("self.swcacheManifest = {};\n", json.trim_end()));
    }
    let js_text = fs::read_to_string(&js).unwrap();
    assert_eq!(manifest(&dir, &["--format", "js", "--exclude", "swcache-manifest.js"]), js_text);
    fails(&dir, &["--format", "yaml"], 2);
    // An output it cannot write: exit 1, naming the file asked for (not the hidden
    // temporary file written beside it first).
    let missing = dir.join("no/such/dir/m.json");
    let out = bin().arg(&dir).arg("--output").arg(&missing).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(stderr(&out), format!("swcache-manifest: {}: No such file or directory\n", missing.display()));
    let src = dir.join("sw.src.js");
    fs::write(&src, "swcache.start({ version: 'v1', precache: self.swcacheManifest });\n").unwrap();
    let out = bin().arg(&dir).arg("--inject").arg(&src).arg("--output").arg(&missing).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(stderr(&out), format!("swcache-manifest: {}: No such file or directory\n", missing.display()));
}

#[test]
fn refuses_what_would_ship_a_broken_precache() {
    let dir = site("refuse");
    let err = fails(&dir, &["--include", "*.php"], 2);
    assert!(err.contains("empty manifest"), "{err}");
    fails(&dir, &["--exclude", "**/*"], 2);
    fails(&dir.join("missing"), &[], 2);
    fails(&dir.join("index.html"), &[], 2);
    fails(&dir, &["--frobnicate"], 2);
    fails(&dir, &["--include"], 2);
    let out = bin().arg(&dir).arg(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "one DIR only");
    let out = bin().output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty() && stderr(&out).contains("USAGE:"), "no arguments: the help, on stderr");
    // The engine precaches at most 10,000 URLs.
    let big = scratch("too-many");
    for d in 0..11 {
        fs::create_dir_all(big.join(d.to_string())).unwrap();
        for f in 0..1000 {
            fs::write(big.join(format!("{d}/{f}")), "").unwrap();
        }
    }
    let err = fails(&big, &[], 2);
    assert!(err.contains("more than 10000 files"), "{err}");
    let out = run(&big, &["--exclude", "10/**", "--prefix", "/big"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(entries(&stdout(&out)).len(), 10_000);
    let _ = fs::remove_dir_all(&big);
    // A file it cannot read: exit 1, and no output written.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let secret = dir.join("secret.txt");
        fs::write(&secret, "s").unwrap();
        fs::set_permissions(&secret, fs::Permissions::from_mode(0o000)).unwrap();
        if fs::read(&secret).is_err() {
            // (not as root, who reads it anyway)
            let target = scratch("refuse-out").join("m.json");
            let out = bin().arg(&dir).arg("--output").arg(&target).output().unwrap();
            assert_eq!(out.status.code(), Some(1));
            assert!(stderr(&out).contains("secret.txt"));
            assert!(!target.exists());
        }
        fs::set_permissions(&secret, fs::Permissions::from_mode(0o644)).unwrap();
    }
}

#[cfg(unix)]
#[test]
fn symlinks_are_followed_only_inside_dir() {
    use std::os::unix::fs::symlink;
    let root = scratch("symlinks");
    let dir = root.join("site");
    tree(&dir, &[("index.html", "abc"), ("v3/app.js", "3")]);
    fs::write(root.join("outside.txt"), "secret").unwrap();
    symlink("index.html", dir.join("home.html")).unwrap();
    symlink("v3", dir.join("latest")).unwrap();
    symlink("../outside.txt", dir.join("leak.txt")).unwrap();
    symlink("..", dir.join("v3/up")).unwrap();
    symlink("nowhere", dir.join("broken.html")).unwrap();
    symlink("loop-b.html", dir.join("loop-a.html")).unwrap();
    symlink("loop-a.html", dir.join("loop-b.html")).unwrap();
    let out = run(&dir, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let e = entries(&stdout(&out));
    let index_rev = e.iter().find(|(u, _)| u == "/index.html").unwrap().1.clone();
    assert_eq!(
        e.iter().map(|(u, _)| u.as_str()).collect::<Vec<_>>(),
        ["/home.html", "/index.html", "/latest/app.js", "/v3/app.js"]
    );
    assert_eq!(e[0].1, index_rev, "a link has its target's revision");
    let err = stderr(&out);
    assert!(err.contains("skipped leak.txt: a symlink to") && err.contains("outside DIR"), "{err}");
    assert!(err.contains("skipped broken.html: a broken symlink"), "{err}");
    assert!(
        err.contains("skipped loop-a.html: a symlink that cannot be followed (Too many levels of symbolic links)"),
        "{err}"
    );
    assert!(err.contains("skipped v3/up: a symlink to a directory it is in"), "{err}");
    assert!(!stdout(&out).contains("outside"));
}

#[test]
fn help() {
    let out = bin().arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.starts_with("swcache-manifest: ") && text.contains("USAGE:"));
    for opt in [
        "--include",
        "--exclude",
        "--hashed",
        "--prefix",
        "--format",
        "--output",
        "--inject",
        "-h, --help",
        "Exit status",
    ] {
        assert!(text.contains(opt), "{opt}");
    }
    assert_eq!(stdout(&bin().arg("-h").output().unwrap()), text);
}

#[test]
fn size_limits_name_the_biggest_files() {
    let root = scratch("sizes");
    let dir = root.join("site");
    tree(&dir, &[("index.html", "abc"), ("img/hero.png", &"h".repeat(2500)), ("videos/intro.mp4", &"v".repeat(3000))]);
    let script = "swcache.start({ version: 'v1', precache: self.swcacheManifest });\n";
    let sw = root.join("sw.js");
    fs::write(&sw, script).unwrap();
    // A file over --max-file-size: exit 2, each such file named, nothing written.
    let out = bin().arg(&dir).args(["--max-file-size", "2kB", "--inject"]).arg(&sw).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "swcache-manifest: 2 files are bigger than --max-file-size 2.0 kB: videos/intro.mp4 (3.0 kB), img/hero.png \
         (2.5 kB); leave them out of the precache (--exclude 'videos/intro.mp4'), or raise --max-file-size\n"
    );
    assert_eq!(fs::read_to_string(&sw).unwrap(), script);
    let err = fails(&dir, &["--max-file-size", "2900"], 2);
    assert!(
        err.contains("1 file is bigger than --max-file-size 2.9 kB: videos/intro.mp4 (3.0 kB); leave it out"),
        "{err}"
    );
    assert_eq!(urls(&manifest(&dir, &["--max-file-size", "3kB"])).len(), 3, "a file of exactly the limit is fine");
    assert_eq!(urls(&manifest(&dir, &["--max-file-size", "2kB", "--exclude", "{img,videos}/**"])), ["/index.html"]);
    // Over --warn-size: a warning with the biggest files, and the manifest all the same.
    let out = run(&dir, &["--warn-size", "5kB"]);
    assert!(out.status.success());
    assert_eq!(urls(&stdout(&out)).len(), 3);
    assert!(
        stderr(&out).starts_with(
            "swcache-manifest: warning: the precache is 5.5 kB in 3 files, over --warn-size 5.0 kB: a first visit \
             downloads all of it. The biggest: videos/intro.mp4 (3.0 kB), img/hero.png (2.5 kB), index.html (3 B); "
        ),
        "{}",
        stderr(&out)
    );
    for quiet in [&["--warn-size", "6kB"][..], &["--warn-size", "none"], &[]] {
        assert!(!stderr(&run(&dir, quiet)).contains("warning"), "{quiet:?}");
    }
    for bad in [["--warn-size", "lots"], ["--max-file-size", "-1"]] {
        fails(&dir, &bad, 2);
    }
}

#[cfg(unix)]
#[test]
fn output_and_inject_files_are_not_listed_under_a_linked_directory_either() {
    use std::os::unix::fs::symlink;
    let dir = scratch("self-link").join("site");
    let script = "swcache.start({ version: 'v1', precache: self.swcacheManifest });\n";
    tree(&dir, &[("v3/app.js", "3"), ("v3/sw.src.js", script)]);
    symlink("v3", dir.join("latest")).unwrap();
    // The output written in v3/ is reached as latest/… too: listed under neither name, so
    // a second run with nothing changed writes the same manifest.
    let output = dir.join("v3/swcache-manifest.js");
    let runs: Vec<String> = (0..3)
        .map(|_| {
            let out = bin().arg(&dir).arg("--output").arg(&output).output().unwrap();
            assert!(out.status.success(), "{}", stderr(&out));
            fs::read_to_string(&output).unwrap()
        })
        .collect();
    let listed = runs[0].trim_start_matches("self.swcacheManifest = ").trim_end_matches(";\n");
    assert_eq!(urls(listed), ["/latest/app.js", "/latest/sw.src.js", "/v3/app.js", "/v3/sw.src.js"]);
    assert_eq!(runs[1], runs[0], "the same manifest each time");
    assert_eq!(runs[2], runs[0]);
    fs::remove_file(&output).unwrap();
    // The same for the worker an --inject rewrites in place.
    let sw = dir.join("v3/sw.src.js");
    let out = bin().arg(&dir).arg("--inject").arg(&sw).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let injected = fs::read_to_string(&sw).unwrap();
    assert!(injected.contains("/latest/app.js") && !injected.contains("sw.src.js"), "{injected}");
}

/// The engine's script (and any other the worker loads with importScripts) is kept by the
/// browser with the worker: listed, every install would download it a second time.
#[test]
fn the_scripts_the_worker_imports_are_not_listed() {
    let root = scratch("imports");
    let dir = root.join("dist");
    tree(
        &dir,
        &[
            ("index.html", "abc"),
            ("swcache/swcache-sw.js", "engine"),
            ("swcache/swcache-page.js", "page"),
            ("lib/extra.js", "x"),
        ],
    );
    let sw = dir.join("sw.js");
    fs::write(&sw, "importScripts('/swcache/swcache-sw.js', \"lib/extra.js?v=2\");\nimportScripts('https://cdn.example/x.js');\nswcache.start({ version: 'v1', precache: self.swcacheManifest });\n").unwrap();
    let out = run(&dir, &["--inject", sw.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let injected = fs::read_to_string(&sw).unwrap();
    let json = &injected[injected.find("precache: ").unwrap() + 10..injected.rfind(" });").unwrap()];
    assert_eq!(urls(json), ["/index.html", "/swcache/swcache-page.js"]);
    // Under --prefix, with the script written by --output from a source outside DIR.
    let src = root.join("sw.src.js");
    fs::write(&src, "importScripts('/static/swcache/swcache-sw.js', 'lib/extra.js');\nswcache.start({ version: 'v1', precache: self.swcacheManifest });\n").unwrap();
    let out =
        bin().arg(&dir).args(["--prefix", "/static/", "--inject"]).arg(&src).arg("--output").arg(&sw).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let injected = fs::read_to_string(&sw).unwrap();
    let json = &injected[injected.find("precache: ").unwrap() + 10..injected.rfind(" });").unwrap()];
    assert_eq!(urls(json), ["/static/index.html", "/static/swcache/swcache-page.js"]);
}

/// A file whose name is not UTF-8 has no URL: refused when listed, and left out like any
/// other when the globs do not list it (an --include that selects other files, or an
/// --exclude matching the name as printed).
#[cfg(target_os = "linux")]
#[test]
fn a_name_that_is_not_utf8_is_refused_only_when_listed() {
    use std::os::unix::ffi::OsStrExt;
    let dir = scratch("not-utf8");
    tree(&dir, &[("index.html", "abc"), ("img/logo.svg", "<svg/>")]);
    fs::write(dir.join(std::ffi::OsStr::from_bytes(b"notes-\xff.txt")), "latin-1").unwrap();
    let err = fails(&dir, &[], 1);
    assert!(err.contains("notes-\u{FFFD}.txt: the name is not UTF-8"), "{err}");
    assert_eq!(urls(&manifest(&dir, &["--include", "**/*.html"])), ["/index.html"]);
    assert_eq!(urls(&manifest(&dir, &["--exclude", "notes-*"])), ["/img/logo.svg", "/index.html"]);
    assert_eq!(urls(&manifest(&dir, &["--exclude", "**/*.txt"])), ["/img/logo.svg", "/index.html"]);
}

/// The Vite plugin passes each file Vite named with a hash as a `--hashed` glob of its
/// own: a large site's thousands of them are each looked up, not matched against every
/// file (9,000 over 9,001 files: 7 s before, 0.25 s after, measured; no test asserts a
/// time, so this one checks the result).
#[test]
fn thousands_of_hashed_file_names_each_name_their_file() {
    let dir = scratch("many-hashed");
    let mut args = Vec::new();
    for d in 0..10 {
        fs::create_dir_all(dir.join(format!("assets{d}"))).unwrap();
        for f in 0..900 {
            let name = format!("assets{d}/page{f}-Ab3dE{f:04}.js");
            fs::write(dir.join(&name), "x").unwrap();
            args.push("--hashed".to_string());
            args.push(name);
        }
    }
    tree(&dir, &[("index.html", "abc")]);
    let out = bin().arg(&dir).args(&args).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let e = entries(&stdout(&out));
    assert_eq!(e.len(), 9001);
    assert!(e.iter().all(|(u, r)| r.is_none() == (u != "/index.html")), "every named file is content-hashed");
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
    let _ = fs::remove_dir_all(&dir);
}

/// The same in a directory reached through a symlink: the globs see the name under the
/// link's path, as they see every other file there.
#[cfg(target_os = "linux")]
#[test]
fn a_name_that_is_not_utf8_in_a_linked_directory_is_judged_by_its_listed_path() {
    use std::os::unix::ffi::OsStrExt;
    let dir = scratch("not-utf8-linked");
    tree(&dir, &[("index.html", "abc"), ("shared/app.js", "x")]);
    fs::write(dir.join("shared").join(std::ffi::OsStr::from_bytes(b"notes-\xff.txt")), "latin-1").unwrap();
    std::os::unix::fs::symlink("shared", dir.join("assets")).unwrap();
    // Left out by an --exclude naming the link's directory: not refused.
    assert_eq!(
        urls(&manifest(&dir, &["--exclude", "shared/**", "--exclude", "assets/notes-*"])),
        ["/assets/app.js", "/index.html"]
    );
    // Listed by an --include naming the link's directory: refused, not silently left out.
    let err = fails(&dir, &["--include", "assets/**"], 1);
    assert!(err.contains("the name is not UTF-8"), "{err}");
}

/// What a terminal shows of `raw` output, line by line: a `\r` goes back to the start of
/// the line, and what follows writes over what was there (trailing blanks dropped).
fn screen(raw: &str) -> Vec<String> {
    let mut lines: Vec<String> = raw
        .split('\n')
        .map(|line| {
            let (mut cells, mut col) = (Vec::<char>::new(), 0);
            for c in line.chars() {
                if c == '\r' {
                    col = 0;
                    continue;
                }
                match cells.get_mut(col) {
                    Some(cell) => *cell = c,
                    None => cells.push(c),
                }
                col += 1;
            }
            cells.into_iter().collect::<String>().trim_end().to_string()
        })
        .collect();
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    lines
}

/// The command run in DIR under a pseudo-terminal (util-linux's `script`), stdout and
/// stderr both the terminal; with `after_ms`, progress shows after that long instead of a
/// second (SWCACHE_PROGRESS_AFTER_MS, there for this test).
fn on_terminal(dir: &Path, args: &[&str], after_ms: Option<&str>) -> String {
    let cmd = format!("'{}' . {}", env!("CARGO_BIN_EXE_swcache-manifest"), args.join(" "));
    let mut script = Command::new("script");
    script.args(["-qec", &cmd, "/dev/null"]).current_dir(dir).stdin(Stdio::null());
    script.env_remove("SWCACHE_PROGRESS_AFTER_MS");
    if let Some(ms) = after_ms {
        script.env("SWCACHE_PROGRESS_AFTER_MS", ms);
    }
    let out = script.output().expect("util-linux script");
    assert!(out.status.success(), "{cmd}: {}", stdout(&out));
    stdout(&out)
}

#[test]
fn a_long_run_shows_progress_on_a_terminal_only() {
    let dir = scratch("progress");
    for i in 0..20u8 {
        fs::write(dir.join(format!("media-{i:02}.bin")), vec![i; 100_000]).unwrap();
    }
    let summary = "swcache-manifest: 20 files, 2.0 MB, written to m.json";
    for args in [&["--output", "m.json", "--warn-size", "none"][..], &["--output", "m.json", "--warn-size", "1MB"]] {
        // Piped (CI logs, the tests comparing stderr): the warning and the summary only,
        // however long the run.
        let piped = bin().current_dir(&dir).arg(".").args(args).env("SWCACHE_PROGRESS_AFTER_MS", "0").output().unwrap();
        assert!(piped.status.success(), "{args:?}: {}", stderr(&piped));
        let err = stderr(&piped);
        let lines: Vec<String> = err.lines().map(String::from).collect();
        assert_eq!(lines.last().map(String::as_str), Some(summary), "{args:?}: {err:?}");
        assert_eq!(lines.len(), if args.contains(&"1MB") { 2 } else { 1 }, "{args:?}: {err:?}");
        assert!(!err.contains('\r') && !err.contains("hashing"), "{args:?}: no progress when piped: {err:?}");

        // On a terminal, a run past the threshold (here at once) shows the walk, then the
        // hashing, on one line rewritten in place...
        let raw = on_terminal(&dir, args, Some("0"));
        assert!(raw.contains("\rswcache-manifest: listing files: 1 so far…"), "{args:?}: {raw:?}");
        assert!(raw.contains("\rswcache-manifest: hashing 0 of 20 files (0 B of 2.0 MB)…"), "{args:?}: {raw:?}");
        // ...cleared before the warning and the summary: the terminal shows what a pipe gets,
        // the summary last (the hashing line is longer than the summary: not cleared, its
        // end would show after it).
        assert_eq!(screen(&raw), lines, "{args:?}: {raw:?}");

        // A run shorter than a second shows none.
        let raw = on_terminal(&dir, args, None);
        assert!(!raw.contains("swcache-manifest: hashing") && !raw.contains("listing"), "{args:?}: {raw:?}");
        assert_eq!(screen(&raw), lines, "{args:?}: {raw:?}");
    }
}

/// A file over --max-file-size is refused before anything is hashed: a build directory
/// with GBs of media must not be read through only to be refused.
#[test]
fn a_file_over_max_file_size_is_refused_before_hashing() {
    let dir = scratch("max-size-early");
    tree(&dir, &[("index.html", "abc")]);
    // Sparse: 4 GiB that take no disk, and seconds to read (refused by its listed size;
    // no test times it).
    fs::File::create(dir.join("video.mp4")).unwrap().set_len(4 << 30).unwrap();
    let err = fails(&dir, &["--max-file-size", "2MB"], 2);
    assert!(err.contains("1 file is bigger than --max-file-size 2.0 MB: video.mp4 (4.3 GB)"), "{err}");
}
