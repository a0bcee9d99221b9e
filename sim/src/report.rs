//! What a finished run returns.
//!
//! Owns [`RunReport`]: the outcome, per-flow results (bytes, integrity,
//! goodput, write latency) and per-host tallies, with the derived host
//! figures of the JSON summary (`syscalls`, `cpu_copy_bytes`, ...) computed
//! in one place. Does not format: the tool prints tables and JSON from it.

use crate::engine::Nanos;
use crate::event::{Counters, CpuCategory, Kind, Step};
use crate::page_pool::PagePool;

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
    pub bytes_sent: u64,
    pub bytes_received: u64,
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
    pub violations: Vec<crate::syscall::Violation>,
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

impl FlowReport {
    /// Every byte arrived intact, and with `echo` came back intact too.
    /// Where the kernel is one end, simnet checks what it can see: as the
    /// receiver, that every byte came and was written back as read; as the
    /// sender, that every byte was acknowledged and (echoed) came back.
    pub fn integrity_ok(&self) -> bool {
        match self.kernel_side {
            None => {
                self.bytes_sent == self.bytes_received
                    && self.sent_hash == self.received_hash
                    && self.echo.is_none_or(|e| {
                        e.bytes_written_back == self.bytes_received
                            && e.written_back_hash == self.received_hash
                            && e.bytes_read_back == self.bytes_sent
                            && e.read_back_hash == self.sent_hash
                    })
            }
            Some(KernelSide::Sender) => {
                self.bytes_received == self.bytes_sent
                    && self.echo.is_none_or(|e| {
                        e.bytes_written_back == self.bytes_received
                            && e.written_back_hash == self.received_hash
                    })
            }
            Some(KernelSide::Receiver) => {
                self.bytes_received == self.bytes_sent
                    && self.echo.is_none_or(|e| {
                        e.bytes_read_back == self.bytes_sent && e.read_back_hash == self.sent_hash
                    })
            }
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
    /// Virtual CPU time spent on modelled work.
    pub cpu_busy_ns: u64,
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
    pub fn pinned_pages(&self) -> u64 {
        self.counters.kind(Kind::Pin).count
    }
    pub fn unpinned_pages(&self) -> u64 {
        self.counters.kind(Kind::Unpin).count
    }
    /// Completion notifications the application reaped from the error queue.
    pub fn completions(&self) -> u64 {
        self.counters.kind(Kind::Completion).count
    }
    /// Bytes the CPU checksummed (the NIC's offloaded checksums excluded).
    pub fn checksum_cpu_bytes(&self) -> u64 {
        self.counters.get(Step::TxChecksum).bytes + self.counters.get(Step::RxChecksum).bytes
    }
    pub fn dma_read_bytes(&self) -> u64 {
        self.counters.kind(Kind::DmaRead).bytes
    }
    pub fn dma_write_bytes(&self) -> u64 {
        self.counters.kind(Kind::DmaWrite).bytes
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

#[derive(Debug, Clone)]
pub struct RunReport {
    pub scenario: String,
    pub seed: u64,
    pub simulated_ns: Nanos,
    pub outcome: Outcome,
    pub flows: Vec<FlowReport>,
    pub hosts: Vec<HostReport>,
    pub wire: WireReport,
    /// What limited the run, in a few words (e.g. "link", "CPU copy on sender").
    pub bottleneck: String,
}
