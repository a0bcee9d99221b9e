//! Helpers for the end-to-end tests: run the built `simnet` binary, read
//! its JSON, read captures with an implementation other than the model's.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pcap_file::pcapng::{Block, PcapNgReader};
use pnet_packet::ethernet::{EtherTypes, EthernetPacket};
use pnet_packet::ip::IpNextHeaderProtocols;
use pnet_packet::ipv4::{self, Ipv4Packet};
use pnet_packet::tcp::{self, TcpPacket};
use pnet_packet::Packet;
use serde_json::Value;
use std::collections::BTreeMap;

/// The smallest good scenario: two hosts, one 64 KiB flow. Tests of bad
/// input change one thing in it.
pub const GOOD: &str = r#"[scenario]
name = "t"

[hosts.a]
address = "192.168.69.1/24"

[hosts.b]
address = "192.168.69.2/24"

[[flow]]
from = "a"
to = "b"
bytes = "64KiB"
"#;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the built binary from the repository's root.
pub fn simnet(args: &[&str]) -> Output {
    simnet_in(&root(), args)
}

/// Runs the built binary in `dir`.
pub fn simnet_in<S: AsRef<OsStr>>(dir: &Path, args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_simnet"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the simnet binary runs")
}

/// The bundled scenarios, `scenarios/*.toml`, sorted; with `tap` false,
/// only those a test can run without a TAP device (no `[tap]` section).
pub fn bundled_scenarios(tap: bool) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .filter(|p| tap || !std::fs::read_to_string(p).unwrap().contains("\n[tap]"))
        .collect();
    files.sort();
    files
}

/// One row of a CSV file, with its header to read cells by column name.
pub struct CsvRow {
    pub header: csv::StringRecord,
    pub record: csv::StringRecord,
}

impl CsvRow {
    /// The cell in column `name`.
    pub fn get(&self, name: &str) -> Result<&str, String> {
        let at = (self.header.iter().position(|h| h == name))
            .ok_or_else(|| format!("no column {name:?}"))?;
        Ok(self.record.get(at).unwrap_or_default())
    }
}

/// The one row of the CSV file at `path` whose cells match `row`:
/// `col=value` pairs separated by commas, each pair, column and value
/// trimmed (`a=1,b=2` as the docs' figure comments write it, `a=1, b=2` as
/// the labs' answer keys do).
pub fn csv_row(path: &Path, row: &str) -> Result<CsvRow, String> {
    let mut r = csv::Reader::from_path(path).map_err(|e| e.to_string())?;
    let header = r.headers().map_err(|e| e.to_string())?.clone();
    let col = |name: &str| {
        (header.iter().position(|h| h == name)).ok_or_else(|| format!("no column {name:?}"))
    };
    let mut wanted = Vec::new();
    for pair in row.split(',') {
        let (k, v) = (pair.trim().split_once('='))
            .ok_or_else(|| format!("row: {:?} is not COLUMN=VALUE", pair.trim()))?;
        wanted.push((col(k.trim())?, v.trim().to_string()));
    }
    let mut found = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| e.to_string())?;
        if wanted.iter().all(|(i, v)| rec.get(*i) == Some(v.as_str())) {
            found.push(rec);
        }
    }
    match found.len() {
        1 => Ok(CsvRow {
            header,
            record: found.remove(0),
        }),
        n => Err(format!("{n} rows match {row:?}, not one")),
    }
}

/// A temporary folder where `scenarios/` and `docs/` are the repository's
/// (symlinks): commands the documents show run there as from the root, and
/// the captures and sweeps they write land in it.
pub fn repo_view() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in ["scenarios", "docs"] {
        std::os::unix::fs::symlink(root().join(name), dir.path().join(name)).unwrap();
    }
    dir
}

/// Whether the run should rewrite the documents instead of checking them
/// (`SIMNET_BLESS=1`).
pub fn bless() -> bool {
    std::env::var_os("SIMNET_BLESS").is_some_and(|v| v == "1")
}

/// A command line's words as sh reads the documents' commands: split at
/// spaces outside single quotes, the quotes removed (`-Y 'a b'` is two
/// words, `-Y` and `a b`).
pub fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word: Option<String> = None;
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                word.get_or_insert_with(String::new);
            }
            c if c.is_whitespace() && !quoted => out.extend(word.take()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    out.extend(word);
    out
}

/// Runs a scenario with `--json`, captures into `dir`; returns the summary
/// and the exit status.
pub fn run_json(scenario: &str, dir: &Path) -> (Value, Output) {
    let out = simnet(&[
        "run",
        scenario,
        "--json",
        "--pcap",
        dir.to_str().expect("utf-8 temp path"),
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON from simnet ({e}); stderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (v, out)
}

/// [`run_json`] for a run that must succeed: exit 0, outcome ok, the first
/// flow intact.
pub fn run_ok(scenario: &str, dir: &Path) -> Value {
    let (v, out) = run_json(scenario, dir);
    assert!(
        out.status.success(),
        "{scenario}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(v["outcome"], "ok", "{scenario}");
    assert_eq!(v["flows"][0]["integrity"], "ok", "{scenario}");
    v
}

/// One counter of one host in the JSON summary.
pub fn host(v: &Value, name: &str, field: &str) -> u64 {
    v["hosts"][name][field]
        .as_u64()
        .unwrap_or_else(|| panic!("{name}.{field}"))
}

/// Sum of `bytes` over stage rows matching host, stage and kind.
pub fn stage_bytes(v: &Value, host: &str, stage: &str, kind: &str) -> u64 {
    v["stages"]
        .as_array()
        .expect("stages array")
        .iter()
        .filter(|r| r["host"] == host && r["stage"] == stage && r["kind"] == kind)
        .map(|r| r["bytes"].as_u64().expect("bytes"))
        .sum()
}

/// Every frame of a pcapng file, with its timestamp in nanoseconds.
pub fn read_pcapng(path: &Path) -> Vec<(u128, Vec<u8>)> {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = PcapNgReader::new(&data[..]).expect("a pcapng section header");
    let mut frames = Vec::new();
    while let Some(block) = reader.next_block() {
        if let (Block::EnhancedPacket(epb), _) = block.expect("a well-formed block") {
            frames.push((epb.timestamp.as_nanos(), epb.data.to_vec()));
        }
    }
    frames
}

/// Every frame of a pcapng file with its comment (`frame.comment`; empty if
/// none), read with pcap-file.
pub fn read_pcapng_comments(path: &Path) -> Vec<(Vec<u8>, String)> {
    use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketOption;
    use pcap_file::pcapng::blocks::opt_common::CommonOption;
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = PcapNgReader::new(&data[..]).expect("a pcapng section header");
    let mut frames = Vec::new();
    while let Some(block) = reader.next_block() {
        if let (Block::EnhancedPacket(epb), _) = block.expect("a well-formed block") {
            let comment = (epb.options.iter())
                .find_map(|o| match o {
                    EnhancedPacketOption::Common(CommonOption::Comment(c)) => Some(c.to_string()),
                    _ => None,
                })
                .unwrap_or_default();
            frames.push((epb.data.to_vec(), comment));
        }
    }
    frames
}

/// A copy of a bundled scenario with NIC offloads turned off, written into
/// `dir`; returns its path.
pub fn without_offloads(scenario: &str, dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(root().join(scenario)).expect("bundled scenario");
    let text = text.replace(
        r#"offload = ["tx-checksum", "rx-checksum"]"#,
        "offload = []",
    );
    assert!(text.contains("offload = []"), "{scenario} lists offloads");
    let name = Path::new(scenario).file_name().expect("a file name");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("temp scenario written");
    path
}

/// Reassembles the sender's byte stream from a capture with pnet_packet,
/// verifying every IPv4 and TCP checksum on the way.
pub fn reassemble_stream(path: &Path, data_port: u16) -> Vec<u8> {
    let mut segments: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
    let mut isn = None;
    for (i, (_, frame)) in read_pcapng(path).iter().enumerate() {
        let eth = EthernetPacket::new(frame).expect("an Ethernet frame");
        if eth.get_ethertype() != EtherTypes::Ipv4 {
            continue;
        }
        let ip = Ipv4Packet::new(eth.payload()).expect("an IPv4 header");
        assert_eq!(
            ipv4::checksum(&ip),
            ip.get_checksum(),
            "frame {}: bad IPv4 checksum",
            i + 1
        );
        if ip.get_next_level_protocol() != IpNextHeaderProtocols::Tcp {
            continue;
        }
        let ip_payload = &ip.payload()[..ip.get_total_length() as usize - 20];
        let seg = TcpPacket::new(ip_payload).expect("a TCP header");
        let sum = tcp::ipv4_checksum(&seg, &ip.get_source(), &ip.get_destination());
        assert_eq!(sum, seg.get_checksum(), "frame {}: bad TCP checksum", i + 1);
        if seg.get_destination() != data_port {
            continue;
        }
        if seg.get_flags() & tcp::TcpFlags::SYN != 0 {
            isn = Some(seg.get_sequence());
        }
        // A retransmission may start where an earlier segment did and
        // carry fewer bytes: keep the longest.
        let p = seg.payload();
        if !p.is_empty() {
            let kept = segments.entry(seg.get_sequence()).or_default();
            if p.len() > kept.len() {
                *kept = p.to_vec();
            }
        }
    }
    let isn = isn.expect("the capture holds the SYN");
    let mut stream = Vec::new();
    let mut next = isn.wrapping_add(1);
    // Walk segments in stream order (sequence numbers relative to the ISN).
    let mut by_offset: Vec<(u32, Vec<u8>)> = segments
        .into_iter()
        .map(|(seq, p)| (seq.wrapping_sub(isn.wrapping_add(1)), p))
        .collect();
    by_offset.sort_by_key(|(o, _)| *o);
    for (off, p) in by_offset {
        let seq = isn.wrapping_add(1).wrapping_add(off);
        // Bytes of this segment already taken: none if it starts at
        // `next`; all of them if a retransmission re-cut the stream and an
        // earlier segment covers this one.
        let skip = next.wrapping_sub(seq) as i32;
        assert!(skip >= 0, "gap in the captured stream");
        let skip = skip as usize;
        if skip < p.len() {
            stream.extend_from_slice(&p[skip..]);
            next = next.wrapping_add((p.len() - skip) as u32);
        }
    }
    stream
}

pub fn tshark(args: &[&str]) -> String {
    let out = Command::new("tshark")
        .args(args)
        .output()
        .expect("tshark is installed (apt-get install tshark); .ci/run installs it");
    assert!(
        out.status.success(),
        "tshark {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Checks a capture with Wireshark's dissectors: no expert error, no
/// malformed frame, no bad checksum; the TCP payload of the frames matching
/// `filter` adds up to `bytes` and every one has a Good checksum.
pub fn check_capture(path: &Path, filter: &str, bytes: u64) {
    check_capture_from_kernel(path, filter, bytes, None)
}

/// [`check_capture`] for a capture with retransmissions: nothing flagged,
/// every data frame matching `filter` with a Good checksum, and their
/// sequence ranges (relative, as tshark numbers them) covering exactly the
/// first `bytes` of the stream. Summing the frames Wireshark does not call
/// retransmissions is not enough: after a timeout the sender may re-cut
/// the stream, and a segment that straddles the highest byte sent so far is
/// marked a retransmission though part of it is new.
pub fn check_capture_covers(path: &Path, filter: &str, bytes: u64) {
    let p = path.to_str().unwrap();
    assert_nothing_flagged(path, None);
    let mut args = vec!["-n", "-r", p];
    args.extend_from_slice(&CHECKS);
    let filter = format!("({filter}) && tcp.len > 0");
    args.extend_from_slice(&[
        "-Y",
        &filter,
        "-T",
        "fields",
        "-e",
        "tcp.seq",
        "-e",
        "tcp.len",
        "-e",
        "tcp.checksum.status",
    ]);
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    for line in tshark(&args).lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let (seq, len): (u64, u64) = (cols[0].parse().unwrap(), cols[1].parse().unwrap());
        assert_eq!(cols[2], "1", "{p}: checksum status not Good: {line}");
        ranges.push((seq, seq + len));
    }
    ranges.sort();
    // Relative sequence numbers: the first data byte is 1.
    let mut covered = 1;
    for (start, end) in ranges {
        assert!(start <= covered, "{p}: bytes {covered}..{start} never sent");
        covered = covered.max(end);
    }
    assert_eq!(covered - 1, bytes, "{p}: stream bytes covered by {filter}");
}

/// tshark's checksum checks on.
const CHECKS: [&str; 4] = [
    "-o",
    "tcp.check_checksum:TRUE",
    "-o",
    "ip.check_checksum:TRUE",
];

/// Wireshark flags no frame of a capture: no expert error, nothing
/// malformed, no bad checksum (but a `CSUM_MANGLED_0` from the kernel at
/// `kernel`, see [`check_capture_from_kernel`]).
pub fn assert_nothing_flagged(path: &Path, kernel: Option<&str>) {
    let p = path.to_str().unwrap();
    let mangled_zero = kernel.map(|k| format!("ip.src == {k} && tcp.checksum == 0xffff"));
    let mut flagged = "_ws.expert.severity == error || _ws.malformed || ip.checksum.status == \"Bad\" || tcp.checksum.status == \"Bad\"".to_string();
    if let Some(m) = &mangled_zero {
        flagged = format!("({flagged}) && !({m})");
    }
    let mut args = vec!["-n", "-r", p];
    args.extend_from_slice(&CHECKS);
    args.extend_from_slice(&["-Y", &flagged]);
    let bad = tshark(&args);
    assert!(bad.trim().is_empty(), "{p}: tshark flags frames:\n{bad}");
}

/// [`check_capture`] for a capture where the Linux kernel at `kernel` (an
/// IPv4 address) sent some of the frames. Its TCP checksum may read 0xffff
/// instead of 0x0000: `skb_checksum_help` writes `CSUM_MANGLED_0` for a zero
/// sum (RFC 1624: both are zero in one's complement), and Wireshark flags
/// it. Only that, and only from the kernel, is let through. Real hosts on
/// a loaded machine retransmit: segments Wireshark marks as retransmissions
/// are checked but not counted.
pub fn check_capture_from_kernel(path: &Path, filter: &str, bytes: u64, kernel: Option<&str>) {
    let p = path.to_str().unwrap();
    assert_nothing_flagged(path, kernel);
    // Every frame was dissected as Ethernet and the checksums were checked.
    let mut args = vec!["-n", "-r", p];
    args.extend_from_slice(&CHECKS);
    let filter = if kernel.is_some() {
        format!("({filter}) && tcp.len > 0 && !tcp.analysis.retransmission && !tcp.analysis.fast_retransmission && !tcp.analysis.spurious_retransmission")
    } else {
        format!("({filter}) && tcp.len > 0")
    };
    args.extend_from_slice(&[
        "-Y",
        &filter,
        "-T",
        "fields",
        "-e",
        "tcp.len",
        "-e",
        "tcp.checksum.status",
        "-e",
        "tcp.checksum",
        "-e",
        "ip.src",
    ]);
    let rows = tshark(&args);
    let mut total = 0u64;
    for line in rows.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        total += cols[0].parse::<u64>().unwrap();
        // tcp.checksum.status: 0 bad, 1 good, 2 unverified.
        let exempt = kernel == Some(cols[3]) && cols[2] == "0xffff";
        assert!(
            cols[1] == "1" || exempt,
            "{p}: checksum status not Good: {line}"
        );
    }
    assert_eq!(total, bytes, "{p}: TCP payload of {filter}");
}
