//! What happened to jobs, as files in the cache: the workers' **status records** and the
//! submitting side's **ledger**.
//!
//! - `v1/jobs/status/<spec>.json` — written by the worker as its last act (after the
//!   entry is committed): ok (ran or found cached, with the key and output digest) or
//!   failed (with the error). It names the Slurm job that wrote it, so a record left by
//!   an older job of the same spec is told apart from the current job's.
//! - `v1/jobs/ledger/<spec>.json` — the Slurm job last submitted for a spec, with its log
//!   file, written right after `sbatch` returns. A later run reads it to reattach.
//! - `v1/jobs/ledger/exp-<digest>.json` — every job submitted for an experiment (for
//!   `warmstart cancel`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use warmstart_cache::CacheKey;
use warmstart_cache::key::Digest;
use warmstart_cache::store::{CacheError, Store};

use crate::jobspec::FORMAT;

/// How a job ended, per its worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum Outcome {
    /// The entry is in the cache: `ran` computed it, `cached` found it under the lock.
    Ok {
        ran: bool,
        key: CacheKey,
        output_digest: Digest,
    },
    Failed {
        error: String,
    },
}

/// A worker's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRecord {
    pub v: u32,
    pub spec: String,
    /// The Slurm job (`123` or `123_4`) that wrote it.
    pub job: String,
    #[serde(flatten)]
    pub outcome: Outcome,
    pub duration_ms: u64,
    pub host: String,
    /// Engine warnings, reported by the submitting side as warning events.
    #[serde(default)]
    pub warnings: Vec<String>,
}

impl StatusRecord {
    pub fn save(&self, store: &Store) -> Result<PathBuf, CacheError> {
        let json = serde_json::to_vec_pretty(self).unwrap_or_default();
        store.write_job_file("status", &format!("{}.json", self.spec), &json)
    }

    /// The record of spec `spec`, if one was written (an unreadable one counts as none:
    /// it is rewritten when the job runs again).
    pub fn load(store: &Store, spec: &str) -> Option<StatusRecord> {
        let bytes = store
            .read_job_file("status", &format!("{spec}.json"))
            .ok()??;
        serde_json::from_slice(&bytes)
            .ok()
            .filter(|r: &StatusRecord| r.v == FORMAT)
    }
}

/// The job last submitted for a spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub v: u32,
    /// `123` or `123_4`.
    pub job: String,
    pub log: PathBuf,
    /// Seconds since the epoch.
    pub submitted_at: u64,
}

impl LedgerEntry {
    pub fn save(&self, store: &Store, spec: &str) -> Result<(), CacheError> {
        let json = serde_json::to_vec(self).unwrap_or_default();
        store
            .write_job_file("ledger", &format!("{spec}.json"), &json)
            .map(|_| ())
    }

    pub fn load(store: &Store, spec: &str) -> Option<LedgerEntry> {
        let bytes = store
            .read_job_file("ledger", &format!("{spec}.json"))
            .ok()??;
        serde_json::from_slice(&bytes)
            .ok()
            .filter(|e: &LedgerEntry| e.v == FORMAT)
    }
}

/// Every job (array or single) submitted for one experiment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExperimentJobs {
    pub experiment: String,
    pub jobs: Vec<String>,
}

impl ExperimentJobs {
    fn name(experiment: &str) -> String {
        format!(
            "exp-{}.json",
            &blake3::hash(experiment.as_bytes()).to_hex()[..32]
        )
    }

    pub fn load(store: &Store, experiment: &str) -> ExperimentJobs {
        store
            .read_job_file("ledger", &Self::name(experiment))
            .ok()
            .flatten()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_else(|| ExperimentJobs {
                experiment: experiment.to_string(),
                jobs: Vec::new(),
            })
    }

    pub fn save(&self, store: &Store) -> Result<(), CacheError> {
        let json = serde_json::to_vec(self).unwrap_or_default();
        store
            .write_job_file("ledger", &Self::name(&self.experiment), &json)
            .map(|_| ())
    }
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let r = StatusRecord {
            v: FORMAT,
            spec: "ab12".into(),
            job: "7_1".into(),
            outcome: Outcome::Ok {
                ran: true,
                key: CacheKey([1; 32]),
                output_digest: Digest([2; 32]),
            },
            duration_ms: 5,
            host: "n1".into(),
            warnings: vec![],
        };
        r.save(&store).unwrap();
        assert_eq!(StatusRecord::load(&store, "ab12"), Some(r));
        assert_eq!(StatusRecord::load(&store, "cd34"), None);
        let mut jobs = ExperimentJobs::load(&store, "exp one");
        assert!(jobs.jobs.is_empty());
        jobs.jobs.push("7".into());
        jobs.save(&store).unwrap();
        assert_eq!(ExperimentJobs::load(&store, "exp one").jobs, ["7"]);
    }
}
