//! Following submitted jobs: the completion a worker's status record stands for, reading
//! the records that appeared, and the one `squeue` per poll interval that finds jobs
//! which left the queue without a record.

use std::collections::HashSet;
use std::path::PathBuf;

use warmstart_plan::Status;
use warmstart_plan::executor::Completion;
use warmstart_plan::sched::JobOutcome;

use super::SlurmExecutor;
use crate::records::{LedgerEntry, Outcome, StatusRecord};
use crate::submit::Group;

impl SlurmExecutor<'_, '_> {
    pub(super) fn log_of(&self, node: usize) -> String {
        self.spec[node]
            .as_deref()
            .and_then(|s| LedgerEntry::load(self.store, s))
            .map_or_else(|| "none".into(), |e| e.log.display().to_string())
    }

    /// The completion a worker's record stands for.
    pub(super) fn completion(&self, node: usize, r: &StatusRecord) -> Completion {
        match &r.outcome {
            Outcome::Ok {
                ran,
                key,
                output_digest,
            } => Completion::Finished {
                node,
                key: *key,
                outcome: JobOutcome::Ok {
                    status: if *ran { Status::Ran } else { Status::Cached },
                    digest: *output_digest,
                    output: None,
                    commit_pending: false,
                },
                duration_ms: r.duration_ms,
                warnings: r.warnings.clone(),
            },
            Outcome::Failed { error } => Completion::Finished {
                node,
                key: self.expected_key(node),
                outcome: JobOutcome::Failed(format!(
                    "{error} (Slurm job {}; log: {})",
                    r.job,
                    self.log_of(node)
                )),
                duration_ms: r.duration_ms,
                warnings: r.warnings.clone(),
            },
        }
    }

    /// Read the status records that appeared since the last look. With few live jobs,
    /// each record is tried by name; with many, one listing of the status directory says
    /// which exist (the directory also holds every earlier run's records, so listing it
    /// for a handful of jobs would cost more than it saves).
    pub(super) fn check_status(&mut self) {
        const BY_NAME: usize = 64;
        if self.live.is_empty() {
            return;
        }
        let names: Option<HashSet<String>> = if self.live.len() <= BY_NAME {
            None
        } else {
            let Ok(dir) = self.store.jobs_area("status") else {
                return;
            };
            Some(
                std::fs::read_dir(&dir)
                    .map(|rd| {
                        rd.filter_map(|e| e.ok()?.file_name().into_string().ok())
                            .collect()
                    })
                    .unwrap_or_default(),
            )
        };
        let live: Vec<usize> = self.live.iter().copied().collect();
        for i in live {
            let listed = self.spec[i].as_ref().is_some_and(|spec| {
                names
                    .as_ref()
                    .is_none_or(|n| n.contains(&format!("{spec}.json")))
            });
            if !listed {
                continue;
            }
            if let Some(r) = self.current_record(i) {
                self.settle(i, r);
            }
        }
    }

    /// Node `i`'s status record, if its current job wrote one.
    fn current_record(&self, i: usize) -> Option<StatusRecord> {
        let job = self.job.get(&i)?.to_string();
        StatusRecord::load(self.store, self.spec[i].as_deref()?).filter(|r| r.job == job)
    }

    /// Node `i`'s job reported: it leaves the live set; a dispatched node completes now,
    /// any other when the scheduler dispatches it.
    fn settle(&mut self, i: usize, r: StatusRecord) {
        self.gone_since.remove(&i);
        self.live.remove(&i);
        if self.watched.remove(&i) {
            let c = self.completion(i, &r);
            self.queued.push_back(c);
        } else {
            self.finished.insert(i, r);
        }
    }

    /// How long a job may be gone from the queue without a visible record before it counts
    /// as dead: two poll intervals, at least 3 s.
    fn grace(&self) -> std::time::Duration {
        (self.cfg.poll_interval * 2).max(std::time::Duration::from_secs(3))
    }

    /// One `squeue` for every live job: a job gone without a record is lost or dead.
    pub(super) fn check_queue(&mut self) {
        let mut ids: Vec<String> = self
            .live
            .iter()
            .filter_map(|i| self.job.get(i).map(|r| r.job.clone()))
            .collect();
        ids.sort();
        ids.dedup();
        let Ok(queue) = self.cluster.queue(&ids) else {
            // The controller did not answer (restarting?): ask again next time.
            return;
        };
        // A record may have been written just before the job left the queue.
        self.check_status();
        let mut changed = false;
        let live: Vec<usize> = self.live.iter().copied().collect();
        for i in live {
            let Some(r) = self.job.get(&i).cloned() else {
                continue;
            };
            let state = queue.get(&r.to_string()).or_else(|| queue.get(&r.job));
            if state.is_some_and(|s| s.is_alive()) {
                self.gone_since.remove(&i);
                continue;
            }
            // Its record may not show in a listing yet (a network filesystem caches
            // directories): read it by name, and give it a grace period before calling
            // the job dead.
            if let Some(rec) = self.current_record(i) {
                changed = true;
                self.settle(i, rec);
                continue;
            }
            let now = std::time::Instant::now();
            let since = *self.gone_since.entry(i).or_insert(now);
            if now.duration_since(since) < self.grace() {
                continue;
            }
            self.gone_since.remove(&i);
            changed = true;
            self.live.remove(&i);
            let log = PathBuf::from(self.log_of(i));
            let started = log.exists();
            if !started {
                // Never ran: cancelled because a job it waited for failed, or lost.
                self.job.remove(&i);
                self.lost.insert(i);
                if self.watched.remove(&i) {
                    // Its inputs are done now: submit it again, once.
                    if self.resubmitted.insert(i) {
                        self.resubmit_watched(i);
                    } else {
                        let key = self.expected_key(i);
                        self.fail(i, key, format!("Slurm job {r} left the queue twice without starting (cancelled? see `squeue`)"));
                    }
                }
            } else if self.watched.remove(&i) {
                let key = self.expected_key(i);
                self.fail(
                    i,
                    key,
                    format!(
                        "Slurm job {r} ended without reporting: it was cancelled, ran out of time or memory, or its node failed (log: {})",
                        log.display()
                    ),
                );
            } else {
                self.lost.insert(i);
                self.job.remove(&i);
            }
        }
        self.interval = if changed {
            self.cfg.poll_interval
        } else {
            (self.interval * 2).min(self.cfg.poll_interval * 6)
        };
    }

    fn resubmit_watched(&mut self, i: usize) {
        let group = Group {
            tasks: vec![(i, 0)],
            resources: self.resources(i),
            dependency: None,
            array: false,
        };
        match self.submit_group(&group) {
            Ok(()) => self.watch(i),
            Err(e) => {
                let key = self.expected_key(i);
                self.fail(i, key, format!("cannot submit it to Slurm again: {e}"))
            }
        }
    }
}
