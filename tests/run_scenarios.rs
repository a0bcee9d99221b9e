//! End-to-end: the bundled scenarios through the CLI, checked against what
//! Linux does on each path, and their captures checked by a second
//! implementation of the wire formats (pnet_packet).

mod common;

use common::*;
use std::path::Path;

#[test]
fn copy_path_copies_every_byte_once_each_way() {
    let dir = tempfile::tempdir().unwrap();
    let v = run_ok("scenarios/copy.toml", dir.path());
    let f = &v["flows"][0];
    assert_eq!(f["integrity"], "ok");
    let sent = f["bytes_sent"].as_u64().unwrap();
    assert_eq!(sent, 64 << 20);
    assert_eq!(f["bytes_received"].as_u64().unwrap(), sent);
    assert_eq!(stage_bytes(&v, "sender", "app->socket", "copy"), sent);
    assert_eq!(stage_bytes(&v, "receiver", "socket->app", "copy"), sent);
    let s = &v["hosts"]["sender"];
    assert_eq!(s["pinned_pages"], 0);
    assert_eq!(s["unpinned_pages"], 0);
    assert_eq!(s["completions"], 0);
    // The NIC checksums (tx-checksum and rx-checksum offload).
    assert_eq!(s["checksum_cpu_bytes"], 0);
    assert_eq!(v["hosts"]["receiver"]["checksum_cpu_bytes"], 0);
    assert!(s["tx_descriptors"].as_u64().unwrap() > 0);
    assert!(v["hosts"]["receiver"]["rx_descriptors"].as_u64().unwrap() > 0);
    assert!(f["goodput_bps"].as_u64().unwrap() > 1_000_000_000);
}

#[test]
fn zero_copy_path_pins_instead_of_copying() {
    let dir = tempfile::tempdir().unwrap();
    let v = run_ok("scenarios/zero_copy.toml", dir.path());
    let f = &v["flows"][0];
    assert_eq!(f["integrity"], "ok");
    let sent = f["bytes_sent"].as_u64().unwrap();
    assert_eq!(f["bytes_received"].as_u64().unwrap(), sent);
    assert_eq!(stage_bytes(&v, "sender", "app->socket", "copy"), 0);
    assert!(
        stage_bytes(&v, "sender", "app->socket", "pin") >= sent,
        "every byte's page is referenced"
    );
    let s = &v["hosts"]["sender"];
    let pinned = s["pinned_pages"].as_u64().unwrap();
    // 64 MiB of page-aligned 64 KiB buffers is 16384 pages at least.
    assert!(pinned >= 16384, "pinned {pinned}");
    assert_eq!(s["unpinned_pages"].as_u64().unwrap(), pinned);
    // A send whose predecessor's bytes are still unsent joins its
    // notification (msg_zerocopy_realloc): fewer completions than sends,
    // each covering a range of them.
    let completions = s["completions"].as_u64().unwrap();
    let writes = f["writes"].as_u64().unwrap();
    assert!(
        completions > 0 && completions < writes,
        "{completions} for {writes}"
    );
    assert_eq!(s["leaked_buffers"], 0);
    assert!(s["pool_peak_in_use"].as_u64().unwrap() <= 8);
    // The receiver still copies.
    assert_eq!(stage_bytes(&v, "receiver", "socket->app", "copy"), sent);
}

#[test]
fn without_checksum_offload_the_cpu_checksums_and_zero_copy_frags_are_copied() {
    let dir = tempfile::tempdir().unwrap();
    let file = without_offloads("scenarios/zero_copy.toml", dir.path());
    let (v, out) = run_json(file.to_str().unwrap(), &dir.path().join("caps"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let f = &v["flows"][0];
    assert_eq!(f["integrity"], "ok");
    let sent = f["bytes_sent"].as_u64().unwrap();
    // Every header and payload byte, both ways.
    for host in ["sender", "receiver"] {
        assert!(v["hosts"][host]["checksum_cpu_bytes"].as_u64().unwrap() > sent);
    }
    // Linux's shared-frag rule: user pages are copied before a software
    // checksum, so the send side copies after all, in the tcp stage.
    assert_eq!(stage_bytes(&v, "sender", "app->socket", "copy"), 0);
    assert_eq!(stage_bytes(&v, "sender", "tcp", "copy"), sent);
}

#[test]
fn same_seed_gives_byte_identical_captures() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let (va, _) = run_json("scenarios/zero_copy.toml", a.path());
    let (vb, _) = run_json("scenarios/zero_copy.toml", b.path());
    for host in ["sender", "receiver"] {
        let name = format!("{host}-eth0.pcapng");
        let fa = std::fs::read(a.path().join(&name)).unwrap();
        let fb = std::fs::read(b.path().join(&name)).unwrap();
        assert!(fa.len() > 1 << 20);
        assert!(fa == fb, "{name} differs between two runs of one seed");
    }
    assert_eq!(va["hosts"], vb["hosts"]);
    assert_eq!(va["simulated_ns"], vb["simulated_ns"]);
}

#[test]
fn captures_are_listed_and_no_temporary_files_remain() {
    let dir = tempfile::tempdir().unwrap();
    let (v, _) = run_json("scenarios/copy.toml", dir.path());
    let listed: Vec<String> = v["captures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed.len(), 2);
    for c in &listed {
        assert!(Path::new(c).exists(), "{c}");
    }
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut names = names;
    names.sort();
    assert_eq!(names, ["receiver-eth0.pcapng", "sender-eth0.pcapng"]);
}

#[test]
fn no_pcap_writes_no_capture() {
    let out = simnet(&["run", "scenarios/copy.toml", "--json", "--no-pcap"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["captures"].as_array().unwrap().len(), 0);
}

#[test]
fn pnet_verifies_checksums_and_reassembles_the_senders_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let soft = without_offloads("scenarios/copy.toml", tmp.path());
    for scenario in [
        "scenarios/copy.toml",
        "scenarios/zero_copy.toml",
        soft.to_str().unwrap(),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (v, _) = run_json(scenario, dir.path());
        let f = &v["flows"][0];
        let port = f["port"].as_u64().unwrap() as u16;
        for host in ["sender", "receiver"] {
            let stream = reassemble_stream(&dir.path().join(format!("{host}-eth0.pcapng")), port);
            assert_eq!(stream.len() as u64, f["bytes_sent"].as_u64().unwrap());
            let hash = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&stream));
            assert_eq!(hash, f["sent_xxh3"].as_str().unwrap(), "{scenario} {host}");
        }
    }
}

#[test]
fn echo_returns_every_byte_and_each_side_copies_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let v = run_ok("scenarios/echo.toml", dir.path());
    let f = &v["flows"][0];
    assert_eq!(f["integrity"], "ok");
    let n = 8u64 << 20;
    assert_eq!(f["bytes_received"], n);
    assert_eq!(f["echo"]["bytes_written_back"], n);
    assert_eq!(f["echo"]["bytes_read_back"], n);
    assert_eq!(f["echo"]["read_back_xxh3"], f["sent_xxh3"]);
    // write() and read() on both sides: four CPU copies of every byte.
    for host in ["client", "server"] {
        assert_eq!(stage_bytes(&v, host, "app->socket", "copy"), n, "{host}");
        assert_eq!(stage_bytes(&v, host, "socket->app", "copy"), n, "{host}");
    }
    // Both directions cross the wire.
    assert!(v["wire"]["bytes"].as_u64().unwrap() > 2 * n);
}
