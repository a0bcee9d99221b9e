//! `splice(2)` socket -> pipe -> file: nothing reaches user space.
//!
//! The received pages move into a pipe as references (`tcp_splice_read` ->
//! `skb_splice_bits`), then the pipe's bytes are written into the file's
//! page cache (`iter_file_splice_write`, a copy).

use crate::account::Task;
use crate::app::receiver::Receiver;
use crate::app::recv::RecvCall;
use crate::buffer::PAGE_SIZE;
use crate::event::{Ctx, Step};

/// `do_splice`: socket -> pipe, then pipe -> file.
pub struct Splice;

impl RecvCall for Splice {
    fn took(&self, t: &mut Task, _r: &mut Receiver, n: u64, ctx: Ctx) {
        let sc = t.cost.syscall;
        t.charge_ctx(Step::SpliceRecvSyscall, (2, n), 2 * sc, ctx);
        let pages = n.div_ceil(PAGE_SIZE);
        let ns = t.cost.skb_alloc * pages;
        t.charge_ctx(Step::SplicePipeRef, (pages, n), ns, ctx);
        let ns = t.cost.copy(n);
        t.charge_ctx(Step::SpliceToFile, (1, n), ns, ctx);
    }
}
