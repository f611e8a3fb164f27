//! Files a cluster executor keeps in the cache next to the entries: what each job is to
//! run (job specs), what each job did (status records, written by the worker on the
//! compute node), the jobs' logs, and which jobs were submitted for what (the ledger).
//!
//! They live under `ROOT/v1/jobs/<area>/<name>` so that everything a cluster run needs is
//! on the one shared filesystem the cache is on, and the cache stays the single source of
//! truth: a worker learns what to do from a file written before submission, and the
//! submitting process learns what happened from files the workers wrote — never from
//! Slurm's accounting, which many clusters do not keep.
//!
//! Writes are atomic (temporary file in `v1/tmp`, fsync, rename), so a reader sees a whole
//! record or none. Names are checked (`[a-z0-9._-]`, no leading dot), directories are
//! checked not to be symbolic links, and files are opened without following links, like
//! every other file of the cache.

use std::path::PathBuf;

use crate::nofollow;
use crate::store::{CacheError, Store, io, unsafe_path, write_atomic};

/// The areas of `v1/jobs`.
pub const AREAS: [&str; 4] = ["specs", "status", "logs", "ledger"];

impl Store {
    /// `v1/jobs/<area>`, created if needed; refused if it (or `v1/jobs`) is a symlink.
    pub fn jobs_area(&self, area: &str) -> Result<PathBuf, CacheError> {
        if !AREAS.contains(&area) {
            return Err(CacheError::RefId(area.to_string()));
        }
        let jobs = self.base.join("jobs");
        nofollow::ensure_dir(&jobs).map_err(unsafe_path(&jobs))?;
        let dir = jobs.join(area);
        nofollow::ensure_dir(&dir).map_err(unsafe_path(&dir))?;
        Ok(dir)
    }

    /// Write `v1/jobs/<area>/<name>` atomically; returns its path.
    pub fn write_job_file(
        &self,
        area: &str,
        name: &str,
        bytes: &[u8],
    ) -> Result<PathBuf, CacheError> {
        check_name(name)?;
        let dest = self.jobs_area(area)?.join(name);
        let tmp = self.internal_dir("tmp")?;
        write_atomic(&tmp, &dest, bytes, true)?;
        Ok(dest)
    }

    /// Read `v1/jobs/<area>/<name>`; `None` when it does not exist. Creates nothing: a
    /// read-only command (`status`, `why`) must not change the cache.
    pub fn read_job_file(&self, area: &str, name: &str) -> Result<Option<Vec<u8>>, CacheError> {
        check_name(name)?;
        if !AREAS.contains(&area) {
            return Err(CacheError::RefId(area.to_string()));
        }
        let jobs = self.base.join("jobs");
        let dir = jobs.join(area);
        for d in [&jobs, &dir] {
            match nofollow::check_dir(d) {
                Ok(true) => {}
                Ok(false) => return Ok(None),
                Err(what) => return Err(unsafe_path(d)(what)),
            }
        }
        let path = dir.join(name);
        match nofollow::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// Remove `v1/jobs/<area>/<name>` if it exists.
    pub fn remove_job_file(&self, area: &str, name: &str) -> Result<(), CacheError> {
        check_name(name)?;
        let path = self.jobs_area(area)?.join(name);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&path)(e)),
        }
    }
}

/// A job file's (or run record's) name: lowercase letters, digits, `.`, `_`, `-`; not starting with a dot.
pub(crate) fn check_name(name: &str) -> Result<(), CacheError> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(CacheError::RefId(name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_files_round_trip_and_names_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let p = store.write_job_file("status", "abc.json", b"{}").unwrap();
        assert!(p.ends_with("v1/jobs/status/abc.json"));
        assert_eq!(
            store.read_job_file("status", "abc.json").unwrap(),
            Some(b"{}".to_vec())
        );
        assert_eq!(store.read_job_file("status", "nope.json").unwrap(), None);
        for bad in ["../x", ".hidden", "A.json", "a/b", ""] {
            assert!(store.write_job_file("status", bad, b"").is_err(), "{bad}");
        }
        assert!(store.write_job_file("entries", "x", b"").is_err());
        store.remove_job_file("status", "abc.json").unwrap();
        assert_eq!(store.read_job_file("status", "abc.json").unwrap(), None);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_jobs_area_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let decoy = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        std::fs::create_dir_all(dir.path().join("v1/jobs")).unwrap();
        std::os::unix::fs::symlink(decoy.path(), dir.path().join("v1/jobs/status")).unwrap();
        assert!(matches!(
            store.write_job_file("status", "a.json", b"x"),
            Err(CacheError::Unsafe { .. })
        ));
        assert_eq!(std::fs::read_dir(decoy.path()).unwrap().count(), 0);
    }
}
