//! `pretrain`: the student's initialisation — PCA pre-training (top eigenvector of N
//! unlabeled samples' covariance by power iteration, sign by lower weak-label risk),
//! uniform random on the sphere, or fixed correlation r0·w* + √(1−r0²)u0.
//!
//! Input: a stage with `meta` + `problem` (e.g. `generate`). Output tables: `init` (i, w),
//! `init_summary` (one row: method, overlap_wstar, overlap_v, overlap_weak, dist2, risk,
//! weak_risk = R(w_weak), weak_label_risk = L_weak(w)), `trace` (per power iteration: iter,
//! overlap_v, overlap_wstar, rayleigh; a single row iter 0 for random/fixed), and `meta`,
//! `problem` passed through.

use warmstart_engine::{
    Determinism, EngineError, KindSpec, NamedTable, ParamSpec, StageOutput, StageRequest, TableSpec,
};
use warmstart_synth::init::{fixed_init, random_init};
use warmstart_synth::linalg::dot;
use warmstart_synth::pca::{PcaConfig, PcaStep, power_iteration};
use warmstart_synth::risk::{true_risk, weak_label_risk};

use super::common::{
    Col, load_problem, meta_spec, problem_inputs, problem_spec, problem_tables, quad_n_spec,
    quadrature, se, table, vector_spec, vector_table,
};

pub fn spec() -> KindSpec {
    KindSpec {
        name: "pretrain".into(),
        doc: "Initialise the student: PCA pre-training, random on the sphere, or fixed correlation r0 with w*.".into(),
        params: vec![
            ParamSpec::string("method", "pca | random | fixed.").default("pca").choices(&["pca", "random", "fixed"]),
            ParamSpec::int("n_samples", "PCA: unlabeled samples N (γ = d/N).").default(2000).range(1.0, 1e9),
            ParamSpec::int("iters", "PCA: maximum power iterations.").default(100).range(1.0, 1e6),
            ParamSpec::float("tol", "PCA: stop when 1 − |⟨v_k, v_{k−1}⟩| < tol (0 = run all iters).").default(1e-12).min(0.0),
            ParamSpec::float("r0", "fixed: overlap ⟨w0, w*⟩.").default(0.6).range(-1.0, 1.0),
            quad_n_spec(),
        ],
        determinism: Determinism::Seeded,
        min_inputs: 1,
        max_inputs: None,
        reads: problem_inputs(),
        writes: vec![
            vector_spec("init", "The initial student w₀ (unit norm)."),
            TableSpec::new("init_summary", "How good w₀ is (one row).")
                .col("method", "utf8", "pca | random | fixed.")
                .col("overlap_wstar", "float64", "⟨w₀, w*⟩.")
                .col("overlap_v", "float64", "⟨w₀, v⟩.")
                .col("overlap_weak", "float64", "⟨w₀, w_weak⟩.")
                .col("dist2", "float64", "‖w₀ − w*‖² = 2 − 2⟨w₀, w*⟩.")
                .col("risk", "float64", "R(w₀), exact.")
                .col("weak_risk", "float64", "R(w_weak), exact.")
                .col("weak_label_risk", "float64", "L_weak(w₀).")
                ,
            TableSpec::new("trace", "The power iteration (a single row iter 0 for random/fixed).")
                .col("iter", "int64", "")
                .col("overlap_v", "float64", "")
                .col("overlap_wstar", "float64", "")
                .col("rayleigh", "float64", "Rayleigh quotient of the sample covariance."),
            meta_spec(),
            problem_spec(),
        ],
    }
}

pub fn run(req: &StageRequest) -> Result<StageOutput, EngineError> {
    let p = load_problem(req)?;
    let q = quadrature(req, &p)?;
    let method = req.str("method")?;
    let (w, trace): (Vec<f64>, Vec<PcaStep>) = match method {
        "pca" => {
            let cfg = PcaConfig {
                n_samples: req.usize("n_samples")?,
                iters: req.usize("iters")?,
                tol: req.f64("tol")?,
            };
            let r = power_iteration(&p, cfg, req.seed, &q, |_, _| {}).map_err(se)?;
            (r.v_hat, r.trace)
        }
        "random" | "fixed" => {
            let w = if method == "random" {
                random_init(&p, req.seed)
            } else {
                fixed_init(&p, req.f64("r0")?, req.seed)
            }
            .map_err(se)?;
            let step = PcaStep {
                iter: 0,
                overlap_v: dot(&w, &p.v),
                overlap_wstar: dot(&w, &p.w_star),
                rayleigh: f64::NAN,
            };
            (w, vec![step])
        }
        other => {
            return Err(EngineError::param(
                "method",
                format!("unknown method `{other}`"),
            ));
        }
    };
    let ow = dot(&w, &p.w_star);
    let summary = table(vec![
        ("method", Col::Str(vec![method.into()])),
        ("overlap_wstar", Col::F64(vec![ow])),
        ("overlap_v", Col::F64(vec![dot(&w, &p.v)])),
        ("overlap_weak", Col::F64(vec![dot(&w, &p.w_weak)])),
        ("dist2", Col::F64(vec![2.0 - 2.0 * ow])),
        ("risk", Col::F64(vec![true_risk(&p, &q, &w)])),
        ("weak_risk", Col::F64(vec![true_risk(&p, &q, &p.w_weak)])),
        (
            "weak_label_risk",
            Col::F64(vec![weak_label_risk(&p, &q, &w)]),
        ),
    ])?;
    let trace = table(vec![
        (
            "iter",
            Col::I64(trace.iter().map(|s| s.iter as i64).collect()),
        ),
        (
            "overlap_v",
            Col::F64(trace.iter().map(|s| s.overlap_v).collect()),
        ),
        (
            "overlap_wstar",
            Col::F64(trace.iter().map(|s| s.overlap_wstar).collect()),
        ),
        (
            "rayleigh",
            Col::F64(trace.iter().map(|s| s.rayleigh).collect()),
        ),
    ])?;
    let mut tables = vec![
        NamedTable::new("init", vector_table(&w)?),
        NamedTable::new("init_summary", summary),
        NamedTable::new("trace", trace),
    ];
    tables.extend(problem_tables(&p)?);
    Ok(StageOutput::from_tables(tables))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::synth::common::{col_f64, scalar, testing};
    use crate::synth::generate;
    use warmstart_engine::Value;

    pub fn problem_input(d: i64, lambda: f64) -> warmstart_engine::StageInput {
        let g = generate::run(&testing::request(
            generate::spec(),
            &[
                ("d", Value::Int(d)),
                ("lambda", Value::Float(lambda)),
                ("alpha", Value::Float(0.8)),
            ],
            vec![],
        ))
        .unwrap();
        testing::input("gen", g, vec![])
    }

    #[test]
    fn every_method_gives_a_unit_init() {
        for (method, extra) in [("pca", 3.0), ("random", 0.0), ("fixed", 0.0)] {
            let req = testing::request(
                spec(),
                &[
                    ("method", Value::Str(method.into())),
                    ("n_samples", Value::Int(400)),
                    ("r0", Value::Float(0.3)),
                ],
                vec![problem_input(20, extra)],
            );
            let out = run(&req).unwrap();
            let w = col_f64(testing::table(&out, "init"), "w").unwrap();
            assert!((w.iter().map(|x| x * x).sum::<f64>() - 1.0).abs() < 1e-12);
            let s = testing::table(&out, "init_summary");
            if method == "fixed" {
                assert!((scalar(s, "overlap_wstar").unwrap() - 0.3).abs() < 1e-12);
            }
            if method == "pca" {
                assert!(scalar(s, "overlap_v").unwrap().abs() > 0.8);
                assert!(testing::table(&out, "trace").num_rows() > 2);
            }
            assert!(testing::table(&out, "problem").num_rows() == 20);
        }
    }

    #[test]
    fn missing_problem_is_an_input_error() {
        let req = testing::request(spec(), &[], vec![]);
        assert!(matches!(run(&req), Err(EngineError::Input(_))));
    }
}
