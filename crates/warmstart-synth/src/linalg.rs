//! Small dense linear algebra: dot products, norms, Gram–Schmidt and a Cholesky solver.
//! Hand-written because the sizes are small (ridge: d ≤ ~500) and a dependency would cost
//! more build time than it saves.

use crate::error::{Result, SynthError};

/// ⟨a, b⟩, accumulated in four lanes so the compiler can vectorise it (the order of
/// summation is fixed, so the result is deterministic).
#[inline]
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; 4];
    let chunks = n / 4;
    for c in 0..chunks {
        for l in 0..4 {
            acc[l] += a[4 * c + l] * b[4 * c + l];
        }
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for i in 4 * chunks..n {
        s += a[i] * b[i];
    }
    s
}

/// Euclidean norm.
#[inline]
pub fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// Scales `a` to unit norm; errors on a zero (or non-finite) vector.
pub fn normalize(a: &mut [f64]) -> Result<()> {
    let n = norm(a);
    if !(n.is_finite() && n > 0.0) {
        return Err(SynthError::Numerical(format!(
            "cannot normalise a vector of norm {n}"
        )));
    }
    a.iter_mut().for_each(|x| *x /= n);
    Ok(())
}

/// Removes from `a` its component along the unit vector `u`.
pub fn orthogonalize(a: &mut [f64], u: &[f64]) {
    let c = dot(a, u);
    a.iter_mut().zip(u).for_each(|(x, y)| *x -= c * y);
}

/// ‖a − b‖².
pub fn dist2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Solves `A x = b` for a symmetric positive-definite `A` (row-major n×n) by Cholesky.
pub fn cholesky_solve(a: &[f64], n: usize, b: &[f64]) -> Result<Vec<f64>> {
    if a.len() != n * n || b.len() != n {
        return Err(SynthError::Numerical(
            "cholesky_solve: dimension mismatch".into(),
        ));
    }
    // Lower factor L, row-major, A = L Lᵀ.
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s = a[i * n + j] - dot(&l[i * n..i * n + j], &l[j * n..j * n + j]);
            if i == j {
                if s.is_nan() || s <= 0.0 {
                    return Err(SynthError::Numerical(format!(
                        "matrix not positive definite (pivot {i}: {s})"
                    )));
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    // Forward: L y = b.
    let mut y = vec![0.0; n];
    for i in 0..n {
        y[i] = (b[i] - dot(&l[i * n..i * n + i], &y[..i])) / l[i * n + i];
    }
    // Backward: Lᵀ x = y.
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let mut s = y[i];
        for k in i + 1..n {
            s -= l[k * n + i] * x[k];
        }
        x[i] = s / l[i * n + i];
    }
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_spd_system() {
        let a = [4.0, 2.0, 0.6, 2.0, 5.0, 1.0, 0.6, 1.0, 3.0];
        let x_true = [1.0, -2.0, 0.5];
        let b: Vec<f64> = (0..3).map(|i| dot(&a[3 * i..3 * i + 3], &x_true)).collect();
        let x = cholesky_solve(&a, 3, &b).unwrap();
        for (u, v) in x.iter().zip(x_true) {
            assert!((u - v).abs() < 1e-12);
        }
        assert!(cholesky_solve(&[1.0, 2.0, 2.0, 1.0], 2, &[1.0, 1.0]).is_err());
    }

    #[test]
    fn dot_matches_naive_sum() {
        let a: Vec<f64> = (0..11).map(|i| i as f64 * 0.5).collect();
        let b: Vec<f64> = (0..11).map(|i| 1.0 - i as f64).collect();
        let naive: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-12);
    }
}
