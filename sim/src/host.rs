//! A host: the stages of the journey stacked on one machine, and the CPU
//! they share.
//!
//! Owns [`Host`]: from the top, the applications' sockets
//! ([`crate::socket::Socket`], each holding its application's state), the
//! TCP/IP stack ([`crate::stack`]), the driver ([`crate::driver`]), NAPI
//! ([`crate::napi`]) and the NIC ([`crate::nic`]), with the cable out of its
//! port ([`crate::wire::Link`]); its tally ([`crate::account`]); and its
//! [`Cpu`]: one core that runs application calls, interrupts and NAPI polls
//! one at a time, so that a CPU-bound host slows its flows.
//!
//! Does not route frames between hosts or decide when a stage runs: the
//! world ([`crate::world`]) does.

use smoltcp::wire::EthernetAddress;

use crate::account::Acct;
use crate::config::{HostConfig, Scenario};
use crate::cost::CostModel;
use crate::driver::{self, Driver};
use crate::engine::{Nanos, Rng};
use crate::napi::Napi;
use crate::nic::Nic;
use crate::schedule::{Env, Ev};
use crate::socket::{Lookup, Socket};
use crate::stack::Stack;
use crate::wire::Link;

/// A host's one CPU core.
#[derive(Debug, Default)]
pub struct Cpu {
    /// When the task running now ends.
    pub free: Nanos,
    /// Virtual time spent on modelled work.
    pub busy: Nanos,
}

impl Cpu {
    /// If the CPU is busy at `t`, when it is free: an event due at `t` waits
    /// until then.
    pub fn busy_at(&self, t: Nanos) -> Option<Nanos> {
        (self.free > t).then_some(self.free)
    }

    /// A task that started at `start` ended at `end`.
    pub fn end_task(&mut self, start: Nanos, end: Nanos) {
        self.busy += end - start;
        self.free = end;
    }
}

/// One simulated machine.
pub struct Host {
    pub id: u8,
    pub name: String,
    pub cfg: HostConfig,
    pub cost: CostModel,
    pub cpu: Cpu,
    pub acct: Acct,
    /// One entry per flow end on this host, in the order flows were opened.
    pub sockets: Vec<Socket>,
    /// The receiving sockets by ports.
    pub lookup: Lookup,
    pub stack: Stack,
    pub driver: Driver,
    pub napi: Napi,
    pub nic: Nic,
    /// The wire from this host's port (to the peer, or to the switch).
    pub link: Link,
    /// Verify checksums byte by byte on receive (only needed when the wire
    /// can corrupt frames; otherwise smoltcp's own check suffices).
    pub verify_rx: bool,
    /// An observer wants frames: the stages keep their provenance
    /// ([`crate::provenance`]).
    pub frames: bool,
}

/// The MAC address of host `id`: locally administered, unique per host.
pub fn mac(id: u8) -> EthernetAddress {
    EthernetAddress([0x02, 0, 0, 0, 0, id + 1])
}

impl Host {
    /// Host `id` of `sc` as `hc` describes it, its stack seeded from `rng`;
    /// with `events`, its tally keeps individual events for an observer.
    pub fn new(id: u8, hc: &HostConfig, sc: &Scenario, rng: &mut Rng, events: bool) -> Host {
        let stack = Stack::new(mac(id), hc, sc.link.mtu, rng);
        let rx_buf = (sc.link.mtu as usize + 14).next_power_of_two().max(2048);
        Host {
            id,
            name: hc.name.clone(),
            cfg: hc.clone(),
            cost: hc.cpu.clone(),
            cpu: Cpu::default(),
            acct: Acct::new(id, events),
            sockets: Vec::new(),
            lookup: Lookup::default(),
            stack,
            driver: Driver::default(),
            napi: Napi::default(),
            nic: Nic::new(hc.nic.tx_ring, hc.nic.rx_ring, rx_buf),
            link: Link::new(&sc.link),
            verify_rx: sc.link.faults.corrupt > 0.0,
            frames: false,
        }
    }

    /// A TCP socket with this host's buffer sizes and options, for a flow
    /// that carries `carries` bytes each way.
    pub fn add_socket(&mut self, carries: u64) -> smoltcp::iface::SocketHandle {
        let gro = self.cfg.nic.offloads.gro;
        self.stack.add_socket(&self.cfg.socket, gro, carries)
    }

    /// Before the run: the driver fills the Rx ring (no CPU charged) and
    /// the stack is due for its first poll at time 0.
    pub fn start(&mut self, env: &mut Env) {
        driver::rx_refill(self, env.free, &mut 0, false);
        env.q.push(0, Ev::Poll { host: self.id });
        self.stack.poll_at = Some(0);
    }
}
