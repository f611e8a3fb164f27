//! `correlate`: Pearson r, R², Spearman ρ and their p-values between two columns gathered
//! across a sweep axis.
//!
//! The stage gathers instances of two upstream stages (e.g. a probe and a W2S reward head,
//! each swept over `checkpoint`). From every instance of `x_stage` it takes column
//! `x_column` of table `x_table` (the mean over the table's rows; a one-row table gives its
//! value), likewise for `y`, and pairs x and y instances by their value of sweep axis
//! `axis` (or, if `axis` is empty, by all their coordinates).
//!
//! p-values are two-sided, from Student's t with n − 2 degrees of freedom
//! (`t = r·√((n−2)/(1−r²))`), for Pearson and for Spearman (ρ = Pearson r of the average
//! ranks) — what `scipy.stats.pearsonr` and `scipy.stats.spearmanr` report.
//!
//! Outputs: `correlation` (one row: `n`, `pearson_r`, `r_squared`, `pearson_p`,
//! `spearman_rho`, `spearman_p`) and `points` (`key`, `x`, `y`).

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::{Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use statrs::distribution::{ContinuousCDF, StudentsT};
use warmstart_engine::{
    ColumnRef, Determinism, EngineError, InputSpec, KindSpec, ParamSpec, StageInput, StageOutput,
    StageRequest, TableSpec,
};

use crate::tables::numbers;

pub fn spec() -> KindSpec {
    KindSpec {
        name: "correlate".into(),
        doc: "Pearson r, R², Spearman ρ and p-values between two columns across a sweep axis"
            .into(),
        params: vec![
            ParamSpec::string("x_stage", "Upstream stage giving x"),
            ParamSpec::string("x_table", "Its table (empty = first)").default(""),
            ParamSpec::string("x_column", "Its column (mean over rows)")
                .names_column(ColumnRef::of("x_table").from_stage("x_stage")),
            ParamSpec::string("y_stage", "Upstream stage giving y"),
            ParamSpec::string("y_table", "Its table (empty = first)").default(""),
            ParamSpec::string("y_column", "Its column (mean over rows)")
                .names_column(ColumnRef::of("y_table").from_stage("y_stage")),
            ParamSpec::string(
                "axis",
                "Sweep axis pairing x and y instances (empty = all shared coordinates)",
            )
            .default(""),
        ],
        determinism: Determinism::Deterministic,
        min_inputs: 2,
        max_inputs: None,
        reads: vec![InputSpec::new(
            "`x_table` of `x_stage`'s and `y_table` of `y_stage`'s instances",
            &["probe", "reward-head"],
            "Each instance gives the mean of one column.",
        )],
        writes: vec![
            TableSpec::new("correlation", "One row.")
                .col("n", "int64", "Paired points.")
                .col("pearson_r", "float64", "")
                .col("r_squared", "float64", "")
                .col("pearson_p", "float64", "Two-sided.")
                .col("spearman_rho", "float64", "")
                .col("spearman_p", "float64", "Two-sided."),
            TableSpec::new("points", "One row per paired instance.")
                .col("key", "utf8", "The pairing coordinates.")
                .col("x", "float64", "")
                .col("y", "float64", ""),
        ],
    }
}

/// Correlation statistics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Correlation {
    pub n: usize,
    pub pearson_r: f64,
    pub r_squared: f64,
    pub pearson_p: f64,
    pub spearman_rho: f64,
    pub spearman_p: f64,
}

/// Pearson correlation coefficient (NaN if either side is constant).
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    (sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0)
}

/// Ranks 1..n, ties get their average rank.
pub fn ranks(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut r = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for k in i..=j {
            r[idx[k]] = avg;
        }
        i = j + 1;
    }
    r
}

/// Two-sided p-value of a correlation `r` over `n` points (t test, n − 2 df).
pub fn p_value(r: f64, n: usize) -> f64 {
    if n < 3 || r.is_nan() {
        return f64::NAN;
    }
    if r.abs() >= 1.0 {
        return 0.0;
    }
    let df = (n - 2) as f64;
    let t = r * (df / (1.0 - r * r)).sqrt();
    match StudentsT::new(0.0, 1.0, df) {
        Ok(d) => 2.0 * d.sf(t.abs()),
        Err(_) => f64::NAN,
    }
}

/// All statistics for paired samples (needs n ≥ 3).
pub fn correlate(x: &[f64], y: &[f64]) -> Result<Correlation, EngineError> {
    if x.len() != y.len() || x.len() < 3 {
        return Err(EngineError::Input(format!(
            "correlate needs at least 3 paired points, got {} x and {} y",
            x.len(),
            y.len()
        )));
    }
    let r = pearson(x, y);
    let rho = pearson(&ranks(x), &ranks(y));
    Ok(Correlation {
        n: x.len(),
        pearson_r: r,
        r_squared: r * r,
        pearson_p: p_value(r, x.len()),
        spearman_rho: rho,
        spearman_p: p_value(rho, x.len()),
    })
}

fn gather(
    inputs: &[StageInput],
    stage: &str,
    table: &str,
    column: &str,
    axis: &str,
) -> Result<BTreeMap<String, f64>, EngineError> {
    let mut out = BTreeMap::new();
    for inp in inputs.iter().filter(|i| i.stage == stage) {
        let t = if table.is_empty() {
            inp.table(None)
        } else {
            inp.table(Some(table))
        }
        .ok_or_else(|| EngineError::Input(format!("input `{stage}` has no table `{table}`")))?;
        let v = numbers(t, column)?;
        if v.is_empty() {
            return Err(EngineError::Input(format!(
                "column `{column}` of `{stage}` is empty"
            )));
        }
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let key = if axis.is_empty() {
            inp.coords
                .iter()
                .map(|(a, v)| format!("{a}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        } else {
            inp.coord(axis).map(|v| v.to_string()).ok_or_else(|| {
                EngineError::param(
                    "axis",
                    format!("input `{stage}` has no coordinate `{axis}`"),
                )
            })?
        };
        if out.insert(key.clone(), mean).is_some() {
            return Err(EngineError::param(
                "axis",
                format!(
                    "several instances of `{stage}` at {key}: choose an `axis` that tells them apart"
                ),
            ));
        }
    }
    if out.is_empty() {
        return Err(EngineError::Input(format!("no input from stage `{stage}`")));
    }
    Ok(out)
}

pub fn run(req: &StageRequest) -> Result<StageOutput, EngineError> {
    let axis = req.str("axis")?;
    let xs = gather(
        &req.inputs,
        req.str("x_stage")?,
        req.str("x_table")?,
        req.str("x_column")?,
        axis,
    )?;
    let ys = gather(
        &req.inputs,
        req.str("y_stage")?,
        req.str("y_table")?,
        req.str("y_column")?,
        axis,
    )?;
    let keys: Vec<&String> = xs.keys().filter(|k| ys.contains_key(*k)).collect();
    let x: Vec<f64> = keys.iter().map(|k| xs[*k]).collect();
    let y: Vec<f64> = keys.iter().map(|k| ys[*k]).collect();
    let c = correlate(&x, &y)?;
    let corr = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, false),
            Field::new("pearson_r", DataType::Float64, false),
            Field::new("r_squared", DataType::Float64, false),
            Field::new("pearson_p", DataType::Float64, false),
            Field::new("spearman_rho", DataType::Float64, false),
            Field::new("spearman_p", DataType::Float64, false),
        ])),
        vec![
            Arc::new(Int64Array::from(vec![c.n as i64])),
            Arc::new(Float64Array::from(vec![c.pearson_r])),
            Arc::new(Float64Array::from(vec![c.r_squared])),
            Arc::new(Float64Array::from(vec![c.pearson_p])),
            Arc::new(Float64Array::from(vec![c.spearman_rho])),
            Arc::new(Float64Array::from(vec![c.spearman_p])),
        ],
    )?;
    let points = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("key", DataType::Utf8, false),
            Field::new("x", DataType::Float64, false),
            Field::new("y", DataType::Float64, false),
        ])),
        vec![
            Arc::new(StringArray::from_iter_values(
                keys.iter().map(|k| k.as_str()),
            )),
            Arc::new(Float64Array::from(x)),
            Arc::new(Float64Array::from(y)),
        ],
    )?;
    let mut out = StageOutput::default();
    out.push("correlation", corr).push("points", points);
    Ok(out)
}
