//! Named Arrow tables, and the `files` convention for binary artifacts (figures).
//!
//! A stage's outputs are named [`RecordBatch`]es. Binary artifacts — an SVG or PNG figure —
//! are ordinary tables too, named [`FILES_TABLE`], with columns `path` (Utf8, a relative file
//! name) and `data` (Binary). They are cached, digested and invalidated exactly like any
//! other table, and `warmstart export` writes them out as files.

use std::sync::Arc;

use arrow_array::{Array, BinaryArray, RecordBatch, StringArray};
use arrow_schema::{ArrowError, DataType, Field, Schema};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_table_roundtrip() {
        let files = vec![("fig.svg".to_string(), b"<svg/>".to_vec())];
        let b = files_table(&files).unwrap();
        assert_eq!(read_files_table(&b).unwrap(), files);
    }
}
