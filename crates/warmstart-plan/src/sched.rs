//! The scheduler as a pure state machine: which node may start, what happens when one
//! finishes, is committed, finds a corrupt input, or the run is cancelled.
//!
//! [`Scheduler`] does no I/O and knows nothing of threads, engines or the cache layout:
//! the driver ([`crate::run::drive`]) asks it for the next node to start
//! ([`Scheduler::next_ready`]), does the cache lookup and the submission to an
//! [`Executor`](crate::executor::Executor) itself, and feeds every outcome back through
//! one transition (`on_cached`, `dispatch`, `on_finished`, `on_committed`,
//! `on_input_corrupt`, `on_cancel`). Each transition appends the [`Progress`] events it
//! causes to an outbox that the driver drains ([`Scheduler::take_progress`]), so the whole
//! life of a run can be replayed in a unit test without a disk or a thread.
//!
//! Invariant kept by every transition: for a node that is `Waiting` or `Ready`,
//! `remaining[node]` is the number of its input edges whose source is not `Done`. A node is
//! `Ready` exactly when that number is 0 (it is then in the ready queue or waiting for its
//! GPU). When a cached input turns out corrupt, the input is *un-done* and every user that
//! had counted it is put back to waiting, whatever state it had reached — this is what
//! keeps a corrupt input read by several concurrent users from stranding any of them.
//!
//! Identical instances run once: a node whose key equals that of a node already running
//! (a stage swept over an axis its params do not use) becomes that node's *twin*
//! ([`Scheduler::join_twin`]): it takes no slot and, when the leader ends, is done with the
//! same output (reported `cached`) or fails with the leader's error.
//!
//! A node that never ran carries a [`SkipReason`]: an upstream failure, `--fail-fast`, a
//! cancellation, or (a bug) `Internal`.

use std::collections::{HashMap, HashSet, VecDeque};

use warmstart_cache::CacheKey;
use warmstart_cache::key::Digest;

use crate::run::{Event, Progress, RunSummary, SkipReason, Status, Warning};

/// At most this many entries are being written behind the scheduler at once (each holds
/// its encoded outputs in memory and a thread).
pub const MAX_PENDING_COMMITS: usize = 16;

/// How often one cached input may be found corrupt and recomputed within one run before
/// its user fails instead: a disk that corrupts what was just written must not loop.
const MAX_INVALIDATIONS: u32 = 3;

/// The shape of the work: per node, its inputs (edges, in order, duplicates allowed), its
/// thread-slot demand, its GPU device, and how to name it in events.
#[derive(Debug, Clone)]
pub struct Topology {
    pub inputs: Vec<Vec<usize>>,
    pub slots: Vec<usize>,
    pub gpu: Vec<Option<u32>>,
    /// `stage` and coordinates, for events.
    pub names: Vec<(String, Vec<(String, warmstart_engine::Value)>)>,
}

#[derive(Debug, Clone)]
enum NodeState {
    /// Some input is not done.
    Waiting,
    /// All inputs done; queued (or parked until its GPU is free).
    Ready,
    Running,
    /// Waits for the running node with the same key (its leader) to end.
    Twin,
    /// Ran or found in the cache. Its output is read from memory while
    /// `Scheduler::outputs` holds it (computed in this run), from the cache otherwise.
    Done {
        digest: Digest,
        key: CacheKey,
    },
    Failed,
    Skipped,
}

/// Where a user reads one of its inputs from.
#[derive(Debug, Clone)]
pub enum InputSource<O> {
    /// The in-memory output of a node computed in this run.
    Memory(O),
    /// A cache entry.
    Cache(CacheKey),
}

/// What [`Scheduler::dispatch`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dispatch {
    /// The node is running now: submit it.
    Submit,
    /// Its GPU is busy: it waits for that device and will be offered again.
    GpuBusy,
}

/// What a finished job reports (see [`Scheduler::on_finished`]).
#[derive(Debug)]
pub enum JobOutcome<O> {
    /// It ran (or found its entry under the lock): `output` is its tables when computed in
    /// this run; `commit_pending` when its entry is still being written behind.
    Ok {
        status: Status,
        digest: Digest,
        output: Option<O>,
        commit_pending: bool,
    },
    Failed(String),
}

/// Why the run stopped dispatching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    FailFast,
    Cancelled,
}

/// The scheduling state of one run. `O` is the in-memory output of a node (tables in the
/// real driver, anything in tests).
pub struct Scheduler<O> {
    topo: Topology,
    users: Vec<Vec<usize>>,
    jobs: usize,
    fail_fast: bool,
    state: Vec<NodeState>,
    remaining: Vec<usize>,
    ready: VecDeque<usize>,
    /// Ready nodes parked until their device is free, per device.
    gpu_waiting: HashMap<u32, VecDeque<usize>>,
    busy_gpus: HashSet<u32>,
    used_slots: usize,
    running: usize,
    committing: usize,
    stop: Option<Stop>,
    /// Outputs computed in this run, kept while a user has not finished.
    outputs: HashMap<usize, O>,
    /// Users not yet finished, per node (edges).
    pending_users: Vec<usize>,
    /// Its entry is being written behind (its output stays in memory until then).
    commit_pending: Vec<bool>,
    /// The key each node ran (or tried to run) under, for events.
    keys: Vec<Option<CacheKey>>,
    invalidations: Vec<u32>,
    /// Final event per node, and the order nodes finished in.
    finals: Vec<Option<Event>>,
    finish_order: Vec<usize>,
    outbox: Vec<Progress>,
    /// The running node computing each key (for twins to join).
    leaders: HashMap<CacheKey, usize>,
    /// Twins waiting on each leader.
    twins: HashMap<usize, Vec<usize>>,
}

impl<O: Clone> Scheduler<O> {
    /// A scheduler for `topo` with `jobs` thread slots.
    pub fn new(topo: Topology, jobs: usize, fail_fast: bool) -> Self {
        let n = topo.inputs.len();
        let mut users = vec![Vec::new(); n];
        for (i, ins) in topo.inputs.iter().enumerate() {
            for &j in ins {
                users[j].push(i);
            }
        }
        let remaining: Vec<usize> = topo.inputs.iter().map(Vec::len).collect();
        let mut state = vec![NodeState::Waiting; n];
        let mut ready = VecDeque::new();
        for i in 0..n {
            if remaining[i] == 0 {
                state[i] = NodeState::Ready;
                ready.push_back(i);
            }
        }
        Scheduler {
            pending_users: users.iter().map(Vec::len).collect(),
            users,
            jobs: jobs.max(1),
            fail_fast,
            state,
            remaining,
            ready,
            gpu_waiting: HashMap::new(),
            busy_gpus: HashSet::new(),
            used_slots: 0,
            running: 0,
            committing: 0,
            stop: None,
            outputs: HashMap::new(),
            commit_pending: vec![false; n],
            keys: vec![None; n],
            invalidations: vec![0; n],
            finals: vec![None; n],
            finish_order: Vec::new(),
            outbox: Vec::new(),
            leaders: HashMap::new(),
            twins: HashMap::new(),
            topo,
        }
    }

    /// Events caused by the transitions since the last call, in order.
    pub fn take_progress(&mut self) -> Vec<Progress> {
        std::mem::take(&mut self.outbox)
    }

    /// The next node that may start, if any: it is removed from the queue, and the caller
    /// must follow with [`on_cached`](Self::on_cached) or [`dispatch`](Self::dispatch).
    /// `None` once the run stopped, when the slots or the write-behind queue are full, or
    /// when nothing is ready.
    pub fn next_ready(&mut self) -> Option<usize> {
        if self.stop.is_some() || self.committing >= MAX_PENDING_COMMITS {
            return None;
        }
        let &i = self.ready.front()?;
        if self.running > 0 && self.used_slots + self.slots(i) > self.jobs {
            return None;
        }
        self.ready.pop_front();
        Some(i)
    }

    /// The output digests of `i`'s inputs (all done when `i` is ready), in input order.
    pub fn input_digests(&self, i: usize) -> Vec<Digest> {
        self.topo.inputs[i]
            .iter()
            .map(|&j| match &self.state[j] {
                NodeState::Done { digest, .. } => *digest,
                _ => Digest([0; 32]),
            })
            .collect()
    }

    /// Where `i` reads each input from: memory for outputs computed in this run, the
    /// cache otherwise. `None` if an input is not done (a scheduler bug).
    pub fn input_sources(&self, i: usize) -> Option<Vec<(usize, InputSource<O>)>> {
        self.topo.inputs[i]
            .iter()
            .map(|&j| match (&self.state[j], self.outputs.get(&j)) {
                (NodeState::Done { .. }, Some(o)) => Some((j, InputSource::Memory(o.clone()))),
                (NodeState::Done { key, .. }, None) => Some((j, InputSource::Cache(*key))),
                _ => None,
            })
            .collect()
    }

    /// `i` (from [`next_ready`](Self::next_ready)) has a healthy entry under `key`.
    pub fn on_cached(&mut self, i: usize, key: CacheKey, digest: Digest) {
        self.keys[i] = Some(key);
        self.set_done(i, key, digest);
        self.report(i, Status::Cached, 0, None, None);
        self.release_users(i);
        self.finish_inputs(i);
    }

    /// `i` (from [`next_ready`](Self::next_ready)) must run under `key`: take its slots and
    /// its GPU, or park it until the GPU is free.
    pub fn dispatch(&mut self, i: usize, key: CacheKey) -> Dispatch {
        if let Some(dev) = self.topo.gpu[i] {
            if self.busy_gpus.contains(&dev) {
                self.gpu_waiting.entry(dev).or_default().push_back(i);
                return Dispatch::GpuBusy;
            }
            self.busy_gpus.insert(dev);
        }
        self.keys[i] = Some(key);
        self.state[i] = NodeState::Running;
        self.leaders.insert(key, i);
        self.running += 1;
        self.used_slots += self.slots(i);
        self.outbox.push(Progress::Started { node: i });
        Dispatch::Submit
    }

    /// `i` (from [`next_ready`](Self::next_ready), not found in the cache) has the same
    /// `key` as a node running now: it waits for that node instead of computing the same
    /// entry again (returns `true`); `false` when no node runs under `key`.
    pub fn join_twin(&mut self, i: usize, key: CacheKey) -> bool {
        let Some(&leader) = self.leaders.get(&key) else {
            return false;
        };
        if leader == i || !matches!(self.state[leader], NodeState::Running) {
            return false;
        }
        self.keys[i] = Some(key);
        self.state[i] = NodeState::Twin;
        self.twins.entry(leader).or_default().push(i);
        true
    }

    /// A running node finished (ran, found its entry, or failed).
    pub fn on_finished(&mut self, i: usize, key: CacheKey, outcome: JobOutcome<O>, ms: u64) {
        self.release_resources(i);
        self.keys[i] = Some(key);
        if self.leaders.get(&key) == Some(&i) {
            self.leaders.remove(&key);
        }
        let twins = self.twins.remove(&i).unwrap_or_default();
        match &outcome {
            JobOutcome::Ok { digest, output, .. } => {
                for &t in &twins {
                    if let Some(o) = output {
                        self.outputs.insert(t, o.clone());
                    }
                    self.set_done(t, key, *digest);
                    self.report(t, Status::Cached, 0, None, None);
                    self.release_users(t);
                    self.drop_output_if_unneeded(t);
                    self.finish_inputs(t);
                }
            }
            JobOutcome::Failed(e) => {
                let why = format!(
                    "not run: it has the same key as `{}` (its params do not tell them apart), which failed: {e}",
                    self.label(i)
                );
                for &t in &twins {
                    self.fail(t, why.clone(), 0);
                    self.finish_inputs(t);
                }
            }
        }
        match outcome {
            JobOutcome::Ok {
                status,
                digest,
                output,
                commit_pending,
            } => {
                if commit_pending {
                    self.committing += 1;
                    self.commit_pending[i] = true;
                }
                if let Some(o) = output {
                    self.outputs.insert(i, o);
                }
                self.set_done(i, key, digest);
                self.report(i, status, ms, None, None);
                self.release_users(i);
                self.drop_output_if_unneeded(i);
            }
            JobOutcome::Failed(e) => self.fail(i, e, ms),
        }
        self.finish_inputs(i);
    }

    /// The entry of a node reported finished earlier is written (`error: None`) or could
    /// not be: then the node is reported failed after all (nothing is cached for it). It
    /// stays done for scheduling: its users ran, or will run, on its correct in-memory
    /// outputs, and they stand.
    pub fn on_committed(&mut self, i: usize, error: Option<String>) {
        self.committing = self.committing.saturating_sub(1);
        self.commit_pending[i] = false;
        self.drop_output_if_unneeded(i);
        let Some(e) = error else { return };
        let ms = self.finals[i].as_ref().map_or(0, |ev| ev.duration_ms);
        self.report(i, Status::Failed, ms, Some(e), None);
        if self.fail_fast {
            self.stop.get_or_insert(Stop::FailFast);
        }
    }

    /// Running node `i` found its cached input `j` corrupt (or gone). Returns the key of
    /// the entry the caller must take out of the cache (quarantine), when `j` is to be
    /// recomputed; `i` runs again once `j` is done. After [`MAX_INVALIDATIONS`] of one input, `i` fails instead.
    pub fn on_input_corrupt(&mut self, i: usize, j: usize, reason: &str) -> Option<CacheKey> {
        self.release_resources(i);
        self.release_twins(i);
        let mut remove = None;
        match self.state[j].clone() {
            // Computed in this run and still in memory: `i` simply reads it from there.
            NodeState::Done { .. } if self.outputs.contains_key(&j) => {}
            NodeState::Done { key, .. } => {
                self.invalidations[j] += 1;
                if self.invalidations[j] > MAX_INVALIDATIONS {
                    let msg = format!(
                        "its input `{}` was found corrupt {} times in this run, even after recomputing it ({reason}); check the disk",
                        self.label(j),
                        self.invalidations[j]
                    );
                    self.fail(i, msg, 0);
                    self.finish_inputs(i);
                    return None;
                }
                self.outbox.push(Progress::Warning(Warning {
                    node: Some(j),
                    message: format!(
                        "cache entry of `{}` is corrupt ({reason}); moved to quarantine, recomputing",
                        self.label(j)
                    ),
                }));
                self.undo(j);
                remove = Some(key);
            }
            // Already being recomputed (another user found it first): wait for it.
            _ => {}
        }
        self.state[i] = NodeState::Waiting;
        self.recount(i);
        remove
    }

    /// Pass on something the user should know (e.g. an engine's fallback).
    pub fn on_warning(&mut self, node: Option<usize>, message: String) {
        self.outbox
            .push(Progress::Warning(Warning { node, message }));
    }

    /// A running node's job was handed to a cluster and has an id there (reported so a
    /// user can follow it in the cluster's own tools). No state changes.
    pub fn on_submitted(&mut self, node: usize, job: String) {
        self.outbox.push(Progress::Submitted { node, job });
    }

    /// The run lets go of running node `i` without waiting for it (a cluster job that
    /// goes on after the run detaches): it ends skipped, saying where it still runs. The
    /// run stops dispatching, as on Ctrl-C.
    pub fn on_detached(&mut self, i: usize, job: String) {
        if !matches!(self.state[i], NodeState::Running) {
            return;
        }
        self.stop = Some(Stop::Cancelled);
        self.release_resources(i);
        if let Some(k) = self.keys[i]
            && self.leaders.get(&k) == Some(&i)
        {
            self.leaders.remove(&k);
        }
        let twins = self.twins.remove(&i).unwrap_or_default();
        for n in std::iter::once(i).chain(twins) {
            self.state[n] = NodeState::Skipped;
            let why = SkipReason::Detached { job: job.clone() };
            self.report(n, Status::Skipped, 0, None, Some(why));
        }
    }

    /// Ctrl-C: stop dispatching; running stages finish and are recorded.
    pub fn on_cancel(&mut self) {
        self.stop = Some(Stop::Cancelled);
    }

    /// Nothing runs and nothing is being written: the driver's loop may end once this
    /// holds after a dispatch pass.
    pub fn is_idle(&self) -> bool {
        self.running == 0 && self.committing == 0
    }

    /// Whether a cancellation was seen.
    pub fn interrupted(&self) -> bool {
        self.stop == Some(Stop::Cancelled)
    }

    /// End the run: every node that never started is skipped with its reason; the summary
    /// has one final event per node, in the order nodes finished.
    pub fn finish(mut self, duration_ms: u64) -> (RunSummary, Vec<Progress>) {
        let why = match self.stop {
            Some(Stop::Cancelled) => SkipReason::Cancelled,
            Some(Stop::FailFast) => SkipReason::FailFast,
            None => SkipReason::Internal {
                detail: "never became ready (a scheduler bug: please report)".into(),
            },
        };
        for i in 0..self.state.len() {
            if matches!(
                self.state[i],
                NodeState::Waiting | NodeState::Ready | NodeState::Running | NodeState::Twin
            ) {
                self.state[i] = NodeState::Skipped;
                self.report(i, Status::Skipped, 0, None, Some(why.clone()));
            }
        }
        let mut summary = RunSummary {
            duration_ms,
            interrupted: self.stop == Some(Stop::Cancelled),
            ..RunSummary::default()
        };
        for &i in &self.finish_order {
            if let Some(ev) = self.finals[i].take() {
                match ev.status {
                    Status::Ran => summary.ran += 1,
                    Status::Cached => summary.cached += 1,
                    Status::Failed => summary.failed += 1,
                    Status::Skipped => summary.skipped += 1,
                }
                summary.events.push(ev);
            }
        }
        (summary, std::mem::take(&mut self.outbox))
    }

    /// `i` will not produce its key's entry now (it waits for a recomputed input): its
    /// twins go back to the queue and compute their keys again when they start.
    fn release_twins(&mut self, i: usize) {
        if let Some(k) = self.keys[i]
            && self.leaders.get(&k) == Some(&i)
        {
            self.leaders.remove(&k);
        }
        for t in self.twins.remove(&i).unwrap_or_default() {
            self.state[t] = NodeState::Waiting;
            self.recount(t);
        }
    }

    fn slots(&self, i: usize) -> usize {
        self.topo.slots[i].clamp(1, self.jobs)
    }

    fn label(&self, i: usize) -> String {
        let (stage, coords) = &self.topo.names[i];
        crate::plan::label(stage, coords)
    }

    fn set_done(&mut self, i: usize, key: CacheKey, digest: Digest) {
        self.state[i] = NodeState::Done { digest, key };
    }

    /// `i` failed: report it, stop on `--fail-fast`, and skip what depends on it.
    fn fail(&mut self, i: usize, error: String, ms: u64) {
        self.state[i] = NodeState::Failed;
        self.report(i, Status::Failed, ms, Some(error), None);
        if self.fail_fast {
            self.stop.get_or_insert(Stop::FailFast);
        }
        self.skip_downstream(i);
    }

    /// Keep a computed output in memory while a user has not finished and while its entry
    /// is not yet on disk (until then, memory is the only place users can read it from).
    fn drop_output_if_unneeded(&mut self, i: usize) {
        if self.pending_users[i] == 0 && !self.commit_pending[i] {
            self.outputs.remove(&i);
        }
    }

    /// Give back what a running node held.
    fn release_resources(&mut self, i: usize) {
        self.running = self.running.saturating_sub(1);
        self.used_slots = self.used_slots.saturating_sub(self.slots(i));
        if let Some(dev) = self.topo.gpu[i]
            && self.busy_gpus.remove(&dev)
            && let Some(q) = self.gpu_waiting.get_mut(&dev)
        {
            // Parked nodes go first, in the order they were parked.
            while let Some(w) = q.pop_back() {
                self.ready.push_front(w);
            }
        }
    }

    /// `i` is done: users that counted it as missing count one fewer.
    fn release_users(&mut self, i: usize) {
        for k in 0..self.users[i].len() {
            let u = self.users[i][k];
            if matches!(self.state[u], NodeState::Waiting) {
                self.remaining[u] = self.remaining[u].saturating_sub(1);
                if self.remaining[u] == 0 {
                    self.state[u] = NodeState::Ready;
                    self.ready.push_back(u);
                }
            }
        }
    }

    /// `i` finished one way or another: drop in-memory inputs nobody needs any more.
    fn finish_inputs(&mut self, i: usize) {
        for k in 0..self.topo.inputs[i].len() {
            let j = self.topo.inputs[i][k];
            self.pending_users[j] = self.pending_users[j].saturating_sub(1);
            self.drop_output_if_unneeded(j);
        }
    }

    /// Recompute `i`'s missing-input count from its inputs' states and queue it if none is
    /// missing. `i` must be `Waiting` or `Ready`.
    fn recount(&mut self, i: usize) {
        let missing = self.topo.inputs[i]
            .iter()
            .filter(|&&j| !matches!(self.state[j], NodeState::Done { .. }))
            .count();
        self.remaining[i] = missing;
        let was_ready = matches!(self.state[i], NodeState::Ready);
        if missing == 0 && !was_ready {
            self.state[i] = NodeState::Ready;
            self.ready.push_front(i);
        } else if missing > 0 && was_ready {
            self.unqueue(i);
            self.state[i] = NodeState::Waiting;
        }
    }

    fn unqueue(&mut self, i: usize) {
        self.ready.retain(|&r| r != i);
        for q in self.gpu_waiting.values_mut() {
            q.retain(|&r| r != i);
        }
    }

    /// Un-finish a cached node whose entry is corrupt: it is to be computed again, and
    /// every waiting or queued user that had counted it done waits for it again.
    fn undo(&mut self, j: usize) {
        self.finals[j] = None;
        self.finish_order.retain(|&x| x != j);
        // It will finish again: its inputs are needed again until then.
        for k in 0..self.topo.inputs[j].len() {
            self.pending_users[self.topo.inputs[j][k]] += 1;
        }
        self.state[j] = NodeState::Waiting;
        self.recount(j);
        for k in 0..self.users[j].len() {
            let u = self.users[j][k];
            if matches!(self.state[u], NodeState::Waiting | NodeState::Ready) {
                self.recount(u);
            }
        }
    }

    /// Mark everything downstream of failed `i` skipped.
    fn skip_downstream(&mut self, failed: usize) {
        let upstream = self.label(failed);
        let mut stack = vec![failed];
        while let Some(i) = stack.pop() {
            for k in 0..self.users[i].len() {
                let u = self.users[i][k];
                if matches!(self.state[u], NodeState::Waiting | NodeState::Ready) {
                    self.unqueue(u);
                    self.state[u] = NodeState::Skipped;
                    let why = SkipReason::UpstreamFailed {
                        upstream: upstream.clone(),
                    };
                    self.report(u, Status::Skipped, 0, None, Some(why));
                    stack.push(u);
                }
            }
        }
    }

    /// Record `i`'s (latest) final event and send it out.
    fn report(
        &mut self,
        i: usize,
        status: Status,
        duration_ms: u64,
        error: Option<String>,
        skip: Option<SkipReason>,
    ) {
        let (stage, coords) = &self.topo.names[i];
        let ev = Event {
            node: i,
            stage: stage.clone(),
            coords: coords.clone(),
            key: if status == Status::Skipped {
                None
            } else {
                self.keys[i]
            },
            status,
            duration_ms,
            error: error.or_else(|| skip.as_ref().map(ToString::to_string)),
            skip_reason: skip,
        };
        // A node reported again (its entry could not be written) moves to the end.
        if self.finals[i].is_some() {
            self.finish_order.retain(|&x| x != i);
        }
        self.finish_order.push(i);
        self.finals[i] = Some(ev.clone());
        self.outbox.push(Progress::Done(ev));
    }
}

#[cfg(test)]
mod tests;
