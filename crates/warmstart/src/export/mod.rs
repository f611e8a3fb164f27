//! Export: fresh instances' tables as Parquet and their figures as files, under one
//! directory, with stable names (`<stage>[__axis=v…]/<table>.parquet`) and an `index.json`
//! listing them. Every table of a swept instance starts with its coordinates, one typed
//! column per axis (an axis the table already has a column of is left out), so the files
//! of a sweep concatenate into one table that still says which row came from where.
//!
//! An export can be limited to one stage, and to one table of it ([`ExportOptions`]).
//! The export directory must be new, empty (hidden files aside), or an export of the same
//! experiment ([`previous`]): a re-export replaces what the earlier one wrote for what it
//! exports, and removes the files that earlier export listed which no longer hold a
//! current output (an instance that changed key, left the sweep, or is stale now), so
//! nothing stale lingers. Another experiment's export is replaced only when asked
//! (`clean`), and then only the files its `index.json` lists are removed; a directory that
//! is not an export is never touched.
//!
//! Names that become paths here come from the experiment file (stage names, axis values)
//! and from engines (table names, and the figure names of `files` tables, which any
//! process or plugin stage can fill with anything). None of them is trusted: every path is
//! built by [`OutDir`], which accepts a single plain file-name component only (no `.`,
//! `..`, separator, NUL or root) and checks that what it creates resolves under the export
//! directory even through symlinks already there. A refused name fails the export with the
//! stage and the name; nothing is written outside the export directory.

mod outdir;
pub(crate) mod previous;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::json;
use warmstart_cache::{CacheError, CacheKey, Digest, Store};
use warmstart_engine::{FILES_TABLE, NamedTable, Value, read_files_table};
use warmstart_plan::plan::Node;
use warmstart_plan::status::Freshness;
use warmstart_plan::{Assessment, Plan};

use crate::events::{Coords, coords};
use crate::read::{ReadError, pick_table, read_entry};
use crate::select::SelectError;
use crate::table::{Axis, StageTable, stage_axes, with_coords};

pub use outdir::{OutDir, unsafe_component};

/// The name of the index an export writes at the top of its directory.
pub const INDEX_FILE: &str = "index.json";

/// The value of `warmstart_export` in `index.json`: its format version (fields are only
/// added within a version).
pub const INDEX_FORMAT: u32 = 1;

/// Why an export failed (files written before the failure stay).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// A name from the experiment or an engine cannot be one plain file-name component.
    #[error("cannot export {what} {name:?} under {}: {why}", out_dir.display())]
    UnsafeName {
        /// What the name is (`table \`t\` of \`a\``).
        what: String,
        /// The name.
        name: String,
        /// The export directory.
        out_dir: PathBuf,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A path under the export directory resolves outside it (a symlink was there).
    #[error(
        "refusing to write {}: it resolves to {}, outside the export directory {}",
        path.display(), real.display(), out_dir.display()
    )]
    Outside {
        /// The path.
        path: PathBuf,
        /// Where it resolves to.
        real: PathBuf,
        /// The export directory.
        out_dir: PathBuf,
    },
    /// A file to write is a symlink already (writing would follow it).
    #[error("refusing to write {}: it is a symlink", path.display())]
    Symlink {
        /// The path.
        path: PathBuf,
    },
    /// Writing a file or directory failed.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Writing a Parquet file failed.
    #[error("cannot write {}: {source}", path.display())]
    WriteParquet {
        /// The path.
        path: PathBuf,
        /// Why.
        source: CacheError,
    },
    /// An instance's output could not be read from the cache (boxed: it is the large,
    /// rare case).
    #[error(transparent)]
    Read(#[from] Box<ReadError>),
    /// The export directory is not empty and holds no export (no `index.json` of one):
    /// nothing was written or removed.
    #[error(
        "{} is not empty ({items} item(s)) and holds no warmstart export (no index.json of one); nothing was written",
        out_dir.display()
    )]
    NotAnExport {
        /// The export directory.
        out_dir: PathBuf,
        /// How many (non-hidden) items it holds.
        items: usize,
    },
    /// The export directory holds the export of another experiment: nothing was written
    /// or removed.
    #[error(
        "{} holds the export of experiment `{experiment}`, not of `{this}`; nothing was written",
        out_dir.display()
    )]
    OtherExport {
        /// The export directory.
        out_dir: PathBuf,
        /// The experiment exported there.
        experiment: String,
        /// The experiment being exported.
        this: String,
    },
    /// The stage asked for does not exist (boxed: it is the large, rare case).
    #[error(transparent)]
    Select(#[from] Box<SelectError>),
    /// An instance's table could not be given its coordinate columns.
    #[error("cannot add the coordinate columns to table `{table}` of `{label}`: {source}")]
    Coords {
        /// The instance.
        label: String,
        /// The table.
        table: String,
        /// Why.
        source: arrow_schema::ArrowError,
    },
}

impl ExportError {
    /// How to fix it, when there is something to say (in words that name no command-line
    /// flag: a front end says which of its options do it).
    pub fn help(&self) -> Option<&'static str> {
        match self {
            ExportError::UnsafeName { .. } => Some(
                "names that become files must be plain file names; rename it (or fix the \
                 engine that produced it)",
            ),
            ExportError::Outside { .. } => {
                Some("remove the symlink, or export to a fresh directory")
            }
            ExportError::Symlink { .. } => Some("remove it, or export to a fresh directory"),
            ExportError::NotAnExport { .. } => {
                Some("export into a new or empty directory, or into an earlier export")
            }
            _ => None,
        }
    }
}

/// What to export, and how to treat an earlier export in the directory.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// Only this stage's instances (default: every stage).
    pub stage: Option<String>,
    /// Only this table of each instance (default: every table); with `stage`.
    pub table: Option<String>,
    /// Replace an earlier export in the directory, whatever experiment it is of: first
    /// remove every file its `index.json` lists. A directory that holds no export is
    /// refused all the same.
    pub clean: bool,
}

/// One exported instance, as listed in `index.json`.
#[derive(Debug, Clone, Serialize)]
pub struct ExportedInstance {
    /// The stage.
    pub stage: String,
    /// Its coordinates.
    pub coords: Coords,
    /// Its cache key.
    pub key: CacheKey,
    /// The digest of its output tables.
    pub output_digest: Digest,
    /// The files written, relative to the export directory.
    pub files: Vec<String>,
}

/// What an export wrote, what it could not, and what it removed.
#[derive(Debug, Clone, Serialize)]
pub struct ExportReport {
    /// The export directory, as given.
    pub out_dir: PathBuf,
    /// Its `index.json`.
    pub index: PathBuf,
    /// The experiment's name.
    pub experiment: String,
    /// The exported instances, in plan order.
    pub exported: Vec<ExportedInstance>,
    /// Labels of the instances with no up-to-date output (not exported).
    pub missing: Vec<String>,
    /// Files of an earlier export removed (relative to the export directory): stale ones
    /// of this experiment's, or all of the one `clean` replaced.
    pub removed: Vec<String>,
    /// The experiment whose export `clean` replaced, if there was one.
    pub replaced: Option<String>,
}

/// `stage` or `stage__alpha=0.5__rho=0.6`: a stable directory name for one instance. Axis
/// values are reduced to `[A-Za-z0-9._-]`; the whole name is still checked by [`OutDir`].
pub fn instance_dir(stage: &str, coords: &[(String, Value)]) -> String {
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

/// Export every instance of `plan` that is fresh in `assessment` to `out_dir` (created if
/// needed), then write `index.json`: [`export_with`] with the default options.
pub fn export(
    plan: &Plan,
    assessment: &Assessment,
    store: &Store,
    out_dir: &Path,
) -> Result<ExportReport, ExportError> {
    export_with(plan, assessment, store, out_dir, &ExportOptions::default())
}

/// Export the instances `opts` selects that are fresh in `assessment` to `out_dir`
/// (created if needed), then write `index.json`. Instances with no up-to-date output are
/// listed in [`ExportReport::missing`], not an error here: what a front end makes of them
/// is its call (the CLI exports the rest and exits 1). The directory must be new, empty or
/// an export of this experiment (another's only with `clean`); see the module docs.
pub fn export_with(
    plan: &Plan,
    assessment: &Assessment,
    store: &Store,
    out_dir: &Path,
    opts: &ExportOptions,
) -> Result<ExportReport, ExportError> {
    let nodes: Vec<usize> = match &opts.stage {
        Some(s) => crate::select::select(plan, s, &[]).map_err(Box::new)?,
        None => (0..plan.nodes.len()).collect(),
    };
    let this = &plan.experiment.name;
    let (earlier, mut removed, replaced) = take_over(out_dir, this, opts.clean)?;
    let out = OutDir::create(out_dir)?;
    let mut axes = AxesCache::default();
    let mut exported = Vec::new();
    let mut missing = Vec::new();
    for &i in &nodes {
        let node = &plan.nodes[i];
        let Some(Freshness::Fresh { key, manifest }) = assessment.freshness.get(i) else {
            missing.push(node.label());
            continue;
        };
        let mut tables = read_entry(store, key, node.label()).map_err(Box::new)?;
        if let Some(t) = &opts.table {
            tables = vec![
                pick_table(&node.label(), &tables, Some(t))
                    .map_err(Box::new)?
                    .clone(),
            ];
        }
        let files = write_instance(&out, node, axes.of(plan, node), &tables)?;
        exported.push(ExportedInstance {
            stage: node.stage.clone(),
            coords: coords(&node.coords),
            key: *key,
            output_digest: manifest.output_digest,
            files,
        });
    }
    let entries = match earlier {
        None => exported.iter().map(index_entry).collect(),
        Some(prev) => {
            let merged = previous::merge(plan, &prev, &exported, opts);
            removed.extend(previous::remove_files(out_dir, &merged.stale)?);
            merged.entries
        }
    };
    let index = write_index(&out, this, &entries)?;
    Ok(ExportReport {
        out_dir: out_dir.to_path_buf(),
        index,
        experiment: this.clone(),
        exported,
        missing,
        removed,
        replaced,
    })
}

/// An earlier export of this experiment to merge with, the files removed, and the
/// experiment whose export `clean` replaced.
type TakenOver = (Option<previous::Earlier>, Vec<String>, Option<String>);

/// What `out_dir` holds, dealt with before anything is written: nothing, or an earlier
/// export of this experiment (returned, to merge with), or — with `clean` — any earlier
/// export, whose files are removed. A directory that holds no export, or another
/// experiment's without `clean`, is refused untouched.
fn take_over(out_dir: &Path, this: &str, clean: bool) -> Result<TakenOver, ExportError> {
    Ok(match previous::find(out_dir)? {
        previous::Found::Nothing => (None, Vec::new(), None),
        previous::Found::Foreign { items } => {
            return Err(ExportError::NotAnExport {
                out_dir: out_dir.to_path_buf(),
                items,
            });
        }
        previous::Found::Export(prev) if clean => {
            let files: Vec<String> = prev.entries.iter().flat_map(|e| e.files.clone()).collect();
            let removed = previous::remove_files(out_dir, &files)?;
            (None, removed, Some(prev.experiment))
        }
        previous::Found::Export(prev) if prev.experiment != this => {
            return Err(ExportError::OtherExport {
                out_dir: out_dir.to_path_buf(),
                experiment: prev.experiment,
                this: this.to_string(),
            });
        }
        previous::Found::Export(prev) => (Some(prev), Vec::new(), None),
    })
}

/// Each stage's coordinate axes, worked out once per stage ([`stage_axes`]).
#[derive(Default)]
pub(crate) struct AxesCache(HashMap<usize, Vec<Axis>>);

impl AxesCache {
    /// The axes of `node`'s stage.
    pub(crate) fn of(&mut self, plan: &Plan, node: &Node) -> &[Axis] {
        self.0
            .entry(node.stage_index)
            .or_insert_with(|| stage_axes(plan, &node.stage))
    }
}

/// Write one instance's `tables` (as Parquet, coordinates first, and the files of a `files`
/// table as themselves) into its directory under `out`; the files written, relative to
/// `out`.
pub(crate) fn write_instance(
    out: &OutDir,
    node: &Node,
    axes: &[Axis],
    tables: &[NamedTable],
) -> Result<Vec<String>, ExportError> {
    let label = node.label();
    let dir = out.subdir(
        &instance_dir(&node.stage, &node.coords),
        &format!("the directory of stage instance `{label}`"),
    )?;
    let mut files = Vec::new();
    for t in tables {
        let p = out.file(
            &dir,
            &format!("{}.parquet", t.name),
            &format!("table `{}` of `{label}`", t.name),
        )?;
        let batch =
            with_coords(axes, &node.coords, &t.batch).map_err(|source| ExportError::Coords {
                label: label.clone(),
                table: t.name.clone(),
                source,
            })?;
        warmstart_cache::store::write_parquet(&batch, &p).map_err(|source| {
            ExportError::WriteParquet {
                path: p.clone(),
                source,
            }
        })?;
        files.push(out.relative(&p));
        if t.name == FILES_TABLE
            && let Ok(artifacts) = read_files_table(&t.batch)
        {
            for (name, bytes) in artifacts {
                let p = out.file(&dir, &name, &format!("figure file of `{label}`"))?;
                std::fs::write(&p, bytes).map_err(|e| write_error(&p, e))?;
                files.push(out.relative(&p));
            }
        }
    }
    Ok(files)
}

/// An instance's entry in `index.json`.
pub(crate) fn index_entry(e: &ExportedInstance) -> serde_json::Value {
    json!({
        "stage": e.stage, "coords": e.coords,
        "key": e.key.to_string(), "output_digest": e.output_digest.to_string(),
        "files": e.files,
    })
}

/// Write `index.json` (the format, the experiment and its exported instances' entries) at
/// the top of `out`.
pub(crate) fn write_index(
    out: &OutDir,
    experiment: &str,
    entries: &[serde_json::Value],
) -> Result<PathBuf, ExportError> {
    let index = out.file(out.path(), INDEX_FILE, "the index")?;
    let text = serde_json::to_string_pretty(&json!({
        "warmstart_export": INDEX_FORMAT, "experiment": experiment, "stages": entries,
    }))
    .unwrap_or_default();
    std::fs::write(&index, text).map_err(|e| write_error(&index, e))?;
    Ok(index)
}

/// A figure file written by [`write_files`].
#[derive(Debug, Clone, Serialize)]
pub struct WrittenFile {
    /// The instance it is of.
    pub label: String,
    /// Where it was written.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
}

/// Write the files of `files` tables (figures) into `out_dir` (created if needed): one
/// instance's directly, several instances' each under its export directory name
/// ([`instance_dir`]), so that same-named figures of a sweep do not overwrite each other.
/// `items` are (index into `plan.nodes`, its `files` table). Paths are checked as the
/// export checks them.
pub fn write_files(
    out_dir: &Path,
    plan: &Plan,
    items: &[(usize, &NamedTable)],
) -> Result<Vec<WrittenFile>, ExportError> {
    let out = OutDir::create(out_dir)?;
    let mut written = Vec::new();
    for &(i, table) in items {
        let node = &plan.nodes[i];
        let label = node.label();
        let dir = if items.len() > 1 {
            out.subdir(
                &instance_dir(&node.stage, &node.coords),
                &format!("the directory of stage instance `{label}`"),
            )?
        } else {
            out.path().to_path_buf()
        };
        let files = read_files_table(&table.batch).unwrap_or_default();
        for (name, bytes) in files {
            let p = out.file(&dir, &name, &format!("figure file of `{label}`"))?;
            std::fs::write(&p, &bytes).map_err(|e| write_error(&p, e))?;
            written.push(WrittenFile {
                label: label.clone(),
                path: p,
                bytes: bytes.len() as u64,
            });
        }
    }
    Ok(written)
}

/// Write `table` (e.g. from [`crate::table::stage_table`]) as one Parquet file at `path`,
/// its instances' batches one after the other.
pub fn write_table(table: &StageTable, path: &Path) -> Result<(), ExportError> {
    let parquet_error = |message: String| ExportError::WriteParquet {
        path: path.to_path_buf(),
        source: CacheError::Parquet {
            path: path.to_path_buf(),
            message,
        },
    };
    let batch = arrow_select::concat::concat_batches(&table.schema, &table.batches)
        .map_err(|e| parquet_error(e.to_string()))?;
    warmstart_cache::store::write_parquet(&batch, path).map_err(|source| {
        ExportError::WriteParquet {
            path: path.to_path_buf(),
            source,
        }
    })
}

pub(crate) fn write_error(path: &Path, source: std::io::Error) -> ExportError {
    ExportError::Write {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_dirs_are_stable_and_plain() {
        let coords = vec![
            ("alpha".to_string(), Value::Float(0.5)),
            ("name".to_string(), Value::Str("a/b c".into())),
        ];
        assert_eq!(instance_dir("fit", &[]), "fit");
        assert_eq!(instance_dir("fit", &coords), "fit__alpha=0.5__name=a_b_c");
    }
}
