//! `echo`: the wiring kind. Output = the rows of all its inputs (in input order) followed by
//! one row holding its own `value` param. Used by tests, benchmarks and wiring demos.
//!
//! Schema: `source` (Utf8: the stage that produced the row, with coordinates) and `value`
//! (Utf8). An optional `sleep_ms` makes it a slow stage (for interruption tests); it does
//! not change the output, so it stays out of the key.

use std::sync::Arc;

use arrow_array::{Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use warmstart_engine::{
    Determinism, EngineError, InputSpec, KindSpec, ParamSpec, StageOutput, StageRequest, TableSpec,
    Value,
};

pub fn spec() -> KindSpec {
    KindSpec {
        name: "echo".into(),
        doc: "Concatenates its inputs' rows and appends one row with `value`.".into(),
        params: vec![
            ParamSpec::any(
                "value",
                "The value of the appended row (any type; stored as text).",
            ),
            ParamSpec::int("sleep_ms", "Sleep this long before answering (tests).")
                .default(0)
                .min(0.0)
                .not_in_key(),
            ParamSpec::boolean("fail", "Fail instead of answering (tests).").default(false),
        ],
        determinism: Determinism::Deterministic,
        min_inputs: 0,
        max_inputs: None,
        reads: vec![
            InputSpec::new(
                "the first table",
                &["echo"],
                "Its `source` and `value` rows are copied first.",
            )
            .col("source", "utf8", "")
            .col("value", "utf8", ""),
        ],
        writes: vec![
            TableSpec::new("out", "The inputs' rows, then this stage's own.")
                .col("source", "utf8", "The instance that produced the row.")
                .col("value", "utf8", "Its `value` param."),
        ],
    }
}

pub fn run(req: &StageRequest) -> Result<StageOutput, EngineError> {
    let sleep = req.opt("sleep_ms").and_then(Value::as_i64).unwrap_or(0);
    if sleep > 0 {
        std::thread::sleep(std::time::Duration::from_millis(sleep as u64));
    }
    if req.opt("fail").and_then(Value::as_bool).unwrap_or(false) {
        return Err(EngineError::failed("echo asked to fail (`fail = true`)"));
    }
    let mut sources = Vec::new();
    let mut values = Vec::new();
    for input in &req.inputs {
        let Some(batch) = input.table(None) else {
            continue;
        };
        let src = column(batch, "source")?;
        let val = column(batch, "value")?;
        for i in 0..batch.num_rows() {
            sources.push(src.value(i).to_string());
            values.push(val.value(i).to_string());
        }
    }
    sources.push(warmstart_engine::label(&req.stage, &req.coords));
    values.push(match req.opt("value") {
        Some(Value::Str(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => String::new(),
    });
    let schema = Arc::new(Schema::new(vec![
        Field::new("source", DataType::Utf8, false),
        Field::new("value", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(sources)),
            Arc::new(StringArray::from(values)),
        ],
    )?;
    Ok(StageOutput::single(batch))
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a StringArray, EngineError> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .filter(|c| c.null_count() == 0)
        .ok_or_else(|| {
            EngineError::Input(format!(
                "echo needs inputs with non-null Utf8 columns `source` and `value`; got schema {}",
                batch.schema()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use warmstart_engine::StageInput;

    fn req(value: &str, inputs: Vec<StageInput>) -> StageRequest {
        StageRequest {
            stage: "s".into(),
            coords: vec![],
            kind: "echo".into(),
            params: [("value".to_string(), Value::Str(value.into()))].into(),
            seed: 0,
            inputs,
            threads: 1,
            scratch_dir: None,
            base_dir: None,
        }
    }

    #[test]
    fn appends_own_row_after_inputs() {
        let a = run(&req("a", vec![])).unwrap();
        let input = StageInput {
            stage: "up".into(),
            coords: vec![],
            tables: a.tables,
        };
        let b = run(&req("b", vec![input])).unwrap();
        let batch = &b.tables[0].batch;
        assert_eq!(batch.num_rows(), 2);
        let vals = column(batch, "value").unwrap();
        assert_eq!((vals.value(0), vals.value(1)), ("a", "b"));
    }
}
