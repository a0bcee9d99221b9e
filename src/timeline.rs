//! `simnet run --timeline FILE`: the run as a Chrome trace-event file, for
//! Perfetto (ui.perfetto.dev) and chrome://tracing.
//!
//! Owns [`Timeline`], which the [`crate::recorder::Recorder`] hands every
//! event and frame of the run, and the file's format: the JSON Object
//! Format (`{"traceEvents": [...], "displayTimeUnit": "ns", "otherData":
//! {...}}`), one event per line, `ts` and `dur` in microseconds of virtual
//! time with three decimals (nanoseconds exact). What is in it:
//!
//! - one process per host, with threads: `CPU` (a complete "X" slice for
//!   every step that cost CPU time: syscalls, copies, pins, checksums,
//!   stack and driver work, interrupts, NAPI polls; named by its CPU
//!   category, so that both viewers colour slices by category; the step,
//!   the kernel function it models, the bytes and the stream range are its
//!   args), `wire out` and `wire in` (one slice per frame for the time it
//!   takes on the wire: from its first bit leaving, to its last bit
//!   arriving), and one thread per application send buffer (its uses as
//!   spans: `initiated` while the call holds it, `pending` while the kernel
//!   still holds its pages, `complete` until the application learns of it,
//!   then a `handler` instant when it is back in the pool);
//! - flow arrows ("s", "t", "f" events) from a send call's slice to every
//!   frame that carried its bytes, out and in, and on to the read that took
//!   them;
//! - counter tracks ("C" events) from the recorder's samples, over the
//!   whole run: each host's Tx and Rx ring occupancy and CPU busy by
//!   category, each flow's send buffer, bytes in flight, receive queue and
//!   goodput, and a `wire` process with the frames in flight.
//!
//! A big run stays usable: the detailed part (slices, frames, buffer spans,
//! arrows) holds at most [`DETAIL_BUDGET`] events (a few more may come in
//! as the last ones in time order finish, never more than
//! [`DETAIL_HARD_CAP`]). When the budget is spent, detail stops at that
//! instant of virtual time for every track at once (the horizon, marked in
//! the file by a global instant event and in `otherData`), and only the
//! counters go on to the end, at most [`COUNTER_BUDGET`] points in all. At
//! most [`MAX_BUFFER_TRACKS`] buffers get a track. The 64 MiB bundled
//! scenarios write about 19 MiB (tests/timeline.rs holds them under 24).
//!
//! Does not interpret the model: it lays out the steps the model
//! accounted, with their names.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::io::{self, Write};

use simnet_sim::config::Scenario;
use simnet_sim::event::{CpuCategory, Direction, Event, Kind, Step};
use simnet_sim::frame;
use simnet_sim::wire::Link;
use simnet_sim::Nanos;

use crate::recorder::Series;

/// Detailed events the timeline keeps (slices, frames, spans, arrows).
pub const DETAIL_BUDGET: usize = 100_000;
/// The most detailed events ever written: events before the horizon that
/// arrive after it was set, and journeys and buffer uses that began
/// before it, may finish up to here.
pub const DETAIL_HARD_CAP: usize = DETAIL_BUDGET + DETAIL_BUDGET / 8;
/// Counter points the timeline writes at most (over every track).
pub const COUNTER_BUDGET: usize = 100_000;
/// Buffers that get a track of their own (the first to be used).
pub const MAX_BUFFER_TRACKS: usize = 64;
/// Lanes a buffer's track may use for uses that overlap (a buffer reused
/// while the kernel still held it: `reuse = "immediately"`).
const MAX_LANES: usize = 4;

const TID_CPU: u32 = 1;
const TID_WIRE_OUT: u32 = 2;
const TID_WIRE_IN: u32 = 3;
/// Buffer tracks take thread ids from here.
const TID_BUFFERS: u32 = 16;

/// A chrome://tracing colour for each CPU category (Perfetto colours by
/// name, and slices are named by category).
fn cname(c: CpuCategory) -> &'static str {
    match c {
        CpuCategory::Copy => "terrible",
        CpuCategory::Syscall => "thread_state_iowait",
        CpuCategory::Pin => "yellow",
        CpuCategory::Checksum => "olive",
        CpuCategory::Stack => "thread_state_running",
        CpuCategory::Driver => "rail_load",
        CpuCategory::Interrupt => "thread_state_uninterruptible",
        CpuCategory::None => "grey",
    }
}

/// Nanoseconds as the file's microseconds, exactly.
struct Us(Nanos);

impl std::fmt::Display for Us {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{:03}", self.0 / 1000, self.0 % 1000)
    }
}

/// `s` as a JSON string, quotes included.
fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"?\"".into())
}

/// A flow's connection as seen on the wire.
struct Conn {
    from: usize,
    to: usize,
    port: u16,
    /// Its sender's ISN, from the SYN.
    isn: Option<u32>,
    /// Last stream offset seen leaving and arriving (to undo 32-bit
    /// wrap-around).
    last: [u64; 2],
}

/// A send call's slice, for arrows to start from.
#[derive(Clone, Copy)]
struct WriteSlice {
    start: u64,
    end: u64,
    host: usize,
    /// Mid-point of the slice.
    at: Nanos,
}

/// An arrow under way: from a write, through a frame's departure and
/// arrival, to a read. Written only when whole.
#[derive(Clone, Copy)]
struct Journey {
    write: WriteSlice,
    /// Mid-points of the frame's slices: leaving host `out.0`, arriving at
    /// host `arrive.0`.
    out: (usize, Nanos),
    arrive: Option<(usize, Nanos)>,
}

/// One use of a buffer, from its send call to its return to the pool.
#[derive(Clone, Copy)]
struct Use {
    start: u64,
    len: u64,
    initiated: Nanos,
    pending: Option<Nanos>,
    complete: Option<Nanos>,
    lane: usize,
}

/// A buffer's track: its lanes (thread ids, and whether a use holds each)
/// and its uses under way, oldest first.
struct BufferTrack {
    host: usize,
    lanes: Vec<(u32, bool)>,
    uses: VecDeque<Use>,
}

/// The detailed part of a timeline, kept as the run goes.
pub struct Timeline {
    hosts: Vec<String>,
    link: Link,
    /// Detailed events, one JSON object a line, each followed by ",\n".
    out: String,
    events: usize,
    /// Where detail stops, once the budget is spent.
    horizon: Option<Nanos>,
    /// End of the last slice on each host's CPU, wire-out and wire-in
    /// threads: a slice must not overlap the one before it.
    ends: Vec<[Nanos; 3]>,
    overlaps: u64,
    conns: Vec<Conn>,
    /// Flow by (destination port, source port), once its SYN was seen.
    by_ports: BTreeMap<(u16, u16), usize>,
    writes: Vec<Vec<WriteSlice>>,
    /// Journeys by (flow, stream offset) of the frame on its way, then by
    /// (flow, end offset, id) of the frame waiting to be read.
    on_wire: BTreeMap<(usize, u64), Journey>,
    to_read: BTreeMap<(usize, u64, u64), Journey>,
    next_id: u64,
    journeys: u64,
    journeys_cut: u64,
    buffers: BTreeMap<(u16, u32), BufferTrack>,
    next_tid: u32,
    /// Threads beyond the fixed ones: (pid, tid, name).
    threads: Vec<(usize, u32, String)>,
    uses_not_shown: u64,
    buffer_uses: u64,
}

impl Timeline {
    /// A timeline of a run of `sc`.
    pub fn new(sc: &Scenario) -> Timeline {
        let hosts: Vec<String> = sc.hosts.iter().map(|h| h.name.clone()).collect();
        let index = |name: &str| hosts.iter().position(|h| h == name).unwrap_or(0);
        let conns = (sc.flows.iter())
            .map(|f| Conn {
                from: index(&f.from),
                to: index(&f.to),
                port: f.port,
                isn: None,
                last: [0; 2],
            })
            .collect();
        Timeline {
            ends: vec![[0; 3]; hosts.len()],
            writes: vec![Vec::new(); sc.flows.len()],
            hosts,
            link: Link::new(&sc.link),
            out: String::new(),
            events: 0,
            horizon: None,
            overlaps: 0,
            conns,
            by_ports: BTreeMap::new(),
            on_wire: BTreeMap::new(),
            to_read: BTreeMap::new(),
            next_id: 0,
            journeys: 0,
            journeys_cut: 0,
            buffers: BTreeMap::new(),
            next_tid: TID_BUFFERS,
            threads: Vec::new(),
            uses_not_shown: 0,
            buffer_uses: 0,
        }
    }

    /// Whether detail at `t` is kept.
    fn admits(&self, t: Nanos) -> bool {
        self.events < DETAIL_HARD_CAP && self.horizon.is_none_or(|h| t < h)
    }

    /// Whether `n` more events fit at all (for what began before the
    /// horizon and ends after it).
    fn room(&self, n: usize) -> bool {
        self.events + n <= DETAIL_HARD_CAP
    }

    /// `n` events at `t` were written.
    fn count(&mut self, t: Nanos, n: usize) {
        self.events += n;
        if self.horizon.is_none() && self.events >= DETAIL_BUDGET {
            self.horizon = Some(t);
        }
    }

    /// Detailed events written so far.
    pub fn detail_events(&self) -> usize {
        self.events
    }

    /// Where detail stopped, if it did.
    pub fn horizon(&self) -> Option<Nanos> {
        self.horizon
    }

    /// Slices dropped because they overlapped the one before on their
    /// thread (none in a run of the model as it is).
    pub fn overlaps(&self) -> u64 {
        self.overlaps
    }

    /// Whether a slice `[ts, ts + dur)` on `host`'s thread `which` fits
    /// after the one before it; if so it becomes the last one.
    fn fits(&mut self, host: usize, which: usize, ts: Nanos, dur: Nanos) -> bool {
        let Some(end) = self.ends.get_mut(host).map(|e| &mut e[which]) else {
            return false;
        };
        if ts < *end {
            self.overlaps += 1;
            return false;
        }
        *end = ts + dur;
        true
    }

    /// One accounted event of the model.
    pub fn event(&mut self, e: &Event) {
        match e.step {
            Step::BufferInitiated
            | Step::BufferPending
            | Step::BufferComplete
            | Step::BufferReturned => return self.lifecycle(e),
            _ => {}
        }
        if e.cpu_ns > 0 {
            self.cpu_slice(e);
        } else if matches!(e.step.kind(), Kind::Drop | Kind::Retransmit) && self.admits(e.time) {
            let _ = writeln!(
                self.out,
                r#"{{"ph":"i","s":"t","pid":{},"tid":{TID_CPU},"ts":{},"name":"{:?}","cat":"{}","args":{{"fn":{},"count":{}}}}},"#,
                e.host as usize + 1,
                Us(e.time),
                e.step,
                e.step.kind().name(),
                json_str(e.step.models()),
                e.count
            );
            self.count(e.time, 1);
        }
    }

    fn cpu_slice(&mut self, e: &Event) {
        let host = e.host as usize;
        if !self.admits(e.time) || !self.fits(host, 0, e.time, e.cpu_ns) {
            return;
        }
        let cat = e.step.category();
        let mut args = format!(
            r#""step":"{:?}","fn":{},"count":{},"bytes":{}"#,
            e.step,
            json_str(e.step.models()),
            e.count,
            e.bytes
        );
        if let Some((f, a, b)) = e.ctx.range() {
            let _ = write!(args, r#","flow":{f},"stream":"{a}..{b}""#);
        }
        if let Some(b) = e.ctx.buffer() {
            let _ = write!(args, r#","buffer":{b}"#);
        }
        if let Some(s) = e.ctx.slot() {
            let _ = write!(args, r#","ring_slot":{s}"#);
        }
        let _ = writeln!(
            self.out,
            r#"{{"ph":"X","pid":{},"tid":{TID_CPU},"ts":{},"dur":{},"name":"{}","cat":"{}","cname":"{}","args":{{{args}}}}},"#,
            host + 1,
            Us(e.time),
            Us(e.cpu_ns),
            cat.name(),
            cat.name(),
            cname(cat),
        );
        self.count(e.time, 1);
        let Some((f, a, b)) = e.ctx.range() else {
            return;
        };
        let f = f as usize;
        let at = e.time + e.cpu_ns / 2;
        match e.step.stage() {
            // A send call: arrows start here.
            "app->socket" if e.step.kind() == Kind::Syscall && f < self.writes.len() => {
                let w = &mut self.writes[f];
                if w.last().is_none_or(|l| l.end <= a) {
                    w.push(WriteSlice {
                        start: a,
                        end: b,
                        host,
                        at,
                    });
                }
            }
            // A read: the frames whose bytes it took end their journeys.
            "socket->app" | "socket->file" => self.reads(f, b, (host, at)),
            _ => {}
        }
    }

    /// A read on `host` took flow `f`'s bytes up to `end`: every frame
    /// wholly before that ends its journey there.
    fn reads(&mut self, f: usize, end: u64, read: (usize, Nanos)) {
        let done: Vec<(usize, u64, u64)> = self
            .to_read
            .range((f, 0, 0)..=(f, end, u64::MAX))
            .map(|(k, _)| *k)
            .collect();
        for k in done {
            let Some(j) = self.to_read.remove(&k) else {
                continue;
            };
            let Some(arrive) = j.arrive else {
                continue;
            };
            if !self.room(4) {
                self.journeys_cut += 1;
                continue;
            }
            let id = self.next_id;
            self.next_id += 1;
            let steps = [
                ("s", j.write.host, TID_CPU, j.write.at),
                ("t", j.out.0, TID_WIRE_OUT, j.out.1),
                ("t", arrive.0, TID_WIRE_IN, arrive.1),
                ("f", read.0, TID_CPU, read.1),
            ];
            for (ph, host, tid, at) in steps {
                let bp = if ph == "f" { r#","bp":"e""# } else { "" };
                let _ = writeln!(
                    self.out,
                    r#"{{"ph":"{ph}","id":{id},"pid":{},"tid":{tid},"ts":{},"name":"journey","cat":"flow {f}"{bp}}},"#,
                    host + 1,
                    Us(at)
                );
            }
            self.journeys += 1;
            self.count(read.1, 4);
        }
    }

    /// A frame crossing `host`'s port.
    pub fn frame(&mut self, host: usize, time: Nanos, dir: Direction, bytes: &[u8]) {
        let ser = self.link.serialisation(bytes.len());
        let (ts, which, tid) = match dir {
            Direction::Out => (time, 1, TID_WIRE_OUT),
            Direction::In => (time.saturating_sub(ser), 2, TID_WIRE_IN),
        };
        let g = frame::tcp_segment(bytes);
        // Learn each flow's ports and ISN from its SYN, kept or not.
        let mut data = None;
        if let Some(g) = &g {
            if g.syn() && g.flags & frame::TCP_ACK == 0 {
                self.learn_syn(host, dir, g);
            } else if g.payload_len > 0 {
                data = self.stream_of(dir, g);
            }
        }
        if !self.admits(ts) || !self.fits(host, which, ts, ser) {
            return;
        }
        let name = match &g {
            None => "frame",
            Some(g) if g.payload_len > 0 => "data",
            Some(g) if g.syn() => "syn",
            Some(g) if g.flags & frame::TCP_FIN != 0 => "fin",
            Some(g) if g.flags & 0x04 != 0 => "rst",
            Some(_) => "ack",
        };
        let mut args = format!(r#""len":{}"#, bytes.len());
        if let Some((f, a, b)) = data {
            let _ = write!(args, r#","flow":{f},"stream":"{a}..{b}""#);
        }
        let _ = writeln!(
            self.out,
            r#"{{"ph":"X","pid":{},"tid":{tid},"ts":{},"dur":{},"name":"{name}","cat":"wire","args":{{{args}}}}},"#,
            host + 1,
            Us(ts),
            Us(ser),
        );
        self.count(ts, 1);
        let Some((f, a, b)) = data else {
            return;
        };
        let at = ts + ser / 2;
        match dir {
            Direction::Out => {
                let w = &self.writes[f];
                let i = w.partition_point(|w| w.end <= a);
                if let Some(&write) = w.get(i).filter(|w| w.start <= a) {
                    let j = Journey {
                        write,
                        out: (host, at),
                        arrive: None,
                    };
                    self.on_wire.insert((f, a), j);
                }
            }
            Direction::In => {
                if let Some(mut j) = self.on_wire.remove(&(f, a)) {
                    j.arrive = Some((host, at));
                    self.to_read.insert((f, b, self.next_id), j);
                    self.next_id += 1;
                }
            }
        }
    }

    fn learn_syn(&mut self, host: usize, dir: Direction, g: &frame::TcpSeg) {
        let sender_side = |c: &Conn| match dir {
            Direction::Out => c.from == host,
            Direction::In => c.to == host,
        };
        let found = (self.conns.iter())
            .position(|c| c.port == g.dst_port && c.isn.is_none() && sender_side(c));
        if let Some(f) = found {
            self.conns[f].isn = Some(g.seq);
            self.by_ports.insert((g.dst_port, g.src_port), f);
        }
    }

    /// Flow and stream range of a data segment of a known flow.
    fn stream_of(&mut self, dir: Direction, g: &frame::TcpSeg) -> Option<(usize, u64, u64)> {
        let &f = self.by_ports.get(&(g.dst_port, g.src_port))?;
        let c = &mut self.conns[f];
        let isn = c.isn?;
        let d = match dir {
            Direction::Out => 0,
            Direction::In => 1,
        };
        let rel = g.seq.wrapping_sub(isn.wrapping_add(1));
        let last = c.last[d];
        let delta = rel.wrapping_sub(last as u32) as i32 as i64;
        let a = (last as i64 + delta).max(0) as u64;
        c.last[d] = a;
        Some((f, a, a + g.payload_len as u64))
    }

    /// A buffer lifecycle step.
    fn lifecycle(&mut self, e: &Event) {
        let (Some(buffer), flow) = (e.ctx.buffer(), e.ctx.flow) else {
            return;
        };
        let key = (flow, buffer);
        let stream = e.ctx.range().map(|r| (r.1, r.2 - r.1));
        if e.step == Step::BufferInitiated {
            self.buffer_uses += 1;
            if !self.admits(e.time) {
                self.uses_not_shown += 1;
                return;
            }
            if !self.buffers.contains_key(&key) && self.buffers.len() >= MAX_BUFFER_TRACKS {
                self.uses_not_shown += 1;
                return;
            }
            let host = e.host as usize;
            let new_tid = self.next_tid;
            let t = self.buffers.entry(key).or_insert_with(|| BufferTrack {
                host,
                lanes: Vec::new(),
                uses: VecDeque::new(),
            });
            let lane = match t.lanes.iter().position(|l| !l.1) {
                Some(l) => l,
                None if t.lanes.len() < MAX_LANES => {
                    t.lanes.push((new_tid, false));
                    let n = t.lanes.len();
                    let name = if n == 1 {
                        format!("flow {flow} buffer {buffer}")
                    } else {
                        format!("flow {flow} buffer {buffer} (reused while held: lane {n})")
                    };
                    self.threads.push((host, new_tid, name));
                    self.next_tid += 1;
                    n - 1
                }
                None => {
                    self.uses_not_shown += 1;
                    return;
                }
            };
            t.lanes[lane].1 = true;
            let (start, len) = stream.unwrap_or((0, 0));
            t.uses.push_back(Use {
                start,
                len,
                initiated: e.time,
                pending: None,
                complete: None,
                lane,
            });
            return;
        }
        let Some(t) = self.buffers.get_mut(&key) else {
            return;
        };
        let at = stream.map(|s| s.0);
        match e.step {
            Step::BufferPending => {
                if let Some(u) =
                    (t.uses.iter_mut()).find(|u| Some(u.start) == at && u.pending.is_none())
                {
                    u.pending = Some(e.time);
                }
            }
            Step::BufferComplete => {
                let exact = t
                    .uses
                    .iter()
                    .position(|u| Some(u.start) == at && u.complete.is_none());
                let first = || t.uses.iter().position(|u| u.complete.is_none());
                if let Some(i) = exact.or_else(first) {
                    t.uses[i].complete = Some(e.time);
                }
            }
            _ => {
                // Returned: the oldest completed use.
                let Some(i) = t.uses.iter().position(|u| u.complete.is_some()) else {
                    return;
                };
                let u = t.uses.remove(i).expect("found");
                t.lanes[u.lane].1 = false;
                let (tid, host) = (t.lanes[u.lane].0, t.host);
                self.write_use(host, tid, flow, buffer, &u, Some(e.time));
            }
        }
    }

    /// One use of a buffer as spans; `returned` is `None` for a use the run
    /// ended before the buffer came back (drawn to `end`).
    fn write_use(
        &mut self,
        host: usize,
        tid: u32,
        flow: u16,
        buffer: u32,
        u: &Use,
        returned: Option<Nanos>,
    ) {
        let end = returned.or(u.complete).or(u.pending).unwrap_or(u.initiated);
        self.write_use_until(host, tid, (flow, buffer), u, returned, end);
    }

    fn write_use_until(
        &mut self,
        host: usize,
        tid: u32,
        (flow, buffer): (u16, u32),
        u: &Use,
        returned: Option<Nanos>,
        end: Nanos,
    ) {
        if !self.room(5) {
            self.uses_not_shown += 1;
            return;
        }
        let pid = host + 1;
        let stream = format!("{}..{}", u.start, u.start + u.len);
        let title = match returned {
            Some(_) => format!("buffer {buffer} use"),
            None => format!("buffer {buffer} use (not back when the run ended)"),
        };
        let mut n = 0;
        let mut span = |out: &mut String, name: &str, a: Nanos, b: Nanos| {
            if b > a || name == title {
                let _ = writeln!(
                    out,
                    r#"{{"ph":"X","pid":{pid},"tid":{tid},"ts":{},"dur":{},"name":{},"cat":"buffer","args":{{"flow":{flow},"buffer":{buffer},"stream":"{stream}"}}}},"#,
                    Us(a),
                    Us(b - a),
                    json_str(name)
                );
                n += 1;
            }
        };
        span(&mut self.out, &title, u.initiated, end);
        let held = u.pending.or(u.complete).unwrap_or(end);
        span(&mut self.out, "initiated", u.initiated, held);
        if let Some(p) = u.pending {
            span(&mut self.out, "pending", p, u.complete.unwrap_or(end));
        }
        if let Some(c) = u.complete {
            span(&mut self.out, "complete", c, returned.unwrap_or(end));
        }
        if let Some(r) = returned {
            let _ = writeln!(
                self.out,
                r#"{{"ph":"i","s":"t","pid":{pid},"tid":{tid},"ts":{},"name":"handler","cat":"buffer","args":{{"flow":{flow},"buffer":{buffer},"stream":"{stream}"}}}},"#,
                Us(r)
            );
            n += 1;
        }
        self.count(u.initiated, n);
    }

    /// Writes the whole file: metadata, the detail, the counters from
    /// `series`, then what the file holds and where detail stops. `end` is
    /// when the run ended; `scenario` and `seed` name it.
    pub fn write(
        mut self,
        w: &mut dyn Write,
        series: &Series,
        end: Nanos,
        scenario: &str,
        seed: u64,
    ) -> io::Result<()> {
        // Buffer uses the run ended in the middle of.
        let open: Vec<((u16, u32), usize, u32, Use)> = (self.buffers.iter())
            .flat_map(|(k, t)| {
                t.uses
                    .iter()
                    .map(move |u| (*k, t.host, t.lanes[u.lane].0, *u))
            })
            .collect();
        for (key, host, tid, u) in open {
            self.write_use_until(host, tid, key, &u, None, end.max(u.initiated));
        }
        let unfinished = self.on_wire.len() + self.to_read.len();
        let other = self.other_data(series, end, scenario, seed, unfinished);
        writeln!(
            w,
            "{{\"displayTimeUnit\":\"ns\",\n\"otherData\":{other},\n\"traceEvents\":["
        )?;
        w.write_all(self.metadata().as_bytes())?;
        w.write_all(self.out.as_bytes())?;
        self.out = String::new();
        let mut c = String::new();
        let ends: Vec<(usize, usize)> = self.conns.iter().map(|c| (c.from, c.to)).collect();
        counters(&mut c, series, &self.hosts, &ends);
        w.write_all(c.as_bytes())?;
        // Last, and without a comma: where detail stops.
        match self.horizon {
            Some(h) => writeln!(
                w,
                r#"{{"ph":"i","s":"g","pid":0,"tid":0,"ts":{},"name":"detail ends: counters only from here (see otherData)"}}"#,
                Us(h)
            )?,
            None => writeln!(
                w,
                r#"{{"ph":"i","s":"g","pid":0,"tid":0,"ts":{},"name":"end of the run"}}"#,
                Us(end)
            )?,
        }
        writeln!(w, "]}}")
    }

    fn metadata(&self) -> String {
        let mut m = String::new();
        let meta = |m: &mut String, pid: usize, tid: Option<u32>, what: &str, arg: String| {
            let tid = tid.map(|t| format!(r#","tid":{t}"#)).unwrap_or_default();
            let _ = writeln!(
                m,
                r#"{{"ph":"M","pid":{pid}{tid},"name":"{what}","args":{arg}}},"#
            );
        };
        for (i, h) in self.hosts.iter().enumerate() {
            let pid = i + 1;
            meta(
                &mut m,
                pid,
                None,
                "process_name",
                format!(r#"{{"name":{}}}"#, json_str(&format!("host {h}"))),
            );
            meta(
                &mut m,
                pid,
                None,
                "process_sort_index",
                format!(r#"{{"sort_index":{pid}}}"#),
            );
            for (tid, name) in [
                (TID_CPU, "CPU"),
                (TID_WIRE_OUT, "wire out (frames leaving)"),
                (TID_WIRE_IN, "wire in (frames arriving)"),
            ] {
                meta(
                    &mut m,
                    pid,
                    Some(tid),
                    "thread_name",
                    format!(r#"{{"name":"{name}"}}"#),
                );
                meta(
                    &mut m,
                    pid,
                    Some(tid),
                    "thread_sort_index",
                    format!(r#"{{"sort_index":{tid}}}"#),
                );
            }
        }
        for (host, tid, name) in &self.threads {
            meta(
                &mut m,
                host + 1,
                Some(*tid),
                "thread_name",
                format!(r#"{{"name":{}}}"#, json_str(name)),
            );
            meta(
                &mut m,
                host + 1,
                Some(*tid),
                "thread_sort_index",
                format!(r#"{{"sort_index":{tid}}}"#),
            );
        }
        let wire = self.hosts.len() + 1;
        meta(
            &mut m,
            wire,
            None,
            "process_name",
            r#"{"name":"wire"}"#.into(),
        );
        meta(
            &mut m,
            wire,
            None,
            "process_sort_index",
            format!(r#"{{"sort_index":{wire}}}"#),
        );
        m
    }

    fn other_data(
        &self,
        series: &Series,
        end: Nanos,
        scenario: &str,
        seed: u64,
        unfinished: usize,
    ) -> String {
        let horizon = match self.horizon {
            Some(h) => format!("{}", Us(h)),
            None => "null".into(),
        };
        let note = match self.horizon {
            Some(_) => format!(
                "detail (CPU slices, frames, buffer spans, journeys) was kept for the first \
                 {DETAIL_BUDGET} events, up to detail_until_us of virtual time; after that only \
                 the counters go on, sampled every sample_interval_ns"
            ),
            None => "every step of the run is in the detail".to_string(),
        };
        format!(
            "{{\"generator\":\"simnet {}\",\"scenario\":{},\"seed\":{seed},\"run_end_us\":{},\
             \"detail_budget\":{DETAIL_BUDGET},\"detail_events\":{},\"detail_until_us\":{horizon},\
             \"journeys\":{},\"journeys_not_finished\":{},\"journeys_cut\":{},\
             \"buffer_tracks\":{},\"buffer_tracks_max\":{MAX_BUFFER_TRACKS},\"buffer_uses\":{},\
             \"buffer_uses_not_shown\":{},\"overlapping_slices_dropped\":{},\
             \"sample_interval_ns\":{},\"samples\":{},\"note\":{}}}",
            env!("CARGO_PKG_VERSION"),
            json_str(scenario),
            Us(end),
            self.events,
            self.journeys,
            unfinished,
            self.journeys_cut,
            self.buffers.len(),
            self.buffer_uses,
            self.uses_not_shown,
            self.overlaps,
            series.every(),
            series.len(),
            json_str(&note)
        )
    }
}

/// Counter tracks from the samples, at most [`COUNTER_BUDGET`] points in
/// all: with many tracks (many hosts and flows) each keeps every k-th
/// sample, rates averaged over the k intervals. A value is written when it
/// changes (and at the first and last point). `ends[f]` is flow `f`'s
/// sending and receiving host.
fn counters(o: &mut String, s: &Series, hosts: &[String], ends: &[(usize, usize)]) {
    if s.is_empty() {
        return;
    }
    let hosts = hosts.len().min(s.hosts());
    let flows = ends.len().min(s.flows());
    let tracks = hosts * (3 + CpuCategory::ALL.len()) + flows * 4 + 1;
    let per_track = (COUNTER_BUDGET / tracks).max(2);
    let stride = s.len().div_ceil(per_track).max(1);
    // The samples kept: every stride-th, and the last.
    let mut idx: Vec<usize> = (0..s.len()).step_by(stride).collect();
    if idx.last() != Some(&(s.len() - 1)) {
        idx.push(s.len() - 1);
    }
    let n = idx.len();
    let track =
        |o: &mut String, pid: usize, name: &str, arg: &str, value: &dyn Fn(usize) -> f64| {
            let mut last: Option<f64> = None;
            for (j, &i) in idx.iter().enumerate() {
                let v = value(j);
                if last == Some(v) && j + 1 < n {
                    continue;
                }
                last = Some(v);
                let _ = writeln!(
                    o,
                    r#"{{"ph":"C","pid":{pid},"tid":0,"ts":{},"name":{},"args":{{"{arg}":{}}}}},"#,
                    Us(s.time(i)),
                    json_str(name),
                    Num(v)
                );
            }
        };
    // What `total` gained per ns from kept sample j to the next (0 after
    // the last).
    let rate = |j: usize, total: &dyn Fn(usize) -> u64| -> f64 {
        let (Some(&a), Some(&b)) = (idx.get(j), idx.get(j + 1)) else {
            return 0.0;
        };
        let dt = s.time(b).saturating_sub(s.time(a));
        if dt == 0 {
            return 0.0;
        }
        total(b).saturating_sub(total(a)) as f64 / dt as f64
    };
    for h in 0..hosts {
        let pid = h + 1;
        let at = |j: usize| s.host(idx[j], h);
        track(o, pid, "Tx ring: descriptors in use", "descriptors", &|j| {
            at(j).tx_ring as f64
        });
        track(o, pid, "Rx ring: frames waiting for NAPI", "frames", &|j| {
            at(j).rx_filled as f64
        });
        track(o, pid, "Rx ring: empty buffers posted", "buffers", &|j| {
            at(j).rx_posted as f64
        });
        // CPU busy as the CPU ran it (Series::cpu_percent), averaged over
        // the intervals from one kept sample to the next.
        let busy = s.cpu_percent(h);
        for (k, cat) in CpuCategory::ALL.iter().enumerate() {
            let name = format!("CPU busy: {} (%)", cat.name());
            track(o, pid, &name, "percent", &|j| {
                let (Some(&a), Some(&b)) = (idx.get(j), idx.get(j + 1)) else {
                    return 0.0;
                };
                let (mut ran, mut dt) = (0.0, 0.0);
                for i in a..b {
                    let d = s.time(i + 1).saturating_sub(s.time(i)) as f64;
                    ran += busy.get(i).map_or(0.0, |p| p.1[k]) * d;
                    dt += d;
                }
                if dt > 0.0 {
                    (ran / dt * 10.0).round() / 10.0
                } else {
                    0.0
                }
            });
        }
    }
    for (f, &(from, to)) in ends.iter().enumerate().take(flows) {
        let at = |j: usize| s.flow(idx[j], f);
        let name = |what: &str| format!("flow {f}: {what}");
        track(o, from + 1, &name("send buffer (bytes)"), "bytes", &|j| {
            at(j).send_queued() as f64
        });
        track(o, from + 1, &name("in flight (bytes)"), "bytes", &|j| {
            at(j).in_flight() as f64
        });
        track(o, to + 1, &name("receive queue (bytes)"), "bytes", &|j| {
            at(j).recv_queued() as f64
        });
        track(o, to + 1, &name("goodput (Gbit/s)"), "Gbit/s", &|j| {
            (rate(j, &|i| s.flow(i, f).read) * 8.0 * 1000.0).round() / 1000.0
        });
    }
    let wire = hosts + 1;
    let frames = |j: usize| s.wire_frames(idx[j]) as f64;
    track(o, wire, "frames in flight", "frames", &frames);
}

/// A number as JSON writes it: integers without a fraction.
struct Num(f64);

impl std::fmt::Display for Num {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.fract() == 0.0 && self.0.abs() < 1e15 {
            write!(f, "{}", self.0 as i64)
        } else if self.0.is_finite() {
            write!(f, "{}", self.0)
        } else {
            f.write_str("0")
        }
    }
}
