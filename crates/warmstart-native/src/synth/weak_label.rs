//! `weak-label`: the weak supervisor's quality and, optionally, a weak-labelled sample.
//!
//! Input: `meta` + `problem`. Output tables: `weak` (one row: rho, weak_dist2 = 2 − 2ρ,
//! weak_risk = R(w_weak) exact, weak_risk_mc and weak_risk_mc_se (NaN when
//! `mc_samples` = 0), weak_overlap_v = ⟨w_weak, v⟩); `samples` when `n_samples` > 0 (one
//! row per sample: x as FixedSizeList<Float64, d>, y_true = σ(⟨w*,x⟩), y_weak =
//! σ(⟨w_weak,x⟩)); `meta`, `problem` passed through.

use std::sync::Arc;

use arrow_array::{ArrayRef, FixedSizeListArray, Float64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use warmstart_engine::{
    Determinism, EngineError, KindSpec, NamedTable, ParamSpec, StageOutput, StageRequest, TableSpec,
};
use warmstart_synth::linalg::dot;
use warmstart_synth::model::Problem;
use warmstart_synth::risk::{risk_mc, true_risk};
use warmstart_synth::rng::{stream, tags};

use super::common::{
    Col, load_problem, meta_spec, problem_inputs, problem_spec, problem_tables, quad_n_spec,
    quadrature, se, table,
};

pub fn spec() -> KindSpec {
    KindSpec {
        name: "weak-label".into(),
        doc: "Weak supervisor metrics (exact and Monte-Carlo risk of w_weak) and an optional weak-labelled sample.".into(),
        params: vec![
            ParamSpec::int("n_samples", "Weak-labelled samples to emit (0 = none).").default(0).range(0.0, 1e7),
            ParamSpec::int("mc_samples", "Monte-Carlo samples for R(w_weak) (0 = skip).").default(0).range(0.0, 1e9),
            quad_n_spec(),
        ],
        determinism: Determinism::Seeded,
        min_inputs: 1,
        max_inputs: None,
        reads: problem_inputs(),
        writes: vec![
            TableSpec::new("weak", "The weak supervisor's quality (one row).")
                .col("rho", "float64", "ρ.")
                .col("weak_dist2", "float64", "2 − 2ρ.")
                .col("weak_risk", "float64", "R(w_weak), exact.")
                .col("weak_risk_mc", "float64", "R(w_weak), Monte Carlo (NaN when mc_samples = 0).")
                .col("weak_risk_mc_se", "float64", "Its standard error (NaN when mc_samples = 0).")
                .col("weak_overlap_v", "float64", "⟨w_weak, v⟩."),
            TableSpec::new("samples", "Weak-labelled samples, one row each.")
                .col("x", "fixed_size_list<float64>", "The input x (d values).")
                .col("y_true", "float64", "σ(⟨w*, x⟩).")
                .col("y_weak", "float64", "σ(⟨w_weak, x⟩).")
                .when("n_samples > 0"),
            meta_spec(),
            problem_spec(),
        ],
    }
}

fn samples(p: &Problem, n: usize, seed: u64) -> Result<RecordBatch, EngineError> {
    let d = p.d();
    let mut rng = stream(seed, tags::WEAK_SAMPLES, 0);
    let mut xs = vec![0.0; n * d];
    let (mut yt, mut yw) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for row in xs.chunks_mut(d) {
        p.sample_x(&mut rng, row);
        yt.push(p.act.f(dot(row, &p.w_star)));
        yw.push(p.act.f(dot(row, &p.w_weak)));
    }
    let item = Arc::new(Field::new("item", DataType::Float64, false));
    let x = FixedSizeListArray::try_new(
        item.clone(),
        d as i32,
        Arc::new(Float64Array::from(xs)),
        None,
    )?;
    let schema = Schema::new(vec![
        Field::new("x", DataType::FixedSizeList(item, d as i32), false),
        Field::new("y_true", DataType::Float64, false),
        Field::new("y_weak", DataType::Float64, false),
    ]);
    let cols: Vec<ArrayRef> = vec![
        Arc::new(x),
        Arc::new(Float64Array::from(yt)),
        Arc::new(Float64Array::from(yw)),
    ];
    Ok(RecordBatch::try_new(Arc::new(schema), cols)?)
}

pub fn run(req: &StageRequest) -> Result<StageOutput, EngineError> {
    let p = load_problem(req)?;
    let q = quadrature(req, &p)?;
    let mc = req.usize("mc_samples")?;
    let (mc_mean, mc_se) = if mc > 0 {
        risk_mc(&p, &p.w_weak, &p.w_star, mc, req.seed).map_err(se)?
    } else {
        (f64::NAN, f64::NAN)
    };
    let rho = p.params.rho;
    let weak = table(vec![
        ("rho", Col::F64(vec![rho])),
        ("weak_dist2", Col::F64(vec![2.0 - 2.0 * rho])),
        ("weak_risk", Col::F64(vec![true_risk(&p, &q, &p.w_weak)])),
        ("weak_risk_mc", Col::F64(vec![mc_mean])),
        ("weak_risk_mc_se", Col::F64(vec![mc_se])),
        ("weak_overlap_v", Col::F64(vec![dot(&p.w_weak, &p.v)])),
    ])?;
    let mut tables = vec![NamedTable::new("weak", weak)];
    let n = req.usize("n_samples")?;
    if n > 0 {
        tables.push(NamedTable::new("samples", samples(&p, n, req.seed)?));
    }
    tables.extend(problem_tables(&p)?);
    Ok(StageOutput::from_tables(tables))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::common::{scalar, testing};
    use crate::synth::pretrain::tests::problem_input;
    use warmstart_engine::Value;

    #[test]
    fn exact_and_mc_weak_risk_agree() {
        let req = testing::request(
            spec(),
            &[
                ("mc_samples", Value::Int(100_000)),
                ("n_samples", Value::Int(5)),
            ],
            vec![problem_input(12, 1.0)],
        );
        let out = run(&req).unwrap();
        let w = testing::table(&out, "weak");
        let (exact, mc, se) = (
            scalar(w, "weak_risk").unwrap(),
            scalar(w, "weak_risk_mc").unwrap(),
            scalar(w, "weak_risk_mc_se").unwrap(),
        );
        assert!((exact - mc).abs() < 4.0 * se, "{exact} vs {mc} ± {se}");
        assert!((scalar(w, "weak_dist2").unwrap() - 0.8).abs() < 1e-12);
        assert_eq!(testing::table(&out, "samples").num_rows(), 5);
    }
}
