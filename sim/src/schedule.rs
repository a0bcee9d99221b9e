//! What can happen next: the events of the run, and the handle stages
//! schedule them through.
//!
//! Owns [`Ev`], what the event queue holds: each thing that can happen at a
//! moment of virtual time (an application's call, a stack timer, a NIC
//! departure, a frame's arrival at a port or at the switch, an interrupt, a
//! NAPI poll), and [`Env`], what a host's stages may use beyond their host
//! while they run: the queue, to schedule their own next steps, and the
//! frame buffers every host recycles.
//!
//! Does not decide what an event does: the world ([`crate::world`]) hands
//! each to the stage it wakes.

use crate::engine::EventQueue;
use crate::provenance::RxTap;

/// What the event queue holds.
pub enum Ev {
    /// An application may make progress.
    App { flow: u16, recv: bool },
    /// The stack asked to be polled (a timer: retransmission, delayed ACK).
    Poll { host: u8 },
    /// The NIC's next staged frame leaves for the wire.
    NicTx { host: u8 },
    /// A frame's last bit reaches a host's port; the frame waits on the
    /// wire in `slot`.
    Arrive { host: u8, slot: u32 },
    /// A frame from host `from` is wholly in the switch.
    SwitchIn { from: u8, slot: u32 },
    /// The NIC's interrupt fires.
    Irq { host: u8 },
    /// NAPI polls again (budget exhausted last time).
    Napi { host: u8 },
    /// A frame that waited in the queue in front of its host's wire starts
    /// to cross the port: captures record it now. A copy waits in `slot`.
    /// Only scheduled when an observer wants frames; changes nothing in
    /// the model.
    Capture { host: u8, slot: u32 },
}

/// What a host's stages may use beyond their host while they run: the
/// event queue (to schedule their own next steps), the recycled frame
/// buffers every host shares, and, while an observer wants frames, where
/// NAPI tells what it did with each frame it takes.
pub struct Env<'a> {
    pub q: &'a mut EventQueue<Ev>,
    pub free: &'a mut Vec<Vec<u8>>,
    pub tap: Option<&'a mut dyn RxTap>,
}
