//! Content keys and the on-disk cache.
//!
//! - [`key`]: what determines a stage's output, encoded canonically and hashed with blake3
//!   into a [`CacheKey`]; seed derivation; component-wise diffs for `plan` / `why`.
//! - [`store`]: the versioned on-disk layout, atomic entry writes, verified reads,
//!   per-key cross-process locks.
//! - `index`: a hint file of stamped lookups, so a no-op run reads no manifest or ref.
//!
//! Architecture invariant: this crate stores tables under keys. It knows nothing of
//! experiment files, engines or scheduling.

mod index;
pub mod jobs;
pub mod key;
pub mod maintenance;
mod nofollow;
mod parquet_io;
mod refs;
pub mod runs;
pub mod store;
pub mod value_json;

pub use index::DigestLookup;
pub use key::{CacheKey, Change, Digest, InputDigest, KeyInputs};
pub use maintenance::{CorruptEntry, StaleFiles, VerifyReport};
pub use store::{CacheError, EntryMeta, KeyLock, Lookup, Manifest, OutputFile, Store};
