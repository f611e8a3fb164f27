//! The on-disk cache store.
//!
//! Layout (`ROOT/v1/`, the `v1` being the layout version recorded in `v1/LAYOUT`):
//!
//! ```text
//! entries/<first 2 hex>/<64 hex key>/<table>.parquet   one file per output table
//! entries/<first 2 hex>/<64 hex key>/manifest.json     written last
//! refs/<ref id>                                          last key of a stage instance
//! locks/<key>.lock                                       per-key lock files
//! tmp/<pid>-<n>/                                         entries being written
//! ```
//!
//! Guarantees:
//! - **Atomic entries.** An entry is assembled in `tmp/`, every file fsynced, the manifest
//!   written last, the directory fsynced, then renamed into `entries/`. A reader sees a
//!   complete entry or none; a killed writer leaves only a `tmp/` directory, which
//!   [`Store::clean_tmp`] removes once its process is gone.
//! - **Verified reads.** The manifest records every file's size and blake3 digest;
//!   [`Store::lookup`] checks sizes (cheap, for no-op re-runs), [`Store::read`] checks
//!   digests and reports [`CacheError::Corrupt`].
//! - **Per-key locks.** [`Store::lock`] takes an exclusive cross-process lock
//!   (`flock`-style, released by the OS if the process dies), so concurrent runs compute
//!   each key once.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use arrow_array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use serde::{Deserialize, Serialize};
use warmstart_engine::{NamedTable, Value};

use crate::key::{CacheKey, Digest, KeyInputs};

/// The layout version this build reads and writes.
pub const LAYOUT: u32 = 1;
const LAYOUT_DIR: &str = "v1";

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cache entry {key} is corrupt: {reason} (it will be removed and recomputed)")]
    Corrupt { key: CacheKey, reason: String },
    #[error(
        "{path}: cache layout `{found}` is not one this version of warmstart understands (expected `{LAYOUT}`); use another --cache directory or upgrade warmstart"
    )]
    Layout { path: PathBuf, found: String },
    #[error("{path}: parquet: {message}")]
    Parquet { path: PathBuf, message: String },
    #[error("{path}: invalid manifest: {message}")]
    Json { path: PathBuf, message: String },
    #[error("invalid output table name `{0}`: use lowercase letters, digits, `_` and `-`")]
    TableName(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CacheError + '_ {
    move |source| CacheError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Metadata recorded with an entry (not part of the key).
#[derive(Debug, Clone)]
pub struct EntryMeta {
    pub experiment: String,
    pub stage: String,
    pub coords: Vec<(String, Value)>,
    pub duration_ms: u64,
}

/// One output file of an entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OutputFile {
    pub name: String,
    pub file: String,
    pub digest: Digest,
    pub rows: u64,
    pub bytes: u64,
    /// Human-readable Arrow schema.
    pub schema: String,
}

/// `manifest.json` of an entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub layout: u32,
    pub key: CacheKey,
    /// Every key input, for `why`.
    pub inputs: KeyInputs,
    pub outputs: Vec<OutputFile>,
    /// blake3 over (table name, file digest) pairs: what downstream keys depend on.
    pub output_digest: Digest,
    pub experiment: String,
    pub stage: String,
    pub coords: Vec<(String, Value)>,
    pub engine_id: String,
    pub engine_version: String,
    pub duration_ms: u64,
    pub created_unix_ms: u64,
    pub warmstart_version: String,
}

/// The result of a cheap lookup.
// A lookup is matched right away and never stored in bulk, so the unboxed manifest costs
// nothing, and callers can move it out without a `Box`.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Lookup {
    Missing,
    Hit(Manifest),
    Corrupt(String),
}

/// An exclusive lock on one key; released on drop (or by the OS if the process dies).
pub struct KeyLock {
    _file: File,
}

#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    base: PathBuf,
    counter: Arc<AtomicU64>,
}

impl Store {
    /// Open (creating if needed) a cache rooted at `root`.
    pub fn open(root: &Path) -> Result<Store, CacheError> {
        let base = root.join(LAYOUT_DIR);
        for d in ["entries", "refs", "locks", "tmp"] {
            let p = base.join(d);
            fs::create_dir_all(&p).map_err(io(&p))?;
        }
        let layout = base.join("LAYOUT");
        match fs::read_to_string(&layout) {
            Ok(s) if s.trim() == LAYOUT.to_string() => {}
            Ok(s) => {
                return Err(CacheError::Layout {
                    path: layout,
                    found: s.trim().to_string(),
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                write_atomic(&base.join("tmp"), &layout, LAYOUT.to_string().as_bytes())?;
            }
            Err(e) => return Err(io(&layout)(e)),
        }
        Ok(Store {
            root: root.to_path_buf(),
            base,
            counter: Arc::new(AtomicU64::new(0)),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn entry_dir(&self, key: &CacheKey) -> PathBuf {
        let hex = key.to_string();
        self.base.join("entries").join(&hex[..2]).join(hex)
    }

    fn tmp_dir(&self) -> PathBuf {
        let n = self.counter.fetch_add(1, Ordering::SeqCst);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        self.base
            .join("tmp")
            .join(format!("{}-{n}-{nanos}", std::process::id()))
    }

    fn read_manifest(&self, key: &CacheKey) -> Result<Option<Manifest>, CacheError> {
        let path = self.entry_dir(key).join("manifest.json");
        let text = match fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path)(e)),
        };
        let m: Manifest = serde_json::from_slice(&text).map_err(|e| CacheError::Json {
            path: path.clone(),
            message: e.to_string(),
        })?;
        if m.key != *key {
            return Err(CacheError::Json {
                path,
                message: format!("manifest is for key {}", m.key),
            });
        }
        Ok(Some(m))
    }

    /// Cheap check: manifest parses and every file exists with its recorded size.
    pub fn lookup(&self, key: &CacheKey) -> Lookup {
        let m = match self.read_manifest(key) {
            Ok(Some(m)) => m,
            Ok(None) => return Lookup::Missing,
            Err(e) => return Lookup::Corrupt(e.to_string()),
        };
        let dir = self.entry_dir(key);
        for o in &m.outputs {
            let p = dir.join(&o.file);
            match fs::metadata(&p) {
                Ok(md) if md.len() == o.bytes => {}
                Ok(md) => {
                    return Lookup::Corrupt(format!(
                        "{} has {} bytes, the manifest says {}",
                        o.file,
                        md.len(),
                        o.bytes
                    ));
                }
                Err(_) => return Lookup::Corrupt(format!("{} is missing", o.file)),
            }
        }
        Lookup::Hit(m)
    }

    /// Read an entry's tables, verifying every file's digest.
    pub fn read(&self, key: &CacheKey) -> Result<Vec<NamedTable>, CacheError> {
        let m = match self.read_manifest(key) {
            Ok(Some(m)) => m,
            Ok(None) => {
                return Err(CacheError::Corrupt {
                    key: *key,
                    reason: "manifest missing".into(),
                });
            }
            Err(e) => {
                return Err(CacheError::Corrupt {
                    key: *key,
                    reason: e.to_string(),
                });
            }
        };
        let dir = self.entry_dir(key);
        let mut out = Vec::with_capacity(m.outputs.len());
        for o in &m.outputs {
            let p = dir.join(&o.file);
            let bytes = fs::read(&p).map_err(|e| CacheError::Corrupt {
                key: *key,
                reason: format!("{}: {e}", o.file),
            })?;
            if Digest(*blake3::hash(&bytes).as_bytes()) != o.digest {
                return Err(CacheError::Corrupt {
                    key: *key,
                    reason: format!("{} does not match its recorded digest", o.file),
                });
            }
            let batch = parquet_from_bytes(bytes, &p).map_err(|e| CacheError::Corrupt {
                key: *key,
                reason: e.to_string(),
            })?;
            out.push(NamedTable::new(o.name.clone(), batch));
        }
        Ok(out)
    }

    /// Write an entry atomically. If another process wrote the same key meanwhile, its
    /// entry is kept (same key ⇒ same content) and returned.
    pub fn write(
        &self,
        key: &CacheKey,
        inputs: &KeyInputs,
        tables: &[NamedTable],
        meta: EntryMeta,
    ) -> Result<Manifest, CacheError> {
        for t in tables {
            if !valid_table_name(&t.name) {
                return Err(CacheError::TableName(t.name.clone()));
            }
        }
        let tmp = self.tmp_dir();
        fs::create_dir_all(&tmp).map_err(io(&tmp))?;
        let result = self.write_into(&tmp, key, inputs, tables, meta);
        let manifest = match result {
            Ok(m) => m,
            Err(e) => {
                let _ = fs::remove_dir_all(&tmp);
                return Err(e);
            }
        };
        let dest = self.entry_dir(key);
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(io(parent))?;
        }
        match fs::rename(&tmp, &dest) {
            Ok(()) => {
                if let Some(parent) = dest.parent()
                    && let Ok(d) = File::open(parent)
                {
                    let _ = d.sync_all();
                }
                Ok(manifest)
            }
            Err(_) if dest.exists() => {
                // Someone else won the race; theirs is complete (renames are atomic).
                let _ = fs::remove_dir_all(&tmp);
                match self.lookup(key) {
                    Lookup::Hit(m) => Ok(m),
                    _ => Ok(manifest),
                }
            }
            Err(e) => {
                let _ = fs::remove_dir_all(&tmp);
                Err(io(&dest)(e))
            }
        }
    }

    fn write_into(
        &self,
        tmp: &Path,
        key: &CacheKey,
        inputs: &KeyInputs,
        tables: &[NamedTable],
        meta: EntryMeta,
    ) -> Result<Manifest, CacheError> {
        let mut outputs = Vec::with_capacity(tables.len());
        let mut h = blake3::Hasher::new();
        for t in tables {
            let file = format!("{}.parquet", t.name);
            let path = tmp.join(&file);
            let bytes = parquet_bytes(&t.batch, &path)?;
            let digest = Digest(*blake3::hash(&bytes).as_bytes());
            let mut f = File::create(&path).map_err(io(&path))?;
            f.write_all(&bytes).map_err(io(&path))?;
            f.sync_all().map_err(io(&path))?;
            h.update(&(t.name.len() as u64).to_le_bytes());
            h.update(t.name.as_bytes());
            h.update(&digest.0);
            outputs.push(OutputFile {
                name: t.name.clone(),
                file,
                digest,
                rows: t.batch.num_rows() as u64,
                bytes: bytes.len() as u64,
                schema: t.batch.schema().to_string(),
            });
        }
        let manifest = Manifest {
            layout: LAYOUT,
            key: *key,
            inputs: inputs.clone(),
            outputs,
            output_digest: Digest(*h.finalize().as_bytes()),
            experiment: meta.experiment,
            stage: meta.stage,
            coords: meta.coords,
            engine_id: inputs.engine_id.clone(),
            engine_version: inputs.engine_version.clone(),
            duration_ms: meta.duration_ms,
            created_unix_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            warmstart_version: env!("CARGO_PKG_VERSION").to_string(),
        };
        let mpath = tmp.join("manifest.json");
        let text = serde_json::to_vec_pretty(&manifest).map_err(|e| CacheError::Json {
            path: mpath.clone(),
            message: e.to_string(),
        })?;
        let mut f = File::create(&mpath).map_err(io(&mpath))?;
        f.write_all(&text).map_err(io(&mpath))?;
        f.sync_all().map_err(io(&mpath))?;
        if let Ok(d) = File::open(tmp) {
            let _ = d.sync_all();
        }
        Ok(manifest)
    }

    /// Take the exclusive lock of a key (blocking).
    pub fn lock(&self, key: &CacheKey) -> Result<KeyLock, CacheError> {
        let p = self.base.join("locks").join(format!("{key}.lock"));
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .map_err(io(&p))?;
        f.lock().map_err(io(&p))?;
        Ok(KeyLock { _file: f })
    }

    /// Remove an entry: renamed into `tmp/` first, so it disappears atomically.
    pub fn remove(&self, key: &CacheKey) -> Result<(), CacheError> {
        let dir = self.entry_dir(key);
        if !dir.exists() {
            return Ok(());
        }
        let tmp = self.tmp_dir();
        fs::rename(&dir, &tmp).map_err(io(&dir))?;
        fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
        let _ = fs::remove_file(self.base.join("locks").join(format!("{key}.lock")));
        Ok(())
    }

    /// Every entry with its manifest (or why it cannot be read).
    #[allow(clippy::type_complexity)]
    pub fn entries(&self) -> Result<Vec<(CacheKey, Result<Manifest, CacheError>)>, CacheError> {
        let root = self.base.join("entries");
        let mut out = Vec::new();
        for shard in fs::read_dir(&root).map_err(io(&root))? {
            let shard = shard.map_err(io(&root))?.path();
            let Ok(items) = fs::read_dir(&shard) else {
                continue;
            };
            for item in items.flatten() {
                let Some(key) = item
                    .file_name()
                    .to_str()
                    .and_then(|n| n.parse::<CacheKey>().ok())
                else {
                    continue;
                };
                let m = match self.read_manifest(&key) {
                    Ok(Some(m)) => Ok(m),
                    Ok(None) => Err(CacheError::Corrupt {
                        key,
                        reason: "manifest missing".into(),
                    }),
                    Err(e) => Err(e),
                };
                out.push((key, m));
            }
        }
        out.sort_by_key(|(k, _)| *k);
        Ok(out)
    }

    /// Remember the last key of a stage instance.
    pub fn set_ref(&self, ref_id: &str, key: &CacheKey) -> Result<(), CacheError> {
        let p = self.base.join("refs").join(ref_id);
        if fs::read_to_string(&p).is_ok_and(|s| s.trim() == key.to_string()) {
            return Ok(());
        }
        write_atomic(&self.base.join("tmp"), &p, key.to_string().as_bytes())
    }

    pub fn get_ref(&self, ref_id: &str) -> Option<CacheKey> {
        fs::read_to_string(self.base.join("refs").join(ref_id))
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    /// Remove temp dirs left by processes that no longer exist. Returns how many.
    pub fn clean_tmp(&self) -> Result<usize, CacheError> {
        let tmp = self.base.join("tmp");
        let mut n = 0;
        for e in fs::read_dir(&tmp).map_err(io(&tmp))?.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let pid: Option<u32> = name.split('-').next().and_then(|p| p.parse().ok());
            let alive = pid.is_some_and(|p| {
                p == std::process::id() || Path::new(&format!("/proc/{p}")).exists()
            });
            if !alive {
                let p = e.path();
                let r = if p.is_dir() {
                    fs::remove_dir_all(&p)
                } else {
                    fs::remove_file(&p)
                };
                if r.is_ok() {
                    n += 1;
                }
            }
        }
        Ok(n)
    }
}

fn write_atomic(tmp_dir: &Path, dest: &Path, bytes: &[u8]) -> Result<(), CacheError> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let tmp = tmp_dir.join(format!("{}-f{nanos}", std::process::id()));
    let mut f = File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    fs::rename(&tmp, dest).map_err(io(dest))
}

pub fn valid_table_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Deterministic Parquet encoding: same batch ⇒ same bytes (snappy, no timestamps).
fn parquet_bytes(batch: &RecordBatch, path: &Path) -> Result<Vec<u8>, CacheError> {
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_created_by(concat!("warmstart ", env!("CARGO_PKG_VERSION")).to_string())
        .build();
    let mut buf = Vec::new();
    let err = |e: parquet::errors::ParquetError| CacheError::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut w = ArrowWriter::try_new(&mut buf, batch.schema(), Some(props)).map_err(err)?;
    w.write(batch).map_err(err)?;
    w.close().map_err(err)?;
    Ok(buf)
}

fn parquet_from_bytes(bytes: Vec<u8>, path: &Path) -> Result<RecordBatch, CacheError> {
    let err = |m: String| CacheError::Parquet {
        path: path.to_path_buf(),
        message: m,
    };
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
        .map_err(|e| err(e.to_string()))?;
    let schema = reader.schema().clone();
    let reader = reader
        .with_batch_size(64 * 1024)
        .build()
        .map_err(|e| err(e.to_string()))?;
    let batches: Vec<RecordBatch> = reader
        .collect::<Result<_, _>>()
        .map_err(|e| err(e.to_string()))?;
    arrow_select::concat::concat_batches(&schema, &batches).map_err(|e| err(e.to_string()))
}

/// Write one batch as a Parquet file (used by `export`).
pub fn write_parquet(batch: &RecordBatch, path: &Path) -> Result<(), CacheError> {
    let bytes = parquet_bytes(batch, path)?;
    fs::write(path, bytes).map_err(io(path))
}

/// Read a Parquet file into one batch.
pub fn read_parquet(path: &Path) -> Result<RecordBatch, CacheError> {
    let bytes = fs::read(path).map_err(io(path))?;
    parquet_from_bytes(bytes, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Float64Array, Int64Array, StringArray};
    use arrow_schema::{DataType, Field, Schema};

    fn batch(n: i64) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("i", DataType::Int64, false),
            Field::new("x", DataType::Float64, true),
            Field::new("s", DataType::Utf8, false),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from_iter_values(0..n)),
                Arc::new(Float64Array::from_iter(
                    (0..n).map(|i| (i % 3 != 0).then_some(i as f64 * 0.5)),
                )),
                Arc::new(StringArray::from_iter_values(
                    (0..n).map(|i| format!("r{i}")),
                )),
            ],
        )
        .unwrap()
    }

    fn inputs() -> KeyInputs {
        KeyInputs {
            kind: "k".into(),
            engine_id: "e".into(),
            engine_version: "1".into(),
            engine_extra: vec![],
            params: Default::default(),
            seed: Some(3),
            inputs: vec![],
        }
    }

    fn meta() -> EntryMeta {
        EntryMeta {
            experiment: "x".into(),
            stage: "s".into(),
            coords: vec![("a".into(), Value::Float(0.5))],
            duration_ms: 1,
        }
    }

    fn write_two(store: &Store) -> CacheKey {
        let key = inputs().key();
        let tables = vec![
            NamedTable::new("out", batch(100)),
            NamedTable::new("trace", batch(7)),
        ];
        store.write(&key, &inputs(), &tables, meta()).unwrap();
        key
    }

    #[test]
    fn roundtrip_with_several_tables() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path()).unwrap();
        let key = write_two(&store);
        let Lookup::Hit(m) = store.lookup(&key) else {
            panic!("expected a hit")
        };
        assert_eq!(m.outputs.len(), 2);
        let t = store.read(&key).unwrap();
        assert_eq!(t[0].name, "out");
        assert_eq!(t[0].batch, batch(100));
        assert_eq!(t[1].batch, batch(7));
        assert_eq!(store.entries().unwrap().len(), 1);
    }

    #[test]
    fn encoding_is_deterministic() {
        let p = Path::new("x");
        assert_eq!(
            parquet_bytes(&batch(50), p).unwrap(),
            parquet_bytes(&batch(50), p).unwrap()
        );
    }

    #[test]
    fn flipped_byte_is_corrupt_on_read_truncation_on_lookup() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path()).unwrap();
        let key = write_two(&store);
        let f = store.entry_dir(&key).join("out.parquet");
        let mut bytes = fs::read(&f).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x55;
        fs::write(&f, &bytes).unwrap();
        assert!(
            matches!(store.lookup(&key), Lookup::Hit(_)),
            "sizes still match"
        );
        assert!(matches!(store.read(&key), Err(CacheError::Corrupt { .. })));
        bytes.truncate(10);
        fs::write(&f, &bytes).unwrap();
        assert!(matches!(store.lookup(&key), Lookup::Corrupt(_)));
        store.remove(&key).unwrap();
        assert!(matches!(store.lookup(&key), Lookup::Missing));
    }

    #[test]
    fn missing_manifest_is_missing_and_garbage_manifest_is_corrupt() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path()).unwrap();
        let key = write_two(&store);
        let m = store.entry_dir(&key).join("manifest.json");
        fs::write(&m, b"{not json").unwrap();
        assert!(matches!(store.lookup(&key), Lookup::Corrupt(_)));
        fs::remove_file(&m).unwrap();
        assert!(matches!(store.lookup(&key), Lookup::Missing));
    }

    #[test]
    fn leftover_tmp_from_dead_process_is_cleaned() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path()).unwrap();
        let dead = d.path().join("v1/tmp/4000000000-0-0");
        fs::create_dir_all(&dead).unwrap();
        fs::write(dead.join("out.parquet"), b"half").unwrap();
        assert_eq!(store.clean_tmp().unwrap(), 1);
        assert!(!dead.exists());
    }

    #[test]
    fn unknown_layout_is_refused() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("v1")).unwrap();
        fs::write(d.path().join("v1/LAYOUT"), "7").unwrap();
        let e = Store::open(d.path()).unwrap_err();
        assert!(e.to_string().contains("not one this version"), "{e}");
    }

    #[test]
    fn bad_table_name_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path()).unwrap();
        let key = inputs().key();
        let r = store.write(
            &key,
            &inputs(),
            &[NamedTable::new("../x", batch(1))],
            meta(),
        );
        assert!(matches!(r, Err(CacheError::TableName(_))));
        assert!(matches!(store.lookup(&key), Lookup::Missing));
    }

    #[test]
    fn lock_is_exclusive_across_threads() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path()).unwrap();
        let key = inputs().key();
        let computed = Arc::new(AtomicU64::new(0));
        std::thread::scope(|s| {
            for _ in 0..4 {
                let (store, computed) = (store.clone(), computed.clone());
                s.spawn(move || {
                    let _l = store.lock(&key).unwrap();
                    if let Lookup::Missing = store.lookup(&key) {
                        computed.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        store
                            .write(&key, &inputs(), &[NamedTable::new("out", batch(3))], meta())
                            .unwrap();
                    }
                });
            }
        });
        assert_eq!(computed.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn refs_roundtrip() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path()).unwrap();
        let key = inputs().key();
        assert_eq!(store.get_ref("abc"), None);
        store.set_ref("abc", &key).unwrap();
        assert_eq!(store.get_ref("abc"), Some(key));
    }
}
