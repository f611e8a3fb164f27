//! The shipped intent-suite study (`experiments/llm-intent.toml`) through the real binary,
//! at a reduced size: every checkpoint of `fixtures/intent-suite` and all 1000 pairs per
//! split, but two head seeds instead of five (seeds 0 and 1 give the shipped run's numbers
//! for those seeds). It checks the claims the file's description makes (paper §4.2,
//! Tables 1–2): the ceiling rises with pre-training and ends clearly above the weak model;
//! late in pre-training a reverse-BCE student beats the weak model with a paired bootstrap
//! interval of PGR that excludes 0, and its PGR grows with pre-training; probe accuracy
//! predicts W2S accuracy across checkpoints and eval loss predicts it negatively. Needs ONNX
//! Runtime (part of the README's test command).

mod common;

use common::shipped::*;
use common::*;
use serde_json::Value;

const TWO_SEEDS: (&str, &str) = ("rep = { range = [0, 5] }", "rep = { range = [0, 2] }");

/// A coordinate of a `show --format json` row (`_coords`), else a column of that name.
fn coord(row: &Value, name: &str) -> Value {
    row["_coords"].get(name).unwrap_or(&row[name]).clone()
}

fn rows_where<'a>(rows: &'a [Value], name: &str, value: &str) -> Vec<&'a Value> {
    let mut v: Vec<&Value> = rows.iter().filter(|r| coord(r, name) == value).collect();
    v.sort_by(|a, b| {
        let step = |r: &Value| coord(r, "step").as_f64().unwrap_or(f64::NAN);
        step(a).total_cmp(&step(b))
    });
    v
}

#[test]
fn intent_suite_shows_w2sg_growing_with_pretraining() {
    // The run is in a fresh project directory: the data by absolute path, the suite
    // through a link (a `glob` axis takes a path relative to the experiment file).
    let p = Project::new();
    std::os::unix::fs::symlink(root().join("fixtures/intent-suite"), p.path("suite")).unwrap();
    let data = format!(
        "data = \"{}\"",
        root().join("experiments/data/intent").display()
    );
    let edits = [
        ("data = \"data/intent\"", data.as_str()),
        ("suite = \"../fixtures/intent-suite\"", "suite = \"suite\""),
        (
            "step = { glob = \"../fixtures/intent-suite/strong/step-*\" }",
            "step = { glob = \"suite/strong/step-*\" }",
        ),
        TWO_SEEDS,
    ];
    let file = "llm-intent.toml";
    p.write(file, &reduced("llm-intent", &edits));
    let out = p.run(&["run", file]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let file = file.to_string();

    // Per checkpoint, over the two head seeds.
    let acc = show(&p, &file, "accuracies", Some("rows_stats"));
    for loss in ["bce", "reverse-bce"] {
        let rows = rows_where(&acc, "loss", loss);
        assert_eq!(rows.len(), 15, "15 checkpoints, 0 … 8192: {acc:?}");
        let (first, last) = (rows[0], rows[rows.len() - 1]);
        let weak = f(last, "weak_mean");
        // The ceiling rises with pre-training and ends ≥ 5 points above the weak model.
        assert!(f(first, "ceiling_mean") < weak, "{first}");
        assert!(f(last, "ceiling_mean") >= weak + 0.05, "{last}");
        // So does the student: at chance at step 0, above the weak model at the end.
        assert!(f(first, "w2s_mean") < 0.56, "{first}");
        assert!(f(last, "w2s_mean") > weak, "{loss}: {last}");
    }

    // Reverse BCE, per seed: at the two last checkpoints the paired bootstrap interval of
    // PGR excludes 0, and PGR grows from 2048 (the ceiling barely clears the weak model)
    // through 4096 to 8192 steps.
    let pgr = show(&p, &file, "pgr", None);
    for rep in [0, 1] {
        let at = |step: i64| -> &Value {
            pgr.iter()
                .find(|r| {
                    coord(r, "loss") == "reverse-bce"
                        && coord(r, "rep") == rep
                        && coord(r, "step") == step
                })
                .unwrap_or_else(|| panic!("no pgr at rep={rep} step={step}"))
        };
        for step in [4096, 8192] {
            let r = at(step);
            assert!(f(r, "pgr_lo") > 0.0, "PGR interval includes 0: {r}");
            assert!(f(r, "pgr_lo") <= f(r, "pgr") && f(r, "pgr") <= f(r, "pgr_hi"));
            assert_eq!(r["n_pairs"].as_i64(), Some(1000), "{r}");
        }
        assert!(
            f(at(2048), "pgr") < f(at(4096), "pgr") && f(at(4096), "pgr") < f(at(8192), "pgr"),
            "PGR does not grow at rep {rep}"
        );
    }

    // Table 1: probe accuracy predicts W2S accuracy across checkpoints, per seed and loss.
    let probe = show(&p, &file, "probe_vs_w2s", None);
    assert_eq!(probe.len(), 4, "2 seeds × 2 losses: {probe:?}");
    for row in &probe {
        assert_eq!(row["n"].as_i64(), Some(15), "{row}");
        assert!(f(row, "pearson_r") > 0.6, "{row}");
        assert!(f(row, "pearson_p") < 0.05, "{row}");
        assert!(f(row, "spearman_rho") > 0.0, "{row}");
        assert!(f(row, "pearson_r_lo") <= f(row, "pearson_r"), "{row}");
        assert!(f(row, "pearson_r") <= f(row, "pearson_r_hi"), "{row}");
    }
    // Table 2: eval loss correlates negatively with W2S accuracy (significantly for BCE).
    for row in &show(&p, &file, "loss_vs_w2s", None) {
        assert!(
            f(row, "pearson_r") < 0.0 && f(row, "spearman_rho") < 0.0,
            "{row}"
        );
        if coord(row, "loss") == "bce" {
            assert!(f(row, "pearson_p") < 0.05, "{row}");
        }
    }
    for (stage, stem) in [
        ("figure", "accuracy-vs-step-bce"),
        ("figure", "accuracy-vs-step-reverse-bce"),
        ("figure_ci", "accuracy-ci-vs-step"),
        ("probe_figure", "probe-vs-w2s"),
    ] {
        assert_figure(&p, &file, stage, stem);
    }
}
