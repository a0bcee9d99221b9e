//! Real traffic through a TAP device, the Linux kernel as the peer.
//!
//! Every test runs on a thread of its own that first moves into a private,
//! empty network namespace (`unshare(CLONE_NEWNET)`): the TAP device simnet
//! creates, the kernel's address and all traffic live there and vanish with
//! the thread. Nothing is sent anywhere else. Needs root (CAP_SYS_ADMIN for
//! the namespace, CAP_NET_ADMIN for the device, mknod and mount for the
//! unprivileged runs' own /dev/net/tun) and tshark: ignored by plain
//! `cargo test`; `.ci/run` runs as root with `--include-ignored`, so there a
//! missing privilege fails the test loudly.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sched::{unshare, CloneFlags};
use serde_json::Value;
use xxhash_rust::xxh3::xxh3_64;

const MIB8: usize = 8 << 20;
const DEVICE: &str = "simnet0";
/// The kernel's address in tap_echo.toml.
const KERNEL: Option<&str> = Some("192.168.69.2");

/// Runs `f` on a new thread inside a new, private network namespace.
fn in_netns<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(move || {
        unshare(CloneFlags::CLONE_NEWNET)
            .expect("unshare(CLONE_NEWNET) failed: the TAP tests need root (CI runs them as root)");
        f()
    })
    .join()
    .expect("the test thread panicked")
}

/// Whether an interface of that name exists in this thread's namespace.
fn device_exists(name: &str) -> bool {
    nix::net::if_::if_nametoindex(name).is_ok()
}

/// 8 MiB the kernel-side client sends (xorshift, so a lost or reordered
/// chunk cannot compare equal).
fn payload() -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..MIB8)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Starts `simnet run SCENARIO EXTRA... --pcap PCAP` from the repository's
/// root, its output piped.
fn spawn_simnet(scenario: &Path, extra: &[&str], pcap: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_simnet"))
        .args(["run", scenario.to_str().unwrap()])
        .args(extra)
        .arg("--pcap")
        .arg(pcap)
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("simnet starts")
}

/// Waits for simnet to end, killing it after a minute (then its exit
/// status has no code), and collects its output.
fn wait(mut child: Child) -> Output {
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// Waits for simnet to end (killing it after a minute) and reads its JSON.
fn finish(child: Child) -> Value {
    let out = wait(child);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "simnet failed: {stderr}");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON from simnet ({e}); stderr:\n{stderr}"))
}

/// Connects to simnet's server, retrying while the device comes up.
fn connect(addr: &str) -> TcpStream {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(1)) {
            Ok(s) => return s,
            Err(e) if Instant::now() > deadline => panic!("cannot connect to {addr}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

#[test]
#[ignore = "needs root and tshark; .ci/run runs it"]
fn kernel_client_sends_8_mib_to_simnets_echo_server_and_reads_them_back() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().to_path_buf();
    let (v, back, data) = in_netns(move || {
        assert!(!device_exists(DEVICE), "a fresh namespace has no {DEVICE}");
        let child = spawn_simnet(&root().join("scenarios/tap_echo.toml"), &["--json"], &pcap);
        let data = payload();
        let mut s = connect("192.168.69.1:7");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut w = s.try_clone().unwrap();
        let out = data.clone();
        let writer = std::thread::spawn(move || {
            w.write_all(&out).unwrap();
            w.shutdown(Shutdown::Write).unwrap();
        });
        let mut back = Vec::new();
        s.read_to_end(&mut back).unwrap();
        writer.join().unwrap();
        drop(s);
        let v = finish(child);
        assert!(!device_exists(DEVICE), "simnet left {DEVICE} behind");
        (v, back, data)
    });
    // The kernel's side: every byte came back, in order.
    assert_eq!(back.len(), MIB8);
    assert!(back == data, "the echoed bytes differ from those sent");
    // simnet's side.
    assert_eq!(v["outcome"], "ok");
    let f = &v["flows"][0];
    assert_eq!(f["integrity"], "ok");
    assert_eq!(f["from"], "kernel");
    assert_eq!(f["kernel_side"], "sender");
    assert_eq!(f["echo"]["written_back_xxh3"], f["received_xxh3"]);
    assert_eq!(f["bytes_received"], MIB8 as u64);
    assert_eq!(f["received_xxh3"], format!("{:016x}", xxh3_64(&data)));
    assert_eq!(f["echo"]["bytes_written_back"], MIB8 as u64);
    // What the kernel sent is what arrived; what it read back, what it
    // acknowledged of the echo (not the configured amount, not 0).
    assert_eq!(f["bytes_sent"], MIB8 as u64);
    assert_eq!(f["echo"]["bytes_read_back"], MIB8 as u64);
    // The same accounting as in simulation: read() and write() copies,
    // descriptors and DMA both ways; only simnet's host is reported.
    assert_eq!(stage_bytes(&v, "sim", "socket->app", "copy"), MIB8 as u64);
    assert_eq!(stage_bytes(&v, "sim", "app->socket", "copy"), MIB8 as u64);
    let h = &v["hosts"]["sim"];
    assert!(h["tx_descriptors"].as_u64().unwrap() > 0);
    assert!(h["rx_descriptors"].as_u64().unwrap() > 0);
    assert!(h["dma_read_bytes"].as_u64().unwrap() >= MIB8 as u64);
    assert!(h["dma_write_bytes"].as_u64().unwrap() >= MIB8 as u64);
    assert!(v["hosts"].get("kernel").is_none());
    // The capture: both directions, checksums valid, nothing flagged.
    let cap = dir.path().join("sim-eth0.pcapng");
    assert_eq!(v["captures"][0], cap.to_str().unwrap());
    assert!(!dir.path().join("kernel-eth0.pcapng").exists());
    check_capture_from_kernel(&cap, "tcp.dstport == 7", MIB8 as u64, KERNEL);
    check_capture_from_kernel(&cap, "tcp.srcport == 7", MIB8 as u64, KERNEL);
    // On the wall clock too, stamps never go backwards.
    let frames = read_pcapng(&cap);
    let back = frames.windows(2).filter(|w| w[1].0 < w[0].0).count();
    assert_eq!(
        back,
        0,
        "{back} of {} frames stamped before the one before",
        frames.len()
    );
}

#[test]
#[ignore = "needs root and tshark; .ci/run runs it"]
fn simnet_client_sends_8_mib_with_msg_zerocopy_to_a_kernel_echo_server_and_reads_them_back() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("scenarios/tap_echo.toml"))
        .unwrap()
        .replace(
            "from = \"kernel\"\nto = \"sim\"\nport = 7",
            "from = \"sim\"\nto = \"kernel\"\nport = 9000\nsend = \"msg_zerocopy\"",
        );
    assert!(text.contains("port = 9000"));
    let scenario = dir.path().join("tap_client.toml");
    std::fs::write(&scenario, text).unwrap();
    let pcap = dir.path().join("cap");
    let (v, received) = in_netns(move || {
        // The kernel's echo server, listening before simnet connects.
        let listener = TcpListener::bind("0.0.0.0:9000").unwrap();
        let child = spawn_simnet(&scenario, &["--json"], &pcap);
        let (mut s, peer) = listener.accept().unwrap();
        assert_eq!(peer.ip().to_string(), "192.168.69.1");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut received = Vec::with_capacity(MIB8);
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = s.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            received.extend_from_slice(&buf[..n]);
            s.write_all(&buf[..n]).unwrap();
        }
        s.shutdown(Shutdown::Write).unwrap();
        let v = finish(child);
        assert!(!device_exists(DEVICE), "simnet left {DEVICE} behind");
        (v, received)
    });
    // The kernel received exactly what simnet says it wrote...
    assert_eq!(received.len(), MIB8);
    let f = &v["flows"][0];
    assert_eq!(f["sent_xxh3"], format!("{:016x}", xxh3_64(&received)));
    // ...and simnet read every byte back intact.
    assert_eq!(v["outcome"], "ok");
    assert_eq!(f["integrity"], "ok");
    assert_eq!(f["bytes_sent"], MIB8 as u64);
    assert_eq!(f["kernel_side"], "receiver");
    assert_eq!(f["echo"]["bytes_read_back"], MIB8 as u64);
    assert_eq!(f["echo"]["read_back_xxh3"], f["sent_xxh3"]);
    // MSG_ZEROCOPY against a real kernel: pages pinned, not copied, and
    // every pin released by a completion; the read-back is copied.
    assert_eq!(stage_bytes(&v, "sim", "app->socket", "copy"), 0);
    assert_eq!(stage_bytes(&v, "sim", "socket->app", "copy"), MIB8 as u64);
    let h = &v["hosts"]["sim"];
    assert!(h["pinned_pages"].as_u64().unwrap() >= (MIB8 / 4096) as u64);
    assert_eq!(h["pinned_pages"], h["unpinned_pages"]);
    assert!(h["completions"].as_u64().unwrap() > 0);
    assert_eq!(f["lifetime_violations"].as_array().unwrap().len(), 0);
    let cap = dir.path().join("cap/sim-eth0.pcapng");
    check_capture_from_kernel(&cap, "tcp.dstport == 9000", MIB8 as u64, KERNEL);
    check_capture_from_kernel(&cap, "tcp.srcport == 9000", MIB8 as u64, KERNEL);
}

/// Runs the tap_echo scenario as an unprivileged user (nobody, no
/// capabilities) in a folder of its own, with a TUN clone device of mode
/// `mode` bound over /dev/net/tun in a private mount namespace: the
/// machine's own node is never touched. Returns the output and whether a
/// captures folder was left.
fn run_unprivileged(mode: &str) -> (std::process::Output, bool) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.path().join("simnet");
    std::fs::copy(env!("CARGO_BIN_EXE_simnet"), &bin).unwrap();
    let scenario = dir.path().join("tap_echo.toml");
    std::fs::copy(root().join("scenarios/tap_echo.toml"), &scenario).unwrap();
    let node = dir.path().join("tun");
    let made = Command::new("mknod")
        .args(["-m", mode])
        .arg(&node)
        .args(["c", "10", "200"])
        .status()
        .expect("mknod (coreutils) runs");
    assert!(made.success(), "mknod needs root");
    // Where the run writes its default captures/tap_echo: nobody's.
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let chown = Command::new("chown").arg("65534:65534").arg(&work).status();
    assert!(chown.expect("chown runs").success());
    let out = in_netns(move || {
        let out = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(concat!(
                "mount --bind \"$0\" /dev/net/tun && exec setpriv --reuid=65534 ",
                "--regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all \"$@\""
            ))
            .arg(&node)
            .arg(&bin)
            .args(["run", scenario.to_str().unwrap()])
            .current_dir(&work)
            .output()
            .expect("unshare, mount and setpriv (util-linux) run; .ci/run installs them");
        assert!(!device_exists(DEVICE));
        out
    });
    let left = dir.path().join("work/captures").exists();
    (out, left)
}

#[test]
#[ignore = "needs root; .ci/run runs it"]
fn without_access_to_dev_net_tun_the_error_says_so_and_leaves_no_capture_folder() {
    let (out, left) = run_unprivileged("0600");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "cannot create TAP device \"simnet0\": permission denied opening /dev/net/tun \
             (mode 0600, owner uid 0, group gid 0): this user needs read and write access to it"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.stdout.is_empty(), "no report without a run");
    assert!(!left, "an empty captures/tap_echo was left behind");
}

#[test]
#[ignore = "needs root; .ci/run runs it"]
fn without_cap_net_admin_the_error_says_so_and_leaves_no_capture_folder() {
    // /dev/net/tun open to all (as on most distributions): the kernel
    // refuses the device itself.
    let (out, left) = run_unprivileged("0666");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot create TAP device \"simnet0\": permission denied."),
        "{stderr}"
    );
    assert!(stderr.contains("CAP_NET_ADMIN"), "{stderr}");
    assert!(!stderr.contains("/dev/net/tun"), "{stderr}");
    assert!(out.stdout.is_empty(), "no report without a run");
    assert!(!left, "an empty captures/tap_echo was left behind");
}

#[test]
#[ignore = "needs root; .ci/run runs it"]
fn an_existing_interface_of_that_name_is_refused_and_left_alone() {
    let out = in_netns(|| {
        let made = Command::new("ip")
            .args(["tuntap", "add", "dev", DEVICE, "mode", "tap"])
            .status()
            .expect("ip (iproute2) runs");
        assert!(made.success());
        let out = simnet(&["run", "scenarios/tap_echo.toml", "--no-pcap"]);
        assert!(
            device_exists(DEVICE),
            "simnet removed an interface it did not create"
        );
        out
    });
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("already exists"), "{stderr}");
}

#[test]
#[ignore = "needs root; .ci/run runs it"]
fn sigterm_ends_the_run_cleanly_report_captures_and_no_device() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().to_path_buf();
    let (out, gone, ping) = in_netns(move || {
        let child = spawn_simnet(&root().join("scenarios/tap_echo.toml"), &["--json"], &pcap);
        // Up, with the kernel's address (simnet configures it just after
        // creating the device).
        let deadline = Instant::now() + Duration::from_secs(10);
        let up = || {
            let link = Command::new("ip")
                .args(["-o", "link", "show", "dev", DEVICE])
                .output();
            link.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(",UP"))
        };
        while !up() {
            assert!(
                Instant::now() < deadline,
                "simnet never brought {DEVICE} up"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        // Some traffic first: a ping the simulated stack answers.
        let ping = Command::new("ping")
            .args(["-c", "2", "-i", "0.2", "-W", "2", "192.168.69.1"])
            .output()
            .expect("ping (iputils-ping) runs; .ci/run installs it");
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        let out = wait(child);
        (out, !device_exists(DEVICE), ping)
    });
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(gone, "the device outlived simnet");
    assert!(
        ping.status.success(),
        "the simulated host did not answer ping: {}{}",
        String::from_utf8_lossy(&ping.stdout),
        String::from_utf8_lossy(&ping.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no report after SIGTERM ({e}): {stderr}"));
    assert_eq!(v["outcome"], "interrupted");
    // No byte of the flow moved: not `ok`.
    assert_eq!(v["flows"][0]["integrity"], "incomplete");
    assert_eq!(v["flows"][0]["bytes_received"], 0);
    let cap = dir.path().join("sim-eth0.pcapng");
    assert!(
        cap.exists(),
        "the capture was not closed and renamed into place"
    );
    assert!(!read_pcapng(&cap).is_empty(), "ARP and ping were captured");
    let tmp: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(tmp.is_empty(), "temporary capture files left: {tmp:?}");
}

/// The default report of a TAP run (the one bundled scenario the other
/// width test cannot run) fits 100 columns too.
#[test]
#[ignore = "needs root; .ci/run runs it"]
fn the_default_report_of_a_tap_run_fits_100_columns() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().to_path_buf();
    let out = in_netns(move || {
        let child = spawn_simnet(Path::new("scenarios/tap_echo.toml"), &[], &pcap);
        // Some traffic once the device is up: 64 KiB echoed.
        let mut s = connect("192.168.69.1:7");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(&payload()[..65536]).unwrap();
        let mut back = vec![0; 65536];
        s.read_exact(&mut back).unwrap();
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        wait(child)
    });
    // Interrupted, as sigterm_ends_the_run_cleanly_report_captures_and_no_device
    // expects.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("wall-clock time"), "{text}");
    assert!(text.contains("host sim"), "{text}");
    for line in text.lines() {
        assert!(line.chars().count() <= 100, "{line:?}");
    }
}
