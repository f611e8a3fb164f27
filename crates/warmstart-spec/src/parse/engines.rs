//! `[engines.NAME]` plugin declarations (in an experiment or the project file) and the
//! project file, `warmstart.toml`, itself.

use super::toml::{Kind, Node};
use super::{Ctx, read_toml, table};
use crate::model::*;
use crate::names::is_ident;
use crate::{SpecErrors, did_you_mean};

/// Parse a project-level `warmstart.toml` (see [`crate::project`]): `root = true|false`
/// and `[engines]`.
pub fn parse_project(source: SourceFile) -> Result<Project, SpecErrors> {
    let (mut cx, entries) = read_toml(source)?;
    let src = cx.src.clone();
    let mut engines = Vec::new();
    let mut root = false;
    let mut executor = None;
    for (key, node) in &entries {
        if key.value == "engines" {
            engines = parse_engines(&mut cx, key, node);
        } else if key.value == "executor" {
            executor = super::executor::parse_executor(&mut cx, key, node);
        } else if key.value == "root" {
            match node.kind {
                Kind::Bool(b) => root = b,
                _ => cx.type_err(
                    "`root` in warmstart.toml",
                    node,
                    "a boolean",
                    "write `root = true` to mark the project's top directory".into(),
                ),
            }
        } else {
            let help = match did_you_mean(&key.value, ["engines", "executor", "root"]) {
                Some(d) => format!("{d} (warmstart.toml has only `root`, an [engines] and an [executor] table)"),
                None => "warmstart.toml has only `root = true|false`, an [executor] table and an [engines] table: \
                         `[engines.NAME]` with `path = \"…\"` declares a plugin for every \
                         experiment of the project"
                    .to_string(),
            };
            cx.err(
                key.span.clone(),
                "spec::unknown-table",
                format!("unknown top-level key `{}` in warmstart.toml", key.value),
                "not a known table",
                Some(help),
            );
        }
    }
    if cx.errors.is_empty() {
        Ok(Project {
            source: src,
            root,
            engines,
            executor,
        })
    } else {
        Err(SpecErrors(cx.errors))
    }
}

/// `[engines.NAME]` tables: engines loaded from files (plugins), `path = "…"` relative to
/// the file that declares them.
pub(super) fn parse_engines(cx: &mut Ctx, key: &Spanned<String>, node: &Node) -> Vec<EngineDecl> {
    let help = "declare a plugin as `[engines.NAME]` with `path = \"relative/to/this/file.so\"`";
    let Some(t) = table(cx, key, node, "[engines]", help) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, decl) in t {
        if !is_ident(&name.value.replace('-', "_")) {
            cx.err(
                name.span.clone(),
                "spec::invalid-name",
                format!("invalid engine name `{}`", name.value),
                "not an identifier",
                Some("use letters, digits, `_` and `-`".to_string()),
            );
            continue;
        }
        let Some(fields) = table(cx, name, decl, "an engine declaration", help) else {
            continue;
        };
        let mut path = None;
        let mut path_seen = false;
        for (k, v) in fields {
            if k.value == "path" {
                path_seen = true;
            }
            match (k.value.as_str(), &v.kind) {
                ("path", Kind::Str(p)) => path = Some(Spanned::new(p.clone(), v.span.clone())),
                ("path", _) => cx.type_err(
                    &format!("[engines.{}] path", name.value),
                    v,
                    "a string",
                    help.to_string(),
                ),
                _ => cx.unknown_key(k, &format!("[engines.{}]", name.value), &["path"]),
            }
        }
        match path {
            Some(path) => out.push(EngineDecl {
                name: name.clone(),
                path,
            }),
            // A `path` of the wrong type was reported above.
            None if path_seen => {}
            None => cx.err(
                name.span.clone(),
                "spec::missing-path",
                format!("engine `{}` has no `path`", name.value),
                "needs `path = \"…\"`",
                Some(help.to_string()),
            ),
        }
    }
    out
}
