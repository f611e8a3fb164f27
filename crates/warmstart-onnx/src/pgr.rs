//! `pgr`: performance gap recovered, `PGR = (w2s − weak)/(ceiling − weak)`.
//!
//! Inputs, by position: the weak supervisor's, the weak-to-strong student's and the strong
//! ceiling's `reward-head` outputs; from each it reads column `column` (default
//! `accuracy`) of table `metrics` (or the first table). When ceiling = weak the gap is
//! empty and PGR is NaN.
//!
//! Output: `pgr` (one row: `weak`, `w2s`, `ceiling`, `pgr`).

use std::sync::Arc;

use arrow_array::{Float64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use warmstart_engine::{
    ColumnRef, Determinism, EngineError, InputSpec, KindSpec, ParamSpec, StageOutput, StageRequest,
    TableSpec,
};

use crate::tables::{input_table, numbers};

pub fn spec() -> KindSpec {
    KindSpec {
        name: "pgr".into(),
        doc: "PGR = (w2s − weak)/(ceiling − weak); inputs [weak, w2s, ceiling]".into(),
        params: vec![
            ParamSpec::string("column", "The metric column to compare")
                .default("accuracy")
                .names_column(ColumnRef::of_table("metrics")),
        ],
        determinism: Determinism::Deterministic,
        min_inputs: 3,
        max_inputs: Some(3),
        reads: vec![InputSpec::new(
            "metrics",
            &["reward-head"],
            "Weak, W2S student and ceiling, by position; column `column` is read.",
        )],
        writes: vec![
            TableSpec::new("pgr", "One row.")
                .col("weak", "float64", "")
                .col("w2s", "float64", "")
                .col("ceiling", "float64", "")
                .col(
                    "pgr",
                    "float64",
                    "(w2s − weak)/(ceiling − weak); NaN when ceiling = weak.",
                ),
        ],
    }
}

/// PGR from the three accuracies (NaN when ceiling = weak).
pub fn pgr(weak: f64, w2s: f64, ceiling: f64) -> f64 {
    let gap = ceiling - weak;
    if gap == 0.0 {
        f64::NAN
    } else {
        (w2s - weak) / gap
    }
}

pub fn run(req: &StageRequest) -> Result<StageOutput, EngineError> {
    let column = req.str("column")?;
    if req.inputs.len() != 3 {
        return Err(EngineError::Input(format!(
            "pgr needs exactly 3 inputs [weak, w2s, ceiling], got {}",
            req.inputs.len()
        )));
    }
    let mut v = [0.0; 3];
    for (slot, inp) in v.iter_mut().zip(&req.inputs) {
        let col = numbers(input_table(inp, "metrics")?, column)?;
        *slot = *col.first().ok_or_else(|| {
            EngineError::Input(format!("`{}` has no `{column}` value", inp.stage))
        })?;
    }
    let schema = Arc::new(Schema::new(
        ["weak", "w2s", "ceiling", "pgr"]
            .iter()
            .map(|n| Field::new(*n, DataType::Float64, true))
            .collect::<Vec<_>>(),
    ));
    let vals = [v[0], v[1], v[2], pgr(v[0], v[1], v[2])];
    let cols = vals
        .iter()
        .map(|&x| Arc::new(Float64Array::from(vec![x])) as arrow_array::ArrayRef)
        .collect();
    let mut out = StageOutput::default();
    out.push("pgr", RecordBatch::try_new(schema, cols)?);
    Ok(out)
}
