//! Diagnostics: [`SpecError`] (one problem, pointing into an experiment file) and
//! [`SpecErrors`] (all problems found in one file), both rendered by miette.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode};

use crate::{SourceFile, Span};

/// A diagnostic pointing into an experiment file.
///
/// Other crates (the planner) build these too, for errors found against engine schemas.
/// Rendered with miette it shows `path:line:col`, the offending source underlined with a
/// label, and a `help` line saying how to fix it.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SpecError {
    /// What is wrong.
    pub message: String,
    /// Stable machine-readable code, e.g. `spec::unknown-key`.
    pub code: &'static str,
    /// How to fix it.
    pub help: Option<String>,
    /// The file the error is about.
    pub path: PathBuf,
    src: Option<NamedSource<SharedText>>,
    /// Primary label first, then any secondary labels.
    labels: Vec<(Span, String)>,
}

/// The text of a source file, shared by every error pointing into it (a file with many
/// errors must not cost a copy of itself per error).
#[derive(Debug, Clone)]
pub struct SharedText(Arc<SourceFile>);

impl SourceCode for SharedText {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        self.0
            .text
            .read_span(span, context_lines_before, context_lines_after)
    }
}

impl SpecError {
    /// An error at `span` (byte offsets into `source.text`).
    pub fn new(
        source: &Arc<SourceFile>,
        span: Span,
        code: &'static str,
        message: impl Into<String>,
        label: impl Into<String>,
        help: Option<String>,
    ) -> Self {
        let len = source.text.len();
        let start = span.start.min(len);
        let end = span.end.clamp(start, len);
        SpecError {
            message: message.into(),
            code,
            help,
            path: source.path.clone(),
            src: Some(NamedSource::new(
                source.path.display().to_string(),
                SharedText(source.clone()),
            )),
            labels: vec![(start..end, label.into())],
        }
    }

    /// A file that cannot be read as an experiment or project file: `what` names it
    /// ("experiment file"), `problem` says why (missing, a directory, too large, …).
    pub fn unreadable(path: &Path, what: &str, problem: String, help: &str) -> Self {
        SpecError {
            message: format!("cannot read {what} {}: {problem}", path.display()),
            code: "spec::io",
            help: Some(help.to_string()),
            path: path.to_path_buf(),
            src: None,
            labels: Vec::new(),
        }
    }

    /// Add a secondary label (e.g. "first defined here").
    pub fn with_label(mut self, span: Span, label: impl Into<String>) -> Self {
        if let Some(src) = &self.src {
            let len = src.inner().0.text.len();
            let start = span.start.min(len);
            let end = span.end.clamp(start, len);
            self.labels.push((start..end, label.into()));
        }
        self
    }

    /// The primary span, if the error has a position.
    pub fn span(&self) -> Option<Span> {
        self.labels.first().map(|(s, _)| s.clone())
    }
}

impl Diagnostic for SpecError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display + 'a>)
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.src.as_ref().map(|s| s as &dyn SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            return None;
        }
        Some(Box::new(self.labels.iter().enumerate().map(
            |(i, (s, l))| {
                let label = if l.is_empty() { None } else { Some(l.clone()) };
                if i == 0 {
                    LabeledSpan::new_primary_with_span(label, s.clone())
                } else {
                    LabeledSpan::new_with_span(label, s.clone())
                }
            },
        )))
    }
}

/// All errors found in one experiment file. Rendered by miette as a header
/// ("3 errors in exp.toml") followed by every error.
#[derive(Debug)]
pub struct SpecErrors(pub Vec<SpecError>);

impl fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        let file = self
            .0
            .first()
            .map(|e| e.path.display().to_string())
            .unwrap_or_else(|| "experiment file".into());
        write!(f, "{n} error{} in {file}", if n == 1 { "" } else { "s" })
    }
}

impl std::error::Error for SpecErrors {}

impl Diagnostic for SpecErrors {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new("spec::invalid"))
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        Some(Box::new(self.0.iter().map(|e| e as &dyn Diagnostic)))
    }
}

impl From<SpecError> for SpecErrors {
    fn from(e: SpecError) -> Self {
        SpecErrors(vec![e])
    }
}

/// Suggest the closest candidate to `name`: `Some("did you mean `x`?")` or `None` when
/// nothing is close enough.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        if c == name {
            continue;
        }
        let lev = strsim::damerau_levenshtein(&name.to_lowercase(), &c.to_lowercase());
        let jw = strsim::jaro_winkler(name, c);
        let close = (lev <= (name.len().max(c.len()) / 3).max(1) && lev < name.len().min(c.len()))
            || (jw >= 0.85 && name.len() > 2);
        if !close {
            continue;
        }
        let score = jw - lev as f64 * 0.1;
        if best.is_none_or(|(b, _)| score > b) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(
            did_you_mean("knd", ["kind", "engine", "inputs"]).as_deref(),
            Some("did you mean `kind`?")
        );
        assert_eq!(
            did_you_mean("stage", ["stages", "sweep"]).as_deref(),
            Some("did you mean `stages`?")
        );
        assert_eq!(did_you_mean("zzzzzz", ["kind", "engine"]), None);
    }

    #[test]
    fn display_counts() {
        let src = Arc::new(SourceFile {
            path: "a.toml".into(),
            text: "x = 1".into(),
        });
        let e = SpecError::new(&src, 0..1, "spec::x", "bad", "here", None);
        assert_eq!(SpecErrors(vec![e]).to_string(), "1 error in a.toml");
    }
}
