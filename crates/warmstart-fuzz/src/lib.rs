//! Fuzzing harnesses for warmstart's input edges; the code is in `tests/` (this library is
//! empty so that the crate builds as a workspace member).
//!
//! `cargo test -p warmstart-fuzz` runs a short, time-boxed pass of each harness (part of
//! the normal suite); `FUZZ_SECONDS=600 cargo test -p warmstart-fuzz -- --test-threads 3` runs each
//! for that long. `FUZZ_SEED=<u64>` replays one run. Inputs that fail are written to
//! `target/fuzz-failures/` and belong in `tests/malformed*/` with a snapshot.
