//! Every command's `--help` is in README.md verbatim, as one fenced code block, so the
//! README and the commands cannot drift apart. The commands are the crate's binaries
//! (`[[bin]]` in Cargo.toml and `src/bin/*.rs`), so a new one needs its block too, and the
//! npm package's commands (its `bin` entries: the same code built for WASI, run by Node),
//! from the package `./build.sh package` stages in target/package/swcache/. README.md is
//! read when the test runs.

use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The crate's binary names: `name = "…"` of each `[[bin]]` table, and `src/bin/*.rs`.
fn commands() -> Vec<String> {
    let toml = std::fs::read_to_string(Path::new(ROOT).join("Cargo.toml")).unwrap();
    let mut names: Vec<String> = Vec::new();
    for table in toml.split("[[bin]]").skip(1) {
        let table = table.split("\n[").next().unwrap_or("");
        let name = table.lines().find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == "name").then(|| v.trim().trim_matches('"').to_string())
        });
        names.extend(name);
    }
    if let Ok(dir) = std::fs::read_dir(Path::new(ROOT).join("src/bin")) {
        for entry in dir.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "rs") {
                names.push(path.file_stem().unwrap().to_string_lossy().into_owned());
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

/// Where cargo put the binaries it built for the integration tests.
fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_swcache-feed")).parent().unwrap().to_path_buf()
}

/// The contents of every fenced code block in `markdown` (``` or ~~~ fences).
fn fenced_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut open: Option<(String, Vec<&str>)> = None;
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        match &mut open {
            None => {
                if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
                    open = Some((trimmed[..3].to_string(), Vec::new()));
                }
            }
            Some((fence, body)) => {
                if trimmed.starts_with(fence.as_str()) && trimmed.trim_start_matches(&fence[..1]).trim().is_empty() {
                    let (_, body) = open.take().unwrap();
                    blocks.push(body.join("\n"));
                } else {
                    body.push(line);
                }
            }
        }
    }
    blocks
}

#[test]
fn every_command_help_is_in_the_readme_verbatim() {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap().replace("\r\n", "\n");
    let blocks = fenced_blocks(&readme);
    let commands = commands();
    assert!(commands.iter().any(|c| c == "swcache-feed"), "commands found: {commands:?}");
    for name in &commands {
        let exe = bin_dir().join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
        let out =
            Command::new(&exe).arg("--help").output().unwrap_or_else(|e| panic!("running {}: {e}", exe.display()));
        assert!(out.status.success(), "{name} --help exited with {}", out.status);
        assert!(out.stderr.is_empty(), "{name} --help wrote to stderr: {}", String::from_utf8_lossy(&out.stderr));
        let help = String::from_utf8(out.stdout).unwrap();
        let help = help.trim_end_matches('\n');
        assert!(
            blocks.iter().any(|b| b.trim_end_matches('\n') == help),
            "README.md has no fenced block that is exactly `{name} --help`; paste this into it:\n\n```text\n{help}\n```\n"
        );
    }
}

fn readme_blocks() -> Vec<String> {
    fenced_blocks(&std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap().replace("\r\n", "\n"))
}

#[test]
fn every_npm_command_help_is_in_the_readme_verbatim() {
    let staged = Path::new(ROOT).join("target/package/swcache");
    let pkg: serde_json::Value = match std::fs::read_to_string(staged.join("package.json")) {
        Ok(text) => serde_json::from_str(&text).unwrap(),
        Err(_) => serde_json::Value::Null,
    };
    let Some(bins) = pkg.get("bin").and_then(|b| b.as_object()) else {
        // Only before the first `./build.sh package` (which ./build.sh test runs first).
        eprintln!("skipped: no npm package staged with commands in {} (./build.sh package)", staged.display());
        return;
    };
    let names: Vec<&String> = bins.keys().collect();
    assert_eq!(names, commands().iter().collect::<Vec<_>>(), "every command is in the npm package too");
    let blocks = readme_blocks();
    for (name, file) in bins {
        let script = staged.join(file.as_str().unwrap());
        let out = Command::new("node").arg(&script).arg("--help").output().unwrap_or_else(|e| panic!("node: {e}"));
        assert!(out.status.success(), "npx {name} --help exited with {}", out.status);
        assert!(out.stderr.is_empty(), "npx {name} --help wrote to stderr: {}", String::from_utf8_lossy(&out.stderr));
        let help = String::from_utf8(out.stdout).unwrap();
        let help = help.trim_end_matches('\n');
        assert!(
            blocks.iter().any(|b| b.trim_end_matches('\n') == help),
            "README.md has no fenced block that is exactly `npx {name} --help`; paste this into it:\n\n```text\n{help}\n```\n"
        );
    }
}

#[test]
fn fenced_blocks_are_read_whole() {
    let md = "a\n```text\nx\n  y\n\n```\nb\n~~~\n```\n~~~\n";
    assert_eq!(fenced_blocks(md), vec!["x\n  y\n".to_string(), "```".to_string()]);
}
