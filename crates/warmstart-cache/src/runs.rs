//! Run records: one small file per `warmstart run`, kept next to the entries so that what
//! a run did (which instances ran, which failed and why, how long it took) outlives the
//! terminal it printed to. The report shows an experiment's failures from them; `runs`,
//! `compare` and `tag` read them.
//!
//! They live under `ROOT/v1/runs/<experiment>/<name>.json`, where `<experiment>` is the
//! first 16 hex digits of the blake3 hash of the experiment's name (names are free text;
//! a hash is always a safe directory name, and the record itself carries the name). The
//! record's contents are the caller's (serde JSON, written by the facade): this module only
//! stores bytes atomically and lists them in order, like [`crate::jobs`].
//!
//! A record is written after the run ends; a run killed with -9 leaves none, which is
//! honest: nothing is claimed about a run that did not finish. Writes are atomic
//! (temporary file, fsync, rename); directories are checked not to be symbolic links.

use std::path::PathBuf;

use crate::jobs::check_name;
use crate::nofollow;
use crate::store::{CacheError, Store, io, unsafe_path, write_atomic};

impl Store {
    /// `v1/runs/<hash of experiment>`, created if needed.
    fn runs_dir(&self, experiment: &str, create: bool) -> Result<PathBuf, CacheError> {
        let runs = self.base.join("runs");
        let hash = blake3::hash(experiment.as_bytes()).to_hex();
        let dir = runs.join(&hash.as_str()[..16]);
        if create {
            nofollow::ensure_dir(&runs).map_err(unsafe_path(&runs))?;
            nofollow::ensure_dir(&dir).map_err(unsafe_path(&dir))?;
        }
        Ok(dir)
    }

    /// Store a run record of `experiment` under `name` (`[a-z0-9._-]`, no leading dot);
    /// returns its path.
    pub fn write_run_record(
        &self,
        experiment: &str,
        name: &str,
        bytes: &[u8],
    ) -> Result<PathBuf, CacheError> {
        check_name(name)?;
        let dest = self.runs_dir(experiment, true)?.join(name);
        let tmp = self.internal_dir("tmp")?;
        write_atomic(&tmp, &dest, bytes, true)?;
        Ok(dest)
    }

    /// The experiments that have run records: the hashed directory names under
    /// `v1/runs` (each record names its experiment).
    pub fn run_dirs(&self) -> Result<Vec<String>, CacheError> {
        let runs = self.base.join("runs");
        let entries = match std::fs::read_dir(&runs) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&runs)(e)),
        };
        let mut dirs: Vec<String> = entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.len() == 16 && n.bytes().all(|b| b.is_ascii_hexdigit()))
            .collect();
        dirs.sort();
        Ok(dirs)
    }

    /// The files of run directory `dir` (a name from [`Store::run_dirs`]), as
    /// [`Store::run_records`] lists them.
    pub fn run_dir_files(&self, dir: &str) -> Result<Vec<(String, Vec<u8>)>, CacheError> {
        if dir.len() != 16 || !dir.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(CacheError::RefId(dir.to_string()));
        }
        list_files(&self.base.join("runs").join(dir))
    }

    /// The files kept for `experiment` — its run records and tags — as (name, bytes),
    /// sorted by name (record names start with the run's start time, so records come
    /// oldest first). None yet: an empty list; the cache is not modified.
    pub fn run_records(&self, experiment: &str) -> Result<Vec<(String, Vec<u8>)>, CacheError> {
        list_files(&self.runs_dir(experiment, false)?)
    }
}

/// Every plainly named, readable file of `dir`, sorted by name. Run files are history,
/// not the source of truth: one that cannot be read (a directory or link planted there,
/// an I/O error) is left out rather than failing the listing.
fn list_files(dir: &std::path::Path) -> Result<Vec<(String, Vec<u8>)>, CacheError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(dir)(e)),
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| check_name(n).is_ok())
        .collect();
    names.sort();
    Ok(names
        .into_iter()
        .filter_map(|name| {
            let bytes = nofollow::read(&dir.join(&name)).ok()?;
            Some((name, bytes))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_in_name_order_per_experiment() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(store.run_records("exp").unwrap().is_empty());
        assert!(
            !dir.path().join("v1/runs").exists(),
            "listing created nothing"
        );
        store.write_run_record("exp", "0002-b.json", b"2").unwrap();
        store.write_run_record("exp", "0001-a.json", b"1").unwrap();
        store
            .write_run_record("other / name", "0003.json", b"3")
            .unwrap();
        let got = store.run_records("exp").unwrap();
        assert_eq!(
            got,
            vec![
                ("0001-a.json".to_string(), b"1".to_vec()),
                ("0002-b.json".to_string(), b"2".to_vec())
            ]
        );
        assert_eq!(store.run_records("other / name").unwrap().len(), 1);
        for bad in ["../x", ".hidden", "A.json", "a/b", ""] {
            assert!(store.write_run_record("exp", bad, b"").is_err(), "{bad}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_runs_dir_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let decoy = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        std::fs::create_dir_all(dir.path().join("v1")).unwrap();
        std::os::unix::fs::symlink(decoy.path(), dir.path().join("v1/runs")).unwrap();
        assert!(matches!(
            store.write_run_record("exp", "a.json", b"x"),
            Err(CacheError::Unsafe { .. })
        ));
        assert_eq!(std::fs::read_dir(decoy.path()).unwrap().count(), 0);
    }
}
