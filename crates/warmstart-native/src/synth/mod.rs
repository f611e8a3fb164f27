//! The synthetic-science kinds of the native engine (science.md §1–§2), over
//! [`warmstart_synth`]. One module per kind; [`common`] holds the table conventions they
//! share.
//!
//! Table conventions (all kinds):
//! - vectors are stored one row per coordinate: column `i` (Int64) plus one Float64 column
//!   per vector (`problem`: `w_star`, `v`, `w_weak`; `init` / `student`: `w`);
//! - a problem instance travels as two tables, `meta` (one row: `d`, `alpha`, `rho`,
//!   `lambda`, `activation`, `s2`, `act_constant`) and `problem`; kinds that consume a
//!   problem pass both through, so a linear chain generate → pretrain → finetune works,
//!   and any kind finds a table by name in any of its inputs (first match wins).

pub mod aggregate;
pub mod common;
pub mod evaluate;
pub mod finetune;
pub mod generate;
pub mod landscape;
pub mod plot;
pub mod pretrain;
pub mod reduce;
pub mod ridge;
pub mod weak_label;

#[cfg(test)]
mod tests {
    use warmstart_engine::Engine;

    #[test]
    fn every_synth_kind_is_registered_with_valid_defaults() {
        let engine = crate::NativeEngine::new();
        for name in [
            "generate",
            "pretrain",
            "weak-label",
            "finetune",
            "evaluate",
            "landscape",
            "ridge",
            "aggregate",
            "plot",
        ] {
            let spec = engine
                .info()
                .kind(name)
                .unwrap_or_else(|| panic!("kind {name} not registered"));
            for p in &spec.params {
                assert!(!p.doc.is_empty(), "{name}.{}: no doc", p.name);
                if let Some(d) = &p.default {
                    assert!(
                        p.check(d).is_ok(),
                        "{name}.{}: default {d} fails its own check",
                        p.name
                    );
                }
            }
        }
    }
}
