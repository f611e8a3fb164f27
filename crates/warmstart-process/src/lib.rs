//! The `process` engine: runs an external command — typically a script in another
//! language — as a stage, exchanging tables through files.
//!
//! One kind, `process`. For each stage instance the engine:
//!
//! 1. works in `StageRequest::scratch_dir` (or a fresh temporary directory);
//! 2. copies the declared `scripts` there (by file name) and writes `params.json` (params,
//!    seed, stage, coordinates, and where the inputs are) and every input table as
//!    `inputs/<stage>[-<axis>=<value>...]/<table>.<input_format>`;
//! 3. runs `command` (an argv list, or a string through `sh -c` with `shell = true`) with
//!    `env` added to its environment, stdin closed, and a `timeout_s` after which the whole
//!    process group is killed;
//! 4. reads back the declared `outputs` (`<name>.parquet|.csv|.jsonl`, each becoming table
//!    `<name>`), and adds a `log` table (columns `stream`, `line`) with everything the
//!    command printed — so the log is cached along with the results.
//!
//! Cache key: the params themselves, plus ([`Engine::key_extra`]) the blake3 digest of each
//! script file and, if `interpreter_version` is given, that command's output (so upgrading
//! Python invalidates). Output is `Deterministic`; a stage that is not (timings, network)
//! sets `volatile = true` — see [`determinism`].

pub mod formats;
mod spawn;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use warmstart_engine::{
    Determinism, Engine, EngineError, EngineInfo, KindSpec, NamedTable, ParamSpec, ParamType,
    Params, StageOutput, StageRequest, Value,
};

pub use formats::Format;

/// The engine id.
pub const ENGINE_ID: &str = "process";
/// The one kind.
pub const KIND: &str = "process";
/// The name of the log table.
pub const LOG_TABLE: &str = "log";
/// How many trailing stderr lines a failure message quotes.
pub const STDERR_TAIL: usize = 20;

/// Errors of file handling inside the engine (turned into [`EngineError`]s for the stage).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProcessError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Table { path: PathBuf, message: String },
}

impl ProcessError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        ProcessError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
    pub(crate) fn table(path: &Path, e: impl std::fmt::Display) -> Self {
        ProcessError::Table {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    }
}

impl From<ProcessError> for EngineError {
    fn from(e: ProcessError) -> Self {
        EngineError::Failed(e.to_string())
    }
}

/// The determinism of a `process` stage with these params: `Volatile` when
/// `volatile = true`, else `Deterministic` (reported to the planner through
/// `Engine::determinism`, so a volatile stage is never cached).
pub fn determinism(params: &Params) -> Determinism {
    if params.get("volatile").and_then(Value::as_bool) == Some(true) {
        Determinism::Volatile
    } else {
        Determinism::Deterministic
    }
}

/// The `process` engine.
#[derive(Debug)]
pub struct ProcessEngine {
    info: EngineInfo,
    base_dir: Option<PathBuf>,
}

impl Default for ProcessEngine {
    fn default() -> Self {
        Self::new()
    }
}

/// The param schema of kind `process`.
pub fn kind_spec() -> KindSpec {
    KindSpec {
        name: KIND.into(),
        doc: "Run an external command; tables in and out as files, stdout/stderr as a `log` table"
            .into(),
        params: vec![
            ParamSpec::any(
                "command",
                "The command: an argv list of strings, or one string run by `sh -c` when \
                 `shell = true`. `{base_dir}` and `{work_dir}` are replaced",
            ),
            ParamSpec::boolean("shell", "Run `command` (a string) through `sh -c`").default(false),
            ParamSpec::list(
                "scripts",
                ParamType::Path,
                "Script files: copied into the working directory by file name; their blake3 \
                 digests enter the cache key",
            )
            .default(Value::List(vec![])),
            ParamSpec::list(
                "interpreter_version",
                ParamType::Str,
                "A command whose stdout enters the cache key, e.g. [\"python3\", \"--version\"]",
            )
            .default(Value::List(vec![])),
            ParamSpec::list(
                "outputs",
                ParamType::Str,
                "Output files the command writes in its working directory: \
                 `<name>.parquet|.csv|.jsonl`, each read back as table `<name>`",
            )
            .default(Value::List(vec![])),
            ParamSpec::string("input_format", "How input tables are written")
                .default("csv")
                .choices(&["parquet", "csv", "jsonl"]),
            ParamSpec::float("timeout_s", "Kill the command after this many seconds")
                .default(3600.0)
                .min(0.001)
                .not_in_key(),
            ParamSpec::any("env", "Extra environment variables (a table of strings)")
                .default(Value::Table(BTreeMap::new())),
            ParamSpec::boolean(
                "volatile",
                "The output is not a function of the inputs (timings, network): never reuse it",
            )
            .default(false),
        ],
        determinism: Determinism::Deterministic,
        min_inputs: 0,
        max_inputs: None,
        reads: vec![],
        writes: vec![],
    }
}

impl ProcessEngine {
    /// The engine; relative `scripts` paths in `key_extra` resolve against the current
    /// directory (use [`ProcessEngine::with_base_dir`] when params are not absolutized).
    pub fn new() -> Self {
        ProcessEngine {
            info: EngineInfo {
                id: ENGINE_ID.into(),
                version: "1".into(),
                kinds: vec![kind_spec()],
            },
            base_dir: None,
        }
    }

    /// The engine, resolving relative script paths in `key_extra` against `dir` (the
    /// experiment file's directory).
    pub fn with_base_dir(dir: impl Into<PathBuf>) -> Self {
        ProcessEngine {
            base_dir: Some(dir.into()),
            ..Self::new()
        }
    }
}

/// Params decoded and checked.
#[derive(Debug, Clone)]
struct Setup {
    argv: Vec<String>,
    scripts: Vec<String>,
    interpreter_version: Vec<String>,
    outputs: Vec<(String, String, Format)>, // (file, table name, format)
    input_format: Format,
    timeout: Duration,
    env: Vec<(String, String)>,
}

fn strings(params: &Params, name: &str) -> Result<Vec<String>, EngineError> {
    match params.get(name) {
        None => Ok(vec![]),
        Some(Value::List(l)) => l
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| EngineError::param(name, "expected a list of strings"))
            })
            .collect(),
        Some(_) => Err(EngineError::param(name, "expected a list of strings")),
    }
}

impl Setup {
    fn new(params: &Params) -> Result<Setup, EngineError> {
        let shell = params
            .get("shell")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let argv = match (params.get("command"), shell) {
            (Some(Value::Str(s)), true) => vec!["sh".into(), "-c".into(), s.clone()],
            (Some(Value::Str(_)), false) => {
                return Err(EngineError::param(
                    "command",
                    "a string command needs `shell = true`; or give an argv list, e.g. \
                     [\"python3\", \"script.py\"]",
                ));
            }
            (Some(Value::List(_)), true) => {
                return Err(EngineError::param(
                    "command",
                    "with `shell = true`, give the command as one string",
                ));
            }
            (Some(Value::List(_)), false) => strings(params, "command")?,
            (None, _) => return Err(EngineError::param("command", "required")),
            (Some(v), _) => {
                return Err(EngineError::param(
                    "command",
                    format!("expected a list of strings, found {}", v.type_name()),
                ));
            }
        };
        if argv.is_empty() || argv[0].is_empty() {
            return Err(EngineError::param("command", "the command is empty"));
        }
        let outputs = strings(params, "outputs")?
            .into_iter()
            .map(|f| {
                let bad = || {
                    EngineError::param(
                        "outputs",
                        format!(
                            "{f:?}: outputs must be named `<name>.parquet`, `<name>.csv` or \
                             `<name>.jsonl`, with <name> matching [a-z0-9_-]+"
                        ),
                    )
                };
                let (stem, _) = f.rsplit_once('.').ok_or_else(bad)?;
                let fmt = Format::from_file_name(&f).ok_or_else(bad)?;
                if !warmstart_engine::is_table_name(stem) || stem == LOG_TABLE {
                    return Err(if stem == LOG_TABLE {
                        EngineError::param("outputs", "`log` is reserved for the command's output")
                    } else {
                        bad()
                    });
                }
                Ok((f.clone(), stem.to_string(), fmt))
            })
            .collect::<Result<Vec<_>, _>>()?;
        for (i, (_, name, _)) in outputs.iter().enumerate() {
            if outputs[..i].iter().any(|(_, n, _)| n == name) {
                return Err(EngineError::param(
                    "outputs",
                    format!("two outputs make table `{name}`"),
                ));
            }
        }
        let input_format = params
            .get("input_format")
            .and_then(Value::as_str)
            .map_or(Some(Format::Csv), Format::from_name)
            .ok_or_else(|| EngineError::param("input_format", "expected parquet, csv or jsonl"))?;
        let timeout_s = params
            .get("timeout_s")
            .and_then(Value::as_f64)
            .unwrap_or(3600.0);
        if !(timeout_s > 0.0 && timeout_s.is_finite()) {
            return Err(EngineError::param("timeout_s", "must be a positive number"));
        }
        let env = match params.get("env") {
            None => vec![],
            Some(Value::Table(t)) => t
                .iter()
                .map(|(k, v)| {
                    let s = match v {
                        Value::Str(s) => s.clone(),
                        Value::Int(_) | Value::Float(_) | Value::Bool(_) => v.to_string(),
                        _ => {
                            return Err(EngineError::param(
                                "env",
                                format!("`{k}`: values must be strings or numbers"),
                            ));
                        }
                    };
                    Ok((k.clone(), s))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(EngineError::param("env", "expected a table")),
        };
        let scripts = strings(params, "scripts")?;
        let mut names: Vec<&str> = Vec::new();
        for s in &scripts {
            let n = Path::new(s)
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("");
            if n.is_empty() || names.contains(&n) {
                return Err(EngineError::param(
                    "scripts",
                    format!("{s:?}: scripts are copied by file name, which must be unique"),
                ));
            }
            names.push(n);
        }
        Ok(Setup {
            argv,
            scripts,
            interpreter_version: strings(params, "interpreter_version")?,
            outputs,
            input_format,
            timeout: Duration::from_secs_f64(timeout_s),
            env,
        })
    }
}

fn resolve(base: Option<&Path>, p: &str) -> PathBuf {
    let p = Path::new(p);
    match base {
        Some(b) if p.is_relative() => b.join(p),
        _ => p.to_path_buf(),
    }
}

/// Directory name of one input: `<stage>` or `<stage>-<axis>=<value>-...`, file-name safe.
pub fn input_dir_name(stage: &str, coords: &[(String, Value)]) -> String {
    let mut s = stage.to_string();
    for (a, v) in coords {
        let v = match v {
            Value::Str(x) => x.clone(),
            other => other.to_string(),
        };
        s.push_str(&format!("-{a}={v}"));
    }
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '=') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl Engine for ProcessEngine {
    fn info(&self) -> &EngineInfo {
        &self.info
    }

    fn determinism(&self, _kind: &KindSpec, params: &Params) -> Determinism {
        determinism(params)
    }

    fn key_extra(&self, params: &Params) -> Result<Vec<(String, String)>, EngineError> {
        let setup = Setup::new(params)?;
        let mut extra = Vec::new();
        for s in &setup.scripts {
            let path = resolve(self.base_dir.as_deref(), s);
            let bytes = std::fs::read(&path).map_err(|e| {
                EngineError::param(
                    "scripts",
                    format!(
                        "cannot read {}: {e} (relative paths are relative to the experiment \
                         file)",
                        path.display()
                    ),
                )
            })?;
            extra.push((
                format!("script:{s}"),
                blake3::hash(&bytes).to_hex().to_string(),
            ));
        }
        if !setup.interpreter_version.is_empty() {
            let out = std::process::Command::new(&setup.interpreter_version[0])
                .args(&setup.interpreter_version[1..])
                .stdin(std::process::Stdio::null())
                .output()
                .map_err(|e| {
                    EngineError::param(
                        "interpreter_version",
                        format!("cannot run `{}`: {e}", setup.interpreter_version.join(" ")),
                    )
                })?;
            if !out.status.success() {
                return Err(EngineError::param(
                    "interpreter_version",
                    format!(
                        "`{}` failed ({})",
                        setup.interpreter_version.join(" "),
                        out.status
                    ),
                ));
            }
            // Some interpreters (python2) print their version on stderr.
            let mut v = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if v.is_empty() {
                v = String::from_utf8_lossy(&out.stderr).trim().to_string();
            }
            extra.push(("interpreter".into(), v));
        }
        Ok(extra)
    }

    fn run(&self, req: &StageRequest) -> Result<StageOutput, EngineError> {
        let setup = Setup::new(&req.params)?;
        let tmp;
        let work: PathBuf = match &req.scratch_dir {
            Some(d) => {
                std::fs::create_dir_all(d).map_err(|e| ProcessError::io(d, e))?;
                d.clone()
            }
            None => {
                tmp = tempfile::Builder::new()
                    .prefix("warmstart-process-")
                    .tempdir()
                    .map_err(|e| EngineError::failed(format!("creating a work directory: {e}")))?;
                tmp.path().to_path_buf()
            }
        };
        let base = req.base_dir.as_deref().or(self.base_dir.as_deref());
        // Scripts.
        for s in &setup.scripts {
            let src = resolve(base, s);
            let name = Path::new(s).file_name().unwrap_or_default();
            std::fs::copy(&src, work.join(name)).map_err(|e| {
                EngineError::param(
                    "scripts",
                    format!(
                        "cannot copy {}: {e} (relative paths are relative to the experiment file)",
                        src.display()
                    ),
                )
            })?;
        }
        // Inputs.
        let mut inputs_desc = Vec::new();
        for input in &req.inputs {
            let mut dir_name = input_dir_name(&input.stage, &input.coords);
            let mut k = 1;
            while inputs_desc
                .iter()
                .any(|d: &serde_json::Value| d["dir"] == format!("inputs/{dir_name}"))
            {
                k += 1;
                dir_name = format!("{}-{k}", input_dir_name(&input.stage, &input.coords));
            }
            let rel = format!("inputs/{dir_name}");
            let dir = work.join(&rel);
            std::fs::create_dir_all(&dir).map_err(|e| ProcessError::io(&dir, e))?;
            let mut tables = serde_json::Map::new();
            for t in &input.tables {
                let file = format!("{}.{}", t.name, setup.input_format.ext());
                formats::write_table(&dir.join(&file), setup.input_format, &t.batch).map_err(
                    |e| {
                        EngineError::Input(format!(
                            "writing `{}` of `{}`: {e}",
                            t.name, input.stage
                        ))
                    },
                )?;
                tables.insert(t.name.clone(), format!("{rel}/{file}").into());
            }
            let coords: serde_json::Map<_, _> = input
                .coords
                .iter()
                .map(|(a, v)| (a.clone(), v.to_json()))
                .collect();
            // JSON objects are key-sorted: `order` keeps the tables' output order, and
            // `primary` names the upstream's primary (first) table.
            let order: Vec<&str> = input.tables.iter().map(|t| t.name.as_str()).collect();
            let primary = order
                .first()
                .and_then(|n| tables.get(*n))
                .cloned()
                .unwrap_or(serde_json::Value::Null);
            inputs_desc.push(serde_json::json!({
                "stage": input.stage,
                "coords": coords,
                "dir": rel,
                "tables": tables,
                "order": order,
                "primary": primary,
            }));
        }
        let params: serde_json::Map<_, _> = req
            .params
            .iter()
            .map(|(k, v)| (k.clone(), v.to_json()))
            .collect();
        let coords: serde_json::Map<_, _> = req
            .coords
            .iter()
            .map(|(a, v)| (a.clone(), v.to_json()))
            .collect();
        let params_json = serde_json::json!({
            "stage": req.stage,
            "params": params,
            "seed": req.seed,
            "coords": coords,
            "threads": req.threads,
            "inputs": inputs_desc,
            "outputs": setup.outputs.iter().map(|(f, _, _)| f.clone()).collect::<Vec<_>>(),
        });
        let pj = work.join("params.json");
        std::fs::write(
            &pj,
            serde_json::to_string_pretty(&params_json).unwrap_or_default(),
        )
        .map_err(|e| ProcessError::io(&pj, e))?;

        // Run.
        let subst = |s: &str| {
            s.replace("{work_dir}", &work.to_string_lossy()).replace(
                "{base_dir}",
                &base
                    .map(|b| b.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            )
        };
        let argv: Vec<String> = setup.argv.iter().map(|a| subst(a)).collect();
        let mut env = vec![
            (
                "WARMSTART_PARAMS".to_string(),
                pj.to_string_lossy().into_owned(),
            ),
            (
                "WARMSTART_WORK_DIR".into(),
                work.to_string_lossy().into_owned(),
            ),
            ("WARMSTART_SEED".into(), req.seed.to_string()),
            ("WARMSTART_THREADS".into(), req.threads.to_string()),
            ("WARMSTART_STAGE".into(), req.stage.clone()),
        ];
        if let Some(b) = base {
            env.push((
                "WARMSTART_BASE_DIR".into(),
                b.to_string_lossy().into_owned(),
            ));
        }
        env.extend(setup.env.iter().cloned());
        let run = spawn::run(&argv, &work, &env, setup.timeout)?;
        let log = log_table(&run.lines)?;
        let shown = argv.join(" ");
        if run.timed_out {
            return Err(EngineError::failed(format!(
                "command `{shown}` timed out after {:?} and was killed; raise `timeout_s` if it \
                 needs longer.{}",
                setup.timeout,
                run.stderr_tail(STDERR_TAIL)
            )));
        }
        if !run.status_ok {
            return Err(EngineError::failed(format!(
                "command `{shown}` failed ({}).{}",
                run.status_text,
                run.stderr_tail(STDERR_TAIL)
            )));
        }
        // Outputs.
        let mut out = StageOutput::default();
        for (file, name, fmt) in &setup.outputs {
            let path = work.join(file);
            if !path.is_file() {
                return Err(EngineError::failed(format!(
                    "command `{shown}` succeeded but did not write the declared output `{file}` \
                     (in its working directory {}). Write it there, or fix `outputs`.{}",
                    work.display(),
                    run.stderr_tail(STDERR_TAIL)
                )));
            }
            let batch = formats::read_table(&path, *fmt)
                .map_err(|e| EngineError::failed(format!("reading output `{file}`: {e}")))?;
            out.tables.push(NamedTable::new(name.clone(), batch));
        }
        out.tables.push(NamedTable::new(LOG_TABLE, log));
        Ok(out)
    }
}

fn log_table(lines: &[(spawn::Stream, String)]) -> Result<RecordBatch, EngineError> {
    let stream = StringArray::from_iter_values(lines.iter().map(|(s, _)| s.name()));
    let line = StringArray::from_iter_values(lines.iter().map(|(_, l)| l.as_str()));
    Ok(RecordBatch::try_from_iter(vec![
        ("stream", Arc::new(stream) as ArrayRef),
        ("line", Arc::new(line) as ArrayRef),
    ])?)
}
