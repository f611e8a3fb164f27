//! The Slurm executor: stage instances run as Slurm jobs, the cache stays the single
//! source of truth.
//!
//! How a run goes (see ARCHITECTURE.md for the invariants):
//! 1. [`prepare`](crate::executor::SlurmExecutor::prepare): every instance that is not
//!    fresh gets a **job spec** in the cache (`v1/jobs/specs/<id>.json`): its kind,
//!    engine (and plugin path), params, seed, the key's components, and where each input
//!    comes from (a cache entry, or another job spec). A spec's id is the digest of its
//!    content, so the same instance of the same experiment always has the same id — this
//!    is what lets a later run recognise jobs an earlier run submitted.
//! 2. Instances with a live job (pending or running, per one `squeue`) are adopted;
//!    the rest are submitted — the whole DAG at once, each stage's independent instances
//!    as one job array, with `--dependency=afterok:…` (or `aftercorr` for one-to-one maps
//!    between arrays) and `--kill-on-invalid-dep=yes`. Job ids go to the **ledger**
//!    (`v1/jobs/ledger/`), before anything waits for them.
//! 3. On the node, `warmstart worker` ([`worker`]) reads its spec, computes its key from
//!    its inputs' committed digests (early cutoff holds: an identical upstream output
//!    makes it a cache hit), takes the key's lock, runs, commits, and writes a **status
//!    record** (`v1/jobs/status/<id>.json`). The submitting process learns outcomes from
//!    those records, not from Slurm's accounting; `squeue` only says who is still alive.
//!
//! Architecture invariant: nothing here decides what is ready, failed or skipped — that
//! is the scheduler's ([`warmstart_plan::sched`]); this crate only says where a ready
//! node runs and when it finished, through [`warmstart_plan::executor::Executor`].
//!
//! Architecture invariant: a worker never reads the experiment file; everything it runs
//! is in its job spec, written before submission.

pub mod cluster;
pub mod config;
pub mod executor;
pub mod jobspec;
pub mod prepare;
pub mod records;
pub mod submit;
pub mod worker;

pub use cluster::{Cluster, ClusterError, SlurmCommands};
pub use config::SlurmConfig;
pub use executor::{SlurmError, SlurmExecutor};
pub use jobspec::JobSpec;
