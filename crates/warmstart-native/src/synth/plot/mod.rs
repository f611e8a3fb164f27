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
//! Errors ([`data`]): `y_err` (symmetric, y ± e) or `y_lo` and `y_hi` (an interval's two
//! ends, e.g. bootstrap percentiles) draw a shaded band around each line, or vertical bars
//! on points; `x_lo` and `x_hi` draw horizontal bars (a scatter of `correlate`'s `points`
//! with both intervals). An `annotate` table's columns `c`, `c_lo`, `c_hi` print as
//! `c = v [lo, hi]`; the annotation wraps onto more lines when it is wider than the figure.
//!
//! Output: a `files` table with `<name>.svg` and `<name>.png`.

mod data;

use std::sync::Once;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use warmstart_engine::{
    ColumnRef, Determinism, EngineError, InputSpec, KindSpec, ParamSpec, StageOutput, StageRequest,
    TableSpec, files_table,
};

use data::{Data, collect, least_squares, significant};

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
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
            ParamSpec::string("y_lo", "Column(s) of the lower end of an interval around y, one per y column (e.g. `w2s_lo` of `pgr`, `y_lo` of `correlate`'s `points`); with `y_hi`, an asymmetric shaded band around each line, or error bars on points; not with `y_err` (\"\" = none).").default("").names_column(ColumnRef::of("table").list()),
            ParamSpec::string("y_hi", "Column(s) of the upper end of y's interval, one per y column (see `y_lo`) (\"\" = none).").default("").names_column(ColumnRef::of("table").list()),
            ParamSpec::string("x_lo", "Column of the lower end of an interval around x (e.g. `x_lo` of `correlate`'s `points`); with `x_hi`, horizontal error bars (\"\" = none).").default("").names_column(ColumnRef::of("table")),
            ParamSpec::string("x_hi", "Column of the upper end of x's interval (see `x_lo`) (\"\" = none).").default("").names_column(ColumnRef::of("table")),
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
                "A table (e.g. a `correlate` stage's `correlation`) whose first row's numbers are printed under the title, a column `c` with columns `c_lo` and `c_hi` as `c = v [lo, hi]` (\"\" = none).",
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
            "Read from every input that has it; `x`, `y`, `series`, `baseline`, `y_err`, `y_lo`, `y_hi`, `x_lo` and `x_hi` name its columns.",
        )],
        writes: vec![TableSpec::new("files", "The figure: `<name>.svg` and `<name>.png`.")
            .col("path", "utf8", "File name.")
            .col("data", "binary", "File contents.")],
    }
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

/// A tick label. `span` is the axis' extent: a linear tick within a billionth of it of 0 is
/// 0 (plotters computes ticks by accumulation, so the one at 0 can come out as −2.2e-16).
fn tick(v: f64, log: bool, span: f64) -> String {
    let v = if log {
        10f64.powf(v)
    } else if v.abs() <= span.abs() * 1e-9 {
        0.0
    } else {
        v
    };
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
    chart: &mut Chart<'_, DB>,
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

/// The annotation's parts, `, `-separated, in lines of at most `chars` characters (a part
/// longer than that has a line of its own).
fn wrap(parts: &[String], chars: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let part = if i + 1 < parts.len() {
            format!("{p},")
        } else {
            p.clone()
        };
        match lines.last_mut() {
            Some(l) if l.chars().count() + 1 + part.chars().count() <= chars => {
                l.push(' ');
                l.push_str(&part);
            }
            _ => lines.push(part),
        }
    }
    lines
}

/// The chart's area and its caption.
type Body<DB> = (DrawingArea<DB, Shift>, String);

/// With an annotation, the title and the annotation's lines get a header band of their own
/// (one caption line would be clipped). Returns the chart's area and its caption.
fn header<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    data: &Data,
    l: &Labels,
) -> Result<Body<DB>, DrawingAreaErrorKind<DB::ErrorType>> {
    if data.note.is_empty() {
        return Ok((root.clone(), l.title.clone()));
    }
    // At most about 6.5 px per character of 13 px DejaVu Sans, 16 px margins.
    let width = root.dim_in_pixel().0 as usize;
    let lines = wrap(&data.note, (width.saturating_sub(32) * 2 / 13).max(20));
    let (h, body) = root.split_vertically(40 + 18 * lines.len() as u32);
    h.draw(&Text::new(l.title.clone(), (16, 6), ("sans-serif", 22)))?;
    for (i, line) in lines.into_iter().enumerate() {
        h.draw(&Text::new(
            line,
            (16, 36 + 18 * i as i32),
            ("sans-serif", 13),
        ))?;
    }
    Ok((body, String::new()))
}

/// The chart `draw` draws into.
type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Every series' y bands (or bars) and x bars.
fn draw_errors<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    data: &Data,
    points: bool,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    for (k, band) in data.bands.iter().enumerate() {
        draw_band(chart, band, COLORS[k % COLORS.len()], points)?;
    }
    for (k, bars) in data.xbars.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        chart.draw_series(
            bars.iter().map(|&(y, lo, hi)| {
                PathElement::new(vec![(lo, y), (hi, y)], color.stroke_width(1))
            }),
        )?;
    }
    Ok(())
}

/// Every series as a line or markers, with its fit; whether any has a legend entry.
fn draw_lines<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    data: &Data,
    l: &Labels,
    (x0, x1): (f64, f64),
) -> Result<bool, DrawingAreaErrorKind<DB::ErrorType>> {
    let mut legend = false;
    for (k, (name, pts)) in data.series.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        let s = if l.points {
            chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))?
        } else {
            chart.draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))?
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
            chart.draw_series(DashedLineSeries::new(line, 6, 4, color.stroke_width(1)))?;
        }
    }
    Ok(legend)
}

/// The dashed baseline (a curve or a horizontal line); whether there is one.
fn draw_baseline<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    data: &Data,
    l: &Labels,
    (x0, x1): (f64, f64),
) -> Result<bool, DrawingAreaErrorKind<DB::ErrorType>> {
    let line = if !data.baseline_curve.is_empty() {
        data.baseline_curve.clone()
    } else if let Some(b) = data.baseline {
        vec![(x0, b), (x1, b)]
    } else {
        return Ok(false);
    };
    let style = ShapeStyle::from(&BLACK).stroke_width(2);
    chart
        .draw_series(DashedLineSeries::new(line, 8, 6, style))?
        .label(l.baseline.clone())
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(2)));
    Ok(true)
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    data: &Data,
    l: &Labels,
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let (x0, x1) = range(
        data.series
            .iter()
            .flat_map(|s| s.1.iter().map(|p| p.0))
            .chain(data.xbars.iter().flatten().flat_map(|b| [b.1, b.2])),
    );
    let (y0, y1) = range(
        data.series
            .iter()
            .flat_map(|s| s.1.iter().map(|p| p.1))
            .chain(data.bands.iter().flatten().flat_map(|b| [b.1, b.2]))
            .chain(data.baseline_curve.iter().map(|p| p.1))
            .chain(data.baseline),
    );
    let (body, caption) = header(&root, data, l).map_err(err)?;
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
        .x_label_formatter(&|v| tick(*v, lx, x1 - x0))
        .y_label_formatter(&|v| tick(*v, ly, y1 - y0))
        .draw()
        .map_err(err)?;
    draw_errors(&mut chart, data, l.points).map_err(err)?;
    let lines = draw_lines(&mut chart, data, l, (x0, x1)).map_err(err)?;
    let baseline = draw_baseline(&mut chart, data, l, (x0, x1)).map_err(err)?;
    let legend = lines || baseline;
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
mod tests;
