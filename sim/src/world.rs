//! The world: hosts, the wires and switch between them, and the event loop.
//!
//! Owns the run: the virtual clock and its event queue, the one RNG, the
//! hosts, the flows, the frames on the wire, and the routing of every event
//! to the stage it wakes: an application's call, a stack timer, a NIC
//! departure, a frame's arrival at a port or at the switch, an interrupt, a
//! NAPI poll. Two hosts without a `[switch]` share one direct wire (each
//! host's [`crate::wire::Link`] leads to the other); with a switch each
//! host's link leads to it and its egress ports lead to the hosts. With
//! `[tap]` ([`World::run_external`], in `world/wall_clock.rs`) one host is absent:
//! the other's port sends to and receives from an
//! [`crate::external::ExternalPort`] on its wall clock.
//!
//! Does not do any stage's work: every stage lives with its data (see the
//! crate's module list, in the order a byte meets them). Does no I/O:
//! frames and events go to the [`Observer`], real frames to and from the
//! external port.

use std::fmt;

use crate::app::{receiver, sender};
use crate::config::{ConfigError, Scenario};
use crate::engine::{EventQueue, Nanos, Rng};
use crate::event::{Direction, Observer};
use crate::flow::{self, Flow};
use crate::host::Host;
use crate::provenance::{self, FrameInfo, Origin, Rx, RxTap};
use crate::report::{self, Outcome, RunReport};
use crate::sample::Sample;
use crate::schedule::{Env, Ev};
use crate::socket::End;
use crate::switch::{Route, Switch};
use crate::wire::{InFlight, Verdict};
use crate::{napi, nic, stack};

mod ports;
mod wall_clock;

use ports::Ports;

/// Why a run could not start.
#[derive(Debug)]
pub enum RunError {
    Config(ConfigError),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Config(e) => write!(f, "invalid scenario: {e}"),
        }
    }
}

impl std::error::Error for RunError {}

impl From<ConfigError> for RunError {
    fn from(e: ConfigError) -> Self {
        RunError::Config(e)
    }
}

/// How much work a run may do, whatever its input: a run that passes a
/// bound stops with outcome `work_limit` and says which, so no scenario
/// can make simnet spin or run for unbounded wall time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkBound {
    /// Events without virtual time moving. Far above any burst a real
    /// stage makes at one instant (a NAPI poll of 4,096 frames, 64 hosts'
    /// flows starting together); a model that spins (a bug) meets it within
    /// a fraction of a second of wall time.
    pub per_instant: u64,
    /// Events in all: this allowance, plus `per_ns` per nanosecond of
    /// virtual time.
    pub allowance: u64,
    /// Events per nanosecond of virtual time a run may average beyond the
    /// allowance: the busiest runs measured (1 MiB in 1-byte
    /// `io_uring_send_zc` writes) average 0.01, the bundled scenarios 0.002
    /// to 0.003; the default, 1, is 100 times the busiest. So a run's work
    /// is bounded by its `time_limit` whatever the costs.
    pub per_ns: u64,
}

impl Default for WorkBound {
    fn default() -> Self {
        WorkBound {
            per_instant: 1 << 20,
            allowance: 1 << 24,
            per_ns: 1,
        }
    }
}

/// Where a frame on a wire is going.
#[derive(Clone, Copy)]
enum Dest {
    Host(usize),
    Switch { from: usize },
}

/// A scenario assembled and ready to run.
pub struct World<'o> {
    scenario: Scenario,
    now: Nanos,
    q: EventQueue<Ev>,
    rng: Rng,
    hosts: Vec<Host>,
    flows: Vec<Flow>,
    switch: Option<Switch>,
    /// Recycled frame buffers.
    free: Vec<Vec<u8>>,
    wire: InFlight,
    /// The observer, and the frames each port holds for it.
    ports: Ports<'o>,
    want_frames: bool,
    /// Check ring ownership invariants after every event (tests).
    pub check_invariants: bool,
    /// The most work the run may do.
    pub work_bound: WorkBound,
    /// Tell observers a received frame's NAPI fate as it arrives when it
    /// is already known ([`napi::foreseen`]); off only to test that.
    foresee: bool,
    /// With `[tap]`: the absent host, whose part a real peer plays.
    kernel_host: Option<usize>,
    /// Frames the bridged port put on the real wire, not yet handed over.
    to_port: Vec<Vec<u8>>,
    port_error: Option<String>,
    /// Events processed so far.
    events: u64,
    /// Which flows have finished, and how many have not.
    finished: Vec<bool>,
    unfinished: usize,
    /// Why the run stopped, beyond its outcome.
    why: Option<String>,
    /// When the observer's next sample is due (`Nanos::MAX`: it wants none).
    next_sample: Nanos,
    /// The gauges handed to the observer, reused for every sample.
    sample: Sample,
    /// Copies of departing frames parked in `wire` until their capture
    /// time: not frames in flight.
    parked_captures: u64,
}

/// A frame reaching host `h`'s port at `t`, as observers are told of it
/// (`info`, what the model knew of it so far, is completed in place): where
/// the NIC will put it, and what NAPI will do with it when that is known
/// already ([`napi::foreseen`], with `foresee`); `host` is host `h`.
#[inline(never)]
fn arriving(
    ports: &mut Ports,
    host: &Host,
    foresee: bool,
    (h, t): (usize, Nanos),
    frame: &[u8],
    info: &mut FrameInfo,
) {
    info.rx = match nic::rx_slot(host, frame.len()) {
        Some(slot) => {
            let known = foresee && info.origin == Origin::Model;
            let fate = known.then(|| napi::foreseen(host, slot, frame)).flatten();
            Rx::Slot { slot, fate }
        }
        None => Rx::RingDrop,
    };
    ports.cross(h, t, Direction::In, frame, info);
}

/// Descriptor ownership is checked every this many events (and at the
/// end): each check walks the rings, so this keeps it well under one
/// descriptor per event.
const RING_CHECK_EVERY: u64 = 1 << 16;

/// Runs a scenario to completion.
pub fn run(scenario: &Scenario, obs: &mut dyn Observer) -> Result<RunReport, RunError> {
    if scenario.tap.is_some() {
        return Err(RunError::Config(ConfigError::at(
            "tap",
            "a [tap] scenario runs against a real network: use World::run_external with a port",
        )));
    }
    let mut w = World::new(scenario, obs)?;
    Ok(w.run())
}

impl<'o> World<'o> {
    pub fn new(scenario: &Scenario, obs: &'o mut dyn Observer) -> Result<World<'o>, RunError> {
        scenario.validate()?;
        let mut rng = Rng::new(scenario.seed);
        let events = obs.wants_events();
        let frames = obs.wants_frames();
        let mut hosts: Vec<Host> = (scenario.hosts.iter().enumerate())
            .map(|(i, hc)| Host::new(i as u8, hc, scenario, &mut rng, events))
            .collect();
        let flows = flow::open(scenario, &mut hosts, &mut rng)?;
        for h in hosts.iter_mut().filter(|_| frames) {
            h.frames = true;
            for sock in &mut h.sockets {
                if let End::Send(s) = &mut sock.end {
                    s.calls.enable();
                }
            }
        }
        let switch = (scenario.switch.as_ref())
            .map(|s| Switch::new(s, &scenario.link, scenario.hosts.len()));
        let mut w = World {
            scenario: scenario.clone(),
            now: 0,
            q: EventQueue::default(),
            rng,
            hosts,
            flows,
            switch,
            free: Vec::new(),
            wire: InFlight::default(),
            want_frames: frames,
            ports: Ports::new(obs, scenario.hosts.len()),
            check_invariants: false,
            work_bound: WorkBound::default(),
            foresee: true,
            kernel_host: scenario.tap_hosts().map(|t| t.1),
            to_port: Vec::new(),
            port_error: None,
            events: 0,
            why: None,
            finished: vec![false; scenario.flows.len()],
            unfinished: scenario.flows.len(),
            next_sample: Nanos::MAX,
            sample: Sample::default(),
            parked_captures: 0,
        };
        if w.ports.obs.sample_every().is_some() {
            w.next_sample = 0;
        }
        let mut env = Env {
            q: &mut w.q,
            free: &mut w.free,
            tap: None,
        };
        for (h, host) in w.hosts.iter_mut().enumerate() {
            if w.kernel_host != Some(h) {
                host.start(&mut env); // the absent host's sockets never run
            }
        }
        for (f, fl) in w.flows.iter().enumerate() {
            if w.kernel_host != Some(fl.to) {
                let flow = f as u16; // the real peer reads for itself
                env.q.push(0, Ev::App { flow, recv: true });
            }
        }
        Ok(w)
    }

    /// Replaces the buffer flow `flow`'s receiver reads into with a kind of
    /// the caller's (see [`crate::buffer::ReceiveBuffer`]).
    pub fn set_receive_buffer(
        &mut self,
        flow: usize,
        buffer: Box<dyn crate::buffer::ReceiveBuffer>,
    ) -> Result<(), RunError> {
        let fl = self
            .flows
            .get(flow)
            .ok_or_else(|| ConfigError::new(format!("there is no flow {flow}")))?;
        let sock = &mut self.hosts[fl.to].sockets[fl.recv_sock];
        sock.end.receiver_mut().dynamic = Some(buffer);
        Ok(())
    }

    /// Schedules `frame` to reach host `h`'s port at `at`, as if a wire had
    /// carried it there: it then takes the route every arriving frame takes
    /// (observer, NIC Rx ring, DMA, interrupt, NAPI, GRO, stack, socket).
    /// For fuzzers and tests ([`crate::harness`]); call before [`World::run`].
    /// Panics if there is no host `h`.
    pub fn inject_arrival(&mut self, h: usize, at: Nanos, frame: Vec<u8>) {
        assert!(h < self.hosts.len(), "no host {h}");
        let info = FrameInfo::injected();
        self.schedule_arrival(Dest::Host(h), at, frame, Some(&info));
    }

    /// Frames still crossing a link (to a host's port or to the switch),
    /// and copies waiting to be captured: after [`World::run`], what the
    /// run's end left on the wires.
    pub fn frames_on_wires(&self) -> usize {
        self.wire.len()
    }

    /// Runs until every flow is done, nothing is left to do, or the time
    /// limit is reached.
    pub fn run(&mut self) -> RunReport {
        let expected = report::expected_hashes(&self.flows, &self.hosts);
        if self.kernel_host.is_some() {
            // Half the scenario is a real kernel: see `run_external`.
            return self.report(Outcome::PortError, &expected.join().unwrap_or_default());
        }
        let limit = self.scenario.time_limit;
        let mut outcome = None;
        let mut instant = (0, 0); // (time, events at that time)
        while let Some((t, ev)) = self.q.pop() {
            if let Ev::Capture { host, slot } = ev {
                // Not part of the model: it moves neither the clock, nor the
                // event count, nor the end of the run (a run without
                // captures must end alike).
                self.capture(host as usize, slot, t, limit);
                continue;
            }
            self.events += 1;
            if t > limit {
                self.now = limit;
                outcome = Some(Outcome::TimeLimit);
                break;
            }
            if t >= self.next_sample {
                self.take_sample(t);
            }
            self.now = t;
            instant = if instant.0 == t {
                (t, instant.1 + 1)
            } else {
                (t, 1)
            };
            if let Some(why) = self.work_bound(instant.1) {
                self.why = Some(why);
                outcome = Some(Outcome::WorkLimit);
                break;
            }
            let app = match ev {
                Ev::App { flow, .. } => Some(flow as usize),
                _ => None,
            };
            self.dispatch(t, ev);
            self.flush_events();
            if self.check_invariants || self.events.is_multiple_of(RING_CHECK_EVERY) {
                if let Err(why) = self.check_rings() {
                    self.why = Some(why);
                    outcome = Some(Outcome::Invariant);
                    break;
                }
            }
            // Only a flow's application steps can finish it, and once
            // finished it stays so: one flow to look at, not all of them.
            if let Some(f) = app {
                if !self.finished[f] && self.flows[f].done(&self.hosts) {
                    self.finished[f] = true;
                    self.unfinished -= 1;
                }
                if self.unfinished == 0 {
                    break;
                }
            }
        }
        let outcome = outcome.unwrap_or(if self.unfinished == 0 {
            Outcome::Ok
        } else {
            Outcome::Stalled
        });
        if !matches!(outcome, Outcome::TimeLimit | Outcome::WorkLimit) {
            // The run ends when the work does: the last call returns (or a
            // poll on another host finishes) after the event that started it.
            let cpus = self.hosts.iter().map(|h| h.cpu.free);
            self.now = cpus.fold(self.now, Nanos::max);
        }
        self.last_sample();
        let expected = expected.join().unwrap_or_default();
        self.report(outcome, &expected)
    }

    /// The observer's sample due at `self.next_sample`, before the events
    /// at `t` (at or past it) run: nothing changed in between, so one
    /// sample stands for the stretch, and the next is due at the first
    /// multiple of the interval after `t`.
    #[cold]
    fn take_sample(&mut self, t: Nanos) {
        let at = self.next_sample;
        self.sample_now(at);
        self.next_sample = match self.ports.obs.sample_every() {
            Some(every) => {
                let every = every.max(1);
                (t / every).saturating_add(1).saturating_mul(every)
            }
            None => Nanos::MAX,
        };
    }

    /// The observer's last sample, when the run has ended (at `self.now`).
    fn last_sample(&mut self) {
        if self.next_sample != Nanos::MAX {
            self.sample_now(self.now);
            self.next_sample = Nanos::MAX;
        }
    }

    fn sample_now(&mut self, at: Nanos) {
        let frames = (self.wire.len() as u64).saturating_sub(self.parked_captures);
        self.sample.fill(at, &self.hosts, &self.flows, frames);
        self.ports.obs.sample(&self.sample);
    }

    /// Whether every flow has finished (looked at afresh: the wall-clock
    /// loop's test). With a real peer, simnet's sockets
    /// must also have had everything acknowledged and their FIN sent and
    /// acknowledged, or the peer could miss the end of a stream.
    fn all_done(&self) -> bool {
        let hosts = &self.hosts;
        let Some(k) = self.kernel_host else {
            return self.flows.iter().all(|f| f.done(hosts));
        };
        self.flows.iter().all(|fl| {
            let (host, sock, app_done) = if fl.from == k {
                let r = fl.receiver(hosts);
                (fl.to, fl.recv_sock, r.done() && r.closed)
            } else if fl.to == k {
                (fl.from, fl.send_sock, fl.sender(hosts).done())
            } else {
                return fl.done(hosts);
            };
            let handle = hosts[host].sockets[sock].handle;
            app_done && stack::delivered_and_closed(hosts[host].stack.socket_ref(handle))
        })
    }

    fn flush_events(&mut self) {
        for h in &mut self.hosts {
            h.acct.flush(&mut *self.ports.obs);
        }
    }

    /// Every descriptor has exactly one owner.
    fn check_rings(&self) -> Result<(), String> {
        for h in &self.hosts {
            if let Err(e) = h.nic.tx.check_ownership().and(h.nic.rx.check_ownership()) {
                return Err(format!("descriptor ownership broken on {}: {e}", h.name));
            }
        }
        Ok(())
    }

    /// Why the run must stop for doing too much work, if it must:
    /// `at_instant` events have run at the current time.
    fn work_bound(&self, at_instant: u64) -> Option<String> {
        let b = self.work_bound;
        if at_instant > b.per_instant {
            return Some(format!(
                "{at_instant} events at {} ns without virtual time moving: the model is \
                 spinning (a bug in simnet; please report it with the scenario)",
                self.now
            ));
        }
        let allowed = b
            .allowance
            .saturating_add(self.now.saturating_mul(b.per_ns));
        (self.events > allowed).then(|| {
            format!(
                "{} events by {} ns of virtual time: more than the bound of {} plus {} per \
                 nanosecond, 100 times the busiest workload measured. Stopped so that no \
                 input makes a run take unbounded time; tiny writes with near-zero costs do \
                 this (raise `write_size` or the costs)",
                self.events, self.now, b.allowance, b.per_ns
            )
        })
    }

    /// Runs the event due at `t` on the stage it wakes. A CPU-bound event
    /// (a call, a poll, an interrupt) waits while its host's CPU is busy.
    fn dispatch(&mut self, t: Nanos, ev: Ev) {
        let h = match ev {
            Ev::App { flow, recv } => {
                let fl = &self.flows[flow as usize];
                if recv {
                    fl.to
                } else {
                    fl.from
                }
            }
            Ev::Poll { host } | Ev::Irq { host } | Ev::Napi { host } => host as usize,
            Ev::NicTx { host } => return self.depart(host as usize, t),
            Ev::Arrive { host, slot } => {
                let (h, frame) = (host as usize, self.wire.take(slot));
                if self.want_frames {
                    // What the wire carried with it, read in place.
                    let info = self.wire.info_mut(slot);
                    arriving(
                        &mut self.ports,
                        &self.hosts[h],
                        self.foresee,
                        (h, t),
                        &frame,
                        info,
                    );
                }
                return self.arrive(h, t, frame);
            }
            Ev::SwitchIn { from, slot } => return self.switch_in(from as usize, slot, t),
            Ev::Capture { host, slot } => return self.capture(host as usize, slot, t, Nanos::MAX),
        };
        let host = &mut self.hosts[h];
        let tap: Option<&mut dyn RxTap> = match self.want_frames {
            true => Some(&mut self.ports),
            false => None,
        };
        let mut env = Env {
            q: &mut self.q,
            free: &mut self.free,
            tap,
        };
        let busy = host.cpu.busy_at(t);
        let mut c = t;
        match ev {
            Ev::Poll { .. } if host.stack.poll_at != Some(t) => return, // superseded
            Ev::Irq { .. } => {
                host.nic.irq_scheduled = false;
                if !napi::irq_unmasked(host) {
                    return; // NAPI is running and will see the work
                }
            }
            _ => {}
        }
        if let Some(free) = busy {
            match ev {
                Ev::Poll { .. } => host.stack.poll_at = Some(free),
                Ev::Irq { .. } => host.nic.irq_scheduled = true,
                _ => {}
            }
            env.q.push(free, ev);
            return;
        }
        match ev {
            Ev::App { flow, recv } => {
                let fl = &mut self.flows[flow as usize];
                if recv {
                    receiver::step(host, &mut env, fl.recv_sock, &mut fl.track, &mut c);
                } else {
                    sender::step(host, &mut env, fl.send_sock, &mut fl.track, &mut c);
                }
            }
            Ev::Poll { .. } => {
                host.stack.poll_at = None;
                stack::poll(host, &mut env, &mut c);
            }
            Ev::Irq { .. } => napi::interrupt(host, &mut env, &mut c),
            _ => napi::poll(host, &mut env, &mut c),
        }
        host.cpu.end_task(t, c);
    }

    /// The frame at the head of host `h`'s Tx FIFO leaves its port at `t`
    /// and goes onto its link.
    fn depart(&mut self, h: usize, t: Nanos) {
        let Some(frame) = nic::depart(&mut self.hosts[h], t) else {
            return;
        };
        let verdict = self.hosts[h].link.send(t, frame.len(), &mut self.rng);
        let dest = match self.switch {
            Some(_) => Dest::Switch { from: h },
            None => Dest::Host(1 - h),
        };
        let info = if self.want_frames {
            Some(self.departing(h, t, verdict, &frame, dest))
        } else {
            None
        };
        self.launch(verdict, frame, dest, info.as_ref());
        let mut env = Env {
            q: &mut self.q,
            free: &mut self.free,
            tap: None,
        };
        nic::fill(&mut self.hosts[h], &mut env, t);
    }

    /// What the model knows of a frame leaving host `h`'s port at `t`,
    /// captured (while observers want frames).
    #[inline(never)]
    fn departing(
        &mut self,
        h: usize,
        t: Nanos,
        verdict: Verdict,
        frame: &[u8],
        dest: Dest,
    ) -> FrameInfo {
        let (tag, rewritten) = nic::departed_tag(&mut self.hosts[h]);
        let info = FrameInfo {
            wire: verdict.fate(),
            ..provenance::sent(&self.hosts[h], &tag, rewritten)
        };
        self.capture_out(h, t, verdict, frame, dest, &info);
        info
    }

    /// A departing frame, as host `h`'s port sees it: recorded when its
    /// first bit crosses, after whatever waited before it in the queue in
    /// front of the wire (a copy waits for that moment in the event queue);
    /// not at all if that queue dropped it. A frame for the real wire
    /// crosses when it is handed to the port. So each capture file's
    /// stamps never go backwards.
    fn capture_out(
        &mut self,
        h: usize,
        t: Nanos,
        verdict: Verdict,
        frame: &[u8],
        dest: Dest,
        info: &FrameInfo,
    ) {
        let start = match verdict {
            Verdict::QueueDrop => return,
            Verdict::Lost { start } | Verdict::Deliver { start, .. } => start,
        };
        if start <= t || self.is_real(dest) {
            // On the wall clock, `now` may be past `t` (a frame that came
            // in late was stamped then).
            self.ports
                .cross(h, t.max(self.now), Direction::Out, frame, info);
            return;
        }
        let mut copy = self.free.pop().unwrap_or_default();
        copy.clear();
        copy.extend_from_slice(frame);
        let slot = self.wire.put_with(copy, info);
        self.parked_captures += 1;
        self.q.push(
            start,
            Ev::Capture {
                host: h as u8,
                slot,
            },
        );
    }

    /// A queued frame's first bit leaves host `h`'s port at `t`: captures
    /// record it, unless the run ended first (at `limit`).
    fn capture(&mut self, h: usize, slot: u32, t: Nanos, limit: Nanos) {
        let info = self.wire.info(slot);
        let frame = self.wire.take(slot);
        self.parked_captures -= 1;
        if t <= limit {
            self.ports.cross(h, t, Direction::Out, &frame, &info);
        }
        self.free.push(frame);
    }

    /// Whether `dest` is the real kernel's absent host (a TAP run).
    fn is_real(&self, dest: Dest) -> bool {
        matches!(dest, Dest::Host(p) if self.kernel_host == Some(p))
    }

    /// A frame the wire has accepted travels to `dest`, as the verdict says
    /// (lost, corrupted, duplicated); frames for the real kernel's absent
    /// host go to the external port now.
    fn launch(
        &mut self,
        verdict: Verdict,
        mut frame: Vec<u8>,
        dest: Dest,
        info: Option<&FrameInfo>,
    ) {
        let Verdict::Deliver {
            arrive,
            corrupt_bit,
            duplicate_at,
            ..
        } = verdict
        else {
            self.free.push(frame); // dropped in the queue or lost
            return;
        };
        if let Some(bit) = corrupt_bit {
            frame[(bit / 8) as usize] ^= 1 << (bit % 8);
        }
        // The real wire (a TAP device): frames leave now; the peer's kernel
        // sees them when the device hands them over.
        let real = self.is_real(dest);
        if let Some(at) = duplicate_at {
            let mut dup = self.free.pop().unwrap_or_default();
            dup.clear();
            dup.extend_from_slice(&frame);
            if real {
                self.to_port.push(dup);
            } else {
                let copy = info.map(|i| FrameInfo {
                    wire: provenance::WireFate {
                        duplicated: false,
                        duplicate_copy: true,
                        ..i.wire
                    },
                    ..*i
                });
                self.schedule_arrival(dest, at, dup, copy.as_ref());
            }
        }
        if real {
            self.to_port.push(frame);
        } else {
            self.schedule_arrival(dest, arrive, frame, info);
        }
    }

    fn schedule_arrival(
        &mut self,
        dest: Dest,
        at: Nanos,
        frame: Vec<u8>,
        info: Option<&FrameInfo>,
    ) {
        let slot = match info.filter(|_| self.want_frames) {
            Some(info) => self.wire.put_with(frame, info),
            None => self.wire.put(frame),
        };
        let ev = match dest {
            Dest::Host(h) => Ev::Arrive {
                host: h as u8,
                slot,
            },
            Dest::Switch { from } => Ev::SwitchIn {
                from: from as u8,
                slot,
            },
        };
        self.q.push(at, ev);
    }

    /// A frame's last bit reaches host `h`'s port at `t` (observers have
    /// been told: [`arriving`]).
    fn arrive(&mut self, h: usize, t: Nanos, frame: Vec<u8>) {
        let mut env = Env {
            q: &mut self.q,
            free: &mut self.free,
            tap: None,
        };
        nic::receive(&mut self.hosts[h], &mut env, t, frame);
    }

    /// A frame from host `from` is wholly in the switch at `t`: it is
    /// forwarded to its destination's port (or flooded), each copy queued
    /// behind that port's earlier frames.
    fn switch_in(&mut self, from: usize, slot: u32, t: Nanos) {
        let info = self.want_frames.then(|| self.wire.info(slot));
        let frame = self.wire.take(slot);
        // What the second wire does is added to what the first did.
        let onward = |verdict: Verdict| {
            info.map(|info| {
                let next = verdict.fate();
                let wire = provenance::WireFate {
                    duplicated: info.wire.duplicated || next.duplicated,
                    reordered: info.wire.reordered || next.reordered,
                    corrupt_bit: next.corrupt_bit.or(info.wire.corrupt_bit),
                    ..info.wire
                };
                FrameInfo { wire, ..info }
            })
        };
        let sw = self.switch.as_mut().expect("a switch");
        match sw.route(&frame) {
            Route::Port(p) => {
                let verdict = sw.forward(p, t, frame.len(), &mut self.rng);
                let info = onward(verdict);
                self.launch(verdict, frame, Dest::Host(p), info.as_ref());
            }
            Route::Flood => {
                for p in (0..self.hosts.len()).filter(|&p| p != from) {
                    let sw = self.switch.as_mut().expect("a switch");
                    let verdict = sw.forward(p, t, frame.len(), &mut self.rng);
                    let mut copy = self.free.pop().unwrap_or_default();
                    copy.clear();
                    copy.extend_from_slice(&frame);
                    let info = onward(verdict);
                    self.launch(verdict, copy, Dest::Host(p), info.as_ref());
                }
                self.free.push(frame);
            }
        }
    }

    /// The report; `expected[i]` is the hash of flow `i`'s whole stream.
    /// A run that finished checks its invariants first: a broken one is
    /// the outcome.
    fn report(&mut self, outcome: Outcome, expected: &[u64]) -> RunReport {
        self.ports.release_all(&self.hosts);
        let mut outcome = outcome;
        if let Err(why) = self.check_rings() {
            outcome = Outcome::Invariant;
            self.why = Some(why);
        }
        let mut r = report::build(
            report::Run {
                scenario: &self.scenario,
                now: self.now,
                hosts: &self.hosts,
                flows: &self.flows,
                switch: self.switch.as_ref(),
                kernel_host: self.kernel_host,
            },
            outcome,
            expected,
        );
        if r.outcome == Outcome::Ok {
            if let Some(why) = report::broken_invariant(&r) {
                r.outcome = Outcome::Invariant;
                self.why = Some(why);
            }
        }
        r.events = self.events;
        r.why = self.why.take();
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::*;
    use crate::event::{CpuCategory, Event, Kind, NoObserver, Step};
    use crate::frame;
    use crate::report::{Outcome, RunReport};

    fn scenario(bytes: u64, write_size: u32, send: SendPath) -> Scenario {
        Scenario::two_hosts(bytes, write_size, send)
    }

    #[test]
    fn a_run_past_its_work_bound_stops_and_says_why() {
        let sc = scenario(1 << 20, 1024, SendPath::Write);
        let mut obs = NoObserver;
        let mut w = World::new(&sc, &mut obs).unwrap();
        w.work_bound = WorkBound {
            per_instant: u64::MAX,
            allowance: 500,
            per_ns: 0,
        };
        let r = w.run();
        assert_eq!(r.outcome, Outcome::WorkLimit);
        assert_eq!(r.events, 501);
        assert!(
            r.why.as_deref().is_some_and(|w| w.contains("501 events")),
            "{:?}",
            r.why
        );
        // Everything at time 0 is one instant: the spin check.
        let mut w = World::new(&sc, &mut obs).unwrap();
        w.work_bound.per_instant = 1;
        let r = w.run();
        assert_eq!(r.outcome, Outcome::WorkLimit);
        assert!(r
            .why
            .as_deref()
            .is_some_and(|w| w.contains("without virtual time moving")));
    }

    #[test]
    fn the_default_work_bound_leaves_real_runs_alone() {
        let mut sc = scenario(1 << 20, 1, SendPath::MsgZerocopy);
        sc.flows[0].buffer.pool = PoolKind::ThreadLocal; // a million sends in flight
        let r = run(&sc, &mut NoObserver).unwrap();
        assert_eq!(r.outcome, Outcome::Ok, "{:?}", r.why);
        assert!(r.events < r.simulated_ns / 10, "{} events", r.events);
    }

    #[test]
    fn copy_path_delivers_every_byte_and_copies_each_twice() {
        let r = run(&scenario(1 << 20, 65536, SendPath::Write), &mut NoObserver).unwrap();
        assert_eq!(r.outcome, Outcome::Ok, "{r:#?}");
        let f = &r.flows[0];
        assert_eq!((f.bytes_sent, f.bytes_received), (1 << 20, 1 << 20));
        assert!(f.integrity_ok());
        let s = &r.hosts[0];
        assert_eq!(s.counters.get(Step::CopyFromUser).bytes, 1 << 20);
        assert_eq!(r.hosts[1].counters.get(Step::CopyToUser).bytes, 1 << 20);
        assert_eq!(s.pinned_pages(), 0);
    }

    #[test]
    fn zero_copy_path_pins_and_unpins_every_page() {
        let r = run(
            &scenario(1 << 20, 65536, SendPath::MsgZerocopy),
            &mut NoObserver,
        )
        .unwrap();
        assert_eq!(r.outcome, Outcome::Ok, "{r:#?}");
        let s = &r.hosts[0];
        assert_eq!(s.counters.get(Step::CopyFromUser).bytes, 0);
        assert!(s.pinned_pages() >= 256);
        assert_eq!(s.pinned_pages(), s.unpinned_pages());
        // 16 sends, each a new notification or joined to the previous one
        // (msg_zerocopy_realloc); one completion per notification.
        let alloc = s.counters.get(Step::ZerocopyAlloc).count;
        assert_eq!(alloc + s.counters.get(Step::ZerocopyExtend).count, 16);
        assert_eq!(s.completions(), alloc);
        assert_eq!(s.leaked_buffers, 0);
    }

    #[test]
    fn faults_are_recovered_and_queues_drain() {
        let mut sc = scenario(4 << 20, 65536, SendPath::MsgZerocopy);
        sc.link.faults = Faults {
            loss: 0.003,
            duplicate: 0.01,
            reorder: 0.01,
            reorder_delay: 50_000,
            corrupt: 0.003,
        };
        // smoltcp's minimum RTO is 1 s (RFC 6298): losses cost virtual time.
        sc.time_limit = 600_000_000_000;
        let mut obs = NoObserver;
        let mut w = World::new(&sc, &mut obs).unwrap();
        w.check_invariants = true;
        let r = w.run();
        assert_eq!(r.outcome, Outcome::Ok, "{r:#?}");
        assert!(r.flows[0].integrity_ok());
        assert!(r.flows[0].retransmitted_segments > 0);
        assert!(r.wire.dropped > 0 && r.wire.corrupted > 0 && r.wire.duplicated > 0);
        let rx = &r.hosts[1].counters;
        assert!(rx.get(Step::RxBadChecksum).count > 0, "corruption caught");
        assert!(rx.get(Step::RxOutOfOrder).count > 0);
        assert!(rx.get(Step::RxDuplicate).count > 0);
        // Every sk_buff freed, every page reference dropped.
        assert!(w.flows[0].receiver(&w.hosts).rcv_queue.is_empty());
        assert!(w.flows[0].sender(&w.hosts).write_queue.is_empty());
        let tx = &r.hosts[0].counters;
        assert_eq!(
            tx.get(Step::SkbAlloc).count,
            tx.get(Step::SkbFreeAcked).count,
            "every sk_buff allocated is freed"
        );
        assert_eq!(r.hosts[0].pinned_pages(), r.hosts[0].unpinned_pages());
        assert!(
            rx.get(Step::RxSkbFree).count > 2800,
            "a 4 MiB stream is ~2900 skbs"
        );
    }

    /// Checks every frame that crosses the wire.
    struct WireChecker {
        frames: u64,
        bad: u64,
    }

    impl Observer for WireChecker {
        fn wants_frames(&self) -> bool {
            true
        }
        fn frame(&mut self, _: usize, _: Nanos, _: Direction, frame: &[u8], _: &FrameInfo) {
            self.frames += 1;
            if !frame::checksums_ok(frame) {
                self.bad += 1;
            }
        }
    }

    #[test]
    fn checksum_offload_moves_the_work_to_the_nic_and_frames_stay_valid() {
        for send in [SendPath::Write, SendPath::MsgZerocopy] {
            let mut sc = scenario(1 << 20, 65536, send);
            for h in &mut sc.hosts {
                h.nic.offloads.tx_checksum = true;
                h.nic.offloads.rx_checksum = true;
            }
            let mut obs = WireChecker { frames: 0, bad: 0 };
            let r = run(&sc, &mut obs).unwrap();
            assert_eq!(r.outcome, Outcome::Ok);
            assert!(obs.frames > 700);
            assert_eq!(obs.bad, 0, "the NIC filled every checksum");
            for h in &r.hosts {
                assert_eq!(h.checksum_cpu_bytes(), 0);
                assert_eq!(h.counters.get(Step::ZerocopyChecksumCopy).count, 0);
            }
            assert!(r.hosts[0].counters.get(Step::TxChecksumOffload).bytes > 1 << 20);
            assert!(r.hosts[1].counters.get(Step::RxChecksumOffload).bytes > 1 << 20);
        }
    }

    #[test]
    fn software_checksum_of_zero_copy_frags_copies_them_first() {
        let r = run(
            &scenario(1 << 20, 65536, SendPath::MsgZerocopy),
            &mut NoObserver,
        )
        .unwrap();
        let s = &r.hosts[0];
        assert_eq!(s.counters.get(Step::ZerocopyChecksumCopy).bytes, 1 << 20);
        assert_eq!(s.counters.get(Step::CopyFromUser).bytes, 0);
        assert!(s.checksum_cpu_bytes() > 1 << 20);
    }

    /// Sums events per step, as a trace would see them.
    struct EventTally {
        counts: Vec<u64>,
    }

    impl Observer for EventTally {
        fn wants_events(&self) -> bool {
            true
        }
        fn event(&mut self, e: &Event) {
            self.counts[e.step as usize] += e.count;
        }
    }

    #[test]
    fn observers_see_every_counted_event() {
        let sc = scenario(1 << 20, 65536, SendPath::MsgZerocopy);
        let mut obs = EventTally {
            counts: vec![0; Step::COUNT],
        };
        let r = run(&sc, &mut obs).unwrap();
        for &step in Step::ALL {
            let counted: u64 = r.hosts.iter().map(|h| h.counters.get(step).count).sum();
            assert_eq!(obs.counts[step as usize], counted, "{step:?}");
        }
        assert!(obs.counts[Step::GetUserPages as usize] > 0);
    }

    /// The first data frame the receiver got, and when.
    struct FirstData(Option<(Nanos, Vec<u8>)>);

    impl Observer for FirstData {
        fn wants_frames(&self) -> bool {
            true
        }
        fn frame(&mut self, host: usize, t: Nanos, dir: Direction, f: &[u8], _: &FrameInfo) {
            let data = frame::tcp_segment(f).is_some_and(|g| g.payload_len > 0);
            if self.0.is_none() && host == 1 && dir == Direction::In && data {
                self.0 = Some((t, f.to_vec()));
            }
        }
    }

    #[test]
    fn a_segment_for_another_address_is_not_the_sockets() {
        let sc = scenario(256 << 10, 65536, SendPath::Write);
        let mut first = FirstData(None);
        run(&sc, &mut first).unwrap();
        let (t, mut forged) = first.0.expect("data arrived");
        // The same segment, addressed to 192.168.69.3, just before it.
        forged[33] = 3;
        frame::fill_checksums(&mut forged);
        let mut obs = NoObserver;
        let mut w = World::new(&sc, &mut obs).unwrap();
        w.inject_arrival(1, t - 2_000, forged);
        let r = w.run();
        assert_eq!(r.outcome, Outcome::Ok);
        // smoltcp dropped it; the socket layer must not have taken its
        // bytes, or the real segment would count as a duplicate.
        assert_eq!(r.hosts[1].counters.get(Step::RxDuplicate).count, 0);
    }

    #[test]
    fn header_split_writes_headers_and_payload_apart() {
        let mut sc = scenario(1 << 20, 65536, SendPath::Write);
        sc.hosts[1].nic.header_split = true;
        let r = run(&sc, &mut NoObserver).unwrap();
        assert_eq!(r.outcome, Outcome::Ok);
        let rx = &r.hosts[1].counters;
        assert_eq!(rx.get(Step::HeaderSplit).count, rx.get(Step::WireRx).count);
        assert_eq!(r.hosts[0].counters.get(Step::HeaderSplit).count, 0);
        // Each byte that arrived is written once: headers or payload.
        let frames = rx.kind(Kind::DmaWrite).bytes;
        assert_eq!(
            frames,
            rx.get(Step::WireRx).bytes - rx.get(Step::RxRingDrop).bytes
        );
        // dma_write_bytes also counts the descriptor write-backs.
        let wb = rx.kind(Kind::DescWriteback).bytes;
        assert!(wb > 0);
        assert_eq!(r.hosts[1].dma_write_bytes(), frames + wb);
    }

    /// The lifecycle events of buffer 0, in order.
    struct Lifecycle(Vec<(Nanos, Step)>);

    impl Observer for Lifecycle {
        fn wants_events(&self) -> bool {
            true
        }
        fn event(&mut self, e: &Event) {
            let life = [
                Step::BufferInitiated,
                Step::BufferPending,
                Step::BufferComplete,
                Step::BufferReturned,
            ];
            if e.ctx.buffer() == Some(0) && life.contains(&e.step) {
                self.0.push((e.time, e.step));
            }
        }
    }

    #[test]
    fn a_zero_copy_buffer_goes_initiated_pending_complete_handler_in_order() {
        let sc = scenario(1 << 20, 65536, SendPath::MsgZerocopy);
        let mut obs = Lifecycle(Vec::new());
        run(&sc, &mut obs).unwrap();
        let first: Vec<Step> = obs.0.iter().take(4).map(|&(_, s)| s).collect();
        assert_eq!(
            first,
            [
                Step::BufferInitiated,
                Step::BufferPending,
                Step::BufferComplete,
                Step::BufferReturned
            ]
        );
        assert!(obs.0.windows(2).all(|w| w[0].0 <= w[1].0), "in time order");
        // The copy path hands the buffer back as the call returns.
        let sc = scenario(1 << 20, 65536, SendPath::Write);
        let mut obs = Lifecycle(Vec::new());
        run(&sc, &mut obs).unwrap();
        let steps: Vec<Step> = obs.0.iter().take(3).map(|&(_, s)| s).collect();
        assert_eq!(
            steps,
            [
                Step::BufferInitiated,
                Step::BufferComplete,
                Step::BufferReturned
            ]
        );
    }
    /// Keeps every sample, asking for one every `every` ns.
    struct Sampler {
        every: Nanos,
        samples: Vec<Sample>,
    }

    impl Observer for Sampler {
        fn sample_every(&self) -> Option<Nanos> {
            Some(self.every)
        }
        fn sample(&mut self, s: &Sample) {
            self.samples.push(s.clone());
        }
    }

    #[test]
    fn samples_come_at_multiples_of_the_interval_and_at_the_end_and_change_nothing() {
        let sc = scenario(1 << 20, 65536, SendPath::MsgZerocopy);
        let plain = run(&sc, &mut NoObserver).unwrap();
        let mut obs = Sampler {
            every: 10_000,
            samples: Vec::new(),
        };
        let r = run(&sc, &mut obs).unwrap();
        assert_eq!(r.outcome, Outcome::Ok);
        assert_eq!(
            (r.events, r.simulated_ns),
            (plain.events, plain.simulated_ns),
            "sampling does not move the model"
        );
        let s = &obs.samples;
        assert_eq!(s[0].time, 0);
        let (last, inner) = s.split_last().unwrap();
        assert!(inner.iter().all(|x| x.time % 10_000 == 0));
        assert!(s.windows(2).all(|w| w[0].time < w[1].time));
        assert_eq!(last.time, r.simulated_ns);
        let f = last.flows[0];
        assert_eq!((f.written, f.read, f.arrived), (1 << 20, 1 << 20, 1 << 20));
        assert_eq!(f.acked, 1 << 20);
        assert_eq!(f.in_flight(), 0);
        let h = &last.hosts;
        assert_eq!(h[0].cpu_busy, r.hosts[0].cpu_busy_ns);
        let pin = CpuCategory::ALL.iter().position(|&c| c == CpuCategory::Pin);
        assert!(h[0].cpu[pin.unwrap()] > 0, "the sender pinned pages");
        // Something was in the rings and on the wire at some point.
        assert!(s.iter().any(|x| x.hosts[0].tx_ring > 0));
        assert!(s.iter().any(|x| x.wire_frames > 0));
        assert!(s.iter().all(|x| x.hosts[1].rx_posted > 0));
    }

    /// A frame observers were told of: its port, time, direction, length
    /// and info.
    type Frame = (usize, Nanos, Direction, usize, FrameInfo);

    /// Every frame, with what observers are told about it.
    struct Told(Vec<Frame>);

    impl Observer for Told {
        fn wants_frames(&self) -> bool {
            true
        }
        fn frame(&mut self, h: usize, t: Nanos, dir: Direction, f: &[u8], info: &FrameInfo) {
            self.0.push((h, t, dir, f.len(), *info));
        }
    }

    /// A lossy, corrupting, reordering run with GRO on both hosts.
    fn faulty(foresee: bool) -> (RunReport, Vec<Frame>) {
        let mut sc = scenario(2 << 20, 65536, SendPath::MsgZerocopy);
        sc.link.faults = Faults {
            loss: 0.005,
            duplicate: 0.01,
            reorder: 0.01,
            reorder_delay: 30_000,
            corrupt: 0.01,
        };
        sc.time_limit = 600_000_000_000;
        for h in &mut sc.hosts {
            h.nic.offloads.gro = true;
        }
        let mut obs = Told(Vec::new());
        let mut w = World::new(&sc, &mut obs).unwrap();
        w.foresee = foresee;
        let r = w.run();
        (r, obs.0)
    }

    #[test]
    fn a_foreseen_fate_is_the_one_napi_gives() {
        let (r, foreseen) = faulty(true);
        assert_eq!(r.outcome, Outcome::Ok, "{r:#?}");
        let (_, waited) = faulty(false);
        // Each port's frames, in order, with the same info; only the order
        // across ports may differ (without foresight frames wait longer).
        for h in 0..2 {
            let port = |v: &[Frame]| v.iter().filter(|f| f.0 == h).copied().collect::<Vec<_>>();
            assert_eq!(port(&foreseen), port(&waited), "host {h}");
        }
        let fate = |f: &&Frame| match f.4.rx {
            Rx::Slot {
                fate: Some(fate), ..
            } => Some(fate.verdict),
            _ => None,
        };
        let verdicts: Vec<_> = foreseen.iter().filter_map(|f| fate(&f)).collect();
        assert!(verdicts.contains(&provenance::NapiVerdict::BadChecksum));
        assert!(verdicts.iter().any(|v| matches!(
            v,
            provenance::NapiVerdict::Stack {
                gro_merged: Some(true),
                ..
            }
        )));
    }

    #[test]
    fn each_port_is_told_its_frames_in_time_order_each_with_its_fate() {
        let (r, told) = faulty(true);
        for h in 0..2 {
            let port: Vec<_> = told.iter().filter(|f| f.0 == h).collect();
            assert!(port.windows(2).all(|w| w[0].1 <= w[1].1), "host {h}");
            let sent = port.iter().filter(|f| f.2 == Direction::Out).count() as u64;
            let got = port.iter().filter(|f| f.2 == Direction::In).count() as u64;
            assert_eq!(got, r.hosts[h].counters.get(Step::WireRx).count);
            assert_eq!(sent, r.hosts[h].counters.get(Step::WireTx).count);
            // Every received frame NAPI took is told with what NAPI did;
            // at most the last few were still in the ring at the end.
            let waiting = port
                .iter()
                .filter(|f| matches!(f.4.rx, Rx::Slot { fate: None, .. }))
                .count();
            assert!(waiting <= 2, "host {h}: {waiting} without a fate");
        }
        let wire = |f: &&Frame| f.4.wire;
        let out = told.iter().filter(|f| f.2 == Direction::Out);
        assert!(out.clone().any(|f| wire(&f).lost));
        assert!(out.clone().any(|f| wire(&f).corrupt_bit.is_some()));
        assert!(out.clone().any(|f| f.4.retransmit));
        let copies = told.iter().filter(|f| wire(f).duplicate_copy).count() as u64;
        assert_eq!(copies, r.wire.duplicated);
    }
}

#[cfg(test)]
mod switch_tests {
    use super::*;
    use crate::config::*;
    use crate::event::{NoObserver, Step};
    use crate::report::Outcome;

    /// `n` senders and one receiver on a switch with `buffer` bytes per
    /// port, each sender sending `bytes` at once.
    pub(crate) fn incast(n: usize, bytes: u64, buffer: u64) -> Scenario {
        let mut sc = Scenario::two_hosts(bytes, 65536, SendPath::Write);
        let proto = sc.hosts[0].clone();
        let flow = sc.flows[0].clone();
        sc.hosts.truncate(1);
        sc.hosts[0].name = "receiver".into();
        sc.hosts[0].address = std::net::Ipv4Addr::new(192, 168, 69, 100);
        sc.flows.clear();
        for i in 0..n {
            let mut h = proto.clone();
            h.name = format!("s{i}");
            h.address = std::net::Ipv4Addr::new(192, 168, 69, 1 + i as u8);
            sc.hosts.push(h);
            sc.flows.push(FlowConfig {
                from: format!("s{i}"),
                to: "receiver".into(),
                port: 5001 + i as u16,
                ..flow.clone()
            });
        }
        sc.switch = Some(SwitchConfig {
            buffer,
            latency: 1_000,
        });
        sc.time_limit = 120_000_000_000;
        sc
    }

    #[test]
    fn incast_through_a_small_switch_buffer_drops_and_recovers_every_byte() {
        let sc = incast(4, 1 << 20, 64 << 10);
        let mut obs = NoObserver;
        let mut w = World::new(&sc, &mut obs).unwrap();
        w.check_invariants = true;
        let r = w.run();
        assert_eq!(r.outcome, Outcome::Ok, "{r:#?}");
        assert!(r.flows.iter().all(|f| f.integrity_ok()));
        let sw = r.switch.as_ref().expect("a switch report");
        assert!(sw.dropped > 0, "{sw:?}");
        assert!(sw.peak_queue_bytes <= 64 << 10);
        // Everything for the receiver went through its port.
        let (name, port) = &sw.ports[0];
        assert_eq!(name, "receiver");
        assert!(port.bytes > 4 << 20);
        assert!(
            r.flows
                .iter()
                .map(|f| f.retransmitted_segments)
                .sum::<u64>()
                > 0
        );
    }

    #[test]
    fn sixty_four_hosts_share_one_switch() {
        let mut sc = incast(MAX_HOSTS - 1, 20_000, 64 << 10);
        for (i, h) in sc.hosts.iter_mut().enumerate() {
            h.address = std::net::Ipv4Addr::new(10, 0, 1, 1 + i as u8);
            h.prefix_len = 24;
        }
        let r = run(&sc, &mut NoObserver).unwrap();
        assert_eq!(r.outcome, Outcome::Ok, "{}", r.bottleneck);
        assert_eq!(r.hosts.len(), MAX_HOSTS);
        assert!(r.flows.iter().all(|f| f.integrity_ok()));
    }

    #[test]
    fn a_big_switch_buffer_loses_nothing() {
        let sc = incast(3, 256 << 10, 16 << 20);
        let r = run(&sc, &mut NoObserver).unwrap();
        assert_eq!(r.outcome, Outcome::Ok, "{r:#?}");
        let sw = r.switch.as_ref().unwrap();
        assert_eq!(sw.dropped, 0);
        assert!(sw.peak_queue_bytes > 0, "{sw:?}");
        // ARP broadcasts were flooded: every sender heard the others'.
        for h in &r.hosts {
            assert!(h.counters.get(Step::WireRx).count > 0);
        }
    }
}
