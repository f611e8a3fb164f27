//! `correlate`: Pearson r, R², Spearman ρ and their p-values between two columns gathered
//! across a sweep axis, with bootstrap intervals over the rows behind each point.
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
//! Intervals (see [`crate::bootstrap`] and [`sides`]): `bootstrap` resamples of each
//! side's rows — with replacement, the same row indices for every point of a side (rows
//! aligned by `id`, else by position), shared by x and y when both read the same rows —
//! recompute every point, r and ρ; the intervals are their percentile intervals at level
//! `confidence`. A side whose tables have one row (a probe's `summary`) is fixed: its
//! interval is its point. The intended use is `y_table = "predictions"`,
//! `y_column = "correct"`: y is each checkpoint's W2S accuracy and the interval is over
//! test pairs. With `bootstrap = 0`, or both sides fixed, no bootstrap runs: `bootstrap`
//! is 0 and every `_lo`/`_hi` is NaN.
//!
//! Outputs: `correlation` (one row: `n`, `pearson_r`, `r_squared`, `pearson_p`,
//! `spearman_rho`, `spearman_p`, `pearson_r_lo`, `pearson_r_hi`, `spearman_rho_lo`,
//! `spearman_rho_hi`, `bootstrap`, `confidence`) and `points` (`key`, `x`, `y`, `x_lo`,
//! `x_hi`, `y_lo`, `y_hi`).

mod sides;

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{Field, Schema};
use statrs::distribution::{ContinuousCDF, StudentsT};
use warmstart_engine::{
    ColumnRef, Determinism, EngineError, InputSpec, KindSpec, ParamSpec, StageOutput, StageRequest,
    TableSpec,
};

pub use sides::{Bands, Instance, Side, Source, bootstrap, gather};

use crate::bootstrap::Settings;

pub fn spec() -> KindSpec {
    let [bootstrap, confidence] = crate::bootstrap::param_specs();
    KindSpec {
        name: "correlate".into(),
        doc: "Pearson r, R², Spearman ρ and p-values between two columns across a sweep axis, \
              with bootstrap intervals"
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
            bootstrap,
            confidence,
        ],
        determinism: Determinism::Seeded,
        min_inputs: 2,
        max_inputs: None,
        reads: vec![InputSpec::new(
            "`x_table` of `x_stage`'s and `y_table` of `y_stage`'s instances",
            &["probe", "reward-head"],
            "Each instance gives the mean of one column; for the bootstrap its rows are \
             aligned across instances by an `id` column if there is one, else by position.",
        )],
        writes: vec![
            TableSpec::new("correlation", "One row.")
                .col("n", "int64", "Paired points.")
                .col("pearson_r", "float64", "")
                .col("r_squared", "float64", "")
                .col("pearson_p", "float64", "Two-sided.")
                .col("spearman_rho", "float64", "")
                .col("spearman_p", "float64", "Two-sided.")
                .col(
                    "pearson_r_lo",
                    "float64",
                    "Lower end of r's percentile interval (NaN when no bootstrap ran).",
                )
                .col("pearson_r_hi", "float64", "Upper end of r's interval.")
                .col("spearman_rho_lo", "float64", "Lower end of ρ's interval.")
                .col("spearman_rho_hi", "float64", "Upper end of ρ's interval.")
                .col(
                    "bootstrap",
                    "int64",
                    "Resamples drawn; 0 when none ran (`bootstrap = 0`, or both sides have \
                     one row per instance).",
                )
                .col("confidence", "float64", "The intervals' level."),
            TableSpec::new("points", "One row per paired instance.")
                .col("key", "utf8", "The pairing coordinates.")
                .col("x", "float64", "")
                .col("y", "float64", "")
                .col(
                    "x_lo",
                    "float64",
                    "Lower end of x's interval (x itself for a one-row side; NaN when no \
                     bootstrap ran).",
                )
                .col("x_hi", "float64", "Upper end of x's interval.")
                .col("y_lo", "float64", "Lower end of y's interval.")
                .col("y_hi", "float64", "Upper end of y's interval."),
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

pub fn run(req: &StageRequest) -> Result<StageOutput, EngineError> {
    let axis = req.str("axis")?;
    let settings = Settings::of(req)?;
    let source = |side: &str| -> Result<Source<'_>, EngineError> {
        Ok(Source {
            stage: req.str(&format!("{side}_stage"))?,
            table: req.str(&format!("{side}_table"))?,
            column: req.str(&format!("{side}_column"))?,
        })
    };
    let (xsrc, ysrc) = (source("x")?, source("y")?);
    let xs = gather(&req.inputs, xsrc, axis)?;
    let ys = gather(&req.inputs, ysrc, axis)?;
    let keys: Vec<&String> = xs.keys().filter(|k| ys.contains_key(*k)).collect();
    let x: Vec<f64> = keys.iter().map(|k| xs[*k].mean()).collect();
    let y: Vec<f64> = keys.iter().map(|k| ys[*k].mean()).collect();
    let c = correlate(&x, &y)?;
    let bands = if settings.resamples == 0 {
        Bands::none(keys.len())
    } else {
        let xi: Vec<&Instance> = keys.iter().map(|k| &xs[*k]).collect();
        let yi: Vec<&Instance> = keys.iter().map(|k| &ys[*k]).collect();
        let xside = Side::align(&xi, &table_words(xsrc.table))?;
        let mut yside = Side::align(&yi, &table_words(ysrc.table))?;
        let same_tables = xsrc.stage == ysrc.stage && xsrc.table == ysrc.table;
        let paired = same_tables || xside.ids.as_deref().is_some_and(|o| yside.reorder_to(o));
        bootstrap(&xside, &yside, paired, &settings)
    };
    let mut out = StageOutput::default();
    out.push(
        "correlation",
        correlation_table(&c, &bands, settings.confidence)?,
    )
    .push("points", points_table(&keys, &x, &y, &bands)?);
    Ok(out)
}

/// How messages name a side's table.
fn table_words(table: &str) -> String {
    if table.is_empty() {
        "table".into()
    } else {
        format!("`{table}` table")
    }
}

/// A non-null column.
fn column(name: &str, array: ArrayRef) -> (Field, ArrayRef) {
    (Field::new(name, array.data_type().clone(), false), array)
}

fn floats(v: impl IntoIterator<Item = f64>) -> ArrayRef {
    Arc::new(Float64Array::from_iter_values(v))
}

fn batch(cols: Vec<(Field, ArrayRef)>) -> Result<RecordBatch, EngineError> {
    let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = cols.into_iter().unzip();
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
}

/// The one-row `correlation` table.
fn correlation_table(
    c: &Correlation,
    b: &Bands,
    confidence: f64,
) -> Result<RecordBatch, EngineError> {
    let one = |v: f64| floats([v]);
    batch(vec![
        column("n", Arc::new(Int64Array::from(vec![c.n as i64]))),
        column("pearson_r", one(c.pearson_r)),
        column("r_squared", one(c.r_squared)),
        column("pearson_p", one(c.pearson_p)),
        column("spearman_rho", one(c.spearman_rho)),
        column("spearman_p", one(c.spearman_p)),
        column("pearson_r_lo", one(b.pearson_r.0)),
        column("pearson_r_hi", one(b.pearson_r.1)),
        column("spearman_rho_lo", one(b.spearman_rho.0)),
        column("spearman_rho_hi", one(b.spearman_rho.1)),
        column(
            "bootstrap",
            Arc::new(Int64Array::from(vec![b.resamples as i64])),
        ),
        column("confidence", one(confidence)),
    ])
}

/// The `points` table: one row per paired instance.
fn points_table(
    keys: &[&String],
    x: &[f64],
    y: &[f64],
    b: &Bands,
) -> Result<RecordBatch, EngineError> {
    batch(vec![
        column(
            "key",
            Arc::new(StringArray::from_iter_values(
                keys.iter().map(|k| k.as_str()),
            )),
        ),
        column("x", floats(x.iter().copied())),
        column("y", floats(y.iter().copied())),
        column("x_lo", floats(b.x.iter().map(|i| i.0))),
        column("x_hi", floats(b.x.iter().map(|i| i.1))),
        column("y_lo", floats(b.y.iter().map(|i| i.0))),
        column("y_hi", floats(b.y.iter().map(|i| i.1))),
    ])
}

#[cfg(test)]
mod tests;
