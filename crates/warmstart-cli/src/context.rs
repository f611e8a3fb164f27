//! Loading an experiment into a plan and opening the cache: the shared first steps of
//! every command, with errors turned into [`Failure`]s.

use std::path::Path;

use warmstart_cache::store::Store;
use warmstart_plan::Plan;

use crate::Failure;
use crate::render::render_diagnostic;

/// Render every error of a set, each with its own snippet.
/// At most this many errors are rendered with a snippet; the rest are counted. (Each
/// rendering scans the file, and a generated file can hold thousands of the same mistake.)
const MAX_RENDERED_ERRORS: usize = 50;

pub fn render_all(errors: &warmstart_spec::SpecErrors) -> String {
    let mut parts: Vec<String> = errors
        .0
        .iter()
        .take(MAX_RENDERED_ERRORS)
        .map(|e| render_diagnostic(e))
        .collect();
    if errors.0.len() > MAX_RENDERED_ERRORS {
        parts.push(format!(
            "… and {} more errors like these (the first {MAX_RENDERED_ERRORS} are shown)",
            errors.0.len() - MAX_RENDERED_ERRORS
        ));
    }
    if errors.0.len() > 1 {
        parts.push(format!("{errors}"));
    }
    parts.join("\n\n")
}

pub use warmstart::registry;

/// Parse, expand and bind an experiment file.
pub fn load_plan(file: &Path) -> Result<Plan, Failure> {
    warmstart::load(file).map_err(|e| Failure::Invalid(render_all(&e.0)))
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
