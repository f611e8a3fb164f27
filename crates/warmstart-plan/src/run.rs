//! The scheduler: runs a [`Plan`] against a [`Store`].
//!
//! The main thread owns all scheduling state; stages run on scoped worker threads, at most
//! `jobs` thread-slots at once (a stage with a `threads` hint takes that many slots), and
//! report back over a channel. A node becomes ready when all its inputs are done; its key
//! is computed then, from its inputs' *output digests* — so an upstream that re-ran to
//! byte-identical output leaves downstream keys, and so downstream entries, unchanged.
//!
//! Per node:
//! - cached (a healthy entry exists under its key) → reported `cached`, nothing runs. This
//!   check is done inline on the main thread: it is a manifest read, and no-op re-runs of
//!   large DAGs must stay fast;
//! - otherwise, once its `gpu` device (if it has one) is free — at most one stage per
//!   device runs at a time — a worker takes the key's lock (so concurrent `warmstart run`s compute each
//!   stage once: the second finds the entry when it gets the lock), reads its inputs,
//!   runs the engine (rayon inside it uses one global pool of `jobs` threads) and encodes
//!   the output ([`Store::prepare`]): from then on its output digest is known, the node
//!   is reported `ran` and its users may start, on its in-memory outputs. The same
//!   thread then writes the entry atomically ([`Store::commit`]), still holding the
//!   key's lock, outside the `jobs` slots (write-behind, at most
//!   `MAX_PENDING_COMMITS` (16) at once). Cold runs of long chains are bound by file-system
//!   latency (fsyncs), which this overlaps across stages. The run returns only when every
//!   entry is written; one that cannot be is reported again, as `failed` (its users
//!   stand: they ran on correct outputs). An entry exists only if the stage succeeded.
//!
//! A cached input whose files turn out corrupt when read is removed and recomputed before
//! its user runs again. A failed node marks everything downstream `skipped`; independent
//! branches go on unless `fail_fast`. Cancellation (Ctrl-C) stops dispatching; running
//! stages finish and are recorded; nothing is ever half-written.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use warmstart_cache::CacheKey;
use warmstart_cache::key::{Digest, KeyInputs};
use warmstart_cache::store::{CacheError, EntryMeta, KeyLock, Lookup, PreparedEntry, Store};
use warmstart_engine::{Determinism, NamedTable, StageInput, StageRequest, Value};

use crate::plan::{Plan, label};
use crate::status::{key_inputs, node_ref};

/// How a node ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ran,
    Cached,
    Failed,
    Skipped,
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
    pub error: Option<String>,
}

impl Event {
    pub fn label(&self) -> String {
        label(&self.stage, &self.coords)
    }
}

/// What the scheduler reports while it runs.
#[derive(Debug, Clone)]
pub enum Progress {
    Started { node: usize },
    Done(Event),
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

#[derive(Clone)]
enum State {
    Waiting,
    Running,
    Done {
        digest: Option<Digest>,
        key: Option<CacheKey>,
        /// Computed in this run (outputs held in memory) vs. read from the cache.
        fresh_output: bool,
    },
}

/// A finished node: how, its output digest, and its tables if computed in this run.
type Finished = (Status, Digest, Option<Arc<Vec<NamedTable>>>);

enum WorkerResult {
    Finished {
        node: usize,
        key: CacheKey,
        outcome: Result<Finished, String>,
        duration_ms: u64,
        /// Its entry is still to be written: a `Committed` message follows. Set by the
        /// worker from whether `run_node` left a [`PendingCommit`]; `run_node` leaves it false.
        commit_pending: bool,
    },
    /// The entry of a node reported `Finished` earlier is on disk (or could not be put
    /// there: `error`).
    Committed { node: usize, error: Option<String> },
    /// A cached input's files were corrupt: recompute it, then retry this node.
    InputCorrupt {
        node: usize,
        input: usize,
        reason: String,
    },
}

/// An entry whose outputs downstream stages may already use, still to be written; the
/// key's lock is held until it is.
struct PendingCommit {
    prepared: PreparedEntry,
    ref_id: String,
    _lock: Option<KeyLock>,
}

/// At most this many entries are being written behind the scheduler at once (each holds
/// its encoded outputs in memory and a thread).
const MAX_PENDING_COMMITS: usize = 16;

/// Run every node of the plan. `on_progress` is called on the calling thread.
pub fn execute(
    plan: &Plan,
    store: &Store,
    opts: &RunOptions,
    on_progress: &mut dyn FnMut(&Progress),
) -> RunSummary {
    let started = Instant::now();
    let n = plan.nodes.len();
    let users = plan.users();
    let jobs = opts.jobs.max(1);
    // Stages that use rayon share one global pool of `jobs` threads, so `jobs` stages
    // each running par_iter never oversubscribe the machine. (Fails harmlessly if the
    // global pool already exists, e.g. a second `execute` in the same process.)
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .thread_name(|i| format!("warmstart-rayon-{i}"))
        .build_global();
    let mut state: Vec<State> = vec![State::Waiting; n];
    let remaining: Vec<usize> = plan.nodes.iter().map(|nd| nd.inputs.len()).collect();
    let mut b = Books {
        ready: (0..n).filter(|&i| remaining[i] == 0).collect(),
        remaining,
        outputs: HashMap::new(),
        pending_users: users.iter().map(Vec::len).collect(),
        summary: RunSummary::default(),
        users,
    };
    let mut used_slots = 0usize;
    let mut running = 0usize;
    // Entries being written after their node was reported (write-behind).
    let mut committing = 0usize;
    let mut stop = false;
    // GPU devices held by a running stage: one stage per device at a time.
    let mut busy_gpus: std::collections::HashSet<u32> = Default::default();

    let (tx, rx) = mpsc::channel::<WorkerResult>();
    std::thread::scope(|scope| {
        loop {
            if opts.cancel.load(Ordering::SeqCst) && !b.summary.interrupted {
                b.summary.interrupted = true;
                stop = true;
            }
            // Dispatch what is b.ready (nothing once stopped). Nodes waiting for a busy GPU
            // are set aside for this pass, so they do not hold up the rest of the queue.
            let mut gpu_wait = Vec::new();
            while let Some(&i) = b.ready.front() {
                if stop {
                    break;
                }
                let node = &plan.nodes[i];
                let slots = node.threads.min(jobs);
                if running > 0 && used_slots + slots > jobs {
                    break;
                }
                if committing >= MAX_PENDING_COMMITS {
                    break;
                }
                b.ready.pop_front();
                let digests: Vec<Digest> = node
                    .inputs
                    .iter()
                    .map(|&j| match &state[j] {
                        State::Done {
                            digest: Some(d), ..
                        } => *d,
                        _ => Digest([0; 32]),
                    })
                    .collect();
                let ki = key_inputs(plan, node, &digests);
                let key = ki.key();
                let volatile = node.determinism() == Determinism::Volatile;
                if !volatile && let Lookup::Hit(m) = store.lookup(&key) {
                    let _ = store.set_ref(&node_ref(plan, node), &key);
                    state[i] = State::Done {
                        digest: Some(m.output_digest),
                        key: Some(key),
                        fresh_output: false,
                    };
                    let ev = event(plan, i, Some(key), Status::Cached, 0, None);
                    b.complete(plan, i, &ev, on_progress);
                    continue;
                }
                if let Some(dev) = node.gpu {
                    if busy_gpus.contains(&dev) {
                        gpu_wait.push(i);
                        continue;
                    }
                    busy_gpus.insert(dev);
                }
                // Inputs: in-memory b.outputs of this run, or cached entries.
                let inputs: Vec<(usize, InputSource)> = node
                    .inputs
                    .iter()
                    .map(|&j| {
                        let src = match (&state[j], b.outputs.get(&j)) {
                            (_, Some(t)) => InputSource::Memory(t.clone()),
                            (State::Done { key: Some(k), .. }, None) => InputSource::Cache(*k),
                            _ => InputSource::Missing,
                        };
                        (j, src)
                    })
                    .collect();
                state[i] = State::Running;
                running += 1;
                used_slots += slots;
                on_progress(&Progress::Started { node: i });
                let tx = tx.clone();
                scope.spawn(move || {
                    let mut pending = None;
                    let mut r = run_node(plan, store, i, key, ki, inputs, volatile, &mut pending);
                    if let WorkerResult::Finished { commit_pending, .. } = &mut r {
                        *commit_pending = pending.is_some();
                    }
                    let _ = tx.send(r);
                    // Write-behind: users of this node already have its outputs (in
                    // memory) and its digest; the entry goes to disk here, under its lock.
                    if let Some(p) = pending {
                        let error = match store.commit(p.prepared) {
                            Ok(_) => {
                                let _ = store.set_ref(&p.ref_id, &key);
                                None
                            }
                            Err(e) => Some(format!(
                                "its output was computed but could not be stored: {e}"
                            )),
                        };
                        let _ = tx.send(WorkerResult::Committed { node: i, error });
                    }
                });
            }
            for &i in gpu_wait.iter().rev() {
                b.ready.push_front(i);
            }
            if running == 0 && committing == 0 {
                break;
            }
            let msg = match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(m) => m,
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            };
            match msg {
                WorkerResult::Finished {
                    node: i,
                    key,
                    outcome,
                    duration_ms,
                    commit_pending,
                } => {
                    running -= 1;
                    used_slots -= plan.nodes[i].threads.min(jobs);
                    if let Some(dev) = plan.nodes[i].gpu {
                        busy_gpus.remove(&dev);
                    }
                    let ev = match outcome {
                        Ok((status, digest, tables)) => {
                            if commit_pending {
                                committing += 1;
                            }
                            if let Some(t) = tables
                                && b.pending_users[i] > 0
                            {
                                b.outputs.insert(i, t);
                            }
                            state[i] = State::Done {
                                digest: Some(digest),
                                key: Some(key),
                                fresh_output: status == Status::Ran,
                            };
                            event(plan, i, Some(key), status, duration_ms, None)
                        }
                        Err(e) => {
                            state[i] = State::Done {
                                digest: None,
                                key: Some(key),
                                fresh_output: false,
                            };
                            if opts.fail_fast {
                                stop = true;
                            }
                            event(plan, i, Some(key), Status::Failed, duration_ms, Some(e))
                        }
                    };
                    let failed = ev.status == Status::Failed;
                    b.complete(plan, i, &ev, on_progress);
                    if failed {
                        skip_downstream(i, plan, &b.users, &mut state, &mut b.summary, on_progress);
                    }
                }
                WorkerResult::Committed { node: i, error } => {
                    committing -= 1;
                    if let Some(e) = error {
                        // Reported `ran` already; it is a failure after all (nothing is
                        // cached for it). Its users ran on its in-memory outputs, which
                        // were correct, so they stand.
                        let ran_ms = b
                            .summary
                            .events
                            .iter()
                            .find(|e| e.node == i)
                            .map_or(0, |e| e.duration_ms);
                        let ev = event(plan, i, key_of(&state[i]), Status::Failed, ran_ms, Some(e));
                        b.summary.ran = b.summary.ran.saturating_sub(1);
                        b.summary.failed += 1;
                        b.summary.events.retain(|e| e.node != i);
                        b.summary.events.push(ev.clone());
                        on_progress(&Progress::Done(ev));
                        if opts.fail_fast {
                            stop = true;
                        }
                    }
                }
                WorkerResult::InputCorrupt {
                    node: i,
                    input: j,
                    reason,
                } => {
                    running -= 1;
                    used_slots -= plan.nodes[i].threads.min(jobs);
                    if let Some(dev) = plan.nodes[i].gpu {
                        busy_gpus.remove(&dev);
                    }
                    // Retry `i` once `j` is recomputed.
                    state[i] = State::Waiting;
                    b.remaining[i] += 1;
                    if let State::Done {
                        key: Some(k),
                        fresh_output: false,
                        ..
                    } = state[j].clone()
                    {
                        let _ = store.remove(&k);
                        eprintln!(
                            "warning: cache entry of `{}` is corrupt ({reason}); removed, recomputing",
                            label(&plan.nodes[j].stage, &plan.nodes[j].coords)
                        );
                        // Un-finish j: every user of j that was already released waits again.
                        for &u in &b.users[j] {
                            if u != i && matches!(state[u], State::Waiting) && b.remaining[u] == 0 {
                                b.remaining[u] += 1;
                                b.ready.retain(|&r| r != u);
                            }
                        }
                        b.summary.cached = b.summary.cached.saturating_sub(1);
                        b.summary.events.retain(|e| e.node != j);
                        state[j] = State::Waiting;
                        b.ready.push_front(j);
                    }
                }
            }
        }
    });
    // Whatever never started was skipped (interrupted or fail-fast).
    for (i, st) in state.iter().enumerate() {
        if matches!(st, State::Waiting) {
            let why = if b.summary.interrupted {
                "interrupted"
            } else {
                "not started (--fail-fast)"
            };
            let ev = event(plan, i, None, Status::Skipped, 0, Some(why.into()));
            b.summary.skipped += 1;
            on_progress(&Progress::Done(ev.clone()));
            b.summary.events.push(ev);
        }
    }
    b.summary.duration_ms = started.elapsed().as_millis() as u64;
    b.summary
}

/// The key of a finished node, if it has one.
fn key_of(state: &State) -> Option<CacheKey> {
    match state {
        State::Done { key, .. } => *key,
        _ => None,
    }
}

enum InputSource {
    Memory(Arc<Vec<NamedTable>>),
    Cache(CacheKey),
    Missing,
}

fn event(
    plan: &Plan,
    i: usize,
    key: Option<CacheKey>,
    status: Status,
    duration_ms: u64,
    error: Option<String>,
) -> Event {
    Event {
        node: i,
        stage: plan.nodes[i].stage.clone(),
        coords: plan.nodes[i].coords.clone(),
        key,
        status,
        duration_ms,
        error,
    }
}

/// Scheduling bookkeeping of one `execute`: who waits on whom, what is ready, which
/// in-memory outputs are still needed, and the summary.
struct Books {
    users: Vec<Vec<usize>>,
    /// Inputs not yet done, per node.
    remaining: Vec<usize>,
    ready: std::collections::VecDeque<usize>,
    /// Outputs computed in this run, kept while a user still needs them.
    outputs: HashMap<usize, Arc<Vec<NamedTable>>>,
    /// Users not yet finished, per node.
    pending_users: Vec<usize>,
    summary: RunSummary,
}

impl Books {
    /// Record a finished node: count it, report it, release its users if it succeeded,
    /// and drop in-memory inputs nobody needs any more.
    fn complete(
        &mut self,
        plan: &Plan,
        i: usize,
        ev: &Event,
        on_progress: &mut dyn FnMut(&Progress),
    ) {
        match ev.status {
            Status::Ran => self.summary.ran += 1,
            Status::Cached => self.summary.cached += 1,
            Status::Failed => self.summary.failed += 1,
            Status::Skipped => self.summary.skipped += 1,
        }
        on_progress(&Progress::Done(ev.clone()));
        self.summary.events.push(ev.clone());
        if matches!(ev.status, Status::Ran | Status::Cached) {
            for &u in &self.users[i] {
                self.remaining[u] -= 1;
                if self.remaining[u] == 0 {
                    self.ready.push_back(u);
                }
            }
        }
        for &j in &plan.nodes[i].inputs {
            self.pending_users[j] = self.pending_users[j].saturating_sub(1);
            if self.pending_users[j] == 0 {
                self.outputs.remove(&j);
            }
        }
    }
}

fn skip_downstream(
    failed: usize,
    plan: &Plan,
    users: &[Vec<usize>],
    state: &mut [State],
    summary: &mut RunSummary,
    on_progress: &mut dyn FnMut(&Progress),
) {
    let mut stack = vec![failed];
    let failed_label = label(&plan.nodes[failed].stage, &plan.nodes[failed].coords);
    while let Some(i) = stack.pop() {
        for &u in &users[i] {
            if matches!(state[u], State::Waiting) {
                state[u] = State::Done {
                    digest: None,
                    key: None,
                    fresh_output: false,
                };
                let ev = event(
                    plan,
                    u,
                    None,
                    Status::Skipped,
                    0,
                    Some(format!("upstream `{failed_label}` failed")),
                );
                summary.skipped += 1;
                on_progress(&Progress::Done(ev.clone()));
                summary.events.push(ev);
                stack.push(u);
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn run_node(
    plan: &Plan,
    store: &Store,
    i: usize,
    key: CacheKey,
    ki: KeyInputs,
    inputs: Vec<(usize, InputSource)>,
    volatile: bool,
    commit: &mut Option<PendingCommit>,
) -> WorkerResult {
    let node = &plan.nodes[i];
    let t0 = Instant::now();
    let elapsed = |t0: Instant| t0.elapsed().as_millis() as u64;
    let fail = |e: String, t0: Instant| WorkerResult::Finished {
        node: i,
        key,
        outcome: Err(e),
        duration_ms: elapsed(t0),
        commit_pending: false,
    };
    // The lock makes concurrent runs compute each stage once; volatile stages run anyway.
    let _lock = if volatile {
        None
    } else {
        match store.lock(&key) {
            Ok(l) => Some(l),
            Err(e) => return fail(format!("cannot lock the cache entry: {e}"), t0),
        }
    };
    if !volatile && let Lookup::Hit(m) = store.lookup(&key) {
        let _ = store.set_ref(&node_ref(plan, node), &key);
        return WorkerResult::Finished {
            node: i,
            key,
            outcome: Ok((Status::Cached, m.output_digest, None)),
            duration_ms: elapsed(t0),
            commit_pending: false,
        };
    }
    let mut stage_inputs = Vec::with_capacity(inputs.len());
    for (j, src) in inputs {
        let tables: Vec<NamedTable> = match src {
            InputSource::Memory(t) => t.as_ref().clone(),
            InputSource::Cache(k) => match store.read(&k) {
                Ok(t) => t,
                Err(CacheError::Corrupt { reason, .. }) => {
                    return WorkerResult::InputCorrupt {
                        node: i,
                        input: j,
                        reason,
                    };
                }
                Err(e) => return fail(format!("cannot read input: {e}"), t0),
            },
            InputSource::Missing => {
                return fail("internal: input has no output (please report)".into(), t0);
            }
        };
        let up = &plan.nodes[j];
        stage_inputs.push(StageInput {
            stage: up.stage.clone(),
            coords: up.coords.clone(),
            tables,
        });
    }
    // Created by the engine only if it needs one (most do not); removed afterwards.
    let scratch = std::env::temp_dir().join(format!(
        "warmstart-scratch-{}-{}",
        std::process::id(),
        key.short()
    ));
    let request = StageRequest {
        stage: node.stage.clone(),
        coords: node.coords.clone(),
        kind: node.kind.name.clone(),
        params: node.params.clone(),
        seed: node.seed,
        inputs: stage_inputs,
        threads: node.threads,
        scratch_dir: Some(scratch.clone()),
        base_dir: plan
            .experiment
            .source
            .path
            .parent()
            .map(|p| p.to_path_buf()),
    };
    let result =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| node.engine.run(&request)));
    if scratch.exists() {
        let _ = std::fs::remove_dir_all(&scratch);
    }
    let output = match result {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => return fail(e.to_string(), t0),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            return fail(
                format!("the engine panicked: {msg} (this is a bug in the engine)"),
                t0,
            );
        }
    };
    let duration_ms = elapsed(t0);
    let meta = EntryMeta {
        experiment: plan.experiment.name.clone(),
        stage: node.stage.clone(),
        coords: node.coords.clone(),
        duration_ms,
    };
    // Encode now: the output digest is what downstream keys need. A volatile stage's
    // encoding only gives that digest; any other's entry is written behind.
    match store.prepare(&key, &ki, &output.tables, meta) {
        Ok(prepared) => {
            let digest = prepared.manifest().output_digest;
            if !volatile {
                *commit = Some(PendingCommit {
                    prepared,
                    ref_id: node_ref(plan, node),
                    _lock,
                });
            }
            WorkerResult::Finished {
                node: i,
                key,
                outcome: Ok((Status::Ran, digest, Some(Arc::new(output.tables)))),
                duration_ms,
                commit_pending: false,
            }
        }
        Err(e) => fail(format!("cannot store the output: {e}"), t0),
    }
}
