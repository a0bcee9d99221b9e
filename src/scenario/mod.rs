//! Scenario files: TOML text in, a checked [`Scenario`] out, or one error
//! that names the file, line, column and dotted key path at fault.
//!
//! Owns reading the text (UTF-8, NUL bytes, a byte-order mark, CRLF), TOML
//! syntax errors, and the position of every error: a key, value or table in
//! the file for a refusal met while deserializing (`de.rs`), and the value
//! of the key that [`Scenario::validate`] names for a rule across keys (or,
//! when the file leaves that key out, the nearest table around it that it
//! does write).
//!
//! Does not own the schema: every key, its type, default, bounds and the
//! rules across keys are declared once, on the config types in
//! `simnet_sim::config` (with `simnet_sim::units` for sizes, times and
//! rates), which derive `serde::Deserialize`. The format is documented for
//! users in `docs/scenario.md`. Does not run anything or write files.
//!
//! How it reads: toml's `DeTable` parses the text into a tree where every
//! key and value keeps its byte span (`Document`); the config types are
//! deserialized from that tree; then `validate()` runs. Positions are byte
//! spans until the end, where `Problem::locate` turns them into lines and
//! columns of the text they came from. The one TOML error toml leaves
//! without a span (a dotted key nested too deep) is placed by reading the
//! text again with `toml_parser`. No input makes it panic.

mod de;
pub mod overrides;

use de::{Node, Problem};
use simnet_sim::config::Scenario;
use simnet_sim::units::truncate;
use std::fmt;
use std::ops::Range;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// Why a scenario file could not be read, and where.
///
/// Displays on one line as `FILE:LINE:COLUMN: key `a.b`: message`, leaving
/// out the parts that are unknown. Lines and columns count from 1; columns
/// count characters, not bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// Dotted key path, e.g. `hosts.sender.nic.tx_ring` or `flow[0].send`
    /// (flows are numbered from 0 in file order).
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        f.write_str(": ")?;
        if let Some(key) = &self.key {
            write!(f, "key `{key}`: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ScenarioError {}

/// Parses and checks a scenario from the bytes of a file; `file` is the name
/// used in error messages.
pub fn parse(bytes: &[u8], file: &str) -> Result<Scenario, ScenarioError> {
    let text = text_of(bytes, file)?;
    Document::parse(text)
        .and_then(|doc| doc.scenario())
        .map_err(|p| p.locate(text, file))
}

/// The bytes of a file as text, or the position of the first invalid
/// UTF-8 byte.
fn text_of<'b>(bytes: &'b [u8], file: &str) -> Result<&'b str, ScenarioError> {
    std::str::from_utf8(bytes).map_err(|e| {
        // Everything before the first invalid byte is valid UTF-8.
        let prefix = bytes
            .get(..e.valid_up_to())
            .and_then(|p| std::str::from_utf8(p).ok())
            .unwrap_or("");
        let at = prefix.len();
        let problem = Problem::at(Some(at..at), None, "not a text file: invalid UTF-8".into());
        problem.locate(prefix, file)
    })
}

/// A scenario file parsed into toml's spanned tree, before any key is read.
///
/// Every refusal points into this tree, so anything merged into it before
/// [`Document::scenario`] (such as a command-line override, parsed with
/// `DeValue::parse` and given spans of its own) is checked exactly like the
/// file, with the same messages.
struct Document<'i> {
    root: Spanned<DeValue<'i>>,
}

impl<'i> Document<'i> {
    fn parse(text: &'i str) -> Result<Document<'i>, Problem> {
        if let Some(at) = text.find('\0') {
            let message = "not a text file: contains a NUL byte".into();
            return Err(Problem::at(Some(at..at), None, message));
        }
        let doc = DeTable::parse(text).map_err(|e| {
            let mut span = e.span();
            let mut message = format!("invalid TOML: {}", e.message().trim());
            match (e.span(), e.message()) {
                (Some(at), "duplicate key") => {
                    if let Some(key) = text.get(at) {
                        message = format!("invalid TOML: duplicate key {:?}", truncate(key.trim()));
                    }
                }
                // toml says where arrays and inline tables nest too deep,
                // but not which dotted key has too many parts.
                (_, "cannot recurse further; max recursion depth met") => {
                    message = format!(
                        "invalid TOML: nested too deep: more than {TOML_DEPTH} arrays or inline \
                         tables inside each other"
                    );
                }
                (None, "recursion limit") => {
                    message = format!(
                        "invalid TOML: nested too deep: a dotted key of more than {TOML_DEPTH} \
                         parts"
                    );
                    if let Some((at, parts)) = too_deep_key(text) {
                        span = Some(at);
                        message = format!(
                            "invalid TOML: nested too deep: a dotted key of {parts} parts (at \
                             most {TOML_DEPTH})"
                        );
                    }
                }
                _ => {}
            }
            Problem::at(span, None, message)
        })?;
        let span = doc.span();
        Ok(Document {
            root: Spanned::new(span, DeValue::Table(doc.into_inner())),
        })
    }

    /// Reads the scenario and checks the rules across its keys.
    fn scenario(&self) -> Result<Scenario, Problem> {
        let root = Node {
            value: &self.root,
            path: String::new(),
        };
        let scenario: Scenario = root.read()?;
        scenario.validate().map_err(|e| {
            let Some(key) = e.key else {
                return Problem::at(None, None, e.message);
            };
            let (span, left_out) = self.span_of(&key);
            let message = match left_out {
                Some(name) => format!(
                    "{} (`{name}` is not given, so this is its default)",
                    e.message
                ),
                None => e.message,
            };
            Problem::at(Some(span), Some(key), message)
        })?;
        Ok(scenario)
    }

    /// The span of the value at dotted `key` (`flow[1].port`,
    /// `hosts."b/c".nic`), or of the nearest table around it that the file
    /// writes; and when only the last key is left out of a table the file
    /// writes (not the top level), that key, whose value is then a default.
    fn span_of(&self, key: &str) -> (Range<usize>, Option<String>) {
        let steps = steps(key);
        let mut node = &self.root;
        for (depth, step) in steps.iter().enumerate() {
            let next = match (step, node.get_ref()) {
                (Step::Key(k), DeValue::Table(t)) => t
                    .iter()
                    .find(|(name, _)| {
                        let name: &str = name.get_ref();
                        name == k.as_str()
                    })
                    .map(|(_, v)| v),
                (Step::Index(i), DeValue::Array(items)) => items.get(*i),
                _ => None,
            };
            match next {
                Some(n) => node = n,
                None => {
                    let left_out = match (step, depth + 1 == steps.len()) {
                        (Step::Key(k), true) if depth > 0 => Some(k.clone()),
                        _ => None,
                    };
                    return (node.span(), left_out);
                }
            }
        }
        (node.span(), None)
    }
}

/// How deep toml lets keys and values nest: the parts of one dotted key,
/// arrays and inline tables inside each other (its parser's `LIMIT`).
const TOML_DEPTH: usize = 80;

/// Where the first dotted key (`a.b.c = 1` or `[a.b.c]`) of more than
/// [`TOML_DEPTH`] parts starts, and its parts. Reads the text again with
/// toml's own parser, only to place the error toml gives such a key without
/// a position.
fn too_deep_key(text: &str) -> Option<(Range<usize>, usize)> {
    use toml_parser::parser::{parse_document, Event, EventKind};
    let source = toml_parser::Source::new(text);
    let tokens = source.lex().into_vec();
    let mut events: Vec<Event> = Vec::new();
    parse_document(&tokens, &mut events, &mut ());
    // The key being read: where it starts, where its last part ends, parts.
    let mut key: Option<(usize, usize, usize)> = None;
    for e in &events {
        match e.kind() {
            EventKind::SimpleKey => {
                let k = key.get_or_insert((e.span().start(), 0, 0));
                k.1 = e.span().end();
                k.2 += 1;
            }
            EventKind::KeySep | EventKind::Whitespace => {}
            _ => match key.take() {
                Some((start, end, parts)) if parts > TOML_DEPTH => {
                    return Some((start..end, parts))
                }
                _ => {}
            },
        }
    }
    key.filter(|k| k.2 > TOML_DEPTH)
        .map(|(start, end, parts)| (start..end, parts))
}

enum Step {
    Key(String),
    Index(usize),
}

/// The steps of a dotted key path: keys (bare or quoted as `{:?}` writes
/// them) and `[N]` indexes.
fn steps(path: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '.' => {}
            '[' => {
                let digits: String = chars.by_ref().take_while(|&c| c != ']').collect();
                steps.push(Step::Index(digits.parse().unwrap_or(usize::MAX)));
            }
            '"' => {
                let mut key = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => key.extend(chars.next()),
                        c => key.push(c),
                    }
                }
                steps.push(Step::Key(key));
            }
            c => {
                let mut key = String::from(c);
                while let Some(&c) = chars.peek() {
                    if c == '.' || c == '[' {
                        break;
                    }
                    key.push(c);
                    chars.next();
                }
                steps.push(Step::Key(key));
            }
        }
    }
    steps
}

impl Problem {
    /// This problem as an error in `file`, whose text is `text`.
    fn locate(self, text: &str, file: &str) -> ScenarioError {
        let (line, column) = match &self.span {
            Some(span) => {
                let (l, c) = line_col(text, span.start);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        ScenarioError {
            file: file.to_string(),
            line,
            column,
            message: self.message(),
            key: self.key,
        }
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = text.get(..end).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let this_line = before.get(line_start..).unwrap_or("");
    let mut column = this_line.chars().count() + 1;
    if line_start == 0 && this_line.starts_with('\u{feff}') {
        column -= 1; // a byte-order mark is not a column anyone sees
    }
    (line, column)
}

#[cfg(test)]
mod tests;
