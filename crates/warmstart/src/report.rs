//! Where run events go: the [`Reporter`] trait and the two reporters that only need a
//! writer — plain lines ([`PlainReporter`]) and JSON lines ([`JsonReporter`]). A terminal
//! progress bar is a front end's business (the CLI has one).
//!
//! Reporters swallow write errors into [`Reporter::error`] instead of failing the run: a
//! closed pipe must not turn a finished computation into a lost one (entries are written
//! either way); the caller decides what a write error means for its exit code.

use std::io::Write;

use warmstart_plan::run::{SkipReason, Status};

use crate::events::{RunEvent, StageEvent};

/// Receives every event of a run, in order, on the thread that called [`crate::run()`].
pub trait Reporter {
    /// Receive one event.
    fn report(&mut self, event: &RunEvent);
    /// The first error writing output, if any.
    fn error(&self) -> Option<&std::io::Error> {
        None
    }
}

/// A reporter that discards everything.
impl Reporter for () {
    fn report(&mut self, _: &RunEvent) {}
}

/// `{"v":1,"event":…}` lines, one per event.
pub struct JsonReporter<W: Write> {
    out: W,
    /// Warnings are also written here as plain text (stderr in the CLI), so a person
    /// watching a `--json` run sees them.
    warnings: Option<Box<dyn Write>>,
    error: Option<std::io::Error>,
}

impl<W: Write> JsonReporter<W> {
    /// JSON lines to `out`.
    pub fn new(out: W) -> Self {
        JsonReporter {
            out,
            warnings: None,
            error: None,
        }
    }

    /// Also write warnings, as `warning: …` lines, to `to`.
    pub fn with_plain_warnings(mut self, to: Box<dyn Write>) -> Self {
        self.warnings = Some(to);
        self
    }
}

impl<W: Write> Reporter for JsonReporter<W> {
    fn report(&mut self, event: &RunEvent) {
        if let (RunEvent::Warning(w), Some(to)) = (event, self.warnings.as_mut()) {
            // Best effort: the JSON line below is the record.
            let _ = writeln!(to, "warning: {}", w.message);
        }
        if self.error.is_some() {
            return;
        }
        let mut r = writeln!(self.out, "{}", event.to_json_line());
        if r.is_ok() && flush_after(event) {
            r = self.out.flush();
        }
        if let Err(e) = r {
            self.error = Some(e);
        }
    }
    fn error(&self) -> Option<&std::io::Error> {
        self.error.as_ref()
    }
}

/// Whether a reporter should flush after `event`: a no-op run's thousands of `cached`
/// lines go out in a few writes, while anything that took time (a stage that ran or
/// failed, a warning, the summary) is seen at once.
fn flush_after(event: &RunEvent) -> bool {
    !matches!(event, RunEvent::Stage(s) if s.status == Status::Cached)
        && !matches!(event, RunEvent::Started(_))
}

/// Human-readable lines: one per finished instance, then a summary and the failures.
/// Warnings go to `warnings` (stderr in the CLI), everything else to `out`.
pub struct PlainReporter<W: Write, E: Write> {
    out: W,
    warnings: E,
    /// Also print cached instances.
    pub show_cached: bool,
    /// Print a line per finished instance (off when a progress bar shows them; failures
    /// are still listed under the summary).
    pub print_stages: bool,
    failures: Vec<(String, String)>,
    /// Instances a Ctrl-C kept from starting, and those left running as cluster jobs:
    /// summed up in one line under the summary rather than a line each.
    not_started: usize,
    detached: usize,
    error: Option<std::io::Error>,
}

impl<W: Write, E: Write> PlainReporter<W, E> {
    /// Stage lines and the summary to `out`, warnings to `warnings`.
    pub fn new(out: W, warnings: E) -> Self {
        PlainReporter {
            out,
            warnings,
            show_cached: true,
            print_stages: true,
            failures: Vec::new(),
            not_started: 0,
            detached: 0,
            error: None,
        }
    }

    /// Whether `ev` is summed up under the summary instead of getting its own line.
    pub fn is_summed_up(ev: &StageEvent) -> bool {
        matches!(
            ev.skip_reason,
            Some(SkipReason::Cancelled | SkipReason::Detached { .. })
        )
    }

    /// The line for a finished instance (also used by the CLI's progress bar).
    pub fn stage_line(ev: &StageEvent) -> String {
        let status = match ev.status {
            Status::Ran => "ran",
            Status::Cached => "cached",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
        };
        let key = ev
            .key
            .as_deref()
            .map(|k| &k[..k.len().min(12)])
            .unwrap_or("");
        let mut line = format!(
            "{status:<8}{:<40} {:>7} ms  {key}",
            ev.label, ev.duration_ms
        );
        if let Some(e) = &ev.error {
            line.push_str(&format!(
                "\n        error: {}",
                e.replace('\n', "\n        ")
            ));
        }
        line
    }

    fn write(&mut self, text: &str, to_warnings: bool) {
        if self.error.is_some() {
            return;
        }
        let r = if to_warnings {
            writeln!(self.warnings, "{text}").and_then(|()| self.warnings.flush())
        } else {
            writeln!(self.out, "{text}")
        };
        if let Err(e) = r {
            self.error = Some(e);
        }
    }
}

impl<W: Write, E: Write> Reporter for PlainReporter<W, E> {
    fn report(&mut self, event: &RunEvent) {
        self.report_unflushed(event);
        if self.error.is_none()
            && flush_after(event)
            && let Err(e) = self.out.flush()
        {
            self.error = Some(e);
        }
    }
    fn error(&self) -> Option<&std::io::Error> {
        self.error.as_ref()
    }
}

impl<W: Write, E: Write> PlainReporter<W, E> {
    fn report_unflushed(&mut self, event: &RunEvent) {
        match event {
            RunEvent::Started(_) => {}
            RunEvent::Submitted(s) => {
                if self.print_stages {
                    self.write(
                        &format!("submitted {} as Slurm job {}", s.label, s.job),
                        false,
                    );
                }
            }
            RunEvent::Stage(ev) => {
                if ev.status == Status::Failed {
                    self.failures.retain(|(l, _)| *l != ev.label);
                    let error = ev.error.clone().unwrap_or_default();
                    self.failures.push((ev.label.clone(), error));
                }
                match ev.skip_reason {
                    Some(SkipReason::Cancelled) => self.not_started += 1,
                    Some(SkipReason::Detached { .. }) => self.detached += 1,
                    _ => {}
                }
                if Self::is_summed_up(ev) {
                    return;
                }
                if self.print_stages && (ev.status != Status::Cached || self.show_cached) {
                    self.write(&Self::stage_line(ev), false);
                }
            }
            RunEvent::Warning(w) => self.write(&format!("warning: {}", w.message), true),
            RunEvent::Summary(s) => {
                let s = &s.summary;
                let text = format!(
                    "{}: {} stages — {} ran, {} cached, {} failed, {} skipped ({:.2} s)",
                    s.experiment,
                    s.stages,
                    s.ran,
                    s.cached,
                    s.failed,
                    s.skipped,
                    s.duration_ms as f64 / 1000.0
                );
                self.write(&text, false);
                for (l, e) in std::mem::take(&mut self.failures) {
                    self.write(&format!("  failed: {l}: {e}"), false);
                }
                if self.detached > 0 {
                    let n = std::mem::take(&mut self.detached);
                    self.write(
                        &format!("  {n} instance(s) go on as cluster jobs; run again to pick up their results (`warmstart status` shows them)"),
                        false,
                    );
                }
                if self.not_started > 0 {
                    let n = std::mem::take(&mut self.not_started);
                    self.write(
                        &format!("  interrupted: {n} instance(s) not started; run again to continue (finished ones are cached)"),
                        false,
                    );
                }
            }
        }
    }
}
