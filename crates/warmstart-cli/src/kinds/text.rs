//! The plain-text kind reference: the list (`warmstart kinds`) and one kind in full
//! (`warmstart kinds KIND`). Lines, no colour, no terminal width: it is read in a terminal
//! and piped to `less` or `grep` alike.

use warmstart::kinds::{ColumnSpec, KindEntry, TableSpec};

use super::words;

/// One line per kind: name, engine, description.
pub fn list(kinds: &[KindEntry]) -> Vec<String> {
    let kw = width(kinds.iter().map(|k| k.spec.name.as_str()), "KIND");
    let ew = width(kinds.iter().map(|k| k.engine.as_str()), "ENGINE");
    let mut out = vec![format!("{:<kw$}  {:<ew$}  DESCRIPTION", "KIND", "ENGINE")];
    for k in kinds {
        out.push(
            format!(
                "{:<kw$}  {:<ew$}  {}",
                k.spec.name,
                k.engine,
                first_line(&k.spec.doc)
            )
            .trim_end()
            .to_string(),
        );
    }
    out
}

/// Everything one engine's kind declares.
pub fn kind(k: &KindEntry) -> Vec<String> {
    let mut out = Vec::new();
    let mut head = if k.engine == k.engine_id {
        format!(
            "{} — engine `{}`, version {}",
            k.spec.name, k.engine, k.engine_version
        )
    } else {
        format!(
            "{} — engine `{}` (id {}, version {})",
            k.spec.name, k.engine, k.engine_id, k.engine_version
        )
    };
    if !k.default {
        head.push_str(&format!(
            "; stages select it with `engine = \"{}\"`",
            k.engine
        ));
    }
    out.push(head);
    for l in k.spec.doc.lines() {
        out.push(format!("  {l}").trim_end().to_string());
    }
    out.push(String::new());
    out.push(format!(
        "  determinism  {}",
        words::determinism(k.spec.determinism)
    ));
    out.push(format!("  inputs       {}", words::inputs(k)));
    out.push(String::new());
    params(k, &mut out);
    out.push(String::new());
    reads(k, &mut out);
    out.push(String::new());
    writes(k, &mut out);
    out
}

fn params(k: &KindEntry, out: &mut Vec<String>) {
    out.push("params".into());
    if k.spec.params.is_empty() {
        out.push("  none".into());
        return;
    }
    let w = width(k.spec.params.iter().map(|p| p.name.as_str()), "");
    for p in &k.spec.params {
        let mut facts = vec![format!(
            "{}, {}",
            words::param_type(p),
            words::param_default(p)
        )];
        facts.extend(words::param_accepts(p));
        if !p.in_key {
            facts.push("not in the cache key".into());
        }
        out.push(format!("  {:<w$}  {}", p.name, facts.join("; ")));
        doc(&p.doc, w + 4, out);
    }
}

fn reads(k: &KindEntry, out: &mut Vec<String>) {
    out.push("reads".into());
    if k.spec.reads.is_empty() {
        out.push(format!("  {}", words::no_reads(k)));
        return;
    }
    for r in &k.spec.reads {
        out.push(format!("  {}", words::read_source(r)));
        doc(&r.doc, 4, out);
        columns(&r.columns, out);
    }
}

fn writes(k: &KindEntry, out: &mut Vec<String>) {
    out.push("writes".into());
    if k.spec.writes.is_empty() {
        out.push(format!("  {}", words::NOT_DECLARED));
        return;
    }
    for t in &k.spec.writes {
        table(t, out);
    }
}

fn table(t: &TableSpec, out: &mut Vec<String>) {
    out.push(format!("  `{}`", t.name));
    doc(&t.doc, 4, out);
    if let Some(when) = &t.when {
        out.push(format!("    written only when {when}"));
    }
    columns(&t.columns, out);
    for e in &t.extra {
        out.push(format!("    + {}", words::extra(e)));
    }
}

fn columns(cols: &[ColumnSpec], out: &mut Vec<String>) {
    let nw = width(cols.iter().map(|c| c.name.as_str()), "");
    let tw = width(cols.iter().map(|c| c.ty.as_str()), "");
    for c in cols {
        out.push(
            format!("    {:<nw$}  {:<tw$}  {}", c.name, c.ty, first_line(&c.doc))
                .trim_end()
                .to_string(),
        );
    }
}

/// A description under the item it describes, indented by `indent`.
fn doc(text: &str, indent: usize, out: &mut Vec<String>) {
    for l in text.lines().filter(|l| !l.trim().is_empty()) {
        out.push(format!("{:indent$}{}", "", l.trim_end()));
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("").trim()
}

/// The width of a column: its longest entry (or header).
fn width<'a>(items: impl Iterator<Item = &'a str>, header: &str) -> usize {
    items
        .map(|s| s.chars().count())
        .chain([header.chars().count()])
        .max()
        .unwrap_or(0)
}
