//! `simnet trace`: the journey of one application buffer.
//!
//! Owns [`Trace`], an [`Observer`] that follows one buffer of one flow: it
//! learns which stream bytes the buffer held from the send calls that used
//! it (their provenance), then keeps every event whose bytes overlap them —
//! copies, pins, sk_buff frags, Tx descriptors and their ring slots, DMA,
//! the receiver's Rx slots and stack, the peer's read — and every frame that
//! carried them, numbered as in the capture files written by the same run.
//!
//! Does not interpret the model: it prints the steps the model accounted,
//! with their names.

use std::fmt::Write as _;

use simnet_sim::event::{Direction, Event, Kind, Observer, Sample, Step};
use simnet_sim::frame;
use simnet_sim::Nanos;

use crate::output::{human_bytes, human_ns};

/// One line of the journey.
struct Line {
    time: Nanos,
    host: usize,
    text: String,
}

/// Follows buffer `buffer` of flow `flow`.
pub struct Trace {
    flow: u16,
    buffer: u32,
    /// Which use of the buffer to show (the k-th send call from it), or all.
    use_index: Option<usize>,
    hosts: Vec<String>,
    port: u16,
    /// Stream ranges the buffer held, one per send call that used it.
    ranges: Vec<(u64, u64)>,
    /// Frames seen per host (capture frame numbers start at 1).
    frames: Vec<u64>,
    /// The data sender's ISN, from its SYN on the wire.
    isn: Option<u32>,
    /// Last stream offset seen per host, to undo 32-bit wrap-around.
    last_offset: Vec<u64>,
    lines: Vec<Line>,
}

impl Trace {
    pub fn new(
        flow: u16,
        buffer: u32,
        use_index: Option<usize>,
        hosts: Vec<String>,
        port: u16,
    ) -> Trace {
        let n = hosts.len();
        Trace {
            flow,
            buffer,
            use_index,
            hosts,
            port,
            ranges: Vec::new(),
            frames: vec![0; n],
            isn: None,
            last_offset: vec![0; n],
            lines: Vec::new(),
        }
    }

    /// Whether stream bytes `[a, b)` overlap the buffer's (selected) uses.
    fn concerns(&self, a: u64, b: u64) -> bool {
        let i = self.ranges.partition_point(|r| r.1 <= a);
        let hit = |j: usize| self.ranges.get(j).is_some_and(|r| r.0 < b);
        match self.use_index {
            Some(k) => i == k && hit(i),
            None => hit(i),
        }
    }

    fn push(&mut self, time: Nanos, host: usize, text: String) {
        self.lines.push(Line { time, host, text });
    }

    /// How many send calls used the buffer (all of them, whichever use is
    /// shown).
    pub fn uses(&self) -> usize {
        self.ranges.len()
    }

    /// The journey, as text.
    pub fn render(&self, captures: &[String]) -> String {
        let mut o = String::new();
        let uses = self.ranges.len();
        let _ = writeln!(
            o,
            "journey of buffer {} of flow {} ({} use{} of it; {})",
            self.buffer,
            self.flow,
            uses,
            if uses == 1 { "" } else { "s" },
            match self.use_index {
                Some(k) => format!("showing use {k}, --all for every use"),
                None => "showing every use".into(),
            }
        );
        if let Some(k) = self.use_index {
            if let Some(r) = self.ranges.get(k) {
                let _ = writeln!(o, "stream bytes {}..{}", r.0, r.1);
            } else {
                let _ = writeln!(o, "the buffer was used {uses} times: there is no use {k}");
                return o;
            }
        }
        for c in captures {
            let _ = writeln!(o, "capture: {}", crate::output::printable(c));
        }
        let _ = writeln!(o, "{:>12}  {:<9} step", "time", "host");
        // Events arrive as the model runs; show them in time order.
        let mut lines: Vec<&Line> = self.lines.iter().collect();
        lines.sort_by_key(|l| l.time);
        for l in lines {
            let _ = writeln!(
                o,
                "{:>12}  {:<9} {}",
                human_ns(l.time),
                self.hosts[l.host],
                l.text
            );
        }
        o
    }
}

impl Observer for Trace {
    fn wants_frames(&self) -> bool {
        true
    }

    fn wants_events(&self) -> bool {
        true
    }

    fn event(&mut self, e: &Event) {
        let ctx = e.ctx;
        let host = e.host as usize;
        // A send call that used the buffer: learn the bytes it held.
        if ctx.buffer() == Some(self.buffer)
            && ctx.flow == self.flow
            && e.step.stage() == "app->socket"
            && matches!(e.step.kind(), Kind::Syscall | Kind::Handler)
        {
            if let Some((_, a, b)) = ctx.range() {
                self.ranges.push((a, b));
            }
        }
        let concerned = match ctx.range() {
            Some((f, a, b)) => f == self.flow && self.concerns(a, b),
            None => {
                ctx.buffer() == Some(self.buffer)
                    && e.step == Step::BufferReturned
                    && self.use_index.is_none_or(|k| k + 1 == self.ranges.len())
            }
        };
        if !concerned {
            return;
        }
        let mut text = format!(
            "{:<12} {:<14} x{} {}  {}",
            e.step.stage(),
            e.step.kind().name(),
            e.count,
            human_bytes(e.bytes),
            e.step.models()
        );
        if let Some((_, a, b)) = ctx.range() {
            let _ = write!(text, "  [stream {a}..{b}]");
        }
        if let Some(slot) = ctx.slot() {
            let _ = write!(text, "  [ring slot {slot}]");
        }
        if e.cpu_ns > 0 {
            let _ = write!(text, "  [cpu {}]", human_ns(e.cpu_ns));
        }
        self.push(e.time, host, text);
    }

    fn frame(&mut self, host: usize, time: Nanos, dir: Direction, frame: &[u8]) {
        self.frames[host] += 1;
        let number = self.frames[host];
        let Some(g) = frame::tcp_segment(frame) else {
            return;
        };
        if g.dst_port != self.port {
            return;
        }
        if g.syn() && g.flags & frame::TCP_ACK == 0 {
            self.isn = Some(g.seq);
            return;
        }
        let (Some(isn), true) = (self.isn, g.payload_len > 0) else {
            return;
        };
        // Stream offset of the payload, taken near the last one seen.
        let rel = g.seq.wrapping_sub(isn.wrapping_add(1));
        let last = self.last_offset[host];
        let delta = rel.wrapping_sub(last as u32) as i32 as i64;
        let a = (last as i64 + delta).max(0) as u64;
        self.last_offset[host] = a;
        let b = a + g.payload_len as u64;
        if self.concerns(a, b) {
            let way = match dir {
                Direction::Out => "leaves",
                Direction::In => "arrives",
            };
            let text = format!(
                "{:<12} {:<14} frame #{number} of {}-eth0.pcapng {way}: {} of payload  [stream {a}..{b}]",
                "wire",
                "frame",
                self.hosts[host],
                human_bytes(g.payload_len as u64)
            );
            self.push(time, host, text);
        }
    }
}

/// Forwards everything to two observers (a trace or a recorder, and the
/// captures). Samples go to each that wants them, at the first one's
/// interval.
pub struct Tee<'a, A: Observer, B: Observer> {
    pub a: &'a mut A,
    pub b: &'a mut B,
}

impl<A: Observer, B: Observer> Observer for Tee<'_, A, B> {
    fn wants_frames(&self) -> bool {
        self.a.wants_frames() || self.b.wants_frames()
    }
    fn wants_events(&self) -> bool {
        self.a.wants_events() || self.b.wants_events()
    }
    fn frame(&mut self, host: usize, time: Nanos, dir: Direction, frame: &[u8]) {
        if self.a.wants_frames() {
            self.a.frame(host, time, dir, frame);
        }
        if self.b.wants_frames() {
            self.b.frame(host, time, dir, frame);
        }
    }
    fn event(&mut self, e: &Event) {
        if self.a.wants_events() {
            self.a.event(e);
        }
        if self.b.wants_events() {
            self.b.event(e);
        }
    }
    fn sample_every(&self) -> Option<Nanos> {
        self.a.sample_every().or_else(|| self.b.sample_every())
    }
    fn sample(&mut self, s: &Sample) {
        if self.a.sample_every().is_some() {
            self.a.sample(s);
        }
        if self.b.sample_every().is_some() {
            self.b.sample(s);
        }
    }
}
