//! warmstart as a library: load an experiment file into a checked [`Plan`], ask what is
//! fresh, run it against a cache, and read what it produced — everything the `warmstart`
//! command line does, without the command line.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use warmstart::{JsonReporter, RunOptions, Store};
//!
//! let dir = std::env::temp_dir().join(format!("warmstart-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let file = dir.join("hello.toml");
//! std::fs::write(&file, r#"
//!     [experiment]
//!     name = "hello"
//!     [stages.a]
//!     kind = "echo"
//!     value = "A"
//!     [stages.b]
//!     kind = "echo"
//!     inputs = ["a"]
//!     value = "B"
//! "#)?;
//! let plan = warmstart::load(&file)?;
//! let store = Store::open(&dir.join("cache"))?;
//! let mut events = JsonReporter::new(Vec::new());
//! let summary = warmstart::run(&plan, &store, &RunOptions::default(), &mut events);
//! assert!(summary.success());
//! assert_eq!(summary.ran, 2);
//! // A second run finds both stages in the cache.
//! let again = warmstart::run(&plan, &store, &RunOptions::default(), &mut ());
//! assert_eq!(again.cached, 2);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(()) }
//! ```
//!
//! The pieces: [`load`] (spec → expand → bind to engines, with the project file's and the
//! experiment's plugins), [`run`] (the scheduler, reporting [`events`] to a [`Reporter`]),
//! and re-exports of the types a caller needs from the crates below.
//!
//! Architecture invariant: this crate holds the logic every front end shares (CLI, Python
//! binding); it never prints — output goes to the `Write` a reporter was given.

pub mod events;
pub mod load;
pub mod report;
pub mod run;
#[cfg(feature = "slurm")]
pub mod slurm;

pub use events::{EVENT_FORMAT_VERSION, RunEvent};
pub use load::{LoadError, load, registry, registry_for};
pub use report::{JsonReporter, PlainReporter, Reporter};
pub use run::run;

pub use warmstart_cache::store::Store;
pub use warmstart_plan::run::{Progress, RunOptions, RunSummary, SkipReason, Status};
pub use warmstart_plan::{Plan, Registry, assess};
pub use warmstart_spec::{SpecError, SpecErrors};
