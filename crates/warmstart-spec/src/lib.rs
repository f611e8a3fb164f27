//! Experiment files: TOML text → validated [`Experiment`] → expanded stage [`Instance`]s.
//!
//! This crate is the front end of warmstart. It knows nothing of engines or the cache:
//! [`parse()`]/[`load`] read and validate a file, [`expand()`] turns the sweep into stage
//! instances, and [`json_schema`] describes the format for editors. Every problem is a
//! [`SpecError`] pointing into the file (`path:line:col`, a label, and a `help` saying how
//! to fix it); all problems found are returned together as [`SpecErrors`].
//!
//! # File format
//!
//! ```toml
//! [experiment]
//! name = "exp1-alignment"          # required, [A-Za-z0-9_.-]+, not `.`/`..` (names::check_name)
//! description = "..."              # optional
//! seed = 42                        # optional, default 0, non-negative integer
//!
//! [params]                          # shared typed values; may reference EARLIER params and axes
//! d = 200
//! n = "${4 * d}"                   # the whole string is one ${expr} => typed result (int here)
//! label = "run-${d}"               # otherwise: string interpolation ("run-200")
//!
//! [sweep]                           # named axes; file order = axis order
//! alpha = { linspace = [0.0, 1.0, 11] }   # start, stop (inclusive), count >= 1 (floats)
//! delta = { logspace = [-4, -1, 7] }      # 10^x for x in linspace(start, stop, count)
//! rep   = { range = [0, 5] }              # integers start..end (end excluded); [start, end, step], step != 0
//! lam   = [0.0, 1.5, 3.0]                 # explicit list of scalars; also { values = [...] }
//! step  = { glob = "ckpt/step-*" }        # what `*` stands for in the matching entries
//!
//! [stages.gen]
//! kind = "echo"                    # required string
//! engine = "native"                # optional string
//! inputs = ["other", { stage = "pre", pick = { alpha = 0.5 } }]   # optional
//! value = "${alpha}"               # every non-reserved key is a kind param
//! seed = 7                         # optional explicit seed (non-negative integer)
//! threads = 2                      # resource hint: integer >= 1 (not a param)
//! gpu = true                       # resource hint: boolean or device number >= 0 (not a param;
//!                                  # the scheduler runs one stage per device at a time)
//! gather = ["alpha"]               # optional: fan in over these axes
//! sweep = ["rep"]                  # optional: sweep over these axes even if no param uses them
//! description = "..."              # optional
//! ```
//!
//! The top level has only the tables `[experiment]`, `[params]`, `[sweep]` and `[stages]`;
//! at least one stage is required. Reserved stage keys are `kind`, `engine`, `inputs`,
//! `seed`, `threads`, `gpu`, `gather`, `sweep` and `description` ([`parse::RESERVED`]).
//! Every other key of a stage is a param: any TOML value except a date/time; strings
//! containing `${...}` are expressions; arrays and tables are walked recursively. Params
//! are checked against the engine's schema later, by the planner, not here.
//!
//! Stage names follow the experiment-name rule ([`names::check_name`]): they become file
//! names in exports. Names of `[params]` entries and of axes must be identifiers
//! (`[A-Za-z_][A-Za-z0-9_]*`) and must not clash. Axis values must be distinct (`1` and
//! `1.0` count as equal) and not `nan`. A single axis has at most [`parse::MAX_AXIS_LEN`]
//! values and an experiment expands to at most [`expand::MAX_INSTANCES`] instances. The
//! file itself is read only if it is a regular UTF-8 file of at most
//! [`source::MAX_FILE_BYTES`] (64 MiB).
//!
//! ## Expressions
//!
//! Inside `${...}`: numbers (`3`, `0.5`, `1e-3`), names (a `[params]` entry or a sweep
//! axis), `+ - * /` (`/` always gives a float), `//` (floor division), `%` (modulo with the
//! sign of the divisor), `**` (power; right-associative, tighter than unary minus), unary
//! minus, parentheses, and `min(a, b, ...)`, `max(a, b, ...)`, `int(x)` (truncates),
//! `float(x)`, `round(x)` (half to even, gives an integer), `sqrt(x)`, `log10(x)`, `exp(x)`,
//! `zfill(n, width)` (an integer as a zero-padded string: `zfill(16, 5)` = `"00016"`).
//! Integer op integer stays an integer (overflow is an error); any float makes the result
//! a float. Errors: unknown name (with a did-you-mean), syntax error (pointing at the column
//! inside the string), type error (a string or boolean in arithmetic), division by zero.
//!
//! If a string is exactly one `${expr}`, its value is the typed result (integer, float, or
//! whatever value the name holds). Otherwise each `${expr}` is formatted into the string
//! (strings verbatim, numbers as in `0.5` / `1.0` / `3`). **Escape:** `$${` is a literal
//! `${` (`"cost $${x}"` is the string `cost ${x}`); a `$` not followed by `{` is literal.
//!
//! A `glob` axis lists one directory, relative to the experiment file (an absolute pattern
//! is refused), when the file is loaded. The pattern has exactly one `*`, in its last component; entries whose names
//! match give the axis values — the text the `*` stood for, as integers sorted
//! numerically when all are decimal numbers (checkpoint steps: `step-00128` gives `128`),
//! as sorted strings otherwise. Hidden entries match only a pattern starting with `.`.
//! Stages rebuild the path from the value (`"ckpt/step-${zfill(step, 5)}"`), so a new
//! checkpoint directory adds sweep points and leaves the others cached.
//!
//! ## Sweeps
//!
//! A stage's axes are the axes referenced by its params (directly, or through a
//! `[params]` entry that references an axis), plus its `sweep` list, plus the axes of its
//! inputs (minus the axes an input `pick`s), minus its `gather` axes — always in `[sweep]`
//! order. [`expand()`] makes one instance per point of the cartesian product of a stage's
//! axes (the last axis varies fastest); a stage that uses no axis has one instance.
//!
//! For each input stage `U` (axes `A_U` after the pick), an instance with coordinates `C`
//! gets the `U` instances that agree with `C` on the axes they share and with the pick
//! values. If the stage gathers an axis of `U`, it gets all `U` instances along that axis,
//! in axis-value order, so a gather stage has several inputs from one upstream stage.
//! `pick` values must be values of the axis (ints and floats compare numerically) and the
//! axis must be an axis of that input; `gather` axes must be axes of at least one input,
//! and a gathering stage's params may not depend on a gathered axis.
//!
//! `[params]` entries that depend on an axis have no single value: they are kept in
//! [`Experiment::raw_params`] and evaluated per instance; [`Experiment::params`] holds the
//! evaluated axis-independent entries.

pub mod cluster;
pub mod dag;
pub mod error;
pub mod expand;
pub mod expr;
pub mod graph;
pub mod model;
pub mod names;
pub mod overrides;
pub mod parse;
pub mod project;
pub mod schema;
pub mod source;

use std::path::Path;

pub use cluster::{ClusterHints, ExecutorKind, ExecutorSpec};
pub use error::{SpecError, SpecErrors, did_you_mean};
pub use expand::expand;
pub use model::*;
pub use parse::{parse, parse_project};
pub use project::{PROJECT_FILE, find_project, load_project_for};
pub use schema::{SchemaKind, json_schema, project_json_schema};

/// Read and parse an experiment file. The path is used as given in diagnostics (pass a
/// relative path to get relative paths in reports). Only a regular UTF-8 file of at most
/// [`source::MAX_FILE_BYTES`] is read (see [`source`]).
pub fn load(path: &Path) -> Result<Experiment, SpecErrors> {
    load_with_overrides(path, &[])
}

/// [`load`], with command-line overrides (`tau=25`, `stages.f.delta=1e-3`; see
/// [`overrides`]) applied to the file's text first.
pub fn load_with_overrides(path: &Path, overrides: &[String]) -> Result<Experiment, SpecErrors> {
    let text = source::read_source(path, "experiment file")?;
    let source = overrides::apply(
        SourceFile {
            path: path.to_path_buf(),
            text,
        },
        overrides,
    )?;
    let mut experiment = parse(source)?;
    experiment.overrides = overrides.to_vec();
    Ok(experiment)
}
