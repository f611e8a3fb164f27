//! Refs: the last key of each stage instance (`v1/refs/<ref id>`), what `plan` and `why`
//! diff a miss against. A ref is a hint: written by rename but not fsynced, and an
//! unreadable ref reads as none.

use std::fs;

use crate::index::stamp_of;
use crate::key::CacheKey;
use crate::nofollow;
use crate::store::{CacheError, Store, io, valid_table_name, write_atomic};

impl Store {
    /// Remember the last key of a stage instance.
    pub fn set_ref(&self, ref_id: &str, key: &CacheKey) -> Result<(), CacheError> {
        if !valid_table_name(ref_id) {
            return Err(CacheError::RefId(ref_id.to_string()));
        }
        let p = self.internal_dir("refs")?.join(ref_id);
        if nofollow::read(&p).is_ok_and(|s| String::from_utf8_lossy(&s).trim() == key.to_string()) {
            return Ok(());
        }
        // Not fsynced: a ref only explains a miss (`why`); after a crash it may be lost or
        // empty, which reads as no ref. An fsync per stage was a fifth of a cold run.
        write_atomic(
            &self.internal_dir("tmp")?,
            &p,
            key.to_string().as_bytes(),
            false,
        )
    }

    /// The key last remembered for a stage instance (`None` if none, or unreadable).
    pub fn get_ref(&self, ref_id: &str) -> Option<CacheKey> {
        if !valid_table_name(ref_id) {
            return None;
        }
        let bytes = nofollow::read(&self.internal_dir("refs").ok()?.join(ref_id)).ok()?;
        String::from_utf8_lossy(&bytes).trim().parse().ok()
    }

    /// The ids of every ref (one directory listing: cheaper than a failed `open` per
    /// instance when a plan asks about many new ones).
    pub fn ref_ids(&self) -> Result<std::collections::HashSet<String>, CacheError> {
        if self.is_absent() {
            return Ok(Default::default());
        }
        let dir = self.internal_dir("refs")?;
        let items = fs::read_dir(&dir).map_err(io(&dir))?;
        Ok(items
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .collect())
    }

    /// [`Store::set_ref`], skipped when the index says the ref file already names `key`
    /// and the file is unchanged since (no read, no write: a no-op run writes nothing).
    pub fn note_ref(&self, ref_id: &str, key: &CacheKey) -> Result<(), CacheError> {
        if !valid_table_name(ref_id) {
            return Err(CacheError::RefId(ref_id.to_string()));
        }
        let path = self.base.join("refs").join(ref_id);
        if let Some((k, st)) = self.index.snapshot().refs.get(ref_id)
            && k == key
            && stamp_of(&path) == Some(*st)
        {
            return Ok(());
        }
        self.set_ref(ref_id, key)?;
        if let Some(st) = stamp_of(&path) {
            self.index.append(&format!("r {ref_id} {key} {st:016x}"));
        }
        Ok(())
    }
}
