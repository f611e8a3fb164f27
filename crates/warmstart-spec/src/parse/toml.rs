//! The spanned TOML tree: an owned copy of `toml`'s `DeValue` document with a span for
//! every key and value, table entries in file order, and a nesting limit.

use toml::de::{DeTable, DeValue};
use warmstart_engine::Value;

use crate::model::*;

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
    pub(crate) fn type_name(&self) -> &'static str {
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

pub(crate) fn convert(v: &DeValue<'_>, span: Span, depth: usize) -> Node {
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
pub(crate) type Entries = Vec<(Spanned<String>, Node)>;

pub(crate) fn convert_table(t: &DeTable<'_>, depth: usize) -> Entries {
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

pub(crate) fn num(n: &Node) -> Option<f64> {
    match n.kind {
        Kind::Int(Some(i)) => Some(i as f64),
        Kind::Float(Some(f)) if f.is_finite() => Some(f),
        _ => None,
    }
}

pub(crate) fn scalar(n: &Node) -> Option<Value> {
    match &n.kind {
        Kind::Int(Some(i)) => Some(Value::Int(*i)),
        Kind::Float(Some(f)) => Some(Value::Float(*f)),
        Kind::Bool(b) => Some(Value::Bool(*b)),
        Kind::Str(s) => Some(Value::Str(s.clone())),
        _ => None,
    }
}
