//! The NIC's DMA engine.
//!
//! Owns [`Dma`]: reads (host memory to NIC) and writes (NIC to host memory)
//! overlap, as PCIe is full duplex; each direction moves one transfer at a
//! time at the link's bandwidth, and every transfer completes after the
//! PCIe latency for its size ([`CostModel::dma_time`]). Owns how busy each
//! direction was, for the report's bottleneck.
//!
//! Does not decide what is transferred or when: the NIC's Tx and Rx engines
//! ([`crate::nic`]) issue the transfers.

use crate::cost::CostModel;
use crate::engine::Nanos;

/// The NIC's DMA engine: reads and writes overlap (PCIe is full duplex), each
/// direction moves one transfer at a time at its bandwidth, and every
/// transfer completes after the PCIe latency for its size.
#[derive(Debug, Default)]
pub struct Dma {
    read_free: Nanos,
    write_free: Nanos,
    /// Nanoseconds each direction was busy.
    pub read_busy: Nanos,
    pub write_busy: Nanos,
}

impl Dma {
    /// A host-to-NIC read of `bytes` issued at `now`; returns its completion.
    pub fn read(&mut self, cost: &CostModel, now: Nanos, bytes: u64) -> Nanos {
        let occ = cost.dma_occupancy(bytes);
        let start = now.max(self.read_free);
        self.read_free = start + occ;
        self.read_busy += occ;
        start + occ + cost.dma_time(bytes)
    }

    /// A descriptor write-back of `bytes` issued at `at` (which may lie ahead
    /// of transfers issued after it): tiny, so it takes no turn on the
    /// link; returns its completion.
    pub fn writeback(&mut self, cost: &CostModel, at: Nanos, bytes: u64) -> Nanos {
        at + cost.dma_occupancy(bytes) + cost.dma_time(bytes)
    }

    /// A NIC-to-host write of `bytes` issued at `now`; returns its completion.
    pub fn write(&mut self, cost: &CostModel, now: Nanos, bytes: u64) -> Nanos {
        let occ = cost.dma_occupancy(bytes);
        let start = now.max(self.write_free);
        self.write_free = start + occ;
        self.write_busy += occ;
        start + occ + cost.dma_time(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dma_transfers_pipeline_behind_each_other() {
        let c = CostModel::default();
        let mut d = Dma::default();
        let a = d.read(&c, 0, 1514);
        let b = d.read(&c, 0, 1514);
        assert!(b > a);
        assert_eq!(b - a, c.dma_occupancy(1514));
    }
}
