//! `warmstart worker`: what a Slurm job does on its compute node. It reads its job spec
//! from the cache, computes its key from its inputs' committed entries, and — under the
//! key's lock, like a local run — finds the entry or computes and commits it. Its last
//! act is a status record; the exit status (0 ok, 1 failed) is what `afterok` sees.

use std::time::Instant;

use warmstart_cache::store::{EntryMeta, Lookup, Store};
use warmstart_cache::{CacheKey, KeyInputs};
use warmstart_engine::{StageInput, StageRequest};
use warmstart_plan::Registry;
use warmstart_plan::worker::call_engine;

use crate::jobspec::{FORMAT, JobSpec, TaskList};
use crate::records::{Outcome, StatusRecord};

/// Builds the engines a spec may use (built-ins and the spec's plugins).
pub type RegistryFor<'a> = &'a dyn Fn(&JobSpec) -> Result<Registry, String>;

/// Run task `task` of task list `tasks` as Slurm job `job`; the record written. `Err` only
/// when not even a status record could be written (or the task list is unreadable).
pub fn run_task(
    store: &Store,
    tasks: &str,
    task: u32,
    job: &str,
    registry_for: RegistryFor<'_>,
) -> Result<StatusRecord, String> {
    let list = TaskList::load(store, tasks)?;
    let spec_id = list
        .spec_of(task)
        .ok_or_else(|| format!("task list {tasks} has no task {task}"))?
        .to_string();
    let t0 = Instant::now();
    let (outcome, warnings) = match JobSpec::load(store, &spec_id) {
        Ok(spec) => match run_spec(store, &spec, registry_for) {
            Ok((o, w)) => (o, w),
            Err(error) => (Outcome::Failed { error }, Vec::new()),
        },
        Err(error) => (Outcome::Failed { error }, Vec::new()),
    };
    let mut duration_ms = t0.elapsed().as_millis() as u64;
    // Slurm may requeue a job that already finished (e.g. when the controller lost track
    // of its node): the second attempt finds the entry its first attempt computed. That is
    // still this job's computation — keep the first attempt's `ran` and duration.
    let outcome = match outcome {
        Outcome::Ok {
            ran: false,
            key,
            output_digest,
        } => match StatusRecord::load(store, &spec_id) {
            Some(prev)
                if prev.job == job
                    && prev.outcome
                        == (Outcome::Ok {
                            ran: true,
                            key,
                            output_digest,
                        }) =>
            {
                duration_ms = prev.duration_ms;
                prev.outcome
            }
            _ => Outcome::Ok {
                ran: false,
                key,
                output_digest,
            },
        },
        other => other,
    };
    let record = StatusRecord {
        v: FORMAT,
        spec: spec_id,
        job: job.to_string(),
        outcome,
        duration_ms,
        host: hostname(),
        warnings,
    };
    record
        .save(store)
        .map_err(|e| format!("cannot write the status record: {e}"))?;
    Ok(record)
}

/// The key of `spec` given its inputs' committed entries, with the entries' keys.
pub fn resolve_key(store: &Store, spec: &JobSpec) -> Result<(KeyInputs, Vec<CacheKey>), String> {
    let mut key_inputs = spec.key.clone();
    if key_inputs.inputs.len() != spec.inputs.len() {
        return Err("the job spec's inputs do not match its key (a corrupt spec)".into());
    }
    let mut keys = Vec::with_capacity(spec.inputs.len());
    for (slot, src) in key_inputs.inputs.iter_mut().zip(&spec.inputs) {
        let label = warmstart_engine::identity::label(&slot.stage, &slot.coords);
        // The entry known at submission, else the one the upstream's job committed, else
        // the one its ref points at (made by a local run): the first that is healthy.
        let recorded = StatusRecord::load(store, &src.spec).map(|r| r.outcome);
        let from_job = match &recorded {
            Some(Outcome::Ok { key, .. }) => Some(*key),
            _ => None,
        };
        let candidates = [src.entry, from_job, store.get_ref(&src.ref_id)];
        let found = candidates
            .into_iter()
            .flatten()
            .find_map(|k| match store.lookup(&k) {
                Lookup::Hit(m) => Some((k, m.output_digest)),
                _ => None,
            });
        let Some((key, digest)) = found else {
            let why = match recorded {
                Some(Outcome::Failed { error }) => format!("its job failed: {error}"),
                _ => "it has no healthy cache entry (its job did not finish, or the entry was removed)".into(),
            };
            return Err(format!(
                "input `{label}`: {why}; run `warmstart run` again to recompute it"
            ));
        };
        slot.digest = digest;
        keys.push(key);
    }
    Ok((key_inputs, keys))
}

fn run_spec(
    store: &Store,
    spec: &JobSpec,
    registry_for: RegistryFor<'_>,
) -> Result<(Outcome, Vec<String>), String> {
    let (key_inputs, input_keys) = resolve_key(store, spec)?;
    let key = key_inputs.key();
    let _lock = store
        .lock(&key)
        .map_err(|e| format!("cannot lock the cache entry: {e}"))?;
    if let Lookup::Hit(m) = store.lookup(&key) {
        let _ = store.set_ref(&spec.ref_id, &key);
        let ok = Outcome::Ok {
            ran: false,
            key,
            output_digest: m.output_digest,
        };
        return Ok((ok, Vec::new()));
    }
    let registry = registry_for(spec)?;
    let engine = match &spec.engine {
        Some(name) => registry.get(name),
        None => registry.default_for(&spec.kind),
    }
    .ok_or_else(|| format!("no engine for kind `{}` on this node", spec.kind))?
    .clone();
    let info = engine.info();
    if info.id != spec.key.engine_id || info.version != spec.key.engine_version {
        return Err(format!(
            "the engine changed since submission: the job was submitted for {} {}, this node has {} {}; submit again with `warmstart run`",
            spec.key.engine_id, spec.key.engine_version, info.id, info.version
        ));
    }
    let extra = engine.key_extra(&spec.params).map_err(|e| e.to_string())?;
    if extra != spec.key.engine_extra {
        return Err("the engine's files changed since submission (a plugin or model was rebuilt); submit again with `warmstart run`".into());
    }
    let mut inputs = Vec::with_capacity(input_keys.len());
    for (k, slot) in input_keys.iter().zip(&spec.key.inputs) {
        let tables = store
            .read(k)
            .map_err(|e| format!("cannot read input: {e}"))?;
        inputs.push(StageInput {
            stage: slot.stage.clone(),
            coords: slot.coords.clone(),
            tables,
        });
    }
    let request = StageRequest {
        stage: spec.stage.clone(),
        coords: spec.coords.clone(),
        kind: spec.kind.clone(),
        params: spec.params.clone(),
        seed: spec.seed,
        inputs,
        threads: spec.threads,
        scratch_dir: None,
        base_dir: spec.base_dir.clone(),
    };
    let t0 = Instant::now();
    let output = call_engine(engine.as_ref(), request, key)?;
    let meta = EntryMeta {
        experiment: spec.experiment.clone(),
        stage: spec.stage.clone(),
        coords: spec.coords.clone(),
        duration_ms: t0.elapsed().as_millis() as u64,
    };
    let prepared = store
        .prepare(&key, &key_inputs, &output.tables, meta)
        .map_err(|e| format!("cannot store the output: {e}"))?;
    let manifest = store
        .commit(prepared)
        .map_err(|e| format!("its output was computed but could not be stored: {e}"))?;
    let _ = store.set_ref(&spec.ref_id, &key);
    let ok = Outcome::Ok {
        ran: true,
        key,
        output_digest: manifest.output_digest,
    };
    Ok((ok, output.warnings))
}

/// The job's id as Slurm names it: `array_task` for array tasks, the job id otherwise.
pub fn job_id_from_env() -> String {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (var("SLURM_ARRAY_JOB_ID"), var("SLURM_ARRAY_TASK_ID")) {
        (Some(a), Some(t)) => format!("{a}_{t}"),
        _ => var("SLURM_JOB_ID").unwrap_or_else(|| "local".into()),
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}
