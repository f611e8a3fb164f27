//! PCA pre-training: the top eigenvector of the empirical covariance S = XᵀX/N of N
//! unlabeled samples by power iteration, using only products X·u and Xᵀ·y (S is never
//! formed). The sign of ±v̂ is the one with the lower exact weak-label risk L_weak (the
//! population limit of the weak-label loss the paper uses to pick it).
//!
//! Data: rows are generated in blocks of [`BLOCK`] rows, block b from stream
//! `(seed, PCA_DATA, b)`. If N·d ≤ [`STORE_LIMIT`] the matrix is kept in memory; otherwise
//! each block is regenerated on every iteration (identical numbers, less memory). Partial
//! products are summed in block order, so results do not depend on the thread count.

use rayon::prelude::*;

use crate::error::{Result, SynthError};
use crate::linalg::{dot, normalize};
use crate::model::{Problem, random_unit};
use crate::quadrature::GaussHermite;
use crate::risk::weak_label_risk;
use crate::rng::{stream, tags};

/// Rows per data block (the unit of parallel work and of random streams).
pub const BLOCK: usize = 256;
/// Largest N·d (f64 entries, 256 MiB) kept in memory.
pub const STORE_LIMIT: usize = 1 << 25;

/// PCA settings.
#[derive(Debug, Clone, Copy)]
pub struct PcaConfig {
    /// Number of unlabeled samples N ≥ 1.
    pub n_samples: usize,
    /// Maximum number of power iterations.
    pub iters: usize,
    /// Stop when 1 − |⟨v_k, v_{k−1}⟩| < tol (0 = always run `iters`).
    pub tol: f64,
}

/// One power-iteration step, after sign selection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PcaStep {
    /// 0 = the random start.
    pub iter: usize,
    pub overlap_v: f64,
    pub overlap_wstar: f64,
    /// Rayleigh quotient ⟨u, S u⟩ of the previous iterate (NaN for the start).
    pub rayleigh: f64,
}

/// Result of PCA: the sign-fixed direction and the trace.
#[derive(Debug, Clone)]
pub struct PcaResult {
    pub v_hat: Vec<f64>,
    pub trace: Vec<PcaStep>,
}

struct Data<'a> {
    p: &'a Problem,
    n: usize,
    seed: u64,
    stored: Option<Vec<f64>>,
}

impl<'a> Data<'a> {
    fn blocks(&self) -> usize {
        self.n.div_ceil(BLOCK)
    }
    fn rows_in(&self, b: usize) -> usize {
        BLOCK.min(self.n - b * BLOCK)
    }
    fn gen_block(&self, b: usize, out: &mut Vec<f64>) {
        let d = self.p.d();
        out.resize(self.rows_in(b) * d, 0.0);
        let mut rng = stream(self.seed, tags::PCA_DATA, b as u64);
        for row in out.chunks_mut(d) {
            self.p.sample_x(&mut rng, row);
        }
    }
    /// S·u = Xᵀ(X u)/N.
    fn apply(&self, u: &[f64]) -> Vec<f64> {
        let d = self.p.d();
        let partials: Vec<Vec<f64>> = (0..self.blocks())
            .into_par_iter()
            .map_init(Vec::new, |buf, b| {
                let rows: &[f64] = match &self.stored {
                    Some(x) => &x[b * BLOCK * d..(b * BLOCK + self.rows_in(b)) * d],
                    None => {
                        self.gen_block(b, buf);
                        buf
                    }
                };
                let mut acc = vec![0.0; d];
                for row in rows.chunks(d) {
                    let y = dot(row, u);
                    acc.iter_mut().zip(row).for_each(|(a, x)| *a += y * x);
                }
                acc
            })
            .collect();
        let mut out = vec![0.0; d];
        for part in &partials {
            out.iter_mut().zip(part).for_each(|(o, x)| *o += x);
        }
        let inv = 1.0 / self.n as f64;
        out.iter_mut().for_each(|o| *o *= inv);
        out
    }
}

/// Flips `u` to the sign of lower weak-label risk (ties keep the sign).
pub fn fix_sign(p: &Problem, q: &GaussHermite, u: &mut [f64]) {
    let plus = weak_label_risk(p, q, u);
    let neg: Vec<f64> = u.iter().map(|x| -x).collect();
    if weak_label_risk(p, q, &neg) < plus {
        u.iter_mut().for_each(|x| *x = -*x);
    }
}

/// Runs power iteration; `visit(step, iterate)` sees every sign-fixed iterate, the random
/// start included (used by the landscape metrics).
pub fn power_iteration(
    p: &Problem,
    cfg: PcaConfig,
    seed: u64,
    q: &GaussHermite,
    mut visit: impl FnMut(&PcaStep, &[f64]),
) -> Result<PcaResult> {
    if cfg.n_samples == 0 {
        return Err(SynthError::param("n_samples", "must be ≥ 1"));
    }
    if !(cfg.tol.is_finite() && cfg.tol >= 0.0) {
        return Err(SynthError::param("tol", format!("{} must be ≥ 0", cfg.tol)));
    }
    let d = p.d();
    let mut data = Data {
        p,
        n: cfg.n_samples,
        seed,
        stored: None,
    };
    if cfg.n_samples.saturating_mul(d) <= STORE_LIMIT {
        let blocks: Vec<Vec<f64>> = (0..data.blocks())
            .into_par_iter()
            .map(|b| {
                let mut out = Vec::new();
                data.gen_block(b, &mut out);
                out
            })
            .collect();
        data.stored = Some(blocks.concat());
    }
    let mut u = random_unit(&mut stream(seed, tags::PCA_START, 0), d)?;
    fix_sign(p, q, &mut u);
    let step0 = PcaStep {
        iter: 0,
        overlap_v: dot(&u, &p.v),
        overlap_wstar: dot(&u, &p.w_star),
        rayleigh: f64::NAN,
    };
    visit(&step0, &u);
    let mut trace = vec![step0];
    for it in 1..=cfg.iters {
        let mut z = data.apply(&u);
        let rayleigh = dot(&z, &u);
        normalize(&mut z)?;
        fix_sign(p, q, &mut z);
        let change = 1.0 - dot(&z, &u).abs();
        u = z;
        let step = PcaStep {
            iter: it,
            overlap_v: dot(&u, &p.v),
            overlap_wstar: dot(&u, &p.w_star),
            rayleigh,
        };
        visit(&step, &u);
        trace.push(step);
        if change < cfg.tol {
            break;
        }
    }
    Ok(PcaResult { v_hat: u, trace })
}

/// The BBP prediction of ⟨v̂, v⟩² for spike λ and aspect ratio γ = d/N: (1 − γ/λ²)/(1 + γ/λ)
/// above the threshold λ > √γ, else 0.
pub fn bbp_overlap2(lambda: f64, gamma: f64) -> f64 {
    if lambda * lambda <= gamma {
        0.0
    } else {
        (1.0 - gamma / (lambda * lambda)) / (1.0 + gamma / lambda)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::ActivationKind;
    use crate::model::ProblemParams;
    use crate::risk::DEFAULT_QUAD_N;

    fn problem(d: usize, lambda: f64) -> Problem {
        let params = ProblemParams {
            d,
            alpha: 0.5,
            rho: 0.6,
            lambda,
            activation: ActivationKind::ShiftedHe3,
        };
        Problem::generate(params, 4).unwrap()
    }

    #[test]
    fn overlap_follows_bbp() {
        let q = GaussHermite::new(DEFAULT_QUAD_N).unwrap();
        let (d, n) = (300, 600); // γ = 0.5
        for lambda in [1.5, 3.0] {
            let p = problem(d, lambda);
            let cfg = PcaConfig {
                n_samples: n,
                iters: 300,
                tol: 1e-13,
            };
            let r = power_iteration(&p, cfg, 1, &q, |_, _| {}).unwrap();
            let got = dot(&r.v_hat, &p.v).powi(2);
            let want = bbp_overlap2(lambda, d as f64 / n as f64);
            // Finite-d fluctuations are O(d^{-1/2}) ≈ 0.06 of the deficit; 0.05 absolute.
            assert!((got - want).abs() < 0.05, "λ={lambda}: {got} vs BBP {want}");
        }
    }

    #[test]
    fn stored_and_streamed_data_agree_bitwise() {
        let q = GaussHermite::new(8).unwrap();
        let p = problem(20, 2.0);
        let cfg = PcaConfig {
            n_samples: 700,
            iters: 5,
            tol: 0.0,
        };
        let a = power_iteration(&p, cfg, 3, &q, |_, _| {}).unwrap();
        let data = Data {
            p: &p,
            n: 700,
            seed: 3,
            stored: None,
        };
        let mut u = random_unit(&mut stream(3, tags::PCA_START, 0), 20).unwrap();
        fix_sign(&p, &q, &mut u);
        for _ in 0..5 {
            u = data.apply(&u);
            normalize(&mut u).unwrap();
            fix_sign(&p, &q, &mut u);
        }
        assert_eq!(a.v_hat, u);
        assert_eq!(a.trace.len(), 6);
    }

    #[test]
    fn sign_is_chosen_by_weak_loss() {
        let q = GaussHermite::new(DEFAULT_QUAD_N).unwrap();
        let p = problem(50, 4.0);
        let cfg = PcaConfig {
            n_samples: 2000,
            iters: 100,
            tol: 1e-12,
        };
        let r = power_iteration(&p, cfg, 2, &q, |_, _| {}).unwrap();
        let neg: Vec<f64> = r.v_hat.iter().map(|x| -x).collect();
        assert!(weak_label_risk(&p, &q, &r.v_hat) <= weak_label_risk(&p, &q, &neg));
        assert!(
            power_iteration(
                &p,
                PcaConfig {
                    n_samples: 0,
                    iters: 1,
                    tol: 0.0
                },
                2,
                &q,
                |_, _| {}
            )
            .is_err()
        );
    }
}

#[cfg(test)]
mod thread_tests {
    use super::*;
    use crate::activation::ActivationKind;
    use crate::model::ProblemParams;

    #[test]
    fn result_does_not_depend_on_thread_count() {
        let params = ProblemParams {
            d: 30,
            alpha: 0.5,
            rho: 0.6,
            lambda: 2.0,
            activation: ActivationKind::He3,
        };
        let p = Problem::generate(params, 4).unwrap();
        let q = GaussHermite::new(8).unwrap();
        let cfg = PcaConfig {
            n_samples: 1500,
            iters: 10,
            tol: 0.0,
        };
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| power_iteration(&p, cfg, 9, &q, |_, _| {}).unwrap().v_hat)
        };
        assert_eq!(run(1), run(3));
    }
}
