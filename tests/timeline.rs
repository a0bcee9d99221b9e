//! `simnet run --timeline` and `--html` end to end: the timeline is
//! trace-event JSON Perfetto and chrome://tracing can load (fields, slices
//! that nest, buffer lifecycles, arrows bound to slices, counters, the
//! detail bound and the file's size bound on the 64 MiB bundled
//! scenarios); the HTML report is one self-contained page; neither changes
//! the run; a path that cannot be written is refused before the run.
//! (tests/html.rs renders the page in headless Chromium.)

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::*;
use serde_json::Value;

/// The documented bound (README, "--timeline") for the bundled 64 MiB
/// scenarios.
const TIMELINE_BOUND: u64 = 24 << 20;

fn run_with(scenario: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["run", scenario, "--no-pcap", "--json"];
    args.extend_from_slice(extra);
    let out = simnet(&args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{scenario}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    out
}

fn timeline(scenario: &str, path: &Path) -> Value {
    run_with(scenario, &["--timeline", path.to_str().unwrap()]);
    let bytes = std::fs::read(path).unwrap();
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{scenario}: not JSON: {e}"))
}

/// Nanoseconds of a `ts` or `dur` in microseconds with three decimals.
fn ns(v: &Value) -> i64 {
    let us = v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"));
    (us * 1000.0).round() as i64
}

#[test]
fn the_timeline_is_trace_event_json_with_slices_buffers_arrows_and_counters() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zero_copy.json");
    let v = timeline("scenarios/zero_copy.toml", &path);
    assert_eq!(v["displayTimeUnit"], "ns");
    let other = &v["otherData"];
    assert_eq!(other["scenario"], "zero_copy");
    let events = v["traceEvents"].as_array().expect("traceEvents");
    // Every event has what the format requires.
    for e in events {
        let ph = e["ph"].as_str().unwrap_or_else(|| panic!("no ph: {e}"));
        assert!(e["pid"].is_u64(), "{e}");
        assert!(e["name"].is_string(), "{e}");
        if ph != "M" {
            assert!(e["ts"].as_f64().is_some_and(|t| t >= 0.0), "{e}");
            assert!(e["tid"].is_u64(), "{e}");
        }
        if ph == "X" {
            assert!(e["dur"].as_f64().is_some_and(|d| d >= 0.0), "{e}");
            assert!(e["cat"].is_string(), "{e}");
        }
    }
    let by_ph = |ph: &'static str| events.iter().filter(move |e| e["ph"] == ph);
    // Threads are named: a CPU, the wire both ways, and the buffers.
    let threads: BTreeSet<&str> = by_ph("M")
        .filter(|e| e["name"] == "thread_name")
        .map(|e| e["args"]["name"].as_str().unwrap())
        .collect();
    for t in [
        "CPU",
        "wire out (frames leaving)",
        "wire in (frames arriving)",
    ] {
        assert!(threads.contains(t), "{threads:?}");
    }
    assert!(threads.contains("flow 0 buffer 0"), "{threads:?}");
    // CPU slices named and coloured by category; pins and copies are there.
    let cats: BTreeSet<&str> = by_ph("X")
        .filter(|e| e["tid"] == 1)
        .map(|e| e["cat"].as_str().unwrap())
        .collect();
    for c in ["syscall", "copy", "pin", "stack", "driver", "interrupt"] {
        assert!(cats.contains(c), "no {c} slice: {cats:?}");
    }
    let copy = by_ph("X")
        .find(|e| e["args"]["step"] == "CopyToUser")
        .unwrap();
    assert_eq!(copy["name"], "copy");
    assert!(copy["args"]["fn"]
        .as_str()
        .unwrap()
        .contains("copy_to_user"));
    // Slices on one thread nest or follow each other, never half-overlap.
    let mut slices: BTreeMap<(u64, u64), Vec<(i64, i64)>> = BTreeMap::new();
    for e in by_ph("X") {
        let (ts, dur) = (ns(&e["ts"]), ns(&e["dur"]));
        let key = (e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap());
        slices.entry(key).or_default().push((ts, ts + dur));
    }
    for (k, s) in &mut slices {
        s.sort_by_key(|&(a, b)| (a, -b));
        let mut open: Vec<i64> = Vec::new();
        for &(a, b) in s.iter() {
            while open.last().is_some_and(|&end| end <= a) {
                open.pop();
            }
            assert!(open.last().is_none_or(|&end| b <= end), "{k:?}: {a}..{b}");
            open.push(b);
        }
    }
    assert_eq!(other["overlapping_slices_dropped"], 0);
    // A zero-copy buffer's lifecycle: the use, initiated, pending (the
    // kernel holds the pages), complete, then the handler.
    let buffer0 = by_ph("X")
        .chain(by_ph("i"))
        .filter(|e| e["cat"] == "buffer" && e["args"]["buffer"] == 0)
        .collect::<Vec<_>>();
    let tid = buffer0[0]["tid"].clone();
    let first: Vec<&str> = buffer0
        .iter()
        .filter(|e| e["args"]["stream"] == "0..65536")
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        first,
        [
            "buffer 0 use",
            "initiated",
            "pending",
            "complete",
            "handler"
        ],
        "{buffer0:?}"
    );
    assert!(buffer0.iter().all(|e| e["tid"] == tid));
    // Arrows: each journey starts at a send call on the sender's CPU, steps
    // through the frame leaving and arriving, ends at the receiver's read;
    // every step lies inside a slice of its thread.
    let mut journeys: BTreeMap<u64, Vec<&Value>> = BTreeMap::new();
    for e in events
        .iter()
        .filter(|e| matches!(e["ph"].as_str(), Some("s" | "t" | "f")))
    {
        journeys
            .entry(e["id"].as_u64().unwrap())
            .or_default()
            .push(e);
    }
    assert!(journeys.len() > 1000, "{} journeys", journeys.len());
    assert_eq!(other["journeys"], journeys.len() as u64);
    for (id, steps) in &journeys {
        let phs: Vec<&str> = steps.iter().map(|e| e["ph"].as_str().unwrap()).collect();
        assert_eq!(phs, ["s", "t", "t", "f"], "journey {id}");
        let tids: Vec<(u64, u64)> = steps
            .iter()
            .map(|e| (e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap()))
            .collect();
        assert_eq!(tids, [(1, 1), (1, 2), (2, 3), (2, 1)], "journey {id}");
        assert_eq!(steps[3]["bp"], "e");
        for e in steps {
            let key = (e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap());
            let t = ns(&e["ts"]);
            assert!(
                slices[&key].iter().any(|&(a, b)| a <= t && t <= b),
                "journey {id}: {e} is in no slice"
            );
        }
        let times: Vec<i64> = steps.iter().map(|e| ns(&e["ts"])).collect();
        assert!(
            times.windows(2).all(|w| w[0] <= w[1]),
            "journey {id}: {times:?}"
        );
    }
    // Counters over the whole run, past where detail stops.
    let horizon = ns(&other["detail_until_us"]);
    let end = ns(&other["run_end_us"]);
    assert!(horizon > 0 && horizon < end, "{other}");
    let counters: BTreeSet<&str> = by_ph("C").map(|e| e["name"].as_str().unwrap()).collect();
    for c in [
        "Tx ring: descriptors in use",
        "Rx ring: frames waiting for NAPI",
        "CPU busy: pin (%)",
        "flow 0: send buffer (bytes)",
        "flow 0: in flight (bytes)",
        "flow 0: receive queue (bytes)",
        "flow 0: goodput (Gbit/s)",
        "frames in flight",
    ] {
        assert!(counters.contains(c), "no counter {c}: {counters:?}");
    }
    let last_counter = by_ph("C").map(|e| ns(&e["ts"])).max().unwrap();
    assert_eq!(last_counter, end);
    // Detail is bounded; the bound is said, and marked where it falls.
    let detail = other["detail_events"].as_u64().unwrap();
    let budget = other["detail_budget"].as_u64().unwrap();
    assert!(detail >= budget && detail <= budget + budget / 8, "{other}");
    assert!(by_ph("X").all(|e| ns(&e["ts"]) <= horizon + 2_000_000));
    let marker = by_ph("i").find(|e| e["s"] == "g").unwrap();
    assert_eq!(ns(&marker["ts"]), horizon);
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size < TIMELINE_BOUND, "{size} bytes");
}

#[test]
fn the_copy_path_timeline_stays_under_its_bound_and_shows_both_copies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("copy.json");
    let v = timeline("scenarios/copy.toml", &path);
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size < TIMELINE_BOUND, "{size} bytes");
    let events = v["traceEvents"].as_array().unwrap();
    for (step, pid) in [("CopyFromUser", 1), ("CopyToUser", 2)] {
        assert!(
            events
                .iter()
                .any(|e| e["args"]["step"] == step && e["pid"] == pid && e["name"] == "copy"),
            "no {step} slice on process {pid}"
        );
    }
    // The copy path hands the buffer back as the call returns: no pending.
    let names: BTreeSet<&str> = events
        .iter()
        .filter(|e| e["cat"] == "buffer")
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains("initiated") && names.contains("handler"),
        "{names:?}"
    );
    assert!(!names.contains("pending"), "{names:?}");
}

#[test]
fn a_buffer_reused_while_the_kernel_holds_it_gets_a_lane_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bug.json");
    let out = simnet(&[
        "run",
        "scenarios/lifetime_bug.toml",
        "--no-pcap",
        "--timeline",
        path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "the bug is the outcome");
    let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let lanes = v["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["name"] == "thread_name")
        .filter(|e| {
            e["args"]["name"]
                .as_str()
                .unwrap()
                .contains("reused while held")
        })
        .count();
    assert!(lanes > 0, "no overlapping use shown");
}

#[test]
fn the_html_report_is_one_self_contained_page() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("copy.html");
    run_with("scenarios/copy.toml", &["--html", path.to_str().unwrap()]);
    let html = std::fs::read_to_string(&path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.trim_end().ends_with("</html>"));
    // Nothing to fetch, nothing to run.
    for banned in ["<script", "src=", "<link", "@import", "url(http", "<iframe"] {
        assert!(!html.contains(banned), "the page has {banned}");
    }
    for href in html.split("href=\"").skip(1) {
        assert!(
            href.starts_with('#'),
            "a link out: {}",
            &href[..40.min(href.len())]
        );
    }
    // The path with every copy highlighted: copy_from_user, copy_to_user,
    // and the copybreak of the few small frames (the handshake's) the
    // receiver's driver copied.
    assert!(html.contains("The path of the bytes"));
    assert_eq!(html.matches("class=\"edge copy\"").count(), 3);
    for copy in ["copy_from_user", "copy_to_user", "e1000_copybreak"] {
        assert!(html.contains(&format!("CPU COPY: {copy}")), "{copy}");
    }
    for title in [
        "Descriptor ring occupancy",
        "CPU busy on sender by category",
        "Frames on the wires",
        "flow 0: bytes queued and in flight",
        "flow 0: goodput",
    ] {
        assert!(html.contains(title), "no plot {title}");
    }
    assert!(html.matches("<svg").count() >= 7);
    assert!(html.contains("tcp_recvmsg"), "the stage table");
    assert!(html.contains("id=\"flow-0\""));
}

#[test]
fn recording_changes_nothing_and_writes_the_same_files_every_time() {
    let dir = tempfile::tempdir().unwrap();
    let plain = run_with("scenarios/zero_copy.toml", &[]);
    let mut files = Vec::new();
    for i in 0..2 {
        let t = dir.path().join(format!("t{i}.json"));
        let h = dir.path().join(format!("h{i}.html"));
        let out = run_with(
            "scenarios/zero_copy.toml",
            &[
                "--timeline",
                t.to_str().unwrap(),
                "--html",
                h.to_str().unwrap(),
            ],
        );
        assert_eq!(out.stdout, plain.stdout, "the summary is the same");
        files.push((std::fs::read(t).unwrap(), std::fs::read(h).unwrap()));
    }
    assert!(files[0] == files[1], "the same bytes");
    // With captures too: the recorder and the captures share the run.
    let caps = dir.path().join("caps");
    let t = dir.path().join("t.json");
    let out = simnet(&[
        "run",
        "scenarios/zero_copy.toml",
        "--json",
        "--pcap",
        caps.to_str().unwrap(),
        "--timeline",
        t.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert_eq!(std::fs::read(&t).unwrap(), files[0].0);
    assert!(caps.join("sender-eth0.pcapng").exists());
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(names.is_empty(), "temporary files left: {names:?}");
}

#[test]
fn an_output_path_that_cannot_be_written_is_refused_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/folder/t.json");
    let folder = dir.path().to_str().unwrap().to_string();
    for (flag, path, says) in [
        (
            "--timeline",
            missing.to_str().unwrap(),
            "there is no folder",
        ),
        ("--html", folder.as_str(), "it is a folder"),
    ] {
        let out = simnet(&["run", "scenarios/copy.toml", "--no-pcap", flag, path]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{flag} {path}: {err}");
        assert!(err.starts_with("simnet: cannot write the"), "{err}");
        assert!(err.contains(says), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(out.stdout.is_empty(), "nothing was run");
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// The page's host table tells the data's copies from copybreak copies of
/// small frames, as the text report does: a zero-copy sender copies none of
/// its data, only the ACKs its driver receives.
#[test]
fn the_html_report_tells_data_copies_from_copybreak() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zero_copy.html");
    run_with(
        "scenarios/zero_copy.toml",
        &["--html", path.to_str().unwrap()],
    );
    let html = std::fs::read_to_string(&path).unwrap();
    assert!(html.contains("<th>data copies</th><th>copybreak copies</th>"));
    let sender = html
        .lines()
        .find(|l| l.starts_with("<tr><td>sender</td>"))
        .expect("a sender row");
    let cells: Vec<&str> = sender.split("<td").collect();
    assert!(cells[3].ends_with(">0 (0 B)</td>"), "{sender}");
    assert!(!cells[4].contains(">0 (0 B)"), "{sender}");
}
