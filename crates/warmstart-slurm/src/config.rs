//! The Slurm executor's settings (the project file's `[executor]` table, defaults filled
//! in) and how a stage's resource hints become `sbatch` options.

use std::path::PathBuf;
use std::time::Duration;

use warmstart_spec::{ClusterHints, ExecutorSpec};

/// Default seconds between two `squeue` calls: one call covers all of a run's jobs, and
/// completions are seen sooner through the workers' status records anyway.
pub const DEFAULT_POLL: Duration = Duration::from_secs(10);

/// Default cap on jobs (array tasks count one each) in the queue at once.
pub const DEFAULT_MAX_SUBMITTED: usize = 1000;

/// Largest array Slurm accepts by default (`MaxArraySize` 1001: task ids 0..=1000).
pub const MAX_ARRAY_TASKS: usize = 1000;

/// Settings of one Slurm run.
#[derive(Debug, Clone)]
pub struct SlurmConfig {
    pub partition: Option<String>,
    pub account: Option<String>,
    pub qos: Option<String>,
    pub time: Option<String>,
    pub mem: Option<String>,
    pub extra: Vec<String>,
    pub max_submitted: usize,
    pub poll_interval: Duration,
    pub allow_node_local_cache: bool,
    /// The `warmstart` binary the jobs run (`warmstart worker`); must be readable on the
    /// compute nodes at this path.
    pub worker_exe: PathBuf,
}

impl SlurmConfig {
    /// From the project file's `[executor]` table (or defaults when there is none).
    pub fn new(spec: Option<&ExecutorSpec>, worker_exe: PathBuf) -> Self {
        SlurmConfig {
            partition: spec.and_then(|s| s.partition.clone()),
            account: spec.and_then(|s| s.account.clone()),
            qos: spec.and_then(|s| s.qos.clone()),
            time: spec.and_then(|s| s.time.clone()),
            mem: spec.and_then(|s| s.mem.clone()),
            extra: spec.map_or_else(Vec::new, |s| {
                s.extra.iter().map(|e| e.value.clone()).collect()
            }),
            max_submitted: spec
                .and_then(|s| s.max_submitted)
                .unwrap_or(DEFAULT_MAX_SUBMITTED),
            poll_interval: spec
                .and_then(|s| s.poll_interval)
                .map_or(DEFAULT_POLL, Duration::from_secs_f64),
            allow_node_local_cache: spec.is_some_and(|s| s.allow_node_local_cache),
            worker_exe,
        }
    }
}

/// What one job asks Slurm for. Jobs of one array share it (it is per stage).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Resources {
    pub cpus: usize,
    pub gpus: u32,
    pub mem: Option<String>,
    pub time: Option<String>,
    pub partition: Option<String>,
}

impl Resources {
    /// A stage's resources: its hints, else the executor's defaults.
    pub fn of(threads: usize, gpu: bool, hints: &ClusterHints, cfg: &SlurmConfig) -> Self {
        Resources {
            cpus: threads.max(1),
            // `gpu = N` names a device on one machine; on a cluster Slurm picks the
            // device, so any GPU hint asks for one.
            gpus: u32::from(gpu),
            mem: hints.mem.clone().or_else(|| cfg.mem.clone()),
            time: hints.time.clone().or_else(|| cfg.time.clone()),
            partition: hints.partition.clone().or_else(|| cfg.partition.clone()),
        }
    }

    /// The `sbatch` options for these resources and the executor's account/qos/extra.
    pub fn sbatch_args(&self, cfg: &SlurmConfig) -> Vec<String> {
        let mut a = vec![format!("--cpus-per-task={}", self.cpus)];
        if self.gpus > 0 {
            a.push(format!("--gres=gpu:{}", self.gpus));
        }
        if let Some(m) = &self.mem {
            a.push(format!("--mem={m}"));
        }
        if let Some(t) = &self.time {
            a.push(format!("--time={t}"));
        }
        if let Some(p) = &self.partition {
            a.push(format!("--partition={p}"));
        }
        if let Some(x) = &cfg.account {
            a.push(format!("--account={x}"));
        }
        if let Some(x) = &cfg.qos {
            a.push(format!("--qos={x}"));
        }
        a.extend(cfg.extra.iter().cloned());
        a
    }
}

/// Kinds that run on the submitting machine unless a stage says `local = false`: they
/// take milliseconds, and a cluster job would cost seconds of queueing each.
pub const LOCAL_KINDS: [&str; 3] = ["aggregate", "plot", "echo"];

/// Whether a stage of `kind` with these hints runs on the submitting machine.
pub fn runs_locally(kind: &str, hints: &ClusterHints) -> bool {
    hints.local.unwrap_or_else(|| LOCAL_KINDS.contains(&kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_win_over_defaults_and_map_to_sbatch_options() {
        let mut spec = ExecutorSpec::new(warmstart_spec::ExecutorKind::Slurm);
        spec.mem = Some("4G".into());
        spec.time = Some("01:00:00".into());
        spec.account = Some("lab".into());
        spec.extra = vec![warmstart_spec::Spanned::new(
            "--constraint=a100".into(),
            0..0,
        )];
        let cfg = SlurmConfig::new(Some(&spec), "/bin/warmstart".into());
        let hints = ClusterHints {
            mem: Some("32G".into()),
            partition: Some("gpu".into()),
            ..ClusterHints::default()
        };
        let r = Resources::of(8, true, &hints, &cfg);
        assert_eq!(
            r.sbatch_args(&cfg),
            [
                "--cpus-per-task=8",
                "--gres=gpu:1",
                "--mem=32G",
                "--time=01:00:00",
                "--partition=gpu",
                "--account=lab",
                "--constraint=a100"
            ]
        );
        assert_eq!(cfg.poll_interval, DEFAULT_POLL);
    }

    #[test]
    fn cheap_kinds_are_local_unless_the_stage_says_otherwise() {
        let none = ClusterHints::default();
        assert!(runs_locally("aggregate", &none));
        assert!(!runs_locally("finetune", &none));
        let off = ClusterHints {
            local: Some(false),
            ..ClusterHints::default()
        };
        assert!(!runs_locally("echo", &off));
        let on = ClusterHints {
            local: Some(true),
            ..ClusterHints::default()
        };
        assert!(runs_locally("finetune", &on));
    }
}
