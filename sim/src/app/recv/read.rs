//! `read(2)` and `readv(2)`: the copy path.
//!
//! The call copies from the socket's receive queue into the application's
//! buffer (`tcp_recvmsg` -> `skb_copy_datagram_iter` -> `copy_to_user`);
//! `readv` copies once per iovec region the bytes reach.

use crate::account::Task;
use crate::app::receiver::Receiver;
use crate::app::recv::RecvCall;
use crate::event::{Ctx, Step};

/// `read(2)`: `ksys_read -> sock_read_iter -> tcp_recvmsg`.
pub struct Read;

/// `readv(2)`: `do_readv -> sock_read_iter -> tcp_recvmsg`.
pub struct Readv;

impl RecvCall for Read {
    fn took(&self, t: &mut Task, _r: &mut Receiver, n: u64, ctx: Ctx) {
        let (sc, copy) = (t.cost.syscall, t.cost.copy(n));
        t.charge_ctx(Step::ReadSyscall, (1, n), sc, ctx);
        t.charge_ctx(Step::CopyToUser, (1, n), copy, ctx);
    }
}

impl RecvCall for Readv {
    fn took(&self, t: &mut Task, r: &mut Receiver, n: u64, ctx: Ctx) {
        let (sc, copy) = (t.cost.syscall, t.cost.copy(n));
        t.charge_ctx(Step::ReadvSyscall, (1, n), sc, ctx);
        // One copy per iovec region the bytes reach.
        let region = (r.read_size as u64).div_ceil(r.iovecs as u64).max(1);
        let regions = n.div_ceil(region);
        t.charge_ctx(Step::CopyToUser, (regions, n), copy, ctx);
    }
}
