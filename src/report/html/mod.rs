//! The report as one self-contained HTML page: inline CSS, SVG and a few
//! lines of script, nothing fetched, opens from a file and prints on A4.
//! Labels in Chinese and English.

mod charts;
mod lists;
mod meeting;
mod tiles;
mod trends;
mod words;

pub use meeting::{Header, render};
pub use words::Names;

use std::fmt::Write;

pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub(crate) fn pct(n: u64, d: u64) -> String {
    if d == 0 {
        "–".into()
    } else {
        format!("{:.1}%", n as f64 * 100.0 / d as f64)
    }
}

/// A label fits left of the bars in this many units: a Latin character is
/// one, a CJK character (twice as wide) two.
const LABEL_UNITS: usize = 42;

/// Units a character takes: CJK characters are twice as wide.
fn width(c: char) -> usize {
    if c.is_ascii() || c == '…' { 1 } else { 2 }
}

/// `label` cut to `units` with "…" (the whole label stays in the SVG
/// `<title>`, shown on hover).
fn fit(label: &str, units: usize) -> String {
    if label.chars().map(width).sum::<usize>() <= units {
        return label.to_string();
    }
    let mut used = 0;
    let mut out = String::new();
    for c in label.chars() {
        if used + width(c) > units - 1 {
            break;
        }
        used += width(c);
        out.push(c);
    }
    out.push('…');
    out
}

/// One bar: its label, value and the text after it; its class (colour)
/// and, on a percent scale, a target mark.
pub(crate) struct Bar {
    pub label: String,
    pub value: f64,
    pub text: String,
    pub class: &'static str,
    pub target: Option<f64>,
}

/// A horizontal bar chart of labelled values.
pub(crate) fn bars(title: &str, rows: &[(String, f64, String)]) -> String {
    let rows: Vec<Bar> = rows
        .iter()
        .map(|(label, value, text)| Bar {
            label: label.clone(),
            value: *value,
            text: text.clone(),
            class: "b",
            target: None,
        })
        .collect();
    bar_chart(title, &rows, None)
}

/// Bars scaled to `max` (else the largest value), a target drawn as a
/// dashed mark across its bar.
pub(crate) fn bar_chart(title: &str, rows: &[Bar], max: Option<f64>) -> String {
    let max = max
        .unwrap_or_else(|| rows.iter().map(|r| r.value).fold(0.0, f64::max))
        .max(1e-9);
    let h = 22 * rows.len().max(1) + 10;
    let mut svg = format!(
        "<figure><figcaption>{}</figcaption><svg role=\"img\" width=\"820\" height=\"{h}\" viewBox=\"0 0 820 {h}\">",
        esc(title)
    );
    for (i, bar) in rows.iter().enumerate() {
        let y = 5 + i * 22;
        let w = (bar.value / max * 380.0).max(1.0);
        // Labels left of x = 270, bars from there, the value after the bar.
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{}\" class=\"l\"><title>{}</title>{}</text><rect x=\"270\" y=\"{y}\" width=\"{w:.1}\" height=\"16\" class=\"{}\"/><text x=\"{:.1}\" y=\"{}\" class=\"v\">{}</text>",
            y + 13,
            esc(&bar.label),
            esc(&fit(&bar.label, LABEL_UNITS)),
            bar.class,
            275.0 + w,
            y + 13,
            esc(&bar.text)
        );
        if let Some(t) = bar.target {
            let x = 270.0 + t / max * 380.0;
            let _ = write!(
                svg,
                "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{}\" y2=\"{}\" class=\"t\"/>",
                y.saturating_sub(2),
                y + 18
            );
        }
    }
    svg.push_str("</svg></figure>");
    svg
}

pub(crate) fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut t = String::from("<table><tr>");
    for h in head {
        let _ = write!(t, "<th>{}</th>", esc(h));
    }
    t.push_str("</tr>");
    for r in rows {
        t.push_str("<tr>");
        for c in r {
            let _ = write!(t, "<td>{}</td>", esc(c));
        }
        t.push_str("</tr>");
    }
    t.push_str("</table>");
    t
}

/// A whole page around `body`, in the report's style.
pub(crate) fn page(title: &str, body: &str) -> String {
    page_with(title, body, "")
}

/// A page whose lists sort and filter: the script sits inside it.
pub(crate) fn page_with_lists(title: &str, body: &str) -> String {
    page_with(title, body, &format!("<script>{}</script>", lists::SCRIPT))
}

fn page_with(title: &str, body: &str, script: &str) -> String {
    format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>{}</title><style>{CSS}</style></head><body>{body}{script}</body></html>\n",
        esc(title)
    )
}

const CSS: &str = "body{font-family:system-ui,'PingFang SC','Microsoft YaHei',sans-serif;margin:2em;color:#222;max-width:70em}\
h1{margin-bottom:0}h2{margin-top:1.8em}.p{color:#666}.meta{color:#444;font-size:.9em;margin:.3em 0}\
.k{display:flex;flex-wrap:wrap;gap:.8em;margin:1.5em 0}\
.k div{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;width:14em}.k b{display:block;font-size:1.6em}\
.k span{color:#444;font-size:.85em}.k em{display:block;font-style:normal;font-size:.8em;margin:.2em 0}\
.k small{display:block;color:#777;font-size:.75em;margin-top:.3em}\
.better{color:#1b7f3b}.worse{color:#b3261e}.flat{color:#777}\
figure{margin:1.5em 0}figcaption{font-weight:600;margin-bottom:.4em}\
.b{fill:#3b7dd8}.l{font-size:12px;fill:#333}.v{font-size:12px;fill:#333}.a{font-size:10px;fill:#666}\
.g{stroke:#e4e4e4}.t{stroke:#b3261e;stroke-dasharray:4 3}.tl{font-size:10px;fill:#b3261e}\
.ok{fill:#2e8b57;background:#e3f4e8}.warn{fill:#d4a72c;background:#fbf1d3}.bad{fill:#c94c4c;background:#f8e0de}\
.cs{display:flex;flex-wrap:wrap;gap:0 1em}.cs figure{margin:.5em 0}.cs figcaption{font-size:.9em}\
.lg{font-size:12px;color:#444}.lg span{margin-right:1em}.lg i{display:inline-block;width:10px;height:10px;margin-right:4px}\
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ddd;padding:.3em .6em;font-size:.9em;text-align:right}\
td:first-child,th:first-child,td:nth-child(2){text-align:left}\
table.dd td,table.dd th{text-align:left;font-size:.8em}table.dd th{cursor:pointer;background:#f4f4f4}\
.f{margin:.3em 0;padding:.2em .4em;width:20em}svg{max-width:100%;height:auto}\
@page{size:A4;margin:12mm}\
@media print{body{margin:0;max-width:none;font-size:10pt}.f{display:none}\
figure,table,.k div,tr{break-inside:avoid}h2{break-after:avoid}table.dd td{font-size:7.5pt}}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_labels_are_cut_to_fit_left_of_the_bars() {
        assert_eq!(fit("光猫故障 modem fault", 42), "光猫故障 modem fault");
        let long = "局端设备故障 exchange equipment fault (technical)";
        let cut = fit(long, 42);
        assert!(
            cut.ends_with('…') && cut.starts_with("局端设备故障 exchange"),
            "{cut}"
        );
        let units: usize = cut.chars().map(width).sum();
        assert!(units <= 42, "{cut}: {units}");
    }
}
