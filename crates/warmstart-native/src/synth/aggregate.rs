//! `aggregate`: gathers the instances of a sweep into tables whose columns are the sweep
//! coordinates.
//!
//! Inputs: any number of stage instances (typically a gathered `finetune`). For each input,
//! the table named `table` (default `trajectory`) is read. Output tables:
//! - `rows`: every row of every input's table, prefixed by `stage` (Utf8) and one column per
//!   sweep axis (Float64 for numeric coordinates, Boolean, else Utf8); only Float64, Int64,
//!   Boolean and Utf8 columns are carried (vectors are dropped);
//! - `summary` (when the table has `dist2`, `risk`, `weak_risk`, `weak_dist2`): one row per
//!   input: stage, coordinates, final_dist2, min_dist2, final_risk, min_risk, weak_risk,
//!   weak_dist2, w2sg (= final_risk < weak_risk), t_below (first `t` — or `step` — where
//!   dist2 < weak_dist2; NaN if never), t_back (first later point where dist2 ≥ weak_dist2
//!   again; NaN if never);
//! - `crossings` (when `axis` is set and `summary` exists): per group of the other
//!   coordinates, the linearly interpolated values of `axis` where final_risk − weak_risk
//!   changes sign: group, axis, crossing, to_success (true when W2SG holds above it);
//! - with `over = ["rep", …]`, the same tables reduced over those axes ([`super::reduce`]):
//!   `summary_stats` (per remaining coordinates: n and each column's mean, std, sem, min,
//!   max) and `rows_stats` (per remaining coordinates and time `t` — or `step` — when the
//!   rows have one: a trajectory's mean ± sem over seeds).
//!
//! Coordinate columns are Int64 for integer axes, Float64 for other numeric ones.

use std::collections::BTreeMap;

use arrow_array::{Array, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use warmstart_engine::{
    Determinism, EngineError, Extra, InputSpec, KindSpec, ParamSpec, ParamType, StageOutput,
    StageRequest, TableSpec, Value,
};

use super::common::{Col, batch, col_f64, table, with_run_summary};

pub fn spec() -> KindSpec {
    KindSpec {
        name: "aggregate".into(),
        doc: "Gather sweep instances: all rows with coordinates, per-instance final/min error and W2SG success, and crossing points along an axis.".into(),
        params: vec![
            ParamSpec::string("table", "Input table to gather.").default("trajectory"),
            ParamSpec::string("axis", "Sweep axis along which to locate W2SG crossings (\"\" = none).").default(""),
            ParamSpec::list("over", ParamType::Str, "Axes to reduce over (e.g. [\"rep\"]): adds summary_stats and rows_stats with mean, std, sem, min, max and n per remaining coordinates.")
                .default(Value::List(Vec::new())),
        ],
        determinism: Determinism::Deterministic,
        min_inputs: 1,
        max_inputs: None,
        reads: vec![InputSpec::new(
            "the table named by `table` (default `trajectory`)",
            &["finetune"],
            "Read from every gathered instance; its float64, int64, bool and utf8 columns are carried. With dist2, risk, weak_risk and weak_dist2 (a `finetune` trajectory) it also yields `summary`.",
        )],
        writes: vec![
            TableSpec::new("rows_stats", "Mean ± spread of `rows` over the `over` axes, per remaining coordinates and time (`t` or `step`).")
                .open("the remaining coordinates, `t`/`step`, `n`, and `<col>_mean`, `_std`, `_sem`, `_min`, `_max` per numeric column")
                .when("`over` is set"),
            TableSpec::new("rows", "Every row of every input's table.")
                .col("stage", "utf8", "The input's stage.")
                .extra(Extra::Coordinates)
                .extra(Extra::InputColumns { table_param: "table".into() }),
            TableSpec::new("summary_stats", "`summary` reduced over the `over` axes.")
                .open("the remaining coordinates, `n`, and `<col>_mean`, `_std`, `_sem`, `_min`, `_max` per numeric column")
                .when("`over` is set and the table is a trajectory"),
            with_run_summary(
                TableSpec::new("summary", "One row per input.")
                    .col("stage", "utf8", "")
                    .extra(Extra::Coordinates),
            )
                .col("t_below", "float64", "First time dist2 < weak_dist2 (NaN if never).")
                .col("t_back", "float64", "First later time dist2 ≥ weak_dist2 again (NaN if never).")
                .when("the table has dist2, risk, weak_risk and weak_dist2"),
            TableSpec::new("crossings", "Where final_risk − weak_risk changes sign along `axis`, per group of the other coordinates.")
                .col("group", "utf8", "The other coordinates, `a=1,b=2`.")
                .col("axis", "utf8", "")
                .col("crossing", "float64", "Linearly interpolated.")
                .col("to_success", "bool", "W2SG holds above the crossing.")
                .when("`axis` is set and `summary` is written"),
        ],
    }
}

/// The column form of a coordinate value.
fn coord_text(v: &Value) -> String {
    match v {
        Value::Str(s) => s.clone(),
        v => v.to_string(),
    }
}

/// One column per axis: Float64 if every value is numeric, Boolean if every value is a
/// boolean, else Utf8. `per_row[k]` = the coordinates of output row k.
fn coord_columns(axes: &[String], per_row: &[&[(String, Value)]]) -> Vec<(String, Col)> {
    axes.iter()
        .map(|axis| {
            let vals: Vec<Option<&Value>> = per_row
                .iter()
                .map(|c| c.iter().find(|(a, _)| a == axis).map(|(_, v)| v))
                .collect();
            let col = if vals.iter().all(|v| matches!(v, Some(Value::Int(_)))) {
                Col::I64(
                    vals.iter()
                        .map(|v| match v {
                            Some(Value::Int(i)) => *i,
                            _ => 0,
                        })
                        .collect(),
                )
            } else if vals.iter().all(|v| v.and_then(Value::as_f64).is_some()) {
                Col::F64(
                    vals.iter()
                        .map(|v| v.and_then(Value::as_f64).unwrap_or(f64::NAN))
                        .collect(),
                )
            } else if vals.iter().all(|v| v.and_then(Value::as_bool).is_some()) {
                Col::Bool(
                    vals.iter()
                        .map(|v| v.and_then(Value::as_bool).unwrap_or(false))
                        .collect(),
                )
            } else {
                Col::Str(
                    vals.iter()
                        .map(|v| v.map(coord_text).unwrap_or_default())
                        .collect(),
                )
            };
            (axis.clone(), col)
        })
        .collect()
}

fn scalar_columns(b: &RecordBatch) -> Vec<String> {
    b.schema()
        .fields()
        .iter()
        .filter(|f| {
            matches!(
                f.data_type(),
                arrow_schema::DataType::Float64
                    | arrow_schema::DataType::Int64
                    | arrow_schema::DataType::Boolean
                    | arrow_schema::DataType::Utf8
            )
        })
        .map(|f| f.name().clone())
        .collect()
}

fn append(col: &mut Col, arr: &dyn Array, name: &str) -> Result<(), EngineError> {
    let bad = || EngineError::Input(format!("column `{name}` changes type between inputs"));
    match col {
        Col::F64(v) => {
            let a = arr
                .as_any()
                .downcast_ref::<Float64Array>()
                .ok_or_else(bad)?;
            v.extend((0..a.len()).map(|i| if a.is_valid(i) { a.value(i) } else { f64::NAN }));
        }
        Col::I64(v) => {
            let a = arr.as_any().downcast_ref::<Int64Array>().ok_or_else(bad)?;
            v.extend((0..a.len()).map(|i| a.value(i)));
        }
        Col::Bool(v) => {
            let a = arr
                .as_any()
                .downcast_ref::<BooleanArray>()
                .ok_or_else(bad)?;
            v.extend((0..a.len()).map(|i| a.value(i)));
        }
        Col::Str(v) => {
            let a = arr.as_any().downcast_ref::<StringArray>().ok_or_else(bad)?;
            v.extend((0..a.len()).map(|i| a.value(i).to_string()));
        }
    }
    Ok(())
}

fn empty_like(arr: &dyn Array) -> Col {
    match arr.data_type() {
        arrow_schema::DataType::Float64 => Col::F64(Vec::new()),
        arrow_schema::DataType::Int64 => Col::I64(Vec::new()),
        arrow_schema::DataType::Boolean => Col::Bool(Vec::new()),
        _ => Col::Str(Vec::new()),
    }
}

struct Summary {
    final_dist2: f64,
    min_dist2: f64,
    final_risk: f64,
    min_risk: f64,
    weak_risk: f64,
    weak_dist2: f64,
    t_below: f64,
    t_back: f64,
}

fn summarize(b: &RecordBatch) -> Result<Option<Summary>, EngineError> {
    let has = |c: &str| b.column_by_name(c).is_some();
    if !(has("dist2") && has("risk") && has("weak_risk") && has("weak_dist2")) || b.num_rows() == 0
    {
        return Ok(None);
    }
    let dist2 = col_f64(b, "dist2")?;
    let risk = col_f64(b, "risk")?;
    let weak_risk = col_f64(b, "weak_risk")?[0];
    let weak_dist2 = col_f64(b, "weak_dist2")?[0];
    let time = if has("t") {
        col_f64(b, "t")?
    } else if has("step") {
        col_f64(b, "step")?
    } else {
        (0..b.num_rows()).map(|i| i as f64).collect()
    };
    let below = dist2.iter().position(|&x| x < weak_dist2);
    let back = below.and_then(|k| {
        dist2[k..]
            .iter()
            .position(|&x| x >= weak_dist2)
            .map(|j| k + j)
    });
    let n = dist2.len();
    let minf = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    Ok(Some(Summary {
        final_dist2: dist2[n - 1],
        min_dist2: minf(&dist2),
        final_risk: risk[n - 1],
        min_risk: minf(&risk),
        weak_risk,
        weak_dist2,
        t_below: below.map_or(f64::NAN, |k| time[k]),
        t_back: back.map_or(f64::NAN, |k| time[k]),
    }))
}

/// The `over` axes, each checked to be a coordinate of the inputs.
fn over_axes(req: &StageRequest, axes: &[String]) -> Result<Vec<String>, EngineError> {
    let Some(Value::List(list)) = req.opt("over") else {
        return Ok(Vec::new());
    };
    let mut over = Vec::new();
    for v in list {
        let name = match v {
            Value::Str(s) => s.clone(),
            other => other.to_string(),
        };
        if !axes.contains(&name) {
            return Err(EngineError::param(
                "over",
                format!(
                    "`{name}` is not a coordinate of the gathered instances (they have: {}); gather it first (`gather = [\"{name}\", …]`)",
                    if axes.is_empty() {
                        "none".to_string()
                    } else {
                        axes.join(", ")
                    }
                ),
            ));
        }
        over.push(name);
    }
    Ok(over)
}

pub fn run(req: &StageRequest) -> Result<StageOutput, EngineError> {
    let name = req.str("table")?;
    let mut axes: Vec<String> = Vec::new();
    for input in &req.inputs {
        for (a, _) in &input.coords {
            if !axes.contains(a) {
                axes.push(a.clone());
            }
        }
    }
    let inputs: Vec<(&warmstart_engine::StageInput, &RecordBatch)> = req
        .inputs
        .iter()
        .filter_map(|i| i.table(Some(name)).map(|t| (i, t)))
        .collect();
    if inputs.is_empty() {
        return Err(EngineError::Input(format!("no input has a `{name}` table")));
    }
    // rows
    let cols = scalar_columns(inputs[0].1);
    let mut data: Vec<Col> = cols
        .iter()
        .map(|c| {
            empty_like(
                inputs[0]
                    .1
                    .column_by_name(c)
                    .map(|a| a.as_ref())
                    .unwrap_or(&Float64Array::from(Vec::<f64>::new())),
            )
        })
        .collect();
    let mut row_coords: Vec<&[(String, Value)]> = Vec::new();
    let mut stages = Vec::new();
    for (input, t) in &inputs {
        for (c, col) in cols.iter().zip(data.iter_mut()) {
            let arr = t.column_by_name(c).ok_or_else(|| {
                EngineError::Input(format!("input `{}` lacks column `{c}`", input.stage))
            })?;
            append(col, arr.as_ref(), c)?;
        }
        for _ in 0..t.num_rows() {
            row_coords.push(&input.coords);
            stages.push(input.stage.clone());
        }
    }
    let mut rows_cols = vec![("stage".to_string(), Col::Str(stages))];
    rows_cols.extend(coord_columns(&axes, &row_coords));
    rows_cols.extend(
        cols.into_iter()
            .zip(data)
            .filter(|(c, _)| !axes.contains(c) && c != "stage"),
    );
    let mut out = StageOutput::default();
    let over = over_axes(req, &axes)?;
    let rows_batch = batch(rows_cols)?;
    if !over.is_empty() {
        let time = ["t", "step"]
            .into_iter()
            .find(|c| rows_batch.column_by_name(c).is_some());
        let mut group: Vec<String> = axes.iter().filter(|a| !over.contains(a)).cloned().collect();
        group.extend(time.map(str::to_string));
        let mut drop = over.clone();
        drop.extend(["stage", "t", "step"].map(String::from));
        out.push(
            "rows_stats",
            super::reduce::reduce(&rows_batch, &group, &drop)?,
        );
    }
    out.push("rows", rows_batch);

    // summary
    let mut sums = Vec::new();
    for (input, t) in &inputs {
        match summarize(t)? {
            Some(s) => sums.push((*input, s)),
            None => {
                sums.clear();
                break;
            }
        }
    }
    if sums.is_empty() {
        return Ok(out);
    }
    let coords: Vec<&[(String, Value)]> = sums.iter().map(|(i, _)| i.coords.as_slice()).collect();
    let f = |g: fn(&Summary) -> f64| Col::F64(sums.iter().map(|(_, s)| g(s)).collect());
    let mut cols = vec![(
        "stage".to_string(),
        Col::Str(sums.iter().map(|(i, _)| i.stage.clone()).collect()),
    )];
    cols.extend(coord_columns(&axes, &coords));
    for (n, c) in [
        ("final_dist2", f(|s| s.final_dist2)),
        ("min_dist2", f(|s| s.min_dist2)),
        ("final_risk", f(|s| s.final_risk)),
        ("min_risk", f(|s| s.min_risk)),
        ("weak_risk", f(|s| s.weak_risk)),
        ("weak_dist2", f(|s| s.weak_dist2)),
        (
            "w2sg",
            Col::Bool(
                sums.iter()
                    .map(|(_, s)| s.final_risk < s.weak_risk)
                    .collect(),
            ),
        ),
        ("t_below", f(|s| s.t_below)),
        ("t_back", f(|s| s.t_back)),
    ] {
        cols.push((n.to_string(), c));
    }
    let summary = batch(cols)?;
    if !over.is_empty() {
        let group: Vec<String> = axes.iter().filter(|a| !over.contains(a)).cloned().collect();
        let mut drop = over.clone();
        drop.push("stage".into());
        out.push(
            "summary_stats",
            super::reduce::reduce(&summary, &group, &drop)?,
        );
    }
    out.push("summary", summary);

    // crossings
    let axis = req.str("axis")?;
    if !axis.is_empty() {
        let mut groups: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
        for (input, s) in &sums {
            let x = input.coord(axis).and_then(Value::as_f64).ok_or_else(|| {
                EngineError::param(
                    "axis",
                    format!("input `{}` has no numeric coordinate `{axis}`", input.stage),
                )
            })?;
            let key: Vec<String> = input
                .coords
                .iter()
                .filter(|(a, _)| a != axis)
                .map(|(a, v)| format!("{a}={}", coord_text(v)))
                .collect();
            groups
                .entry(key.join(","))
                .or_default()
                .push((x, s.final_risk - s.weak_risk));
        }
        let (mut g, mut xs, mut up) = (Vec::new(), Vec::new(), Vec::new());
        for (key, mut pts) in groups {
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            for w in pts.windows(2) {
                let ((x0, s0), (x1, s1)) = (w[0], w[1]);
                if (s0 < 0.0) != (s1 < 0.0) {
                    g.push(key.clone());
                    xs.push(x0 + (x1 - x0) * s0 / (s0 - s1));
                    up.push(s1 < 0.0);
                }
            }
        }
        let n = g.len();
        out.push(
            "crossings",
            table(vec![
                ("group", Col::Str(g)),
                ("axis", Col::Str(vec![axis.to_string(); n])),
                ("crossing", Col::F64(xs)),
                ("to_success", Col::Bool(up)),
            ])?,
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::common::{col_str, testing};

    fn traj(dist2: &[f64], risk: &[f64]) -> StageOutput {
        let n = dist2.len();
        let t = table(vec![
            ("step", Col::I64((0..n as i64).collect())),
            ("t", Col::F64((0..n).map(|i| i as f64).collect())),
            ("dist2", Col::F64(dist2.to_vec())),
            ("risk", Col::F64(risk.to_vec())),
            ("weak_risk", Col::F64(vec![1.0; n])),
            ("weak_dist2", Col::F64(vec![0.8; n])),
        ])
        .unwrap();
        let mut o = StageOutput::default();
        o.push("trajectory", t);
        o
    }

    #[test]
    fn summary_and_crossings() {
        let inputs = vec![
            testing::input(
                "ft",
                traj(&[0.8, 0.7, 0.9], &[1.0, 0.9, 1.2]),
                vec![("alpha".into(), Value::Float(0.1))],
            ),
            testing::input(
                "ft",
                traj(&[0.8, 0.6, 0.7], &[1.0, 0.7, 0.8]),
                vec![("alpha".into(), Value::Float(0.3))],
            ),
        ];
        let req = testing::request(spec(), &[("axis", Value::Str("alpha".into()))], inputs);
        let out = run(&req).unwrap();
        assert_eq!(testing::table(&out, "rows").num_rows(), 6);
        let s = testing::table(&out, "summary");
        assert_eq!(col_f64(s, "alpha").unwrap(), vec![0.1, 0.3]);
        assert_eq!(col_f64(s, "min_dist2").unwrap(), vec![0.7, 0.6]);
        assert_eq!(col_f64(s, "t_below").unwrap(), vec![1.0, 1.0]);
        let back = col_f64(s, "t_back").unwrap();
        assert_eq!(back[0], 2.0);
        assert!(back[1].is_nan());
        let c = testing::table(&out, "crossings");
        // s = final_risk − weak = 0.2 at α=0.1 and −0.2 at α=0.3 → crossing at 0.2.
        let x = col_f64(c, "crossing").unwrap();
        assert_eq!(x.len(), 1);
        assert!((x[0] - 0.2).abs() < 1e-12);
        assert_eq!(col_str(c, "axis").unwrap(), vec!["alpha"]);
    }

    #[test]
    fn over_reduces_seeds_and_integer_axes_stay_integers() {
        let at = |alpha: f64, rep: i64| {
            vec![
                ("alpha".into(), Value::Float(alpha)),
                ("rep".into(), Value::Int(rep)),
            ]
        };
        let inputs = vec![
            testing::input("ft", traj(&[0.8, 0.6], &[1.0, 0.9]), at(0.1, 0)),
            testing::input("ft", traj(&[0.8, 0.4], &[1.0, 0.7]), at(0.1, 1)),
            testing::input("ft", traj(&[0.8, 0.9], &[1.0, 1.2]), at(0.3, 0)),
            testing::input("ft", traj(&[0.8, 0.7], &[1.0, 1.1]), at(0.3, 1)),
        ];
        let over = Value::List(vec![Value::Str("rep".into())]);
        let req = testing::request(spec(), &[("over", over)], inputs.clone());
        let out = run(&req).unwrap();
        let rows = testing::table(&out, "rows");
        assert_eq!(
            rows.column_by_name("rep").unwrap().data_type(),
            &arrow_schema::DataType::Int64
        );
        let s = testing::table(&out, "summary_stats");
        assert_eq!(col_f64(s, "alpha").unwrap(), vec![0.1, 0.3]);
        let mean = col_f64(s, "final_dist2_mean").unwrap();
        assert!((mean[0] - 0.5).abs() < 1e-12 && (mean[1] - 0.8).abs() < 1e-12);
        let sem = col_f64(s, "final_dist2_sem").unwrap();
        // std of {0.6, 0.4} = √0.02; sem = std/√2 = 0.1.
        assert!((sem[0] - 0.1).abs() < 1e-12, "{sem:?}");
        assert_eq!(col_f64(s, "w2sg_mean").unwrap(), vec![1.0, 0.0]);
        assert!(s.column_by_name("rep").is_none());
        // Trajectories: mean over seeds per (alpha, t).
        let r = testing::table(&out, "rows_stats");
        assert_eq!(r.num_rows(), 4);
        assert_eq!(col_f64(r, "dist2_mean").unwrap()[1], 0.5);
        // An axis the inputs do not have is a param error that names the ones they do.
        let bad = Value::List(vec![Value::Str("seed".into())]);
        let err = run(&testing::request(spec(), &[("over", bad)], inputs)).unwrap_err();
        assert!(err.to_string().contains("alpha, rep"), "{err}");
    }

    #[test]
    fn no_matching_table_is_an_error() {
        let req = testing::request(
            spec(),
            &[("table", Value::Str("nope".into()))],
            vec![testing::input("ft", traj(&[1.0], &[1.0]), vec![])],
        );
        assert!(run(&req).is_err());
    }
}
