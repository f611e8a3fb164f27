//! Reading an experiment or project file safely: only regular files, at most
//! [`MAX_FILE_BYTES`], UTF-8, with an error that says which of these it is not (missing,
//! a directory, a FIFO or device, a symbolic-link loop, too large, not UTF-8, unreadable).
//!
//! Why: a FIFO as the experiment path would block forever in `open`/`read`, and
//! `/dev/zero` would be read until memory runs out. The file type is checked before the
//! file is opened (opening a FIFO blocks), then again on the opened file (the one that is
//! read), and the read itself stops one byte past the limit whatever the metadata said.

use std::io::Read;
use std::path::Path;

use crate::{SpecError, SpecErrors};

/// Largest experiment or project file read: 64 MiB.
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// Read `path` as UTF-8 text; `what` names the file in errors ("experiment file",
/// "project file").
pub fn read_source(path: &Path, what: &str) -> Result<String, SpecErrors> {
    let fail = |problem: String, help: &str| SpecError::unreadable(path, what, problem, help);
    let meta = std::fs::metadata(path).map_err(|e| {
        let link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
        match (link, e.kind()) {
            (true, std::io::ErrorKind::NotFound) => fail(
                "it is a symbolic link to a missing file".into(),
                "fix or remove the link, or pass the real file",
            ),
            (true, _) => fail(
                format!("it is a symbolic link that cannot be followed (a loop of links?): {e}"),
                "fix the link so that it ends at a regular file",
            ),
            (false, std::io::ErrorKind::NotFound) => fail(
                "no such file".into(),
                "check the path (a relative path is relative to the current directory)",
            ),
            (false, std::io::ErrorKind::PermissionDenied) => fail(
                "permission denied".into(),
                "make the file readable by the current user",
            ),
            _ => fail(
                e.to_string(),
                "check that the path is right and the file is readable",
            ),
        }
    })?;
    check_type(&meta, &fail)?;
    let file = std::fs::File::open(path).map_err(|e| {
        fail(
            e.to_string(),
            "check that the path is right and the file is readable",
        )
    })?;
    // The opened file is what is read: check it again (the path may have changed).
    let meta = file.metadata().map_err(|e| {
        fail(
            e.to_string(),
            "check that the path is right and the file is readable",
        )
    })?;
    check_type(&meta, &fail)?;
    let mut bytes = Vec::with_capacity(meta.len().min(MAX_FILE_BYTES) as usize);
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(e.to_string(), "check that the file is readable"))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(&fail).into());
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        fail(
            format!("it is not UTF-8 text (invalid byte at offset {at})"),
            "save the file as UTF-8 (TOML files are UTF-8)",
        )
        .into()
    })
}

fn check_type(
    meta: &std::fs::Metadata,
    fail: &dyn Fn(String, &str) -> SpecError,
) -> Result<(), SpecErrors> {
    let ft = meta.file_type();
    if ft.is_dir() {
        return Err(fail(
            "it is a directory".into(),
            "pass the TOML file inside it, e.g. DIR/experiment.toml",
        )
        .into());
    }
    if !ft.is_file() {
        return Err(fail(
            "it is not a regular file (a FIFO, socket or device)".into(),
            "pass a regular TOML file; pipes and devices are not read",
        )
        .into());
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_large(fail).into());
    }
    Ok(())
}

fn too_large(fail: &dyn Fn(String, &str) -> SpecError) -> SpecError {
    fail(
        format!(
            "it is larger than {} MiB, the limit for experiment and project files",
            MAX_FILE_BYTES >> 20
        ),
        "keep data out of the TOML file: reference it by path (a `glob` axis, a param) instead",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(path: &Path) -> String {
        read_source(path, "experiment file")
            .unwrap_err()
            .0
            .remove(0)
            .message
    }

    #[test]
    fn each_kind_of_unreadable_file_says_what_it_is() {
        let d = tempfile::tempdir().unwrap();
        assert!(problem(&d.path().join("nope.toml")).ends_with(": no such file"));
        assert!(problem(d.path()).ends_with(": it is a directory"));
        let bad = d.path().join("latin1.toml");
        std::fs::write(&bad, b"name = \"caf\xe9\"\n").unwrap();
        assert!(problem(&bad).ends_with("not UTF-8 text (invalid byte at offset 11)"));
        let big = d.path().join("big.toml");
        let f = std::fs::File::create(&big).unwrap();
        f.set_len(MAX_FILE_BYTES + 1).unwrap();
        assert!(problem(&big).contains("larger than 64 MiB"));
        #[cfg(unix)]
        {
            let a = d.path().join("a.toml");
            let b = d.path().join("b.toml");
            std::os::unix::fs::symlink(&b, &a).unwrap();
            std::os::unix::fs::symlink(&a, &b).unwrap();
            assert!(problem(&a).contains("symbolic link that cannot be followed"));
            let dangling = d.path().join("dangling.toml");
            std::os::unix::fs::symlink(d.path().join("gone"), &dangling).unwrap();
            assert!(problem(&dangling).contains("symbolic link to a missing file"));
            assert!(problem(Path::new("/dev/zero")).contains("not a regular file"));
        }
        let ok = d.path().join("ok.toml");
        std::fs::write(&ok, "x = 1\n").unwrap();
        assert_eq!(read_source(&ok, "experiment file").unwrap(), "x = 1\n");
    }
}
