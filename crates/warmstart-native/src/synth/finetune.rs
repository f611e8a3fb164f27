//! `finetune`: online spherical PGD from the pre-trained init on fresh weak labels (or true
//! labels for the strong ceiling).
//!
//! Inputs: `meta` + `problem` + an init vector table (`init` by default, from `pretrain`).
//! Output tables: `trajectory` (step, t = step/d, dist2 = ‖w−w*‖², overlap_wstar,
//! overlap_weak, risk = exact R(w), weak_risk = R(w_weak), weak_dist2 = 2 − 2ρ), `summary`
//! (one row: steps, final_dist2, min_dist2, final_risk, min_risk, weak_risk, weak_dist2,
//! w2sg = final_risk < weak_risk), `student` (i, w), and `meta`, `problem` passed through.

use warmstart_engine::{
    Determinism, EngineError, InputSpec, KindSpec, NamedTable, ParamSpec, StageOutput,
    StageRequest, TableSpec,
};
use warmstart_synth::pgd::{Labels, PgdConfig, run_pgd, steps_for};
use warmstart_synth::risk::true_risk;

use super::common::{
    Col, col_f64, load_problem, meta_spec, need_table, problem_inputs, problem_spec,
    problem_tables, quad_n_spec, quadrature, se, table, vector_spec, vector_table,
    with_run_summary,
};

pub fn spec() -> KindSpec {
    KindSpec {
        name: "finetune".into(),
        doc: "Online spherical PGD, one fresh sample per step, η = δ/d, T = τ·d, labels from w_weak (or w*).".into(),
        params: vec![
            ParamSpec::float("delta", "Step-size scale δ (η = δ/d).").default(1e-3).range(1e-300, 1e6),
            ParamSpec::float("tau", "Horizon scale τ (T = round(τ·d) steps).").default(100.0).range(0.0, 1e9),
            ParamSpec::int("log_every", "Log every this many steps (0 = auto: about 200 points).").default(0).min(0.0),
            ParamSpec::string("labels", "weak (W2S) | true (strong ceiling).").default("weak").choices(&["weak", "true"]),
            ParamSpec::string("init_table", "Name of the input table holding the initial vector (column `w`).").default("init"),
            quad_n_spec(),
        ],
        determinism: Determinism::Seeded,
        min_inputs: 1,
        max_inputs: None,
        reads: {
            let mut r = problem_inputs();
            r.push(
                InputSpec::new("the table named by `init_table` (default `init`)", &["pretrain"], "The initial vector.")
                    .col("w", "float64", ""),
            );
            r
        },
        writes: vec![
            TableSpec::new("trajectory", "The fine-tuning run, one row per logged step.")
                .col("step", "int64", "")
                .col("t", "float64", "step / d.")
                .col("dist2", "float64", "‖w − w*‖².")
                .col("overlap_wstar", "float64", "")
                .col("overlap_weak", "float64", "")
                .col("risk", "float64", "R(w), exact.")
                .col("weak_risk", "float64", "R(w_weak) (constant).")
                .col("weak_dist2", "float64", "2 − 2ρ (constant)."),
            with_run_summary(
                TableSpec::new("summary", "The run in one row.").col("steps", "int64", ""),
            ),
            vector_spec("student", "The fine-tuned student w."),
            meta_spec(),
            problem_spec(),
        ],
    }
}

pub fn run(req: &StageRequest) -> Result<StageOutput, EngineError> {
    let p = load_problem(req)?;
    let q = quadrature(req, &p)?;
    let w0 = col_f64(need_table(req, req.str("init_table")?)?, "w")?;
    let tau = req.f64("tau")?;
    let total = steps_for(tau, p.d());
    let log_every = match req.usize("log_every")? {
        0 => (total / 200).max(1) as usize,
        k => k,
    };
    let labels = if req.str("labels")? == "true" {
        Labels::True
    } else {
        Labels::Weak
    };
    let cfg = PgdConfig {
        delta: req.f64("delta")?,
        tau,
        log_every,
        labels,
    };
    let r = run_pgd(&p, &w0, cfg, req.seed, &q).map_err(se)?;
    let weak_risk = true_risk(&p, &q, &p.w_weak);
    let weak_dist2 = 2.0 - 2.0 * p.params.rho;
    let n = r.log.len();
    let d = p.d() as f64;
    let traj = table(vec![
        (
            "step",
            Col::I64(r.log.iter().map(|l| l.step as i64).collect()),
        ),
        (
            "t",
            Col::F64(r.log.iter().map(|l| l.step as f64 / d).collect()),
        ),
        ("dist2", Col::F64(r.log.iter().map(|l| l.dist2).collect())),
        (
            "overlap_wstar",
            Col::F64(r.log.iter().map(|l| l.overlap_wstar).collect()),
        ),
        (
            "overlap_weak",
            Col::F64(r.log.iter().map(|l| l.overlap_weak).collect()),
        ),
        ("risk", Col::F64(r.log.iter().map(|l| l.risk).collect())),
        ("weak_risk", Col::F64(vec![weak_risk; n])),
        ("weak_dist2", Col::F64(vec![weak_dist2; n])),
    ])?;
    let last = r.log[n - 1];
    let min = |f: fn(&warmstart_synth::pgd::PgdLog) -> f64| {
        r.log.iter().map(f).fold(f64::INFINITY, f64::min)
    };
    let summary = table(vec![
        ("steps", Col::I64(vec![r.steps as i64])),
        ("final_dist2", Col::F64(vec![last.dist2])),
        ("min_dist2", Col::F64(vec![min(|l| l.dist2)])),
        ("final_risk", Col::F64(vec![last.risk])),
        ("min_risk", Col::F64(vec![min(|l| l.risk)])),
        ("weak_risk", Col::F64(vec![weak_risk])),
        ("weak_dist2", Col::F64(vec![weak_dist2])),
        ("w2sg", Col::Bool(vec![last.risk < weak_risk])),
    ])?;
    let mut tables = vec![
        NamedTable::new("trajectory", traj),
        NamedTable::new("summary", summary),
        NamedTable::new("student", vector_table(&r.w)?),
    ];
    tables.extend(problem_tables(&p)?);
    Ok(StageOutput::from_tables(tables))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::synth::common::testing;
    use crate::synth::pretrain;
    use crate::synth::pretrain::tests::problem_input;
    use warmstart_engine::Value;

    pub fn finetuned(d: i64, seed: u64) -> StageOutput {
        let init = pretrain::run(&testing::request(
            pretrain::spec(),
            &[("method", Value::Str("fixed".into()))],
            vec![problem_input(d, 0.0)],
        ))
        .unwrap();
        let mut req = testing::request(
            spec(),
            &[
                ("tau", Value::Float(20.0)),
                ("log_every", Value::Int(d * 2)),
            ],
            vec![testing::input("pre", init, vec![])],
        );
        req.seed = seed;
        run(&req).unwrap()
    }

    #[test]
    fn runs_and_is_reproducible() {
        let a = finetuned(30, 1);
        let traj = testing::table(&a, "trajectory");
        assert_eq!(traj.num_rows(), 11);
        let w = col_f64(testing::table(&a, "student"), "w").unwrap();
        assert!((w.iter().map(|x| x * x).sum::<f64>() - 1.0).abs() < 1e-12);
        let b = finetuned(30, 1);
        assert_eq!(col_f64(testing::table(&b, "student"), "w").unwrap(), w);
        assert_eq!(testing::table(&a, "summary").num_rows(), 1);
    }
}
