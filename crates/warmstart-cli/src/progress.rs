//! The terminal progress view for `run` on a TTY: a [`Reporter`] that prints finished
//! (non-cached) instances above an indicatif bar on stderr, lists the running instances
//! under it with their elapsed time against how long they took last time, shows an ETA
//! for the whole run when every instance left has a recorded duration, and prints the
//! summary on stdout. The estimates and the ETA are the facade's
//! ([`warmstart::estimate`]); this module only draws them.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressState, ProgressStyle};
use warmstart::estimate::{EtaTracker, Running};
use warmstart::events::RunEvent;
use warmstart::{PlainReporter, Reporter, Status};

/// At most this many running instances get a line; the last line then says how many more
/// run (a run with `--jobs 64` must not push the bar off the screen).
const MAX_LINES: usize = 8;

/// How often the elapsed times and the ETA are redrawn between events.
const TICK: Duration = Duration::from_millis(500);

type Plain = PlainReporter<std::io::Stdout, std::io::Stderr>;

/// What the bars draw from: the run as the tracker follows it, and when it began.
struct View {
    tracker: EtaTracker,
    began: Instant,
}

impl View {
    fn now_ms(&self) -> u64 {
        self.began.elapsed().as_millis() as u64
    }
}

/// The view, shared with the bars' draw callbacks (indicatif draws on its own ticker
/// threads). Never held while calling into a bar: a bar may draw at once and lock it.
type Shared = Arc<Mutex<View>>;

fn lock(view: &Shared) -> std::sync::MutexGuard<'_, View> {
    view.lock().unwrap_or_else(PoisonError::into_inner)
}

pub struct ProgressReporter {
    multi: MultiProgress,
    bar: ProgressBar,
    /// One line per shown running instance, under the bar.
    lines: Vec<ProgressBar>,
    view: Shared,
    summary: Plain,
    cached: usize,
    /// Running instances that are cluster jobs (queued or running there).
    jobs: std::collections::HashSet<String>,
    /// Instances already counted (one can end twice: ran, then failed to be written).
    seen: std::collections::HashSet<String>,
}

impl ProgressReporter {
    /// A view of a run of `total` instances, `tracker` following its estimates.
    pub fn new(total: u64, tracker: EtaTracker) -> Self {
        let view: Shared = Arc::new(Mutex::new(View {
            tracker,
            began: Instant::now(),
        }));
        let multi = MultiProgress::new();
        let bar = multi.add(ProgressBar::new(total));
        let eta_view = view.clone();
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}{eta} [{elapsed}]")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .with_key(
                    "eta",
                    move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
                        let v = lock(&eta_view);
                        let _ = w.write_str(&eta_text(v.tracker.eta_ms(v.now_ms())));
                    },
                ),
        );
        bar.enable_steady_tick(TICK);
        let mut summary = PlainReporter::new(std::io::stdout(), std::io::stderr());
        summary.print_stages = false;
        ProgressReporter {
            multi,
            bar,
            lines: Vec::new(),
            view,
            summary,
            cached: 0,
            jobs: Default::default(),
            seen: Default::default(),
        }
    }

    pub fn finish(&mut self) {
        self.clear();
    }

    fn clear(&mut self) {
        for line in self.lines.drain(..) {
            line.finish_and_clear();
            self.multi.remove(&line);
        }
        self.bar.finish_and_clear();
    }

    fn message(&self, running: usize) {
        let jobs = if !self.jobs.is_empty() {
            format!(" ({} as Slurm jobs)", self.jobs.len())
        } else {
            String::new()
        };
        self.bar
            .set_message(format!("running {running}{jobs}, cached {}", self.cached));
    }

    /// One line per running instance (at most [`MAX_LINES`]): add or remove lines from
    /// the end; each line draws the running instance of its position when it draws.
    fn sync_lines(&mut self, running: usize) {
        let want = running.min(MAX_LINES);
        while self.lines.len() < want {
            let line = self.multi.add(ProgressBar::new_spinner());
            line.set_style(line_style(self.view.clone(), self.lines.len()));
            line.enable_steady_tick(TICK);
            self.lines.push(line);
        }
        while self.lines.len() > want {
            if let Some(line) = self.lines.pop() {
                line.finish_and_clear();
                self.multi.remove(&line);
            }
        }
    }

    /// Pass `event` to the tracker; how many instances run now.
    fn track(&self, event: &RunEvent) -> usize {
        let mut v = lock(&self.view);
        let now = v.now_ms();
        v.tracker.observe(event, now);
        v.tracker.running(now).len()
    }
}

/// The style of the line at `slot` under the bar: the `slot`-th running instance, or on
/// the last line, when more run than there are lines, how many more.
fn line_style(view: Shared, slot: usize) -> ProgressStyle {
    ProgressStyle::with_template("{running}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .with_key(
            "running",
            move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
                let v = lock(&view);
                let running = v.tracker.running(v.now_ms());
                let text = if slot + 1 == MAX_LINES && running.len() > MAX_LINES {
                    format!("  … and {} more running", running.len() - slot)
                } else {
                    running.get(slot).map(running_line).unwrap_or_default()
                };
                let _ = w.write_str(&text);
            },
        )
}

/// `12s`, `3m05s`, `1h02m` (to the nearest second: 1.5 s is `2s`).
pub fn duration_text(ms: u64) -> String {
    let s = ms.saturating_add(500) / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

/// A running instance's line: its label, how long it has run, and how long it took last
/// time (`~`) when that is known.
pub fn running_line(r: &Running) -> String {
    match r.estimate_ms {
        Some(e) => format!(
            "  ▸ {}  {} / ~{}",
            r.label,
            duration_text(r.elapsed_ms),
            duration_text(e)
        ),
        None => format!("  ▸ {}  {}", r.label, duration_text(r.elapsed_ms)),
    }
}

/// ` · ETA ~3m05s`, or nothing when the time left is unknown or under half a second (the
/// stages left are due, or overdue, by their last durations: `~0s` would say nothing).
pub fn eta_text(eta_ms: Option<u64>) -> String {
    match eta_ms {
        Some(ms) if ms >= 500 => format!(" · ETA ~{}", duration_text(ms)),
        _ => String::new(),
    }
}

impl Reporter for ProgressReporter {
    fn report(&mut self, event: &RunEvent) {
        match event {
            RunEvent::Started(_) => {
                let running = self.track(event);
                self.sync_lines(running);
                self.message(running);
            }
            RunEvent::Submitted(s) => {
                self.jobs.insert(s.label.clone());
                let running = self.track(event);
                self.message(running);
            }
            RunEvent::Stage(ev) => {
                let first = self.seen.insert(ev.label.clone());
                if first && matches!(ev.status, Status::Ran | Status::Failed) {
                    self.jobs.remove(&ev.label);
                }
                let running = self.track(event);
                if ev.status == Status::Cached {
                    self.cached += 1;
                } else if !Plain::is_summed_up(ev) {
                    let _ = self.multi.println(Plain::stage_line(ev));
                }
                if first {
                    self.bar.inc(1);
                }
                // Records failures, listed again under the summary.
                self.summary.report(event);
                self.sync_lines(running);
                self.message(running);
            }
            RunEvent::Warning(_) => {
                self.multi.suspend(|| self.summary.report(event));
            }
            RunEvent::Summary(_) => {
                self.clear();
                self.summary.report(event);
            }
            _ => {}
        }
    }
    fn error(&self) -> Option<&std::io::Error> {
        self.summary.error()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_a_person_writes_them() {
        assert_eq!(duration_text(0), "0s");
        assert_eq!(duration_text(1_500), "2s");
        assert_eq!(duration_text(59_400), "59s");
        assert_eq!(duration_text(59_600), "1m00s");
        assert_eq!(duration_text(185_000), "3m05s");
        assert_eq!(duration_text(3_720_000), "1h02m");
    }

    #[test]
    fn a_running_line_shows_elapsed_against_last_time_when_known() {
        let r = Running {
            label: "finetune[rho=0.5]".into(),
            elapsed_ms: 12_400,
            estimate_ms: Some(30_000),
        };
        assert_eq!(running_line(&r), "  ▸ finetune[rho=0.5]  12s / ~30s");
        let r = Running {
            estimate_ms: None,
            ..r
        };
        assert_eq!(running_line(&r), "  ▸ finetune[rho=0.5]  12s");
    }

    #[test]
    fn the_eta_is_said_approximately_or_not_at_all() {
        assert_eq!(eta_text(Some(125_000)), " · ETA ~2m05s");
        assert_eq!(eta_text(None), "");
        assert_eq!(eta_text(Some(0)), "");
        assert_eq!(eta_text(Some(499)), "");
        assert_eq!(eta_text(Some(500)), " · ETA ~1s");
    }
}
