//! The native engine: stage kinds implemented in Rust, in-process.
//!
//! Each kind lives in its own module exposing `spec() -> KindSpec` and
//! `run(&StageRequest) -> Result<StageOutput, EngineError>`; [`NativeEngine`] is the table
//! that maps kind names to them. Adding a kind = one module + one line in [`KINDS`].
//!
//! Architecture invariant: native kinds see only params, a seed and Arrow tables; they
//! know nothing of TOML, the cache or the scheduler.

pub mod echo;
pub mod synth;

use warmstart_engine::{Engine, EngineError, EngineInfo, StageOutput, StageRequest};

/// Bump when any native kind's output could change for the same inputs: it invalidates
/// every cached native output.
pub const NATIVE_VERSION: &str = "0.1.1";

/// Every native kind: (spec, implementation).
const KINDS: &warmstart_engine::KindTable = &[
    (echo::spec, echo::run),
    (synth::generate::spec, synth::generate::run),
    (synth::pretrain::spec, synth::pretrain::run),
    (synth::weak_label::spec, synth::weak_label::run),
    (synth::finetune::spec, synth::finetune::run),
    (synth::evaluate::spec, synth::evaluate::run),
    (synth::landscape::spec, synth::landscape::run),
    (synth::ridge::spec, synth::ridge::run),
    (synth::aggregate::spec, synth::aggregate::run),
    (synth::plot::spec, synth::plot::run),
];

/// The built-in engine, id `native`.
pub struct NativeEngine {
    info: EngineInfo,
}

impl NativeEngine {
    pub fn new() -> Self {
        Self::with_version(NATIVE_VERSION)
    }

    /// A native engine reporting another version (tests of engine-version invalidation).
    pub fn with_version(version: &str) -> Self {
        NativeEngine {
            info: EngineInfo {
                id: "native".into(),
                version: version.into(),
                kinds: warmstart_engine::kind_specs(KINDS),
            },
        }
    }
}

impl Default for NativeEngine {
    fn default() -> Self {
        Self::new()
    }
}

impl Engine for NativeEngine {
    fn info(&self) -> &EngineInfo {
        &self.info
    }

    fn run(&self, request: &StageRequest) -> Result<StageOutput, EngineError> {
        warmstart_engine::dispatch(&self.info.id, KINDS, request)
    }
}
