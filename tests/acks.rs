//! End-to-end: the ACKs a host sends, as the JSON counts them and as its
//! capture shows them.

mod common;

use common::*;
use pnet_packet::ethernet::{EtherTypes, EthernetPacket};
use pnet_packet::ip::IpNextHeaderProtocols;
use pnet_packet::ipv4::Ipv4Packet;
use pnet_packet::tcp::{TcpFlags, TcpPacket};
use pnet_packet::Packet;
use std::net::Ipv4Addr;
use std::path::Path;

/// Pure ACKs (ACK, no payload, no SYN, FIN or RST) from `from` in a
/// capture, read by pnet rather than the model's own parser.
fn pure_acks_in_capture(path: &Path, from: Ipv4Addr) -> u64 {
    let mut n = 0;
    for (_, frame) in read_pcapng(path) {
        let eth = EthernetPacket::new(&frame).expect("an Ethernet frame");
        if eth.get_ethertype() != EtherTypes::Ipv4 {
            continue;
        }
        let ip = Ipv4Packet::new(eth.payload()).expect("an IPv4 header");
        if ip.get_source() != from || ip.get_next_level_protocol() != IpNextHeaderProtocols::Tcp {
            continue;
        }
        let ip_payload = &ip.payload()[..ip.get_total_length() as usize - 20];
        let tcp = TcpPacket::new(ip_payload).expect("a TCP header");
        let other = TcpFlags::SYN | TcpFlags::FIN | TcpFlags::RST;
        if tcp.get_flags() & TcpFlags::ACK != 0
            && tcp.get_flags() & other == 0
            && tcp.payload().is_empty()
        {
            n += 1;
        }
    }
    n
}

/// Count of the stage rows of `host` whose `models` starts with `prefix`.
fn step_count(v: &serde_json::Value, host: &str, prefix: &str) -> u64 {
    (v["stages"].as_array().unwrap().iter())
        .filter(|r| r["host"] == host && r["models"].as_str().unwrap().starts_with(prefix))
        .map(|r| r["count"].as_u64().unwrap())
        .sum()
}

/// Frames `host`'s stack handed to the driver (no TSO or GSO: one frame
/// each): data segments, pure ACKs, other control frames.
fn stack_frames(v: &serde_json::Value, host: &str) -> u64 {
    ["tcp_write_xmit", "tcp_send_ack", "tcp_connect"]
        .iter()
        .map(|p| step_count(v, host, p))
        .sum()
}

#[test]
fn acks_sent_counts_the_pure_acks_each_host_put_on_the_wire() {
    let dir = tempfile::tempdir().unwrap();
    let v = run_ok("scenarios/copy.toml", dir.path());
    for (name, addr) in [
        ("sender", Ipv4Addr::new(192, 168, 69, 1)),
        ("receiver", Ipv4Addr::new(192, 168, 69, 2)),
    ] {
        let capture = dir.path().join(format!("{name}-eth0.pcapng"));
        let seen = pure_acks_in_capture(&capture, addr);
        // Counted as they leave the stack: all but those the run's end
        // left in the Tx ring, not yet on the wire (at most the ACKs of
        // one NAPI batch of 64 frames).
        let left_behind = stack_frames(&v, name) - step_count(&v, name, "MAC transmit");
        assert!(
            left_behind <= 32,
            "{name}: {left_behind} frames not yet out"
        );
        let sent = host(&v, name, "acks_sent");
        assert!(
            seen <= sent && sent <= seen + left_behind,
            "{name}: {sent} counted, {seen} on the wire, {left_behind} frames not yet out"
        );
    }
    // The receiver ACKs data; the sender only the handshake and the FIN.
    assert!(host(&v, "receiver", "acks_sent") > 1000);
    assert!(host(&v, "sender", "acks_sent") <= 2);
}

#[test]
fn without_gro_every_second_segment_is_acked_and_with_gro_each_merged_skb_and_the_sender_pays_for_each(
) {
    let dir = tempfile::tempdir().unwrap();
    let copy = run_ok("scenarios/copy.toml", &dir.path().join("copy"));
    let offloads = run_ok("scenarios/offloads.toml", &dir.path().join("offloads"));
    // copy.toml: no TSO, one data segment per tcp_write_xmit.
    let segments = step_count(&copy, "sender", "tcp_write_xmit");
    let acks = host(&copy, "receiver", "acks_sent");
    let ratio = acks as f64 / segments as f64;
    assert!(
        (0.4..=0.6).contains(&ratio),
        "{acks} ACKs for {segments} segments"
    );
    // offloads.toml: the receiver's GRO merges what the sender's NIC cut.
    let acks_gro = host(&offloads, "receiver", "acks_sent");
    assert!(
        acks_gro * 4 <= acks,
        "{acks_gro} ACKs with GRO, {acks} without"
    );
    // Each ACK is a pass through the sender's receive path (GRO merges
    // no pure ACKs): all of them but the few still on the wire at the end.
    for v in [&copy, &offloads] {
        let acks = host(v, "receiver", "acks_sent");
        let rx = step_count(v, "sender", "netif_receive_skb -> ip_rcv -> tcp_v4_rcv");
        assert!(
            rx <= acks + 4 && rx + 16 >= acks,
            "{rx} passes for {acks} ACKs"
        );
    }
}
