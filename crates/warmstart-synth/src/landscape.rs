//! Landscape metrics of App. C.4 at a point w of the sphere:
//! - θ = arccos⟨w, w*⟩ in degrees;
//! - tangential pull ⟨−∇R(w), t̂⟩, t̂ = (w* − ⟨w,w*⟩w)/‖·‖ (positive = R decreases toward w*);
//! - μ = d²/ds² R(cos s·w + sin s·t̂) at s = 0: the curvature of R along the geodesic toward
//!   w* (central second difference of the exact risk, step [`MU_STEP`]);
//! - ε = ‖∇L_weak(w) − ∇R(w)‖, the weak bias of Theorem 3.3 (exact gradients).
//!
//! At w = ±w* the geodesic direction is undefined and pull/μ are NaN.

use crate::error::Result;
use crate::linalg::{dot, norm};
use crate::model::Problem;
use crate::pca::{PcaConfig, power_iteration};
use crate::quadrature::GaussHermite;
use crate::risk::{risk_grad, true_risk, weak_label_risk};

/// Arc-length step of the second difference for μ: small enough for O(h²) truncation
/// (~1e-6 relative), large enough that quadrature round-off (~1e-15) stays below 1e-8.
pub const MU_STEP: f64 = 1e-3;

/// The metrics at one point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Landscape {
    pub theta_deg: f64,
    pub pull: f64,
    pub mu: f64,
    pub eps: f64,
    pub risk: f64,
    pub weak_risk: f64,
}

/// Metrics at the unit vector `w`.
pub fn metrics(p: &Problem, q: &GaussHermite, w: &[f64]) -> Landscape {
    let c = dot(w, &p.w_star).clamp(-1.0, 1.0);
    let mut t: Vec<f64> = p.w_star.iter().zip(w).map(|(s, x)| s - c * x).collect();
    let tn = norm(&t);
    // atan2 stays accurate near θ = 0, where arccos loses half the digits.
    let theta_deg = tn.atan2(c).to_degrees();
    let g_true = risk_grad(p, q, w, &p.w_star);
    let g_weak = risk_grad(p, q, w, &p.w_weak);
    let eps = g_true
        .iter()
        .zip(&g_weak)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        .sqrt();
    let r0 = true_risk(p, q, w);
    let (pull, mu) = if tn > 1e-12 {
        t.iter_mut().for_each(|x| *x /= tn);
        let pull = -dot(&g_true, &t);
        let at = |s: f64| -> f64 {
            let (cs, sn) = (s.cos(), s.sin());
            let u: Vec<f64> = w.iter().zip(&t).map(|(a, b)| cs * a + sn * b).collect();
            true_risk(p, q, &u)
        };
        let h = MU_STEP;
        (pull, (at(h) - 2.0 * r0 + at(-h)) / (h * h))
    } else {
        (f64::NAN, f64::NAN)
    };
    Landscape {
        theta_deg,
        pull,
        mu,
        eps,
        risk: r0,
        weak_risk: weak_label_risk(p, q, w),
    }
}

/// One row of the landscape along power iteration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LandscapeStep {
    pub iter: usize,
    pub overlap_v: f64,
    pub overlap_wstar: f64,
    pub metrics: Landscape,
}

/// Metrics at every (sign-fixed) power-iteration iterate.
pub fn along_power_iteration(
    p: &Problem,
    cfg: PcaConfig,
    seed: u64,
    q: &GaussHermite,
) -> Result<Vec<LandscapeStep>> {
    let mut rows = Vec::new();
    power_iteration(p, cfg, seed, q, |s, w| {
        rows.push(LandscapeStep {
            iter: s.iter,
            overlap_v: s.overlap_v,
            overlap_wstar: s.overlap_wstar,
            metrics: metrics(p, q, w),
        });
    })?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::ActivationKind;
    use crate::init::fixed_init;
    use crate::model::ProblemParams;
    use crate::risk::DEFAULT_QUAD_N;

    fn problem() -> Problem {
        let params = ProblemParams {
            d: 40,
            alpha: 0.7,
            rho: 0.6,
            lambda: 3.0,
            activation: ActivationKind::ShiftedHe3,
        };
        Problem::generate(params, 3).unwrap()
    }

    #[test]
    fn metrics_are_consistent() {
        let q = GaussHermite::new(DEFAULT_QUAD_N).unwrap();
        let p = problem();
        let w = fixed_init(&p, 0.8, 2).unwrap();
        let m = metrics(&p, &q, &w);
        assert!((m.theta_deg - 0.8f64.acos().to_degrees()).abs() < 1e-9);
        // Near w* the risk decreases toward w*, so the pull is positive and R is convex.
        assert!(m.pull > 0.0 && m.mu > 0.0, "{m:?}");
        assert!(m.eps > 0.0);
        // With weak labels from w* itself the bias vanishes.
        let mut exact = p.clone();
        exact.w_weak = p.w_star.clone();
        assert!(metrics(&exact, &q, &w).eps < 1e-12);
        let at_star = metrics(&p, &q, &p.w_star);
        assert!(at_star.pull.is_nan() && at_star.theta_deg.abs() < 1e-6);
    }

    #[test]
    fn pull_is_minus_the_geodesic_slope() {
        let q = GaussHermite::new(DEFAULT_QUAD_N).unwrap();
        let p = problem();
        let w = fixed_init(&p, 0.4, 5).unwrap();
        let m = metrics(&p, &q, &w);
        let c = dot(&w, &p.w_star);
        let mut t: Vec<f64> = p.w_star.iter().zip(&w).map(|(s, x)| s - c * x).collect();
        let tn = norm(&t);
        t.iter_mut().for_each(|x| *x /= tn);
        let at = |s: f64| {
            let u: Vec<f64> = w
                .iter()
                .zip(&t)
                .map(|(a, b)| s.cos() * a + s.sin() * b)
                .collect();
            true_risk(&p, &q, &u)
        };
        let slope = (at(1e-5) - at(-1e-5)) / 2e-5;
        assert!(
            (m.pull + slope).abs() < 1e-6 * slope.abs().max(1.0),
            "{} vs {}",
            m.pull,
            -slope
        );
    }

    #[test]
    fn runs_along_power_iteration() {
        let q = GaussHermite::new(16).unwrap();
        let p = problem();
        let rows = along_power_iteration(
            &p,
            PcaConfig {
                n_samples: 400,
                iters: 5,
                tol: 0.0,
            },
            1,
            &q,
        )
        .unwrap();
        assert_eq!(rows.len(), 6);
        assert!(rows[5].overlap_v.abs() > rows[0].overlap_v.abs());
    }
}
