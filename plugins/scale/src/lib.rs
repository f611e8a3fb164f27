//! Example plugin that reads its inputs: kind `scale-column` multiplies a numeric column of
//! every input instance's table by a factor and writes one table with the input's stage,
//! its sweep coordinates (as text) and the scaled values. The worked example of
//! docs/plugins.md, section "A plugin that reads an input table" — kept compiling and
//! tested here so that the guide cannot drift from the API.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use warmstart_plugin_abi::warmstart_engine::{
    ColumnRef, Determinism, EngineError, EngineInfo, InputSpec, KindSpec, ParamSpec, StageOutput,
    StageRequest, TableSpec, f64_column,
};
use warmstart_plugin_abi::{Plugin, export_plugin};

/// The plugin.
pub struct Scale;
export_plugin!(Scale);

impl Plugin for Scale {
    fn info() -> EngineInfo {
        EngineInfo {
            id: "scale".into(),
            version: "1".into(),
            kinds: vec![KindSpec {
                name: "scale-column".into(),
                doc: "Multiply a numeric column of every input instance's table by a factor."
                    .into(),
                params: vec![
                    ParamSpec::string("table", "Input table to read (\"\" = each input's first).")
                        .default(""),
                    ParamSpec::string("column", "Numeric column to scale.")
                        .names_column(ColumnRef::of("table")),
                    ParamSpec::float("factor", "Multiply by this.").default(2.0),
                    // Does not change the output: kept out of the cache key.
                    ParamSpec::boolean("verbose", "Report the row count as a warning.")
                        .default(false)
                        .not_in_key(),
                ],
                determinism: Determinism::Deterministic,
                min_inputs: 1,
                max_inputs: None,
                // Declared, the tables appear in `warmstart kinds scale-column --file …`,
                // and every output is checked against `writes`.
                reads: vec![InputSpec::new(
                    "the table named by `table` (each input's first if \"\")",
                    &[],
                    "Read from every input instance; `column` must be numeric.",
                )],
                writes: vec![
                    TableSpec::new("out", "One row per row of every input table, scaled.")
                        .col("stage", "utf8", "The input's stage")
                        .col("coords", "utf8", "The input's sweep coordinates, `a=1,b=2`")
                        .col("value", "float64", "`column` × `factor`"),
                ],
            }],
        }
    }

    fn run(req: &StageRequest) -> Result<StageOutput, EngineError> {
        let (table, column) = (req.str("table")?, req.str("column")?);
        let factor = req.f64("factor")?;
        let (mut stage, mut coords, mut value) = (Vec::new(), Vec::new(), Vec::new());
        for input in &req.inputs {
            let name = (!table.is_empty()).then_some(table);
            let batch = input.table(name).ok_or_else(|| {
                EngineError::param(
                    "table",
                    format!("input `{}` has no such table", input.stage),
                )
            })?;
            // A missing column names the ones there are; as a param error, the user is
            // told where the file sets `column`.
            let xs = f64_column(batch, column).map_err(|e| match e {
                EngineError::Input(m) => EngineError::param("column", m),
                e => e,
            })?;
            let at: Vec<String> = input
                .coords
                .iter()
                .map(|(a, v)| format!("{a}={v}"))
                .collect();
            for x in xs {
                stage.push(input.stage.clone());
                coords.push(at.join(","));
                value.push(x * factor);
            }
        }
        let mut out = StageOutput::single(RecordBatch::try_from_iter(vec![
            ("stage", Arc::new(StringArray::from(stage)) as ArrayRef),
            ("coords", Arc::new(StringArray::from(coords)) as ArrayRef),
            ("value", Arc::new(Float64Array::from(value)) as ArrayRef),
        ])?);
        if req.bool("verbose")? {
            out.warnings
                .push(format!("scaled {} rows", out.tables[0].batch.num_rows()));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warmstart_plugin_abi::warmstart_engine::{NamedTable, Params, StageInput, Value};

    fn request(column: &str, inputs: Vec<StageInput>) -> StageRequest {
        let mut params = Params::new();
        params.insert("table".into(), Value::Str(String::new()));
        params.insert("column".into(), Value::Str(column.into()));
        params.insert("factor".into(), Value::Float(3.0));
        params.insert("verbose".into(), Value::Bool(true));
        StageRequest {
            stage: "s".into(),
            coords: Vec::new(),
            kind: "scale-column".into(),
            params,
            seed: 0,
            inputs,
            threads: 1,
            scratch_dir: None,
            base_dir: None,
        }
    }

    fn input(x: f64) -> StageInput {
        let batch = RecordBatch::try_from_iter(vec![(
            "y",
            Arc::new(Float64Array::from(vec![x, 2.0 * x])) as ArrayRef,
        )])
        .unwrap();
        StageInput {
            stage: "up".into(),
            coords: vec![("rho".into(), Value::Float(x))],
            tables: vec![NamedTable::new("rows", batch)],
        }
    }

    #[test]
    fn scales_every_input_row_and_keeps_where_it_came_from() {
        let out = Scale::run(&request("y", vec![input(0.5), input(1.0)])).unwrap();
        let b = &out.tables[0].batch;
        let declared = &Scale::info().kinds[0].writes[0];
        assert_eq!(
            warmstart_plugin_abi::warmstart_engine::tables_spec::check_output(declared, b),
            Ok(())
        );
        let v = f64_column(b, "value").unwrap();
        assert_eq!(v, vec![1.5, 3.0, 3.0, 6.0]);
        assert_eq!(out.warnings, vec!["scaled 4 rows"]);
    }

    #[test]
    fn a_missing_column_is_a_param_error_with_a_suggestion() {
        let e = Scale::run(&request("yy", vec![input(0.5)])).unwrap_err();
        match e {
            EngineError::Param { name, message } => {
                assert_eq!(name, "column");
                assert!(message.contains("did you mean `y`?"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }
}
