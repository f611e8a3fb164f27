//! Activations σ and their derivatives σ'.
//!
//! The default "hard concept" is the shifted third Hermite polynomial σ(z) = z³ − 3s²z
//! with s² = Var⟨w*, x⟩ = 1 + λα², chosen so that E σ'(⟨w*,x⟩) = 0 (information exponent
//! 3 under the spiked input law). `ProjTanh` is σ(z) = tanh z − c z with c = E sech²(sZ),
//! Z ~ N(0,1), computed by quadrature, which removes the linear (first Hermite) component
//! under the same variance.

use crate::error::{Result, SynthError};

/// The name of an activation, as given in params.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivationKind {
    ShiftedHe3,
    He3,
    ProjTanh,
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
            Self::Relu => "relu",
            Self::Gelu => "gelu",
            Self::Softplus => "softplus",
            Self::Sigmoid => "sigmoid",
        }
    }
}

/// An activation with its constant resolved (s² for shifted He₃, c for projected tanh).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Activation {
    pub kind: ActivationKind,
    /// s² for `ShiftedHe3`, c for `ProjTanh`, 0 otherwise.
    pub constant: f64,
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
            _ => 0.0,
        };
        Ok(Activation { kind, constant })
    }

    /// σ(z).
    #[inline]
    pub fn f(&self, z: f64) -> f64 {
        match self.kind {
            ActivationKind::ShiftedHe3 => z * (z * z - 3.0 * self.constant),
            ActivationKind::He3 => z * (z * z - 3.0),
            ActivationKind::ProjTanh => z.tanh() - self.constant * z,
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
