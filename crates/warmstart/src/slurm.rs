//! Running an experiment on a Slurm cluster: submit (or reattach to) its jobs and follow
//! them to the end with the same events as a local run; `--detach`; the worker entry
//! point; cancel; and a per-instance view of where an experiment's jobs stand.
//!
//! The executor itself is `warmstart-slurm`; this module wires it to the facade's engine
//! registry (the worker rebuilds the same engines from its job spec) and reporters.

use std::path::{Path, PathBuf};

use serde::Serialize;
use warmstart_cache::store::Store;
use warmstart_plan::executor::LocalExecutor;
use warmstart_plan::run::{RunOptions, RunSummary, drive_topology, topology};
use warmstart_plan::{Plan, Registry};
use warmstart_slurm::executor::{SpecContext, SubmitReport};
use warmstart_slurm::prepare::{Planned, plan_specs, remote_nodes, spec_ids};
use warmstart_slurm::records::{ExperimentJobs, LedgerEntry, StatusRecord};
use warmstart_slurm::submit::{JobRef, queue_states};
use warmstart_slurm::worker::{job_id_from_env, run_task};
use warmstart_slurm::{Cluster, JobSpec, SlurmExecutor};

pub use warmstart_slurm::records::Outcome;
pub use warmstart_slurm::{ClusterError, SlurmCommands, SlurmConfig, SlurmError};
pub use warmstart_spec::{ExecutorKind, ExecutorSpec};

use crate::events::RunEvent;
use crate::report::Reporter;

/// How a Slurm run went: the run's summary (as for a local run) and what was submitted.
#[derive(Debug, Clone)]
pub struct SlurmRun {
    /// How each instance ended (as for a local run; empty with `detach`).
    pub summary: RunSummary,
    /// What was submitted, adopted, or left for later.
    pub submitted: SubmitReport,
}

/// The project file's `[executor]` table for this experiment, if any.
pub fn executor_spec(plan: &Plan) -> Option<ExecutorSpec> {
    warmstart_spec::load_project_for(&plan.experiment.source.path)
        .ok()
        .flatten()
        .and_then(|p| p.executor)
}

/// Submit the experiment's missing instances to Slurm (reattaching to jobs an earlier run
/// submitted) and, unless `detach`, follow them to the end. Errors come before anything
/// is submitted.
pub fn run_on_slurm(
    plan: &Plan,
    store: &Store,
    opts: &RunOptions,
    cfg: SlurmConfig,
    cluster: &dyn Cluster,
    detach: bool,
    reporter: &mut dyn Reporter,
) -> Result<SlurmRun, SlurmError> {
    // Leftovers of interrupted runs, as a local run cleans them (and fails the same way).
    store.clean_tmp()?;
    let ctx = spec_context(plan);
    // Cluster jobs do not take local thread slots: the scheduler may have every queued
    // job "running" at once; local stages still share `jobs` threads among themselves.
    let jobs = opts.jobs.max(1) + cfg.max_submitted;
    let remote = remote_nodes(plan);
    let mut topo = topology(plan);
    for (i, r) in remote.iter().enumerate() {
        if *r {
            // Each job gets its own GPU from Slurm.
            topo.gpu[i] = None;
        }
    }
    std::thread::scope(|scope| {
        let local = LocalExecutor::new(scope, plan, store);
        let mut ex =
            SlurmExecutor::prepare(plan, store, cluster, cfg, ctx, local, opts.cancel.clone())?;
        let submitted = ex.report().clone();
        if detach {
            return Ok(SlurmRun {
                summary: RunSummary::default(),
                submitted,
            });
        }
        let o = RunOptions {
            jobs,
            fail_fast: opts.fail_fast,
            cancel: opts.cancel.clone(),
        };
        let started = crate::runs::now_unix_ms();
        let summary = drive_topology(plan, store, &mut ex, topo, &o, &mut |p| {
            if let Some(ev) = RunEvent::from_progress(plan, p) {
                reporter.report(&ev);
            }
        });
        crate::run::save_record(plan, store, &summary, started, "slurm", reporter);
        reporter.report(&RunEvent::summary(plan, &summary));
        Ok(SlurmRun { summary, submitted })
    })
}

/// The experiment's plugins (absolute paths) and directory, as job specs record them.
fn spec_context(plan: &Plan) -> SpecContext {
    let dir = plan.experiment.source.path.parent().map(Path::to_path_buf);
    let abs = |p: PathBuf| std::path::absolute(&p).unwrap_or(p);
    SpecContext {
        plugins: crate::load::plugin_paths(&plan.experiment)
            .into_iter()
            .map(|(n, p)| (n, abs(p)))
            .collect(),
        base_dir: dir.map(abs),
    }
}

/// The engines a job spec may use: the built-ins and the spec's plugins.
fn registry_for_spec(spec: &JobSpec) -> Result<Registry, String> {
    let mut r = crate::load::registry(spec.base_dir.as_deref());
    crate::load::add_plugins(&mut r, &spec.plugins)?;
    Ok(r)
}

/// `warmstart worker`: run task `task` of task list `tasks` (in the cache at `cache`) as
/// the current Slurm job. The status record it wrote.
pub fn worker(cache: &Path, tasks: &str, task: u32) -> Result<StatusRecord, String> {
    let store = Store::open(cache).map_err(|e| e.to_string())?;
    run_task(&store, tasks, task, &job_id_from_env(), &registry_for_spec)
}

/// Cancel every queued or running job of the experiment; the jobs cancelled.
pub fn cancel(
    plan: &Plan,
    store: &Store,
    cluster: &dyn Cluster,
) -> Result<Vec<String>, SlurmError> {
    let jobs = ExperimentJobs::load(store, &plan.experiment.name);
    let queue = cluster.queue(&jobs.jobs)?;
    let mut alive: Vec<String> = queue
        .iter()
        .filter(|(_, s)| s.is_alive())
        .filter_map(|(id, _)| JobRef::parse(id).map(|r| r.job))
        .collect();
    alive.sort();
    alive.dedup();
    cluster.cancel(&alive)?;
    Ok(alive)
}

/// Where one instance stands with respect to the cluster.
#[derive(Debug, Clone, Serialize)]
pub struct InstanceState {
    /// `stage` or `stage[a=1]`.
    pub label: String,
    /// `fresh`, `queued`, `finished`, `failed`, `lost`, `not submitted` or `later`.
    pub state: &'static str,
    /// The Slurm job (`123_4`) and its queue state, when it has one.
    pub job: Option<String>,
    /// The queue state, the failure, or why it has no job.
    pub detail: Option<String>,
    /// The job's log file.
    pub log: Option<PathBuf>,
}

/// Every instance's state: fresh in the cache, queued (per one `squeue`), finished or
/// failed (per its worker's record), lost, or never submitted.
pub fn status(
    plan: &Plan,
    store: &Store,
    cluster: &dyn Cluster,
) -> Result<Vec<InstanceState>, SlurmError> {
    let ctx = spec_context(plan);
    let (planned, ids) = plan_specs(plan, store, &remote_nodes(plan), &ctx);
    let ledger: Vec<Option<(String, LedgerEntry)>> = planned
        .iter()
        .zip(&ids)
        .map(|(p, id)| match p {
            Planned::Fresh(_) => None,
            _ => LedgerEntry::load(store, id).map(|e| (id.clone(), e)),
        })
        .collect();
    let queue = queue_states(
        cluster,
        ledger.iter().flatten().map(|(_, e)| e.job.as_str()),
    )?;
    let mut out = Vec::with_capacity(plan.nodes.len());
    for (i, p) in planned.iter().enumerate() {
        let label = plan.nodes[i].label();
        let mut s = InstanceState {
            label,
            state: "not submitted",
            job: None,
            detail: None,
            log: None,
        };
        match (p, &ledger[i]) {
            (Planned::Fresh(_), _) => s.state = "fresh",
            (Planned::Later, None) => {
                s.state = "later";
                s.detail = Some("runs here, or is submitted when what it needs is done".into());
            }
            (_, None) => {}
            (_, Some((id, e))) => {
                s.job = Some(e.job.clone());
                s.log = Some(e.log.clone());
                let record = StatusRecord::load(store, id).filter(|r| r.job == e.job);
                match (record.map(|r| r.outcome), queue.get(&e.job)) {
                    (Some(Outcome::Ok { .. }), _) => s.state = "finished",
                    (Some(Outcome::Failed { error }), _) => {
                        s.state = "failed";
                        s.detail = Some(error);
                    }
                    (None, Some(q)) if q.is_alive() => {
                        s.state = "queued";
                        s.detail = Some(q.0.clone());
                    }
                    (None, _) => {
                        s.state = "lost";
                        s.detail = Some("left the queue without a status record (cancelled, out of time, or never started); `warmstart run` submits it again".into());
                    }
                }
            }
        }
        out.push(s);
    }
    Ok(out)
}

/// The cluster job an instance last ran as.
#[derive(Debug, Clone, Serialize)]
pub struct JobLog {
    /// `123` or `123_4`.
    pub job: String,
    /// Its stdout and stderr.
    pub log: PathBuf,
    /// What its worker reported, if it finished: the error when it failed.
    pub outcome: Option<Outcome>,
}

/// Per plan node, the cluster job it last ran as (from the ledger), if any.
pub fn job_logs(plan: &Plan, store: &Store) -> Vec<Option<JobLog>> {
    let ids = spec_ids(plan, &spec_context(plan));
    ids.iter()
        .map(|id| {
            let e = LedgerEntry::load(store, id)?;
            let outcome = StatusRecord::load(store, id)
                .filter(|r| r.job == e.job)
                .map(|r| r.outcome);
            Some(JobLog {
                job: e.job,
                log: e.log,
                outcome,
            })
        })
        .collect()
}

/// Cluster job files no run needs any more (see [`gc_jobs`]).
#[derive(Debug, Clone, Default, Serialize)]
pub struct JobGarbage {
    /// Finished jobs whose files are (or would be) removed.
    pub jobs: usize,
    /// The files.
    pub files: Vec<PathBuf>,
    /// Their total size.
    pub bytes: u64,
}

/// The job files (`v1/jobs/`) of finished jobs — those with a status record — of
/// instances that are not in `plans`: their spec, status record, ledger entry and log.
/// Jobs without a record may still be queued or running and are never touched; nor are
/// the live experiments' files (`why` and `show --table log` read them). With `apply`,
/// they are removed.
pub fn gc_jobs(
    plans: &[&Plan],
    store: &Store,
    apply: bool,
) -> Result<JobGarbage, warmstart_cache::CacheError> {
    let mut live = std::collections::HashSet::new();
    for plan in plans {
        live.extend(spec_ids(plan, &spec_context(plan)));
    }
    let status_dir = store.jobs_area("status")?;
    let mut g = JobGarbage::default();
    let names: Vec<String> = std::fs::read_dir(&status_dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    for name in names {
        let Some(spec) = name.strip_suffix(".json") else {
            continue;
        };
        if live.contains(spec) {
            continue;
        }
        g.jobs += 1;
        let mut files = vec![
            store.jobs_area("status")?.join(&name),
            store.jobs_area("specs")?.join(&name),
            store.jobs_area("ledger")?.join(&name),
        ];
        if let Some(e) = LedgerEntry::load(store, spec) {
            // Only a log inside the cache's logs directory (the ledger is a file others
            // could have written).
            let logs = store.jobs_area("logs")?;
            if let Some(file) = e.log.file_name()
                && e.log.parent().is_some_and(|p| p.ends_with("v1/jobs/logs"))
            {
                files.push(logs.join(file));
            }
        }
        for f in files {
            if let Ok(m) = std::fs::symlink_metadata(&f) {
                g.bytes += m.len();
                if apply {
                    let _ = std::fs::remove_file(&f);
                }
                g.files.push(f);
            }
        }
    }
    Ok(g)
}
