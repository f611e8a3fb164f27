//! Table files exchanged with the process: Parquet, CSV and JSON Lines.
//!
//! Parquet goes through the `parquet` crate and keeps any Arrow type. CSV and JSONL are
//! handwritten and minimal: flat scalar columns only (Int64, Float64, Utf8, Boolean — other
//! integer and float widths are widened on write). On read, a column's type is inferred:
//! all integers → Int64, all numbers → Float64, all `true`/`false` → Boolean, else Utf8;
//! an empty CSV field or a JSON `null`/missing key is a null.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema};

use crate::ProcessError;

/// A table file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Parquet,
    Csv,
    Jsonl,
}

impl Format {
    /// Parse a format name (`parquet`, `csv`, `jsonl`).
    pub fn from_name(s: &str) -> Option<Format> {
        match s {
            "parquet" => Some(Format::Parquet),
            "csv" => Some(Format::Csv),
            "jsonl" => Some(Format::Jsonl),
            _ => None,
        }
    }

    /// The format of a file name, by extension.
    pub fn from_file_name(name: &str) -> Option<Format> {
        let (_, ext) = name.rsplit_once('.')?;
        Self::from_name(ext)
    }

    /// The file extension.
    pub fn ext(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
        }
    }
}

/// Write `batch` to `path` in `format`.
pub fn write_table(path: &Path, format: Format, batch: &RecordBatch) -> Result<(), ProcessError> {
    let io = |e: std::io::Error| ProcessError::io(path, e);
    match format {
        Format::Parquet => {
            let f = File::create(path).map_err(io)?;
            let mut w = parquet::arrow::ArrowWriter::try_new(f, batch.schema(), None)
                .map_err(|e| ProcessError::table(path, e))?;
            w.write(batch).map_err(|e| ProcessError::table(path, e))?;
            w.close().map_err(|e| ProcessError::table(path, e))?;
            Ok(())
        }
        Format::Csv => std::fs::write(
            path,
            to_csv(batch).map_err(|e| ProcessError::table(path, e))?,
        )
        .map_err(io),
        Format::Jsonl => std::fs::write(
            path,
            to_jsonl(batch).map_err(|e| ProcessError::table(path, e))?,
        )
        .map_err(io),
    }
}

/// Read a table from `path` in `format`.
pub fn read_table(path: &Path, format: Format) -> Result<RecordBatch, ProcessError> {
    match format {
        Format::Parquet => {
            let f = File::open(path).map_err(|e| ProcessError::io(path, e))?;
            let b = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
                .map_err(|e| ProcessError::table(path, e))?;
            let rows = b.metadata().file_metadata().num_rows().max(1) as usize;
            let schema = b.schema().clone();
            let mut reader = b
                .with_batch_size(rows)
                .build()
                .map_err(|e| ProcessError::table(path, e))?;
            match reader.next() {
                Some(batch) => batch.map_err(|e| ProcessError::table(path, e)),
                None => Ok(RecordBatch::new_empty(schema)),
            }
        }
        Format::Csv | Format::Jsonl => {
            let text = std::fs::read_to_string(path).map_err(|e| ProcessError::io(path, e))?;
            let parsed = if format == Format::Csv {
                from_csv(&text)
            } else {
                from_jsonl(&text)
            };
            parsed.map_err(|e| ProcessError::table(path, e))
        }
    }
}

/// One scalar cell, as read from or written to CSV/JSONL.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null,
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
}

/// The cells of column `col`, or an error for unsupported types.
fn cells(batch: &RecordBatch, col: usize) -> Result<Vec<Cell>, String> {
    let a = batch.column(col);
    let name = batch.schema().field(col).name().clone();
    let n = a.len();
    macro_rules! prim {
        ($t:ty, $conv:expr) => {{
            let p = a.as_primitive::<$t>();
            (0..n)
                .map(|i| {
                    if p.is_null(i) {
                        Cell::Null
                    } else {
                        $conv(p.value(i))
                    }
                })
                .collect()
        }};
    }
    Ok(match a.data_type() {
        DataType::Int8 => prim!(Int8Type, |v| Cell::Int(v as i64)),
        DataType::Int16 => prim!(Int16Type, |v| Cell::Int(v as i64)),
        DataType::Int32 => prim!(Int32Type, |v| Cell::Int(v as i64)),
        DataType::Int64 => prim!(Int64Type, Cell::Int),
        DataType::UInt8 => prim!(UInt8Type, |v| Cell::Int(v as i64)),
        DataType::UInt16 => prim!(UInt16Type, |v| Cell::Int(v as i64)),
        DataType::UInt32 => prim!(UInt32Type, |v| Cell::Int(v as i64)),
        DataType::UInt64 => prim!(UInt64Type, |v: u64| i64::try_from(v)
            .map(Cell::Int)
            .unwrap_or(Cell::Float(v as f64))),
        DataType::Float32 => prim!(Float32Type, |v| Cell::Float(v as f64)),
        DataType::Float64 => prim!(Float64Type, Cell::Float),
        DataType::Boolean => {
            let b = a.as_boolean();
            (0..n)
                .map(|i| {
                    if b.is_null(i) {
                        Cell::Null
                    } else {
                        Cell::Bool(b.value(i))
                    }
                })
                .collect()
        }
        DataType::Utf8 => {
            let s = a.as_string::<i32>();
            (0..n)
                .map(|i| {
                    if s.is_null(i) {
                        Cell::Null
                    } else {
                        Cell::Str(s.value(i).into())
                    }
                })
                .collect()
        }
        DataType::LargeUtf8 => {
            let s = a.as_string::<i64>();
            (0..n)
                .map(|i| {
                    if s.is_null(i) {
                        Cell::Null
                    } else {
                        Cell::Str(s.value(i).into())
                    }
                })
                .collect()
        }
        other => {
            return Err(format!(
                "column `{name}` has type {other}; CSV and JSONL carry only flat scalar columns \
                 (integers, floats, strings, booleans). Use input_format = \"parquet\""
            ));
        }
    })
}

fn columns(batch: &RecordBatch) -> Result<Vec<Vec<Cell>>, String> {
    (0..batch.num_columns()).map(|c| cells(batch, c)).collect()
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) || s.is_empty() {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn fmt_float(x: f64) -> String {
    if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.1}")
    } else {
        format!("{x}")
    }
}

/// Render a batch as CSV (header row, RFC 4180 quoting; null = empty field, and the empty
/// string is written quoted so that it stays distinct).
pub fn to_csv(batch: &RecordBatch) -> Result<String, String> {
    let cols = columns(batch)?;
    let schema = batch.schema();
    let mut out = schema
        .fields()
        .iter()
        .map(|f| csv_field(f.name()))
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    for r in 0..batch.num_rows() {
        let row: Vec<String> = cols
            .iter()
            .map(|c| match &c[r] {
                Cell::Null => String::new(),
                Cell::Int(i) => i.to_string(),
                Cell::Float(x) => fmt_float(*x),
                Cell::Bool(b) => b.to_string(),
                Cell::Str(s) => csv_field(s),
            })
            .collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    Ok(out)
}

/// Render a batch as JSON Lines (one object per row; non-finite floats become null).
pub fn to_jsonl(batch: &RecordBatch) -> Result<String, String> {
    let cols = columns(batch)?;
    let schema = batch.schema();
    let mut out = String::new();
    for r in 0..batch.num_rows() {
        // Written by hand to keep the column order (serde_json maps sort their keys).
        out.push('{');
        for (i, (f, c)) in schema.fields().iter().zip(&cols).enumerate() {
            let v = match &c[r] {
                Cell::Null => serde_json::Value::Null,
                Cell::Int(i) => (*i).into(),
                Cell::Float(x) => serde_json::Number::from_f64(*x)
                    .map(serde_json::Value::Number)
                    .unwrap_or(serde_json::Value::Null),
                Cell::Bool(b) => (*b).into(),
                Cell::Str(s) => s.clone().into(),
            };
            if i > 0 {
                out.push(',');
            }
            out.push_str(&serde_json::Value::String(f.name().clone()).to_string());
            out.push(':');
            out.push_str(&v.to_string());
        }
        out.push_str("}\n");
    }
    Ok(out)
}

/// A JSON object with its keys in file order.
struct OrderedObject(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for OrderedObject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = OrderedObject;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<OrderedObject, A::Error> {
                let mut v = Vec::new();
                while let Some(kv) = m.next_entry::<String, serde_json::Value>()? {
                    v.push(kv);
                }
                Ok(OrderedObject(v))
            }
        }
        d.deserialize_map(V)
    }
}

/// Split CSV text into records of (field, was_quoted).
fn csv_records(text: &str) -> Result<Vec<Vec<(String, bool)>>, String> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut in_quotes = false;
    let mut chars = text.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        any = true;
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                '"' => in_quotes = false,
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() && !quoted => {
                in_quotes = true;
                quoted = true;
            }
            ',' => record.push((
                std::mem::take(&mut field),
                std::mem::replace(&mut quoted, false),
            )),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                record.push((
                    std::mem::take(&mut field),
                    std::mem::replace(&mut quoted, false),
                ));
                records.push(std::mem::take(&mut record));
                any = false;
            }
            c => field.push(c),
        }
    }
    if in_quotes {
        return Err("unterminated quoted field".into());
    }
    if any {
        record.push((field, quoted));
        records.push(record);
    }
    Ok(records)
}

fn infer_and_build(names: Vec<String>, cols: Vec<Vec<Cell>>) -> Result<RecordBatch, String> {
    let mut fields = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for (name, col) in names.into_iter().zip(cols) {
        let present = || col.iter().filter(|c| **c != Cell::Null);
        let (dt, array): (DataType, ArrayRef) = if present().all(|c| matches!(c, Cell::Int(_))) {
            let v = col.iter().map(|c| match c {
                Cell::Int(i) => Some(*i),
                _ => None,
            });
            (DataType::Int64, Arc::new(Int64Array::from_iter(v)))
        } else if present().all(|c| matches!(c, Cell::Int(_) | Cell::Float(_))) {
            let v = col.iter().map(|c| match c {
                Cell::Int(i) => Some(*i as f64),
                Cell::Float(x) => Some(*x),
                _ => None,
            });
            (DataType::Float64, Arc::new(Float64Array::from_iter(v)))
        } else if present().all(|c| matches!(c, Cell::Bool(_))) {
            let v = col.iter().map(|c| match c {
                Cell::Bool(b) => Some(*b),
                _ => None,
            });
            (DataType::Boolean, Arc::new(BooleanArray::from_iter(v)))
        } else {
            let v: Vec<Option<String>> = col
                .iter()
                .map(|c| match c {
                    Cell::Null => None,
                    Cell::Int(i) => Some(i.to_string()),
                    Cell::Float(x) => Some(fmt_float(*x)),
                    Cell::Bool(b) => Some(b.to_string()),
                    Cell::Str(s) => Some(s.clone()),
                })
                .collect();
            (DataType::Utf8, Arc::new(StringArray::from(v)))
        };
        fields.push(Field::new(name, dt, true));
        arrays.push(array);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(|e| e.to_string())
}

fn parse_scalar(s: &str, quoted: bool) -> Cell {
    if quoted {
        return Cell::Str(s.to_string());
    }
    if s.is_empty() {
        return Cell::Null;
    }
    if let Ok(i) = s.parse::<i64>() {
        return Cell::Int(i);
    }
    let lower = s.to_ascii_lowercase();
    if let Ok(x) = s.parse::<f64>()
        && (x.is_finite()
            || matches!(
                lower.as_str(),
                "nan" | "inf" | "-inf" | "infinity" | "-infinity"
            ))
    {
        return Cell::Float(x);
    }
    match s {
        "true" | "True" | "TRUE" => Cell::Bool(true),
        "false" | "False" | "FALSE" => Cell::Bool(false),
        _ => Cell::Str(s.to_string()),
    }
}

/// Parse CSV text with a header row.
pub fn from_csv(text: &str) -> Result<RecordBatch, String> {
    let mut records = csv_records(text)?.into_iter();
    let header: Vec<String> = records
        .next()
        .ok_or("the file is empty: a CSV table needs at least a header row")?
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    let mut cols: Vec<Vec<Cell>> = vec![Vec::new(); header.len()];
    for (i, rec) in records.enumerate() {
        if rec.len() == 1 && rec[0].0.is_empty() && !rec[0].1 && header.len() != 1 {
            continue; // blank line
        }
        if rec.len() != header.len() {
            return Err(format!(
                "line {}: {} fields, but the header has {}",
                i + 2,
                rec.len(),
                header.len()
            ));
        }
        for (c, (f, q)) in rec.into_iter().enumerate() {
            cols[c].push(parse_scalar(&f, q));
        }
    }
    infer_and_build(header, cols)
}

/// Parse JSON Lines: one flat object per line; columns in order of first appearance.
pub fn from_jsonl(text: &str) -> Result<RecordBatch, String> {
    let mut names: Vec<String> = Vec::new();
    let mut rows: Vec<BTreeMap<String, serde_json::Value>> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let OrderedObject(o) = serde_json::from_str(line)
            .map_err(|e| format!("line {}: expected a flat JSON object: {e}", i + 1))?;
        for (k, _) in &o {
            if !names.contains(k) {
                names.push(k.clone());
            }
        }
        rows.push(o.into_iter().collect());
    }
    let cols = names
        .iter()
        .map(|n| {
            rows.iter()
                .map(|r| match r.get(n) {
                    None | Some(serde_json::Value::Null) => Cell::Null,
                    Some(serde_json::Value::Bool(b)) => Cell::Bool(*b),
                    Some(serde_json::Value::Number(x)) => match x.as_i64() {
                        Some(i) => Cell::Int(i),
                        None => Cell::Float(x.as_f64().unwrap_or(f64::NAN)),
                    },
                    Some(serde_json::Value::String(s)) => Cell::Str(s.clone()),
                    Some(other) => Cell::Str(other.to_string()),
                })
                .collect()
        })
        .collect();
    infer_and_build(names, cols)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RecordBatch {
        RecordBatch::try_from_iter(vec![
            (
                "i",
                Arc::new(Int64Array::from(vec![Some(1), None, Some(-3)])) as ArrayRef,
            ),
            (
                "x",
                Arc::new(Float64Array::from(vec![Some(0.5), Some(2.0), None])) as _,
            ),
            (
                "s",
                Arc::new(StringArray::from(vec![
                    Some("a,b"),
                    Some("q\"uote\nline"),
                    Some(""),
                ])) as _,
            ),
            (
                "b",
                Arc::new(BooleanArray::from(vec![Some(true), None, Some(false)])) as _,
            ),
        ])
        .unwrap()
    }

    fn same_values(a: &RecordBatch, b: &RecordBatch) {
        assert_eq!(a.num_rows(), b.num_rows());
        for c in 0..a.num_columns() {
            assert_eq!(a.column(c).to_data(), b.column(c).to_data(), "column {c}");
        }
    }

    #[test]
    fn csv_roundtrip() {
        let b = sample();
        let text = to_csv(&b).unwrap();
        same_values(&from_csv(&text).unwrap(), &b);
    }

    #[test]
    fn jsonl_roundtrip() {
        let b = sample();
        let text = to_jsonl(&b).unwrap();
        same_values(&from_jsonl(&text).unwrap(), &b);
    }

    #[test]
    fn parquet_roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.parquet");
        let b = sample();
        write_table(&p, Format::Parquet, &b).unwrap();
        same_values(&read_table(&p, Format::Parquet).unwrap(), &b);
    }

    #[test]
    fn csv_errors_are_clear() {
        assert!(from_csv("a,b\n1\n").unwrap_err().contains("line 2"));
        assert!(from_csv("").unwrap_err().contains("empty"));
        assert!(
            from_csv("a\n\"open\n")
                .unwrap_err()
                .contains("unterminated")
        );
    }

    #[test]
    fn nested_types_are_refused_for_csv() {
        let list = arrow_array::ListArray::from_iter_primitive::<Int64Type, _, _>(vec![Some(
            vec![Some(1)],
        )]);
        let b = RecordBatch::try_from_iter(vec![("l", Arc::new(list) as ArrayRef)]).unwrap();
        assert!(to_csv(&b).unwrap_err().contains("parquet"));
    }
}
