//! Shipped experiments at a reduced size: the shipped file's text with whole lines
//! replaced, run in a fresh project, and its tables read back through `show`.

use serde_json::Value;

use super::*;

/// The shipped experiment `name` with each whole line `from` replaced by `to` (each must
/// occur exactly once as a line).
pub fn reduced(name: &str, edits: &[(&str, &str)]) -> String {
    let path = root().join("experiments").join(format!("{name}.toml"));
    let mut text = std::fs::read_to_string(&path).expect("read shipped experiment");
    for (from, to) in edits {
        let (from, to) = (format!("\n{from}\n"), format!("\n{to}\n"));
        assert_eq!(
            text.matches(&from).count(),
            1,
            "{name}.toml no longer has the line `{}` once: update the reduction in its test",
            from.trim()
        );
        text = text.replacen(&from, &to, 1);
    }
    text
}

/// Write and run the reduced experiment in a fresh project; panics unless every stage ran.
pub fn run_reduced(name: &str, edits: &[(&str, &str)]) -> (Project, String) {
    let p = Project::new();
    let file = format!("{name}.toml");
    p.write(&file, &reduced(name, edits));
    let out = p.run(&["run", &file]);
    assert!(
        out.status.success(),
        "{name}: run failed\nstdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    (p, file)
}

/// `show FILE STAGE [--table T] --format json` as rows.
pub fn show(p: &Project, file: &str, stage: &str, table: Option<&str>) -> Vec<Value> {
    let mut args = vec!["show", file, stage, "--format", "json", "--limit", "100000"];
    if let Some(t) = table {
        args.extend(["--table", t]);
    }
    let out = p.run(&args);
    assert!(out.status.success(), "show {stage}: {}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json rows");
    v.as_array().expect("array of rows").clone()
}

pub fn f(row: &Value, col: &str) -> f64 {
    row[col]
        .as_f64()
        .unwrap_or_else(|| panic!("column `{col}` not a number in {row}"))
}

/// The row whose coordinates equal the given values.
pub fn at<'a>(rows: &'a [Value], coords: &[(&str, f64)]) -> &'a Value {
    rows.iter()
        .find(|r| coords.iter().all(|(k, v)| (f(r, k) - v).abs() < 1e-9))
        .unwrap_or_else(|| panic!("no row at {coords:?}"))
}

/// The figure files a plot stage wrote.
pub fn assert_figure(p: &Project, file: &str, stage: &str, stem: &str) {
    let rows = show(p, file, stage, Some("files"));
    let text = serde_json::to_string(&rows).unwrap();
    for ext in ["svg", "png"] {
        assert!(
            text.contains(&format!("{stem}.{ext}")),
            "{stage}: no {stem}.{ext} in {text}"
        );
    }
}
