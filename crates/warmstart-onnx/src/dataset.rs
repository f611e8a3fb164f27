//! `dataset`: load pairwise preference data (JSONL or Parquet) into a table with columns
//! `id`, `prompt`, `chosen`, `rejected` (all Utf8).
//!
//! The source has `chosen` and `rejected` texts (full dialogues, as in HH-RLHF). `prompt`
//! is their common prefix, cut back to just after the last `Assistant:` inside it when there
//! is one (so that a shared first word of both answers is not counted as prompt). `chosen`
//! and `rejected` are kept whole: they are what `embed` encodes. `id` is content-addressed:
//! the first 32 hex digits of blake3(chosen ‖ 0x00 ‖ rejected), so the same example has the
//! same id in every split, which is what the split-overlap checks compare.
//!
//! The file's blake3 digest enters the cache key (see [`crate::OnnxEngine`]'s `key_extra`),
//! so editing the data invalidates every downstream stage.

use std::path::Path;
use std::sync::Arc;

use arrow_array::{RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use warmstart_engine::{
    Determinism, EngineError, KindSpec, ParamSpec, StageOutput, StageRequest, TableSpec,
};

use crate::tables::strings;

pub fn spec() -> KindSpec {
    KindSpec {
        name: "dataset".into(),
        doc:
            "Load pairwise data (JSONL {chosen, rejected} or Parquet): id, prompt, chosen, rejected"
                .into(),
        params: vec![
            ParamSpec::path(
                "path",
                "A .jsonl file of {\"chosen\", \"rejected\"} objects or a .parquet file with \
                 those Utf8 columns; its content digest enters the cache key",
            ),
            ParamSpec::int("limit", "Keep only the first `limit` examples (0 = all)")
                .default(0i64)
                .min(0.0),
        ],
        determinism: Determinism::Deterministic,
        min_inputs: 0,
        max_inputs: Some(0),
        reads: vec![],
        writes: vec![TableSpec::new("out", "One row per preference pair.")
            .col("id", "utf8", "blake3(chosen ‖ 0 ‖ rejected), 32 hex digits: the same pair has the same id in every split.")
            .col("prompt", "utf8", "The common prefix, cut after its last `Assistant:`.")
            .col("chosen", "utf8", "The preferred dialogue, whole.")
            .col("rejected", "utf8", "The other dialogue, whole.")],
    }
}

/// The content-addressed id of a pair.
pub fn pair_id(chosen: &str, rejected: &str) -> String {
    let mut h = blake3::Hasher::new();
    h.update(chosen.as_bytes());
    h.update(&[0]);
    h.update(rejected.as_bytes());
    h.finalize().to_hex()[..32].to_string()
}

/// The shared prompt of two dialogues (see the module docs).
pub fn common_prompt(a: &str, b: &str) -> String {
    let mut end = 0;
    for ((i, ca), cb) in a.char_indices().zip(b.chars()) {
        if ca != cb {
            break;
        }
        end = i + ca.len_utf8();
    }
    let prefix = &a[..end];
    const MARK: &str = "Assistant:";
    match prefix.rfind(MARK) {
        Some(p) => prefix[..p + MARK.len()].to_string(),
        None => prefix.to_string(),
    }
}

/// Read (chosen, rejected) pairs from a JSONL or Parquet file.
pub fn read_pairs_file(path: &Path) -> Result<Vec<(String, String)>, EngineError> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let err = |m: String| EngineError::param("path", format!("{}: {m}", path.display()));
    if ext == "parquet" {
        let file = std::fs::File::open(path).map_err(|e| err(e.to_string()))?;
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.build())
            .map_err(|e| err(e.to_string()))?;
        let mut out = Vec::new();
        for batch in reader {
            let batch = batch.map_err(|e| err(e.to_string()))?;
            let c = strings(&batch, "chosen").map_err(|e| err(e.to_string()))?;
            let r = strings(&batch, "rejected").map_err(|e| err(e.to_string()))?;
            out.extend(c.into_iter().zip(r));
        }
        return Ok(out);
    }
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| err(format!("line {}: {e}", n + 1)))?;
        let field = |k: &str| {
            v.get(k)
                .and_then(|x| x.as_str())
                .map(str::to_string)
                .ok_or_else(|| err(format!("line {}: no string field `{k}`", n + 1)))
        };
        out.push((field("chosen")?, field("rejected")?));
    }
    Ok(out)
}

/// Build the dataset table from pairs.
pub fn dataset_table(pairs: &[(String, String)]) -> Result<RecordBatch, EngineError> {
    let schema = Arc::new(Schema::new(
        ["id", "prompt", "chosen", "rejected"]
            .iter()
            .map(|n| Field::new(*n, DataType::Utf8, false))
            .collect::<Vec<_>>(),
    ));
    let ids = StringArray::from_iter_values(pairs.iter().map(|(c, r)| pair_id(c, r)));
    let prompts = StringArray::from_iter_values(pairs.iter().map(|(c, r)| common_prompt(c, r)));
    let chosen = StringArray::from_iter_values(pairs.iter().map(|(c, _)| c));
    let rejected = StringArray::from_iter_values(pairs.iter().map(|(_, r)| r));
    Ok(RecordBatch::try_new(
        schema,
        vec![
            Arc::new(ids),
            Arc::new(prompts),
            Arc::new(chosen),
            Arc::new(rejected),
        ],
    )?)
}

pub fn run(req: &StageRequest) -> Result<StageOutput, EngineError> {
    let path = crate::resolve(req.base_dir.as_deref(), req.str("path")?);
    let mut pairs = read_pairs_file(&path)?;
    let limit = req.usize("limit")?;
    if limit > 0 {
        pairs.truncate(limit);
    }
    if pairs.is_empty() {
        return Err(EngineError::param(
            "path",
            format!("{} holds no examples", path.display()),
        ));
    }
    Ok(StageOutput::single(dataset_table(&pairs)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_is_cut_after_assistant() {
        let a = "\n\nHuman: hi\n\nAssistant: I think so";
        let b = "\n\nHuman: hi\n\nAssistant: I do not";
        assert_eq!(common_prompt(a, b), "\n\nHuman: hi\n\nAssistant:");
        assert_eq!(common_prompt("abc", "abd"), "ab");
        assert_eq!(common_prompt("é1", "é2"), "é");
    }

    #[test]
    fn ids_are_content_addressed() {
        assert_eq!(pair_id("a", "b"), pair_id("a", "b"));
        assert_ne!(pair_id("a", "b"), pair_id("b", "a"));
        assert_ne!(pair_id("ab", ""), pair_id("a", "b"));
        assert_eq!(pair_id("a", "b").len(), 32);
    }
}
