//! simnet, the command-line tool: scenario files, reports, captures.
//!
//! The model lives in `simnet-sim`; this crate reads scenario files into its
//! types ([`scenario`]), runs it, and writes what the user asked for: the
//! report table or JSON summary ([`output`]) and pcapng captures
//! ([`capture`]).
#![deny(unsafe_code)]

pub mod capture;
pub mod output;
pub mod scenario;
pub mod trace;
