//! The run over time: one observer behind `--timeline` and `--html`.
//!
//! Owns [`Recorder`], the [`Observer`] that keeps the model's gauges
//! sampled at fixed steps of virtual time ([`Series`]) and, when a timeline
//! is asked for, hands every event and frame to [`Timeline`], which keeps
//! the detailed part. Both outputs read the same samples: the timeline's
//! counter tracks and the HTML report's plots.
//!
//! [`Series`] keeps memory bounded whatever the run's length: samples start
//! 1 us apart; when the series is full ([`Series::capacity`], at most 2,048
//! samples and at most 8 MiB), the interval doubles and every other
//! sample goes, so a run ends with between half and all of the capacity,
//! evenly spaced, plus the sample at its end.
//!
//! Does not write anything: [`crate::timeline`] and [`crate::html`] do.

use simnet_sim::event::{CpuCategory, Direction, Event, Observer};
use simnet_sim::provenance::FrameInfo;
use simnet_sim::sample::{FlowGauges, HostGauges, Sample};
use simnet_sim::Nanos;

use crate::timeline::Timeline;

/// The first interval between samples.
const FIRST_EVERY: Nanos = 1_000;
/// Most samples a series keeps.
const MAX_SAMPLES: usize = 2048;
/// Fewest samples a series keeps before thinning, however many hosts and
/// flows a sample holds.
const MIN_SAMPLES: usize = 256;
/// Most memory a series holds (with 64 hosts and 63 flows, the most a
/// scenario has, a sample is about 7 KiB: 1,100 samples).
const MAX_BYTES: usize = 8 << 20;

/// The model's gauges over a run, evenly sampled, bounded in memory.
#[derive(Debug, Clone)]
pub struct Series {
    every: Nanos,
    capacity: usize,
    hosts: usize,
    flows: usize,
    times: Vec<Nanos>,
    host_rows: Vec<HostGauges>,
    flow_rows: Vec<FlowGauges>,
    wire: Vec<u64>,
}

impl Series {
    /// An empty series for `hosts` hosts and `flows` flows.
    pub fn new(hosts: usize, flows: usize) -> Series {
        let per_sample = 16
            + hosts * std::mem::size_of::<HostGauges>()
            + flows * std::mem::size_of::<FlowGauges>();
        let capacity = (MAX_BYTES / per_sample).clamp(MIN_SAMPLES, MAX_SAMPLES);
        Series {
            every: FIRST_EVERY,
            capacity,
            hosts,
            flows,
            times: Vec::new(),
            host_rows: Vec::new(),
            flow_rows: Vec::new(),
            wire: Vec::new(),
        }
    }

    /// The interval between samples now.
    pub fn every(&self) -> Nanos {
        self.every
    }

    /// Most samples kept at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn len(&self) -> usize {
        self.times.len()
    }

    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    pub fn hosts(&self) -> usize {
        self.hosts
    }

    pub fn flows(&self) -> usize {
        self.flows
    }

    /// When sample `i` was taken.
    pub fn time(&self, i: usize) -> Nanos {
        self.times[i]
    }

    /// Host `h`'s gauges in sample `i`.
    pub fn host(&self, i: usize, h: usize) -> &HostGauges {
        &self.host_rows[i * self.hosts + h]
    }

    /// Flow `f`'s gauges in sample `i`.
    pub fn flow(&self, i: usize, f: usize) -> &FlowGauges {
        &self.flow_rows[i * self.flows + f]
    }

    /// Frames on the wires in sample `i`.
    pub fn wire_frames(&self, i: usize) -> u64 {
        self.wire[i]
    }

    /// Host `h`'s CPU busy, in percent by category ([`CpuCategory::ALL`]
    /// order), over each interval from one sample to the next (at the
    /// interval's start). The model charges a task's work when the task
    /// starts, so an interval can be charged more than it lasts; what does
    /// not fit is carried into the next ones, as the CPU runs it then, so
    /// that the CPU is never more than 100% busy.
    pub fn cpu_percent(&self, h: usize) -> Vec<(Nanos, [f64; CpuCategory::ALL.len()])> {
        const N: usize = CpuCategory::ALL.len();
        let mut carry = [0.0f64; N];
        let mut out = Vec::with_capacity(self.len());
        for i in 0..self.len().saturating_sub(1) {
            let dt = self.time(i + 1).saturating_sub(self.time(i)) as f64;
            if dt <= 0.0 {
                continue;
            }
            let (a, b) = (self.host(i, h), self.host(i + 1, h));
            let mut pending = [0.0f64; N];
            for k in 0..N {
                pending[k] = carry[k] + b.cpu[k].saturating_sub(a.cpu[k]) as f64;
            }
            let total: f64 = pending.iter().sum();
            let scale = if total > dt { dt / total } else { 1.0 };
            let mut percent = [0.0f64; N];
            for k in 0..N {
                let ran = pending[k] * scale;
                carry[k] = pending[k] - ran;
                percent[k] = ran / dt * 100.0;
            }
            out.push((self.time(i), percent));
        }
        out
    }

    /// Adds a sample (one of another shape than the series' is ignored).
    pub fn push(&mut self, s: &Sample) {
        if s.hosts.len() != self.hosts || s.flows.len() != self.flows {
            return;
        }
        if self.times.last().is_some_and(|&t| t >= s.time) {
            return; // time only goes on
        }
        while self.times.len() >= self.capacity {
            self.thin();
        }
        self.times.push(s.time);
        self.host_rows.extend_from_slice(&s.hosts);
        self.flow_rows.extend_from_slice(&s.flows);
        self.wire.push(s.wire_frames);
    }

    /// Doubles the interval and keeps the samples at its multiples.
    fn thin(&mut self) {
        self.every = self.every.saturating_mul(2);
        let every = self.every;
        let keep: Vec<bool> = self.times.iter().map(|t| t % every == 0).collect();
        let mut k = keep.iter();
        self.times.retain(|_| *k.next().unwrap_or(&false));
        let mut k = keep.iter();
        self.wire.retain(|_| *k.next().unwrap_or(&false));
        let (h, f) = (self.hosts, self.flows);
        let mut i = 0;
        self.host_rows.retain(|_| {
            i += 1;
            keep[(i - 1) / h.max(1)]
        });
        let mut i = 0;
        self.flow_rows.retain(|_| {
            i += 1;
            keep[(i - 1) / f.max(1)]
        });
    }
}

/// Samples the run, and follows it in detail for a timeline.
pub struct Recorder {
    pub series: Series,
    pub timeline: Option<Timeline>,
}

impl Recorder {
    /// A recorder for `hosts` hosts and `flows` flows; with `timeline`,
    /// events and frames go to it too.
    pub fn new(hosts: usize, flows: usize, timeline: Option<Timeline>) -> Recorder {
        Recorder {
            series: Series::new(hosts, flows),
            timeline,
        }
    }
}

impl Observer for Recorder {
    fn wants_frames(&self) -> bool {
        self.timeline.is_some()
    }

    fn wants_events(&self) -> bool {
        self.timeline.is_some()
    }

    fn frame(&mut self, host: usize, time: Nanos, dir: Direction, frame: &[u8], _: &FrameInfo) {
        if let Some(t) = &mut self.timeline {
            t.frame(host, time, dir, frame);
        }
    }

    fn event(&mut self, e: &Event) {
        if let Some(t) = &mut self.timeline {
            t.event(e);
        }
    }

    fn sample_every(&self) -> Option<Nanos> {
        Some(self.series.every())
    }

    fn sample(&mut self, s: &Sample) {
        self.series.push(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(time: Nanos, v: u64) -> Sample {
        Sample {
            time,
            hosts: vec![HostGauges {
                cpu_busy: v,
                ..HostGauges::default()
            }],
            flows: vec![FlowGauges {
                read: v,
                ..FlowGauges::default()
            }],
            wire_frames: v,
        }
    }

    #[test]
    fn a_long_series_thins_to_even_steps_within_its_capacity() {
        let mut s = Series::new(1, 1);
        let cap = s.capacity();
        let mut t = 0;
        for _ in 0..20_000 {
            s.push(&sample(t, t));
            t += s.every();
        }
        s.push(&sample(t + 7, 1)); // the end of the run, off the grid
        assert!(s.len() <= cap && s.len() >= cap / 2, "{}", s.len());
        let every = s.every();
        for i in 0..s.len() - 1 {
            assert_eq!(s.time(i) % every, 0);
            // Rows stayed with their times.
            assert_eq!(s.host(i, 0).cpu_busy, s.time(i));
            assert_eq!(s.flow(i, 0).read, s.time(i));
            assert_eq!(s.wire_frames(i), s.time(i));
        }
        assert_eq!(s.time(s.len() - 1), t + 7);
    }

    #[test]
    fn cpu_charged_ahead_is_spread_forward_never_above_the_whole_cpu() {
        let mut s = Series::new(1, 0);
        let mut at = |t: Nanos, copy: Nanos, stack: Nanos| {
            let mut h = HostGauges::default();
            h.cpu[1] = copy;
            h.cpu[4] = stack;
            s.push(&Sample {
                time: t,
                hosts: vec![h],
                flows: vec![],
                wire_frames: 0,
            });
        };
        // 30 ns of copy and 10 of stack charged in the first 10 ns.
        at(0, 0, 0);
        at(10, 30, 10);
        at(20, 30, 10);
        at(30, 30, 10);
        at(40, 30, 10);
        at(50, 30, 10);
        let p = s.cpu_percent(0);
        let total = |i: usize| p[i].1.iter().sum::<f64>();
        assert_eq!(p.len(), 5);
        for i in 0..4 {
            assert!((total(i) - 100.0).abs() < 1e-9, "{i}: {p:?}");
            assert!((p[i].1[1] - 75.0).abs() < 1e-9, "copy keeps its share");
        }
        assert_eq!(total(4), 0.0);
    }

    #[test]
    fn samples_of_another_shape_or_out_of_order_are_ignored() {
        let mut s = Series::new(2, 1);
        s.push(&sample(0, 0)); // one host, not two
        assert!(s.is_empty());
        let mut ok = sample(5, 0);
        ok.hosts.push(HostGauges::default());
        s.push(&ok);
        s.push(&ok);
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn many_hosts_and_flows_take_fewer_samples() {
        let s = Series::new(64, 63);
        assert!(s.capacity() < MAX_SAMPLES && s.capacity() >= MIN_SAMPLES);
        let bytes = s.capacity()
            * (64 * std::mem::size_of::<HostGauges>() + 63 * std::mem::size_of::<FlowGauges>());
        assert!(bytes <= MAX_BYTES);
    }
}
