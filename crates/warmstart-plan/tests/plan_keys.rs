//! The planner's keys are the cache's keys: [`node_key`] (the borrowed hot path of
//! planning) agrees with [`KeyInputs::key`](warmstart_cache::key::KeyInputs::key) for every
//! node, and the keys of a small sweep with a pick and a gather are pinned to the values
//! the planner gave before it was made linear — an optimization of planning must never
//! change a key, or every user's cache would be invalidated.

mod common;

use warmstart_cache::store::Store;
use warmstart_plan::run::RunOptions;
use warmstart_plan::status::{Freshness, key_inputs, node_key};
use warmstart_plan::{assess, execute};

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
const GOLDEN: &[(&str, &str)] = &[
    (
        "gen[a=0.5,b=0]",
        "8491ca8382e8108ce28e8f9f049e09ad3e888e44d701021b521c359c2078129d",
    ),
    (
        "gen[a=0.5,b=1]",
        "ffe6a5b7e9cf2907b0144ce059650167f349692442befa50de7cc12422406fdb",
    ),
    (
        "gen[a=0.5,b=2]",
        "798913e0ebba400309d1ae48da9f111424382562704834b1940cc90b17f60a9b",
    ),
    (
        "gen[a=2.5,b=0]",
        "9b3875d970bbfd1455ee792a53c1ed139c3a790063ac093c947c52400b2b5a86",
    ),
    (
        "gen[a=2.5,b=1]",
        "80d84eab69ac2388fa9d237b86302ec4b295754af5c54b81a5ba20f4d4f19a2f",
    ),
    (
        "gen[a=2.5,b=2]",
        "1f27405081757f4edcabd1a6e2b9972ed2277f20e2efcf3892f4f3a3254dc813",
    ),
    (
        "mid[b=0]",
        "ef028c94136b7e1e3a3981a00470f3a840f1dcd424cb449a82f25665e55aa83b",
    ),
    (
        "mid[b=1]",
        "d96a9dafb976778a491a7667f512068a8df457d079def510b5a132867b78e903",
    ),
    (
        "mid[b=2]",
        "a0fbdf7b16250a466a5e0233064a086ffdebbcd59f4406edacb8a9052f21212a",
    ),
    (
        "sum[a=0.5]",
        "10cf960e796f46d4b1f01ca8087a0461aa65ffcb32149773b63fa4e4f556ff81",
    ),
    (
        "sum[a=2.5]",
        "5fab9d5d3b2665863e1913626ee770c51d1d8393f7f841c33e64221bb07244ee",
    ),
];

#[test]
fn planned_keys_are_the_cache_keys_and_did_not_change() {
    let dir = tempfile::tempdir().unwrap();
    let plan = common::native_plan(dir.path(), EXP);
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
