//! Application buffers and the pool they come from.
//!
//! Owns the sending application's buffers: their size, their alignment (and
//! so how many pages they span) and their lifecycle — free, in use by the
//! application, pending (owned by the kernel until a zero-copy completion),
//! and back in the pool. Owns the pool's tallies: peak in use, waits, and
//! buffers never returned.
//!
//! Does not know about sockets: [`crate::syscall`] decides when a buffer
//! becomes pending and when its completion hands it back.

/// Bytes per page (x86-64 base pages).
pub const PAGE_SIZE: u64 = 4096;

/// Pages a byte range touches when it starts `page_offset` bytes into a page.
/// An empty range touches none.
pub fn pages_spanned(page_offset: u64, len: u64) -> u64 {
    if len == 0 {
        return 0;
    }
    let first = page_offset / PAGE_SIZE;
    let last = (page_offset + len - 1) / PAGE_SIZE;
    last - first + 1
}

/// Where a buffer is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufferState {
    /// In the pool; the application may take it.
    Free,
    /// Taken by the application (being filled, or inside a syscall).
    InUse,
    /// Ownership passed to the kernel (zero-copy): must not be touched until
    /// its completion is reaped.
    Pending,
}

/// One application buffer. Its bytes are produced when the kernel takes
/// them (see `syscall::DataSource`); the model keeps its place and state.
#[derive(Debug)]
pub struct AppBuffer {
    pub id: u32,
    pub size: usize,
    /// The buffer's bytes, kept only when the NIC must read them at DMA
    /// time (a zero-copy buffer the application may rewrite too early).
    pub data: Vec<u8>,
    /// Zero-copy sends from this buffer the kernel still holds.
    pub in_flight: u32,
    /// Offset of byte 0 within its first page (from the alignment).
    pub page_offset: u64,
    pub state: BufferState,
}

/// A fixed set of application buffers, handed out lowest id first.
#[derive(Debug)]
pub struct BufferPool {
    bufs: Vec<AppBuffer>,
    in_use: u32,
    pub peak_in_use: u32,
    /// Times the application found no free buffer and had to wait.
    pub waits: u64,
}

impl BufferPool {
    /// `count` buffers of `size` bytes, each starting `page_offset` bytes
    /// into a page.
    pub fn new(count: u32, size: usize, page_offset: u64) -> BufferPool {
        let bufs = (0..count)
            .map(|id| AppBuffer {
                id,
                size,
                data: Vec::new(),
                in_flight: 0,
                page_offset,
                state: BufferState::Free,
            })
            .collect();
        BufferPool {
            bufs,
            in_use: 0,
            peak_in_use: 0,
            waits: 0,
        }
    }

    /// Takes the lowest-numbered free buffer.
    pub fn acquire(&mut self) -> Option<u32> {
        let b = self
            .bufs
            .iter_mut()
            .find(|b| b.state == BufferState::Free)?;
        b.state = BufferState::InUse;
        self.in_use += 1;
        self.peak_in_use = self.peak_in_use.max(self.in_use);
        Some(b.id)
    }

    /// Marks a buffer as owned by the kernel.
    pub fn mark_pending(&mut self, id: u32) {
        self.bufs[id as usize].state = BufferState::Pending;
    }

    /// Hands a buffer back to the pool.
    pub fn release(&mut self, id: u32) {
        let b = &mut self.bufs[id as usize];
        debug_assert_ne!(b.state, BufferState::Free, "buffer {id} released twice");
        if b.state != BufferState::Free {
            b.state = BufferState::Free;
            self.in_use -= 1;
        }
    }

    pub fn get(&self, id: u32) -> &AppBuffer {
        &self.bufs[id as usize]
    }

    pub fn get_mut(&mut self, id: u32) -> &mut AppBuffer {
        &mut self.bufs[id as usize]
    }

    /// Buffers not in the pool right now (leaks, when the run is over).
    pub fn in_use(&self) -> u32 {
        self.in_use
    }

    pub fn len(&self) -> usize {
        self.bufs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bufs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_buffer_spans_exactly_its_pages() {
        assert_eq!(pages_spanned(0, 65536), 16);
        assert_eq!(pages_spanned(0, 1), 1);
        assert_eq!(pages_spanned(0, 0), 0);
    }

    #[test]
    fn unaligned_buffer_spans_one_more_page() {
        assert_eq!(pages_spanned(64, 65536), 17);
        assert_eq!(pages_spanned(4095, 2), 2);
    }

    #[test]
    fn pool_hands_out_lowest_free_and_tracks_peak() {
        let mut p = BufferPool::new(3, 16, 0);
        assert_eq!(p.acquire(), Some(0));
        assert_eq!(p.acquire(), Some(1));
        p.mark_pending(0);
        p.release(1);
        assert_eq!(p.acquire(), Some(1));
        assert_eq!(p.acquire(), Some(2));
        assert_eq!(p.acquire(), None);
        assert_eq!(p.peak_in_use, 3);
        p.release(0);
        assert_eq!(p.in_use(), 2);
    }
}
