//! Finding and loading the ONNX Runtime shared library, lazily and without panicking.
//!
//! Search order (the first hit wins):
//! 1. `ORT_DYLIB_PATH` (a file; when set it is the only candidate, so a wrong value is an
//!    error rather than silently ignored);
//! 2. the `onnxruntime` Python package of the `python3` on `PATH`
//!    (`<package>/capi/libonnxruntime.so*`), as installed by `pip install onnxruntime==1.31.1`;
//! 3. system paths: `/usr/local/lib`, `/usr/lib`, `/usr/lib/x86_64-linux-gnu`,
//!    `/usr/lib/aarch64-linux-gnu`, `/opt/onnxruntime/lib` (`libonnxruntime.so`, or
//!    `libonnxruntime.dylib` on macOS).
//!
//! The library is loaded once per process ([`runtime`]); loading is wrapped in
//! `catch_unwind` because `ort` may panic on a broken library.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::error::OnnxError;

/// The loaded ONNX Runtime.
pub struct Runtime {
    /// The library file that was loaded.
    pub path: PathBuf,
    /// The runtime's version (`OrtGetApiBase()->GetVersionString()`, e.g. `1.31.1`).
    pub version: String,
    /// `ort::info()`: the runtime's build string (git commit, build type).
    pub build_info: String,
    /// The `ort` environment sessions are created in.
    pub env: ort::environment::Environment,
}

static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();

const SYSTEM_DIRS: &[&str] = &[
    "/usr/local/lib",
    "/usr/lib",
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/opt/onnxruntime/lib",
];

#[cfg(target_os = "macos")]
const LIB_NAME: &str = "libonnxruntime.dylib";
#[cfg(not(target_os = "macos"))]
const LIB_NAME: &str = "libonnxruntime.so";

/// Find the ONNX Runtime library (see the module docs for the order).
pub fn find_library() -> Result<PathBuf, OnnxError> {
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        return Err(OnnxError::RuntimeLoad {
            message: "ORT_DYLIB_PATH is set but is not a file".into(),
            path: p,
        });
    }
    let mut searched = vec!["ORT_DYLIB_PATH (unset)".to_string()];
    match python_package_dir() {
        Some(dir) => {
            let capi = dir.join("capi");
            if let Some(lib) = lib_in(&capi) {
                return Ok(lib);
            }
            searched.push(format!("{}/{LIB_NAME}*", capi.display()));
        }
        None => searched.push("python3 package `onnxruntime` (not importable)".into()),
    }
    for d in SYSTEM_DIRS {
        if let Some(lib) = lib_in(Path::new(d)) {
            return Ok(lib);
        }
        searched.push(format!("{d}/{LIB_NAME}*"));
    }
    Err(OnnxError::RuntimeNotFound {
        searched: searched.join(", "),
    })
}

/// The directory of the `onnxruntime` Python package of `python3`, if importable.
fn python_package_dir() -> Option<PathBuf> {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import onnxruntime,os;print(os.path.dirname(onnxruntime.__file__))",
        ])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?;
    let s = s.trim();
    (!s.is_empty()).then(|| PathBuf::from(s))
}

/// `dir/libonnxruntime.so`, else the lexically greatest `dir/libonnxruntime.so.*`.
fn lib_in(dir: &Path) -> Option<PathBuf> {
    let exact = dir.join(LIB_NAME);
    if exact.is_file() {
        return Some(exact);
    }
    let mut hits: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("{LIB_NAME}.")))
        })
        .collect();
    hits.sort();
    hits.pop()
}

fn load() -> Result<Runtime, String> {
    let path = find_library().map_err(|e| e.to_string())?;
    let p2 = path.clone();
    let loaded = std::panic::catch_unwind(move || -> Result<Runtime, OnnxError> {
        let env = ort::init_from(&p2)
            .map_err(|e| OnnxError::RuntimeLoad {
                path: p2.clone(),
                message: e.to_string(),
            })?
            .with_name("warmstart")
            .build()
            .map_err(|e| OnnxError::RuntimeLoad {
                path: p2.clone(),
                message: e.to_string(),
            })?;
        let build_info = ort::info().to_string();
        let version = version_of(&p2)?;
        Ok(Runtime {
            path: p2,
            version,
            build_info,
            env,
        })
    });
    match loaded {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err(OnnxError::RuntimeLoad {
            path,
            message: "the ONNX Runtime loader panicked".into(),
        }
        .to_string()),
    }
}

/// The version string of an (already loaded) ONNX Runtime library.
fn version_of(path: &Path) -> Result<String, OnnxError> {
    let err = |m: String| OnnxError::RuntimeLoad {
        path: path.to_path_buf(),
        message: m,
    };
    // SAFETY: the library was just loaded successfully by `ort` (dlopen is reference
    // counted); OrtGetApiBase has this signature in every ONNX Runtime release and returns
    // a pointer to a static struct whose GetVersionString returns a static C string.
    unsafe {
        let lib = libloading::Library::new(path).map_err(|e| err(e.to_string()))?;
        let get: libloading::Symbol<unsafe extern "C" fn() -> *const ort::sys::OrtApiBase> = lib
            .get(b"OrtGetApiBase")
            .map_err(|e| err(format!("no OrtGetApiBase: {e}")))?;
        let base = get();
        if base.is_null() {
            return Err(err("OrtGetApiBase returned null".into()));
        }
        let v = ((*base).GetVersionString)();
        if v.is_null() {
            return Err(err("GetVersionString returned null".into()));
        }
        let s = std::ffi::CStr::from_ptr(v).to_string_lossy().into_owned();
        // Keep the library mapped for the life of the process, like `ort` does.
        std::mem::forget(lib);
        Ok(s)
    }
}

/// The process-wide ONNX Runtime, loaded on first use. A failure is remembered: the
/// library is searched for once per process.
pub fn runtime() -> Result<&'static Runtime, OnnxError> {
    RUNTIME
        .get_or_init(load)
        .as_ref()
        .map_err(|m| OnnxError::Runtime(m.clone()))
}
