//! Text renderings of an experiment's graph for `warmstart dag`: the stage graph (one node
//! per stage, one edge per input reference, picks as edge labels) or the instance graph
//! (one node per expanded instance), as Graphviz DOT, a Mermaid flowchart, or JSON.
//! Returned as strings; printing is the caller's business.

use warmstart_engine::Value;

use crate::graph::stage_axes_of;
use crate::model::*;

/// An output format of [`stage_graph`] / [`instance_graph`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DagFormat {
    /// Graphviz DOT (`dot -Tsvg`).
    Dot,
    /// A Mermaid flowchart (renders in GitHub Markdown).
    Mermaid,
    /// `{"nodes": [...], "edges": [...]}`.
    Json,
}

/// A node to render: an id unique in the graph, a label, and its JSON description.
struct DagNode {
    label: String,
    json: serde_json::Value,
}

/// An edge between node indices, with an optional label.
struct DagEdge {
    from: usize,
    to: usize,
    label: String,
}

/// The stage graph: each stage (with its kind and axes) and each input reference.
pub fn stage_graph(exp: &Experiment, format: DagFormat) -> String {
    let axes = stage_axes_of(exp);
    let nodes: Vec<DagNode> = exp
        .stages
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let ax = axes.get(i).cloned().unwrap_or_default();
            let mut label = format!("{} ({})", s.name, s.kind.value);
            if !ax.is_empty() {
                label.push_str(&format!(" over {}", ax.join(" × ")));
            }
            DagNode {
                label,
                json: serde_json::json!({"name": s.name, "kind": s.kind.value, "axes": ax}),
            }
        })
        .collect();
    let index: std::collections::HashMap<&str, usize> = exp
        .stages
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    let mut edges = Vec::new();
    for (to, s) in exp.stages.iter().enumerate() {
        for inp in &s.inputs {
            let Some(&from) = index.get(inp.stage.value.as_str()) else {
                continue;
            };
            let mut label: Vec<String> = inp
                .pick
                .iter()
                .map(|(a, v)| format!("pick {a}={}", v.value))
                .collect();
            label.extend(
                s.gather
                    .iter()
                    .filter(|g| axes.get(from).is_some_and(|ax| ax.contains(&g.value)))
                    .map(|g| format!("gather {}", g.value)),
            );
            edges.push(DagEdge {
                from,
                to,
                label: label.join(", "),
            });
        }
    }
    render(&exp.name, &nodes, &edges, format)
}

/// The instance graph: each expanded instance (stage and coordinates) and each input.
pub fn instance_graph(exp: &Experiment, expanded: &Expanded, format: DagFormat) -> String {
    let nodes: Vec<DagNode> = expanded
        .instances
        .iter()
        .map(|inst| {
            let name = exp.stages.get(inst.stage).map_or("?", |s| s.name.as_str());
            let coords: Vec<String> = inst
                .coords
                .iter()
                .map(|(a, v)| format!("{a}={}", plain(v)))
                .collect();
            let label = if coords.is_empty() {
                name.to_string()
            } else {
                format!("{name}[{}]", coords.join(","))
            };
            let json_coords: serde_json::Map<String, serde_json::Value> = inst
                .coords
                .iter()
                .map(|(a, v)| (a.clone(), v.to_json()))
                .collect();
            DagNode {
                label,
                json: serde_json::json!({"stage": name, "coords": json_coords}),
            }
        })
        .collect();
    let edges: Vec<DagEdge> = expanded
        .instances
        .iter()
        .enumerate()
        .flat_map(|(to, inst)| {
            inst.inputs.iter().map(move |&from| DagEdge {
                from,
                to,
                label: String::new(),
            })
        })
        .collect();
    render(&exp.name, &nodes, &edges, format)
}

/// A value as text without quotes for strings.
fn plain(v: &Value) -> String {
    match v {
        Value::Str(s) => s.clone(),
        other => other.to_string(),
    }
}

fn render(name: &str, nodes: &[DagNode], edges: &[DagEdge], format: DagFormat) -> String {
    let mut out = String::new();
    match format {
        DagFormat::Dot => {
            out.push_str(&format!("digraph {} {{\n  rankdir=LR;\n", dot_quote(name)));
            for (i, n) in nodes.iter().enumerate() {
                out.push_str(&format!("  n{i} [label={}];\n", dot_quote(&n.label)));
            }
            for e in edges {
                if e.label.is_empty() {
                    out.push_str(&format!("  n{} -> n{};\n", e.from, e.to));
                } else {
                    out.push_str(&format!(
                        "  n{} -> n{} [label={}];\n",
                        e.from,
                        e.to,
                        dot_quote(&e.label)
                    ));
                }
            }
            out.push_str("}\n");
        }
        DagFormat::Mermaid => {
            out.push_str("flowchart LR\n");
            for (i, n) in nodes.iter().enumerate() {
                out.push_str(&format!("  n{i}[\"{}\"]\n", mermaid_text(&n.label)));
            }
            for e in edges {
                if e.label.is_empty() {
                    out.push_str(&format!("  n{} --> n{}\n", e.from, e.to));
                } else {
                    out.push_str(&format!(
                        "  n{} -->|\"{}\"| n{}\n",
                        e.from,
                        mermaid_text(&e.label),
                        e.to
                    ));
                }
            }
        }
        DagFormat::Json => {
            let nodes: Vec<serde_json::Value> = nodes
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    let mut j = n.json.clone();
                    if let Some(o) = j.as_object_mut() {
                        o.insert("id".into(), i.into());
                    }
                    j
                })
                .collect();
            let edges: Vec<serde_json::Value> = edges
                .iter()
                .map(|e| {
                    let mut j = serde_json::json!({"from": e.from, "to": e.to});
                    if !e.label.is_empty()
                        && let Some(o) = j.as_object_mut()
                    {
                        o.insert("label".into(), e.label.clone().into());
                    }
                    j
                })
                .collect();
            let doc = serde_json::json!({"experiment": name, "nodes": nodes, "edges": edges});
            out = serde_json::to_string_pretty(&doc).unwrap_or_default();
            out.push('\n');
        }
    }
    out
}

/// A DOT double-quoted string.
fn dot_quote(s: &str) -> String {
    format!(
        "\"{}\"",
        s.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    )
}

/// Text safe inside a Mermaid quoted label (quotes become entity codes).
fn mermaid_text(s: &str) -> String {
    s.replace('"', "#quot;").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_keeps_labels_inside_their_strings() {
        assert_eq!(dot_quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(mermaid_text("say \"hi\""), "say #quot;hi#quot;");
    }
}
