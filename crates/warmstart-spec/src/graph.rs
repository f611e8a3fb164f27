//! The stage graph on petgraph: which stage reads which, a topological order, every cycle
//! (one per strongly connected component, found iteratively), and the axis inheritance
//! that flows along the edges (a stage's axes include its inputs' axes).
//!
//! Architecture invariant: nothing in this module recurses over the graph; orders, cycles
//! and searches use explicit worklists, so an experiment of any size (a 50 000-stage chain
//! or loop) cannot overflow the stack.

use std::collections::{BTreeSet, HashMap, VecDeque};

use petgraph::algo::kosaraju_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::model::*;

/// The stage graph of an experiment: node `i` is stage `i`; an edge `u → v` means stage
/// `v` reads stage `u` (data-flow direction). Inputs naming unknown stages are left out;
/// several inputs from one stage give one edge.
pub struct StageGraph {
    graph: DiGraph<usize, ()>,
}

/// One cycle of the stage graph: a loop through the stages (data-flow order, starting at
/// the lowest stage index of its group) and the whole group of stages that depend on each
/// other (a strongly connected component, sorted). The group may hold more stages than
/// the loop when several loops share stages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    pub path: Vec<usize>,
    pub group: Vec<usize>,
}

impl StageGraph {
    /// Build the graph of `stages`.
    pub fn new(stages: &[StageSpec]) -> Self {
        let index: HashMap<&str, usize> = stages
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.as_str(), i))
            .collect();
        let mut graph = DiGraph::with_capacity(stages.len(), stages.len());
        for i in 0..stages.len() {
            graph.add_node(i);
        }
        for (i, s) in stages.iter().enumerate() {
            let ups: BTreeSet<usize> = s
                .inputs
                .iter()
                .filter_map(|inp| index.get(inp.stage.value.as_str()).copied())
                .collect();
            for u in ups {
                graph.add_edge(NodeIndex::new(u), NodeIndex::new(i), ());
            }
        }
        StageGraph { graph }
    }

    /// Number of stages.
    pub fn len(&self) -> usize {
        self.graph.node_count()
    }

    /// Whether there are no stages.
    pub fn is_empty(&self) -> bool {
        self.graph.node_count() == 0
    }

    /// The stages reading stage `u`, sorted.
    fn readers(&self, u: usize) -> Vec<usize> {
        let mut r: Vec<usize> = self
            .graph
            .neighbors(NodeIndex::new(u))
            .map(|n| n.index())
            .collect();
        r.sort_unstable();
        r
    }

    /// A topological order (inputs first, file order among independent stages), or every
    /// cycle (one per group of mutually dependent stages, ordered by their lowest stage).
    pub fn topo_order(&self) -> Result<Vec<usize>, Vec<Cycle>> {
        let n = self.len();
        let mut indeg: Vec<usize> = (0..n)
            .map(|i| {
                self.graph
                    .neighbors_directed(NodeIndex::new(i), petgraph::Direction::Incoming)
                    .count()
            })
            .collect();
        // Kahn's algorithm with a sorted ready set gives the file-order tie break.
        let mut ready: BTreeSet<usize> = (0..n).filter(|&i| indeg[i] == 0).collect();
        let mut order = Vec::with_capacity(n);
        while let Some(u) = ready.pop_first() {
            order.push(u);
            for v in self.graph.neighbors(NodeIndex::new(u)) {
                let v = v.index();
                indeg[v] -= 1;
                if indeg[v] == 0 {
                    ready.insert(v);
                }
            }
        }
        if order.len() == n {
            Ok(order)
        } else {
            Err(self.cycles())
        }
    }

    /// Every cycle: one per strongly connected component with more than one stage (or a
    /// stage reading itself), with the shortest loop through the component's first stage.
    pub fn cycles(&self) -> Vec<Cycle> {
        let mut out: Vec<Cycle> = kosaraju_scc(&self.graph)
            .into_iter()
            .filter_map(|scc| {
                let mut group: Vec<usize> = scc.iter().map(|n| n.index()).collect();
                group.sort_unstable();
                let first = *group.first()?;
                let self_loop = self
                    .graph
                    .contains_edge(NodeIndex::new(first), NodeIndex::new(first));
                if group.len() == 1 && !self_loop {
                    return None;
                }
                let path = self.shortest_loop(first, &group);
                Some(Cycle { path, group })
            })
            .collect();
        out.sort_by_key(|c| c.group.first().copied());
        out
    }

    /// The shortest loop from `start` back to itself inside `group` (breadth-first, so
    /// iterative): stage indices in data-flow order, starting at `start`.
    fn shortest_loop(&self, start: usize, group: &[usize]) -> Vec<usize> {
        let mut parent: HashMap<usize, usize> = HashMap::new();
        let mut queue = VecDeque::from([start]);
        while let Some(u) = queue.pop_front() {
            for v in self.readers(u) {
                if v == start {
                    let mut path = vec![u];
                    let mut cur = u;
                    while cur != start {
                        match parent.get(&cur) {
                            Some(&p) => {
                                path.push(p);
                                cur = p;
                            }
                            None => break,
                        }
                    }
                    path.reverse();
                    return path;
                }
                if group.binary_search(&v).is_ok() && !parent.contains_key(&v) {
                    parent.insert(v, u);
                    queue.push_back(v);
                }
            }
        }
        // A strongly connected group always has a loop; fall back to the group itself.
        group.to_vec()
    }
}

/// A topological order of the stages, or every cycle (see [`StageGraph::topo_order`]).
pub fn topo_order(stages: &[StageSpec]) -> Result<Vec<usize>, Vec<Cycle>> {
    StageGraph::new(stages).topo_order()
}

/// Every name used in `${...}` inside a raw value.
pub(crate) fn collect_names(v: &RawValue, out: &mut Vec<String>) {
    // Explicit worklist: param values may be nested (up to the parser's nesting limit).
    let mut todo = vec![v];
    while let Some(v) = todo.pop() {
        match v {
            RawValue::Template { template, .. } => {
                out.extend(template.names().into_iter().map(|(n, _)| n))
            }
            RawValue::List(l) => todo.extend(l.iter().rev().map(|x| &x.value)),
            RawValue::Table(t) => todo.extend(t.iter().rev().map(|(_, x)| &x.value)),
            _ => {}
        }
    }
}

/// For each `[params]` entry, the axes it depends on (directly or through earlier params).
pub(crate) fn param_axes(
    raw: &[(Spanned<String>, Spanned<RawValue>)],
    axes: &[Axis],
) -> HashMap<String, BTreeSet<String>> {
    let mut deps: HashMap<String, BTreeSet<String>> = HashMap::new();
    for (k, v) in raw {
        let mut names = Vec::new();
        collect_names(&v.value, &mut names);
        let mut d = BTreeSet::new();
        for n in names {
            if let Some(pd) = deps.get(&n) {
                d.extend(pd.iter().cloned());
            } else if axes.iter().any(|a| a.name == n) {
                d.insert(n);
            }
        }
        deps.insert(k.value.clone(), d);
    }
    deps
}

/// The axes of every stage, in `[sweep]` order (see the crate docs for the rule): its
/// params' axes, its `sweep` list, and its inputs' axes (minus picks), minus its gathers.
pub(crate) fn stage_axes_of(exp: &Experiment) -> Vec<Vec<String>> {
    let order = topo_order(&exp.stages).unwrap_or_else(|_| (0..exp.stages.len()).collect());
    stage_axes_in(exp, &order, &stage_index(exp))
}

/// Stage name → index into `exp.stages`.
pub(crate) fn stage_index(exp: &Experiment) -> HashMap<&str, usize> {
    exp.stages
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect()
}

/// [`stage_axes_of`] given a topological order and the stage index (linear in the size of
/// the stage graph).
pub(crate) fn stage_axes_in(
    exp: &Experiment,
    order: &[usize],
    index: &HashMap<&str, usize>,
) -> Vec<Vec<String>> {
    let deps = param_axes(&exp.raw_params, &exp.axes);
    let is_axis = |n: &str| exp.axes.iter().any(|a| a.name == n);
    let mut sets: Vec<BTreeSet<String>> = vec![BTreeSet::new(); exp.stages.len()];
    for &si in order {
        let s = &exp.stages[si];
        let mut set = BTreeSet::new();
        let mut names = Vec::new();
        for (_, v) in &s.params {
            collect_names(&v.value, &mut names);
        }
        if let Some(seed) = &s.seed {
            collect_names(&seed.value, &mut names);
        }
        for n in names {
            if is_axis(&n) {
                set.insert(n);
            } else if let Some(d) = deps.get(&n) {
                set.extend(d.iter().cloned());
            }
        }
        set.extend(s.sweep.iter().map(|a| a.value.clone()));
        for inp in &s.inputs {
            if let Some(&ui) = index.get(inp.stage.value.as_str())
                && ui != si
            {
                for a in &sets[ui] {
                    if !inp.pick.iter().any(|(p, _)| p == a) {
                        set.insert(a.clone());
                    }
                }
            }
        }
        for g in &s.gather {
            set.remove(&g.value);
        }
        sets[si] = set;
    }
    sets.into_iter()
        .map(|set| {
            exp.axes
                .iter()
                .filter(|a| set.contains(&a.name))
                .map(|a| a.name.clone())
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stages(edges: &[(&str, &[&str])]) -> Vec<StageSpec> {
        edges
            .iter()
            .map(|(name, inputs)| StageSpec {
                name: name.to_string(),
                span: 0..0,
                kind: Spanned::new("k".into(), 0..0),
                engine: None,
                inputs: inputs
                    .iter()
                    .map(|i| InputSpec {
                        stage: Spanned::new(i.to_string(), 0..0),
                        pick: Vec::new(),
                    })
                    .collect(),
                params: Vec::new(),
                seed: None,
                threads: None,
                gpu: None,
                gather: Vec::new(),
                sweep: Vec::new(),
                description: String::new(),
                cluster: Default::default(),
            })
            .collect()
    }

    #[test]
    fn topological_order_takes_the_first_ready_stage_in_file_order() {
        let s = stages(&[("c", &["a"]), ("a", &[]), ("b", &[])]);
        assert_eq!(topo_order(&s).unwrap(), vec![1, 0, 2]);
    }

    #[test]
    fn every_group_of_mutually_dependent_stages_is_one_cycle() {
        let s = stages(&[
            ("a", &["b", "c"]),
            ("b", &["a"]),
            ("c", &["a"]),
            ("d", &["e"]),
            ("e", &["d"]),
            ("f", &["a"]),
        ]);
        let cycles = topo_order(&s).unwrap_err();
        assert_eq!(
            cycles,
            vec![
                Cycle {
                    path: vec![0, 1],
                    group: vec![0, 1, 2]
                },
                Cycle {
                    path: vec![3, 4],
                    group: vec![3, 4]
                },
            ]
        );
    }

    #[test]
    fn a_huge_loop_is_found_without_recursion() {
        let n = 200_000;
        let names: Vec<String> = (0..n).map(|i| format!("s{i}")).collect();
        let prev: Vec<[&str; 1]> = (0..n).map(|i| [names[(i + n - 1) % n].as_str()]).collect();
        let spec: Vec<(&str, &[&str])> =
            (0..n).map(|i| (names[i].as_str(), &prev[i][..])).collect();
        let cycles = topo_order(&stages(&spec)).unwrap_err();
        assert_eq!(cycles.len(), 1);
        assert_eq!(cycles[0].path.len(), n);
        assert_eq!(cycles[0].path[..3], [0, 1, 2]);
    }
}
