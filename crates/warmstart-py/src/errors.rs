//! The package's exceptions and the conversion of facade errors into them.
//!
//! `warmstart.Error` is the base of all of them, so a notebook can catch one class:
//! `SpecError` (the experiment file is invalid; `file:line:col: message` per problem, as
//! data in `.errors`), `StaleError` (`load` of instances that must run first; the command
//! that makes them in the message and `.command`) and `CacheError` (the cache cannot be
//! opened or an entry cannot be read). Python's own `ValueError`/`KeyError` are kept for
//! wrong arguments.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use warmstart::read::ReadError;
use warmstart::table::{Missing, StageTableError};
use warmstart::{OpenCacheError, SpecErrors};

create_exception!(
    warmstart,
    Error,
    PyException,
    "Base class of every warmstart error."
);
create_exception!(
    warmstart,
    SpecError,
    Error,
    "The experiment file is invalid: the message has file:line:col per problem; `.errors` \
     has them as dicts (path, line, column, message, help)."
);
create_exception!(
    warmstart,
    StaleError,
    Error,
    "Instances asked for have no up-to-date output. `.missing` lists their labels, \
     `.command` is the shell command that makes them."
);
create_exception!(
    warmstart,
    CacheError,
    Error,
    "The cache cannot be opened, or an entry in it cannot be read."
);

/// At most this many problems (or missing instances) are spelled out in a message; the
/// rest are counted (a generated file can repeat one mistake thousands of times).
const MAX_LISTED: usize = 20;

/// One problem of an experiment file, located.
struct Located {
    path: String,
    line: usize,
    column: usize,
    message: String,
    help: Option<String>,
}

/// Where each error points: line and column (1-based) of its primary label, found through
/// the diagnostic's own source, as the CLI's miette rendering does.
fn locate(errors: &SpecErrors) -> Vec<Located> {
    use miette::Diagnostic;
    errors
        .0
        .iter()
        .map(|e| {
            let at = e
                .source_code()
                .zip(e.labels())
                .and_then(|(src, mut labels)| {
                    let l = labels.next()?;
                    let c = src.read_span(l.inner(), 0, 0).ok()?;
                    Some((c.line() + 1, c.column() + 1))
                });
            let (line, column) = at.unwrap_or((0, 0));
            Located {
                path: e.path.display().to_string(),
                line,
                column,
                message: e.message.clone(),
                help: e.help.clone(),
            }
        })
        .collect()
}

/// `SpecError` for an invalid experiment file: a header line, then
/// `path:line:col: message` (and `help: …`) per problem.
pub fn spec_error(py: Python<'_>, errors: &SpecErrors) -> PyErr {
    let located = locate(errors);
    let mut text = errors.to_string();
    for l in located.iter().take(MAX_LISTED) {
        text.push_str(&if l.line > 0 {
            format!("\n{}:{}:{}: {}", l.path, l.line, l.column, l.message)
        } else {
            format!("\n{}: {}", l.path, l.message)
        });
        if let Some(h) = &l.help {
            text.push_str(&format!("\n  help: {}", h.replace('\n', "\n        ")));
        }
    }
    if located.len() > MAX_LISTED {
        text.push_str(&format!("\n… and {} more", located.len() - MAX_LISTED));
    }
    let err = SpecError::new_err(text);
    let dicts = located.iter().map(|l| {
        let d = PyDict::new(py);
        d.set_item("path", &l.path)?;
        d.set_item("line", l.line)?;
        d.set_item("column", l.column)?;
        d.set_item("message", &l.message)?;
        d.set_item("help", &l.help)?;
        Ok(d)
    });
    if let Ok(list) = dicts
        .collect::<PyResult<Vec<_>>>()
        .and_then(|d| PyList::new(py, d))
    {
        // Best effort: the message already says everything.
        let _ = err.value(py).setattr("errors", list);
    }
    err
}

/// `CacheError` for a cache that cannot be opened, with the way to choose another.
pub fn open_cache_error(e: &OpenCacheError) -> PyErr {
    CacheError::new_err(format!(
        "{e}\n  help: pass cache=DIR to Experiment(...) or set WARMSTART_CACHE"
    ))
}

/// The error of reading a stage's table. `command` makes the missing instances.
pub fn stage_table_error(py: Python<'_>, e: StageTableError, what: &str, command: &str) -> PyErr {
    match e {
        StageTableError::NotFresh { missing, total } => {
            stale_error(py, &missing, total, what, command)
        }
        StageTableError::Read(ReadError::NoSuchTable {
            label,
            table,
            available,
        }) => Error::new_err(format!(
            "`{label}` has no output table `{table}`; it has: {}",
            available.join(", ")
        )),
        StageTableError::Read(e @ ReadError::Cache { .. }) => CacheError::new_err(format!(
            "{e}\n  (a corrupt entry is moved aside; running again recomputes it)"
        )),
        other => Error::new_err(other.to_string()),
    }
}

fn stale_error(
    py: Python<'_>,
    missing: &[Missing],
    total: usize,
    what: &str,
    command: &str,
) -> PyErr {
    let mut text = format!(
        "{} of {total} instances of {what} have no up-to-date output:",
        missing.len()
    );
    for m in missing.iter().take(MAX_LISTED) {
        let why = m.reasons.first().map(String::as_str).unwrap_or("not run");
        text.push_str(&format!("\n  {} ({why})", m.label));
    }
    if missing.len() > MAX_LISTED {
        text.push_str(&format!("\n  … and {} more", missing.len() - MAX_LISTED));
    }
    text.push_str(&format!(
        "\nMake them with: {command}\n(or call .run() on this Experiment)"
    ));
    let err = StaleError::new_err(text);
    let labels: Vec<&str> = missing.iter().map(|m| m.label.as_str()).collect();
    let value = err.value(py);
    // Best effort: the message already says everything.
    let _ = value.setattr("missing", labels);
    let _ = value.setattr("command", command);
    err
}
