//! NAPI: the receive half of the journey inside the kernel.
//!
//! Owns [`Napi`], a host's NAPI context (scheduled or not, the softirq's
//! work so far, the Rx page pool) and its poll, modelled on `net_rx_action`
//! -> `e1000_clean`: the interrupt that schedules it ([`interrupt`]), Tx
//! completions, up to `napi_budget` received frames each built into an
//! sk_buff (or copied, below copybreak), their checksums (the NIC's word or
//! the CPU's), GRO's merging of in-order segments (`napi_gro_receive`),
//! delivery to the socket's receive queue (`tcp_v4_rcv` ->
//! `tcp_data_queue`), the Rx ring's refill, the stack's poll, and either
//! another poll (budget exhausted) or interrupts back on
//! (`napi_complete_done`).
//!
//! Does not own the descriptors ([`crate::nic::ring`]) or the driver's
//! refill and clean ([`crate::driver`]), which it calls.

use crate::driver;
use crate::engine::Nanos;
use crate::event::{Ctx, Step};
use crate::frame::{self, TcpSeg, GSO_MAX_FRAME};
use crate::host::Host;
use crate::nic;
use crate::page_pool::PagePool;
use crate::provenance::{NapiVerdict, RxFate};
use crate::schedule::Env;
use crate::schedule::Ev;
use crate::socket::{self, skb::RxQueued};
use crate::stack::{self, RxSkb};
use smoltcp::iface::SocketHandle;

/// Frames one softirq run may process before deferring to ksoftirqd:
/// Linux `netdev_budget` default 300.
const NETDEV_BUDGET: u32 = 300;

/// A host's NAPI context.
#[derive(Default)]
pub struct Napi {
    /// A poll is scheduled or running (interrupts masked).
    pub scheduled: bool,
    /// Frames taken since the softirq last finished its work.
    softirq_work: u32,
    /// The Rx page pool the driver refills from.
    pub page_pool: PagePool,
}

/// The interrupt handler (`e1000_intr` -> `__napi_schedule`): interrupts
/// off, NAPI scheduled, and it polls at once.
pub fn interrupt(host: &mut Host, env: &mut Env, c: &mut Nanos) {
    let irq = host.cost.irq;
    host.acct.charge(c, Step::Irq, 1, 0, irq);
    host.nic.irq_enabled = false;
    host.napi.scheduled = true;
    poll(host, env, c);
}

/// Whether an interrupt due now would run: not while masked (NAPI is
/// running and will see the work).
pub fn irq_unmasked(host: &Host) -> bool {
    host.nic.irq_enabled && !host.napi.scheduled
}

/// One NAPI poll (`e1000_clean`): reclaim Tx descriptors, take up to the
/// budget of received frames into sk_buffs, refill the Rx ring, run the
/// stack, and either re-arm the interrupt or poll again.
pub fn poll(host: &mut Host, env: &mut Env, c: &mut Nanos) {
    let ns = host.cost.napi_poll;
    host.acct.charge(c, Step::NapiPoll, 1, 0, ns);
    driver::clean_tx(host, c);
    let budget = host.cfg.nic.napi_budget;
    // The GRO skb still open for merging, if the last frame handed over may
    // grow: its ports, next sequence number and ACK number.
    let mut gro_open: Option<TcpSeg> = None;
    let mut work = 0;
    while work < budget {
        let Some((slot, frame)) = host.nic.rx.clean_one(*c) else {
            break;
        };
        work += 1;
        receive(host, env, (slot, frame), &mut gro_open, c);
    }
    driver::rx_refill(host, env.free, c, true);
    stack::poll(host, env, c);
    let napi = &mut host.napi;
    napi.softirq_work += work;
    if napi.softirq_work >= NETDEV_BUDGET {
        // net_rx_action ran out of its budget: the rest of the work waits
        // for ksoftirqd, behind whatever else wants the CPU.
        host.acct.note(*c, Step::SoftirqSqueeze, 1, 0);
        napi.softirq_work = 0;
    }
    if work >= budget {
        env.q.push(*c, Ev::Napi { host: host.id });
        return;
    }
    napi.softirq_work = 0;
    // napi_complete_done: interrupts back on; anything the NIC finished
    // meanwhile raises one.
    napi.scheduled = false;
    host.nic.irq_enabled = true;
    let pending = match (host.nic.tx.pending_dd(), host.nic.rx.pending_dd()) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if let Some(t) = pending {
        nic::raise_irq(host, env, t.max(*c));
    }
}

/// What [`receive`] will do with `frame`, taken from Rx ring slot `slot`,
/// when that is known as it reaches the port: for a frame without TCP
/// payload that is no SYN, nothing that happens before NAPI takes it can
/// change its fate (its checksums are what they are; GRO never merges it,
/// TCP queues nothing of it). `None` for the others: a segment's data
/// (GRO, TCP's queues) and a SYN (the socket's state) wait for NAPI.
/// Observers are told early, so that the frames after it at the port need
/// not wait for it; `receive` must agree (the world's tests check it does).
pub fn foreseen(host: &Host, slot: u16, frame: &[u8]) -> Option<RxFate> {
    let seg = frame::tcp_segment(frame);
    if seg.is_some_and(|g| g.payload_len > 0 || g.syn()) {
        return None;
    }
    let bad = host.verify_rx && !frame::checksums_ok(frame);
    let verdict = if bad {
        NapiVerdict::BadChecksum
    } else {
        NapiVerdict::Stack {
            gro_merged: host.cfg.nic.offloads.gro.then_some(false),
            tcp: None,
        }
    };
    Some(RxFate {
        slot,
        copybreak: frame.len() <= host.cfg.nic.copybreak as usize,
        verdict,
    })
}

/// Tells the tap, if any, what became of `frame`, taken from Rx ring slot
/// `slot` of `host`.
fn tell(host: &Host, env: &mut Env, frame: &[u8], fate: RxFate) {
    if let Some(tap) = env.tap.as_deref_mut() {
        tap.taken(host.id as usize, frame, fate);
    }
}

/// One received frame (and its Rx ring slot): an sk_buff (or a copybreak
/// copy), its checksums, GRO, the stack's per-packet work, and the socket's
/// receive queue. While an observer wants frames, the tap is told.
fn receive(
    host: &mut Host,
    env: &mut Env,
    (slot, frame): (u16, Vec<u8>),
    gro_open: &mut Option<TcpSeg>,
    c: &mut Nanos,
) {
    let cost = &host.cost;
    let len = frame.len() as u64;
    let copybreak = frame.len() <= host.cfg.nic.copybreak as usize;
    let fate = |verdict| RxFate {
        slot,
        copybreak,
        verdict,
    };
    if copybreak {
        host.acct.charge(c, Step::Copybreak, 1, len, cost.copy(len));
    } else {
        host.acct
            .charge(c, Step::RxBuildSkb, 1, len, cost.skb_alloc);
    }
    // Byte-by-byte verification only when the wire can corrupt; otherwise
    // every frame left a stack or NIC with valid sums.
    let bad = host.verify_rx && !frame::checksums_ok(&frame);
    let seg = frame::tcp_segment(&frame);
    let n = match seg {
        Some(g) => g.ip_len as u64,
        None => frame::ipv4_checksummed_len(&frame) as u64,
    };
    let rx_csum = host.cfg.nic.offloads.rx_checksum;
    if n > 0 {
        if rx_csum {
            host.acct.note(*c, Step::RxChecksumOffload, 1, n);
        }
        // Without offload, or when the NIC flagged an error
        // (CHECKSUM_NONE), the CPU checks: the stack, or GRO's
        // skb_gro_checksum_validate before merging.
        if !rx_csum || bad {
            host.acct
                .charge(c, Step::RxChecksum, 1, n, cost.checksum(n));
        }
    }
    let refused = seg.is_some_and(|g| socket::syn_before_own_syn(host, &g));
    if bad || refused {
        let (step, verdict) = if bad {
            (Step::RxBadChecksum, NapiVerdict::BadChecksum)
        } else {
            (Step::RxSynBeforeOwnSyn, NapiVerdict::Refused)
        };
        host.acct.note(*c, step, 1, len);
        tell(host, env, &frame, fate(verdict));
        host.napi.page_pool.put(1);
        env.free.push(frame);
        *gro_open = None;
        return;
    }
    let gro_on = host.cfg.nic.offloads.gro;
    let merged = gro_on && gro(host, &frame, seg, gro_open, c);
    if !merged {
        let ctx = if host.acct.wants_events() {
            socket::rx_ctx(&host.sockets, &host.lookup, &frame)
        } else {
            Ctx::NONE
        };
        let ns = host.cost.per_packet_rx;
        host.acct.charge_ctx(c, Step::RxStack, (1, len), ns, ctx);
    }
    // ip_rcv: a segment for another address is not this host's (smoltcp
    // drops it too); only a forged frame or a real peer sends one.
    let addr = host.cfg.address.octets();
    let mut pushed = None;
    let tcp =
        seg.and_then(|g| (g.dst_ip == addr).then(|| deliver(host, g, merged, *c, &mut pushed))?);
    let gro_merged = gro_on.then_some(merged);
    tell(
        host,
        env,
        &frame,
        fate(NapiVerdict::Stack { gro_merged, tcp }),
    );
    if tcp.is_none() {
        // Consumed in softirq (ACKs, control): page_pool_recycle_direct.
        host.napi.page_pool.put(1);
    }
    if merged {
        env.free.push(frame);
    } else {
        let data_for = seg.filter(|g| g.payload_len > 0);
        host.stack.rx_in.push_back(RxSkb {
            buf: frame,
            data_for: data_for.map(|g| (g.dst_port, g.src_port)),
            pushed,
        });
    }
}

/// `napi_gro_receive -> tcp4_gro_receive`: the next in-order segment of the
/// open flow, with the same ACK, joins the open skb. Returns whether it
/// merged; a segment with PSH (or any flag but ACK) closes its skb.
fn gro(
    host: &mut Host,
    frame: &[u8],
    seg: Option<TcpSeg>,
    open: &mut Option<TcpSeg>,
    c: &mut Nanos,
) -> bool {
    let len = frame.len() as u64;
    let ns = host.cost.gro;
    host.acct.charge(c, Step::GroReceive, 1, len, ns);
    let mut merged = false;
    if let (Some(o), Some(g), Some(skb)) = (*open, seg, host.stack.rx_in.back_mut()) {
        let skb = &mut skb.buf;
        if g.continues(&o) && skb.len() + g.payload_len <= GSO_MAX_FRAME {
            frame::gro_merge(skb, frame, &g);
            merged = true;
            host.acct.note(*c, Step::GroMerge, 1, g.payload_len as u64);
        }
    }
    *open = seg.filter(|g| g.payload_len > 0 && g.flags == frame::TCP_ACK);
    merged
}

/// `tcp_v4_rcv -> tcp_data_queue`: a data segment joins its socket's
/// receive queue (in order, out of order, or as a duplicate dropped).
/// Returns how, if the socket holds the frame's page until a read frees it.
/// An in-order segment shorter than the largest one the socket has
/// received (`tcp_measure_rcv_mss`) sets `pushed` to the socket's handle
/// when the application's next read will drain the receive queue (no more
/// unread bytes than one read takes) and it echoes nothing back: Linux
/// marks the segment `ICSK_ACK_PUSHED` and ACKs it at that read
/// ([`stack::RxSkb::pushed`]).
fn deliver(
    host: &mut Host,
    g: TcpSeg,
    merged: bool,
    c: Nanos,
    pushed: &mut Option<SocketHandle>,
) -> Option<RxQueued> {
    let i = host.lookup.receiving(g.dst_port, g.src_port)?;
    let handle = host.sockets[i].handle;
    let r = host.sockets[i].end.receiver_mut();
    let len = g.payload_len as u64;
    let queued = r.segment(g.seq, g.payload_len, g.syn(), merged);
    if queued == Some(RxQueued::InOrder) && !merged {
        let n = g.payload_len as u32;
        // Saturating: a forged frame (the fuzzer's) can leave the queue behind what
        // was read.
        let unread = r.rcv_queue.rcv_nxt().saturating_sub(r.received);
        if n < r.rcv_mss && unread <= r.read_size as u64 && r.echo.is_none() {
            *pushed = Some(handle);
        }
        r.rcv_mss = r.rcv_mss.max(n);
    }
    match queued {
        Some(RxQueued::OutOfOrder) => host.acct.note(c, Step::RxOutOfOrder, 1, len),
        Some(RxQueued::Duplicate) => host.acct.note(c, Step::RxDuplicate, 1, len),
        _ => {}
    }
    // Duplicates' pages come straight back.
    let dropped = std::mem::take(&mut r.rcv_queue.dropped_pages);
    host.napi.page_pool.put(dropped);
    queued
}
