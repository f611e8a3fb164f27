//! Riemannian gradient and Hessian against finite differences of the exact risk along
//! geodesics (the definition, independent of the Hessian-vector shortcut).

use super::*;
use crate::activation::ActivationKind;
use crate::linalg::normalize;
use crate::model::ProblemParams;
use crate::risk::{DEFAULT_QUAD_N, risk};
use crate::rng::{fill_normal, stream};

fn problem(kind: ActivationKind) -> Problem {
    let params = ProblemParams {
        d: 8,
        alpha: 0.8,
        rho: 0.6,
        lambda: 1.0,
        activation: kind,
    };
    Problem::generate(params, 4).unwrap()
}

/// A unit vector with overlaps with w*, v and the rest of the space.
fn point(p: &Problem) -> Vec<f64> {
    let mut w: Vec<f64> = (0..p.d()).map(|i| ((i * 5 + 2) % 7) as f64 - 3.0).collect();
    for (i, x) in w.iter_mut().enumerate() {
        *x = 0.1 * *x + 0.4 * p.w_star[i] + 0.5 * p.v[i];
    }
    normalize(&mut w).unwrap();
    w
}

/// A random unit tangent vector at `w`.
fn tangent(w: &[f64], seed: u64) -> Vec<f64> {
    let mut u = vec![0.0; w.len()];
    fill_normal(&mut stream(seed, 77, 0), &mut u);
    let mut u = project_tangent(w, &u);
    normalize(&mut u).unwrap();
    u
}

/// R along the geodesic cos s·w + sin s·ξ.
fn along(p: &Problem, q: &GaussHermite, w: &[f64], xi: &[f64], s: f64) -> f64 {
    let u: Vec<f64> = w
        .iter()
        .zip(xi)
        .map(|(a, b)| s.cos() * a + s.sin() * b)
        .collect();
    risk(p, q, &u, &p.w_star)
}

/// d²/ds² R(geodesic) at 0 by a central second difference: ⟨ξ, Hess R ξ⟩.
fn curvature(p: &Problem, q: &GaussHermite, w: &[f64], xi: &[f64]) -> f64 {
    let h = 1e-3;
    (along(p, q, w, xi, h) - 2.0 * along(p, q, w, xi, 0.0) + along(p, q, w, xi, -h)) / (h * h)
}

// Not ReLU: its kink makes Gauss–Hermite quadrature converge only algebraically, so the
// exact risk itself is not smooth to the 1e-6 these differences need (see `risk`).
const KINDS: [ActivationKind; 3] = [
    ActivationKind::BoundedTanh,
    ActivationKind::ShiftedHe3,
    ActivationKind::Gelu,
];

#[test]
fn riemannian_gradient_is_the_geodesic_slope() {
    let q = GaussHermite::new(DEFAULT_QUAD_N).unwrap();
    for kind in KINDS {
        let p = problem(kind);
        let w = point(&p);
        let g = riemannian_grad(&p, &q, &w, &p.w_star);
        assert!(dot(&g, &w).abs() < 1e-14, "not tangent");
        for seed in 0..4 {
            let xi = tangent(&w, seed);
            let h = 1e-5;
            let fd = (along(&p, &q, &w, &xi, h) - along(&p, &q, &w, &xi, -h)) / (2.0 * h);
            let scale = norm(&g).max(1e-3);
            assert!(
                (fd - dot(&g, &xi)).abs() < 1e-6 * scale,
                "{kind:?}: {fd} vs {}",
                dot(&g, &xi)
            );
        }
    }
}

#[test]
fn hessian_pieces_are_geodesic_curvatures() {
    let q = GaussHermite::new(DEFAULT_QUAD_N).unwrap();
    for kind in KINDS {
        let p = problem(kind);
        let w = point(&p);
        let h = riemannian_hessian(&p, &q, &w, &p.w_star);
        assert_eq!(h.basis.len(), 2);
        let scale = h.block.iter().fold(1e-3f64, |m, x| m.max(x.abs()));
        let tol = 2e-5 * scale;
        let (e0, e1) = (&h.basis[0], &h.basis[1]);
        assert!(
            (curvature(&p, &q, &w, e0) - h.block[0]).abs() < tol,
            "{kind:?}"
        );
        assert!(
            (curvature(&p, &q, &w, e1) - h.block[3]).abs() < tol,
            "{kind:?}"
        );
        // Polarisation: ⟨e0, H e1⟩ = (q(e0 + e1) − q(e0 − e1)) / 4 with unnormalised
        // directions; q(ξ) for ‖ξ‖ = √2 is 2·q(ξ/√2).
        let mixed = |sign: f64| -> f64 {
            let mut u: Vec<f64> = e0.iter().zip(e1).map(|(a, b)| a + sign * b).collect();
            normalize(&mut u).unwrap();
            2.0 * curvature(&p, &q, &w, &u)
        };
        let off = (mixed(1.0) - mixed(-1.0)) / 4.0;
        assert!(
            (off - h.block[1]).abs() < tol,
            "{kind:?}: {off} vs {}",
            h.block[1]
        );
        let (bulk, xi) = h.bulk.clone().unwrap();
        assert!((curvature(&p, &q, &w, &xi) - bulk).abs() < tol, "{kind:?}");
        // The smallest eigenvalue bounds every Rayleigh quotient from below.
        let min = h.min_eig();
        for seed in 0..12 {
            let r = curvature(&p, &q, &w, &tangent(&w, 100 + seed));
            assert!(r > min - tol, "{kind:?}: Rayleigh {r} < λ_min {min}");
        }
    }
}

#[test]
fn hessian_at_the_teacher_is_positive_definite() {
    // App. B.2: at w*, ∇R = 0 and ∇²R = E[σ'(⟨w*,x⟩)² xxᵀ] ≻ 0.
    let q = GaussHermite::new(DEFAULT_QUAD_N).unwrap();
    let p = problem(ActivationKind::BoundedTanh);
    let g = riemannian_grad(&p, &q, &p.w_star, &p.w_star);
    assert!(norm(&g) < 1e-14);
    let h = riemannian_hessian(&p, &q, &p.w_star, &p.w_star);
    // No direction toward the teacher at the teacher: only v's part remains.
    assert_eq!(h.basis.len(), 1);
    assert!(h.min_eig() > 0.0, "{h:?}");
}

#[test]
fn small_dimensions_have_no_bulk() {
    let q = GaussHermite::new(16).unwrap();
    let params = ProblemParams {
        d: 3,
        alpha: 0.5,
        rho: 0.6,
        lambda: 1.0,
        activation: ActivationKind::ShiftedHe3,
    };
    let p = Problem::generate(params, 1).unwrap();
    let mut w = vec![0.3, -0.2, 0.9];
    normalize(&mut w).unwrap();
    let h = riemannian_hessian(&p, &q, &w, &p.w_star);
    assert_eq!(h.basis.len(), 2);
    assert!(h.bulk.is_none());
    assert!(h.min_eig().is_finite());
}
