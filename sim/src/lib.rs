//! simnet-sim: the simnet model.
//!
//! Two hosts, each a real smoltcp TCP/IP stack inside a modelled machine: a
//! kernel socket layer whose send and receive paths account every copy, pin
//! and syscall; a driver and a NIC with Tx/Rx descriptor rings, a DMA engine,
//! interrupt moderation and NAPI polling; and a wire with a link rate, a
//! propagation delay and optional faults. Everything runs in virtual time
//! (nanoseconds) from one seeded RNG.
//!
//! The model never does I/O. It reports what happens through
//! [`event::Observer`]s and returns a [`report::RunReport`]; the `simnet`
//! command-line tool turns those into tables, JSON and captures.
//!
//! With a `[tap]` table one host's port leads to a real network instead of
//! the simulated wire, through an [`external::ExternalPort`] the tool
//! provides (with the wall clock that run follows).
//!
//! What this crate does not do: read scenario files (the tool parses the
//! TOML and reports positions; the config types here declare every key,
//! default and bound through serde, with [`units`] for how quantities are
//! written), write files, or read the wall clock.
#![deny(unsafe_code)]

pub mod buffer;
pub mod config;
pub mod cost;
pub mod engine;
pub mod event;
pub mod external;
pub mod kernel;
pub mod nic;
pub mod page_pool;
pub mod report;
pub mod skb;
pub mod syscall;
pub mod units;
pub mod wire;
pub mod world;

pub use engine::Nanos;
pub use world::{run, RunError};
