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

/// GiB of `fast_link.toml` that take at least [`LONG_ENOUGH`] of wall time
/// on this machine (3 GiB took about two seconds on the 2-core machine the
/// project is developed on): found once, by doubling from 3, so a faster
/// machine still runs longer than the bar's one-second delay.
fn long_gib() -> u64 {
    static GIB: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *GIB.get_or_init(|| {
        let mut gib = 3;
        loop {
            let start = Instant::now();
            let out = simnet(&long(gib).iter().map(String::as_str).collect::<Vec<_>>());
            assert!(out.status.success());
            if start.elapsed() >= LONG_ENOUGH || gib >= 96 {
                return gib;
            }
            gib *= 2;
        }
    })
}

/// Twice the bar's delay.
const LONG_ENOUGH: Duration = Duration::from_secs(2);

/// `run` of `gib` GiB of `fast_link.toml`, without captures.
fn long(gib: u64) -> Vec<String> {
    ["run", "scenarios/fast_link.toml", "--set"]
        .into_iter()
        .map(String::from)
        .chain([format!("flow[0].bytes={gib}GiB"), "--no-pcap".into()])
        .collect()
}

/// [`long`] of [`long_gib`], with `extra` after it, as `simnet` takes it;
/// `command` in place of `run`.
fn long_run(command: &str, extra: &[&str]) -> Vec<String> {
    let mut args = long(long_gib());
    args[0] = command.into();
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

#[test]
fn no_progress_on_a_stderr_that_is_not_a_terminal_nor_with_quiet() {
    let args = long_run("run", &[]);
    let start = Instant::now();
    let out = simnet(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let took = start.elapsed();
    assert!(out.status.success());
    assert!(
        took > Duration::from_secs(1),
        "the run took {took:?}: too short to tell"
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
fn on_a_terminal<S: AsRef<str>>(args: &[S], dir: &Path, name: &str) -> (String, String) {
    let quote = |w: &str| format!("'{}'", w.replace('\'', r"'\''"));
    let report = dir.join(name);
    let line = format!(
        "cd {} && {} {} > {}",
        quote(root().to_str().unwrap()),
        quote(env!("CARGO_BIN_EXE_simnet")),
        args.iter()
            .map(|a| quote(a.as_ref()))
            .collect::<Vec<_>>()
            .join(" "),
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
    let (shown, with_bar) = on_a_terminal(&long_run("run", &[]), dir.path(), "a");
    // Bytes of the total, virtual time and goodput, then cleared.
    let total = format!("/{}.00 GiB, virtual ", long_gib());
    assert!(
        shown.contains("simnet run [") && shown.contains(&total),
        "{shown:?}"
    );
    assert!(shown.contains(" Gbit/s, "), "{shown:?}");
    assert!(
        shown.ends_with("\r\x1b[2K"),
        "the bar is cleared: {shown:?}"
    );
    let (shown, quiet) = on_a_terminal(&long_run("run", &["--quiet"]), dir.path(), "b");
    assert_eq!(shown, "", "--quiet");
    assert_eq!(with_bar, quiet, "the report is the same with the bar");
    assert!(with_bar.contains("outcome ok"));
    // A short run ends before the bar would show.
    let (shown, _) = on_a_terminal(&["run", "zero_copy", "--no-pcap"], dir.path(), "c");
    assert_eq!(shown, "", "a run shorter than a second");
    // trace has it too.
    let (shown, _) = on_a_terminal(&long_run("trace", &["--buffer", "0"]), dir.path(), "d");
    assert!(shown.contains("simnet trace ["), "{shown:?}");
}
