//! The `warmstart` command line.
//!
//! Exit codes (a contract scripts rely on; named constants in [`exit`], the only place
//! that knows the numbers):
//! - `0` success;
//! - `1` a stage failed (or a requested output does not exist yet);
//! - `2` invalid experiment file or invalid usage;
//! - `130` interrupted by Ctrl-C (nothing half-written; the next run resumes);
//! - `141` standard output is a closed pipe (`warmstart plan x | head -1`): a quiet exit,
//!   as a shell reports for tools killed by SIGPIPE. Any other failure to write the output
//!   (a full disk) is exit `1` with a message. Nothing here panics on a write error: all
//!   output goes through `output::Output`.
//!
//! Errors about the experiment file are rendered by miette with file:line:col and a
//! snippet; with no terminal (or `NO_COLOR`) the rendering is plain Unicode without colour,
//! which is what the snapshot tests pin down.

mod cluster;
mod commands;
mod context;
mod dag;
mod exit;
mod export;
mod kinds;
mod output;
mod progress;
mod render;
mod runs;
mod show;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use exit::Failure;

/// warmstart: weak-to-strong generalization experiments as data.
#[derive(Parser)]
#[command(name = "warmstart", version, about, long_about = None)]
struct Cli {
    /// Cache directory [env: WARMSTART_CACHE] [default: ./cache]
    #[arg(long, global = true, value_name = "DIR")]
    cache: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run an experiment: compute every stage that is missing or invalidated.
    Run {
        file: PathBuf,
        /// Values to use instead of the file's: `tau=25` (a [params] entry),
        /// `stages.finetune.delta=1e-3`, `experiment.seed=7` — typed as in the file.
        #[arg(value_name = "NAME=VALUE")]
        overrides: Vec<String>,
        /// Thread slots for stages [default: number of cores]
        #[arg(long, short = 'j')]
        jobs: Option<usize>,
        /// Stop launching stages after the first failure.
        #[arg(long)]
        fail_fast: bool,
        /// One JSON object per stage event, then a summary object.
        #[arg(long)]
        json: bool,
        /// First check the digests of every cache entry the run uses (not just sizes);
        /// corrupt ones are quarantined and recomputed.
        #[arg(long)]
        verify: bool,
        /// Where stages run [default: warmstart.toml's `[executor] kind`, else local].
        #[arg(long, value_enum)]
        executor: Option<cluster::ExecutorArg>,
        /// With a cluster executor: submit, print the job ids and return; the jobs run on.
        #[arg(long)]
        detach: bool,
    },
    /// Where each instance stands on the cluster: fresh, queued (job id), finished,
    /// failed (with its log), or not submitted.
    Status {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Cancel the experiment's queued and running cluster jobs.
    Cancel { file: PathBuf },
    /// Run one task of a cluster job (what `sbatch` runs on a compute node).
    #[command(hide = true)]
    Worker {
        /// The job's task list in the cache (`v1/jobs/specs/`).
        #[arg(long)]
        tasks: String,
        /// The task [default: $SLURM_ARRAY_TASK_ID, else 0].
        #[arg(long)]
        task: Option<u32>,
    },
    /// Show every stage instance, fresh or stale, and why.
    Plan {
        file: PathBuf,
        /// Overrides, as `run` takes them.
        #[arg(value_name = "NAME=VALUE")]
        overrides: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// List the recorded runs of an experiment (id, tags, when, what ran, overrides).
    Runs {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Params and `[experiment] metrics` across runs (default: the last 10), one row each.
    Compare {
        file: PathBuf,
        /// Runs by id (or unique id prefix) or tag.
        runs: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Name a run (default: the latest); gc keeps the entries of tagged runs.
    Tag {
        file: PathBuf,
        name: String,
        /// The run to name, by id, id prefix or tag.
        #[arg(long)]
        run: Option<String>,
    },
    /// Explain one stage's key, component by component, and why it would (not) re-run.
    Why {
        file: PathBuf,
        stage: String,
        /// Only instances with these coordinates (`alpha=0.5`, repeatable).
        #[arg(long = "at", value_name = "AXIS=VALUE")]
        at: Vec<String>,
    },
    /// Print a stage's output table (a `files` table — figures — is listed; -o DIR
    /// writes its files), or write it as Parquet (--format parquet -o FILE).
    Show {
        file: PathBuf,
        stage: String,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// At most this many rows per table.
        #[arg(long)]
        limit: Option<usize>,
        /// Which output table (default: the first).
        #[arg(long)]
        table: Option<String>,
        /// Only instances with these coordinates (`alpha=0.5`, repeatable).
        #[arg(long = "at", value_name = "AXIS=VALUE")]
        at: Vec<String>,
        /// With --format parquet: the Parquet file to write. For a `files` table (figures):
        /// the directory to write the files into.
        #[arg(long, short = 'o', value_name = "PATH")]
        out: Option<PathBuf>,
    },
    /// Write the stages' outputs as Parquet (coordinates as leading columns) and figures
    /// as files, with stable names and an index.json.
    Export {
        file: PathBuf,
        /// The export directory: new, empty, or an earlier export of this experiment
        /// (which it brings up to date).
        #[arg(long, short = 'o', value_name = "DIR")]
        out: PathBuf,
        /// Only this stage.
        #[arg(long)]
        stage: Option<String>,
        /// Only this table of the stage.
        #[arg(long, requires = "stage")]
        table: Option<String>,
        /// Replace an earlier export in DIR, even of another experiment (only the files
        /// its index.json lists are removed; a directory that is not an export is refused).
        #[arg(long)]
        clean: bool,
    },
    /// Write an HTML report (DIR/index.html, self-contained) with the exported Parquet
    /// files and figures it links to (DIR/data); works on a partly run experiment.
    Report {
        file: PathBuf,
        /// The report directory.
        #[arg(long, default_value = "report")]
        out: PathBuf,
        /// Open the page in the default browser afterwards.
        #[arg(long)]
        open: bool,
    },
    /// List cache entries not reachable from the given experiments; delete with --apply.
    Gc {
        files: Vec<PathBuf>,
        #[arg(long)]
        apply: bool,
    },
    /// Print the stage graph (or with --instances the instance graph) as DOT, Mermaid or JSON.
    Dag {
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = dag::GraphFormat::Dot)]
        format: dag::GraphFormat,
        /// One node per stage instance (the expanded sweep) instead of one per stage.
        #[arg(long)]
        instances: bool,
    },
    /// Check every file digest of the cache's entries (or those the given experiments
    /// use); exit 1 if any is corrupt. --repair quarantines them so the next run
    /// recomputes them.
    Verify {
        files: Vec<PathBuf>,
        #[arg(long)]
        repair: bool,
    },
    /// Print the JSON Schema of experiment files (for taplo / Even Better TOML).
    Schema {
        /// Also type the params of the plugins' kinds this experiment (or project file,
        /// warmstart.toml) declares [default: the built-in kinds only; other kinds are
        /// accepted with any params].
        file: Option<PathBuf>,
        /// The schema of the project file, warmstart.toml, instead.
        #[arg(long, conflicts_with = "file")]
        project: bool,
    },
    /// The stage kinds: every kind with its engine, or with KIND everything it declares
    /// (params, inputs, tables read and written).
    Kinds {
        /// The kind to describe in full [default: list every kind].
        kind: Option<String>,
        /// Also the kinds of the plugins this experiment (or project file, warmstart.toml)
        /// declares.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// Markdown instead of plain text; without KIND, the whole reference:
        /// `warmstart kinds --markdown > docs/kinds.md`.
        #[arg(long)]
        markdown: bool,
    },
    /// Inspect engine plugins.
    #[command(subcommand)]
    Plugins(PluginsCommand),
    /// Write a commented starter experiment (runs as is), its JSON Schema and a project
    /// file into DIR [default: .].
    Init { dir: Option<PathBuf> },
    /// Print a shell completion script: `warmstart completions bash > ~/.local/share/bash-completion/completions/warmstart`.
    Completions { shell: clap_complete::Shell },
}

#[derive(Subcommand)]
enum PluginsCommand {
    /// The engines an experiment can use: built-ins, plus the plugins it declares.
    List { file: Option<PathBuf> },
    /// Load a plugin file and show what it offers, or why it cannot load.
    Check { path: PathBuf },
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Table,
    Csv,
    Json,
    /// One Parquet file (needs -o FILE).
    Parquet,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // `--help`/`--version` go to stdout: a failed write is an output failure too.
            let printed = e.print();
            let code = if e.use_stderr() {
                exit::INVALID
            } else {
                exit::OK
            };
            return match printed {
                Err(err) if code == exit::OK => ExitCode::from(Failure::Output(err).exit_code()),
                _ => ExitCode::from(code),
            };
        }
    };
    let cache = cli
        .cache
        .or_else(|| std::env::var_os("WARMSTART_CACHE").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("cache"));
    let result = match cli.command {
        Command::Run {
            file,
            overrides,
            jobs,
            fail_fast,
            json,
            verify,
            executor,
            detach,
        } => {
            let args = commands::RunArgs {
                overrides,
                jobs,
                fail_fast,
                json,
                verify,
                executor,
                detach,
            };
            commands::run(&file, &cache, args)
        }
        Command::Status { file, json } => cluster::status(&file, &cache, json),
        Command::Cancel { file } => cluster::cancel(&file, &cache),
        Command::Worker { tasks, task } => cluster::worker(&cache, &tasks, task),
        Command::Plan {
            file,
            overrides,
            json,
        } => commands::plan(&file, &overrides, &cache, json),
        Command::Runs { file, json } => runs::runs(&file, &cache, json),
        Command::Compare { file, runs, json } => runs::compare(&file, &cache, &runs, json),
        Command::Tag { file, name, run } => runs::tag(&file, &cache, &name, run.as_deref()),
        Command::Why { file, stage, at } => commands::why(&file, &cache, &stage, &at),
        Command::Show {
            file,
            stage,
            format,
            limit,
            table,
            at,
            out,
        } => show::show(
            &file,
            &cache,
            &show::ShowArgs {
                stage: &stage,
                format,
                limit,
                table: table.as_deref(),
                at: &at,
                out: out.as_deref(),
            },
        ),
        Command::Export {
            file,
            out,
            stage,
            table,
            clean,
        } => {
            let opts = warmstart::export::ExportOptions {
                stage,
                table,
                clean,
            };
            export::export(&file, &cache, &out, &opts)
        }
        Command::Report { file, out, open } => export::report(&file, &cache, &out, open),
        Command::Gc { files, apply } => commands::gc(&files, &cache, apply),
        Command::Dag {
            file,
            format,
            instances,
        } => dag::dag(&file, format, instances),
        Command::Verify { files, repair } => verify::verify(&files, &cache, repair),
        Command::Schema { file, project } => commands::schema(file.as_deref(), project),
        Command::Kinds {
            kind,
            file,
            markdown,
        } => kinds::kinds(kinds::KindsArgs {
            kind: kind.as_deref(),
            file: file.as_deref(),
            markdown,
        }),
        Command::Plugins(PluginsCommand::List { file }) => commands::plugins_list(file.as_deref()),
        Command::Plugins(PluginsCommand::Check { path }) => commands::plugins_check(&path),
        Command::Init { dir } => commands::init(dir.as_deref()),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(
                shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "warmstart",
                &mut script,
            );
            let mut out = output::Output::stdout();
            out.text(format_args!("{}", String::from_utf8_lossy(&script)));
            out.finish()
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            match &f {
                Failure::Invalid(msg) | Failure::Stage(msg) => {
                    if !msg.is_empty() {
                        output::eprint_line(format_args!("{msg}"));
                    }
                }
                Failure::Interrupted => output::eprint_line(format_args!("warmstart: interrupted")),
                Failure::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                Failure::Output(e) => output::eprint_line(format_args!(
                    "error: cannot write the output: {e}\n  help: check the disk or file that \
                     standard output goes to"
                )),
            }
            ExitCode::from(f.exit_code())
        }
    }
}
