//! `evaluate`: exact (quadrature) and Monte-Carlo population risk of one vector.
//!
//! Inputs: `meta` + `problem`, and for `vector` = student | init the corresponding table.
//! Output table `eval` (one row: vector, risk, risk_mc, risk_mc_se (NaN if mc_samples = 0),
//! weak_label_risk = L_weak(w), dist2, overlap_wstar, overlap_v, weak_risk = R(w_weak),
//! w2sg = risk < weak_risk).

use warmstart_engine::{
    Determinism, EngineError, InputSpec, KindSpec, ParamSpec, StageOutput, StageRequest, TableSpec,
};
use warmstart_synth::linalg::dot;
use warmstart_synth::risk::{risk_mc, true_risk, weak_label_risk};

use super::common::{
    Col, col_f64, load_problem, need_table, problem_inputs, quad_n_spec, quadrature, se, table,
};

pub fn spec() -> KindSpec {
    KindSpec {
        name: "evaluate".into(),
        doc: "Exact and Monte-Carlo population risk of the student, the init, w_weak or w*.".into(),
        params: vec![
            ParamSpec::string(
                "vector",
                "Which vector: student | init (input tables of that name) | weak | w_star.",
            )
            .default("student")
            .choices(&["student", "init", "weak", "w_star"]),
            ParamSpec::int("mc_samples", "Monte-Carlo samples M (0 = exact only).")
                .default(100_000)
                .range(0.0, 1e9),
            quad_n_spec(),
        ],
        determinism: Determinism::Seeded,
        min_inputs: 1,
        max_inputs: None,
        reads: {
            let mut r = problem_inputs();
            r.push(
                InputSpec::new(
                    "`student` or `init` (as `vector` says)",
                    &["finetune", "pretrain"],
                    "The vector to evaluate.",
                )
                .col("w", "float64", ""),
            );
            r
        },
        writes: vec![
            TableSpec::new("eval", "One row.")
                .col("vector", "utf8", "Which vector.")
                .col("risk", "float64", "R(w), exact.")
                .col(
                    "risk_mc",
                    "float64",
                    "R(w), Monte Carlo (NaN if mc_samples = 0).",
                )
                .col("risk_mc_se", "float64", "Its standard error.")
                .col("weak_label_risk", "float64", "L_weak(w).")
                .col("dist2", "float64", "")
                .col("overlap_wstar", "float64", "")
                .col("overlap_v", "float64", "")
                .col("weak_risk", "float64", "R(w_weak).")
                .col("w2sg", "bool", "risk < weak_risk."),
        ],
    }
}

pub fn run(req: &StageRequest) -> Result<StageOutput, EngineError> {
    let p = load_problem(req)?;
    let q = quadrature(req, &p)?;
    let which = req.str("vector")?;
    let w = match which {
        "weak" => p.w_weak.clone(),
        "w_star" => p.w_star.clone(),
        name => col_f64(need_table(req, name)?, "w")?,
    };
    if w.len() != p.d() {
        return Err(EngineError::Input(format!(
            "vector has length {} ≠ d = {}",
            w.len(),
            p.d()
        )));
    }
    let m = req.usize("mc_samples")?;
    let (mc, mc_se) = if m > 0 {
        risk_mc(&p, &w, &p.w_star, m, req.seed).map_err(se)?
    } else {
        (f64::NAN, f64::NAN)
    };
    let risk = true_risk(&p, &q, &w);
    let weak_risk = true_risk(&p, &q, &p.w_weak);
    let ow = dot(&w, &p.w_star);
    let out = table(vec![
        ("vector", Col::Str(vec![which.into()])),
        ("risk", Col::F64(vec![risk])),
        ("risk_mc", Col::F64(vec![mc])),
        ("risk_mc_se", Col::F64(vec![mc_se])),
        (
            "weak_label_risk",
            Col::F64(vec![weak_label_risk(&p, &q, &w)]),
        ),
        ("dist2", Col::F64(vec![2.0 - 2.0 * ow])),
        ("overlap_wstar", Col::F64(vec![ow])),
        ("overlap_v", Col::F64(vec![dot(&w, &p.v)])),
        ("weak_risk", Col::F64(vec![weak_risk])),
        ("w2sg", Col::Bool(vec![risk < weak_risk])),
    ])?;
    let mut o = StageOutput::default();
    o.push("eval", out);
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::common::{scalar, testing};
    use crate::synth::finetune::tests::finetuned;
    use warmstart_engine::Value;

    #[test]
    fn exact_and_mc_agree_on_the_student() {
        let ft = finetuned(20, 3);
        let req = testing::request(
            spec(),
            &[("mc_samples", Value::Int(100_000))],
            vec![testing::input("ft", ft, vec![])],
        );
        let out = run(&req).unwrap();
        let e = testing::table(&out, "eval");
        let (r, mc, s) = (
            scalar(e, "risk").unwrap(),
            scalar(e, "risk_mc").unwrap(),
            scalar(e, "risk_mc_se").unwrap(),
        );
        assert!((r - mc).abs() < 4.0 * s, "{r} vs {mc} ± {s}");
        let req = testing::request(spec(), &[("vector", Value::Str("init".into()))], vec![]);
        assert!(run(&req).is_err());
    }
}
