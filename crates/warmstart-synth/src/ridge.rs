//! Ridge teacher/student (2505.18346): x ~ N(0, I_d), y = xᵀβ* + ε, Var ε = σ², ‖β*‖ = 1.
//! The teacher is ridge(λ_t) on n_t labelled samples; the student is ridge(λ_s) on n_s
//! fresh inputs labelled by the teacher's predictions (no extra noise). Excess errors are
//! ‖β − β*‖² (the excess risk under isotropic inputs).
//!
//! Asymptotics (proportional limit, γ = d/n): m(λ,γ) is the Stieltjes transform of the
//! Marchenko–Pastur law at −λ, m₂ = −∂m/∂λ, τ₁ = 1 − λm, τ₂ = 1 − 2λm + λ²m₂,
//! V = σ²γ(m − λm₂); teacher excess = 1 − 2τ₁ᵗ + τ₂ᵗ + Vᵗ, student excess =
//! 1 − 2τ₁ˢτ₁ᵗ + τ₂ˢ(τ₂ᵗ + Vᵗ).
//!
//! Weighted ridge: the student's penalty is λ·βᵀΓβ with Γ = I − (1 − κ)ppᵀ, p a
//! pre-trained unit direction with ⟨p, β*⟩ = ζ; κ ∈ (0, 1] is the relative penalty along p
//! (κ = 1 is plain ridge). Its gain = plain − weighted student excess error.
//!
//! Randomness: repetition r uses stream `(seed, RIDGE, r)`, drawing β*, X_t, ε, X_s and the
//! pre-training noise direction in that order; repetitions run in parallel and are averaged
//! in order.

use rayon::prelude::*;

use crate::error::{Result, SynthError, check_range};
use crate::linalg::{cholesky_solve, dist2, dot};
use crate::model::{mix, random_unit, random_unit_orthogonal};
use crate::rng::{FastRng, fill_normal, stream, tags};

/// m(λ, γ) for λ > 0, γ > 0.
pub fn stieltjes_m(lambda: f64, gamma: f64) -> f64 {
    let a = 1.0 - gamma + lambda;
    (-a + (a * a + 4.0 * gamma * lambda).sqrt()) / (2.0 * gamma * lambda)
}

/// m₂ = −∂m/∂λ (analytic derivative of [`stieltjes_m`]).
pub fn stieltjes_m2(lambda: f64, gamma: f64) -> f64 {
    let a = 1.0 - gamma + lambda;
    let root = (a * a + 4.0 * gamma * lambda).sqrt();
    let num = -a + root;
    let dnum = -1.0 + (a + 2.0 * gamma) / root;
    let den = 2.0 * gamma * lambda;
    -(dnum * den - num * 2.0 * gamma) / (den * den)
}

/// τ₁, τ₂ and V of ridge(λ) at aspect ratio γ and noise σ².
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Moments {
    pub tau1: f64,
    pub tau2: f64,
    pub v: f64,
}

fn check_theory(lambda: f64, gamma: f64, sigma2: f64) -> Result<()> {
    check_range("lambda", lambda, f64::MIN_POSITIVE, f64::MAX)?;
    check_range("gamma", gamma, f64::MIN_POSITIVE, f64::MAX)?;
    check_range("sigma2", sigma2, 0.0, f64::MAX)
}

pub fn moments(lambda: f64, gamma: f64, sigma2: f64) -> Result<Moments> {
    check_theory(lambda, gamma, sigma2)?;
    let m = stieltjes_m(lambda, gamma);
    let m2 = stieltjes_m2(lambda, gamma);
    Ok(Moments {
        tau1: 1.0 - lambda * m,
        tau2: 1.0 - 2.0 * lambda * m + lambda * lambda * m2,
        v: sigma2 * gamma * (m - lambda * m2),
    })
}

/// Asymptotic teacher excess error.
pub fn teacher_excess(sigma2: f64, gamma_t: f64, lambda_t: f64) -> Result<f64> {
    let t = moments(lambda_t, gamma_t, sigma2)?;
    Ok(1.0 - 2.0 * t.tau1 + t.tau2 + t.v)
}

/// Asymptotic student excess error.
pub fn student_excess(
    sigma2: f64,
    gamma_t: f64,
    lambda_t: f64,
    gamma_s: f64,
    lambda_s: f64,
) -> Result<f64> {
    let t = moments(lambda_t, gamma_t, sigma2)?;
    let s = moments(lambda_s, gamma_s, 0.0)?;
    Ok(1.0 - 2.0 * s.tau1 * t.tau1 + s.tau2 * (t.tau2 + t.v))
}

/// Simulation settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RidgeSim {
    pub d: usize,
    pub n_t: usize,
    pub n_s: usize,
    pub sigma2: f64,
    pub lambda_t: f64,
    pub reps: usize,
}

impl RidgeSim {
    fn validate(&self) -> Result<()> {
        for (name, x) in [
            ("d", self.d),
            ("n_t", self.n_t),
            ("n_s", self.n_s),
            ("reps", self.reps),
        ] {
            if x == 0 {
                return Err(SynthError::param(name, "must be ≥ 1"));
            }
        }
        if self.d < 2 {
            return Err(SynthError::param("d", "must be ≥ 2"));
        }
        check_range("sigma2", self.sigma2, 0.0, f64::MAX)?;
        check_range("lambda_t", self.lambda_t, f64::MIN_POSITIVE, f64::MAX)
    }
}

/// Mean and standard error over repetitions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub mean: f64,
    pub se: f64,
}

fn estimate(xs: &[f64]) -> Estimate {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = if xs.len() > 1 {
        xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    Estimate {
        mean,
        se: (var / n).sqrt(),
    }
}

/// XᵀX (d×d, row-major) of the row-major n×d matrix `x`.
fn gram(x: &[f64], d: usize) -> Vec<f64> {
    let mut g = vec![0.0; d * d];
    for row in x.chunks(d) {
        for i in 0..d {
            let xi = row[i];
            let gi = &mut g[i * d..i * d + i + 1];
            gi.iter_mut()
                .zip(&row[..=i])
                .for_each(|(a, b)| *a += xi * b);
        }
    }
    for i in 0..d {
        for j in 0..i {
            g[j * d + i] = g[i * d + j];
        }
    }
    g
}

/// Xᵀy.
fn xt_y(x: &[f64], y: &[f64], d: usize) -> Vec<f64> {
    let mut r = vec![0.0; d];
    for (row, yi) in x.chunks(d).zip(y) {
        r.iter_mut().zip(row).for_each(|(a, b)| *a += yi * b);
    }
    r
}

/// Solves (G + n·λ·Γ) β = r with Γ = I − (1 − κ)ppᵀ (p = None: Γ = I).
fn solve(
    g: &[f64],
    d: usize,
    n: usize,
    lambda: f64,
    p: Option<(&[f64], f64)>,
    r: &[f64],
) -> Result<Vec<f64>> {
    let mut a = g.to_vec();
    let nl = n as f64 * lambda;
    for i in 0..d {
        a[i * d + i] += nl;
    }
    if let Some((p, kappa)) = p {
        let c = nl * (1.0 - kappa);
        for i in 0..d {
            for j in 0..d {
                a[i * d + j] -= c * p[i] * p[j];
            }
        }
    }
    cholesky_solve(&a, d, r)
}

fn gaussian_matrix(rng: &mut FastRng, n: usize, d: usize) -> Vec<f64> {
    let mut x = vec![0.0; n * d];
    fill_normal(rng, &mut x);
    x
}

/// One repetition's shared draws.
struct Rep {
    beta: Vec<f64>,
    beta_t: Vec<f64>,
    gram_s: Vec<f64>,
    r_s: Vec<f64>,
    u: Vec<f64>,
}

fn draw_rep(cfg: &RidgeSim, seed: u64, rep: usize) -> Result<Rep> {
    let d = cfg.d;
    let mut rng = stream(seed, tags::RIDGE, rep as u64);
    let beta = random_unit(&mut rng, d)?;
    let xt = gaussian_matrix(&mut rng, cfg.n_t, d);
    let mut y: Vec<f64> = xt.chunks(d).map(|row| dot(row, &beta)).collect();
    let mut noise = vec![0.0; cfg.n_t];
    fill_normal(&mut rng, &mut noise);
    let s = cfg.sigma2.sqrt();
    y.iter_mut().zip(&noise).for_each(|(y, e)| *y += s * e);
    let beta_t = solve(
        &gram(&xt, d),
        d,
        cfg.n_t,
        cfg.lambda_t,
        None,
        &xt_y(&xt, &y, d),
    )?;
    let xs = gaussian_matrix(&mut rng, cfg.n_s, d);
    let ys: Vec<f64> = xs.chunks(d).map(|row| dot(row, &beta_t)).collect();
    let u = random_unit_orthogonal(&mut rng, &beta)?;
    Ok(Rep {
        gram_s: gram(&xs, d),
        r_s: xt_y(&xs, &ys, d),
        beta,
        beta_t,
        u,
    })
}

/// Simulated teacher error and student error for each λ_s (same draws for every λ_s).
pub fn simulate(cfg: &RidgeSim, lambdas_s: &[f64], seed: u64) -> Result<(Estimate, Vec<Estimate>)> {
    cfg.validate()?;
    for &l in lambdas_s {
        check_range("lambda_s", l, f64::MIN_POSITIVE, f64::MAX)?;
    }
    let per_rep: Vec<(f64, Vec<f64>)> = (0..cfg.reps)
        .into_par_iter()
        .map(|rep| {
            let r = draw_rep(cfg, seed, rep)?;
            let students = lambdas_s
                .iter()
                .map(|&l| {
                    Ok(dist2(
                        &solve(&r.gram_s, cfg.d, cfg.n_s, l, None, &r.r_s)?,
                        &r.beta,
                    ))
                })
                .collect::<Result<Vec<_>>>()?;
            Ok((dist2(&r.beta_t, &r.beta), students))
        })
        .collect::<Result<_>>()?;
    let teacher = estimate(&per_rep.iter().map(|x| x.0).collect::<Vec<_>>());
    let students = (0..lambdas_s.len())
        .map(|k| estimate(&per_rep.iter().map(|x| x.1[k]).collect::<Vec<_>>()))
        .collect();
    Ok((teacher, students))
}

/// One weighted-ridge result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeightedRow {
    pub zeta: f64,
    pub ridge: Estimate,
    pub weighted: Estimate,
    /// Mean of the per-repetition (ridge − weighted) differences.
    pub gain: Estimate,
}

/// Weighted-ridge students (penalty λ_s·βᵀΓβ) for each ζ, against plain ridge(λ_s).
pub fn simulate_weighted(
    cfg: &RidgeSim,
    lambda_s: f64,
    kappa: f64,
    zetas: &[f64],
    seed: u64,
) -> Result<Vec<WeightedRow>> {
    cfg.validate()?;
    check_range("lambda_s", lambda_s, f64::MIN_POSITIVE, f64::MAX)?;
    check_range("kappa", kappa, f64::MIN_POSITIVE, 1.0)?;
    for &z in zetas {
        check_range("zeta", z, -1.0, 1.0)?;
    }
    let per_rep: Vec<(f64, Vec<f64>)> = (0..cfg.reps)
        .into_par_iter()
        .map(|rep| {
            let r = draw_rep(cfg, seed, rep)?;
            let plain = dist2(
                &solve(&r.gram_s, cfg.d, cfg.n_s, lambda_s, None, &r.r_s)?,
                &r.beta,
            );
            let weighted = zetas
                .iter()
                .map(|&z| {
                    let p = mix(z, &r.beta, &r.u);
                    let b = solve(
                        &r.gram_s,
                        cfg.d,
                        cfg.n_s,
                        lambda_s,
                        Some((&p, kappa)),
                        &r.r_s,
                    )?;
                    Ok(dist2(&b, &r.beta))
                })
                .collect::<Result<Vec<_>>>()?;
            Ok((plain, weighted))
        })
        .collect::<Result<_>>()?;
    let plain: Vec<f64> = per_rep.iter().map(|x| x.0).collect();
    Ok(zetas
        .iter()
        .enumerate()
        .map(|(k, &zeta)| {
            let w: Vec<f64> = per_rep.iter().map(|x| x.1[k]).collect();
            let g: Vec<f64> = per_rep.iter().map(|x| x.0 - x.1[k]).collect();
            WeightedRow {
                zeta,
                ridge: estimate(&plain),
                weighted: estimate(&w),
                gain: estimate(&g),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn theory_reproduces_the_reference_numbers() {
        let t = teacher_excess(0.5, 0.5, 0.05).unwrap();
        let s = student_excess(0.5, 0.5, 0.05, 0.5, 0.3).unwrap();
        assert!((t - 0.373).abs() < 5e-4, "{t}");
        assert!((s - 0.347).abs() < 5e-4, "{s}");
    }

    #[test]
    fn m2_is_minus_the_derivative_of_m() {
        for (l, g) in [(0.05, 0.5), (0.3, 2.0), (1.0, 0.1)] {
            let h = 1e-6;
            let fd = -(stieltjes_m(l + h, g) - stieltjes_m(l - h, g)) / (2.0 * h);
            assert!((fd - stieltjes_m2(l, g)).abs() < 1e-6 * fd.abs().max(1.0));
        }
    }

    #[test]
    fn well_regularized_teacher_cannot_be_beaten() {
        // λ_t = σ²γ_t is the optimal ridge: no λ_s gives a student below the teacher.
        let t = teacher_excess(0.5, 0.5, 0.25).unwrap();
        for ls in [0.01, 0.05, 0.1, 0.3, 1.0, 3.0] {
            assert!(student_excess(0.5, 0.5, 0.25, 0.5, ls).unwrap() >= t - 1e-12);
        }
    }

    #[test]
    fn simulation_agrees_with_theory_at_d_400() {
        let cfg = RidgeSim {
            d: 400,
            n_t: 800,
            n_s: 800,
            sigma2: 0.5,
            lambda_t: 0.05,
            reps: 6,
        };
        let (t, s) = simulate(&cfg, &[0.3], 17).unwrap();
        let (tt, st) = (
            teacher_excess(0.5, 0.5, 0.05).unwrap(),
            student_excess(0.5, 0.5, 0.05, 0.5, 0.3).unwrap(),
        );
        assert!((t.mean - tt).abs() < 0.05 * tt, "teacher {t:?} vs {tt}");
        assert!(
            (s[0].mean - st).abs() < 0.05 * st,
            "student {:?} vs {st}",
            s[0]
        );
    }

    #[test]
    fn weighted_gain_grows_with_zeta() {
        let cfg = RidgeSim {
            d: 100,
            n_t: 200,
            n_s: 200,
            sigma2: 0.5,
            lambda_t: 0.05,
            reps: 4,
        };
        let rows = simulate_weighted(&cfg, 0.3, 0.1, &[0.0, 0.5, 0.9], 3).unwrap();
        assert!(
            rows[0].gain.mean < rows[1].gain.mean && rows[1].gain.mean < rows[2].gain.mean,
            "{rows:?}"
        );
        assert!(rows[2].gain.mean > 0.0);
    }

    #[test]
    fn bad_params_are_errors() {
        assert!(moments(0.0, 0.5, 0.5).is_err());
        let cfg = RidgeSim {
            d: 10,
            n_t: 0,
            n_s: 20,
            sigma2: 0.5,
            lambda_t: 0.05,
            reps: 1,
        };
        assert!(simulate(&cfg, &[0.1], 0).is_err());
        let cfg = RidgeSim { n_t: 20, ..cfg };
        assert!(simulate(&cfg, &[-0.1], 0).is_err());
        assert!(simulate_weighted(&cfg, 0.1, 0.0, &[0.5], 0).is_err());
    }
}

#[cfg(test)]
mod thread_tests {
    use super::*;

    #[test]
    fn result_does_not_depend_on_thread_count() {
        let cfg = RidgeSim {
            d: 20,
            n_t: 40,
            n_s: 30,
            sigma2: 0.5,
            lambda_t: 0.05,
            reps: 5,
        };
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| simulate(&cfg, &[0.1, 0.5], 2).unwrap())
        };
        assert_eq!(run(1), run(4));
    }
}
