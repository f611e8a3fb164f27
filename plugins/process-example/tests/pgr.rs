//! Runs `pgr.py` through the process engine (skipped, with a message, where `python3` is
//! not installed).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use warmstart_engine::{Engine, NamedTable, Params, StageInput, StageRequest, Value};
use warmstart_process::ProcessEngine;

fn have_python() -> bool {
    std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn params(e: &ProcessEngine) -> Params {
    let mut p: Params = e.info().kinds[0]
        .params
        .iter()
        .filter_map(|s| s.default.clone().map(|d| (s.name.clone(), d)))
        .collect();
    let strs = |v: &[&str]| Value::List(v.iter().map(|s| Value::Str(s.to_string())).collect());
    p.insert("command".into(), strs(&["python3", "pgr.py"]));
    p.insert("scripts".into(), strs(&[warmstart_process_example::SCRIPT]));
    p.insert(
        "interpreter_version".into(),
        strs(&["python3", "--version"]),
    );
    p.insert("outputs".into(), strs(&["pgr.csv", "summary.jsonl"]));
    p
}

#[test]
fn pgr_script_runs_through_the_process_engine() {
    if !have_python() {
        eprintln!("python3 not found: skipping");
        return;
    }
    let e = ProcessEngine::with_base_dir(root());
    let accs = RecordBatch::try_from_iter(vec![
        ("run", Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef),
        (
            "weak_acc",
            Arc::new(Float64Array::from(vec![0.6, 0.6, 0.7])) as _,
        ),
        (
            "strong_acc",
            Arc::new(Float64Array::from(vec![0.9, 0.8, 0.7])) as _,
        ),
        (
            "w2s_acc",
            Arc::new(Float64Array::from(vec![0.75, 0.7, 0.7])) as _,
        ),
    ])
    .unwrap();
    let p = params(&e);
    let key = e.key_extra(&p).unwrap();
    assert!(
        key.iter()
            .any(|(k, v)| k == "interpreter" && v.starts_with("Python 3"))
    );
    assert!(
        key.iter()
            .any(|(k, _)| k == "script:plugins/process-example/pgr.py")
    );
    let req = StageRequest {
        stage: "pgr".into(),
        coords: vec![],
        kind: "process".into(),
        params: p,
        seed: 11,
        inputs: vec![StageInput {
            stage: "accuracies".into(),
            coords: vec![("rho".into(), Value::Float(0.5))],
            tables: vec![NamedTable::new("out", accs)],
        }],
        threads: 1,
        scratch_dir: None,
        base_dir: Some(root()),
    };
    let out = e.run(&req).unwrap();
    let names: Vec<&str> = out.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["pgr", "summary", "log"]);

    let pgr = &out.tables[0].batch;
    let col = pgr.column_by_name("pgr").unwrap();
    let col = col.as_any().downcast_ref::<Float64Array>().unwrap();
    assert!((col.value(0) - 0.5).abs() < 1e-12);
    assert!((col.value(1) - 0.5).abs() < 1e-12);
    assert!(col.is_null(2), "zero gap → null pgr");

    let s = &out.tables[1].batch;
    let f = |n: &str| {
        s.column_by_name(n)
            .unwrap()
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap()
            .value(0)
    };
    assert!((f("mean_pgr") - 0.5).abs() < 1e-12);
    let seed = s.column_by_name("seed").unwrap();
    assert_eq!(
        seed.as_any().downcast_ref::<Int64Array>().unwrap().value(0),
        11
    );

    let log = &out.tables[2].batch;
    let stream = log
        .column(0)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    let line = log
        .column(1)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    let lines: Vec<(&str, &str)> = (0..log.num_rows())
        .map(|i| (stream.value(i), line.value(i)))
        .collect();
    assert!(
        lines.contains(&("stdout", "pgr.py: 3 rows, 2 with a non-zero gap")),
        "{lines:?}"
    );
    assert!(lines.contains(&("stderr", "pgr.py: done")), "{lines:?}");
}
