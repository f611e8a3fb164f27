//! Export: every fresh instance's tables as Parquet and its figures as files, under one
//! directory, with stable names (`<stage>[__axis=v…]/<table>.parquet`) and an `index.json`
//! listing them.
//!
//! Names that become paths here come from the experiment file (stage names, axis values)
//! and from engines (table names, and the figure names of `files` tables, which any
//! process or plugin stage can fill with anything). None of them is trusted: every path is
//! built by [`OutDir`], which accepts a single plain file-name component only (no `.`,
//! `..`, separator, NUL or root) and checks that what it creates resolves under the export
//! directory even through symlinks already there. A refused name fails the export with the
//! stage and the name; nothing is written outside the export directory.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::json;
use warmstart_cache::{CacheError, CacheKey, Digest, Store};
use warmstart_engine::{FILES_TABLE, NamedTable, Value, read_files_table};
use warmstart_plan::plan::Node;
use warmstart_plan::status::Freshness;
use warmstart_plan::{Assessment, Plan};

use crate::events::{Coords, coords};
use crate::read::{ReadError, read_entry};

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
}

impl ExportError {
    /// How to fix it, when there is something to say.
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
            _ => None,
        }
    }
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

/// What an export wrote, and what it could not.
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
}

/// Why a name cannot become one component of a path under the export directory, or `None`
/// if it can.
pub fn unsafe_component(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("it is empty")
    } else if name == "." || name == ".." {
        Some("`.` and `..` name directories, not files")
    } else if name.contains(['/', '\\']) {
        Some("it contains a path separator")
    } else if name.contains('\0') {
        Some("it contains a NUL byte")
    } else {
        // Belt and braces: whatever the platform's path grammar, one normal component.
        let mut parts = Path::new(name).components();
        match (parts.next(), parts.next()) {
            (Some(std::path::Component::Normal(_)), None) => None,
            _ => Some("it is not a plain file name"),
        }
    }
}

/// The export directory: creates paths under it only through checked joins.
pub struct OutDir {
    /// As the user gave it (for messages).
    shown: PathBuf,
    /// Canonical (symlinks resolved), for the containment check.
    canonical: PathBuf,
}

fn write_error(path: &Path, source: std::io::Error) -> ExportError {
    ExportError::Write {
        path: path.to_path_buf(),
        source,
    }
}

impl OutDir {
    /// Create (if needed) and open the export directory.
    pub fn create(path: &Path) -> Result<OutDir, ExportError> {
        std::fs::create_dir_all(path).map_err(|e| write_error(path, e))?;
        let canonical = path.canonicalize().map_err(|e| write_error(path, e))?;
        Ok(OutDir {
            shown: path.to_path_buf(),
            canonical,
        })
    }

    /// `name` as a path directly under `parent` (which must itself be under the export
    /// directory), or why not. `what` says what the name is, for the error.
    fn join(&self, parent: &Path, name: &str, what: &str) -> Result<PathBuf, ExportError> {
        if let Some(why) = unsafe_component(name) {
            return Err(ExportError::UnsafeName {
                what: what.to_string(),
                name: name.to_string(),
                out_dir: self.shown.clone(),
                why,
            });
        }
        Ok(parent.join(name))
    }

    /// Fail unless `path` (which exists) resolves to a place under the export directory.
    fn check_inside(&self, path: &Path) -> Result<(), ExportError> {
        let real = path.canonicalize().map_err(|e| write_error(path, e))?;
        if real.starts_with(&self.canonical) {
            Ok(())
        } else {
            Err(ExportError::Outside {
                path: path.to_path_buf(),
                real,
                out_dir: self.shown.clone(),
            })
        }
    }

    /// Create the directory `name` directly under the export directory.
    pub fn subdir(&self, name: &str, what: &str) -> Result<PathBuf, ExportError> {
        let dir = self.join(&self.shown, name, what)?;
        std::fs::create_dir_all(&dir).map_err(|e| write_error(&dir, e))?;
        self.check_inside(&dir)?;
        Ok(dir)
    }

    /// The path of file `name` in `dir` (a directory from [`OutDir::subdir`] or the export
    /// directory itself), refusing a symlink already there: writing would follow it.
    pub fn file(&self, dir: &Path, name: &str, what: &str) -> Result<PathBuf, ExportError> {
        let path = self.join(dir, name, what)?;
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(ExportError::Symlink { path });
        }
        Ok(path)
    }

    /// The export directory, as the user gave it.
    pub fn path(&self) -> &Path {
        &self.shown
    }

    /// `path` relative to the export directory, for `index.json`.
    pub(crate) fn relative(&self, path: &Path) -> String {
        path.strip_prefix(&self.shown)
            .unwrap_or(path)
            .display()
            .to_string()
    }
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
/// needed), then write `index.json`. Instances with no up-to-date output are listed in
/// [`ExportReport::missing`], not an error here: what a front end makes of them is its
/// call (the CLI exports the rest and exits 1).
pub fn export(
    plan: &Plan,
    assessment: &Assessment,
    store: &Store,
    out_dir: &Path,
) -> Result<ExportReport, ExportError> {
    let out = OutDir::create(out_dir)?;
    let mut exported = Vec::new();
    let mut missing = Vec::new();
    for (node, f) in plan.nodes.iter().zip(&assessment.freshness) {
        let Freshness::Fresh { key, manifest } = f else {
            missing.push(node.label());
            continue;
        };
        let tables = read_entry(store, key, node.label()).map_err(Box::new)?;
        let files = write_instance(&out, node, &tables)?;
        exported.push(ExportedInstance {
            stage: node.stage.clone(),
            coords: coords(&node.coords),
            key: *key,
            output_digest: manifest.output_digest,
            files,
        });
    }
    let index = write_index(&out, &plan.experiment.name, &exported)?;
    Ok(ExportReport {
        out_dir: out_dir.to_path_buf(),
        index,
        experiment: plan.experiment.name.clone(),
        exported,
        missing,
    })
}

/// Write one instance's `tables` (as Parquet, and the files of a `files` table as
/// themselves) into its directory under `out`; the files written, relative to `out`.
pub(crate) fn write_instance(
    out: &OutDir,
    node: &Node,
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
        warmstart_cache::store::write_parquet(&t.batch, &p).map_err(|source| {
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

/// Write `index.json` (the experiment and its exported instances) at the top of `out`.
pub(crate) fn write_index(
    out: &OutDir,
    experiment: &str,
    exported: &[ExportedInstance],
) -> Result<PathBuf, ExportError> {
    let index = out.file(&out.shown, "index.json", "the index")?;
    let stages: Vec<serde_json::Value> = exported
        .iter()
        .map(|e| {
            json!({
                "stage": e.stage, "coords": e.coords,
                "key": e.key.to_string(), "output_digest": e.output_digest.to_string(),
                "files": e.files,
            })
        })
        .collect();
    let text = serde_json::to_string_pretty(&json!({
        "experiment": experiment, "stages": stages,
    }))
    .unwrap_or_default();
    std::fs::write(&index, text).map_err(|e| write_error(&index, e))?;
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_file_names_are_components() {
        for ok in ["fig.png", "a", "..fig", "b__x=1", ".hidden", "a..b"] {
            assert_eq!(unsafe_component(ok), None, "{ok}");
        }
        for bad in [
            "", ".", "..", "../x", "a/b", "/etc", "a\\b", "x\0y", "/", "./x",
        ] {
            assert!(unsafe_component(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn instance_dirs_are_stable_and_plain() {
        let coords = vec![
            ("alpha".to_string(), Value::Float(0.5)),
            ("name".to_string(), Value::Str("a/b c".into())),
        ];
        assert_eq!(instance_dir("fit", &[]), "fit");
        assert_eq!(instance_dir("fit", &coords), "fit__alpha=0.5__name=a_b_c");
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_instance_dir_or_file_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        let out = OutDir::create(&tmp.path().join("out")).unwrap();
        std::os::unix::fs::symlink(&outside, tmp.path().join("out/a")).unwrap();
        assert!(matches!(
            out.subdir("a", "dir"),
            Err(ExportError::Outside { .. })
        ));
        let b = out.subdir("b", "dir").unwrap();
        std::os::unix::fs::symlink(outside.join("f"), b.join("f.png")).unwrap();
        assert!(matches!(
            out.file(&b, "f.png", "figure"),
            Err(ExportError::Symlink { .. })
        ));
        assert!(out.file(&b, "g.png", "figure").is_ok());
        assert!(matches!(
            out.subdir("..", "dir"),
            Err(ExportError::UnsafeName { .. })
        ));
    }
}
