//! From an experiment file to a [`Plan`]: parse and expand it, build the engine registry
//! (built-ins, the project file's plugins, the experiment's own plugins) and bind every
//! stage instance to its engine.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use warmstart_native::NativeEngine;
use warmstart_plan::{Plan, Registry};
use warmstart_spec::{Experiment, SpecErrors};

/// Why an experiment could not be loaded: every error found, each pointing into the
/// experiment (or project) file. Render with miette.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
#[non_exhaustive]
pub struct LoadError(#[from] pub SpecErrors);

/// Parse, expand and bind an experiment file.
pub fn load(file: &Path) -> Result<Plan, LoadError> {
    load_with_overrides(file, &[])
}

/// [`load()`] with command-line overrides (`tau=25`, `stages.finetune.delta=1e-3`)
/// applied to the file first; an error in an override points at it.
pub fn load_with_overrides(file: &Path, overrides: &[String]) -> Result<Plan, LoadError> {
    let experiment = warmstart_spec::load_with_overrides(file, overrides)?;
    let registry = registry_for(&experiment)?;
    Ok(warmstart_plan::build(experiment, &registry)?)
}

/// The engines the experiment `file` can use: built-ins, its project's plugins and its
/// own (without expanding or binding its stages). `file` may also be a project file (named
/// `warmstart.toml`): then the built-ins and the plugins it declares, which every
/// experiment of the project can use.
pub fn engines_for_file(file: &Path) -> Result<Registry, LoadError> {
    if file.file_name() == Some(std::ffi::OsStr::new(warmstart_spec::PROJECT_FILE)) {
        return Ok(registry_for_project(file)?);
    }
    let experiment = warmstart_spec::load(file)?;
    Ok(registry_for(&experiment)?)
}

/// The built-in engines and the plugins of the project file `file`, which was named
/// explicitly (so it is not searched for, and it is read wherever it lies).
fn registry_for_project(file: &Path) -> Result<Registry, SpecErrors> {
    let text = warmstart_spec::source::read_source(file, "project file")?;
    let project = warmstart_spec::parse_project(warmstart_spec::SourceFile {
        path: file.to_path_buf(),
        text,
    })?;
    let dir = file.parent();
    let mut r = registry(dir);
    let mut errors = Vec::new();
    plugins::add(&mut r, &project.source, dir, &project.engines, &mut errors);
    if errors.is_empty() {
        Ok(r)
    } else {
        Err(SpecErrors(errors))
    }
}

/// The built-in engines (every experiment can use them): `native`, and with their
/// features `process` and `onnx`. `base_dir` is the experiment file's directory (relative
/// script, data and checkpoint paths resolve against it).
pub fn registry(base_dir: Option<&Path>) -> Registry {
    let mut r = Registry::new();
    r.add(Arc::new(NativeEngine::new()));
    #[cfg(feature = "process")]
    r.add(Arc::new(match base_dir {
        Some(d) => warmstart_process::ProcessEngine::with_base_dir(d),
        None => warmstart_process::ProcessEngine::new(),
    }));
    #[cfg(feature = "onnx")]
    r.add(Arc::new(match base_dir {
        Some(d) => warmstart_onnx::OnnxEngine::with_base_dir(d),
        None => warmstart_onnx::OnnxEngine::new(),
    }));
    let _ = base_dir;
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
        plugins::add(&mut r, &project.source, dir, &inherited, &mut errors);
    }
    plugins::add(
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

/// The experiment's plugins, as registered by [`registry_for`]: the project file's (unless
/// the experiment declares the same name) and the experiment's own, paths resolved.
pub fn plugin_paths(experiment: &Experiment) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let base = experiment.source.path.parent();
    if let Ok(Some(project)) = warmstart_spec::load_project_for(&experiment.source.path) {
        let dir = project.source.path.parent();
        for d in &project.engines {
            if !experiment
                .engines
                .iter()
                .any(|e| e.name.value == d.name.value)
            {
                out.push((d.name.value.clone(), plugins::resolve(dir, &d.path.value)));
            }
        }
    }
    for d in &experiment.engines {
        out.push((d.name.value.clone(), plugins::resolve(base, &d.path.value)));
    }
    out
}

/// Register plugins from files (a worker rebuilding the registry of a job spec).
pub fn add_plugins(r: &mut Registry, list: &[(String, PathBuf)]) -> Result<(), String> {
    plugins::add_files(r, list)
}

#[cfg(feature = "plugins")]
mod plugins {
    //! Loading `[engines.NAME]` plugin declarations.

    use std::path::Path;
    use std::sync::Arc;

    use std::path::PathBuf;

    use warmstart_plan::Registry;
    use warmstart_plugin_host::{PluginEngine, resolve_plugin_path};
    use warmstart_spec::{EngineDecl, SourceFile, SpecError};

    /// A declared plugin path, resolved against the declaring file's directory.
    pub fn resolve(base: Option<&Path>, path: &str) -> PathBuf {
        resolve_plugin_path(base, path)
    }

    /// Load plugins from resolved paths.
    pub fn add_files(r: &mut Registry, list: &[(String, PathBuf)]) -> Result<(), String> {
        for (name, path) in list {
            let engine = PluginEngine::load(path)
                .map_err(|e| format!("cannot load plugin `{name}` ({}): {e}", path.display()))?;
            r.add_named(name, Arc::new(engine));
        }
        Ok(())
    }

    /// Load the declared plugins (paths relative to `base`, the declaring file's directory).
    pub fn add(
        r: &mut Registry,
        source: &Arc<SourceFile>,
        base: Option<&Path>,
        decls: &[EngineDecl],
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
                        "{e}\nThe path is relative to {}; `warmstart plugins check PATH` explains what is wrong with a file.",
                        source.path.display()
                    )),
                )),
            }
        }
    }
}

#[cfg(not(feature = "plugins"))]
mod plugins {
    //! Without the `plugins` feature, a declared plugin is an error saying so.

    use std::path::Path;
    use std::sync::Arc;

    use std::path::PathBuf;

    use warmstart_plan::Registry;
    use warmstart_spec::{EngineDecl, SourceFile, SpecError};

    pub fn resolve(base: Option<&Path>, path: &str) -> PathBuf {
        base.map_or_else(|| PathBuf::from(path), |b| b.join(path))
    }

    pub fn add_files(_r: &mut Registry, list: &[(String, PathBuf)]) -> Result<(), String> {
        match list.first() {
            None => Ok(()),
            Some((name, _)) => Err(format!(
                "plugin `{name}`: this build cannot load plugins (the `plugins` feature is off)"
            )),
        }
    }

    pub fn add(
        _r: &mut Registry,
        source: &Arc<SourceFile>,
        _base: Option<&Path>,
        decls: &[EngineDecl],
        errors: &mut Vec<SpecError>,
    ) {
        for decl in decls {
            errors.push(SpecError::new(
                source,
                decl.path.span.clone(),
                "warmstart::plugin::disabled",
                format!("engine `{}`: plugins are not enabled", decl.name.value),
                "this build cannot load plugins",
                Some("build warmstart with the `plugins` feature (on by default)".into()),
            ));
        }
    }
}
