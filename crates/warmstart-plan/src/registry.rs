//! The engine registry: which engines exist and which engine a kind defaults to.

use std::sync::Arc;

use warmstart_engine::{Engine, KindSpec};

/// Engines known to a run. The first engine registered that implements a kind is that
/// kind's default engine.
#[derive(Clone, Default)]
pub struct Registry {
    engines: Vec<Arc<dyn Engine>>,
}

impl Registry {
    pub fn new() -> Self {
        Registry::default()
    }

    /// Register an engine. An engine with the same id replaces the earlier one.
    pub fn add(&mut self, engine: Arc<dyn Engine>) -> &mut Self {
        let id = engine.info().id.clone();
        self.engines.retain(|e| e.info().id != id);
        self.engines.push(engine);
        self
    }

    pub fn get(&self, id: &str) -> Option<&Arc<dyn Engine>> {
        self.engines.iter().find(|e| e.info().id == id)
    }

    /// The default engine for a kind.
    pub fn default_for(&self, kind: &str) -> Option<&Arc<dyn Engine>> {
        self.engines.iter().find(|e| e.info().kind(kind).is_some())
    }

    pub fn engines(&self) -> &[Arc<dyn Engine>] {
        &self.engines
    }

    pub fn engine_ids(&self) -> Vec<&str> {
        self.engines.iter().map(|e| e.info().id.as_str()).collect()
    }

    /// Every kind, with the engine that implements it by default (first one wins).
    pub fn kinds(&self) -> Vec<KindSpec> {
        let mut out: Vec<KindSpec> = Vec::new();
        for e in &self.engines {
            for k in &e.info().kinds {
                if !out.iter().any(|o| o.name == k.name) {
                    out.push(k.clone());
                }
            }
        }
        out
    }
}
