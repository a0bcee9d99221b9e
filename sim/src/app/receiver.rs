//! The receiving application: its loop of receive calls.
//!
//! Owns [`Receiver`], what a receiving program and its socket's receive
//! side know: how much it has read and the hash of it, the buffer it reads
//! into, the framing it reads by, and the socket's receive queue of sk_buff
//! records that NAPI fills and reads free. Owns [`step`], one receive call
//! on its host's CPU (or a block, or the close at the end of the stream).
//!
//! Does not decide what a call costs: the receive path
//! ([`crate::app::recv`]) does. Does not fill the receive queue: NAPI
//! ([`crate::napi`]) delivers segments to [`Receiver::segment`].

use std::hash::Hasher;
use twox_hash::XxHash3_64;

use crate::account::Task;
use crate::app::dynamic::DynamicBuffer;
use crate::app::echo::{self, EchoOut};
use crate::app::{wake, Track};
use crate::buffer::ReceiveBuffer;
use crate::config::{Align, BufferKind, FlowConfig, FramingKind, RecvPath};
use crate::engine::Nanos;
use crate::event::{Ctx, Step};
use crate::host::Host;
use crate::schedule::Env;
use crate::socket::skb::{ReceiveQueue, RxQueued};
use crate::stack::{self, TcpSocket};

/// A receiving application and its socket's receive-side bookkeeping.
pub struct Receiver {
    pub path: RecvPath,
    /// Bytes the peer will send.
    pub total: u64,
    /// The buffer messages are read into, for dynamic kinds (or one a Rust
    /// program plugged in).
    pub dynamic: Option<Box<dyn ReceiveBuffer>>,
    pub kind: BufferKind,
    /// Whether the receive buffer is page-aligned (zero-copy receive can
    /// only map pages onto page-aligned addresses).
    pub aligned: bool,
    /// The parts of a framed message the reader reads one at a time (a
    /// composed read: header, then body, then trailer).
    pub parts: Vec<u64>,
    /// Regions per `readv` call.
    pub iovecs: u32,
    /// io_uring submissions made.
    pub sqes: u64,
    pub read_size: usize,
    /// The socket's receive queue of sk_buff records.
    pub rcv_queue: ReceiveQueue,
    /// The peer's ISN, learnt from its SYN.
    pub peer_isn: Option<u32>,
    /// The largest segment payload received so far: Linux's estimate of
    /// the peer's MSS (`icsk_ack.rcv_mss`, `tcp_measure_rcv_mss`), against
    /// which a shorter segment is a pushed one (`ICSK_ACK_PUSHED`).
    pub rcv_mss: u32,
    pub received: u64,
    pub hash: XxHash3_64,
    pub reads: u64,
    pub last_read: Nanos,
    /// When the first bytes were read.
    pub first_read: Option<Nanos>,
    /// The peer closed before sending everything (a real peer only).
    pub eof: bool,
    pub blocked: bool,
    pub closed: bool,
    pub wake_pending: bool,
    /// With `echo`: what is still to be written back.
    pub echo: Option<EchoOut>,
}

impl Receiver {
    pub fn new(cfg: &FlowConfig) -> Receiver {
        let size = cfg.read_size.min(cfg.bytes.min(u32::MAX as u64) as u32) as usize;
        Receiver {
            path: cfg.recv,
            total: cfg.bytes,
            dynamic: cfg.buffer.kind.dynamic().then(|| {
                Box::new(DynamicBuffer {
                    message: cfg.write_size.max(1) as u64,
                    ..DynamicBuffer::default()
                }) as Box<dyn ReceiveBuffer>
            }),
            kind: cfg.buffer.kind,
            aligned: cfg.buffer.align == Align::Page,
            parts: match cfg.framing {
                Some(f) if f.kind != FramingKind::Delimited => f.parts(cfg.write_size as u64),
                _ => Vec::new(),
            },
            iovecs: cfg.iovecs.max(1),
            sqes: 0,
            read_size: size,
            rcv_queue: ReceiveQueue::default(),
            peer_isn: None,
            rcv_mss: 0,
            received: 0,
            hash: XxHash3_64::new(),
            reads: 0,
            last_read: 0,
            first_read: None,
            eof: false,
            blocked: false,
            closed: false,
            wake_pending: false,
            echo: cfg.echo.then(|| EchoOut::new(size, cfg.send)),
        }
    }

    /// Whether an echo server still holds bytes to write back.
    pub fn echo_pending(&self) -> bool {
        self.echo.as_ref().is_some_and(|e| !e.pending.is_empty())
    }

    /// The application has read the whole stream (or a real peer ended it
    /// early) and written back all it read.
    pub fn done(&self) -> bool {
        (self.received >= self.total || self.eof) && !self.echo_pending()
    }

    /// Bytes from stream offset `at` to the end of the message part it is
    /// in (`u64::MAX` when the stream is not framed in parts).
    pub fn part_left(&self, at: u64) -> u64 {
        if self.parts.is_empty() {
            return u64::MAX;
        }
        let m: u64 = self.parts.iter().sum();
        let mut within = at % m;
        for p in &self.parts {
            if within < *p {
                return p - within;
            }
            within -= p;
        }
        m
    }

    /// Stream offset of a received segment's sequence number, if the ISN
    /// is known.
    pub fn offset_of(&self, seq: u32) -> Option<u64> {
        let isn = self.peer_isn?;
        let base = self.rcv_queue.rcv_nxt();
        let rel = seq.wrapping_sub(isn.wrapping_add(1));
        let delta = rel.wrapping_sub(base as u32) as i32 as i64;
        Some((base as i64 + delta).max(0) as u64)
    }

    /// `tcp_data_queue` for a segment with sequence number `seq` and `len`
    /// payload bytes (a SYN teaches the ISN). `None` for a segment with no
    /// payload or before the SYN. With `merged`, the segment joined the
    /// previous one in a GRO skb.
    pub fn segment(&mut self, seq: u32, len: usize, syn: bool, merged: bool) -> Option<RxQueued> {
        if syn {
            self.peer_isn = Some(seq);
            return None;
        }
        if len == 0 {
            return None;
        }
        let off = self.offset_of(seq)?;
        Some(if merged {
            self.rcv_queue.arrive_merged(off, len as u32)
        } else {
            self.rcv_queue.arrive(off, len as u32)
        })
    }

    /// Takes up to `limit` bytes from the socket, hashing them where smoltcp
    /// holds them (at most two pieces when its ring wraps) and keeping them
    /// for the write-back of an echo server.
    fn take(&mut self, sock: &mut TcpSocket, limit: u64) -> u64 {
        let mut n = 0u64;
        while n < limit {
            let want = (limit - n) as usize;
            let hash = &mut self.hash;
            let echo = &mut self.echo;
            let got = sock
                .recv(|data| {
                    let k = data.len().min(want);
                    hash.write(&data[..k]);
                    if let Some(e) = echo {
                        e.pending.extend(&data[..k]);
                    }
                    (k, k)
                })
                .unwrap_or(0);
            if got == 0 {
                break;
            }
            n += got as u64;
        }
        n
    }

    /// What the application's own buffer does with `n` bytes just read at
    /// the current offset: a composed read's part, a dynamic buffer's
    /// growth and the messages `read_until` completes.
    fn fill_app_buffer(&mut self, t: &mut Task, n: u64, ctx: Ctx) {
        if !self.parts.is_empty() && n == self.part_left(self.received) {
            t.note_ctx(Step::FramingPart, 1, n, ctx);
        }
        let Some(d) = &mut self.dynamic else {
            return;
        };
        // read_until: the bytes land in a growing buffer.
        let got = d.read(self.received, n);
        if got.grows > 0 {
            let ns = t.cost.copy(got.copied) + t.cost.skb_alloc * got.grows;
            t.charge_ctx(Step::DynamicGrow, (got.grows, got.copied), ns, ctx);
        }
        if self.kind == BufferKind::Streambuf {
            t.note_ctx(Step::StreambufCommit, 1, n, ctx);
        }
        if got.messages > 0 {
            t.note_ctx(Step::ReadUntilMessage, got.messages, 0, ctx);
        }
    }
}

/// The receiving application of the socket `sock` on `host` reads once, or
/// blocks, or closes at the end of the stream.
pub fn step(host: &mut Host, env: &mut Env, sock: usize, track: &mut Track, c: &mut Nanos) {
    let socket = &mut host.sockets[sock];
    let (f, handle) = (socket.flow as usize, socket.handle);
    let r = socket.end.receiver_mut();
    r.wake_pending = false; // this is the step a wake-up scheduled
    let mut t = Task {
        acct: &mut host.acct,
        cost: &host.cost,
        now: c,
    };
    let tcp = host.stack.socket(handle);
    if let Some(e) = &mut r.echo {
        echo::write_back(tcp, &mut t, e, f);
    }
    // The stream is over: every byte read, or the peer closed (or reset)
    // early, which only a real peer can do.
    let peer_gone = !tcp.can_recv() && echo::peer_closed(tcp.state());
    if peer_gone && r.received < r.total {
        r.eof = true;
    }
    if r.received >= r.total || r.eof {
        if r.echo_pending() {
            r.blocked = true; // the write-back waits for send space
        } else if !r.closed {
            tcp.close();
            r.closed = true;
            stack::poll(host, env, c);
        }
        return;
    }
    if !tcp.can_recv() {
        if !r.blocked {
            t.note(Step::RcvWait, 1, 0);
        }
        r.blocked = true;
        return;
    }
    // An echo server reads no more than its buffer has room for.
    let room = r
        .echo
        .as_ref()
        .map_or(u64::MAX, |e| (e.cap - e.pending.len()) as u64);
    if room == 0 {
        r.blocked = true;
        return;
    }
    r.blocked = false;
    // One call of up to read_size bytes; a composed read takes one message
    // part at a time.
    let limit = (r.read_size as u64).min(r.part_left(r.received)).min(room);
    let n = r.take(tcp, limit);
    let ctx = Ctx::stream(f, r.received, n);
    let call = r.path.call();
    call.took(&mut t, r, n, ctx);
    r.fill_app_buffer(&mut t, n, ctx);
    let (eaten, pages) = r.rcv_queue.consume_to(r.received + n);
    // page_pool_put_full_page: the freed skbs' pages go back.
    host.napi.page_pool.put(pages);
    if eaten > 0 {
        let ns = t.cost.skb_alloc * eaten;
        t.charge(Step::RxSkbFree, eaten, 0, ns);
    }
    r.received += n;
    r.reads += 1;
    r.last_read = *t.now;
    r.first_read.get_or_insert(*t.now);
    track.read_to(r.received, *t.now);
    if let Some(e) = &mut r.echo {
        echo::write_back(host.stack.socket(handle), &mut t, e, f);
    }
    // tcp_recvmsg -> tcp_cleanup_rbuf may announce the opened window.
    stack::poll(host, env, c);
    let r = host.sockets[sock].end.receiver_mut();
    wake(env.q, &mut r.wake_pending, *c, f, true);
}
