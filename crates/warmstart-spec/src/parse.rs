//! TOML text → validated [`Experiment`]: reads the document with spans, checks every
//! table and key, builds the sweep axes, evaluates `[params]`, and checks the stage graph
//! (unknown inputs, cycles, picks, gathers). Collects every error it can find.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use toml::de::{DeTable, DeValue};
use warmstart_engine::Value;

use crate::expand::{collect_names, param_axes, stage_axes_of, topo_order};
use crate::expr::{ExprError, Template, unescape};
use crate::model::*;
use crate::{SpecError, SpecErrors, did_you_mean};

/// Keys of a stage table that are not params.
pub const RESERVED: [&str; 9] = [
    "kind",
    "engine",
    "inputs",
    "seed",
    "threads",
    "gpu",
    "gather",
    "sweep",
    "description",
];
const TOP: [&str; 5] = ["experiment", "params", "sweep", "stages", "engines"];
const EXPERIMENT_KEYS: [&str; 3] = ["name", "description", "seed"];
/// Largest number of values one axis may have.
pub const MAX_AXIS_LEN: usize = 100_000;

/// An owned TOML node with spans; table entries in file order.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub kind: Kind,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Str(String),
    Int(Option<i64>),
    Float(Option<f64>),
    Bool(bool),
    Datetime,
    Array(Vec<Node>),
    Table(Vec<(Spanned<String>, Node)>),
    /// Arrays/tables nested deeper than [`MAX_NESTING`].
    TooDeep,
}

/// Deepest nesting of arrays and tables accepted (guards the stack).
pub const MAX_NESTING: usize = 32;

impl Kind {
    fn type_name(&self) -> &'static str {
        match self {
            Kind::Str(_) => "string",
            Kind::Int(_) => "integer",
            Kind::Float(_) => "float",
            Kind::Bool(_) => "boolean",
            Kind::Datetime => "datetime",
            Kind::Array(_) => "array",
            Kind::Table(_) => "table",
            Kind::TooDeep => "value nested too deeply",
        }
    }
}

fn convert(v: &DeValue<'_>, span: Span, depth: usize) -> Node {
    if depth > MAX_NESTING {
        return Node {
            kind: Kind::TooDeep,
            span,
        };
    }
    let kind = match v {
        DeValue::String(s) => Kind::Str(s.to_string()),
        DeValue::Integer(i) => Kind::Int(i64::from_str_radix(i.as_str(), i.radix()).ok()),
        DeValue::Float(f) => Kind::Float(f.as_str().replace('_', "").parse::<f64>().ok()),
        DeValue::Boolean(b) => Kind::Bool(*b),
        DeValue::Datetime(_) => Kind::Datetime,
        DeValue::Array(a) => Kind::Array(
            a.iter()
                .map(|x| convert(x.get_ref(), x.span(), depth + 1))
                .collect(),
        ),
        DeValue::Table(t) => Kind::Table(convert_table(t, depth + 1)),
    };
    Node { kind, span }
}

/// A TOML table's entries, with spans, in file order.
type Entries = Vec<(Spanned<String>, Node)>;

fn convert_table(t: &DeTable<'_>, depth: usize) -> Entries {
    let mut entries: Vec<(Spanned<String>, Node)> = t
        .iter()
        .map(|(k, v)| {
            (
                Spanned::new(k.get_ref().to_string(), k.span()),
                convert(v.get_ref(), v.span(), depth),
            )
        })
        .collect();
    entries.sort_by_key(|(k, _)| k.span.start);
    entries
}

struct Ctx {
    src: Arc<SourceFile>,
    errors: Vec<SpecError>,
    /// Names of axes and params that failed to parse: not reported again as unknown.
    broken: Vec<String>,
    /// A stage failed to parse: skip the graph checks beyond unknown inputs.
    stages_incomplete: bool,
    /// Every stage name declared in the file, including stages that failed to parse.
    declared: Vec<String>,
}

impl Ctx {
    fn err(
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

    fn type_err(&mut self, where_: &str, node: &Node, expected: &str, help: String) {
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

    fn unknown_key(&mut self, key: &Spanned<String>, table: &str, allowed: &[&str]) {
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
    fn expr_err(&mut self, e: ExprError, base: Option<usize>, whole: &Span, context: &str) {
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
fn string_base(text: &str, span: &Span, decoded: &str) -> Option<usize> {
    let raw = text.get(span.clone())?;
    for q in ["\"\"\"", "'''", "\"", "'"] {
        if raw.len() >= 2 * q.len() && raw.starts_with(q) && raw.ends_with(q) {
            let inner = &raw[q.len()..raw.len() - q.len()];
            return (inner == decoded).then_some(span.start + q.len());
        }
    }
    None
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

fn is_ident(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A fresh context for `source` and its top-level entries (with spans), or the TOML
/// syntax error.
fn read_toml(source: SourceFile) -> Result<(Ctx, Entries), SpecErrors> {
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

    let (name, description, seed) = parse_experiment(&mut cx, experiment);
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
    };
    check_graph(&mut cx, &mut exp);
    if cx.errors.is_empty() {
        Ok(exp)
    } else {
        cx.errors
            .sort_by_key(|e| e.span().map(|s| s.start).unwrap_or(0));
        Err(SpecErrors(cx.errors))
    }
}

/// `[engines.NAME]` tables: engines loaded from files (plugins), `path = "…"` relative to
/// the experiment file.
/// Parse a project-level `warmstart.toml` (see [`crate::project`]): only `[engines]`.
pub fn parse_project(source: SourceFile) -> Result<Project, SpecErrors> {
    let (mut cx, root) = read_toml(source)?;
    let src = cx.src.clone();
    let mut engines = Vec::new();
    for (key, node) in &root {
        if key.value == "engines" {
            engines = parse_engines(&mut cx, key, node);
        } else {
            let help = match did_you_mean(&key.value, ["engines"]) {
                Some(d) => format!("{d} (warmstart.toml has only an [engines] table)"),
                None => "warmstart.toml has only an [engines] table: `[engines.NAME]` with \
                         `path = \"…\"` declares a plugin for every experiment of the project"
                    .to_string(),
            };
            cx.err(
                key.span.clone(),
                "spec::unknown-table",
                format!("unknown top-level key `{}` in warmstart.toml", key.value),
                "not a known table",
                Some(help),
            );
        }
    }
    if cx.errors.is_empty() {
        Ok(Project {
            source: src,
            engines,
        })
    } else {
        Err(SpecErrors(cx.errors))
    }
}

fn parse_engines(cx: &mut Ctx, key: &Spanned<String>, node: &Node) -> Vec<EngineDecl> {
    let help = "declare a plugin as `[engines.NAME]` with `path = \"relative/to/this/file.so\"`";
    let Some(t) = table(cx, key, node, "[engines]", help) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, decl) in t {
        if !is_ident(&name.value.replace('-', "_")) {
            cx.err(
                name.span.clone(),
                "spec::invalid-name",
                format!("invalid engine name `{}`", name.value),
                "not an identifier",
                Some("use letters, digits, `_` and `-`".to_string()),
            );
            continue;
        }
        let Some(fields) = table(cx, name, decl, "an engine declaration", help) else {
            continue;
        };
        let mut path = None;
        for (k, v) in fields {
            match (k.value.as_str(), &v.kind) {
                ("path", Kind::Str(p)) => path = Some(Spanned::new(p.clone(), v.span.clone())),
                ("path", _) => cx.type_err(
                    &format!("[engines.{}] path", name.value),
                    v,
                    "a string",
                    help.to_string(),
                ),
                _ => cx.unknown_key(k, &format!("[engines.{}]", name.value), &["path"]),
            }
        }
        match path {
            Some(path) => out.push(EngineDecl {
                name: name.clone(),
                path,
            }),
            None => cx.err(
                name.span.clone(),
                "spec::missing-path",
                format!("engine `{}` has no `path`", name.value),
                "needs `path = \"…\"`",
                Some(help.to_string()),
            ),
        }
    }
    out
}

fn table<'a>(
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
) -> (String, String, u64) {
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
        return (String::new(), String::new(), 0);
    };
    let Some(t) = table(cx, key, node, "[experiment]", name_help) else {
        return (String::new(), String::new(), 0);
    };
    let (mut name, mut description, mut seed) = (None, String::new(), 0);
    for (k, v) in t {
        match k.value.as_str() {
            "name" => match &v.kind {
                Kind::Str(s) if valid_name(s) => name = Some(s.clone()),
                Kind::Str(s) => {
                    cx.err(
                        v.span.clone(),
                        "spec::invalid-name",
                        format!("invalid experiment name {s:?}"),
                        "only letters, digits, `_`, `.` and `-` are allowed",
                        Some(format!(
                            "rename it, e.g. {:?}",
                            s.chars()
                                .map(|c| if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                                    c
                                } else {
                                    '-'
                                })
                                .collect::<String>()
                        )),
                    );
                    name = Some(String::new());
                }
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
    (name.unwrap_or_default(), description, seed)
}

fn seed_value(cx: &mut Ctx, v: &Node, what: &str) -> Option<u64> {
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

fn num(n: &Node) -> Option<f64> {
    match n.kind {
        Kind::Int(Some(i)) => Some(i as f64),
        Kind::Float(Some(f)) if f.is_finite() => Some(f),
        _ => None,
    }
}

fn scalar(n: &Node) -> Option<Value> {
    match &n.kind {
        Kind::Int(Some(i)) => Some(Value::Int(*i)),
        Kind::Float(Some(f)) => Some(Value::Float(*f)),
        Kind::Bool(b) => Some(Value::Bool(*b)),
        Kind::Str(s) => Some(Value::Str(s.clone())),
        _ => None,
    }
}

const AXIS_FORMS: [&str; 5] = ["linspace", "logspace", "range", "values", "glob"];

fn parse_sweep(cx: &mut Ctx, key: &Spanned<String>, node: &Node) -> Vec<Axis> {
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

/// Convert a param value (checking the names used in `${...}`).
fn raw_value(
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

fn name_help(name: &str, params: &[&str], axes: &[Axis]) -> String {
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

type RawParams = Vec<(Spanned<String>, Spanned<RawValue>)>;

fn parse_params(
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
    for (k, v) in &raw {
        if deps.get(&k.value).is_some_and(|d| !d.is_empty()) {
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
                cx.expr_err(e, base, &whole, &format!("in param `{}`", k.value))
            }
        }
    }
    (evaluated, raw)
}

/// An evaluation error: the expression error, the string's base offset and its span.
pub(crate) type EvalFailure = Box<(ExprError, Option<usize>, Span)>;
/// Checks whether a name may be used in an expression; on error: (label, help).
type KnownFn<'a> = dyn Fn(&str) -> Result<(), (String, String)> + 'a;

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

fn parse_stages(
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
        if !valid_name(&name.value) {
            cx.err(
                name.span.clone(),
                "spec::invalid-name",
                format!("invalid stage name {:?}", name.value),
                "only letters, digits, `_`, `.` and `-` are allowed",
                Some("rename the stage".to_string()),
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
            "seed" => seed = seed_value(cx, v, &w),
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
            "gather" => gather = string_list(cx, v, &w, axes),
            "sweep" => sweep = string_list(cx, v, &w, axes),
            "inputs" => inputs = parse_inputs(cx, v, sname),
            _ => {
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
                if let Some(rv) = raw_value(
                    cx,
                    v,
                    &known,
                    &format!("param `{}` of stage `{sname}`", k.value),
                ) {
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
    })
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

/// Check the stage graph: duplicate names, unknown inputs, self inputs, cycles, picks and
/// gathers. Removes nothing; errors go to `cx`.
fn check_graph(cx: &mut Ctx, exp: &mut Experiment) {
    let names: Vec<String> = cx.declared.clone();
    // Hash lookups, not scans: a scan per input made parsing quadratic in the stage count.
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
                let help = match did_you_mean(&inp.stage.value, names.iter().map(String::as_str)) {
                    Some(d) => format!("{d} (stages: {})", names.join(", ")),
                    None => format!(
                        "inputs must name a stage of this file (stages: {})",
                        names.join(", ")
                    ),
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
        for cycle in cycles {
            let mut path: Vec<&str> = cycle.iter().map(|&i| exp.stages[i].name.as_str()).collect();
            path.push(path[0]);
            let first = &exp.stages[cycle[0]];
            let mut e = SpecError::new(
                &cx.src,
                first.span.clone(),
                "spec::cycle",
                format!("the stage inputs form a cycle: {}", path.join(" → ")),
                format!("stage `{}` is part of the cycle", first.name),
                Some("a stage runs after its inputs, so inputs cannot loop back; remove one of the labelled input references".into()),
            );
            for w in 0..cycle.len() {
                let from = &exp.stages[cycle[w]];
                let to = &exp.stages[cycle[(w + 1) % cycle.len()]];
                if let Some(inp) = to.inputs.iter().find(|i| i.stage.value == from.name) {
                    e = e.with_label(
                        inp.stage.span.clone(),
                        format!("`{}` reads `{}`", to.name, from.name),
                    );
                }
            }
            cx.errors.push(e);
        }
        return;
    }
    let axes = stage_axes_of(exp);
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(exp.stages.len());
    for (i, s) in exp.stages.iter().enumerate() {
        index.entry(s.name.as_str()).or_insert(i);
    }
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
                exp.stage(&inp.stage.value).is_some_and(|(ui, _)| {
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
