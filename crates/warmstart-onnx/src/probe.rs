//! `probe`: per-layer logistic probes of the preference on last-token embeddings.
//!
//! For each layer in the input embedding table and each pair, the feature is
//! `s·(chosen − rejected)/σ` with a seeded random sign `s = ±1` and label `(s+1)/2`: the
//! probe must tell which side is the chosen answer from the embedding difference alone. The
//! pairs are split 4:1 (seeded) into train and test; the probe (no bias, the task is
//! symmetric) is trained with Adam and BCE.
//!
//! Outputs: `layers` (`layer`, `train_accuracy`, `test_accuracy`, `n_train`, `n_test`) and
//! `summary` (one row: `best_layer`, `best_accuracy`, `last_accuracy` = the highest
//! layer's, `mean_accuracy`).

use std::sync::Arc;

use arrow_array::{Float64Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use warmstart_engine::{
    Determinism, EngineError, InputSpec, KindSpec, ParamSpec, StageOutput, StageRequest, TableSpec,
};

use crate::head::pair_features;
use crate::linear::{Linear, Loss, SplitMix, TrainConfig, std_devs, train};
use crate::tables::{input_table, read_pairs};

pub fn spec() -> KindSpec {
    KindSpec {
        name: "probe".into(),
        doc: "Per-layer logistic probe of the preference (4:1 split): test accuracy per layer"
            .into(),
        params: vec![
            ParamSpec::float("test_fraction", "Fraction of pairs held out")
                .range(0.05, 0.95)
                .default(0.2),
            ParamSpec::float("lr", "Adam learning rate")
                .min(0.0)
                .default(1e-2),
            ParamSpec::int("epochs", "Passes over the training pairs")
                .min(1.0)
                .default(20i64),
            ParamSpec::int("batch_size", "Pairs per Adam step")
                .min(1.0)
                .default(32i64),
            ParamSpec::float("l2", "L2 penalty").min(0.0).default(1e-3),
        ],
        determinism: Determinism::Seeded,
        min_inputs: 1,
        max_inputs: Some(1),
        reads: vec![
            InputSpec::new("embeddings", &["embed"], "Last-token hidden states.")
                .col("id", "utf8", "")
                .col("side", "utf8", "")
                .col("layer", "int64", ""),
        ],
        writes: vec![
            TableSpec::new("layers", "One row per layer.")
                .col("layer", "int64", "")
                .col("train_accuracy", "float64", "")
                .col("test_accuracy", "float64", "")
                .col("n_train", "int64", "")
                .col("n_test", "int64", ""),
            TableSpec::new("summary", "One row.")
                .col("best_layer", "int64", "")
                .col("best_accuracy", "float64", "")
                .col("last_accuracy", "float64", "The highest layer's.")
                .col("mean_accuracy", "float64", ""),
        ],
    }
}

/// Accuracy of `m` on the rows of `x` (row-major, `dim` values each).
fn accuracy(m: &Linear, x: &[f64], dim: usize, y: &[f64]) -> f64 {
    let ok = x
        .chunks_exact(dim.max(1))
        .zip(y)
        .filter(|(x, y)| (m.logit(x) > 0.0) == (**y > 0.5))
        .count();
    ok as f64 / y.len().max(1) as f64
}

pub fn run(req: &StageRequest) -> Result<StageOutput, EngineError> {
    let input = req
        .inputs
        .first()
        .ok_or_else(|| EngineError::Input("probe needs an embeddings input".into()))?;
    let by_layer = read_pairs(input_table(input, "embeddings")?)?;
    let frac = req.f64("test_fraction")?;
    let cfg = TrainConfig {
        loss: Loss::Bce,
        lr: req.f64("lr")?,
        epochs: req.usize("epochs")?,
        batch_size: req.usize("batch_size")?,
        l2: req.f64("l2")?,
        bias: false,
        seed: req.seed,
    };
    let mut rows: Vec<(i64, f64, f64, usize, usize)> = Vec::new();
    for (&layer, p) in &by_layer {
        let n = p.ids.len();
        if n < 5 {
            return Err(EngineError::Input(format!(
                "probe needs at least 5 pairs, layer {layer} has {n}"
            )));
        }
        let mut rng = SplitMix::new(req.seed ^ 0x5052_4F42);
        let signs: Vec<f64> = (0..n)
            .map(|_| if rng.next_u64() & 1 == 1 { 1.0 } else { -1.0 })
            .collect();
        let perm = rng.permutation(n);
        let n_test = ((n as f64 * frac).round() as usize).clamp(1, n - 1);
        let (test_idx, train_idx) = perm.split_at(n_test);
        let train_rows: Vec<&[f32]> = train_idx
            .iter()
            .flat_map(|&i| [p.chosen(i), p.rejected(i)])
            .collect();
        let sd = std_devs(&train_rows);
        let feats = pair_features(p, &sd);
        let dim = p.dim;
        let make = |idx: &[usize]| -> (Vec<f64>, Vec<f64>) {
            let mut x = Vec::with_capacity(idx.len() * dim);
            let mut y = Vec::with_capacity(idx.len());
            for &i in idx {
                let s = signs[i];
                x.extend(feats[i * dim..(i + 1) * dim].iter().map(|v| v * s));
                y.push((s + 1.0) / 2.0);
            }
            (x, y)
        };
        let (xtr, ytr) = make(train_idx);
        let (xte, yte) = make(test_idx);
        let m = train(&xtr, dim, &ytr, &cfg);
        rows.push((
            layer,
            accuracy(&m, &xtr, dim, &ytr),
            accuracy(&m, &xte, dim, &yte),
            ytr.len(),
            yte.len(),
        ));
    }
    if rows.is_empty() {
        return Err(EngineError::Input("the embeddings table is empty".into()));
    }
    let layers = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("layer", DataType::Int64, false),
            Field::new("train_accuracy", DataType::Float64, false),
            Field::new("test_accuracy", DataType::Float64, false),
            Field::new("n_train", DataType::Int64, false),
            Field::new("n_test", DataType::Int64, false),
        ])),
        vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.1))),
            Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.2))),
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|r| r.3 as i64),
            )),
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|r| r.4 as i64),
            )),
        ],
    )?;
    let best = rows
        .iter()
        .fold(&rows[0], |b, r| if r.2 > b.2 { r } else { b });
    let last = rows.iter().max_by_key(|r| r.0).unwrap_or(&rows[0]);
    let mean = rows.iter().map(|r| r.2).sum::<f64>() / rows.len() as f64;
    let summary = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("best_layer", DataType::Int64, false),
            Field::new("best_accuracy", DataType::Float64, false),
            Field::new("last_accuracy", DataType::Float64, false),
            Field::new("mean_accuracy", DataType::Float64, false),
        ])),
        vec![
            Arc::new(Int64Array::from(vec![best.0])),
            Arc::new(Float64Array::from(vec![best.2])),
            Arc::new(Float64Array::from(vec![last.2])),
            Arc::new(Float64Array::from(vec![mean])),
        ],
    )?;
    let mut out = StageOutput::default();
    out.push("layers", layers).push("summary", summary);
    Ok(out)
}
