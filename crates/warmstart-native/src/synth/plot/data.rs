//! `plot`'s data: the rows of the inputs collected into series, their error bands and bars,
//! the baseline and the annotation, in plot coordinates (log10 where an axis is log).
//!
//! Errors of y are either symmetric (`y_err`: y ± e) or an interval (`y_lo`, `y_hi`: its two
//! ends, e.g. bootstrap percentiles, which need not be symmetric); errors of x are an
//! interval (`x_lo`, `x_hi`). A row whose interval ends are not finite (e.g. the NaN of a
//! stage that ran no bootstrap) draws no band or bar at that x.

use std::collections::BTreeMap;

use arrow_array::{Array, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::DataType;
use warmstart_engine::{EngineError, StageInput, StageRequest, Value};

use crate::synth::common::col_f64;

/// An interval per point: (position along the other axis, lower end, upper end).
pub type Intervals = Vec<(f64, f64, f64)>;

pub struct Data {
    pub series: Vec<(String, Vec<(f64, f64)>)>,
    /// Per series (same order), (x, y lo, y hi): from `y_err` (y ± e) or `y_lo`/`y_hi`.
    pub bands: Vec<Intervals>,
    /// Per series (same order), (y, x lo, x hi): from `x_lo`/`x_hi`.
    pub xbars: Vec<Intervals>,
    pub baseline: Option<f64>,
    /// A baseline that varies with x: (x, value), sorted by x.
    pub baseline_curve: Vec<(f64, f64)>,
    /// `name = value` parts of the `annotate` table's first row (empty = none).
    pub note: Vec<String>,
    /// On a log x axis, where x = 0 is drawn (see [`log_scale_x`]).
    pub zero_at: Option<f64>,
}

/// How y's error is given: per y column, a symmetric error column, or the columns of an
/// interval's two ends.
#[derive(Debug, Clone, PartialEq)]
pub enum YErr {
    None,
    Symmetric(Vec<String>),
    Ends(Vec<String>, Vec<String>),
}

/// The error params, checked against each other and against the y columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Errors {
    pub y: YErr,
    /// `x_lo` and `x_hi`.
    pub x: Option<(String, String)>,
}

/// The comma-separated column names of a param ("" = none).
fn names(req: &StageRequest, param: &str) -> Result<Vec<String>, EngineError> {
    Ok(req
        .str(param)?
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(String::from)
        .collect())
}

/// The columns of an interval's lower and upper ends.
type EndColumns = (Vec<String>, Vec<String>);

/// Both ends of an interval or neither: `lo`'s and `hi`'s columns, or `None`.
fn ends(
    lo: (&str, Vec<String>),
    hi: (&str, Vec<String>),
    what: &str,
) -> Result<Option<EndColumns>, EngineError> {
    match (lo.1.is_empty(), hi.1.is_empty()) {
        (true, true) => Ok(None),
        (false, false) => Ok(Some((lo.1, hi.1))),
        (set, _) => {
            let (given, missing) = if set { (hi.0, lo.0) } else { (lo.0, hi.0) };
            Err(EngineError::param(
                missing,
                format!(
                    "`{given}` is set but `{missing}` is not: an interval needs both ends, \
                     {what} (or set neither)"
                ),
            ))
        }
    }
}

/// Read and check `y_err`, `y_lo`, `y_hi`, `x_lo` and `x_hi` for `n_y` y columns.
pub fn error_params(req: &StageRequest, n_y: usize) -> Result<Errors, EngineError> {
    let sym = names(req, "y_err")?;
    let y_ends = ends(
        ("y_lo", names(req, "y_lo")?),
        ("y_hi", names(req, "y_hi")?),
        "one column each per y column, in the same order",
    )?;
    let count = |param: &str, n: usize, noun: &str| {
        if n == n_y {
            return Ok(());
        }
        Err(EngineError::param(
            param,
            format!(
                "names {n} column(s) for {n_y} y column(s); give one {noun} per y column, in \
                 the same order"
            ),
        ))
    };
    let y = match (sym.is_empty(), y_ends) {
        (true, None) => YErr::None,
        (false, None) => {
            count("y_err", sym.len(), "error column")?;
            YErr::Symmetric(sym)
        }
        (true, Some((lo, hi))) => {
            count("y_lo", lo.len(), "lower-end column")?;
            count("y_hi", hi.len(), "upper-end column")?;
            YErr::Ends(lo, hi)
        }
        (false, Some(_)) => {
            return Err(EngineError::param(
                "y_err",
                "is set together with `y_lo`/`y_hi`: use `y_err` for a symmetric error (y ± e) \
                 or `y_lo` and `y_hi` for an interval's two ends, not both",
            ));
        }
    };
    let x = ends(
        ("x_lo", names(req, "x_lo")?),
        ("x_hi", names(req, "x_hi")?),
        "one column each",
    )?;
    let x = match x {
        None => None,
        Some((mut lo, mut hi)) if lo.len() == 1 && hi.len() == 1 => {
            Some((lo.remove(0), hi.remove(0)))
        }
        Some((lo, _)) => {
            let param = if lo.len() == 1 { "x_hi" } else { "x_lo" };
            return Err(EngineError::param(
                param,
                "names several columns: x is one column, so its interval is one column each",
            ));
        }
    };
    Ok(Errors { y, x })
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

/// The first row of table `name` in any input as `col = value` parts: numeric columns
/// only; a column `c` with columns `c_lo` and `c_hi` (e.g. `correlate`'s `pearson_r`) is
/// `c = v [lo, hi]` (just `c = v` when an end is NaN), and those two are not repeated.
fn annotation(req: &StageRequest, name: &str) -> Result<Vec<String>, EngineError> {
    if name.is_empty() {
        return Ok(Vec::new());
    }
    let Some(b) = req.inputs.iter().find_map(|i| i.table(Some(name))) else {
        return Err(EngineError::param(
            "annotate",
            format!("no input has a `{name}` table"),
        ));
    };
    let schema = b.schema();
    let has = |c: &str| schema.field_with_name(c).is_ok();
    // A number, not a flag: booleans are left out.
    let number = |c: &str| -> Option<f64> {
        let f = schema.field_with_name(c).ok()?;
        if f.data_type() == &DataType::Boolean {
            return None;
        }
        col_f64(b, c).ok()?.first().copied()
    };
    let mut parts = Vec::new();
    for f in schema.fields() {
        let c = f.name().as_str();
        let end_of = c.strip_suffix("_lo").or_else(|| c.strip_suffix("_hi"));
        if end_of.is_some_and(|base| {
            has(base) && has(&format!("{base}_lo")) && has(&format!("{base}_hi"))
        }) {
            continue;
        }
        let Some(x) = number(c) else { continue };
        let mut part = format!("{c} = {}", significant(x));
        if let (Some(lo), Some(hi)) = (number(&format!("{c}_lo")), number(&format!("{c}_hi")))
            && lo.is_finite()
            && hi.is_finite()
        {
            part.push_str(&format!(" [{}, {}]", significant(lo), significant(hi)));
        }
        parts.push(part);
    }
    Ok(parts)
}

/// Three significant digits (integers as they are).
pub fn significant(x: f64) -> String {
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
pub fn least_squares(pts: &[(f64, f64)]) -> Option<(f64, f64)> {
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

/// What `collect` reads, from the params.
struct Setup<'a> {
    table: &'a str,
    x: &'a str,
    y: Vec<&'a str>,
    series: &'a str,
    baseline_col: Option<&'a str>,
    log_x: bool,
    log_y: bool,
    errors: Errors,
}

impl<'a> Setup<'a> {
    fn of(req: &'a StageRequest) -> Result<Self, EngineError> {
        // `y = "a,b"` plots several columns, one series each (named by the column).
        let y: Vec<&str> = req.str("y")?.split(',').map(str::trim).collect();
        Ok(Setup {
            table: req.str("table")?,
            x: req.str("x")?,
            errors: error_params(req, y.len())?,
            y,
            series: req.str("series")?,
            baseline_col: match req.opt("baseline") {
                Some(Value::Str(s)) if !s.is_empty() => Some(s.as_str()),
                _ => None,
            },
            log_x: req.bool("log_x")?,
            log_y: req.bool("log_y")?,
        })
    }
}

/// The rows gathered so far, keyed by series.
#[derive(Default)]
struct Gathered {
    map: BTreeMap<String, Vec<(f64, f64)>>,
    order: Vec<String>,
    bands: BTreeMap<String, Intervals>,
    xbars: BTreeMap<String, Intervals>,
    curve: Vec<(f64, f64)>,
    baseline: Option<f64>,
}

/// One y column's error columns of one table, read: per row, y's and x's interval ends.
struct RowErrors {
    y: Option<(Vec<f64>, Vec<f64>)>,
    x: Option<(Vec<f64>, Vec<f64>)>,
}

impl RowErrors {
    fn read(b: &RecordBatch, e: &Errors, k: usize, ys: &[f64]) -> Result<Self, EngineError> {
        let y = match &e.y {
            YErr::None => None,
            YErr::Symmetric(c) => {
                let es = param_col(b, "y_err", &c[k])?;
                let lo = ys.iter().zip(&es).map(|(y, e)| y - e).collect();
                let hi = ys.iter().zip(&es).map(|(y, e)| y + e).collect();
                Some((lo, hi))
            }
            YErr::Ends(lo, hi) => {
                Some((param_col(b, "y_lo", &lo[k])?, param_col(b, "y_hi", &hi[k])?))
            }
        };
        let x = match &e.x {
            None => None,
            Some((lo, hi)) => Some((param_col(b, "x_lo", lo)?, param_col(b, "x_hi", hi)?)),
        };
        Ok(RowErrors { y, x })
    }
}

/// Add one input's table to `g`.
fn gather_table(
    s: &Setup<'_>,
    input: &StageInput,
    b: &RecordBatch,
    g: &mut Gathered,
) -> Result<(), EngineError> {
    let xs = param_col(b, "x", s.x)?;
    if let Some(bc) = s.baseline_col {
        let bs = param_col(b, "baseline", bc)?;
        if g.baseline.is_none() {
            g.baseline = bs.first().copied();
        }
        g.curve.extend(xs.iter().copied().zip(bs));
    }
    let (lx, ly) = (s.log_x, s.log_y);
    for (k, y_col) in s.y.iter().enumerate() {
        let ys = param_col(b, "y", y_col)?;
        let errs = RowErrors::read(b, &s.errors, k, &ys)?;
        for (row, (&x, &y)) in xs.iter().zip(&ys).enumerate() {
            let mut key = series_key(input, b, s.series, row)?;
            if s.y.len() > 1 {
                key = if key.is_empty() {
                    y_col.to_string()
                } else {
                    format!("{key} · {y_col}")
                };
            }
            if !g.map.contains_key(&key) {
                g.order.push(key.clone());
            }
            let on_axis = x.is_finite() && y.is_finite() && (!lx || x >= 0.0);
            if let Some((lo, hi)) = &errs.y
                && on_axis
                && lo[row].is_finite()
                && hi[row].is_finite()
            {
                let (lo, hi) = if ly {
                    (lo[row].max(y * 1e-3).log10(), hi[row].log10())
                } else {
                    (lo[row], hi[row])
                };
                g.bands.entry(key.clone()).or_default().push((x, lo, hi));
            }
            // x goes to log scale in `finish`, once the smallest positive x is known.
            let y = if ly { y.log10() } else { y };
            if let Some((lo, hi)) = &errs.x
                && y.is_finite()
                && lo[row].is_finite()
                && hi[row].is_finite()
            {
                g.xbars
                    .entry(key.clone())
                    .or_default()
                    .push((y, lo[row], hi[row]));
            }
            if x.is_finite() && y.is_finite() && (!lx || x >= 0.0) {
                g.map.entry(key).or_default().push((x, y));
            } else {
                g.map.entry(key).or_default();
            }
        }
    }
    Ok(())
}

pub fn collect(req: &StageRequest) -> Result<Data, EngineError> {
    let s = Setup::of(req)?;
    let mut g = Gathered {
        baseline: match req.opt("baseline") {
            Some(v) if v.as_f64().is_some() => v.as_f64(),
            _ => None,
        },
        ..Gathered::default()
    };
    let mut any = false;
    for input in &req.inputs {
        let b = if s.table.is_empty() {
            input.table(None)
        } else {
            input.table(Some(s.table))
        };
        let Some(b) = b else { continue };
        any = true;
        gather_table(&s, input, b, &mut g)?;
    }
    if !any {
        return Err(EngineError::Input(format!(
            "no input has a `{}` table",
            s.table
        )));
    }
    let note = annotation(req, req.str("annotate")?)?;
    Ok(finish(g, &s, note))
}

/// Log scales, series order, sorting, and the baseline's form.
fn finish(mut g: Gathered, s: &Setup<'_>, note: Vec<String>) -> Data {
    let zero_at = if s.log_x {
        let z = log_scale_x(&mut g.map);
        for pts in g.bands.values_mut() {
            log_x_in_place(pts.iter_mut().map(|p| &mut p.0), z);
            pts.retain(|p| p.0.is_finite());
        }
        for bars in g.xbars.values_mut() {
            log_x_in_place(bars.iter_mut().flat_map(|p| [&mut p.1, &mut p.2]), z);
            bars.retain(|p| p.1.is_finite() && p.2.is_finite());
        }
        log_x_in_place(g.curve.iter_mut().map(|p| &mut p.0), z);
        z
    } else {
        None
    };
    // Numeric series labels are ordered numerically, others by first appearance.
    let mut order = g.order;
    if order.iter().all(|k| k.parse::<f64>().is_ok()) {
        order.sort_by(|a, b| {
            a.parse::<f64>()
                .unwrap_or(0.0)
                .total_cmp(&b.parse::<f64>().unwrap_or(0.0))
        });
    }
    let take = |m: &mut BTreeMap<String, Intervals>| -> Vec<Intervals> {
        order
            .iter()
            .map(|k| {
                let mut b = m.remove(k).unwrap_or_default();
                b.sort_by(|a, b| a.0.total_cmp(&b.0));
                b
            })
            .collect()
    };
    let bands = take(&mut g.bands);
    let xbars = take(&mut g.xbars);
    let series = order
        .into_iter()
        .map(|k| {
            let mut pts = g.map.remove(&k).unwrap_or_default();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            (k, pts)
        })
        .collect();
    // A baseline column that varies is drawn as a curve through its values.
    let mut curve = g.curve;
    curve.retain(|p| p.0.is_finite() && p.1.is_finite());
    curve.sort_by(|a, b| a.0.total_cmp(&b.0));
    curve.dedup_by(|a, b| a.0 == b.0);
    let ly = s.log_y;
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
    let baseline = g
        .baseline
        .map(|b| if ly { b.log10() } else { b })
        .filter(|b| b.is_finite());
    Data {
        series,
        bands,
        xbars,
        baseline: if varies { None } else { baseline },
        baseline_curve,
        note,
        zero_at,
    }
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
pub fn log_scale_x(map: &mut BTreeMap<String, Vec<(f64, f64)>>) -> Option<f64> {
    let xs = || map.values().flatten().map(|p| p.0);
    let min_pos = xs().filter(|&x| x > 0.0).fold(f64::INFINITY, f64::min);
    let zero_at = (xs().any(|x| x == 0.0) && min_pos.is_finite()).then_some(min_pos / 2.0);
    for pts in map.values_mut() {
        log_x_in_place(pts.iter_mut().map(|p| &mut p.0), zero_at);
        pts.retain(|p| p.0.is_finite());
    }
    zero_at
}
