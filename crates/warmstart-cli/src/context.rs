//! The shared first steps of every command (load the experiment, open the cache, select
//! instances) over the facade, and the rendering of the facade's errors into
//! [`Failure`]s: the messages that name command-line flags live here, not in the library.

use std::path::Path;

use warmstart::read::{Quarantine, ReadError};
use warmstart::select::SelectError;
use warmstart::{Plan, Store};

use crate::Failure;
use crate::render::render_diagnostic;

/// At most this many errors are rendered with a snippet; the rest are counted. (Each
/// rendering scans the file, and a generated file can hold thousands of the same mistake.)
const MAX_RENDERED_ERRORS: usize = 50;

/// Render every error of a set, each with its own snippet.
pub fn render_all(errors: &warmstart::SpecErrors) -> String {
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
    load_plan_with(file, &[])
}

/// Load an experiment with command-line overrides applied.
pub fn load_plan_with(file: &Path, overrides: &[String]) -> Result<Plan, Failure> {
    warmstart::load_with_overrides(file, overrides).map_err(|e| Failure::Invalid(render_all(&e.0)))
}

/// Open the cache, with a hint at the flags that choose it.
pub fn open_store(cache: &Path) -> Result<Store, Failure> {
    warmstart::open_cache(cache).map_err(|e| {
        Failure::Invalid(format!(
            "error: {e}\n  help: pass another directory with --cache DIR or WARMSTART_CACHE"
        ))
    })
}

/// Open the cache for a command that only reads it: a missing cache is not created (it
/// reads as empty), so `show`, `plan` … on a fresh project leave no `cache/` behind.
pub fn open_store_for_reading(cache: &Path) -> Result<Store, Failure> {
    warmstart::open_cache_for_reading(cache).map_err(|e| {
        Failure::Invalid(format!(
            "error: {e}\n  help: pass another directory with --cache DIR or WARMSTART_CACHE"
        ))
    })
}

/// Parse `--at axis=value` filters.
pub fn parse_at(at: &[String]) -> Result<Vec<(String, String)>, Failure> {
    warmstart::select::parse_filters(at).map_err(|e| select_failure(&e))
}

/// The instances of `stage` matching the `--at` filters.
pub fn select(plan: &Plan, stage: &str, at: &[String]) -> Result<Vec<usize>, Failure> {
    let filters = parse_at(at)?;
    warmstart::select::select(plan, stage, &filters).map_err(|e| select_failure(&e))
}

pub fn select_failure(e: &SelectError) -> Failure {
    Failure::Invalid(match e {
        SelectError::BadFilter { given } => {
            format!("error: --at expects AXIS=VALUE (e.g. --at alpha=0.5), got `{given}`")
        }
        SelectError::NoStage { hint, .. } => format!("error: {e}\n  help: {hint}"),
        SelectError::UnknownAxis { axes, hint, .. } => {
            let help = if axes.is_empty() {
                "drop --at: the stage has a single instance".to_string()
            } else {
                let list = format!("its axes: {}", axes.join(", "));
                match hint {
                    Some(h) => format!("{h} ({list})"),
                    None => list,
                }
            };
            format!("error: {e}\n  help: {help}")
        }
        SelectError::NoValue {
            axis, values, hint, ..
        } => {
            // A long axis is cut short: the message is read, not parsed.
            const SHOWN: usize = 20;
            let more = if values.len() > SHOWN {
                format!(
                    " … ({} more; `warmstart plan FILE` lists every instance)",
                    values.len() - SHOWN
                )
            } else {
                String::new()
            };
            let shown: Vec<&str> = values.iter().take(SHOWN).map(String::as_str).collect();
            let list = format!("values of `{axis}`: {}{more}", shown.join(", "));
            let help = match hint {
                Some(h) => format!("{h} ({list})"),
                None => list,
            };
            format!("error: {e}\n  help: {help}")
        }
        SelectError::NoMatch { .. } => format!(
            "error: {e}\n  help: `warmstart plan FILE` lists the instances and their coordinates"
        ),
        _ => format!("error: {e}"),
    })
}

/// The failure for reading an instance's output in `show` / `export` (`file` is the
/// experiment, for the hint to run it). A corrupt entry has been quarantined by the
/// facade; the message says what happened to it.
pub fn read_failure(e: &ReadError, file: &Path) -> Failure {
    match e {
        ReadError::NotFresh { .. } => Failure::Stage(format!(
            "error: {e}\n  help: run `warmstart run {}` first (`warmstart why` says why it is stale)",
            file.display()
        )),
        ReadError::Cache { quarantine, .. } => {
            let done = match quarantine.as_deref() {
                Some(Quarantine::Moved(q)) => format!(
                    "\n  note: moved it to {}; the next `warmstart run` recomputes it",
                    q.display()
                ),
                Some(Quarantine::Busy) => "\n  note: not moved: another process holds its \
                                           lock or replaced it meanwhile"
                    .into(),
                Some(Quarantine::Failed(qe)) => format!(
                    "\n  note: could not quarantine it ({qe}); `warmstart verify --repair` retries"
                ),
                _ => String::new(),
            };
            Failure::Stage(format!("error: {e}{done}"))
        }
        ReadError::NoSuchTable { available, .. } => Failure::Invalid(format!(
            "error: {e}\n  help: its tables are: {}",
            available.join(", ")
        )),
        _ => Failure::Stage(format!("error: {e}")),
    }
}
