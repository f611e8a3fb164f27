//! [`SlurmExecutor`]: the [`Executor`] that hands stage instances to Slurm.
//!
//! [`SlurmExecutor::prepare`] does what must happen before the scheduler starts: check
//! that a cluster run can work at all (commands on PATH, a cache on a shared filesystem,
//! plugins on it too, options Slurm accepts — all before anything is submitted), write
//! the job specs, reattach to jobs an earlier run submitted, and submit the rest of the
//! DAG at once (see [`crate::submit`]). Then the scheduler drives it like any executor: a
//! node it dispatches is one whose job is already queued, and its completion comes when
//! the job's status record appears. Nodes that cannot be jobs (local kinds, volatile
//! stages) run on this machine's threads through a [`LocalExecutor`]; jobs downstream of
//! them are submitted when they become ready.
//!
//! Liveness: one `squeue` for all of the run's jobs per poll interval (backing off while
//! nothing changes). A job that left the queue without a status record either never
//! started (cancelled because a job it depended on failed, or lost by a restarted
//! controller: it is submitted again if its inputs are done) or died running (cancelled,
//! out of time or memory: the node fails, naming the job and its log).
//!
//! On cancellation (Ctrl-C) it detaches: every queued job goes on, and its node ends
//! `skipped` with the job's id; the next `warmstart run` reattaches.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use warmstart_cache::CacheKey;
use warmstart_cache::store::{CacheError, Store};
use warmstart_plan::Plan;
use warmstart_plan::executor::{Completion, Executor, Job, LocalExecutor};
use warmstart_plan::sched::{InputSource as SchedInput, JobOutcome};

use crate::cluster::{Cluster, ClusterError, shell_quote};
use crate::config::{Resources, SlurmConfig};
use crate::jobspec::{FORMAT, InputSource, JobSpec, TaskList};
use crate::prepare::{Planned, check_paths, input_sources, plan_specs, remote_nodes, spec_for};
use crate::records::{ExperimentJobs, LedgerEntry, Outcome, StatusRecord, now};
use crate::submit::{Group, JobRef, Pending, array_indices, group_stage, queue_states};

mod monitor;

/// Why a cluster run could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SlurmError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error(
        "the cache {0} is on a node-local filesystem: Slurm jobs on other nodes would not see it. Use a --cache on a filesystem every node mounts (NFS, Lustre, GPFS), or set `allow_node_local_cache = true` in [executor] on a one-node cluster"
    )]
    NodeLocalCache(PathBuf),
    #[error(
        "plugin `{name}` ({path}) is not on the cache's filesystem ({cache}): compute nodes may not see it. Put the plugin on the shared filesystem next to the cache"
    )]
    PluginElsewhere {
        name: String,
        path: PathBuf,
        cache: PathBuf,
    },
    #[error("Slurm refused the jobs of stage `{stage}`: {source}")]
    Rejected {
        stage: String,
        #[source]
        source: ClusterError,
    },
    #[error("cannot write the cluster records in the cache: {0}")]
    Cache(#[from] CacheError),
    #[error("the warmstart binary {0} cannot be found for the jobs to run")]
    WorkerExe(PathBuf),
    #[error(
        "{source}\n  {} job(s) were submitted before this ({}): `warmstart run` reattaches to them, `warmstart cancel` cancels them",
        jobs.len(),
        jobs.join(", ")
    )]
    PartlySubmitted {
        jobs: Vec<String>,
        source: Box<SlurmError>,
    },
}

impl SlurmError {
    /// Whether nothing was submitted when this error happened.
    pub fn nothing_submitted(&self) -> bool {
        !matches!(self, SlurmError::PartlySubmitted { .. })
    }
}

/// What the experiment's plugins are and where its relative paths start; the same for
/// every spec of a run.
#[derive(Debug, Clone, Default)]
pub struct SpecContext {
    pub plugins: Vec<(String, PathBuf)>,
    pub base_dir: Option<PathBuf>,
}

/// What [`SlurmExecutor::prepare`] did, for the user.
#[derive(Debug, Clone, Default)]
pub struct SubmitReport {
    /// (stage, job id, tasks) per `sbatch` call.
    pub submitted: Vec<(String, String, usize)>,
    /// Instances whose job from an earlier run is still queued or running.
    pub adopted: usize,
    /// Instances whose job from an earlier run finished while nobody watched.
    pub finished_before: usize,
    /// Instances that run here, or are submitted once what they need here is done.
    pub later: usize,
    /// Instances that are fresh in the cache.
    pub fresh: usize,
}

/// The [`Executor`] that runs stage instances as Slurm jobs.
pub struct SlurmExecutor<'scope, 'env> {
    plan: &'env Plan,
    store: &'env Store,
    cluster: &'env dyn Cluster,
    cfg: SlurmConfig,
    ctx: SpecContext,
    local: LocalExecutor<'scope, 'env>,
    cancel: Arc<AtomicBool>,
    /// Per node: runs as a Slurm job.
    remote: Vec<bool>,
    /// Per node: its spec id (identity), whether or not it becomes a job.
    ids: Vec<String>,
    /// Per node: its job spec id, once the spec is written.
    spec: Vec<Option<String>>,
    /// The current job of each node that has one.
    job: HashMap<usize, JobRef>,
    array_len: HashMap<String, usize>,
    /// Nodes with a job and no status record seen yet.
    live: BTreeSet<usize>,
    /// Records seen for nodes the scheduler has not dispatched yet.
    finished: HashMap<usize, StatusRecord>,
    /// Dispatched nodes whose job's record is awaited.
    watched: BTreeSet<usize>,
    /// Left the queue without a record and never started: submit again when ready.
    lost: HashSet<usize>,
    resubmitted: HashSet<usize>,
    /// Stage batches not yet submitted (the queue was full).
    deferred: VecDeque<Vec<Pending>>,
    /// Ready remote nodes waiting for a local input's entry to reach the disk.
    waiting_commit: Vec<Job>,
    /// Ready remote nodes without a job, to submit as room allows.
    ready: VecDeque<(usize, CacheKey)>,
    uncommitted: HashSet<usize>,
    keys: HashMap<usize, CacheKey>,
    /// The key the scheduler computed for each dispatched node (for failure events).
    expected: HashMap<usize, CacheKey>,
    /// Live jobs seen gone from the queue without a record, and since when.
    gone_since: HashMap<usize, Instant>,
    queued: VecDeque<Completion>,
    next_status: Instant,
    next_queue: Instant,
    interval: Duration,
    detached: bool,
    report: SubmitReport,
}

const STATUS_EVERY: Duration = Duration::from_millis(200);

impl<'scope, 'env> SlurmExecutor<'scope, 'env> {
    /// Check, write specs, reattach, and submit what can be submitted now.
    #[allow(clippy::too_many_arguments)]
    pub fn prepare(
        plan: &'env Plan,
        store: &'env Store,
        cluster: &'env dyn Cluster,
        cfg: SlurmConfig,
        ctx: SpecContext,
        local: LocalExecutor<'scope, 'env>,
        cancel: Arc<AtomicBool>,
    ) -> Result<Self, SlurmError> {
        check_paths(store, &cfg, &ctx)?;
        let n = plan.nodes.len();
        let remote = remote_nodes(plan);
        let interval = cfg.poll_interval;
        let mut ex = SlurmExecutor {
            plan,
            store,
            cluster,
            cfg,
            ctx,
            local,
            cancel,
            remote,
            ids: Vec::new(),
            spec: vec![None; n],
            job: HashMap::new(),
            array_len: HashMap::new(),
            live: BTreeSet::new(),
            finished: HashMap::new(),
            watched: BTreeSet::new(),
            lost: HashSet::new(),
            resubmitted: HashSet::new(),
            deferred: VecDeque::new(),
            waiting_commit: Vec::new(),
            ready: VecDeque::new(),
            uncommitted: HashSet::new(),
            keys: HashMap::new(),
            expected: HashMap::new(),
            gone_since: HashMap::new(),
            queued: VecDeque::new(),
            next_status: Instant::now(),
            next_queue: Instant::now() + interval,
            interval,
            detached: false,
            report: SubmitReport::default(),
        };
        // One submitter per experiment and cache at a time: a second `warmstart run` of
        // the same experiment waits here, then finds the first one's jobs in the ledger
        // and adopts them instead of submitting them again.
        let submission = CacheKey(
            *blake3::hash(
                format!("warmstart-slurm-submission\0{}", plan.experiment.name).as_bytes(),
            )
            .as_bytes(),
        );
        let _submitting = store.lock(&submission)?;
        let to_submit = ex.write_specs_and_reattach()?;
        ex.check_resources(&to_submit)?;
        for batch in ex.batches(to_submit) {
            ex.deferred.push_back(batch);
        }
        if let Err(e) = ex.submit_deferred() {
            let jobs: Vec<String> = ex
                .report
                .submitted
                .iter()
                .map(|(_, j, _)| j.clone())
                .collect();
            return Err(if jobs.is_empty() {
                e
            } else {
                SlurmError::PartlySubmitted {
                    jobs,
                    source: Box::new(e),
                }
            });
        }
        Ok(ex)
    }

    /// What was submitted, adopted and left for later.
    pub fn report(&self) -> &SubmitReport {
        &self.report
    }

    /// Job specs for every instance that can be submitted now; reattach to earlier jobs.
    /// Returns the nodes to submit.
    fn write_specs_and_reattach(&mut self) -> Result<Vec<usize>, SlurmError> {
        let (planned, ids) = plan_specs(self.plan, self.store, &self.remote, &self.ctx);
        self.ids = ids;
        let mut candidates = Vec::new();
        for (i, p) in planned.into_iter().enumerate() {
            match p {
                Planned::Fresh(_) => self.report.fresh += 1,
                Planned::Later => self.report.later += 1,
                Planned::Job(spec) => {
                    self.spec[i] = Some(spec.save(self.store)?);
                    candidates.push(i);
                }
            }
        }
        // Reattach: what earlier runs submitted for the same specs.
        let ledger: Vec<(usize, LedgerEntry)> = candidates
            .iter()
            .filter_map(|&i| {
                let e = LedgerEntry::load(self.store, self.spec[i].as_deref()?)?;
                Some((i, e))
            })
            .collect();
        let queue = queue_states(self.cluster, ledger.iter().map(|(_, e)| e.job.as_str()))?;
        let mut settled = HashSet::new();
        for (i, entry) in ledger {
            let spec = self.spec[i].clone().unwrap_or_default();
            let record = StatusRecord::load(self.store, &spec).filter(|r| r.job == entry.job);
            match record {
                Some(r) if matches!(r.outcome, Outcome::Ok { .. }) => {
                    self.report.finished_before += 1;
                    self.finished.insert(i, r);
                    settled.insert(i);
                }
                Some(_) => {} // failed: submitted again
                None => {
                    let alive = queue.get(&entry.job).is_some_and(|s| s.is_alive());
                    if let (true, Some(r)) = (alive, JobRef::parse(&entry.job)) {
                        self.report.adopted += 1;
                        self.job.insert(i, r);
                        self.live.insert(i);
                        settled.insert(i);
                    }
                }
            }
        }
        Ok(candidates
            .into_iter()
            .filter(|i| !settled.contains(i))
            .collect())
    }

    /// The spec of node `i` with these input sources.
    fn spec_for(&self, i: usize, inputs: Vec<InputSource>) -> JobSpec {
        spec_for(self.plan, &self.ctx, i, inputs)
    }

    fn resources(&self, i: usize) -> Resources {
        let node = &self.plan.nodes[i];
        let hints = &self.plan.experiment.stages[node.stage_index].cluster;
        Resources::of(node.threads, node.gpu.is_some(), hints, &self.cfg)
    }

    /// `sbatch --test-only` once per distinct resource request: a bad partition is an
    /// error before anything is submitted.
    fn check_resources(&self, nodes: &[usize]) -> Result<(), SlurmError> {
        let mut seen = HashSet::new();
        for &i in nodes {
            let r = self.resources(i);
            if seen.insert(r.clone()) {
                self.cluster
                    .check(&r.sbatch_args(&self.cfg))
                    .map_err(|source| SlurmError::Rejected {
                        stage: self.plan.nodes[i].stage.clone(),
                        source,
                    })?;
            }
        }
        Ok(())
    }

    /// The nodes to submit, one batch per stage, stages in dependency order.
    fn batches(&self, nodes: Vec<usize>) -> Vec<Vec<Pending>> {
        let plan = self.plan;
        let stages = plan.experiment.stages.len();
        // A stage's depth: 1 + the deepest stage it reads from (fixed point; few stages).
        let mut depth = vec![0usize; stages];
        loop {
            let mut changed = false;
            for node in &plan.nodes {
                for &j in &node.inputs {
                    let d = depth[plan.nodes[j].stage_index] + 1;
                    if d > depth[node.stage_index] {
                        depth[node.stage_index] = d;
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        let mut by_stage: Vec<Vec<Pending>> = (0..stages).map(|_| Vec::new()).collect();
        for i in nodes {
            by_stage[plan.nodes[i].stage_index].push(Pending {
                node: i,
                resources: self.resources(i),
                waits_for: plan.nodes[i].inputs.clone(),
            });
        }
        let mut order: Vec<usize> = (0..stages).collect();
        order.sort_by_key(|&s| depth[s]);
        order
            .into_iter()
            .map(|s| std::mem::take(&mut by_stage[s]))
            .filter(|b| !b.is_empty())
            .collect()
    }

    /// Submit deferred batches while the queue has room (`max_submitted`).
    fn submit_deferred(&mut self) -> Result<(), SlurmError> {
        while let Some(mut batch) = self.deferred.pop_front() {
            // Already submitted on their own (dispatched while deferred), or doomed.
            batch.retain(|p| {
                !self.job.contains_key(&p.node)
                    && !self.finished.contains_key(&p.node)
                    && !self.ready.iter().any(|&(n, _)| n == p.node)
            });
            for p in &mut batch {
                // Wait only for jobs that have not finished.
                p.waits_for.retain(|d| self.live.contains(d));
            }
            if batch.is_empty() {
                continue;
            }
            let room = self.cfg.max_submitted.saturating_sub(self.live.len());
            if room == 0 {
                self.deferred.push_front(batch);
                return Ok(());
            }
            if batch.len() > room {
                let rest = batch.split_off(room);
                self.deferred.push_front(rest);
            }
            // Upstream not submitted yet (deferred itself): this batch waits too.
            if batch.iter().any(|p| {
                self.plan.nodes[p.node].inputs.iter().any(|j| {
                    self.spec[*j].is_some()
                        && !self.job.contains_key(j)
                        && !self.finished.contains_key(j)
                        && !self.keys.contains_key(j)
                })
            }) {
                self.deferred.push_front(batch);
                return Ok(());
            }
            for group in group_stage(&batch, &self.job, &self.array_len) {
                self.submit_group(&group)?;
            }
        }
        Ok(())
    }

    /// One `sbatch`: the task list first, then the job, then the ledger.
    fn submit_group(&mut self, group: &Group) -> Result<(), SlurmError> {
        let list = TaskList {
            v: FORMAT,
            tasks: group
                .tasks
                .iter()
                .map(|&(n, t)| (t, self.spec[n].clone().unwrap_or_default()))
                .collect(),
        };
        let list_name = list.save(self.store)?;
        // Absolute: jobs may start in another directory than this process.
        let logs = self.store.jobs_area("logs")?;
        let logs = std::path::absolute(&logs).unwrap_or(logs);
        let first = group.tasks.first().map_or(0, |&(n, _)| n);
        let stage = self.plan.nodes[first].stage.clone();
        let mut args = group.resources.sbatch_args(&self.cfg);
        args.push(format!("--job-name=ws-{stage}"));
        let pattern = if group.array { "%A_%a.log" } else { "%j.log" };
        args.push(format!("--output={}", logs.join(pattern).display()));
        if group.array {
            args.push(format!("--array={}", array_indices(&group.tasks)));
        }
        if let Some(dep) = &group.dependency {
            args.push(format!("--dependency={dep}"));
            args.push("--kill-on-invalid-dep=yes".into());
        }
        let command = format!(
            "exec {} worker --cache {} --tasks {}",
            shell_quote(&self.cfg.worker_exe.to_string_lossy()),
            shell_quote(
                &std::path::absolute(self.store.root())
                    .unwrap_or_else(|_| self.store.root().to_path_buf())
                    .to_string_lossy()
            ),
            list_name
        );
        let id = self
            .cluster
            .submit(&args, &command)
            .map_err(|source| SlurmError::Rejected {
                stage: stage.clone(),
                source,
            })?;
        if group.array {
            self.array_len.insert(id.clone(), group.tasks.len());
        }
        for &(n, t) in &group.tasks {
            let r = JobRef {
                job: id.clone(),
                task: group.array.then_some(t),
            };
            let entry = LedgerEntry {
                v: FORMAT,
                job: r.to_string(),
                log: logs.join(format!("{r}.log")),
                submitted_at: now(),
            };
            entry.save(self.store, self.spec[n].as_deref().unwrap_or_default())?;
            self.job.insert(n, r);
            self.live.insert(n);
            self.lost.remove(&n);
        }
        // The experiment's job list last: the per-instance ledger is what reattaching
        // reads, so it is written first, right after sbatch returned. (A kill -9 in the
        // instant between sbatch returning and these writes leaves a job unrecorded; a
        // later run submits it again, and the key's lock makes one of the two a cache
        // hit.)
        let mut exp = ExperimentJobs::load(self.store, &self.plan.experiment.name);
        exp.jobs.push(id.clone());
        exp.save(self.store)?;
        self.report.submitted.push((stage, id, group.tasks.len()));
        Ok(())
    }

    /// A ready remote node without a queued job: submit it alone, its inputs all done.
    /// A ready remote node without a queued job: write its spec (inputs all done) and
    /// queue it; [`Self::flush_ready`] submits queued nodes as room allows.
    fn queue_ready(&mut self, job: Job) {
        let node = job.node;
        // Every input is done: its key is in the cache (or was just computed here).
        let mut entries: HashMap<usize, CacheKey> = HashMap::new();
        for (j, src) in &job.inputs {
            let key = match src {
                SchedInput::Cache(k) => Some(*k),
                SchedInput::Memory(_) => self.keys.get(j).copied(),
            };
            let Some(k) = key else {
                return self.fail(
                    node,
                    job.key,
                    "internal: an input's entry is unknown (please report)".into(),
                );
            };
            entries.insert(*j, k);
        }
        let inputs = input_sources(self.plan, node, &self.ids, |j| entries.get(&j).copied());
        let spec = self.spec_for(node, inputs);
        match spec.save(self.store) {
            Ok(id) => {
                self.spec[node] = Some(id);
                self.ready.push_back((node, job.key));
            }
            Err(e) => self.fail(node, job.key, format!("cannot write its job spec: {e}")),
        }
    }

    /// Submit queued ready nodes while the queue has room (`max_submitted`): those of one
    /// stage with the same resources as one array, waiting for nothing.
    fn flush_ready(&mut self) {
        let room = self.cfg.max_submitted.saturating_sub(self.live.len());
        let n = room.min(self.ready.len());
        if n == 0 {
            return;
        }
        let batch: Vec<(usize, CacheKey)> = self.ready.drain(..n).collect();
        let keys: HashMap<usize, CacheKey> = batch.iter().copied().collect();
        let pending: Vec<Pending> = batch
            .iter()
            .map(|&(node, _)| Pending {
                node,
                resources: self.resources(node),
                waits_for: Vec::new(),
            })
            .collect();
        let mut by_stage: std::collections::BTreeMap<usize, Vec<Pending>> = Default::default();
        for p in pending {
            by_stage
                .entry(self.plan.nodes[p.node].stage_index)
                .or_default()
                .push(p);
        }
        for (_, stage_batch) in by_stage {
            for group in group_stage(&stage_batch, &self.job, &self.array_len) {
                match self.submit_group(&group) {
                    Ok(()) => {
                        for &(node, _) in &group.tasks {
                            self.watch(node);
                        }
                    }
                    Err(e) => {
                        for &(node, _) in &group.tasks {
                            let key = keys.get(&node).copied().unwrap_or(CacheKey([0; 32]));
                            self.fail(node, key, format!("cannot submit it to Slurm: {e}"));
                        }
                    }
                }
            }
        }
    }

    /// The key the scheduler expects for `node` (all zeros if it never dispatched it).
    fn expected_key(&self, node: usize) -> CacheKey {
        self.expected
            .get(&node)
            .copied()
            .unwrap_or(CacheKey([0; 32]))
    }

    fn watch(&mut self, node: usize) {
        self.watched.insert(node);
        if let Some(r) = self.job.get(&node) {
            self.queued.push_back(Completion::Submitted {
                node,
                job: r.to_string(),
            });
        }
    }

    fn fail(&mut self, node: usize, key: CacheKey, error: String) {
        self.queued.push_back(Completion::Finished {
            node,
            key,
            outcome: JobOutcome::Failed(error),
            duration_ms: 0,
            warnings: Vec::new(),
        });
    }

    /// Track what passes from the local pool to the scheduler.
    fn observe(&mut self, c: Completion) -> Completion {
        match &c {
            Completion::Finished {
                node,
                key,
                outcome: JobOutcome::Ok { commit_pending, .. },
                ..
            } => {
                self.keys.insert(*node, *key);
                if *commit_pending {
                    self.uncommitted.insert(*node);
                }
            }
            Completion::Committed { node, .. } => {
                self.uncommitted.remove(node);
                let ready: Vec<Job> = {
                    let (now, wait): (Vec<Job>, Vec<Job>) =
                        std::mem::take(&mut self.waiting_commit)
                            .into_iter()
                            .partition(|j| {
                                j.inputs.iter().all(|(i, _)| !self.uncommitted.contains(i))
                            });
                    self.waiting_commit = wait;
                    now
                };
                for j in ready {
                    self.queue_ready(j);
                }
            }
            _ => {}
        }
        c
    }

    fn detach_all(&mut self) {
        self.detached = true;
        for i in std::mem::take(&mut self.watched) {
            let job = self
                .job
                .get(&i)
                .map_or_else(|| "?".into(), ToString::to_string);
            self.queued.push_back(Completion::Detached { node: i, job });
        }
        for (node, _) in std::mem::take(&mut self.ready) {
            self.queued.push_back(Completion::Detached {
                node,
                job: "not submitted".into(),
            });
        }
        for j in std::mem::take(&mut self.waiting_commit) {
            self.queued.push_back(Completion::Detached {
                node: j.node,
                job: "not submitted".into(),
            });
        }
    }
}

impl Executor for SlurmExecutor<'_, '_> {
    fn submit(&mut self, job: Job) {
        let i = job.node;
        self.expected.insert(i, job.key);
        if !self.remote[i] {
            return self.local.submit(job);
        }
        if let Some(r) = self.finished.remove(&i) {
            let c = self.completion(i, &r);
            self.queued.push_back(c);
            return;
        }
        if self.job.contains_key(&i) {
            return self.watch(i);
        }
        if job.inputs.iter().any(|(j, _)| self.uncommitted.contains(j)) {
            self.waiting_commit.push(job);
            return;
        }
        self.queue_ready(job);
    }

    fn has_own_job(&self, node: usize) -> bool {
        self.remote[node] && (self.job.contains_key(&node) || self.finished.contains_key(&node))
    }

    fn next_completion(&mut self, timeout: Duration) -> Option<Completion> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.cancel.load(Ordering::SeqCst) && !self.detached {
                self.detach_all();
            }
            if let Some(c) = self.queued.pop_front() {
                return Some(self.observe(c));
            }
            if !self.ready.is_empty() && !self.detached {
                self.flush_ready();
                if !self.queued.is_empty() {
                    continue;
                }
            }
            let now = Instant::now();
            if now >= self.next_status {
                self.check_status();
                self.next_status = now + STATUS_EVERY;
                if !self.queued.is_empty() {
                    continue;
                }
            }
            if now >= self.next_queue && !self.live.is_empty() {
                self.check_queue();
                self.next_queue = Instant::now() + self.interval;
                let _ = self.submit_deferred();
                if !self.queued.is_empty() {
                    continue;
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            if let Some(c) = self
                .local
                .next_completion(left.min(Duration::from_millis(50)))
            {
                return Some(self.observe(c));
            }
        }
    }
}
