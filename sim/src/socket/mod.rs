//! The socket layer: each TCP socket's kernel-side records, and what the
//! kernel does for a socket after TCP has run.
//!
//! Owns [`Socket`]: one end of a flow on its host, tying smoltcp's socket
//! (the protocol) to the application and kernel records the model keeps
//! around it: the write queue of sk_buffs and the zero-copy sends in flight
//! on a sending socket, the receive queue on a receiving one ([`skb`],
//! [`zerocopy`]). Owns [`after_poll`]: once the stack has processed ACKs,
//! acknowledged sk_buffs are freed (`tcp_clean_rtx_queue`), zero-copy sends
//! complete (`skb_zcopy_clear` -> `__msg_zerocopy_callback`) and blocked
//! applications are woken (`sk_stream_write_space`, `sk_data_ready`).
//!
//! Does not run TCP (smoltcp does, in [`crate::stack`]) or the
//! applications' calls ([`crate::app`]).

pub mod skb;
pub mod zerocopy;

use std::collections::BTreeMap;

use smoltcp::iface::SocketHandle;

use crate::account::Acct;
use crate::app::receiver::Receiver;
use crate::app::sender::{SendState, Sender};
use crate::app::{echo, wake};
use crate::cost::CostModel;
use crate::engine::{EventQueue, Nanos};
use crate::event::{Ctx, Step};
use crate::frame;
use crate::host::Host;
use crate::schedule::Ev;

/// Any remote port (port 0 is never used by TCP).
pub const ANY_PORT: u16 = 0;

/// One end of a flow on its host.
pub struct Socket {
    pub flow: u16,
    /// smoltcp's socket.
    pub handle: SocketHandle,
    pub local_port: u16,
    /// The peer's port; [`ANY_PORT`] for a listener whose peer is a real
    /// kernel, which picks its own ephemeral port.
    pub remote_port: u16,
    /// [`Socket::finished`], once it has become true (it stays so): kept
    /// here, beside the ports, so that the many finished sockets of a
    /// many-flow run cost one load each after every poll.
    pub retired: bool,
    pub end: End,
}

/// Which end of its flow a socket is, with that end's records.
pub enum End {
    Send(Box<Sender>),
    Recv(Box<Receiver>),
}

impl End {
    pub fn sender(&self) -> Option<&Sender> {
        match self {
            End::Send(s) => Some(s),
            End::Recv(_) => None,
        }
    }

    pub fn receiver(&self) -> Option<&Receiver> {
        match self {
            End::Recv(r) => Some(r),
            End::Send(_) => None,
        }
    }

    /// The sender of a socket known to be a sending end.
    pub fn sender_mut(&mut self) -> &mut Sender {
        match self {
            End::Send(s) => s,
            End::Recv(_) => panic!("a receiving socket has no sender"),
        }
    }

    /// The receiver of a socket known to be a receiving end.
    pub fn receiver_mut(&mut self) -> &mut Receiver {
        match self {
            End::Recv(r) => r,
            End::Send(_) => panic!("a sending socket has no receiver"),
        }
    }
}

impl Socket {
    /// Whether a segment from `remote` to `local` is this socket's.
    #[inline]
    pub fn matches(&self, local: u16, remote: u16) -> bool {
        self.local_port == local && (self.remote_port == remote || self.remote_port == ANY_PORT)
    }

    pub fn is_sender(&self) -> bool {
        matches!(self.end, End::Send(_))
    }

    /// Whether nothing the stack does can concern this socket any more:
    /// its application is done and every byte it wrote (or, echoing, wrote
    /// back) has been acknowledged.
    pub fn finished(&self) -> bool {
        match &self.end {
            End::Send(s) => s.done() && s.acked == s.issued,
            End::Recv(r) => {
                r.done() && r.closed && r.echo.as_ref().is_none_or(|o| o.acked == o.written)
            }
        }
    }
}

/// A host's receiving sockets by (local port, remote port): the
/// established-socket hash table `__inet_lookup_established` searches, so
/// that finding a segment's socket does not grow with the flows on the
/// host. (An ordered map: a handful of comparisons, and nothing about it
/// depends on a hasher.)
#[derive(Debug, Default)]
pub struct Lookup {
    receivers: BTreeMap<(u16, u16), usize>,
    all: BTreeMap<(u16, u16), usize>,
}

impl Lookup {
    /// The socket at index `i` sends from port `local` to `remote`
    /// ([`ANY_PORT`]: any) and takes segments the other way; `receiving`
    /// when it is a flow's receiving end.
    pub fn insert(&mut self, local: u16, remote: u16, i: usize, receiving: bool) {
        if receiving {
            self.receivers.insert((local, remote), i);
        }
        self.all.entry((local, remote)).or_insert(i);
    }

    /// Index of the receiving socket a TCP segment arriving from port `src`
    /// to port `dst` belongs to, if any.
    pub fn receiving(&self, dst: u16, src: u16) -> Option<usize> {
        let exact = self.receivers.get(&(dst, src));
        exact
            .or_else(|| self.receivers.get(&(dst, ANY_PORT)))
            .copied()
    }

    /// Index of the socket that sent a segment from port `src` to `dst`
    /// (the first opened, should two ends of different flows share ports).
    pub fn sending(&self, src: u16, dst: u16) -> Option<usize> {
        let exact = self.all.get(&(src, dst));
        exact.or_else(|| self.all.get(&(src, ANY_PORT))).copied()
    }
}

/// Whether `g` is a SYN without ACK for a sending socket of this host that
/// is connecting but has not sent its own SYN yet (it waits for ARP).
/// Linux would take it as a simultaneous open; smoltcp 0.14.0 records the
/// peer's sequence number while the window it last advertised is still 0
/// and panics in `Socket::last_scaled_window` ("attempt to subtract
/// sequence numbers with underflow"). Only a real peer (TAP) or a forged
/// frame sends one; the model drops it before smoltcp sees it.
pub fn syn_before_own_syn(host: &Host, g: &frame::TcpSeg) -> bool {
    if !g.syn() || g.flags & frame::TCP_ACK != 0 {
        return false;
    }
    let sock = host.lookup.sending(g.dst_port, g.src_port);
    sock.and_then(|i| host.sockets[i].end.sender())
        .is_some_and(|s| s.isn.is_none())
}

/// Provenance of a received frame for observers: the flow whose data it
/// carries and the stream bytes, from the receiver's view of the sequence.
pub fn rx_ctx(sockets: &[Socket], lookup: &Lookup, frame: &[u8]) -> Ctx {
    let Some(g) = frame::tcp_segment(frame) else {
        return Ctx::NONE;
    };
    let sock = lookup
        .receiving(g.dst_port, g.src_port)
        .map(|i| &sockets[i]);
    let (Some(s), true) = (sock, g.payload_len > 0) else {
        return Ctx::NONE;
    };
    match s.end.receiver().and_then(|r| r.offset_of(g.seq)) {
        Some(off) => Ctx::stream(s.flow as usize, off, g.payload_len as u64),
        None => Ctx::NONE,
    }
}

/// After the stack ran on `host`: acknowledged bytes, zero-copy completions
/// and application wake-ups for every socket, charged at the cursor `c`.
pub fn after_poll(host: &mut Host, q: &mut EventQueue<Ev>, c: &mut Nanos) {
    for socket in &mut host.sockets {
        if socket.retired {
            continue; // nothing left to acknowledge, complete or wake
        }
        let f = socket.flow as usize;
        let sock = host.stack.socket_ref(socket.handle);
        let (send_queue, send_capacity, may_send) =
            (sock.send_queue(), sock.send_capacity(), sock.may_send());
        // Data to read, or the end of the stream (FIN or RST). Not a socket
        // still listening or being connected: waking its reader for nothing
        // on every poll made many flows quadratic.
        let readable = sock.can_recv() || echo::peer_closed(sock.state());
        let can_send = sock.can_send();
        match &mut socket.end {
            End::Send(s) => {
                s.acked = s.issued - send_queue as u64;
                let (freed, from, to) = s.write_queue.clean_acked(s.acked);
                if freed > 0 {
                    let ns = host.cost.skb_alloc * freed;
                    let ctx = Ctx::stream(f, from, to - from);
                    host.acct
                        .charge_ctx(c, Step::SkbFreeAcked, (freed, 0), ns, ctx);
                }
                let wake_writer = match s.state {
                    SendState::Connecting => may_send,
                    SendState::BlockedSndbuf => {
                        // sk_stream_write_space: wake when free space is at
                        // least half of what is queued.
                        let free = send_capacity - send_queue;
                        free > 0 && free >= send_queue / 2
                    }
                    _ => false,
                };
                let sends = complete(&mut host.acct, &host.cost, s, f, c);
                let wake_app = wake_writer
                    || (sends > 0
                        && matches!(s.state, SendState::WaitCompletion | SendState::Draining))
                    || (readable && s.awaits_echo());
                if wake_app {
                    wake(q, &mut s.wake_pending, *c, f, false);
                }
            }
            End::Recv(r) => {
                if let Some(o) = &mut r.echo {
                    o.acked = o.written - send_queue as u64;
                }
                if r.blocked && (readable || (r.echo_pending() && can_send)) {
                    wake(q, &mut r.wake_pending, *c, f, true);
                }
            }
        }
        socket.retired = socket.finished();
    }
}

/// Zero-copy sends whose bytes are acknowledged and no longer held by a
/// clone complete: their pages are unpinned and their completion queued
/// (`skb_zcopy_clear` -> `__msg_zerocopy_callback`), each notification's
/// with its stream bytes for observers. Returns how many.
fn complete(acct: &mut Acct, cost: &CostModel, s: &mut Sender, f: usize, c: &mut Nanos) -> u64 {
    let coalesce = s.path.call().coalesces_completions();
    let sends = s.zc.complete_acked(s.acked, coalesce);
    if sends > 0 {
        for z in s.zc.just_done.drain(..) {
            let (pages, bytes) = (z.pages, z.end - z.start);
            let ctx = Ctx::stream(f, z.start, bytes);
            let ns = cost.page_unpin * pages;
            acct.charge_ctx(c, Step::PutUserPages, (pages, bytes), ns, ctx);
            let ns = cost.zerocopy_notify;
            acct.charge_ctx(c, Step::ZerocopyComplete, (1, bytes), ns, ctx);
        }
        for (b, a, e) in s.zc.just_completed.drain(..) {
            let ctx = Ctx::stream(f, a, e - a).with_buffer(b);
            acct.note_ctx(*c, Step::BufferComplete, 1, e - a, ctx);
        }
    }
    sends
}
