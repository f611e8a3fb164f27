//! What each run did, kept in the cache ([`RunRecord`]): the experiment file's digest, when
//! it ran and for how long, and how every instance ended (with its key and, for failures,
//! the error). A front end shows an experiment's failures from its latest record (the HTML
//! report does), and lists or compares runs from all of them.
//!
//! A record is written once the run is over; failing to write it never fails the run (a
//! warning event says so). Records that cannot be parsed (written by a newer version, or
//! damaged) are skipped when listing: they are history, not the source of truth — the
//! entries are.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use warmstart_cache::{CacheError, Store};
use warmstart_plan::Plan;
use warmstart_plan::run::{RunSummary, Status};

/// The format version of [`RunRecord`]; fields are only added within a version.
pub const RUN_RECORD_FORMAT: u32 = 1;

/// One run of an experiment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RunRecord {
    /// [`RUN_RECORD_FORMAT`].
    pub format: u32,
    /// The record's id: its start time and process (`1764277200123-4711`).
    pub id: String,
    /// The experiment's name.
    pub experiment: String,
    /// The experiment file, as given.
    pub file: String,
    /// blake3 of the experiment file's text.
    pub file_digest: String,
    /// Where it ran: `local` or `slurm`.
    pub executor: String,
    /// The warmstart version that ran it.
    pub warmstart_version: String,
    /// When it started (milliseconds since the Unix epoch).
    pub started_unix_ms: u64,
    /// Its wall time.
    pub duration_ms: u64,
    /// Instances that ran, were cached, failed, were skipped.
    pub ran: usize,
    /// See `ran`.
    pub cached: usize,
    /// See `ran`.
    pub failed: usize,
    /// See `ran`.
    pub skipped: usize,
    /// Whether it was interrupted.
    pub interrupted: bool,
    /// Every instance that ended, in plan order.
    pub instances: Vec<InstanceRecord>,
}

/// How one instance ended in a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InstanceRecord {
    /// `stage` or `stage[a=1,b=2]`.
    pub label: String,
    /// Its key (absent for skipped instances).
    pub key: Option<String>,
    /// How it ended.
    pub status: Status,
    /// How long it ran.
    pub duration_ms: u64,
    /// The failure, or why it was skipped.
    pub error: Option<String>,
}

/// Milliseconds since the Unix epoch, now.
pub fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The record of a run of `plan` that started at `started_unix_ms` and ended in `summary`.
pub fn record_of(
    plan: &Plan,
    summary: &RunSummary,
    started_unix_ms: u64,
    executor: &str,
) -> RunRecord {
    // An instance can end twice (ran, then its entry could not be written); the last
    // event counts, and the record lists instances in plan order.
    let mut last: Vec<Option<usize>> = vec![None; plan.nodes.len()];
    for (i, ev) in summary.events.iter().enumerate() {
        if let Some(slot) = last.get_mut(ev.node) {
            *slot = Some(i);
        }
    }
    let instances = last
        .iter()
        .flatten()
        .map(|&i| {
            let ev = &summary.events[i];
            InstanceRecord {
                label: ev.label(),
                key: ev.key.map(|k| k.to_string()),
                status: ev.status,
                duration_ms: ev.duration_ms,
                error: ev.error.clone(),
            }
        })
        .collect();
    let source = &plan.experiment.source;
    RunRecord {
        format: RUN_RECORD_FORMAT,
        id: format!("{started_unix_ms:013}-{}", std::process::id()),
        experiment: plan.experiment.name.clone(),
        file: source.path.display().to_string(),
        file_digest: blake3::hash(source.text.as_bytes()).to_hex().to_string(),
        executor: executor.to_string(),
        warmstart_version: env!("CARGO_PKG_VERSION").to_string(),
        started_unix_ms,
        duration_ms: summary.duration_ms,
        ran: summary.ran,
        cached: summary.cached,
        failed: summary.failed,
        skipped: summary.skipped,
        interrupted: summary.interrupted,
        instances,
    }
}

/// Store `record` in the cache.
pub fn save(store: &Store, record: &RunRecord) -> Result<(), CacheError> {
    let bytes = serde_json::to_vec(record).unwrap_or_default();
    store
        .write_run_record(&record.experiment, &format!("{}.json", record.id), &bytes)
        .map(|_| ())
}

/// Every readable run record of `experiment`, oldest first.
pub fn records(store: &Store, experiment: &str) -> Result<Vec<RunRecord>, CacheError> {
    Ok(store
        .run_records(experiment)?
        .into_iter()
        .filter_map(|(_, bytes)| serde_json::from_slice::<RunRecord>(&bytes).ok())
        .filter(|r| r.format == RUN_RECORD_FORMAT && r.experiment == experiment)
        .collect())
}

/// The newest readable run record of `experiment`.
pub fn latest(store: &Store, experiment: &str) -> Option<RunRecord> {
    records(store, experiment).ok()?.pop()
}
