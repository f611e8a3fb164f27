//! Unit tests of `pgr`: the point estimates, the paired bootstrap and its refusals.

use super::*;
use arrow_array::{BooleanArray, StringArray};
use warmstart_engine::{NamedTable, Params, Value};

use crate::linear::SplitMix;

/// A `reward-head`-like output: `metrics` (accuracy = mean of `correct`) and `predictions`.
fn head(stage: &str, ids: &[String], correct: &[bool]) -> StageInput {
    let acc = correct.iter().filter(|c| **c).count() as f64 / correct.len().max(1) as f64;
    let metrics = RecordBatch::try_from_iter(vec![(
        "accuracy",
        Arc::new(Float64Array::from(vec![acc])) as ArrayRef,
    )])
    .unwrap();
    let preds = RecordBatch::try_from_iter(vec![
        (
            "id",
            Arc::new(StringArray::from_iter_values(ids)) as ArrayRef,
        ),
        (
            "correct",
            Arc::new(BooleanArray::from(correct.to_vec())) as ArrayRef,
        ),
    ])
    .unwrap();
    StageInput {
        stage: stage.into(),
        coords: vec![],
        tables: vec![
            NamedTable::new("metrics", metrics),
            NamedTable::new("predictions", preds),
        ],
    }
}

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("t{i}")).collect()
}

/// `n` pairs, each correct with probability `p` (seeded).
fn coin(n: usize, p: f64, seed: u64) -> Vec<bool> {
    let mut rng = SplitMix::new(seed);
    (0..n)
        .map(|_| ((rng.next_u64() >> 11) as f64) < p * (1u64 << 53) as f64)
        .collect()
}

fn request(set: &[(&str, Value)], inputs: Vec<StageInput>, seed: u64) -> StageRequest {
    let spec = spec();
    let mut params = Params::new();
    for p in &spec.params {
        params.insert(p.name.clone(), p.default.clone().unwrap());
    }
    for (k, v) in set {
        let s = spec.params.iter().find(|p| p.name == *k).unwrap();
        params.insert(k.to_string(), s.check(v).unwrap());
    }
    StageRequest {
        stage: "pgr".into(),
        coords: vec![],
        kind: "pgr".into(),
        params,
        seed,
        inputs,
        threads: 1,
        scratch_dir: None,
        base_dir: None,
    }
}

/// Column `name` of the output's one row.
fn cell(out: &StageOutput, name: &str) -> f64 {
    let t = &out.tables[0].batch;
    numbers(t, name).unwrap()[0]
}

/// The three heads of a W2S setting on `n` pairs: the student fixes some of the weak
/// head's mistakes, the ceiling more (so the heads are strongly paired).
fn three(n: usize) -> Vec<StageInput> {
    let id = ids(n);
    let weak = coin(n, 0.6, 1);
    let fix_some = coin(n, 0.4, 2);
    let fix_more = coin(n, 0.8, 3);
    let w2s: Vec<bool> = weak.iter().zip(&fix_some).map(|(w, f)| *w || *f).collect();
    let ceiling: Vec<bool> = w2s.iter().zip(&fix_more).map(|(w, f)| *w || *f).collect();
    vec![
        head("weak", &id, &weak),
        head("w2s", &id, &w2s),
        head("ceiling", &id, &ceiling),
    ]
}

#[test]
fn the_output_matches_its_declaration_and_the_point_estimates_stay() {
    let out = run(&request(&[], three(300), 4)).unwrap();
    let declared = &spec().writes[0];
    warmstart_engine::tables_spec::check_output(declared, &out.tables[0].batch).unwrap();
    let (w, s, c) = (cell(&out, "weak"), cell(&out, "w2s"), cell(&out, "ceiling"));
    assert_eq!(cell(&out, "pgr"), (s - w) / (c - w));
    assert_eq!(cell(&out, "n_pairs"), 300.0);
    assert_eq!(cell(&out, "bootstrap"), 1000.0);
    assert_eq!(cell(&out, "confidence"), 0.95);
    for (name, point) in [
        ("weak", w),
        ("w2s", s),
        ("ceiling", c),
        ("pgr", (s - w) / (c - w)),
    ] {
        let (lo, hi) = (
            cell(&out, &format!("{name}_lo")),
            cell(&out, &format!("{name}_hi")),
        );
        assert!(lo < point && point < hi, "{name}: {lo} < {point} < {hi}");
    }
}

#[test]
fn the_same_seed_gives_the_same_intervals_and_another_seed_others() {
    let ends = |seed: u64| {
        let out = run(&request(&[], three(200), seed)).unwrap();
        INTERVALS.map(|(name, _)| cell(&out, name).to_bits())
    };
    assert_eq!(ends(9), ends(9));
    assert_ne!(ends(9), ends(10));
}

#[test]
fn a_large_sample_gives_the_normal_approximations_width() {
    let n = 4000;
    let correct: Vec<f64> = coin(n, 0.7, 5)
        .iter()
        .map(|&c| f64::from(u8::from(c)))
        .collect();
    let p = correct.iter().sum::<f64>() / n as f64;
    let s = Settings {
        resamples: 2000,
        confidence: 0.95,
        seed: 11,
    };
    let iv = paired_bootstrap([&correct, &correct, &correct], &s);
    let width = iv.weak.1 - iv.weak.0;
    let normal = 2.0 * 1.96 * (p * (1.0 - p) / n as f64).sqrt();
    assert!(
        (width / normal - 1.0).abs() < 0.1,
        "width {width} vs normal approximation {normal}"
    );
    // The same indices for all three: identical columns give identical intervals, and a
    // zero gap in every resample leaves PGR without an interval.
    assert_eq!(iv.weak, iv.w2s);
    assert_eq!(iv.weak, iv.ceiling);
    assert!(iv.pgr.0.is_nan() && iv.pgr.1.is_nan());
    assert_eq!((iv.n_pairs, iv.resamples), (n, 2000));
}

#[test]
fn pairing_narrows_the_pgr_interval() {
    let inputs = three(400);
    let c = aligned_correct(&inputs).unwrap().unwrap();
    let s = Settings {
        resamples: 1000,
        confidence: 0.9,
        seed: 3,
    };
    let paired = paired_bootstrap([&c[0], &c[1], &c[2]], &s);
    // The same resamples with independent indices per head.
    let mut rngs = [Resampler::new(1), Resampler::new(2), Resampler::new(3)];
    let mut idx = Vec::new();
    let mut unpaired: Vec<f64> = (0..s.resamples)
        .map(|_| {
            let a: [f64; 3] = std::array::from_fn(|k| {
                rngs[k].draw(400, &mut idx);
                mean_at(&c[k], &idx)
            });
            pgr(a[0], a[1], a[2])
        })
        .collect();
    let (lo, hi) = percentile_interval(&mut unpaired, s.confidence);
    let width = paired.pgr.1 - paired.pgr.0;
    assert!(
        width < 0.75 * (hi - lo),
        "paired {:?} vs independent ({lo}, {hi})",
        paired.pgr
    );
}

#[test]
fn different_test_pairs_are_refused_with_the_fix() {
    let mut inputs = three(50);
    let other = ids(51);
    inputs[2] = head("ceiling", &other[1..], &coin(50, 0.9, 7));
    let e = run(&request(&[], inputs.clone(), 4))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`weak` (50 rows) and `ceiling` (50 rows)")
            && e.contains("`t50` is in `ceiling` only")
            && e.contains("same split")
            && e.contains("`bootstrap = 0`"),
        "{e}"
    );
    // With the bootstrap off, no alignment is needed.
    let out = run(&request(&[("bootstrap", Value::Int(0))], inputs, 4)).unwrap();
    assert!(!cell(&out, "pgr").is_nan());
}

#[test]
fn without_a_bootstrap_the_interval_columns_are_nan() {
    let no_preds = || {
        three(30)
            .into_iter()
            .map(|mut i| {
                i.tables.retain(|t| t.name == "metrics");
                i
            })
            .collect::<Vec<_>>()
    };
    let cases = [
        request(&[("bootstrap", Value::Int(0))], three(30), 4),
        request(&[], no_preds(), 4),
    ];
    for req in &cases {
        let out = run(req).unwrap();
        warmstart_engine::tables_spec::check_output(&spec().writes[0], &out.tables[0].batch)
            .unwrap();
        assert_eq!(cell(&out, "bootstrap"), 0.0);
        assert_eq!(cell(&out, "n_pairs"), 0.0);
        assert!(!cell(&out, "pgr").is_nan());
        for (name, _) in INTERVALS {
            assert!(cell(&out, name).is_nan(), "{name}");
        }
    }
}

#[test]
fn an_empty_gap_is_nan() {
    assert!(pgr(0.6, 0.66, 0.6).is_nan());
    assert!((pgr(0.6, 0.66, 0.7) - 0.6).abs() < 1e-12);
}
