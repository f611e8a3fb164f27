//! A hostile or damaged cache, through the real binary: symlinked internal directories,
//! an entry directory that is a symlink, same-size bit flips (`verify`, `run --verify`,
//! quarantine by `show`), non-finite params, and `gc` of lock and ref files. Each decoy
//! directory outside the cache is checked afterwards: nothing there may change.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;

const CHAIN: &str = r#"
[experiment]
name = "chain"
seed = 1

[stages.a]
kind = "echo"
value = VALUE_A

[stages.b]
kind = "echo"
inputs = ["a"]
value = "B"
"#;

fn chain(a: &str) -> String {
    CHAIN.replace("VALUE_A", a)
}

/// A directory outside the cache holding what a careless cache would delete: a name that
/// looks like a dead writer's temp dir, and an hour-old file.
fn decoy(p: &Project) -> PathBuf {
    let d = p.path("decoy");
    fs::create_dir_all(d.join("4000000000-0-0")).unwrap();
    fs::write(d.join("4000000000-0-0/keep"), b"keep").unwrap();
    let old = d.join("passwd");
    fs::write(&old, b"root:x:0:0").unwrap();
    let f = fs::File::options().write(true).open(&old).unwrap();
    f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(7200))
        .unwrap();
    d
}

/// Every path and file content under `dir`, sorted.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                stack.push(p.clone());
                out.push((p, Vec::new()));
            } else {
                out.push((p.clone(), fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn internal_dir_symlink_is_refused(which: &str) {
    let p = Project::new();
    p.write("e.toml", &chain("\"A\""));
    let d = decoy(&p);
    let before = snapshot(&d);
    fs::create_dir_all(p.cache().join("v1")).unwrap();
    std::os::unix::fs::symlink(&d, p.cache().join("v1").join(which)).unwrap();
    for args in [&["run", "e.toml"][..], &["gc", "--apply"], &["verify"]] {
        let out = p.run(args);
        assert!(!out.status.success(), "{args:?} must refuse");
        let err = stderr(&out);
        assert!(err.contains(&format!("v1/{which}")), "{args:?}: {err}");
        assert!(err.contains("symbolic link"), "{args:?}: {err}");
    }
    assert_eq!(snapshot(&d), before, "nothing outside the cache may change");
}

#[test]
fn tmp_symlink_is_refused_and_its_target_untouched() {
    internal_dir_symlink_is_refused("tmp");
}

#[test]
fn locks_symlink_is_refused_and_its_target_untouched() {
    internal_dir_symlink_is_refused("locks");
}

#[test]
fn refs_and_entries_symlinks_are_refused() {
    internal_dir_symlink_is_refused("refs");
    internal_dir_symlink_is_refused("entries");
}

fn entry_of(cache: &Path, stage: &str) -> PathBuf {
    entry_dirs(cache)
        .into_iter()
        .find(|dir| {
            let m: serde_json::Value =
                serde_json::from_slice(&fs::read(dir.join("manifest.json")).unwrap()).unwrap();
            m["stage"] == stage
        })
        .unwrap()
}

#[test]
fn an_entry_dir_that_is_a_symlink_is_not_trusted_and_not_followed() {
    let p = Project::new();
    p.write("e.toml", &chain("\"A\""));
    assert!(p.run(&["run", "e.toml"]).status.success());
    // Move a's entry out of the cache and leave a symlink to it.
    let entry = entry_of(&p.cache(), "a");
    let outside = p.path("outside-entry");
    fs::rename(&entry, &outside).unwrap();
    std::os::unix::fs::symlink(&outside, &entry).unwrap();
    let before = snapshot(&outside);
    let v = p.run(&["verify"]);
    assert_eq!(v.status.code(), Some(1), "{}", stdout(&v));
    assert!(stdout(&v).contains("symbolic link"), "{}", stdout(&v));
    let (ev, out) = p.run_json("e.toml");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(with_status(&ev, "ran").contains(&"a"), "{ev:?}");
    assert_eq!(snapshot(&outside), before);
    assert!(
        !fs::symlink_metadata(&entry)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(p.run(&["verify"]).status.success());
}

/// Flip one byte in the middle of `stage`'s Parquet file (same size).
fn flip(cache: &Path, stage: &str) {
    let entry = entry_of(cache, stage);
    let f = entry.join("out.parquet");
    let mut bytes = fs::read(&f).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    fs::write(&f, bytes).unwrap();
}

fn quarantined(cache: &Path) -> usize {
    fs::read_dir(cache.join("v1/quarantine")).map_or(0, |d| d.count())
}

#[test]
fn verify_finds_a_same_size_flip_and_repair_makes_run_recompute_it() {
    let p = Project::new();
    p.write("e.toml", &chain("\"A\""));
    assert!(p.run(&["run", "e.toml"]).status.success());
    flip(&p.cache(), "b");
    // The fast path (sizes) still calls it cached.
    let (ev, _) = p.run_json("e.toml");
    assert_eq!(with_status(&ev, "cached"), ["a", "b"]);
    for args in [&["verify"][..], &["verify", "e.toml"]] {
        let v = p.run(args);
        assert_eq!(v.status.code(), Some(1), "{args:?}: {}", stdout(&v));
        assert!(stdout(&v).contains("1 ok, 1 corrupt"), "{}", stdout(&v));
        assert!(stdout(&v).contains("digest"), "{}", stdout(&v));
    }
    let r = p.run(&["verify", "--repair"]);
    assert!(r.status.success(), "{}", stdout(&r));
    assert!(stdout(&r).contains("quarantined to"), "{}", stdout(&r));
    assert_eq!(quarantined(&p.cache()), 1);
    let (ev, out) = p.run_json("e.toml");
    assert!(out.status.success());
    assert_eq!(with_status(&ev, "ran"), ["b"]);
    assert!(p.run(&["verify"]).status.success());
}

#[test]
fn run_verify_recomputes_a_flipped_entry() {
    let p = Project::new();
    p.write("e.toml", &chain("\"A\""));
    assert!(p.run(&["run", "e.toml"]).status.success());
    flip(&p.cache(), "a");
    let out = p.run(&["run", "e.toml", "--json", "--verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("corrupt"), "{}", stderr(&out));
    assert_eq!(with_status(&events(&out), "ran"), ["a"]);
    assert_eq!(with_status(&events(&out), "cached"), ["b"]);
    assert_eq!(quarantined(&p.cache()), 1);
    assert!(p.run(&["verify"]).status.success());
}

#[test]
fn show_quarantines_a_corrupt_entry_and_the_next_run_recomputes_it() {
    let p = Project::new();
    p.write("e.toml", &chain("\"A\""));
    assert!(p.run(&["run", "e.toml"]).status.success());
    flip(&p.cache(), "b");
    let s = p.run(&["show", "e.toml", "b"]);
    assert_eq!(s.status.code(), Some(1));
    assert!(stderr(&s).contains("corrupt"), "{}", stderr(&s));
    assert!(
        stderr(&s).contains("the next `warmstart run` recomputes it"),
        "{}",
        stderr(&s)
    );
    assert_eq!(quarantined(&p.cache()), 1);
    let (ev, _) = p.run_json("e.toml");
    assert_eq!(with_status(&ev, "ran"), ["b"]);
    let s = p.run(&["show", "e.toml", "b", "--format", "csv"]);
    assert_eq!(stdout(&s), "source,value\na,A\nb,B\n");
}

#[test]
fn non_finite_params_are_cached() {
    for v in ["nan", "inf", "-inf", "[nan, 1.5]"] {
        let p = Project::new();
        p.write("e.toml", &chain(v));
        let (ev, out) = p.run_json("e.toml");
        assert!(out.status.success(), "{v}: {}", stderr(&out));
        assert_eq!(with_status(&ev, "ran"), ["a", "b"], "{v}");
        let (ev, out) = p.run_json("e.toml");
        assert!(out.status.success(), "{v}: {}", stderr(&out));
        assert_eq!(with_status(&ev, "cached"), ["a", "b"], "{v}");
        let plan = stdout(&p.run(&["plan", "e.toml"]));
        assert!(plan.contains("2 fresh, 0 to run"), "{v}: {plan}");
        assert!(p.run(&["verify", "e.toml"]).status.success(), "{v}");
    }
}

#[test]
fn gc_removes_idle_lock_files_and_dangling_refs() {
    let p = Project::new();
    p.write("e.toml", &chain("\"A\""));
    assert!(p.run(&["run", "e.toml"]).status.success());
    p.write("e.toml", &chain("\"A2\""));
    assert!(p.run(&["run", "e.toml"]).status.success());
    let count = |d: &str| fs::read_dir(p.cache().join("v1").join(d)).unwrap().count();
    assert_eq!(count("locks"), 4, "a and b, twice");
    let refs_before = count("refs");
    assert!(refs_before >= 2);
    let out = p.run(&["gc", "e.toml", "--apply"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("4 idle lock files"),
        "{}",
        stdout(&out)
    );
    assert_eq!(count("locks"), 0);
    assert_eq!(entry_dirs(&p.cache()).len(), 2);
    // Refs that name live entries stay; the experiment is still fully cached.
    assert_eq!(count("refs"), refs_before);
    let (ev, _) = p.run_json("e.toml");
    assert_eq!(with_status(&ev, "cached"), ["a", "b"]);
}
