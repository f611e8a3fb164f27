//! How long a run will take, from how long the same stages took before: for a front end's
//! progress view (the CLI's terminal bar shows each running stage's elapsed time against
//! its estimate, and an ETA for the whole run).
//!
//! An instance's estimate is the most recent duration recorded for it (same label) in the
//! experiment's run records ([`crate::runs`]), else the most recent of any instance of its
//! stage; only instances that *ran* count (a cached or failed end says nothing about the
//! work). Instances that are fresh before the run starts will be cache hits: they cost
//! nothing. [`EtaTracker`] follows a run's events and answers, at any moment, what is
//! running for how long and how much is left. It holds no clock: the caller passes the
//! milliseconds since the run started, so the arithmetic is tested without waiting.

use std::collections::HashMap;

use warmstart_plan::Plan;
use warmstart_plan::run::Status;
use warmstart_plan::status::Freshness;

use crate::events::RunEvent;
use crate::runs::RunRecord;

/// What a run can expect of each instance of a plan.
#[derive(Debug, Clone)]
pub struct Estimates {
    /// Instance label → plan index.
    index: HashMap<String, usize>,
    /// Per plan node: `None` if it is fresh (a cache hit), else its estimate in
    /// milliseconds, if any was recorded.
    expect: Vec<Option<Option<u64>>>,
}

impl Estimates {
    /// The estimate for `plan`'s nodes from the experiment's run records in `store` and
    /// what is fresh there now. Unreadable records count as none.
    pub fn load(plan: &Plan, store: &warmstart_cache::Store) -> Estimates {
        let assessment = warmstart_plan::assess(plan, store);
        let fresh: Vec<bool> = assessment
            .freshness
            .iter()
            .map(|f| matches!(f, Freshness::Fresh { .. }))
            .collect();
        let records = crate::runs::records(store, &plan.experiment.name).unwrap_or_default();
        Estimates::from_records(plan, &fresh, &records)
    }

    /// The estimates from `records` (oldest first, as [`crate::runs::records`] lists them),
    /// with `fresh[i]` saying whether node `i` is a cache hit.
    pub fn from_records(plan: &Plan, fresh: &[bool], records: &[RunRecord]) -> Estimates {
        let labels: Vec<String> = plan.nodes.iter().map(|n| n.label()).collect();
        let stages: Vec<&str> = plan.nodes.iter().map(|n| n.stage.as_str()).collect();
        let expect = estimate_nodes(&labels, &stages, fresh, records);
        Estimates {
            index: labels
                .into_iter()
                .enumerate()
                .map(|(i, l)| (l, i))
                .collect(),
            expect,
        }
    }

    /// The estimate of the instance `label`, in milliseconds (`None`: fresh, unknown, or
    /// not an instance of the plan).
    pub fn of(&self, label: &str) -> Option<u64> {
        let &i = self.index.get(label)?;
        self.expect.get(i).copied().flatten().flatten()
    }
}

/// Per node: `None` if fresh, else the most recent recorded duration of the same label,
/// else of the same stage (labels are `stage` or `stage[…]`).
fn estimate_nodes(
    labels: &[String],
    stages: &[&str],
    fresh: &[bool],
    records: &[RunRecord],
) -> Vec<Option<Option<u64>>> {
    let mut by_label: HashMap<&str, u64> = HashMap::new();
    let mut by_stage: HashMap<&str, u64> = HashMap::new();
    // Newest first: the first duration seen for a label or stage is its most recent.
    for r in records.iter().rev() {
        for i in r.instances.iter().filter(|i| i.status == Status::Ran) {
            let stage = i.label.split('[').next().unwrap_or(&i.label);
            by_label.entry(i.label.as_str()).or_insert(i.duration_ms);
            by_stage.entry(stage).or_insert(i.duration_ms);
        }
    }
    labels
        .iter()
        .zip(stages)
        .enumerate()
        .map(|(i, (label, stage))| {
            if fresh.get(i).copied().unwrap_or(false) {
                None
            } else {
                Some(
                    by_label
                        .get(label.as_str())
                        .or_else(|| by_stage.get(stage))
                        .copied(),
                )
            }
        })
        .collect()
}

/// A running instance, as [`EtaTracker::running`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Running {
    /// `stage` or `stage[a=1]`.
    pub label: String,
    /// How long it has been running.
    pub elapsed_ms: u64,
    /// How long it took last time, if known.
    pub estimate_ms: Option<u64>,
}

/// Where an instance is in the run.
#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Waiting,
    /// Started this many ms after the run began.
    Running(u64),
    Ended,
}

/// Follows a run's events: what runs, for how long, and the time left.
#[derive(Debug, Clone)]
pub struct EtaTracker {
    estimates: Estimates,
    /// Stage slots of the run (`--jobs`): how many instances run at once.
    slots: usize,
    /// Per plan node.
    state: Vec<State>,
    /// The running instances (plan index, label), in start order.
    running: Vec<(usize, String)>,
}

impl EtaTracker {
    /// A tracker for a run with `slots` parallel stage slots.
    pub fn new(estimates: Estimates, slots: usize) -> EtaTracker {
        let n = estimates.expect.len();
        EtaTracker {
            estimates,
            slots: slots.max(1),
            state: vec![State::Waiting; n],
            running: Vec::new(),
        }
    }

    /// Take in one event of the run, `now_ms` after it began.
    pub fn observe(&mut self, event: &RunEvent, now_ms: u64) {
        match event {
            RunEvent::Started(s) => {
                if let Some(&i) = self.estimates.index.get(&s.label)
                    && self.state[i] == State::Waiting
                {
                    self.state[i] = State::Running(now_ms);
                    self.running.push((i, s.label.clone()));
                }
            }
            RunEvent::Stage(s) => {
                if let Some(&i) = self.estimates.index.get(&s.label) {
                    self.state[i] = State::Ended;
                    self.running.retain(|(r, _)| *r != i);
                }
            }
            _ => {}
        }
    }

    /// The running instances, in the order they started, `now_ms` after the run began.
    pub fn running(&self, now_ms: u64) -> Vec<Running> {
        self.running
            .iter()
            .map(|(i, label)| Running {
                label: label.clone(),
                elapsed_ms: match self.state[*i] {
                    State::Running(start) => now_ms.saturating_sub(start),
                    _ => 0,
                },
                estimate_ms: self.estimates.expect[*i].flatten(),
            })
            .collect()
    }

    /// The time left, `now_ms` after the run began: the work left (what running instances
    /// have still to do by their estimates, plus the estimates of those that have not
    /// started and are not cache hits) spread over the run's slots, but never less than
    /// the longest single piece. `None` when some instance left has no estimate, or
    /// nothing is known to be left.
    pub fn eta_ms(&self, now_ms: u64) -> Option<u64> {
        let mut work = 0u64;
        let mut longest = 0u64;
        let mut any = false;
        for (expect, state) in self.estimates.expect.iter().zip(&self.state) {
            // A cache hit costs nothing; an ended instance is done.
            let (Some(estimate), false) = (expect, *state == State::Ended) else {
                continue;
            };
            let estimate = (*estimate)?;
            let left = match state {
                State::Running(start) => estimate.saturating_sub(now_ms.saturating_sub(*start)),
                _ => estimate,
            };
            any = true;
            work = work.saturating_add(left);
            longest = longest.max(left);
        }
        any.then(|| work.div_ceil(self.slots as u64).max(longest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::InstanceRecord;

    fn record(instances: &[(&str, Status, u64)]) -> RunRecord {
        let mut r: RunRecord = serde_json::from_value(serde_json::json!({
            "format": 1, "id": "0-1", "experiment": "e", "file": "", "file_digest": "",
            "executor": "local", "warmstart_version": "", "started_unix_ms": 0,
            "duration_ms": 0, "ran": 0, "cached": 0, "failed": 0, "skipped": 0,
            "interrupted": false, "instances": [],
        }))
        .unwrap();
        r.instances = instances
            .iter()
            .map(|(label, status, ms)| {
                serde_json::from_value::<InstanceRecord>(serde_json::json!({
                    "label": label, "key": null, "status": status, "duration_ms": ms,
                    "error": null,
                }))
                .unwrap()
            })
            .collect();
        r
    }

    #[test]
    fn the_most_recent_duration_of_the_instance_then_of_its_stage_is_the_estimate() {
        let records = [
            record(&[
                ("fit[x=1]", Status::Ran, 100),
                ("fit[x=2]", Status::Ran, 200),
            ]),
            record(&[("fit[x=1]", Status::Ran, 150), ("pca", Status::Failed, 5)]),
            // Cached ends say nothing about the work.
            record(&[("fit[x=1]", Status::Cached, 0)]),
        ];
        let l: Vec<String> = ["fit[x=1]", "fit[x=2]", "fit[x=3]", "pca", "plot"]
            .map(String::from)
            .to_vec();
        let s = ["fit", "fit", "fit", "pca", "plot"];
        let fresh = [false, false, false, false, false];
        let e = estimate_nodes(&l, &s, &fresh, &records);
        // x=1: its own latest (150); x=2: its own (200); x=3: the stage's latest (150).
        assert_eq!(
            e,
            [
                Some(Some(150)),
                Some(Some(200)),
                Some(Some(150)),
                Some(None),
                Some(None)
            ]
        );
        // Fresh instances are cache hits: nothing to estimate.
        let e = estimate_nodes(&l, &s, &[true, false, false, false, false], &records);
        assert_eq!(e[0], None);
    }

    fn tracker(expect: Vec<Option<Option<u64>>>, slots: usize) -> EtaTracker {
        let index = (0..expect.len())
            .map(|i| (format!("s[i={i}]"), i))
            .collect();
        EtaTracker::new(Estimates { index, expect }, slots)
    }

    fn started(i: usize) -> RunEvent {
        RunEvent::Started(crate::events::StartedEvent {
            label: format!("s[i={i}]"),
        })
    }

    fn ended(i: usize) -> RunEvent {
        RunEvent::Stage(crate::events::StageEvent {
            label: format!("s[i={i}]"),
            stage: "s".into(),
            coords: Default::default(),
            key: None,
            status: Status::Ran,
            duration_ms: 0,
            error: None,
            skip_reason: None,
        })
    }

    #[test]
    fn eta_is_the_work_left_over_the_slots_and_follows_the_run() {
        // Four instances of 10 s, one cache hit, two slots.
        let mut t = tracker(
            vec![
                Some(Some(10_000)),
                Some(Some(10_000)),
                Some(Some(10_000)),
                Some(Some(10_000)),
                None,
            ],
            2,
        );
        assert_eq!(t.eta_ms(0), Some(20_000));
        t.observe(&started(0), 0);
        t.observe(&started(1), 0);
        assert_eq!(t.eta_ms(4_000), Some(16_000)); // 6 + 6 + 10 + 10 over 2
        assert_eq!(
            t.running(4_000),
            [
                Running {
                    label: "s[i=0]".into(),
                    elapsed_ms: 4_000,
                    estimate_ms: Some(10_000)
                },
                Running {
                    label: "s[i=1]".into(),
                    elapsed_ms: 4_000,
                    estimate_ms: Some(10_000)
                },
            ]
        );
        t.observe(&ended(0), 10_000);
        t.observe(&ended(1), 10_000);
        t.observe(&started(2), 10_000);
        // One left running alone: never less than the longest piece.
        t.observe(&ended(3), 10_000);
        assert_eq!(t.eta_ms(12_000), Some(8_000));
        // Overdue: nothing left by the estimate.
        assert_eq!(t.eta_ms(30_000), Some(0));
        t.observe(&ended(2), 31_000);
        assert_eq!(t.eta_ms(31_000), None, "nothing left");
        assert!(t.running(31_000).is_empty());
    }

    #[test]
    fn an_instance_without_a_record_makes_the_eta_unknown() {
        let mut t = tracker(vec![Some(Some(1_000)), Some(None)], 4);
        assert_eq!(t.eta_ms(0), None);
        t.observe(&ended(1), 10);
        assert_eq!(t.eta_ms(10), Some(1_000));
    }
}
