//! What `plan` and `why` show, as data: every instance with its freshness and the reasons
//! it would run ([`plan_rows`]), and one instance's key explained component by component
//! ([`explain`]).

use serde::Serialize;
use warmstart_cache::{CacheKey, Digest};
use warmstart_engine::Value;
use warmstart_plan::status::Freshness;
use warmstart_plan::{Assessment, Plan};

use crate::events::{Coords, coords};

/// One stage instance of a plan: fresh (its output is in the cache) or stale, and why.
#[derive(Debug, Clone, Serialize)]
pub struct PlanRow {
    /// `stage` or `stage[a=1,b=2]`.
    pub label: String,
    /// The stage's name.
    pub stage: String,
    /// The instance's coordinates.
    pub coords: Coords,
    /// Its cache key; unknown (`None`) while an input must be recomputed first.
    pub key: Option<CacheKey>,
    /// Whether its output is in the cache and valid.
    pub fresh: bool,
    /// Why it would run (empty when fresh).
    pub reasons: Vec<String>,
}

/// Every instance of `plan`, in plan order, as `assessment` (of the same plan) found it.
pub fn plan_rows(plan: &Plan, assessment: &Assessment) -> Vec<PlanRow> {
    plan.nodes
        .iter()
        .zip(&assessment.freshness)
        .map(|(node, f)| PlanRow {
            label: node.label(),
            stage: node.stage.clone(),
            coords: coords(&node.coords),
            key: f.key(),
            fresh: f.is_fresh(),
            reasons: match f {
                Freshness::Fresh { .. } => Vec::new(),
                Freshness::Stale { reasons, .. } => reasons.clone(),
            },
        })
        .collect()
}

/// Several instances of one stage with one key: the stage is swept over axes its params
/// (and seed) do not use, so they compute the same thing (a run computes it once).
#[derive(Debug, Clone, Serialize)]
pub struct SharedKey {
    /// The stage.
    pub stage: String,
    /// How many of its instances share the key.
    pub instances: usize,
    /// The axes along which those instances differ (which their params do not use).
    pub axes: Vec<String>,
}

/// Every group of instances of one stage that share a known key, in plan order.
pub fn shared_keys(rows: &[PlanRow]) -> Vec<SharedKey> {
    let mut groups: Vec<(CacheKey, Vec<usize>)> = Vec::new();
    let mut index: std::collections::HashMap<CacheKey, usize> = std::collections::HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        let Some(k) = r.key else { continue };
        match index.get(&k) {
            Some(&g) => groups[g].1.push(i),
            None => {
                index.insert(k, groups.len());
                groups.push((k, vec![i]));
            }
        }
    }
    groups
        .into_iter()
        .filter(|(_, m)| m.len() > 1)
        .map(|(_, m)| {
            let first = &rows[m[0]];
            let axes = first
                .coords
                .keys()
                .filter(|a| {
                    m.iter()
                        .any(|&i| rows[i].coords.get(*a) != first.coords.get(*a))
                })
                .cloned()
                .collect();
            SharedKey {
                stage: first.stage.clone(),
                instances: m.len(),
                axes,
            }
        })
        .collect()
}

/// Where an instance's seed comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "origin", content = "seed", rename_all = "kebab-case")]
pub enum SeedOrigin {
    /// Given in the stage's table.
    Explicit(u64),
    /// Derived from the experiment seed, the stage name and the coordinates.
    Derived(u64),
    /// The kind is deterministic: no seed in the key.
    NotInKey,
}

/// One input of an instance, as its key sees it.
#[derive(Debug, Clone, Serialize)]
pub struct ExplainedInput {
    /// The input instance's label.
    pub label: String,
    /// Its output digest, or `None` when it must be recomputed first.
    pub digest: Option<Digest>,
}

/// Whether an instance would run, and what is known either way.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Verdict {
    /// Its output is in the cache.
    Cached {
        /// The digest of its output tables.
        output_digest: Digest,
        /// How many tables it has.
        tables: usize,
        /// How long it ran.
        duration_ms: u64,
    },
    /// It would run.
    WillRun {
        /// Why.
        reasons: Vec<String>,
    },
}

/// One instance's cache key, component by component (`warmstart why`).
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// `stage` or `stage[a=1,b=2]`.
    pub label: String,
    /// Whether its output is in the cache and valid.
    pub fresh: bool,
    /// The key; `None` until its inputs are recomputed.
    pub key: Option<CacheKey>,
    /// The stage's kind.
    pub kind: String,
    /// The engine's id.
    pub engine_id: String,
    /// The engine's version.
    pub engine_version: String,
    /// What else the engine puts in the key (e.g. a plugin file's digest).
    pub engine_extra: Vec<(String, String)>,
    /// Params that are part of the key.
    pub params: Vec<(String, Value)>,
    /// Params the stage has that are not part of the key.
    pub not_in_key: Vec<(String, Value)>,
    /// The seed, and where it comes from.
    pub seed: SeedOrigin,
    /// The inputs, in order.
    pub inputs: Vec<ExplainedInput>,
    /// Whether it would run.
    pub verdict: Verdict,
}

/// Explain the key of each instance in `nodes` (indices into `plan.nodes`; out-of-range
/// ones are left out).
pub fn explain(plan: &Plan, assessment: &Assessment, nodes: &[usize]) -> Vec<Explanation> {
    nodes
        .iter()
        .filter_map(|&i| explain_one(plan, assessment, i))
        .collect()
}

fn explain_one(plan: &Plan, a: &Assessment, i: usize) -> Option<Explanation> {
    let node = plan.nodes.get(i)?;
    let ki = a.key_inputs(plan, i)?;
    let f = a.freshness.get(i)?;
    let not_in_key = node
        .params
        .iter()
        .filter(|(k, _)| !ki.params.contains_key(*k))
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let explicit = plan
        .experiment
        .stages
        .get(node.stage_index)
        .is_some_and(|s| s.seed.is_some());
    let seed = match ki.seed {
        Some(s) if explicit => SeedOrigin::Explicit(s),
        Some(s) => SeedOrigin::Derived(s),
        None => SeedOrigin::NotInKey,
    };
    let inputs = ki
        .inputs
        .iter()
        .zip(&node.inputs)
        .map(|(inp, &j)| ExplainedInput {
            label: plan.nodes.get(j).map(|n| n.label()).unwrap_or_default(),
            digest: a
                .freshness
                .get(j)
                .is_some_and(Freshness::is_fresh)
                .then_some(inp.digest),
        })
        .collect();
    let verdict = match f {
        Freshness::Fresh { manifest, .. } => Verdict::Cached {
            output_digest: manifest.output_digest,
            tables: manifest.outputs.len(),
            duration_ms: manifest.duration_ms,
        },
        Freshness::Stale { reasons, .. } => Verdict::WillRun {
            reasons: reasons.clone(),
        },
    };
    Some(Explanation {
        label: node.label(),
        fresh: f.is_fresh(),
        key: f.key(),
        kind: ki.kind,
        engine_id: ki.engine_id,
        engine_version: ki.engine_version,
        engine_extra: ki.engine_extra,
        params: ki.params.into_iter().collect(),
        not_in_key,
        seed,
        inputs,
        verdict,
    })
}
