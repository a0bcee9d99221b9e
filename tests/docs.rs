//! The documents that show the binary's output say what it prints today:
//! `docs/glossary.md` is what `simnet explain --markdown` generates from the
//! model's tables.
//!
//! After a change that moves it, regenerate it with
//! `SIMNET_BLESS=1 cargo test --release --test docs` (or
//! `cargo run --release -- explain --markdown > docs/glossary.md`) and read
//! the diff.

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
