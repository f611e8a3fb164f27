//! `warmstart.Experiment`: an experiment file and a cache, and what a notebook does with
//! them — `status()`, `load()`, `run()`, `export()`.
//!
//! Every call reads the experiment file again (loading is milliseconds): a notebook that
//! edits the file and re-runs a cell sees the edit, exactly as a new `warmstart` command
//! would. The cache defaults to the CLI's (`WARMSTART_CACHE`, else `./cache`).

use std::path::{Path, PathBuf};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use warmstart::{Plan, Store};

use crate::arrow::ArrowStream;
use crate::errors::{self, Error};
use crate::progress::{self, Progress, RunSummary};
use crate::status::StatusTable;

/// An experiment file and the cache its results live in.
///
/// `Experiment(path, cache=None)`: `cache` defaults to `$WARMSTART_CACHE`, else `./cache`
/// (relative to the current directory, like the `warmstart` command). The file is checked
/// at once: an invalid file raises `warmstart.SpecError`.
#[pyclass(frozen, module = "warmstart")]
pub struct Experiment {
    /// The file, as given (messages and commands show it so).
    path: PathBuf,
    cache: PathBuf,
    /// Whether the cache is not the one `warmstart` would use without `--cache`.
    cache_given: bool,
    name: String,
}

#[pymethods]
impl Experiment {
    #[new]
    #[pyo3(signature = (path, cache = None))]
    fn new(py: Python<'_>, path: PathBuf, cache: Option<PathBuf>) -> PyResult<Self> {
        let env = std::env::var_os("WARMSTART_CACHE").map(PathBuf::from);
        let cache_given = cache.is_some() || env.is_some();
        let cache = cache.or(env).unwrap_or_else(|| PathBuf::from("cache"));
        let plan = load(py, &path)?;
        Ok(Experiment {
            name: plan.experiment.name.clone(),
            path,
            cache,
            cache_given,
        })
    }

    /// The experiment file, as given.
    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// The cache directory.
    #[getter]
    fn cache(&self) -> PathBuf {
        self.cache.clone()
    }

    /// The experiment's name (`[experiment] name`).
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// The stage names, in the file's order.
    #[getter]
    fn stages(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let plan = load(py, &self.path)?;
        Ok(plan
            .experiment
            .stages
            .iter()
            .map(|s| s.name.clone())
            .collect())
    }

    /// Every instance: stage, coordinates, fresh or stale (and why), key. A table in a
    /// notebook; `.to_pandas()` for the data.
    fn status(&self, py: Python<'_>) -> PyResult<StatusTable> {
        let (plan, store) = self.open(py)?;
        let assessment = py.detach(|| warmstart::assess(&plan, &store));
        let rows = warmstart::status::plan_rows(&plan, &assessment);
        let batch = warmstart::table::status_table(&plan, &assessment);
        Ok(StatusTable::new(plan.experiment.name.clone(), rows, batch))
    }

    /// A stage's output table as a `pyarrow.Table`: every instance of `stage` (or those
    /// matching `at`, e.g. `at={"r0": 0.3}`), one after another, coordinates as leading
    /// columns. `table` names the output table (default: the stage's first). Raises
    /// `StaleError` if any of them must run first.
    #[pyo3(signature = (stage, table = None, at = None))]
    fn load(
        &self,
        py: Python<'_>,
        stage: &str,
        table: Option<&str>,
        at: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let filters = at.map(filters).transpose()?.unwrap_or_default();
        let (plan, store) = self.open(py)?;
        let nodes = warmstart::select::select(&plan, stage, &filters).map_err(select_error)?;
        let read = py.detach(|| {
            let assessment = warmstart::assess(&plan, &store);
            warmstart::table::stage_table(&plan, &assessment, &store, &nodes, table)
        });
        let what = if filters.is_empty() {
            format!("`{stage}`")
        } else {
            format!("`{stage}` at {}", warmstart::select::filters_text(&filters))
        };
        let t = read.map_err(|e| errors::stage_table_error(py, e, &what, &self.command()))?;
        ArrowStream::new(t.schema, t.batches).into_pyarrow(py)
    }

    /// Run every instance that is not fresh, with the same scheduler as `warmstart run`.
    /// `jobs`: thread slots (default: the cores). `progress`: `True` prints a line per
    /// finished instance (cached ones are only counted) and a summary to `sys.stdout`;
    /// `False` is quiet; a callable gets every event as a dict (the `warmstart run --json`
    /// format). Ctrl-C stops launching stages and raises `KeyboardInterrupt` once the
    /// running ones end. Returns a `RunSummary`; failed stages do not raise.
    #[pyo3(signature = (jobs = None, fail_fast = false, progress = None))]
    fn run(
        &self,
        py: Python<'_>,
        jobs: Option<usize>,
        fail_fast: bool,
        progress: Option<Bound<'_, PyAny>>,
    ) -> PyResult<RunSummary> {
        let mut opts = warmstart::RunOptions {
            fail_fast,
            ..warmstart::RunOptions::default()
        };
        match jobs {
            Some(0) => return Err(PyValueError::new_err("jobs must be at least 1")),
            Some(j) => opts.jobs = j,
            None => {}
        }
        let progress = Progress::from_arg(progress)?;
        let (plan, store) = self.open(py)?;
        progress::run(py, &plan, &store, &opts, progress)
    }

    /// Write every fresh instance's tables as Parquet (and figures as files) under `out`,
    /// with an `index.json`, as `warmstart export` does. Returns the export report as a
    /// dict (`exported`, `missing`, …).
    fn export(&self, py: Python<'_>, out: PathBuf) -> PyResult<Py<PyAny>> {
        let (plan, store) = self.open(py)?;
        let report = py.detach(|| {
            let assessment = warmstart::assess(&plan, &store);
            warmstart::export::export(&plan, &assessment, &store, &out)
        });
        let report = report.map_err(|e| Error::new_err(e.to_string()))?;
        let json = serde_json::to_string(&report).map_err(|e| Error::new_err(e.to_string()))?;
        Ok(py.import("json")?.call_method1("loads", (json,))?.unbind())
    }

    fn __repr__(&self) -> String {
        format!(
            "Experiment({:?}, cache={:?})",
            self.path.display().to_string(),
            self.cache.display().to_string()
        )
    }
}

impl Experiment {
    /// The plan (the file read again) and the cache.
    fn open(&self, py: Python<'_>) -> PyResult<(Plan, Store)> {
        let plan = load(py, &self.path)?;
        let store = warmstart::open_cache(&self.cache).map_err(|e| errors::open_cache_error(&e))?;
        Ok((plan, store))
    }

    /// The shell command that brings this experiment up to date in this cache.
    fn command(&self) -> String {
        let mut cmd = format!("warmstart run {}", shell_word(&self.path));
        if self.cache_given {
            cmd.push_str(&format!(" --cache {}", shell_word(&self.cache)));
        }
        cmd
    }
}

/// Load and check the experiment file (without holding the interpreter).
fn load(py: Python<'_>, path: &Path) -> PyResult<Plan> {
    py.detach(|| warmstart::load(path))
        .map_err(|e| errors::spec_error(py, &e.0))
}

/// `{"r0": 0.3, "method": "pca"}` → `[("r0", "0.3"), ("method", "pca")]`, the text the
/// facade's filters match (numbers numerically, the rest as text; booleans as in TOML).
fn filters(at: &Bound<'_, PyDict>) -> PyResult<Vec<(String, String)>> {
    at.iter()
        .map(|(k, v)| {
            let axis: String = k.extract()?;
            let value = if let Ok(b) = v.extract::<bool>() {
                b.to_string()
            } else if let Ok(s) = v.cast::<PyString>() {
                s.to_string()
            } else {
                v.str()?.to_string()
            };
            Ok((axis, value))
        })
        .collect()
}

fn select_error(e: warmstart::select::SelectError) -> PyErr {
    use warmstart::select::SelectError;
    match &e {
        SelectError::NoStage { hint, .. } => Error::new_err(format!("{e} ({hint})")),
        SelectError::UnknownAxis { axes, hint, .. } => {
            let near = hint
                .as_deref()
                .map(|h| format!("{h}; "))
                .unwrap_or_default();
            Error::new_err(format!("{e} ({near}its axes: {})", axes.join(", ")))
        }
        SelectError::NoValue {
            axis, values, hint, ..
        } => {
            let near = hint
                .as_deref()
                .map(|h| format!("{h}; "))
                .unwrap_or_default();
            Error::new_err(format!(
                "{e} ({near}values of `{axis}`: {})",
                values.join(", ")
            ))
        }
        _ => Error::new_err(e.to_string()),
    }
}

/// `path` as one shell word: as is when it is plain, else single-quoted.
fn shell_word(path: &Path) -> String {
    let s = path.display().to_string();
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./-+=:,@%".contains(c));
    if plain {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}
