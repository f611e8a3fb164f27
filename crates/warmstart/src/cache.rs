//! Opening a cache directory, with the path in the error.

use std::path::{Path, PathBuf};

use warmstart_cache::{CacheError, Store};

/// A cache directory that cannot be opened (not creatable, a symlinked internal
/// directory, another layout version …).
#[derive(Debug, thiserror::Error)]
#[error("cannot open the cache at {}: {source}", path.display())]
#[non_exhaustive]
pub struct OpenCacheError {
    /// The cache directory.
    pub path: PathBuf,
    /// Why.
    pub source: CacheError,
}

/// Open (creating if needed) the cache at `path`.
pub fn open_cache(path: &Path) -> Result<Store, OpenCacheError> {
    Store::open(path).map_err(|source| OpenCacheError {
        path: path.to_path_buf(),
        source,
    })
}

/// Open the cache at `path` for a command that only reads it: an existing cache is opened
/// (and checked) as [`open_cache`] does, a missing one is not created and reads as empty
/// ([`Store::open_for_reading`]; [`Store::is_absent`] tells).
pub fn open_cache_for_reading(path: &Path) -> Result<Store, OpenCacheError> {
    Store::open_for_reading(path).map_err(|source| OpenCacheError {
        path: path.to_path_buf(),
        source,
    })
}
