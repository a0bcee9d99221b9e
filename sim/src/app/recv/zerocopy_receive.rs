//! `getsockopt(TCP_ZEROCOPY_RECEIVE)`: payload pages mapped, not copied.
//!
//! The call maps into the application's page-aligned receive area only
//! frags that are exactly one page at offset 0 (`tcp_zerocopy_receive` ->
//! `can_map_frag` -> `vm_insert_pages`): with header split the payload
//! starts its page, and a segment fills the page only when the MSS is a
//! page (an MTU of 4096 + 40 bytes of headers). At MTU 1500 nothing maps;
//! what does not map is copied (`recv_skip_hint`, the copy buffer). The
//! application unmaps the pages when it is done with them. See
//! [`crate::socket::skb::ReceiveQueue::mappable_pages`].

use crate::account::Task;
use crate::app::receiver::Receiver;
use crate::app::recv::RecvCall;
use crate::buffer::PAGE_SIZE;
use crate::event::{Ctx, Step};

/// `getsockopt(TCP_ZEROCOPY_RECEIVE) -> tcp_zerocopy_receive`.
pub struct ZerocopyReceive;

impl RecvCall for ZerocopyReceive {
    fn took(&self, t: &mut Task, r: &mut Receiver, n: u64, ctx: Ctx) {
        let sc = t.cost.syscall;
        t.charge_ctx(Step::ZcRecvSyscall, (1, n), sc, ctx);
        // Pages map only onto a page-aligned receive address, and only
        // whole-page frags do.
        let pages = if r.aligned {
            r.rcv_queue.mappable_pages(r.received, n)
        } else {
            0
        };
        let mapped = pages * PAGE_SIZE;
        if pages > 0 {
            let ns = t.cost.page_pin * pages;
            t.charge_ctx(Step::VmInsertPages, (pages, mapped), ns, ctx);
            // The application unmaps them when it is done reading.
            let ns = t.cost.page_unpin * pages;
            t.charge(Step::ZcRecvUnmap, pages, mapped, ns);
        }
        if n > mapped {
            let k = n - mapped;
            let ns = t.cost.copy(k);
            // The bytes of the call's range that were not mapped.
            t.charge_ctx(Step::CopyToUser, (1, k), ns, ctx);
        }
    }
}
