//! Echo flows (`echo = true`): the receiving program writes back what it
//! reads, the sending one reads it back on the same socket and checks it.
//!
//! Owns the two halves' state ([`EchoOut`] on the server, [`EchoIn`] on the
//! client) and their calls: `write(2)`s that copy the held bytes into the
//! socket as far as its send buffer allows, and `read(2)`s that copy what
//! came back to user space and hash it. Does not decide when either runs:
//! the receiver's and sender's loops do.

use std::collections::VecDeque;
use std::hash::Hasher;
use twox_hash::XxHash3_64;

use crate::account::Task;
use crate::config::SendPath;
use crate::event::{Ctx, Step};
use crate::provenance::Via;
use crate::stack::TcpSocket;
use smoltcp::socket::tcp;

/// The sending application's read-back of an echoed stream.
#[derive(Default)]
pub struct EchoIn {
    pub received: u64,
    /// The peer closed before echoing everything (a real peer only).
    pub eof: bool,
    pub hash: XxHash3_64,
}

/// The receiving application's write-back: bytes read and not yet written
/// back, at most `cap` of them (its buffer).
pub struct EchoOut {
    pub pending: VecDeque<u8>,
    pub cap: usize,
    pub written: u64,
    /// Bytes written back that the peer has acknowledged.
    pub acked: u64,
    /// xxh3-64 of what was written back.
    pub hash: XxHash3_64,
    /// The server's ISN, learnt from its SYN-ACK as the driver sends it
    /// (to place written-back bytes in the return stream).
    pub isn: Option<u32>,
    /// Copies by the CPU the bytes have had when they leave again: the
    /// client's path's, the server's read's and its write's.
    pub copies: u8,
}

impl EchoOut {
    /// An echo server whose buffer holds `cap` bytes, of a flow whose
    /// client sends with `path`.
    pub fn new(cap: usize, path: SendPath) -> EchoOut {
        EchoOut {
            pending: VecDeque::with_capacity(cap),
            cap,
            written: 0,
            acked: 0,
            hash: XxHash3_64::new(),
            isn: None,
            copies: Via::of(path).copies() + Via::EchoCopied.copies(),
        }
    }

    /// Offset in the return stream of a segment with sequence number
    /// `seq`, taken near the acknowledged offset (32-bit wrap-around does
    /// not matter).
    pub fn stream_offset(&self, seq: u32) -> Option<u64> {
        let isn = self.isn?;
        let rel = seq.wrapping_sub(isn.wrapping_add(1));
        let delta = rel.wrapping_sub(self.acked as u32) as i32 as i64;
        Some((self.acked as i64 + delta).max(0) as u64)
    }
}

/// Whether the peer has closed its side of the connection (FIN or RST).
/// A listener or a connection still being set up has not.
pub fn peer_closed(state: tcp::State) -> bool {
    matches!(
        state,
        tcp::State::CloseWait
            | tcp::State::LastAck
            | tcp::State::Closing
            | tcp::State::TimeWait
            | tcp::State::Closed
    )
}

/// The echo client reads back what the peer returned: one `read(2)` per
/// call, copied to user space and checked against what it sent.
pub fn read_back(sock: &mut TcpSocket, t: &mut Task, e: &mut EchoIn, flow: usize) {
    let mut n = 0u64;
    let closed = peer_closed(sock.state());
    while sock.can_recv() {
        let hash = &mut e.hash;
        let got = sock
            .recv(|data| {
                hash.write(data);
                (data.len(), data.len())
            })
            .unwrap_or(0);
        if got == 0 {
            break;
        }
        n += got as u64;
    }
    if closed && !sock.can_recv() {
        e.eof = true; // the peer closed: nothing more will come back
    }
    if n == 0 {
        return;
    }
    let ctx = Ctx::stream(flow, e.received, n);
    let (sc, copy) = (t.cost.syscall, t.cost.copy(n));
    t.charge_ctx(Step::ReadSyscall, (1, n), sc, ctx);
    t.charge_ctx(Step::CopyToUser, (1, n), copy, ctx);
    e.received += n;
}

/// The echo server writes back what it has read: `write(2)` calls that
/// copy from its buffer into the socket, as far as the send buffer allows.
pub fn write_back(sock: &mut TcpSocket, t: &mut Task, e: &mut EchoOut, flow: usize) {
    let mut n = 0u64;
    while !e.pending.is_empty() {
        let (a, _) = e.pending.as_slices();
        let k = sock.send_slice(a).unwrap_or(0);
        if k == 0 {
            break;
        }
        e.hash.write(&a[..k]);
        e.pending.drain(..k);
        n += k as u64;
    }
    if n == 0 {
        return;
    }
    let ctx = Ctx::stream(flow, e.written, n);
    let (sc, copy) = (t.cost.syscall, t.cost.copy(n));
    t.charge_ctx(Step::WriteSyscall, (1, n), sc, ctx);
    t.charge_ctx(Step::CopyFromUser, (1, n), copy, ctx);
    e.written += n;
}
