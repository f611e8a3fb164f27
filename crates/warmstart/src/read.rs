//! Reading a fresh instance's output tables from the cache (`show`, `export`). A read that
//! finds the entry corrupt quarantines it, so that the next run recomputes it, and the
//! error says what was done.

use std::path::PathBuf;

use warmstart_cache::{CacheError, CacheKey, Store};
use warmstart_engine::NamedTable;
use warmstart_plan::status::Freshness;
use warmstart_plan::{Assessment, Plan};

/// What happened to a corrupt entry found while reading it.
#[derive(Debug)]
#[non_exhaustive]
pub enum Quarantine {
    /// Moved out of the way, to this path; the next run recomputes it.
    Moved(PathBuf),
    /// Not moved: another process holds its lock or replaced it meanwhile.
    Busy,
    /// Moving it failed.
    Failed(CacheError),
}

/// Why an instance's output could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The instance has no up-to-date output (it must run first).
    #[error("`{label}` has no up-to-date output")]
    NotFresh {
        /// The instance.
        label: String,
    },
    /// The cache entry could not be read.
    #[error("cannot read `{label}`: {source}")]
    Cache {
        /// The instance.
        label: String,
        /// Why.
        source: CacheError,
        /// What was done about a corrupt entry (`None` for other errors; boxed to keep
        /// the error small).
        quarantine: Option<Box<Quarantine>>,
    },
    /// The instance has no output table of that name.
    #[error("`{label}` has no output table `{table}`")]
    NoSuchTable {
        /// The instance.
        label: String,
        /// The name asked for.
        table: String,
        /// The tables it has.
        available: Vec<String>,
    },
}

/// Every output table of instance `node` (an index into `plan.nodes`), if it is fresh in
/// `assessment`.
pub fn read_outputs(
    plan: &Plan,
    assessment: &Assessment,
    store: &Store,
    node: usize,
) -> Result<Vec<NamedTable>, ReadError> {
    let label = plan.nodes.get(node).map(|n| n.label()).unwrap_or_default();
    let Some(Freshness::Fresh { key, .. }) = assessment.freshness.get(node) else {
        return Err(ReadError::NotFresh { label });
    };
    read_entry(store, key, label)
}

/// The tables of the entry `key` (instance `label`), quarantining it if it is corrupt.
pub(crate) fn read_entry(
    store: &Store,
    key: &CacheKey,
    label: String,
) -> Result<Vec<NamedTable>, ReadError> {
    store.read(key).map_err(|source| {
        let quarantine =
            matches!(source, CacheError::Corrupt { .. }).then(|| match store.quarantine(key) {
                Ok(Some(q)) => Quarantine::Moved(q),
                Ok(None) => Quarantine::Busy,
                Err(e) => Quarantine::Failed(e),
            });
        ReadError::Cache {
            label,
            source,
            quarantine: quarantine.map(Box::new),
        }
    })
}

/// The table `name` of an instance's `tables`, or its first with no name.
pub fn pick_table<'t>(
    label: &str,
    tables: &'t [NamedTable],
    name: Option<&str>,
) -> Result<&'t NamedTable, ReadError> {
    match name {
        Some(name) => tables.iter().find(|t| t.name == name),
        None => tables.first(),
    }
    .ok_or_else(|| ReadError::NoSuchTable {
        label: label.to_string(),
        table: name.unwrap_or("").to_string(),
        available: tables.iter().map(|t| t.name.clone()).collect(),
    })
}
