//! Named Arrow tables, the `files` convention for binary artifacts (figures), and the
//! typed column readers every engine uses ([`f64_column`], [`string_column`]).
//!
//! A stage's outputs are named [`RecordBatch`]es. Binary artifacts — an SVG or PNG figure —
//! are ordinary tables too, named [`FILES_TABLE`], with columns `path` (Utf8, a relative file
//! name) and `data` (Binary). They are cached, digested and invalidated exactly like any
//! other table, and `warmstart export` writes them out as files.

use std::sync::Arc;

use arrow_array::{
    Array, BinaryArray, BooleanArray, Float32Array, Float64Array, Int32Array, Int64Array,
    LargeStringArray, RecordBatch, StringArray, StringViewArray,
};
use arrow_schema::{ArrowError, DataType, Field, Schema};

use crate::EngineError;

/// The name of the table that holds a stage's binary artifacts.
pub const FILES_TABLE: &str = "files";

/// One output table of a stage.
#[derive(Debug, Clone)]
pub struct NamedTable {
    /// Lowercase identifier (`[a-z0-9_-]+`); becomes part of file names on export.
    pub name: String,
    pub batch: RecordBatch,
}

impl NamedTable {
    pub fn new(name: impl Into<String>, batch: RecordBatch) -> Self {
        NamedTable {
            name: name.into(),
            batch,
        }
    }
}

/// Build a `files` table from (relative path, bytes) pairs.
pub fn files_table(files: &[(String, Vec<u8>)]) -> Result<RecordBatch, ArrowError> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("path", DataType::Utf8, false),
        Field::new("data", DataType::Binary, false),
    ]));
    let paths = StringArray::from_iter_values(files.iter().map(|(p, _)| p.as_str()));
    let data = BinaryArray::from_iter_values(files.iter().map(|(_, d)| d.as_slice()));
    RecordBatch::try_new(schema, vec![Arc::new(paths), Arc::new(data)])
}

/// Read (relative path, bytes) pairs back from a `files` table.
pub fn read_files_table(batch: &RecordBatch) -> Result<Vec<(String, Vec<u8>)>, ArrowError> {
    let bad =
        || ArrowError::SchemaError("a files table needs columns path: Utf8, data: Binary".into());
    let paths = batch
        .column_by_name("path")
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .ok_or_else(bad)?;
    let data = batch
        .column_by_name("data")
        .and_then(|c| c.as_any().downcast_ref::<BinaryArray>())
        .ok_or_else(bad)?;
    Ok((0..batch.num_rows())
        .filter(|&i| paths.is_valid(i) && data.is_valid(i))
        .map(|i| (paths.value(i).to_string(), data.value(i).to_vec()))
        .collect())
}

/// The column `name` of `batch`, or an input error naming the column and the columns
/// there are.
fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a dyn Array, EngineError> {
    batch
        .column_by_name(name)
        .map(|c| c.as_ref())
        .ok_or_else(|| {
            let schema = batch.schema();
            let have: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            let close = have
                .iter()
                .map(|h| (strsim::damerau_levenshtein(name, h), *h))
                .filter(|(d, h)| *d <= 2.max(h.len() / 3))
                .min();
            let hint = close.map_or(String::new(), |(_, h)| format!("did you mean `{h}`? "));
            EngineError::Input(format!(
                "missing column `{name}` ({hint}the table has: {})",
                have.join(", ")
            ))
        })
}

/// A numeric column as f64: Float64, Float32, Int64 or Int32 (integers beyond 2^53 round to
/// the nearest f64), or Boolean (true = 1.0, false = 0.0, so the mean of a `correct` column
/// is an accuracy); nulls become NaN. Any other type is an input error naming the column
/// and its type.
pub fn f64_column(batch: &RecordBatch, name: &str) -> Result<Vec<f64>, EngineError> {
    let col = column(batch, name)?;
    let any = col.as_any();
    let read = |value: &dyn Fn(usize) -> f64| -> Vec<f64> {
        (0..col.len())
            .map(|i| if col.is_valid(i) { value(i) } else { f64::NAN })
            .collect()
    };
    if let Some(a) = any.downcast_ref::<Float64Array>() {
        return Ok(read(&|i| a.value(i)));
    }
    if let Some(a) = any.downcast_ref::<Float32Array>() {
        return Ok(read(&|i| f64::from(a.value(i))));
    }
    if let Some(a) = any.downcast_ref::<Int64Array>() {
        return Ok(read(&|i| a.value(i) as f64));
    }
    if let Some(a) = any.downcast_ref::<Int32Array>() {
        return Ok(read(&|i| f64::from(a.value(i))));
    }
    if let Some(a) = any.downcast_ref::<BooleanArray>() {
        return Ok(read(&|i| if a.value(i) { 1.0 } else { 0.0 }));
    }
    Err(EngineError::Input(format!(
        "column `{name}` must be numeric or boolean (Float64, Float32, Int64, Int32 or \
         Boolean), found {}",
        col.data_type()
    )))
}

/// A string column as owned strings: Utf8, LargeUtf8 or Utf8View; nulls become empty
/// strings. Any other type is an input error naming the column and its type.
pub fn string_column(batch: &RecordBatch, name: &str) -> Result<Vec<String>, EngineError> {
    let col = column(batch, name)?;
    let any = col.as_any();
    let read = |value: &dyn Fn(usize) -> String| -> Vec<String> {
        (0..col.len())
            .map(|i| {
                if col.is_valid(i) {
                    value(i)
                } else {
                    String::new()
                }
            })
            .collect()
    };
    if let Some(a) = any.downcast_ref::<StringArray>() {
        return Ok(read(&|i| a.value(i).to_string()));
    }
    if let Some(a) = any.downcast_ref::<LargeStringArray>() {
        return Ok(read(&|i| a.value(i).to_string()));
    }
    if let Some(a) = any.downcast_ref::<StringViewArray>() {
        return Ok(read(&|i| a.value(i).to_string()));
    }
    Err(EngineError::Input(format!(
        "column `{name}` must be a string column (Utf8, LargeUtf8 or Utf8View), found {}",
        col.data_type()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, BinaryArray};

    fn one(name: &str, array: ArrayRef) -> RecordBatch {
        RecordBatch::try_from_iter(vec![(name, array)]).unwrap()
    }

    #[test]
    fn every_numeric_type_reads_as_f64_with_nulls_as_nan() {
        let cols: Vec<ArrayRef> = vec![
            Arc::new(Float64Array::from(vec![Some(1.5), None])),
            Arc::new(Float32Array::from(vec![Some(1.5), None])),
            Arc::new(Int64Array::from(vec![Some(2), None])),
            Arc::new(Int32Array::from(vec![Some(2), None])),
        ];
        for c in cols {
            let ty = c.data_type().clone();
            let v = f64_column(&one("x", c), "x").unwrap();
            assert_eq!(v.len(), 2, "{ty}");
            assert!(v[0] == 1.5 || v[0] == 2.0, "{ty}: {v:?}");
            assert!(v[1].is_nan(), "{ty}: {v:?}");
        }
    }

    #[test]
    fn booleans_read_as_one_and_zero_with_nulls_as_nan() {
        let b = one(
            "correct",
            Arc::new(BooleanArray::from(vec![
                Some(true),
                Some(false),
                None,
                Some(true),
            ])),
        );
        let v = f64_column(&b, "correct").unwrap();
        assert_eq!(v[..2], [1.0, 0.0]);
        assert!(v[2].is_nan());
        assert_eq!(v[3], 1.0);
    }

    #[test]
    fn every_string_type_reads_with_nulls_as_empty() {
        let cols: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec![Some("é"), None])),
            Arc::new(LargeStringArray::from(vec![Some("é"), None])),
            Arc::new(StringViewArray::from(vec![Some("é"), None])),
        ];
        for c in cols {
            let ty = c.data_type().clone();
            assert_eq!(string_column(&one("s", c), "s").unwrap(), ["é", ""], "{ty}");
        }
    }

    #[test]
    fn wrong_type_or_missing_column_is_an_input_error_naming_it() {
        let b = one("flag", Arc::new(BinaryArray::from_iter_values([b"x"])));
        let e = f64_column(&b, "flag").unwrap_err().to_string();
        assert_eq!(
            e,
            "input: column `flag` must be numeric or boolean (Float64, Float32, Int64, Int32 or \
             Boolean), found Binary"
        );
        let e = string_column(&b, "flag").unwrap_err().to_string();
        assert_eq!(
            e,
            "input: column `flag` must be a string column (Utf8, LargeUtf8 or Utf8View), found Binary"
        );
        let e = f64_column(&b, "x").unwrap_err().to_string();
        assert_eq!(e, "input: missing column `x` (the table has: flag)");
        let e = string_column(&b, "x").unwrap_err().to_string();
        assert_eq!(e, "input: missing column `x` (the table has: flag)");
    }

    #[test]
    fn files_table_roundtrip() {
        let files = vec![("fig.svg".to_string(), b"<svg/>".to_vec())];
        let b = files_table(&files).unwrap();
        assert_eq!(read_files_table(&b).unwrap(), files);
    }
}
