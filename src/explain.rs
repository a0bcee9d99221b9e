//! `simnet explain`: what a row of the report means, and the glossary.
//!
//! Owns the lookup from what a reader has in front of them — a row's kind
//! (`desc_writeback`), a step's name (`copybreak`, `put_user_pages`), a
//! stage (`nic tx`), a CPU category (`interrupt`) or the kernel function a
//! row names (`tcp_clean_rtx_queue`, `e1000_copybreak`) — to the entries of
//! the model's vocabulary, and how an entry is written: as text for the
//! terminal ([`render`]) and as the Markdown of `docs/glossary.md`
//! ([`glossary`]). Close matches for a word that matches nothing
//! ([`lookup`]'s error). Also the two documents reports point to, bundled
//! ([`document`]: `simnet explain costs`, `simnet explain fidelity`), so
//! that an installed binary's pointers lead somewhere.
//!
//! Does not hold any explanation itself: every word and paragraph comes
//! from `simnet_sim::event` (the steps table, [`Kind`], [`CpuCategory`],
//! [`STAGES`]), so the glossary, `explain` and the code cannot drift.

use std::fmt::Write as _;

use simnet_sim::event::{self, CpuCategory, Kind, Stage, Step, STAGES};

/// One entry of the vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    Stage(&'static Stage),
    Kind(Kind),
    Category(CpuCategory),
    Step(Step),
}

/// More matches of a kernel function than this are listed, not explained
/// one by one.
const MAX_EXPLAINED: usize = 6;

/// `text` lowercased with runs of whitespace made one space, trimmed.
fn normal(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// `text` without case, spaces, `_` and `-`: `PutUserPages`,
/// `put_user_pages` and `put user pages` are the same name.
fn squashed(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, '_' | '-' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The entries `query` names: first every entry whose name it is (a
/// stage, a kind, a CPU category, a step; one word may be a kind and a
/// category), else every step whose kernel function text contains it. When
/// nothing matches: why, with the closest names.
pub fn lookup(query: &str) -> Result<Vec<Entry>, String> {
    let q = normal(query);
    if q.is_empty() {
        return Err(
            "explain needs a word: a row's kind, a step, a stage or a kernel \
                    function (e.g. `simnet explain copybreak`)"
                .into(),
        );
    }
    let mut found = Vec::new();
    found.extend(STAGES.iter().filter(|s| s.name == q).map(Entry::Stage));
    found.extend(
        Kind::VARIANTS
            .iter()
            .filter(|k| k.name() == q)
            .map(|&k| Entry::Kind(k)),
    );
    found.extend(
        (CpuCategory::VARIANTS.iter())
            .filter(|c| c.name() == q)
            .map(|&c| Entry::Category(c)),
    );
    let sq = squashed(&q);
    found.extend(
        (Step::ALL.iter())
            .filter(|s| squashed(&s.name()) == sq)
            .map(|&s| Entry::Step(s)),
    );
    if !found.is_empty() {
        return Ok(found);
    }
    // The kernel function text of a row: the whole of it, or a part.
    let exact: Vec<Entry> = (Step::ALL.iter())
        .filter(|s| s.models().to_lowercase() == q)
        .map(|&s| Entry::Step(s))
        .collect();
    if !exact.is_empty() {
        return Ok(exact);
    }
    let part: Vec<Entry> = (Step::ALL.iter())
        .filter(|s| s.models().to_lowercase().contains(&q))
        .map(|&s| Entry::Step(s))
        .collect();
    if !part.is_empty() {
        return Ok(part);
    }
    let close = close_matches(&q);
    let mut why =
        format!("no kind, step, stage or kernel function of the report is called {query:?}");
    if close.is_empty() {
        why.push_str("; `simnet explain --markdown` lists them all");
    } else {
        let _ = write!(why, "; close matches: {}", close.join(", "));
    }
    Err(why)
}

/// Every name a query may use, with what it is: stages, kinds,
/// categories, steps, and the identifiers in the steps' kernel function
/// text (`e1000_copybreak`, `put_page`).
fn names() -> Vec<(String, &'static str)> {
    let mut all: Vec<(String, &'static str)> = Vec::new();
    all.extend(STAGES.iter().map(|s| (s.name.to_string(), "stage")));
    all.extend(
        Kind::VARIANTS
            .iter()
            .map(|k| (k.name().to_string(), "kind")),
    );
    all.extend((CpuCategory::VARIANTS.iter()).map(|c| (c.name().to_string(), "CPU category")));
    all.extend(Step::ALL.iter().map(|s| (s.name(), "step")));
    for s in Step::ALL {
        let words = s
            .models()
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.len() > 3 && w.contains('_'));
        for w in words {
            if !all.iter().any(|(n, _)| n == w) {
                all.push((w.to_string(), "kernel function"));
            }
        }
    }
    all
}

/// Up to five names within a small edit distance of `q`, closest first.
fn close_matches(q: &str) -> Vec<String> {
    let limit = (q.chars().count() / 3).max(2);
    let mut near: Vec<(usize, String)> = names()
        .into_iter()
        .filter_map(|(name, what)| {
            let d = distance(q, &name.to_lowercase());
            (d <= limit).then(|| (d, format!("{name} ({what})")))
        })
        .collect();
    near.sort();
    near.dedup_by(|a, b| a.1 == b.1);
    near.into_iter().take(5).map(|(_, n)| n).collect()
}

/// Levenshtein distance between `a` and `b`, by characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(here + 1);
            prev = here;
        }
    }
    row[b.len()]
}

/// `text` in lines of at most `width` characters, each starting with
/// `indent`.
fn fill(text: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    let mut line = String::from(indent);
    for word in text.split_whitespace() {
        let len = line.chars().count();
        if len > indent.len() && len + 1 + word.chars().count() > width {
            out.push_str(&line);
            out.push('\n');
            line = String::from(indent);
        }
        if line.len() > indent.len() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// The steps of one stage or kind, one line each: name, stage or kind,
/// what it models.
fn step_list(o: &mut String, steps: impl Iterator<Item = Step>) {
    for s in steps {
        let _ = writeln!(
            o,
            "    {:<24} {:<12} {:<14} {}",
            s.name(),
            s.stage(),
            s.kind().name(),
            s.models()
        );
    }
}

/// What the terminal shows for the entries of a query.
pub fn render(entries: &[Entry]) -> String {
    let mut o = String::new();
    if entries.len() > MAX_EXPLAINED {
        let _ = writeln!(
            o,
            "{} rows of the report name it; `simnet explain STEP` explains one:",
            entries.len()
        );
        step_list(
            &mut o,
            entries.iter().filter_map(|e| match e {
                Entry::Step(s) => Some(*s),
                _ => None,
            }),
        );
        return o;
    }
    for (i, e) in entries.iter().enumerate() {
        if i > 0 {
            o.push('\n');
        }
        entry_text(&mut o, *e);
    }
    o
}

fn entry_text(o: &mut String, e: Entry) {
    match e {
        Entry::Step(s) => {
            let _ = writeln!(o, "{} (a step of the report)", s.name());
            if let Some(st) = event::stage(s.stage()) {
                let _ = writeln!(o, "  stage   {}: {}", st.name, st.heading);
            }
            let _ = writeln!(o, "  kind    {}", s.kind().name());
            let _ = writeln!(o, "  cpu     {}", s.category().name());
            let _ = writeln!(o, "  models  {}", s.models());
            o.push('\n');
            o.push_str(&fill(&s.explanation(), 78, "  "));
        }
        Entry::Kind(k) => {
            let _ = writeln!(o, "{} (a kind of row)", k.name());
            o.push_str(&fill(&k.explanation(), 78, "  "));
            let _ = writeln!(o, "  rows of this kind:");
            step_list(o, Step::ALL.iter().copied().filter(|s| s.kind() == k));
        }
        Entry::Category(c) => {
            let _ = writeln!(
                o,
                "{} (a CPU category of the report's CPU breakdown)",
                c.name()
            );
            o.push_str(&fill(&c.explanation(), 78, "  "));
        }
        Entry::Stage(st) => {
            let _ = writeln!(o, "{} (a stage): {}", st.name, st.heading);
            o.push_str(&fill(st.explanation, 78, "  "));
            let _ = writeln!(o, "  its rows:");
            step_list(
                o,
                Step::ALL.iter().copied().filter(|s| s.stage() == st.name),
            );
        }
    }
}

/// `text` as a Markdown code span.
fn code(text: &str) -> String {
    format!("`{text}`")
}

/// `docs/glossary.md`: every stage, kind, CPU category and step, as the
/// report prints them, with their explanations.
pub fn glossary() -> String {
    let mut o = String::new();
    o.push_str(
        "# Glossary of the report\n\
         \n\
         <!-- Generated from sim/src/event.rs by `simnet explain --markdown`; do not edit. -->\n\
         \n\
         Every word a row of `simnet run`'s report can print: the stages its rows are \
         grouped under, the kinds of row, the CPU categories of its CPU breakdown, and \
         every step, with the Linux function or hardware step it models. `simnet explain \
         WORD` prints one entry (a kind, a step, a stage or a kernel function named in a \
         row: `simnet explain copybreak`, `simnet explain desc_writeback`, `simnet explain \
         tcp_clean_rtx_queue`).\n\
         \n\
         This file is generated from the tables in `sim/src/event.rs`, where each \
         explanation is written next to the step it explains; `tests/docs.rs` fails when \
         it differs from what the code generates. After changing a step, regenerate it:\n\
         \n\
         ```sh\n\
         cargo run --release -- explain --markdown > docs/glossary.md\n\
         ```\n",
    );
    o.push_str("\n## Stages\n\n");
    o.push_str("Rows are grouped by stage, in this order, each under a one-line heading.\n\n");
    for st in STAGES {
        let _ = writeln!(o, "### {}\n", code(st.name));
        let _ = writeln!(o, "*{}.* {}\n", st.heading, st.explanation);
        let steps: Vec<String> = (Step::ALL.iter())
            .filter(|s| s.stage() == st.name)
            .map(|s| format!("[{}](#step-{})", code(&s.name()), s.name()))
            .collect();
        let _ = writeln!(o, "Rows: {}.\n", steps.join(", "));
    }
    o.push_str("## Kinds\n\n");
    o.push_str("The `kind` column: what sort of work a row counts.\n\n");
    for k in Kind::VARIANTS {
        let _ = writeln!(o, "### {}\n", code(k.name()));
        let _ = writeln!(o, "{}\n", k.explanation());
        let steps: Vec<String> = (Step::ALL.iter())
            .filter(|s| s.kind() == *k)
            .map(|s| code(&s.name()))
            .collect();
        let _ = writeln!(o, "Rows: {}.\n", steps.join(", "));
    }
    o.push_str("## CPU categories\n\n");
    o.push_str("The report's CPU breakdown: where each row's CPU time is charged.\n\n");
    for c in CpuCategory::VARIANTS {
        let _ = writeln!(o, "### {}\n", code(c.name()));
        let _ = writeln!(o, "{}\n", c.explanation());
    }
    o.push_str("## Steps\n\n");
    o.push_str(
        "Every row, by stage, in the report's order. Each names the Linux function or \
         hardware step it models (the report's last column).\n",
    );
    for st in STAGES {
        let _ = writeln!(o, "\n### Stage {}", code(st.name));
        for s in Step::ALL.iter().filter(|s| s.stage() == st.name) {
            let _ = writeln!(o, "\n#### step: {}\n", code(&s.name()));
            let _ = writeln!(
                o,
                "kind {} · CPU {} · models {}\n",
                code(s.kind().name()),
                code(s.category().name()),
                code(s.models())
            );
            let _ = writeln!(o, "{}", s.explanation());
        }
    }
    o
}

/// The documents a report points to, bundled so that an installed binary
/// can print them: `simnet explain costs` (where every cost comes from,
/// docs/costs.md) and `simnet explain fidelity` (what simnet claims and
/// where it differs from Linux, docs/fidelity.md).
pub fn document(word: &str) -> Option<&'static str> {
    match word.trim() {
        "costs" => Some(include_str!("../docs/costs.md")),
        "fidelity" => Some(include_str!("../docs/fidelity.md")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(q: &str) -> Vec<Step> {
        (lookup(q).unwrap().into_iter())
            .filter_map(|e| match e {
                Entry::Step(s) => Some(s),
                _ => None,
            })
            .collect()
    }

    /// Every row the report can print can be looked up by what the row
    /// shows: its kind, its kernel function text, its stage; and by the
    /// step's own name.
    #[test]
    fn every_row_the_report_can_print_has_an_entry() {
        for &s in Step::ALL {
            assert_eq!(steps(&s.name()), [s], "{s:?} by name");
            assert!(steps(s.models()).contains(&s), "{s:?} by its models text");
            let kind = lookup(s.kind().name()).unwrap();
            assert!(kind.contains(&Entry::Kind(s.kind())), "{s:?}'s kind");
            let stage = lookup(s.stage()).unwrap();
            assert!(
                matches!(stage[0], Entry::Stage(st) if st.name == s.stage()),
                "{s:?}'s stage"
            );
            assert!(render(&[Entry::Step(s)]).contains(&s.explanation()[..20]));
        }
        for c in CpuCategory::VARIANTS {
            assert!(lookup(c.name()).unwrap().contains(&Entry::Category(*c)));
        }
    }

    #[test]
    fn a_kernel_function_finds_the_rows_that_name_it() {
        assert_eq!(steps("e1000_copybreak"), [Step::Copybreak]);
        assert_eq!(steps("copybreak"), [Step::Copybreak]);
        assert_eq!(steps("Tcp_Clean_Rtx_Queue"), [Step::SkbFreeAcked]);
        assert_eq!(steps("napi_consume_skb"), [Step::TxClean]);
        assert_eq!(steps("PutUserPages"), [Step::PutUserPages]);
        assert!(steps("tcp_sendmsg").len() >= 3, "write, sendmsg, writev");
        // "copy" is a kind and a CPU category.
        assert_eq!(
            lookup("copy").unwrap(),
            [Entry::Kind(Kind::Copy), Entry::Category(CpuCategory::Copy)]
        );
        assert_eq!(lookup("  nic   TX ").unwrap().len(), 1);
    }

    #[test]
    fn an_unknown_word_is_refused_with_close_matches() {
        let why = lookup("copybrake").unwrap_err();
        assert!(why.contains("\"copybrake\""), "{why}");
        assert!(why.contains("copybreak (step)"), "{why}");
        let why = lookup("desc_writebak").unwrap_err();
        assert!(why.contains("desc_writeback (kind)"), "{why}");
        assert!(lookup("").is_err());
        assert!(lookup("zzzzzzzzzzzzzzzzzzzzzzz")
            .unwrap_err()
            .contains("--markdown"));
    }

    #[test]
    fn edit_distance() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("same", "same"), 0);
    }

    #[test]
    fn the_glossary_has_every_word() {
        let g = glossary();
        for &s in Step::ALL {
            assert!(g.contains(&format!("#### step: `{}`\n", s.name())), "{s:?}");
            assert!(g.contains(&s.explanation()), "{s:?}");
        }
        for k in Kind::VARIANTS {
            assert!(g.contains(&format!("### `{}`\n", k.name())), "{k:?}");
        }
        for st in STAGES {
            assert!(g.contains(st.heading), "{}", st.name);
        }
    }
}
