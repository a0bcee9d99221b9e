//! End-to-end: more than two hosts on a switch (`scenarios/incast.toml`):
//! where the bytes wait and where they are dropped, and that TCP still
//! delivers every byte; the captures read back by a second implementation
//! of the wire formats (pnet_packet).

mod common;

use common::*;

#[test]
fn incast_drops_at_the_switch_port_and_still_delivers_every_byte() {
    let dir = tempfile::tempdir().unwrap();
    let v = run_ok("scenarios/incast.toml", dir.path());
    let flows = v["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 4);
    for f in flows {
        assert_eq!(f["integrity"], "ok", "{f}");
        assert_eq!(f["to"], "receiver");
        assert_eq!(f["bytes_received"], 1 << 20);
    }
    let sw = &v["switch"];
    let dropped = sw["dropped"].as_u64().unwrap();
    let rx_drops = host(&v, "receiver", "rx_ring_drops");
    assert!(dropped + rx_drops > 0, "{sw}");
    // The bytes wait (and are dropped) at the receiver's port: its queue
    // reached the buffer, the senders' ports carried only ACKs.
    let buffer = sw["buffer_bytes"].as_u64().unwrap();
    assert_eq!(buffer, 128 << 10);
    let ports = sw["ports"].as_array().unwrap();
    assert_eq!(ports.len(), 5);
    let to_receiver = &ports[0];
    assert_eq!(to_receiver["to"], "receiver");
    assert_eq!(to_receiver["dropped"], sw["dropped"]);
    assert!(to_receiver["peak_queue_bytes"].as_u64().unwrap() > buffer - 2 * 1538);
    assert!(to_receiver["bytes"].as_u64().unwrap() > 4 << 20);
    for p in &ports[1..] {
        assert_eq!(p["dropped"], 0, "{p}");
        assert!(p["bytes"].as_u64().unwrap() < 64 << 10, "ACKs only: {p}");
    }
    // Losses were recovered by retransmission, and the report says where.
    let retransmitted: u64 = flows
        .iter()
        .map(|f| f["retransmitted_segments"].as_u64().unwrap())
        .sum();
    assert!(retransmitted > 0);
    let bottleneck = v["bottleneck"].as_str().unwrap();
    assert!(
        bottleneck.starts_with("switch port -> receiver"),
        "{bottleneck}"
    );
    // One capture per host port, and each sender's stream reassembles
    // whole from what reached the receiver's port.
    let captures = v["captures"].as_array().unwrap();
    assert_eq!(captures.len(), 5);
    for f in flows {
        let port = f["port"].as_u64().unwrap() as u16;
        let stream = reassemble_stream(&dir.path().join("receiver-eth0.pcapng"), port);
        assert_eq!(stream.len(), 1 << 20, "flow to port {port}");
        let from = f["from"].as_str().unwrap();
        let sent = reassemble_stream(&dir.path().join(format!("{from}-eth0.pcapng")), port);
        assert_eq!(sent, stream, "what {from} sent is what arrived");
    }
}

#[test]
fn a_big_switch_buffer_drops_nothing_and_the_link_is_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("scenarios/incast.toml")).unwrap();
    let text = text.replace("buffer = \"128KiB\"", "buffer = \"4MiB\"");
    let file = dir.path().join("incast.toml");
    std::fs::write(&file, text).unwrap();
    let v = run_ok(file.to_str().unwrap(), &dir.path().join("caps"));
    assert_eq!(v["switch"]["dropped"], 0);
    for f in v["flows"].as_array().unwrap() {
        assert_eq!(f["retransmitted_segments"], 0);
        assert!(f["goodput_bps"].as_u64().unwrap() > 1_000_000_000, "{f}");
    }
    // 4 MiB through one 10 Gbit/s port: a few milliseconds.
    assert!(v["simulated_ns"].as_u64().unwrap() < 10_000_000);
}

#[test]
fn two_hosts_without_a_switch_have_no_switch_in_their_summary() {
    let dir = tempfile::tempdir().unwrap();
    let v = run_ok("scenarios/copy.toml", dir.path());
    assert!(v.get("switch").is_none());
}
