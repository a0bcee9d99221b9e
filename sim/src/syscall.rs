//! The application's side of each flow: the send and receive paths.
//!
//! Owns what a sending or receiving program and its socket's kernel-side
//! bookkeeping know: how far the writer has got, the write in progress, the
//! buffers it owns, and for MSG_ZEROCOPY the in-flight sends
//! ([`ZcSend`], Linux's `ubuf_info`), their page references and the error
//! queue of completion ranges; for the reader, how much it has read and the
//! hash of it. Owns the mapping from a TCP stream offset back to the
//! application buffer that holds it, which gives every frame its provenance.
//!
//! Does not move time or touch the stack: [`crate::world`] runs these steps
//! on the host's CPU, calls smoltcp, and charges the costs.

use std::collections::VecDeque;
use std::hash::Hasher;
use twox_hash::XxHash3_64;

use crate::buffer::{pages_spanned, BufferPool, PAGE_SIZE};
use crate::config::{FlowConfig, RecvPath, Reuse, SendPath};
use crate::engine::{Nanos, Rng};
use crate::skb::{ReceiveQueue, RxQueued, WriteQueue};

/// Modelled virtual address of the first application buffer.
const USER_BUFFER_BASE: u64 = 0x7f00_0000_0000;
/// Modelled address of the kernel's page-frag area (`sk_page_frag`).
pub const KERNEL_FRAG_BASE: u64 = 0xffff_8880_0000_0000;
/// Size of one kernel page frag chunk: `SKB_FRAG_PAGE_ORDER` (order-3, 32 KiB).
pub const PAGE_FRAG_SIZE: u64 = 32 * 1024;

/// Bytes of random data an application's writes are cut from.
const DATA_BLOCK: usize = 1 << 20;

/// The characters application data is made of.
const DATA_ALPHABET: &[u8; 64] =
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.";
/// The stream is made of segments of this many bytes, each cut from the
/// random block at its own seeded offset.
const DATA_SEGMENT: u64 = 64 * 1024;

/// The sending application's data: pseudo-random printable text. Byte `o`
/// of the stream is a pure function of the seed and `o`: segment
/// `o / DATA_SEGMENT` is a slice of a seeded random block at a seeded,
/// cache-line aligned offset. Producing bytes costs a memcpy, and the hash
/// of what should arrive can be computed on its own (on another core, while
/// the model runs) without replaying the run. Text, not arbitrary binary, so
/// that Wireshark's heuristic dissectors do not mistake the payload for some
/// binary protocol and flag it malformed.
#[derive(Clone)]
pub struct DataSource {
    block: std::sync::Arc<Vec<u8>>,
    seed: u64,
    /// Delimited framing: `(delimiter, message length)`: the last byte of
    /// every message is the delimiter.
    delimiter: Option<(u8, u64)>,
    /// Length-prefixed framing: `(message length, body length)`: every
    /// message starts with the body length in 8 hex digits.
    prefix: Option<(u64, u64)>,
}

impl DataSource {
    pub fn new(seed: u64) -> DataSource {
        let mut block = vec![0; DATA_BLOCK];
        Rng::new(seed).fill(&mut block);
        for b in &mut block {
            *b = DATA_ALPHABET[(*b & 63) as usize];
        }
        DataSource {
            block: std::sync::Arc::new(block),
            seed,
            delimiter: None,
            prefix: None,
        }
    }

    /// The same data, every `message` bytes starting with the body length
    /// (`message - 8`) in 8 hex digits.
    pub fn length_prefixed(mut self, message: u64) -> DataSource {
        self.prefix = Some((message.max(9), message.saturating_sub(8)));
        self
    }

    /// The same data, every `message` bytes ending with `delimiter`.
    pub fn delimited(mut self, delimiter: u8, message: u64) -> DataSource {
        self.delimiter = Some((delimiter, message.max(1)));
        self
    }

    /// Where segment `k` starts in the block.
    fn segment_start(&self, k: u64) -> usize {
        let slots = (DATA_BLOCK as u64 - DATA_SEGMENT) / 64 + 1;
        let mut z = self.seed ^ k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((z % slots) * 64) as usize
    }

    /// Calls `f` with the pieces of the block that make up stream bytes
    /// `[offset, offset + len)`, in order.
    fn pieces(&self, offset: u64, len: u64, mut f: impl FnMut(&[u8])) {
        let (mut at, end) = (offset, offset + len);
        while at < end {
            let k = at / DATA_SEGMENT;
            let within = at % DATA_SEGMENT;
            let n = (DATA_SEGMENT - within).min(end - at);
            let from = self.segment_start(k) + within as usize;
            f(&self.block[from..from + n as usize]);
            at += n;
        }
    }

    /// Writes stream bytes `[offset, offset + buf.len())` into `buf`.
    pub fn fill(&self, offset: u64, buf: &mut [u8]) {
        let mut done = 0;
        self.pieces(offset, buf.len() as u64, |p| {
            buf[done..done + p.len()].copy_from_slice(p);
            done += p.len();
        });
        if let Some((m, body)) = self.prefix {
            let header = format!("{:08x}", body.min(u32::MAX as u64));
            let end = offset + buf.len() as u64;
            let mut start = (offset / m) * m;
            while start < end {
                for (i, &b) in header.as_bytes().iter().enumerate() {
                    let at = start + i as u64;
                    if at >= offset && at < end {
                        buf[(at - offset) as usize] = b;
                    }
                }
                start += m;
            }
        }
        if let Some((d, m)) = self.delimiter {
            // The message ends that fall in this range.
            let end = offset + buf.len() as u64;
            let mut at = (offset / m) * m + m - 1;
            while at < end {
                if at >= offset {
                    buf[(at - offset) as usize] = d;
                }
                at += m;
            }
        }
    }

    /// xxh3-64 of the first `len` bytes of the stream.
    pub fn hash(&self, len: u64) -> u64 {
        let mut h = XxHash3_64::new();
        if self.delimiter.is_none() && self.prefix.is_none() {
            self.pieces(0, len, |p| h.write(p));
        } else {
            let mut chunk = vec![0; 64 * 1024];
            let mut at = 0;
            while at < len {
                let n = (len - at).min(chunk.len() as u64) as usize;
                self.fill(at, &mut chunk[..n]);
                h.write(&chunk[..n]);
                at += n as u64;
            }
        }
        h.finish()
    }
}

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

/// One MSG_ZEROCOPY send in flight (Linux `ubuf_info`): its bytes are
/// referenced in user pages until TCP has them acknowledged and the driver
/// has freed every clone that carried them.
#[derive(Debug, Clone, Copy)]
pub struct ZcSend {
    /// Notification id (`ee_info`/`ee_data` range member).
    pub id: u32,
    pub buffer: u32,
    pub start: u64,
    pub end: u64,
    /// Page references taken (`get_user_pages_fast`).
    pub pages: u64,
    /// Transmitted clones not yet freed by Tx completion.
    pub refs: u32,
    /// The send call has queued all its bytes.
    pub queued_all: bool,
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
    /// Next free byte of the kernel's page-frag area (copy path).
    pub page_frag_cursor: u64,
    /// ISN of the connection, learnt from the SYN the driver sent.
    pub isn: Option<u32>,
    pub closed: bool,
    pub zc_next_id: u32,
    pub zc: VecDeque<ZcSend>,
    /// Completion ranges queued on the error queue, not yet reaped.
    pub errqueue: VecDeque<(u32, u32)>,
    /// Buffers whose completions are on the error queue.
    /// Buffers whose sends completed, with the sends' stream ranges: for
    /// the lifecycle events, then handed back when the completion is reaped.
    pub completed_buffers: Vec<u32>,
    pub just_completed: Vec<(u32, u64, u64)>,
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
    /// io_uring_fixed: the pool is registered (pinned).
    pub registered: bool,
    /// Buffers rewritten while the kernel still held them.
    pub violations: Vec<Violation>,
    /// With `echo`: what the peer wrote back, read on the same socket.
    pub echo: Option<EchoIn>,
}

/// The sending application's read-back of an echoed stream (`echo = true`).
#[derive(Default)]
pub struct EchoIn {
    pub received: u64,
    /// The peer closed before echoing everything (a real peer only).
    pub eof: bool,
    pub hash: XxHash3_64,
}

/// The receiving application's write-back (`echo = true`): bytes read and
/// not yet written back, at most `cap` of them (its buffer).
pub struct EchoOut {
    pub pending: VecDeque<u8>,
    pub cap: usize,
    pub written: u64,
    /// xxh3-64 of what was written back.
    pub hash: XxHash3_64,
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
            zc_next_id: 0,
            zc: VecDeque::new(),
            errqueue: VecDeque::new(),
            completed_buffers: Vec::new(),
            just_completed: Vec::new(),
            retransmitted_segments: 0,
            wake_pending: false,
            reuse: cfg.buffer.reuse,
            iovecs: cfg.iovecs.max(1),
            parts: match cfg.framing {
                Some(f) if f.kind != crate::config::FramingKind::Delimited => {
                    f.parts(cfg.write_size as u64)
                }
                _ => Vec::new(),
            },
            sqes: 0,
            registered: false,
            violations: Vec::new(),
            echo: cfg.echo.then(EchoIn::default),
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
    /// from it is still in flight, that is a lifetime violation.
    pub fn note_reuse(&mut self, id: u32, at: Nanos) {
        if !self.path.zero_copy() {
            return;
        }
        // The latest send from this buffer: its bytes are overwritten.
        if let Some(z) = self.zc.iter().rev().find(|z| z.buffer == id) {
            let write = z.id as u64;
            self.violations.push(Violation {
                buffer: id,
                damaged: (z.start, z.end),
                write,
                at,
            });
        }
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

    /// Index of the in-flight zero-copy send holding stream offset `off`.
    pub fn zc_index(&self, off: u64) -> Option<usize> {
        if self.zc.is_empty() {
            return None;
        }
        let i = self.zc.partition_point(|z| z.end <= off);
        (i < self.zc.len() && self.zc[i].start <= off).then_some(i)
    }

    /// Adds (or drops) one clone reference on every zero-copy send that a
    /// frame's payload `[off, off + len)` touches.
    pub fn zc_ref(&mut self, off: u64, len: u64, add: bool) {
        let Some(mut i) = self.zc_index(off) else {
            return;
        };
        let end = off + len;
        while i < self.zc.len() && self.zc[i].start < end {
            let z = &mut self.zc[i];
            if add {
                z.refs += 1;
            } else {
                z.refs = z.refs.saturating_sub(1);
            }
            i += 1;
        }
    }

    /// Sends whose last reference is gone: acknowledged and not held by any
    /// untransmitted clone. Pops them in order and queues their completion
    /// on the error queue, merging consecutive ids into one range as
    /// `__msg_zerocopy_callback` does. Returns (sends, pages) completed.
    pub fn complete_acked(&mut self) -> (u64, u64, u64) {
        let (mut sends, mut pages, mut bytes) = (0, 0, 0);
        while let Some(z) = self.zc.front() {
            if !(z.queued_all && z.end <= self.acked && z.refs == 0) {
                break;
            }
            let z = self.zc.pop_front().expect("front exists");
            sends += 1;
            pages += z.pages;
            bytes += z.end - z.start;
            // MSG_ZEROCOPY merges consecutive ids into one notification;
            // io_uring posts one F_NOTIF CQE per request.
            match self.errqueue.back_mut() {
                Some(last) if !self.path.io_uring() && last.1.wrapping_add(1) == z.id => {
                    last.1 = z.id
                }
                _ => self.errqueue.push_back((z.id, z.id)),
            }
            self.completed_buffers.push(z.buffer);
            self.just_completed.push((z.buffer, z.start, z.end));
        }
        (sends, pages, bytes)
    }
}

/// A growable receive buffer read into with `read_until` a delimiter
/// (asio's dynamic_string_buffer / dynamic_vector_buffer / streambuf). It
/// grows by doubling; every reallocation copies the bytes it already holds,
/// an application-level copy. A complete message is consumed, and the
/// capacity stays for the next one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DynamicBuffer {
    /// Bytes of the current (incomplete) message held.
    pub held: u64,
    pub capacity: u64,
    /// Message length: every `message`-th stream byte is a delimiter.
    pub message: u64,
    pub grows: u64,
    /// Bytes copied by reallocations.
    pub grow_bytes: u64,
    pub messages: u64,
}

/// The smallest allocation of a dynamic buffer (asio's read_until
/// prepares 512 bytes at a time).
pub const DYNAMIC_MIN: u64 = 512;

impl crate::buffer::ReceiveBuffer for DynamicBuffer {
    fn name(&self) -> &'static str {
        "dynamic (doubling)"
    }

    fn read(&mut self, at: u64, n: u64) -> crate::buffer::Received {
        let (grows, copied, messages) = DynamicBuffer::read(self, at, n);
        crate::buffer::Received {
            grows,
            copied,
            messages,
        }
    }
}

impl DynamicBuffer {
    /// `n` bytes read at stream offset `at`: append them, growing as
    /// needed, and consume every message that completes. Returns (grows,
    /// bytes copied by them, messages completed) for this read.
    pub fn read(&mut self, at: u64, n: u64) -> (u64, u64, u64) {
        let (g0, b0, m0) = (self.grows, self.grow_bytes, self.messages);
        let (mut pos, end) = (at, at + n);
        while pos < end {
            let to_delimiter = self.message - pos % self.message;
            let k = to_delimiter.min(end - pos);
            let mut left = k;
            while left > 0 {
                if self.held == self.capacity {
                    // Full: realloc, and the bytes held move along.
                    if self.held > 0 {
                        self.grows += 1;
                        self.grow_bytes += self.held;
                    }
                    self.capacity = (self.capacity * 2).max(DYNAMIC_MIN);
                }
                let put = left.min(self.capacity - self.held);
                self.held += put;
                left -= put;
            }
            pos += k;
            if k == to_delimiter {
                self.messages += 1;
                self.held = 0;
            }
        }
        (self.grows - g0, self.grow_bytes - b0, self.messages - m0)
    }
}

/// A receiving application and its socket's receive-side bookkeeping.
pub struct Receiver {
    pub path: RecvPath,
    /// The buffer messages are read into, for dynamic kinds (or one a Rust
    /// program plugged in).
    pub dynamic: Option<Box<dyn crate::buffer::ReceiveBuffer>>,
    pub kind: crate::config::BufferKind,
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
    /// Whether an echo server still holds bytes to write back.
    pub fn echo_pending(&self) -> bool {
        self.echo.as_ref().is_some_and(|e| !e.pending.is_empty())
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

    /// `tcp_data_queue` for a segment with sequence number `seq` and `len`
    /// payload bytes (a SYN teaches the ISN). `None` for a segment with no
    /// payload or before the SYN.
    /// Stream offset of a received segment's sequence number, if the ISN
    /// is known.
    pub fn offset_of(&self, seq: u32) -> Option<u64> {
        let isn = self.peer_isn?;
        let base = self.rcv_queue.rcv_nxt();
        let rel = seq.wrapping_sub(isn.wrapping_add(1));
        let delta = rel.wrapping_sub(base as u32) as i32 as i64;
        Some((base as i64 + delta).max(0) as u64)
    }

    /// With `merged`, the segment joined the previous one in a GRO skb.
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

    pub fn new(cfg: &FlowConfig) -> Receiver {
        let size = cfg.read_size.min(cfg.bytes.min(u32::MAX as u64) as u32) as usize;
        Receiver {
            path: cfg.recv,
            dynamic: cfg.buffer.kind.dynamic().then(|| {
                Box::new(DynamicBuffer {
                    message: cfg.write_size.max(1) as u64,
                    ..DynamicBuffer::default()
                }) as Box<dyn crate::buffer::ReceiveBuffer>
            }),
            kind: cfg.buffer.kind,
            aligned: cfg.buffer.align == crate::config::Align::Page,
            parts: match cfg.framing {
                Some(f) if f.kind != crate::config::FramingKind::Delimited => {
                    f.parts(cfg.write_size as u64)
                }
                _ => Vec::new(),
            },
            iovecs: cfg.iovecs.max(1),
            sqes: 0,
            read_size: size,
            rcv_queue: ReceiveQueue::default(),
            peer_isn: None,
            received: 0,
            hash: XxHash3_64::new(),
            reads: 0,
            last_read: 0,
            first_read: None,
            eof: false,
            blocked: false,
            closed: false,
            wake_pending: false,
            echo: cfg.echo.then(|| EchoOut {
                pending: VecDeque::with_capacity(size),
                cap: size,
                written: 0,
                hash: XxHash3_64::new(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(send: SendPath) -> FlowConfig {
        crate::config::Scenario::two_hosts(1 << 20, 65536, send).flows[0].clone()
    }

    fn zc_send(id: u32, start: u64, end: u64) -> ZcSend {
        ZcSend {
            id,
            buffer: id,
            start,
            end,
            pages: 16,
            refs: 0,
            queued_all: true,
        }
    }

    #[test]
    fn data_is_a_function_of_seed_and_offset_alone() {
        let a = DataSource::new(3);
        let mut whole = vec![0; 200_000];
        a.fill(0, &mut whole);
        // Any split of the stream gives the same bytes.
        let mut parts = vec![0; 200_000];
        a.fill(0, &mut parts[..70_001]);
        a.fill(70_001, &mut parts[70_001..]);
        assert_eq!(whole, parts);
        assert_ne!(whole[..65536], whole[65536..131072], "segments differ");
        let mut other = vec![0; 200_000];
        DataSource::new(4).fill(0, &mut other);
        assert_ne!(whole, other);
        assert!(whole
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-.".contains(b)));
    }

    #[test]
    fn delimited_data_ends_every_message_with_the_delimiter() {
        let a = DataSource::new(5).delimited(b'\n', 100);
        let mut bytes = vec![0; 1000];
        a.fill(0, &mut bytes[..333]);
        a.fill(333, &mut bytes[333..]);
        let ends: Vec<usize> = (0..1000).filter(|&i| bytes[i] == b'\n').collect();
        assert_eq!(ends, (0..10).map(|k| k * 100 + 99).collect::<Vec<_>>());
        let mut h = XxHash3_64::new();
        h.write(&bytes);
        assert_eq!(a.hash(1000), h.finish());
    }

    #[test]
    fn length_prefixed_data_starts_every_message_with_its_body_length() {
        let a = DataSource::new(5).length_prefixed(108);
        let mut bytes = vec![0; 300];
        a.fill(0, &mut bytes[..111]);
        a.fill(111, &mut bytes[111..]);
        assert_eq!(&bytes[0..8], b"00000064");
        assert_eq!(&bytes[108..116], b"00000064");
        assert_eq!(&bytes[216..224], b"00000064");
        let mut h = XxHash3_64::new();
        h.write(&bytes);
        assert_eq!(a.hash(300), h.finish());
    }

    #[test]
    fn stream_hash_is_the_hash_of_the_bytes() {
        let a = DataSource::new(9);
        let mut bytes = vec![0; 150_000];
        a.fill(0, &mut bytes);
        let mut h = XxHash3_64::new();
        h.write(&bytes);
        assert_eq!(a.hash(150_000), h.finish());
    }

    #[test]
    fn a_dynamic_buffer_doubles_and_copies_what_it_holds() {
        let mut d = DynamicBuffer {
            message: 3000,
            ..DynamicBuffer::default()
        };
        // 512 -> 1024 -> 2048 -> 4096 while 3000 bytes arrive 1000 at a time.
        assert_eq!(d.read(0, 1000), (1, 512, 0));
        assert_eq!(d.read(1000, 1000), (1, 1024, 0));
        assert_eq!(d.read(2000, 1000), (1, 2048, 1));
        // The capacity stays: the next message needs no growth.
        assert_eq!(d.read(3000, 3000), (0, 0, 1));
        assert_eq!(d.held, 0);
    }

    #[test]
    fn zero_copy_send_completes_only_after_ack_and_clone_free() {
        let mut s = Sender::new(&flow(SendPath::MsgZerocopy), DataSource::new(1));
        s.zc.push_back(zc_send(0, 0, 100));
        s.zc_ref(10, 50, true);
        s.acked = 100;
        assert_eq!(s.complete_acked(), (0, 0, 0), "a clone still holds it");
        s.zc_ref(10, 50, false);
        assert_eq!(s.complete_acked(), (1, 16, 100));
        assert_eq!(s.errqueue, VecDeque::from([(0, 0)]));
    }

    #[test]
    fn consecutive_completions_merge_into_one_range() {
        let mut s = Sender::new(&flow(SendPath::MsgZerocopy), DataSource::new(1));
        for i in 0..3 {
            s.zc.push_back(zc_send(i, i as u64 * 100, (i as u64 + 1) * 100));
        }
        s.acked = 250;
        assert_eq!(s.complete_acked().0, 2);
        s.acked = 300;
        assert_eq!(s.complete_acked().0, 1);
        assert_eq!(s.errqueue, VecDeque::from([(0, 2)]));
        assert_eq!(s.completed_buffers, vec![0, 1, 2]);
    }

    #[test]
    fn stream_offset_survives_sequence_wraparound() {
        let mut s = Sender::new(&flow(SendPath::Write), DataSource::new(1));
        s.isn = Some(u32::MAX - 10);
        assert_eq!(s.stream_offset(u32::MAX - 9), Some(0));
        s.acked = 5_000_000_000;
        let seq = (u32::MAX - 9).wrapping_add(5_000_000_100u64 as u32);
        assert_eq!(s.stream_offset(seq), Some(5_000_000_100));
    }
}
