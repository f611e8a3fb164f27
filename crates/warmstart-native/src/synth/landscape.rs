//! `landscape`: App. C.4 metrics along PCA power iteration.
//!
//! Input: `meta` + `problem`. Output table `landscape` (per iterate, iter 0 = random
//! start): iter, overlap_v, overlap_wstar, theta_deg = angle to w*, pull = ⟨−∇R, t̂⟩,
//! mu = curvature of R along the geodesic toward w*, eps = ‖∇L_weak − ∇R‖, risk,
//! weak_label_risk. pull/mu are NaN exactly at w = ±w*.

use warmstart_engine::{Determinism, EngineError, KindSpec, ParamSpec, StageOutput, StageRequest};
use warmstart_synth::landscape::along_power_iteration;
use warmstart_synth::pca::PcaConfig;

use super::common::{Col, load_problem, quad_n_spec, quadrature, se, table};

pub fn spec() -> KindSpec {
    KindSpec {
        name: "landscape".into(),
        doc: "Landscape metrics (θ, tangential pull, μ, ε) at each PCA power-iteration iterate."
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
        ("pull", col(|r| r.metrics.pull)),
        ("mu", col(|r| r.metrics.mu)),
        ("eps", col(|r| r.metrics.eps)),
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
    }
}
