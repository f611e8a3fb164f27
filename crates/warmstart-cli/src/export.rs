//! `warmstart export` and `warmstart report`: argument handling and messages. The export
//! itself (layout, `index.json`, the checked paths under `--out`) is the facade's
//! `warmstart::export`; the report's gathering is `warmstart::html`.

use std::path::Path;

use warmstart::export::{ExportError, ExportOptions};

use crate::Failure;
use crate::context::{load_plan, open_store_for_reading, read_failure, select_failure};
use crate::output::Output;

pub fn export(
    file: &Path,
    cache: &Path,
    out_dir: &Path,
    opts: &ExportOptions,
) -> Result<(), Failure> {
    let plan = load_plan(file)?;
    let store = open_store_for_reading(cache)?;
    let a = warmstart::assess(&plan, &store);
    let report = warmstart::export::export_with(&plan, &a, &store, out_dir, opts)
        .map_err(|e| export_failure(&e, file))?;
    let mut stdout = Output::stdout();
    if let Some(other) = &report.replaced {
        stdout.line(format_args!(
            "replaced the export of `{other}` in {} ({} file(s) removed)",
            out_dir.display(),
            report.removed.len()
        ));
    } else if !report.removed.is_empty() {
        stdout.line(format_args!(
            "removed {} file(s) of the earlier export that no current output has",
            report.removed.len()
        ));
    }
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

/// `warmstart report FILE --out DIR [--open]`: a report of whatever state the experiment
/// is in (missing instances are shown as such, not an error).
pub fn report(file: &Path, cache: &Path, out_dir: &Path, open: bool) -> Result<(), Failure> {
    let plan = load_plan(file)?;
    let store = open_store_for_reading(cache)?;
    let a = warmstart::assess(&plan, &store);
    let opts = warmstart::html::ReportOptions::default();
    let written = warmstart::html::write_report(&plan, &a, &store, out_dir, &opts)
        .map_err(|e| export_failure(&e, file))?;
    let c = written.counts;
    let mut stdout = Output::stdout();
    stdout.line(format_args!(
        "wrote {} ({} KiB): {} fresh, {} stale, {} never run, {} failed",
        written.page.display(),
        written.page_bytes.div_ceil(1024),
        c.fresh,
        c.stale,
        c.never_run,
        c.failed
    ));
    if !written.removed.is_empty() {
        stdout.line(format_args!(
            "removed {} file(s) of an earlier report that no longer apply",
            written.removed.len()
        ));
    }
    if open && let Err(e) = open_in_browser(&written.page) {
        stdout.line(format_args!(
            "could not open a browser ({e}); open {} yourself",
            written.page.display()
        ));
    }
    stdout.finish()
}

/// Hand the page to the desktop's opener (`xdg-open`, or `open` on macOS).
fn open_in_browser(page: &Path) -> std::io::Result<()> {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let status = std::process::Command::new(opener)
        .arg(page)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "{opener} exited with {status}"
        )))
    }
}

/// Export errors are exit 1 (the experiment was fine, writing or reading was not), except
/// a refused directory or an unknown stage: usage, exit 2, and nothing was written.
fn export_failure(e: &ExportError, file: &Path) -> Failure {
    match e {
        ExportError::Read(r) => read_failure(r, file),
        ExportError::Select(s) => select_failure(s),
        ExportError::NotAnExport { .. } => Failure::Invalid(format!(
            "error: {e}\n  help: export into a new or empty directory (e.g. --out results/{}); --clean replaces only an earlier export (a directory with its index.json)",
            file.file_stem()
                .map(|s| s.to_string_lossy())
                .unwrap_or_default()
        )),
        ExportError::OtherExport { .. } => Failure::Invalid(format!(
            "error: {e}\n  help: pass --clean to replace it (only the files its index.json lists are removed), or choose another --out"
        )),
        _ => Failure::Stage(match e.help() {
            Some(help) => format!("error: {e}\n  help: {help}"),
            None => format!("error: {e}"),
        }),
    }
}
