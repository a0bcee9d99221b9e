//! `simnet compare`: two runs' figures side by side, with their ratio, the
//! largest differences first.
//!
//! Owns which figures are compared (per host: data copies and copies per
//! delivered byte, CPU per MiB delivered by category, syscalls, pins,
//! descriptors, IRQs, DMA; per flow: goodput, write latency percentiles,
//! retransmissions; the run's virtual time), how a difference is ranked and
//! how the comparison is written: text of at most 100 columns, or JSON.
//! Does not run anything or read scenarios (the CLI does, and passes the two
//! reports).
//!
//! Hosts are matched by name and flows by index; a host or flow only one
//! run has is left out (the text says how many). "Per delivered byte" and
//! "per MiB" divide by the bytes every flow's receiving application read in
//! that run. A difference is ranked by |ln(B/A)|; a figure that is zero in
//! one run and not in the other ranks above any ratio; equal figures are
//! not printed (the JSON keeps every figure).

use crate::brief::grouped;
use crate::output::{human_bytes, human_ns, human_rate, RunJson};
use serde::Serialize;
use simnet_sim::event::CpuCategory;
use simnet_sim::report::RunReport;
use std::cmp::Ordering;
use std::fmt::Write as _;

/// How a figure is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Bytes,
    Count,
    Ns,
    BitsPerSecond,
    /// A plain number, such as copied bytes per delivered byte.
    Ratio,
}

impl Unit {
    fn show(self, v: f64) -> String {
        let n = v.round().max(0.0) as u64;
        match self {
            Unit::Bytes => human_bytes(n),
            Unit::Count => grouped(n),
            Unit::Ns => human_ns(n),
            Unit::BitsPerSecond => human_rate(n),
            Unit::Ratio => format!("{v:.3}"),
        }
    }
}

/// One figure of both runs.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// `host NAME`, `flow N FROM->TO` (A's names) or `run`.
    pub scope: String,
    pub figure: String,
    pub unit: Unit,
    pub a: f64,
    pub b: f64,
    /// `b / a`, or `None` when `a` is zero.
    pub ratio: Option<f64>,
}

impl Row {
    fn new(scope: &str, figure: &str, unit: Unit, a: f64, b: f64) -> Row {
        Row {
            scope: scope.to_string(),
            figure: figure.to_string(),
            unit,
            a,
            b,
            ratio: (a != 0.0).then(|| b / a),
        }
    }

    /// How far apart the two are: |ln(b/a)|, infinite when one is zero
    /// and the other not, zero when equal.
    fn distance(&self) -> f64 {
        if self.a == self.b {
            0.0
        } else if self.a == 0.0 || self.b == 0.0 {
            f64::INFINITY
        } else {
            (self.b / self.a).ln().abs()
        }
    }

    fn ratio_text(&self) -> String {
        match self.ratio {
            _ if self.a == self.b => "=".into(),
            None => "new".into(),
            _ if self.b == 0.0 => "0".into(),
            Some(r) if r >= 100.0 => format!("{r:.0}x"),
            Some(r) if r >= 10.0 => format!("{r:.1}x"),
            Some(r) => format!("{r:.2}x"),
        }
    }
}

/// The comparison, as `--json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub a: RunJson,
    pub b: RunJson,
    pub a_outcome: &'static str,
    pub b_outcome: &'static str,
    /// Every figure, the largest difference first.
    pub rows: Vec<Row>,
    /// Hosts and flows only one run has (not compared).
    pub unmatched: Vec<String>,
}

/// Bytes every flow's receiving application read.
fn delivered(r: &RunReport) -> u64 {
    r.flows.iter().map(|f| f.bytes_received).sum()
}

/// Compares run `b` with run `a` (`ja`, `jb` say what each was).
pub fn compare(a: &RunReport, b: &RunReport, ja: RunJson, jb: RunJson) -> Comparison {
    let (da, db) = (delivered(a) as f64, delivered(b) as f64);
    let per_byte = |v: u64, d: f64| if d > 0.0 { v as f64 / d } else { 0.0 };
    let per_mib = |v: u64, d: f64| {
        if d > 0.0 {
            v as f64 * 1_048_576.0 / d
        } else {
            0.0
        }
    };
    let mut rows = vec![Row::new(
        "run",
        "virtual time",
        Unit::Ns,
        a.simulated_ns as f64,
        b.simulated_ns as f64,
    )];
    let mut unmatched = Vec::new();
    for ha in &a.hosts {
        let Some(hb) = b.hosts.iter().find(|h| h.name == ha.name) else {
            unmatched.push(format!("host {} (only in A)", ha.name));
            continue;
        };
        let scope = format!("host {}", ha.name);
        let c = |v: u64| v as f64;
        let (ca, cb) = (ha.data_copies(), hb.data_copies());
        let mut push = |figure: &str, unit: Unit, x: f64, y: f64| {
            rows.push(Row::new(&scope, figure, unit, x, y));
        };
        push("data copies (bytes)", Unit::Bytes, c(ca.bytes), c(cb.bytes));
        push("data copies", Unit::Count, c(ca.count), c(cb.count));
        push(
            "copied bytes per delivered byte",
            Unit::Ratio,
            per_byte(ca.bytes, da),
            per_byte(cb.bytes, db),
        );
        push(
            "copybreak copies",
            Unit::Count,
            c(ha.copybreak_copies().count),
            c(hb.copybreak_copies().count),
        );
        push(
            "CPU busy per MiB",
            Unit::Ns,
            per_mib(ha.cpu_busy_ns, da),
            per_mib(hb.cpu_busy_ns, db),
        );
        for ((cat, x), (_, y)) in ha.cpu_by_category().into_iter().zip(hb.cpu_by_category()) {
            if cat == CpuCategory::None {
                continue;
            }
            let figure = format!("CPU {} per MiB", cat.name());
            push(&figure, Unit::Ns, per_mib(x, da), per_mib(y, db));
        }
        push("syscalls", Unit::Count, c(ha.syscalls()), c(hb.syscalls()));
        push(
            "pinned pages",
            Unit::Count,
            c(ha.pinned_pages()),
            c(hb.pinned_pages()),
        );
        push(
            "zero-copy completions",
            Unit::Count,
            c(ha.completions()),
            c(hb.completions()),
        );
        push(
            "Tx descriptors",
            Unit::Count,
            c(ha.tx_descriptors()),
            c(hb.tx_descriptors()),
        );
        push(
            "Rx descriptors",
            Unit::Count,
            c(ha.rx_descriptors()),
            c(hb.rx_descriptors()),
        );
        push("IRQs", Unit::Count, c(ha.irqs()), c(hb.irqs()));
        push(
            "software checksum bytes",
            Unit::Bytes,
            c(ha.checksum_cpu_bytes()),
            c(hb.checksum_cpu_bytes()),
        );
        push(
            "DMA read",
            Unit::Bytes,
            c(ha.dma_read_bytes()),
            c(hb.dma_read_bytes()),
        );
        push(
            "DMA write",
            Unit::Bytes,
            c(ha.dma_write_bytes()),
            c(hb.dma_write_bytes()),
        );
    }
    unmatched.extend(
        (b.hosts.iter())
            .filter(|h| !a.hosts.iter().any(|x| x.name == h.name))
            .map(|h| format!("host {} (only in B)", h.name)),
    );
    for (i, (fa, fb)) in a.flows.iter().zip(&b.flows).enumerate() {
        let scope = format!("flow {i} {}->{}", fa.from, fa.to);
        let c = |v: u64| v as f64;
        let mut push = |figure: &str, unit: Unit, x: f64, y: f64| {
            rows.push(Row::new(&scope, figure, unit, x, y));
        };
        push(
            "goodput",
            Unit::BitsPerSecond,
            c(fa.goodput_bps()),
            c(fb.goodput_bps()),
        );
        let (la, lb) = (fa.write_latency, fb.write_latency);
        push("write latency p50", Unit::Ns, c(la.p50), c(lb.p50));
        push("write latency p99", Unit::Ns, c(la.p99), c(lb.p99));
        push("write latency max", Unit::Ns, c(la.max), c(lb.max));
        push(
            "retransmitted segments",
            Unit::Count,
            c(fa.retransmitted_segments),
            c(fb.retransmitted_segments),
        );
        push("send calls", Unit::Count, c(fa.writes), c(fb.writes));
    }
    let (na, nb) = (a.flows.len(), b.flows.len());
    if na != nb {
        let (more, which) = if na > nb { (na, "A") } else { (nb, "B") };
        unmatched.push(format!("flows {}..{more} (only in {which})", na.min(nb)));
    }
    // Largest difference first; ties keep the order above.
    rows.sort_by(|x, y| {
        y.distance()
            .partial_cmp(&x.distance())
            .unwrap_or(Ordering::Equal)
    });
    Comparison {
        a: ja,
        b: jb,
        a_outcome: a.outcome.name(),
        b_outcome: b.outcome.name(),
        rows,
        unmatched,
    }
}

/// At most this many characters of a scope or figure.
const SCOPE: usize = 24;
const FIGURE: usize = 31;

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// What one side was, on one line (wrapped to 100 columns).
fn side(name: &str, r: &RunJson, outcome: &str) -> String {
    let mut s = format!(
        "{name}: {} ({}, seed {}, outcome {outcome})",
        r.scenario, r.source, r.seed
    );
    for set in &r.sets {
        let _ = write!(s, " --set {set}");
    }
    let mut text = crate::output::wrap(&s, crate::brief::WIDTH, "   ")
        .trim_start()
        .to_string();
    text.push('\n');
    text
}

/// The comparison as text: at most 100 columns.
pub fn render(c: &Comparison) -> String {
    let mut o = String::new();
    o.push_str(&side("A", &c.a, c.a_outcome));
    o.push_str(&side("B", &c.b, c.b_outcome));
    o.push_str(&crate::output::wrap(
        "per delivered byte and per MiB: divided by the bytes every flow's receiver read in \
         that run; largest differences first (B/A: \"new\" where A is 0)",
        crate::brief::WIDTH,
        "",
    ));
    let _ = writeln!(
        o,
        "\n\n{:<SCOPE$} {:<FIGURE$} {:>14} {:>14} {:>9}",
        "scope", "figure", "A", "B", "B/A"
    );
    let mut equal = 0;
    for r in &c.rows {
        if r.a == r.b {
            equal += 1;
            continue;
        }
        let _ = writeln!(
            o,
            "{:<SCOPE$} {:<FIGURE$} {:>14} {:>14} {:>9}",
            cut(&r.scope, SCOPE),
            cut(&r.figure, FIGURE),
            r.unit.show(r.a),
            r.unit.show(r.b),
            r.ratio_text()
        );
    }
    if equal > 0 {
        let _ = writeln!(
            o,
            "{equal} more figures are equal in both runs (--json lists them)"
        );
    }
    for u in &c.unmatched {
        let _ = writeln!(o, "not compared: {u}");
    }
    o
}
