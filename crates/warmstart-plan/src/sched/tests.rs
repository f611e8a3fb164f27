//! The scheduler's transitions, driven by hand: the test plays executor and store.

use super::*;

fn key(i: usize) -> CacheKey {
    CacheKey([i as u8; 32])
}
fn digest(i: usize) -> Digest {
    Digest([i as u8 + 100; 32])
}

/// A topology from input lists; one slot per node, no GPUs, nodes named `n0`, `n1`, ….
fn topo(inputs: Vec<Vec<usize>>) -> Topology {
    let n = inputs.len();
    Topology {
        inputs,
        slots: vec![1; n],
        gpu: vec![None; n],
        names: (0..n).map(|i| (format!("n{i}"), Vec::new())).collect(),
    }
}

fn ran(output: u32) -> JobOutcome<u32> {
    JobOutcome::Ok {
        status: Status::Ran,
        digest: Digest([7; 32]),
        output: Some(output),
        commit_pending: false,
    }
}

/// Offer everything ready: dispatch (nothing is cached). Returns what was submitted.
fn dispatch_all(s: &mut Scheduler<u32>) -> Vec<usize> {
    let mut out = Vec::new();
    while let Some(i) = s.next_ready() {
        if s.dispatch(i, key(i)) == Dispatch::Submit {
            out.push(i);
        }
    }
    out
}

fn status_of(summary: &RunSummary, node: usize) -> (Status, Option<SkipReason>) {
    let e = summary.events.iter().find(|e| e.node == node).unwrap();
    (e.status, e.skip_reason.clone())
}

#[test]
fn a_chain_runs_in_order_and_in_memory_outputs_feed_users() {
    let mut s = Scheduler::new(topo(vec![vec![], vec![0], vec![1]]), 4, false);
    assert_eq!(dispatch_all(&mut s), vec![0]);
    s.on_finished(0, key(0), ran(10), 5);
    assert_eq!(dispatch_all(&mut s), vec![1]);
    let src = s.input_sources(1).unwrap();
    assert!(matches!(src[0], (0, InputSource::Memory(10))));
    s.on_finished(1, key(1), ran(11), 5);
    // 0's output is dropped once its only user finished.
    assert!(!s.outputs.contains_key(&0));
    assert_eq!(dispatch_all(&mut s), vec![2]);
    s.on_finished(2, key(2), ran(12), 5);
    assert!(s.is_idle());
    let (sum, _) = s.finish(1);
    assert_eq!((sum.ran, sum.skipped), (3, 0));
    assert!(sum.success());
}

#[test]
fn cached_nodes_release_their_users_and_are_read_from_the_cache() {
    let mut s: Scheduler<u32> = Scheduler::new(topo(vec![vec![], vec![0]]), 1, false);
    let i = s.next_ready().unwrap();
    s.on_cached(i, key(0), digest(0));
    assert_eq!(s.input_digests(1), vec![digest(0)]);
    assert_eq!(s.next_ready(), Some(1));
    assert!(matches!(
        s.input_sources(1).unwrap()[0],
        (0, InputSource::Cache(k)) if k == key(0)
    ));
    let progress = s.take_progress();
    assert!(matches!(&progress[0], Progress::Done(e) if e.status == Status::Cached));
}

#[test]
fn a_failure_skips_downstream_with_its_reason_and_independent_branches_go_on() {
    // 0 → 1 → 2, and 3 alone.
    let mut s = Scheduler::new(topo(vec![vec![], vec![0], vec![1], vec![]]), 4, false);
    assert_eq!(dispatch_all(&mut s), vec![0, 3]);
    s.on_finished(0, key(0), JobOutcome::Failed("boom".into()), 1);
    assert_eq!(dispatch_all(&mut s), Vec::<usize>::new());
    s.on_finished(3, key(3), ran(3), 1);
    let (sum, _) = s.finish(1);
    assert_eq!((sum.failed, sum.ran, sum.skipped), (1, 1, 2));
    let up = SkipReason::UpstreamFailed {
        upstream: "n0".into(),
    };
    assert_eq!(status_of(&sum, 1), (Status::Skipped, Some(up.clone())));
    assert_eq!(status_of(&sum, 2), (Status::Skipped, Some(up)));
}

#[test]
fn fail_fast_stops_dispatching_and_says_so() {
    let mut s = Scheduler::new(topo(vec![vec![], vec![], vec![]]), 1, true);
    assert_eq!(dispatch_all(&mut s), vec![0]);
    s.on_finished(0, key(0), JobOutcome::Failed("boom".into()), 1);
    assert_eq!(s.next_ready(), None);
    let (sum, _) = s.finish(1);
    assert_eq!(status_of(&sum, 1).1, Some(SkipReason::FailFast));
    assert_eq!(status_of(&sum, 2).1, Some(SkipReason::FailFast));
    assert!(!sum.interrupted);
}

#[test]
fn cancellation_lets_running_nodes_finish_and_skips_the_rest_as_cancelled() {
    let mut s = Scheduler::new(topo(vec![vec![], vec![0], vec![]]), 1, false);
    assert_eq!(dispatch_all(&mut s), vec![0]);
    s.on_cancel();
    assert!(!s.is_idle());
    s.on_finished(0, key(0), ran(0), 1);
    assert_eq!(s.next_ready(), None);
    assert!(s.is_idle());
    let (sum, _) = s.finish(1);
    assert!(sum.interrupted);
    assert_eq!(status_of(&sum, 0).0, Status::Ran);
    assert_eq!(status_of(&sum, 1).1, Some(SkipReason::Cancelled));
    assert_eq!(status_of(&sum, 2).1, Some(SkipReason::Cancelled));
}

#[test]
fn thread_slots_bound_what_runs_at_once() {
    let mut t = topo(vec![vec![], vec![], vec![], vec![]]);
    t.slots = vec![1, 1, 2, 1];
    let mut s = Scheduler::new(t, 2, false);
    assert_eq!(dispatch_all(&mut s), vec![0, 1]);
    s.on_finished(0, key(0), ran(0), 1);
    // Node 2 needs both slots: it waits (and holds the queue) until 1 is done.
    assert_eq!(dispatch_all(&mut s), Vec::<usize>::new());
    s.on_finished(1, key(1), ran(1), 1);
    assert_eq!(dispatch_all(&mut s), vec![2]);
    s.on_finished(2, key(2), ran(2), 1);
    assert_eq!(dispatch_all(&mut s), vec![3]);
}

#[test]
fn a_stage_wider_than_jobs_still_runs_alone() {
    let mut t = topo(vec![vec![]]);
    t.slots = vec![64];
    let mut s = Scheduler::new(t, 2, false);
    assert_eq!(dispatch_all(&mut s), vec![0]);
}

#[test]
fn one_stage_per_gpu_and_parked_ones_are_offered_again() {
    let mut t = topo(vec![vec![], vec![], vec![], vec![]]);
    t.gpu = vec![Some(0), Some(0), Some(1), None];
    let mut s = Scheduler::new(t, 8, false);
    assert_eq!(dispatch_all(&mut s), vec![0, 2, 3]);
    s.on_finished(0, key(0), ran(0), 1);
    assert_eq!(dispatch_all(&mut s), vec![1]);
}

#[test]
fn write_behind_keeps_outputs_in_memory_until_written_and_a_failed_write_fails_only_its_node() {
    let mut s = Scheduler::new(topo(vec![vec![], vec![0]]), 2, false);
    assert_eq!(dispatch_all(&mut s), vec![0]);
    let pending = JobOutcome::Ok {
        status: Status::Ran,
        digest: digest(0),
        output: Some(5),
        commit_pending: true,
    };
    s.on_finished(0, key(0), pending, 9);
    assert!(!s.is_idle(), "an entry is still being written");
    assert_eq!(dispatch_all(&mut s), vec![1]);
    s.on_finished(1, key(1), ran(1), 1);
    assert!(
        s.outputs.contains_key(&0),
        "kept until its entry is on disk"
    );
    s.on_committed(0, Some("disk full".into()));
    assert!(!s.outputs.contains_key(&0));
    assert!(s.is_idle());
    let (sum, _) = s.finish(1);
    assert_eq!((sum.ran, sum.failed, sum.events.len()), (1, 1, 2));
    let e0 = sum.events.iter().find(|e| e.node == 0).unwrap();
    assert_eq!((e0.status, e0.duration_ms), (Status::Failed, 9));
    assert_eq!(status_of(&sum, 1).0, Status::Ran, "its user stands");
}

#[test]
fn at_most_max_pending_commits_are_written_behind() {
    let n = MAX_PENDING_COMMITS + 2;
    let mut s = Scheduler::new(topo(vec![vec![]; n]), 1, false);
    for i in 0..MAX_PENDING_COMMITS {
        assert_eq!(dispatch_all(&mut s), vec![i]);
        let o = JobOutcome::Ok {
            status: Status::Ran,
            digest: digest(i),
            output: Some(0),
            commit_pending: true,
        };
        s.on_finished(i, key(i), o, 1);
    }
    assert_eq!(s.next_ready(), None, "the write-behind queue is full");
    s.on_committed(0, None);
    assert!(s.next_ready().is_some());
}

/// root (cached, corrupt) → `users` users → gather.
fn fan(users: usize) -> Topology {
    let mut inputs = vec![vec![]];
    inputs.extend((0..users).map(|_| vec![0]));
    inputs.push((1..=users).collect());
    topo(inputs)
}

#[test]
fn a_corrupt_input_read_by_concurrent_users_is_recomputed_once_and_strands_nobody() {
    // The defect this state machine removed: with 40 users at --jobs 4, the users that
    // were running when the first found the input corrupt ended "skipped (--fail-fast)".
    let users = 40;
    let mut s = Scheduler::new(fan(users), 4, false);
    let root = s.next_ready().unwrap();
    s.on_cached(root, key(0), digest(0));
    let running = dispatch_all(&mut s);
    assert_eq!(running, vec![1, 2, 3, 4]);
    // The first reader finds it corrupt: the entry is to be removed and root recomputed.
    assert_eq!(s.on_input_corrupt(1, 0, "flipped byte"), Some(key(0)));
    let warnings = s
        .take_progress()
        .into_iter()
        .filter(|p| matches!(p, Progress::Warning(_)))
        .count();
    assert_eq!(warnings, 1);
    // Root is offered first (nothing else is ready: every user waits for it again).
    assert_eq!(dispatch_all(&mut s), vec![0]);
    // A second reader fails while root is being recomputed: it waits, nothing removed.
    assert_eq!(s.on_input_corrupt(2, 0, "flipped byte"), None);
    s.on_finished(0, key(0), ran(100), 3);
    // A third reports after root was recomputed: it just runs again, from memory.
    assert_eq!(s.on_input_corrupt(3, 0, "manifest missing"), None);
    // The fourth original reader's report comes in later still.
    assert_eq!(s.on_input_corrupt(4, 0, "late"), None);
    let mut done = 0;
    let mut rounds = 0;
    while done < users {
        for i in dispatch_all(&mut s) {
            assert!(matches!(
                s.input_sources(i).unwrap()[0],
                (0, InputSource::Memory(100))
            ));
            s.on_finished(i, key(i), ran(i as u32), 1);
            done += 1;
        }
        rounds += 1;
        assert!(rounds < 1000, "stuck with {done} users done");
    }
    let gather = users + 1;
    assert_eq!(dispatch_all(&mut s), vec![gather]);
    s.on_finished(gather, key(gather), ran(0), 1);
    assert!(s.is_idle());
    let (sum, _) = s.finish(1);
    assert!(sum.success(), "{:?}", sum.events);
    assert_eq!((sum.ran, sum.cached, sum.skipped), (users + 2, 0, 0));
    assert_eq!(sum.events.len(), users + 2, "one final event per node");
}

#[test]
fn a_user_waiting_on_another_input_does_not_start_before_the_corrupt_one_is_recomputed() {
    // 0 (cached, corrupt), 1 (slow), 2 reads 0, 3 reads 0 and 1.
    let mut s = Scheduler::new(topo(vec![vec![], vec![], vec![0], vec![0, 1]]), 4, false);
    let a = s.next_ready().unwrap();
    s.on_cached(a, key(0), digest(0));
    assert_eq!(dispatch_all(&mut s), vec![1, 2]);
    assert_eq!(s.on_input_corrupt(2, 0, "bad"), Some(key(0)));
    // 1 finishes while 0 is not yet recomputed: 3 must not start.
    s.on_finished(1, key(1), ran(1), 1);
    assert_eq!(dispatch_all(&mut s), vec![0]);
    s.on_finished(0, key(0), ran(0), 1);
    let mut next = dispatch_all(&mut s);
    next.sort();
    assert_eq!(next, vec![2, 3]);
}

#[test]
fn an_input_that_keeps_coming_back_corrupt_fails_its_user_instead_of_looping() {
    let mut s = Scheduler::new(topo(vec![vec![], vec![0]]), 1, false);
    for round in 0..=MAX_INVALIDATIONS {
        assert_eq!(s.next_ready(), Some(0));
        // After the first time, the recomputation finds an entry under the lock
        // (another process wrote it), which is corrupt again.
        if round == 0 {
            s.on_cached(0, key(0), digest(0));
        } else {
            assert_eq!(s.dispatch(0, key(0)), Dispatch::Submit);
            let found = JobOutcome::Ok {
                status: Status::Cached,
                digest: digest(0),
                output: None,
                commit_pending: false,
            };
            s.on_finished(0, key(0), found, 1);
        }
        assert_eq!(dispatch_all(&mut s), vec![1]);
        let removed = s.on_input_corrupt(1, 0, "bad");
        assert_eq!(removed.is_some(), round < MAX_INVALIDATIONS);
    }
    assert!(s.is_idle());
    let (sum, _) = s.finish(1);
    let e = sum.events.iter().find(|e| e.node == 1).unwrap();
    assert_eq!(e.status, Status::Failed);
    assert!(e.error.as_deref().unwrap().contains("check the disk"));
}

#[test]
fn a_node_left_waiting_without_a_stop_is_an_internal_error_not_fail_fast() {
    let s: Scheduler<u32> = Scheduler::new(topo(vec![vec![]]), 1, false);
    let (sum, _) = s.finish(1);
    assert!(matches!(
        status_of(&sum, 0).1,
        Some(SkipReason::Internal { .. })
    ));
}

#[test]
fn a_detached_node_ends_skipped_with_its_job_and_the_run_stops_dispatching() {
    let mut s = Scheduler::new(topo(vec![vec![], vec![], vec![0]]), 1, false);
    assert_eq!(dispatch_all(&mut s), vec![0]);
    s.on_submitted(0, "17_3".into());
    assert!(matches!(
        s.take_progress().as_slice(),
        [Progress::Started { node: 0 }, Progress::Submitted { node: 0, job }] if job == "17_3"
    ));
    s.on_detached(0, "17_3".into());
    assert!(s.is_idle());
    assert_eq!(s.next_ready(), None, "nothing starts after detaching");
    // Detaching a node that is not running changes nothing.
    s.on_detached(2, "18".into());
    let (summary, _) = s.finish(0);
    assert_eq!(
        status_of(&summary, 0),
        (
            Status::Skipped,
            Some(SkipReason::Detached { job: "17_3".into() })
        )
    );
    assert_eq!(
        status_of(&summary, 1),
        (Status::Skipped, Some(SkipReason::Cancelled))
    );
    assert_eq!(
        status_of(&summary, 2),
        (Status::Skipped, Some(SkipReason::Cancelled))
    );
    assert!(summary.interrupted);
}

/// Offer everything ready under one shared key: the first runs, the rest join it.
fn dispatch_shared(s: &mut Scheduler<u32>, k: CacheKey) -> (Vec<usize>, Vec<usize>) {
    let (mut run, mut twin) = (Vec::new(), Vec::new());
    while let Some(i) = s.next_ready() {
        if s.join_twin(i, k) {
            twin.push(i);
        } else if s.dispatch(i, k) == Dispatch::Submit {
            run.push(i);
        }
    }
    (run, twin)
}

#[test]
fn identical_instances_run_once_and_the_twins_are_cached() {
    // 0, 1, 2 share a key; 3 reads 1.
    let mut s = Scheduler::new(topo(vec![vec![], vec![], vec![], vec![1]]), 4, false);
    let (run, twin) = dispatch_shared(&mut s, key(9));
    assert_eq!((run, twin), (vec![0], vec![1, 2]));
    assert_eq!(s.running, 1, "twins take no slot");
    s.on_finished(0, key(9), ran(10), 5);
    // 1's user reads the leader's output from memory.
    assert_eq!(dispatch_all(&mut s), vec![3]);
    assert!(matches!(
        s.input_sources(3).unwrap()[0],
        (1, InputSource::Memory(10))
    ));
    s.on_finished(3, key(3), ran(13), 5);
    let (sum, _) = s.finish(1);
    assert_eq!((sum.ran, sum.cached), (2, 2));
    assert_eq!(status_of(&sum, 2).0, Status::Cached);
}

#[test]
fn twins_of_a_failed_leader_fail_with_its_error_and_skip_their_users() {
    let mut s = Scheduler::new(topo(vec![vec![], vec![], vec![1]]), 4, false);
    dispatch_shared(&mut s, key(9));
    s.on_finished(0, key(9), JobOutcome::Failed("boom".into()), 5);
    let (sum, _) = s.finish(1);
    let e = sum.events.iter().find(|e| e.node == 1).unwrap();
    assert_eq!(e.status, Status::Failed);
    assert!(
        e.error.as_deref().unwrap().contains("same key as `n0`")
            && e.error.as_deref().unwrap().contains("boom")
    );
    assert_eq!(status_of(&sum, 2).0, Status::Skipped);
}

#[test]
fn twins_of_a_leader_sent_back_for_a_corrupt_input_start_again() {
    // 0 is cached; 1 and 2 read it and share a key.
    let mut s = Scheduler::new(topo(vec![vec![], vec![0], vec![0]]), 4, false);
    let i = s.next_ready().unwrap();
    s.on_cached(i, key(0), digest(0));
    let (run, twin) = dispatch_shared(&mut s, key(9));
    assert_eq!((run, twin), (vec![1], vec![2]));
    assert_eq!(s.on_input_corrupt(1, 0, "bad"), Some(key(0)));
    // 0 runs again; then 1 and 2 are both offered again.
    assert_eq!(dispatch_all(&mut s), vec![0]);
    s.on_finished(0, key(0), ran(1), 5);
    let (run, twin) = dispatch_shared(&mut s, key(9));
    assert_eq!(run.len() + twin.len(), 2);
    s.on_finished(run[0], key(9), ran(2), 5);
    let (sum, _) = s.finish(1);
    assert!(sum.success(), "{:?}", sum.events);
}
