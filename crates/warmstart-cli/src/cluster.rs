//! The cluster side of the command line: `run --executor slurm [--detach]`, the hidden
//! `worker` subcommand a Slurm job runs, `status` and `cancel`. Rendering only; the work
//! is the facade's (`warmstart::slurm`).

use std::path::{Path, PathBuf};

use clap::ValueEnum;
use warmstart::Plan;
use warmstart::Reporter;
use warmstart::slurm::{ExecutorKind, SlurmCommands, SlurmConfig, SlurmError};
use warmstart::{RunOptions, RunSummary};

use crate::Failure;
use crate::context::{load_plan, open_store, open_store_for_reading};
use crate::output::{Output, eprint_line};

/// Where stages run (`--executor`).
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum ExecutorArg {
    /// Threads of this process.
    Local,
    /// Slurm jobs (sbatch), with the cache on a filesystem every node mounts.
    Slurm,
}

/// A Slurm run's settings.
pub struct Slurm {
    cfg: SlurmConfig,
    commands: SlurmCommands,
    pub detach: bool,
}

/// The executor to use: `--executor`, else the project file's `[executor] kind`, else
/// local. `None` for local.
pub fn choose(
    plan: &Plan,
    flag: Option<ExecutorArg>,
    detach: bool,
) -> Result<Option<Slurm>, Failure> {
    let spec = warmstart::slurm::executor_spec(plan);
    let kind = match flag {
        Some(ExecutorArg::Slurm) => ExecutorKind::Slurm,
        Some(ExecutorArg::Local) => ExecutorKind::Local,
        None => spec.as_ref().map_or(ExecutorKind::Local, |s| s.kind),
    };
    if kind == ExecutorKind::Local {
        if detach {
            return Err(Failure::Invalid(
                "error: --detach needs a cluster executor\n  help: add `--executor slurm`, or set `[executor] kind = \"slurm\"` in warmstart.toml".into(),
            ));
        }
        return Ok(None);
    }
    let exe = std::env::current_exe().map_err(|e| {
        Failure::Invalid(format!(
            "error: cannot find the warmstart binary for the jobs to run: {e}"
        ))
    })?;
    let commands = SlurmCommands::find().map_err(|e| Failure::Invalid(format!("error: {e}")))?;
    Ok(Some(Slurm {
        cfg: SlurmConfig::new(spec.as_ref(), exe),
        commands,
        detach,
    }))
}

fn slurm_failure(e: SlurmError) -> Failure {
    match e {
        SlurmError::Cache(_) | SlurmError::PartlySubmitted { .. } => {
            Failure::Stage(format!("error: {e}"))
        }
        _ if e.nothing_submitted() => {
            Failure::Invalid(format!("error: {e}\n  nothing was submitted"))
        }
        _ => Failure::Stage(format!("error: {e}")),
    }
}

/// The facade's Slurm run with this run's settings.
fn on_slurm(
    plan: &Plan,
    store: &warmstart::Store,
    opts: &RunOptions,
    slurm: &Slurm,
    detach: bool,
    reporter: &mut dyn Reporter,
) -> Result<warmstart::slurm::SlurmRun, Failure> {
    let cfg = slurm.cfg.clone();
    warmstart::slurm::run_on_slurm(plan, store, opts, cfg, &slurm.commands, detach, reporter)
        .map_err(slurm_failure)
}

/// Run under Slurm, following every job to its end (Ctrl-C detaches).
pub fn run(
    plan: &Plan,
    store: &warmstart::Store,
    opts: &RunOptions,
    slurm: &Slurm,
    reporter: &mut dyn Reporter,
) -> Result<RunSummary, Failure> {
    Ok(on_slurm(plan, store, opts, slurm, false, reporter)?.summary)
}

/// `--detach`: submit, print what was submitted, return.
pub fn detach(
    plan: &Plan,
    store: &warmstart::Store,
    opts: &RunOptions,
    slurm: &Slurm,
    file: &Path,
) -> Result<(), Failure> {
    let r = on_slurm(plan, store, opts, slurm, true, &mut ())?;
    let s = &r.submitted;
    let mut out = Output::stdout();
    for (stage, job, tasks) in &s.submitted {
        let what = if *tasks == 1 {
            "1 instance".to_string()
        } else {
            format!("{tasks} instances (array)")
        };
        out.line(format_args!("submitted {stage}: Slurm job {job}, {what}"));
    }
    out.line(format_args!(
        "{}: {} fresh, {} submitted in {} job(s), {} already queued, {} finished earlier, {} left for a later run (local stages and what needs them)",
        plan.experiment.name,
        s.fresh,
        s.submitted.iter().map(|(_, _, n)| n).sum::<usize>(),
        s.submitted.len(),
        s.adopted,
        s.finished_before,
        s.later
    ));
    out.line(format_args!(
        "detached: `warmstart status {f}` shows progress, `warmstart run {f}` reattaches (and runs the local stages), `warmstart cancel {f}` cancels",
        f = file.display()
    ));
    out.finish()
}

/// After an interrupted Slurm run: how to come back.
pub fn reattach_hint(file: &Path) {
    eprint_line(format_args!(
        "warmstart: detached — the submitted jobs keep running. `warmstart run {f}` reattaches; `warmstart cancel {f}` cancels them",
        f = file.display()
    ));
}

/// `warmstart status FILE`: every instance's state on the cluster.
pub fn status(file: &Path, cache: &Path, json_out: bool) -> Result<(), Failure> {
    let plan = load_plan(file)?;
    let store = open_store_for_reading(cache)?;
    let rows = warmstart::slurm::status(&plan, &store, &SlurmCommands::default())
        .map_err(slurm_failure)?;
    let mut out = Output::stdout();
    if json_out {
        for r in &rows {
            out.line(format_args!(
                "{}",
                serde_json::to_string(r).unwrap_or_default()
            ));
        }
        return out.finish();
    }
    let width = rows.iter().map(|r| r.label.len()).max().unwrap_or(0);
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for r in &rows {
        *counts.entry(r.state).or_default() += 1;
        let job = r
            .job
            .as_deref()
            .map(|j| format!("job {j}"))
            .unwrap_or_default();
        let detail = r.detail.as_deref().unwrap_or("");
        let line = format!("{:width$}  {:13}  {:12}  {}", r.label, r.state, job, detail);
        out.line(format_args!("{}", line.trim_end()));
    }
    let summary: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    out.line(format_args!(
        "{}: {}",
        plan.experiment.name,
        summary.join(", ")
    ));
    out.finish()
}

/// `warmstart cancel FILE`: scancel the experiment's queued and running jobs.
pub fn cancel(file: &Path, cache: &Path) -> Result<(), Failure> {
    let plan = load_plan(file)?;
    let store = open_store(cache)?;
    let commands = SlurmCommands::find().map_err(|e| Failure::Invalid(format!("error: {e}")))?;
    let jobs = warmstart::slurm::cancel(&plan, &store, &commands).map_err(slurm_failure)?;
    let mut out = Output::stdout();
    if jobs.is_empty() {
        out.line(format_args!(
            "{}: no queued or running jobs",
            plan.experiment.name
        ));
    } else {
        out.line(format_args!(
            "{}: cancelled Slurm job(s) {}",
            plan.experiment.name,
            jobs.join(", ")
        ));
    }
    out.finish()
}

/// `warmstart worker`: run one task of a job; exit 0 when its entry is in the cache.
pub fn worker(cache: &Path, tasks: &str, task: Option<u32>) -> Result<(), Failure> {
    let task = match task {
        Some(t) => t,
        None => match std::env::var("SLURM_ARRAY_TASK_ID") {
            Ok(t) => t.parse().map_err(|_| {
                Failure::Invalid(format!("error: SLURM_ARRAY_TASK_ID is not a number: `{t}`"))
            })?,
            Err(_) => 0,
        },
    };
    let cache: PathBuf = cache.to_path_buf();
    match warmstart::slurm::worker(&cache, tasks, task) {
        Ok(record) => match record.outcome {
            warmstart::slurm::Outcome::Ok { ran, key, .. } => {
                eprint_line(format_args!(
                    "warmstart worker: {} {}",
                    if ran {
                        "ran and stored"
                    } else {
                        "found in the cache:"
                    },
                    key
                ));
                Ok(())
            }
            warmstart::slurm::Outcome::Failed { error } => {
                Err(Failure::Stage(format!("error: {error}")))
            }
        },
        Err(e) => Err(Failure::Stage(format!("error: warmstart worker: {e}"))),
    }
}

/// `show FILE STAGE --table log`: the log of each selected instance's last cluster job.
pub fn show_logs(plan: &Plan, store: &warmstart::Store, nodes: &[usize]) -> Result<(), Failure> {
    let jobs = warmstart::slurm::job_logs(plan, store);
    let mut out = Output::stdout();
    let mut missing = Vec::new();
    for &i in nodes {
        let label = plan.nodes[i].label();
        match jobs.get(i).and_then(Option::as_ref) {
            Some(j) => {
                out.line(format_args!(
                    "── {label} · Slurm job {} · {}",
                    j.job,
                    j.log.display()
                ));
                match std::fs::read(&j.log) {
                    Ok(bytes) => out.text(format_args!("{}", String::from_utf8_lossy(&bytes))),
                    Err(e) => out.line(format_args!("(no log yet: {e} — the job has not started)")),
                }
            }
            None => missing.push(label),
        }
    }
    out.finish()?;
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Failure::Stage(format!(
            "error: no cluster job ran for {}\n  help: only instances run with `--executor slurm` have job logs",
            missing.join(", ")
        )))
    }
}
