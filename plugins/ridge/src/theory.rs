//! Asymptotic ridge formulas (proportional limit d/n → γ, isotropic features).
//!
//! m(λ,γ) is the Stieltjes transform of the Marchenko–Pastur law at −λ; m₂ = −∂m/∂λ;
//! τ₁ = 1 − λm, τ₂ = 1 − 2λm + λ²m₂, V = σ²γ(m − λm₂).

/// m(λ, γ): the positive root of γλm² + (1 − γ + λ)m − 1 = 0.
pub fn m(lambda: f64, gamma: f64) -> f64 {
    let b = 1.0 - gamma + lambda;
    (-b + (b * b + 4.0 * gamma * lambda).sqrt()) / (2.0 * gamma * lambda)
}

/// m₂ = −∂m/∂λ, by implicit differentiation of the quadratic.
pub fn m2(lambda: f64, gamma: f64) -> f64 {
    let mm = m(lambda, gamma);
    (gamma * mm * mm + mm) / (2.0 * gamma * lambda * mm + 1.0 - gamma + lambda)
}

/// (τ₁, τ₂).
pub fn taus(lambda: f64, gamma: f64) -> (f64, f64) {
    let mm = m(lambda, gamma);
    let m2 = m2(lambda, gamma);
    (
        1.0 - lambda * mm,
        1.0 - 2.0 * lambda * mm + lambda * lambda * m2,
    )
}

/// Variance term V = σ²γ(m − λm₂).
pub fn variance(sigma2: f64, lambda: f64, gamma: f64) -> f64 {
    sigma2 * gamma * (m(lambda, gamma) - lambda * m2(lambda, gamma))
}

/// Teacher excess error 1 − 2τ₁ᵗ + τ₂ᵗ + V_t.
pub fn teacher_excess(sigma2: f64, gamma_t: f64, lambda_t: f64) -> f64 {
    let (t1, t2) = taus(lambda_t, gamma_t);
    1.0 - 2.0 * t1 + t2 + variance(sigma2, lambda_t, gamma_t)
}

/// Student excess error 1 − 2τ₁ˢτ₁ᵗ + τ₂ˢ(τ₂ᵗ + V_t).
pub fn student_excess(
    sigma2: f64,
    gamma_t: f64,
    lambda_t: f64,
    gamma_s: f64,
    lambda_s: f64,
) -> f64 {
    let (t1, t2) = taus(lambda_t, gamma_t);
    let (s1, s2) = taus(lambda_s, gamma_s);
    1.0 - 2.0 * s1 * t1 + s2 * (t2 + variance(sigma2, lambda_t, gamma_t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_numbers() {
        // science.md §2: σ²=0.5, γ=0.5, λ_t=0.05, λ_s=0.3 → 0.373 / 0.347.
        let t = teacher_excess(0.5, 0.5, 0.05);
        let s = student_excess(0.5, 0.5, 0.05, 0.5, 0.3);
        assert!((t - 0.373).abs() < 2e-3, "teacher {t}");
        assert!((s - 0.347).abs() < 2e-3, "student {s}");
    }

    #[test]
    fn m2_is_minus_the_derivative() {
        let (l, g, h) = (0.3, 0.7, 1e-6);
        let fd = -(m(l + h, g) - m(l - h, g)) / (2.0 * h);
        assert!((m2(l, g) - fd).abs() < 1e-6);
    }
}
