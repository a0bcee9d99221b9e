//! Command-line overrides of scenario keys: `--set KEY=VALUE`.
//!
//! Owns reading one `KEY=VALUE` argument ([`Set::parse`]), merging a list of
//! them into a scenario file before anything is checked ([`apply`]), and
//! placing every error an override causes on its `--set` argument instead of
//! a line of the file (and saying which override it is, [`Refusal`]).
//!
//! Does not own the schema or its messages: the merged document goes
//! through the same reader and the same `validate()` as a file alone (see
//! the parent module), so an override is checked exactly like the file,
//! with the same messages, and an unknown key is refused with the message
//! the file would get.
//!
//! The API, for every command that runs a scenario (`run`, `trace`,
//! `compare`, a sweep):
//!
//! ```
//! use simnet::scenario::overrides::{apply, Set};
//! let file = "[scenario]\nname = \"t\"\n[hosts.a]\naddress = \"10.0.0.1/24\"\n\
//!             [hosts.b]\naddress = \"10.0.0.2/24\"\n\
//!             [[flow]]\nfrom = \"a\"\nto = \"b\"\nbytes = \"1MiB\"\n";
//! let sets = [Set::parse("flow[0].write_size=4KiB").unwrap()];
//! let sc = apply(file.as_bytes(), "t.toml", &sets).unwrap();
//! assert_eq!(sc.flows[0].write_size, 4096);
//! let bad = [Set::parse("flow[0].write_size=4KB").unwrap()];
//! let e = apply(file.as_bytes(), "t.toml", &bad).unwrap_err();
//! assert!(e.to_string().starts_with("--set flow[0].write_size=4KB: expected a size"));
//! ```
//!
//! How: the file and each override's text live in one string, the file
//! first, so every span stays a byte range of one text; a span past the
//! file's end belongs to the override whose text holds it. The value is
//! parsed as a TOML value (`[]`, `true`, `64`, `"4KiB"`), and when that fails
//! taken as the string it is (`4KiB`, `100Gbit/s`), then put into the file's
//! spanned tree at its key: tables on the way that the file does not write
//! are made, a value the file writes is replaced. Array items (`flow[1]`)
//! must exist.

use super::de::{join, Problem};
use super::{text_of, Document, ScenarioError};
use simnet_sim::config::Scenario;
use simnet_sim::units::truncate;
use std::borrow::Cow;
use std::ops::Range;
use toml::de::DeValue;
use toml::Spanned;

/// One `--set KEY=VALUE`: the dotted key as errors print it
/// (`flow[0].write_size`, `hosts."my host".nic.offload`), the value's text,
/// and the argument as given (errors name it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Set {
    pub key: String,
    pub value: String,
    pub arg: String,
}

/// One part of a dotted key.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Key(String),
    Index(usize),
}

impl Set {
    /// Reads `KEY=VALUE`: the key ends at the first `=` outside quotes.
    /// Refuses an argument without `=`, an empty key or one that is not a
    /// dotted key path, saying why (clap prints the argument with it).
    pub fn parse(arg: &str) -> Result<Set, String> {
        let mut quoted = false;
        let mut escaped = false;
        let mut split = None;
        for (i, c) in arg.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                '=' if !quoted => {
                    split = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let Some(at) = split else {
            return Err("expected KEY=VALUE, e.g. flow[0].write_size=4KiB".into());
        };
        let (key, value) = (arg.get(..at).unwrap_or(""), arg.get(at + 1..).unwrap_or(""));
        let key = key.trim();
        parts(key)?;
        Ok(Set {
            key: key.to_string(),
            value: value.to_string(),
            arg: arg.to_string(),
        })
    }
}

/// The parts of a dotted key: bare keys (`A-Za-z0-9_-`), quoted keys (`"a
/// b"`, with `\"` and `\\`), and `[N]` after a key.
fn parts(key: &str) -> Result<Vec<Part>, String> {
    let bad = |why: &str| {
        Err(format!(
            "`{}` is not a dotted key like flow[0].write_size: {why}",
            truncate(key)
        ))
    };
    let mut out = Vec::new();
    let mut chars = key.chars().peekable();
    // Whether a key is expected next (at the start and after a dot).
    let mut want_key = true;
    while let Some(c) = chars.next() {
        match c {
            '.' if !want_key => want_key = true,
            '[' if !want_key => {
                let digits: String = chars.by_ref().take_while(|&c| c != ']').collect();
                match digits.parse() {
                    Ok(i) if digits.chars().all(|c| c.is_ascii_digit()) => out.push(Part::Index(i)),
                    _ => return bad("an index is [N], N from 0"),
                }
            }
            '"' if want_key => {
                let mut k = String::new();
                let mut closed = false;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => {
                            closed = true;
                            break;
                        }
                        '\\' => k.extend(chars.next()),
                        c => k.push(c),
                    }
                }
                if !closed {
                    return bad("a quote is not closed");
                }
                out.push(Part::Key(k));
                want_key = false;
            }
            c if want_key && (c.is_ascii_alphanumeric() || c == '_' || c == '-') => {
                let mut k = String::from(c);
                while let Some(&c) = chars.peek() {
                    if !(c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                        break;
                    }
                    k.push(c);
                    chars.next();
                }
                out.push(Part::Key(k));
                want_key = false;
            }
            _ if want_key => return bad("a key is missing"),
            c => return bad(&format!("unexpected {c:?}")),
        }
    }
    if want_key {
        return bad("a key is missing");
    }
    Ok(out)
}

/// The key as errors print it (`flow[0].write_size`, `hosts."a b"`).
fn printed(parts: &[Part]) -> String {
    let mut s = String::new();
    for p in parts {
        match p {
            Part::Key(k) => s = join(&s, k),
            Part::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// Why [`apply`] refused: the error as the user reads it, and which of
/// the overrides caused it (its index in `sets`), if one did; a caller
/// that gave the override under another name (a sweep's `--vary`)
/// relabels the error from that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub error: ScenarioError,
    pub set: Option<usize>,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for Refusal {}

impl From<ScenarioError> for Refusal {
    fn from(error: ScenarioError) -> Refusal {
        Refusal { error, set: None }
    }
}

/// Reads the scenario in `source` (a file's bytes; `origin` names it in
/// errors) with `sets` applied in order, and checks it as a file is
/// checked. An error caused by an override is
/// `--set ARG: [key `K`: ]MESSAGE` (the key only when it is not the
/// override's own), and says which override it is ([`Refusal::set`]);
/// any other is placed in the file as usual.
pub fn apply(source: &[u8], origin: &str, sets: &[Set]) -> Result<Scenario, Refusal> {
    let text = text_of(source, origin)?;
    let mut all = String::from(text);
    // Where each override's argument and value are in `all`.
    let mut places = Vec::with_capacity(sets.len());
    for set in sets {
        all.push('\n');
        let start = all.len();
        all.push_str(&set.key);
        all.push('=');
        let value = all.len();
        all.push_str(&set.value);
        places.push((start..all.len(), value..all.len()));
    }
    let file = all.get(..text.len()).unwrap_or("");
    let place = |p: Problem| locate(p, text, origin, sets, &places);
    let mut doc = Document::parse(file).map_err(place)?;
    for (i, (set, (arg, value))) in sets.iter().zip(&places).enumerate() {
        let refuse = |message: String| Refusal {
            error: ScenarioError {
                file: label(set),
                line: None,
                column: None,
                key: None,
                message,
            },
            set: Some(i),
        };
        let parts = parts(&set.key).map_err(refuse)?;
        let value_text = all.get(value.clone()).unwrap_or("");
        let parsed = match DeValue::parse(value_text) {
            Ok(v) => shift(v, value.start),
            Err(_) => Spanned::new(value.clone(), DeValue::String(Cow::Borrowed(value_text))),
        };
        put(&mut doc.root, &parts, arg.clone(), parsed).map_err(refuse)?;
    }
    doc.scenario().map_err(place)
}

/// What an error of the override `set` is labelled with: `--set ARG`.
fn label(set: &Set) -> String {
    format!("--set {}", truncate(&set.arg))
}

/// `problem` as an error of the file, or of the override whose text holds
/// its span.
fn locate(
    problem: Problem,
    text: &str,
    origin: &str,
    sets: &[Set],
    places: &[(Range<usize>, Range<usize>)],
) -> Refusal {
    let at = problem.span.as_ref().map(|s| s.start);
    let owner = at.and_then(|at| places.iter().position(|(arg, _)| arg.contains(&at)));
    let Some((i, set)) = owner.and_then(|i| Some((i, sets.get(i)?))) else {
        return problem.locate(text, origin).into();
    };
    let own = parts(&set.key).map(|p| printed(&p)).ok();
    let key = problem.key.clone().filter(|k| Some(k) != own.as_ref());
    Refusal {
        error: ScenarioError {
            file: label(set),
            line: None,
            column: None,
            key,
            message: problem.message(),
        },
        set: Some(i),
    }
}

/// `value` with every span moved `by` bytes on.
fn shift(value: Spanned<DeValue<'_>>, by: usize) -> Spanned<DeValue<'_>> {
    let span = value.span();
    let mut inner = value.into_inner();
    match &mut inner {
        DeValue::Array(items) => {
            for item in items.iter_mut() {
                let old = std::mem::replace(item, Spanned::new(0..0, DeValue::Boolean(false)));
                *item = shift(old, by);
            }
        }
        DeValue::Table(table) => {
            let old = std::mem::take(table);
            *table = old
                .into_iter()
                .map(|(k, v)| {
                    let ks = k.span();
                    (
                        Spanned::new(ks.start + by..ks.end + by, k.into_inner()),
                        shift(v, by),
                    )
                })
                .collect();
        }
        _ => {}
    }
    Spanned::new(span.start + by..span.end + by, inner)
}

/// Puts `value` at `parts` in the tree at `node`, making the tables on the
/// way that do not exist (their keys and spans are `arg`'s). Refuses a path
/// through a value that is not a table, or an array item that is not there.
fn put<'i>(
    node: &mut Spanned<DeValue<'i>>,
    parts: &[Part],
    arg: Range<usize>,
    value: Spanned<DeValue<'i>>,
) -> Result<(), String> {
    let Some((first, rest)) = parts.split_first() else {
        *node = value;
        return Ok(());
    };
    let found = describe(node.get_ref());
    match (first, node.get_mut()) {
        (Part::Key(k), DeValue::Table(table)) => {
            let existing = table
                .iter_mut()
                .find(|(name, _)| {
                    let name: &str = name.get_ref();
                    name == k.as_str()
                })
                .map(|(_, v)| v);
            match existing {
                Some(next) => put(next, rest, arg, value),
                None => {
                    let next = match rest.first() {
                        None => value,
                        Some(Part::Key(_)) => {
                            let mut t =
                                Spanned::new(arg.clone(), DeValue::Table(Default::default()));
                            put(&mut t, rest, arg.clone(), value)?;
                            t
                        }
                        Some(Part::Index(_)) => {
                            return Err(format!(
                                "`{k}` is not in the scenario, so it has no item to set"
                            ))
                        }
                    };
                    table.insert(Spanned::new(arg, Cow::Owned(k.clone())), next);
                    Ok(())
                }
            }
        }
        (Part::Index(i), DeValue::Array(items)) => {
            let len = items.len();
            match items.get_mut(*i) {
                Some(next) => put(next, rest, arg, value),
                None => Err(format!(
                    "there is no item [{i}] to set: the scenario has {len} (counted from [0])"
                )),
            }
        }
        (Part::Key(k), _) => Err(format!(
            "cannot set `{k}` inside {found}: it is not a table"
        )),
        (Part::Index(i), _) => Err(format!(
            "cannot take item [{i}] of {found}: it is not a list"
        )),
    }
}

/// What kind of value a key holds, for an override that cannot go through
/// it.
fn describe(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "a list",
        DeValue::Table(_) => "a table",
    }
}
