//! The Rx page pool of a NIC queue (Linux `net/core/page_pool.c`).
//!
//! Owns the count of recycled pages a driver can refill its Rx ring from
//! without going to the page allocator, and the tallies of hits, misses and
//! pages allocated. Pages come back when the sk_buff built around them is
//! freed: at once for frames the stack consumed in NAPI (ACKs, copybreak),
//! or when the application's read frees a data sk_buff. A pool that is full
//! hands pages back to the page allocator.
//!
//! Does not hold buffers: the simulator recycles frame buffers on its own;
//! this is the accounting of what a `page_pool`-based driver (iavf, mlx5)
//! would do. e1000 itself has no page pool; the model gives its NIC one.

/// Pages the pool's ring holds: Linux `page_pool` default ring size.
pub const PAGE_POOL_RING: u64 = 1024;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PagePool {
    /// Recycled pages ready for the next refill.
    available: u64,
    pub hits: u64,
    pub misses: u64,
    /// Pages returned while the pool was full (back to the allocator).
    pub released: u64,
}

impl PagePool {
    /// Recycled pages ready for the next refill.
    pub fn available(&self) -> u64 {
        self.available
    }

    /// `page_pool_dev_alloc_pages` for `n` Rx buffers: returns (hits,
    /// misses) — misses go to the page allocator.
    pub fn alloc(&mut self, n: u64) -> (u64, u64) {
        let hits = n.min(self.available);
        self.available -= hits;
        self.hits += hits;
        self.misses += n - hits;
        (hits, n - hits)
    }

    /// `page_pool_put_full_page` for `n` pages: recycled while there is
    /// room, released otherwise. Returns how many were recycled.
    pub fn put(&mut self, n: u64) -> u64 {
        let room = PAGE_POOL_RING - self.available;
        let kept = n.min(room);
        self.available += kept;
        self.released += n - kept;
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_pool_misses_then_recycled_pages_hit() {
        let mut p = PagePool::default();
        assert_eq!(p.alloc(4), (0, 4));
        assert_eq!(p.put(3), 3);
        assert_eq!(p.alloc(4), (3, 1));
        assert_eq!((p.hits, p.misses), (3, 5));
    }

    #[test]
    fn a_full_pool_releases_pages_to_the_allocator() {
        let mut p = PagePool::default();
        assert_eq!(p.put(PAGE_POOL_RING + 10), PAGE_POOL_RING);
        assert_eq!(p.released, 10);
    }
}
