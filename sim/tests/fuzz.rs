//! The `rx_frames` fuzz target inside the test suite, without cargo-fuzz:
//! the same entry point (`harness::rx_frames`, which panics on any broken
//! check) on every corpus file and crash file under `fuzz/` (the committed
//! ones, and any a local fuzzing run added), on the seeds as the harness
//! builds them now, and on a few thousand inputs from a fixed-seed
//! mutator: the seeds mutated and spliced, and random frames shaped to
//! reach the flow's socket. Deterministic; a few seconds in release mode.

use std::path::{Path, PathBuf};

use simnet_sim::event::Step;
use simnet_sim::harness::{self, Mutator, Record};
use simnet_sim::report::Outcome;

/// Mutated inputs per run of the suite.
const MUTATED: usize = 3000;
/// Random inputs per run of the suite.
const RANDOM: usize = 1000;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// Every file in `fuzz/<dir>/rx_frames`, by name.
fn files(dir: &str) -> Vec<(String, Vec<u8>)> {
    harness::files_in(&fuzz_dir().join(dir).join("rx_frames"))
}

/// Runs one input, naming it if it fails.
fn run(name: &str, input: &[u8]) -> Outcome {
    harness::in_test("rx_frames", name, input, || {
        harness::rx_frames(input).outcome
    })
}

#[test]
fn every_corpus_and_crash_file_passes() {
    let corpus = files("corpus");
    assert!(corpus.len() >= 10, "the seeds are committed");
    for (name, input) in corpus.iter().chain(&files("artifacts")) {
        run(name, input);
    }
}

/// A SYN for the connecting socket before its own SYN has left: smoltcp
/// 0.14.0 panics on it ("attempt to subtract sequence numbers with
/// underflow"), so the model drops it before smoltcp sees it, and says so.
#[test]
fn a_syn_before_the_sockets_own_syn_is_dropped_not_a_panic() {
    let name = "crash-smoltcp-syn-in-syn-sent-before-its-own-syn";
    let input = files("artifacts")
        .into_iter()
        .find(|(n, _)| n.ends_with(name))
        .map(|(_, i)| i)
        .expect("the input is committed");
    let r = harness::rx_frames(&input);
    let dropped: u64 = r
        .hosts
        .iter()
        .map(|h| h.counters.get(Step::RxSynBeforeOwnSyn).count)
        .sum();
    assert!(dropped > 0, "the SYN reached smoltcp");
}

#[test]
fn the_seeds_replay_and_the_empty_input_is_a_clean_run() {
    assert_eq!(run("empty", &[]), Outcome::Ok);
    for (name, input) in harness::seeds() {
        // Duplicates of frames that arrived anyway change no byte.
        assert_ne!(run(&name, &input), Outcome::Integrity, "{name}");
    }
}

#[test]
fn mutated_corpus_inputs_pass() {
    // The committed seeds only, not what a local fuzzing run added: the
    // same inputs on every machine.
    let corpus: Vec<Vec<u8>> = (files("corpus").into_iter())
        .filter(|(name, _)| name.starts_with("seed-"))
        .map(|f| f.1)
        .chain(harness::seeds().into_iter().map(|s| s.1))
        .filter(|f| !f.is_empty())
        .collect();
    // Tokens worth inserting: frame records' flag bytes and lengths.
    let dict: &[&[u8]] = &[
        &[0, 0, 0, 0],
        &[0x36, 0, 1, 0x0e],
        &[0xdc, 0x05, 0x10, 0x0f],
        &[0x08, 0x00, 0x45, 0x00],
        &[0xff, 0xff],
    ];
    let mut m = Mutator::new(9);
    for i in 0..MUTATED {
        let base = &corpus[m.below(corpus.len())];
        let other = &corpus[m.below(corpus.len())];
        let input = m.mutate(base, other, dict, 1 << 14);
        run(&format!("mutated input {i}"), &input);
    }
}

#[test]
fn random_frames_pass() {
    let mut m = Mutator::new(10);
    let mut outcomes = [0usize; 2];
    for i in 0..RANDOM {
        let options = m.below(256) as u8;
        let records: Vec<Record> = (0..1 + m.below(8))
            .map(|_| Record {
                gap_us: m.below(256) as u8,
                // Mostly shaped into the flow's segments, so they get past
                // the address, length and checksum checks.
                flags: m.below(16) as u8
                    | if m.below(4) > 0 {
                        harness::ADDRESS | harness::LENGTH | harness::CHECKSUMS
                    } else {
                        0
                    },
                bytes: m.bytes(1600),
            })
            .collect();
        let outcome = run(
            &format!("random input {i}"),
            &harness::encode(options, &records),
        );
        outcomes[(outcome == Outcome::Ok) as usize] += 1;
    }
    // Most random frames are refused, some disrupt the connection.
    assert!(outcomes[1] > RANDOM / 2, "{outcomes:?}");
}
