//! The points of a sweep: what `--vary KEY=V1,V2,...` and
//! `--vary KEY=START..END*FACTOR` mean, and their grid.
//!
//! Owns reading a `--vary` argument into a key and its values (a list, or
//! a range of sizes, times, rates or plain integers, written back in the
//! unit the range starts with, e.g. `1KiB..1MiB*2` gives `1KiB`, `2KiB`,
//! ..., `512KiB`, `1MiB`), and the grid of points: every combination of
//! the values, the first `--vary` outermost, each point a list of
//! `--set` overrides.
//!
//! Does not check that a key exists or that a value fits it: each point
//! is read through `scenario::overrides` like a `--set`, which owns that
//! (and its messages).

use crate::scenario::overrides::Set;
use serde::{Deserialize, Serialize};
use simnet_sim::units::{self, NumError};

/// The most values one `--vary` may give, and the most points of a grid:
/// a sweep is run whole (or written as a jobs file), so both stay sane.
pub const MAX_VALUES: usize = 1_000;
pub const MAX_POINTS: usize = 100_000;

/// One `--vary`: the key, its values (as `--set` would take them), and
/// whether they are a multiplicative range (a plot then takes a log axis).
/// Also how a sweep's plan records it (`sweep-plan.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vary {
    pub key: String,
    pub values: Vec<String>,
    pub geometric: bool,
}

/// A family of units a range can be written in: the unit table that reads
/// it (as scenario values are read), and the ladder of units a value of
/// the range is written back in (the largest that divides it exactly, from
/// the range's own unit up).
struct Family {
    table: &'static [(&'static str, u128)],
    ladder: &'static [&'static str],
}

const FAMILIES: &[Family] = &[
    Family {
        table: units::SIZE_UNITS,
        ladder: &["B", "KiB", "MiB", "GiB", "TiB"],
    },
    Family {
        table: units::SIZE_UNITS,
        ladder: &["kB", "MB", "GB", "TB"],
    },
    Family {
        table: units::TIME_UNITS,
        ladder: &["ps", "ns", "us", "ms", "s"],
    },
    Family {
        table: units::RATE_UNITS,
        ladder: &["bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s"],
    },
    Family {
        table: units::RATE_UNITS,
        ladder: &["B/s", "kB/s", "MB/s", "GB/s", "TB/s"],
    },
];

const RANGE_FORM: &str = "a range is START..END*FACTOR (e.g. 1KiB..1MiB*2, doubling) or \
                          START..END+STEP (e.g. 1..8+1), END included";

impl Vary {
    /// Reads `KEY=V1,V2,...` or `KEY=START..END*FACTOR` (or `+STEP`).
    pub fn parse(arg: &str) -> Result<Vary, String> {
        let shown = units::truncate(arg);
        let bad = |why: String| format!("--vary {shown}: {why}");
        let set = Set::parse(arg).map_err(|e| {
            bad(e.replace(
                "KEY=VALUE, e.g. flow[0].write_size=4KiB",
                "KEY=V1,V2,... or KEY=START..END*FACTOR, e.g. flow[0].write_size=1KiB..1MiB*2",
            ))
        })?;
        let spec = set.value.trim();
        if spec.is_empty() {
            return Err(bad("no values: give V1,V2,... or a range".into()));
        }
        let (values, geometric) = if spec.contains("..") && !spec.starts_with(['[', '"', '\'']) {
            let (values, geometric) = range(spec).map_err(bad)?;
            (values, geometric)
        } else {
            (list(spec).map_err(bad)?, false)
        };
        if values.len() > MAX_VALUES {
            return Err(bad(format!(
                "{} values; a --vary takes at most {MAX_VALUES}",
                values.len()
            )));
        }
        for (i, v) in values.iter().enumerate() {
            if values[..i].contains(v) {
                return Err(bad(format!("the value {v} is given twice")));
            }
        }
        Ok(Vary {
            key: set.key,
            values,
            geometric,
        })
    }
}

/// The values of a list: split at commas outside quotes and brackets (a
/// value may be a TOML list, `["tso","gro"]`).
fn list(spec: &str) -> Result<Vec<String>, String> {
    let mut values = Vec::new();
    let (mut depth, mut quote, mut cur) = (0i32, None::<char>, String::new());
    for c in spec.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '{') => depth += 1,
            (None, ']' | '}') => depth -= 1,
            (None, ',') if depth == 0 => {
                values.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    values.push(cur);
    let values: Vec<String> = values.into_iter().map(|v| v.trim().to_string()).collect();
    if values.iter().any(String::is_empty) {
        return Err("an empty value (values are V1,V2,... with no empty one)".into());
    }
    Ok(values)
}

/// A number and its unit as written: `1KiB` is (1, "KiB"); digits only.
fn split_unit(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s.split_at(end)
}

/// The values of `START..END*FACTOR` or `START..END+STEP`, and whether
/// the range is multiplicative.
fn range(spec: &str) -> Result<(Vec<String>, bool), String> {
    let (start, rest) = spec
        .split_once("..")
        .ok_or_else(|| format!("{RANGE_FORM}, found {spec:?}"))?;
    let (end, step, geometric) = match (rest.rsplit_once('*'), rest.rsplit_once('+')) {
        (Some((e, f)), None) => (e, f, true),
        (None, Some((e, s))) => (e, s, false),
        _ => return Err(format!("{RANGE_FORM}, found {spec:?}")),
    };
    let (start, end, step) = (start.trim(), end.trim(), step.trim());
    let (_, unit) = split_unit(start);
    // Plain integers, or one family of units for both ends.
    let family = if unit.is_empty() {
        None
    } else {
        Some(
            FAMILIES
                .iter()
                .find(|f| f.ladder.contains(&unit))
                .ok_or_else(|| {
                    format!(
                        "the range's start {start:?} is not a whole number, size, time or \
                         rate (like 1KiB, 10us or 1Gbit/s); {RANGE_FORM}"
                    )
                })?,
        )
    };
    let table: &[(&str, u128)] = family.map_or(&[("", 1)], |f| f.table);
    let read = |what: &str, s: &str| -> Result<u128, String> {
        units::scaled(s, table).map_err(|e| {
            let why = match e {
                NumError::Syntax => match family {
                    Some(_) => format!("not in the units of the start ({unit})"),
                    None => "not a whole number like the start".into(),
                },
                NumError::NotWhole => "not a whole number of the unit's base".into(),
                NumError::TooLarge => "too large".into(),
            };
            format!("the range's {what} {s:?} is {why}; {RANGE_FORM}")
        })
    };
    let (lo, hi) = (read("start", start)?, read("end", end)?);
    if lo > hi {
        return Err(format!(
            "the range's start {start} is above its end {end}; {RANGE_FORM}"
        ));
    }
    let mut values = Vec::new();
    let mut v = lo;
    if geometric {
        let factor: u128 = match step.parse() {
            Ok(f) if f >= 2 => f,
            _ => {
                return Err(format!(
                    "the factor {step:?} is not a whole number of at least 2; {RANGE_FORM}"
                ))
            }
        };
        if lo == 0 {
            return Err(format!(
                "a multiplicative range cannot start at 0; {RANGE_FORM}"
            ));
        }
        while v <= hi && values.len() <= MAX_VALUES {
            values.push(v);
            v = match v.checked_mul(factor) {
                Some(n) => n,
                None => break,
            };
        }
    } else {
        let inc = read("step", step)?;
        if inc == 0 {
            return Err(format!("the step cannot be 0; {RANGE_FORM}"));
        }
        while v <= hi && values.len() <= MAX_VALUES {
            values.push(v);
            v = match v.checked_add(inc) {
                Some(n) => n,
                None => break,
            };
        }
    }
    let written = values
        .into_iter()
        .map(|v| match family {
            None => v.to_string(),
            Some(f) => write_back(v, f, unit),
        })
        .collect();
    Ok((written, geometric))
}

/// `v` (in the family's base unit) in the largest unit of the ladder,
/// from `unit` up, that divides it exactly.
fn write_back(v: u128, family: &Family, unit: &str) -> String {
    let mult = |u: &str| {
        (family.table.iter())
            .find(|(name, _)| *name == u)
            .map_or(1, |(_, m)| *m)
    };
    let from = family.ladder.iter().position(|u| *u == unit).unwrap_or(0);
    let mut best = (v / mult(unit).max(1), unit);
    for u in family.ladder.iter().skip(from) {
        let m = mult(u).max(1);
        if v.is_multiple_of(m) {
            best = (v / m, u);
        }
    }
    format!("{}{}", best.0, best.1)
}

/// The value of a varied key as a number for a plot's axis: a plain
/// number, or a size (bytes), time (ns) or rate (bit/s).
pub fn numeric(value: &str) -> Option<f64> {
    let v = value.trim().trim_matches('"');
    if let Ok(n) = v.parse::<f64>() {
        return Some(n);
    }
    for f in FAMILIES {
        if let Ok(n) = units::scaled(v, f.table) {
            // Times are read in picoseconds; plot them in nanoseconds.
            let scale = if std::ptr::eq(f.table, units::TIME_UNITS) {
                1e-3
            } else {
                1.0
            };
            return Some(n as f64 * scale);
        }
    }
    None
}

/// Every combination of the values, the first key outermost: per point,
/// the index of its value in each `Vary`.
pub fn grid(vary: &[Vary]) -> Result<Vec<Vec<usize>>, String> {
    let total = vary
        .iter()
        .try_fold(1usize, |n, v| n.checked_mul(v.values.len()))
        .filter(|&n| n <= MAX_POINTS)
        .ok_or_else(|| {
            format!(
                "the grid has more than {MAX_POINTS} points ({}); vary fewer values",
                vary.iter()
                    .map(|v| v.values.len().to_string())
                    .collect::<Vec<_>>()
                    .join(" x ")
            )
        })?;
    let mut points = Vec::with_capacity(total);
    for mut i in 0..total {
        let mut idx = vec![0; vary.len()];
        for (k, v) in vary.iter().enumerate().rev() {
            idx[k] = i % v.values.len();
            i /= v.values.len();
        }
        points.push(idx);
    }
    Ok(points)
}

/// The `--set` overrides of one point: the common ones, then the point's
/// value of each varied key.
pub fn point_sets(common: &[Set], vary: &[Vary], idx: &[usize]) -> Result<Vec<Set>, String> {
    let mut sets = common.to_vec();
    for (v, &i) in vary.iter().zip(idx) {
        let value = v.values.get(i).map(String::as_str).unwrap_or("");
        sets.push(Set::parse(&format!("{}={value}", v.key))?);
    }
    Ok(sets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_doubling_range_is_written_in_the_units_it_starts_with() {
        let v = Vary::parse("flow[0].write_size=1KiB..1MiB*2").unwrap();
        assert_eq!(v.key, "flow[0].write_size");
        assert!(v.geometric);
        assert_eq!(v.values.len(), 11);
        assert_eq!(v.values[0], "1KiB");
        assert_eq!(v.values[9], "512KiB");
        assert_eq!(v.values[10], "1MiB");
        let t = Vary::parse("link.delay=10us..1ms*10").unwrap();
        assert_eq!(t.values, ["10us", "100us", "1ms"]);
        let n = Vary::parse("hosts.a.nic.tx_ring=64..256+64").unwrap();
        assert_eq!(n.values, ["64", "128", "192", "256"]);
        assert!(!n.geometric);
    }

    #[test]
    fn lists_split_at_top_level_commas_only() {
        let v = Vary::parse("flow[0].send=write,msg_zerocopy").unwrap();
        assert_eq!(v.values, ["write", "msg_zerocopy"]);
        let o = Vary::parse(r#"hosts.a.nic.offload=[],["tx-checksum","tso"]"#).unwrap();
        assert_eq!(o.values, ["[]", r#"["tx-checksum","tso"]"#]);
    }

    #[test]
    fn bad_ranges_and_lists_say_what_is_wrong() {
        for (arg, says) in [
            ("flow[0].write_size", "expected KEY="),
            ("flow[0].write_size=", "no values"),
            ("flow[0].write_size=1KiB..1MiB", "START..END*FACTOR"),
            ("flow[0].write_size=1KiB..1MiB*1", "at least 2"),
            ("flow[0].write_size=1MiB..1KiB*2", "above its end"),
            ("flow[0].write_size=1KiB..1ms*2", "not in the units"),
            ("flow[0].write_size=1KB..1MiB*2", "not a whole number, size"),
            ("flow[0].write_size=0..8*2", "cannot start at 0"),
            ("flow[0].write_size=a,,b", "empty value"),
            ("flow[0].write_size=a,a", "twice"),
            ("flow[0].write_size=1..100000+1", "at most"),
            ("[0]=1,2", "dotted key"),
        ] {
            let e = Vary::parse(arg).unwrap_err();
            assert!(e.starts_with("--vary "), "{arg}: {e}");
            assert!(e.contains(says), "{arg}: {e}");
        }
    }

    #[test]
    fn the_grid_has_the_first_key_outermost() {
        let a = Vary::parse("a=1,2").unwrap();
        let b = Vary::parse("b=x,y,z").unwrap();
        let g = grid(&[a, b]).unwrap();
        assert_eq!(g.len(), 6);
        assert_eq!(g[0], [0, 0]);
        assert_eq!(g[1], [0, 1]);
        assert_eq!(g[3], [1, 0]);
        assert_eq!(numeric("1KiB"), Some(1024.0));
        assert_eq!(numeric("10us"), Some(10_000.0));
        assert_eq!(numeric("write"), None);
    }
}
