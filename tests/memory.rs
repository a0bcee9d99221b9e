//! Memory follows what is in flight, not the number of flows. Alone in its
//! test binary: the peak resident size of children (`getrusage`) is the
//! largest over every child this process waited for.

mod common;

use std::path::{Path, PathBuf};

use nix::sys::resource::{getrusage, UsageWho};
use serde_json::Value;

/// A scenario of two hosts and `n` flows of `bytes` each, written in `dir`.
fn flows(dir: &Path, name: &str, n: usize, bytes: &str) -> PathBuf {
    let mut text = format!(
        "[scenario]\nname = \"{name}\"\n[hosts.a]\naddress = \"10.9.0.1/24\"\n\
         [hosts.b]\naddress = \"10.9.0.2/24\"\n"
    );
    for _ in 0..n {
        text.push_str(&format!(
            "[[flow]]\nfrom = \"a\"\nto = \"b\"\nbytes = {bytes}\n"
        ));
    }
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// 2,000 one-byte flows peak under 100 MB (1,000 such flows took 1.2 GB
/// when each held a megabyte of data, its latency histogram and two 4 MiB
/// socket buffers zeroed by the allocator).
#[test]
fn many_tiny_flows_stay_small() {
    let dir = tempfile::tempdir().unwrap();
    let path = flows(dir.path(), "tiny_flows", 2000, "1");
    let out = common::simnet(&["run", path.to_str().unwrap(), "--json", "--no-pcap"]);
    let peak_kib = getrusage(UsageWho::RUSAGE_CHILDREN).unwrap().max_rss();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "ok", "{}", v["why"]);
    let flows = v["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 2000);
    assert!(flows.iter().all(|f| f["integrity"] == "ok"));
    assert!(peak_kib < 100 << 10, "peak RSS {peak_kib} KiB");
}

/// A scenario whose estimate passes 16 GiB is refused before it starts,
/// with the estimate, instead of meeting the out-of-memory killer.
#[test]
fn an_absurd_scenario_is_refused_with_its_estimate() {
    let dir = tempfile::tempdir().unwrap();
    let path = flows(dir.path(), "absurd", 2000, "\"1GiB\"");
    let out = common::simnet(&["run", path.to_str().unwrap(), "--no-pcap"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("would need about 32 GiB of memory (2000 flows"),
        "{err}"
    );
    // And more flows than ephemeral ports.
    let path = flows(dir.path(), "too_many", 16385, "1");
    let out = common::simnet(&["run", path.to_str().unwrap(), "--no-pcap"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("key `flow[16384]`: a scenario has at most 16384 flows"),
        "{err}"
    );
}
