//! simnet, the command-line tool: scenario files, reports, captures.
//!
//! The model lives in `simnet-sim`; this crate reads scenario files into its
//! types ([`scenario`]), runs it, and writes what the user asked for: the
//! report a student reads ([`brief`]), the complete table or the JSON
//! summary ([`output`]), the scenarios bundled into the binary and how an
//! argument names one ([`bundled`]), two runs side by side
//! ([`compare`]), the journey of one buffer ([`trace`]), the meaning
//! of any row ([`explain`], which also writes `docs/glossary.md`), pcapng
//! captures ([`capture`]), each frame with a comment saying whose bytes it
//! carries and what befell it ([`comment`]), and the run over time:
//! [`recorder`] samples it (and follows it in detail for [`timeline`], a
//! Perfetto trace), [`html`] draws it in a self-contained report; both are
//! written whole through [`outfile`]; [`progress`] shows a long run's
//! progress bar on stderr. With a `[tap]` table, [`tap`] bridges one simulated host
//! to the Linux kernel through a TAP device. [`signals`] decides what
//! SIGINT, SIGTERM and SIGHUP do: end a simulated run, leaving no temporary
//! capture behind, or stop a TAP run cleanly. [`sweep`] runs a scenario over a grid of
//! values in parallel and writes a CSV and a plot. [`harness`] is not part of
//! the tool: it holds the scenario reader's fuzz entry point.
#![deny(unsafe_code)]

pub mod brief;
pub mod bundled;
pub mod capture;
pub mod comment;
pub mod compare;
pub mod explain;
pub mod harness;
pub mod html;
pub mod outfile;
pub mod output;
pub mod progress;
pub mod recorder;
pub mod scenario;
pub mod signals;
pub mod sweep;
#[allow(unsafe_code)] // one borrow of the TAP device's descriptor for poll
pub mod tap;
pub mod timeline;
pub mod trace;
