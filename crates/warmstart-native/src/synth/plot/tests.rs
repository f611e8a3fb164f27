//! Unit tests of `plot`.

use std::collections::BTreeMap;

use super::data::{YErr, error_params, log_scale_x};
use super::*;
use crate::synth::common::{Col, table, testing};
use warmstart_engine::{NamedTable, RecordBatch, StageInput, Value, read_files_table};

fn input(r0: f64) -> StageInput {
    let t = table(vec![
        ("t", Col::F64(vec![0.0, 1.0, 2.0, 3.0])),
        ("dist2", Col::F64(vec![0.8, 0.7 - r0 * 0.1, 0.75, 0.79])),
        ("weak_dist2", Col::F64(vec![0.8; 4])),
    ])
    .unwrap();
    let mut o = StageOutput::default();
    o.push("trajectory", t);
    testing::input("ft", o, vec![("r0".into(), Value::Float(r0))])
}

#[test]
fn a_log_x_axis_keeps_zero_at_half_the_smallest_step() {
    let mut map = BTreeMap::new();
    map.insert("a".to_string(), vec![(0.0, 1.0), (1.0, 2.0), (1024.0, 3.0)]);
    map.insert("b".to_string(), vec![(4.0, 1.0)]);
    assert_eq!(log_scale_x(&mut map), Some(0.5));
    assert_eq!(
        map["a"],
        vec![(0.5f64.log10(), 1.0), (0.0, 2.0), (1024f64.log10(), 3.0)]
    );
    assert_eq!(map["b"], vec![(4f64.log10(), 1.0)]);
    // No zero: nothing moved, no note.
    let mut map = BTreeMap::new();
    map.insert("a".to_string(), vec![(10.0, 1.0)]);
    assert_eq!(log_scale_x(&mut map), None);
    assert_eq!(map["a"], vec![(1.0, 1.0)]);
}

#[test]
fn error_bands_and_a_baseline_that_varies_with_x() {
    let t = table(vec![
        ("rho", Col::F64(vec![0.3, 0.6, 0.9])),
        ("err_mean", Col::F64(vec![1.2, 0.8, 0.3])),
        ("err_sem", Col::F64(vec![0.1, 0.05, 0.02])),
        ("weak", Col::F64(vec![1.4, 0.8, 0.2])),
    ])
    .unwrap();
    let mut o = StageOutput::default();
    o.push("summary_stats", t);
    let params = |y_err: &str| {
        vec![
            ("table", Value::Str("summary_stats".into())),
            ("x", Value::Str("rho".into())),
            ("y", Value::Str("err_mean".into())),
            ("y_err", Value::Str(y_err.into())),
            ("baseline", Value::Str("weak".into())),
        ]
    };
    let inputs = || vec![testing::input("s", o.clone(), vec![])];
    let req = testing::request(spec(), &params("err_sem"), inputs());
    let data = collect(&req).unwrap();
    let expect = [(0.3, 1.2, 0.1), (0.6, 0.8, 0.05), (0.9, 0.3, 0.02)];
    for (got, (x, y, e)) in data.bands[0].iter().zip(expect) {
        assert_eq!(got.0, x);
        assert!(
            (got.1 - (y - e)).abs() < 1e-12 && (got.2 - (y + e)).abs() < 1e-12,
            "{got:?}"
        );
    }
    assert_eq!(
        data.baseline_curve,
        vec![(0.3, 1.4), (0.6, 0.8), (0.9, 0.2)]
    );
    assert_eq!(
        data.baseline, None,
        "a varying baseline is a curve, not a line"
    );
    let svg = String::from_utf8(
        read_files_table(&run(&req).unwrap().tables[0].batch).unwrap()[0]
            .1
            .clone(),
    )
    .unwrap();
    assert!(svg.contains("<polygon"), "the band is drawn");
    // Two error columns for one y column is an error that says what to give.
    let bad = testing::request(spec(), &params("err_sem, weak"), inputs());
    let e = collect(&bad).err().unwrap().to_string();
    assert!(e.contains("one error column per y column"), "{e}");
}

#[test]
fn renders_svg_and_png() {
    let req = testing::request(
        spec(),
        &[
            ("table", Value::Str("trajectory".into())),
            ("x", Value::Str("t".into())),
            ("y", Value::Str("dist2".into())),
            ("series", Value::Str("r0".into())),
            ("baseline", Value::Str("weak_dist2".into())),
            ("log_x", Value::Bool(true)),
            ("title", Value::Str("Exp 2".into())),
            ("name", Value::Str("exp2".into())),
        ],
        vec![input(0.3), input(0.6)],
    );
    let out = run(&req).unwrap();
    let files = read_files_table(&out.tables[0].batch).unwrap();
    assert_eq!(files[0].0, "exp2.svg");
    let svg = String::from_utf8(files[0].1.clone()).unwrap();
    assert!(svg.contains("<svg") && svg.contains("r0 = 0.6") && svg.contains("Exp 2"));
    assert_eq!(files[1].0, "exp2.png");
    assert_eq!(&files[1].1[..4], b"\x89PNG");
    if let Ok(dir) = std::env::var("WARMSTART_PLOT_DUMP") {
        std::fs::write(format!("{dir}/exp2.png"), &files[1].1).unwrap();
    }
    // The bundled font is one plotters' ab_glyph backend accepts (else text is lost).
    assert!(plotters::style::register_font("check", FontStyle::Normal, FONT).is_ok());
}

#[test]
fn unknown_column_is_an_error() {
    let req = testing::request(
        spec(),
        &[
            ("table", Value::Str("trajectory".into())),
            ("x", Value::Str("nope".into())),
            ("y", Value::Str("dist2".into())),
        ],
        vec![input(0.3)],
    );
    assert!(run(&req).is_err());
}

#[test]
fn several_y_columns_are_several_series() {
    let req = testing::request(
        spec(),
        &[
            ("table", Value::Str("trajectory".into())),
            ("x", Value::Str("t".into())),
            ("y", Value::Str("dist2, weak_dist2".into())),
            ("name", Value::Str("two".into())),
        ],
        vec![input(0.3)],
    );
    let files = read_files_table(&run(&req).unwrap().tables[0].batch).unwrap();
    let svg = String::from_utf8(files[0].1.clone()).unwrap();
    // The y label names both columns once; the legend names each series again.
    assert_eq!(svg.matches("weak_dist2").count(), 2, "{svg}");
    assert!(svg.matches("dist2").count() >= 4, "{svg}");
}

#[test]
fn least_squares_recovers_a_line_and_refuses_a_point() {
    let (a, b) = least_squares(&[(0.0, 1.0), (1.0, 3.0), (2.0, 5.0)]).unwrap();
    assert!((a - 1.0).abs() < 1e-12 && (b - 2.0).abs() < 1e-12);
    assert!(least_squares(&[(1.0, 1.0), (1.0, 2.0)]).is_none());
}

#[test]
fn scatter_with_fit_and_annotation() {
    use arrow_array::Float64Array;
    use arrow_schema::{DataType, Field, Schema};
    use std::sync::Arc;
    let f = |names: &[&str], cols: Vec<Vec<f64>>| {
        let schema = Arc::new(Schema::new(
            names
                .iter()
                .map(|n| Field::new(*n, DataType::Float64, false))
                .collect::<Vec<_>>(),
        ));
        let arrays = cols
            .into_iter()
            .map(|c| Arc::new(Float64Array::from(c)) as arrow_array::ArrayRef)
            .collect();
        RecordBatch::try_new(schema, arrays).unwrap()
    };
    let inp = StageInput {
        stage: "corr".into(),
        coords: vec![],
        tables: vec![
            NamedTable::new(
                "points",
                f(&["x", "y"], vec![vec![0.1, 0.2, 0.3], vec![0.5, 0.7, 0.8]]),
            ),
            NamedTable::new(
                "correlation",
                f(&["pearson_r", "pearson_p"], vec![vec![0.98], vec![0.0123]]),
            ),
        ],
    };
    let req = testing::request(
        spec(),
        &[
            ("table", Value::Str("points".into())),
            ("x", Value::Str("x".into())),
            ("y", Value::Str("y".into())),
            ("points", Value::Bool(true)),
            ("fit", Value::Bool(true)),
            ("annotate", Value::Str("correlation".into())),
            ("title", Value::Str("probe vs w2s".into())),
        ],
        vec![inp],
    );
    let files = read_files_table(&run(&req).unwrap().tables[0].batch).unwrap();
    let svg = String::from_utf8(files[0].1.clone()).unwrap();
    assert!(
        svg.contains("pearson_r = 0.980") && svg.contains("pearson_p = 0.0123"),
        "{svg}"
    );
    assert!(svg.matches("<circle").count() >= 3, "three markers");
}

/// A correlate-like `points` table with intervals (the last point's are NaN: no bootstrap
/// there) and a `correlation` table.
fn intervals_input() -> StageInput {
    let nan = f64::NAN;
    let points = table(vec![
        ("x", Col::F64(vec![0.6, 0.7, 0.8])),
        ("y", Col::F64(vec![0.55, 0.62, 0.71])),
        ("x_lo", Col::F64(vec![0.58, 0.69, nan])),
        ("x_hi", Col::F64(vec![0.63, 0.72, nan])),
        ("y_lo", Col::F64(vec![0.50, 0.61, nan])),
        ("y_hi", Col::F64(vec![0.56, 0.66, nan])),
    ])
    .unwrap();
    let correlation = table(vec![
        ("n", Col::I64(vec![3])),
        ("pearson_r", Col::F64(vec![0.98])),
        ("pearson_r_lo", Col::F64(vec![0.912])),
        ("pearson_r_hi", Col::F64(vec![0.9951])),
        ("spearman_rho", Col::F64(vec![1.0])),
        ("spearman_rho_lo", Col::F64(vec![nan])),
        ("spearman_rho_hi", Col::F64(vec![nan])),
        ("ok", Col::Bool(vec![true])),
    ])
    .unwrap();
    let mut o = StageOutput::default();
    o.push("points", points).push("correlation", correlation);
    testing::input("corr", o, vec![])
}

fn scatter(extra: &[(&str, Value)]) -> StageRequest {
    let mut set = vec![
        ("table", Value::Str("points".into())),
        ("x", Value::Str("x".into())),
        ("y", Value::Str("y".into())),
        ("points", Value::Bool(true)),
    ];
    set.extend(extra.iter().cloned());
    testing::request(spec(), &set, vec![intervals_input()])
}

#[test]
fn interval_ends_draw_asymmetric_bars_both_ways_and_skip_nan() {
    let s = |v: &str| Value::Str(v.into());
    let req = scatter(&[
        ("y_lo", s("y_lo")),
        ("y_hi", s("y_hi")),
        ("x_lo", s("x_lo")),
        ("x_hi", s("x_hi")),
    ]);
    let data = collect(&req).unwrap();
    assert_eq!(data.bands, [vec![(0.6, 0.50, 0.56), (0.7, 0.61, 0.66)]]);
    assert_eq!(data.xbars, [vec![(0.55, 0.58, 0.63), (0.62, 0.69, 0.72)]]);
    assert_eq!(
        data.series[0].1.len(),
        3,
        "the point without an interval stays"
    );
    let files = read_files_table(&run(&req).unwrap().tables[0].batch).unwrap();
    let svg = String::from_utf8(files[0].1.clone()).unwrap();
    assert!(svg.matches("<circle").count() >= 3);
    // On a line plot the y interval is a shaded band.
    let mut req = req;
    req.params.insert("points".into(), Value::Bool(false));
    let files = read_files_table(&run(&req).unwrap().tables[0].batch).unwrap();
    assert!(String::from_utf8_lossy(&files[0].1).contains("<polygon"));
}

#[test]
fn error_params_that_do_not_fit_together_say_what_to_do() {
    let s = |v: &str| Value::Str(v.into());
    let err = |extra: &[(&str, Value)]| collect(&scatter(extra)).err().unwrap().to_string();
    let e = err(&[
        ("y_err", s("y_hi")),
        ("y_lo", s("y_lo")),
        ("y_hi", s("y_hi")),
    ]);
    assert!(
        e.starts_with("param `y_err`: is set together with `y_lo`/`y_hi`")
            && e.contains("not both"),
        "{e}"
    );
    let e = err(&[("y_lo", s("y_lo"))]);
    assert_eq!(
        e,
        "param `y_hi`: `y_lo` is set but `y_hi` is not: an interval needs both ends, one column \
         each per y column, in the same order (or set neither)"
    );
    let e = err(&[("x_hi", s("x_hi"))]);
    assert!(
        e.starts_with("param `x_lo`: `x_hi` is set but `x_lo` is not"),
        "{e}"
    );
    let e = err(&[("y_lo", s("y_lo, x_lo")), ("y_hi", s("y_hi, x_hi"))]);
    assert_eq!(
        e,
        "param `y_lo`: names 2 column(s) for 1 y column(s); give one lower-end column per y \
         column, in the same order"
    );
    let e = err(&[("x_lo", s("x_lo, y_lo")), ("x_hi", s("x_hi"))]);
    assert!(e.starts_with("param `x_lo`: names several columns"), "{e}");
    // A missing column is an error about the param that names it.
    let e = err(&[("y_lo", s("y_low")), ("y_hi", s("y_hi"))]);
    assert!(e.starts_with("param `y_lo`: missing column `y_low`"), "{e}");
    // Two y columns with their ends.
    let two = testing::request(
        spec(),
        &[
            ("table", s("points")),
            ("x", s("x")),
            ("y", s("y, x")),
            ("y_lo", s("y_lo, x_lo")),
            ("y_hi", s("y_hi, x_hi")),
        ],
        vec![intervals_input()],
    );
    let e = error_params(&two, 2).unwrap();
    assert_eq!(
        e.y,
        YErr::Ends(
            vec!["y_lo".into(), "x_lo".into()],
            vec!["y_hi".into(), "x_hi".into()]
        )
    );
    assert_eq!(e.x, None);
}

#[test]
fn an_annotation_shows_intervals_and_wraps() {
    let req = scatter(&[("annotate", Value::Str("correlation".into()))]);
    let data = collect(&req).unwrap();
    assert_eq!(
        data.note,
        [
            "n = 3",
            "pearson_r = 0.980 [0.912, 0.995]",
            "spearman_rho = 1",
        ]
    );
    assert_eq!(
        wrap(&data.note, 40),
        [
            "n = 3, pearson_r = 0.980 [0.912, 0.995],",
            "spearman_rho = 1"
        ]
    );
    assert_eq!(wrap(&data.note, 200).len(), 1);
    let files = read_files_table(&run(&req).unwrap().tables[0].batch).unwrap();
    let svg = String::from_utf8(files[0].1.clone()).unwrap();
    assert!(svg.contains("pearson_r = 0.980 [0.912, 0.995]"), "{svg}");
}

#[test]
fn a_tick_at_rounding_noise_around_zero_reads_zero() {
    assert_eq!(super::tick(-2.2e-16, false, 2.0), "0");
    assert_eq!(super::tick(0.25, false, 2.0), "0.25");
    // On an axis of tiny values a tiny tick is a value, not noise.
    assert_eq!(super::tick(1e-13, false, 1e-12), "1.0e-13");
}
