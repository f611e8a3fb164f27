//! Just enough dense linear algebra and randomness for the simulation: a seeded
//! SplitMix64/Box–Muller normal generator, and ridge regression by Cholesky.

/// A small seeded generator (SplitMix64) with Box–Muller normals.
pub struct Rng {
    state: u64,
    spare: Option<f64>,
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng {
            state: seed ^ 0x9E37_79B9_7F4A_7C15,
            spare: None,
        }
    }
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in (0, 1].
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }
    /// A standard normal draw.
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        let (u, v) = (self.uniform(), self.uniform());
        let r = (-2.0 * u.ln()).sqrt();
        let t = 2.0 * std::f64::consts::PI * v;
        self.spare = Some(r * t.sin());
        r * t.cos()
    }
    pub fn normal_vec(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.normal()).collect()
    }
    /// Row-major n×d matrix of standard normals.
    pub fn normal_matrix(&mut self, n: usize, d: usize) -> Vec<f64> {
        self.normal_vec(n * d)
    }
}

pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// ‖a − b‖².
pub fn dist2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Ridge: β = (XᵀX/n + λI)⁻¹ Xᵀy/n, X row-major n×d.
pub fn ridge(x: &[f64], y: &[f64], n: usize, d: usize, lambda: f64) -> Vec<f64> {
    let mut a = vec![0.0; d * d];
    let mut b = vec![0.0; d];
    for i in 0..n {
        let row = &x[i * d..(i + 1) * d];
        for j in 0..d {
            let rj = row[j];
            b[j] += rj * y[i];
            let aj = &mut a[j * d..(j + 1) * d];
            for k in 0..=j {
                aj[k] += rj * row[k];
            }
        }
    }
    let inv_n = 1.0 / n as f64;
    for j in 0..d {
        b[j] *= inv_n;
        for k in 0..=j {
            a[j * d + k] *= inv_n;
        }
        a[j * d + j] += lambda;
    }
    cholesky_solve(&mut a, &mut b, d);
    b
}

/// Solve A x = b in place for symmetric positive definite A (lower triangle used).
fn cholesky_solve(a: &mut [f64], b: &mut [f64], d: usize) {
    for j in 0..d {
        let mut s = a[j * d + j];
        for k in 0..j {
            s -= a[j * d + k] * a[j * d + k];
        }
        let l = s.max(f64::MIN_POSITIVE).sqrt();
        a[j * d + j] = l;
        for i in j + 1..d {
            let mut s = a[i * d + j];
            for k in 0..j {
                s -= a[i * d + k] * a[j * d + k];
            }
            a[i * d + j] = s / l;
        }
    }
    for i in 0..d {
        let mut s = b[i];
        for k in 0..i {
            s -= a[i * d + k] * b[k];
        }
        b[i] = s / a[i * d + i];
    }
    for i in (0..d).rev() {
        let mut s = b[i];
        for k in i + 1..d {
            s -= a[k * d + i] * b[k];
        }
        b[i] = s / a[i * d + i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ridge_recovers_beta_without_noise() {
        let (n, d) = (50, 5);
        let mut r = Rng::new(1);
        let x = r.normal_matrix(n, d);
        let beta = vec![1.0, -2.0, 0.5, 0.0, 3.0];
        let y: Vec<f64> = (0..n).map(|i| dot(&x[i * d..(i + 1) * d], &beta)).collect();
        let b = ridge(&x, &y, n, d, 1e-10);
        assert!(dist2(&b, &beta) < 1e-12);
    }
}
