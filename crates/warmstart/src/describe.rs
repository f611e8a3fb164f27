//! What an experiment looks like without running anything: its stage (or instance) graph
//! as text, the JSON Schemas of experiment and project files, and what a plugin file
//! offers.

use std::path::Path;

pub use warmstart_spec::dag::DagFormat;

use crate::load::LoadError;

/// The stage graph of the experiment `file` (with `instances`, the graph of its expanded
/// instances) in `format`. No engine is loaded and no cache is opened.
pub fn graph(file: &Path, format: DagFormat, instances: bool) -> Result<String, LoadError> {
    let exp = warmstart_spec::load(file)?;
    Ok(if instances {
        let expanded = warmstart_spec::expand(&exp)?;
        warmstart_spec::dag::instance_graph(&exp, &expanded, format)
    } else {
        warmstart_spec::dag::stage_graph(&exp, format)
    })
}

/// The JSON Schema of experiment files, knowing the kinds of the built-in engines (other
/// kinds are accepted with any params).
pub fn experiment_schema() -> serde_json::Value {
    schema_of(&crate::kinds::builtin())
}

/// The JSON Schema of the experiment `file`, knowing the kinds of the built-in engines and
/// of the plugins it and its project file declare (loaded, as `load` does). `file` may be a
/// project file, `warmstart.toml`: a schema for every experiment of the project.
pub fn experiment_schema_for(file: &Path) -> Result<serde_json::Value, LoadError> {
    Ok(schema_of(&crate::kinds::for_file(file)?))
}

fn schema_of(kinds: &[crate::kinds::KindEntry]) -> serde_json::Value {
    let known: Vec<_> = kinds.iter().map(|k| k.schema_kind()).collect();
    warmstart_spec::json_schema(&known)
}

/// The JSON Schema of the project file, `warmstart.toml`.
pub fn project_schema() -> serde_json::Value {
    warmstart_spec::project_json_schema()
}

/// Why a plugin file cannot be described.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PluginCheckError {
    /// The file is not a loadable plugin (the error names the file and the check that
    /// failed).
    #[cfg(feature = "plugins")]
    #[error(transparent)]
    Load(#[from] warmstart_plugin_host::PluginError),
    /// This build has no plugin support.
    #[error("this build cannot load plugins (build warmstart with the `plugins` feature)")]
    Disabled,
}

/// Load the plugin file at `path` and describe it (its engine, version and kinds).
pub fn plugin(path: &Path) -> Result<String, PluginCheckError> {
    #[cfg(feature = "plugins")]
    return Ok(warmstart_plugin_host::describe(path)?);
    #[cfg(not(feature = "plugins"))]
    {
        let _ = path;
        Err(PluginCheckError::Disabled)
    }
}
