//! Invariants of the whole model, for random small transfers.
//!
//! Bytes in = bytes out (by length and hash), every descriptor owned by
//! exactly one of driver or NIC after every event (the world checks this
//! itself when `check_invariants` is on, and ends the run with outcome
//! `invariant` otherwise), every user page reference dropped, every pooled
//! buffer returned; with faults on the wire, what arrives is never wrong.

use proptest::prelude::*;
use simnet_sim::config::{
    BufferKind, FramingConfig, FramingKind, PoolKind, RecvPath, Scenario, SendPath, SwitchConfig,
};
use simnet_sim::event::{NoObserver, Step};
use simnet_sim::report::{Integrity, Outcome};
use simnet_sim::world::World;

fn arb_path() -> impl Strategy<Value = SendPath> {
    prop_oneof![
        Just(SendPath::Write),
        Just(SendPath::Writev),
        Just(SendPath::MsgZerocopy),
        Just(SendPath::Sendfile),
        Just(SendPath::Splice),
        Just(SendPath::IoUring),
        Just(SendPath::IoUringFixed),
        Just(SendPath::IoUringSendZc),
    ]
}

fn arb_pool() -> impl Strategy<Value = PoolKind> {
    prop_oneof![
        Just(PoolKind::None),
        Just(PoolKind::Fixed),
        Just(PoolKind::Dynamic),
        Just(PoolKind::ThreadLocal),
        Just(PoolKind::Recycling),
    ]
}

fn arb_recv() -> impl Strategy<Value = RecvPath> {
    prop_oneof![
        Just(RecvPath::Read),
        Just(RecvPath::Readv),
        Just(RecvPath::ZerocopyReceive),
        Just(RecvPath::IoUringProvided),
        Just(RecvPath::Splice),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn bytes_in_equal_bytes_out_and_resources_balance(
        bytes in 1u64..300_000,
        write_size in 1u32..70_000,
        read_size in 1u32..70_000,
        tx_ring in 32u16..300,
        rx_ring in 32u16..300,
        pool_size in 1u32..6,
        send in arb_path(),
        seed in 0u64..1000,
        tx_csum in proptest::bool::ANY,
        rx_csum in proptest::bool::ANY,
        segmentation in 0u8..3,
        gro in proptest::bool::ANY,
        recv in arb_recv(),
        iovecs in 1u32..20,
        pool in arb_pool(),
        framing in 0u8..4,
        echo in proptest::bool::ANY,
    ) {
        let mut sc = Scenario::two_hosts(bytes, write_size, send);
        sc.seed = seed;
        // Tiny zero-copy writes from a pool of one buffer are stop-and-wait
        // on delayed ACKs: slow in virtual time, but they must finish.
        sc.time_limit = 3_600_000_000_000;
        sc.flows[0].read_size = read_size;
        sc.flows[0].recv = recv;
        sc.flows[0].iovecs = iovecs;
        sc.flows[0].echo = echo;
        sc.hosts[1].nic.header_split = recv == RecvPath::ZerocopyReceive;
        sc.flows[0].buffer.pool_size = pool_size;
        // Registered buffers are a fixed set.
        sc.flows[0].buffer.pool = if send == SendPath::IoUringFixed { PoolKind::Fixed } else { pool };
        // Framing: none, delimited into a dynamic buffer, or (for the copy
        // paths, a gather write) length-prefixed or header/body/trailer.
        let gather = matches!(send, SendPath::Write | SendPath::Writev);
        let kind = match framing {
            1 => Some(FramingKind::Delimited),
            2 if gather => Some(FramingKind::LengthPrefixed),
            3 if gather => Some(FramingKind::HeaderBodyTrailer),
            _ => None,
        };
        if let Some(kind) = kind {
            sc.flows[0].framing = Some(FramingConfig { kind, delimiter: b'\n', header: 16, trailer: 4 });
            if kind == FramingKind::Delimited {
                sc.flows[0].buffer.kind = BufferKind::DynamicVector;
            }
        }
        for h in &mut sc.hosts {
            h.nic.tx_ring = tx_ring;
            h.nic.rx_ring = rx_ring;
            // 0: none, 1: GSO in software, 2: TSO (which needs tx-checksum).
            h.nic.offloads.gso = segmentation == 1;
            h.nic.offloads.tso = segmentation == 2;
            h.nic.offloads.tx_checksum = tx_csum || segmentation == 2;
            h.nic.offloads.rx_checksum = rx_csum;
            h.nic.offloads.gro = gro;
        }
        let mut obs = NoObserver;
        let mut w = World::new(&sc, &mut obs).unwrap();
        w.check_invariants = true;
        let r = w.run();
        prop_assert_eq!(r.outcome, Outcome::Ok);
        let f = &r.flows[0];
        prop_assert_eq!(f.bytes_sent, bytes);
        prop_assert_eq!(f.bytes_received, bytes);
        prop_assert_eq!(f.sent_hash, f.received_hash);
        prop_assert!(f.integrity_ok());
        // An echo comes back whole.
        prop_assert_eq!(f.echo.map(|e| (e.bytes_written_back, e.bytes_read_back)), echo.then_some((bytes, bytes)));
        // Every Rx page is in the ring, back in the pool or released.
        for h in &r.hosts {
            let p = &h.page_pool;
            prop_assert_eq!(p.misses, rx_ring as u64 - 1 + p.available() + p.released);
        }
        let s = &r.hosts[0];
        prop_assert_eq!(s.pinned_pages(), s.unpinned_pages());
        // Every pooled buffer came back (none is reported leaked).
        prop_assert_eq!(s.leaked_buffers, 0);
        prop_assert_eq!(f.leaked_buffers, 0);
        prop_assert_eq!(f.pool_stats.hits + f.pool_stats.misses, if send.from_file() { 0 } else { f.writes });
        if send.zero_copy() {
            prop_assert!(s.pinned_pages() > 0);
            // Every send has a notification, its own or (MSG_ZEROCOPY) its
            // predecessor's, extended; one completion per notification.
            let alloc = s.counters.get(Step::ZerocopyAlloc).count;
            let extend = s.counters.get(Step::ZerocopyExtend).count;
            prop_assert_eq!(alloc + extend, f.writes);
            prop_assert_eq!(s.completions(), alloc);
            if send != SendPath::MsgZerocopy {
                prop_assert_eq!(extend, 0); // io_uring: one notification per request
            }
        } else {
            prop_assert_eq!(s.pinned_pages(), 0);
            prop_assert_eq!(s.completions(), 0);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Three to six hosts on a switch with any buffer, flows between any
    /// two of them on any path: every byte arrives, every frame the switch
    /// admits reaches the host of its port (but those still on the wire
    /// when the last application finishes), and resources balance on
    /// every host.
    #[test]
    fn a_switch_of_many_hosts_delivers_every_byte_and_loses_no_frame_it_admits(
        hosts in 3usize..7,
        flows in proptest::collection::vec((0usize..6, 1usize..6, 1u64..200_000, arb_path()), 1..6),
        write_size in 1000u32..70_000,
        buffer in 8u64..1024,
        latency in 0u64..5_000,
        seed in 0u64..1000,
    ) {
        let proto = Scenario::two_hosts(1, 1, SendPath::Write);
        let mut sc = proto.clone();
        sc.seed = seed;
        sc.time_limit = 3_600_000_000_000;
        sc.hosts = (0..hosts)
            .map(|i| {
                let mut h = proto.hosts[0].clone();
                h.name = format!("h{i}");
                h.address = std::net::Ipv4Addr::new(10, 0, 0, 1 + i as u8);
                h
            })
            .collect();
        sc.switch = Some(SwitchConfig { buffer: buffer << 10, latency });
        sc.flows = flows
            .iter()
            .enumerate()
            .map(|(i, &(from, hop, bytes, send))| {
                let (from, to) = (from % hosts, (from % hosts + hop % (hosts - 1) + 1) % hosts);
                let mut f = proto.flows[0].clone();
                f.from = format!("h{from}");
                f.to = format!("h{to}");
                f.port = 5001 + i as u16;
                f.bytes = bytes;
                f.write_size = write_size;
                f.send = send;
                f
            })
            .collect();
        let mut obs = NoObserver;
        let mut w = World::new(&sc, &mut obs).unwrap();
        w.check_invariants = true;
        let r = w.run();
        prop_assert_eq!(r.outcome, Outcome::Ok);
        for (f, &(_, _, bytes, _)) in r.flows.iter().zip(&flows) {
            prop_assert!(f.integrity_ok());
            prop_assert_eq!(f.bytes_received, bytes);
            prop_assert_eq!(f.leaked_buffers, 0);
        }
        let sw = r.switch.as_ref().unwrap();
        let received: u64 = r.hosts.iter().map(|h| h.counters.get(Step::WireRx).count).sum();
        prop_assert!(received <= sw.frames);
        let on_wires = w.frames_on_wires() as u64;
        prop_assert!(sw.frames - received <= on_wires, "{} admitted, {received} received, {on_wires} on the wires", sw.frames);
        prop_assert!(sw.peak_queue_bytes <= buffer << 10);
        for h in &r.hosts {
            prop_assert_eq!(h.pinned_pages(), h.unpinned_pages());
            prop_assert_eq!(h.leaked_buffers, 0);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any path, pool, MTU, ring and queue, over a wire that loses up to
    /// 20 % of frames and reorders, duplicates and corrupts some: the run
    /// ends `ok` with every byte intact and every resource back, or at its
    /// time limit with what arrived intact (`incomplete`, never
    /// `mismatch`); never a broken invariant, never a spin, and a bounded
    /// number of events per byte.
    #[test]
    fn faults_never_corrupt_delivered_bytes_or_break_an_invariant(
        bytes in 1u64..150_000,
        write_size in 1u32..40_000,
        mtu in 576u32..9001,
        rings in 32u16..200,
        queue in proptest::option::of(16u64..512),
        send in arb_path(),
        recv in arb_recv(),
        pool in arb_pool(),
        loss in 0.0f64..0.2,
        reorder in 0.0f64..0.05,
        duplicate in 0.0f64..0.05,
        corrupt in 0.0f64..0.05,
        offloads in proptest::bool::ANY,
        seed in 0u64..1000,
    ) {
        let mut sc = Scenario::two_hosts(bytes, write_size, send);
        sc.seed = seed;
        sc.time_limit = 600_000_000_000;
        sc.link.mtu = mtu;
        sc.link.queue = queue.map(|k| k << 10);
        sc.link.faults.loss = loss;
        sc.link.faults.reorder = reorder;
        sc.link.faults.duplicate = duplicate;
        sc.link.faults.corrupt = corrupt;
        sc.flows[0].recv = recv;
        sc.flows[0].buffer.pool = if send == SendPath::IoUringFixed { PoolKind::Fixed } else { pool };
        sc.hosts[1].nic.header_split = recv == RecvPath::ZerocopyReceive;
        for h in &mut sc.hosts {
            h.nic.tx_ring = rings;
            h.nic.rx_ring = rings;
            h.nic.offloads.tso = offloads;
            h.nic.offloads.gro = offloads;
            h.nic.offloads.tx_checksum = offloads;
            h.nic.offloads.rx_checksum = offloads;
        }
        let mut obs = NoObserver;
        let mut w = World::new(&sc, &mut obs).unwrap();
        w.check_invariants = true;
        let r = w.run();
        let f = &r.flows[0];
        prop_assert!(
            matches!(r.outcome, Outcome::Ok | Outcome::TimeLimit),
            "{:?}: {:?}", r.outcome, r.why
        );
        if r.outcome == Outcome::Ok {
            prop_assert!(f.integrity_ok());
            for h in &r.hosts {
                prop_assert_eq!(h.pinned_pages(), h.unpinned_pages());
                prop_assert_eq!(h.leaked_buffers, 0);
            }
        } else {
            prop_assert_eq!(f.integrity(), Integrity::Incomplete);
        }
        prop_assert!(
            r.events <= 100_000 + 200 * bytes,
            "{} events for {bytes} bytes", r.events
        );
    }
}
