//! The documents that show the binary's output say what it prints today:
//! `docs/glossary.md` is what `simnet explain --markdown` generates from the
//! model's tables, the report in README.md ("What the report says") is
//! what `cargo run --release -- run scenarios/zero_copy.toml` prints, line
//! for line, and the chain in "The journey of one buffer" is the end of
//! what `simnet trace scenarios/zero_copy.toml --buffer 3` prints.
//!
//! After a change that moves them, regenerate both with
//! `SIMNET_BLESS=1 cargo test --release --test docs` (or the glossary alone
//! with `cargo run --release -- explain --markdown > docs/glossary.md`) and
//! read the diff.

mod common;

use common::*;

/// Whether the run should rewrite the documents instead of checking them.
fn bless() -> bool {
    std::env::var_os("SIMNET_BLESS").is_some_and(|v| v == "1")
}

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

/// The block of README.md that follows `after` (a line of the file): its
/// line range (the lines between the fences) in the file's lines.
fn readme_block(readme: &str, after: &str) -> std::ops::Range<usize> {
    let lines: Vec<&str> = readme.lines().collect();
    let section = (lines.iter())
        .position(|l| l.starts_with(after))
        .unwrap_or_else(|| panic!("README.md has a line {after:?}"));
    let open = (section..lines.len())
        .find(|&i| lines[i] == "```")
        .expect("a fenced block after it");
    let close = (open + 1..lines.len())
        .find(|&i| lines[i].starts_with("```"))
        .expect("the block is closed");
    open + 1..close
}

#[test]
fn the_readme_report_is_what_the_binary_prints() {
    // As the quick start runs it: from the repository's root, captures in
    // captures/zero_copy (here a temporary folder stands in for the root).
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("scenarios")).unwrap();
    std::fs::copy(
        root().join("scenarios/zero_copy.toml"),
        dir.path().join("scenarios/zero_copy.toml"),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_simnet"))
        .args(["run", "scenarios/zero_copy.toml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    let path = root().join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let block = readme_block(&readme, "## What the report says");
    let lines: Vec<&str> = readme.lines().collect();
    if bless() {
        let mut text: Vec<&str> = lines[..block.start].to_vec();
        text.extend(printed.lines());
        text.extend(&lines[block.end..]);
        std::fs::write(&path, text.join("\n") + "\n").unwrap();
        return;
    }
    let shown = &lines[block];
    let printed: Vec<&str> = printed.lines().collect();
    for (i, (a, b)) in shown.iter().zip(&printed).enumerate() {
        assert_eq!(
            a,
            b,
            "README.md's report differs from the binary's at its line {}; regenerate it \
             with SIMNET_BLESS=1 cargo test --release --test docs",
            i + 1
        );
    }
    assert_eq!(
        shown.len(),
        printed.len(),
        "README.md's report and the binary's differ in length"
    );
}

#[test]
fn the_readme_trace_chain_is_what_the_binary_prints() {
    let out = simnet(&[
        "trace",
        "scenarios/zero_copy.toml",
        "--buffer",
        "3",
        "--no-pcap",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    // The use's summary: from its heading to the outcome line.
    let printed: Vec<&str> = printed
        .lines()
        .skip_while(|l| !l.starts_with("use 0 (stream bytes"))
        .take_while(|l| !l.starts_with("outcome "))
        .collect();
    assert!(printed.len() > 5, "{printed:?}");
    let path = root().join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let block = readme_block(&readme, "stayed pinned. For `scenarios/zero_copy.toml`");
    let lines: Vec<&str> = readme.lines().collect();
    if bless() {
        let mut text: Vec<&str> = lines[..block.start].to_vec();
        text.extend(&printed);
        text.extend(&lines[block.end..]);
        std::fs::write(&path, text.join("\n") + "\n").unwrap();
        return;
    }
    assert_eq!(
        &lines[block],
        &printed[..],
        "README.md's trace chain differs from the binary's; regenerate it with \
         SIMNET_BLESS=1 cargo test --release --test docs"
    );
}
