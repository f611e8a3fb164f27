//! `pgr`: performance gap recovered, `PGR = (w2s − weak)/(ceiling − weak)`, with paired
//! bootstrap intervals over test pairs.
//!
//! Inputs, by position: the weak supervisor's, the weak-to-strong student's and the strong
//! ceiling's `reward-head` outputs; from each it reads column `column` (default
//! `accuracy`) of table `metrics` (or the first table). When ceiling = weak the gap is
//! empty and PGR is NaN. These point estimates do not depend on the bootstrap.
//!
//! Intervals (see [`crate::bootstrap`]): when `column` is `accuracy`, `bootstrap` > 0 and
//! all three inputs have a `predictions` table with columns `id` and `correct`, the three
//! tables are aligned by `id` — they must hold exactly the same ids (the same test split),
//! else the stage fails saying which id differs — and `bootstrap` resamples of the n test
//! pairs are drawn with replacement, the same indices for the three heads. Each resample
//! gives three accuracies (means of `correct`) and their PGR; the intervals are percentile
//! intervals at level `confidence`, PGR's over the resamples where ceiling ≠ weak. In any
//! other case (another `column`, `bootstrap = 0`, an input without such a table, or no
//! pairs) no bootstrap runs: `n_pairs` and `bootstrap` are 0 and the interval columns NaN.
//!
//! Output: `pgr` (one row: `weak`, `w2s`, `ceiling`, `pgr`, `n_pairs`, `weak_lo`, `weak_hi`,
//! `w2s_lo`, `w2s_hi`, `ceiling_lo`, `ceiling_hi`, `pgr_lo`, `pgr_hi`, `bootstrap`,
//! `confidence`).

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use warmstart_engine::{
    ColumnRef, Determinism, EngineError, InputSpec, KindSpec, ParamSpec, StageInput, StageOutput,
    StageRequest, TableSpec, label,
};

use crate::bootstrap::{Resampler, Rows, Settings, align_by_id, mean_at, percentile_interval};
use crate::tables::{input_table, numbers, strings};

/// The interval columns, in output order: (name, doc).
const INTERVALS: [(&str, &str); 8] = [
    ("weak_lo", "Lower end of the weak accuracy's interval."),
    ("weak_hi", "Upper end of the weak accuracy's interval."),
    ("w2s_lo", "Lower end of the W2S accuracy's interval."),
    ("w2s_hi", "Upper end of the W2S accuracy's interval."),
    (
        "ceiling_lo",
        "Lower end of the ceiling accuracy's interval.",
    ),
    (
        "ceiling_hi",
        "Upper end of the ceiling accuracy's interval.",
    ),
    (
        "pgr_lo",
        "Lower end of PGR's interval (over the resamples with ceiling ≠ weak).",
    ),
    ("pgr_hi", "Upper end of PGR's interval."),
];

pub fn spec() -> KindSpec {
    let [bootstrap, confidence] = crate::bootstrap::param_specs();
    let mut table = TableSpec::new("pgr", "One row.")
        .col("weak", "float64", "")
        .col("w2s", "float64", "")
        .col("ceiling", "float64", "")
        .col(
            "pgr",
            "float64",
            "(w2s − weak)/(ceiling − weak); NaN when ceiling = weak.",
        )
        .col(
            "n_pairs",
            "int64",
            "Test pairs the bootstrap resampled (0 when it did not run).",
        );
    for (name, doc) in INTERVALS {
        table = table.col(name, "float64", doc);
    }
    table = table
        .col(
            "bootstrap",
            "int64",
            "Resamples drawn; 0 when no bootstrap ran (`bootstrap = 0`, `column` is not \
             `accuracy`, an input has no `predictions` with `id` and `correct`, or no pairs): \
             then every `_lo`/`_hi` is NaN.",
        )
        .col("confidence", "float64", "The intervals' level.");
    KindSpec {
        name: "pgr".into(),
        doc: "PGR = (w2s − weak)/(ceiling − weak) with paired bootstrap intervals over test \
              pairs; inputs [weak, w2s, ceiling]"
            .into(),
        params: vec![
            ParamSpec::string("column", "The metric column to compare")
                .default("accuracy")
                .names_column(ColumnRef::of_table("metrics")),
            bootstrap,
            confidence,
        ],
        determinism: Determinism::Seeded,
        min_inputs: 3,
        max_inputs: Some(3),
        reads: vec![
            InputSpec::new(
                "metrics",
                &["reward-head"],
                "Weak, W2S student and ceiling, by position; column `column` is read.",
            ),
            InputSpec::new(
                "predictions",
                &["reward-head"],
                "Optional, for the intervals: one row per test pair, the same ids in all three.",
            )
            .col("id", "utf8", "")
            .col("correct", "bool", ""),
        ],
        writes: vec![table],
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

/// The bootstrap's results: `(lo, hi)` of weak, w2s, ceiling and PGR.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Intervals {
    pub n_pairs: usize,
    pub resamples: usize,
    pub weak: (f64, f64),
    pub w2s: (f64, f64),
    pub ceiling: (f64, f64),
    pub pgr: (f64, f64),
}

impl Intervals {
    /// No bootstrap: nothing resampled, NaN intervals.
    pub fn none() -> Intervals {
        let nan = (f64::NAN, f64::NAN);
        Intervals {
            n_pairs: 0,
            resamples: 0,
            weak: nan,
            w2s: nan,
            ceiling: nan,
            pgr: nan,
        }
    }
}

/// The paired percentile bootstrap of `correct` (1/0 per test pair, aligned: entry `i` of
/// each is the same pair) of the weak, w2s and ceiling heads.
pub fn paired_bootstrap(correct: [&[f64]; 3], s: &Settings) -> Intervals {
    let n = correct[0].len();
    if n == 0 || s.resamples == 0 || correct.iter().any(|c| c.len() != n) {
        return Intervals::none();
    }
    let mut rng = Resampler::new(s.seed);
    let mut idx = Vec::with_capacity(n);
    let mut acc: [Vec<f64>; 3] = std::array::from_fn(|_| Vec::with_capacity(s.resamples));
    let mut gap = Vec::with_capacity(s.resamples);
    for _ in 0..s.resamples {
        rng.draw(n, &mut idx);
        let a: [f64; 3] = std::array::from_fn(|k| mean_at(correct[k], &idx));
        for (v, x) in acc.iter_mut().zip(a) {
            v.push(x);
        }
        gap.push(pgr(a[0], a[1], a[2]));
    }
    let [mut weak, mut w2s, mut ceiling] = acc;
    Intervals {
        n_pairs: n,
        resamples: s.resamples,
        weak: percentile_interval(&mut weak, s.confidence),
        w2s: percentile_interval(&mut w2s, s.confidence),
        ceiling: percentile_interval(&mut ceiling, s.confidence),
        pgr: percentile_interval(&mut gap, s.confidence),
    }
}

/// The three inputs' `correct` columns aligned by `id`, or `None` when an input has no
/// `predictions` table with both columns.
fn aligned_correct(inputs: &[StageInput]) -> Result<Option<Vec<Vec<f64>>>, EngineError> {
    let mut tables = Vec::with_capacity(inputs.len());
    for inp in inputs {
        let Some(t) = inp.table(Some("predictions")) else {
            return Ok(None);
        };
        if t.column_by_name("id").is_none() || t.column_by_name("correct").is_none() {
            return Ok(None);
        }
        tables.push((
            label(&inp.stage, &inp.coords),
            strings(t, "id")?,
            numbers(t, "correct")?,
        ));
    }
    let rows: Vec<Rows<'_>> = tables
        .iter()
        .map(|(label, ids, values)| Rows {
            label: label.clone(),
            ids: ids.clone(),
            values,
        })
        .collect();
    let aligned = align_by_id(
        &rows,
        "`predictions` table",
        "evaluate the weak, W2S and ceiling heads on the same split (the same evaluation \
         input), or set `bootstrap = 0` for no intervals",
    )?;
    Ok(Some(aligned.values))
}

pub fn run(req: &StageRequest) -> Result<StageOutput, EngineError> {
    let column = req.str("column")?;
    let settings = Settings::of(req)?;
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
    let iv = match (column, settings.resamples) {
        ("accuracy", 1..) => match aligned_correct(&req.inputs)? {
            Some(c) => paired_bootstrap([&c[0], &c[1], &c[2]], &settings),
            None => Intervals::none(),
        },
        _ => Intervals::none(),
    };
    let mut out = StageOutput::default();
    out.push("pgr", table(v, &iv, settings.confidence)?);
    Ok(out)
}

/// The one-row `pgr` table.
fn table(v: [f64; 3], iv: &Intervals, confidence: f64) -> Result<RecordBatch, EngineError> {
    let f = |name: &str, x: f64| {
        (
            Field::new(name, DataType::Float64, true),
            Arc::new(Float64Array::from(vec![x])) as ArrayRef,
        )
    };
    let i = |name: &str, x: usize| {
        (
            Field::new(name, DataType::Int64, false),
            Arc::new(Int64Array::from(vec![x as i64])) as ArrayRef,
        )
    };
    let ends = [iv.weak, iv.w2s, iv.ceiling, iv.pgr]
        .into_iter()
        .flat_map(|(lo, hi)| [lo, hi]);
    let mut cols = vec![
        f("weak", v[0]),
        f("w2s", v[1]),
        f("ceiling", v[2]),
        f("pgr", pgr(v[0], v[1], v[2])),
        i("n_pairs", iv.n_pairs),
    ];
    cols.extend(INTERVALS.iter().zip(ends).map(|((name, _), x)| f(name, x)));
    cols.push(i("bootstrap", iv.resamples));
    cols.push(f("confidence", confidence));
    let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = cols.into_iter().unzip();
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
}

#[cfg(test)]
#[path = "pgr_tests.rs"]
mod tests;
