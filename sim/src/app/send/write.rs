//! `write(2)` and `writev(2)`: the copy path.
//!
//! The call copies the application's bytes into the socket's kernel page
//! frags (`tcp_sendmsg_locked` -> `skb_copy_to_page_nocache`); the buffer
//! is the application's again as soon as the call returns. `writev` (and a
//! `write` of a framed message, which is a gather write) copies each iovec
//! region into a frag of its own.

use crate::account::Task;
use crate::app::send::{copy_bytes, copy_regions, initiated, syscall, Memory, SendCall};
use crate::app::sender::{Sender, WriteOp};
use crate::event::{Ctx, Step};

/// `write(2)`: `ksys_write -> sock_write_iter -> tcp_sendmsg`.
pub struct Write;

/// `writev(2)`: `do_writev -> sock_write_iter -> tcp_sendmsg`.
pub struct Writev;

impl SendCall for Write {
    fn memory(&self) -> Memory {
        Memory::Copied
    }

    fn enter(&self, t: &mut Task, s: &mut Sender, _buffer: u32, len: u64, ctx: Ctx) {
        // A framed message is a gather write.
        let step = if s.parts.is_empty() {
            Step::WriteSyscall
        } else {
            Step::WritevSyscall
        };
        syscall(t, step, 1, len, ctx);
        initiated(t, len, ctx);
    }

    fn queue(&self, t: &mut Task, s: &mut Sender, op: &WriteOp, n: u64, flow: usize) {
        if s.parts.is_empty() {
            copy_bytes(t, s, op, n, flow);
        } else {
            copy_regions(t, s, op, n, flow);
        }
    }
}

impl SendCall for Writev {
    fn memory(&self) -> Memory {
        Memory::Copied
    }

    fn enter(&self, t: &mut Task, _s: &mut Sender, _buffer: u32, len: u64, ctx: Ctx) {
        syscall(t, Step::WritevSyscall, 1, len, ctx);
        initiated(t, len, ctx);
    }

    fn queue(&self, t: &mut Task, s: &mut Sender, op: &WriteOp, n: u64, flow: usize) {
        copy_regions(t, s, op, n, flow);
    }
}
