//! Scenario files: TOML text in, a checked [`Scenario`] out.
//!
//! Owns the scenario file format (the contract in the project's
//! `docs/scenario.md`): reading the file, the unit spellings for sizes, times
//! and rates, every default and bound, the refusal of keys this version
//! cannot run yet, and error messages that name the file, line, column and
//! dotted key path of the offending text.
//!
//! Does not own the meaning of the values: the typed structs, their
//! defaults' sources and the model's own last-resort checks live in
//! `simnet_sim::config` and `simnet_sim::cost`. Does not run anything or write
//! files.
//!
//! How it reads: `toml::de::DeTable` parses the text into a tree where every
//! key and value keeps its byte span; this module walks that tree by hand,
//! table by table, so that each error (syntax, unknown key, wrong type, bad
//! unit, out of range, missing key, cross-field conflict) carries the span
//! and the key path of exactly the text at fault. A missing key points at
//! the table that lacks it. No input makes it panic.

use simnet_sim::config::{
    Align, BufferConfig, BufferKind, Congestion, Faults, FlowConfig, FramingConfig, FramingKind,
    HostConfig, LinkConfig, NicConfig, Offloads, PoolKind, RecvPath, Reuse, Scenario, SendPath,
    SocketConfig, TapConfig, DEFAULT_COPYBREAK, DEFAULT_IRQ_COALESCE, DEFAULT_NAPI_BUDGET,
    DEFAULT_POOL_SIZE, DEFAULT_RING, DEFAULT_SOCKBUF, IOV_MAX, MAX_MTU, MAX_RING, MIN_MTU,
    MIN_RING,
};
use simnet_sim::cost::CostModel;
use std::collections::HashMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::ops::Range;
use std::path::Path;
use toml::de::{DeInteger, DeTable, DeValue};
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

/// Reads and checks the scenario file at `path`.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => parse(&bytes, &file),
        Err(e) => Err(ScenarioError {
            file,
            line: None,
            column: None,
            key: None,
            message: format!("cannot read: {e}"),
        }),
    }
}

/// Parses and checks a scenario from the bytes of a file; `file` is the name
/// used in error messages.
pub fn parse(bytes: &[u8], file: &str) -> Result<Scenario, ScenarioError> {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            // Everything before the first invalid byte is valid UTF-8.
            let prefix = bytes
                .get(..e.valid_up_to())
                .and_then(|p| std::str::from_utf8(p).ok())
                .unwrap_or("");
            let problem = Problem {
                span: Some(prefix.len()..prefix.len()),
                key: None,
                message: "not a text file: invalid UTF-8".into(),
            };
            return Err(problem.locate(prefix, file));
        }
    };
    let scenario = read(text).map_err(|p| p.locate(text, file))?;
    scenario.validate().map_err(|e| ScenarioError {
        file: file.to_string(),
        line: None,
        column: None,
        key: e.key,
        message: e.message,
    })?;
    Ok(scenario)
}

// ---------------------------------------------------------------------------
// Errors with byte spans, located into lines and columns at the end.

#[derive(Debug)]
struct Problem {
    span: Option<Range<usize>>,
    key: Option<String>,
    message: String,
}

type R<T> = Result<T, Problem>;

impl Problem {
    fn locate(self, text: &str, file: &str) -> ScenarioError {
        let (line, column) = match self.span {
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
            key: self.key,
            message: self.message,
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

// ---------------------------------------------------------------------------
// Walking the spanned tree.

/// A table being read: its key path, where it starts, its entries.
struct Table<'a, 'i> {
    /// Dotted key path; empty for the top level.
    path: String,
    span: Range<usize>,
    map: &'a DeTable<'i>,
}

/// One key's value inside a [`Table`].
struct Field<'a, 'i> {
    path: String,
    value: &'a Spanned<DeValue<'i>>,
}

/// `parent.key`, quoting `key` when it is not a bare TOML key.
fn join(parent: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let key = if bare {
        key.to_string()
    } else {
        format!("{:?}", truncate(key))
    };
    if parent.is_empty() {
        key
    } else {
        format!("{parent}.{key}")
    }
}

/// Removes `[N]` flow indexes from a key path: `flow[2].buffer` → `flow.buffer`.
fn strip_indexes(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => in_index = true,
            ']' => in_index = false,
            _ if !in_index => out.push(c),
            _ => {}
        }
    }
    out
}

impl<'a, 'i> Table<'a, 'i> {
    /// Wraps `map`, refusing any key not in `known`.
    fn new(path: String, span: Range<usize>, map: &'a DeTable<'i>, known: &[&str]) -> R<Self> {
        let table = Table { path, span, map };
        for (key, _) in table.map.iter() {
            let name: &str = key.get_ref();
            if !known.contains(&name) {
                return Err(Problem {
                    span: Some(key.span()),
                    key: Some(join(&table.path, name)),
                    message: unknown_key_message(name, &table.title(), known),
                });
            }
        }
        Ok(table)
    }

    /// How the user wrote this table's header: `[link]`, `[[flow]]`.
    fn title(&self) -> String {
        if self.path.is_empty() {
            "the top-level table".into()
        } else if self.path.ends_with(']') {
            format!("[[{}]]", strip_indexes(&self.path))
        } else {
            format!("[{}]", strip_indexes(&self.path))
        }
    }

    fn get(&self, key: &str) -> Option<Field<'a, 'i>> {
        self.map
            .iter()
            .find(|(k, _)| {
                let k: &str = k.get_ref();
                k == key
            })
            .map(|(_, value)| Field {
                path: join(&self.path, key),
                value,
            })
    }

    fn require(&self, key: &str) -> R<Field<'a, 'i>> {
        self.get(key).ok_or_else(|| Problem {
            span: Some(self.span.clone()),
            key: Some(join(&self.path, key)),
            message: format!("missing required key `{key}` in {}", self.title()),
        })
    }

    /// An optional sub-table.
    fn table(&self, key: &str, known: &[&str]) -> R<Option<Table<'a, 'i>>> {
        self.get(key).map(|f| f.table(known)).transpose()
    }

    /// Reads optional `key` with `read`, or gives `default`.
    fn or<T>(&self, key: &str, default: T, read: impl FnOnce(&Field<'a, 'i>) -> R<T>) -> R<T> {
        match self.get(key) {
            Some(f) => read(&f),
            None => Ok(default),
        }
    }
}

fn unknown_key_message(name: &str, title: &str, known: &[&str]) -> String {
    let mut message = format!("unknown key {:?} in {title}", truncate(name));
    if let Some(close) = known.iter().find(|k| edit_distance(name, k) <= 2) {
        message.push_str(&format!(" (did you mean `{close}`?)"));
    }
    message.push_str("; expected one of: ");
    message.push_str(&known.join(", "));
    message
}

/// Levenshtein distance, for "did you mean"; long inputs are never close.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > 2 || a.len() > 64 {
        return usize::MAX;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

impl<'a, 'i> Field<'a, 'i> {
    fn span(&self) -> Range<usize> {
        self.value.span()
    }

    fn err(&self, message: String) -> Problem {
        Problem {
            span: Some(self.span()),
            key: Some(self.path.clone()),
            message,
        }
    }

    fn value(&self) -> &'a DeValue<'i> {
        self.value.get_ref()
    }

    fn table(&self, known: &[&str]) -> R<Table<'a, 'i>> {
        match self.value() {
            DeValue::Table(t) => Table::new(self.path.clone(), self.span(), t, known),
            other => Err(self.err(format!("expected a table, found {}", describe(other)))),
        }
    }

    fn string(&self, expected: &str) -> R<&'a str> {
        match self.value() {
            DeValue::String(s) => Ok(s.as_ref()),
            other => Err(self.err(format!("expected {expected}, found {}", describe(other)))),
        }
    }

    fn boolean(&self) -> R<bool> {
        match self.value() {
            DeValue::Boolean(b) => Ok(*b),
            other => Err(self.err(format!("expected true or false, found {}", describe(other)))),
        }
    }

    /// A plain count (ring size, budget, port...), integers only.
    fn count(&self, what: &str, lo: u64, hi: u64) -> R<u64> {
        let wanted = format!("expected {what} in {lo}..={hi}");
        match self.value() {
            DeValue::Integer(i) => match integer(i) {
                Some(n) if n >= i128::from(lo) && n <= i128::from(hi) => {
                    u64::try_from(n).map_err(|_| self.err(format!("{wanted}, found {n}")))
                }
                _ => Err(self.err(format!("{wanted}, found {}", describe(self.value())))),
            },
            DeValue::String(s) if s.parse::<i128>().is_ok() => Err(self.err(format!(
                "{wanted}, found {} (write numbers without quotes)",
                describe(self.value())
            ))),
            other => Err(self.err(format!("{wanted}, found {}", describe(other)))),
        }
    }

    /// One of `valid`, which is the contract's whole list for this key.
    fn choice(&self, valid: &[&str]) -> R<&'a str> {
        let list = valid
            .iter()
            .map(|v| format!("{v:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        match self.value() {
            DeValue::String(s) if valid.contains(&s.as_ref()) => Ok(s.as_ref()),
            DeValue::String(s) => Err(self.err(format!(
                "unknown value {:?}; expected one of {list}",
                truncate(s)
            ))),
            other => Err(self.err(format!("expected one of {list}, found {}", describe(other)))),
        }
    }

    /// A size in bytes: `1500`, `"1500"`, `"64KiB"`, `"10kB"`, `"1.5MiB"`.
    fn size(&self, lo: u64, hi: u64) -> R<u64> {
        const EXPECTED: &str = "a size like 1500, \"64KiB\" or \"4MiB\"";
        let n = match self.value() {
            DeValue::Integer(i) => match integer(i) {
                Some(n) if n >= 0 => u128::try_from(n).unwrap_or(u128::MAX),
                _ => {
                    return Err(self.err(format!(
                        "expected {EXPECTED}, found {} (sizes cannot be negative)",
                        describe(self.value())
                    )))
                }
            },
            DeValue::String(s) => self.with_unit(s, SIZE_UNITS, EXPECTED, "bytes")?,
            other => {
                return Err(self.err(format!("expected {EXPECTED}, found {}", describe(other))))
            }
        };
        self.in_range(n, lo, hi, format!("a size in {}", fmt_size_range(lo, hi)))
    }

    /// A time in picoseconds: `"200ns"`, `"10us"`, `"1.5ms"`, `"2s"`, or the
    /// integer `0`.
    fn time_ps(&self, lo: u128, hi: u128) -> R<u128> {
        const EXPECTED: &str = "a time like \"200ns\", \"10us\" or \"1.5ms\"";
        let ps = match self.value() {
            DeValue::Integer(i) if integer(i) == Some(0) => 0,
            DeValue::Integer(_) => {
                return Err(self.err(format!(
                    "expected {EXPECTED}, found {} (a time needs a unit)",
                    describe(self.value())
                )))
            }
            DeValue::String(s) => self.with_unit(s, TIME_UNITS, EXPECTED, "picoseconds")?,
            other => {
                return Err(self.err(format!("expected {EXPECTED}, found {}", describe(other))))
            }
        };
        self.in_range(
            ps,
            lo,
            hi,
            format!("a time in {}..={}", fmt_time(lo), fmt_time(hi)),
        )
    }

    /// A time in whole nanoseconds, bounds in nanoseconds.
    fn time_ns(&self, lo: u64, hi: u64) -> R<u64> {
        let ps = self.time_ps(u128::from(lo) * 1000, u128::from(hi) * 1000)?;
        if ps % 1000 != 0 {
            return Err(self.err(format!(
                "{} is not a whole number of nanoseconds",
                describe(self.value())
            )));
        }
        u64::try_from(ps / 1000).map_err(|_| self.err("time too large".into()))
    }

    /// A quantity written as a string with a unit (`"64KiB"`, `"10us"`,
    /// `"10Gbit/s"`), in the smallest unit of `units`; past `u128` it
    /// saturates so that the range check reports it.
    fn with_unit(
        &self,
        s: &str,
        units: &[(&str, u128)],
        expected: &str,
        smallest: &str,
    ) -> R<u128> {
        match scaled(s, units) {
            Ok(n) => Ok(n),
            Err(NumError::Syntax) => Err(self.err(format!(
                "expected {expected}, found {}{}",
                describe(self.value()),
                negative_hint(s)
            ))),
            Err(NumError::NotWhole) => Err(self.err(format!(
                "{:?} is not a whole number of {smallest}",
                truncate(s)
            ))),
            Err(NumError::TooLarge) => Ok(u128::MAX),
        }
    }

    /// A rate in bits per second: `"10Gbit/s"`, `"100Mbit/s"`, `"10GB/s"`.
    fn rate(&self, lo: u64, hi: u64) -> R<u64> {
        const EXPECTED: &str = "a rate like \"10Gbit/s\", \"100Mbit/s\" or \"10GB/s\"";
        let bps = match self.value() {
            DeValue::String(s) => self.with_unit(s, RATE_UNITS, EXPECTED, "bits per second")?,
            DeValue::Integer(_) | DeValue::Float(_) => {
                return Err(self.err(format!(
                    "expected {EXPECTED}, found {} (a rate needs a unit)",
                    describe(self.value())
                )))
            }
            other => {
                return Err(self.err(format!("expected {EXPECTED}, found {}", describe(other))))
            }
        };
        self.in_range(
            bps,
            lo,
            hi,
            format!("a rate in {}..={}", fmt_rate(lo), fmt_rate(hi)),
        )
    }

    /// A bandwidth given as a rate, as picoseconds per byte (rounded to
    /// nearest). Bounds 1 MB/s..=1 TB/s keep the result in 1..=1_000_000.
    fn bandwidth_ps_per_byte(&self) -> R<u64> {
        let bps = self.rate(8_000_000, 8_000_000_000_000)?;
        Ok((8_000_000_000_000 + bps / 2) / bps)
    }

    /// A probability: `0`, `1`, or a float in 0.0..=1.0.
    fn probability(&self) -> R<f64> {
        let p = match self.value() {
            DeValue::Float(f) => f.as_str().parse::<f64>().ok(),
            DeValue::Integer(i) => match integer(i) {
                Some(0) => Some(0.0),
                Some(1) => Some(1.0),
                _ => None,
            },
            _ => None,
        };
        match p {
            Some(p) if (0.0..=1.0).contains(&p) => Ok(p),
            _ => Err(self.err(format!(
                "expected a probability in 0.0..=1.0, found {}",
                describe(self.value())
            ))),
        }
    }

    fn in_range<T: PartialOrd + TryFrom<u128> + Into<u128> + Copy>(
        &self,
        n: u128,
        lo: T,
        hi: T,
        expected: String,
    ) -> R<T> {
        if n >= lo.into() && n <= hi.into() {
            if let Ok(v) = T::try_from(n) {
                return Ok(v);
            }
        }
        Err(self.err(format!(
            "expected {expected}, found {}",
            describe(self.value())
        )))
    }
}

/// A hint for a unit string that starts with a minus sign.
fn negative_hint(s: &str) -> &'static str {
    if s.starts_with('-') {
        " (it cannot be negative)"
    } else {
        ""
    }
}

/// An integer as written (any radix), if it fits an i128.
fn integer(i: &DeInteger<'_>) -> Option<i128> {
    let radix = i.radix();
    if !(2..=36).contains(&radix) {
        return None;
    }
    i128::from_str_radix(i.as_str(), radix).ok()
}

/// Shortens text quoted back to the user.
fn truncate(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(MAX).collect();
        t.push('…');
        t
    }
}

/// A value as the user wrote it, for "found ..." in messages.
fn describe(v: &DeValue<'_>) -> String {
    match v {
        DeValue::String(s) => format!("{:?}", truncate(s)),
        DeValue::Integer(i) => {
            let prefix = match i.radix() {
                16 => "0x",
                8 => "0o",
                2 => "0b",
                _ => "",
            };
            truncate(&format!("{prefix}{}", i.as_str()))
        }
        DeValue::Float(f) => truncate(f.as_str()),
        DeValue::Boolean(b) => b.to_string(),
        DeValue::Datetime(d) => format!("the date-time {}", truncate(&d.to_string())),
        DeValue::Array(_) => "an array".into(),
        DeValue::Table(_) => "a table".into(),
    }
}

// ---------------------------------------------------------------------------
// Units.

const KIB: u128 = 1 << 10;
const MIB: u128 = 1 << 20;
const GIB: u128 = 1 << 30;
const TIB: u128 = 1 << 40;

/// Size suffixes and their multipliers (bytes).
const SIZE_UNITS: &[(&str, u128)] = &[
    ("", 1),
    ("B", 1),
    ("kB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
    ("TB", 1_000_000_000_000),
    ("KiB", KIB),
    ("MiB", MIB),
    ("GiB", GIB),
    ("TiB", TIB),
];

/// Time suffixes and their multipliers (picoseconds).
const TIME_UNITS: &[(&str, u128)] = &[
    ("ps", 1),
    ("ns", 1_000),
    ("us", 1_000_000),
    ("µs", 1_000_000),
    ("ms", 1_000_000_000),
    ("s", 1_000_000_000_000),
];

/// Rate suffixes and their multipliers (bits per second).
const RATE_UNITS: &[(&str, u128)] = &[
    ("bit/s", 1),
    ("kbit/s", 1_000),
    ("Mbit/s", 1_000_000),
    ("Gbit/s", 1_000_000_000),
    ("Tbit/s", 1_000_000_000_000),
    ("B/s", 8),
    ("kB/s", 8_000),
    ("MB/s", 8_000_000),
    ("GB/s", 8_000_000_000),
    ("TB/s", 8_000_000_000_000),
];

#[derive(Debug, PartialEq, Eq)]
enum NumError {
    /// Not digits, an optional `.digits`, then one of the units.
    Syntax,
    /// The fraction does not come out to a whole number of base units.
    NotWhole,
    TooLarge,
}

/// Parses `DIGITS[.DIGITS]UNIT` exactly: the integer and fraction digits
/// are scaled by the unit's multiplier in integer arithmetic.
fn scaled(s: &str, units: &[(&str, u128)]) -> Result<u128, NumError> {
    let digits_end = |t: &str| t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (int_part, rest) = s.split_at(digits_end(s));
    if int_part.is_empty() {
        return Err(NumError::Syntax);
    }
    let (frac_part, unit) = match rest.strip_prefix('.') {
        Some(r) => {
            let (f, u) = r.split_at(digits_end(r));
            if f.is_empty() {
                return Err(NumError::Syntax);
            }
            (f, u)
        }
        None => ("", rest),
    };
    let mult = units
        .iter()
        .find(|(u, _)| *u == unit)
        .map(|(_, m)| *m)
        .ok_or(NumError::Syntax)?;
    let whole = digits_value(int_part)
        .and_then(|n| n.checked_mul(mult))
        .ok_or(NumError::TooLarge)?;
    let frac = frac_part.trim_end_matches('0');
    if frac.is_empty() {
        return Ok(whole);
    }
    // Beyond 24 significant decimals nothing here comes out whole, and the
    // products below stay far from u128::MAX.
    if frac.len() > 24 {
        return Err(NumError::NotWhole);
    }
    let denominator = 10u128.pow(frac.len() as u32);
    let numerator = digits_value(frac)
        .and_then(|f| f.checked_mul(mult))
        .ok_or(NumError::NotWhole)?;
    if numerator % denominator != 0 {
        return Err(NumError::NotWhole);
    }
    whole
        .checked_add(numerator / denominator)
        .ok_or(NumError::TooLarge)
}

fn digits_value(digits: &str) -> Option<u128> {
    digits.bytes().try_fold(0u128, |acc, b| {
        acc.checked_mul(10)?
            .checked_add(u128::from(b.wrapping_sub(b'0')))
    })
}

/// `n` in the largest unit of `units` that divides it evenly.
fn fmt_unit(n: u128, units: &[(&str, u128)]) -> String {
    for (unit, mult) in units.iter().rev() {
        if n != 0 && n.is_multiple_of(*mult) {
            return format!("{}{unit}", n / mult);
        }
    }
    n.to_string()
}

fn fmt_size_range(lo: u64, hi: u64) -> String {
    const BINARY: &[(&str, u128)] = &[
        ("B", 1),
        ("KiB", KIB),
        ("MiB", MIB),
        ("GiB", GIB),
        ("TiB", TIB),
    ];
    let (lo, hi) = (u128::from(lo), u128::from(hi));
    if hi < KIB || hi % KIB != 0 {
        format!("{lo}..={hi} bytes")
    } else {
        format!("{}..={}", fmt_unit(lo, BINARY), fmt_unit(hi, BINARY))
    }
}

fn fmt_time(ps: u128) -> String {
    if ps == 0 {
        return "0".into();
    }
    let units: &[(&str, u128)] = &[
        ("ps", 1),
        ("ns", 1_000),
        ("us", 1_000_000),
        ("ms", 1_000_000_000),
        ("s", 1_000_000_000_000),
    ];
    fmt_unit(ps, units)
}

fn fmt_rate(bps: u64) -> String {
    let units: &[(&str, u128)] = &[
        ("bit/s", 1),
        ("kbit/s", 1_000),
        ("Mbit/s", 1_000_000),
        ("Gbit/s", 1_000_000_000),
        ("Tbit/s", 1_000_000_000_000),
    ];
    fmt_unit(u128::from(bps), units)
}

// ---------------------------------------------------------------------------
// The schema.

/// Nanoseconds per unit, for bounds.
const US: u64 = 1_000;
const MS: u64 = 1_000_000;
const SEC: u64 = 1_000_000_000;
const DAY: u64 = 86_400 * SEC;
/// Largest per-operation CPU cost a scenario may set.
const MAX_CPU_COST: u64 = 10 * MS;

const ROOT_KEYS: &[&str] = &["scenario", "link", "hosts", "flow", "tap"];
const SCENARIO_KEYS: &[&str] = &["name", "description", "seed", "time_limit"];
const LINK_KEYS: &[&str] = &["rate", "delay", "mtu", "queue", "faults"];
const FAULT_KEYS: &[&str] = &["loss", "duplicate", "reorder", "reorder_delay", "corrupt"];
const HOST_KEYS: &[&str] = &["address", "nic", "socket", "cpu"];
const NIC_KEYS: &[&str] = &[
    "tx_ring",
    "rx_ring",
    "offload",
    "irq_coalesce",
    "napi_budget",
    "copybreak",
    "header_split",
];
const SOCKET_KEYS: &[&str] = &["sndbuf", "rcvbuf", "nagle", "congestion"];
const CPU_KEYS: &[&str] = &[
    "copy_bandwidth",
    "syscall",
    "checksum_per_byte",
    "page_pin",
    "page_unpin",
    "desc_write",
    "doorbell",
    "irq",
    "per_packet_tx",
    "per_packet_rx",
    "napi_poll",
    "gro",
    "skb_alloc",
    "page_alloc",
    "dma_latency",
    "dma_latency_per_byte",
    "dma_bandwidth",
];
const FLOW_KEYS: &[&str] = &[
    "from",
    "to",
    "port",
    "bytes",
    "write_size",
    "read_size",
    "send",
    "recv",
    "iovecs",
    "buffer",
    "framing",
    "echo",
];
const BUFFER_KEYS: &[&str] = &["kind", "align", "pool", "pool_size", "reuse"];

const SEND_NAMES: &[&str] = &[
    "write",
    "writev",
    "msg_zerocopy",
    "sendfile",
    "splice",
    "io_uring",
    "io_uring_fixed",
    "io_uring_send_zc",
];
const RECV_NAMES: &[&str] = &[
    "read",
    "readv",
    "zerocopy_receive",
    "io_uring_provided",
    "splice",
];
const BUFFER_KIND_NAMES: &[&str] = &[
    "array",
    "vec",
    "string",
    "bytes",
    "dynamic_string",
    "dynamic_vector",
    "streambuf",
];
const ALIGN_NAMES: &[&str] = &["page", "cacheline", "none"];
const POOL_NAMES: &[&str] = &["none", "fixed", "dynamic", "thread_local", "recycling"];
const REUSE_NAMES: &[&str] = &["after_completion", "immediately"];
const CONGESTION_NAMES: &[&str] = &["cubic", "reno", "none"];
const OFFLOAD_NAMES: &[&str] = &["tx-checksum", "rx-checksum", "tso", "gso", "gro"];

/// Parses `text` and reads the whole scenario.
fn read(text: &str) -> R<Scenario> {
    if let Some(at) = text.find('\0') {
        return Err(Problem {
            span: Some(at..at),
            key: None,
            message: "not a text file: contains a NUL byte".into(),
        });
    }
    let doc = DeTable::parse(text).map_err(|e| {
        let mut message = format!("invalid TOML: {}", e.message().trim());
        if let Some(span) = e.span() {
            if e.message() == "duplicate key" {
                if let Some(key) = text.get(span.clone()) {
                    message = format!("invalid TOML: duplicate key {:?}", truncate(key.trim()));
                }
            }
        }
        Problem {
            span: e.span(),
            key: None,
            message,
        }
    })?;
    let root = Table::new(String::new(), doc.span(), doc.get_ref(), ROOT_KEYS)?;

    let (name, description, seed, time_limit) = match root.get("scenario") {
        Some(f) => {
            let t = f.table(SCENARIO_KEYS)?;
            let name = scenario_name(&t.require("name")?)?;
            let description = t.or("description", String::new(), |f| {
                f.string("a string").map(str::to_string)
            })?;
            let seed = t.or("seed", 1, |f| f.count("a seed", 0, i64::MAX as u64))?;
            let time_limit = t.or("time_limit", 10 * SEC, |f| f.time_ns(US, DAY))?;
            (name, description, seed, time_limit)
        }
        None => {
            return Err(Problem {
                span: Some(root.span.clone()),
                key: Some("scenario".into()),
                message: "missing required table [scenario] (it must give at least `name`)".into(),
            })
        }
    };

    let link = read_link(&root)?;
    let hosts = read_hosts(&root)?;
    let flows = read_flows(&root, &hosts)?;
    let tap = match root.get("tap") {
        Some(f) => Some(read_tap(&f.table(TAP_KEYS)?, &hosts)?),
        None => None,
    };
    Ok(Scenario {
        switch: None,
        tap,
        name,
        description,
        seed,
        time_limit,
        link,
        hosts: hosts.into_iter().map(|(h, _)| h).collect(),
        flows,
    })
}

const TAP_KEYS: &[&str] = &["host", "device"];

/// `[tap]`: the simulated host whose port is bridged, and the device name.
fn read_tap(t: &Table<'_, '_>, hosts: &[(HostConfig, Range<usize>)]) -> R<TapConfig> {
    let host = host_index(&t.require("host")?, hosts)?;
    let device = t.or("device", "simnet0".to_string(), |f| {
        let name = f.string("an interface name")?;
        // dev_valid_name(): at most IFNAMSIZ - 1 bytes, no '/', ':' or
        // whitespace, not "." or "..".
        let ok = !name.is_empty()
            && name.len() <= 15
            && name != "."
            && name != ".."
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if ok {
            Ok(name.to_string())
        } else {
            Err(f.err(format!(
                "expected an interface name (1 to 15 of A-Z a-z 0-9 - _ .), found {}",
                describe(f.value())
            )))
        }
    })?;
    Ok(TapConfig {
        host: hosts[host].0.name.clone(),
        device,
    })
}

/// The scenario's name is also the default capture folder's name.
fn scenario_name(f: &Field<'_, '_>) -> R<String> {
    let name = f.string("a string")?;
    let bad = name.is_empty()
        || name == "."
        || name == ".."
        || name.chars().count() > 128
        || name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control());
    if bad {
        return Err(f.err(format!(
            "expected a name usable as a folder name (1 to 128 characters, no \"/\", \"\\\" or control characters), found {}",
            describe(f.value())
        )));
    }
    Ok(name.to_string())
}

fn read_link(root: &Table<'_, '_>) -> R<LinkConfig> {
    let mut link = LinkConfig {
        rate_bps: 10_000_000_000,
        delay: 10 * US,
        mtu: 1500,
        queue: None,
        faults: Faults {
            reorder_delay: 50 * US,
            ..Faults::default()
        },
    };
    let Some(t) = root.table("link", LINK_KEYS)? else {
        return Ok(link);
    };
    link.rate_bps = t.or("rate", link.rate_bps, |f| f.rate(1_000, 1_000_000_000_000))?;
    link.delay = t.or("delay", link.delay, |f| f.time_ns(0, 10 * SEC))?;
    link.mtu = t.or("mtu", link.mtu, |f| {
        f.size(MIN_MTU.into(), MAX_MTU.into()).map(|n| n as u32)
    })?;
    link.queue = t.or("queue", None, |f| f.size(1 << 10, 1 << 30).map(Some))?;
    if let Some(ft) = t.table("faults", FAULT_KEYS)? {
        let faults = &mut link.faults;
        faults.loss = ft.or("loss", 0.0, |f| f.probability())?;
        faults.duplicate = ft.or("duplicate", 0.0, |f| f.probability())?;
        faults.reorder = ft.or("reorder", 0.0, |f| f.probability())?;
        faults.reorder_delay = ft.or("reorder_delay", faults.reorder_delay, |f| {
            f.time_ns(0, 10 * SEC)
        })?;
        faults.corrupt = ft.or("corrupt", 0.0, |f| f.probability())?;
    }
    Ok(link)
}

/// The two hosts, each with the span of its address (for cross-checks).
fn read_hosts(root: &Table<'_, '_>) -> R<Vec<(HostConfig, Range<usize>)>> {
    let field = root.require("hosts")?;
    let DeValue::Table(map) = field.value() else {
        return Err(field.err(format!(
            "expected a table of hosts like [hosts.sender], found {}",
            describe(field.value())
        )));
    };
    let mut hosts: Vec<(HostConfig, Range<usize>)> = Vec::new();
    for (key, value) in map.iter() {
        let name: &str = key.get_ref();
        let path = join("hosts", name);
        if hosts.len() == 2 {
            return Err(Problem {
                span: Some(key.span()),
                key: Some(path),
                message: "a scenario has exactly two hosts; this is a third".into(),
            });
        }
        let valid_name = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid_name {
            return Err(Problem {
                span: Some(key.span()),
                key: Some(path),
                message: format!(
                    "a host name must be 1 to 64 letters, digits, \"_\" or \"-\" (it becomes part of file names), found {:?}",
                    truncate(name)
                ),
            });
        }
        let host = Field { path, value }.table(HOST_KEYS)?;
        hosts.push(read_host(name, &host)?);
    }
    if hosts.len() != 2 {
        return Err(field.err(format!(
            "a scenario has exactly two hosts, found {}",
            hosts.len()
        )));
    }
    if let [(a, _), (b, b_span)] = hosts.as_slice() {
        if a.address == b.address {
            return Err(Problem {
                span: Some(b_span.clone()),
                key: Some(join(&join("hosts", &b.name), "address")),
                message: format!(
                    "hosts {:?} and {:?} have the same address {}",
                    a.name, b.name, a.address
                ),
            });
        }
        if !same_subnet(a, b) {
            return Err(Problem {
                span: Some(b_span.clone()),
                key: Some(join(&join("hosts", &b.name), "address")),
                message: format!(
                    "{}/{} is not on the same subnet as host {:?} ({}/{}); there is no router between the two hosts",
                    b.address, b.prefix_len, a.name, a.address, a.prefix_len
                ),
            });
        }
    }
    Ok(hosts)
}

fn mask(prefix_len: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(prefix_len.min(32)))
        .unwrap_or(0)
}

fn same_subnet(a: &HostConfig, b: &HostConfig) -> bool {
    let (ia, ib) = (u32::from(a.address), u32::from(b.address));
    let (ma, mb) = (mask(a.prefix_len), mask(b.prefix_len));
    ia & ma == ib & ma && ia & mb == ib & mb
}

fn read_host(name: &str, t: &Table<'_, '_>) -> R<(HostConfig, Range<usize>)> {
    let address_field = t.require("address")?;
    let (address, prefix_len) = host_address(&address_field)?;
    let mut nic = NicConfig::default();
    if let Some(n) = t.table("nic", NIC_KEYS)? {
        let ring = |f: &Field<'_, '_>| {
            f.count("a descriptor count", MIN_RING.into(), MAX_RING.into())
                .map(|n| n as u16)
        };
        nic.tx_ring = n.or("tx_ring", DEFAULT_RING, ring)?;
        nic.rx_ring = n.or("rx_ring", DEFAULT_RING, ring)?;
        nic.offloads = n.or("offload", Offloads::default(), offloads)?;
        nic.irq_coalesce = n.or("irq_coalesce", DEFAULT_IRQ_COALESCE, |f| f.time_ns(0, MS))?;
        nic.napi_budget = n.or("napi_budget", DEFAULT_NAPI_BUDGET, |f| {
            f.count("a frame count", 1, 4096).map(|n| n as u32)
        })?;
        nic.copybreak = n.or("copybreak", DEFAULT_COPYBREAK, |f| {
            f.size(0, MAX_MTU.into()).map(|n| n as u32)
        })?;
        nic.header_split = n.or("header_split", false, |f| f.boolean())?;
    }
    let mut socket = SocketConfig::default();
    if let Some(s) = t.table("socket", SOCKET_KEYS)? {
        let buf = |f: &Field<'_, '_>| f.size(4 << 10, 1 << 30).map(|n| n as u32);
        socket.sndbuf = s.or("sndbuf", DEFAULT_SOCKBUF, buf)?;
        socket.rcvbuf = s.or("rcvbuf", DEFAULT_SOCKBUF, buf)?;
        socket.nagle = s.or("nagle", false, |f| f.boolean())?;
        socket.congestion = s.or("congestion", Congestion::Cubic, |f| {
            Ok(match f.choice(CONGESTION_NAMES)? {
                "reno" => Congestion::Reno,
                "none" => Congestion::None,
                _ => Congestion::Cubic,
            })
        })?;
    }
    let cpu = match t.table("cpu", CPU_KEYS)? {
        Some(c) => read_cpu(&c)?,
        None => CostModel::default(),
    };
    let host = HostConfig {
        name: name.to_string(),
        address,
        prefix_len,
        nic,
        socket,
        cpu,
    };
    Ok((host, address_field.span()))
}

/// `"192.168.69.1/24"` → address and prefix length.
fn host_address(f: &Field<'_, '_>) -> R<(Ipv4Addr, u8)> {
    const EXPECTED: &str = "an IPv4 address with a prefix length like \"192.168.69.1/24\"";
    let s = f.string(EXPECTED)?;
    let (addr, prefix) = s.split_once('/').unwrap_or((s, ""));
    if addr.contains(':') {
        return Err(f.err(format!(
            "IPv6 addresses are not supported yet (this version supports IPv4, like \"192.168.69.1/24\"), found {}",
            describe(f.value())
        )));
    }
    let Ok(address) = addr.parse::<Ipv4Addr>() else {
        return Err(f.err(format!(
            "expected {EXPECTED}, found {}",
            describe(f.value())
        )));
    };
    if prefix.is_empty() {
        return Err(f.err(format!(
            "expected {EXPECTED}, found {} (the prefix length is missing)",
            describe(f.value())
        )));
    }
    let prefix_len = match prefix.parse::<u8>() {
        Ok(p) if (1..=32).contains(&p) && prefix.bytes().all(|b| b.is_ascii_digit()) => p,
        _ => {
            return Err(f.err(format!(
                "expected a prefix length in 1..=32 after \"/\", found {}",
                describe(f.value())
            )))
        }
    };
    let what = if address.is_unspecified() {
        Some("the unspecified address")
    } else if address.is_loopback() {
        Some("a loopback address")
    } else if address.is_multicast() {
        Some("a multicast address")
    } else if address.is_broadcast() {
        Some("the broadcast address")
    } else if prefix_len <= 30 {
        let host_bits = u32::from(address) & !mask(prefix_len);
        if host_bits == 0 {
            Some("the subnet's network address")
        } else if host_bits == !mask(prefix_len) {
            Some("the subnet's broadcast address")
        } else {
            None
        }
    } else {
        None
    };
    if let Some(what) = what {
        return Err(f.err(format!(
            "{} is {what}, not one a host can have",
            describe(f.value())
        )));
    }
    Ok((address, prefix_len))
}

/// The NIC's `offload` list.
fn offloads(f: &Field<'_, '_>) -> R<Offloads> {
    let DeValue::Array(items) = f.value() else {
        return Err(f.err(format!(
            "expected a list of offloads like [\"tx-checksum\", \"tso\"], found {}",
            describe(f.value())
        )));
    };
    let mut offloads = Offloads::default();
    let mut seen: Vec<&str> = Vec::new();
    for (i, value) in items.iter().enumerate() {
        let item = Field {
            path: format!("{}[{i}]", f.path),
            value,
        };
        let name = item.choice(OFFLOAD_NAMES)?;
        if seen.contains(&name) {
            return Err(item.err(format!("{name:?} is listed twice")));
        }
        seen.push(name);
        match name {
            "tx-checksum" => offloads.tx_checksum = true,
            "rx-checksum" => offloads.rx_checksum = true,
            "tso" => offloads.tso = true,
            "gso" => offloads.gso = true,
            _ => offloads.gro = true,
        }
    }
    Ok(offloads)
}

fn read_cpu(t: &Table<'_, '_>) -> R<CostModel> {
    let d = CostModel::default();
    let time = |f: &Field<'_, '_>| f.time_ns(0, MAX_CPU_COST);
    let per_byte = |f: &Field<'_, '_>| {
        f.time_ps(0, 1_000_000)
            .map(|ps| u64::try_from(ps).unwrap_or(u64::MAX))
    };
    Ok(CostModel {
        copy_ps_per_byte: t.or("copy_bandwidth", d.copy_ps_per_byte, |f| {
            f.bandwidth_ps_per_byte()
        })?,
        syscall: t.or("syscall", d.syscall, time)?,
        page_pin: t.or("page_pin", d.page_pin, time)?,
        page_unpin: t.or("page_unpin", d.page_unpin, time)?,
        checksum_ps_per_byte: t.or("checksum_per_byte", d.checksum_ps_per_byte, per_byte)?,
        desc_write: t.or("desc_write", d.desc_write, time)?,
        doorbell: t.or("doorbell", d.doorbell, time)?,
        irq: t.or("irq", d.irq, time)?,
        per_packet_tx: t.or("per_packet_tx", d.per_packet_tx, time)?,
        per_packet_rx: t.or("per_packet_rx", d.per_packet_rx, time)?,
        napi_poll: t.or("napi_poll", d.napi_poll, time)?,
        gro: t.or("gro", d.gro, time)?,
        skb_alloc: t.or("skb_alloc", d.skb_alloc, time)?,
        page_alloc: t.or("page_alloc", d.page_alloc, time)?,
        dma_latency: t.or("dma_latency", d.dma_latency, time)?,
        dma_ps_per_byte: t.or("dma_latency_per_byte", d.dma_ps_per_byte, per_byte)?,
        pcie_ps_per_byte: t.or("dma_bandwidth", d.pcie_ps_per_byte, |f| {
            f.bandwidth_ps_per_byte()
        })?,
    })
}

fn read_flows(root: &Table<'_, '_>, hosts: &[(HostConfig, Range<usize>)]) -> R<Vec<FlowConfig>> {
    let missing = || Problem {
        span: Some(root.span.clone()),
        key: Some("flow".into()),
        message: "a scenario needs at least one [[flow]]".into(),
    };
    let field = root.get("flow").ok_or_else(missing)?;
    let items = match field.value() {
        DeValue::Array(items) => items,
        DeValue::Table(_) => {
            return Err(field.err(
                "expected an array of tables: write each flow as [[flow]], not [flow]".into(),
            ))
        }
        other => {
            return Err(field.err(format!(
                "expected an array of tables [[flow]], found {}",
                describe(other)
            )))
        }
    };
    if items.is_empty() {
        return Err(field.err("a scenario needs at least one [[flow]]".into()));
    }
    let mut flows = Vec::with_capacity(items.len());
    // Port → index of the flow that uses it.
    let mut ports: HashMap<u16, usize> = HashMap::new();
    for (i, value) in items.iter().enumerate() {
        let item = Field {
            path: format!("flow[{i}]"),
            value,
        };
        let t = item.table(FLOW_KEYS)?;
        let flow = read_flow(i, &t, hosts)?;
        if let Some(first) = ports.insert(flow.port, i) {
            let problem = format!("port {} is already used by flow[{first}]", flow.port);
            return Err(match t.get("port") {
                Some(f) => f.err(problem),
                None => Problem {
                    span: Some(t.span.clone()),
                    key: Some(join(&t.path, "port")),
                    message: format!("{problem} (it is this flow's default, 5001 + {i})"),
                },
            });
        }
        flows.push(flow);
    }
    Ok(flows)
}

/// Index into `hosts` of the host `f` names.
fn host_index(f: &Field<'_, '_>, hosts: &[(HostConfig, Range<usize>)]) -> R<usize> {
    let name = f.string("a host name")?;
    if let Some(i) = hosts.iter().position(|(h, _)| h.name == name) {
        return Ok(i);
    }
    let names: Vec<String> = hosts.iter().map(|(h, _)| format!("{:?}", h.name)).collect();
    Err(f.err(format!(
        "no host named {:?}; the hosts are {}",
        truncate(name),
        names.join(" and ")
    )))
}

fn read_flow(i: usize, t: &Table<'_, '_>, hosts: &[(HostConfig, Range<usize>)]) -> R<FlowConfig> {
    let framing = match t.table("framing", FRAMING_KEYS)? {
        Some(f) => Some(read_framing(&f)?),
        None => None,
    };
    let from = host_index(&t.require("from")?, hosts)?;
    let to_field = t.require("to")?;
    let to = host_index(&to_field, hosts)?;
    if from == to {
        return Err(to_field.err(format!(
            "a flow goes between the two hosts, but `from` and `to` both name {}",
            describe(to_field.value())
        )));
    }
    let default_port = u64::try_from(i)
        .ok()
        .and_then(|i| i.checked_add(5001))
        .filter(|p| *p <= 65535);
    let port = match t.get("port") {
        Some(f) => f.count("a port", 1, 65535)? as u16,
        None => match default_port {
            Some(p) => p as u16,
            None => {
                return Err(Problem {
                    span: Some(t.span.clone()),
                    key: Some(join(&t.path, "port")),
                    message: "too many flows for default ports (5001 + index); give `port`".into(),
                })
            }
        },
    };
    let bytes = t.require("bytes")?.size(1, 1 << 40)?;
    let io_size = |f: &Field<'_, '_>| f.size(1, 1 << 30).map(|n| n as u32);
    let write_size = t.or("write_size", 64 << 10, io_size)?;
    let read_size = t.or("read_size", 64 << 10, io_size)?;
    let send = t.or("send", SendPath::Write, |f| {
        let name = f.choice(SEND_NAMES)?;
        match name {
            "write" => Ok(SendPath::Write),
            "writev" => Ok(SendPath::Writev),
            "msg_zerocopy" => Ok(SendPath::MsgZerocopy),
            "sendfile" => Ok(SendPath::Sendfile),
            "splice" => Ok(SendPath::Splice),
            "io_uring" => Ok(SendPath::IoUring),
            "io_uring_fixed" => Ok(SendPath::IoUringFixed),
            "io_uring_send_zc" => Ok(SendPath::IoUringSendZc),
            _ => Err(f.err(format!("unknown value {name:?}"))),
        }
    })?;
    let recv = t.or("recv", RecvPath::Read, |f| {
        let name = f.choice(RECV_NAMES)?;
        match name {
            "read" => Ok(RecvPath::Read),
            "readv" => Ok(RecvPath::Readv),
            "zerocopy_receive" => Ok(RecvPath::ZerocopyReceive),
            "io_uring_provided" => Ok(RecvPath::IoUringProvided),
            "splice" => Ok(RecvPath::Splice),
            _ => Err(f.err(format!("unknown value {name:?}"))),
        }
    })?;
    let iovecs = t.or("iovecs", 1, |f| {
        f.count("a buffer count", 1, IOV_MAX.into())
            .map(|n| n as u32)
    })?;
    let buffer = match t.table("buffer", BUFFER_KEYS)? {
        Some(b) => read_buffer(&b)?,
        None => BufferConfig::default(),
    };
    let echo = t.or("echo", false, |f| f.boolean())?;
    Ok(FlowConfig {
        echo,
        from: hosts[from].0.name.clone(),
        to: hosts[to].0.name.clone(),
        port,
        bytes,
        write_size,
        read_size,
        send,
        recv,
        iovecs,
        buffer,
        framing,
    })
}

const FRAMING_KEYS: &[&str] = &["kind", "delimiter", "header", "trailer"];
const FRAMING_NAMES: &[&str] = &["length_prefixed", "delimited", "header_body_trailer"];

fn read_framing(t: &Table<'_, '_>) -> R<FramingConfig> {
    let kind = t.require("kind")?;
    let name = kind.choice(FRAMING_NAMES)?;
    let delimiter = t.or("delimiter", b'\n', |f| {
        let d = f.string("a one-byte delimiter like \"\\n\"")?;
        match d.as_bytes() {
            [b] => Ok(*b),
            _ => Err(f.err(format!(
                "expected a one-byte delimiter like \"\\n\", found {d:?}"
            ))),
        }
    })?;
    let part = |f: &Field<'_, '_>| f.size(1, 1 << 20).map(|n| n as u32);
    let header = t.or("header", 16, part)?;
    let trailer = t.or("trailer", 4, part)?;
    Ok(FramingConfig {
        kind: match name {
            "length_prefixed" => FramingKind::LengthPrefixed,
            "header_body_trailer" => FramingKind::HeaderBodyTrailer,
            _ => FramingKind::Delimited,
        },
        delimiter,
        header,
        trailer,
    })
}

fn read_buffer(t: &Table<'_, '_>) -> R<BufferConfig> {
    let d = BufferConfig::default();
    let kind = t.or("kind", d.kind, |f| {
        let name = f.choice(BUFFER_KIND_NAMES)?;
        Ok(match name {
            "vec" => BufferKind::Vec,
            "array" => BufferKind::Array,
            "string" => BufferKind::String,
            "bytes" => BufferKind::Bytes,
            "dynamic_string" => BufferKind::DynamicString,
            "dynamic_vector" => BufferKind::DynamicVector,
            _ => BufferKind::Streambuf,
        })
    })?;
    let align = t.or("align", d.align, |f| {
        Ok(match f.choice(ALIGN_NAMES)? {
            "cacheline" => Align::Cacheline,
            "none" => Align::None,
            _ => Align::Page,
        })
    })?;
    let pool = t.or("pool", d.pool, |f| {
        let name = f.choice(POOL_NAMES)?;
        match name {
            "none" => Ok(PoolKind::None),
            "fixed" => Ok(PoolKind::Fixed),
            "dynamic" => Ok(PoolKind::Dynamic),
            "thread_local" => Ok(PoolKind::ThreadLocal),
            _ => Ok(PoolKind::Recycling),
        }
    })?;
    let pool_size = t.or("pool_size", DEFAULT_POOL_SIZE, |f| {
        f.count("a buffer count", 1, 65536).map(|n| n as u32)
    })?;
    let reuse = t.or("reuse", d.reuse, |f| {
        Ok(match f.choice(REUSE_NAMES)? {
            "immediately" => Reuse::Immediately,
            _ => Reuse::AfterCompletion,
        })
    })?;
    Ok(BufferConfig {
        kind,
        align,
        pool,
        pool_size,
        reuse,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SCENARIO.md example, less the parts tested on their own
    /// (`offload` is empty, no `[flow.framing]`, no `[tap]`).
    const EXAMPLE: &str = r#"[scenario]
name = "zero_copy"            # required; also the default capture folder name
description = "..."           # one paragraph: what this lesson shows
seed = 1                      # default 1; same seed => byte-identical outputs
time_limit = "10s"            # virtual-time cap; hitting it is a reported error

[link]                        # the wire between the two hosts
rate = "10Gbit/s"
delay = "10us"                # one-way propagation delay
mtu = 1500                    # IP MTU (Ethernet frame = mtu + 14)
queue = "1MiB"                # optional drop-tail queue in front of the wire

[link.faults]                 # optional; probabilities per frame, seeded
loss = 0.0
duplicate = 0.0
reorder = 0.0
reorder_delay = "50us"
corrupt = 0.0                 # one flipped bit; must be caught by checksums

[hosts.sender]                # exactly two hosts, any names (one with [tap])
address = "192.168.69.1/24"   # simulated addresses: never real traffic

[hosts.sender.nic]
tx_ring = 256                 # descriptors
rx_ring = 256
offload = []                  # any subset; [] = none
irq_coalesce = "8us"          # 0 = one interrupt per completion
napi_budget = 64
copybreak = 256               # Rx frames up to this size are copied into a new sk_buff
header_split = false          # NIC writes headers and payload to separate buffers

[hosts.sender.socket]
sndbuf = "4MiB"
rcvbuf = "4MiB"
nagle = false
congestion = "cubic"          # cubic | reno | none

[hosts.sender.cpu]            # cost-model overrides; defaults in COSTS.md
copy_bandwidth = "10GB/s"
syscall = "200ns"
checksum_per_byte = "0.25ns"

[hosts.receiver]
address = "192.168.69.2/24"

[[flow]]
from = "sender"
to = "receiver"
port = 5001
bytes = "64MiB"               # payload to move
write_size = "64KiB"          # bytes per send call
read_size = "64KiB"           # bytes per receive call
send = "msg_zerocopy"         # write | writev | msg_zerocopy | sendfile | splice |
                              # io_uring | io_uring_fixed | io_uring_send_zc
recv = "read"                 # read | readv | zerocopy_receive | io_uring_provided | splice
iovecs = 1                    # buffers per call for writev / readv (<= 1024)

[flow.buffer]                 # the application's send buffers
kind = "vec"                  # array | vec | string | bytes | dynamic_string |
                              # dynamic_vector | streambuf
align = "page"                # page | cacheline | none
pool = "fixed"                # none | fixed | dynamic | thread_local | recycling
pool_size = 32
reuse = "after_completion"    # after_completion | immediately (demonstrates the
                              # lifetime bug: the wire must then show the damage)
"#;

    /// Only the required keys. Line numbers below refer to this layout.
    const MINIMAL: &str = "[scenario]
name = \"t\"

[hosts.a]
address = \"10.0.0.1/24\"

[hosts.b]
address = \"10.0.0.2/24\"

[[flow]]
from = \"a\"
to = \"b\"
bytes = \"1MiB\"
";

    fn ok(src: &str) -> Scenario {
        match parse(src.as_bytes(), "t.toml") {
            Ok(s) => s,
            Err(e) => panic!("expected success, got: {e}"),
        }
    }

    fn err(src: &str) -> ScenarioError {
        match parse(src.as_bytes(), "t.toml") {
            Ok(s) => panic!("expected an error, got {s:?}"),
            Err(e) => e,
        }
    }

    /// MINIMAL with `line` appended to the table whose header is `header`
    /// (or to the end when `header` is empty).
    fn minimal_with(header: &str, line: &str) -> String {
        let mut out = String::new();
        let mut added = false;
        for l in MINIMAL.lines() {
            out.push_str(l);
            out.push('\n');
            if !added && !header.is_empty() && l == header {
                out.push_str(line);
                out.push('\n');
                added = true;
            }
        }
        if !added {
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    /// The error for MINIMAL with `line` inserted as the first line of the
    /// table `header`: such a line is line `header_line + 1`.
    fn err_with(header: &str, line: &str) -> ScenarioError {
        err(&minimal_with(header, line))
    }

    fn assert_at(e: &ScenarioError, line: usize, column: usize, key: &str) {
        assert_eq!(
            (e.line, e.column, e.key.as_deref()),
            (Some(line), Some(column), Some(key)),
            "wrong position or key in: {e}"
        );
    }

    // --- whole files -----------------------------------------------------

    #[test]
    fn scenario_md_example_parses_to_expected_values() {
        let s = ok(EXAMPLE);
        assert_eq!(s.name, "zero_copy");
        assert_eq!(s.description, "...");
        assert_eq!(s.seed, 1);
        assert_eq!(s.time_limit, 10_000_000_000);
        assert_eq!(s.link.rate_bps, 10_000_000_000);
        assert_eq!(s.link.delay, 10_000);
        assert_eq!(s.link.mtu, 1500);
        assert_eq!(s.link.queue, Some(1 << 20));
        let f = &s.link.faults;
        assert_eq!(
            (f.loss, f.duplicate, f.reorder, f.corrupt),
            (0.0, 0.0, 0.0, 0.0)
        );
        assert_eq!(f.reorder_delay, 50_000);

        assert_eq!(s.hosts.len(), 2);
        let sender = &s.hosts[0];
        assert_eq!(sender.name, "sender");
        assert_eq!(sender.address, Ipv4Addr::new(192, 168, 69, 1));
        assert_eq!(sender.prefix_len, 24);
        assert_eq!((sender.nic.tx_ring, sender.nic.rx_ring), (256, 256));
        assert_eq!(sender.nic.offloads, Offloads::default());
        assert_eq!(sender.nic.irq_coalesce, 8_000);
        assert_eq!(sender.nic.napi_budget, 64);
        assert_eq!(sender.nic.copybreak, 256);
        assert!(!sender.nic.header_split);
        assert_eq!(
            (sender.socket.sndbuf, sender.socket.rcvbuf),
            (4 << 20, 4 << 20)
        );
        assert!(!sender.socket.nagle);
        assert_eq!(sender.socket.congestion, Congestion::Cubic);
        let cpu = CostModel {
            copy_ps_per_byte: 100,
            syscall: 200,
            checksum_ps_per_byte: 250,
            ..CostModel::default()
        };
        assert_eq!(sender.cpu, cpu);

        let receiver = &s.hosts[1];
        assert_eq!(receiver.name, "receiver");
        assert_eq!(receiver.address, Ipv4Addr::new(192, 168, 69, 2));
        assert_eq!(receiver.nic.irq_coalesce, DEFAULT_IRQ_COALESCE);
        assert_eq!(receiver.cpu, CostModel::default());

        assert_eq!(s.flows.len(), 1);
        let flow = &s.flows[0];
        assert_eq!(
            (&*flow.from, &*flow.to, flow.port),
            ("sender", "receiver", 5001)
        );
        assert_eq!(flow.bytes, 64 << 20);
        assert_eq!((flow.write_size, flow.read_size), (64 << 10, 64 << 10));
        assert_eq!(flow.send, SendPath::MsgZerocopy);
        assert_eq!(flow.recv, RecvPath::Read);
        assert_eq!(flow.buffer.kind, BufferKind::Vec);
        assert_eq!(flow.buffer.align, Align::Page);
        assert_eq!(flow.buffer.pool, PoolKind::Fixed);
        assert_eq!(flow.buffer.pool_size, 32);
    }

    #[test]
    fn reference_docs_example_parses() {
        let doc = include_str!("../docs/scenario.md");
        let example = doc
            .split("```toml\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .unwrap_or("");
        let s = ok(example);
        assert_eq!(s.name, "zero_copy");
        assert_eq!(s.flows[0].send, SendPath::MsgZerocopy);
        assert_eq!(s.flows[0].buffer.pool_size, 32);
    }

    #[test]
    fn omitted_keys_take_documented_defaults() {
        let s = ok(MINIMAL);
        assert_eq!(s.description, "");
        assert_eq!(s.seed, 1);
        assert_eq!(s.time_limit, 10_000_000_000);
        assert_eq!(s.link.rate_bps, 10_000_000_000);
        assert_eq!(s.link.delay, 10_000);
        assert_eq!(s.link.mtu, 1500);
        assert_eq!(s.link.queue, None);
        assert_eq!(s.link.faults.loss, 0.0);
        assert_eq!(s.link.faults.reorder_delay, 50_000);
        for h in &s.hosts {
            assert_eq!(h.nic.tx_ring, DEFAULT_RING);
            assert_eq!(h.nic.rx_ring, DEFAULT_RING);
            assert_eq!(h.nic.offloads, Offloads::default());
            assert_eq!(h.nic.irq_coalesce, DEFAULT_IRQ_COALESCE);
            assert_eq!(h.nic.napi_budget, DEFAULT_NAPI_BUDGET);
            assert_eq!(h.nic.copybreak, DEFAULT_COPYBREAK);
            assert!(!h.nic.header_split);
            assert_eq!(h.socket.sndbuf, DEFAULT_SOCKBUF);
            assert_eq!(h.socket.rcvbuf, DEFAULT_SOCKBUF);
            assert!(!h.socket.nagle);
            assert_eq!(h.socket.congestion, Congestion::Cubic);
            assert_eq!(h.cpu, CostModel::default());
        }
        let f = &s.flows[0];
        assert_eq!(f.port, 5001);
        assert_eq!(f.bytes, 1 << 20);
        assert_eq!((f.write_size, f.read_size), (65536, 65536));
        assert_eq!(f.send, SendPath::Write);
        assert_eq!(f.recv, RecvPath::Read);
        assert_eq!(f.buffer.kind, BufferKind::Vec);
        assert_eq!(f.buffer.align, Align::Page);
        assert_eq!(f.buffer.pool, PoolKind::Fixed);
        assert_eq!(f.buffer.pool_size, DEFAULT_POOL_SIZE);
    }

    #[test]
    fn hosts_keep_the_order_of_the_file() {
        let src = MINIMAL
            .replace("[hosts.a]", "[hosts.zeta]")
            .replace("[hosts.b]", "[hosts.alpha]")
            .replace("from = \"a\"", "from = \"alpha\"")
            .replace("to = \"b\"", "to = \"zeta\"");
        let s = ok(&src);
        assert_eq!(s.hosts[0].name, "zeta");
        assert_eq!(s.hosts[1].name, "alpha");
        assert_eq!((&*s.flows[0].from, &*s.flows[0].to), ("alpha", "zeta"));
    }

    #[test]
    fn flows_get_default_ports_by_index_and_indexes_into_hosts() {
        let src = format!("{MINIMAL}\n[[flow]]\nfrom = \"b\"\nto = \"a\"\nbytes = 10\n");
        let s = ok(&src);
        assert_eq!(s.flows[1].port, 5002);
        assert_eq!((&*s.flows[1].from, &*s.flows[1].to), ("b", "a"));
        assert_eq!(s.flows[1].bytes, 10);
    }

    #[test]
    fn cpu_overrides_convert_rates_and_fractional_times() {
        let s = ok(&minimal_with(
            "[hosts.a]",
            "cpu = { copy_bandwidth = \"20GB/s\", checksum_per_byte = \"0.1ns\", \
             dma_bandwidth = \"1GB/s\", irq = \"1.5us\", dma_latency = 0, page_pin = \"75ns\" }",
        ));
        let cpu = &s.hosts[0].cpu;
        assert_eq!(cpu.copy_ps_per_byte, 50);
        assert_eq!(cpu.checksum_ps_per_byte, 100);
        assert_eq!(cpu.pcie_ps_per_byte, 1000);
        assert_eq!(cpu.irq, 1500);
        assert_eq!(cpu.dma_latency, 0);
        assert_eq!(cpu.page_pin, 75);
        assert_eq!(cpu.syscall, CostModel::default().syscall);
        assert_eq!(s.hosts[1].cpu, CostModel::default());
    }

    #[test]
    fn other_choices_map_to_their_variants() {
        let mut src = minimal_with(
            "[hosts.b]",
            "socket = { congestion = \"reno\", nagle = true }",
        );
        src.push_str("[flow.buffer]\nkind = \"array\"\nalign = \"cacheline\"\npool = \"none\"\n");
        let s = ok(&src);
        assert_eq!(s.hosts[1].socket.congestion, Congestion::Reno);
        assert!(s.hosts[1].socket.nagle);
        let b = &s.flows[0].buffer;
        assert_eq!(
            (b.kind, b.align, b.pool),
            (BufferKind::Array, Align::Cacheline, PoolKind::None)
        );
        let s = ok(&minimal_with("[hosts.a]", "socket.congestion = \"none\""));
        assert_eq!(s.hosts[0].socket.congestion, Congestion::None);
    }

    // --- units -----------------------------------------------------------

    #[test]
    fn sizes_accept_integers_si_and_binary_units() {
        let cases: &[(&str, u128)] = &[
            ("1500", 1500),
            ("512B", 512),
            ("64KiB", 65536),
            ("4MiB", 4 << 20),
            ("1GiB", 1 << 30),
            ("1TiB", 1 << 40),
            ("10kB", 10_000),
            ("1MB", 1_000_000),
            ("1GB", 1_000_000_000),
            ("1.5MiB", 3 << 19),
            ("0.5KiB", 512),
            ("2.50kB", 2500),
        ];
        for (s, n) in cases {
            assert_eq!(scaled(s, SIZE_UNITS), Ok(*n), "{s}");
        }
        let s = ok(&format!("{MINIMAL}[link]\nmtu = \"9000\"\nqueue = 2048\n"));
        assert_eq!((s.link.mtu, s.link.queue), (9000, Some(2048)));
    }

    #[test]
    fn times_accept_ns_us_ms_s_with_exact_fractions() {
        let cases: &[(&str, u128)] = &[
            ("200ns", 200_000),
            ("10us", 10_000_000),
            ("10µs", 10_000_000),
            ("1.5ms", 1_500_000_000),
            ("2s", 2_000_000_000_000),
            ("0.3s", 300_000_000_000),
            ("0.25ns", 250),
            ("250ps", 250),
        ];
        for (s, ps) in cases {
            assert_eq!(scaled(s, TIME_UNITS), Ok(*ps), "{s}");
        }
    }

    #[test]
    fn rates_accept_bits_and_bytes_per_second() {
        let cases: &[(&str, u128)] = &[
            ("10Gbit/s", 10_000_000_000),
            ("100Mbit/s", 100_000_000),
            ("1kbit/s", 1000),
            ("10GB/s", 80_000_000_000),
            ("2.5Gbit/s", 2_500_000_000),
            ("1Tbit/s", 1_000_000_000_000),
        ];
        for (s, bps) in cases {
            assert_eq!(scaled(s, RATE_UNITS), Ok(*bps), "{s}");
        }
    }

    #[test]
    fn unit_syntax_is_strict() {
        for s in [
            "64 kb", "64kb", "64KB", "k", "", ".5s", "5.s", "1e3", "-1", "+1", " 1", "1_000",
            "1..5ms",
        ] {
            assert_eq!(
                scaled(
                    s,
                    SIZE_UNITS
                        .iter()
                        .chain(TIME_UNITS)
                        .copied()
                        .collect::<Vec<_>>()
                        .as_slice()
                ),
                Err(NumError::Syntax),
                "{s:?}"
            );
        }
        assert_eq!(scaled("1.5B", SIZE_UNITS), Err(NumError::NotWhole));
        assert_eq!(scaled("0.0001ps", TIME_UNITS), Err(NumError::NotWhole));
        assert_eq!(
            scaled("999999999999999999999999999999999999999999", SIZE_UNITS),
            Err(NumError::TooLarge)
        );
        assert_eq!(
            scaled("340282366920938463463374607431768211455TiB", SIZE_UNITS),
            Err(NumError::TooLarge)
        );
    }

    #[test]
    fn misspelled_size_names_the_expected_forms() {
        let e = err_with("[hosts.a]", "socket.sndbuf = \"64 kb\"");
        assert_at(&e, 5, 17, "hosts.a.socket.sndbuf");
        assert_eq!(
            e.message,
            "expected a size like 1500, \"64KiB\" or \"4MiB\", found \"64 kb\""
        );
    }

    #[test]
    fn fraction_below_the_unit_of_a_key_is_refused() {
        let e = err_with("[hosts.a]", "cpu.syscall = \"1.5ns\"");
        assert_at(&e, 5, 15, "hosts.a.cpu.syscall");
        assert_eq!(e.message, "\"1.5ns\" is not a whole number of nanoseconds");
        let e = err_with("[[flow]]", "write_size = \"1.5B\"");
        assert_eq!(e.message, "\"1.5B\" is not a whole number of bytes");
        let e = err(&(MINIMAL.to_string() + "[link]\nrate = \"1.5bit/s\"\n"));
        assert_eq!(
            e.message,
            "\"1.5bit/s\" is not a whole number of bits per second"
        );
    }

    #[test]
    fn time_without_unit_is_refused_but_zero_is_allowed() {
        let e = err(&(MINIMAL.to_string() + "[link]\ndelay = 10\n"));
        assert_at(&e, 15, 9, "link.delay");
        assert!(e.message.contains("a time needs a unit"), "{e}");
        let s = ok(&(MINIMAL.to_string() + "[link]\ndelay = 0\n"));
        assert_eq!(s.link.delay, 0);
        let s = ok(&minimal_with("[hosts.a]", "nic.irq_coalesce = 0"));
        assert_eq!(s.hosts[0].nic.irq_coalesce, 0);
    }

    #[test]
    fn rate_without_unit_is_refused() {
        let e = err(&(MINIMAL.to_string() + "[link]\nrate = 1000000\n"));
        assert_at(&e, 15, 8, "link.rate");
        assert_eq!(
            e.message,
            "expected a rate like \"10Gbit/s\", \"100Mbit/s\" or \"10GB/s\", found 1000000 (a rate needs a unit)"
        );
    }

    // --- bounds ----------------------------------------------------------

    #[test]
    fn ring_out_of_range_names_the_bounds() {
        let e = err(&(MINIMAL.to_string() + "[hosts.a.nic]\ntx_ring = 0\n"));
        assert_at(&e, 15, 11, "hosts.a.nic.tx_ring");
        assert_eq!(
            e.message,
            "expected a descriptor count in 32..=4096, found 0"
        );
        assert_eq!(
            e.to_string(),
            "t.toml:15:11: key `hosts.a.nic.tx_ring`: expected a descriptor count in 32..=4096, found 0"
        );
    }

    #[test]
    fn values_past_sane_bounds_are_errors() {
        let cases: &[(&str, &str, &str, &str)] = &[
            ("[link]", "mtu = 9001", "link.mtu", "expected a size in 576..=9000 bytes, found 9001"),
            ("[link]", "mtu = \"10KiB\"", "link.mtu", "expected a size in 576..=9000 bytes, found \"10KiB\""),
            ("[link]", "rate = \"2Tbit/s\"", "link.rate", "expected a rate in 1kbit/s..=1Tbit/s, found \"2Tbit/s\""),
            ("[link]", "rate = \"0bit/s\"", "link.rate", "expected a rate in 1kbit/s..=1Tbit/s, found \"0bit/s\""),
            ("[link]", "delay = \"-1us\"", "link.delay", "expected a time like \"200ns\", \"10us\" or \"1.5ms\", found \"-1us\" (it cannot be negative)"),
            ("[link]", "delay = \"11s\"", "link.delay", "expected a time in 0..=10s, found \"11s\""),
            ("[link]", "queue = \"1TiB\"", "link.queue", "expected a size in 1KiB..=1GiB, found \"1TiB\""),
            ("[link]", "queue = -1", "link.queue", "expected a size like 1500, \"64KiB\" or \"4MiB\", found -1 (sizes cannot be negative)"),
            ("[link.faults]", "loss = 1.5", "link.faults.loss", "expected a probability in 0.0..=1.0, found 1.5"),
            ("[link.faults]", "corrupt = -0.1", "link.faults.corrupt", "expected a probability in 0.0..=1.0, found -0.1"),
            ("[link.faults]", "reorder = nan", "link.faults.reorder", "expected a probability in 0.0..=1.0, found nan"),
            ("[scenario]", "time_limit = 0", "scenario.time_limit", "expected a time in 1us..=86400s, found 0"),
            ("[scenario]", "time_limit = \"2days\"", "scenario.time_limit", "expected a time like \"200ns\", \"10us\" or \"1.5ms\", found \"2days\""),
            ("[scenario]", "seed = -1", "scenario.seed", "expected a seed in 0..=9223372036854775807, found -1"),
            ("[hosts.a.nic]", "rx_ring = 8192", "hosts.a.nic.rx_ring", "expected a descriptor count in 32..=4096, found 8192"),
            ("[hosts.a.nic]", "napi_budget = 0", "hosts.a.nic.napi_budget", "expected a frame count in 1..=4096, found 0"),
            ("[hosts.a.nic]", "copybreak = 9001", "hosts.a.nic.copybreak", "expected a size in 0..=9000 bytes, found 9001"),
            ("[hosts.a.nic]", "irq_coalesce = \"2ms\"", "hosts.a.nic.irq_coalesce", "expected a time in 0..=1ms, found \"2ms\""),
            ("[hosts.a.socket]", "sndbuf = \"2KiB\"", "hosts.a.socket.sndbuf", "expected a size in 4KiB..=1GiB, found \"2KiB\""),
            ("[hosts.a.socket]", "rcvbuf = \"2GiB\"", "hosts.a.socket.rcvbuf", "expected a size in 4KiB..=1GiB, found \"2GiB\""),
            ("[hosts.a.cpu]", "copy_bandwidth = \"2TB/s\"", "hosts.a.cpu.copy_bandwidth", "expected a rate in 8Mbit/s..=8Tbit/s, found \"2TB/s\""),
            ("[hosts.a.cpu]", "syscall = \"1s\"", "hosts.a.cpu.syscall", "expected a time in 0..=10ms, found \"1s\""),
            ("[hosts.a.cpu]", "checksum_per_byte = \"2us\"", "hosts.a.cpu.checksum_per_byte", "expected a time in 0..=1us, found \"2us\""),
            ("[flow.buffer]", "pool_size = 0", "flow[0].buffer.pool_size", "expected a buffer count in 1..=65536, found 0"),
        ];
        for (header, line, key, message) in cases {
            // [scenario] exists already: add to it; other tables go at the end.
            let (src, at) = if *header == "[scenario]" {
                (minimal_with(header, line), 2)
            } else {
                (format!("{MINIMAL}{header}\n{line}\n"), 15)
            };
            let e = err(&src);
            assert_eq!(e.line, Some(at), "{src}");
            assert_eq!(e.key.as_deref(), Some(*key), "{src}");
            assert_eq!(&e.message, message, "{src}");
        }
    }

    #[test]
    fn flow_sizes_have_bounds() {
        let e = err(&MINIMAL.replace("bytes = \"1MiB\"", "bytes = 0"));
        assert_at(&e, 13, 9, "flow[0].bytes");
        assert_eq!(e.message, "expected a size in 1B..=1TiB, found 0");
        let e = err(&MINIMAL.replace("bytes = \"1MiB\"", "bytes = \"2TiB\""));
        assert_eq!(e.message, "expected a size in 1B..=1TiB, found \"2TiB\"");
        let e = err_with("[[flow]]", "read_size = \"2GiB\"");
        assert_at(&e, 11, 13, "flow[0].read_size");
        let e = err_with("[[flow]]", "port = 0");
        assert_eq!(e.message, "expected a port in 1..=65535, found 0");
        let e = err_with("[[flow]]", "port = 65536");
        assert_eq!(e.message, "expected a port in 1..=65535, found 65536");
    }

    #[test]
    fn numbers_in_quotes_for_counts_get_a_hint() {
        let e = err_with("[hosts.a]", "nic.tx_ring = \"256\"");
        assert_eq!(
            e.message,
            "expected a descriptor count in 32..=4096, found \"256\" (write numbers without quotes)"
        );
    }

    #[test]
    fn absurd_integers_do_not_overflow() {
        let e = err_with("[[flow]]", "write_size = 0x7fffffffffffffff");
        assert_eq!(
            e.message,
            "expected a size in 1B..=1GiB, found 0x7fffffffffffffff"
        );
        let e = err_with("[hosts.a]", "nic.tx_ring = 99999999999999999999999");
        assert_at(&e, 5, 15, "hosts.a.nic.tx_ring");
    }

    // --- error classes: position and key path ------------------------------

    #[test]
    fn syntax_error_has_line_and_column_but_no_key() {
        let e = err("[scenario]\nname = \"t\"\nseed = \n");
        assert_eq!(
            (e.line, e.column, e.key.as_deref()),
            (Some(3), Some(8), None)
        );
        assert!(e.message.starts_with("invalid TOML: "), "{e}");
    }

    #[test]
    fn duplicate_key_names_the_key() {
        let e = err("[scenario]\nname = \"t\"\nname = \"u\"\n");
        assert_eq!((e.line, e.column), (Some(3), Some(1)));
        assert_eq!(e.message, "invalid TOML: duplicate key \"name\"");
    }

    #[test]
    fn unknown_key_lists_the_expected_keys() {
        let e = err_with("[hosts.a]", "nic.tx_rign = 64");
        assert_at(&e, 5, 5, "hosts.a.nic.tx_rign");
        assert_eq!(
            e.message,
            "unknown key \"tx_rign\" in [hosts.a.nic] (did you mean `tx_ring`?); expected one of: \
             tx_ring, rx_ring, offload, irq_coalesce, napi_budget, copybreak, header_split"
        );
        let e = err("colour = 1\n");
        assert_at(&e, 1, 1, "colour");
        assert_eq!(
            e.message,
            "unknown key \"colour\" in the top-level table; expected one of: scenario, link, hosts, flow, tap"
        );
        let e = err_with("[[flow]]", "bites = 5");
        assert_at(&e, 11, 1, "flow[0].bites");
        assert!(
            e.message.contains("in [[flow]] (did you mean `bytes`?)"),
            "{e}"
        );
        let e = err_with("[[flow]]", "buffer = { size = 5 }");
        assert_at(&e, 11, 12, "flow[0].buffer.size");
        assert!(e.message.contains("in [flow.buffer]"), "{e}");
    }

    #[test]
    fn odd_unknown_keys_are_quoted_in_the_path() {
        let e = err_with("[scenario]", "\"a b.c\" = 1");
        assert_at(&e, 2, 1, "scenario.\"a b.c\"");
    }

    #[test]
    fn wrong_types_say_what_was_expected_and_found() {
        let e = err_with("[hosts.a]", "socket.nagle = \"yes\"");
        assert_at(&e, 5, 16, "hosts.a.socket.nagle");
        assert_eq!(e.message, "expected true or false, found \"yes\"");
        let e = err_with("[scenario]", "description = 5");
        assert_eq!(e.message, "expected a string, found 5");
        let e = err(&MINIMAL.replace("name = \"t\"", "name = 1979-05-27"));
        assert_at(&e, 2, 8, "scenario.name");
        assert_eq!(
            e.message,
            "expected a string, found the date-time 1979-05-27"
        );
        let e = err(&format!("link = 5\n{MINIMAL}"));
        assert_at(&e, 1, 8, "link");
        assert_eq!(e.message, "expected a table, found 5");
        let e = err_with("[hosts.a]", "nic = [1]");
        assert_eq!(e.message, "expected a table, found an array");
    }

    #[test]
    fn missing_scenario_name_points_at_the_scenario_table() {
        let e = err(&MINIMAL.replace("name = \"t\"\n", "seed = 2\n"));
        assert_at(&e, 1, 1, "scenario.name");
        assert_eq!(e.message, "missing required key `name` in [scenario]");
    }

    #[test]
    fn missing_scenario_table_points_at_the_top() {
        let e = err(&MINIMAL.replace("[scenario]\nname = \"t\"\n", ""));
        assert_at(&e, 1, 1, "scenario");
    }

    #[test]
    fn missing_host_address_points_at_the_host_table() {
        let e = err(&MINIMAL.replace("address = \"10.0.0.2/24\"\n", "nic.tx_ring = 64\n"));
        assert_at(&e, 7, 1, "hosts.b.address");
        assert_eq!(e.message, "missing required key `address` in [hosts.b]");
    }

    #[test]
    fn missing_flow_keys_point_at_the_flow_table() {
        for (key, line) in [
            ("from", "from = \"a\"\n"),
            ("to", "to = \"b\"\n"),
            ("bytes", "bytes = \"1MiB\"\n"),
        ] {
            let e = err(&MINIMAL.replace(line, ""));
            assert_at(&e, 10, 1, &format!("flow[0].{key}"));
            assert_eq!(
                e.message,
                format!("missing required key `{key}` in [[flow]]")
            );
        }
        let second = format!("{MINIMAL}\n[[flow]]\nfrom = \"b\"\nto = \"a\"\n");
        let e = err(&second);
        assert_at(&e, 15, 1, "flow[1].bytes");
    }

    #[test]
    fn missing_hosts_or_flows_are_errors() {
        let e = err("[scenario]\nname = \"t\"\n");
        assert_at(&e, 1, 1, "hosts");
        let e = err(MINIMAL.split("[[flow]]").next().unwrap_or(""));
        assert_at(&e, 1, 1, "flow");
        assert_eq!(e.message, "a scenario needs at least one [[flow]]");
        let e = err(&MINIMAL.replace("[[flow]]", "[flow]"));
        assert_at(&e, 10, 1, "flow");
        assert!(e.message.contains("write each flow as [[flow]]"), "{e}");
    }

    #[test]
    fn flow_naming_an_unknown_host_is_an_error() {
        let e = err(&MINIMAL.replace("to = \"b\"", "to = \"bee\""));
        assert_at(&e, 12, 6, "flow[0].to");
        assert_eq!(
            e.message,
            "no host named \"bee\"; the hosts are \"a\" and \"b\""
        );
    }

    #[test]
    fn flow_from_a_host_to_itself_is_an_error() {
        let e = err(&MINIMAL.replace("to = \"b\"", "to = \"a\""));
        assert_at(&e, 12, 6, "flow[0].to");
    }

    #[test]
    fn ports_used_twice_are_errors_at_the_second_use() {
        let src =
            format!("{MINIMAL}\n[[flow]]\nfrom = \"b\"\nto = \"a\"\nbytes = 1\nport = 5001\n");
        let e = err(&src);
        assert_at(&e, 19, 8, "flow[1].port");
        assert_eq!(e.message, "port 5001 is already used by flow[0]");
        // Explicit 5002 on the first flow collides with the second's default.
        let src = format!(
            "{}\n[[flow]]\nfrom = \"b\"\nto = \"a\"\nbytes = 1\n",
            minimal_with("[[flow]]", "port = 5002")
        );
        let e = err(&src);
        assert_at(&e, 16, 1, "flow[1].port");
        assert!(
            e.message
                .starts_with("port 5002 is already used by flow[0]"),
            "{e}"
        );
    }

    #[test]
    fn hosts_must_be_exactly_two() {
        let one = MINIMAL.replace("[hosts.b]\naddress = \"10.0.0.2/24\"\n", "");
        let e = err(&one);
        assert_at(&e, 4, 2, "hosts");
        assert_eq!(e.message, "a scenario has exactly two hosts, found 1");
        let three = minimal_with("", "[hosts.c]\naddress = \"10.0.0.3/24\"");
        let e = err(&three);
        assert_at(&e, 14, 8, "hosts.c");
    }

    #[test]
    fn hosts_with_the_same_address_are_an_error_at_the_second() {
        let e = err(&MINIMAL.replace("10.0.0.2/24", "10.0.0.1/24"));
        assert_at(&e, 8, 11, "hosts.b.address");
        assert!(e.message.contains("same address 10.0.0.1"), "{e}");
    }

    #[test]
    fn hosts_on_different_subnets_are_an_error() {
        let e = err(&MINIMAL.replace("10.0.0.2/24", "10.0.1.2/24"));
        assert_at(&e, 8, 11, "hosts.b.address");
    }

    #[test]
    fn host_addresses_need_ipv4_and_a_prefix() {
        let cases = [
            ("10.0.0.2", "(the prefix length is missing)"),
            ("10.0.0.2/0", "expected a prefix length in 1..=32"),
            ("10.0.0.2/33", "expected a prefix length in 1..=32"),
            ("10.0.0.2/+8", "expected a prefix length in 1..=32"),
            (
                "10.0.0.256/24",
                "expected an IPv4 address with a prefix length",
            ),
            ("fe80::1/64", "IPv6 addresses are not supported yet"),
            ("10.0.0.0/24", "the subnet's network address"),
            ("10.0.0.255/24", "the subnet's broadcast address"),
            ("127.0.0.1/8", "a loopback address"),
        ];
        for (addr, needle) in cases {
            let e = err(&MINIMAL.replace("10.0.0.2/24", addr));
            assert_at(&e, 8, 11, "hosts.b.address");
            assert!(e.message.contains(needle), "{addr}: {e}");
        }
        let s = ok(&MINIMAL
            .replace("10.0.0.1/24", "10.0.0.1/31")
            .replace("10.0.0.2/24", "10.0.0.0/31"));
        assert_eq!(s.hosts[1].prefix_len, 31);
    }

    #[test]
    fn host_names_must_be_usable_in_file_names() {
        let e = err(&MINIMAL.replace("[hosts.b]", "[hosts.\"b/c\"]"));
        assert_at(&e, 7, 8, "hosts.\"b/c\"");
        let e = err(&MINIMAL.replace("[hosts.b]", "[hosts.\"\"]"));
        assert_at(&e, 7, 8, "hosts.\"\"");
    }

    #[test]
    fn scenario_name_must_be_usable_as_a_folder() {
        for bad in ["", "..", "a/b"] {
            let e = err(&MINIMAL.replace("name = \"t\"", &format!("name = {bad:?}")));
            assert_at(&e, 2, 8, "scenario.name");
        }
        assert_eq!(
            ok(&MINIMAL.replace("name = \"t\"", "name = \"zero copy, 2\"")).name,
            "zero copy, 2"
        );
    }

    // --- features this version refuses -------------------------------------

    #[test]
    fn every_send_and_receive_path_parses() {
        for (name, path) in [
            ("write", SendPath::Write),
            ("writev", SendPath::Writev),
            ("msg_zerocopy", SendPath::MsgZerocopy),
            ("sendfile", SendPath::Sendfile),
            ("splice", SendPath::Splice),
            ("io_uring", SendPath::IoUring),
            ("io_uring_fixed", SendPath::IoUringFixed),
            ("io_uring_send_zc", SendPath::IoUringSendZc),
        ] {
            let s = ok(&minimal_with("[[flow]]", &format!("send = {name:?}")));
            assert_eq!(s.flows[0].send, path);
        }
        for (name, path) in [
            ("read", RecvPath::Read),
            ("readv", RecvPath::Readv),
            ("io_uring_provided", RecvPath::IoUringProvided),
            ("splice", RecvPath::Splice),
        ] {
            let s = ok(&minimal_with("[[flow]]", &format!("recv = {name:?}")));
            assert_eq!(s.flows[0].recv, path);
        }
        let s = ok(&minimal_with(
            "[[flow]]",
            "iovecs = 8\nbuffer.reuse = \"immediately\"",
        ));
        assert_eq!(s.flows[0].iovecs, 8);
        assert_eq!(s.flows[0].buffer.reuse, Reuse::Immediately);
        // Zero-copy receive needs header split on the receiving NIC.
        let e = err_with("[[flow]]", "recv = \"zerocopy_receive\"");
        assert!(e.message.contains("header_split"), "{e}");
    }

    #[test]
    fn send_path_outside_the_contract_is_an_unknown_value() {
        let e = err_with("[[flow]]", "send = \"carrier_pigeon\"");
        assert_at(&e, 11, 8, "flow[0].send");
        assert!(
            e.message.starts_with(
                "unknown value \"carrier_pigeon\"; expected one of \"write\", \"writev\""
            ),
            "{e}"
        );
    }

    #[test]
    fn other_unbuilt_features_are_refused() {
        let cases: &[(&str, &str, &str, &str)] = &[];
        for (header, line, key, message) in cases {
            let e = err_with(header, line);
            assert_eq!(e.key.as_deref(), Some(*key), "{line}");
            assert_eq!(&e.message, message, "{line}");
            assert!(e.line.is_some() && e.column.is_some(), "{e}");
        }
        // Delimited framing and dynamic buffers parse; a dynamic buffer
        // without framing has no delimiter to read until.
        let s = ok(&minimal_with(
            "[[flow]]",
            "buffer.kind = \"streambuf\"\nframing = { kind = \"delimited\", delimiter = \";\" }",
        ));
        assert_eq!(s.flows[0].buffer.kind, BufferKind::Streambuf);
        assert_eq!(s.flows[0].framing.map(|f| f.delimiter), Some(b';'));
        let e = err_with("[[flow]]", "buffer.kind = \"dynamic_vector\"");
        assert!(e.message.contains("framing"), "{e}");
        // TSO needs checksum offload, as in Linux.
        let e = err_with("[hosts.a]", "nic.offload = [\"tso\"]");
        assert!(e.message.contains("\"tso\" needs \"tx-checksum\""), "{e}");
        let e = err_with("[[flow]]", "iovecs = 2000");
        assert_eq!(e.message, "expected a buffer count in 1..=1024, found 2000");
        assert!(
            ok(&minimal_with(
                "[[flow]]",
                "iovecs = 1\nbuffer.reuse = \"after_completion\""
            ))
            .flows
            .len()
                == 1
        );
    }

    #[test]
    fn tap_names_a_host_and_a_valid_device() {
        let s = ok(&format!(
            "{MINIMAL}[tap]\nhost = \"b\"\ndevice = \"sim-0\"\n"
        ));
        assert_eq!(
            s.tap,
            Some(TapConfig {
                host: "b".into(),
                device: "sim-0".into()
            })
        );
        let e = err(&format!("{MINIMAL}[tap]\nhost = \"c\"\n"));
        assert_at(&e, 15, 8, "tap.host");
        let e = err(&format!(
            "{MINIMAL}[tap]\nhost = \"a\"\ndevice = \"eth0/x\"\n"
        ));
        assert_at(&e, 16, 10, "tap.device");
        assert!(e.message.starts_with("expected an interface name"), "{e}");
        let long = "d".repeat(16);
        let e = err(&format!(
            "{MINIMAL}[tap]\nhost = \"a\"\ndevice = \"{long}\"\n"
        ));
        assert_eq!(e.key.as_deref(), Some("tap.device"));
    }

    #[test]
    fn offload_names_outside_the_list_are_errors_listing_the_valid_ones() {
        let e = err_with("[hosts.a]", "nic.offload = [\"tx-checksum\", \"lro\"]");
        assert_eq!(e.key.as_deref(), Some("hosts.a.nic.offload[1]"));
        let e = err_with("[hosts.a]", "nic.offload = [\"lro\"]");
        assert_at(&e, 5, 16, "hosts.a.nic.offload[0]");
        assert_eq!(
            e.message,
            "unknown value \"lro\"; expected one of \"tx-checksum\", \"rx-checksum\", \"tso\", \"gso\", \"gro\""
        );
        let e = err_with("[hosts.a]", "nic.offload = \"tso\"");
        assert!(e.message.starts_with("expected a list of offloads"), "{e}");
    }

    // --- not text ----------------------------------------------------------

    #[test]
    fn invalid_utf8_is_located_at_its_first_byte() {
        let mut bytes = b"[scenario]\nname = \"t\xc3\xa9".to_vec();
        bytes.extend_from_slice(b"\xff\xfe rest\n");
        let e = match parse(&bytes, "bin") {
            Err(e) => e,
            Ok(_) => panic!("garbage parsed"),
        };
        assert_eq!(
            (e.line, e.column, e.key.as_deref()),
            (Some(2), Some(11), None)
        );
        assert_eq!(e.message, "not a text file: invalid UTF-8");
        assert_eq!(e.to_string(), "bin:2:11: not a text file: invalid UTF-8");
    }

    #[test]
    fn binary_garbage_is_an_error_not_a_panic() {
        let garbage: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        assert!(parse(&garbage, "garbage.bin").is_err());
        let e = err("a = 1\0\n");
        assert_eq!((e.line, e.column), (Some(1), Some(6)));
        assert_eq!(e.message, "not a text file: contains a NUL byte");
        assert!(parse(b"", "empty").is_err());
    }

    #[test]
    fn byte_order_mark_does_not_shift_columns() {
        let e = err("\u{feff}colour = 1\n");
        assert_eq!((e.line, e.column), (Some(1), Some(1)));
    }

    #[test]
    fn columns_count_characters_and_crlf_lines_work() {
        let src = MINIMAL
            .replace('\n', "\r\n")
            .replace("name = \"t\"", "name = \"é\"\r\nseed = \"x\"");
        let e = err(&src);
        assert_at(&e, 3, 8, "scenario.seed");
        assert_eq!(line_col("é = ü", 5), (1, 5));
        assert_eq!(line_col("é = ü", 6), (1, 5));
        assert_eq!(line_col("é = ü", 99), (1, 6));
    }

    // --- files and display ---------------------------------------------------

    #[test]
    fn unreadable_file_says_cannot_read() {
        let e = match load(Path::new("/nonexistent/dir/x.toml")) {
            Err(e) => e,
            Ok(_) => panic!("loaded a missing file"),
        };
        assert_eq!((e.line, e.column, e.key.as_deref()), (None, None, None));
        assert!(
            e.to_string()
                .starts_with("/nonexistent/dir/x.toml: cannot read: "),
            "{e}"
        );
    }

    #[test]
    fn load_reads_a_file_and_names_it_in_errors() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let good = dir.path().join("good.toml");
        std::fs::write(&good, EXAMPLE)?;
        assert_eq!(load(&good)?.name, "zero_copy");
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "[scenario]\nnmae = 1\n")?;
        let e = load(&bad).err().ok_or("bad file loaded")?;
        assert_eq!(e.file, bad.display().to_string());
        assert!(
            e.to_string()
                .starts_with(&format!("{}:2:1: key `scenario.nmae`: ", bad.display())),
            "{e}"
        );
        Ok(())
    }

    #[test]
    fn display_leaves_out_unknown_parts() {
        let e = ScenarioError {
            file: "f".into(),
            line: Some(3),
            column: None,
            key: None,
            message: "m".into(),
        };
        assert_eq!(e.to_string(), "f:3: m");
        let e = ScenarioError {
            line: None,
            key: Some("k".into()),
            ..e
        };
        assert_eq!(e.to_string(), "f: key `k`: m");
    }

    // --- never panic -----------------------------------------------------------

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        /// Values worth trying in any key's place.
        const VALUES: &[&str] = &[
            "0",
            "1",
            "-1",
            "9223372036854775807",
            "-9223372036854775808",
            "0x10",
            "1.5",
            "-0.0",
            "nan",
            "inf",
            "1e308",
            "true",
            "\"\"",
            "\"0\"",
            "\"1.5\"",
            "\"64KiB\"",
            "\"1TiB\"",
            "\"99999999999999999999999999999999999999999GiB\"",
            "\"1.0000000000000000000000000001s\"",
            "\"10Gbit/s\"",
            "\"0.25ns\"",
            "\"a\"",
            "\"b\"",
            "\"write\"",
            "\"tso\"",
            "[]",
            "[1, \"x\"]",
            "{}",
            "{ a = 1 }",
            "1979-05-27",
            "\"10.0.0.3/24\"",
            "\"::1/128\"",
        ];

        fn mutate(src: &[u8], ops: &[(usize, u8, u8)]) -> Vec<u8> {
            let mut out = src.to_vec();
            for &(at, op, byte) in ops {
                let at = if out.is_empty() {
                    0
                } else {
                    at % (out.len() + 1)
                };
                match op % 3 {
                    0 if at < out.len() => out[at] = byte,
                    1 => out.insert(at, byte),
                    _ if at < out.len() => {
                        out.remove(at);
                    }
                    _ => {}
                }
            }
            out
        }

        proptest! {
            #[test]
            fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
                let _ = parse(&bytes, "fuzz");
            }

            #[test]
            fn mutated_example_never_panics(
                ops in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..8)
            ) {
                let _ = parse(&mutate(EXAMPLE.as_bytes(), &ops), "fuzz");
            }

            #[test]
            fn any_value_in_any_key_never_panics(line in 0usize..200, value in 0usize..64, text in "\\PC{0,12}") {
                let lines: Vec<&str> = EXAMPLE.lines().collect();
                let target = line % lines.len();
                let replacement = if value < VALUES.len() { VALUES[value].to_string() } else { format!("{text:?}") };
                let src: Vec<String> = lines
                    .iter()
                    .enumerate()
                    .map(|(i, l)| match l.split_once(" = ") {
                        Some((key, _)) if i == target => format!("{key} = {replacement}"),
                        _ => (*l).to_string(),
                    })
                    .collect();
                let _ = parse(src.join("\n").as_bytes(), "fuzz");
            }

            #[test]
            fn plain_byte_counts_round_trip(n in 1u64..=(1 << 40)) {
                let s = ok(&MINIMAL.replace("bytes = \"1MiB\"", &format!("bytes = {n}")));
                prop_assert_eq!(s.flows[0].bytes, n);
                let s = ok(&MINIMAL.replace("bytes = \"1MiB\"", &format!("bytes = \"{n}B\"")));
                prop_assert_eq!(s.flows[0].bytes, n);
            }

            #[test]
            fn decimal_times_are_exact(int in 0u64..10_000, frac in 0u64..1000) {
                let text = format!("{int}.{frac:03}ms");
                prop_assert_eq!(scaled(&text, TIME_UNITS), Ok(u128::from(int * 1_000_000 + frac * 1000) * 1000));
            }

            #[test]
            fn unit_parser_never_panics(s in "\\PC{0,40}") {
                let _ = scaled(&s, SIZE_UNITS);
                let _ = scaled(&s, TIME_UNITS);
                let _ = scaled(&s, RATE_UNITS);
            }
        }
    }
}
