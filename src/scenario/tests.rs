//! The scenario reader's contract: every accepted form, every default, and
//! the file, line, column, key path and message of every refusal.

use super::*;
use simnet_sim::config::*;
use simnet_sim::cost::CostModel;
use simnet_sim::units::{scaled, SIZE_UNITS};
use std::net::Ipv4Addr;

/// The SCENARIO.md example, less the parts tested on their own
/// (`offload` is empty, no `[flow.framing]`, no `[tap]`).
const EXAMPLE: &str = r#"[scenario]
name = "zero_copy"            # required; also the default capture folder name
description = "..."           # one paragraph: what this lesson shows
seed = 1                      # default 1; same seed => byte-identical outputs
time_limit = "10s"            # virtual-time cap; hitting it is a reported error

[link]                        # the wire between the two hosts
rate = "10Gbit/s"
delay = "10us"                # one-way propagation delay
mtu = 1500                    # IP MTU (Ethernet frame = mtu + 14)
queue = "1MiB"                # optional drop-tail queue in front of the wire

[link.faults]                 # optional; probabilities per frame, seeded
loss = 0.0
duplicate = 0.0
reorder = 0.0
reorder_delay = "50us"
corrupt = 0.0                 # one flipped bit; must be caught by checksums

[hosts.sender]                # exactly two hosts, any names (one with [tap])
address = "192.168.69.1/24"   # simulated addresses: never real traffic

[hosts.sender.nic]
tx_ring = 256                 # descriptors
rx_ring = 256
offload = []                  # any subset; [] = none
irq_coalesce = "8us"          # 0 = one interrupt per completion
napi_budget = 64
copybreak = 256               # Rx frames up to this size are copied into a new sk_buff
header_split = false          # NIC writes headers and payload to separate buffers

[hosts.sender.socket]
sndbuf = "4MiB"
rcvbuf = "4MiB"
nagle = false
congestion = "cubic"          # cubic | reno | none

[hosts.sender.cpu]            # cost-model overrides; defaults in COSTS.md
copy_bandwidth = "10GB/s"
syscall = "200ns"
checksum_per_byte = "0.25ns"

[hosts.receiver]
address = "192.168.69.2/24"

[[flow]]
from = "sender"
to = "receiver"
port = 5001
bytes = "64MiB"               # payload to move
write_size = "64KiB"          # bytes per send call
read_size = "64KiB"           # bytes per receive call
send = "msg_zerocopy"         # write | writev | msg_zerocopy | sendfile | splice |
                          # io_uring | io_uring_fixed | io_uring_send_zc
recv = "read"                 # read | readv | zerocopy_receive | io_uring_provided | splice
iovecs = 1                    # buffers per call for writev / readv (<= 1024)

[flow.buffer]                 # the application's send buffers
kind = "vec"                  # array | vec | string | bytes | dynamic_string |
                          # dynamic_vector | streambuf
align = "page"                # page | cacheline | none
pool = "fixed"                # none | fixed | dynamic | thread_local | recycling
pool_size = 32
reuse = "after_completion"    # after_completion | immediately (demonstrates the
                          # lifetime bug: the wire must then show the damage)
"#;

/// Only the required keys. Line numbers below refer to this layout.
const MINIMAL: &str = "[scenario]
name = \"t\"

[hosts.a]
address = \"10.0.0.1/24\"

[hosts.b]
address = \"10.0.0.2/24\"

[[flow]]
from = \"a\"
to = \"b\"
bytes = \"1MiB\"
";

fn ok(src: &str) -> Scenario {
    match parse(src.as_bytes(), "t.toml") {
        Ok(s) => s,
        Err(e) => panic!("expected success, got: {e}"),
    }
}

fn err(src: &str) -> ScenarioError {
    match parse(src.as_bytes(), "t.toml") {
        Ok(s) => panic!("expected an error, got {s:?}"),
        Err(e) => e,
    }
}

/// MINIMAL with `line` appended to the table whose header is `header`
/// (or to the end when `header` is empty).
fn minimal_with(header: &str, line: &str) -> String {
    let mut out = String::new();
    let mut added = false;
    for l in MINIMAL.lines() {
        out.push_str(l);
        out.push('\n');
        if !added && !header.is_empty() && l == header {
            out.push_str(line);
            out.push('\n');
            added = true;
        }
    }
    if !added {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The error for MINIMAL with `line` inserted as the first line of the
/// table `header`: such a line is line `header_line + 1`.
fn err_with(header: &str, line: &str) -> ScenarioError {
    err(&minimal_with(header, line))
}

fn assert_at(e: &ScenarioError, line: usize, column: usize, key: &str) {
    assert_eq!(
        (e.line, e.column, e.key.as_deref()),
        (Some(line), Some(column), Some(key)),
        "wrong position or key in: {e}"
    );
}

// --- whole files -----------------------------------------------------

#[test]
fn scenario_md_example_parses_to_expected_values() {
    let s = ok(EXAMPLE);
    assert_eq!(s.name, "zero_copy");
    assert_eq!(s.description, "...");
    assert_eq!(s.seed, 1);
    assert_eq!(s.time_limit, 10_000_000_000);
    assert_eq!(s.link.rate_bps, 10_000_000_000);
    assert_eq!(s.link.delay, 10_000);
    assert_eq!(s.link.mtu, 1500);
    assert_eq!(s.link.queue, Some(1 << 20));
    let f = &s.link.faults;
    assert_eq!(
        (f.loss, f.duplicate, f.reorder, f.corrupt),
        (0.0, 0.0, 0.0, 0.0)
    );
    assert_eq!(f.reorder_delay, 50_000);

    assert_eq!(s.hosts.len(), 2);
    let sender = &s.hosts[0];
    assert_eq!(sender.name, "sender");
    assert_eq!(sender.address, Ipv4Addr::new(192, 168, 69, 1));
    assert_eq!(sender.prefix_len, 24);
    assert_eq!((sender.nic.tx_ring, sender.nic.rx_ring), (256, 256));
    assert_eq!(sender.nic.offloads, Offloads::default());
    assert_eq!(sender.nic.irq_coalesce, 8_000);
    assert_eq!(sender.nic.napi_budget, 64);
    assert_eq!(sender.nic.copybreak, 256);
    assert!(!sender.nic.header_split);
    assert_eq!(
        (sender.socket.sndbuf, sender.socket.rcvbuf),
        (4 << 20, 4 << 20)
    );
    assert!(!sender.socket.nagle);
    assert_eq!(sender.socket.congestion, Congestion::Cubic);
    let cpu = CostModel {
        copy_ps_per_byte: 100,
        syscall: 200,
        checksum_ps_per_byte: 250,
        ..CostModel::default()
    };
    assert_eq!(sender.cpu, cpu);

    let receiver = &s.hosts[1];
    assert_eq!(receiver.name, "receiver");
    assert_eq!(receiver.address, Ipv4Addr::new(192, 168, 69, 2));
    assert_eq!(receiver.nic.irq_coalesce, DEFAULT_IRQ_COALESCE);
    assert_eq!(receiver.cpu, CostModel::default());

    assert_eq!(s.flows.len(), 1);
    let flow = &s.flows[0];
    assert_eq!(
        (&*flow.from, &*flow.to, flow.port),
        ("sender", "receiver", 5001)
    );
    assert_eq!(flow.bytes, 64 << 20);
    assert_eq!((flow.write_size, flow.read_size), (64 << 10, 64 << 10));
    assert_eq!(flow.send, SendPath::MsgZerocopy);
    assert_eq!(flow.recv, RecvPath::Read);
    assert_eq!(flow.buffer.kind, BufferKind::Vec);
    assert_eq!(flow.buffer.align, Align::Page);
    assert_eq!(flow.buffer.pool, PoolKind::Fixed);
    assert_eq!(flow.buffer.pool_size, 32);
}

#[test]
fn reference_docs_example_parses() {
    let doc = include_str!("../../docs/scenario.md");
    let example = doc
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .unwrap_or("");
    let s = ok(example);
    assert_eq!(s.name, "zero_copy");
    assert_eq!(s.flows[0].send, SendPath::MsgZerocopy);
    assert_eq!(s.flows[0].buffer.pool_size, 32);
}

#[test]
fn omitted_keys_take_documented_defaults() {
    let s = ok(MINIMAL);
    assert_eq!(s.description, "");
    assert_eq!(s.seed, 1);
    assert_eq!(s.time_limit, 10_000_000_000);
    assert_eq!(s.link.rate_bps, 10_000_000_000);
    assert_eq!(s.link.delay, 10_000);
    assert_eq!(s.link.mtu, 1500);
    assert_eq!(s.link.queue, None);
    assert_eq!(s.link.faults.loss, 0.0);
    assert_eq!(s.link.faults.reorder_delay, 50_000);
    for h in &s.hosts {
        assert_eq!(h.nic.tx_ring, DEFAULT_RING);
        assert_eq!(h.nic.rx_ring, DEFAULT_RING);
        assert_eq!(h.nic.offloads, Offloads::default());
        assert_eq!(h.nic.irq_coalesce, DEFAULT_IRQ_COALESCE);
        assert_eq!(h.nic.napi_budget, DEFAULT_NAPI_BUDGET);
        assert_eq!(h.nic.copybreak, DEFAULT_COPYBREAK);
        assert!(!h.nic.header_split);
        assert_eq!(h.socket.sndbuf, DEFAULT_SOCKBUF);
        assert_eq!(h.socket.rcvbuf, DEFAULT_SOCKBUF);
        assert!(!h.socket.nagle);
        assert_eq!(h.socket.congestion, Congestion::Cubic);
        assert_eq!(h.cpu, CostModel::default());
    }
    let f = &s.flows[0];
    assert_eq!(f.port, 5001);
    assert_eq!(f.bytes, 1 << 20);
    assert_eq!((f.write_size, f.read_size), (65536, 65536));
    assert_eq!(f.send, SendPath::Write);
    assert_eq!(f.recv, RecvPath::Read);
    assert_eq!(f.buffer.kind, BufferKind::Vec);
    assert_eq!(f.buffer.align, Align::Page);
    assert_eq!(f.buffer.pool, PoolKind::Fixed);
    assert_eq!(f.buffer.pool_size, DEFAULT_POOL_SIZE);
}

#[test]
fn hosts_keep_the_order_of_the_file() {
    let src = MINIMAL
        .replace("[hosts.a]", "[hosts.zeta]")
        .replace("[hosts.b]", "[hosts.alpha]")
        .replace("from = \"a\"", "from = \"alpha\"")
        .replace("to = \"b\"", "to = \"zeta\"");
    let s = ok(&src);
    assert_eq!(s.hosts[0].name, "zeta");
    assert_eq!(s.hosts[1].name, "alpha");
    assert_eq!((&*s.flows[0].from, &*s.flows[0].to), ("alpha", "zeta"));
}

#[test]
fn flows_get_default_ports_by_index_and_indexes_into_hosts() {
    let src = format!("{MINIMAL}\n[[flow]]\nfrom = \"b\"\nto = \"a\"\nbytes = 10\n");
    let s = ok(&src);
    assert_eq!(s.flows[1].port, 5002);
    assert_eq!((&*s.flows[1].from, &*s.flows[1].to), ("b", "a"));
    assert_eq!(s.flows[1].bytes, 10);
}

#[test]
fn cpu_overrides_convert_rates_and_fractional_times() {
    let s = ok(&minimal_with(
        "[hosts.a]",
        "cpu = { copy_bandwidth = \"20GB/s\", checksum_per_byte = \"0.1ns\", \
         dma_bandwidth = \"1GB/s\", irq = \"1.5us\", dma_latency = 0, page_pin = \"75ns\" }",
    ));
    let cpu = &s.hosts[0].cpu;
    assert_eq!(cpu.copy_ps_per_byte, 50);
    assert_eq!(cpu.checksum_ps_per_byte, 100);
    assert_eq!(cpu.pcie_ps_per_byte, 1000);
    assert_eq!(cpu.irq, 1500);
    assert_eq!(cpu.dma_latency, 0);
    assert_eq!(cpu.page_pin, 75);
    assert_eq!(cpu.syscall, CostModel::default().syscall);
    assert_eq!(s.hosts[1].cpu, CostModel::default());
}

#[test]
fn other_choices_map_to_their_variants() {
    let mut src = minimal_with(
        "[hosts.b]",
        "socket = { congestion = \"reno\", nagle = true }",
    );
    src.push_str("[flow.buffer]\nkind = \"array\"\nalign = \"cacheline\"\npool = \"none\"\n");
    let s = ok(&src);
    assert_eq!(s.hosts[1].socket.congestion, Congestion::Reno);
    assert!(s.hosts[1].socket.nagle);
    let b = &s.flows[0].buffer;
    assert_eq!(
        (b.kind, b.align, b.pool),
        (BufferKind::Array, Align::Cacheline, PoolKind::None)
    );
    let s = ok(&minimal_with("[hosts.a]", "socket.congestion = \"none\""));
    assert_eq!(s.hosts[0].socket.congestion, Congestion::None);
}

// --- units -----------------------------------------------------------

#[test]
fn sizes_accept_integers_si_and_binary_units() {
    let cases: &[(&str, u128)] = &[
        ("1500", 1500),
        ("512B", 512),
        ("64KiB", 65536),
        ("4MiB", 4 << 20),
        ("1GiB", 1 << 30),
        ("1TiB", 1 << 40),
        ("10kB", 10_000),
        ("1MB", 1_000_000),
        ("1GB", 1_000_000_000),
        ("1.5MiB", 3 << 19),
        ("0.5KiB", 512),
        ("2.50kB", 2500),
    ];
    for (s, n) in cases {
        assert_eq!(scaled(s, SIZE_UNITS), Ok(*n), "{s}");
    }
    let s = ok(&format!("{MINIMAL}[link]\nmtu = \"9000\"\nqueue = 2048\n"));
    assert_eq!((s.link.mtu, s.link.queue), (9000, Some(2048)));
}

#[test]
fn misspelled_size_names_the_expected_forms() {
    let e = err_with("[hosts.a]", "socket.sndbuf = \"64 kb\"");
    assert_at(&e, 5, 17, "hosts.a.socket.sndbuf");
    assert_eq!(
        e.message,
        "expected a size like 1500, \"64KiB\" or \"4MiB\", found \"64 kb\""
    );
}

#[test]
fn fraction_below_the_unit_of_a_key_is_refused() {
    let e = err_with("[hosts.a]", "cpu.syscall = \"1.5ns\"");
    assert_at(&e, 5, 15, "hosts.a.cpu.syscall");
    assert_eq!(e.message, "\"1.5ns\" is not a whole number of nanoseconds");
    let e = err_with("[[flow]]", "write_size = \"1.5B\"");
    assert_eq!(e.message, "\"1.5B\" is not a whole number of bytes");
    let e = err(&(MINIMAL.to_string() + "[link]\nrate = \"1.5bit/s\"\n"));
    assert_eq!(
        e.message,
        "\"1.5bit/s\" is not a whole number of bits per second"
    );
}

#[test]
fn time_without_unit_is_refused_but_zero_is_allowed() {
    let e = err(&(MINIMAL.to_string() + "[link]\ndelay = 10\n"));
    assert_at(&e, 15, 9, "link.delay");
    assert!(e.message.contains("a time needs a unit"), "{e}");
    let s = ok(&(MINIMAL.to_string() + "[link]\ndelay = 0\n"));
    assert_eq!(s.link.delay, 0);
    let s = ok(&minimal_with("[hosts.a]", "nic.irq_coalesce = 0"));
    assert_eq!(s.hosts[0].nic.irq_coalesce, 0);
}

#[test]
fn rate_without_unit_is_refused() {
    let e = err(&(MINIMAL.to_string() + "[link]\nrate = 1000000\n"));
    assert_at(&e, 15, 8, "link.rate");
    assert_eq!(
        e.message,
        "expected a rate like \"10Gbit/s\", \"100Mbit/s\" or \"10GB/s\", found 1000000 (a rate needs a unit)"
    );
}

// --- bounds ----------------------------------------------------------

#[test]
fn ring_out_of_range_names_the_bounds() {
    let e = err(&(MINIMAL.to_string() + "[hosts.a.nic]\ntx_ring = 0\n"));
    assert_at(&e, 15, 11, "hosts.a.nic.tx_ring");
    assert_eq!(
        e.message,
        "expected a descriptor count in 32..=4096, found 0"
    );
    assert_eq!(
        e.to_string(),
        "t.toml:15:11: key `hosts.a.nic.tx_ring`: expected a descriptor count in 32..=4096, found 0"
    );
}

#[test]
fn values_past_sane_bounds_are_errors() {
    let cases: &[(&str, &str, &str, &str)] = &[
        ("[link]", "mtu = 9001", "link.mtu", "expected a size in 576..=9000 bytes, found 9001"),
        ("[link]", "mtu = \"10KiB\"", "link.mtu", "expected a size in 576..=9000 bytes, found \"10KiB\""),
        ("[link]", "rate = \"2Tbit/s\"", "link.rate", "expected a rate in 1kbit/s..=1Tbit/s, found \"2Tbit/s\""),
        ("[link]", "rate = \"0bit/s\"", "link.rate", "expected a rate in 1kbit/s..=1Tbit/s, found \"0bit/s\""),
        ("[link]", "delay = \"-1us\"", "link.delay", "expected a time like \"200ns\", \"10us\" or \"1.5ms\", found \"-1us\" (it cannot be negative)"),
        ("[link]", "delay = \"11s\"", "link.delay", "expected a time in 0..=10s, found \"11s\""),
        ("[link]", "queue = \"1TiB\"", "link.queue", "expected a size in 1KiB..=1GiB, found \"1TiB\""),
        ("[link]", "queue = -1", "link.queue", "expected a size like 1500, \"64KiB\" or \"4MiB\", found -1 (sizes cannot be negative)"),
        ("[link.faults]", "loss = 1.5", "link.faults.loss", "expected a probability in 0.0..=1.0, found 1.5"),
        ("[link.faults]", "corrupt = -0.1", "link.faults.corrupt", "expected a probability in 0.0..=1.0, found -0.1"),
        ("[link.faults]", "reorder = nan", "link.faults.reorder", "expected a probability in 0.0..=1.0, found nan"),
        ("[scenario]", "time_limit = 0", "scenario.time_limit", "expected a time in 1us..=86400s, found 0"),
        ("[scenario]", "time_limit = \"2days\"", "scenario.time_limit", "expected a time like \"200ns\", \"10us\" or \"1.5ms\", found \"2days\""),
        ("[scenario]", "seed = -1", "scenario.seed", "expected a seed in 0..=9223372036854775807, found -1"),
        ("[hosts.a.nic]", "rx_ring = 8192", "hosts.a.nic.rx_ring", "expected a descriptor count in 32..=4096, found 8192"),
        ("[hosts.a.nic]", "napi_budget = 0", "hosts.a.nic.napi_budget", "expected a frame count in 1..=4096, found 0"),
        ("[hosts.a.nic]", "copybreak = 9001", "hosts.a.nic.copybreak", "expected a size in 0..=9000 bytes, found 9001"),
        ("[hosts.a.nic]", "irq_coalesce = \"2ms\"", "hosts.a.nic.irq_coalesce", "expected a time in 0..=1ms, found \"2ms\""),
        ("[hosts.a.socket]", "sndbuf = \"2KiB\"", "hosts.a.socket.sndbuf", "expected a size in 4KiB..=1GiB, found \"2KiB\""),
        ("[hosts.a.socket]", "rcvbuf = \"2GiB\"", "hosts.a.socket.rcvbuf", "expected a size in 4KiB..=1GiB, found \"2GiB\""),
        ("[hosts.a.cpu]", "copy_bandwidth = \"2TB/s\"", "hosts.a.cpu.copy_bandwidth", "expected a rate in 8Mbit/s..=8Tbit/s, found \"2TB/s\""),
        ("[hosts.a.cpu]", "syscall = \"1s\"", "hosts.a.cpu.syscall", "expected a time in 0..=10ms, found \"1s\""),
        ("[hosts.a.cpu]", "checksum_per_byte = \"2us\"", "hosts.a.cpu.checksum_per_byte", "expected a time in 0..=1us, found \"2us\""),
        ("[flow.buffer]", "pool_size = 0", "flow[0].buffer.pool_size", "expected a buffer count in 1..=65536, found 0"),
    ];
    for (header, line, key, message) in cases {
        // [scenario] exists already: add to it; other tables go at the end.
        let (src, at) = if *header == "[scenario]" {
            (minimal_with(header, line), 2)
        } else {
            (format!("{MINIMAL}{header}\n{line}\n"), 15)
        };
        let e = err(&src);
        assert_eq!(e.line, Some(at), "{src}");
        assert_eq!(e.key.as_deref(), Some(*key), "{src}");
        assert_eq!(&e.message, message, "{src}");
    }
}

#[test]
fn flow_sizes_have_bounds() {
    let e = err(&MINIMAL.replace("bytes = \"1MiB\"", "bytes = 0"));
    assert_at(&e, 13, 9, "flow[0].bytes");
    assert_eq!(e.message, "expected a size in 1B..=1TiB, found 0");
    let e = err(&MINIMAL.replace("bytes = \"1MiB\"", "bytes = \"2TiB\""));
    assert_eq!(e.message, "expected a size in 1B..=1TiB, found \"2TiB\"");
    let e = err_with("[[flow]]", "read_size = \"2GiB\"");
    assert_at(&e, 11, 13, "flow[0].read_size");
    let e = err_with("[[flow]]", "port = 0");
    assert_eq!(e.message, "expected a port in 1..=65535, found 0");
    let e = err_with("[[flow]]", "port = 65536");
    assert_eq!(e.message, "expected a port in 1..=65535, found 65536");
}

#[test]
fn numbers_in_quotes_for_counts_get_a_hint() {
    let e = err_with("[hosts.a]", "nic.tx_ring = \"256\"");
    assert_eq!(
        e.message,
        "expected a descriptor count in 32..=4096, found \"256\" (write numbers without quotes)"
    );
}

#[test]
fn absurd_integers_do_not_overflow() {
    let e = err_with("[[flow]]", "write_size = 0x7fffffffffffffff");
    assert_eq!(
        e.message,
        "expected a size in 1B..=1GiB, found 0x7fffffffffffffff"
    );
    let e = err_with("[hosts.a]", "nic.tx_ring = 99999999999999999999999");
    assert_at(&e, 5, 15, "hosts.a.nic.tx_ring");
}

// --- error classes: position and key path ------------------------------

#[test]
fn syntax_error_has_line_and_column_but_no_key() {
    let e = err("[scenario]\nname = \"t\"\nseed = \n");
    assert_eq!(
        (e.line, e.column, e.key.as_deref()),
        (Some(3), Some(8), None)
    );
    assert!(e.message.starts_with("invalid TOML: "), "{e}");
}

#[test]
fn a_dotted_key_nested_too_deep_is_placed_at_the_key() {
    // toml takes 80 parts (the key is then merely unknown) and refuses 81
    // without a position; the reader finds the key.
    let dotted = |n: usize| vec!["a"; n].join(".");
    let e = err_with("[scenario]", &format!("{} = 1", dotted(super::TOML_DEPTH)));
    assert!(e.message.starts_with("unknown key"), "{e}");
    for (line, at) in [
        (format!("  {} = 1", dotted(81)), (2, 3)),
        (format!("x.{} = 1", dotted(100)), (2, 1)),
    ] {
        let e = err_with("[scenario]", &line);
        assert_eq!(
            (e.line, e.column, e.key.as_deref()),
            (Some(at.0), Some(at.1), None)
        );
        assert!(
            e.message.contains("nested too deep: a dotted key of"),
            "{e}"
        );
    }
    let e = err(&format!("{MINIMAL}\n[{}]\n", dotted(100)));
    assert!(
        e.message
            .ends_with("a dotted key of 100 parts (at most 80)"),
        "{e}"
    );
    assert_eq!(e.column, Some(2), "{e}");
    // Arrays inside arrays: toml places it; the reader words it.
    let deep = format!("x = {}{}", "[".repeat(100), "]".repeat(100));
    let e = err_with("[scenario]", &deep);
    assert!(
        e.message.contains("nested too deep: more than 80 arrays"),
        "{e}"
    );
    assert_eq!(e.line, Some(2), "{e}");
}

#[test]
fn duplicate_key_names_the_key() {
    let e = err("[scenario]\nname = \"t\"\nname = \"u\"\n");
    assert_eq!((e.line, e.column), (Some(3), Some(1)));
    assert_eq!(e.message, "invalid TOML: duplicate key \"name\"");
}

#[test]
fn unknown_key_lists_the_expected_keys() {
    let e = err_with("[hosts.a]", "nic.tx_rign = 64");
    assert_at(&e, 5, 5, "hosts.a.nic.tx_rign");
    assert_eq!(
        e.message,
        "unknown key \"tx_rign\" in [hosts.a.nic] (did you mean `tx_ring`?); expected one of: \
         tx_ring, rx_ring, offload, irq_coalesce, napi_budget, copybreak, header_split"
    );
    let e = err("colour = 1\n");
    assert_at(&e, 1, 1, "colour");
    assert_eq!(
        e.message,
        "unknown key \"colour\" in the top-level table; expected one of: scenario, link, hosts, switch, flow, tap"
    );
    let e = err_with("[[flow]]", "bites = 5");
    assert_at(&e, 11, 1, "flow[0].bites");
    assert!(
        e.message.contains("in [[flow]] (did you mean `bytes`?)"),
        "{e}"
    );
    let e = err_with("[[flow]]", "buffer = { size = 5 }");
    assert_at(&e, 11, 12, "flow[0].buffer.size");
    assert!(e.message.contains("in [flow.buffer]"), "{e}");
}

#[test]
fn odd_unknown_keys_are_quoted_in_the_path() {
    let e = err_with("[scenario]", "\"a b.c\" = 1");
    assert_at(&e, 2, 1, "scenario.\"a b.c\"");
}

#[test]
fn wrong_types_say_what_was_expected_and_found() {
    let e = err_with("[hosts.a]", "socket.nagle = \"yes\"");
    assert_at(&e, 5, 16, "hosts.a.socket.nagle");
    assert_eq!(e.message, "expected true or false, found \"yes\"");
    let e = err_with("[scenario]", "description = 5");
    assert_eq!(e.message, "expected a string, found 5");
    let e = err(&MINIMAL.replace("name = \"t\"", "name = 1979-05-27"));
    assert_at(&e, 2, 8, "scenario.name");
    assert_eq!(
        e.message,
        "expected a string, found the date-time 1979-05-27"
    );
    let e = err(&format!("link = 5\n{MINIMAL}"));
    assert_at(&e, 1, 8, "link");
    assert_eq!(e.message, "expected a table, found 5");
    let e = err_with("[hosts.a]", "nic = [1]");
    assert_eq!(e.message, "expected a table, found an array");
}

#[test]
fn missing_scenario_name_points_at_the_scenario_table() {
    let e = err(&MINIMAL.replace("name = \"t\"\n", "seed = 2\n"));
    assert_at(&e, 1, 1, "scenario.name");
    assert_eq!(e.message, "missing required key `name` in [scenario]");
}

#[test]
fn missing_scenario_table_points_at_the_top() {
    let e = err(&MINIMAL.replace("[scenario]\nname = \"t\"\n", ""));
    assert_at(&e, 1, 1, "scenario");
}

#[test]
fn missing_host_address_points_at_the_host_table() {
    let e = err(&MINIMAL.replace("address = \"10.0.0.2/24\"\n", "nic.tx_ring = 64\n"));
    assert_at(&e, 7, 1, "hosts.b.address");
    assert_eq!(e.message, "missing required key `address` in [hosts.b]");
}

#[test]
fn missing_flow_keys_point_at_the_flow_table() {
    for (key, line) in [
        ("from", "from = \"a\"\n"),
        ("to", "to = \"b\"\n"),
        ("bytes", "bytes = \"1MiB\"\n"),
    ] {
        let e = err(&MINIMAL.replace(line, ""));
        assert_at(&e, 10, 1, &format!("flow[0].{key}"));
        assert_eq!(
            e.message,
            format!("missing required key `{key}` in [[flow]]")
        );
    }
    let second = format!("{MINIMAL}\n[[flow]]\nfrom = \"b\"\nto = \"a\"\n");
    let e = err(&second);
    assert_at(&e, 15, 1, "flow[1].bytes");
}

#[test]
fn missing_hosts_or_flows_are_errors() {
    let e = err("[scenario]\nname = \"t\"\n");
    assert_at(&e, 1, 1, "hosts");
    let e = err(MINIMAL.split("[[flow]]").next().unwrap_or(""));
    assert_at(&e, 1, 1, "flow");
    assert_eq!(e.message, "a scenario needs at least one [[flow]]");
    let e = err(&MINIMAL.replace("[[flow]]", "[flow]"));
    assert_at(&e, 10, 1, "flow");
    assert!(e.message.contains("write each flow as [[flow]]"), "{e}");
}

#[test]
fn flow_naming_an_unknown_host_is_an_error() {
    let e = err(&MINIMAL.replace("to = \"b\"", "to = \"bee\""));
    assert_at(&e, 12, 6, "flow[0].to");
    assert_eq!(
        e.message,
        "no host named \"bee\"; the hosts are \"a\" and \"b\""
    );
}

#[test]
fn flow_from_a_host_to_itself_is_an_error() {
    let e = err(&MINIMAL.replace("to = \"b\"", "to = \"a\""));
    assert_at(&e, 12, 6, "flow[0].to");
}

#[test]
fn ports_used_twice_are_errors_at_the_second_use() {
    let src = format!("{MINIMAL}\n[[flow]]\nfrom = \"b\"\nto = \"a\"\nbytes = 1\nport = 5001\n");
    let e = err(&src);
    assert_at(&e, 19, 8, "flow[1].port");
    assert_eq!(e.message, "port 5001 is already used by flow[0]");
    // Explicit 5002 on the first flow collides with the second's default.
    let src = format!(
        "{}\n[[flow]]\nfrom = \"b\"\nto = \"a\"\nbytes = 1\n",
        minimal_with("[[flow]]", "port = 5002")
    );
    let e = err(&src);
    assert_at(&e, 16, 1, "flow[1].port");
    assert!(
        e.message
            .starts_with("port 5002 is already used by flow[0]"),
        "{e}"
    );
}

#[test]
fn hosts_number_two_to_sixty_four_and_more_than_two_need_a_switch() {
    let one = MINIMAL.replace("[hosts.b]\naddress = \"10.0.0.2/24\"\n", "");
    let e = err(&one);
    assert_at(&e, 4, 2, "hosts");
    assert_eq!(e.message, "a scenario has 2 to 64 hosts, found 1");
    let three = minimal_with("", "[hosts.c]\naddress = \"10.0.0.3/24\"");
    let e = err(&three);
    assert_at(&e, 14, 1, "hosts.c");
    assert_eq!(
        e.message,
        "3 hosts need a [switch] to join them (a direct wire joins exactly two); add a [switch] table"
    );
    let s = ok(&format!("{three}[switch]\n"));
    assert_eq!(s.hosts.len(), 3);
    assert_eq!(s.hosts[2].name, "c");
    assert_eq!(s.switch, Some(SwitchConfig::default()));
    let hosts = |n: usize| {
        let mut src = format!("{MINIMAL}[switch]\n");
        for i in 3..=n {
            src.push_str(&format!("[hosts.h{i}]\naddress = \"10.0.0.{i}/24\"\n"));
        }
        src
    };
    assert_eq!(ok(&hosts(64)).hosts.len(), 64);
    let e = err(&hosts(65));
    assert_at(&e, 15 + 2 * 62, 1, "hosts.h65");
    assert_eq!(e.message, "a scenario has 2 to 64 hosts, found 65");
}

#[test]
fn switch_reads_its_keys_with_defaults_and_bounds() {
    let s = ok(&format!(
        "{MINIMAL}[switch]\nbuffer = \"1MiB\"\nlatency = \"2.5us\"\n"
    ));
    assert_eq!(
        s.switch,
        Some(SwitchConfig {
            buffer: 1 << 20,
            latency: 2500
        })
    );
    assert_eq!(ok(MINIMAL).switch, None);
    let d = SwitchConfig::default();
    assert_eq!(
        (d.buffer, d.latency),
        (DEFAULT_SWITCH_BUFFER, DEFAULT_SWITCH_LATENCY)
    );
    assert_eq!((d.buffer, d.latency), (512 << 10, 1000));
    let cases: &[(&str, &str, &str)] = &[
        (
            "buffer = \"512B\"",
            "switch.buffer",
            "expected a size in 1KiB..=1GiB, found \"512B\"",
        ),
        (
            "buffer = \"2GiB\"",
            "switch.buffer",
            "expected a size in 1KiB..=1GiB, found \"2GiB\"",
        ),
        (
            "latency = \"2ms\"",
            "switch.latency",
            "expected a time in 0..=1ms, found \"2ms\"",
        ),
        (
            "latency = 5",
            "switch.latency",
            "expected a time like \"200ns\", \"10us\" or \"1.5ms\", found 5 (a time needs a unit)",
        ),
        (
            "ports = 4",
            "switch.ports",
            "unknown key \"ports\" in [switch]; expected one of: buffer, latency",
        ),
    ];
    for (line, key, message) in cases {
        let e = err(&format!("{MINIMAL}[switch]\n{line}\n"));
        assert_eq!((e.line, e.key.as_deref()), (Some(15), Some(*key)), "{e}");
        assert_eq!(&e.message, message);
    }
    let e = err(&format!("switch = 1\n{MINIMAL}"));
    assert_eq!(e.message, "expected a table, found 1");
}

#[test]
fn hosts_on_a_switch_share_one_subnet() {
    let three = minimal_with("", "[hosts.c]\naddress = \"10.0.1.3/24\"\n[switch]");
    let e = err(&three);
    assert_at(&e, 15, 11, "hosts.c.address");
    assert!(
        e.message
            .contains("is not on the same subnet as host \"a\""),
        "{e}"
    );
    let flows = format!(
        "{}[[flow]]\nfrom = \"c\"\nto = \"a\"\nbytes = 1\n",
        minimal_with("", "[hosts.c]\naddress = \"10.0.0.3/24\"\n[switch]")
    );
    assert_eq!(ok(&flows).flows[1].from, "c");
    let e = err(&flows.replace("from = \"c\"", "from = \"d\""));
    assert_eq!(
        e.message,
        "no host named \"d\"; the hosts are \"a\", \"b\" and \"c\""
    );
}

#[test]
fn tap_needs_two_hosts_and_no_switch() {
    let e = err(&format!("{MINIMAL}[switch]\n[tap]\nhost = \"a\"\n"));
    assert_at(&e, 15, 1, "tap");
    assert!(
        e.message.contains("exactly two hosts and no [switch]"),
        "{e}"
    );
}

#[test]
fn rules_across_keys_point_at_the_key_they_name() {
    let e = err_with("[hosts.a]", "nic.offload = [\"tso\"]");
    assert_at(&e, 5, 15, "hosts.a.nic.offload");
    let e = err_with("[[flow]]", "recv = \"zerocopy_receive\"");
    assert_at(&e, 11, 8, "flow[0].recv");
    let e = err_with(
        "[[flow]]",
        "send = \"io_uring_fixed\"\nbuffer.pool = \"none\"",
    );
    assert_at(&e, 12, 15, "flow[0].buffer.pool");
    // Absent from the file: the nearest table it is in.
    let e = err_with(
        "[[flow]]",
        "buffer.kind = \"streambuf\"\nsend = \"msg_zerocopy\"",
    );
    assert_at(&e, 11, 15, "flow[0].buffer.kind");
    let e = err(&MINIMAL.replace(
        "bytes = \"1MiB\"",
        "bytes = 1\nframing.kind = \"length_prefixed\"\nsend = \"sendfile\"",
    ));
    assert_at(&e, 14, 16, "flow[0].framing.kind");
}

#[test]
fn hosts_with_the_same_address_are_an_error_at_the_second() {
    let e = err(&MINIMAL.replace("10.0.0.2/24", "10.0.0.1/24"));
    assert_at(&e, 8, 11, "hosts.b.address");
    assert!(e.message.contains("same address 10.0.0.1"), "{e}");
}

#[test]
fn hosts_on_different_subnets_are_an_error() {
    let e = err(&MINIMAL.replace("10.0.0.2/24", "10.0.1.2/24"));
    assert_at(&e, 8, 11, "hosts.b.address");
}

#[test]
fn host_addresses_need_ipv4_and_a_prefix() {
    let cases = [
        ("10.0.0.2", "(the prefix length is missing)"),
        ("10.0.0.2/0", "expected a prefix length in 1..=32"),
        ("10.0.0.2/33", "expected a prefix length in 1..=32"),
        ("10.0.0.2/+8", "expected a prefix length in 1..=32"),
        (
            "10.0.0.256/24",
            "expected an IPv4 address with a prefix length",
        ),
        ("fe80::1/64", "IPv6 addresses are not supported yet"),
        ("10.0.0.0/24", "the subnet's network address"),
        ("10.0.0.255/24", "the subnet's broadcast address"),
        ("127.0.0.1/8", "a loopback address"),
    ];
    for (addr, needle) in cases {
        let e = err(&MINIMAL.replace("10.0.0.2/24", addr));
        assert_at(&e, 8, 11, "hosts.b.address");
        assert!(e.message.contains(needle), "{addr}: {e}");
    }
    let s = ok(&MINIMAL
        .replace("10.0.0.1/24", "10.0.0.1/31")
        .replace("10.0.0.2/24", "10.0.0.0/31"));
    assert_eq!(s.hosts[1].prefix_len, 31);
}

#[test]
fn host_names_must_be_usable_in_file_names() {
    let e = err(&MINIMAL.replace("[hosts.b]", "[hosts.\"b/c\"]"));
    assert_at(&e, 7, 8, "hosts.\"b/c\"");
    let e = err(&MINIMAL.replace("[hosts.b]", "[hosts.\"\"]"));
    assert_at(&e, 7, 8, "hosts.\"\"");
}

#[test]
fn scenario_name_must_be_usable_as_a_folder() {
    // 128 two-byte characters are 256 bytes: one more than a folder name.
    let long = "é".repeat(128);
    for bad in ["", "..", "a/b", &long] {
        let e = err(&MINIMAL.replace("name = \"t\"", &format!("name = {bad:?}")));
        assert_at(&e, 2, 8, "scenario.name");
    }
    let most = "é".repeat(127) + "a";
    assert_eq!(
        ok(&MINIMAL.replace("name = \"t\"", &format!("name = {most:?}"))).name,
        most
    );
    assert_eq!(
        ok(&MINIMAL.replace("name = \"t\"", "name = \"zero copy, 2\"")).name,
        "zero copy, 2"
    );
}

// --- features this version refuses -------------------------------------

#[test]
fn every_send_and_receive_path_parses() {
    for (name, path) in [
        ("write", SendPath::Write),
        ("writev", SendPath::Writev),
        ("msg_zerocopy", SendPath::MsgZerocopy),
        ("sendfile", SendPath::Sendfile),
        ("splice", SendPath::Splice),
        ("io_uring", SendPath::IoUring),
        ("io_uring_fixed", SendPath::IoUringFixed),
        ("io_uring_send_zc", SendPath::IoUringSendZc),
    ] {
        let s = ok(&minimal_with("[[flow]]", &format!("send = {name:?}")));
        assert_eq!(s.flows[0].send, path);
    }
    for (name, path) in [
        ("read", RecvPath::Read),
        ("readv", RecvPath::Readv),
        ("io_uring_provided", RecvPath::IoUringProvided),
        ("splice", RecvPath::Splice),
    ] {
        let s = ok(&minimal_with("[[flow]]", &format!("recv = {name:?}")));
        assert_eq!(s.flows[0].recv, path);
    }
    let s = ok(&minimal_with(
        "[[flow]]",
        "iovecs = 8\nbuffer.reuse = \"immediately\"",
    ));
    assert_eq!(s.flows[0].iovecs, 8);
    assert_eq!(s.flows[0].buffer.reuse, Reuse::Immediately);
    // Zero-copy receive needs header split on the receiving NIC.
    let e = err_with("[[flow]]", "recv = \"zerocopy_receive\"");
    assert!(e.message.contains("header_split"), "{e}");
}

#[test]
fn send_path_outside_the_contract_is_an_unknown_value() {
    let e = err_with("[[flow]]", "send = \"carrier_pigeon\"");
    assert_at(&e, 11, 8, "flow[0].send");
    assert!(
        e.message
            .starts_with("unknown value \"carrier_pigeon\"; expected one of \"write\", \"writev\""),
        "{e}"
    );
}

#[test]
fn other_unbuilt_features_are_refused() {
    let cases: &[(&str, &str, &str, &str)] = &[];
    for (header, line, key, message) in cases {
        let e = err_with(header, line);
        assert_eq!(e.key.as_deref(), Some(*key), "{line}");
        assert_eq!(&e.message, message, "{line}");
        assert!(e.line.is_some() && e.column.is_some(), "{e}");
    }
    // Delimited framing and dynamic buffers parse; a dynamic buffer
    // without framing has no delimiter to read until.
    let s = ok(&minimal_with(
        "[[flow]]",
        "buffer.kind = \"streambuf\"\nframing = { kind = \"delimited\", delimiter = \";\" }",
    ));
    assert_eq!(s.flows[0].buffer.kind, BufferKind::Streambuf);
    assert_eq!(s.flows[0].framing.map(|f| f.delimiter), Some(b';'));
    let e = err_with("[[flow]]", "buffer.kind = \"dynamic_vector\"");
    assert!(e.message.contains("framing"), "{e}");
    // TSO needs checksum offload, as in Linux.
    let e = err_with("[hosts.a]", "nic.offload = [\"tso\"]");
    assert!(e.message.contains("\"tso\" needs \"tx-checksum\""), "{e}");
    let e = err_with("[[flow]]", "iovecs = 2000");
    assert_eq!(e.message, "expected a buffer count in 1..=1024, found 2000");
    assert!(
        ok(&minimal_with(
            "[[flow]]",
            "iovecs = 1\nbuffer.reuse = \"after_completion\""
        ))
        .flows
        .len()
            == 1
    );
}

#[test]
fn tap_names_a_host_and_a_valid_device() {
    let s = ok(&format!(
        "{MINIMAL}[tap]\nhost = \"b\"\ndevice = \"sim-0\"\n"
    ));
    assert_eq!(
        s.tap,
        Some(TapConfig {
            host: "b".into(),
            device: "sim-0".into()
        })
    );
    let e = err(&format!("{MINIMAL}[tap]\nhost = \"c\"\n"));
    assert_at(&e, 15, 8, "tap.host");
    let e = err(&format!(
        "{MINIMAL}[tap]\nhost = \"a\"\ndevice = \"eth0/x\"\n"
    ));
    assert_at(&e, 16, 10, "tap.device");
    assert!(e.message.starts_with("expected an interface name"), "{e}");
    let long = "d".repeat(16);
    let e = err(&format!(
        "{MINIMAL}[tap]\nhost = \"a\"\ndevice = \"{long}\"\n"
    ));
    assert_eq!(e.key.as_deref(), Some("tap.device"));
}

#[test]
fn offload_names_outside_the_list_are_errors_listing_the_valid_ones() {
    let e = err_with("[hosts.a]", "nic.offload = [\"tx-checksum\", \"lro\"]");
    assert_eq!(e.key.as_deref(), Some("hosts.a.nic.offload[1]"));
    let e = err_with("[hosts.a]", "nic.offload = [\"lro\"]");
    assert_at(&e, 5, 16, "hosts.a.nic.offload[0]");
    assert_eq!(
        e.message,
        "unknown value \"lro\"; expected one of \"tx-checksum\", \"rx-checksum\", \"tso\", \"gso\", \"gro\""
    );
    let e = err_with("[hosts.a]", "nic.offload = \"tso\"");
    assert!(e.message.starts_with("expected a list of offloads"), "{e}");
}

// --- not text ----------------------------------------------------------

#[test]
fn invalid_utf8_is_located_at_its_first_byte() {
    let mut bytes = b"[scenario]\nname = \"t\xc3\xa9".to_vec();
    bytes.extend_from_slice(b"\xff\xfe rest\n");
    let e = match parse(&bytes, "bin") {
        Err(e) => e,
        Ok(_) => panic!("garbage parsed"),
    };
    assert_eq!(
        (e.line, e.column, e.key.as_deref()),
        (Some(2), Some(11), None)
    );
    assert_eq!(e.message, "not a text file: invalid UTF-8");
    assert_eq!(e.to_string(), "bin:2:11: not a text file: invalid UTF-8");
}

#[test]
fn binary_garbage_is_an_error_not_a_panic() {
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    assert!(parse(&garbage, "garbage.bin").is_err());
    let e = err("a = 1\0\n");
    assert_eq!((e.line, e.column), (Some(1), Some(6)));
    assert_eq!(e.message, "not a text file: contains a NUL byte");
    assert!(parse(b"", "empty").is_err());
}

#[test]
fn byte_order_mark_does_not_shift_columns() {
    let e = err("\u{feff}colour = 1\n");
    assert_eq!((e.line, e.column), (Some(1), Some(1)));
}

#[test]
fn columns_count_characters_and_crlf_lines_work() {
    let src = MINIMAL
        .replace('\n', "\r\n")
        .replace("name = \"t\"", "name = \"é\"\r\nseed = \"x\"");
    let e = err(&src);
    assert_at(&e, 3, 8, "scenario.seed");
    assert_eq!(line_col("é = ü", 5), (1, 5));
    assert_eq!(line_col("é = ü", 6), (1, 5));
    assert_eq!(line_col("é = ü", 99), (1, 6));
}

// --- files and display ---------------------------------------------------

#[test]
fn display_leaves_out_unknown_parts() {
    let e = ScenarioError {
        file: "f".into(),
        line: Some(3),
        column: None,
        key: None,
        message: "m".into(),
    };
    assert_eq!(e.to_string(), "f:3: m");
    let e = ScenarioError {
        line: None,
        key: Some("k".into()),
        ..e
    };
    assert_eq!(e.to_string(), "f: key `k`: m");
}

// --- never panic -----------------------------------------------------------

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    /// Values worth trying in any key's place.
    const VALUES: &[&str] = &[
        "0",
        "1",
        "-1",
        "9223372036854775807",
        "-9223372036854775808",
        "0x10",
        "1.5",
        "-0.0",
        "nan",
        "inf",
        "1e308",
        "true",
        "\"\"",
        "\"0\"",
        "\"1.5\"",
        "\"64KiB\"",
        "\"1TiB\"",
        "\"99999999999999999999999999999999999999999GiB\"",
        "\"1.0000000000000000000000000001s\"",
        "\"10Gbit/s\"",
        "\"0.25ns\"",
        "\"a\"",
        "\"b\"",
        "\"write\"",
        "\"tso\"",
        "[]",
        "[1, \"x\"]",
        "{}",
        "{ a = 1 }",
        "1979-05-27",
        "\"10.0.0.3/24\"",
        "\"::1/128\"",
    ];

    /// The example scenario with the value on its `line`-th line (modulo
    /// its length) replaced by `VALUES[value]`, or by `text` quoted when
    /// `value` is past them.
    fn with_value(line: usize, value: usize, text: &str) -> String {
        let lines: Vec<&str> = EXAMPLE.lines().collect();
        let target = line % lines.len();
        let replacement = match VALUES.get(value) {
            Some(v) => v.to_string(),
            None => format!("{text:?}"),
        };
        let src: Vec<String> = (lines.iter().enumerate())
            .map(|(i, l)| match l.split_once(" = ") {
                Some((key, _)) if i == target => format!("{key} = {replacement}"),
                _ => (*l).to_string(),
            })
            .collect();
        src.join("\n")
    }

    fn mutate(src: &[u8], ops: &[(usize, u8, u8)]) -> Vec<u8> {
        let mut out = src.to_vec();
        for &(at, op, byte) in ops {
            let at = if out.is_empty() {
                0
            } else {
                at % (out.len() + 1)
            };
            match op % 3 {
                0 if at < out.len() => out[at] = byte,
                1 => out.insert(at, byte),
                _ if at < out.len() => {
                    out.remove(at);
                }
                _ => {}
            }
        }
        out
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = parse(&bytes, "fuzz");
        }

        #[test]
        fn mutated_example_never_panics(
            ops in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..8)
        ) {
            let _ = parse(&mutate(EXAMPLE.as_bytes(), &ops), "fuzz");
        }

        #[test]
        fn any_value_in_any_key_never_panics(line in 0usize..200, value in 0usize..64, text in "\\PC{0,12}") {
            let src = with_value(line, value, &text);
            let _ = parse(src.as_bytes(), "fuzz");
        }

        #[test]
        fn every_refusal_is_positioned_and_in_our_words(line in 0usize..200, value in 0usize..64, text in "\\PC{0,12}") {
            let src = with_value(line, value, &text);
            if let Err(e) = parse(src.as_bytes(), "fuzz") {
                prop_assert!(e.line.is_some() && e.column.is_some(), "{}", e);
                for serde_words in ["invalid type", "invalid value", "unknown field", "missing field", "unknown variant", "struct ", "enum ", "u16", "u32", "u64", "i64", "f64", "sequence", "map"] {
                    prop_assert!(!e.message.contains(serde_words), "{}", e);
                }
            }
        }

        #[test]
        fn plain_byte_counts_round_trip(n in 1u64..=(1 << 40)) {
            let s = ok(&MINIMAL.replace("bytes = \"1MiB\"", &format!("bytes = {n}")));
            prop_assert_eq!(s.flows[0].bytes, n);
            let s = ok(&MINIMAL.replace("bytes = \"1MiB\"", &format!("bytes = \"{n}B\"")));
            prop_assert_eq!(s.flows[0].bytes, n);
        }
    }
}
