//! How a scenario writes quantities: sizes, times, rates, counts and
//! probabilities, each with the bounds of the key that reads it.
//!
//! Owns the unit spellings (`"64KiB"`, `"1.5ms"`, `"10Gbit/s"`), their exact
//! integer arithmetic (a fraction that does not come out whole in the key's
//! base unit is refused, never rounded), the wording of what a key expects
//! (`a size in 1B..=1GiB`) and the hints about a value found (`(a time needs
//! a unit)`). The config structs name these readers on their fields, e.g.
//! `#[serde(deserialize_with = "Size::<1, GIB>::de")]`, so that a key's
//! type and bounds sit on its declaration.
//!
//! Does not own positions, key paths or the final message layout: a
//! refusal goes out through serde's error constructors. What a key expects
//! is the `Expected` text; a hint about the value is passed as
//! [`Unexpected::Other`] in parentheses (`"(write numbers without quotes)"`),
//! which a deserializer that knows the value as written (the `simnet` tool's
//! scenario reader) appends after it. Messages that are not "expected X"
//! go out as `custom`.

use serde::de::{self, Deserializer, Unexpected, Visitor};
use std::fmt;
use std::marker::PhantomData;

pub const KIB: u64 = 1 << 10;
pub const MIB: u64 = 1 << 20;
pub const GIB: u64 = 1 << 30;
pub const TIB: u64 = 1 << 40;
/// Nanoseconds per unit, for bounds and defaults of times.
pub const US: u64 = 1_000;
pub const MS: u64 = 1_000_000;
pub const SEC: u64 = 1_000_000_000;
pub const DAY: u64 = 86_400 * SEC;

/// Size suffixes and their multipliers (bytes).
pub const SIZE_UNITS: &[(&str, u128)] = &[
    ("", 1),
    ("B", 1),
    ("kB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
    ("TB", 1_000_000_000_000),
    ("KiB", KIB as u128),
    ("MiB", MIB as u128),
    ("GiB", GIB as u128),
    ("TiB", TIB as u128),
];

/// Time suffixes and their multipliers (picoseconds).
pub const TIME_UNITS: &[(&str, u128)] = &[
    ("ps", 1),
    ("ns", 1_000),
    ("us", 1_000_000),
    ("µs", 1_000_000),
    ("ms", 1_000_000_000),
    ("s", 1_000_000_000_000),
];

/// Rate suffixes and their multipliers (bits per second).
pub const RATE_UNITS: &[(&str, u128)] = &[
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
pub enum NumError {
    /// Not digits, an optional `.digits`, then one of the units.
    Syntax,
    /// The fraction does not come out to a whole number of base units.
    NotWhole,
    TooLarge,
}

/// Parses `DIGITS[.DIGITS]UNIT` exactly: the integer and fraction digits
/// are scaled by the unit's multiplier in integer arithmetic.
pub fn scaled(s: &str, units: &[(&str, u128)]) -> Result<u128, NumError> {
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
        ("KiB", KIB as u128),
        ("MiB", MIB as u128),
        ("GiB", GIB as u128),
        ("TiB", TIB as u128),
    ];
    if hi < KIB || !hi.is_multiple_of(KIB) {
        format!("{lo}..={hi} bytes")
    } else {
        let (lo, hi) = (u128::from(lo), u128::from(hi));
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

/// Shortens text quoted back to the user.
pub fn truncate(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(MAX).collect();
        t.push('…');
        t
    }
}

// ---------------------------------------------------------------------------
// Refusals.

/// Why a value was refused, before it becomes a serde error.
pub enum Refusal {
    /// `expected {what}, found <the value>{hint}`; `hint` is empty or
    /// starts with a space and a parenthesis.
    Expected { what: String, hint: &'static str },
    /// A whole message.
    Message(String),
}

impl Refusal {
    pub fn expected(what: impl Into<String>, hint: &'static str) -> Refusal {
        Refusal::Expected {
            what: what.into(),
            hint,
        }
    }

    /// As an error of any deserializer (see the module docs).
    pub fn into_error<E: de::Error>(self) -> E {
        match self {
            Refusal::Expected { what, hint } => {
                let unexpected = match hint.trim_start() {
                    "" => "this value",
                    hint => hint,
                };
                E::invalid_value(Unexpected::Other(unexpected), &what.as_str())
            }
            Refusal::Message(m) => E::custom(m),
        }
    }
}

/// Reads one kind of value from whichever form it was written in; every
/// form a reader does not override is refused with [`Reader::expecting`].
trait Reader {
    type Out;
    /// What the key takes, for a value of the wrong type.
    fn expecting(&self) -> String;
    fn int(&self, _n: i128) -> Result<Self::Out, Refusal> {
        Err(Refusal::expected(self.expecting(), ""))
    }
    fn float(&self, _f: f64) -> Result<Self::Out, Refusal> {
        Err(Refusal::expected(self.expecting(), ""))
    }
    fn text(&self, _s: &str) -> Result<Self::Out, Refusal> {
        Err(Refusal::expected(self.expecting(), ""))
    }
}

/// A [`Reader`] as a serde visitor.
struct Read<R>(R);

impl<R: Reader> Visitor<'_> for Read<R> {
    type Value = R::Out;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.expecting())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<R::Out, E> {
        self.0.int(v.into()).map_err(Refusal::into_error)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<R::Out, E> {
        self.0.int(v.into()).map_err(Refusal::into_error)
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<R::Out, E> {
        self.0.int(v).map_err(Refusal::into_error)
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<R::Out, E> {
        let v = i128::try_from(v).unwrap_or(i128::MAX);
        self.0.int(v).map_err(Refusal::into_error)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<R::Out, E> {
        self.0.float(v).map_err(Refusal::into_error)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<R::Out, E> {
        self.0.text(v).map_err(Refusal::into_error)
    }
}

fn read<'de, D: Deserializer<'de>, R: Reader>(d: D, r: R) -> Result<R::Out, D::Error> {
    d.deserialize_any(Read(r))
}

/// `n` as the field's type, refused as out of `what` when it does not fit.
fn fit<T: TryFrom<u64>>(n: u64, what: impl FnOnce() -> String) -> Result<T, Refusal> {
    T::try_from(n).map_err(|_| Refusal::expected(what(), ""))
}

/// `n` if it lies in `lo..=hi`, else `expected {what}`.
fn bounded(n: u128, lo: u64, hi: u64, what: impl FnOnce() -> String) -> Result<u64, Refusal> {
    match u64::try_from(n) {
        Ok(n) if (lo..=hi).contains(&n) => Ok(n),
        _ => Err(Refusal::expected(what(), "")),
    }
}

/// A string with a unit, in the smallest unit of `units`; past `u128` it
/// saturates so that the range check reports it.
fn with_unit(
    s: &str,
    units: &[(&str, u128)],
    expected: &str,
    smallest: &str,
) -> Result<u128, Refusal> {
    match scaled(s, units) {
        Ok(n) => Ok(n),
        Err(NumError::Syntax) => {
            let hint = if s.starts_with('-') {
                " (it cannot be negative)"
            } else {
                ""
            };
            Err(Refusal::expected(expected, hint))
        }
        Err(NumError::NotWhole) => Err(Refusal::Message(format!(
            "{:?} is not a whole number of {smallest}",
            truncate(s)
        ))),
        Err(NumError::TooLarge) => Ok(u128::MAX),
    }
}

// ---------------------------------------------------------------------------
// The readers a config field names.

const SIZE: &str = "a size like 1500, \"64KiB\" or \"4MiB\"";
const TIME: &str = "a time like \"200ns\", \"10us\" or \"1.5ms\"";
const RATE: &str = "a rate like \"10Gbit/s\", \"100Mbit/s\" or \"10GB/s\"";

/// A size in bytes in `LO..=HI`: `1500`, `"1500"`, `"64KiB"`, `"10kB"`,
/// `"1.5MiB"`.
pub struct Size<const LO: u64, const HI: u64>;

impl<const LO: u64, const HI: u64> Reader for Size<LO, HI> {
    type Out = u64;
    fn expecting(&self) -> String {
        SIZE.into()
    }
    fn int(&self, n: i128) -> Result<u64, Refusal> {
        match u128::try_from(n) {
            Ok(n) => self.range(n),
            Err(_) => Err(Refusal::expected(SIZE, " (sizes cannot be negative)")),
        }
    }
    fn text(&self, s: &str) -> Result<u64, Refusal> {
        self.range(with_unit(s, SIZE_UNITS, SIZE, "bytes")?)
    }
}

impl<const LO: u64, const HI: u64> Size<LO, HI> {
    fn range(&self, n: u128) -> Result<u64, Refusal> {
        bounded(n, LO, HI, || {
            format!("a size in {}", fmt_size_range(LO, HI))
        })
    }

    /// For `deserialize_with`.
    pub fn de<'de, D: Deserializer<'de>, T: TryFrom<u64>>(d: D) -> Result<T, D::Error> {
        let n = read(d, Self)?;
        fit(n, || format!("a size in {}", fmt_size_range(LO, HI))).map_err(Refusal::into_error)
    }

    /// For `deserialize_with` on an optional size (with `default`).
    pub fn some<'de, D: Deserializer<'de>, T: TryFrom<u64>>(d: D) -> Result<Option<T>, D::Error> {
        Self::de(d).map(Some)
    }
}

/// A time in picoseconds in `LO..=HI` (picoseconds): `"250ps"`, `"200ns"`,
/// `"10us"`, `"1.5ms"`, `"2s"`, or the integer `0`.
pub struct PicoTime<const LO: u64, const HI: u64>;

impl<const LO: u64, const HI: u64> Reader for PicoTime<LO, HI> {
    type Out = u64;
    fn expecting(&self) -> String {
        TIME.into()
    }
    fn int(&self, n: i128) -> Result<u64, Refusal> {
        match n {
            0 => self.range(0),
            _ => Err(Refusal::expected(TIME, " (a time needs a unit)")),
        }
    }
    fn text(&self, s: &str) -> Result<u64, Refusal> {
        self.range(with_unit(s, TIME_UNITS, TIME, "picoseconds")?)
    }
}

impl<const LO: u64, const HI: u64> PicoTime<LO, HI> {
    fn range(&self, ps: u128) -> Result<u64, Refusal> {
        bounded(ps, LO, HI, || {
            let (lo, hi) = (u128::from(LO), u128::from(HI));
            format!("a time in {}..={}", fmt_time(lo), fmt_time(hi))
        })
    }

    /// For `deserialize_with`.
    pub fn de<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        read(d, Self)
    }
}

/// A time in whole nanoseconds in `LO..=HI` (nanoseconds), written as for
/// [`PicoTime`].
pub struct Time<const LO: u64, const HI: u64>;

impl<const LO: u64, const HI: u64> Reader for Time<LO, HI> {
    type Out = u64;
    fn expecting(&self) -> String {
        TIME.into()
    }
    fn int(&self, n: i128) -> Result<u64, Refusal> {
        match n {
            0 => self.ns(0, "0"),
            _ => Err(Refusal::expected(TIME, " (a time needs a unit)")),
        }
    }
    fn text(&self, s: &str) -> Result<u64, Refusal> {
        self.ns(with_unit(s, TIME_UNITS, TIME, "picoseconds")?, s)
    }
}

impl<const LO: u64, const HI: u64> Time<LO, HI> {
    /// `ps` (as `written`) range-checked, in whole nanoseconds.
    fn ns(&self, ps: u128, written: &str) -> Result<u64, Refusal> {
        let (lo, hi) = (u128::from(LO) * 1000, u128::from(HI) * 1000);
        if !(lo..=hi).contains(&ps) {
            let what = format!("a time in {}..={}", fmt_time(lo), fmt_time(hi));
            return Err(Refusal::expected(what, ""));
        }
        if !ps.is_multiple_of(1000) {
            return Err(Refusal::Message(format!(
                "{:?} is not a whole number of nanoseconds",
                truncate(written)
            )));
        }
        Ok(u64::try_from(ps / 1000).unwrap_or(u64::MAX))
    }

    /// For `deserialize_with`.
    pub fn de<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        read(d, Self)
    }
}

/// A rate in bits per second in `LO..=HI`: `"10Gbit/s"`, `"100Mbit/s"`,
/// `"10GB/s"`.
pub struct Rate<const LO: u64, const HI: u64>;

impl<const LO: u64, const HI: u64> Reader for Rate<LO, HI> {
    type Out = u64;
    fn expecting(&self) -> String {
        RATE.into()
    }
    fn int(&self, _: i128) -> Result<u64, Refusal> {
        Err(Refusal::expected(RATE, " (a rate needs a unit)"))
    }
    fn float(&self, _: f64) -> Result<u64, Refusal> {
        Err(Refusal::expected(RATE, " (a rate needs a unit)"))
    }
    fn text(&self, s: &str) -> Result<u64, Refusal> {
        let bps = with_unit(s, RATE_UNITS, RATE, "bits per second")?;
        bounded(bps, LO, HI, || {
            format!("a rate in {}..={}", fmt_rate(LO), fmt_rate(HI))
        })
    }
}

impl<const LO: u64, const HI: u64> Rate<LO, HI> {
    /// For `deserialize_with`.
    pub fn de<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        read(d, Self)
    }
}

/// A bandwidth written as a rate in 1MB/s..=1TB/s, kept as picoseconds per
/// byte (rounded to nearest, so 1..=1_000_000).
pub fn bandwidth<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    const PS_BITS: u64 = 8_000_000_000_000; // picoseconds per second × 8
    let bps = Rate::<8_000_000, PS_BITS>::de(d)?;
    Ok((PS_BITS + bps / 2) / bps.max(1))
}

/// What a [`Count`] counts, in the words of its messages.
pub trait Noun {
    /// E.g. `a descriptor count`.
    const NOUN: &'static str;
}

macro_rules! nouns {
    ($($(#[$doc:meta])* $name:ident = $text:literal;)*) => {$(
        $(#[$doc])*
        pub struct $name;
        impl Noun for $name {
            const NOUN: &'static str = $text;
        }
    )*};
}

nouns! {
    /// Descriptors in a ring.
    Descriptors = "a descriptor count";
    /// Frames, e.g. per NAPI poll.
    Frames = "a frame count";
    /// Buffers, e.g. in a pool or per call.
    Buffers = "a buffer count";
    /// A TCP port.
    Ports = "a port";
    /// A random seed.
    Seeds = "a seed";
}

/// A whole number of `N` in `LO..=HI`, written as a TOML integer.
pub struct Count<N, const LO: u64, const HI: u64>(PhantomData<N>);

impl<N: Noun, const LO: u64, const HI: u64> Reader for Count<N, LO, HI> {
    type Out = u64;
    fn expecting(&self) -> String {
        format!("{} in {LO}..={HI}", N::NOUN)
    }
    fn int(&self, n: i128) -> Result<u64, Refusal> {
        let n = u128::try_from(n).unwrap_or(u128::MAX);
        bounded(n, LO, HI, || self.expecting())
    }
    fn text(&self, s: &str) -> Result<u64, Refusal> {
        let hint = match s.parse::<i128>() {
            Ok(_) => " (write numbers without quotes)",
            Err(_) => "",
        };
        Err(Refusal::expected(self.expecting(), hint))
    }
}

impl<N: Noun, const LO: u64, const HI: u64> Count<N, LO, HI> {
    /// For `deserialize_with`.
    pub fn de<'de, D: Deserializer<'de>, T: TryFrom<u64>>(d: D) -> Result<T, D::Error> {
        let n = read(d, Self(PhantomData))?;
        fit(n, || Self(PhantomData).expecting()).map_err(Refusal::into_error)
    }
}

/// A probability: a float in 0.0..=1.0, or the integers `0` and `1`.
pub fn probability<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    struct P;
    impl Reader for P {
        type Out = f64;
        fn expecting(&self) -> String {
            "a probability in 0.0..=1.0".into()
        }
        fn int(&self, n: i128) -> Result<f64, Refusal> {
            match n {
                0 => Ok(0.0),
                1 => Ok(1.0),
                _ => Err(Refusal::expected(self.expecting(), "")),
            }
        }
        fn float(&self, f: f64) -> Result<f64, Refusal> {
            match f {
                f if (0.0..=1.0).contains(&f) => Ok(f),
                _ => Err(Refusal::expected(self.expecting(), "")),
            }
        }
    }
    read(d, P)
}

/// A string checked by `valid`; refused as `expected {what}` otherwise, and
/// as `expected {kind}` when it is not a string at all.
pub fn checked_string<'de, D: Deserializer<'de>>(
    d: D,
    kind: &'static str,
    what: &'static str,
    valid: fn(&str) -> bool,
) -> Result<String, D::Error> {
    struct S {
        kind: &'static str,
        what: &'static str,
        valid: fn(&str) -> bool,
    }
    impl Reader for S {
        type Out = String;
        fn expecting(&self) -> String {
            self.kind.into()
        }
        fn text(&self, s: &str) -> Result<String, Refusal> {
            match (self.valid)(s) {
                true => Ok(s.to_string()),
                false => Err(Refusal::expected(self.what, "")),
            }
        }
    }
    read(d, S { kind, what, valid })
}

/// A whole-number default for `#[serde(default = "whole::<_, N>")]`; a
/// default that does not fit the field's type fails to compile.
pub fn whole<T: Whole, const N: u64>() -> T {
    const { assert!(N <= T::MAX, "default does not fit the field's type") };
    T::from_u64(N)
}

/// The unsigned integer types a [`whole`] default can be.
pub trait Whole {
    const MAX: u64;
    fn from_u64(n: u64) -> Self;
}

macro_rules! whole {
    ($($t:ty),*) => {$(
        impl Whole for $t {
            const MAX: u64 = <$t>::MAX as u64;
            fn from_u64(n: u64) -> Self {
                n as $t
            }
        }
    )*};
}

whole!(u8, u16, u32, u64);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::de::value::{Error, F64Deserializer, I64Deserializer, StrDeserializer};
    use serde::de::IntoDeserializer;

    fn text<T>(
        f: fn(StrDeserializer<'static, Error>) -> Result<T, Error>,
        s: &'static str,
    ) -> Result<T, String> {
        f(s.into_deserializer()).map_err(|e| e.to_string())
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
    fn readers_work_with_any_deserializer() {
        assert_eq!(text(Size::<1, GIB>::de::<_, u32>, "64KiB"), Ok(65536));
        assert_eq!(text(Time::<0, SEC>::de, "1.5us"), Ok(1500));
        assert_eq!(text(PicoTime::<0, 1_000_000>::de, "0.25ns"), Ok(250));
        assert_eq!(text(Rate::<1, TIB>::de, "1kB/s"), Ok(8000));
        assert_eq!(text(bandwidth, "10GB/s"), Ok(100));
        let e = text(Time::<0, SEC>::de, "1.5ns").unwrap_err();
        assert_eq!(e, "\"1.5ns\" is not a whole number of nanoseconds");
        let e = text(Count::<Descriptors, 32, 4096>::de::<_, u16>, "256").unwrap_err();
        assert!(e.contains("a descriptor count in 32..=4096"), "{e}");
        assert!(e.contains("(write numbers without quotes)"), "{e}");
        let n: Result<u16, Error> = Count::<Ports, 1, 65535>::de(I64Deserializer::new(-1));
        assert!(n.is_err());
        let p: Result<f64, Error> = probability(F64Deserializer::new(0.5));
        assert_eq!(p, Ok(0.5));
        let p: Result<f64, Error> = probability(F64Deserializer::new(f64::NAN));
        assert!(p.is_err());
        assert_eq!(whole::<u16, 256>(), 256u16);
    }

    proptest! {
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
