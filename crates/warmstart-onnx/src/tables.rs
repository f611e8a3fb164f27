//! Arrow helpers shared by the kinds: typed column readers (the engine crate's), and the
//! embedding table.
//!
//! The embedding table (output of `embed`, input of `reward-head` and `probe`) has columns
//! `id` (Utf8), `side` (Utf8: `chosen` | `rejected`), `layer` (Int64: 0 = embeddings,
//! L = last block) and `embedding` (`FixedSizeList<Float32>`, the hidden size).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, FixedSizeListArray, Float32Array, Int64Array, LargeStringArray, RecordBatch,
    StringArray,
};
use arrow_schema::{DataType, Field, Schema};
use warmstart_engine::{EngineError, StageInput};

/// The shared column readers (one set of accepted types for every engine): numbers from
/// Float64/Float32/Int64/Int32/Boolean (true = 1, false = 0) with nulls as NaN, strings from
/// Utf8/LargeUtf8/Utf8View.
pub use warmstart_engine::{f64_column as numbers, string_column as strings};

/// One row of an embedding table.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingRow {
    pub id: String,
    pub chosen: bool,
    pub layer: i64,
    pub embedding: Vec<f32>,
}

/// The declaration of [`embedding_table`]'s output.
pub fn embeddings_spec() -> warmstart_engine::TableSpec {
    warmstart_engine::TableSpec::new("embeddings", "One row per text, side and layer.")
        .col("id", "utf8", "The pair's id.")
        .col("side", "utf8", "chosen | rejected.")
        .col("layer", "int64", "0 = token embeddings, L = last block.")
        .col(
            "embedding",
            "fixed_size_list<float32>",
            "The last non-pad token's hidden state.",
        )
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

/// Pairs of one layer: for each id (in first-seen order), where its chosen and rejected
/// embeddings are in the table's Float32 buffer. Borrowed, not copied: a head reads
/// thousands of hidden-size rows once, and copying them into per-row (or even one big)
/// f64 vectors cost more, in allocation and page faults, than the training itself.
#[derive(Debug, Clone, Default)]
pub struct Pairs<'a> {
    pub ids: Vec<String>,
    pub dim: usize,
    values: &'a [f32],
    chosen_at: Vec<usize>,
    rejected_at: Vec<usize>,
}

impl<'a> Pairs<'a> {
    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.ids.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
    /// The chosen side's embedding of pair `i`.
    pub fn chosen(&self, i: usize) -> &'a [f32] {
        let o = self.chosen_at[i];
        &self.values[o..o + self.dim]
    }
    /// The rejected side's embedding of pair `i`.
    pub fn rejected(&self, i: usize) -> &'a [f32] {
        let o = self.rejected_at[i];
        &self.values[o..o + self.dim]
    }
}

/// Read an embedding table into per-layer pairs (layer → pairs). Ids that lack either side
/// are an error.
pub fn read_pairs(batch: &RecordBatch) -> Result<BTreeMap<i64, Pairs<'_>>, EngineError> {
    read_pairs_of(batch, None)
}

/// The layers present in an embedding table, without decoding any embedding.
pub fn layers_in(batch: &RecordBatch) -> Result<BTreeSet<i64>, EngineError> {
    Ok(numbers(batch, "layer")?
        .into_iter()
        .map(|l| l as i64)
        .collect())
}

/// A Utf8 column, borrowed (no copy per row).
fn str_column<'a>(batch: &'a RecordBatch, name: &str) -> Result<StrColumn<'a>, EngineError> {
    let col = batch
        .column_by_name(name)
        .ok_or_else(|| EngineError::Input(format!("missing column `{name}`")))?;
    if let Some(a) = col.as_any().downcast_ref::<StringArray>() {
        return Ok(StrColumn::Small(a));
    }
    if let Some(a) = col.as_any().downcast_ref::<LargeStringArray>() {
        return Ok(StrColumn::Large(a));
    }
    Err(EngineError::Input(format!(
        "column `{name}` must be a string column, found {}",
        col.data_type()
    )))
}

enum StrColumn<'a> {
    Small(&'a StringArray),
    Large(&'a LargeStringArray),
}

impl StrColumn<'_> {
    fn value(&self, i: usize) -> &str {
        match self {
            StrColumn::Small(a) => a.value(i),
            StrColumn::Large(a) => a.value(i),
        }
    }
}

/// [`read_pairs`] restricted to one layer when `only` is given: the other layers' rows are
/// skipped, which matters for a checkpoint with dozens of layers when a head uses one.
pub fn read_pairs_of(
    batch: &RecordBatch,
    only: Option<i64>,
) -> Result<BTreeMap<i64, Pairs<'_>>, EngineError> {
    let ids = str_column(batch, "id")?;
    let sides = str_column(batch, "side")?;
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
    /// Per layer: ids in first-seen order, their slot, and the rows of their two sides.
    #[derive(Default)]
    struct Layer<'a> {
        slot: HashMap<&'a str, usize>,
        ids: Vec<&'a str>,
        rows: Vec<(Option<usize>, Option<usize>)>,
    }
    let mut by_layer: BTreeMap<i64, Layer<'_>> = BTreeMap::new();
    for (i, &layer) in layers.iter().enumerate() {
        let layer = layer as i64;
        if only.is_some_and(|l| l != layer) {
            continue;
        }
        let l = by_layer.entry(layer).or_default();
        let id = ids.value(i);
        let k = *l.slot.entry(id).or_insert_with(|| {
            l.ids.push(id);
            l.rows.push((None, None));
            l.rows.len() - 1
        });
        match sides.value(i) {
            "chosen" => l.rows[k].0 = Some(i),
            "rejected" => l.rows[k].1 = Some(i),
            s => {
                return Err(EngineError::Input(format!(
                    "side must be `chosen` or `rejected`, found `{s}`"
                )));
            }
        }
    }
    let mut out = BTreeMap::new();
    for (layer, l) in by_layer {
        let n = l.ids.len();
        let mut p = Pairs {
            ids: Vec::with_capacity(n),
            dim,
            values: values.values(),
            chosen_at: Vec::with_capacity(n),
            rejected_at: Vec::with_capacity(n),
        };
        for (id, rows) in l.ids.into_iter().zip(l.rows) {
            let (Some(c), Some(r)) = rows else {
                return Err(EngineError::Input(format!(
                    "example `{id}` (layer {layer}) lacks its chosen or rejected embedding"
                )));
            };
            p.ids.push(id.to_string());
            p.chosen_at.push(emb.value_offset_at(c));
            p.rejected_at.push(emb.value_offset_at(r));
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
