//! `send(MSG_ZEROCOPY)`: the application's pages on the wire.
//!
//! The call pins the user pages that hold the bytes
//! (`skb_zerocopy_iter_stream` -> `get_user_pages_fast`) and records the
//! send (`msg_zerocopy_realloc`); the buffer stays the kernel's until TCP
//! has the bytes acknowledged and every transmitted clone is freed. The
//! application learns it from `recvmsg(MSG_ERRQUEUE)`, where consecutive
//! completions merge into one `ee_info`..`ee_data` range
//! (`Documentation/networking/msg_zerocopy.rst`).

use crate::account::Task;
use crate::app::send::{
    initiated, reference_user_pages, syscall, ubuf_alloc, zerocopy_setup, Memory, SendCall,
};
use crate::app::sender::{Sender, WriteOp};
use crate::event::{Ctx, Step};

/// `__sys_sendmsg -> tcp_sendmsg_locked` with `MSG_ZEROCOPY`.
pub struct MsgZerocopy;

impl SendCall for MsgZerocopy {
    fn memory(&self) -> Memory {
        Memory::UserPages
    }

    fn enter(&self, t: &mut Task, _s: &mut Sender, _buffer: u32, len: u64, ctx: Ctx) {
        syscall(t, Step::SendmsgSyscall, 1, len, ctx);
        initiated(t, len, ctx);
    }

    fn completion_record(&self, t: &mut Task, s: &mut Sender, buffer: u32) {
        zerocopy_setup(t, s.current.map_or(0, |op| op.len));
        ubuf_alloc(t, s, buffer);
    }

    fn queue(&self, t: &mut Task, s: &mut Sender, op: &WriteOp, n: u64, flow: usize) {
        reference_user_pages(t, s, op, n, flow, true);
    }

    /// One `recvmsg(MSG_ERRQUEUE)` per range.
    fn reap(&self, t: &mut Task, sends: u64, ctx: Ctx) {
        let ns = t.cost.syscall;
        t.charge_ctx(Step::ErrqueueSyscall, (1, sends), ns, ctx);
    }

    fn coalesces_completions(&self) -> bool {
        true
    }

    fn copies_for_software_checksum(&self) -> bool {
        true
    }
}
