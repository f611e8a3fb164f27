//! TOML text → validated [`Experiment`]: reads the document with spans, checks every
//! table and key, builds the sweep axes, evaluates `[params]`, and checks the stage graph
//! (unknown inputs, cycles, picks, gathers). Collects every error it can find.
//!
//! One submodule per concern: [`toml`] (the spanned TOML tree), [`axes`] (`[sweep]`),
//! [`params`] (`[params]` and param values), [`stages`] (`[stages.NAME]`), [`engines`]
//! (`[engines.NAME]` and the project file), [`graph_checks`] (inputs, cycles, picks and
//! gathers, over [`crate::graph`]). This file holds the shared context and the top level.

mod axes;
mod engines;
mod executor;
mod graph_checks;
mod params;
mod stages;
mod toml;

use std::sync::Arc;

use ::toml::de::DeTable;

use self::axes::parse_sweep;
use self::engines::parse_engines;
use self::graph_checks::check_graph;
use self::params::parse_params;
use self::stages::parse_stages;
use self::toml::{Entries, convert_table};
pub(crate) use self::toml::{Kind, Node};
use crate::expr::ExprError;
use crate::model::*;
use crate::names::{check_name, suggest_name};
use crate::{SpecError, SpecErrors, did_you_mean};

pub use self::axes::MAX_AXIS_LEN;
pub use self::engines::parse_project;
pub(crate) use self::params::eval_raw;
pub use self::toml::MAX_NESTING;

/// Keys of a stage table that are not params.
pub const RESERVED: [&str; 13] = [
    "kind",
    "engine",
    "inputs",
    "seed",
    "threads",
    "gpu",
    "gather",
    "sweep",
    "description",
    "mem",
    "time",
    "partition",
    "local",
];
const TOP: [&str; 5] = ["experiment", "params", "sweep", "stages", "engines"];
const EXPERIMENT_KEYS: [&str; 4] = ["name", "description", "seed", "metrics"];

pub(crate) struct Ctx {
    pub(crate) src: Arc<SourceFile>,
    pub(crate) errors: Vec<SpecError>,
    /// Names of axes and params that failed to parse: not reported again as unknown.
    pub(crate) broken: Vec<String>,
    /// A stage failed to parse: skip the graph checks beyond unknown inputs.
    pub(crate) stages_incomplete: bool,
    /// Every stage name declared in the file, including stages that failed to parse.
    pub(crate) declared: Vec<String>,
}

impl Ctx {
    pub(crate) fn err(
        &mut self,
        span: Span,
        code: &'static str,
        message: impl Into<String>,
        label: impl Into<String>,
        help: impl Into<Option<String>>,
    ) {
        self.errors.push(SpecError::new(
            &self.src,
            span,
            code,
            message,
            label,
            help.into(),
        ));
    }

    pub(crate) fn type_err(&mut self, where_: &str, node: &Node, expected: &str, help: String) {
        self.err(
            node.span.clone(),
            "spec::wrong-type",
            format!(
                "{where_} must be {expected}, found {}",
                node.kind.type_name()
            ),
            format!("expected {expected}"),
            help,
        );
    }

    pub(crate) fn unknown_key(&mut self, key: &Spanned<String>, table: &str, allowed: &[&str]) {
        let help = match did_you_mean(&key.value, allowed.iter().copied()) {
            Some(d) => format!("{d} (allowed keys in {table}: {})", allowed.join(", ")),
            None => format!("allowed keys in {table}: {}", allowed.join(", ")),
        };
        self.err(
            key.span.clone(),
            "spec::unknown-key",
            format!("unknown key `{}` in {table}", key.value),
            "unknown key",
            help,
        );
    }

    /// An expression error inside the string value `node` (text `text`, first character at
    /// file offset `base` when known).
    pub(crate) fn expr_err(
        &mut self,
        e: ExprError,
        base: Option<usize>,
        whole: &Span,
        context: &str,
    ) {
        let span = match base {
            Some(b) => b + e.span.start..b + e.span.end,
            None => whole.clone(),
        };
        let message = if context.is_empty() {
            e.message
        } else {
            format!("{} {context}", e.message)
        };
        self.errors.push(SpecError::new(
            &self.src, span, e.code, message, e.label, e.help,
        ));
    }
}

/// Byte offset in the file of the first character of the string literal at `span`, if the
/// literal has no escapes (so decoded offsets equal source offsets).
pub(crate) fn string_base(text: &str, span: &Span, decoded: &str) -> Option<usize> {
    let raw = text.get(span.clone())?;
    for q in ["\"\"\"", "'''", "\"", "'"] {
        if raw.len() >= 2 * q.len() && raw.starts_with(q) && raw.ends_with(q) {
            let inner = &raw[q.len()..raw.len() - q.len()];
            return (inner == decoded).then_some(span.start + q.len());
        }
    }
    None
}

/// A fresh context for `source` and its top-level entries (with spans), or the TOML
/// syntax error.
pub(crate) fn read_toml(source: SourceFile) -> Result<(Ctx, Entries), SpecErrors> {
    let src = Arc::new(source);
    let mut cx = Ctx {
        src: src.clone(),
        errors: Vec::new(),
        broken: Vec::new(),
        stages_incomplete: false,
        declared: Vec::new(),
    };
    match DeTable::parse(&src.text) {
        Ok(t) => Ok((cx, convert_table(t.get_ref(), 0))),
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let msg = e.message().trim().to_string();
            cx.err(
                span,
                "spec::toml",
                format!("invalid TOML: {msg}"),
                msg,
                Some("fix the TOML syntax (see https://toml.io)".to_string()),
            );
            Err(SpecErrors(cx.errors))
        }
    }
}

/// Parse and validate an experiment file.
pub fn parse(source: SourceFile) -> Result<Experiment, SpecErrors> {
    let (mut cx, root) = read_toml(source)?;
    let src = cx.src.clone();

    let mut experiment = None;
    let mut params = None;
    let mut sweep = None;
    let mut stages = None;
    let mut engines_node = None;
    for (key, node) in &root {
        match key.value.as_str() {
            "experiment" => experiment = Some((key, node)),
            "params" => params = Some((key, node)),
            "sweep" => sweep = Some((key, node)),
            "stages" => stages = Some((key, node)),
            "engines" => engines_node = Some((key, node)),
            _ => {
                let help = match did_you_mean(&key.value, TOP) {
                    Some(d) => format!(
                        "{d} (top-level tables: {})",
                        TOP.map(|t| format!("[{t}]")).join(", ")
                    ),
                    None => format!(
                        "an experiment file has only these top-level tables: {}",
                        TOP.map(|t| format!("[{t}]")).join(", ")
                    ),
                };
                cx.err(
                    key.span.clone(),
                    "spec::unknown-table",
                    format!("unknown top-level key `{}`", key.value),
                    "not a known table",
                    help,
                );
            }
        }
    }

    let (name, description, seed, metrics) = parse_experiment(&mut cx, experiment);
    let axes = match sweep {
        Some((k, n)) => parse_sweep(&mut cx, k, n),
        None => Vec::new(),
    };
    let (params, raw_params) = parse_params(&mut cx, params, &axes);
    let quiet = root.iter().any(|(k, _)| !TOP.contains(&k.value.as_str()));
    let stages = parse_stages(&mut cx, stages, &raw_params, &axes, quiet);
    let engines = match engines_node {
        Some((k, n)) => parse_engines(&mut cx, k, n),
        None => Vec::new(),
    };

    let mut exp = Experiment {
        source: src,
        name,
        description,
        seed,
        params,
        raw_params,
        axes,
        stages,
        engines,
        metrics,
        overrides: Vec::new(),
    };
    check_graph(&mut cx, &mut exp);
    check_metrics(&mut cx, &exp);
    if cx.errors.is_empty() {
        Ok(exp)
    } else {
        cx.errors
            .sort_by_key(|e| e.span().map(|s| s.start).unwrap_or(0));
        Err(SpecErrors(cx.errors))
    }
}

pub(crate) fn table<'a>(
    cx: &mut Ctx,
    key: &Spanned<String>,
    node: &'a Node,
    what: &str,
    help: &str,
) -> Option<&'a [(Spanned<String>, Node)]> {
    match &node.kind {
        Kind::Table(t) => Some(t),
        _ => {
            cx.err(
                node.span.clone(),
                "spec::not-a-table",
                format!(
                    "`{}` must be a table ({what}), found {}",
                    key.value,
                    node.kind.type_name()
                ),
                "expected a table",
                help.to_string(),
            );
            None
        }
    }
}

fn parse_experiment(
    cx: &mut Ctx,
    experiment: Option<(&Spanned<String>, &Node)>,
) -> (String, String, u64, Vec<Spanned<String>>) {
    let name_help =
        "add `name = \"my-experiment\"` under [experiment] (letters, digits, `_`, `.`, `-`)";
    let Some((key, node)) = experiment else {
        cx.err(
            0..0,
            "spec::missing-experiment",
            "missing [experiment] table",
            "an experiment file starts with an [experiment] table",
            Some("add at the top of the file:\n[experiment]\nname = \"my-experiment\"".to_string()),
        );
        return (String::new(), String::new(), 0, Vec::new());
    };
    let Some(t) = table(cx, key, node, "[experiment]", name_help) else {
        return (String::new(), String::new(), 0, Vec::new());
    };
    let (mut name, mut description, mut seed) = (None, String::new(), 0);
    let mut metrics = Vec::new();
    for (k, v) in t {
        match k.value.as_str() {
            "name" => match &v.kind {
                Kind::Str(s) => match check_name(s) {
                    Ok(()) => name = Some(s.clone()),
                    Err(problem) => {
                        cx.err(
                            v.span.clone(),
                            "spec::invalid-name",
                            format!("invalid experiment name {s:?}"),
                            problem,
                            Some(format!("rename it, e.g. {:?}", suggest_name(s))),
                        );
                        name = Some(String::new());
                    }
                },
                _ => {
                    cx.type_err("[experiment] name", v, "a string", name_help.into());
                    name = Some(String::new());
                }
            },
            "description" => match &v.kind {
                Kind::Str(s) => description = s.clone(),
                _ => cx.type_err(
                    "[experiment] description",
                    v,
                    "a string",
                    "write the description in quotes".into(),
                ),
            },
            "seed" => {
                if let Some(s) = seed_value(cx, v, "[experiment] seed") {
                    seed = s;
                }
            }
            "metrics" => metrics = parse_metrics(cx, v),
            _ => cx.unknown_key(k, "[experiment]", &EXPERIMENT_KEYS),
        }
    }
    if name.is_none() {
        cx.err(
            key.span.clone(),
            "spec::missing-name",
            "[experiment] has no `name`",
            "this table needs a `name`",
            Some(name_help.to_string()),
        );
    }
    (name.unwrap_or_default(), description, seed, metrics)
}

/// Every metric names a stage of the file.
fn check_metrics(cx: &mut Ctx, exp: &Experiment) {
    for m in &exp.metrics {
        let stage = m.value.split('.').next().unwrap_or("");
        if !cx.declared.iter().any(|d| d == stage) {
            let help = did_you_mean(stage, cx.declared.iter().map(String::as_str))
                .unwrap_or_else(|| format!("stages: {}", cx.declared.join(", ")));
            cx.err(
                m.span.clone(),
                "spec::unknown-metric-stage",
                format!("metric `{}` names no stage `{stage}`", m.value),
                "unknown stage",
                Some(help),
            );
        }
    }
}

/// `metrics = ["stage.column", "stage.table.column", …]`: what `warmstart compare` shows
/// per run. The names are checked against the stages in the graph checks.
fn parse_metrics(cx: &mut Ctx, v: &Node) -> Vec<Spanned<String>> {
    let help =
        "write e.g. `metrics = [\"summary.final_dist2\"]` (stage.column or stage.table.column)";
    let Kind::Array(items) = &v.kind else {
        cx.type_err(
            "[experiment] metrics",
            v,
            "an array of strings",
            help.into(),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        match &item.kind {
            Kind::Str(s)
                if (2..=3).contains(&s.split('.').count())
                    && s.split('.').all(|p| !p.is_empty()) =>
            {
                out.push(Spanned {
                    value: s.clone(),
                    span: item.span.clone(),
                })
            }
            Kind::Str(s) => cx.err(
                item.span.clone(),
                "spec::bad-metric",
                format!("metric {s:?} is not `stage.column` or `stage.table.column`"),
                "not a metric name",
                Some(help.into()),
            ),
            _ => cx.type_err("a metric", item, "a string", help.into()),
        }
    }
    out
}

pub(crate) fn seed_value(cx: &mut Ctx, v: &Node, what: &str) -> Option<u64> {
    match &v.kind {
        Kind::Int(Some(i)) if *i >= 0 => Some(*i as u64),
        Kind::Int(Some(i)) => {
            cx.err(
                v.span.clone(),
                "spec::bad-seed",
                format!("{what} must be a non-negative integer, found {i}"),
                "negative seed",
                Some("use an integer ≥ 0, e.g. `seed = 42`".into()),
            );
            None
        }
        _ => {
            cx.type_err(
                what,
                v,
                "a non-negative integer",
                "write e.g. `seed = 42`".into(),
            );
            None
        }
    }
}
