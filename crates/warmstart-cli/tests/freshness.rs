//! Freshness tests in the style of cargo's `freshness.rs`: edit an experiment, re-run, and
//! check exactly which stages re-ran.

mod common;

use common::*;

const CHAIN: &str = r#"
[experiment]
name = "chain"
seed = 1

[stages.a]
kind = "echo"
value = "A"

[stages.b]
kind = "echo"
inputs = ["a"]
value = VALUE_B

[stages.c]
kind = "echo"
inputs = ["b"]
value = "C"

[stages.side]
kind = "echo"
value = "S"
"#;

fn chain(b: &str) -> String {
    CHAIN.replace("VALUE_B", b)
}

#[test]
fn first_run_runs_everything_second_runs_nothing() {
    let p = Project::new();
    p.write("e.toml", &chain("\"B\""));
    let (ev, out) = p.run_json("e.toml");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(with_status(&ev, "ran"), ["a", "b", "c", "side"]);
    let (ev, out) = p.run_json("e.toml");
    assert!(out.status.success());
    assert_eq!(with_status(&ev, "cached"), ["a", "b", "c", "side"]);
    assert!(with_status(&ev, "ran").is_empty());
}

#[test]
fn changing_a_middle_param_reruns_it_and_downstream_only() {
    let p = Project::new();
    p.write("e.toml", &chain("\"B\""));
    assert!(p.run(&["run", "e.toml"]).status.success());
    p.write("e.toml", &chain("\"B2\""));
    // plan says why before running
    let plan = p.run(&["plan", "e.toml"]);
    let text = stdout(&plan);
    assert!(
        text.contains("param `value` changed from \"B\" to \"B2\""),
        "{text}"
    );
    assert!(text.contains("input `b` will be recomputed"), "{text}");
    let (ev, _) = p.run_json("e.toml");
    assert_eq!(with_status(&ev, "ran"), ["b", "c"]);
    assert_eq!(with_status(&ev, "cached"), ["a", "side"]);
}

#[test]
fn a_param_change_with_identical_output_leaves_downstream_cached() {
    let p = Project::new();
    // `1` and `"1"` are different keys (typed) but echo stores both as the text "1".
    p.write("e.toml", &chain("1"));
    assert!(p.run(&["run", "e.toml"]).status.success());
    p.write("e.toml", &chain("\"1\""));
    let (ev, _) = p.run_json("e.toml");
    assert_eq!(with_status(&ev, "ran"), ["b"]);
    assert_eq!(with_status(&ev, "cached"), ["a", "c", "side"]);
}

#[test]
fn a_param_outside_the_key_does_not_invalidate() {
    let p = Project::new();
    p.write("e.toml", &chain("\"B\""));
    assert!(p.run(&["run", "e.toml"]).status.success());
    let slow = chain("\"B\"").replace("value = \"C\"", "value = \"C\"\nsleep_ms = 5");
    p.write("e.toml", &slow);
    let (ev, _) = p.run_json("e.toml");
    assert!(with_status(&ev, "ran").is_empty(), "{ev:?}");
}

#[test]
fn failure_skips_downstream_but_independent_branches_finish_and_nothing_is_cached() {
    let p = Project::new();
    let text = chain("\"B\"").replace("value = \"A\"", "value = \"A\"\nfail = true");
    p.write("e.toml", &text);
    let (ev, out) = p.run_json("e.toml");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(with_status(&ev, "failed"), ["a"]);
    assert_eq!(with_status(&ev, "skipped"), ["b", "c"]);
    assert_eq!(with_status(&ev, "ran"), ["side"]);
    assert_eq!(entry_dirs(&p.cache()).len(), 1, "only `side` is cached");
    let text = stdout(&out);
    assert!(text.contains("echo asked to fail"), "{text}");
}

#[test]
fn sweeps_fan_out_and_gather_fans_in() {
    let p = Project::new();
    p.write(
        "e.toml",
        r#"
[experiment]
name = "fan"
[sweep]
x = [1, 2, 3]
[stages.root]
kind = "echo"
value = "r"
[stages.leaf]
kind = "echo"
inputs = ["root"]
value = "${x * 10}"
[stages.sum]
kind = "echo"
inputs = ["leaf"]
gather = ["x"]
value = "done"
"#,
    );
    let (ev, out) = p.run_json("e.toml");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        with_status(&ev, "ran"),
        ["leaf[x=1]", "leaf[x=2]", "leaf[x=3]", "root", "sum"]
    );
    let show = p.run(&["show", "e.toml", "sum", "--format", "csv"]);
    let csv = stdout(&show);
    // root row + leaf row, per x, in axis order, then sum's own row
    assert!(csv.contains("leaf[x=1],10\nroot,r\nleaf[x=2],20"), "{csv}");
    assert!(csv.trim_end().ends_with("sum,done"), "{csv}");
}

#[test]
fn corrupt_entry_is_detected_and_recomputed() {
    let p = Project::new();
    p.write("e.toml", &chain("\"B\""));
    assert!(p.run(&["run", "e.toml"]).status.success());
    // Corrupt `a`'s parquet file: flip a byte in the middle.
    let mut corrupted = 0;
    for dir in entry_dirs(&p.cache()) {
        if manifest_stage(&dir) == "a" {
            corrupted += flip_parquet_bytes(&dir);
        }
    }
    assert_eq!(corrupted, 1);
    // `b` must be recomputed from `a`: change b to force reading a.
    p.write("e.toml", &chain("\"B3\""));
    let (ev, out) = p.run_json("e.toml");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("corrupt"), "{}", stderr(&out));
    assert!(with_status(&ev, "ran").contains(&"a"), "{ev:?}");
    assert!(with_status(&ev, "ran").contains(&"b"), "{ev:?}");
    let show = p.run(&["show", "e.toml", "c", "--format", "csv"]);
    assert_eq!(stdout(&show), "source,value\na,A\nb,B3\nc,C\n");
}

#[test]
fn kill_9_during_a_slow_stage_leaves_no_entry_and_rerun_completes() {
    let p = Project::new();
    let text = chain("\"B\"").replace("value = \"C\"", "value = \"C\"\nsleep_ms = 3000");
    p.write("e.toml", &text);
    let mut child = p
        .cmd(&["run", "e.toml", "--json", "-j", "1"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until a and b are cached (c is sleeping), then kill -9.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while entry_dirs(&p.cache()).len() < 3 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    child.kill().unwrap(); // SIGKILL
    let _ = child.wait();
    let before = entry_dirs(&p.cache()).len();
    assert!(before <= 3, "c must not be recorded: {before} entries");
    let (ev, out) = p.run_json("e.toml");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(with_status(&ev, "ran").contains(&"c"), "{ev:?}");
    assert!(with_status(&ev, "failed").is_empty());
    let show = p.run(&["show", "e.toml", "c", "--format", "csv"]);
    assert!(stdout(&show).ends_with("c,C\n"), "{}", stdout(&show));
}

#[test]
fn two_concurrent_runs_compute_each_stage_once() {
    let p = Project::new();
    let text = chain("\"B\"")
        .replace("value = \"A\"", "value = \"A\"\nsleep_ms = 300")
        .replace("value = \"S\"", "value = \"S\"\nsleep_ms = 300");
    p.write("e.toml", &text);
    let spawn = || {
        p.cmd(&["run", "e.toml", "--json"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (c1, c2) = (spawn(), spawn());
    let (o1, o2) = (
        c1.wait_with_output().unwrap(),
        c2.wait_with_output().unwrap(),
    );
    assert!(o1.status.success() && o2.status.success());
    let (e1, e2) = (events(&o1), events(&o2));
    let mut ran: Vec<&str> = with_status(&e1, "ran");
    ran.extend(with_status(&e2, "ran"));
    ran.sort();
    assert_eq!(
        ran,
        ["a", "b", "c", "side"],
        "each stage exactly once: {e1:?} {e2:?}"
    );
}

/// A process stage whose interpreter prints `version`: the printed text is an engine extra,
/// which `why` and `plan` quote shortened.
fn interpreter_stage(version: &str) -> String {
    format!(
        r#"
[experiment]
name = "multibyte"

[stages.tool]
kind = "process"
command = ["true"]
interpreter_version = ["echo", "{version}"]
"#
    )
}

#[test]
fn why_and_plan_shorten_multibyte_engine_extras_without_panicking() {
    let p = Project::new();
    // Eleven ASCII bytes, then two-byte characters: byte 12 falls inside the first `é`.
    p.write("e.toml", &interpreter_stage("aaaaaaaaaaaéé"));
    let out = p.run(&["run", "e.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    p.write("e.toml", &interpreter_stage("bbbbbbbbbbbéé"));
    for args in [&["why", "e.toml", "tool"][..], &["plan", "e.toml"][..]] {
        let out = p.run(args);
        let text = stdout(&out);
        assert!(out.status.success(), "{args:?}: {}\n{}", stderr(&out), text);
        assert!(
            text.contains("engine interpreter changed (aaaaaaaaaaaé… → bbbbbbbbbbbé…)"),
            "{args:?}: {text}"
        );
    }
}
