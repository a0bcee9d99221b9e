//! End-to-end: every send and receive path through the CLI, checked
//! against what Linux does on that path, exactly where it is countable.

mod common;

use common::*;
use serde_json::Value;

/// (count, bytes) of the stage rows whose `models` starts with `prefix`.
fn step(v: &Value, host: &str, prefix: &str) -> (u64, u64) {
    v["stages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["host"] == host && r["models"].as_str().unwrap().starts_with(prefix))
        .fold((0, 0), |(c, b), r| {
            (
                c + r["count"].as_u64().unwrap(),
                b + r["bytes"].as_u64().unwrap(),
            )
        })
}

fn writes(v: &Value) -> u64 {
    v["flows"][0]["writes"].as_u64().unwrap()
}

#[test]
fn writev_with_8_iovecs_copies_each_region_and_makes_8_frags_per_call() {
    let dir = tempfile::tempdir().unwrap();
    let v = run_ok("scenarios/scatter_gather.toml", dir.path());
    let calls = writes(&v);
    assert_eq!(step(&v, "sender", "do_writev").0, calls);
    assert_eq!(step(&v, "sender", "skb_fill_page_desc").0, 8 * calls);
    let (copies, bytes) = step(&v, "sender", "copy_from_user");
    assert!(copies >= 8 * calls, "at least one copy per region");
    assert_eq!(bytes, 64 << 20);
    // readv: 8 regions per call, one copy per region the bytes reach.
    let reads = v["flows"][0]["reads"].as_u64().unwrap();
    assert_eq!(step(&v, "receiver", "do_readv").0, reads);
    assert!(step(&v, "receiver", "copy_to_user").0 > reads);
}

#[test]
fn sendfile_and_splice_make_no_user_copy_and_pin_nothing() {
    for (scenario, syscalls_per_call) in
        [("scenarios/sendfile.toml", 1), ("scenarios/splice.toml", 2)]
    {
        let dir = tempfile::tempdir().unwrap();
        let v = run_ok(scenario, dir.path());
        assert_eq!(
            stage_bytes(&v, "sender", "app->socket", "copy"),
            0,
            "{scenario}"
        );
        assert_eq!(host(&v, "sender", "pinned_pages"), 0, "{scenario}");
        assert_eq!(host(&v, "sender", "completions"), 0, "{scenario}");
        let sent = v["flows"][0]["bytes_sent"].as_u64().unwrap();
        let (pages, bytes) = step(&v, "sender", "skb_splice_from_iter");
        assert_eq!(bytes, sent, "{scenario}: every byte from page-cache pages");
        assert!(pages >= sent / 4096);
        assert_eq!(
            host(&v, "sender", "syscalls"),
            syscalls_per_call * writes(&v),
            "{scenario}"
        );
    }
}

#[test]
fn splice_receive_copies_nothing_to_user_space() {
    let dir = tempfile::tempdir().unwrap();
    let v = run_ok("scenarios/splice.toml", dir.path());
    assert_eq!(stage_bytes(&v, "receiver", "socket->app", "copy"), 0);
    let received = v["flows"][0]["bytes_received"].as_u64().unwrap();
    assert_eq!(
        stage_bytes(&v, "receiver", "socket->file", "copy"),
        received
    );
    assert_eq!(step(&v, "receiver", "skb_splice_bits").1, received);
}

#[test]
fn io_uring_fixed_pins_only_at_registration() {
    let dir = tempfile::tempdir().unwrap();
    let big = run_ok("scenarios/io_uring_fixed.toml", &dir.path().join("a"));
    // Half the bytes: the same pins, made once and undone once.
    let text = std::fs::read_to_string(root().join("scenarios/io_uring_fixed.toml"))
        .unwrap()
        .replace(r#"bytes = "64MiB""#, r#"bytes = "16MiB""#);
    let small_file = dir.path().join("small.toml");
    std::fs::write(&small_file, text).unwrap();
    let small = run_ok(small_file.to_str().unwrap(), &dir.path().join("b"));
    // 8 page-aligned 64 KiB buffers: 128 pages.
    for v in [&big, &small] {
        assert_eq!(host(v, "sender", "pinned_pages"), 128);
        assert_eq!(host(v, "sender", "unpinned_pages"), 128);
        assert_eq!(
            step(v, "sender", "get_user_pages_fast").0,
            0,
            "no per-send pin"
        );
        assert_eq!(host(v, "sender", "completions"), writes(v));
        assert_eq!(stage_bytes(v, "sender", "app->socket", "copy"), 0);
    }
    // Batched submissions: one io_uring_enter per 8 sends.
    assert_eq!(
        step(&big, "sender", "io_uring_enter").0,
        writes(&big).div_ceil(8)
    );
}

#[test]
fn io_uring_send_zc_posts_a_result_and_a_notification_per_request() {
    let dir = tempfile::tempdir().unwrap();
    let v = run_ok("scenarios/io_uring_send_zc.toml", dir.path());
    let requests = writes(&v);
    assert_eq!(
        host(&v, "sender", "completions"),
        requests,
        "one F_NOTIF per request"
    );
    assert_eq!(step(&v, "sender", "io_uring CQE").0, 2 * requests);
    assert!(host(&v, "sender", "pinned_pages") >= 16 * requests);
    assert_eq!(
        host(&v, "sender", "pinned_pages"),
        host(&v, "sender", "unpinned_pages")
    );
    assert_eq!(step(&v, "sender", "recvmsg(MSG_ERRQUEUE)").0, 0);
}

#[test]
fn zerocopy_receive_maps_whole_pages_and_copies_only_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let v = run_ok("scenarios/zerocopy_receive.toml", dir.path());
    let received = v["flows"][0]["bytes_received"].as_u64().unwrap();
    let (pages, mapped) = step(&v, "receiver", "tcp_zerocopy_receive -> vm_insert_pages");
    assert_eq!(mapped, pages * 4096, "only whole pages are mapped");
    // A page-sized MSS with header split: nearly every byte maps.
    assert!(
        mapped > received / 100 * 99,
        "{mapped} of {received} mapped"
    );
    let copied = stage_bytes(&v, "receiver", "socket->app", "copy");
    assert_eq!(mapped + copied, received);
    assert!(host(&v, "receiver", "rx_descriptors") > 0);
    // Without header split the kernel refuses (the payload is not aligned).
    let text = std::fs::read_to_string(root().join("scenarios/zerocopy_receive.toml"))
        .unwrap()
        .replace("header_split = true\n", "");
    let file = dir.path().join("nosplit.toml");
    std::fs::write(&file, text).unwrap();
    let out = simnet(&["run", file.to_str().unwrap(), "--no-pcap"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("header_split"));
}

/// At MTU 1500 a segment's 1460 bytes never fill a page: `can_map_frag`
/// refuses every frag, nothing is mapped, every byte is copied.
#[test]
fn zerocopy_receive_at_mtu_1500_maps_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let v = run_ok("scenarios/zerocopy_receive_mtu1500.toml", dir.path());
    let received = v["flows"][0]["bytes_received"].as_u64().unwrap();
    let (pages, _) = step(&v, "receiver", "tcp_zerocopy_receive -> vm_insert_pages");
    assert_eq!(pages, 0);
    assert_eq!(stage_bytes(&v, "receiver", "socket->app", "copy"), received);
}

#[test]
fn io_uring_provided_receives_into_the_buffer_ring() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("scenarios/copy.toml"))
        .unwrap()
        .replace(r#"recv = "read""#, r#"recv = "io_uring_provided""#);
    let file = dir.path().join("provided.toml");
    std::fs::write(&file, text).unwrap();
    let v = run_ok(file.to_str().unwrap(), &dir.path().join("caps"));
    let reads = v["flows"][0]["reads"].as_u64().unwrap();
    assert_eq!(step(&v, "receiver", "io_recv -> io_buffer_select").0, reads);
    assert_eq!(step(&v, "receiver", "io_uring_enter").0, reads.div_ceil(8));
}

#[test]
fn lifetime_bug_puts_the_new_bytes_on_the_wire_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (v, out) = run_json("scenarios/lifetime_bug.toml", dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(v["outcome"], "lifetime_violation");
    let f = &v["flows"][0];
    assert_eq!(f["integrity"], "mismatch");
    let violations = f["lifetime_violations"].as_array().unwrap();
    assert!(!violations.is_empty());
    let first = &violations[0];
    assert!(first["reused_at_ns"].as_u64().unwrap() > 0);
    assert!(first["damaged_to"].as_u64() > first["damaged_from"].as_u64());
    // The capture carries what the receiver got, not what was sent.
    let port = f["port"].as_u64().unwrap() as u16;
    let stream = reassemble_stream(&dir.path().join("sender-eth0.pcapng"), port);
    let hash = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&stream));
    assert_ne!(hash, f["sent_xxh3"].as_str().unwrap());
    assert_eq!(hash, f["received_xxh3"].as_str().unwrap());
    let table = String::from_utf8_lossy(
        &simnet(&["run", "scenarios/lifetime_bug.toml", "--no-pcap"]).stdout,
    )
    .into_owned();
    assert!(table.contains("LIFETIME VIOLATION: buffer"), "{table}");
}

#[test]
fn every_pool_policy_counts_what_it_did_and_returns_every_buffer() {
    let dir = tempfile::tempdir().unwrap();
    let v = run_ok("scenarios/pools.toml", dir.path());
    let flows = v["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 5);
    let pool = |i: usize, k: &str| flows[i]["pool"][k].as_u64().unwrap();
    for (i, f) in flows.iter().enumerate() {
        assert_eq!(f["integrity"], "ok");
        assert_eq!(pool(i, "leaked"), 0, "every buffer back");
        let calls = f["writes"].as_u64().unwrap();
        assert_eq!(
            pool(i, "hits") + pool(i, "misses"),
            calls,
            "{}",
            f["pool"]["kind"]
        );
    }
    // none: a buffer per send; fixed: 4, waiting on completions;
    // recycling: 4, made on demand; dynamic: grows, then reuses.
    assert_eq!(flows[0]["pool"]["kind"], "none");
    assert_eq!(pool(0, "allocations"), flows[0]["writes"].as_u64().unwrap());
    assert_eq!(pool(1, "allocations"), 4);
    assert!(pool(1, "waits") > 0);
    assert_eq!(pool(1, "peak_in_use"), 4);
    assert!(pool(2, "hits") > 0 && pool(2, "waits") == 0);
    assert!(
        pool(3, "allocations") > pool(2, "allocations"),
        "the cache frees beyond 4"
    );
    assert_eq!(pool(4, "allocations"), 4);
    assert_eq!(pool(4, "misses"), 4);
    assert!(pool(4, "waits") > 0);
}

#[test]
fn a_dynamic_vector_receive_counts_its_growth_copies() {
    let dir = tempfile::tempdir().unwrap();
    let v = run_ok("scenarios/dynamic_buffer.toml", dir.path());
    let (grows, copied) = step(&v, "receiver", "application: dynamic buffer grows");
    // 512 B doubling to 128 KiB for a 100 KiB message: 8 reallocations
    // copying 512 + 1024 + ... + 64 KiB bytes, once; the capacity stays.
    assert_eq!(grows, 8);
    assert_eq!(
        copied,
        (512..=65536)
            .step_by(1)
            .filter(|n: &u64| n.is_power_of_two())
            .sum::<u64>()
    );
    let sent = v["flows"][0]["bytes_sent"].as_u64().unwrap();
    let messages = step(&v, "receiver", "application: read_until message complete").0;
    assert_eq!(messages, sent / (100 * 1024));
    // The growth copies are CPU copies of the receiver, beside copy_to_user.
    let copies = v["hosts"]["receiver"]["cpu_copy_bytes"].as_u64().unwrap();
    assert!(copies >= sent + copied);
}

#[test]
fn composed_operations_frame_every_message() {
    let dir = tempfile::tempdir().unwrap();
    let v = run_ok("scenarios/framing.toml", dir.path());
    let flows = v["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 3);
    let writes = |i: usize| flows[i]["writes"].as_u64().unwrap();
    let reads = |i: usize| flows[i]["reads"].as_u64().unwrap();
    for f in flows {
        assert_eq!(f["integrity"], "ok");
    }
    // length_prefixed and header_body_trailer: gather writes (writev).
    assert_eq!(step(&v, "sender", "do_writev").0, writes(0) + writes(2));
    // header_body_trailer: two temporaries per message, three frags per call.
    assert_eq!(
        step(&v, "sender", "application: header/trailer temporaries").0,
        2 * writes(2)
    );
    // Composed reads: at least one read per part of every message.
    assert!(reads(0) >= 2 * writes(0));
    assert!(reads(2) >= 3 * writes(2));
    let parts = step(&v, "receiver", "application: composed read").0;
    // The last message of each flow is cut short by the byte count: the
    // length_prefixed one lacks its body's end, the other its body's end
    // and trailer.
    assert_eq!(parts, 2 * writes(0) + 3 * writes(2) - 3);
    // delimited: a streambuf, prepare/commit per read, a message per send.
    assert_eq!(
        step(&v, "receiver", "application: streambuf prepare / commit").0,
        reads(1)
    );
    assert_eq!(
        step(&v, "receiver", "application: read_until message complete").0,
        writes(1)
    );
}

#[test]
fn zerocopy_receive_into_an_unaligned_buffer_maps_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("scenarios/zerocopy_receive.toml"))
        .unwrap()
        .replace(r#"align = "page""#, r#"align = "cacheline""#);
    let file = dir.path().join("unaligned.toml");
    std::fs::write(&file, text).unwrap();
    let v = run_ok(file.to_str().unwrap(), &dir.path().join("caps"));
    assert_eq!(
        step(&v, "receiver", "tcp_zerocopy_receive -> vm_insert_pages").0,
        0
    );
    let received = v["flows"][0]["bytes_received"].as_u64().unwrap();
    assert_eq!(stage_bytes(&v, "receiver", "socket->app", "copy"), received);
}
