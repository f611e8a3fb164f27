//! Example warmstart plugin: ridge teacher/student weak-to-strong generalization.
//!
//! Kind `ridge-w2s` (science.md §2): x ~ N(0, I_d), y = xᵀβ* + ε with Var ε = σ² and
//! ‖β*‖ = 1. A teacher fits ridge with λ_t on n_t = d/γ_t samples; for each λ_s in a grid a
//! student fits ridge with λ_s on n_s = d/γ_s fresh inputs labelled by the teacher. The
//! output has one row per λ_s with the simulated teacher and student excess errors
//! (‖β − β*‖², averaged over `trials`) and the asymptotic (proportional-limit) formulas as
//! extra columns.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch};
use warmstart_plugin_abi::warmstart_engine::{
    Determinism, EngineError, EngineInfo, KindSpec, ParamSpec, ParamType, StageOutput,
    StageRequest, TableSpec, Value,
};
use warmstart_plugin_abi::{Plugin, export_plugin};

pub mod linalg;
pub mod theory;

/// The plugin type exported as `warmstart_plugin_v1`.
pub struct RidgePlugin;

export_plugin!(RidgePlugin);

impl Plugin for RidgePlugin {
    fn info() -> EngineInfo {
        EngineInfo {
            id: "ridge".into(),
            version: "1".into(),
            kinds: vec![KindSpec {
                name: "ridge-w2s".into(),
                doc: "Ridge teacher/student: simulated and asymptotic excess errors vs λ_s".into(),
                params: vec![
                    ParamSpec::int("d", "Dimension")
                        .default(200i64)
                        .range(2.0, 4000.0),
                    ParamSpec::float("sigma2", "Label noise variance σ²")
                        .default(0.5)
                        .min(0.0),
                    ParamSpec::float("gamma_t", "Teacher aspect ratio d/n_t")
                        .default(0.5)
                        .range(0.01, 100.0),
                    ParamSpec::float("gamma_s", "Student aspect ratio d/n_s")
                        .default(0.5)
                        .range(0.01, 100.0),
                    ParamSpec::float("lambda_t", "Teacher ridge penalty λ_t")
                        .default(0.05)
                        .min(1e-9),
                    ParamSpec::list(
                        "lambda_s",
                        ParamType::Float,
                        "Student ridge penalties λ_s (one output row each)",
                    )
                    .default(Value::List(
                        [0.01, 0.03, 0.1, 0.3, 1.0].map(Value::Float).to_vec(),
                    ))
                    .min(1e-9),
                    ParamSpec::int("trials", "Independent repetitions averaged")
                        .default(2i64)
                        .range(1.0, 1000.0),
                ],
                determinism: Determinism::Seeded,
                min_inputs: 0,
                max_inputs: Some(0),
                reads: vec![],
                writes: vec![output_spec()],
            }],
        }
    }

    fn run(req: &StageRequest) -> Result<StageOutput, EngineError> {
        if req.kind != "ridge-w2s" {
            return Err(EngineError::failed(format!("unknown kind `{}`", req.kind)));
        }
        let p = Setup::from_request(req)?;
        let table = simulate(&p, req.seed).map_err(EngineError::from)?;
        Ok(StageOutput::single(table))
    }
}

/// The one table `ridge-w2s` writes (what [`simulate`] returns; a test holds them together).
fn output_spec() -> TableSpec {
    let err = "excess error ‖β − β*‖²";
    TableSpec::new("out", "One row per λ_s")
        .col("lambda_s", "float64", "The student's ridge penalty λ_s")
        .col(
            "teacher_excess_sim",
            "float64",
            &format!("The teacher's simulated {err}, averaged over `trials`"),
        )
        .col(
            "student_excess_sim",
            "float64",
            &format!("The student's simulated {err}, averaged over `trials`"),
        )
        .col(
            "teacher_excess_theory",
            "float64",
            &format!("The teacher's asymptotic (proportional-limit) {err}"),
        )
        .col(
            "student_excess_theory",
            "float64",
            &format!("The student's asymptotic (proportional-limit) {err}"),
        )
}

/// The validated params of one run.
#[derive(Debug, Clone)]
pub struct Setup {
    pub d: usize,
    pub sigma2: f64,
    pub gamma_t: f64,
    pub gamma_s: f64,
    pub lambda_t: f64,
    pub lambda_s: Vec<f64>,
    pub trials: usize,
}

impl Setup {
    fn from_request(req: &StageRequest) -> Result<Self, EngineError> {
        let lambda_s = req
            .opt("lambda_s")
            .and_then(Value::as_list)
            .ok_or_else(|| EngineError::param("lambda_s", "expected a list of numbers"))?
            .iter()
            .map(|v| {
                v.as_f64()
                    .filter(|x| *x > 0.0)
                    .ok_or_else(|| EngineError::param("lambda_s", "every λ_s must be > 0"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if lambda_s.is_empty() {
            return Err(EngineError::param("lambda_s", "give at least one λ_s"));
        }
        let lambda_t = req.f64("lambda_t")?;
        if lambda_t <= 0.0 {
            return Err(EngineError::param("lambda_t", "must be > 0"));
        }
        Ok(Setup {
            d: req.usize("d")?,
            sigma2: req.f64("sigma2")?,
            gamma_t: req.f64("gamma_t")?,
            gamma_s: req.f64("gamma_s")?,
            lambda_t,
            lambda_s,
            trials: req.usize("trials")?.max(1),
        })
    }
}

/// Run the simulation; one row per λ_s.
pub fn simulate(p: &Setup, seed: u64) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let d = p.d;
    let n_t = ((d as f64 / p.gamma_t).round() as usize).max(1);
    let n_s = ((d as f64 / p.gamma_s).round() as usize).max(1);
    let mut rng = linalg::Rng::new(seed);
    let mut teacher_err = 0.0;
    let mut student_err = vec![0.0; p.lambda_s.len()];
    for _ in 0..p.trials {
        let mut beta = rng.normal_vec(d);
        let norm = beta.iter().map(|x| x * x).sum::<f64>().sqrt();
        beta.iter_mut().for_each(|x| *x /= norm);
        // Teacher.
        let xt = rng.normal_matrix(n_t, d);
        let yt: Vec<f64> = (0..n_t)
            .map(|i| linalg::dot(&xt[i * d..(i + 1) * d], &beta) + p.sigma2.sqrt() * rng.normal())
            .collect();
        let bt = linalg::ridge(&xt, &yt, n_t, d, p.lambda_t);
        teacher_err += linalg::dist2(&bt, &beta);
        // Student on fresh inputs labelled by the teacher.
        let xs = rng.normal_matrix(n_s, d);
        let ys: Vec<f64> = (0..n_s)
            .map(|i| linalg::dot(&xs[i * d..(i + 1) * d], &bt))
            .collect();
        for (j, &ls) in p.lambda_s.iter().enumerate() {
            let bs = linalg::ridge(&xs, &ys, n_s, d, ls);
            student_err[j] += linalg::dist2(&bs, &beta);
        }
    }
    let k = p.trials as f64;
    let n = p.lambda_s.len();
    let t_theory = theory::teacher_excess(p.sigma2, p.gamma_t, p.lambda_t);
    let col = |v: Vec<f64>| Arc::new(Float64Array::from(v)) as ArrayRef;
    RecordBatch::try_from_iter(vec![
        ("lambda_s", col(p.lambda_s.clone())),
        ("teacher_excess_sim", col(vec![teacher_err / k; n])),
        (
            "student_excess_sim",
            col(student_err.iter().map(|e| e / k).collect()),
        ),
        ("teacher_excess_theory", col(vec![t_theory; n])),
        (
            "student_excess_theory",
            col(p
                .lambda_s
                .iter()
                .map(|&ls| theory::student_excess(p.sigma2, p.gamma_t, p.lambda_t, p.gamma_s, ls))
                .collect()),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use warmstart_plugin_abi::warmstart_engine::tables_spec::check_output;

    #[test]
    fn the_output_matches_its_declaration() {
        let p = Setup {
            d: 4,
            sigma2: 0.5,
            gamma_t: 0.5,
            gamma_s: 0.5,
            lambda_t: 0.05,
            lambda_s: vec![0.1, 1.0],
            trials: 1,
        };
        let batch = simulate(&p, 7).unwrap();
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(check_output(&output_spec(), &batch), Ok(()));
        let info = RidgePlugin::info();
        assert_eq!(info.kinds[0].writes, vec![output_spec()]);
    }
}
