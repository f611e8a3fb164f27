//! `ridge`: ridge teacher/student (science.md §2), simulated and asymptotic, over a λ_s
//! grid; plus the weighted-ridge student's gain versus the pre-trained correlation ζ.
//!
//! No inputs. Output tables: `ridge` (per λ_s: lambda_s, teacher_sim, teacher_sim_se,
//! student_sim, student_sim_se, teacher_theory, student_theory, student_beats_teacher
//! (theory), lambda_t_opt = σ²γ_t); `weighted` (per ζ: zeta, zeta2, ridge_sim, weighted_sim,
//! gain, gain_se).

use warmstart_engine::{
    Determinism, EngineError, KindSpec, ParamSpec, ParamType, StageOutput, StageRequest, TableSpec,
    Value,
};
use warmstart_synth::ridge::{
    RidgeSim, simulate, simulate_weighted, student_excess, teacher_excess,
};

use super::common::{Col, f_list, se, table};

fn floats(xs: &[f64]) -> Value {
    Value::List(xs.iter().map(|x| Value::Float(*x)).collect())
}

pub fn spec() -> KindSpec {
    KindSpec {
        name: "ridge".into(),
        doc: "Ridge teacher/student: simulated and asymptotic excess errors over λ_s; weighted-ridge gain vs ζ.".into(),
        params: vec![
            ParamSpec::int("d", "Dimension.").default(400).range(2.0, 2000.0),
            ParamSpec::int("n_t", "Teacher samples (γ_t = d/n_t).").default(800).range(1.0, 1e6),
            ParamSpec::int("n_s", "Student samples (γ_s = d/n_s).").default(800).range(1.0, 1e6),
            ParamSpec::float("sigma2", "Label noise variance σ².").default(0.5).min(0.0),
            ParamSpec::float("lambda_t", "Teacher ridge λ_t.").default(0.05).min(1e-12),
            ParamSpec::list("lambda_s", ParamType::Float, "Student ridge grid λ_s.")
                .default(floats(&[0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0]))
                .min(1e-12),
            ParamSpec::int("reps", "Simulation repetitions averaged.").default(4).range(1.0, 1e4),
            ParamSpec::float("weighted_lambda", "Weighted-ridge student's λ.").default(0.3).min(1e-12),
            ParamSpec::float("kappa", "Relative penalty along the pre-trained direction (Γ = I − (1−κ)ppᵀ).")
                .default(0.1)
                .range(1e-12, 1.0),
            ParamSpec::list("zeta", ParamType::Float, "Correlations ζ = ⟨p, β*⟩ of the pre-trained direction.")
                .default(floats(&[0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0]))
                .range(-1.0, 1.0),
        ],
        determinism: Determinism::Seeded,
        min_inputs: 0,
        max_inputs: Some(0),
        reads: vec![],
        writes: vec![
            TableSpec::new("ridge", "Per λ_s of the grid.")
                .col("lambda_s", "float64", "")
                .col("teacher_sim", "float64", "The teacher's simulated excess risk.")
                .col("teacher_sim_se", "float64", "")
                .col("student_sim", "float64", "")
                .col("student_sim_se", "float64", "")
                .col("teacher_theory", "float64", "")
                .col("student_theory", "float64", "")
                .col("student_beats_teacher", "bool", "In theory.")
                .col("lambda_t_opt", "float64", "σ²γ_t."),
            TableSpec::new("weighted", "Per ζ of the grid: the weighted-ridge student's gain.")
                .col("zeta", "float64", "")
                .col("zeta2", "float64", "")
                .col("ridge_sim", "float64", "")
                .col("weighted_sim", "float64", "")
                .col("gain", "float64", "")
                .col("gain_se", "float64", ""),
        ],
    }
}

pub fn run(req: &StageRequest) -> Result<StageOutput, EngineError> {
    let cfg = RidgeSim {
        d: req.usize("d")?,
        n_t: req.usize("n_t")?,
        n_s: req.usize("n_s")?,
        sigma2: req.f64("sigma2")?,
        lambda_t: req.f64("lambda_t")?,
        reps: req.usize("reps")?,
    };
    let grid = f_list(req, "lambda_s")?;
    let (teacher, students) = simulate(&cfg, &grid, req.seed).map_err(se)?;
    let (gt, gs) = (cfg.d as f64 / cfg.n_t as f64, cfg.d as f64 / cfg.n_s as f64);
    let t_theory = teacher_excess(cfg.sigma2, gt, cfg.lambda_t).map_err(se)?;
    let s_theory = grid
        .iter()
        .map(|&l| student_excess(cfg.sigma2, gt, cfg.lambda_t, gs, l))
        .collect::<Result<Vec<_>, _>>()
        .map_err(se)?;
    let n = grid.len();
    let ridge = table(vec![
        ("lambda_s", Col::F64(grid.clone())),
        ("teacher_sim", Col::F64(vec![teacher.mean; n])),
        ("teacher_sim_se", Col::F64(vec![teacher.se; n])),
        (
            "student_sim",
            Col::F64(students.iter().map(|e| e.mean).collect()),
        ),
        (
            "student_sim_se",
            Col::F64(students.iter().map(|e| e.se).collect()),
        ),
        ("teacher_theory", Col::F64(vec![t_theory; n])),
        ("student_theory", Col::F64(s_theory.clone())),
        (
            "student_beats_teacher",
            Col::Bool(s_theory.iter().map(|s| *s < t_theory).collect()),
        ),
        ("lambda_t_opt", Col::F64(vec![cfg.sigma2 * gt; n])),
    ])?;
    let zetas = f_list(req, "zeta")?;
    let rows = simulate_weighted(
        &cfg,
        req.f64("weighted_lambda")?,
        req.f64("kappa")?,
        &zetas,
        req.seed,
    )
    .map_err(se)?;
    let weighted = table(vec![
        ("zeta", Col::F64(rows.iter().map(|r| r.zeta).collect())),
        (
            "zeta2",
            Col::F64(rows.iter().map(|r| r.zeta * r.zeta).collect()),
        ),
        (
            "ridge_sim",
            Col::F64(rows.iter().map(|r| r.ridge.mean).collect()),
        ),
        (
            "weighted_sim",
            Col::F64(rows.iter().map(|r| r.weighted.mean).collect()),
        ),
        ("gain", Col::F64(rows.iter().map(|r| r.gain.mean).collect())),
        (
            "gain_se",
            Col::F64(rows.iter().map(|r| r.gain.se).collect()),
        ),
    ])?;
    let mut o = StageOutput::default();
    o.push("ridge", ridge).push("weighted", weighted);
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::common::{col_f64, testing};

    #[test]
    fn small_run_has_theory_and_simulation() {
        let req = testing::request(
            spec(),
            &[
                ("d", Value::Int(40)),
                ("n_t", Value::Int(80)),
                ("n_s", Value::Int(80)),
                ("reps", Value::Int(2)),
                ("lambda_s", floats(&[0.05, 0.3])),
                ("zeta", floats(&[0.0, 0.9])),
            ],
            vec![],
        );
        let out = run(&req).unwrap();
        let r = testing::table(&out, "ridge");
        assert_eq!(r.num_rows(), 2);
        let st = col_f64(r, "student_theory").unwrap();
        assert!((st[1] - 0.347).abs() < 1e-3, "{st:?}");
        let w = testing::table(&out, "weighted");
        let g = col_f64(w, "gain").unwrap();
        assert!(g[1] > g[0]);
    }
}
