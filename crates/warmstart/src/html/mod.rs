//! `warmstart report`: an experiment's state and results as one self-contained HTML page
//! (`DIR/index.html`) plus the exported Parquet files and figures it links to
//! (`DIR/data/…`, laid out as `warmstart export` lays them out, with its `index.json`).
//! Files an earlier report's index lists that this one does not write (instances no
//! longer fresh, or of another experiment) are removed, as a re-export removes them.
//!
//! This module gathers (plan, freshness, cache entries, the latest run record) into a
//! [`warmstart_report::Report`]; the `warmstart-report` crate draws it. Each fresh
//! instance's entry is read once: its tables are exported, counted, and — for the first
//! few instances of a stage — previewed and searched for sweep grids ([`tables`]). Large
//! experiments stay small pages: instance lists, previews and inlined figures are capped
//! per stage ([`ReportOptions`]), and what is left out is said on the page.
//!
//! The page is written last, atomically (temp file + rename): a report directory never
//! holds a half-written page.

mod tables;

pub(crate) use tables::numbers;
pub use warmstart_report::escape_html;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use warmstart_cache::Store;
use warmstart_engine::{FILES_TABLE, NamedTable, read_files_table};
use warmstart_plan::status::{Freshness, node_ref};
use warmstart_plan::{Assessment, Plan};
use warmstart_report::{Counts, Figure, InstanceRow, InstanceState, Report, StageSection};

use crate::export::{
    AxesCache, ExportError, ExportedInstance, OutDir, index_entry, previous, write_index,
    write_instance,
};
use crate::read::read_entry;
use crate::runs::{RunRecord, utc};
use warmstart_plan::run::Status;

/// How much of a large experiment the page itself holds (everything is exported anyway).
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Instances listed per stage.
    pub instances_per_stage: usize,
    /// Instances per stage whose tables are previewed (and searched for sweep grids).
    pub previewed_instances: usize,
    /// Rows shown per previewed table (a `log` table shows up to 10× as many).
    pub preview_rows: usize,
    /// Figures inlined per stage.
    pub figures_per_stage: usize,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            instances_per_stage: 200,
            previewed_instances: 1,
            preview_rows: 20,
            figures_per_stage: 24,
        }
    }
}

/// What a report wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReportSummary {
    /// The page.
    pub page: PathBuf,
    /// Its size in bytes.
    pub page_bytes: usize,
    /// Instance counts by state.
    pub counts: Counts,
    /// Instances whose output was exported.
    pub exported: usize,
    /// Files an earlier report left in `DIR/data` that this one no longer lists (stale or
    /// gone instances), removed.
    pub removed: Vec<String>,
}

/// Write the report of `plan` (as `assessment` found it in `store`) into `out_dir`.
pub fn write_report(
    plan: &Plan,
    assessment: &Assessment,
    store: &Store,
    out_dir: &Path,
    opts: &ReportOptions,
) -> Result<ReportSummary, ExportError> {
    let out = OutDir::create(out_dir)?;
    out.subdir("data", "the data directory")?;
    let data_dir = out_dir.join("data");
    // What an earlier report wrote there (its index), so that files of instances that are
    // no longer fresh do not linger; a data directory without an index is left as it is.
    let earlier: Vec<String> = match previous::find(&data_dir)? {
        previous::Found::Export(e) => e.entries.into_iter().flat_map(|e| e.files).collect(),
        _ => Vec::new(),
    };
    let data = OutDir::create(&data_dir)?;
    let last = crate::runs::latest(store, &plan.experiment.name);
    let failures = failures_of(last.as_ref());
    let mut report = header(plan, last.as_ref());
    let mut sections: Vec<StageSection> = plan
        .experiment
        .stages
        .iter()
        .map(|s| StageSection {
            name: s.name.clone(),
            kind: s.kind.value.clone(),
            description: s.description.clone(),
            ..StageSection::default()
        })
        .collect();
    let mut exported = Vec::new();
    let mut axes = AxesCache::default();
    let mut newest = 0u64;
    for (node, f) in plan.nodes.iter().zip(&assessment.freshness) {
        let sec = &mut sections[node.stage_index];
        sec.instances_total += 1;
        let mut row = instance_row(plan, node, f, store, &failures);
        if let Freshness::Fresh { key, manifest } = f {
            newest = newest.max(manifest.created_unix_ms);
            let tables = read_entry(store, key, node.label()).map_err(Box::new)?;
            let files = write_instance(&data, node, axes.of(plan, node), &tables)?;
            row.tables = tables
                .iter()
                .map(|t| (t.name.clone(), t.batch.num_rows()))
                .collect();
            row.files = files
                .iter()
                .map(|f| (file_name(f), format!("data/{f}")))
                .collect();
            let fresh_seen = sec.counts.fresh;
            if fresh_seen < opts.previewed_instances {
                tables::preview(sec, &node.label(), &tables, &files, opts, plan);
            }
            add_figures(sec, &node.label(), &tables, &files, opts);
            exported.push(ExportedInstance {
                stage: node.stage.clone(),
                coords: crate::events::coords(&node.coords),
                key: *key,
                output_digest: manifest.output_digest,
                files,
            });
        }
        sec.counts.add(row.state);
        report.counts.add(row.state);
        if sec.instances.len() < opts.instances_per_stage {
            sec.instances.push(row);
        }
    }
    let entries: Vec<serde_json::Value> = exported.iter().map(index_entry).collect();
    write_index(&data, &plan.experiment.name, &entries)?;
    let written: std::collections::HashSet<&str> = exported
        .iter()
        .flat_map(|e| e.files.iter().map(String::as_str))
        .collect();
    let stale: Vec<String> = earlier
        .into_iter()
        .filter(|f| !written.contains(f.as_str()))
        .collect();
    // Narrow removal (listed `<instance>/<file>` paths, never through a link).
    let removed = previous::remove_files(&data_dir, &stale)?;
    report.newest_entry = (newest > 0).then(|| utc(newest));
    report.stages = sections;
    report.edges = edges(plan);
    let html = warmstart_report::render(&report);
    let page = out.file(out.path(), "index.html", "the report page")?;
    write_page(&page, &html)?;
    Ok(ReportSummary {
        page,
        page_bytes: html.len(),
        counts: report.counts,
        exported: exported.len(),
        removed,
    })
}

fn file_name(rel: &str) -> String {
    rel.rsplit('/').next().unwrap_or(rel).to_string()
}

/// The page's header fields.
fn header(plan: &Plan, last: Option<&RunRecord>) -> Report {
    let e = &plan.experiment;
    let digest = blake3::hash(e.source.text.as_bytes()).to_hex().to_string();
    Report {
        experiment: e.name.clone(),
        description: e.description.clone(),
        seed: e.seed,
        file: e.source.path.display().to_string(),
        file_digest: digest.clone(),
        warmstart_version: env!("CARGO_PKG_VERSION").to_string(),
        last_run: last.map(|r| {
            format!(
                "{}: {} ran, {} cached, {} failed, {} skipped in {:.1} s{}{}",
                utc(r.started_unix_ms),
                r.ran,
                r.cached,
                r.failed,
                r.skipped,
                r.duration_ms as f64 / 1000.0,
                if r.interrupted { " (interrupted)" } else { "" },
                if r.file_digest == digest {
                    ""
                } else {
                    " — the experiment file has changed since"
                }
            )
        }),
        ..Report::default()
    }
}

/// Label → error of the instances that failed (or were skipped) in the latest run.
fn failures_of(last: Option<&RunRecord>) -> HashMap<String, (Status, String)> {
    last.map(|r| {
        r.instances
            .iter()
            .filter(|i| matches!(i.status, Status::Failed | Status::Skipped))
            .map(|i| {
                (
                    i.label.clone(),
                    (i.status, i.error.clone().unwrap_or_default()),
                )
            })
            .collect()
    })
    .unwrap_or_default()
}

fn instance_row(
    plan: &Plan,
    node: &warmstart_plan::Node,
    f: &Freshness,
    store: &Store,
    failures: &HashMap<String, (Status, String)>,
) -> InstanceRow {
    let label = node.label();
    let mut row = InstanceRow {
        label: label.clone(),
        coords: node
            .coords
            .iter()
            .map(|(a, v)| (a.clone(), v.to_string()))
            .collect(),
        state: InstanceState::Fresh,
        key_prefix: f.key().map(|k| k.to_string()[..12].to_string()),
        duration_ms: None,
        tables: Vec::new(),
        files: Vec::new(),
        reasons: Vec::new(),
        error: None,
    };
    match f {
        Freshness::Fresh { manifest, .. } => row.duration_ms = Some(manifest.duration_ms),
        Freshness::Stale { reasons, .. } => {
            row.reasons = reasons.clone();
            let ran_before = store.get_ref(&node_ref(plan, node)).is_some();
            row.state = match failures.get(&label) {
                Some((Status::Failed, e)) => {
                    row.error = Some(e.clone());
                    InstanceState::Failed
                }
                Some((_, why)) => {
                    row.reasons.push(format!("latest run: skipped ({why})"));
                    if ran_before {
                        InstanceState::Stale
                    } else {
                        InstanceState::NeverRun
                    }
                }
                None if ran_before => InstanceState::Stale,
                None => InstanceState::NeverRun,
            };
        }
    }
    row
}

/// Inline the instance's figures while the stage has room; count them all.
fn add_figures(
    sec: &mut StageSection,
    label: &str,
    tables: &[NamedTable],
    files: &[String],
    opts: &ReportOptions,
) {
    let Some(t) = tables.iter().find(|t| t.name == FILES_TABLE) else {
        return;
    };
    let Ok(artifacts) = read_files_table(&t.batch) else {
        return;
    };
    for (name, bytes) in artifacts {
        let mime = match name
            .rsplit('.')
            .next()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("png") => "image/png",
            Some("svg") => "image/svg+xml",
            Some("jpg") | Some("jpeg") => "image/jpeg",
            _ => continue,
        };
        sec.figures_total += 1;
        if sec.figures.len() < opts.figures_per_stage {
            let href = files
                .iter()
                .find(|f| file_name(f) == name)
                .map(|f| format!("data/{f}"));
            sec.figures.push(Figure {
                instance: label.to_string(),
                name,
                mime: mime.to_string(),
                bytes,
                href,
            });
        }
    }
}

/// Stage graph edges, data-flow direction, once per pair.
fn edges(plan: &Plan) -> Vec<(usize, usize)> {
    let stages = &plan.experiment.stages;
    let index: HashMap<&str, usize> = stages
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    let mut out: Vec<(usize, usize)> = stages
        .iter()
        .enumerate()
        .flat_map(|(i, s)| {
            s.inputs
                .iter()
                .filter_map(|inp| index.get(inp.stage.value.as_str()).map(|&u| (u, i)))
                .collect::<Vec<_>>()
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Write the page atomically: a new temp file next to it (never through a file or link
/// already there), then rename.
fn write_page(page: &Path, html: &str) -> Result<(), ExportError> {
    use std::io::Write as _;
    let tmp = page.with_file_name(format!(".index.html.{}.tmp", std::process::id()));
    let err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ExportError::Write { path, source }
    };
    let create = || {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
    };
    // A leftover of a killed report with this pid (or a planted link): remove the name
    // (never what it points to) and create afresh.
    let mut f = match create() {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::remove_file(&tmp).map_err(err(&tmp))?;
            create().map_err(err(&tmp))?
        }
        Err(e) => return Err(err(&tmp)(e)),
    };
    f.write_all(html.as_bytes()).map_err(err(&tmp))?;
    drop(f);
    std::fs::rename(&tmp, page).map_err(err(page))
}
