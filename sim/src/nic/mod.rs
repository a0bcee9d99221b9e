//! The modelled NIC: its descriptor rings, its DMA engine, and the work it
//! does on its own clock.
//!
//! Owns [`Nic`] and the NIC's side of every frame: on transmit, fetching
//! posted descriptors in bursts, DMA-reading the frame into its on-chip Tx
//! FIFO (filling in checksums and cutting TSO super-segments on the way),
//! writing DD back in batches, and putting the frame on its port when the
//! wire is free; on receive, DMA-writing an arriving frame into the next
//! posted Rx buffer (or dropping it when there is none), writing the
//! descriptor back; and raising interrupts through the moderation timer.
//! The rings are in [`ring`], the DMA engine in [`dma`].
//!
//! Does not cost the CPU anything and does not know what frames mean beyond
//! their headers: the driver ([`crate::driver`]) posts and cleans
//! descriptors and pays for it; what the wire does with a frame is
//! [`crate::wire`]'s.

pub mod dma;
pub mod ring;

use std::collections::VecDeque;

use crate::account::Acct;
use crate::cost::CostModel;
use crate::engine::Nanos;
use crate::event::{Ctx, Step};
use crate::frame;
use crate::host::Host;
use crate::provenance::{self, Rewrite, TxTag};
use crate::schedule::Env;
use crate::schedule::Ev;
use crate::socket;
use dma::Dma;
use ring::{Payload, RxRing, TxRing, DESC_SIZE};

/// On-chip Tx packet buffer the NIC prefetches frames into: 160 KiB, the
/// ixgbe 82599 Tx packet buffer (`IXGBE_TXPBSIZE_160KB`).
pub const TX_FIFO_BYTES: u64 = 160 * 1024;
/// Descriptors the NIC fetches in one DMA read when it needs more
/// (prefetch threshold; ixgbe fetches in bursts of up to 32).
pub const TX_DESC_PREFETCH: u16 = 32;
/// Tx descriptors written back per DMA write (ixgbe `WTHRESH` default 8);
/// the NIC also writes back whatever is pending when it runs out of work.
pub const TX_WTHRESH: u16 = 8;

/// One NIC: rings, DMA engine, Tx FIFO and interrupt state.
pub struct Nic {
    pub tx: TxRing,
    pub rx: RxRing,
    pub dma: Dma,
    /// Frames DMA-read into the Tx FIFO: (ready time, bytes).
    staged: VecDeque<(Nanos, Vec<u8>)>,
    /// While an observer wants frames: the tag of each frame posted to the
    /// Tx ring, by its EOP slot, and of each frame in the FIFO with the
    /// bytes a lifetime violation rewrote in it.
    pub tx_tags: Vec<TxTag>,
    staged_tags: VecDeque<(TxTag, Option<Rewrite>)>,
    staged_bytes: u64,
    /// A departure is scheduled.
    tx_scheduled: bool,
    /// Descriptor fetch pointer, descriptors on chip not yet used, and when
    /// the last fetch lands.
    tx_fetch: u16,
    desc_onchip: u16,
    desc_ready: Nanos,
    /// Descriptors processed but not yet written back, and when the last of
    /// their frames was read.
    wb_pending: u16,
    wb_ready: Nanos,
    /// Interrupts are enabled (NAPI is not running).
    pub irq_enabled: bool,
    /// The moderation timer is running.
    pub irq_scheduled: bool,
    /// Scratch list for the frames TSO cuts (kept: no allocation per frame).
    segs: Vec<Vec<u8>>,
}

impl Nic {
    /// A NIC with `tx_ring` and `rx_ring` descriptors and Rx buffers of
    /// `rx_buf` bytes.
    pub fn new(tx_ring: u16, rx_ring: u16, rx_buf: usize) -> Nic {
        Nic {
            tx: TxRing::new(tx_ring),
            rx: RxRing::new(rx_ring, rx_buf),
            dma: Dma::default(),
            staged: VecDeque::new(),
            tx_tags: Vec::new(),
            staged_tags: VecDeque::new(),
            staged_bytes: 0,
            tx_scheduled: false,
            tx_fetch: 0,
            desc_onchip: 0,
            desc_ready: 0,
            wb_pending: 0,
            wb_ready: 0,
            irq_enabled: true,
            irq_scheduled: false,
            segs: Vec::new(),
        }
    }

    /// The tags of the frames in the Tx FIFO (while an observer wants
    /// frames).
    pub fn staged_tags(&self) -> impl Iterator<Item = &TxTag> {
        self.staged_tags.iter().map(|(tag, _)| tag)
    }

    /// Fetches the descriptors of a frame of `n` descriptors, in bursts of
    /// up to [`TX_DESC_PREFETCH`]; returns when the last fetch lands.
    fn fetch_descriptors(
        &mut self,
        acct: &mut Acct,
        cost: &CostModel,
        now: Nanos,
        n: u16,
    ) -> Nanos {
        while self.desc_onchip < n {
            let burst = self
                .tx
                .to_tail(self.tx_fetch)
                .min(TX_DESC_PREFETCH)
                .max(n - self.desc_onchip);
            let bytes = DESC_SIZE * burst as u64;
            self.desc_ready = self.dma.read(cost, now, bytes);
            acct.note(now, Step::TxDescFetch, burst as u64, bytes);
            self.tx_fetch = (self.tx_fetch + burst) % self.tx.size();
            self.desc_onchip += burst;
        }
        self.desc_onchip -= n;
        self.desc_ready.max(now)
    }
}

/// The NIC fetches posted frames into its Tx FIFO (descriptor fetch,
/// payload DMA read, DD write-back) while the FIFO has room, and makes sure
/// the next departure is scheduled.
pub fn fill(host: &mut Host, env: &mut Env, now: Nanos) {
    loop {
        let nic = &mut host.nic;
        if nic.staged_bytes >= TX_FIFO_BYTES {
            break;
        }
        let Some((_, n, eop)) = nic.tx.nic_fetch_frame() else {
            break;
        };
        let fetched = nic.fetch_descriptors(&mut host.acct, &host.cost, now, n);
        let info = &mut nic.tx.info[eop as usize];
        let mut frame = info.frame.take().unwrap_or_default();
        let (mss, payload) = (info.gso_size as usize, info.payload);
        let offloads = host.cfg.nic.offloads;
        let mut rewritten = None;
        if let Some(p) = payload {
            let s = host.sockets[p.sock as usize].end.sender_mut();
            // The NIC reads user pages now, whatever they hold now.
            if s.keeps_bytes() && offloads.tx_checksum && s.patch_frame(p.off, p.len, &mut frame) {
                rewritten = Some(p.len as u64);
            }
        }
        let len = frame.len() as u64;
        let ready = nic.dma.read(&host.cost, fetched, len);
        let ctx = payload.map_or(Ctx::NONE, |p| {
            Ctx::stream(p.flow as usize, p.off, p.len as u64).with_slot(eop)
        });
        host.acct.note_ctx(now, Step::TxDmaRead, 1, len, ctx);
        if let Some(n) = rewritten {
            host.acct.note_ctx(now, Step::RewrittenDmaRead, 1, n, ctx);
        }
        if mss > 0 && offloads.tso {
            // TSO: one super-segment in, MSS-sized frames out.
            let mut segs = std::mem::take(&mut host.nic.segs);
            let k = frame::segment(&frame, mss, env.free, &mut |b| segs.push(b));
            host.acct.note(now, Step::TsoSegment, k as u64, len);
            for (k, seg) in segs.drain(..).enumerate() {
                if host.frames {
                    note_tag(host, eop, (k, mss), &seg);
                }
                stage(host, now, ready, seg);
            }
            host.nic.segs = segs;
            env.free.push(frame);
        } else {
            if host.frames {
                note_tag(host, eop, (0, 0), &frame);
            }
            stage(host, now, ready, frame);
        }
        // Write-back of DD in batches of TX_WTHRESH descriptors.
        let nic = &mut host.nic;
        nic.wb_pending += n;
        nic.wb_ready = ready;
        if nic.wb_pending >= TX_WTHRESH {
            writeback(host, env, now);
        }
    }
    if !host.nic.tx.nic_has_work() && host.nic.wb_pending > 0 {
        // Out of work: write back what is pending.
        writeback(host, env, now);
    }
    schedule_departure(host, env);
}

/// While an observer wants frames: the tag of frame `f`, segment `k` of the
/// one posted with EOP slot `eop` cut at `mss` (0: not cut), about to enter
/// the Tx FIFO, with any bytes a lifetime violation rewrote in it (its
/// payload is what the wire will carry).
#[inline(never)]
fn note_tag(host: &mut Host, eop: u16, (k, mss): (usize, usize), f: &[u8]) {
    let posted = host.nic.tx_tags.get(eop as usize).copied();
    let tag = posted.unwrap_or_default().segment(k, mss);
    let rewritten = match (tag.payload, tag.echo) {
        (Some(p), false) => provenance::rewritten(host, &p, f),
        _ => None,
    };
    host.nic.staged_tags.push_back((tag, rewritten));
}

/// The tag of the frame [`depart`] just took from the FIFO (while an
/// observer wants frames), and the bytes a lifetime violation rewrote.
pub fn departed_tag(host: &mut Host) -> (TxTag, Option<Rewrite>) {
    host.nic.staged_tags.pop_front().unwrap_or_default()
}

/// A frame read from host memory enters the Tx FIFO, ready at `ready`; with
/// checksum offload the NIC fills in what the stack left
/// (CHECKSUM_PARTIAL).
fn stage(host: &mut Host, now: Nanos, ready: Nanos, mut f: Vec<u8>) {
    if host.cfg.nic.offloads.tx_checksum {
        frame::fill_checksums(&mut f);
        let k = frame::ipv4_checksummed_len(&f) as u64;
        if k > 0 {
            host.acct.note(now, Step::TxChecksumOffload, 1, k);
        }
    }
    host.nic.staged_bytes += f.len() as u64;
    host.nic.staged.push_back((ready, f));
}

/// The NIC writes DD back for every fetched descriptor not yet written
/// back, in one DMA write, and raises the completion interrupt.
fn writeback(host: &mut Host, env: &mut Env, now: Nanos) {
    let nic = &mut host.nic;
    let n = nic.wb_pending;
    let bytes = DESC_SIZE * n as u64;
    let dd = nic.dma.write(&host.cost, nic.wb_ready, bytes);
    let first = nic.tx.wb;
    nic.tx.nic_writeback(first, n, dd);
    host.acct.note(now, Step::TxWriteback, n as u64, bytes);
    nic.wb_pending = 0;
    raise_irq(host, env, dd);
}

/// Schedules the departure of the frame at the FIFO's head: when it is
/// ready, or, with no queue in front of the wire, when the wire is free.
fn schedule_departure(host: &mut Host, env: &mut Env) {
    let nic = &mut host.nic;
    if nic.tx_scheduled {
        return;
    }
    let Some(&(ready, _)) = nic.staged.front() else {
        return;
    };
    let at = if host.link.has_queue() {
        ready
    } else {
        ready.max(host.link.busy_until())
    };
    nic.tx_scheduled = true;
    env.q.push(at, Ev::NicTx { host: host.id });
}

/// The frame at the FIFO's head leaves the port at `t`, if there is one
/// (its tag: [`departed_tag`]). The caller puts it on the wire, then calls
/// [`fill`].
pub fn depart(host: &mut Host, t: Nanos) -> Option<Vec<u8>> {
    let nic = &mut host.nic;
    nic.tx_scheduled = false;
    let (_, frame) = nic.staged.pop_front()?;
    nic.staged_bytes -= frame.len() as u64;
    host.acct.note(t, Step::WireTx, 1, frame.len() as u64);
    Some(frame)
}

/// The Rx ring slot a frame of `len` bytes arriving now is written into, or
/// `None` if the NIC drops it (no posted buffer, or too long for one).
pub fn rx_slot(host: &Host, len: usize) -> Option<u16> {
    let rx = &host.nic.rx;
    rx.nic_slot().filter(|_| len <= rx.buf_len)
}

/// A frame arrives at `host`'s port at `t`: DMA it into the next posted Rx
/// buffer (headers and payload apart with header split), or drop it if the
/// ring has none.
pub fn receive(host: &mut Host, env: &mut Env, t: Nanos, frame: Vec<u8>) {
    let len = frame.len() as u64;
    host.acct.note(t, Step::WireRx, 1, len);
    if rx_slot(host, frame.len()).is_none() {
        host.acct.note(t, Step::RxRingDrop, 1, len);
        env.free.push(frame);
        return;
    }
    let (nic, cost) = (&mut host.nic, &host.cost);
    // With header split the headers go to a small buffer of their own and
    // the payload to its page: each byte is written once, in one of them.
    let (written, payload) = if host.cfg.nic.header_split {
        let payload = frame::tcp_segment(&frame).map_or(0, |g| g.payload_len as u64);
        let headers = len - payload;
        host.acct.note(t, Step::HeaderSplit, 1, headers);
        let h_done = nic.dma.write(cost, t, headers);
        (nic.dma.write(cost, t, payload).max(h_done), payload)
    } else {
        (nic.dma.write(cost, t, len), len)
    };
    let ctx = if host.acct.wants_events() {
        socket::rx_ctx(&host.sockets, &host.lookup, &frame).with_slot(nic.rx.head)
    } else {
        Ctx::NONE
    };
    host.acct.note_ctx(t, Step::RxDmaWrite, 1, payload, ctx);
    let dd = nic.dma.writeback(cost, written, DESC_SIZE);
    host.acct.note_ctx(t, Step::RxWriteback, 1, DESC_SIZE, ctx);
    let (_, old) = nic.rx.nic_write(frame, dd);
    env.free.push(old);
    raise_irq(host, env, dd);
}

/// The NIC has completed work at `t`; with interrupts enabled and none
/// pending, the moderation timer fires `irq_coalesce` later.
pub fn raise_irq(host: &mut Host, env: &mut Env, t: Nanos) {
    let nic = &mut host.nic;
    if nic.irq_enabled && !nic.irq_scheduled {
        nic.irq_scheduled = true;
        let at = t + host.cfg.nic.irq_coalesce;
        env.q.push(at, Ev::Irq { host: host.id });
    }
}

/// The stream bytes of a payload, for provenance.
pub fn payload_ctx(p: Option<Payload>) -> Ctx {
    p.map_or(Ctx::NONE, |p| {
        Ctx::stream(p.flow as usize, p.off, p.len as u64)
    })
}
