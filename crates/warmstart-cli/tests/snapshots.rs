//! Snapshot tests of user-facing output: errors for malformed experiments (engine-schema
//! errors from `tests/malformed-plan/`, file-level errors from `tests/malformed/`) exactly as
//! the binary prints them, and the CLI's plain-text output.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .expect("workspace root")
}

/// Run `warmstart plan` on every file of a directory (relative paths, so snapshots do not
/// depend on the checkout location) and snapshot stderr + the exit code.
fn snapshot_dir(dir: &str) -> usize {
    let root = workspace_root();
    let mut files: Vec<_> = std::fs::read_dir(root.join(dir))
        .expect("malformed dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let cache = tempfile::tempdir().unwrap();
    for f in &files {
        let rel = f.strip_prefix(root).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_warmstart"))
            .arg("plan")
            .arg(rel)
            .arg("--cache")
            .arg(cache.path())
            .current_dir(root)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let name = format!(
            "{}__{}",
            dir.replace('/', "_"),
            f.file_stem().unwrap().to_string_lossy()
        );
        assert_eq!(
            out.status.code(),
            Some(2),
            "{}: must exit 2\n{}",
            rel.display(),
            stderr(&out)
        );
        let text = stderr(&out);
        assert!(!text.contains("panicked"), "{text}");
        insta::assert_snapshot!(name, format!("exit: 2\n{text}"));
    }
    files.len()
}

#[test]
fn engine_schema_errors() {
    assert!(snapshot_dir("tests/malformed-plan") >= 8);
}

#[test]
fn file_level_errors_through_the_binary() {
    assert!(snapshot_dir("tests/malformed") >= 30);
}

#[test]
fn fuzz_found_errors_through_the_binary() {
    // Inputs the fuzzer found (see tests/malformed-binary/README.md): each exits 2 with a
    // clear report, and within seconds, not minutes and gigabytes.
    let t0 = std::time::Instant::now();
    assert!(snapshot_dir("tests/malformed-binary") >= 2);
    assert!(t0.elapsed().as_secs() < 30, "took {:?}", t0.elapsed());
}

#[test]
fn missing_file_is_a_clear_error() {
    let p = Project::new();
    let out = p.run(&["run", "nope.toml"]);
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!(stderr(&out));
}

#[test]
fn plan_and_run_output() {
    let p = Project::new();
    p.write(
        "e.toml",
        r#"
[experiment]
name = "demo"
[sweep]
x = [1, 2]
[stages.a]
kind = "echo"
value = "a"
[stages.b]
kind = "echo"
inputs = ["a"]
value = "${x}"
"#,
    );
    let plan = p.run(&["plan", "e.toml"]);
    insta::assert_snapshot!("plan_cold", stdout(&plan));
    // Durations vary: mask the ms column.
    let run = p.run(&["run", "e.toml", "-j", "1"]);
    let text: String = stdout(&run)
        .lines()
        .map(|l| {
            let mut words: Vec<&str> = l.split_whitespace().collect();
            if words.len() >= 4 && words[3] == "ms" {
                words[2] = "N";
            }
            if let Some(pos) = words.iter().position(|w| *w == "s)")
                && pos > 0
            {
                words[pos - 1] = "(T";
            }
            words.join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!("run_cold", text);
    let why = p.run(&["why", "e.toml", "b", "--at", "x=2"]);
    // How long the stage took varies with load: mask it.
    let why: String = stdout(&why)
        .lines()
        .map(|l| match (l.find("ran in "), l.rfind(" ms)")) {
            (Some(a), Some(b)) if a + 7 <= b => format!("{}ran in N{}", &l[..a], &l[b..]),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!("why_b_x2", why);
    let show = p.run(&["show", "e.toml", "b", "--at", "x=1"]);
    insta::assert_snapshot!("show_b_x1", stdout(&show));
}
