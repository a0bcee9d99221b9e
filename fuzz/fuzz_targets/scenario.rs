//! The scenario reader on arbitrary bytes: see `simnet::harness::scenario`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = simnet::harness::scenario(data);
});
