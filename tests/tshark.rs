//! Captures checked by Wireshark's dissectors (tshark): no expert error, no
//! malformed frame, no bad checksum, and the TCP payload adds up to the
//! bytes sent. Needs tshark: ignored by plain `cargo test`, run by `.ci/run`
//! (which installs it) with `--include-ignored`.

mod common;

use common::*;

#[test]
#[ignore = "needs tshark; .ci/run installs it and runs ignored tests"]
fn tshark_finds_no_errors_and_every_payload_byte() {
    // Checksums inserted by the NIC (the bundled scenarios) and computed by
    // the stack (offloads off) must both be valid on the wire.
    let tmp = tempfile::tempdir().unwrap();
    let soft = without_offloads("scenarios/zero_copy.toml", tmp.path());
    for scenario in [
        "scenarios/copy.toml",
        "scenarios/zero_copy.toml",
        "scenarios/offloads.toml",
        "scenarios/framing.toml",
        soft.to_str().unwrap(),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (v, out) = run_json(scenario, dir.path());
        assert!(out.status.success());
        let f = &v["flows"][0];
        let port = f["port"].as_u64().unwrap() as u16;
        let sent = f["bytes_sent"].as_u64().unwrap();
        for host in ["sender", "receiver"] {
            let filter = format!("tcp.dstport == {port}");
            check_capture(
                &dir.path().join(format!("{host}-eth0.pcapng")),
                &filter,
                sent,
            );
        }
    }
}

#[test]
#[ignore = "needs tshark; .ci/run installs it and runs ignored tests"]
fn tshark_finds_the_incast_captures_clean() {
    // Drops at the switch mean retransmissions: each sender's capture holds
    // every byte of its stream and no more; nothing is malformed or
    // mis-summed.
    let dir = tempfile::tempdir().unwrap();
    let v = run_ok("scenarios/incast.toml", dir.path());
    for f in v["flows"].as_array().unwrap() {
        let port = f["port"].as_u64().unwrap();
        let from = f["from"].as_str().unwrap();
        let filter = format!("tcp.dstport == {port}");
        check_capture_covers(
            &dir.path().join(format!("{from}-eth0.pcapng")),
            &filter,
            1 << 20,
        );
    }
    // The receiver's port, where the drops left gaps: nothing flagged.
    assert_nothing_flagged(&dir.path().join("receiver-eth0.pcapng"), None);
}

/// MSG_ZEROCOPY over a wire that loses 2 %, reorders 1 %, duplicates 0.5 %
/// and corrupts 0.2 % of frames: every byte arrives intact after
/// retransmissions, every pinned page is unpinned, and Wireshark flags only
/// corrupted frames, each on the port it arrived at (a frame a host sent is
/// never flagged in its own capture), no more than the wire corrupted. The
/// checksums caught every corrupted frame: none was delivered as data.
#[test]
#[ignore = "needs tshark; .ci/run installs it and runs ignored tests"]
fn lossy_zero_copy_delivers_every_byte_and_only_corrupted_frames_are_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("scenarios/zero_copy.toml"))
        .unwrap()
        .replace("bytes = \"64MiB\"", "bytes = \"4MiB\"")
        .replace("time_limit = \"10s\"", "time_limit = \"600s\"")
        .replace(
            "mtu = 1500\n",
            "mtu = 1500\n\n[link.faults]\nloss = 0.02\nreorder = 0.01\nduplicate = 0.005\ncorrupt = 0.002\n",
        );
    assert!(text.contains("corrupt = 0.002"));
    let path = dir.path().join("lossy_zero_copy.toml");
    std::fs::write(&path, text).unwrap();
    let caps = dir.path().join("caps");
    let v = run_ok(path.to_str().unwrap(), &caps);
    let f = &v["flows"][0];
    assert_eq!(f["bytes_received"], 4 << 20);
    assert!(f["retransmitted_segments"].as_u64().unwrap() > 0);
    let w = &v["wire"];
    for fault in ["dropped", "reordered", "duplicated", "corrupted"] {
        assert!(w[fault].as_u64().unwrap() > 0, "no frame {fault}: {w}");
    }
    assert_eq!(
        host(&v, "sender", "pinned_pages"),
        host(&v, "sender", "unpinned_pages")
    );
    assert!(host(&v, "sender", "pinned_pages") > 0);
    let mut flagged = 0;
    for (name, mac) in [
        ("sender", "02:00:00:00:00:01"),
        ("receiver", "02:00:00:00:00:02"),
    ] {
        let cap = caps.join(format!("{name}-eth0.pcapng"));
        let out = tshark(&[
            "-n",
            "-r",
            cap.to_str().unwrap(),
            "-o",
            "tcp.check_checksum:TRUE",
            "-o",
            "ip.check_checksum:TRUE",
            "-Y",
            "_ws.expert.severity == error || _ws.malformed || ip.checksum.status == \"Bad\" || tcp.checksum.status == \"Bad\"",
            "-T",
            "fields",
            "-e",
            "eth.src",
        ]);
        for src in out.lines() {
            assert_ne!(src, mac, "{name} sent a frame Wireshark flags");
            flagged += 1;
        }
    }
    assert!(
        flagged <= w["corrupted"].as_u64().unwrap(),
        "{flagged} flagged: {w}"
    );
}

/// Every frame of every bundled scenario's captures, as tshark reads it,
/// has a comment (`frame.comment`), and every frame with TCP payload names
/// the buffer its bytes came from (an application buffer, the file sendfile
/// and splice send, or an echo server's buffer) and the stream bytes it
/// carries, as many as its payload. Scenarios with `[tap]` need a TAP
/// device (tests/tap.rs runs those).
#[test]
#[ignore = "needs tshark; .ci/run installs it and runs ignored tests"]
fn tshark_shows_a_comment_naming_a_buffer_on_every_payload_frame_of_every_scenario() {
    let scenarios = bundled_scenarios(false);
    assert!(scenarios.len() >= 15, "{scenarios:?}");
    for sc in &scenarios {
        let dir = tempfile::tempdir().unwrap();
        let (_, out) = run_json(sc.to_str().unwrap(), dir.path());
        assert!(out.status.code().is_some_and(|c| c <= 1), "{sc:?}");
        let mut caps: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        caps.sort();
        assert!(!caps.is_empty(), "{sc:?}");
        for cap in &caps {
            let fields = tshark(&[
                "-n",
                "-r",
                cap.to_str().unwrap(),
                "-T",
                "fields",
                "-e",
                "tcp.len",
                "-e",
                "frame.comment",
            ]);
            let mut payload_frames = 0;
            for line in fields.lines() {
                let (len, comment) = line.split_once('\t').unwrap_or((line, ""));
                assert!(!comment.is_empty(), "{cap:?}: a frame without a comment");
                let len: u64 = len.parse().unwrap_or(0);
                if len == 0 {
                    continue;
                }
                payload_frames += 1;
                let named = [" from buf ", " from file [", " from echo buf ["];
                assert!(
                    named.iter().any(|n| comment.contains(n)) && !comment.contains("unknown"),
                    "{cap:?}: {comment}"
                );
                // "flow F bytes A..B" or "flow F echo bytes A..B": B - A is
                // the payload's length.
                let range = comment
                    .split("bytes ")
                    .nth(1)
                    .unwrap()
                    .split(' ')
                    .next()
                    .unwrap();
                let (a, b) = range.split_once("..").unwrap();
                let (a, b): (u64, u64) = (a.parse().unwrap(), b.parse().unwrap());
                assert_eq!(b - a, len, "{cap:?}: {comment}");
            }
            assert!(payload_frames > 0, "{cap:?}");
        }
    }
}
