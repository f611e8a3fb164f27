//! The project file, `warmstart.toml`: settings shared by every experiment of a project.
//!
//! It is found like `Cargo.toml`: in the experiment file's directory or the nearest
//! ancestor that has one — but the search never leaves the enclosing git repository (it
//! stops after the first directory holding `.git`), and a `warmstart.toml` with
//! `root = true` marks the project root explicitly. A project file in a directory that is
//! world-writable and not owned by the current user (`/tmp`-like places, where anyone could
//! have planted it) is refused with an error rather than loaded, since it names plugins
//! that are loaded as code. Today it holds `[engines.NAME]` plugin declarations only
//! (`path` relative to the project file), so a plugin built once is available to all the
//! project's experiments without repeating its path; an experiment's own
//! `[engines.NAME]` with the same name takes precedence. Plugins still load only from
//! paths a user wrote down, here or in the experiment.

use std::path::{Path, PathBuf};

use crate::model::{Project, SourceFile};
use crate::parse::parse_project;
use crate::source::read_source;
use crate::{SpecError, SpecErrors};

/// The project file's name.
pub const PROJECT_FILE: &str = "warmstart.toml";

/// The `warmstart.toml` that applies to an experiment file: in its directory or the
/// nearest ancestor, not above the enclosing git repository's root. Returned relative to
/// the working directory when it lies below it, so diagnostics show short, stable paths.
/// Errors when the nearest one lies in a directory others may write to (see the module
/// docs).
pub fn find_project(experiment_file: &Path) -> Result<Option<PathBuf>, SpecErrors> {
    let dir = match experiment_file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let Ok(abs) = std::path::absolute(dir) else {
        return Ok(None);
    };
    let mut found = None;
    for d in abs.ancestors() {
        let candidate = d.join(PROJECT_FILE);
        if candidate.is_file() {
            check_trusted(d, &candidate)?;
            found = Some(candidate);
            break;
        }
        if d.join(".git").exists() {
            break;
        }
    }
    let Some(found) = found else {
        return Ok(None);
    };
    let cwd = std::env::current_dir().ok();
    Ok(Some(
        cwd.and_then(|c| found.strip_prefix(c).ok().map(Path::to_path_buf))
            .unwrap_or(found),
    ))
}

/// Refuse a project file whose directory is world-writable and owned by someone else.
#[cfg(unix)]
fn check_trusted(dir: &Path, file: &Path) -> Result<(), SpecErrors> {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(dir) else {
        return Ok(());
    };
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if others_may_plant(meta.mode(), meta.uid(), me) {
        return Err(SpecError::unreadable(
            file,
            "project file",
            format!(
                "its directory {} is writable by every user and owned by another user (uid {}), so anyone could have put it there",
                dir.display(),
                meta.uid()
            ),
            "move the experiment into a directory you own (the project file names plugins, which are loaded as code), or remove the stray warmstart.toml",
        )
        .into());
    }
    Ok(())
}

/// Whether a directory with this mode and owner lets users other than `me` put files in
/// it: world-writable and owned by someone else.
#[cfg_attr(not(unix), allow(dead_code))]
fn others_may_plant(mode: u32, owner: u32, me: u32) -> bool {
    mode & 0o002 != 0 && owner != me
}

#[cfg(not(unix))]
fn check_trusted(_dir: &Path, _file: &Path) -> Result<(), SpecErrors> {
    Ok(())
}

/// Find and parse the project file of an experiment (`None` if there is none).
pub fn load_project_for(experiment_file: &Path) -> Result<Option<Project>, SpecErrors> {
    let Some(path) = find_project(experiment_file)? else {
        return Ok(None);
    };
    let text = read_source(&path, "project file")?;
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
        assert!(
            find_project(&exp)
                .unwrap()
                .is_none_or(|p| !p.starts_with(root.path()))
        );
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
    fn only_world_writable_directories_of_other_users_are_untrusted() {
        assert!(others_may_plant(0o40777, 0, 1000));
        assert!(others_may_plant(0o41777, 0, 1000)); // /tmp, sticky or not
        assert!(!others_may_plant(0o40777, 1000, 1000)); // my own
        assert!(!others_may_plant(0o40755, 0, 1000)); // not writable by others
    }

    #[test]
    fn the_search_stops_at_the_git_root() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join(PROJECT_FILE), "").unwrap();
        let repo = root.path().join("repo");
        std::fs::create_dir_all(repo.join(".git")).unwrap();
        std::fs::create_dir_all(repo.join("exp")).unwrap();
        assert_eq!(find_project(&repo.join("exp/e.toml")).unwrap(), None);
        std::fs::write(repo.join(PROJECT_FILE), "root = true\n").unwrap();
        let p = load_project_for(&repo.join("exp/e.toml"))
            .unwrap()
            .expect("found");
        assert!(p.root);
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
