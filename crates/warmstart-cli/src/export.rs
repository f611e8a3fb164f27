//! `warmstart export`: every fresh instance's tables as Parquet and its figures as files,
//! under `--out`, with stable names (`<stage>[__axis=v…]/<table>.parquet`, `index.json`).
//!
//! Names that become paths here come from the experiment file (stage names, axis values)
//! and from engines (table names, and the figure names of `files` tables, which any
//! process or plugin stage can fill with anything). None of them is trusted: every path is
//! built by [`OutDir`], which accepts a single plain file-name component only (no `.`,
//! `..`, separator, NUL or root) and checks that what it creates resolves under `--out`
//! even through symlinks already there. A refused name fails the export (exit 1) with the
//! stage and the name; nothing is written outside `--out`.

use std::path::{Path, PathBuf};

use serde_json::json;
use warmstart_engine::{FILES_TABLE, Value, read_files_table};
use warmstart_plan::assess;
use warmstart_plan::status::Freshness;

use crate::Failure;
use crate::context::{load_plan, open_store};
use crate::output::Output;

/// Why a name cannot become one component of a path under `--out`, or `None` if it can.
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

impl OutDir {
    /// Create (if needed) and open the export directory.
    pub fn create(path: &Path) -> Result<OutDir, Failure> {
        std::fs::create_dir_all(path).map_err(|e| write_error(path, &e))?;
        let canonical = path.canonicalize().map_err(|e| write_error(path, &e))?;
        Ok(OutDir {
            shown: path.to_path_buf(),
            canonical,
        })
    }

    /// `name` as a path directly under `parent` (which must itself be under the export
    /// directory), or why not. `what` says what the name is, for the error.
    fn join(&self, parent: &Path, name: &str, what: &str) -> Result<PathBuf, Failure> {
        if let Some(why) = unsafe_component(name) {
            return Err(Failure::Stage(format!(
                "error: cannot export {what} {name:?} under {}: {why}\n  help: names that \
                 become files must be plain file names; rename it (or fix the engine that \
                 produced it)",
                self.shown.display()
            )));
        }
        Ok(parent.join(name))
    }

    /// Fail unless `path` (which exists) resolves to a place under the export directory.
    fn check_inside(&self, path: &Path) -> Result<(), Failure> {
        let real = path.canonicalize().map_err(|e| write_error(path, &e))?;
        if real.starts_with(&self.canonical) {
            Ok(())
        } else {
            Err(Failure::Stage(format!(
                "error: refusing to write {}: it resolves to {}, outside the export directory {}\n  \
                 help: remove the symlink, or export to a fresh directory",
                path.display(),
                real.display(),
                self.shown.display()
            )))
        }
    }

    /// Create the directory `name` directly under the export directory.
    pub fn subdir(&self, name: &str, what: &str) -> Result<PathBuf, Failure> {
        let dir = self.join(&self.shown, name, what)?;
        std::fs::create_dir_all(&dir).map_err(|e| write_error(&dir, &e))?;
        self.check_inside(&dir)?;
        Ok(dir)
    }

    /// The path of file `name` in `dir` (a directory from [`OutDir::subdir`] or the export
    /// directory itself), refusing a symlink already there: writing would follow it.
    pub fn file(&self, dir: &Path, name: &str, what: &str) -> Result<PathBuf, Failure> {
        let path = self.join(dir, name, what)?;
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(Failure::Stage(format!(
                "error: refusing to write {}: it is a symlink\n  help: remove it, or export to \
                 a fresh directory",
                path.display()
            )));
        }
        Ok(path)
    }

    /// `path` relative to the export directory, for `index.json`.
    fn relative(&self, path: &Path) -> String {
        path.strip_prefix(&self.shown)
            .unwrap_or(path)
            .display()
            .to_string()
    }
}

fn write_error(path: &Path, e: &std::io::Error) -> Failure {
    Failure::Stage(format!("error: cannot write {}: {e}", path.display()))
}

/// `stage` or `stage__alpha=0.5__rho=0.6`: a stable directory name for one instance. Axis
/// values are reduced to `[A-Za-z0-9._-]`; the whole name is still checked by [`OutDir`].
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
    let out = OutDir::create(out_dir)?;
    let mut index = Vec::new();
    let mut missing = Vec::new();
    for (node, f) in plan.nodes.iter().zip(&a.freshness) {
        let Freshness::Fresh { key, manifest } = f else {
            missing.push(node.label());
            continue;
        };
        let label = node.label();
        let dir = out.subdir(
            &instance_dir(&node.stage, &node.coords),
            &format!("the directory of stage instance `{label}`"),
        )?;
        let tables = store
            .read(key)
            .map_err(|e| crate::verify::read_failure(&store, key, &label, e))?;
        let mut files = Vec::new();
        for t in &tables {
            let p = out.file(
                &dir,
                &format!("{}.parquet", t.name),
                &format!("table `{}` of `{label}`", t.name),
            )?;
            warmstart_cache::store::write_parquet(&t.batch, &p)
                .map_err(|e| Failure::Stage(format!("error: cannot write {}: {e}", p.display())))?;
            files.push(out.relative(&p));
            if t.name == FILES_TABLE
                && let Ok(artifacts) = read_files_table(&t.batch)
            {
                for (name, bytes) in artifacts {
                    let p = out.file(&dir, &name, &format!("figure file of `{label}`"))?;
                    std::fs::write(&p, bytes).map_err(|e| write_error(&p, &e))?;
                    files.push(out.relative(&p));
                }
            }
        }
        index.push(json!({
            "stage": node.stage, "coords": crate::commands::coords_json(&node.coords),
            "key": key.to_string(), "output_digest": manifest.output_digest.to_string(),
            "files": files,
        }));
    }
    let idx_path = out.file(out_dir, "index.json", "the index")?;
    let text = serde_json::to_string_pretty(&json!({
        "experiment": plan.experiment.name, "stages": index,
    }))
    .unwrap_or_default();
    std::fs::write(&idx_path, text).map_err(|e| write_error(&idx_path, &e))?;
    let mut stdout = Output::stdout();
    stdout.line(format_args!(
        "exported {} stage instance(s) to {}",
        plan.nodes.len() - missing.len(),
        out_dir.display()
    ));
    stdout.finish()?;
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

    #[cfg(unix)]
    #[test]
    fn a_symlinked_instance_dir_or_file_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        let out = OutDir::create(&tmp.path().join("out")).unwrap();
        std::os::unix::fs::symlink(&outside, tmp.path().join("out/a")).unwrap();
        assert!(out.subdir("a", "dir").is_err());
        let b = out.subdir("b", "dir").unwrap();
        std::os::unix::fs::symlink(outside.join("f"), b.join("f.png")).unwrap();
        assert!(out.file(&b, "f.png", "figure").is_err());
        assert!(out.file(&b, "g.png", "figure").is_ok());
        assert!(out.subdir("..", "dir").is_err());
    }
}
