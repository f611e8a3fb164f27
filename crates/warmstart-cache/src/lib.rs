//! Content keys (canonical blake3 encoding) and the on-disk cache store (Parquet + JSON manifests, atomic writes, per-key locks).
