//! What a run reports, as data: one serde type per event, serialized as JSON lines by
//! `warmstart run --json` (the format is documented in README.md, "JSON events").
//!
//! Every line carries `"v": 1` ([`EVENT_FORMAT_VERSION`]) and `"event"` (its kind). Fields
//! are only ever added within a version; a removed or re-typed field bumps it.

use serde::Serialize;
use warmstart_engine::Value;
use warmstart_plan::Plan;
use warmstart_plan::run::{Event, Progress, RunSummary, SkipReason, Status};

/// The version of the JSON event format.
pub const EVENT_FORMAT_VERSION: u32 = 1;

/// A stage instance's coordinates as a JSON object (`{"alpha": 0.5}`).
pub type Coords = serde_json::Map<String, serde_json::Value>;

/// An instance's coordinates as a JSON object, in axis order.
pub fn coords(c: &[(String, Value)]) -> Coords {
    c.iter().map(|(a, v)| (a.clone(), v.to_json())).collect()
}

/// One event of a run.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "lowercase")]
#[non_exhaustive]
pub enum RunEvent {
    /// A stage instance started running (cache hits never start).
    Started(StartedEvent),
    /// A started stage instance is a cluster job (`--executor slurm`): its job id.
    Submitted(SubmittedEvent),
    /// A stage instance ended: ran, cached, failed or skipped. An instance can end twice
    /// (ran, then its entry could not be written: failed); the last one counts.
    Stage(StageEvent),
    /// Something the user should know that is not a stage's end (e.g. a corrupt entry
    /// that was removed and is being recomputed).
    Warning(WarningEvent),
    /// The run is over.
    Summary(SummaryEvent),
}

/// `{"v":1,"event":"started","label":"b[x=1]"}`.
#[derive(Debug, Clone, Serialize)]
pub struct StartedEvent {
    /// `stage` or `stage[a=1,b=2]`.
    pub label: String,
}

/// `{"v":1,"event":"submitted","label":"b[x=1]","job":"4711_3"}`.
#[derive(Debug, Clone, Serialize)]
pub struct SubmittedEvent {
    /// `stage` or `stage[a=1,b=2]`.
    pub label: String,
    /// The Slurm job (`4711`) or array task (`4711_3`) it runs as.
    pub job: String,
}

/// A stage instance's end.
#[derive(Debug, Clone, Serialize)]
pub struct StageEvent {
    /// `stage` or `stage[a=1,b=2]`.
    pub label: String,
    /// The stage's name.
    pub stage: String,
    /// The instance's coordinates.
    pub coords: Coords,
    /// Full hex key; absent for skipped instances.
    pub key: Option<String>,
    /// How it ended.
    pub status: Status,
    /// How long it ran (0 for cached and skipped instances).
    pub duration_ms: u64,
    /// The failure, or why it was skipped, in words.
    pub error: Option<String>,
    /// For skipped instances: `{"reason": "upstream-failed", "upstream": "a"}`,
    /// `{"reason": "fail-fast"}`, `{"reason": "cancelled"}`, `{"reason": "detached", "job": "4711_3"}` or
    /// `{"reason": "internal", …}`.
    pub skip_reason: Option<SkipReason>,
}

/// A warning.
#[derive(Debug, Clone, Serialize)]
pub struct WarningEvent {
    /// What happened, in words.
    pub message: String,
    /// The instance it concerns, if any.
    pub label: Option<String>,
}

/// The totals of a run.
#[derive(Debug, Clone, Serialize)]
pub struct SummaryEvent {
    /// The counts.
    pub summary: SummaryCounts,
}

/// Counts by how each instance ended.
#[derive(Debug, Clone, Serialize)]
pub struct SummaryCounts {
    /// The experiment's name.
    pub experiment: String,
    /// Stage instances in the plan.
    pub stages: usize,
    /// Instances that ran.
    pub ran: usize,
    /// Instances found in the cache.
    pub cached: usize,
    /// Instances that failed.
    pub failed: usize,
    /// Instances not run (an input failed, fail-fast, cancelled).
    pub skipped: usize,
    /// Whether the run was interrupted (Ctrl-C).
    pub interrupted: bool,
    /// The run's wall time.
    pub duration_ms: u64,
}

impl RunEvent {
    /// The event for a scheduler report; `None` for reports with no event form.
    pub fn from_progress(plan: &Plan, p: &Progress) -> Option<RunEvent> {
        Some(match p {
            Progress::Started { node } => RunEvent::Started(StartedEvent {
                label: plan.nodes[*node].label(),
            }),
            Progress::Submitted { node, job } => RunEvent::Submitted(SubmittedEvent {
                label: plan.nodes[*node].label(),
                job: job.clone(),
            }),
            Progress::Done(ev) => RunEvent::Stage(StageEvent::from(ev)),
            Progress::Warning(w) => RunEvent::Warning(WarningEvent {
                message: w.message.clone(),
                label: w.node.map(|i| plan.nodes[i].label()),
            }),
            _ => return None,
        })
    }

    /// The closing event of a run.
    pub fn summary(plan: &Plan, s: &RunSummary) -> RunEvent {
        RunEvent::Summary(SummaryEvent {
            summary: SummaryCounts {
                experiment: plan.experiment.name.clone(),
                stages: plan.nodes.len(),
                ran: s.ran,
                cached: s.cached,
                failed: s.failed,
                skipped: s.skipped,
                interrupted: s.interrupted,
                duration_ms: s.duration_ms,
            },
        })
    }

    /// One JSON line (no newline), with the format version.
    pub fn to_json_line(&self) -> String {
        #[derive(Serialize)]
        struct Versioned<'a> {
            v: u32,
            #[serde(flatten)]
            event: &'a RunEvent,
        }
        serde_json::to_string(&Versioned {
            v: EVENT_FORMAT_VERSION,
            event: self,
        })
        .unwrap_or_else(|e| format!("{{\"v\":1,\"event\":\"error\",\"message\":\"{e}\"}}"))
    }
}

impl From<&Event> for StageEvent {
    fn from(ev: &Event) -> Self {
        StageEvent {
            label: ev.label(),
            stage: ev.stage.clone(),
            coords: coords(&ev.coords),
            key: ev.key.map(|k| k.to_string()),
            status: ev.status,
            duration_ms: ev.duration_ms,
            error: ev.error.clone(),
            skip_reason: ev.skip_reason.clone(),
        }
    }
}
