//! Linear logistic models trained with Adam: the math under `reward-head` and `probe`.
//!
//! The model is `p = σ(w·x [+ b])`. Losses (per example, `y ∈ [0, 1]` hard or soft):
//! - `bce`: `−[y log p + (1−y) log(1−p)]`;
//! - `reverse-bce`: `−[p log ỹ + (1−p) log(1−ỹ)]` with `ỹ = (1−ε)y + ε/2` (the roles of
//!   prediction and label swapped; ε keeps the logs finite);
//! - `aux-confidence` (Burns et al. 2023): `(1−α)·bce(p, y) + α·bce(p, 1[p > ½])`, the
//!   hardened own prediction treated as a constant target.
//!
//! Training is minibatch Adam (β = 0.9, 0.999), examples shuffled each epoch with a seeded
//! splitmix64 permutation, weights starting at zero, so a run is a pure function of the
//! data, the config and the seed.

/// The training loss.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Loss {
    Bce,
    ReverseBce { epsilon: f64 },
    AuxConfidence { alpha: f64 },
}

impl Loss {
    /// Parse a loss name with its parameters.
    pub fn parse(name: &str, epsilon: f64, alpha: f64) -> Option<Loss> {
        match name {
            "bce" => Some(Loss::Bce),
            "reverse-bce" => Some(Loss::ReverseBce { epsilon }),
            "aux-confidence" => Some(Loss::AuxConfidence { alpha }),
            _ => None,
        }
    }

    /// d loss / d logit at probability `p` for label `y`.
    pub fn grad(&self, p: f64, y: f64) -> f64 {
        match *self {
            Loss::Bce => p - y,
            Loss::ReverseBce { epsilon } => {
                let yt = ((1.0 - epsilon) * y + epsilon / 2.0).clamp(1e-12, 1.0 - 1e-12);
                // d/dz of −[p log ỹ + (1−p) log(1−ỹ)] = −p(1−p)(log ỹ − log(1−ỹ)).
                -p * (1.0 - p) * (yt.ln() - (1.0 - yt).ln())
            }
            Loss::AuxConfidence { alpha } => {
                let hard = if p > 0.5 { 1.0 } else { 0.0 };
                (1.0 - alpha) * (p - y) + alpha * (p - hard)
            }
        }
    }
}

/// Optimizer settings.
#[derive(Debug, Clone, Copy)]
pub struct TrainConfig {
    pub loss: Loss,
    pub lr: f64,
    pub epochs: usize,
    pub batch_size: usize,
    /// L2 penalty added to the gradient (`l2 · w`).
    pub l2: f64,
    /// Fit a bias term.
    pub bias: bool,
    pub seed: u64,
}

/// A trained linear model.
#[derive(Debug, Clone, PartialEq)]
pub struct Linear {
    pub w: Vec<f64>,
    pub b: f64,
}

impl Linear {
    pub fn logit(&self, x: &[f64]) -> f64 {
        self.w.iter().zip(x).map(|(a, b)| a * b).sum::<f64>() + self.b
    }
    pub fn prob(&self, x: &[f64]) -> f64 {
        sigmoid(self.logit(x))
    }
}

pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// splitmix64: a tiny seeded generator for permutations and splits.
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> Self {
        SplitMix(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// A uniformly shuffled `0..n`.
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut v: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
        v
    }
}

/// Train a logistic model on the rows of `x` (row-major, `y.len()` rows of `dim` values)
/// with labels `y ∈ [0,1]`.
pub fn train(x: &[f64], dim: usize, y: &[f64], cfg: &TrainConfig) -> Linear {
    assert_eq!(
        x.len(),
        y.len() * dim,
        "x must hold y.len() rows of dim values"
    );
    train_with(dim, y, cfg, |i, row| {
        row.copy_from_slice(&x[i * dim..(i + 1) * dim])
    })
}

/// [`train`] with the features of row `i` written into a buffer by `features(i, buf)` on
/// demand, so a caller whose features are a cheap function of data it already holds (a
/// reward head: `(chosen − rejected)/σ`) never materializes the feature matrix.
pub fn train_with(
    dim: usize,
    y: &[f64],
    cfg: &TrainConfig,
    features: impl Fn(usize, &mut [f64]),
) -> Linear {
    let mut w = vec![0.0; dim];
    let mut b = 0.0;
    let (mut m, mut v) = (vec![0.0; dim + 1], vec![0.0; dim + 1]);
    let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8);
    let mut rng = SplitMix::new(cfg.seed);
    let mut t = 0i32;
    let mut g = vec![0.0; dim + 1];
    let mut row = vec![0.0; dim];
    for _ in 0..cfg.epochs.max(1) {
        let order = rng.permutation(y.len());
        for batch in order.chunks(cfg.batch_size.max(1)) {
            g.iter_mut().for_each(|gi| *gi = 0.0);
            for &i in batch {
                features(i, &mut row);
                let z: f64 = w.iter().zip(&row).map(|(a, c)| a * c).sum::<f64>() + b;
                let d = cfg.loss.grad(sigmoid(z), y[i]);
                for (gj, xj) in g.iter_mut().zip(&row) {
                    *gj += d * xj;
                }
                g[dim] += d;
            }
            let n = batch.len() as f64;
            t += 1;
            let (c1, c2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
            for j in 0..=dim {
                let mut gj = g[j] / n;
                if j < dim {
                    gj += cfg.l2 * w[j];
                } else if !cfg.bias {
                    continue;
                }
                m[j] = b1 * m[j] + (1.0 - b1) * gj;
                v[j] = b2 * v[j] + (1.0 - b2) * gj * gj;
                let step = cfg.lr * (m[j] / c1) / ((v[j] / c2).sqrt() + eps);
                if j < dim {
                    w[j] -= step;
                } else {
                    b -= step;
                }
            }
        }
    }
    Linear { w, b }
}

/// Per-dimension standard deviations of `rows` (1 where a dimension is constant).
///
/// One pass over the rows, accumulating sums and sums of squares of the deviations from
/// the first row: the shift keeps the `E[d²] − E[d]²` form from cancelling catastrophically
/// for embeddings whose dimensions sit far from zero, and one pass halves the memory
/// traffic of the two-pass form on thousands of hidden-size rows.
pub fn std_devs(rows: &[&[f32]]) -> Vec<f64> {
    let Some(first) = rows.first() else {
        return Vec::new();
    };
    let dim = first.len();
    let n = rows.len() as f64;
    let (mut sum, mut sq) = (vec![0.0; dim], vec![0.0; dim]);
    let (sum_s, sq_s, first) = (&mut sum[..dim], &mut sq[..dim], &first[..dim]);
    for r in rows {
        // Equal-length slices and an index loop: the compiler drops the bounds checks and
        // vectorizes (each dimension's accumulators are independent, so the result does
        // not depend on the vector width).
        let r = &r[..dim];
        for j in 0..dim {
            let d = r[j] as f64 - first[j] as f64;
            sum_s[j] += d;
            sq_s[j] += d * d;
        }
    }
    sum.into_iter()
        .zip(sq)
        .map(|(s, q)| {
            let mean = s / n;
            let var = (q / n - mean * mean).max(0.0);
            if var > 1e-20 { var.sqrt() } else { 1.0 }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finite_diff(loss: Loss, z: f64, y: f64, f: impl Fn(f64) -> f64) {
        let h = 1e-6;
        let num = (f(z + h) - f(z - h)) / (2.0 * h);
        let ana = loss.grad(sigmoid(z), y);
        assert!((num - ana).abs() < 1e-5, "{loss:?}: {num} vs {ana}");
    }

    #[test]
    fn one_pass_std_devs_match_two_pass_far_from_zero() {
        // Dimensions centred at 0, 1e4 and −3e5 (embeddings have such outlier dimensions):
        // the shifted one-pass form must not cancel, and constant dimensions give 1.
        let mut rng = SplitMix::new(9);
        let rows: Vec<Vec<f32>> = (0..500)
            .map(|_| {
                let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                vec![
                    u as f32,
                    (1e4 + 2.0 * u) as f32,
                    (-3e5 + 8.0 * u) as f32,
                    7.0,
                ]
            })
            .collect();
        let refs: Vec<&[f32]> = rows.iter().map(Vec::as_slice).collect();
        let got = std_devs(&refs);
        for j in 0..4 {
            let x: Vec<f64> = rows.iter().map(|r| r[j] as f64).collect();
            let mean = x.iter().sum::<f64>() / x.len() as f64;
            let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / x.len() as f64;
            let want = if var > 1e-20 { var.sqrt() } else { 1.0 };
            assert!(
                (got[j] - want).abs() <= 1e-9 * want.max(1.0),
                "dim {j}: {} vs {want}",
                got[j]
            );
        }
        assert_eq!(got[3], 1.0);
    }

    #[test]
    fn gradients_match_finite_differences() {
        for &(z, y) in &[(0.3, 0.8), (-1.2, 0.1), (2.0, 1.0)] {
            finite_diff(Loss::Bce, z, y, |z| {
                let p = sigmoid(z);
                -(y * p.ln() + (1.0 - y) * (1.0 - p).ln())
            });
            let e = 0.1;
            finite_diff(Loss::ReverseBce { epsilon: e }, z, y, |z| {
                let p = sigmoid(z);
                let yt = (1.0 - e) * y + e / 2.0;
                -(p * yt.ln() + (1.0 - p) * (1.0 - yt).ln())
            });
        }
    }

    #[test]
    fn permutation_is_a_permutation() {
        let mut p = SplitMix::new(7).permutation(100);
        p.sort();
        assert_eq!(p, (0..100).collect::<Vec<_>>());
    }
}
