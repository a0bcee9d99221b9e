//! Regression tests for what hostile testing found: work that grew with
//! what was in flight, reports that said more than happened, captures whose
//! stamps went backwards, and scenarios too big to run.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

/// Two hosts on a link, one flow; `link`, `sender` (extra keys of the
/// sender's host tables) and `flow` are spliced in.
fn scenario(dir: &Path, name: &str, link: &str, sender: &str, flow: &str) -> PathBuf {
    let text = format!(
        r#"[scenario]
name = "{name}"
time_limit = "10s"

[link]
{link}

[hosts.sender]
address = "10.9.0.1/24"
{sender}

[hosts.receiver]
address = "10.9.0.2/24"

[[flow]]
from = "sender"
to = "receiver"
{flow}
"#
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// Rewrites the scenario at `path` to stop at `limit` of virtual time.
fn with_time_limit(path: &Path, limit: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.replace("time_limit = \"10s\"", &format!("time_limit = \"{limit}\""));
    std::fs::write(path, text).unwrap();
}

fn run_no_pcap(path: &Path) -> (Value, std::process::Output) {
    let out = simnet(&["run", path.to_str().unwrap(), "--json", "--no-pcap"]);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("no JSON ({e}): {}", String::from_utf8_lossy(&out.stderr));
    });
    (v, out)
}

/// Every write of 1 MiB in 1-byte `io_uring_send_zc` sends from a
/// `thread_local` pool: a million sends in flight at once. Each write used
/// to scan every send in flight (it never finished); now the run does a
/// bounded number of events per write.
#[test]
fn a_million_one_byte_zero_copy_sends_finish() {
    let dir = tempfile::tempdir().unwrap();
    for (send, pool, bytes) in [
        ("io_uring_send_zc", "thread_local", 1 << 20),
        ("msg_zerocopy", "none", 256 << 10),
    ] {
        let flow = format!(
            "bytes = {bytes}\nwrite_size = 1\nsend = \"{send}\"\n\
             buffer = {{ pool = \"{pool}\", pool_size = 8 }}"
        );
        let offload = r#"nic = { offload = ["tx-checksum", "rx-checksum"] }"#;
        let path = scenario(dir.path(), send, "", offload, &flow);
        let (v, out) = run_no_pcap(&path);
        assert!(out.status.success(), "{send}: {v}");
        let f = &v["flows"][0];
        assert_eq!(f["integrity"], "ok");
        assert_eq!(f["writes"], bytes);
        let events = v["events"].as_u64().unwrap();
        assert!(
            events < 4 * bytes,
            "{send}: {events} events for {bytes} writes"
        );
    }
}

/// A fixed pool of 65,536 buffers serves 64 MiB of 1 KiB writes, each
/// from a buffer taken and handed back at once. (How long that takes, once
/// a scan of the free list per acquire, is the benchmark's "65,536-buffer
/// pool" row: speed is measured there, not here.)
#[test]
fn a_pool_of_65536_buffers_serves_every_write() {
    let dir = tempfile::tempdir().unwrap();
    let flow =
        "bytes = \"64MiB\"\nwrite_size = 1024\nbuffer = { pool = \"fixed\", pool_size = 65536 }";
    let path = scenario(dir.path(), "big_pool", "", "", flow);
    let (v, out) = run_no_pcap(&path);
    assert!(out.status.success(), "{v}");
    let pool = &v["flows"][0]["pool"];
    assert_eq!(pool["allocations"], 65536);
    assert_eq!(pool["peak_in_use"], 1, "write returns each buffer at once");
}

/// With a queue in front of the wire a frame waits behind larger ones; it
/// crosses the port (and is stamped) when its serialisation starts, so a
/// capture's stamps never go backwards. A frame the full queue dropped
/// never crossed and is not in the capture.
#[test]
fn capture_stamps_never_go_backwards_behind_a_queue() {
    let dir = tempfile::tempdir().unwrap();
    let text = r#"[scenario]
name = "queued"
[link]
rate = "1Gbit/s"
queue = "64KiB"
[hosts.sender]
address = "10.9.0.1/24"
nic = { offload = ["tso", "tx-checksum"] }
[hosts.receiver]
address = "10.9.0.2/24"
[[flow]]
from = "sender"
to = "receiver"
bytes = "8MiB"
[[flow]]
from = "receiver"
to = "sender"
bytes = "1MiB"
write_size = "1KiB"
"#;
    let path = dir.path().join("queued.toml");
    std::fs::write(&path, text).unwrap();
    let caps = dir.path().join("caps");
    let (v, out) = run_json(path.to_str().unwrap(), &caps);
    assert!(out.status.success(), "{v}");
    let drops = v["wire"]["dropped"].as_u64().unwrap();
    assert!(
        drops > 0,
        "the queue must overflow for this test to mean anything"
    );
    let mut captured = 0;
    for host in ["sender", "receiver"] {
        let frames = read_pcapng(&caps.join(format!("{host}-eth0.pcapng")));
        let back = frames.windows(2).filter(|w| w[1].0 < w[0].0).count();
        assert_eq!(
            back, 0,
            "{host}: {back} frames stamped before the one before"
        );
        captured += frames.len() as u64;
    }
    // Each frame that crossed a wire is in two captures (out and in); the
    // dropped ones were never sent.
    assert_eq!(captured, 2 * v["wire"]["frames"].as_u64().unwrap());
    // Capturing changes nothing in the run, not even its event count.
    let (mut bare, _) = run_no_pcap(&path);
    let mut v = v;
    for j in [&mut bare, &mut v] {
        j["captures"] = Value::Null;
    }
    assert_eq!(bare, v);
}

/// Nothing arrives (100 % loss) before the time limit: the flow is
/// `incomplete`, not `ok`, and the bottleneck names the loss.
#[test]
fn a_flow_that_moved_nothing_is_incomplete_and_the_loss_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let link = "[link.faults]\nloss = 1.0";
    let path = scenario(dir.path(), "all_lost", link, "", "bytes = \"1MiB\"");
    with_time_limit(&path, "50ms");
    let (v, out) = run_no_pcap(&path);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(v["outcome"], "time_limit");
    let f = &v["flows"][0];
    assert_eq!(f["integrity"], "incomplete");
    assert_eq!(
        (f["bytes"].as_u64(), f["bytes_received"].as_u64()),
        (Some(1 << 20), Some(0))
    );
    let b = v["bottleneck"].as_str().unwrap();
    assert!(b.starts_with("loss on the wire sender -> receiver"), "{b}");
    let table = simnet(&["run", path.to_str().unwrap(), "--no-pcap"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("integrity: INCOMPLETE, 0 B of 1.0 MiB arrived"),
        "{text}"
    );
}

/// A flow cut short by the time limit: what arrived is intact, so it is
/// `incomplete`, not `mismatch`.
#[test]
fn a_flow_cut_short_is_incomplete_not_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), "cut", "", "", "bytes = \"64MiB\"");
    with_time_limit(&path, "20ms");
    let (v, _) = run_no_pcap(&path);
    assert_eq!(v["outcome"], "time_limit");
    let f = &v["flows"][0];
    let got = f["bytes_received"].as_u64().unwrap();
    assert!(got > 0 && got < 64 << 20, "{got}");
    assert_eq!(f["integrity"], "incomplete");
}

/// A full queue in front of the wire is what the bottleneck names when it
/// dropped frames and nothing saturated.
#[test]
fn queue_drops_are_named_in_the_bottleneck() {
    let dir = tempfile::tempdir().unwrap();
    let link = "rate = \"10Gbit/s\"\nqueue = \"4KiB\"";
    let sender = r#"nic = { offload = ["tso", "tx-checksum"] }"#;
    let path = scenario(dir.path(), "tiny_queue", link, sender, "bytes = \"4MiB\"");
    let (v, _) = run_no_pcap(&path);
    assert!(v["wire"]["dropped"].as_u64().unwrap() > 0, "{v}");
    let b = v["bottleneck"].as_str().unwrap();
    assert!(
        b.starts_with("queue in front of the wire sender -> receiver"),
        "{b}"
    );
}

/// Work that runs past the end of the run is not counted in it: no busy
/// share above 100 %.
#[test]
fn busy_shares_never_pass_100_percent() {
    let dir = tempfile::tempdir().unwrap();
    let slow_link = scenario(
        dir.path(),
        "slow_link",
        "rate = \"1kbit/s\"",
        "",
        "bytes = \"1MiB\"",
    );
    let slow_cpu = scenario(
        dir.path(),
        "slow_cpu",
        "",
        "cpu = { copy_bandwidth = \"1MB/s\" }",
        "bytes = \"1MiB\"",
    );
    for path in [slow_link, slow_cpu] {
        let (v, _) = run_no_pcap(&path);
        let span = v["simulated_ns"].as_u64().unwrap();
        for (name, h) in v["hosts"].as_object().unwrap() {
            let busy = h["cpu_busy_ns"].as_u64().unwrap();
            assert!(busy <= span, "{name}: {busy} ns busy in a {span} ns run");
        }
        let b = v["bottleneck"].as_str().unwrap();
        let pct: u32 = b
            .rsplit_once('(')
            .and_then(|(_, p)| p.split('%').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("a busy share in {b:?}"));
        assert!(pct <= 100, "{b}");
    }
}
