//! Running a plan: the scheduler with this machine's threads, its reports turned into
//! [`RunEvent`]s for a [`Reporter`], and its record kept in the cache ([`crate::runs`]).

use warmstart_cache::{CacheError, store::Store};
use warmstart_plan::Plan;
use warmstart_plan::run::{RunOptions, RunSummary, execute};

use crate::events::RunEvent;
use crate::report::Reporter;

/// Why a run could not start. (Stage failures are not errors: they are events, counted in
/// the [`RunSummary`].)
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The cache's temp directory could not be cleaned of interrupted runs' leftovers
    /// (e.g. it was replaced by a symlink after the cache was opened).
    #[error(transparent)]
    CleanTmp(CacheError),
}

/// Run every stage instance of `plan` that is not fresh in `store`, report every event,
/// and close with a summary event. Leftovers of interrupted runs in the cache's temp
/// directory are cleaned first; if that fails, nothing runs and nothing is reported.
pub fn run(
    plan: &Plan,
    store: &Store,
    opts: &RunOptions,
    reporter: &mut dyn Reporter,
) -> Result<RunSummary, RunError> {
    store.clean_tmp().map_err(RunError::CleanTmp)?;
    let started = crate::runs::now_unix_ms();
    let summary = execute(plan, store, opts, &mut |p| {
        if let Some(ev) = RunEvent::from_progress(plan, p) {
            reporter.report(&ev);
        }
    });
    save_record(plan, store, &summary, started, "local", reporter);
    reporter.report(&RunEvent::summary(plan, &summary));
    Ok(summary)
}

/// Keep the run's record in the cache; a failure to do so is a warning, not an error (the
/// entries, which are what matters, are already written).
pub(crate) fn save_record(
    plan: &Plan,
    store: &Store,
    summary: &RunSummary,
    started_unix_ms: u64,
    executor: &str,
    reporter: &mut dyn Reporter,
) {
    let mut record = crate::runs::record_of(plan, summary, started_unix_ms, executor);
    record.metrics = crate::runs::metrics(plan, store);
    if let Err(e) = crate::runs::save(store, &record) {
        reporter.report(&RunEvent::Warning(crate::events::WarningEvent {
            message: format!("this run's record could not be kept in the cache: {e}"),
            label: None,
        }));
    }
}
