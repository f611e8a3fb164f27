//! Where prepared stage instances run: the [`Executor`] trait and [`LocalExecutor`],
//! today's pool of scoped worker threads.
//!
//! The driver ([`crate::run::drive`]) hands an executor a [`Job`] — a node whose key is
//! computed and whose inputs are located — and receives [`Completion`]s back, in any
//! order. An executor decides *where* a job runs (a thread here; a cluster job elsewhere);
//! what a job does once it runs is [`crate::worker::run_job`], the same everywhere.
//!
//! Architecture invariant: an executor never makes scheduling decisions (what is ready,
//! what is skipped, what a failure means): those belong to [`crate::sched::Scheduler`].

use std::sync::Arc;
use std::sync::mpsc;
use std::thread::Scope;
use std::time::Duration;

use warmstart_cache::CacheKey;
use warmstart_cache::key::KeyInputs;
use warmstart_cache::store::Store;
use warmstart_engine::NamedTable;

use crate::plan::Plan;
use crate::sched::{InputSource, JobOutcome};
use crate::worker::run_job;

/// A stage's output tables, shared between the scheduler and the users reading them.
pub type Tables = Arc<Vec<NamedTable>>;

/// A node ready to run: its key, what the key was computed from, and where each input is.
pub struct Job {
    pub node: usize,
    pub key: CacheKey,
    pub key_inputs: KeyInputs,
    pub inputs: Vec<(usize, InputSource<Tables>)>,
    /// Runs every time and is never stored (a `volatile` stage).
    pub volatile: bool,
}

/// What a running job reports back.
pub enum Completion {
    /// The job ended. If its outcome says `commit_pending`, a `Committed` follows.
    Finished {
        node: usize,
        key: CacheKey,
        outcome: JobOutcome<Tables>,
        duration_ms: u64,
        /// What the engine wanted the user to know (reported as warning events).
        warnings: Vec<String>,
    },
    /// The entry of a node reported finished earlier is on disk (or could not be put
    /// there: `error`).
    Committed { node: usize, error: Option<String> },
    /// A cached input's files were corrupt or gone: the job did not run.
    InputCorrupt {
        node: usize,
        input: usize,
        reason: String,
    },
    /// The job is a cluster job with this id (queued or running); informational.
    Submitted { node: usize, job: String },
    /// The run stops waiting for the job, which goes on (cluster executors on Ctrl-C).
    Detached { node: usize, job: String },
}

/// Runs jobs somewhere and reports their completions.
pub trait Executor {
    /// Start `job`; must not wait for it to finish.
    fn submit(&mut self, job: Job);
    /// The next completion, waiting at most `timeout`; `None` when none came in time.
    fn next_completion(&mut self, timeout: Duration) -> Option<Completion>;
    /// Whether a job of this executor's own already computes node `node`, submitted ahead
    /// of the scheduler (a cluster executor submits the whole DAG at once). The scheduler
    /// then takes that job's outcome instead of looking the key up itself: the job may
    /// have committed its entry already, and a lookup would report this run's own
    /// computation as `cached`.
    fn has_own_job(&self, _node: usize) -> bool {
        false
    }
}

/// Runs each job on its own scoped thread of this process. The scheduler bounds how many
/// run at once (thread slots, GPUs, pending commits).
pub struct LocalExecutor<'scope, 'env> {
    scope: &'scope Scope<'scope, 'env>,
    plan: &'env Plan,
    store: &'env Store,
    tx: mpsc::Sender<Completion>,
    rx: mpsc::Receiver<Completion>,
}

impl<'scope, 'env> LocalExecutor<'scope, 'env> {
    pub fn new(scope: &'scope Scope<'scope, 'env>, plan: &'env Plan, store: &'env Store) -> Self {
        let (tx, rx) = mpsc::channel();
        LocalExecutor {
            scope,
            plan,
            store,
            tx,
            rx,
        }
    }
}

impl Executor for LocalExecutor<'_, '_> {
    fn submit(&mut self, job: Job) {
        let (plan, store, tx) = (self.plan, self.store, self.tx.clone());
        self.scope.spawn(move || {
            let node = job.node;
            let (completion, pending) = run_job(plan, store, job);
            let _ = tx.send(completion);
            // Write-behind: users of this node already have its outputs (in memory) and
            // its digest; the entry goes to disk here, still under the key's lock.
            if let Some(p) = pending {
                let error = p.commit(store).err();
                let _ = tx.send(Completion::Committed { node, error });
            }
        });
    }

    fn next_completion(&mut self, timeout: Duration) -> Option<Completion> {
        // `self.tx` keeps the channel open, so only a timeout ends the wait.
        self.rx.recv_timeout(timeout).ok()
    }
}
