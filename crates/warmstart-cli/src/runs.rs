//! `warmstart runs`, `compare` and `tag`: the run history the cache keeps
//! (`warmstart::runs`), as aligned tables or JSON.

use std::collections::BTreeSet;
use std::path::Path;

use warmstart::runs::{RunRecord, RunsError};

use crate::Failure;
use crate::context::{load_plan, open_store, open_store_for_reading};
use crate::output::Output;

/// How many runs `compare` shows when none are named.
const DEFAULT_COMPARE: usize = 10;

fn runs_failure(e: RunsError, file: &Path) -> Failure {
    match &e {
        RunsError::NoRuns { .. } => Failure::Stage(format!(
            "error: {e}\n  help: run it first: `warmstart run {}`",
            file.display()
        )),
        RunsError::NoSuchRun { available, .. } => Failure::Stage(format!(
            "error: {e}\n  help: runs and tags: {} (see `warmstart runs {}`)",
            available.join(", "),
            file.display()
        )),
        _ => Failure::Stage(format!("error: {e}")),
    }
}

/// An experiment's name, run records (oldest first) and tags (tag, run id).
type History = (String, Vec<RunRecord>, Vec<(String, String)>);

/// The experiment's records and tags.
fn history(file: &Path, cache: &Path) -> Result<History, Failure> {
    let plan = load_plan(file)?;
    let store = open_store_for_reading(cache)?;
    let name = plan.experiment.name.clone();
    let records = warmstart::runs::records(&store, &name)
        .map_err(|e| runs_failure(RunsError::Cache(e), file))?;
    let tags = warmstart::runs::tags(&store, &name)
        .map_err(|e| runs_failure(RunsError::Cache(e), file))?;
    Ok((name, records, tags))
}

fn tags_of(tags: &[(String, String)], id: &str) -> String {
    let t: Vec<&str> = tags
        .iter()
        .filter(|(_, r)| r == id)
        .map(|(t, _)| t.as_str())
        .collect();
    if t.is_empty() {
        "-".into()
    } else {
        t.join(",")
    }
}

/// `warmstart runs FILE [--json]`.
pub fn runs(file: &Path, cache: &Path, json: bool) -> Result<(), Failure> {
    let (name, records, tags) = history(file, cache)?;
    let mut out = Output::stdout();
    if json {
        let rows: Vec<serde_json::Value> = records
            .iter()
            .map(|r| {
                serde_json::json!({
                    "id": r.id, "tags": tags_of(&tags, &r.id), "started_unix_ms": r.started_unix_ms,
                    "duration_ms": r.duration_ms, "ran": r.ran, "cached": r.cached,
                    "failed": r.failed, "skipped": r.skipped, "interrupted": r.interrupted,
                    "executor": r.executor, "overrides": r.overrides, "file_digest": r.file_digest,
                    "metrics": r.metrics,
                })
            })
            .collect();
        out.line(format_args!("{}", serde_json::Value::Array(rows)));
        return out.finish();
    }
    if records.is_empty() {
        out.line(format_args!(
            "no recorded runs of `{name}` yet (`warmstart run {}` records one)",
            file.display()
        ));
        return out.finish();
    }
    let mut rows = vec![
        [
            "run",
            "tags",
            "started",
            "took",
            "ran",
            "cached",
            "failed",
            "skipped",
            "overrides",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for r in &records {
        rows.push(vec![
            r.id.clone(),
            tags_of(&tags, &r.id),
            warmstart::runs::utc(r.started_unix_ms),
            format!(
                "{:.1} s{}",
                r.duration_ms as f64 / 1000.0,
                if r.interrupted { " (interrupted)" } else { "" }
            ),
            r.ran.to_string(),
            r.cached.to_string(),
            r.failed.to_string(),
            r.skipped.to_string(),
            if r.overrides.is_empty() {
                "-".into()
            } else {
                r.overrides.join(" ")
            },
        ]);
    }
    print_aligned(&mut out, &rows, 4..8);
    out.finish()
}

/// `warmstart compare FILE [RUN…] [--json]`: params that differ across the runs, the
/// overrides, and every metric.
pub fn compare(file: &Path, cache: &Path, wanted: &[String], json: bool) -> Result<(), Failure> {
    let (name, records, tags) = history(file, cache)?;
    if records.is_empty() {
        return Err(runs_failure(RunsError::NoRuns { experiment: name }, file));
    }
    let chosen: Vec<&RunRecord> = if wanted.is_empty() {
        records.iter().rev().take(DEFAULT_COMPARE).rev().collect()
    } else {
        wanted
            .iter()
            .map(|w| warmstart::runs::find(&records, &tags, &name, w))
            .collect::<Result<_, _>>()
            .map_err(|e| runs_failure(e, file))?
    };
    // Params that differ among the chosen runs (all of them for a single run).
    let keys: BTreeSet<&String> = chosen.iter().flat_map(|r| r.params.keys()).collect();
    let params: Vec<&String> = keys
        .into_iter()
        .filter(|k| {
            chosen.len() == 1
                || chosen
                    .iter()
                    .any(|r| r.params.get(*k) != chosen[0].params.get(*k))
        })
        .collect();
    let metrics: BTreeSet<&String> = chosen
        .iter()
        .flat_map(|r| r.metrics.iter().map(|m| &m.name))
        .collect();
    let mut out = Output::stdout();
    if json {
        let rows: Vec<serde_json::Value> = chosen
            .iter()
            .map(|r| {
                serde_json::json!({
                    "id": r.id, "tags": tags_of(&tags, &r.id), "params": r.params,
                    "overrides": r.overrides, "metrics": r.metrics,
                })
            })
            .collect();
        out.line(format_args!("{}", serde_json::Value::Array(rows)));
        return out.finish();
    }
    let mut header = vec!["run".to_string(), "tags".to_string()];
    header.extend(params.iter().map(|p| p.to_string()));
    header.push("overrides".into());
    header.extend(metrics.iter().map(|m| m.to_string()));
    let mut rows = vec![header];
    for r in &chosen {
        let mut row = vec![r.id.clone(), tags_of(&tags, &r.id)];
        row.extend(
            params
                .iter()
                .map(|p| r.params.get(*p).map_or("-".into(), json_cell)),
        );
        row.push(if r.overrides.is_empty() {
            "-".into()
        } else {
            r.overrides.join(" ")
        });
        row.extend(metrics.iter().map(|m| {
            r.metrics
                .iter()
                .find(|x| &&x.name == m)
                .and_then(|x| x.value)
                .map_or("-".into(), |v| {
                    format!("{v:.6}")
                        .trim_end_matches('0')
                        .trim_end_matches('.')
                        .to_string()
                })
        }));
        rows.push(row);
    }
    let numeric_from = 2;
    print_aligned(&mut out, &rows, numeric_from..rows[0].len());
    if chosen.iter().all(|r| r.metrics.is_empty()) {
        out.line(format_args!(
            "(no metrics: name some in the file, e.g. `[experiment] metrics = [\"summary.final_dist2\"]`)"
        ));
    }
    out.finish()
}

fn json_cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `warmstart tag FILE NAME [--run RUN]`.
pub fn tag(file: &Path, cache: &Path, name: &str, run: Option<&str>) -> Result<(), Failure> {
    let plan = load_plan(file)?;
    let store = open_store(cache)?;
    let id = warmstart::runs::tag(&store, &plan.experiment.name, name, run)
        .map_err(|e| runs_failure(e, file))?;
    let mut out = Output::stdout();
    out.line(format_args!(
        "tagged run {id} of `{}` as `{name}`",
        plan.experiment.name
    ));
    out.finish()
}

/// Print `rows` (the first is the header) in columns; columns in `right` are right-aligned.
fn print_aligned<W: std::io::Write>(
    out: &mut Output<W>,
    rows: &[Vec<String>],
    right: std::ops::Range<usize>,
) {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let width: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in rows {
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(c, s)| {
                if right.contains(&c) {
                    format!("{s:>w$}", w = width[c])
                } else {
                    format!("{s:<w$}", w = width[c])
                }
            })
            .collect();
        out.line(format_args!("{}", cells.join("  ").trim_end()));
    }
}
