//! Online spherical projected gradient descent (fine-tuning): one fresh sample per step,
//! g = (σ(⟨w,x⟩) − ŷ)·σ'(⟨w,x⟩)·x, w ← (w − ηg)/‖w − ηg‖, η = δ/d, T = round(τ·d),
//! labels ŷ = σ(⟨w_weak,x⟩) (W2S) or σ(⟨w*,x⟩) (strong ceiling).
//!
//! Speed: the step draws x in place (one [`crate::rng::FastRng`] = Xoshiro256++ stream
//! `(seed, PGD, 0)`, normals from rand_distr's ziggurat `StandardNormal`; per step first
//! h then the d coordinates of g), fuses the spike with both dot products and the step
//! with the new norm, keeps w = s·u to skip the normalisation pass, and allocates nothing.
//! The normal draws (~1.5 ns each) dominate: ~2.2 µs/step at d = 1000 on the dev machine
//! (`cargo run --release -p warmstart-synth --example pgd_speed`). Generating the normals
//! inside the projection loop measured slower (the generator no longer pipelines).

use crate::error::{Result, SynthError, check_range};
use crate::linalg::{dot, norm};
use crate::model::Problem;
use crate::quadrature::GaussHermite;
use crate::risk::true_risk;
use crate::rng::{fill_normal, normal, stream, tags};

/// Which teacher labels the fine-tuning samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Labels {
    /// ŷ = σ(⟨w_weak, x⟩): weak-to-strong.
    Weak,
    /// ŷ = σ(⟨w*, x⟩): the strong ceiling.
    True,
}

/// Fine-tuning settings.
#[derive(Debug, Clone, Copy)]
pub struct PgdConfig {
    /// Step-size scale δ > 0; η = δ/d.
    pub delta: f64,
    /// Horizon scale τ ≥ 0; T = round(τ·d) steps.
    pub tau: f64,
    /// Log every this many steps (≥ 1); step 0 and step T are always logged.
    pub log_every: usize,
    pub labels: Labels,
}

/// One logged point of a trajectory.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PgdLog {
    pub step: u64,
    /// ‖w − w*‖² = 2 − 2⟨w,w*⟩.
    pub dist2: f64,
    pub overlap_wstar: f64,
    pub overlap_weak: f64,
    /// Exact population risk R(w).
    pub risk: f64,
}

/// The final student and its trajectory.
#[derive(Debug, Clone)]
pub struct PgdResult {
    pub w: Vec<f64>,
    pub log: Vec<PgdLog>,
    pub steps: u64,
}

fn log_point(p: &Problem, q: &GaussHermite, w: &[f64], step: u64) -> PgdLog {
    let ow = dot(w, &p.w_star);
    PgdLog {
        step,
        dist2: 2.0 - 2.0 * ow,
        overlap_wstar: ow,
        overlap_weak: dot(w, &p.w_weak),
        risk: true_risk(p, q, w),
    }
}

/// x += h·v, returning (⟨w,x⟩, ⟨t,x⟩). Exact-size chunks remove bounds checks so the
/// 4-lane accumulators vectorise; the fixed summation order keeps runs bit-identical.
#[inline]
fn spike_and_project(x: &mut [f64], v: &[f64], h: f64, w: &[f64], t: &[f64]) -> (f64, f64) {
    let (mut a, mut b) = ([0.0f64; 4], [0.0f64; 4]);
    let mut xc = x.chunks_exact_mut(4);
    let (mut vc, mut wc, mut tc) = (v.chunks_exact(4), w.chunks_exact(4), t.chunks_exact(4));
    for (((xs, vs), ws), ts) in (&mut xc).zip(&mut vc).zip(&mut wc).zip(&mut tc) {
        for l in 0..4 {
            let xi = xs[l] + h * vs[l];
            xs[l] = xi;
            a[l] += ws[l] * xi;
            b[l] += ts[l] * xi;
        }
    }
    let (mut sa, mut sb) = ((a[0] + a[1]) + (a[2] + a[3]), (b[0] + b[1]) + (b[2] + b[3]));
    let rest = xc
        .into_remainder()
        .iter_mut()
        .zip(vc.remainder())
        .zip(wc.remainder())
        .zip(tc.remainder());
    for (((xi, vi), wi), ti) in rest {
        *xi += h * vi;
        sa += wi * *xi;
        sb += ti * *xi;
    }
    (sa, sb)
}

/// w −= c·x, returning ‖w‖² (same chunking as [`spike_and_project`]).
#[inline]
fn step_and_norm2(w: &mut [f64], x: &[f64], c: f64) -> f64 {
    let mut acc = [0.0f64; 4];
    let mut wc = w.chunks_exact_mut(4);
    let mut xc = x.chunks_exact(4);
    for (ws, xs) in (&mut wc).zip(&mut xc) {
        for l in 0..4 {
            ws[l] -= c * xs[l];
            acc[l] += ws[l] * ws[l];
        }
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (wi, xi) in wc.into_remainder().iter_mut().zip(xc.remainder()) {
        *wi -= c * xi;
        s += *wi * *wi;
    }
    s
}

/// Number of steps T = round(τ·d).
pub fn steps_for(tau: f64, d: usize) -> u64 {
    (tau * d as f64).round() as u64
}

/// Runs online PGD from `w0` (normalised first).
pub fn run_pgd(
    p: &Problem,
    w0: &[f64],
    cfg: PgdConfig,
    seed: u64,
    q: &GaussHermite,
) -> Result<PgdResult> {
    let d = p.d();
    if w0.len() != d {
        return Err(SynthError::param(
            "init",
            format!("w0 has length {} ≠ d = {d}", w0.len()),
        ));
    }
    check_range("delta", cfg.delta, f64::MIN_POSITIVE, f64::MAX)?;
    check_range("tau", cfg.tau, 0.0, 1e9)?;
    if cfg.log_every == 0 {
        return Err(SynthError::param("log_every", "must be ≥ 1"));
    }
    let n0 = norm(w0);
    if !(n0.is_finite() && n0 > 0.0) {
        return Err(SynthError::param(
            "init",
            "w0 must be a nonzero finite vector",
        ));
    }
    // The iterate is kept as w = s·u: the retraction w ← (w − ηg)/‖w − ηg‖ becomes
    // u ← u − (ηc/s)·x, s ← 1/‖u‖, which saves a full pass over d per step. u is
    // re-normalised whenever its norm leaves [1/2, 2] (deterministically, so runs stay
    // bit-identical) to keep s away from under/overflow.
    let mut u: Vec<f64> = w0.iter().map(|x| x / n0).collect();
    let mut s = 1.0f64;
    let teacher: &[f64] = match cfg.labels {
        Labels::Weak => &p.w_weak,
        Labels::True => &p.w_star,
    };
    let eta = cfg.delta / d as f64;
    let total = steps_for(cfg.tau, d);
    let sl = p.params.lambda.sqrt();
    let act = p.act;
    let v = &p.v[..];
    let mut rng = stream(seed, tags::PGD, 0);
    let mut x = vec![0.0; d];
    let mut w = u.clone();
    let mut log = vec![log_point(p, q, &w, 0)];
    for step in 1..=total {
        let h = sl * normal(&mut rng);
        // Draw g into x in a tight loop (the generator pipelines), then add the spike and
        // take both projections in one vectorised pass.
        fill_normal(&mut rng, &mut x);
        let (au, b) = spike_and_project(&mut x, v, h, &u, teacher);
        let a = s * au;
        let c = eta * (act.f(a) - act.f(b)) * act.df(a);
        // Gradient step on u (scaled by 1/s) and its new norm in one pass.
        let n2 = step_and_norm2(&mut u, &x, c / s);
        if !(n2.is_finite() && n2 > 0.0) {
            return Err(SynthError::Numerical(format!(
                "PGD diverged at step {step} (‖w − ηg‖² = {}); lower delta",
                n2 * s * s
            )));
        }
        s = 1.0 / n2.sqrt();
        if !(0.5..=2.0).contains(&s) {
            u.iter_mut().for_each(|ui| *ui *= s);
            s = 1.0;
        }
        if step % cfg.log_every as u64 == 0 || step == total {
            w.iter_mut().zip(&u).for_each(|(wi, ui)| *wi = s * ui);
            log.push(log_point(p, q, &w, step));
        }
    }
    w.iter_mut().zip(&u).for_each(|(wi, ui)| *wi = s * ui);
    Ok(PgdResult {
        w,
        log,
        steps: total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::ActivationKind;
    use crate::init::fixed_init;
    use crate::model::ProblemParams;
    use crate::risk::DEFAULT_QUAD_N;

    fn problem(lambda: f64) -> Problem {
        let params = ProblemParams {
            d: 100,
            alpha: 0.5,
            rho: 0.6,
            lambda,
            activation: ActivationKind::ShiftedHe3,
        };
        Problem::generate(params, 21).unwrap()
    }

    #[test]
    fn stays_on_the_sphere_and_is_reproducible() {
        let q = GaussHermite::new(DEFAULT_QUAD_N).unwrap();
        let p = problem(2.0);
        let w0 = fixed_init(&p, 0.6, 1).unwrap();
        let cfg = PgdConfig {
            delta: 0.05,
            tau: 20.0,
            log_every: 100,
            labels: Labels::Weak,
        };
        let a = run_pgd(&p, &w0, cfg, 5, &q).unwrap();
        assert!((norm(&a.w) - 1.0).abs() < 1e-12);
        for l in &a.log {
            assert!((l.dist2 - (2.0 - 2.0 * l.overlap_wstar)).abs() < 1e-12);
        }
        assert_eq!(a.steps, 2000);
        assert_eq!(a.log.len(), 21);
        let b = run_pgd(&p, &w0, cfg, 5, &q).unwrap();
        assert_eq!(a.w, b.w);
        assert_eq!(a.log, b.log);
        let c = run_pgd(&p, &w0, cfg, 6, &q).unwrap();
        assert_ne!(a.w, c.w);
    }

    #[test]
    fn ceiling_run_approaches_w_star() {
        // With true labels and a decent start, the student must move toward w*.
        let q = GaussHermite::new(DEFAULT_QUAD_N).unwrap();
        let p = problem(0.0);
        let w0 = fixed_init(&p, 0.6, 1).unwrap();
        let cfg = PgdConfig {
            delta: 1e-3,
            tau: 300.0,
            log_every: 1000,
            labels: Labels::True,
        };
        let r = run_pgd(&p, &w0, cfg, 3, &q).unwrap();
        let last = r.log.last().unwrap();
        assert!(last.overlap_wstar > 0.99, "{last:?}");
        assert!(last.risk < 0.01 * r.log[0].risk);
    }

    #[test]
    fn weak_run_dips_below_the_weak_baseline_then_regresses() {
        // The paper's Exp 2 picture in the known unspiked regime (science.md §1): from
        // r0 = ρ = 0.6 the student first improves on the weak level 2 − 2ρ = 0.8, then
        // drifts back toward w_weak.
        let q = GaussHermite::new(8).unwrap();
        let p = problem(0.0);
        let w0 = fixed_init(&p, 0.6, 1).unwrap();
        let cfg = PgdConfig {
            delta: 1e-3,
            tau: 500.0,
            log_every: 1000,
            labels: Labels::Weak,
        };
        let r = run_pgd(&p, &w0, cfg, 3, &q).unwrap();
        let min = r.log.iter().map(|l| l.dist2).fold(f64::INFINITY, f64::min);
        let last = r.log.last().unwrap().dist2;
        assert!(min < 0.75, "min ‖w − w*‖² = {min}");
        assert!(last > min + 0.05 && last <= 0.81, "final {last}, min {min}");
    }

    #[test]
    fn bad_config_is_an_error() {
        let q = GaussHermite::new(8).unwrap();
        let p = problem(1.0);
        let w0 = p.w_weak.clone();
        let ok = PgdConfig {
            delta: 0.1,
            tau: 1.0,
            log_every: 10,
            labels: Labels::Weak,
        };
        assert!(run_pgd(&p, &w0[..5], ok, 0, &q).is_err());
        assert!(run_pgd(&p, &w0, PgdConfig { delta: 0.0, ..ok }, 0, &q).is_err());
        assert!(run_pgd(&p, &w0, PgdConfig { log_every: 0, ..ok }, 0, &q).is_err());
        assert!(run_pgd(&p, &vec![0.0; 100], ok, 0, &q).is_err());
    }
}
