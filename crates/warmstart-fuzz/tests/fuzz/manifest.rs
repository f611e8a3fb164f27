//! Cache manifests through the store's readers.
//!
//! A real entry is written once (an `echo` and a `plot` stage run through the scheduler,
//! so the entry has a Parquet table and a `files` table). Each case then replaces its
//! `manifest.json` with a mutation of the real one — fields deleted or replaced by other
//! JSON types, extreme numbers, path-like file names (`../../decoy/secret`, absolute
//! paths), wrong digests and keys — or with byte-level damage, and calls `lookup`,
//! `verify`, `read` and `entries`. None may panic or take longer than the limit, and a
//! decoy directory next to the cache must be untouched (never read as an entry file,
//! never written).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::Value as Json;
use warmstart_cache::{CacheKey, Store};

use super::harness::{budget, run_for, save_failure, within_limit};

const EXPERIMENT: &str = r#"
[experiment]
name = "fuzz-manifest"
[stages.a]
kind = "echo"
value = "A"
"#;

/// A cache with one entry, a decoy directory beside it, and the entry's manifest.
struct Fixture {
    _dir: tempfile::TempDir,
    cache: PathBuf,
    decoy: PathBuf,
    key: CacheKey,
    manifest_path: PathBuf,
    manifest: Vec<u8>,
}

const DECOY_SECRET: &[u8] = b"decoy: must never be read as an entry file or changed";

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache = dir.path().join("cache");
        let decoy = dir.path().join("decoy");
        std::fs::create_dir(&decoy).expect("decoy");
        std::fs::write(decoy.join("secret"), DECOY_SECRET).expect("decoy file");
        let experiment = warmstart_spec::parse(warmstart_spec::SourceFile {
            path: dir.path().join("e.toml"),
            text: EXPERIMENT.into(),
        })
        .expect("fixture experiment");
        let mut registry = warmstart_plan::Registry::new();
        registry.add(Arc::new(warmstart_native::NativeEngine::new()));
        let plan = warmstart_plan::build(experiment, &registry).expect("fixture plan");
        let store = Store::open(&cache).expect("store");
        let summary = warmstart_plan::execute(
            &plan,
            &store,
            &warmstart_plan::RunOptions::default(),
            &mut |_| {},
        );
        assert_eq!(summary.ran, 1, "the fixture entry was not written");
        let (key, _) = store
            .entries()
            .expect("entries")
            .into_iter()
            .next()
            .expect("one entry");
        let hex = key.to_string();
        let manifest_path = cache
            .join("v1/entries")
            .join(&hex[..2])
            .join(&hex)
            .join("manifest.json");
        let manifest = std::fs::read(&manifest_path).expect("manifest");
        Fixture {
            _dir: dir,
            cache,
            decoy,
            key,
            manifest_path,
            manifest,
        }
    })
}

#[derive(Debug, Clone)]
enum JsonGen {
    Null,
    Bool(bool),
    Num(f64),
    Int(i64),
    Str(String),
    Array(Vec<JsonGen>),
    Object(Vec<(String, JsonGen)>),
}

const PATHS: &[&str] = &[
    "../../decoy/secret",
    "../../../decoy/secret",
    "/etc/passwd",
    "..",
    ".",
    "",
    "a/../../b",
    "out.parquet\u{0}",
    "manifest.json",
    "out.parquet",
    "files.parquet",
    "00",
    "zz",
];

fn json() -> impl Strategy<Value = JsonGen> {
    let leaf = prop_oneof![
        Just(JsonGen::Null),
        any::<bool>().prop_map(JsonGen::Bool),
        prop_oneof![Just(1e308), Just(-0.0), any::<f64>()].prop_map(JsonGen::Num),
        prop_oneof![
            Just(i64::MAX),
            Just(i64::MIN),
            Just(-1),
            Just(0),
            any::<i64>()
        ]
        .prop_map(JsonGen::Int),
        proptest::sample::select(PATHS).prop_map(|s| JsonGen::Str(s.to_string())),
        "[0-9a-f]{0,70}".prop_map(JsonGen::Str),
        any::<String>().prop_map(JsonGen::Str),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(JsonGen::Array),
            proptest::collection::vec(("[a-z_]{1,8}", inner), 0..4).prop_map(JsonGen::Object),
        ]
    })
}

fn to_json(g: &JsonGen) -> Json {
    match g {
        JsonGen::Null => Json::Null,
        JsonGen::Bool(b) => Json::Bool(*b),
        JsonGen::Num(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        JsonGen::Int(i) => Json::from(*i),
        JsonGen::Str(s) => Json::String(s.clone()),
        JsonGen::Array(a) => Json::Array(a.iter().map(to_json).collect()),
        JsonGen::Object(kv) => {
            Json::Object(kv.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        }
    }
}

#[derive(Debug, Clone)]
enum Edit {
    Set(Index, JsonGen),
    Delete(Index),
    /// Set an output's `file` (the name joined to the entry directory) to a path.
    File(Index, &'static str),
    Bytes(Index, u8),
    Truncate(Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<Index>(), json()).prop_map(|(i, v)| Edit::Set(i, v)),
        2 => any::<Index>().prop_map(Edit::Delete),
        3 => (any::<Index>(), proptest::sample::select(PATHS)).prop_map(|(i, p)| Edit::File(i, p)),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Edit::Bytes(i, b)),
        1 => any::<Index>().prop_map(Edit::Truncate),
    ]
}

/// Every JSON pointer in a document.
fn pointers(v: &Json, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Json::Object(m) => {
            for (k, v) in m {
                pointers(
                    v,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Json::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                pointers(v, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn materialize(edits: &[Edit]) -> Vec<u8> {
    let original = &fixture().manifest;
    let mut doc: Json = serde_json::from_slice(original).expect("the real manifest is JSON");
    let mut bytes_edits = Vec::new();
    for e in edits {
        let mut ptrs = Vec::new();
        pointers(&doc, String::new(), &mut ptrs);
        match e {
            Edit::Set(i, g) => {
                let p = &ptrs[i.index(ptrs.len())];
                if let Some(v) = doc.pointer_mut(p) {
                    *v = to_json(g);
                }
            }
            Edit::Delete(i) => {
                let p = ptrs[i.index(ptrs.len())].clone();
                if let Some((parent, last)) = p.rsplit_once('/')
                    && let Some(v) = doc.pointer_mut(parent)
                {
                    match v {
                        Json::Object(m) => {
                            m.remove(&last.replace("~1", "/").replace("~0", "~"));
                        }
                        Json::Array(a) => {
                            if let Ok(n) = last.parse::<usize>()
                                && n < a.len()
                            {
                                a.remove(n);
                            }
                        }
                        _ => {}
                    }
                }
            }
            Edit::File(i, path) => {
                if let Some(Json::Array(outputs)) = doc.pointer_mut("/outputs")
                    && !outputs.is_empty()
                {
                    let n = i.index(outputs.len());
                    if let Some(o) = outputs[n].as_object_mut() {
                        o.insert("file".into(), Json::String(path.to_string()));
                        o.insert("bytes".into(), Json::from(DECOY_SECRET.len()));
                    }
                }
            }
            other => bytes_edits.push(other.clone()),
        }
    }
    let mut bytes = serde_json::to_vec_pretty(&doc).unwrap_or_else(|_| original.clone());
    for e in bytes_edits {
        match e {
            Edit::Bytes(i, b) if !bytes.is_empty() => {
                let at = i.index(bytes.len());
                bytes[at] = b;
            }
            Edit::Truncate(i) => bytes.truncate(i.index(bytes.len() + 1)),
            _ => {}
        }
    }
    bytes
}

fn decoy_untouched(decoy: &Path) -> Result<(), String> {
    let names: Vec<_> = std::fs::read_dir(decoy)
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.file_name())
        .collect();
    let content = std::fs::read(decoy.join("secret")).map_err(|e| e.to_string())?;
    if names.len() != 1 || content != DECOY_SECRET {
        return Err(format!("the decoy directory changed: {names:?}"));
    }
    Ok(())
}

#[test]
fn manifests_never_panic_the_store_or_reach_outside_the_cache() {
    let f = fixture();
    // Cases share the one entry: run them one at a time.
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    run_for(
        "manifest",
        budget(Duration::from_secs(8)),
        proptest::collection::vec(edit(), 1..5),
        |edits| {
            let _guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
            let bytes = materialize(&edits);
            std::fs::write(&f.manifest_path, &bytes).map_err(|e| e.to_string())?;
            let (cache, key) = (f.cache.clone(), f.key);
            let result = within_limit(move || {
                let store = Store::open(&cache).map_err(|e| e.to_string())?;
                let _ = store.lookup(&key);
                let verified = store.verify(&key);
                let read = store.read(&key);
                let _ = store.entries();
                // A manifest that names a file outside the entry must never verify.
                Ok::<bool, String>(verified.is_ok() || read.is_ok())
            });
            let fail = |e: String| {
                let saved = save_failure("manifest", "json", &bytes);
                format!("{e}\nmanifest saved to {}", saved.display())
            };
            let accepted = result.map_err(fail)?.map_err(fail)?;
            decoy_untouched(&f.decoy).map_err(fail)?;
            if accepted {
                let doc: Json = serde_json::from_slice(&bytes).unwrap_or(Json::Null);
                let escapes = doc["outputs"].as_array().is_some_and(|o| {
                    o.iter().any(|o| {
                        o["file"]
                            .as_str()
                            .is_some_and(|p| p.contains("..") || p.starts_with('/'))
                    })
                });
                if escapes {
                    return Err(fail(
                        "a manifest naming a file outside its entry verified".into(),
                    ));
                }
            }
            Ok(())
        },
    );
    // Put the real manifest back (other harnesses do not use it, but be tidy).
    let _ = std::fs::write(&f.manifest_path, &f.manifest);
}
