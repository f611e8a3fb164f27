//! The experiment front end through the real binary: `warmstart dag` in every format, a
//! 50 000-stage cycle, files that are not regular or too large, and where the project
//! file is (not) looked for.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const SMALL: &str = r#"
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
[stages.c]
kind = "echo"
inputs = [{ stage = "b", pick = { x = 2 } }]
value = "c"
[stages.d]
kind = "echo"
inputs = ["b"]
gather = ["x"]
value = "d"
"#;

#[test]
fn dag_prints_the_stage_and_instance_graphs_in_every_format() {
    let p = Project::new();
    p.write("e.toml", SMALL);
    for format in ["dot", "mermaid", "json"] {
        for instances in [false, true] {
            let mut args = vec!["dag", "e.toml", "--format", format];
            if instances {
                args.push("--instances");
            }
            let out = p.run(&args);
            assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
            let name = format!("dag_{format}{}", if instances { "_instances" } else { "" });
            insta::assert_snapshot!(name, stdout(&out));
        }
    }
    // The default format is DOT; no cache is created.
    let out = p.run(&["dag", "e.toml"]);
    assert!(stdout(&out).starts_with("digraph \"demo\" {"));
    assert!(!p.cache().exists());
}

#[test]
fn dag_of_an_invalid_experiment_is_the_usual_error() {
    let p = Project::new();
    p.write(
        "e.toml",
        "[experiment]\nname = \"x\"\n[stages.a]\nkind = \"echo\"\ninputs = [\"zz\"]\n",
    );
    let out = p.run(&["dag", "e.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unknown stage `zz`"),
        "{}",
        stderr(&out)
    );
}

/// A loop through 50 000 stages used to overflow the stack (exit 134). Now it is one
/// exit-2 error that names the loop compactly.
#[test]
fn a_fifty_thousand_stage_cycle_is_a_compact_error() {
    let p = Project::new();
    let n = 50_000;
    let mut text = String::from("[experiment]\nname = \"big\"\n");
    for i in 0..n {
        let prev = (i + n - 1) % n;
        text.push_str(&format!(
            "[stages.s{i}]\nkind = \"echo\"\ninputs = [\"s{prev}\"]\n"
        ));
    }
    p.write("big.toml", &text);
    let out = p.run(&["plan", "big.toml"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("the stage inputs form a cycle: s0 → s1 → s2"),
        "{err}"
    );
    assert!(err.contains("(50000 stages)"), "{err}");
    assert!(err.len() < 10_000, "not compact: {} bytes", err.len());
    assert!(!err.contains("s25000"), "{err}");
}

/// Run `warmstart plan PATH`, killing it after `limit` (a FIFO used to block forever).
fn plan_with_timeout(p: &Project, path: &str, limit: Duration) -> (Option<i32>, String) {
    let mut child = p
        .cmd(&["plan", path])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let out = child.wait_with_output().expect("output");
            return (status.code(), stderr(&out));
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`warmstart plan {path}` still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(unix)]
#[test]
fn a_fifo_or_a_device_is_refused_without_reading() {
    let p = Project::new();
    let fifo = p.path("fifo.toml");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let (code, err) = plan_with_timeout(&p, "fifo.toml", Duration::from_secs(30));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("fifo.toml: it is not a regular file"), "{err}");
    let (code, err) = plan_with_timeout(&p, "/dev/zero", Duration::from_secs(30));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("/dev/zero: it is not a regular file"), "{err}");
}

#[test]
fn files_over_the_limit_directories_and_non_utf8_say_what_they_are() {
    let p = Project::new();
    let big = std::fs::File::create(p.path("big.toml")).unwrap();
    big.set_len(64 * 1024 * 1024 + 1).unwrap();
    let out = p.run(&["plan", "big.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("larger than 64 MiB"),
        "{}",
        stderr(&out)
    );
    std::fs::create_dir(p.path("dir.toml")).unwrap();
    let out = p.run(&["plan", "dir.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("dir.toml: it is a directory"));
    std::fs::write(p.path("latin1.toml"), b"[experiment]\nname = \"caf\xe9\"\n").unwrap();
    let out = p.run(&["plan", "latin1.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not UTF-8 text (invalid byte at offset 24)"),
        "{}",
        stderr(&out)
    );
}

const OK_EXPERIMENT: &str = "[experiment]\nname = \"x\"\n[stages.a]\nkind = \"echo\"\nvalue = 1\n";

/// A broken project file above the enclosing git repository is not read.
#[test]
fn the_project_file_search_stops_at_the_git_root() {
    let p = Project::new();
    p.write("warmstart.toml", "[not-engines]\n");
    std::fs::create_dir_all(p.path("repo/.git")).unwrap();
    std::fs::create_dir_all(p.path("repo/exp")).unwrap();
    p.write("repo/exp/e.toml", OK_EXPERIMENT);
    let out = p.run(&["plan", "repo/exp/e.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Inside the repository it still applies (and `root = true` is accepted).
    p.write("repo/warmstart.toml", "root = true\n[not-engines]\n");
    let out = p.run(&["plan", "repo/exp/e.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown top-level key `not-engines` in warmstart.toml"));
}

/// A project file in a world-writable directory owned by someone else is refused. Needs
/// root to give the directory to another user; elsewhere the rule is unit-tested in
/// `warmstart-spec`'s project module.
#[cfg(unix)]
#[test]
fn a_project_file_planted_in_a_shared_directory_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let p = Project::new();
    let shared = p.path("shared");
    std::fs::create_dir(&shared).unwrap();
    p.write(
        "shared/warmstart.toml",
        "[engines.evil]\npath = \"evil.so\"\n",
    );
    p.write("shared/e.toml", OK_EXPERIMENT);
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let chown = Command::new("chown")
        .arg("65534")
        .arg(&shared)
        .stderr(Stdio::null())
        .status();
    if !chown.is_ok_and(|s| s.success()) {
        eprintln!("skipped: cannot give a directory to another user (not root)");
        return;
    }
    let out = p.run(&["plan", "shared/e.toml"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("cannot read project file"), "{err}");
    assert!(
        err.contains("writable by every user and owned by another user"),
        "{err}"
    );
}
