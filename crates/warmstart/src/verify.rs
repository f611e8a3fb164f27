//! Checking cache entries against their digests: which keys an experiment uses, checking
//! (and with `repair` quarantining) them, and the pre-pass of a verified run. The checking
//! itself is `warmstart_cache`'s ([`Store::verify_keys`]); this module picks the keys.

use warmstart_cache::{CacheError, CacheKey, Store, VerifyReport};
use warmstart_plan::{Plan, assess};

/// Keys of every entry `plan` uses now (known keys; a key that depends on a stage that
/// must re-run is unknown until then, and that entry is checked by size as usual).
pub fn keys_used(plan: &Plan, store: &Store) -> Vec<CacheKey> {
    assess(plan, store)
        .freshness
        .iter()
        .filter_map(|f| f.key())
        .collect()
}

/// Every key in the cache, whether or not its manifest reads.
pub fn all_keys(store: &Store) -> Result<Vec<CacheKey>, CacheError> {
    store.keys()
}

/// Check the digests of every file of the entries `keys`; with `repair`, quarantine the
/// corrupt ones so that the next run recomputes them. `progress` is called with the
/// number of entries checked so far and the number to check.
pub fn check(
    store: &Store,
    keys: &[CacheKey],
    repair: bool,
    mut progress: impl FnMut(usize, usize),
) -> VerifyReport {
    progress(0, keys.len());
    store.verify_keys(keys, repair, |done| progress(done, keys.len()))
}

/// The pre-pass of a verified run: check every entry `plan` uses and quarantine the
/// corrupt ones, so that the run recomputes them. The run should not start when
/// [`VerifyReport::unrepaired`] is not zero.
pub fn before_run(plan: &Plan, store: &Store, progress: impl FnMut(usize, usize)) -> VerifyReport {
    check(store, &keys_used(plan, store), true, progress)
}
