//! A missing or broken ONNX Runtime library is a clear error with the install hint, never a
//! panic. (Its own test binary: the runtime is loaded once per process.)

mod common;

use common::*;
use warmstart_engine::Value;
use warmstart_onnx::OnnxEngine;

#[test]
fn a_non_library_at_ort_dylib_path_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("libonnxruntime.so");
    std::fs::write(&fake, b"not a shared library").unwrap();
    // SAFETY: the only test in this binary; no other thread reads the environment.
    unsafe { std::env::set_var("ORT_DYLIB_PATH", &fake) };

    let e = warmstart_onnx::runtime::runtime()
        .err()
        .expect("must fail")
        .to_string();
    assert!(e.contains("pip install onnxruntime==1.31.1"), "{e}");
    assert!(e.contains("ORT_DYLIB_PATH"), "{e}");
    assert!(e.contains(&fake.display().to_string()), "{e}");

    // Constructing the engine never fails; the stage fails with the same message.
    let engine = OnnxEngine::with_base_dir(repo());
    let data = run(
        &engine,
        "dataset",
        &[
            ("path", "fixtures/hh-mini/test.jsonl".into()),
            ("limit", Value::Int(2)),
        ],
        vec![],
    )
    .unwrap();
    let e = run(
        &engine,
        "embed",
        &[("checkpoint", "fixtures/tiny-suite/strong/step-00001".into())],
        vec![input("data", &data)],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("pip install onnxruntime==1.31.1"), "{e}");

    // An ORT_DYLIB_PATH that does not exist is named too.
    // SAFETY: the only test in this binary; no other thread reads the environment.
    unsafe { std::env::set_var("ORT_DYLIB_PATH", dir.path().join("nope.so")) };
    let e = warmstart_onnx::runtime::find_library()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("nope.so") && e.contains("pip install onnxruntime==1.31.1"),
        "{e}"
    );
}
