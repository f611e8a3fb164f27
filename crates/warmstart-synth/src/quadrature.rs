//! Gauss–Hermite quadrature for expectations under Gaussians.
//!
//! Nodes and weights of the physicists' rule (weight e^{−x²}) are computed by Newton's
//! method on the orthonormal Hermite recurrence (Numerical Recipes' `gauher`), which is
//! stable up to n ≈ 200; they are then rescaled to the standard normal. Two-dimensional
//! expectations use the tensor rule after a Cholesky factorisation of the 2×2 covariance.

use crate::error::{Result, SynthError};

/// A Gauss–Hermite rule for E f(Z), Z ~ N(0, 1): E f(Z) ≈ Σ wᵢ f(zᵢ).
#[derive(Debug, Clone)]
pub struct GaussHermite {
    pub nodes: Vec<f64>,
    pub weights: Vec<f64>,
}

impl GaussHermite {
    /// The n-point rule (exact for polynomials of degree ≤ 2n − 1). 1 ≤ n ≤ 200.
    pub fn new(n: usize) -> Result<Self> {
        if !(1..=200).contains(&n) {
            return Err(SynthError::param(
                "quad_n",
                format!("{n} must be in [1, 200]"),
            ));
        }
        let (x, w) = physicists(n)?;
        let sqrt_pi = std::f64::consts::PI.sqrt();
        Ok(GaussHermite {
            nodes: x.iter().map(|x| x * std::f64::consts::SQRT_2).collect(),
            weights: w.iter().map(|w| w / sqrt_pi).collect(),
        })
    }

    /// E f(Z), Z ~ N(0, 1).
    pub fn expect(&self, f: impl Fn(f64) -> f64) -> f64 {
        self.nodes
            .iter()
            .zip(&self.weights)
            .map(|(&z, &w)| w * f(z))
            .sum()
    }

    /// E f(A, B) for (A, B) ~ N(0, [[caa, cab], [cab, cbb]]). A singular covariance (e.g.
    /// B = ±A) is handled by the factorisation A = l11 Z1, B = l21 Z1 + l22 Z2 with l22 = 0.
    pub fn expect2(&self, caa: f64, cab: f64, cbb: f64, f: impl Fn(f64, f64) -> f64) -> f64 {
        let l11 = caa.max(0.0).sqrt();
        let l21 = if l11 > 0.0 { cab / l11 } else { 0.0 };
        let l22 = (cbb - l21 * l21).max(0.0).sqrt();
        let mut s = 0.0;
        for (&z1, &w1) in self.nodes.iter().zip(&self.weights) {
            let a = l11 * z1;
            let b0 = l21 * z1;
            let mut inner = 0.0;
            for (&z2, &w2) in self.nodes.iter().zip(&self.weights) {
                inner += w2 * f(a, b0 + l22 * z2);
            }
            s += w1 * inner;
        }
        s
    }
}

/// Physicists' nodes/weights by Newton iteration on the normalised Hermite recurrence.
fn physicists(n: usize) -> Result<(Vec<f64>, Vec<f64>)> {
    const PIM4: f64 = 0.751_125_544_464_942_5; // π^{-1/4}
    let nf = n as f64;
    let m = n.div_ceil(2);
    let mut x = vec![0.0; n];
    let mut w = vec![0.0; n];
    let mut z = 0.0f64;
    for i in 0..m {
        // Initial guesses for the largest roots first (Numerical Recipes).
        z = match i {
            0 => (2.0 * nf + 1.0).sqrt() - 1.855_75 * (2.0 * nf + 1.0).powf(-0.166_67),
            1 => z - 1.14 * nf.powf(0.426) / z,
            2 => 1.86 * z - 0.86 * x[0],
            3 => 1.91 * z - 0.91 * x[1],
            _ => 2.0 * z - x[i - 2],
        };
        let mut pp = 0.0;
        let mut converged = false;
        for _ in 0..200 {
            let mut p1 = PIM4;
            let mut p2 = 0.0;
            for j in 0..n {
                let p3 = p2;
                p2 = p1;
                let jf = j as f64;
                p1 = z * (2.0 / (jf + 1.0)).sqrt() * p2 - (jf / (jf + 1.0)).sqrt() * p3;
            }
            pp = (2.0 * nf).sqrt() * p2;
            let z1 = z;
            z = z1 - p1 / pp;
            if (z - z1).abs() <= 1e-14 * z.abs().max(1.0) {
                converged = true;
                break;
            }
        }
        if !converged || !z.is_finite() {
            return Err(SynthError::Numerical(format!(
                "Gauss–Hermite n={n}: Newton failed"
            )));
        }
        x[i] = z;
        x[n - 1 - i] = -z;
        w[i] = 2.0 / (pp * pp);
        w[n - 1 - i] = w[i];
    }
    Ok((x, w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_of_the_normal_are_exact() {
        for n in [5, 20, 60, 100, 150] {
            let q = GaussHermite::new(n).unwrap();
            assert!((q.expect(|_| 1.0) - 1.0).abs() < 1e-12, "n={n}");
            assert!((q.expect(|z| z * z) - 1.0).abs() < 1e-11, "n={n}");
            assert!((q.expect(|z| z.powi(4)) - 3.0).abs() < 1e-10, "n={n}");
            assert!((q.expect(|z| z.powi(6)) - 15.0).abs() < 1e-9, "n={n}");
        }
    }

    #[test]
    fn smooth_expectation_converges() {
        // E cos Z = e^{-1/2}.
        let q = GaussHermite::new(40).unwrap();
        assert!((q.expect(f64::cos) - (-0.5f64).exp()).abs() < 1e-13);
    }

    #[test]
    fn bivariate_covariance_is_reproduced() {
        let q = GaussHermite::new(10).unwrap();
        let (caa, cab, cbb) = (2.0, 0.7, 1.5);
        assert!((q.expect2(caa, cab, cbb, |a, b| a * b) - cab).abs() < 1e-12);
        assert!((q.expect2(caa, cab, cbb, |a, _| a * a) - caa).abs() < 1e-12);
        assert!((q.expect2(caa, cab, cbb, |_, b| b * b) - cbb).abs() < 1e-12);
        // Singular: B = A.
        assert!((q.expect2(1.0, 1.0, 1.0, |a, b| (a - b).powi(2))).abs() < 1e-12);
    }

    #[test]
    fn bad_size_is_an_error() {
        assert!(GaussHermite::new(0).is_err());
        assert!(GaussHermite::new(1000).is_err());
    }
}
