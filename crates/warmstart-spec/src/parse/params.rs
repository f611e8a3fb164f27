//! `[params]` and param values: names checked in `${...}` templates, the raw (unevaluated)
//! form kept for axis-dependent values, and their evaluation.

use std::collections::HashMap;

use warmstart_engine::Value;

use super::Ctx;
use super::toml::{Kind, MAX_NESTING, Node};
use super::{string_base, table};
use crate::expr::{ExprError, Template, unescape};
use crate::graph::param_axes;
use crate::model::*;
use crate::names::is_ident;
use crate::{SpecError, did_you_mean};

/// Convert a param value (checking the names used in `${...}`).
pub(super) fn raw_value(
    cx: &mut Ctx,
    node: &Node,
    known: &KnownFn<'_>,
    what: &str,
) -> Option<Spanned<RawValue>> {
    let v = match &node.kind {
        Kind::Bool(b) => RawValue::Bool(*b),
        Kind::Int(Some(i)) => RawValue::Int(*i),
        Kind::Int(None) => {
            cx.err(
                node.span.clone(),
                "spec::bad-number",
                "integer does not fit in 64 bits",
                "too large",
                Some("use a smaller value or a float".into()),
            );
            return None;
        }
        Kind::Float(Some(f)) => RawValue::Float(*f),
        Kind::Float(None) => {
            cx.err(
                node.span.clone(),
                "spec::bad-number",
                "invalid float",
                "not representable",
                Some("write a finite float such as `1.5e-3`".into()),
            );
            return None;
        }
        Kind::TooDeep => {
            cx.err(
                node.span.clone(),
                "spec::too-deep",
                format!("{what}: arrays/tables nested more than {MAX_NESTING} levels deep"),
                "nested too deeply",
                Some("flatten the value".into()),
            );
            return None;
        }
        Kind::Datetime => {
            cx.err(
                node.span.clone(),
                "spec::unsupported-value",
                format!("{what}: dates and times are not supported as param values"),
                "datetime",
                Some("write it as a string in quotes".into()),
            );
            return None;
        }
        Kind::Str(s) => {
            let base = string_base(&cx.src.text, &node.span, s);
            match Template::parse(s) {
                Ok(None) => RawValue::Str(unescape(s)),
                Ok(Some(t)) => {
                    let mut ok = true;
                    for (n, span) in t.names() {
                        if let Err((label, help)) = known(&n) {
                            ok = false;
                            let e = ExprError {
                                span,
                                code: "spec::unknown-name",
                                message: format!("unknown name `{n}` in {what}"),
                                label,
                                help: Some(help),
                            };
                            cx.expr_err(e, base, &node.span, "");
                        }
                    }
                    if !ok {
                        return None;
                    }
                    RawValue::Template {
                        text: s.clone(),
                        template: t,
                        base,
                    }
                }
                Err(e) => {
                    cx.expr_err(e, base, &node.span, &format!("in {what}"));
                    return None;
                }
            }
        }
        Kind::Array(items) => {
            let mut out = Vec::new();
            let mut ok = true;
            for it in items {
                match raw_value(cx, it, known, what) {
                    Some(v) => out.push(v),
                    None => ok = false,
                }
            }
            if !ok {
                return None;
            }
            RawValue::List(out)
        }
        Kind::Table(t) => {
            let mut out = Vec::new();
            let mut ok = true;
            for (k, it) in t {
                match raw_value(cx, it, known, what) {
                    Some(v) => out.push((k.clone(), v)),
                    None => ok = false,
                }
            }
            if !ok {
                return None;
            }
            RawValue::Table(out)
        }
    };
    Some(Spanned::new(v, node.span.clone()))
}

pub(super) fn name_help(name: &str, params: &[&str], axes: &[Axis]) -> String {
    let cands: Vec<&str> = params
        .iter()
        .copied()
        .chain(axes.iter().map(|a| a.name.as_str()))
        .collect();
    let list = if cands.is_empty() {
        "there are no usable [params] entries or [sweep] axes".to_string()
    } else {
        format!("known names: {}", cands.join(", "))
    };
    match did_you_mean(name, cands.iter().copied()) {
        Some(d) => format!("{d} ({list})"),
        None => format!(
            "define it under [params] or [sweep] ({list}); write `$${{` for a literal `${{`"
        ),
    }
}

pub(super) type RawParams = Vec<(Spanned<String>, Spanned<RawValue>)>;

pub(super) fn parse_params(
    cx: &mut Ctx,
    params: Option<(&Spanned<String>, &Node)>,
    axes: &[Axis],
) -> (Vec<(String, Spanned<Value>)>, RawParams) {
    let mut evaluated = Vec::new();
    let mut raw: RawParams = Vec::new();
    let Some((key, node)) = params else {
        return (evaluated, raw);
    };
    let Some(t) = table(
        cx,
        key,
        node,
        "[params]",
        "write shared values under a [params] header, e.g. `d = 200`",
    ) else {
        return (evaluated, raw);
    };
    let all_names: Vec<&str> = t.iter().map(|(k, _)| k.value.as_str()).collect();
    for (i, (k, v)) in t.iter().enumerate() {
        if !is_ident(&k.value) {
            cx.err(
                k.span.clone(),
                "spec::invalid-name",
                format!("invalid param name `{}`", k.value),
                "not usable in `${...}` expressions",
                Some("param names must start with a letter or `_` and contain only letters, digits and `_`".into()),
            );
            continue;
        }
        if let Some(a) = axes.iter().find(|a| a.name == k.value) {
            cx.errors.push(
                SpecError::new(
                    &cx.src,
                    k.span.clone(),
                    "spec::name-clash",
                    format!("`{}` is both a [params] entry and a [sweep] axis", k.value),
                    "param defined here",
                    Some("rename one of them: names in `${...}` must be unambiguous".into()),
                )
                .with_label(a.span.clone(), "axis defined here"),
            );
            continue;
        }
        let earlier: Vec<&str> = raw.iter().map(|(k, _)| k.value.as_str()).collect();
        let later: Vec<&str> = all_names[i..].to_vec();
        let broken = cx.broken.clone();
        let known = |n: &str| -> Result<(), (String, String)> {
            if earlier.contains(&n)
                || axes.iter().any(|a| a.name == n)
                || broken.iter().any(|b| b == n)
            {
                Ok(())
            } else if later.contains(&n) {
                Err((
                    format!("`{n}` is not defined yet"),
                    format!(
                        "`{n}` is defined at or after this point in [params]; a param may only use params defined above it (move `{n}` up)"
                    ),
                ))
            } else {
                Err((
                    "not a [params] entry or [sweep] axis".into(),
                    name_help(n, &earlier, axes),
                ))
            }
        };
        match raw_value(cx, v, &known, &format!("param `{}`", k.value)) {
            Some(rv) => raw.push((k.clone(), rv)),
            None => cx.broken.push(k.value.clone()),
        }
    }
    // Evaluate the params that do not depend on an axis.
    let deps = param_axes(&raw, axes);
    let mut values: HashMap<String, Value> = HashMap::new();
    // An entry that uses a param already reported (`cx.broken`, or computed from one) is
    // skipped silently: one mistake gives one error, not one per param built on it.
    for (k, v) in &raw {
        if deps.get(&k.value).is_some_and(|d| !d.is_empty()) {
            continue;
        }
        let mut used = Vec::new();
        crate::graph::collect_names(&v.value, &mut used);
        if used.iter().any(|n| cx.broken.contains(n)) {
            cx.broken.push(k.value.clone());
            continue;
        }
        let lookup = |n: &str| values.get(n).cloned();
        match eval_raw(&v.value, &v.span, &lookup) {
            Ok(val) => {
                values.insert(k.value.clone(), val.clone());
                evaluated.push((k.value.clone(), Spanned::new(val, v.span.clone())));
            }
            Err(f) => {
                let (e, base, whole) = *f;
                cx.expr_err(e, base, &whole, &format!("in param `{}`", k.value));
                cx.broken.push(k.value.clone());
            }
        }
    }
    (evaluated, raw)
}

/// An evaluation error: the expression error, the string's base offset and its span.
pub(crate) type EvalFailure = Box<(ExprError, Option<usize>, Span)>;
/// Checks whether a name may be used in an expression; on error: (label, help).
pub(super) type KnownFn<'a> = dyn Fn(&str) -> Result<(), (String, String)> + 'a;

/// Evaluate a raw value.
pub(crate) fn eval_raw(
    v: &RawValue,
    span: &Span,
    lookup: &dyn Fn(&str) -> Option<Value>,
) -> Result<Value, EvalFailure> {
    Ok(match v {
        RawValue::Bool(b) => Value::Bool(*b),
        RawValue::Int(i) => Value::Int(*i),
        RawValue::Float(f) => Value::Float(*f),
        RawValue::Str(s) => Value::Str(s.clone()),
        RawValue::Template { template, base, .. } => template
            .eval(lookup)
            .map_err(|e| Box::new((e, *base, span.clone())))?,
        RawValue::List(l) => Value::List(
            l.iter()
                .map(|x| eval_raw(&x.value, &x.span, lookup))
                .collect::<Result<_, EvalFailure>>()?,
        ),
        RawValue::Table(t) => Value::Table(
            t.iter()
                .map(|(k, x)| Ok((k.value.clone(), eval_raw(&x.value, &x.span, lookup)?)))
                .collect::<Result<_, EvalFailure>>()?,
        ),
    })
}
