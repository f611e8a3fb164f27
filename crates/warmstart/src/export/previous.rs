//! An earlier export in the export directory: what its `index.json` says it wrote
//! ([`find`]), which of those files a new export of the same experiment leaves stale and
//! what the merged index lists ([`merge`]), and removing files ([`remove_files`]).
//!
//! Removal is deliberately narrow, because the directory is the user's: only files an
//! index lists are removed, each only if it is a plain `<instance dir>/<file>` path (two
//! plain components) in a real directory under the export directory (never through a
//! symlink), never a directory tree; an instance directory is removed only once empty.
//! A directory with no export index is never touched ([`Found::Foreign`]).

use std::collections::{HashMap, HashSet};
use std::path::Path;

use warmstart_engine::FILES_TABLE;
use warmstart_plan::Plan;

use super::{
    ExportError, ExportOptions, ExportedInstance, INDEX_FILE, index_entry, unsafe_component,
    write_error,
};
use crate::events::{Coords, coords};

/// An `index.json` larger than this is not read (no export of ours comes near it; a huge
/// file there is not an index).
const MAX_INDEX_BYTES: u64 = 256 << 20;

/// What the export directory holds.
pub(crate) enum Found {
    /// It does not exist, or holds nothing but hidden files (`.gitkeep`, `.DS_Store`).
    Nothing,
    /// It holds items but no export index: not an export.
    Foreign {
        /// How many non-hidden items.
        items: usize,
    },
    /// An export, as its index describes it.
    Export(Earlier),
}

/// An earlier export.
pub(crate) struct Earlier {
    /// The experiment it is of.
    pub experiment: String,
    /// Its instances, in index order.
    pub entries: Vec<EarlierEntry>,
}

/// One instance of an earlier export.
pub(crate) struct EarlierEntry {
    stage: String,
    /// Stage and coordinates: which instance it is.
    id: String,
    key: Option<String>,
    /// The files it lists, relative to the export directory.
    pub files: Vec<String>,
    /// The entry as the index has it (kept as is when a new export does not touch it).
    json: serde_json::Value,
}

/// Which instance `stage` at `coords` is, comparable across index files.
fn instance_id(stage: &str, coords: &Coords) -> String {
    format!("{stage}\0{}", serde_json::Value::Object(coords.clone()))
}

/// What `out_dir` holds. An `index.json` that is a symlink is refused (reading or
/// rewriting it would follow the link).
pub(crate) fn find(out_dir: &Path) -> Result<Found, ExportError> {
    let items = match std::fs::read_dir(out_dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Nothing),
        Err(e) => return Err(write_error(out_dir, e)),
        Ok(items) => items,
    };
    let mut visible = 0;
    for item in items {
        let item = item.map_err(|e| write_error(out_dir, e))?;
        if !item.file_name().to_string_lossy().starts_with('.') {
            visible += 1;
        }
    }
    let index = out_dir.join(INDEX_FILE);
    match std::fs::symlink_metadata(&index) {
        Ok(m) if m.file_type().is_symlink() => return Err(ExportError::Symlink { path: index }),
        Ok(m) if m.is_file() && m.len() <= MAX_INDEX_BYTES => {
            if let Some(earlier) = std::fs::read(&index).ok().and_then(|b| parse_index(&b)) {
                return Ok(Found::Export(earlier));
            }
        }
        _ => {}
    }
    Ok(if visible == 0 {
        Found::Nothing
    } else {
        Found::Foreign { items: visible }
    })
}

/// An export's index: an object with `experiment` (text) and `stages` (a list). Entries
/// that are not of the shape an export writes are left out (their files are never
/// removed).
fn parse_index(bytes: &[u8]) -> Option<Earlier> {
    let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let experiment = v.get("experiment")?.as_str()?.to_string();
    let entries = v
        .get("stages")?
        .as_array()?
        .iter()
        .filter_map(|e| {
            let stage = e.get("stage")?.as_str()?.to_string();
            let coords = e.get("coords")?.as_object()?;
            let files = e
                .get("files")?
                .as_array()?
                .iter()
                .map(|f| f.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()?;
            Some(EarlierEntry {
                id: instance_id(&stage, coords),
                key: e.get("key").and_then(|k| k.as_str()).map(str::to_string),
                stage,
                files,
                json: e.clone(),
            })
        })
        .collect();
    Some(Earlier {
        experiment,
        entries,
    })
}

/// The index after a re-export, and the earlier files it leaves stale.
pub(crate) struct Merged {
    /// The index's entries, in plan order (entries of instances no longer in the plan,
    /// which the export did not touch, last).
    pub entries: Vec<serde_json::Value>,
    /// Files of the earlier export that no current output has: to remove.
    pub stale: Vec<String>,
}

/// Merge the `exported` instances of a re-export (of the same experiment, limited as
/// `opts` says) with the `earlier` export. An earlier entry outside the export's stage is
/// kept as it is. One inside it is stale — every file — unless the instance was exported
/// again with the same key; then only its files of the exported table are replaced (with
/// one table asked for, its other tables' files stay, still current).
pub(crate) fn merge(
    plan: &Plan,
    earlier: &Earlier,
    exported: &[ExportedInstance],
    opts: &ExportOptions,
) -> Merged {
    let written: HashSet<&str> = exported
        .iter()
        .flat_map(|e| e.files.iter().map(String::as_str))
        .collect();
    let new_ids: HashMap<String, usize> = exported
        .iter()
        .enumerate()
        .map(|(n, e)| (instance_id(&e.stage, &e.coords), n))
        .collect();
    let in_stage = |stage: &str| opts.stage.as_deref().is_none_or(|s| s == stage);
    let in_table = |file: &str| {
        let name = file.rsplit('/').next().unwrap_or(file);
        match opts.table.as_deref() {
            None => true,
            Some(t) => {
                name == format!("{t}.parquet") || (t == FILES_TABLE && !name.ends_with(".parquet"))
            }
        }
    };
    let mut stale = Vec::new();
    let mut kept: Vec<(String, serde_json::Value)> = Vec::new();
    let mut still: Vec<Vec<String>> = vec![Vec::new(); exported.len()];
    for e in &earlier.entries {
        if !in_stage(&e.stage) {
            kept.push((e.id.clone(), e.json.clone()));
            continue;
        }
        let same = new_ids
            .get(&e.id)
            .filter(|&&n| e.key.as_deref() == Some(exported[n].key.to_string().as_str()));
        for f in &e.files {
            match same {
                Some(&n) if !in_table(f) => still[n].push(f.clone()),
                _ if written.contains(f.as_str()) => {}
                _ => stale.push(f.clone()),
            }
        }
    }
    for (e, mut files) in exported.iter().zip(still) {
        files.retain(|f| !e.files.contains(f));
        files.extend(e.files.iter().cloned());
        let mut entry = index_entry(e);
        entry["files"] = serde_json::json!(files);
        kept.push((instance_id(&e.stage, &e.coords), entry));
    }
    let order: HashMap<String, usize> = plan
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (instance_id(&n.stage, &coords(&n.coords)), i))
        .collect();
    kept.sort_by_key(|(id, _)| order.get(id).copied().unwrap_or(usize::MAX));
    Merged {
        entries: kept.into_iter().map(|(_, e)| e).collect(),
        stale,
    }
}

/// Remove the `files` (paths relative to `out_dir`, as an index lists them) that are
/// plain `<dir>/<file>` paths in real directories under `out_dir`, then each such
/// directory left empty; the files removed. Anything else is left alone.
pub(crate) fn remove_files(out_dir: &Path, files: &[String]) -> Result<Vec<String>, ExportError> {
    let canonical = match out_dir.canonicalize() {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(write_error(out_dir, e)),
    };
    let mut removed = Vec::new();
    let mut dirs = Vec::new();
    for rel in files {
        let mut parts = rel.split('/');
        let (Some(d), Some(f), None) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if unsafe_component(d).is_some() || unsafe_component(f).is_some() {
            continue;
        }
        let dir = out_dir.join(d);
        // `symlink_metadata` does not follow: a symlinked directory is not a directory.
        let real_dir = std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir())
            && dir
                .canonicalize()
                .is_ok_and(|r| r.starts_with(&canonical) && r != canonical);
        if !real_dir {
            continue;
        }
        let path = dir.join(f);
        if !std::fs::symlink_metadata(&path).is_ok_and(|m| !m.is_dir()) {
            continue;
        }
        match std::fs::remove_file(&path) {
            Ok(()) => removed.push(rel.clone()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(write_error(&path, e)),
        }
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    for d in dirs {
        // Fails, as it should, while the directory still holds anything.
        let _ = std::fs::remove_dir(&d);
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_is_recognised_by_its_shape() {
        let e = parse_index(
            br#"{"experiment": "e", "stages": [
                {"stage": "a", "coords": {}, "key": "k", "files": ["a/out.parquet"]},
                {"stage": "b", "coords": {"x": 1}, "files": ["b__x=1/out.parquet", 3]},
                {"nonsense": true}
            ]}"#,
        )
        .unwrap();
        assert_eq!(e.experiment, "e");
        // Entries not of an export's shape are left out, never acted on.
        assert_eq!(e.entries.len(), 1);
        assert_eq!(e.entries[0].files, ["a/out.parquet"]);
        assert!(parse_index(br#"{"stages": []}"#).is_none());
        assert!(parse_index(b"not json").is_none());
        assert!(parse_index(br#"[1, 2]"#).is_none());
    }

    #[test]
    fn only_listed_plain_files_in_real_subdirectories_are_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        std::fs::create_dir_all(out.join("a")).unwrap();
        std::fs::create_dir_all(out.join("b")).unwrap();
        std::fs::write(out.join("a/out.parquet"), b"x").unwrap();
        std::fs::write(out.join("b/out.parquet"), b"x").unwrap();
        std::fs::write(out.join("b/notes.txt"), b"mine").unwrap();
        std::fs::write(out.join("top.txt"), b"mine").unwrap();
        std::fs::write(tmp.path().join("outside.txt"), b"mine").unwrap();
        let listed: Vec<String> = [
            "a/out.parquet",
            "b/out.parquet",
            "top.txt",
            "../outside.txt",
            "a/../../outside.txt",
            "/etc/passwd",
            "b",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let removed = remove_files(&out, &listed).unwrap();
        assert_eq!(removed, ["a/out.parquet", "b/out.parquet"]);
        assert!(!out.join("a").exists(), "an emptied directory goes");
        assert!(out.join("b/notes.txt").exists(), "a file not listed stays");
        assert!(out.join("top.txt").exists(), "only <dir>/<file> paths");
        assert!(tmp.path().join("outside.txt").exists());
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_instance_directory_is_never_entered() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let elsewhere = tmp.path().join("elsewhere");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::fs::write(elsewhere.join("out.parquet"), b"precious").unwrap();
        std::os::unix::fs::symlink(&elsewhere, out.join("a")).unwrap();
        let removed = remove_files(&out, &["a/out.parquet".to_string()]).unwrap();
        assert!(removed.is_empty());
        assert!(elsewhere.join("out.parquet").exists());
    }

    #[test]
    fn hidden_files_do_not_make_a_directory_foreign() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(matches!(
            find(&tmp.path().join("new")).unwrap(),
            Found::Nothing
        ));
        std::fs::write(tmp.path().join(".gitkeep"), b"").unwrap();
        assert!(matches!(find(tmp.path()).unwrap(), Found::Nothing));
        std::fs::write(tmp.path().join("paper.tex"), b"").unwrap();
        assert!(matches!(
            find(tmp.path()).unwrap(),
            Found::Foreign { items: 1 }
        ));
        std::fs::write(tmp.path().join(INDEX_FILE), b"{}").unwrap();
        assert!(
            matches!(find(tmp.path()).unwrap(), Found::Foreign { items: 2 }),
            "an index.json that is not an export's does not make it one"
        );
    }
}
