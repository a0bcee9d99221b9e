//! Bad input through the CLI: one clear error naming the file, line, column
//! and key; exit code 2; never a panic; no capture left behind. Hostile but
//! valid input (control characters in a description) reaches the terminal
//! escaped.

mod common;

use common::{simnet, simnet_in, GOOD};
use std::path::Path;

/// Runs `simnet run` on `text` written to a temporary file; returns stderr.
fn run_bad(text: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, text).unwrap();
    let caps = dir.path().join("caps");
    let out = simnet(&[
        "run",
        file.to_str().unwrap(),
        "--pcap",
        caps.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.stdout.is_empty(), "nothing printed on stdout");
    assert!(
        !Path::new(&caps).exists(),
        "no capture folder for a bad file"
    );
    err
}

#[test]
fn the_good_file_runs() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("good.toml");
    std::fs::write(&file, GOOD).unwrap();
    let out = simnet(&["run", file.to_str().unwrap(), "--no-pcap"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn zero_ring_names_file_line_column_and_key() {
    let text = GOOD.replace("[hosts.b]", "[hosts.a.nic]\ntx_ring = 0\n\n[hosts.b]");
    let err = run_bad(text.as_bytes());
    assert!(err.contains("bad.toml:8:11:"), "{err}");
    assert!(err.contains("hosts.a.nic.tx_ring"), "{err}");
    assert!(err.contains("32..=4096"), "{err}");
}

#[test]
fn unknown_key_is_refused_with_its_path() {
    let text = GOOD.replace("name = \"t\"", "name = \"t\"\nspeed = 3");
    let err = run_bad(text.as_bytes());
    assert!(err.contains("bad.toml:3:1:"), "{err}");
    assert!(err.contains("scenario.speed"), "{err}");
}

#[test]
fn bad_unit_says_what_was_expected() {
    let text = GOOD.replace("bytes = \"64KiB\"", "bytes = \"64 kb\"");
    let err = run_bad(text.as_bytes());
    assert!(err.contains("bad.toml:13:9:"), "{err}");
    assert!(err.contains("64KiB"), "{err}");
}

#[test]
fn unknown_host_in_a_flow_is_an_error() {
    let text = GOOD.replace("to = \"b\"", "to = \"c\"");
    let err = run_bad(text.as_bytes());
    assert!(err.contains("bad.toml:12:"), "{err}");
    assert!(err.contains("\"c\""), "{err}");
}

#[test]
fn a_rule_across_keys_points_at_the_key_it_names() {
    let text = GOOD.replace(
        "[hosts.b]",
        "[hosts.a.nic]\noffload = [\"tso\"]\n\n[hosts.b]",
    );
    let err = run_bad(text.as_bytes());
    assert!(err.contains("bad.toml:8:11:"), "{err}");
    assert!(err.contains("key `hosts.a.nic.offload`"), "{err}");
    assert!(err.contains("\"tso\" needs \"tx-checksum\""), "{err}");
}

#[test]
fn a_third_host_without_a_switch_is_refused_at_its_table() {
    let text = format!("{GOOD}\n[hosts.c]\naddress = \"192.168.69.3/24\"\n");
    let err = run_bad(text.as_bytes());
    assert!(err.contains("bad.toml:15:1:"), "{err}");
    assert!(err.contains("key `hosts.c`"), "{err}");
    assert!(err.contains("need a [switch]"), "{err}");
}

#[test]
fn toml_syntax_error_has_a_position() {
    let err = run_bad(b"[scenario\nname = 1\n");
    assert!(err.contains("bad.toml:1:"), "{err}");
}

#[test]
fn binary_garbage_is_not_a_text_file() {
    let mut junk = b"[scenario]\nname = \"x\"\n".to_vec();
    junk.extend_from_slice(&[0xff, 0xfe, 0x00, 0x80, 0x81]);
    let err = run_bad(&junk);
    assert!(err.contains("bad.toml:3:1:"), "{err}");
    assert!(err.contains("not a text file"), "{err}");
}

#[test]
fn a_tap_device_name_the_kernel_would_refuse_is_an_error_before_any_device() {
    let text = format!("{GOOD}\n[tap]\nhost = \"a\"\ndevice = \"my tap\"\n");
    let err = run_bad(text.as_bytes());
    assert!(err.contains("key `tap.device`"), "{err}");
    assert!(err.contains("expected an interface name"), "{err}");
}

#[test]
fn missing_file_is_a_clear_error() {
    let out = simnet(&["run", "no/such/scenario.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no/such/scenario.toml: cannot read"), "{err}");
}

#[test]
fn a_scenario_name_is_bounded_in_bytes_as_folder_names_are() {
    // 128 two-byte characters: 256 bytes, one more than NAME_MAX.
    let long = "é".repeat(128);
    let text = GOOD.replace("name = \"t\"", &format!("name = \"{long}\""));
    let err = run_bad(text.as_bytes());
    assert!(err.contains("bad.toml:2:8:"), "{err}");
    assert!(err.contains("key `scenario.name`"), "{err}");
    assert!(err.contains("1 to 255 bytes"), "{err}");
    // 255 bytes make a folder: the default capture folder is created.
    let name = format!("{}a", "é".repeat(127));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("long.toml");
    std::fs::write(
        &file,
        GOOD.replace("name = \"t\"", &format!("name = \"{name}\"")),
    )
    .unwrap();
    let out = simnet_in(dir.path(), &["run", file.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let folder = dir.path().join("captures").join(&name);
    assert!(folder.join("a-eth0.pcapng").exists(), "{err}");
}

#[test]
fn a_huge_unknown_key_is_cut_short_in_the_error() {
    let key = "k".repeat(100_000);
    for text in [
        GOOD.replace("name = \"t\"", &format!("name = \"t\"\n{key} = 1")),
        GOOD.replace("name = \"t\"", &format!("name = \"t\"\n\"{key} x\" = 1")),
        format!("{GOOD}\n[{key}]\n"),
        GOOD.replace("[hosts.b]", &format!("[hosts.{key}]")),
    ] {
        let err = run_bad(text.as_bytes());
        assert!(err.len() < 400, "{} bytes: {}…", err.len(), &err[..200]);
        assert!(err.contains(&format!("{}…", "k".repeat(60))), "{err}");
        assert!(err.contains("bad.toml:"), "{err}");
    }
}

#[test]
fn dotted_keys_nested_too_deep_are_a_positioned_error() {
    let deep = vec!["a"; 100].join(".");
    let text = GOOD.replace("name = \"t\"", &format!("name = \"t\"\n{deep} = 1"));
    let err = run_bad(text.as_bytes());
    assert!(err.contains("bad.toml:3:1: "), "{err}");
    assert!(
        err.contains("nested too deep: a dotted key of 100 parts (at most 80)"),
        "{err}"
    );
    assert!(!err.contains("recursion limit"), "{err}");
}

#[test]
fn control_characters_in_the_description_and_name_are_escaped_in_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ansi.toml");
    let text = GOOD.replace(
        "name = \"t\"",
        "name = \"t\\u202Eevil\"\ndescription = \"\\u001B[2J\\u001B[31mred\\u001B[0m \\u0007bell \\u009Bc1 é\"",
    );
    std::fs::write(&file, text).unwrap();
    let out = simnet(&["run", file.to_str().unwrap(), "--no-pcap"]);
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !table.contains(['\u{1b}', '\u{7}', '\u{9b}', '\u{202e}']),
        "raw control characters reach the terminal: {table:?}"
    );
    assert!(
        table.contains("simnet: scenario t\\u{202e}evil (seed 1)"),
        "{table}"
    );
    assert!(
        table.contains("  \\u{1b}[2J\\u{1b}[31mred\\u{1b}[0m \\u{7}bell \\u{9b}c1 é\n"),
        "{table}"
    );
    // JSON carries the name as it is (serde escapes what JSON must).
    let out = simnet(&["run", file.to_str().unwrap(), "--no-pcap", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["scenario"], "t\u{202e}evil");
}
