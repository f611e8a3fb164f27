//! `[sweep]`: the axis forms (lists, `linspace`, `logspace`, `range`, `values`, `glob`),
//! their limits, and the distinct-values check.

use warmstart_engine::Value;

use super::toml::{Kind, Node, num, scalar};
use super::{Ctx, table};
use crate::did_you_mean;
use crate::model::*;
use crate::names::is_ident;

/// Largest number of values one axis may have.
pub const MAX_AXIS_LEN: usize = 100_000;

const AXIS_FORMS: [&str; 5] = ["linspace", "logspace", "range", "values", "glob"];

pub(super) fn parse_sweep(cx: &mut Ctx, key: &Spanned<String>, node: &Node) -> Vec<Axis> {
    let Some(t) = table(
        cx,
        key,
        node,
        "[sweep]",
        "write the axes under a [sweep] header, e.g. `alpha = [0.1, 0.2]`",
    ) else {
        return Vec::new();
    };
    let mut axes = Vec::new();
    for (k, v) in t {
        if !is_ident(&k.value) {
            cx.err(
                k.span.clone(),
                "spec::invalid-name",
                format!("invalid axis name `{}`", k.value),
                "not usable in `${...}` expressions",
                Some("axis names must start with a letter or `_` and contain only letters, digits and `_`".into()),
            );
            continue;
        }
        cx.broken.push(k.value.clone());
        if let Some(values) = axis_values(cx, k, v) {
            let dup = find_duplicate(&values);
            if let Some(d) = dup {
                cx.err(
                    v.span.clone(),
                    "spec::duplicate-axis-value",
                    format!("axis `{}` has the value {d} more than once", k.value),
                    "duplicate values",
                    Some("every value of an axis must be different (1 and 1.0 count as the same); remove the repeats".to_string()),
                );
                continue;
            }
            cx.broken.pop();
            axes.push(Axis {
                name: k.value.clone(),
                values,
                span: k.span.clone(),
            });
        }
    }
    axes
}

/// A value that occurs twice (ints and floats compare numerically), in O(n log n).
fn find_duplicate(values: &[Value]) -> Option<Value> {
    let rank = |v: &Value| match v {
        Value::Int(_) | Value::Float(_) => 0,
        Value::Str(_) => 1,
        Value::Bool(_) => 2,
        _ => 3,
    };
    let mut sorted: Vec<&Value> = values.iter().collect();
    sorted.sort_by(|a, b| {
        rank(a).cmp(&rank(b)).then_with(|| match (a, b) {
            (Value::Int(x), Value::Int(y)) => x.cmp(y),
            (Value::Str(x), Value::Str(y)) => x.cmp(y),
            (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
            _ => a
                .as_f64()
                .unwrap_or(f64::NAN)
                .total_cmp(&b.as_f64().unwrap_or(f64::NAN)),
        })
    });
    sorted
        .windows(2)
        .find(|w| same_value(w[0], w[1]))
        .map(|w| w[1].clone())
}

fn axis_values(cx: &mut Ctx, k: &Spanned<String>, v: &Node) -> Option<Vec<Value>> {
    let name = &k.value;
    let form_help = "an axis is a list (`[1, 2, 3]`) or one of `{ linspace = [start, stop, count] }`, \
                     `{ logspace = [start_exp, stop_exp, count] }`, `{ range = [start, end] }` or `[start, end, step]`, \
                     `{ values = [...] }` or `{ glob = \"dir/step-*\" }`";
    match &v.kind {
        Kind::Array(items) => list_axis(cx, name, v, items),
        Kind::Table(t) => {
            if t.len() != 1 {
                cx.err(
                    v.span.clone(),
                    "spec::bad-axis",
                    format!(
                        "axis `{name}` must have exactly one form, found {} keys",
                        t.len()
                    ),
                    "expected one key",
                    Some(form_help.to_string()),
                );
                return None;
            }
            let (fk, fv) = &t[0];
            match fk.value.as_str() {
                "values" => match &fv.kind {
                    Kind::Array(items) => list_axis(cx, name, fv, items),
                    _ => {
                        cx.type_err(
                            &format!("`values` of axis `{name}`"),
                            fv,
                            "an array",
                            form_help.into(),
                        );
                        None
                    }
                },
                form @ ("linspace" | "logspace") => {
                    let help = format!(
                        "write `{name} = {{ {form} = [start, stop, count] }}` with numbers and an integer count ≥ 1"
                    );
                    let ok = match &fv.kind {
                        Kind::Array(a) if a.len() == 3 => Some(a),
                        _ => None,
                    };
                    let Some(a) = ok else {
                        cx.err(
                            fv.span.clone(),
                            "spec::bad-axis",
                            format!(
                                "`{form}` of axis `{name}` wants 3 numbers [start, stop, count]"
                            ),
                            "expected [start, stop, count]",
                            Some(help),
                        );
                        return None;
                    };
                    let (Some(start), Some(stop)) = (num(&a[0]), num(&a[1])) else {
                        let bad = if num(&a[0]).is_none() { &a[0] } else { &a[1] };
                        cx.err(
                            bad.span.clone(),
                            "spec::bad-axis",
                            format!(
                                "`{form}` of axis `{name}`: start and stop must be finite numbers"
                            ),
                            "not a number",
                            Some(help),
                        );
                        return None;
                    };
                    let count = match a[2].kind {
                        Kind::Int(Some(c)) if c >= 1 && (c as usize) <= MAX_AXIS_LEN => c as usize,
                        _ => {
                            cx.err(
                                a[2].span.clone(),
                                "spec::bad-axis",
                                format!("`{form}` of axis `{name}`: count must be an integer between 1 and {MAX_AXIS_LEN}"),
                                "bad count",
                                Some(help),
                            );
                            return None;
                        }
                    };
                    let vals: Vec<Value> = (0..count)
                        .map(|i| {
                            let x = if count == 1 {
                                start
                            } else if i + 1 == count {
                                stop
                            } else {
                                start + (stop - start) * i as f64 / (count - 1) as f64
                            };
                            Value::Float(if form == "logspace" { 10f64.powf(x) } else { x })
                        })
                        .collect();
                    if vals.iter().any(|v| !v.as_f64().is_some_and(f64::is_finite)) {
                        cx.err(
                            fv.span.clone(),
                            "spec::bad-axis",
                            format!(
                                "`logspace` of axis `{name}` gives values too large to represent"
                            ),
                            "exponents out of range",
                            Some(
                                "the exponents are powers of 10; keep them between -300 and 300"
                                    .into(),
                            ),
                        );
                        return None;
                    }
                    Some(vals)
                }
                "range" => {
                    let help = format!(
                        "write `{name} = {{ range = [start, end] }}` or `[start, end, step]` with integers (end excluded, step ≠ 0)"
                    );
                    let ints: Option<Vec<i64>> = match &fv.kind {
                        Kind::Array(a) if a.len() == 2 || a.len() == 3 => a
                            .iter()
                            .map(|n| match n.kind {
                                Kind::Int(Some(i)) => Some(i),
                                _ => None,
                            })
                            .collect(),
                        _ => None,
                    };
                    let Some(ints) = ints else {
                        cx.err(
                            fv.span.clone(),
                            "spec::bad-axis",
                            format!(
                                "`range` of axis `{name}` wants 2 or 3 integers [start, end, step]"
                            ),
                            "expected [start, end] or [start, end, step]",
                            Some(help),
                        );
                        return None;
                    };
                    let (start, end) = (ints[0], ints[1]);
                    let step = ints.get(2).copied().unwrap_or(1);
                    if step == 0 {
                        cx.err(
                            fv.span.clone(),
                            "spec::bad-axis",
                            format!("`range` of axis `{name}` has step 0"),
                            "step must not be 0",
                            Some(help),
                        );
                        return None;
                    }
                    let mut vals = Vec::new();
                    let mut x = start;
                    while (step > 0 && x < end) || (step < 0 && x > end) {
                        if vals.len() >= MAX_AXIS_LEN {
                            cx.err(
                                fv.span.clone(),
                                "spec::bad-axis",
                                format!(
                                    "`range` of axis `{name}` has more than {MAX_AXIS_LEN} values"
                                ),
                                "too many values",
                                Some("use a smaller range or a larger step".to_string()),
                            );
                            return None;
                        }
                        vals.push(Value::Int(x));
                        match x.checked_add(step) {
                            Some(n) => x = n,
                            None => break,
                        }
                    }
                    if vals.is_empty() {
                        cx.err(
                            fv.span.clone(),
                            "spec::bad-axis",
                            format!("`range` of axis `{name}` is empty"),
                            "no values",
                            Some(format!(
                                "the end is excluded, so start must be {} end; {help}",
                                if step > 0 { "below" } else { "above" }
                            )),
                        );
                        return None;
                    }
                    Some(vals)
                }
                "glob" => match &fv.kind {
                    Kind::Str(pattern) => glob_axis(cx, name, fv, pattern),
                    _ => {
                        cx.type_err(
                            &format!("`glob` of axis `{name}`"),
                            fv,
                            "a string",
                            format!("write `{name} = {{ glob = \"checkpoints/step-*\" }}`: one `*` in the last path component, relative to the experiment file"),
                        );
                        None
                    }
                },
                other => {
                    let help = match did_you_mean(other, AXIS_FORMS) {
                        Some(d) => format!("{d} ({form_help})"),
                        None => form_help.to_string(),
                    };
                    cx.err(
                        fk.span.clone(),
                        "spec::bad-axis",
                        format!("unknown axis form `{other}` for axis `{name}`"),
                        "unknown form",
                        Some(help),
                    );
                    None
                }
            }
        }
        _ => {
            cx.type_err(
                &format!("axis `{name}`"),
                v,
                "an array or a table",
                form_help.into(),
            );
            None
        }
    }
}

/// The `glob` axis form: the entries of one directory whose names match a pattern with a
/// single `*` in its last component. The axis values are the texts the `*` stood for —
/// integers (sorted numerically) when every one is a decimal number, as checkpoint steps
/// are, strings (sorted) otherwise. The directory is relative to the experiment file and
/// read when the file is loaded, so adding a checkpoint directory adds sweep points and
/// leaves the cached ones valid. Only the captured values enter stage params and keys,
/// never the absolute path of the directory.
fn glob_axis(cx: &mut Ctx, name: &str, node: &Node, pattern: &str) -> Option<Vec<Value>> {
    let help = format!(
        "write `{name} = {{ glob = \"dir/step-*\" }}`: a path relative to the experiment file whose last \
         component holds exactly one `*` (no other wildcards); each match gives one axis value"
    );
    if let Some(problem) = glob_escapes(pattern) {
        cx.err(
            node.span.clone(),
            "spec::bad-axis",
            format!("`glob` of axis `{name}` {problem}"),
            "not relative to the experiment file",
            Some(help),
        );
        return None;
    }
    let (dir_part, last) = match pattern.rfind('/') {
        Some(i) => (&pattern[..i], &pattern[i + 1..]),
        None => ("", pattern),
    };
    if dir_part.contains('*') || last.matches('*').count() != 1 {
        cx.err(
            node.span.clone(),
            "spec::bad-axis",
            format!(
                "`glob` of axis `{name}` must have exactly one `*`, in its last path component"
            ),
            "unsupported pattern",
            Some(help),
        );
        return None;
    }
    let (prefix, suffix) = last.split_once('*').unwrap_or((last, ""));
    let base = cx
        .src
        .path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let dir = if dir_part.is_empty() {
        base.to_path_buf()
    } else {
        base.join(dir_part)
    };
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) => {
            cx.err(
                node.span.clone(),
                "spec::bad-axis",
                format!("`glob` of axis `{name}`: cannot read directory {}: {e}", dir.display()),
                "directory not readable",
                Some(format!("the directory part is relative to the experiment file's directory ({}); {help}", base.display())),
            );
            return None;
        }
    };
    let mut captures: Vec<String> = Vec::new();
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(n) = file_name.to_str() else {
            continue;
        };
        // Hidden entries (editor and sync leftovers) match only a pattern that asks for them.
        if n.starts_with('.') && !prefix.starts_with('.') {
            continue;
        }
        if n.len() >= prefix.len() + suffix.len() && n.starts_with(prefix) && n.ends_with(suffix) {
            captures.push(n[prefix.len()..n.len() - suffix.len()].to_string());
        }
    }
    if captures.is_empty() {
        cx.err(
            node.span.clone(),
            "spec::bad-axis",
            format!(
                "`glob` of axis `{name}` matches nothing in {}",
                dir.display()
            ),
            "no matches",
            Some(format!(
                "check the pattern and that the entries exist; {help}"
            )),
        );
        return None;
    }
    if captures.len() > MAX_AXIS_LEN {
        cx.err(
            node.span.clone(),
            "spec::bad-axis",
            format!("`glob` of axis `{name}` matches more than {MAX_AXIS_LEN} entries"),
            "too many values",
            Some("use a narrower pattern".to_string()),
        );
        return None;
    }
    let numbers: Option<Vec<i64>> = captures
        .iter()
        .map(|c| {
            (!c.is_empty() && c.bytes().all(|b| b.is_ascii_digit()))
                .then(|| c.parse::<i64>().ok())
                .flatten()
        })
        .collect();
    Some(match numbers {
        Some(ns) => {
            let mut pairs: Vec<(i64, &String)> = ns.into_iter().zip(&captures).collect();
            pairs.sort();
            if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
                cx.err(
                    node.span.clone(),
                    "spec::bad-axis",
                    format!(
                        "`glob` of axis `{name}`: `{prefix}{}{suffix}` and `{prefix}{}{suffix}` both give the value {}",
                        w[0].1, w[1].1, w[0].0
                    ),
                    "two entries, one value",
                    Some("remove or rename one of them (the numbers are compared as integers)".into()),
                );
                return None;
            }
            pairs.into_iter().map(|(n, _)| Value::Int(n)).collect()
        }
        None => {
            captures.sort();
            captures.into_iter().map(Value::Str).collect()
        }
    })
}

/// Why a glob pattern is not relative to the experiment file (an absolute path), if it is
/// not. `..` is allowed (a shipped experiment reads `../fixtures/…`): the pattern stays
/// relative, so the experiment works wherever the checkout lies and no absolute path
/// enters a param.
fn glob_escapes(pattern: &str) -> Option<&'static str> {
    let path = std::path::Path::new(pattern);
    if pattern.starts_with('/') || path.is_absolute() || path.has_root() {
        return Some("is an absolute path");
    }
    None
}

fn list_axis(cx: &mut Ctx, name: &str, v: &Node, items: &[Node]) -> Option<Vec<Value>> {
    if items.is_empty() {
        cx.err(
            v.span.clone(),
            "spec::bad-axis",
            format!("axis `{name}` has no values"),
            "empty list",
            Some("give at least one value, e.g. `[0.1, 0.2]`".to_string()),
        );
        return None;
    }
    let mut out = Vec::new();
    for it in items {
        match scalar(it) {
            Some(Value::Float(f)) if f.is_nan() => {
                cx.err(
                    it.span.clone(),
                    "spec::bad-axis",
                    format!("axis `{name}` has the value nan"),
                    "not a number",
                    Some("nan equals no value, not even itself, so it could not be picked or told apart from another nan; use numbers (or a string such as \"nan\" if you need a label)".to_string()),
                );
                return None;
            }
            Some(val) => out.push(val),
            None => {
                cx.err(
                    it.span.clone(),
                    "spec::bad-axis",
                    format!("values of axis `{name}` must be numbers, strings or booleans, found {}", it.kind.type_name()),
                    "not a scalar",
                    Some("an axis is a list of single values; nested arrays and tables are not allowed".to_string()),
                );
                return None;
            }
        }
    }
    Some(out)
}
