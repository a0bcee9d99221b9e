//! The `scenario` fuzz target inside the test suite, without cargo-fuzz:
//! the same entry point (`simnet::harness::scenario`, which panics on any
//! broken check) on every corpus file and crash file under `fuzz/` (the
//! committed ones, and any a local fuzzing run added) and every bundled
//! scenario, and on a hundred thousand inputs
//! from a fixed-seed mutator: the committed seeds and the bundled
//! scenarios with bytes flipped, inserted, removed, cut and spliced, TOML
//! tokens and scenario keys inserted; and on random bytes. Deterministic; about a second in release mode.

use std::path::PathBuf;

use simnet::harness;
use simnet_sim::harness::{files_in, Mutator};

/// Mutated inputs per run of the suite.
const MUTATED: usize = 100_000;
/// Random inputs per run of the suite.
const RANDOM: usize = 10_000;

/// Tokens that make TOML and scenario keys out of random edits.
const DICT: &[&[u8]] = &[
    b"\n",
    b" = ",
    b"\"",
    b"'''",
    b"[",
    b"]",
    b"[[flow]]\n",
    b"[hosts.a]\n",
    b"[hosts.a.nic]\n",
    b"[link]\n",
    b"[switch]\n",
    b"[tap]\n",
    b"{ }",
    b", ",
    b".",
    b"#",
    b"\\u0000",
    b"\r\n",
    b"\xef\xbb\xbf",
    b"\xff",
    b"\xc3\xa9",
    b"0",
    b"-1",
    b"1e400",
    b"nan",
    b"0x7fffffffffffffff",
    b"18446744073709551616",
    b"\"1KiB\"",
    b"\"1.5us\"",
    b"\"10Gbit/s\"",
    b"true",
    b"1979-05-27T07:32:00Z",
    b"bytes",
    b"from",
    b"to",
    b"port",
    b"send",
    b"recv",
    b"mtu",
    b"rate",
    b"delay",
    b"offload",
    b"\"tso\"",
    b"rx_ring",
    b"address",
    b"\"10.0.0.1/8\"",
    b"time_limit",
    b"seed",
];

/// Every file in `fuzz/<dir>/scenario`.
fn files(dir: &str) -> Vec<(String, Vec<u8>)> {
    files_in(&root().join("fuzz").join(dir).join("scenario"))
}

/// The bundled scenarios as they are now (the corpus holds copies of them
/// as they were when it was seeded).
fn bundled() -> Vec<(String, Vec<u8>)> {
    files_in(&root().join("scenarios"))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Reads one input, naming it if a check fails; whether it was accepted.
fn read(name: &str, input: &[u8]) -> bool {
    simnet_sim::harness::in_test("scenario", name, input, || harness::scenario(input).is_ok())
}

#[test]
fn every_bundled_scenario_is_accepted() {
    let bundled = bundled();
    assert!(bundled.len() > 10);
    for (name, text) in &bundled {
        assert!(read(name, text), "{name} is accepted");
    }
}

#[test]
fn every_corpus_and_crash_file_passes() {
    let corpus = files("corpus");
    assert!(corpus.len() > 10, "the seeds are committed");
    for (name, input) in corpus.iter().chain(&files("artifacts")) {
        read(name, input);
    }
}

#[test]
fn mutated_corpus_inputs_pass() {
    // The committed seeds only, not what a local fuzzing run added: the
    // same inputs on every machine.
    let corpus: Vec<Vec<u8>> = (files("corpus").into_iter())
        .filter(|(name, _)| name.starts_with("seed-"))
        .chain(bundled())
        .map(|f| f.1)
        .collect();
    let mut m = Mutator::new(11);
    let mut accepted = 0;
    for i in 0..MUTATED {
        let base = &corpus[m.below(corpus.len())];
        let other = &corpus[m.below(corpus.len())];
        let input = m.mutate(base, other, DICT, 1 << 16);
        accepted += read(&format!("mutated input {i}"), &input) as usize;
    }
    // Most edits are refused, but not all: the mutations stay near
    // scenarios, so they reach the checks past TOML syntax.
    assert!(accepted > MUTATED / 50, "{accepted} accepted");
}

#[test]
fn random_bytes_pass() {
    let mut m = Mutator::new(12);
    for i in 0..RANDOM {
        let input = m.bytes(512);
        read(&format!("random input {i}"), &input);
    }
}
