//! The sending application: its loop of send calls.
//!
//! Owns [`Sender`], what a sending program and its socket's send side know:
//! how far the program has written, the call in progress, its buffers and
//! their pool, the socket's write queue of sk_buff records and its zero-copy
//! sends in flight. Owns [`step`], one turn of the program on its host's
//! CPU: take a buffer (or wait for a completion to hand one back), make one
//! call through the flow's send path, block when the send buffer is full,
//! reap completions, close when everything is written.
//!
//! Does not decide what a call costs or where its bytes go: the send path
//! ([`crate::app::send`]) does. Does not transmit: after each call the
//! stack runs (`tcp_push`, [`crate::stack::poll`]).

use crate::account::Task;
use crate::app::data::DataSource;
use crate::app::echo::{self, EchoIn};
use crate::app::{wake, Track};
use crate::buffer::{pages_spanned, BufferPool, PAGE_SIZE};
use crate::config::{FlowConfig, FramingKind, Reuse, SendPath};
use crate::engine::Nanos;
use crate::event::{Ctx, Step};
use crate::host::Host;
use crate::provenance::{self, CallLog, Holder};
use crate::schedule::Env;
use crate::socket::skb::{FragMem, WriteQueue};
use crate::socket::zerocopy::Ubufs;
use crate::stack;

/// Modelled virtual address of the first application buffer.
const USER_BUFFER_BASE: u64 = 0x7f00_0000_0000;
/// Modelled address of the kernel's page-frag area (`sk_page_frag`).
pub const KERNEL_FRAG_BASE: u64 = 0xffff_8880_0000_0000;
/// `size_goal` for autocorking: a GSO super-segment, `GSO_MAX_SIZE` (64
/// KiB; Linux rounds it down to whole MSS, `tcp_xmit_size_goal`).
const AUTOCORK_SIZE_GOAL: u64 = 64 * 1024;
/// Size of one kernel page frag chunk: `SKB_FRAG_PAGE_ORDER` (order-3, 32 KiB).
pub const PAGE_FRAG_SIZE: u64 = 32 * 1024;

/// Modelled address of byte 0 of buffer `id` of a pool of `size`-byte
/// buffers.
pub fn buffer_addr(size: u64, pool: &BufferPool, id: u32) -> u64 {
    let stride = (size + 2 * PAGE_SIZE).next_multiple_of(PAGE_SIZE);
    USER_BUFFER_BASE + id as u64 * stride + pool.get(id).page_offset
}

/// Where the sending application is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendState {
    /// Waiting for `connect` to complete.
    Connecting,
    /// Ready to issue the next call.
    Ready,
    /// Inside a write, blocked in `sk_stream_wait_memory`.
    BlockedSndbuf,
    /// No free buffer: waiting for a zero-copy completion.
    WaitCompletion,
    /// Everything written; reaping the last completions.
    Draining,
    /// Everything written and every buffer back.
    Done,
}

/// The write call in progress.
#[derive(Debug, Clone, Copy)]
pub struct WriteOp {
    pub buffer: u32,
    /// Stream offset of the write's first byte.
    pub start: u64,
    pub len: u64,
    /// Bytes already queued in the kernel.
    pub done: u64,
}

/// A buffer the application wrote into while a zero-copy send from it was
/// still in flight: the bug `reuse = "immediately"` demonstrates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Violation {
    pub buffer: u32,
    /// Stream range of the send whose bytes were still in flight.
    pub damaged: (u64, u64),
    /// Index (from 0) of that send call.
    pub write: u64,
    /// Virtual time of the reuse.
    pub at: Nanos,
}

/// A sending application and its socket's send-side bookkeeping.
pub struct Sender {
    pub path: SendPath,
    pub state: SendState,
    pub total: u64,
    pub write_size: u64,
    /// Bytes handed to the kernel so far (next stream offset).
    pub issued: u64,
    /// Bytes TCP has had acknowledged.
    pub acked: u64,
    /// Highest stream offset sent so far (to tell retransmissions).
    pub max_sent_end: u64,
    pub pool: BufferPool,
    pub current: Option<WriteOp>,
    pub data: DataSource,
    pub writes: u64,
    pub first_write: Option<Nanos>,
    /// The socket's write queue of sk_buff records.
    pub write_queue: WriteQueue,
    /// Next free byte of the kernel's page-frag area (copy paths).
    pub page_frag_cursor: u64,
    /// ISN of the connection, learnt from the SYN the driver sent.
    pub isn: Option<u32>,
    pub closed: bool,
    /// Zero-copy sends in flight and their completions.
    pub zc: Ubufs,
    pub retransmitted_segments: u64,
    pub wake_pending: bool,
    pub reuse: Reuse,
    /// Regions per `writev` call.
    pub iovecs: u32,
    /// The parts of one framed message (header, body, trailer), when the
    /// application frames with headers: a gather write of them.
    pub parts: Vec<u64>,
    /// io_uring submissions made.
    pub sqes: u64,
    /// The path's one-time setup ran (io_uring_fixed: buffers registered).
    pub set_up: bool,
    /// Buffers rewritten while the kernel still held them.
    pub violations: Vec<Violation>,
    /// With `echo`: what the peer wrote back, read on the same socket.
    pub echo: Option<EchoIn>,
    /// Frames of this socket's data the driver has posted and not yet
    /// cleaned (they hold `sk_wmem_alloc`): while there are any, a small
    /// write is autocorked.
    pub in_tx: u32,
    /// Which call wrote which stream bytes, while an observer wants frames
    /// (for their provenance).
    pub calls: CallLog,
}

impl Sender {
    pub fn new(cfg: &FlowConfig, data: DataSource) -> Sender {
        let size = cfg.write_size.min(cfg.bytes.min(u32::MAX as u64) as u32) as usize;
        Sender {
            path: cfg.send,
            state: SendState::Connecting,
            total: cfg.bytes,
            write_size: cfg.write_size as u64,
            issued: 0,
            acked: 0,
            max_sent_end: 0,
            pool: BufferPool::with_storage(
                cfg.buffer.pool,
                cfg.buffer.kind,
                cfg.buffer.pool_size,
                size,
                cfg.buffer.align.page_offset(),
            ),
            current: None,
            data,
            writes: 0,
            first_write: None,
            write_queue: WriteQueue::new(),
            page_frag_cursor: KERNEL_FRAG_BASE,
            isn: None,
            closed: false,
            zc: Ubufs::default(),
            retransmitted_segments: 0,
            wake_pending: false,
            reuse: cfg.buffer.reuse,
            iovecs: cfg.iovecs.max(1),
            parts: match cfg.framing {
                Some(f) if f.kind != FramingKind::Delimited => f.parts(cfg.write_size as u64),
                _ => Vec::new(),
            },
            sqes: 0,
            set_up: false,
            violations: Vec::new(),
            echo: cfg.echo.then(EchoIn::default),
            in_tx: 0,
            calls: CallLog::default(),
        }
    }

    /// Whether application buffers must hold their bytes: only when a
    /// zero-copy buffer may be rewritten while the NIC still reads it.
    pub fn keeps_bytes(&self) -> bool {
        self.path.zero_copy() && self.reuse == Reuse::Immediately
    }

    /// Writes stream bytes `[offset, offset + len)` into buffer `id`.
    pub fn fill_buffer(&mut self, id: u32, offset: u64, len: u64) {
        let b = self.pool.get_mut(id);
        b.data.resize(b.size, 0);
        self.data.fill(offset, &mut b.data[..len as usize]);
    }

    /// Before the application writes into buffer `id` at `at`: if a send
    /// from it is still in flight, that is a lifetime violation, recorded
    /// and returned.
    pub fn note_reuse(&mut self, id: u32, at: Nanos) -> Option<Violation> {
        if !self.path.zero_copy() {
            return None;
        }
        // The latest send from this buffer, if still in flight: its bytes
        // are overwritten. (Sends complete in order, so when the latest is
        // done every earlier one is.)
        let latest = self.pool.get(id).last_send;
        let (n, m) = latest.and_then(|n| self.zc.get(n).map(|m| (n, m)))?;
        let v = Violation {
            buffer: id,
            damaged: (m.start, m.end),
            write: n as u64,
            at,
        };
        self.violations.push(v);
        Some(v)
    }

    /// `tcp_should_autocork`: the unsent tail is shorter than a full
    /// super-segment (`size_goal`, 64 KiB with GSO, which Linux gives every
    /// TCP socket), something is on the retransmit queue, and frames of
    /// this socket are still in the driver or NIC (`sk_wmem_alloc` above
    /// the tail's truesize). Then `tcp_push` leaves the bytes in the tail
    /// sk_buff, later writes join it, and the Tx completion of the earlier
    /// frames pushes them (TSQ: `tcp_wfree` -> `tcp_tsq_handler`), here
    /// the NAPI poll that cleans them. (`net.ipv4.tcp_autocorking` is on by
    /// default.)
    pub fn autocorks(&self) -> bool {
        let unsent = self.issued - self.max_sent_end.min(self.issued);
        unsent < AUTOCORK_SIZE_GOAL && self.max_sent_end > self.acked && self.in_tx > 0
    }

    /// Bytes one send call moves: a whole framed message, or `write_size`.
    pub fn message_len(&self) -> u64 {
        if self.parts.is_empty() {
            self.write_size
        } else {
            self.parts.iter().sum()
        }
    }

    /// Where the region holding byte `at` of a call of `len` bytes ends:
    /// the framed message's parts, or `iovecs` equal regions.
    pub fn region_end(&self, at: u64, len: u64) -> u64 {
        if self.parts.is_empty() {
            let region = len.div_ceil(self.iovecs as u64).max(1);
            return ((at / region + 1) * region).min(len);
        }
        let mut end = 0;
        for p in &self.parts {
            end += p;
            if at < end {
                return end.min(len);
            }
        }
        len
    }

    /// Whether byte `at` of a call starts a region.
    pub fn region_starts(&self, at: u64, len: u64) -> bool {
        at == 0 || self.region_end(at - 1, len) == at
    }

    /// Pages every pool buffer spans, together (io_uring registration).
    pub fn pool_pages(&self) -> u64 {
        (0..self.pool.len() as u32)
            .map(|i| {
                let b = self.pool.get(i);
                pages_spanned(b.page_offset, b.size as u64)
            })
            .sum()
    }

    /// Modelled address of byte 0 of application buffer `id`.
    pub fn buffer_addr(&self, id: u32) -> u64 {
        buffer_addr(self.write_size, &self.pool, id)
    }

    /// Stream offset of a segment from its sequence number, taken near the
    /// acknowledged offset so that 32-bit wrap-around does not matter.
    pub fn stream_offset(&self, seq: u32) -> Option<u64> {
        let isn = self.isn?;
        let rel = seq.wrapping_sub(isn.wrapping_add(1));
        let delta = rel.wrapping_sub(self.acked as u32) as i32 as i64;
        Some((self.acked as i64 + delta).max(0) as u64)
    }

    /// Copies the current contents of the application buffers behind the
    /// zero-copy frags of stream bytes `[off, off + len)` into `frame`'s
    /// payload: what a DMA read (or Linux's shared-frag copy) of user pages
    /// sees. Only needed when the application may have rewritten them.
    /// Returns whether that changed the payload (the frame held the bytes
    /// the send was for): the frame carries rewritten bytes.
    pub fn patch_frame(&mut self, off: u64, len: u32, frame: &mut [u8]) -> bool {
        let mut pos = frame.len() - len as usize;
        let mut changed = false;
        let (pool, size) = (&self.pool, self.write_size);
        self.write_queue.map(off, len as u64, |addr, n, mem| {
            if let FragMem::User { buffer } = mem {
                let b = pool.get(buffer);
                let from = (addr - buffer_addr(size, pool, buffer)) as usize;
                if from + n as usize <= b.data.len() {
                    let (to, now) = (
                        &mut frame[pos..pos + n as usize],
                        &b.data[from..][..n as usize],
                    );
                    if to != now {
                        changed = true;
                        to.copy_from_slice(now);
                    }
                }
            }
            pos += n as usize;
        });
        changed
    }

    /// Whether the application still has a read-back to wait for.
    pub fn awaits_echo(&self) -> bool {
        self.echo
            .as_ref()
            .is_some_and(|e| e.received < self.total && !e.eof)
    }

    /// The application has sent everything, had its zero-copy buffers back
    /// and (echo) read everything back, or the peer closed.
    pub fn done(&self) -> bool {
        self.state == SendState::Done && !self.awaits_echo()
    }

    /// Reaps the completions the kernel has posted: each notification as
    /// the path delivers it, then the buffers of flow `f` go back to the
    /// pool.
    fn reap(&mut self, t: &mut Task, f: usize) {
        while let Some(notice) = self.zc.errqueue.pop_front() {
            let (lo, hi) = notice.ids;
            let n = (hi.wrapping_sub(lo) + 1) as u64;
            let (a, b) = notice.stream;
            self.path.call().reap(t, n, Ctx::stream(f, a, b - a));
        }
        for id in self.zc.completed_buffers.drain(..) {
            if self.reuse == Reuse::AfterCompletion {
                self.pool.release(id);
            }
            let ctx = Ctx {
                flow: f as u16,
                ..Ctx::NONE
            };
            t.note_ctx(Step::BufferReturned, 1, 0, ctx.with_buffer(id));
        }
    }
}

/// What the loop of [`step`] does next.
enum Next {
    /// Look at the state again.
    Again,
    /// The turn is over.
    Return,
    /// A call is in progress: queue its bytes.
    Queue,
}

/// The sending application of the socket `sock` on `host` makes as much
/// progress as one call allows.
pub fn step(host: &mut Host, env: &mut Env, sock: usize, track: &mut Track, c: &mut Nanos) {
    let socket = &mut host.sockets[sock];
    let (f, handle) = (socket.flow as usize, socket.handle);
    let s = socket.end.sender_mut();
    s.wake_pending = false; // this is the step a wake-up scheduled
    let mut t = Task {
        acct: &mut host.acct,
        cost: &host.cost,
        now: c,
    };
    if let Some(e) = &mut s.echo {
        echo::read_back(host.stack.socket(handle), &mut t, e, f);
    }
    loop {
        let next = match s.state {
            SendState::Connecting if !host.stack.socket(handle).may_send() => Next::Return,
            SendState::Connecting => {
                s.state = SendState::Ready;
                Next::Again
            }
            SendState::Done => Next::Return,
            SendState::Draining => {
                drain(s, &mut t, f);
                Next::Return
            }
            SendState::WaitCompletion => {
                s.reap(&mut t, f);
                if s.pool.can_acquire() {
                    s.state = SendState::Ready;
                    Next::Again
                } else {
                    t.note(Step::CompletionWait, 1, 0);
                    Next::Return
                }
            }
            SendState::Ready | SendState::BlockedSndbuf if s.current.is_some() => Next::Queue,
            SendState::Ready | SendState::BlockedSndbuf => {
                if s.issued >= s.total {
                    if !s.closed {
                        host.stack.socket(handle).close();
                        s.closed = true;
                    }
                    s.state = SendState::Draining;
                    Next::Again
                } else {
                    start_call(s, &mut t, f, track)
                }
            }
        };
        match next {
            Next::Again => continue,
            Next::Return => return,
            Next::Queue => break,
        }
    }
    queue_bytes(s, &mut t, host.stack.socket(handle), f);
    if s.autocorks() {
        t.note(Step::Autocork, 1, s.issued - s.max_sent_end);
    } else {
        // tcp_push: the stack transmits what it can now.
        stack::poll(host, env, c);
    }
    provenance::trim_calls(host, sock);
    let s = host.sockets[sock].end.sender_mut();
    if s.state == SendState::Ready {
        wake(env.q, &mut s.wake_pending, *c, f, false);
    }
}

/// Everything is written: reap the last completions, and once every buffer
/// is back undo the path's setup.
fn drain(s: &mut Sender, t: &mut Task, f: usize) {
    s.reap(t, f);
    if s.zc.idle() {
        s.state = SendState::Done;
        if s.set_up {
            let pages = s.pool_pages();
            s.path.call().teardown(t, pages);
        }
    } else {
        t.note(Step::CompletionWait, 1, 0);
    }
}

/// Starts the next send call: a buffer from the pool (or a wait for one),
/// the application's bytes in it, and the call's entry into the kernel.
fn start_call(s: &mut Sender, t: &mut Task, f: usize, track: &mut Track) -> Next {
    if !s.set_up {
        s.set_up = true;
        let pages = s.pool_pages();
        s.path.call().setup(t, pages);
    }
    // Completions the kernel has posted are reaped first (poll reported
    // POLLERR): their buffers come back before the next one is taken.
    if !s.zc.errqueue.is_empty() {
        s.reap(t, f);
    }
    let id = if s.path.from_file() {
        0 // the bytes come from the page cache
    } else {
        let Some(id) = s.pool.acquire() else {
            s.pool.wait();
            s.state = SendState::WaitCompletion;
            return Next::Again;
        };
        if let Some(v) = s.note_reuse(id, *t.now) {
            let (a, b) = v.damaged;
            let ctx = Ctx::stream(f, a, b - a).with_buffer(id);
            t.note_ctx(Step::BufferRewritten, 1, b - a, ctx);
        }
        id
    };
    let len = s.message_len().min(s.total - s.issued);
    if s.parts.len() == 3 {
        // The header and trailer are built in temporary buffers for the
        // gather write.
        let ns = 2 * t.cost.skb_alloc;
        t.charge(Step::FramingTemp, 2, s.parts[0] + s.parts[2], ns);
    }
    if s.keeps_bytes() {
        // The application writes its data into the buffer: the NIC will
        // read these very bytes.
        s.fill_buffer(id, s.issued, len);
    }
    let mut ctx = Ctx::stream(f, s.issued, len);
    let holder = if s.path.from_file() {
        Holder::File
    } else {
        ctx = ctx.with_buffer(id);
        Holder::Buffer(id)
    };
    s.calls.record(s.issued, holder, s.writes);
    let call = s.path.call();
    call.enter(t, s, id, len, ctx);
    s.first_write.get_or_insert(*t.now);
    s.writes += 1;
    track.pending_writes.push_back((s.issued + len, *t.now));
    s.current = Some(WriteOp {
        buffer: id,
        start: s.issued,
        len,
        done: 0,
    });
    call.completion_record(t, s, id);
    Next::Queue
}

/// Queues as much of the call in progress as the send buffer has room for,
/// and returns from the call once all of it is queued.
fn queue_bytes(s: &mut Sender, t: &mut Task, sock: &mut stack::TcpSocket, f: usize) {
    let mut op = s.current.expect("a write is in progress");
    let room = (sock.send_capacity() - sock.send_queue()) as u64;
    let n = room.min(op.len - op.done);
    if n > 0 {
        // The application's bytes enter the stack's buffer here, whichever
        // path models how they got there: the simulator moves bytes once,
        // the path charges copy_from_user, get_user_pages_fast or nothing.
        let mut queued = 0;
        while queued < n {
            let (data, at) = (&s.data, s.issued + queued);
            let got = sock
                .send(|buf| {
                    let k = buf.len().min((n - queued) as usize);
                    data.fill(at, &mut buf[..k]);
                    (k, k)
                })
                .unwrap_or(0);
            if got == 0 {
                break;
            }
            queued += got as u64;
        }
        debug_assert_eq!(queued, n);
        let call = s.path.call();
        call.queue(t, s, &op, n, f);
        op.done += n;
        s.issued += n;
    }
    s.current = Some(op);
    if op.done < op.len {
        s.state = SendState::BlockedSndbuf;
        t.note(Step::SndbufWait, 1, 0);
    } else {
        s.current = None;
        s.state = SendState::Ready;
        let call = s.path.call();
        call.returned(t, s, &op, f);
    }
}
