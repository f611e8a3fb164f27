//! Helpers for integration tests that run the real `warmstart` binary on real TOML.

#![allow(dead_code)]

pub mod shipped;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Default for Project {
    fn default() -> Self {
        Self::new()
    }
}

impl Project {
    pub fn new() -> Self {
        Project {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }
    /// A project under the build's target directory rather than /tmp: a cluster executor
    /// refuses a cache on a node-local path.
    pub fn on_shared_disk() -> Self {
        Project {
            dir: tempfile::Builder::new()
                .prefix("ws-")
                .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
                .expect("temp dir under target/"),
        }
    }
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path(rel);
        std::fs::write(&p, text).expect("write experiment");
        p
    }
    pub fn cache(&self) -> PathBuf {
        self.path("cache")
    }
    /// `warmstart ARGS --cache <tmp>/cache`, in the project directory.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_warmstart"));
        c.args(args)
            .arg("--cache")
            .arg(self.cache())
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1");
        c
    }
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run warmstart")
    }
    /// `run FILE --json`: (stage label → status) for each stage event.
    pub fn run_json(&self, file: &str) -> (Vec<(String, String)>, Output) {
        let out = self.run(&["run", file, "--json"]);
        (events(&out), out)
    }
}

/// Parse `--json` stage events into (label, status) pairs, in order.
pub fn events(out: &Output) -> Vec<(String, String)> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.get("stage").is_some())
        .map(|v| {
            let coords = v["coords"].as_object().cloned().unwrap_or_default();
            let mut label = v["stage"].as_str().unwrap_or("").to_string();
            if !coords.is_empty() {
                let c: Vec<String> = coords.iter().map(|(k, v)| format!("{k}={v}")).collect();
                label = format!("{label}[{}]", c.join(","));
            }
            (label, v["status"].as_str().unwrap_or("").to_string())
        })
        .collect()
}

pub fn with_status<'a>(ev: &'a [(String, String)], status: &str) -> Vec<&'a str> {
    let mut v: Vec<&str> = ev
        .iter()
        .filter(|(_, s)| s == status)
        .map(|(l, _)| l.as_str())
        .collect();
    v.sort();
    v
}

/// The workspace root (where `experiments/`, `fixtures/` and `tests/` are).
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .expect("workspace root")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every entry directory under a cache root.
pub fn entry_dirs(cache: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let entries = cache.join("v1").join("entries");
    if let Ok(shards) = std::fs::read_dir(entries) {
        for s in shards.flatten() {
            if let Ok(es) = std::fs::read_dir(s.path()) {
                out.extend(es.flatten().map(|e| e.path()));
            }
        }
    }
    out
}

/// The stage an entry directory belongs to, from its manifest.
pub fn manifest_stage(dir: &Path) -> String {
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    m["stage"].as_str().unwrap_or("").to_string()
}

/// Flip the middle byte of every Parquet file of an entry (same size, wrong digest);
/// returns how many files were flipped.
pub fn flip_parquet_bytes(dir: &Path) -> usize {
    let mut flipped = 0;
    for f in std::fs::read_dir(dir).unwrap().flatten() {
        if f.path().extension().is_some_and(|e| e == "parquet") {
            let mut bytes = std::fs::read(f.path()).unwrap();
            let mid = bytes.len() / 2;
            bytes[mid] ^= 0xff;
            std::fs::write(f.path(), bytes).unwrap();
            flipped += 1;
        }
    }
    flipped
}

/// Open `page` (relative to the project) in headless Chromium through
/// `tests/browser/check_report.py`; assert no console error, no request leaving the page
/// and a screenshot that is not blank; the check's JSON.
pub fn check_in_browser(p: &Project, page: &str) -> serde_json::Value {
    let shot = p.path("screenshot.png");
    let out = std::process::Command::new("python3")
        .arg(root().join("tests/browser/check_report.py"))
        .arg(p.path(page))
        .arg("--screenshot")
        .arg(&shot)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "the browser check failed (is chromium installed? `apt-get install chromium`):\n{}",
        stderr(&out)
    );
    let check: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("JSON from the check");
    assert_eq!(check["console"], serde_json::json!([]), "console errors");
    assert_eq!(
        check["requests"],
        serde_json::json!([]),
        "requests left the page"
    );
    let s = &check["screenshot"];
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000);
    assert!(s["colours"].as_u64().unwrap() > 20, "blank screenshot? {s}");
    check
}

/// Build the example plugins `ridge`, `loss` and `scale` (debug) once per test binary; crate name
/// (`warmstart-plugin-ridge`) → shared library path.
pub fn example_plugins() -> &'static HashMap<String, PathBuf> {
    static BUILT: OnceLock<HashMap<String, PathBuf>> = OnceLock::new();
    BUILT.get_or_init(|| {
        let out = Command::new(env!("CARGO"))
            .args([
                "build",
                "--message-format=json",
                "-p",
                "warmstart-plugin-ridge",
                "-p",
                "warmstart-plugin-loss",
                "-p",
                "warmstart-plugin-scale",
            ])
            .current_dir(root())
            .output()
            .expect("cargo build");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut map = HashMap::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let name = v["target"]["name"]
                .as_str()
                .unwrap_or_default()
                .replace('_', "-");
            for f in v["filenames"].as_array().into_iter().flatten() {
                let f = PathBuf::from(f.as_str().unwrap_or_default());
                if f.extension()
                    .is_some_and(|e| e == "so" || e == "dylib" || e == "dll")
                {
                    map.insert(name.clone(), f);
                }
            }
        }
        map
    })
}
