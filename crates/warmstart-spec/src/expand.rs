//! Sweep expansion: the stage instances (one per point of the cartesian product of a
//! stage's axes, in the topological order of [`crate::graph`]) with their params evaluated
//! and their inputs resolved.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use warmstart_engine::Value;

use crate::graph::{param_axes, stage_axes_in, stage_index, topo_order};
use crate::model::*;
use crate::parse::eval_raw;
use crate::{SpecError, SpecErrors};

/// Largest number of instances an experiment may expand to.
pub const MAX_INSTANCES: usize = 1_000_000;

fn coords_text(coords: &[(String, Value)]) -> String {
    if coords.is_empty() {
        String::new()
    } else {
        format!(
            " (at {})",
            coords
                .iter()
                .map(|(a, v)| format!("{a}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// Where one axis of an upstream stage takes its position from, for every instance of a
/// reading stage (decided once per stage, not per instance).
#[derive(Clone, Copy)]
enum UpAxis {
    /// A `pick`ed value: this position of the axis.
    Picked(usize),
    /// An axis the reading stage shares: the reader's position along its axis `d` (axis
    /// values are distinct, so the same value is at the same position).
    Shared(usize),
    /// A gathered axis: every position, in axis order.
    Free,
}

/// How the instances of one stage find their instances of one input stage.
struct InputMatch {
    /// Index of the [`InputSpec`] in the stage's `inputs`.
    spec: usize,
    /// The upstream stage.
    stage: usize,
    /// Per upstream axis: its length and where its position comes from.
    axes: Vec<(usize, UpAxis)>,
}

/// The input matches of stage `si`; inputs naming unknown stages or picking a value the
/// axis does not have match nothing and are left out.
fn input_matches(
    exp: &Experiment,
    si: usize,
    index: &HashMap<&str, usize>,
    stage_axes: &[Vec<String>],
    axis_values: &HashMap<&str, &[Value]>,
) -> Vec<InputMatch> {
    let axes = &stage_axes[si];
    let mut matches = Vec::new();
    'inputs: for (spec, inp) in exp.stages[si].inputs.iter().enumerate() {
        let Some(&ui) = index.get(inp.stage.value.as_str()) else {
            continue;
        };
        let mut up = Vec::with_capacity(stage_axes[ui].len());
        for a in &stage_axes[ui] {
            let vals = axis_values.get(a.as_str()).copied().unwrap_or(&[]);
            let from = if let Some((_, p)) = inp.pick.iter().find(|(p, _)| p == a) {
                match vals.iter().position(|v| same_value(v, &p.value)) {
                    Some(i) => UpAxis::Picked(i),
                    None => continue 'inputs,
                }
            } else if let Some(d) = axes.iter().position(|x| x == a) {
                UpAxis::Shared(d)
            } else {
                UpAxis::Free
            };
            up.push((vals.len(), from));
        }
        matches.push(InputMatch {
            spec,
            stage: ui,
            axes: up,
        });
    }
    matches
}

/// The upstream instances an instance at positions `idx` reads through `m`, in row-major
/// order of the free (gathered) axes.
fn matched_instances(m: &InputMatch, idx: &[usize], upstream: &[usize], out: &mut Vec<usize>) {
    let n_free: usize = m
        .axes
        .iter()
        .filter(|(_, f)| matches!(f, UpAxis::Free))
        .map(|(len, _)| *len)
        .product();
    let mut pos = vec![0usize; m.axes.len()];
    for f in 0..n_free {
        // Decode `f` into the free axes' positions, last axis fastest, then the row-major
        // flat index of the upstream instance.
        let mut rem = f;
        for (d, (len, from)) in m.axes.iter().enumerate().rev() {
            pos[d] = match *from {
                UpAxis::Picked(i) => i,
                UpAxis::Shared(k) => idx.get(k).copied().unwrap_or(0),
                UpAxis::Free => {
                    let p = rem % len;
                    rem /= len;
                    p
                }
            };
        }
        let flat = m
            .axes
            .iter()
            .zip(&pos)
            .fold(0usize, |acc, ((len, _), p)| acc * len + p);
        if let Some(&ii) = upstream.get(flat) {
            out.push(ii);
        }
    }
}

/// Expand an experiment into stage instances, in a topological order.
///
/// Linear in the number of instances plus input edges: everything that depends only on
/// the stage (its axes, the `[params]` it evaluates, how its inputs match) is worked out
/// once per stage.
pub fn expand(exp: &Experiment) -> Result<Expanded, SpecErrors> {
    let src = &exp.source;
    let order = topo_order(&exp.stages).map_err(|_| {
        SpecError::new(
            src,
            0..0,
            "spec::cycle",
            "the stage inputs form a cycle",
            "",
            Some("run `parse` first; it reports the cycle".into()),
        )
    })?;
    let index = stage_index(exp);
    let stage_axes = stage_axes_in(exp, &order, &index);
    let axis_values: HashMap<&str, &[Value]> = exp
        .axes
        .iter()
        .map(|a| (a.name.as_str(), a.values.as_slice()))
        .collect();
    let deps = param_axes(&exp.raw_params, &exp.axes);
    let consts: HashMap<&str, &Value> = exp
        .params
        .iter()
        .map(|(k, v)| (k.as_str(), &v.value))
        .collect();
    let total = count_instances(exp, &stage_axes, &axis_values)?;

    let mut errors: Vec<SpecError> = Vec::new();
    let mut seen: HashSet<(usize, String)> = HashSet::new();
    let mut instances: Vec<Instance> = Vec::with_capacity(total);
    let mut by_stage: Vec<Vec<usize>> = vec![Vec::new(); exp.stages.len()];
    for &si in &order {
        let s = &exp.stages[si];
        let axes = &stage_axes[si];
        let values: Vec<&[Value]> = axes
            .iter()
            .map(|a| axis_values.get(a.as_str()).copied().unwrap_or(&[]))
            .collect();
        let count: usize = values.iter().map(|v| v.len()).product();
        // The axis-dependent [params] this stage can evaluate: those whose axes are all
        // axes of the stage.
        let local_params: Vec<&(Spanned<String>, Spanned<RawValue>)> = exp
            .raw_params
            .iter()
            .filter(|(k, _)| {
                deps.get(&k.value)
                    .is_some_and(|d| !d.is_empty() && d.iter().all(|a| axes.iter().any(|x| x == a)))
            })
            .collect();
        let param_keys: Arc<BTreeMap<String, Span>> = Arc::new(
            s.params
                .iter()
                .map(|(k, _)| (k.value.clone(), k.span.clone()))
                .collect(),
        );
        // The stage's param names, shared by all its instances, in name order.
        let mut param_order: Vec<(Arc<str>, usize)> = s
            .params
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (Arc::from(k.value.as_str()), i))
            .collect();
        param_order.sort_by(|a, b| a.0.cmp(&b.0));
        let matches = input_matches(exp, si, &index, &stage_axes, &axis_values);
        by_stage[si].reserve_exact(count);
        let mut idx = vec![0usize; axes.len()];
        for flat in 0..count {
            // Row-major: the last axis varies fastest.
            let mut rem = flat;
            for d in (0..axes.len()).rev() {
                let len = values[d].len();
                idx[d] = rem % len;
                rem /= len;
            }
            let coords: Vec<(String, Value)> = axes
                .iter()
                .zip(&values)
                .zip(&idx)
                .map(|((a, vals), &i)| (a.clone(), vals.get(i).cloned().unwrap_or(Value::Int(0))))
                .collect();
            let mut err = |e: crate::expr::ExprError,
                           base: Option<usize>,
                           whole: Span,
                           what: String,
                           errors: &mut Vec<SpecError>| {
                let span = match base {
                    Some(b) => b + e.span.start..b + e.span.end,
                    None => whole,
                };
                if seen.insert((span.start, e.message.clone())) {
                    let at = coords_text(&coords);
                    errors.push(SpecError::new(
                        src,
                        span,
                        e.code,
                        format!("{} in {what}{at}", e.message),
                        e.label,
                        e.help,
                    ));
                }
            };
            // Axis-dependent [params] for these coordinates.
            let mut local: HashMap<&str, Value> = HashMap::new();
            for (k, v) in &local_params {
                let lookup = |n: &str| {
                    coords
                        .iter()
                        .find(|(a, _)| a == n)
                        .map(|(_, v)| v.clone())
                        .or_else(|| local.get(n).cloned())
                        .or_else(|| consts.get(n).map(|v| (*v).clone()))
                };
                match eval_raw(&v.value, &v.span, &lookup) {
                    Ok(val) => {
                        local.insert(k.value.as_str(), val);
                    }
                    Err(f) => {
                        let (e, base, whole) = *f;
                        err(e, base, whole, format!("param `{}`", k.value), &mut errors)
                    }
                }
            }
            let lookup = |n: &str| {
                coords
                    .iter()
                    .find(|(a, _)| a == n)
                    .map(|(_, v)| v.clone())
                    .or_else(|| local.get(n).cloned())
                    .or_else(|| consts.get(n).map(|v| (*v).clone()))
            };
            let mut params = Vec::with_capacity(param_order.len());
            for (name, pi) in &param_order {
                let Some((k, v)) = s.params.get(*pi) else {
                    continue;
                };
                match eval_raw(&v.value, &v.span, &lookup) {
                    Ok(val) => {
                        params.push((name.clone(), Spanned::new(val, v.span.clone())));
                    }
                    Err(f) => {
                        let (e, base, whole) = *f;
                        err(
                            e,
                            base,
                            whole,
                            format!("param `{}` of stage `{}`", k.value, s.name),
                            &mut errors,
                        )
                    }
                }
            }
            let seed = match &s.seed {
                None => None,
                Some(raw) => {
                    let what = format!("`seed` of stage `{}`", s.name);
                    match eval_raw(&raw.value, &raw.span, &lookup) {
                        Ok(Value::Int(i)) if i >= 0 => Some(i as u64),
                        Ok(other) => {
                            let e = crate::expr::ExprError {
                                span: 0..0,
                                code: "spec::bad-seed",
                                // One message for every instance, so it is reported once.
                                message: "no non-negative integer".into(),
                                label: format!("gives {other} (a seed must be an integer ≥ 0)"),
                                help: Some("a seed expression must give an integer ≥ 0, e.g. `seed = \"${100 + rep}\"` with an integer axis `rep`".into()),
                            };
                            err(e, None, raw.span.clone(), what, &mut errors);
                            None
                        }
                        Err(f) => {
                            let (e, base, whole) = *f;
                            err(e, base, whole, what, &mut errors);
                            None
                        }
                    }
                }
            };
            let mut inputs = Vec::new();
            let mut input_stage = Vec::new();
            for m in &matches {
                let before = inputs.len();
                matched_instances(m, &idx, &by_stage[m.stage], &mut inputs);
                input_stage.resize(input_stage.len() + inputs.len() - before, m.spec);
            }
            by_stage[si].push(instances.len());
            instances.push(Instance {
                stage: si,
                coords,
                params: InstanceParams::from_pairs(params),
                param_keys: param_keys.clone(),
                inputs,
                input_stage,
                seed,
            });
        }
    }
    if errors.is_empty() {
        Ok(Expanded {
            instances,
            stage_axes,
        })
    } else {
        errors.sort_by_key(|e| e.span().map(|s| s.start).unwrap_or(0));
        Err(SpecErrors(errors))
    }
}

/// The number of instances the experiment expands to, or an error if it is more than
/// [`MAX_INSTANCES`].
fn count_instances(
    exp: &Experiment,
    stage_axes: &[Vec<String>],
    axis_values: &HashMap<&str, &[Value]>,
) -> Result<usize, SpecErrors> {
    let mut total = 0usize;
    for (si, axes) in stage_axes.iter().enumerate() {
        let n = axes.iter().try_fold(1usize, |acc, a| {
            acc.checked_mul(axis_values.get(a.as_str()).map_or(1, |v| v.len()))
        });
        match n.and_then(|n| total.checked_add(n)) {
            Some(t) if t <= MAX_INSTANCES => total = t,
            _ => {
                let s = &exp.stages[si];
                return Err(SpecError::new(
                    &exp.source,
                    s.span.clone(),
                    "spec::too-many-instances",
                    format!("the experiment expands to more than {MAX_INSTANCES} stage instances (stage `{}` sweeps over {})", s.name, axes.join(" × ")),
                    "too many instances",
                    Some("use fewer axis values, or `pick`/`gather` to avoid sweeping every stage over every axis".into()),
                )
                .into());
            }
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp(text: &str) -> Experiment {
        match crate::parse(SourceFile {
            path: "t.toml".into(),
            text: text.into(),
        }) {
            Ok(e) => e,
            Err(e) => panic!(
                "{:?}",
                e.0.iter().map(|e| e.message.clone()).collect::<Vec<_>>()
            ),
        }
    }

    fn coords(i: &Instance) -> String {
        i.coords
            .iter()
            .map(|(a, v)| format!("{a}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    const HEAD: &str =
        "[experiment]\nname = \"t\"\n[sweep]\na = [1, 2]\nb = [\"x\", \"y\", \"z\"]\nc = [0.5]\n";

    /// Parse `text` as if it were the file `dir/exp.toml`.
    fn parse_in(dir: &std::path::Path, text: &str) -> Result<Experiment, crate::SpecErrors> {
        crate::parse(SourceFile {
            path: dir.join("exp.toml"),
            text: text.into(),
        })
    }

    #[test]
    fn glob_axis_gives_sorted_step_numbers_and_rebuilds_paths() {
        let dir = tempfile::tempdir().unwrap();
        for step in [
            "step-00128",
            "step-00002",
            "step-00016",
            ".step-00099",
            "other",
        ] {
            std::fs::create_dir_all(dir.path().join("ckpt").join(step)).unwrap();
        }
        let text = "[experiment]\nname = \"t\"\n[sweep]\nstep = { glob = \"ckpt/step-*\" }\n\
                    [stages.e]\nkind = \"k\"\ncheckpoint = \"ckpt/step-${zfill(step, 5)}\"\n";
        let e = parse_in(dir.path(), text).unwrap();
        assert_eq!(
            e.axes[0].values,
            vec![Value::Int(2), Value::Int(16), Value::Int(128)]
        );
        let x = expand(&e).unwrap();
        let paths: Vec<String> = x
            .instances
            .iter()
            .map(|i| match &i.params.get("checkpoint").unwrap().value {
                Value::Str(s) => s.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            paths,
            ["ckpt/step-00002", "ckpt/step-00016", "ckpt/step-00128"]
        );
        // Adding a checkpoint adds a value and leaves the others as they were.
        std::fs::create_dir(dir.path().join("ckpt/step-01024")).unwrap();
        let e = parse_in(dir.path(), text).unwrap();
        assert_eq!(e.axes[0].values.len(), 4);
        assert_eq!(e.axes[0].values[3], Value::Int(1024));
    }

    #[test]
    fn glob_axis_with_non_numeric_matches_gives_sorted_strings() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["run-b.csv", "run-a.csv", "run-10.csv", "notes.txt"] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        let text = "[experiment]\nname = \"t\"\n[sweep]\nrun = { glob = \"run-*.csv\" }\n\
                    [stages.e]\nkind = \"k\"\nfile = \"run-${run}.csv\"\n";
        let e = parse_in(dir.path(), text).unwrap();
        assert_eq!(
            e.axes[0].values,
            vec![
                Value::Str("10".into()),
                Value::Str("a".into()),
                Value::Str("b".into())
            ]
        );
    }

    #[test]
    fn glob_axis_errors_name_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("ckpt")).unwrap();
        let msg = |pattern: &str| {
            let text = format!(
                "[experiment]\nname = \"t\"\n[sweep]\ns = {{ glob = \"{pattern}\" }}\n[stages.e]\nkind = \"k\"\nx = \"${{s}}\"\n"
            );
            let errs = parse_in(dir.path(), &text).unwrap_err();
            errs.0[0].message.clone()
        };
        assert!(
            msg("ckpt/step-*").contains("matches nothing"),
            "{}",
            msg("ckpt/step-*")
        );
        assert!(msg("nope/step-*").contains("cannot read directory"));
        assert!(msg("ckpt/*/model").contains("exactly one `*`"));
        assert!(msg("ckpt/a*b*").contains("exactly one `*`"));
        assert!(msg("ckpt/step").contains("exactly one `*`"));
        std::fs::create_dir(dir.path().join("ckpt/step-1")).unwrap();
        std::fs::create_dir(dir.path().join("ckpt/step-01")).unwrap();
        let m = msg("ckpt/step-*");
        assert!(
            m.contains("`step-01` and `step-1` both give the value 1"),
            "{m}"
        );
    }

    #[test]
    fn cartesian_product_in_axis_order() {
        // `b` is referenced before `a`, but axis order is [sweep] order; last axis fastest.
        let e = exp(&format!(
            "{HEAD}[stages.s]\nkind = \"k\"\np = \"${{b}}-${{a}}\"\n"
        ));
        let x = expand(&e).unwrap();
        assert_eq!(x.stage_axes, vec![vec!["a".to_string(), "b".into()]]);
        let got: Vec<String> = x.instances.iter().map(coords).collect();
        assert_eq!(
            got,
            [
                "a=1,b=\"x\"",
                "a=1,b=\"y\"",
                "a=1,b=\"z\"",
                "a=2,b=\"x\"",
                "a=2,b=\"y\"",
                "a=2,b=\"z\""
            ]
        );
        assert_eq!(
            x.instances[4].params.get("p").unwrap().value,
            Value::Str("y-2".into())
        );
    }

    #[test]
    fn unused_axis_does_not_duplicate() {
        let e = exp(&format!("{HEAD}[stages.s]\nkind = \"k\"\np = 3\n"));
        let x = expand(&e).unwrap();
        assert_eq!(x.instances.len(), 1);
        assert!(x.instances[0].coords.is_empty());
        assert_eq!(x.instances[0].params.get("p").unwrap().value, Value::Int(3));
    }

    #[test]
    fn explicit_sweep_and_params_via_param() {
        let e = exp(&format!(
            "{HEAD}[params]\nq = \"${{a * 10}}\"\n[stages.s]\nkind = \"k\"\nsweep = [\"c\"]\np = \"${{q + 1}}\"\n"
        ));
        let x = expand(&e).unwrap();
        assert_eq!(x.stage_axes, vec![vec!["a".to_string(), "c".into()]]);
        let ps: Vec<&Value> = x
            .instances
            .iter()
            .map(|i| &i.params.get("p").unwrap().value)
            .collect();
        assert_eq!(ps, [&Value::Int(11), &Value::Int(21)]);
        assert!(e.params.is_empty(), "q depends on an axis");
        assert_eq!(e.raw_params.len(), 1);
    }

    #[test]
    fn inherited_axes_pick_and_gather() {
        let e = exp(&format!(
            "{HEAD}\
             [stages.gen]\nkind = \"k\"\nv = \"${{a}}${{b}}\"\n\
             [stages.train]\nkind = \"k\"\ninputs = [\"gen\"]\n\
             [stages.picked]\nkind = \"k\"\ninputs = [{{ stage = \"gen\", pick = {{ a = 2.0 }} }}]\n\
             [stages.sum]\nkind = \"k\"\ninputs = [\"train\"]\ngather = [\"b\"]\n"
        ));
        let x = expand(&e).unwrap();
        assert_eq!(
            x.stage_axes,
            vec![
                vec!["a".to_string(), "b".into()],
                vec!["a".into(), "b".into()],
                vec!["b".into()],
                vec!["a".into()],
            ]
        );
        // Topological order: every input precedes its user.
        for (i, inst) in x.instances.iter().enumerate() {
            assert!(inst.inputs.iter().all(|&j| j < i));
            assert_eq!(inst.inputs.len(), inst.input_stage.len());
        }
        // train inherits gen's axes one-to-one.
        for t in x.instances.iter().filter(|i| i.stage == 1) {
            assert_eq!(t.inputs.len(), 1);
            assert_eq!(x.instances[t.inputs[0]].coords, t.coords);
        }
        // picked: one instance per b, each reading gen at a = 2 (int axis, float pick).
        let picked: Vec<&Instance> = x.instances.iter().filter(|i| i.stage == 2).collect();
        assert_eq!(picked.len(), 3);
        for p in &picked {
            let g = &x.instances[p.inputs[0]];
            assert_eq!(g.coords[0].1, Value::Int(2));
            assert_eq!(g.coords[1], p.coords[0]);
        }
        // sum: one per a, gathering all three b values in axis order.
        let sums: Vec<&Instance> = x.instances.iter().filter(|i| i.stage == 3).collect();
        assert_eq!(sums.len(), 2);
        let got: Vec<String> = sums[1]
            .inputs
            .iter()
            .map(|&j| coords(&x.instances[j]))
            .collect();
        assert_eq!(got, ["a=2,b=\"x\"", "a=2,b=\"y\"", "a=2,b=\"z\""]);
        assert_eq!(sums[1].input_stage, vec![0, 0, 0]);
    }

    #[test]
    fn param_spans_point_at_values_and_keys() {
        let text = format!("{HEAD}[stages.s]\nkind = \"k\"\nvalue = 7\n");
        let e = exp(&text);
        let x = expand(&e).unwrap();
        let i = &x.instances[0];
        assert_eq!(&text[i.params.get("value").unwrap().span.clone()], "7");
        assert_eq!(&text[i.param_keys["value"].clone()], "value");
        assert_eq!(&text[e.stages[0].span.clone()], "s");
    }

    #[test]
    fn too_many_instances_is_an_error() {
        let e = exp(
            "[experiment]\nname = \"t\"\n[sweep]\na = { range = [0, 100000] }\nb = { range = [0, 100] }\n\
             [stages.s]\nkind = \"k\"\nsweep = [\"a\", \"b\"]\n",
        );
        let err = expand(&e).unwrap_err();
        assert_eq!(err.0[0].code, "spec::too-many-instances");
    }

    #[test]
    fn cycles_are_all_found() {
        let e = crate::parse(SourceFile {
            path: "t.toml".into(),
            text: "[experiment]\nname = \"t\"\n\
                   [stages.a]\nkind = \"k\"\ninputs = [\"b\", \"c\"]\n\
                   [stages.b]\nkind = \"k\"\ninputs = [\"a\"]\n\
                   [stages.c]\nkind = \"k\"\ninputs = [\"a\"]\n"
                .into(),
        })
        .unwrap_err();
        let msgs: Vec<&str> = e.0.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            msgs,
            [
                "the stage inputs form a cycle: a → b → a (more loops run through these stages via `c`)"
            ]
        );
    }
}
