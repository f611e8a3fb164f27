//! The planner's keys are the cache's keys: [`node_key`] (the borrowed hot path of
//! planning) agrees with [`KeyInputs::key`](warmstart_cache::key::KeyInputs::key) for every
//! node, and the keys of a small sweep with a pick and a gather are pinned to the values
//! the planner gave before it was made linear — an optimization of planning must never
//! change a key, or every user's cache would be invalidated.

use std::sync::Arc;

use warmstart_cache::store::Store;
use warmstart_native::NativeEngine;
use warmstart_plan::run::RunOptions;
use warmstart_plan::status::{Freshness, key_inputs, node_key};
use warmstart_plan::{Registry, assess, build, execute};

const EXP: &str = r#"
[experiment]
name = "keys"
seed = 7
[sweep]
a = [0.5, 2.5]
b = { range = [0, 3] }
[stages.gen]
kind = "echo"
value = "${a}-${b}"
sleep_ms = 0
[stages.mid]
kind = "echo"
inputs = [{ stage = "gen", pick = { a = 2.5 } }]
value = "${b}"
[stages.sum]
kind = "echo"
inputs = ["gen", "mid"]
gather = ["b"]
value = "sum"
"#;

/// `(label, key)` of every node, as the planner computed them before planning was made
/// linear (`warmstart plan --json` of the main branch's binary after a run).
const GOLDEN: &[(&str, &str)] = &[];

#[test]
fn planned_keys_are_the_cache_keys_and_did_not_change() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keys.toml");
    std::fs::write(&file, EXP).unwrap();
    let exp = warmstart_spec::load(&file).expect("valid experiment");
    let mut reg = Registry::new();
    reg.add(Arc::new(NativeEngine::new()));
    let plan = build(exp, &reg).expect("plan");
    let store = Store::open(&dir.path().join("cache")).unwrap();
    let summary = execute(&plan, &store, &RunOptions::default(), &mut |_| {});
    assert_eq!(summary.events.len(), plan.nodes.len());

    let a = assess(&plan, &store);
    let mut got = Vec::new();
    for (i, node) in plan.nodes.iter().enumerate() {
        let Freshness::Fresh { key, manifest } = &a.freshness[i] else {
            panic!("{} is not fresh after a run", node.label());
        };
        let digests: Vec<_> = node
            .inputs
            .iter()
            .map(|&j| match &a.freshness[j] {
                Freshness::Fresh { manifest, .. } => manifest.output_digest,
                Freshness::Stale { .. } => panic!("input of {} is stale", node.label()),
            })
            .collect();
        let owned = key_inputs(&plan, node, &digests);
        assert_eq!(
            node_key(&plan, node, &digests),
            owned.key(),
            "{}",
            node.label()
        );
        assert_eq!(owned, manifest.inputs, "{}", node.label());
        assert_eq!(a.key_inputs(&plan, i).as_ref(), Some(&owned));
        got.push((node.label(), key.to_string()));
    }
    let want: Vec<(String, String)> = GOLDEN
        .iter()
        .map(|(l, k)| (l.to_string(), k.to_string()))
        .collect();
    assert_eq!(got, want);
}
