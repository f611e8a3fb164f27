//! The percentile bootstrap under `pgr` and `correlate`: resampling test pairs, aligning
//! several tables' rows by pair id, and percentile intervals.
//!
//! - Resamples are drawn by [`Resampler`], a [`SplitMix`] stream seeded from the stage seed:
//!   each resample is `n` indices drawn uniformly with replacement (`⌊u·n / 2⁶⁴⌋` for a
//!   64-bit draw `u`; the bias is below n/2⁶⁴). Everything runs on one thread, so the same
//!   seed gives bit-identical intervals whatever the thread count.
//! - Intervals are percentile intervals: the central `confidence` mass of the resampled
//!   statistic, `[Q((1−c)/2), Q((1+c)/2)]`, where `Q` is numpy's default quantile
//!   (`method = "linear"`): on the sorted values `v₀ ≤ … ≤ vₘ₋₁`, at `h = (m−1)·q`,
//!   `Q(q) = v⌊h⌋ + (h − ⌊h⌋)·(v⌊h⌋₊₁ − v⌊h⌋)` (computed as numpy does, so the values are
//!   numpy's to the bit). Resamples whose statistic is NaN (undefined: an empty gap, a
//!   constant side) are left out; with none left the interval is NaN.
//! - Tables of several stages are resampled together (the same pair indices for all) once
//!   their rows are aligned by their `id` column ([`align_by_id`]): they must hold exactly
//!   the same ids, since a paired bootstrap over test pairs needs the same test pairs.

use std::collections::HashMap;

use warmstart_engine::{EngineError, ParamSpec, StageRequest};

use crate::linear::SplitMix;

/// The most resamples a stage may ask for (memory grows with them: a few numbers each).
pub const MAX_RESAMPLES: i64 = 100_000;

/// The params `bootstrap` (resamples, 0 = none) and `confidence` of `pgr` and `correlate`.
pub fn param_specs() -> [ParamSpec; 2] {
    [
        ParamSpec::int(
            "bootstrap",
            "Bootstrap resamples over test pairs for the intervals (0 = no bootstrap: the \
             interval columns are NaN)",
        )
        .range(0.0, MAX_RESAMPLES as f64)
        .default(1000i64),
        ParamSpec::float(
            "confidence",
            "Confidence level of the percentile intervals (0.95: from the 2.5th to the 97.5th \
             percentile)",
        )
        .range(0.5, 0.999)
        .default(0.95),
    ]
}

/// The settings of one stage's bootstrap, from its params and seed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Resamples to draw (0 = none).
    pub resamples: usize,
    pub confidence: f64,
    pub seed: u64,
}

impl Settings {
    pub fn of(req: &StageRequest) -> Result<Settings, EngineError> {
        Ok(Settings {
            resamples: req.usize("bootstrap")?,
            confidence: req.f64("confidence")?,
            seed: req.seed,
        })
    }
}

/// Mixed into the stage seed so the bootstrap's stream differs from other uses of the seed.
const STREAM: u64 = 0x424F_4F54_5354_5250;

/// Draws resamples of pair indices.
pub struct Resampler(SplitMix);

impl Resampler {
    /// The resampler of a stage seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Resampler(SplitMix::new(seed ^ STREAM))
    }

    /// Fill `out` with `n` indices in `0..n`, drawn uniformly with replacement.
    pub fn draw(&mut self, n: usize, out: &mut Vec<usize>) {
        out.clear();
        out.extend((0..n).map(|_| ((u128::from(self.0.next_u64()) * n as u128) >> 64) as usize));
    }
}

/// The mean of `values` at `indices` (NaN for no indices).
pub fn mean_at(values: &[f64], indices: &[usize]) -> f64 {
    indices.iter().map(|&i| values[i]).sum::<f64>() / indices.len() as f64
}

/// numpy's default (`linear`) quantile `q ∈ [0, 1]` of `sorted` (ascending, no NaN); NaN
/// when empty.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let Some(last) = sorted.len().checked_sub(1) else {
        return f64::NAN;
    };
    let h = last as f64 * q;
    let below = (h.floor().max(0.0) as usize).min(last);
    let above = (below + 1).min(last);
    let (a, b, t) = (sorted[below], sorted[above], h - below as f64);
    // numpy's `_lerp`: from the nearer end, so t = 1 gives b exactly.
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// The central `confidence` percentile interval of `values` (NaNs left out; the rest are
/// sorted in place); `(NaN, NaN)` when nothing is left.
pub fn percentile_interval(values: &mut Vec<f64>, confidence: f64) -> (f64, f64) {
    values.retain(|v| !v.is_nan());
    values.sort_by(f64::total_cmp);
    (
        quantile_sorted(values, (1.0 - confidence) / 2.0),
        quantile_sorted(values, (1.0 + confidence) / 2.0),
    )
}

/// One table's rows to align: whose they are (for messages), their ids and their values.
pub struct Rows<'a> {
    pub label: String,
    pub ids: Vec<String>,
    pub values: &'a [f64],
}

/// Several tables' values aligned by id: row `i` of every table is pair `ids[i]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Aligned {
    /// The ids, in the first table's order.
    pub ids: Vec<String>,
    /// Per table, its values in that order.
    pub values: Vec<Vec<f64>>,
}

/// Align the rows of `tables` by id: every table must hold exactly the first table's ids,
/// each once. `what` names the tables in messages (e.g. "`predictions` table"); `fix` is
/// what the user can do when the ids differ.
pub fn align_by_id(tables: &[Rows<'_>], what: &str, fix: &str) -> Result<Aligned, EngineError> {
    let Some(first) = tables.first() else {
        return Ok(Aligned {
            ids: Vec::new(),
            values: Vec::new(),
        });
    };
    let mut slot: HashMap<&str, usize> = HashMap::with_capacity(first.ids.len());
    for (i, id) in first.ids.iter().enumerate() {
        if slot.insert(id, i).is_some() {
            return Err(duplicate(first, what, id));
        }
    }
    let mut values = Vec::with_capacity(tables.len());
    for t in tables {
        let differ = |example: String| {
            EngineError::Input(format!(
                "the {what}s of `{}` ({} rows) and `{}` ({} rows) do not hold the same ids \
                 ({example}): the bootstrap resamples the same pairs in all of them; {fix}",
                first.label,
                first.ids.len(),
                t.label,
                t.ids.len(),
            ))
        };
        let mut v = vec![f64::NAN; first.ids.len()];
        let mut seen = vec![false; first.ids.len()];
        for (id, &x) in t.ids.iter().zip(t.values) {
            let Some(&i) = slot.get(id.as_str()) else {
                return Err(differ(format!("`{id}` is in `{}` only", t.label)));
            };
            if std::mem::replace(&mut seen[i], true) {
                return Err(duplicate(t, what, id));
            }
            v[i] = x;
        }
        if let Some(i) = seen.iter().position(|s| !s) {
            return Err(differ(format!(
                "`{}` is in `{}` only",
                first.ids[i], first.label
            )));
        }
        values.push(v);
    }
    Ok(Aligned {
        ids: first.ids.clone(),
        values,
    })
}

fn duplicate(t: &Rows<'_>, what: &str, id: &str) -> EngineError {
    EngineError::Input(format!(
        "the {what} of `{}` holds id `{id}` more than once: rows cannot be aligned by id",
        t.label
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_numpys_linear_ones() {
        // numpy 2.4.6: a = [0.3, -1.25, 2.5, 7.0, 0.3, 4.125, -0.5];
        // [float(np.quantile(a, q)) for q in qs]
        let mut a = vec![0.3, -1.25, 2.5, 7.0, 0.3, 4.125, -0.5];
        a.sort_by(f64::total_cmp);
        let expect = [
            (0.0, -1.25),
            (0.025, -1.1375),
            (0.05, -1.025),
            (0.25, -0.10000000000000003),
            (0.5, 0.3),
            (0.9, 5.275000000000001),
            (0.975, 6.568749999999999),
            (1.0, 7.0),
        ];
        for (q, want) in expect {
            assert_eq!(quantile_sorted(&a, q), want, "q = {q}");
        }
        // np.quantile([5.0, 1.0], [0.025, 0.5, 0.975]) = [1.1, 3.0, 4.9]; one value is itself.
        let mut b = vec![5.0, 1.0, f64::NAN];
        assert_eq!(percentile_interval(&mut b, 0.95), (1.1, 4.9));
        assert_eq!(quantile_sorted(&b, 0.5), 3.0);
        assert_eq!(percentile_interval(&mut vec![3.5], 0.95), (3.5, 3.5));
        let (lo, hi) = percentile_interval(&mut vec![f64::NAN], 0.95);
        assert!(lo.is_nan() && hi.is_nan());
    }

    #[test]
    fn draws_cover_the_range_and_repeat_for_a_seed() {
        let (mut a, mut b) = (Resampler::new(7), Resampler::new(7));
        let (mut x, mut y) = (Vec::new(), Vec::new());
        a.draw(1000, &mut x);
        b.draw(1000, &mut y);
        assert_eq!(x, y);
        assert!(x.iter().all(|&i| i < 1000));
        // With replacement: about 1 − 1/e of the indices appear.
        let mut seen = vec![false; 1000];
        x.iter().for_each(|&i| seen[i] = true);
        let distinct = seen.iter().filter(|s| **s).count();
        assert!((580..=680).contains(&distinct), "{distinct}");
        Resampler::new(8).draw(1000, &mut y);
        assert_ne!(x, y);
    }

    fn rows<'a>(label: &str, ids: &[&str], values: &'a [f64]) -> Rows<'a> {
        Rows {
            label: label.into(),
            ids: ids.iter().map(|s| s.to_string()).collect(),
            values,
        }
    }

    #[test]
    fn alignment_reorders_by_id_and_refuses_other_ids() {
        let a = rows("weak", &["p", "q", "r"], &[1.0, 2.0, 3.0]);
        let b = rows("w2s", &["r", "p", "q"], &[30.0, 10.0, 20.0]);
        let al = align_by_id(&[a, b], "`predictions` table", "fix it").unwrap();
        assert_eq!(al.ids, ["p", "q", "r"]);
        assert_eq!(al.values[1], [10.0, 20.0, 30.0]);
        let a = rows("weak", &["p", "q", "r"], &[1.0, 2.0, 3.0]);
        let c = rows("ceiling", &["p", "q"], &[1.0, 2.0]);
        let e = align_by_id(&[a, c], "`predictions` table", "use the same split")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "input: the `predictions` tables of `weak` (3 rows) and `ceiling` (2 rows) do not \
             hold the same ids (`r` is in `weak` only): the bootstrap resamples the same pairs \
             in all of them; use the same split"
        );
        let a = rows("weak", &["p", "q"], &[1.0, 2.0]);
        let c = rows("ceiling", &["p", "x"], &[1.0, 2.0]);
        let e = align_by_id(&[a, c], "t", "f").unwrap_err().to_string();
        assert!(e.contains("`x` is in `ceiling` only"), "{e}");
        let a = rows("weak", &["p", "p"], &[1.0, 2.0]);
        let e = align_by_id(&[a], "t", "f").unwrap_err().to_string();
        assert!(e.contains("holds id `p` more than once"), "{e}");
    }
}
