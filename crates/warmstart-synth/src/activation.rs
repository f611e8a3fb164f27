//! Activations σ and their derivatives σ'.
//!
//! The default "hard concept" is the shifted third Hermite polynomial σ(z) = z³ − 3s²z
//! with s² = Var⟨w*, x⟩ = 1 + λα², chosen so that E σ'(⟨w*,x⟩) = 0 (information exponent
//! 3 under the spiked input law). `ProjTanh` is σ(z) = tanh z − c z with c = E sech²(sZ),
//! Z ~ N(0,1), computed by quadrature, which removes the linear (first Hermite) component
//! under the same variance.
//!
//! `BoundedTanh` is the bounded hard concept of App. C.4: σ(z) = tanh(z/s) − k·tanh(z/(3s))
//! with the same s. At the pre-activation scale, σ(sZ) = tanh Z − k·tanh(Z/3), so its
//! Hermite coefficients do not depend on λ: it is odd (even coefficients vanish), and
//! k = 3·E sech²Z / E sech²(Z/3) ≈ 2.0013 makes the first one vanish (E σ'(sZ) = 0), which
//! leaves the third, ≈ −0.0434 in σ(sZ) = Σ_j c_j He_j(Z), as the leading one: information
//! exponent 3. Unlike the He₃ family and `ProjTanh` it is bounded, |σ| < 1 + k, with
//! |σ'| ≤ (1 + k/3)/s, so a larger λ (a wider pre-activation of w ≈ v) reaches its flat
//! tails, the mechanism App. C.4 describes.

use crate::error::{Result, SynthError};

/// The name of an activation, as given in params.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivationKind {
    ShiftedHe3,
    He3,
    ProjTanh,
    BoundedTanh,
    Relu,
    Gelu,
    Softplus,
    Sigmoid,
}

impl ActivationKind {
    /// Accepted names, in the order shown to users.
    pub const NAMES: &'static [&'static str] = &[
        "shifted-he3",
        "he3",
        "proj-tanh",
        "bounded-tanh",
        "relu",
        "gelu",
        "softplus",
        "sigmoid",
    ];

    pub fn parse(name: &str) -> Result<Self> {
        Ok(match name {
            "shifted-he3" => Self::ShiftedHe3,
            "he3" => Self::He3,
            "proj-tanh" => Self::ProjTanh,
            "bounded-tanh" => Self::BoundedTanh,
            "relu" => Self::Relu,
            "gelu" => Self::Gelu,
            "softplus" => Self::Softplus,
            "sigmoid" => Self::Sigmoid,
            _ => {
                return Err(SynthError::param(
                    "activation",
                    format!("unknown `{name}`; one of {}", Self::NAMES.join(", ")),
                ));
            }
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::ShiftedHe3 => "shifted-he3",
            Self::He3 => "he3",
            Self::ProjTanh => "proj-tanh",
            Self::BoundedTanh => "bounded-tanh",
            Self::Relu => "relu",
            Self::Gelu => "gelu",
            Self::Softplus => "softplus",
            Self::Sigmoid => "sigmoid",
        }
    }
}

/// An activation with its constants resolved (s² for shifted He₃, c for projected tanh,
/// k and s for the bounded tanh pair).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Activation {
    pub kind: ActivationKind,
    /// s² for `ShiftedHe3`, c for `ProjTanh`, k for `BoundedTanh`, 0 otherwise.
    pub constant: f64,
    /// 1/s for `BoundedTanh` (the pre-activation scale its argument is divided by), 1
    /// otherwise.
    pub inv_scale: f64,
}

const INV_SQRT_2: f64 = std::f64::consts::FRAC_1_SQRT_2;
const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

impl Activation {
    /// Resolves the activation for a pre-activation variance `s2` (= 1 + λα² for ⟨w*,x⟩).
    pub fn new(kind: ActivationKind, s2: f64) -> Result<Self> {
        if !(s2.is_finite() && s2 > 0.0) {
            return Err(SynthError::param(
                "lambda",
                format!("variance s² = {s2} must be > 0"),
            ));
        }
        let constant = match kind {
            ActivationKind::ShiftedHe3 => s2,
            ActivationKind::ProjTanh => {
                let s = s2.sqrt();
                normal_expect_fine(s, |z| {
                    let c = (s * z).cosh();
                    1.0 / (c * c)
                })?
            }
            ActivationKind::BoundedTanh => bounded_tanh_k()?,
            _ => 0.0,
        };
        let inv_scale = match kind {
            ActivationKind::BoundedTanh => 1.0 / s2.sqrt(),
            _ => 1.0,
        };
        Ok(Activation {
            kind,
            constant,
            inv_scale,
        })
    }

    /// σ(z).
    #[inline]
    pub fn f(&self, z: f64) -> f64 {
        match self.kind {
            ActivationKind::ShiftedHe3 => z * (z * z - 3.0 * self.constant),
            ActivationKind::He3 => z * (z * z - 3.0),
            ActivationKind::ProjTanh => z.tanh() - self.constant * z,
            ActivationKind::BoundedTanh => {
                let u = z * self.inv_scale;
                u.tanh() - self.constant * (u / 3.0).tanh()
            }
            ActivationKind::Relu => z.max(0.0),
            ActivationKind::Gelu => z * 0.5 * (1.0 + statrs::function::erf::erf(z * INV_SQRT_2)),
            // Stable log(1 + e^z).
            ActivationKind::Softplus => z.max(0.0) + (-z.abs()).exp().ln_1p(),
            ActivationKind::Sigmoid => sigmoid(z),
        }
    }

    /// σ'(z) (for ReLU, the right derivative 1 at 0 is taken as 0: a null set).
    #[inline]
    pub fn df(&self, z: f64) -> f64 {
        match self.kind {
            ActivationKind::ShiftedHe3 => 3.0 * (z * z - self.constant),
            ActivationKind::He3 => 3.0 * (z * z - 1.0),
            ActivationKind::ProjTanh => {
                let t = z.tanh();
                1.0 - t * t - self.constant
            }
            ActivationKind::BoundedTanh => {
                let u = z * self.inv_scale;
                let (t1, t3) = (u.tanh(), (u / 3.0).tanh());
                self.inv_scale * ((1.0 - t1 * t1) - self.constant / 3.0 * (1.0 - t3 * t3))
            }
            ActivationKind::Relu => {
                if z > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            ActivationKind::Gelu => {
                0.5 * (1.0 + statrs::function::erf::erf(z * INV_SQRT_2))
                    + z * INV_SQRT_2PI * (-0.5 * z * z).exp()
            }
            ActivationKind::Softplus => sigmoid(z),
            ActivationKind::Sigmoid => {
                let s = sigmoid(z);
                s * (1.0 - s)
            }
        }
    }
}

/// k of `BoundedTanh`: 3·E sech²Z / E sech²(Z/3), so that E σ'(sZ) = 0 for every s (the
/// two sech² expectations at unit scale; σ(sZ) does not depend on s).
fn bounded_tanh_k() -> Result<f64> {
    let sech2 = |x: f64| {
        let c = x.cosh();
        1.0 / (c * c)
    };
    let e1 = normal_expect_fine(1.0, sech2)?;
    let e3 = normal_expect_fine(1.0, |z| sech2(z / 3.0))?;
    Ok(3.0 * e1 / e3)
}

/// E f(Z), Z ~ N(0,1), by the trapezoid rule on [−12, 12] with step 1/(64·max(s,1)).
/// Gauss–Hermite converges slowly for sech² (poles at ±iπ/(2s) near the real axis),
/// while the trapezoid rule is exponentially accurate for such analytic integrands
/// (error ~ e^{−π²/(s·h)}), so c is exact to round-off; `s` is the scale inside f.
pub fn normal_expect_fine(s: f64, f: impl Fn(f64) -> f64) -> Result<f64> {
    let per_unit = 64.0 * s.max(1.0);
    let n = (24.0 * per_unit).ceil();
    if !n.is_finite() || n > 4.0e6 {
        return Err(SynthError::param(
            "lambda",
            format!("variance s² = {} too large", s * s),
        ));
    }
    let n = n as usize;
    let h = 24.0 / n as f64;
    let mut acc = 0.0;
    for i in 0..=n {
        let z = -12.0 + i as f64 * h;
        acc += f(z) * INV_SQRT_2PI * (-0.5 * z * z).exp();
    }
    // The end points carry weight h/2 but φ(±12) ≈ 5e-32, so the full-weight sum is exact.
    Ok(acc * h)
}

#[inline]
fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quadrature::GaussHermite;

    #[test]
    fn derivatives_match_finite_differences() {
        for name in ActivationKind::NAMES {
            let act = Activation::new(ActivationKind::parse(name).unwrap(), 1.7).unwrap();
            for &z in &[-2.3, -0.7, -0.1, 0.3, 1.1, 2.9] {
                let h = 1e-6;
                let fd = (act.f(z + h) - act.f(z - h)) / (2.0 * h);
                let scale = act.df(z).abs().max(1.0);
                assert!(
                    (fd - act.df(z)).abs() < 1e-6 * scale,
                    "{name} at {z}: {fd} vs {}",
                    act.df(z)
                );
            }
        }
    }

    #[test]
    fn shifted_he3_and_proj_tanh_have_no_linear_part() {
        // E σ'(sZ) = 0 is the defining property of both constants (checked with a rule
        // of another step, so the test does not just replay the construction).
        let q = GaussHermite::new(8).unwrap();
        let s2 = 1.0 + 3.0 * 0.25;
        let he = Activation::new(ActivationKind::ShiftedHe3, s2).unwrap();
        assert!(q.expect(|z| he.df(s2.sqrt() * z)).abs() < 1e-12);
        let th = Activation::new(ActivationKind::ProjTanh, s2).unwrap();
        let m = normal_expect_fine(3.0, |z| th.df(s2.sqrt() * z)).unwrap();
        assert!(m.abs() < 1e-12, "{m}");
    }

    /// c_j of σ(sZ) = Σ_j c_j He_j(Z) (probabilists' Hermite polynomials, E He_j² = j!).
    fn hermite_coefficients(act: &Activation, s: f64) -> Vec<f64> {
        let he = |j: usize, z: f64| match j {
            0 => 1.0,
            1 => z,
            2 => z * z - 1.0,
            3 => z * (z * z - 3.0),
            4 => z * z * (z * z - 6.0) + 3.0,
            _ => z * (z * z * (z * z - 10.0) + 15.0),
        };
        let fact = [1.0, 1.0, 2.0, 6.0, 24.0, 120.0];
        (0..6)
            .map(|j| {
                // Step 1/192 (scale 3), not the 1/64 that built k: an independent rule.
                normal_expect_fine(3.0, |z| act.f(s * z) * he(j, z)).unwrap() / fact[j]
            })
            .collect()
    }

    #[test]
    fn bounded_tanh_has_information_exponent_three_at_every_scale() {
        // s² = 1 + λα² for α = 0.8 and λ = 0, 0.25, 1, 3: the coefficients are the same,
        // since σ(sZ) = tanh Z − k tanh(Z/3) whatever s is.
        for s2 in [1.0, 1.16, 1.64, 2.92] {
            let act = Activation::new(ActivationKind::BoundedTanh, s2).unwrap();
            assert!(
                (act.constant - 2.001_332_87).abs() < 1e-7,
                "k = {}",
                act.constant
            );
            let c = hermite_coefficients(&act, f64::sqrt(s2));
            for j in [0, 1, 2, 4] {
                assert!(c[j].abs() < 1e-12, "s² = {s2}: c_{j} = {}", c[j]);
            }
            assert!((c[3] + 0.043_449_7).abs() < 1e-6, "c_3 = {}", c[3]);
            assert!((c[5] - 0.005_183_4).abs() < 1e-6, "c_5 = {}", c[5]);
            // He₃ carries most of the variance E σ(sZ)² = Σ j!·c_j².
            let var = normal_expect_fine(3.0, |z| act.f(f64::sqrt(s2) * z).powi(2)).unwrap();
            assert!(
                6.0 * c[3] * c[3] > 0.7 * var,
                "{} of {var}",
                6.0 * c[3] * c[3]
            );
        }
    }

    #[test]
    fn bounded_tanh_is_odd_and_bounded_with_bounded_derivative() {
        let s2 = 2.92;
        let act = Activation::new(ActivationKind::BoundedTanh, s2).unwrap();
        let k = act.constant;
        for i in -4000..=4000 {
            let z = i as f64 * 0.05;
            assert_eq!(act.f(-z), -act.f(z));
            assert!(act.f(z).abs() < 1.0 + k);
            assert!(act.df(z).abs() <= (1.0 + k / 3.0) / s2.sqrt());
        }
        // Flat tails: σ → ∓(k − 1) and σ' → 0 far out.
        assert!((act.f(200.0) + (k - 1.0)).abs() < 1e-12);
        assert!(act.df(200.0).abs() < 1e-12);
    }

    #[test]
    fn unknown_name_and_bad_variance_are_errors() {
        assert!(ActivationKind::parse("swish").is_err());
        assert!(Activation::new(ActivationKind::He3, 0.0).is_err());
        assert!(Activation::new(ActivationKind::He3, f64::NAN).is_err());
    }

    #[test]
    fn softplus_is_stable_for_large_inputs() {
        let a = Activation::new(ActivationKind::Softplus, 1.0).unwrap();
        assert!((a.f(800.0) - 800.0).abs() < 1e-12);
        assert!(a.f(-800.0) >= 0.0 && a.f(-800.0) < 1e-300);
    }
}
