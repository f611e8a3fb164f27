//! `warmstart show FILE STAGE`: one output table of a stage's instances, as text (an ASCII
//! table, CSV or JSON) on stdout, or as one Parquet file (`--format parquet -o FILE`,
//! coordinates as leading columns).
//!
//! A stage's `files` table (figures and other artifacts: `path` + `data`) is listed, never
//! dumped: a figure is hundreds of kilobytes of bytes no terminal should print. The listing
//! gives each file's path and size; `-o DIR` writes the files themselves. Any other binary
//! column reads `<N bytes>` in the ASCII table.

use std::path::Path;

use warmstart::read::ReadError;
use warmstart::table::StageTableError;
use warmstart::{FILES_TABLE, NamedTable, Plan, assess};

use crate::context::{load_plan, open_store_for_reading, read_failure, select};
use crate::output::{Output, eprint_line};
use crate::render::{csv, displayable, files_listing, json_rows, pretty};
use crate::{Failure, Format};

/// What `show` was asked for.
pub struct ShowArgs<'a> {
    pub stage: &'a str,
    pub format: Format,
    pub limit: Option<usize>,
    pub table: Option<&'a str>,
    pub at: &'a [String],
    pub out: Option<&'a Path>,
}

pub fn show(file: &Path, cache: &Path, args: &ShowArgs<'_>) -> Result<(), Failure> {
    let plan = load_plan(file)?;
    let store = open_store_for_reading(cache)?;
    let nodes = select(&plan, args.stage, args.at)?;
    if args.table == Some("log") {
        if args.out.is_some() {
            return Err(out_is_not_for_text());
        }
        return crate::cluster::show_logs(&plan, &store, &nodes);
    }
    let a = assess(&plan, &store);
    let ctx = Ctx {
        file,
        plan: &plan,
        a: &a,
        store: &store,
    };
    match (args.format, args.out) {
        (Format::Parquet, _) => show_parquet(&ctx, &nodes, args),
        (_, Some(dir)) => write_figures(&ctx, &nodes, args.table, dir),
        (_, None) => print(&ctx, &nodes, args),
    }
}

/// What every part of `show` reads from.
struct Ctx<'a> {
    file: &'a Path,
    plan: &'a Plan,
    a: &'a warmstart::Assessment,
    store: &'a warmstart::Store,
}

impl Ctx<'_> {
    /// Instance `i`'s table `table` (its first when `None`), and how many tables it has.
    fn table(&self, i: usize, table: Option<&str>) -> Result<(NamedTable, usize), Failure> {
        let label = self.plan.nodes[i].label();
        let tables = warmstart::read::read_outputs(self.plan, self.a, self.store, i)
            .map_err(|e| not_fresh_failure(&e, self.file, self.store))?;
        let t = warmstart::read::pick_table(&label, &tables, table)
            .map_err(|e| read_failure(&e, self.file))?;
        Ok((t.clone(), tables.len()))
    }
}

fn out_is_not_for_text() -> Failure {
    Failure::Invalid(
        "error: -o writes Parquet (`--format parquet -o FILE`) or a stage's files (`-o DIR` for a `files` table), not text\n  help: to keep the text, redirect it: `warmstart show … > FILE`"
            .into(),
    )
}

/// A read failure; an instance that is not fresh in a cache that does not exist says so,
/// in case `--cache` points at the wrong place.
fn not_fresh_failure(e: &ReadError, file: &Path, store: &warmstart::Store) -> Failure {
    match (read_failure(e, file), e) {
        (Failure::Stage(msg), ReadError::NotFresh { .. }) => no_cache_note(msg, store),
        (f, _) => f,
    }
}

/// `msg` (an output is not fresh), with a note when there is no cache at all.
fn no_cache_note(msg: String, store: &warmstart::Store) -> Failure {
    if store.is_absent() {
        Failure::Stage(format!(
            "{msg}\n  note: there is no cache at {} (--cache DIR or WARMSTART_CACHE chooses another)",
            store.root().display()
        ))
    } else {
        Failure::Stage(msg)
    }
}

/// Each instance's table as text, on stdout, instance by instance: what was printed
/// before a failure stays printed. A `files` table is listed (path, bytes), with a note
/// on stderr on how to get the files.
fn print(ctx: &Ctx<'_>, nodes: &[usize], args: &ShowArgs<'_>) -> Result<(), Failure> {
    let mut out = Output::stdout();
    let mut json_all = Vec::new();
    let mut files = false;
    for (n, &i) in nodes.iter().enumerate() {
        let node = &ctx.plan.nodes[i];
        let (t, ntables) = ctx.table(i, args.table)?;
        let batch = match args.limit {
            Some(l) => t.batch.slice(0, l.min(t.batch.num_rows())),
            None => t.batch.clone(),
        };
        let batch = if t.name == FILES_TABLE {
            files = true;
            files_listing(&batch)
        } else {
            batch
        };
        match args.format {
            Format::Table => {
                if nodes.len() > 1 || ntables > 1 {
                    out.line(format_args!(
                        "{} · {} ({} rows)",
                        node.label(),
                        t.name,
                        t.batch.num_rows()
                    ));
                }
                out.line(format_args!("{}", pretty(&[displayable(&batch)])));
            }
            Format::Csv => out.text(format_args!("{}", csv(&batch, n == 0))),
            Format::Json | Format::Parquet => {
                for mut row in json_rows(&batch) {
                    if let serde_json::Value::Object(m) = &mut row
                        && !node.coords.is_empty()
                    {
                        m.insert(
                            "_coords".into(),
                            serde_json::Value::Object(warmstart::events::coords(&node.coords)),
                        );
                    }
                    json_all.push(row);
                }
            }
        }
    }
    if args.format == Format::Json {
        out.line(format_args!(
            "{}",
            serde_json::to_string_pretty(&json_all).unwrap_or_default()
        ));
    }
    out.finish()?;
    if files {
        eprint_line(format_args!(
            "note: `{}` holds files (figures); they are listed, not printed — `-o DIR` writes them (e.g. `warmstart show {} {} -o figures`)",
            args.stage,
            ctx.file.display(),
            args.stage
        ));
    }
    Ok(())
}

/// `-o DIR` with a text format: the `files` table's files (figures) into `DIR`, and where
/// each went. Every instance is read first: a table that is not a `files` table is refused
/// before anything is written.
fn write_figures(
    ctx: &Ctx<'_>,
    nodes: &[usize],
    table: Option<&str>,
    dir: &Path,
) -> Result<(), Failure> {
    let mut read = Vec::with_capacity(nodes.len());
    for &i in nodes {
        let (t, _) = ctx.table(i, table)?;
        if t.name != FILES_TABLE {
            return Err(out_is_not_for_text());
        }
        read.push((i, t));
    }
    let items: Vec<(usize, &NamedTable)> = read.iter().map(|(i, t)| (*i, t)).collect();
    let written = warmstart::export::write_files(dir, ctx.plan, &items).map_err(|e| {
        Failure::Stage(match e.help() {
            Some(help) => format!("error: {e}\n  help: {help}"),
            None => format!("error: {e}"),
        })
    })?;
    let mut out = Output::stdout();
    for w in &written {
        out.line(format_args!(
            "wrote {} ({} bytes)",
            w.path.display(),
            w.bytes
        ));
    }
    if written.is_empty() {
        out.line(format_args!("no files to write: the table is empty"));
    }
    out.finish()
}

/// `--format parquet -o FILE`: the selected instances' table as one Parquet file, each
/// instance's coordinates as leading columns.
fn show_parquet(ctx: &Ctx<'_>, nodes: &[usize], args: &ShowArgs<'_>) -> Result<(), Failure> {
    let Ctx {
        file,
        plan,
        a,
        store,
    } = *ctx;
    let Some(path) = args.out else {
        return Err(Failure::Invalid(format!(
            "error: --format parquet writes a file, not to the terminal or standard output\n  help: name the file with -o, e.g. `warmstart show {} {} --format parquet -o {}.parquet`",
            file.display(),
            args.stage,
            args.stage
        )));
    };
    let mut t = warmstart::table::stage_table(plan, a, store, nodes, args.table)
        .map_err(|e| stage_table_failure(e, file, store))?;
    if let Some(l) = args.limit {
        for b in &mut t.batches {
            *b = b.slice(0, l.min(b.num_rows()));
        }
    }
    warmstart::export::write_table(&t, path).map_err(|e| Failure::Stage(format!("error: {e}")))?;
    let mut out = Output::stdout();
    out.line(format_args!(
        "wrote {}: {} rows from {} instance(s), columns: {}",
        path.display(),
        t.num_rows(),
        t.batches.len(),
        t.schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    out.finish()
}

fn stage_table_failure(e: StageTableError, file: &Path, store: &warmstart::Store) -> Failure {
    match e {
        StageTableError::Read(r) => not_fresh_failure(&r, file, store),
        e @ StageTableError::NotFresh { .. } => no_cache_note(
            format!(
                "error: {e}\n  help: run `warmstart run {}` first (`warmstart why` says why they are stale)",
                file.display()
            ),
            store,
        ),
        e => Failure::Stage(format!("error: {e}")),
    }
}
