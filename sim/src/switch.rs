//! A store-and-forward Ethernet switch joining three or more hosts.
//!
//! Owns [`Switch`]: one egress port per host, each a drop-tail FIFO of
//! `buffer` bytes in front of the link to that host ([`Link`], with the
//! scenario's rate, delay and faults), the forwarding latency a frame
//! spends in the switch once its last bit is in, and the static forwarding
//! table: host `i`'s MAC address ([`crate::host::mac`]) is on port `i`; a
//! broadcast (ARP) or unknown destination is flooded to every port but the
//! one it came in on. Nothing is learnt. Owns the switch's tallies for the
//! report: frames and bytes forwarded, dropped for want of buffer, and the
//! deepest each egress queue got.
//!
//! Does not hold frames: the world parks them on the wire and schedules
//! their arrival at the time [`Switch::forward`] gives.

use crate::config::{LinkConfig, SwitchConfig};
use crate::engine::{Nanos, Rng};
use crate::wire::{Link, Verdict};

/// What one egress port did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortStats {
    /// Frames queued for the link (and bytes).
    pub frames: u64,
    pub bytes: u64,
    /// Frames dropped because the port's buffer was full.
    pub dropped: u64,
    /// Most bytes waiting for the link at once.
    pub peak_queue_bytes: u64,
}

/// Where a frame goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// To the one port of its destination.
    Port(usize),
    /// To every port but the one it came in on.
    Flood,
}

/// The switch.
#[derive(Debug)]
pub struct Switch {
    latency: Nanos,
    buffer: u64,
    /// Egress links, port `i` to host `i`.
    pub ports: Vec<Link>,
    pub stats: Vec<PortStats>,
}

impl Switch {
    /// A switch with one port per host, each port's link as `link` says.
    pub fn new(cfg: &SwitchConfig, link: &LinkConfig, hosts: usize) -> Switch {
        // The egress FIFO is the port's buffer, checked here; the link
        // itself serialises whatever the switch admits.
        let egress = LinkConfig {
            queue: None,
            ..link.clone()
        };
        Switch {
            latency: cfg.latency,
            buffer: cfg.buffer,
            ports: (0..hosts).map(|_| Link::new(&egress)).collect(),
            stats: vec![PortStats::default(); hosts],
        }
    }

    /// The port a frame's destination MAC address is on: host `i` has
    /// `02:00:00:00:00:(i+1)`; anything else (broadcast) is flooded.
    pub fn route(&self, frame: &[u8]) -> Route {
        match frame.get(..6) {
            Some([0x02, 0, 0, 0, 0, n]) if (1..=self.ports.len()).contains(&(*n as usize)) => {
                Route::Port(*n as usize - 1)
            }
            _ => Route::Flood,
        }
    }

    /// A frame of `len` bytes whose last bit came in at `t` is queued for
    /// egress `port` after the forwarding latency, or dropped if the port's
    /// buffer cannot take it. Frames reach this in the order they came in,
    /// so each port's queue sees them in time order.
    pub fn forward(&mut self, port: usize, t: Nanos, len: usize, rng: &mut Rng) -> Verdict {
        let at = t + self.latency;
        let link = &mut self.ports[port];
        let stats = &mut self.stats[port];
        let queued = link.backlog(at) + len as u64;
        if queued > self.buffer {
            stats.dropped += 1;
            return Verdict::QueueDrop;
        }
        stats.frames += 1;
        stats.bytes += len as u64;
        stats.peak_queue_bytes = stats.peak_queue_bytes.max(queued);
        link.send(at, len, rng)
    }

    /// Bytes each egress port may hold.
    pub fn buffer(&self) -> u64 {
        self.buffer
    }

    /// Totals over every port.
    pub fn totals(&self) -> PortStats {
        let mut t = PortStats::default();
        for s in &self.stats {
            t.frames += s.frames;
            t.bytes += s.bytes;
            t.dropped += s.dropped;
            t.peak_queue_bytes = t.peak_queue_bytes.max(s.peak_queue_bytes);
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn switch(buffer: u64) -> Switch {
        let link = LinkConfig {
            rate_bps: 1_000_000_000,
            delay: 1_000,
            mtu: 1500,
            queue: None,
            faults: Default::default(),
        };
        Switch::new(
            &SwitchConfig {
                buffer,
                latency: 500,
            },
            &link,
            3,
        )
    }

    #[test]
    fn frames_go_to_the_port_of_their_destination_and_broadcasts_flood() {
        let s = switch(10_000);
        let mut frame = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1];
        assert_eq!(s.route(&frame), Route::Port(1));
        frame[..6].copy_from_slice(&[0xff; 6]);
        assert_eq!(s.route(&frame), Route::Flood);
        frame[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 9]);
        assert_eq!(s.route(&frame), Route::Flood, "no such host");
    }

    #[test]
    fn a_port_queues_up_to_its_buffer_then_drops_the_tail() {
        let mut s = switch(4_000);
        let mut rng = Rng::new(1);
        let mut delivered = Vec::new();
        for _ in 0..4 {
            match s.forward(0, 0, 1500, &mut rng) {
                Verdict::Deliver { arrive, .. } => delivered.push(arrive),
                v => assert_eq!(v, Verdict::QueueDrop),
            }
        }
        // 1500 + 1500 fit (the first is being sent), a third would not.
        assert_eq!(s.stats[0].dropped, 2);
        assert_eq!(s.stats[0].frames, 2);
        assert!(s.stats[0].peak_queue_bytes <= 4_000);
        // Forwarding latency, serialisation, then the propagation delay.
        let ser = s.ports[0].serialisation(1500);
        assert_eq!(delivered, vec![500 + ser + 1_000, 500 + 2 * ser + 1_000]);
        // Another port is untouched.
        assert_eq!(s.stats[1], PortStats::default());
    }
}
