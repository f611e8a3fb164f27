//! Parquet encoding and decoding of one table: deterministic bytes for the cache (same
//! batch, same bytes), and a decoder that turns a panic on hostile bytes into an error.

use std::fs;
use std::path::Path;

use arrow_array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::store::{CacheError, io};

/// Deterministic Parquet encoding: same batch ⇒ same bytes (snappy, no timestamps).
pub(crate) fn parquet_bytes(batch: &RecordBatch, path: &Path) -> Result<Vec<u8>, CacheError> {
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_created_by(concat!("warmstart ", env!("CARGO_PKG_VERSION")).to_string())
        .build();
    let mut buf = Vec::new();
    let err = |e: parquet::errors::ParquetError| CacheError::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut w = ArrowWriter::try_new(&mut buf, batch.schema(), Some(props)).map_err(err)?;
    w.write(batch).map_err(err)?;
    w.close().map_err(err)?;
    Ok(buf)
}

/// Decode a whole Parquet file into one batch. The decoder is guarded with `catch_unwind`:
/// malformed files must come back as errors, and a decoder bug on hostile bytes is no
/// reason to take the whole run down.
pub(crate) fn parquet_from_bytes(bytes: Vec<u8>, path: &Path) -> Result<RecordBatch, CacheError> {
    let decoded =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| decode_parquet(bytes, path)));
    decoded.unwrap_or_else(|_| {
        Err(CacheError::Parquet {
            path: path.to_path_buf(),
            message: "the Parquet decoder failed on malformed data".into(),
        })
    })
}

fn decode_parquet(bytes: Vec<u8>, path: &Path) -> Result<RecordBatch, CacheError> {
    let err = |m: String| CacheError::Parquet {
        path: path.to_path_buf(),
        message: m,
    };
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
        .map_err(|e| err(e.to_string()))?;
    let schema = reader.schema().clone();
    let reader = reader
        .with_batch_size(64 * 1024)
        .build()
        .map_err(|e| err(e.to_string()))?;
    let batches: Vec<RecordBatch> = reader
        .collect::<Result<_, _>>()
        .map_err(|e| err(e.to_string()))?;
    arrow_select::concat::concat_batches(&schema, &batches).map_err(|e| err(e.to_string()))
}

/// Write one batch as a Parquet file (used by `export`).
pub fn write_parquet(batch: &RecordBatch, path: &Path) -> Result<(), CacheError> {
    let bytes = parquet_bytes(batch, path)?;
    fs::write(path, bytes).map_err(io(path))
}

/// Read a Parquet file into one batch.
pub fn read_parquet(path: &Path) -> Result<RecordBatch, CacheError> {
    let bytes = fs::read(path).map_err(io(path))?;
    parquet_from_bytes(bytes, path)
}
