//! `sendfile(2)` and `splice(2)`: a file's page-cache pages on the wire.
//!
//! The bytes never pass through user space: the call references the
//! file's page-cache pages as frags (`skb_splice_from_iter`, shared frags),
//! no copy and no pin. `splice` goes file -> pipe -> socket, two calls.

use crate::account::Task;
use crate::app::send::{reference_page_cache, syscall, Memory, SendCall};
use crate::app::sender::{Sender, WriteOp};
use crate::event::{Ctx, Step};

/// `do_sendfile -> do_splice_direct -> splice_to_socket`.
pub struct Sendfile;

/// `do_splice`: file -> pipe, then pipe -> socket (`MSG_SPLICE_PAGES`).
pub struct Splice;

impl SendCall for Sendfile {
    fn memory(&self) -> Memory {
        Memory::PageCache
    }

    fn enter(&self, t: &mut Task, _s: &mut Sender, _buffer: u32, len: u64, ctx: Ctx) {
        syscall(t, Step::SendfileSyscall, 1, len, ctx);
    }

    fn queue(&self, t: &mut Task, s: &mut Sender, op: &WriteOp, n: u64, flow: usize) {
        reference_page_cache(t, s, op, n, flow);
    }
}

impl SendCall for Splice {
    fn memory(&self) -> Memory {
        Memory::PageCache
    }

    fn enter(&self, t: &mut Task, _s: &mut Sender, _buffer: u32, len: u64, ctx: Ctx) {
        syscall(t, Step::SpliceSyscall, 2, len, ctx);
    }

    fn queue(&self, t: &mut Task, s: &mut Sender, op: &WriteOp, n: u64, flow: usize) {
        reference_page_cache(t, s, op, n, flow);
    }
}
