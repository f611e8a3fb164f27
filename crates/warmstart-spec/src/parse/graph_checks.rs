//! Checks over the stage graph once every stage is parsed: self inputs and unknown inputs,
//! cycles (every one, from [`crate::graph`]), picks and gathers.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::Ctx;
use crate::graph::{Cycle, collect_names, param_axes, stage_axes_of, topo_order};
use crate::model::*;
use crate::{SpecError, did_you_mean};

/// Check the stage graph: unknown inputs, self inputs, cycles, picks and gathers. Removes
/// nothing; errors go to `cx`.
pub(super) fn check_graph(cx: &mut Ctx, exp: &mut Experiment) {
    let names: Vec<String> = cx.declared.clone();
    let declared: HashSet<&str> = names.iter().map(String::as_str).collect();
    let mut graph_ok = true;
    for s in &exp.stages {
        for inp in &s.inputs {
            if inp.stage.value == s.name {
                graph_ok = false;
                cx.err(
                    inp.stage.span.clone(),
                    "spec::self-input",
                    format!("stage `{}` lists itself as an input", s.name),
                    "a stage cannot read its own output",
                    Some("remove this input, or name the stage that should feed it".to_string()),
                );
            } else if !declared.contains(inp.stage.value.as_str()) {
                graph_ok = false;
                let list = short_list(&names);
                let help = match did_you_mean(&inp.stage.value, names.iter().map(String::as_str)) {
                    Some(d) => format!("{d} (stages: {list})"),
                    None => format!("inputs must name a stage of this file (stages: {list})"),
                };
                cx.err(
                    inp.stage.span.clone(),
                    "spec::unknown-stage",
                    format!(
                        "stage `{}` has an input from unknown stage `{}`",
                        s.name, inp.stage.value
                    ),
                    "no such stage",
                    Some(help),
                );
            }
        }
    }
    if !graph_ok || cx.stages_incomplete {
        return;
    }
    if let Err(cycles) = topo_order(&exp.stages) {
        for cycle in &cycles {
            cx.errors.push(cycle_error(cx, exp, cycle));
        }
        return;
    }
    let axes = stage_axes_of(exp);
    let index: HashMap<&str, usize> = exp
        .stages
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    for (si, s) in exp.stages.iter().enumerate() {
        for inp in &s.inputs {
            let Some(&ui) = index.get(inp.stage.value.as_str()) else {
                continue;
            };
            let up_axes = &axes[ui];
            for (ax, val) in &inp.pick {
                if !up_axes.contains(ax) {
                    let help = if up_axes.is_empty() {
                        format!(
                            "stage `{}` is not swept over any axis; remove the pick",
                            inp.stage.value
                        )
                    } else {
                        format!(
                            "stage `{}` has the axes {}; pick one of those",
                            inp.stage.value,
                            up_axes.join(", ")
                        )
                    };
                    cx.err(
                        val.span.clone(),
                        "spec::bad-pick",
                        format!(
                            "cannot pick `{ax}`: input `{}` does not vary along axis `{ax}`",
                            inp.stage.value
                        ),
                        "not an axis of this input",
                        Some(help),
                    );
                    continue;
                }
                if let Some(axis) = exp.axis(ax)
                    && !axis.values.iter().any(|v| same_value(v, &val.value))
                {
                    let vals: Vec<String> =
                        axis.values.iter().take(12).map(|v| v.to_string()).collect();
                    let more = if axis.values.len() > 12 { ", ..." } else { "" };
                    cx.err(
                        val.span.clone(),
                        "spec::bad-pick",
                        format!("{} is not a value of axis `{ax}`", val.value),
                        "not on the axis",
                        Some(format!("pick one of: {}{more}", vals.join(", "))),
                    );
                }
            }
        }
        for g in &s.gather {
            let has = s.inputs.iter().any(|inp| {
                index.get(inp.stage.value.as_str()).is_some_and(|&ui| {
                    axes[ui].contains(&g.value) && !inp.pick.iter().any(|(a, _)| a == &g.value)
                })
            });
            if !has {
                cx.err(g.span.clone(), "spec::bad-gather", format!("stage `{}` gathers over `{}`, but none of its inputs varies along it", s.name, g.value), "no input has this axis", Some("gather collects the instances of an input along an axis; remove it, or add an input that is swept over this axis".to_string()));
            }
        }
        let _ = si;
        if s.gather.is_empty() {
            continue;
        }
        let deps = param_axes(&exp.raw_params, &exp.axes);
        for (k, v) in &s.params {
            let mut used = BTreeSet::new();
            let mut names = Vec::new();
            collect_names(&v.value, &mut names);
            for n in names {
                if exp.axis(&n).is_some() {
                    used.insert(n);
                } else if let Some(d) = deps.get(&n) {
                    used.extend(d.iter().cloned());
                }
            }
            for g in &s.gather {
                if used.contains(&g.value) {
                    cx.errors.push(
                        SpecError::new(
                            &cx.src,
                            v.span.clone(),
                            "spec::uses-gathered-axis",
                            format!("param `{}` of stage `{}` depends on axis `{}`, which this stage gathers", k.value, s.name, g.value),
                            format!("depends on `{}`", g.value),
                            Some(format!("a gathering stage has one instance for all values of `{}`, so its params cannot depend on it; remove the reference or the gather", g.value)),
                        )
                        .with_label(g.span.clone(), "gathered here"),
                    );
                }
            }
        }
    }
}

/// At most 20 names, comma-separated, then how many more (files may have 50 000 stages).
fn short_list(names: &[String]) -> String {
    let mut list = names
        .iter()
        .take(20)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > 20 {
        list.push_str(&format!(", … ({} more)", names.len() - 20));
    }
    list
}

/// Longest loop spelled out in full in a cycle error; longer ones show their start and end.
const CYCLE_SHOWN: usize = 12;

/// The error for one cycle: the loop (compact when long), the size of its group when
/// other stages share it, and a label on each input reference of the loop (at most
/// [`CYCLE_SHOWN`] of them).
fn cycle_error(cx: &Ctx, exp: &Experiment, cycle: &Cycle) -> SpecError {
    let name = |i: usize| exp.stages.get(i).map_or("?", |s| s.name.as_str());
    let path = &cycle.path;
    let mut shown: Vec<&str> = if path.len() <= CYCLE_SHOWN {
        path.iter().map(|&i| name(i)).collect()
    } else {
        let head = path.iter().take(CYCLE_SHOWN - 3).map(|&i| name(i));
        let tail = path.iter().skip(path.len() - 2).map(|&i| name(i));
        head.chain(std::iter::once("…")).chain(tail).collect()
    };
    shown.push(name(path.first().copied().unwrap_or(0)));
    let mut message = format!("the stage inputs form a cycle: {}", shown.join(" → "));
    if path.len() > CYCLE_SHOWN {
        message.push_str(&format!(" ({} stages)", path.len()));
    }
    let on_path: HashSet<usize> = path.iter().copied().collect();
    let others: Vec<String> = cycle
        .group
        .iter()
        .filter(|i| !on_path.contains(i))
        .map(|&i| format!("`{}`", name(i)))
        .collect();
    if !others.is_empty() {
        let more = others.len().saturating_sub(5);
        let mut list = others.into_iter().take(5).collect::<Vec<_>>().join(", ");
        if more > 0 {
            list.push_str(&format!(" and {more} more"));
        }
        message.push_str(&format!(
            " (more loops run through these stages via {list})"
        ));
    }
    let first_idx = path.first().copied().unwrap_or(0);
    let first_span = exp.stages.get(first_idx).map_or(0..0, |s| s.span.clone());
    let mut e = SpecError::new(
        &cx.src,
        first_span,
        "spec::cycle",
        message,
        format!("stage `{}` is part of the cycle", name(first_idx)),
        Some("a stage runs after its inputs, so inputs cannot loop back; remove one of the labelled input references".into()),
    );
    for w in 0..path.len().min(CYCLE_SHOWN) {
        let (Some(from), Some(to)) = (
            exp.stages.get(path[w]),
            exp.stages.get(path[(w + 1) % path.len()]),
        ) else {
            continue;
        };
        if let Some(inp) = to.inputs.iter().find(|i| i.stage.value == from.name) {
            e = e.with_label(
                inp.stage.span.clone(),
                format!("`{}` reads `{}`", to.name, from.name),
            );
        }
    }
    e
}
