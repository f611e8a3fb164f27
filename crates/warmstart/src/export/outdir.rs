//! The export directory and the one checked join every exported path is built by: a
//! name becomes a path component only if it is one plain file name (no `.`, `..`,
//! separator, NUL or root), and what is created under the directory must resolve under it
//! even through symlinks already there.

use std::path::{Path, PathBuf};

use super::{ExportError, write_error};

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
