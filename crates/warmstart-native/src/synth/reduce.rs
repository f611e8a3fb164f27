//! Reducing a gathered table over sweep axes (`aggregate`'s `over`): for each group of the
//! remaining coordinates (and, for trajectories, the time column), every numeric column
//! becomes `<col>_mean`, `<col>_std` (sample, n − 1), `<col>_sem` (std / √n), `<col>_min`,
//! `<col>_max`, plus one `n` (rows in the group). NaN cells are left out of a column's
//! statistics (a `t_below` that never happened is NaN). A boolean column counts true as 1,
//! so its mean is the fraction of the group where it held (e.g. W2SG over seeds).
//!
//! Groups keep the order of their first row and the group columns keep their type, so an
//! integer axis stays an integer column.

use std::collections::HashMap;

use arrow_array::{Array, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::DataType;
use warmstart_engine::EngineError;

use super::common::{Col, batch};

/// A cell of a group column, as a hashable key.
fn key_cell(a: &dyn Array, i: usize) -> String {
    if a.is_null(i) {
        return "\0null".into();
    }
    if let Some(x) = a.as_any().downcast_ref::<Float64Array>() {
        return x.value(i).to_bits().to_string();
    }
    if let Some(x) = a.as_any().downcast_ref::<Int64Array>() {
        return x.value(i).to_string();
    }
    if let Some(x) = a.as_any().downcast_ref::<BooleanArray>() {
        return x.value(i).to_string();
    }
    if let Some(x) = a.as_any().downcast_ref::<StringArray>() {
        return x.value(i).to_string();
    }
    String::new()
}

/// The first-row values of each group, as a column of the original type.
fn pick(a: &dyn Array, rows: &[usize]) -> Col {
    let any = a.as_any();
    if let Some(x) = any.downcast_ref::<Float64Array>() {
        Col::F64(rows.iter().map(|&i| x.value(i)).collect())
    } else if let Some(x) = any.downcast_ref::<Int64Array>() {
        Col::I64(rows.iter().map(|&i| x.value(i)).collect())
    } else if let Some(x) = any.downcast_ref::<BooleanArray>() {
        Col::Bool(rows.iter().map(|&i| x.value(i)).collect())
    } else if let Some(x) = any.downcast_ref::<StringArray>() {
        Col::Str(rows.iter().map(|&i| x.value(i).to_string()).collect())
    } else {
        Col::Str(vec![String::new(); rows.len()])
    }
}

/// A numeric (or boolean) column as f64 per row; `None` for other types.
fn values(a: &dyn Array) -> Option<Vec<f64>> {
    let any = a.as_any();
    let nan_if_null = |i: usize, v: f64| if a.is_null(i) { f64::NAN } else { v };
    match a.data_type() {
        DataType::Float64 => {
            let x = any.downcast_ref::<Float64Array>()?;
            Some((0..x.len()).map(|i| nan_if_null(i, x.value(i))).collect())
        }
        DataType::Int64 => {
            let x = any.downcast_ref::<Int64Array>()?;
            Some(
                (0..x.len())
                    .map(|i| nan_if_null(i, x.value(i) as f64))
                    .collect(),
            )
        }
        DataType::Boolean => {
            let x = any.downcast_ref::<BooleanArray>()?;
            Some(
                (0..x.len())
                    .map(|i| nan_if_null(i, f64::from(u8::from(x.value(i)))))
                    .collect(),
            )
        }
        _ => None,
    }
}

/// mean, std, sem, min, max of the finite values (NaN where undefined).
fn stats(v: impl Iterator<Item = f64>) -> [f64; 5] {
    let v: Vec<f64> = v.filter(|x| x.is_finite()).collect();
    let n = v.len() as f64;
    if v.is_empty() {
        return [f64::NAN; 5];
    }
    let mean = v.iter().sum::<f64>() / n;
    let std = if v.len() > 1 {
        (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        f64::NAN
    };
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    [mean, std, std / n.sqrt(), min, max]
}

/// Reduce `b` over every column not in `group` (numeric ones become statistics; others
/// and those in `drop` — the reduced axes themselves — are left out), one row per
/// distinct combination of the `group` columns.
pub fn reduce(
    b: &RecordBatch,
    group: &[String],
    drop: &[String],
) -> Result<RecordBatch, EngineError> {
    let group_arrays: Vec<&dyn Array> = group
        .iter()
        .map(|g| {
            b.column_by_name(g)
                .map(|a| a.as_ref())
                .ok_or_else(|| EngineError::Input(format!("no column `{g}` to group by")))
        })
        .collect::<Result<_, _>>()?;
    let mut index: HashMap<Vec<String>, usize> = HashMap::new();
    let mut members: Vec<Vec<usize>> = Vec::new();
    for r in 0..b.num_rows() {
        let key: Vec<String> = group_arrays.iter().map(|a| key_cell(*a, r)).collect();
        let g = *index.entry(key).or_insert_with(|| {
            members.push(Vec::new());
            members.len() - 1
        });
        members[g].push(r);
    }
    let firsts: Vec<usize> = members.iter().map(|m| m[0]).collect();
    let mut cols: Vec<(String, Col)> = group
        .iter()
        .zip(&group_arrays)
        .map(|(g, a)| (g.clone(), pick(*a, &firsts)))
        .collect();
    cols.push((
        "n".into(),
        Col::I64(members.iter().map(|m| m.len() as i64).collect()),
    ));
    let schema = b.schema();
    for (field, arr) in schema.fields().iter().zip(b.columns()) {
        if group.contains(field.name()) || drop.contains(field.name()) || field.name() == "n" {
            continue;
        }
        let Some(v) = values(arr.as_ref()) else {
            continue;
        };
        let per_group: Vec<[f64; 5]> = members
            .iter()
            .map(|m| stats(m.iter().map(|&i| v[i])))
            .collect();
        for (k, suffix) in ["mean", "std", "sem", "min", "max"].iter().enumerate() {
            cols.push((
                format!("{}_{suffix}", field.name()),
                Col::F64(per_group.iter().map(|s| s[k]).collect()),
            ));
        }
    }
    batch(cols)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::common::{col_f64, table};

    #[test]
    fn statistics_per_group_with_nan_left_out() {
        let b = table(vec![
            ("rho", Col::F64(vec![0.5, 0.5, 0.5, 0.9, 0.9])),
            ("rep", Col::I64(vec![0, 1, 2, 0, 1])),
            ("err", Col::F64(vec![1.0, 2.0, 3.0, 5.0, f64::NAN])),
            ("ok", Col::Bool(vec![true, false, true, true, true])),
            ("stage", Col::Str(vec!["s".into(); 5])),
        ])
        .unwrap();
        let r = reduce(&b, &["rho".to_string()], &["rep".to_string()]).unwrap();
        assert_eq!(r.num_rows(), 2);
        assert_eq!(col_f64(&r, "rho").unwrap(), vec![0.5, 0.9]);
        assert_eq!(col_f64(&r, "err_mean").unwrap()[0], 2.0);
        assert_eq!(col_f64(&r, "err_std").unwrap()[0], 1.0);
        assert!((col_f64(&r, "err_sem").unwrap()[0] - 1.0 / 3f64.sqrt()).abs() < 1e-15);
        assert_eq!(col_f64(&r, "err_min").unwrap(), vec![1.0, 5.0]);
        // One finite value: a mean, no spread.
        assert_eq!(col_f64(&r, "err_mean").unwrap()[1], 5.0);
        assert!(col_f64(&r, "err_std").unwrap()[1].is_nan());
        assert!((col_f64(&r, "ok_mean").unwrap()[0] - 2.0 / 3.0).abs() < 1e-15);
        let n = r.column_by_name("n").unwrap();
        assert_eq!(n.data_type(), &DataType::Int64);
        // The reduced axis and text columns are gone.
        assert!(r.column_by_name("rep_mean").is_none());
        assert!(r.column_by_name("stage_mean").is_none());
        assert!(reduce(&b, &["nope".to_string()], &[]).is_err());
    }
}
