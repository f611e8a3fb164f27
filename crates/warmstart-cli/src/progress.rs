//! The terminal progress bar for `run` on a TTY: a [`Reporter`] that prints finished
//! (non-cached) instances above an indicatif bar on stderr, and the summary on stdout.

use indicatif::{ProgressBar, ProgressStyle};
use warmstart::events::RunEvent;
use warmstart::{PlainReporter, Reporter, Status};

pub struct ProgressReporter {
    bar: ProgressBar,
    summary: PlainReporter<std::io::Stdout, std::io::Stderr>,
    running: usize,
    cached: usize,
    /// Running instances that are cluster jobs (queued or running there).
    jobs: std::collections::HashSet<String>,
    /// Instances already counted (one can end twice: ran, then failed to be written).
    seen: std::collections::HashSet<String>,
}

impl ProgressReporter {
    pub fn new(total: u64) -> Self {
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} [{elapsed}]")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let mut summary = PlainReporter::new(std::io::stdout(), std::io::stderr());
        summary.print_stages = false;
        ProgressReporter {
            bar,
            summary,
            running: 0,
            cached: 0,
            jobs: Default::default(),
            seen: Default::default(),
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    fn message(&self) {
        let jobs = if !self.jobs.is_empty() {
            format!(" ({} as Slurm jobs)", self.jobs.len())
        } else {
            String::new()
        };
        self.bar.set_message(format!(
            "running {}{jobs}, cached {}",
            self.running, self.cached
        ));
    }
}

impl Reporter for ProgressReporter {
    fn report(&mut self, event: &RunEvent) {
        match event {
            RunEvent::Started(_) => {
                self.running += 1;
                self.message();
            }
            RunEvent::Submitted(s) => {
                self.jobs.insert(s.label.clone());
                self.message();
            }
            RunEvent::Stage(ev) => {
                let first = self.seen.insert(ev.label.clone());
                if first && matches!(ev.status, Status::Ran | Status::Failed) {
                    self.running = self.running.saturating_sub(1);
                    self.jobs.remove(&ev.label);
                }
                if ev.status == Status::Cached {
                    self.cached += 1;
                } else if !PlainReporter::<std::io::Stdout, std::io::Stderr>::is_summed_up(ev) {
                    self.bar
                        .println(PlainReporter::<std::io::Stdout, std::io::Stderr>::stage_line(ev));
                }
                if first {
                    self.bar.inc(1);
                }
                // Records failures, listed again under the summary.
                self.summary.report(event);
                self.message();
            }
            RunEvent::Warning(_) => {
                self.bar.suspend(|| self.summary.report(event));
            }
            RunEvent::Summary(_) => {
                self.bar.finish_and_clear();
                self.summary.report(event);
            }
            _ => {}
        }
    }
    fn error(&self) -> Option<&std::io::Error> {
        self.summary.error()
    }
}
