//! Example warmstart plugin: an alternative fine-tuning loss.
//!
//! Kind `reverse-ce-head`. Data: a planted concept, x ~ N(0, I_d), y = 𝟙(xᵀw* > 0). A weak
//! supervisor sees a direction of correlation `rho` with w* and emits *soft* labels
//! p = σ(`sharpness` · xᵀw_weak). A logistic head (linear in x, full-batch gradient descent
//! with L2) is trained on the weak soft labels with
//!
//! * `bce` — binary cross-entropy against p;
//! * `reverse-ce` — reverse cross-entropy: the roles of label and prediction swapped,
//!   −[f log ỹ + (1−f) log(1−ỹ)] with f the head's probability and the label smoothed,
//!   ỹ = (1−ε)p + ε/2, so that log ỹ is finite.
//!
//! One output row per loss: test accuracy against the true concept, the weak supervisor's
//! test accuracy, and the head's agreement with the weak labels.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use warmstart_plugin_abi::warmstart_engine::{
    Determinism, EngineError, EngineInfo, KindSpec, ParamSpec, StageOutput, StageRequest,
};
use warmstart_plugin_abi::{Plugin, export_plugin};

/// The plugin type exported as `warmstart_plugin_v1`.
pub struct LossPlugin;

export_plugin!(LossPlugin);

impl Plugin for LossPlugin {
    fn info() -> EngineInfo {
        EngineInfo {
            id: "loss".into(),
            version: "1".into(),
            kinds: vec![KindSpec {
                name: "reverse-ce-head".into(),
                doc: "Logistic head on soft weak labels: reverse cross-entropy vs BCE".into(),
                params: vec![
                    ParamSpec::int("d", "Input dimension")
                        .default(20i64)
                        .range(1.0, 1000.0),
                    ParamSpec::int("n_train", "Training examples (weakly labelled)")
                        .default(2000i64)
                        .range(2.0, 1e6),
                    ParamSpec::int("n_test", "Test examples (true labels)")
                        .default(2000i64)
                        .range(1.0, 1e6),
                    ParamSpec::float("rho", "Correlation of the weak supervisor with w*")
                        .default(0.7)
                        .range(-1.0, 1.0),
                    ParamSpec::float("sharpness", "Weak label confidence: p = σ(k·xᵀw_weak)")
                        .default(3.0)
                        .min(0.0),
                    ParamSpec::float("epsilon", "Label smoothing ε of reverse CE")
                        .default(0.1)
                        .range(1e-6, 1.0),
                    ParamSpec::string("loss", "Which losses to train")
                        .default("both")
                        .choices(&["both", "bce", "reverse-ce"]),
                    ParamSpec::int("epochs", "Full-batch gradient steps")
                        .default(300i64)
                        .range(1.0, 1e6),
                    ParamSpec::float("lr", "Learning rate")
                        .default(1.0)
                        .min(0.0),
                    ParamSpec::float("l2", "L2 penalty").default(1e-3).min(0.0),
                ],
                determinism: Determinism::Seeded,
                min_inputs: 0,
                max_inputs: Some(0),
                reads: vec![],
                writes: vec![],
            }],
        }
    }

    fn run(req: &StageRequest) -> Result<StageOutput, EngineError> {
        if req.kind != "reverse-ce-head" {
            return Err(EngineError::failed(format!("unknown kind `{}`", req.kind)));
        }
        let s = Setup {
            d: req.usize("d")?,
            n_train: req.usize("n_train")?,
            n_test: req.usize("n_test")?,
            rho: req.f64("rho")?,
            sharpness: req.f64("sharpness")?,
            epsilon: req.f64("epsilon")?,
            epochs: req.usize("epochs")?,
            lr: req.f64("lr")?,
            l2: req.f64("l2")?,
        };
        if s.d == 0 || s.n_train == 0 || s.n_test == 0 {
            return Err(EngineError::param("d", "d, n_train and n_test must be ≥ 1"));
        }
        if !(s.epsilon > 0.0 && s.epsilon <= 1.0) {
            return Err(EngineError::param("epsilon", "must be in (0, 1]"));
        }
        let losses: &[Loss] = match req.str("loss")? {
            "both" => &[Loss::Bce, Loss::ReverseCe],
            "bce" => &[Loss::Bce],
            "reverse-ce" => &[Loss::ReverseCe],
            other => {
                return Err(EngineError::param(
                    "loss",
                    format!("{other:?} is not one of both, bce, reverse-ce"),
                ));
            }
        };
        let r = experiment(&s, losses, req.seed);
        let col_f = |f: fn(&Row) -> f64| {
            Arc::new(Float64Array::from_iter_values(r.iter().map(f))) as ArrayRef
        };
        let batch = RecordBatch::try_from_iter(vec![
            (
                "loss",
                Arc::new(StringArray::from_iter_values(
                    r.iter().map(|x| x.loss.name()),
                )) as ArrayRef,
            ),
            ("test_acc", col_f(|x| x.test_acc)),
            ("weak_test_acc", col_f(|x| x.weak_test_acc)),
            ("agreement_with_weak", col_f(|x| x.agreement)),
            ("epsilon", col_f(|x| x.epsilon)),
        ])?;
        Ok(StageOutput::single(batch))
    }
}

/// A training loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    Bce,
    ReverseCe,
}

impl Loss {
    pub fn name(self) -> &'static str {
        match self {
            Loss::Bce => "bce",
            Loss::ReverseCe => "reverse-ce",
        }
    }
}

/// Validated params.
#[derive(Debug, Clone)]
pub struct Setup {
    pub d: usize,
    pub n_train: usize,
    pub n_test: usize,
    pub rho: f64,
    pub sharpness: f64,
    pub epsilon: f64,
    pub epochs: usize,
    pub lr: f64,
    pub l2: f64,
}

/// One result row.
#[derive(Debug, Clone)]
pub struct Row {
    pub loss: Loss,
    pub test_acc: f64,
    pub weak_test_acc: f64,
    pub agreement: f64,
    pub epsilon: f64,
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// SplitMix64 with Box–Muller normals.
struct Rng(u64);

impl Rng {
    fn normal(&mut self) -> f64 {
        let mut u = || {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (((z ^ (z >> 31)) >> 11) as f64 + 1.0) / (1u64 << 53) as f64
        };
        let (a, b) = (u(), u());
        (-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()
    }
    fn unit(&mut self, d: usize) -> Vec<f64> {
        let v: Vec<f64> = (0..d).map(|_| self.normal()).collect();
        let n = dot(&v, &v).sqrt().max(f64::MIN_POSITIVE);
        v.into_iter().map(|x| x / n).collect()
    }
}

/// Generate the data, train one head per loss, evaluate.
pub fn experiment(s: &Setup, losses: &[Loss], seed: u64) -> Vec<Row> {
    let mut rng = Rng(seed ^ 0x5EED);
    let d = s.d;
    let w_star = rng.unit(d);
    // w_weak = ρ w* + √(1−ρ²) u with u ⟂ w*.
    let mut u = rng.unit(d);
    let proj = dot(&u, &w_star);
    u.iter_mut().zip(&w_star).for_each(|(x, w)| *x -= proj * w);
    let un = dot(&u, &u).sqrt().max(f64::MIN_POSITIVE);
    let c = (1.0 - s.rho * s.rho).max(0.0).sqrt();
    let w_weak: Vec<f64> = w_star
        .iter()
        .zip(&u)
        .map(|(w, v)| s.rho * w + c * v / un)
        .collect();
    let sample = |rng: &mut Rng, n: usize| -> Vec<Vec<f64>> {
        (0..n)
            .map(|_| (0..d).map(|_| rng.normal()).collect())
            .collect()
    };
    let train = sample(&mut rng, s.n_train);
    let test = sample(&mut rng, s.n_test);
    let soft: Vec<f64> = train
        .iter()
        .map(|x| sigmoid(s.sharpness * dot(x, &w_weak)))
        .collect();
    let truth = |x: &[f64]| dot(x, &w_star) > 0.0;
    let weak_test_acc = test
        .iter()
        .filter(|x| (dot(x, &w_weak) > 0.0) == truth(x))
        .count() as f64
        / s.n_test as f64;
    losses
        .iter()
        .map(|&loss| {
            let w = train_head(&train, &soft, loss, s);
            let test_acc = test
                .iter()
                .filter(|x| (dot(x, &w) > 0.0) == truth(x))
                .count() as f64
                / s.n_test as f64;
            let agreement = train
                .iter()
                .zip(&soft)
                .filter(|(x, p)| (dot(x, &w) > 0.0) == (**p > 0.5))
                .count() as f64
                / s.n_train as f64;
            Row {
                loss,
                test_acc,
                weak_test_acc,
                agreement,
                epsilon: s.epsilon,
            }
        })
        .collect()
}

/// Full-batch gradient descent on the mean loss (plus L2) of a linear logistic head.
fn train_head(x: &[Vec<f64>], soft: &[f64], loss: Loss, s: &Setup) -> Vec<f64> {
    let d = s.d;
    let n = x.len() as f64;
    let mut w = vec![0.0; d];
    for _ in 0..s.epochs {
        let mut g = vec![0.0; d];
        for (xi, &p) in x.iter().zip(soft) {
            let f = sigmoid(dot(xi, &w));
            // d loss / d logit.
            let dz = match loss {
                Loss::Bce => f - p,
                Loss::ReverseCe => {
                    let y = (1.0 - s.epsilon) * p + s.epsilon / 2.0;
                    -f * (1.0 - f) * (y.ln() - (1.0 - y).ln())
                }
            };
            g.iter_mut().zip(xi).for_each(|(gj, xj)| *gj += dz * xj);
        }
        for j in 0..d {
            w[j] -= s.lr * (g[j] / n + s.l2 * w[j]);
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> Setup {
        Setup {
            d: 10,
            n_train: 1000,
            n_test: 2000,
            rho: 0.8,
            sharpness: 3.0,
            epsilon: 0.1,
            epochs: 200,
            lr: 1.0,
            l2: 1e-3,
        }
    }

    #[test]
    fn heads_learn_the_concept_beyond_chance() {
        let rows = experiment(&setup(), &[Loss::Bce, Loss::ReverseCe], 3);
        assert_eq!(rows.len(), 2);
        for r in &rows {
            // The weak supervisor's direction has angle acos(0.8) to w*: accuracy ≈ 0.80.
            assert!((r.weak_test_acc - 0.795).abs() < 0.04, "{r:?}");
            assert!(r.test_acc > 0.7, "{r:?}");
            assert!(r.agreement > 0.85, "{r:?}");
        }
    }

    #[test]
    fn seeded() {
        let a = experiment(&setup(), &[Loss::ReverseCe], 9);
        let b = experiment(&setup(), &[Loss::ReverseCe], 9);
        assert_eq!(a[0].test_acc, b[0].test_acc);
    }
}
