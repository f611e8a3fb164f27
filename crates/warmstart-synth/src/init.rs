//! Initialisations of the student: PCA pre-training (see [`crate::pca`]), uniform on the
//! sphere, or a fixed correlation r0 with w*.

use crate::error::{Result, check_range};
use crate::model::{Problem, mix, random_unit, random_unit_orthogonal};
use crate::rng::{stream, tags};

/// Uniform on S^{d−1}, from stream `(seed, INIT, 0)`.
pub fn random_init(p: &Problem, seed: u64) -> Result<Vec<f64>> {
    random_unit(&mut stream(seed, tags::INIT, 0), p.d())
}

/// r0·w* + √(1−r0²)·u0 with u0 uniform on w*⟂, from stream `(seed, INIT, 1)`.
pub fn fixed_init(p: &Problem, r0: f64, seed: u64) -> Result<Vec<f64>> {
    check_range("r0", r0, -1.0, 1.0)?;
    let u0 = random_unit_orthogonal(&mut stream(seed, tags::INIT, 1), &p.w_star)?;
    Ok(mix(r0, &p.w_star, &u0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::ActivationKind;
    use crate::linalg::{dot, norm};
    use crate::model::ProblemParams;

    #[test]
    fn inits_are_unit_and_fixed_has_the_right_overlap() {
        let params = ProblemParams {
            d: 40,
            alpha: 0.3,
            rho: 0.5,
            lambda: 1.0,
            activation: ActivationKind::He3,
        };
        let p = Problem::generate(params, 2).unwrap();
        let r = random_init(&p, 9).unwrap();
        assert!((norm(&r) - 1.0).abs() < 1e-12);
        let f = fixed_init(&p, 0.6, 9).unwrap();
        assert!((norm(&f) - 1.0).abs() < 1e-12);
        assert!((dot(&f, &p.w_star) - 0.6).abs() < 1e-12);
        assert!(fixed_init(&p, 1.2, 9).is_err());
    }
}
