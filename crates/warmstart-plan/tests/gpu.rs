//! The `gpu` resource hint: at most one stage per device runs at a time (stages on other
//! devices and CPU stages run beside it), and a kind's `device` param that a stage leaves
//! unset defaults to the hinted device.

use std::collections::HashMap;
use std::sync::Arc;

use warmstart_cache::store::Store;
use warmstart_engine::{
    Determinism, Engine, EngineError, EngineInfo, KindSpec, ParamSpec, StageOutput, StageRequest,
    Value,
};
use warmstart_native::NativeEngine;
use warmstart_plan::run::{Progress, RunOptions, Status};
use warmstart_plan::{Registry, build, execute};

fn load(dir: &std::path::Path, text: &str) -> warmstart_spec::Experiment {
    let file = dir.join("e.toml");
    std::fs::write(&file, text).unwrap();
    warmstart_spec::load(&file).expect("valid experiment")
}

#[test]
fn one_stage_per_gpu_at_a_time_while_others_run_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let slow = |name: &str, gpu: &str| {
        format!("[stages.{name}]\nkind = \"echo\"\nvalue = \"{name}\"\nsleep_ms = 150\n{gpu}\n")
    };
    let text = format!(
        "[experiment]\nname = \"gpus\"\n{}{}{}{}{}",
        slow("g0a", "gpu = 0"),
        slow("g0b", "gpu = 0"),
        slow("g0c", "gpu = true"),
        slow("g1", "gpu = 1"),
        slow("cpu", ""),
    );
    let mut reg = Registry::new();
    reg.add(Arc::new(NativeEngine::new()));
    let plan = build(load(dir.path(), &text), &reg).expect("plan");
    let store = Store::open(&dir.path().join("cache")).unwrap();
    let opts = RunOptions {
        jobs: 8,
        ..RunOptions::default()
    };
    // Count, from the scheduler's own Started/Done events, how many stages run at once:
    // per device and in all.
    let mut on_device: HashMap<Option<u32>, usize> = HashMap::new();
    let mut max_on_device: HashMap<Option<u32>, usize> = HashMap::new();
    let (mut running, mut max_running) = (0usize, 0usize);
    let summary = execute(&plan, &store, &opts, &mut |p| match p {
        Progress::Started { node } => {
            let dev = plan.nodes[*node].gpu;
            let n = on_device.entry(dev).or_default();
            *n += 1;
            let m = max_on_device.entry(dev).or_default();
            *m = (*m).max(*n);
            running += 1;
            max_running = max_running.max(running);
        }
        Progress::Done(ev) if ev.status == Status::Ran => {
            *on_device.get_mut(&plan.nodes[ev.node].gpu).unwrap() -= 1;
            running -= 1;
        }
        _ => {}
    });
    assert!(summary.success(), "{:?}", summary.events);
    assert_eq!(summary.ran, 5);
    assert_eq!(max_on_device[&Some(0)], 1, "two stages shared GPU 0");
    assert_eq!(max_on_device[&Some(1)], 1);
    // One GPU-0 stage, the GPU-1 stage and the CPU stage start together.
    assert!(max_running >= 3, "max {max_running} stages at once");
}

/// An engine with one kind that declares a `device` param (default 7).
struct DeviceEngine(EngineInfo);

impl Engine for DeviceEngine {
    fn info(&self) -> &EngineInfo {
        &self.0
    }
    fn run(&self, _: &StageRequest) -> Result<StageOutput, EngineError> {
        Ok(StageOutput::default())
    }
}

#[test]
fn the_gpu_hint_is_the_default_device() {
    let dir = tempfile::tempdir().unwrap();
    let engine = DeviceEngine(EngineInfo {
        id: "dev".into(),
        version: "1".into(),
        kinds: vec![KindSpec {
            name: "on-device".into(),
            doc: "test".into(),
            params: vec![
                ParamSpec::int("device", "device")
                    .default(7i64)
                    .not_in_key(),
            ],
            determinism: Determinism::Deterministic,
            min_inputs: 0,
            max_inputs: Some(0),
            reads: vec![],
            writes: vec![],
        }],
    });
    let mut reg = Registry::new();
    reg.add(Arc::new(engine));
    let text = "[experiment]\nname = \"dev\"\n\
                [stages.hinted]\nkind = \"on-device\"\ngpu = 3\n\
                [stages.explicit]\nkind = \"on-device\"\ngpu = 3\ndevice = 1\n\
                [stages.first]\nkind = \"on-device\"\ngpu = true\n\
                [stages.none]\nkind = \"on-device\"\n";
    let plan = build(load(dir.path(), text), &reg).expect("plan");
    let device = |stage: &str| {
        let n = plan.nodes.iter().find(|n| n.stage == stage).unwrap();
        (n.gpu, n.params.get("device").cloned())
    };
    assert_eq!(device("hinted"), (Some(3), Some(Value::Int(3))));
    assert_eq!(device("explicit"), (Some(3), Some(Value::Int(1))));
    assert_eq!(device("first"), (Some(0), Some(Value::Int(0))));
    assert_eq!(device("none"), (None, Some(Value::Int(7))));
}
