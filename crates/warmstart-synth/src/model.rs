//! The spiked single-index problem instance: w*, the latent spike v, the weak supervisor
//! w_weak and the activation, with the input law x = g + √λ·h·v (g ~ N(0, I_d),
//! h ~ N(0, 1)), i.e. x ~ N(0, I + λvvᵀ).

use crate::activation::{Activation, ActivationKind};
use crate::error::{Result, SynthError, check_range};
use crate::linalg::{dot, normalize, orthogonalize};
use crate::rng::{FastRng, fill_normal, normal, stream, tags};

/// Parameters of a problem instance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProblemParams {
    /// Dimension d ≥ 2 (a direction ⟂ w* must exist).
    pub d: usize,
    /// Intrinsic task alignment α = ⟨v, w*⟩ ∈ [−1, 1].
    pub alpha: f64,
    /// Weak supervisor quality ρ = ⟨w_weak, w*⟩ ∈ [−1, 1].
    pub rho: f64,
    /// Spike strength λ ≥ 0.
    pub lambda: f64,
    pub activation: ActivationKind,
}

/// A problem instance. All three vectors have unit norm.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub params: ProblemParams,
    pub act: Activation,
    pub w_star: Vec<f64>,
    pub v: Vec<f64>,
    pub w_weak: Vec<f64>,
}

/// A uniformly random unit vector orthogonal to the unit vector `w`.
pub fn random_unit_orthogonal(rng: &mut FastRng, w: &[f64]) -> Result<Vec<f64>> {
    let mut u = vec![0.0; w.len()];
    // A Gaussian vector projected off w is uniform on the sphere of w⟂; retry in the
    // (probability-zero, but cheap to guard) case of a degenerate draw.
    for _ in 0..8 {
        fill_normal(rng, &mut u);
        orthogonalize(&mut u, w);
        if normalize(&mut u).is_ok() {
            return Ok(u);
        }
    }
    Err(SynthError::Numerical(
        "could not draw a unit vector ⟂ w".into(),
    ))
}

/// A uniformly random unit vector in R^d.
pub fn random_unit(rng: &mut FastRng, d: usize) -> Result<Vec<f64>> {
    let mut u = vec![0.0; d];
    for _ in 0..8 {
        fill_normal(rng, &mut u);
        if normalize(&mut u).is_ok() {
            return Ok(u);
        }
    }
    Err(SynthError::Numerical("could not draw a unit vector".into()))
}

/// c·a + √(1−c²)·b.
pub(crate) fn mix(c: f64, a: &[f64], b: &[f64]) -> Vec<f64> {
    let s = (1.0 - c * c).max(0.0).sqrt();
    a.iter().zip(b).map(|(x, y)| c * x + s * y).collect()
}

impl ProblemParams {
    pub fn validate(&self) -> Result<()> {
        if self.d < 2 {
            return Err(SynthError::param("d", format!("{} must be ≥ 2", self.d)));
        }
        check_range("alpha", self.alpha, -1.0, 1.0)?;
        check_range("rho", self.rho, -1.0, 1.0)?;
        check_range("lambda", self.lambda, 0.0, f64::MAX)?;
        Ok(())
    }

    /// Var⟨w*, x⟩ = 1 + λα²: the variance the activation constants are tuned to.
    pub fn s2(&self) -> f64 {
        1.0 + self.lambda * self.alpha * self.alpha
    }
}

impl Problem {
    /// Draws w* uniformly on the sphere, then u and u_w uniformly on w*⟂ (independently),
    /// all from the stream `(seed, PROBLEM, 0)`.
    pub fn generate(params: ProblemParams, seed: u64) -> Result<Problem> {
        params.validate()?;
        let mut rng = stream(seed, tags::PROBLEM, 0);
        let w_star = random_unit(&mut rng, params.d)?;
        let u = random_unit_orthogonal(&mut rng, &w_star)?;
        let u_w = random_unit_orthogonal(&mut rng, &w_star)?;
        let v = mix(params.alpha, &w_star, &u);
        let w_weak = mix(params.rho, &w_star, &u_w);
        let act = Activation::new(params.activation, params.s2())?;
        Ok(Problem {
            params,
            act,
            w_star,
            v,
            w_weak,
        })
    }

    /// Rebuilds an instance from stored vectors (downstream stages), checking shapes.
    pub fn from_parts(
        params: ProblemParams,
        w_star: Vec<f64>,
        v: Vec<f64>,
        w_weak: Vec<f64>,
    ) -> Result<Problem> {
        params.validate()?;
        for (name, x) in [("w_star", &w_star), ("v", &v), ("w_weak", &w_weak)] {
            if x.len() != params.d {
                return Err(SynthError::param(
                    "d",
                    format!("{name} has length {} ≠ d", x.len()),
                ));
            }
        }
        let act = Activation::new(params.activation, params.s2())?;
        Ok(Problem {
            params,
            act,
            w_star,
            v,
            w_weak,
        })
    }

    pub fn d(&self) -> usize {
        self.params.d
    }

    /// Draws one input x = g + √λ·h·v into `x` (no allocation).
    #[inline]
    pub fn sample_x(&self, rng: &mut FastRng, x: &mut [f64]) {
        fill_normal(rng, x);
        if self.params.lambda > 0.0 {
            let c = self.params.lambda.sqrt() * normal(rng);
            x.iter_mut().zip(&self.v).for_each(|(x, v)| *x += c * v);
        }
    }

    /// Cov(⟨a,x⟩, ⟨b,x⟩) = ⟨a,b⟩ + λ⟨a,v⟩⟨b,v⟩.
    pub fn cov(&self, a: &[f64], b: &[f64]) -> f64 {
        dot(a, b) + self.params.lambda * dot(a, &self.v) * dot(b, &self.v)
    }

    /// Σa = a + λ⟨a,v⟩v.
    pub fn sigma_apply(&self, a: &[f64]) -> Vec<f64> {
        let c = self.params.lambda * dot(a, &self.v);
        a.iter().zip(&self.v).map(|(x, v)| x + c * v).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> ProblemParams {
        ProblemParams {
            d: 50,
            alpha: 0.4,
            rho: 0.6,
            lambda: 3.0,
            activation: ActivationKind::ShiftedHe3,
        }
    }

    #[test]
    fn overlaps_are_exact() {
        let p = Problem::generate(params(), 7).unwrap();
        assert!((dot(&p.w_star, &p.w_star) - 1.0).abs() < 1e-12);
        assert!((dot(&p.v, &p.v) - 1.0).abs() < 1e-12);
        assert!((dot(&p.w_weak, &p.w_weak) - 1.0).abs() < 1e-12);
        assert!((dot(&p.v, &p.w_star) - 0.4).abs() < 1e-12);
        assert!((dot(&p.w_weak, &p.w_star) - 0.6).abs() < 1e-12);
        assert_eq!(p, Problem::generate(params(), 7).unwrap());
        assert_ne!(p.w_star, Problem::generate(params(), 8).unwrap().w_star);
    }

    #[test]
    fn bad_params_are_errors() {
        let mut q = params();
        q.d = 1;
        assert!(Problem::generate(q, 0).is_err());
        let mut q = params();
        q.alpha = 1.5;
        assert!(Problem::generate(q, 0).is_err());
        let mut q = params();
        q.lambda = -1.0;
        assert!(Problem::generate(q, 0).is_err());
    }

    #[test]
    fn sample_covariance_matches_sigma() {
        let p = Problem::generate(params(), 1).unwrap();
        let mut rng = stream(3, 99, 0);
        let mut x = vec![0.0; p.d()];
        let (n, mut s_vv, mut s_ww) = (40_000, 0.0, 0.0);
        for _ in 0..n {
            p.sample_x(&mut rng, &mut x);
            s_vv += dot(&x, &p.v).powi(2);
            s_ww += dot(&x, &p.w_star).powi(2);
        }
        // Var⟨v,x⟩ = 1 + λ = 4 and Var⟨w*,x⟩ = 1 + λα² = 1.48; 5 standard errors.
        let (vv, ww) = (s_vv / n as f64, s_ww / n as f64);
        assert!(
            (vv - 4.0).abs() < 5.0 * 4.0 * (2.0 / n as f64).sqrt(),
            "{vv}"
        );
        assert!(
            (ww - 1.48).abs() < 5.0 * 1.48 * (2.0 / n as f64).sqrt(),
            "{ww}"
        );
    }
}
