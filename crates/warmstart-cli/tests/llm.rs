//! The shipped LLM-checkpoint study, end to end through the real binary on a subset: three
//! checkpoints of the tiny suite, found by the experiment's `glob` axis, 48 pairs per split (the hh-mini fixture). Needs ONNX
//! Runtime (`python3 -m pip install onnxruntime==1.31.1`, part of the README's test
//! command); without it the stages fail with the install hint and so does this test.

mod common;

use common::*;

fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert_eq!(text.matches(from).count(), 1, "`{from}` must occur once");
    text.replace(from, to)
}

#[test]
fn llm_checkpoint_study_runs_on_a_subset() {
    let p = Project::new();
    let shipped = std::fs::read_to_string(root().join("experiments/llm-checkpoints.toml")).unwrap();
    let mut text = replace_once(
        &shipped,
        "data = \"data/hh-rlhf-helpful\"",
        &format!("data = \"{}\"", root().join("fixtures/hh-mini").display()),
    );
    // The checkpoints a run sees are the directories the `glob` axis finds: link three of
    // the suite's into the project, and a fourth later.
    let suite = root().join("fixtures/tiny-suite");
    let link = |from: &str| {
        let to = p.path(&format!("suite/{from}"));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(suite.join(from), to).unwrap();
    };
    for c in [
        "weak",
        "strong/step-00000",
        "strong/step-00064",
        "strong/step-01024",
    ] {
        link(c);
    }
    text = replace_once(
        &text,
        "suite = \"../fixtures/tiny-suite\"",
        &format!("suite = \"{}\"", p.path("suite").display()),
    );
    text = replace_once(&text, "limit = 1000", "limit = 48");
    text = replace_once(&text, "max_length = 256", "max_length = 96");
    text = replace_once(
        &text,
        "step = { glob = \"../fixtures/tiny-suite/strong/step-*\" }",
        "step = { glob = \"suite/strong/step-*\" }",
    );
    p.write("llm.toml", &text);
    let (ev, out) = p.run_json("llm.toml");
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(with_status(&ev, "failed").is_empty());
    // 3 datasets, 3 weak embeddings, 2 weak heads, 7 stages per checkpoint, 5 gathers and figures.
    assert_eq!(ev.len(), 3 + 3 + 2 + 3 * 7 + 5, "{ev:?}");

    // Accuracies are accuracies; PGR is computed from exactly those three numbers.
    let json = |args: &[&str]| -> Vec<serde_json::Value> {
        let out = p.run(args);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)))
    };
    let pgr = json(&[
        "show",
        "llm.toml",
        "pgr",
        "--format",
        "json",
        "--at",
        "step=1024",
    ]);
    let f = |c: &str| pgr[0][c].as_f64().unwrap_or(f64::NAN);
    for c in ["weak", "w2s", "ceiling"] {
        assert!((0.0..=1.0).contains(&f(c)), "{c} = {}", f(c));
    }
    if f("ceiling") != f("weak") {
        let expect = (f("w2s") - f("weak")) / (f("ceiling") - f("weak"));
        assert!((f("pgr") - expect).abs() < 1e-9);
    }
    // Paired bootstrap intervals over the test pairs the three heads share.
    assert_eq!(pgr[0]["n_pairs"].as_i64(), Some(48), "{pgr:?}");
    assert_eq!(pgr[0]["bootstrap"].as_i64(), Some(1000));
    for c in ["weak", "w2s", "ceiling"] {
        let (lo, hi) = (f(&format!("{c}_lo")), f(&format!("{c}_hi")));
        assert!(
            lo <= f(c) && f(c) <= hi && hi - lo < 0.5,
            "{c}: {lo} {} {hi}",
            f(c)
        );
    }
    let corr = json(&["show", "llm.toml", "probe_vs_w2s", "--format", "json"]);
    assert_eq!(corr[0]["n"].as_i64(), Some(3));
    // y is each checkpoint's mean of `correct` over the 48 test pairs, resampled jointly
    // across checkpoints; x (the probe's one-row summary) is fixed.
    assert_eq!(corr[0]["bootstrap"].as_i64(), Some(1000));
    let c = |k: &str| corr[0][k].as_f64().unwrap_or(f64::NAN);
    let r = c("pearson_r");
    assert!((-1.0..=1.0).contains(&r));
    assert!(c("pearson_r_lo") <= r && r <= c("pearson_r_hi"), "{corr:?}");
    let points = json(&[
        "show",
        "llm.toml",
        "probe_vs_w2s",
        "--table",
        "points",
        "--format",
        "json",
    ]);
    for pt in &points {
        let v = |k: &str| pt[k].as_f64().unwrap();
        assert_eq!((v("x_lo"), v("x_hi")), (v("x"), v("x")), "{pt}");
        assert!(v("y_lo") <= v("y") && v("y") <= v("y_hi"), "{pt}");
    }

    // Adding a checkpoint directory runs only its own stages (plus the gathers).
    link("strong/step-00512");
    let (ev, out) = p.run_json("llm.toml");
    assert!(out.status.success(), "{}", stderr(&out));
    let mut ran = with_status(&ev, "ran");
    ran.retain(|l| !l.contains("step=512"));
    assert_eq!(
        ran,
        [
            "accuracies",
            "figure",
            "loss_vs_w2s",
            "probe_figure",
            "probe_vs_w2s"
        ],
        "{ev:?}"
    );

    let export = p.run(&["export", "llm.toml", "--out", "results"]);
    assert!(export.status.success(), "{}", stderr(&export));
    assert!(p.path("results/figure/accuracy-vs-step.png").exists());

    // The report of the study, in a real browser: every figure the export wrote is inlined
    // and decodes; one section per stage; no console error, no request.
    let report = p.run(&["report", "llm.toml", "--out", "report"]);
    assert!(report.status.success(), "{}", stderr(&report));
    let check = check_in_browser(&p, "report/index.html");
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.path("results/index.json")).unwrap())
            .unwrap();
    let figures = index["stages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["files"].as_array().unwrap())
        .filter(|f| {
            f.as_str()
                .is_some_and(|f| f.ends_with(".png") || f.ends_with(".svg"))
        })
        .count();
    assert!(figures >= 4, "{figures}");
    assert_eq!(check["dom"]["figures"].as_u64(), Some(figures as u64));
    assert_eq!(
        check["dom"]["figures_decoded"].as_u64(),
        Some(figures as u64)
    );
    let sections = check["dom"]["stages"].as_array().unwrap();
    let text = std::fs::read_to_string(p.path("llm.toml")).unwrap();
    assert_eq!(sections.len(), text.matches("[stages.").count());
    assert!(sections.iter().all(|s| s["state"] == "fresh"));
}
