//! `reward-head`: a linear reward head on frozen last-token embeddings.
//!
//! `r(x) = w·(x/σ)` on the embedding of one layer (σ = per-dimension standard deviation over
//! the training embeddings; a bias would cancel in the pair logit), pair logit
//! `z = r(chosen) − r(rejected)`, `P(chosen ≻ rejected) = σ(z)`. Trained one epoch (default)
//! with Adam, batch 16, on hard labels (`y = 1`: the chosen answer is preferred) or on soft
//! labels from a weak supervisor, with loss `bce`, `reverse-bce` or `aux-confidence`
//! (see [`crate::linear`]).
//!
//! Inputs, by position:
//! 0. training embeddings (an `embed` output: table `embeddings`);
//! 1. evaluation embeddings (the split to predict: test, or the weak split when this head
//!    is the weak supervisor producing labels);
//! 2. optional soft labels: a `reward-head` output (table `predictions`: `id`,
//!    `soft_label`) covering every training id.
//!
//! The training and evaluation splits must not share example ids (nor the labels' source
//! and the evaluation split): overlapping splits are refused with an error.
//!
//! Outputs: `metrics` (one row: `accuracy` on the evaluation split — the fraction of pairs
//! with `z > 0` — `n_train`, `n_eval`, `layer`, `loss`) and `predictions` (`id`,
//! `soft_label` = σ(z), `logit` = z, `correct`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow_array::{BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use warmstart_engine::{
    Determinism, EngineError, InputSpec, KindSpec, ParamSpec, StageInput, StageOutput,
    StageRequest, TableSpec,
};

use crate::linear::{Loss, TrainConfig, std_devs, train_with};
use crate::tables::{Pairs, input_table, layers_in, numbers, read_pairs_of, strings};

pub fn spec() -> KindSpec {
    KindSpec {
        name: "reward-head".into(),
        doc: "Linear reward head on last-token embeddings (inputs: train, eval[, soft labels]); \
              eval accuracy and soft predictions"
            .into(),
        params: vec![
            ParamSpec::int(
                "layer",
                "Embedding layer to use (-1 = the highest in the table)",
            )
            .default(-1i64),
            ParamSpec::string("loss", "bce | reverse-bce | aux-confidence")
                .choices(&["bce", "reverse-bce", "aux-confidence"])
                .default("bce"),
            ParamSpec::float("epsilon", "reverse-bce label smoothing: ỹ = (1−ε)y + ε/2")
                .range(0.0, 1.0)
                .default(0.1),
            ParamSpec::float(
                "alpha",
                "aux-confidence weight of the hardened own prediction",
            )
            .range(0.0, 1.0)
            .default(0.5),
            ParamSpec::float("lr", "Adam learning rate (features are standardized)")
                .min(0.0)
                .default(1e-3),
            ParamSpec::int("epochs", "Passes over the training pairs")
                .min(1.0)
                .default(1i64),
            ParamSpec::int("batch_size", "Pairs per Adam step")
                .min(1.0)
                .default(16i64),
            ParamSpec::string(
                "labels",
                "auto (soft if a labels input is given, else hard), hard (y = 1), soft",
            )
            .choices(&["auto", "hard", "soft"])
            .default("auto"),
        ],
        determinism: Determinism::Seeded,
        min_inputs: 2,
        max_inputs: Some(3),
        reads: vec![
            InputSpec::new("embeddings", &["embed"], "Last-token hidden states.")
                .col("id", "utf8", "")
                .col("side", "utf8", "")
                .col("layer", "int64", ""),
            InputSpec::new(
                "predictions",
                &["reward-head"],
                "Optional third input: soft labels for every training id.",
            )
            .col("id", "utf8", "")
            .col("soft_label", "float64", ""),
        ],
        writes: vec![
            TableSpec::new("metrics", "One row.")
                .col(
                    "accuracy",
                    "float64",
                    "Fraction of evaluation pairs with z > 0.",
                )
                .col("n_train", "int64", "")
                .col("n_eval", "int64", "")
                .col("layer", "int64", "")
                .col("loss", "utf8", ""),
            TableSpec::new("predictions", "One row per evaluation pair.")
                .col("id", "utf8", "")
                .col("soft_label", "float64", "σ(z).")
                .col("logit", "float64", "z = r(chosen) − r(rejected).")
                .col("correct", "bool", "z > 0."),
        ],
    }
}

/// Refuse overlapping splits: `a` and `b` must share no id.
pub fn check_disjoint(
    a_name: &str,
    a: &[String],
    b_name: &str,
    b: &[String],
) -> Result<(), EngineError> {
    let set: HashSet<&String> = a.iter().collect();
    let shared: Vec<&String> = b.iter().filter(|id| set.contains(id)).collect();
    if let Some(first) = shared.first() {
        return Err(EngineError::Input(format!(
            "split overlap: {} example id(s) are in both `{a_name}` and `{b_name}` (e.g. {first}); \
             the ground-truth, weak-supervision and test splits must be disjoint",
            shared.len()
        )));
    }
    Ok(())
}

/// The layer to use: `-1` = highest present in both.
pub fn pick_layer<'a>(
    want: i64,
    train: &'a std::collections::BTreeMap<i64, Pairs<'a>>,
    eval: &'a std::collections::BTreeMap<i64, Pairs<'a>>,
) -> Result<(i64, &'a Pairs<'a>, &'a Pairs<'a>), EngineError> {
    let layer = if want < 0 {
        *train
            .keys()
            .filter(|l| eval.contains_key(l))
            .max()
            .ok_or_else(|| EngineError::Input("no layer common to both inputs".into()))?
    } else {
        want
    };
    match (train.get(&layer), eval.get(&layer)) {
        (Some(a), Some(b)) => Ok((layer, a, b)),
        _ => Err(EngineError::param(
            "layer",
            format!(
                "layer {layer} is not in both inputs (train has {:?}, eval has {:?})",
                train.keys().collect::<Vec<_>>(),
                eval.keys().collect::<Vec<_>>()
            ),
        )),
    }
}

fn label_source(input: &StageInput) -> Result<HashMap<String, f64>, EngineError> {
    let t = input_table(input, "predictions")?;
    let ids = strings(t, "id")?;
    let y = numbers(t, "soft_label")?;
    Ok(ids.into_iter().zip(y).collect())
}

/// The features of pair `i`, `(chosen − rejected)/σ`, written into `out` (`p.dim` values).
pub fn pair_feature(p: &Pairs<'_>, sd: &[f64], i: usize, out: &mut [f64]) {
    let (c, r, sd) = (p.chosen(i), p.rejected(i), &sd[..p.dim]);
    for (j, o) in out[..p.dim].iter_mut().enumerate() {
        *o = (c[j] as f64 - r[j] as f64) / sd[j];
    }
}

/// The features of every pair, row-major (`p.len()` rows of `p.dim`).
pub fn pair_features(p: &Pairs<'_>, sd: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; p.len() * p.dim];
    for (i, row) in out.chunks_exact_mut(p.dim.max(1)).enumerate() {
        pair_feature(p, sd, i, row);
    }
    out
}

pub fn run(req: &StageRequest) -> Result<StageOutput, EngineError> {
    let (Some(train_in), Some(eval_in)) = (req.inputs.first(), req.inputs.get(1)) else {
        return Err(EngineError::Input(
            "reward-head needs inputs [train embeddings, eval embeddings(, soft labels)]".into(),
        ));
    };
    let (train_table, eval_table) = (
        input_table(train_in, "embeddings")?,
        input_table(eval_in, "embeddings")?,
    );
    // Decode only the layer the head uses: `-1` is the highest layer both inputs hold.
    let want = match req.i64("layer")? {
        l if l < 0 => layers_in(train_table)?
            .intersection(&layers_in(eval_table)?)
            .max()
            .copied()
            .unwrap_or(l),
        l => l,
    };
    let train_pairs = read_pairs_of(train_table, Some(want))?;
    let eval_pairs = read_pairs_of(eval_table, Some(want))?;
    let (layer, tr, ev) = pick_layer(want, &train_pairs, &eval_pairs)?;
    if tr.dim != ev.dim {
        return Err(EngineError::Input(format!(
            "`{}` has embeddings of size {} but `{}` of size {}: a head is trained and \
             evaluated on embeddings of the same checkpoint; check both inputs' `checkpoint`",
            train_in.stage, tr.dim, eval_in.stage, ev.dim
        )));
    }
    check_disjoint(&train_in.stage, &tr.ids, &eval_in.stage, &ev.ids)?;

    let labels_input = req.inputs.get(2);
    let soft = match (req.str("labels")?, labels_input) {
        ("hard", _) => false,
        ("soft", None) => {
            return Err(EngineError::param(
                "labels",
                "`soft` needs a third input with soft labels (a reward-head `predictions` table)",
            ));
        }
        (_, Some(_)) => true,
        (_, None) => false,
    };
    let y: Vec<f64> = if soft {
        let src = labels_input.ok_or_else(|| EngineError::Input("no labels input".into()))?;
        let map = label_source(src)?;
        let label_ids: Vec<String> = map.keys().cloned().collect();
        check_disjoint(&src.stage, &label_ids, &eval_in.stage, &ev.ids)?;
        tr.ids
            .iter()
            .map(|id| {
                map.get(id).copied().ok_or_else(|| {
                    EngineError::Input(format!(
                        "soft labels from `{}` have no label for training example {id}",
                        src.stage
                    ))
                })
            })
            .collect::<Result<_, _>>()?
    } else {
        vec![1.0; tr.ids.len()]
    };

    let rows: Vec<&[f32]> = (0..tr.len())
        .map(|i| tr.chosen(i))
        .chain((0..tr.len()).map(|i| tr.rejected(i)))
        .collect();
    let sd = std_devs(&rows);
    let loss_name = req.str("loss")?;
    let loss = Loss::parse(loss_name, req.f64("epsilon")?, req.f64("alpha")?)
        .ok_or_else(|| EngineError::param("loss", "unknown loss"))?;
    let cfg = TrainConfig {
        loss,
        lr: req.f64("lr")?,
        epochs: req.usize("epochs")?,
        batch_size: req.usize("batch_size")?,
        l2: 0.0,
        bias: false,
        seed: req.seed,
    };
    let model = train_with(tr.dim, &y, &cfg, |i, row| pair_feature(tr, &sd, i, row));
    let mut row = vec![0.0; ev.dim];
    let logits: Vec<f64> = (0..ev.len())
        .map(|i| {
            pair_feature(ev, &sd, i, &mut row);
            model.logit(&row)
        })
        .collect();
    let correct: Vec<bool> = logits.iter().map(|&z| z > 0.0).collect();
    let acc = correct.iter().filter(|&&c| c).count() as f64 / correct.len().max(1) as f64;

    let metrics = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("accuracy", DataType::Float64, false),
            Field::new("n_train", DataType::Int64, false),
            Field::new("n_eval", DataType::Int64, false),
            Field::new("layer", DataType::Int64, false),
            Field::new("loss", DataType::Utf8, false),
        ])),
        vec![
            Arc::new(Float64Array::from(vec![acc])),
            Arc::new(Int64Array::from(vec![tr.ids.len() as i64])),
            Arc::new(Int64Array::from(vec![ev.ids.len() as i64])),
            Arc::new(Int64Array::from(vec![layer])),
            Arc::new(StringArray::from(vec![loss_name])),
        ],
    )?;
    let preds = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, false),
            Field::new("soft_label", DataType::Float64, false),
            Field::new("logit", DataType::Float64, false),
            Field::new("correct", DataType::Boolean, false),
        ])),
        vec![
            Arc::new(StringArray::from_iter_values(&ev.ids)),
            Arc::new(Float64Array::from_iter_values(
                logits.iter().map(|&z| crate::linear::sigmoid(z)),
            )),
            Arc::new(Float64Array::from(logits.clone())),
            Arc::new(BooleanArray::from(correct)),
        ],
    )?;
    let mut out = StageOutput::default();
    out.push("metrics", metrics).push("predictions", preds);
    Ok(out)
}
