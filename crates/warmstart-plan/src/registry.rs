//! The engine registry: which engines exist and which engine a kind defaults to.

use std::sync::Arc;

use warmstart_engine::{Engine, KindSpec};

/// Engines known to a run, by the name stages use in `engine = "…"`. Built-in engines are
/// registered under their id; plugins under the name of their `[engines.NAME]` table. The
/// first engine registered that implements a kind is that kind's default engine.
#[derive(Clone, Default)]
pub struct Registry {
    engines: Vec<(String, Arc<dyn Engine>)>,
}

impl Registry {
    pub fn new() -> Self {
        Registry::default()
    }

    /// Register an engine under its id. An engine with the same name replaces the earlier one.
    pub fn add(&mut self, engine: Arc<dyn Engine>) -> &mut Self {
        let id = engine.info().id.clone();
        self.add_named(&id, engine)
    }

    /// Register an engine under a name of the experiment's choosing (plugins).
    pub fn add_named(&mut self, name: &str, engine: Arc<dyn Engine>) -> &mut Self {
        self.engines.retain(|(n, _)| n != name);
        self.engines.push((name.to_string(), engine));
        self
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn Engine>> {
        self.engines.iter().find(|(n, _)| n == name).map(|(_, e)| e)
    }

    /// The default engine for a kind.
    pub fn default_for(&self, kind: &str) -> Option<&Arc<dyn Engine>> {
        self.engines
            .iter()
            .find(|(_, e)| e.info().kind(kind).is_some())
            .map(|(_, e)| e)
    }

    /// (name, engine) pairs in registration order.
    pub fn engines(&self) -> &[(String, Arc<dyn Engine>)] {
        &self.engines
    }

    pub fn engine_ids(&self) -> Vec<&str> {
        self.engines.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// Every kind, with the engine that implements it by default (first one wins).
    pub fn kinds(&self) -> Vec<KindSpec> {
        let mut out: Vec<KindSpec> = Vec::new();
        for (_, e) in &self.engines {
            for k in &e.info().kinds {
                if !out.iter().any(|o| o.name == k.name) {
                    out.push(k.clone());
                }
            }
        }
        out
    }
}
