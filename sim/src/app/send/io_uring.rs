//! io_uring sends: `IORING_OP_SEND`, `IORING_OP_SEND_ZC`, and SEND_ZC from
//! registered buffers.
//!
//! Requests are written to the submission ring without a syscall; the
//! application enters the kernel once per batch of
//! [`crate::app::IO_URING_BATCH`] (`io_uring_enter -> io_submit_sqes`), and
//! learns results from CQEs it reads without one. `SEND` copies like
//! `write`; `SEND_ZC` pins like MSG_ZEROCOPY but posts one F_NOTIF CQE per
//! request instead of merged error-queue ranges; with registered buffers
//! (`IORING_REGISTER_BUFFERS`) the pages are pinned once, up front, for
//! good (`io_sqe_buffers_register`, `io_import_fixed`).

use crate::account::Task;
use crate::app::send::{
    copy_bytes, copy_regions, initiated, reference_user_pages, returned, ubuf_alloc,
    zerocopy_setup, Memory, SendCall,
};
use crate::app::sender::{Sender, WriteOp};
use crate::app::IO_URING_BATCH;
use crate::event::{Ctx, Step};

/// `IORING_OP_SEND`: a copy into kernel page frags.
pub struct Send;

/// `IORING_OP_SEND_ZC`: user pages pinned per request.
pub struct SendZc;

/// `IORING_OP_SEND_ZC` with `IORING_RECVSEND_FIXED_BUF`: registered pages.
pub struct SendZcFixed;

/// The request goes on the submission ring (no syscall by itself); every
/// [`IO_URING_BATCH`]-th request, and the last, enters the kernel.
fn submit(t: &mut Task, s: &mut Sender, len: u64, ctx: Ctx) {
    sqe(t, len, ctx);
    initiated(t, len, ctx);
    s.sqes += 1;
    let last = s.issued + len >= s.total;
    if s.sqes.is_multiple_of(IO_URING_BATCH) || last {
        let ns = t.cost.syscall;
        t.charge(Step::IoUringEnter, 1, 0, ns);
    }
}

/// The SQE itself: written to the ring, no syscall.
fn sqe(t: &mut Task, len: u64, ctx: Ctx) {
    t.charge_ctx(Step::IoUringSqe, (1, len), 0, ctx);
}

/// The request's result CQE, then the buffer's lifecycle.
fn complete(t: &mut Task, s: &mut Sender, op: &WriteOp, flow: usize) {
    t.note(Step::IoUringCqe, 1, op.len);
    returned(t, s, op, flow);
}

impl SendCall for Send {
    fn memory(&self) -> Memory {
        Memory::Copied
    }

    fn enter(&self, t: &mut Task, s: &mut Sender, _buffer: u32, len: u64, ctx: Ctx) {
        submit(t, s, len, ctx);
    }

    fn queue(&self, t: &mut Task, s: &mut Sender, op: &WriteOp, n: u64, flow: usize) {
        if s.parts.is_empty() {
            copy_bytes(t, s, op, n, flow);
        } else {
            copy_regions(t, s, op, n, flow);
        }
    }

    fn returned(&self, t: &mut Task, s: &mut Sender, op: &WriteOp, flow: usize) {
        complete(t, s, op, flow);
    }
}

impl SendCall for SendZc {
    fn memory(&self) -> Memory {
        Memory::UserPages
    }

    fn enter(&self, t: &mut Task, s: &mut Sender, _buffer: u32, len: u64, ctx: Ctx) {
        submit(t, s, len, ctx);
    }

    fn completion_record(&self, t: &mut Task, s: &mut Sender, buffer: u32) {
        zerocopy_setup(t, s.current.map_or(0, |op| op.len));
        ubuf_alloc(t, s, buffer);
    }

    fn queue(&self, t: &mut Task, s: &mut Sender, op: &WriteOp, n: u64, flow: usize) {
        reference_user_pages(t, s, op, n, flow, true);
    }

    fn returned(&self, t: &mut Task, s: &mut Sender, op: &WriteOp, flow: usize) {
        complete(t, s, op, flow);
    }

    /// F_NOTIF CQEs, read from the completion ring without a syscall.
    fn reap(&self, t: &mut Task, sends: u64, ctx: Ctx) {
        t.note_ctx(Step::IoUringCqe, sends, 0, ctx);
    }
}

impl SendCall for SendZcFixed {
    fn memory(&self) -> Memory {
        Memory::UserPages
    }

    fn enter(&self, t: &mut Task, s: &mut Sender, _buffer: u32, len: u64, ctx: Ctx) {
        submit(t, s, len, ctx);
        let ns = t.cost.skb_alloc;
        t.charge(Step::IoUringImportFixed, 1, len, ns);
    }

    fn completion_record(&self, t: &mut Task, s: &mut Sender, buffer: u32) {
        ubuf_alloc(t, s, buffer);
    }

    fn queue(&self, t: &mut Task, s: &mut Sender, op: &WriteOp, n: u64, flow: usize) {
        // Registered pages are pinned already: no per-send pin.
        reference_user_pages(t, s, op, n, flow, false);
    }

    fn returned(&self, t: &mut Task, s: &mut Sender, op: &WriteOp, flow: usize) {
        complete(t, s, op, flow);
    }

    fn reap(&self, t: &mut Task, sends: u64, ctx: Ctx) {
        t.note_ctx(Step::IoUringCqe, sends, 0, ctx);
    }

    /// `io_uring_register(IORING_REGISTER_BUFFERS)`: every pool buffer
    /// pinned once, for good.
    fn setup(&self, t: &mut Task, pool_pages: u64) {
        let ns = t.cost.syscall + t.cost.page_pin * pool_pages;
        t.charge(Step::IoUringRegister, pool_pages, 0, ns);
    }

    /// `io_uring_unregister_buffers`: the long-term pins go.
    fn teardown(&self, t: &mut Task, pool_pages: u64) {
        let ns = t.cost.syscall + t.cost.page_unpin * pool_pages;
        t.charge(Step::IoUringUnregister, pool_pages, 0, ns);
    }
}
