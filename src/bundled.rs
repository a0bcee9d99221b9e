//! The scenarios bundled into the binary (`scenarios/*.toml`, every one,
//! listed by `build.rs`), and how a command-line argument names a scenario:
//! a bundled name or a file path.
//!
//! Owns the rule ([`resolve`]): an argument containing `/` or ending in
//! `.toml` is a path; `bundled:NAME` is always the bundled one; a bare name
//! is the bundled scenario of that name, unless a file of that name exists
//! in the current folder, which then wins (a note on stderr says so, and
//! `bundled:NAME` reaches the bundled one), and opening what an argument
//! names ([`open`]: the rule, the note, the bytes; every command that
//! takes a scenario argument opens it so). Also each scenario's lesson: the
//! first sentence of its description. Does not read or check the scenario
//! itself (that is [`crate::scenario`]).

use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/bundled.rs"));

/// The text of the bundled scenario `name`.
pub fn get(name: &str) -> Option<&'static str> {
    BUNDLED.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// Bundled names, sorted.
pub fn names() -> impl Iterator<Item = &'static str> {
    BUNDLED.iter().map(|(n, _)| *n)
}

/// Where a scenario comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A file on disk.
    File(PathBuf),
    /// A bundled scenario, by name.
    Bundled(&'static str),
}

impl Source {
    /// As errors and the JSON name it: the path, or `bundled:NAME`.
    pub fn origin(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
            Source::Bundled(n) => format!("bundled:{n}"),
        }
    }

    /// The scenario's bytes, or why they cannot be read.
    pub fn read(&self) -> std::io::Result<Vec<u8>> {
        match self {
            Source::File(p) => std::fs::read(p),
            Source::Bundled(n) => Ok(get(n).unwrap_or("").as_bytes().to_vec()),
        }
    }
}

/// Which scenario `arg` names, and a note for the user when a file
/// shadows a bundled name; or why none (an unknown bare name, with the
/// close ones).
pub fn resolve(arg: &str) -> Result<(Source, Option<String>), String> {
    if let Some(name) = arg.strip_prefix("bundled:") {
        return match BUNDLED.iter().find(|(n, _)| *n == name) {
            Some((n, _)) => Ok((Source::Bundled(n), None)),
            None => Err(unknown(name)),
        };
    }
    if arg.contains('/') || arg.ends_with(".toml") {
        return Ok((Source::File(PathBuf::from(arg)), None));
    }
    let bundled = BUNDLED.iter().find(|(n, _)| *n == arg).map(|(n, _)| *n);
    match (bundled, Path::new(arg).is_file()) {
        (Some(n), true) => Ok((
            Source::File(PathBuf::from(arg)),
            Some(format!(
                "running the file ./{arg}, not the bundled scenario {n} (bundled:{n} runs that)"
            )),
        )),
        (Some(n), false) => Ok((Source::Bundled(n), None)),
        (None, true) => Ok((Source::File(PathBuf::from(arg)), None)),
        (None, false) => Err(unknown(arg)),
    }
}

/// Opens the scenario `arg` names ([`resolve`]): where it comes from and
/// its bytes. The note for the user (a file shadows a bundled name) goes
/// to `tell` first, so that it is said even when the file cannot be read.
pub fn open(arg: &str, tell: impl FnOnce(&str)) -> Result<(Source, Vec<u8>), String> {
    let (source, note) = resolve(arg)?;
    if let Some(n) = note {
        tell(&n);
    }
    let origin = source.origin();
    let bytes = (source.read()).map_err(|e| format!("{origin}: cannot read: {e}"))?;
    Ok((source, bytes))
}

/// Why `name` names no scenario, with the bundled names close to it.
pub fn unknown(name: &str) -> String {
    let close: Vec<&str> = names()
        .filter(|n| n.contains(name) || name.contains(n) || shares_prefix(n, name))
        .collect();
    let hint = if close.is_empty() {
        String::new()
    } else {
        format!(" (did you mean {}?)", close.join(", "))
    };
    format!(
        "{name:?} is neither a file nor a bundled scenario{hint}; `simnet scenarios` lists \
         them, and a path to a file has a `/` or ends in `.toml`"
    )
}

fn shares_prefix(a: &str, b: &str) -> bool {
    a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count() >= 4
}

/// The first sentence of a description: up to the first `. ` (or the
/// end), on one line.
pub fn lesson(description: &str) -> String {
    let one: Vec<&str> = description.split_whitespace().collect();
    let one = one.join(" ");
    match one.find(". ") {
        Some(at) => one.get(..=at).unwrap_or(&one).to_string(),
        None => one,
    }
}
