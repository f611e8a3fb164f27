//! Instances as Arrow tables, for front ends that hand tables on (a notebook, a data frame):
//! the outputs of several instances of a stage as one table whose leading columns are
//! their coordinates ([`stage_table`]), and every instance's status as a table
//! ([`status_table`]).
//!
//! Nothing is copied: an instance's columns are the arrays read from the cache, and a
//! [`StageTable`] is a list of batches sharing one schema (one batch per instance), which a
//! consumer may concatenate or not.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use warmstart_cache::Store;
use warmstart_engine::Value;
use warmstart_plan::status::Freshness;
use warmstart_plan::{Assessment, Plan};

use crate::read::{ReadError, pick_table, read_outputs};

/// One output table of several instances, coordinates first.
#[derive(Debug, Clone)]
pub struct StageTable {
    /// The schema every batch has: one column per coordinate axis, then the table's own.
    pub schema: SchemaRef,
    /// One batch per instance, in the order the instances were asked for.
    pub batches: Vec<RecordBatch>,
}

impl StageTable {
    /// Rows over all batches.
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// An instance without an up-to-date output.
#[derive(Debug, Clone)]
pub struct Missing {
    /// `stage[a=1]`.
    pub label: String,
    /// Why it would run (as `plan` says).
    pub reasons: Vec<String>,
}

/// Why the instances' tables could not be put together.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StageTableError {
    /// Some of the instances have no up-to-date output: they must run first. Nothing was
    /// read.
    #[error(
        "{} of {total} instances have no up-to-date output: {}",
        missing.len(),
        missing.iter().map(|m| m.label.as_str()).collect::<Vec<_>>().join(", ")
    )]
    NotFresh {
        /// The instances that must run, in the order asked.
        missing: Vec<Missing>,
        /// How many instances were asked for.
        total: usize,
    },
    /// An instance's entry could not be read, or has no such table.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// Two instances' tables have different columns.
    #[error("`{first}` and `{other}` have different columns in table `{table}`: {detail}")]
    Schema {
        /// The table.
        table: String,
        /// The instance whose columns the table takes.
        first: String,
        /// The instance that differs.
        other: String,
        /// The first difference.
        detail: String,
    },
}

/// Table `table` (each instance's first table when `None`) of the instances `nodes`
/// (indices into `plan.nodes`, e.g. from [`crate::select::select`]), with each instance's
/// coordinates as constant leading columns (`r0`, …). A coordinate whose name is already a
/// column of the table is not added (the table's own column wins). Every instance must be
/// fresh in `assessment`; otherwise nothing is read and the error lists those that are not.
pub fn stage_table(
    plan: &Plan,
    assessment: &Assessment,
    store: &Store,
    nodes: &[usize],
    table: Option<&str>,
) -> Result<StageTable, StageTableError> {
    let missing: Vec<Missing> = nodes
        .iter()
        .filter_map(|&i| match assessment.freshness.get(i) {
            Some(Freshness::Fresh { .. }) => None,
            other => Some(Missing {
                label: plan.nodes.get(i).map(|n| n.label()).unwrap_or_default(),
                reasons: match other {
                    Some(Freshness::Stale { reasons, .. }) => reasons.clone(),
                    _ => Vec::new(),
                },
            }),
        })
        .collect();
    if !missing.is_empty() {
        return Err(StageTableError::NotFresh {
            missing,
            total: nodes.len(),
        });
    }
    let mut tables = Vec::with_capacity(nodes.len());
    for &i in nodes {
        let label = plan.nodes[i].label();
        let outputs = read_outputs(plan, assessment, store, i)?;
        let batch = pick_table(&label, &outputs, table)?.batch.clone();
        tables.push((i, label, batch));
    }
    let coords: Vec<&[(String, Value)]> = tables
        .iter()
        .map(|(i, _, _)| plan.nodes[*i].coords.as_slice())
        .collect();
    let axes: Vec<Axis> = axes(&coords)
        .into_iter()
        .filter(|a| {
            !tables
                .iter()
                .any(|(_, _, b)| b.schema().column_with_name(&a.name).is_some())
        })
        .collect();
    let schema = joint_schema(&axes, &tables, table.unwrap_or(""))?;
    let batches = tables
        .iter()
        .zip(&coords)
        .map(|((_, label, batch), c)| {
            let mut columns: Vec<ArrayRef> = axes
                .iter()
                .map(|a| a.column(lookup(c, &a.name), batch.num_rows()))
                .collect();
            columns.extend(batch.columns().iter().cloned());
            RecordBatch::try_new(schema.clone(), columns).map_err(|e| StageTableError::Schema {
                table: table.unwrap_or("").to_string(),
                first: tables[0].1.clone(),
                other: label.clone(),
                detail: e.to_string(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(StageTable { schema, batches })
}

/// The schema of the joined table: coordinate fields, then the first table's fields with
/// each nullable if it is in any instance. Every instance must have the same column names
/// and types, in the same order.
fn joint_schema(
    axes: &[Axis],
    tables: &[(usize, String, RecordBatch)],
    table: &str,
) -> Result<SchemaRef, StageTableError> {
    let mut fields: Vec<Field> = axes.iter().map(Axis::field).collect();
    let Some((_, first, head)) = tables.first() else {
        return Ok(Arc::new(Schema::new(fields)));
    };
    let mut own: Vec<Field> = head
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    for (_, label, batch) in &tables[1..] {
        let schema = batch.schema();
        let theirs = schema.fields();
        let differ = |detail: String| StageTableError::Schema {
            table: table.to_string(),
            first: first.clone(),
            other: label.clone(),
            detail,
        };
        if theirs.len() != own.len() {
            return Err(differ(format!("{} columns vs {}", own.len(), theirs.len())));
        }
        for (mine, other) in own.iter_mut().zip(theirs.iter()) {
            if mine.name() != other.name() || mine.data_type() != other.data_type() {
                return Err(differ(format!(
                    "`{}` ({}) vs `{}` ({})",
                    mine.name(),
                    mine.data_type(),
                    other.name(),
                    other.data_type()
                )));
            }
            if other.is_nullable() && !mine.is_nullable() {
                *mine = mine.clone().with_nullable(true);
            }
        }
    }
    fields.extend(own);
    Ok(Arc::new(Schema::new(fields)))
}

/// Every instance of `plan` as `assessment` found it, one row each in plan order:
/// `stage`, `label`, one column per coordinate axis (null where an instance does not have
/// it), `status` (`fresh` or `stale`), `key` (hex; null while an input must be recomputed
/// first) and `reasons` (why it would run, `; `-separated; empty when fresh).
pub fn status_table(plan: &Plan, assessment: &Assessment) -> RecordBatch {
    let rows = crate::status::plan_rows(plan, assessment);
    let coords: Vec<&[(String, Value)]> = plan.nodes.iter().map(|n| n.coords.as_slice()).collect();
    let axes = axes(&coords);
    let text = |f: &dyn Fn(&crate::status::PlanRow) -> Option<String>| -> ArrayRef {
        Arc::new(rows.iter().map(f).collect::<StringArray>())
    };
    let mut fields = vec![
        Field::new("stage", DataType::Utf8, false),
        Field::new("label", DataType::Utf8, false),
    ];
    let mut columns = vec![
        text(&|r| Some(r.stage.clone())),
        text(&|r| Some(r.label.clone())),
    ];
    for a in &axes {
        fields.push(a.field());
        columns.push(a.column_of(coords.iter().map(|c| lookup(c, &a.name))));
    }
    fields.push(Field::new("status", DataType::Utf8, false));
    columns.push(text(&|r| {
        Some(if r.fresh { "fresh" } else { "stale" }.into())
    }));
    fields.push(Field::new("key", DataType::Utf8, true));
    columns.push(text(&|r| r.key.map(|k| k.to_string())));
    fields.push(Field::new("reasons", DataType::Utf8, false));
    columns.push(text(&|r| Some(r.reasons.join("; "))));
    // The columns are built to the fields above, so this cannot fail.
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .expect("status columns match their fields")
}

/// The coordinate axes of `stage`'s instances in `plan`, each typed over all of them, so
/// that every instance gets the same leading columns ([`with_coords`]) and the exported
/// files of a sweep concatenate.
pub(crate) fn stage_axes(plan: &Plan, stage: &str) -> Vec<Axis> {
    let coords: Vec<&[(String, Value)]> = plan
        .nodes
        .iter()
        .filter(|n| n.stage == stage)
        .map(|n| n.coords.as_slice())
        .collect();
    axes(&coords)
}

/// `batch` with an instance's `coords` as constant leading columns, one per axis of
/// `axes` (typed as [`stage_axes`] found them; null where the instance lacks the axis). An
/// axis the table already has a column of is left out: the table's own column wins, as in
/// [`stage_table`].
pub(crate) fn with_coords(
    axes: &[Axis],
    coords: &[(String, Value)],
    batch: &RecordBatch,
) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let own = batch.schema();
    let added: Vec<&Axis> = axes
        .iter()
        .filter(|a| own.column_with_name(&a.name).is_none())
        .collect();
    if added.is_empty() {
        return Ok(batch.clone());
    }
    let mut fields: Vec<Field> = added.iter().map(|a| a.field()).collect();
    fields.extend(own.fields().iter().map(|f| f.as_ref().clone()));
    let mut columns: Vec<ArrayRef> = added
        .iter()
        .map(|a| a.column(lookup(coords, &a.name), batch.num_rows()))
        .collect();
    columns.extend(batch.columns().iter().cloned());
    let schema = Schema::new_with_metadata(fields, own.metadata().clone());
    RecordBatch::try_new(Arc::new(schema), columns)
}

/// A coordinate axis and the Arrow type its values share.
pub(crate) struct Axis {
    name: String,
    kind: AxisType,
}

#[derive(Clone, Copy, PartialEq)]
enum AxisType {
    Int,
    Float,
    Bool,
    Str,
    /// Mixed or nested values: shown as text (`alpha=0.5` style).
    Text,
}

/// The axes of `coords` in order of first appearance, each with the narrowest type that
/// holds all its values (integers and floats together are floats).
fn axes(coords: &[&[(String, Value)]]) -> Vec<Axis> {
    let mut out: Vec<Axis> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for c in coords {
        for (name, value) in c.iter() {
            let kind = match value {
                Value::Int(_) => AxisType::Int,
                Value::Float(_) => AxisType::Float,
                Value::Bool(_) => AxisType::Bool,
                Value::Str(_) => AxisType::Str,
                _ => AxisType::Text,
            };
            match index.get(name.as_str()) {
                None => {
                    index.insert(name, out.len());
                    out.push(Axis {
                        name: name.clone(),
                        kind,
                    });
                }
                Some(&k) => out[k].kind = widen(out[k].kind, kind),
            }
        }
    }
    out
}

fn widen(a: AxisType, b: AxisType) -> AxisType {
    use AxisType::*;
    match (a, b) {
        _ if a == b => a,
        (Int, Float) | (Float, Int) => Float,
        _ => Text,
    }
}

fn lookup<'c>(coords: &'c [(String, Value)], axis: &str) -> Option<&'c Value> {
    coords.iter().find(|(a, _)| a == axis).map(|(_, v)| v)
}

impl Axis {
    fn field(&self) -> Field {
        let t = match self.kind {
            AxisType::Int => DataType::Int64,
            AxisType::Float => DataType::Float64,
            AxisType::Bool => DataType::Boolean,
            AxisType::Str | AxisType::Text => DataType::Utf8,
        };
        Field::new(&self.name, t, true)
    }

    /// `value` repeated `rows` times.
    fn column(&self, value: Option<&Value>, rows: usize) -> ArrayRef {
        self.column_of(std::iter::repeat_n(value, rows))
    }

    /// One row per item (null for `None`), in this axis's type.
    fn column_of<'v>(&self, values: impl Iterator<Item = Option<&'v Value>>) -> ArrayRef {
        match self.kind {
            AxisType::Int => Arc::new(
                values
                    .map(|v| match v {
                        Some(Value::Int(i)) => Some(*i),
                        _ => None,
                    })
                    .collect::<Int64Array>(),
            ),
            AxisType::Float => Arc::new(
                values
                    .map(|v| v.and_then(Value::as_f64))
                    .collect::<Float64Array>(),
            ),
            AxisType::Bool => Arc::new(
                values
                    .map(|v| match v {
                        Some(Value::Bool(b)) => Some(*b),
                        _ => None,
                    })
                    .collect::<BooleanArray>(),
            ),
            AxisType::Str | AxisType::Text => Arc::new(
                values
                    .map(|v| {
                        v.map(|v| match v {
                            Value::Str(s) => s.clone(),
                            other => other.to_string(),
                        })
                    })
                    .collect::<StringArray>(),
            ),
        }
    }
}
