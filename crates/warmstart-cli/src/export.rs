//! `warmstart export`: argument handling and messages. The export itself (layout,
//! `index.json`, the checked paths under `--out`) is the facade's `warmstart::export`.

use std::path::Path;

use warmstart::export::ExportError;

use crate::Failure;
use crate::context::{load_plan, open_store, read_failure};
use crate::output::Output;

pub fn export(file: &Path, cache: &Path, out_dir: &Path) -> Result<(), Failure> {
    let plan = load_plan(file)?;
    let store = open_store(cache)?;
    let a = warmstart::assess(&plan, &store);
    let report = warmstart::export::export(&plan, &a, &store, out_dir)
        .map_err(|e| export_failure(&e, file))?;
    let mut stdout = Output::stdout();
    stdout.line(format_args!(
        "exported {} stage instance(s) to {}",
        report.exported.len(),
        out_dir.display()
    ));
    stdout.finish()?;
    if report.missing.is_empty() {
        Ok(())
    } else {
        Err(Failure::Stage(format!(
            "error: {} instance(s) have no up-to-date output and were not exported: {}\n  help: run `warmstart run {}` first",
            report.missing.len(),
            report.missing.join(", "),
            file.display()
        )))
    }
}

/// Every export error is exit 1: the experiment was fine, writing (or reading) was not.
fn export_failure(e: &ExportError, file: &Path) -> Failure {
    match e {
        ExportError::Read(r) => read_failure(r, file),
        _ => Failure::Stage(match e.help() {
            Some(help) => format!("error: {e}\n  help: {help}"),
            None => format!("error: {e}"),
        }),
    }
}
