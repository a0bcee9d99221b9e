//! simnet-sim: the simnet model.
//!
//! Hosts, each a real smoltcp TCP/IP stack inside a modelled machine, joined
//! by a wire (two hosts) or a switch (two to 64): a kernel socket layer
//! whose send and receive paths account every copy, pin and syscall; a
//! driver and a NIC with Tx/Rx descriptor rings, a DMA engine, interrupt
//! moderation and NAPI polling; and wires with a link rate, a propagation
//! delay and optional faults. Everything runs in virtual time (nanoseconds)
//! from one seeded RNG.
//!
//! A host is a stack of stages, one module each, listed here in the order a
//! byte meets them on its way from the sending program to the receiving one:
//!
//! | stage | module | models |
//! |---|---|---|
//! | the program and its buffers | [`app`], [`buffer`] | the send and receive calls, as plug-in paths ([`app::send`], [`app::recv`]) |
//! | the socket layer | [`socket`] | sk_buff queues, zero-copy completions, wake-ups |
//! | TCP/IP | [`stack`], [`frame`] | smoltcp, unmodified; frame headers, TSO/GSO cuts, GRO merges, checksums |
//! | the driver | [`driver`] | `ndo_start_xmit`, Tx descriptors, doorbells, Tx clean, Rx refill |
//! | the NIC | [`nic`] | descriptor rings, DMA, Tx FIFO, write-back, interrupt moderation |
//! | the wire and the switch | [`wire`], [`switch`] | serialisation, delay, queues, faults; store-and-forward |
//! | NAPI | [`napi`], [`page_pool`] | interrupts, polls, GRO, delivery to the socket |
//!
//! [`host`] stacks the stages on one CPU; [`world`] routes the events of
//! [`schedule`] between hosts, wires and the switch; [`flow`] opens each connection; [`account`]
//! and [`event`] are where every stage records what it did, naming the
//! Linux function or hardware step it models; [`provenance`] is what the
//! model tells observers about each frame at a port (whose bytes, which
//! ring slots, what the wire and NAPI did with it); [`sample`] is what the
//! model's gauges read at an instant, for observers that draw a run over
//! time; [`cost`] says what each step costs; [`report`] is what a run
//! returns. [`harness`] is not part of the
//! model: it holds the entry points fuzzers and the test suite share.
//!
//! The model never does I/O. It reports what happens through
//! [`event::Observer`]s and returns a [`report::RunReport`]; the `simnet`
//! command-line tool turns those into tables, JSON and captures. With a
//! `[tap]` table one host's port leads to a real network instead of the
//! simulated wire, through an [`external::ExternalPort`] the tool provides
//! (with the wall clock that run follows).
//!
//! What this crate does not do: read scenario files (the tool parses the
//! TOML and reports positions; the config types here declare every key,
//! default and bound through serde, with [`units`] for how quantities are
//! written), write files, or read the wall clock.
#![deny(unsafe_code)]

pub mod account;
pub mod app;
pub mod buffer;
pub mod config;
pub mod cost;
pub mod driver;
pub mod engine;
pub mod event;
pub mod external;
pub mod flow;
pub mod frame;
pub mod harness;
pub mod host;
pub mod napi;
pub mod nic;
pub mod page_pool;
pub mod provenance;
pub mod report;
pub mod sample;
pub mod schedule;
pub mod socket;
pub mod stack;
pub mod switch;
pub mod units;
pub mod wire;
pub mod world;

pub use engine::Nanos;
pub use world::{run, RunError};
