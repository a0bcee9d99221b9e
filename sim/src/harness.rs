//! Entry points for fuzzers and the test suite; not part of the model.
//!
//! Owns [`rx_frames`]: arbitrary bytes become Ethernet frames arriving at a
//! host's port in the middle of a live two-host run (connection open, data
//! in flight), so that they take the route every arriving frame takes: NIC
//! Rx ring, DMA, interrupt, NAPI, GRO, smoltcp, the socket layer. Owns the
//! byte format it reads (below), the checks it makes on every run, the
//! seed inputs built from a clean run's own frames ([`seeds`]) and
//! [`Mutator`], the small seeded mutator with which the test suite runs the
//! fuzz targets without a fuzzer. The cargo-fuzz targets in `fuzz/` are one
//! line each around these functions, so a crash file replays the same in
//! `cargo fuzz run` and in `cargo test`.
//!
//! Does not model anything, and costs a normal run nothing: frames enter
//! through [`World::inject_arrival`], scheduled before the run starts; the
//! per-event ring check is the one tests already switch on
//! ([`World::check_invariants`]).
//!
//! # The input of [`rx_frames`]
//!
//! ```text
//! input  = options frame*
//! frame  = len:u16 (little-endian)  gap:u8  flags:u8  bytes[len]
//! ```
//!
//! `options` (one byte; an empty input is options 0 and no frame) turns on
//! model features for both hosts: [`GRO`], [`RX_CHECKSUM`] offload (smoltcp
//! then trusts every checksum), [`HEADER_SPLIT`] at the receiver, [`TSO`]
//! (with Tx checksum offload), the [`ZEROCOPY`] send path, a wire with
//! [`FAULTS`] (loss, duplicates, reordering, corruption; the hosts then
//! verify checksums byte by byte), an [`ECHO`] server (data both ways) and
//! a [`SMALL_RX_RING`] at the receiver. Built for fuzzing (`cfg(fuzzing)`,
//! which cargo-fuzz sets) smoltcp accepts every checksum, and so do the
//! model's checks, which call it: [`FAULTS`] then corrupts nothing.
//!
//! Each frame arrives `gap` microseconds after the previous one (the first
//! after time 0), at the receiving host, or at the sending host with
//! [`TO_SENDER`] in `flags`. A frame of length 0 is a pause: nothing
//! arrives. Lengths above [`MAX_FRAME_LEN`] are cut to it (frames longer
//! than an Rx buffer are still possible: the NIC drops them), a frame cut
//! short by the end of the input keeps what there is, and frames after the
//! [`MAX_FRAMES`]th are ignored. Three more flags help random bytes get
//! past the first checks, each applied in this order: [`ADDRESS`] writes
//! the flow's Ethernet and IPv4 addresses and TCP ports into the frame, as
//! the peer would send them (and the IPv4 and TCP protocol numbers);
//! [`LENGTH`] sets the IPv4 total length to the frame's; [`CHECKSUMS`] fills
//! in valid IPv4, TCP and ICMP checksums.
//!
//! The run is the same every time: the scenario is fixed (64 KiB over a
//! 1 Gbit/s wire, 64 KiB socket buffers, 64-descriptor rings, seed 1), so the sequence numbers
//! in [`seeds`]' frames, taken from a clean run, are the live connection's.
//!
//! # What every run must satisfy
//!
//! Arbitrary frames may legitimately disrupt TCP (a forged RST closes the
//! connection; forged in-window data changes the stream; a forged ARP reply
//! misdirects frames), so only what holds whatever arrives is checked; any
//! failure panics, which is what a fuzzer reports:
//!
//! - nothing panics, and every descriptor of every ring has exactly one
//!   owner after every event;
//! - the run ends: at most [`MAX_FRAMES_SEEN`] frames cross the ports and
//!   [`MAX_EVENTS_SEEN`] steps are accounted (far above a clean run's), in
//!   at most [`TIME_LIMIT`] of virtual time;
//! - the report builds, and its outcome is one a simulated run can have
//!   (`ok`, `time_limit`, `integrity` or `stalled`; a correct program never
//!   rewrites a buffer the kernel holds), `ok` only with every flow intact;
//! - every frame a NIC received was either DMA'd into its Rx ring or
//!   dropped;
//! - with no frame injected, the run is clean: outcome `ok`.

use std::net::Ipv4Addr;

use crate::config::{Faults, Scenario, SendPath, MIN_RING};
use crate::engine::{Nanos, Rng};
use crate::event::{Direction, Event, Observer, Step};
use crate::frame;
use crate::host;
use crate::provenance::FrameInfo;
use crate::report::{Outcome, RunReport};
use crate::world::World;

/// `options`: GRO on both hosts.
pub const GRO: u8 = 1 << 0;
/// `options`: Rx checksum offload on both hosts.
pub const RX_CHECKSUM: u8 = 1 << 1;
/// `options`: header split at the receiver.
pub const HEADER_SPLIT: u8 = 1 << 2;
/// `options`: TSO and Tx checksum offload on both hosts.
pub const TSO: u8 = 1 << 3;
/// `options`: the sender uses `MSG_ZEROCOPY` (else `write`).
pub const ZEROCOPY: u8 = 1 << 4;
/// `options`: the wire loses, duplicates, reorders and corrupts frames.
pub const FAULTS: u8 = 1 << 5;
/// `options`: the receiver echoes every byte back.
pub const ECHO: u8 = 1 << 6;
/// `options`: the receiver's Rx ring has the fewest descriptors allowed.
pub const SMALL_RX_RING: u8 = 1 << 7;

/// `flags`: the frame arrives at the sending host (else the receiving one).
pub const TO_SENDER: u8 = 1 << 0;
/// `flags`: write the flow's addresses and ports into the frame.
pub const ADDRESS: u8 = 1 << 1;
/// `flags`: set the IPv4 total length to the frame's length.
pub const LENGTH: u8 = 1 << 2;
/// `flags`: fill in valid checksums.
pub const CHECKSUMS: u8 = 1 << 3;

/// Frames read from one input; the rest is ignored.
pub const MAX_FRAMES: usize = 64;
/// Longest frame injected: above the 2 KiB Rx buffers of the run's NICs.
pub const MAX_FRAME_LEN: usize = 4096;
/// Frames crossing the ports (both ways) before a run counts as runaway.
pub const MAX_FRAMES_SEEN: u64 = 100_000;
/// Accounted steps before a run counts as runaway.
pub const MAX_EVENTS_SEEN: u64 = 2_000_000;
/// The run's virtual-time limit: room for a few retransmission timeouts
/// (smoltcp's minimum is 1 s).
pub const TIME_LIMIT: Nanos = 30_000_000_000;

/// Host indices in the run's scenario.
const SENDER: usize = 0;
const RECEIVER: usize = 1;
/// The flow's ports: the sender connects from the first ephemeral port.
const CLIENT_PORT: u16 = 49152;
const SERVER_PORT: u16 = 5001;
/// Bytes the flow moves.
const BYTES: u64 = 64 << 10;

/// The scenario [`rx_frames`] runs, with `options`.
pub fn scenario(options: u8) -> Scenario {
    let on = |bit: u8| options & bit != 0;
    let send = if on(ZEROCOPY) {
        SendPath::MsgZerocopy
    } else {
        SendPath::Write
    };
    let mut sc = Scenario::two_hosts(BYTES, 16 << 10, send);
    sc.name = "rx_frames".into();
    sc.time_limit = TIME_LIMIT;
    sc.link.rate_bps = 1_000_000_000;
    if on(FAULTS) {
        sc.link.faults = Faults {
            loss: 0.01,
            duplicate: 0.01,
            reorder: 0.01,
            reorder_delay: 20_000,
            // Built for fuzzing (cargo-fuzz sets cfg(fuzzing)), smoltcp's
            // checksum checks, which the model's own use, accept every
            // frame: a corrupted one would reach the application.
            corrupt: if cfg!(fuzzing) { 0.0 } else { 0.01 },
        };
    }
    sc.flows[0].echo = on(ECHO);
    for h in &mut sc.hosts {
        // Small rings: full rings come sooner, and the ownership check
        // after every event costs less.
        h.nic.tx_ring = 64;
        h.nic.rx_ring = 64;
        h.socket.sndbuf = 64 << 10;
        h.socket.rcvbuf = 64 << 10;
        let o = &mut h.nic.offloads;
        o.gro = on(GRO);
        o.rx_checksum = on(RX_CHECKSUM);
        o.tso = on(TSO);
        o.tx_checksum = on(TSO);
    }
    let rx = &mut sc.hosts[RECEIVER].nic;
    rx.header_split = on(HEADER_SPLIT);
    if on(SMALL_RX_RING) {
        rx.rx_ring = MIN_RING;
    }
    sc
}

/// One frame of an input, as it will arrive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    pub host: usize,
    pub at: Nanos,
    pub frame: Vec<u8>,
}

/// The frames of an input's body (after the options byte), shaped by their
/// flags, in arrival order.
pub fn decode(sc: &Scenario, mut body: &[u8]) -> Vec<Arrival> {
    let mut out = Vec::new();
    let mut at: Nanos = 0;
    let mut records = 0;
    while records < MAX_FRAMES && body.len() >= 4 {
        records += 1;
        let len = (u16::from_le_bytes([body[0], body[1]]) as usize).min(MAX_FRAME_LEN);
        let (gap, flags) = (body[2], body[3]);
        body = &body[4..];
        let bytes = &body[..len.min(body.len())];
        body = &body[bytes.len()..];
        at += gap as Nanos * 1_000;
        if bytes.is_empty() {
            continue; // a pause
        }
        let host = if flags & TO_SENDER != 0 {
            SENDER
        } else {
            RECEIVER
        };
        let mut frame = bytes.to_vec();
        shape(sc, &mut frame, host, flags);
        out.push(Arrival { host, at, frame });
    }
    out
}

/// Applies `flags`' [`ADDRESS`], [`LENGTH`] and [`CHECKSUMS`] to a frame
/// arriving at `host`.
fn shape(sc: &Scenario, frame: &mut [u8], host: usize, flags: u8) {
    let peer = 1 - host;
    let port = |h: usize| {
        if h == SENDER {
            CLIENT_PORT
        } else {
            SERVER_PORT
        }
    };
    let ip = |h: usize| -> [u8; 4] { Ipv4Addr::octets(&sc.hosts[h].address) };
    if flags & ADDRESS != 0 && frame.len() >= 14 {
        frame[0..6].copy_from_slice(&host::mac(host as u8).0);
        frame[6..12].copy_from_slice(&host::mac(peer as u8).0);
        frame[12..14].copy_from_slice(&[0x08, 0x00]);
        if frame.len() >= 34 {
            frame[14] = 0x40 | (frame[14] & 0x0f); // IPv4, the frame's IHL
            frame[23] = 6; // TCP
            frame[26..30].copy_from_slice(&ip(peer));
            frame[30..34].copy_from_slice(&ip(host));
            let t = 14 + (frame[14] & 0x0f) as usize * 4;
            if frame.len() >= t + 4 {
                frame[t..t + 2].copy_from_slice(&port(peer).to_be_bytes());
                frame[t + 2..t + 4].copy_from_slice(&port(host).to_be_bytes());
            }
        }
    }
    if flags & LENGTH != 0 && frame.len() >= 18 {
        let total = (frame.len() - 14).min(u16::MAX as usize) as u16;
        frame[16..18].copy_from_slice(&total.to_be_bytes());
    }
    if flags & CHECKSUMS != 0 {
        frame::fill_checksums(frame);
    }
}

/// One input record: a frame (or, empty, a pause) `gap_us` after the
/// previous one, with `flags`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub gap_us: u8,
    pub flags: u8,
    pub bytes: Vec<u8>,
}

/// The input that [`decode`]s to `records` under `options`.
pub fn encode(options: u8, records: &[Record]) -> Vec<u8> {
    let mut out = vec![options];
    for r in records {
        let len = r.bytes.len().min(MAX_FRAME_LEN);
        out.extend_from_slice(&(len as u16).to_le_bytes());
        out.extend_from_slice(&[r.gap_us, r.flags]);
        out.extend_from_slice(&r.bytes[..len]);
    }
    out
}

/// Counts what crosses the ports and what is accounted, and stops a
/// runaway run (a panic, which a fuzzer reports).
#[derive(Default)]
struct Budget {
    frames: u64,
    events: u64,
}

impl Observer for Budget {
    fn wants_frames(&self) -> bool {
        true
    }
    fn wants_events(&self) -> bool {
        true // also runs the provenance lookups on every frame
    }
    fn frame(&mut self, host: usize, time: Nanos, _: Direction, _: &[u8], _: &FrameInfo) {
        self.frames += 1;
        assert!(
            self.frames <= MAX_FRAMES_SEEN,
            "runaway run: {MAX_FRAMES_SEEN} frames crossed the ports (host {host} at {time} ns)"
        );
    }
    fn event(&mut self, e: &Event) {
        self.events += 1;
        assert!(
            self.events <= MAX_EVENTS_SEEN,
            "runaway run: {MAX_EVENTS_SEEN} steps accounted (last {:?} on host {} at {} ns)",
            e.step,
            e.host,
            e.time
        );
    }
}

/// The fuzz target: runs the scenario of `data`'s options with its frames
/// arriving, checks what every run must satisfy (see the module's docs),
/// and returns the report. Panics if a check fails.
pub fn rx_frames(data: &[u8]) -> RunReport {
    let (options, body) = data.split_first().map_or((0, &[][..]), |(o, b)| (*o, b));
    let sc = scenario(options);
    let arrivals = decode(&sc, body);
    let injected = arrivals.len();
    let mut budget = Budget::default();
    let mut w = World::new(&sc, &mut budget).expect("the harness's scenario is valid");
    w.check_invariants = true;
    for a in arrivals {
        w.inject_arrival(a.host, a.at, a.frame);
    }
    let r = w.run();
    check(&r, injected);
    r
}

/// What every run's report must satisfy, whatever arrived.
fn check(r: &RunReport, injected: usize) {
    assert!(
        matches!(
            r.outcome,
            Outcome::Ok | Outcome::TimeLimit | Outcome::Integrity | Outcome::Stalled
        ),
        "outcome {:?}",
        r.outcome
    );
    if r.outcome == Outcome::Ok {
        assert!(r.flows.iter().all(|f| f.integrity_ok()), "ok, yet {r:#?}");
    }
    for h in &r.hosts {
        let c = &h.counters;
        let name = &h.name;
        assert_eq!(
            c.get(Step::WireRx).count,
            c.get(Step::RxDmaWrite).count + c.get(Step::RxRingDrop).count,
            "{name}: every frame received is DMA'd or dropped"
        );
        // No step reads more of a frame than arrived: a header field taken
        // for a length must not reach past the frame.
        let received = c.get(Step::WireRx).bytes;
        for step in [Step::HeaderSplit, Step::RxChecksum, Step::RxChecksumOffload] {
            let bytes = c.get(step).bytes;
            assert!(
                bytes <= received,
                "{name}: {step:?} {bytes} bytes of {received} received"
            );
        }
    }
    if injected == 0 {
        assert_eq!(r.outcome, Outcome::Ok, "a clean run: {r:#?}");
    }
}

/// Every file in `dir`, by name, sorted (none if there is no such
/// directory): a fuzz corpus or crash folder, for the in-suite runs.
pub fn files_in(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<(String, Vec<u8>)> = entries
        .map(|e| {
            let path = e.expect("a directory entry").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).expect("a corpus file"))
        })
        .collect();
    files.sort();
    files
}

/// Runs fuzz target `target`'s entry point `f` on `input` (named `name`)
/// inside a test: a panic (a failed check) becomes a panic that names the
/// input and writes it to the temporary folder, to replay with
/// `cargo fuzz run TARGET FILE` in `fuzz/`.
pub fn in_test<T>(target: &str, name: &str, input: &[u8], f: impl FnOnce() -> T) -> T {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(t) => t,
        Err(e) => {
            let path = std::env::temp_dir().join(format!("{target}-failure"));
            let _ = std::fs::write(&path, input);
            let why = (e.downcast_ref::<String>().map(String::as_str))
                .or_else(|| e.downcast_ref::<&str>().copied())
                .unwrap_or("a panic");
            panic!(
                "{name}: {why}\n(input written to {}; replay it with \
                 `cargo fuzz run {target} FILE` in fuzz/)",
                path.display()
            );
        }
    }
}

/// Seed inputs: frames a clean run's hosts received, replayed as
/// duplicates a microsecond after the originals arrived (so their sequence
/// numbers are the live connection's), under a few option sets; named for
/// the corpus.
pub fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut out = vec![("empty".to_string(), Vec::new())];
    for (name, options) in [
        ("plain", 0),
        ("gro_rx_checksum", GRO | RX_CHECKSUM),
        ("header_split_echo", HEADER_SPLIT | ECHO),
        ("tso_zerocopy", TSO | ZEROCOPY),
    ] {
        let arrived = received(options);
        let at = |host: usize, i: usize| arrived.iter().filter(|a| a.host == host).nth(i);
        let data = |host: usize, i: usize| {
            (arrived.iter())
                .filter(|a| {
                    a.host == host
                        && frame::tcp_segment(&a.frame).is_some_and(|g| g.payload_len > 0)
                })
                .nth(i)
        };
        let picks = [
            (
                "handshake",
                vec![at(RECEIVER, 0), at(SENDER, 0), at(RECEIVER, 1)],
            ),
            (
                "data",
                vec![data(RECEIVER, 0), data(RECEIVER, 5), data(RECEIVER, 6)],
            ),
            ("acks", vec![at(SENDER, 3), at(SENDER, 8)]),
            (
                "last",
                vec![
                    arrived.iter().rev().find(|a| a.host == RECEIVER),
                    arrived.last(),
                ],
            ),
        ];
        for (what, frames) in picks {
            let frames: Vec<&Arrival> = frames.into_iter().flatten().collect();
            out.push((format!("{name}_{what}"), replay(options, &frames)));
        }
    }
    out
}

/// The frames the hosts of a clean run with `options` received.
fn received(options: u8) -> Vec<Arrival> {
    struct Record(Vec<Arrival>);
    impl Observer for Record {
        fn wants_frames(&self) -> bool {
            true
        }
        fn frame(&mut self, host: usize, at: Nanos, dir: Direction, frame: &[u8], _: &FrameInfo) {
            if dir == Direction::In {
                let frame = frame.to_vec();
                self.0.push(Arrival { host, at, frame });
            }
        }
    }
    let mut rec = Record(Vec::new());
    let r = crate::run(&scenario(options), &mut rec).expect("a valid scenario");
    assert_eq!(r.outcome, Outcome::Ok);
    // Each port's frames come in order; across ports, a frame may wait for
    // NAPI to take it (see `Observer::frame`).
    rec.0.sort_by_key(|a| a.at);
    rec.0
}

/// An input under `options` in which `frames` arrive again 1 us after they
/// first did (pauses carry the time across gaps over 255 us).
fn replay(options: u8, frames: &[&Arrival]) -> Vec<u8> {
    let mut records = Vec::new();
    let mut now_us = 0;
    for a in frames {
        let at_us = (a.at / 1_000 + 1).max(now_us);
        while at_us - now_us > u8::MAX as u64 {
            let bytes = Vec::new();
            records.push(Record {
                gap_us: u8::MAX,
                flags: 0,
                bytes,
            });
            now_us += u8::MAX as u64;
        }
        let flags = if a.host == SENDER { TO_SENDER } else { 0 };
        let gap_us = (at_us - now_us) as u8;
        records.push(Record {
            gap_us,
            flags,
            bytes: a.frame.clone(),
        });
        now_us = at_us;
    }
    encode(options, &records)
}

/// Small seeded mutations for running fuzz targets without a fuzzer: the
/// test suite's stand-in for libFuzzer's mutator (no coverage feedback, so
/// it starts from corpus files and stays near them).
pub struct Mutator {
    rng: Rng,
}

impl Mutator {
    pub fn new(seed: u64) -> Mutator {
        Mutator {
            rng: Rng::new(seed),
        }
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        self.rng.below(n as u64) as usize
    }

    /// Up to `max_len` random bytes.
    pub fn bytes(&mut self, max_len: usize) -> Vec<u8> {
        let mut v = vec![0; self.below(max_len + 1)];
        self.rng.fill(&mut v);
        v
    }

    /// `input` after one to eight random edits: a bit flipped, a byte set
    /// to a boundary value, a byte inserted or removed, the end cut off, a
    /// block repeated, a block of `other` spliced in, or a token of `dict`
    /// inserted; at most `max_len` bytes.
    pub fn mutate(
        &mut self,
        input: &[u8],
        other: &[u8],
        dict: &[&[u8]],
        max_len: usize,
    ) -> Vec<u8> {
        let mut v = input.to_vec();
        for _ in 0..1 + self.below(8) {
            let at = self.below(v.len() + 1);
            match self.below(8) {
                0 if at < v.len() => v[at] ^= 1 << self.below(8),
                1 if at < v.len() => {
                    const BOUNDARY: [u8; 6] = [0, 1, 0x7f, 0x80, 0xfe, 0xff];
                    v[at] = BOUNDARY[self.below(BOUNDARY.len())];
                }
                2 => v.insert(at, self.rng.next_u64() as u8),
                3 if at < v.len() => {
                    v.remove(at);
                }
                4 => v.truncate(at),
                5 if at < v.len() => {
                    let end = (at + 1 + self.below(64)).min(v.len());
                    let block = v[at..end].to_vec();
                    let to = self.below(v.len() + 1);
                    v.splice(to..to, block);
                }
                6 if !other.is_empty() => {
                    let from = self.below(other.len());
                    let end = (from + 1 + self.below(256)).min(other.len());
                    let cut = (at + self.below(64)).min(v.len());
                    v.splice(at..cut, other[from..end].iter().copied());
                }
                7 if !dict.is_empty() => {
                    let token = dict[self.below(dict.len())];
                    v.splice(at..at, token.iter().copied());
                }
                _ => {}
            }
        }
        v.truncate(max_len);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_decode_as_encoded_and_pauses_only_move_time() {
        let sc = scenario(0);
        let f = vec![0xaa; 60];
        let input = encode(
            0,
            &[
                Record {
                    gap_us: 3,
                    flags: 0,
                    bytes: f.clone(),
                },
                Record {
                    gap_us: 200,
                    flags: 0,
                    bytes: Vec::new(),
                },
                Record {
                    gap_us: 7,
                    flags: TO_SENDER,
                    bytes: f.clone(),
                },
            ],
        );
        let got = decode(&sc, &input[1..]);
        assert_eq!(
            got,
            [
                Arrival {
                    host: RECEIVER,
                    at: 3_000,
                    frame: f.clone()
                },
                Arrival {
                    host: SENDER,
                    at: 210_000,
                    frame: f
                },
            ]
        );
        // Cut short: the last frame keeps what there is.
        let got = decode(&sc, &input[1..input.len() - 10]);
        assert_eq!(got[1].frame.len(), 50);
    }

    #[test]
    fn shaped_random_bytes_are_the_flows_tcp_with_valid_checksums() {
        let sc = scenario(0);
        let mut m = Mutator::new(7);
        let mut bytes = m.bytes(0);
        bytes.resize(80, 0x5a);
        shape(&sc, &mut bytes, RECEIVER, ADDRESS | LENGTH | CHECKSUMS);
        assert!(frame::checksums_ok(&bytes));
        let d = frame::dissect(&bytes);
        assert!(d.tcp, "{bytes:?}");
        assert_eq!((d.src_port, d.dst_port), (CLIENT_PORT, SERVER_PORT));
        assert_eq!(&bytes[0..6], &host::mac(RECEIVER as u8).0);
    }

    #[test]
    fn a_clean_run_is_ok_and_the_seeds_replay_live_frames() {
        let r = rx_frames(&[]);
        assert_eq!(r.outcome, Outcome::Ok);
        let seeds = seeds();
        assert!(seeds.len() > 10);
        for (name, input) in &seeds {
            let r = rx_frames(input);
            assert_ne!(
                r.outcome,
                Outcome::Integrity,
                "{name}: duplicates change nothing"
            );
        }
    }
}
