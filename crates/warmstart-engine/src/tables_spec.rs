//! Declared table schemas: what a kind reads from its inputs and what it writes.
//!
//! A [`KindSpec`](crate::KindSpec) may declare its output tables ([`TableSpec`]: name,
//! columns with types, and which further columns depend on the instance, [`Extra`]) and the
//! input tables it reads ([`InputSpec`]). The declarations are plain data (JSON for
//! plugins; both lists are optional and default to empty) and serve three readers:
//!
//! - `warmstart kinds` and `docs/kinds.md`, the reference a user reads;
//! - the planner, which checks params that name a column ([`ColumnRef`], e.g. `plot`'s `y`)
//!   against the columns the upstream instance will write — a typo fails at plan time, at
//!   the param's file:line:col, before anything runs;
//! - the scheduler, which checks every output an engine returns against its declaration
//!   ([`check_output`]), so a declaration cannot silently drift from the code.
//!
//! Column types are written as [`type_name`] prints Arrow's: `float64`, `int64`, `utf8`,
//! `bool`, `binary`, `list<float32>`, `fixed_size_list<float64>`, … A declared type `any`
//! accepts every type (a column whose type follows an input's).

use arrow_array::RecordBatch;
use arrow_schema::DataType;

/// One column of a declared table.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ColumnSpec {
    pub name: String,
    /// As [`type_name`] prints it, or `any`.
    #[serde(rename = "type")]
    pub ty: String,
    #[serde(default)]
    pub doc: String,
}

impl ColumnSpec {
    pub fn new(name: &str, ty: &str, doc: &str) -> Self {
        ColumnSpec {
            name: name.into(),
            ty: ty.into(),
            doc: doc.into(),
        }
    }
}

/// Columns of a table that depend on the instance rather than on the kind alone.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "extra")]
pub enum Extra {
    /// One column per sweep axis of the instance's inputs (a gathering stage's
    /// coordinates), typed int64 for integer axes, float64 for other numbers, bool, or utf8.
    Coordinates,
    /// The columns of the input table named by param `table_param` (a table that carries
    /// its inputs' rows).
    InputColumns { table_param: String },
    /// Columns the planner cannot know; `doc` says what they are.
    Open { doc: String },
}

/// One output table of a kind. Column order is not part of the declaration (readers look
/// columns up by name).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TableSpec {
    pub name: String,
    #[serde(default)]
    pub doc: String,
    /// Always present.
    #[serde(default)]
    pub columns: Vec<ColumnSpec>,
    /// Further columns; empty = exactly `columns`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra: Vec<Extra>,
    /// When the table is written, if not always (e.g. "when `axis` is set").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
}

impl TableSpec {
    pub fn new(name: &str, doc: &str) -> Self {
        TableSpec {
            name: name.into(),
            doc: doc.into(),
            columns: Vec::new(),
            extra: Vec::new(),
            when: None,
        }
    }
    /// Add a column.
    pub fn col(mut self, name: &str, ty: &str, doc: &str) -> Self {
        self.columns.push(ColumnSpec::new(name, ty, doc));
        self
    }
    pub fn extra(mut self, e: Extra) -> Self {
        self.extra.push(e);
        self
    }
    /// Columns the planner cannot know (see [`Extra::Open`]).
    pub fn open(self, doc: &str) -> Self {
        self.extra(Extra::Open { doc: doc.into() })
    }
    pub fn when(mut self, condition: &str) -> Self {
        self.when = Some(condition.into());
        self
    }
    /// Whether every column is known from the kind alone.
    pub fn is_closed(&self) -> bool {
        self.extra.is_empty()
    }
}

/// An input table a kind reads.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InputSpec {
    /// The table's name, or a description such as "the table named by `table`".
    pub table: String,
    /// Kinds that write it (documentation; any stage with such a table works).
    #[serde(default)]
    pub from: Vec<String>,
    /// Columns it must have.
    #[serde(default)]
    pub columns: Vec<ColumnSpec>,
    #[serde(default)]
    pub doc: String,
}

impl InputSpec {
    pub fn new(table: &str, from: &[&str], doc: &str) -> Self {
        InputSpec {
            table: table.into(),
            from: from.iter().map(|s| s.to_string()).collect(),
            columns: Vec::new(),
            doc: doc.into(),
        }
    }
    /// Add a column it must have.
    pub fn col(mut self, name: &str, ty: &str, doc: &str) -> Self {
        self.columns.push(ColumnSpec::new(name, ty, doc));
        self
    }
}

/// A string param that names columns of an input table (checked at plan time).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ColumnRef {
    /// The param whose value names the input table (`plot`'s `table`; "" = the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_param: Option<String>,
    /// Or a fixed table name (`pgr` reads `metrics`); neither = the first table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// Only inputs of the stage named by this param (`correlate`'s `x_stage`); `None` =
    /// every input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage_param: Option<String>,
    /// The value is a comma-separated list of names.
    #[serde(default)]
    pub list: bool,
    /// A name may also be a sweep coordinate of the input or `stage` (`plot`'s `series`).
    #[serde(default)]
    pub or_coordinate: bool,
    /// A value that parses as a number is not a name (`plot`'s `baseline`).
    #[serde(default)]
    pub or_number: bool,
}

impl ColumnRef {
    /// Names one column of the input table named by param `table_param`.
    pub fn of(table_param: &str) -> Self {
        ColumnRef {
            table_param: Some(table_param.into()),
            table: None,
            stage_param: None,
            list: false,
            or_coordinate: false,
            or_number: false,
        }
    }
    /// Names one column of the input table `table`.
    pub fn of_table(table: &str) -> Self {
        ColumnRef {
            table_param: None,
            table: Some(table.into()),
            ..Self::of("")
        }
    }
    /// Only of the inputs of the stage named by param `stage_param`.
    pub fn from_stage(mut self, stage_param: &str) -> Self {
        self.stage_param = Some(stage_param.into());
        self
    }
    pub fn list(mut self) -> Self {
        self.list = true;
        self
    }
    pub fn or_coordinate(mut self) -> Self {
        self.or_coordinate = true;
        self
    }
    pub fn or_number(mut self) -> Self {
        self.or_number = true;
        self
    }
    /// The column names a param value refers to ("" and numbers where allowed: none).
    pub fn names<'a>(&self, value: &'a str) -> Vec<&'a str> {
        let parts: Vec<&str> = if self.list {
            value.split(',').map(str::trim).collect()
        } else {
            vec![value.trim()]
        };
        parts
            .into_iter()
            .filter(|p| !p.is_empty())
            .filter(|p| !(self.or_number && p.parse::<f64>().is_ok()))
            .collect()
    }
}

/// Arrow's type as declarations write it: `float64`, `utf8`, `list<float32>`, …
pub fn type_name(t: &DataType) -> String {
    match t {
        DataType::Boolean => "bool".into(),
        DataType::Int8 => "int8".into(),
        DataType::Int16 => "int16".into(),
        DataType::Int32 => "int32".into(),
        DataType::Int64 => "int64".into(),
        DataType::UInt8 => "uint8".into(),
        DataType::UInt16 => "uint16".into(),
        DataType::UInt32 => "uint32".into(),
        DataType::UInt64 => "uint64".into(),
        DataType::Float16 => "float16".into(),
        DataType::Float32 => "float32".into(),
        DataType::Float64 => "float64".into(),
        DataType::Utf8 => "utf8".into(),
        DataType::LargeUtf8 => "large_utf8".into(),
        DataType::Utf8View => "utf8_view".into(),
        DataType::Binary => "binary".into(),
        DataType::LargeBinary => "large_binary".into(),
        DataType::List(f) => format!("list<{}>", type_name(f.data_type())),
        DataType::LargeList(f) => format!("large_list<{}>", type_name(f.data_type())),
        DataType::FixedSizeList(f, _) => format!("fixed_size_list<{}>", type_name(f.data_type())),
        other => format!("{other}").to_lowercase(),
    }
}

/// Check one output table against its declaration: every declared column present with its
/// type, and — for a closed table — no other column. Returns what is wrong.
pub fn check_output(spec: &TableSpec, batch: &RecordBatch) -> Result<(), String> {
    let schema = batch.schema();
    let mut problems = Vec::new();
    for c in &spec.columns {
        match schema.field_with_name(&c.name) {
            Err(_) => problems.push(format!("column `{}` ({}) is missing", c.name, c.ty)),
            Ok(f) => {
                let actual = type_name(f.data_type());
                if c.ty != "any" && actual != c.ty {
                    problems.push(format!(
                        "column `{}` is {actual}, declared {}",
                        c.name, c.ty
                    ));
                }
            }
        }
    }
    if spec.is_closed() {
        for f in schema.fields() {
            if !spec.columns.iter().any(|c| &c.name == f.name()) {
                problems.push(format!("column `{}` is not declared", f.name()));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "table `{}` does not match its declaration: {}",
            spec.name,
            problems.join("; ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Float64Array, StringArray};
    use arrow_schema::{Field, Schema};
    use std::sync::Arc;

    fn batch() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("stage", DataType::Utf8, false),
            Field::new("dist2", DataType::Float64, false),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec!["a"])),
                Arc::new(Float64Array::from(vec![1.0])),
            ],
        )
        .unwrap()
    }

    #[test]
    fn a_closed_table_must_match_exactly() {
        let ok = TableSpec::new("t", "")
            .col("stage", "utf8", "")
            .col("dist2", "float64", "");
        assert_eq!(check_output(&ok, &batch()), Ok(()));
        let wrong = TableSpec::new("t", "").col("stage", "int64", "");
        let err = check_output(&wrong, &batch()).unwrap_err();
        assert!(err.contains("`stage` is utf8, declared int64"), "{err}");
        assert!(err.contains("`dist2` is not declared"), "{err}");
        let open = TableSpec::new("t", "").col("stage", "utf8", "").open("x");
        assert_eq!(check_output(&open, &batch()), Ok(()));
        let missing = TableSpec::new("t", "").col("risk", "any", "").open("x");
        let err = check_output(&missing, &batch()).unwrap_err();
        assert!(err.contains("`risk` (any) is missing"), "{err}");
    }

    #[test]
    fn column_refs_name_columns_not_numbers() {
        let r = ColumnRef::of("table").list();
        assert_eq!(r.names("a, b,"), vec!["a", "b"]);
        let r = ColumnRef::of("table").or_number();
        assert!(r.names("2.5").is_empty());
        assert_eq!(r.names("loss"), vec!["loss"]);
        assert!(ColumnRef::of("table").names("").is_empty());
    }

    #[test]
    fn type_names_are_lowercase_and_nested() {
        let item = Arc::new(Field::new("item", DataType::Float32, true));
        assert_eq!(type_name(&DataType::List(item.clone())), "list<float32>");
        assert_eq!(
            type_name(&DataType::FixedSizeList(item, 4)),
            "fixed_size_list<float32>"
        );
    }

    #[test]
    fn specs_round_trip_as_json() {
        let t = TableSpec::new("rows", "all rows")
            .col("stage", "utf8", "")
            .extra(Extra::Coordinates)
            .extra(Extra::InputColumns {
                table_param: "table".into(),
            })
            .when("always");
        let json = serde_json::to_string(&t).unwrap();
        let back: TableSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(back, t);
    }
}
