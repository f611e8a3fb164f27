//! The status of every instance, for a notebook: [`StatusTable`] renders itself as HTML
//! (`_repr_html_`, what Jupyter shows) and as text (`repr`), and hands its rows on as an
//! Arrow table (`to_arrow`, `to_pandas`, the Arrow PyCapsule interface).
//!
//! The data is the facade's (`status::plan_rows`, `table::status_table`); only the
//! rendering is here. Long plans are folded: the first [`MAX_SHOWN`] rows are drawn and
//! the rest counted, so a 10 000-instance plan does not freeze a notebook.

use pyo3::prelude::*;
use pyo3::types::PyCapsule;
use warmstart::RecordBatch;
use warmstart::status::PlanRow;

use crate::arrow::ArrowStream;

/// Rows drawn by `_repr_html_` and `repr`; the table itself always has all of them.
const MAX_SHOWN: usize = 200;

/// Every instance of an experiment: stage, coordinates, fresh or stale, key, and why it
/// would run. Shown as a table in notebooks; `to_pandas()` / `to_arrow()` for the data
/// (columns `stage`, `label`, one per axis, `status`, `key`, `reasons`).
#[pyclass(frozen, module = "warmstart")]
pub struct StatusTable {
    experiment: String,
    rows: Vec<PlanRow>,
    batch: RecordBatch,
}

impl StatusTable {
    pub fn new(experiment: String, rows: Vec<PlanRow>, batch: RecordBatch) -> Self {
        StatusTable {
            experiment,
            rows,
            batch,
        }
    }

    fn fresh_count(&self) -> usize {
        self.rows.iter().filter(|r| r.fresh).count()
    }

    fn headline(&self) -> String {
        let fresh = self.fresh_count();
        format!(
            "{}: {} instances — {fresh} fresh, {} stale",
            self.experiment,
            self.rows.len(),
            self.rows.len() - fresh
        )
    }
}

/// `a=1, b=x` (empty for an instance without coordinates).
fn coords_text(row: &PlanRow) -> String {
    row.coords
        .iter()
        .map(|(a, v)| match v {
            serde_json::Value::String(s) => format!("{a}={s}"),
            v => format!("{a}={v}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn key_text(row: &PlanRow) -> String {
    row.key.map(|k| k.short()).unwrap_or_default()
}

/// Escape text for HTML element content and attribute values (the report's escaper).
fn esc(s: &str) -> String {
    warmstart::html::escape_html(s)
}

#[pymethods]
impl StatusTable {
    /// Instances in the experiment.
    fn __len__(&self) -> usize {
        self.rows.len()
    }

    /// How many instances are fresh (their output is in the cache).
    #[getter]
    fn fresh(&self) -> usize {
        self.fresh_count()
    }

    /// How many instances would run.
    #[getter]
    fn stale(&self) -> usize {
        self.rows.len() - self.fresh_count()
    }

    /// The rows as a `pyarrow.Table` (no copy).
    fn to_arrow(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        ArrowStream::of_batch(self.batch.clone()).into_pyarrow(py)
    }

    /// The rows as a `pandas.DataFrame` (needs pandas).
    fn to_pandas(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(self
            .to_arrow(py)?
            .bind(py)
            .call_method0("to_pandas")?
            .unbind())
    }

    /// The Arrow PyCapsule interface: `pyarrow.table(status)` works too.
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        Bound::new(py, ArrowStream::of_batch(self.batch.clone()))?
            .call_method1("__arrow_c_stream__", (requested_schema,))?
            .cast_into::<PyCapsule>()
            .map_err(Into::into)
    }

    fn __repr__(&self) -> String {
        let mut lines = vec![self.headline()];
        let shown = &self.rows[..self.rows.len().min(MAX_SHOWN)];
        let header = ["stage", "coords", "status", "key", "why"];
        let cells: Vec<[String; 5]> = shown
            .iter()
            .map(|r| {
                [
                    r.stage.clone(),
                    coords_text(r),
                    if r.fresh { "fresh" } else { "stale" }.to_string(),
                    key_text(r),
                    r.reasons.first().cloned().unwrap_or_default(),
                ]
            })
            .collect();
        let mut widths = header.map(|h| h.chars().count());
        for row in &cells {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cols: [&str; 5]| {
            let padded: Vec<String> = cols
                .iter()
                .zip(widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            padded.join("  ").trim_end().to_string()
        };
        lines.push(line(header));
        for row in &cells {
            lines.push(line([&row[0], &row[1], &row[2], &row[3], &row[4]]));
        }
        if self.rows.len() > shown.len() {
            lines.push(format!(
                "… {} more (all rows: .to_pandas())",
                self.rows.len() - shown.len()
            ));
        }
        lines.join("\n")
    }

    /// The table as HTML, for Jupyter: stale rows are marked, their first reason shown.
    fn _repr_html_(&self) -> String {
        let mut h = String::from("<div class=\"warmstart-status\">");
        h.push_str(&format!("<p><b>{}</b></p>", esc(&self.headline())));
        h.push_str(
            "<table><thead><tr><th>stage</th><th>coords</th><th>status</th><th>key</th>\
             <th>why</th></tr></thead><tbody>",
        );
        for r in self.rows.iter().take(MAX_SHOWN) {
            let (status, colour) = if r.fresh {
                ("fresh", "#1a7f37")
            } else {
                ("stale", "#bf8700")
            };
            let why = r.reasons.join("; ");
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td style=\"color:{colour}\">{status}</td>\
                 <td><code title=\"{}\">{}</code></td><td>{}</td></tr>",
                esc(&r.stage),
                esc(&coords_text(r)),
                esc(&r.key.map(|k| k.to_string()).unwrap_or_default()),
                esc(&key_text(r)),
                esc(&why),
            ));
        }
        h.push_str("</tbody></table>");
        if self.rows.len() > MAX_SHOWN {
            h.push_str(&format!(
                "<p>… {} more instances (all rows: <code>.to_pandas()</code>)</p>",
                self.rows.len() - MAX_SHOWN
            ));
        }
        h.push_str("</div>");
        h
    }
}
