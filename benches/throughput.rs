//! Throughput of the model against a baseline measured in the same run.
//!
//! Baseline: two bare smoltcp interfaces joined by an in-memory queue,
//! moving the same bytes with the same socket buffers and MTU (recycled
//! frame buffers, no model). Its receiver takes everything queued for it
//! in one `Interface::poll` and ACKs once per poll; a second bare pair
//! takes the frames one at a time and ACKs every second segment, as the
//! model's receiver does without GRO (the same TCP work as the model's
//! smoltcp). Then the full simnet model (rings, DMA, wire, accounting) on
//! the copy and zero-copy paths, without and with pcapng capture, and the
//! baselines again behind smoltcp's own `PcapWriter`. Prints wall time per
//! GiB (best of three rounds, see [`ROUNDS`]) and the ratio to the baseline (and, for
//! the model, to the second pair; for `PcapWriter`, to simnet's capture
//! run).
//!
//! `cargo bench --bench throughput` (1 GiB); `SIMNET_BENCH_MIB=256` for
//! less; `cargo bench --bench throughput -- capture PcapWriter` runs only
//! the rows whose names contain one of the words (and the baselines).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fs::File;
use std::io::BufWriter;
use std::rc::Rc;
use std::time::{Duration, Instant as WallClock};

use simnet::capture::Captures;
use simnet_sim::config::{PoolKind, Scenario, SendPath};
use simnet_sim::event::NoObserver;
use smoltcp::iface::{Config, Interface, PollIngressSingleResult, PollResult, SocketSet};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium, PcapMode, PcapWriter};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, Ipv4Address};

type Queue = Rc<RefCell<VecDeque<Vec<u8>>>>;

/// One end of an in-memory wire.
struct QueueDevice {
    inbox: Queue,
    outbox: Queue,
    free: Rc<RefCell<Vec<Vec<u8>>>>,
}

struct Rx(Vec<u8>, Rc<RefCell<Vec<Vec<u8>>>>);
struct Tx(Queue, Rc<RefCell<Vec<Vec<u8>>>>);

impl phy::RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let r = f(&self.0);
        self.1.borrow_mut().push(self.0);
        r
    }
}

impl phy::TxToken for Tx {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = self.1.borrow_mut().pop().unwrap_or_default();
        buf.clear();
        buf.resize(len, 0);
        let r = f(&mut buf);
        self.0.borrow_mut().push_back(buf);
        r
    }
}

impl Device for QueueDevice {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx;

    fn receive(&mut self, _: Instant) -> Option<(Rx, Tx)> {
        let f = self.inbox.borrow_mut().pop_front()?;
        Some((
            Rx(f, self.free.clone()),
            Tx(self.outbox.clone(), self.free.clone()),
        ))
    }

    fn transmit(&mut self, _: Instant) -> Option<Tx> {
        Some(Tx(self.outbox.clone(), self.free.clone()))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut c = DeviceCapabilities::default();
        c.medium = Medium::Ethernet;
        c.max_transmission_unit = 1514;
        c
    }
}

/// How the bare pair's receiver takes the frames waiting for it.
#[derive(Clone, Copy, PartialEq)]
enum Acks {
    /// All in one `Interface::poll`: one ACK per poll, a stretch ACK over
    /// everything the sender sent since (the baseline).
    PerPoll,
    /// One at a time, its output after each: an ACK every second
    /// full-sized segment, the model's cadence without GRO.
    PerSecondSegment,
}

/// The baseline: two bare smoltcp interfaces, `bytes` from a to b; with
/// `pcap`, a's device is wrapped in smoltcp's `PcapWriter`.
fn bare_pair(bytes: u64, pcap: bool, acks: Acks) -> Duration {
    let (dev_a, dev_b) = queue_pair();
    if pcap {
        // Both ends captured, as simnet captures both hosts.
        let sink = |name: &str| BufWriter::new(File::create(out_dir().join(name)).unwrap());
        let a = PcapWriter::new(dev_a, sink("smoltcp-a.pcap"), PcapMode::Both);
        let b = PcapWriter::new(dev_b, sink("smoltcp-b.pcap"), PcapMode::Both);
        transfer(a, b, bytes, acks)
    } else {
        transfer(dev_a, dev_b, bytes, acks)
    }
}

fn queue_pair() -> (QueueDevice, QueueDevice) {
    let a_to_b: Queue = Default::default();
    let b_to_a: Queue = Default::default();
    let free = Rc::new(RefCell::new(Vec::new()));
    let dev_a = QueueDevice {
        inbox: b_to_a.clone(),
        outbox: a_to_b.clone(),
        free: free.clone(),
    };
    let dev_b = QueueDevice {
        inbox: a_to_b,
        outbox: b_to_a,
        free,
    };
    (dev_a, dev_b)
}

fn transfer(mut dev_a: impl Device, mut dev_b: impl Device, bytes: u64, acks: Acks) -> Duration {
    let mut t = Instant::from_micros(0);
    let mk = |dev: &mut dyn FnMut(Config) -> Interface, last: u8| {
        let mut cfg = Config::new(HardwareAddress::Ethernet(EthernetAddress([
            2, 0, 0, 0, 0, last,
        ])));
        cfg.random_seed = last as u64;
        let mut iface = dev(cfg);
        iface.update_ip_addrs(|a| {
            let _ = a.push(IpCidr::new(IpAddress::v4(192, 168, 69, last), 24));
        });
        iface
    };
    let mut ia = mk(&mut |c| Interface::new(c, &mut dev_a, t), 1);
    let mut ib = mk(&mut |c| Interface::new(c, &mut dev_b, t), 2);
    let sock = || {
        let mut s = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; 4 << 20]),
            tcp::SocketBuffer::new(vec![0; 4 << 20]),
        );
        s.set_nagle_enabled(false);
        s
    };
    let mut sa = SocketSet::new(Vec::new());
    let mut sb = SocketSet::new(Vec::new());
    let ha = sa.add(sock());
    let hb = sb.add(sock());
    sb.get_mut::<tcp::Socket>(hb).listen(5001).unwrap();
    sa.get_mut::<tcp::Socket>(ha)
        .connect(
            ia.context(),
            (Ipv4Address::new(192, 168, 69, 2), 5001),
            49152,
        )
        .unwrap();
    let chunk = vec![0x5au8; 65536];
    let mut rbuf = vec![0u8; 65536];
    let (mut sent, mut received) = (0u64, 0u64);
    let start = WallClock::now();
    while received < bytes {
        ia.poll(t, &mut dev_a, &mut sa);
        if acks == Acks::PerPoll {
            ib.poll(t, &mut dev_b, &mut sb);
        } else {
            ib.poll_maintenance(t);
            while ib.poll_ingress_single(t, &mut dev_b, &mut sb) != PollIngressSingleResult::None {
                ib.poll_egress(t, &mut dev_b, &mut sb);
            }
            while ib.poll_egress(t, &mut dev_b, &mut sb) == PollResult::SocketStateChanged {}
        }
        let s = sa.get_mut::<tcp::Socket>(ha);
        if s.can_send() && sent < bytes {
            let n = (bytes - sent).min(chunk.len() as u64) as usize;
            sent += s.send_slice(&chunk[..n]).unwrap() as u64;
        }
        let r = sb.get_mut::<tcp::Socket>(hb);
        while r.can_recv() {
            received += r.recv_slice(&mut rbuf).unwrap() as u64;
        }
        t += smoltcp::time::Duration::from_micros(10);
    }
    start.elapsed()
}

/// Where captures go: `SIMNET_BENCH_DIR`, else the temp dir.
fn out_dir() -> std::path::PathBuf {
    let dir = std::env::var_os("SIMNET_BENCH_DIR")
        .map(Into::into)
        .unwrap_or_else(|| std::env::temp_dir().join("simnet-bench"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Removes the captures of an earlier run, outside the timed part: their
/// dirty pages go with them instead of being written back under the next
/// row, whichever it is.
fn clear_out_dir() {
    let _ = std::fs::remove_dir_all(out_dir());
}

fn model(bytes: u64, send: SendPath, capture: bool) -> Duration {
    let mut sc = Scenario::two_hosts(bytes, 65536, send);
    sc.time_limit = 3_600_000_000_000;
    let start = WallClock::now();
    let r = if capture {
        let dir = out_dir();
        let mut cap = Captures::create(&dir, &["sender".into(), "receiver".into()], 1500).unwrap();
        let r = simnet_sim::run(&sc, &mut cap).unwrap();
        cap.finish().unwrap();
        r
    } else {
        simnet_sim::run(&sc, &mut NoObserver).unwrap()
    };
    let el = start.elapsed();
    assert_eq!(r.flows[0].bytes_received, bytes);
    el
}

/// 1 MiB in 1-byte `io_uring_send_zc` writes from a `thread_local` pool:
/// a million zero-copy sends in flight at once. Per-write work must not
/// grow with them (it once scanned them all: this never finished).
fn tiny_zero_copy_writes() -> Duration {
    let mut sc = Scenario::two_hosts(1 << 20, 1, SendPath::IoUringSendZc);
    sc.flows[0].buffer.pool = PoolKind::ThreadLocal;
    let start = WallClock::now();
    let r = simnet_sim::run(&sc, &mut NoObserver).unwrap();
    let el = start.elapsed();
    assert_eq!(r.flows[0].bytes_received, 1 << 20);
    el
}

/// 64 MiB of 1 KiB `write`s from a fixed pool of 65,536 buffers: taking
/// the lowest free buffer must not scan the pool (it once did, per write).
fn big_pool_small_writes() -> Duration {
    let mut sc = Scenario::two_hosts(64 << 20, 1024, SendPath::Write);
    sc.flows[0].buffer.pool = PoolKind::Fixed;
    sc.flows[0].buffer.pool_size = 65536;
    let start = WallClock::now();
    let r = simnet_sim::run(&sc, &mut NoObserver).unwrap();
    let el = start.elapsed();
    assert_eq!(r.flows[0].pool_stats.allocations, 65536);
    el
}

/// `n` flows of one byte each between two hosts: memory and time per flow
/// must not grow with the number of flows beyond what smoltcp's own poll
/// (which visits every socket) costs.
fn many_tiny_flows(n: usize) -> Duration {
    let proto = Scenario::two_hosts(1, 1, SendPath::Write);
    let mut sc = proto.clone();
    sc.flows = (0..n)
        .map(|i| {
            let mut f = proto.flows[0].clone();
            f.port = 5001 + i as u16;
            f
        })
        .collect();
    let start = WallClock::now();
    let r = simnet_sim::run(&sc, &mut NoObserver).unwrap();
    let el = start.elapsed();
    assert!(r.flows.iter().all(|f| f.integrity_ok()));
    el
}

/// Rounds: every row runs once per round, and each row keeps its best.
/// The machine's noise (other tenants, page-cache writeback) only ever
/// adds time, and comes in spells of seconds: interleaving the rows puts
/// every row, the baselines too, in and out of the same spells, so their
/// ratios hold from run to run where rows timed one after another did not.
const ROUNDS: usize = 3;

/// Rows to run: the arguments that are not options (cargo bench passes
/// `--bench`), each a part of a row's name; none runs every row.
fn wanted() -> Vec<String> {
    std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect()
}

/// What a row prints beside its time.
#[derive(Clone, Copy, PartialEq)]
enum Shows {
    /// Seconds per GiB and the ratio to the baselines.
    PerGib,
    /// Seconds per GiB, ratio, and how much faster simnet's capture is.
    Writer,
    /// Seconds, and per item (`n` items, `unit`).
    Each(f64, &'static str),
}

struct Row<'a> {
    name: String,
    shows: Shows,
    run: Box<dyn FnMut() -> Duration + 'a>,
    best: Option<Duration>,
}

fn main() {
    let mib: u64 = std::env::var("SIMNET_BENCH_MIB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1024);
    let bytes = mib << 20;
    let per_gib = |d: Duration| d.as_secs_f64() * 1024.0 / mib as f64;
    let only = wanted();
    let wanted = |name: &str| only.is_empty() || only.iter().any(|w| name.contains(w.as_str()));
    let row = |name: &str, shows, run: Box<dyn FnMut() -> Duration>| Row {
        name: name.to_string(),
        shows,
        run,
        best: None,
    };
    // The two baselines run whatever rows are asked for: every ratio is to
    // figures of this run.
    let mut rows = vec![
        row(
            "bare smoltcp pair (baseline)",
            Shows::PerGib,
            Box::new(move || bare_pair(bytes, false, Acks::PerPoll)),
        ),
        row(
            "bare pair, ACK every second segment",
            Shows::PerGib,
            Box::new(move || bare_pair(bytes, false, Acks::PerSecondSegment)),
        ),
    ];
    let models = [
        (
            "simnet model, write (copy), no capture",
            SendPath::Write,
            false,
        ),
        (
            "simnet model, msg_zerocopy, no capture",
            SendPath::MsgZerocopy,
            false,
        ),
        (
            "simnet model, write (copy), pcapng capture",
            SendPath::Write,
            true,
        ),
    ];
    for (name, send, cap) in models {
        rows.push(row(
            name,
            Shows::PerGib,
            Box::new(move || model(bytes, send, cap)),
        ));
    }
    let writers = [
        ("bare pair + smoltcp PcapWriter (both ends)", Acks::PerPoll),
        (
            "pair ACKing every 2nd segment + PcapWriter",
            Acks::PerSecondSegment,
        ),
    ];
    for (name, acks) in writers {
        rows.push(row(
            name,
            Shows::Writer,
            Box::new(move || bare_pair(bytes, true, acks)),
        ));
    }
    rows.push(row(
        "1 MiB in 1-byte io_uring_send_zc writes",
        Shows::Each((1u64 << 20) as f64, "ns per write"),
        Box::new(tiny_zero_copy_writes),
    ));
    rows.push(row(
        "64 MiB in 1 KiB writes, 65,536-buffer pool",
        Shows::Each(65536.0, "ns per write"),
        Box::new(big_pool_small_writes),
    ));
    for n in [1_000, 10_000] {
        rows.push(row(
            &format!("{n} one-byte flows"),
            Shows::Each(n as f64, "us per flow"),
            Box::new(move || many_tiny_flows(n)),
        ));
    }
    let mut rows: Vec<Row> = (rows.into_iter().enumerate())
        .filter(|(i, r)| *i < 2 || wanted(&r.name))
        .map(|(_, r)| r)
        .collect();
    println!("transfer: {mib} MiB at MTU 1500, 64 KiB writes, 4 MiB socket buffers");
    println!(
        "best of {ROUNDS} rounds (each runs every row once); captures go to {}",
        out_dir().display()
    );
    for _ in 0..ROUNDS {
        for r in &mut rows {
            clear_out_dir();
            let d = (r.run)();
            r.best = Some(r.best.map_or(d, |b| b.min(d)));
        }
    }
    let time = |name: &str| {
        (rows.iter())
            .find(|r| r.name.starts_with(name))
            .and_then(|r| r.best)
            .map(|d| d.as_secs_f64())
    };
    let base = time("bare smoltcp pair").expect("the baseline always runs");
    let per_segment = time("bare pair, ACK every").expect("the baseline always runs");
    let captured = time("simnet model, write (copy), pcapng");
    for r in &rows {
        let d = r.best.expect("every row ran").as_secs_f64();
        let line = match r.shows {
            Shows::PerGib if r.name.starts_with("simnet") => format!(
                "{:>8.3} s/GiB  {:.2}x  ({:.2}x the pair ACKing every second segment)",
                per_gib(Duration::from_secs_f64(d)),
                d / base,
                d / per_segment
            ),
            Shows::PerGib => format!(
                "{:>8.3} s/GiB  {:.2}x",
                per_gib(Duration::from_secs_f64(d)),
                d / base
            ),
            Shows::Writer => format!(
                "{:>8.3} s/GiB  {:.2}x{}",
                per_gib(Duration::from_secs_f64(d)),
                d / base,
                captured
                    .map(|c| format!("  (simnet's whole run with capture {:.2}x faster)", d / c))
                    .unwrap_or_default()
            ),
            Shows::Each(n, unit) => {
                let per = if unit.starts_with("ns") {
                    d * 1e9
                } else {
                    d * 1e6
                };
                format!("{:>8.3} s      {:.0} {unit}", d, per / n)
            }
        };
        println!("{:<44} {line}", r.name);
    }
}
