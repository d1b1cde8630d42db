//! Inline SVG charts over the trend's points: lines (with an optional
//! target line) and stacked bars. Nothing fetched, no script.

use super::esc;
use std::fmt::Write;

/// Series colours, in order (the legend repeats them).
pub(crate) const PALETTE: [&str; 8] = [
    "#3b7dd8", "#e07b39", "#4aa564", "#c94c4c", "#8a63c9", "#7f7f7f", "#d4a72c", "#2fa4a9",
];

/// One line: a name and a value per point (`None`: nothing that day).
pub(crate) struct Series {
    pub name: String,
    pub values: Vec<Option<f64>>,
}

/// How a line chart is drawn.
pub(crate) struct Frame<'a> {
    pub title: &'a str,
    /// The point labels (days or weeks), oldest first.
    pub labels: &'a [String],
    pub width: usize,
    pub height: usize,
    /// The bottom of the value axis (lower values sit on it).
    pub min: f64,
    /// The top of the value axis (e.g. 100 for percents); else the data's.
    pub max: Option<f64>,
    /// A dashed target line with its label.
    pub target: Option<f64>,
    pub unit: &'a str,
}

const LEFT: f64 = 40.0;
const BOTTOM: f64 = 22.0;
const TOP: f64 = 10.0;

impl Frame<'_> {
    fn x(&self, i: usize) -> f64 {
        let n = self.labels.len().max(2) - 1;
        LEFT + (self.width as f64 - LEFT - 10.0) * i as f64 / n as f64
    }

    fn y(&self, v: f64, max: f64) -> f64 {
        let plot = self.height as f64 - TOP - BOTTOM;
        let span = (max - self.min).max(1e-9);
        TOP + plot * (1.0 - ((v - self.min) / span).clamp(0.0, 1.0))
    }

    /// The axes: three value lines and the first, middle and last labels.
    fn axes(&self, max: f64, svg: &mut String) {
        for share in [0.0, 0.5, 1.0] {
            let value = self.min + (max - self.min) * share;
            let y = self.y(value, max);
            let _ = write!(
                svg,
                "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" class=\"g\"/><text x=\"{}\" y=\"{:.1}\" class=\"a\" text-anchor=\"end\">{}{}</text>",
                self.width - 10,
                LEFT - 4.0,
                y + 4.0,
                round(value),
                esc(self.unit)
            );
        }
        let n = self.labels.len();
        let mut shown = vec![0, n / 2, n.saturating_sub(1)];
        shown.dedup();
        for i in shown.into_iter().filter(|i| *i < n) {
            // The ends' labels stay inside the chart.
            let anchor = match i {
                0 => "start",
                i if i + 1 == n => "end",
                _ => "middle",
            };
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{}\" class=\"a\" text-anchor=\"{anchor}\">{}</text>",
                self.x(i),
                self.height - 6,
                esc(&self.labels[i])
            );
        }
    }
}

fn round(v: f64) -> String {
    if v >= 10.0 || v == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// A line chart of `series` in `frame`, with a legend when there are
/// several lines.
pub(crate) fn lines(frame: &Frame, series: &[Series]) -> String {
    let data_max = series
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .fold(0.0_f64, |a, b| a.max(*b));
    let max = frame.max.unwrap_or(data_max * 1.1).max(1e-9);
    let (w, h) = (frame.width, frame.height);
    let mut svg = format!(
        "<figure class=\"c\"><figcaption>{}</figcaption><svg role=\"img\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">",
        esc(frame.title)
    );
    frame.axes(max, &mut svg);
    if let Some(t) = frame.target {
        let y = frame.y(t, max);
        let _ = write!(
            svg,
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" class=\"t\"/><text x=\"{}\" y=\"{:.1}\" class=\"tl\" text-anchor=\"end\">目标 target {}{}</text>",
            w - 10,
            w - 10,
            y - 3.0,
            round(t),
            esc(frame.unit)
        );
    }
    for (k, s) in series.iter().enumerate() {
        let colour = PALETTE[k % PALETTE.len()];
        // A gap (no value) breaks the line.
        let mut path = String::new();
        let mut pen_down = false;
        for (i, v) in s.values.iter().enumerate() {
            match v {
                Some(v) => {
                    let cmd = if pen_down { 'L' } else { 'M' };
                    let _ = write!(path, "{cmd}{:.1} {:.1} ", frame.x(i), frame.y(*v, max));
                    pen_down = true;
                }
                None => pen_down = false,
            }
        }
        let _ = write!(
            svg,
            "<path d=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"><title>{}</title></path>",
            path.trim_end(),
            esc(&s.name)
        );
        if let Some((i, Some(v))) = s.values.iter().enumerate().rev().find(|(_, v)| v.is_some()) {
            let _ = write!(
                svg,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{colour}\"><title>{}: {}{}</title></circle>",
                frame.x(i),
                frame.y(*v, max),
                esc(&frame.labels[i]),
                round(*v),
                esc(frame.unit)
            );
        }
    }
    svg.push_str("</svg>");
    if series.len() > 1 {
        svg.push_str(&legend(series.iter().map(|s| s.name.as_str())));
    }
    svg.push_str("</figure>");
    svg
}

/// Stacked bars: per point, one segment per group.
pub(crate) fn stacked(frame: &Frame, groups: &[Series]) -> String {
    let n = frame.labels.len();
    let totals: Vec<f64> = (0..n)
        .map(|i| groups.iter().filter_map(|g| g.values[i]).sum())
        .collect();
    let max = totals.iter().fold(0.0_f64, |a, b| a.max(*b)).max(1.0) * 1.1;
    let (w, h) = (frame.width, frame.height);
    let mut svg = format!(
        "<figure><figcaption>{}</figcaption><svg role=\"img\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">",
        esc(frame.title)
    );
    frame.axes(max, &mut svg);
    let step = (w as f64 - LEFT - 10.0) / n.max(1) as f64;
    let bar = (step * 0.7).max(1.0);
    for i in 0..n {
        let x = frame
            .x(i)
            .min(w as f64 - 10.0 - bar / 2.0)
            .max(LEFT + bar / 2.0)
            - bar / 2.0;
        let mut base = 0.0;
        for (k, g) in groups.iter().enumerate() {
            let v = g.values[i].unwrap_or(0.0);
            if v <= 0.0 {
                continue;
            }
            let (y0, y1) = (frame.y(base, max), frame.y(base + v, max));
            let _ = write!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{y1:.1}\" width=\"{bar:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{} {}: {}</title></rect>",
                y0 - y1,
                PALETTE[k % PALETTE.len()],
                esc(&frame.labels[i]),
                esc(&g.name),
                round(v)
            );
            base += v;
        }
    }
    svg.push_str("</svg>");
    svg.push_str(&legend(groups.iter().map(|g| g.name.as_str())));
    svg.push_str("</figure>");
    svg
}

fn legend<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let mut out = String::from("<div class=\"lg\">");
    for (k, name) in names.enumerate() {
        let _ = write!(
            out,
            "<span><i style=\"background:{}\"></i>{}</span>",
            PALETTE[k % PALETTE.len()],
            esc(name)
        );
    }
    out.push_str("</div>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gap_breaks_the_line_and_the_target_is_drawn() {
        let labels: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
        let frame = Frame {
            title: "t",
            labels: &labels,
            width: 300,
            height: 120,
            min: 0.0,
            max: Some(100.0),
            target: Some(95.0),
            unit: "%",
        };
        let svg = lines(
            &frame,
            &[Series {
                name: "s".into(),
                values: vec![Some(90.0), Some(100.0), None, Some(80.0)],
            }],
        );
        let path = svg.split("<path d=\"").nth(1).unwrap();
        let path = &path[..path.find('"').unwrap()];
        assert_eq!(path.matches('M').count(), 2, "{path}");
        assert_eq!(path.matches('L').count(), 1, "{path}");
        assert!(svg.contains("class=\"t\""), "target line");
    }
}
