//! Send paths: how one send call hands the application's bytes to the
//! kernel.
//!
//! Owns the [`SendCall`] trait every send path implements, the kernel steps
//! paths are built from (a syscall, an io_uring submission, bytes copied
//! into kernel page frags, user pages pinned, page-cache pages referenced),
//! and the registry that maps a scenario's `send = "..."` to its path
//! ([`SendPath`]). One file per family: [`write`](mod@write) (`write`, `writev`),
//! [`msg_zerocopy`], [`sendfile`] (`sendfile`, `splice`), [`io_uring`]
//! (`io_uring`, `io_uring_send_zc`, `io_uring_fixed`).
//!
//! Does not own the program's loop (take a buffer, call, block, reap:
//! [`crate::app::sender`]) or what happens to the bytes after the call
//! (segmentation, the driver, the NIC).
//!
//! # Adding a send path
//!
//! Write one file with a unit struct implementing [`SendCall`] (its
//! [`SendCall::memory`], how a call enters the kernel and how its bytes are
//! queued, from the steps below; the other methods have defaults), and add
//! one line to the registry at the bottom of this file:
//!
//! ```text
//! /// `WSASend`: overlapped send, completion on an I/O completion port.
//! WsaSend => "wsasend", wsa::WSA_SEND;
//! ```
//!
//! The line declares the variant of [`SendPath`] scenario files and code
//! use, its name in files, and its implementation. A path that models a
//! kernel function no path models yet adds its [`Step`] to
//! [`crate::event`], where every accounted step is named.

pub mod io_uring;
pub mod msg_zerocopy;
pub mod sendfile;
pub mod write;

use crate::account::Task;
use crate::app::sender::{Sender, WriteOp, PAGE_FRAG_SIZE};
use crate::buffer::{pages_spanned, PAGE_SIZE};
use crate::event::{Ctx, Step};
use crate::socket::skb::FragMem;

/// Modelled address of the page cache pages sendfile and splice send from.
pub const PAGE_CACHE_BASE: u64 = 0xffff_ea00_0000_0000;

/// What memory the kernel sends a path's bytes from while it holds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Memory {
    /// Kernel page frags the call copied the bytes into: the application's
    /// buffer is its own again when the call returns.
    Copied,
    /// The application's own pages, referenced: the buffer is the kernel's
    /// until a completion hands it back.
    UserPages,
    /// Page-cache pages of a file: no application buffer at all.
    PageCache,
}

/// One send path: what a call costs to enter the kernel, what becomes of
/// its bytes, and how the application learns it may reuse its buffer.
///
/// Every method charges its work to the [`Task`] in the order the kernel
/// does it; the defaults are what most paths do.
pub trait SendCall: Sync {
    /// What memory the kernel sends the bytes from.
    fn memory(&self) -> Memory;

    /// The call enters the kernel with `len` bytes of buffer `buffer`: the
    /// syscall (or submission) and the records the kernel sets up for it.
    fn enter(&self, t: &mut Task, s: &mut Sender, buffer: u32, len: u64, ctx: Ctx);

    /// After the call is in: the record the kernel keeps to tell the
    /// application when buffer `buffer` is free again (MSG_ZEROCOPY's
    /// `ubuf_info`, [`ubuf_alloc`]). Copy paths keep none.
    fn completion_record(&self, _t: &mut Task, _s: &mut Sender, _buffer: u32) {}

    /// `n` more bytes of the call `op` enter the socket's write queue: the
    /// sk_buff frags they become and the copy, pin or reference that put
    /// them there. `flow` is for provenance.
    fn queue(&self, t: &mut Task, s: &mut Sender, op: &WriteOp, n: u64, flow: usize);

    /// Every byte of `op` is queued and the call returns: the buffer's
    /// lifecycle and pool as the path's [`SendCall::memory`] says.
    fn returned(&self, t: &mut Task, s: &mut Sender, op: &WriteOp, flow: usize) {
        returned(t, s, op, flow);
    }

    /// The application reaps one completion notification covering `sends`
    /// sends, stream bytes `ctx` (zero-copy paths only).
    fn reap(&self, _t: &mut Task, _sends: u64, _ctx: Ctx) {}

    /// Whether consecutive completions merge into one notification
    /// (MSG_ZEROCOPY's `ee_info`..`ee_data` ranges).
    fn coalesces_completions(&self) -> bool {
        false
    }

    /// Whether a software checksum must first copy the bytes: user pages
    /// may change under it (Linux's shared-frag rule in
    /// `skb_checksum_help`).
    fn copies_for_software_checksum(&self) -> bool {
        false
    }

    /// Before the first call, with the pages of the whole pool.
    fn setup(&self, _t: &mut Task, _pool_pages: u64) {}

    /// After the last completion, with the pages of the whole pool.
    fn teardown(&self, _t: &mut Task, _pool_pages: u64) {}
}

/// The call's syscalls: `calls` entries of `step`, each costing a syscall.
pub fn syscall(t: &mut Task, step: Step, calls: u64, len: u64, ctx: Ctx) {
    let ns = calls * t.cost.syscall;
    t.charge_ctx(step, (calls, len), ns, ctx);
}

/// The application hands buffer bytes to the kernel: the buffer's
/// lifecycle begins.
pub fn initiated(t: &mut Task, len: u64, ctx: Ctx) {
    t.note_ctx(Step::BufferInitiated, 1, len, ctx);
}

/// `msg_zerocopy_realloc`: the completion record of a zero-copy send. A
/// path whose notifications coalesce (MSG_ZEROCOPY) extends the latest one
/// when its bytes still sit unsent in the tail sk_buff (one completion then
/// covers both sends, and the new bytes join that sk_buff); otherwise
/// `msg_zerocopy_alloc` makes a new one.
pub fn ubuf_alloc(t: &mut Task, s: &mut Sender, buffer: u32) {
    let len = s.current.map_or(0, |op| op.len);
    let extended = s
        .path
        .call()
        .coalesces_completions()
        .then(|| s.zc.extend(buffer, s.issued, len, s.max_sent_end))
        .flatten();
    let id = match extended {
        Some(id) => {
            t.note(Step::ZerocopyExtend, 1, len);
            id
        }
        None => {
            let ns = t.cost.skb_alloc;
            t.charge(Step::ZerocopyAlloc, 1, 0, ns);
            s.zc.open(buffer, s.issued)
        }
    };
    if !s.path.from_file() {
        s.pool.get_mut(buffer).last_send = Some(id);
    }
}

/// A send that pins its pages pays for the pinning's setup once: the
/// locked-memory accounting (`mm_account_pinned_pages`, or
/// `io_notif_account_mem` for SEND_ZC) and the completion record's
/// reference ([`crate::cost::CostModel::zerocopy_send`]).
pub fn zerocopy_setup(t: &mut Task, len: u64) {
    let ns = t.cost.zerocopy_send;
    t.charge(Step::ZerocopySetup, 1, len, ns);
}

/// `copy_from_user` into the socket's page frag: the bytes join one frag.
pub fn copy_bytes(t: &mut Task, s: &mut Sender, op: &WriteOp, n: u64, flow: usize) {
    let seq = op.start + op.done;
    let ctx = Ctx::stream(flow, seq, n).with_buffer(op.buffer);
    let addr = s.page_frag_cursor;
    s.page_frag_cursor += n;
    let frags = s
        .write_queue
        .append(seq, addr, n, FragMem::Kernel, PAGE_FRAG_SIZE);
    t.note_ctx(Step::SkbFrag, frags, n, ctx);
    let ns = t.cost.copy(n);
    t.charge_ctx(Step::CopyFromUser, (1, n), ns, ctx);
}

/// A gather write: one `copy_from_user` and one frag per iovec region (or
/// per part of a framed message) the bytes reach.
pub fn copy_regions(t: &mut Task, s: &mut Sender, op: &WriteOp, n: u64, flow: usize) {
    let mut at = op.done;
    while at < op.done + n {
        let end = s.region_end(at, op.len).min(op.done + n);
        let k = end - at;
        let addr = s.page_frag_cursor;
        s.page_frag_cursor += k;
        let (mem, sq) = (FragMem::Kernel, op.start + at);
        // A region continued after a wait joins its frag.
        let frags = if s.region_starts(at, op.len) {
            s.write_queue
                .append_region(sq, addr, k, mem, PAGE_FRAG_SIZE)
        } else {
            s.write_queue.append(sq, addr, k, mem, PAGE_FRAG_SIZE)
        };
        let ctx = Ctx::stream(flow, sq, k).with_buffer(op.buffer);
        t.note_ctx(Step::SkbFrag, frags, k, ctx);
        let ns = t.cost.copy(k);
        t.charge_ctx(Step::CopyFromUser, (1, k), ns, ctx);
        at = end;
    }
}

/// The application's pages become frags of the write queue; with `pin`,
/// `get_user_pages_fast` takes a reference on each (registered buffers are
/// pinned already).
pub fn reference_user_pages(
    t: &mut Task,
    s: &mut Sender,
    op: &WriteOp,
    n: u64,
    flow: usize,
    pin: bool,
) {
    let seq = op.start + op.done;
    let ctx = Ctx::stream(flow, seq, n).with_buffer(op.buffer);
    let addr = s.buffer_addr(op.buffer) + op.done;
    let mem = FragMem::User { buffer: op.buffer };
    let frags = s.write_queue.append(seq, addr, n, mem, PAGE_SIZE);
    t.note_ctx(Step::SkbFrag, frags, n, ctx);
    if pin {
        let off = s.pool.get(op.buffer).page_offset + op.done;
        let pages = pages_spanned(off, n);
        let ns = t.cost.page_pin * pages;
        t.charge_ctx(Step::GetUserPages, (pages, n), ns, ctx);
        s.zc.last_mut().pages += pages;
    }
    s.zc.queued(n);
}

/// The file's pages, already in the page cache, become frags: a page
/// reference each, no copy, no pin.
pub fn reference_page_cache(t: &mut Task, s: &mut Sender, op: &WriteOp, n: u64, flow: usize) {
    let seq = op.start + op.done;
    let ctx = Ctx::stream(flow, seq, n).with_buffer(op.buffer);
    let addr = PAGE_CACHE_BASE + seq;
    let frags = s
        .write_queue
        .append(seq, addr, n, FragMem::PageCache, PAGE_SIZE);
    t.note_ctx(Step::SkbFrag, frags, n, ctx);
    let pages = pages_spanned(seq % PAGE_SIZE, n);
    let ns = t.cost.skb_alloc * pages;
    t.charge_ctx(Step::PageCacheRef, (pages, n), ns, ctx);
}

/// The call returns: a copied buffer is the application's again at once; a
/// zero-copy one stays the kernel's until its completion (or, with
/// `reuse = "immediately"`, goes back to the pool anyway: the lifetime bug).
pub fn returned(t: &mut Task, s: &mut Sender, op: &WriteOp, flow: usize) {
    let ctx = Ctx::stream(flow, op.start, op.len).with_buffer(op.buffer);
    match s.path.call().memory() {
        Memory::UserPages => {
            t.note_ctx(Step::BufferPending, 1, op.len, ctx);
            s.zc.last_mut().queued_all = true;
            if s.reuse == crate::config::Reuse::Immediately {
                s.pool.release(op.buffer);
            } else {
                s.pool.mark_pending(op.buffer);
            }
        }
        Memory::Copied => {
            t.note_ctx(Step::BufferComplete, 1, op.len, ctx);
            t.note_ctx(Step::BufferReturned, 1, op.len, ctx);
            s.pool.release(op.buffer);
        }
        Memory::PageCache => {}
    }
}

path_registry! {
    /// How the sending application hands bytes to the kernel: a flow's
    /// `send` key.
    SendPath: dyn SendCall, default Write;
    /// `write(2)`: `copy_from_user` into kernel page frags.
    Write => "write", write::Write;
    /// `writev(2)`: one copy per iovec region, one frag per region.
    Writev => "writev", write::Writev;
    /// `send(MSG_ZEROCOPY)`: user pages referenced, completion on the error
    /// queue.
    MsgZerocopy => "msg_zerocopy", msg_zerocopy::MsgZerocopy;
    /// `sendfile(2)`: page-cache pages referenced, no copy.
    Sendfile => "sendfile", sendfile::Sendfile;
    /// `splice(2)` file -> pipe -> socket: pipe pages referenced, no copy.
    Splice => "splice", sendfile::Splice;
    /// io_uring `IORING_OP_SEND`: copies, one `io_uring_enter` per batch.
    IoUring => "io_uring", io_uring::Send;
    /// io_uring `IORING_OP_SEND_ZC` from registered buffers: pinned once at
    /// registration, no per-send pin.
    IoUringFixed => "io_uring_fixed", io_uring::SendZcFixed;
    /// io_uring `IORING_OP_SEND_ZC`: pages taken per send; a result CQE
    /// (F_MORE) and a notification CQE (F_NOTIF) per request.
    IoUringSendZc => "io_uring_send_zc", io_uring::SendZc;
}

impl SendPath {
    /// Whether the NIC reads the application's own pages (the buffer is in
    /// flight until a completion hands it back).
    pub fn zero_copy(self) -> bool {
        self.call().memory() == Memory::UserPages
    }

    /// Whether the bytes come from the page cache, not from a user buffer.
    pub fn from_file(self) -> bool {
        self.call().memory() == Memory::PageCache
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_has_a_distinct_name() {
        for (i, a) in SendPath::ALL.iter().enumerate() {
            for b in &SendPath::ALL[..i] {
                assert_ne!(a.name(), b.name());
            }
        }
        assert_eq!(SendPath::MsgZerocopy.name(), "msg_zerocopy");
        assert!(SendPath::IoUringFixed.zero_copy() && SendPath::Splice.from_file());
        assert_eq!(SendPath::Writev.call().memory(), Memory::Copied);
    }
}
