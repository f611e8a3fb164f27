//! Unit tests of the store (a child module of `store`, in its own file for length).

use super::*;
use arrow_array::{Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use std::fs::OpenOptions;

fn batch(n: i64) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("i", DataType::Int64, false),
        Field::new("x", DataType::Float64, true),
        Field::new("s", DataType::Utf8, false),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from_iter_values(0..n)),
            Arc::new(Float64Array::from_iter(
                (0..n).map(|i| (i % 3 != 0).then_some(i as f64 * 0.5)),
            )),
            Arc::new(StringArray::from_iter_values(
                (0..n).map(|i| format!("r{i}")),
            )),
        ],
    )
    .unwrap()
}

fn inputs() -> KeyInputs {
    KeyInputs {
        kind: "k".into(),
        engine_id: "e".into(),
        engine_version: "1".into(),
        engine_extra: vec![],
        params: Default::default(),
        seed: Some(3),
        inputs: vec![],
    }
}

fn meta() -> EntryMeta {
    EntryMeta {
        experiment: "x".into(),
        stage: "s".into(),
        coords: vec![("a".into(), Value::Float(0.5))],
        duration_ms: 1,
    }
}

fn write_two(store: &Store) -> CacheKey {
    let key = inputs().key();
    let tables = vec![
        NamedTable::new("out", batch(100)),
        NamedTable::new("trace", batch(7)),
    ];
    store.write(&key, &inputs(), &tables, meta()).unwrap();
    key
}

#[test]
fn roundtrip_with_several_tables() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let key = write_two(&store);
    let Lookup::Hit(m) = store.lookup(&key) else {
        panic!("expected a hit")
    };
    assert_eq!(m.outputs.len(), 2);
    let t = store.read(&key).unwrap();
    assert_eq!(t[0].name, "out");
    assert_eq!(t[0].batch, batch(100));
    assert_eq!(t[1].batch, batch(7));
    assert_eq!(store.entries().unwrap().len(), 1);
}

#[test]
fn encoding_is_deterministic() {
    let p = Path::new("x");
    assert_eq!(
        parquet_bytes(&batch(50), p).unwrap(),
        parquet_bytes(&batch(50), p).unwrap()
    );
    // Through files and through two separate stores, at different times.
    let d = tempfile::tempdir().unwrap();
    let (a, b) = (d.path().join("a.parquet"), d.path().join("b.parquet"));
    write_parquet(&batch(50), &a).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    write_parquet(&batch(50), &b).unwrap();
    assert_eq!(fs::read(&a).unwrap(), fs::read(&b).unwrap());
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let k = inputs().key();
    let t = [NamedTable::new("out", batch(50))];
    let m1 = Store::open(d1.path())
        .unwrap()
        .write(&k, &inputs(), &t, meta());
    let m2 = Store::open(d2.path())
        .unwrap()
        .write(&k, &inputs(), &t, meta());
    assert_eq!(m1.unwrap().output_digest, m2.unwrap().output_digest);
}

#[test]
fn flipped_byte_is_corrupt_on_read_truncation_on_lookup() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let key = write_two(&store);
    let f = store.entry_dir(&key).join("out.parquet");
    let mut bytes = fs::read(&f).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    fs::write(&f, &bytes).unwrap();
    assert!(
        matches!(store.lookup(&key), Lookup::Hit(_)),
        "sizes still match"
    );
    assert!(matches!(store.read(&key), Err(CacheError::Corrupt { .. })));
    bytes.truncate(10);
    fs::write(&f, &bytes).unwrap();
    assert!(matches!(store.lookup(&key), Lookup::Corrupt(_)));
    store.remove(&key).unwrap();
    assert!(matches!(store.lookup(&key), Lookup::Missing));
}

#[test]
fn missing_manifest_is_missing_and_garbage_manifest_is_corrupt() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let key = write_two(&store);
    let m = store.entry_dir(&key).join("manifest.json");
    fs::write(&m, b"{not json").unwrap();
    assert!(matches!(store.lookup(&key), Lookup::Corrupt(_)));
    fs::remove_file(&m).unwrap();
    assert!(matches!(store.lookup(&key), Lookup::Missing));
}

#[test]
fn leftover_tmp_from_dead_process_is_cleaned() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let dead = d.path().join("v1/tmp/4000000000-0-0");
    fs::create_dir_all(&dead).unwrap();
    fs::write(dead.join("out.parquet"), b"half").unwrap();
    assert_eq!(store.clean_tmp().unwrap(), 1);
    assert!(!dead.exists());
}

#[test]
fn unknown_layout_is_refused() {
    let d = tempfile::tempdir().unwrap();
    fs::create_dir_all(d.path().join("v1")).unwrap();
    fs::write(d.path().join("v1/LAYOUT"), "7").unwrap();
    let e = Store::open(d.path()).unwrap_err();
    assert!(e.to_string().contains("not one this version"), "{e}");
}

#[test]
fn bad_table_name_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let key = inputs().key();
    let r = store.write(
        &key,
        &inputs(),
        &[NamedTable::new("../x", batch(1))],
        meta(),
    );
    assert!(matches!(r, Err(CacheError::TableName(_))));
    assert!(matches!(store.lookup(&key), Lookup::Missing));
}

#[test]
fn lock_is_exclusive_across_threads() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let key = inputs().key();
    let computed = Arc::new(AtomicU64::new(0));
    std::thread::scope(|s| {
        for _ in 0..4 {
            let (store, computed) = (store.clone(), computed.clone());
            s.spawn(move || {
                let _l = store.lock(&key).unwrap();
                if let Lookup::Missing = store.lookup(&key) {
                    computed.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    store
                        .write(&key, &inputs(), &[NamedTable::new("out", batch(3))], meta())
                        .unwrap();
                }
            });
        }
    });
    assert_eq!(computed.load(Ordering::SeqCst), 1);
}

#[test]
fn refs_roundtrip() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let key = inputs().key();
    assert_eq!(store.get_ref("abc"), None);
    store.set_ref("abc", &key).unwrap();
    assert_eq!(store.get_ref("abc"), Some(key));
}

#[test]
fn roundtrip_of_more_types_and_an_empty_table() {
    use arrow_array::{BooleanArray, ListArray, types::Int32Type};
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let schema = Arc::new(Schema::new(vec![
        Field::new("b", DataType::Boolean, true),
        Field::new(
            "l",
            DataType::List(Arc::new(Field::new("item", DataType::Int32, true))),
            true,
        ),
    ]));
    let b = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(BooleanArray::from(vec![Some(true), None, Some(false)])),
            Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
                Some(vec![Some(1), None]),
                None,
                Some(vec![]),
            ])),
        ],
    )
    .unwrap();
    let files = warmstart_engine::files_table(&[("fig.svg".into(), b"<svg/>".to_vec())]).unwrap();
    let tables = vec![
        NamedTable::new("mixed", b.clone()),
        NamedTable::new("files", files.clone()),
        NamedTable::new("empty", batch(0)),
    ];
    let key = inputs().key();
    let m = store.write(&key, &inputs(), &tables, meta()).unwrap();
    assert_eq!(m.outputs[2].rows, 0);
    let back = store.read(&key).unwrap();
    let names: Vec<&str> = back.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["mixed", "files", "empty"]);
    assert_eq!(back[0].batch, b);
    assert_eq!(back[1].batch, files);
    assert_eq!(back[2].batch, batch(0));
}

#[test]
fn many_row_groups_come_back_as_one_batch() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("big.parquet");
    let big = batch(200_000);
    write_parquet(&big, &p).unwrap();
    assert_eq!(read_parquet(&p).unwrap(), big);
}

#[test]
fn garbage_parquet_is_an_error_not_a_panic() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("x.parquet");
    for bytes in [
        &b""[..],
        b"PAR1",
        b"PAR1\0\0\0\0PAR1",
        b"hello world, not parquet",
    ] {
        fs::write(&p, bytes).unwrap();
        assert!(matches!(read_parquet(&p), Err(CacheError::Parquet { .. })));
    }
    let e = read_parquet(&d.path().join("nope.parquet")).unwrap_err();
    assert!(e.to_string().contains("nope.parquet"), "{e}");
}

#[test]
fn every_single_byte_flip_or_truncation_is_survived() {
    let d = tempfile::tempdir().unwrap();
    let good = parquet_bytes(&batch(20), Path::new("x")).unwrap();
    let p = d.path().join("x.parquet");
    for i in 0..good.len() {
        let mut bytes = good.clone();
        bytes[i] ^= 0xff;
        fs::write(&p, &bytes).unwrap();
        // An error or (if the flip hit padding or a value) a batch; never a panic.
        let _ = read_parquet(&p);
        fs::write(&p, &good[..i]).unwrap();
        assert!(read_parquet(&p).is_err(), "truncated to {i} bytes");
    }
}

#[test]
fn manifest_cannot_point_outside_its_entry() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let key = write_two(&store);
    let mpath = store.entry_dir(&key).join("manifest.json");
    let text = fs::read_to_string(&mpath).unwrap();
    let evil = text.replace("\"out.parquet\"", "\"../../../../LAYOUT\"");
    assert_ne!(evil, text);
    fs::write(&mpath, evil).unwrap();
    assert!(matches!(store.lookup(&key), Lookup::Corrupt(_)));
    assert!(matches!(store.read(&key), Err(CacheError::Corrupt { .. })));
    // A manifest of another key is not a hit either.
    let other = d.path().join("v1/entries/00");
    fs::create_dir_all(&other).unwrap();
    let fake = CacheKey([0; 32]);
    let dir = other.join(fake.to_string());
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("manifest.json"), text).unwrap();
    assert!(matches!(store.lookup(&fake), Lookup::Corrupt(_)));
    let listed = store.entries().unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|(_, m)| m.is_err()));
}

#[test]
fn non_finite_params_and_coords_are_cached() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let mut ki = inputs();
    ki.params.insert("nan".into(), Value::Float(f64::NAN));
    ki.params.insert("inf".into(), Value::Float(f64::INFINITY));
    ki.params.insert(
        "l".into(),
        Value::List(vec![Value::Float(f64::NEG_INFINITY)]),
    );
    let key = ki.key();
    let mut m = meta();
    m.coords = vec![("x".into(), Value::Float(f64::NAN))];
    store
        .write(&key, &ki, &[NamedTable::new("out", batch(3))], m)
        .unwrap();
    let Lookup::Hit(back) = store.lookup(&key) else {
        panic!("expected a hit, got {:?}", store.lookup(&key))
    };
    assert_eq!(back.inputs.key(), key);
    assert_eq!(back.inputs.params["inf"], Value::Float(f64::INFINITY));
    assert!(matches!(back.coords[0].1, Value::Float(f) if f.is_nan()));
}

#[test]
fn duplicate_table_names_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let key = inputs().key();
    let t = NamedTable::new("out", batch(1));
    let r = store.write(&key, &inputs(), &[t.clone(), t], meta());
    assert!(matches!(r, Err(CacheError::DuplicateTable(_))));
    assert!(
        fs::read_dir(d.path().join("v1/tmp"))
            .unwrap()
            .next()
            .is_none()
    );
}

#[test]
fn write_replaces_a_corrupt_entry_and_keeps_a_good_one() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let key = write_two(&store);
    let f = store.entry_dir(&key).join("out.parquet");
    let mut bytes = fs::read(&f).unwrap();
    bytes[4] ^= 1;
    fs::write(&f, &bytes).unwrap();
    assert!(store.verify(&key).is_err());
    write_two(&store);
    assert!(store.verify(&key).is_ok());
    assert_eq!(store.read(&key).unwrap()[0].batch, batch(100));
    // Writing again over a good entry keeps it.
    let first = store.verify(&key).unwrap().created_unix_ms;
    std::thread::sleep(std::time::Duration::from_millis(5));
    let m = store
        .write(
            &key,
            &inputs(),
            &[NamedTable::new("out", batch(100))],
            meta(),
        )
        .unwrap();
    assert_eq!(m.created_unix_ms, first);
    assert!(
        fs::read_dir(d.path().join("v1/tmp"))
            .unwrap()
            .next()
            .is_none()
    );
}

#[test]
fn leftover_tmp_is_invisible_and_live_ones_are_kept() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let key = inputs().key();
    // A killed writer's half-built entry for this very key.
    let dead = d.path().join("v1/tmp/4000000000-0-0");
    fs::create_dir_all(&dead).unwrap();
    fs::write(dead.join("out.parquet"), b"half").unwrap();
    assert!(matches!(store.lookup(&key), Lookup::Missing));
    assert!(store.entries().unwrap().is_empty());
    // Ours (same pid) and a live process's (pid 1) are kept.
    let mine = d.path().join(format!("v1/tmp/{}-9-9", std::process::id()));
    fs::create_dir_all(&mine).unwrap();
    let live = d.path().join("v1/tmp/1-0-0");
    fs::create_dir_all(&live).unwrap();
    // A name without a pid, just created: kept until it is an hour old.
    let anon = d.path().join("v1/tmp/whatever");
    fs::create_dir_all(&anon).unwrap();
    assert_eq!(store.clean_tmp().unwrap(), 1);
    assert!(!dead.exists() && mine.exists() && anon.exists());
    assert_eq!(live.exists(), Path::new("/proc/1").exists());
}

#[test]
fn bad_ref_ids_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let key = inputs().key();
    assert!(matches!(
        store.set_ref("../escape", &key),
        Err(CacheError::RefId(_))
    ));
    assert_eq!(store.get_ref("../LAYOUT"), None);
    fs::write(d.path().join("v1/refs/junk"), "not a key").unwrap();
    assert_eq!(store.get_ref("junk"), None);
}

#[test]
fn layout_file_is_written_and_reopening_works() {
    let d = tempfile::tempdir().unwrap();
    let key = write_two(&Store::open(d.path()).unwrap());
    assert_eq!(
        fs::read_to_string(d.path().join("v1/LAYOUT"))
            .unwrap()
            .trim(),
        "1"
    );
    let again = Store::open(d.path()).unwrap();
    assert!(matches!(again.lookup(&key), Lookup::Hit(_)));
    assert_eq!(again.root(), d.path());
}

/// The child side of `lock_is_exclusive_across_processes`: does nothing unless the
/// parent test spawned this binary with the environment set.
#[test]
fn lock_child_process() {
    let Ok(root) = std::env::var("WARMSTART_CACHE_LOCK_CHILD") else {
        return;
    };
    let store = Store::open(Path::new(&root)).unwrap();
    let key = inputs().key();
    let _l = store.lock(&key).unwrap();
    if let Lookup::Missing = store.lookup(&key) {
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(Path::new(&root).join("computed"))
            .unwrap();
        writeln!(log, "{}", std::process::id()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(300));
        store
            .write(&key, &inputs(), &[NamedTable::new("out", batch(3))], meta())
            .unwrap();
    }
}

#[test]
fn lock_is_exclusive_across_processes() {
    let d = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..3)
        .map(|_| {
            std::process::Command::new(&exe)
                .args(["--exact", "store::tests::lock_child_process", "--quiet"])
                .env("WARMSTART_CACHE_LOCK_CHILD", d.path())
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let log = fs::read_to_string(d.path().join("computed")).unwrap();
    assert_eq!(log.lines().count(), 1, "computed by: {log}");
    let store = Store::open(d.path()).unwrap();
    assert_eq!(store.read(&inputs().key()).unwrap()[0].batch, batch(3));
}

#[test]
fn opening_for_reading_never_creates_a_cache() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cache");
    let store = Store::open_for_reading(&root).unwrap();
    assert!(store.is_absent());
    let key = inputs().key();
    assert!(matches!(store.lookup(&key), Lookup::Missing));
    assert!(matches!(
        store.lookup_digest(&key),
        crate::index::DigestLookup::Missing
    ));
    assert!(store.entries().unwrap().is_empty());
    assert!(store.ref_ids().unwrap().is_empty());
    assert_eq!(store.get_ref("r"), None);
    assert_eq!(store.read_job_file("status", "a.json").unwrap(), None);
    assert!(store.run_records("x").unwrap().is_empty());
    // Writes fail rather than create the cache behind the reader's back.
    assert!(store.write(&key, &inputs(), &[], meta()).is_err());
    assert!(store.set_ref("r", &key).is_err());
    store.flush_index();
    drop(store);
    assert!(!root.exists(), "a reader created {}", root.display());
    // An existing cache opens as `open` opens it, entries and all.
    let written = write_two(&Store::open(&root).unwrap());
    let store = Store::open_for_reading(&root).unwrap();
    assert!(!store.is_absent());
    assert!(matches!(store.lookup(&written), Lookup::Hit(_)));
}

#[cfg(unix)]
#[test]
fn opening_for_reading_still_refuses_a_symlinked_layout_dir() {
    let dir = tempfile::tempdir().unwrap();
    let decoy = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(decoy.path(), dir.path().join("v1")).unwrap();
    assert!(matches!(
        Store::open_for_reading(dir.path()),
        Err(CacheError::Unsafe { .. })
    ));
}
