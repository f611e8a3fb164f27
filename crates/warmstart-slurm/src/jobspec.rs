//! Job specs: everything a worker needs to run one stage instance, written to the cache
//! before the job is submitted (`v1/jobs/specs/<id>.json`) so that the worker never reads
//! a possibly edited experiment file.
//!
//! What goes in, and why:
//! - the key's components except the inputs' digests ([`KeyInputs`] with zero digests):
//!   the worker fills those in from its inputs' *committed* entries at run time, so a
//!   downstream job of an upstream that re-ran to identical output finds its entry and
//!   does nothing (early cutoff);
//! - where each input comes from: a cache entry known at submission, or another job spec
//!   (whose status record names the entry it committed);
//! - the engine by the name the stage uses (or none: the kind's default engine), the
//!   plugin files of the experiment with their paths, and the experiment's directory: the
//!   worker rebuilds the same registry and checks the engine's id, version and key extras
//!   against the key's, so a plugin rebuilt since submission fails loudly instead of
//!   filling the cache under a key that does not describe it;
//! - params, seed, thread count, the ref to point at the entry.
//!
//! A spec's id is the blake3 digest of its JSON: the same instance of the same
//! experiment has the same id in every run, which is how a later run recognises jobs an
//! earlier one submitted. Resource hints are not in the spec (they are sbatch options):
//! changing `time` does not make a pending job a stranger.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use warmstart_cache::store::{CacheError, Store};
use warmstart_cache::{CacheKey, KeyInputs};
use warmstart_engine::{Params, Value};

/// The format version of specs, status records and the ledger.
pub const FORMAT: u32 = 1;

/// Where one input of a job comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputSource {
    /// The upstream instance's spec id (whether or not it ran as a job): its status
    /// record names the entry a job committed for it.
    pub spec: String,
    /// The upstream's entry when it was already fresh at submission. Not part of the
    /// spec's id: an instance keeps its id whether its upstream was fresh or queued when
    /// a run looked, so a later run recognises the jobs an earlier one submitted.
    pub entry: Option<CacheKey>,
    /// The upstream instance's ref, the last resort (its entry made by a local run).
    pub ref_id: String,
}

/// One stage instance, as a worker runs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    pub v: u32,
    pub experiment: String,
    pub stage: String,
    #[serde(with = "warmstart_cache::value_json::pairs")]
    pub coords: Vec<(String, Value)>,
    /// `stage[a=1]`, for messages.
    pub label: String,
    pub kind: String,
    /// The engine the stage names (`engine = "…"`); `None`: the kind's default engine.
    pub engine: Option<String>,
    /// Plugins of the experiment (and its project file): name and absolute path.
    pub plugins: Vec<(String, PathBuf)>,
    /// The experiment file's directory (relative paths in params resolve against it).
    pub base_dir: Option<PathBuf>,
    #[serde(with = "warmstart_cache::value_json::map")]
    pub params: Params,
    pub seed: u64,
    pub threads: usize,
    /// The key's components; input digests are zero until the worker fills them in.
    pub key: KeyInputs,
    /// Parallel to `key.inputs`.
    pub inputs: Vec<InputSource>,
    /// The ref that points at this instance's entry once committed.
    pub ref_id: String,
}

impl JobSpec {
    /// The spec's id: blake3 of its JSON without the inputs' entries, 32 hex digits.
    pub fn id(&self) -> String {
        let mut normal = self.clone();
        for i in &mut normal.inputs {
            i.entry = None;
        }
        let json = serde_json::to_vec(&normal).unwrap_or_default();
        blake3::hash(&json).to_hex()[..32].to_string()
    }

    /// Write it to `v1/jobs/specs/<id>.json` (atomically); its id. Two specs with the same
    /// id differ at most in which inputs' entries they know; either runs the same way.
    pub fn save(&self, store: &Store) -> Result<String, CacheError> {
        let id = self.id();
        let json = serde_json::to_vec_pretty(self).unwrap_or_default();
        store.write_job_file("specs", &format!("{id}.json"), &json)?;
        Ok(id)
    }

    /// Read spec `id` and check that its content still has that id.
    pub fn load(store: &Store, id: &str) -> Result<JobSpec, String> {
        let name = format!("{id}.json");
        let bytes = store
            .read_job_file("specs", &name)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| {
                format!("job spec {id} is not in the cache (was the cache moved or cleaned?)")
            })?;
        let spec: JobSpec = serde_json::from_slice(&bytes)
            .map_err(|e| format!("job spec {id} cannot be read: {e}"))?;
        if spec.v != FORMAT {
            return Err(format!(
                "job spec {id} has format {} (this warmstart reads {FORMAT})",
                spec.v
            ));
        }
        if spec.id() != id {
            return Err(format!(
                "job spec {id} was changed after it was written: its content no longer has that id"
            ));
        }
        Ok(spec)
    }
}

/// The tasks of one submitted array (or a single job): task id → spec id. Written before
/// submission; the worker reads it with its `SLURM_ARRAY_TASK_ID`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskList {
    pub v: u32,
    pub tasks: Vec<(u32, String)>,
}

impl TaskList {
    /// The list's name in `v1/jobs/specs/`.
    pub fn name(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        format!("tasks-{}.json", &blake3::hash(&json).to_hex()[..32])
    }

    pub fn save(&self, store: &Store) -> Result<String, CacheError> {
        let name = self.name();
        let json = serde_json::to_vec(self).unwrap_or_default();
        store.write_job_file("specs", &name, &json)?;
        Ok(name)
    }

    pub fn load(store: &Store, name: &str) -> Result<TaskList, String> {
        let bytes = store
            .read_job_file("specs", name)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("task list {name} is not in the cache"))?;
        serde_json::from_slice(&bytes).map_err(|e| format!("task list {name} cannot be read: {e}"))
    }

    /// The spec of task `task`.
    pub fn spec_of(&self, task: u32) -> Option<&str> {
        self.tasks
            .iter()
            .find(|(t, _)| *t == task)
            .map(|(_, s)| s.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> JobSpec {
        JobSpec {
            v: FORMAT,
            experiment: "e".into(),
            stage: "s".into(),
            coords: vec![("a".into(), Value::Float(0.5))],
            label: "s[a=0.5]".into(),
            kind: "echo".into(),
            engine: None,
            plugins: Vec::new(),
            base_dir: Some("/x".into()),
            params: Params::new(),
            seed: 7,
            threads: 1,
            key: KeyInputs {
                kind: "echo".into(),
                engine_id: "native".into(),
                engine_version: "1".into(),
                engine_extra: Vec::new(),
                params: Default::default(),
                seed: None,
                inputs: Vec::new(),
            },
            inputs: Vec::new(),
            ref_id: "e-s".into(),
        }
    }

    #[test]
    fn a_spec_round_trips_under_its_id_and_tampering_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let spec = sample();
        let id = spec.save(&store).unwrap();
        assert_eq!(id, spec.id());
        assert_eq!(JobSpec::load(&store, &id).unwrap(), spec);
        let path = dir.path().join(format!("v1/jobs/specs/{id}.json"));
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("\"seed\": 7", "\"seed\": 8");
        std::fs::write(&path, text).unwrap();
        assert!(JobSpec::load(&store, &id).unwrap_err().contains("changed"));
    }

    #[test]
    fn the_id_depends_on_what_runs_not_on_whether_an_input_was_fresh() {
        let a = sample();
        let mut b = sample();
        b.seed = 8;
        assert_ne!(a.id(), b.id());
        assert_eq!(a.id(), sample().id());
        let input = |entry| InputSource {
            spec: "up".into(),
            entry,
            ref_id: "e-up".into(),
        };
        let mut queued = sample();
        queued.inputs = vec![input(None)];
        let mut fresh = sample();
        fresh.inputs = vec![input(Some(CacheKey([3; 32])))];
        assert_eq!(queued.id(), fresh.id());
        let mut other = sample();
        other.inputs = vec![InputSource {
            spec: "other".into(),
            ..input(None)
        }];
        assert_ne!(queued.id(), other.id());
    }
}
