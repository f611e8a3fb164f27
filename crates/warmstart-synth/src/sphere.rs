//! Calculus of a risk on the unit sphere S^{d−1}, where the student lives: the Riemannian
//! gradient and the Riemannian Hessian of R(w) = E ½(σ(⟨w,x⟩) − σ(⟨t,x⟩))², both from the
//! exact Euclidean gradient of [`crate::risk`].
//!
//! - Riemannian gradient: grad R(w) = P_w ∇R(w), P_w = I − wwᵀ (the tangent part).
//! - Riemannian Hessian on the tangent space T_w = w⟂ (the sphere's Levi-Civita
//!   connection): Hess R(w)[ξ] = P_w ∇²R(w) ξ − ⟨w, ∇R(w)⟩ ξ. Its quadratic form ⟨ξ, Hess ξ⟩
//!   is the second derivative of R along the geodesic cos s·w + sin s·ξ at s = 0, which is
//!   how the tests check it against the exact risk.
//!
//! Structure that makes the Hessian cheap: ∇²R(w) = E[ψ(A,B)·xxᵀ] with A = ⟨w,x⟩,
//! B = ⟨t,x⟩, and conditioning x on (A, B) (as in `risk`) gives
//! ∇²R = E[ψ]·Σ + (terms in span{Σw, Σt}), Σ = I + λvvᵀ. So span{w, t, v} and its
//! orthogonal complement are invariant: on T_w the Hessian is a block of size ≤ 2 on
//! T_w ∩ span{w, t, v} plus one eigenvalue, E[ψ] − ⟨w, ∇R⟩, repeated on every direction
//! ⟂ {w, t, v} (the "bulk"). Both are found from Hessian-vector products by central
//! differences of the exact gradient, so no σ'' is needed (ReLU included).

use crate::linalg::{dot, norm};
use crate::model::Problem;
use crate::quadrature::GaussHermite;
use crate::risk::risk_grad;

/// Step of the central difference of the exact gradient behind Hessian-vector products:
/// truncation O(h²) ≈ 1e-8 relative, quadrature round-off (~1e-15) / h ≈ 1e-11.
pub const HESS_STEP: f64 = 1e-4;

/// Vectors below this norm (after removing the span of the others) are taken as absent.
const DEGENERATE: f64 = 1e-9;

/// P_w g = g − ⟨w, g⟩w for a unit `w`.
pub fn project_tangent(w: &[f64], g: &[f64]) -> Vec<f64> {
    let c = dot(w, g);
    g.iter().zip(w).map(|(a, b)| a - c * b).collect()
}

/// The Riemannian gradient grad R(w) of the risk against teacher `t` at the unit `w`.
pub fn riemannian_grad(p: &Problem, q: &GaussHermite, w: &[f64], t: &[f64]) -> Vec<f64> {
    project_tangent(w, &risk_grad(p, q, w, t))
}

/// The Riemannian Hessian of the risk against a teacher at a unit `w`, in its invariant
/// pieces (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct TangentHessian {
    /// Orthonormal basis of T_w ∩ span{w, t, v}: first the direction toward the teacher
    /// (when w ≠ ±t), then the part of v outside it (when any): 0 to 2 vectors.
    pub basis: Vec<Vec<f64>>,
    /// ⟨basis_i, Hess basis_j⟩, row-major, symmetrised.
    pub block: Vec<f64>,
    /// The eigenvalue on the directions ⟂ {w, t, v} and one such unit direction; `None`
    /// when there are none (d too small).
    pub bulk: Option<(f64, Vec<f64>)>,
}

impl TangentHessian {
    /// The smallest eigenvalue of the Riemannian Hessian on the whole tangent space.
    pub fn min_eig(&self) -> f64 {
        let b = &self.block;
        let block_min = match self.basis.len() {
            0 => f64::INFINITY,
            1 => b[0],
            _ => {
                let (m, h) = (0.5 * (b[0] + b[3]), 0.5 * (b[0] - b[3]));
                m - h.hypot(b[1])
            }
        };
        let bulk = self.bulk.as_ref().map_or(f64::INFINITY, |(e, _)| *e);
        block_min.min(bulk)
    }
}

/// The Riemannian Hessian of the risk against teacher `t` at the unit `w`.
pub fn riemannian_hessian(p: &Problem, q: &GaussHermite, w: &[f64], t: &[f64]) -> TangentHessian {
    let radial = dot(w, &risk_grad(p, q, w, t));
    let basis = tangent_basis(w, &[t, &p.v]);
    let hv: Vec<Vec<f64>> = basis.iter().map(|e| hess_vec(p, q, w, t, e)).collect();
    let k = basis.len();
    let mut block = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..k {
            // Symmetrised: the two finite differences agree to ~1e-8, not bit for bit.
            let hij = 0.5 * (dot(&basis[i], &hv[j]) + dot(&basis[j], &hv[i]));
            block[i * k + j] = hij - if i == j { radial } else { 0.0 };
        }
    }
    let mut spanned: Vec<&[f64]> = vec![w];
    spanned.extend(basis.iter().map(Vec::as_slice));
    let bulk = bulk_direction(&spanned).map(|xi| {
        let e = dot(&xi, &hess_vec(p, q, w, t, &xi)) - radial;
        (e, xi)
    });
    TangentHessian { basis, block, bulk }
}

/// ∇²R(w)·ξ by a central difference of the exact gradient (off the sphere: R is defined
/// for any w).
fn hess_vec(p: &Problem, q: &GaussHermite, w: &[f64], t: &[f64], xi: &[f64]) -> Vec<f64> {
    let h = HESS_STEP;
    let shifted = |s: f64| -> Vec<f64> { w.iter().zip(xi).map(|(a, b)| a + s * b).collect() };
    let gp = risk_grad(p, q, &shifted(h), t);
    let gm = risk_grad(p, q, &shifted(-h), t);
    gp.iter()
        .zip(&gm)
        .map(|(a, b)| (a - b) / (2.0 * h))
        .collect()
}

/// Gram–Schmidt of `candidates` against the unit `w` and each other; degenerate ones are
/// dropped.
fn tangent_basis(w: &[f64], candidates: &[&[f64]]) -> Vec<Vec<f64>> {
    let mut basis: Vec<Vec<f64>> = Vec::new();
    for c in candidates {
        let mut against: Vec<&[f64]> = vec![w];
        against.extend(basis.iter().map(Vec::as_slice));
        if let Some(u) = unit_residual(c, &against) {
            basis.push(u);
        }
    }
    basis
}

/// `u` with its components along the orthonormal `against` removed, normalised; `None`
/// when nothing is left.
fn unit_residual(u: &[f64], against: &[&[f64]]) -> Option<Vec<f64>> {
    let mut u = u.to_vec();
    // Twice: one pass loses orthogonality when u is nearly in the span already.
    for _ in 0..2 {
        for b in against {
            let proj = dot(&u, b);
            u.iter_mut().zip(b.iter()).for_each(|(x, y)| *x -= proj * y);
        }
    }
    let n = norm(&u);
    (n > DEGENERATE).then(|| u.iter().map(|x| x / n).collect())
}

/// A unit vector ⟂ every vector of the orthonormal `spanned`: the coordinate vector with
/// the least weight in their span, projected off it (its residual has squared norm
/// ≥ 1 − |spanned|/d, so it is well conditioned once d > |spanned|).
fn bulk_direction(spanned: &[&[f64]]) -> Option<Vec<f64>> {
    let d = spanned.first()?.len();
    if d <= spanned.len() {
        return None;
    }
    let weight = |i: usize| spanned.iter().map(|b| b[i] * b[i]).sum::<f64>();
    let i = (0..d).min_by(|&a, &b| weight(a).total_cmp(&weight(b)))?;
    let mut e = vec![0.0; d];
    e[i] = 1.0;
    unit_residual(&e, spanned)
}

#[cfg(test)]
mod tests;
