//! What one job does wherever it runs: take the key's lock, look again for the entry,
//! read the inputs, run the engine (panics caught), and encode the output. The entry is
//! returned as a [`PendingCommit`] for the caller to write behind.
//!
//! This is the body of every executor: [`crate::executor::LocalExecutor`] runs it on a
//! thread; a cluster worker would run it on a compute node.

use std::time::Instant;

use warmstart_cache::CacheKey;
use warmstart_cache::DigestLookup;
use warmstart_cache::store::{CacheError, EntryMeta, KeyLock, PreparedEntry, Store};
use warmstart_engine::{Engine, StageInput, StageRequest};

use crate::executor::{Completion, Job};
use crate::plan::Plan;
use crate::run::Status;
use crate::sched::{InputSource, JobOutcome};
use crate::status::node_ref;

/// An entry whose outputs users may already be reading, still to be written; the key's
/// lock is held until it is.
pub struct PendingCommit {
    prepared: PreparedEntry,
    key: CacheKey,
    ref_id: String,
    _lock: Option<KeyLock>,
}

impl PendingCommit {
    /// Write the entry atomically and point the instance's ref at it.
    pub fn commit(self, store: &Store) -> Result<(), String> {
        match store.commit(self.prepared) {
            Ok(_) => {
                let _ = store.note_ref(&self.ref_id, &self.key);
                Ok(())
            }
            Err(e) => Err(format!(
                "its output was computed but could not be stored: {e}"
            )),
        }
    }
}

/// Run one job. Returns its completion and, when it computed an output to keep, the
/// entry still to be written (the completion then says `commit_pending`).
pub fn run_job(plan: &Plan, store: &Store, job: Job) -> (Completion, Option<PendingCommit>) {
    let t0 = Instant::now();
    let (i, key) = (job.node, job.key);
    let node = &plan.nodes[i];
    let finished = |outcome, t0: Instant| Completion::Finished {
        node: i,
        key,
        outcome,
        duration_ms: t0.elapsed().as_millis() as u64,
        warnings: Vec::new(),
    };
    let fail = |e: String, t0: Instant| (finished(JobOutcome::Failed(e), t0), None);
    // The lock makes concurrent runs compute each stage once; volatile stages run anyway.
    let lock = if job.volatile {
        None
    } else {
        match store.lock(&key) {
            Ok(l) => Some(l),
            Err(e) => return fail(format!("cannot lock the cache entry: {e}"), t0),
        }
    };
    if !job.volatile
        && let DigestLookup::Hit(digest) = store.lookup_digest(&key)
    {
        let _ = store.note_ref(&node_ref(plan, node), &key);
        let outcome = JobOutcome::Ok {
            status: Status::Cached,
            digest,
            output: None,
            commit_pending: false,
        };
        return (finished(outcome, t0), None);
    }
    let mut stage_inputs = Vec::with_capacity(job.inputs.len());
    for (j, src) in job.inputs {
        let tables = match src {
            InputSource::Memory(t) => t.as_ref().clone(),
            InputSource::Cache(k) => match store.read(&k) {
                Ok(t) => t,
                Err(CacheError::Corrupt { reason, .. }) => {
                    let c = Completion::InputCorrupt {
                        node: i,
                        input: j,
                        reason,
                    };
                    return (c, None);
                }
                Err(e) => return fail(format!("cannot read input: {e}"), t0),
            },
        };
        let up = &plan.nodes[j];
        stage_inputs.push(StageInput {
            stage: up.stage.clone(),
            coords: up.coords.clone(),
            tables,
        });
    }
    let mut output = match run_engine(plan, i, key, stage_inputs) {
        Ok(o) => o,
        Err(e) => return fail(e, t0),
    };
    let duration_ms = t0.elapsed().as_millis() as u64;
    let meta = EntryMeta {
        experiment: plan.experiment.name.clone(),
        stage: node.stage.clone(),
        coords: node.coords.clone(),
        duration_ms,
    };
    // Encode now: the output digest is what downstream keys need. A volatile stage's
    // encoding only gives that digest; any other's entry is written behind.
    match store.prepare(&key, &job.key_inputs, &output.tables, meta) {
        Ok(prepared) => {
            let digest = prepared.manifest().output_digest;
            let pending = (!job.volatile).then(|| PendingCommit {
                prepared,
                key,
                ref_id: node_ref(plan, node),
                _lock: lock,
            });
            let outcome = JobOutcome::Ok {
                status: Status::Ran,
                digest,
                output: Some(std::sync::Arc::new(std::mem::take(&mut output.tables))),
                commit_pending: pending.is_some(),
            };
            let c = Completion::Finished {
                node: i,
                key,
                outcome,
                duration_ms,
                warnings: output.warnings,
            };
            (c, pending)
        }
        Err(e) => fail(format!("cannot store the output: {e}"), t0),
    }
}

/// Call the engine of plan node `i` (see [`call_engine`]).
fn run_engine(
    plan: &Plan,
    i: usize,
    key: CacheKey,
    inputs: Vec<StageInput>,
) -> Result<warmstart_engine::StageOutput, String> {
    let node = &plan.nodes[i];
    let request = StageRequest {
        stage: node.stage.clone(),
        coords: node.coords.clone(),
        kind: node.kind.name.clone(),
        params: node.params.to_params(),
        seed: node.seed,
        inputs,
        threads: node.threads,
        scratch_dir: None,
        base_dir: plan
            .experiment
            .source
            .path
            .parent()
            .map(|p| p.to_path_buf()),
    };
    call_engine_detailed(node.engine.as_ref(), request, key).map_err(|e| match e.param {
        // Say where the param the engine complains about is set.
        Some(p) => match param_location(plan, node, &p) {
            Some(at) => format!("{} (`{p}` is set at {at})", e.message),
            None => e.message,
        },
        None => e.message,
    })
}

/// `file:line:col` of param `name` in the stage table of `node`, if the file sets it.
fn param_location(plan: &Plan, node: &crate::plan::Node, name: &str) -> Option<String> {
    let stage = plan.experiment.stages.get(node.stage_index)?;
    let (_, value) = stage.params.iter().find(|(k, _)| k.value == name)?;
    let src = &plan.experiment.source;
    let before = src.text.get(..value.span.start)?;
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Some(format!("{}:{line}:{col}", src.path.display()))
}

/// An engine call's failure: the message, and the param it is about (if the engine said).
pub struct CallError {
    pub message: String,
    pub param: Option<String>,
}

/// Call an engine in a scratch directory private to `key` that is removed afterwards; a
/// panic in the engine becomes an error. Every executor's jobs end up here.
pub fn call_engine(
    engine: &dyn Engine,
    request: StageRequest,
    key: CacheKey,
) -> Result<warmstart_engine::StageOutput, String> {
    call_engine_detailed(engine, request, key).map_err(|e| e.message)
}

/// [`call_engine`], keeping which param a failure is about.
/// Check a stage's outputs against its kind's `writes` (when it declares any): every table
/// declared, each as declared, and every unconditional declared table present. Keeps what
/// `warmstart kinds` documents and what plan-time column checks assume true of the code.
fn check_declared_outputs(
    kind: &warmstart_engine::KindSpec,
    out: &warmstart_engine::StageOutput,
) -> Result<(), String> {
    if kind.writes.is_empty() {
        return Ok(());
    }
    for t in &out.tables {
        let Some(spec) = kind.writes.iter().find(|s| s.name == t.name) else {
            let declared: Vec<&str> = kind.writes.iter().map(|s| s.name.as_str()).collect();
            return Err(format!(
                "it wrote table `{}`, which is not declared (declared: {})",
                t.name,
                declared.join(", ")
            ));
        };
        warmstart_engine::tables_spec::check_output(spec, &t.batch)?;
    }
    for spec in kind.writes.iter().filter(|s| s.when.is_none()) {
        if !out.tables.iter().any(|t| t.name == spec.name) {
            return Err(format!("declared table `{}` is missing", spec.name));
        }
    }
    Ok(())
}

pub fn call_engine_detailed(
    engine: &dyn Engine,
    mut request: StageRequest,
    key: CacheKey,
) -> Result<warmstart_engine::StageOutput, CallError> {
    // Created by the engine only if it needs one (most do not).
    let scratch = std::env::temp_dir().join(format!(
        "warmstart-scratch-{}-{}",
        std::process::id(),
        key.short()
    ));
    request.scratch_dir = Some(scratch.clone());
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| engine.run(&request)));
    if scratch.exists() {
        let _ = std::fs::remove_dir_all(&scratch);
    }
    match result {
        Ok(Ok(o)) => match engine.info().kind(&request.kind) {
            Some(kind) => match check_declared_outputs(kind, &o) {
                Ok(()) => Ok(o),
                Err(problem) => Err(CallError {
                    message: format!(
                        "engine `{}`'s kind `{}` returned outputs that do not match its declaration: {problem} (a bug in the engine or in its `writes` declaration)",
                        engine.info().id,
                        kind.name
                    ),
                    param: None,
                }),
            },
            None => Ok(o),
        },
        Ok(Err(e)) => Err(CallError {
            message: e.to_string(),
            param: match e {
                warmstart_engine::EngineError::Param { name, .. } => Some(name),
                _ => None,
            },
        }),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            Err(CallError {
                message: format!("the engine panicked: {msg} (this is a bug in the engine)"),
                param: None,
            })
        }
    }
}
