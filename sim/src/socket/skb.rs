//! sk_buff records of the modelled socket layer's write queue.
//!
//! Owns [`SkBuff`] — a stretch of the TCP byte stream and the frags that hold
//! it, each pointing either at a kernel page frag (the copy path copied the
//! bytes there) or at a user page (MSG_ZEROCOPY referenced it) — and
//! [`WriteQueue`], the socket's `sk_write_queue` + retransmit queue: filled by
//! `tcp_sendmsg`, mapped by the driver into Tx descriptors, freed by
//! `tcp_clean_rtx_queue` once TCP has the bytes acknowledged.
//!
//! Owns [`ReceiveQueue`] too: the data sk_buffs NAPI delivered to a socket
//! (`sk_receive_queue`, in order, and the out-of-order queue), freed as the
//! application's reads pass them.
//!
//! Does not hold the bytes: smoltcp keeps the protocol's copy in its own
//! ring; these records say where a Linux kernel would hold them. Records are
//! fixed-size (no allocation per sk_buff once the queue has grown).

use std::collections::VecDeque;

use crate::buffer::PAGE_SIZE;

/// Most frags one sk_buff holds: `MAX_SKB_FRAGS` with 4 KiB pages.
pub const MAX_SKB_FRAGS: usize = 17;

/// What memory a frag points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FragMem {
    /// A kernel page frag the bytes were copied into (`sk_page_frag`).
    Kernel,
    /// A user page referenced for zero-copy: application buffer `buffer`.
    User { buffer: u32 },
    /// A page-cache page of the file being sent (sendfile, splice).
    PageCache,
}

/// One fragment: `len` bytes at bus address `addr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frag {
    pub addr: u64,
    pub len: u32,
    pub mem: FragMem,
}

/// A data sk_buff on the write queue. Its frags live in the queue's frag
/// ring (`WriteQueue::frags`), `nr_frags` of them from index `first`, so that
/// a record is small and cutting one costs no more than its frags.
#[derive(Debug, Clone, Copy)]
pub struct SkBuff {
    /// Stream offset of the first payload byte (`TCP_SKB_CB(skb)->seq`).
    pub seq: u64,
    /// Payload bytes (`skb->len`; headers are pushed at transmit).
    pub len: u32,
    pub nr_frags: u8,
    /// Absolute index of the first frag in the queue's frag ring.
    first: u64,
}

impl SkBuff {
    pub fn end(&self) -> u64 {
        self.seq + self.len as u64
    }
}

/// Unsent bytes as tcp_sendmsg left them: where they sit, not yet cut
/// into segments.
#[derive(Debug, Clone, Copy)]
struct Piece {
    seq: u64,
    frag: Frag,
}

/// The socket's write queue: bytes written but not yet transmitted, and the
/// retransmit queue of transmitted sk_buffs, in stream order.
///
/// Linux builds sk_buffs in `tcp_sendmsg` and splits them in
/// `tcp_write_xmit` (`tcp_fragment`) when the window or congestion window
/// cuts a segment short. smoltcp decides the segments here, so the model
/// keeps unsent bytes as pieces and cuts an sk_buff exactly when a segment
/// is first transmitted: one sk_buff per segment, as Linux ends up with
/// without TSO, so every sk_buff allocated is freed by an ACK.
#[derive(Debug, Default)]
pub struct WriteQueue {
    unsent: VecDeque<Piece>,
    rtx: VecDeque<SkBuff>,
    /// The frags of the sk_buffs on `rtx`, in order.
    frags: VecDeque<Frag>,
    /// Absolute index of `frags[0]`.
    frags_base: u64,
}

impl WriteQueue {
    pub fn new() -> WriteQueue {
        WriteQueue::default()
    }

    /// sk_buffs on the retransmit queue.
    pub fn len(&self) -> usize {
        self.rtx.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rtx.is_empty() && self.unsent.is_empty()
    }

    /// `tcp_sendmsg`: `len` stream bytes starting at `seq` that sit at
    /// `addr` in `mem`, contiguous except at multiples of `chunk` (4 KiB
    /// user pages, 32 KiB kernel page frags).
    /// Returns how many new frags the bytes started (the rest joined the
    /// previous frag).
    pub fn append(&mut self, seq: u64, addr: u64, len: u64, mem: FragMem, chunk: u64) -> u64 {
        self.append_inner(seq, addr, len, mem, chunk, false)
    }

    /// Like [`WriteQueue::append`] for one iovec region of a `writev`: the
    /// region starts a frag of its own.
    pub fn append_region(
        &mut self,
        seq: u64,
        addr: u64,
        len: u64,
        mem: FragMem,
        chunk: u64,
    ) -> u64 {
        self.append_inner(seq, addr, len, mem, chunk, true)
    }

    fn append_inner(
        &mut self,
        seq: u64,
        addr: u64,
        len: u64,
        mem: FragMem,
        chunk: u64,
        new_frag: bool,
    ) -> u64 {
        let mut fresh = new_frag;
        let mut frags = 0;
        let (mut seq, mut addr, mut left) = (seq, addr, len);
        while left > 0 {
            let n = left.min(chunk - addr % chunk).min(u32::MAX as u64);
            if let Some(last) = self.unsent.back_mut().filter(|_| !fresh) {
                let f = &mut last.frag;
                if addr % chunk != 0
                    && f.mem == mem
                    && f.addr + f.len as u64 == addr
                    && last.seq + f.len as u64 == seq
                {
                    f.len += n as u32;
                    seq += n;
                    addr += n;
                    left -= n;
                    continue;
                }
            }
            fresh = false;
            frags += 1;
            self.unsent.push_back(Piece {
                seq,
                frag: Frag {
                    addr,
                    len: n as u32,
                    mem,
                },
            });
            seq += n;
            addr += n;
            left -= n;
        }
        frags
    }

    /// `tcp_write_xmit` sends `[off, off + len)` for the first time: cut an
    /// sk_buff for it from the unsent pieces onto the retransmit queue.
    /// Frags beyond `MAX_SKB_FRAGS` are merged into the last one. Returns
    /// whether an sk_buff was cut.
    fn transmit_new(&mut self, off: u64, len: u64) -> bool {
        let end = off + len;
        let mut skb = SkBuff {
            seq: off,
            len: 0,
            nr_frags: 0,
            first: self.frags_base + self.frags.len() as u64,
        };
        while let Some(p) = self.unsent.front_mut() {
            let p_end = p.seq + p.frag.len as u64;
            if p_end <= off {
                self.unsent.pop_front();
                continue;
            }
            if p.seq >= end {
                break;
            }
            let from = off.max(p.seq);
            let to = end.min(p_end);
            let piece = Frag {
                addr: p.frag.addr + (from - p.seq),
                len: (to - from) as u32,
                mem: p.frag.mem,
            };
            if skb.nr_frags as usize == MAX_SKB_FRAGS {
                let last = self.frags.back_mut().expect("the skb has frags");
                last.len += piece.len;
            } else {
                self.frags.push_back(piece);
                skb.nr_frags += 1;
            }
            skb.len += piece.len;
            if to == p_end {
                self.unsent.pop_front();
            } else {
                // Keep the rest of the piece for the next segment.
                p.frag.addr += to - p.seq;
                p.frag.len -= (to - p.seq) as u32;
                p.seq = to;
                break;
            }
        }
        if skb.len == 0 {
            return false;
        }
        self.rtx.push_back(skb);
        true
    }

    /// The frags of `skb`.
    pub fn frags_of(&self, skb: &SkBuff) -> impl Iterator<Item = &Frag> {
        let at = (skb.first - self.frags_base) as usize;
        self.frags.range(at..at + skb.nr_frags as usize)
    }

    /// `tcp_clean_rtx_queue`: frees every sk_buff wholly acknowledged.
    /// Returns how many were freed and the stream bytes they held
    /// (`[from, to)`, empty when none was).
    pub fn clean_acked(&mut self, acked: u64) -> (u64, u64, u64) {
        let (mut freed, mut from, mut to) = (0, 0, 0);
        while self.rtx.front().is_some_and(|s| s.end() <= acked) {
            let skb = self.rtx.pop_front().expect("front exists");
            self.frags.drain(..skb.nr_frags as usize);
            self.frags_base += skb.nr_frags as u64;
            if freed == 0 {
                from = skb.seq;
            }
            to = skb.end();
            freed += 1;
        }
        (freed, from, to)
    }

    /// The driver maps a segment's payload `[off, off + len)`: calls
    /// `f(addr, len, mem)` for each frag piece holding it, in order. A
    /// first transmission is cut into its own sk_buff first.
    pub fn map(&mut self, off: u64, len: u64, mut f: impl FnMut(u64, u64, FragMem)) -> Mapped {
        let end = off + len;
        let cut = self.rtx.back().is_none_or(|s| s.end() <= off) && self.transmit_new(off, len);
        let complete = self.map_sent(off, end, &mut f);
        Mapped { complete, cut }
    }

    /// Maps `[off, end)` over the retransmit queue; false if part of it is
    /// not there any more (acknowledged and freed while the frame waited
    /// for the driver).
    fn map_sent(&self, off: u64, end: u64, f: &mut impl FnMut(u64, u64, FragMem)) -> bool {
        // A first transmission maps to the newest sk_buff; only
        // retransmissions search.
        let mut i = match self.rtx.back() {
            Some(b) if b.seq <= off => self.rtx.len() - 1,
            _ => self.rtx.partition_point(|s| s.end() <= off),
        };
        let mut at = off;
        while at < end {
            let Some(skb) = self.rtx.get(i) else {
                return false;
            };
            if skb.seq > at {
                return false;
            }
            let mut frag_start = skb.seq;
            for fr in self.frags_of(skb) {
                let frag_end = frag_start + fr.len as u64;
                if frag_end > at && frag_start < end {
                    let from = at.max(frag_start);
                    let to = end.min(frag_end);
                    f(fr.addr + (from - frag_start), to - from, fr.mem);
                    at = to;
                }
                frag_start = frag_end;
            }
            i += 1;
        }
        true
    }
}

/// What [`WriteQueue::map`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapped {
    /// Every byte of the range was found in an sk_buff.
    pub complete: bool,
    /// A new sk_buff was cut for a first transmission.
    pub cut: bool,
}

/// What `tcp_data_queue` did with a data segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RxQueued {
    /// Appended to the receive queue (and maybe pulled ofo segments after it).
    InOrder,
    /// Held on the out-of-order queue (`tcp_data_queue_ofo`).
    OutOfOrder,
    /// Every byte was already queued: dropped (`tcp_drop` of a duplicate).
    Duplicate,
}

/// A socket's receive side: in-order sk_buffs waiting for the application,
/// and out-of-order ones waiting for the gap before them to fill.
#[derive(Debug, Default)]
pub struct ReceiveQueue {
    /// (stream offset, length, Rx pages, page-sized frags) of each queued
    /// sk_buff.
    queue: VecDeque<(u64, u32, u32, u32)>,
    /// Out-of-order sk_buffs by stream offset: (length, Rx pages,
    /// page-sized frags).
    ofo: std::collections::BTreeMap<u64, (u32, u32, u32)>,
    /// Rx pages of segments dropped as duplicates or trimmed away, to give
    /// back to the page pool.
    pub dropped_pages: u64,
    /// Next stream offset expected (`rcv_nxt`).
    rcv_nxt: u64,
    /// Most sk_buffs queued at once (in order and out of order).
    pub peak: usize,
}

impl ReceiveQueue {
    /// `tcp_data_queue`: segment `[seq, seq + len)` arrives in one Rx page.
    pub fn arrive(&mut self, seq: u64, len: u32) -> RxQueued {
        let end = seq + len as u64;
        let whole = page_sized(len);
        let verdict = if end <= self.rcv_nxt {
            self.dropped_pages += 1;
            RxQueued::Duplicate
        } else if seq > self.rcv_nxt {
            let e = self.ofo.entry(seq).or_insert((0, 0, 0));
            if e.1 > 0 {
                self.dropped_pages += 1; // the longer copy is kept
            }
            if len >= e.0 {
                *e = (len, 1, whole);
            }
            RxQueued::OutOfOrder
        } else {
            self.queue.push_back((seq, len, 1, whole));
            self.rcv_nxt = end;
            // tcp_ofo_queue: segments the gap was waiting for move over.
            while let Some((&s, &(l, pages, whole))) = self.ofo.first_key_value() {
                if s > self.rcv_nxt {
                    break;
                }
                self.ofo.pop_first();
                if s + l as u64 > self.rcv_nxt {
                    self.queue.push_back((s, l, pages, whole));
                    self.rcv_nxt = s + l as u64;
                } else {
                    self.dropped_pages += pages as u64;
                }
            }
            RxQueued::InOrder
        };
        self.peak = self.peak.max(self.queue.len() + self.ofo.len());
        verdict
    }

    /// A segment GRO merged into the previous one: it grows the queue's
    /// last sk_buff (by its bytes and its page) when it continues it in
    /// order, else queues as usual.
    pub fn arrive_merged(&mut self, seq: u64, len: u32) -> RxQueued {
        match self.queue.back_mut() {
            Some(last) if seq == self.rcv_nxt && last.0 + last.1 as u64 == seq => {
                last.1 += len;
                last.2 += 1;
                last.3 += page_sized(len);
                self.rcv_nxt += len as u64;
                RxQueued::InOrder
            }
            _ => self.arrive(seq, len),
        }
    }

    /// The application has read up to stream offset `read`: frees the
    /// sk_buffs it has wholly consumed (`sk_eat_skb`). Returns how many,
    /// and how many Rx pages they held.
    pub fn consume_to(&mut self, read: u64) -> (u64, u64) {
        let (mut freed, mut pages) = (0, 0);
        while self
            .queue
            .front()
            .is_some_and(|&(s, l, _, _)| s + l as u64 <= read)
        {
            let (_, _, p, _) = self.queue.pop_front().expect("front exists");
            freed += 1;
            pages += p as u64;
        }
        (freed, pages)
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Pages `tcp_zerocopy_receive` can map for a read of `n` bytes from
    /// stream offset `from`: the frags that are exactly one page at offset
    /// 0 (`can_map_frag`: `skb_frag_size == PAGE_SIZE`, `skb_frag_off ==
    /// 0`; with header split the payload starts its page) and lie wholly in
    /// the read. An sk_buff with any other frag is copied whole here
    /// (Linux maps up to that frag, then the application copies
    /// `recv_skip_hint` bytes and calls again).
    pub fn mappable_pages(&self, from: u64, n: u64) -> u64 {
        let end = from + n;
        let mut pages = 0;
        for &(s, l, p, whole) in &self.queue {
            if s >= end {
                break;
            }
            if whole == 0 || whole != p {
                continue;
            }
            let first = (from.max(s) - s).div_ceil(PAGE_SIZE);
            let last = (end.min(s + l as u64) - s) / PAGE_SIZE;
            pages += last.saturating_sub(first);
        }
        pages
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty() && self.ofo.is_empty()
    }

    /// Next stream offset expected.
    pub fn rcv_nxt(&self) -> u64 {
        self.rcv_nxt
    }
}

/// 1 if a segment of `len` payload bytes fills its Rx page exactly (with
/// header split: the page can be mapped into user space), else 0.
fn page_sized(len: u32) -> u32 {
    u32::from(len as u64 == PAGE_SIZE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_page_sized_frags_wholly_in_a_read_map() {
        let mut q = ReceiveQueue::default();
        // MTU 1500: 1460-byte frags, nothing maps.
        q.arrive(0, 1460);
        q.arrive_merged(1460, 1460);
        assert_eq!(q.mappable_pages(0, 2920), 0);
        // A page-sized MSS (MTU 4136): every frag maps, if wholly read.
        let mut q = ReceiveQueue::default();
        q.arrive(0, 4096);
        q.arrive_merged(4096, 4096);
        q.arrive(8192, 4096);
        assert_eq!(q.mappable_pages(0, 12288), 3);
        assert_eq!(q.mappable_pages(100, 12288 - 100), 2);
        assert_eq!(q.mappable_pages(0, 6000), 1);
        // A short last segment leaves its sk_buff to be copied.
        q.arrive_merged(12288, 100);
        assert_eq!(q.mappable_pages(0, 12388), 2);
    }

    fn pieces(q: &mut WriteQueue, off: u64, len: u64) -> Vec<(u64, u64)> {
        let mut v = Vec::new();
        assert!(q.map(off, len, |a, l, _| v.push((a, l))).complete);
        v
    }

    #[test]
    fn each_first_transmission_gets_its_own_skb() {
        let mut q = WriteQueue::new();
        q.append(0, 0x1000, 3000, FragMem::Kernel, 32768);
        assert_eq!(pieces(&mut q, 0, 1000), vec![(0x1000, 1000)]);
        assert_eq!(pieces(&mut q, 1000, 1460), vec![(0x1000 + 1000, 1460)]);
        assert_eq!(q.len(), 2);
        // A retransmission spanning both maps to both and cuts nothing.
        assert!(!q.map(500, 1000, |_, _, _| {}).cut);
        assert_eq!(
            pieces(&mut q, 500, 1000),
            vec![(0x1000 + 500, 500), (0x1000 + 1000, 500)]
        );
        assert_eq!(q.len(), 2);
    }

    #[test]
    fn zero_copy_frags_split_at_user_page_boundaries() {
        let mut q = WriteQueue::new();
        let user = FragMem::User { buffer: 3 };
        q.append(0, 4096 - 100, 1448, user, 4096);
        assert_eq!(pieces(&mut q, 0, 1448), vec![(3996, 100), (4096, 1348)]);
        assert_eq!(q.rtx[0].nr_frags, 2, "the skb spans two user pages");
        assert_eq!(q.frags_of(&q.rtx[0]).count(), 2);
    }

    #[test]
    fn acknowledged_skbs_are_freed_and_no_longer_mapped() {
        let mut q = WriteQueue::new();
        q.append(0, 0, 2500, FragMem::Kernel, 32768);
        pieces(&mut q, 0, 1000);
        pieces(&mut q, 1000, 1500);
        assert_eq!(q.clean_acked(1999).0, 1);
        assert_eq!(q.clean_acked(2500).0, 1);
        assert!(q.is_empty());
        assert!(!q.map(0, 10, |_, _, _| {}).complete);
    }

    #[test]
    fn frags_beyond_max_skb_frags_merge_into_the_last() {
        // One-byte sends from 18 different pages: 18 pieces, 17 frags.
        let mut q = WriteQueue::new();
        for i in 0..18u64 {
            q.append(i, i * 8192, 1, FragMem::User { buffer: i as u32 }, 4096);
        }
        let mut n = 0;
        let m = q.map(0, 18, |_, _, _| n += 1);
        assert_eq!(
            m,
            Mapped {
                complete: true,
                cut: true
            }
        );
        assert_eq!(n, MAX_SKB_FRAGS);
    }

    #[test]
    fn out_of_order_segments_wait_for_the_gap() {
        let mut q = ReceiveQueue::default();
        assert_eq!(q.arrive(0, 100), RxQueued::InOrder);
        assert_eq!(q.arrive(200, 100), RxQueued::OutOfOrder);
        assert_eq!(q.len(), 1);
        assert_eq!(q.arrive(100, 100), RxQueued::InOrder);
        assert_eq!(q.len(), 3, "the ofo segment moved over");
        assert_eq!(q.arrive(50, 100), RxQueued::Duplicate);
        assert_eq!(q.consume_to(150), (1, 1));
        assert_eq!(q.consume_to(300), (2, 2));
        assert_eq!(q.dropped_pages, 1, "the duplicate's page");
        assert!(q.is_empty());
        assert_eq!(q.peak, 3);
    }
}
