//! An executor that submitted a node's job ahead of the scheduler (a cluster executor
//! submits the whole DAG at once) owns that node's outcome: when its job has committed the
//! entry before the scheduler reaches the node, the node is reported as the job reported
//! it (`ran`), not `cached` because the scheduler's own lookup found the job's entry.

mod common;

use std::time::Duration;

use warmstart_cache::DigestLookup;
use warmstart_cache::store::Store;
use warmstart_plan::executor::{Completion, Job};
use warmstart_plan::run::{RunOptions, Status};
use warmstart_plan::sched::JobOutcome;
use warmstart_plan::{Executor, LocalExecutor, drive, execute};

const EXP: &str = r#"
[experiment]
name = "own-jobs"
[stages.a]
kind = "echo"
value = "a"
[stages.b]
kind = "echo"
inputs = ["a"]
value = "b"
"#;

/// Runs every node locally, except `owned`, whose "cluster job" already ran and committed
/// its entry: on submit it reports that job's outcome, as a cluster executor does from the
/// job's status record.
struct AheadOfTheScheduler<'a, 's, 'e> {
    local: LocalExecutor<'s, 'e>,
    store: &'a Store,
    owned: usize,
    reported: Vec<Completion>,
}

impl Executor for AheadOfTheScheduler<'_, '_, '_> {
    fn submit(&mut self, job: Job) {
        if job.node != self.owned {
            return self.local.submit(job);
        }
        let DigestLookup::Hit(digest) = self.store.lookup_digest(&job.key) else {
            panic!("the owned node's entry should be in the cache already");
        };
        self.reported.push(Completion::Finished {
            node: job.node,
            key: job.key,
            outcome: JobOutcome::Ok {
                status: Status::Ran,
                digest,
                output: None,
                commit_pending: false,
            },
            duration_ms: 1,
            warnings: Vec::new(),
        });
    }

    fn next_completion(&mut self, timeout: Duration) -> Option<Completion> {
        match self.reported.pop() {
            Some(c) => Some(c),
            None => self.local.next_completion(timeout),
        }
    }

    fn has_own_job(&self, node: usize) -> bool {
        node == self.owned
    }
}

#[test]
fn a_node_whose_own_job_committed_first_is_reported_ran_not_cached() {
    let dir = tempfile::tempdir().unwrap();
    let plan = common::native_plan(dir.path(), EXP);
    let store = Store::open(&dir.path().join("cache")).unwrap();
    // The entries exist, as after a cluster job of this run committed them.
    assert!(execute(&plan, &store, &RunOptions::default(), &mut |_| {}).success());
    let b = plan.nodes.iter().position(|n| n.stage == "b").unwrap();

    let summary = std::thread::scope(|scope| {
        let mut executor = AheadOfTheScheduler {
            local: LocalExecutor::new(scope, &plan, &store),
            store: &store,
            owned: b,
            reported: Vec::new(),
        };
        drive(
            &plan,
            &store,
            &mut executor,
            &RunOptions::default(),
            &mut |_| {},
        )
    });
    assert!(summary.success());
    let status = |stage: &str| {
        summary
            .events
            .iter()
            .find(|e| e.stage == stage)
            .unwrap()
            .status
    };
    // `a` has no job of the executor's: the scheduler's lookup finds it.
    assert_eq!(status("a"), Status::Cached);
    // `b`'s job computed it in this run: reported as its job reported it.
    assert_eq!(status("b"), Status::Ran);
}
