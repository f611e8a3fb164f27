//! Loads warmstart engine plugins — dynamic libraries that speak
//! [`warmstart_plugin_abi`] — and exposes each as an [`Engine`].
//!
//! [`PluginEngine::load`] checks, in order, that the file exists, that it is a loadable
//! shared library, that it exports `warmstart_plugin_v1`, that its ABI version matches
//! [`ABI_VERSION`] (before any other field of its table is read), and that its metadata
//! parses as an [`EngineInfo`]. Each failure is a [`PluginError`] that names the file and
//! says what to do.
//!
//! Lifetime: the loaded library sits behind an `Arc` held by the engine *and* by every
//! Arrow array imported from it (the host wraps each array's release callback so that the
//! array keeps the library mapped until the plugin's own release has run). Dropping the
//! engine while its output tables live on in the cache is therefore safe.
//!
//! Outputs are validated before they are handed on: each table must be a well-formed
//! struct array (full Arrow validation) with a name matching `[a-z0-9_-]+`, and names must
//! be unique. A malformed table is a stage error, not undefined behaviour.
//!
//! [`Engine::key_extra`] returns the plugin file's blake3 digest, so rebuilding a plugin
//! with different code invalidates its cached outputs even if its declared version did not
//! change.

pub mod elf_check;

use std::ffi::{CStr, c_char, c_void};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use warmstart_engine::{
    Engine, EngineError, EngineInfo, NamedTable, Params, StageOutput, StageRequest,
};
use warmstart_plugin_abi::tables::{export_batch, import_batch, valid_table_name};
use warmstart_plugin_abi::wire::{self, InputDesc};
use warmstart_plugin_abi::{
    ABI_VERSION, ENTRY_SYMBOL, EntryFn, FFI_ArrowArray, FFI_ArrowSchema, PluginTable, RunOutput,
    RunRequest, WsStr, status,
};

/// The cache-key component [`PluginEngine::key_extra`] returns.
pub const KEY_DIGEST: &str = "plugin_blake3";

/// Why a plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PluginError {
    #[error(
        "plugin {path}: file not found. Build the plugin: `cargo build --release` in its crate's \
         directory (`cargo build --release -p <crate>` from inside its workspace) writes \
         `target/release/lib<crate_name>.so` (`.dylib` on macOS), under the workspace's \
         `target/` if it has one; then point the engine's `path` at that file"
    )]
    NotFound { path: PathBuf },
    #[error("plugin {path}: cannot read the file: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "plugin {path} is not a loadable shared library ({reason}). Point `path` at the \
         .so/.dylib/.dll that building a `crate-type = [\"cdylib\"]` plugin crate produces \
         (under target/<profile>/)"
    )]
    NotALibrary { path: PathBuf, reason: String },
    #[error(
        "plugin {path} is not a complete shared library: {reason}. Nothing was loaded. If it \
         was being built or copied, wait for that to finish (or rebuild it with `cargo build \
         --release -p <plugin crate>`) and try again"
    )]
    Incomplete { path: PathBuf, reason: String },
    #[error(
        "plugin {path} does not export the symbol `{ENTRY_SYMBOL}`, so it is not a warmstart \
         plugin. Plugin crates must call `warmstart_plugin_abi::export_plugin!(MyPlugin);`"
    )]
    MissingSymbol { path: PathBuf },
    #[error(
        "plugin {path} speaks plugin ABI version {found}, but this warmstart speaks version \
         {expected}. Rebuild the plugin against the warmstart-plugin-abi of this warmstart"
    )]
    AbiMismatch {
        path: PathBuf,
        found: u32,
        expected: u32,
    },
    #[error(
        "plugin {path}: its metadata (EngineInfo JSON) is invalid: {reason}. This is a bug in \
         the plugin; report it to its author"
    )]
    BadMetadata { path: PathBuf, reason: String },
}

/// The loaded library and its function table. Dropped (and the library unloaded) only when
/// the engine and every array imported from it are gone.
struct Loaded {
    table: PluginTable,
    // Declared after `table`: the fn pointers must not outlive the mapping.
    _lib: libloading::Library,
}

/// An engine implemented by a plugin library.
pub struct PluginEngine {
    loaded: Arc<Loaded>,
    info: EngineInfo,
    path: PathBuf,
    digest: String,
}

impl std::fmt::Debug for PluginEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginEngine")
            .field("path", &self.path)
            .field("id", &self.info.id)
            .field("version", &self.info.version)
            .field("digest", &self.digest)
            .finish()
    }
}

impl PluginEngine {
    /// Load the plugin at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<PluginEngine, PluginError> {
        let path = path.as_ref().to_path_buf();
        if !path.is_file() {
            return Err(PluginError::NotFound { path });
        }
        // Digest first, then load: the digest describes the code we are about to map.
        let bytes = std::fs::read(&path).map_err(|source| PluginError::Io {
            path: path.clone(),
            source,
        })?;
        let digest = blake3::hash(&bytes).to_hex().to_string();
        // A truncated library makes the loader fault (SIGBUS) instead of failing: check
        // its shape first (see `elf_check`).
        if elf_check::host_uses_elf() {
            elf_check::check_shared_library(&bytes).map_err(|r| match r {
                elf_check::Rejection::NotALibrary(reason) => PluginError::NotALibrary {
                    path: path.clone(),
                    reason,
                },
                elf_check::Rejection::Incomplete(reason) => PluginError::Incomplete {
                    path: path.clone(),
                    reason,
                },
            })?;
        }
        drop(bytes);

        // Loading a library runs its initializers; warmstart trusts the plugins an
        // experiment names, as it trusts the commands of a process stage.
        // SAFETY: see above.
        let lib = unsafe { libloading::Library::new(loader_path(&path)) }.map_err(|e| {
            PluginError::NotALibrary {
                path: path.clone(),
                reason: e.to_string(),
            }
        })?;
        // SAFETY: the symbol's type is fixed by the ABI; a library exporting something else
        // under this name is not a warmstart plugin.
        let entry: EntryFn = unsafe {
            *lib.get::<EntryFn>(ENTRY_SYMBOL.as_bytes())
                .map_err(|_| PluginError::MissingSymbol { path: path.clone() })?
        };
        // SAFETY: calling the entry point; it returns a pointer to a static table.
        let table_ptr = unsafe { entry() };
        if table_ptr.is_null() {
            return Err(PluginError::BadMetadata {
                path,
                reason: format!("`{ENTRY_SYMBOL}` returned a null table"),
            });
        }
        // Only the version is read before it is checked.
        // SAFETY: every ABI version starts its table with a u32 version.
        let found = unsafe { *table_ptr.cast::<u32>() };
        if found != ABI_VERSION {
            return Err(PluginError::AbiMismatch {
                path,
                found,
                expected: ABI_VERSION,
            });
        }
        // SAFETY: the version matches, so the layout is ours.
        let table = unsafe { *table_ptr };
        let loaded = Arc::new(Loaded { table, _lib: lib });

        // SAFETY: ABI call; the string is released by the plugin below.
        let raw = unsafe { (table.info_json)() };
        if raw.is_null() {
            return Err(PluginError::BadMetadata {
                path,
                reason: "the plugin returned no metadata (did `Plugin::info` panic?)".into(),
            });
        }
        // SAFETY: a NUL-terminated string owned by the plugin until `free_string`.
        let json = unsafe { CStr::from_ptr(raw) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: returning the plugin's own string.
        unsafe { (table.free_string)(raw) };
        let info: EngineInfo =
            serde_json::from_str(&json).map_err(|e| PluginError::BadMetadata {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        if info.id.is_empty() || info.kinds.is_empty() {
            return Err(PluginError::BadMetadata {
                path,
                reason: "an engine needs a non-empty id and at least one kind".into(),
            });
        }
        Ok(PluginEngine {
            loaded,
            info,
            path,
            digest,
        })
    }

    /// The plugin file this engine was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The blake3 digest (hex) of the plugin file, as it was when loaded.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    fn fail(&self, req: &StageRequest, what: impl std::fmt::Display) -> EngineError {
        EngineError::failed(format!(
            "plugin {} (engine `{}`, kind `{}`): {what}",
            self.path.display(),
            self.info.id,
            req.kind
        ))
    }

    /// Import the plugin's output, keeping the library alive as long as the arrays live.
    fn import_output(
        &self,
        req: &StageRequest,
        out: &mut RunOutput,
    ) -> Result<StageOutput, EngineError> {
        let mut result = StageOutput::default();
        if out.n_tables == 0 {
            return Ok(result);
        }
        if out.tables.is_null() {
            return Err(self.fail(req, "returned tables as a null pointer (a plugin bug)"));
        }
        // SAFETY: the plugin filled `tables`/`n_tables`; we only read names/schemas and move
        // arrays out; `free_output` releases the rest.
        let tables = unsafe { std::slice::from_raw_parts_mut(out.tables, out.n_tables) };
        for (i, t) in tables.iter_mut().enumerate() {
            let name = if t.name.is_null() {
                return Err(self.fail(req, format!("output table #{i} has no name (a plugin bug)")));
            } else {
                // SAFETY: a NUL-terminated string owned by the plugin.
                unsafe { CStr::from_ptr(t.name) }
                    .to_string_lossy()
                    .into_owned()
            };
            if !valid_table_name(&name) {
                return Err(self.fail(
                    req,
                    format!(
                        "output table #{i} is named {name:?}; table names must match \
                         [a-z0-9_-]+ (fix the name in the plugin)"
                    ),
                ));
            }
            if result.tables.iter().any(|x| x.name == name) {
                return Err(self.fail(
                    req,
                    format!("two output tables are named {name:?} (fix the plugin)"),
                ));
            }
            // SAFETY: moving the array out of plugin memory (C Data Interface move).
            let mut array = unsafe { FFI_ArrowArray::from_raw(&mut t.array) };
            // SAFETY: wraps the release callback; see `keep_alive_release`.
            unsafe { keep_alive(&mut array, self.loaded.clone()) };
            // SAFETY: the schema stays owned by the plugin until `free_output`.
            let batch = unsafe { import_batch(array, &t.schema) }.map_err(|e| {
                self.fail(
                    req,
                    format!(
                        "output table `{name}` is not a valid Arrow table: {e}. This is a bug \
                         in the plugin; report it to its author"
                    ),
                )
            })?;
            result.tables.push(NamedTable::new(name, batch));
        }
        Ok(result)
    }
}

/// What the wrapped release callback needs: the plugin's own callback and data, and the
/// library handle that keeps that callback's code mapped.
struct KeepAlive {
    release: Option<unsafe extern "C" fn(*mut FFI_ArrowArray)>,
    private_data: *mut c_void,
    _lib: Arc<Loaded>,
}

/// Make `array` hold a reference to the library until it is released.
///
/// # Safety
/// `array` must be a live (unreleased, or released with a null callback) C Data array.
unsafe fn keep_alive(array: &mut FFI_ArrowArray, lib: Arc<Loaded>) {
    if array.is_released() {
        return;
    }
    let ka = Box::new(KeepAlive {
        release: array.release(),
        private_data: array.private_data(),
        _lib: lib,
    });
    // SAFETY: `keep_alive_release` restores the producer's callback and data, then chains.
    unsafe {
        array.set_private_data(Box::into_raw(ka).cast());
        array.set_release(Some(keep_alive_release));
    }
}

unsafe extern "C" fn keep_alive_release(array: *mut FFI_ArrowArray) {
    if array.is_null() {
        return;
    }
    // SAFETY: `array` is the struct `keep_alive` wrapped, its private data our box.
    unsafe {
        let a = &mut *array;
        let ka = Box::from_raw(a.private_data().cast::<KeepAlive>());
        a.set_private_data(ka.private_data);
        a.set_release(ka.release);
        if let Some(release) = ka.release {
            release(array);
        }
        // Per the C Data Interface the producer's release marks the array released.
        a.set_release(None);
        drop(ka); // may unload the library; its code is no longer on the stack
    }
}

/// Read and release a plugin-owned error string.
fn take_error(out: &RunOutput) -> String {
    if out.error.is_null() {
        "(no message)".into()
    } else {
        // SAFETY: a NUL-terminated string owned by the plugin until `free_output`.
        unsafe { CStr::from_ptr(out.error as *const c_char) }
            .to_string_lossy()
            .into_owned()
    }
}

impl Engine for PluginEngine {
    fn info(&self) -> &EngineInfo {
        &self.info
    }

    fn run(&self, req: &StageRequest) -> Result<StageOutput, EngineError> {
        if self.info.kind(&req.kind).is_none() {
            return Err(self.fail(req, "the plugin does not declare this kind"));
        }
        // Export inputs.
        let mut descs = Vec::with_capacity(req.inputs.len());
        let mut arrays: Vec<FFI_ArrowArray> = Vec::new();
        let mut schemas: Vec<FFI_ArrowSchema> = Vec::new();
        for input in &req.inputs {
            for t in &input.tables {
                let (a, s) = export_batch(&t.batch).map_err(|e| {
                    EngineError::Input(format!(
                        "exporting table `{}` of `{}`: {e}",
                        t.name, input.stage
                    ))
                })?;
                arrays.push(a);
                schemas.push(s);
            }
            descs.push(InputDesc {
                stage: input.stage.clone(),
                coords: wire::coords_to_json(&input.coords),
                tables: input.tables.iter().map(|t| t.name.clone()).collect(),
            });
        }
        let params_json = wire::params_to_json(&req.params);
        let coords_json = wire::coords_to_json(&req.coords).to_string();
        let inputs_json = serde_json::to_string(&descs)
            .map_err(|e| EngineError::failed(format!("encoding inputs: {e}")))?;
        let path_str = |p: &Option<PathBuf>| {
            p.as_ref()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let scratch = path_str(&req.scratch_dir);
        let base = path_str(&req.base_dir);
        let request = RunRequest {
            kind: WsStr::new(&req.kind),
            stage: WsStr::new(&req.stage),
            params_json: WsStr::new(&params_json),
            coords_json: WsStr::new(&coords_json),
            inputs_json: WsStr::new(&inputs_json),
            scratch_dir: WsStr::new(&scratch),
            base_dir: WsStr::new(&base),
            seed: req.seed,
            threads: req.threads as u64,
            n_tables: arrays.len(),
            arrays: arrays.as_mut_ptr(),
            schemas: schemas.as_ptr(),
        };
        let mut out = RunOutput::empty();
        let table = &self.loaded.table;
        // SAFETY: the request and everything it points to outlive the call; `out` is ours.
        let code = unsafe { (table.run)(&request, &mut out) };
        // Whatever the plugin did not move out is released here (host-side callbacks).
        drop(arrays);
        drop(schemas);
        let result = match code {
            status::OK => self.import_output(req, &mut out),
            status::ENGINE_ERROR => Err(match wire::error_from_json(&take_error(&out)) {
                EngineError::Param { name, message } => EngineError::Param {
                    name,
                    message: format!(
                        "{message} (rejected by plugin {}; fix the param in the experiment file)",
                        self.path.display()
                    ),
                },
                EngineError::Failed(m) => self.fail(req, m),
                EngineError::Input(m) => {
                    EngineError::Input(format!("{m} (reported by plugin {})", self.path.display()))
                }
                EngineError::Cancelled => EngineError::Cancelled,
                // A kind of error added later: say which plugin reported it.
                other => self.fail(req, other.to_string()),
            }),
            status::PANIC => Err(self.fail(
                req,
                format!(
                    "the plugin panicked: {}. This is a bug in the plugin; report it to its \
                     author",
                    take_error(&out)
                ),
            )),
            status::BAD_REQUEST => Err(self.fail(
                req,
                format!(
                    "the plugin could not decode the request: {}. Check that the plugin was \
                     built against this warmstart's warmstart-plugin-abi",
                    take_error(&out)
                ),
            )),
            other => Err(self.fail(
                req,
                format!("unknown status code {other}: {}", take_error(&out)),
            )),
        };
        // SAFETY: hands back everything the plugin allocated for this call.
        unsafe { (table.free_output)(&mut out) };
        result
    }

    fn key_extra(&self, _params: &Params) -> Result<Vec<(String, String)>, EngineError> {
        Ok(vec![(KEY_DIGEST.to_string(), self.digest.clone())])
    }
}

/// The name to hand the dynamic loader for `path`: a bare file name (`t.so`) would make
/// `dlopen` search the system library path instead of opening the file we checked, so a
/// relative path always gets a directory (`./t.so`).
fn loader_path(path: &Path) -> PathBuf {
    let has_dir = path.parent().is_some_and(|p| !p.as_os_str().is_empty());
    if path.is_relative() && !has_dir {
        Path::new(".").join(path)
    } else {
        path.to_path_buf()
    }
}

/// Resolve the `path` an experiment gives for a plugin.
///
/// A relative path is relative to `base_dir` (the experiment file's directory). If the
/// resulting file does not exist and its name has no extension, the platform's library
/// naming is tried in the same directory, so an experiment can say
/// `path = "target/release/warmstart_plugin_ridge"` on every OS (→ `libwarmstart_plugin_ridge.so`
/// on Linux, `.dylib` on macOS, `warmstart_plugin_ridge.dll` on Windows). The result is
/// returned even if nothing exists, so that [`PluginEngine::load`] reports it.
pub fn resolve_plugin_path(base_dir: Option<&Path>, declared: impl AsRef<Path>) -> PathBuf {
    use std::env::consts::{DLL_PREFIX, DLL_SUFFIX};
    let declared = declared.as_ref();
    let path = match base_dir {
        Some(b) if declared.is_relative() => b.join(declared),
        _ => declared.to_path_buf(),
    };
    if path.exists() || path.extension().is_some() {
        return path;
    }
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return path;
    };
    let candidates = [
        path.with_file_name(format!("{DLL_PREFIX}{name}{DLL_SUFFIX}")),
        path.with_file_name(format!("{name}{DLL_SUFFIX}")),
    ];
    candidates.into_iter().find(|c| c.is_file()).unwrap_or(path)
}

/// A human-readable description of the plugin at `path` (for `warmstart plugins check`):
/// loads it with every check [`PluginEngine::load`] does and lists its kinds and params.
pub fn describe(path: impl AsRef<Path>) -> Result<String, PluginError> {
    use std::fmt::Write;
    let e = PluginEngine::load(path)?;
    let mut s = String::new();
    let _ = writeln!(s, "plugin  {}", e.path.display());
    let _ = writeln!(s, "blake3  {}", e.digest);
    let _ = writeln!(s, "abi     v{ABI_VERSION}");
    let _ = writeln!(s, "engine  {} (version {})", e.info.id, e.info.version);
    for k in &e.info.kinds {
        let det = serde_json::to_value(k.determinism)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let _ = writeln!(s, "\nkind `{}` ({det}): {}", k.name, k.doc);
        let max = k.max_inputs.map_or("any".to_string(), |m| m.to_string());
        let _ = writeln!(s, "  inputs: {}..{max}", k.min_inputs);
        for p in &k.params {
            let default = p
                .default
                .as_ref()
                .map_or("required".to_string(), |d| format!("default {d}"));
            let _ = writeln!(s, "  {} : {} ({default}) — {}", p.name, p.ty.name(), p.doc);
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loader_never_gets_a_bare_file_name() {
        assert_eq!(loader_path(Path::new("t.so")), Path::new("./t.so"));
        assert_eq!(loader_path(Path::new("d/t.so")), Path::new("d/t.so"));
        assert_eq!(loader_path(Path::new("/abs/t.so")), Path::new("/abs/t.so"));
    }
}
