//! The two sides of a correlation: gathering each instance's rows, aligning them for the
//! bootstrap, and the bootstrap itself.
//!
//! A side is the instances of one stage (one per point). For the bootstrap its rows are
//! aligned across instances — by the `id` column when every instance's table has one (all
//! must hold the same ids), else by position (all must have as many rows) — so that one
//! resample of row indices means the same rows (test pairs) in every instance. A side whose
//! tables have one row is fixed: every resample keeps its value. x and y use the same
//! indices (paired) when their rows are the same rows: the same ids, or the same stage's
//! same table; otherwise they are resampled independently.

use std::collections::{BTreeMap, HashMap, HashSet};

use warmstart_engine::{EngineError, StageInput, label};

use super::{pearson, ranks};
use crate::bootstrap::{Resampler, Rows, Settings, align_by_id, mean_at, percentile_interval};
use crate::tables::{numbers, strings};

/// What the user can do when rows cannot be aligned.
const FIX: &str = "gather instances evaluated on the same split (e.g. the same test set), or \
                   set `bootstrap = 0` for no intervals";

/// One instance's column: a value per row, the rows' ids if its table has an `id` column.
#[derive(Debug, Clone)]
pub struct Instance {
    pub label: String,
    pub values: Vec<f64>,
    pub ids: Option<Vec<String>>,
}

impl Instance {
    /// The mean over rows: the instance's point.
    pub fn mean(&self) -> f64 {
        self.values.iter().sum::<f64>() / self.values.len() as f64
    }
}

/// Which table and column of which stage's instances a side reads.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub stage: &'a str,
    pub table: &'a str,
    pub column: &'a str,
}

/// The instances of `src.stage` among `inputs`, keyed by their value of `axis` (or, with
/// `axis` empty, by all their coordinates).
pub fn gather(
    inputs: &[StageInput],
    src: Source<'_>,
    axis: &str,
) -> Result<BTreeMap<String, Instance>, EngineError> {
    let Source {
        stage,
        table,
        column,
    } = src;
    let mut out = BTreeMap::new();
    for inp in inputs.iter().filter(|i| i.stage == stage) {
        let t = if table.is_empty() {
            inp.table(None)
        } else {
            inp.table(Some(table))
        }
        .ok_or_else(|| EngineError::Input(format!("input `{stage}` has no table `{table}`")))?;
        let values = numbers(t, column)?;
        if values.is_empty() {
            return Err(EngineError::Input(format!(
                "column `{column}` of `{stage}` is empty"
            )));
        }
        let ids = match t.column_by_name("id") {
            Some(_) => Some(strings(t, "id")?),
            None => None,
        };
        let key = if axis.is_empty() {
            inp.coords
                .iter()
                .map(|(a, v)| format!("{a}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        } else {
            inp.coord(axis).map(|v| v.to_string()).ok_or_else(|| {
                EngineError::param(
                    "axis",
                    format!("input `{stage}` has no coordinate `{axis}`"),
                )
            })?
        };
        let instance = Instance {
            label: label(&inp.stage, &inp.coords),
            values,
            ids,
        };
        if out.insert(key.clone(), instance).is_some() {
            return Err(EngineError::param(
                "axis",
                format!(
                    "several instances of `{stage}` at {key}: choose an `axis` that tells them apart"
                ),
            ));
        }
    }
    if out.is_empty() {
        return Err(EngineError::Input(format!("no input from stage `{stage}`")));
    }
    Ok(out)
}

/// One side's instances (one per point) with their rows aligned: row `i` of every point is
/// the same row (pair).
#[derive(Debug, Clone)]
pub struct Side {
    /// Per point, its values in the aligned order.
    pub rows: Vec<Vec<f64>>,
    /// The aligned rows' ids, when aligned by id.
    pub ids: Option<Vec<String>>,
}

impl Side {
    /// Rows per point.
    pub fn n(&self) -> usize {
        self.rows.first().map_or(0, Vec::len)
    }
    /// One row per point: nothing to resample.
    pub fn fixed(&self) -> bool {
        self.n() <= 1
    }

    /// Align `points` (one instance per point; `what` names their table in messages, e.g.
    /// "`predictions` table").
    pub fn align(points: &[&Instance], what: &str) -> Result<Side, EngineError> {
        if points.iter().all(|p| p.ids.is_some()) {
            let rows: Vec<Rows<'_>> = points
                .iter()
                .map(|p| Rows {
                    label: p.label.clone(),
                    ids: p.ids.clone().unwrap_or_default(),
                    values: &p.values,
                })
                .collect();
            let a = align_by_id(&rows, what, FIX)?;
            return Ok(Side {
                rows: a.values,
                ids: Some(a.ids),
            });
        }
        if let Some(first) = points.first()
            && let Some(p) = points.iter().find(|p| p.values.len() != first.values.len())
        {
            return Err(EngineError::Input(format!(
                "the {what}s of `{}` ({} rows) and `{}` ({} rows) have different row counts \
                 and no `id` column to align their rows by: the bootstrap resamples the same \
                 rows in all of them; {FIX}",
                first.label,
                first.values.len(),
                p.label,
                p.values.len()
            )));
        }
        Ok(Side {
            rows: points.iter().map(|p| p.values.clone()).collect(),
            ids: None,
        })
    }

    /// Reorder this side's rows into `order` (ids), if it holds exactly those ids; whether
    /// it did.
    pub fn reorder_to(&mut self, order: &[String]) -> bool {
        let Some(ids) = &self.ids else { return false };
        let same = ids.len() == order.len() && {
            let mine: HashSet<&String> = ids.iter().collect();
            order.iter().all(|id| mine.contains(id))
        };
        if !same {
            return false;
        }
        let at: HashMap<&String, usize> = ids.iter().enumerate().map(|(i, id)| (id, i)).collect();
        let perm: Vec<usize> = order.iter().filter_map(|id| at.get(id).copied()).collect();
        if perm.len() != order.len() {
            return false;
        }
        for r in &mut self.rows {
            *r = perm.iter().map(|&i| r[i]).collect();
        }
        self.ids = Some(order.to_vec());
        true
    }
}

/// The bootstrap's results: percentile intervals of Pearson r, Spearman ρ, and each
/// point's x and y.
#[derive(Debug, Clone, PartialEq)]
pub struct Bands {
    /// Resamples drawn (0 = no bootstrap; every interval is NaN).
    pub resamples: usize,
    pub pearson_r: (f64, f64),
    pub spearman_rho: (f64, f64),
    pub x: Vec<(f64, f64)>,
    pub y: Vec<(f64, f64)>,
}

impl Bands {
    /// No bootstrap over `n` points.
    pub fn none(n: usize) -> Bands {
        let nan = (f64::NAN, f64::NAN);
        Bands {
            resamples: 0,
            pearson_r: nan,
            spearman_rho: nan,
            x: vec![nan; n],
            y: vec![nan; n],
        }
    }
}

/// The bootstrap of both sides: per resample, every point's x and y (a fixed side keeps
/// its values; `paired` = y uses x's indices), then Pearson r and Spearman ρ over the
/// points. Nothing to resample (both sides fixed, or no resamples) gives [`Bands::none`].
pub fn bootstrap(x: &Side, y: &Side, paired: bool, s: &Settings) -> Bands {
    let points = x.rows.len();
    if s.resamples == 0 || (x.fixed() && y.fixed()) || y.rows.len() != points {
        return Bands::none(points);
    }
    let paired = paired && x.n() == y.n();
    let mut rng = Resampler::new(s.seed);
    let (mut ix, mut iy) = (Vec::with_capacity(x.n()), Vec::with_capacity(y.n()));
    let mut xb = vec![Vec::with_capacity(s.resamples); points];
    let mut yb = vec![Vec::with_capacity(s.resamples); points];
    let (mut r, mut rho) = (Vec::new(), Vec::new());
    let (mut xs, mut ys) = (vec![0.0; points], vec![0.0; points]);
    for _ in 0..s.resamples {
        if !x.fixed() {
            rng.draw(x.n(), &mut ix);
        }
        if !y.fixed() && !paired {
            rng.draw(y.n(), &mut iy);
        }
        let iy = if paired { &ix } else { &iy };
        for k in 0..points {
            xs[k] = resampled(&x.rows[k], x.fixed(), &ix);
            ys[k] = resampled(&y.rows[k], y.fixed(), iy);
            xb[k].push(xs[k]);
            yb[k].push(ys[k]);
        }
        r.push(pearson(&xs, &ys));
        rho.push(pearson(&ranks(&xs), &ranks(&ys)));
    }
    let c = s.confidence;
    Bands {
        resamples: s.resamples,
        pearson_r: percentile_interval(&mut r, c),
        spearman_rho: percentile_interval(&mut rho, c),
        x: xb.iter_mut().map(|v| percentile_interval(v, c)).collect(),
        y: yb.iter_mut().map(|v| percentile_interval(v, c)).collect(),
    }
}

/// A point's value in one resample: the mean at the indices, or the fixed value.
fn resampled(values: &[f64], fixed: bool, indices: &[usize]) -> f64 {
    if fixed {
        values[0]
    } else {
        mean_at(values, indices)
    }
}
