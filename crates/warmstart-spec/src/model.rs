//! The validated data model of an experiment file ([`Experiment`], [`Axis`],
//! [`StageSpec`], [`InputSpec`]) and of its expansion ([`Expanded`], [`Instance`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use warmstart_engine::Value;

use crate::expr::Template;

/// Byte offsets into the source text.
pub type Span = std::ops::Range<usize>;

/// A value with the span it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

/// An experiment file: where it came from and its text.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
}

/// A validated experiment file.
#[derive(Debug, Clone)]
pub struct Experiment {
    pub source: Arc<SourceFile>,
    pub name: String,
    pub description: String,
    pub seed: u64,
    /// `[params]` entries that do not depend on a sweep axis, evaluated, in file order.
    pub params: Vec<(String, Spanned<Value>)>,
    /// Every `[params]` entry, unevaluated, in file order (including those that depend on
    /// a sweep axis and so only get a value per stage instance).
    pub raw_params: Vec<(Spanned<String>, Spanned<RawValue>)>,
    pub axes: Vec<Axis>,
    /// Stages in file order.
    pub stages: Vec<StageSpec>,
    /// `[engines.NAME]` declarations (plugins), in file order.
    pub engines: Vec<EngineDecl>,
    /// `[experiment] metrics`: `stage.column` or `stage.table.column`, shown per run by
    /// `warmstart compare`.
    pub metrics: Vec<Spanned<String>>,
    /// The command-line overrides applied to the file's text (`tau=25`), as given.
    pub overrides: Vec<String>,
}

/// An engine loaded from a file: `[engines.NAME] path = "…"` (relative to the experiment
/// file). Stages select it with `engine = "NAME"`.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineDecl {
    pub name: Spanned<String>,
    pub path: Spanned<String>,
}

/// A project-level `warmstart.toml`: settings shared by every experiment below its
/// directory. Today: `[engines.NAME]` plugin declarations, their paths relative to it.
#[derive(Debug, Clone)]
pub struct Project {
    pub source: Arc<SourceFile>,
    /// `root = true`: this directory is the project's top (the search for a project file
    /// stops at the nearest one anyway; this marks it explicitly).
    pub root: bool,
    pub engines: Vec<EngineDecl>,
    /// The `[executor]` table: which executor `warmstart run` uses and its settings.
    pub executor: Option<crate::cluster::ExecutorSpec>,
}

impl Experiment {
    /// The stage with this name.
    pub fn stage(&self, name: &str) -> Option<(usize, &StageSpec)> {
        self.stages.iter().enumerate().find(|(_, s)| s.name == name)
    }
    /// The axis with this name.
    pub fn axis(&self, name: &str) -> Option<&Axis> {
        self.axes.iter().find(|a| a.name == name)
    }
}

/// A sweep axis: its name and its values, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub name: String,
    pub values: Vec<Value>,
    /// Span of the axis definition (its key).
    pub span: Span,
}

/// A stage param as written: a TOML value in which strings containing `${...}` have been
/// parsed into [`Template`]s.
#[derive(Debug, Clone, PartialEq)]
pub enum RawValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A plain string (`$${` escapes already replaced).
    Str(String),
    /// A string with `${...}`. `base` is the byte offset in the file of the string's first
    /// character when the string is written without escape sequences (so that error
    /// positions inside it are exact); otherwise errors point at the whole value.
    Template {
        text: String,
        template: Template,
        base: Option<usize>,
    },
    List(Vec<Spanned<RawValue>>),
    Table(Vec<(Spanned<String>, Spanned<RawValue>)>),
}

/// One `[stages.NAME]` table.
#[derive(Debug, Clone)]
pub struct StageSpec {
    pub name: String,
    /// Span of the stage's name in its `[stages.NAME]` header (or key).
    pub span: Span,
    pub kind: Spanned<String>,
    pub engine: Option<Spanned<String>>,
    pub inputs: Vec<InputSpec>,
    /// Params (every non-reserved key), unevaluated, in file order.
    pub params: Vec<(Spanned<String>, Spanned<RawValue>)>,
    /// An explicit seed: a non-negative integer, or a `${…}` expression evaluated per
    /// instance like a param (`seed = "${100 + rep}"`), whose axes the stage then uses.
    pub seed: Option<Spanned<RawValue>>,
    pub threads: Option<usize>,
    /// `gpu = true/false` or a device number.
    pub gpu: Option<Value>,
    pub gather: Vec<Spanned<String>>,
    pub sweep: Vec<Spanned<String>>,
    pub description: String,
    /// Where its jobs run on a cluster (`mem`, `time`, `partition`, `local`); not in keys.
    pub cluster: crate::cluster::ClusterHints,
}

/// One entry of a stage's `inputs`.
#[derive(Debug, Clone, PartialEq)]
pub struct InputSpec {
    pub stage: Spanned<String>,
    /// Axis values fixed for this input (`pick = { alpha = 0.5 }`), in file order.
    pub pick: Vec<(String, Spanned<Value>)>,
}

/// The stage instances of an experiment.
#[derive(Debug, Clone)]
pub struct Expanded {
    /// In a topological order: every instance comes after its inputs.
    pub instances: Vec<Instance>,
    /// The axes of each stage (indexed like [`Experiment::stages`]), in `[sweep]` order.
    pub stage_axes: Vec<Vec<String>>,
}

/// One stage at one point of its axes.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Index into [`Experiment::stages`].
    pub stage: usize,
    /// Coordinates, in axis order.
    pub coords: Vec<(String, Value)>,
    /// Params evaluated for these coordinates; the span is that of the param's value.
    pub params: InstanceParams,
    /// Span of each param's key (one map shared by every instance of the stage).
    pub param_keys: Arc<BTreeMap<String, Span>>,
    /// Instance indices: for each [`InputSpec`] in order, its matching instance(s).
    pub inputs: Vec<usize>,
    /// Parallel to `inputs`: the index of the [`InputSpec`] each came from.
    pub input_stage: Vec<usize>,
    /// The stage's explicit seed evaluated for these coordinates (`None`: derived).
    pub seed: Option<u64>,
}

/// An instance's evaluated params, sorted by name, each with the span of its value.
///
/// Compact on purpose: a sweep can have a million instances, and a `BTreeMap` per
/// instance costs a ~800-byte node however few params there are. Here it is one small
/// allocation per instance; the names are shared (`Arc<str>`) by every instance of a
/// stage.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InstanceParams(Vec<(Arc<str>, Spanned<Value>)>);

impl InstanceParams {
    /// From (name, value) pairs with unique names, in any order.
    pub fn from_pairs(mut pairs: Vec<(Arc<str>, Spanned<Value>)>) -> InstanceParams {
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        InstanceParams(pairs)
    }

    /// The param named `name`.
    pub fn get(&self, name: &str) -> Option<&Spanned<Value>> {
        self.0
            .binary_search_by(|(k, _)| (**k).cmp(name))
            .ok()
            .and_then(|i| self.0.get(i))
            .map(|(_, v)| v)
    }

    /// (name, value) in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Spanned<Value>)> {
        self.0.iter().map(|(k, v)| (&**k, v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl IntoIterator for InstanceParams {
    type Item = (Arc<str>, Spanned<Value>);
    type IntoIter = std::vec::IntoIter<(Arc<str>, Spanned<Value>)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// Whether the value `b`, as written in the experiment file (a `pick`, or a second entry
/// of an axis list), selects the axis value `a`: `b` is read as `a`'s numeric type when that
/// is exact, then compared by the one value identity (the cache key's). So `pick = { alpha
/// = 1 }` selects `1.0` of a `linspace` axis, and `[1, 1.0]` is a duplicate; see
/// [`warmstart_engine::identity`].
pub fn same_value(a: &Value, b: &Value) -> bool {
    warmstart_engine::identity::written_matches(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_numbers_select_axis_values_exactly() {
        assert!(same_value(&Value::Float(1.0), &Value::Int(1)));
        assert!(same_value(&Value::Int(1), &Value::Float(1.0)));
        assert!(!same_value(&Value::Int(1), &Value::Float(1.5)));
        // Identity on floats is the key's: NaN is NaN, -0.0 is 0.0.
        assert!(same_value(&Value::Float(f64::NAN), &Value::Float(f64::NAN)));
        assert!(same_value(&Value::Float(-0.0), &Value::Float(0.0)));
        // Only exact conversions: 2^53 + 1 is not the float 2^53.
        let big = (1i64 << 53) + 1;
        assert!(!same_value(&Value::Float(big as f64), &Value::Int(big)));
    }
}
