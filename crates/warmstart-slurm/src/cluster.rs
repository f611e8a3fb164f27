//! Talking to Slurm: the [`Cluster`] trait (submit, who is alive, cancel) and
//! [`SlurmCommands`], which runs `sbatch`, `squeue` and `scancel`.
//!
//! Being a good citizen of a shared cluster is decided here: liveness is **one** `squeue`
//! call for all of a run's jobs (never one per job), `sacct` is never needed (it fails
//! where accounting is off), and every call has a timeout, since a controller that does
//! not answer must not hang the run.

use std::collections::HashMap;
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Why a call to Slurm failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    #[error(
        "`{0}` is not on PATH: the Slurm executor needs Slurm's client commands (install slurm-client, or load the cluster's slurm module) — or run without `--executor slurm`"
    )]
    Missing(&'static str),
    #[error("`{command}` failed: {message}")]
    Failed { command: String, message: String },
    #[error("`{command}` did not answer within {secs} s (is slurmctld up? `scontrol ping`)")]
    Timeout { command: String, secs: u64 },
}

/// A job's state in the queue, as `squeue` says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueState(pub String);

impl QueueState {
    /// Still to run or running (anything else is on its way out of the queue).
    pub fn is_alive(&self) -> bool {
        matches!(
            self.0.as_str(),
            "PENDING"
                | "RUNNING"
                | "CONFIGURING"
                | "COMPLETING"
                | "SUSPENDED"
                | "REQUEUED"
                | "REQUEUE_HOLD"
                | "REQUEUE_FED"
                | "RESIZING"
                | "SIGNALING"
                | "STAGE_OUT"
                | "STOPPED"
        )
    }
}

/// The few things the executor asks of a cluster.
pub trait Cluster: Send + Sync {
    /// Submit with these `sbatch` options and this command; the job id.
    fn submit(&self, args: &[String], command: &str) -> Result<String, ClusterError>;
    /// Check that Slurm would accept these options (`sbatch --test-only`), submitting
    /// nothing.
    fn check(&self, args: &[String]) -> Result<(), ClusterError>;
    /// The queue states of these jobs and their array tasks (`123_4`), in one call. Jobs
    /// that are not listed have left the queue.
    fn queue(&self, jobs: &[String]) -> Result<HashMap<String, QueueState>, ClusterError>;
    /// Cancel these jobs.
    fn cancel(&self, jobs: &[String]) -> Result<(), ClusterError>;
}

/// [`Cluster`] through Slurm's commands on PATH.
#[derive(Debug)]
pub struct SlurmCommands {
    timeout: Duration,
    /// `sbatch` calls made (benchmarks and tests count them).
    pub submissions: AtomicUsize,
    /// `squeue` calls made.
    pub queries: AtomicUsize,
}

impl Default for SlurmCommands {
    fn default() -> Self {
        SlurmCommands {
            timeout: Duration::from_secs(60),
            submissions: AtomicUsize::new(0),
            queries: AtomicUsize::new(0),
        }
    }
}

impl SlurmCommands {
    /// Fail early, before anything is submitted, when Slurm's commands are missing.
    pub fn find() -> Result<Self, ClusterError> {
        for c in ["sbatch", "squeue", "scancel"] {
            if !on_path(c) {
                return Err(ClusterError::Missing(c));
            }
        }
        Ok(SlurmCommands::default())
    }

    fn run(&self, program: &'static str, args: &[String]) -> Result<String, ClusterError> {
        let shown = || format!("{program} {}", args.join(" "));
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => ClusterError::Missing(program),
                _ => ClusterError::Failed {
                    command: shown(),
                    message: e.to_string(),
                },
            })?;
        // Drain both pipes on threads so a chatty command cannot block on a full pipe.
        let mut out = child.stdout.take();
        let mut err = child.stderr.take();
        let out_t = std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(o) = out.as_mut() {
                let _ = o.read_to_string(&mut s);
            }
            s
        });
        let err_t = std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(e) = err.as_mut() {
                let _ = e.read_to_string(&mut s);
            }
            s
        });
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break s,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(ClusterError::Timeout {
                        command: shown(),
                        secs: self.timeout.as_secs(),
                    });
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => {
                    return Err(ClusterError::Failed {
                        command: shown(),
                        message: e.to_string(),
                    });
                }
            }
        };
        let stdout = out_t.join().unwrap_or_default();
        let stderr = err_t.join().unwrap_or_default();
        if status.success() {
            Ok(stdout)
        } else {
            Err(ClusterError::Failed {
                command: shown(),
                message: first_line(&stderr)
                    .unwrap_or_else(|| format!("exit status {status}"))
                    .to_string(),
            })
        }
    }
}

fn first_line(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.lines().take(3).collect::<Vec<_>>().join(" / "))
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|d| {
            let p = d.join(program);
            p.is_file()
                && std::fs::metadata(&p).is_ok_and(|m| {
                    use std::os::unix::fs::PermissionsExt;
                    m.permissions().mode() & 0o111 != 0
                })
        })
    })
}

impl Cluster for SlurmCommands {
    fn submit(&self, args: &[String], command: &str) -> Result<String, ClusterError> {
        let mut a = vec!["--parsable".to_string()];
        a.extend(args.iter().cloned());
        a.push(format!("--wrap={command}"));
        self.submissions.fetch_add(1, Ordering::Relaxed);
        let out = self.run("sbatch", &a)?;
        // `--parsable` prints `id` or `id;cluster`.
        let id = out.trim().split(';').next().unwrap_or("").to_string();
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ClusterError::Failed {
                command: "sbatch --parsable".into(),
                message: format!("unexpected output `{}`", out.trim()),
            });
        }
        Ok(id)
    }

    fn check(&self, args: &[String]) -> Result<(), ClusterError> {
        let mut a = vec!["--test-only".to_string()];
        a.extend(args.iter().cloned());
        a.push("--wrap=true".into());
        self.run("sbatch", &a).map(|_| ())
    }

    fn queue(&self, jobs: &[String]) -> Result<HashMap<String, QueueState>, ClusterError> {
        if jobs.is_empty() {
            return Ok(HashMap::new());
        }
        self.queries.fetch_add(1, Ordering::Relaxed);
        let args = vec![
            "--me".to_string(),
            "--noheader".into(),
            "--array".into(),
            format!("--jobs={}", jobs.join(",")),
            "--format=%i %T".into(),
        ];
        match self.run("squeue", &args) {
            Ok(out) => Ok(parse_queue(&out)),
            // Every job named has left the controller's memory (after MinJobAge).
            Err(ClusterError::Failed { message, .. }) if message.contains("Invalid job id") => {
                Ok(HashMap::new())
            }
            Err(e) => Err(e),
        }
    }

    fn cancel(&self, jobs: &[String]) -> Result<(), ClusterError> {
        if jobs.is_empty() {
            return Ok(());
        }
        self.run("scancel", jobs).map(|_| ())
    }
}

/// `squeue --format="%i %T"` lines → job id (`123`, `123_4`) → state.
pub fn parse_queue(out: &str) -> HashMap<String, QueueState> {
    out.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.to_string(), QueueState(it.next()?.to_string())))
        })
        .collect()
}

/// Quote `s` for a POSIX shell (sbatch `--wrap` runs its command with `sh -c`).
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeue_lines_are_parsed_and_states_classified() {
        let q = parse_queue("101_0 RUNNING\n101_1 PENDING\n102 COMPLETING\n\n103 CANCELLED\n");
        assert_eq!(q.len(), 4);
        assert!(q["101_0"].is_alive() && q["101_1"].is_alive() && q["102"].is_alive());
        assert!(!q["103"].is_alive());
    }

    #[test]
    fn quoting_survives_quotes_and_spaces() {
        assert_eq!(shell_quote("/a b/it's"), r"'/a b/it'\''s'");
    }
}
