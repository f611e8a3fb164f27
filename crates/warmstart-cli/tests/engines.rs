//! The shipped plugin and process experiments, run through the real binary: plugins
//! declared in `[engines.NAME]`, the process engine running a Python script, and plugin
//! load errors pointing into the experiment file.

mod common;

use std::collections::HashMap;
use std::path::PathBuf;

use common::*;

fn plugins() -> &'static HashMap<String, PathBuf> {
    common::example_plugins()
}

/// Copy a shipped experiment into a temp project, pointing `path = "…"` at a built plugin.
fn shipped_with_plugin(p: &Project, file: &str, from: &str, plugin_crate: &str) -> String {
    let text = std::fs::read_to_string(root().join("experiments").join(file)).unwrap();
    let lib = plugins()[plugin_crate].display().to_string();
    assert!(text.contains(from), "{file} must declare {from}");
    p.write(file, &text.replace(from, &lib));
    file.to_string()
}

fn json(out: &std::process::Output) -> Vec<serde_json::Value> {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

#[test]
fn ridge_plugin_experiment_runs_and_shows_the_claim() {
    let p = Project::new();
    let f = shipped_with_plugin(
        &p,
        "plugin-ridge.toml",
        "../target/release/libwarmstart_plugin_ridge.so",
        "warmstart-plugin-ridge",
    );
    let (ev, out) = p.run_json(&f);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(with_status(&ev, "ran").len(), 3, "{ev:?}");
    // Under-regularized teacher: some student beats it; over-regularized: none does.
    for (lt, beats) in [("0.05", true), ("1.0", false)] {
        let show = p.run(&[
            "show",
            &f,
            "sim",
            "--format",
            "json",
            "--at",
            &format!("lambda_t={lt}"),
        ]);
        let rows = json(&show);
        let teacher = rows[0]["teacher_excess_theory"].as_f64().unwrap();
        let best = rows
            .iter()
            .map(|r| r["student_excess_theory"].as_f64().unwrap())
            .fold(f64::INFINITY, f64::min);
        assert_eq!(
            best < teacher,
            beats,
            "lambda_t={lt}: best student {best}, teacher {teacher}"
        );
    }
    // Rebuilding the plugin with other bytes would change its digest: `why` shows it.
    let why = p.run(&["why", &f, "sim", "--at", "lambda_t=0.05"]);
    assert!(
        stdout(&why).contains("engine extra   plugin_blake3 = "),
        "{}",
        stdout(&why)
    );
    let (ev, _) = p.run_json(&f);
    assert!(with_status(&ev, "ran").is_empty(), "no-op re-run: {ev:?}");
}

#[test]
fn loss_plugin_experiment_runs() {
    let p = Project::new();
    let f = shipped_with_plugin(
        &p,
        "plugin-loss.toml",
        "../target/release/libwarmstart_plugin_loss.so",
        "warmstart-plugin-loss",
    );
    let (ev, out) = p.run_json(&f);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(with_status(&ev, "ran").len(), 3);
}

#[test]
fn a_plugin_that_cannot_load_is_an_error_in_the_file() {
    let p = Project::new();
    p.write("junk.so", "not a library");
    p.write(
        "e.toml",
        "[experiment]\nname = \"x\"\n\n[engines.mine]\npath = \"junk.so\"\n\n[stages.a]\nkind = \"echo\"\nvalue = 1\n",
    );
    let out = p.run(&["plan", "e.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("e.toml:5:8"), "{err}");
    assert!(err.contains("cannot load plugin"), "{err}");
    let check = p.run(&["plugins", "check", "junk.so"]);
    assert_eq!(check.status.code(), Some(2));
}

#[test]
fn a_project_warmstart_toml_declares_plugins_for_its_experiments() {
    let p = Project::new();
    // The plugin lives in the project (a link to the built library), declared once in the
    // project file, relative to it; the experiment, one directory down, declares nothing.
    std::fs::create_dir_all(p.path("plugins")).unwrap();
    std::os::unix::fs::symlink(
        &plugins()["warmstart-plugin-ridge"],
        p.path("plugins/libridge.so"),
    )
    .unwrap();
    p.write(
        "warmstart.toml",
        "# shared by every experiment below\n[engines.ridge]\npath = \"plugins/libridge.so\"\n",
    );
    let shipped = std::fs::read_to_string(root().join("experiments/plugin-ridge.toml")).unwrap();
    let decl = "[engines.ridge]\npath = \"../target/release/libwarmstart_plugin_ridge.so\"\n";
    assert!(
        shipped.contains(decl),
        "plugin-ridge.toml must declare its plugin"
    );
    std::fs::create_dir_all(p.path("experiments")).unwrap();
    p.write("experiments/ridge.toml", &shipped.replace(decl, ""));
    let (ev, out) = p.run_json("experiments/ridge.toml");
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(with_status(&ev, "ran").len(), 3, "{ev:?}");
    let list = p.run(&["plugins", "list", "experiments/ridge.toml"]);
    assert!(stdout(&list).contains("ridge  (id "), "{}", stdout(&list));

    // A broken project declaration is an error in warmstart.toml, at its path…
    p.write(
        "warmstart.toml",
        "# shared by every experiment below\n[engines.ridge]\npath = \"plugins/missing.so\"\n",
    );
    let out = p.run(&["plan", "experiments/ridge.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("warmstart.toml:3:8"),
        "{}",
        stderr(&out)
    );
    // …unless the experiment declares that engine itself, which takes precedence.
    p.write(
        "experiments/ridge.toml",
        &shipped.replace(
            "../target/release/libwarmstart_plugin_ridge.so",
            "../plugins/libridge.so",
        ),
    );
    let out = p.run(&["plan", "experiments/ridge.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // An unknown table in the project file is reported there.
    p.write("warmstart.toml", "[engine.ridge]\npath = \"x.so\"\n");
    let out = p.run(&["plan", "experiments/ridge.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("warmstart.toml:1:2"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn process_experiment_runs_python_and_script_edits_invalidate() {
    let p = Project::new();
    // Copy the experiment with its data and script, keeping their relative layout.
    std::fs::create_dir_all(p.path("experiments/data")).unwrap();
    std::fs::create_dir_all(p.path("plugins/process-example")).unwrap();
    for rel in [
        "experiments/process-pgr.toml",
        "experiments/data/example-accuracies.csv",
        "plugins/process-example/pgr.py",
    ] {
        std::fs::copy(root().join(rel), p.path(rel)).unwrap();
    }
    let f = "experiments/process-pgr.toml";
    let (ev, out) = p.run_json(f);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(with_status(&ev, "ran"), ["pgr", "runs"]);
    let rows = json(&p.run(&["show", f, "pgr", "--format", "json"]));
    assert_eq!(rows.len(), 3);
    for r in &rows {
        let g = |c: &str| {
            r[c].as_f64()
                .or_else(|| r[c].as_str().and_then(|s| s.parse().ok()))
                .unwrap()
        };
        let expect = (g("w2s_acc") - g("weak_acc")) / (g("strong_acc") - g("weak_acc"));
        assert!((g("pgr") - expect).abs() < 1e-9, "{r}");
    }
    // Editing the script re-runs only the stage that uses it.
    let script = p.path("plugins/process-example/pgr.py");
    let text = std::fs::read_to_string(&script).unwrap();
    std::fs::write(&script, format!("{text}\n# edited\n")).unwrap();
    let (ev, _) = p.run_json(f);
    assert_eq!(with_status(&ev, "ran"), ["pgr"]);
    assert_eq!(with_status(&ev, "cached"), ["runs"]);
}
