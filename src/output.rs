//! The complete table (`simnet run --full`) and the JSON summary scripts
//! read.
//!
//! Owns the JSON summary's shape (field names are the contract of
//! `docs/scenario.md`) and the complete table: per host and step, each on
//! one line however wide, what was copied, pinned, mapped or DMA'd, how
//! often, how many bytes, what CPU time it cost, and which Linux function or
//! hardware step it models; then per-flow goodput, write latency and
//! integrity, the CPU breakdown and the bottleneck. Owns the units the
//! reports share ([`human_bytes`], [`human_ns`], [`human_rate`]) and how
//! text from the scenario file reaches the terminal: its control characters
//! escaped ([`printable`]). Does not compute anything the model did not
//! report, and does not own the report `run` prints by default
//! ([`crate::brief`]).

use crate::bundled::Source;
use crate::scenario::overrides::Set;
use serde::Serialize;
use simnet_sim::event::{CpuCategory, Step};
use simnet_sim::report::{
    FlowReport, HostReport, Integrity, KernelSide, RunReport, SwitchReport, WireReport,
};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;

#[derive(Serialize)]
pub struct Summary {
    pub scenario: String,
    pub seed: u64,
    /// What was run: set by the CLI (absent when a library caller leaves
    /// it out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<RunJson>,
    pub simulated_ns: u64,
    pub outcome: &'static str,
    /// Why the run stopped, when the outcome alone does not say (the
    /// invariant that broke, the work bound that was hit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// Events the model processed.
    pub events: u64,
    pub flows: Vec<FlowJson>,
    /// Keyed by host name, in the scenario's order.
    pub hosts: serde_json::Map<String, serde_json::Value>,
    pub wire: WireJson,
    /// With a `[switch]`: what it forwarded and dropped, per egress port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub switch: Option<SwitchJson>,
    pub stages: Vec<StageJson>,
    pub captures: Vec<String>,
    pub bottleneck: String,
}

/// What was run, so that a summary can be run again: the simnet version,
/// the scenario's name and where it came from (a path as given, or
/// `bundled:NAME`), every `--set` in order, and the seed used.
#[derive(Serialize, Clone, Debug)]
pub struct RunJson {
    pub simnet: &'static str,
    pub scenario: String,
    pub source: String,
    pub sets: Vec<String>,
    pub seed: u64,
}

impl RunJson {
    /// The record of the run `report` is of, read from `source` with
    /// `sets` applied; each `--set` as given on the command line (a
    /// sweep's jobs file passes them on as given, so its points record
    /// what an in-process sweep's do). `run --json`, a sweep's points and
    /// `compare` all make their record here.
    pub fn new(report: &RunReport, source: &Source, sets: &[Set]) -> RunJson {
        RunJson {
            simnet: env!("CARGO_PKG_VERSION"),
            scenario: report.scenario.clone(),
            source: source.origin(),
            sets: sets.iter().map(|s| s.arg.clone()).collect(),
            seed: report.seed,
        }
    }
}

/// The summary `simnet run --json` prints: [`summary`] with the run's
/// record ([`RunJson::new`]); a sweep's point is summarised the same.
pub fn run_summary(r: &RunReport, captures: &[String], source: &Source, sets: &[Set]) -> Summary {
    Summary {
        run: Some(RunJson::new(r, source, sets)),
        ..summary(r, captures)
    }
}

#[derive(Serialize)]
pub struct LatencyJson {
    pub p50: u64,
    pub p99: u64,
    pub max: u64,
}

#[derive(Serialize)]
pub struct FlowJson {
    pub from: String,
    pub to: String,
    pub port: u16,
    pub send: &'static str,
    pub recv: &'static str,
    /// The bytes the flow was to carry (the scenario's `bytes`).
    pub bytes: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// `"ok"` (every byte arrived intact), `"incomplete"` (what arrived is
    /// intact, but not all of it) or `"mismatch"`.
    pub integrity: &'static str,
    pub goodput_bps: u64,
    pub write_latency_ns: LatencyJson,
    pub retransmitted_segments: u64,
    pub writes: u64,
    pub reads: u64,
    /// xxh3-64 of the bytes written and of the bytes read, in hex.
    pub sent_xxh3: String,
    pub received_xxh3: String,
    /// Buffers the application rewrote while the kernel still held them.
    pub lifetime_violations: Vec<ViolationJson>,
    /// The send buffers' pool.
    pub pool: PoolJson,
    /// With `echo = true`: what came back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub echo: Option<EchoJson>,
    /// With `[tap]`: which end the Linux kernel played, `"sender"` or
    /// `"receiver"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_side: Option<&'static str>,
}

#[derive(Serialize)]
pub struct EchoJson {
    pub bytes_written_back: u64,
    pub written_back_xxh3: String,
    pub bytes_read_back: u64,
    pub read_back_xxh3: String,
}

#[derive(Serialize)]
pub struct PoolJson {
    pub kind: &'static str,
    pub allocations: u64,
    pub heap_allocations: u64,
    pub hits: u64,
    pub misses: u64,
    pub waits: u64,
    pub peak_in_use: u64,
    pub leaked: u64,
}

#[derive(Serialize)]
pub struct ViolationJson {
    /// The application buffer rewritten too early.
    pub buffer: u32,
    /// The send call (counted from 0) whose bytes it still held.
    pub write: u64,
    /// That send's stream range.
    pub damaged_from: u64,
    pub damaged_to: u64,
    /// When the application wrote into it again.
    pub reused_at_ns: u64,
}

#[derive(Serialize)]
pub struct HostJson {
    pub syscalls: u64,
    pub cpu_copies: u64,
    pub cpu_copy_bytes: u64,
    pub pinned_pages: u64,
    pub unpinned_pages: u64,
    pub completions: u64,
    /// Zero-copy sends those completions covered (MSG_ZEROCOPY extends a
    /// notification over sends whose bytes share an unsent sk_buff).
    pub zerocopy_sends: u64,
    pub checksum_cpu_bytes: u64,
    pub dma_read_bytes: u64,
    pub dma_write_bytes: u64,
    pub tx_descriptors: u64,
    pub rx_descriptors: u64,
    pub irqs: u64,
    pub napi_polls: u64,
    pub rx_ring_drops: u64,
    /// Pure ACKs sent (no payload, no SYN, FIN or RST).
    pub acks_sent: u64,
    pub gso_segments: u64,
    pub gro_merges: u64,
    /// Per-packet stack CPU the GRO-merged segments did not pay (extra).
    pub gro_saved_ns: u64,
    pub cpu_busy_ns: u64,
    /// Work that started before the run ended (at its time limit) and would
    /// have finished after it: in the stage counts, not in `cpu_busy_ns`.
    pub cpu_past_end_ns: u64,
    pub pool_peak_in_use: u64,
    pub leaked_buffers: u64,
    /// Rx buffers refilled from recycled pages, from the page allocator,
    /// and pages handed back to the allocator because the pool was full.
    pub page_pool_hits: u64,
    pub page_pool_misses: u64,
    pub page_pool_released: u64,
    /// CPU time by category (copy, checksum, syscall, stack, driver,
    /// interrupt, pin).
    pub cpu_ns: BTreeMap<&'static str, u64>,
}

#[derive(Serialize)]
pub struct WireJson {
    pub frames: u64,
    pub bytes: u64,
    pub dropped: u64,
    pub duplicated: u64,
    pub reordered: u64,
    pub corrupted: u64,
}

#[derive(Serialize)]
pub struct SwitchJson {
    /// Frames (and bytes) queued for an egress port, over every port.
    pub frames: u64,
    pub bytes: u64,
    /// Frames dropped because an egress port's buffer was full.
    pub dropped: u64,
    /// The deepest any egress queue got, and each port's buffer.
    pub peak_queue_bytes: u64,
    pub buffer_bytes: u64,
    pub ports: Vec<SwitchPortJson>,
}

#[derive(Serialize)]
pub struct SwitchPortJson {
    /// The host the port leads to.
    pub to: String,
    pub frames: u64,
    pub bytes: u64,
    pub dropped: u64,
    pub peak_queue_bytes: u64,
}

#[derive(Serialize)]
pub struct StageJson {
    pub host: String,
    pub stage: &'static str,
    pub kind: &'static str,
    pub count: u64,
    pub bytes: u64,
    pub cpu_ns: u64,
    pub models: &'static str,
}

fn flow_json(f: &FlowReport) -> FlowJson {
    FlowJson {
        from: f.from.clone(),
        to: f.to.clone(),
        port: f.port,
        send: f.send,
        recv: f.recv,
        bytes: f.bytes,
        bytes_sent: f.bytes_sent,
        bytes_received: f.bytes_received,
        integrity: f.integrity().name(),
        goodput_bps: f.goodput_bps(),
        write_latency_ns: LatencyJson {
            p50: f.write_latency.p50,
            p99: f.write_latency.p99,
            max: f.write_latency.max,
        },
        retransmitted_segments: f.retransmitted_segments,
        writes: f.writes,
        reads: f.reads,
        sent_xxh3: format!("{:016x}", f.sent_hash),
        received_xxh3: format!("{:016x}", f.received_hash),
        lifetime_violations: f
            .violations
            .iter()
            .map(|v| ViolationJson {
                buffer: v.buffer,
                write: v.write,
                damaged_from: v.damaged.0,
                damaged_to: v.damaged.1,
                reused_at_ns: v.at,
            })
            .collect(),
        kernel_side: f.kernel_side.map(|k| match k {
            KernelSide::Sender => "sender",
            KernelSide::Receiver => "receiver",
        }),
        echo: f.echo.map(|e| EchoJson {
            bytes_written_back: e.bytes_written_back,
            written_back_xxh3: format!("{:016x}", e.written_back_hash),
            bytes_read_back: e.bytes_read_back,
            read_back_xxh3: format!("{:016x}", e.read_back_hash),
        }),
        pool: PoolJson {
            kind: f.pool,
            allocations: f.pool_stats.allocations,
            heap_allocations: f.pool_stats.heap_allocations,
            hits: f.pool_stats.hits,
            misses: f.pool_stats.misses,
            waits: f.pool_stats.waits,
            peak_in_use: f.pool_stats.peak_in_use,
            leaked: f.leaked_buffers,
        },
    }
}

fn host_json(h: &HostReport) -> HostJson {
    HostJson {
        syscalls: h.syscalls(),
        cpu_copies: h.cpu_copies(),
        cpu_copy_bytes: h.cpu_copy_bytes(),
        pinned_pages: h.pinned_pages(),
        unpinned_pages: h.unpinned_pages(),
        completions: h.completions(),
        zerocopy_sends: h.zerocopy_sends(),
        checksum_cpu_bytes: h.checksum_cpu_bytes(),
        dma_read_bytes: h.dma_read_bytes(),
        dma_write_bytes: h.dma_write_bytes(),
        tx_descriptors: h.tx_descriptors(),
        rx_descriptors: h.rx_descriptors(),
        irqs: h.irqs(),
        napi_polls: h.napi_polls(),
        rx_ring_drops: h.rx_ring_drops(),
        acks_sent: h.acks_sent(),
        gso_segments: h.gso_segments,
        gro_merges: h.gro_merges,
        gro_saved_ns: h.gro_saved_ns,
        cpu_busy_ns: h.cpu_busy_ns,
        cpu_past_end_ns: h.cpu_past_end_ns,
        pool_peak_in_use: h.pool_peak_in_use,
        leaked_buffers: h.leaked_buffers,
        page_pool_hits: h.page_pool.hits,
        page_pool_misses: h.page_pool.misses,
        page_pool_released: h.page_pool.released,
        cpu_ns: h
            .cpu_by_category()
            .into_iter()
            .map(|(c, ns)| (c.name(), ns))
            .collect(),
    }
}

/// The rows of the stage table: every step that happened, per host, in
/// journey order.
fn stage_rows(r: &RunReport) -> Vec<StageJson> {
    let mut rows = Vec::new();
    for h in &r.hosts {
        for &s in Step::ALL {
            let t = h.counters.get(s);
            if t.count == 0 {
                continue;
            }
            rows.push(StageJson {
                host: h.name.clone(),
                stage: s.stage(),
                kind: s.kind().name(),
                count: t.count,
                bytes: t.bytes,
                cpu_ns: t.cpu_ns,
                models: s.models(),
            });
        }
    }
    rows
}

pub fn summary(r: &RunReport, captures: &[String]) -> Summary {
    let mut hosts = serde_json::Map::new();
    for h in &r.hosts {
        let v = serde_json::to_value(host_json(h)).expect("plain struct serialises");
        hosts.insert(h.name.clone(), v);
    }
    Summary {
        scenario: r.scenario.clone(),
        seed: r.seed,
        run: None,
        simulated_ns: r.simulated_ns,
        outcome: r.outcome.name(),
        why: r.why.clone(),
        events: r.events,
        flows: r.flows.iter().map(flow_json).collect(),
        hosts,
        wire: WireJson {
            frames: r.wire.frames,
            bytes: r.wire.bytes,
            dropped: r.wire.dropped,
            duplicated: r.wire.duplicated,
            reordered: r.wire.reordered,
            corrupted: r.wire.corrupted,
        },
        switch: r.switch.as_ref().map(|s| SwitchJson {
            frames: s.frames,
            bytes: s.bytes,
            dropped: s.dropped,
            peak_queue_bytes: s.peak_queue_bytes,
            buffer_bytes: s.buffer_bytes,
            ports: (s.ports.iter())
                .map(|(to, p)| SwitchPortJson {
                    to: to.clone(),
                    frames: p.frames,
                    bytes: p.bytes,
                    dropped: p.dropped,
                    peak_queue_bytes: p.peak_queue_bytes,
                })
                .collect(),
        }),
        stages: stage_rows(r),
        captures: captures.to_vec(),
        bottleneck: r.bottleneck.clone(),
    }
}

/// Bytes in binary units, for people.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Nanoseconds, for people.
pub fn human_ns(ns: u64) -> String {
    match ns {
        0..1_000 => format!("{ns} ns"),
        1_000..1_000_000 => format!("{:.1} us", ns as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.2} ms", ns as f64 / 1e6),
        _ => format!("{:.3} s", ns as f64 / 1e9),
    }
}

/// Bits per second, for people.
pub fn human_rate(bps: u64) -> String {
    if bps >= 1_000_000_000 {
        format!("{:.2} Gbit/s", bps as f64 / 1e9)
    } else {
        format!("{:.1} Mbit/s", bps as f64 / 1e6)
    }
}

/// Said under a run that retransmitted: recovery is smoltcp's, and a
/// student must not read it as Linux's (docs/fidelity.md, "Where simnet
/// differs from Linux").
pub const SMOLTCP_RECOVERY: &str = "retransmissions: recovery is smoltcp's, not Linux's: its \
     retransmission timeout is at least 1 s (Linux's 200 ms), it ignores SACK blocks and \
     repairs one loss per window, so goodput under loss is far below what Linux would keep \
     (simnet explain fidelity).";

/// The first lines of every report: the scenario and seed, its description
/// (wrapped at 78 columns), and how long the run took and how it ended (on
/// the wall clock when a real kernel was at one end).
pub fn run_header(o: &mut String, r: &RunReport, description: &str) {
    let _ = writeln!(
        o,
        "simnet: scenario {} (seed {})",
        printable(&r.scenario),
        r.seed
    );
    if !description.is_empty() {
        let _ = writeln!(o, "{}", wrap(description, 78, "  "));
    }
    let real = r.flows.iter().any(|f| f.kernel_side.is_some());
    let _ = writeln!(
        o,
        "{} time {}; outcome {}",
        if real { "wall-clock" } else { "virtual" },
        human_ns(r.simulated_ns),
        r.outcome.name()
    );
}

/// What the wire did, as every report says it.
pub fn wire_figures(w: &WireReport) -> String {
    format!(
        "{} frames, {}, dropped {}, duplicated {}, reordered {}, corrupted {}",
        w.frames,
        human_bytes(w.bytes),
        w.dropped,
        w.duplicated,
        w.reordered,
        w.corrupted
    )
}

/// The human-readable report.
pub fn table(r: &RunReport, description: &str, captures: &[String]) -> String {
    let mut o = String::new();
    run_header(&mut o, r, description);
    if let Some(why) = &r.why {
        let _ = writeln!(o, "{}", wrap(why, 78, "  "));
    }
    for h in &r.hosts {
        host_section(&mut o, r, h);
    }
    let _ = writeln!(o);
    for f in &r.flows {
        flow_section(&mut o, f);
    }
    let _ = writeln!(o, "wire: {}", wire_figures(&r.wire));
    if let Some(s) = &r.switch {
        switch_section(&mut o, s);
    }
    let _ = writeln!(o, "bottleneck: {}", r.bottleneck);
    if r.flows.iter().any(|f| f.retransmitted_segments > 0) {
        let _ = writeln!(o, "{}", wrap(SMOLTCP_RECOVERY, 78, ""));
    }
    for c in captures {
        let _ = writeln!(o, "capture: {}", printable(c));
    }
    let _ = writeln!(
        o,
        "costs are teaching defaults (simnet explain costs), not measurements of one machine."
    );
    o
}

/// One row of the complete stage table: a step that happened on a host,
/// with its bytes and CPU time as the table prints them ("-" for none, or
/// for a step that costs no CPU).
pub struct StageRow {
    pub step: Step,
    pub count: u64,
    pub bytes: String,
    pub cpu: String,
}

/// The host's steps that happened, in the order a byte meets them.
pub fn host_stage_rows(h: &HostReport) -> impl Iterator<Item = StageRow> + '_ {
    Step::ALL.iter().filter_map(|&step| {
        let t = h.counters.get(step);
        (t.count > 0).then(|| StageRow {
            step,
            count: t.count,
            bytes: if t.bytes == 0 {
                "-".to_string()
            } else {
                human_bytes(t.bytes)
            },
            cpu: if step.category() == CpuCategory::None {
                "-".to_string()
            } else {
                human_ns(t.cpu_ns)
            },
        })
    })
}

/// One host: a row per step of the journey that happened there, then its
/// CPU, copies, DMA and descriptor totals.
fn host_section(o: &mut String, r: &RunReport, h: &HostReport) {
    let _ = writeln!(o, "\nhost {}", h.name);
    let _ = writeln!(
        o,
        "  {:<12} {:<15} {:>9} {:>11} {:>10}  models",
        "stage", "kind", "count", "bytes", "cpu"
    );
    for StageRow {
        step: s,
        count,
        bytes,
        cpu,
    } in host_stage_rows(h)
    {
        let _ = writeln!(
            o,
            "  {:<12} {:<15} {:>9} {:>11} {:>10}  {}",
            s.stage(),
            s.kind().name(),
            count,
            bytes,
            cpu,
            s.models()
        );
    }
    host_totals(o, r, h);
}

/// A host's CPU, copy, DMA and descriptor totals.
fn host_totals(o: &mut String, r: &RunReport, h: &HostReport) {
    let cats: Vec<String> = h
        .cpu_by_category()
        .into_iter()
        .filter(|&(_, ns)| ns > 0)
        .map(|(c, ns)| format!("{} {}", c.name(), human_ns(ns)))
        .collect();
    let busy = if r.simulated_ns > 0 {
        h.cpu_busy_ns as f64 * 100.0 / r.simulated_ns as f64
    } else {
        0.0
    };
    let _ = writeln!(
        o,
        "  CPU busy {} ({busy:.0}% of the run): {}",
        human_ns(h.cpu_busy_ns),
        cats.join(", ")
    );
    if h.cpu_past_end_ns > 0 {
        let _ = writeln!(
            o,
            "  (a further {} of work started before the end would have finished after it; \
             the stage counts include it)",
            human_ns(h.cpu_past_end_ns)
        );
    }
    let _ = writeln!(
        o,
        "  copies {} ({}), pages pinned {} / unpinned {}, zero-copy completions {} for {} sends, checksummed by CPU {}",
        h.cpu_copies(),
        human_bytes(h.cpu_copy_bytes()),
        h.pinned_pages(),
        h.unpinned_pages(),
        h.completions(),
        h.zerocopy_sends(),
        human_bytes(h.checksum_cpu_bytes())
    );
    let _ = writeln!(
        o,
        "  DMA read {} / write {}, Tx descriptors {}, Rx descriptors {}, IRQs {}, NAPI polls {}, Rx ring drops {}, ACKs sent {}",
        human_bytes(h.dma_read_bytes()),
        human_bytes(h.dma_write_bytes()),
        h.tx_descriptors(),
        h.rx_descriptors(),
        h.irqs(),
        h.napi_polls(),
        h.rx_ring_drops(),
        h.acks_sent()
    );
    if h.gso_segments > 0 || h.gro_merges > 0 {
        let _ = writeln!(
            o,
            "  segmentation: {} frames cut from super-segments (TSO/GSO); GRO merged {} frames, saving {} of per-packet stack CPU",
            h.gso_segments,
            h.gro_merges,
            human_ns(h.gro_saved_ns)
        );
    }
    if h.pool_peak_in_use > 0 {
        let _ = writeln!(
            o,
            "  send buffers: peak in use {}, never returned {}",
            h.pool_peak_in_use, h.leaked_buffers
        );
    }
}

/// One flow: what moved, how fast, its latency, lifetime violations, its
/// send buffers and its integrity.
fn flow_section(o: &mut String, f: &FlowReport) {
    let _ = writeln!(
        o,
        "flow {} -> {}:{} ({} / {}): {} sent, {} received in {} writes / {} reads",
        f.from,
        f.to,
        f.port,
        f.send,
        f.recv,
        human_bytes(f.bytes_sent),
        human_bytes(f.bytes_received),
        f.writes,
        f.reads
    );
    if f.kernel_side.is_some() {
        // One end is a real program: its calls are not seen.
        let _ = writeln!(
            o,
            "  goodput {} (wall clock); retransmitted segments {}",
            human_rate(f.goodput_bps()),
            f.retransmitted_segments
        );
    } else {
        let _ = writeln!(
            o,
            "  goodput {}; write latency (call -> peer read) p50 {} p99 {} max {}; retransmitted segments {}",
            human_rate(f.goodput_bps()),
            human_ns(f.write_latency.p50),
            human_ns(f.write_latency.p99),
            human_ns(f.write_latency.max),
            f.retransmitted_segments
        );
    }
    for (i, v) in f.violations.iter().enumerate() {
        if i == 5 {
            let _ = writeln!(o, "  ... and {} more", f.violations.len() - 5);
            break;
        }
        let _ = writeln!(
            o,
            "  LIFETIME VIOLATION: buffer {} rewritten at {} while send #{} (stream bytes {}..{}) was still in flight",
            v.buffer,
            human_ns(v.at),
            v.write,
            v.damaged.0,
            v.damaged.1
        );
    }
    let p = &f.pool_stats;
    let _ = writeln!(
        o,
        "  send buffers ({} pool): {} allocated, {} hits, {} misses, {} waits, peak {} in use, {} never returned",
        f.pool, p.allocations, p.hits, p.misses, p.waits, p.peak_in_use, f.leaked_buffers
    );
    let integrity = match f.integrity() {
        Integrity::Ok => "ok".to_string(),
        Integrity::Incomplete => format!(
            "INCOMPLETE, {} of {} arrived",
            human_bytes(f.bytes_received),
            human_bytes(f.bytes)
        ),
        Integrity::Mismatch => "MISMATCH".to_string(),
    };
    let _ = writeln!(
        o,
        "  integrity: {integrity} (xxh3 written {:016x}, read {:016x})",
        f.sent_hash, f.received_hash
    );
    match (&f.echo, f.kernel_side) {
        (None, _) => {}
        (Some(e), Some(KernelSide::Sender)) => {
            let _ = writeln!(
                o,
                "  echo: {} written back to the kernel's program (xxh3 {:016x})",
                human_bytes(e.bytes_written_back),
                e.written_back_hash
            );
        }
        (Some(e), Some(KernelSide::Receiver)) => {
            let _ = writeln!(
                o,
                "  echo: {} read back from the kernel's program (xxh3 {:016x})",
                human_bytes(e.bytes_read_back),
                e.read_back_hash
            );
        }
        (Some(e), None) => {
            let _ = writeln!(
                o,
                "  echo: {} written back, {} read back (xxh3 {:016x})",
                human_bytes(e.bytes_written_back),
                human_bytes(e.bytes_read_back),
                e.read_back_hash
            );
        }
    }
}

/// The switch: totals, then a row per egress port.
fn switch_section(o: &mut String, s: &SwitchReport) {
    let _ = writeln!(
        o,
        "switch: {} frames, {} forwarded, dropped {} (egress buffer full), deepest queue {} of {}",
        s.frames,
        human_bytes(s.bytes),
        s.dropped,
        human_bytes(s.peak_queue_bytes),
        human_bytes(s.buffer_bytes)
    );
    for (to, p) in &s.ports {
        let _ = writeln!(
            o,
            "  port -> {:<12} {:>9} frames {:>11} dropped {:>7}  deepest queue {}",
            to,
            p.frames,
            human_bytes(p.bytes),
            p.dropped,
            human_bytes(p.peak_queue_bytes)
        );
    }
}

/// `text` as it may reach a terminal: control characters (C0 such as ESC,
/// which starts the ANSI sequences that recolour the screen or move the
/// cursor, DEL, C1) and the bidirectional overrides and isolates, which
/// reorder what follows them, written as escapes (`\u{1b}`, `\u{202e}`);
/// everything else as it is. For the report table; JSON escapes its own.
pub fn printable(text: &str) -> Cow<'_, str> {
    let hidden =
        |c: char| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !text.chars().any(hidden) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hidden(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `text`'s words in lines of at most `width` bytes, each line indented;
/// control characters left inside a word are escaped ([`printable`]).
pub fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    let mut line = String::from(indent);
    for word in text.split_whitespace() {
        let word = printable(word);
        if line.len() + word.len() + 1 > width && !line.trim().is_empty() {
            out.push_str(line.trim_end());
            out.push('\n');
            line = String::from(indent);
        }
        line.push_str(&word);
        line.push(' ');
    }
    out.push_str(line.trim_end());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_times_read_like_a_person_would_write_them() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(64 << 20), "64.0 MiB");
        assert_eq!(human_ns(999), "999 ns");
        assert_eq!(human_ns(1_500), "1.5 us");
        assert_eq!(human_ns(2_500_000_000), "2.500 s");
    }

    #[test]
    fn control_characters_and_bidi_overrides_are_escaped_for_the_terminal() {
        assert_eq!(printable("plain é ü 字"), "plain é ü 字");
        assert_eq!(
            printable("\u{1b}[31mred\u{7}\u{7f}\u{9b}\u{202e}"),
            "\\u{1b}[31mred\\u{7}\\u{7f}\\u{9b}\\u{202e}"
        );
        let w = wrap("a\u{1b}[2J b\tc\nd", 78, "  ");
        assert_eq!(w, "  a\\u{1b}[2J b c d");
    }

    #[test]
    fn description_wraps_at_the_width() {
        let w = wrap("one two three four five six", 12, "  ");
        assert!(w.lines().all(|l| l.len() <= 12), "{w}");
        assert_eq!(w.split_whitespace().count(), 6);
    }
}
