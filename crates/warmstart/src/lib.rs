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
//! let summary = warmstart::run(&plan, &store, &RunOptions::default(), &mut events)?;
//! assert!(summary.success());
//! assert_eq!(summary.ran, 2);
//! // A second run finds both stages in the cache.
//! let again = warmstart::run(&plan, &store, &RunOptions::default(), &mut ())?;
//! assert_eq!(again.cached, 2);
//! // Everything fresh: export it (Parquet per table, `index.json`).
//! let assessment = warmstart::assess(&plan, &store);
//! let report = warmstart::export::export(&plan, &assessment, &store, &dir.join("out"))?;
//! assert_eq!(report.exported.len(), 2);
//! assert!(report.missing.is_empty());
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(()) }
//! ```
//!
//! The pieces, one per thing a front end does:
//! - [`load()`] — spec → expand → bind to engines, with the project file's and the
//!   experiment's plugins ([`registry`], [`registry_for`]); [`open_cache`] opens a cache;
//! - [`assess`] — what is fresh; [`status::plan_rows`] (every instance, fresh or stale and
//!   why) and [`status::explain`] (one instance's key, component by component);
//! - [`select::select`] — a stage's instances matching `axis=value` filters
//!   ([`select::parse_filters`]);
//! - [`run()`] — the scheduler, reporting [`events`] to a [`Reporter`];
//! - [`read::read_outputs`] — a fresh instance's tables (a corrupt entry is quarantined);
//! - [`html::write_report`] — the HTML report (a page and the data it links to);
//! - [`runs`] — what each run did (kept in the cache): its instances' ends and failures;
//! - [`table::stage_table`] — a table of several instances, coordinates as columns, and
//!   [`table::status_table`] — every instance's status, both as Arrow data;
//! - [`export::export`] — Parquet files, figures and `index.json` under one directory,
//!   every path checked, returning an [`export::ExportReport`];
//! - [`gc::gc`] — entries no experiment uses ([`gc::live_keys`]), a [`gc::GcReport`];
//! - [`verify`] — digest checks of the entries an experiment uses, with quarantine;
//! - [`describe`] — the stage graph as DOT/Mermaid/JSON, the JSON Schemas (of the built-in
//!   kinds, or of an experiment's with its plugins), a plugin file's description;
//!   [`engines_for_file`] — the engines an experiment can use;
//! - [`kinds`] — the kind reference: every kind with its engine and declarations.
//!
//! Each returns data (serde types where a front end renders them) or a `#[non_exhaustive]`
//! thiserror error; rendering, exit codes and progress bars are the front end's.
//!
//! Architecture invariant: this crate holds the logic every front end shares (CLI, Python
//! binding); it never prints — output goes to the `Write` a reporter was given.

#![deny(missing_docs)]

pub mod cache;
pub mod describe;
pub mod estimate;
pub mod events;
pub mod export;
pub mod gc;
pub mod html;
pub mod init;
pub mod kinds;
pub mod load;
pub mod read;
pub mod report;
pub mod run;
pub mod runs;
pub mod select;
#[cfg(feature = "slurm")]
pub mod slurm;
pub mod status;
pub mod table;
pub mod verify;

pub use cache::{OpenCacheError, open_cache, open_cache_for_reading};
pub use events::{EVENT_FORMAT_VERSION, RunEvent};
pub use load::{LoadError, engines_for_file, load, load_with_overrides, registry, registry_for};
pub use report::{JsonReporter, PlainReporter, Reporter};
pub use run::{RunError, run};

pub use warmstart_cache::{CacheError, CacheKey, Digest, VerifyReport};
pub use warmstart_engine::{FILES_TABLE, NamedTable, RecordBatch, Value};

pub use warmstart_cache::store::Store;
pub use warmstart_plan::run::{Progress, RunOptions, RunSummary, SkipReason, Status};
pub use warmstart_plan::{Assessment, Plan, Registry, assess};
pub use warmstart_spec::{SpecError, SpecErrors};
