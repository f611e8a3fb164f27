//! The kind reference (`warmstart kinds`, and `docs/kinds.md`, which must be what
//! `kinds --markdown` prints) and the JSON Schema editors check experiments with: taplo
//! 0.9 (the engine of Even Better TOML), installed by `tests/taplo/install.sh`, must find
//! every shipped experiment valid and a wrong param type invalid.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{Project, example_plugins, root, stderr, stdout};

/// The command that regenerates docs/kinds.md (also written in the file itself).
const REGENERATE: &str = "cargo run -q -p warmstart-cli -- kinds --markdown > docs/kinds.md";

#[test]
fn kinds_lists_every_builtin_kind_with_its_engine() {
    let p = Project::new();
    let out = p.run(&["kinds"]);
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!(stdout(&out));
}

/// Every built-in kind can be described in full, and the description names every param
/// the schema knows for it (the two are made from the same declaration).
#[test]
fn every_builtin_kind_has_a_full_reference() {
    let p = Project::new();
    let schema: serde_json::Value = serde_json::from_slice(&p.run(&["schema"]).stdout).unwrap();
    let kinds = schema["$defs"]["stage"]["properties"]["kind"]["anyOf"][0]["enum"]
        .as_array()
        .expect("the schema offers the built-in kinds")
        .clone();
    assert!(kinds.len() > 10, "{kinds:?}");
    for (i, kind) in kinds.iter().enumerate() {
        let kind = kind.as_str().unwrap();
        let out = p.run(&["kinds", kind]);
        assert!(out.status.success(), "{kind}: {}", stderr(&out));
        let text = stdout(&out);
        assert!(text.starts_with(&format!("{kind} — engine `")), "{text}");
        for section in [
            "\n  determinism  ",
            "\n  inputs       ",
            "\nparams\n",
            "\nreads\n",
            "\nwrites\n",
        ] {
            assert!(text.contains(section), "{kind}: no {section:?} in\n{text}");
        }
        let then = &schema["$defs"]["stage"]["allOf"][i]["then"];
        assert_eq!(then["description"], schema_doc(&schema, kind), "{kind}");
        for param in then["properties"].as_object().unwrap().keys() {
            let is_param = then["properties"][param].get("description").is_some();
            if is_param {
                assert!(
                    text.contains(&format!("\n  {param} ")),
                    "{kind}: no param {param} in\n{text}"
                );
            }
        }
    }
}

/// The description the schema gives a kind in its completion list.
fn schema_doc(schema: &serde_json::Value, kind: &str) -> serde_json::Value {
    let any = &schema["$defs"]["stage"]["properties"]["kind"]["anyOf"][0];
    let i = any["enum"]
        .as_array()
        .unwrap()
        .iter()
        .position(|k| k == kind)
        .unwrap();
    any["x-taplo"]["docs"]["enumValues"][i].clone()
}

#[test]
fn an_unknown_kind_is_an_error_with_a_suggestion_and_the_list() {
    let p = Project::new();
    let out = p.run(&["kinds", "plto"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stdout(&out).is_empty());
    insta::assert_snapshot!(stderr(&out));
}

#[test]
fn docs_kinds_md_is_what_kinds_markdown_prints() {
    let p = Project::new();
    let out = p.run(&["kinds", "--markdown"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let generated = stdout(&out);
    assert!(
        generated.contains(REGENERATE),
        "the file must say how it is made"
    );
    let committed = std::fs::read_to_string(root().join("docs/kinds.md")).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/kinds.md is stale (the kinds' declarations changed): regenerate it with\n    {REGENERATE}\nfrom the repository root, and commit it"
    );
}

/// A copy of a shipped plugin experiment pointing at the freshly built plugin, and the
/// shipped `scale-column` example declared in a project file.
fn plugin_project() -> Project {
    let p = Project::new();
    let text = std::fs::read_to_string(root().join("experiments/plugin-ridge.toml")).unwrap();
    let from = "../target/release/libwarmstart_plugin_ridge.so";
    assert!(text.contains(from), "plugin-ridge.toml must declare {from}");
    let ridge = example_plugins()["warmstart-plugin-ridge"]
        .display()
        .to_string();
    p.write("plugin-ridge.toml", &text.replace(from, &ridge));
    let scale = example_plugins()["warmstart-plugin-scale"]
        .display()
        .to_string();
    p.write(
        "warmstart.toml",
        &format!("root = true\n[engines.scale]\npath = {scale:?}\n"),
    );
    p
}

#[test]
fn with_a_file_the_plugins_kinds_are_listed_and_described() {
    let p = plugin_project();
    let list = stdout(&p.run(&["kinds", "--file", "plugin-ridge.toml"]));
    assert!(
        list.lines()
            .any(|l| l.starts_with("ridge-w2s ") && l.contains(" ridge ")),
        "{list}"
    );
    // The project file's plugin, whether asked through an experiment or the project file.
    for file in ["plugin-ridge.toml", "warmstart.toml"] {
        let out = p.run(&["kinds", "scale-column", "--file", file]);
        assert!(out.status.success(), "{file}: {}", stderr(&out));
        insta::assert_snapshot!("scale_column", stdout(&out));
    }
    let md = p.run(&[
        "kinds",
        "ridge-w2s",
        "--file",
        "plugin-ridge.toml",
        "--markdown",
    ]);
    assert!(md.status.success(), "{}", stderr(&md));
    insta::assert_snapshot!("ridge_w2s_markdown", stdout(&md));
    // Without the file, the plugin's kind is unknown, and the error says where kinds come from.
    let out = p.run(&["kinds", "ridge-w2s"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--file EXPERIMENT.toml"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_file_whose_plugin_cannot_load_is_an_error_pointing_at_it() {
    let p = Project::new();
    let text = std::fs::read_to_string(root().join("experiments/plugin-ridge.toml")).unwrap();
    let f = p.write("e.toml", &text.replace("../target/release/", "missing/"));
    let f = f.to_str().unwrap();
    for args in [&["kinds", "--file", f][..], &["schema", f]] {
        let out = p.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.contains("cannot load plugin") && err.contains("e.toml:"),
            "{args:?}: {err}"
        );
    }
}

// ---- The JSON Schema, checked by taplo ----

/// taplo as `tests/taplo/install.sh` installs it; `None` (test skipped) only with
/// WARMSTART_SKIP_TAPLO=1, otherwise a missing taplo fails the test with the fix.
fn taplo() -> Option<PathBuf> {
    let bin = root().join("tests/taplo/node_modules/.bin/taplo");
    if bin.is_file() {
        return Some(bin);
    }
    let why = format!(
        "taplo is not installed at {}: run `bash tests/taplo/install.sh` (the README's test command does)",
        bin.display()
    );
    if std::env::var("WARMSTART_SKIP_TAPLO").as_deref() == Ok("1") {
        eprintln!("skipped (WARMSTART_SKIP_TAPLO=1): {why}");
        return None;
    }
    panic!("{why}, or set WARMSTART_SKIP_TAPLO=1 to skip the schema checks");
}

/// `taplo check` of `files` against `schema` (none: the files' `#:schema` directives).
fn taplo_check(taplo: &Path, schema: Option<&Path>, files: &[PathBuf]) -> Output {
    let mut cmd = Command::new(taplo);
    cmd.args(["check", "--no-auto-config", "--colors", "never"]);
    if let Some(s) = schema {
        cmd.arg("--schema").arg(format!("file://{}", s.display()));
    }
    cmd.args(files)
        .output()
        .expect("run taplo (is Node.js installed?)")
}

/// `warmstart schema ARGS` written to `name` in the project.
fn write_schema(p: &Project, name: &str, args: &[&str]) -> PathBuf {
    let out = p.run(&[&["schema"], args].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let path = p.path(name);
    std::fs::write(&path, &out.stdout).unwrap();
    path
}

fn shipped_experiments() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("experiments"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|f| f.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

/// taplo's report, for an assertion message.
fn report(out: &Output) -> String {
    format!("{}{}", stdout(out), stderr(out))
}

#[test]
fn taplo_finds_every_shipped_experiment_valid_and_a_wrong_type_invalid() {
    let Some(taplo) = taplo() else { return };
    let p = Project::new();
    let schema = write_schema(&p, "schema.json", &[]);
    let files = shipped_experiments();
    assert!(files.len() > 10 && files.iter().any(|f| f.ends_with("plugin-ridge.toml")));
    let out = taplo_check(&taplo, Some(&schema), &files);
    assert!(out.status.success(), "{}", report(&out));
    // A wrong type in a copy: the schema is enforced, at the line of the value.
    let text = std::fs::read_to_string(root().join("experiments/exp1-alignment.toml")).unwrap();
    let line = text
        .lines()
        .position(|l| l.starts_with("n_samples = "))
        .expect("n_samples");
    let bad = text.replacen("n_samples = ", "n_samples = true # ", 1);
    let out = taplo_check(&taplo, Some(&schema), &[p.write("bad.toml", &bad)]);
    assert!(
        !out.status.success(),
        "a boolean n_samples passed:\n{}",
        report(&out)
    );
    assert!(
        report(&out).contains(&format!("bad.toml:{}:", line + 1)),
        "{}",
        report(&out)
    );
}

#[test]
fn taplo_checks_a_plugin_kinds_params_with_the_schema_of_its_file() {
    let Some(taplo) = taplo() else { return };
    let p = plugin_project();
    let generic = write_schema(&p, "generic.json", &[]);
    let of_file = write_schema(&p, "ridge.json", &["plugin-ridge.toml"]);
    let of_project = write_schema(&p, "project.json", &["warmstart.toml"]);
    let good = p.path("plugin-ridge.toml");
    let text = std::fs::read_to_string(&good).unwrap();
    assert!(
        text.contains("\ntrials = 4\n"),
        "plugin-ridge.toml sets trials"
    );
    let bad = p.write(
        "bad.toml",
        &text.replace("\ntrials = 4\n", "\ntrials = \"many\"\n"),
    );
    for schema in [&generic, &of_file, &of_project] {
        let out = taplo_check(&taplo, Some(schema), std::slice::from_ref(&good));
        assert!(
            out.status.success(),
            "{}: {}",
            schema.display(),
            report(&out)
        );
    }
    // Only a schema that knows the plugin types its params.
    let out = taplo_check(&taplo, Some(&of_file), std::slice::from_ref(&bad));
    assert!(
        !out.status.success(),
        "trials = \"many\" passed:\n{}",
        report(&out)
    );
    assert!(report(&out).contains("\"many\""), "{}", report(&out));
    let out = taplo_check(&taplo, Some(&generic), std::slice::from_ref(&bad));
    assert!(out.status.success(), "{}", report(&out));
    // The project's schema knows the project's plugin (scale), not the experiment's.
    let text = std::fs::read_to_string(&of_project).unwrap();
    assert!(text.contains("scale-column") && !text.contains("ridge-w2s"));
}

#[test]
fn taplo_finds_the_init_starter_valid_through_its_schema_line() {
    let Some(taplo) = taplo() else { return };
    let p = Project::new();
    let out = p.run(&["init", "new"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let starter = p.path("new/experiment.toml");
    let out = taplo_check(&taplo, None, std::slice::from_ref(&starter));
    assert!(out.status.success(), "{}", report(&out));
    // The `#:schema` line is what checked it: a wrong type is found through it too.
    let text = std::fs::read_to_string(&starter).unwrap();
    let bad = p.write(
        "new/bad.toml",
        &text.replace("method = \"pca\"", "method = 3"),
    );
    let out = taplo_check(&taplo, None, &[bad]);
    assert!(
        !out.status.success(),
        "method = 3 passed:\n{}",
        report(&out)
    );
}

/// The README's test command is `.ci/run`'s, and it installs taplo before `cargo test`.
#[test]
fn the_test_command_installs_taplo() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let ci = std::fs::read_to_string(root().join(".ci/run")).unwrap();
    let command = ci.lines().last().unwrap_or_default();
    assert!(
        readme.lines().any(|l| l == command),
        "README.md lacks .ci/run's command:\n{command}"
    );
    let install = command
        .find("bash tests/taplo/install.sh")
        .expect("taplo is installed");
    assert!(
        install < command.find("cargo test").expect("cargo test"),
        "{command}"
    );
}
