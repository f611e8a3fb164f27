//! The time-boxed runner shared by every harness: seeds, budgets, the per-call time
//! limit, and saving failing inputs.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

/// The longest any single call under test may take.
pub const CALL_LIMIT: Duration = Duration::from_secs(2);

/// The workspace root (the corpus lives there).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// How long a harness runs: `FUZZ_SECONDS` if set, else its short default.
pub fn budget(default: Duration) -> Duration {
    std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(default, Duration::from_secs_f64)
}

/// `FUZZ_SEED` if set (to replay a run); else, for a long run (`FUZZ_SECONDS` set), fresh
/// from the clock, so every long run explores new cases; else a fixed seed, so the short
/// pass in the test suite is a reproducible regression run (a slower machine runs a
/// prefix of the same cases) and cannot fail CI on a case nobody has seen.
fn base_seed() -> u64 {
    const SUITE_SEED: u64 = 0x5EED_2026_1127;
    if let Some(seed) = std::env::var("FUZZ_SEED").ok().and_then(|s| s.parse().ok()) {
        return seed;
    }
    if std::env::var_os("FUZZ_SECONDS").is_none() {
        return SUITE_SEED;
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(SUITE_SEED, |d| d.as_nanos() as u64)
}

/// Set once a call has run past the limit: its thread cannot be stopped, so the harness
/// stops at once (no shrinking, which would pile up more such threads until memory runs
/// out) and reports the saved input.
static HUNG: AtomicBool = AtomicBool::new(false);

/// Run `f` on another thread; its result, or why there is none (a panic, or more than
/// [`CALL_LIMIT`] — the thread is then abandoned, and the test fails).
pub fn within_limit<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    std::thread::Builder::new()
        .name("fuzz-call".into())
        .spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(r);
        })
        .map_err(|e| format!("cannot spawn: {e}"))?;
    match rx.recv_timeout(CALL_LIMIT) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(p)) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Err(format!("panicked: {msg}"))
        }
        Err(_) => {
            HUNG.store(true, Ordering::SeqCst);
            Err(format!(
                "took more than {CALL_LIMIT:?} (still running after {:?})",
                start.elapsed()
            ))
        }
    }
}

/// Save a failing input under `target/fuzz-failures/` and return its path.
pub fn save_failure(harness: &str, ext: &str, bytes: &[u8]) -> PathBuf {
    let dir = workspace_root().join("target").join("fuzz-failures");
    let _ = std::fs::create_dir_all(&dir);
    let name = format!(
        "{harness}-{:016x}.{ext}",
        bytes
            .iter()
            .fold(0xcbf29ce484222325u64, |h, b| (h ^ *b as u64)
                .wrapping_mul(0x100000001b3))
    );
    let path = dir.join(name);
    let _ = std::fs::write(&path, bytes);
    path
}

/// Run `check` on values of `strategy` until `budget` is spent, in batches with seeds
/// derived from one base seed (printed, so a failure can be replayed with `FUZZ_SEED`).
/// Returns the number of cases run; panics with the (shrunk) failure otherwise.
pub fn run_for<S: Strategy>(
    harness: &str,
    budget: Duration,
    strategy: S,
    check: impl Fn(S::Value) -> Result<(), String>,
) -> u64 {
    let seed = base_seed();
    eprintln!("fuzz {harness}: seed {seed} (FUZZ_SEED={seed} replays), budget {budget:?}");
    let start = Instant::now();
    let mut cases = 0u64;
    let mut batch = 0u64;
    while start.elapsed() < budget {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
        bytes[8..16].copy_from_slice(&batch.to_le_bytes());
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
        let config = Config {
            cases: 32,
            failure_persistence: None,
            max_shrink_iters: 64,
            max_shrink_time: 60_000,
            ..Config::default()
        };
        let mut runner = TestRunner::new_with_rng(config, rng);
        let result = runner.run(&strategy, |v| {
            if HUNG.load(Ordering::SeqCst) {
                // Do not start more calls: see `HUNG`.
                return Err(TestCaseError::fail("an earlier call hung"));
            }
            check(v).map_err(TestCaseError::fail)
        });
        if let Err(e) = result {
            panic!("fuzz {harness}: seed {seed}, batch {batch}: {e}");
        }
        cases += 32;
        batch += 1;
    }
    eprintln!(
        "fuzz {harness}: {cases} cases in {:.1} s, no failure",
        start.elapsed().as_secs_f64()
    );
    cases
}
