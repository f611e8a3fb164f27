//! Arrow helpers shared by the kinds: reading typed columns, and the embedding table.
//!
//! The embedding table (output of `embed`, input of `reward-head` and `probe`) has columns
//! `id` (Utf8), `side` (Utf8: `chosen` | `rejected`), `layer` (Int64: 0 = embeddings,
//! L = last block) and `embedding` (`FixedSizeList<Float32>`, the hidden size).

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, FixedSizeListArray, Float32Array, Float64Array, Int32Array, Int64Array,
    LargeStringArray, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema};
use warmstart_engine::{EngineError, StageInput};

/// A Utf8 (or LargeUtf8) column as owned strings.
pub fn strings(batch: &RecordBatch, name: &str) -> Result<Vec<String>, EngineError> {
    let col = batch
        .column_by_name(name)
        .ok_or_else(|| EngineError::Input(format!("missing column `{name}`")))?;
    if let Some(a) = col.as_any().downcast_ref::<StringArray>() {
        return Ok((0..a.len()).map(|i| a.value(i).to_string()).collect());
    }
    if let Some(a) = col.as_any().downcast_ref::<LargeStringArray>() {
        return Ok((0..a.len()).map(|i| a.value(i).to_string()).collect());
    }
    Err(EngineError::Input(format!(
        "column `{name}` must be a string column, found {}",
        col.data_type()
    )))
}

/// A numeric column as f64 (Float64, Float32, Int64 or Int32); nulls become NaN.
pub fn numbers(batch: &RecordBatch, name: &str) -> Result<Vec<f64>, EngineError> {
    let col = batch
        .column_by_name(name)
        .ok_or_else(|| EngineError::Input(format!("missing column `{name}`")))?;
    let any = col.as_any();
    let get = |i: usize, v: f64| if col.is_null(i) { f64::NAN } else { v };
    if let Some(a) = any.downcast_ref::<Float64Array>() {
        return Ok((0..a.len()).map(|i| get(i, a.value(i))).collect());
    }
    if let Some(a) = any.downcast_ref::<Float32Array>() {
        return Ok((0..a.len()).map(|i| get(i, a.value(i) as f64)).collect());
    }
    if let Some(a) = any.downcast_ref::<Int64Array>() {
        return Ok((0..a.len()).map(|i| get(i, a.value(i) as f64)).collect());
    }
    if let Some(a) = any.downcast_ref::<Int32Array>() {
        return Ok((0..a.len()).map(|i| get(i, a.value(i) as f64)).collect());
    }
    Err(EngineError::Input(format!(
        "column `{name}` must be numeric, found {}",
        col.data_type()
    )))
}

/// One row of an embedding table.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingRow {
    pub id: String,
    pub chosen: bool,
    pub layer: i64,
    pub embedding: Vec<f32>,
}

/// Build an embedding table.
pub fn embedding_table(rows: &[EmbeddingRow], dim: usize) -> Result<RecordBatch, EngineError> {
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("side", DataType::Utf8, false),
        Field::new("layer", DataType::Int64, false),
        Field::new(
            "embedding",
            DataType::FixedSizeList(item.clone(), dim as i32),
            false,
        ),
    ]));
    let mut flat = Vec::with_capacity(rows.len() * dim);
    for r in rows {
        if r.embedding.len() != dim {
            return Err(EngineError::failed(format!(
                "embedding of `{}` has {} values, expected {dim}",
                r.id,
                r.embedding.len()
            )));
        }
        flat.extend_from_slice(&r.embedding);
    }
    let values = Arc::new(Float32Array::from(flat));
    let list = FixedSizeListArray::try_new(item, dim as i32, values, None)?;
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| &r.id))),
        Arc::new(StringArray::from_iter_values(
            rows.iter()
                .map(|r| if r.chosen { "chosen" } else { "rejected" }),
        )),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.layer))),
        Arc::new(list),
    ];
    Ok(RecordBatch::try_new(schema, cols)?)
}

/// Pairs of one layer: for each id (in first-seen order), (chosen, rejected) embeddings.
#[derive(Debug, Clone, Default)]
pub struct Pairs {
    pub ids: Vec<String>,
    pub chosen: Vec<Vec<f64>>,
    pub rejected: Vec<Vec<f64>>,
    pub dim: usize,
}

/// Read an embedding table into per-layer pairs (layer → pairs). Ids that lack either side
/// are an error.
pub fn read_pairs(batch: &RecordBatch) -> Result<BTreeMap<i64, Pairs>, EngineError> {
    let ids = strings(batch, "id")?;
    let sides = strings(batch, "side")?;
    let layers = numbers(batch, "layer")?;
    let emb = batch
        .column_by_name("embedding")
        .and_then(|c| c.as_any().downcast_ref::<FixedSizeListArray>())
        .ok_or_else(|| {
            EngineError::Input(
                "an embedding table needs an `embedding` FixedSizeList<Float32> column".into(),
            )
        })?;
    let dim = emb.value_length() as usize;
    let values = emb
        .values()
        .as_any()
        .downcast_ref::<Float32Array>()
        .ok_or_else(|| EngineError::Input("`embedding` values must be Float32".into()))?;
    type Half = (Option<Vec<f64>>, Option<Vec<f64>>);
    let mut by_layer: BTreeMap<i64, (Vec<String>, BTreeMap<String, Half>)> = BTreeMap::new();
    for i in 0..batch.num_rows() {
        let off = emb.value_offset_at(i);
        let v: Vec<f64> = values.values()[off..off + dim]
            .iter()
            .map(|&x| x as f64)
            .collect();
        let (order, map) = by_layer.entry(layers[i] as i64).or_default();
        let slot = map.entry(ids[i].clone()).or_insert_with(|| {
            order.push(ids[i].clone());
            (None, None)
        });
        match sides[i].as_str() {
            "chosen" => slot.0 = Some(v),
            "rejected" => slot.1 = Some(v),
            s => {
                return Err(EngineError::Input(format!(
                    "side must be `chosen` or `rejected`, found `{s}`"
                )));
            }
        }
    }
    let mut out = BTreeMap::new();
    for (layer, (order, mut map)) in by_layer {
        let mut p = Pairs {
            dim,
            ..Pairs::default()
        };
        for id in order {
            if let Some((Some(c), Some(r))) = map.remove(&id) {
                p.ids.push(id);
                p.chosen.push(c);
                p.rejected.push(r);
            } else {
                return Err(EngineError::Input(format!(
                    "example `{id}` (layer {layer}) lacks its chosen or rejected embedding"
                )));
            }
        }
        out.insert(layer, p);
    }
    Ok(out)
}

/// The named table of an input, or its first table.
pub fn input_table<'a>(input: &'a StageInput, name: &str) -> Result<&'a RecordBatch, EngineError> {
    input
        .table(Some(name))
        .or_else(|| input.table(None))
        .ok_or_else(|| EngineError::Input(format!("input `{}` has no tables", input.stage)))
}
