//! Bundled scenarios: every `scenarios/*.toml` is in the binary, runs by
//! name from any folder, is listed with its lesson and shown as its file;
//! a path still works; the JSON summary records what was run. The last
//! test installs the binary (`cargo install`) and uses it from an empty
//! folder.

mod common;

use common::{root, simnet, simnet_in};
use serde_json::Value;
use std::process::Command;

/// The names of `scenarios/*.toml`, sorted.
fn scenario_files() -> Vec<String> {
    let mut names: Vec<String> = (common::bundled_scenarios(true).iter())
        .map(|p| p.file_stem().unwrap().to_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn every_scenario_file_is_bundled_listed_and_shown_as_it_is() {
    let out = simnet(&["scenarios"]);
    assert!(out.status.success());
    let list = String::from_utf8(out.stdout).unwrap();
    let listed: Vec<&str> = (list.lines())
        .filter(|l| !l.starts_with(' ') && !l.starts_with("run one"))
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(listed, scenario_files(), "{list}");
    assert!(list.lines().all(|l| l.chars().count() <= 100), "{list}");
    assert!(
        list.contains("zero_copy                 The MSG_ZEROCOPY path.\n"),
        "{list}"
    );
    for name in scenario_files() {
        let out = simnet(&["show", &name]);
        assert!(out.status.success(), "{name}");
        let file = std::fs::read(root().join("scenarios").join(format!("{name}.toml"))).unwrap();
        assert_eq!(out.stdout, file, "simnet show {name} is the file");
    }
    let out = simnet(&["show", "zero_cop"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean zero_copy"));
}

#[test]
fn a_bundled_name_runs_from_any_folder_and_the_json_records_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = simnet_in(
        dir.path(),
        &[
            "run",
            "copy",
            "--json",
            "--no-pcap",
            "--seed",
            "7",
            "--set",
            "flow[0].bytes=1MiB",
            "--set",
            "link.rate=\"1Gbit/s\"",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["flows"][0]["bytes_received"], 1 << 20);
    let run = &v["run"];
    assert_eq!(run["simnet"], env!("CARGO_PKG_VERSION"));
    assert_eq!(run["scenario"], "copy");
    assert_eq!(run["source"], "bundled:copy");
    assert_eq!(
        run["sets"],
        serde_json::json!(["flow[0].bytes=1MiB", "link.rate=\"1Gbit/s\""])
    );
    assert_eq!(run["seed"], 7);
    assert_eq!(v["seed"], 7);
    // bundled:NAME is the same scenario; a path is recorded as given.
    let out = simnet_in(
        dir.path(),
        &[
            "run",
            "bundled:copy",
            "--no-pcap",
            "--json",
            "--set",
            "flow[0].bytes=64KiB",
        ],
    );
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["scenario"], "copy");
    assert_eq!(v["run"]["source"], "bundled:copy");
    assert_eq!(v["flows"][0]["bytes_received"], 65536);
    let (v, _) = common::run_json("scenarios/echo.toml", dir.path());
    assert_eq!(v["run"]["source"], "scenarios/echo.toml");
    assert_eq!(v["run"]["sets"], serde_json::json!([]));
    assert_eq!(v["run"]["seed"], 1);
}

#[test]
fn a_file_of_a_bundled_name_wins_and_says_so_an_unknown_name_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mine = std::fs::read_to_string(root().join("scenarios/echo.toml")).unwrap();
    std::fs::write(dir.path().join("copy"), mine).unwrap();
    let out = simnet_in(dir.path(), &["run", "copy", "--json", "--no-pcap"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["scenario"], "echo");
    assert_eq!(v["run"]["source"], "copy");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "simnet: running the file ./copy, not the bundled scenario copy (bundled:copy runs \
         that)\n"
    );
    let out = simnet_in(dir.path(), &["run", "nosuch", "--no-pcap"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .starts_with("simnet: \"nosuch\" is neither a file nor a bundled scenario"));
    // A path is a path, even when it does not exist.
    let out = simnet_in(dir.path(), &["run", "copy.toml", "--no-pcap"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("simnet: copy.toml: cannot read: "));
}

#[test]
#[ignore = "slow: builds and installs the binary with cargo install (minutes); .ci/run runs it"]
fn the_installed_binary_works_from_an_empty_folder() {
    let install = tempfile::tempdir().unwrap();
    // A target folder of its own, kept between runs, so that this cargo
    // does not wait for the lock of the one running the tests.
    let target = root().join("target").join("install-test");
    let status = Command::new(env!("CARGO"))
        .args(["install", "--locked", "--quiet", "--path"])
        .arg(root())
        .arg("--root")
        .arg(install.path())
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "cargo install failed");
    let bin = install.path().join("bin").join("simnet");
    let empty = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(&bin)
            .args(args)
            .current_dir(empty.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let report = run(&["run", "zero_copy", "--no-pcap"]);
    assert!(
        report.starts_with("simnet: scenario zero_copy (seed 1)\n"),
        "{report}"
    );
    assert!(report.contains("integrity: ok"), "{report}");
    assert!(run(&["scenarios"]).contains("zero_copy "));
    let copy = std::fs::read_to_string(root().join("scenarios/copy.toml")).unwrap();
    assert_eq!(run(&["show", "copy"]), copy);
    assert_eq!(
        std::fs::read_dir(empty.path()).unwrap().count(),
        0,
        "nothing written"
    );
}
