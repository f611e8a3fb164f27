//! Running a [`Plan`] against a [`Store`]: the run's vocabulary (statuses, events,
//! options, summary) and the driver that connects the [`Scheduler`] state machine to an
//! [`Executor`].
//!
//! A node becomes ready when all its inputs are done; its key is computed then, from its
//! inputs' *output digests* — so an upstream that re-ran to byte-identical output leaves
//! downstream keys, and so downstream entries, unchanged.
//!
//! Per node:
//! - cached (a healthy entry exists under its key) → reported `cached`, nothing runs. The
//!   driver checks this inline: it is a manifest read, and no-op re-runs of large DAGs
//!   must stay fast;
//! - otherwise, once its `gpu` device (if it has one) is free — at most one stage per
//!   device runs at a time — it is submitted to the executor. The job
//!   ([`crate::worker::run_job`]) takes the key's lock (so concurrent `warmstart run`s
//!   compute each stage once: the second finds the entry when it gets the lock), reads
//!   its inputs, runs the engine and encodes the output: from then on its output digest
//!   is known, the node is reported `ran` and its users may start, on its in-memory
//!   outputs. The entry is then written atomically behind the scheduler (write-behind, at
//!   most [`crate::sched::MAX_PENDING_COMMITS`] at once); the run returns only when every
//!   entry is written; one that cannot be is reported again, as `failed` (its users stand:
//!   they ran on correct outputs). An entry exists only if the stage succeeded.
//!
//! A cached input whose files turn out corrupt when read is quarantined (a warning event
//! says so) and recomputed before its users run again. A failed node marks everything
//! downstream `skipped`; independent branches go on unless `fail_fast`. Cancellation
//! (Ctrl-C) stops dispatching; running stages finish and are recorded; nothing is ever
//! half-written.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use warmstart_cache::store::Store;
use warmstart_cache::{CacheKey, DigestLookup};
use warmstart_engine::{Determinism, Value};

use crate::executor::{Completion, Executor, Job, LocalExecutor, Tables};
use crate::plan::{Plan, label};
use crate::sched::{Dispatch, JobOutcome, Scheduler, Topology};
use crate::status::{key_inputs, node_ref};

/// How a node ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ran,
    Cached,
    Failed,
    Skipped,
}

/// Why a node never ran.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SkipReason {
    /// An input (directly or further up) failed.
    UpstreamFailed { upstream: String },
    /// Another stage failed and `--fail-fast` stopped the run.
    FailFast,
    /// The run was interrupted (Ctrl-C).
    Cancelled,
    /// It runs on as a cluster job that the run stopped waiting for (`--detach`, or
    /// Ctrl-C under a cluster executor); a later run picks up its result.
    Detached { job: String },
    /// It should have run and did not: a bug in the scheduler.
    Internal { detail: String },
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::UpstreamFailed { upstream } => write!(f, "upstream `{upstream}` failed"),
            SkipReason::FailFast => {
                write!(
                    f,
                    "not started: another stage failed and --fail-fast was given"
                )
            }
            SkipReason::Cancelled => write!(f, "interrupted"),
            SkipReason::Detached { job } => {
                write!(f, "still running as cluster job {job} (detached)")
            }
            SkipReason::Internal { detail } => write!(f, "internal error: {detail}"),
        }
    }
}

/// A node finished (in any way).
#[derive(Debug, Clone)]
pub struct Event {
    pub node: usize,
    pub stage: String,
    pub coords: Vec<(String, Value)>,
    pub key: Option<CacheKey>,
    pub status: Status,
    pub duration_ms: u64,
    /// The failure, or for a skipped node its reason in words.
    pub error: Option<String>,
    /// Set for skipped nodes.
    pub skip_reason: Option<SkipReason>,
}

impl Event {
    pub fn label(&self) -> String {
        label(&self.stage, &self.coords)
    }
}

/// Something the user should know that is not a node's end (library crates never print).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The node it concerns, if any.
    pub node: Option<usize>,
    pub message: String,
}

/// What the scheduler reports while it runs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Progress {
    Started {
        node: usize,
    },
    /// A started node is a cluster job with this id.
    Submitted {
        node: usize,
        job: String,
    },
    Done(Event),
    Warning(Warning),
}

pub struct RunOptions {
    /// Thread slots (default: available cores).
    pub jobs: usize,
    pub fail_fast: bool,
    /// Set from a signal handler to stop dispatching.
    pub cancel: Arc<AtomicBool>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            fail_fast: false,
            cancel: Arc::new(AtomicBool::new(false)),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    pub ran: usize,
    pub cached: usize,
    pub failed: usize,
    pub skipped: usize,
    pub duration_ms: u64,
    pub interrupted: bool,
    /// One per node, in completion order.
    pub events: Vec<Event>,
}

impl RunSummary {
    pub fn success(&self) -> bool {
        self.failed == 0 && self.skipped == 0 && !self.interrupted
    }
}

/// Run every node of the plan on this machine's threads. `on_progress` is called on the
/// calling thread.
pub fn execute(
    plan: &Plan,
    store: &Store,
    opts: &RunOptions,
    on_progress: &mut dyn FnMut(&Progress),
) -> RunSummary {
    // Stages that use rayon share one global pool of `jobs` threads, so `jobs` stages
    // each running par_iter never oversubscribe the machine. (Fails harmlessly if the
    // global pool already exists, e.g. a second `execute` in the same process.)
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.max(1))
        .thread_name(|i| format!("warmstart-rayon-{i}"))
        .build_global();
    std::thread::scope(|scope| {
        let mut executor = LocalExecutor::new(scope, plan, store);
        drive(plan, store, &mut executor, opts, on_progress)
    })
}

/// The scheduler's view of a plan.
pub fn topology(plan: &Plan) -> Topology {
    Topology {
        inputs: plan.nodes.iter().map(|n| n.inputs.clone()).collect(),
        slots: plan.nodes.iter().map(|n| n.threads).collect(),
        gpu: plan.nodes.iter().map(|n| n.gpu).collect(),
        names: plan
            .nodes
            .iter()
            .map(|n| (n.stage.clone(), n.coords.clone()))
            .collect(),
    }
}

/// Run every node of the plan through `executor`: cache lookups here, everything that
/// runs there, every decision in the [`Scheduler`].
pub fn drive(
    plan: &Plan,
    store: &Store,
    executor: &mut dyn Executor,
    opts: &RunOptions,
    on_progress: &mut dyn FnMut(&Progress),
) -> RunSummary {
    drive_topology(plan, store, executor, topology(plan), opts, on_progress)
}

/// [`drive`] with a topology of the caller's making: a cluster executor gives each job its
/// own GPU, so it clears the `gpu` devices that serialize local GPU stages.
pub fn drive_topology(
    plan: &Plan,
    store: &Store,
    executor: &mut dyn Executor,
    topology: Topology,
    opts: &RunOptions,
    on_progress: &mut dyn FnMut(&Progress),
) -> RunSummary {
    let started = Instant::now();
    let mut sched: Scheduler<Tables> = Scheduler::new(topology, opts.jobs, opts.fail_fast);
    let mut emit = |sched: &mut Scheduler<Tables>| {
        for p in sched.take_progress() {
            on_progress(&p);
        }
    };
    loop {
        if opts.cancel.load(Ordering::SeqCst) && !sched.interrupted() {
            sched.on_cancel();
        }
        while let Some(i) = sched.next_ready() {
            start(plan, store, executor, &mut sched, i);
            emit(&mut sched);
        }
        if sched.is_idle() {
            break;
        }
        match executor.next_completion(Duration::from_millis(100)) {
            None => continue,
            Some(Completion::Finished {
                node,
                key,
                outcome,
                duration_ms,
                warnings,
            }) => {
                for w in warnings {
                    sched.on_warning(Some(node), w);
                }
                sched.on_finished(node, key, outcome, duration_ms);
            }
            Some(Completion::Committed { node, error }) => sched.on_committed(node, error),
            Some(Completion::Submitted { node, job }) => sched.on_submitted(node, job),
            Some(Completion::Detached { node, job }) => sched.on_detached(node, job),
            Some(Completion::InputCorrupt {
                node,
                input,
                reason,
            }) => {
                if let Some(key) = sched.on_input_corrupt(node, input, &reason) {
                    // Moved to quarantine (kept for a post-mortem, never repaired in
                    // place): the next lookup misses, so the input is recomputed, under
                    // its lock, like any missing entry. If another process holds the lock
                    // it is replacing the entry already, and the lookup will find that.
                    let _ = store.quarantine(&key);
                }
            }
        }
        emit(&mut sched);
    }
    // Every entry is written by now: record them for the next run's lookups.
    store.flush_index();
    let (summary, rest) = sched.finish(started.elapsed().as_millis() as u64);
    for p in rest {
        on_progress(&p);
    }
    summary
}

/// Compute ready node `i`'s key; report it cached or hand it to the executor.
fn start(
    plan: &Plan,
    store: &Store,
    executor: &mut dyn Executor,
    sched: &mut Scheduler<Tables>,
    i: usize,
) {
    let node = &plan.nodes[i];
    let key_inputs = key_inputs(plan, node, &sched.input_digests(i));
    let key = key_inputs.key();
    let volatile = node.determinism() == Determinism::Volatile;
    if !volatile
        && !executor.has_own_job(i)
        && let DigestLookup::Hit(digest) = store.lookup_digest(&key)
    {
        let _ = store.note_ref(&node_ref(plan, node), &key);
        sched.on_cached(i, key, digest);
        return;
    }
    // The same key is being computed by another node of this run: wait for it.
    if !volatile && sched.join_twin(i, key) {
        return;
    }
    if sched.dispatch(i, key) == Dispatch::GpuBusy {
        return;
    }
    match sched.input_sources(i) {
        Some(inputs) => executor.submit(Job {
            node: i,
            key,
            key_inputs,
            inputs,
            volatile,
        }),
        None => sched.on_finished(
            i,
            key,
            JobOutcome::Failed("internal: an input has no output (please report)".into()),
            0,
        ),
    }
}
