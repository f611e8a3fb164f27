//! `warmstart._native`, the compiled half of the `warmstart` Python package: an
//! experiment file opened against a cache ([`experiment::Experiment`]), its status as a
//! notebook table ([`status::StatusTable`]), a stage's outputs as a `pyarrow.Table`
//! ([`arrow`]), runs with progress in the notebook ([`progress`]), and the exceptions
//! ([`errors`]). The pure-Python `warmstart/__init__.py` re-exports it.
//!
//! Everything is the `warmstart` facade's: this crate converts arguments, results and
//! errors, and never reimplements what the CLI also does.
//!
//! Architecture invariant: like the CLI, this crate reaches the workspace only through the
//! `warmstart` facade; tables reach Python through the Arrow C stream interface (a
//! PyCapsule), never as Python lists.

use pyo3::prelude::*;

mod arrow;
mod errors;
mod experiment;
mod progress;
mod status;

/// Experiments, status, runs and Arrow tables of warmstart, from Python.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<experiment::Experiment>()?;
    m.add_class::<status::StatusTable>()?;
    m.add_class::<progress::RunSummary>()?;
    m.add_class::<arrow::ArrowStream>()?;
    m.add("Error", py.get_type::<errors::Error>())?;
    m.add("SpecError", py.get_type::<errors::SpecError>())?;
    m.add("StaleError", py.get_type::<errors::StaleError>())?;
    m.add("CacheError", py.get_type::<errors::CacheError>())?;
    Ok(())
}
