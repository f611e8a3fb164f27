//! `landscape`: App. C.4 metrics along PCA power iteration.
//!
//! Input: `meta` + `problem`. Output table `landscape` (per iterate, iter 0 = random
//! start), with R the true risk, L the weak-label risk, grad = P_w∇ the Riemannian
//! gradient on the sphere and Hess the Riemannian Hessian (formulas and why in
//! `warmstart_synth::landscape`):
//! - iter, overlap_v, overlap_wstar, theta_deg = ∠(w, w*), dist = ‖w − w*‖;
//! - pull = ⟨−∇R(w), t̂⟩, t̂ the unit tangent toward w*;
//! - mu = ⟨grad R(w), w − w*⟩ / ‖w − w*‖² (one-point strong convexity, Theorem 3.3 Eq. 2;
//!   positive when R decreases toward w*), mu_dist = mu·dist (Eq. 2 promises descent toward
//!   w* where mu_dist > eps);
//! - mu_hessian = λ_min of Hess R(w) on the tangent space;
//! - geodesic_curvature = d²/ds² R along the geodesic toward w* (= ⟨t̂, Hess R t̂⟩);
//! - eps = ‖grad L(w) − grad R(w)‖ (the weak bias ε), eps_euclidean = ‖∇L(w) − ∇R(w)‖;
//! - risk, weak_label_risk.
//!
//! pull, mu and geodesic_curvature are NaN exactly at w = ±w*.

use warmstart_engine::{
    Determinism, EngineError, KindSpec, ParamSpec, StageOutput, StageRequest, TableSpec,
};
use warmstart_synth::landscape::along_power_iteration;
use warmstart_synth::pca::PcaConfig;

use super::common::{Col, load_problem, problem_inputs, quad_n_spec, quadrature, se, table};

pub fn spec() -> KindSpec {
    KindSpec {
        name: "landscape".into(),
        doc: "Landscape metrics of Theorem 3.3 at each PCA power-iteration iterate: θ = ∠(w, w*), \
              dist = ‖w − w*‖, pull = ⟨−∇R, t̂⟩ toward w*, mu = ⟨grad R, w − w*⟩/‖w − w*‖² \
              (one-point strong convexity, Riemannian gradient), mu_hessian = λ_min of the \
              Riemannian Hessian of R, geodesic_curvature = d²R/ds² toward w*, \
              eps = ‖grad L_weak − grad R‖ (and eps_euclidean with Euclidean gradients)."
            .into(),
        params: vec![
            ParamSpec::int("n_samples", "Unlabeled samples N for PCA.")
                .default(2000)
                .range(1.0, 1e9),
            ParamSpec::int("iters", "Power iterations.")
                .default(30)
                .range(1.0, 1e6),
            ParamSpec::float("tol", "Stop when 1 − |⟨v_k, v_{k−1}⟩| < tol (0 = run all).")
                .default(0.0)
                .min(0.0),
            quad_n_spec(),
        ],
        determinism: Determinism::Seeded,
        min_inputs: 1,
        max_inputs: None,
        reads: problem_inputs(),
        writes: vec![
            TableSpec::new("landscape", "Per power iterate (iter 0 = random start).")
                .col("iter", "int64", "")
                .col("overlap_v", "float64", "")
                .col("overlap_wstar", "float64", "")
                .col("theta_deg", "float64", "∠(w, w*) in degrees.")
                .col("dist", "float64", "‖w − w*‖.")
                .col("pull", "float64", "⟨−∇R(w), t̂⟩ (NaN at ±w*).")
                .col("mu", "float64", "One-point strong convexity (NaN at ±w*).")
                .col("mu_dist", "float64", "mu·dist.")
                .col("mu_hessian", "float64", "λ_min of the Riemannian Hessian.")
                .col("geodesic_curvature", "float64", "(NaN at ±w*).")
                .col("eps", "float64", "‖grad L − grad R‖ (the weak bias ε).")
                .col("eps_euclidean", "float64", "‖∇L − ∇R‖.")
                .col("risk", "float64", "")
                .col("weak_label_risk", "float64", ""),
        ],
    }
}

pub fn run(req: &StageRequest) -> Result<StageOutput, EngineError> {
    let p = load_problem(req)?;
    let q = quadrature(req, &p)?;
    let cfg = PcaConfig {
        n_samples: req.usize("n_samples")?,
        iters: req.usize("iters")?,
        tol: req.f64("tol")?,
    };
    let rows = along_power_iteration(&p, cfg, req.seed, &q).map_err(se)?;
    let col = |f: fn(&warmstart_synth::landscape::LandscapeStep) -> f64| {
        Col::F64(rows.iter().map(f).collect())
    };
    let out = table(vec![
        (
            "iter",
            Col::I64(rows.iter().map(|r| r.iter as i64).collect()),
        ),
        ("overlap_v", col(|r| r.overlap_v)),
        ("overlap_wstar", col(|r| r.overlap_wstar)),
        ("theta_deg", col(|r| r.metrics.theta_deg)),
        ("dist", col(|r| r.metrics.dist)),
        ("pull", col(|r| r.metrics.pull)),
        ("mu", col(|r| r.metrics.mu)),
        ("mu_dist", col(|r| r.metrics.mu_dist)),
        ("mu_hessian", col(|r| r.metrics.mu_hessian)),
        ("geodesic_curvature", col(|r| r.metrics.geodesic_curvature)),
        ("eps", col(|r| r.metrics.eps)),
        ("eps_euclidean", col(|r| r.metrics.eps_euclidean)),
        ("risk", col(|r| r.metrics.risk)),
        ("weak_label_risk", col(|r| r.metrics.weak_risk)),
    ])?;
    let mut o = StageOutput::default();
    o.push("landscape", out);
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::common::{col_f64, testing};
    use crate::synth::pretrain::tests::problem_input;
    use warmstart_engine::Value;

    #[test]
    fn one_row_per_iterate() {
        let req = testing::request(
            spec(),
            &[("n_samples", Value::Int(300)), ("iters", Value::Int(4))],
            vec![problem_input(15, 4.0)],
        );
        let out = run(&req).unwrap();
        let t = testing::table(&out, "landscape");
        assert_eq!(t.num_rows(), 5);
        let theta = col_f64(t, "theta_deg").unwrap();
        assert!(theta.iter().all(|x| (0.0..=180.0).contains(x)));
        // The three μ columns and both ε columns, related as documented.
        let mu = col_f64(t, "mu").unwrap();
        let (dist, mu_dist) = (col_f64(t, "dist").unwrap(), col_f64(t, "mu_dist").unwrap());
        let hess = col_f64(t, "mu_hessian").unwrap();
        let curv = col_f64(t, "geodesic_curvature").unwrap();
        let (eps, eps_e) = (
            col_f64(t, "eps").unwrap(),
            col_f64(t, "eps_euclidean").unwrap(),
        );
        for i in 0..t.num_rows() {
            assert!((mu_dist[i] - mu[i] * dist[i]).abs() < 1e-15);
            assert!(hess[i] <= curv[i] + 1e-9, "row {i}");
            assert!(eps[i] <= eps_e[i] && eps[i] > 0.0, "row {i}");
        }
    }

    #[test]
    fn the_bounded_activation_reaches_the_landscape() {
        let g = crate::synth::generate::run(&testing::request(
            crate::synth::generate::spec(),
            &[
                ("d", Value::Int(12)),
                ("lambda", Value::Float(1.0)),
                ("activation", Value::Str("bounded-tanh".into())),
            ],
            vec![],
        ))
        .unwrap();
        let meta = testing::table(&g, "meta");
        let k = col_f64(meta, "act_constant").unwrap()[0];
        assert!((k - 2.0013).abs() < 1e-4, "{k}");
        let req = testing::request(
            spec(),
            &[("n_samples", Value::Int(100)), ("iters", Value::Int(2))],
            vec![testing::input("gen", g, vec![])],
        );
        let out = run(&req).unwrap();
        let pull = col_f64(testing::table(&out, "landscape"), "pull").unwrap();
        // Bounded: the gradients are small (|σ'| ≤ (1 + k/3)/s).
        assert!(pull.iter().all(|x| x.abs() < 0.1), "{pull:?}");
    }
}
