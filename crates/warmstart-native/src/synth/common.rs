//! Shared helpers of the synthetic kinds: error mapping, param access, building and reading
//! Arrow tables, and (de)serialising a problem instance.

use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use warmstart_engine::{EngineError, InputSpec, NamedTable, StageRequest, TableSpec, Value};
use warmstart_synth::SynthError;
use warmstart_synth::activation::ActivationKind;
use warmstart_synth::model::{Problem, ProblemParams};
use warmstart_synth::quadrature::GaussHermite;
use warmstart_synth::risk::default_quad_n;

/// Maps a math-crate error onto the engine's error (param errors keep the param name).
pub fn se(e: SynthError) -> EngineError {
    match e {
        SynthError::Param(name, msg) => EngineError::param(name, msg),
        SynthError::Numerical(msg) => EngineError::failed(msg),
        // A kind of error added later is still a stage failure with its message.
        other => EngineError::failed(other.to_string()),
    }
}

/// A column under construction.
pub enum Col {
    F64(Vec<f64>),
    I64(Vec<i64>),
    Str(Vec<String>),
    Bool(Vec<bool>),
}

impl Col {
    fn into_array(self) -> (DataType, ArrayRef) {
        match self {
            Col::F64(v) => (DataType::Float64, Arc::new(Float64Array::from(v))),
            Col::I64(v) => (DataType::Int64, Arc::new(Int64Array::from(v))),
            Col::Str(v) => (DataType::Utf8, Arc::new(StringArray::from(v))),
            Col::Bool(v) => (DataType::Boolean, Arc::new(BooleanArray::from(v))),
        }
    }
}

/// Builds a RecordBatch from (name, column) pairs.
pub fn batch(cols: Vec<(String, Col)>) -> Result<RecordBatch, EngineError> {
    let mut fields = Vec::new();
    let mut arrays = Vec::new();
    for (name, col) in cols {
        let (ty, arr) = col.into_array();
        fields.push(Field::new(name, ty, true));
        arrays.push(arr);
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
}

/// Shorthand for `batch` with `&str` names.
pub fn table(cols: Vec<(&str, Col)>) -> Result<RecordBatch, EngineError> {
    batch(cols.into_iter().map(|(n, c)| (n.to_string(), c)).collect())
}

/// The first table called `name` among the request's inputs.
pub fn find_table<'a>(req: &'a StageRequest, name: &str) -> Option<&'a RecordBatch> {
    req.inputs.iter().find_map(|i| i.table(Some(name)))
}

/// Like [`find_table`], but an input error naming what is missing.
pub fn need_table<'a>(req: &'a StageRequest, name: &str) -> Result<&'a RecordBatch, EngineError> {
    find_table(req, name).ok_or_else(|| {
        EngineError::Input(format!(
            "stage `{}` ({}) needs an input with a `{name}` table; inputs have: {}",
            req.stage,
            req.kind,
            req.inputs
                .iter()
                .map(|i| format!(
                    "{} [{}]",
                    i.stage,
                    i.tables
                        .iter()
                        .map(|t| t.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .collect::<Vec<_>>()
                .join("; ")
        ))
    })
}

/// The shared column readers (one set of accepted types for every engine): numbers from
/// Float64/Float32/Int64/Int32/Boolean (true = 1, false = 0) with nulls as NaN, strings from
/// Utf8/LargeUtf8/Utf8View.
pub use warmstart_engine::{f64_column as col_f64, string_column as col_str};

/// The first value of a numeric column of a one-row table.
pub fn scalar(b: &RecordBatch, name: &str) -> Result<f64, EngineError> {
    col_f64(b, name)?
        .first()
        .copied()
        .ok_or_else(|| EngineError::Input(format!("table with column `{name}` is empty")))
}

/// Reads `name` as a number param (defaults are filled in by the planner; a missing one
/// is an error rather than a silent fallback).
pub fn f(req: &StageRequest, name: &str) -> Result<f64, EngineError> {
    req.f64(name)
}

/// A list-of-numbers param.
pub fn f_list(req: &StageRequest, name: &str) -> Result<Vec<f64>, EngineError> {
    req.opt(name)
        .and_then(Value::as_list)
        .ok_or_else(|| EngineError::param(name, "expected a list of numbers"))?
        .iter()
        .map(|v| {
            v.as_f64()
                .ok_or_else(|| EngineError::param(name, "expected numbers"))
        })
        .collect()
}

/// The Gauss–Hermite rule for `quad_n` (0 = the activation's default).
pub fn quadrature(req: &StageRequest, p: &Problem) -> Result<GaussHermite, EngineError> {
    let n = req.usize("quad_n")?;
    let n = if n == 0 {
        default_quad_n(p.params.activation)
    } else {
        n
    };
    GaussHermite::new(n).map_err(se)
}

/// The `quad_n` param spec shared by kinds that compute exact risks.
pub fn quad_n_spec() -> warmstart_engine::ParamSpec {
    warmstart_engine::ParamSpec::int(
        "quad_n",
        "Gauss–Hermite nodes per dimension for exact risks (0 = auto: 8 for the He3 family, \
         which is exact, 96 otherwise).",
    )
    .default(0)
    .range(0.0, 200.0)
}

/// The `meta` and `problem` tables of an instance.
pub fn problem_tables(p: &Problem) -> Result<Vec<NamedTable>, EngineError> {
    let meta = table(vec![
        ("d", Col::I64(vec![p.d() as i64])),
        ("alpha", Col::F64(vec![p.params.alpha])),
        ("rho", Col::F64(vec![p.params.rho])),
        ("lambda", Col::F64(vec![p.params.lambda])),
        (
            "activation",
            Col::Str(vec![p.params.activation.name().into()]),
        ),
        ("s2", Col::F64(vec![p.params.s2()])),
        ("act_constant", Col::F64(vec![p.act.constant])),
    ])?;
    let prob = table(vec![
        ("i", Col::I64((0..p.d() as i64).collect())),
        ("w_star", Col::F64(p.w_star.clone())),
        ("v", Col::F64(p.v.clone())),
        ("w_weak", Col::F64(p.w_weak.clone())),
    ])?;
    Ok(vec![
        NamedTable::new("meta", meta),
        NamedTable::new("problem", prob),
    ])
}

/// The declaration of [`problem_tables`]' `meta` (written by `generate`, passed through by
/// the kinds downstream of it).
pub fn meta_spec() -> TableSpec {
    TableSpec::new("meta", "The problem's scalars (one row).")
        .col("d", "int64", "Dimension.")
        .col("alpha", "float64", "α = ⟨v, w*⟩.")
        .col("rho", "float64", "ρ = ⟨w_weak, w*⟩.")
        .col("lambda", "float64", "Spike strength λ.")
        .col("activation", "utf8", "The activation's name.")
        .col("s2", "float64", "s² = 1 + λα².")
        .col(
            "act_constant",
            "float64",
            "s² of shifted-he3, c of proj-tanh or k of bounded-tanh.",
        )
}

/// The declaration of [`problem_tables`]' `problem`.
pub fn problem_spec() -> TableSpec {
    TableSpec::new("problem", "The problem's vectors, one row per coordinate.")
        .col("i", "int64", "Coordinate index.")
        .col("w_star", "float64", "The target w*.")
        .col("v", "float64", "The spike v.")
        .col("w_weak", "float64", "The weak supervisor w_weak.")
}

/// The declaration of a [`vector_table`] called `name`.
pub fn vector_spec(name: &str, doc: &str) -> TableSpec {
    TableSpec::new(name, doc)
        .col("i", "int64", "Coordinate index.")
        .col("w", "float64", "The vector's coordinate.")
}

/// The columns of a run's one-row summary (`finetune`'s `summary`, and per input in
/// `aggregate`'s), added to `t`.
pub fn with_run_summary(t: TableSpec) -> TableSpec {
    t.col("final_dist2", "float64", "‖w − w*‖² at the end.")
        .col("min_dist2", "float64", "")
        .col("final_risk", "float64", "")
        .col("min_risk", "float64", "")
        .col("weak_risk", "float64", "R(w_weak).")
        .col("weak_dist2", "float64", "2 − 2ρ.")
        .col("w2sg", "bool", "final_risk < weak_risk.")
}

/// What every kind that rebuilds the problem with [`load_problem`] reads.
pub fn problem_inputs() -> Vec<InputSpec> {
    vec![
        InputSpec::new(
            "meta",
            &["generate", "pretrain", "weak-label", "finetune"],
            "The problem's scalars.",
        ),
        InputSpec::new(
            "problem",
            &["generate", "pretrain", "weak-label", "finetune"],
            "w*, v, w_weak.",
        ),
    ]
}

/// Rebuilds the instance from the `meta` and `problem` tables of the inputs.
pub fn load_problem(req: &StageRequest) -> Result<Problem, EngineError> {
    let meta = need_table(req, "meta")?;
    let prob = need_table(req, "problem")?;
    let d = scalar(meta, "d")?;
    let act = col_str(meta, "activation")?;
    let act = act
        .first()
        .ok_or_else(|| EngineError::Input("empty `meta` table".into()))?;
    let params = ProblemParams {
        d: d as usize,
        alpha: scalar(meta, "alpha")?,
        rho: scalar(meta, "rho")?,
        lambda: scalar(meta, "lambda")?,
        activation: ActivationKind::parse(act).map_err(se)?,
    };
    Problem::from_parts(
        params,
        col_f64(prob, "w_star")?,
        col_f64(prob, "v")?,
        col_f64(prob, "w_weak")?,
    )
    .map_err(|e| EngineError::Input(format!("invalid problem tables: {e}")))
}

/// A one-vector table (`i`, `w`).
pub fn vector_table(w: &[f64]) -> Result<RecordBatch, EngineError> {
    table(vec![
        ("i", Col::I64((0..w.len() as i64).collect())),
        ("w", Col::F64(w.to_vec())),
    ])
}

#[cfg(test)]
pub mod testing {
    //! Helpers for the kinds' unit tests: build requests with a kind's defaults filled in,
    //! as the planner would.

    use warmstart_engine::{KindSpec, Params, StageInput, StageOutput, StageRequest, Value};

    pub fn request(
        spec: KindSpec,
        overrides: &[(&str, Value)],
        inputs: Vec<StageInput>,
    ) -> StageRequest {
        let mut params = Params::new();
        for p in &spec.params {
            if let Some(d) = &p.default {
                params.insert(p.name.clone(), d.clone());
            }
        }
        for (k, v) in overrides {
            let ps = spec
                .params
                .iter()
                .find(|p| p.name == *k)
                .unwrap_or_else(|| panic!("no param {k}"));
            let v = ps.check(v).unwrap_or_else(|e| panic!("param {k}: {e}"));
            params.insert(k.to_string(), v);
        }
        StageRequest {
            stage: spec.name.clone(),
            coords: vec![],
            kind: spec.name.clone(),
            params,
            seed: 42,
            inputs,
            threads: 1,
            scratch_dir: None,
            base_dir: None,
        }
    }

    pub fn input(stage: &str, out: StageOutput, coords: Vec<(String, Value)>) -> StageInput {
        StageInput {
            stage: stage.into(),
            coords,
            tables: out.tables,
        }
    }

    pub fn table<'a>(out: &'a StageOutput, name: &str) -> &'a arrow_array::RecordBatch {
        &out.tables
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("no table {name}"))
            .batch
    }
}
