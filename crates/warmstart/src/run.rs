//! Running a plan: the scheduler with this machine's threads, its reports turned into
//! [`RunEvent`]s for a [`Reporter`].

use warmstart_cache::store::Store;
use warmstart_plan::Plan;
use warmstart_plan::run::{RunOptions, RunSummary, execute};

use crate::events::RunEvent;
use crate::report::Reporter;

/// Run every stage instance of `plan` that is not fresh in `store`, report every event,
/// and close with a summary event. Leftovers of interrupted runs in the cache's temp
/// directory are cleaned first.
pub fn run(
    plan: &Plan,
    store: &Store,
    opts: &RunOptions,
    reporter: &mut dyn Reporter,
) -> RunSummary {
    let _ = store.clean_tmp();
    let summary = execute(plan, store, opts, &mut |p| {
        if let Some(ev) = RunEvent::from_progress(plan, p) {
            reporter.report(&ev);
        }
    });
    reporter.report(&RunEvent::summary(plan, &summary));
    summary
}
