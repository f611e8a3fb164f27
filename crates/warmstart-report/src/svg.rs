//! The report's drawings, as SVG text: the stage graph, line charts and heat maps of sweep
//! columns. Axes get "nice" ticks (1, 2, 5 × 10^k); an x axis whose positive values span
//! two decades or more is drawn log-scaled (sweeps over δ or checkpoint steps are
//! log-spaced).

use std::fmt::Write;

use crate::model::{InstanceState, SweepChart, SweepPlot};
use crate::{LayeredLayout, esc, layered_layout, stage_anchor};

const NODE_W: f64 = 150.0;
const NODE_H: f64 = 30.0;
const GAP_X: f64 = 48.0;
const GAP_Y: f64 = 14.0;

/// A stage of the graph as drawn.
pub(crate) struct DagNode<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    pub state: InstanceState,
    pub summary: String,
}

/// The stage graph, left to right; each stage is a link to its section.
pub(crate) fn dag(nodes: &[DagNode<'_>], edges: &[(usize, usize)]) -> String {
    let LayeredLayout {
        layer,
        rank,
        layers,
        widest,
    } = layered_layout(nodes.len(), edges);
    let w = layers as f64 * (NODE_W + GAP_X) - GAP_X + 20.0;
    let h = widest as f64 * (NODE_H + GAP_Y) - GAP_Y + 20.0;
    let pos = |i: usize| {
        (
            10.0 + layer[i] as f64 * (NODE_W + GAP_X),
            10.0 + rank[i] as f64 * (NODE_H + GAP_Y),
        )
    };
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="dag" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w:.0} {h:.0}" width="{w:.0}" height="{h:.0}" role="img" aria-label="stage graph">"#
    );
    for &(a, b) in edges {
        if a >= nodes.len() || b >= nodes.len() {
            continue;
        }
        let ((x0, y0), (x1, y1)) = (pos(a), pos(b));
        let (x0, y0, x1, y1) = (x0 + NODE_W, y0 + NODE_H / 2.0, x1, y1 + NODE_H / 2.0);
        let mx = (x0 + x1) / 2.0;
        let _ = write!(
            s,
            r#"<path class="edge" d="M{x0:.1},{y0:.1} C{mx:.1},{y0:.1} {mx:.1},{y1:.1} {x1:.1},{y1:.1}"/>"#
        );
    }
    for (i, n) in nodes.iter().enumerate() {
        let (x, y) = pos(i);
        let label = shorten(n.name, 18);
        let _ = write!(
            s,
            r##"<a href="#{anchor}"><g class="node {cls}"><title>{name} ({kind}): {summary}</title><rect x="{x:.1}" y="{y:.1}" width="{NODE_W}" height="{NODE_H}" rx="5"/><text x="{tx:.1}" y="{ty:.1}">{label}</text></g></a>"##,
            anchor = stage_anchor(n.name),
            cls = n.state.class(),
            name = esc(n.name),
            kind = esc(n.kind),
            summary = esc(&n.summary),
            tx = x + 8.0,
            ty = y + NODE_H / 2.0 + 4.5,
            label = esc(&label),
        );
    }
    s.push_str("</svg>");
    s
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let head: String = s.chars().take(max - 1).collect();
        format!("{head}…")
    }
}

const CW: f64 = 520.0;
const CH: f64 = 300.0;
const ML: f64 = 64.0;
const MR: f64 = 120.0;
const MT: f64 = 24.0;
const MB: f64 = 44.0;

/// One sweep chart.
pub(crate) fn sweep(chart: &SweepChart) -> String {
    match &chart.plot {
        SweepPlot::Lines {
            series_axis,
            series,
        } => lines(chart, series_axis.as_deref(), series),
        SweepPlot::Heat { y_axis, xs, ys, z } => heat(chart, y_axis, xs, ys, z),
    }
}

/// A scale from data to pixels, linear or log10.
struct Scale {
    lo: f64,
    hi: f64,
    log: bool,
    px0: f64,
    px1: f64,
}

impl Scale {
    fn new(
        values: impl Iterator<Item = f64> + Clone,
        px0: f64,
        px1: f64,
        allow_log: bool,
    ) -> Scale {
        let finite = values.filter(|v| v.is_finite());
        let lo = finite.clone().fold(f64::INFINITY, f64::min);
        let hi = finite.fold(f64::NEG_INFINITY, f64::max);
        let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
        let log = allow_log && lo > 0.0 && hi / lo >= 100.0;
        let (lo, hi) = if log {
            (lo.log10(), hi.log10())
        } else if hi - lo < 1e-12 * hi.abs().max(1.0) {
            (lo - 0.5, hi + 0.5)
        } else {
            let pad = (hi - lo) * 0.04;
            (lo - pad, hi + pad)
        };
        Scale {
            lo,
            hi,
            log,
            px0,
            px1,
        }
    }

    fn px(&self, v: f64) -> f64 {
        let t = if self.log { v.log10() } else { v };
        self.px0 + (t - self.lo) / (self.hi - self.lo) * (self.px1 - self.px0)
    }

    /// Tick values: powers of ten on a log scale, 1-2-5 steps on a linear one.
    fn ticks(&self) -> Vec<f64> {
        if self.log {
            let (a, b) = (self.lo.floor() as i32, self.hi.ceil() as i32);
            return (a..=b)
                .map(|e| 10f64.powi(e))
                .filter(|v| (self.lo..=self.hi).contains(&v.log10()))
                .collect();
        }
        let span = self.hi - self.lo;
        let raw = span / 5.0;
        let mag = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0]
            .iter()
            .map(|m| m * mag)
            .find(|s| span / s <= 6.0)
            .unwrap_or(10.0 * mag);
        let first = (self.lo / step).ceil() as i64;
        let last = (self.hi / step).floor() as i64;
        (first..=last).map(|k| k as f64 * step).collect()
    }
}

/// A number as a tick label: short, no trailing zeros.
pub(crate) fn num(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        return format!("{v:.1e}");
    }
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// Eight distinguishable colours (Okabe–Ito, colour-blind safe), cycled.
const PALETTE: [&str; 8] = [
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
];

fn frame(s: &mut String, chart: &SweepChart, x: &Scale, y: &Scale, y_label: &str) {
    let _ = write!(
        s,
        r#"<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {CW} {CH}" width="{CW}" height="{CH}" role="img" aria-label="{col} over {xa}">"#,
        col = esc(&chart.column),
        xa = esc(&chart.x_axis),
    );
    let (x0, x1, y0, y1) = (ML, CW - MR, CH - MB, MT);
    let _ = write!(
        s,
        r#"<rect class="plot" x="{x0}" y="{y1}" width="{}" height="{}"/>"#,
        x1 - x0,
        y0 - y1
    );
    for t in x.ticks() {
        let px = x.px(t);
        let _ = write!(
            s,
            r#"<line class="tick" x1="{px:.1}" y1="{y0}" x2="{px:.1}" y2="{}"/><text class="tl" x="{px:.1}" y="{}" text-anchor="middle">{}</text>"#,
            y0 + 4.0,
            y0 + 16.0,
            num(t)
        );
    }
    for t in y.ticks() {
        let py = y.px(t);
        let _ = write!(
            s,
            r#"<line class="grid" x1="{x0}" y1="{py:.1}" x2="{x1}" y2="{py:.1}"/><text class="tl" x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            x0 - 6.0,
            py + 4.0,
            num(t)
        );
    }
    let log = if x.log { " (log scale)" } else { "" };
    let _ = write!(
        s,
        r#"<text class="al" x="{:.1}" y="{}" text-anchor="middle">{}{log}</text><text class="al" transform="translate(14,{:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
        (x0 + x1) / 2.0,
        CH - 8.0,
        esc(&chart.x_axis),
        (y0 + y1) / 2.0,
        esc(y_label)
    );
}

fn lines(
    chart: &SweepChart,
    series_axis: Option<&str>,
    series: &[(String, Vec<(f64, f64)>)],
) -> String {
    let xs = series.iter().flat_map(|(_, p)| p.iter().map(|q| q.0));
    let ys = series.iter().flat_map(|(_, p)| p.iter().map(|q| q.1));
    let x = Scale::new(xs, ML, CW - MR, true);
    let y = Scale::new(ys, CH - MB, MT, false);
    let mut s = String::new();
    frame(&mut s, chart, &x, &y, &chart.column);
    for (k, (name, pts)) in series.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let path: Vec<String> = pts
            .iter()
            .filter(|(a, b)| a.is_finite() && b.is_finite() && (!x.log || *a > 0.0))
            .map(|&(a, b)| format!("{:.1},{:.1}", x.px(a), y.px(b)))
            .collect();
        if path.is_empty() {
            continue;
        }
        let _ = write!(
            s,
            r#"<polyline class="line" stroke="{color}" points="{}"/>"#,
            path.join(" ")
        );
        for p in &path {
            let (px, py) = p.split_once(',').unwrap_or(("0", "0"));
            let _ = write!(s, r#"<circle cx="{px}" cy="{py}" r="2.5" fill="{color}"/>"#);
        }
        if series_axis.is_some() {
            let ly = MT + 14.0 + k as f64 * 16.0;
            let _ = write!(
                s,
                r#"<line x1="{lx}" y1="{ly}" x2="{lx2}" y2="{ly}" stroke="{color}" stroke-width="2"/><text class="tl" x="{tx}" y="{ty}">{}</text>"#,
                esc(&shorten(
                    &format!("{}={name}", series_axis.unwrap_or("")),
                    16
                )),
                lx = CW - MR + 8.0,
                lx2 = CW - MR + 24.0,
                tx = CW - MR + 28.0,
                ty = ly + 4.0,
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// A colour for t ∈ [0, 1] on a viridis-like ramp (dark blue → green → yellow).
fn ramp(t: f64) -> String {
    const STOPS: [(f64, f64, f64); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let f = t * (STOPS.len() - 1) as f64;
    let i = (f.floor() as usize).min(STOPS.len() - 2);
    let u = f - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let mix = |p: f64, q: f64| (p + (q - p) * u).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(a.0, b.0),
        mix(a.1, b.1),
        mix(a.2, b.2)
    )
}

fn heat(
    chart: &SweepChart,
    y_axis: &str,
    xs: &[f64],
    ys: &[f64],
    z: &[Vec<Option<f64>>],
) -> String {
    let vals = z
        .iter()
        .flatten()
        .flatten()
        .copied()
        .filter(|v| v.is_finite());
    let lo = vals.clone().fold(f64::INFINITY, f64::min);
    let hi = vals.fold(f64::NEG_INFINITY, f64::max);
    let (x0, x1, y0, y1) = (ML, CW - MR, CH - MB, MT);
    let cw = (x1 - x0) / xs.len().max(1) as f64;
    let chh = (y0 - y1) / ys.len().max(1) as f64;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {CW} {CH}" width="{CW}" height="{CH}" role="img" aria-label="{} over {} and {}">"#,
        esc(&chart.column),
        esc(&chart.x_axis),
        esc(y_axis)
    );
    for (j, row) in z.iter().enumerate() {
        for (i, cell) in row.iter().enumerate() {
            let (cx, cy) = (x0 + i as f64 * cw, y0 - (j + 1) as f64 * chh);
            let (fill, text) = match cell {
                Some(v) if v.is_finite() => {
                    let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
                    (ramp(t), num(*v))
                }
                _ => ("#dddddd".to_string(), "no value".to_string()),
            };
            let _ = write!(
                s,
                r#"<rect x="{cx:.1}" y="{cy:.1}" width="{cw:.1}" height="{chh:.1}" fill="{fill}"><title>{xa}={} {ya}={}: {text}</title></rect>"#,
                num(xs.get(i).copied().unwrap_or(f64::NAN)),
                num(ys.get(j).copied().unwrap_or(f64::NAN)),
                xa = esc(&chart.x_axis),
                ya = esc(y_axis),
            );
        }
    }
    let every = |n: usize| n.div_ceil(12).max(1);
    for (i, v) in xs.iter().enumerate().step_by(every(xs.len())) {
        let _ = write!(
            s,
            r#"<text class="tl" x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            x0 + (i as f64 + 0.5) * cw,
            y0 + 16.0,
            num(*v)
        );
    }
    for (j, v) in ys.iter().enumerate().step_by(every(ys.len())) {
        let _ = write!(
            s,
            r#"<text class="tl" x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            x0 - 6.0,
            y0 - (j as f64 + 0.5) * chh + 4.0,
            num(*v)
        );
    }
    // Colour legend: the ramp with its ends labelled.
    for k in 0..20 {
        let t = k as f64 / 19.0;
        let _ = write!(
            s,
            r#"<rect x="{}" y="{:.1}" width="14" height="{:.1}" fill="{}"/>"#,
            CW - MR + 20.0,
            y0 - (k + 1) as f64 * (y0 - y1) / 20.0,
            (y0 - y1) / 20.0 + 0.5,
            ramp(t)
        );
    }
    let (lo_t, hi_t) = if lo.is_finite() {
        (num(lo), num(hi))
    } else {
        ("–".into(), "–".into())
    };
    let _ = write!(
        s,
        r#"<text class="tl" x="{lx}" y="{}">{hi_t}</text><text class="tl" x="{lx}" y="{}">{lo_t}</text><text class="al" x="{:.1}" y="{}" text-anchor="middle">{}</text><text class="al" transform="translate(14,{:.1}) rotate(-90)" text-anchor="middle">{}</text><text class="tl" x="{}" y="{}">{}</text></svg>"#,
        y1 + 8.0,
        y0,
        (x0 + x1) / 2.0,
        CH - 8.0,
        esc(&chart.x_axis),
        (y0 + y1) / 2.0,
        esc(y_axis),
        CW - MR + 8.0,
        MT - 8.0,
        esc(&shorten(&chart.column, 18)),
        lx = CW - MR + 38.0,
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_inside_the_range() {
        let s = Scale::new([0.0, 1.0].into_iter(), 0.0, 100.0, true);
        let t = s.ticks();
        assert!(t.len() >= 3 && t.len() <= 7, "{t:?}");
        assert!(t.iter().all(|v| (v * 10.0).fract().abs() < 1e-9));
        let log = Scale::new([1.0, 4.0, 64.0, 512.0].into_iter(), 0.0, 100.0, true);
        assert!(log.log);
        assert_eq!(log.ticks(), vec![1.0, 10.0, 100.0]);
        assert!(log.px(1.0) < log.px(4.0) && log.px(4.0) < log.px(512.0));
    }

    #[test]
    fn numbers_print_short() {
        assert_eq!(num(0.5), "0.5");
        assert_eq!(num(3.0), "3");
        assert_eq!(num(1e-4), "1.0e-4");
        assert_eq!(num(-0.25), "-0.25");
    }

    #[test]
    fn ramp_ends_are_viridis_ends() {
        assert_eq!(ramp(0.0), "#440154");
        assert_eq!(ramp(1.0), "#fde725");
        assert_eq!(ramp(f64::NAN), "#440154");
    }
}
