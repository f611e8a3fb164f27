//! File-system access that never follows a symbolic link inside the cache.
//!
//! The cache deletes things (stale temp dirs, garbage entries, stale lock files). If one of
//! its own directories were a symlink, those deletions would happen wherever it points: a
//! `v1/tmp` pointing at a copy of `/etc` once lost 740 of its 1 225 files to `run`. So every
//! internal directory is checked with `symlink_metadata` (which does not follow) before use,
//! and files inside the cache are opened with `O_NOFOLLOW`.
//!
//! Architecture invariant: the cache root itself may be a symlink (the user chose it); no
//! path below `ROOT/v1` is ever followed through a symlink.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// What is wrong with an internal path, if anything: `Ok(true)` a real directory,
/// `Ok(false)` missing, `Err(what)` a symlink or something other than a directory.
pub(crate) fn check_dir(path: &Path) -> Result<bool, String> {
    match fs::symlink_metadata(path) {
        Ok(md) if md.file_type().is_symlink() => Err("is a symbolic link".into()),
        Ok(md) if md.is_dir() => Ok(true),
        Ok(_) => Err("is not a directory".into()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e.to_string()),
    }
}

/// Make sure `path` is a real directory (creating it if missing, its parent must exist).
pub(crate) fn ensure_dir(path: &Path) -> Result<(), String> {
    if check_dir(path)? {
        return Ok(());
    }
    match fs::create_dir(path) {
        Ok(()) => Ok(()),
        // Another process created it meanwhile: check what it is.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            if check_dir(path)? {
                Ok(())
            } else {
                Err("vanished while being created".into())
            }
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Open a file for reading without following a final symlink (`ELOOP` if it is one).
pub(crate) fn open_read(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// Read a whole file without following a final symlink.
pub(crate) fn read(path: &Path) -> io::Result<Vec<u8>> {
    let mut f = open_read(path)?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    Ok(buf)
}

/// Open (creating) a lock file without following a final symlink.
pub(crate) fn open_lock(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_are_refused_and_not_followed() {
        let d = tempfile::tempdir().unwrap();
        let real = d.path().join("real");
        fs::create_dir(&real).unwrap();
        fs::write(real.join("f"), b"x").unwrap();
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert_eq!(check_dir(&real), Ok(true));
        assert_eq!(check_dir(&d.path().join("none")), Ok(false));
        assert!(check_dir(&link).unwrap_err().contains("symbolic link"));
        assert!(
            check_dir(&real.join("f"))
                .unwrap_err()
                .contains("not a directory")
        );
        assert!(ensure_dir(&link).is_err());
        ensure_dir(&d.path().join("new")).unwrap();
        let flink = d.path().join("flink");
        std::os::unix::fs::symlink(real.join("f"), &flink).unwrap();
        assert!(read(&flink).is_err());
        assert!(open_lock(&flink).is_err());
        assert_eq!(read(&real.join("f")).unwrap(), b"x");
    }
}
