//! Plots over virtual time for the HTML report, drawn as inline SVG with
//! the `plotters` crate (its SVG backend only: no font library, no system
//! dependency; the browser renders the text).
//!
//! Owns [`Plot`], one chart: lines (each a step function of the samples)
//! or stacked areas, with a time axis in milliseconds and a y axis
//! formatted by the caller. Does not know what the lines mean: the page
//! ([`super`]) takes them from the recorder's samples.

use plotters::prelude::*;

/// One line of a chart: its legend label, colour and (time in ns, value)
/// points; a step function from each point to the next.
pub struct Line {
    pub label: String,
    pub color: RGBColor,
    pub points: Vec<(u64, f64)>,
}

/// How a chart draws its lines.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Each line on its own.
    Lines,
    /// Areas stacked in line order (the first at the bottom).
    Stacked,
}

/// One chart.
pub struct Plot<'a> {
    pub title: &'a str,
    pub y_label: &'a str,
    pub y_format: fn(f64) -> String,
    pub style: Style,
    pub lines: Vec<Line>,
}

/// Colours for lines that have no colour of their own (hosts, flows).
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(23, 190, 207),
];

const WIDTH: u32 = 900;
const HEIGHT: u32 = 300;

/// The points of a step function through `points`.
fn steps(points: &[(u64, f64)]) -> Vec<(f64, f64)> {
    let ms = |t: u64| t as f64 / 1e6;
    let mut out = Vec::with_capacity(points.len() * 2);
    for (i, &(t, v)) in points.iter().enumerate() {
        let v = if v.is_finite() { v } else { 0.0 };
        out.push((ms(t), v));
        if let Some(&(next, _)) = points.get(i + 1) {
            out.push((ms(next), v));
        }
    }
    out
}

impl Plot<'_> {
    /// The chart as an `<svg>` element, or a sentence saying why there is
    /// none.
    pub fn svg(&self) -> Result<String, String> {
        let mut lines: Vec<(RGBColor, Vec<(f64, f64)>)> = (self.lines.iter())
            .filter(|l| !l.points.is_empty())
            .map(|l| (l.color, steps(&l.points)))
            .collect();
        if lines.is_empty() {
            return Err("no samples to plot".into());
        }
        if self.style == Style::Stacked {
            // Each area's top is the sum of those below it and itself.
            for i in 1..lines.len() {
                let (below, rest) = lines.split_at_mut(i);
                let prev = &below[i - 1].1;
                for (p, q) in rest[0].1.iter_mut().zip(prev) {
                    p.1 += q.1;
                }
            }
        }
        let finite = |v: f64| if v.is_finite() { v } else { 0.0 };
        let x_max =
            (lines.iter().flat_map(|l| l.1.iter().map(|p| finite(p.0)))).fold(0.0, f64::max);
        let y_max =
            (lines.iter().flat_map(|l| l.1.iter().map(|p| finite(p.1)))).fold(0.0, f64::max);
        let x_max = if x_max > 0.0 { x_max } else { 1.0 };
        let y_max = if y_max > 0.0 { y_max * 1.05 } else { 1.0 };
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
            let e = |e: &dyn std::fmt::Display| format!("the chart could not be drawn: {e}");
            root.fill(&WHITE).map_err(|x| e(&x))?;
            let mut chart = ChartBuilder::on(&root)
                .caption(self.title, ("sans-serif", 16))
                .margin(10)
                .x_label_area_size(36)
                .y_label_area_size(70)
                .build_cartesian_2d(0.0..x_max, 0.0..y_max)
                .map_err(|x| e(&x))?;
            let y_format = self.y_format;
            chart
                .configure_mesh()
                .x_desc("virtual time (ms)")
                .y_desc(self.y_label)
                .y_label_formatter(&|v| y_format(*v))
                .x_label_formatter(&|v| format!("{v:.2}"))
                .light_line_style(RGBColor(240, 240, 240))
                .draw()
                .map_err(|x| e(&x))?;
            // Stacked areas are drawn top first, so lower ones paint over.
            let order: Vec<usize> = match self.style {
                Style::Lines => (0..lines.len()).collect(),
                Style::Stacked => (0..lines.len()).rev().collect(),
            };
            for i in order {
                let (color, points) = &lines[i];
                let color = *color;
                // Dense series read better thin.
                let width = if points.len() > 600 { 1 } else { 2 };
                let drawn = match self.style {
                    Style::Lines => chart.draw_series(LineSeries::new(
                        points.iter().copied(),
                        color.stroke_width(width),
                    )),
                    Style::Stacked => chart.draw_series(
                        AreaSeries::new(points.iter().copied(), 0.0, color.mix(0.55))
                            .border_style(color),
                    ),
                };
                drawn.map_err(|x| e(&x))?;
            }
            root.present().map_err(|x| e(&x))?;
        }
        Ok(svg)
    }
}

impl Plot<'_> {
    /// The chart's legend, as HTML (under the chart, where it hides no
    /// data): a swatch and a label per line.
    pub fn legend(&self) -> String {
        let mut o = String::from("<div class=\"legend\">");
        for l in &self.lines {
            let RGBColor(r, g, b) = l.color;
            o.push_str(&format!(
                "<span><i style=\"background:#{r:02x}{g:02x}{b:02x}\"></i>{}</span>",
                super::escape(&l.label)
            ));
        }
        o.push_str("</div>");
        o
    }
}

/// Bytes on an axis, in binary units.
pub fn bytes_axis(v: f64) -> String {
    if v >= (1u64 << 20) as f64 {
        format!("{:.1} MiB", v / (1u64 << 20) as f64)
    } else if v >= 1024.0 {
        format!("{:.0} KiB", v / 1024.0)
    } else {
        format!("{v:.0} B")
    }
}

/// A plain count on an axis.
pub fn count_axis(v: f64) -> String {
    format!("{v:.0}")
}

/// A value with one decimal.
pub fn decimal_axis(v: f64) -> String {
    format!("{v:.1}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_is_an_svg_with_its_title_and_a_step_line() {
        let p = Plot {
            title: "ring <occupancy>",
            y_label: "descriptors",
            y_format: count_axis,
            style: Style::Lines,
            lines: vec![Line {
                label: "tx".into(),
                color: PALETTE[0],
                points: vec![(0, 1.0), (1_000_000, 5.0), (2_000_000, 2.0)],
            }],
        };
        let svg = p.svg().unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..80]);
        assert!(svg.contains("ring &lt;occupancy&gt;"), "titles are escaped");
        assert!(svg.contains("<polyline"));
        assert_eq!(steps(&p.lines[0].points).len(), 5);
    }

    #[test]
    fn empty_flat_or_odd_data_draws_or_says_why_without_panicking() {
        let mut p = Plot {
            title: "t",
            y_label: "y",
            y_format: decimal_axis,
            style: Style::Stacked,
            lines: vec![],
        };
        assert!(p.svg().is_err());
        p.lines = vec![
            Line {
                label: "a".into(),
                color: PALETTE[1],
                points: vec![(0, 0.0)],
            },
            Line {
                label: "b".into(),
                color: PALETTE[2],
                points: vec![(0, f64::NAN), (5, f64::INFINITY)],
            },
        ];
        assert!(p.svg().is_ok());
    }
}
