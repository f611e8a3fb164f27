//! `warmstart init`: a commented starter experiment that runs as is — a small version of
//! the paper's first experiment (weak-to-strong generalization against task alignment) —
//! with the JSON Schema next to it, so an editor with Even Better TOML (taplo) completes
//! and checks it from the first keystroke.

use std::path::{Path, PathBuf};

/// The starter experiment's file name.
pub const EXPERIMENT_FILE: &str = "experiment.toml";
/// The schema's file name (named on the experiment's first line).
pub const SCHEMA_FILE: &str = "warmstart.schema.json";
/// The project file written next to them: it marks the directory as a project root.
pub const PROJECT_FILE: &str = "warmstart.toml";

/// The starter experiment.
pub const STARTER: &str = r#"#:schema ./warmstart.schema.json
# A starter experiment: does a strong student trained on a weak supervisor's labels beat
# the supervisor (weak-to-strong generalization), and how does that depend on how well
# pre-training aligned the student with the task (α)? A small version of Exp 1 of
# "On the Blessing of Pre-training in Weak-to-Strong Generalization".
#
#   warmstart run experiment.toml          # runs everything (about a second)
#   warmstart plan experiment.toml         # what is fresh, what would run and why
#   warmstart show experiment.toml summary # the table behind the figure
#   warmstart export experiment.toml --out results   # Parquet files and the figure
#
# Change a param and run again: only what depends on it re-runs.

[experiment]
name = "starter"
description = "W2SG against task alignment α: a small Exp 1 (d = 50, five α values)."
seed = 1                      # every stage's seed derives from it (and the stage's coordinates)
metrics = ["summary.final_dist2", "summary.w2sg"]   # what `warmstart compare` shows per run

[params]                      # shared values; stages refer to them as ${name}
d = 50                        # dimension of the ground-truth w*
rho = 0.6                     # correlation of the weak supervisor with w*
lambda = 3.0                  # spike strength of the pre-training data
delta = 1e-4                  # fine-tuning step size
tau = 20                      # fine-tuning time (`warmstart kinds finetune` lists its params)

[sweep]                       # one instance per value of every axis a stage uses
alpha = { linspace = [0.0, 1.0, 5] }

[stages.problem]              # the synthetic task: w*, the weak supervisor, the data
kind = "generate"
d = "${d}"
alpha = "${alpha}"
rho = "${rho}"
lambda = "${lambda}"

[stages.pca]                  # pre-training: PCA on unlabeled data
kind = "pretrain"
inputs = ["problem"]
method = "pca"
n_samples = "${4 * d}"

[stages.finetune]             # fine-tuning on the weak supervisor's labels
kind = "finetune"
inputs = ["pca"]
delta = "${delta}"
tau = "${tau}"

[stages.summary]              # one row per α (gather: all α instances in one table)
kind = "aggregate"
inputs = ["finetune"]
gather = ["alpha"]
table = "trajectory"
axis = "alpha"

[stages.figure]               # the student's error against α, with the weak supervisor's
kind = "plot"
inputs = ["summary"]
table = "summary"
x = "alpha"
y = "final_dist2"
baseline = "weak_dist2"
baseline_label = "weak supervisor"
title = "Error after pre-training + fine-tuning vs alignment α"
x_label = "task alignment α"
y_label = "‖w − w*‖²"
name = "starter"
"#;

/// Why `init` could not write the starter.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// A file it would write exists already (nothing was written).
    #[error("{0} exists already")]
    Exists(PathBuf),
    /// Writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// Write the starter experiment, its schema and a project file into `dir` (created if
/// needed). Refuses, writing nothing, when any of them exists. The files written.
pub fn init(dir: &Path) -> Result<Vec<PathBuf>, InitError> {
    let files = [
        (dir.join(EXPERIMENT_FILE), STARTER.to_string()),
        (
            dir.join(SCHEMA_FILE),
            serde_json::to_string_pretty(&crate::describe::experiment_schema()).unwrap_or_default()
                + "\n",
        ),
        (
            dir.join(PROJECT_FILE),
            "# This directory is a warmstart project: settings shared by its experiments.\n\
             # `[engines.NAME]` declares plugins; `[executor]` selects Slurm (see README).\n\
             root = true\n"
                .to_string(),
        ),
    ];
    if let Some((p, _)) = files.iter().find(|(p, _)| p.exists()) {
        return Err(InitError::Exists(p.clone()));
    }
    std::fs::create_dir_all(dir).map_err(|source| InitError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    for (path, text) in files {
        // `create_new`: never replace a file that appeared since the check above.
        let r = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()));
        if let Err(source) = r {
            return Err(match source.kind() {
                std::io::ErrorKind::AlreadyExists => InitError::Exists(path),
                _ => InitError::Io { path, source },
            });
        }
        written.push(path);
    }
    Ok(written)
}
