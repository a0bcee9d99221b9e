//! Arbitrary frames arriving at a live run's NICs: see
//! `simnet_sim::harness::rx_frames`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    simnet_sim::harness::rx_frames(data);
});
