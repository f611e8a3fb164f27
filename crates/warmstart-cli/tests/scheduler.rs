//! Scheduler behaviour seen through the real binary: a cached input found corrupt while
//! many users read it at once.

mod common;

use common::*;

const USERS: usize = 40;

/// root → 40 users → gather.
fn fan() -> String {
    let mut t = String::from(
        "[experiment]\nname = \"fan\"\n[stages.root]\nkind = \"echo\"\nvalue = \"R\"\n",
    );
    for u in 0..USERS {
        t.push_str(&format!(
            "[stages.u{u}]\nkind = \"echo\"\ninputs = [\"root\"]\nvalue = \"{u}\"\n"
        ));
    }
    let all: Vec<String> = (0..USERS).map(|u| format!("\"u{u}\"")).collect();
    t.push_str(&format!(
        "[stages.gather]\nkind = \"echo\"\ninputs = [{}]\nvalue = \"G\"\n",
        all.join(", ")
    ));
    t
}

#[test]
fn a_corrupt_input_read_by_many_concurrent_users_is_recomputed_and_strands_none() {
    // Before the scheduler state machine, 2–4 users ended "not started (--fail-fast)" in
    // 19 of 30 tries. Several rounds, each from the same corrupted state.
    let p = Project::new();
    p.write("e.toml", &fan());
    assert!(p.run(&["run", "e.toml"]).status.success());
    for round in 0..5 {
        let mut flipped = 0;
        for dir in entry_dirs(&p.cache()) {
            let stage = manifest_stage(&dir);
            if stage == "root" {
                flipped += flip_parquet_bytes(&dir);
            } else if stage.starts_with('u') {
                std::fs::remove_dir_all(&dir).unwrap();
            }
        }
        assert_eq!(flipped, 1, "round {round}");
        let out = p.run(&["run", "e.toml", "--json", "-j", "4"]);
        let ev = events(&out);
        assert!(
            out.status.success(),
            "round {round}: {}\n{ev:?}",
            stderr(&out)
        );
        assert!(
            with_status(&ev, "skipped").is_empty(),
            "round {round}: {ev:?}"
        );
        assert!(stderr(&out).contains("corrupt"), "{}", stderr(&out));
        // The last event of each node is what counts: every user ran.
        let mut last = std::collections::HashMap::new();
        for (label, status) in &ev {
            last.insert(label.clone(), status.clone());
        }
        let ran = last.values().filter(|s| *s == "ran").count();
        assert_eq!(ran, USERS + 1, "root and every user ran: {last:?}");
        assert_eq!(last["gather"], "cached", "users' outputs are unchanged");
        let warnings = stdout(&out)
            .lines()
            .filter(|l| l.contains("\"warning\""))
            .count();
        assert_eq!(warnings, 1, "one warning per corrupt entry");
    }
}
