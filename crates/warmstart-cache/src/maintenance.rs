//! Whole-cache maintenance: digest verification, quarantine of corrupt entries, and removal
//! of stale lock and ref files.
//!
//! - [`Store::verify_keys`] reads every file of the given entries and compares blake3
//!   digests (what `warmstart verify` and `run --verify` do); [`Store::lookup`] only checks
//!   sizes, so a same-size bit flip is found here, or by [`Store::read`].
//! - [`Store::quarantine`] moves a corrupt entry to `v1/quarantine/<key>-<unix ms>` in one
//!   rename: the next run recomputes the key, and the bad bytes stay for a post-mortem.
//! - [`Store::remove_stale_files`] deletes lock files nobody holds and refs whose entry is
//!   gone (what `gc --apply` does after deleting entries).

use std::fs;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::key::CacheKey;
use crate::nofollow;
use crate::store::{CacheError, Manifest, Store};

/// One entry that failed [`Store::verify_keys`].
#[derive(Debug)]
pub struct CorruptEntry {
    pub key: CacheKey,
    /// Why it is corrupt (the [`CacheError`]'s text).
    pub reason: String,
    /// Where it was moved, if `repair` was asked and the move worked.
    pub quarantined: Option<PathBuf>,
    /// Why it could not be quarantined, if it could not.
    pub repair_error: Option<String>,
}

/// What [`Store::verify_keys`] found.
#[derive(Debug, Default)]
pub struct VerifyReport {
    /// Entries whose every file matched its digest.
    pub ok: usize,
    /// Keys with no entry in the cache (nothing to check).
    pub missing: usize,
    /// Bytes read and hashed.
    pub bytes: u64,
    pub corrupt: Vec<CorruptEntry>,
}

impl VerifyReport {
    /// Corrupt entries that are still in place (not quarantined).
    pub fn unrepaired(&self) -> usize {
        self.corrupt
            .iter()
            .filter(|c| c.quarantined.is_none())
            .count()
    }
}

/// What [`Store::remove_stale_files`] removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct StaleFiles {
    pub locks: usize,
    pub refs: usize,
}

impl Store {
    /// Every key with an entry directory, whether or not its manifest reads.
    pub fn keys(&self) -> Result<Vec<CacheKey>, CacheError> {
        Ok(self.entries()?.into_iter().map(|(k, _)| k).collect())
    }

    /// Check every file digest of each key's entry; with `repair`, quarantine the corrupt
    /// ones. `progress` is called after each key with the number done so far.
    pub fn verify_keys(
        &self,
        keys: &[CacheKey],
        repair: bool,
        mut progress: impl FnMut(usize),
    ) -> VerifyReport {
        let mut report = VerifyReport::default();
        for (n, key) in keys.iter().enumerate() {
            match self.check_entry(key) {
                None => report.missing += 1,
                Some(Ok(m)) => {
                    report.ok += 1;
                    report.bytes += m.outputs.iter().map(|o| o.bytes).sum::<u64>();
                }
                Some(Err(e)) => {
                    let mut c = CorruptEntry {
                        key: *key,
                        reason: e.to_string(),
                        quarantined: None,
                        repair_error: None,
                    };
                    if repair {
                        match self.quarantine(key) {
                            Ok(p) => c.quarantined = p,
                            Err(e) => c.repair_error = Some(e.to_string()),
                        }
                    }
                    report.corrupt.push(c);
                }
            }
            progress(n + 1);
        }
        report
    }

    /// `None` when the key has no entry at all, else the full digest check.
    fn check_entry(&self, key: &CacheKey) -> Option<Result<Manifest, CacheError>> {
        let dir = self.entry_dir(key);
        if fs::symlink_metadata(&dir).is_err() {
            return None;
        }
        Some(self.verify(key))
    }

    /// Move a corrupt entry into `v1/quarantine/` so the next run recomputes its key.
    ///
    /// Taken under the key's lock, tried without blocking: a run holding it is about to
    /// replace the entry anyway, so it is left alone (`Ok(None)`). Under the lock the
    /// entry is checked again, so a good entry that a writer committed meanwhile is never
    /// moved. Returns where the entry went, or `None` if it was not moved.
    pub fn quarantine(&self, key: &CacheKey) -> Result<Option<PathBuf>, CacheError> {
        let Some(_lock) = self.try_lock(key)? else {
            return Ok(None);
        };
        match self.check_entry(key) {
            None | Some(Ok(_)) => return Ok(None),
            Some(Err(_)) => {}
        }
        let dir = self.entry_dir(key);
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let dest = self
            .internal_dir("quarantine")?
            .join(format!("{key}-{ms}-{}", std::process::id()));
        fs::rename(&dir, &dest).map_err(|source| CacheError::Io { path: dir, source })?;
        Ok(Some(dest))
    }

    /// Delete lock files that no process holds and refs whose entry is gone, and rewrite
    /// the lookup index with only its live records.
    ///
    /// Why deleting a lock file cannot let two processes compute the same key: the file is
    /// unlinked only while we hold its lock, and [`Store::lock`] re-checks after locking
    /// that the path still names the very file it locked (same inode), retrying if not.
    /// So a process that opened the file just before we unlinked it finds its lock stale
    /// and re-opens the path, where it meets everyone else on one new file.
    ///
    /// Refs are hints for `plan` / `why` (the last key of a stage instance). One whose key
    /// has no entry only names garbage. A concurrent run that rewrites a ref just as we
    /// remove it loses that hint, never data: `why` then says less about the change.
    pub fn remove_stale_files(&self) -> Result<StaleFiles, CacheError> {
        let mut out = StaleFiles::default();
        let locks = self.internal_dir("locks")?;
        let items = fs::read_dir(&locks).map_err(|source| CacheError::Io {
            path: locks.clone(),
            source,
        })?;
        for item in items.flatten() {
            let name = item.file_name();
            let Some(key) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".lock"))
                .and_then(|k| k.parse::<CacheKey>().ok())
            else {
                continue;
            };
            if let Ok(Some(lock)) = self.try_lock(&key)
                && fs::remove_file(item.path()).is_ok()
            {
                drop(lock);
                out.locks += 1;
            }
        }
        let refs = self.internal_dir("refs")?;
        let items = fs::read_dir(&refs).map_err(|source| CacheError::Io {
            path: refs.clone(),
            source,
        })?;
        for item in items.flatten() {
            if !item.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            let live = nofollow::read(&item.path())
                .ok()
                .and_then(|b| String::from_utf8_lossy(&b).trim().parse::<CacheKey>().ok())
                .is_some_and(|k| fs::symlink_metadata(self.entry_dir(&k)).is_ok());
            if !live && fs::remove_file(item.path()).is_ok() {
                out.refs += 1;
            }
        }
        self.compact_index()?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::KeyInputs;
    use crate::store::{EntryMeta, Lookup};
    use arrow_array::{Int64Array, RecordBatch};
    use arrow_schema::{DataType, Field, Schema};
    use std::sync::Arc;
    use warmstart_engine::NamedTable;

    fn inputs(kind: &str) -> KeyInputs {
        KeyInputs {
            kind: kind.into(),
            engine_id: "e".into(),
            engine_version: "1".into(),
            engine_extra: vec![],
            params: Default::default(),
            seed: None,
            inputs: vec![],
        }
    }

    fn put(store: &Store, kind: &str) -> CacheKey {
        let schema = Arc::new(Schema::new(vec![Field::new("i", DataType::Int64, false)]));
        let b = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from_iter_values(0..500))])
            .unwrap();
        let ki = inputs(kind);
        let meta = EntryMeta {
            experiment: "x".into(),
            stage: kind.into(),
            coords: vec![],
            duration_ms: 0,
        };
        store
            .write(&ki.key(), &ki, &[NamedTable::new("out", b)], meta)
            .unwrap();
        ki.key()
    }

    fn flip(store: &Store, key: &CacheKey) {
        let f = store.entry_dir(key).join("out.parquet");
        let mut bytes = fs::read(&f).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x01;
        fs::write(&f, bytes).unwrap();
    }

    #[test]
    fn same_size_flip_is_found_and_quarantined() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path()).unwrap();
        let (good, bad) = (put(&store, "a"), put(&store, "b"));
        flip(&store, &bad);
        assert!(matches!(store.lookup(&bad), Lookup::Hit(_)), "sizes match");
        let absent = inputs("c").key();
        let r = store.verify_keys(&[good, bad, absent], false, |_| {});
        assert_eq!(
            (r.ok, r.missing, r.corrupt.len(), r.unrepaired()),
            (1, 1, 1, 1)
        );
        assert!(r.corrupt[0].reason.contains("digest"), "{:?}", r.corrupt);
        let mut seen = 0;
        let r = store.verify_keys(&store.keys().unwrap(), true, |n| seen = n);
        assert_eq!((seen, r.corrupt.len(), r.unrepaired()), (2, 1, 0));
        let q = r.corrupt[0].quarantined.clone().unwrap();
        assert!(q.starts_with(d.path().join("v1/quarantine")) && q.join("out.parquet").exists());
        assert!(matches!(store.lookup(&bad), Lookup::Missing));
        assert!(matches!(store.lookup(&good), Lookup::Hit(_)));
        // A good entry is never quarantined.
        assert_eq!(store.quarantine(&good).unwrap(), None);
        assert!(
            store
                .verify_keys(&store.keys().unwrap(), false, |_| {})
                .corrupt
                .is_empty()
        );
    }

    #[test]
    fn quarantine_leaves_an_entry_whose_lock_is_held() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path()).unwrap();
        let key = put(&store, "a");
        flip(&store, &key);
        let held = store.lock(&key).unwrap();
        assert_eq!(store.quarantine(&key).unwrap(), None);
        drop(held);
        assert!(store.quarantine(&key).unwrap().is_some());
    }

    #[test]
    fn stale_locks_and_dangling_refs_are_removed_held_locks_kept() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path()).unwrap();
        let (a, b) = (put(&store, "a"), put(&store, "b"));
        for k in [a, b] {
            drop(store.lock(&k).unwrap());
        }
        store.set_ref("ra", &a).unwrap();
        store.set_ref("rb", &b).unwrap();
        store.remove(&b).unwrap();
        let held = store.lock(&a).unwrap();
        let r = store.remove_stale_files().unwrap();
        assert_eq!(r, StaleFiles { locks: 1, refs: 1 });
        assert_eq!(store.get_ref("ra"), Some(a));
        assert_eq!(store.get_ref("rb"), None);
        assert!(d.path().join(format!("v1/locks/{a}.lock")).exists());
        drop(held);
        assert_eq!(store.remove_stale_files().unwrap().locks, 1);
        assert_eq!(fs::read_dir(d.path().join("v1/locks")).unwrap().count(), 0);
    }

    #[test]
    fn a_lock_whose_file_was_unlinked_is_retaken_on_the_new_file() {
        // A holds the lock; B opened the same file and waits. gc cannot delete it while
        // A holds it; once A is gone gc deletes it and C locks a fresh file. B, which
        // still had the old inode open, must not believe it holds the lock alongside C:
        // `lock` re-checks the inode and retries on the path.
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path()).unwrap();
        let key = inputs("a").key();
        let a = store.lock(&key).unwrap();
        let store_b = store.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let b = std::thread::spawn(move || {
            let l = store_b.lock(&key).unwrap();
            tx.send(()).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(200));
            drop(l);
        });
        std::thread::sleep(std::time::Duration::from_millis(100));
        drop(a);
        // B now holds the lock (on the old inode or after retrying): gc must not remove it
        // from under B in a way that lets C in while B holds it.
        rx.recv().unwrap();
        let _ = store.remove_stale_files();
        assert!(
            store.try_lock(&key).unwrap().is_none(),
            "B still holds the key"
        );
        b.join().unwrap();
        assert!(store.try_lock(&key).unwrap().is_some());
    }
}
