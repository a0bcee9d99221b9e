//! What a finished run returns.
//!
//! Owns [`RunReport`]: the outcome, per-flow results (bytes, integrity,
//! goodput, write latency), per-host tallies, the wires and the switch,
//! with the derived host figures of the JSON summary (`syscalls`,
//! `cpu_copy_bytes`, ...) computed in one place, and the one-line verdict
//! on what limited the run ([`RunReport::bottleneck`]). Owns [`build`], the
//! report of a finished world. Does not format: the tool prints tables and
//! JSON from it.

use std::hash::Hasher;
use std::thread::JoinHandle;

use crate::app::data::DataSource;
use crate::app::sender::Violation;
use crate::config::Scenario;
use crate::engine::Nanos;
use crate::event::{Counters, CpuCategory, Kind, Step, Tally};
use crate::flow::Flow;
use crate::host::Host;
use crate::page_pool::PagePool;
use crate::switch::{PortStats, Switch};

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every flow delivered every byte intact.
    Ok,
    /// The virtual-time cap was reached first.
    TimeLimit,
    /// Bytes read differ from bytes written.
    Integrity,
    /// Nothing left to do, yet some flow is unfinished.
    Stalled,
    /// The application rewrote a buffer the kernel still held.
    LifetimeViolation,
    /// Stopped on the user's request (Ctrl-C, SIGTERM) before the flows
    /// finished (external-port runs only).
    Interrupted,
    /// The external port failed (a TAP device gone, an I/O error).
    PortError,
    /// The run did more work than any real transfer needs (see
    /// [`crate::world::WorkBound`]) and was stopped: a model that spins
    /// without virtual time moving is a bug, never a hang.
    WorkLimit,
    /// A run-time invariant broke (a descriptor with two owners, a page
    /// left pinned, bytes lost inside a host): a bug in the model, reported
    /// instead of a panic.
    Invariant,
}

impl Outcome {
    /// The machine word of the JSON summary.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::TimeLimit => "time_limit",
            Outcome::Integrity => "integrity",
            Outcome::Stalled => "stalled",
            Outcome::LifetimeViolation => "lifetime_violation",
            Outcome::Interrupted => "interrupted",
            Outcome::PortError => "port_error",
            Outcome::WorkLimit => "work_limit",
            Outcome::Invariant => "invariant",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Latency {
    pub p50: Nanos,
    pub p99: Nanos,
    pub max: Nanos,
}

#[derive(Debug, Clone)]
pub struct FlowReport {
    pub from: String,
    pub to: String,
    pub port: u16,
    pub send: &'static str,
    pub recv: &'static str,
    /// Bytes the flow was to carry (the scenario's `bytes`).
    pub bytes: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// The bytes that arrived equal the first bytes written (and, with
    /// `echo`, the bytes that came back equal the first bytes sent).
    pub prefix_matches: bool,
    /// xxh3-64 of every byte the sender wrote, in order.
    pub sent_hash: u64,
    /// xxh3-64 of every byte the receiver read, in order.
    pub received_hash: u64,
    pub writes: u64,
    pub reads: u64,
    /// Virtual time of the first write call and of the last byte read.
    pub first_write_ns: Nanos,
    pub last_read_ns: Nanos,
    pub write_latency: Latency,
    pub retransmitted_segments: u64,
    /// Buffers rewritten while a zero-copy send from them was in flight.
    pub violations: Vec<Violation>,
    /// The send buffers' pool: its kind and what it did.
    pub pool: &'static str,
    pub pool_stats: crate::buffer::PoolStats,
    /// Buffers never handed back.
    pub leaked_buffers: u64,
    /// With `echo`: what came back.
    pub echo: Option<EchoReport>,
    /// With `[tap]`: which end of the flow the Linux kernel was.
    pub kernel_side: Option<KernelSide>,
}

/// The end of a flow a real kernel played (through a TAP device).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelSide {
    /// The kernel's program sent; simnet received (and maybe echoed).
    Sender,
    /// simnet sent; the kernel's program received (and maybe echoed).
    Receiver,
}

/// The return half of an echoed flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EchoReport {
    /// Bytes the receiving application wrote back, and their xxh3-64.
    pub bytes_written_back: u64,
    pub written_back_hash: u64,
    /// Bytes the sending application read back, and their xxh3-64.
    pub bytes_read_back: u64,
    pub read_back_hash: u64,
}

/// Whether a flow's bytes arrived, and arrived intact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Integrity {
    /// Every byte the flow was to carry arrived, in order, equal to what
    /// was written (and, with `echo`, came back the same way).
    Ok,
    /// What arrived matches what was written, but not all of it arrived
    /// (the run stopped first: a time limit, a stall, a lost peer).
    Incomplete,
    /// Bytes arrived that differ from the bytes written.
    Mismatch,
}

impl Integrity {
    /// The machine word of the JSON summary.
    pub fn name(self) -> &'static str {
        match self {
            Integrity::Ok => "ok",
            Integrity::Incomplete => "incomplete",
            Integrity::Mismatch => "mismatch",
        }
    }
}

impl FlowReport {
    /// Every byte arrived intact, and with `echo` came back intact too.
    pub fn integrity_ok(&self) -> bool {
        self.integrity() == Integrity::Ok
    }

    /// Whether every byte arrived intact. Where the kernel is one end,
    /// simnet checks what it can see: as the receiver, that every byte was
    /// acknowledged and (echoed) came back intact; as the sender, that
    /// every byte came and (echoed) was written back as read and
    /// acknowledged.
    pub fn integrity(&self) -> Integrity {
        if !self.prefix_matches {
            return Integrity::Mismatch;
        }
        let echo_whole = |e: &EchoReport| match self.kernel_side {
            None => {
                e.bytes_written_back == self.bytes
                    && e.written_back_hash == self.received_hash
                    && e.bytes_read_back == self.bytes
                    && e.read_back_hash == self.sent_hash
            }
            Some(KernelSide::Sender) => {
                e.bytes_written_back == self.bytes
                    && e.written_back_hash == self.received_hash
                    && e.bytes_read_back == self.bytes
            }
            Some(KernelSide::Receiver) => {
                e.bytes_read_back == self.bytes && e.read_back_hash == self.sent_hash
            }
        };
        let whole = match self.kernel_side {
            None => {
                self.bytes_sent == self.bytes
                    && self.bytes_received == self.bytes
                    && self.sent_hash == self.received_hash
            }
            Some(KernelSide::Sender) => self.bytes_received == self.bytes,
            Some(KernelSide::Receiver) => {
                self.bytes_sent == self.bytes && self.bytes_received == self.bytes
            }
        };
        if whole && self.echo.as_ref().is_none_or(echo_whole) {
            Integrity::Ok
        } else {
            Integrity::Incomplete
        }
    }

    /// Application bytes per second of virtual time, first write to last read.
    pub fn goodput_bps(&self) -> u64 {
        let span = self.last_read_ns.saturating_sub(self.first_write_ns);
        if span == 0 {
            return 0;
        }
        ((self.bytes_received as u128 * 8 * 1_000_000_000) / span as u128) as u64
    }
}

#[derive(Debug, Clone)]
pub struct HostReport {
    pub name: String,
    pub counters: Counters,
    /// Virtual CPU time spent on modelled work within the run.
    pub cpu_busy_ns: u64,
    /// Work that started before the run ended (at its time limit) but
    /// would have finished after it: charged in the stage counts, not in
    /// `cpu_busy_ns`.
    pub cpu_past_end_ns: u64,
    /// Most application send buffers in use at once.
    pub pool_peak_in_use: u64,
    /// Application buffers not returned to their pool at the end.
    pub leaked_buffers: u64,
    /// Frames cut from super-segments, by software GSO or the NIC's TSO.
    pub gso_segments: u64,
    /// Segments merged by GRO.
    pub gro_merges: u64,
    /// Per-packet stack CPU the merged segments did not pay.
    pub gro_saved_ns: u64,
    /// The Rx page pool's tallies.
    pub page_pool: PagePool,
}

impl HostReport {
    fn tally(&self, s: Step) -> u64 {
        self.counters.get(s).count
    }

    pub fn syscalls(&self) -> u64 {
        self.counters.kind(Kind::Syscall).count
    }
    pub fn cpu_copies(&self) -> u64 {
        self.counters.kind(Kind::Copy).count
    }
    pub fn cpu_copy_bytes(&self) -> u64 {
        self.counters.kind(Kind::Copy).bytes
    }
    /// Copybreak copies: small received frames (mostly pure ACKs) copied
    /// into fresh sk_buffs by the driver, not the flow's data.
    pub fn copybreak_copies(&self) -> Tally {
        self.counters.get(Step::Copybreak)
    }
    /// Every CPU copy but copybreak's: the copies of the data itself (at
    /// send, at receive, for a software checksum, into a file, as an
    /// application buffer grows).
    pub fn data_copies(&self) -> Tally {
        let (all, small) = (self.counters.kind(Kind::Copy), self.copybreak_copies());
        Tally {
            count: all.count - small.count,
            bytes: all.bytes - small.bytes,
            cpu_ns: all.cpu_ns - small.cpu_ns,
        }
    }
    pub fn pinned_pages(&self) -> u64 {
        self.counters.kind(Kind::Pin).count
    }
    pub fn unpinned_pages(&self) -> u64 {
        self.counters.kind(Kind::Unpin).count
    }
    /// Zero-copy send calls: each opened a notification or joined the
    /// previous one.
    pub fn zerocopy_sends(&self) -> u64 {
        self.tally(Step::ZerocopyAlloc) + self.tally(Step::ZerocopyExtend)
    }

    /// Completion notifications the application reaped from the error queue.
    pub fn completions(&self) -> u64 {
        self.counters.kind(Kind::Completion).count
    }
    /// Bytes the CPU checksummed (the NIC's offloaded checksums excluded).
    pub fn checksum_cpu_bytes(&self) -> u64 {
        self.counters.get(Step::TxChecksum).bytes + self.counters.get(Step::RxChecksum).bytes
    }
    /// Bytes the NIC read from host memory: descriptor fetches and payload.
    pub fn dma_read_bytes(&self) -> u64 {
        self.counters.kind(Kind::DmaRead).bytes
    }
    /// Bytes the NIC wrote into host memory: frames (headers and payload,
    /// each once) and descriptor write-backs, Tx and Rx.
    pub fn dma_write_bytes(&self) -> u64 {
        self.counters.kind(Kind::DmaWrite).bytes + self.counters.kind(Kind::DescWriteback).bytes
    }
    pub fn tx_descriptors(&self) -> u64 {
        self.tally(Step::TxDescPost)
    }
    pub fn rx_descriptors(&self) -> u64 {
        self.tally(Step::RxWriteback)
    }
    pub fn irqs(&self) -> u64 {
        self.tally(Step::Irq)
    }
    pub fn napi_polls(&self) -> u64 {
        self.tally(Step::NapiPoll)
    }
    pub fn rx_ring_drops(&self) -> u64 {
        self.tally(Step::RxRingDrop)
    }
    /// Pure ACKs the stack sent: segments with no payload, no SYN, FIN
    /// or RST (an ACK that rides on data is not one).
    pub fn acks_sent(&self) -> u64 {
        self.tally(Step::AckXmit)
    }
    pub fn cpu_by_category(&self) -> Vec<(CpuCategory, u64)> {
        CpuCategory::ALL
            .iter()
            .map(|&c| (c, self.counters.cpu(c)))
            .collect()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WireReport {
    pub frames: u64,
    pub bytes: u64,
    pub dropped: u64,
    pub duplicated: u64,
    pub reordered: u64,
    pub corrupted: u64,
}

/// What the switch did: totals over its ports, and each port.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SwitchReport {
    pub frames: u64,
    pub bytes: u64,
    /// Frames dropped because an egress port's buffer was full.
    pub dropped: u64,
    /// The deepest any egress queue got, in bytes.
    pub peak_queue_bytes: u64,
    /// Each egress port's buffer, in bytes.
    pub buffer_bytes: u64,
    /// Each egress port: the host it leads to and what it did.
    pub ports: Vec<(String, PortStats)>,
}

#[derive(Debug, Clone)]
pub struct RunReport {
    pub scenario: String,
    pub seed: u64,
    pub simulated_ns: Nanos,
    pub outcome: Outcome,
    /// Why the run stopped, when the outcome alone does not say (the
    /// invariant that broke, the work bound that was hit).
    pub why: Option<String>,
    /// Events the run processed.
    pub events: u64,
    pub flows: Vec<FlowReport>,
    pub hosts: Vec<HostReport>,
    pub wire: WireReport,
    /// With a `[switch]`: what it forwarded and dropped.
    pub switch: Option<SwitchReport>,
    /// What limited the run, in a few words (e.g. "link", "CPU copy on sender").
    pub bottleneck: String,
}

/// xxh3-64 of what each flow's sender will write, computed on another
/// thread while the model runs (the data is a pure function of its seed).
pub fn expected_hashes(flows: &[Flow], hosts: &[Host]) -> JoinHandle<Vec<u64>> {
    let jobs: Vec<(DataSource, u64)> = flows
        .iter()
        .map(|f| {
            let s = f.sender(hosts);
            (s.data.clone(), s.total)
        })
        .collect();
    std::thread::spawn(move || jobs.iter().map(|(d, n)| d.hash(*n)).collect())
}

/// A finished world, as the report reads it.
pub struct Run<'a> {
    pub scenario: &'a Scenario,
    pub now: Nanos,
    pub hosts: &'a [Host],
    pub flows: &'a [Flow],
    pub switch: Option<&'a Switch>,
    /// With `[tap]`: the host the real kernel played.
    pub kernel_host: Option<usize>,
}

/// The report of a finished run; `expected[i]` is the hash of flow `i`'s
/// whole stream. An outcome of `ok` becomes `integrity` or
/// `lifetime_violation` if a flow says so.
pub fn build(run: Run, outcome: Outcome, expected: &[u64]) -> RunReport {
    let mut outcome = outcome;
    let mut flows = Vec::new();
    for (i, fl) in run.flows.iter().enumerate() {
        let fr = flow_report(&run, fl, expected.get(i).copied());
        if matches!(outcome, Outcome::Ok | Outcome::Integrity) && !fr.violations.is_empty() {
            outcome = Outcome::LifetimeViolation;
        } else if outcome == Outcome::Ok && !fr.integrity_ok() {
            outcome = Outcome::Integrity;
        }
        flows.push(fr);
    }
    let hosts: Vec<HostReport> = (run.hosts.iter().enumerate())
        .filter(|&(h, _)| run.kernel_host != Some(h)) // the kernel's numbers are its own
        .map(|(h, host)| host_report(&run, h, host))
        .collect();
    let mut wire = WireReport::default();
    let links = run.hosts.iter().map(|h| &h.link);
    for l in links.chain(run.switch.iter().flat_map(|s| &s.ports)) {
        wire.frames += l.stats.frames;
        wire.bytes += l.stats.bytes;
        wire.dropped += l.stats.dropped;
        wire.duplicated += l.stats.duplicated;
        wire.reordered += l.stats.reordered;
        wire.corrupted += l.stats.corrupted;
    }
    let switch = run.switch.map(|s| {
        let t = s.totals();
        SwitchReport {
            frames: t.frames,
            bytes: t.bytes,
            dropped: t.dropped,
            peak_queue_bytes: t.peak_queue_bytes,
            buffer_bytes: s.buffer(),
            ports: (run.hosts.iter().zip(&s.stats))
                .map(|(h, p)| (h.name.clone(), *p))
                .collect(),
        }
    });
    RunReport {
        scenario: run.scenario.name.clone(),
        seed: run.scenario.seed,
        simulated_ns: run.now,
        outcome,
        why: None,
        events: 0,
        flows,
        bottleneck: bottleneck(&run, &hosts, switch.as_ref()),
        hosts,
        wire,
        switch,
    }
}

/// What a run that finished must hold, beyond every byte arriving (a
/// broken one is a bug in the model): every page pinned for a zero-copy
/// send unpinned, every application buffer back in its pool.
pub fn broken_invariant(r: &RunReport) -> Option<String> {
    for h in &r.hosts {
        let (pinned, unpinned) = (h.pinned_pages(), h.unpinned_pages());
        if pinned != unpinned {
            return Some(format!(
                "{}: {pinned} pages pinned but {unpinned} unpinned when every flow had finished",
                h.name
            ));
        }
        if h.leaked_buffers > 0 {
            return Some(format!(
                "{}: {} application buffers never returned to their pool",
                h.name, h.leaked_buffers
            ));
        }
    }
    None
}

fn flow_report(run: &Run, fl: &Flow, expected: Option<u64>) -> FlowReport {
    let (s, r) = (fl.sender(run.hosts), fl.receiver(run.hosts));
    let (p50, p99, max) = fl.track.latency.summary();
    let mut fr = FlowReport {
        from: run.hosts[fl.from].name.clone(),
        to: run.hosts[fl.to].name.clone(),
        port: fl.port,
        send: s.path.name(),
        recv: r.path.name(),
        bytes: s.total,
        bytes_sent: s.issued,
        bytes_received: r.received,
        prefix_matches: true,
        sent_hash: match expected {
            Some(h) if s.issued == s.total => h,
            _ => s.data.hash(s.issued),
        },
        received_hash: r.hash.finish(),
        writes: s.writes,
        reads: r.reads,
        first_write_ns: s.first_write.unwrap_or(0),
        last_read_ns: r.last_read,
        write_latency: Latency { p50, p99, max },
        retransmitted_segments: s.retransmitted_segments,
        violations: s.violations.clone(),
        pool: s.pool.kind().name(),
        pool_stats: s.pool.stats,
        leaked_buffers: s.pool.in_use() as u64,
        echo: r.echo.as_ref().map(|o| EchoReport {
            bytes_written_back: o.written,
            written_back_hash: o.hash.finish(),
            bytes_read_back: s.echo.as_ref().map_or(0, |e| e.received),
            read_back_hash: s.echo.as_ref().map_or(0, |e| e.hash.finish()),
        }),
        kernel_side: None,
    };
    // Compare what arrived with the same number of bytes written (hashing
    // again only when the flow stopped short).
    let sent_hash = fr.sent_hash;
    let written_hash = |n: u64| match expected {
        Some(h) if n == s.total => h,
        _ if n == s.issued => sent_hash,
        _ => s.data.hash(n),
    };
    if run.kernel_host == Some(fl.from) {
        // The kernel sent: simnet knows its bytes only as they arrived, and
        // what it echoed only as the kernel acknowledged it.
        fr.kernel_side = Some(KernelSide::Sender);
        fr.sent_hash = fr.received_hash;
        fr.bytes_sent = r.received;
        fr.send = "kernel";
        fr.writes = 0;
        fr.first_write_ns = r.first_read.unwrap_or(0);
        if let (Some(e), Some(o)) = (&mut fr.echo, &r.echo) {
            e.bytes_read_back = o.acked;
            e.read_back_hash = if o.acked == o.written {
                e.written_back_hash
            } else {
                0 // not all acknowledged: nothing to compare
            };
        }
        return fr;
    }
    fr.prefix_matches = fr.received_hash == written_hash(fr.bytes_received)
        && (fr.echo.as_ref()).is_none_or(|e| e.read_back_hash == written_hash(e.bytes_read_back));
    if run.kernel_host == Some(fl.to) {
        // The kernel received: what it acknowledged, and (echoed) what it
        // sent back.
        fr.kernel_side = Some(KernelSide::Receiver);
        fr.bytes_received = s.acked;
        fr.received_hash = fr.echo.map_or(0, |e| e.read_back_hash);
        fr.recv = "kernel";
        fr.reads = 0;
        fr.last_read_ns = run.now;
    }
    fr
}

fn host_report(run: &Run, h: usize, host: &Host) -> HostReport {
    let (mut peak, mut leaked) = (0, 0);
    for fl in run.flows.iter().filter(|fl| fl.from == h) {
        let s = fl.sender(run.hosts);
        peak += s.pool.stats.peak_in_use;
        leaked += s.pool.in_use() as u64;
    }
    let c = &host.acct.counters;
    let past_end = host.cpu.free.saturating_sub(run.now).min(host.cpu.busy);
    HostReport {
        name: host.name.clone(),
        counters: c.clone(),
        cpu_busy_ns: host.cpu.busy - past_end,
        cpu_past_end_ns: past_end,
        pool_peak_in_use: peak,
        leaked_buffers: leaked,
        gso_segments: c.get(Step::GsoSegment).count + c.get(Step::TsoSegment).count,
        gro_merges: c.get(Step::GroMerge).count,
        gro_saved_ns: c.get(Step::GroMerge).count * host.cost.per_packet_rx,
        page_pool: host.napi.page_pool,
    }
}

/// Names what limited the run: the busiest of wires, switch ports, CPUs
/// and DMA engines; failing that, the rings.
fn bottleneck(run: &Run, hosts: &[HostReport], switch: Option<&SwitchReport>) -> String {
    let span = run.now.max(1) as f64;
    let mut best = (
        0.0f64,
        String::from("nothing saturated (latency or window bound)"),
    );
    for (h, host) in run.hosts.iter().enumerate() {
        let u = host.link.busy_within(run.now) as f64 / span;
        if u > best.0 {
            let to = match run.switch {
                Some(_) => "switch",
                None => &run.hosts[1 - h].name,
            };
            best = (u, format!("link {} -> {to}", host.name));
        }
    }
    for (p, port) in run.switch.iter().flat_map(|s| s.ports.iter().enumerate()) {
        let u = port.busy_within(run.now) as f64 / span;
        if u > best.0 {
            best = (u, format!("switch port -> {}", run.hosts[p].name));
        }
    }
    for hr in hosts {
        let Some(host) = run.hosts.iter().find(|x| x.name == hr.name) else {
            continue;
        };
        let u = hr.cpu_busy_ns as f64 / span;
        if u > best.0 {
            let top = (hr.cpu_by_category().into_iter())
                .max_by_key(|&(_, ns)| ns)
                .map(|(c, _)| c.name())
                .unwrap_or("none");
            best = (u, format!("CPU on {} (mostly {top})", host.name));
        }
        let d = &host.nic.dma;
        let u = d.read_busy.max(d.write_busy) as f64 / span;
        if u > best.0 {
            best = (u, format!("DMA on {}", host.name));
        }
    }
    if best.0 >= 0.8 {
        return format!("{} ({:.0}% busy)", best.1, best.0 * 100.0);
    }
    let busiest = format!("busiest: {} at {:.0}%", best.1, best.0 * 100.0);
    not_saturated(run, hosts, switch, &busiest)
}

/// Nothing saturated for long: what held the flows back instead. Frames
/// dropped (lost on the wire, refused by a full queue in front of a wire or
/// a switch port, or by an Rx ring without descriptors) when there were
/// any, the most numerous first; then a Tx ring that kept stopping; then
/// the window or the latency.
fn not_saturated(
    run: &Run,
    hosts: &[HostReport],
    switch: Option<&SwitchReport>,
    busiest: &str,
) -> String {
    let mut drops: Vec<(u64, String)> = Vec::new();
    for (h, host) in run.hosts.iter().enumerate() {
        let l = &host.link;
        let to = match run.switch {
            Some(_) => "switch",
            None => &run.hosts[1 - h].name,
        };
        let lost = l.stats.dropped - l.queue_drops;
        if lost > 0 {
            drops.push((
                lost,
                format!(
                    "loss on the wire {} -> {to}: {lost} of {} frames lost; each loss waits \
                     for a retransmission (smoltcp's timeout is at least 1 s, Linux's 200 ms)",
                    host.name, l.stats.frames
                ),
            ));
        }
        if l.queue_drops > 0 {
            drops.push((
                l.queue_drops,
                format!(
                    "queue in front of the wire {} -> {to}: {} frames dropped with its \
                     {}-byte queue full, recovered by retransmission",
                    host.name,
                    l.queue_drops,
                    l.queue().unwrap_or(0)
                ),
            ));
        }
    }
    let ports = switch.iter().flat_map(|s| s.ports.iter());
    for (to, p) in ports.filter(|(_, p)| p.dropped > 0) {
        let buffer = switch.map_or(0, |s| s.buffer_bytes);
        drops.push((
            p.dropped,
            format!(
                "switch port -> {to}: {} frames dropped with its {buffer}-byte egress buffer \
                 full, recovered by retransmission",
                p.dropped
            ),
        ));
    }
    for hr in hosts.iter().filter(|hr| hr.rx_ring_drops() > 0) {
        drops.push((
            hr.rx_ring_drops(),
            format!(
                "Rx ring on {}: {} frames dropped for want of a descriptor, recovered by \
                 retransmission",
                hr.name,
                hr.rx_ring_drops()
            ),
        ));
    }
    // The most drops first; the first listed wins a tie.
    let worst = drops.into_iter().rev().max_by_key(|(n, _)| *n);
    if let Some((_, why)) = worst {
        return format!("{why} ({busiest})");
    }
    for hr in hosts {
        let stops = hr.counters.get(Step::TxRingFull).count;
        if stops * 10 > hr.counters.get(Step::WireTx).count.max(1) {
            return format!(
                "Tx ring on {}: the queue stopped {stops} times ({busiest})",
                hr.name
            );
        }
    }
    format!("window or latency: nothing saturated ({busiest})")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Scenario, SendPath};
    use crate::event::NoObserver;

    #[test]
    fn a_finished_run_with_pages_still_pinned_or_buffers_out_breaks_an_invariant() {
        let sc = Scenario::two_hosts(1 << 20, 65536, SendPath::MsgZerocopy);
        let mut r = crate::run(&sc, &mut NoObserver).unwrap();
        assert_eq!(r.outcome, Outcome::Ok);
        assert!(r.hosts[0].pinned_pages() > 0);
        assert_eq!(broken_invariant(&r), None);
        r.hosts[0].leaked_buffers = 1;
        let why = broken_invariant(&r).expect("a buffer never returned");
        assert!(why.contains("never returned"), "{why}");
    }

    #[test]
    fn integrity_tells_incomplete_from_mismatch() {
        let sc = Scenario::two_hosts(1 << 20, 65536, SendPath::Write);
        let r = crate::run(&sc, &mut NoObserver).unwrap();
        let mut f = r.flows[0].clone();
        assert_eq!(f.integrity(), Integrity::Ok);
        f.bytes = 2 << 20; // half of what it was to carry
        assert_eq!(f.integrity(), Integrity::Incomplete);
        f.prefix_matches = false;
        assert_eq!(f.integrity(), Integrity::Mismatch);
    }
}
