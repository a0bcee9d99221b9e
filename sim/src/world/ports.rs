//! The frames crossing each host's port on their way to observers.
//!
//! Owns [`Ports`]: the observer, and per host the frames it cannot be
//! handed yet. A received frame is handed over once NAPI has taken it from
//! the Rx ring, with what NAPI did (GRO merge, bad checksum: its
//! [`RxFate`]), unless that was known as it arrived
//! ([`crate::napi::foreseen`]); every frame that crossed the same port after
//! it waits behind it, so that each port's frames reach observers in the
//! order they crossed, each with all the model will know about it.
//!
//! A waiting received frame costs no copy: NAPI hands its bytes over as it
//! takes them ([`RxTap`]). A frame waiting behind one is copied into a
//! buffer of the port record's own (recycled, apart from the model's).
//!
//! Does not decide anything about frames: the world tells it what crossed,
//! NAPI what it did.

use std::collections::VecDeque;

use crate::engine::Nanos;
use crate::event::{Direction, Observer};
use crate::host::Host;
use crate::provenance::{FrameInfo, Rx, RxFate, RxTap};

/// A frame not yet handed to observers.
struct Held {
    time: Nanos,
    dir: Direction,
    /// Its bytes; empty for a received frame waiting in the Rx ring.
    bytes: Vec<u8>,
    info: FrameInfo,
}

/// The observer, and the frames of each port that wait for it.
pub(super) struct Ports<'o> {
    pub(super) obs: &'o mut dyn Observer,
    held: Vec<VecDeque<Held>>,
    spare: Vec<Vec<u8>>,
}

impl<'o> Ports<'o> {
    pub(super) fn new(obs: &'o mut dyn Observer, hosts: usize) -> Ports<'o> {
        Ports {
            obs,
            held: (0..hosts).map(|_| VecDeque::new()).collect(),
            spare: Vec::new(),
        }
    }

    /// A frame crossing host `h`'s port at `t`: handed over now, or held
    /// (a copy) behind a received frame NAPI has not taken yet; a received
    /// frame NAPI has yet to take waits for it (its bytes stay in the Rx
    /// ring).
    pub(super) fn cross(
        &mut self,
        h: usize,
        t: Nanos,
        dir: Direction,
        frame: &[u8],
        info: &FrameInfo,
    ) {
        let held = &mut self.held[h];
        let bytes = if info.pending() {
            Vec::new()
        } else if held.is_empty() {
            self.obs.frame(h, t, dir, frame, info);
            return;
        } else {
            let mut copy = self.spare.pop().unwrap_or_default();
            copy.clear();
            copy.extend_from_slice(frame);
            copy
        };
        held.push_back(Held {
            time: t,
            dir,
            bytes,
            info: *info,
        });
    }

    /// Hands host `h`'s held frames to observers up to the first still
    /// waiting for NAPI.
    fn release(&mut self, h: usize) {
        let held = &mut self.held[h];
        while let Some(f) = held.front_mut() {
            if f.info.pending() {
                return;
            }
            self.obs.frame(h, f.time, f.dir, &f.bytes, &f.info);
            self.spare.push(std::mem::take(&mut f.bytes));
            held.pop_front();
        }
    }

    /// The run is over: every held frame goes to observers; one NAPI never
    /// took says so, with its bytes from the Rx ring of `hosts`.
    pub(super) fn release_all(&mut self, hosts: &[Host]) {
        for (h, held) in self.held.iter_mut().enumerate() {
            while let Some(f) = held.pop_front() {
                let bytes = match f.info.rx {
                    Rx::Slot { slot, fate: None } => hosts[h].nic.rx.frame_at(slot),
                    _ => &f.bytes,
                };
                self.obs.frame(h, f.time, f.dir, bytes, &f.info);
            }
        }
    }
}

impl RxTap for Ports<'_> {
    fn taken(&mut self, h: usize, frame: &[u8], fate: RxFate) {
        // The oldest frame still waiting is the first held: NAPI takes
        // frames in the order they arrived. A fate for another slot is a
        // frame's whose fate was foreseen.
        let Some(f) = self.held[h].front_mut() else {
            return;
        };
        let slot = fate.slot;
        if f.info.rx != (Rx::Slot { slot, fate: None }) {
            return;
        }
        f.info.rx = Rx::Slot {
            slot,
            fate: Some(fate),
        };
        self.obs.frame(h, f.time, f.dir, frame, &f.info);
        self.held[h].pop_front();
        self.release(h);
    }
}
