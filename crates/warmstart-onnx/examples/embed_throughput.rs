//! Embedding throughput of the `embed` kind on one checkpoint (tokenization, ONNX Runtime,
//! pooling and the Arrow table; all layers kept).
//!
//! ```text
//! cargo run -p warmstart-onnx --example embed_throughput -- \
//!     fixtures/tiny-suite/strong/step-01024 /work/shared/data/hh-rlhf-helpful/test.jsonl \
//!     1000 1 32 512
//! ```
//! (checkpoint, data, pairs, threads, batch_size, max_length)

use std::time::Instant;

use warmstart_engine::{Engine, Params, StageInput, StageRequest, Value};
use warmstart_onnx::OnnxEngine;

fn request(
    e: &OnnxEngine,
    kind: &str,
    set: Vec<(&str, Value)>,
    inputs: Vec<StageInput>,
    threads: usize,
) -> StageRequest {
    let mut params = Params::new();
    for s in &e
        .info()
        .kind(kind)
        .map(|k| k.params.clone())
        .unwrap_or_default()
    {
        if let Some(d) = &s.default {
            params.insert(s.name.clone(), d.clone());
        }
    }
    for (k, v) in set {
        params.insert(k.to_string(), v);
    }
    StageRequest {
        stage: kind.into(),
        coords: vec![],
        kind: kind.into(),
        params,
        seed: 0,
        inputs,
        threads,
        scratch_dir: None,
        base_dir: None,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<String> = std::env::args().collect();
    let arg = |i: usize, d: &str| a.get(i).cloned().unwrap_or_else(|| d.to_string());
    let ck = arg(1, "fixtures/tiny-suite/strong/step-01024");
    let data = arg(2, "/work/shared/data/hh-rlhf-helpful/test.jsonl");
    let n: i64 = arg(3, "1000").parse()?;
    let threads: usize = arg(4, "1").parse()?;
    let batch: i64 = arg(5, "32").parse()?;
    let max_len: i64 = arg(6, "512").parse()?;
    let e = OnnxEngine::new();
    let ds = e.run(&request(
        &e,
        "dataset",
        vec![("path", data.into()), ("limit", Value::Int(n))],
        vec![],
        threads,
    ))?;
    let input = StageInput {
        stage: "data".into(),
        coords: vec![],
        tables: ds.tables,
    };
    // Warm-up: loads ONNX Runtime once.
    let _ = warmstart_onnx::runtime::runtime()?;
    let t = Instant::now();
    let out = e.run(&request(
        &e,
        "embed",
        vec![
            ("checkpoint", ck.clone().into()),
            ("batch_size", Value::Int(batch)),
            ("max_length", Value::Int(max_len)),
        ],
        vec![input],
        threads,
    ))?;
    let secs = t.elapsed().as_secs_f64();
    let tokens = out
        .tables
        .iter()
        .find(|t| t.name == "checkpoint")
        .and_then(|t| warmstart_onnx::tables::numbers(&t.batch, "tokens").ok())
        .and_then(|v| v.first().copied())
        .unwrap_or(0.0);
    println!(
        "{ck}: {n} pairs, {tokens:.0} tokens in {secs:.2} s = {:.0} tokens/s ({threads} thread(s), batch {batch}, max_length {max_len})",
        tokens / secs
    );
    Ok(())
}
