//! The progress bar of `simnet run` and `simnet trace`: bytes delivered of
//! the scenario's total, virtual time, goodput so far, and how fast the
//! simulation goes on the wall clock, on stderr once a run has taken
//! [`DELAY`] of wall time (README, "Running a scenario").
//!
//! Owns [`Watch`], an observer wrapped around the run's own (captures,
//! recorder, trace, or none), and [`Pace`], its decisions without a clock.
//! The caller decides whether there is a bar at all: none with `--quiet`,
//! when stderr is not a terminal, or for a `[tap]` run (which follows the
//! wall clock and prints its own notes); then no `Watch` is made and the
//! run is exactly as it would be without this module.
//!
//! How it follows the run: through the model's samples
//! ([`Observer::sample`]), never per frame or per event. If the wrapped
//! observer samples (the recorder behind `--html` and `--timeline`), the
//! bar reads the same samples at the recorder's interval and never changes
//! it, so the recorder's series is what it is without a bar. Otherwise the
//! bar asks for its own samples at an interval of virtual time that
//! [`Pace`] adjusts so that they come every [`FAST`] to [`SLOW`] of wall
//! time: a few dozen clock reads and gauge readings a second, whatever the
//! scenario's ratio of virtual to wall time. Frames and events go to the
//! wrapped observer as they would without the bar (statically dispatched:
//! `Watch` is generic over it).
//!
//! The model never reads the wall clock; only `Watch` does, and nothing it
//! sees flows back: a sample reads gauges (`simnet_sim::sample`), so the
//! run, its report and its captures are the same with or without a bar.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use simnet_sim::config::Scenario;
use simnet_sim::event::{Direction, Event, Observer, Sample};
use simnet_sim::provenance::FrameInfo;
use simnet_sim::Nanos;

use crate::output::{human_ns, human_rate};

/// Wall time a run takes before its bar shows.
pub const DELAY: Duration = Duration::from_secs(1);
/// Samples closer than this on the wall clock double the interval.
pub const FAST: Duration = Duration::from_millis(20);
/// Samples further apart than this halve it.
pub const SLOW: Duration = Duration::from_millis(200);
/// The first interval of virtual time between the bar's own samples.
pub const FIRST_EVERY: Nanos = 100_000;
/// The shortest and longest intervals.
pub const MIN_EVERY: Nanos = 1_000;
pub const MAX_EVERY: Nanos = 1 << 40;

/// When to sample and whether to show, from the wall time of each sample
/// (no clock here: the caller passes it).
#[derive(Debug, Clone)]
pub struct Pace {
    every: Nanos,
    last: Duration,
}

impl Default for Pace {
    fn default() -> Pace {
        Pace {
            every: FIRST_EVERY,
            last: Duration::ZERO,
        }
    }
}

impl Pace {
    /// The interval of virtual time to the next sample.
    pub fn every(&self) -> Nanos {
        self.every
    }

    /// A sample came `elapsed` after the run began: the interval doubles if
    /// it came less than [`FAST`] after the previous one, halves if more
    /// than [`SLOW`] after it. True when the bar should show (from
    /// [`DELAY`] on).
    pub fn tick(&mut self, elapsed: Duration) -> bool {
        let gap = elapsed.saturating_sub(self.last);
        self.last = elapsed;
        if gap < FAST {
            self.every = self.every.saturating_mul(2).min(MAX_EVERY);
        } else if gap > SLOW {
            self.every = (self.every / 2).max(MIN_EVERY);
        }
        elapsed >= DELAY
    }
}

/// What the bar says after its counts: the virtual time and the goodput
/// so far (`delivered` bytes in `time` of virtual time).
pub fn status(delivered: u64, time: Nanos) -> String {
    let bps = match time {
        0 => 0,
        t => (delivered as u128 * 8 * 1_000_000_000 / t as u128).min(u64::MAX as u128) as u64,
    };
    format!("virtual {}, {}", human_ns(time), human_rate(bps))
}

/// Bytes every flow's receiver has read, at most `total`.
pub fn delivered(s: &Sample, total: u64) -> u64 {
    s.flows.iter().map(|f| f.read).sum::<u64>().min(total)
}

/// The observer `O` of a run, and a progress bar that follows it (see
/// the module's docs). Dropping it clears the bar.
pub struct Watch<'a, O: Observer> {
    inner: &'a mut O,
    /// Whether `inner` samples: then the bar takes its samples.
    follows: bool,
    pace: Pace,
    start: Instant,
    total: u64,
    bar: ProgressBar,
    shown: bool,
}

impl<'a, O: Observer> Watch<'a, O> {
    /// A bar for a run of `sc` named `what` (`simnet run`), around `inner`.
    /// Hidden until [`DELAY`] has passed.
    pub fn new(inner: &'a mut O, sc: &Scenario, what: &str) -> Watch<'a, O> {
        let total = sc.flows.iter().map(|f| f.bytes).sum();
        // Hidden at first but counting, so that its rate and time left
        // have a history when it shows.
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
        if let Ok(style) = ProgressStyle::with_template(
            "{prefix} [{wide_bar}] {binary_bytes}/{binary_total_bytes}, {msg}, {eta} left",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(what.to_string());
        Watch {
            follows: inner.sample_every().is_some(),
            inner,
            pace: Pace::default(),
            start: Instant::now(),
            total,
            bar,
            shown: false,
        }
    }
}

impl<O: Observer> Drop for Watch<'_, O> {
    fn drop(&mut self) {
        if self.shown {
            self.bar.finish_and_clear();
            crate::signals::progress_shown(false);
        }
    }
}

impl<O: Observer> Observer for Watch<'_, O> {
    fn wants_frames(&self) -> bool {
        self.inner.wants_frames()
    }

    fn wants_events(&self) -> bool {
        self.inner.wants_events()
    }

    fn frame(&mut self, host: usize, time: Nanos, dir: Direction, frame: &[u8], info: &FrameInfo) {
        self.inner.frame(host, time, dir, frame, info);
    }

    fn event(&mut self, e: &Event) {
        self.inner.event(e);
    }

    fn sample_every(&self) -> Option<Nanos> {
        if self.follows {
            self.inner.sample_every()
        } else {
            Some(self.pace.every())
        }
    }

    fn sample(&mut self, s: &Sample) {
        if self.follows {
            self.inner.sample(s);
        }
        let show = self.pace.tick(self.start.elapsed());
        let delivered = delivered(s, self.total);
        self.bar.set_position(delivered);
        self.bar.set_message(status(delivered, s.time));
        if show && !self.shown {
            self.shown = true;
            crate::signals::progress_shown(true);
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use simnet_sim::sample::FlowGauges;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn samples_closer_than_fast_make_the_interval_grow_and_sparse_ones_shrink_it() {
        let mut p = Pace::default();
        assert_eq!(p.every(), FIRST_EVERY);
        // A run far faster than its virtual time: every sample 1 ms apart.
        let mut t = Duration::ZERO;
        for _ in 0..5 {
            t += MS;
            p.tick(t);
        }
        assert_eq!(p.every(), FIRST_EVERY << 5);
        // Within the band the interval stays.
        t += 50 * MS;
        p.tick(t);
        assert_eq!(p.every(), FIRST_EVERY << 5);
        // Samples a second apart halve it, down to the floor.
        for _ in 0..40 {
            t += 1000 * MS;
            p.tick(t);
        }
        assert_eq!(p.every(), MIN_EVERY);
        // And it never grows past the ceiling.
        for _ in 0..64 {
            p.tick(t);
        }
        assert_eq!(p.every(), MAX_EVERY);
    }

    #[test]
    fn the_bar_shows_only_after_the_delay() {
        let mut p = Pace::default();
        assert!(!p.tick(Duration::ZERO));
        assert!(!p.tick(DELAY - MS));
        assert!(p.tick(DELAY));
        assert!(p.tick(DELAY + 300 * MS));
    }

    #[test]
    fn the_status_says_virtual_time_and_goodput() {
        // 125 MB in 100 ms of virtual time: 10 Gbit/s.
        assert_eq!(
            status(125_000_000, 100_000_000),
            "virtual 100.00 ms, 10.00 Gbit/s"
        );
        assert_eq!(status(0, 0), "virtual 0 ns, 0.0 Mbit/s");
        let s = Sample {
            time: 5,
            hosts: vec![],
            flows: vec![
                FlowGauges {
                    read: 700,
                    ..FlowGauges::default()
                },
                FlowGauges {
                    read: 500,
                    ..FlowGauges::default()
                },
            ],
            wire_frames: 0,
        };
        assert_eq!(delivered(&s, 2000), 1200);
        assert_eq!(delivered(&s, 1000), 1000, "never past the total");
    }

    /// An observer that samples on its own, and one that does not: the
    /// bar takes the first's interval and samples and forwards them; for
    /// the second it asks for its own and keeps them.
    #[test]
    fn the_bar_follows_an_observer_that_samples_and_never_changes_its_interval() {
        #[derive(Default)]
        struct Sampler(Vec<Nanos>);
        impl Observer for Sampler {
            fn sample_every(&self) -> Option<Nanos> {
                Some(1_000)
            }
            fn sample(&mut self, s: &Sample) {
                self.0.push(s.time);
            }
        }
        let sc = Scenario::two_hosts(1 << 20, 1 << 16, simnet_sim::config::SendPath::Write);
        let mut inner = Sampler::default();
        let mut w = Watch::new(&mut inner, &sc, "test");
        assert_eq!(w.sample_every(), Some(1_000));
        for t in [0, 1_000, 2_000] {
            w.sample(&Sample {
                time: t,
                ..Sample::default()
            });
            assert_eq!(w.sample_every(), Some(1_000));
        }
        drop(w);
        assert_eq!(inner.0, [0, 1_000, 2_000]);

        struct Quiet;
        impl Observer for Quiet {
            fn sample(&mut self, _: &Sample) {
                panic!("an observer that does not sample got a sample");
            }
        }
        let mut q = Quiet;
        let mut w = Watch::new(&mut q, &sc, "test");
        assert_eq!(w.sample_every(), Some(FIRST_EVERY));
        w.sample(&Sample::default());
        assert!(w.sample_every().is_some());
    }
}
