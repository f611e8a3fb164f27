//! The first hour: `warmstart init` writes a starter that runs as is (and refuses to
//! overwrite), `warmstart completions` prints scripts for the common shells.

mod common;

use common::{Project, stderr, stdout};

#[test]
fn init_writes_a_starter_that_runs_and_never_overwrites() {
    let p = Project::new();
    let dir = p.path("new");
    let out = p.run(&["init", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = stdout(&out).replace(dir.to_str().unwrap(), "DIR");
    insta::assert_snapshot!(shown);
    let text = std::fs::read_to_string(dir.join("experiment.toml")).unwrap();
    assert!(text.starts_with("#:schema ./warmstart.schema.json\n"));
    let schema: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("warmstart.schema.json")).unwrap()).unwrap();
    assert!(schema["$defs"]["stage"].is_object());
    // It runs as is: every stage ran, the figure among them.
    let run = p.run(&["run", "new/experiment.toml", "--json"]);
    assert!(run.status.success(), "{}", stderr(&run));
    let ev = common::events(&run);
    assert_eq!(common::with_status(&ev, "ran").len(), ev.len());
    assert!(ev.iter().any(|(l, _)| l == "figure"));
    // A second init writes nothing and says why.
    let before = std::fs::read(dir.join("experiment.toml")).unwrap();
    let again = p.run(&["init", dir.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2));
    insta::assert_snapshot!(stderr(&again).replace(dir.to_str().unwrap(), "DIR"));
    assert_eq!(std::fs::read(dir.join("experiment.toml")).unwrap(), before);
}

#[test]
fn completions_for_the_common_shells() {
    let p = Project::new();
    for shell in ["bash", "zsh", "fish"] {
        let out = p.run(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        for sub in ["run", "plan", "export", "status", "cancel"] {
            assert!(script.contains(sub), "{shell} completions lack `{sub}`");
        }
    }
    let bad = p.run(&["completions", "cmd.exe"]);
    assert_eq!(bad.status.code(), Some(2));
}
