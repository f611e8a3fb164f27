//! Binding an expanded experiment to engines: the [`Plan`].
//!
//! Everything a user can get wrong about a stage *given the engines* is checked here, with
//! errors that point into the experiment file: an unknown kind or engine, a kind the chosen
//! engine does not offer, an unknown param (with a "did you mean"), a missing required
//! param, a value of the wrong type or out of the declared range, too few or too many
//! inputs, and a param naming a column its input will not have (`columns`). File-level errors (syntax, sweeps, cycles, expressions) were caught earlier by
//! `warmstart-spec`.

use std::collections::HashMap;
use std::sync::Arc;

use warmstart_cache::key::derive_seed;
use warmstart_engine::{Determinism, Engine, KindSpec, ParamType, Value};
use warmstart_spec::{Experiment, SpecError, SpecErrors, did_you_mean, expand};

use crate::node_params::NodeParams;
use crate::registry::Registry;

/// One stage instance, bound to its engine and ready to run.
pub struct Node {
    /// Index into `Experiment::stages`.
    pub stage_index: usize,
    pub stage: String,
    pub coords: Vec<(String, Value)>,
    pub engine: Arc<dyn Engine>,
    /// Shared by every node of the stage (a kind's spec is the same for all its instances).
    pub kind: Arc<KindSpec>,
    /// Checked params with defaults filled in (what the engine receives, in compact
    /// form: [`NodeParams::to_params`]).
    pub params: NodeParams,
    /// Extra key components from the engine (plugin digest, model digest, …).
    pub engine_extra: Vec<(String, String)>,
    pub seed: u64,
    /// The engine's determinism for this stage (worked out once, at planning).
    pub determinism: Determinism,
    pub threads: usize,
    /// The `gpu` hint as a device number (`gpu = true` is device 0): the scheduler runs at
    /// most one such stage per device at a time, and a kind's `device` param that the
    /// stage leaves unset defaults to it.
    pub gpu: Option<u32>,
    /// Upstream nodes, in the order the engine receives them.
    pub inputs: Vec<usize>,
}

impl Node {
    /// `stage` or `stage[alpha=0.5,rho=0.6]`: how a node is named to users.
    pub fn label(&self) -> String {
        label(&self.stage, &self.coords)
    }

    pub fn determinism(&self) -> Determinism {
        self.determinism
    }

    /// The params that enter the cache key (those the kind declares `in_key`), sorted by
    /// name. Derived rather than stored: a second map per node would double the planner's
    /// memory for large sweeps.
    pub fn key_params(&self) -> impl Iterator<Item = (&str, &Value)> + Clone {
        self.params.iter().filter(|(name, _)| {
            self.kind
                .params
                .iter()
                .find(|p| p.name == *name)
                .is_none_or(|p| p.in_key)
        })
    }
}

/// The device number of a `gpu` hint: `true` → 0, `N` → N, `false` or absent → none.
fn gpu_device(hint: Option<&Value>) -> Option<u32> {
    match hint {
        Some(Value::Bool(true)) => Some(0),
        Some(Value::Int(n)) => u32::try_from(*n).ok(),
        _ => None,
    }
}

/// `stage` or `stage[a=1,b=2]`: the engine crate's one label, re-exported for the
/// planner's and the CLI's callers.
pub use warmstart_engine::identity::label;

/// A checked, engine-bound experiment.
pub struct Plan {
    pub experiment: Experiment,
    /// In topological order: every node's inputs come before it.
    pub nodes: Vec<Node>,
}

impl Plan {
    /// Nodes of the named stage.
    pub fn nodes_of(&self, stage: &str) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].stage == stage)
            .collect()
    }

    /// Downstream users of each node.
    pub fn users(&self) -> Vec<Vec<usize>> {
        let mut users = vec![Vec::new(); self.nodes.len()];
        for (i, n) in self.nodes.iter().enumerate() {
            for &j in &n.inputs {
                users[j].push(i);
            }
        }
        users
    }
}

/// Point a param error also at the `[params]` entries its value is computed from: with
/// `tau = "${tau}"` and `[params] tau = "20"`, the string is wrong where it is defined.
fn with_definitions(
    mut e: SpecError,
    experiment: &Experiment,
    st: &warmstart_spec::StageSpec,
    param: &str,
) -> SpecError {
    let Some((_, raw)) = st.params.iter().find(|(k, _)| k.value == param) else {
        return e;
    };
    let warmstart_spec::RawValue::Template { template, .. } = &raw.value else {
        return e;
    };
    for (name, _) in template.names() {
        if let Some((_, v)) = experiment.params.iter().find(|(k, _)| *k == name) {
            e = e.with_label(
                v.span.clone(),
                format!("`{name}` is defined here ({})", v.value.type_name()),
            );
        }
    }
    e
}

/// A stage's engine and the spec of its kind, resolved once per stage.
type Bound = (Arc<dyn Engine>, Arc<KindSpec>);

/// Bind an experiment to engines and check every stage instance against its kind's schema.
pub fn build(experiment: Experiment, registry: &Registry) -> Result<Plan, SpecErrors> {
    let expanded = expand(&experiment)?;
    let src = experiment.source.clone();
    let mut errors: Vec<SpecError> = Vec::new();

    // Per stage: resolve engine + kind once (errors once per stage, not per instance).
    let mut bound: Vec<Option<Bound>> = Vec::new();
    let mut specs: HashMap<(usize, String), Arc<KindSpec>> = HashMap::new();
    for st in &experiment.stages {
        let kind = &st.kind.value;
        let engine = match &st.engine {
            Some(e) => match registry.get(&e.value) {
                Some(engine) => Some(engine.clone()),
                None => {
                    let ids = registry.engine_ids();
                    let hint = did_you_mean(&e.value, ids.iter().copied());
                    errors.push(SpecError::new(
                        &src,
                        e.span.clone(),
                        "warmstart::plan::unknown_engine",
                        format!("stage `{}`: unknown engine `{}`", st.name, e.value),
                        "no engine with this id",
                        Some(match hint {
                            Some(h) => h,
                            None => format!("available engines: {}", ids.join(", ")),
                        }),
                    ));
                    None
                }
            },
            None => match registry.default_for(kind) {
                Some(engine) => Some(engine.clone()),
                None => {
                    let kinds: Vec<String> = registry.kinds().into_iter().map(|k| k.name).collect();
                    let hint = did_you_mean(kind, kinds.iter().map(String::as_str));
                    errors.push(SpecError::new(
                        &src,
                        st.kind.span.clone(),
                        "warmstart::plan::unknown_kind",
                        format!("stage `{}`: unknown stage kind `{kind}`", st.name),
                        "no engine implements this kind",
                        Some(match hint {
                            Some(h) => h,
                            None => format!("known kinds: {}", kinds.join(", ")),
                        }),
                    ));
                    None
                }
            },
        };
        let b = engine.and_then(|engine| match engine.info().kind(kind) {
            Some(k) => {
                // One shared spec per (engine, kind), however many stages use it.
                let id = (Arc::as_ptr(&engine) as *const () as usize, k.name.clone());
                let shared = specs.entry(id).or_insert_with(|| Arc::new(k.clone()));
                Some((engine.clone(), shared.clone()))
            }
            None => {
                let info = engine.info();
                let names: Vec<&str> = info.kinds.iter().map(|k| k.name.as_str()).collect();
                let hint = did_you_mean(kind, names.iter().copied());
                errors.push(SpecError::new(
                    &src,
                    st.kind.span.clone(),
                    "warmstart::plan::kind_not_in_engine",
                    format!(
                        "stage `{}`: engine `{}` has no kind `{kind}`",
                        st.name, info.id
                    ),
                    "not offered by this engine",
                    Some(match hint {
                        Some(h) => h,
                        None => format!("engine `{}` offers: {}", info.id, names.join(", ")),
                    }),
                ));
                None
            }
        });
        bound.push(b);
    }

    let mut nodes: Vec<Node> = Vec::with_capacity(expanded.instances.len());
    // Errors about one param of one stage are reported once, not once per sweep point.
    let mut reported: std::collections::HashSet<(usize, String)> = Default::default();
    let mut names: HashMap<*const KindSpec, Vec<Arc<str>>> = HashMap::new();
    // Instances are consumed as they become nodes, so that their memory is reused rather
    // than held next to the plan's.
    for inst in expanded.instances {
        let st = &experiment.stages[inst.stage];
        let Some((engine, kind)) = &bound[inst.stage] else {
            continue;
        };
        // The kind's param names, shared by every node of the kind.
        let kind_names = names.entry(Arc::as_ptr(kind)).or_insert_with(|| {
            kind.params
                .iter()
                .map(|p| Arc::from(p.name.as_str()))
                .collect()
        });
        let mut params: Vec<(Arc<str>, Value)> = Vec::with_capacity(kind.params.len());
        let mut ok = true;
        for (name, value) in inst.params {
            let Some(pspec) = kind.params.iter().find(|p| *p.name == *name) else {
                if reported.insert((inst.stage, name.to_string())) {
                    let candidates = kind
                        .params
                        .iter()
                        .map(|p| p.name.as_str())
                        .chain(warmstart_spec::parse::RESERVED.iter().copied());
                    let span = inst
                        .param_keys
                        .get(&*name)
                        .cloned()
                        .unwrap_or(value.span.clone());
                    let accepted: Vec<&str> = kind.params.iter().map(|p| p.name.as_str()).collect();
                    errors.push(SpecError::new(
                        &src,
                        span,
                        "warmstart::plan::unknown_param",
                        format!(
                            "stage `{}`: kind `{}` has no param `{name}`",
                            st.name, kind.name
                        ),
                        "unknown param",
                        Some(match did_you_mean(&name, candidates) {
                            Some(h) => h,
                            None => format!(
                                "params of `{}`: {}",
                                kind.name,
                                if accepted.is_empty() {
                                    "(none)".to_string()
                                } else {
                                    accepted.join(", ")
                                }
                            ),
                        }),
                    ));
                }
                ok = false;
                continue;
            };
            match pspec.check(&value.value) {
                Ok(v) => params.push((name, v)),
                Err(msg) => {
                    if reported.insert((inst.stage, name.to_string())) {
                        let at = if inst.coords.is_empty() {
                            String::new()
                        } else {
                            let c: Vec<String> = inst
                                .coords
                                .iter()
                                .map(|(a, v)| format!("{a}={v}"))
                                .collect();
                            format!(" (at {})", c.join(", "))
                        };
                        let mut help = format!("`{name}`: {}", pspec.doc);
                        if let (Some(lo), Some(hi)) = (pspec.min, pspec.max) {
                            help.push_str(&format!(" Accepted range: {lo} ..= {hi}."));
                        } else if let Some(lo) = pspec.min {
                            help.push_str(&format!(" Must be ≥ {lo}."));
                        } else if let Some(hi) = pspec.max {
                            help.push_str(&format!(" Must be ≤ {hi}."));
                        }
                        let e = SpecError::new(
                            &src,
                            value.span.clone(),
                            "warmstart::plan::invalid_param",
                            format!("stage `{}`: param `{name}`{at}: {msg}", st.name),
                            msg.clone(),
                            Some(help),
                        );
                        errors.push(with_definitions(e, &experiment, st, &name));
                    }
                    ok = false;
                }
            }
        }
        let gpu = gpu_device(st.gpu.as_ref());
        let given = params.len();
        for (pspec, shared_name) in kind.params.iter().zip(kind_names) {
            if !ok || params[..given].iter().any(|(n, _)| **n == *pspec.name) {
                continue;
            }
            // The `gpu` hint names the device once for both the scheduler and the engine.
            let hinted = match (pspec.name.as_str(), gpu) {
                ("device", Some(dev)) if pspec.ty == ParamType::Int => Some(Value::Int(dev as i64)),
                _ => None,
            };
            match hinted.as_ref().or(pspec.default.as_ref()) {
                Some(d) => params.push((shared_name.clone(), d.clone())),
                None => {
                    if reported.insert((inst.stage, pspec.name.clone())) {
                        errors.push(SpecError::new(
                            &src,
                            st.span.clone(),
                            "warmstart::plan::missing_param",
                            format!(
                                "stage `{}`: kind `{}` needs param `{}`",
                                st.name, kind.name, pspec.name
                            ),
                            "missing required param",
                            Some(format!(
                                "add `{} = …` to [stages.{}]: {} ({})",
                                pspec.name,
                                st.name,
                                pspec.doc,
                                pspec.ty.name()
                            )),
                        ));
                    }
                    ok = false;
                }
            }
        }
        let n_inputs = inst.inputs.len();
        let too_few = n_inputs < kind.min_inputs;
        let too_many = kind.max_inputs.is_some_and(|m| n_inputs > m);
        if (too_few || too_many) && reported.insert((inst.stage, "\0inputs".into())) {
            let want = match kind.max_inputs {
                Some(m) if m == kind.min_inputs => format!("exactly {m}"),
                Some(m) => format!("{} to {m}", kind.min_inputs),
                None => format!("at least {}", kind.min_inputs),
            };
            errors.push(SpecError::new(
                &src,
                st.span.clone(),
                "warmstart::plan::input_count",
                format!(
                    "stage `{}`: kind `{}` takes {want} input(s), this stage has {n_inputs}",
                    st.name, kind.name
                ),
                "wrong number of inputs",
                Some("fix `inputs = [...]` (a gathered axis counts one input per value)".into()),
            ));
            ok = false;
        }
        if !ok {
            continue;
        }
        let params = NodeParams::from_pairs(params);
        // Engines see their own params form; built for the two calls and dropped.
        let engine_params = params.to_params();
        let determinism = engine.determinism(kind, &engine_params);
        let engine_extra = match engine.key_extra(&engine_params) {
            Ok(x) => x,
            Err(e) => {
                if reported.insert((inst.stage, "\0extra".into())) {
                    errors.push(SpecError::new(
                        &src,
                        st.span.clone(),
                        "warmstart::plan::engine_rejected",
                        format!("stage `{}`: engine `{}`: {e}", st.name, engine.info().id),
                        "rejected by the engine",
                        None,
                    ));
                }
                continue;
            }
        };
        let seed = inst
            .seed
            .unwrap_or_else(|| derive_seed(experiment.seed, &st.name, &inst.coords));
        nodes.push(Node {
            stage_index: inst.stage,
            stage: st.name.clone(),
            coords: inst.coords,
            engine: engine.clone(),
            kind: kind.clone(),
            params,
            engine_extra,
            seed,
            determinism,
            threads: st.threads.unwrap_or(1).max(1),
            gpu,
            inputs: inst.inputs,
        });
    }
    if !errors.is_empty() {
        return Err(SpecErrors(errors));
    }
    // Only once every param is valid: a column check on top of an invalid plan would be a
    // follow-on error.
    let column_errors = crate::columns::check(&nodes, &mut |stage, param, message, label, help| {
        let st = &experiment.stages[stage];
        let span = st
            .params
            .iter()
            .find(|(k, _)| k.value == param)
            .map_or(st.span.clone(), |(_, v)| v.span.clone());
        SpecError::new(
            &src,
            span,
            "warmstart::plan::unknown_column",
            message,
            label,
            help,
        )
    });
    if !column_errors.is_empty() {
        return Err(SpecErrors(column_errors));
    }
    // Instances are in topological order and every instance made a node (no errors), so
    // instance indices are node indices: `Node::inputs` is the DAG.
    Ok(Plan { experiment, nodes })
}
