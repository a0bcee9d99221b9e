//! `simnet run --html FILE`: the run as one self-contained HTML page.
//!
//! Owns the page: the summary (outcome, time, goodput, CPU, copies, the
//! bottleneck), the path of the bytes for each pair of hosts a flow joins
//! ([`path`]: every edge with its counts and bytes, copies in red), plots
//! over virtual time ([`plot`]: ring occupancy, CPU busy by category, frames
//! on the wire, and per flow the bytes in the send buffer, in flight and in
//! the receive queue, and the goodput), the per-stage table of each host,
//! and a section per flow. Everything is inline (CSS, SVG); the page has no
//! script and fetches nothing, so it opens offline and from a mail.
//!
//! Plots read the [`Series`] the recorder sampled (the same samples the
//! timeline's counters come from); the rest reads the [`RunReport`]. At
//! most [`MAX_PLOTTED`] hosts and flows get plots of their own; the tables
//! list every one. Text from the scenario is escaped ([`escape`]).

pub mod path;
pub mod plot;

use std::fmt::Write as _;

use simnet_sim::event::{CpuCategory, Kind};
use simnet_sim::report::{FlowReport, Integrity, RunReport};

use crate::output::{host_stage_rows, human_bytes, human_ns, human_rate, wire_figures, StageRow};
use crate::recorder::Series;
use plot::{Line, Plot, Style, PALETTE};

/// Hosts, flows and host pairs that get plots and diagrams of their own.
pub const MAX_PLOTTED: usize = 8;

/// `text` safe inside HTML or SVG text and attribute values.
pub fn escape(text: &str) -> String {
    let mut o = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => {
                let _ = write!(o, "&#x{:x};", c as u32);
            }
            c => o.push(c),
        }
    }
    o
}

/// A colour per CPU category, the same in every chart.
fn category_color(c: CpuCategory) -> plotters::style::RGBColor {
    use plotters::style::RGBColor;
    match c {
        CpuCategory::Syscall => RGBColor(255, 152, 0),
        CpuCategory::Copy => RGBColor(198, 40, 40),
        CpuCategory::Pin => RGBColor(251, 192, 45),
        CpuCategory::Checksum => RGBColor(124, 179, 66),
        CpuCategory::Stack => RGBColor(30, 136, 229),
        CpuCategory::Driver => RGBColor(94, 53, 177),
        CpuCategory::Interrupt => RGBColor(109, 76, 65),
        CpuCategory::None => RGBColor(158, 158, 158),
    }
}

const STYLE: &str = r#"
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; max-width: 1000px; padding: 16px 24px 48px; color: #222; background: #fff; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; border-bottom: 1px solid #ddd; padding-bottom: 4px; margin-top: 2em; }
h3 { font-size: 1.05em; margin-top: 1.5em; }
p.desc { color: #444; line-height: 1.4; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.copy td, td.copy { background: #fdecea; color: #b71c1c; }
.bad { color: #b71c1c; font-weight: 600; }
.ok { color: #2e7d32; font-weight: 600; }
.note { color: #666; font-size: 0.9em; }
svg { display: block; max-width: 100%; height: auto; margin: 8px 0 4px; }
.legend { font-size: 0.85em; margin: 0 0 20px 70px; }
.legend span { display: inline-block; margin-right: 16px; white-space: nowrap; }
.legend i { display: inline-block; width: 12px; height: 12px; margin-right: 5px; vertical-align: -1px; border-radius: 2px; }
svg.path .node { fill: #eef3fb; stroke: #5c7fb8; }
svg.path .node.wire { fill: #f3f3f3; stroke: #888; }
svg.path .node-label { font-size: 13px; fill: #1a2b4a; font-family: sans-serif; }
svg.path .host { font-size: 13px; font-weight: 600; fill: #444; font-family: sans-serif; }
svg.path .edge { stroke: #555; stroke-width: 1.5; }
svg.path .edge.copy { stroke: #c62828; stroke-width: 4; }
svg.path .edge-label { font-size: 11.5px; fill: #333; font-family: sans-serif; }
svg.path .edge-label.copy { fill: #c62828; font-weight: 700; }
svg.path .edge-label.none { fill: #999; font-style: italic; }
"#;

/// The whole page.
pub fn page(r: &RunReport, description: &str, series: &Series, captures: &[String]) -> String {
    let mut o = String::new();
    let name = escape(&r.scenario);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>simnet: {name}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
    );
    let _ = writeln!(o, "<h1>simnet: scenario {name} (seed {})</h1>", r.seed);
    if !description.is_empty() {
        let _ = writeln!(o, "<p class=\"desc\">{}</p>", escape(description));
    }
    summary(&mut o, r, captures);
    paths(&mut o, r);
    host_plots(&mut o, r, series);
    stage_tables(&mut o, r);
    flows(&mut o, r, series);
    let _ = writeln!(
        o,
        "<p class=\"note\">Plots are sampled every {} of virtual time ({} samples; \
         ring and queue levels are the values at each sample, not peaks between \
         them). Costs are teaching defaults (simnet explain costs), not measurements of one \
         machine. Written by simnet {}.</p>\n</body>\n</html>",
        human_ns(series.every()),
        series.len(),
        env!("CARGO_PKG_VERSION")
    );
    o
}

fn summary(o: &mut String, r: &RunReport, captures: &[String]) {
    let _ = writeln!(o, "<h2 id=\"summary\">Summary</h2>\n<table>");
    let outcome = r.outcome.name();
    let class = if outcome == "ok" { "ok" } else { "bad" };
    let real = r.flows.iter().any(|f| f.kernel_side.is_some());
    let mut row = |k: &str, v: String| {
        let _ = writeln!(o, "<tr><th>{k}</th><td>{v}</td></tr>");
    };
    row(
        "outcome",
        format!("<span class=\"{class}\">{outcome}</span>"),
    );
    if let Some(why) = &r.why {
        row("why", escape(why));
    }
    row(
        if real {
            "wall-clock time"
        } else {
            "virtual time"
        },
        human_ns(r.simulated_ns),
    );
    row("events", r.events.to_string());
    row("bottleneck", escape(&r.bottleneck));
    let w = &r.wire;
    row("wire", wire_figures(w));
    if let Some(s) = &r.switch {
        row(
            "switch",
            format!(
                "{} frames, {}; dropped {}; deepest queue {} of {}",
                s.frames,
                human_bytes(s.bytes),
                s.dropped,
                human_bytes(s.peak_queue_bytes),
                human_bytes(s.buffer_bytes)
            ),
        );
    }
    for c in captures {
        row("capture", escape(c));
    }
    o.push_str("</table>\n");
    // Hosts at a glance.
    o.push_str(
        "<table>\n<tr><th>host</th><th>CPU busy</th><th>data copies</th><th>copybreak copies</th>\
         <th>pages pinned</th>\
         <th>checksummed by CPU</th><th>DMA read / write</th><th>IRQs</th><th>NAPI polls</th></tr>\n",
    );
    for h in &r.hosts {
        let busy = if r.simulated_ns > 0 {
            h.cpu_busy_ns as f64 * 100.0 / r.simulated_ns as f64
        } else {
            0.0
        };
        // Copybreak copies small frames (mostly ACKs), not the data: apart,
        // as in the text report, so a zero-copy sender shows no data copy.
        let (data, small) = (h.data_copies(), h.copybreak_copies());
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td class=\"n\">{} ({busy:.0}%)</td><td class=\"n{}\">{} ({})</td>\
             <td class=\"n\">{} ({})</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{} / {}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(&h.name),
            human_ns(h.cpu_busy_ns),
            if data.count > 0 { " copy" } else { "" },
            data.count,
            human_bytes(data.bytes),
            small.count,
            human_bytes(small.bytes),
            h.pinned_pages(),
            human_bytes(h.checksum_cpu_bytes()),
            human_bytes(h.dma_read_bytes()),
            human_bytes(h.dma_write_bytes()),
            h.irqs(),
            h.napi_polls()
        );
    }
    o.push_str("</table>\n");
    // Flows at a glance.
    o.push_str(
        "<table>\n<tr><th>flow</th><th>paths</th><th>received</th><th>goodput</th>\
         <th>write latency p50 / p99</th><th>integrity</th></tr>\n",
    );
    for (i, f) in r.flows.iter().enumerate() {
        let _ = writeln!(
            o,
            "<tr><td><a href=\"#flow-{i}\">{i}: {} → {}:{}</a></td><td>{} / {}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{} / {}</td><td>{}</td></tr>",
            escape(&f.from),
            escape(&f.to),
            f.port,
            f.send,
            f.recv,
            human_bytes(f.bytes_received),
            human_rate(f.goodput_bps()),
            human_ns(f.write_latency.p50),
            human_ns(f.write_latency.p99),
            integrity(f)
        );
    }
    o.push_str("</table>\n");
}

fn integrity(f: &FlowReport) -> String {
    match f.integrity() {
        Integrity::Ok => "<span class=\"ok\">ok</span>".into(),
        Integrity::Incomplete => format!(
            "<span class=\"bad\">incomplete: {} of {}</span>",
            human_bytes(f.bytes_received),
            human_bytes(f.bytes)
        ),
        Integrity::Mismatch => "<span class=\"bad\">MISMATCH</span>".into(),
    }
}

/// One diagram per pair of hosts a flow joins (the first few).
fn paths(o: &mut String, r: &RunReport) {
    let _ = writeln!(
        o,
        "<h2 id=\"path\">The path of the bytes</h2>\n<p class=\"note\">Each edge shows \
         the steps counted there: how often and how many bytes (a host's counts cover \
         every flow it carries, both ways). Red edges are where the CPU copied the \
         bytes.</p>"
    );
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for f in &r.flows {
        let pair = (f.from.as_str(), f.to.as_str());
        if !pairs.contains(&pair) {
            pairs.push(pair);
        }
    }
    let host = |name: &str| r.hosts.iter().find(|h| h.name == name);
    for (from, to) in pairs.iter().take(MAX_PLOTTED) {
        let (Some(a), Some(b)) = (host(from), host(to)) else {
            continue;
        };
        let _ = writeln!(o, "<h3>{} → {}</h3>", escape(from), escape(to));
        o.push_str(&path::diagram((from, &a.counters), (to, &b.counters)));
        o.push('\n');
    }
    if pairs.len() > MAX_PLOTTED {
        let _ = writeln!(
            o,
            "<p class=\"note\">{} more pairs of hosts not drawn; the stage tables below \
             have every host.</p>",
            pairs.len() - MAX_PLOTTED
        );
    }
}

/// A plot, or a note saying why there is none.
fn chart(o: &mut String, p: &Plot) {
    match p.svg() {
        Ok(svg) => {
            o.push_str(&svg);
            o.push('\n');
            o.push_str(&p.legend());
            o.push('\n');
        }
        Err(why) => {
            let _ = writeln!(
                o,
                "<p class=\"note\">{}: {}</p>",
                escape(p.title),
                escape(&why)
            );
        }
    }
}

/// Points `(time, value(i))` for every sample.
fn points(s: &Series, value: impl Fn(usize) -> f64) -> Vec<(u64, f64)> {
    (0..s.len()).map(|i| (s.time(i), value(i))).collect()
}

/// Intervals a rate is averaged over: a 128th of the run, so bursts (a
/// read of 64 KiB at once) do not hide the trend.
fn rate_window(s: &Series) -> usize {
    (s.len() / 128).max(1)
}

/// Points of a rate: what `total` gained per ns over the `w` intervals
/// from each sample, times `scale` (at the window's start; the end of the
/// run has no interval after it).
fn rate_points(s: &Series, w: usize, scale: f64, total: impl Fn(usize) -> u64) -> Vec<(u64, f64)> {
    (0..s.len().saturating_sub(w))
        .step_by(w.max(1))
        .filter_map(|i| {
            let dt = s.time(i + w).saturating_sub(s.time(i));
            (dt > 0).then(|| {
                let d = total(i + w).saturating_sub(total(i));
                (s.time(i), d as f64 / dt as f64 * scale)
            })
        })
        .collect()
}

fn host_plots(o: &mut String, r: &RunReport, s: &Series) {
    let _ = writeln!(o, "<h2 id=\"over-time\">Over time</h2>");
    let hosts = r.hosts.len().min(s.hosts()).min(MAX_PLOTTED);
    let color = |i: usize| PALETTE[i % PALETTE.len()];
    let mut rings = Vec::new();
    for (h, host) in r.hosts.iter().enumerate().take(hosts) {
        rings.push(Line {
            label: format!("{}: Tx descriptors in use", host.name),
            color: color(2 * h),
            points: points(s, |i| s.host(i, h).tx_ring as f64),
        });
        rings.push(Line {
            label: format!("{}: Rx frames waiting for NAPI", host.name),
            color: color(2 * h + 1),
            points: points(s, |i| s.host(i, h).rx_filled as f64),
        });
    }
    chart(
        o,
        &Plot {
            title: "Descriptor ring occupancy",
            y_label: "descriptors",
            y_format: plot::count_axis,
            style: Style::Lines,
            lines: rings,
        },
    );
    for (h, host) in r.hosts.iter().enumerate().take(hosts) {
        let busy = s.cpu_percent(h);
        let lines = (CpuCategory::ALL.iter().enumerate())
            .map(|(k, &cat)| Line {
                label: cat.name().to_string(),
                color: category_color(cat),
                points: busy.iter().map(|(t, p)| (*t, p[k])).collect(),
            })
            .collect();
        let title = format!("CPU busy on {} by category", host.name);
        chart(
            o,
            &Plot {
                title: &title,
                y_label: "% of the CPU",
                y_format: plot::count_axis,
                style: Style::Stacked,
                lines,
            },
        );
    }
    let _ = writeln!(
        o,
        "<p class=\"note\">The model charges a task's CPU work when the task \
         starts; these plots spread it over the time the CPU then takes to run \
         it, so a CPU never shows more than 100% busy.</p>"
    );
    chart(
        o,
        &Plot {
            title: "Frames on the wires (in flight and queued)",
            y_label: "frames",
            y_format: plot::count_axis,
            style: Style::Lines,
            lines: vec![Line {
                label: "frames".into(),
                color: color(0),
                points: points(s, |i| s.wire_frames(i) as f64),
            }],
        },
    );
    if r.hosts.len() > hosts {
        let _ = writeln!(
            o,
            "<p class=\"note\">Only the first {hosts} hosts are plotted.</p>"
        );
    }
}

fn stage_tables(o: &mut String, r: &RunReport) {
    let _ = writeln!(
        o,
        "<h2 id=\"stages\">Stages</h2>\n<p class=\"note\">Every step that happened, per \
         host, in the order a byte meets them; CPU copies are red.</p>"
    );
    for h in &r.hosts {
        let _ = writeln!(
            o,
            "<h3>host {}</h3>\n<table>\n<tr><th>stage</th><th>kind</th><th>count</th>\
             <th>bytes</th><th>CPU</th><th>models</th></tr>",
            escape(&h.name)
        );
        for StageRow {
            step: st,
            count,
            bytes,
            cpu,
        } in host_stage_rows(h)
        {
            let _ = writeln!(
                o,
                "<tr{}><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{bytes}</td>\
                 <td class=\"n\">{cpu}</td><td>{}</td></tr>",
                if st.kind() == Kind::Copy {
                    " class=\"copy\""
                } else {
                    ""
                },
                st.stage(),
                st.kind().name(),
                count,
                escape(st.models())
            );
        }
        o.push_str("</table>\n");
        let cats: Vec<String> = (h.cpu_by_category().into_iter())
            .filter(|&(_, ns)| ns > 0)
            .map(|(c, ns)| format!("{} {}", c.name(), human_ns(ns)))
            .collect();
        let _ = writeln!(
            o,
            "<p class=\"note\">CPU busy {}: {}</p>",
            human_ns(h.cpu_busy_ns),
            cats.join(", ")
        );
    }
}

fn flows(o: &mut String, r: &RunReport, s: &Series) {
    let _ = writeln!(o, "<h2 id=\"flows\">Flows</h2>");
    for (i, f) in r.flows.iter().enumerate() {
        let _ = writeln!(
            o,
            "<h3 id=\"flow-{i}\">flow {i}: {} → {}:{} ({} / {})</h3>\n<table>",
            escape(&f.from),
            escape(&f.to),
            f.port,
            f.send,
            f.recv
        );
        let mut row = |k: &str, v: String| {
            let _ = writeln!(o, "<tr><th>{k}</th><td>{v}</td></tr>");
        };
        row(
            "moved",
            format!(
                "{} sent, {} received, in {} writes / {} reads",
                human_bytes(f.bytes_sent),
                human_bytes(f.bytes_received),
                f.writes,
                f.reads
            ),
        );
        row("goodput", human_rate(f.goodput_bps()));
        if f.kernel_side.is_none() {
            row(
                "write latency (call to peer read)",
                format!(
                    "p50 {}, p99 {}, max {}",
                    human_ns(f.write_latency.p50),
                    human_ns(f.write_latency.p99),
                    human_ns(f.write_latency.max)
                ),
            );
        }
        row(
            "retransmitted segments",
            f.retransmitted_segments.to_string(),
        );
        let p = &f.pool_stats;
        row(
            "send buffers",
            format!(
                "{} pool: {} allocated, {} hits, {} misses, {} waits, peak {} in use, {} never returned",
                f.pool, p.allocations, p.hits, p.misses, p.waits, p.peak_in_use, f.leaked_buffers
            ),
        );
        if !f.violations.is_empty() {
            row(
                "lifetime violations",
                format!(
                    "<span class=\"bad\">{} buffers rewritten while the kernel still held \
                     them (first: buffer {} at {})</span>",
                    f.violations.len(),
                    f.violations[0].buffer,
                    human_ns(f.violations[0].at)
                ),
            );
        }
        row(
            "integrity",
            format!(
                "{} (xxh3 written {:016x}, read {:016x})",
                integrity(f),
                f.sent_hash,
                f.received_hash
            ),
        );
        o.push_str("</table>\n");
        if i >= MAX_PLOTTED || i >= s.flows() {
            continue;
        }
        let queues = vec![
            Line {
                label: "send buffer (written, not acknowledged)".into(),
                color: PALETTE[0],
                points: points(s, |k| s.flow(k, i).send_queued() as f64),
            },
            Line {
                label: "in flight (sent, not acknowledged)".into(),
                color: PALETTE[1],
                points: points(s, |k| s.flow(k, i).in_flight() as f64),
            },
            Line {
                label: "receive queue (arrived, not read)".into(),
                color: PALETTE[2],
                points: points(s, |k| s.flow(k, i).recv_queued() as f64),
            },
        ];
        let title = format!("flow {i}: bytes queued and in flight");
        chart(
            o,
            &Plot {
                title: &title,
                y_label: "bytes",
                y_format: plot::bytes_axis,
                style: Style::Lines,
                lines: queues,
            },
        );
        let w = rate_window(s);
        let title = format!(
            "flow {i}: goodput (bytes read by the application, per {})",
            human_ns(s.every().saturating_mul(w as u64))
        );
        chart(
            o,
            &Plot {
                title: &title,
                y_label: "Gbit/s",
                y_format: plot::decimal_axis,
                style: Style::Lines,
                lines: vec![Line {
                    label: "goodput".into(),
                    color: PALETTE[3],
                    points: rate_points(s, w, 8.0, |k| s.flow(k, i).read),
                }],
            },
        );
    }
    if r.flows.len() > MAX_PLOTTED {
        let _ = writeln!(
            o,
            "<p class=\"note\">Only the first {MAX_PLOTTED} flows are plotted.</p>"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_leaves_nothing_that_opens_markup() {
        assert_eq!(
            escape("<script>alert('x') & \"y\"</script>\u{1b}"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;&#x1b;"
        );
    }
}
