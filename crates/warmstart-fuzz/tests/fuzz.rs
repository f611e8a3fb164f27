//! Fuzzing on stable Rust: structure-aware generators (proptest) mutate real inputs —
//! the shipped experiments and the malformed corpus, real plugin libraries, real cache
//! manifests — and feed them to the code that reads them, checking that nothing panics,
//! aborts or takes more than [`harness::CALL_LIMIT`].
//!
//! Each harness is time-boxed: a few seconds in the normal suite, `FUZZ_SECONDS` each when
//! set (e.g. `FUZZ_SECONDS=600`, the long run in the README). `FUZZ_SEED` replays a run.

mod fuzz {
    pub mod experiments;
    pub mod harness;
    pub mod manifest;
    pub mod plugin_file;
}
