//! The sweep's plot: one SVG chart of two columns of its table.
//!
//! Owns `--plot x=COLUMN,y=COLUMN[/COLUMN]` ([`PlotSpec`]), the default
//! (x a varied key, y the first flow's sender's CPU time per byte
//! delivered), the lines (one per combination of the varied keys other
//! than x; points sorted by x) and the axes: a log x axis when x is a
//! multiplicative range (`1KiB..1MiB*2`), sizes on it in binary units, and
//! an x that is not a number (`write`, `msg_zerocopy`) as categories.
//!
//! Does not own the table (`table.rs`) or the file it goes to.

use super::table::{Row, Table};
use crate::html::plot::{bytes_axis, PALETTE};
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

/// What to plot: the x column, the y column, and the column y is divided
/// by, if any. Also how a sweep's plan records it (`sweep-plan.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlotSpec {
    pub x: String,
    pub y: String,
    pub per: Option<String>,
}

const FORM: &str = "--plot takes x=COLUMN,y=COLUMN or y=COLUMN/COLUMN (a ratio), \
                    e.g. x=flow[0].write_size,y=hosts.sender.cpu_busy_ns/flows[0].bytes_received";

impl PlotSpec {
    /// Reads `x=...,y=...` (either may be left out: the default's is taken).
    pub fn parse(arg: &str, default: &PlotSpec) -> Result<PlotSpec, String> {
        let mut spec = default.clone();
        for part in arg.split(',') {
            let Some((k, v)) = part.split_once('=') else {
                return Err(format!("{FORM}; found {part:?}"));
            };
            let v = v.trim();
            if v.is_empty() {
                return Err(format!("{FORM}; {k} is empty"));
            }
            match k.trim() {
                "x" => spec.x = v.to_string(),
                "y" => match v.split_once('/') {
                    Some((a, b)) if !a.trim().is_empty() && !b.trim().is_empty() => {
                        spec.y = a.trim().to_string();
                        spec.per = Some(b.trim().to_string());
                    }
                    Some(_) => return Err(format!("{FORM}; found y={v}")),
                    None => {
                        spec.y = v.to_string();
                        spec.per = None;
                    }
                },
                other => return Err(format!("{FORM}; unknown {other:?}")),
            }
        }
        Ok(spec)
    }

    /// The default: x the first varied key, y the CPU time of the first
    /// flow's sender per byte it delivered.
    pub fn default_for(first_key: &str, sender: &str) -> PlotSpec {
        PlotSpec {
            x: first_key.to_string(),
            y: format!("hosts.{sender}.cpu_busy_ns"),
            per: Some("flows[0].bytes_received".into()),
        }
    }

    /// The y axis's name.
    pub fn y_label(&self) -> String {
        match &self.per {
            Some(p) => format!("{} / {p}", self.y),
            None => self.y.clone(),
        }
    }

    /// Refuses a column the table does not have, naming the close ones.
    pub fn check(&self, t: &Table) -> Result<(), String> {
        for c in [Some(&self.x), Some(&self.y), self.per.as_ref()]
            .into_iter()
            .flatten()
        {
            if !t.has(c) {
                let tail = c.rsplit('.').next().unwrap_or(c);
                let close: Vec<String> = (t.header().into_iter())
                    .filter(|h| h.ends_with(tail))
                    .take(6)
                    .collect();
                let hint = if close.is_empty() {
                    format!(
                        " (columns are the varied keys, outcome, the summary's figures such \
                         as {}, and wall_ms: see the CSV's header)",
                        t.figures.first().map_or("seed", String::as_str)
                    )
                } else {
                    format!(" (close: {})", close.join(", "))
                };
                return Err(format!("--plot: no column `{c}` in the sweep{hint}"));
            }
        }
        Ok(())
    }
}

/// One line: its label and (x, y) points, sorted by x.
struct Series {
    label: String,
    points: Vec<(f64, f64)>,
}

/// The chart as an SVG document.
pub fn svg(t: &Table, spec: &PlotSpec, log_x: bool, title: &str) -> Result<String, String> {
    spec.check(t)?;
    // x as numbers, or as categories in order of appearance.
    let numeric = t.rows.iter().all(|r| t.number(r, &spec.x).is_some());
    let mut categories: Vec<String> = Vec::new();
    let x_of = |r: &Row, cats: &mut Vec<String>| -> Option<f64> {
        if numeric {
            return t.number(r, &spec.x);
        }
        let label = cell(t, r, &spec.x);
        let i = cats.iter().position(|c| *c == label).unwrap_or_else(|| {
            cats.push(label);
            cats.len() - 1
        });
        Some(i as f64)
    };
    let others: Vec<usize> = (0..t.keys.len()).filter(|&i| t.keys[i] != spec.x).collect();
    let mut series: Vec<Series> = Vec::new();
    for r in &t.rows {
        let label = others
            .iter()
            .map(|&i| format!("{}={}", t.keys[i], r.values.get(i).map_or("", |v| v)))
            .collect::<Vec<_>>()
            .join(", ");
        let x = x_of(r, &mut categories);
        let y = t.number(r, &spec.y).and_then(|y| match &spec.per {
            None => Some(y),
            Some(p) => t.number(r, p).filter(|d| *d != 0.0).map(|d| y / d),
        });
        let (Some(x), Some(y)) = (x, y) else { continue };
        if !x.is_finite() || !y.is_finite() || (log_x && x <= 0.0) {
            continue;
        }
        match series.iter_mut().find(|s| s.label == label) {
            Some(s) => s.points.push((x, y)),
            None => series.push(Series {
                label,
                points: vec![(x, y)],
            }),
        }
    }
    for s in &mut series {
        s.points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let all = || series.iter().flat_map(|s| s.points.iter());
    if all().next().is_none() {
        return Err("--plot: no point has both an x and a y to plot".into());
    }
    let x_lo = all().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let x_hi = all().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
    let y_hi = all().map(|p| p.1).fold(0.0, f64::max);
    let y_lo = all().map(|p| p.1).fold(0.0, f64::min);
    let y_hi = if y_hi > y_lo { y_hi * 1.08 } else { y_lo + 1.0 };
    let sizes = t.keys.contains(&spec.x)
        && t.rows
            .iter()
            .all(|r| cell(t, r, &spec.x).ends_with('B') || !numeric);
    let x_fmt = |v: &f64| -> String {
        if !numeric {
            let i = v.round();
            return if (v - i).abs() < 1e-6 && i >= 0.0 {
                categories.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            };
        }
        if sizes {
            bytes_axis(*v)
        } else {
            format!("{v}")
        }
    };
    let e = |e: &dyn std::fmt::Display| format!("the plot could not be drawn: {e}");
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (900, 540)).into_drawing_area();
        root.fill(&WHITE).map_err(|x| e(&x))?;
        let mut builder = ChartBuilder::on(&root);
        builder
            .caption(title, ("sans-serif", 18))
            .margin(14)
            // Room for the last x label, centred on the right edge.
            .margin_right(36)
            .x_label_area_size(44)
            .y_label_area_size(80);
        let y_fmt = |v: &f64| format!("{v:.3}");
        let (lo, hi) = if x_hi > x_lo {
            (x_lo, x_hi)
        } else {
            (x_lo - 1.0, x_hi + 1.0)
        };
        macro_rules! draw {
            ($chart:expr) => {{
                let mut chart = $chart;
                let mut mesh = chart.configure_mesh();
                mesh.x_desc(spec.x.as_str())
                    .y_desc(spec.y_label())
                    .x_label_formatter(&x_fmt)
                    .y_label_formatter(&y_fmt)
                    .light_line_style(RGBColor(240, 240, 240));
                if !numeric {
                    mesh.x_labels(categories.len().max(2));
                }
                mesh.draw().map_err(|x| e(&x))?;
                for (i, s) in series.iter().enumerate() {
                    let color = PALETTE[i % PALETTE.len()];
                    let label = if s.label.is_empty() {
                        spec.y_label()
                    } else {
                        s.label.clone()
                    };
                    chart
                        .draw_series(LineSeries::new(
                            s.points.iter().copied(),
                            color.stroke_width(2),
                        ))
                        .map_err(|x| e(&x))?
                        .label(label)
                        .legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                        });
                    chart
                        .draw_series(s.points.iter().map(|&p| Circle::new(p, 3, color.filled())))
                        .map_err(|x| e(&x))?;
                }
                chart
                    .configure_series_labels()
                    .position(SeriesLabelPosition::UpperRight)
                    .background_style(WHITE.mix(0.85))
                    .border_style(BLACK)
                    .draw()
                    .map_err(|x| e(&x))?;
            }};
        }
        if log_x && numeric && lo > 0.0 {
            // Sizes double: ticks at powers of two (1 KiB, 2 KiB, ...),
            // where powers of ten would read "98 KiB", "977 KiB".
            let x = (lo..hi).log_scale().base(if sizes { 2.0 } else { 10.0 });
            draw!(builder
                .build_cartesian_2d(x, y_lo..y_hi)
                .map_err(|x| e(&x))?);
        } else {
            let pad = if numeric { 0.0 } else { 0.3 };
            draw!(builder
                .build_cartesian_2d((lo - pad)..(hi + pad), y_lo..y_hi)
                .map_err(|x| e(&x))?);
        }
        root.present().map_err(|x| e(&x))?;
    }
    Ok(out)
}

/// The text of column `name` in row `r` (a varied value, or a figure).
fn cell(t: &Table, r: &Row, name: &str) -> String {
    if let Some(i) = t.keys.iter().position(|k| k == name) {
        return r.values.get(i).cloned().unwrap_or_default();
    }
    (r.figures.iter())
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn table() -> Table {
        let mut rows = Vec::new();
        for send in ["write", "msg_zerocopy"] {
            for (ws, cpu) in [("1KiB", 10), ("2KiB", 8), ("4KiB", 5)] {
                rows.push(Row {
                    values: vec![send.into(), ws.into()],
                    outcome: "ok".into(),
                    figures: vec![
                        ("hosts.s.cpu_busy_ns".into(), json!(cpu)),
                        ("flows[0].bytes_received".into(), json!(100)),
                    ],
                    wall_ms: None,
                });
            }
        }
        Table::new(vec!["send".into(), "ws".into()], rows)
    }

    #[test]
    fn the_plot_has_a_line_per_other_value_and_a_log_axis() {
        let t = table();
        let d = PlotSpec::default_for("ws", "s");
        let spec = PlotSpec::parse("x=ws", &d).unwrap();
        let svg = svg(&t, &spec, true, "sweep").unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("send=write") && svg.contains("send=msg_zerocopy"));
        let by_send = PlotSpec::parse("x=send,y=hosts.s.cpu_busy_ns", &d).unwrap();
        assert!(super::svg(&t, &by_send, false, "t").is_ok());
    }

    #[test]
    fn a_doubling_size_axis_has_its_ticks_at_powers_of_two() {
        let rows = (0..=10)
            .map(|k| Row {
                values: vec![format!("{}KiB", 1u32 << k)],
                outcome: "ok".into(),
                figures: vec![("hosts.s.cpu_busy_ns".into(), json!(100 - k))],
                wall_ms: None,
            })
            .collect();
        let t = Table::new(vec!["ws".into()], rows);
        let d = PlotSpec::default_for("ws", "s");
        let spec = PlotSpec::parse("x=ws,y=hosts.s.cpu_busy_ns", &d).unwrap();
        let svg = svg(&t, &spec, true, "sweep").unwrap();
        // The texts between the elements, tick labels among them.
        let texts: Vec<&str> = svg.split(['<', '>']).map(str::trim).collect();
        let ticks: Vec<&str> = texts.iter().copied().filter(|t| t.ends_with('B')).collect();
        let want: Vec<String> = (0..10).map(|k| format!("{} KiB", 1 << k)).collect();
        assert_eq!(ticks[..10], want);
        assert_eq!(ticks[10..], ["1.0 MiB"]);
    }

    #[test]
    fn bad_plots_are_refused_with_the_reason() {
        let t = table();
        let d = PlotSpec::default_for("ws", "s");
        for (arg, says) in [
            ("x", "--plot takes"),
            ("z=1", "unknown"),
            ("y=a/", "--plot takes"),
        ] {
            let e = PlotSpec::parse(arg, &d).unwrap_err();
            assert!(e.contains(says), "{arg}: {e}");
        }
        let spec = PlotSpec::parse("y=cpu_busy_ns", &d).unwrap();
        let e = svg(&t, &spec, false, "t").unwrap_err();
        assert!(e.contains("no column `cpu_busy_ns`") && e.contains("hosts.s.cpu_busy_ns"));
    }
}
