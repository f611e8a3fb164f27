//! Reward-head training speed through the real `reward-head` stage, on embeddings written
//! by `bench/head_bench.py` (which times scikit-learn on the same data in the same run).
//!
//! ```text
//! cargo run --release -p warmstart-onnx --example head_speed -- DIR [REPEATS]
//! ```
//!
//! DIR holds `meta.json` (`n_train`, `n_test`, `dim`) and `{train,test}_{chosen,rejected}.f32`
//! (row-major little-endian f32, `n × dim`). Prints one JSON line: the median wall time of the
//! stage (Arrow decoding, standardization, Adam training, evaluation) and its test accuracy.

use std::path::Path;
use std::time::Instant;

use warmstart_engine::{Engine, Params, StageInput, StageOutput, StageRequest};
use warmstart_onnx::OnnxEngine;
use warmstart_onnx::tables::{EmbeddingRow, embedding_table, numbers};

fn read_f32(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// One split as the `embed` stage would have written it (layer 0 only).
fn split(dir: &Path, name: &str, n: usize, dim: usize) -> StageOutput {
    let chosen = read_f32(&dir.join(format!("{name}_chosen.f32")));
    let rejected = read_f32(&dir.join(format!("{name}_rejected.f32")));
    assert_eq!(chosen.len(), n * dim, "{name}: size mismatch");
    let mut rows = Vec::with_capacity(2 * n);
    for i in 0..n {
        for (is_chosen, m) in [(true, &chosen), (false, &rejected)] {
            rows.push(EmbeddingRow {
                id: format!("{name}{i}"),
                chosen: is_chosen,
                layer: 0,
                embedding: m[i * dim..(i + 1) * dim].to_vec(),
            });
        }
    }
    let mut out = StageOutput::default();
    out.push("embeddings", embedding_table(&rows, dim).expect("table"));
    out
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = Path::new(
        args.get(1)
            .map(String::as_str)
            .unwrap_or("target/head-bench"),
    );
    let repeats: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(5);
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).expect("meta.json"))
            .expect("meta.json is JSON");
    let get = |k: &str| meta[k].as_u64().expect(k) as usize;
    let (n_train, n_test, dim) = (get("n_train"), get("n_test"), get("dim"));
    let train = split(dir, "train", n_train, dim);
    let test = split(dir, "test", n_test, dim);

    let engine = OnnxEngine::new();
    let spec = engine.info().kind("reward-head").expect("kind");
    let mut params = Params::new();
    for p in &spec.params {
        if let Some(d) = &p.default {
            params.insert(p.name.clone(), d.clone());
        }
    }
    let input = |stage: &str, out: &StageOutput| StageInput {
        stage: stage.into(),
        coords: vec![],
        tables: out.tables.clone(),
    };
    let req = StageRequest {
        stage: "head".into(),
        coords: vec![],
        kind: "reward-head".into(),
        params,
        seed: 4,
        inputs: vec![input("train", &train), input("test", &test)],
        threads: 1,
        scratch_dir: None,
        base_dir: None,
    };
    let mut times = Vec::new();
    let mut accuracy = f64::NAN;
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        let out = engine.run(&req).expect("reward-head");
        times.push(t.elapsed().as_secs_f64());
        let metrics = out
            .tables
            .iter()
            .find(|t| t.name == "metrics")
            .expect("metrics");
        accuracy = numbers(&metrics.batch, "accuracy").expect("accuracy")[0];
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{}",
        serde_json::json!({
            "seconds": times[times.len() / 2],
            "accuracy": accuracy,
            "n_train": n_train,
            "dim": dim,
        })
    );
}
