//! Loading an experiment into a plan and opening the cache: the shared first steps of
//! every command, with errors turned into [`Failure`]s.

use std::path::Path;
use std::sync::Arc;

use warmstart_cache::store::Store;
use warmstart_native::NativeEngine;
use warmstart_onnx::OnnxEngine;
use warmstart_plan::{Plan, Registry};
use warmstart_plugin_host::{PluginEngine, resolve_plugin_path};
use warmstart_process::ProcessEngine;
use warmstart_spec::{Experiment, SpecError, SpecErrors};

use crate::Failure;
use crate::render::render_diagnostic;

/// Render every error of a set, each with its own snippet.
pub fn render_all(errors: &warmstart_spec::SpecErrors) -> String {
    let mut parts: Vec<String> = errors.0.iter().map(|e| render_diagnostic(e)).collect();
    if errors.0.len() > 1 {
        parts.push(format!("{errors}"));
    }
    parts.join("\n\n")
}

/// The built-in engines (every experiment can use them): `native`, `process`, `onnx`.
/// `base_dir` is the experiment file's directory (relative script, data and checkpoint
/// paths resolve against it).
pub fn registry(base_dir: Option<&Path>) -> Registry {
    let mut r = Registry::new();
    r.add(Arc::new(NativeEngine::new()));
    match base_dir {
        Some(d) => {
            r.add(Arc::new(ProcessEngine::with_base_dir(d)));
            r.add(Arc::new(OnnxEngine::with_base_dir(d)));
        }
        None => {
            r.add(Arc::new(ProcessEngine::new()));
            r.add(Arc::new(OnnxEngine::new()));
        }
    }
    r
}

/// The built-in engines, the plugins of the project's `warmstart.toml` (if any) and the
/// experiment's own `[engines.NAME]` plugins, which win over project ones of the same
/// name. A plugin that cannot be loaded is an error pointing at its `path`.
pub fn registry_for(experiment: &Experiment) -> Result<Registry, SpecErrors> {
    let base = experiment.source.path.parent();
    let mut r = registry(base);
    let mut errors = Vec::new();
    if let Some(project) = warmstart_spec::load_project_for(&experiment.source.path)? {
        // Declarations the experiment makes itself replace the project's (not loaded).
        let inherited: Vec<_> = project
            .engines
            .iter()
            .filter(|d| {
                !experiment
                    .engines
                    .iter()
                    .any(|e| e.name.value == d.name.value)
            })
            .cloned()
            .collect();
        let dir = project.source.path.parent();
        add_plugins(&mut r, &project.source, dir, &inherited, &mut errors);
    }
    add_plugins(
        &mut r,
        &experiment.source,
        base,
        &experiment.engines,
        &mut errors,
    );
    if errors.is_empty() {
        Ok(r)
    } else {
        Err(SpecErrors(errors))
    }
}

/// Load the declared plugins (paths relative to `base`, the declaring file's directory).
fn add_plugins(
    r: &mut Registry,
    source: &Arc<warmstart_spec::SourceFile>,
    base: Option<&Path>,
    decls: &[warmstart_spec::EngineDecl],
    errors: &mut Vec<SpecError>,
) {
    for decl in decls {
        let path = resolve_plugin_path(base, &decl.path.value);
        match PluginEngine::load(&path) {
            Ok(engine) => {
                r.add_named(&decl.name.value, Arc::new(engine));
            }
            Err(e) => errors.push(SpecError::new(
                source,
                decl.path.span.clone(),
                "warmstart::plugin::load",
                format!("engine `{}`: cannot load plugin", decl.name.value),
                "cannot load this plugin",
                Some(format!(
                    "{e}\nThe path is relative to {}. Build the plugin (`cargo build --release -p <plugin crate>`) or fix the path; `warmstart plugins check PATH` explains what is wrong with a file.",
                    source.path.display()
                )),
            )),
        }
    }
}

/// Parse, expand and bind an experiment file.
pub fn load_plan(file: &Path) -> Result<Plan, Failure> {
    let experiment = warmstart_spec::load(file).map_err(|e| Failure::Invalid(render_all(&e)))?;
    let registry = registry_for(&experiment).map_err(|e| Failure::Invalid(render_all(&e)))?;
    warmstart_plan::build(experiment, &registry).map_err(|e| Failure::Invalid(render_all(&e)))
}

pub fn open_store(cache: &Path) -> Result<Store, Failure> {
    Store::open(cache).map_err(|e| {
        Failure::Invalid(format!(
            "error: cannot open the cache at {}: {e}\n  help: pass another directory with --cache DIR or WARMSTART_CACHE",
            cache.display()
        ))
    })
}

/// Parse `axis=value` filters.
pub fn parse_at(at: &[String]) -> Result<Vec<(String, String)>, Failure> {
    at.iter()
        .map(|s| {
            s.split_once('=')
                .map(|(a, v)| (a.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| {
                    Failure::Invalid(format!(
                        "error: --at expects AXIS=VALUE (e.g. --at alpha=0.5), got `{s}`"
                    ))
                })
        })
        .collect()
}

/// Does a node's coordinates match every `axis=value` filter? Values compare numerically
/// when both sides are numbers, else as text.
pub fn coords_match(coords: &[(String, warmstart_engine::Value)], at: &[(String, String)]) -> bool {
    at.iter().all(|(axis, want)| {
        coords.iter().any(|(a, v)| {
            a == axis
                && match (v.as_f64(), want.parse::<f64>().ok()) {
                    (Some(x), Some(y)) => x == y,
                    _ => v.as_str().map_or_else(|| v.to_string(), str::to_string) == *want,
                }
        })
    })
}
