//! The project file, `warmstart.toml`: settings shared by every experiment of a project.
//!
//! It is found like `Cargo.toml`: in the experiment file's directory or the nearest
//! ancestor that has one. Today it holds `[engines.NAME]` plugin declarations only
//! (`path` relative to the project file), so a plugin built once is available to all the
//! project's experiments without repeating its path; an experiment's own
//! `[engines.NAME]` with the same name takes precedence. Plugins still load only from
//! paths a user wrote down, here or in the experiment.

use std::path::{Path, PathBuf};

use crate::model::{Project, SourceFile};
use crate::parse::parse_project;
use crate::{SpecError, SpecErrors};

/// The project file's name.
pub const PROJECT_FILE: &str = "warmstart.toml";

/// The `warmstart.toml` that applies to an experiment file: in its directory or the
/// nearest ancestor. Returned relative to the working directory when it lies below it, so
/// diagnostics show short, stable paths.
pub fn find_project(experiment_file: &Path) -> Option<PathBuf> {
    let dir = match experiment_file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let abs = std::path::absolute(dir).ok()?;
    let found = abs
        .ancestors()
        .map(|d| d.join(PROJECT_FILE))
        .find(|f| f.is_file())?;
    let cwd = std::env::current_dir().ok();
    Some(
        cwd.and_then(|c| found.strip_prefix(c).ok().map(Path::to_path_buf))
            .unwrap_or(found),
    )
}

/// Find and parse the project file of an experiment (`None` if there is none).
pub fn load_project_for(experiment_file: &Path) -> Result<Option<Project>, SpecErrors> {
    let Some(path) = find_project(experiment_file) else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        let mut err = SpecError::io(&path, e);
        err.message = err.message.replace("experiment file", "project file");
        err
    })?;
    parse_project(SourceFile { path, text }).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_ancestor_project_file_applies() {
        let root = tempfile::tempdir().unwrap();
        let exp_dir = root.path().join("a/b");
        std::fs::create_dir_all(&exp_dir).unwrap();
        let exp = exp_dir.join("e.toml");
        assert!(find_project(&exp).is_none_or(|p| !p.starts_with(root.path())));
        std::fs::write(
            root.path().join(PROJECT_FILE),
            "[engines.r]\npath = \"r.so\"\n",
        )
        .unwrap();
        let p = load_project_for(&exp).unwrap().expect("found");
        assert_eq!(
            std::path::absolute(&p.source.path).unwrap(),
            root.path().join(PROJECT_FILE)
        );
        assert_eq!(p.engines[0].name.value, "r");
        assert_eq!(p.engines[0].path.value, "r.so");
        // A nearer one wins.
        std::fs::write(root.path().join("a").join(PROJECT_FILE), "").unwrap();
        let p = load_project_for(&exp).unwrap().expect("found");
        assert!(p.engines.is_empty());
    }

    #[test]
    fn unknown_tables_are_errors_with_a_suggestion() {
        let errs = parse_project(SourceFile {
            path: PROJECT_FILE.into(),
            text: "[engine.r]\npath = \"r.so\"\n".into(),
        })
        .unwrap_err();
        assert!(errs.0[0].message.contains("unknown top-level key `engine`"));
        assert!(errs.0[0].help.as_deref().unwrap_or("").contains("engines"));
    }
}
