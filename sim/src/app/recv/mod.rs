//! Receive paths: how one receive call takes bytes from the socket.
//!
//! Owns the [`RecvCall`] trait every receive path implements and the
//! registry that maps a scenario's `recv = "..."` to its path
//! ([`RecvPath`]). One file per family: [`read`] (`read`, `readv`),
//! [`zerocopy_receive`], [`io_uring`] (provided buffers), [`splice`].
//!
//! Does not own the program's loop (block, read, close: [`crate::app::receiver`])
//! or the socket's receive queue ([`crate::socket::skb`]).
//!
//! # Adding a receive path
//!
//! Write one file with a unit struct implementing [`RecvCall`], and add one
//! line to the registry at the bottom of this file:
//!
//! ```text
//! /// `WSARecv` into a posted buffer, completion on an I/O completion port.
//! WsaRecv => "wsarecv", wsa::WSA_RECV;
//! ```

pub mod io_uring;
pub mod read;
pub mod splice;
pub mod zerocopy_receive;

use crate::account::Task;
use crate::app::receiver::Receiver;
use crate::event::Ctx;

/// One receive path: what a call that hands `n` bytes to the application
/// costs, in the order the kernel does the work.
pub trait RecvCall: Sync {
    /// One call took `n` bytes (stream range in `ctx`) from the socket's
    /// receive queue: its syscalls, copies, page mappings.
    fn took(&self, t: &mut Task, r: &mut Receiver, n: u64, ctx: Ctx);
}

path_registry! {
    /// How the receiving application takes bytes from the kernel: a flow's
    /// `recv` key.
    RecvPath: dyn RecvCall, default Read;
    /// `read(2)`: `copy_to_user` from the socket's receive queue.
    Read => "read", read::Read;
    /// `readv(2)`: one copy per iovec region.
    Readv => "readv", read::Readv;
    /// `getsockopt(TCP_ZEROCOPY_RECEIVE)`: whole payload pages mapped into
    /// the application, the rest copied. Needs the NIC's header split.
    ZerocopyReceive => "zerocopy_receive", zerocopy_receive::ZerocopyReceive;
    /// io_uring `IORING_OP_RECV` into a provided-buffer ring.
    IoUringProvided => "io_uring_provided", io_uring::Provided;
    /// `splice(2)` socket -> pipe -> file: no user-space copy.
    Splice => "splice", splice::Splice;
}
