//! Param values and param schemas.
//!
//! [`Value`] is the JSON-shaped value model shared by experiment files, engines and the
//! cache key. Integers and floats are distinct (`3` is not `3.0`), and tables keep their
//! keys sorted so that a value has exactly one canonical form.
//!
//! [`ParamSpec`] is how a kind declares a param: type, default, range, choices, and whether
//! it enters the cache key (resource-like params such as a batch size or an execution
//! provider change how, not what, is computed and stay out of it).

use std::collections::BTreeMap;
use std::fmt;

/// Resolved params of one stage instance, sorted by name.
pub type Params = BTreeMap<String, Value>;

/// A param value.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Value>),
    Table(BTreeMap<String, Value>),
}

impl Value {
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            // A float that is exactly an integer (e.g. the result of `4 * 2.5`) is accepted.
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }
    /// The name of this value's type, as used in error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
            Value::List(_) => "array",
            Value::Table(_) => "table",
        }
    }
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
    /// Parse from JSON (integers stay integers).
    pub fn from_json(v: &serde_json::Value) -> Option<Value> {
        Some(match v {
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64()?),
            },
            serde_json::Value::String(s) => Value::Str(s.clone()),
            serde_json::Value::Array(a) => {
                Value::List(a.iter().map(Value::from_json).collect::<Option<_>>()?)
            }
            serde_json::Value::Object(o) => Value::Table(
                o.iter()
                    .map(|(k, v)| Some((k.clone(), Value::from_json(v)?)))
                    .collect::<Option<_>>()?,
            ),
            serde_json::Value::Null => return None,
        })
    }
}

impl fmt::Display for Value {
    /// TOML-like rendering, used in messages and coordinates (`alpha=0.5`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => {
                if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e15 {
                    write!(f, "{x:.1}")
                } else {
                    write!(f, "{x}")
                }
            }
            Value::Str(s) => write!(f, "{s:?}"),
            Value::List(l) => {
                write!(f, "[")?;
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{v}")?;
                }
                write!(f, "]")
            }
            Value::Table(t) => {
                write!(f, "{{")?;
                for (i, (k, v)) in t.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{k} = {v}")?;
                }
                write!(f, "}}")
            }
        }
    }
}

/// The declared type of a param.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase", tag = "type", content = "of")]
pub enum ParamType {
    Bool,
    Int,
    /// Accepts integers too (`1` for `1.0`).
    Float,
    Str,
    /// A path, relative to the experiment file's directory unless absolute.
    Path,
    List(Box<ParamType>),
    /// Any value (engines that forward params, e.g. plugins with their own schema).
    Any,
}

impl ParamType {
    pub fn name(&self) -> String {
        match self {
            ParamType::Bool => "boolean".into(),
            ParamType::Int => "integer".into(),
            ParamType::Float => "number".into(),
            ParamType::Str => "string".into(),
            ParamType::Path => "path (string)".into(),
            ParamType::List(t) => format!("array of {}", t.name()),
            ParamType::Any => "any value".into(),
        }
    }
}

/// The declaration of one param of a kind.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ParamSpec {
    pub name: String,
    #[serde(flatten)]
    pub ty: ParamType,
    pub doc: String,
    /// `None` = required.
    #[serde(default)]
    pub default: Option<Value>,
    /// Inclusive bounds for numbers (for lists: of each element).
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    /// For strings: the accepted values.
    #[serde(default)]
    pub choices: Option<Vec<String>>,
    /// Whether the param enters the cache key. False for params that change how, not what,
    /// is computed (batch size, execution provider, log verbosity).
    #[serde(default = "yes")]
    pub in_key: bool,
    /// For strings that name columns of an input table: which (checked at plan time when
    /// the upstream kind declares its outputs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<crate::ColumnRef>,
}

fn yes() -> bool {
    true
}

impl ParamSpec {
    fn new(name: &str, ty: ParamType, doc: &str) -> Self {
        ParamSpec {
            name: name.into(),
            ty,
            doc: doc.into(),
            default: None,
            min: None,
            max: None,
            choices: None,
            in_key: true,
            column: None,
        }
    }
    pub fn float(name: &str, doc: &str) -> Self {
        Self::new(name, ParamType::Float, doc)
    }
    pub fn int(name: &str, doc: &str) -> Self {
        Self::new(name, ParamType::Int, doc)
    }
    pub fn string(name: &str, doc: &str) -> Self {
        Self::new(name, ParamType::Str, doc)
    }
    pub fn boolean(name: &str, doc: &str) -> Self {
        Self::new(name, ParamType::Bool, doc)
    }
    pub fn path(name: &str, doc: &str) -> Self {
        Self::new(name, ParamType::Path, doc)
    }
    pub fn list(name: &str, of: ParamType, doc: &str) -> Self {
        Self::new(name, ParamType::List(Box::new(of)), doc)
    }
    pub fn any(name: &str, doc: &str) -> Self {
        Self::new(name, ParamType::Any, doc)
    }
    pub fn default(mut self, v: impl Into<Value>) -> Self {
        self.default = Some(v.into());
        self
    }
    pub fn min(mut self, m: f64) -> Self {
        self.min = Some(m);
        self
    }
    pub fn max(mut self, m: f64) -> Self {
        self.max = Some(m);
        self
    }
    pub fn range(self, lo: f64, hi: f64) -> Self {
        self.min(lo).max(hi)
    }
    pub fn choices(mut self, c: &[&str]) -> Self {
        self.choices = Some(c.iter().map(|s| s.to_string()).collect());
        self
    }
    /// The value names columns of an input table (see [`crate::ColumnRef`]).
    pub fn names_column(mut self, r: crate::ColumnRef) -> Self {
        self.column = Some(r);
        self
    }
    pub fn not_in_key(mut self) -> Self {
        self.in_key = false;
        self
    }

    /// Check a value against this declaration. Returns the value normalized to the
    /// declared type (an integer given for a float param becomes a float, so that `1` and
    /// `1.0` produce the same key) or a message saying what is wrong and what is expected.
    pub fn check(&self, v: &Value) -> Result<Value, String> {
        check_type(&self.ty, v, self)
    }
}

fn check_type(ty: &ParamType, v: &Value, spec: &ParamSpec) -> Result<Value, String> {
    let out = match (ty, v) {
        (ParamType::Any, v) => v.clone(),
        (ParamType::Bool, Value::Bool(_)) => v.clone(),
        (ParamType::Int, _) if v.as_i64().is_some() && !matches!(v, Value::Bool(_)) => {
            let i = v.as_i64().unwrap_or_default();
            check_range(i as f64, spec)?;
            Value::Int(i)
        }
        (ParamType::Float, Value::Int(_) | Value::Float(_)) => {
            let x = v.as_f64().unwrap_or(f64::NAN);
            if x.is_nan() {
                return Err("expected a number, found NaN".into());
            }
            check_range(x, spec)?;
            Value::Float(x)
        }
        (ParamType::Str | ParamType::Path, Value::Str(s)) => {
            if let Some(choices) = &spec.choices
                && !choices.iter().any(|c| c == s)
            {
                return Err(format!(
                    "{s:?} is not one of the accepted values: {}",
                    choices
                        .iter()
                        .map(|c| format!("{c:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            v.clone()
        }
        (ParamType::List(of), Value::List(items)) => Value::List(
            items
                .iter()
                .enumerate()
                .map(|(i, it)| check_type(of, it, spec).map_err(|e| format!("element {i}: {e}")))
                .collect::<Result<_, _>>()?,
        ),
        (ty, v) => {
            return Err(format!(
                "expected {}, found {} `{v}`",
                ty.name(),
                v.type_name()
            ));
        }
    };
    Ok(out)
}

fn check_range(x: f64, spec: &ParamSpec) -> Result<(), String> {
    match (spec.min, spec.max) {
        (Some(lo), Some(hi)) if !(lo..=hi).contains(&x) => Err(format!(
            "{x} is out of range: must be between {lo} and {hi}"
        )),
        (Some(lo), None) if x < lo => Err(format!("{x} is out of range: must be ≥ {lo}")),
        (None, Some(hi)) if x > hi => Err(format!("{x} is out of range: must be ≤ {hi}")),
        _ => Ok(()),
    }
}

impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Value::Float(x)
    }
}
impl From<i64> for Value {
    fn from(x: i64) -> Self {
        Value::Int(x)
    }
}
impl From<bool> for Value {
    fn from(x: bool) -> Self {
        Value::Bool(x)
    }
}
impl From<&str> for Value {
    fn from(x: &str) -> Self {
        Value::Str(x.into())
    }
}
impl From<String> for Value {
    fn from(x: String) -> Self {
        Value::Str(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_for_float_is_normalized() {
        let s = ParamSpec::float("rho", "").range(0.0, 1.0);
        assert_eq!(s.check(&Value::Int(1)), Ok(Value::Float(1.0)));
        assert!(
            s.check(&Value::Float(1.5))
                .unwrap_err()
                .contains("out of range")
        );
        assert!(
            s.check(&Value::Str("x".into()))
                .unwrap_err()
                .contains("expected number")
        );
    }

    #[test]
    fn choices_are_enforced() {
        let s = ParamSpec::string("act", "").choices(&["relu", "he3"]);
        assert!(s.check(&Value::Str("tanh".into())).is_err());
        assert!(s.check(&Value::Str("he3".into())).is_ok());
    }

    #[test]
    fn json_roundtrip_keeps_ints() {
        let v = Value::List(vec![
            Value::Int(3),
            Value::Float(0.5),
            Value::Str("a".into()),
        ]);
        let j = v.to_json();
        assert_eq!(Value::from_json(&j), Some(v));
    }
}
