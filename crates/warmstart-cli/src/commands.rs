//! The subcommands. Each returns `Ok(())` or a [`Failure`] carrying its exit code.

use std::io::{BufWriter, IsTerminal};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde_json::json;
use warmstart::status::{SeedOrigin, Verdict};
use warmstart::{Reporter, RunOptions, assess};

use crate::Failure;
use crate::context::{
    load_plan, load_plan_with, open_store, open_store_for_reading, registry, select,
};
use crate::output::{Output, eprint_line};

/// Install the Ctrl-C handler: the first press stops dispatching, the second exits.
fn install_interrupt() -> Arc<AtomicBool> {
    let cancel = Arc::new(AtomicBool::new(false));
    let presses = Arc::new(AtomicUsize::new(0));
    let c = cancel.clone();
    let _ = ctrlc::set_handler(move || {
        if presses.fetch_add(1, Ordering::SeqCst) == 0 {
            c.store(true, Ordering::SeqCst);
            eprint_line(format_args!(
                "\nwarmstart: interrupted — waiting for running stages to finish (Ctrl-C again to abort now; \
                 nothing half-written is ever recorded)"
            ));
        } else {
            // Safe: entries are written to a temp dir and renamed into place, so an abort
            // leaves at most an orphaned temp dir, cleaned by the next run.
            std::process::exit(crate::exit::INTERRUPTED.into());
        }
    });
    cancel
}

/// At most this many `--jobs` slots per core: stages may wait on I/O or child processes,
/// so some oversubscription pays, but each slot is a thread with its own stack, and tens
/// of thousands of them only cost memory and start-up time.
pub const MAX_JOBS_PER_CORE: usize = 4;

/// Check `--jobs`: 0 is an error; more than [`MAX_JOBS_PER_CORE`] × `cores` is capped, with
/// a note saying so.
fn cap_jobs(requested: usize, cores: usize) -> Result<(usize, Option<String>), Failure> {
    if requested == 0 {
        return Err(Failure::Invalid(
            "error: --jobs must be at least 1\n  help: leave it out to use one slot per core"
                .into(),
        ));
    }
    let max = MAX_JOBS_PER_CORE.saturating_mul(cores.max(1));
    if requested > max {
        Ok((
            max,
            Some(format!(
                "warmstart: --jobs {requested} capped at {max} ({MAX_JOBS_PER_CORE} per core, \
                 {cores} core(s))"
            )),
        ))
    } else {
        Ok((requested, None))
    }
}

/// The options of `warmstart run`.
pub struct RunArgs {
    pub overrides: Vec<String>,
    pub jobs: Option<usize>,
    pub fail_fast: bool,
    pub json: bool,
    pub verify: bool,
    pub executor: Option<crate::cluster::ExecutorArg>,
    pub detach: bool,
}

pub fn run(file: &Path, cache: &Path, args: RunArgs) -> Result<(), Failure> {
    let RunArgs {
        overrides,
        jobs,
        fail_fast,
        json: json_out,
        verify,
        executor,
        detach,
    } = args;
    let plan = load_plan_with(file, &overrides)?;
    let store = open_store(cache)?;
    let slurm = crate::cluster::choose(&plan, executor, detach)?;
    if verify {
        crate::verify::before_run(&plan, &store)?;
    }
    let mut opts = RunOptions {
        fail_fast,
        cancel: install_interrupt(),
        ..RunOptions::default()
    };
    if let Some(j) = jobs {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let (j, note) = cap_jobs(j, cores)?;
        if let Some(note) = note {
            eprint_line(format_args!("{note}"));
        }
        opts.jobs = j;
    }
    if let Some(s) = slurm.as_ref().filter(|s| s.detach) {
        return crate::cluster::detach(&plan, &store, &opts, s, file);
    }
    let go = |reporter: &mut dyn Reporter| match &slurm {
        None => warmstart::run(&plan, &store, &opts, reporter).map_err(run_failure),
        Some(s) => crate::cluster::run(&plan, &store, &opts, s, reporter),
    };
    let (summary, written) = if json_out {
        let mut reporter = warmstart::JsonReporter::new(BufWriter::new(std::io::stdout().lock()))
            .with_plain_warnings(Box::new(std::io::stderr()));
        let summary = go(&mut reporter)?;
        (summary, output_error(reporter.error()))
    } else if std::io::stderr().is_terminal() {
        let mut reporter = crate::progress::ProgressReporter::new(
            plan.nodes.len() as u64,
            eta(&plan, &store, slurm.as_ref(), opts.jobs),
        );
        let summary = go(&mut reporter)?;
        reporter.finish();
        (summary, output_error(reporter.error()))
    } else {
        let mut reporter = warmstart::PlainReporter::new(
            BufWriter::new(std::io::stdout().lock()),
            // Not locked for the whole run: the Ctrl-C handler prints on its own thread,
            // and a second Ctrl-C must get through while stages are still running.
            std::io::stderr(),
        );
        let summary = go(&mut reporter)?;
        (summary, output_error(reporter.error()))
    };
    if summary.interrupted {
        if slurm.is_some() {
            crate::cluster::reattach_hint(file);
        }
        Err(Failure::Interrupted)
    } else if summary.failed > 0 || summary.skipped > 0 {
        Err(Failure::Stage(String::new()))
    } else {
        written
    }
}

/// What the progress view estimates from: each instance's last recorded duration. On a
/// cluster, queueing dominates and the slots are not ours: elapsed times only, no ETA.
fn eta(
    plan: &warmstart::Plan,
    store: &warmstart::Store,
    slurm: Option<&crate::cluster::Slurm>,
    jobs: usize,
) -> warmstart::estimate::EtaTracker {
    use warmstart::estimate::{Estimates, EtaTracker};
    let estimates = match slurm {
        None => Estimates::load(plan, store),
        Some(_) => Estimates::from_records(plan, &[], &[]),
    };
    EtaTracker::new(estimates, jobs)
}

/// A run that could not start (its temp directory could not be cleaned): nothing ran.
fn run_failure(e: warmstart::RunError) -> Failure {
    Failure::Stage(format!("error: {e}"))
}

/// A write error on the run's output: a closed pipe ends quietly, others are reported.
/// (The entries of the run are written either way.)
fn output_error(e: Option<&std::io::Error>) -> Result<(), Failure> {
    match e {
        None => Ok(()),
        Some(e) => Err(Failure::Output(std::io::Error::new(
            e.kind(),
            e.to_string(),
        ))),
    }
}

pub fn plan(
    file: &Path,
    overrides: &[String],
    cache: &Path,
    json_out: bool,
) -> Result<(), Failure> {
    let plan = load_plan_with(file, overrides)?;
    let store = open_store_for_reading(cache)?;
    let rows = warmstart::status::plan_rows(&plan, &assess(&plan, &store));
    let mut out = Output::stdout();
    let mut fresh = 0;
    for row in &rows {
        let status = if row.fresh { "fresh" } else { "stale" };
        if row.fresh {
            fresh += 1;
        }
        if json_out {
            let line = json!({
                "stage": row.stage,
                "coords": row.coords,
                "key": row.key.map(|k| k.to_string()),
                "status": status,
                "reasons": row.reasons,
            });
            out.line(format_args!("{line}"));
        } else {
            let key = row.key.map(|k| k.short()).unwrap_or_else(|| "?".repeat(12));
            let first = row.reasons.first().cloned().unwrap_or_default();
            out.line(format_args!("{status:<7}{:<40} {key}  {first}", row.label));
            for r in row.reasons.iter().skip(1) {
                out.line(format_args!("{:<61}{r}", ""));
            }
        }
    }
    let stale = plan.nodes.len() - fresh;
    for g in warmstart::status::shared_keys(&rows) {
        let axes: Vec<String> = g.axes.iter().map(|a| format!("`{a}`")).collect();
        eprint_line(format_args!(
            "warning: {} instances of `{}` share one key: its params do not use axis {} (a run computes it once; the others report cached)",
            g.instances,
            g.stage,
            axes.join(", ")
        ));
    }
    if json_out {
        out.line(format_args!("{}",
            json!({"summary": {"experiment": plan.experiment.name, "stages": plan.nodes.len(), "fresh": fresh, "stale": stale}})
        ));
    } else {
        out.line(format_args!(
            "{}: {} stages — {fresh} fresh, {stale} to run",
            plan.experiment.name,
            plan.nodes.len()
        ));
    }
    out.finish()
}

pub fn why(file: &Path, cache: &Path, stage: &str, at: &[String]) -> Result<(), Failure> {
    let plan = load_plan(file)?;
    let store = open_store_for_reading(cache)?;
    let nodes = select(&plan, stage, at)?;
    let a = assess(&plan, &store);
    let mut out = Output::stdout();
    let jobs = warmstart::slurm::job_logs(&plan, &store);
    for (x, &i) in warmstart::status::explain(&plan, &a, &nodes)
        .iter()
        .zip(&nodes)
    {
        let status = if x.fresh { "fresh" } else { "stale" };
        out.line(format_args!("{}: {status}", x.label));
        if let Some(Some(j)) = jobs.get(i) {
            let how = match &j.outcome {
                Some(warmstart::slurm::Outcome::Ok { .. }) => "finished",
                Some(warmstart::slurm::Outcome::Failed { .. }) => "failed",
                None => "no status record",
            };
            out.line(format_args!(
                "  cluster job    {} ({how}; log: {}; `--table log` with `show` prints it)",
                j.job,
                j.log.display()
            ));
        }
        out.line(format_args!(
            "  key            {}",
            x.key
                .map(|k| k.to_string())
                .unwrap_or_else(|| "(unknown until its inputs are recomputed)".into())
        ));
        out.line(format_args!("  kind           {}", x.kind));
        out.line(format_args!(
            "  engine         {} {}",
            x.engine_id, x.engine_version
        ));
        for (k, v) in &x.engine_extra {
            out.line(format_args!("  engine extra   {k} = {v}"));
        }
        for (k, v) in &x.params {
            out.line(format_args!("  param          {k} = {v}"));
        }
        for (k, v) in &x.not_in_key {
            out.line(format_args!("  (not in key)   {k} = {v}"));
        }
        match x.seed {
            SeedOrigin::Explicit(s) => out.line(format_args!("  seed           {s} (explicit)")),
            SeedOrigin::Derived(s) => out.line(format_args!(
                "  seed           {s} (derived from the experiment seed, stage name and coordinates)"
            )),
            _ => out.line(format_args!(
                "  seed           (not in key: kind is deterministic)"
            )),
        }
        for inp in &x.inputs {
            let d = inp
                .digest
                .map_or_else(|| "(will be recomputed)".into(), |d| d.short());
            out.line(format_args!("  input          {} → {d}", inp.label));
        }
        match &x.verdict {
            Verdict::Cached {
                output_digest,
                tables,
                duration_ms,
            } => {
                out.line(format_args!(
                    "  cached         output {} ({tables} table(s), ran in {duration_ms} ms)",
                    output_digest.short(),
                ));
            }
            Verdict::WillRun { reasons } => {
                out.line(format_args!("  will run because:"));
                for r in reasons {
                    out.line(format_args!("    - {r}"));
                }
            }
            _ => {}
        }
    }
    out.finish()
}

pub fn gc(files: &[std::path::PathBuf], cache: &Path, apply: bool) -> Result<(), Failure> {
    let store = open_store(cache)?;
    let mut live = std::collections::HashSet::new();
    let mut plans = Vec::new();
    for f in files {
        let plan = load_plan(f)?;
        live.extend(warmstart::gc::live_keys(&plan, &store));
        plans.push(plan);
    }
    // Each experiment's latest run and every tagged run keep their entries, so that
    // `compare` and a re-run of a named configuration stay cheap.
    let history = warmstart::runs::kept_keys(&store)
        .map_err(|e| Failure::Stage(format!("error: cannot read the run records: {e}")))?;
    live.extend(history);
    let verb = if apply { "removed" } else { "garbage" };
    let mut out = Output::stdout();
    let report = match warmstart::gc::gc(&store, &live, apply) {
        Ok(r) => r,
        Err(e) => {
            for c in e.removed() {
                out.line(format_args!("removed  {}  {}", c.key.short(), c.what));
            }
            // The lines above say what is already gone; the failure below is the exit
            // status, whatever happens to them.
            let _ = out.finish();
            return Err(Failure::Stage(format!("error: {e}")));
        }
    };
    for c in &report.candidates {
        out.line(format_args!("{verb}  {}  {}", c.key.short(), c.what));
    }
    let plan_refs: Vec<&warmstart::Plan> = plans.iter().collect();
    match warmstart::slurm::gc_jobs(&plan_refs, &store, apply) {
        Ok(j) if j.jobs > 0 => out.line(format_args!(
            "{verb}  {} finished cluster job(s): {} file(s), {} bytes (specs, status records, logs)",
            j.jobs,
            j.files.len(),
            j.bytes
        )),
        Ok(_) => {}
        Err(e) => return Err(Failure::Stage(format!("error: {e}"))),
    }
    let n = report.candidates.len();
    if apply {
        out.line(format_args!(
            "removed {n} unreachable entr{} ({} stale temp dirs, {} idle lock files, {} dangling refs)",
            if n == 1 { "y" } else { "ies" },
            report.cleaned_tmp,
            report.stale_locks,
            report.stale_refs
        ));
    } else {
        out.line(format_args!(
            "{n} unreachable entr{} (dry run: pass --apply to delete)",
            if n == 1 { "y" } else { "ies" }
        ));
    }
    out.finish()
}

/// `schema [FILE] [--project]`: the JSON Schema of experiment files (knowing the kinds of
/// FILE's plugins too), or of the project file.
pub fn schema(file: Option<&Path>, project: bool) -> Result<(), Failure> {
    let schema = match file {
        _ if project => warmstart::describe::project_schema(),
        Some(f) => warmstart::describe::experiment_schema_for(f)
            .map_err(|e| Failure::Invalid(crate::context::render_all(&e.0)))?,
        None => warmstart::describe::experiment_schema(),
    };
    let mut out = Output::stdout();
    out.line(format_args!(
        "{}",
        serde_json::to_string_pretty(&schema).unwrap_or_default()
    ));
    out.finish()
}

/// `plugins list [FILE]`: the engines an experiment can use (built-ins, plus its plugins).
pub fn plugins_list(file: Option<&Path>) -> Result<(), Failure> {
    let reg = match file {
        Some(f) => warmstart::engines_for_file(f)
            .map_err(|e| Failure::Invalid(crate::context::render_all(&e.0)))?,
        None => registry(None),
    };
    let mut out = Output::stdout();
    for (name, engine) in reg.engines() {
        let info = engine.info();
        out.line(format_args!(
            "{name}  (id {}, version {})",
            info.id, info.version
        ));
        for k in &info.kinds {
            out.line(format_args!("  {:<14} {}", k.name, k.doc));
        }
    }
    out.finish()
}

/// `plugins check PATH`: load a plugin and describe it, or say why it cannot load.
pub fn plugins_check(path: &Path) -> Result<(), Failure> {
    match warmstart::describe::plugin(path) {
        Ok(text) => {
            let mut out = Output::stdout();
            out.line(format_args!("{text}"));
            out.finish()
        }
        Err(e) => Err(Failure::Invalid(format!(
            "error: {e}\n  help: a plugin is a shared library built from a crate that uses warmstart-plugin-abi's `export_plugin!` (see docs/plugins.md)"
        ))),
    }
}

/// `warmstart init [DIR]`: the starter experiment, its schema and a project file.
pub fn init(dir: Option<&Path>) -> Result<(), Failure> {
    let dir = dir.unwrap_or(Path::new("."));
    match warmstart::init::init(dir) {
        Ok(files) => {
            let mut out = Output::stdout();
            for f in &files {
                out.line(format_args!("wrote {}", f.display()));
            }
            let exp = dir.join(warmstart::init::EXPERIMENT_FILE);
            out.line(format_args!(
                "next: `warmstart run {e}`, then `warmstart report {e} --open` (a page in your browser) or `warmstart export {e} --out results` (Parquet files)",
                e = exp.display()
            ));
            out.finish()
        }
        Err(e @ warmstart::init::InitError::Exists(_)) => Err(Failure::Invalid(format!(
            "error: {e}; nothing was written\n  help: give another directory (`warmstart init DIR`), or move the existing files away"
        ))),
        Err(e) => Err(Failure::Stage(format!("error: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_are_capped_per_core_and_zero_is_refused() {
        assert!(matches!(cap_jobs(0, 8), Err(Failure::Invalid(_))));
        assert!(matches!(cap_jobs(3, 2), Ok((3, None))));
        assert!(matches!(cap_jobs(8, 2), Ok((8, None))));
        let Ok((n, Some(note))) = cap_jobs(100_000, 2) else {
            panic!("100000 jobs on 2 cores must be capped with a note");
        };
        assert_eq!(n, 8);
        assert!(note.contains("capped at 8"), "{note}");
        assert!(matches!(cap_jobs(usize::MAX, 1), Ok((4, Some(_)))));
        assert!(matches!(cap_jobs(5, usize::MAX), Ok((5, None))));
    }
}
