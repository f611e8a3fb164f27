//! Every file in `tests/malformed/` must fail to load (or to expand) with a clear report.
//! Reports are rendered without colour at width 100 and snapshotted with insta.

use std::path::{Path, PathBuf};

use miette::{GraphicalReportHandler, GraphicalTheme};

#[test]
fn malformed_files_fail_with_clear_reports() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // `glob` axes read directories relative to the experiment file's path as given, which
    // is relative to the workspace root here, as it is for a user running `warmstart`
    // there. This binary has this one test, so changing its directory races nothing.
    std::env::set_current_dir(&root).expect("cd to the workspace root");
    let dir = root.join("tests/malformed");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/malformed exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 32, "only {} malformed files", files.len());
    let handler =
        GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor()).with_width(100);
    for file in files {
        let stem = file
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("utf-8 name")
            .to_string();
        let text = std::fs::read_to_string(&file).expect("readable");
        assert!(
            text.starts_with("# expect: "),
            "{stem}: first line must be `# expect: <what is wrong>`"
        );
        // A relative path, so that snapshots do not depend on the checkout location.
        let rel = PathBuf::from("tests/malformed").join(file.file_name().expect("name"));
        let result = warmstart_spec::parse(warmstart_spec::SourceFile { path: rel, text })
            .and_then(|exp| warmstart_spec::expand(&exp).map(|_| ()));
        let Err(errors) = result else {
            panic!("{stem} was accepted but should fail");
        };
        let mut rendered = String::new();
        handler
            .render_report(&mut rendered, &errors)
            .expect("render");
        insta::assert_snapshot!(stem, rendered);
    }
}
