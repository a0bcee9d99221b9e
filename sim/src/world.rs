//! Two hosts and the wire between them, run to completion in virtual time.
//!
//! Owns the event loop and everything that happens *on* a host: its CPU
//! (one core that serialises application syscalls, interrupts and NAPI
//! polls, so a CPU-bound host slows the flow), its smoltcp interface and
//! sockets, the driver half of its NIC (posting and cleaning descriptors,
//! doorbells, refilling the Rx ring) and the glue that wakes applications.
//! With `[tap]` ([`World::run_external`]) one host is absent: the other's
//! port sends to and receives from an [`ExternalPort`] on its wall clock.
//!
//! Does not decide what a step costs ([`crate::cost`]), how descriptors
//! change hands ([`crate::nic`]), what the wire does to a frame
//! ([`crate::wire`]) or what an application buffer is ([`crate::syscall`],
//! [`crate::buffer`]). Does no I/O: frames and events go to the
//! [`Observer`], real frames to and from the [`ExternalPort`].

use std::collections::VecDeque;
use std::fmt;
use std::hash::Hasher;

use hdrhistogram::Histogram;
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::DeviceCapabilities;
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr};

use crate::buffer::{pages_spanned, PAGE_SIZE};
use crate::config::{
    ConfigError, Congestion, FramingKind, HostConfig, RecvPath, Reuse, Scenario, SendPath,
};
use crate::cost::CostModel;
use crate::engine::{EventQueue, Nanos, Rng};
use crate::event::{Counters, Ctx, Direction, Event, Observer, Step};
use crate::external::ExternalPort;
use crate::kernel::{self, Port, TxFrame};
use crate::nic::{
    Dma, RxRing, TxRing, CMD_EOP, CMD_RS, DESC_SIZE, MAX_DATA_PER_TXD, MAX_DESC_PER_FRAME,
    TX_DESC_PREFETCH, TX_FIFO_BYTES, TX_WTHRESH,
};
use crate::page_pool::PagePool;
use crate::report::{
    EchoReport, FlowReport, HostReport, KernelSide, Latency, Outcome, RunReport, WireReport,
};
use crate::skb::{FragMem, RxQueued};
use crate::syscall::{
    DataSource, EchoIn, EchoOut, Receiver, SendState, Sender, WriteOp, ZcSend, KERNEL_FRAG_BASE,
    PAGE_FRAG_SIZE,
};
use crate::wire::{Link, Verdict};

/// Frames one softirq run may process before deferring to ksoftirqd:
/// Linux `netdev_budget` default 300.
const NETDEV_BUDGET: u32 = 300;
/// io_uring submissions per `io_uring_enter`: the application batches this
/// many sends (or receives) before entering the kernel.
const IO_URING_BATCH: u64 = 8;
/// Modelled address of the page cache pages sendfile and splice send from.
const PAGE_CACHE_BASE: u64 = 0xffff_ea00_0000_0000;
/// First ephemeral port; flow `i` connects from `EPHEMERAL_BASE + i`
/// (Linux `ip_local_port_range` starts at 32768; IANA's range at 49152).
const EPHEMERAL_BASE: u16 = 49152;
/// Longest an external-port run sleeps between checks for a stop request.
const MAX_WAIT: Nanos = 10_000_000;
/// Modelled bus address of the sk_buff heads the driver maps.
const SKB_HEAD_BASE: u64 = 0xffff_8881_0000_0000;

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

/// What the event queue holds.
enum Ev {
    /// An application may make progress.
    App { flow: u16, recv: bool },
    /// smoltcp asked to be polled (a timer: retransmission, delayed ACK).
    Poll { host: u8 },
    /// The NIC's next staged frame leaves for the wire.
    NicTx { host: u8 },
    /// A frame's last bit reaches a host's port; the frame waits in
    /// `World::on_wire[slot]`.
    Arrive { host: u8, slot: u32 },
    /// The NIC's interrupt fires.
    Irq { host: u8 },
    /// NAPI polls again (budget exhausted last time).
    Napi { host: u8 },
}

/// Which side of a flow a socket is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Sender,
    Receiver,
}

struct Endpoint {
    flow: u16,
    role: Role,
    handle: SocketHandle,
    local_port: u16,
    /// The peer's port; [`ANY_PORT`] for a listener whose peer is a real
    /// kernel, which picks its own ephemeral port.
    remote_port: u16,
}

/// Any remote port (port 0 is never used by TCP).
const ANY_PORT: u16 = 0;

impl Endpoint {
    /// Whether a segment from `remote` to `local` is this endpoint's.
    #[inline]
    fn matches(&self, local: u16, remote: u16) -> bool {
        self.local_port == local && (self.remote_port == remote || self.remote_port == ANY_PORT)
    }
}

struct Host {
    name: String,
    cost: CostModel,
    cfg: HostConfig,
    iface: Interface,
    sockets: SocketSet<'static>,
    caps: DeviceCapabilities,
    endpoints: Vec<Endpoint>,
    // Stack <-> driver queues.
    rx_in: VecDeque<Vec<u8>>,
    rx_done: Vec<Vec<u8>>,
    tx_out: Vec<TxFrame>,
    /// Frames the ring had no room for (the qdisc in front of the driver);
    /// a `gso_size` of `u16::MAX` marks a segment software GSO already cut.
    qdisc: VecDeque<TxFrame>,
    // NIC.
    tx: TxRing,
    rx: RxRing,
    dma: Dma,
    /// Frames DMA-read into the NIC's Tx FIFO: (ready time, bytes).
    staged: VecDeque<(Nanos, Vec<u8>)>,
    staged_bytes: u64,
    nic_tx_scheduled: bool,
    /// NIC's descriptor fetch pointer, descriptors on chip not yet used,
    /// and when the last fetch lands.
    tx_fetch: u16,
    desc_onchip: u16,
    desc_ready: Nanos,
    /// Descriptors processed but not yet written back, and when the last
    /// of their frames was read.
    wb_pending: u16,
    wb_ready: Nanos,
    irq_enabled: bool,
    irq_scheduled: bool,
    napi_scheduled: bool,
    tx_stopped: bool,
    // CPU.
    cpu_free: Nanos,
    cpu_busy: Nanos,
    acct: Acct,
    page_pool: PagePool,
    /// Frames NAPI has taken since the softirq last finished its work.
    softirq_work: u32,
    /// Time of the pending `Poll` event, if any.
    poll_at: Option<Nanos>,
}

/// A host's tally: counters always, events when an observer wants them.
struct Acct {
    id: u8,
    counters: Counters,
    events: Option<Vec<Event>>,
}

impl Acct {
    /// Charges CPU work at the cursor and moves the cursor past it.
    #[inline]
    fn charge(&mut self, c: &mut Nanos, step: Step, count: u64, bytes: u64, ns: Nanos) {
        self.record(*c, step, count, bytes, ns, Ctx::NONE);
        *c += ns;
    }

    /// [`Acct::charge`] with provenance for observers.
    #[inline]
    fn charge_ctx(&mut self, c: &mut Nanos, step: Step, n: (u64, u64), ns: Nanos, ctx: Ctx) {
        self.record(*c, step, n.0, n.1, ns, ctx);
        *c += ns;
    }

    /// [`Acct::note`] with provenance for observers.
    #[inline]
    fn note_ctx(&mut self, t: Nanos, step: Step, count: u64, bytes: u64, ctx: Ctx) {
        self.record(t, step, count, bytes, 0, ctx);
    }

    /// Records a step that costs this CPU nothing (hardware, waits).
    #[inline]
    fn note(&mut self, t: Nanos, step: Step, count: u64, bytes: u64) {
        self.record(t, step, count, bytes, 0, Ctx::NONE);
    }

    #[inline]
    fn record(&mut self, time: Nanos, step: Step, count: u64, bytes: u64, cpu_ns: Nanos, ctx: Ctx) {
        self.counters.add(step, count, bytes, cpu_ns);
        if let Some(ev) = &mut self.events {
            ev.push(Event {
                time,
                host: self.id,
                step,
                count,
                bytes,
                cpu_ns,
                ctx,
            });
        }
    }
}

impl Host {
    fn socket(&mut self, handle: SocketHandle) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket>(handle)
    }

    /// Frames smoltcp may hand the driver in one poll.
    fn tx_room(&self) -> usize {
        let unused = self.tx.unused();
        if unused < MAX_DESC_PER_FRAME {
            return 0;
        }
        let frames = (unused - MAX_DESC_PER_FRAME) as usize / 2 + 1;
        frames.saturating_sub(self.qdisc.len())
    }
}

struct Flow {
    from: usize,
    to: usize,
    port: u16,
    sender: Sender,
    receiver: Receiver,
    send_handle: SocketHandle,
    recv_handle: SocketHandle,
    /// (stream end offset, call time) of writes not yet fully read.
    pending_writes: VecDeque<(u64, Nanos)>,
    latency: Histogram<u64>,
}

impl Flow {
    fn done(&self) -> bool {
        self.sender_done() && self.receiver_done()
    }

    /// The sending application has sent everything, had its zero-copy
    /// buffers back and (echo) read everything back, or the peer closed.
    fn sender_done(&self) -> bool {
        let s = &self.sender;
        s.state == SendState::Done && !awaits_echo(s)
    }

    /// The receiving application has read the whole stream (or a real peer
    /// ended it early) and written back all it read.
    fn receiver_done(&self) -> bool {
        let r = &self.receiver;
        (r.received >= self.sender.total || r.eof) && !r.echo_pending()
    }
}

/// A scenario assembled and ready to run.
pub struct World<'o> {
    scenario: Scenario,
    now: Nanos,
    q: EventQueue<Ev>,
    rng: Rng,
    hosts: Vec<Host>,
    /// `links[h]` carries frames from host `h` to the other host.
    links: Vec<Link>,
    flows: Vec<Flow>,
    /// Recycled frame buffers.
    free: Vec<Vec<u8>>,
    /// Frames on the wire, by slot (events carry the slot, not the bytes).
    on_wire: Vec<Vec<u8>>,
    on_wire_free: Vec<u32>,
    obs: &'o mut dyn Observer,
    want_frames: bool,
    /// Verify checksums byte by byte on receive (only needed when the wire
    /// can corrupt frames; otherwise smoltcp's own check suffices).
    verify_rx: bool,
    /// Check ring ownership invariants after every event (tests).
    pub check_invariants: bool,
    /// With `[tap]`: the absent host, whose part a real peer plays.
    kernel_host: Option<usize>,
    /// Frames the bridged port put on the real wire, not yet handed over.
    to_port: Vec<Vec<u8>>,
    port_error: Option<String>,
}

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

/// xxh3-64 of what each flow's sender will write, computed on another
/// thread while the model runs (the data is a pure function of its seed).
fn expected_hashes(flows: &[Flow]) -> std::thread::JoinHandle<Vec<u64>> {
    let jobs: Vec<(DataSource, u64)> = flows
        .iter()
        .map(|f| (f.sender.data.clone(), f.sender.total))
        .collect();
    std::thread::spawn(move || jobs.iter().map(|(d, n)| d.hash(*n)).collect())
}

impl<'o> World<'o> {
    pub fn new(scenario: &Scenario, obs: &'o mut dyn Observer) -> Result<World<'o>, RunError> {
        scenario.validate()?;
        let mut rng = Rng::new(scenario.seed);
        let want_events = obs.wants_events();
        let want_frames = obs.wants_frames();
        let mut hosts = Vec::new();
        for (i, hc) in scenario.hosts.iter().enumerate() {
            hosts.push(build_host(i as u8, hc, scenario, &mut rng, want_events));
        }
        let mut flows = Vec::new();
        for (i, fc) in scenario.flows.iter().enumerate() {
            let host = |name: &str| scenario.host_index(name).expect("validated");
            let (from, to) = (host(&fc.from), host(&fc.to));
            let client_port = EPHEMERAL_BASE + i as u16;
            let sc = &scenario.hosts[from].socket;
            let rc = &scenario.hosts[to].socket;
            let send_handle = add_socket(&mut hosts[from], sc.sndbuf, sc.rcvbuf, sc);
            let recv_handle = add_socket(&mut hosts[to], rc.sndbuf, rc.rcvbuf, rc);
            hosts[to].socket(recv_handle).listen(fc.port).map_err(|e| {
                ConfigError::at(format!("flow[{i}].port"), format!("cannot listen: {e}"))
            })?;
            let dst = IpAddress::Ipv4(scenario.hosts[to].address);
            let h = &mut hosts[from];
            let cx = h.iface.context();
            h.sockets
                .get_mut::<tcp::Socket>(send_handle)
                .connect(cx, (dst, fc.port), client_port)
                .map_err(|e| {
                    ConfigError::at(format!("flow[{i}].to"), format!("cannot connect: {e}"))
                })?;
            hosts[from].endpoints.push(Endpoint {
                flow: i as u16,
                role: Role::Sender,
                handle: send_handle,
                local_port: client_port,
                remote_port: fc.port,
            });
            hosts[to].endpoints.push(Endpoint {
                flow: i as u16,
                role: Role::Receiver,
                handle: recv_handle,
                local_port: fc.port,
                // A real kernel connects from a port of its choosing.
                remote_port: if scenario
                    .tap
                    .as_ref()
                    .is_some_and(|_| scenario.tap_hosts().map(|t| t.1) == Some(from))
                {
                    ANY_PORT
                } else {
                    client_port
                },
            });
            let mut data = DataSource::new(rng.next_u64());
            match fc.framing.map(|f| f.kind) {
                // One send call = one message, ending with the delimiter.
                Some(FramingKind::Delimited) => {
                    let fr = fc.framing.expect("framed");
                    data = data.delimited(fr.delimiter, fc.write_size as u64);
                }
                Some(FramingKind::LengthPrefixed) => {
                    let m = fc.framing.expect("framed").parts(fc.write_size as u64);
                    data = data.length_prefixed(m.iter().sum());
                }
                _ => {}
            }
            flows.push(Flow {
                from,
                to,
                port: fc.port,
                sender: Sender::new(fc, data),
                receiver: Receiver::new(fc),
                send_handle,
                recv_handle,
                pending_writes: VecDeque::new(),
                latency: Histogram::new(3).expect("3 significant figures is valid"),
            });
        }
        let links = vec![Link::new(&scenario.link), Link::new(&scenario.link)];
        let mut w = World {
            scenario: scenario.clone(),
            now: 0,
            q: EventQueue::default(),
            rng,
            hosts,
            links,
            flows,
            free: Vec::new(),
            on_wire: Vec::new(),
            on_wire_free: Vec::new(),
            obs,
            want_frames,
            verify_rx: scenario.link.faults.corrupt > 0.0,
            check_invariants: false,
            kernel_host: scenario.tap_hosts().map(|t| t.1),
            to_port: Vec::new(),
            port_error: None,
        };
        for h in 0..2 {
            if w.kernel_host == Some(h) {
                continue; // absent: its sockets are never polled
            }
            w.rx_refill(h, &mut 0, false);
            w.q.push(0, Ev::Poll { host: h as u8 });
            w.hosts[h].poll_at = Some(0);
        }
        for f in 0..w.flows.len() {
            if w.kernel_host == Some(w.flows[f].to) {
                continue; // the real peer reads
            }
            w.q.push(
                0,
                Ev::App {
                    flow: f as u16,
                    recv: true,
                },
            );
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
        let f = self.flows.get_mut(flow).ok_or_else(|| {
            RunError::Config(ConfigError::new(format!("there is no flow {flow}")))
        })?;
        f.receiver.dynamic = Some(buffer);
        Ok(())
    }

    /// Runs until every flow is done, nothing is left to do, or the time
    /// limit is reached.
    pub fn run(&mut self) -> RunReport {
        let expected = expected_hashes(&self.flows);
        if self.kernel_host.is_some() {
            // Half the scenario is a real kernel: see `run_external`.
            return self.report(Outcome::PortError, &expected.join().unwrap_or_default());
        }
        let limit = self.scenario.time_limit;
        let mut outcome = None;
        while let Some((t, ev)) = self.q.pop() {
            if t > limit {
                self.now = limit;
                outcome = Some(Outcome::TimeLimit);
                break;
            }
            self.now = t;
            let app = matches!(ev, Ev::App { .. });
            self.dispatch(t, ev);
            self.flush_events();
            if self.check_invariants {
                for h in &self.hosts {
                    if let Err(e) = h.tx.check_ownership().and(h.rx.check_ownership()) {
                        panic!("descriptor ownership broken on {}: {e}", h.name);
                    }
                }
            }
            // Only an application step can finish a flow.
            if app && self.all_done() {
                break;
            }
        }
        let outcome = outcome.unwrap_or_else(|| {
            if !self.all_done() {
                Outcome::Stalled
            } else {
                Outcome::Ok
            }
        });
        let expected = expected.join().unwrap_or_default();
        self.report(outcome, &expected)
    }

    /// Runs with host `tap.host`'s port bridged to `port`, on the wall
    /// clock `port` keeps: events run when their time has come, frames from
    /// the port arrive at the NIC when they come. Ends when every flow is
    /// done (and simnet's sockets have delivered everything), at the time
    /// limit, when the user asks, or when the port fails.
    pub fn run_external(&mut self, port: &mut dyn ExternalPort) -> RunReport {
        let expected = expected_hashes(&self.flows);
        let Some(peer) = self.kernel_host else {
            return self.report(Outcome::PortError, &expected.join().unwrap_or_default());
        };
        let h = 1 - peer;
        let limit = self.scenario.time_limit;
        let outcome = loop {
            let now = port.now();
            while self.q.peek_time().is_some_and(|t| t <= now) {
                let (t, ev) = self.q.pop().expect("peeked");
                self.now = t;
                self.dispatch(t, ev);
                self.flush_events();
            }
            if let Err(e) = self.flush_port(port) {
                self.port_error = Some(e.to_string());
                break Outcome::PortError;
            }
            if self.all_done() {
                break Outcome::Ok;
            }
            if port.stop_requested() {
                break Outcome::Interrupted;
            }
            if now >= limit {
                break Outcome::TimeLimit;
            }
            // Sleep until the next event is due (at most 10 ms, to notice
            // a stop request), or a frame comes.
            let wait = self.q.peek_time().map_or(MAX_WAIT, |t| t - now.min(t));
            let mut buf = self.free.pop().unwrap_or_default();
            match port.recv(&mut buf, wait.min(MAX_WAIT)) {
                Ok(true) => {
                    let t = port.now().max(self.now);
                    self.now = t;
                    self.nic_receive(h, t, buf);
                    self.flush_events();
                }
                Ok(false) => self.free.push(buf),
                Err(e) => {
                    self.port_error = Some(e.to_string());
                    break Outcome::PortError;
                }
            }
        };
        self.now = self.now.max(port.now().min(limit));
        let expected = expected.join().unwrap_or_default();
        self.report(outcome, &expected)
    }

    /// Why the external port failed, if it did.
    pub fn port_error(&self) -> Option<&str> {
        self.port_error.as_deref()
    }

    /// Hands the frames the bridged port sent to the real wire.
    fn flush_port(&mut self, port: &mut dyn ExternalPort) -> std::io::Result<()> {
        let mut result = Ok(());
        for frame in self.to_port.drain(..) {
            if result.is_ok() {
                result = port.send(&frame);
            }
            self.free.push(frame);
        }
        result
    }

    /// Whether every flow has finished. With a real peer, simnet's sockets
    /// must also have had everything acknowledged and their FIN sent and
    /// acknowledged, or the peer could miss the end of a stream.
    fn all_done(&self) -> bool {
        let Some(k) = self.kernel_host else {
            return self.flows.iter().all(Flow::done);
        };
        self.flows.iter().all(|fl| {
            let (host, handle, app_done) = if fl.from == k {
                (
                    fl.to,
                    fl.recv_handle,
                    fl.receiver_done() && fl.receiver.closed,
                )
            } else if fl.to == k {
                (fl.from, fl.send_handle, fl.sender_done())
            } else {
                return fl.done();
            };
            let sock = self.hosts[host].sockets.get::<tcp::Socket>(handle);
            app_done
                && sock.send_queue() == 0
                && matches!(
                    sock.state(),
                    tcp::State::FinWait2 | tcp::State::TimeWait | tcp::State::Closed
                )
        })
    }

    fn flush_events(&mut self) {
        for h in &mut self.hosts {
            if let Some(evs) = &mut h.acct.events {
                for e in evs.drain(..) {
                    self.obs.event(&e);
                }
            }
        }
    }

    /// Whether host `h`'s CPU is busy at `t`; if so the event waits for it.
    fn cpu_busy(&mut self, h: usize, t: Nanos, ev: Ev) -> Option<Ev> {
        let free = self.hosts[h].cpu_free;
        if free > t {
            self.q.push(free, ev);
            None
        } else {
            Some(ev)
        }
    }

    fn end_task(&mut self, h: usize, start: Nanos, c: Nanos) {
        let host = &mut self.hosts[h];
        host.cpu_busy += c - start;
        host.cpu_free = c;
    }

    fn dispatch(&mut self, t: Nanos, ev: Ev) {
        match ev {
            Ev::App { flow, recv } => {
                let f = flow as usize;
                let h = if recv {
                    self.flows[f].to
                } else {
                    self.flows[f].from
                };
                let Some(_) = self.cpu_busy(h, t, Ev::App { flow, recv }) else {
                    return;
                };
                let mut c = t;
                if recv {
                    self.flows[f].receiver.wake_pending = false;
                    self.receiver_step(f, &mut c);
                } else {
                    self.flows[f].sender.wake_pending = false;
                    self.sender_step(f, &mut c);
                }
                self.end_task(h, t, c);
            }
            Ev::Poll { host } => {
                let h = host as usize;
                if self.hosts[h].poll_at != Some(t) {
                    return; // superseded by an earlier poll
                }
                let Some(_) = self.cpu_busy(h, t, Ev::Poll { host }) else {
                    self.hosts[h].poll_at = Some(self.hosts[h].cpu_free);
                    return;
                };
                self.hosts[h].poll_at = None;
                let mut c = t;
                self.poll_stack(h, &mut c);
                self.end_task(h, t, c);
            }
            Ev::NicTx { host } => self.nic_transmit(host as usize, t),
            Ev::Arrive { host, slot } => {
                let frame = std::mem::take(&mut self.on_wire[slot as usize]);
                self.on_wire_free.push(slot);
                self.nic_receive(host as usize, t, frame)
            }
            Ev::Irq { host } => {
                let h = host as usize;
                let hst = &mut self.hosts[h];
                hst.irq_scheduled = false;
                if !hst.irq_enabled || hst.napi_scheduled {
                    return; // masked: NAPI is running and will see the work
                }
                let Some(_) = self.cpu_busy(h, t, Ev::Irq { host }) else {
                    self.hosts[h].irq_scheduled = true;
                    return;
                };
                let mut c = t;
                let hst = &mut self.hosts[h];
                let irq = hst.cost.irq;
                hst.acct.charge(&mut c, Step::Irq, 1, 0, irq);
                hst.irq_enabled = false;
                hst.napi_scheduled = true;
                self.napi(h, &mut c);
                self.end_task(h, t, c);
            }
            Ev::Napi { host } => {
                let h = host as usize;
                let Some(_) = self.cpu_busy(h, t, Ev::Napi { host }) else {
                    return;
                };
                let mut c = t;
                self.napi(h, &mut c);
                self.end_task(h, t, c);
            }
        }
    }

    // ----- The stack --------------------------------------------------

    /// Polls host `h`'s smoltcp interface at the cursor, then hands what it
    /// transmitted to the driver and wakes applications.
    fn poll_stack(&mut self, h: usize, c: &mut Nanos) {
        let host = &mut self.hosts[h];
        let ts = Instant::from_micros((*c / 1000) as i64);
        let tx_room = host.tx_room();
        let mut port = Port {
            rx_in: &mut host.rx_in,
            rx_done: &mut host.rx_done,
            tx_out: &mut host.tx_out,
            free: &mut self.free,
            tx_room,
            caps: &host.caps,
        };
        host.iface.poll(ts, &mut port, &mut host.sockets);
        self.free.append(&mut host.rx_done);
        self.driver_xmit(h, c);
        self.after_poll(h, c);
        let host = &mut self.hosts[h];
        if let Some(at) = host.iface.poll_at(ts, &host.sockets) {
            let at = (at.total_micros().max(0) as u64 * 1000).max(*c + 1000);
            if (host.tx_stopped || host.tx_room() == 0) && at <= *c + 1000 {
                return; // the Tx clean that restarts the queue polls again
            }
            if host.poll_at.is_none_or(|p| at < p) {
                host.poll_at = Some(at);
                self.q.push(at, Ev::Poll { host: h as u8 });
            }
        }
    }

    /// After the stack ran: acknowledged bytes, zero-copy completions and
    /// application wake-ups for every socket on host `h`.
    fn after_poll(&mut self, h: usize, c: &mut Nanos) {
        for e in 0..self.hosts[h].endpoints.len() {
            let (f, role, handle) = {
                let ep = &self.hosts[h].endpoints[e];
                (ep.flow as usize, ep.role, ep.handle)
            };
            let host = &mut self.hosts[h];
            let sock = host.sockets.get::<tcp::Socket>(handle);
            let (send_queue, send_capacity, may_send) =
                (sock.send_queue(), sock.send_capacity(), sock.may_send());
            let readable = sock.can_recv() || !sock.may_recv();
            let can_send = sock.can_send();
            let flow = &mut self.flows[f];
            match role {
                Role::Sender => {
                    let s = &mut flow.sender;
                    s.acked = s.issued - send_queue as u64;
                    let freed = s.write_queue.clean_acked(s.acked);
                    if freed > 0 {
                        let ns = host.cost.skb_alloc * freed;
                        host.acct.charge(c, Step::SkbFreeAcked, freed, 0, ns);
                    }
                    let wake = match s.state {
                        SendState::Connecting => may_send,
                        SendState::BlockedSndbuf => {
                            // sk_stream_write_space: wake when free space
                            // is at least half of what is queued.
                            let free = send_capacity - send_queue;
                            free > 0 && free >= send_queue / 2
                        }
                        _ => false,
                    };
                    let (sends, pages, bytes) = s.complete_acked();
                    if sends > 0 {
                        let cost = &host.cost;
                        let unpin = cost.page_unpin * pages;
                        let cb = cost.skb_alloc * sends;
                        host.acct.charge(c, Step::PutUserPages, pages, bytes, unpin);
                        host.acct
                            .charge(c, Step::ZerocopyComplete, sends, bytes, cb);
                        for (b, a, e) in s.just_completed.drain(..) {
                            let ctx = Ctx::stream(f, a, e - a).with_buffer(b);
                            host.acct.note_ctx(*c, Step::BufferComplete, 1, e - a, ctx);
                        }
                    }
                    let wake = wake
                        || (sends > 0
                            && matches!(s.state, SendState::WaitCompletion | SendState::Draining))
                        || (readable && awaits_echo(s));
                    if wake {
                        wake_app(&mut self.q, &mut s.wake_pending, *c, f, false);
                    }
                }
                Role::Receiver => {
                    let r = &mut flow.receiver;
                    if r.blocked && (readable || (r.echo_pending() && can_send)) {
                        wake_app(&mut self.q, &mut r.wake_pending, *c, f, true);
                    }
                }
            }
        }
    }

    // ----- Applications -----------------------------------------------

    /// The sending application of flow `f` makes as much progress as one
    /// call allows.
    fn sender_step(&mut self, f: usize, c: &mut Nanos) {
        let flow = &mut self.flows[f];
        let h = flow.from;
        let host = &mut self.hosts[h];
        let s = &mut flow.sender;
        if let Some(e) = &mut s.echo {
            echo_read_back(host, flow.send_handle, e, f, c);
        }
        loop {
            match s.state {
                SendState::Connecting => {
                    if !host.socket(flow.send_handle).may_send() {
                        return;
                    }
                    s.state = SendState::Ready;
                }
                SendState::Done => return,
                SendState::Draining => {
                    reap_errqueue(host, s, c);
                    if s.zc.is_empty() && s.errqueue.is_empty() {
                        s.state = SendState::Done;
                        if s.registered {
                            // io_uring_unregister_buffers: the long-term
                            // pins go.
                            let pages = s.pool_pages();
                            let cost = &host.cost;
                            let ns = cost.syscall + cost.page_unpin * pages;
                            host.acct.charge(c, Step::IoUringUnregister, pages, 0, ns);
                        }
                    } else {
                        host.acct.note(*c, Step::CompletionWait, 1, 0);
                    }
                    return;
                }
                SendState::WaitCompletion => {
                    reap_errqueue(host, s, c);
                    if !s.pool.can_acquire() {
                        host.acct.note(*c, Step::CompletionWait, 1, 0);
                        return; // still nothing free
                    }
                    s.state = SendState::Ready;
                }
                SendState::Ready | SendState::BlockedSndbuf => {
                    if s.current.is_none() {
                        if s.issued >= s.total {
                            if !s.closed {
                                host.socket(flow.send_handle).close();
                                s.closed = true;
                            }
                            s.state = SendState::Draining;
                            continue;
                        }
                        if s.path == SendPath::IoUringFixed && !s.registered {
                            // io_uring_register(IORING_REGISTER_BUFFERS):
                            // every pool buffer pinned once, for good.
                            s.registered = true;
                            let pages = s.pool_pages();
                            let cost = &host.cost;
                            let ns = cost.syscall + cost.page_pin * pages;
                            host.acct.charge(c, Step::IoUringRegister, pages, 0, ns);
                        }
                        // Completions the kernel has posted are reaped
                        // first (poll reported POLLERR): their buffers
                        // come back before the next one is taken.
                        if !s.errqueue.is_empty() {
                            reap_errqueue(host, s, c);
                        }
                        let id = if s.path.from_file() {
                            0 // the bytes come from the page cache
                        } else {
                            let Some(id) = s.pool.acquire() else {
                                s.pool.wait();
                                s.state = SendState::WaitCompletion;
                                continue;
                            };
                            s.note_reuse(id, *c);
                            id
                        };
                        let len = s.message_len().min(s.total - s.issued);
                        if s.parts.len() == 3 {
                            // The header and trailer are built in
                            // temporary buffers for the gather write.
                            let ns = 2 * host.cost.skb_alloc;
                            host.acct
                                .charge(c, Step::FramingTemp, 2, s.parts[0] + s.parts[2], ns);
                        }
                        if s.keeps_bytes() {
                            // The application writes its data into the
                            // buffer: the NIC will read these very bytes.
                            s.fill_buffer(id, s.issued, len);
                        }
                        let cost = &host.cost;
                        let sc = cost.syscall;
                        let mut ctx = Ctx::stream(f, s.issued, len);
                        if !s.path.from_file() {
                            ctx = ctx.with_buffer(id);
                        }
                        let call = |st: Step, calls: u64| (st, calls);
                        let (step, calls) = match s.path {
                            // A framed message is a gather write.
                            SendPath::Write if !s.parts.is_empty() => call(Step::WritevSyscall, 1),
                            SendPath::Write => call(Step::WriteSyscall, 1),
                            SendPath::Writev => call(Step::WritevSyscall, 1),
                            SendPath::MsgZerocopy => call(Step::SendmsgSyscall, 1),
                            SendPath::Sendfile => call(Step::SendfileSyscall, 1),
                            // file -> pipe, then pipe -> socket.
                            SendPath::Splice => call(Step::SpliceSyscall, 2),
                            // The submission itself is no syscall.
                            _ => call(Step::IoUringSqe, 1),
                        };
                        let ns = if step == Step::IoUringSqe {
                            0
                        } else {
                            calls * sc
                        };
                        host.acct.charge_ctx(c, step, (calls, len), ns, ctx);
                        if !s.path.from_file() {
                            host.acct.note_ctx(*c, Step::BufferInitiated, 1, len, ctx);
                        }
                        if s.path.io_uring() {
                            s.sqes += 1;
                            let last = s.issued + len >= s.total;
                            if s.sqes.is_multiple_of(IO_URING_BATCH) || last {
                                host.acct.charge(c, Step::IoUringEnter, 1, 0, sc);
                            }
                            if s.path == SendPath::IoUringFixed {
                                let ns = cost.skb_alloc;
                                host.acct.charge(c, Step::IoUringImportFixed, 1, len, ns);
                            }
                        }
                        s.first_write.get_or_insert(*c);
                        s.writes += 1;
                        flow.pending_writes.push_back((s.issued + len, *c));
                        s.current = Some(WriteOp {
                            buffer: id,
                            start: s.issued,
                            len,
                            done: 0,
                        });
                        if s.path.zero_copy() {
                            let zc_cost = host.cost.skb_alloc;
                            host.acct.charge(c, Step::ZerocopyAlloc, 1, 0, zc_cost);
                            s.zc.push_back(ZcSend {
                                id: s.zc_next_id,
                                buffer: id,
                                start: s.issued,
                                end: s.issued,
                                pages: 0,
                                refs: 0,
                                queued_all: false,
                            });
                            s.zc_next_id = s.zc_next_id.wrapping_add(1);
                        }
                    }
                    let mut op = s.current.expect("a write is in progress");
                    let sock = host.sockets.get_mut::<tcp::Socket>(flow.send_handle);
                    let room = (sock.send_capacity() - sock.send_queue()) as u64;
                    let n = room.min(op.len - op.done);
                    if n > 0 {
                        // The application's bytes enter the stack's buffer
                        // here, whichever path models how they got there:
                        // the simulator moves bytes once, the model charges
                        // copy_from_user, get_user_pages_fast or nothing.
                        let mut queued = 0;
                        while queued < n {
                            let (data, at) = (&s.data, s.issued + queued);
                            let got = sock
                                .send(|buf| {
                                    let k = buf.len().min((n - queued) as usize);
                                    data.fill(at, &mut buf[..k]);
                                    (k, k)
                                })
                                .unwrap_or(0);
                            if got == 0 {
                                break;
                            }
                            queued += got as u64;
                        }
                        debug_assert_eq!(queued, n);
                        let seq = op.start + op.done;
                        let cost = &host.cost;
                        let ctx = Ctx::stream(f, seq, n).with_buffer(op.buffer);
                        let gather = s.path == SendPath::Writev || !s.parts.is_empty();
                        match s.path {
                            SendPath::Write | SendPath::IoUring if !gather => {
                                let addr = s.page_frag_cursor;
                                s.page_frag_cursor += n;
                                let mem = FragMem::Kernel;
                                let frags = s.write_queue.append(seq, addr, n, mem, PAGE_FRAG_SIZE);
                                host.acct.note_ctx(*c, Step::SkbFrag, frags, n, ctx);
                                host.acct.charge_ctx(
                                    c,
                                    Step::CopyFromUser,
                                    (1, n),
                                    cost.copy(n),
                                    ctx,
                                );
                            }
                            SendPath::Write | SendPath::Writev | SendPath::IoUring => {
                                // One copy and one frag per iovec region
                                // (or per part of a framed message).
                                let mut at = op.done;
                                while at < op.done + n {
                                    let end = s.region_end(at, op.len).min(op.done + n);
                                    let k = end - at;
                                    let addr = s.page_frag_cursor;
                                    s.page_frag_cursor += k;
                                    let mem = FragMem::Kernel;
                                    let sq = op.start + at;
                                    // A region continued after a wait joins its frag.
                                    let frags = if s.region_starts(at, op.len) {
                                        s.write_queue.append_region(
                                            sq,
                                            addr,
                                            k,
                                            mem,
                                            PAGE_FRAG_SIZE,
                                        )
                                    } else {
                                        s.write_queue.append(sq, addr, k, mem, PAGE_FRAG_SIZE)
                                    };
                                    let rctx = Ctx::stream(f, sq, k).with_buffer(op.buffer);
                                    host.acct.note_ctx(*c, Step::SkbFrag, frags, k, rctx);
                                    host.acct.charge_ctx(
                                        c,
                                        Step::CopyFromUser,
                                        (1, k),
                                        cost.copy(k),
                                        rctx,
                                    );
                                    at = end;
                                }
                            }
                            SendPath::MsgZerocopy
                            | SendPath::IoUringSendZc
                            | SendPath::IoUringFixed => {
                                let addr = s.buffer_addr(op.buffer) + op.done;
                                let mem = FragMem::User { buffer: op.buffer };
                                let frags = s.write_queue.append(seq, addr, n, mem, PAGE_SIZE);
                                host.acct.note_ctx(*c, Step::SkbFrag, frags, n, ctx);
                                let off = s.pool.get(op.buffer).page_offset + op.done;
                                let pages = pages_spanned(off, n);
                                if s.path != SendPath::IoUringFixed {
                                    let ns = cost.page_pin * pages;
                                    host.acct.charge_ctx(
                                        c,
                                        Step::GetUserPages,
                                        (pages, n),
                                        ns,
                                        ctx,
                                    );
                                    s.zc.back_mut().expect("the send's ubuf").pages += pages;
                                }
                                s.zc.back_mut().expect("the send's ubuf").end += n;
                            }
                            SendPath::Sendfile | SendPath::Splice => {
                                // The file's pages, already in the page cache.
                                let addr = PAGE_CACHE_BASE + seq;
                                let mem = FragMem::PageCache;
                                let frags = s.write_queue.append(seq, addr, n, mem, PAGE_SIZE);
                                host.acct.note_ctx(*c, Step::SkbFrag, frags, n, ctx);
                                let pages = pages_spanned(seq % PAGE_SIZE, n);
                                let ns = cost.skb_alloc * pages;
                                host.acct
                                    .charge_ctx(c, Step::PageCacheRef, (pages, n), ns, ctx);
                            }
                        }
                        op.done += n;
                        s.issued += n;
                    }
                    s.current = Some(op);
                    if op.done < op.len {
                        s.state = SendState::BlockedSndbuf;
                        host.acct.note(*c, Step::SndbufWait, 1, 0);
                    } else {
                        // The call returns (for io_uring: its result CQE).
                        s.current = None;
                        s.state = SendState::Ready;
                        if s.path.io_uring() {
                            host.acct.note(*c, Step::IoUringCqe, 1, op.len);
                        }
                        let ctx = Ctx::stream(f, op.start, op.len).with_buffer(op.buffer);
                        if s.path.zero_copy() {
                            // The kernel keeps the pages: hands off until
                            // the completion.
                            host.acct.note_ctx(*c, Step::BufferPending, 1, op.len, ctx);
                        } else if !s.path.from_file() {
                            // Copied: ownership is back as the call returns.
                            host.acct.note_ctx(*c, Step::BufferComplete, 1, op.len, ctx);
                            host.acct.note_ctx(*c, Step::BufferReturned, 1, op.len, ctx);
                        }
                        if s.path.zero_copy() {
                            s.zc.back_mut().expect("the send's ubuf").queued_all = true;
                            if s.reuse == Reuse::Immediately {
                                // The bug: the buffer goes back to the pool
                                // while the kernel still reads it.
                                s.pool.release(op.buffer);
                            } else {
                                s.pool.mark_pending(op.buffer);
                            }
                        } else if !s.path.from_file() {
                            s.pool.release(op.buffer);
                        }
                    }
                    // tcp_push: the stack transmits what it can now.
                    self.poll_stack(h, c);
                    let s = &mut self.flows[f].sender;
                    if s.state == SendState::Ready {
                        wake_app(&mut self.q, &mut s.wake_pending, *c, f, false);
                    }
                    return;
                }
            }
        }
    }

    /// The receiving application of flow `f` reads once, or blocks.
    fn receiver_step(&mut self, f: usize, c: &mut Nanos) {
        let flow = &mut self.flows[f];
        let h = flow.to;
        let host = &mut self.hosts[h];
        let r = &mut flow.receiver;
        if let Some(e) = &mut r.echo {
            echo_write_back(host, flow.recv_handle, e, f, c);
        }
        // The stream is over: every byte read, or the peer closed (or
        // reset) early, which only a real peer can do.
        let peer_gone = {
            let sock = host.sockets.get::<tcp::Socket>(flow.recv_handle);
            !sock.can_recv() && peer_closed(sock.state())
        };
        if peer_gone && r.received < flow.sender.total {
            r.eof = true;
        }
        if r.received >= flow.sender.total || r.eof {
            if r.echo_pending() {
                r.blocked = true; // the write-back waits for send space
                return;
            }
            if !r.closed {
                host.socket(flow.recv_handle).close();
                r.closed = true;
                self.poll_stack(h, c);
            }
            return;
        }
        let sock = host.sockets.get_mut::<tcp::Socket>(flow.recv_handle);
        if !sock.can_recv() {
            if !r.blocked {
                host.acct.note(*c, Step::RcvWait, 1, 0);
            }
            r.blocked = true;
            return;
        }
        // An echo server reads no more than its buffer has room for.
        let room = r
            .echo
            .as_ref()
            .map_or(u64::MAX, |e| (e.cap - e.pending.len()) as u64);
        if room == 0 {
            r.blocked = true;
            return;
        }
        r.blocked = false;
        // One read(2) of up to read_size bytes. The simulator hashes the
        // bytes where smoltcp holds them (at most two pieces when its ring
        // wraps); the modelled copy_to_user is charged below.
        // A composed read takes one message part at a time.
        let limit = (r.read_size as u64).min(r.part_left(r.received)).min(room);
        let mut n = 0u64;
        while n < limit {
            let want = (limit - n) as usize;
            let hash = &mut r.hash;
            let echo = &mut r.echo;
            let got = sock
                .recv(|data| {
                    let k = data.len().min(want);
                    hash.write(&data[..k]);
                    if let Some(e) = echo {
                        e.pending.extend(&data[..k]);
                    }
                    (k, k)
                })
                .unwrap_or(0);
            if got == 0 {
                break;
            }
            n += got as u64;
        }
        let cost = &host.cost;
        let sc = cost.syscall;
        let ctx = Ctx::stream(f, r.received, n);
        match r.path {
            RecvPath::Read => {
                host.acct.charge_ctx(c, Step::ReadSyscall, (1, n), sc, ctx);
                host.acct
                    .charge_ctx(c, Step::CopyToUser, (1, n), cost.copy(n), ctx);
            }
            RecvPath::Readv => {
                // One copy per iovec region the bytes reach.
                host.acct.charge(c, Step::ReadvSyscall, 1, n, sc);
                let region = (r.read_size as u64).div_ceil(r.iovecs as u64).max(1);
                let regions = n.div_ceil(region);
                host.acct
                    .charge(c, Step::CopyToUser, regions, n, cost.copy(n));
            }
            RecvPath::ZerocopyReceive => {
                // Header split left the payload page-aligned: whole pages
                // are mapped, the tail that does not fill a page is copied.
                // Pages map only onto a page-aligned receive address.
                host.acct.charge(c, Step::ZcRecvSyscall, 1, n, sc);
                let pages = if r.aligned { n / PAGE_SIZE } else { 0 };
                let mapped = pages * PAGE_SIZE;
                if pages > 0 {
                    let ns = cost.page_pin * pages;
                    host.acct.charge(c, Step::VmInsertPages, pages, mapped, ns);
                    // The application unmaps them when it is done reading.
                    let ns = cost.page_unpin * pages;
                    host.acct.charge(c, Step::ZcRecvUnmap, pages, mapped, ns);
                }
                if n > mapped {
                    let k = n - mapped;
                    host.acct.charge(c, Step::CopyToUser, 1, k, cost.copy(k));
                }
            }
            RecvPath::IoUringProvided => {
                host.acct.note(*c, Step::IoUringSqe, 1, n);
                r.sqes += 1;
                if r.sqes % IO_URING_BATCH == 1 {
                    host.acct.charge(c, Step::IoUringEnter, 1, 0, sc);
                }
                host.acct.note(*c, Step::IoUringBufSelect, 1, n);
                host.acct.charge(c, Step::CopyToUser, 1, n, cost.copy(n));
                host.acct.note(*c, Step::IoUringCqe, 1, n);
            }
            RecvPath::Splice => {
                // socket -> pipe (page references), pipe -> file (a copy
                // into the page cache); nothing reaches user space.
                host.acct.charge(c, Step::SpliceRecvSyscall, 2, n, 2 * sc);
                let pages = n.div_ceil(PAGE_SIZE);
                host.acct
                    .charge(c, Step::SplicePipeRef, pages, n, cost.skb_alloc * pages);
                host.acct.charge(c, Step::SpliceToFile, 1, n, cost.copy(n));
            }
        }
        if !r.parts.is_empty() && n == r.part_left(r.received) {
            host.acct.note_ctx(*c, Step::FramingPart, 1, n, ctx);
        }
        if let Some(d) = &mut r.dynamic {
            // read_until: the bytes land in a growing buffer.
            let got = d.read(r.received, n);
            let (grows, copied, messages) = (got.grows, got.copied, got.messages);
            if grows > 0 {
                let ns = cost.copy(copied) + cost.skb_alloc * grows;
                host.acct
                    .charge_ctx(c, Step::DynamicGrow, (grows, copied), ns, ctx);
            }
            if r.kind == crate::config::BufferKind::Streambuf {
                host.acct.note_ctx(*c, Step::StreambufCommit, 1, n, ctx);
            }
            if messages > 0 {
                host.acct
                    .note_ctx(*c, Step::ReadUntilMessage, messages, 0, ctx);
            }
        }
        let (eaten, pages) = r.rcv_queue.consume_to(r.received + n);
        // page_pool_put_full_page: the freed skbs' pages go back.
        host.page_pool.put(pages);
        if eaten > 0 {
            host.acct
                .charge(c, Step::RxSkbFree, eaten, 0, cost.skb_alloc * eaten);
        }
        r.received += n;
        r.reads += 1;
        r.last_read = *c;
        r.first_read.get_or_insert(*c);
        while let Some(&(end, t0)) = flow.pending_writes.front() {
            if end > r.received {
                break;
            }
            flow.pending_writes.pop_front();
            let _ = flow.latency.record((*c - t0).max(1));
        }
        let flow = &mut self.flows[f];
        if let Some(e) = &mut flow.receiver.echo {
            echo_write_back(&mut self.hosts[h], flow.recv_handle, e, f, c);
        }
        // tcp_recvmsg -> tcp_cleanup_rbuf may announce the opened window.
        self.poll_stack(h, c);
        let r = &mut self.flows[f].receiver;
        wake_app(&mut self.q, &mut r.wake_pending, *c, f, true);
    }

    // ----- Driver -----------------------------------------------------

    /// `dev_queue_xmit` → `ndo_start_xmit` for every frame the stack
    /// produced: software GSO where the NIC cannot segment, checksums the
    /// NIC does not insert, then the sk_buff head and frags mapped into Tx
    /// descriptors; the doorbell is rung once for the batch.
    fn driver_xmit(&mut self, h: usize, c: &mut Nanos) {
        let host = &mut self.hosts[h];
        host.qdisc.extend(host.tx_out.drain(..));
        let mut posted = false;
        while !host.qdisc.is_empty() {
            if host.tx.unused() < MAX_DESC_PER_FRAME {
                if !host.tx_stopped {
                    host.tx_stopped = true;
                    host.acct.note(*c, Step::TxRingFull, 1, 0);
                }
                break;
            }
            let TxFrame { mut buf, gso_size } = host.qdisc.pop_front().expect("not empty");
            let frame = &mut buf;
            let d = kernel::dissect_fast(frame);
            let cost = &host.cost;
            let offloads = host.cfg.nic.offloads;
            // Which flow sent it, and which stream bytes it carries.
            let mut payload = None;
            let mut echo_payload = 0;
            if d.tcp {
                let ep = host
                    .endpoints
                    .iter()
                    .find(|e| e.matches(d.src_port, d.dst_port));
                if ep.is_some_and(|e| e.role == Role::Receiver) && d.payload_len > 0 {
                    // An echo server's write-back: a linear skb of copied
                    // bytes, not part of any measured stream.
                    echo_payload = d.payload_len as u64;
                }
                if let Some(ep) = ep.filter(|e| e.role == Role::Sender) {
                    let f = ep.flow as usize;
                    let s = &mut self.flows[f].sender;
                    if d.syn {
                        s.isn = Some(d.seq);
                    }
                    if d.payload_len > 0 {
                        if let Some(off) = s.stream_offset(d.seq) {
                            payload = Some((f as u16, off, d.payload_len as u32));
                        }
                    }
                }
            }
            // A GSO frame already segmented (below) carries no new TCP work.
            let gso_segment = gso_size == u16::MAX;
            let gso_size = if gso_segment { 0 } else { gso_size };
            if !gso_segment {
                if let Some((f, off, len)) = payload {
                    let s = &mut self.flows[f as usize].sender;
                    if off < s.max_sent_end {
                        s.retransmitted_segments += 1;
                        host.acct.note(*c, Step::TcpRetransmit, 1, len as u64);
                    }
                    s.max_sent_end = s.max_sent_end.max(off + len as u64);
                    host.acct.charge_ctx(
                        c,
                        Step::TcpXmit,
                        (1, len as u64),
                        cost.per_packet_tx,
                        Ctx::stream(f as usize, off, len as u64),
                    );
                } else if echo_payload > 0 {
                    host.acct
                        .charge(c, Step::TcpXmit, 1, echo_payload, cost.per_packet_tx);
                } else {
                    host.acct
                        .charge(c, Step::CtrlXmit, 1, 0, cost.per_packet_tx);
                }
            }
            let mss = gso_size as usize;
            if mss > 0 && d.payload_len > mss && !offloads.tso {
                // validate_xmit_skb -> skb_gso_segment: cut in software; the
                // segments share the super-segment's frags and go to the
                // head of the queue in order.
                if let Some((f, off, len)) = payload {
                    let s = &mut self.flows[f as usize].sender;
                    if s.write_queue.map(off, len as u64, |_, _, _| {}).cut {
                        host.acct
                            .charge(c, Step::SkbAlloc, 1, len as u64, cost.skb_alloc);
                    }
                }
                let mut segs = Vec::new();
                let n = kernel::segment(frame, mss, &mut self.free, &mut |b| segs.push(b));
                host.acct.charge(
                    c,
                    Step::GsoSegment,
                    n as u64,
                    d.payload_len as u64,
                    cost.skb_alloc * n as u64,
                );
                for seg in segs.into_iter().rev() {
                    host.qdisc.push_front(TxFrame {
                        buf: seg,
                        gso_size: u16::MAX,
                    });
                }
                self.free.push(buf);
                continue;
            }
            if d.checksummed > 0 && !offloads.tx_checksum {
                if let Some((f, _, len)) = payload {
                    if self.flows[f as usize].sender.path == SendPath::MsgZerocopy {
                        // The user may rewrite the pages under a software
                        // checksum: Linux copies shared frags first.
                        let n = len as u64;
                        host.acct
                            .charge(c, Step::ZerocopyChecksumCopy, 1, n, cost.copy(n));
                    }
                }
                let mut refill = !kernel::stack_computes_tx_checksum(offloads);
                if let Some((f, off, len)) = payload {
                    let s = &mut self.flows[f as usize].sender;
                    if s.keeps_bytes() {
                        // The shared-frag copy takes the user pages as they
                        // are now; the checksum covers what was copied.
                        patch_from_user(s, off, len, frame);
                        refill = true;
                    }
                }
                if refill {
                    // skb_checksum_help in software.
                    kernel::fill_checksums(frame);
                }
                let n = d.checksummed as u64;
                host.acct
                    .charge(c, Step::TxChecksum, 1, n, cost.checksum(n));
            }
            // Descriptors: the linear head (headers), then one per frag
            // piece, at most MAX_DATA_PER_TXD bytes each.
            let head_len = if payload.is_some() {
                d.payload_offset
            } else {
                frame.len()
            };
            let head_addr = SKB_HEAD_BASE + host.tx.next_to_use as u64 * 256;
            let mut descs = 1u16;
            let head_cmd = if payload.is_some() {
                0
            } else {
                CMD_EOP | CMD_RS
            };
            let mut last = host.tx.post(head_addr, head_len as u16, head_cmd);
            if let Some((f, off, len)) = payload {
                // e1000_tx_map: skb_frag_dma_map for each frag.
                let s = &mut self.flows[f as usize].sender;
                let end = off + len as u64;
                let tx = &mut host.tx;
                let mut at = off;
                let mapped = s.write_queue.map(off, len as u64, |addr, n, _| {
                    let mut done = 0;
                    while done < n {
                        if descs + 1 == MAX_DESC_PER_FRAME {
                            return; // the last descriptor takes the rest, below
                        }
                        let piece = (n - done).min(MAX_DATA_PER_TXD);
                        let cmd = if at + piece == end {
                            CMD_EOP | CMD_RS
                        } else {
                            0
                        };
                        last = tx.post(addr + done, piece as u16, cmd);
                        descs += 1;
                        at += piece;
                        done += piece;
                    }
                });
                if mapped.cut && !gso_segment {
                    host.acct
                        .charge(c, Step::SkbAlloc, 1, len as u64, cost.skb_alloc);
                }
                if at < end {
                    // Bytes already acknowledged and freed while the frame
                    // waited in the qdisc (the clone kept them alive), or
                    // pieces beyond the descriptor budget: one more.
                    let addr = KERNEL_FRAG_BASE + at;
                    last = tx.post(addr, (end - at) as u16, CMD_EOP | CMD_RS);
                    descs += 1;
                }
                s.zc_ref(off, len as u64, true);
            }
            let ctx = payload.map_or(Ctx::NONE, |(f, off, len)| {
                Ctx::stream(f as usize, off, len as u64)
            });
            host.acct.charge_ctx(
                c,
                Step::TxDescPost,
                (descs as u64, frame.len() as u64),
                cost.desc_write * descs as u64,
                ctx.with_slot(last),
            );
            let info = &mut host.tx.info[last as usize];
            info.frame = Some(buf);
            info.descs = descs;
            info.payload = payload;
            info.gso_size = gso_size;
            posted = true;
        }
        if posted {
            let db = host.cost.doorbell;
            host.acct.charge(c, Step::TxDoorbell, 1, 0, db);
            host.tx.ring_doorbell();
            self.nic_fill(h, *c);
        }
    }

    /// NAPI poll (`e1000_clean`): reclaim Tx descriptors, take up to the
    /// budget of received frames into sk_buffs, refill the Rx ring, run the
    /// stack, and either re-arm the interrupt or poll again.
    fn napi(&mut self, h: usize, c: &mut Nanos) {
        let host = &mut self.hosts[h];
        let cost = &host.cost;
        host.acct.charge(c, Step::NapiPoll, 1, 0, cost.napi_poll);
        // Tx completions.
        while let Some((_, info)) = host.tx.clean_one(*c) {
            host.acct.charge(c, Step::TxClean, 1, 0, cost.skb_alloc);
            if let Some((f, off, len)) = info.payload {
                self.flows[f as usize].sender.zc_ref(off, len as u64, false);
            }
        }
        if host.tx_stopped && host.tx.unused() >= MAX_DESC_PER_FRAME {
            host.tx_stopped = false;
        }
        // Rx.
        let budget = host.cfg.nic.napi_budget;
        let copybreak = host.cfg.nic.copybreak as usize;
        let rx_csum = host.cfg.nic.offloads.rx_checksum;
        let gro = host.cfg.nic.offloads.gro;
        // The GRO skb still open for merging, if the last frame handed over
        // may grow: its ports, next sequence number and ACK number.
        let mut gro_open: Option<kernel::TcpSeg> = None;
        let mut work = 0;
        while work < budget {
            let host = &mut self.hosts[h];
            let Some((_, frame)) = host.rx.clean_one(*c) else {
                break;
            };
            work += 1;
            let cost = &host.cost;
            let len = frame.len() as u64;
            if frame.len() <= copybreak {
                host.acct.charge(c, Step::Copybreak, 1, len, cost.copy(len));
            } else {
                host.acct
                    .charge(c, Step::RxBuildSkb, 1, len, cost.skb_alloc);
            }
            // Byte-by-byte verification only when the wire can corrupt;
            // otherwise every frame left a stack or NIC with valid sums.
            let bad = self.verify_rx && !kernel::checksums_ok(&frame);
            let seg = kernel::tcp_segment(&frame);
            let n = match seg {
                Some(g) => g.ip_len as u64,
                None => kernel::ipv4_checksummed_len(&frame) as u64,
            };
            if n > 0 {
                if rx_csum {
                    host.acct.note(*c, Step::RxChecksumOffload, 1, n);
                }
                // Without offload, or when the NIC flagged an error
                // (CHECKSUM_NONE), the CPU checks: the stack, or GRO's
                // skb_gro_checksum_validate before merging.
                if !rx_csum || bad {
                    host.acct
                        .charge(c, Step::RxChecksum, 1, n, cost.checksum(n));
                }
            }
            if bad {
                host.acct.note(*c, Step::RxBadChecksum, 1, len);
                host.page_pool.put(1);
                self.free.push(frame);
                gro_open = None;
                continue;
            }
            let mut merged = false;
            if gro {
                host.acct.charge(c, Step::GroReceive, 1, len, cost.gro);
                if let (Some(open), Some(g), Some(skb)) = (gro_open, seg, host.rx_in.back_mut()) {
                    // tcp_gro_receive: the next in-order segment of the
                    // open flow, with the same ACK, joins the open skb.
                    if g.continues(&open) && skb.len() + g.payload_len <= kernel::GSO_MAX_FRAME {
                        kernel::gro_merge(skb, &frame, &g);
                        merged = true;
                        host.acct.note(*c, Step::GroMerge, 1, g.payload_len as u64);
                    }
                }
                // A segment with PSH (or any flag but ACK) closes its skb.
                gro_open = seg.filter(|g| g.payload_len > 0 && g.flags == kernel::TCP_ACK);
            }
            if !merged {
                let ctx = if host.acct.events.is_some() {
                    rx_ctx(host, &self.flows, &frame)
                } else {
                    Ctx::NONE
                };
                let ns = cost.per_packet_rx;
                host.acct.charge_ctx(c, Step::RxStack, (1, len), ns, ctx);
            }
            // tcp_v4_rcv -> tcp_data_queue: the socket's receive queue.
            let mut held = false;
            if let Some(g) = seg {
                let ep = host
                    .endpoints
                    .iter()
                    .find(|e| e.role == Role::Receiver && e.matches(g.dst_port, g.src_port));
                if let Some(ep) = ep {
                    let r = &mut self.flows[ep.flow as usize].receiver;
                    let queued = r.segment(g.seq, g.payload_len, g.syn(), merged);
                    match queued {
                        Some(RxQueued::OutOfOrder) => {
                            host.acct
                                .note(*c, Step::RxOutOfOrder, 1, g.payload_len as u64)
                        }
                        Some(RxQueued::Duplicate) => {
                            host.acct
                                .note(*c, Step::RxDuplicate, 1, g.payload_len as u64)
                        }
                        _ => {}
                    }
                    // The socket holds the page until a read frees the skb;
                    // duplicates' pages come straight back.
                    held = queued.is_some();
                    let dropped = std::mem::take(&mut r.rcv_queue.dropped_pages);
                    host.page_pool.put(dropped);
                }
            }
            if !held {
                // Consumed in softirq (ACKs, control): page_pool_recycle_direct.
                host.page_pool.put(1);
            }
            if merged {
                self.free.push(frame);
            } else {
                host.rx_in.push_back(frame);
            }
        }
        self.rx_refill(h, c, true);
        self.poll_stack(h, c);
        let host = &mut self.hosts[h];
        host.softirq_work += work;
        if host.softirq_work >= NETDEV_BUDGET {
            // net_rx_action ran out of its budget: the rest of the work
            // waits for ksoftirqd, behind whatever else wants the CPU.
            host.acct.note(*c, Step::SoftirqSqueeze, 1, 0);
            host.softirq_work = 0;
        }
        if work >= budget {
            self.q.push(*c, Ev::Napi { host: h as u8 });
        } else {
            host.softirq_work = 0;
            // napi_complete_done: interrupts back on; anything the NIC
            // finished meanwhile raises one.
            host.napi_scheduled = false;
            host.irq_enabled = true;
            let pending = match (host.tx.pending_dd(), host.rx.pending_dd()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            if let Some(t) = pending {
                self.raise_irq(h, t.max(*c));
            }
        }
    }

    /// `e1000_alloc_rx_buffers`: post fresh buffers to every free Rx slot
    /// and write RDT once.
    fn rx_refill(&mut self, h: usize, c: &mut Nanos, charge: bool) {
        let host = &mut self.hosts[h];
        let buf_len = host.rx.buf_len;
        let mut n = 0u64;
        while host.rx.unused() > 0 {
            let mut buf = self.free.pop().unwrap_or_default();
            if buf.capacity() < buf_len {
                buf.reserve(buf_len - buf.len());
            }
            if host.rx.post(buf).is_err() {
                break;
            }
            n += 1;
        }
        if n > 0 {
            let (hits, misses) = host.page_pool.alloc(n);
            if charge {
                let cost = &host.cost;
                host.acct
                    .charge(c, Step::RxRefill, n, 0, cost.desc_write * n);
                if hits > 0 {
                    let ns = cost.skb_alloc * hits;
                    host.acct
                        .charge(c, Step::PagePoolHit, hits, hits * 4096, ns);
                }
                if misses > 0 {
                    let ns = cost.page_alloc * misses;
                    host.acct
                        .charge(c, Step::PagePoolMiss, misses, misses * 4096, ns);
                }
                host.acct.charge(c, Step::RxDoorbell, 1, 0, cost.doorbell);
            }
            host.rx.ring_doorbell();
        }
    }

    // ----- NIC --------------------------------------------------------

    /// The NIC fetches posted frames into its Tx FIFO (descriptor fetch,
    /// payload DMA read, DD write-back) while the FIFO has room, and makes
    /// sure the next departure is scheduled.
    fn nic_fill(&mut self, h: usize, now: Nanos) {
        loop {
            let host = &mut self.hosts[h];
            if host.staged_bytes >= TX_FIFO_BYTES {
                break;
            }
            let Some((_, n, eop)) = host.tx.nic_fetch_frame() else {
                break;
            };
            // Descriptors come on chip in bursts: one DMA read fetches up to
            // TX_DESC_PREFETCH of them.
            while host.desc_onchip < n {
                let burst = host
                    .tx
                    .to_tail(host.tx_fetch)
                    .min(TX_DESC_PREFETCH)
                    .max(n - host.desc_onchip);
                host.desc_ready = host.dma.read(&host.cost, now, DESC_SIZE * burst as u64);
                host.acct.note(
                    now,
                    Step::TxDescFetch,
                    burst as u64,
                    DESC_SIZE * burst as u64,
                );
                host.tx_fetch = (host.tx_fetch + burst) % host.tx.size();
                host.desc_onchip += burst;
            }
            host.desc_onchip -= n;
            let fetched = host.desc_ready.max(now);
            let info = &mut host.tx.info[eop as usize];
            let mut frame = info.frame.take().unwrap_or_default();
            let mss = info.gso_size as usize;
            let info_payload = info.payload;
            if let Some((f, off, plen)) = info.payload {
                let s = &mut self.flows[f as usize].sender;
                if s.keeps_bytes() && host.cfg.nic.offloads.tx_checksum {
                    // The NIC reads user pages now, whatever they hold now.
                    patch_from_user(s, off, plen, &mut frame);
                }
            }
            let len = frame.len() as u64;
            let ready = host.dma.read(&host.cost, fetched, len);
            let ctx = info_payload.map_or(Ctx::NONE, |(f, off, plen)| {
                Ctx::stream(f as usize, off, plen as u64).with_slot(eop)
            });
            host.acct.note_ctx(now, Step::TxDmaRead, 1, len, ctx);
            let csum = host.cfg.nic.offloads.tx_checksum;
            let stage = |host: &mut Host, mut f: Vec<u8>| {
                if csum {
                    // CHECKSUM_PARTIAL: the NIC fills in what the stack left.
                    kernel::fill_checksums(&mut f);
                    let k = kernel::ipv4_checksummed_len(&f) as u64;
                    if k > 0 {
                        host.acct.note(now, Step::TxChecksumOffload, 1, k);
                    }
                }
                host.staged_bytes += f.len() as u64;
                host.staged.push_back((ready, f));
            };
            if mss > 0 && host.cfg.nic.offloads.tso {
                // TSO: one super-segment in, MSS-sized frames out.
                let mut segs = Vec::new();
                let k = kernel::segment(&frame, mss, &mut self.free, &mut |b| segs.push(b));
                host.acct.note(now, Step::TsoSegment, k as u64, len);
                for seg in segs {
                    stage(host, seg);
                }
                self.free.push(frame);
            } else {
                stage(host, frame);
            }
            // Write-back of DD in batches of TX_WTHRESH descriptors.
            host.wb_pending += n;
            host.wb_ready = ready;
            if host.wb_pending >= TX_WTHRESH {
                self.tx_writeback(h, now);
            }
        }
        if !self.hosts[h].tx.nic_has_work() && self.hosts[h].wb_pending > 0 {
            // Out of work: write back what is pending.
            self.tx_writeback(h, now);
        }
        self.schedule_nic_tx(h);
    }

    /// The NIC writes DD back for every fetched descriptor not yet written
    /// back, in one DMA write, and raises the completion interrupt.
    fn tx_writeback(&mut self, h: usize, now: Nanos) {
        let host = &mut self.hosts[h];
        let n = host.wb_pending;
        let dd = host
            .dma
            .write(&host.cost, host.wb_ready, DESC_SIZE * n as u64);
        let first = host.tx.wb;
        host.tx.nic_writeback(first, n, dd);
        host.acct
            .note(now, Step::TxWriteback, n as u64, DESC_SIZE * n as u64);
        host.wb_pending = 0;
        self.raise_irq(h, dd);
    }

    fn schedule_nic_tx(&mut self, h: usize) {
        let host = &mut self.hosts[h];
        if host.nic_tx_scheduled {
            return;
        }
        let Some(&(ready, _)) = host.staged.front() else {
            return;
        };
        let link = &self.links[h];
        let at = if link.has_queue() {
            ready
        } else {
            ready.max(link.busy_until())
        };
        host.nic_tx_scheduled = true;
        self.q.push(at, Ev::NicTx { host: h as u8 });
    }

    /// The staged frame at the FIFO's head leaves the port.
    fn nic_transmit(&mut self, h: usize, t: Nanos) {
        let host = &mut self.hosts[h];
        host.nic_tx_scheduled = false;
        let Some((_, mut frame)) = host.staged.pop_front() else {
            return;
        };
        host.staged_bytes -= frame.len() as u64;
        host.acct.note(t, Step::WireTx, 1, frame.len() as u64);
        if self.want_frames {
            self.obs.frame(h, t, Direction::Out, &frame);
        }
        let peer = 1 - h;
        match self.links[h].send(t, frame.len(), &mut self.rng) {
            Verdict::QueueDrop | Verdict::Lost { .. } => self.free.push(frame),
            Verdict::Deliver {
                arrive,
                corrupt_bit,
                duplicate_at,
                ..
            } => {
                if let Some(bit) = corrupt_bit {
                    frame[(bit / 8) as usize] ^= 1 << (bit % 8);
                }
                // The real wire (a TAP device): frames leave now; the
                // peer's kernel sees them when the device hands them over.
                let real = self.kernel_host == Some(peer);
                if let Some(at) = duplicate_at {
                    let mut dup = self.free.pop().unwrap_or_default();
                    dup.clear();
                    dup.extend_from_slice(&frame);
                    if real {
                        self.to_port.push(dup);
                    } else {
                        let slot = self.put_on_wire(dup);
                        let host = peer as u8;
                        self.q.push(at, Ev::Arrive { host, slot });
                    }
                }
                if real {
                    self.to_port.push(frame);
                    self.nic_fill(h, t);
                    return;
                }
                let slot = self.put_on_wire(frame);
                let host = peer as u8;
                self.q.push(arrive, Ev::Arrive { host, slot });
            }
        }
        self.nic_fill(h, t);
    }

    /// Parks a frame while it crosses the wire; returns its slot.
    fn put_on_wire(&mut self, frame: Vec<u8>) -> u32 {
        match self.on_wire_free.pop() {
            Some(slot) => {
                self.on_wire[slot as usize] = frame;
                slot
            }
            None => {
                self.on_wire.push(frame);
                (self.on_wire.len() - 1) as u32
            }
        }
    }

    /// A frame arrives at host `h`'s port: DMA it into the next posted Rx
    /// buffer, or drop it if the ring has none.
    fn nic_receive(&mut self, h: usize, t: Nanos, frame: Vec<u8>) {
        if self.want_frames {
            self.obs.frame(h, t, Direction::In, &frame);
        }
        let host = &mut self.hosts[h];
        let len = frame.len() as u64;
        host.acct.note(t, Step::WireRx, 1, len);
        if host.rx.nic_slot().is_none() || frame.len() > host.rx.buf_len {
            host.acct.note(t, Step::RxRingDrop, 1, len);
            self.free.push(frame);
            return;
        }
        let written = if host.cfg.nic.header_split {
            // Headers into a small buffer, payload into its own page.
            let payload = kernel::tcp_segment(&frame).map_or(0, |g| g.payload_len as u64);
            let headers = len - payload;
            host.acct.note(t, Step::HeaderSplit, 1, headers);
            let h_done = host.dma.write(&host.cost, t, headers);
            host.dma.write(&host.cost, t, payload).max(h_done)
        } else {
            host.dma.write(&host.cost, t, len)
        };
        let ctx = if host.acct.events.is_some() {
            rx_ctx(host, &self.flows, &frame).with_slot(host.rx.head)
        } else {
            Ctx::NONE
        };
        host.acct.note_ctx(t, Step::RxDmaWrite, 1, len, ctx);
        let dd = host.dma.writeback(&host.cost, written, DESC_SIZE);
        host.acct.note_ctx(t, Step::RxWriteback, 1, DESC_SIZE, ctx);
        let (_, old) = host.rx.nic_write(frame, dd);
        self.free.push(old);
        self.raise_irq(h, dd);
    }

    /// The NIC has completed work at `t`; with interrupts enabled and none
    /// pending, the moderation timer fires `irq_coalesce` later.
    fn raise_irq(&mut self, h: usize, t: Nanos) {
        let host = &mut self.hosts[h];
        if host.irq_enabled && !host.irq_scheduled {
            host.irq_scheduled = true;
            let at = t + host.cfg.nic.irq_coalesce;
            self.q.push(at, Ev::Irq { host: h as u8 });
        }
    }

    // ----- Report -----------------------------------------------------

    /// The report; `expected[i]` is the hash of flow `i`'s whole stream.
    fn report(&mut self, outcome: Outcome, expected: &[u64]) -> RunReport {
        let mut flows = Vec::new();
        let mut outcome = outcome;
        for (i, fl) in self.flows.iter().enumerate() {
            let s = &fl.sender;
            let r = &fl.receiver;
            let mut fr = FlowReport {
                from: self.hosts[fl.from].name.clone(),
                to: self.hosts[fl.to].name.clone(),
                port: fl.port,
                send: s.path.name(),
                recv: r.path.name(),
                bytes_sent: s.issued,
                bytes_received: r.received,
                sent_hash: match expected.get(i) {
                    Some(&h) if s.issued == s.total => h,
                    _ => s.data.hash(s.issued),
                },
                received_hash: r.hash.finish(),
                writes: s.writes,
                reads: r.reads,
                first_write_ns: s.first_write.unwrap_or(0),
                last_read_ns: r.last_read,
                write_latency: Latency {
                    p50: fl.latency.value_at_quantile(0.5),
                    p99: fl.latency.value_at_quantile(0.99),
                    max: fl.latency.max(),
                },
                retransmitted_segments: s.retransmitted_segments,
                violations: s.violations.clone(),
                pool: s.pool.kind().name(),
                pool_stats: s.pool.stats,
                leaked_buffers: s.pool.in_use() as u64,
                echo: r.echo.as_ref().map(|o| EchoReport {
                    bytes_written_back: o.written,
                    written_back_hash: o.hash.finish(),
                    bytes_read_back: s.echo.as_ref().map_or(0, |e| e.received),
                    read_back_hash: s.echo.as_ref().map_or(0, |e| e.hash.finish()),
                }),
                kernel_side: None,
            };
            if self.kernel_host == Some(fl.from) {
                // The kernel sent: simnet knows its bytes only as received.
                fr.kernel_side = Some(KernelSide::Sender);
                fr.sent_hash = fr.received_hash;
                fr.bytes_sent = s.total;
                fr.send = "kernel";
                fr.writes = 0;
                fr.first_write_ns = r.first_read.unwrap_or(0);
            } else if self.kernel_host == Some(fl.to) {
                // The kernel received: what it acknowledged, and (echoed)
                // what it sent back.
                fr.kernel_side = Some(KernelSide::Receiver);
                fr.bytes_received = s.acked;
                fr.received_hash = fr.echo.map_or(0, |e| e.read_back_hash);
                fr.recv = "kernel";
                fr.reads = 0;
                fr.last_read_ns = self.now;
            }
            if matches!(outcome, Outcome::Ok | Outcome::Integrity) && !fr.violations.is_empty() {
                outcome = Outcome::LifetimeViolation;
            } else if outcome == Outcome::Ok && !fr.integrity_ok() {
                outcome = Outcome::Integrity;
            }
            flows.push(fr);
        }
        let mut hosts = Vec::new();
        for (h, host) in self.hosts.iter().enumerate() {
            if self.kernel_host == Some(h) {
                continue; // not simulated: the kernel's numbers are its own
            }
            let mut peak = 0;
            let mut leaked = 0;
            for fl in &self.flows {
                if fl.from == h {
                    peak += fl.sender.pool.stats.peak_in_use;
                    leaked += fl.sender.pool.in_use() as u64;
                }
            }
            hosts.push(HostReport {
                name: host.name.clone(),
                counters: host.acct.counters.clone(),
                cpu_busy_ns: host.cpu_busy,
                pool_peak_in_use: peak,
                leaked_buffers: leaked,
                gso_segments: host.acct.counters.get(Step::GsoSegment).count
                    + host.acct.counters.get(Step::TsoSegment).count,
                gro_merges: host.acct.counters.get(Step::GroMerge).count,
                gro_saved_ns: host.acct.counters.get(Step::GroMerge).count
                    * host.cost.per_packet_rx,
                page_pool: host.page_pool,
            });
        }
        let mut wire = WireReport::default();
        for l in &self.links {
            wire.frames += l.stats.frames;
            wire.bytes += l.stats.bytes;
            wire.dropped += l.stats.dropped;
            wire.duplicated += l.stats.duplicated;
            wire.reordered += l.stats.reordered;
            wire.corrupted += l.stats.corrupted;
        }
        let bottleneck = self.bottleneck(&hosts);
        RunReport {
            scenario: self.scenario.name.clone(),
            seed: self.scenario.seed,
            simulated_ns: self.now,
            outcome,
            flows,
            hosts,
            wire,
            bottleneck,
        }
    }

    /// Names what limited the run: the busiest of wire, CPUs and DMA.
    fn bottleneck(&self, hosts: &[HostReport]) -> String {
        let span = self.now.max(1) as f64;
        let mut best = (
            0.0f64,
            String::from("nothing saturated (latency or window bound)"),
        );
        for (h, l) in self.links.iter().enumerate() {
            let u = l.busy_ns as f64 / span;
            if u > best.0 {
                best = (
                    u,
                    format!("link {} -> {}", self.hosts[h].name, self.hosts[1 - h].name),
                );
            }
        }
        for hr in hosts {
            let h = self
                .hosts
                .iter()
                .position(|x| x.name == hr.name)
                .unwrap_or(0);
            let u = hr.cpu_busy_ns as f64 / span;
            if u > best.0 {
                let top = hr
                    .cpu_by_category()
                    .into_iter()
                    .max_by_key(|&(_, ns)| ns)
                    .map(|(c, _)| c.name())
                    .unwrap_or("none");
                best = (u, format!("CPU on {} (mostly {top})", self.hosts[h].name));
            }
            let d = &self.hosts[h].dma;
            let u = d.read_busy.max(d.write_busy) as f64 / span;
            if u > best.0 {
                best = (u, format!("DMA on {}", self.hosts[h].name));
            }
        }
        if best.0 >= 0.8 {
            return format!("{} ({:.0}% busy)", best.1, best.0 * 100.0);
        }
        // Nothing saturated: descriptors or windows held the flow back.
        let busiest = format!("busiest: {} at {:.0}%", best.1, best.0 * 100.0);
        for hr in hosts {
            let drops = hr.rx_ring_drops();
            if drops > 0 {
                return format!(
                    "Rx ring on {}: {drops} frames dropped for want of a descriptor, \
                     recovered by retransmission ({busiest})",
                    hr.name
                );
            }
        }
        for hr in hosts {
            let stops = hr.counters.get(Step::TxRingFull).count;
            if stops * 10 > hr.counters.get(Step::WireTx).count.max(1) {
                return format!(
                    "Tx ring on {}: the queue stopped {stops} times ({busiest})",
                    hr.name
                );
            }
        }
        format!("window or latency: nothing saturated ({busiest})")
    }
}

/// Provenance of a received frame for observers: the flow whose data it
/// carries and the stream bytes, from the receiver's view of the sequence.
fn rx_ctx(host: &Host, flows: &[Flow], frame: &[u8]) -> Ctx {
    let Some(g) = kernel::tcp_segment(frame) else {
        return Ctx::NONE;
    };
    let ep = host
        .endpoints
        .iter()
        .find(|e| e.role == Role::Receiver && e.matches(g.dst_port, g.src_port));
    match ep {
        Some(ep) if g.payload_len > 0 => {
            let f = ep.flow as usize;
            match flows[f].receiver.offset_of(g.seq) {
                Some(off) => Ctx::stream(f, off, g.payload_len as u64),
                None => Ctx::NONE,
            }
        }
        _ => Ctx::NONE,
    }
}

/// Copies the current contents of the application buffers behind the
/// zero-copy frags of stream bytes `[off, off + len)` into `frame`'s
/// payload: what a DMA read (or Linux's shared-frag copy) of user pages
/// sees. Only needed when the application may have rewritten them.
fn patch_from_user(s: &mut Sender, off: u64, len: u32, frame: &mut [u8]) {
    let start = frame.len() - len as usize;
    let mut pos = start;
    let (pool, size) = (&s.pool, s.write_size);
    s.write_queue.map(off, len as u64, |addr, n, mem| {
        if let FragMem::User { buffer } = mem {
            let b = pool.get(buffer);
            let from = (addr - crate::syscall::buffer_addr(size, pool, buffer)) as usize;
            if from + n as usize <= b.data.len() {
                frame[pos..pos + n as usize].copy_from_slice(&b.data[from..from + n as usize]);
            }
        }
        pos += n as usize;
    });
}

/// Whether the peer has closed its side of the connection (FIN or RST).
/// A listener or a connection still being set up has not.
fn peer_closed(state: tcp::State) -> bool {
    matches!(
        state,
        tcp::State::CloseWait
            | tcp::State::LastAck
            | tcp::State::Closing
            | tcp::State::TimeWait
            | tcp::State::Closed
    )
}

/// Whether the sender still has a read-back to wait for.
fn awaits_echo(s: &Sender) -> bool {
    s.echo
        .as_ref()
        .is_some_and(|e| e.received < s.total && !e.eof)
}

/// The echo client reads back what the peer returned: one `read(2)` per
/// call, copied to user space and checked against what it sent.
fn echo_read_back(host: &mut Host, handle: SocketHandle, e: &mut EchoIn, f: usize, c: &mut Nanos) {
    let sock = host.sockets.get_mut::<tcp::Socket>(handle);
    let mut n = 0u64;
    let closed = peer_closed(sock.state());
    while sock.can_recv() {
        let hash = &mut e.hash;
        let got = sock
            .recv(|data| {
                hash.write(data);
                (data.len(), data.len())
            })
            .unwrap_or(0);
        if got == 0 {
            break;
        }
        n += got as u64;
    }
    if closed && !sock.can_recv() {
        e.eof = true; // the peer closed: nothing more will come back
    }
    if n == 0 {
        return;
    }
    let ctx = Ctx::stream(f, e.received, n);
    let cost = &host.cost;
    host.acct
        .charge_ctx(c, Step::ReadSyscall, (1, n), cost.syscall, ctx);
    host.acct
        .charge_ctx(c, Step::CopyToUser, (1, n), cost.copy(n), ctx);
    e.received += n;
}

/// The echo server writes back what it has read: `write(2)` calls that
/// copy from its buffer into the socket, as far as the send buffer allows.
fn echo_write_back(
    host: &mut Host,
    handle: SocketHandle,
    e: &mut EchoOut,
    f: usize,
    c: &mut Nanos,
) {
    let sock = host.sockets.get_mut::<tcp::Socket>(handle);
    let mut n = 0u64;
    while !e.pending.is_empty() {
        let (a, _) = e.pending.as_slices();
        let k = sock.send_slice(a).unwrap_or(0);
        if k == 0 {
            break;
        }
        e.hash.write(&a[..k]);
        e.pending.drain(..k);
        n += k as u64;
    }
    if n == 0 {
        return;
    }
    let ctx = Ctx::stream(f, e.written, n);
    let cost = &host.cost;
    host.acct
        .charge_ctx(c, Step::WriteSyscall, (1, n), cost.syscall, ctx);
    host.acct
        .charge_ctx(c, Step::CopyFromUser, (1, n), cost.copy(n), ctx);
    e.written += n;
}

/// Schedules an application step of flow `f` at `at`, unless one is
/// already pending.
fn wake_app(q: &mut EventQueue<Ev>, pending: &mut bool, at: Nanos, f: usize, recv: bool) {
    if !*pending {
        *pending = true;
        q.push(
            at,
            Ev::App {
                flow: f as u16,
                recv,
            },
        );
    }
}

/// Reaps zero-copy completions: `recvmsg(MSG_ERRQUEUE)` once per queued
/// (coalesced) range for MSG_ZEROCOPY; for io_uring, the F_NOTIF CQEs are
/// read from the completion ring without a syscall. Either way the buffers
/// go back to the pool.
fn reap_errqueue(host: &mut Host, s: &mut Sender, c: &mut Nanos) {
    while let Some((lo, hi)) = s.errqueue.pop_front() {
        let n = (hi.wrapping_sub(lo) + 1) as u64;
        if s.path.io_uring() {
            host.acct.note(*c, Step::IoUringCqe, n, 0);
        } else {
            let sc = host.cost.syscall;
            host.acct.charge(c, Step::ErrqueueSyscall, 1, n, sc);
        }
    }
    for id in s.completed_buffers.drain(..) {
        if s.reuse == Reuse::AfterCompletion {
            s.pool.release(id);
        }
        host.acct
            .note_ctx(*c, Step::BufferReturned, 1, 0, Ctx::NONE.with_buffer(id));
    }
}

fn build_host(id: u8, hc: &HostConfig, sc: &Scenario, rng: &mut Rng, events: bool) -> Host {
    let caps = kernel::capabilities(sc.link.mtu, hc.nic.offloads);
    let mac = EthernetAddress([0x02, 0, 0, 0, 0, id + 1]);
    let mut config = Config::new(HardwareAddress::Ethernet(mac));
    config.random_seed = rng.next_u64();
    let mut rx_in = VecDeque::new();
    let mut rx_done = Vec::new();
    let mut tx_out = Vec::new();
    let mut free = Vec::new();
    let mut port = Port {
        rx_in: &mut rx_in,
        rx_done: &mut rx_done,
        tx_out: &mut tx_out,
        free: &mut free,
        tx_room: 0,
        caps: &caps,
    };
    let mut iface = Interface::new(config, &mut port, Instant::from_micros(0));
    iface.update_ip_addrs(|addrs| {
        let _ = addrs.push(IpCidr::new(IpAddress::Ipv4(hc.address), hc.prefix_len));
    });
    let rx_buf = (sc.link.mtu as usize + 14).next_power_of_two().max(2048);
    Host {
        name: hc.name.clone(),
        cost: hc.cpu.clone(),
        cfg: hc.clone(),
        iface,
        sockets: SocketSet::new(Vec::new()),
        caps,
        endpoints: Vec::new(),
        rx_in,
        rx_done,
        tx_out,
        qdisc: VecDeque::new(),
        tx: TxRing::new(hc.nic.tx_ring),
        rx: RxRing::new(hc.nic.rx_ring, rx_buf),
        dma: Dma::default(),
        staged: VecDeque::new(),
        staged_bytes: 0,
        nic_tx_scheduled: false,
        tx_fetch: 0,
        desc_onchip: 0,
        desc_ready: 0,
        wb_pending: 0,
        wb_ready: 0,
        irq_enabled: true,
        irq_scheduled: false,
        napi_scheduled: false,
        tx_stopped: false,
        cpu_free: 0,
        cpu_busy: 0,
        acct: Acct {
            id,
            counters: Counters::default(),
            events: events.then(Vec::new),
        },
        poll_at: None,
        page_pool: PagePool::default(),
        softirq_work: 0,
    }
}

fn add_socket(
    host: &mut Host,
    sndbuf: u32,
    rcvbuf: u32,
    sc: &crate::config::SocketConfig,
) -> SocketHandle {
    let rx = tcp::SocketBuffer::new(vec![0; rcvbuf as usize]);
    let tx = tcp::SocketBuffer::new(vec![0; sndbuf as usize]);
    let mut s = tcp::Socket::new(rx, tx);
    s.set_nagle_enabled(sc.nagle);
    s.set_congestion_control(match sc.congestion {
        Congestion::Cubic => tcp::CongestionControl::Cubic,
        Congestion::Reno => tcp::CongestionControl::Reno,
        Congestion::None => tcp::CongestionControl::None,
    });
    if host.cfg.nic.offloads.gro {
        // A GRO skb holds many segments' bytes, and Linux ACKs it at once
        // (more than one MSS unacknowledged). smoltcp's delayed ACK counts
        // segments, so on a GRO host it would wait its 10 ms for every
        // merged skb: turn the delay off and ACK each one.
        s.set_ack_delay(None);
    }
    host.sockets.add(s)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::*;
    use crate::event::NoObserver;

    pub(crate) fn scenario(bytes: u64, write_size: u32, send: SendPath) -> Scenario {
        Scenario::two_hosts(bytes, write_size, send)
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
        assert_eq!(s.completions(), 16);
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
        assert!(w.flows[0].receiver.rcv_queue.is_empty());
        assert!(w.flows[0].sender.write_queue.is_empty());
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
        fn frame(&mut self, _: usize, _: Nanos, _: Direction, frame: &[u8]) {
            self.frames += 1;
            if !kernel::checksums_ok(frame) {
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

    #[test]
    fn header_split_writes_headers_and_payload_apart() {
        let mut sc = scenario(1 << 20, 65536, SendPath::Write);
        sc.hosts[1].nic.header_split = true;
        let r = run(&sc, &mut NoObserver).unwrap();
        assert_eq!(r.outcome, Outcome::Ok);
        let rx = &r.hosts[1].counters;
        assert_eq!(rx.get(Step::HeaderSplit).count, rx.get(Step::WireRx).count);
        assert_eq!(r.hosts[0].counters.get(Step::HeaderSplit).count, 0);
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
}
