//! Experiment files: TOML with spans → validated experiment → expanded stage instances. Knows nothing of engines or the cache.
