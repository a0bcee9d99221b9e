//! The comment each captured frame carries, read back with pcap-file and
//! checked against the frame's own bytes (parsed with pnet_packet): the
//! stream bytes a comment names are the ones the frame carries, and the
//! frames a lifetime violation rewrote are exactly those whose payload
//! differs from what the application sent.

mod common;

use common::*;
use pnet_packet::ethernet::{EtherTypes, EthernetPacket};
use pnet_packet::ip::IpNextHeaderProtocols;
use pnet_packet::ipv4::Ipv4Packet;
use pnet_packet::tcp::{TcpFlags, TcpPacket};
use pnet_packet::Packet;
use std::path::Path;

/// A data frame of the flow on `port`: its stream offset (from the ISN its
/// SYN carried), its payload and its comment.
struct Data {
    off: u64,
    payload: Vec<u8>,
    comment: String,
}

/// The frames of a capture carrying data to `port`, in capture order.
fn data_frames(path: &Path, port: u16) -> Vec<Data> {
    let mut isn = None;
    let mut out = Vec::new();
    for (frame, comment) in read_pcapng_comments(path) {
        let eth = EthernetPacket::new(&frame).expect("an Ethernet frame");
        if eth.get_ethertype() != EtherTypes::Ipv4 {
            continue;
        }
        let ip = Ipv4Packet::new(eth.payload()).expect("an IPv4 header");
        if ip.get_next_level_protocol() != IpNextHeaderProtocols::Tcp {
            continue;
        }
        let len = ip.get_total_length() as usize - 20;
        let seg = TcpPacket::new(&ip.payload()[..len]).expect("a TCP header");
        if seg.get_destination() != port {
            continue;
        }
        if seg.get_flags() & TcpFlags::SYN != 0 {
            isn = Some(seg.get_sequence());
        } else if !seg.payload().is_empty() {
            let isn = isn.expect("the SYN comes first");
            let off = seg.get_sequence().wrapping_sub(isn.wrapping_add(1)) as u64;
            let payload = seg.payload().to_vec();
            out.push(Data {
                off,
                payload,
                comment,
            });
        }
    }
    out
}

/// The number after `key` in `text`.
fn number_after(text: &str, key: &str) -> Option<u64> {
    let at = text.find(key)? + key.len();
    let digits: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[test]
fn a_lifetime_violations_comments_mark_exactly_the_frames_whose_bytes_changed() {
    // What the application meant to send: zero_copy.toml is the same
    // transfer of the same data with buffers reused only after completion.
    let clean = tempfile::tempdir().unwrap();
    let v = run_ok("scenarios/zero_copy.toml", clean.path());
    let port = v["flows"][0]["port"].as_u64().unwrap() as u16;
    let sent = reassemble_stream(&clean.path().join("sender-eth0.pcapng"), port);
    let dir = tempfile::tempdir().unwrap();
    let (v, out) = run_json("scenarios/lifetime_bug.toml", dir.path());
    assert_eq!(out.status.code(), Some(1));
    let f = &v["flows"][0];
    let hash = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&sent));
    assert_eq!(hash, f["sent_xxh3"].as_str().unwrap(), "the same data");
    for host in ["sender", "receiver"] {
        let frames = data_frames(&dir.path().join(format!("{host}-eth0.pcapng")), port);
        let mut rewritten = 0;
        for d in &frames {
            let (a, b) = (d.off as usize, d.off as usize + d.payload.len());
            let differ = (d.payload.iter().zip(&sent[a..b]))
                .filter(|(x, y)| x != y)
                .count() as u64;
            let says = d.comment.contains("REWRITTEN");
            assert_eq!(says, differ > 0, "{host}: {}", d.comment);
            // The comment names the frame's own stream bytes.
            assert!(
                d.comment
                    .starts_with(&format!("flow 0 bytes {a}..{b} from buf ")),
                "{host}: {}",
                d.comment
            );
            if says {
                rewritten += 1;
                assert_eq!(number_after(&d.comment, "REWRITTEN: "), Some(differ));
                // The buffer the bytes came from is the one written again,
                // by a later send than the one the frame carries.
                let from = number_after(&d.comment, "from buf ");
                assert_eq!(
                    from,
                    number_after(&d.comment, "differ from what was sent: buf ")
                );
                let of = number_after(&d.comment, "while send #").unwrap();
                let by = number_after(&d.comment, "written again by send #").unwrap();
                assert!(by > of, "{}", d.comment);
                assert!(d.comment.contains("(lifetime violation)"));
            }
        }
        assert!(rewritten > 0, "{host}: no frame rewritten");
        assert!(rewritten < frames.len(), "{host}: every frame rewritten");
    }
}

#[test]
fn comments_follow_the_payload_through_tso_and_gro() {
    // offloads.toml cuts with TSO and merges with GRO; every data frame's
    // comment names exactly its stream bytes, on both ports.
    let dir = tempfile::tempdir().unwrap();
    let v = run_ok("scenarios/offloads.toml", dir.path());
    let port = v["flows"][0]["port"].as_u64().unwrap() as u16;
    for host in ["sender", "receiver"] {
        let frames = data_frames(&dir.path().join(format!("{host}-eth0.pcapng")), port);
        assert!(frames.len() > 1000);
        for d in &frames {
            let (a, b) = (d.off, d.off + d.payload.len() as u64);
            assert!(
                d.comment
                    .starts_with(&format!("flow 0 bytes {a}..{b} from buf ")),
                "{host}: {}",
                d.comment
            );
            assert!(
                d.comment.contains("; copied (write), 1 copy"),
                "{}",
                d.comment
            );
        }
        let gro = |what: &str| frames.iter().filter(|d| d.comment.contains(what)).count();
        if host == "receiver" {
            assert!(gro("GRO merged") > 0 && gro("GRO: own skb") > 0);
            assert!(frames.iter().all(|d| d.comment.contains("; rx slot ")));
        } else {
            assert!(frames.iter().all(|d| d.comment.contains("; tx slot ")));
        }
    }
}

#[test]
fn a_retransmission_is_a_frame_whose_bytes_left_before() {
    // incast.toml: the switch drops frames of every flow; each sender's
    // capture holds every frame it sent (the drops come after its port).
    let dir = tempfile::tempdir().unwrap();
    let v = run_ok("scenarios/incast.toml", dir.path());
    let mut flagged = 0;
    for (i, f) in v["flows"].as_array().unwrap().iter().enumerate() {
        let port = f["port"].as_u64().unwrap() as u16;
        let from = f["from"].as_str().unwrap();
        let frames = data_frames(&dir.path().join(format!("{from}-eth0.pcapng")), port);
        let mut sent_to = 0;
        for d in &frames {
            let again = d.off < sent_to;
            assert_eq!(
                d.comment.contains("; retransmission"),
                again,
                "{}",
                d.comment
            );
            assert!(d
                .comment
                .starts_with(&format!("flow {i} bytes {}..", d.off)));
            sent_to = sent_to.max(d.off + d.payload.len() as u64);
            flagged += again as u64;
        }
    }
    let retransmitted: u64 = (v["flows"].as_array().unwrap().iter())
        .map(|f| f["retransmitted_segments"].as_u64().unwrap())
        .sum();
    assert_eq!(flagged, retransmitted);
}

#[test]
fn the_readme_comments_are_what_the_binary_writes() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme
        .split("### What a frame's comment says")
        .nth(1)
        .expect("README.md has the section")
        .split("\n## ")
        .next()
        .unwrap();
    // The fenced blocks of comments (tshark's output: `text`).
    let blocks: Vec<&str> = section
        .split("```")
        .skip(1)
        .step_by(2)
        .filter_map(|b| b.strip_prefix("text\n"))
        .collect();
    assert_eq!(blocks.len(), 3, "{blocks:?}");
    let comments = |scenario: &str| {
        let dir = tempfile::tempdir().unwrap();
        let _ = run_json(&format!("scenarios/{scenario}.toml"), dir.path());
        let read =
            |host: &str| read_pcapng_comments(&dir.path().join(format!("{host}-eth0.pcapng")));
        (read("sender"), read("receiver"))
    };
    // The first block: the first frames of copy.toml's sender, numbered.
    let (sender, _) = comments("copy");
    for (i, line) in blocks[0].trim().lines().enumerate() {
        assert_eq!(line, format!("{}\t{}", i + 1, sender[i].1));
    }
    // The others: comments some capture of these scenarios holds.
    let mut all = std::collections::BTreeSet::new();
    for sc in ["zero_copy", "offloads", "lifetime_bug"] {
        let (s, r) = comments(sc);
        all.extend(s.into_iter().chain(r).map(|f| f.1));
    }
    for line in blocks[1..].iter().flat_map(|b| b.trim().lines()) {
        assert!(all.contains(line), "not written by the binary: {line}");
    }
}
