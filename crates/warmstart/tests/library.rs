//! The facade's entry points from Rust, on real experiment files and a real cache:
//! export (files and `index.json`), gc candidates, selection, plan rows, `why`
//! explanations, stage and status tables, verification, and a run whose temp directory
//! cannot be cleaned.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use warmstart::export::ExportError;
use warmstart::read::ReadError;
use warmstart::select::SelectError;
use warmstart::status::{SeedOrigin, Verdict};
use warmstart::{Plan, RunOptions, Store};

const EXP: &str = r#"
[experiment]
name = "lib"
[sweep]
x = [1, 2]
[stages.a]
kind = "echo"
value = "A"
[stages.b]
kind = "echo"
inputs = ["a"]
value = "${x}"
"#;

struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new(text: &str) -> Project {
        let p = Project {
            dir: tempfile::tempdir().unwrap(),
        };
        p.write(text);
        p
    }
    fn write(&self, text: &str) {
        std::fs::write(self.file(), text).unwrap();
    }
    fn file(&self) -> PathBuf {
        self.dir.path().join("e.toml")
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    fn plan(&self) -> Plan {
        warmstart::load(&self.file()).unwrap()
    }
    fn store(&self) -> Store {
        warmstart::open_cache(&self.path("cache")).unwrap()
    }
    fn run(&self) -> warmstart::RunSummary {
        let s =
            warmstart::run(&self.plan(), &self.store(), &RunOptions::default(), &mut ()).unwrap();
        assert!(s.success());
        s
    }
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn export_writes_every_instance_and_an_index_listing_them() {
    let p = Project::new(EXP);
    p.run();
    let (plan, store) = (p.plan(), p.store());
    let a = warmstart::assess(&plan, &store);
    let out = p.path("results");
    let report = warmstart::export::export(&plan, &a, &store, &out).unwrap();
    assert!(report.missing.is_empty());
    assert_eq!(report.experiment, "lib");
    let dirs: Vec<&str> = report
        .exported
        .iter()
        .map(|e| e.files[0].as_str())
        .collect();
    assert_eq!(
        dirs,
        ["a/out.parquet", "b__x=1/out.parquet", "b__x=2/out.parquet"]
    );
    for e in &report.exported {
        let bytes = std::fs::read(out.join(&e.files[0])).unwrap();
        assert_eq!(&bytes[..4], b"PAR1");
    }
    // The index says the same as the report, key by key.
    assert_eq!(report.index, out.join("index.json"));
    let index = read_json(&report.index);
    assert_eq!(index["experiment"], "lib");
    let stages = index["stages"].as_array().unwrap();
    assert_eq!(stages.len(), 3);
    for (row, e) in stages.iter().zip(&report.exported) {
        assert_eq!(row["stage"], e.stage.as_str());
        assert_eq!(row["key"], e.key.to_string().as_str());
        assert_eq!(row["output_digest"], e.output_digest.to_string().as_str());
        assert_eq!(row["files"], serde_json::json!(e.files));
        assert_eq!(row["coords"], serde_json::Value::Object(e.coords.clone()));
    }
    assert_eq!(stages[2]["coords"], serde_json::json!({"x": 2}));
    // The keys are the ones the plan has.
    let fresh: Vec<String> = a
        .freshness
        .iter()
        .map(|f| f.key().unwrap().to_string())
        .collect();
    let listed: Vec<String> = report.exported.iter().map(|e| e.key.to_string()).collect();
    assert_eq!(listed, fresh);
}

#[test]
fn export_of_a_stale_experiment_lists_what_is_missing() {
    let p = Project::new(EXP);
    let (plan, store) = (p.plan(), p.store());
    let a = warmstart::assess(&plan, &store);
    let report = warmstart::export::export(&plan, &a, &store, &p.path("results")).unwrap();
    assert!(report.exported.is_empty());
    assert_eq!(report.missing, ["a", "b[x=1]", "b[x=2]"]);
    assert_eq!(read_json(&report.index)["stages"], serde_json::json!([]));
}

#[cfg(unix)]
#[test]
fn export_refuses_an_index_that_is_a_symlink() {
    let p = Project::new(EXP);
    p.run();
    let (plan, store) = (p.plan(), p.store());
    let a = warmstart::assess(&plan, &store);
    let out = p.path("results");
    std::fs::create_dir_all(&out).unwrap();
    std::os::unix::fs::symlink(p.path("elsewhere.json"), out.join("index.json")).unwrap();
    let err = warmstart::export::export(&plan, &a, &store, &out).unwrap_err();
    assert!(matches!(err, ExportError::Symlink { .. }), "{err:?}");
    assert!(err.help().is_some());
    assert!(!p.path("elsewhere.json").exists());
}

#[test]
fn gc_lists_the_unreferenced_entry_with_its_size_and_removes_it_on_apply() {
    let p = Project::new(EXP);
    p.run();
    // A new value for `a`: its old entry and both old `b`s are unreferenced now.
    p.write(&EXP.replace("value = \"A\"", "value = \"A2\""));
    p.run();
    let (plan, store) = (p.plan(), p.store());
    let live: HashSet<_> = warmstart::gc::live_keys(&plan, &store).collect();
    assert_eq!(live.len(), 3);
    let dry = warmstart::gc::gc(&store, &live, false).unwrap();
    assert!(!dry.applied);
    let mut what: Vec<&str> = dry.candidates.iter().map(|c| c.what.as_str()).collect();
    what.sort();
    assert_eq!(what, ["a", "b[x=1]", "b[x=2]"]);
    assert!(dry.candidates.iter().all(|c| c.bytes > 0), "{dry:?}");
    assert_eq!(
        dry.bytes,
        dry.candidates.iter().map(|c| c.bytes).sum::<u64>()
    );
    assert!(dry.candidates.iter().all(|c| !live.contains(&c.key)));
    assert_eq!(store.keys().unwrap().len(), 6, "a dry run deletes nothing");

    let applied = warmstart::gc::gc(&store, &live, true).unwrap();
    assert!(applied.applied);
    assert_eq!(applied.candidates.len(), 3);
    let left: HashSet<_> = store.keys().unwrap().into_iter().collect();
    assert_eq!(left, live);
    assert!(
        warmstart::gc::gc(&store, &live, false)
            .unwrap()
            .candidates
            .is_empty()
    );
    // Everything the experiment uses is still there.
    let again = warmstart::run(&plan, &store, &RunOptions::default(), &mut ()).unwrap();
    assert_eq!(again.cached, 3);
}

#[test]
fn select_finds_instances_by_coordinates_or_says_why_not() {
    let p = Project::new(EXP);
    let plan = p.plan();
    let f = warmstart::select::parse_filters(&["x=2".into()]).unwrap();
    let nodes = warmstart::select::select(&plan, "b", &f).unwrap();
    assert_eq!(nodes.len(), 1);
    assert_eq!(plan.nodes[nodes[0]].label(), "b[x=2]");
    assert_eq!(warmstart::select::select(&plan, "b", &[]).unwrap().len(), 2);
    match warmstart::select::select(&plan, "bb", &[]) {
        Err(SelectError::NoStage { stage, hint, .. }) => {
            assert_eq!(stage, "bb");
            assert!(hint.contains('b'), "{hint}");
        }
        other => panic!("{other:?}"),
    }
    // A value the axis never takes: the error lists the values there are.
    let f = warmstart::select::parse_filters(&["x=3".into()]).unwrap();
    let err = warmstart::select::select(&plan, "b", &f).unwrap_err();
    assert_eq!(err.to_string(), "axis `x` of `b` has no value `3`");
    match err {
        SelectError::NoValue { values, .. } => assert_eq!(values, ["1", "2"]),
        other => panic!("{other:?}"),
    }
    // An axis the stage does not have: its axes (no near one to suggest for `y`).
    let f = warmstart::select::parse_filters(&["y=1".into()]).unwrap();
    match warmstart::select::select(&plan, "b", &f) {
        Err(SelectError::UnknownAxis { axes, hint, .. }) => {
            assert_eq!(axes, ["x"]);
            assert_eq!(hint, None);
        }
        other => panic!("{other:?}"),
    }
    // `a` is not swept: no axis at all.
    match warmstart::select::select(&plan, "a", &f) {
        Err(SelectError::UnknownAxis { axes, .. }) => assert!(axes.is_empty()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn plan_rows_and_explanations_say_what_would_run_and_why() {
    let p = Project::new(EXP);
    let (plan, store) = (p.plan(), p.store());
    let rows = warmstart::status::plan_rows(&plan, &warmstart::assess(&plan, &store));
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| !r.fresh && !r.reasons.is_empty()));
    assert!(rows[0].key.is_some(), "a has no inputs: its key is known");
    assert!(rows[1].key.is_none(), "b's key waits for a");

    p.run();
    let a = warmstart::assess(&plan, &store);
    let rows = warmstart::status::plan_rows(&plan, &a);
    assert!(rows.iter().all(|r| r.fresh && r.reasons.is_empty()));
    let b2 = warmstart::select::select(&plan, "b", &[("x".into(), "2".into())]).unwrap();
    let x = warmstart::status::explain(&plan, &a, &b2);
    assert_eq!(x.len(), 1);
    let x = &x[0];
    assert_eq!((x.label.as_str(), x.kind.as_str()), ("b[x=2]", "echo"));
    assert!(x.fresh);
    assert_eq!(x.seed, SeedOrigin::NotInKey);
    assert_eq!(x.inputs.len(), 1);
    assert_eq!(x.inputs[0].label, "a");
    assert!(x.inputs[0].digest.is_some());
    assert!(
        matches!(x.verdict, Verdict::Cached { tables: 1, .. }),
        "{x:?}"
    );
    assert!(x.params.iter().any(|(k, _)| k == "value"), "{x:?}");
}

#[test]
fn reading_outputs_of_a_stale_instance_or_a_missing_table_is_an_error() {
    let p = Project::new(EXP);
    let (plan, store) = (p.plan(), p.store());
    let a = warmstart::assess(&plan, &store);
    assert!(matches!(
        warmstart::read::read_outputs(&plan, &a, &store, 0),
        Err(ReadError::NotFresh { .. })
    ));
    p.run();
    let a = warmstart::assess(&plan, &store);
    let tables = warmstart::read::read_outputs(&plan, &a, &store, 0).unwrap();
    assert_eq!(tables[0].batch.num_rows(), 1);
    match warmstart::read::pick_table("a", &tables, Some("nope")) {
        Err(ReadError::NoSuchTable { available, .. }) => assert_eq!(available, ["out"]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn verify_checks_the_entries_an_experiment_uses() {
    let p = Project::new(EXP);
    p.run();
    let (plan, store) = (p.plan(), p.store());
    let keys = warmstart::verify::keys_used(&plan, &store);
    assert_eq!(keys.len(), 3);
    let mut seen = Vec::new();
    let report =
        warmstart::verify::before_run(&plan, &store, |done, total| seen.push((done, total)));
    assert_eq!((report.ok, report.corrupt.len()), (3, 0));
    assert_eq!(seen.first(), Some(&(0, 3)));
    assert_eq!(seen.last(), Some(&(3, 3)));
}

/// Counts the events it receives.
struct Counter(usize);

impl warmstart::Reporter for Counter {
    fn report(&mut self, _: &warmstart::RunEvent) {
        self.0 += 1;
    }
}

#[cfg(unix)]
#[test]
fn a_run_whose_temp_dir_cannot_be_cleaned_fails_once_and_runs_nothing() {
    let p = Project::new(EXP);
    let (plan, store) = (p.plan(), p.store());
    // After the cache was opened (and checked), its temp dir becomes a symlink.
    let tmp = p.path("cache/v1/tmp");
    let decoy = p.path("decoy");
    std::fs::create_dir(&decoy).unwrap();
    std::fs::remove_dir(&tmp).unwrap();
    std::os::unix::fs::symlink(&decoy, &tmp).unwrap();
    let mut events = Counter(0);
    let err = warmstart::run(&plan, &store, &RunOptions::default(), &mut events).unwrap_err();
    assert!(matches!(err, warmstart::RunError::CleanTmp(_)), "{err:?}");
    assert_eq!(
        events.0, 0,
        "nothing is reported: the error is the one report"
    );
    assert!(err.to_string().contains("v1/tmp"), "{err}");
    assert!(store.keys().unwrap().is_empty(), "nothing ran");
    assert_eq!(std::fs::read_dir(&decoy).unwrap().count(), 0);
}

#[test]
fn runs_are_recorded_and_the_report_marks_the_latest_failures() {
    let p = Project::new(
        &EXP.replace("x = [1, 2]", "x = [false, true]")
            .replace("value = \"${x}\"", "value = \"${x}\"\nfail = \"${x}\""),
    );
    let (plan, store) = (p.plan(), p.store());
    let s = warmstart::run(&plan, &store, &RunOptions::default(), &mut ()).unwrap();
    assert_eq!((s.ran, s.failed), (2, 1));
    let records = warmstart::runs::records(&store, "lib").unwrap();
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!((r.ran, r.failed, r.executor.as_str()), (2, 1, "local"));
    let failed: Vec<&str> = r
        .instances
        .iter()
        .filter(|i| i.status == warmstart::Status::Failed)
        .map(|i| i.label.as_str())
        .collect();
    assert_eq!(failed, ["b[x=true]"]);
    assert_eq!(
        r.file_digest,
        blake3::hash(std::fs::read(p.file()).unwrap().as_slice())
            .to_hex()
            .as_str()
    );

    let a = warmstart::assess(&plan, &store);
    let opts = warmstart::html::ReportOptions::default();
    let out = p.path("report");
    let written = warmstart::html::write_report(&plan, &a, &store, &out, &opts).unwrap();
    assert_eq!((written.counts.fresh, written.counts.failed), (2, 1));
    assert_eq!(written.exported, 2);
    let page = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(
        page.contains("echo asked to fail"),
        "the error is on the page"
    );
    assert!(out.join("data/b__x=false/out.parquet").exists());
    // A second run adds a second record; the newest is the one `latest` gives.
    warmstart::run(&plan, &store, &RunOptions::default(), &mut ()).unwrap();
    assert_eq!(warmstart::runs::records(&store, "lib").unwrap().len(), 2);
    let latest = warmstart::runs::latest(&store, "lib").unwrap();
    assert_eq!((latest.cached, latest.failed), (2, 1));
}

#[test]
fn a_stage_table_puts_every_instance_under_its_coordinates_once_all_are_fresh() {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;
    use warmstart::table::{StageTableError, stage_table, status_table};

    let p = Project::new(EXP);
    let (plan, store) = (p.plan(), p.store());
    let b = warmstart::select::select(&plan, "b", &[]).unwrap();
    let a = warmstart::assess(&plan, &store);
    match stage_table(&plan, &a, &store, &b, None) {
        Err(StageTableError::NotFresh { missing, total }) => {
            assert_eq!(total, 2);
            let labels: Vec<&str> = missing.iter().map(|m| m.label.as_str()).collect();
            assert_eq!(labels, ["b[x=1]", "b[x=2]"]);
            assert!(missing[0].reasons[0].contains("input `a`"), "{missing:?}");
        }
        other => panic!("{other:?}"),
    }
    let status = status_table(&plan, &a);
    let schema = status.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["stage", "label", "x", "status", "key", "reasons"]);
    let x = status.column(2).as_primitive::<Int64Type>();
    assert_eq!((x.is_null(0), x.value(1), x.value(2)), (true, 1, 2));
    let st = status.column(3).as_string::<i32>();
    assert!((0..3).all(|i| st.value(i) == "stale"));
    // `b` waits for `a`, so its key is not known yet; `a`'s is.
    assert!(status.column(4).is_valid(0) && status.column(4).is_null(1));

    p.run();
    let a = warmstart::assess(&plan, &store);
    let st = status_table(&plan, &a);
    assert!((0..3).all(|i| st.column(3).as_string::<i32>().value(i) == "fresh"));
    assert!((0..3).all(|i| st.column(5).as_string::<i32>().value(i).is_empty()));

    let t = stage_table(&plan, &a, &store, &b, Some("out")).unwrap();
    let names: Vec<&str> = t
        .schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    assert_eq!(names, ["x", "source", "value"]);
    assert_eq!((t.batches.len(), t.num_rows()), (2, 4));
    let rows: Vec<(i64, String, String)> = t
        .batches
        .iter()
        .flat_map(|batch| {
            let x = batch.column(0).as_primitive::<Int64Type>().clone();
            let s = batch.column(1).as_string::<i32>().clone();
            let v = batch.column(2).as_string::<i32>().clone();
            (0..batch.num_rows())
                .map(move |i| (x.value(i), s.value(i).to_string(), v.value(i).to_string()))
        })
        .collect();
    let want = [
        (1, "a", "A"),
        (1, "b[x=1]", "1"),
        (2, "a", "A"),
        (2, "b[x=2]", "2"),
    ];
    assert_eq!(
        rows,
        want.map(|(x, s, v)| (x, s.to_string(), v.to_string()))
    );
    match stage_table(&plan, &a, &store, &b, Some("nope")) {
        Err(StageTableError::Read(ReadError::NoSuchTable { table, .. })) => {
            assert_eq!(table, "nope")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_coordinate_that_is_already_a_column_is_not_added_twice() {
    let p = Project::new(
        r#"
[experiment]
name = "clash"
[sweep]
value = ["p", "q"]
[stages.b]
kind = "echo"
value = "${value}"
"#,
    );
    p.run();
    let (plan, store) = (p.plan(), p.store());
    let a = warmstart::assess(&plan, &store);
    let b = warmstart::select::select(&plan, "b", &[]).unwrap();
    let t = warmstart::table::stage_table(&plan, &a, &store, &b, None).unwrap();
    let names: Vec<&str> = t
        .schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    assert_eq!(names, ["source", "value"]);
}

#[test]
fn estimates_come_from_the_last_recorded_run_and_skip_cache_hits() {
    let p = Project::new(&EXP.replace("value = \"A\"", "value = \"A\"\nsleep_ms = 30"));
    let (plan, store) = (p.plan(), p.store());
    // Nothing recorded yet: nothing known.
    let none = warmstart::estimate::Estimates::load(&plan, &store);
    assert_eq!(none.of("a"), None);
    p.run();
    let recorded = warmstart::runs::latest(&store, "lib").unwrap();
    let a_ms = recorded.instances[0].duration_ms;
    assert!(a_ms >= 30, "{a_ms}");
    // Everything fresh: every instance is a cache hit, with nothing to wait for.
    let fresh = warmstart::estimate::Estimates::load(&plan, &store);
    assert_eq!(fresh.of("a"), None);
    let tracker = warmstart::estimate::EtaTracker::new(fresh, 2);
    assert_eq!(tracker.eta_ms(0), None);
    // `a` changes: it and both `b`s will run; each is expected to take what it took.
    p.write(&EXP.replace("value = \"A\"", "value = \"A2\"\nsleep_ms = 30"));
    let plan = p.plan();
    let stale = warmstart::estimate::Estimates::load(&plan, &store);
    assert_eq!(stale.of("a"), Some(a_ms));
    let b1 = recorded.instances[1].duration_ms;
    assert_eq!(stale.of("b[x=1]"), Some(b1));
    let tracker = warmstart::estimate::EtaTracker::new(stale, 1);
    let b2 = recorded.instances[2].duration_ms;
    assert_eq!(tracker.eta_ms(0), Some(a_ms + b1 + b2));
}
