//! Helpers shared by the planner's integration tests.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use warmstart_native::NativeEngine;
use warmstart_plan::{Plan, Registry, build};

/// The plan of experiment `text`, written to `dir/e.toml`, bound to the native engine.
pub fn native_plan(dir: &Path, text: &str) -> Plan {
    let file = dir.join("e.toml");
    std::fs::write(&file, text).unwrap();
    let exp = warmstart_spec::load(&file).expect("valid experiment");
    let mut reg = Registry::new();
    reg.add(Arc::new(NativeEngine::new()));
    build(exp, &reg).expect("plan")
}
