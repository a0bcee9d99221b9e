//! The boundary to a real network.
//!
//! Owns [`ExternalPort`]: what a backend (the `simnet` tool's TAP device)
//! provides so that one simulated host's NIC port can exchange Ethernet
//! frames with a real peer, and the wall clock such a run follows. The
//! model calls it from [`crate::world::World::run_external`]; it stays free
//! of I/O and of the clock itself: the backend does both.
//!
//! What it does not own: the NIC (frames still go through the host's rings
//! and DMA engine before they reach the port), or creating the device.

use std::io;

use crate::engine::Nanos;

/// A real wire at the end of a simulated host's port.
pub trait ExternalPort {
    /// Wall-clock nanoseconds since the run started.
    fn now(&mut self) -> Nanos;

    /// Puts one Ethernet frame (no FCS) on the real wire.
    fn send(&mut self, frame: &[u8]) -> io::Result<()>;

    /// Waits up to `timeout` for one frame. Fills `buf` (cleared first) and
    /// returns `true` if a frame came; `false` on timeout.
    fn recv(&mut self, buf: &mut Vec<u8>, timeout: Nanos) -> io::Result<bool>;

    /// Whether the user asked the run to stop (Ctrl-C, SIGTERM).
    fn stop_requested(&self) -> bool;
}
