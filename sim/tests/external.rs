//! `World::run_external` against a stand-in for the kernel: a bare smoltcp
//! interface behind an [`ExternalPort`] with a virtual clock. The same loop
//! the TAP backend drives, without root, a device or the wall clock.

use std::collections::VecDeque;
use std::io;

use simnet_sim::config::{Scenario, SendPath, TapConfig};
use simnet_sim::event::{NoObserver, Step};
use simnet_sim::external::ExternalPort;
use simnet_sim::report::{KernelSide, Outcome};
use simnet_sim::world::World;
use simnet_sim::Nanos;
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, Ipv4Address};

/// Frames in both directions between the simulated port and the peer.
#[derive(Default)]
struct Queues {
    to_peer: VecDeque<Vec<u8>>,
    from_peer: VecDeque<Vec<u8>>,
}

struct Rx(Vec<u8>);
struct Tx<'a>(&'a mut VecDeque<Vec<u8>>);

impl phy::RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl phy::TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = vec![0; len];
        let r = f(&mut buf);
        self.0.push_back(buf);
        r
    }
}

impl Device for Queues {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _: Instant) -> Option<(Rx, Tx<'_>)> {
        let frame = self.to_peer.pop_front()?;
        Some((Rx(frame), Tx(&mut self.from_peer)))
    }

    fn transmit(&mut self, _: Instant) -> Option<Tx<'_>> {
        Some(Tx(&mut self.from_peer))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = 1514;
        caps
    }
}

/// The "kernel": an echo client that sends `data`, reads it all back and
/// closes; or (`server`) an echo server. Time moves only when the model
/// waits.
struct FakeKernel {
    server: bool,
    pending: Vec<u8>,
    now: Nanos,
    dev: Queues,
    iface: Interface,
    sockets: SocketSet<'static>,
    handle: SocketHandle,
    data: Vec<u8>,
    sent: usize,
    back: Vec<u8>,
}

impl FakeKernel {
    /// An echo server listening on `port`.
    fn server(port: u16) -> FakeKernel {
        let mut k = FakeKernel::unconnected(Vec::new());
        k.server = true;
        let s = k.sockets.get_mut::<tcp::Socket>(k.handle);
        s.listen(port).unwrap();
        k
    }

    /// An echo client of simnet's server at 192.168.69.1:7.
    fn new(data: Vec<u8>) -> FakeKernel {
        let mut k = FakeKernel::unconnected(data);
        let cx = k.iface.context();
        k.sockets
            .get_mut::<tcp::Socket>(k.handle)
            .connect(cx, (Ipv4Address::new(192, 168, 69, 1), 7), 40000)
            .unwrap();
        k
    }

    fn unconnected(data: Vec<u8>) -> FakeKernel {
        let mut dev = Queues::default();
        let mac = EthernetAddress([0x02, 0, 0, 0, 0, 0x99]);
        let mut iface = Interface::new(
            Config::new(HardwareAddress::Ethernet(mac)),
            &mut dev,
            Instant::ZERO,
        );
        iface.update_ip_addrs(|a| {
            a.push(IpCidr::new(IpAddress::v4(192, 168, 69, 2), 24))
                .unwrap();
        });
        let mut sockets = SocketSet::new(Vec::new());
        let sock = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; 256 << 10]),
            tcp::SocketBuffer::new(vec![0; 256 << 10]),
        );
        let handle = sockets.add(sock);
        FakeKernel {
            server: false,
            pending: Vec::new(),
            now: 0,
            dev,
            iface,
            sockets,
            handle,
            data,
            sent: 0,
            back: Vec::new(),
        }
    }

    /// The peer's stack and its application take one step.
    fn step(&mut self) {
        let ts = Instant::from_micros((self.now / 1000) as i64);
        self.iface.poll(ts, &mut self.dev, &mut self.sockets);
        let s = self.sockets.get_mut::<tcp::Socket>(self.handle);
        if self.server {
            while s.can_recv() {
                s.recv(|b| {
                    self.back.extend_from_slice(b);
                    self.pending.extend_from_slice(b);
                    (b.len(), ())
                })
                .unwrap();
            }
            let k = s.send_slice(&self.pending).unwrap_or(0);
            self.pending.drain(..k);
            if self.pending.is_empty() && !s.may_recv() && s.may_send() {
                s.close();
            }
            self.iface.poll(ts, &mut self.dev, &mut self.sockets);
            return;
        }
        if s.can_send() && self.sent < self.data.len() {
            self.sent += s.send_slice(&self.data[self.sent..]).unwrap();
            if self.sent == self.data.len() {
                s.close();
            }
        }
        while s.can_recv() {
            s.recv(|b| {
                self.back.extend_from_slice(b);
                (b.len(), ())
            })
            .unwrap();
        }
        self.iface.poll(ts, &mut self.dev, &mut self.sockets);
    }
}

impl ExternalPort for FakeKernel {
    fn now(&mut self) -> Nanos {
        self.now
    }

    fn send(&mut self, frame: &[u8]) -> io::Result<()> {
        self.dev.to_peer.push_back(frame.to_vec());
        Ok(())
    }

    fn recv(&mut self, buf: &mut Vec<u8>, timeout: Nanos) -> io::Result<bool> {
        self.step();
        if let Some(f) = self.dev.from_peer.pop_front() {
            buf.clear();
            buf.extend_from_slice(&f);
            // A frame takes a microsecond to come.
            self.now += 1000;
            return Ok(true);
        }
        self.now += timeout.max(1000);
        Ok(false)
    }

    fn stop_requested(&self) -> bool {
        false
    }
}

fn tap_scenario(bytes: u64) -> Scenario {
    let mut sc = Scenario::two_hosts(bytes, 64 << 10, SendPath::Write);
    // The flow comes from the kernel (host 0) to simnet's host (1).
    sc.hosts[0].name = "kernel".into();
    sc.hosts[0].address = std::net::Ipv4Addr::new(192, 168, 69, 2);
    sc.hosts[1].name = "sim".into();
    sc.hosts[1].address = std::net::Ipv4Addr::new(192, 168, 69, 1);
    sc.flows[0].from = "kernel".into();
    sc.flows[0].to = "sim".into();
    sc.flows[0].port = 7;
    sc.flows[0].echo = true;
    sc.tap = Some(TapConfig {
        host: "sim".into(),
        device: "simnet0".into(),
    });
    sc
}

#[test]
fn a_real_peer_connects_from_its_own_port_and_gets_every_byte_echoed() {
    let n = 1 << 20;
    let data: Vec<u8> = (0..n).map(|i| (i * 7 + i / 251) as u8).collect();
    let sc = tap_scenario(n as u64);
    let mut obs = NoObserver;
    let mut w = World::new(&sc, &mut obs).unwrap();
    let mut peer = FakeKernel::new(data.clone());
    let r = w.run_external(&mut peer);
    assert_eq!(r.outcome, Outcome::Ok);
    assert!(
        peer.back == data,
        "the peer got {} bytes back",
        peer.back.len()
    );
    let f = &r.flows[0];
    assert_eq!(f.kernel_side, Some(KernelSide::Sender));
    assert!(f.integrity_ok());
    assert_eq!(f.bytes_received, n as u64);
    assert_eq!(f.echo.unwrap().bytes_written_back, n as u64);
    // Only simnet's host is reported, and its receive path saw the peer's
    // segments (matched although the peer chose its own port).
    assert_eq!(r.hosts.len(), 1);
    assert_eq!(r.hosts[0].name, "sim");
    let freed = r.hosts[0].counters.get(Step::RxSkbFree).count;
    assert!(freed > 0, "no received sk_buff was matched to the flow");
    assert!(w.port_error().is_none());
}

#[test]
fn a_tap_scenario_cannot_run_in_pure_simulation() {
    let sc = tap_scenario(1024);
    assert!(simnet_sim::run(&sc, &mut NoObserver).is_err());
}

#[test]
fn simnet_connects_to_a_real_listener_and_reads_its_echo_back() {
    let n = 300_000u64;
    let mut sc = tap_scenario(n);
    // The flow now goes from simnet's host (1) to the kernel (0), port 9000.
    sc.flows[0].from = "sim".into();
    sc.flows[0].to = "kernel".into();
    sc.flows[0].port = 9000;
    sc.flows[0].send = SendPath::MsgZerocopy;
    let mut obs = NoObserver;
    let mut w = World::new(&sc, &mut obs).unwrap();
    let mut peer = FakeKernel::server(9000);
    let r = w.run_external(&mut peer);
    assert_eq!(r.outcome, Outcome::Ok);
    assert_eq!(peer.back.len() as u64, n);
    let f = &r.flows[0];
    assert_eq!(f.kernel_side, Some(KernelSide::Receiver));
    assert!(f.integrity_ok());
    // What the peer received is what simnet says it sent, and came back.
    assert_eq!(
        twox_hash::XxHash3_64::oneshot(&peer.back),
        f.sent_hash,
        "the peer received other bytes"
    );
    assert_eq!(f.echo.unwrap().bytes_read_back, n);
    let h = &r.hosts[0];
    assert!(h.pinned_pages() > 0);
    assert_eq!(h.pinned_pages(), h.unpinned_pages());
}

#[test]
fn a_peer_that_closes_early_ends_the_run_with_an_integrity_failure() {
    // The scenario expects 1 MiB; the peer sends 100 kB and closes.
    let sc = tap_scenario(1 << 20);
    let data: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
    let mut obs = NoObserver;
    let mut w = World::new(&sc, &mut obs).unwrap();
    let mut peer = FakeKernel::new(data.clone());
    let r = w.run_external(&mut peer);
    assert_eq!(r.outcome, Outcome::Integrity);
    // Long before the time limit: the end of the stream ended the flow.
    assert!(r.simulated_ns < 1_000_000_000, "{} ns", r.simulated_ns);
    let f = &r.flows[0];
    assert_eq!(f.bytes_received, 100_000);
    assert!(!f.integrity_ok());
    // What did come was echoed whole.
    assert!(peer.back == data);
}
