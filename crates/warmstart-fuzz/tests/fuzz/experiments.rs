//! Experiment files through the loader and planner.
//!
//! Inputs start from the shipped `experiments/*.toml` and the malformed corpus
//! (`tests/malformed*/`). Files that parse as TOML are mutated as trees — keys deleted,
//! renamed to reserved words, values replaced by values of other types, extreme numbers,
//! expressions, axis forms, deep nesting, stages cloned and wired into cycles — and then
//! serialized; every file may also get textual damage (splices, truncation). Each input
//! goes through `warmstart_spec::parse` (what `load` does after reading the file),
//! `warmstart_plan::build` with the built-in engines, key computation against an empty
//! cache (`assess`), and miette rendering of every error, as the CLI does.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::Index;
use toml::{Table, Value};

use super::harness::{budget, run_for, save_failure, within_limit, workspace_root};

/// The seed inputs: (file name, text).
fn corpus() -> &'static Vec<(String, String)> {
    static CORPUS: OnceLock<Vec<(String, String)>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let root = workspace_root();
        let mut out = Vec::new();
        for dir in ["experiments", "tests/malformed", "tests/malformed-plan"] {
            let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
                .expect("corpus dir")
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .collect();
            files.sort();
            for f in files {
                let text = std::fs::read_to_string(&f).expect("corpus file");
                out.push((f.display().to_string(), text));
            }
        }
        assert!(out.len() > 20, "the corpus is missing");
        out
    })
}

/// Words the format gives meaning to: keys and axis forms.
const RESERVED: &[&str] = &[
    "experiment",
    "name",
    "description",
    "seed",
    "params",
    "sweep",
    "stages",
    "kind",
    "engine",
    "engines",
    "path",
    "inputs",
    "stage",
    "pick",
    "gather",
    "threads",
    "gpu",
    "value",
    "linspace",
    "logspace",
    "range",
    "values",
    "glob",
    "root",
    "outputs",
    "command",
    "scripts",
    "shell",
    "env",
    "volatile",
    "timeout_s",
    "n",
    "d",
    "alpha",
];

/// Strings that exercise the expression language and the name rules.
const STRINGS: &[&str] = &[
    "",
    ".",
    "..",
    "../x",
    "/abs",
    "a/b",
    "a\\b",
    "x\u{0}y",
    "${",
    "}",
    "$${x}",
    "${}",
    "${1/0}",
    "${0/0}",
    "${-0.0}",
    "${1e308 * 10}",
    "${2 ** 1024}",
    "${9223372036854775807 + 1}",
    "${-9223372036854775808 / -1}",
    "${-9223372036854775808 % -1}",
    "${(((((((((1)))))))))}",
    "${a b}",
    "${a ? b : c}",
    "${log(0)}",
    "${sqrt(-1)}",
    "${nan}",
    "${inf}",
    "x${1}y${2}z",
    "${\"s\" + 1}",
    "${[1,2]}",
    "${alpha}",
    "${d * 4}",
    "${undefined_name}",
    "ckpt/step-*",
    "*",
    "**",
    "[",
    "{",
    "é",
    "🦀",
    "nan",
    "inf",
    "-inf",
    "1e999",
    "CON",
    "a-b_c.d",
];

/// A generated TOML value (numbers at the edges, strings from [`STRINGS`] or expressions
/// over the document's own names, axis forms, deep nesting).
#[derive(Debug, Clone)]
enum Gen {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
    /// A name of the document itself (a stage, axis or param), by index.
    DocName(Index),
    /// `${<doc name> <op> <number>}`.
    Expr(Index, &'static str, i64),
    Array(Vec<Gen>),
    Inline(Vec<(String, Gen)>),
    /// `[[[…1…]]]`, this deep.
    Deep(usize),
    /// A long string or array, this long.
    Long(usize),
}

fn leaf() -> impl Strategy<Value = Gen> {
    prop_oneof![
        prop_oneof![
            Just(0i64),
            Just(-1),
            Just(1),
            Just(i64::MAX),
            Just(i64::MIN),
            Just(100_000),
            Just(100_001),
            Just(1_000_001),
            any::<i64>(),
            -5i64..20,
        ]
        .prop_map(Gen::Int),
        prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-0.0),
            Just(1e308),
            Just(5e-324),
            any::<f64>(),
            -2.0f64..2.0,
        ]
        .prop_map(Gen::Float),
        any::<bool>().prop_map(Gen::Bool),
        proptest::sample::select(STRINGS).prop_map(|s| Gen::Str(s.to_string())),
        "[a-z_${}().*+/ -]{0,24}".prop_map(Gen::Str),
        any::<Index>().prop_map(Gen::DocName),
        (
            any::<Index>(),
            proptest::sample::select(&["+", "-", "*", "/", "%", "**", ">", "=="][..]),
            -3i64..1000
        )
            .prop_map(|(i, op, n)| Gen::Expr(i, op, n)),
        (0usize..48).prop_map(Gen::Deep),
        long_len().prop_map(Gen::Long),
    ]
}

/// Lengths of long strings/arrays (odd lengths make arrays, even ones strings). Long
/// arrays once found a blow-up (tests/malformed-binary/91-*: an error per element, each
/// with a copy of the file).
fn long_len() -> BoxedStrategy<usize> {
    prop_oneof![
        (0usize..500).prop_map(|n| n | 1),
        Just(20_001usize),
        Just(70_000),
        Just(100_002)
    ]
    .boxed()
}

fn value() -> impl Strategy<Value = Gen> {
    leaf().prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Gen::Array),
            proptest::collection::vec(
                (
                    proptest::sample::select(RESERVED).prop_map(str::to_string),
                    inner
                ),
                0..4
            )
            .prop_map(Gen::Inline),
        ]
    })
}

/// One edit of the document.
#[derive(Debug, Clone)]
enum Mutation {
    Delete(Index),
    Set(Index, Gen),
    Rename(Index, &'static str),
    Insert(Index, &'static str, Gen),
    /// Copy a stage under a new name (more instances, name clashes).
    CloneStage(Index, String),
    /// Make a stage take another as input (diamonds, cycles, self-loops).
    Wire(Index, Index),
    /// Turn an axis into a form with these arguments.
    Axis(Index, &'static str, Vec<Gen>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        2 => any::<Index>().prop_map(Mutation::Delete),
        5 => (any::<Index>(), value()).prop_map(|(i, v)| Mutation::Set(i, v)),
        2 => (any::<Index>(), proptest::sample::select(RESERVED)).prop_map(|(i, k)| Mutation::Rename(i, k)),
        3 => (any::<Index>(), proptest::sample::select(RESERVED), value())
            .prop_map(|(i, k, v)| Mutation::Insert(i, k, v)),
        1 => (any::<Index>(), "[a-z.]{0,6}").prop_map(|(i, n)| Mutation::CloneStage(i, n)),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::Wire(a, b)),
        2 => (
            any::<Index>(),
            proptest::sample::select(&["linspace", "logspace", "range", "values", "glob"][..]),
            proptest::collection::vec(leaf(), 0..4)
        )
            .prop_map(|(i, f, a)| Mutation::Axis(i, f, a)),
    ]
}

/// Damage to the text after serialization.
#[derive(Debug, Clone)]
enum TextEdit {
    Splice(Index, String),
    Truncate(Index),
    DeleteRange(Index, usize),
}

fn text_edit() -> impl Strategy<Value = TextEdit> {
    prop_oneof![
        (
            any::<Index>(),
            prop_oneof![
                proptest::sample::select(STRINGS).prop_map(str::to_string),
                proptest::sample::select(
                    &[
                        "\n[stages.x]\n",
                        "\n[[a]]\n",
                        " = ",
                        "\"",
                        "'''",
                        "[",
                        "]\n",
                        "{",
                        "}",
                        "\n[sweep]\nz = [1, 1]\n",
                        "#",
                        "\r\n",
                        "\u{feff}",
                        "\\u0000"
                    ][..]
                )
                .prop_map(str::to_string),
                any::<String>()
            ]
        )
            .prop_map(|(i, s)| TextEdit::Splice(i, s)),
        any::<Index>().prop_map(TextEdit::Truncate),
        (any::<Index>(), 1usize..40).prop_map(|(i, n)| TextEdit::DeleteRange(i, n)),
    ]
}

/// A fuzz input: a corpus file and what to do to it.
#[derive(Debug, Clone)]
pub struct Case {
    file: Index,
    mutations: Vec<Mutation>,
    edits: Vec<TextEdit>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        any::<Index>(),
        proptest::collection::vec(mutation(), 0..6),
        prop_oneof![
            3 => Just(Vec::new()),
            1 => proptest::collection::vec(text_edit(), 1..3)
        ],
    )
        .prop_map(|(file, mutations, edits)| Case {
            file,
            mutations,
            edits,
        })
}

/// A step from a table into one of its values.
#[derive(Debug, Clone)]
enum Seg {
    Key(String),
    Item(usize),
}

/// Every value's path in the document (bounded), tables first-class.
fn paths(t: &Table) -> Vec<Vec<Seg>> {
    fn walk(v: &Value, at: &mut Vec<Seg>, out: &mut Vec<Vec<Seg>>) {
        if out.len() > 4000 {
            return;
        }
        out.push(at.clone());
        match v {
            Value::Table(t) => {
                for (k, v) in t {
                    at.push(Seg::Key(k.clone()));
                    walk(v, at, out);
                    at.pop();
                }
            }
            Value::Array(a) => {
                for (i, v) in a.iter().enumerate().take(16) {
                    at.push(Seg::Item(i));
                    walk(v, at, out);
                    at.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(&Value::Table(t.clone()), &mut Vec::new(), &mut out);
    out
}

fn get_mut<'a>(root: &'a mut Value, path: &[Seg]) -> Option<&'a mut Value> {
    let mut v = root;
    for s in path {
        v = match (s, v) {
            (Seg::Key(k), Value::Table(t)) => t.get_mut(k)?,
            (Seg::Item(i), Value::Array(a)) => a.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(v)
}

/// Every key of the document (stage, axis and param names among them).
fn names(t: &Table) -> Vec<String> {
    paths(t)
        .into_iter()
        .filter_map(|p| match p.last() {
            Some(Seg::Key(k)) => Some(k.clone()),
            _ => None,
        })
        .collect()
}

fn to_toml(g: &Gen, names: &[String]) -> Value {
    let name = |i: &Index| {
        if names.is_empty() {
            "x".to_string()
        } else {
            names[i.index(names.len())].clone()
        }
    };
    match g {
        Gen::Int(i) => Value::Integer(*i),
        Gen::Float(f) => Value::Float(*f),
        Gen::Bool(b) => Value::Boolean(*b),
        Gen::Str(s) => Value::String(s.clone()),
        Gen::DocName(i) => Value::String(name(i)),
        Gen::Expr(i, op, n) => Value::String(format!("${{{} {op} {n}}}", name(i))),
        Gen::Array(a) => Value::Array(a.iter().map(|g| to_toml(g, names)).collect()),
        Gen::Inline(kv) => Value::Table(
            kv.iter()
                .map(|(k, g)| (k.clone(), to_toml(g, names)))
                .collect(),
        ),
        Gen::Deep(n) => (0..*n).fold(Value::Integer(1), |v, _| Value::Array(vec![v])),
        Gen::Long(n) if n % 2 == 0 => Value::String("x".repeat(*n)),
        Gen::Long(n) => Value::Array((0..*n as i64).map(Value::Integer).collect()),
    }
}

fn stage_names(t: &Table) -> Vec<String> {
    t.get("stages")
        .and_then(Value::as_table)
        .map(|s| s.keys().cloned().collect())
        .unwrap_or_default()
}

fn apply(t: &mut Table, m: &Mutation) {
    let names = names(t);
    let all = paths(t);
    let mut root = Value::Table(std::mem::take(t));
    let pick = |i: &Index| all[i.index(all.len())].clone();
    match m {
        Mutation::Delete(i) => {
            let p = pick(i);
            if let Some((last, parent)) = p.split_last()
                && let Some(v) = get_mut(&mut root, parent)
            {
                match (last, v) {
                    (Seg::Key(k), Value::Table(t)) => {
                        t.remove(k);
                    }
                    (Seg::Item(n), Value::Array(a)) if *n < a.len() => {
                        a.remove(*n);
                    }
                    _ => {}
                }
            }
        }
        Mutation::Set(i, g) => {
            let p = pick(i);
            if !p.is_empty()
                && let Some(v) = get_mut(&mut root, &p)
            {
                *v = to_toml(g, &names);
            }
        }
        Mutation::Rename(i, to) => {
            let p = pick(i);
            if let Some((Seg::Key(k), parent)) = p.split_last()
                && let Some(Value::Table(t)) = get_mut(&mut root, parent)
                && let Some(v) = t.remove(k)
            {
                t.insert(to.to_string(), v);
            }
        }
        Mutation::Insert(i, k, g) => {
            if let Some(Value::Table(t)) = get_mut(&mut root, &pick(i)) {
                t.insert(k.to_string(), to_toml(g, &names));
            }
        }
        Mutation::CloneStage(i, name) => {
            if let Some(Value::Table(stages)) = get_mut(&mut root, &[Seg::Key("stages".into())])
                && !stages.is_empty()
            {
                let from = stages.keys().nth(i.index(stages.len())).cloned();
                if let Some(v) = from.and_then(|f| stages.get(&f).cloned()) {
                    stages.insert(name.clone(), v);
                }
            }
        }
        Mutation::Wire(a, b) => {
            if let Value::Table(t) = &root {
                let stages = stage_names(t);
                if !stages.is_empty() {
                    let from = stages[a.index(stages.len())].clone();
                    let to = stages[b.index(stages.len())].clone();
                    if let Some(Value::Table(s)) =
                        get_mut(&mut root, &[Seg::Key("stages".into()), Seg::Key(to)])
                    {
                        match s.get_mut("inputs") {
                            Some(Value::Array(inputs)) => inputs.push(Value::String(from)),
                            _ => {
                                s.insert("inputs".into(), Value::Array(vec![Value::String(from)]));
                            }
                        }
                    }
                }
            }
        }
        Mutation::Axis(i, form, args) => {
            if let Some(Value::Table(sweep)) = get_mut(&mut root, &[Seg::Key("sweep".into())]) {
                let axes: Vec<String> = sweep.keys().cloned().collect();
                let axis = if axes.is_empty() {
                    "ax".to_string()
                } else {
                    axes[i.index(axes.len())].clone()
                };
                let args: Vec<Value> = args.iter().map(|g| to_toml(g, &names)).collect();
                let arg = match (*form, args.first()) {
                    ("glob", Some(a)) => a.clone(),
                    _ => Value::Array(args),
                };
                let mut form_table = Table::new();
                form_table.insert(form.to_string(), arg);
                sweep.insert(axis, Value::Table(form_table));
            }
        }
    }
    if let Value::Table(back) = root {
        *t = back;
    }
}

fn char_boundary(s: &str, i: &Index) -> usize {
    let mut at = i.index(s.len() + 1);
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn edit_text(text: &mut String, e: &TextEdit) {
    match e {
        TextEdit::Splice(i, s) => {
            let at = char_boundary(text, i);
            text.insert_str(at, s);
        }
        TextEdit::Truncate(i) => {
            let at = char_boundary(text, i);
            text.truncate(at);
        }
        TextEdit::DeleteRange(i, n) => {
            let start = char_boundary(text, i);
            let mut end = (start + n).min(text.len());
            while !text.is_char_boundary(end) {
                end += 1;
            }
            text.replace_range(start..end, "");
        }
    }
}

/// The input a case describes.
pub fn materialize(c: &Case) -> String {
    let files = corpus();
    let (_, original) = &files[c.file.index(files.len())];
    let mut text = match original.parse::<Table>() {
        Ok(mut t) if !c.mutations.is_empty() => {
            for m in &c.mutations {
                apply(&mut t, m);
            }
            toml::to_string(&t).unwrap_or_else(|_| original.clone())
        }
        _ => original.clone(),
    };
    for e in &c.edits {
        edit_text(&mut text, e);
    }
    text
}

/// The built-in engines, as the CLI registers them.
fn registry(base: &std::path::Path) -> warmstart_plan::Registry {
    let mut r = warmstart_plan::Registry::new();
    r.add(Arc::new(warmstart_native::NativeEngine::new()));
    r.add(Arc::new(warmstart_process::ProcessEngine::with_base_dir(
        base,
    )));
    r.add(Arc::new(warmstart_onnx::OnnxEngine::with_base_dir(base)));
    r
}

/// Mirrors `warmstart-cli`'s `render::has_overlong_line`: the CLI does not draw snippets
/// whose label reaches past this column (miette panics past 65 535; found by this fuzzer).
/// Follow-up: move the CLI's rendering into a library crate and call it from here.
const MAX_SNIPPET_LINE: usize = 10_000;

fn drawable(e: &warmstart_spec::SpecError) -> bool {
    use miette::Diagnostic;
    let (Some(src), Some(labels)) = (e.source_code(), e.labels()) else {
        return true;
    };
    labels.into_iter().all(|l| {
        l.len() <= MAX_SNIPPET_LINE
            && src.read_span(l.inner(), 0, 0).is_ok_and(|c| {
                c.column().saturating_add(l.len()) <= MAX_SNIPPET_LINE
                    && c.data()
                        .split(|b| *b == b'\n')
                        .all(|line| line.len() <= MAX_SNIPPET_LINE)
            })
    })
}

fn render(errors: &warmstart_spec::SpecErrors) -> String {
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .with_width(100);
    let mut out = String::new();
    // Like the CLI: at most 50 errors are rendered (each rendering scans the file).
    for e in errors.0.iter().take(50).filter(|e| drawable(e)) {
        let _ = handler.render_report(&mut out, e);
    }
    out
}

/// Load, plan, key and render: everything `warmstart plan` does short of the project file
/// and plugins. Returns what the CLI would print (for the record; any result is fine).
pub fn load_and_plan(text: String) -> String {
    let dir = workspace_root().join("experiments");
    let source = warmstart_spec::SourceFile {
        path: dir.join("fuzz-input.toml"),
        text,
    };
    let experiment = match warmstart_spec::parse(source) {
        Ok(e) => e,
        Err(errors) => return render(&errors),
    };
    let plan = match warmstart_plan::build(experiment, &registry(&dir)) {
        Ok(p) => p,
        Err(errors) => return render(&errors),
    };
    let cache = tempfile::tempdir().expect("temp dir");
    let store = warmstart_cache::Store::open(cache.path()).expect("store");
    let assessment = warmstart_plan::assess(&plan, &store);
    format!(
        "{} instances, {} assessed",
        plan.nodes.len(),
        assessment.freshness.len()
    )
}

#[test]
fn experiment_files_never_panic_hang_or_abort_the_loader_and_planner() {
    // The unmutated corpus first: all of it must pass, within the limit.
    for (name, text) in corpus() {
        let t = text.clone();
        if let Err(e) = within_limit(move || load_and_plan(t)) {
            panic!("corpus file {name}: {e}");
        }
    }
    let cases = run_for(
        "experiments",
        budget(Duration::from_secs(20)),
        case(),
        |c| {
            let text = materialize(&c);
            let input = text.clone();
            within_limit(move || load_and_plan(input))
                .map(|_| ())
                .map_err(|e| {
                    let saved = save_failure("experiment", "toml", text.as_bytes());
                    format!("{e}\ninput saved to {}", saved.display())
                })
        },
    );
    assert!(cases > 0);
}

#[test]
fn fuzz_found_inputs_load_within_the_limit() {
    let dir = workspace_root().join("tests/malformed-binary");
    for entry in std::fs::read_dir(dir).expect("pending dir").flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path).expect("pending input");
            if let Err(e) = within_limit(move || load_and_plan(text)) {
                panic!("{}: {e}", path.display());
            }
        }
    }
}
