//! Quick look at fine-tuning regimes (a helper for choosing experiment constants).
//! Part 1 (Exp 2): ‖w_t − w*‖² along fine-tuning for fixed-r0 and PCA inits across λ, δ.
//! Part 2 (Exp 1): PCA init + short fine-tune across α: final risk vs the weak risk.
//! `cargo run --release -p warmstart-synth --example regimes`

use warmstart_synth::activation::ActivationKind;
use warmstart_synth::init::fixed_init;
use warmstart_synth::model::{Problem, ProblemParams};
use warmstart_synth::pca::{PcaConfig, power_iteration};
use warmstart_synth::pgd::{Labels, PgdConfig, run_pgd};
use warmstart_synth::quadrature::GaussHermite;
use warmstart_synth::risk::true_risk;

fn main() -> Result<(), warmstart_synth::SynthError> {
    let q = GaussHermite::new(8)?;
    let d = 200;
    let pca_cfg = PcaConfig {
        n_samples: 4 * d,
        iters: 100,
        tol: 1e-12,
    };
    println!("== Exp 2: dist2 every τ = 30 (weak level 0.80)");
    for (lambda, alpha) in [(0.0, 0.6), (3.0, 0.6), (3.0, 0.9)] {
        let params = ProblemParams {
            d,
            alpha,
            rho: 0.6,
            lambda,
            activation: ActivationKind::ShiftedHe3,
        };
        let p = Problem::generate(params, 1)?;
        let pca = power_iteration(&p, pca_cfg, 2, &q, |_, _| {})?.v_hat;
        for (name, w0) in [
            ("r0=0.6", fixed_init(&p, 0.6, 3)?),
            ("r0=0.3", fixed_init(&p, 0.3, 3)?),
            ("pca", pca),
        ] {
            for delta in [1e-3, 1e-4, 1e-5] {
                let cfg = PgdConfig {
                    delta,
                    tau: 1500.0,
                    log_every: 30 * d,
                    labels: Labels::Weak,
                };
                let r = run_pgd(&p, &w0, cfg, 4, &q)?;
                let pts: Vec<String> = r
                    .log
                    .iter()
                    .step_by(5)
                    .map(|l| format!("{:.2}", l.dist2))
                    .collect();
                println!(
                    "λ={lambda} α={alpha} {name:7} δ={delta:e}: {}",
                    pts.join(" ")
                );
            }
        }
    }
    println!("== Exp 1: λ = 3, PCA (N = 4d), δ = 1e-4, τ = 20");
    for k in 0..=10 {
        let alpha = k as f64 / 10.0;
        let params = ProblemParams {
            d,
            alpha,
            rho: 0.6,
            lambda: 3.0,
            activation: ActivationKind::ShiftedHe3,
        };
        let p = Problem::generate(params, 1)?;
        let pca = power_iteration(&p, pca_cfg, 2, &q, |_, _| {})?.v_hat;
        let cfg = PgdConfig {
            delta: 1e-4,
            tau: 20.0,
            log_every: d,
            labels: Labels::Weak,
        };
        let r = run_pgd(&p, &pca, cfg, 4, &q)?;
        let last = r.log.last().map(|l| (l.dist2, l.risk)).unwrap_or_default();
        let weak = true_risk(&p, &q, &p.w_weak);
        println!(
            "α={alpha:.1}: init dist2 {:.2}, final dist2 {:.2}, final R {:.3} vs weak R {:.3} → W2SG {}",
            r.log[0].dist2,
            last.0,
            last.1,
            weak,
            last.1 < weak
        );
    }
    Ok(())
}
