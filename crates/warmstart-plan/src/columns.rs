//! Plan-time column checks: a param that names a column (`plot`'s `x`, `y`, `series`,
//! `correlate`'s `x_column`, …; [`ColumnRef`]) is checked against the columns its input
//! will have, before anything runs.
//!
//! The columns come from the kinds' `writes` declarations ([`TableSpec`]), resolved per
//! plan node in topological order: declared columns, plus one column per sweep axis of the
//! node's inputs ([`Extra::Coordinates`]), plus the columns of an input table it carries
//! ([`Extra::InputColumns`], e.g. `aggregate`'s `rows`). Anything undeclared or
//! [`Extra::Open`] makes a table's columns unknown, and an unknown table is never an
//! error: the check only speaks when it knows. The scheduler checks outputs against the
//! same declarations, so what is known here is what the engine will write.
//!
//! Only the nodes a check needs are resolved (the inputs of nodes with column params and,
//! through `InputColumns`, their inputs), so a 100 000-node DAG of undeclared or
//! column-free kinds costs one pass over the nodes.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use warmstart_engine::{ColumnRef, Extra, TableSpec, Value};
use warmstart_spec::{SpecError, did_you_mean};

use crate::plan::Node;

/// Column name → declared type (`any` where it follows an input), or `None`: unknown.
type Columns = Option<BTreeMap<String, String>>;

/// The types `aggregate`-style carriers keep from an input table (what `InputColumns`
/// passes on).
const CARRIED: [&str; 5] = ["float64", "int64", "bool", "utf8", "any"];

/// Builds the error for (stage index, param, message, label, help): the caller knows where
/// in the file the param is.
pub type MakeError<'a> = dyn FnMut(usize, &str, String, String, Option<String>) -> SpecError + 'a;

/// Every column-naming param of every node, checked against its inputs' declared tables.
/// One error per (stage, param), built by `error(stage_index, param, message, label,
/// help)`, which knows where in the file the param is.
pub fn check(nodes: &[Node], error: &mut MakeError<'_>) -> Vec<SpecError> {
    let needed = needed_nodes(nodes);
    if needed.is_empty() {
        return Vec::new();
    }
    let resolved = resolve(nodes, &needed);
    let mut errors = Vec::new();
    let mut reported: HashSet<(usize, String)> = HashSet::new();
    for node in nodes {
        for pspec in &node.kind.params {
            let Some(cref) = &pspec.column else { continue };
            if reported.contains(&(node.stage_index, pspec.name.clone())) {
                continue;
            }
            let Some(Value::Str(value)) = node.params.get(&pspec.name) else {
                continue;
            };
            if let Some(p) = check_param(nodes, &resolved, node, &pspec.name, cref, value) {
                reported.insert((node.stage_index, pspec.name.clone()));
                // A missing table is one mistake, however many params read from it.
                if let Some(table) = &p.missing_table
                    && !reported.insert((node.stage_index, format!("\0table {table}")))
                {
                    continue;
                }
                errors.push(error(
                    node.stage_index,
                    &pspec.name,
                    p.message,
                    p.label,
                    p.help,
                ));
            }
        }
    }
    errors
}

/// The name of the input table a column param refers to ("" = the first).
fn table_name<'a>(node: &'a Node, cref: &'a ColumnRef) -> &'a str {
    if let Some(p) = &cref.table_param {
        return match node.params.get(p) {
            Some(Value::Str(s)) => s,
            _ => "",
        };
    }
    cref.table.as_deref().unwrap_or("")
}

/// The inputs a column param reads from.
fn candidates<'a>(nodes: &'a [Node], node: &'a Node, cref: &'a ColumnRef) -> Vec<usize> {
    let stage = cref.stage_param.as_ref().map(|p| match node.params.get(p) {
        Some(Value::Str(s)) => s.as_str(),
        _ => "",
    });
    node.inputs
        .iter()
        .copied()
        .filter(|&j| stage.is_none_or(|s| nodes[j].stage == s))
        .collect()
}

/// Nodes whose output columns some check needs, found without recursion.
fn needed_nodes(nodes: &[Node]) -> HashSet<usize> {
    let mut needed = HashSet::new();
    let mut stack: Vec<usize> = Vec::new();
    for node in nodes {
        if node.kind.params.iter().any(|p| p.column.is_some()) {
            stack.extend(node.inputs.iter().copied());
        }
    }
    while let Some(j) = stack.pop() {
        if !needed.insert(j) {
            continue;
        }
        let carries = nodes[j].kind.writes.iter().any(|t| {
            t.extra
                .iter()
                .any(|e| matches!(e, Extra::InputColumns { .. }))
        });
        if carries {
            stack.extend(nodes[j].inputs.iter().copied());
        }
    }
    needed
}

/// The declared table `name` of `node` ("" = the first, unless it is conditional):
/// `Err(())` when its kind declares nothing (unknown), `Ok(None)` when it declares other
/// tables only.
fn declared_table<'a>(node: &'a Node, name: &str) -> Result<Option<&'a TableSpec>, ()> {
    if node.kind.writes.is_empty() {
        return Err(());
    }
    match node.kind.output(name) {
        Some(t) if name.is_empty() && t.when.is_some() => Err(()),
        t => Ok(t),
    }
}

/// Per needed node, per declared table: its columns, in topological order.
fn resolve(nodes: &[Node], needed: &HashSet<usize>) -> Vec<BTreeMap<String, Columns>> {
    let mut out: Vec<BTreeMap<String, Columns>> = vec![BTreeMap::new(); nodes.len()];
    for (i, node) in nodes.iter().enumerate() {
        if !needed.contains(&i) {
            continue;
        }
        let mut tables = BTreeMap::new();
        for t in &node.kind.writes {
            let cols = table_columns(nodes, &out, node, t);
            tables.insert(t.name.clone(), cols);
        }
        out[i] = tables;
    }
    out
}

fn table_columns(
    nodes: &[Node],
    done: &[BTreeMap<String, Columns>],
    node: &Node,
    t: &TableSpec,
) -> Columns {
    let mut cols: BTreeMap<String, String> = t
        .columns
        .iter()
        .map(|c| (c.name.clone(), c.ty.clone()))
        .collect();
    for extra in &t.extra {
        match extra {
            Extra::Open { .. } => return None,
            Extra::Coordinates => {
                for &j in &node.inputs {
                    for (axis, _) in &nodes[j].coords {
                        if !cols.contains_key(axis) {
                            cols.insert(axis.clone(), "any".into());
                        }
                    }
                }
            }
            Extra::InputColumns { table_param } => {
                let name = match node.params.get(table_param) {
                    Some(Value::Str(s)) => s.as_str(),
                    _ => "",
                };
                for &j in &node.inputs {
                    match declared_table(&nodes[j], name) {
                        Err(()) => return None,
                        Ok(None) => {}
                        Ok(Some(up)) => {
                            // Borrowed: an aggregate may gather 100 000 inputs.
                            let Some(Some(up_cols)) = done[j].get(&up.name) else {
                                return None;
                            };
                            for (c, ty) in up_cols {
                                if CARRIED.contains(&ty.as_str()) && !cols.contains_key(c) {
                                    cols.insert(c.clone(), ty.clone());
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    Some(cols)
}

/// What is wrong with one column param.
struct Problem {
    message: String,
    label: String,
    help: Option<String>,
    /// Set when no input writes the table at all (reported once per stage and table).
    missing_table: Option<String>,
}

/// The problem, when `value` names a column no input will have.
fn check_param(
    nodes: &[Node],
    resolved: &[BTreeMap<String, Columns>],
    node: &Node,
    param: &str,
    cref: &ColumnRef,
    value: &str,
) -> Option<Problem> {
    let names = cref.names(value);
    if names.is_empty() {
        return None;
    }
    let table = table_name(node, cref);
    let inputs = candidates(nodes, node, cref);
    let mut known: BTreeSet<&str> = BTreeSet::new();
    let mut writers: Vec<&str> = Vec::new();
    let mut other_tables: BTreeSet<&str> = BTreeSet::new();
    for &j in &inputs {
        match declared_table(&nodes[j], table) {
            Err(()) => return None,
            Ok(None) => other_tables.extend(nodes[j].kind.writes.iter().map(|t| t.name.as_str())),
            Ok(Some(t)) => {
                let cols = resolved[j].get(&t.name)?.as_ref()?;
                known.extend(cols.keys().map(String::as_str));
                if !writers.contains(&nodes[j].stage.as_str()) {
                    writers.push(&nodes[j].stage);
                }
            }
        }
    }
    if inputs.is_empty() {
        return None;
    }
    let shown_table = if table.is_empty() { "first" } else { table };
    if writers.is_empty() {
        return Some(Problem {
            message: format!(
                "stage `{}`: param `{param}` reads table `{shown_table}`, which none of its inputs writes",
                node.stage
            ),
            label: format!("no input table `{shown_table}`"),
            help: Some(format!(
                "the inputs write: {} (set `table` to one of them)",
                other_tables.into_iter().collect::<Vec<_>>().join(", ")
            )),
            missing_table: Some(shown_table.to_string()),
        });
    }
    let is_coordinate = |n: &str| {
        n == "stage"
            || inputs
                .iter()
                .any(|&j| nodes[j].coords.iter().any(|(a, _)| a == n))
    };
    let missing = names
        .into_iter()
        .find(|n| !(known.contains(n) || (cref.or_coordinate && is_coordinate(n))))?;
    let list: Vec<&str> = known.iter().copied().collect();
    let mut help = match did_you_mean(missing, list.iter().copied()) {
        Some(h) => format!("{h} "),
        None => String::new(),
    };
    help.push_str(&format!(
        "Table `{shown_table}` of {} has: {}",
        writers
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", "),
        list.join(", ")
    ));
    if cref.or_coordinate {
        help.push_str("; or name a sweep coordinate of the inputs, or `stage`");
    }
    help.push_str(" (`warmstart kinds KIND` lists each kind's tables).");
    Some(Problem {
        message: format!(
            "stage `{}`: param `{param}` names column `{missing}`, which table `{shown_table}` will not have",
            node.stage
        ),
        label: format!("no column `{missing}`"),
        help: Some(help),
        missing_table: None,
    })
}
