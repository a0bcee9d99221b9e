//! Tx and Rx descriptor rings, and who owns each descriptor.
//!
//! Owns the descriptors and their ownership (driver or NIC), mirroring the
//! e1000 legacy descriptors (Intel 8254x SDM, sections 3.2 and 3.3): buffer
//! address, length, command bits EOP/RS on Tx, status DD on both; the
//! driver's and the NIC's pointers into each ring (`next_to_use`,
//! `next_to_clean`, head, tail) and the hand-over at each doorbell and
//! write-back. Owns the ownership invariant check.
//!
//! Does not own time or cost: descriptor write-backs carry the virtual time
//! at which they land, set by the NIC ([`crate::nic`]), so the driver sees
//! DD only from that time on; the driver ([`crate::driver`]) pays for
//! posting and cleaning. The bytes of a Tx frame stay in the ring's
//! [`TxBufferInfo`] until the NIC reads them.

use crate::engine::Nanos;

/// Bytes of one descriptor (e1000 legacy / ixgbe advanced).
pub const DESC_SIZE: u64 = 16;
/// Most descriptors one frame may use: the linear head plus at most
/// `MAX_SKB_FRAGS` (17 on 4 KiB pages) payload frags. The driver stops its
/// queue when fewer are free (e1000 `DESC_NEEDED`).
pub const MAX_DESC_PER_FRAME: u16 = 18;
/// Most bytes one Tx descriptor may point at (ixgbe `IXGBE_MAX_DATA_PER_TXD`,
/// 16 KiB); longer frags take several descriptors.
pub const MAX_DATA_PER_TXD: u64 = 16 * 1024;
/// Refilled Rx descriptors are handed to the NIC in batches of this many
/// (e1000 `E1000_RX_BUFFER_WRITE`).
pub const RX_BUFFER_WRITE: u16 = 16;

/// `cmd` bit: end of packet (e1000 `E1000_TXD_CMD_EOP`).
pub const CMD_EOP: u8 = 0x01;
/// `cmd` bit: report status, i.e. write DD back (`E1000_TXD_CMD_RS`).
pub const CMD_RS: u8 = 0x08;
/// `status` bit: descriptor done (`E1000_TXD_STAT_DD` / `E1000_RXD_STAT_DD`).
pub const STAT_DD: u8 = 0x01;
/// Rx `status` bit: end of packet (`E1000_RXD_STAT_EOP`).
pub const STAT_EOP: u8 = 0x02;

/// Who may touch a descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Driver,
    Nic,
}

/// A legacy Tx descriptor.
#[derive(Debug, Clone, Copy)]
pub struct TxDesc {
    /// Modelled bus address of the buffer.
    pub addr: u64,
    pub len: u16,
    pub cmd: u8,
    pub status: u8,
    pub owner: Owner,
    /// When the DD write-back lands in host memory.
    pub dd_time: Nanos,
}

/// The stream bytes a frame carries: the sending socket (its index on the
/// host), its flow, and the stream range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payload {
    pub sock: u16,
    pub flow: u16,
    pub off: u64,
    pub len: u32,
}

/// What the driver remembers about a posted frame (e1000 `buffer_info`),
/// kept on its last (EOP) descriptor.
#[derive(Debug, Default)]
pub struct TxBufferInfo {
    /// The frame's bytes, until the NIC DMA-reads them.
    pub frame: Option<Vec<u8>>,
    /// Descriptors the frame uses (only on the EOP slot).
    pub descs: u16,
    /// Whose stream bytes the frame carries, if any.
    pub payload: Option<Payload>,
    /// MSS to cut the frame into on the way out (TSO), 0 for none.
    pub gso_size: u16,
}

/// The Tx descriptor ring.
#[derive(Debug)]
pub struct TxRing {
    pub desc: Vec<TxDesc>,
    pub info: Vec<TxBufferInfo>,
    /// Driver's next free slot (`next_to_use`); the tail once rung.
    pub next_to_use: u16,
    /// Driver's next slot to reclaim (`next_to_clean`).
    pub next_to_clean: u16,
    /// Tail as last written to the NIC (TDT).
    pub tail: u16,
    /// NIC's next slot to fetch (TDH).
    pub head: u16,
    /// First slot whose DD the NIC has not written back yet: the NIC owns
    /// `[wb, tail)`, fetched or not.
    pub wb: u16,
}

impl TxRing {
    pub fn new(size: u16) -> TxRing {
        TxRing {
            desc: vec![
                TxDesc {
                    addr: 0,
                    len: 0,
                    cmd: 0,
                    status: 0,
                    owner: Owner::Driver,
                    dd_time: 0,
                };
                size as usize
            ],
            info: (0..size).map(|_| TxBufferInfo::default()).collect(),
            next_to_use: 0,
            next_to_clean: 0,
            tail: 0,
            head: 0,
            wb: 0,
        }
    }

    pub fn size(&self) -> u16 {
        self.desc.len() as u16
    }

    fn next(&self, i: u16) -> u16 {
        ring_next(i, self.size())
    }

    /// Descriptors the driver can still post (e1000 `E1000_DESC_UNUSED`:
    /// one slot stays empty so that full and empty differ).
    pub fn unused(&self) -> u16 {
        ring_unused(self.next_to_clean, self.next_to_use, self.size())
    }

    /// Driver writes one descriptor; returns its slot.
    pub fn post(&mut self, addr: u64, len: u16, cmd: u8) -> u16 {
        let i = self.next_to_use;
        let d = &mut self.desc[i as usize];
        debug_assert_eq!(d.owner, Owner::Driver);
        *d = TxDesc {
            addr,
            len,
            cmd,
            status: 0,
            owner: Owner::Driver,
            dd_time: 0,
        };
        self.next_to_use = self.next(i);
        i
    }

    /// Doorbell: descriptors up to `next_to_use` pass to the NIC.
    pub fn ring_doorbell(&mut self) {
        hand_to_nic(&mut self.desc, self.tail, self.next_to_use);
        self.tail = self.next_to_use;
    }

    /// Slots from `from` up to the tail (posted, not yet fetched if `from`
    /// is the fetch pointer).
    pub fn to_tail(&self, from: u16) -> u16 {
        let n = self.size();
        (self.tail + n - from) % n
    }

    /// Whether the NIC has descriptors to fetch.
    pub fn nic_has_work(&self) -> bool {
        self.head != self.tail
    }

    /// NIC takes the next frame: its descriptors from `head` through EOP.
    /// Returns (first slot, descriptor count, EOP slot).
    pub fn nic_fetch_frame(&mut self) -> Option<(u16, u16, u16)> {
        if !self.nic_has_work() {
            return None;
        }
        let first = self.head;
        let mut i = first;
        let mut n = 0;
        loop {
            n += 1;
            let eop = self.desc[i as usize].cmd & CMD_EOP != 0;
            let last = i;
            i = self.next(i);
            if eop || i == self.tail {
                self.head = i;
                return Some((first, n, last));
            }
        }
    }

    /// NIC writes DD back for `n` descriptors from `first`, landing at `t`;
    /// they return to the driver.
    pub fn nic_writeback(&mut self, first: u16, n: u16, t: Nanos) {
        debug_assert_eq!(first, self.wb, "write-back is in ring order");
        let mut i = first;
        for _ in 0..n {
            let d = &mut self.desc[i as usize];
            d.status |= STAT_DD;
            d.dd_time = t;
            d.owner = Owner::Driver;
            i = self.next(i);
        }
        self.wb = i;
    }

    /// Driver reclaims the next done frame, if its write-back has landed by
    /// `now`. Returns the EOP slot and its buffer info.
    pub fn clean_one(&mut self, now: Nanos) -> Option<(u16, TxBufferInfo)> {
        if self.next_to_clean == self.wb {
            return None;
        }
        let first = self.next_to_clean;
        let d = self.desc[first as usize];
        if d.status & STAT_DD == 0 || d.dd_time > now {
            return None;
        }
        // Walk to the EOP slot of this frame.
        let mut i = first;
        loop {
            self.desc[i as usize].status = 0;
            let eop = self.desc[i as usize].cmd & CMD_EOP != 0;
            let cur = i;
            i = self.next(i);
            if eop {
                let info = std::mem::take(&mut self.info[cur as usize]);
                self.next_to_clean = i;
                return Some((cur, info));
            }
        }
    }

    /// Earliest DD write-back not yet reclaimed, if any.
    pub fn pending_dd(&self) -> Option<Nanos> {
        if self.next_to_clean == self.wb {
            return None;
        }
        let d = &self.desc[self.next_to_clean as usize];
        (d.status & STAT_DD != 0).then_some(d.dd_time)
    }

    /// Checks that every descriptor has exactly one owner and that the NIC
    /// owns exactly the slots between its head and the tail.
    pub fn check_ownership(&self) -> Result<(), String> {
        check_ring("tx", &self.desc, self.wb, self.tail)
    }
}

/// A descriptor with an ownership bit.
trait Owned {
    fn owner(&self) -> Owner;
    fn set_owner(&mut self, owner: Owner);
}

impl Owned for TxDesc {
    fn owner(&self) -> Owner {
        self.owner
    }
    fn set_owner(&mut self, owner: Owner) {
        self.owner = owner;
    }
}

impl Owned for RxDesc {
    fn owner(&self) -> Owner {
        self.owner
    }
    fn set_owner(&mut self, owner: Owner) {
        self.owner = owner;
    }
}

/// The slot after `i` in a ring of `size`.
/// Free slots between the driver's use and clean pointers, one kept empty
/// so that full and empty differ (e1000 `E1000_DESC_UNUSED`).
fn ring_unused(next_to_clean: u16, next_to_use: u16, size: u16) -> u16 {
    (next_to_clean + size - next_to_use - 1) % size
}

fn ring_next(i: u16, size: u16) -> u16 {
    if i + 1 == size {
        0
    } else {
        i + 1
    }
}

/// A tail write: slots `[from, to)` pass to the NIC.
fn hand_to_nic<D: Owned>(desc: &mut [D], from: u16, to: u16) {
    let size = desc.len() as u16;
    let mut i = from;
    while i != to {
        desc[i as usize].set_owner(Owner::Nic);
        i = ring_next(i, size);
    }
}

/// Every descriptor has exactly one owner, and the NIC owns exactly the
/// slots between its head and the tail.
fn check_ring<D: Owned>(what: &str, desc: &[D], head: u16, tail: u16) -> Result<(), String> {
    let size = desc.len() as u16;
    for (i, d) in desc.iter().enumerate() {
        let nic_range = in_range(head, tail, i as u16, size);
        if nic_range != (d.owner() == Owner::Nic) {
            return Err(format!(
                "{what} slot {i}: owner {:?}, but NIC range is {head}..{tail}",
                d.owner()
            ));
        }
    }
    Ok(())
}

/// Whether `i` lies in the ring range `[from, to)`.
fn in_range(from: u16, to: u16, i: u16, size: u16) -> bool {
    let len = (to + size - from) % size;
    (i + size - from) % size < len
}

/// A legacy Rx descriptor with the buffer posted to it.
#[derive(Debug)]
pub struct RxDesc {
    pub addr: u64,
    /// Bytes written by the NIC.
    pub len: u16,
    pub status: u8,
    pub owner: Owner,
    pub dd_time: Nanos,
    /// The posted buffer (the frame, once DD is set; empty once cleaned and
    /// not yet refilled).
    pub buf: Vec<u8>,
}

/// The Rx descriptor ring.
#[derive(Debug)]
pub struct RxRing {
    pub desc: Vec<RxDesc>,
    /// Size of every posted buffer (e1000 `rx_buffer_len`).
    pub buf_len: usize,
    /// NIC's next slot to fill (RDH).
    pub head: u16,
    /// Tail as last written to the NIC (RDT): the NIC fills up to it.
    pub tail: u16,
    /// Driver's next slot to post a buffer to (`next_to_use`).
    pub next_to_use: u16,
    /// Driver's next slot to clean (`next_to_clean`).
    pub next_to_clean: u16,
}

impl RxRing {
    /// A ring with no buffers posted yet; see [`RxRing::post`].
    pub fn new(size: u16, buf_len: usize) -> RxRing {
        let desc = (0..size)
            .map(|i| RxDesc {
                addr: rx_buffer_addr(i),
                len: 0,
                status: 0,
                owner: Owner::Driver,
                dd_time: 0,
                buf: Vec::new(),
            })
            .collect();
        RxRing {
            desc,
            buf_len,
            head: 0,
            tail: 0,
            next_to_use: 0,
            next_to_clean: 0,
        }
    }

    pub fn size(&self) -> u16 {
        self.desc.len() as u16
    }

    fn next(&self, i: u16) -> u16 {
        ring_next(i, self.size())
    }

    /// Slots the driver could post a buffer to (e1000 `E1000_DESC_UNUSED`).
    pub fn unused(&self) -> u16 {
        ring_unused(self.next_to_clean, self.next_to_use, self.size())
    }

    /// The bytes in slot `slot`: a received frame the driver has not taken
    /// yet, or a posted buffer.
    pub fn frame_at(&self, slot: u16) -> &[u8] {
        self.desc.get(slot as usize).map_or(&[], |d| &d.buf)
    }

    /// NIC: the next posted slot, if it owns one.
    pub fn nic_slot(&self) -> Option<u16> {
        (self.head != self.tail).then_some(self.head)
    }

    /// NIC DMA-writes a frame into the slot at `head`, landing at `t`.
    /// The frame's bytes take the posted buffer's place; the posted buffer
    /// is returned (the simulator moves bytes, it does not copy them).
    pub fn nic_write(&mut self, frame: Vec<u8>, t: Nanos) -> (u16, Vec<u8>) {
        let i = self.head;
        let d = &mut self.desc[i as usize];
        debug_assert_eq!(d.owner, Owner::Nic);
        d.len = frame.len() as u16;
        d.status = STAT_DD | STAT_EOP;
        d.dd_time = t;
        d.owner = Owner::Driver;
        let old = std::mem::replace(&mut d.buf, frame);
        self.head = self.next(i);
        (i, old)
    }

    /// Driver takes the next received frame whose write-back has landed.
    pub fn clean_one(&mut self, now: Nanos) -> Option<(u16, Vec<u8>)> {
        let i = self.next_to_clean;
        if i == self.head && self.desc[i as usize].status & STAT_DD == 0 {
            return None;
        }
        let d = &mut self.desc[i as usize];
        if d.owner != Owner::Driver || d.status & STAT_DD == 0 || d.dd_time > now {
            return None;
        }
        d.status = 0;
        let frame = std::mem::take(&mut d.buf);
        self.next_to_clean = self.next(i);
        Some((i, frame))
    }

    /// Earliest DD write-back not yet cleaned, if any.
    pub fn pending_dd(&self) -> Option<Nanos> {
        let d = &self.desc[self.next_to_clean as usize];
        (d.owner == Owner::Driver && d.status & STAT_DD != 0).then_some(d.dd_time)
    }

    /// Driver posts a fresh buffer to the next unused slot. Returns the slot,
    /// or gives the buffer back if every slot is in use.
    pub fn post(&mut self, buf: Vec<u8>) -> Result<u16, Vec<u8>> {
        if self.unused() == 0 {
            return Err(buf);
        }
        let i = self.next_to_use;
        let d = &mut self.desc[i as usize];
        d.buf = buf;
        d.len = 0;
        d.status = 0;
        self.next_to_use = self.next(i);
        Ok(i)
    }

    /// Driver writes RDT: posted slots pass to the NIC.
    pub fn ring_doorbell(&mut self) {
        hand_to_nic(&mut self.desc, self.tail, self.next_to_use);
        self.tail = self.next_to_use;
    }

    /// Checks that every descriptor has exactly one owner and that the NIC
    /// owns exactly the slots between its head and the tail.
    pub fn check_ownership(&self) -> Result<(), String> {
        check_ring("rx", &self.desc, self.head, self.tail)
    }
}

/// Modelled bus address of Rx buffer `i` (for descriptors and traces).
fn rx_buffer_addr(i: u16) -> u64 {
    0x1_0000_0000 + i as u64 * 4096
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tx_ring_keeps_one_slot_empty() {
        let r = TxRing::new(8);
        assert_eq!(r.unused(), 7);
    }

    #[test]
    fn tx_descriptors_pass_to_nic_only_at_the_doorbell() {
        let mut r = TxRing::new(8);
        r.post(0x1000, 54, CMD_EOP | CMD_RS);
        assert!(!r.nic_has_work());
        r.check_ownership().unwrap();
        r.ring_doorbell();
        assert!(r.nic_has_work());
        assert_eq!(r.desc[0].owner, Owner::Nic);
        r.check_ownership().unwrap();
    }

    #[test]
    fn tx_frame_is_reclaimed_only_after_its_writeback_lands() {
        let mut r = TxRing::new(8);
        r.post(0x1000, 66, 0);
        r.post(0x2000, 1448, CMD_EOP | CMD_RS);
        r.ring_doorbell();
        let (first, n, eop) = r.nic_fetch_frame().unwrap();
        assert_eq!((first, n, eop), (0, 2, 1));
        r.nic_writeback(first, n, 500);
        r.check_ownership().unwrap();
        assert!(r.clean_one(499).is_none());
        let (eop, _) = r.clean_one(500).unwrap();
        assert_eq!(eop, 1);
        assert_eq!(r.unused(), 7, "both descriptors reclaimed");
    }

    #[test]
    fn rx_ring_drops_when_nic_owns_nothing() {
        let mut r = RxRing::new(8, 2048);
        while r.post(Vec::with_capacity(2048)).is_ok() {}
        r.ring_doorbell();
        r.check_ownership().unwrap();
        for t in 0..7 {
            assert!(r.nic_slot().is_some());
            r.nic_write(vec![0; 60], t);
            r.check_ownership().unwrap();
        }
        assert!(r.nic_slot().is_none());
        assert!(r.clean_one(5).is_some());
        let (slot, frame) = r.clean_one(10).unwrap();
        assert_eq!((slot, frame.len()), (1, 60));
        // Cleaned but not re-posted: still nothing for the NIC.
        assert!(r.nic_slot().is_none());
        r.post(Vec::new()).unwrap();
        r.post(Vec::new()).unwrap();
        assert!(r.post(Vec::new()).is_err());
        r.ring_doorbell();
        assert!(r.nic_slot().is_some());
        r.check_ownership().unwrap();
    }
}
