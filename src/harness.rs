//! Entry points for fuzzers and the test suite; not part of the tool.
//!
//! Owns [`scenario()`]: the scenario reader on arbitrary bytes, and the
//! checks every answer it gives must pass. The cargo-fuzz target
//! `scenario` (in `fuzz/`) calls it in one line, and the test suite calls
//! the very same function on the committed corpus and on mutations of it,
//! so a crash file replays the same in `cargo fuzz run` and in `cargo test`.
//!
//! Does not parse anything itself: it goes through [`crate::scenario::parse`],
//! the path [`crate::scenario::parse`] takes once a file is read. Does not
//! run what it reads (an accepted scenario may ask for a long run).
//!
//! What every answer must satisfy (a failure panics, which is what a fuzzer
//! reports):
//!
//! - the reader never panics;
//! - a scenario it accepts passes `Scenario::validate` again;
//! - a refusal displays on one line, as `FILE[:LINE[:COLUMN]]: [key `K`: ]MESSAGE`,
//!   with a message; its line is a line of the input (of the part that is
//!   valid UTF-8) and its column at most one past that line's last
//!   character; a column comes only with a line; a key path is never empty.

use crate::scenario::{self, ScenarioError};
use simnet_sim::config::Scenario;

/// The file name refusals carry.
pub const FILE: &str = "fuzz.toml";

/// The fuzz target: reads `data` as a scenario file and checks the answer
/// (see the module's docs). Panics if a check fails.
pub fn scenario(data: &[u8]) -> Result<Scenario, ScenarioError> {
    let answer = scenario::parse(data, FILE);
    match &answer {
        Ok(sc) => {
            if let Err(e) = sc.validate() {
                panic!("accepted, yet validate() refuses it: {e}");
            }
        }
        Err(e) => check_refusal(e, data),
    }
    answer
}

fn check_refusal(e: &ScenarioError, data: &[u8]) {
    let shown = e.to_string();
    assert!(!shown.contains('\n'), "not on one line: {shown:?}");
    assert!(shown.starts_with(FILE), "{shown:?}");
    assert!(!e.message.trim().is_empty(), "no message: {e:?}");
    assert!(e.key.as_ref().is_none_or(|k| !k.is_empty()), "{e:?}");
    assert!(e.column.is_none() || e.line.is_some(), "{e:?}");
    let Some(line) = e.line else {
        return;
    };
    // Positions count in the valid UTF-8 text before any invalid byte.
    let text = match std::str::from_utf8(data) {
        Ok(text) => text,
        Err(bad) => std::str::from_utf8(&data[..bad.valid_up_to()]).expect("valid up to"),
    };
    let lines: Vec<&str> = text.split('\n').collect();
    assert!(
        (1..=lines.len()).contains(&line),
        "line {line} of {}: {shown:?}",
        lines.len()
    );
    if let Some(column) = e.column {
        let chars = lines[line - 1].chars().count();
        assert!(
            (1..=chars + 1).contains(&column),
            "column {column} of a {chars}-character line: {shown:?}"
        );
    }
}
