//! `simnet sweep` end to end through the binary: the bundled example (the
//! README's) shows where zero-copy starts to pay, its points run in
//! parallel, a jobs file run by `xargs` and merged gives the same CSV,
//! a bad `--vary` is refused (exit 2) before anything runs, and a file
//! shadowing a bundled name is swept with the note `run` gives.

mod common;

use common::simnet;
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// The README's example: `write` against `msg_zerocopy`, 1 KiB to 1 MiB
/// writes, 32 MiB each.
const EXAMPLE: &[&str] = &[
    "sweep",
    "scenarios/fast_link.toml",
    "--vary",
    "flow[0].send=write,msg_zerocopy",
    "--vary",
    "flow[0].write_size=1KiB..1MiB*2",
    "--set",
    "flow[0].bytes=32MiB",
    "--quiet",
];

/// The CSV's header and rows.
fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

/// Row by row, column name to cell.
fn by_name(header: &[String], rows: &[Vec<String>]) -> Vec<HashMap<String, String>> {
    rows.iter()
        .map(|r| header.iter().cloned().zip(r.iter().cloned()).collect())
        .collect()
}

fn num(row: &HashMap<String, String>, col: &str) -> f64 {
    row.get(col)
        .unwrap_or_else(|| panic!("no column {col}"))
        .parse()
        .unwrap_or_else(|e| panic!("{col}: {e}"))
}

fn run_ok(args: &[&str]) -> std::process::Output {
    let out = simnet(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn the_bundled_example_shows_where_zero_copy_starts_to_pay_and_runs_its_points_in_parallel() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().to_str().unwrap();
    let mut args = EXAMPLE.to_vec();
    // Two at once whatever the cores: on one core the points would run one
    // after another and could not overlap.
    args.extend(["--out", out_dir, "--jobs", "2"]);
    let start = Instant::now();
    run_ok(&args);
    let total_ms = start.elapsed().as_secs_f64() * 1e3;
    let svg = std::fs::read_to_string(dir.path().join("sweep.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("flow[0].send=msg_zerocopy"));
    let (header, rows) = read_csv(&dir.path().join("sweep.csv"));
    assert_eq!(
        &header[..3],
        ["flow[0].send", "flow[0].write_size", "outcome"]
    );
    assert_eq!(header.last().map(String::as_str), Some("wall_ms"));
    assert_eq!(rows.len(), 22, "2 paths x 11 write sizes");
    let rows = by_name(&header, &rows);
    let per_byte = |send: &str, size: &str| {
        let r = (rows.iter())
            .find(|r| r["flow[0].send"] == send && r["flow[0].write_size"] == size)
            .unwrap_or_else(|| panic!("no row {send} {size}"));
        assert_eq!(r["outcome"], "ok");
        num(r, "hosts.sender.cpu_busy_ns") / num(r, "flows[0].bytes_received")
    };
    assert!(
        per_byte("msg_zerocopy", "1KiB") > per_byte("write", "1KiB"),
        "at 1 KiB pinning costs more than copying"
    );
    assert!(
        per_byte("msg_zerocopy", "1MiB") < per_byte("write", "1MiB"),
        "at 1 MiB zero-copy pays"
    );
    // Points overlap in time: their own wall times add up to more than
    // the whole sweep's.
    let sum: f64 = rows.iter().map(|r| num(r, "wall_ms")).sum();
    assert!(
        sum > total_ms,
        "sum of the points' wall_ms {sum:.0} ms, whole sweep {total_ms:.0} ms"
    );
}

#[test]
fn a_jobs_file_run_by_xargs_then_merged_gives_the_same_csv() {
    let dir = tempfile::tempdir().unwrap();
    let (inproc, jobs_dir) = (dir.path().join("in"), dir.path().join("jobs"));
    let jobs = dir.path().join("jobs.txt");
    let base = [
        "sweep",
        "scenarios/fast_link.toml",
        "--vary",
        "flow[0].send=write,msg_zerocopy",
        "--vary",
        "flow[0].write_size=4KiB..64KiB*4",
        // Spelt as a user might: the points' commands pass it on as given.
        "--set",
        "flow[0].bytes =4MiB",
        "--quiet",
    ];
    let mut a = base.to_vec();
    a.extend(["--out", inproc.to_str().unwrap()]);
    run_ok(&a);
    let mut b = base.to_vec();
    b.extend([
        "--out",
        jobs_dir.to_str().unwrap(),
        "--jobs-file",
        jobs.to_str().unwrap(),
    ]);
    run_ok(&b);
    let text = std::fs::read_to_string(&jobs).unwrap();
    assert_eq!(text.lines().count(), 6);
    assert!(text.lines().all(|l| l.contains(" run ")
        && l.contains("--set 'flow[0].send=")
        // Points run side by side on one terminal draw no progress bars.
        && l.contains(" --quiet ")
        && l.ends_with(".json")));
    let xargs = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "xargs -d '\\n' -P 2 -I{{}} sh -c {{}} < '{}'",
            jobs.display()
        ))
        .status()
        .unwrap();
    assert!(xargs.success());
    // A point records the --set as given, as an in-process sweep's point
    // and `run --json` do.
    let point: serde_json::Value =
        serde_json::from_slice(&std::fs::read(jobs_dir.join("point-000.json")).unwrap()).unwrap();
    assert_eq!(
        point["run"]["sets"],
        serde_json::json!([
            "flow[0].bytes =4MiB",
            "flow[0].send=write",
            "flow[0].write_size=4KiB"
        ])
    );
    let merged = run_ok(&["sweep", "--merge", jobs_dir.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&merged.stdout).contains("sweep.csv"));
    let without_wall = |p: &Path| {
        let (h, rows) = read_csv(p);
        let w = h.iter().position(|c| c == "wall_ms").unwrap();
        let strip = |r: &[String]| {
            let mut r = r.to_vec();
            r.remove(w);
            r
        };
        (strip(&h), rows.iter().map(|r| strip(r)).collect::<Vec<_>>())
    };
    let (h1, r1) = without_wall(&inproc.join("sweep.csv"));
    let (h2, r2) = without_wall(&jobs_dir.join("sweep.csv"));
    assert_eq!(h1, h2);
    assert_eq!(r1, r2);
    assert!(jobs_dir.join("sweep.svg").is_file());
}

#[test]
fn a_bad_vary_is_refused_with_exit_2_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    for (vary, says) in [
        (
            "flow[0].write_sz=1KiB,2KiB",
            "--vary flow[0].write_sz (value 1KiB): unknown key \"write_sz\"",
        ),
        (
            "flow[0].write_size=1KiB..1MiB",
            "a range is START..END*FACTOR",
        ),
        (
            "flow[0].write_size=1KiB..1MiB*1",
            "not a whole number of at least 2",
        ),
        ("flow[0].write_size=1MiB..1KiB*2", "above its end"),
        (
            "flow[0].write_size=1KiB..2ms*2",
            "not in the units of the start",
        ),
        (
            "flow[0].write_size=1KiB,4KB",
            "--vary flow[0].write_size (value 4KB): expected a size",
        ),
        ("flow[0].send=write,nope", "unknown value \"nope\""),
        ("flow[5].send=write", "there is no item [5]"),
        ("flow[0].send", "expected KEY="),
    ] {
        let out = simnet(&[
            "sweep",
            "scenarios/fast_link.toml",
            "--vary",
            vary,
            "--out",
            out_dir.to_str().unwrap(),
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{vary}: {err}");
        assert!(
            err.starts_with("simnet: ") && err.contains(says),
            "{vary}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{vary}: one line: {err}");
        assert!(!err.contains("panicked"));
        assert!(!out_dir.exists(), "{vary}: nothing written");
    }
}

#[test]
fn a_file_of_a_bundled_name_is_swept_and_says_so_as_run_does() {
    let dir = tempfile::tempdir().unwrap();
    let mine = std::fs::read_to_string(common::root().join("scenarios/echo.toml")).unwrap();
    std::fs::write(dir.path().join("copy"), mine).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_simnet"))
        .args([
            "sweep",
            "copy",
            "--vary",
            "flow[0].bytes=64KiB,128KiB",
            "--quiet",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "simnet: running the file ./copy, not the bundled scenario copy (bundled:copy runs \
         that)\n"
    );
    // The file's scenario (echo) names the default folder, not copy.
    assert!(dir.path().join("sweeps/echo/sweep.csv").is_file());
}
