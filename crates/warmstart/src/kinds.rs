//! The kind reference: every stage kind an experiment can use, with the engine that offers
//! it and everything it declares (params, inputs, the tables it reads and writes) — the
//! data behind `warmstart kinds` and `docs/kinds.md`, and the kinds a JSON Schema knows.
//!
//! Built-in engines are always there (the ONNX engine's kinds included: describing them
//! never touches ONNX Runtime); an experiment file, or a project file `warmstart.toml`,
//! adds the plugins it declares. Rendering is the front end's.

use std::path::Path;

pub use warmstart_engine::{
    ColumnRef, ColumnSpec, Determinism, Extra, InputSpec, KindSpec, ParamSpec, ParamType,
    TableSpec, Value, is_table_name,
};

use crate::load::{LoadError, engines_for_file, registry};
use warmstart_plan::Registry;

/// One kind as one engine offers it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KindEntry {
    /// The name stages select the engine by (`engine = "…"`): a built-in engine's id, or
    /// the `NAME` of a plugin's `[engines.NAME]`.
    pub engine: String,
    /// The engine's own id and version (what enters the cache key).
    pub engine_id: String,
    /// See [`KindEntry::engine_id`].
    pub engine_version: String,
    /// Whether the engine is built in (not a plugin the file declares).
    pub builtin: bool,
    /// Whether this engine runs the kind when a stage names no engine (the first engine
    /// registered that offers it).
    pub default: bool,
    /// The kind's declaration.
    pub spec: KindSpec,
}

impl KindEntry {
    /// For [`warmstart_spec::json_schema`].
    pub fn schema_kind(&self) -> warmstart_spec::SchemaKind<'_> {
        warmstart_spec::SchemaKind {
            engine: &self.engine,
            default: self.default,
            spec: &self.spec,
        }
    }
}

/// Every kind of every engine of `registry`, engine by engine in registration order (the
/// built-ins first), each engine's kinds in its own order.
pub fn from_registry(registry: &Registry) -> Vec<KindEntry> {
    let builtin: Vec<String> = crate::load::registry(None)
        .engine_ids()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut out: Vec<KindEntry> = Vec::new();
    for (name, engine) in registry.engines() {
        let info = engine.info();
        for k in &info.kinds {
            let default = !out.iter().any(|e| e.spec.name == k.name);
            out.push(KindEntry {
                engine: name.clone(),
                engine_id: info.id.clone(),
                engine_version: info.version.clone(),
                // A plugin may be registered under a built-in's name and replace it.
                builtin: builtin.contains(name) && info.id == *name,
                default,
                spec: k.clone(),
            });
        }
    }
    out
}

/// The kinds of the built-in engines (what every experiment can use).
pub fn builtin() -> Vec<KindEntry> {
    from_registry(&registry(None))
}

/// The kinds the experiment `file` can use: the built-ins and those of the plugins it and
/// its project file declare (loaded). `file` may also be a project file,
/// `warmstart.toml`: then the built-ins and its plugins.
pub fn for_file(file: &Path) -> Result<Vec<KindEntry>, LoadError> {
    Ok(from_registry(&engines_for_file(file)?))
}

/// A kind name that no engine offers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KindError {
    /// No engine offers a kind of this name.
    #[error("no engine offers a kind `{name}`")]
    Unknown {
        /// The name asked for.
        name: String,
        /// "did you mean `x`?", when a known kind is close.
        hint: Option<String>,
        /// Every known kind, in reference order, without repeats.
        known: Vec<String>,
    },
}

/// The entries of the kind `name` (one per engine that offers it, the default first).
pub fn lookup<'a>(kinds: &'a [KindEntry], name: &str) -> Result<Vec<&'a KindEntry>, KindError> {
    let found: Vec<&KindEntry> = kinds.iter().filter(|k| k.spec.name == name).collect();
    if !found.is_empty() {
        return Ok(found);
    }
    let known = names(kinds);
    Err(KindError::Unknown {
        name: name.to_string(),
        hint: warmstart_spec::did_you_mean(name, known.iter().map(String::as_str)),
        known,
    })
}

/// The kind names, in order, each once.
pub fn names(kinds: &[KindEntry]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for k in kinds {
        if !out.contains(&k.spec.name) {
            out.push(k.spec.name.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_include_every_engine_and_need_no_runtime() {
        let kinds = builtin();
        let engines: Vec<&str> = kinds.iter().map(|k| k.engine.as_str()).collect();
        for e in ["native", "process", "onnx"] {
            assert!(engines.contains(&e), "no kind of engine {e}: {engines:?}");
        }
        assert!(kinds.iter().all(|k| k.builtin && k.default));
        let plot = lookup(&kinds, "plot").unwrap();
        assert_eq!(plot.len(), 1);
        assert_eq!(plot[0].engine, "native");
    }

    #[test]
    fn an_unknown_kind_suggests_the_closest_and_lists_all() {
        let kinds = builtin();
        let Err(KindError::Unknown { hint, known, .. }) = lookup(&kinds, "plto") else {
            panic!("`plto` is not a kind");
        };
        assert_eq!(hint.as_deref(), Some("did you mean `plot`?"));
        assert_eq!(known, names(&kinds));
        assert!(known.contains(&"embed".to_string()));
    }
}
