//! An experiment's report as one self-contained HTML page: a header, the stage graph as an
//! SVG laid out in layers, one section per stage (instances, figures, table previews,
//! sweep charts). Everything is inline — CSS, SVG, images as `data:` URIs, a few lines of
//! JS — and the page's Content-Security-Policy forbids every request except to `data:`,
//! so opening it never touches the network.
//!
//! This crate only renders: it takes a [`Report`] (plain data, gathered by the facade
//! `warmstart::html` from a plan, the cache and the run records) and returns text. Every
//! string from the experiment, the cache or a plugin is escaped; figures are shown with
//! `<img>` (an SVG figure cannot run scripts there).
//!
//! Architecture invariant: this crate knows nothing of TOML, the cache, engines or Arrow;
//! it depends on plain data only, so its output is a pure function of the [`Report`].

#![deny(missing_docs)]

mod layout;
mod model;
mod page;
mod svg;

pub use layout::{LayeredLayout, layered_layout};
pub use model::*;

/// The page for `report`, as HTML text.
pub fn render(report: &Report) -> String {
    page::render(report)
}

/// `s` safe in HTML/SVG text and in double- or single-quoted attributes (the one escaper
/// of every front end that writes HTML: this page, the Python binding's `_repr_html_`).
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub(crate) use escape_html as esc;

/// The `id` of a stage's section: `stage-` and the name with every character outside
/// `[A-Za-z0-9_-]` written as `.XX` hex, so distinct names give distinct ids.
pub(crate) fn stage_anchor(name: &str) -> String {
    let mut s = String::from("stage-");
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            s.push(b as char);
        } else {
            s.push_str(&format!(".{b:02x}"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            esc(r#"<script>"a" & 'b'</script>"#),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
        assert_eq!(stage_anchor("fit w2s"), "stage-fit.20w2s");
        assert_ne!(stage_anchor("a.b"), stage_anchor("a_b"));
    }
}
