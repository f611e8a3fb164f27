//! Freshness: what would run, and why — without running anything.
//!
//! A node is *fresh* when its key is known and the cache holds a healthy entry under it.
//! A node's key depends on its inputs' output digests, so it is known only when all its
//! inputs are fresh; a stale input makes every downstream key unknown until it re-runs
//! (and if it re-runs to identical bytes, downstream stays cached — that is decided at run
//! time, see [`crate::run`]).
//!
//! For a stale node the reasons come from diffing its key inputs against the manifest of
//! the last entry recorded for the same stage instance (a "ref": experiment name, stage
//! name and coordinates), component by component.

use warmstart_cache::CacheKey;
use warmstart_cache::key::{Change, Digest, InputDigest, KeyInputs, KeyParts, diff, ref_id};
use warmstart_cache::store::{Lookup, Manifest, Store};
use warmstart_engine::Determinism;

use crate::plan::{Node, Plan, label};

/// The freshness of one node.
#[derive(Debug, Clone)]
pub enum Freshness {
    Fresh {
        key: CacheKey,
        manifest: Box<Manifest>,
    },
    Stale {
        /// Known when every input is fresh.
        key: Option<CacheKey>,
        reasons: Vec<String>,
    },
}

impl Freshness {
    pub fn is_fresh(&self) -> bool {
        matches!(self, Freshness::Fresh { .. })
    }
    pub fn key(&self) -> Option<CacheKey> {
        match self {
            Freshness::Fresh { key, .. } => Some(*key),
            Freshness::Stale { key, .. } => *key,
        }
    }
}

/// Freshness of every node.
pub struct Assessment {
    pub freshness: Vec<Freshness>,
}

impl Assessment {
    /// The key inputs of node `i` (`None` if there is no such node); input digests not yet known are all-zero placeholders.
    /// Built on demand: holding them for every node would cost more memory than the plan.
    pub fn key_inputs(&self, plan: &Plan, i: usize) -> Option<KeyInputs> {
        let node = plan.nodes.get(i)?;
        Some(key_inputs(plan, node, &self.input_digests(node)))
    }

    /// The output digests of a node's inputs, [`UNKNOWN`] for those that are not fresh.
    fn input_digests(&self, node: &Node) -> Vec<Digest> {
        input_digests(&self.freshness, node)
            .into_iter()
            .map(|d| d.unwrap_or(UNKNOWN))
            .collect()
    }
}

/// The output digests of a node's inputs, `None` for those that are not fresh.
fn input_digests(freshness: &[Freshness], node: &Node) -> Vec<Option<Digest>> {
    node.inputs
        .iter()
        .map(|&j| match freshness.get(j) {
            Some(Freshness::Fresh { manifest, .. }) => Some(manifest.output_digest),
            _ => None,
        })
        .collect()
}

/// The key inputs of a node given its inputs' output digests.
pub fn key_inputs(plan: &Plan, node: &Node, input_digests: &[Digest]) -> KeyInputs {
    let info = node.engine.info();
    KeyInputs {
        kind: node.kind.name.clone(),
        engine_id: info.id.clone(),
        engine_version: info.version.clone(),
        engine_extra: node.engine_extra.clone(),
        params: node
            .key_params()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        seed: match node.determinism() {
            Determinism::Deterministic => None,
            Determinism::Seeded | Determinism::Volatile => Some(node.seed),
        },
        inputs: node
            .inputs
            .iter()
            .zip(input_digests)
            .map(|(&j, d)| InputDigest {
                stage: plan.nodes[j].stage.clone(),
                coords: plan.nodes[j].coords.clone(),
                digest: *d,
            })
            .collect(),
    }
}

/// The key of a node given its inputs' output digests: `key_inputs(..).key()` without
/// building the owned [`KeyInputs`] (one key per stage instance is the planner's hot path).
pub fn node_key(plan: &Plan, node: &Node, input_digests: &[Digest]) -> CacheKey {
    let info = node.engine.info();
    KeyParts {
        kind: &node.kind.name,
        engine_id: &info.id,
        engine_version: &info.version,
        engine_extra: &node.engine_extra,
        params: node.key_params(),
        seed: match node.determinism() {
            Determinism::Deterministic => None,
            Determinism::Seeded | Determinism::Volatile => Some(node.seed),
        },
        inputs: node.inputs.iter().zip(input_digests).map(|(&j, d)| {
            let up = &plan.nodes[j];
            (up.stage.as_str(), up.coords.as_slice(), d)
        }),
    }
    .key()
}

/// The identity of a node across edits of the experiment (for "why did this re-run").
pub fn node_ref(plan: &Plan, node: &Node) -> String {
    ref_id(&plan.experiment.name, &node.stage, &node.coords)
}

const UNKNOWN: Digest = Digest([0; 32]);

/// Assess every node of the plan against the store.
pub fn assess(plan: &Plan, store: &Store) -> Assessment {
    let mut freshness: Vec<Freshness> = Vec::with_capacity(plan.nodes.len());
    let refs = Refs::new(store);
    for node in &plan.nodes {
        let digests = input_digests(&freshness, node);
        let known = digests.iter().all(Option::is_some);
        let filled: Vec<Digest> = digests.iter().map(|d| d.unwrap_or(UNKNOWN)).collect();
        let f = if node.determinism() == Determinism::Volatile {
            Freshness::Stale {
                key: known.then(|| node_key(plan, node, &filled)),
                reasons: vec!["volatile kind: runs every time, never cached".into()],
            }
        } else if known {
            let key = node_key(plan, node, &filled);
            match store.lookup(&key) {
                Lookup::Hit(m) => Freshness::Fresh {
                    key,
                    manifest: Box::new(m),
                },
                Lookup::Corrupt(reason) => Freshness::Stale {
                    key: Some(key),
                    reasons: vec![format!(
                        "cache entry corrupt ({reason}): will be recomputed"
                    )],
                },
                Lookup::Missing => Freshness::Stale {
                    key: Some(key),
                    reasons: reasons_from_ref(plan, node, &refs, &filled, &[]),
                },
            }
        } else {
            let pending: Vec<String> = node
                .inputs
                .iter()
                .zip(&digests)
                .filter(|(_, d)| d.is_none())
                .map(|(&j, _)| label(&plan.nodes[j].stage, &plan.nodes[j].coords))
                .collect();
            Freshness::Stale {
                key: None,
                reasons: reasons_from_ref(plan, node, &refs, &filled, &pending),
            }
        };
        freshness.push(f);
    }
    Assessment { freshness }
}

/// The refs of a store, listed once (on the first miss) so that a plan of many new
/// instances does not try to open one missing ref file per instance.
struct Refs<'a> {
    store: &'a Store,
    listed: std::cell::OnceCell<Option<std::collections::HashSet<String>>>,
}

impl<'a> Refs<'a> {
    fn new(store: &'a Store) -> Refs<'a> {
        Refs {
            store,
            listed: std::cell::OnceCell::new(),
        }
    }

    /// The manifest of the last entry recorded for the ref `ref_id()` names, if it is
    /// still healthy (the id is not even computed when the store has no refs).
    fn last_entry(&self, ref_id: impl FnOnce() -> String) -> Option<Manifest> {
        let listed = self.listed.get_or_init(|| self.store.ref_ids().ok());
        if listed.as_ref().is_some_and(|ids| ids.is_empty()) {
            return None;
        }
        let ref_id = ref_id();
        if listed.as_ref().is_some_and(|ids| !ids.contains(&ref_id)) {
            return None;
        }
        match self.store.lookup(&self.store.get_ref(&ref_id)?) {
            Lookup::Hit(m) => Some(m),
            _ => None,
        }
    }
}

/// Why a node with no healthy entry must run: its changes against the last recorded entry.
fn reasons_from_ref(
    plan: &Plan,
    node: &Node,
    refs: &Refs<'_>,
    input_digests: &[Digest],
    pending: &[String],
) -> Vec<String> {
    let mut reasons: Vec<String> = pending
        .iter()
        .map(|p| format!("input `{p}` will be recomputed"))
        .collect();
    let old = refs.last_entry(|| node_ref(plan, node));
    match old {
        None if pending.is_empty() => {
            reasons.push("new: no earlier entry for this stage instance".into());
        }
        None => {}
        Some(m) => {
            let changes = diff(&m.inputs, &key_inputs(plan, node, input_digests));
            for c in changes {
                // Inputs whose new digest is unknown are already reported as pending.
                if let Change::InputChanged { new, .. } = &c
                    && *new == UNKNOWN
                {
                    continue;
                }
                reasons.push(c.to_string());
            }
            if reasons.is_empty() {
                reasons.push("entry missing (deleted or garbage-collected)".into());
            }
        }
    }
    reasons
}
