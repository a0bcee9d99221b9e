//! `getsockopt(TCP_ZEROCOPY_RECEIVE)`: payload pages mapped, not copied.
//!
//! With header split the payload lies page-aligned in its own pages; the
//! call maps whole pages into the application's page-aligned receive area
//! (`tcp_zerocopy_receive` -> `vm_insert_pages`) and copies the tail that
//! does not fill a page. The application unmaps the pages when it is done
//! with them.

use crate::account::Task;
use crate::app::receiver::Receiver;
use crate::app::recv::RecvCall;
use crate::buffer::PAGE_SIZE;
use crate::event::{Ctx, Step};

/// `getsockopt(TCP_ZEROCOPY_RECEIVE) -> tcp_zerocopy_receive`.
pub struct ZerocopyReceive;

impl RecvCall for ZerocopyReceive {
    fn took(&self, t: &mut Task, r: &mut Receiver, n: u64, _ctx: Ctx) {
        let sc = t.cost.syscall;
        t.charge(Step::ZcRecvSyscall, 1, n, sc);
        // Pages map only onto a page-aligned receive address.
        let pages = if r.aligned { n / PAGE_SIZE } else { 0 };
        let mapped = pages * PAGE_SIZE;
        if pages > 0 {
            let ns = t.cost.page_pin * pages;
            t.charge(Step::VmInsertPages, pages, mapped, ns);
            // The application unmaps them when it is done reading.
            let ns = t.cost.page_unpin * pages;
            t.charge(Step::ZcRecvUnmap, pages, mapped, ns);
        }
        if n > mapped {
            let k = n - mapped;
            let ns = t.cost.copy(k);
            t.charge(Step::CopyToUser, 1, k, ns);
        }
    }
}
