//! The lookup index, `v1/index`: a hint file that lets a no-op run find its entries with
//! a few `lstat`s instead of reading every manifest and ref.
//!
//! An append-only log of one-line records (each written as a newline, then the record):
//!
//! ```text
//! e KEY DIGEST DIR MANIFEST FILE=STAMP[,FILE=STAMP…] CHECK   entry KEY (output digest
//!                                                            DIGEST) was healthy
//! r REF KEY STAMP CHECK                                      ref REF named KEY
//! ```
//!
//! A stamp is 16 hex digits of blake3 over what `lstat` says of a path (device, inode,
//! mode, size, mtime, ctime): of the entry directory, its manifest and each output file,
//! or of the ref file. `CHECK` is 16 hex digits of blake3 over the rest of the line, so a
//! torn or garbled line is ignored. Later lines win.
//!
//! Why trusting a record is safe: a record is used only while every path it stamps still
//! has the stamp it had when the record was written, and the record was written right
//! after a full lookup (manifest parsed and checked, file sizes checked) or a commit found
//! the entry healthy. warmstart never changes an entry's files or a ref in place (it
//! replaces them by rename), and any write, replacement, rename or symlink swap changes
//! an inode, a mode or a ctime — which no user can set back. So a matching record answers
//! exactly what the full lookup would; anything else (no record, a torn one, a stale one)
//! falls back to the full lookup, which records what it found. Losing records (a crash,
//! `gc` rewriting the file while a run appends) costs only speed.
//!
//! Architecture invariant: the index is a cache of lookups, never a source of truth: no
//! answer differs from the full lookup's, and deleting `v1/index` at any time is safe.

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::key::{CacheKey, Digest};
use crate::nofollow;
use crate::store::{CacheError, Lookup, Manifest, Store, valid_table_name, write_atomic};

/// The file name of the index under `ROOT/v1`.
pub(crate) const INDEX_FILE: &str = "index";

/// The answer of [`Store::lookup_digest`]: [`Lookup`] without the manifest.
#[derive(Debug, Clone, PartialEq)]
pub enum DigestLookup {
    Missing,
    /// A healthy entry and its output digest (what downstream keys depend on).
    Hit(Digest),
    Corrupt(String),
}

/// What one `e` record says: the entry's output digest and the stamps it had.
#[derive(Debug, Clone, PartialEq)]
struct EntryRecord {
    digest: Digest,
    dir: u64,
    manifest: u64,
    files: Vec<(String, u64)>,
}

/// The records of the index file as this process first read it.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    entries: HashMap<CacheKey, EntryRecord>,
    pub(crate) refs: HashMap<String, (CacheKey, u64)>,
}

/// The index of one store: read once, lazily (only runs need it); appended through one
/// open file.
pub(crate) struct Index {
    path: PathBuf,
    snapshot: OnceLock<Snapshot>,
    /// Records not yet written: appended in one `write` when the store is dropped (or
    /// every 64 KiB, or on [`Store::flush_index`]). A write per record made every
    /// journal commit of a cold run (one per fsync) write the index's pages too.
    pending: Mutex<String>,
    /// Shards (by first key byte) already found to be real directories by this process.
    shards_checked: [AtomicBool; 256],
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index").field("path", &self.path).finish()
    }
}

impl Index {
    pub(crate) fn new(base: &Path) -> Index {
        Index {
            path: base.join(INDEX_FILE),
            snapshot: OnceLock::new(),
            pending: Mutex::new(String::new()),
            shards_checked: std::array::from_fn(|_| AtomicBool::new(false)),
        }
    }

    pub(crate) fn snapshot(&self) -> &Snapshot {
        self.snapshot
            .get_or_init(|| match nofollow::read(&self.path) {
                Ok(bytes) => parse(&bytes),
                Err(_) => Snapshot::default(),
            })
    }

    /// Queue one record (best effort: the index is a hint).
    pub(crate) fn append(&self, record: &str) {
        let Ok(mut pending) = self.pending.lock() else {
            return;
        };
        // Newline first: a record torn by a crash (no newline) must not swallow the next.
        pending.push('\n');
        pending.push_str(record);
        pending.push(' ');
        pending.push_str(&check(record));
        if pending.len() >= 64 * 1024 {
            self.write_out(&mut pending);
        }
    }

    /// Append the queued records in one `write` (`O_APPEND`: whole writes of concurrent
    /// processes do not interleave on a local file system).
    fn write_out(&self, pending: &mut String) {
        if pending.is_empty() {
            return;
        }
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&self.path);
        if let Ok(mut f) = file {
            let _ = f.write_all(pending.as_bytes());
        }
        pending.clear();
    }

    pub(crate) fn flush(&self) {
        if let Ok(mut pending) = self.pending.lock() {
            self.write_out(&mut pending);
        }
    }
}

impl Drop for Index {
    fn drop(&mut self) {
        self.flush();
    }
}

/// 16 hex digits of blake3 over `bytes`.
fn short_hash(bytes: &[u8]) -> u64 {
    let h = blake3::hash(bytes);
    let mut first = [0u8; 8];
    first.copy_from_slice(&h.as_bytes()[..8]);
    u64::from_le_bytes(first)
}

fn check(record: &str) -> String {
    format!("{:016x}", short_hash(record.as_bytes()))
}

/// The stamp of a path, not followed (`None` if it cannot be read).
pub(crate) fn stamp_of(path: &Path) -> Option<u64> {
    stamp_and_metadata(path).map(|(st, _)| st)
}

fn stamp_and_metadata(path: &Path) -> Option<(u64, fs::Metadata)> {
    let md = fs::symlink_metadata(path).ok()?;
    Some((stamp(&md), md))
}

/// 16 hex digits of blake3 over what `lstat` said (device, inode, mode, size, mtime,
/// ctime).
fn stamp(md: &fs::Metadata) -> u64 {
    let mut bytes = Vec::with_capacity(64);
    for x in [
        md.dev(),
        md.ino(),
        u64::from(md.mode()),
        md.size(),
        md.mtime() as u64,
        md.mtime_nsec() as u64,
        md.ctime() as u64,
        md.ctime_nsec() as u64,
    ] {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    short_hash(&bytes)
}

/// The `e` record of an entry (without its check).
fn entry_line(key: &CacheKey, r: &EntryRecord) -> String {
    let files: Vec<String> = r
        .files
        .iter()
        .map(|(f, st)| format!("{f}={st:016x}"))
        .collect();
    format!(
        "e {key} {} {:016x} {:016x} {}",
        r.digest,
        r.dir,
        r.manifest,
        files.join(",")
    )
}

fn parse(bytes: &[u8]) -> Snapshot {
    let mut s = Snapshot::default();
    for line in bytes.split(|&b| b == b'\n') {
        let Ok(line) = std::str::from_utf8(line) else {
            continue;
        };
        let Some((record, sum)) = line.rsplit_once(' ') else {
            continue;
        };
        if check(record) != sum {
            continue;
        }
        let fields: Vec<&str> = record.split(' ').collect();
        match fields.as_slice() {
            ["e", key, digest, dir, manifest, files] => {
                let parsed = (|| {
                    let files = files
                        .split(',')
                        .filter(|f| !f.is_empty())
                        .map(|f| {
                            let (name, st) = f.split_once('=')?;
                            // Only what a manifest may name: never a path elsewhere.
                            let table = name.strip_suffix(".parquet")?;
                            if !valid_table_name(table) {
                                return None;
                            }
                            Some((name.to_string(), u64::from_str_radix(st, 16).ok()?))
                        })
                        .collect::<Option<Vec<_>>>()?;
                    Some((
                        key.parse::<CacheKey>().ok()?,
                        EntryRecord {
                            digest: digest.parse().ok()?,
                            dir: u64::from_str_radix(dir, 16).ok()?,
                            manifest: u64::from_str_radix(manifest, 16).ok()?,
                            files,
                        },
                    ))
                })();
                if let Some((k, r)) = parsed {
                    s.entries.insert(k, r);
                }
            }
            ["r", id, key, st] if valid_table_name(id) => {
                if let (Ok(k), Ok(st)) = (key.parse::<CacheKey>(), u64::from_str_radix(st, 16)) {
                    s.refs.insert(id.to_string(), (k, st));
                }
            }
            _ => {}
        }
    }
    s
}

impl Store {
    /// The stamps of an entry as it is now, if its output files are still regular files
    /// of the sizes `m` records (what [`Store::lookup`] checks).
    fn entry_stamps(&self, key: &CacheKey, m: &Manifest) -> Option<EntryRecord> {
        let dir = self.entry_dir(key);
        let mut files = Vec::with_capacity(m.outputs.len());
        for o in &m.outputs {
            let (st, md) = stamp_and_metadata(&dir.join(&o.file))?;
            if !md.is_file() || md.len() != o.bytes {
                return None;
            }
            files.push((o.file.clone(), st));
        }
        Some(EntryRecord {
            digest: m.output_digest,
            dir: stamp_of(&dir)?,
            manifest: stamp_of(&self.entry_path(key, Some("manifest.json")))?,
            files,
        })
    }

    /// Record a healthy entry in the index (after a commit, under the key's lock).
    pub(crate) fn index_entry(&self, key: &CacheKey, m: &Manifest) {
        if let Some(r) = self.entry_stamps(key, m) {
            self.index_entry_record(key, &r);
        }
    }

    fn index_entry_record(&self, key: &CacheKey, r: &EntryRecord) {
        self.index.append(&entry_line(key, r));
    }

    /// Rewrite the index with only the records that still match their files (one per
    /// live entry and ref): the log grows by a line per entry written or ref moved, and
    /// `gc` calls this. Appends racing with the rewrite are lost, which costs only a full
    /// lookup later.
    pub(crate) fn compact_index(&self) -> Result<(), CacheError> {
        let fresh = match nofollow::read(&self.index.path) {
            Ok(bytes) => parse(&bytes),
            Err(_) => return Ok(()),
        };
        let mut out = String::new();
        let mut entries: Vec<(&CacheKey, &EntryRecord)> = fresh.entries.iter().collect();
        entries.sort_by_key(|(k, _)| **k);
        for (key, rec) in entries {
            let dir = self.entry_dir(key);
            let live = stamp_of(&dir) == Some(rec.dir)
                && stamp_of(&self.entry_path(key, Some("manifest.json"))) == Some(rec.manifest)
                && rec
                    .files
                    .iter()
                    .all(|(f, st)| stamp_of(&dir.join(f)) == Some(*st));
            if live {
                let record = entry_line(key, rec);
                out.push_str(&format!("\n{record} {}", check(&record)));
            }
        }
        let mut refs: Vec<(&String, &(CacheKey, u64))> = fresh.refs.iter().collect();
        refs.sort();
        for (id, (key, st)) in refs {
            if stamp_of(&self.base.join("refs").join(id)) == Some(*st) {
                let record = format!("r {id} {key} {st:016x}");
                out.push_str(&format!("\n{record} {}", check(&record)));
            }
        }
        write_atomic(
            &self.internal_dir("tmp")?,
            &self.index.path,
            out.as_bytes(),
            false,
        )
    }

    /// Write the index records queued by this process (also done when the last clone
    /// of the store is dropped).
    pub fn flush_index(&self) {
        self.index.flush();
    }

    /// Whether the entry under `key` still is what its index record says.
    fn indexed_digest(&self, key: &CacheKey) -> Option<Digest> {
        let rec = self.index.snapshot().entries.get(key)?;
        let dir = self.entry_dir(key);
        // A shard that is a symlink is not followed, whatever the stamps say (checked once
        // per process and shard: a no-op run then costs one `lstat` per file it trusts).
        let checked = self.index.shards_checked.get(usize::from(key.0[0]))?;
        if !checked.load(Ordering::Relaxed) {
            if nofollow::check_dir(dir.parent()?) != Ok(true) {
                return None;
            }
            checked.store(true, Ordering::Relaxed);
        }
        let same = stamp_of(&dir)? == rec.dir
            && stamp_of(&self.entry_path(key, Some("manifest.json")))? == rec.manifest
            && rec
                .files
                .iter()
                .all(|(f, st)| stamp_of(&dir.join(f)) == Some(*st));
        same.then_some(rec.digest)
    }

    /// [`Store::lookup`] for the scheduler, which needs only the output digest: answered
    /// from the index when its record still matches the files (a few `lstat`s, nothing
    /// read), else by the full lookup, whose hit is then recorded.
    pub fn lookup_digest(&self, key: &CacheKey) -> DigestLookup {
        if let Some(d) = self.indexed_digest(key) {
            return DigestLookup::Hit(d);
        }
        let dir = self.entry_dir(key);
        let dir_stamp = match fs::symlink_metadata(&dir) {
            // A miss costs this one `lstat` (the full lookup would say the same).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return DigestLookup::Missing,
            Err(_) => 0,
            Ok(md) => stamp(&md),
        };
        let before = (
            dir_stamp,
            stamp_of(&self.entry_path(key, Some("manifest.json"))).unwrap_or(0),
        );
        match self.lookup(key) {
            Lookup::Missing => DigestLookup::Missing,
            Lookup::Corrupt(why) => DigestLookup::Corrupt(why),
            Lookup::Hit(m) => {
                // Recorded only if the entry directory and manifest did not change while
                // the manifest was read: then the stamps are those of what was checked.
                if let Some(r) = self.entry_stamps(key, &m)
                    && (r.dir, r.manifest) == before
                {
                    self.index_entry_record(key, &r);
                }
                DigestLookup::Hit(m.output_digest)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::KeyInputs;
    use crate::store::EntryMeta;
    use arrow_array::{Int64Array, RecordBatch};
    use std::sync::Arc;
    use warmstart_engine::NamedTable;

    fn entry(store: &Store, seed: u64, rows: i64) -> (CacheKey, Digest) {
        let inputs = KeyInputs {
            kind: "k".into(),
            engine_id: "e".into(),
            engine_version: "1".into(),
            engine_extra: vec![],
            params: Default::default(),
            seed: Some(seed),
            inputs: vec![],
        };
        let key = inputs.key();
        let batch = RecordBatch::try_from_iter([(
            "i",
            Arc::new(Int64Array::from_iter_values(0..rows)) as _,
        )])
        .unwrap();
        let meta = EntryMeta {
            experiment: "x".into(),
            stage: "s".into(),
            coords: vec![],
            duration_ms: 1,
        };
        let m = store
            .write(&key, &inputs, &[NamedTable::new("out", batch)], meta)
            .unwrap();
        (key, m.output_digest)
    }

    /// A second process's view of the same cache (its own index snapshot), once `store`
    /// wrote what it queued.
    fn reopen(store: &Store) -> Store {
        store.flush_index();
        Store::open(store.root()).unwrap()
    }

    #[test]
    fn a_committed_entry_is_found_from_the_index_without_reading_it() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path()).unwrap();
        let (key, digest) = entry(&store, 1, 10);
        let other = reopen(&store);
        assert_eq!(other.indexed_digest(&key), Some(digest));
        assert_eq!(other.lookup_digest(&key), DigestLookup::Hit(digest));
        // No record for a key never written.
        let absent = CacheKey([7; 32]);
        assert_eq!(other.indexed_digest(&absent), None);
        assert_eq!(other.lookup_digest(&absent), DigestLookup::Missing);
    }

    #[test]
    fn a_record_is_not_trusted_once_a_stamped_file_changed() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path()).unwrap();
        let (key, _) = entry(&store, 1, 10);
        let dir = store.entry_dir(&key);
        // The manifest rewritten in place with the same size: the full lookup's answer
        // (a parse error here) must come back, not the record's.
        let mpath = dir.join("manifest.json");
        let len = fs::metadata(&mpath).unwrap().len() as usize;
        fs::write(&mpath, vec![b'x'; len]).unwrap();
        let other = reopen(&store);
        assert_eq!(other.indexed_digest(&key), None);
        assert!(matches!(
            other.lookup_digest(&key),
            DigestLookup::Corrupt(_)
        ));

        // An output file truncated: the size check of the full lookup answers.
        let (key2, _) = entry(&store, 2, 10);
        let out = store.entry_dir(&key2).join("out.parquet");
        let f = OpenOptions::new().write(true).open(&out).unwrap();
        f.set_len(3).unwrap();
        let other = reopen(&store);
        assert_eq!(other.indexed_digest(&key2), None);
        assert!(matches!(
            other.lookup_digest(&key2),
            DigestLookup::Corrupt(_)
        ));

        // The entry removed: missing, whatever the index says.
        let (key3, _) = entry(&store, 3, 10);
        store.remove(&key3).unwrap();
        let other = reopen(&store);
        assert_eq!(other.lookup_digest(&key3), DigestLookup::Missing);
    }

    #[test]
    fn an_entry_dir_swapped_for_a_symlink_is_not_trusted() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path()).unwrap();
        let (key, _) = entry(&store, 1, 10);
        let dir = store.entry_dir(&key);
        let outside = d.path().join("outside");
        fs::rename(&dir, &outside).unwrap();
        std::os::unix::fs::symlink(&outside, &dir).unwrap();
        let other = reopen(&store);
        assert_eq!(other.indexed_digest(&key), None);
        assert!(matches!(
            other.lookup_digest(&key),
            DigestLookup::Corrupt(_)
        ));
    }

    #[test]
    fn a_full_lookup_hit_is_recorded_and_torn_lines_are_ignored() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path()).unwrap();
        let (key, digest) = entry(&store, 1, 10);
        store.flush_index();
        let index = d.path().join("v1").join(INDEX_FILE);
        // A cache written before the index existed, plus garbage and a torn record.
        fs::write(&index, b"garbage\ne 00 11 22 33 out.parquet=44 5566\ne 12").unwrap();
        let other = reopen(&store);
        assert_eq!(other.indexed_digest(&key), None);
        assert_eq!(other.lookup_digest(&key), DigestLookup::Hit(digest));
        // The hit was appended, not merged into the torn line before it.
        let third = reopen(&other);
        assert_eq!(third.indexed_digest(&key), Some(digest));
    }

    #[test]
    fn records_naming_paths_outside_their_entry_are_ignored() {
        let key = CacheKey([1; 32]);
        let line = |files: &str| {
            let record = format!("e {key} {} 1 2 {files}", Digest([2; 32]));
            format!("\n{record} {}", check(&record))
        };
        let good = parse(line("out.parquet=3").as_bytes());
        assert_eq!(good.entries.len(), 1);
        for bad in [
            "../x.parquet=3",
            "out.csv=3",
            "a/b.parquet=3",
            "OUT.parquet=3",
        ] {
            assert!(parse(line(bad).as_bytes()).entries.is_empty(), "{bad}");
        }
        let record = format!("r ../up {key} 5");
        let refs = parse(format!("\n{record} {}", check(&record)).as_bytes());
        assert!(refs.refs.is_empty());
    }

    #[test]
    fn note_ref_writes_only_when_the_ref_file_differs() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path()).unwrap();
        let (a, _) = entry(&store, 1, 10);
        let (b, _) = entry(&store, 2, 10);
        store.note_ref("r1", &a).unwrap();
        let path = d.path().join("v1/refs/r1");
        let before = stamp_of(&path);
        // Another process: the index says r1 = a, the file agrees: nothing is written.
        let other = reopen(&store);
        other.note_ref("r1", &a).unwrap();
        assert_eq!(stamp_of(&path), before);
        // The ref moved to b behind the index's back (an older warmstart): noticed by
        // its stamp, so a third process moving it back to a does write.
        store.set_ref("r1", &b).unwrap();
        let third = reopen(&store);
        third.note_ref("r1", &a).unwrap();
        assert_eq!(store.get_ref("r1"), Some(a));
    }

    #[test]
    fn compaction_keeps_one_record_per_live_entry_and_ref() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path()).unwrap();
        let (a, da) = entry(&store, 1, 10);
        let (b, _) = entry(&store, 2, 10);
        store.note_ref("r1", &b).unwrap();
        store.note_ref("r1", &a).unwrap();
        store.remove(&b).unwrap();
        store.flush_index();
        let index = d.path().join("v1").join(INDEX_FILE);
        let lines = |p: &Path| {
            fs::read_to_string(p)
                .unwrap()
                .lines()
                .filter(|l| !l.is_empty())
                .count()
        };
        assert_eq!(lines(&index), 4);
        store.compact_index().unwrap();
        assert_eq!(lines(&index), 2, "{}", fs::read_to_string(&index).unwrap());
        let other = reopen(&store);
        assert_eq!(other.indexed_digest(&a), Some(da));
        assert_eq!(other.indexed_digest(&b), None);
    }
}
