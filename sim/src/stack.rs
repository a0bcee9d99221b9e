//! The TCP/IP stack: smoltcp, unmodified, and the device it polls.
//!
//! Owns a host's [`Stack`]: its smoltcp `Interface` and `SocketSet`, and
//! [`Port`], the `smoltcp::phy::Device` between the stack and the driver:
//! frames the stack transmits queue for the driver (`dev_queue_xmit` ->
//! `ndo_start_xmit`), sk_buffs NAPI built wait for the stack
//! (`netif_receive_skb`). Owns [`poll`]: run the stack at the CPU's cursor,
//! hand what it sent to the driver, let the socket layer react, and
//! schedule the stack's next timer (retransmission, delayed ACK).
//!
//! Does not own descriptors or time: the driver ([`crate::driver`]) turns
//! queued frames into Tx descriptors and charges the CPU for them. Frame
//! buffers are recycled through free lists; nothing here allocates per
//! frame once the lists are warm. smoltcp takes NAPI's sk_buffs one at a
//! time, its ACKs leaving where Linux's would ([`run`]). Where smoltcp
//! differs from Linux (it has no TSO autosizing) the report says what
//! smoltcp did.

use std::collections::{BTreeMap, VecDeque};

use smoltcp::iface::{Config, Interface, PollResult, SocketHandle, SocketSet};
use smoltcp::phy::{self, Checksum, ChecksumCapabilities, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr};

use crate::config::{self, Congestion, HostConfig, Offloads, SocketConfig};
use crate::driver;
use crate::engine::{Nanos, Rng};
use crate::frame::{self, GSO_MAX_FRAME};
use crate::host::Host;
use crate::schedule::Env;
use crate::schedule::Ev;
use crate::socket;

/// smoltcp's TCP socket, as the model's stages hold it.
pub type TcpSocket = tcp::Socket<'static>;

/// A frame the stack handed to the device, with the MSS to cut it into when
/// it is a TSO/GSO super-segment (`skb_shinfo(skb)->gso_size`; 0 if not).
#[derive(Debug, Default)]
pub struct TxFrame {
    pub buf: Vec<u8>,
    pub gso_size: u16,
    /// A segment software GSO cut from a retransmission (the driver's
    /// note; the stack sets it false).
    pub retransmit: bool,
}

/// An sk_buff NAPI handed to the stack: the frame (or GRO's merged
/// frames), and the connection (local port, remote port) whose data it
/// carries, if it carries data.
#[derive(Debug)]
pub struct RxSkb {
    pub buf: Vec<u8>,
    pub data_for: Option<(u16, u16)>,
    /// The receiving socket, when this is an in-order segment shorter than
    /// the largest the socket has received: one Linux marks
    /// `ICSK_ACK_PUSHED` (`tcp_measure_rcv_mss`) and ACKs as soon as the
    /// application's read drains the receive queue (`tcp_cleanup_rbuf`),
    /// not at its delayed-ACK timer ([`run`]).
    pub pushed: Option<SocketHandle>,
}

/// A host's TCP/IP stack and the queues between it and the driver.
pub struct Stack {
    iface: Interface,
    sockets: SocketSet<'static>,
    caps: DeviceCapabilities,
    /// sk_buffs NAPI handed to the stack, oldest first.
    pub rx_in: VecDeque<RxSkb>,
    /// Buffers the stack has consumed, to recycle.
    rx_done: Vec<Vec<u8>>,
    /// Frames the stack transmitted, for the driver.
    pub tx_out: Vec<TxFrame>,
    /// Data sk_buffs each connection (local port, remote port) took since
    /// it last sent a segment: those not yet acknowledged (see [`run`]).
    unacked: Unacked,
    /// The host has GRO: its sockets ACK every data sk_buff at once.
    gro: bool,
    /// Time of the pending `Poll` event, if any.
    pub poll_at: Option<Nanos>,
}

impl Stack {
    /// The stack of host `id` with the MAC `mac`, its address, MTU and
    /// offloads from `hc` and `mtu`; smoltcp's random seed from `rng`.
    pub fn new(mac: EthernetAddress, hc: &HostConfig, mtu: u32, rng: &mut Rng) -> Stack {
        let caps = capabilities(mtu, hc.nic.offloads);
        let mut config = Config::new(HardwareAddress::Ethernet(mac));
        config.random_seed = rng.next_u64();
        let mut rx_in = VecDeque::new();
        let mut rx_done = Vec::new();
        let mut tx_out = Vec::new();
        let mut free = Vec::new();
        let mut unacked = Unacked::new();
        let gro = hc.nic.offloads.gro;
        let mut port = Port {
            rx_in: &mut rx_in,
            rx_done: &mut rx_done,
            tx_out: &mut tx_out,
            free: &mut free,
            unacked: &mut unacked,
            ack_now: gro,
            tx_room: 0,
            caps: &caps,
        };
        let mut iface = Interface::new(config, &mut port, Instant::from_micros(0));
        iface.update_ip_addrs(|addrs| {
            let _ = addrs.push(IpCidr::new(IpAddress::Ipv4(hc.address), hc.prefix_len));
        });
        Stack {
            iface,
            sockets: SocketSet::new(Vec::new()),
            caps,
            rx_in,
            rx_done,
            tx_out,
            unacked,
            gro,
            poll_at: None,
        }
    }

    /// A TCP socket with buffer sizes and options `sc`, for a flow that
    /// carries at most `carries` bytes each way; with `gro`, ACKed at once
    /// (see below).
    ///
    /// smoltcp allocates a socket's buffers whole, up front; Linux charges
    /// `sk_sndbuf`/`sk_rcvbuf` only as data is queued. So that memory follows
    /// the bytes in flight rather than the number of flows, a buffer is no
    /// larger than its flow can ever fill: `carries` rounded up to a page
    /// ([`config::socket_buffer`]). The flow behaves the same (the
    /// window it advertises never limits it), but a capture shows that
    /// smaller window.
    pub fn add_socket(&mut self, sc: &SocketConfig, gro: bool, carries: u64) -> SocketHandle {
        let size = |cfg: u32| config::socket_buffer(cfg, carries) as usize;
        let rx = tcp::SocketBuffer::new(vec![0; size(sc.rcvbuf)]);
        let tx = tcp::SocketBuffer::new(vec![0; size(sc.sndbuf)]);
        let mut s = tcp::Socket::new(rx, tx);
        s.set_nagle_enabled(sc.nagle);
        s.set_congestion_control(match sc.congestion {
            Congestion::Cubic => tcp::CongestionControl::Cubic,
            Congestion::Reno => tcp::CongestionControl::Reno,
            Congestion::None => tcp::CongestionControl::None,
        });
        if gro {
            // A GRO skb holds many segments' bytes, and Linux ACKs it at
            // once (more than one MSS unacknowledged). smoltcp's delayed ACK
            // counts segments, so on a GRO host it would wait its 10 ms for
            // every merged skb: turn the delay off and ACK each one.
            s.set_ack_delay(None);
        }
        self.sockets.add(s)
    }

    /// smoltcp's socket `handle`.
    pub fn socket(&mut self, handle: SocketHandle) -> &mut TcpSocket {
        self.sockets.get_mut::<tcp::Socket>(handle)
    }

    /// smoltcp's socket `handle`, to look at.
    pub fn socket_ref(&self, handle: SocketHandle) -> &TcpSocket {
        self.sockets.get::<tcp::Socket>(handle)
    }

    /// `connect` socket `handle` from port `local` to `remote`.
    pub fn connect(
        &mut self,
        handle: SocketHandle,
        remote: (IpAddress, u16),
        local: u16,
    ) -> Result<(), tcp::ConnectError> {
        let cx = self.iface.context();
        self.sockets
            .get_mut::<tcp::Socket>(handle)
            .connect(cx, remote, local)
    }
}

/// Whether a socket has had everything it sent acknowledged and its FIN
/// sent and acknowledged: a real peer has seen the whole stream.
pub fn delivered_and_closed(sock: &TcpSocket) -> bool {
    sock.send_queue() == 0
        && matches!(
            sock.state(),
            tcp::State::FinWait2 | tcp::State::TimeWait | tcp::State::Closed
        )
}

/// Polls `host`'s stack at the cursor `c`, then hands what it transmitted
/// to the driver, lets the socket layer react, and schedules the stack's
/// next timer.
pub fn poll(host: &mut Host, env: &mut Env, c: &mut Nanos) {
    let ts = Instant::from_micros((*c / 1000) as i64);
    let tx_room = driver::tx_room(host);
    let st = &mut host.stack;
    let mut port = Port {
        rx_in: &mut st.rx_in,
        rx_done: &mut st.rx_done,
        tx_out: &mut st.tx_out,
        free: env.free,
        unacked: &mut st.unacked,
        ack_now: st.gro,
        tx_room,
        caps: &st.caps,
    };
    run(&mut st.iface, ts, &mut port, &mut st.sockets);
    env.free.append(&mut st.rx_done);
    driver::xmit(host, env, c);
    socket::after_poll(host, env.q, c);
    let st = &mut host.stack;
    if let Some(at) = st.iface.poll_at(ts, &st.sockets) {
        let at = (at.total_micros().max(0) as u64 * 1000).max(*c + 1000);
        if (host.driver.tx_stopped || driver::tx_room(host) == 0) && at <= *c + 1000 {
            return; // the Tx clean that restarts the queue polls again
        }
        let st = &mut host.stack;
        if st.poll_at.is_none_or(|p| at < p) {
            st.poll_at = Some(at);
            env.q.push(at, Ev::Poll { host: host.id });
        }
    }
}

/// `Interface::poll`, with smoltcp's output run wherever Linux would
/// already have sent an ACK. Linux runs `tcp_v4_rcv` per sk_buff and
/// decides there whether to ACK (`__tcp_ack_snd_check`: at once when more
/// than one full-sized segment is unacknowledged, else a delayed ACK);
/// smoltcp decides the same in its output (`Socket::dispatch`), which
/// `Interface::poll` runs only after every sk_buff it was handed, so a
/// NAPI batch would be ACKed once. Here smoltcp takes the sk_buffs one at
/// a time (`poll_ingress_single`), and its output runs (`poll_egress`)
/// before a data sk_buff for a connection that already has an ACK due,
/// and once at the end: about every second full-sized segment without
/// GRO, and every merged skb with GRO (whose sockets have no ACK delay,
/// see [`Stack::add_socket`]).
///
/// Only there, not after every sk_buff: a socket's ACK depends on its own
/// sk_buffs only, so it is the same one, and NAPI has already charged the
/// batch's CPU, so it leaves at the same virtual time. smoltcp's output
/// visits every socket of the host, so this keeps a batch's work in
/// proportion to its ACKs, not to its frames times the sockets. Data that
/// the batch's ACKs let a sender send still leaves at the end of the
/// batch, as before.
///
/// A segment shorter than the connection's largest ([`RxSkb::pushed`])
/// that arrives with nothing else unacknowledged would wait for smoltcp's
/// 10 ms delayed ACK. Linux ACKs it when the application's read drains
/// the receive queue (`tcp_cleanup_rbuf`: `ICSK_ACK_PUSHED`, not in
/// ping-pong mode, `sk_rmem_alloc` empty). smoltcp has no such rule, so
/// when the next read will drain the queue (NAPI checked) and the socket
/// has nothing of its own to send, smoltcp takes the segment with no ACK
/// delay and ACKs it in the next output pass, at the end of the batch
/// rather than after the read. Without this a sender that has run out of
/// data (a zero-copy sender whose every buffer waits for this ACK) stalls
/// for 10 ms.
fn run(iface: &mut Interface, ts: Instant, port: &mut Port, sockets: &mut SocketSet<'static>) {
    iface.poll_maintenance(ts);
    // Data sk_buffs after which smoltcp's socket ACKs at once: one with
    // no ACK delay, else the second since its last segment out
    // (`AckDelayTimer::Waiting` -> `Immediate`, if past one MSS).
    let due = if port.ack_now { 1 } else { 2 };
    while let Some(skb) = port.rx_in.front() {
        let mut push = None;
        if let Some(conn) = skb.data_for {
            let n = port.unacked.get(&conn).copied().unwrap_or(0);
            if n >= due {
                // One pass: the ACK, alone or on a data segment; the rest
                // waits for the end of the batch.
                iface.poll_egress(ts, port, sockets);
            }
            let skb = port.rx_in.front().expect("still queued");
            // Nothing unacknowledged: smoltcp's delayed-ACK timer is idle
            // and would start for this segment.
            let idle = !port.unacked.contains_key(&conn);
            if let Some(h) = skb.pushed.filter(|_| idle && !port.ack_now) {
                let s = sockets.get_mut::<tcp::Socket>(h);
                if s.send_queue() == 0 {
                    push = Some((h, s.ack_delay()));
                    s.set_ack_delay(None);
                }
            }
            let n = port.unacked.entry(conn).or_default();
            *n = if push.is_some() {
                due // its ACK leaves before the connection's next sk_buff
            } else {
                n.saturating_add(1)
            };
        }
        iface.poll_ingress_single(ts, port, sockets);
        if let Some((h, delay)) = push {
            sockets.get_mut::<tcp::Socket>(h).set_ack_delay(delay);
        }
    }
    // Each pass sends at most one segment per socket.
    while iface.poll_egress(ts, port, sockets) == PollResult::SocketStateChanged {}
}

/// Data sk_buffs per connection (local port, remote port) since its
/// socket last sent a segment; only connections with some are present.
type Unacked = BTreeMap<(u16, u16), u8>;

/// The device a host's smoltcp interface polls.
pub struct Port<'a> {
    /// sk_buffs NAPI handed to the stack, oldest first.
    pub rx_in: &'a mut VecDeque<RxSkb>,
    /// Buffers the stack has consumed, to recycle.
    pub rx_done: &'a mut Vec<Vec<u8>>,
    /// Frames the stack transmitted, for the driver.
    pub tx_out: &'a mut Vec<TxFrame>,
    /// Recycled frame buffers.
    pub free: &'a mut Vec<Vec<u8>>,
    /// Data sk_buffs not yet acknowledged, per connection.
    unacked: &'a mut Unacked,
    /// The sockets have no ACK delay (GRO).
    ack_now: bool,
    /// How many more frames the driver can take (Tx ring room).
    tx_room: usize,
    pub caps: &'a DeviceCapabilities,
}

/// Device capabilities for a host: Ethernet, the IP MTU, the checksum work
/// the stack must do itself, and segmentation offload.
///
/// smoltcp computes Tx checksums only when nothing below it will: not with
/// `tx-checksum` (the NIC inserts them) and not with `tso`/`gso` (smoltcp
/// requires it; the GSO layer or the NIC fills them in). It verifies Rx
/// checksums only without `rx-checksum` and without `gro` (GRO validates
/// before merging, as `skb_gro_checksum_validate` does).
pub fn capabilities(mtu: u32, offloads: Offloads) -> DeviceCapabilities {
    let mut caps = DeviceCapabilities::default();
    caps.medium = Medium::Ethernet;
    caps.max_transmission_unit = mtu as usize + 14;
    let segmentation = offloads.tso || offloads.gso;
    let tx = !(offloads.tx_checksum || segmentation);
    let rx = !(offloads.rx_checksum || offloads.gro);
    let c = match (tx, rx) {
        (true, true) => Checksum::Both,
        (true, false) => Checksum::Tx,
        (false, true) => Checksum::Rx,
        (false, false) => Checksum::None,
    };
    let mut checksum = ChecksumCapabilities::default();
    checksum.ipv4 = c;
    checksum.tcp = c;
    checksum.udp = c;
    checksum.icmpv4 = c;
    caps.checksum = checksum;
    if segmentation {
        caps.segmentation.tcpv4 = core::num::NonZeroUsize::new(GSO_MAX_FRAME);
    }
    caps
}

/// Whether smoltcp itself computes Tx checksums for these offloads.
pub fn computes_tx_checksum(offloads: Offloads) -> bool {
    !(offloads.tx_checksum || offloads.tso || offloads.gso)
}

pub struct RxToken<'a> {
    buf: Vec<u8>,
    done: &'a mut Vec<Vec<u8>>,
}

pub struct TxToken<'a> {
    out: &'a mut Vec<TxFrame>,
    free: &'a mut Vec<Vec<u8>>,
    unacked: &'a mut Unacked,
    gso_size: u16,
}

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        let r = f(&self.buf);
        self.done.push(self.buf);
        r
    }
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let mut buf = self.free.pop().unwrap_or_default();
        // Only bytes beyond the recycled buffer's length are zero-filled;
        // smoltcp writes every byte of the frame.
        if buf.len() >= len {
            buf.truncate(len);
        } else {
            buf.resize(len, 0);
        }
        let r = f(&mut buf);
        if !self.unacked.is_empty() {
            // Every segment after the SYN acknowledges what its socket took.
            if let Some(g) = frame::tcp_segment(&buf) {
                self.unacked.remove(&(g.src_port, g.dst_port));
            }
        }
        self.out.push(TxFrame {
            buf,
            gso_size: self.gso_size,
            retransmit: false,
        });
        r
    }

    fn set_meta(&mut self, meta: phy::PacketMeta) {
        self.gso_size = meta.segmentation_offload_size.map_or(0, |m| m.get());
    }
}

impl phy::Device for Port<'_> {
    type RxToken<'a>
        = RxToken<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = TxToken<'a>
    where
        Self: 'a;

    fn receive(&mut self, _ts: Instant) -> Option<(RxToken<'_>, TxToken<'_>)> {
        if self.tx_out.len() >= self.tx_room {
            // The stack may answer every frame it receives; keep room.
            if self.rx_in.is_empty() {
                return None;
            }
        }
        let buf = self.rx_in.pop_front()?.buf;
        Some((
            RxToken {
                buf,
                done: self.rx_done,
            },
            TxToken {
                out: self.tx_out,
                free: self.free,
                unacked: self.unacked,
                gso_size: 0,
            },
        ))
    }

    fn transmit(&mut self, _ts: Instant) -> Option<TxToken<'_>> {
        if self.tx_out.len() >= self.tx_room {
            return None;
        }
        Some(TxToken {
            out: self.tx_out,
            free: self.free,
            unacked: self.unacked,
            gso_size: 0,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        self.caps.clone()
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Scenario, SendPath};
    use crate::event::{NoObserver, Step};
    use crate::report::{HostReport, Outcome};

    /// 8 MiB from sender to receiver (no TSO: one data segment per frame);
    /// `tune` adjusts the receiver's NIC. The two hosts' reports.
    fn transfer(tune: impl Fn(&mut crate::config::NicConfig)) -> (HostReport, HostReport) {
        let mut sc = Scenario::two_hosts(8 << 20, 65536, SendPath::Write);
        tune(&mut sc.hosts[1].nic);
        let r = crate::run(&sc, &mut NoObserver).unwrap();
        assert_eq!(r.outcome, Outcome::Ok);
        (r.hosts[0].clone(), r.hosts[1].clone())
    }

    /// The receiver's pure ACKs per data segment the sender sent.
    fn acks_per_segment(sender: &HostReport, receiver: &HostReport) -> f64 {
        let segments = sender.counters.get(Step::TcpXmit).count;
        assert!(segments > 5000);
        receiver.acks_sent() as f64 / segments as f64
    }

    #[test]
    fn without_gro_the_receiver_acks_every_second_segment_however_napi_batches() {
        // NAPI hands the stack up to 64 frames at a time; with interrupts
        // moderated to one per 100 us the batches are full. The ACKs do not
        // follow the batches.
        for coalesce in [8_192, 100_000] {
            let (s, r) = transfer(|nic| nic.irq_coalesce = coalesce);
            let frames_per_poll = r.counters.get(Step::RxStack).count / r.napi_polls();
            let ratio = acks_per_segment(&s, &r);
            assert!(
                (0.4..=0.6).contains(&ratio),
                "{ratio} ACKs per segment, {frames_per_poll} frames per NAPI poll"
            );
        }
    }

    #[test]
    fn a_short_segment_the_next_read_drains_is_acked_at_once_not_after_the_delayed_ack() {
        // Eight 64 KiB buffers whose sends share one notification
        // (msg_zerocopy_realloc, 512 KiB): the sender sends them all, the
        // last segment short, and can send nothing more until that segment
        // is ACKed. Linux ACKs it when the read drains it (tcp_cleanup_rbuf);
        // smoltcp's delayed ACK would hold every buffer for 10 ms.
        let mut sc = Scenario::two_hosts(4 << 20, 65536, SendPath::MsgZerocopy);
        for h in &mut sc.hosts {
            h.nic.offloads.tx_checksum = true;
            h.nic.offloads.rx_checksum = true;
        }
        sc.flows[0].buffer.pool = crate::config::PoolKind::Fixed;
        sc.flows[0].buffer.pool_size = 8;
        let r = crate::run(&sc, &mut NoObserver).unwrap();
        assert_eq!(r.outcome, Outcome::Ok);
        assert!(r.hosts[0].counters.get(Step::ZerocopyExtend).count > 0);
        // 4 MiB at 10 Gbit/s is 3.4 ms on the wire.
        assert!(
            r.simulated_ns < 8_000_000,
            "{} ns: a delayed ACK held the buffers",
            r.simulated_ns
        );
    }

    #[test]
    fn with_gro_the_receiver_acks_each_merged_skb_once() {
        let (s, r) = transfer(|_| {});
        let without = r.acks_sent();
        let (s_gro, r_gro) = transfer(|nic| nic.offloads.gro = true);
        assert!(
            r_gro.acks_sent() * 4 <= without,
            "{} vs {without}",
            r_gro.acks_sent()
        );
        // One ACK per sk_buff the stack took (the merged ones, and the
        // handshake's and teardown's few frames, which need none).
        let skbs = r_gro.counters.get(Step::RxStack).count;
        assert!(r_gro.acks_sent() <= skbs && r_gro.acks_sent() + 5 >= skbs);
        assert!(acks_per_segment(&s_gro, &r_gro) < acks_per_segment(&s, &r) / 4.0);
    }
}
