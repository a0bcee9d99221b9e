//! The documents that show the binary's output say what it prints today:
//! `docs/glossary.md` is what `simnet explain --markdown` generates from the
//! model's tables, and every example output in README.md and docs/ is what
//! the command it names prints, line for line.
//!
//! An output block is a fenced block with no info string, right after a
//! comment naming the command (blank lines between are allowed):
//!
//! ```text
//! <!-- output: simnet trace scenarios/zero_copy.toml --buffer 3 | from use 0 | before outcome -->
//! ```
//!
//! The command is `simnet` and its arguments (split at spaces outside
//! single quotes, the quotes removed, as sh reads the README's commands:
//! `--set 'a=b c'` is one argument), run from a folder where `scenarios/` and `docs/` are
//! the repository's, so that the captures it writes land in a temporary
//! folder; what follows `|` picks part of the output: `stderr` (instead of
//! standard output), `from TEXT` (from the first line that starts with
//! TEXT), `before TEXT` (up to the first line after that which starts
//! with TEXT), `lines A-B` (lines A to B, from 1, of what is left). Every
//! fenced block without an info string must be such a block: a block that
//! is not output says what it is (`text`, `sh`, `toml`, `json`).
//!
//! After a change that moves them, regenerate every output block and the
//! glossary with `SIMNET_BLESS=1 cargo test --release --test docs` (or the
//! glossary alone with `cargo run --release -- explain --markdown >
//! docs/glossary.md`) and read the diff.

mod common;

use common::*;

#[test]
fn the_glossary_is_what_the_code_generates() {
    let out = simnet(&["explain", "--markdown"]);
    assert!(out.status.success());
    let generated = String::from_utf8(out.stdout).unwrap();
    let path = root().join("docs/glossary.md");
    if bless() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/glossary.md differs from what the steps table generates; regenerate it:\n  \
         cargo run --release -- explain --markdown > docs/glossary.md"
    );
}

/// The documents whose output blocks are checked: README.md and every
/// Markdown file under docs/ but the generated glossary.
fn documents() -> Vec<std::path::PathBuf> {
    let mut out = vec![root().join("README.md")];
    let mut dirs = vec![root().join("docs")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "md")
                && !path.ends_with("docs/glossary.md")
            {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// One output block: the command its comment names, what of the output it
/// shows, and where it is (0-based lines of its file).
#[derive(Debug)]
struct OutputBlock {
    comment_line: usize,
    args: Vec<String>,
    stderr: bool,
    from: Option<String>,
    before: Option<String>,
    lines: Option<(usize, usize)>,
    /// The lines between the fences.
    body: std::ops::Range<usize>,
}

/// Reads `<!-- output: simnet ARGS | SELECTOR ... -->`.
fn parse_comment(comment: &str) -> Result<OutputBlock, String> {
    let inner = comment
        .trim()
        .strip_prefix("<!-- output:")
        .and_then(|c| c.strip_suffix("-->"))
        .ok_or("not `<!-- output: COMMAND -->`")?;
    let mut parts = inner.split(" | ");
    let command = parts.next().unwrap_or_default();
    let mut words = words(command).into_iter();
    if words.next().as_deref() != Some("simnet") {
        return Err(format!(
            "the command {command:?} does not start with `simnet`"
        ));
    }
    let mut block = OutputBlock {
        comment_line: 0,
        args: words.collect(),
        stderr: false,
        from: None,
        before: None,
        lines: None,
        body: 0..0,
    };
    for part in parts {
        let part = part.trim();
        if part == "stderr" {
            block.stderr = true;
        } else if let Some(t) = part.strip_prefix("from ") {
            block.from = Some(t.to_string());
        } else if let Some(t) = part.strip_prefix("before ") {
            block.before = Some(t.to_string());
        } else if let Some(range) = part.strip_prefix("lines ") {
            let (a, b) = range.split_once('-').ok_or("`lines A-B`")?;
            let n = |x: &str| x.trim().parse::<usize>().map_err(|e| format!("{x:?}: {e}"));
            block.lines = Some((n(a)?, n(b)?));
        } else {
            return Err(format!("unknown selector {part:?}"));
        }
    }
    Ok(block)
}

/// The output blocks of a document, or what is wrong with its blocks.
fn output_blocks(text: &str) -> Result<Vec<OutputBlock>, Vec<String>> {
    let lines: Vec<&str> = text.lines().collect();
    let mut blocks = Vec::new();
    let mut errors = Vec::new();
    let mut pending: Option<OutputBlock> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.trim_start().starts_with("<!-- output:") {
            match parse_comment(line) {
                Ok(mut b) => {
                    b.comment_line = i;
                    pending = Some(b);
                }
                Err(e) => errors.push(format!("line {}: {e}", i + 1)),
            }
        } else if let Some(info) = line.strip_prefix("```") {
            let close = (i + 1..lines.len()).find(|&j| lines[j].starts_with("```"));
            let Some(close) = close else {
                errors.push(format!(
                    "line {}: a fenced block that is never closed",
                    i + 1
                ));
                break;
            };
            match (info.trim().is_empty(), pending.take()) {
                (true, Some(mut b)) => {
                    b.body = i + 1..close;
                    blocks.push(b);
                }
                (true, None) => errors.push(format!(
                    "line {}: a fenced block with no info string and no \
                     `<!-- output: simnet ... -->` before it: name the command that prints it, \
                     or say what it is (```text) if it is not output",
                    i + 1
                )),
                (false, Some(b)) => errors.push(format!(
                    "line {}: the output comment is followed by a ```{} block, not a bare one",
                    b.comment_line + 1,
                    info.trim()
                )),
                (false, None) => {}
            }
            i = close;
        } else if !line.trim().is_empty() {
            if let Some(b) = pending.take() {
                errors.push(format!(
                    "line {}: the output comment is not followed by a fenced block",
                    b.comment_line + 1
                ));
            }
        }
        i += 1;
    }
    if let Some(b) = pending {
        errors.push(format!(
            "line {}: an output comment at the end",
            b.comment_line + 1
        ));
    }
    if errors.is_empty() {
        Ok(blocks)
    } else {
        Err(errors)
    }
}

/// What the block's command prints, cut as its selectors say.
fn printed(block: &OutputBlock, cwd: &std::path::Path) -> Result<Vec<String>, String> {
    let out = simnet_in(cwd, &block.args);
    let text = if block.stderr {
        &out.stderr
    } else {
        &out.stdout
    };
    let text = String::from_utf8_lossy(text);
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if let Some(from) = &block.from {
        let start = (lines.iter().position(|l| l.starts_with(from.as_str())))
            .ok_or_else(|| format!("no line of the output starts with {from:?}"))?;
        lines.drain(..start);
    }
    if let Some(before) = &block.before {
        let end = (lines
            .iter()
            .skip(1)
            .position(|l| l.starts_with(before.as_str())))
        .ok_or_else(|| format!("no line of the output starts with {before:?}"))?;
        lines.truncate(end + 1);
    }
    if let Some((a, b)) = block.lines {
        if a == 0 || b < a || b > lines.len() {
            return Err(format!(
                "lines {a}-{b} of an output of {} lines",
                lines.len()
            ));
        }
        lines = lines[a - 1..b].to_vec();
    }
    if lines.is_empty() {
        return Err("the command printed nothing there".into());
    }
    Ok(lines)
}

#[test]
fn every_output_block_is_what_the_binary_prints() {
    // The commands run as from the repository's root, but write their
    // captures into a temporary folder.
    let dir = repo_view();
    let mut failures = Vec::new();
    let mut checked = 0;
    for path in documents() {
        let name = path.strip_prefix(root()).unwrap().display().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let blocks = match output_blocks(&text) {
            Ok(b) => b,
            Err(errors) => {
                failures.extend(errors.into_iter().map(|e| format!("{name}: {e}")));
                continue;
            }
        };
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        // From the last block up, so that a blessed block's new length does
        // not move the ones before it.
        for block in blocks.iter().rev() {
            checked += 1;
            let here = format!("{name}:{}", block.comment_line + 1);
            let now = match printed(block, dir.path()) {
                Ok(now) => now,
                Err(e) => {
                    failures.push(format!("{here}: simnet {}: {e}", block.args.join(" ")));
                    continue;
                }
            };
            let shown = &lines[block.body.clone()];
            if bless() {
                lines.splice(block.body.clone(), now);
            } else if shown != now.as_slice() {
                let at = (shown.iter().zip(&now))
                    .position(|(a, b)| a != b)
                    .unwrap_or(shown.len().min(now.len()));
                failures.push(format!(
                    "{here}: the block shows {} lines, `simnet {}` prints {}; first difference \
                     at its line {}:\n      shown:   {:?}\n      printed: {:?}",
                    shown.len(),
                    block.args.join(" "),
                    now.len(),
                    at + 1,
                    shown.get(at).map(String::as_str).unwrap_or("(nothing)"),
                    now.get(at).map(String::as_str).unwrap_or("(nothing)"),
                ));
            }
        }
        if bless() {
            std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        }
    }
    assert!(
        failures.is_empty(),
        "{} output blocks differ from what simnet prints:\n  {}\n\
         Regenerate them with SIMNET_BLESS=1 cargo test --release --test docs and read the diff.",
        failures.len(),
        failures.join("\n  ")
    );
    assert!(checked >= 5, "only {checked} output blocks found");
}

#[test]
fn output_comments_are_read() {
    let b = parse_comment(
        "<!-- output: simnet trace 'a.toml' --buffer 3 | from use 0 | before outcome -->",
    )
    .unwrap();
    assert_eq!(b.args, ["trace", "a.toml", "--buffer", "3"]);
    assert_eq!(b.from.as_deref(), Some("use 0"));
    assert_eq!(b.before.as_deref(), Some("outcome"));
    let b = parse_comment("<!-- output: simnet run x --set 'flow[0].send=\"write\"' -->").unwrap();
    assert_eq!(b.args, ["run", "x", "--set", "flow[0].send=\"write\""]);
    let b = parse_comment("<!-- output: simnet run 'a b.toml' -->").unwrap();
    assert_eq!(b.args, ["run", "a b.toml"]);
    let b = parse_comment("<!-- output: simnet run x | stderr | lines 2-3 -->").unwrap();
    assert!(b.stderr);
    assert_eq!(b.lines, Some((2, 3)));
    assert!(parse_comment("<!-- output: ls -->").is_err());
    let text = "<!-- output: simnet run x -->\n\n```\na\n```\n```text\nb\n```\n```\nc\n```\n";
    let errors = output_blocks(text).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("line 9:"), "{errors:?}");
}

#[test]
fn csv_figures_are_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("s.csv"),
        "send,size,outcome,ns,bytes\nwrite,1KiB,ok,1234567,4096\nzc,1KiB,ok,999,4096\n",
    )
    .unwrap();
    let check = |spec: &str, figure: &str| csv_figure(dir.path(), spec, figure);
    assert!(check("s.csv send=write,size=1KiB ns", "1,234,567").is_ok());
    assert!(check("s.csv send=write,size=1KiB outcome", "ok").is_ok());
    assert!(check("s.csv send=write ns/bytes", "301.408").is_ok());
    assert!(check("s.csv send=write ns/bytes", "301.41").is_ok());
    assert!(check("s.csv send=write ns/1e3", "1234.6").is_ok());
    let e = check("s.csv send=zc ns/bytes", "0.3").unwrap_err();
    assert!(e.contains("is 0.2"), "{e}");
    assert!(check("s.csv size=1KiB ns", "999")
        .unwrap_err()
        .contains("2 rows"));
    assert!(check("s.csv send=zc speed", "1")
        .unwrap_err()
        .contains("no column"));
}

/// Whether every key of `sketch` (an example's JSON, with made-up values)
/// is in one of `actual` at the same place: objects key by key (a key
/// `"..."` stands for the rest), each element of an array like some
/// element of theirs, a value of the same type or `null`. The path of the
/// first key that is not, if any.
fn shape_mismatch(
    sketch: &serde_json::Value,
    actual: &[&serde_json::Value],
    at: &str,
) -> Option<String> {
    use serde_json::Value;
    match sketch {
        Value::Object(map) => {
            let objects: Vec<&serde_json::Map<String, Value>> =
                actual.iter().filter_map(|v| v.as_object()).collect();
            if objects.is_empty() {
                return Some(format!("{at} (not an object in the output)"));
            }
            for (key, value) in map {
                if key == "..." {
                    continue;
                }
                let here: Vec<&Value> = objects.iter().filter_map(|o| o.get(key)).collect();
                if here.is_empty() {
                    return Some(format!("{at}/{key}"));
                }
                if let Some(m) = shape_mismatch(value, &here, &format!("{at}/{key}")) {
                    return Some(m);
                }
            }
            None
        }
        Value::Array(items) => {
            let elements: Vec<&Value> = (actual.iter().filter_map(|v| v.as_array()))
                .flatten()
                .collect();
            if !items.is_empty() && elements.is_empty() && !actual.iter().any(|v| v.is_null()) {
                return Some(format!("{at} (no elements in the output)"));
            }
            (items.iter().enumerate())
                .find_map(|(i, item)| shape_mismatch(item, &elements, &format!("{at}/{i}")))
        }
        scalar => {
            let same = |v: &&&Value| {
                v.is_null()
                    || scalar.is_null()
                    || std::mem::discriminant(**v) == std::mem::discriminant(scalar)
            };
            if actual.iter().any(|v| same(&v)) {
                None
            } else {
                Some(format!("{at} (another type in the output)"))
            }
        }
    }
}

/// The JSON examples of docs/scenario.md show real field names: a ```json
/// block after `<!-- shape: simnet ARGS; simnet ARGS -->` has no key that
/// none of those commands' JSON has at that place (its values are
/// placeholders, so only the names are checked). ARGS are split as an
/// output comment's are (single quotes group).
#[test]
fn every_json_example_names_real_fields() {
    let dir = repo_view();
    let mut checked = 0;
    let mut failures = Vec::new();
    for path in documents() {
        let name = path.strip_prefix(root()).unwrap().display().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let Some(commands) =
                (line.trim().strip_prefix("<!-- shape:")).and_then(|c| c.strip_suffix("-->"))
            else {
                continue;
            };
            let open = (i + 1..lines.len()).find(|&j| !lines[j].trim().is_empty());
            let Some(open) = open.filter(|&j| lines[j] == "```json") else {
                failures.push(format!(
                    "{name}:{}: a shape comment not before ```json",
                    i + 1
                ));
                continue;
            };
            let close = (open + 1..lines.len())
                .find(|&j| lines[j].starts_with("```"))
                .expect("closed");
            let sketch: serde_json::Value =
                serde_json::from_str(&lines[open + 1..close].join("\n")).unwrap_or_else(|e| {
                    panic!("{name}:{}: the example is not JSON: {e}", open + 1)
                });
            let outputs: Vec<serde_json::Value> = (commands.split(';'))
                .map(|c| {
                    let words = words(c);
                    assert_eq!(
                        words.first().map(String::as_str),
                        Some("simnet"),
                        "{name}:{}",
                        i + 1
                    );
                    let out = simnet_in(dir.path(), &words[1..]);
                    serde_json::from_slice(&out.stdout)
                        .unwrap_or_else(|e| panic!("{name}:{}: {c} prints no JSON: {e}", i + 1))
                })
                .collect();
            let actual: Vec<&serde_json::Value> = outputs.iter().collect();
            checked += 1;
            if let Some(path) = shape_mismatch(&sketch, &actual, "") {
                failures.push(format!(
                    "{name}:{}: the example has {path}, which the JSON of `{}` lacks",
                    open + 1,
                    commands.trim()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 2, "only {checked} JSON examples found");
}

/// A figure from a CSV file a command wrote (a sweep's): `FILE ROW
/// COLUMN`, ROW the one row whose cells match `col=value,col=value`,
/// COLUMN a column or `COLUMN/DIVISOR` (DIVISOR a column or a number: the
/// ratio). The cell as written, or the number rounded to as many decimals
/// as the figure shows, must be the figure (separators aside).
fn csv_figure(dir: &std::path::Path, spec: &str, figure: &str) -> Result<(), String> {
    let [file, row, column] = spec.split_whitespace().collect::<Vec<_>>()[..] else {
        return Err(format!("`csv FILE ROW COLUMN`, found {spec:?}"));
    };
    let rec = csv_row(&dir.join(file), row).map_err(|e| format!("{file}: {e}"))?;
    let cell = |name: &str| rec.get(name).map_err(|e| format!("{file}: {e}"));
    let number = |name: &str| -> Result<f64, String> {
        let cell = cell(name)?;
        cell.parse()
            .map_err(|_| format!("{name} is {cell:?}, not a number"))
    };
    let quoted = figure.replace(',', "");
    let now = match column.split_once('/') {
        None if quoted.parse::<f64>().is_err() => cell(column)?.to_string(),
        split => {
            let (a, per) = split.unwrap_or((column, "1"));
            let per = per.parse::<f64>().or_else(|_| number(per))?;
            let decimals = quoted.split_once('.').map_or(0, |(_, d)| d.len());
            format!("{:.*}", decimals, number(a)? / per)
        }
    };
    (now == quoted)
        .then_some(())
        .ok_or(format!("{column} of the row {row} is {now}"))
}

/// A figure quoted in prose, after
/// `<!-- figure: 22,998 | simnet ARGS | json /POINTER -->` (the JSON value
/// there, separators aside), `... | grep TEXT -->` (the first line of
/// the output containing TEXT contains the figure) or `... | csv FILE ROW
/// COLUMN -->` (a cell of a CSV file the command wrote, see
/// [`csv_figure`]): what the command prints now, and quoted in the 30
/// lines after the comment. ARGS are split as an output comment's are
/// (single quotes group). Each command line runs once.
#[test]
fn every_marked_prose_figure_is_what_the_binary_prints() {
    let dir = repo_view();
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut ran = std::collections::HashMap::new();
    for path in documents() {
        let name = path.strip_prefix(root()).unwrap().display().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let Some(inner) =
                (line.trim().strip_prefix("<!-- figure:")).and_then(|c| c.strip_suffix("-->"))
            else {
                continue;
            };
            let here = format!("{name}:{}", i + 1);
            let parts: Vec<&str> = inner.split(" | ").map(str::trim).collect();
            let [figure, command, select] = parts[..] else {
                failures.push(format!(
                    "{here}: `<!-- figure: F | simnet ARGS | json P -->`"
                ));
                continue;
            };
            checked += 1;
            let after = lines[i + 1..(i + 31).min(lines.len())].join(" ");
            if !after.contains(figure) {
                failures.push(format!(
                    "{here}: {figure} is not quoted in the 30 lines after"
                ));
            }
            let words = words(command);
            assert_eq!(words.first().map(String::as_str), Some("simnet"), "{here}");
            let stdout = ran.entry(command.to_string()).or_insert_with(|| {
                let out = simnet_in(dir.path(), &words[1..]);
                String::from_utf8_lossy(&out.stdout).into_owned()
            });
            let now = if let Some(pointer) = select.strip_prefix("json ") {
                let v: serde_json::Value = serde_json::from_str(stdout).unwrap_or_default();
                let value = v.pointer(pointer).map(|v| v.to_string());
                (value.as_deref() == Some(&figure.replace(',', "")))
                    .then_some(())
                    .ok_or(format!(
                        "{pointer} is {}",
                        value.unwrap_or("missing".into())
                    ))
            } else if let Some(needle) = select.strip_prefix("grep ") {
                let found = stdout.lines().find(|l| l.contains(needle));
                (found.is_some_and(|l| l.contains(figure)))
                    .then_some(())
                    .ok_or(format!(
                        "the line is {:?}",
                        found.unwrap_or("missing").trim()
                    ))
            } else if let Some(spec) = select.strip_prefix("csv ") {
                csv_figure(dir.path(), spec, figure)
            } else {
                Err(format!("unknown selector {select:?}"))
            };
            if let Err(e) = now {
                failures.push(format!(
                    "{here}: the prose says {figure}, `{command}` prints otherwise: {e}; \
                     correct the prose (no regeneration does it)"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 3, "only {checked} figures marked");
}
