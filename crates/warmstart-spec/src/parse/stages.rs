//! `[stages.NAME]` tables: kind, engine, inputs (with picks), seed, resource hints,
//! `gather`/`sweep` axis lists, and every other key as a raw param.

use warmstart_engine::Value;

use super::params::{RawParams, name_help, raw_value};
use super::toml::{Kind, Node, scalar};
use super::{Ctx, seed_value, table};
use crate::cluster::ClusterHints;
use crate::did_you_mean;
use crate::model::*;
use crate::names::{check_name, suggest_name};

pub(super) fn parse_stages(
    cx: &mut Ctx,
    stages: Option<(&Spanned<String>, &Node)>,
    raw_params: &RawParams,
    axes: &[Axis],
    quiet: bool,
) -> Vec<StageSpec> {
    let stage_help = "[stages.gen]\nkind = \"echo\"";
    let Some((key, node)) = stages else {
        if !quiet {
            let end = cx.src.text.trim_end().len();
            let start = cx.src.text[..end]
                .char_indices()
                .next_back()
                .map_or(0, |(i, _)| i);
            cx.err(
                start..end,
                "spec::no-stages",
                "the experiment has no stages",
                "the file ends here without a [stages.NAME] table",
                Some(format!("add at least one stage, e.g.\n{stage_help}")),
            );
        }
        return Vec::new();
    };
    let Some(t) = table(cx, key, node, "of stage tables", stage_help) else {
        return Vec::new();
    };
    if t.is_empty() {
        cx.err(
            key.span.clone(),
            "spec::no-stages",
            "the experiment has no stages",
            "[stages] is empty",
            Some(format!("add at least one stage, e.g.\n{stage_help}")),
        );
    }
    let param_names: Vec<&str> = raw_params.iter().map(|(k, _)| k.value.as_str()).collect();
    let mut out = Vec::new();
    for (name, st) in t {
        cx.declared.push(name.value.clone());
        if let Err(problem) = check_name(&name.value) {
            cx.err(
                name.span.clone(),
                "spec::invalid-name",
                format!("invalid stage name {:?}", name.value),
                problem,
                Some(format!(
                    "rename the stage, e.g. [stages.{}]; stage names become directory names in exports",
                    suggest_name(&name.value)
                )),
            );
        }
        let Kind::Table(entries) = &st.kind else {
            cx.stages_incomplete = true;
            cx.err(
                st.span.clone(),
                "spec::not-a-table",
                format!(
                    "stage `{}` must be a table, found {}",
                    name.value,
                    st.kind.type_name()
                ),
                "expected a table",
                Some(format!(
                    "write `[stages.{}]` followed by `kind = \"...\"` and its params",
                    name.value
                )),
            );
            continue;
        };
        match parse_stage(cx, name, st, entries, &param_names, axes) {
            Some(s) => out.push(s),
            None => cx.stages_incomplete = true,
        }
    }
    out
}

fn string_list(cx: &mut Ctx, v: &Node, what: &str, axes: &[Axis]) -> Vec<Spanned<String>> {
    let mut out: Vec<Spanned<String>> = Vec::new();
    let Kind::Array(items) = &v.kind else {
        cx.type_err(
            what,
            v,
            "an array of axis names",
            format!(
                "write e.g. `{} = [\"alpha\"]`",
                what.rsplit('`').nth(1).unwrap_or("gather")
            ),
        );
        return out;
    };
    for it in items {
        let Kind::Str(s) = &it.kind else {
            cx.type_err(
                what,
                it,
                "an axis name (string)",
                "write axis names in quotes".into(),
            );
            continue;
        };
        if !axes.iter().any(|a| &a.name == s) {
            let list = if axes.is_empty() {
                "there are no axes in [sweep]".to_string()
            } else {
                format!(
                    "axes: {}",
                    axes.iter()
                        .map(|a| a.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            let help = match did_you_mean(s, axes.iter().map(|a| a.name.as_str())) {
                Some(d) => format!("{d} ({list})"),
                None => format!("only [sweep] axes can be named here ({list})"),
            };
            cx.err(
                it.span.clone(),
                "spec::unknown-axis",
                format!("unknown axis `{s}` in {what}"),
                "not a [sweep] axis",
                Some(help),
            );
            continue;
        }
        if !out.iter().any(|o| &o.value == s) {
            out.push(Spanned::new(s.clone(), it.span.clone()));
        }
    }
    out
}

fn parse_stage(
    cx: &mut Ctx,
    name: &Spanned<String>,
    st: &Node,
    entries: &[(Spanned<String>, Node)],
    param_names: &[&str],
    axes: &[Axis],
) -> Option<StageSpec> {
    let sname = &name.value;
    let mut kind = None;
    let mut engine = None;
    let mut inputs = Vec::new();
    let mut params = Vec::new();
    let mut seed = None;
    let mut threads = None;
    let mut gpu = None;
    let mut gather = Vec::new();
    let mut sweep = Vec::new();
    let mut description = String::new();
    let mut cluster = ClusterHints::default();
    let mut kind_seen = false;
    for (k, v) in entries {
        let w = format!("`{}` of stage `{sname}`", k.value);
        match k.value.as_str() {
            "kind" => {
                kind_seen = true;
                match &v.kind {
                    Kind::Str(s) if !s.is_empty() => {
                        kind = Some(Spanned::new(s.clone(), v.span.clone()))
                    }
                    _ => cx.type_err(
                        &w,
                        v,
                        "a non-empty string",
                        "write the kind in quotes, e.g. `kind = \"echo\"`".into(),
                    ),
                }
            }
            "engine" => match &v.kind {
                Kind::Str(s) => engine = Some(Spanned::new(s.clone(), v.span.clone())),
                _ => cx.type_err(
                    &w,
                    v,
                    "a string",
                    "write the engine id in quotes, e.g. `engine = \"native\"`".into(),
                ),
            },
            "description" => match &v.kind {
                Kind::Str(s) => description = s.clone(),
                _ => cx.type_err(&w, v, "a string", "write the description in quotes".into()),
            },
            "seed" => seed = stage_seed(cx, v, &w, param_names, axes),
            "threads" => match v.kind {
                Kind::Int(Some(i)) if i >= 1 => threads = Some(i as usize),
                Kind::Int(_) => cx.err(
                    v.span.clone(),
                    "spec::bad-resource",
                    format!("{w} must be at least 1"),
                    "must be ≥ 1",
                    Some(
                        "use a positive number of threads, e.g. `threads = 4`, or remove the key"
                            .to_string(),
                    ),
                ),
                _ => cx.type_err(
                    &w,
                    v,
                    "an integer ≥ 1",
                    "write e.g. `threads = 4` (no quotes)".into(),
                ),
            },
            "gpu" => match v.kind {
                Kind::Bool(b) => gpu = Some(Value::Bool(b)),
                Kind::Int(Some(i)) if i >= 0 => gpu = Some(Value::Int(i)),
                _ => cx.type_err(
                    &w,
                    v,
                    "a boolean or a device number ≥ 0",
                    "write `gpu = true` or `gpu = 0` (a device number)".into(),
                ),
            },
            "mem" | "time" | "partition" | "local" => {
                cluster_hint(cx, &k.value, v, &w, &mut cluster)
            }
            "gather" => gather = string_list(cx, v, &w, axes),
            "sweep" => sweep = string_list(cx, v, &w, axes),
            "inputs" => inputs = parse_inputs(cx, v, sname),
            _ => {
                let what = format!("param `{}` of stage `{sname}`", k.value);
                if let Some(rv) = stage_value(cx, v, &what, param_names, axes) {
                    params.push((k.clone(), rv));
                }
            }
        }
    }
    if !kind_seen {
        cx.err(
            name.span.clone(),
            "spec::missing-kind",
            format!("stage `{sname}` has no `kind`"),
            "this stage needs a `kind`",
            Some(format!("add `kind = \"...\"` under [stages.{sname}], naming what the stage computes (e.g. `kind = \"echo\"`)")),
        );
    }
    let _ = st;
    Some(StageSpec {
        name: sname.clone(),
        span: name.span.clone(),
        kind: kind?,
        engine,
        inputs,
        params,
        seed,
        threads,
        gpu,
        gather,
        sweep,
        description,
        cluster,
    })
}

/// A cluster hint of a stage: `mem`, `time`, `partition` (strings in Slurm's formats) or
/// `local` (a boolean).
fn cluster_hint(cx: &mut Ctx, key: &str, v: &Node, w: &str, hints: &mut ClusterHints) {
    if key == "local" {
        match v.kind {
            Kind::Bool(b) => hints.local = Some(b),
            _ => cx.type_err(
                w,
                v,
                "a boolean",
                "write `local = true` to run this stage on the submitting machine".into(),
            ),
        }
        return;
    }
    let Some(value) = super::executor::slurm_setting(cx, key, v, w) else {
        return;
    };
    let slot = match key {
        "mem" => &mut hints.mem,
        "time" => &mut hints.time,
        _ => &mut hints.partition,
    };
    *slot = Some(value);
}

fn parse_inputs(cx: &mut Ctx, v: &Node, sname: &str) -> Vec<InputSpec> {
    let help =
        "write `inputs = [\"other\", { stage = \"pre\", pick = { alpha = 0.5 } }]`".to_string();
    let Kind::Array(items) = &v.kind else {
        cx.type_err(
            &format!("`inputs` of stage `{sname}`"),
            v,
            "an array of stage names or { stage, pick } tables",
            help,
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for it in items {
        match &it.kind {
            Kind::Str(s) => out.push(InputSpec {
                stage: Spanned::new(s.clone(), it.span.clone()),
                pick: Vec::new(),
            }),
            Kind::Table(t) => {
                let mut stage = None;
                let mut pick = Vec::new();
                for (k, x) in t {
                    match (k.value.as_str(), &x.kind) {
                        ("stage", Kind::Str(s)) => {
                            stage = Some(Spanned::new(s.clone(), x.span.clone()))
                        }
                        ("stage", _) => cx.type_err(
                            "`stage` of an input",
                            x,
                            "a stage name (string)",
                            help.clone(),
                        ),
                        ("pick", Kind::Table(p)) => {
                            for (ak, av) in p {
                                match scalar(av) {
                                    Some(val) => pick.push((
                                        ak.value.clone(),
                                        Spanned::new(val, av.span.clone()),
                                    )),
                                    None => cx.type_err(
                                        &format!("pick value for `{}`", ak.value),
                                        av,
                                        "a single axis value",
                                        "pick one value of the axis, e.g. `pick = { alpha = 0.5 }`"
                                            .into(),
                                    ),
                                }
                            }
                        }
                        ("pick", _) => cx.type_err(
                            "`pick` of an input",
                            x,
                            "a table of axis = value",
                            "write e.g. `pick = { alpha = 0.5 }`".into(),
                        ),
                        _ => cx.unknown_key(
                            k,
                            &format!("an input of stage `{sname}`"),
                            &["stage", "pick"],
                        ),
                    }
                }
                match stage {
                    Some(stage) => out.push(InputSpec { stage, pick }),
                    None => cx.err(
                        it.span.clone(),
                        "spec::bad-input",
                        format!("input of stage `{sname}` has no `stage`"),
                        "missing `stage = \"...\"`",
                        Some(help.clone()),
                    ),
                }
            }
            _ => cx.type_err(
                &format!("an input of stage `{sname}`"),
                it,
                "a stage name or a { stage, pick } table",
                help.clone(),
            ),
        }
    }
    out
}

/// A stage param's raw value, its `${…}` names checked against `[params]` and `[sweep]`.
fn stage_value(
    cx: &mut Ctx,
    v: &Node,
    what: &str,
    param_names: &[&str],
    axes: &[Axis],
) -> Option<Spanned<RawValue>> {
    let broken = cx.broken.clone();
    let known = |n: &str| -> Result<(), (String, String)> {
        if param_names.contains(&n)
            || axes.iter().any(|a| a.name == n)
            || broken.iter().any(|b| b == n)
        {
            Ok(())
        } else {
            Err((
                "not a [params] entry or [sweep] axis".into(),
                name_help(n, param_names, axes),
            ))
        }
    };
    raw_value(cx, v, &known, what)
}

/// A stage's `seed`: an integer ≥ 0 as `[experiment] seed`, or a string with a `${…}`
/// expression (per-instance seeds, e.g. `"${100 + rep}"`), checked like a param and
/// evaluated at expansion.
fn stage_seed(
    cx: &mut Ctx,
    v: &Node,
    what: &str,
    param_names: &[&str],
    axes: &[Axis],
) -> Option<Spanned<RawValue>> {
    if let Kind::Str(s) = &v.kind
        && s.contains("${")
    {
        return stage_value(cx, v, what, param_names, axes);
    }
    if matches!(v.kind, Kind::Str(_)) {
        cx.type_err(
            what,
            v,
            "a non-negative integer or a `${…}` expression",
            "write e.g. `seed = 42`, or `seed = \"${100 + rep}\"` for one seed per sweep point"
                .into(),
        );
        return None;
    }
    let s = seed_value(cx, v, what)?;
    Some(Spanned::new(RawValue::Int(s as i64), v.span.clone()))
}
