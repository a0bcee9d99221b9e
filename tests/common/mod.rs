//! Helpers for the end-to-end tests: run the built `simnet` binary, read
//! its JSON, read captures with an implementation other than the model's.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pcap_file::pcapng::{Block, PcapNgReader};
use serde_json::Value;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn simnet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_simnet"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("the simnet binary runs")
}

/// Runs a scenario with `--json`, captures into `dir`; returns the summary
/// and the exit status.
pub fn run_json(scenario: &str, dir: &Path) -> (Value, Output) {
    let out = simnet(&[
        "run",
        scenario,
        "--json",
        "--pcap",
        dir.to_str().expect("utf-8 temp path"),
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON from simnet ({e}); stderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (v, out)
}

/// Sum of `bytes` over stage rows matching host, stage and kind.
pub fn stage_bytes(v: &Value, host: &str, stage: &str, kind: &str) -> u64 {
    v["stages"]
        .as_array()
        .expect("stages array")
        .iter()
        .filter(|r| r["host"] == host && r["stage"] == stage && r["kind"] == kind)
        .map(|r| r["bytes"].as_u64().expect("bytes"))
        .sum()
}

/// Every frame of a pcapng file, with its timestamp in nanoseconds.
pub fn read_pcapng(path: &Path) -> Vec<(u128, Vec<u8>)> {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = PcapNgReader::new(&data[..]).expect("a pcapng section header");
    let mut frames = Vec::new();
    while let Some(block) = reader.next_block() {
        if let (Block::EnhancedPacket(epb), _) = block.expect("a well-formed block") {
            frames.push((epb.timestamp.as_nanos(), epb.data.to_vec()));
        }
    }
    frames
}

/// A copy of a bundled scenario with NIC offloads turned off, written into
/// `dir`; returns its path.
pub fn without_offloads(scenario: &str, dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(root().join(scenario)).expect("bundled scenario");
    let text = text.replace(
        r#"offload = ["tx-checksum", "rx-checksum"]"#,
        "offload = []",
    );
    assert!(text.contains("offload = []"), "{scenario} lists offloads");
    let name = Path::new(scenario).file_name().expect("a file name");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("temp scenario written");
    path
}
