//! Turning the instances to submit into as few `sbatch` calls as Slurm's dependency rules
//! allow: each stage's instances with the same dependencies become one job array.
//!
//! Per stage (stages in dependency order, so upstream job ids exist):
//! - instances whose only pending upstream is one task each of the same upstream array,
//!   all different tasks (a one-to-one map `a[i] → b[i]`), become one array with the
//!   upstream's task ids and `--dependency=aftercorr:<array>`: task `i` starts when task
//!   `i` upstream succeeded, independently of the others;
//! - the others are grouped by their dependency list (`afterok:` on whole arrays when an
//!   instance needs all of an array's tasks, on single tasks otherwise), one array per
//!   group — e.g. a fan-in over a whole sweep is one job after the sweep's array.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use crate::config::{MAX_ARRAY_TASKS, Resources};

/// A submitted job, or one task of a submitted array.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobRef {
    /// The job id `sbatch` printed.
    pub job: String,
    /// The task id within the array, for arrays.
    pub task: Option<u32>,
}

impl fmt::Display for JobRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.task {
            Some(t) => write!(f, "{}_{t}", self.job),
            None => f.write_str(&self.job),
        }
    }
}

impl JobRef {
    /// `123` or `123_4`.
    pub fn parse(s: &str) -> Option<JobRef> {
        let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        match s.split_once('_') {
            Some((j, t)) if digits(j) && digits(t) => Some(JobRef {
                job: j.to_string(),
                task: t.parse().ok(),
            }),
            None if digits(s) => Some(JobRef {
                job: s.to_string(),
                task: None,
            }),
            _ => None,
        }
    }
}

/// The queue states of these jobs or array tasks (`123`, `123_4`): one `squeue` for
/// their jobs (an array's tasks are listed under its id), none when there are none.
pub fn queue_states<'a>(
    cluster: &dyn crate::cluster::Cluster,
    jobs: impl IntoIterator<Item = &'a str>,
) -> Result<
    std::collections::HashMap<String, crate::cluster::QueueState>,
    crate::cluster::ClusterError,
> {
    let ids: BTreeSet<String> = jobs
        .into_iter()
        .filter_map(|j| JobRef::parse(j).map(|r| r.job))
        .collect();
    let ids: Vec<String> = ids.into_iter().collect();
    cluster.queue(&ids)
}

/// An instance to submit: its node, resources, and the upstream nodes it must wait for
/// (those with a job still to finish).
#[derive(Debug, Clone)]
pub struct Pending {
    pub node: usize,
    pub resources: Resources,
    pub waits_for: Vec<usize>,
}

/// One `sbatch` call's worth of instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// (node, task id); a single job when there is one node and `array` is false.
    pub tasks: Vec<(usize, u32)>,
    pub resources: Resources,
    /// `afterok:1:2_3` or `aftercorr:5`, if it waits for anything.
    pub dependency: Option<String>,
    pub array: bool,
}

/// Group one stage's instances (see the module docs). `jobs`: the job of every upstream
/// node that has one; `array_len`: the number of tasks of every submitted array.
pub fn group_stage(
    batch: &[Pending],
    jobs: &HashMap<usize, JobRef>,
    array_len: &HashMap<String, usize>,
) -> Vec<Group> {
    let mut groups = Vec::new();
    let mut rest: Vec<&Pending> = Vec::new();
    // One-to-one maps onto an upstream array: (array, resources) → (node, upstream task).
    let mut corr: BTreeMap<(String, Resources), Vec<(usize, u32)>> = BTreeMap::new();
    for p in batch {
        let refs: BTreeSet<&JobRef> = p.waits_for.iter().filter_map(|d| jobs.get(d)).collect();
        match refs.iter().next() {
            Some(JobRef { job, task: Some(t) }) if refs.len() == 1 => corr
                .entry((job.clone(), p.resources.clone()))
                .or_default()
                .push((p.node, *t)),
            _ => rest.push(p),
        }
    }
    for ((array, resources), mut tasks) in corr {
        tasks.sort_by_key(|&(_, t)| t);
        let distinct = tasks.windows(2).all(|w| w[0].1 != w[1].1);
        if tasks.len() > 1 && distinct {
            groups.push(Group {
                tasks,
                resources,
                dependency: Some(format!("aftercorr:{array}")),
                array: true,
            });
        } else {
            for (node, t) in tasks {
                rest_single(
                    &mut groups,
                    node,
                    &resources,
                    format!("afterok:{array}_{t}"),
                );
            }
        }
    }
    // The rest: by dependency list.
    let mut by_deps: BTreeMap<(Option<String>, Resources), Vec<usize>> = BTreeMap::new();
    for p in rest {
        let dep = dependency(&p.waits_for, jobs, array_len);
        by_deps
            .entry((dep, p.resources.clone()))
            .or_default()
            .push(p.node);
    }
    for ((dependency, resources), nodes) in by_deps {
        for chunk in nodes.chunks(MAX_ARRAY_TASKS) {
            groups.push(Group {
                tasks: chunk
                    .iter()
                    .enumerate()
                    .map(|(t, &n)| (n, t as u32))
                    .collect(),
                resources: resources.clone(),
                dependency: dependency.clone(),
                array: chunk.len() > 1,
            });
        }
    }
    groups
}

fn rest_single(groups: &mut Vec<Group>, node: usize, resources: &Resources, dep: String) {
    groups.push(Group {
        tasks: vec![(node, 0)],
        resources: resources.clone(),
        dependency: Some(dep),
        array: false,
    });
}

/// `afterok:` over the jobs of `waits_for`: a whole array when every one of its tasks is
/// waited for, single tasks otherwise; `None` when nothing is waited for.
fn dependency(
    waits_for: &[usize],
    jobs: &HashMap<usize, JobRef>,
    array_len: &HashMap<String, usize>,
) -> Option<String> {
    let mut tasks: BTreeMap<&str, BTreeSet<Option<u32>>> = BTreeMap::new();
    for d in waits_for {
        if let Some(r) = jobs.get(d) {
            tasks.entry(&r.job).or_default().insert(r.task);
        }
    }
    let mut parts = Vec::new();
    for (job, ts) in tasks {
        let whole = ts.contains(&None) || array_len.get(job).is_some_and(|&n| n == ts.len());
        if whole {
            parts.push(job.to_string());
        } else {
            parts.extend(ts.iter().flatten().map(|t| format!("{job}_{t}")));
        }
    }
    (!parts.is_empty()).then(|| format!("afterok:{}", parts.join(":")))
}

/// `0-3,7,9-10`: Slurm's `--array` index list for these task ids.
pub fn array_indices(tasks: &[(usize, u32)]) -> String {
    let mut ids: Vec<u32> = tasks.iter().map(|&(_, t)| t).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < ids.len() {
        let start = ids[i];
        let mut end = start;
        while i + 1 < ids.len() && ids[i + 1] == end + 1 {
            i += 1;
            end = ids[i];
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    out.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res() -> Resources {
        Resources {
            cpus: 1,
            gpus: 0,
            mem: None,
            time: None,
            partition: None,
        }
    }

    fn pending(node: usize, waits_for: Vec<usize>) -> Pending {
        Pending {
            node,
            resources: res(),
            waits_for,
        }
    }

    fn task(job: &str, t: u32) -> JobRef {
        JobRef {
            job: job.into(),
            task: Some(t),
        }
    }

    #[test]
    fn independent_instances_are_one_array() {
        let batch: Vec<_> = (0..5).map(|n| pending(n, vec![])).collect();
        let g = group_stage(&batch, &HashMap::new(), &HashMap::new());
        assert_eq!(g.len(), 1);
        assert!(g[0].array && g[0].dependency.is_none());
        assert_eq!(array_indices(&g[0].tasks), "0-4");
    }

    #[test]
    fn a_one_to_one_map_is_one_array_after_corresponding_tasks() {
        // Upstream array 10 has tasks 0..3 for nodes 0..3; nodes 4..7 map onto them.
        let jobs: HashMap<usize, JobRef> = (0..4).map(|n| (n, task("10", n as u32))).collect();
        let batch: Vec<_> = (0..4).map(|n| pending(n + 4, vec![n])).collect();
        let g = group_stage(&batch, &jobs, &HashMap::from([("10".into(), 4)]));
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].dependency.as_deref(), Some("aftercorr:10"));
        assert_eq!(g[0].tasks, vec![(4, 0), (5, 1), (6, 2), (7, 3)]);
    }

    #[test]
    fn a_fan_in_waits_for_the_whole_array_and_partial_needs_name_tasks() {
        let jobs: HashMap<usize, JobRef> = (0..4).map(|n| (n, task("10", n as u32))).collect();
        let lens = HashMap::from([("10".into(), 4)]);
        let all = group_stage(&[pending(9, vec![0, 1, 2, 3])], &jobs, &lens);
        assert_eq!(all[0].dependency.as_deref(), Some("afterok:10"));
        assert!(!all[0].array);
        let some = group_stage(&[pending(9, vec![0, 2])], &jobs, &lens);
        assert_eq!(some[0].dependency.as_deref(), Some("afterok:10_0:10_2"));
    }

    #[test]
    fn index_lists_and_job_refs() {
        assert_eq!(
            array_indices(&[(0, 3), (0, 0), (0, 1), (0, 7), (0, 9), (0, 10)]),
            "0-1,3,7,9-10"
        );
        assert_eq!(JobRef::parse("12_3"), Some(task("12", 3)));
        assert_eq!(JobRef::parse("12").unwrap().to_string(), "12");
        assert_eq!(JobRef::parse("12_"), None);
        assert_eq!(JobRef::parse("x"), None);
    }
}
