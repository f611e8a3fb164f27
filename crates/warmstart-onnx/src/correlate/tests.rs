//! Unit tests of `correlate`'s bootstrap intervals (the statistics themselves are checked
//! against scipy in `tests/heads.rs`).

use super::*;
use arrow_array::BooleanArray;
use warmstart_engine::{NamedTable, Params, StageInput, Value};

use crate::linear::SplitMix;
use crate::tables::numbers;

/// An instance of `stage` at `step` with one table.
fn instance(stage: &str, step: i64, table: &str, cols: Vec<(&str, ArrayRef)>) -> StageInput {
    StageInput {
        stage: stage.into(),
        coords: vec![("step".into(), Value::Int(step))],
        tables: vec![NamedTable::new(
            table,
            RecordBatch::try_from_iter(cols).unwrap(),
        )],
    }
}

fn ids(n: usize) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(
        (0..n).map(|i| format!("t{i}")),
    ))
}

/// `n` pairs correct with probability `p` (seeded).
fn coin(n: usize, p: f64, seed: u64) -> Vec<bool> {
    let mut rng = SplitMix::new(seed);
    (0..n)
        .map(|_| ((rng.next_u64() >> 11) as f64) < p * (1u64 << 53) as f64)
        .collect()
}

/// A probe's one-row summary and a W2S head's predictions at each of `points` steps; the
/// head's accuracy grows with the probe's.
fn probe_and_w2s(points: usize, n: usize) -> Vec<StageInput> {
    let mut inputs = Vec::new();
    for k in 0..points {
        let probe = 0.6 + 0.02 * k as f64;
        inputs.push(instance(
            "probe",
            k as i64,
            "summary",
            vec![("best_accuracy", floats([probe]))],
        ));
        let correct = Arc::new(BooleanArray::from(coin(n, probe, k as u64)));
        inputs.push(instance(
            "w2s",
            k as i64,
            "predictions",
            vec![("id", ids(n)), ("correct", correct)],
        ));
    }
    inputs
}

fn request(set: &[(&str, Value)], inputs: Vec<StageInput>) -> StageRequest {
    let spec = spec();
    let mut params = Params::new();
    let base = [
        ("x_stage", "probe"),
        ("x_table", "summary"),
        ("x_column", "best_accuracy"),
        ("y_stage", "w2s"),
        ("y_table", "predictions"),
        ("y_column", "correct"),
        ("axis", "step"),
    ];
    for (k, v) in base {
        params.insert(k.into(), Value::Str(v.into()));
    }
    for p in &spec.params {
        if let (false, Some(d)) = (params.contains_key(&p.name), &p.default) {
            params.insert(p.name.clone(), d.clone());
        }
    }
    for (k, v) in set {
        let s = spec.params.iter().find(|p| p.name == *k).unwrap();
        params.insert(k.to_string(), s.check(v).unwrap());
    }
    StageRequest {
        stage: "corr".into(),
        coords: vec![],
        kind: "correlate".into(),
        params,
        seed: 17,
        inputs,
        threads: 1,
        scratch_dir: None,
        base_dir: None,
    }
}

fn col(out: &StageOutput, table: &str, name: &str) -> Vec<f64> {
    let t = out.tables.iter().find(|t| t.name == table).unwrap();
    numbers(&t.batch, name).unwrap()
}

#[test]
fn a_one_row_side_is_fixed_and_the_other_has_intervals_over_test_pairs() {
    let out = run(&request(&[], probe_and_w2s(6, 400))).unwrap();
    for (t, declared) in out.tables.iter().zip(&spec().writes) {
        warmstart_engine::tables_spec::check_output(declared, &t.batch).unwrap();
    }
    let (x, y) = (col(&out, "points", "x"), col(&out, "points", "y"));
    assert_eq!(col(&out, "points", "x_lo"), x);
    assert_eq!(col(&out, "points", "x_hi"), x);
    let (lo, hi) = (col(&out, "points", "y_lo"), col(&out, "points", "y_hi"));
    for k in 0..6 {
        assert!(
            lo[k] < y[k] && y[k] < hi[k],
            "{} < {} < {}",
            lo[k],
            y[k],
            hi[k]
        );
        // About ±1.96·√(p(1−p)/400) ≈ ±0.045 around accuracies near 0.65.
        assert!((0.05..0.13).contains(&(hi[k] - lo[k])), "{}", hi[k] - lo[k]);
    }
    let r = col(&out, "correlation", "pearson_r")[0];
    let (r_lo, r_hi) = (
        col(&out, "correlation", "pearson_r_lo")[0],
        col(&out, "correlation", "pearson_r_hi")[0],
    );
    assert!(r_lo <= r && r <= r_hi && r_hi <= 1.0, "{r_lo} {r} {r_hi}");
    let rho_lo = col(&out, "correlation", "spearman_rho_lo")[0];
    assert!(rho_lo <= col(&out, "correlation", "spearman_rho")[0]);
    assert_eq!(col(&out, "correlation", "bootstrap"), [1000.0]);
    assert_eq!(col(&out, "correlation", "confidence"), [0.95]);
}

#[test]
fn the_same_seed_gives_the_same_intervals() {
    let bits = |seed: u64| {
        let mut req = request(&[], probe_and_w2s(4, 100));
        req.seed = seed;
        let out = run(&req).unwrap();
        let mut v = col(&out, "points", "y_lo");
        v.extend(col(&out, "correlation", "pearson_r_lo"));
        v.into_iter().map(f64::to_bits).collect::<Vec<_>>()
    };
    assert_eq!(bits(1), bits(1));
    assert_ne!(bits(1), bits(2));
}

/// x and y from two stages whose tables hold the same ids in different orders, y an exact
/// increasing function of x row by row: paired resampling keeps every resample's points
/// on one line (the points are far apart, so their ranks never change either).
#[test]
fn rows_with_the_same_ids_are_resampled_together() {
    let (points, n) = (5, 60);
    let mut inputs = Vec::new();
    for k in 0..points {
        let v: Vec<f64> = coin(n, 0.3 + 0.1 * k as f64, k as u64)
            .iter()
            .enumerate()
            .map(|(i, c)| (f64::from(u8::from(*c)) + i as f64 / n as f64) / 10.0 + k as f64)
            .collect();
        inputs.push(instance(
            "a",
            k as i64,
            "rows",
            vec![("id", ids(n)), ("v", floats(v.iter().copied()))],
        ));
        // The same rows reversed, with w = 3v − 1.
        let rev_ids = Arc::new(StringArray::from_iter_values(
            (0..n).rev().map(|i| format!("t{i}")),
        ));
        let w = v.iter().rev().map(|v| 3.0 * v - 1.0);
        inputs.push(instance(
            "b",
            k as i64,
            "rows",
            vec![("id", rev_ids), ("w", floats(w))],
        ));
    }
    let set = [
        ("x_stage", Value::Str("a".into())),
        ("x_table", Value::Str("rows".into())),
        ("x_column", Value::Str("v".into())),
        ("y_stage", Value::Str("b".into())),
        ("y_table", Value::Str("rows".into())),
        ("y_column", Value::Str("w".into())),
    ];
    let out = run(&request(&set, inputs)).unwrap();
    for c in ["pearson_r_lo", "pearson_r_hi"] {
        let r = col(&out, "correlation", c)[0];
        assert!((r - 1.0).abs() < 1e-12, "{c} = {r}");
    }
    for c in ["spearman_rho_lo", "spearman_rho_hi"] {
        assert_eq!(col(&out, "correlation", c), [1.0], "{c}");
    }
    // Each point's y interval is the x interval mapped through w = 3v − 1.
    let (xlo, ylo) = (col(&out, "points", "x_lo"), col(&out, "points", "y_lo"));
    for (x, y) in xlo.iter().zip(&ylo) {
        assert!((3.0 * x - 1.0 - y).abs() < 1e-9, "{x} → {y}");
    }
}

#[test]
fn rows_that_cannot_be_aligned_are_refused_with_the_fix() {
    // Ids differ between checkpoints.
    let mut inputs = probe_and_w2s(3, 20);
    let other = Arc::new(StringArray::from_iter_values(
        (1..21).map(|i| format!("t{i}")),
    ));
    let correct = Arc::new(BooleanArray::from(vec![true; 20]));
    inputs[5] = instance(
        "w2s",
        2,
        "predictions",
        vec![("id", other), ("correct", correct)],
    );
    let e = run(&request(&[], inputs.clone())).unwrap_err().to_string();
    assert!(
        e.contains("`predictions` tables of `w2s[step=0]` (20 rows) and `w2s[step=2]` (20 rows)")
            && e.contains("`t20` is in `w2s[step=2]` only")
            && e.contains("`bootstrap = 0`"),
        "{e}"
    );
    assert!(run(&request(&[("bootstrap", Value::Int(0))], inputs)).is_ok());
    // No ids and different row counts.
    let mut inputs = Vec::new();
    for (k, n) in [(0, 10), (1, 10), (2, 11)] {
        inputs.push(instance(
            "probe",
            k,
            "summary",
            vec![("best_accuracy", floats([0.6]))],
        ));
        let c = Arc::new(BooleanArray::from(vec![true; n]));
        inputs.push(instance("w2s", k, "predictions", vec![("correct", c)]));
    }
    let e = run(&request(&[], inputs)).unwrap_err().to_string();
    assert!(
        e.contains("(10 rows) and `w2s[step=2]` (11 rows) have different row counts"),
        "{e}"
    );
}

#[test]
fn without_a_bootstrap_the_interval_columns_are_nan() {
    // bootstrap = 0, and two fixed sides (one row each).
    let fixed: Vec<StageInput> = (0..4)
        .flat_map(|k| {
            [
                instance(
                    "probe",
                    k,
                    "summary",
                    vec![("best_accuracy", floats([k as f64]))],
                ),
                instance(
                    "w2s",
                    k,
                    "predictions",
                    vec![("correct", floats([0.5 + k as f64]))],
                ),
            ]
        })
        .collect();
    for req in [
        request(&[("bootstrap", Value::Int(0))], probe_and_w2s(4, 50)),
        request(&[], fixed),
    ] {
        let out = run(&req).unwrap();
        assert_eq!(col(&out, "correlation", "bootstrap"), [0.0]);
        assert!(!col(&out, "correlation", "pearson_r")[0].is_nan());
        for c in [
            "pearson_r_lo",
            "pearson_r_hi",
            "spearman_rho_lo",
            "spearman_rho_hi",
        ] {
            assert!(col(&out, "correlation", c)[0].is_nan(), "{c}");
        }
        for c in ["x_lo", "x_hi", "y_lo", "y_hi"] {
            assert!(col(&out, "points", c).iter().all(|v| v.is_nan()), "{c}");
        }
    }
}
