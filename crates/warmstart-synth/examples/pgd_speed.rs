//! Times one online spherical PGD step at several dimensions:
//! `cargo run --release -p warmstart-synth --example pgd_speed`.

use std::time::Instant;

use warmstart_synth::activation::ActivationKind;
use warmstart_synth::init::fixed_init;
use warmstart_synth::model::{Problem, ProblemParams};
use warmstart_synth::pgd::{Labels, PgdConfig, run_pgd};
use warmstart_synth::quadrature::GaussHermite;

fn main() -> Result<(), warmstart_synth::SynthError> {
    let q = GaussHermite::new(48)?;
    // Reference: the normal draws alone (a lower bound for one step: d draws).
    let mut rng = warmstart_synth::rng::stream(1, 2, 3);
    let mut x = vec![0.0; 1000];
    let t0 = Instant::now();
    for _ in 0..20_000 {
        warmstart_synth::rng::fill_normal(&mut rng, &mut x);
        std::hint::black_box(&x);
    }
    println!(
        "normals alone: {:.3} ns/draw",
        t0.elapsed().as_secs_f64() * 1e9 / 2e7
    );
    for d in [100usize, 1000, 10000] {
        let params = ProblemParams {
            d,
            alpha: 0.5,
            rho: 0.6,
            lambda: 3.0,
            activation: ActivationKind::ShiftedHe3,
        };
        let p = Problem::generate(params, 1)?;
        let w0 = fixed_init(&p, 0.6, 1)?;
        let steps = 2_000_000 / d.max(1) * 10;
        let tau = steps as f64 / d as f64;
        // Log only at the ends so the timing is the step itself.
        let cfg = PgdConfig {
            delta: 1e-3,
            tau,
            log_every: usize::MAX,
            labels: Labels::Weak,
        };
        let t0 = Instant::now();
        let r = run_pgd(&p, &w0, cfg, 7, &q)?;
        let us = t0.elapsed().as_secs_f64() * 1e6 / r.steps as f64;
        println!("d = {d:>6}: {us:.3} µs/step over {} steps", r.steps);
    }
    Ok(())
}
