//! Bumping an engine's version invalidates exactly the stages it runs, and determinism of
//! the scheduler across `jobs`.

use std::sync::Arc;

use warmstart_cache::store::Store;
use warmstart_native::NativeEngine;
use warmstart_plan::run::{RunOptions, Status};
use warmstart_plan::{Registry, build, execute};

const EXP: &str = r#"
[experiment]
name = "versions"
[sweep]
x = { range = [0, 4] }
[stages.a]
kind = "echo"
value = "a"
[stages.b]
kind = "echo"
inputs = ["a"]
value = "${x}"
[stages.c]
kind = "echo"
inputs = ["b"]
gather = ["x"]
value = "c"
"#;

fn run_with(version: &str, dir: &std::path::Path, jobs: usize) -> Vec<(String, Status)> {
    let file = dir.join("e.toml");
    std::fs::write(&file, EXP).unwrap();
    let exp = warmstart_spec::load(&file).expect("valid experiment");
    let mut reg = Registry::new();
    reg.add(Arc::new(NativeEngine::with_version(version)));
    let plan = build(exp, &reg).expect("plan");
    let store = Store::open(&dir.join("cache")).unwrap();
    let opts = RunOptions {
        jobs,
        ..RunOptions::default()
    };
    let summary = execute(&plan, &store, &opts, &mut |_| {});
    let mut out: Vec<(String, Status)> = summary
        .events
        .iter()
        .map(|e| (e.label(), e.status))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn bumping_the_engine_version_reruns_its_stages() {
    let dir = tempfile::tempdir().unwrap();
    let first = run_with("1.0.0", dir.path(), 2);
    assert!(first.iter().all(|(_, s)| *s == Status::Ran), "{first:?}");
    let again = run_with("1.0.0", dir.path(), 2);
    assert!(again.iter().all(|(_, s)| *s == Status::Cached), "{again:?}");
    let bumped = run_with("1.0.1", dir.path(), 2);
    assert_eq!(bumped.len(), 6);
    assert!(bumped.iter().all(|(_, s)| *s == Status::Ran), "{bumped:?}");
}

#[test]
fn outputs_are_identical_whatever_the_job_count() {
    let d1 = tempfile::tempdir().unwrap();
    let d2 = tempfile::tempdir().unwrap();
    run_with("1", d1.path(), 1);
    run_with("1", d2.path(), 2);
    let manifests = |d: &std::path::Path| {
        let store = Store::open(&d.join("cache")).unwrap();
        let mut v: Vec<(String, String)> = store
            .entries()
            .unwrap()
            .into_iter()
            .map(|(k, m)| (k.to_string(), m.unwrap().output_digest.to_string()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(manifests(d1.path()), manifests(d2.path()));
}
