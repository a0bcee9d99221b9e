//! The progress bar of `simnet run` and `simnet trace` (src/progress.rs)
//! through the binary: a run long enough for it prints nothing on a stderr
//! that is not a terminal, or with `--quiet`; on a terminal it shows after
//! about a second and leaves the report on stdout as it is without it.
//!
//! The terminal is a pseudo-terminal from `script` (util-linux's, in the
//! bsdutils package on Debian): that test is ignored by plain `cargo test`
//! and run by `.ci/run` (which installs it) with `--include-ignored`; it
//! fails, saying so, where `script` is missing.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A run that takes about two seconds of wall time on the 2-core machine
/// the project is developed on: longer than the bar's one-second delay.
const LONG: &[&str] = &[
    "scenarios/fast_link.toml",
    "--set",
    "flow[0].bytes=3GiB",
    "--no-pcap",
];

#[test]
fn no_progress_on_a_stderr_that_is_not_a_terminal_nor_with_quiet() {
    let start = Instant::now();
    let out = simnet(&[&["run"], LONG].concat());
    let took = start.elapsed();
    assert!(out.status.success());
    assert!(
        took > Duration::from_secs(1),
        "the run took {took:?}: too short to tell; make LONG longer"
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "stderr is a pipe");
    assert!(String::from_utf8_lossy(&out.stdout).contains("outcome ok"));
    // --quiet and -q are taken by both commands, and print nothing more.
    for args in [
        &["run", "zero_copy", "--no-pcap", "--quiet"][..],
        &["run", "zero_copy", "--no-pcap", "-q"],
        &[
            "trace",
            "zero_copy",
            "--buffer",
            "3",
            "--no-pcap",
            "--quiet",
        ],
        &["trace", "zero_copy", "--buffer", "3", "--no-pcap", "-q"],
    ] {
        let out = simnet(args);
        assert!(out.status.success(), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{args:?}");
    }
}

/// Runs `simnet ARGS > stdout` under `script`, so that its stderr is a
/// pseudo-terminal; returns what the terminal showed and the report.
fn on_a_terminal(args: &[&str], dir: &Path, name: &str) -> (String, String) {
    let quote = |w: &str| format!("'{}'", w.replace('\'', r"'\''"));
    let report = dir.join(name);
    let line = format!(
        "cd {} && {} {} > {}",
        quote(root().to_str().unwrap()),
        quote(env!("CARGO_BIN_EXE_simnet")),
        args.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" "),
        quote(report.to_str().unwrap())
    );
    let out = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run script(1) ({e}): this test needs it for a pseudo-terminal \
                 (Debian: apt-get install bsdutils; .ci/run installs it)"
            )
        });
    assert!(
        out.status.success(),
        "{line}: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    (shown, std::fs::read_to_string(report).unwrap())
}

#[test]
#[ignore = "needs script(1) for a pseudo-terminal; .ci/run installs it and runs ignored tests"]
fn on_a_terminal_a_long_run_shows_the_bar_and_the_report_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let (shown, with_bar) = on_a_terminal(&[&["run"], LONG].concat(), dir.path(), "a");
    // Bytes of the total, virtual time and goodput, then cleared.
    assert!(
        shown.contains("simnet run [") && shown.contains("/3.00 GiB, virtual "),
        "{shown:?}"
    );
    assert!(shown.contains(" Gbit/s, "), "{shown:?}");
    assert!(
        shown.ends_with("\r\x1b[2K"),
        "the bar is cleared: {shown:?}"
    );
    let (shown, quiet) = on_a_terminal(&[&["run"], LONG, &["--quiet"]].concat(), dir.path(), "b");
    assert_eq!(shown, "", "--quiet");
    assert_eq!(with_bar, quiet, "the report is the same with the bar");
    assert!(with_bar.contains("outcome ok"));
    // A short run ends before the bar would show.
    let (shown, _) = on_a_terminal(&["run", "zero_copy", "--no-pcap"], dir.path(), "c");
    assert_eq!(shown, "", "a run shorter than a second");
    // trace has it too.
    let (shown, _) = on_a_terminal(
        &[&["trace"], LONG, &["--buffer", "0"]].concat(),
        dir.path(),
        "d",
    );
    assert!(shown.contains("simnet trace ["), "{shown:?}");
}
