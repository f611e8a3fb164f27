//! Times the exact population risk (Gauss–Hermite quadrature, O(d)) against a Monte-Carlo
//! estimate with M = 1e5 samples at d = 1000:
//! `cargo run --release -p warmstart-synth --example risk_speed`.

use std::time::Instant;

use warmstart_synth::activation::ActivationKind;
use warmstart_synth::init::fixed_init;
use warmstart_synth::model::{Problem, ProblemParams};
use warmstart_synth::quadrature::GaussHermite;
use warmstart_synth::risk::{risk_mc, true_risk};

fn main() -> Result<(), warmstart_synth::SynthError> {
    let d = 1000;
    let params = ProblemParams {
        d,
        alpha: 0.5,
        rho: 0.6,
        lambda: 3.0,
        activation: ActivationKind::ShiftedHe3,
    };
    let p = Problem::generate(params, 1)?;
    let w = fixed_init(&p, 0.6, 1)?;
    let q = GaussHermite::new(48)?;
    let reps = 1000;
    let t0 = Instant::now();
    let mut exact = 0.0;
    for _ in 0..reps {
        exact = std::hint::black_box(true_risk(&p, &q, &w));
    }
    let exact_us = t0.elapsed().as_secs_f64() * 1e6 / reps as f64;
    let m = 100_000;
    let t0 = Instant::now();
    let (mc, se) = risk_mc(&p, &w, &p.w_star, m, 3)?;
    let mc_us = t0.elapsed().as_secs_f64() * 1e6;
    println!("d = {d}: exact risk (quadrature, 48 nodes): {exact_us:.3} µs = {exact:.4}");
    println!("d = {d}: Monte-Carlo risk (M = {m}): {mc_us:.1} µs = {mc:.4} ± {se:.4}");
    println!("ratio MC / exact: {:.0}", mc_us / exact_us);
    Ok(())
}
