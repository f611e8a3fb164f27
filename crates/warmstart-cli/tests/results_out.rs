//! Getting results out: `show` of a figure (listed, written with `-o DIR`, never dumped),
//! `show --format parquet -o FILE`, `export --stage/--table`, coordinate columns in every
//! exported table of a sweep, what `export` does with a directory that is not empty,
//! `--at` mistakes answered with the axes and values there are, and read-only commands
//! that never create a cache.

mod common;

use std::path::Path;

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use common::{Project, stderr, stdout};

/// A stage swept over two axes, typed differently (a float and an integer axis).
const GRID: &str = r#"
[experiment]
name = "grid"
[sweep]
rho = [0.25, 0.5]
rep = [0, 1]
[stages.fit]
kind = "echo"
value = "${rep}"
sweep = ["rho", "rep"]
[stages.total]
kind = "echo"
inputs = ["fit"]
gather = ["rho", "rep"]
value = "all"
"#;

fn read_parquet(path: &Path) -> arrow_array::RecordBatch {
    warmstart_cache::store::read_parquet(path).unwrap_or_else(|e| panic!("{e}"))
}

fn column_names(b: &arrow_array::RecordBatch) -> Vec<String> {
    b.schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

/// Every file under `dir`, relative, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path().strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

fn starter() -> Project {
    let p = Project::new();
    assert!(p.run(&["init", "exp"]).status.success());
    let run = p.run(&["run", "exp/experiment.toml"]);
    assert!(run.status.success(), "{}", stderr(&run));
    p
}

#[test]
fn show_of_a_figure_lists_its_files_and_writes_them_with_out() {
    let p = starter();
    let f = "exp/experiment.toml";
    let show = p.run(&["show", f, "figure"]);
    assert!(show.status.success(), "{}", stderr(&show));
    let text = stdout(&show);
    // A listing (path + size), not a hex dump of a PNG.
    assert!(text.len() < 1_000, "{} bytes printed:\n{text}", text.len());
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[1].contains("path") && lines[1].contains("bytes"),
        "{text}"
    );
    for name in ["starter.svg", "starter.png"] {
        let row = lines.iter().find(|l| l.contains(name)).expect(name);
        let size: u64 = row.split('|').nth(2).unwrap().trim().parse().unwrap();
        assert!(size > 1_000, "{row}");
    }
    insta::assert_snapshot!("figure_note", stderr(&show));

    let written = p.run(&["show", f, "figure", "-o", "figs"]);
    assert!(written.status.success(), "{}", stderr(&written));
    assert_eq!(files_under(&p.path("figs")), ["starter.png", "starter.svg"]);
    let png = std::fs::read(p.path("figs/starter.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(
        stdout(&written),
        format!(
            "wrote figs/starter.svg ({} bytes)\nwrote figs/starter.png ({} bytes)\n",
            std::fs::metadata(p.path("figs/starter.svg")).unwrap().len(),
            png.len()
        )
    );
    // The same listing as JSON: sizes, no bytes.
    let json: serde_json::Value =
        serde_json::from_slice(&p.run(&["show", f, "figure", "--format", "json"]).stdout).unwrap();
    assert_eq!(json[1]["path"], "starter.png");
    assert_eq!(json[1]["bytes"], png.len());
    assert!(json[1].get("data").is_none());
}

#[test]
fn out_is_refused_for_a_text_table() {
    let p = starter();
    let out = p.run(&["show", "exp/experiment.toml", "summary", "-o", "x.txt"]);
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!("out_for_text", stderr(&out));
    assert!(!p.path("x.txt").exists());
}

#[test]
fn show_writes_parquet_only_to_a_named_file_with_typed_coordinates() {
    let p = Project::new();
    p.write("grid.toml", GRID);
    assert!(p.run(&["run", "grid.toml"]).status.success());
    let refused = p.run(&["show", "grid.toml", "fit", "--format", "parquet"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(refused.stdout.is_empty(), "no Parquet bytes on stdout");
    insta::assert_snapshot!("parquet_needs_out", stderr(&refused));

    let out = p.run(&[
        "show",
        "grid.toml",
        "fit",
        "--format",
        "parquet",
        "-o",
        "fit.parquet",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "wrote fit.parquet: 4 rows from 4 instance(s), columns: rho, rep, source, value\n"
    );
    let b = read_parquet(&p.path("fit.parquet"));
    assert_eq!(column_names(&b), ["rho", "rep", "source", "value"]);
    let rho = b.column(0).as_primitive::<Float64Type>();
    let rep = b.column(1).as_primitive::<Int64Type>();
    let pairs: Vec<(f64, i64)> = (0..b.num_rows())
        .map(|i| (rho.value(i), rep.value(i)))
        .collect();
    assert_eq!(pairs, [(0.25, 0), (0.25, 1), (0.5, 0), (0.5, 1)]);
    // --at narrows it, as for the other formats.
    let one = p.run(&[
        "show",
        "grid.toml",
        "fit",
        "--at",
        "rho=0.5",
        "--format",
        "parquet",
        "-o",
        "half.parquet",
    ]);
    assert!(one.status.success(), "{}", stderr(&one));
    assert_eq!(read_parquet(&p.path("half.parquet")).num_rows(), 2);
}

#[test]
fn every_exported_table_of_a_sweep_starts_with_its_typed_coordinates() {
    let p = Project::new();
    p.write("grid.toml", GRID);
    assert!(p.run(&["run", "grid.toml"]).status.success());
    let out = p.run(&["export", "grid.toml", "--out", "results"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        files_under(&p.path("results")),
        [
            "fit__rho=0.25__rep=0/out.parquet",
            "fit__rho=0.25__rep=1/out.parquet",
            "fit__rho=0.5__rep=0/out.parquet",
            "fit__rho=0.5__rep=1/out.parquet",
            "index.json",
            "total/out.parquet",
        ]
    );
    for (dir, rho, rep) in [
        ("fit__rho=0.25__rep=1", 0.25, 1),
        ("fit__rho=0.5__rep=0", 0.5, 0),
    ] {
        let b = read_parquet(&p.path(&format!("results/{dir}/out.parquet")));
        assert_eq!(column_names(&b), ["rho", "rep", "source", "value"], "{dir}");
        assert_eq!(b.column(0).as_primitive::<Float64Type>().value(0), rho);
        assert_eq!(b.column(1).as_primitive::<Int64Type>().value(0), rep);
        assert_eq!(b.column(0).null_count(), 0);
    }
    // A stage that is not swept keeps its own columns only.
    let total = read_parquet(&p.path("results/total/out.parquet"));
    assert_eq!(column_names(&total), ["source", "value"]);
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.path("results/index.json")).unwrap()).unwrap();
    assert_eq!(index["warmstart_export"], 1);
    assert_eq!(index["experiment"], "grid");
}

#[test]
fn export_of_one_stage_and_table_leaves_the_rest_alone() {
    let p = Project::new();
    p.write("grid.toml", GRID);
    assert!(p.run(&["run", "grid.toml"]).status.success());
    let out = p.run(&["export", "grid.toml", "--out", "r", "--stage", "total"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        files_under(&p.path("r")),
        ["index.json", "total/out.parquet"]
    );
    // Then the whole experiment into the same directory: an export of it, brought up to date.
    let all = p.run(&["export", "grid.toml", "--out", "r"]);
    assert!(all.status.success(), "{}", stderr(&all));
    assert_eq!(files_under(&p.path("r")).len(), 6);
    // One stage again: the other stage's files and entries stay.
    let again = p.run(&[
        "export",
        "grid.toml",
        "--out",
        "r",
        "--stage",
        "fit",
        "--table",
        "out",
    ]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(files_under(&p.path("r")).len(), 6);
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.path("r/index.json")).unwrap()).unwrap();
    let stages: Vec<&str> = index["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["stage"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["fit", "fit", "fit", "fit", "total"], "plan order");

    let bad_table = p.run(&[
        "export",
        "grid.toml",
        "--out",
        "r",
        "--stage",
        "fit",
        "--table",
        "nope",
    ]);
    assert_eq!(bad_table.status.code(), Some(2), "{}", stderr(&bad_table));
    assert!(
        stderr(&bad_table).contains("its tables are: out"),
        "{}",
        stderr(&bad_table)
    );
    let bad_stage = p.run(&["export", "grid.toml", "--out", "r", "--stage", "fitt"]);
    assert_eq!(bad_stage.status.code(), Some(2));
    assert!(
        stderr(&bad_stage).contains("did you mean `fit`?"),
        "{}",
        stderr(&bad_stage)
    );
    let table_alone = p.run(&["export", "grid.toml", "--out", "r", "--table", "out"]);
    assert_eq!(table_alone.status.code(), Some(2), "--table needs --stage");
}

#[test]
fn export_refuses_a_directory_that_is_not_its_own_export() {
    let p = Project::new();
    p.write("grid.toml", GRID);
    p.write(
        "other.toml",
        &GRID.replace("name = \"grid\"", "name = \"other\""),
    );
    assert!(p.run(&["run", "grid.toml"]).status.success());
    assert!(p.run(&["run", "other.toml"]).status.success());

    // Not an export: refused, even with --clean, and nothing is touched.
    std::fs::create_dir(p.path("paper")).unwrap();
    p.write("paper/draft.tex", "\\section{Results}");
    for clean in [false, true] {
        let mut args = vec!["export", "grid.toml", "--out", "paper"];
        if clean {
            args.push("--clean");
        }
        let out = p.run(&args);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        insta::assert_snapshot!(format!("not_an_export_clean_{clean}"), stderr(&out));
        assert_eq!(files_under(&p.path("paper")), ["draft.tex"]);
    }

    // Another experiment's export: refused without --clean, replaced with it.
    assert!(
        p.run(&["export", "other.toml", "--out", "results"])
            .status
            .success()
    );
    p.write("results/NOTES.md", "mine");
    let refused = p.run(&["export", "grid.toml", "--out", "results"]);
    assert_eq!(refused.status.code(), Some(2));
    insta::assert_snapshot!("other_export", stderr(&refused));
    let replaced = p.run(&["export", "grid.toml", "--out", "results", "--clean"]);
    assert!(replaced.status.success(), "{}", stderr(&replaced));
    assert_eq!(
        stdout(&replaced),
        "replaced the export of `other` in results (5 file(s) removed)\nexported 5 stage instance(s) to results\n"
    );
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.path("results/index.json")).unwrap()).unwrap();
    assert_eq!(index["experiment"], "grid");
    assert!(
        p.path("results/NOTES.md").exists(),
        "a file no export wrote stays"
    );
}

#[test]
fn a_re_export_leaves_no_stale_file_behind() {
    let p = Project::new();
    p.write("grid.toml", GRID);
    assert!(p.run(&["run", "grid.toml"]).status.success());
    assert!(
        p.run(&["export", "grid.toml", "--out", "results"])
            .status
            .success()
    );
    p.write("results/fit__rho=0.5__rep=1/mine.txt", "keep me");
    // The sweep shrinks and `total` changes: rho=0.5 leaves, total's entry is replaced.
    p.write(
        "grid.toml",
        &GRID.replace("rho = [0.25, 0.5]", "rho = [0.25]"),
    );
    assert!(p.run(&["run", "grid.toml"]).status.success());
    let out = p.run(&["export", "grid.toml", "--out", "results"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "removed 2 file(s) of the earlier export that no current output has\nexported 3 stage instance(s) to results\n"
    );
    assert_eq!(
        files_under(&p.path("results")),
        [
            "fit__rho=0.25__rep=0/out.parquet",
            "fit__rho=0.25__rep=1/out.parquet",
            "fit__rho=0.5__rep=1/mine.txt",
            "index.json",
            "total/out.parquet",
        ]
    );
    assert!(
        !p.path("results/fit__rho=0.5__rep=0").exists(),
        "emptied, removed"
    );
    // A stage that is stale now is not left looking current either.
    p.write(
        "grid.toml",
        &GRID
            .replace("rho = [0.25, 0.5]", "rho = [0.25]")
            .replace("value = \"all\"", "value = \"changed\""),
    );
    let stale = p.run(&["export", "grid.toml", "--out", "results"]);
    assert_eq!(stale.status.code(), Some(1));
    assert!(!p.path("results/total/out.parquet").exists());
}

#[test]
fn at_mistakes_list_the_axes_and_values_there_are() {
    let p = Project::new();
    p.write("grid.toml", GRID);
    for (name, at) in [
        ("at_unknown_axis", "roh=0.5"),
        ("at_unknown_value", "rho=0.52"),
        ("at_far_value", "rep=7"),
    ] {
        let out = p.run(&["show", "grid.toml", "fit", "--at", at]);
        assert_eq!(out.status.code(), Some(2), "{at}");
        insta::assert_snapshot!(name, stderr(&out));
    }
    let not_swept = p.run(&["why", "grid.toml", "total", "--at", "rho=0.5"]);
    assert_eq!(not_swept.status.code(), Some(2));
    insta::assert_snapshot!("at_not_swept", stderr(&not_swept));
}

#[test]
fn read_only_commands_never_create_a_cache() {
    let p = Project::new();
    p.write("grid.toml", GRID);
    let cases: [&[&str]; 10] = [
        &["show", "grid.toml", "fit"],
        &["show", "grid.toml", "fit", "--table", "log"],
        &[
            "why",
            "grid.toml",
            "fit",
            "--at",
            "rho=0.5",
            "--at",
            "rep=0",
        ],
        &["plan", "grid.toml"],
        &["status", "grid.toml"],
        &["export", "grid.toml", "--out", "results"],
        &["report", "grid.toml", "--out", "report"],
        &["runs", "grid.toml"],
        &["compare", "grid.toml"],
        &["verify", "grid.toml"],
    ];
    for args in cases {
        let out = p.run(args);
        assert!(
            out.status.code().is_some_and(|c| c <= 2),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(
            !p.cache().exists(),
            "{args:?} created {}",
            p.cache().display()
        );
    }
    // And a missing cache is said to be missing where it matters.
    let show = p.run(&["show", "grid.toml", "fit"]);
    assert_eq!(show.status.code(), Some(1));
    assert!(
        stderr(&show).contains("there is no cache at"),
        "{}",
        stderr(&show)
    );
    // `run` does create it.
    assert!(p.run(&["run", "grid.toml"]).status.success());
    assert!(p.cache().join("v1").is_dir());
}
