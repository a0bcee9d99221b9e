//! End-to-end: NIC offloads and a realistic NIC, through the CLI and JSON.
//! Checksum offload moves the checksum off the CPU (and without it the CPU
//! checksums exactly every header and payload byte it sends); TSO cuts
//! descriptors and per-packet work; GRO cuts the receiver's per-packet
//! work; on a 100 Gbit/s link the copy path is CPU-bound and zero-copy
//! pays only for large writes; a small Rx ring drops frames that TCP
//! recovers.

mod common;

use common::*;
use serde_json::Value;
use std::path::Path;

/// Bytes of one step row (host, models), or 0.
fn step_bytes(v: &Value, host: &str, models_prefix: &str) -> u64 {
    v["stages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["host"] == host && r["models"].as_str().unwrap().starts_with(models_prefix))
        .map(|r| r["bytes"].as_u64().unwrap())
        .sum()
}

/// A copy of a bundled scenario with some text replaced.
fn variant(scenario: &str, dir: &Path, edits: &[(&str, &str)]) -> String {
    let mut text = std::fs::read_to_string(root().join(scenario)).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "{scenario} has {from}");
        text = text.replace(from, to);
    }
    let path = dir.join(format!("variant-{}.toml", text.len()));
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn without_tx_checksum_offload_the_cpu_checksums_every_header_and_payload_byte() {
    let dir = tempfile::tempdir().unwrap();
    let file = without_offloads("scenarios/copy.toml", dir.path());
    let caps = dir.path().join("caps");
    let v = run_ok(file.to_str().unwrap(), &caps);
    // Every IPv4 frame crossing the sender's port: the CPU computed the
    // checksums of those it sent, and verified those it received (all but
    // any still arriving when the run ended), IP header and TCP segment.
    let (mut sent, mut received, mut ip_frames) = (0, 0, 0);
    for (_, frame) in read_pcapng(&caps.join("sender-eth0.pcapng")) {
        if frame.len() >= 34 && frame[12..14] == [0x08, 0x00] {
            let ip_len = u16::from_be_bytes([frame[16], frame[17]]) as u64;
            if frame[26..30] == [192, 168, 69, 1] {
                sent += ip_len;
            } else {
                received += ip_len;
            }
            ip_frames += 1;
        }
    }
    assert!(ip_frames > 40_000);
    assert_eq!(step_bytes(&v, "sender", "ip_send_check"), sent);
    let verified = step_bytes(&v, "sender", "ip_fast_csum");
    assert!(
        verified <= received && verified + 200 >= received,
        "{verified} of {received}"
    );
    assert_eq!(host(&v, "sender", "checksum_cpu_bytes"), sent + verified);
    // With the offload (the bundled scenario) the CPU checksums nothing.
    let v = run_ok("scenarios/copy.toml", &dir.path().join("on"));
    assert_eq!(host(&v, "sender", "checksum_cpu_bytes"), 0);
    assert_eq!(host(&v, "receiver", "checksum_cpu_bytes"), 0);
}

#[test]
fn tso_cuts_descriptors_and_per_packet_work_and_gro_merges() {
    let dir = tempfile::tempdir().unwrap();
    let off = run_ok("scenarios/copy.toml", &dir.path().join("off"));
    let on = run_ok("scenarios/offloads.toml", &dir.path().join("on"));
    let stack = |v: &Value, h: &str| v["hosts"][h]["cpu_ns"]["stack"].as_u64().unwrap();
    // TSO: far fewer descriptors and far less per-packet CPU on the sender;
    // the NIC made the MSS-sized frames (gso_segments counts them).
    assert!(host(&on, "sender", "tx_descriptors") * 5 < host(&off, "sender", "tx_descriptors"));
    assert!(stack(&on, "sender") * 3 < stack(&off, "sender"));
    let frames = 64 * 1024 * 1024 / 1460;
    assert!(host(&on, "sender", "gso_segments") >= frames);
    assert_eq!(host(&off, "sender", "gso_segments"), 0);
    // GRO: most frames merged, and the receiver's stack runs far less.
    assert!(host(&on, "receiver", "gro_merges") > frames / 2);
    assert_eq!(host(&off, "receiver", "gro_merges"), 0);
    assert!(stack(&on, "receiver") * 2 < stack(&off, "receiver"));
}

#[test]
fn software_gso_counts_its_segments_when_the_nic_cannot() {
    let dir = tempfile::tempdir().unwrap();
    let file = variant(
        "scenarios/offloads.toml",
        dir.path(),
        &[(r#""tso", "gro""#, r#""gso""#)],
    );
    let v = run_ok(&file, &dir.path().join("caps"));
    assert!(host(&v, "sender", "gso_segments") > 40_000);
    // Nearly every byte went through software segmentation.
    assert!(step_bytes(&v, "sender", "validate_xmit_skb -> skb_gso_segment") > 60 << 20);
}

#[test]
fn tso_without_checksum_offload_is_refused_as_linux_does() {
    let dir = tempfile::tempdir().unwrap();
    let file = variant(
        "scenarios/offloads.toml",
        dir.path(),
        &[(r#""tx-checksum", "rx-checksum", "tso", "gro""#, r#""tso""#)],
    );
    let out = simnet(&["run", &file, "--no-pcap"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(r#""tso" needs "tx-checksum""#), "{err}");
}

#[test]
fn on_a_fast_link_the_copy_path_is_cpu_bound_and_zero_copy_pays_for_large_writes() {
    let dir = tempfile::tempdir().unwrap();
    let goodput = |v: &Value| v["flows"][0]["goodput_bps"].as_u64().unwrap();
    let copy = run_ok("scenarios/fast_link.toml", &dir.path().join("a"));
    let bottleneck = copy["bottleneck"].as_str().unwrap();
    assert!(
        bottleneck.contains("CPU on sender") && bottleneck.contains("copy"),
        "{bottleneck}"
    );
    let zc = variant(
        "scenarios/fast_link.toml",
        dir.path(),
        &[(r#"send = "write""#, r#"send = "msg_zerocopy""#)],
    );
    let zc = run_ok(&zc, &dir.path().join("b"));
    assert!(
        goodput(&zc) > goodput(&copy) * 5 / 4,
        "zero-copy {} vs copy {}",
        goodput(&zc),
        goodput(&copy)
    );
    // 1 KiB writes: per-call costs dominate, zero-copy is no faster.
    let small = |send: &str, name: &str| {
        let f = variant(
            "scenarios/fast_link.toml",
            dir.path(),
            &[
                (r#"send = "write""#, send),
                (r#"write_size = "64KiB""#, r#"write_size = "1KiB""#),
                (r#"bytes = "256MiB""#, r#"bytes = "32MiB""#),
            ],
        );
        run_ok(&f, &dir.path().join(name))
    };
    let copy_1k = small(r#"send = "write""#, "c");
    let zc_1k = small(r#"send = "msg_zerocopy""#, "d");
    assert!(
        goodput(&zc_1k) <= goodput(&copy_1k),
        "{} vs {}",
        goodput(&zc_1k),
        goodput(&copy_1k)
    );
}

#[test]
fn a_small_ring_drops_frames_and_tcp_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let v = run_ok("scenarios/small_ring.toml", dir.path());
    assert!(host(&v, "receiver", "rx_ring_drops") > 0);
    assert!(v["flows"][0]["retransmitted_segments"].as_u64().unwrap() > 0);
    assert_eq!(v["flows"][0]["bytes_received"], v["flows"][0]["bytes_sent"]);
    assert!(v["bottleneck"]
        .as_str()
        .unwrap()
        .starts_with("Rx ring on receiver"));
}
