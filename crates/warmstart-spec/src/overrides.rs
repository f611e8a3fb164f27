//! Command-line overrides: `warmstart run FILE tau=25 stages.finetune.delta=1e-3`.
//!
//! An override names one value already in the file — `NAME` is `[params] NAME`, a dotted
//! path (`stages.S.KEY`, `experiment.seed`, `sweep.AXIS`) names any other — and gives it a
//! new value, typed as the file's value is: an integer stays an integer (`25`, not
//! `25.0`), a float accepts `1e-3` or `2`, a string takes the text as is (or a quoted TOML
//! string), a boolean `true`/`false`, an array a TOML array (`[1, 2, 3]`). A table cannot
//! be overridden as a whole: override its keys.
//!
//! The file's text is patched at the value's span and then parsed as usual, so everything
//! downstream (expansion, keys, `why`) sees one ordinary experiment, and an error in the
//! patched value points at the line it replaced. Errors in the overrides themselves (an
//! unknown name, a wrong type, bad syntax) point at the override, in a pseudo-file named
//! `<command line>` that holds the overrides as given.

use std::sync::Arc;

use crate::model::*;
use crate::parse::{Kind, Node, read_toml};
use crate::{SpecError, SpecErrors, did_you_mean};

/// The pseudo-file errors in overrides point into.
pub const COMMAND_LINE: &str = "<command line>";

/// `source` with `overrides` (`NAME=VALUE` each) applied to its text, or every error in
/// them.
pub fn apply(source: SourceFile, overrides: &[String]) -> Result<SourceFile, SpecErrors> {
    if overrides.is_empty() {
        return Ok(source);
    }
    let cmdline = Arc::new(SourceFile {
        path: COMMAND_LINE.into(),
        text: overrides.join(" "),
    });
    let (_, root) = read_toml(source.clone())?;
    let mut errors = Vec::new();
    let mut patches: Vec<(Span, String)> = Vec::new();
    let mut offset = 0;
    for o in overrides {
        let at = offset..offset + o.len();
        offset += o.len() + 1;
        match patch(&root, o) {
            Ok(p) => {
                if patches.iter().any(|(s, _)| *s == p.0) {
                    errors.push(err(
                        &cmdline,
                        at,
                        "this value is overridden twice",
                        "again",
                        "give each name once",
                    ));
                } else {
                    patches.push(p);
                }
            }
            Err((problem, help)) => errors.push(err(&cmdline, at, &problem, "here", &help)),
        }
    }
    if !errors.is_empty() {
        return Err(SpecErrors(errors));
    }
    patches.sort_by_key(|(s, _)| std::cmp::Reverse(s.start));
    let mut text = source.text;
    for (span, literal) in patches {
        text.replace_range(span, &literal);
    }
    Ok(SourceFile {
        path: source.path,
        text,
    })
}

fn err(src: &Arc<SourceFile>, at: Span, message: &str, label: &str, help: &str) -> SpecError {
    SpecError::new(
        src,
        at,
        "spec::override",
        message.to_string(),
        label.to_string(),
        Some(help.to_string()),
    )
}

type Problem = (String, String);

/// The span of the value `o` names and the TOML literal to put there.
fn patch(root: &[(Spanned<String>, Node)], o: &str) -> Result<(Span, String), Problem> {
    let Some((name, value)) = o.split_once('=') else {
        return Err((
            format!("`{o}` is not an override"),
            "write NAME=VALUE, e.g. `tau=25` or `stages.finetune.delta=1e-3`".into(),
        ));
    };
    let name = name.trim();
    let path: Vec<&str> = if name.contains('.') {
        name.split('.').collect()
    } else {
        vec!["params", name]
    };
    let node = find(root, &path, name)?;
    let literal = literal(node, value.trim(), name)?;
    Ok((node.span.clone(), literal))
}

fn find<'a>(
    root: &'a [(Spanned<String>, Node)],
    path: &[&str],
    name: &str,
) -> Result<&'a Node, Problem> {
    let mut entries = root;
    let mut node = None;
    for (i, seg) in path.iter().enumerate() {
        let Some((_, n)) = entries.iter().find(|(k, _)| k.value == *seg) else {
            let here = if i == 0 {
                "the file".to_string()
            } else {
                format!("[{}]", path[..i].join("."))
            };
            let keys = entries.iter().map(|(k, _)| k.value.as_str());
            let hint = match did_you_mean(seg, keys.clone()) {
                Some(d) => d,
                None => format!("{here} has: {}", keys.collect::<Vec<_>>().join(", ")),
            };
            let help = if path.len() == 2 && path[0] == "params" && !name.contains('.') {
                format!(
                    "{hint} (a name without dots is a [params] entry; name other values by path, e.g. `stages.NAME.KEY=VALUE`)"
                )
            } else {
                hint
            };
            return Err((format!("`{name}`: {here} has no `{seg}`"), help));
        };
        node = Some(n);
        if i + 1 < path.len() {
            match &n.kind {
                Kind::Table(t) => entries = t,
                _ => {
                    return Err((
                        format!(
                            "`{}` is a {}, not a table",
                            path[..=i].join("."),
                            n.kind.type_name()
                        ),
                        format!("override `{}` itself", path[..=i].join(".")),
                    ));
                }
            }
        }
    }
    node.ok_or_else(|| (format!("`{name}` names nothing"), "write NAME=VALUE".into()))
}

/// `value` as a TOML literal of the type of `node`, the file's value.
fn literal(node: &Node, value: &str, name: &str) -> Result<String, Problem> {
    let parsed = ::toml::from_str::<::toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut t| t.remove("v"));
    let bad = |expected: &str, example: &str| {
        (
            format!("`{name}` is {expected} in the file; `{value}` is not"),
            format!("give {expected}, e.g. `{name}={example}`"),
        )
    };
    use ::toml::Value as T;
    match (&node.kind, parsed) {
        (Kind::Int(_), Some(T::Integer(i))) => Ok(i.to_string()),
        (Kind::Int(_), _) => Err(bad("an integer", "25")),
        (Kind::Float(_), Some(T::Float(f))) => Ok(T::Float(f).to_string()),
        (Kind::Float(_), Some(T::Integer(i))) => Ok(T::Float(i as f64).to_string()),
        (Kind::Float(_), _) => Err(bad("a number", "1e-3")),
        (Kind::Bool(_), Some(T::Boolean(b))) => Ok(b.to_string()),
        (Kind::Bool(_), _) => Err(bad("a boolean", "true")),
        // A string takes the text as given, unless it is a quoted TOML string.
        (Kind::Str(_), Some(T::String(s))) => Ok(T::String(s).to_string()),
        (Kind::Str(_), _) => Ok(T::String(value.to_string()).to_string()),
        (Kind::Array(_), Some(a @ T::Array(_))) => Ok(a.to_string()),
        (Kind::Array(_), _) => Err(bad("an array", "[1, 2, 3]")),
        (Kind::Table(_), _) => Err((
            format!("`{name}` is a table; an override sets one value"),
            format!("override its keys, e.g. `{name}.KEY=VALUE`"),
        )),
        (k, _) => Err((
            format!("`{name}` is a {} and cannot be overridden", k.type_name()),
            "edit the file".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "[experiment]\nname = \"e\"\nseed = 1\n[params]\ntau = 20\ndelta = 1e-4\nlabel = \"x\"\n[stages.f]\nkind = \"echo\"\nvalue = \"${tau}\"\n";

    fn src() -> SourceFile {
        SourceFile {
            path: "e.toml".into(),
            text: FILE.into(),
        }
    }

    fn ov(list: &[&str]) -> Result<String, String> {
        let list: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        apply(src(), &list).map(|s| s.text).map_err(|e| {
            e.0.iter()
                .map(|e| format!("{} | {}", e.message, e.help.clone().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join("\n")
        })
    }

    #[test]
    fn values_are_patched_typed_as_in_the_file() {
        let t = ov(&[
            "tau=25",
            "delta=1e-3",
            "stages.f.value=hi there",
            "experiment.seed=7",
            "label=\"q\"",
        ])
        .unwrap();
        assert!(t.contains("tau = 25\n"), "{t}");
        assert!(t.contains("delta = 0.001\n"), "{t}");
        assert!(t.contains("value = \"hi there\"\n"), "{t}");
        assert!(t.contains("seed = 7\n"), "{t}");
        assert!(t.contains("label = \"q\"\n"), "{t}");
        // A float param takes an integer literal, as a float.
        assert!(ov(&["delta=2"]).unwrap().contains("delta = 2.0\n"));
    }

    #[test]
    fn errors_name_the_override_and_say_what_to_do() {
        let e = ov(&["tau=2.5"]).unwrap_err();
        assert!(
            e.contains("`tau` is an integer in the file; `2.5` is not"),
            "{e}"
        );
        let e = ov(&["tua=3"]).unwrap_err();
        assert!(e.contains("has no `tua`") && e.contains("tau"), "{e}");
        let e = ov(&["stages.g.value=1"]).unwrap_err();
        assert!(e.contains("[stages] has no `g`"), "{e}");
        let e = ov(&["stages.f=1"]).unwrap_err();
        assert!(e.contains("is a table"), "{e}");
        let e = ov(&["tau"]).unwrap_err();
        assert!(e.contains("NAME=VALUE"), "{e}");
        let e = ov(&["tau=1", "tau=2"]).unwrap_err();
        assert!(e.contains("overridden twice"), "{e}");
        let e = ov(&["tau.x=1"]).unwrap_err();
        assert!(
            e.contains("has no `tau`") || e.contains("not a table"),
            "{e}"
        );
    }
}
