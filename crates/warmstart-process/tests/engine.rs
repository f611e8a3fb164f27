//! Behaviour of the process engine with small `sh` commands: inputs on disk, outputs and
//! the log read back, failures (exit status, timeout, missing output, bad params) and keys.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use warmstart_engine::{
    Determinism, Engine, EngineError, NamedTable, Params, StageInput, StageRequest, Value,
};
use warmstart_process::{ProcessEngine, determinism};

fn strs(v: &[&str]) -> Value {
    Value::List(v.iter().map(|s| Value::Str(s.to_string())).collect())
}

fn params(extra: &[(&str, Value)]) -> Params {
    let mut p: Params = warmstart_process::kind_spec()
        .params
        .iter()
        .filter_map(|s| s.default.clone().map(|d| (s.name.clone(), d)))
        .collect();
    for (k, v) in extra {
        p.insert(k.to_string(), v.clone());
    }
    p
}

fn shell(cmd: &str, extra: &[(&str, Value)]) -> Params {
    let mut p = params(extra);
    p.insert("shell".into(), Value::Bool(true));
    p.insert("command".into(), Value::Str(cmd.into()));
    p
}

fn request(params: Params, scratch: Option<&Path>) -> StageRequest {
    StageRequest {
        stage: "proc".into(),
        coords: vec![("alpha".into(), Value::Float(0.5))],
        kind: "process".into(),
        params,
        seed: 5,
        inputs: vec![],
        threads: 1,
        scratch_dir: scratch.map(Path::to_path_buf),
        base_dir: None,
    }
}

fn input() -> StageInput {
    let b = RecordBatch::try_from_iter(vec![
        ("i", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef),
        ("x", Arc::new(Float64Array::from(vec![0.25, 1.5])) as _),
        ("s", Arc::new(StringArray::from(vec!["a", "b,c"])) as _),
    ])
    .unwrap();
    StageInput {
        stage: "up".into(),
        coords: vec![
            ("rho".into(), Value::Float(0.6)),
            ("n".into(), Value::Int(3)),
        ],
        tables: vec![NamedTable::new("data", b)],
    }
}

fn failed(r: Result<warmstart_engine::StageOutput, EngineError>) -> String {
    match r {
        Err(EngineError::Failed(m)) => m,
        other => panic!("expected Failed, got {other:?}"),
    }
}

#[test]
fn inputs_params_outputs_and_log() {
    let dir = tempfile::tempdir().unwrap();
    let p = shell(
        "cp inputs/up-rho=0.6-n=3/data.csv out.csv && grep -q '\"seed\": 5' params.json \
         && echo hello && echo oops >&2 && printf '{\"k\": 1}\\n{\"k\": 2.5}\\n' > more.jsonl",
        &[("outputs", strs(&["out.csv", "more.jsonl"]))],
    );
    let mut req = request(p, Some(dir.path()));
    req.inputs.push(input());
    let out = ProcessEngine::new().run(&req).unwrap();
    let names: Vec<&str> = out.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["out", "more", "log"]);
    let back = &out.tables[0].batch;
    for c in 0..3 {
        assert_eq!(
            back.column(c).to_data(),
            req.inputs[0].tables[0].batch.column(c).to_data()
        );
    }
    let k = out.tables[1].batch.column(0);
    assert_eq!(
        k.as_any().downcast_ref::<Float64Array>().unwrap().values(),
        &[1.0, 2.5]
    );
    let log = &out.tables[2].batch;
    let col = |i: usize| {
        log.column(i)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap()
            .clone()
    };
    let rows: Vec<(String, String)> = (0..log.num_rows())
        .map(|i| (col(0).value(i).to_string(), col(1).value(i).to_string()))
        .collect();
    assert!(
        rows.contains(&("stdout".into(), "hello".into())),
        "{rows:?}"
    );
    assert!(rows.contains(&("stderr".into(), "oops".into())), "{rows:?}");
}

#[test]
fn parquet_and_jsonl_inputs() {
    for fmt in ["parquet", "jsonl"] {
        let p = shell(
            &format!(
                "test -s inputs/up-rho=0.6-n=3/data.{fmt} && cp inputs/up-rho=0.6-n=3/data.{fmt} copy.{fmt}"
            ),
            &[
                ("input_format", Value::Str(fmt.into())),
                ("outputs", strs(&[&format!("copy.{fmt}")])),
            ],
        );
        let mut req = request(p, None);
        req.inputs.push(input());
        let out = ProcessEngine::new().run(&req).unwrap();
        assert_eq!(out.tables[0].name, "copy");
        assert_eq!(out.tables[0].batch.num_rows(), 2, "{fmt}");
    }
}

#[test]
fn argv_command_and_env() {
    let mut env = std::collections::BTreeMap::new();
    env.insert("GREETING".to_string(), Value::Str("hi there".into()));
    let p = params(&[
        (
            "command",
            strs(&["sh", "-c", "echo \"$GREETING $WARMSTART_SEED\""]),
        ),
        ("env", Value::Table(env)),
    ]);
    let out = ProcessEngine::new().run(&request(p, None)).unwrap();
    assert_eq!(out.tables.len(), 1);
    let line = out.tables[0].batch.column(1);
    let line = line.as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!(line.value(0), "hi there 5");
}

#[test]
fn nonzero_exit_quotes_the_stderr_tail() {
    let p = shell(
        "for i in $(seq 1 30); do echo line$i >&2; done; exit 3",
        &[],
    );
    let m = failed(ProcessEngine::new().run(&request(p, None)));
    assert!(m.contains("exit status 3"), "{m}");
    assert!(m.contains("last 20 line(s) of stderr"), "{m}");
    assert!(
        m.contains("line30") && m.contains("line11") && !m.contains("line10\n"),
        "{m}"
    );
}

#[test]
fn timeout_kills_the_child_and_its_children() {
    let p = shell(
        "sleep 30 & sleep 30; echo never",
        &[("timeout_s", Value::Float(0.3))],
    );
    let t = Instant::now();
    let m = failed(ProcessEngine::new().run(&request(p, None)));
    assert!(t.elapsed().as_secs_f64() < 10.0, "took {:?}", t.elapsed());
    assert!(m.contains("timed out") && m.contains("timeout_s"), "{m}");
}

#[test]
fn missing_declared_output_is_a_clear_error() {
    let p = shell("echo working", &[("outputs", strs(&["result.csv"]))]);
    let m = failed(ProcessEngine::new().run(&request(p, None)));
    assert!(
        m.contains("did not write the declared output `result.csv`"),
        "{m}"
    );
}

#[test]
fn missing_program_is_a_clear_error() {
    let p = params(&[("command", strs(&["warmstart-no-such-program-xyz"]))]);
    let m = failed(ProcessEngine::new().run(&request(p, None)));
    assert!(m.contains("cannot start") && m.contains("PATH"), "{m}");
}

#[test]
fn bad_params_are_param_errors() {
    let e = ProcessEngine::new();
    let cases = [
        params(&[("command", Value::Str("echo".into()))]),
        shell("true", &[("outputs", strs(&["Bad.csv"]))]),
        shell("true", &[("outputs", strs(&["x.txt"]))]),
        shell("true", &[("outputs", strs(&["log.csv"]))]),
        params(&[("command", strs(&[]))]),
    ];
    for p in cases {
        match e.key_extra(&p) {
            Err(EngineError::Param { name, .. }) => {
                assert!(name == "command" || name == "outputs", "{name}")
            }
            other => panic!("expected a param error for {p:?}, got {other:?}"),
        }
    }
}

#[test]
fn key_follows_script_content_and_volatility() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("s.sh");
    std::fs::write(&script, "echo 1\n").unwrap();
    let e = ProcessEngine::with_base_dir(dir.path());
    let p = params(&[
        ("command", strs(&["sh", "s.sh"])),
        ("scripts", strs(&["s.sh"])),
        (
            "interpreter_version",
            strs(&["sh", "-c", "echo fake-interpreter 1.0"]),
        ),
    ]);
    let k1 = e.key_extra(&p).unwrap();
    assert!(k1.contains(&("interpreter".into(), "fake-interpreter 1.0".into())));
    std::fs::write(&script, "echo 2\n").unwrap();
    let k2 = e.key_extra(&p).unwrap();
    assert_ne!(k1, k2);
    assert_eq!(k2, e.key_extra(&p).unwrap());
    // The script is copied into the work dir and runs there.
    let mut req = request(p.clone(), None);
    req.base_dir = Some(dir.path().to_path_buf());
    let out = e.run(&req).unwrap();
    let l = out.tables[0].batch.column(1);
    assert_eq!(
        l.as_any().downcast_ref::<StringArray>().unwrap().value(0),
        "2"
    );

    let mut v = p.clone();
    v.insert("volatile".into(), Value::Bool(true));
    assert_eq!(determinism(&v), Determinism::Volatile);
    assert_eq!(determinism(&p), Determinism::Deterministic);
    // The planner learns volatility through Engine::determinism (never cached).
    let kind = warmstart_process::kind_spec();
    assert_eq!(e.determinism(&kind, &v), Determinism::Volatile);
    assert_eq!(e.determinism(&kind, &p), Determinism::Deterministic);

    std::fs::remove_file(&script).unwrap();
    match e.key_extra(&p) {
        Err(EngineError::Param { name, message }) => {
            assert_eq!(name, "scripts");
            assert!(message.contains("s.sh"), "{message}");
        }
        other => panic!("expected a param error, got {other:?}"),
    }
}
