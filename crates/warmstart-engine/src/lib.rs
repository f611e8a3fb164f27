//! The engine contract of warmstart.
//!
//! An [`Engine`] implements one or more stage *kinds* (`echo`, `generate`, `embed`, …).
//! It declares, as plain data, what it offers ([`EngineInfo`]: id, version, and per kind a
//! [`KindSpec`] with a param schema and a [`Determinism`]) and runs one stage instance at a
//! time ([`Engine::run`]): resolved params plus Arrow input tables in, Arrow tables out.
//!
//! Everything that crosses this boundary is owned data that has an obvious C/JSON form —
//! params are [`Value`]s (JSON-shaped), tables are Arrow [`RecordBatch`]es (Arrow C Data
//! Interface), errors are strings. No closures, no references into the host, no callbacks.
//! That is what lets the same trait be implemented by a dynamic plugin across a C ABI or by
//! a process on another machine (Slurm).
//!
//! It also owns the identity vocabulary the other crates share ([`identity`]): the
//! instance label, the name rules, the column readers ([`table`]) and value identity
//! ([`same_value`], which is the cache key's: `1` is not `1.0`).
//!
//! Architecture invariant: this crate knows nothing of TOML, the cache, the scheduler or any
//! particular engine. It depends only on Arrow's array/schema crates and serde.

pub mod identity;
pub mod params;
pub mod table;
pub mod tables_spec;

use std::path::PathBuf;

pub use identity::{is_stage_name, is_table_name, label, name_problem, same_value};
pub use params::{ParamSpec, ParamType, Params, Value};
pub use table::{
    FILES_TABLE, NamedTable, f64_column, files_table, read_files_table, string_column,
};
pub use tables_spec::{ColumnRef, ColumnSpec, Extra, InputSpec, TableSpec};

pub use arrow_array::RecordBatch;
pub use arrow_schema;

/// How far an engine's output is a function of its inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Determinism {
    /// Output depends only on params and inputs. Cached.
    Deterministic,
    /// Output depends on params, inputs and the stage seed. Cached (the seed is in the key).
    Seeded,
    /// Output may differ between runs (wall-clock timings, external services). Never cached.
    Volatile,
}

/// One stage kind an engine implements.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct KindSpec {
    /// The kind's name as written in experiment files (`kind = "echo"`).
    pub name: String,
    /// One-line description, shown by `warmstart schema` and editors.
    pub doc: String,
    /// Accepted params. Params not listed here are rejected by the planner.
    pub params: Vec<ParamSpec>,
    pub determinism: Determinism,
    /// Minimum number of input stages (after sweep expansion, per instance).
    #[serde(default)]
    pub min_inputs: usize,
    /// Maximum number of input stages; `None` = unbounded.
    #[serde(default)]
    pub max_inputs: Option<usize>,
    /// The input tables it reads (documentation; optional).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reads: Vec<InputSpec>,
    /// The tables it writes. Optional; when declared, every output is checked against it
    /// and column-naming params of downstream stages are checked at plan time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub writes: Vec<TableSpec>,
}

impl KindSpec {
    /// The declared output table `name` ("" = the first).
    pub fn output(&self, name: &str) -> Option<&TableSpec> {
        if name.is_empty() {
            self.writes.first()
        } else {
            self.writes.iter().find(|t| t.name == name)
        }
    }
}

/// What an engine offers: plain data, so that plugins can ship it as JSON.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct EngineInfo {
    /// Stable identifier used in experiment files (`engine = "native"`).
    pub id: String,
    /// Bumping it invalidates every cached output of this engine. Bump it whenever a change
    /// could change outputs.
    pub version: String,
    pub kinds: Vec<KindSpec>,
}

impl EngineInfo {
    pub fn kind(&self, name: &str) -> Option<&KindSpec> {
        self.kinds.iter().find(|k| k.name == name)
    }
}

/// The outputs of one upstream stage instance, as seen by a downstream stage.
#[derive(Debug, Clone)]
pub struct StageInput {
    /// The upstream stage's name in the experiment file.
    pub stage: String,
    /// The upstream instance's sweep coordinates (axis name → value), in axis order.
    /// For a gathering stage there is one `StageInput` per gathered instance, and these
    /// coordinates tell them apart.
    pub coords: Vec<(String, Value)>,
    pub tables: Vec<NamedTable>,
}

impl StageInput {
    /// The table with this name, or the first table if `name` is `None`.
    pub fn table(&self, name: Option<&str>) -> Option<&RecordBatch> {
        match name {
            Some(n) => self.tables.iter().find(|t| t.name == n).map(|t| &t.batch),
            None => self.tables.first().map(|t| &t.batch),
        }
    }

    /// The value of one sweep coordinate of this input.
    pub fn coord(&self, axis: &str) -> Option<&Value> {
        self.coords.iter().find(|(a, _)| a == axis).map(|(_, v)| v)
    }
}

/// Everything an engine needs to run one stage instance.
#[derive(Debug, Clone)]
pub struct StageRequest {
    /// The stage's name in the experiment file (for messages).
    pub stage: String,
    /// This instance's sweep coordinates.
    pub coords: Vec<(String, Value)>,
    pub kind: String,
    /// Resolved params, already checked against the kind's [`ParamSpec`]s, with defaults
    /// filled in.
    pub params: Params,
    /// The stage seed (explicit, or derived from experiment seed, stage name and coords).
    pub seed: u64,
    pub inputs: Vec<StageInput>,
    /// Threads the stage may use (resource hint; not part of the cache key).
    pub threads: usize,
    /// A scratch directory private to this instance: it may not exist yet (create it if
    /// you need it); it is removed after the run.
    pub scratch_dir: Option<PathBuf>,
    /// Directory of the experiment file, for resolving relative paths in params.
    pub base_dir: Option<PathBuf>,
}

impl StageRequest {
    /// Required param accessors, with an error naming the param.
    pub fn f64(&self, name: &str) -> Result<f64, EngineError> {
        self.params
            .get(name)
            .and_then(Value::as_f64)
            .ok_or_else(|| EngineError::param(name, "expected a number"))
    }
    pub fn i64(&self, name: &str) -> Result<i64, EngineError> {
        self.params
            .get(name)
            .and_then(Value::as_i64)
            .ok_or_else(|| EngineError::param(name, "expected an integer"))
    }
    pub fn usize(&self, name: &str) -> Result<usize, EngineError> {
        let v = self.i64(name)?;
        usize::try_from(v).map_err(|_| EngineError::param(name, "expected a non-negative integer"))
    }
    pub fn str(&self, name: &str) -> Result<&str, EngineError> {
        self.params
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| EngineError::param(name, "expected a string"))
    }
    pub fn bool(&self, name: &str) -> Result<bool, EngineError> {
        self.params
            .get(name)
            .and_then(Value::as_bool)
            .ok_or_else(|| EngineError::param(name, "expected a boolean"))
    }
    pub fn opt(&self, name: &str) -> Option<&Value> {
        self.params.get(name)
    }
}

/// A stage's result: named tables. The first table is the stage's primary output.
#[derive(Debug, Clone, Default)]
pub struct StageOutput {
    pub tables: Vec<NamedTable>,
    /// Things the user should know that did not fail the stage (e.g. "CUDA unavailable,
    /// ran on CPU"). Engines never print: the scheduler reports these as warning events.
    /// Not part of the cached entry.
    pub warnings: Vec<String>,
}

impl StageOutput {
    pub fn single(batch: RecordBatch) -> Self {
        StageOutput {
            tables: vec![NamedTable::new("out", batch)],
            warnings: Vec::new(),
        }
    }

    /// An output of these tables, with no warnings.
    pub fn from_tables(tables: Vec<NamedTable>) -> Self {
        StageOutput {
            tables,
            warnings: Vec::new(),
        }
    }
    pub fn push(&mut self, name: impl Into<String>, batch: RecordBatch) -> &mut Self {
        self.tables.push(NamedTable::new(name, batch));
        self
    }
}

/// Why a stage failed. Carried across FFI/process boundaries as a string, so it is one.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum EngineError {
    #[error("param `{name}`: {message}")]
    Param { name: String, message: String },
    #[error("input: {0}")]
    Input(String),
    #[error("{0}")]
    Failed(String),
    #[error("the stage was cancelled")]
    Cancelled,
}

impl EngineError {
    pub fn param(name: &str, message: impl Into<String>) -> Self {
        EngineError::Param {
            name: name.to_string(),
            message: message.into(),
        }
    }
    pub fn failed(message: impl Into<String>) -> Self {
        EngineError::Failed(message.into())
    }
}

impl From<arrow_schema::ArrowError> for EngineError {
    fn from(e: arrow_schema::ArrowError) -> Self {
        EngineError::Failed(format!("arrow: {e}"))
    }
}

/// How an in-process kind runs.
pub type KindRun = fn(&StageRequest) -> Result<StageOutput, EngineError>;

/// A table of in-process kinds: (spec, implementation) pairs. Built-in engines are such a
/// table plus an id and a version.
pub type KindTable = [(fn() -> KindSpec, KindRun)];

/// The specs of a kind table, for [`EngineInfo::kinds`].
pub fn kind_specs(table: &KindTable) -> Vec<KindSpec> {
    table.iter().map(|(spec, _)| spec()).collect()
}

/// Run `request` with the implementation of its kind in `table`.
pub fn dispatch(
    engine_id: &str,
    table: &KindTable,
    request: &StageRequest,
) -> Result<StageOutput, EngineError> {
    let run = table
        .iter()
        .find(|(spec, _)| spec().name == request.kind)
        .map(|(_, run)| *run)
        .ok_or_else(|| {
            EngineError::failed(format!(
                "engine `{engine_id}` has no kind `{}`",
                request.kind
            ))
        })?;
    run(request)
}

/// An engine: declares its kinds and runs stage instances.
///
/// `run` is called from several scheduler threads at once (one call per stage instance);
/// implementations must be `Send + Sync` and keep no per-run state in `self`. Inside `run`
/// an engine may use rayon: the scheduler sizes rayon's global pool to `--jobs`, so
/// stages running at once share it and global parallelism stays bounded.
pub trait Engine: Send + Sync {
    fn info(&self) -> &EngineInfo;
    fn run(&self, request: &StageRequest) -> Result<StageOutput, EngineError>;
    /// The determinism of one stage of `kind` with these params. Defaults to the kind's
    /// declaration; an engine whose kinds can be volatile or not depending on a param (the
    /// process engine's `volatile = true`) overrides it.
    fn determinism(&self, kind: &KindSpec, _params: &Params) -> Determinism {
        kind.determinism
    }
    /// Extra bytes that enter the cache key of every stage of this engine, beyond id and
    /// version: e.g. a plugin file's digest, a model file's digest, a runtime version.
    fn key_extra(&self, _request_params: &Params) -> Result<Vec<(String, String)>, EngineError> {
        Ok(Vec::new())
    }
}
