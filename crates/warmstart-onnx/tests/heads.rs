//! The embedding kinds on synthetic embeddings with a planted linear concept, the
//! correlation statistics against scipy, PGR, and the split-overlap refusal.

mod common;

use common::*;
use warmstart_engine::{NamedTable, StageOutput, Value};
use warmstart_onnx::OnnxEngine;
use warmstart_onnx::linear::SplitMix;
use warmstart_onnx::tables::{EmbeddingRow, embedding_table};

/// Standard normal from splitmix (Box–Muller).
fn normal(rng: &mut SplitMix) -> f64 {
    let u1 = ((rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let u2 = ((rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// `n` pairs in `dim` dimensions, two layers: in layer 1 the chosen side is shifted along
/// a planted direction u (so r(x) = u·x prefers it); layer 0 is pure noise. Along u the
/// pair difference is N(2√2, 2): the Bayes accuracy is Φ(2) ≈ 0.977.
fn planted(prefix: &str, n: usize, dim: usize, seed: u64) -> StageOutput {
    let mut rng = SplitMix::new(seed);
    let mut u = vec![0.0; dim];
    u[0] = 1.0;
    u[3] = -1.0;
    let mut rows = Vec::new();
    for i in 0..n {
        let id = format!("{prefix}{i}");
        for layer in [0i64, 1] {
            for chosen in [true, false] {
                let shift = if layer == 1 && chosen { 2.0 } else { 0.0 };
                let e: Vec<f32> = (0..dim)
                    .map(|j| (normal(&mut rng) + shift * u[j]) as f32)
                    .collect();
                rows.push(EmbeddingRow {
                    id: id.clone(),
                    chosen,
                    layer,
                    embedding: e,
                });
            }
        }
    }
    let mut out = StageOutput::default();
    out.push("embeddings", embedding_table(&rows, dim).unwrap());
    out
}

fn acc(out: &StageOutput) -> f64 {
    f64_col(out, "metrics", "accuracy")[0]
}

#[test]
fn reward_head_recovers_a_planted_concept_and_w2s_beats_noise() {
    let e = OnnxEngine::new();
    let (gt, weak, test) = (
        planted("g", 800, 16, 1),
        planted("w", 800, 16, 2),
        planted("t", 400, 16, 3),
    );
    // Ceiling: hard labels on gt, layer 1 (the concept layer) → far above chance.
    let ceiling = run(
        &e,
        "reward-head",
        &[("layer", Value::Int(1)), ("lr", Value::Float(1e-2))],
        vec![input("gt", &gt), input("test", &test)],
    )
    .unwrap();
    assert!(acc(&ceiling) > 0.93, "ceiling accuracy {}", acc(&ceiling));
    // On the noise layer it is at chance.
    let noise = run(
        &e,
        "reward-head",
        &[("layer", Value::Int(0)), ("lr", Value::Float(1e-2))],
        vec![input("gt", &gt), input("test", &test)],
    )
    .unwrap();
    assert!(
        (acc(&noise) - 0.5).abs() < 0.1,
        "noise accuracy {}",
        acc(&noise)
    );

    // Weak labels: the head predicts the weak split; a student trains on them (each loss).
    let labeller = run(
        &e,
        "reward-head",
        &[("layer", Value::Int(1)), ("lr", Value::Float(1e-2))],
        vec![input("gt", &gt), input("weak", &weak)],
    )
    .unwrap();
    let soft = f64_col(&labeller, "predictions", "soft_label");
    assert_eq!(soft.len(), 800);
    assert!(soft.iter().all(|p| (0.0..=1.0).contains(p)));
    for loss in ["bce", "reverse-bce", "aux-confidence"] {
        let w2s = run(
            &e,
            "reward-head",
            &[
                ("layer", Value::Int(1)),
                ("lr", Value::Float(1e-2)),
                ("loss", loss.into()),
            ],
            vec![
                input("weak", &weak),
                input("test", &test),
                input("labels", &labeller),
            ],
        )
        .unwrap();
        assert!(acc(&w2s) > 0.9, "{loss}: w2s accuracy {}", acc(&w2s));
    }
}

#[test]
fn overlapping_splits_are_refused() {
    let e = OnnxEngine::new();
    let a = planted("x", 50, 4, 1);
    let b = planted("x", 50, 4, 2); // same ids
    let err = run(
        &e,
        "reward-head",
        &[],
        vec![input("gt", &a), input("test", &b)],
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("split overlap") && err.contains("`gt`") && err.contains("`test`"),
        "{err}"
    );
    // Soft labels whose source shares ids with the eval split are refused too.
    let c = planted("y", 50, 4, 3);
    let labels = run(
        &e,
        "reward-head",
        &[],
        vec![input("gt", &c), input("x", &a)],
    )
    .unwrap();
    let err = run(
        &e,
        "reward-head",
        &[],
        vec![
            input("w", &planted("x", 50, 4, 9)),
            input("test", &planted("z", 50, 4, 8)),
            input("labels", &labels),
        ],
    );
    // Train ids x* == label ids x*, eval z*: allowed.
    assert!(err.is_ok(), "{err:?}");
}

#[test]
fn probe_finds_the_concept_layer() {
    let e = OnnxEngine::new();
    let out = run(
        &e,
        "probe",
        &[],
        vec![input("emb", &planted("p", 500, 16, 5))],
    )
    .unwrap();
    let layers = f64_col(&out, "layers", "layer");
    let test = f64_col(&out, "layers", "test_accuracy");
    assert_eq!(layers, vec![0.0, 1.0]);
    assert!((test[0] - 0.5).abs() < 0.12, "noise layer {}", test[0]);
    assert!(test[1] > 0.93, "concept layer {}", test[1]);
    assert_eq!(f64_col(&out, "summary", "best_layer"), vec![1.0]);
    assert_eq!(f64_col(&out, "layers", "n_test"), vec![100.0, 100.0]);
}

fn one(table: &str, col: &str, v: f64) -> Vec<NamedTable> {
    use arrow_array::{Float64Array, RecordBatch};
    use arrow_schema::{DataType, Field, Schema};
    let b = RecordBatch::try_new(
        std::sync::Arc::new(Schema::new(vec![Field::new(col, DataType::Float64, false)])),
        vec![std::sync::Arc::new(Float64Array::from(vec![v]))],
    )
    .unwrap();
    vec![NamedTable::new(table, b)]
}

#[test]
fn correlation_matches_scipy() {
    // Reference values computed with scipy 1.17.1 in /work/venv-torch:
    //   from scipy import stats
    //   x=[0.52,0.55,0.61,0.58,0.66,0.70,0.69,0.74,0.73,0.80,0.61]
    //   y=[3.9,3.7,3.5,3.6,3.2,3.1,3.15,2.9,3.0,2.8,3.4]
    //   stats.pearsonr(x,y)  -> (-0.9891586236760659, 8.289707432424843e-09)
    //   stats.spearmanr(x,y) -> (-0.9977246841962695, 7.45910345101371e-12)
    let x = [
        0.52, 0.55, 0.61, 0.58, 0.66, 0.70, 0.69, 0.74, 0.73, 0.80, 0.61,
    ];
    let y = [3.9, 3.7, 3.5, 3.6, 3.2, 3.1, 3.15, 2.9, 3.0, 2.8, 3.4];
    let mut inputs = Vec::new();
    for (i, (&a, &b)) in x.iter().zip(&y).enumerate() {
        let coords = vec![("checkpoint".to_string(), Value::Int(i as i64))];
        inputs.push(input_with(
            "probe",
            coords.clone(),
            one("summary", "best_accuracy", a),
        ));
        inputs.push(input_with(
            "embed",
            coords,
            one("checkpoint", "eval_loss", b),
        ));
    }
    let e = OnnxEngine::new();
    let out = run(
        &e,
        "correlate",
        &[
            ("x_stage", "probe".into()),
            ("x_column", "best_accuracy".into()),
            ("y_stage", "embed".into()),
            ("y_table", "checkpoint".into()),
            ("y_column", "eval_loss".into()),
            ("axis", "checkpoint".into()),
        ],
        inputs,
    )
    .unwrap();
    let close = |got: f64, want: f64, rel: f64| {
        assert!((got - want).abs() <= rel * want.abs(), "{got} vs {want}");
    };
    close(
        f64_col(&out, "correlation", "pearson_r")[0],
        -0.9891586236760659,
        1e-9,
    );
    close(
        f64_col(&out, "correlation", "r_squared")[0],
        0.9891586236760659f64.powi(2),
        1e-9,
    );
    close(
        f64_col(&out, "correlation", "pearson_p")[0],
        8.289707432424843e-09,
        1e-4,
    );
    close(
        f64_col(&out, "correlation", "spearman_rho")[0],
        -0.9977246841962695,
        1e-9,
    );
    close(
        f64_col(&out, "correlation", "spearman_p")[0],
        7.45910345101371e-12,
        1e-4,
    );
    assert_eq!(f64_col(&out, "correlation", "n"), vec![11.0]);
}

#[test]
fn pgr_is_the_recovered_fraction_of_the_gap() {
    let e = OnnxEngine::new();
    let mk = |s: &str, v: f64| input_with(s, vec![], one("metrics", "accuracy", v));
    let out = run(
        &e,
        "pgr",
        &[],
        vec![mk("weak", 0.6), mk("w2s", 0.66), mk("ceiling", 0.7)],
    )
    .unwrap();
    let p = f64_col(&out, "pgr", "pgr")[0];
    assert!((p - 0.6).abs() < 1e-12, "{p}");
    let out = run(
        &e,
        "pgr",
        &[],
        vec![mk("weak", 0.6), mk("w2s", 0.66), mk("ceiling", 0.6)],
    )
    .unwrap();
    assert!(f64_col(&out, "pgr", "pgr")[0].is_nan());
}

#[test]
fn dataset_reads_jsonl_with_prompts_and_content_ids() {
    let e = OnnxEngine::with_base_dir(repo());
    let out = run(
        &e,
        "dataset",
        &[("path", "fixtures/hh-mini/train_gt.jsonl".into())],
        vec![],
    )
    .unwrap();
    let t = &out.tables[0].batch;
    assert_eq!(t.num_rows(), 48);
    let prompts = warmstart_onnx::tables::strings(t, "prompt").unwrap();
    assert!(prompts[0].starts_with("\n\nHuman:") && prompts[0].ends_with("Assistant:"));
    // The three splits are disjoint by content id.
    let ids = |p: &str| {
        let o = run(&e, "dataset", &[("path", p.into())], vec![]).unwrap();
        warmstart_onnx::tables::strings(&o.tables[0].batch, "id").unwrap()
    };
    let (a, b, c) = (
        ids("fixtures/hh-mini/train_gt.jsonl"),
        ids("fixtures/hh-mini/train_w2s.jsonl"),
        ids("fixtures/hh-mini/test.jsonl"),
    );
    warmstart_onnx::head::check_disjoint("gt", &a, "w2s", &b).unwrap();
    warmstart_onnx::head::check_disjoint("gt", &a, "test", &c).unwrap();
    warmstart_onnx::head::check_disjoint("w2s", &b, "test", &c).unwrap();
    // key_extra is the file digest.
    let p = params(
        &e,
        "dataset",
        &[("path", "fixtures/hh-mini/test.jsonl".into())],
    );
    let k = warmstart_engine::Engine::key_extra(&e, &p).unwrap();
    assert_eq!(k[0].0, "data");
    assert_eq!(k[0].1.len(), 64);
    let missing = params(&e, "dataset", &[("path", "fixtures/nope.jsonl".into())]);
    let err = warmstart_engine::Engine::key_extra(&e, &missing)
        .unwrap_err()
        .to_string();
    assert!(err.contains("nope.jsonl"), "{err}");
}

#[test]
fn dataset_reads_parquet() {
    use arrow_array::{RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pairs.parquet");
    let schema = std::sync::Arc::new(Schema::new(vec![
        Field::new("chosen", DataType::Utf8, false),
        Field::new("rejected", DataType::Utf8, false),
    ]));
    let b = RecordBatch::try_new(
        schema.clone(),
        vec![
            std::sync::Arc::new(StringArray::from(vec![
                "\n\nHuman: a\n\nAssistant: yes",
                "x1",
            ])),
            std::sync::Arc::new(StringArray::from(vec![
                "\n\nHuman: a\n\nAssistant: no",
                "x2",
            ])),
        ],
    )
    .unwrap();
    let f = std::fs::File::create(&path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(f, schema, None).unwrap();
    w.write(&b).unwrap();
    w.close().unwrap();
    let e = OnnxEngine::new();
    let out = run(
        &e,
        "dataset",
        &[("path", path.display().to_string().into())],
        vec![],
    )
    .unwrap();
    let t = &out.tables[0].batch;
    let prompts = warmstart_onnx::tables::strings(t, "prompt").unwrap();
    assert_eq!(prompts, ["\n\nHuman: a\n\nAssistant:", "x"]);
    let ids = warmstart_onnx::tables::strings(t, "id").unwrap();
    assert_eq!(
        ids[0],
        warmstart_onnx::dataset::pair_id(
            "\n\nHuman: a\n\nAssistant: yes",
            "\n\nHuman: a\n\nAssistant: no"
        )
    );
}

#[test]
fn train_and_eval_embeddings_of_different_sizes_are_a_clear_error() {
    let e = OnnxEngine::new();
    let err = run(
        &e,
        "reward-head",
        &[],
        vec![
            input("gt", &planted("g", 50, 16, 1)),
            input("test", &planted("t", 20, 8, 3)),
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("size 16") && err.contains("size 8"), "{err}");
}
