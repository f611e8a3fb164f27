//! The project file's `[executor]` table: which executor `warmstart run` uses and, for
//! Slurm, the defaults of every job (`partition`, `account`, `qos`, `time`, `mem`,
//! `extra`), how many jobs may wait in the queue (`max_submitted`) and how often the
//! queue is asked about them (`poll_interval`, seconds).

use super::toml::{Kind, Node};
use super::{Ctx, table};
use crate::cluster::{ExecutorKind, ExecutorSpec, setting_problem};
use crate::model::Spanned;

const KEYS: [&str; 11] = [
    "kind",
    "partition",
    "account",
    "qos",
    "time",
    "mem",
    "extra",
    "max_submitted",
    "poll_interval",
    "allow_node_local_cache",
    "description",
];

const HELP: &str = "[executor]\nkind = \"slurm\"\npartition = \"gpu\"\ntime = \"04:00:00\"";

pub(super) fn parse_executor(
    cx: &mut Ctx,
    key: &Spanned<String>,
    node: &Node,
) -> Option<ExecutorSpec> {
    let fields = table(cx, key, node, "executor settings", HELP)?;
    let mut spec = ExecutorSpec::new(ExecutorKind::Local);
    spec.span = key.span.clone();
    let errors_before = cx.errors.len();
    let mut kind_seen = false;
    for (k, v) in fields {
        let w = format!("`{}` in [executor]", k.value);
        match k.value.as_str() {
            "kind" => {
                kind_seen = true;
                match &v.kind {
                    Kind::Str(s) if s == "local" => spec.kind = ExecutorKind::Local,
                    Kind::Str(s) if s == "slurm" => spec.kind = ExecutorKind::Slurm,
                    _ => cx.err(
                        v.span.clone(),
                        "spec::unknown-executor",
                        format!("{w} must be \"local\" or \"slurm\""),
                        "unknown executor",
                        Some("write `kind = \"slurm\"` to submit stages to Slurm, or `kind = \"local\"` (the default) to run them here".into()),
                    ),
                }
            }
            "partition" | "account" | "qos" | "time" | "mem" => {
                let Some(value) = slurm_setting(cx, &k.value, v, &w) else {
                    continue;
                };
                let slot = match k.value.as_str() {
                    "partition" => &mut spec.partition,
                    "account" => &mut spec.account,
                    "qos" => &mut spec.qos,
                    "time" => &mut spec.time,
                    _ => &mut spec.mem,
                };
                *slot = Some(value);
            }
            "extra" => spec.extra = extra_args(cx, v, &w),
            "max_submitted" => match v.kind {
                Kind::Int(Some(n)) if n >= 1 => spec.max_submitted = usize::try_from(n).ok(),
                _ => cx.type_err(
                    &w,
                    v,
                    "an integer ≥ 1",
                    "write e.g. `max_submitted = 500` (jobs in the queue at once)".into(),
                ),
            },
            "poll_interval" => {
                let secs = match v.kind {
                    Kind::Int(Some(n)) => Some(n as f64),
                    Kind::Float(f) => f,
                    _ => None,
                };
                match secs {
                    Some(s) if (1.0..=3600.0).contains(&s) => spec.poll_interval = Some(s),
                    _ => cx.type_err(
                        &w,
                        v,
                        "a number of seconds between 1 and 3600",
                        "write e.g. `poll_interval = 30`; the queue is asked about all jobs at once, so 10 s or more is kind to a shared cluster".into(),
                    ),
                }
            }
            "allow_node_local_cache" => match v.kind {
                Kind::Bool(b) => spec.allow_node_local_cache = b,
                _ => cx.type_err(
                    &w,
                    v,
                    "a boolean",
                    "write `allow_node_local_cache = true` (only on a one-node cluster)".into(),
                ),
            },
            "description" => {}
            _ => cx.unknown_key(k, "[executor]", &KEYS),
        }
    }
    if !kind_seen && cx.errors.len() == errors_before {
        cx.err(
            key.span.clone(),
            "spec::missing-kind",
            "[executor] has no `kind`",
            "needs `kind = \"slurm\"` or `kind = \"local\"`",
            Some(HELP.to_string()),
        );
    }
    (cx.errors.len() == errors_before).then_some(spec)
}

/// A string setting in Slurm's format (`mem`, `time`, or a partition/account/qos name),
/// for `[executor]` and for stages alike; `None` (the error reported) when it is not one.
pub(super) fn slurm_setting(cx: &mut Ctx, key: &str, v: &Node, w: &str) -> Option<String> {
    let Kind::Str(s) = &v.kind else {
        let example = match key {
            "mem" => "`mem = \"16G\"`",
            "time" => "`time = \"04:00:00\"`",
            _ => "`partition = \"gpu\"`",
        };
        cx.type_err(
            w,
            v,
            "a string",
            format!("write it in quotes, e.g. {example}"),
        );
        return None;
    };
    if let Some(help) = setting_problem(key, s) {
        cx.err(
            v.span.clone(),
            "spec::bad-resource",
            format!("{w} is not valid: `{s}`"),
            "not understood by Slurm",
            Some(help.to_string()),
        );
        return None;
    }
    Some(s.clone())
}

/// `extra = ["--constraint=a100", ...]`: sbatch arguments, each starting with `-`.
fn extra_args(cx: &mut Ctx, v: &Node, w: &str) -> Vec<Spanned<String>> {
    let help = "write e.g. `extra = [\"--constraint=a100\"]` (sbatch options, one per string)";
    let Kind::Array(items) = &v.kind else {
        cx.type_err(w, v, "an array of strings", help.into());
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        match &item.kind {
            Kind::Str(s) if s.starts_with('-') && !s.contains('\n') => {
                out.push(Spanned::new(s.clone(), item.span.clone()))
            }
            Kind::Str(s) => cx.err(
                item.span.clone(),
                "spec::bad-resource",
                format!("{w}: `{s}` is not an sbatch option"),
                "expected an option starting with `-`",
                Some(help.into()),
            ),
            _ => cx.type_err(w, item, "a string", help.into()),
        }
    }
    out
}
