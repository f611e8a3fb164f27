//! The shipped synthetic-science experiments (`experiments/*.toml`), each run at a reduced
//! size through the real binary: the shipped file's text with some `[params]` / `[sweep]`
//! lines replaced (smaller d, shorter grids — same stages, same code path), then the claim
//! the file documents is checked on `warmstart show … --format json`.

mod common;

use common::shipped::*;
use serde_json::Value;

#[test]
fn exp1_alignment_w2sg_only_above_a_threshold() {
    let (p, file) = run_reduced(
        "exp1-alignment",
        &[
            ("d = 200", "d = 100"),
            (
                "alpha = { linspace = [0.0, 1.0, 11] }",
                "alpha = [0.0, 0.3, 1.0]",
            ),
            TWO_SEEDS,
        ],
    );
    // Per α, over the seeds: w2sg_mean is the fraction of seeds where W2SG held.
    let s = show(&p, &file, "summary", Some("summary_stats"));
    assert_eq!(s.len(), 3, "{s:?}");
    for row in &s {
        assert_eq!(row["n"].as_i64(), Some(2), "two seeds per α: {row}");
    }
    assert_eq!(f(at(&s, &[("alpha", 0.0)]), "w2sg_mean"), 0.0, "{s:?}");
    assert_eq!(f(at(&s, &[("alpha", 0.3)]), "w2sg_mean"), 0.0, "{s:?}");
    let top = at(&s, &[("alpha", 1.0)]);
    assert_eq!(f(top, "w2sg_mean"), 1.0, "{top}");
    assert!(
        f(top, "final_dist2_mean") < f(top, "weak_dist2_mean"),
        "{top}"
    );
    assert!(f(top, "final_dist2_sem") > 0.0, "two seeds differ: {top}");
    // One crossing to success per seed, above α = 0.3.
    let c = show(&p, &file, "summary", Some("crossings"));
    let up: Vec<&Value> = c
        .iter()
        .filter(|r| r["to_success"].as_bool() == Some(true))
        .collect();
    assert_eq!(up.len(), 2, "{c:?}");
    assert!(up.iter().all(|r| f(r, "crossing") > 0.3), "{c:?}");
    assert_figure(&p, &file, "figure", "exp1-alignment");
}

/// Run at the shipped size (d = 200) with two of its five seeds: at d = 100 the r0 = 0
/// init of this spiked regime dips clearly below the weak level (min 0.77).
#[test]
fn exp2_good_inits_dip_below_the_weak_level_and_regress_poor_init_barely() {
    let (p, file) = run_reduced("exp2-trajectories", &[TWO_SEEDS]);
    let s = show(&p, &file, "summary", Some("summary"));
    assert_eq!(s.len(), 8, "4 inits × 2 seeds: {s:?}");
    let weak = f(&s[0], "weak_dist2");
    assert!((weak - 0.8).abs() < 1e-12);
    let of = |r0: f64| s.iter().filter(move |r| (f(r, "r0") - r0).abs() < 1e-9);
    for r0 in [0.6, 0.7] {
        for r in of(r0) {
            let (min, fin) = (f(r, "min_dist2"), f(r, "final_dist2"));
            assert!(min < weak - 0.1, "r0={r0}: no dip below 2 − 2ρ: {r}");
            assert!(fin > min + 0.1, "r0={r0}: no regression after the dip: {r}");
        }
    }
    // The poor init: at most a hair below the weak level (0.013 in the shipped seeds), an
    // order of magnitude less than the good inits' dips.
    for poor in of(0.0) {
        assert!(
            f(poor, "min_dist2") > weak - 0.02,
            "poor init got clearly below 2 − 2ρ: {poor}"
        );
    }
    let stats = show(&p, &file, "summary", Some("rows_stats"));
    assert!(
        stats.iter().all(|r| r["n"].as_i64() == Some(2)),
        "every point of the mean trajectories averages both seeds"
    );
    assert_figure(&p, &file, "figure", "exp2-trajectories");
}

#[test]
fn random_init_stays_near_two() {
    let d = 300.0_f64;
    let (p, file) = run_reduced(
        "random-init",
        &[
            ("d = 1000", "d = 300"),
            ("rep = { range = [0, 8] }", "rep = { range = [0, 4] }"),
            ("tau = 100", "tau = 50"),
        ],
    );
    let s = show(&p, &file, "summary", Some("summary"));
    assert_eq!(s.len(), 8);
    // A random init has ⟨w0, w*⟩ ~ N(0, 1/d): ‖w0 − w*‖² = 2 ± 2/√d. Fine-tuning must not
    // move it out of a 3-sigma band, nor anywhere near the weak level 0.8.
    let band = 3.0 * 2.0 / d.sqrt();
    for r in &s {
        let fin = f(r, "final_dist2");
        assert!((fin - 2.0).abs() < band, "left the band 2 ± {band}: {r}");
        assert!(f(r, "min_dist2") > f(r, "weak_dist2") + 0.5, "{r}");
    }
    assert_figure(&p, &file, "figure", "random-init-lambda0");
}

#[test]
fn rho_seeds_mean_and_sem_over_seeds_against_two_minus_two_rho() {
    // Shipped size (≈ 1 s in a debug build): the claim is about the spread over its seeds.
    let (p, file) = run_reduced("rho-seeds", &[]);
    let s = show(&p, &file, "summary", Some("summary_stats"));
    assert_eq!(s.len(), 4, "one row per ρ: {s:?}");
    for r in &s {
        assert_eq!(r["n"], 5, "five seeds per point: {r}");
        let (mean, sem) = (f(r, "final_dist2_mean"), f(r, "final_dist2_sem"));
        assert!(sem > 0.0 && sem < 0.2, "{r}");
        assert!(
            (f(r, "final_dist2_min") - 1e-12..=f(r, "final_dist2_max") + 1e-12).contains(&mean)
        );
        let weak = 2.0 - 2.0 * f(r, "rho");
        assert!(
            (f(r, "weak_dist2_mean") - weak).abs() < 0.1,
            "the weak level is 2 − 2ρ: {r}"
        );
    }
    // A poor supervisor is beaten by more than 2 sem; a good one (ρ = 0.9) is not.
    for rho in [0.3, 0.5] {
        let r = at(&s, &[("rho", rho)]);
        let gap = f(r, "weak_dist2_mean") - f(r, "final_dist2_mean");
        assert!(gap > 2.0 * f(r, "final_dist2_sem"), "ρ = {rho}: {r}");
    }
    let r = at(&s, &[("rho", 0.9)]);
    assert!(f(r, "final_dist2_mean") > f(r, "weak_dist2_mean"), "{r}");
    assert_figure(&p, &file, "figure", "rho-seeds");
}

/// The fraction of seeds where W2SG held (`aggregate`'s `over = ["rep"]`).
fn w2sg_fraction(rows: &[Value], coords: &[(&str, f64)]) -> f64 {
    f(at(rows, coords), "w2sg_mean")
}

/// Two seeds per point in the reduced runs (the shipped files have five).
const TWO_SEEDS: (&str, &str) = ("rep = { range = [0, 5] }", "rep = { range = [0, 2] }");

#[test]
fn c3_lambda_phase_transition_at_detectability() {
    let (p, file) = run_reduced(
        "c3-lambda",
        &[
            ("d = 200", "d = 100"),
            ("alpha = [0.7, 0.8, 0.9, 1.0]", "alpha = [1.0]"),
            (
                "lambda = [0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0]",
                "lambda = [0.0, 0.25, 1.5, 2.0]",
            ),
            TWO_SEEDS,
        ],
    );
    let s = show(&p, &file, "summary", Some("summary_stats"));
    assert_eq!(s.len(), 4);
    for lam in [0.0, 0.25] {
        assert_eq!(w2sg_fraction(&s, &[("lambda", lam)]), 0.0, "λ={lam}: {s:?}");
    }
    for lam in [1.5, 2.0] {
        assert_eq!(w2sg_fraction(&s, &[("lambda", lam)]), 1.0, "λ={lam}: {s:?}");
    }
    // PCA finds the spike above the BBP threshold λ = √(d/N) = 0.5, not below (every seed).
    let pca = show(&p, &file, "pca_rows", Some("rows"));
    assert_eq!(pca.len(), 8, "4 λ × 2 seeds: {pca:?}");
    for row in &pca {
        let ov = f(row, "overlap_v").abs();
        if f(row, "lambda") <= 0.25 {
            assert!(ov < 0.5, "{row}");
        } else if f(row, "lambda") >= 2.0 {
            assert!(ov > 0.8, "{row}");
        }
    }
    assert_figure(&p, &file, "figure", "c3-lambda");
    assert_figure(&p, &file, "figure_overlap", "c3-lambda-pca");
}

#[test]
fn c3_alpha_threshold_needs_a_detectable_spike() {
    let (p, file) = run_reduced(
        "c3-alpha",
        &[
            ("d = 200", "d = 100"),
            ("lambda = [0.25, 1.0, 3.0, 6.0]", "lambda = [0.25, 3.0]"),
            (
                "alpha = { linspace = [0.0, 1.0, 11] }",
                "alpha = [0.0, 1.0]",
            ),
            TWO_SEEDS,
        ],
    );
    let s = show(&p, &file, "summary", Some("summary_stats"));
    assert_eq!(s.len(), 4);
    for a in [0.0, 1.0] {
        assert_eq!(
            w2sg_fraction(&s, &[("lambda", 0.25), ("alpha", a)]),
            0.0,
            "{s:?}"
        );
    }
    assert_eq!(
        w2sg_fraction(&s, &[("lambda", 3.0), ("alpha", 0.0)]),
        0.0,
        "{s:?}"
    );
    assert_eq!(
        w2sg_fraction(&s, &[("lambda", 3.0), ("alpha", 1.0)]),
        1.0,
        "{s:?}"
    );
    assert_figure(&p, &file, "figure", "c3-alpha");
}

/// At the shipped d = 200 (8 short runs): at d = 100 one of two seeds at α = 1, ρ = 0.6
/// dips to ‖w − w*‖² 0.13 and climbs back to 1.29 within τ = 20, so the claim is made,
/// and checked, at the size it was measured at.
#[test]
fn c3_rho_aligned_task_beats_every_weak_supervisor_misaligned_none() {
    let (p, file) = run_reduced(
        "c3-rho",
        &[
            ("alpha = [0.6, 0.8, 1.0]", "alpha = [0.6, 1.0]"),
            (
                "rho = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]",
                "rho = [0.3, 0.6]",
            ),
            TWO_SEEDS,
        ],
    );
    let s = show(&p, &file, "summary", Some("summary_stats"));
    assert_eq!(s.len(), 4);
    for rho in [0.3, 0.6] {
        assert_eq!(
            w2sg_fraction(&s, &[("alpha", 0.6), ("rho", rho)]),
            0.0,
            "{s:?}"
        );
        let good = at(&s, &[("alpha", 1.0), ("rho", rho)]);
        assert_eq!(f(good, "w2sg_mean"), 1.0, "{good}");
        // Every seed's final error is below the weak supervisor's.
        assert!(
            f(good, "final_dist2_max") < f(good, "weak_dist2_mean"),
            "{good}"
        );
    }
    assert_figure(&p, &file, "figure", "c3-rho");
}

#[test]
fn c3_delta_no_movement_sweet_spot_blow_up() {
    let (p, file) = run_reduced(
        "c3-delta",
        &[
            (
                "init = [\"pca\", \"fixed\", \"random\"]",
                "init = [\"fixed\"]",
            ),
            (
                "delta = { logspace = [-6, 1, 15] }",
                "delta = [1e-6, 1e-4, 10.0]",
            ),
            TWO_SEEDS,
        ],
    );
    // Over both seeds: the extremes of each δ, not one random instance.
    let s = show(&p, &file, "summary", Some("summary_stats"));
    assert_eq!(s.len(), 3);
    let weak = f(&s[0], "weak_dist2_mean");
    // r0 = 0.6 starts at ‖w0 − w*‖² = 2 − 2·0.6 = 0.8.
    let tiny = at(&s, &[("delta", 1e-6)]);
    assert!(
        (f(tiny, "final_dist2_min") - 0.8).abs() < 0.03
            && (f(tiny, "final_dist2_max") - 0.8).abs() < 0.03,
        "moved: {tiny}"
    );
    // The sweet spot: every seed gets below the weak level, the mean by at least 0.05
    // (seed by seed the depth varies: 0.69 and 0.78 here at d = 200).
    let sweet = at(&s, &[("delta", 1e-4)]);
    assert!(
        f(sweet, "min_dist2_max") < weak && f(sweet, "min_dist2_mean") < weak - 0.05,
        "no sweet spot: {sweet}"
    );
    let big = at(&s, &[("delta", 10.0)]);
    assert!(f(big, "final_dist2_min") > 1.5, "no blow-up: {big}");
    assert_figure(&p, &file, "figure", "c3-delta");
}

#[test]
fn c4_landscape_bounded_activation_shrinks_with_lambda() {
    // Full d (λ = 1 needs ~10 power iterations to settle at N = 4d), fewer iterations.
    let (p, file) = run_reduced("c4-landscape", &[("iters = 30", "iters = 12")]);
    let rows = show(&p, &file, "rows", None);
    let last = |lam: f64| {
        rows.iter()
            .filter(|r| (f(r, "lambda") - lam).abs() < 1e-9)
            .max_by(|a, b| f(a, "iter").total_cmp(&f(b, "iter")))
            .unwrap()
            .clone()
    };
    let (a, b, c) = (last(0.25), last(1.0), last(3.0));
    // The spike is found above the BBP threshold (0.5) only.
    assert!(f(&a, "theta_deg") > 75.0, "{a}");
    assert!(
        f(&b, "theta_deg") < 55.0 && f(&c, "theta_deg") < 45.0,
        "{b} {c}"
    );
    // Paper: pull, μ and ε all shrink as λ grows. Holds from λ = 1 to λ = 3 ...
    for col in ["pull", "mu", "eps"] {
        assert!(f(&c, col) < f(&b, col), "{col}: {b} vs {c}");
    }
    // ... but not from λ = 0.25: below the threshold w stays near the equator, where an
    // information-exponent-3 landscape is flat, so all three are > 10× smaller there.
    for col in ["pull", "mu", "eps"] {
        assert!(f(&a, col) < 0.1 * f(&b, col), "{col}: {a} vs {b}");
    }
    // Paper: in setting A (small λ) ε outpaces the pull. Holds.
    assert!(f(&a, "eps") > f(&a, "pull"), "{a}");
    // Paper: in B and C μ keeps a clear margin above ε. Does not: μ is within 10% of ε, and
    // Eq. 2's restoring term μ·‖w − w*‖ stays below ε.
    for r in [&b, &c] {
        assert!((f(r, "mu") / f(r, "eps") - 1.0).abs() < 0.1, "{r}");
        assert!(f(r, "mu_dist") < f(r, "eps"), "{r}");
    }
    // Where power iteration settles, R* is not locally convex: the Riemannian Hessian has a
    // negative eigenvalue, and the curvature toward w* is negative too.
    for r in [&a, &b, &c] {
        let (h, k) = (f(r, "mu_hessian"), f(r, "geodesic_curvature"));
        assert!(h < 0.0 && k < 0.0 && h <= k + 1e-9, "{r}");
    }
    for (stage, stem) in [
        ("theta", "theta"),
        ("pull", "pull"),
        ("mu", "mu"),
        ("mu_hessian", "mu-hessian"),
        ("curvature", "curvature"),
        ("eps", "eps"),
        ("margin", "margin"),
    ] {
        assert_figure(&p, &file, &format!("figure_{stage}"), &format!("c4-{stem}"));
    }
}

#[test]
fn ridge_student_beats_under_regularized_teacher_only() {
    let (p, file) = run_reduced(
        "ridge",
        &[
            ("d = 400", "d = 200"),
            ("n_t = 800", "n_t = 400"),
            ("n_s = 800", "n_s = 400"),
        ],
    );
    let rows = show(&p, &file, "rows", None);
    for r in &rows {
        for who in ["teacher", "student"] {
            let (sim, th) = (f(r, &format!("{who}_sim")), f(r, &format!("{who}_theory")));
            assert!(
                (sim - th).abs() / th < 0.06,
                "{who}: sim {sim} vs theory {th}: {r}"
            );
        }
    }
    let by = |lt: f64| -> Vec<&Value> {
        rows.iter()
            .filter(|r| (f(r, "lambda_t") - lt).abs() < 1e-9)
            .collect()
    };
    let under = by(0.05);
    assert!(
        under
            .iter()
            .any(|r| f(r, "student_sim") < f(r, "teacher_sim")),
        "student never beat the under-regularized teacher"
    );
    let over = by(1.0);
    assert!(!over.is_empty());
    for r in &over {
        assert!(
            f(r, "student_sim") > f(r, "teacher_sim"),
            "beat the over-regularized teacher: {r}"
        );
        assert!(f(r, "student_theory") > f(r, "teacher_theory"), "{r}");
    }
    let w = show(&p, &file, "weighted", None);
    let gain = |z: f64| f(at(&w, &[("zeta", z)]), "gain");
    assert!(
        gain(0.0).abs() < 0.01 && gain(0.6) > 0.02 && gain(1.0) > gain(0.6),
        "{w:?}"
    );
    for name in ["sim", "theory"] {
        assert_figure(
            &p,
            &file,
            &format!("figure_{name}"),
            &format!("ridge-student-{name}"),
        );
    }
    assert_figure(&p, &file, "figure_under", "ridge-under");
    assert_figure(&p, &file, "figure_over", "ridge-over");
    assert_figure(&p, &file, "figure_weighted", "ridge-weighted");
}
