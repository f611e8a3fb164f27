//! Hostile inputs at the edges, through the real binary: truncated plugin files, output
//! that cannot be written (a full disk, a closed pipe), exported names that try to leave
//! `--out`, and absurd `--jobs`. Each of these once crashed, hung or wrote where it must
//! not (issue 10, items 2, 3, 6 and 7).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::*;

const EXP: &str = r#"
[experiment]
name = "edges"
[sweep]
x = [1, 2]
[stages.a]
kind = "echo"
value = "A"
[stages.b]
kind = "echo"
inputs = ["a"]
value = "${x}"
"#;

/// The C library this test process runs with: a complete shared library to truncate.
fn libc_path() -> PathBuf {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("/proc/self/maps");
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| p.contains("/libc.so") || p.contains("/libc-"))
        .map(PathBuf::from)
        .expect("libc mapped into the test process")
}

/// Not killed by a signal, not a Rust panic.
fn assert_clean_exit(out: &Output, what: &str) {
    let err = stderr(out);
    assert!(
        out.status.code().is_some(),
        "{what}: killed by a signal: {:?}\n{err}",
        out.status
    );
    assert_ne!(out.status.code(), Some(101), "{what}: panicked\n{err}");
    assert!(!err.contains("panicked"), "{what}: {err}");
}

#[test]
fn a_truncated_plugin_is_refused_before_it_is_loaded() {
    let p = Project::new();
    let lib = std::fs::read(libc_path()).unwrap();
    std::fs::create_dir(p.path("sub")).unwrap();
    std::fs::write(p.path("sub/t.so"), &lib[..5000]).unwrap();
    std::fs::write(p.path("t.so"), &lib[..5000]).unwrap();
    // A bare name is the file in the current directory, not a library-path search.
    for path in ["./t.so", "t.so", "sub/t.so"] {
        let check = p.run(&["plugins", "check", path]);
        assert_clean_exit(&check, "plugins check");
        assert_eq!(check.status.code(), Some(2), "{}", stderr(&check));
        let err = stderr(&check);
        assert!(
            err.contains("not a complete shared library"),
            "{path}: {err}"
        );
        assert!(err.contains(path), "{err}");
    }

    p.write(
        "sub/e.toml",
        "[experiment]\nname = \"x\"\n\n[engines.mine]\npath = \"t.so\"\n\n[stages.a]\nkind = \"echo\"\nvalue = 1\n",
    );
    for cmd in ["plan", "run"] {
        let out = p.run(&[cmd, "sub/e.toml"]);
        assert_clean_exit(&out, cmd);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("sub/e.toml:5:8"), "{cmd}: {err}");
        assert!(
            err.contains("not a complete shared library"),
            "{cmd}: {err}"
        );
    }
}

fn dev_full() -> Stdio {
    Stdio::from(
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full"),
    )
}

/// A pipe whose reading end is already closed: every write gets EPIPE.
fn closed_pipe() -> Stdio {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    Stdio::from(writer)
}

fn with_stdout(mut cmd: Command, stdout: Stdio) -> Output {
    cmd.stdout(stdout).stderr(Stdio::piped());
    cmd.output().expect("run warmstart")
}

#[test]
fn a_full_disk_on_stdout_is_exit_1_with_a_message() {
    let p = Project::new();
    p.write("e.toml", EXP);
    assert!(p.run(&["run", "e.toml"]).status.success());
    let cases: [&[&str]; 7] = [
        &["schema"],
        &["show", "e.toml", "b", "--at", "x=1"],
        &["export", "e.toml", "--out", "results"],
        &["plan", "e.toml"],
        &["run", "e.toml"],
        &["why", "e.toml", "a"],
        &["gc", "e.toml"],
    ];
    for args in cases {
        let out = with_stdout(p.cmd(args), dev_full());
        assert_clean_exit(&out, &args.join(" "));
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("cannot write the output"), "{args:?}: {err}");
        assert!(err.contains("No space left"), "{args:?}: {err}");
    }
}

#[test]
fn a_closed_pipe_on_stdout_is_a_quiet_exit_141() {
    let p = Project::new();
    p.write("e.toml", EXP);
    assert!(p.run(&["run", "e.toml"]).status.success());
    let cases: [&[&str]; 4] = [
        &["schema"],
        &["show", "e.toml", "b"],
        &["plan", "e.toml"],
        &["run", "e.toml", "--json"],
    ];
    for args in cases {
        let out = with_stdout(p.cmd(args), closed_pipe());
        assert_clean_exit(&out, &args.join(" "));
        assert_eq!(out.status.code(), Some(141), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{args:?}: a closed pipe is quiet");
    }
}

#[test]
fn errors_keep_their_exit_code_when_stderr_cannot_be_written() {
    let p = Project::new();
    p.write(
        "bad.toml",
        "[experiment]\nname = \"x\"\n[stages.a]\nkind = \"nope\"\n",
    );
    for (stderr_to, what) in [(dev_full(), "/dev/full"), (closed_pipe(), "closed pipe")] {
        let mut cmd = p.cmd(&["plan", "bad.toml"]);
        cmd.stdout(Stdio::null()).stderr(stderr_to);
        let status = cmd.status().expect("run warmstart");
        assert_eq!(status.code(), Some(2), "stderr to {what}: {status:?}");
    }
}

/// Every file under `dir`, relative to it.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path.clone());
            }
            out.push(path.strip_prefix(dir).unwrap().display().to_string());
        }
    }
    out.sort();
    out
}

#[test]
fn a_stage_named_dot_dot_is_never_exported_outside_out() {
    // The spec may refuse such a name at load time; either way nothing may land outside
    // `box/out`.
    for name in ["..", "."] {
        let p = Project::new();
        std::fs::create_dir(p.path("box")).unwrap();
        p.write(
            "e.toml",
            &format!(
                "[experiment]\nname = \"x\"\n[stages.\"{name}\"]\nkind = \"echo\"\nvalue = 1\n"
            ),
        );
        let _ = p.run(&["run", "e.toml"]);
        let out = p.run(&["export", "e.toml", "--out", "box/out"]);
        assert_clean_exit(&out, "export");
        assert_ne!(out.status.code(), Some(0), "stage {name:?} exported");
        let outside: Vec<String> = files_under(&p.path("box"))
            .into_iter()
            .filter(|f| f != "out" && !f.starts_with("out/"))
            .collect();
        assert!(outside.is_empty(), "stage {name:?} wrote {outside:?}");
        assert!(
            !files_under(&p.path("box/out"))
                .iter()
                .any(|f| f.ends_with(".parquet")),
            "stage {name:?}: {:?}",
            files_under(&p.path("box/out"))
        );
    }
}

#[test]
fn a_figure_name_from_an_engine_cannot_leave_out() {
    let p = Project::new();
    let files = warmstart_engine::files_table(&[
        ("ok.png".into(), b"fine".to_vec()),
        ("../escape.png".into(), b"hostile".to_vec()),
    ])
    .unwrap();
    warmstart_cache::store::write_parquet(&files, &p.path("hostile.parquet")).unwrap();
    p.write(
        "e.toml",
        r#"[experiment]
name = "x"
[stages.fig]
kind = "process"
command = ["cp", "hostile.parquet", "files.parquet"]
scripts = ["hostile.parquet"]
outputs = ["files.parquet"]
"#,
    );
    let run = p.run(&["run", "e.toml"]);
    assert!(run.status.success(), "{}", stderr(&run));
    std::fs::create_dir(p.path("box")).unwrap();
    let out = p.run(&["export", "e.toml", "--out", "box/out"]);
    assert_clean_exit(&out, "export");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("\"../escape.png\""), "{err}");
    assert!(err.contains("`fig`"), "{err}");
    let all = files_under(&p.path("box"));
    assert!(
        all.iter().all(|f| f == "out" || f.starts_with("out/")),
        "{all:?}"
    );
    assert!(
        !all.iter().any(|f| f.contains("escape")),
        "a refused name is not written under another name either: {all:?}"
    );
    // `show -o DIR` writes figures through the same checked paths.
    let show = p.run(&["show", "e.toml", "fig", "-o", "box/figs"]);
    assert_clean_exit(&show, "show -o");
    assert_eq!(show.status.code(), Some(1), "{}", stderr(&show));
    assert!(
        stderr(&show).contains("\"../escape.png\""),
        "{}",
        stderr(&show)
    );
    let all = files_under(&p.path("box"));
    assert!(!all.iter().any(|f| f.contains("escape")), "{all:?}");
}

#[test]
fn absurd_jobs_are_capped_with_a_note_and_zero_is_refused() {
    let p = Project::new();
    p.write("e.toml", EXP);
    let out = p.run(&["run", "e.toml", "--jobs", "100000"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("--jobs 100000 capped at"), "{err}");
    let zero = p.run(&["run", "e.toml", "--jobs", "0"]);
    assert_eq!(zero.status.code(), Some(2));
    assert!(stderr(&zero).contains("--jobs must be at least 1"));
}

#[test]
fn an_error_on_a_line_longer_than_65535_columns_is_reported_not_a_panic() {
    // Found by the fuzzer (crates/warmstart-fuzz): miette panicked drawing the snippet.
    let p = Project::new();
    let long: Vec<String> = (0..100_001).map(|i| i.to_string()).collect();
    p.write(
        "long.toml",
        &format!("experiment = [[{}]]\n", long.join(", ")),
    );
    let out = p.run(&["plan", "long.toml"]);
    assert_clean_exit(&out, "plan");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("long.toml:1:"),
        "{}",
        &err[..err.len().min(2000)]
    );
    assert!(
        err.contains("line too long to show"),
        "{}",
        &err[..err.len().min(2000)]
    );
}
