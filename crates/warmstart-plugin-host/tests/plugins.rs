//! End-to-end tests of the plugin host against real plugin libraries: the ridge example
//! plugin and the fault plugins under `plugins/`, built on demand with the same cargo.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use warmstart_engine::{Engine, EngineError, NamedTable, Params, StageInput, StageRequest, Value};
use warmstart_plugin_host::{PluginEngine, PluginError, describe, resolve_plugin_path};

const CRATES: [&str; 5] = [
    "warmstart-plugin-ridge",
    "warmstart-plugin-loss",
    "warmstart-plugin-fault",
    "warmstart-plugin-fault-abi",
    "warmstart-plugin-fault-nosymbol",
];

/// Build the plugin crates once; map crate name → path of its shared library.
fn plugins() -> &'static HashMap<String, PathBuf> {
    static BUILT: OnceLock<HashMap<String, PathBuf>> = OnceLock::new();
    BUILT.get_or_init(|| {
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(["build", "--message-format=json"]);
        for c in CRATES {
            cmd.args(["-p", c]);
        }
        let out = cmd
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("run cargo build");
        assert!(
            out.status.success(),
            "building the plugins failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut map = HashMap::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            if v["reason"] != "compiler-artifact" {
                continue;
            }
            let name = v["target"]["name"]
                .as_str()
                .unwrap_or_default()
                .replace('_', "-");
            if !CRATES.contains(&name.as_str()) {
                continue;
            }
            for f in v["filenames"].as_array().into_iter().flatten() {
                let f = PathBuf::from(f.as_str().unwrap_or_default());
                let ext = f.extension().and_then(|e| e.to_str()).unwrap_or_default();
                if matches!(ext, "so" | "dylib" | "dll") {
                    map.insert(name.clone(), f);
                }
            }
        }
        for c in CRATES {
            assert!(map.contains_key(c), "no shared library found for {c}");
        }
        map
    })
}

fn lib(name: &str) -> &'static Path {
    &plugins()[name]
}

fn request(kind: &str, params: &[(&str, Value)]) -> StageRequest {
    StageRequest {
        stage: "s".into(),
        coords: vec![("alpha".into(), Value::Float(0.5))],
        kind: kind.into(),
        params: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect::<Params>(),
        seed: 7,
        inputs: vec![],
        threads: 1,
        scratch_dir: None,
        base_dir: None,
    }
}

/// Params with the kind's defaults filled in, as the planner would do.
fn with_defaults(e: &PluginEngine, mut req: StageRequest) -> StageRequest {
    for p in &e.info().kind(&req.kind).unwrap().params {
        if let Some(d) = &p.default {
            req.params
                .entry(p.name.clone())
                .or_insert_with(|| d.clone());
        }
    }
    req
}

fn fault(mode: &str) -> (PluginEngine, StageRequest) {
    let e = PluginEngine::load(lib("warmstart-plugin-fault")).unwrap();
    let req = with_defaults(&e, request("fault", &[("mode", Value::Str(mode.into()))]));
    (e, req)
}

fn failed_message(r: Result<warmstart_engine::StageOutput, EngineError>) -> String {
    match r {
        Err(EngineError::Failed(m)) => {
            eprintln!("message: {m}");
            m
        }
        other => panic!("expected a Failed error, got {other:?}"),
    }
}

#[test]
fn ridge_plugin_loads_and_runs() {
    let e = PluginEngine::load(lib("warmstart-plugin-ridge")).unwrap();
    assert_eq!(e.info().id, "ridge");
    let req = with_defaults(
        &e,
        request(
            "ridge-w2s",
            &[
                ("d", Value::Int(100)),
                ("lambda_s", Value::List(vec![Value::Float(0.3)])),
                ("trials", Value::Int(3)),
            ],
        ),
    );
    let out = e.run(&req).unwrap();
    let t = &out.tables[0];
    assert_eq!(t.name, "out");
    let col = |n: &str| {
        t.batch
            .column_by_name(n)
            .unwrap()
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap()
            .value(0)
    };
    // science.md §2: 0.373 / 0.347 asymptotically; simulation at d=100 within ~15%.
    assert!((col("teacher_excess_theory") - 0.373).abs() < 2e-3);
    assert!((col("student_excess_theory") - 0.347).abs() < 2e-3);
    let (ts, ss) = (col("teacher_excess_sim"), col("student_excess_sim"));
    assert!((ts / 0.373 - 1.0).abs() < 0.15, "teacher sim {ts}");
    assert!((ss / 0.347 - 1.0).abs() < 0.15, "student sim {ss}");
    // Seeded: same seed, same output.
    let again = e.run(&req).unwrap();
    assert_eq!(again.tables[0].batch, t.batch);

    let key = e.key_extra(&req.params).unwrap();
    assert_eq!(key[0].0, "plugin_blake3");
    let bytes = std::fs::read(lib("warmstart-plugin-ridge")).unwrap();
    assert_eq!(key[0].1, blake3::hash(&bytes).to_hex().to_string());
}

#[test]
fn loss_plugin_loads_and_runs() {
    let e = PluginEngine::load(lib("warmstart-plugin-loss")).unwrap();
    assert_eq!(e.info().kinds[0].name, "reverse-ce-head");
    let req = with_defaults(
        &e,
        request("reverse-ce-head", &[("n_train", Value::Int(500))]),
    );
    let out = e.run(&req).unwrap();
    let b = &out.tables[0].batch;
    assert_eq!(b.num_rows(), 2);
    let loss = b.column_by_name("loss").unwrap();
    let loss = loss.as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!((loss.value(0), loss.value(1)), ("bce", "reverse-ce"));
    let acc = b.column_by_name("test_acc").unwrap();
    let acc = acc.as_any().downcast_ref::<Float64Array>().unwrap();
    assert!(
        acc.values().iter().all(|a| *a > 0.6 && *a <= 1.0),
        "{acc:?}"
    );
    // A param the plugin itself rejects (the schema allows it; the plugin does not).
    let mut bad = req.clone();
    bad.params.insert("loss".into(), Value::Str("mse".into()));
    assert!(matches!(e.run(&bad), Err(EngineError::Param { name, .. }) if name == "loss"));
}

#[test]
fn output_outlives_the_engine() {
    // The imported arrays keep the library loaded: dropping the engine first is fine.
    let (e, mut req) = fault("ok");
    let input = RecordBatch::try_from_iter(vec![
        ("a", Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef),
        (
            "b",
            Arc::new(StringArray::from(vec![Some("x"), None, Some("z")])) as _,
        ),
    ])
    .unwrap();
    req.inputs.push(StageInput {
        stage: "up".into(),
        coords: vec![("k".into(), Value::Int(2))],
        tables: vec![NamedTable::new("out", input.clone())],
    });
    let out = e.run(&req).unwrap();
    drop(e);
    assert_eq!(out.tables.len(), 2);
    assert_eq!(out.tables[1].name, "in-0");
    assert_eq!(out.tables[1].batch, input);
    let x = out.tables[0].batch.column(0);
    assert_eq!(x.as_any().downcast_ref::<Int64Array>().unwrap().value(0), 7);
    drop(out);
}

#[test]
fn describe_lists_kinds_and_params() {
    let s = describe(lib("warmstart-plugin-ridge")).unwrap();
    assert!(s.contains("engine  ridge (version 1)"), "{s}");
    assert!(s.contains("kind `ridge-w2s` (seeded)"), "{s}");
    assert!(s.contains("lambda_t"), "{s}");
}

#[test]
fn fault_missing_file() {
    let err = PluginEngine::load("/nonexistent/libnothing.so").unwrap_err();
    assert!(matches!(err, PluginError::NotFound { .. }));
    let m = err.to_string();
    eprintln!("message: {m}");
    assert!(
        m.contains("/nonexistent/libnothing.so") && m.contains("Build the plugin"),
        "{m}"
    );
}

#[test]
fn fault_not_a_shared_library() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("libfake.so");
    std::fs::write(&p, "this is a text file, not a library\n").unwrap();
    let err = PluginEngine::load(&p).unwrap_err();
    assert!(matches!(err, PluginError::NotALibrary { .. }), "{err:?}");
    let m = err.to_string();
    eprintln!("message: {m}");
    assert!(m.contains("libfake.so") && m.contains("cdylib"), "{m}");
}

#[test]
fn fault_missing_symbol() {
    let err = PluginEngine::load(lib("warmstart-plugin-fault-nosymbol")).unwrap_err();
    assert!(matches!(err, PluginError::MissingSymbol { .. }), "{err:?}");
    let m = err.to_string();
    eprintln!("message: {m}");
    assert!(
        m.contains("warmstart_plugin_v1") && m.contains("export_plugin!"),
        "{m}"
    );
    assert!(m.contains("fault_nosymbol"), "{m}");
}

#[test]
fn fault_wrong_abi_version() {
    let err = PluginEngine::load(lib("warmstart-plugin-fault-abi")).unwrap_err();
    match &err {
        PluginError::AbiMismatch {
            found, expected, ..
        } => {
            assert_eq!(*found, 999);
            assert_eq!(*expected, warmstart_plugin_abi::ABI_VERSION);
        }
        other => panic!("expected AbiMismatch, got {other:?}"),
    }
    let m = err.to_string();
    eprintln!("message: {m}");
    assert!(
        m.contains("fault_abi") && m.contains("Rebuild the plugin"),
        "{m}"
    );
}

#[test]
fn fault_panic_in_run_is_a_stage_error() {
    let (e, req) = fault("panic");
    let m = failed_message(e.run(&req));
    assert!(m.contains("plugin ") && m.contains("fault"), "{m}");
    assert!(
        m.contains("panicked") && m.contains("deliberate panic"),
        "{m}"
    );
    // The plugin is still usable afterwards.
    let (e2, ok) = fault("ok");
    assert!(e2.run(&ok).is_ok());
    drop(e);
}

#[test]
fn fault_param_rejected_by_plugin() {
    let (e, req) = fault("reject");
    match e.run(&req) {
        Err(EngineError::Param { name, message }) => {
            assert_eq!(name, "level");
            assert!(message.contains("not accepted"), "{message}");
            assert!(
                message.contains("rejected by plugin") && message.contains("fault"),
                "{message}"
            );
        }
        other => panic!("expected a param error, got {other:?}"),
    }
}

#[test]
fn fault_bad_table_name() {
    let (e, req) = fault("bad-name");
    let m = failed_message(e.run(&req));
    assert!(
        m.contains("\"Bad Name\"") && m.contains("[a-z0-9_-]+"),
        "{m}"
    );
}

#[test]
fn fault_output_not_a_struct_array() {
    let (e, req) = fault("not-struct");
    let m = failed_message(e.run(&req));
    assert!(
        m.contains("not a valid Arrow table") && m.contains("struct array"),
        "{m}"
    );
    assert!(m.contains("bug in the plugin"), "{m}");
}

#[test]
fn fault_malformed_arrow_output() {
    let (e, req) = fault("bad-arrow");
    let m = failed_message(e.run(&req));
    assert!(
        m.contains("not a valid Arrow table") && m.contains("UTF8"),
        "{m}"
    );
    assert!(m.contains("libwarmstart_plugin_fault"), "{m}");
}

#[test]
fn fault_struct_longer_than_its_columns() {
    let (e, req) = fault("bad-length");
    let m = failed_message(e.run(&req));
    assert!(
        m.contains("not a valid Arrow table") && m.contains("bug in the plugin"),
        "{m}"
    );
}

#[test]
fn unknown_kind_is_refused_by_the_host() {
    let (e, mut req) = fault("ok");
    req.kind = "nope".into();
    let m = failed_message(e.run(&req));
    assert!(m.contains("does not declare this kind"), "{m}");
}

#[test]
fn many_threads_share_one_engine() {
    let e = Arc::new(PluginEngine::load(lib("warmstart-plugin-fault")).unwrap());
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let e = e.clone();
            std::thread::spawn(move || {
                let mut req = with_defaults(&e, request("fault", &[]));
                req.seed = i;
                let out = e.run(&req).unwrap();
                let c = out.tables[0].batch.column(0).clone();
                c.as_any().downcast_ref::<Int64Array>().unwrap().value(0)
            })
        })
        .collect();
    let got: Vec<i64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(got, vec![0, 1, 2, 3]);
}

#[test]
fn plugin_paths_resolve_relative_to_the_experiment_and_without_platform_naming() {
    let so = lib("warmstart-plugin-ridge");
    let dir = so.parent().unwrap();
    let stem = so.file_stem().unwrap().to_str().unwrap();
    let bare = stem.strip_prefix(std::env::consts::DLL_PREFIX).unwrap();
    assert_eq!(resolve_plugin_path(Some(dir), bare), so);
    assert_eq!(resolve_plugin_path(Some(dir), so.file_name().unwrap()), so);
    assert_eq!(resolve_plugin_path(Some(Path::new("/elsewhere")), so), so);
    let missing = resolve_plugin_path(Some(dir), "no-such-plugin");
    assert_eq!(missing, dir.join("no-such-plugin"));
}
