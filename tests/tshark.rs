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
    // every byte once as first sent; nothing is malformed or mis-summed.
    let dir = tempfile::tempdir().unwrap();
    let v = run_ok("scenarios/incast.toml", dir.path());
    for f in v["flows"].as_array().unwrap() {
        let port = f["port"].as_u64().unwrap();
        let from = f["from"].as_str().unwrap();
        let filter = format!("tcp.dstport == {port} && !tcp.analysis.retransmission && !tcp.analysis.fast_retransmission");
        check_capture(
            &dir.path().join(format!("{from}-eth0.pcapng")),
            &filter,
            1 << 20,
        );
    }
    // The receiver's port, where the drops left gaps: nothing flagged.
    assert_nothing_flagged(&dir.path().join("receiver-eth0.pcapng"), None);
}
