//! Gauges of the model at one instant of virtual time, for observers that
//! draw a run over time.
//!
//! Owns [`Sample`]: per host, its descriptor rings' occupancy and its CPU's
//! cumulative busy time (in all and by [`CpuCategory`]); per flow, how far
//! its stream has got at each end (written, sent, acknowledged, arrived,
//! read); and the frames crossing the wires. [`Sample::fill`] reads them
//! from the world's stages; it allocates only the first time (one entry
//! per host and flow, reused after that).
//!
//! Does not decide when to sample: the world calls an observer's
//! [`crate::event::Observer::sample`] at the multiples of the interval the
//! observer asks for (`sample_every`) and once at the end of the run. Does
//! not keep samples: the observer does, within what memory it allows.
//!
//! Cumulative quantities (CPU time, bytes) are exact at any instant; the
//! others (ring occupancy, queued bytes) are what they were at that instant,
//! so a series sampled coarsely shows points, not peaks. A task's work is
//! counted when the task runs (the CPU cursor moves past the instant the
//! sample is taken by at most one task).

use crate::engine::Nanos;
use crate::event::CpuCategory;
use crate::flow::Flow;
use crate::host::Host;

/// One host's gauges.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostGauges {
    /// Tx descriptors the driver has posted and not yet cleaned.
    pub tx_ring: u16,
    /// Rx descriptors the NIC has written a frame into that NAPI has not
    /// yet taken.
    pub rx_filled: u16,
    /// Rx descriptors posted with an empty buffer: room for arriving frames.
    pub rx_posted: u16,
    /// CPU time spent so far on modelled work.
    pub cpu_busy: Nanos,
    /// CPU time charged so far, by category, in [`CpuCategory::ALL`] order.
    pub cpu: [Nanos; CpuCategory::ALL.len()],
}

/// One flow's gauges: stream offsets, so differences give queues and rates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowGauges {
    /// Bytes the sending application has handed to the kernel.
    pub written: u64,
    /// Highest stream offset TCP has transmitted.
    pub sent: u64,
    /// Bytes TCP has had acknowledged.
    pub acked: u64,
    /// Bytes that arrived in order at the receiving socket (`rcv_nxt`).
    pub arrived: u64,
    /// Bytes the receiving application has read.
    pub read: u64,
}

impl FlowGauges {
    /// Bytes in the sender's socket buffer: written, not yet acknowledged.
    pub fn send_queued(&self) -> u64 {
        self.written.saturating_sub(self.acked)
    }

    /// Bytes transmitted and not yet acknowledged.
    pub fn in_flight(&self) -> u64 {
        self.sent.saturating_sub(self.acked)
    }

    /// Bytes waiting in the receiver's socket for the application.
    pub fn recv_queued(&self) -> u64 {
        self.arrived.saturating_sub(self.read)
    }
}

/// The model's gauges at `time`.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    pub time: Nanos,
    /// By host, in the scenario's order.
    pub hosts: Vec<HostGauges>,
    /// By flow, in the scenario's order.
    pub flows: Vec<FlowGauges>,
    /// Frames handed to a wire (or the switch) that have not arrived yet,
    /// including those waiting in a link's or the switch's queue.
    pub wire_frames: u64,
}

/// `a - b` on a ring of `size` slots.
fn ring_distance(a: u16, b: u16, size: u16) -> u16 {
    if size == 0 {
        return 0;
    }
    ((a as u32 + size as u32 - b as u32) % size as u32) as u16
}

impl Sample {
    /// Reads the gauges of `hosts` and `flows` at `time`. A flow end on a
    /// host simnet does not run (the kernel's side of a TAP run) reads 0.
    pub fn fill(&mut self, time: Nanos, hosts: &[Host], flows: &[Flow], wire_frames: u64) {
        self.time = time;
        self.wire_frames = wire_frames;
        self.hosts.resize(hosts.len(), HostGauges::default());
        for (g, h) in self.hosts.iter_mut().zip(hosts) {
            let (tx, rx) = (&h.nic.tx, &h.nic.rx);
            g.tx_ring = ring_distance(tx.next_to_use, tx.next_to_clean, tx.size());
            g.rx_filled = ring_distance(rx.head, rx.next_to_clean, rx.size());
            g.rx_posted = ring_distance(rx.tail, rx.head, rx.size());
            g.cpu_busy = h.cpu.busy;
            for (ns, cat) in g.cpu.iter_mut().zip(CpuCategory::ALL) {
                *ns = h.acct.counters.cpu(cat);
            }
        }
        self.flows.resize(flows.len(), FlowGauges::default());
        for (g, fl) in self.flows.iter_mut().zip(flows) {
            let end = |h: usize, s: usize| hosts.get(h).and_then(|h| h.sockets.get(s));
            *g = FlowGauges::default();
            if let Some(s) = end(fl.from, fl.send_sock).and_then(|s| s.end.sender()) {
                g.written = s.issued;
                g.sent = s.max_sent_end;
                g.acked = s.acked;
            }
            if let Some(r) = end(fl.to, fl.recv_sock).and_then(|s| s.end.receiver()) {
                g.arrived = r.rcv_queue.rcv_nxt();
                g.read = r.received;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_distance_wraps() {
        assert_eq!(ring_distance(5, 2, 8), 3);
        assert_eq!(ring_distance(1, 6, 8), 3);
        assert_eq!(ring_distance(4, 4, 8), 0);
        assert_eq!(ring_distance(0, 0, 0), 0);
    }

    #[test]
    fn flow_gauges_never_go_negative() {
        let g = FlowGauges {
            written: 10,
            sent: 8,
            acked: 9,
            arrived: 3,
            read: 4,
        };
        assert_eq!((g.send_queued(), g.in_flight(), g.recv_queued()), (1, 0, 0));
    }
}
