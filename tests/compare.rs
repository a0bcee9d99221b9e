//! `simnet compare` end to end: the copy path against zero copy shows the
//! sender's data copies falling to nothing and its pinned pages rising
//! from nothing, with ratios, the largest differences first, within 100
//! columns; `--set-b` compares a scenario with a change of itself; bad
//! input is refused before anything runs.

mod common;

use common::simnet;
use serde_json::Value;

fn ok(args: &[&str]) -> String {
    let out = simnet(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The row of `figure` in `scope`, split into its columns' words.
fn row<'a>(text: &'a str, scope: &str, figure: &str) -> &'a str {
    let start = format!("{scope:<24} {figure} ");
    text.lines()
        .find(|l| l.starts_with(&start))
        .unwrap_or_else(|| panic!("no row {start:?} in\n{text}"))
}

#[test]
fn copy_against_zero_copy() {
    let text = ok(&["compare", "copy", "zero_copy"]);
    assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");
    assert!(text.starts_with("A: copy (bundled:copy, seed 1, outcome ok)\n"));
    let copies = row(&text, "host sender", "data copies (bytes)");
    assert!(
        copies.ends_with("64.0 MiB            0 B         0"),
        "{copies}"
    );
    let pins = row(&text, "host sender", "pinned pages");
    assert!(pins.ends_with(" 0         16,384       new"), "{pins}");
    // The largest differences first: the copies and pins before the
    // figures that barely move.
    let at = |s: &str| text.find(s).unwrap();
    assert!(at("data copies (bytes)") < at("CPU stack per MiB"));
    assert!(at("pinned pages") < at("goodput"));
    let latency = row(&text, "flow 0 sender->receiver", "write latency p50");
    assert!(latency.ends_with("x"), "a ratio: {latency}");

    let json: Value =
        serde_json::from_str(&ok(&["compare", "copy", "zero_copy", "--json"])).unwrap();
    assert_eq!(json["a"]["source"], "bundled:copy");
    assert_eq!(json["b"]["scenario"], "zero_copy");
    let rows = json["rows"].as_array().unwrap();
    let find = |figure: &str| {
        rows.iter()
            .find(|r| r["scope"] == "host sender" && r["figure"] == figure)
            .unwrap()
    };
    assert_eq!(find("data copies (bytes)")["a"], 67108864.0);
    assert_eq!(find("data copies (bytes)")["b"], 0.0);
    assert_eq!(find("data copies (bytes)")["ratio"], 0.0);
    assert_eq!(find("pinned pages")["b"], 16384.0);
    assert_eq!(find("pinned pages")["ratio"], Value::Null);
}

#[test]
fn one_scenario_against_a_change_of_itself() {
    let text = ok(&["compare", "copy", "--set-b", "flow[0].write_size=4KiB"]);
    assert!(
        text.contains("B: copy (bundled:copy, seed 1, outcome ok) --set flow[0].write_size=4KiB")
    );
    let syscalls = row(&text, "host sender", "syscalls");
    assert!(
        syscalls.ends_with("1,024         16,384     16.0x"),
        "{syscalls}"
    );
    // The same run twice: every figure equal.
    let same = ok(&[
        "compare",
        "copy",
        "copy",
        "--set-a",
        "flow[0].bytes=1MiB",
        "--set-b",
        "flow[0].bytes=1MiB",
    ]);
    assert!(
        same.contains("more figures are equal in both runs"),
        "{same}"
    );
    assert!(!same.contains("x\n"), "no ratio but 1: {same}");
}

#[test]
fn bad_input_is_refused_before_anything_runs() {
    for args in [
        &["compare", "copy"][..],
        &["compare", "copy", "nosuch"],
        &[
            "compare",
            "copy",
            "zero_copy",
            "--set-b",
            "flow[0].write_size=4KB",
        ],
    ] {
        let out = simnet(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty());
    }
    let out = simnet(&[
        "compare",
        "copy",
        "zero_copy",
        "--set-b",
        "flow[0].write_size=4KB",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr)
        .starts_with("simnet: --set flow[0].write_size=4KB: expected a size"));
}
