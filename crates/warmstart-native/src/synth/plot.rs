//! `plot`: line plots (one line per series) from an input table, as SVG and PNG.
//!
//! Rows are collected from every input that has the table `table` (default: `rows`, the
//! output of `aggregate`; "" = each input's first table). `x`, `y`, `series` and
//! `baseline` name columns of that table, or — for `series` — a sweep coordinate of the
//! input or `stage`, so a gathered set of trajectories can be plotted without `aggregate`.
//! `baseline` is a column name (its first value is drawn) or a number: a dashed horizontal
//! line. Log axes plot log10 of the data (non-positive values are dropped) with tick labels
//! in the original units. Text uses the bundled DejaVu Sans (registered with plotters'
//! ab_glyph backend), so PNGs render without system fonts.
//!
//! Output: a `files` table with `<name>.svg` and `<name>.png`.

use std::collections::BTreeMap;
use std::sync::Once;

use arrow_array::{Array, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use warmstart_engine::{
    ColumnRef, Determinism, EngineError, InputSpec, KindSpec, ParamSpec, StageInput, StageOutput,
    StageRequest, TableSpec, Value, files_table,
};

use super::common::col_f64;

static FONT: &[u8] = include_bytes!("assets/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

pub fn spec() -> KindSpec {
    KindSpec {
        name: "plot".into(),
        doc: "Line plot of y against x, one line per series, optional dashed baseline; writes <name>.svg and <name>.png.".into(),
        params: vec![
            ParamSpec::string("table", "Input table to plot (\"\" = each input's first table).").default("rows"),
            ParamSpec::string("x", "Column for the x axis.").names_column(ColumnRef::of("table")),
            ParamSpec::string("y", "Column for the y axis; `a,b` plots several columns, one series each.").names_column(ColumnRef::of("table").list()),
            ParamSpec::string("series", "Column or coordinate that splits lines (\"\" = one line).").default("").names_column(ColumnRef::of("table").or_coordinate()),
            ParamSpec::any("baseline", "Dashed baseline: a number (a horizontal line), or a column name — a horizontal line when the column is constant, else a dashed curve through its value at each x (e.g. 2 − 2ρ against ρ) (\"\" = none).").default("").names_column(ColumnRef::of("table").or_number()),
            ParamSpec::string("y_err", "Column(s) of a symmetric error of y, one per y column (e.g. `final_dist2_sem` from aggregate's `over`): a shaded band around each line, or error bars on points (\"\" = none).").default("").names_column(ColumnRef::of("table").list()),
            ParamSpec::string("baseline_label", "Legend text of the baseline.").default("baseline"),
            ParamSpec::boolean("log_x", "Logarithmic x axis (x = 0 is drawn at half the smallest positive x, and the axis label says so; negative x are left out).").default(false),
            ParamSpec::boolean("log_y", "Logarithmic y axis.").default(false),
            ParamSpec::string("title", "Figure title.").default(""),
            ParamSpec::string("x_label", "x-axis label (\"\" = the column name).").default(""),
            ParamSpec::string("y_label", "y-axis label (\"\" = the column name).").default(""),
            ParamSpec::boolean("points", "Draw markers instead of lines (scatter plots).").default(false),
            ParamSpec::boolean("fit", "Add a dashed least-squares line per series.").default(false),
            ParamSpec::string(
                "annotate",
                "A table (e.g. a `correlate` stage's `correlation`) whose first row's numbers are printed under the title (\"\" = none).",
            )
            .default(""),
            ParamSpec::string("name", "Output file stem.").default("plot"),
            ParamSpec::int("width", "Width in pixels.").default(900).range(200.0, 4000.0),
            ParamSpec::int("height", "Height in pixels.").default(600).range(150.0, 4000.0),
        ],
        determinism: Determinism::Deterministic,
        min_inputs: 1,
        max_inputs: None,
        reads: vec![InputSpec::new(
            "the table named by `table` (default `rows`)",
            &["aggregate"],
            "Read from every input that has it; `x`, `y`, `series`, `baseline` and `y_err` name its columns.",
        )],
        writes: vec![TableSpec::new("files", "The figure: `<name>.svg` and `<name>.png`.")
            .col("path", "utf8", "File name.")
            .col("data", "binary", "File contents.")],
    }
}

/// A cell as text (series keys).
fn cell_text(b: &RecordBatch, col: &str, row: usize) -> Option<String> {
    let c = b.column_by_name(col)?;
    let a = c.as_any();
    if let Some(a) = a.downcast_ref::<StringArray>() {
        return Some(a.value(row).to_string());
    }
    if let Some(a) = a.downcast_ref::<Float64Array>() {
        return Some(format!("{}", a.value(row)));
    }
    if let Some(a) = a.downcast_ref::<Int64Array>() {
        return Some(format!("{}", a.value(row)));
    }
    a.downcast_ref::<BooleanArray>()
        .map(|a| a.value(row).to_string())
}

fn series_key(
    input: &StageInput,
    b: &RecordBatch,
    series: &str,
    row: usize,
) -> Result<String, EngineError> {
    if series.is_empty() {
        return Ok(String::new());
    }
    if let Some(s) = cell_text(b, series, row) {
        return Ok(s);
    }
    if series == "stage" {
        return Ok(input.stage.clone());
    }
    match input.coord(series) {
        Some(Value::Str(s)) => Ok(s.clone()),
        Some(v) => Ok(v.to_string()),
        None => Err(EngineError::param(
            "series",
            format!("`{series}` is neither a column nor a coordinate"),
        )),
    }
}

struct Data {
    series: Vec<(String, Vec<(f64, f64)>)>,
    /// Per series (same order), (x, y − e, y + e) where `y_err` gives e.
    bands: Vec<Vec<(f64, f64, f64)>>,
    baseline: Option<f64>,
    /// A baseline that varies with x: (x, value), sorted by x.
    baseline_curve: Vec<(f64, f64)>,
    /// `name = value` pairs of the `annotate` table's first row.
    note: Option<String>,
    /// On a log x axis, where x = 0 is drawn (see [`log_scale_x`]).
    zero_at: Option<f64>,
}

/// The numeric cells of the first row of table `name` in any input, as `col = value`.
fn annotation(req: &StageRequest, name: &str) -> Result<Option<String>, EngineError> {
    if name.is_empty() {
        return Ok(None);
    }
    let Some(b) = req.inputs.iter().find_map(|i| i.table(Some(name))) else {
        return Err(EngineError::param(
            "annotate",
            format!("no input has a `{name}` table"),
        ));
    };
    let mut parts = Vec::new();
    for f in b.schema().fields() {
        if let Ok(v) = col_f64(b, f.name())
            && let Some(x) = v.first()
        {
            parts.push(format!("{} = {}", f.name(), significant(*x)));
        }
    }
    Ok(Some(parts.join(", ")))
}

/// Three significant digits (integers as they are).
fn significant(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e9 {
        return format!("{x}");
    }
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let digits = (2 - x.abs().log10().floor() as i32).max(0) as usize;
    if x.abs() < 1e-3 {
        format!("{x:.2e}")
    } else {
        format!("{x:.digits$}")
    }
}

/// Least-squares line y = a + b x; `None` with fewer than two distinct x.
fn least_squares(pts: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = pts.len() as f64;
    let (mx, my) = pts
        .iter()
        .fold((0.0, 0.0), |(a, b), p| (a + p.0 / n, b + p.1 / n));
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (pts.len() >= 2 && sxx > 0.0).then(|| (my - sxy / sxx * mx, sxy / sxx))
}

/// Column `name` (named by param `param`) as f64; a missing column is an error about the
/// param, so the message says where the file sets it.
fn param_col(b: &RecordBatch, param: &str, name: &str) -> Result<Vec<f64>, EngineError> {
    col_f64(b, name).map_err(|e| match e {
        EngineError::Input(m) => EngineError::param(param, m),
        e => e,
    })
}

fn collect(req: &StageRequest) -> Result<Data, EngineError> {
    let name = req.str("table")?;
    let (xc, yc, sc) = (req.str("x")?, req.str("y")?, req.str("series")?);
    let (lx, ly) = (req.bool("log_x")?, req.bool("log_y")?);
    let mut map: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut baseline = match req.opt("baseline") {
        Some(Value::Str(s)) if s.is_empty() => None,
        Some(v) if v.as_f64().is_some() => v.as_f64(),
        _ => None,
    };
    let mut any = false;
    let mut err: BTreeMap<String, Vec<(f64, f64, f64)>> = BTreeMap::new();
    let mut curve: Vec<(f64, f64)> = Vec::new();
    for input in &req.inputs {
        let b = if name.is_empty() {
            input.table(None)
        } else {
            input.table(Some(name))
        };
        let Some(b) = b else { continue };
        any = true;
        if let Some(Value::Str(bc)) = req.opt("baseline")
            && !bc.is_empty()
            && baseline.is_none()
        {
            baseline = param_col(b, "baseline", bc)?.first().copied();
        }
        let xs = param_col(b, "x", xc)?;
        if let Some(Value::Str(bc)) = req.opt("baseline")
            && !bc.is_empty()
        {
            let bs = param_col(b, "baseline", bc)?;
            curve.extend(xs.iter().copied().zip(bs));
        }
        // `y = "a,b"` plots several columns, one series each (named by the column).
        let y_cols: Vec<&str> = yc.split(',').map(str::trim).collect();
        let e_cols: Vec<&str> = req
            .str("y_err")?
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        if !e_cols.is_empty() && e_cols.len() != y_cols.len() {
            return Err(EngineError::param(
                "y_err",
                format!(
                    "names {} column(s) for {} y column(s); give one error column per y column, in the same order",
                    e_cols.len(),
                    y_cols.len()
                ),
            ));
        }
        for (k, y_col) in y_cols.iter().enumerate() {
            let ys = param_col(b, "y", y_col)?;
            let es = match e_cols.get(k) {
                Some(c) => Some(param_col(b, "y_err", c)?),
                None => None,
            };
            for (row, (&x, &y)) in xs.iter().zip(&ys).enumerate() {
                let mut key = series_key(input, b, sc, row)?;
                if y_cols.len() > 1 {
                    key = if key.is_empty() {
                        y_col.to_string()
                    } else {
                        format!("{key} · {y_col}")
                    };
                }
                if !map.contains_key(&key) {
                    order.push(key.clone());
                }
                if let Some(e) = es.as_ref().map(|es| es[row])
                    && x.is_finite()
                    && y.is_finite()
                    && e.is_finite()
                    && (!lx || x >= 0.0)
                {
                    let (lo, hi) = if ly {
                        ((y - e).max(y * 1e-3).log10(), (y + e).log10())
                    } else {
                        (y - e, y + e)
                    };
                    err.entry(key.clone()).or_default().push((x, lo, hi));
                }
                // x goes to log scale below, once the smallest positive x is known.
                let y = if ly { y.log10() } else { y };
                if x.is_finite() && y.is_finite() && (!lx || x >= 0.0) {
                    map.entry(key).or_default().push((x, y));
                } else {
                    map.entry(key).or_default();
                }
            }
        }
    }
    if !any {
        return Err(EngineError::Input(format!("no input has a `{name}` table")));
    }
    let zero_at = if lx {
        let z = log_scale_x(&mut map);
        for pts in err.values_mut() {
            log_x_in_place(pts.iter_mut().map(|p| &mut p.0), z);
            pts.retain(|p| p.0.is_finite());
        }
        log_x_in_place(curve.iter_mut().map(|p| &mut p.0), z);
        z
    } else {
        None
    };
    // Numeric series labels are ordered numerically, others by first appearance.
    if order.iter().all(|k| k.parse::<f64>().is_ok()) {
        order.sort_by(|a, b| {
            a.parse::<f64>()
                .unwrap_or(0.0)
                .total_cmp(&b.parse::<f64>().unwrap_or(0.0))
        });
    }
    let bands = order
        .iter()
        .map(|k| {
            let mut b = err.remove(k).unwrap_or_default();
            b.sort_by(|a, b| a.0.total_cmp(&b.0));
            b
        })
        .collect();
    let series = order
        .into_iter()
        .map(|k| {
            let mut pts = map.remove(&k).unwrap_or_default();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            (k, pts)
        })
        .collect();
    // A baseline column that varies is drawn as a curve through its values.
    curve.retain(|p| p.0.is_finite() && p.1.is_finite());
    curve.sort_by(|a, b| a.0.total_cmp(&b.0));
    curve.dedup_by(|a, b| a.0 == b.0);
    let varies = curve.windows(2).any(|w| w[0].1 != w[1].1);
    let baseline_curve = if varies {
        curve
            .into_iter()
            .map(|(x, b)| (x, if ly { b.log10() } else { b }))
            .filter(|p| p.1.is_finite())
            .collect()
    } else {
        Vec::new()
    };
    let baseline = baseline
        .map(|b| if ly { b.log10() } else { b })
        .filter(|b| b.is_finite());
    let note = annotation(req, req.str("annotate")?)?;
    Ok(Data {
        series,
        bands,
        baseline: if varies { None } else { baseline },
        baseline_curve,
        note,
        zero_at,
    })
}

/// Log10 of each x in place; x = 0 goes to `zero_at` (see [`log_scale_x`]), negatives to NaN.
fn log_x_in_place<'a>(xs: impl Iterator<Item = &'a mut f64>, zero_at: Option<f64>) {
    for x in xs {
        *x = if *x > 0.0 {
            *x
        } else if *x == 0.0 {
            zero_at.unwrap_or(f64::NAN)
        } else {
            f64::NAN
        }
        .log10();
    }
}

/// Put every series' x on a log10 scale. x = 0 (step 0 of a log-spaced checkpoint suite,
/// say) has no place on a log axis: rather than drop it, it is drawn at half the smallest
/// positive x, and the axis label says so. Returns that position, if used.
fn log_scale_x(map: &mut BTreeMap<String, Vec<(f64, f64)>>) -> Option<f64> {
    let xs = || map.values().flatten().map(|p| p.0);
    let min_pos = xs().filter(|&x| x > 0.0).fold(f64::INFINITY, f64::min);
    let zero_at = (xs().any(|x| x == 0.0) && min_pos.is_finite()).then_some(min_pos / 2.0);
    for pts in map.values_mut() {
        log_x_in_place(pts.iter_mut().map(|p| &mut p.0), zero_at);
        pts.retain(|p| p.0.is_finite());
    }
    zero_at
}

const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

struct Labels {
    title: String,
    x: String,
    y: String,
    series: String,
    baseline: String,
    log_x: bool,
    log_y: bool,
    points: bool,
    fit: bool,
}

fn range(vals: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
        (l.min(v), h.max(v))
    });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = if hi > lo {
        0.05 * (hi - lo)
    } else {
        0.5f64.max(lo.abs() * 0.1)
    };
    (lo - pad, hi + pad)
}

fn tick(v: f64, log: bool) -> String {
    let v = if log { 10f64.powf(v) } else { v };
    if log && v.abs() >= 1e-3 && v.abs() < 1e4 {
        // Three significant digits: log ticks fall on non-round values.
        let decimals = (2 - v.abs().log10().floor() as i32).max(0) as usize;
        return format!("{v:.decimals$}");
    }
    if v != 0.0 && (v.abs() < 1e-3 || v.abs() >= 1e4) {
        format!("{v:.1e}")
    } else {
        format!("{v:.3}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}

/// A series' error: a translucent band between y − e and y + e (lines), or vertical bars
/// (points).
fn draw_band<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    band: &[(f64, f64, f64)],
    color: RGBColor,
    points: bool,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    if band.is_empty() {
        return Ok(());
    }
    if points {
        chart.draw_series(
            band.iter().map(|&(x, lo, hi)| {
                PathElement::new(vec![(x, lo), (x, hi)], color.stroke_width(1))
            }),
        )?;
        return Ok(());
    }
    let mut outline: Vec<(f64, f64)> = band.iter().map(|&(x, lo, _)| (x, lo)).collect();
    outline.extend(band.iter().rev().map(|&(x, _, hi)| (x, hi)));
    chart.draw_series(std::iter::once(Polygon::new(
        outline,
        color.mix(0.2).filled(),
    )))?;
    Ok(())
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    data: &Data,
    l: &Labels,
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let (x0, x1) = range(data.series.iter().flat_map(|s| s.1.iter().map(|p| p.0)));
    let (y0, y1) = range(
        data.series
            .iter()
            .flat_map(|s| s.1.iter().map(|p| p.1))
            .chain(data.bands.iter().flatten().flat_map(|b| [b.1, b.2]))
            .chain(data.baseline_curve.iter().map(|p| p.1))
            .chain(data.baseline),
    );
    // With an annotation, the title and the annotation get a header band of their own:
    // one caption line would be clipped.
    let (head, body) = if data.note.is_some() {
        let (h, b) = root.split_vertically(58);
        (Some(h), b)
    } else {
        (None, root.clone())
    };
    if let (Some(h), Some(note)) = (&head, &data.note) {
        h.draw(&Text::new(l.title.clone(), (16, 6), ("sans-serif", 22)))
            .map_err(err)?;
        h.draw(&Text::new(note.clone(), (16, 36), ("sans-serif", 13)))
            .map_err(err)?;
    }
    let caption = if head.is_some() {
        String::new()
    } else {
        l.title.clone()
    };
    let mut chart = ChartBuilder::on(&body)
        .caption(&caption, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    let (lx, ly) = (l.log_x, l.log_y);
    chart
        .configure_mesh()
        .x_desc(&l.x)
        .y_desc(&l.y)
        .label_style(("sans-serif", 14))
        .x_label_formatter(&|v| tick(*v, lx))
        .y_label_formatter(&|v| tick(*v, ly))
        .draw()
        .map_err(err)?;
    let mut legend = false;
    for (k, band) in data.bands.iter().enumerate() {
        draw_band(&mut chart, band, COLORS[k % COLORS.len()], l.points).map_err(err)?;
    }
    for (k, (name, pts)) in data.series.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        let s = if l.points {
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))
                .map_err(err)?
        } else {
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
                .map_err(err)?
        };
        if !name.is_empty() {
            let label = if l.series.is_empty() {
                name.clone()
            } else {
                format!("{} = {name}", l.series)
            };
            s.label(label).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
            legend = true;
        }
        if l.fit
            && let Some((a, b)) = least_squares(pts)
        {
            let line = vec![(x0, a + b * x0), (x1, a + b * x1)];
            chart
                .draw_series(DashedLineSeries::new(line, 6, 4, color.stroke_width(1)))
                .map_err(err)?;
        }
    }
    if !data.baseline_curve.is_empty() {
        let style = ShapeStyle::from(&BLACK).stroke_width(2);
        chart
            .draw_series(DashedLineSeries::new(
                data.baseline_curve.clone(),
                8,
                6,
                style,
            ))
            .map_err(err)?
            .label(l.baseline.clone())
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(2)));
        legend = true;
    }
    if let Some(b) = data.baseline {
        let style = ShapeStyle::from(&BLACK).stroke_width(2);
        chart
            .draw_series(DashedLineSeries::new(vec![(x0, b), (x1, b)], 8, 6, style))
            .map_err(err)?
            .label(l.baseline.clone())
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(2)));
        legend = true;
    }
    if legend {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(err)?;
    }
    root.present().map_err(err)
}

pub fn run(req: &StageRequest) -> Result<StageOutput, EngineError> {
    REGISTER.call_once(|| {
        // The bundled font parses (checked by the tests); on failure text would be missing,
        // and draw() reports the error.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
    let data = collect(req)?;
    let (xl, yl) = (req.str("x_label")?, req.str("y_label")?);
    let x_label = if xl.is_empty() { req.str("x")? } else { xl };
    let labels = Labels {
        title: req.str("title")?.to_string(),
        x: match data.zero_at {
            Some(z) => format!("{x_label} (log scale; 0 drawn at {})", significant(z)),
            None => x_label.to_string(),
        },
        y: if yl.is_empty() {
            req.str("y")?.to_string()
        } else {
            yl.to_string()
        },
        series: req.str("series")?.to_string(),
        baseline: req.str("baseline_label")?.to_string(),
        log_x: req.bool("log_x")?,
        log_y: req.bool("log_y")?,
        points: req.bool("points")?,
        fit: req.bool("fit")?,
    };
    let (w, h) = (req.usize("width")? as u32, req.usize("height")? as u32);
    let mut svg = String::new();
    draw(
        SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area(),
        &data,
        &labels,
    )
    .map_err(|e| EngineError::failed(format!("svg: {e}")))?;
    let mut rgb = vec![0u8; (w * h * 3) as usize];
    draw(
        BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area(),
        &data,
        &labels,
    )
    .map_err(|e| EngineError::failed(format!("png: {e}")))?;
    let mut png = Vec::new();
    image::ImageEncoder::write_image(
        image::codecs::png::PngEncoder::new(&mut png),
        &rgb,
        w,
        h,
        image::ColorType::Rgb8,
    )
    .map_err(|e| EngineError::failed(format!("png encode: {e}")))?;
    let name = req.str("name")?;
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(EngineError::param(
            "name",
            "must be non-empty [A-Za-z0-9_-]",
        ));
    }
    let files = files_table(&[
        (format!("{name}.svg"), svg.into_bytes()),
        (format!("{name}.png"), png),
    ])?;
    let mut out = StageOutput::default();
    out.push(warmstart_engine::FILES_TABLE, files);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::common::{Col, table, testing};
    use warmstart_engine::{NamedTable, read_files_table};

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
}
