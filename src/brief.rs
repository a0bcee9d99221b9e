//! The report `simnet run` prints by default: one a student can read.
//!
//! Owns its layout: at most [`WIDTH`] columns whatever the scenario (long
//! kernel-function names and prose wrap onto indented lines), every host's
//! rows grouped by stage in the order of [`STAGES`] under a one-line
//! heading that says what the stage is, counts with thousands separators,
//! CPU copies of the data told apart from copybreak copies of small frames
//! (a zero-copy sender copies none of its data, however many ACKs its
//! driver copies), and a table of the flows when there are several. Ends
//! with how to learn what a row means (`simnet explain`) and how to see
//! every figure (`--full`).
//!
//! Does not compute anything the model did not report, and does not own the
//! complete table (`--full`) or the JSON summary: both are
//! [`crate::output`]'s, as are the units ([`human_bytes`], ...).

use std::fmt::Write as _;

use simnet_sim::event::{Step, STAGES};
use simnet_sim::report::{FlowReport, HostReport, Integrity, KernelSide, RunReport, SwitchReport};

use crate::output::{host_stage_rows, human_bytes, human_ns, human_rate, printable};

/// The widest line the report prints.
pub const WIDTH: usize = 100;

/// How many flows the flow table shows before it summarises the rest.
const FLOW_ROWS: usize = 20;

/// `n` with thousands separators: `2,993`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Writes `text` in lines of at most [`WIDTH`] characters: the first line
/// starts with `first`, the others with `rest`. Lines break between
/// clauses (after a `,`, `;` or `:`) where they can, between words where
/// a clause is longer than a line; a word longer than a line (a path) gets
/// a line of its own. A figure and its unit never part: `human_*` values
/// are written with no-break spaces ([`nb`]).
fn para(o: &mut String, first: &str, rest: &str, text: &str) {
    // Clauses: runs of words, each ending after punctuation.
    let mut clauses: Vec<Vec<&str>> = vec![Vec::new()];
    for word in text.split_whitespace() {
        let clause = clauses.last_mut().expect("one at least");
        clause.push(word);
        if word.ends_with([',', ';', ':']) {
            clauses.push(Vec::new());
        }
    }
    let mut w = Lines {
        o,
        rest,
        line: String::from(first),
        prefix: first.chars().count(),
        fresh: true,
    };
    for clause in clauses.iter().filter(|c| !c.is_empty()) {
        let need = clause.iter().map(|w| w.chars().count()).sum::<usize>() + clause.len() - 1;
        let used = w.line.chars().count();
        let fits_here = used + usize::from(!w.fresh) + need <= WIDTH;
        let fits_next = rest.chars().count() + need <= WIDTH;
        // The whole clause on the next line, unless that would leave this
        // one nearly empty.
        let worth = (used - w.prefix) * 3 >= WIDTH.saturating_sub(w.prefix);
        if !fits_here && !w.fresh && fits_next && worth {
            w.break_line();
        }
        for word in clause {
            w.word(word);
        }
    }
    w.o.push_str(w.line.trim_end());
    w.o.push('\n');
}

/// The line [`para`] is filling.
struct Lines<'a> {
    o: &'a mut String,
    rest: &'a str,
    line: String,
    /// Characters of the line's indent.
    prefix: usize,
    /// Nothing but the indent yet.
    fresh: bool,
}

impl Lines<'_> {
    fn break_line(&mut self) {
        self.o.push_str(&self.line);
        self.o.push('\n');
        self.line = String::from(self.rest);
        self.prefix = self.rest.chars().count();
        self.fresh = true;
    }

    fn word(&mut self, word: &str) {
        let used = self.line.chars().count();
        if !self.fresh && used + 1 + word.chars().count() > WIDTH {
            self.break_line();
        }
        if !self.fresh {
            self.line.push(' ');
        }
        self.line.push_str(word);
        self.fresh = false;
    }
}

/// `text` with no-break spaces: [`para`] keeps it on one line, and
/// [`report`] writes them as spaces.
fn nb(text: String) -> String {
    text.replace(' ', "\u{a0}")
}

fn bytes(n: u64) -> String {
    nb(human_bytes(n))
}

fn ns(n: u64) -> String {
    nb(human_ns(n))
}

fn rate(bps: u64) -> String {
    nb(human_rate(bps))
}

/// The default report.
pub fn report(r: &RunReport, description: &str, captures: &[String]) -> String {
    let mut o = String::new();
    crate::output::run_header(&mut o, r, description);
    if let Some(why) = &r.why {
        para(&mut o, "  ", "  ", &printable(why));
    }
    let widths = widths(&r.hosts);
    for h in &r.hosts {
        host_section(&mut o, r, h, widths);
    }
    o.push('\n');
    if r.flows.len() == 1 {
        flow_block(&mut o, &r.flows[0]);
    } else {
        flows_section(&mut o, &r.flows);
    }
    let w = &r.wire;
    para(
        &mut o,
        "wire: ",
        "  ",
        &format!(
            "{} frames, {}, dropped {}, duplicated {}, reordered {}, corrupted {}",
            grouped(w.frames),
            bytes(w.bytes),
            grouped(w.dropped),
            grouped(w.duplicated),
            grouped(w.reordered),
            grouped(w.corrupted)
        ),
    );
    if let Some(s) = &r.switch {
        switch_section(&mut o, s);
    }
    para(&mut o, "bottleneck: ", "  ", &printable(&r.bottleneck));
    if r.flows.iter().any(|f| f.retransmitted_segments > 0) {
        let note = crate::output::wrap(crate::output::SMOLTCP_RECOVERY, WIDTH, "");
        let _ = writeln!(o, "{note}");
    }
    for c in captures {
        para(&mut o, "capture: ", "  ", &printable(c));
    }
    o.push_str(
        "costs are teaching defaults (simnet explain costs), not measurements of one machine.\n",
    );
    o.push_str(
        "what a row means: simnet explain WORD (a kind, step or kernel function); \
         every figure: --full\n",
    );
    o.replace('\u{a0}', " ")
}

/// One formatted row: kind, count, bytes, CPU, and what it models.
struct Row {
    step: Step,
    count: String,
    bytes: String,
    cpu: String,
}

/// The rows of a host: every step that happened there, as the complete
/// table has them, with counts grouped and units unbroken.
fn rows(h: &HostReport) -> Vec<Row> {
    (host_stage_rows(h))
        .map(|r| Row {
            step: r.step,
            count: grouped(r.count),
            bytes: nb(r.bytes),
            cpu: nb(r.cpu),
        })
        .collect()
}

/// Widths of the count, bytes and CPU columns: one for every host, so that
/// their tables line up.
fn widths(hosts: &[HostReport]) -> (usize, usize, usize) {
    let all: Vec<Row> = hosts.iter().flat_map(rows).collect();
    let width = |f: fn(&Row) -> &str, min: usize| {
        all.iter()
            .map(|r| f(r).chars().count())
            .max()
            .unwrap_or(0)
            .max(min)
    };
    (
        width(|r| &r.count, 5),
        width(|r| &r.bytes, 5),
        width(|r| &r.cpu, 3),
    )
}

/// One host: its rows under their stages' headings, then its totals.
fn host_section(
    o: &mut String,
    r: &RunReport,
    h: &HostReport,
    (cw, bw, pw): (usize, usize, usize),
) {
    o.push('\n');
    para(o, "host ", "    ", &printable(&h.name));
    let rows = rows(h);
    let kw = 14;
    let _ = writeln!(
        o,
        "    {:<kw$}  {:>cw$}  {:>bw$}  {:>pw$}  models",
        "kind", "count", "bytes", "cpu"
    );
    // Stages in report order; a step of a stage the table does not list
    // (none today) still gets a heading of its own.
    let mut order: Vec<&str> = STAGES.iter().map(|s| s.name).collect();
    for r in &rows {
        if !order.contains(&r.step.stage()) {
            order.push(r.step.stage());
        }
    }
    for stage in order {
        let mut in_stage = rows.iter().filter(|r| r.step.stage() == stage).peekable();
        if in_stage.peek().is_none() {
            continue;
        }
        match simnet_sim::event::stage(stage) {
            Some(s) => para(o, &format!("  {} — ", s.name), "      ", s.heading),
            None => {
                let _ = writeln!(o, "  {stage}");
            }
        }
        for r in in_stage {
            let prefix = format!(
                "    {:<kw$}  {:>cw$}  {:>bw$}  {:>pw$}  ",
                r.step.kind().name(),
                r.count,
                r.bytes,
                r.cpu
            );
            let indent = " ".repeat(prefix.chars().count());
            para(o, &prefix, &indent, r.step.models());
        }
    }
    host_totals(o, r, h);
}

/// A host's CPU, copies, pins, DMA and descriptor totals.
fn host_totals(o: &mut String, r: &RunReport, h: &HostReport) {
    let cats: Vec<String> = (h.cpu_by_category().into_iter())
        .filter(|&(_, ns)| ns > 0)
        .map(|(c, t)| format!("{} {}", c.name(), ns(t)))
        .collect();
    let busy = if r.simulated_ns > 0 {
        h.cpu_busy_ns as f64 * 100.0 / r.simulated_ns as f64
    } else {
        0.0
    };
    let mut cpu = format!("CPU busy {} ({busy:.0}% of the run)", ns(h.cpu_busy_ns));
    if !cats.is_empty() {
        let _ = write!(cpu, ": {}", cats.join(", "));
    }
    para(o, "  ", "    ", &cpu);
    if h.cpu_past_end_ns > 0 {
        para(
            o,
            "  ",
            "    ",
            &format!(
                "(a further {} of work started before the end would have finished after it; \
                 the rows include it)",
                ns(h.cpu_past_end_ns)
            ),
        );
    }
    let data = h.data_copies();
    let mut copies = if data.count == 0 {
        "data copies: 0 B".to_string()
    } else {
        format!(
            "data copies: {} in {} copies",
            bytes(data.bytes),
            grouped(data.count)
        )
    };
    let small = h.copybreak_copies();
    if small.count > 0 {
        let _ = write!(
            copies,
            "; copybreak copies of small frames: {} ({}, e1000_copybreak)",
            grouped(small.count),
            bytes(small.bytes)
        );
    }
    para(o, "  ", "    ", &copies);
    if h.pinned_pages() + h.unpinned_pages() + h.completions() > 0 {
        para(
            o,
            "  ",
            "    ",
            &format!(
                "pages pinned {}, unpinned {}; zero-copy completions {} for {} sends",
                grouped(h.pinned_pages()),
                grouped(h.unpinned_pages()),
                grouped(h.completions()),
                grouped(h.zerocopy_sends())
            ),
        );
    }
    para(
        o,
        "  ",
        "    ",
        &format!(
            "checksummed by CPU {}; DMA read {}, write {}; descriptors Tx {}, Rx {}",
            bytes(h.checksum_cpu_bytes()),
            bytes(h.dma_read_bytes()),
            bytes(h.dma_write_bytes()),
            grouped(h.tx_descriptors()),
            grouped(h.rx_descriptors())
        ),
    );
    para(
        o,
        "  ",
        "    ",
        &format!(
            "IRQs {}, NAPI polls {}, Rx ring drops {}, pure ACKs sent {}",
            grouped(h.irqs()),
            grouped(h.napi_polls()),
            grouped(h.rx_ring_drops()),
            grouped(h.acks_sent())
        ),
    );
    if h.gso_segments > 0 || h.gro_merges > 0 {
        para(
            o,
            "  ",
            "    ",
            &format!(
                "segmentation: {} frames cut from super-segments (TSO/GSO); GRO merged {} \
                 frames, saving {} of per-packet stack CPU",
                grouped(h.gso_segments),
                grouped(h.gro_merges),
                ns(h.gro_saved_ns)
            ),
        );
    }
    if h.pool_peak_in_use > 0 {
        para(
            o,
            "  ",
            "    ",
            &format!(
                "send buffers: peak {} in use, {} never returned",
                grouped(h.pool_peak_in_use),
                grouped(h.leaked_buffers)
            ),
        );
    }
}

/// `from -> to:port`.
fn route(f: &FlowReport) -> String {
    format!("{} -> {}:{}", printable(&f.from), printable(&f.to), f.port)
}

fn integrity(f: &FlowReport) -> String {
    match f.integrity() {
        Integrity::Ok => "ok".into(),
        Integrity::Incomplete => format!(
            "INCOMPLETE, {} of {} arrived",
            bytes(f.bytes_received),
            bytes(f.bytes)
        ),
        Integrity::Mismatch => "MISMATCH".into(),
    }
}

/// The one flow of a run, in full.
fn flow_block(o: &mut String, f: &FlowReport) {
    para(
        o,
        "flow ",
        "    ",
        &format!("{} ({} / {})", route(f), f.send, f.recv),
    );
    para(
        o,
        "  ",
        "    ",
        &format!(
            "{} sent, {} received in {} writes / {} reads; retransmitted segments {}",
            bytes(f.bytes_sent),
            bytes(f.bytes_received),
            grouped(f.writes),
            grouped(f.reads),
            grouped(f.retransmitted_segments)
        ),
    );
    if f.kernel_side.is_some() {
        para(
            o,
            "  ",
            "    ",
            &format!("goodput {} (wall clock)", rate(f.goodput_bps())),
        );
    } else {
        para(
            o,
            "  ",
            "    ",
            &format!(
                "goodput {}; write latency (call -> peer read) p50 {}, p99 {}, max {}",
                rate(f.goodput_bps()),
                ns(f.write_latency.p50),
                ns(f.write_latency.p99),
                ns(f.write_latency.max)
            ),
        );
    }
    flow_notes(o, f, "  ", true);
    para(
        o,
        "  ",
        "    ",
        &format!(
            "integrity: {} (xxh3 written {:016x}, read {:016x})",
            integrity(f),
            f.sent_hash,
            f.received_hash
        ),
    );
}

/// A flow's lifetime violations, send buffers (with `pool`) and echo.
fn flow_notes(o: &mut String, f: &FlowReport, indent: &str, pool: bool) {
    let rest = format!("{indent}  ");
    for (i, v) in f.violations.iter().enumerate() {
        if i == 5 {
            let more = f.violations.len() - 5;
            let _ = writeln!(o, "{indent}... and {} more", grouped(more as u64));
            break;
        }
        para(
            o,
            indent,
            &rest,
            &format!(
                "LIFETIME VIOLATION: buffer {} rewritten at {}, send #{} (bytes \
                 {}..{}) in flight",
                v.buffer,
                ns(v.at),
                v.write,
                v.damaged.0,
                v.damaged.1
            ),
        );
    }
    if pool {
        let p = &f.pool_stats;
        para(
            o,
            indent,
            &rest,
            &format!(
                "send buffers ({} pool): {} allocated, {} hits, {} misses, {} waits, peak {} in \
                 use, {} never returned",
                f.pool,
                grouped(p.allocations),
                grouped(p.hits),
                grouped(p.misses),
                grouped(p.waits),
                grouped(p.peak_in_use),
                grouped(f.leaked_buffers)
            ),
        );
    }
    let echo = match (&f.echo, f.kernel_side) {
        (None, _) => None,
        (Some(e), Some(KernelSide::Sender)) => Some(format!(
            "echo: {} written back to the kernel's program (xxh3 {:016x})",
            bytes(e.bytes_written_back),
            e.written_back_hash
        )),
        (Some(e), Some(KernelSide::Receiver)) => Some(format!(
            "echo: {} read back from the kernel's program (xxh3 {:016x})",
            bytes(e.bytes_read_back),
            e.read_back_hash
        )),
        (Some(e), None) => Some(format!(
            "echo: {} written back, {} read back (xxh3 {:016x})",
            bytes(e.bytes_written_back),
            bytes(e.bytes_read_back),
            e.read_back_hash
        )),
    };
    if let Some(e) = echo {
        para(o, indent, &rest, &e);
    }
}

/// Several flows: a table of each one's figures, then what only some
/// flows have to say (violations, send buffers when they differ, echo).
fn flows_section(o: &mut String, flows: &[FlowReport]) {
    let all_ok = flows.iter().all(FlowReport::integrity_ok);
    let mut head = vec![
        "#",
        "flow",
        "send/recv",
        "received",
        "goodput",
        "p50",
        "p99",
        "retx",
    ];
    if !all_ok {
        head.push("integrity");
    }
    let shown = if flows.len() > FLOW_ROWS + 4 {
        FLOW_ROWS
    } else {
        flows.len()
    };
    let cells: Vec<Vec<String>> = (flows[..shown].iter().enumerate())
        .map(|(i, f)| {
            // A real kernel's calls are not seen.
            let latency = |t: u64| {
                if f.kernel_side.is_some() {
                    "-".to_string()
                } else {
                    ns(t)
                }
            };
            let mut row = vec![
                i.to_string(),
                route(f),
                format!("{}/{}", f.send, f.recv),
                bytes(f.bytes_received),
                rate(f.goodput_bps()),
                latency(f.write_latency.p50),
                latency(f.write_latency.p99),
                grouped(f.retransmitted_segments),
            ];
            if !all_ok {
                row.push(match f.integrity() {
                    Integrity::Ok => "ok".into(),
                    Integrity::Incomplete => "INCOMPLETE".into(),
                    Integrity::Mismatch => "MISMATCH".into(),
                });
            }
            row
        })
        .collect();
    let mut widths: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let total: usize = 2 + widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
    if total > WIDTH {
        // Names too long for a table: one block per flow.
        for f in flows {
            flow_block(o, f);
        }
        return;
    }
    let _ = writeln!(
        o,
        "flows: {} (write latency: call -> peer read; retx: retransmitted segments)",
        grouped(flows.len() as u64)
    );
    let line = |o: &mut String, row: &[String]| {
        let mut l = String::from("  ");
        for (i, (c, w)) in row.iter().zip(&widths).enumerate() {
            if i > 0 {
                l.push_str("  ");
            }
            // Names and words to the left, figures to the right.
            if matches!(i, 1 | 2 | 8) {
                let _ = write!(l, "{c:<w$}");
            } else {
                let _ = write!(l, "{c:>w$}");
            }
        }
        let _ = writeln!(o, "{}", l.trim_end());
    };
    line(o, &head.iter().map(|h| h.to_string()).collect::<Vec<_>>());
    for row in &cells {
        line(o, row);
    }
    if shown < flows.len() {
        let rest = &flows[shown..];
        let mut goodputs: Vec<u64> = flows.iter().map(FlowReport::goodput_bps).collect();
        goodputs.sort_unstable();
        let ok = flows.iter().filter(|f| f.integrity_ok()).count();
        para(
            o,
            "  ",
            "    ",
            &format!(
                "... and {} more flows (--full or --json lists each); all {}: {} received, \
                 goodput min {}, median {}, max {}; retransmitted segments {}; integrity ok \
                 for {}",
                grouped(rest.len() as u64),
                grouped(flows.len() as u64),
                bytes(flows.iter().map(|f| f.bytes_received).sum()),
                rate(goodputs[0]),
                rate(goodputs[goodputs.len() / 2]),
                rate(goodputs[goodputs.len() - 1]),
                grouped(flows.iter().map(|f| f.retransmitted_segments).sum()),
                grouped(ok as u64)
            ),
        );
    }
    if all_ok {
        let _ = writeln!(
            o,
            "  integrity: ok for every flow (--full shows their hashes)"
        );
    }
    // Send buffers are worth a line each when the flows' pools differ or
    // one of them had to wait, miss or lose a buffer.
    let pools_differ = flows.iter().any(|f| f.pool != flows[0].pool)
        || (flows.iter()).any(|f| f.pool_stats.misses + f.pool_stats.waits + f.leaked_buffers > 0);
    for (i, f) in flows.iter().enumerate() {
        let mut notes = String::new();
        flow_notes(&mut notes, f, "    ", pools_differ);
        if f.integrity() == Integrity::Incomplete {
            para(
                &mut notes,
                "    ",
                "      ",
                &format!("integrity: {}", integrity(f)),
            );
        }
        if !notes.is_empty() {
            para(
                o,
                &format!("  flow {i} "),
                "    ",
                &format!("({}):", route(f)),
            );
            o.push_str(&notes);
        }
    }
}

/// The switch: totals, then a row per egress port.
fn switch_section(o: &mut String, s: &SwitchReport) {
    para(
        o,
        "switch: ",
        "  ",
        &format!(
            "{} frames, {} forwarded, dropped {} (egress buffer full), deepest queue {} of {}",
            grouped(s.frames),
            bytes(s.bytes),
            grouped(s.dropped),
            bytes(s.peak_queue_bytes),
            bytes(s.buffer_bytes)
        ),
    );
    let name_w = (s.ports.iter())
        .map(|(to, _)| printable(to).chars().count())
        .max()
        .unwrap_or(0);
    for (to, p) in &s.ports {
        let line = format!(
            "  port -> {:<name_w$}  {:>9} frames  {:>10}  dropped {:>5}  deepest queue {}",
            printable(to),
            grouped(p.frames),
            human_bytes(p.bytes),
            grouped(p.dropped),
            human_bytes(p.peak_queue_bytes)
        );
        if line.chars().count() <= WIDTH {
            let _ = writeln!(o, "{line}");
        } else {
            para(o, "  ", "    ", &line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_with_thousands_separators() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(2993), "2,993");
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(grouped(u64::MAX), "18,446,744,073,709,551,615");
    }

    /// A flow with the Linux kernel at one end (a `[tap]` run, which the
    /// test suite cannot make without privileges) and one with absurdly
    /// long host names still fit the width.
    #[test]
    fn reports_of_tap_runs_and_long_names_fit_the_width() {
        use simnet_sim::config::{Scenario, SendPath};
        let mut sc = Scenario::two_hosts(1 << 20, 65536, SendPath::Write);
        sc.flows[0].echo = true;
        let mut r = simnet_sim::run(&sc, &mut simnet_sim::event::NoObserver).unwrap();
        for side in [KernelSide::Sender, KernelSide::Receiver] {
            r.flows[0].kernel_side = Some(side);
            let text = report(&r, "a description", &[]);
            assert!(text.contains("goodput"), "{text}");
            for l in text.lines() {
                assert!(l.chars().count() <= WIDTH, "{l:?}");
            }
        }
        let long = "h".repeat(70);
        r.hosts[0].name = long.clone();
        r.flows[0].from = long.clone();
        r.flows.push(r.flows[0].clone());
        r.bottleneck = format!("link {long} -> {long} (99% busy)");
        let text = report(&r, "", &[]);
        for l in text.lines() {
            assert!(l.chars().count() <= WIDTH, "{l:?}");
        }
    }

    #[test]
    fn paragraphs_wrap_at_the_width_with_their_indent() {
        let mut o = String::new();
        let text = "word ".repeat(60);
        para(&mut o, "first: ", "    ", &text);
        assert!(o.lines().count() > 2);
        assert!(o.lines().all(|l| l.chars().count() <= WIDTH), "{o}");
        assert!(o.lines().skip(1).all(|l| l.starts_with("    word")), "{o}");
        assert_eq!(o.split_whitespace().filter(|w| *w == "word").count(), 60);
        // A word longer than a line is kept whole, on a line of its own.
        let mut o = String::new();
        let long = "x".repeat(WIDTH + 10);
        para(&mut o, "capture: ", "  ", &format!("a {long} b"));
        assert_eq!(o.lines().count(), 3, "{o}");
    }
}
