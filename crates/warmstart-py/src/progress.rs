//! Running with progress in a notebook: the facade's `run` on a worker thread, its events
//! brought to the interpreter's thread, where they are printed to Python's `sys.stdout`
//! (the facade's `PlainReporter`; Jupyter shows Python's streams, not the process's file
//! descriptors) or handed to a callback.
//!
//! The interpreter is released while waiting, and Ctrl-C is checked between events (at
//! least every [`POLL`]): it sets the run's cancel flag, so no new stage starts, and
//! `KeyboardInterrupt` is raised once the run has ended (entries of finished stages are
//! written either way).

use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use warmstart::events::RunEvent;
use warmstart::{PlainReporter, Plan, Reporter, RunOptions, Status, Store};

use crate::errors::CacheError;

/// How often the waiting thread looks for Ctrl-C when no event comes.
const POLL: Duration = Duration::from_millis(100);

/// Where a run's events go.
pub enum Progress {
    /// Nowhere.
    Quiet,
    /// Lines on `sys.stdout` (warnings on `sys.stderr`).
    Lines,
    /// A Python callable, given each event as a dict.
    Callback(Py<PyAny>),
}

impl Progress {
    /// `None`/`True` → lines, `False` → quiet, a callable → callback.
    pub fn from_arg(arg: Option<Bound<'_, PyAny>>) -> PyResult<Progress> {
        let Some(arg) = arg else {
            return Ok(Progress::Lines);
        };
        if arg.is_callable() {
            return Ok(Progress::Callback(arg.unbind()));
        }
        match arg.extract::<bool>() {
            Ok(true) => Ok(Progress::Lines),
            Ok(false) => Ok(Progress::Quiet),
            Err(_) => Err(PyTypeError::new_err(
                "progress must be True, False or a callable taking an event dict",
            )),
        }
    }
}

/// The totals of a run, and what failed.
#[pyclass(frozen, get_all, module = "warmstart")]
pub struct RunSummary {
    /// The experiment's name.
    experiment: String,
    /// Stage instances in the plan.
    stages: usize,
    /// Instances that ran.
    ran: usize,
    /// Instances found in the cache.
    cached: usize,
    /// Instances that failed.
    failed: usize,
    /// Instances not run (an input failed, fail-fast, interrupted).
    skipped: usize,
    /// Whether Ctrl-C stopped the run.
    interrupted: bool,
    /// Wall time in seconds.
    seconds: f64,
    /// `(label, error)` of every failed instance.
    failures: Vec<(String, String)>,
}

#[pymethods]
impl RunSummary {
    /// Nothing failed, nothing was skipped, no interruption.
    #[getter]
    fn success(&self) -> bool {
        self.failed == 0 && self.skipped == 0 && !self.interrupted
    }

    fn __repr__(&self) -> String {
        format!(
            "RunSummary({}: {} stages — {} ran, {} cached, {} failed, {} skipped; {:.2} s)",
            self.experiment,
            self.stages,
            self.ran,
            self.cached,
            self.failed,
            self.skipped,
            self.seconds
        )
    }
}

/// Sends every event to the interpreter's thread.
struct Forward(Sender<RunEvent>);

impl Reporter for Forward {
    fn report(&mut self, event: &RunEvent) {
        // The receiver lives until the run has ended; a send cannot fail before.
        let _ = self.0.send(event.clone());
    }
}

/// Text for a Python stream (`sys.stdout`), written when flushed.
struct PyStream {
    name: &'static str,
    buf: Vec<u8>,
}

impl Write for PyStream {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&std::mem::take(&mut self.buf)).into_owned();
        Python::attach(|py| -> PyResult<()> {
            let stream = py.import("sys")?.getattr(self.name)?;
            stream.call_method1("write", (text,))?;
            stream.call_method0("flush")?;
            Ok(())
        })
        .map_err(std::io::Error::other)
    }
}

/// What the interpreter's thread does with each event.
enum Sink {
    Quiet,
    Lines(PlainReporter<PyStream, PyStream>),
    Callback {
        f: Py<PyAny>,
        /// The first exception the callback raised (it is not called again).
        error: Option<PyErr>,
    },
}

impl Sink {
    fn new(progress: Progress) -> Sink {
        match progress {
            Progress::Quiet => Sink::Quiet,
            Progress::Lines => {
                let stream = |name| PyStream {
                    name,
                    buf: Vec::new(),
                };
                let mut r = PlainReporter::new(stream("stdout"), stream("stderr"));
                // A re-run of a large experiment would print thousands of `cached` lines;
                // the summary counts them.
                r.show_cached = false;
                Sink::Lines(r)
            }
            Progress::Callback(f) => Sink::Callback { f, error: None },
        }
    }

    /// Hand on one event; `false` when the callback failed (the run should stop).
    fn report(&mut self, py: Python<'_>, event: &RunEvent) -> bool {
        match self {
            Sink::Quiet => true,
            Sink::Lines(r) => {
                r.report(event);
                true
            }
            Sink::Callback { error: Some(_), .. } => false,
            Sink::Callback { f, error } => {
                let called = py
                    .import("json")
                    .and_then(|json| json.call_method1("loads", (event.to_json_line(),)))
                    .and_then(|dict| f.call1(py, (dict,)));
                if let Err(e) = called {
                    *error = Some(e);
                    return false;
                }
                true
            }
        }
    }
}

/// Run `plan` against `store`, reporting to `progress`; see the module docs.
pub fn run(
    py: Python<'_>,
    plan: &Plan,
    store: &Store,
    opts: &RunOptions,
    progress: Progress,
) -> PyResult<RunSummary> {
    let mut sink = Sink::new(progress);
    let (tx, rx) = mpsc::channel();
    let mut interrupt: Option<PyErr> = None;
    let outcome = std::thread::scope(|s| {
        let worker = s.spawn(move || warmstart::run(plan, store, opts, &mut Forward(tx)));
        let mut rx: Option<Receiver<RunEvent>> = Some(rx);
        while let Some(r) = rx.take() {
            // Waiting without the interpreter: other Python threads (and the notebook's
            // kernel) go on meanwhile.
            let (r, got) = py.detach(move || {
                let got = r.recv_timeout(POLL);
                (r, got)
            });
            match got {
                Ok(event) => {
                    if !sink.report(py, &event) {
                        opts.cancel.store(true, Ordering::Relaxed);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                // The run has ended and every event was received.
                Err(RecvTimeoutError::Disconnected) => break,
            }
            rx = Some(r);
            if interrupt.is_none()
                && let Err(e) = py.check_signals()
            {
                opts.cancel.store(true, Ordering::Relaxed);
                interrupt = Some(e);
            }
        }
        worker.join()
    });
    let summary = match outcome {
        Ok(Ok(summary)) => summary,
        Ok(Err(e)) => return Err(CacheError::new_err(e.to_string())),
        Err(panic) => std::panic::resume_unwind(panic),
    };
    if let Some(e) = interrupt {
        return Err(e);
    }
    if let Sink::Callback { error: Some(e), .. } = sink {
        return Err(e);
    }
    let mut failures: Vec<(String, String)> = Vec::new();
    for ev in summary.events.iter().filter(|e| e.status == Status::Failed) {
        let label = ev.label();
        failures.retain(|(l, _)| *l != label);
        failures.push((label, ev.error.clone().unwrap_or_default()));
    }
    Ok(RunSummary {
        experiment: plan.experiment.name.clone(),
        stages: plan.nodes.len(),
        ran: summary.ran,
        cached: summary.cached,
        failed: summary.failed,
        skipped: summary.skipped,
        interrupted: summary.interrupted,
        seconds: summary.duration_ms as f64 / 1000.0,
        failures,
    })
}
