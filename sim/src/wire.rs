//! The wire between two ports: serialisation, propagation and faults.
//!
//! Owns [`Link`], one direction of a cable (host to host, host to switch,
//! or switch port to host): when it is busy, how long a frame takes to
//! serialise at the link rate (with Ethernet's preamble, FCS, inter-frame
//! gap and minimum frame size), the one-way delay, the optional drop-tail
//! queue in front of it, and the seeded fault rules (loss, duplicate,
//! reorder, corrupt). Owns [`InFlight`], where frames wait while they cross
//! a wire (events carry a slot number, not the bytes).
//!
//! Does not decide where a frame goes: the world routes it, and schedules
//! its arrival at the time [`Link::send`] returns.

use crate::config::{Faults, LinkConfig};
use crate::engine::{Nanos, Rng};
use crate::provenance::{FrameInfo, WireFate};
use crate::report::WireReport;

/// Bytes on the wire per frame beyond what the host hands over: 7 preamble +
/// 1 start-of-frame delimiter + 12 inter-frame gap (IEEE 802.3).
pub const WIRE_OVERHEAD: u64 = 20;
/// Ethernet frame check sequence, added by the MAC.
pub const FCS_LEN: u64 = 4;
/// Smallest Ethernet frame without FCS; shorter frames are padded.
pub const MIN_FRAME: u64 = 60;

/// What the wire did with one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The drop-tail queue was full.
    QueueDrop,
    /// Serialised, then lost on the wire.
    Lost { start: Nanos },
    /// Arrives at the peer's port (last bit) at `arrive`.
    Deliver {
        start: Nanos,
        arrive: Nanos,
        /// Bit index to flip, if the frame is corrupted.
        corrupt_bit: Option<u64>,
        /// Held back by the `reorder` fault.
        reordered: bool,
        /// A second copy arrives at this time.
        duplicate_at: Option<Nanos>,
    },
}

impl Verdict {
    /// What the wire did to the frame, as observers are told.
    pub fn fate(&self) -> WireFate {
        match *self {
            Verdict::QueueDrop => WireFate::default(),
            Verdict::Lost { .. } => WireFate {
                lost: true,
                ..WireFate::default()
            },
            Verdict::Deliver {
                corrupt_bit,
                duplicate_at,
                reordered,
                ..
            } => WireFate {
                duplicated: duplicate_at.is_some(),
                reordered,
                corrupt_bit,
                ..WireFate::default()
            },
        }
    }
}

/// One direction of the link.
#[derive(Debug)]
pub struct Link {
    rate_bps: u64,
    delay: Nanos,
    queue: Option<u64>,
    faults: Faults,
    busy_until: Nanos,
    /// Total nanoseconds the wire was serialising.
    pub busy_ns: u64,
    pub stats: WireReport,
    /// Of `stats.dropped`, the frames the full drop-tail queue refused
    /// (the rest were lost on the wire by the `loss` fault).
    pub queue_drops: u64,
}

impl Link {
    pub fn new(cfg: &LinkConfig) -> Link {
        Link {
            rate_bps: cfg.rate_bps,
            delay: cfg.delay,
            queue: cfg.queue,
            faults: cfg.faults.clone(),
            busy_until: 0,
            busy_ns: 0,
            stats: WireReport::default(),
            queue_drops: 0,
        }
    }

    /// The drop-tail queue's size in bytes, if there is one.
    pub fn queue(&self) -> Option<u64> {
        self.queue
    }

    /// Whether the NIC is paced by the wire (no queue configured) or sends
    /// at DMA speed into a drop-tail queue.
    pub fn has_queue(&self) -> bool {
        self.queue.is_some()
    }

    /// Nanoseconds the wire was serialising up to `end`: a frame still
    /// crossing when the run ended counts only up to then (the wire is
    /// busy without a break from the moment it was last offered a frame
    /// until `busy_until`).
    pub fn busy_within(&self, end: Nanos) -> u64 {
        self.busy_ns - self.busy_until.saturating_sub(end).min(self.busy_ns)
    }

    /// Time the wire is busy until.
    pub fn busy_until(&self) -> Nanos {
        self.busy_until
    }

    /// Serialisation time of a frame of `len` bytes (without FCS).
    pub fn serialisation(&self, len: usize) -> Nanos {
        let bits = (len as u64).max(MIN_FRAME) + FCS_LEN + WIRE_OVERHEAD;
        (bits * 8 * 1_000_000_000).div_ceil(self.rate_bps)
    }

    /// Bytes waiting in front of the wire at `now` (the frame being
    /// serialised counted by what is left of it).
    pub fn backlog(&self, now: Nanos) -> u64 {
        let ns = self.busy_until.saturating_sub(now) as u128;
        (ns * self.rate_bps as u128 / 8 / 1_000_000_000) as u64
    }

    /// Offers a frame of `len` bytes at `now`.
    pub fn send(&mut self, now: Nanos, len: usize, rng: &mut Rng) -> Verdict {
        if let Some(q) = self.queue {
            if self.backlog(now) + len as u64 > q {
                self.stats.dropped += 1;
                self.queue_drops += 1;
                return Verdict::QueueDrop;
            }
        }
        let start = now.max(self.busy_until);
        let ser = self.serialisation(len);
        self.busy_until = start + ser;
        self.busy_ns += ser;
        self.stats.frames += 1;
        self.stats.bytes += len as u64;
        if rng.chance(self.faults.loss) {
            self.stats.dropped += 1;
            return Verdict::Lost { start };
        }
        let mut arrive = start + ser + self.delay;
        let reordered = rng.chance(self.faults.reorder);
        if reordered {
            self.stats.reordered += 1;
            arrive += self.faults.reorder_delay;
        }
        let corrupt_bit = if rng.chance(self.faults.corrupt) {
            self.stats.corrupted += 1;
            Some(rng.below(len as u64 * 8))
        } else {
            None
        };
        let duplicate_at = if rng.chance(self.faults.duplicate) {
            // The copy follows the frame back to back: the wire carries it
            // too, and is busy for it.
            self.stats.duplicated += 1;
            self.stats.frames += 1;
            self.stats.bytes += len as u64;
            self.busy_until += ser;
            self.busy_ns += ser;
            Some(arrive + ser)
        } else {
            None
        };
        Verdict::Deliver {
            start,
            arrive,
            corrupt_bit,
            duplicate_at,
            reordered,
        }
    }
}

/// Frames crossing wires, by slot: an arrival event carries the slot, the
/// bytes wait here, with their provenance while an observer wants frames.
/// Slots are reused; nothing is allocated per frame once the table has
/// grown to the most frames in flight at once.
#[derive(Debug, Default)]
pub struct InFlight {
    frames: Vec<Vec<u8>>,
    infos: Vec<FrameInfo>,
    free: Vec<u32>,
}

impl InFlight {
    /// Parks a frame while it crosses a wire; returns its slot.
    pub fn put(&mut self, frame: Vec<u8>) -> u32 {
        match self.free.pop() {
            Some(slot) => {
                self.frames[slot as usize] = frame;
                slot
            }
            None => {
                self.frames.push(frame);
                (self.frames.len() - 1) as u32
            }
        }
    }

    /// Takes the frame in `slot` off the wire.
    pub fn take(&mut self, slot: u32) -> Vec<u8> {
        self.free.push(slot);
        std::mem::take(&mut self.frames[slot as usize])
    }

    /// Frames parked now.
    pub fn len(&self) -> usize {
        self.frames.len() - self.free.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Parks a frame with its provenance; returns its slot.
    pub fn put_with(&mut self, frame: Vec<u8>, info: &FrameInfo) -> u32 {
        let slot = self.put(frame);
        *self.info_mut(slot) = *info;
        slot
    }

    /// The provenance of the frame in `slot` (put with [`InFlight::put_with`]).
    pub fn info(&self, slot: u32) -> FrameInfo {
        self.infos.get(slot as usize).copied().unwrap_or_default()
    }

    /// The provenance of the frame in `slot`, to change or read in place
    /// (until the slot is used again).
    pub fn info_mut(&mut self, slot: u32) -> &mut FrameInfo {
        let i = slot as usize;
        if i >= self.infos.len() {
            self.infos.resize(i + 1, FrameInfo::default());
        }
        &mut self.infos[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(rate_bps: u64, queue: Option<u64>) -> Link {
        Link::new(&LinkConfig {
            rate_bps,
            delay: 10_000,
            mtu: 1500,
            queue,
            faults: Faults::default(),
        })
    }

    #[test]
    fn full_frame_at_ten_gigabit_takes_its_bits_plus_overhead() {
        let l = link(10_000_000_000, None);
        // 1514 + 4 FCS + 20 preamble/IFG = 1538 bytes = 12304 bits.
        assert_eq!(l.serialisation(1514), 1231);
        // A 54-byte ACK is padded to 60.
        assert_eq!(l.serialisation(54), l.serialisation(60));
    }

    #[test]
    fn back_to_back_frames_queue_behind_each_other() {
        let mut l = link(10_000_000_000, None);
        let mut rng = Rng::new(1);
        let a = l.send(0, 1514, &mut rng);
        let b = l.send(0, 1514, &mut rng);
        match (a, b) {
            (
                Verdict::Deliver { arrive: a, .. },
                Verdict::Deliver {
                    start, arrive: b, ..
                },
            ) => {
                assert_eq!(start, 1231);
                assert_eq!(b - a, 1231);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_duplicate_takes_its_own_time_on_the_wire() {
        let mut l = link(1_000_000_000, None);
        l.faults.duplicate = 1.0;
        let mut rng = Rng::new(1);
        let ser = l.serialisation(1500);
        let Verdict::Deliver {
            duplicate_at,
            arrive,
            ..
        } = l.send(0, 1500, &mut rng)
        else {
            panic!("delivered");
        };
        assert_eq!(duplicate_at, Some(arrive + ser));
        assert_eq!((l.busy_until(), l.busy_ns), (2 * ser, 2 * ser));
        assert_eq!((l.stats.frames, l.stats.duplicated), (2, 1));
    }

    #[test]
    fn full_queue_drops_the_tail() {
        let mut l = link(1_000_000_000, Some(5000));
        let mut rng = Rng::new(1);
        assert!(matches!(l.send(0, 1500, &mut rng), Verdict::Deliver { .. }));
        assert!(matches!(l.send(0, 1500, &mut rng), Verdict::Deliver { .. }));
        assert!(matches!(l.send(0, 1500, &mut rng), Verdict::Deliver { .. }));
        assert_eq!(l.send(0, 1500, &mut rng), Verdict::QueueDrop);
        assert_eq!(l.stats.dropped, 1);
    }
}
