//! `warmstart verify`, the `run --verify` pre-pass: the progress bar and the lines saying
//! what was found. Which keys to check, the checking and the quarantine are the facade's
//! (`warmstart::verify`).

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use warmstart::{CacheKey, Plan, Store, VerifyReport};

use crate::Failure;
use crate::context::{load_plan, open_store_for_reading};
use crate::output::{Output, eprint_line};

/// A progress bar for checking entries, on a terminal only (its length is set by the
/// first report).
fn progress_bar() -> Option<ProgressBar> {
    std::io::stderr().is_terminal().then(|| {
        let b = ProgressBar::new(0);
        b.set_style(
            ProgressStyle::with_template("verifying {bar:30} {pos}/{len} [{elapsed}]")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    })
}

/// Run `check` with a progress bar on a terminal.
fn with_bar(check: impl FnOnce(&mut dyn FnMut(usize, usize)) -> VerifyReport) -> VerifyReport {
    let bar = progress_bar();
    let report = check(&mut |done, total| {
        if let Some(b) = &bar {
            b.set_length(total as u64);
            b.set_position(done as u64);
        }
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    report
}

/// One line per corrupt entry: what is wrong and what was done about it.
fn describe(report: &VerifyReport) -> Vec<String> {
    report
        .corrupt
        .iter()
        .map(|c| match (&c.quarantined, &c.repair_error) {
            (Some(q), _) => format!(
                "corrupt  {}  {}\n         quarantined to {} (the next run recomputes it)",
                c.key.short(),
                c.reason,
                q.display()
            ),
            (None, Some(e)) => format!(
                "corrupt  {}  {}\n         could not quarantine it: {e}",
                c.key.short(),
                c.reason
            ),
            (None, None) => format!("corrupt  {}  {}", c.key.short(), c.reason),
        })
        .collect()
}

/// `warmstart verify [FILE…] [--repair]`.
pub fn verify(files: &[PathBuf], cache: &Path, repair: bool) -> Result<(), Failure> {
    let store = open_store_for_reading(cache)?;
    let keys: Vec<CacheKey> = if files.is_empty() {
        warmstart::verify::all_keys(&store)
            .map_err(|e| Failure::Stage(format!("error: cannot list the cache: {e}")))?
    } else {
        let mut set = BTreeSet::new();
        for f in files {
            set.extend(warmstart::verify::keys_used(&load_plan(f)?, &store));
        }
        set.into_iter().collect()
    };
    let report = with_bar(|progress| warmstart::verify::check(&store, &keys, repair, progress));
    let mut out = Output::stdout();
    for line in describe(&report) {
        out.line(format_args!("{line}"));
    }
    let checked = report.ok + report.corrupt.len();
    out.line(format_args!(
        "verified {checked} entr{} ({:.1} MB): {} ok, {} corrupt{}",
        if checked == 1 { "y" } else { "ies" },
        report.bytes as f64 / 1e6,
        report.ok,
        report.corrupt.len(),
        if report.corrupt.is_empty() || repair {
            ""
        } else {
            " (pass --repair to quarantine them so the next run recomputes them)"
        }
    ));
    // As before: the verdict is the exit status; a failed write of the report does not
    // hide it.
    let _ = out.finish();
    if report.unrepaired() > 0 {
        Err(Failure::Stage(String::new()))
    } else {
        Ok(())
    }
}

/// `run --verify`: check the digests of every entry the plan uses, quarantining the
/// corrupt ones so that the run recomputes them. Says what it found on stderr.
pub fn before_run(plan: &Plan, store: &Store) -> Result<(), Failure> {
    let report = with_bar(|progress| warmstart::verify::before_run(plan, store, progress));
    for line in describe(&report) {
        eprint_line(format_args!("warning: {line}"));
    }
    match report.unrepaired() {
        0 => Ok(()),
        n => Err(Failure::Stage(format!(
            "error: {n} corrupt cache entr{} could not be quarantined (see above); nothing was run",
            if n == 1 { "y" } else { "ies" }
        ))),
    }
}
