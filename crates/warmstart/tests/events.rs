//! The JSON event format (`warmstart run --json`), pinned: one snapshot per event kind.

use warmstart::SkipReason;
use warmstart::Status;
use warmstart::events::{
    RunEvent, StageEvent, StartedEvent, SubmittedEvent, SummaryCounts, SummaryEvent, WarningEvent,
};

fn stage(status: Status, error: Option<&str>, skip: Option<SkipReason>) -> RunEvent {
    let mut coords = serde_json::Map::new();
    coords.insert("alpha".into(), serde_json::json!(0.5));
    RunEvent::Stage(StageEvent {
        label: "train[alpha=0.5]".into(),
        stage: "train".into(),
        coords,
        key: (status != Status::Skipped).then(|| "ab".repeat(32)),
        status,
        duration_ms: 12,
        error: error.map(str::to_string),
        skip_reason: skip,
    })
}

#[test]
fn started() {
    let ev = RunEvent::Started(StartedEvent {
        label: "train[alpha=0.5]".into(),
    });
    insta::assert_snapshot!(ev.to_json_line());
}

#[test]
fn stage_ran() {
    insta::assert_snapshot!(stage(Status::Ran, None, None).to_json_line());
}

#[test]
fn stage_cached() {
    insta::assert_snapshot!(stage(Status::Cached, None, None).to_json_line());
}

#[test]
fn stage_failed() {
    insta::assert_snapshot!(stage(Status::Failed, Some("engine error: boom"), None).to_json_line());
}

#[test]
fn stage_skipped_upstream_failed() {
    let why = SkipReason::UpstreamFailed {
        upstream: "data".into(),
    };
    insta::assert_snapshot!(
        stage(Status::Skipped, Some(&why.to_string()), Some(why)).to_json_line()
    );
}

#[test]
fn stage_skipped_fail_fast_and_cancelled() {
    let ff = stage(Status::Skipped, None, Some(SkipReason::FailFast)).to_json_line();
    let c = stage(Status::Skipped, None, Some(SkipReason::Cancelled)).to_json_line();
    insta::assert_snapshot!(format!("{ff}\n{c}"));
}

#[test]
fn warning() {
    let ev = RunEvent::Warning(WarningEvent {
        message: "cache entry of `data` is corrupt (digest mismatch); removed, recomputing".into(),
        label: Some("data".into()),
    });
    insta::assert_snapshot!(ev.to_json_line());
}

#[test]
fn summary() {
    let ev = RunEvent::Summary(SummaryEvent {
        summary: SummaryCounts {
            experiment: "exp".into(),
            stages: 4,
            ran: 1,
            cached: 1,
            failed: 1,
            skipped: 1,
            interrupted: false,
            duration_ms: 30,
        },
    });
    insta::assert_snapshot!(ev.to_json_line());
}

#[test]
fn submitted() {
    let ev = RunEvent::Submitted(SubmittedEvent {
        label: "train[alpha=0.5]".into(),
        job: "4711_3".into(),
    });
    insta::assert_snapshot!(ev.to_json_line());
}

#[test]
fn stage_skipped_detached() {
    let why = SkipReason::Detached {
        job: "4711_3".into(),
    };
    insta::assert_snapshot!(
        stage(Status::Skipped, Some(&why.to_string()), Some(why)).to_json_line()
    );
}
