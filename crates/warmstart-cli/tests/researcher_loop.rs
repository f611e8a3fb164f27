//! The loop after the first run: a command-line override, the run history (`runs`),
//! naming a run (`tag`), comparing params and metrics across runs (`compare`), and gc
//! keeping what tagged and latest runs used. Override errors point at the override.

mod common;

use common::{Project, stderr, stdout};

/// Run ids and times vary: mask them (ids are `<13 digits>-<pid>`).
fn masked(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let mut words: Vec<String> = Vec::new();
        for w in line.split(' ') {
            let is_id = w.len() > 14
                && w[..13].bytes().all(|b| b.is_ascii_digit())
                && w.as_bytes()[13] == b'-'
                && w[14..].bytes().all(|b| b.is_ascii_digit());
            let is_date = w.len() == 10 && w.as_bytes()[4] == b'-' && w.as_bytes()[7] == b'-';
            let is_time = w.len() == 8 && w.as_bytes()[2] == b':' && w.as_bytes()[5] == b':';
            words.push(if is_id {
                "RUN-ID".to_string()
            } else if is_date {
                "DATE".to_string()
            } else if is_time {
                "TIME".to_string()
            } else {
                w.to_string()
            });
        }
        // Column widths follow the id's length (the pid's digits): compare words, not padding.
        let words: Vec<String> = words.into_iter().filter(|w| !w.is_empty()).collect();
        out.push_str(&words.join(" "));
        out.push('\n');
    }
    out
}

/// Durations (`1.3 s`) vary too.
fn no_durations(text: &str) -> String {
    let mut out = Vec::new();
    let words: Vec<&str> = text.split(' ').collect();
    let mut i = 0;
    while i < words.len() {
        if i + 1 < words.len()
            && words[i + 1].starts_with('s')
            && words[i].parse::<f64>().is_ok()
            && words[i].contains('.')
        {
            out.push("T");
            out.push(&words[i + 1][1..]);
            i += 2;
            continue;
        }
        out.push(words[i]);
        i += 1;
    }
    out.join(" ")
}

#[test]
fn override_runs_tag_compare_and_gc_keep_history() {
    let p = Project::new();
    assert!(p.run(&["init", "exp"]).status.success());
    let file = "exp/experiment.toml";
    let first = p.run(&["run", file]);
    assert!(first.status.success(), "{}", stderr(&first));
    // An override re-runs what it touches and nothing else.
    let (ev, out) = {
        let out = p.run(&["run", file, "tau=25", "--json"]);
        (common::events(&out), out)
    };
    assert!(out.status.success(), "{}", stderr(&out));
    let ran = common::with_status(&ev, "ran");
    assert!(
        ran.iter()
            .all(|l| l.starts_with("finetune") || *l == "summary" || *l == "figure"),
        "{ran:?}"
    );
    assert_eq!(
        common::with_status(&ev, "cached").len(),
        10,
        "problem and pca are cached"
    );

    let tag = p.run(&["tag", file, "baseline", "--run", &first_id(&p, file)]);
    assert!(tag.status.success(), "{}", stderr(&tag));
    let runs = p.run(&["runs", file]);
    assert!(runs.status.success(), "{}", stderr(&runs));
    insta::assert_snapshot!("runs", no_durations(&masked(&stdout(&runs))));
    let compare = p.run(&["compare", file]);
    assert!(compare.status.success(), "{}", stderr(&compare));
    let text = stdout(&compare);
    // tau differs, so it is a column; d does not, so it is not.
    let header = text.lines().next().unwrap();
    assert!(header.contains("tau") && !header.contains(" d "), "{text}");
    assert!(
        header.contains("summary.final_dist2") && header.contains("summary.w2sg"),
        "{text}"
    );
    // The metric values are the mean of the summary column, as `show` prints it.
    let json: serde_json::Value =
        serde_json::from_slice(&p.run(&["compare", file, "baseline", "--json"]).stdout).unwrap();
    let m = json[0]["metrics"][0]["value"].as_f64().unwrap();
    assert_eq!(json[0]["metrics"][0]["n"], 5);
    assert_eq!(json[0]["params"]["tau"], 20);
    assert!(m > 0.0 && m < 4.0, "{m}");

    // gc with no experiment file keeps the latest run (tau=25) and the tagged one (tau=20).
    let gc = p.run(&["gc", "--apply"]);
    assert!(gc.status.success(), "{}", stderr(&gc));
    assert!(
        stdout(&gc).contains("removed 0 unreachable entries"),
        "{}",
        stdout(&gc)
    );
    let again = p.run(&["run", file, "--json"]);
    assert_eq!(
        common::with_status(&common::events(&again), "ran").len(),
        0,
        "the tagged run's entries are still there"
    );

    let unknown = p.run(&["compare", file, "nosuch"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        stderr(&unknown).contains("no run `nosuch`") && stderr(&unknown).contains("baseline"),
        "{}",
        stderr(&unknown)
    );
}

fn first_id(p: &Project, file: &str) -> String {
    let out = p.run(&["runs", file, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v[0]["id"].as_str().unwrap().to_string()
}

#[test]
fn override_errors_point_at_the_override() {
    let p = Project::new();
    assert!(p.run(&["init", "exp"]).status.success());
    for (name, args) in [
        ("wrong_type", vec!["tau=2.5"]),
        ("unknown_name", vec!["tua=3"]),
        ("unknown_stage", vec!["stages.finetun.delta=1e-3"]),
        ("not_an_override", vec!["tau"]),
    ] {
        let mut full = vec!["run", "exp/experiment.toml"];
        full.extend(args);
        let out = p.run(&full);
        assert_eq!(out.status.code(), Some(2), "{name}");
        insta::assert_snapshot!(name, stderr(&out));
    }
    // A good override's value that the kind then rejects points into the file.
    let out = p.run(&["run", "exp/experiment.toml", "stages.pca.method=nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nope"), "{}", stderr(&out));
}

#[test]
fn instances_with_one_key_run_once_and_plan_says_why() {
    let p = Project::new();
    let exp = r#"
[experiment]
name = "twins"
[sweep]
rep = [0, 1, 2, 3]
[stages.a]
kind = "echo"
value = "same for every rep"
sweep = ["rep"]
sleep_ms = 50
"#;
    p.write("e.toml", exp);
    let plan = p.run(&["plan", "e.toml"]);
    assert!(plan.status.success(), "{}", stderr(&plan));
    insta::assert_snapshot!("twins_plan_warning", stderr(&plan));
    let out = p.run(&["run", "e.toml", "--json", "--jobs", "4"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let ev = common::events(&out);
    assert_eq!(common::with_status(&ev, "ran").len(), 1, "{ev:?}");
    assert_eq!(common::with_status(&ev, "cached").len(), 3, "{ev:?}");
    // Failing the same way: one runs and fails; the others say they share its key.
    p.write(
        "e.toml",
        &exp.replace("sleep_ms = 50", "sleep_ms = 50\nfail = true"),
    );
    let out = p.run(&["run", "e.toml", "--json", "--jobs", "4"]);
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &serde_json::Value| v["event"] == "stage")
        .collect();
    let errors: Vec<&str> = lines.iter().filter_map(|v| v["error"].as_str()).collect();
    assert_eq!(errors.len(), 4, "{lines:?}");
    assert_eq!(
        errors
            .iter()
            .filter(|e| e.contains("echo asked to fail"))
            .count(),
        4
    );
    assert_eq!(
        errors.iter().filter(|e| e.contains("same key as")).count(),
        3,
        "{errors:?}"
    );
}

#[test]
fn a_missing_column_is_caught_at_plan_time_at_the_param_with_the_columns_there_are() {
    let p = Project::new();
    assert!(p.run(&["init", "exp"]).status.success());
    let file = p.path("exp/experiment.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace("y = \"final_dist2\"", "y = \"final_dist\""),
    )
    .unwrap();
    let out = p.run(&["run", "exp/experiment.toml"]);
    // A spec error (exit 2) before anything ran: no cache entry was written.
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let se = stderr(&out);
    assert!(se.contains("did you mean `final_dist2`?"), "{se}");
    assert!(
        stdout(&out).trim().is_empty(),
        "nothing ran: {}",
        stdout(&out)
    );
    insta::assert_snapshot!("missing_column", se);
}
