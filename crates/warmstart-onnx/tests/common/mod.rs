//! Shared helpers of the warmstart-onnx integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use warmstart_engine::{Engine, NamedTable, Params, StageInput, StageOutput, StageRequest, Value};
use warmstart_onnx::OnnxEngine;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn suite() -> PathBuf {
    repo().join("fixtures/tiny-suite")
}

/// Params = the kind's defaults overridden by `set`.
pub fn params(engine: &OnnxEngine, kind: &str, set: &[(&str, Value)]) -> Params {
    let spec = engine.info().kind(kind).expect("kind");
    let mut p = Params::new();
    for s in &spec.params {
        if let Some(d) = &s.default {
            p.insert(s.name.clone(), d.clone());
        }
    }
    for (k, v) in set {
        p.insert(k.to_string(), v.clone());
    }
    p
}

pub fn input(stage: &str, out: &StageOutput) -> StageInput {
    StageInput {
        stage: stage.into(),
        coords: vec![],
        tables: out.tables.clone(),
    }
}

pub fn input_with(
    stage: &str,
    coords: Vec<(String, Value)>,
    tables: Vec<NamedTable>,
) -> StageInput {
    StageInput {
        stage: stage.into(),
        coords,
        tables,
    }
}

pub fn run(
    engine: &OnnxEngine,
    kind: &str,
    set: &[(&str, Value)],
    inputs: Vec<StageInput>,
) -> Result<StageOutput, warmstart_engine::EngineError> {
    let req = StageRequest {
        stage: format!("test-{kind}"),
        coords: vec![],
        kind: kind.into(),
        params: params(engine, kind, set),
        seed: 4,
        inputs,
        threads: 2,
        scratch_dir: None,
        base_dir: Some(repo()),
    };
    engine.run(&req)
}

pub fn f64_col(out: &StageOutput, table: &str, col: &str) -> Vec<f64> {
    let t = out
        .tables
        .iter()
        .find(|t| t.name == table)
        .unwrap_or_else(|| panic!("no table {table}"));
    warmstart_onnx::tables::numbers(&t.batch, col).expect("column")
}
