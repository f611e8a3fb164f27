//! Planner and scheduler.
//!
//! The pipeline from an experiment file to cached outputs:
//!
//! 1. `warmstart-spec` parses and expands the file into stage *instances* (one per sweep
//!    point).
//! 2. [`plan::build`] binds every instance to an engine through the [`Registry`], checks
//!    its params against the kind's declared schema (unknown param, wrong type, out of
//!    range — errors point into the file), fills defaults and derives seeds. The result is
//!    a [`Plan`]: [`Node`]s in topological order, each naming its inputs by index.
//! 3. [`status::assess`] answers "what would run and why" without running anything: it
//!    walks the DAG in topological order, computes each node's key from its params and
//!    its inputs' *output digests* (known only where the inputs are cached), and diffs a
//!    stale node's key inputs against the last entry recorded for the same instance.
//! 4. [`run::execute`] runs the DAG: [`run::drive`] feeds a pure state machine
//!    ([`sched::Scheduler`]: what is ready, what a failure or a corrupt input means)
//!    and submits ready nodes to an [`executor::Executor`] ([`executor::LocalExecutor`]:
//!    threads of this process; [`worker::run_job`] is what each job does): up to `jobs`
//!    stages at once, each under its per-key lock, skipping cached ones, writing outputs
//!    atomically, continuing independent branches after a failure unless `fail_fast`.
//!
//! Architecture invariant: this crate never parses TOML (that is `warmstart-spec`) and never
//! touches the cache layout (that is `warmstart-cache`); it talks to engines only through
//! the `Engine` trait, so built-in, plugin and process engines are indistinguishable here.

pub mod columns;
pub mod executor;
pub mod node_params;
pub mod plan;
pub mod registry;
pub mod run;
pub mod sched;
pub mod status;
pub mod worker;

pub use executor::{Executor, LocalExecutor};
pub use node_params::NodeParams;
pub use plan::{Node, Plan, build};
pub use registry::Registry;
pub use run::{
    Event, Progress, RunOptions, RunSummary, SkipReason, Status, Warning, drive, drive_topology,
    execute,
};
pub use sched::Scheduler;
pub use status::{Assessment, Freshness, assess};
