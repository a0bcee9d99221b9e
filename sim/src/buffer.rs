//! Application buffers and the pool they come from.
//!
//! Owns the sending application's buffers: their size, their alignment (and
//! so how many pages they span) and their lifecycle — free, in use by the
//! application, pending (owned by the kernel until a zero-copy completion),
//! and back in the pool. Owns the pool's tallies: peak in use, waits, and
//! buffers never returned.
//!
//! Does not know about sockets: the send paths ([`crate::app::send`]) decide when a buffer
//! becomes pending and when its completion hands it back.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::config::{BufferKind, PoolKind};

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

/// What a receive buffer did with the bytes of one read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Received {
    /// Reallocations (or other moves of the bytes it holds).
    pub grows: u64,
    /// Bytes those moves copied: application-level copies.
    pub copied: u64,
    /// Messages completed and consumed.
    pub messages: u64,
}

/// A kind of buffer the receiving application reads into. The model calls
/// [`ReceiveBuffer::read`] after every read with the stream offset and the
/// count of the bytes the kernel copied in; the buffer says what that cost
/// the application on top (reallocation copies) and which messages it
/// completed. The dynamic kinds of the scenario format implement it
/// ([`crate::app::dynamic::DynamicBuffer`]); a Rust program can plug in its own
/// with [`crate::world::World::set_receive_buffer`] (see
/// `examples/custom_buffer.rs`).
pub trait ReceiveBuffer {
    /// The kind's name, for the report.
    fn name(&self) -> &'static str;
    /// `n` bytes were read at stream offset `at`.
    fn read(&mut self, at: u64, n: u64) -> Received;
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
/// them (see [`crate::app::data::DataSource`]); the model keeps its place and state.
#[derive(Debug)]
pub struct AppBuffer {
    pub id: u32,
    pub size: usize,
    /// The buffer's bytes, kept only when the NIC must read them at DMA
    /// time (a zero-copy buffer the application may rewrite too early).
    pub data: Vec<u8>,
    /// Notification id of the latest zero-copy send from this buffer (the
    /// kernel may still hold it: see [`crate::socket::zerocopy::Ubufs::get`]).
    pub last_send: Option<u32>,
    /// Offset of byte 0 within its first page (from the alignment).
    pub page_offset: u64,
    pub state: BufferState,
}

/// What a pool did, for the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Buffers the pool created.
    pub allocations: u64,
    /// Heap allocations those took: one each for `vec`/`string`, none for
    /// an `array` (stack storage), one shared block for all the `bytes`
    /// slices.
    pub heap_allocations: u64,
    /// Requests served by a buffer the pool already had.
    pub hits: u64,
    /// Requests that needed a new allocation.
    pub misses: u64,
    /// Times the application found no buffer and had to wait.
    pub waits: u64,
    /// Most buffers in use at once.
    pub peak_in_use: u64,
}

/// The application's send buffers and the policy that hands them out.
///
/// - `none`: every call allocates a buffer and frees it when done with it;
/// - `fixed`: `pool_size` buffers up front, lowest free first; wait when
///   all are in use;
/// - `dynamic`: allocate when none is free, keep every buffer for reuse;
/// - `thread_local`: a cache of at most `pool_size` free buffers in front of
///   the allocator (reuse from the cache, else allocate; free to the
///   allocator when the cache is full); never waits;
/// - `recycling`: allocate on demand up to `pool_size`, then wait for one
///   to come back.
#[derive(Debug)]
pub struct BufferPool {
    kind: PoolKind,
    /// The buffers' kind (where their storage comes from).
    storage: BufferKind,
    capacity: u32,
    size: usize,
    page_offset: u64,
    /// Every buffer slot; a freed `none`/`thread_local` buffer's slot is
    /// reused by the next allocation (as malloc reuses memory).
    bufs: Vec<AppBuffer>,
    /// Slots whose buffer was freed to the allocator.
    dead: Vec<u32>,
    /// Free buffers the pool keeps.
    free: FreeList,
    in_use: u32,
    pub stats: PoolStats,
}

impl BufferPool {
    /// A pool of `size`-byte buffers, each starting `page_offset` bytes
    /// into a page.
    pub fn new(kind: PoolKind, capacity: u32, size: usize, page_offset: u64) -> BufferPool {
        BufferPool::with_storage(kind, BufferKind::Vec, capacity, size, page_offset)
    }

    /// A pool whose buffers are of kind `storage`.
    pub fn with_storage(
        kind: PoolKind,
        storage: BufferKind,
        capacity: u32,
        size: usize,
        page_offset: u64,
    ) -> BufferPool {
        let mut p = BufferPool {
            kind,
            storage,
            capacity: capacity.max(1),
            size,
            page_offset,
            bufs: Vec::new(),
            dead: Vec::new(),
            free: FreeList::new(kind == PoolKind::Fixed),
            in_use: 0,
            stats: PoolStats::default(),
        };
        if kind == PoolKind::Fixed {
            for _ in 0..p.capacity {
                p.allocate();
            }
        }
        p
    }

    /// A new buffer from the heap, in a dead slot if there is one.
    fn allocate(&mut self) -> u32 {
        self.stats.allocations += 1;
        self.stats.heap_allocations += match self.storage {
            BufferKind::Array => 0,
            // Slices of one reference-counted block.
            BufferKind::Bytes => u64::from(self.stats.heap_allocations == 0),
            _ => 1,
        };
        let buf = |id| AppBuffer {
            id,
            size: self.size,
            data: Vec::new(),
            last_send: None,
            page_offset: self.page_offset,
            state: BufferState::Free,
        };
        let id = match self.dead.pop() {
            Some(id) => {
                // The same memory again: a zero-copy send the kernel still
                // holds from it is still the latest from these pages.
                let last_send = self.bufs[id as usize].last_send;
                self.bufs[id as usize] = AppBuffer {
                    last_send,
                    ..buf(id)
                };
                id
            }
            None => {
                let id = self.bufs.len() as u32;
                self.bufs.push(buf(id));
                id
            }
        };
        if self.kind == PoolKind::Fixed {
            self.free.push(id);
        }
        id
    }

    fn take(&mut self, id: u32) -> u32 {
        self.bufs[id as usize].state = BufferState::InUse;
        self.in_use += 1;
        self.stats.peak_in_use = self.stats.peak_in_use.max(self.in_use as u64);
        id
    }

    /// A buffer for the next call, or `None` if the application must wait
    /// for one to come back.
    pub fn acquire(&mut self) -> Option<u32> {
        match self.kind {
            PoolKind::Fixed => {
                let id = self.free.pop()?;
                self.stats.hits += 1;
                Some(self.take(id))
            }
            PoolKind::None => {
                self.stats.misses += 1;
                let id = self.allocate();
                Some(self.take(id))
            }
            PoolKind::Dynamic | PoolKind::ThreadLocal => {
                if let Some(id) = self.free.pop() {
                    self.stats.hits += 1;
                    return Some(self.take(id));
                }
                self.stats.misses += 1;
                let id = self.allocate();
                Some(self.take(id))
            }
            PoolKind::Recycling => {
                if let Some(id) = self.free.pop() {
                    self.stats.hits += 1;
                    return Some(self.take(id));
                }
                if (self.bufs.len() - self.dead.len()) as u32 >= self.capacity {
                    return None;
                }
                self.stats.misses += 1;
                let id = self.allocate();
                Some(self.take(id))
            }
        }
    }

    /// Counts a wait for a buffer.
    pub fn wait(&mut self) {
        self.stats.waits += 1;
    }

    /// Marks a buffer as owned by the kernel.
    pub fn mark_pending(&mut self, id: u32) {
        self.bufs[id as usize].state = BufferState::Pending;
    }

    /// Hands a buffer back: to the pool, or to the allocator.
    pub fn release(&mut self, id: u32) {
        let b = &mut self.bufs[id as usize];
        debug_assert_ne!(b.state, BufferState::Free, "buffer {id} released twice");
        if b.state == BufferState::Free {
            return;
        }
        b.state = BufferState::Free;
        self.in_use -= 1;
        let keep = match self.kind {
            PoolKind::None => false,
            PoolKind::ThreadLocal => (self.free.len() as u32) < self.capacity,
            _ => true,
        };
        if keep {
            self.free.push(id);
        } else {
            b.data = Vec::new();
            self.dead.push(id);
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

    /// Whether a wait for a buffer can end now.
    pub fn can_acquire(&self) -> bool {
        match self.kind {
            PoolKind::Fixed => !self.free.is_empty(),
            PoolKind::Recycling => {
                !self.free.is_empty()
                    || ((self.bufs.len() - self.dead.len()) as u32) < self.capacity
            }
            _ => true,
        }
    }

    /// Buffer slots (live buffers and freed slots).
    pub fn len(&self) -> usize {
        self.bufs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bufs.is_empty()
    }

    pub fn kind(&self) -> PoolKind {
        self.kind
    }
}

/// The free buffers a pool keeps, in the order it hands them out: lowest
/// id first for a fixed pool (buffer numbers stay meaningful, and `trace
/// --buffer 3` means the same buffer in every run), most recently returned
/// first otherwise (the warmest, as an allocator's free list). Both are
/// O(log n) or better per operation, whatever the pool's size.
#[derive(Debug)]
enum FreeList {
    Lowest(BinaryHeap<Reverse<u32>>),
    Warmest(Vec<u32>),
}

impl FreeList {
    fn new(lowest_first: bool) -> FreeList {
        if lowest_first {
            FreeList::Lowest(BinaryHeap::new())
        } else {
            FreeList::Warmest(Vec::new())
        }
    }

    fn push(&mut self, id: u32) {
        match self {
            FreeList::Lowest(h) => h.push(Reverse(id)),
            FreeList::Warmest(v) => v.push(id),
        }
    }

    fn pop(&mut self) -> Option<u32> {
        match self {
            FreeList::Lowest(h) => h.pop().map(|Reverse(id)| id),
            FreeList::Warmest(v) => v.pop(),
        }
    }

    fn len(&self) -> usize {
        match self {
            FreeList::Lowest(h) => h.len(),
            FreeList::Warmest(v) => v.len(),
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
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
    fn fixed_pool_hands_out_lowest_free_and_waits_when_empty() {
        let mut p = BufferPool::new(PoolKind::Fixed, 3, 16, 0);
        assert_eq!(p.acquire(), Some(0));
        assert_eq!(p.acquire(), Some(1));
        p.mark_pending(0);
        p.release(1);
        assert_eq!(p.acquire(), Some(1));
        assert_eq!(p.acquire(), Some(2));
        assert_eq!(p.acquire(), None);
        assert_eq!(p.stats.peak_in_use, 3);
        assert_eq!(p.stats.allocations, 3);
        p.release(0);
        assert_eq!(p.in_use(), 2);
    }

    #[test]
    fn arrays_take_no_heap_and_bytes_share_one_block() {
        for (storage, heap) in [
            (BufferKind::Array, 0),
            (BufferKind::Bytes, 1),
            (BufferKind::Vec, 4),
        ] {
            let mut p = BufferPool::with_storage(PoolKind::Fixed, storage, 4, 16, 0);
            let _ = p.acquire();
            assert_eq!(p.stats.heap_allocations, heap, "{storage:?}");
        }
    }

    #[test]
    fn no_pool_allocates_for_every_call() {
        let mut p = BufferPool::new(PoolKind::None, 8, 16, 0);
        for _ in 0..5 {
            let id = p.acquire().unwrap();
            p.release(id);
        }
        assert_eq!(
            (p.stats.allocations, p.stats.hits, p.stats.misses),
            (5, 0, 5)
        );
        assert_eq!(p.len(), 1, "the freed slot is reused");
    }

    #[test]
    fn dynamic_pool_grows_to_the_peak_then_reuses() {
        let mut p = BufferPool::new(PoolKind::Dynamic, 1, 16, 0);
        let a = p.acquire().unwrap();
        let b = p.acquire().unwrap();
        p.release(a);
        p.release(b);
        p.acquire().unwrap();
        assert_eq!((p.stats.allocations, p.stats.hits), (2, 1));
    }

    #[test]
    fn thread_local_cache_frees_beyond_its_size() {
        let mut p = BufferPool::new(PoolKind::ThreadLocal, 1, 16, 0);
        let a = p.acquire().unwrap();
        let b = p.acquire().unwrap();
        p.release(a);
        p.release(b); // the cache holds one: b goes back to the allocator
        p.acquire().unwrap();
        p.acquire().unwrap();
        assert_eq!(
            (p.stats.allocations, p.stats.hits, p.stats.misses),
            (3, 1, 3)
        );
    }

    #[test]
    fn recycling_pool_waits_at_its_size() {
        let mut p = BufferPool::new(PoolKind::Recycling, 2, 16, 0);
        let a = p.acquire().unwrap();
        p.acquire().unwrap();
        assert_eq!(p.acquire(), None);
        assert!(!p.can_acquire());
        p.release(a);
        assert_eq!(p.acquire(), Some(a));
        assert_eq!(p.stats.allocations, 2);
    }
}
