//! The CLI as a Unix process among others: runs that share a capture
//! folder, a report written to a closed pipe, a full disk or a closed
//! stdout, and signals that end a run. Every test goes through the built
//! binary.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// `scenarios/copy.toml` with `bytes` to move instead of 64 MiB, written
/// into `dir`; returns its path.
fn copy_scenario(dir: &Path, bytes: &str) -> PathBuf {
    let text = std::fs::read_to_string(root().join("scenarios/copy.toml")).unwrap();
    let text = text.replace("bytes = \"64MiB\"", &format!("bytes = \"{bytes}\""));
    assert!(text.contains(bytes), "copy.toml moves 64MiB");
    let path = dir.join(format!("copy_{bytes}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

fn simnet_command(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_simnet"));
    c.args(args).current_dir(root());
    c
}

/// The names of the files in `dir` (none if it does not exist), sorted.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn two_runs_sharing_a_capture_folder_each_write_whole_captures() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = copy_scenario(dir.path(), "16MiB");
    let file = scenario.to_str().unwrap();
    // What each run writes alone (captures are deterministic).
    let alone = |seed: &str| {
        let pcap = dir.path().join(format!("alone-{seed}"));
        let out = simnet(&[
            "run",
            file,
            "--seed",
            seed,
            "--pcap",
            pcap.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", stderr_of(&out));
        pcap
    };
    let (one, two) = (alone("1"), alone("2"));
    let hosts = ["receiver-eth0.pcapng", "sender-eth0.pcapng"];
    for h in hosts {
        assert_ne!(
            std::fs::read(one.join(h)).unwrap(),
            std::fs::read(two.join(h)).unwrap(),
            "the seeds give different captures, so a mix would show"
        );
    }
    // Both at once, into one folder: same file names, different bytes.
    let shared = dir.path().join("shared");
    let spawn = |seed: &str| {
        simnet_command(&["run", file, "--seed", seed, "--pcap"])
            .arg(&shared)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn("1"), spawn("2"));
    for out in [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()] {
        assert!(out.status.success(), "{}", stderr_of(&out));
    }
    // Each file is whole: exactly one run's capture (the last renamed).
    assert_eq!(files_in(&shared), hosts, "no temporary file left");
    for h in hosts {
        let got = std::fs::read(shared.join(h)).unwrap();
        assert!(
            got == std::fs::read(one.join(h)).unwrap()
                || got == std::fs::read(two.join(h)).unwrap(),
            "{h} is not the capture of either run alone"
        );
    }
}

#[test]
fn a_reader_that_closes_the_pipe_ends_the_run_quietly_with_141() {
    for args in [
        &["run", "scenarios/copy.toml", "--no-pcap"][..],
        &["run", "scenarios/copy.toml", "--no-pcap", "--json"],
        &["trace", "scenarios/copy.toml", "--buffer", "0", "--pcap"],
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut command = simnet_command(args);
        if args.last() == Some(&"--pcap") {
            command.arg(dir.path());
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // `simnet run X | head -0`: the reader is gone before the report.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(141), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?}: quiet, but said: {err}");
    }
}

#[test]
fn a_full_disk_under_stdout_is_an_error_that_names_it() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full exists on Linux");
    let out = simnet_command(&["run", "scenarios/copy.toml", "--no-pcap"])
        .stdout(full)
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("simnet: cannot write the report to standard output: No space left on device"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_closed_stdout_is_refused_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("caps");
    // `simnet run X >&-`, as a shell does it.
    let out = Command::new("sh")
        .args(["-c", "exec \"$0\" \"$@\" >&-"])
        .arg(env!("CARGO_BIN_EXE_simnet"))
        .args(["run", "scenarios/copy.toml", "--pcap"])
        .arg(&pcap)
        .current_dir(root())
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("standard output is closed"), "{err}");
    assert!(!pcap.exists(), "nothing run, nothing written");
}

/// A child process killed (SIGKILL) if a test fails before it ends.
struct Running(Option<std::process::Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn a_signal_ends_a_simulated_run_and_removes_its_temporary_captures() {
    use nix::sys::signal::{kill, Signal};
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    // Long enough (minutes) to be caught mid-run.
    let scenario = copy_scenario(dir.path(), "4GiB");
    for (signal, code) in [
        (Signal::SIGINT, 130),
        (Signal::SIGTERM, 143),
        (Signal::SIGHUP, 129),
    ] {
        let pcap = dir.path().join(format!("caps-{signal}"));
        let child = simnet_command(&["run", scenario.to_str().unwrap(), "--pcap"])
            .arg(&pcap)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut run = Running(Some(child));
        // Wait until both temporary captures exist and are being written.
        let deadline = Instant::now() + Duration::from_secs(60);
        while files_in(&pcap)
            .iter()
            .filter(|f| f.ends_with(".pcapng.tmp"))
            .count()
            < 2
        {
            let child = run.0.as_mut().unwrap();
            assert!(child.try_wait().unwrap().is_none(), "{signal}: ended early");
            assert!(Instant::now() < deadline, "{signal}: no temporary captures");
            std::thread::sleep(Duration::from_millis(10));
        }
        let pid = nix::unistd::Pid::from_raw(run.0.as_ref().unwrap().id() as i32);
        kill(pid, signal).unwrap();
        let out = run.0.take().unwrap().wait_with_output().unwrap();
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(code), "{signal}: {err}");
        assert!(
            err.contains("simnet: interrupted; removed 2 temporary capture file(s)"),
            "{signal}: {err}"
        );
        assert!(out.stdout.is_empty(), "{signal}: no report");
        assert_eq!(
            files_in(&pcap),
            Vec::<String>::new(),
            "{signal}: neither temporary nor final captures are left"
        );
    }
}
