//! `warmstart dag FILE [--format dot|mermaid|json] [--instances]`: print the stage graph
//! (or the instance graph of the expanded sweep) of an experiment. Argument handling and
//! printing only; the graph and its renderings live in `warmstart_spec::dag`.

use std::io::Write;
use std::path::Path;

use clap::ValueEnum;
use warmstart_spec::dag::{DagFormat, instance_graph, stage_graph};

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
    let exp = warmstart_spec::load(file).map_err(|e| Failure::Invalid(render_all(&e)))?;
    let text = if instances {
        let expanded =
            warmstart_spec::expand(&exp).map_err(|e| Failure::Invalid(render_all(&e)))?;
        instance_graph(&exp, &expanded, format)
    } else {
        stage_graph(&exp, format)
    };
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    Ok(())
}
