//! io_uring `IORING_OP_RECV` into a provided-buffer ring.
//!
//! The request goes on the submission ring (one `io_uring_enter` per batch
//! of [`IO_URING_BATCH`]); the kernel picks a buffer from the ring the
//! application provided (`io_buffer_select`), copies into it, and posts a
//! CQE naming it.

use crate::account::Task;
use crate::app::receiver::Receiver;
use crate::app::recv::RecvCall;
use crate::app::IO_URING_BATCH;
use crate::event::{Ctx, Step};

/// `io_recv` with `IOSQE_BUFFER_SELECT`.
pub struct Provided;

impl RecvCall for Provided {
    fn took(&self, t: &mut Task, r: &mut Receiver, n: u64, ctx: Ctx) {
        t.note_ctx(Step::IoUringSqe, 1, n, ctx);
        r.sqes += 1;
        if r.sqes % IO_URING_BATCH == 1 {
            let sc = t.cost.syscall;
            t.charge(Step::IoUringEnter, 1, 0, sc);
        }
        t.note(Step::IoUringBufSelect, 1, n);
        let ns = t.cost.copy(n);
        t.charge_ctx(Step::CopyToUser, (1, n), ns, ctx);
        t.note_ctx(Step::IoUringCqe, 1, n, ctx);
    }
}
