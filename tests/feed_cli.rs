//! The real `swcache-feed` command: concurrent publishers lose no entry, bad input
//! changes nothing, and what it writes is a feed workers accept.

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_swcache-feed"))
}

/// `swcache-feed add --keep <keep> --feed <feed> --url <url>`, run to the end.
fn add_kept(feed: &Path, keep: &str, url: &str) -> std::process::Output {
    bin().args(["add", "--keep", keep, "--feed"]).arg(feed).args(["--url", url]).output().unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("swcache-feed-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("swcache-feed.json")
}

#[test]
fn concurrent_publishers_lose_no_entry() {
    let feed = scratch("concurrent");
    let children: Vec<_> = (0..24)
        .map(|i| bin().args(["add", "--feed"]).arg(&feed).args(["--url", &format!("/promo/p{i}")]).spawn().unwrap())
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let text = std::fs::read_to_string(&feed).unwrap();
    let f = swcache::policy::feed::parse(&text).unwrap();
    assert_eq!(f.seq, 24);
    assert_eq!(f.entries.len(), 24);
    for i in 0..24 {
        assert!(text.contains(&format!("\"/promo/p{i}\"")), "entry {i} lost");
    }
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let feed = scratch("bad");
    assert!(bin().args(["add", "--feed"]).arg(&feed).args(["--tag", "price-7"]).status().unwrap().success());
    let before = std::fs::read_to_string(&feed).unwrap();
    for args in [
        vec!["add", "--url", "https://cdn.example/a"],
        vec!["add", "--prefix", "promo"],
        vec!["add", "--tag", "a,b"],
        vec!["add", "--timestamp", "2999-01-01T00:00:00Z", "--all"],
        vec!["add", "--timestamp", "yesterday", "--all"],
        vec!["add"],
        vec!["frobnicate"],
    ] {
        let out = bin().args(&args).arg("--feed").arg(&feed).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).starts_with("swcache-feed: "), "{args:?}: a clear error");
    }
    assert_eq!(std::fs::read_to_string(&feed).unwrap(), before);
    std::fs::write(&feed, "{ not json").unwrap();
    let out = bin().args(["add", "--all", "--feed"]).arg(&feed).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not JSON"));
    assert_eq!(std::fs::read_to_string(&feed).unwrap(), "{ not json", "a broken feed is not overwritten");
}

#[test]
fn compact_and_show() {
    let feed = scratch("compact");
    for i in 0..30 {
        assert!(add_kept(&feed, "10", &format!("/p/{i}")).status.success());
    }
    let f = swcache::policy::feed::parse(&std::fs::read_to_string(&feed).unwrap()).unwrap();
    assert_eq!((f.seq, f.entries.len(), f.baseline.as_ref().map(|b| b.seq)), (30, 10, Some(20)));
    let out = bin().args(["compact", "--keep", "3", "--feed"]).arg(&feed).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("compacted 7 entries; 3 left, baseline seq 27"));
    let out = bin().args(["show", "--feed"]).arg(&feed).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("seq 30 entries 3") && text.contains("baseline seq 27"), "{text}");
    let help = bin().arg("--help").output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("USAGE:"));
}

#[test]
fn a_large_keep_never_writes_a_feed_workers_refuse() {
    use swcache::policy::feed::{self, Feed, MAX_ENTRIES};
    use swcache::policy::value::Value;
    let path = scratch("large-keep");
    // A feed kept with --keep 10000: as many small entries as workers accept.
    let mut f = Feed { epoch: "e1".into(), seq: 0, baseline: None, entries: vec![] };
    for i in 0..MAX_ENTRIES {
        feed::add(&mut f, vec![("tags".into(), Value::Arr(vec![Value::Str(format!("t{i}"))]))], 1_795_000_000_000.0);
    }
    std::fs::write(&path, feed::write(&f)).unwrap();
    feed::parse(&std::fs::read_to_string(&path).unwrap()).expect("workers accept it");
    let out = bin().args(["add", "--keep", "10000", "--tag", "one-more", "--feed"]).arg(&path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.len() < feed::KEEP_BYTES, "{} bytes", text.len());
    let f = feed::parse(&text).expect("what the command wrote, workers accept");
    assert_eq!(f.seq, MAX_ENTRIES as u64 + 1);
    assert!(f.entries.iter().any(|e| feed::entry_json(e).contains("one-more")));
}

#[test]
fn a_feed_workers_refuse_is_not_published_to() {
    let feed = scratch("refused");
    // Hand-edited: entry 2's prefix lacks its leading slash. The document is well-formed,
    // but every worker refuses the whole feed for it (so every entry after it too).
    let text = concat!(
        "{\"swcacheFeed\":1,\"epoch\":\"e1\",\"seq\":2,\"entries\":[\n",
        "{\"seq\":1,\"timestamp\":\"2026-01-01T00:00:00.000Z\",\"urls\":[\"/a\"]},\n",
        "{\"seq\":2,\"timestamp\":\"2026-01-01T00:00:01.000Z\",\"prefixes\":[\"promo/\"]}\n",
        "]}\n"
    );
    std::fs::write(&feed, text).unwrap();
    let out = bin().args(["add", "--url", "/b", "--feed"]).arg(&feed).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stdout {}", String::from_utf8_lossy(&out.stdout));
    assert!(err.contains("entry 2") && err.contains("prefixes[0]"), "{err}");
    assert_eq!(std::fs::read_to_string(&feed).unwrap(), text, "nothing is added to it");
    let out = bin().args(["show", "--feed"]).arg(&feed).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "show says so too");
}

#[test]
fn compact_of_a_misspelt_feed_creates_none() {
    let feed = scratch("misspelt");
    assert!(bin().args(["add", "--url", "/a", "--feed"]).arg(&feed).status().unwrap().success());
    let wrong = feed.with_file_name("swcache-fed.json");
    let out = bin().args(["compact", "--feed"]).arg(&wrong).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stdout {}", String::from_utf8_lossy(&out.stdout));
    assert!(err.contains("swcache-fed.json: no such feed"), "{err}");
    assert!(!wrong.exists(), "no empty feed is made where none was");
}

#[test]
fn a_missing_directory_is_named_by_the_feed() {
    let feed = scratch("nodir").with_file_name("nosuchdir").join("feed.json");
    for args in [&["init"][..], &["add", "--all"]] {
        let out = bin().args(args).arg("--feed").arg(&feed).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(&format!("{}: No such file or directory", feed.display())), "{args:?}: {err}");
    }
}

#[test]
fn a_publisher_waiting_for_another_writers_mark_says_so() {
    let feed = scratch("waiting");
    assert!(bin().args(["init", "--feed"]).arg(&feed).status().unwrap().success());
    // The npm command's mark, left by a writer killed 8.5 s ago: taken over at 10 s.
    let mark = feed.with_extension("writer");
    std::fs::write(&mark, "wasi 1\n").unwrap();
    let aged = std::time::SystemTime::now() - std::time::Duration::from_millis(8_500);
    std::fs::File::options().write(true).open(&mark).unwrap().set_modified(aged).unwrap();
    let start = std::time::Instant::now();
    let out = bin().args(["add", "--url", "/a", "--feed"]).arg(&feed).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(start.elapsed() >= std::time::Duration::from_secs(1), "it waited for the mark");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains("waiting for") && err.contains("swcache-feed.writer") && err.contains("wasi 1"), "{err}");
    let most = err.split("at most ").nth(1).and_then(|t| t.split(' ').next()).and_then(|n| n.parse::<u64>().ok());
    assert!(most.is_some_and(|n| n <= 2), "how long at most: {err}");
}

#[test]
fn a_relative_feed_is_named_by_its_absolute_path() {
    // A CMS that runs `add` from the site's directory, with the default store: the file it
    // writes is the working directory's, and the command says which.
    let dir = scratch("relative").parent().unwrap().canonicalize().unwrap();
    let file = dir.join("swcache-feed.json");
    let note = format!(
        "swcache-feed: file:swcache-feed.json is {} (a relative path is from the working directory)\n",
        file.display()
    );
    let run = |args: &[&str]| bin().args(args).current_dir(&dir).output().unwrap();
    let out = run(&["init"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let init = String::from_utf8_lossy(&out.stdout);
    assert!(init.starts_with(&format!("feed file:{}: ", file.display())), "init names the absolute path: {init}");
    for args in [&["add", "--url", "/a"][..], &["show"], &["compact"]] {
        let out = run(args);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stderr), note, "{args:?}");
    }
    assert_eq!(String::from_utf8_lossy(&run(&["add", "--all"]).stdout), "2\n", "stdout stays the seq alone");
    // An absolute path needs no note.
    let out = bin().args(["add", "--all", "--feed"]).arg(&file).output().unwrap();
    assert!(out.status.success() && out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_server_without_a_scheme_is_refused_saying_so() {
    let feed = scratch("scheme");
    let token = feed.with_file_name("token.txt");
    std::fs::write(&token, "0123456789abcdef-token\n").unwrap();
    for server in ["feed.internal:8787", "127.0.0.1:8787", "ftp://feed.internal"] {
        let out = bin().args(["add", "--url", "/a", "--server", server, "--token-file"]).arg(&token).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{server}: {err}");
        assert!(err.contains("--server needs http:// or https://") && err.contains(server), "{server}: {err}");
    }
}

#[test]
fn a_publisher_gives_up_on_a_lock_a_stuck_process_holds_saying_so() {
    let feed = scratch("stuck");
    assert!(bin().args(["init", "--feed"]).arg(&feed).status().unwrap().success());
    // A stuck writer: it holds the lock and never lets go.
    let lock =
        std::fs::File::options().create(true).truncate(false).write(true).open(feed.with_extension("lock")).unwrap();
    lock.lock().unwrap();
    let start = std::time::Instant::now();
    let mut child =
        bin().args(["add", "--url", "/a", "--feed"]).arg(&feed).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > std::time::Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("add still waits for the lock after 20 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("swcache-feed.lock") && err.contains("held"), "{err}");
    drop(lock);
    let out = bin().args(["add", "--url", "/b", "--feed"]).arg(&feed).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "1\n",
        "nothing was published: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A web server serving the feed file itself (nginx, Apache) derives its `ETag` and
/// `Last-Modified` from the file's whole-second mtime and size: a compacted feed of like
/// entries keeps its size, so two publishes within one second would share them, and a
/// worker that checked in between would be answered 304 until the next publish. Each
/// version of the file is modified in a later second than the one before.
#[test]
fn each_version_of_the_feed_file_has_its_own_whole_second() {
    use std::time::UNIX_EPOCH;
    let feed = scratch("seconds");
    let second = || {
        let m = std::fs::metadata(&feed).unwrap().modified().unwrap();
        m.duration_since(UNIX_EPOCH).unwrap().as_secs()
    };
    let mut seen = Vec::new();
    // Like entries under --keep 2: from the third publish on, every version has one size.
    for i in 0..5 {
        let out = add_kept(&feed, "2", &format!("/p/{i}"));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        seen.push((std::fs::metadata(&feed).unwrap().len(), second()));
    }
    assert_eq!(seen[2].0, seen[4].0, "like entries: one size ({seen:?})");
    assert!(seen.windows(2).all(|w| w[1].1 > w[0].1), "each version in a later second: {seen:?}");
}

/// The service and a CMS running as two users share a feed in a directory both may write
/// (the README's one-machine deployment): the lock file the first writer created (mode
/// 0644 under the usual umask: the other user may read it, not write it) must not lock
/// the other out.
#[test]
fn a_publisher_running_as_another_user_is_not_locked_out_by_the_lock_file() {
    use std::os::unix::fs::PermissionsExt;
    let feed = scratch("other-user");
    let dir = feed.parent().unwrap();
    assert!(bin().args(["add", "--feed"]).arg(&feed).args(["--url", "/first"]).status().unwrap().success());
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let lock = dir.join("swcache-feed.lock");
    assert!(lock.exists());
    let root = Command::new("id").arg("-u").output().unwrap().stdout.starts_with(b"0\n");
    let mut other = if root {
        // Another user (nobody): the lock file is root's, mode 0644.
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", env!("CARGO_BIN_EXE_swcache-feed")]);
        c
    } else {
        // This user, kept from writing the lock file as another user would be.
        std::fs::set_permissions(&lock, std::fs::Permissions::from_mode(0o444)).unwrap();
        bin()
    };
    let out = other.args(["add", "--feed"]).arg(&feed).args(["--url", "/second"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let f = swcache::policy::feed::parse(&std::fs::read_to_string(&feed).unwrap()).unwrap();
    assert_eq!(f.seq, 2);
}

/// A feed file linked into the site (a deploy's shared file, linked into each release, as
/// Capistrano's `linked_files` and Deployer's `shared_files` do): a publish through the
/// link must write the shared file, not replace the link with a copy of its own, and a
/// writer naming the shared file must take the same lock.
#[test]
fn a_publish_through_a_symlinked_feed_writes_the_linked_file() {
    let shared = scratch("symlink");
    let release = shared.parent().unwrap().join("release");
    std::fs::create_dir_all(&release).unwrap();
    let link = release.join("swcache-feed.json");
    std::os::unix::fs::symlink(&shared, &link).unwrap();
    assert!(bin().args(["init", "--feed"]).arg(&shared).status().unwrap().success());
    let out = bin().args(["add", "--feed"]).arg(&link).args(["--url", "/via-link"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link was replaced by a file");
    let out = bin().args(["add", "--feed"]).arg(&shared).args(["--url", "/direct"]).output().unwrap();
    assert!(out.status.success());
    let f = swcache::policy::feed::parse(&std::fs::read_to_string(&link).unwrap()).unwrap();
    assert_eq!((f.seq, f.entries.len()), (2, 2), "both publishes are in the one feed");
    assert!(!release.join("swcache-feed.lock").exists(), "the lock is beside the linked file");
}

/// A publish keeps the feed file's mode: a site owner who made it readable by the web
/// server (chmod 644 under a CMS whose umask is 077) must not lose that at each publish.
#[test]
fn a_publish_keeps_the_feed_files_mode() {
    use std::os::unix::fs::PermissionsExt;
    let feed = scratch("mode");
    assert!(bin().args(["init", "--feed"]).arg(&feed).status().unwrap().success());
    std::fs::set_permissions(&feed, std::fs::Permissions::from_mode(0o640)).unwrap();
    assert!(bin().args(["add", "--feed"]).arg(&feed).args(["--url", "/a"]).status().unwrap().success());
    assert_eq!(std::fs::metadata(&feed).unwrap().permissions().mode() & 0o777, 0o640);
}

/// A mode kept without its group: a feed made readable by the web server's group (0640,
/// group www-data), published by a CMS user in that group, became the CMS user's group,
/// still 0640, and the web server could no longer read it (the umask's 0644 before).
#[test]
fn a_publish_keeps_the_feed_files_group() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let feed = scratch("group");
    assert!(bin().args(["init", "--feed"]).arg(&feed).status().unwrap().success());
    let dir = feed.parent().unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::set_permissions(&feed, std::fs::Permissions::from_mode(0o660)).unwrap();
    let root = Command::new("id").arg("-u").output().unwrap().stdout.starts_with(b"0\n");
    if !root {
        return; // (giving a file another group needs root here)
    }
    // The web server's group (4242); the CMS runs as nobody, in that group too.
    std::os::unix::fs::chown(&feed, None, Some(4242)).unwrap();
    let mut cms = Command::new("setpriv");
    cms.args(["--reuid=65534", "--regid=65534", "--groups=4242", env!("CARGO_BIN_EXE_swcache-feed")]);
    let out = cms.args(["add", "--feed"]).arg(&feed).args(["--url", "/a"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let m = std::fs::metadata(&feed).unwrap();
    assert_eq!((m.mode() & 0o777, m.gid()), (0o660, 4242), "readable by the group it was given");
}

/// A feed in a directory the publisher may not write: the error says so, rather than
/// calling the feed (which is there) missing.
#[test]
fn a_directory_the_publisher_cannot_write_is_said_so() {
    use std::os::unix::fs::PermissionsExt;
    let feed = scratch("readonly-dir");
    let dir = feed.parent().unwrap();
    assert!(bin().args(["init", "--feed"]).arg(&feed).status().unwrap().success());
    std::fs::remove_file(dir.join("swcache-feed.lock")).unwrap();
    std::fs::set_permissions(&feed, std::fs::Permissions::from_mode(0o666)).unwrap();
    let root = Command::new("id").arg("-u").output().unwrap().stdout.starts_with(b"0\n");
    let mut cmd = if root {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", env!("CARGO_BIN_EXE_swcache-feed")]);
        c
    } else {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).unwrap();
        bin()
    };
    let out = cmd.args(["add", "--feed"]).arg(&feed).args(["--url", "/a"]).output().unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("No such file or directory"), "{err}");
    assert!(err.contains("Permission denied"), "{err}");
}

/// A `--server` that redirects (http:// to https://, another host): the publish is not
/// sent on as a GET or without its token; the command names where it was sent.
#[test]
fn a_server_that_redirects_is_named_not_followed() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = std::thread::spawn(move || {
        let mut seen = 0;
        listener.set_nonblocking(false).unwrap();
        for stream in listener.incoming().take(1) {
            let mut s = stream.unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            seen += 1;
            let _ = s.write_all(
                format!("HTTP/1.1 301 Moved Permanently\r\nLocation: http://localhost:{port}/v1/entries\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .as_bytes(),
            );
        }
        seen
    });
    let dir = scratch("redirect");
    let token = dir.with_file_name("token.txt");
    std::fs::write(&token, "0123456789abcdef0123\n").unwrap();
    let out = bin()
        .args(["add", "--server", &format!("http://127.0.0.1:{port}"), "--token-file"])
        .arg(&token)
        .args(["--url", "/a"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("301") && err.contains(&format!("http://localhost:{port}/v1/entries")), "{err}");
    assert_eq!(requests.join().unwrap(), 1);
}

/// An idempotency key names a publish to one feed: once the feed is recreated (a new
/// epoch), a publish with a key the old feed saw is published, not answered with a seq
/// the new feed never had.
#[test]
fn a_key_the_old_feed_saw_publishes_to_a_recreated_feed() {
    let feed = scratch("key-new-epoch");
    let add = |url: &str| {
        let out = bin()
            .args(["add", "--feed"])
            .arg(&feed)
            .args(["--url", url, "--idempotency-key", "cms-42"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(add("/old"), "1\n");
    assert_eq!(add("/old"), "1\n", "a retry publishes once");
    std::fs::remove_file(&feed).unwrap();
    assert!(bin().args(["init", "--feed"]).arg(&feed).status().unwrap().success());
    assert_eq!(add("/new"), "1\n");
    let f = swcache::policy::feed::parse(&std::fs::read_to_string(&feed).unwrap()).unwrap();
    assert_eq!((f.seq, f.entries.len()), (1, 1), "the publish is in the recreated feed");
}

/// A --store that names no store is a bad argument (exit 2, as the help says), not a feed
/// that could not be read (exit 1, which a CMS may retry).
#[test]
fn a_store_url_that_names_no_store_is_a_bad_argument() {
    for store in ["file:///srv/site/swcache-feed.json", "https://www.example.com/swcache-feed.json", "file:"] {
        let out = bin().args(["add", "--store", store, "--url", "/a"]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{store}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

/// A feed path that names a directory is said to be one, and nothing is made beside it:
/// the writer's lock was `DIR.lock` in the parent, then the read failed with "Is a
/// directory".
#[test]
fn a_feed_path_naming_a_directory_is_said_so_and_nothing_is_made() {
    let parent = scratch("dir").parent().unwrap().to_path_buf();
    let dir = parent.join("feeds");
    std::fs::create_dir(&dir).unwrap();
    for (feed, code) in [(format!("{}/", dir.display()), 2), (dir.display().to_string(), 1)] {
        for cmd in [&["add", "--url", "/a"][..], &["init"], &["compact"], &["show"]] {
            let out = bin().args(cmd).args(["--feed", &feed]).output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(code), "{cmd:?} --feed {feed}: {err}");
            assert!(err.contains("is a directory: a file store is one file"), "{cmd:?} --feed {feed}: {err}");
        }
    }
    let mut made: Vec<_> = std::fs::read_dir(&parent).unwrap().map(|e| e.unwrap().file_name()).collect();
    made.sort();
    assert_eq!(made, ["feeds"]);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
}

/// A `redis://` URL whose port an HTTP server answers on is told as such: the client's own
/// error was "Incompatible type - Parse error at 1" and two lines of byte values.
#[test]
fn a_redis_url_at_a_port_another_service_answers_is_said_so() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut c in listener.incoming().flatten() {
            let mut buf = [0u8; 512];
            let _ = c.read(&mut buf);
            let _ = c.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n<html>");
        }
    });
    let out = bin().args(["add", "--store", &format!("redis://127.0.0.1:{port}/0"), "--url", "/a"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("does not speak Redis's protocol (another service on that port?"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// `show` piped into a reader that stops early (`swcache-feed show | head -1`) ends quietly:
/// `println!` panicked on the closed pipe, with a backtrace and exit 101.
#[test]
fn show_into_a_reader_that_stops_early_ends_quietly() {
    use std::io::Read;
    let feed = scratch("show-pipe");
    let long = "x".repeat(150);
    let entries: Vec<String> = (1..=1000)
        .map(|i| format!(r#"{{"seq":{i},"timestamp":"2026-01-01T00:00:00.000Z","urls":["/{long}/{i}"]}}"#))
        .collect();
    let text =
        format!("{{\"swcacheFeed\":1,\"epoch\":\"e1\",\"seq\":1000,\"entries\":[\n{}\n]}}\n", entries.join(",\n"));
    std::fs::write(&feed, text).unwrap();
    let mut child = bin()
        .args(["show", "--feed"])
        .arg(&feed)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 5];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // (The pipe is closed here, with ~170 KB still to write.)
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(&first, b"epoch");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(status.code(), Some(0), "{err}");
}

/// `show` into a full disk (`show > /dev/full`, or a backup that fills it) fails: only a
/// reader that stops early (a closed pipe) ends the listing quietly.
#[cfg(target_os = "linux")]
#[test]
fn show_into_a_full_disk_fails() {
    let feed = scratch("show-full");
    assert!(add_kept(&feed, "10", "/a").status.success());
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let out = bin().args(["show", "--feed"]).arg(&feed).stdout(full).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "exit 0 with nothing written: {err}");
    assert!(err.contains("No space left on device"), "{err}");
}
