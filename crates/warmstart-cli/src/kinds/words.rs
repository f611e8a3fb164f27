//! A kind's declarations in words, shared by the plain-text and the Markdown reference so
//! that the two say the same thing. Each function returns plain text; the Markdown
//! renderer escapes and decorates it.

use warmstart::kinds::{
    ColumnRef, Determinism, Extra, InputSpec, KindEntry, ParamSpec, Value, is_table_name,
};

/// What a kind's determinism means for the cache.
pub fn determinism(d: Determinism) -> &'static str {
    match d {
        Determinism::Deterministic => {
            "deterministic: the output is a function of params and inputs (cached)"
        }
        Determinism::Seeded => {
            "seeded: the output is a function of params, inputs and the stage seed (cached; the seed is in the key)"
        }
        Determinism::Volatile => "volatile: the output may differ between runs (never cached)",
    }
}

/// How many input stages an instance takes.
pub fn inputs(k: &KindEntry) -> String {
    let plural = |n: usize| if n == 1 { "stage" } else { "stages" };
    match (k.spec.min_inputs, k.spec.max_inputs) {
        (0, Some(0)) => "none".into(),
        (0, None) => "any number of stages".into(),
        (min, None) => format!("at least {min} {}", plural(min)),
        (0, Some(max)) => format!("at most {max} {}", plural(max)),
        (min, Some(max)) if min == max => format!("exactly {min} {}", plural(min)),
        (min, Some(max)) => format!("{min} to {max} stages"),
    }
}

/// A bound as it would be written in a file: `0.5`, `200`, `1e-9`.
fn number(x: f64) -> String {
    if x != 0.0 && (x.abs() < 1e-4 || x.abs() >= 1e9) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// The type of a param.
pub fn param_type(p: &ParamSpec) -> String {
    p.ty.name()
}

/// `default 0.5`, or `required`.
pub fn param_default(p: &ParamSpec) -> String {
    match &p.default {
        Some(v) => format!("default {}", value(v)),
        None => "required".into(),
    }
}

/// A value as a file would write it, very small and very large floats in exponent form
/// (`1e-12`, not twelve zeros).
pub fn value(v: &Value) -> String {
    match v {
        Value::Float(x) if *x != 0.0 && x.is_finite() && (x.abs() < 1e-4 || x.abs() >= 1e9) => {
            format!("{x:e}")
        }
        Value::List(items) => {
            let items: Vec<String> = items.iter().map(value).collect();
            format!("[{}]", items.join(", "))
        }
        v => v.to_string(),
    }
}

/// What values are accepted beyond the type: a range, choices, column names; empty when
/// nothing more is declared.
pub fn param_accepts(p: &ParamSpec) -> Vec<String> {
    let mut out = Vec::new();
    match (p.min, p.max) {
        (Some(lo), Some(hi)) => out.push(format!("in [{}, {}]", number(lo), number(hi))),
        (Some(lo), None) => out.push(format!("≥ {}", number(lo))),
        (None, Some(hi)) => out.push(format!("≤ {}", number(hi))),
        (None, None) => {}
    }
    if let Some(c) = &p.choices {
        let c: Vec<String> = c.iter().map(|c| format!("`{c}`")).collect();
        out.push(format!("one of {}", c.join(", ")));
    }
    if let Some(r) = &p.column {
        out.push(column_ref(r));
    }
    out
}

/// "names a column of the input table named by `table` …".
pub fn column_ref(r: &ColumnRef) -> String {
    let table = r.table_param.as_deref().unwrap_or("table");
    let mut s = if r.list {
        format!("names columns of the input table named by param `{table}` (comma-separated)")
    } else {
        format!("names a column of the input table named by param `{table}`")
    };
    let mut or = Vec::new();
    if r.or_coordinate {
        or.push("a sweep coordinate of the input or `stage`");
    }
    if r.or_number {
        or.push("a number");
    }
    if !or.is_empty() {
        s.push_str(&format!(", or {}", or.join(", or ")));
    }
    s
}

/// Whether the param enters the cache key.
pub fn in_key(p: &ParamSpec) -> &'static str {
    if p.in_key { "yes" } else { "no" }
}

/// One further (instance-dependent) column group of an output table.
pub fn extra(e: &Extra) -> String {
    match e {
        Extra::Coordinates => "one column per sweep axis of its inputs (int64 for integer \
                               axes, float64 for other numbers, bool or utf8)"
            .into(),
        Extra::InputColumns { table_param } => {
            format!("the columns of the input table named by param `{table_param}`")
        }
        Extra::Open { doc } => doc.clone(),
    }
}

/// "`trajectory` from `finetune`, `pretrain`" (a table that is not one name, such as "the
/// table named by `table`", stays as written).
pub fn read_source(r: &InputSpec) -> String {
    let table = if is_table_name(&r.table) {
        format!("`{}`", r.table)
    } else {
        r.table.clone()
    };
    if r.from.is_empty() {
        table
    } else {
        let from: Vec<String> = r.from.iter().map(|k| format!("`{k}`")).collect();
        format!("{table} from {}", from.join(", "))
    }
}

/// Why a section is empty.
pub const NOT_DECLARED: &str = "not declared";

/// What an empty `reads` means: nothing to read for a kind without inputs, else not declared.
pub fn no_reads(k: &KindEntry) -> &'static str {
    if k.spec.max_inputs == Some(0) {
        "none (it takes no inputs)"
    } else {
        NOT_DECLARED
    }
}
