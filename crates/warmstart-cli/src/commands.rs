//! The subcommands. Each returns `Ok(())` or a [`Failure`] carrying its exit code.

use std::io::{BufWriter, IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde_json::json;
use warmstart::Reporter;
use warmstart_engine::{FILES_TABLE, Value, read_files_table};
use warmstart_plan::run::RunOptions;
use warmstart_plan::status::Freshness;
use warmstart_plan::{Plan, assess};

use crate::context::{coords_match, load_plan, open_store, parse_at, registry};
use crate::render::{csv, json_rows, pretty};
use crate::{Failure, Format};

fn coords_json(coords: &[(String, Value)]) -> serde_json::Value {
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
            eprintln!(
                "\nwarmstart: interrupted — waiting for running stages to finish (Ctrl-C again to abort now; \
                 nothing half-written is ever recorded)"
            );
        } else {
            // Safe: entries are written to a temp dir and renamed into place, so an abort
            // leaves at most an orphaned temp dir, cleaned by the next run.
            std::process::exit(crate::exit::INTERRUPTED.into());
        }
    });
    cancel
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
        if j == 0 {
            return Err(Failure::Invalid("error: --jobs must be at least 1".into()));
        }
        opts.jobs = j;
    }
    let summary = if json_out {
        let mut reporter = warmstart::JsonReporter::new(BufWriter::new(std::io::stdout().lock()))
            .with_plain_warnings(Box::new(std::io::stderr()));
        let summary = warmstart::run(&plan, &store, &opts, &mut reporter);
        output_error(reporter.error())?;
        summary
    } else if std::io::stderr().is_terminal() {
        let mut reporter = crate::progress::ProgressReporter::new(plan.nodes.len() as u64);
        let summary = warmstart::run(&plan, &store, &opts, &mut reporter);
        reporter.finish();
        output_error(reporter.error())?;
        summary
    } else {
        let mut reporter = warmstart::PlainReporter::new(
            BufWriter::new(std::io::stdout().lock()),
            std::io::stderr().lock(),
        );
        let summary = warmstart::run(&plan, &store, &opts, &mut reporter);
        output_error(reporter.error())?;
        summary
    };
    if summary.interrupted {
        Err(Failure::Interrupted)
    } else if summary.failed > 0 || summary.skipped > 0 {
        Err(Failure::Stage(String::new()))
    } else {
        Ok(())
    }
}

/// A write error on the run's output: a closed pipe ends quietly, others are reported.
/// (The entries of the run are written either way.)
fn output_error(e: Option<&std::io::Error>) -> Result<(), Failure> {
    match e {
        None => Ok(()),
        Some(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Failure::Stage(String::new())),
        Some(e) => Err(Failure::Stage(format!("error: cannot write output: {e}"))),
    }
}

pub fn plan(file: &Path, cache: &Path, json_out: bool) -> Result<(), Failure> {
    let plan = load_plan(file)?;
    let store = open_store(cache)?;
    let a = assess(&plan, &store);
    // Buffered: stdout is line-buffered, and a line per instance would be a write per line.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
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
            let _ = writeln!(out, "{line}");
        } else {
            let key = f.key().map(|k| k.short()).unwrap_or_else(|| "?".repeat(12));
            let first = reasons.first().map_or("", String::as_str);
            let _ = writeln!(out, "{status:<7}{:<40} {key}  {first}", node.label());
            for r in reasons.iter().skip(1) {
                let _ = writeln!(out, "{:<61}{r}", "");
            }
        }
    }
    let stale = plan.nodes.len() - fresh;
    if json_out {
        let _ = writeln!(
            out,
            "{}",
            json!({"summary": {"experiment": plan.experiment.name, "stages": plan.nodes.len(), "fresh": fresh, "stale": stale}})
        );
    } else {
        let _ = writeln!(
            out,
            "{}: {} stages — {fresh} fresh, {stale} to run",
            plan.experiment.name,
            plan.nodes.len()
        );
    }
    let _ = out.flush();
    Ok(())
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
    let mut out = std::io::stdout().lock();
    for i in nodes {
        let node = &plan.nodes[i];
        let Some(ki) = a.key_inputs(&plan, i) else {
            continue;
        };
        let f = &a.freshness[i];
        let status = if f.is_fresh() { "fresh" } else { "stale" };
        let _ = writeln!(out, "{}: {status}", node.label());
        let _ = writeln!(
            out,
            "  key            {}",
            f.key()
                .map(|k| k.to_string())
                .unwrap_or_else(|| "(unknown until its inputs are recomputed)".into())
        );
        let _ = writeln!(out, "  kind           {}", ki.kind);
        let _ = writeln!(
            out,
            "  engine         {} {}",
            ki.engine_id, ki.engine_version
        );
        for (k, v) in &ki.engine_extra {
            let _ = writeln!(out, "  engine extra   {k} = {v}");
        }
        for (k, v) in &ki.params {
            let _ = writeln!(out, "  param          {k} = {v}");
        }
        let not_in_key: Vec<&String> = node
            .params
            .keys()
            .filter(|k| !ki.params.contains_key(*k))
            .collect();
        for k in not_in_key {
            let _ = writeln!(out, "  (not in key)   {k} = {}", node.params[k]);
        }
        match ki.seed {
            Some(s) => {
                let origin = if plan.experiment.stages[node.stage_index].seed.is_some() {
                    "explicit"
                } else {
                    "derived from the experiment seed, stage name and coordinates"
                };
                let _ = writeln!(out, "  seed           {s} ({origin})");
            }
            None => {
                let _ = writeln!(out, "  seed           (not in key: kind is deterministic)");
            }
        }
        for (inp, &j) in ki.inputs.iter().zip(&node.inputs) {
            let d = if a.freshness[j].is_fresh() {
                inp.digest.short()
            } else {
                "(will be recomputed)".into()
            };
            let _ = writeln!(out, "  input          {} → {d}", plan.nodes[j].label());
        }
        match f {
            Freshness::Fresh { manifest, .. } => {
                let _ = writeln!(
                    out,
                    "  cached         output {} ({} table(s), ran in {} ms)",
                    manifest.output_digest.short(),
                    manifest.outputs.len(),
                    manifest.duration_ms
                );
            }
            Freshness::Stale { reasons, .. } => {
                let _ = writeln!(out, "  will run because:");
                for r in reasons {
                    let _ = writeln!(out, "    - {r}");
                }
            }
        }
    }
    Ok(())
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
    let mut out = std::io::stdout().lock();
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
                    let _ = writeln!(
                        out,
                        "{} · {} ({} rows)",
                        node.label(),
                        t.name,
                        t.batch.num_rows()
                    );
                }
                let _ = writeln!(out, "{}", pretty(&[batch]));
            }
            Format::Csv => {
                let _ = write!(out, "{}", csv(&batch, n == 0));
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
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&json_all).unwrap_or_default()
        );
    }
    Ok(())
}

/// `stage` or `stage__alpha=0.5__rho=0.6`: a stable directory name for one instance.
fn instance_dir(stage: &str, coords: &[(String, Value)]) -> String {
    let mut s = stage.to_string();
    for (a, v) in coords {
        let v = match v {
            Value::Str(t) => t.clone(),
            other => other.to_string(),
        };
        let v: String = v
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-._".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        s.push_str(&format!("__{a}={v}"));
    }
    s
}

pub fn export(file: &Path, cache: &Path, out_dir: &Path) -> Result<(), Failure> {
    let plan = load_plan(file)?;
    let store = open_store(cache)?;
    let a = assess(&plan, &store);
    let io = |e: std::io::Error, p: &Path| {
        Failure::Stage(format!("error: cannot write {}: {e}", p.display()))
    };
    std::fs::create_dir_all(out_dir).map_err(|e| io(e, out_dir))?;
    let mut index = Vec::new();
    let mut missing = Vec::new();
    for (node, f) in plan.nodes.iter().zip(&a.freshness) {
        let Freshness::Fresh { key, manifest } = f else {
            missing.push(node.label());
            continue;
        };
        let dir = out_dir.join(instance_dir(&node.stage, &node.coords));
        std::fs::create_dir_all(&dir).map_err(|e| io(e, &dir))?;
        let tables = store
            .read(key)
            .map_err(|e| crate::verify::read_failure(&store, key, &node.label(), e))?;
        let mut files = Vec::new();
        for t in &tables {
            let p = dir.join(format!("{}.parquet", t.name));
            warmstart_cache::store::write_parquet(&t.batch, &p)
                .map_err(|e| Failure::Stage(format!("error: cannot write {}: {e}", p.display())))?;
            files.push(p.strip_prefix(out_dir).unwrap_or(&p).display().to_string());
            if t.name == FILES_TABLE
                && let Ok(artifacts) = read_files_table(&t.batch)
            {
                for (rel, bytes) in artifacts {
                    // Artifact names come from engines: keep them inside `dir`.
                    let safe: String = rel
                        .chars()
                        .map(|c| if c == '/' || c == '\\' { '_' } else { c })
                        .collect();
                    let p = dir.join(safe.trim_start_matches('.'));
                    std::fs::write(&p, bytes).map_err(|e| io(e, &p))?;
                    files.push(p.strip_prefix(out_dir).unwrap_or(&p).display().to_string());
                }
            }
        }
        index.push(json!({
            "stage": node.stage, "coords": coords_json(&node.coords),
            "key": key.to_string(), "output_digest": manifest.output_digest.to_string(),
            "files": files,
        }));
    }
    let idx_path = out_dir.join("index.json");
    let text = serde_json::to_string_pretty(&json!({
        "experiment": plan.experiment.name, "stages": index,
    }))
    .unwrap_or_default();
    std::fs::write(&idx_path, text).map_err(|e| io(e, &idx_path))?;
    println!(
        "exported {} stage instance(s) to {}",
        plan.nodes.len() - missing.len(),
        out_dir.display()
    );
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Failure::Stage(format!(
            "error: {} instance(s) have no up-to-date output and were not exported: {}\n  help: run `warmstart run {}` first",
            missing.len(),
            missing.join(", "),
            file.display()
        )))
    }
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
    let mut out = std::io::stdout().lock();
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
            let _ = writeln!(out, "removed  {}  {what}", key.short());
        } else {
            let _ = writeln!(out, "garbage  {}  {what}", key.short());
        }
    }
    let cleaned = store.clean_tmp().unwrap_or(0);
    if apply {
        let stale = store
            .remove_stale_files()
            .map_err(|e| Failure::Stage(format!("error: {e}")))?;
        let _ = writeln!(
            out,
            "removed {n} unreachable entr{} ({cleaned} stale temp dirs, {} idle lock files, {} dangling refs)",
            if n == 1 { "y" } else { "ies" },
            stale.locks,
            stale.refs
        );
    } else {
        let _ = writeln!(
            out,
            "{n} unreachable entr{} (dry run: pass --apply to delete)",
            if n == 1 { "y" } else { "ies" }
        );
    }
    Ok(())
}

pub fn schema(project: bool) -> Result<(), Failure> {
    let schema = if project {
        warmstart_spec::project_json_schema()
    } else {
        warmstart_spec::json_schema(&registry(None).kinds())
    };
    println!(
        "{}",
        serde_json::to_string_pretty(&schema).unwrap_or_default()
    );
    Ok(())
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
    let mut out = std::io::stdout().lock();
    for (name, engine) in reg.engines() {
        let info = engine.info();
        let _ = writeln!(out, "{name}  (id {}, version {})", info.id, info.version);
        for k in &info.kinds {
            let _ = writeln!(out, "  {:<14} {}", k.name, k.doc);
        }
    }
    Ok(())
}

/// `plugins check PATH`: load a plugin and describe it, or say why it cannot load.
pub fn plugins_check(path: &Path) -> Result<(), Failure> {
    match warmstart_plugin_host::describe(path) {
        Ok(text) => {
            println!("{text}");
            Ok(())
        }
        Err(e) => Err(Failure::Invalid(format!(
            "error: {e}\n  help: a plugin is a shared library built from a crate that uses warmstart-plugin-abi's `export_plugin!` (see docs/plugins.md)"
        ))),
    }
}
