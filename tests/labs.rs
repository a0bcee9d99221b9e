//! The labs in docs/labs/ answer their questions with figures simnet (or
//! tshark, reading simnet's captures) prints; this test reruns every lab's
//! commands and checks each answer key against what they print now.
//!
//! An answer key is a fenced block with the info string `answer`, one
//! `key: value` per line:
//!
//! ```text
//! question: 2
//! command: ./target/release/simnet run scenarios/copy.toml --json --no-pcap
//! json: /hosts/sender/cpu_copy_bytes
//! expect: 68350108
//! ```
//!
//! `command` is a command line as the lab tells the student to type it (it
//! must appear in one of the lab's `sh` blocks): `./target/release/simnet`
//! (the binary under test) or `tshark`, and its arguments, split at spaces
//! outside single quotes, the quotes removed (`-Y 'frame.comment contains
//! "x"'` is one word). Every command runs in one temporary folder where
//! `scenarios/` and `docs/` are the repository's, so the captures and
//! sweeps the commands write land there, and each command line runs once
//! (later keys naming it read the same run). The figure is one of
//!
//! - `json:` a JSON pointer (RFC 6901) into the command's standard output;
//!   a string is compared without its quotes;
//! - `grep:` the first line of its standard output containing that text,
//!   trimmed; with `after:`, the first such line after the first line
//!   containing the `after` text;
//! - `csv:` a CSV file the command wrote (a path in that folder, such as a
//!   sweep's `sweeps/fast_link/sweep.csv`), with `row:` naming the one row
//!   whose cells match (`flow[0].send=write, flow[0].write_size=8KiB`:
//!   column=value pairs separated by commas, spaces around them ignored)
//!   and `column:` the column; the figure is the cell as written;
//! - `line:` N, the N-th line (from 1) of its standard output, trimmed;
//!   `count: lines`, how many lines its standard output has.
//!
//! `exit:` (optional) is the exit status the command must have. `needs:`
//! (optional) is another of the lab's command lines to run first, for a
//! command that reads what that one writes (tshark reading a capture).
//!
//! The answers whose command is tshark are checked by an ignored test
//! (`.ci/run` installs tshark and runs ignored tests), which fails loudly
//! where tshark is missing; the rest by the plain one.
//!
//! When a change to the model moves a figure, regenerate every key (those
//! of tshark too, so tshark must be installed) with
//! `SIMNET_BLESS=1 cargo test --release --test labs`, then read the diff
//! and the lab's prose around each changed key: the explanation may need
//! to change too.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// What the binary the labs call is called in their commands.
const PROGRAM: &str = "./target/release/simnet";

/// The programs an answer's command may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Program {
    Simnet,
    Tshark,
}

impl Program {
    fn of(words: &[String]) -> Option<Program> {
        match words.first().map(String::as_str) {
            Some(PROGRAM) => Some(Program::Simnet),
            Some("tshark") => Some(Program::Tshark),
            _ => None,
        }
    }
}

/// One answer key: its fields and the line of the file its `expect`
/// line is on (or where one goes: the closing fence).
struct Answer {
    fields: BTreeMap<String, String>,
    expect_line: usize,
    has_expect: bool,
    line: usize,
}

/// The answer blocks of a lab, and the lines of its `sh` blocks.
fn parse(text: &str) -> (Vec<Answer>, Vec<String>) {
    let lines: Vec<&str> = text.lines().collect();
    let mut answers = Vec::new();
    let mut shell = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let info = lines[i].strip_prefix("```").map(str::trim);
        let Some(info) = info else {
            i += 1;
            continue;
        };
        let close = (i + 1..lines.len())
            .find(|&j| lines[j].starts_with("```"))
            .unwrap_or_else(|| panic!("a fenced block opened at line {} is closed", i + 1));
        match info {
            "answer" => {
                let mut fields = BTreeMap::new();
                let mut expect_line = close;
                let mut has_expect = false;
                for (j, line) in lines.iter().enumerate().take(close).skip(i + 1) {
                    let (key, value) = line
                        .split_once(':')
                        .unwrap_or_else(|| panic!("line {}: `key: value`", j + 1));
                    let key = key.trim().to_string();
                    if key == "expect" {
                        expect_line = j;
                        has_expect = true;
                    }
                    fields.insert(key, value.trim().to_string());
                }
                answers.push(Answer {
                    fields,
                    expect_line,
                    has_expect,
                    line: i + 1,
                });
            }
            "sh" => shell.extend(lines[i + 1..close].iter().map(|l| l.trim().to_string())),
            _ => {}
        }
        i = close + 1;
    }
    (answers, shell)
}

/// The figure an answer names in what its command printed (`stdout`) or
/// wrote (in `dir`), or why there is none.
fn extract(answer: &Answer, stdout: &str, dir: &Path) -> Result<String, String> {
    let f = &answer.fields;
    if let Some(pointer) = f.get("json") {
        let v: serde_json::Value =
            serde_json::from_str(stdout).map_err(|e| format!("the output is not JSON: {e}"))?;
        let found = v
            .pointer(pointer)
            .ok_or_else(|| format!("the JSON has no {pointer}"))?;
        return Ok(match found {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        });
    }
    if let Some(needle) = f.get("grep") {
        let mut lines = stdout.lines();
        if let Some(after) = f.get("after") {
            lines
                .by_ref()
                .find(|l| l.contains(after.as_str()))
                .ok_or_else(|| format!("no line contains {after:?}"))?;
        }
        return lines
            .find(|l| l.contains(needle.as_str()))
            .map(|l| l.trim().to_string())
            .ok_or_else(|| format!("no line contains {needle:?}"));
    }
    if let Some(file) = f.get("csv") {
        let (Some(row), Some(column)) = (f.get("row"), f.get("column")) else {
            return Err("a csv: key needs row: and column:".into());
        };
        return csv_cell(&dir.join(file), row, column).map_err(|e| format!("{file}: {e}"));
    }
    if let Some(n) = f.get("line") {
        let n: usize = (n.parse().ok())
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("line: {n:?} is not a line number (from 1)"))?;
        return (stdout.lines().nth(n - 1))
            .map(|l| l.trim().to_string())
            .ok_or_else(|| format!("the output has {} lines, not {n}", stdout.lines().count()));
    }
    if let Some(what) = f.get("count") {
        return match what.as_str() {
            "lines" => Ok(stdout.lines().count().to_string()),
            _ => Err(format!("count: {what:?}: only `count: lines`")),
        };
    }
    Err("the key names no figure (json:, grep:, csv:, line: or count:)".into())
}

/// The cell in `column` of the one row of the CSV file at `path` whose
/// cells match `row` (`col=value, col=value`).
fn csv_cell(path: &Path, row: &str, column: &str) -> Result<String, String> {
    Ok(csv_row(path, row)?.get(column)?.to_string())
}

/// Where the commands run (a temporary folder with the repository's
/// `scenarios/` and `docs/`), what each command line printed, and how many
/// answers were checked.
struct Runs {
    dir: tempfile::TempDir,
    done: BTreeMap<String, (String, i32)>,
    checked: usize,
}

impl Runs {
    fn new() -> Runs {
        Runs {
            dir: repo_view(),
            done: BTreeMap::new(),
            checked: 0,
        }
    }

    /// The standard output and exit status of `line`, run once.
    fn run(&mut self, line: &str) -> (String, i32) {
        let dir = self.dir.path();
        let got = self.done.entry(line.to_string()).or_insert_with(|| {
            let w = words(line);
            let out = match Program::of(&w) {
                Some(Program::Simnet) => simnet_in(dir, &w[1..]),
                Some(Program::Tshark) => Command::new("tshark")
                    .args(&w[1..])
                    .current_dir(dir)
                    .output()
                    .unwrap_or_else(|e| {
                        panic!(
                            "cannot run `{line}` ({e}); a lab's tshark answers need tshark \
                             (apt-get install tshark; .ci/run installs it)"
                        )
                    }),
                None => unreachable!("checked before"),
            };
            (
                String::from_utf8_lossy(&out.stdout).into_owned(),
                out.status.code().unwrap_or(-1),
            )
        });
        got.clone()
    }
}

/// Checks the answers of the lab at `path` whose command runs `only` (every
/// answer with `None`); with `write`, rewrites their `expect` lines with
/// what the commands print instead. The failures, one line each.
fn check_lab(path: &Path, runs: &mut Runs, only: Option<Program>, write: bool) -> Vec<String> {
    let name = path.strip_prefix(root()).unwrap().display().to_string();
    let text = std::fs::read_to_string(path).unwrap();
    let (answers, shell) = parse(&text);
    let mut failures = Vec::new();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut inserted = 0;
    assert!(!answers.is_empty(), "{name} has no answer blocks");
    for a in &answers {
        let question = a.fields.get("question").cloned().unwrap_or_default();
        let here = format!(
            "{name}, question {question} (answer block at line {})",
            a.line
        );
        let Some(command) = a.fields.get("command") else {
            failures.push(format!("{here}: no command"));
            continue;
        };
        let Some(program) = Program::of(&words(command)) else {
            failures.push(format!("{here}: a command starts with {PROGRAM} or tshark"));
            continue;
        };
        if only.is_some_and(|p| p != program) {
            continue;
        }
        let needs = a.fields.get("needs");
        for c in [Some(command), needs].into_iter().flatten() {
            if !shell.iter().any(|l| l == c) {
                failures.push(format!(
                    "{here}: `{c}` is not one of the lab's commands (its sh blocks)"
                ));
            }
        }
        if let Some(first) = needs {
            if Program::of(&words(first)).is_none() {
                failures.push(format!(
                    "{here}: needs: `{first}` is not a simnet or tshark command"
                ));
                continue;
            }
            runs.run(first);
        }
        let (stdout, status) = runs.run(command);
        runs.checked += 1;
        if let Some(exit) = a.fields.get("exit") {
            if exit != &status.to_string() {
                failures.push(format!(
                    "{here}: `{command}` exited with {status}, the lab says {exit}"
                ));
            }
        }
        let got = match extract(a, &stdout, runs.dir.path()) {
            Ok(got) => got,
            Err(e) => {
                failures.push(format!("{here}: `{command}`: {e}"));
                continue;
            }
        };
        let expect = a.fields.get("expect");
        if write {
            let line = format!("expect: {got}");
            if a.has_expect {
                lines[a.expect_line + inserted] = line;
            } else {
                lines.insert(a.expect_line + inserted, line);
                inserted += 1;
            }
        } else if expect != Some(&got) {
            let f = &a.fields;
            let what = (f.get("json").map(|p| format!("JSON {p}")))
                .or_else(|| f.get("grep").map(|g| format!("the line with {g:?}")))
                .or_else(|| {
                    (f.get("csv")).map(|c| {
                        let col = f.get("column").map_or("", String::as_str);
                        let row = f.get("row").map_or("", String::as_str);
                        format!("{c}, column {col} of the row {row}")
                    })
                })
                .or_else(|| f.get("line").map(|n| format!("line {n}")))
                .or_else(|| f.get("count").map(|c| format!("the count of {c}")))
                .unwrap_or_default();
            failures.push(format!(
                "{here}: `{command}`, {what}: the answer key says {:?}, the command now prints {got:?}",
                expect.map(String::as_str).unwrap_or("(nothing)")
            ));
        }
    }
    if write {
        std::fs::write(path, lines.join("\n") + "\n").unwrap();
    }
    failures
}

/// The labs, in order.
fn labs() -> Vec<std::path::PathBuf> {
    let dir = root().join("docs/labs");
    let mut labs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md") && !p.ends_with("README.md"))
        .collect();
    labs.sort();
    assert!(labs.len() >= 5, "docs/labs has {} labs", labs.len());
    labs
}

fn assert_none(failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} answer keys no longer match what the commands print:\n  {}\n\
         If the change is meant, regenerate the keys (tshark's too) with\n  \
         SIMNET_BLESS=1 cargo test --release --test labs\n\
         and reread each lab's explanation around the keys that changed.",
        failures.len(),
        failures.join("\n  ")
    );
}

/// Every answer but tshark's; with SIMNET_BLESS=1, regenerates every key,
/// tshark's too (this test alone writes the labs).
#[test]
fn every_lab_answer_key_matches_what_simnet_prints() {
    let mut runs = Runs::new();
    let only = (!bless()).then_some(Program::Simnet);
    let failures = (labs().iter())
        .flat_map(|p| check_lab(p, &mut runs, only, bless()))
        .collect();
    assert_none(failures);
}

#[test]
#[ignore = "needs tshark; .ci/run installs it and runs ignored tests"]
fn every_lab_tshark_answer_matches_what_tshark_prints() {
    let mut runs = Runs::new();
    let failures: Vec<String> = (labs().iter())
        .flat_map(|p| check_lab(p, &mut runs, Some(Program::Tshark), false))
        .collect();
    assert_none(failures);
    assert!(runs.checked > 0, "no lab has a tshark answer");
}

#[test]
fn the_parser_reads_keys_and_shell_lines() {
    let text = "x\n```sh\n./target/release/simnet run a.toml\n```\n```answer\nquestion: 1\n\
                command: ./target/release/simnet run a.toml\njson: /a/b\nexpect: 3\n```\n";
    let (answers, shell) = parse(text);
    assert_eq!(shell, ["./target/release/simnet run a.toml"]);
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].fields["json"], "/a/b");
    assert_eq!(answers[0].expect_line, 8);
    let dir = tempfile::tempdir().unwrap();
    let out = r#"{"a": {"b": 3}}"#;
    assert_eq!(extract(&answers[0], out, dir.path()).unwrap(), "3");
    let key = |pairs: &[(&str, &str)]| Answer {
        fields: (pairs.iter())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        expect_line: 0,
        has_expect: false,
        line: 1,
    };
    let grep = key(&[("grep", "copies"), ("after", "host b")]);
    let out = "host a\n  copies 1\nhost b\n  copies 2\n";
    assert_eq!(extract(&grep, out, dir.path()).unwrap(), "copies 2");
    assert_eq!(
        extract(&key(&[("line", "2")]), out, dir.path()).unwrap(),
        "copies 1"
    );
    assert_eq!(
        extract(&key(&[("count", "lines")]), out, dir.path()).unwrap(),
        "4"
    );
    assert!(extract(&key(&[("line", "5")]), out, dir.path()).is_err());
    std::fs::write(
        dir.path().join("s.csv"),
        "send,size,outcome,bps\nwrite,1KiB,ok,10\nzc,1KiB,ok,7\nwrite,8KiB,ok,50\n",
    )
    .unwrap();
    let cell = |row: &str, col: &str| {
        extract(
            &key(&[("csv", "s.csv"), ("row", row), ("column", col)]),
            "",
            dir.path(),
        )
    };
    assert_eq!(cell("send=zc, size=1KiB", "bps").unwrap(), "7");
    assert_eq!(cell("send=zc,size=1KiB", "bps").unwrap(), "7");
    assert_eq!(cell("size=8KiB", "send").unwrap(), "write");
    assert!(cell("size=1KiB", "bps")
        .unwrap_err()
        .contains("2 rows match"));
    assert!(cell("speed=1", "bps").unwrap_err().contains("no column"));
    assert_eq!(
        words("tshark -r a.pcapng -Y 'frame.comment contains \"x y\"' -T fields"),
        [
            "tshark",
            "-r",
            "a.pcapng",
            "-Y",
            "frame.comment contains \"x y\"",
            "-T",
            "fields"
        ]
    );
    assert_eq!(words("a --set 'k=v'  b"), ["a", "--set", "k=v", "b"]);
}
