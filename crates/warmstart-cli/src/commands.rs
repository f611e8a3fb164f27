//! The subcommands. Each returns `Ok(())` or a [`Failure`] carrying its exit code.

use std::io::{BufWriter, IsTerminal};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde_json::json;
use warmstart::Reporter;
use warmstart_engine::Value;
use warmstart_plan::run::RunOptions;
use warmstart_plan::status::Freshness;
use warmstart_plan::{Plan, assess};

use crate::context::{coords_match, load_plan, open_store, parse_at, registry};
use crate::output::{Output, eprint_line};
use crate::render::{csv, json_rows, pretty};
use crate::{Failure, Format};

pub fn coords_json(coords: &[(String, Value)]) -> serde_json::Value {
    serde_json::Value::Object(
        coords
            .iter()
            .map(|(a, v)| (a.clone(), v.to_json()))
            .collect(),
    )
}

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

pub fn run(
    file: &Path,
    cache: &Path,
    jobs: Option<usize>,
    fail_fast: bool,
    json_out: bool,
    verify: bool,
) -> Result<(), Failure> {
    let plan = load_plan(file)?;
    let store = open_store(cache)?;
    store
        .clean_tmp()
        .map_err(|e| Failure::Stage(format!("error: {e}")))?;
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
    let (summary, written) = if json_out {
        let mut reporter = warmstart::JsonReporter::new(BufWriter::new(std::io::stdout().lock()))
            .with_plain_warnings(Box::new(std::io::stderr()));
        let summary = warmstart::run(&plan, &store, &opts, &mut reporter);
        (summary, output_error(reporter.error()))
    } else if std::io::stderr().is_terminal() {
        let mut reporter = crate::progress::ProgressReporter::new(plan.nodes.len() as u64);
        let summary = warmstart::run(&plan, &store, &opts, &mut reporter);
        reporter.finish();
        (summary, output_error(reporter.error()))
    } else {
        let mut reporter = warmstart::PlainReporter::new(
            BufWriter::new(std::io::stdout().lock()),
            // Not locked for the whole run: the Ctrl-C handler prints on its own thread,
            // and a second Ctrl-C must get through while stages are still running.
            std::io::stderr(),
        );
        let summary = warmstart::run(&plan, &store, &opts, &mut reporter);
        (summary, output_error(reporter.error()))
    };
    if summary.interrupted {
        Err(Failure::Interrupted)
    } else if summary.failed > 0 || summary.skipped > 0 {
        Err(Failure::Stage(String::new()))
    } else {
        written
    }
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

pub fn plan(file: &Path, cache: &Path, json_out: bool) -> Result<(), Failure> {
    let plan = load_plan(file)?;
    let store = open_store(cache)?;
    let a = assess(&plan, &store);
    let mut out = Output::stdout();
    let mut fresh = 0;
    for (node, f) in plan.nodes.iter().zip(&a.freshness) {
        let (status, reasons) = match f {
            Freshness::Fresh { .. } => ("fresh", &[][..]),
            Freshness::Stale { reasons, .. } => ("stale", reasons.as_slice()),
        };
        if f.is_fresh() {
            fresh += 1;
        }
        if json_out {
            let line = json!({
                "stage": node.stage,
                "coords": coords_json(&node.coords),
                "key": f.key().map(|k| k.to_string()),
                "status": status,
                "reasons": reasons,
            });
            out.line(format_args!("{line}"));
        } else {
            let key = f.key().map(|k| k.short()).unwrap_or_else(|| "?".repeat(12));
            let first = reasons.first().cloned().unwrap_or_default();
            out.line(format_args!(
                "{status:<7}{:<40} {key}  {first}",
                node.label()
            ));
            for r in reasons.iter().skip(1) {
                out.line(format_args!("{:<61}{r}", ""));
            }
        }
    }
    let stale = plan.nodes.len() - fresh;
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

fn select(plan: &Plan, stage: &str, at: &[String]) -> Result<Vec<usize>, Failure> {
    let at = parse_at(at)?;
    if !plan.experiment.stages.iter().any(|s| s.name == stage) {
        let names: Vec<&str> = plan
            .experiment
            .stages
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        let hint = warmstart_spec::did_you_mean(stage, names.iter().copied())
            .unwrap_or_else(|| format!("stages: {}", names.join(", ")));
        return Err(Failure::Invalid(format!(
            "error: {} has no stage `{stage}`\n  help: {hint}",
            plan.experiment.source.path.display()
        )));
    }
    let nodes: Vec<usize> = plan
        .nodes_of(stage)
        .into_iter()
        .filter(|&i| coords_match(&plan.nodes[i].coords, &at))
        .collect();
    if nodes.is_empty() {
        return Err(Failure::Invalid(format!(
            "error: no instance of `{stage}` matches {}\n  help: `warmstart plan FILE` lists the instances and their coordinates",
            at.iter()
                .map(|(a, v)| format!("{a}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(nodes)
}

pub fn why(file: &Path, cache: &Path, stage: &str, at: &[String]) -> Result<(), Failure> {
    let plan = load_plan(file)?;
    let store = open_store(cache)?;
    let nodes = select(&plan, stage, at)?;
    let a = assess(&plan, &store);
    let mut out = Output::stdout();
    for i in nodes {
        let node = &plan.nodes[i];
        let Some(ki) = a.key_inputs(&plan, i) else {
            continue;
        };
        let f = &a.freshness[i];
        let status = if f.is_fresh() { "fresh" } else { "stale" };
        out.line(format_args!("{}: {status}", node.label()));
        out.line(format_args!(
            "  key            {}",
            f.key()
                .map(|k| k.to_string())
                .unwrap_or_else(|| "(unknown until its inputs are recomputed)".into())
        ));
        out.line(format_args!("  kind           {}", ki.kind));
        out.line(format_args!(
            "  engine         {} {}",
            ki.engine_id, ki.engine_version
        ));
        for (k, v) in &ki.engine_extra {
            out.line(format_args!("  engine extra   {k} = {v}"));
        }
        for (k, v) in &ki.params {
            out.line(format_args!("  param          {k} = {v}"));
        }
        for (k, v) in node
            .params
            .iter()
            .filter(|(k, _)| !ki.params.contains_key(*k))
        {
            out.line(format_args!("  (not in key)   {k} = {v}"));
        }
        match ki.seed {
            Some(s) => {
                let origin = if plan.experiment.stages[node.stage_index].seed.is_some() {
                    "explicit"
                } else {
                    "derived from the experiment seed, stage name and coordinates"
                };
                out.line(format_args!("  seed           {s} ({origin})"));
            }
            None => {
                out.line(format_args!(
                    "  seed           (not in key: kind is deterministic)"
                ));
            }
        }
        for (inp, &j) in ki.inputs.iter().zip(&node.inputs) {
            let d = if a.freshness[j].is_fresh() {
                inp.digest.short()
            } else {
                "(will be recomputed)".into()
            };
            out.line(format_args!(
                "  input          {} → {d}",
                plan.nodes[j].label()
            ));
        }
        match f {
            Freshness::Fresh { manifest, .. } => {
                out.line(format_args!(
                    "  cached         output {} ({} table(s), ran in {} ms)",
                    manifest.output_digest.short(),
                    manifest.outputs.len(),
                    manifest.duration_ms
                ));
            }
            Freshness::Stale { reasons, .. } => {
                out.line(format_args!("  will run because:"));
                for r in reasons {
                    out.line(format_args!("    - {r}"));
                }
            }
        }
    }
    out.finish()
}

pub fn show(
    file: &Path,
    cache: &Path,
    stage: &str,
    format: Format,
    limit: Option<usize>,
    table: Option<&str>,
    at: &[String],
) -> Result<(), Failure> {
    let plan = load_plan(file)?;
    let store = open_store(cache)?;
    let nodes = select(&plan, stage, at)?;
    let a = assess(&plan, &store);
    let mut out = Output::stdout();
    let mut json_all = Vec::new();
    for (n, &i) in nodes.iter().enumerate() {
        let node = &plan.nodes[i];
        let Freshness::Fresh { key, .. } = &a.freshness[i] else {
            return Err(Failure::Stage(format!(
                "error: `{}` has no up-to-date output\n  help: run `warmstart run {}` first (`warmstart why` says why it is stale)",
                node.label(),
                file.display()
            )));
        };
        let tables = store
            .read(key)
            .map_err(|e| crate::verify::read_failure(&store, key, &node.label(), e))?;
        let Some(t) = (match table {
            Some(name) => tables.iter().find(|t| t.name == name),
            None => tables.first(),
        }) else {
            let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
            return Err(Failure::Invalid(format!(
                "error: `{}` has no output table `{}`\n  help: its tables are: {}",
                node.label(),
                table.unwrap_or(""),
                names.join(", ")
            )));
        };
        let batch = match limit {
            Some(l) => t.batch.slice(0, l.min(t.batch.num_rows())),
            None => t.batch.clone(),
        };
        match format {
            Format::Table => {
                if nodes.len() > 1 || tables.len() > 1 {
                    out.line(format_args!(
                        "{} · {} ({} rows)",
                        node.label(),
                        t.name,
                        t.batch.num_rows()
                    ));
                }
                out.line(format_args!("{}", pretty(&[batch])));
            }
            Format::Csv => {
                out.text(format_args!("{}", csv(&batch, n == 0)));
            }
            Format::Json => {
                for mut row in json_rows(&batch) {
                    if let serde_json::Value::Object(m) = &mut row
                        && !node.coords.is_empty()
                    {
                        m.insert("_coords".into(), coords_json(&node.coords));
                    }
                    json_all.push(row);
                }
            }
        }
    }
    if format == Format::Json {
        out.line(format_args!(
            "{}",
            serde_json::to_string_pretty(&json_all).unwrap_or_default()
        ));
    }
    out.finish()
}

pub fn gc(files: &[std::path::PathBuf], cache: &Path, apply: bool) -> Result<(), Failure> {
    let store = open_store(cache)?;
    let mut keep = std::collections::HashSet::new();
    for f in files {
        let plan = load_plan(f)?;
        let a = assess(&plan, &store);
        keep.extend(
            a.freshness
                .iter()
                .filter(|f| f.is_fresh())
                .filter_map(|f| f.key()),
        );
    }
    let entries = store
        .entries()
        .map_err(|e| Failure::Stage(format!("error: cannot list the cache: {e}")))?;
    let mut n = 0usize;
    let mut out = Output::stdout();
    for (key, manifest) in entries {
        if keep.contains(&key) {
            continue;
        }
        n += 1;
        let what = match &manifest {
            Ok(m) => warmstart_plan::plan::label(&m.stage, &m.coords),
            Err(e) => format!("(unreadable manifest: {e})"),
        };
        if apply {
            store
                .remove(&key)
                .map_err(|e| Failure::Stage(format!("error: cannot remove {key}: {e}")))?;
            out.line(format_args!("removed  {}  {what}", key.short()));
        } else {
            out.line(format_args!("garbage  {}  {what}", key.short()));
        }
    }
    let cleaned = store.clean_tmp().unwrap_or(0);
    if apply {
        let stale = store
            .remove_stale_files()
            .map_err(|e| Failure::Stage(format!("error: {e}")))?;
        out.line(format_args!(
            "removed {n} unreachable entr{} ({cleaned} stale temp dirs, {} idle lock files, {} dangling refs)",
            if n == 1 { "y" } else { "ies" },
            stale.locks,
            stale.refs
        ));
    } else {
        out.line(format_args!(
            "{n} unreachable entr{} (dry run: pass --apply to delete)",
            if n == 1 { "y" } else { "ies" }
        ));
    }
    out.finish()
}

pub fn schema(project: bool) -> Result<(), Failure> {
    let schema = if project {
        warmstart_spec::project_json_schema()
    } else {
        warmstart_spec::json_schema(&registry(None).kinds())
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
        Some(f) => {
            let exp = warmstart_spec::load(f)
                .map_err(|e| Failure::Invalid(crate::context::render_all(&e)))?;
            warmstart::registry_for(&exp)
                .map_err(|e| Failure::Invalid(crate::context::render_all(&e)))?
        }
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
    match warmstart_plugin_host::describe(path) {
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
