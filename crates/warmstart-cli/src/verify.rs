//! `warmstart verify`, the `run --verify` pre-pass, and quarantine of corrupt entries that
//! `show` / `export` find. The checking itself is `warmstart_cache`'s
//! (`Store::verify_keys`, `Store::quarantine`); this module picks the keys and renders.

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use warmstart_cache::{CacheError, CacheKey, Store, VerifyReport};
use warmstart_plan::{Plan, assess};

use crate::Failure;
use crate::context::{load_plan, open_store};

/// Keys of every entry the plan uses now (known keys; a key that depends on a stage that
/// must re-run is unknown until then, and that entry is checked by size as usual).
fn plan_keys(plan: &Plan, store: &Store) -> Vec<CacheKey> {
    assess(plan, store)
        .freshness
        .iter()
        .filter_map(|f| f.key())
        .collect()
}

/// Check `keys` with a progress bar on a terminal.
fn check(store: &Store, keys: &[CacheKey], repair: bool) -> VerifyReport {
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = ProgressBar::new(keys.len() as u64);
        b.set_style(
            ProgressStyle::with_template("verifying {bar:30} {pos}/{len} [{elapsed}]")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    });
    let report = store.verify_keys(keys, repair, |n| {
        if let Some(b) = &bar {
            b.set_position(n as u64);
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
    let store = open_store(cache)?;
    let keys: Vec<CacheKey> = if files.is_empty() {
        store
            .keys()
            .map_err(|e| Failure::Stage(format!("error: cannot list the cache: {e}")))?
    } else {
        let mut set = BTreeSet::new();
        for f in files {
            set.extend(plan_keys(&load_plan(f)?, &store));
        }
        set.into_iter().collect()
    };
    let report = check(&store, &keys, repair);
    let mut out = std::io::stdout().lock();
    for line in describe(&report) {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(
        out,
        "verified {} entr{} ({:.1} MB): {} ok, {} corrupt{}",
        report.ok + report.corrupt.len(),
        if report.ok + report.corrupt.len() == 1 {
            "y"
        } else {
            "ies"
        },
        report.bytes as f64 / 1e6,
        report.ok,
        report.corrupt.len(),
        if report.corrupt.is_empty() || repair {
            ""
        } else {
            " (pass --repair to quarantine them so the next run recomputes them)"
        }
    );
    if report.unrepaired() > 0 {
        Err(Failure::Stage(String::new()))
    } else {
        Ok(())
    }
}

/// `run --verify`: check the digests of every entry the plan uses, quarantining the
/// corrupt ones so that the run recomputes them. Says what it found on stderr.
pub fn before_run(plan: &Plan, store: &Store) -> Result<(), Failure> {
    let report = check(store, &plan_keys(plan, store), true);
    for line in describe(&report) {
        eprintln!("warning: {line}");
    }
    match report.unrepaired() {
        0 => Ok(()),
        n => Err(Failure::Stage(format!(
            "error: {n} corrupt cache entr{} could not be quarantined (see above); nothing was run",
            if n == 1 { "y" } else { "ies" }
        ))),
    }
}

/// The failure for a cache read in `show` / `export`: a corrupt entry is quarantined so
/// that the next `run` recomputes it, and the message says so.
pub fn read_failure(store: &Store, key: &CacheKey, label: &str, e: CacheError) -> Failure {
    let done = match &e {
        CacheError::Corrupt { .. } => match store.quarantine(key) {
            Ok(Some(q)) => format!(
                "\n  note: moved it to {}; the next `warmstart run` recomputes it",
                q.display()
            ),
            Ok(None) => {
                "\n  note: not moved: another process holds its lock or replaced it meanwhile"
                    .into()
            }
            Err(qe) => format!(
                "\n  note: could not quarantine it ({qe}); `warmstart verify --repair` retries"
            ),
        },
        _ => String::new(),
    };
    Failure::Stage(format!("error: cannot read `{label}`: {e}{done}"))
}
