//! Captures checked by Wireshark's dissectors (tshark): no expert error, no
//! malformed frame, no bad checksum, and the TCP payload adds up to the
//! bytes sent. Needs tshark: ignored by plain `cargo test`, run by `.ci/run`
//! (which installs it) with `--include-ignored`.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

fn tshark(args: &[&str]) -> String {
    let out = Command::new("tshark")
        .args(args)
        .output()
        .expect("tshark is installed (apt-get install tshark); .ci/run installs it");
    assert!(
        out.status.success(),
        "tshark {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn check_capture(path: &Path, data_port: u16, bytes_sent: u64) {
    let p = path.to_str().unwrap();
    let checks = [
        "-o",
        "tcp.check_checksum:TRUE",
        "-o",
        "ip.check_checksum:TRUE",
    ];
    // Frames Wireshark flags: expert errors, malformed, bad checksums.
    let mut args = vec!["-n", "-r", p];
    args.extend_from_slice(&checks);
    args.extend_from_slice(&[
        "-Y",
        "_ws.expert.severity == error || _ws.malformed || ip.checksum.status == \"Bad\" || tcp.checksum.status == \"Bad\"",
    ]);
    let bad = tshark(&args);
    assert!(bad.trim().is_empty(), "{p}: tshark flags frames:\n{bad}");
    // Every frame was dissected as Ethernet and the checksums were checked.
    let mut args = vec!["-n", "-r", p];
    args.extend_from_slice(&checks);
    let filter = format!("tcp.dstport == {data_port} && tcp.len > 0");
    args.extend_from_slice(&[
        "-Y",
        &filter,
        "-T",
        "fields",
        "-e",
        "tcp.len",
        "-e",
        "tcp.checksum.status",
    ]);
    let rows = tshark(&args);
    let mut total = 0u64;
    for line in rows.lines() {
        let mut cols = line.split('\t');
        total += cols.next().unwrap().parse::<u64>().unwrap();
        // tcp.checksum.status: 0 bad, 1 good, 2 unverified.
        assert_eq!(
            cols.next(),
            Some("1"),
            "{p}: checksum status not Good: {line}"
        );
    }
    assert_eq!(total, bytes_sent, "{p}: TCP payload in the capture");
}

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
            check_capture(&dir.path().join(format!("{host}-eth0.pcapng")), port, sent);
        }
    }
}
