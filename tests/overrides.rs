//! `--set KEY=VALUE` end to end through the binary: an override changes the
//! run as the same edit of the file would, a value is TOML or else a
//! string, and a bad one is refused like the file's own mistake (same
//! message, exit 2, nothing run) but placed on its `--set` argument.

mod common;

use common::{simnet, GOOD};
use serde_json::Value;

/// Writes `text` to a temporary scenario file; keep the dir alive.
fn file(text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path.to_str().unwrap().to_string())
}

/// `simnet run FILE --json --no-pcap --set S...`: the summary.
fn run_with(path: &str, sets: &[&str]) -> Value {
    let mut args = vec!["run", path, "--json", "--no-pcap"];
    for s in sets {
        args.extend(["--set", s]);
    }
    let out = simnet(&args);
    assert!(
        out.status.success(),
        "{sets:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `simnet run FILE --set S...` that must be refused: its stderr.
fn refused(path: &str, sets: &[&str]) -> String {
    let mut args = vec!["run", path, "--no-pcap"];
    for s in sets {
        args.extend(["--set", s]);
    }
    let out = simnet(&args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{sets:?}: {err}");
    assert!(out.stdout.is_empty(), "nothing runs");
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn an_override_changes_the_run_like_the_same_edit_of_the_file() {
    let (_d, path) = file(GOOD);
    let plain = run_with(&path, &[]);
    assert_eq!(plain["flows"][0]["writes"], 1);
    let set = run_with(&path, &["flow[0].write_size=4KiB"]);
    assert_eq!(set["flows"][0]["writes"], 16);
    // The same edit in the file gives the same run, figure for figure
    // (but for what records the run).
    let edited = GOOD.replace(
        "bytes = \"64KiB\"",
        "bytes = \"64KiB\"\nwrite_size = \"4KiB\"",
    );
    let (_e, edited_path) = file(&edited);
    let by_file = run_with(&edited_path, &[]);
    for part in ["flows", "hosts", "wire", "stages", "simulated_ns"] {
        assert_eq!(set[part], by_file[part], "{part}");
    }
}

#[test]
fn a_value_is_toml_or_else_a_string() {
    let (_d, path) = file(GOOD);
    let bare = run_with(&path, &["flow[0].write_size=4KiB"]);
    let quoted = run_with(&path, &["flow[0].write_size=\"4KiB\""]);
    assert_eq!(bare["flows"], quoted["flows"]);
    // A list, an integer and a rate; tables the file does not write are
    // made; the last override of a key wins.
    let v = run_with(
        &path,
        &[
            "hosts.a.nic.offload=[\"tx-checksum\"]",
            "hosts.a.nic.tx_ring=64",
            "link.rate=1Gbit/s",
            "link.rate=100Gbit/s",
            "flow[0].send=msg_zerocopy",
        ],
    );
    assert_eq!(v["flows"][0]["send"], "msg_zerocopy");
    assert!(common::host(&v, "a", "pinned_pages") > 0);
    let slow = run_with(&path, &["link.rate=1Gbit/s"]);
    assert!(v["flows"][0]["goodput_bps"].as_u64() > slow["flows"][0]["goodput_bps"].as_u64());
    // offload = [] takes away what the file gave.
    let (_e, with) = file(&GOOD.replace(
        "address = \"192.168.69.1/24\"",
        "address = \"192.168.69.1/24\"\nnic.offload = [\"tx-checksum\"]",
    ));
    let on = run_with(&with, &[]);
    let off = run_with(&with, &["hosts.a.nic.offload=[]"]);
    assert!(
        common::host(&off, "a", "checksum_cpu_bytes")
            > common::host(&on, "a", "checksum_cpu_bytes") + 65536
    );
}

#[test]
fn a_bad_value_is_refused_at_its_argument_with_the_files_message() {
    let (_d, path) = file(GOOD);
    let err = refused(&path, &["flow[0].write_size=4KB"]);
    assert_eq!(
        err,
        "simnet: --set flow[0].write_size=4KB: expected a size like 1500, \"64KiB\" or \
         \"4MiB\", found \"4KB\"\n"
    );
    // The file with the same mistake: the same message, at its line.
    let (_e, bad) = file(&GOOD.replace(
        "bytes = \"64KiB\"",
        "bytes = \"64KiB\"\nwrite_size = \"4KB\"",
    ));
    let from_file = refused(&bad, &[]);
    let tail = |s: &str| {
        s.split_once(": key `flow[0].write_size`: ")
            .map(|p| p.1.to_string())
    };
    assert_eq!(
        tail(&from_file).as_deref(),
        err.split_once("4KB: ").map(|p| p.1)
    );
    let err = refused(&path, &["flow[0].port=0"]);
    assert!(
        err.contains("--set flow[0].port=0: expected a port in 1..=65535, found 0"),
        "{err}"
    );
}

#[test]
fn an_unknown_key_gets_the_message_the_file_would() {
    let (_d, path) = file(GOOD);
    let err = refused(&path, &["link.rat=1"]);
    let (_e, bad) = file(&format!("{GOOD}\n[link]\nrat = 1\n"));
    let from_file = refused(&bad, &[]);
    let message = "unknown key \"rat\" in [link] (did you mean `rate`?); expected one of: \
                   rate, delay, mtu, queue, faults\n";
    assert_eq!(err, format!("simnet: --set link.rat=1: {message}"));
    assert!(
        from_file.ends_with(&format!(": key `link.rat`: {message}")),
        "{from_file}"
    );
}

#[test]
fn a_rule_across_keys_names_the_override() {
    let (_d, path) = file(GOOD);
    let err = refused(&path, &["hosts.a.nic.offload=[\"tso\"]"]);
    assert!(
        err.starts_with(
            "simnet: --set hosts.a.nic.offload=[\"tso\"]: \"tso\" needs \"tx-checksum\""
        ),
        "{err}"
    );
    // A table the override makes lacks a required key: the key is named.
    let err = refused(&path, &["hosts.c.nic.tx_ring=64"]);
    assert_eq!(
        err,
        "simnet: --set hosts.c.nic.tx_ring=64: key `hosts.c.address`: missing required key \
         `address` in [hosts.c]\n"
    );
    // A mistake of the file is still the file's, at its line.
    let (_e, bad) = file(&GOOD.replace("64KiB", "0"));
    let err = refused(&bad, &["link.rate=1Gbit/s"]);
    assert!(err.contains("t.toml:13:9: key `flow[0].bytes`"), "{err}");
}

#[test]
fn a_path_that_goes_nowhere_is_refused() {
    let (_d, path) = file(GOOD);
    let err = refused(&path, &["flow[3].bytes=1"]);
    assert_eq!(
        err,
        "simnet: --set flow[3].bytes=1: there is no item [3] to set: the scenario has 1 \
         (counted from [0])\n"
    );
    let err = refused(&path, &["scenario.name.x=1"]);
    assert!(err.contains("cannot set `x` inside a string"), "{err}");
    // Not KEY=VALUE at all: clap refuses it, exit 2.
    for arg in ["nothing", "=3", "a..b=1", "flow[x].bytes=1", "\"open=1"] {
        let err = refused(&path, &[arg]);
        assert!(err.contains("invalid value"), "{arg}: {err}");
    }
}

#[test]
fn trace_takes_overrides_too() {
    let (_d, path) = file(GOOD);
    let out = simnet(&[
        "trace",
        &path,
        "--buffer",
        "0",
        "--no-pcap",
        "--json",
        "--set",
        "flow[0].write_size=4KiB",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    // One buffer, reused by each of the 16 send calls the override makes.
    assert_eq!(v["uses"], 16);
    let out = simnet(&["trace", &path, "--buffer", "0", "--set", "flow[0].bytes=0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("simnet: --set flow[0].bytes=0: "));
}
