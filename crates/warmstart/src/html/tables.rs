//! Table previews (column names and types, the first rows as text) and sweep grids: an
//! output table whose rows are indexed by one or two of the experiment's numeric sweep
//! axes — what an `aggregate` stage writes — gets each of its other numeric columns drawn
//! over those axes (a line chart over one axis, a heat map over two, or lines per value
//! of a short second axis).

use std::collections::BTreeMap;

use arrow_array::{Array, ArrayRef, Float64Array};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::DataType;
use warmstart_engine::{NamedTable, Value};
use warmstart_plan::Plan;
use warmstart_report::{StageSection, SweepChart, SweepPlot, TablePreview};

use super::{ReportOptions, file_name};

/// Longest cell text shown (binary and long string cells are cut).
const MAX_CELL: usize = 120;
/// Most columns previewed per table (a wide table says how many it has).
const MAX_PREVIEW_COLUMNS: usize = 40;
/// Most numeric columns drawn per sweep table.
const MAX_SWEEP_COLUMNS: usize = 8;
/// A second axis with at most this many values becomes series of a line chart.
const MAX_SERIES: usize = 6;

/// Preview each of an instance's tables and add the sweep charts they hold.
pub(super) fn preview(
    sec: &mut StageSection,
    label: &str,
    tables: &[NamedTable],
    files: &[String],
    opts: &ReportOptions,
    plan: &Plan,
) {
    for t in tables {
        let rows = if t.name == "log" {
            opts.preview_rows * 10
        } else {
            opts.preview_rows
        };
        let href = files
            .iter()
            .find(|f| file_name(f) == format!("{}.parquet", t.name))
            .map(|f| format!("data/{f}"));
        sec.previews.push(table_preview(label, t, rows, href));
        sec.sweeps.extend(sweep_charts(label, t, plan));
    }
}

fn table_preview(label: &str, t: &NamedTable, rows: usize, href: Option<String>) -> TablePreview {
    let batch = &t.batch;
    let shown = batch.num_rows().min(rows);
    let opts = FormatOptions::default().with_null("null");
    let formatters: Vec<Option<ArrayFormatter<'_>>> = batch
        .columns()
        .iter()
        .take(MAX_PREVIEW_COLUMNS)
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts).ok())
        .collect();
    let cells = (0..shown)
        .map(|r| {
            formatters
                .iter()
                .map(|f| match f {
                    Some(f) => cut(&f.value(r).to_string()),
                    None => "…".to_string(),
                })
                .collect()
        })
        .collect();
    TablePreview {
        instance: label.to_string(),
        table: t.name.clone(),
        columns: batch
            .schema()
            .fields()
            .iter()
            .take(MAX_PREVIEW_COLUMNS)
            .map(|f| (f.name().clone(), f.data_type().to_string()))
            .collect(),
        columns_total: batch.num_columns(),
        rows: cells,
        row_count: batch.num_rows(),
        href,
    }
}

fn cut(s: &str) -> String {
    if s.chars().count() <= MAX_CELL {
        s.to_string()
    } else {
        let head: String = s.chars().take(MAX_CELL).collect();
        format!("{head}…")
    }
}

/// A numeric column as f64 values (nulls as NaN); `None` for other types.
pub(crate) fn numbers(col: &ArrayRef) -> Option<Vec<f64>> {
    if !col.data_type().is_numeric() {
        return None;
    }
    let cast = arrow_cast::cast(col, &DataType::Float64).ok()?;
    let a = cast.as_any().downcast_ref::<Float64Array>()?;
    Some(
        (0..a.len())
            .map(|i| if a.is_null(i) { f64::NAN } else { a.value(i) })
            .collect(),
    )
}

/// The experiment's numeric sweep axes.
fn numeric_axes(plan: &Plan) -> Vec<&str> {
    plan.experiment
        .axes
        .iter()
        .filter(|a| {
            a.values
                .iter()
                .all(|v| matches!(v, Value::Int(_) | Value::Float(_)))
        })
        .map(|a| a.name.as_str())
        .collect()
}

fn distinct(v: &[f64]) -> Vec<f64> {
    let mut d: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    d.sort_by(f64::total_cmp);
    d.dedup();
    d
}

/// The sweep charts of one table: none unless its rows are indexed by one or two numeric
/// sweep axes (each with ≥ 2 values, every grid point at most once).
fn sweep_charts(label: &str, t: &NamedTable, plan: &Plan) -> Vec<SweepChart> {
    let batch = &t.batch;
    let mut axes: Vec<(&str, Vec<f64>)> = numeric_axes(plan)
        .into_iter()
        .filter_map(|a| Some((a, numbers(batch.column_by_name(a)?)?)))
        .filter(|(_, v)| distinct(v).len() >= 2)
        .collect();
    if axes.is_empty() || axes.len() > 2 {
        return Vec::new();
    }
    // x is the axis with more values.
    axes.sort_by_key(|(_, v)| std::cmp::Reverse(distinct(v).len()));
    let mut seen = std::collections::HashSet::new();
    for r in 0..batch.num_rows() {
        let point: Vec<u64> = axes.iter().map(|(_, v)| v[r].to_bits()).collect();
        if !seen.insert(point) {
            return Vec::new();
        }
    }
    let source = format!("{label} / {}", t.name);
    let schema = batch.schema();
    schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| !axes.iter().any(|(a, _)| a == f.name()))
        .filter_map(|(i, f)| Some((f.name().clone(), numbers(batch.column(i))?)))
        .take(MAX_SWEEP_COLUMNS)
        .map(|(column, z)| SweepChart {
            source: source.clone(),
            column,
            x_axis: axes[0].0.to_string(),
            plot: plot(&axes, &z),
        })
        .collect()
}

fn plot(axes: &[(&str, Vec<f64>)], z: &[f64]) -> SweepPlot {
    let xs = &axes[0].1;
    match axes.get(1) {
        None => {
            let mut pts: Vec<(f64, f64)> = xs.iter().copied().zip(z.iter().copied()).collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            SweepPlot::Lines {
                series_axis: None,
                series: vec![(String::new(), pts)],
            }
        }
        Some((y_name, ys)) if distinct(ys).len() <= MAX_SERIES => {
            let mut by: BTreeMap<u64, (f64, Vec<(f64, f64)>)> = BTreeMap::new();
            for r in 0..z.len() {
                let e = by.entry(ys[r].to_bits()).or_insert((ys[r], Vec::new()));
                e.1.push((xs[r], z[r]));
            }
            let mut series: Vec<(f64, Vec<(f64, f64)>)> = by.into_values().collect();
            series.sort_by(|a, b| a.0.total_cmp(&b.0));
            SweepPlot::Lines {
                series_axis: Some(y_name.to_string()),
                series: series
                    .into_iter()
                    .map(|(y, mut p)| {
                        p.sort_by(|a, b| a.0.total_cmp(&b.0));
                        (Value::Float(y).to_string(), p)
                    })
                    .collect(),
            }
        }
        Some((y_name, ys)) => {
            let (dx, dy) = (distinct(xs), distinct(ys));
            let mut grid = vec![vec![None; dx.len()]; dy.len()];
            for r in 0..z.len() {
                let i = dx.iter().position(|v| v.to_bits() == xs[r].to_bits());
                let j = dy.iter().position(|v| v.to_bits() == ys[r].to_bits());
                if let (Some(i), Some(j)) = (i, j) {
                    grid[j][i] = Some(z[r]);
                }
            }
            SweepPlot::Heat {
                y_axis: y_name.to_string(),
                xs: dx,
                ys: dy,
                z: grid,
            }
        }
    }
}
