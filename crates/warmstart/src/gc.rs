//! Garbage collection: the cache entries no given experiment uses ([`gc`]), removed on
//! request, with the leftovers of interrupted runs (temp dirs, idle lock files, dangling
//! refs).

use std::collections::HashSet;

use serde::Serialize;
use warmstart_cache::{CacheError, CacheKey, StaleFiles, Store};
use warmstart_plan::{Plan, assess};

/// One entry that no given experiment uses.
#[derive(Debug, Clone, Serialize)]
pub struct GcCandidate {
    /// Its key.
    pub key: CacheKey,
    /// `stage[a=1]` from its manifest, or `(unreadable manifest: …)`.
    pub what: String,
    /// The bytes of its output files, as its manifest records them (0 when unreadable).
    pub bytes: u64,
}

/// What [`gc`] found and did.
#[derive(Debug, Clone, Serialize)]
pub struct GcReport {
    /// Unreachable entries (removed when `applied`).
    pub candidates: Vec<GcCandidate>,
    /// Whether they were removed.
    pub applied: bool,
    /// Their total size in bytes.
    pub bytes: u64,
    /// Temp dirs of finished runs removed.
    pub cleaned_tmp: usize,
    /// Idle lock files removed (with `apply`).
    pub stale_locks: usize,
    /// Dangling refs removed (with `apply`).
    pub stale_refs: usize,
}

/// Why [`gc`] stopped. Entries removed before the failure are listed in `removed`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GcError {
    /// The cache's entries could not be listed.
    #[error("cannot list the cache: {0}")]
    List(CacheError),
    /// An entry could not be removed.
    #[error("cannot remove {key}: {source}")]
    Remove {
        /// The entry.
        key: CacheKey,
        /// Why.
        source: CacheError,
        /// Entries removed before this one.
        removed: Vec<GcCandidate>,
    },
    /// Idle lock files or dangling refs could not be removed.
    #[error("{source}")]
    StaleFiles {
        /// Why.
        source: CacheError,
        /// Entries removed before.
        removed: Vec<GcCandidate>,
    },
}

impl GcError {
    /// The entries removed before the failure.
    pub fn removed(&self) -> &[GcCandidate] {
        match self {
            GcError::Remove { removed, .. } | GcError::StaleFiles { removed, .. } => removed,
            GcError::List(_) => &[],
        }
    }
}

/// The keys of `plan`'s instances whose entries are fresh in `store`: what gc must keep.
pub fn live_keys(plan: &Plan, store: &Store) -> impl Iterator<Item = CacheKey> {
    assess(plan, store)
        .freshness
        .into_iter()
        .filter(|f| f.is_fresh())
        .filter_map(|f| f.key())
}

/// List the entries of `store` not in `live`; with `apply`, remove them, then idle lock
/// files and dangling refs. Temp dirs of finished runs are cleaned either way.
pub fn gc(store: &Store, live: &HashSet<CacheKey>, apply: bool) -> Result<GcReport, GcError> {
    let entries = store.entries().map_err(GcError::List)?;
    let mut candidates = Vec::new();
    for (key, manifest) in entries {
        if live.contains(&key) {
            continue;
        }
        let (what, bytes) = match &manifest {
            Ok(m) => (
                warmstart_plan::plan::label(&m.stage, &m.coords),
                m.outputs.iter().map(|o| o.bytes).sum(),
            ),
            Err(e) => (format!("(unreadable manifest: {e})"), 0),
        };
        let candidate = GcCandidate { key, what, bytes };
        if apply && let Err(source) = store.remove(&key) {
            return Err(GcError::Remove {
                key,
                source,
                removed: candidates,
            });
        }
        candidates.push(candidate);
    }
    // Best effort, as it always was: leftovers of a finished run are harmless, and a gc
    // must not fail on them (`run` reports a temp dir it cannot clean).
    let cleaned_tmp = store.clean_tmp().unwrap_or(0);
    let stale = if apply {
        store
            .remove_stale_files()
            .map_err(|source| GcError::StaleFiles {
                source,
                removed: std::mem::take(&mut candidates),
            })?
    } else {
        StaleFiles::default()
    };
    Ok(GcReport {
        bytes: candidates.iter().map(|c| c.bytes).sum(),
        candidates,
        applied: apply,
        cleaned_tmp,
        stale_locks: stale.locks,
        stale_refs: stale.refs,
    })
}
