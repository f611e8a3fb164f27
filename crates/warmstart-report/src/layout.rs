//! The stage graph laid out in layers (a Sugiyama-style layout, simplified): each stage's
//! layer is the length of the longest input path leading to it, so every edge points to a
//! later layer; within a layer, stages are ordered by a few sweeps of the barycentre
//! heuristic (the mean position of their neighbours in the layer before, then after),
//! which removes most edge crossings of the pipelines experiments are.
//!
//! Computed on a petgraph graph with an explicit worklist (petgraph's topological sort):
//! nothing recurses, so a graph of any depth lays out. A graph with a cycle (which a
//! loaded experiment never has) falls back to one layer per stage in file order.

use petgraph::algo::toposort;
use petgraph::graph::{DiGraph, NodeIndex};

/// Where each stage goes: its layer (column) and its rank (row) within the layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayeredLayout {
    /// Layer of each stage.
    pub layer: Vec<usize>,
    /// Position of each stage within its layer.
    pub rank: Vec<usize>,
    /// How many layers there are.
    pub layers: usize,
    /// The most stages in one layer.
    pub widest: usize,
}

/// Lay out `n` stages joined by `edges` (`(from, to)`, data-flow direction).
pub fn layered_layout(n: usize, edges: &[(usize, usize)]) -> LayeredLayout {
    let mut g: DiGraph<(), ()> = DiGraph::with_capacity(n, edges.len());
    for _ in 0..n {
        g.add_node(());
    }
    for &(a, b) in edges {
        if a < n && b < n && a != b {
            g.add_edge(NodeIndex::new(a), NodeIndex::new(b), ());
        }
    }
    let layer = match toposort(&g, None) {
        Ok(order) => {
            let mut layer = vec![0usize; n];
            for v in order {
                for w in g.neighbors(v) {
                    layer[w.index()] = layer[w.index()].max(layer[v.index()] + 1);
                }
            }
            layer
        }
        Err(_) => (0..n).collect(),
    };
    let layers = layer.iter().max().map_or(0, |m| m + 1);
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); layers];
    for (v, &l) in layer.iter().enumerate() {
        rows[l].push(v);
    }
    let preds: Vec<Vec<usize>> = (0..n)
        .map(|v| neighbours(&g, v, petgraph::Direction::Incoming))
        .collect();
    let succs: Vec<Vec<usize>> = (0..n)
        .map(|v| neighbours(&g, v, petgraph::Direction::Outgoing))
        .collect();
    let mut rank = vec![0usize; n];
    set_ranks(&rows, &mut rank);
    for _ in 0..4 {
        for row in rows.iter_mut().skip(1) {
            reorder(row, &preds, &mut rank);
        }
        for row in rows.iter_mut().rev().skip(1) {
            reorder(row, &succs, &mut rank);
        }
    }
    let widest = rows.iter().map(Vec::len).max().unwrap_or(0);
    LayeredLayout {
        layer,
        rank,
        layers,
        widest,
    }
}

fn neighbours(g: &DiGraph<(), ()>, v: usize, dir: petgraph::Direction) -> Vec<usize> {
    g.neighbors_directed(NodeIndex::new(v), dir)
        .map(|w| w.index())
        .collect()
}

fn set_ranks(rows: &[Vec<usize>], rank: &mut [usize]) {
    for row in rows {
        for (i, &v) in row.iter().enumerate() {
            rank[v] = i;
        }
    }
}

/// Sort one layer by the mean rank of each stage's neighbours in the adjacent layer
/// (stages with none keep their place); the sort is stable, so ties keep file order.
fn reorder(row: &mut [usize], adjacent: &[Vec<usize>], rank: &mut [usize]) {
    let key = |v: usize| -> f64 {
        let ns = &adjacent[v];
        if ns.is_empty() {
            rank[v] as f64
        } else {
            ns.iter().map(|&w| rank[w] as f64).sum::<f64>() / ns.len() as f64
        }
    };
    let mut keyed: Vec<(f64, usize)> = row.iter().map(|&v| (key(v), v)).collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (i, (_, v)) in keyed.into_iter().enumerate() {
        row[i] = v;
        rank[v] = i;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_follow_the_longest_input_path() {
        // a → b → c, a → c, d alone
        let l = layered_layout(4, &[(0, 1), (1, 2), (0, 2)]);
        assert_eq!(l.layer, vec![0, 1, 2, 0]);
        assert_eq!(l.layers, 3);
        assert_eq!(l.widest, 2);
        for &(a, b) in &[(0, 1), (1, 2), (0, 2)] {
            assert!(l.layer[a] < l.layer[b]);
        }
    }

    #[test]
    fn barycentres_uncross_two_parallel_chains() {
        // Layer 0: a0, b0; layer 1 in file order: b1, a1 — crossing until reordered.
        let l = layered_layout(4, &[(0, 3), (1, 2)]);
        assert_eq!(l.rank[0] < l.rank[1], l.rank[3] < l.rank[2]);
    }

    #[test]
    fn a_deep_chain_and_a_cycle_lay_out() {
        let n = 20_000;
        let edges: Vec<(usize, usize)> = (1..n).map(|i| (i - 1, i)).collect();
        let l = layered_layout(n, &edges);
        assert_eq!(l.layers, n);
        let cyc = layered_layout(2, &[(0, 1), (1, 0)]);
        assert_eq!(cyc.layers, 2);
    }
}
