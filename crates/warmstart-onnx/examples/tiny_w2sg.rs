//! The weak-to-strong pipeline of the onnx engine on the tiny checkpoint suite, without the
//! scheduler: dataset → embed (weak model, every strong checkpoint) → weak labels →
//! W2S student, ceiling, PGR, probe → correlations across checkpoints. Prints a table and
//! the embedding throughput.
//!
//! ```text
//! cargo run -p warmstart-onnx --example tiny_w2sg -- \
//!     /work/shared/data/hh-rlhf-helpful fixtures/tiny-suite 1000 [threads]
//! ```

use std::path::PathBuf;
use std::time::Instant;

use warmstart_engine::{
    Engine, EngineError, NamedTable, Params, StageInput, StageOutput, StageRequest, Value,
};
use warmstart_onnx::OnnxEngine;

fn run(
    e: &OnnxEngine,
    kind: &str,
    set: &[(&str, Value)],
    inputs: Vec<StageInput>,
    threads: usize,
) -> Result<StageOutput, EngineError> {
    let spec = e
        .info()
        .kind(kind)
        .ok_or_else(|| EngineError::failed("no kind"))?;
    let mut params = Params::new();
    for s in &spec.params {
        if let Some(d) = &s.default {
            params.insert(s.name.clone(), d.clone());
        }
    }
    for (k, v) in set {
        params.insert(k.to_string(), v.clone());
    }
    e.run(&StageRequest {
        stage: kind.into(),
        coords: vec![],
        kind: kind.into(),
        params,
        seed: 4,
        inputs,
        threads,
        scratch_dir: None,
        base_dir: None,
    })
}

fn inp(stage: &str, coords: Vec<(String, Value)>, tables: &[NamedTable]) -> StageInput {
    StageInput {
        stage: stage.into(),
        coords,
        tables: tables.to_vec(),
    }
}

fn col(out: &StageOutput, t: &str, c: &str) -> f64 {
    out.tables
        .iter()
        .find(|x| x.name == t)
        .and_then(|x| warmstart_onnx::tables::numbers(&x.batch, c).ok())
        .and_then(|v| v.first().copied())
        .unwrap_or(f64::NAN)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let data = PathBuf::from(
        args.get(1)
            .map_or("/work/shared/data/hh-rlhf-helpful", |s| s),
    );
    let suite = PathBuf::from(args.get(2).map_or("fixtures/tiny-suite", |s| s));
    let limit: i64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let threads: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(1);
    let e = OnnxEngine::new();
    let ds = |split: &str| {
        run(
            &e,
            "dataset",
            &[
                (
                    "path",
                    data.join(format!("{split}.jsonl"))
                        .display()
                        .to_string()
                        .into(),
                ),
                ("limit", Value::Int(limit)),
            ],
            vec![],
            threads,
        )
    };
    let (gt, w2s, test) = (ds("train_gt")?, ds("train_w2s")?, ds("test")?);
    let (mut tokens, mut secs) = (0f64, 0f64);
    let mut embed = |ck: &PathBuf, d: &StageOutput| -> Result<StageOutput, EngineError> {
        let t = Instant::now();
        let o = run(
            &e,
            "embed",
            &[
                ("checkpoint", ck.display().to_string().into()),
                ("max_length", Value::Int(256)),
                ("batch_size", Value::Int(32)),
            ],
            vec![inp("data", vec![], &d.tables)],
            threads,
        )?;
        secs += t.elapsed().as_secs_f64();
        tokens += col(&o, "checkpoint", "tokens");
        Ok(o)
    };
    let weak_ck = suite.join("weak/step-01024");
    let (wg, ww, wt) = (
        embed(&weak_ck, &gt)?,
        embed(&weak_ck, &w2s)?,
        embed(&weak_ck, &test)?,
    );
    let weak_labels = run(
        &e,
        "reward-head",
        &[],
        vec![
            inp("gt", vec![], &wg.tables),
            inp("w2s", vec![], &ww.tables),
        ],
        threads,
    )?;
    let weak_acc = run(
        &e,
        "reward-head",
        &[],
        vec![
            inp("gt", vec![], &wg.tables),
            inp("test", vec![], &wt.tables),
        ],
        threads,
    )?;
    let weak = col(&weak_acc, "metrics", "accuracy");
    println!(
        "weak model test accuracy {weak:.4} (weak-split label accuracy {:.4})",
        col(&weak_labels, "metrics", "accuracy")
    );
    println!("step\teval_loss\tceiling\tw2s\tpgr\tprobe_best");
    let mut gathered: Vec<StageInput> = Vec::new();
    let mut steps: Vec<PathBuf> = std::fs::read_dir(suite.join("strong"))?
        .filter_map(|d| d.ok().map(|d| d.path()))
        .collect();
    steps.sort();
    for ck in steps {
        let (sg, sw, st) = (embed(&ck, &gt)?, embed(&ck, &w2s)?, embed(&ck, &test)?);
        let step = col(&sg, "checkpoint", "step") as i64;
        let coords = vec![("checkpoint".to_string(), Value::Int(step))];
        let ceiling = run(
            &e,
            "reward-head",
            &[],
            vec![
                inp("gt", vec![], &sg.tables),
                inp("test", vec![], &st.tables),
            ],
            threads,
        )?;
        let student = run(
            &e,
            "reward-head",
            &[],
            vec![
                inp("w2s", vec![], &sw.tables),
                inp("test", vec![], &st.tables),
                inp("labels", vec![], &weak_labels.tables),
            ],
            threads,
        )?;
        let pgr = run(
            &e,
            "pgr",
            &[],
            vec![
                inp("weak", vec![], &weak_acc.tables),
                inp("w2s", vec![], &student.tables),
                inp("ceiling", vec![], &ceiling.tables),
            ],
            threads,
        )?;
        let probe = run(
            &e,
            "probe",
            &[],
            vec![inp("emb", vec![], &sg.tables)],
            threads,
        )?;
        println!(
            "{step}\t{:.4}\t{:.4}\t{:.4}\t{:.3}\t{:.4}",
            col(&sg, "checkpoint", "eval_loss"),
            col(&ceiling, "metrics", "accuracy"),
            col(&student, "metrics", "accuracy"),
            col(&pgr, "pgr", "pgr"),
            col(&probe, "summary", "best_accuracy"),
        );
        gathered.push(inp("w2s", coords.clone(), &student.tables));
        gathered.push(inp("probe", coords.clone(), &probe.tables));
        gathered.push(inp("embed", coords, &sg.tables));
    }
    for (x, xt, xc) in [
        ("probe", "summary", "best_accuracy"),
        ("embed", "checkpoint", "eval_loss"),
    ] {
        let c = run(
            &e,
            "correlate",
            &[
                ("x_stage", x.into()),
                ("x_table", xt.into()),
                ("x_column", xc.into()),
                ("y_stage", "w2s".into()),
                ("y_table", "metrics".into()),
                ("y_column", "accuracy".into()),
                ("axis", "checkpoint".into()),
            ],
            gathered.clone(),
            threads,
        )?;
        println!(
            "{x}.{xc} vs w2s accuracy: r = {:.3}, R² = {:.3} (p = {:.2e}), Spearman ρ = {:.3} (p = {:.2e})",
            col(&c, "correlation", "pearson_r"),
            col(&c, "correlation", "r_squared"),
            col(&c, "correlation", "pearson_p"),
            col(&c, "correlation", "spearman_rho"),
            col(&c, "correlation", "spearman_p"),
        );
    }
    println!(
        "embedding: {tokens:.0} tokens in {secs:.1} s = {:.0} tokens/s ({threads} thread(s), all layers kept)",
        tokens / secs
    );
    Ok(())
}
