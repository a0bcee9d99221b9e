//! The labs in docs/labs/ answer their questions with figures simnet
//! prints; this test reruns every lab's commands and checks each answer
//! key against what the binary prints now.
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
//! `command` is a simnet command line as the lab tells the student to type
//! it (it must appear in one of the lab's `sh` blocks), run from the
//! repository's root; words are split at spaces and single quotes removed
//! (a word may be quoted for the shell, none may hold a space). The figure is
//! either `json:` (a JSON pointer, RFC 6901, into its standard output; a
//! string is compared without its quotes) or `grep:` (the first line of
//! its standard output containing that text, trimmed; with `after:`, the
//! first such line after the first line containing the `after` text).
//! `exit:` (optional) is the exit status the command must have.
//!
//! When a change to the model moves a figure, regenerate every key with
//! `SIMNET_BLESS=1 cargo test --release --test labs`, then read the diff
//! and the lab's prose around each changed key: the explanation may need
//! to change too.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::path::Path;

fn bless() -> bool {
    std::env::var_os("SIMNET_BLESS").is_some_and(|v| v == "1")
}

/// What the binary the labs call is called in their commands.
const PROGRAM: &str = "./target/release/simnet";

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

/// The figure an answer names in a command's output, or why there is none.
fn extract(answer: &Answer, stdout: &str) -> Result<String, String> {
    if let Some(pointer) = answer.fields.get("json") {
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
    if let Some(needle) = answer.fields.get("grep") {
        let mut lines = stdout.lines();
        if let Some(after) = answer.fields.get("after") {
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
    Err("the key names no figure (json: or grep:)".into())
}

fn check_lab(path: &Path, cache: &mut BTreeMap<String, (String, i32)>) -> Vec<String> {
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
        if !shell.iter().any(|l| l == command) {
            failures.push(format!(
                "{here}: `{command}` is not one of the lab's commands (its sh blocks)"
            ));
        }
        let words: Vec<String> = command
            .split_whitespace()
            .map(|w| w.replace('\'', ""))
            .collect();
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        if words.first() != Some(&PROGRAM) {
            failures.push(format!("{here}: a command starts with {PROGRAM}"));
            continue;
        }
        let (stdout, status) = cache
            .entry(command.clone())
            .or_insert_with(|| {
                let out = simnet(&words[1..]);
                (
                    String::from_utf8_lossy(&out.stdout).into_owned(),
                    out.status.code().unwrap_or(-1),
                )
            })
            .clone();
        if let Some(exit) = a.fields.get("exit") {
            if exit != &status.to_string() {
                failures.push(format!(
                    "{here}: `{command}` exited with {status}, the lab says {exit}"
                ));
            }
        }
        let got = match extract(a, &stdout) {
            Ok(got) => got,
            Err(e) => {
                failures.push(format!("{here}: `{command}`: {e}"));
                continue;
            }
        };
        let expect = a.fields.get("expect");
        if bless() {
            let line = format!("expect: {got}");
            if a.has_expect {
                lines[a.expect_line + inserted] = line;
            } else {
                lines.insert(a.expect_line + inserted, line);
                inserted += 1;
            }
        } else if expect != Some(&got) {
            let what = (a.fields.get("json"))
                .map(|p| format!("JSON {p}"))
                .or_else(|| a.fields.get("grep").map(|g| format!("the line with {g:?}")))
                .unwrap_or_default();
            failures.push(format!(
                "{here}: `{command}`, {what}: the answer key says {:?}, the binary now prints {got:?}",
                expect.map(String::as_str).unwrap_or("(nothing)")
            ));
        }
    }
    if bless() {
        std::fs::write(path, lines.join("\n") + "\n").unwrap();
    }
    failures
}

#[test]
fn every_lab_answer_key_matches_what_simnet_prints() {
    let dir = root().join("docs/labs");
    let mut labs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md") && !p.ends_with("README.md"))
        .collect();
    labs.sort();
    assert!(labs.len() >= 5, "docs/labs has {} labs", labs.len());
    let mut cache = BTreeMap::new();
    let failures: Vec<String> = labs.iter().flat_map(|p| check_lab(p, &mut cache)).collect();
    assert!(
        failures.is_empty(),
        "{} answer keys no longer match simnet's output:\n  {}\n\
         If the change is meant, regenerate the keys with\n  \
         SIMNET_BLESS=1 cargo test --release --test labs\n\
         and reread each lab's explanation around the keys that changed.",
        failures.len(),
        failures.join("\n  ")
    );
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
    let out = r#"{"a": {"b": 3}}"#;
    assert_eq!(extract(&answers[0], out).unwrap(), "3");
    let grep = Answer {
        fields: [("grep", "copies"), ("after", "host b")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        expect_line: 0,
        has_expect: false,
        line: 1,
    };
    let out = "host a\n  copies 1\nhost b\n  copies 2\n";
    assert_eq!(extract(&grep, out).unwrap(), "copies 2");
}
