//! What the commands and the feed service share (not in the engine's wasm builds; in the
//! commands' WASI build, which the npm package runs with node:wasi): atomic, durable file
//! writes, JSON strings, I/O error texts, and the start of a WASI command.

use std::ffi::OsString;
use std::fmt;
use std::fs::{self, File, Permissions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// A failed [`write_atomic`]: the file it was writing (the target, or its directory when
/// only syncing that failed) and the error.
#[derive(Debug)]
pub struct WriteError {
    pub path: PathBuf,
    pub error: io::Error,
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), io_text(&self.error))
    }
}

impl std::error::Error for WriteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// Writes `bytes` to `path` atomically and durably: a temporary file beside it
/// ([`temp_path`], given `perms` if any), synced, renamed over `path`, then the directory
/// synced. A reader sees the old file or the new one, never half of one; once this returns
/// `Ok` the new file survives a crash. On an error before the rename the temporary file is
/// removed and `path` is left as it was; the error names `path`, what the caller asked
/// for (a missing directory reads `out/sw.js: No such file or directory`, not the name of
/// a hidden file the caller never heard of). (WASI cannot set permissions: there `perms` is
/// not applied, and the file gets the default mode.) A symlink at `path` is followed
/// ([`resolve_links`]): its target is what is replaced, and the link stays.
pub fn write_atomic(path: &Path, bytes: &[u8], perms: Option<Permissions>) -> Result<(), WriteError> {
    write_atomic_at(path, bytes, perms, None, None)
}

/// The file `path` names, symlinks followed (at most 40, as the kernel does): what an
/// atomic write replaces, so a linked file (a deploy's shared feed, a site's `sw.js` linked
/// into each release) is written where it is, not replaced by a plain file beside the link.
pub fn resolve_links(path: &Path) -> PathBuf {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match fs::read_link(&p) {
            Ok(target) => p = p.parent().map_or_else(|| target.clone(), |dir| dir.join(&target)),
            Err(_) => break,
        }
    }
    p
}

/// [`write_atomic`], the new file's modification time set to `modified` (if given) before
/// it takes `path`'s place, so no reader ever sees it with another; and its group set to
/// `group` (Unix; where the writer may give it that group), as the file it replaces had.
pub fn write_atomic_at(
    path: &Path,
    bytes: &[u8],
    perms: Option<Permissions>,
    modified: Option<SystemTime>,
    group: Option<u32>,
) -> Result<(), WriteError> {
    let target = &resolve_links(path);
    let dir = target.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or_else(|| Path::new("."));
    let tmp = temp_path(target);
    let fail = |path: &Path| {
        let path = path.to_path_buf();
        move |error| WriteError { path, error }
    };
    let written = File::create(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        // (Before the mode: a change of group may clear set-group-ID.) A group the writer is
        // not in cannot be given: the file gets the writer's own, as any new file would.
        #[cfg(unix)]
        if let Some(g) = group {
            let _ = std::os::unix::fs::fchown(&f, None, Some(g));
        }
        #[cfg(not(unix))]
        let _ = group;
        if let Some(p) = perms.filter(|_| cfg!(not(target_os = "wasi"))) {
            f.set_permissions(p)?;
        }
        if let Some(t) = modified {
            f.set_modified(t)?;
        }
        f.sync_all()
    });
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(fail(path)(e));
    }
    if let Err(e) = fs::rename(&tmp, target) {
        let _ = fs::remove_file(&tmp);
        return Err(fail(path)(e));
    }
    sync_dir(dir).map_err(fail(dir))
}

/// Makes a rename in `dir` durable. Windows cannot: a directory opens only with
/// `FILE_FLAG_BACKUP_SEMANTICS`, which `File::open` does not pass (`Access is denied`), and
/// `FlushFileBuffers` needs a writable handle; NTFS journals the rename itself. Under WASI the
/// host may be Windows (Node's WASI, `npx swcache-manifest`): a refusal there is not an error
/// either. Failing here would report a write that happened as one that did not.
fn sync_dir(dir: &Path) -> io::Result<()> {
    if cfg!(windows) {
        return Ok(());
    }
    match File::open(dir).and_then(|d| d.sync_all()) {
        Err(e) if cfg!(target_os = "wasi") && e.kind() == io::ErrorKind::PermissionDenied => Ok(()),
        r => r,
    }
}

/// A temporary file's path beside `path`: `.NAME.TAG.tmp`, TAG this process's
/// [`process_tag`].
pub fn temp_path(path: &Path) -> PathBuf {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or_else(|| Path::new("."));
    let mut name = OsString::from(".");
    name.push(path.file_name().unwrap_or_else(|| "file".as_ref()));
    name.push(format!(".{}.tmp", process_tag()));
    dir.join(name)
}

/// What tells this process's temporary files and feed epochs apart from another's: the
/// process id; under WASI, which has none, a random number drawn once.
pub fn process_tag() -> u64 {
    #[cfg(not(target_os = "wasi"))]
    return u64::from(std::process::id());
    #[cfg(target_os = "wasi")]
    {
        use std::hash::BuildHasher;
        static TAG: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        // RandomState's keys come from the host's random_get.
        *TAG.get_or_init(|| std::collections::hash_map::RandomState::new().hash_one(0u8) & 0xffff_ffff)
    }
}

/// An I/O error as the commands print it: the system's description without its number
/// (`No such file or directory`), which differs between platforms and WASI.
pub fn io_text(e: &io::Error) -> String {
    let text = e.to_string();
    match (e.raw_os_error(), text.rfind(" (os error ")) {
        (Some(_), Some(at)) if text.ends_with(')') => text[..at].to_string(),
        _ => text,
    }
}

/// The start of a command built for WASI: node:wasi gives the module no working
/// directory, so the npm package's launcher passes its own as `PWD` (with `/` preopened)
/// and relative paths resolve as they would natively. Does nothing natively.
pub fn wasi_start() {
    #[cfg(target_os = "wasi")]
    if let Some(dir) = std::env::var_os("PWD") {
        let _ = std::env::set_current_dir(dir);
    }
}

/// Appends `s` as a JSON string (serde_json's escaping).
pub fn push_json_str(out: &mut String, s: &str) {
    out.push_str(&serde_json::to_string(s).expect("a string always serializes"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_without_their_number() {
        let e = io::Error::from_raw_os_error(2);
        assert!(e.to_string().contains("(os error 2)"));
        assert_eq!(io_text(&e), "No such file or directory");
        assert_eq!(io_text(&io::Error::other("not JSON (line 1)")), "not JSON (line 1)");
    }

    #[test]
    fn json_strings() {
        let mut out = String::new();
        push_json_str(&mut out, "a\"b\\c\nd\u{1}é/");
        assert_eq!(out, r#""a\"b\\c\nd\u0001é/""#);
    }

    #[test]
    fn writes_atomically_and_cleans_up() {
        let dir = std::env::temp_dir().join(format!("swcache-native-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let target = dir.join("out.json");
        write_atomic(&target, b"one", None).unwrap();
        write_atomic(&target, b"two", None).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            write_atomic(&target, b"three", Some(Permissions::from_mode(0o751))).unwrap();
            assert_eq!(fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o751);
        }
        // A missing directory: the error names the target, nothing is left.
        let err = write_atomic(&dir.join("no/such/out.json"), b"x", None).unwrap_err();
        assert_eq!(err.error.kind(), io::ErrorKind::NotFound);
        assert_eq!(err.path, dir.join("no/such/out.json"), "{err}");
        // A directory in the way of the rename: the error names the target, the temporary file is removed.
        fs::create_dir_all(dir.join("taken/inside")).unwrap();
        let err = write_atomic(&dir.join("taken"), b"x", None).unwrap_err();
        assert_eq!(err.path, dir.join("taken"), "{err}");
        let names: Vec<_> =
            fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
        let _ = fs::remove_dir_all(&dir);
    }
}
