//! The `onnx` engine: weak-to-strong generalization on LLM checkpoints.
//!
//! Kinds:
//! - [`dataset`]: pairwise preference data (JSONL / Parquet) → `id, prompt, chosen, rejected`;
//! - [`embed`]: last-token hidden states of an ONNX-exported checkpoint (ONNX Runtime);
//! - [`head`] (`reward-head`): a linear reward head on frozen embeddings, hard or soft labels,
//!   losses bce / reverse-bce / aux-confidence;
//! - [`probe`]: per-layer logistic probes of the preference;
//! - [`correlate`]: Pearson / Spearman statistics across a sweep, with bootstrap intervals;
//! - [`pgr`]: performance gap recovered, with paired bootstrap intervals over test pairs.
//!
//! [`bootstrap`] holds the resampling, id alignment and percentile intervals those two share.
//!
//! ONNX Runtime is a shared library loaded lazily on the first `embed` (or its cache key):
//! constructing [`OnnxEngine`] never fails, and a missing library is a stage error that says
//! how to install it (see [`runtime`]).

pub mod bootstrap;
pub mod correlate;
pub mod dataset;
pub mod embed;
pub mod error;
pub mod head;
pub mod linear;
pub mod pgr;
pub mod probe;
pub mod runtime;
pub mod tables;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use warmstart_engine::{Engine, EngineError, EngineInfo, Params, StageOutput, StageRequest, Value};

pub use error::OnnxError;

/// Bump when any kind's output could change for the same inputs (0.1.1: one-pass feature
/// standard deviations in `reward-head` and `probe`, last bits may differ).
pub const ONNX_ENGINE_VERSION: &str = "0.1.1";

const KINDS: &warmstart_engine::KindTable = &[
    (dataset::spec, dataset::run),
    (embed::spec, embed::run),
    (head::spec, head::run),
    (probe::spec, probe::run),
    (correlate::spec, correlate::run),
    (pgr::spec, pgr::run),
];

/// Resolve a path param against the experiment directory.
pub fn resolve(base: Option<&Path>, p: &str) -> PathBuf {
    let p = Path::new(p);
    match base {
        Some(b) if p.is_relative() => b.join(p),
        _ => p.to_path_buf(),
    }
}

type DigestKey = (PathBuf, u64, Option<SystemTime>);

/// The engine, id `onnx`.
pub struct OnnxEngine {
    info: EngineInfo,
    base_dir: Option<PathBuf>,
    /// File digests by (path, size, mtime): checkpoints can be large.
    digests: Mutex<HashMap<DigestKey, String>>,
}

impl OnnxEngine {
    /// The engine; relative paths in `key_extra` resolve against the current directory.
    /// Never fails: ONNX Runtime is loaded on first use.
    pub fn new() -> Self {
        OnnxEngine {
            info: EngineInfo {
                id: "onnx".into(),
                version: ONNX_ENGINE_VERSION.into(),
                kinds: warmstart_engine::kind_specs(KINDS),
            },
            base_dir: None,
            digests: Mutex::new(HashMap::new()),
        }
    }

    /// The engine, resolving relative `checkpoint` / `path` params in `key_extra` against
    /// `dir` (the experiment file's directory).
    pub fn with_base_dir(dir: impl Into<PathBuf>) -> Self {
        OnnxEngine {
            base_dir: Some(dir.into()),
            ..Self::new()
        }
    }

    fn digest(&self, path: &Path, param: &str) -> Result<String, EngineError> {
        let meta = std::fs::metadata(path).map_err(|e| {
            EngineError::param(
                param,
                format!(
                    "cannot read {}: {e} (relative paths are relative to the experiment file)",
                    path.display()
                ),
            )
        })?;
        let key = (path.to_path_buf(), meta.len(), meta.modified().ok());
        if let Ok(m) = self.digests.lock()
            && let Some(d) = m.get(&key)
        {
            return Ok(d.clone());
        }
        let d = embed::file_digest(path).map_err(|e| EngineError::param(param, e.to_string()))?;
        if let Ok(mut m) = self.digests.lock() {
            m.insert(key, d.clone());
        }
        Ok(d)
    }
}

impl Default for OnnxEngine {
    fn default() -> Self {
        Self::new()
    }
}

impl Engine for OnnxEngine {
    fn info(&self) -> &EngineInfo {
        &self.info
    }

    fn run(&self, request: &StageRequest) -> Result<StageOutput, EngineError> {
        if request.base_dir.is_none() && self.base_dir.is_some() {
            let mut r = request.clone();
            r.base_dir = self.base_dir.clone();
            return warmstart_engine::dispatch(&self.info.id, KINDS, &r);
        }
        warmstart_engine::dispatch(&self.info.id, KINDS, request)
    }

    /// `embed` (has `checkpoint`): blake3 of model.onnx and tokenizer.json, and the ONNX
    /// Runtime build string. `dataset` (has `path`): blake3 of the data file.
    fn key_extra(&self, params: &Params) -> Result<Vec<(String, String)>, EngineError> {
        let base = self.base_dir.as_deref();
        if let Some(Value::Str(ck)) = params.get("checkpoint") {
            let dir = resolve(base, ck);
            let ckpt = embed::Checkpoint::open(&dir)
                .map_err(|e| EngineError::param("checkpoint", e.to_string()))?;
            let rt = runtime::runtime()?;
            return Ok(vec![
                ("model.onnx".into(), self.digest(&ckpt.model, "checkpoint")?),
                (
                    "tokenizer.json".into(),
                    self.digest(&ckpt.tokenizer, "checkpoint")?,
                ),
                (
                    "onnxruntime".into(),
                    format!("{} ({})", rt.version, rt.build_info),
                ),
            ]);
        }
        if let Some(Value::Str(p)) = params.get("path") {
            let path = resolve(base, p);
            return Ok(vec![("data".into(), self.digest(&path, "path")?)]);
        }
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_passes_its_own_check() {
        let e = OnnxEngine::new();
        assert_eq!(e.info().id, "onnx");
        let names: Vec<&str> = e.info().kinds.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "dataset",
                "embed",
                "reward-head",
                "probe",
                "correlate",
                "pgr"
            ]
        );
        for k in &e.info().kinds {
            for p in &k.params {
                if let Some(d) = &p.default {
                    assert_eq!(p.check(d).as_ref(), Ok(d), "{}.{}", k.name, p.name);
                }
            }
        }
        let embed = e.info().kind("embed").unwrap();
        for p in ["batch_size", "provider"] {
            assert!(!embed.params.iter().any(|s| s.name == p && s.in_key));
        }
    }

    #[test]
    fn unknown_kind_is_an_error() {
        let e = OnnxEngine::new();
        let req = StageRequest {
            stage: "s".into(),
            coords: vec![],
            kind: "nope".into(),
            params: Params::new(),
            seed: 0,
            inputs: vec![],
            threads: 1,
            scratch_dir: None,
            base_dir: None,
        };
        assert!(e.run(&req).is_err());
    }
}
