//! simnet, the command-line tool: scenario files, reports, captures.
//!
//! The model lives in `simnet-sim`; this crate reads scenario files into its
//! types, runs it, and writes what the user asked for.
#![deny(unsafe_code)]

pub mod scenario;
