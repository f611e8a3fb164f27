//! `warmstart report` in a real browser: headless Chromium (Debian's package, installed by
//! the README's test command) opens the report of a shipped experiment and of a partly
//! failed run, through `tests/browser/check_report.py` (the DevTools protocol on a pipe).
//! What the page must give a reader: every stage's section, figures that decode, table
//! previews, sweep charts, failures with their errors — with no console error and no
//! request leaving the page.

mod common;

use common::*;
use serde_json::Value as Json;

fn stage<'a>(check: &'a Json, name: &str) -> &'a Json {
    check["dom"]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no section for stage {name}: {check}"))
}

fn n(v: &Json) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

#[test]
fn the_report_of_a_shipped_experiment_opens_in_a_browser() {
    let p = Project::new();
    let file = root().join("experiments/exp1-alignment.toml");
    let file = file.to_str().unwrap();
    // Before any run: the page exists and says nothing has run.
    let out = p.run(&["report", file, "--out", "early"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("0 fresh, 0 stale, 168 never run, 0 failed"),
        "{}",
        stdout(&out)
    );
    let early = check_in_browser(&p, "early/index.html");
    assert_eq!(n(&early["dom"]["figures"]), 0);
    assert_eq!(stage(&early, "finetune")["state"], "never");

    let out = p.run(&["run", file]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = p.run(&["report", file, "--out", "report"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let check = check_in_browser(&p, "report/index.html");
    let dom = &check["dom"];
    assert_eq!(
        dom["summary"],
        "168 instances: 168 fresh · 0 stale · 0 never run · 0 failed"
    );
    let names: Vec<&str> = dom["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "problem",
            "pca",
            "finetune",
            "summary",
            "figure",
            "figure_risk"
        ]
    );
    // The two plot stages write a PNG and an SVG each; all four decode in the browser.
    assert_eq!(n(&dom["figures"]), 4);
    assert_eq!(n(&dom["figures_decoded"]), 4);
    assert_eq!(n(&stage(&check, "figure")["figures"]), 2);
    // The graph: one node per stage, one edge per reading, each node linking its section.
    assert_eq!(
        (
            n(&dom["dag_nodes"]),
            n(&dom["dag_edges"]),
            n(&dom["dag_links"])
        ),
        (6, 5, 6)
    );
    for s in dom["stages"].as_array().unwrap() {
        assert_eq!(s["state"], "fresh");
        assert!(n(&s["previews"]) >= 1, "{s}");
    }
    assert_eq!(n(&stage(&check, "finetune")["instances"]), 55);
    // The aggregate tables over α (and α × rep) are drawn as sweep charts.
    assert!(n(&stage(&check, "summary")["sweeps"]) >= 4);
    assert_eq!(
        dom["filter"],
        serde_json::json!({"before": 55, "while_filtering": 0, "after": 55})
    );
    // Every table the page links to is there.
    let index: Json =
        serde_json::from_str(&std::fs::read_to_string(p.path("report/data/index.json")).unwrap())
            .unwrap();
    assert_eq!(index["stages"].as_array().unwrap().len(), 168);
    assert!(p.path("report/data/summary/summary.parquet").exists());
}

#[test]
fn the_report_of_a_partly_failed_run_shows_the_failure() {
    let p = Project::new();
    p.write(
        "partly.toml",
        r#"
[experiment]
name = "partly"
description = "x = 2 fails; its user is skipped; the rest is fresh."

[sweep]
x = [1, 2, 3]

[stages.work]
kind = "process"
command = ["sh", "-c", "if [ ${x} -eq 2 ]; then echo 'x = 2 is not allowed' >&2; exit 3; fi; printf 'x,y\n${x},1\n' > out.csv"]
outputs = ["out.csv"]

[stages.after]
kind = "process"
inputs = ["work"]
command = ["sh", "-c", "cat inputs/*/out.csv > copy.csv"]
outputs = ["copy.csv"]
"#,
    );
    let out = p.run(&["run", "partly.toml"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let out = p.run(&["report", "partly.toml", "--out", "report"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("4 fresh, 0 stale, 1 never run, 1 failed"),
        "{}",
        stdout(&out)
    );
    let check = check_in_browser(&p, "report/index.html");
    let work = stage(&check, "work");
    assert_eq!(work["state"], "failed");
    assert_eq!(n(&work["failed_rows"]), 1);
    let errors = work["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].as_str().unwrap().contains("x = 2 is not allowed"),
        "the stage's stderr is shown: {errors:?}"
    );
    let after = stage(&check, "after");
    assert_eq!(after["state"], "stale");
    assert_eq!(n(&after["instances"]), 3);
    // The process stages' log tables are previewed.
    assert!(n(&work["previews"]) >= 1);
    assert_eq!(
        check["dom"]["summary"],
        "6 instances: 4 fresh · 0 stale · 1 never run · 1 failed"
    );
}

/// A second report into the same directory leaves no file of an instance the first one
/// exported but the second does not (here: a sweep value removed from the file).
#[test]
fn a_second_report_removes_the_data_of_instances_that_are_gone() {
    let p = Project::new();
    let exp = |xs: &str| {
        format!(
            "[experiment]\nname = \"shrink\"\n\n[sweep]\nx = [{xs}]\n\n[stages.work]\nkind = \"echo\"\nvalue = \"${{x}}\"\n"
        )
    };
    p.write("shrink.toml", &exp("1, 2, 3"));
    assert!(p.run(&["run", "shrink.toml"]).status.success());
    let out = p.run(&["report", "shrink.toml", "--out", "report"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let gone = p.path("report/data/work__x=3/out.parquet");
    assert!(gone.exists(), "the first report exports x = 3");
    // A file of the user's in the data directory is not the report's to remove.
    p.write("report/data/notes.txt", "mine");

    p.write("shrink.toml", &exp("1, 2"));
    let out = p.run(&["report", "shrink.toml", "--out", "report"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("removed 1 file(s) of an earlier report"),
        "{}",
        stdout(&out)
    );
    assert!(!gone.exists(), "x = 3 is no longer in the experiment");
    assert!(
        !p.path("report/data/work__x=3").exists(),
        "its empty directory too"
    );
    assert!(p.path("report/data/work__x=1/out.parquet").exists());
    assert!(p.path("report/data/notes.txt").exists());
}
