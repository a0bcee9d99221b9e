//! Accounting: where every stage of a host records what it did.
//!
//! Owns [`Acct`], a host's tally: the always-on [`Counters`] behind the
//! report, and, when an observer asked for them, the individual [`Event`]s
//! with their provenance ([`Ctx`]). Owns [`Task`], the handle a stage gets
//! while it runs on the host's CPU: the tally, the cost model, and the
//! cursor of virtual time the task has reached. Charging work moves the
//! cursor; noting a step (hardware, a wait) does not.
//!
//! Does not decide what anything costs ([`crate::cost`]) or when a task may
//! run ([`crate::host`] keeps the CPU's timeline).

use crate::cost::CostModel;
use crate::engine::Nanos;
use crate::event::{Counters, Ctx, Event, Observer, Step};

/// A host's tally: counters always, events when an observer wants them.
pub struct Acct {
    id: u8,
    pub counters: Counters,
    events: Option<Vec<Event>>,
}

impl Acct {
    /// The tally of host `id`; with `events`, individual events are kept
    /// for the observer too.
    pub fn new(id: u8, events: bool) -> Acct {
        Acct {
            id,
            counters: Counters::default(),
            events: events.then(Vec::new),
        }
    }

    /// Whether an observer wants individual events (and so provenance is
    /// worth working out).
    #[inline]
    pub fn wants_events(&self) -> bool {
        self.events.is_some()
    }

    /// Charges CPU work at the cursor and moves the cursor past it.
    #[inline]
    pub fn charge(&mut self, c: &mut Nanos, step: Step, count: u64, bytes: u64, ns: Nanos) {
        self.record(*c, step, count, bytes, ns, Ctx::NONE);
        *c += ns;
    }

    /// [`Acct::charge`] with provenance for observers.
    #[inline]
    pub fn charge_ctx(&mut self, c: &mut Nanos, step: Step, n: (u64, u64), ns: Nanos, ctx: Ctx) {
        self.record(*c, step, n.0, n.1, ns, ctx);
        *c += ns;
    }

    /// Records a step that costs this CPU nothing (hardware, waits).
    #[inline]
    pub fn note(&mut self, t: Nanos, step: Step, count: u64, bytes: u64) {
        self.record(t, step, count, bytes, 0, Ctx::NONE);
    }

    /// [`Acct::note`] with provenance for observers.
    #[inline]
    pub fn note_ctx(&mut self, t: Nanos, step: Step, count: u64, bytes: u64, ctx: Ctx) {
        self.record(t, step, count, bytes, 0, ctx);
    }

    #[inline]
    fn record(&mut self, time: Nanos, step: Step, count: u64, bytes: u64, cpu_ns: Nanos, ctx: Ctx) {
        self.counters.add(step, count, bytes, cpu_ns);
        if let Some(ev) = &mut self.events {
            ev.push(Event {
                time,
                host: self.id,
                step,
                count,
                bytes,
                cpu_ns,
                ctx,
            });
        }
    }

    /// Hands the events recorded since the last call to `obs`.
    pub fn flush(&mut self, obs: &mut dyn Observer) {
        if let Some(evs) = &mut self.events {
            for e in evs.drain(..) {
                obs.event(&e);
            }
        }
    }
}

/// The task running on a host's CPU, as a stage sees it: where its work is
/// tallied, what work costs, and how far in virtual time it has got.
pub struct Task<'a> {
    pub acct: &'a mut Acct,
    pub cost: &'a CostModel,
    /// The CPU cursor: charged work moves it on.
    pub now: &'a mut Nanos,
}

impl Task<'_> {
    /// Charges `ns` of CPU for `count` of `step` moving `bytes`.
    #[inline]
    pub fn charge(&mut self, step: Step, count: u64, bytes: u64, ns: Nanos) {
        self.acct.charge(self.now, step, count, bytes, ns);
    }

    /// [`Task::charge`] with provenance.
    #[inline]
    pub fn charge_ctx(&mut self, step: Step, n: (u64, u64), ns: Nanos, ctx: Ctx) {
        self.acct.charge_ctx(self.now, step, n, ns, ctx);
    }

    /// A step that costs no CPU, at the cursor.
    #[inline]
    pub fn note(&mut self, step: Step, count: u64, bytes: u64) {
        self.acct.note(*self.now, step, count, bytes);
    }

    /// [`Task::note`] with provenance.
    #[inline]
    pub fn note_ctx(&mut self, step: Step, count: u64, bytes: u64, ctx: Ctx) {
        self.acct.note_ctx(*self.now, step, count, bytes, ctx);
    }
}
