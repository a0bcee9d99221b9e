//! The cost model: what each modelled step costs in virtual time.
//!
//! Owns the numbers, one place, each with its source (see the project's
//! `docs/costs.md`). They are teaching defaults,
//! not measurements of one machine; every one can be overridden per host in
//! a scenario's `[hosts.NAME.cpu]` table. Does not decide *when* a cost is
//! paid: the host's CPU ([`crate::host::Cpu`]) and the NIC's DMA engine
//! ([`crate::nic`]) serialise work on their own timelines.

use crate::engine::Nanos;
use crate::units::{bandwidth, PicoTime as PerByte, Time, MS};
use serde::Deserialize;

/// PCIe Max Read Request Size: 512 bytes, the common platform default
/// (`lspci -vv`: `MaxReadReq 512 bytes`).
pub const PCIE_MRRS: u64 = 512;

/// Picoseconds: costs per byte need more resolution than nanoseconds.
pub type Picos = u64;

/// Per-host cost parameters. Per-byte costs are in picoseconds per byte.
///
/// A scenario's `[hosts.NAME.cpu]` table overrides any of them: times are
/// written as times in 0..=10ms, per-byte costs as times in 0..=1us (kept in
/// picoseconds), bandwidths as rates in 1MB/s..=1TB/s; every key defaults to
/// [`CostModel::default`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CostModel {
    /// One core's memcpy: 10 GB/s = 100 ps/byte (glibc memcpy ~13 GB/s on a
    /// laptop core; est).
    #[serde(rename = "copy_bandwidth", deserialize_with = "bandwidth")]
    pub copy_ps_per_byte: Picos,
    /// Syscall entry + exit: 200 ns (est; KPTI-era 0.1–0.4 us).
    #[serde(deserialize_with = "Time::<0, { 10 * MS }>::de")]
    pub syscall: Nanos,
    /// Take one user page (`get_user_pages_fast` / `pin_user_pages_fast`):
    /// 62 ns (the kernel's `gup_test -LT -m 8192 -n 512` on Linux 6.15: 8
    /// GiB of 4 KiB pages pinned in 130,538 us; Li Zhe, "mm: gup: avoid
    /// ... collect_longterm_unpinnable_folios", v4, June 2025).
    #[serde(deserialize_with = "Time::<0, { 10 * MS }>::de")]
    pub page_pin: Nanos,
    /// Drop one page reference (`put_page` / `unpin_user_page`) when the
    /// kernel is done with it: 15 ns (the same `gup_test` run: put 31,676
    /// us for the 2,097,152 pages).
    #[serde(deserialize_with = "Time::<0, { 10 * MS }>::de")]
    pub page_unpin: Nanos,
    /// What a zero-copy send costs beyond its pages, once per call that pins
    /// them: `msg_zerocopy_realloc`'s `mm_account_pinned_pages` (atomics on
    /// the user's `locked_vm`; `io_notif_account_mem` for SEND_ZC), the
    /// per-call part of `iov_iter_get_pages2` (its page-table walk is
    /// charged per page as `page_pin`), the `ubuf_info` reference and
    /// `skb_zcopy_set`: 800 ns.
    /// No per-operation measurement is published; fitted so that MSG_ZEROCOPY
    /// costs the sender less CPU per byte than `write` from about 10 KB
    /// writes (`Documentation/networking/msg_zerocopy.rst`: "generally only
    /// effective at writes over around 10 KB"). Registered buffers skip it.
    #[serde(deserialize_with = "Time::<0, { 10 * MS }>::de")]
    pub zerocopy_send: Nanos,
    /// One zero-copy notification, posted and reaped (`__msg_zerocopy_callback`
    /// queueing on the error queue, io_uring's F_NOTIF CQE): 100 ns, the mean
    /// of the "zc + flush" against "zc" columns of Pavel Begunkov's io_uring
    /// zerocopy send cover letter (v4, 7 July 2022; 35-140 ns per request at
    /// 600-4000 bytes).
    #[serde(deserialize_with = "Time::<0, { 10 * MS }>::de")]
    pub zerocopy_notify: Nanos,
    /// Software checksum: 0.25 ns/byte = 250 ps/byte (est).
    #[serde(
        rename = "checksum_per_byte",
        deserialize_with = "PerByte::<0, 1_000_000>::de"
    )]
    pub checksum_ps_per_byte: Picos,
    /// Driver writes one descriptor: 10 ns (est).
    #[serde(deserialize_with = "Time::<0, { 10 * MS }>::de")]
    pub desc_write: Nanos,
    /// MMIO write of a ring tail (doorbell): 200 ns (est, 100–300 ns).
    #[serde(deserialize_with = "Time::<0, { 10 * MS }>::de")]
    pub doorbell: Nanos,
    /// Interrupt entry, `e1000_intr` and its ICR read, exit: 2 us (est).
    #[serde(deserialize_with = "Time::<0, { 10 * MS }>::de")]
    pub irq: Nanos,
    /// Per-segment TCP/IP transmit work (`tcp_transmit_skb` →
    /// `dev_hard_start_xmit`), excluding checksum and copies: 300 ns (est).
    #[serde(deserialize_with = "Time::<0, { 10 * MS }>::de")]
    pub per_packet_tx: Nanos,
    /// Per-frame receive work (`netif_receive_skb` → `tcp_v4_rcv`),
    /// excluding checksum and copies: 300 ns (est).
    #[serde(deserialize_with = "Time::<0, { 10 * MS }>::de")]
    pub per_packet_rx: Nanos,
    /// GRO's look at one frame (`dev_gro_receive`, flow match, merge):
    /// 50 ns (est).
    #[serde(deserialize_with = "Time::<0, { 10 * MS }>::de")]
    pub gro: Nanos,
    /// Fixed cost of one NAPI poll (`net_rx_action` → `e1000_clean`):
    /// 100 ns (est).
    #[serde(deserialize_with = "Time::<0, { 10 * MS }>::de")]
    pub napi_poll: Nanos,
    /// Allocate or free one sk_buff (`tcp_stream_alloc_skb`,
    /// `napi_build_skb`, `napi_consume_skb`): 50 ns (est).
    #[serde(deserialize_with = "Time::<0, { 10 * MS }>::de")]
    pub skb_alloc: Nanos,
    /// Take a page from the page allocator when the page pool is empty
    /// (`alloc_pages` + DMA mapping): 150 ns (est).
    #[serde(deserialize_with = "Time::<0, { 10 * MS }>::de")]
    pub page_alloc: Nanos,
    /// PCIe DMA latency: 550 ns (pcie-bench NFP6000 medians, SIGCOMM 2018).
    #[serde(deserialize_with = "Time::<0, { 10 * MS }>::de")]
    pub dma_latency: Nanos,
    /// PCIe DMA latency per byte: 0.29 ns/byte = 290 ps/byte (same
    /// source; the slope from 560 ns at 64 B to 1133 ns at 2048 B).
    #[serde(
        rename = "dma_latency_per_byte",
        deserialize_with = "PerByte::<0, 1_000_000>::de"
    )]
    pub dma_ps_per_byte: Picos,
    /// PCIe bandwidth, i.e. how long a transfer occupies the link: 63 ps/byte
    /// = 16 GB/s, PCIe Gen3 x16 (15.75 GB/s usable).
    #[serde(rename = "dma_bandwidth", deserialize_with = "bandwidth")]
    pub pcie_ps_per_byte: Picos,
}

impl Default for CostModel {
    fn default() -> Self {
        CostModel {
            copy_ps_per_byte: 100,
            syscall: 200,
            page_pin: 62,
            page_unpin: 15,
            zerocopy_send: 800,
            zerocopy_notify: 100,
            checksum_ps_per_byte: 250,
            desc_write: 10,
            doorbell: 200,
            irq: 2_000,
            per_packet_tx: 300,
            per_packet_rx: 300,
            gro: 50,
            napi_poll: 100,
            skb_alloc: 50,
            page_alloc: 150,
            dma_latency: 550,
            dma_ps_per_byte: 290,
            pcie_ps_per_byte: 63,
        }
    }
}

impl CostModel {
    /// CPU time to copy `bytes`.
    pub fn copy(&self, bytes: u64) -> Nanos {
        per_byte_ns(self.copy_ps_per_byte, bytes)
    }

    /// CPU time to checksum `bytes` in software.
    pub fn checksum(&self, bytes: u64) -> Nanos {
        per_byte_ns(self.checksum_ps_per_byte, bytes)
    }

    /// Time the PCIe link is busy moving `bytes` (bandwidth, not latency).
    pub fn dma_occupancy(&self, bytes: u64) -> Nanos {
        per_byte_ns(self.pcie_ps_per_byte, bytes)
    }

    /// Latency of one DMA transfer of `bytes`, issue to completion, not
    /// counting the time the transfer occupies the link. A NIC splits
    /// larger transfers into read requests of at most [`PCIE_MRRS`] bytes
    /// issued back to back, so the per-byte latency slope applies to one
    /// request; the rest of a large transfer is bandwidth.
    pub fn dma_time(&self, bytes: u64) -> Nanos {
        self.dma_latency + per_byte_ns(self.dma_ps_per_byte, bytes.min(PCIE_MRRS))
    }
}

/// Picoseconds-per-byte times bytes, in nanoseconds, rounded up so that no
/// work is free.
pub fn per_byte_ns(ps_per_byte: Picos, bytes: u64) -> Nanos {
    (ps_per_byte.saturating_mul(bytes)).div_ceil(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_copy_bandwidth_is_ten_gigabytes_per_second() {
        let c = CostModel::default();
        assert_eq!(c.copy(10_000_000_000), 1_000_000_000);
    }

    #[test]
    fn per_byte_costs_round_up() {
        let c = CostModel::default();
        assert_eq!(c.copy(1), 1);
        assert_eq!(c.checksum(4), 1);
        assert_eq!(c.checksum(5), 2);
    }
}
