//! `warmstart kinds [KIND] [--file FILE] [--markdown]`: the kind reference — every kind of
//! the built-in engines (and with `--file`, of the plugins an experiment or project file
//! declares), or one kind in full: params, inputs, the tables it reads and writes. The
//! facade gathers (`warmstart::kinds`); this module renders, as plain text (`text`) or
//! Markdown (`markdown`, which is how `docs/kinds.md` is made).

mod markdown;
mod text;
mod words;

use std::path::Path;

use warmstart::kinds::{KindEntry, KindError};

use crate::Failure;
use crate::output::Output;

/// What `warmstart kinds` prints.
pub struct KindsArgs<'a> {
    pub kind: Option<&'a str>,
    pub file: Option<&'a Path>,
    pub markdown: bool,
}

pub fn kinds(args: KindsArgs<'_>) -> Result<(), Failure> {
    let all = match args.file {
        Some(f) => warmstart::kinds::for_file(f)
            .map_err(|e| Failure::Invalid(crate::context::render_all(&e.0)))?,
        None => warmstart::kinds::builtin(),
    };
    let mut out = Output::stdout();
    match (args.kind, args.markdown) {
        (None, false) => {
            for l in text::list(&all) {
                out.line(format_args!("{l}"));
            }
        }
        (None, true) => out.text(format_args!(
            "{}",
            markdown::reference(&all, args.file.is_some())
        )),
        (Some(name), md) => {
            let found = warmstart::kinds::lookup(&all, name)
                .map_err(|e| unknown(&e, args.file.is_some()))?;
            for (i, k) in found.iter().enumerate() {
                if i > 0 {
                    out.line(format_args!(""));
                }
                render_one(k, md, &mut out);
            }
        }
    }
    out.finish()
}

fn render_one<W: std::io::Write>(k: &KindEntry, md: bool, out: &mut Output<W>) {
    if md {
        out.line(format_args!("{}", markdown::kind(k)));
    } else {
        for l in text::kind(k) {
            out.line(format_args!("{l}"));
        }
    }
}

/// An unknown kind: the closest name, every name, and where plugins' kinds come from.
fn unknown(e: &KindError, with_file: bool) -> Failure {
    let mut msg = format!("error: {e}");
    if let KindError::Unknown { hint, known, .. } = e {
        if let Some(h) = hint {
            msg.push_str(&format!("\n  help: {h}"));
        }
        msg.push_str(&format!("\n  note: the kinds are: {}", known.join(", ")));
    }
    if !with_file {
        msg.push_str(
            "\n  note: a plugin's kinds: `warmstart kinds KIND --file EXPERIMENT.toml` \
             (the experiment or warmstart.toml that declares it)",
        );
    }
    Failure::Invalid(msg)
}

#[cfg(test)]
mod tests;
