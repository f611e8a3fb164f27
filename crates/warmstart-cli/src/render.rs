//! Rendering for humans: miette diagnostics and Arrow tables.

use std::io::IsTerminal;

use arrow_array::RecordBatch;
use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme};

/// Lines longer than this are not drawn as snippets: miette pads label lines with a
/// formatting width, which panics past 65 535 columns ("Formatting argument out of
/// range"), and such a snippet would be unreadable anyway.
pub const MAX_SNIPPET_LINE: usize = 10_000;

/// Whether a labelled span of `diag` reaches past [`MAX_SNIPPET_LINE`] columns, or sits on
/// a line longer than that: the snippet would print the whole line (a generated file can
/// hold one line of megabytes) or draw the label that far to the right.
fn has_overlong_line(diag: &dyn Diagnostic) -> bool {
    let (Some(src), Some(labels)) = (diag.source_code(), diag.labels()) else {
        return false;
    };
    labels.into_iter().any(|l| {
        l.len() > MAX_SNIPPET_LINE
            || src.read_span(l.inner(), 0, 0).is_ok_and(|c| {
                c.column().saturating_add(l.len()) > MAX_SNIPPET_LINE
                    || line_longer_than_max(src, l.offset().saturating_sub(c.column()))
            })
    })
}

/// Whether the line starting at byte `line_start` has more than [`MAX_SNIPPET_LINE`]
/// bytes before its end (reads at most that many bytes).
fn line_longer_than_max(src: &dyn miette::SourceCode, line_start: usize) -> bool {
    let probe = miette::SourceSpan::new(line_start.into(), MAX_SNIPPET_LINE + 1);
    src.read_span(&probe, 0, 0).is_ok_and(|p| {
        let data = p.data();
        data.len() > MAX_SNIPPET_LINE && !data[..=MAX_SNIPPET_LINE].contains(&b'\n')
    })
}

/// The diagnostic without a snippet: message, where (file:line:col), label and help.
fn render_without_snippet(diag: &dyn Diagnostic) -> String {
    let mut out = format!("  × {diag}");
    if let (Some(src), Some(labels)) = (diag.source_code(), diag.labels()) {
        for l in labels {
            if let Ok(c) = src.read_span(l.inner(), 0, 0) {
                let name = c.name().unwrap_or("input");
                out.push_str(&format!(
                    "\n  at {name}:{}:{} (line too long to show)",
                    c.line() + 1,
                    c.column() + 1
                ));
                if let Some(label) = l.label() {
                    out.push_str(&format!(": {label}"));
                }
            }
        }
    }
    if let Some(help) = diag.help() {
        out.push_str(&format!(
            "\n  help: {}",
            help.to_string().replace('\n', "\n        ")
        ));
    }
    out
}

/// Render a diagnostic the way the snapshot tests expect when there is no terminal.
pub fn render_diagnostic(diag: &dyn Diagnostic) -> String {
    if has_overlong_line(diag) {
        return render_without_snippet(diag);
    }
    let plain = !std::io::stderr().is_terminal() || std::env::var_os("NO_COLOR").is_some();
    let theme = if plain {
        GraphicalTheme::unicode_nocolor()
    } else {
        GraphicalTheme::unicode()
    };
    let mut out = String::new();
    let handler = GraphicalReportHandler::new_themed(theme).with_width(100);
    if handler.render_report(&mut out, diag).is_err() {
        out = diag.to_string();
    }
    out.trim_end().to_string()
}

/// Pretty-print batches as an ASCII table.
pub fn pretty(batches: &[RecordBatch]) -> String {
    arrow_cast::pretty::pretty_format_batches(batches)
        .map(|t| t.to_string())
        .unwrap_or_else(|e| format!("(cannot format table: {e})"))
}

/// CSV rendering (RFC 4180 quoting) of one batch.
pub fn csv(batch: &RecordBatch, header: bool) -> String {
    use arrow_cast::display::{ArrayFormatter, FormatOptions};
    let opts = FormatOptions::default();
    let mut out = String::new();
    let quote = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    if header {
        let names: Vec<String> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| quote(f.name()))
            .collect();
        out.push_str(&names.join(","));
        out.push('\n');
    }
    let fmts: Vec<_> = batch
        .columns()
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts))
        .collect();
    for row in 0..batch.num_rows() {
        let cells: Vec<String> = fmts
            .iter()
            .map(|f| match f {
                Ok(f) => quote(&f.value(row).to_string()),
                Err(_) => String::new(),
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// JSON rows (one object per row, numbers as numbers) of one batch.
pub fn json_rows(batch: &RecordBatch) -> Vec<serde_json::Value> {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float32Type, Float64Type, Int32Type, Int64Type, UInt64Type};
    use arrow_cast::display::{ArrayFormatter, FormatOptions};
    use arrow_schema::DataType;
    let opts = FormatOptions::default();
    let schema = batch.schema();
    let mut rows = vec![serde_json::Map::new(); batch.num_rows()];
    for (field, col) in schema.fields().iter().zip(batch.columns()) {
        let fmt = ArrayFormatter::try_new(col.as_ref(), &opts).ok();
        for (r, row) in rows.iter_mut().enumerate() {
            let v = if col.is_null(r) {
                serde_json::Value::Null
            } else {
                match col.data_type() {
                    DataType::Float64 => {
                        serde_json::json!(col.as_primitive::<Float64Type>().value(r))
                    }
                    DataType::Float32 => {
                        serde_json::json!(col.as_primitive::<Float32Type>().value(r))
                    }
                    DataType::Int64 => serde_json::json!(col.as_primitive::<Int64Type>().value(r)),
                    DataType::Int32 => serde_json::json!(col.as_primitive::<Int32Type>().value(r)),
                    DataType::UInt64 => {
                        serde_json::json!(col.as_primitive::<UInt64Type>().value(r))
                    }
                    DataType::Boolean => serde_json::json!(col.as_boolean().value(r)),
                    _ => serde_json::json!(
                        fmt.as_ref()
                            .map(|f| f.value(r).to_string())
                            .unwrap_or_default()
                    ),
                }
            };
            row.insert(field.name().clone(), v);
        }
    }
    rows.into_iter().map(serde_json::Value::Object).collect()
}

/// The byte length of every value of a binary column (`None` for a column of another
/// type); nulls stay null.
fn binary_lengths(col: &dyn arrow_array::Array) -> Option<Vec<Option<u64>>> {
    use arrow_array::cast::AsArray;
    use arrow_schema::DataType;
    let n = col.len();
    let len_of = |i: usize, len: usize| (!col.is_null(i)).then_some(len as u64);
    Some(match col.data_type() {
        DataType::Binary => {
            let a = col.as_binary::<i32>();
            (0..n).map(|i| len_of(i, a.value(i).len())).collect()
        }
        DataType::LargeBinary => {
            let a = col.as_binary::<i64>();
            (0..n).map(|i| len_of(i, a.value(i).len())).collect()
        }
        DataType::BinaryView => {
            let a = col.as_binary_view();
            (0..n).map(|i| len_of(i, a.value(i).len())).collect()
        }
        DataType::FixedSizeBinary(w) => (0..n).map(|i| len_of(i, *w as usize)).collect(),
        _ => return None,
    })
}

/// `batch` with each binary column replaced by the columns `f` makes of its name and
/// value lengths.
fn map_binary(
    batch: &RecordBatch,
    f: impl Fn(&str, Vec<Option<u64>>) -> (arrow_schema::Field, arrow_array::ArrayRef),
) -> RecordBatch {
    let schema = batch.schema();
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (field, col) in schema.fields().iter().zip(batch.columns()) {
        match binary_lengths(col.as_ref()) {
            Some(lengths) => {
                let (fld, c) = f(field.name(), lengths);
                fields.push(fld);
                columns.push(c);
            }
            None => {
                fields.push(field.as_ref().clone());
                columns.push(col.clone());
            }
        }
    }
    let schema = std::sync::Arc::new(arrow_schema::Schema::new(fields));
    // Same row count in every column: cannot fail; fall back to the batch as it was.
    RecordBatch::try_new(schema, columns).unwrap_or_else(|_| batch.clone())
}

/// For the ASCII table: every binary column as `<N bytes>` instead of a hex dump (a figure
/// is hundreds of kilobytes).
pub fn displayable(batch: &RecordBatch) -> RecordBatch {
    map_binary(batch, |name, lengths| {
        let text: arrow_array::StringArray = lengths
            .into_iter()
            .map(|l| l.map(|n| format!("<{n} bytes>")))
            .collect();
        (
            arrow_schema::Field::new(name, arrow_schema::DataType::Utf8, true),
            std::sync::Arc::new(text),
        )
    })
}

/// A `files` table as a listing: its binary `data` column becomes `bytes`, each file's
/// size (every other column stays).
pub fn files_listing(batch: &RecordBatch) -> RecordBatch {
    map_binary(batch, |name, lengths| {
        let name = if name == "data" { "bytes" } else { name };
        let sizes: arrow_array::UInt64Array = lengths.into_iter().collect();
        (
            arrow_schema::Field::new(name, arrow_schema::DataType::UInt64, true),
            std::sync::Arc::new(sizes),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn files() -> RecordBatch {
        let path = arrow_array::StringArray::from(vec!["fig.png", "fig.svg"]);
        let data = arrow_array::BinaryArray::from(vec![&[0u8; 590_000][..], b"<svg/>"]);
        RecordBatch::try_from_iter([
            ("path", Arc::new(path) as arrow_array::ArrayRef),
            ("data", Arc::new(data) as arrow_array::ArrayRef),
        ])
        .unwrap()
    }

    #[test]
    fn a_files_table_lists_paths_and_sizes() {
        let text = pretty(&[files_listing(&files())]);
        assert!(text.contains("| path    | bytes  |"), "{text}");
        assert!(text.contains("| fig.png | 590000 |"), "{text}");
        assert!(text.contains("| fig.svg | 6      |"), "{text}");
        assert!(text.len() < 200, "{text}");
    }

    #[test]
    fn binary_columns_are_never_dumped_in_a_table() {
        let text = pretty(&[displayable(&files())]);
        assert!(
            text.contains("<590000 bytes>") && text.contains("<6 bytes>"),
            "{text}"
        );
        assert!(!text.contains("3c7376672f3e"), "hex of <svg/>: {text}");
        assert!(text.len() < 300, "{text}");
    }
}
