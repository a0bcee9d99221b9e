//! The applications at both ends of each flow: the first and last stage of
//! a byte's journey.
//!
//! Owns the programs: the sender's loop of send calls ([`sender`]) and the
//! receiver's loop of receive calls ([`receiver`]), the paths those calls
//! take into and out of the kernel as plug-ins ([`send`], [`recv`]), the
//! data the sender writes ([`data`]), the growable buffers `read_until`
//! reads into ([`dynamic`]) and echo flows ([`echo`]). Owns [`Track`], what
//! a flow knows across its two hosts (when each write was made, to measure
//! how long until it was read).
//!
//! Does not own the socket's kernel records beyond what a call touches
//! ([`crate::socket`]), or transmit anything: after a call the stack runs.

/// Declares a registry of paths: the enum code and scenario files name a
/// path by, each variant's name in files (what serde reads, and what errors
/// list), and the implementation of the path's trait behind it.
macro_rules! path_registry {
    (
        $(#[$edoc:meta])* $enum:ident: dyn $trait:ident, default $default:ident;
        $( $(#[$doc:meta])* $variant:ident => $name:literal, $imp:expr; )*
    ) => {
        $(#[$edoc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
        pub enum $enum { $( $(#[$doc])* #[serde(rename = $name)] $variant, )* }

        impl Default for $enum {
            /// The copy path.
            fn default() -> Self {
                $enum::$default
            }
        }

        impl $enum {
            /// Every path, in registry order.
            pub const ALL: &'static [$enum] = &[$( $enum::$variant, )*];

            /// The name scenario files use.
            pub fn name(self) -> &'static str {
                match self { $( $enum::$variant => $name, )* }
            }

            /// The path's behaviour.
            pub fn call(self) -> &'static dyn $trait {
                match self { $( $enum::$variant => &$imp, )* }
            }
        }
    };
}

pub mod data;
pub mod dynamic;
pub mod echo;
pub mod receiver;
pub mod recv;
pub mod send;
pub mod sender;

use std::collections::VecDeque;

use hdrhistogram::Histogram;

use crate::engine::{EventQueue, Nanos};
use crate::schedule::Ev;

/// io_uring submissions per `io_uring_enter`: the application batches this
/// many sends (or receives) before entering the kernel.
pub const IO_URING_BATCH: u64 = 8;

/// What a flow knows across its two hosts: the writes not yet wholly read
/// and the latency of those that were.
pub struct Track {
    /// (stream end offset, call time) of writes not yet fully read.
    pub pending_writes: VecDeque<(u64, Nanos)>,
    /// Call to the peer's read of the write's last byte.
    pub latency: Latencies,
}

impl Default for Track {
    fn default() -> Self {
        Track {
            pending_writes: VecDeque::new(),
            latency: Latencies::Few(Vec::new()),
        }
    }
}

/// A flow's write latencies: the samples themselves while there are few
/// (most flows of a many-flow run make a handful of writes, and a
/// histogram with 3 significant figures over nanoseconds to seconds holds
/// tens of thousands of counters), a histogram once there are many.
pub enum Latencies {
    Few(Vec<Nanos>),
    Many(Box<Histogram<u64>>),
}

/// Samples kept as they are before a flow's latencies become a histogram.
const FEW_LATENCIES: usize = 64;

impl Latencies {
    fn record(&mut self, ns: Nanos) {
        match self {
            Latencies::Few(v) if v.len() < FEW_LATENCIES => v.push(ns),
            Latencies::Few(v) => {
                let mut h = Latencies::histogram_of(v);
                let _ = h.record(ns);
                *self = Latencies::Many(Box::new(h));
            }
            Latencies::Many(h) => {
                let _ = h.record(ns);
            }
        }
    }

    fn histogram_of(samples: &[Nanos]) -> Histogram<u64> {
        let mut h = Histogram::new(3).expect("3 significant figures is valid");
        for &ns in samples {
            let _ = h.record(ns);
        }
        h
    }

    /// (p50, p99, max), as the histogram reports them (the same figures
    /// whichever form the samples are in).
    pub fn summary(&self) -> (Nanos, Nanos, Nanos) {
        let of =
            |h: &Histogram<u64>| (h.value_at_quantile(0.5), h.value_at_quantile(0.99), h.max());
        match self {
            Latencies::Few(v) => of(&Latencies::histogram_of(v)),
            Latencies::Many(h) => of(h),
        }
    }
}

impl Track {
    /// The reader has read up to stream offset `received` at `now`: every
    /// write that ended there is done.
    pub fn read_to(&mut self, received: u64, now: Nanos) {
        while let Some(&(end, t0)) = self.pending_writes.front() {
            if end > received {
                break;
            }
            self.pending_writes.pop_front();
            self.latency.record((now - t0).max(1));
        }
    }
}

/// Schedules an application step of flow `f` at `at`, unless one is
/// already pending.
pub fn wake(q: &mut EventQueue<Ev>, pending: &mut bool, at: Nanos, f: usize, recv: bool) {
    if !*pending {
        *pending = true;
        q.push(
            at,
            Ev::App {
                flow: f as u16,
                recv,
            },
        );
    }
}
