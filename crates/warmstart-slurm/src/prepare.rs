//! What a Slurm run decides before it submits anything: which instances are jobs
//! (not local kinds, not volatile), the job spec of every instance that can be submitted
//! now, and whether the cache and plugins are somewhere every node can see.

use std::path::Path;

use warmstart_cache::store::Store;
use warmstart_cache::{CacheKey, Digest, DigestLookup};
use warmstart_engine::Determinism;
use warmstart_plan::Plan;
use warmstart_plan::status::{Freshness, assess, key_inputs, node_key, node_ref};

use crate::config::{SlurmConfig, runs_locally};
use crate::executor::{SlurmError, SpecContext};
use crate::jobspec::{FORMAT, InputSource, JobSpec};

/// What a run would do with each node under the Slurm executor.
#[derive(Debug)]
pub enum Planned {
    /// Fresh in the cache under this key.
    Fresh(CacheKey),
    /// Runs here, or is submitted once what runs here is done.
    Later,
    /// Can be submitted now: its job spec.
    Job(Box<JobSpec>),
}

/// The job spec of every node that can be submitted now (inputs fresh or themselves
/// submittable), in node order, and every node's spec id (its identity for the ledger,
/// whether or not it becomes a job).
pub fn plan_specs(
    plan: &Plan,
    store: &Store,
    remote: &[bool],
    ctx: &SpecContext,
) -> (Vec<Planned>, Vec<String>) {
    if let Some(keys) = all_fresh(plan, store) {
        // Nothing to submit (a no-op re-run): no spec is needed, so none is built.
        let out = keys.into_iter().map(Planned::Fresh).collect();
        return (out, vec![String::new(); plan.nodes.len()]);
    }
    let assessment = assess(plan, store);
    let fresh = &assessment.freshness;
    let mut out: Vec<Planned> = Vec::with_capacity(plan.nodes.len());
    let mut ids: Vec<String> = Vec::with_capacity(plan.nodes.len());
    for (i, node) in plan.nodes.iter().enumerate() {
        let inputs = input_sources(plan, i, &ids, |j| match &out[j] {
            Planned::Fresh(key) => Some(*key),
            _ => None,
        });
        let spec = spec_for(plan, ctx, i, inputs);
        ids.push(spec.id());
        if let Freshness::Fresh { key, .. } = &fresh[i] {
            out.push(Planned::Fresh(*key));
        } else if !remote[i]
            || node
                .inputs
                .iter()
                .any(|&j| matches!(out[j], Planned::Later))
        {
            out.push(Planned::Later);
        } else {
            out.push(Planned::Job(Box::new(spec)));
        }
    }
    (out, ids)
}

/// The key of every node when every node is fresh (as the scheduler checks it: output
/// digests through the store's lookup index, no manifest read); `None` at the first that
/// is not.
fn all_fresh(plan: &Plan, store: &Store) -> Option<Vec<CacheKey>> {
    let mut digests: Vec<Digest> = Vec::with_capacity(plan.nodes.len());
    let mut keys = Vec::with_capacity(plan.nodes.len());
    for node in &plan.nodes {
        if node.determinism() == Determinism::Volatile {
            return None;
        }
        let inputs: Vec<Digest> = node.inputs.iter().map(|&j| digests[j]).collect();
        let key = node_key(plan, node, &inputs);
        match store.lookup_digest(&key) {
            DigestLookup::Hit(d) => digests.push(d),
            _ => return None,
        }
        keys.push(key);
    }
    Some(keys)
}

/// Every node's spec id (its identity in the ledger and status records). It does not
/// depend on what is fresh (inputs' entries are not part of an id), so no cache is read.
pub fn spec_ids(plan: &Plan, ctx: &SpecContext) -> Vec<String> {
    let mut ids: Vec<String> = Vec::with_capacity(plan.nodes.len());
    for i in 0..plan.nodes.len() {
        let inputs = input_sources(plan, i, &ids, |_| None);
        ids.push(spec_for(plan, ctx, i, inputs).id());
    }
    ids
}

/// Where node `i`'s inputs come from: each upstream's spec id (from `ids`, which holds
/// at least every upstream), its entry if `entry` knows one, and its ref.
pub fn input_sources(
    plan: &Plan,
    i: usize,
    ids: &[String],
    entry: impl Fn(usize) -> Option<CacheKey>,
) -> Vec<InputSource> {
    plan.nodes[i]
        .inputs
        .iter()
        .map(|&j| InputSource {
            spec: ids.get(j).cloned().unwrap_or_default(),
            entry: entry(j),
            ref_id: node_ref(plan, &plan.nodes[j]),
        })
        .collect()
}

/// Which nodes run as Slurm jobs: not a local kind (or `local = false`), not volatile.
pub fn remote_nodes(plan: &Plan) -> Vec<bool> {
    plan.nodes
        .iter()
        .map(|node| {
            let hints = &plan.experiment.stages[node.stage_index].cluster;
            !runs_locally(&node.kind.name, hints) && node.determinism() != Determinism::Volatile
        })
        .collect()
}

/// The job spec of plan node `i` with these input sources.
pub fn spec_for(plan: &Plan, ctx: &SpecContext, i: usize, inputs: Vec<InputSource>) -> JobSpec {
    let node = &plan.nodes[i];
    let zeros = vec![warmstart_cache::Digest([0; 32]); node.inputs.len()];
    JobSpec {
        v: FORMAT,
        experiment: plan.experiment.name.clone(),
        stage: node.stage.clone(),
        coords: node.coords.clone(),
        label: node.label(),
        kind: node.kind.name.clone(),
        engine: plan.experiment.stages[node.stage_index]
            .engine
            .as_ref()
            .map(|e| e.value.clone()),
        plugins: ctx.plugins.clone(),
        base_dir: ctx.base_dir.clone(),
        params: node.params.to_params(),
        seed: node.seed,
        threads: node.threads,
        key: key_inputs(plan, node, &zeros),
        inputs,
        ref_id: node_ref(plan, node),
    }
}

/// Refuse a node-local cache, and plugins off the cache's filesystem, before anything is
/// submitted.
pub(crate) fn check_paths(
    store: &Store,
    cfg: &SlurmConfig,
    ctx: &SpecContext,
) -> Result<(), SlurmError> {
    let root = std::fs::canonicalize(store.root()).unwrap_or_else(|_| store.root().to_path_buf());
    if !cfg.allow_node_local_cache && is_node_local(&root) {
        return Err(SlurmError::NodeLocalCache(root));
    }
    if !cfg.worker_exe.is_file() {
        return Err(SlurmError::WorkerExe(cfg.worker_exe.clone()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let dev = |p: &Path| std::fs::metadata(p).map(|m| m.dev()).ok();
        let cache_dev = dev(&root);
        for (name, path) in &ctx.plugins {
            if !cfg.allow_node_local_cache && dev(path) != cache_dev {
                return Err(SlurmError::PluginElsewhere {
                    name: name.clone(),
                    path: path.clone(),
                    cache: root.clone(),
                });
            }
        }
    }
    Ok(())
}

/// Paths that are private to one machine on every cluster.
fn is_node_local(p: &Path) -> bool {
    ["/tmp", "/dev/shm", "/run", "/var/run"]
        .iter()
        .any(|d| p.starts_with(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_local_paths() {
        assert!(is_node_local(Path::new("/tmp/x/cache")));
        assert!(is_node_local(Path::new("/dev/shm/c")));
        assert!(!is_node_local(Path::new("/scratch/c")));
        assert!(!is_node_local(Path::new("/tmpfoo")));
    }
}
