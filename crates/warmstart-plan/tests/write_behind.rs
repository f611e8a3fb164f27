//! Write-behind: a node's users start on its in-memory outputs while its entry is written.
//! An entry that cannot be written makes its node `failed` after all; its users stand, and
//! the next run recomputes only that node (to the same digest, so its users stay cached).

mod common;

use warmstart_cache::store::Store;
use warmstart_plan::execute;
use warmstart_plan::run::{RunOptions, RunSummary, Status};

const EXP: &str = r#"
[experiment]
name = "write-behind"
[stages.a]
kind = "echo"
value = "a"
[stages.b]
kind = "echo"
inputs = ["a"]
value = "b"
"#;

fn run(dir: &std::path::Path) -> RunSummary {
    let plan = common::native_plan(dir, EXP);
    let store = Store::open(&dir.join("cache")).unwrap();
    execute(&plan, &store, &RunOptions::default(), &mut |_| {})
}

fn status(s: &RunSummary, stage: &str) -> (Status, Option<String>) {
    let e = s.events.iter().find(|e| e.stage == stage).unwrap();
    (e.status, e.error.clone())
}

#[test]
fn an_entry_that_cannot_be_written_fails_its_node_only() {
    let dir = tempfile::tempdir().unwrap();
    let first = run(dir.path());
    assert!(first.success());
    let key = |s: &RunSummary, stage: &str| {
        s.events
            .iter()
            .find(|e| e.stage == stage)
            .and_then(|e| e.key)
            .unwrap()
            .to_string()
    };
    let (ka, kb) = (key(&first, "a"), key(&first, "b"));
    assert_ne!(
        ka[..2],
        kb[..2],
        "the test needs a and b in different shards"
    );

    // Start over, with a's shard directory blocked by a plain file.
    std::fs::remove_dir_all(dir.path().join("cache")).unwrap();
    Store::open(&dir.path().join("cache")).unwrap();
    let shard = dir.path().join("cache/v1/entries").join(&ka[..2]);
    std::fs::create_dir_all(shard.parent().unwrap()).unwrap();
    std::fs::write(&shard, "not a directory").unwrap();
    let blocked = run(dir.path());
    assert!(!blocked.success());
    let (sa, err) = status(&blocked, "a");
    assert_eq!(sa, Status::Failed);
    assert!(
        err.as_deref().unwrap_or("").contains("could not be stored"),
        "{err:?}"
    );
    assert_eq!(status(&blocked, "b").0, Status::Ran);
    assert_eq!((blocked.ran, blocked.failed), (1, 1));
    assert_eq!(blocked.events.len(), 2, "one final event per node");

    // Unblocked: a is recomputed (to the same digest), b is still cached.
    std::fs::remove_file(&shard).unwrap();
    let again = run(dir.path());
    assert!(again.success());
    assert_eq!(status(&again, "a").0, Status::Ran);
    assert_eq!(status(&again, "b").0, Status::Cached);
}
