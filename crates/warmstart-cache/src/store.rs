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
//!   [`Store::clean_tmp`] removes once its process is gone. Writing is split in two:
//!   [`Store::prepare`] (encode, digest, manifest; no file system) and [`Store::commit`]
//!   (the steps above), so a scheduler can hand the outputs on before they are on disk.
//! - **Verified reads.** The manifest records every file's size and blake3 digest;
//!   [`Store::lookup`] checks sizes (cheap, for no-op re-runs), [`Store::read`] checks
//!   digests and reports [`CacheError::Corrupt`].
//! - **Per-key locks.** [`Store::lock`] takes an exclusive cross-process lock
//!   (`flock`-style, released by the OS if the process dies), so concurrent runs compute
//!   each key once.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use warmstart_engine::{NamedTable, Value};

use crate::index::Index;
use crate::key::{CacheKey, Digest, KeyInputs};
use crate::nofollow;
use crate::parquet_io::{parquet_bytes, parquet_from_bytes};
pub use crate::parquet_io::{read_parquet, write_parquet};

/// The layout version this build reads and writes.
pub const LAYOUT: u32 = 1;
const LAYOUT_DIR: &str = "v1";

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cache entry {key} is corrupt: {reason}")]
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
    #[error("two output tables are named `{0}`: table names must be unique within a stage")]
    DuplicateTable(String),
    #[error("invalid ref id `{0}`: use lowercase letters, digits, `_` and `-`")]
    RefId(String),
    #[error(
        "{path} {what}: warmstart never follows symbolic links inside its cache (it deletes files there); move it away, or use another --cache directory"
    )]
    Unsafe { path: PathBuf, what: String },
}

pub(crate) fn unsafe_path(path: &Path) -> impl FnOnce(String) -> CacheError + '_ {
    move |what| CacheError::Unsafe {
        path: path.to_path_buf(),
        what,
    }
}

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CacheError + '_ {
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
    #[serde(with = "crate::value_json::pairs")]
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
    pub(crate) base: PathBuf,
    counter: Arc<AtomicU64>,
    pub(crate) index: Arc<Index>,
    /// Opened for reading where no cache exists: nothing is on disk, and nothing is
    /// created (see [`Store::open_for_reading`]).
    absent: bool,
}

/// The directories under `ROOT/v1` that the store creates and checks.
const INTERNAL_DIRS: [&str; 5] = ["entries", "refs", "locks", "tmp", "quarantine"];

impl Store {
    /// Open (creating if needed) a cache rooted at `root`.
    pub fn open(root: &Path) -> Result<Store, CacheError> {
        let base = root.join(LAYOUT_DIR);
        fs::create_dir_all(root).map_err(io(root))?;
        nofollow::ensure_dir(&base).map_err(unsafe_path(&base))?;
        for d in INTERNAL_DIRS {
            let p = base.join(d);
            nofollow::ensure_dir(&p).map_err(unsafe_path(&p))?;
        }
        let layout = base.join("LAYOUT");
        match nofollow::read(&layout) {
            Ok(s) if String::from_utf8_lossy(&s).trim() == LAYOUT.to_string() => {}
            Ok(s) => {
                return Err(CacheError::Layout {
                    path: layout,
                    found: String::from_utf8_lossy(&s).trim().to_string(),
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                write_atomic(
                    &base.join("tmp"),
                    &layout,
                    LAYOUT.to_string().as_bytes(),
                    true,
                )?;
            }
            Err(e) => return Err(io(&layout)(e)),
        }
        Ok(Store {
            root: root.to_path_buf(),
            index: Arc::new(Index::new(&base)),
            base,
            counter: Arc::new(AtomicU64::new(0)),
            absent: false,
        })
    }

    /// Open the cache at `root` for a command that only reads it (`show`, `plan`,
    /// `export` …). An existing cache is opened as [`Store::open`] opens it (checked the
    /// same way). A missing one — `root/v1` does not exist — is **not created**: the store
    /// reads as empty (every lookup misses, no refs, no entries, no run records), and any
    /// write to it fails, because every directory the store writes into is created one
    /// level at a time below `root/v1`. So a read-only command never leaves a `cache/`
    /// directory behind (a mistyped `--cache` must not become a new, empty cache).
    pub fn open_for_reading(root: &Path) -> Result<Store, CacheError> {
        let base = root.join(LAYOUT_DIR);
        match fs::symlink_metadata(&base) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Store {
                root: root.to_path_buf(),
                index: Arc::new(Index::new(&base)),
                base,
                counter: Arc::new(AtomicU64::new(0)),
                absent: true,
            }),
            // Anything else (a cache, a symlink, a file, an unreadable parent): what
            // `open` says about it.
            _ => Store::open(root),
        }
    }

    /// Whether this store was opened for reading where no cache exists
    /// ([`Store::open_for_reading`]): it reads as empty.
    pub fn is_absent(&self) -> bool {
        self.absent
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Refuse to use an internal directory that is (now) a symlink or not a directory.
    pub(crate) fn internal_dir(&self, name: &str) -> Result<PathBuf, CacheError> {
        let p = self.base.join(name);
        match nofollow::check_dir(&p) {
            Ok(true) => Ok(p),
            Ok(false) => Err(unsafe_path(&p)("is missing".into())),
            Err(what) => Err(unsafe_path(&p)(what)),
        }
    }

    /// Whether a key's entry directory exists (`Ok(false)`: a miss, found with one
    /// `lstat`), or why it (or its shard) cannot be trusted.
    fn entry_dir_state(dir: &Path) -> Result<bool, String> {
        let shard = dir.parent().unwrap_or(dir);
        for p in [dir, shard] {
            match nofollow::check_dir(p) {
                Ok(true) => {}
                Ok(false) => return Ok(false),
                Err(what) => return Err(format!("{} {what}", p.display())),
            }
        }
        Ok(true)
    }

    pub(crate) fn entry_dir(&self, key: &CacheKey) -> PathBuf {
        self.entry_path(key, None)
    }

    /// `entries/xx/<key>[/file]` built in one allocation (a plan or no-op run builds one
    /// per instance; `Path::join` three times cost a tenth of planning a 1M sweep).
    pub(crate) fn entry_path(&self, key: &CacheKey, file: Option<&str>) -> PathBuf {
        let hex = key.to_string();
        let base = self.base.as_os_str();
        let mut p = std::ffi::OsString::with_capacity(base.len() + 96);
        p.push(base);
        p.push("/entries/");
        p.push(hex.get(..2).unwrap_or_default());
        p.push("/");
        p.push(&hex);
        if let Some(f) = file {
            p.push("/");
            p.push(f);
        }
        PathBuf::from(p)
    }

    pub(crate) fn tmp_dir(&self) -> PathBuf {
        let n = self.counter.fetch_add(1, Ordering::SeqCst);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        self.base
            .join("tmp")
            .join(format!("{}-{n}-{nanos}", std::process::id()))
    }

    fn read_manifest(&self, key: &CacheKey) -> Result<Option<Manifest>, CacheError> {
        let path = self.entry_path(key, Some("manifest.json"));
        match Store::entry_dir_state(path.parent().unwrap_or(&path)) {
            Ok(true) => {}
            Ok(false) => return Ok(None),
            Err(problem) => {
                return Err(CacheError::Json {
                    path,
                    message: problem,
                });
            }
        }
        let text = match nofollow::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path)(e)),
        };
        let m: Manifest = serde_json::from_slice(&text).map_err(|e| CacheError::Json {
            path: path.clone(),
            message: e.to_string(),
        })?;
        if let Err(message) = check_manifest(&m, key) {
            return Err(CacheError::Json { path, message });
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
            match fs::symlink_metadata(&p) {
                Ok(md) if !md.is_file() => {
                    return Lookup::Corrupt(format!("{} is not a regular file", o.file));
                }
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

    /// Read an entry's tables, verifying every file's digest. Tables come in manifest
    /// order, each as one batch.
    pub fn read(&self, key: &CacheKey) -> Result<Vec<NamedTable>, CacheError> {
        let (m, files) = self.verified(key)?;
        let dir = self.entry_dir(key);
        let mut out = Vec::with_capacity(m.outputs.len());
        for (o, bytes) in m.outputs.iter().zip(files) {
            let p = dir.join(&o.file);
            let batch = parquet_from_bytes(bytes, &p).map_err(|e| CacheError::Corrupt {
                key: *key,
                reason: e.to_string(),
            })?;
            out.push(NamedTable::new(o.name.clone(), batch));
        }
        Ok(out)
    }

    /// Full check of an entry: the manifest parses and every file matches its recorded
    /// digest. Reads every file (unlike [`Store::lookup`]).
    pub fn verify(&self, key: &CacheKey) -> Result<Manifest, CacheError> {
        self.verified(key).map(|(m, _)| m)
    }

    /// The manifest and the verified bytes of each output file, in manifest order.
    fn verified(&self, key: &CacheKey) -> Result<(Manifest, Vec<Vec<u8>>), CacheError> {
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
        let mut files = Vec::with_capacity(m.outputs.len());
        for o in &m.outputs {
            let p = dir.join(&o.file);
            let bytes = nofollow::read(&p).map_err(|e| CacheError::Corrupt {
                key: *key,
                reason: format!("{}: {e}", p.display()),
            })?;
            if Digest(*blake3::hash(&bytes).as_bytes()) != o.digest {
                return Err(CacheError::Corrupt {
                    key: *key,
                    reason: format!("{} does not match its recorded digest", p.display()),
                });
            }
            files.push(bytes);
        }
        Ok((m, files))
    }

    /// Write an entry atomically. If another process wrote the same key meanwhile, its
    /// entry is kept (same key ⇒ same content) and returned. [`Store::prepare`] followed by
    /// [`Store::commit`].
    pub fn write(
        &self,
        key: &CacheKey,
        inputs: &KeyInputs,
        tables: &[NamedTable],
        meta: EntryMeta,
    ) -> Result<Manifest, CacheError> {
        let prepared = self.prepare(key, inputs, tables, meta)?;
        self.commit(prepared)
    }

    /// Everything of an entry that needs no file system: table names checked, Parquet
    /// encoded, digests and the manifest computed. The output digest is known from here on,
    /// so a scheduler can release downstream stages before the entry is on disk.
    pub fn prepare(
        &self,
        key: &CacheKey,
        inputs: &KeyInputs,
        tables: &[NamedTable],
        meta: EntryMeta,
    ) -> Result<PreparedEntry, CacheError> {
        let mut files = Vec::with_capacity(tables.len());
        let mut outputs = Vec::with_capacity(tables.len());
        for (i, t) in tables.iter().enumerate() {
            if !valid_table_name(&t.name) {
                return Err(CacheError::TableName(t.name.clone()));
            }
            if tables[..i].iter().any(|u| u.name == t.name) {
                return Err(CacheError::DuplicateTable(t.name.clone()));
            }
            let file = format!("{}.parquet", t.name);
            let bytes = parquet_bytes(&t.batch, Path::new(&file))?;
            outputs.push(OutputFile {
                name: t.name.clone(),
                file: file.clone(),
                digest: Digest(*blake3::hash(&bytes).as_bytes()),
                rows: t.batch.num_rows() as u64,
                bytes: bytes.len() as u64,
                schema: t.batch.schema().to_string(),
            });
            files.push((file, bytes));
        }
        let manifest = Manifest {
            layout: LAYOUT,
            key: *key,
            inputs: inputs.clone(),
            output_digest: output_digest(&outputs),
            outputs,
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
        Ok(PreparedEntry { manifest, files })
    }

    /// Put a prepared entry on disk atomically: assembled in `tmp/`, every file fsynced,
    /// the manifest last, the directory fsynced, renamed into `entries/`, the parent
    /// fsynced. If another writer committed the same key meanwhile, its entry is kept.
    pub fn commit(&self, prepared: PreparedEntry) -> Result<Manifest, CacheError> {
        let PreparedEntry { manifest, files } = prepared;
        let key = manifest.key;
        self.internal_dir("tmp")?;
        let tmp = self.tmp_dir();
        fs::create_dir(&tmp).map_err(io(&tmp))?;
        if let Err(e) = write_entry_files(&tmp, &manifest, &files) {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
        let dest = self.entry_dir(&key);
        if let Some(parent) = dest.parent()
            && let Err(what) = nofollow::ensure_dir(parent)
        {
            let _ = fs::remove_dir_all(&tmp);
            return Err(unsafe_path(parent)(what));
        }
        // Two attempts: the second after moving a corrupt existing entry out of the way.
        for attempt in 0..2 {
            match fs::rename(&tmp, &dest) {
                Ok(()) => {
                    if let Some(parent) = dest.parent()
                        && let Ok(d) = File::open(parent)
                    {
                        let _ = d.sync_all();
                    }
                    self.index_entry(&key, &manifest);
                    return Ok(manifest);
                }
                Err(_) if dest.exists() => {
                    // Another writer won the race (renames are atomic, so theirs is
                    // complete): same key, same content, keep theirs. Unless it is a
                    // corrupt leftover, which ours replaces.
                    if let Ok(m) = self.verify(&key) {
                        let _ = fs::remove_dir_all(&tmp);
                        return Ok(m);
                    }
                    if attempt == 0 {
                        let _ = self.remove(&key);
                    }
                }
                Err(e) => {
                    let _ = fs::remove_dir_all(&tmp);
                    return Err(io(&dest)(e));
                }
            }
        }
        let _ = fs::remove_dir_all(&tmp);
        Err(CacheError::Corrupt {
            key,
            reason: format!(
                "{} exists but is not a valid entry and could not be replaced; delete it",
                dest.display()
            ),
        })
    }

    /// Take the exclusive lock of a key (blocking).
    pub fn lock(&self, key: &CacheKey) -> Result<KeyLock, CacheError> {
        // A blocking `take` never reports "held by another", so `None` cannot happen.
        self.lock_with(key, |f| f.lock().map(|()| true))?
            .ok_or_else(|| CacheError::Io {
                path: self.base.join("locks"),
                source: std::io::Error::other("lock not taken"),
            })
    }

    /// Take the lock of a key if no one holds it; `None` if someone does.
    pub fn try_lock(&self, key: &CacheKey) -> Result<Option<KeyLock>, CacheError> {
        self.lock_with(key, |f| match f.try_lock() {
            Ok(()) => Ok(true),
            Err(std::fs::TryLockError::WouldBlock) => Ok(false),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        })
    }

    /// Open the key's lock file and lock it with `take` (`Ok(false)`: held by another).
    /// After locking, the path must still name the file locked: `gc` unlinks idle lock
    /// files (holding their lock), and a process that opened the file just before that
    /// would otherwise hold a lock on a nameless file while others lock the new one.
    fn lock_with(
        &self,
        key: &CacheKey,
        take: impl Fn(&File) -> std::io::Result<bool>,
    ) -> Result<Option<KeyLock>, CacheError> {
        let p = self.internal_dir("locks")?.join(format!("{key}.lock"));
        // Each retry means gc removed the file in between: a handful at most.
        for _ in 0..100 {
            let f = nofollow::open_lock(&p).map_err(io(&p))?;
            if !take(&f).map_err(io(&p))? {
                return Ok(None);
            }
            if same_file(&p, &f) {
                return Ok(Some(KeyLock { _file: f }));
            }
        }
        Err(io(&p)(std::io::Error::other(
            "the lock file keeps being replaced while locking it",
        )))
    }

    /// Remove an entry: renamed into `tmp/` first, so it disappears atomically. Removing a
    /// missing entry is not an error.
    pub fn remove(&self, key: &CacheKey) -> Result<(), CacheError> {
        let dir = self.entry_dir(key);
        if let Some(shard) = dir.parent() {
            // Renaming through a symlinked shard would move files from outside the cache.
            nofollow::check_dir(shard).map_err(unsafe_path(shard))?;
        }
        if fs::symlink_metadata(&dir).is_err() {
            return Ok(());
        }
        self.internal_dir("tmp")?;
        let tmp = self.tmp_dir();
        fs::rename(&dir, &tmp).map_err(io(&dir))?;
        fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
        // The lock file stays: deleting it while another process waits on it would let a
        // third process lock a fresh file with the same name, and both would compute.
        Ok(())
    }

    /// Every entry with its manifest (or why it cannot be read).
    #[allow(clippy::type_complexity)]
    pub fn entries(&self) -> Result<Vec<(CacheKey, Result<Manifest, CacheError>)>, CacheError> {
        if self.absent {
            return Ok(Vec::new());
        }
        let root = self.internal_dir("entries")?;
        let mut out = Vec::new();
        for shard in fs::read_dir(&root).map_err(io(&root))? {
            let shard = shard.map_err(io(&root))?.path();
            match nofollow::check_dir(&shard) {
                Ok(_) => {}
                // Stray files are not entries; a symlinked shard must not be walked.
                Err(what) if what.contains("not a directory") => continue,
                Err(what) => return Err(unsafe_path(&shard)(what)),
            }
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

    /// Remove temp dirs and files left by killed runs. Returns how many.
    ///
    /// Temp names start with the writer's pid (`tmp/<pid>-…`). An item is stale when that
    /// process no longer exists (checked through `/proc/<pid>`; where there is no `/proc`,
    /// or the name carries no pid, when it is older than an hour).
    pub fn clean_tmp(&self) -> Result<usize, CacheError> {
        let tmp = self.internal_dir("tmp")?;
        let have_proc = Path::new("/proc/self").exists();
        let mut n = 0;
        for e in fs::read_dir(&tmp).map_err(io(&tmp))?.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let pid: Option<u32> = name.split('-').next().and_then(|p| p.parse().ok());
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age.as_secs() > 3600);
            let stale = match pid {
                Some(p) if p == std::process::id() => false,
                Some(p) if have_proc => !Path::new(&format!("/proc/{p}")).exists(),
                _ => old,
            };
            if stale {
                let p = e.path();
                // `file_type` does not follow symlinks, and `remove_dir_all` removes a
                // symlink itself, never what it points to.
                let r = if e.file_type().is_ok_and(|t| t.is_dir()) {
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

/// Whether `path` (not followed) is the file `f` has open.
fn same_file(path: &Path, f: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::symlink_metadata(path), f.metadata()) {
        (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
        _ => false,
    }
}

/// Write `dest` by a rename from `tmp_dir`; `durable`: fsync the file first.
pub(crate) fn write_atomic(
    tmp_dir: &Path,
    dest: &Path,
    bytes: &[u8],
    durable: bool,
) -> Result<(), CacheError> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let tmp = tmp_dir.join(format!("{}-f{nanos}", std::process::id()));
    let mut f = File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    if durable {
        f.sync_all().map_err(io(&tmp))?;
    }
    fs::rename(&tmp, dest).map_err(io(dest))
}

/// An entry encoded in memory, not yet on disk ([`Store::prepare`] → [`Store::commit`]).
pub struct PreparedEntry {
    manifest: Manifest,
    /// (file name, bytes) per output table.
    files: Vec<(String, Vec<u8>)>,
}

impl PreparedEntry {
    /// The manifest the entry will have (its output digest is final).
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }
}

/// Write an entry's files into `dir`, each fsynced, the manifest last, then fsync `dir`.
fn write_entry_files(
    dir: &Path,
    manifest: &Manifest,
    files: &[(String, Vec<u8>)],
) -> Result<(), CacheError> {
    for (name, bytes) in files {
        let path = dir.join(name);
        let mut f = File::create(&path).map_err(io(&path))?;
        f.write_all(bytes).map_err(io(&path))?;
        f.sync_all().map_err(io(&path))?;
    }
    let mpath = dir.join("manifest.json");
    let text = serde_json::to_vec_pretty(manifest).map_err(|e| CacheError::Json {
        path: mpath.clone(),
        message: e.to_string(),
    })?;
    let mut f = File::create(&mpath).map_err(io(&mpath))?;
    f.write_all(&text).map_err(io(&mpath))?;
    f.sync_all().map_err(io(&mpath))?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Whether `name` is a valid output table name (`[a-z0-9_-]+`).
pub fn valid_table_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// The digest of an entry's outputs, which downstream keys depend on: blake3 over, per
/// table in order, its name (u64 LE length prefix, then UTF-8) and its file's 32-byte
/// digest. Each item parses unambiguously, so different output lists never share an
/// encoding. (Changing this changes every downstream key: bump the layout.)
pub fn output_digest(outputs: &[OutputFile]) -> Digest {
    let mut h = blake3::Hasher::new();
    for o in outputs {
        h.update(&(o.name.len() as u64).to_le_bytes());
        h.update(o.name.as_bytes());
        h.update(&o.digest.0);
    }
    Digest(*h.finalize().as_bytes())
}

/// Checks on a parsed manifest that keep bad data from escaping the entry directory or
/// passing as another key's entry.
fn check_manifest(m: &Manifest, key: &CacheKey) -> Result<(), String> {
    if m.layout != LAYOUT {
        return Err(format!("layout {} (expected {LAYOUT})", m.layout));
    }
    if m.key != *key {
        return Err(format!("manifest is for key {}", m.key));
    }
    for (i, o) in m.outputs.iter().enumerate() {
        if !valid_table_name(&o.name) || o.file != format!("{}.parquet", o.name) {
            return Err(format!("invalid output `{}` in file `{}`", o.name, o.file));
        }
        if m.outputs[..i].iter().any(|p| p.name == o.name) {
            return Err(format!("output `{}` listed twice", o.name));
        }
    }
    if output_digest(&m.outputs) != m.output_digest {
        return Err("output digest does not match the listed outputs".into());
    }
    Ok(())
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
