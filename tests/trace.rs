//! End-to-end: `simnet trace` follows one buffer, and the capture frame
//! numbers it prints are the frames in the capture files that carried the
//! buffer's bytes.

mod common;

use common::*;
use pnet_packet::ethernet::{EtherTypes, EthernetPacket};
use pnet_packet::ipv4::Ipv4Packet;
use pnet_packet::tcp::{TcpFlags, TcpPacket};
use pnet_packet::Packet;
use std::path::Path;

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

/// `simnet trace ARGS --pcap DIR`, which must succeed: its report.
fn trace_ok(dir: &Path, args: &[&str]) -> String {
    let mut all = vec!["trace"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--pcap", dir.to_str().unwrap()]);
    let out = simnet(&all);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn trace_frame_numbers_match_the_capture() {
    let dir = tempfile::tempdir().unwrap();
    let text = trace_ok(dir.path(), &["scenarios/zero_copy.toml", "--buffer", "3"]);
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
        let carrying = |l: &&str| l.contains(&marker) && l.contains(" of payload");
        for line in text.lines().filter(carrying) {
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

/// `simnet trace ARGS --pcap <a fresh folder>`: its output, and whether it
/// wrote the capture folder.
fn trace(args: &[&str]) -> (std::process::Output, bool) {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("caps");
    let mut all = vec!["trace"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--pcap", pcap.to_str().unwrap()]);
    let out = simnet(&all);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    (out, pcap.exists())
}

#[test]
fn trace_exits_as_run_does_when_the_outcome_is_not_ok() {
    let (out, _) = trace(&["scenarios/lifetime_bug.toml", "--buffer", "0"]);
    let err = String::from_utf8_lossy(&out.stderr);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("simnet: outcome lifetime_violation"), "{err}");
    assert!(text.contains("journey of buffer 0 of flow 0"), "{text}");
    assert!(text.ends_with("outcome lifetime_violation\n"), "{text}");
}

#[test]
fn trace_refuses_a_flow_without_application_buffers_before_running() {
    for (scenario, path) in [
        ("scenarios/sendfile.toml", "\"sendfile\""),
        ("scenarios/splice.toml", "\"splice\""),
    ] {
        let (out, wrote) = trace(&[scenario, "--buffer", "0"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{scenario}: {err}");
        assert!(err.contains(&format!("flow 0 sends with {path}")), "{err}");
        assert!(err.contains("no buffer to follow"), "{err}");
        assert!(out.stdout.is_empty() && !wrote, "{scenario}: nothing run");
    }
    // The kernel's side of a TAP flow: its buffers are not simnet's.
    let (out, wrote) = trace(&["scenarios/tap_echo.toml", "--buffer", "0"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("sent by the Linux kernel"), "{err}");
    assert!(!wrote, "no capture folder, no device");
}

#[test]
fn trace_refuses_a_buffer_or_use_the_flow_cannot_have() {
    // pools.toml: 128 sends of 64 KiB per flow; flow 2 is a dynamic pool
    // (one new buffer at most per send), flow 4 a recycling pool of 4.
    for (args, says) in [
        (
            &["scenarios/pools.toml", "--flow", "2", "--buffer", "128"][..],
            "flow 2 makes 128 send calls (8388608 bytes, 65536 per call), so its pool (\"dynamic\") has at most buffers 0..128, not 128",
        ),
        (
            &["scenarios/pools.toml", "--flow", "4", "--buffer", "4"],
            "flow 4's recycling pool holds at most buffers 0..4 (pool_size 4), not 4",
        ),
        (
            &["scenarios/copy.toml", "--buffer", "0", "--use", "1024"],
            "flow 0 makes 1024 send calls: no buffer has a use 1024",
        ),
    ] {
        let (out, wrote) = trace(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(out.stdout.is_empty() && !wrote, "{args:?}: nothing run");
    }
}

#[test]
fn trace_says_so_when_the_run_never_used_the_buffer() {
    // write() hands its buffer back as it returns: the fixed pool gives
    // buffer 0 to every call, and buffer 1 is never taken.
    let (out, _) = trace(&["scenarios/copy.toml", "--buffer", "1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "buffer 1 of flow 0 was never used: none of the flow's 1024 send calls took it"
        ),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "no journey of 0 uses");
    let (out, _) = trace(&["scenarios/zero_copy.toml", "--buffer", "3", "--use", "1000"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("there is no use 1000"), "{err}");
}

/// (acknowledgement, ACK flag, source port) of a captured TCP frame.
fn ack_of(frame: &[u8]) -> Option<(u32, bool, u16)> {
    let eth = EthernetPacket::new(frame)?;
    if eth.get_ethertype() != EtherTypes::Ipv4 {
        return None;
    }
    let ip = Ipv4Packet::new(eth.payload())?;
    let tcp = TcpPacket::new(ip.payload())?;
    let ack = tcp.get_flags() & TcpFlags::ACK != 0;
    Some((tcp.get_acknowledgement(), ack, tcp.get_source()))
}

#[test]
fn trace_names_the_ack_that_covered_a_zero_copy_buffer_and_how_long_its_pages_were_pinned() {
    let dir = tempfile::tempdir().unwrap();
    let text = trace_ok(dir.path(), &["scenarios/zero_copy.toml", "--buffer", "3"]);
    // The whole completion chain, by the kernel functions that do it.
    for step in [
        "tcp_clean_rtx_queue -> tcp_wmem_free_skb",
        "e1000_clean_tx_irq -> napi_consume_skb",
        "skb_release_data -> put_page",
        "skb_zcopy_clear -> __msg_zerocopy_callback",
        "recvmsg(MSG_ERRQUEUE) -> ip_recv_error",
    ] {
        assert!(text.contains(step), "{step} in\n{text}");
    }
    assert!(text.contains("  pages pinned for "), "{text}");
    assert!(text.contains("x16 64.0 KiB  get_user_pages_fast"), "{text}");
    // The ACK that covered the buffer's last byte, as the sender's capture
    // has it: from the receiver's port, acknowledging past stream byte
    // 262144 (where buffer 3's first use ends), the first frame to do so.
    let covering = text
        .lines()
        .find(|l| {
            l.contains("sender-eth0.pcapng arrives")
                && l.contains("[covers the last byte of use 0]")
        })
        .unwrap_or_else(|| panic!("the covering ACK in\n{text}"));
    let n: usize = covering
        .split("frame #")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let frames = read_pcapng(&dir.path().join("sender-eth0.pcapng"));
    let isn = frames
        .iter()
        .find_map(|(_, f)| tcp_of(f).filter(|t| t.2).map(|t| t.0))
        .expect("the SYN");
    let end = |f: &[u8]| {
        let (ack, is_ack, port) = ack_of(f).expect("TCP");
        assert!(is_ack && port == 5001, "frame is an ACK from the receiver");
        ack.wrapping_sub(isn).wrapping_sub(1) as u64
    };
    assert!(
        end(&frames[n - 1].1) >= 262_144,
        "frame #{n} covers byte 262143"
    );
    let earlier = frames[..n - 1]
        .iter()
        .filter_map(|(_, f)| ack_of(f))
        .filter(|a| a.1 && a.2 == 5001)
        .map(|a| a.0.wrapping_sub(isn).wrapping_sub(1) as u64)
        .max()
        .unwrap_or(0);
    assert!(earlier < 262_144, "no earlier frame covered it");
    let summary = text
        .split("\nuse 0 (stream bytes 196608..262144)")
        .nth(1)
        .expect("the chain");
    assert!(
        summary.contains(&format!("frame #{n} of sender-eth0.pcapng arrives")),
        "{summary}"
    );
}

#[test]
fn trace_json_holds_the_completion_chain() {
    let (out, wrote) = trace(&["scenarios/zero_copy.toml", "--buffer", "3", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(wrote);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        (v["buffer"].as_u64(), v["use"].as_u64()),
        (Some(3), Some(0))
    );
    assert_eq!(v["outcome"], "ok");
    let c = &v["completions"][0];
    assert_eq!(c["stream"], serde_json::json!([196608, 262144]));
    assert_eq!(c["pages_pinned"], 16);
    let pinned = c["pinned_ns"].as_u64().unwrap();
    let unpinned = c["unpinned_ns"].as_u64().unwrap();
    assert_eq!(c["pinned_for_ns"].as_u64(), Some(unpinned - pinned));
    let ack = &c["ack_received"];
    assert!(ack["ack"].as_u64().unwrap() >= 262_144);
    assert_eq!(ack["frame"]["capture"], "sender-eth0.pcapng");
    assert!(ack["frame"]["number"].as_u64().unwrap() > 0);
    assert!(c["reaped_ns"].as_u64().unwrap() >= c["notified_ns"].as_u64().unwrap());
    assert_eq!(c["reaped_by"], "errqueue_syscall");
    let steps = v["steps"].as_array().unwrap();
    for name in [
        "put_user_pages",
        "zerocopy_complete",
        "errqueue_syscall",
        "tx_clean",
        "skb_free_acked",
    ] {
        assert!(steps.iter().any(|s| s["step"] == name), "{name}");
    }
    // The ACK frame the chain names is in the journey.
    assert!(steps
        .iter()
        .any(|s| s["frame"]["number"] == ack["frame"]["number"]
            && s["kind"] == "ack"
            && s["host"] == "sender"));
    let times: Vec<u64> = steps
        .iter()
        .map(|s| s["time_ns"].as_u64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "in time order");
}

#[test]
fn trace_of_the_lifetime_bug_marks_the_rewrites_and_the_frames_that_carried_them() {
    let (out, _) = trace(&["scenarios/lifetime_bug.toml", "--buffer", "0"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("<-- LIFETIME VIOLATION"), "{text}");
    assert!(
        text.contains("  REWRITTEN      the application wrote into the buffer"),
        "{text}"
    );
    let marked = text
        .lines()
        .filter(|l| l.contains("of payload") && l.contains("<-- REWRITTEN BYTES"))
        .count();
    assert!(marked > 0, "{text}");
    assert!(text.contains("carried rewritten bytes: #"), "{text}");
    let (out, _) = trace(&["scenarios/lifetime_bug.toml", "--buffer", "0", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let c = &v["completions"][0];
    assert!(!c["rewrites"].as_array().unwrap().is_empty());
    let frames = c["rewritten_frames"].as_array().unwrap();
    assert!(!frames.is_empty());
    let steps = v["steps"].as_array().unwrap();
    for f in frames {
        assert!(steps.iter().any(|s| s["frame"]["number"] == f["number"]
            && s["frame"]["host"] == "sender"
            && s["frame"]["rewritten"] == true));
    }
    // Not every frame: the first ones left before the rewrite.
    let carried = steps
        .iter()
        .filter(|s| s["kind"] == "frame" && s["host"] == "sender")
        .count();
    assert!(frames.len() < carried, "{} of {carried}", frames.len());
    // zero_copy.toml, which waits for completions, has none.
    let (out, _) = trace(&["scenarios/zero_copy.toml", "--buffer", "3"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("frame #"),
        "a trace that says nothing: {text}"
    );
    assert!(!text.contains("REWRITTEN"), "{text}");
}

#[test]
fn trace_with_no_pcap_writes_no_capture_folder() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = root().join("scenarios/zero_copy.toml");
    let out = simnet_in(
        dir.path(),
        &[
            "trace",
            scenario.to_str().unwrap(),
            "--buffer",
            "3",
            "--no-pcap",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("--no-pcap: none written"), "{text}");
    assert!(!text.contains("capture: "), "{text}");
    assert!(text.contains("frame #"), "frame numbers all the same");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing written"
    );
    // Not both.
    let out = simnet(&[
        "trace",
        "scenarios/zero_copy.toml",
        "--buffer",
        "3",
        "--no-pcap",
        "--pcap",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(2));
}
