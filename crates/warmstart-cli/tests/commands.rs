//! `gc`, `export`, `schema`, `plan --json` and Ctrl-C, through the real binary.

mod common;

use common::*;

const EXP: &str = r#"
[experiment]
name = "cmds"
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

#[test]
fn gc_lists_then_removes_only_unreachable_entries() {
    let p = Project::new();
    p.write("e.toml", EXP);
    assert!(p.run(&["run", "e.toml"]).status.success());
    p.write("e.toml", &EXP.replace("value = \"A\"", "value = \"A2\""));
    assert!(p.run(&["run", "e.toml"]).status.success());
    assert_eq!(entry_dirs(&p.cache()).len(), 6);
    let dry = p.run(&["gc", "e.toml"]);
    let text = stdout(&dry);
    assert!(text.contains("3 unreachable entries (dry run"), "{text}");
    assert_eq!(entry_dirs(&p.cache()).len(), 6, "dry run deletes nothing");
    let apply = p.run(&["gc", "e.toml", "--apply"]);
    assert!(
        stdout(&apply).contains("removed 3 unreachable entries"),
        "{}",
        stdout(&apply)
    );
    assert_eq!(entry_dirs(&p.cache()).len(), 3);
    let (ev, _) = p.run_json("e.toml");
    assert_eq!(with_status(&ev, "cached").len(), 3, "{ev:?}");
}

#[test]
fn export_writes_parquet_with_stable_names_and_an_index() {
    let p = Project::new();
    p.write("e.toml", EXP);
    assert!(p.run(&["run", "e.toml"]).status.success());
    let out = p.run(&["export", "e.toml", "--out", "results"]);
    assert!(out.status.success(), "{}", stderr(&out));
    for f in [
        "results/a/out.parquet",
        "results/b__x=1/out.parquet",
        "results/b__x=2/out.parquet",
        "results/index.json",
    ] {
        assert!(p.path(f).exists(), "{f} missing");
    }
    let bytes = std::fs::read(p.path("results/b__x=2/out.parquet")).unwrap();
    assert_eq!(&bytes[..4], b"PAR1");
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.path("results/index.json")).unwrap()).unwrap();
    assert_eq!(index["stages"].as_array().unwrap().len(), 3);
}

#[test]
fn export_of_a_stale_experiment_says_what_is_missing() {
    let p = Project::new();
    p.write("e.toml", EXP);
    let out = p.run(&["export", "e.toml", "--out", "results"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("run `warmstart run e.toml` first"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn schema_is_json_and_knows_the_kinds() {
    let p = Project::new();
    let out = p.run(&["schema"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = v.to_string();
    for kind in ["echo", "finetune", "process"] {
        assert!(
            text.contains(&format!("\"{kind}\"")),
            "schema lacks kind {kind}"
        );
    }
}

#[test]
fn project_schema_describes_warmstart_toml() {
    let p = Project::new();
    let out = p.run(&["schema", "--project"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["additionalProperties"], serde_json::json!(false));
    let engine = &v["properties"]["engines"]["additionalProperties"];
    assert_eq!(engine["required"], serde_json::json!(["path"]));
    assert!(
        engine["properties"]["path"]["description"]
            .as_str()
            .unwrap()
            .contains("relative to warmstart.toml")
    );
}

#[test]
fn plan_json_has_one_object_per_instance_then_a_summary() {
    let p = Project::new();
    p.write("e.toml", EXP);
    let out = p.run(&["plan", "e.toml", "--json"]);
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[1]["coords"]["x"], 1);
    assert_eq!(lines[0]["status"], "stale");
    assert_eq!(lines[3]["summary"]["stale"], 3);
}

#[test]
fn usage_errors_exit_2() {
    let p = Project::new();
    p.write("e.toml", EXP);
    assert_eq!(p.run(&["run"]).status.code(), Some(2));
    assert_eq!(p.run(&["show", "e.toml", "nope"]).status.code(), Some(2));
    assert_eq!(p.run(&["run", "e.toml", "-j", "0"]).status.code(), Some(2));
    let show = p.run(&["show", "e.toml", "zz"]);
    let err = stderr(&show);
    assert!(
        err.contains("has no stage `zz`") && err.contains("stages: a, b"),
        "{err}"
    );
}

/// Run `warmstart ARGS`, send it SIGINT (Ctrl-C) after 500 ms, and wait for it.
fn interrupted_after_500_ms(p: &Project, args: &[&str]) -> std::process::Output {
    let child = p
        .cmd(args)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    child.wait_with_output().unwrap()
}

#[test]
fn ctrl_c_stops_cleanly_and_the_next_run_resumes() {
    let p = Project::new();
    let text = r#"
[experiment]
name = "slow"
[stages.a]
kind = "echo"
value = "A"
sleep_ms = 1500
[stages.b]
kind = "echo"
inputs = ["a"]
value = "B"
sleep_ms = 1500
"#;
    p.write("e.toml", text);
    let out = interrupted_after_500_ms(&p, &["run", "e.toml", "--json"]);
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let ev = events(&out);
    // `a` was running: it finishes and is recorded; `b` never starts.
    assert_eq!(with_status(&ev, "ran"), ["a"]);
    assert_eq!(with_status(&ev, "skipped"), ["b"]);
    let (ev, out) = p.run_json("e.toml");
    assert!(out.status.success());
    assert_eq!(with_status(&ev, "cached"), ["a"]);
    assert_eq!(with_status(&ev, "ran"), ["b"]);
}

#[test]
fn ctrl_c_ends_with_one_summary_line_not_a_line_per_waiting_instance() {
    let p = Project::new();
    let text = r#"
[experiment]
name = "slow"
[sweep]
x = [1, 2, 3, 4, 5]
[stages.a]
kind = "echo"
value = "A"
sleep_ms = 1500
[stages.b]
kind = "echo"
inputs = ["a"]
value = "${x}"
"#;
    p.write("e.toml", text);
    let out = interrupted_after_500_ms(&p, &["run", "e.toml"]);
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        !text.contains("skipped  "),
        "no line per waiting instance:\n{text}"
    );
    let summed: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("interrupted:"))
        .collect();
    assert_eq!(
        summed,
        [
            "  interrupted: 5 instance(s) not started; run again to continue (finished ones are cached)"
        ],
        "{text}"
    );
}
