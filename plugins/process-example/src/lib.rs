//! Example for the `process` engine. The interesting file is `pgr.py` next to this crate:
//! a standard-library-only Python script that reads `params.json`, the input table
//! (CSV), and writes a performance-gap-recovered summary. `tests/pgr.rs` runs it through
//! [the process engine](../warmstart_process/index.html). An experiment would use it as:
//!
//! ```toml
//! [stages.pgr]
//! engine = "process"
//! kind = "process"
//! inputs = ["accuracies"]
//! params.command = ["python3", "pgr.py"]
//! params.scripts = ["plugins/process-example/pgr.py"]
//! params.interpreter_version = ["python3", "--version"]
//! params.outputs = ["pgr.csv", "summary.jsonl"]
//! ```

/// Path of the example script, relative to the workspace root.
pub const SCRIPT: &str = "plugins/process-example/pgr.py";
