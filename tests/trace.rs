//! End-to-end: `simnet trace` follows one buffer, and the capture frame
//! numbers it prints are the frames in the capture files that carried the
//! buffer's bytes.

mod common;

use common::*;
use pnet_packet::ethernet::{EtherTypes, EthernetPacket};
use pnet_packet::ipv4::Ipv4Packet;
use pnet_packet::tcp::{TcpFlags, TcpPacket};
use pnet_packet::Packet;

/// (sequence number, payload length, SYN) of a captured TCP frame.
fn tcp_of(frame: &[u8]) -> Option<(u32, usize, bool)> {
    let eth = EthernetPacket::new(frame)?;
    if eth.get_ethertype() != EtherTypes::Ipv4 {
        return None;
    }
    let ip = Ipv4Packet::new(eth.payload())?;
    let ip_payload = ip
        .payload()
        .get(..(ip.get_total_length() as usize).checked_sub(20)?)?;
    let tcp = TcpPacket::new(ip_payload)?;
    let syn = tcp.get_flags() & TcpFlags::SYN != 0 && tcp.get_flags() & TcpFlags::ACK == 0;
    Some((tcp.get_sequence(), tcp.payload().len(), syn))
}

#[test]
fn trace_frame_numbers_match_the_capture() {
    let dir = tempfile::tempdir().unwrap();
    let out = simnet(&[
        "trace",
        "scenarios/zero_copy.toml",
        "--buffer",
        "3",
        "--pcap",
        dir.path().to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    // The journey starts at the send call and ends with the buffer back.
    assert!(text.contains("journey of buffer 3 of flow 0"), "{text}");
    assert!(text.contains("get_user_pages_fast"));
    assert!(text.contains("[ring slot"));
    assert!(text.contains("copy_to_user"));
    assert!(text.contains("buffer back in pool"));
    let mut checked = 0;
    for host in ["sender", "receiver"] {
        let frames = read_pcapng(&dir.path().join(format!("{host}-eth0.pcapng")));
        let isn = frames
            .iter()
            .find_map(|(_, f)| tcp_of(f).filter(|t| t.2).map(|t| t.0))
            .expect("the SYN is in the capture");
        let marker = format!(" of {host}-eth0.pcapng ");
        for line in text.lines().filter(|l| l.contains(&marker)) {
            let n: usize = line
                .split("frame #")
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            let range = line.split("[stream ").nth(1).unwrap().trim_end_matches(']');
            let (a, b) = range.split_once("..").unwrap();
            let (a, b): (u64, u64) = (a.parse().unwrap(), b.parse().unwrap());
            let (seq, len, _) = tcp_of(&frames[n - 1].1).expect("a TCP frame");
            assert_eq!(
                seq.wrapping_sub(isn).wrapping_sub(1) as u64,
                a,
                "frame #{n} of {host}"
            );
            assert_eq!(len as u64, b - a, "frame #{n} of {host}");
            checked += 1;
        }
    }
    // 64 KiB crossed the wire once from the sender and once into the receiver.
    assert!(checked >= 2 * 44, "{checked} frames checked");
}

#[test]
fn trace_refuses_a_buffer_the_pool_does_not_have() {
    let out = simnet(&[
        "trace",
        "scenarios/zero_copy.toml",
        "--buffer",
        "99",
        "--pcap",
        "/nonexistent-never-created",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pool_size 8"));
}
