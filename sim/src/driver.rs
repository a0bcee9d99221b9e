//! The NIC driver: frames from the stack into Tx descriptors, descriptors
//! back after the NIC is done, and fresh buffers for the Rx ring.
//!
//! Owns [`Driver`], the driver's own state (the qdisc in front of the Tx
//! ring and whether the queue is stopped), and its work, modelled on
//! e1000's: [`xmit`] (`dev_queue_xmit` -> `ndo_start_xmit`: which flow and
//! stream bytes a frame carries, TCP's per-segment transmit work, software
//! GSO and checksums where the NIC cannot, then `e1000_tx_map` /
//! `e1000_tx_queue` and one doorbell per batch), [`clean_tx`]
//! (`e1000_clean_tx_irq`) and [`rx_refill`] (`e1000_alloc_rx_buffers`).
//!
//! Does not own the rings or move bytes in hardware ([`crate::nic`]), and
//! does not decide when it runs: the stack calls [`xmit`] after each poll,
//! NAPI ([`crate::napi`]) calls the rest.

use std::collections::VecDeque;

use crate::app::sender::KERNEL_FRAG_BASE;
use crate::engine::Nanos;
use crate::event::{Ctx, Step};
use crate::frame::{self, Dissected};
use crate::host::Host;
use crate::nic::ring::{Payload, CMD_EOP, CMD_RS, MAX_DATA_PER_TXD, MAX_DESC_PER_FRAME};
use crate::nic::{self, payload_ctx};
use crate::provenance::TxTag;
use crate::schedule::Env;
use crate::socket::End;
use crate::stack::{self, TxFrame};

/// Modelled bus address of the sk_buff heads the driver maps.
const SKB_HEAD_BASE: u64 = 0xffff_8881_0000_0000;
/// A `gso_size` marking a segment software GSO already cut (it carries no
/// new TCP work).
const GSO_SEGMENT: u16 = u16::MAX;

/// The driver's state.
#[derive(Default)]
pub struct Driver {
    /// Frames the ring had no room for (the qdisc in front of the driver).
    pub qdisc: VecDeque<TxFrame>,
    /// `netif_stop_queue`: the ring is full until a Tx clean frees it.
    pub tx_stopped: bool,
    /// Scratch list for the segments software GSO cuts (kept: no
    /// allocation per super-segment).
    segs: Vec<Vec<u8>>,
}

/// Frames smoltcp may hand the driver in one poll.
pub fn tx_room(host: &Host) -> usize {
    let unused = host.nic.tx.unused();
    if unused < MAX_DESC_PER_FRAME {
        return 0;
    }
    let frames = (unused - MAX_DESC_PER_FRAME) as usize / 2 + 1;
    frames.saturating_sub(host.driver.qdisc.len())
}

/// `dev_queue_xmit` -> `ndo_start_xmit` for every frame the stack
/// produced: software GSO where the NIC cannot segment, checksums the NIC
/// does not insert, then the sk_buff head and frags mapped into Tx
/// descriptors; the doorbell is rung once for the batch.
pub fn xmit(host: &mut Host, env: &mut Env, c: &mut Nanos) {
    let drv = &mut host.driver;
    drv.qdisc.extend(host.stack.tx_out.drain(..));
    let mut posted = false;
    while !host.driver.qdisc.is_empty() {
        if host.nic.tx.unused() < MAX_DESC_PER_FRAME {
            if !host.driver.tx_stopped {
                host.driver.tx_stopped = true;
                host.acct.note(*c, Step::TxRingFull, 1, 0);
            }
            break;
        }
        let TxFrame {
            mut buf,
            gso_size,
            retransmit,
        } = host.driver.qdisc.pop_front().expect("not empty");
        let d = frame::dissect_fast(&buf);
        let (payload, echo) = attribute(host, &d);
        let gso_segment = gso_size == GSO_SEGMENT;
        let gso_size = if gso_segment { 0 } else { gso_size };
        let mut retransmit = retransmit;
        if !gso_segment {
            let echo_len = echo.map_or(0, |e| e.len as u64);
            retransmit = tcp_transmit(host, payload, echo_len, d.pure_ack, c);
        }
        let offloads = host.cfg.nic.offloads;
        let mss = gso_size as usize;
        if mss > 0 && d.payload_len > mss && !offloads.tso {
            software_gso(host, env, buf, &d, payload, (mss, retransmit), c);
            continue;
        }
        let mut checksum_copy = false;
        if d.checksummed > 0 && !offloads.tx_checksum {
            checksum_copy = software_checksum(host, &mut buf, &d, payload, c);
        }
        let slot = map(host, buf, &d, payload, (gso_size, gso_segment), c);
        if host.frames {
            let tag = TxTag {
                payload: payload.or(echo),
                echo: echo.is_some(),
                slot: Some(slot),
                retransmit,
                checksum_copy,
            };
            let tags = &mut host.nic.tx_tags;
            if tags.len() <= slot as usize {
                tags.resize(slot as usize + 1, TxTag::default());
            }
            tags[slot as usize] = tag;
        }
        posted = true;
    }
    if posted {
        let db = host.cost.doorbell;
        host.acct.charge(c, Step::TxDoorbell, 1, 0, db);
        host.nic.tx.ring_doorbell();
        nic::fill(host, env, *c);
    }
}

/// Which socket sent a frame and which stream bytes it carries; or the
/// bytes of an echo server's write-back, which belong to no measured stream
/// (placed in the return stream for observers). A SYN teaches the sending
/// socket its ISN.
fn attribute(host: &mut Host, d: &Dissected) -> (Option<Payload>, Option<Payload>) {
    if !d.tcp {
        return (None, None);
    }
    let Some(i) = host.lookup.sending(d.src_port, d.dst_port) else {
        return (None, None);
    };
    let sock = &mut host.sockets[i];
    let flow = sock.flow;
    match &mut sock.end {
        // An echo server's write-back: a linear skb of copied bytes.
        End::Recv(r) => {
            let echo = r.echo.as_mut();
            if d.syn {
                if let Some(e) = echo {
                    e.isn = Some(d.seq);
                }
                return (None, None);
            }
            let off = echo.and_then(|e| e.stream_offset(d.seq)).unwrap_or(0);
            let payload = (d.payload_len > 0).then_some(Payload {
                sock: i as u16,
                flow,
                off,
                len: d.payload_len as u32,
            });
            (None, payload)
        }
        End::Send(s) => {
            if d.syn {
                s.isn = Some(d.seq);
            }
            let payload = (d.payload_len > 0)
                .then(|| s.stream_offset(d.seq))
                .flatten()
                .map(|off| Payload {
                    sock: i as u16,
                    flow,
                    off,
                    len: d.payload_len as u32,
                });
            (payload, None)
        }
    }
}

/// `tcp_write_xmit -> tcp_transmit_skb -> ip_queue_xmit`: TCP's and IP's
/// per-segment work for a data segment (noting a retransmission), an echo
/// write-back, a pure ACK or another control frame. Returns whether it is
/// a retransmission.
fn tcp_transmit(
    host: &mut Host,
    payload: Option<Payload>,
    echo_payload: u64,
    pure_ack: bool,
    c: &mut Nanos,
) -> bool {
    let ns = host.cost.per_packet_tx;
    let mut again = false;
    if let Some(p) = payload {
        let s = host.sockets[p.sock as usize].end.sender_mut();
        let len = p.len as u64;
        if p.off < s.max_sent_end {
            again = true;
            s.retransmitted_segments += 1;
            host.acct.note(*c, Step::TcpRetransmit, 1, len);
        }
        s.max_sent_end = s.max_sent_end.max(p.off + len);
        let ctx = Ctx::stream(p.flow as usize, p.off, len);
        host.acct.charge_ctx(c, Step::TcpXmit, (1, len), ns, ctx);
    } else if echo_payload > 0 {
        host.acct.charge(c, Step::TcpXmit, 1, echo_payload, ns);
    } else {
        let step = if pure_ack {
            Step::AckXmit
        } else {
            Step::CtrlXmit
        };
        host.acct.charge(c, step, 1, 0, ns);
    }
    again
}

/// `validate_xmit_skb -> skb_gso_segment`: a super-segment the NIC cannot
/// cut is cut in software; the segments share its frags and go to the head
/// of the queue in order. `seg` is the MSS and whether the super-segment
/// is a retransmission.
fn software_gso(
    host: &mut Host,
    env: &mut Env,
    buf: Vec<u8>,
    d: &Dissected,
    payload: Option<Payload>,
    seg: (usize, bool),
    c: &mut Nanos,
) {
    let (mss, retransmit) = seg;
    let cost = &host.cost;
    if let Some(p) = payload {
        let s = host.sockets[p.sock as usize].end.sender_mut();
        if s.write_queue.map(p.off, p.len as u64, |_, _, _| {}).cut {
            let len = p.len as u64;
            host.acct.charge(c, Step::SkbAlloc, 1, len, cost.skb_alloc);
        }
    }
    let mut segs = std::mem::take(&mut host.driver.segs);
    let n = frame::segment(&buf, mss, env.free, &mut |b| segs.push(b)) as u64;
    let ns = cost.skb_alloc * n;
    host.acct
        .charge(c, Step::GsoSegment, n, d.payload_len as u64, ns);
    for seg in segs.drain(..).rev() {
        host.driver.qdisc.push_front(TxFrame {
            buf: seg,
            gso_size: GSO_SEGMENT,
            retransmit,
        });
    }
    host.driver.segs = segs;
    env.free.push(buf);
}

/// `skb_checksum_help`: the CPU computes the checksums the NIC will not.
/// Zero-copy frags are copied first where the path says so (the user may
/// rewrite the pages under a software checksum); the checksum covers what
/// was copied. Returns whether they were.
fn software_checksum(
    host: &mut Host,
    buf: &mut [u8],
    d: &Dissected,
    payload: Option<Payload>,
    c: &mut Nanos,
) -> bool {
    let cost = &host.cost;
    let mut refill = !stack::computes_tx_checksum(host.cfg.nic.offloads);
    let mut copied = false;
    if let Some(p) = payload {
        let s = host.sockets[p.sock as usize].end.sender_mut();
        if s.path.call().copies_for_software_checksum() {
            copied = true;
            let n = p.len as u64;
            host.acct
                .charge(c, Step::ZerocopyChecksumCopy, 1, n, cost.copy(n));
        }
        if s.keeps_bytes() {
            // The shared-frag copy takes the user pages as they are now.
            if s.patch_frame(p.off, p.len, buf) {
                let ctx = payload_ctx(payload);
                host.acct
                    .note_ctx(*c, Step::RewrittenCopy, 1, p.len as u64, ctx);
            }
            refill = true;
        }
    }
    if refill {
        frame::fill_checksums(buf);
    }
    let n = d.checksummed as u64;
    host.acct
        .charge(c, Step::TxChecksum, 1, n, cost.checksum(n));
    copied
}

/// `e1000_tx_map` -> `e1000_tx_queue`: the linear head (headers), then one
/// descriptor per frag piece of at most [`MAX_DATA_PER_TXD`] bytes; the
/// frame waits on its EOP slot (returned) for the NIC. `gso` is the MSS for
/// TSO and whether the frame is a segment software GSO cut.
fn map(
    host: &mut Host,
    buf: Vec<u8>,
    d: &Dissected,
    payload: Option<Payload>,
    gso: (u16, bool),
    c: &mut Nanos,
) -> u16 {
    let tx = &mut host.nic.tx;
    let head_len = if payload.is_some() {
        d.payload_offset
    } else {
        buf.len()
    };
    let head_addr = SKB_HEAD_BASE + tx.next_to_use as u64 * 256;
    let head_cmd = if payload.is_some() {
        0
    } else {
        CMD_EOP | CMD_RS
    };
    let mut last = tx.post(head_addr, head_len as u16, head_cmd);
    let mut descs = 1u16;
    if let Some(p) = payload {
        let s = host.sockets[p.sock as usize].end.sender_mut();
        let (len, end) = (p.len as u64, p.off + p.len as u64);
        let mut at = p.off;
        // skb_frag_dma_map for each frag.
        let mapped = s.write_queue.map(p.off, len, |addr, n, _| {
            let mut done = 0;
            while done < n {
                if descs + 1 == MAX_DESC_PER_FRAME {
                    return; // the last descriptor takes the rest, below
                }
                let piece = (n - done).min(MAX_DATA_PER_TXD);
                let cmd = if at + piece == end {
                    CMD_EOP | CMD_RS
                } else {
                    0
                };
                last = tx.post(addr + done, piece as u16, cmd);
                descs += 1;
                at += piece;
                done += piece;
            }
        });
        if mapped.cut && !gso.1 {
            host.acct
                .charge(c, Step::SkbAlloc, 1, len, host.cost.skb_alloc);
        }
        if at < end {
            // Bytes already acknowledged and freed while the frame waited
            // in the qdisc (the clone kept them alive), or pieces beyond the
            // descriptor budget: one more.
            let addr = KERNEL_FRAG_BASE + at;
            last = tx.post(addr, (end - at) as u16, CMD_EOP | CMD_RS);
            descs += 1;
        }
        s.zc.clone_ref(p.off, len, true);
        s.in_tx += 1;
    }
    let ns = host.cost.desc_write * descs as u64;
    let n = (descs as u64, buf.len() as u64);
    let ctx = payload_ctx(payload).with_slot(last);
    host.acct.charge_ctx(c, Step::TxDescPost, n, ns, ctx);
    let info = &mut tx.info[last as usize];
    info.frame = Some(buf);
    info.descs = descs;
    info.payload = payload;
    info.gso_size = gso.0;
    last
}

/// `e1000_clean_tx_irq`: reclaim the descriptors of every frame whose DD
/// write-back has landed, free the transmitted sk_buff (dropping its
/// clone's hold on zero-copy sends), and restart a stopped queue.
pub fn clean_tx(host: &mut Host, c: &mut Nanos) {
    // `eop`: the frame's EOP slot, the one its descriptors were posted under.
    while let Some((eop, info)) = host.nic.tx.clean_one(*c) {
        let ns = host.cost.skb_alloc;
        let ctx = payload_ctx(info.payload).with_slot(eop);
        host.acct.charge_ctx(c, Step::TxClean, (1, 0), ns, ctx);
        if let Some(p) = info.payload {
            let s = host.sockets[p.sock as usize].end.sender_mut();
            s.zc.clone_ref(p.off, p.len as u64, false);
            s.in_tx -= 1;
        }
    }
    if host.driver.tx_stopped && host.nic.tx.unused() >= MAX_DESC_PER_FRAME {
        host.driver.tx_stopped = false;
    }
}

/// `e1000_alloc_rx_buffers`: post fresh buffers to every free Rx slot and
/// write RDT once; with `charge`, the CPU pays for it (not at start-up).
pub fn rx_refill(host: &mut Host, free: &mut Vec<Vec<u8>>, c: &mut Nanos, charge: bool) {
    let rx = &mut host.nic.rx;
    let buf_len = rx.buf_len;
    let mut n = 0u64;
    while rx.unused() > 0 {
        let mut buf = free.pop().unwrap_or_default();
        if buf.capacity() < buf_len {
            buf.reserve(buf_len - buf.len());
        }
        if rx.post(buf).is_err() {
            break;
        }
        n += 1;
    }
    if n == 0 {
        return;
    }
    let (hits, misses) = host.napi.page_pool.alloc(n);
    if charge {
        let cost = &host.cost;
        let acct = &mut host.acct;
        acct.charge(c, Step::RxRefill, n, 0, cost.desc_write * n);
        if hits > 0 {
            let ns = cost.skb_alloc * hits;
            acct.charge(c, Step::PagePoolHit, hits, hits * 4096, ns);
        }
        if misses > 0 {
            let ns = cost.page_alloc * misses;
            acct.charge(c, Step::PagePoolMiss, misses, misses * 4096, ns);
        }
        acct.charge(c, Step::RxDoorbell, 1, 0, cost.doorbell);
    }
    rx.ring_doorbell();
}
