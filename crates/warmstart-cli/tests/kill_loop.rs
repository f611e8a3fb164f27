//! Kill loop: `kill -9` a running experiment at random points, resume, and check that the
//! cache ends up exactly as a clean run leaves it, every digest intact.
//!
//! Rounds: 20 by default; `WARMSTART_KILL_ROUNDS=200` for the long version. The random
//! kill delays come from `WARMSTART_KILL_SEED` (default: the clock), printed so that a
//! failure can be replayed.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

const EXPERIMENT: &str = r#"
[experiment]
name = "kills"
seed = 3
[sweep]
x = [1, 2, 3, 4]
[stages.root]
kind = "echo"
value = "r"
sleep_ms = 15
[stages.leaf]
kind = "echo"
inputs = ["root"]
value = "${x * 10}"
sleep_ms = 15
[stages.twig]
kind = "echo"
inputs = ["leaf"]
value = "${x + 1}"
sleep_ms = 10
[stages.sum]
kind = "echo"
inputs = ["twig"]
gather = ["x"]
value = "done"
"#;

/// Every entry's key and the bytes of its Parquet files (manifests hold timings).
fn contents(cache: &Path) -> BTreeMap<String, Vec<(String, Vec<u8>)>> {
    let mut out = BTreeMap::new();
    for dir in entry_dirs(cache) {
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .filter(|f| f.path().extension().is_some_and(|e| e == "parquet"))
            .map(|f| {
                let name = f.file_name().to_string_lossy().into_owned();
                (name, std::fs::read(f.path()).unwrap())
            })
            .collect();
        files.sort();
        let key = dir.file_name().unwrap().to_string_lossy().into_owned();
        out.insert(key, files);
    }
    out
}

/// xorshift64*: enough randomness for kill delays, no dependency.
fn next(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

/// Start `run`, kill -9 it after `delay` (or let it finish first).
fn run_and_kill(p: &Project, delay: Duration) {
    let mut child = p
        .cmd(&["run", "e.toml", "-j", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while start.elapsed() < delay {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
}

#[test]
fn kill_9_at_random_points_then_resume_gives_the_clean_cache() {
    let rounds: usize = std::env::var("WARMSTART_KILL_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let seed: u64 = std::env::var("WARMSTART_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        })
        | 1;
    eprintln!("kill loop: {rounds} rounds, WARMSTART_KILL_SEED={seed}");
    let clean = Project::new();
    clean.write("e.toml", EXPERIMENT);
    let t = Instant::now();
    assert!(clean.run(&["run", "e.toml", "-j", "2"]).status.success());
    let full = t.elapsed();
    let want = contents(&clean.cache());
    assert_eq!(want.len(), 10, "root + 4 leaves + 4 twigs + sum");

    let mut rng = seed;
    // Rounds whose first kill left some but not all entries: the kill hit a run mid-way.
    let mut mid_run = 0;
    for round in 0..rounds {
        let p = Project::new();
        p.write("e.toml", EXPERIMENT);
        // Two kills at random points (the second one into a resumed run), then resume.
        for kill in 0..2 {
            let delay = Duration::from_micros(next(&mut rng) % (full.as_micros() as u64 + 1));
            run_and_kill(&p, delay);
            let n = entry_dirs(&p.cache()).len();
            if kill == 0 && n > 0 && n < want.len() {
                mid_run += 1;
            }
        }
        let out = p.run(&["run", "e.toml", "-j", "2"]);
        assert!(out.status.success(), "round {round}: {}", stderr(&out));
        let v = p.run(&["verify"]);
        assert!(v.status.success(), "round {round}: {}", stdout(&v));
        assert_eq!(contents(&p.cache()), want, "round {round} (seed {seed})");
        // The resumed run cleaned the killed runs' temp dirs and left none of its own.
        let tmp = std::fs::read_dir(p.cache().join("v1/tmp")).unwrap().count();
        assert_eq!(tmp, 0, "round {round}");
    }
    eprintln!("kill loop: {mid_run} of {rounds} first kills hit a run mid-way");
    // Not vacuous: with delays spread over a whole run, many kills land mid-run.
    assert!(rounds < 10 || mid_run > 0, "no kill landed mid-run");
}
