//! `warmstart dag FILE [--format dot|mermaid|json] [--instances]`: print the stage graph
//! (or the instance graph of the expanded sweep) of an experiment. Argument handling and
//! printing only; the graph and its renderings are the facade's (`warmstart::describe`).

use std::io::Write;
use std::path::Path;

use clap::ValueEnum;
use warmstart::describe::DagFormat;

use crate::Failure;
use crate::context::render_all;

/// The `--format` of `warmstart dag`.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum GraphFormat {
    /// Graphviz DOT (`warmstart dag e.toml | dot -Tsvg > e.svg`).
    Dot,
    /// A Mermaid flowchart (paste into Markdown).
    Mermaid,
    /// `{"experiment", "nodes", "edges"}`.
    Json,
}

/// Parse (and with `instances`, expand) the experiment and print its graph. No engine is
/// loaded and the cache is not opened.
pub fn dag(file: &Path, format: GraphFormat, instances: bool) -> Result<(), Failure> {
    let format = match format {
        GraphFormat::Dot => DagFormat::Dot,
        GraphFormat::Mermaid => DagFormat::Mermaid,
        GraphFormat::Json => DagFormat::Json,
    };
    let text = warmstart::describe::graph(file, format, instances)
        .map_err(|e| Failure::Invalid(render_all(&e.0)))?;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    Ok(())
}
