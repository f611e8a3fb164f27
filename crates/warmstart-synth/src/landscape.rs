//! Landscape metrics of App. C.4 at a point w of the sphere, with R = R* the true risk
//! (teacher w*), L = L_w2s the weak-label risk (teacher w_weak), grad the Riemannian
//! gradient and Hess the Riemannian Hessian on the sphere ([`crate::sphere`]):
//! - θ = ∠(w, w*) in degrees, and the chord `dist` = ‖w − w*‖ = 2 sin(θ/2);
//! - tangential pull ⟨−∇R(w), t̂⟩, t̂ = (w* − ⟨w,w*⟩w)/‖·‖ (positive = R decreases toward w*);
//! - μ (`mu`), the one-point strong-convexity constant of Theorem 3.3 (Eq. 2):
//!   ⟨grad R(w), w − w*⟩ / ‖w − w*‖². R is *minimised* at w*, so μ > 0 exactly when the
//!   gradient points away from w* (descent moves toward it); with grad R = P_w∇R it equals
//!   pull · sin θ / ‖w − w*‖² = pull / (2 tan(θ/2));
//! - `mu_hessian`: the smallest eigenvalue of Hess R(w) on the whole tangent space, the
//!   constant of the proof of Theorem 3.3 (App. B.2: λ_min of the Hessian, ≥ μ/2 on the
//!   cap). Restricted to span{w, w*} the tangent space is the line of t̂ and the Hessian is
//!   the geodesic curvature below, so the minimum is taken over T_w, where it is exact: a
//!   2×2 block on T_w ∩ span{w*, v} and one isotropic "bulk" eigenvalue on the rest;
//! - `geodesic_curvature` = d²/ds² R(cos s·w + sin s·t̂) at s = 0 = ⟨t̂, Hess R t̂⟩
//!   (central second difference of the exact risk, step [`MU_STEP`]): the earlier "μ";
//! - ε (`eps`) = ‖grad L(w) − grad R(w)‖, the weak bias of Theorem 3.3, and
//!   `eps_euclidean` = ‖∇L(w) − ∇R(w)‖ (≥ ε: it adds the radial part).
//!
//! With these, Eq. 2 reads ⟨grad L(w), w − w*⟩ ≥ μ‖w − w*‖² − ε‖w − w*‖ (Cauchy–Schwarz),
//! which promises descent toward w* where `mu_dist` = μ·‖w − w*‖ exceeds ε.
//!
//! At w = ±w* the direction t̂ is undefined and pull, μ and the curvature are NaN.

use crate::error::Result;
use crate::linalg::{dot, norm};
use crate::model::Problem;
use crate::pca::{PcaConfig, power_iteration};
use crate::quadrature::GaussHermite;
use crate::risk::{risk_grad, true_risk, weak_label_risk};
use crate::sphere::{project_tangent, riemannian_hessian};

/// Arc-length step of the second difference for the geodesic curvature: small enough for
/// O(h²) truncation (~1e-6 relative), large enough that quadrature round-off (~1e-15)
/// stays below 1e-8.
pub const MU_STEP: f64 = 1e-3;

/// The metrics at one point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Landscape {
    pub theta_deg: f64,
    pub dist: f64,
    pub pull: f64,
    pub mu: f64,
    pub mu_dist: f64,
    pub mu_hessian: f64,
    pub geodesic_curvature: f64,
    pub eps: f64,
    pub eps_euclidean: f64,
    pub risk: f64,
    pub weak_risk: f64,
}

/// ‖a − b‖.
fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

/// Metrics at the unit vector `w`.
pub fn metrics(p: &Problem, q: &GaussHermite, w: &[f64]) -> Landscape {
    let c = dot(w, &p.w_star).clamp(-1.0, 1.0);
    let mut t: Vec<f64> = p.w_star.iter().zip(w).map(|(s, x)| s - c * x).collect();
    let tn = norm(&t);
    // atan2 stays accurate near θ = 0, where arccos loses half the digits.
    let theta_deg = tn.atan2(c).to_degrees();
    let dist = distance(w, &p.w_star);
    let g_true = risk_grad(p, q, w, &p.w_star);
    let g_weak = risk_grad(p, q, w, &p.w_weak);
    let diff: Vec<f64> = g_weak.iter().zip(&g_true).map(|(a, b)| a - b).collect();
    let eps_euclidean = norm(&diff);
    let eps = norm(&project_tangent(w, &diff));
    let r0 = true_risk(p, q, w);
    let mu_hessian = riemannian_hessian(p, q, w, &p.w_star).min_eig();
    let (pull, mu, geodesic_curvature) = if tn > 1e-12 {
        t.iter_mut().for_each(|x| *x /= tn);
        let pull = -dot(&g_true, &t);
        let chord: Vec<f64> = w.iter().zip(&p.w_star).map(|(a, b)| a - b).collect();
        let mu = dot(&project_tangent(w, &g_true), &chord) / (dist * dist);
        let at = |s: f64| -> f64 {
            let (cs, sn) = (s.cos(), s.sin());
            let u: Vec<f64> = w.iter().zip(&t).map(|(a, b)| cs * a + sn * b).collect();
            true_risk(p, q, &u)
        };
        let h = MU_STEP;
        (pull, mu, (at(h) - 2.0 * r0 + at(-h)) / (h * h))
    } else {
        (f64::NAN, f64::NAN, f64::NAN)
    };
    Landscape {
        theta_deg,
        dist,
        pull,
        mu,
        mu_dist: mu * dist,
        mu_hessian,
        geodesic_curvature,
        eps,
        eps_euclidean,
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
        // Near w* the risk decreases toward w*: the pull and the one-point μ are positive.
        assert!(m.pull > 0.0 && m.mu > 0.0, "{m:?}");
        assert!(m.eps > 0.0 && m.eps_euclidean >= m.eps);
        assert!((m.dist - (2.0 - 1.6f64).sqrt()).abs() < 1e-12);
        // λ_min over the tangent space is at most the curvature along one direction.
        assert!(m.mu_hessian <= m.geodesic_curvature + 1e-9, "{m:?}");
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
    fn one_point_mu_matches_the_slope_of_the_exact_risk_along_the_chord() {
        // d/dh R((w + h·u)/‖w + h·u‖) at 0 = ⟨grad R(w), u⟩; with u = w − w*, that is
        // μ·‖w − w*‖². Checked with only the exact risk, for the bounded activation too.
        let q = GaussHermite::new(DEFAULT_QUAD_N).unwrap();
        for kind in [ActivationKind::ShiftedHe3, ActivationKind::BoundedTanh] {
            let mut p = problem();
            p.params.activation = kind;
            p.act = crate::activation::Activation::new(kind, p.params.s2()).unwrap();
            let w = fixed_init(&p, 0.5, 7).unwrap();
            let m = metrics(&p, &q, &w);
            let u: Vec<f64> = w.iter().zip(&p.w_star).map(|(a, b)| a - b).collect();
            let at = |h: f64| {
                let mut x: Vec<f64> = w.iter().zip(&u).map(|(a, b)| a + h * b).collect();
                crate::linalg::normalize(&mut x).unwrap();
                true_risk(&p, &q, &x)
            };
            let slope = (at(1e-5) - at(-1e-5)) / 2e-5;
            let want = slope / (m.dist * m.dist);
            assert!(
                (m.mu - want).abs() < 1e-6 * want.abs().max(1e-3),
                "{kind:?}: {} vs {want}",
                m.mu
            );
            // The closed form through the pull.
            let half = m.theta_deg.to_radians() / 2.0;
            assert!((m.mu - m.pull / (2.0 * half.tan())).abs() < 1e-9 * m.mu.abs().max(1.0));
        }
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
