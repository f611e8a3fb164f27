//! `generate`: draws a spiked single-index problem instance (w*, v, w_weak) from the seed.
//!
//! Params: `d`, `alpha`, `rho`, `lambda`, `activation`. Output tables: `meta` (one row:
//! d, alpha, rho, lambda, activation, s2 = 1 + λα², act_constant = s² of shifted-he3, c of
//! proj-tanh or k of bounded-tanh)
//! and `problem` (one row per coordinate: i, w_star, v, w_weak).

use warmstart_engine::{Determinism, EngineError, KindSpec, ParamSpec, StageOutput, StageRequest};
use warmstart_synth::activation::ActivationKind;
use warmstart_synth::model::{Problem, ProblemParams};

use super::common::{meta_spec, problem_spec, problem_tables, se};

pub fn spec() -> KindSpec {
    KindSpec {
        name: "generate".into(),
        doc: "Draw a spiked single-index problem: w*, spike v = αw* + √(1−α²)u, weak w_weak = ρw* + √(1−ρ²)u_w.".into(),
        params: vec![
            ParamSpec::int("d", "Dimension (≥ 2).").default(200).range(2.0, 1e7),
            ParamSpec::float("alpha", "Intrinsic task alignment α = ⟨v, w*⟩.").default(0.5).range(-1.0, 1.0),
            ParamSpec::float("rho", "Weak supervisor quality ρ = ⟨w_weak, w*⟩.").default(0.6).range(-1.0, 1.0),
            ParamSpec::float("lambda", "Spike strength λ: x ~ N(0, I + λvvᵀ).").default(0.0).min(0.0),
            ParamSpec::string("activation", "σ: shifted-he3 (z³ − 3s²z, s² = 1 + λα²), he3, proj-tanh (tanh z − cz), bounded-tanh (tanh(z/s) − k·tanh(z/3s), k ≈ 2.0013: bounded, odd, no linear Hermite part), relu, gelu, softplus, sigmoid.")
                .default("shifted-he3")
                .choices(ActivationKind::NAMES),
        ],
        determinism: Determinism::Seeded,
        min_inputs: 0,
        max_inputs: Some(0),
        reads: vec![],
        writes: vec![meta_spec(), problem_spec()],
    }
}

pub fn run(req: &StageRequest) -> Result<StageOutput, EngineError> {
    let params = ProblemParams {
        d: req.usize("d")?,
        alpha: req.f64("alpha")?,
        rho: req.f64("rho")?,
        lambda: req.f64("lambda")?,
        activation: ActivationKind::parse(req.str("activation")?).map_err(se)?,
    };
    let p = Problem::generate(params, req.seed).map_err(se)?;
    Ok(StageOutput::from_tables(problem_tables(&p)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::common::{load_problem, testing};
    use warmstart_engine::Value;

    #[test]
    fn generates_and_round_trips() {
        let out = run(&testing::request(
            spec(),
            &[("d", Value::Int(16)), ("lambda", Value::Float(2.0))],
            vec![],
        ))
        .unwrap();
        assert_eq!(out.tables[0].name, "meta");
        assert_eq!(testing::table(&out, "problem").num_rows(), 16);
        let down = testing::request(spec(), &[], vec![testing::input("g", out, vec![])]);
        let p = load_problem(&down).unwrap();
        assert_eq!(p.d(), 16);
        assert_eq!(p.params.lambda, 2.0);
        let bad = testing::request(spec(), &[("d", Value::Int(16))], vec![]);
        let mut bad = bad;
        bad.params.insert("d".into(), Value::Int(1));
        assert!(run(&bad).is_err());
    }
}
