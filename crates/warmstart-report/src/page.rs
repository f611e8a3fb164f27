//! The page: header, stage graph, one section per stage. Inline CSS and a few lines of JS
//! (a filter box over each instance list); a Content-Security-Policy that allows nothing
//! but inline code and `data:` images, so nothing the page holds can reach the network.

use std::fmt::Write;

use base64::Engine;

use crate::model::*;
use crate::svg::{DagNode, dag, sweep};
use crate::{esc, stage_anchor};

const CSP: &str = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";

const CSS: &str = r#"
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d232a;background:#f7f8fa}
header,main,nav{max-width:1180px;margin:0 auto;padding:0 20px}
header{padding-top:18px}h1{margin:0 0 6px;font-size:24px}h2{margin:0 0 8px;font-size:19px}
h3{font-size:15px;margin:14px 0 6px}.desc{white-space:pre-wrap;max-width:75em}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:10px 0}
dl.meta dt{color:#5a6570}dl.meta dd{margin:0;font-family:ui-monospace,monospace;overflow-wrap:anywhere}
.summary{font-weight:600}nav{margin:8px auto}nav a{margin-right:10px;white-space:nowrap}
section{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:14px 18px;margin:14px 0}
.graph{overflow-x:auto}.dag{max-width:100%;height:auto}.dag .edge{fill:none;stroke:#8a96a3;stroke-width:1.4}
.dag .node rect{stroke:#33404d;stroke-width:1}.dag .node text{font-size:12px;fill:#111}
.dag .fresh rect{fill:#b9e4c3}.dag .stale rect{fill:#ffe3a3}.dag .never rect{fill:#e3e6ea}.dag .failed rect{fill:#f6b3ae}
.badge{font-size:12px;padding:1px 7px;border-radius:9px;margin-left:6px;font-weight:500}
.badge.fresh{background:#b9e4c3}.badge.stale{background:#ffe3a3}.badge.never{background:#e3e6ea}.badge.failed{background:#f6b3ae}
.kind{font-size:13px;color:#5a6570;font-weight:400}
table{border-collapse:collapse;font-size:12.5px;margin:4px 0}th,td{border:1px solid #dde1e6;padding:2px 7px;text-align:left;vertical-align:top}
th{background:#eef1f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
.scroll{overflow-x:auto;max-width:100%}.why{color:#7a4b00}.err{color:#a01d12;white-space:pre-wrap;font-family:ui-monospace,monospace}
figure{display:inline-block;margin:6px 10px 6px 0;vertical-align:top}figure img{max-width:560px;border:1px solid #dde1e6;background:#fff}
figcaption{font-size:12px;color:#5a6570}.chart .plot{fill:#fff;stroke:#9aa5b1}.chart .grid{stroke:#e6e9ed}
.chart .tick{stroke:#9aa5b1}.chart .tl{font-size:11px;fill:#33404d}.chart .al{font-size:12px;fill:#1d232a}
.chart .line{fill:none;stroke-width:2}.note{color:#5a6570;font-size:12.5px}input.filter{margin:4px 0;padding:3px 6px;width:18em}
"#;

const JS: &str = r#"
document.querySelectorAll('input.filter').forEach(function(box){
  box.addEventListener('input',function(){
    var q=box.value.toLowerCase();
    var t=document.getElementById(box.getAttribute('data-table'));
    if(!t){return;}
    t.querySelectorAll('tbody tr').forEach(function(r){
      r.style.display=r.textContent.toLowerCase().indexOf(q)<0?'none':'';
    });
  });
});
"#;

/// The whole page.
pub(crate) fn render(r: &Report) -> String {
    let mut s = String::with_capacity(64 * 1024);
    let _ = write!(
        s,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="{CSP}"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="generator" content="warmstart {v}"><title>{name} — warmstart report</title><style>{CSS}</style></head><body>"#,
        v = esc(&r.warmstart_version),
        name = esc(&r.experiment),
    );
    header(&mut s, r);
    nav(&mut s, r);
    s.push_str("<main>");
    graph(&mut s, r);
    for (i, st) in r.stages.iter().enumerate() {
        stage(&mut s, st, i);
    }
    let _ = write!(s, r#"</main><script>{JS}</script></body></html>"#);
    s
}

fn header(s: &mut String, r: &Report) {
    let c = r.counts;
    let _ = write!(
        s,
        r#"<header><h1>{}</h1><p class="desc">{}</p><dl class="meta"><dt>experiment file</dt><dd>{}</dd><dt>file digest (blake3)</dt><dd>{}</dd><dt>seed</dt><dd>{}</dd><dt>warmstart</dt><dd>{}</dd><dt>newest entry written</dt><dd>{}</dd><dt>latest run</dt><dd>{}</dd></dl><p class="summary" id="summary">{} instances: {} fresh · {} stale · {} never run · {} failed</p></header>"#,
        esc(&r.experiment),
        esc(&r.description),
        esc(&r.file),
        esc(&r.file_digest),
        r.seed,
        esc(&r.warmstart_version),
        esc(r
            .newest_entry
            .as_deref()
            .unwrap_or("none (nothing in the cache yet)")),
        esc(r.last_run.as_deref().unwrap_or("no run recorded")),
        c.total(),
        c.fresh,
        c.stale,
        c.never_run,
        c.failed,
    );
}

fn nav(s: &mut String, r: &Report) {
    s.push_str("<nav>Stages: ");
    for st in &r.stages {
        let _ = write!(
            s,
            r##"<a href="#{}">{}</a>"##,
            stage_anchor(&st.name),
            esc(&st.name)
        );
    }
    s.push_str("</nav>");
}

fn graph(s: &mut String, r: &Report) {
    let nodes: Vec<DagNode<'_>> = r
        .stages
        .iter()
        .map(|st| DagNode {
            name: &st.name,
            kind: &st.kind,
            state: st.counts.overall(),
            summary: counts_text(&st.counts),
        })
        .collect();
    let _ = write!(
        s,
        r#"<section id="graph"><h2>Stage graph</h2><p class="note">Green: every instance fresh · amber: some stale · grey: never run · red: a failure. Click a stage for its section.</p><div class="graph">{}</div></section>"#,
        dag(&nodes, &r.edges)
    );
}

fn counts_text(c: &Counts) -> String {
    let mut parts = vec![format!("{} fresh", c.fresh)];
    for (n, w) in [
        (c.stale, "stale"),
        (c.never_run, "never run"),
        (c.failed, "failed"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {w}"));
        }
    }
    format!("{} of {}", parts.join(", "), c.total())
}

fn stage(s: &mut String, st: &StageSection, i: usize) {
    let state = st.counts.overall();
    let _ = write!(
        s,
        r#"<section class="stage" id="{}" data-stage="{}" data-state="{}"><h2>{} <span class="kind">{}</span><span class="badge {}">{}</span></h2>"#,
        stage_anchor(&st.name),
        esc(&st.name),
        state.class(),
        esc(&st.name),
        esc(&st.kind),
        state.class(),
        esc(&counts_text(&st.counts)),
    );
    if !st.description.is_empty() {
        let _ = write!(s, r#"<p class="desc">{}</p>"#, esc(&st.description));
    }
    if !st.sweeps.is_empty() {
        s.push_str(r#"<h3>Sweep</h3><div class="sweeps">"#);
        for c in &st.sweeps {
            let _ = write!(
                s,
                r#"<figure class="sweep"><div>{}</div><figcaption>{} from {}</figcaption></figure>"#,
                sweep(c),
                esc(&c.column),
                esc(&c.source)
            );
        }
        s.push_str("</div>");
    }
    figures(s, st);
    instances(s, st, i);
    previews(s, st);
    s.push_str("</section>");
}

fn figures(s: &mut String, st: &StageSection) {
    if st.figures.is_empty() {
        return;
    }
    s.push_str("<h3>Figures</h3>");
    for f in &st.figures {
        let data = base64::engine::general_purpose::STANDARD.encode(&f.bytes);
        let link = f.href.as_deref().map_or(String::new(), |h| {
            format!(r#" · <a href="{}">file</a>"#, esc(h))
        });
        let _ = write!(
            s,
            r#"<figure class="output"><img alt="{name}" src="data:{mime};base64,{data}"><figcaption>{inst} / {name}{link}</figcaption></figure>"#,
            name = esc(&f.name),
            mime = esc(&f.mime),
            inst = esc(&f.instance),
        );
    }
    if st.figures_total > st.figures.len() {
        let _ = write!(
            s,
            r#"<p class="note">{} more figures are not inlined; they are exported next to this page (see data/index.json).</p>"#,
            st.figures_total - st.figures.len()
        );
    }
}

fn instances(s: &mut String, st: &StageSection, i: usize) {
    let coords: Vec<&str> = st
        .instances
        .first()
        .map(|r| r.coords.iter().map(|(a, _)| a.as_str()).collect())
        .unwrap_or_default();
    let _ = write!(
        s,
        r#"<h3>Instances</h3><input class="filter" type="search" placeholder="filter instances" aria-label="filter instances" data-table="inst-{i}"><div class="scroll"><table class="instances" id="inst-{i}"><thead><tr>"#
    );
    for a in &coords {
        let _ = write!(s, "<th>{}</th>", esc(a));
    }
    s.push_str("<th>state</th><th>key</th><th>duration</th><th>tables (rows)</th><th>files</th><th>why / error</th></tr></thead><tbody>");
    for r in &st.instances {
        instance_row(s, r);
    }
    s.push_str("</tbody></table></div>");
    if st.instances_total > st.instances.len() {
        let _ = write!(
            s,
            r#"<p class="note">Showing {} of {} instances; `warmstart plan` lists them all, and every fresh one is exported under data/.</p>"#,
            st.instances.len(),
            st.instances_total
        );
    }
}

fn instance_row(s: &mut String, r: &InstanceRow) {
    s.push_str(&format!(r#"<tr class="{}">"#, r.state.class()));
    for (_, v) in &r.coords {
        let _ = write!(s, r#"<td class="num">{}</td>"#, esc(v));
    }
    let tables: Vec<String> = r
        .tables
        .iter()
        .map(|(t, n)| format!("{} ({n})", esc(t)))
        .collect();
    let files: Vec<String> = r
        .files
        .iter()
        .map(|(n, h)| format!(r#"<a href="{}">{}</a>"#, esc(h), esc(n)))
        .collect();
    let mut why: Vec<String> = r
        .reasons
        .iter()
        .map(|w| format!(r#"<div class="why">{}</div>"#, esc(w)))
        .collect();
    if let Some(e) = &r.error {
        why.push(format!(r#"<div class="err">{}</div>"#, esc(e)));
    }
    let _ = write!(
        s,
        r#"<td><span class="badge {}">{}</span></td><td><code>{}</code></td><td class="num">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
        r.state.class(),
        r.state.word(),
        esc(r.key_prefix.as_deref().unwrap_or("–")),
        r.duration_ms.map_or("–".into(), duration),
        tables.join(", "),
        files.join(" "),
        why.join("")
    );
}

/// `12 ms`, `3.4 s`, `2 min 5 s`.
fn duration(ms: u64) -> String {
    match ms {
        0..1000 => format!("{ms} ms"),
        1000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{} min {} s", ms / 60_000, ms % 60_000 / 1000),
    }
}

fn previews(s: &mut String, st: &StageSection) {
    if st.previews.is_empty() {
        return;
    }
    s.push_str("<h3>Tables</h3>");
    for p in &st.previews {
        let link = p.href.as_deref().map_or(String::new(), |h| {
            format!(r#" · <a href="{}">Parquet</a>"#, esc(h))
        });
        let _ = write!(
            s,
            r#"<div class="preview" data-table="{t}"><p><b>{inst} / {t}</b> — {n} rows, {c} columns{link}{shown}{cols}</p><div class="scroll"><table><thead><tr>"#,
            t = esc(&p.table),
            inst = esc(&p.instance),
            n = p.row_count,
            c = p.columns_total,
            shown = if p.row_count > p.rows.len() {
                format!(" (first {} rows shown)", p.rows.len())
            } else {
                String::new()
            },
            cols = if p.columns_total > p.columns.len() {
                format!(" (first {} columns shown)", p.columns.len())
            } else {
                String::new()
            },
        );
        for (name, ty) in &p.columns {
            let _ = write!(
                s,
                r#"<th>{}<br><span class="kind">{}</span></th>"#,
                esc(name),
                esc(ty)
            );
        }
        s.push_str("</tr></thead><tbody>");
        for row in &p.rows {
            s.push_str("<tr>");
            for cell in row {
                let _ = write!(s, "<td>{}</td>", esc(cell));
            }
            s.push_str("</tr>");
        }
        s.push_str("</tbody></table></div></div>");
    }
}
