//! What an experiment says about *where* its stages run, as opposed to *what* they compute:
//! per-stage cluster hints (`mem`, `time`, `partition`, `local`) and the project file's
//! `[executor]` table. None of it enters a cache key: the same stage computes the same
//! output on a laptop and on a cluster node.
//!
//! The formats are Slurm's, checked here so that a typo is an error pointing into the
//! file rather than a rejected `sbatch` after half a sweep was submitted.

use crate::model::{Span, Spanned};

/// Per-stage hints for a cluster executor (ignored by the local one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterHints {
    /// Memory per job, Slurm's `--mem` format: `512M`, `16G`.
    pub mem: Option<String>,
    /// Wall-time limit, Slurm's `--time` format: `30`, `04:00:00`, `1-12:00:00`.
    pub time: Option<String>,
    /// Slurm partition (queue) for this stage's jobs.
    pub partition: Option<String>,
    /// Run on the submitting machine even under a cluster executor (Snakemake's
    /// localrules). `None`: the kind decides (cheap kinds default to local).
    pub local: Option<bool>,
}

/// Which executor runs stages by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutorKind {
    /// Threads of the `warmstart` process.
    Local,
    /// Jobs submitted to Slurm with `sbatch`.
    Slurm,
}

/// The project file's `[executor]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutorSpec {
    /// Span of the `[executor]` key, for errors about the table as a whole.
    pub span: Span,
    pub kind: ExecutorKind,
    pub partition: Option<String>,
    pub account: Option<String>,
    pub qos: Option<String>,
    /// Default `--time` for stages that set none.
    pub time: Option<String>,
    /// Default `--mem` for stages that set none.
    pub mem: Option<String>,
    /// Further `sbatch` arguments, verbatim (`["--constraint=a100"]`).
    pub extra: Vec<Spanned<String>>,
    /// At most this many jobs (array tasks count one each) in the queue at once.
    pub max_submitted: Option<usize>,
    /// Seconds between two liveness checks (`squeue`), at least 1; default 10.
    pub poll_interval: Option<f64>,
    /// Allow a cache under `/tmp` or `/dev/shm` (only sound on a one-node cluster).
    pub allow_node_local_cache: bool,
}

impl ExecutorSpec {
    /// An executor table with nothing but its kind set.
    pub fn new(kind: ExecutorKind) -> Self {
        ExecutorSpec {
            span: 0..0,
            kind,
            partition: None,
            account: None,
            qos: None,
            time: None,
            mem: None,
            extra: Vec::new(),
            max_submitted: None,
            poll_interval: None,
            allow_node_local_cache: false,
        }
    }
}

/// Why `value` is not valid for the Slurm setting `key` (`mem`, `time`, or a name:
/// `partition`, `account`, `qos`), or `None` when it is.
pub fn setting_problem(key: &str, value: &str) -> Option<&'static str> {
    match key {
        "mem" => mem_problem(value),
        "time" => time_problem(value),
        _ => (value.is_empty() || value.contains(|c: char| c.is_whitespace() || c == ','))
            .then_some("write one name, without spaces or commas"),
    }
}

/// Why `s` is not a Slurm memory size, or `None` when it is one.
pub fn mem_problem(s: &str) -> Option<&'static str> {
    if s.len() > 1 && s.ends_with(['B', 'b']) {
        return Some("Slurm's units have no `B`: write e.g. `mem = \"16G\"` for 16 GiB");
    }
    let digits = s.trim_end_matches(['K', 'M', 'G', 'T', 'k', 'm', 'g', 't']);
    if s.len() - digits.len() > 1 {
        return Some("use one unit letter (K, M, G or T)");
    }
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Some("write a whole number with an optional unit, e.g. `mem = \"16G\"`");
    }
    if digits.bytes().all(|b| b == b'0') {
        return Some("a job needs more than 0 memory");
    }
    None
}

/// Why `s` is not a Slurm time limit, or `None` when it is one. Accepted, as `sbatch`
/// does: `M`, `M:S`, `H:M:S`, `D-H`, `D-H:M`, `D-H:M:S`.
pub fn time_problem(s: &str) -> Option<&'static str> {
    const HELP: &str =
        "write minutes (`30`), `HH:MM:SS` (`04:00:00`) or `D-HH:MM:SS` (`1-12:00:00`)";
    let (days, rest) = match s.split_once('-') {
        Some((d, r)) => (Some(d), r),
        None => (None, s),
    };
    let number = |p: &str| !p.is_empty() && p.len() <= 6 && p.bytes().all(|b| b.is_ascii_digit());
    if days.is_some_and(|d| !number(d)) {
        return Some(HELP);
    }
    let parts: Vec<&str> = rest.split(':').collect();
    if parts.len() > 3 || !parts.iter().all(|p| number(p)) {
        return Some(HELP);
    }
    // `M:S` and `H:M:S`: minutes and seconds below 60.
    let below_60 = |p: &&str| p.parse::<u32>().is_ok_and(|n| n < 60);
    if parts.len() >= 2 && !parts[1..].iter().all(below_60) {
        return Some("minutes and seconds must be below 60");
    }
    let all_zero = days.is_none_or(|d| d.bytes().all(|b| b == b'0'))
        && parts.iter().all(|p| p.bytes().all(|b| b == b'0'));
    if all_zero {
        return Some("a time limit of 0 means none in Slurm: give a real limit or leave it out");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slurm_memory_sizes() {
        for ok in ["512", "512M", "16G", "1T", "4g"] {
            assert_eq!(mem_problem(ok), None, "{ok}");
        }
        for bad in ["", "G", "16GB", "-1G", "1.5G", "0", "0G", "16 G"] {
            assert!(mem_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn slurm_time_limits() {
        for ok in [
            "30",
            "30:00",
            "04:00:00",
            "1-12",
            "1-12:30",
            "1-12:30:00",
            "100:00:00",
        ] {
            assert_eq!(time_problem(ok), None, "{ok}");
        }
        for bad in [
            "", "0", "00:00:00", "1:2:3:4", "4h", "1-", "-1", "10:75", "1:00:60", "a-1",
        ] {
            assert!(time_problem(bad).is_some(), "{bad}");
        }
    }
}
