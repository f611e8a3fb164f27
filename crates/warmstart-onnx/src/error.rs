//! Errors of the onnx engine, converted to [`EngineError`] at the engine boundary.

use std::path::PathBuf;

use warmstart_engine::EngineError;

/// The install hint shown whenever the ONNX Runtime library cannot be found or loaded.
pub const ORT_HINT: &str = "install it with `pip install onnxruntime==1.31.1` (for the `python3` \
on PATH) or set ORT_DYLIB_PATH to the path of libonnxruntime.so";

/// Why an onnx-engine operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OnnxError {
    /// No ONNX Runtime shared library was found by the search (see [`crate::runtime`]).
    #[error("ONNX Runtime library not found (searched: {searched}); {hint}", hint = ORT_HINT)]
    RuntimeNotFound { searched: String },
    /// A library was found but could not be loaded.
    #[error("cannot load the ONNX Runtime library {path}: {message}; {hint}", hint = ORT_HINT)]
    RuntimeLoad { path: PathBuf, message: String },
    /// The runtime failed to load earlier in this process (the message says why).
    #[error("{0}")]
    Runtime(String),
    /// A checkpoint file is missing or unreadable.
    #[error("checkpoint file {path}: {message}")]
    CheckpointFile { path: PathBuf, message: String },
    /// The tokenizer failed.
    #[error("tokenizer {path}: {message}")]
    Tokenizer { path: PathBuf, message: String },
    /// An ONNX Runtime call failed.
    #[error("onnx runtime: {0}")]
    Ort(String),
    /// A requested execution provider cannot be used.
    #[error("execution provider: {0}")]
    Provider(String),
    /// A malformed input table.
    #[error("{0}")]
    Input(String),
}

impl From<ort::Error> for OnnxError {
    fn from(e: ort::Error) -> Self {
        OnnxError::Ort(e.to_string())
    }
}

impl From<OnnxError> for EngineError {
    fn from(e: OnnxError) -> Self {
        match e {
            OnnxError::Input(m) => EngineError::Input(m),
            other => EngineError::Failed(other.to_string()),
        }
    }
}
